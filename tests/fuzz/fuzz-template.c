/*
 * fuzz-template: the task template expander and its quoting
 * (libtasktemplate). Input: one flag byte (bit 0: shell-words template, as
 * --command), the template text, a NUL byte, the blob name (default
 * "dir/data.csv"). Checks, for any name:
 *   - task_shell_quote(name) splits back into exactly one word, the name;
 *   - the task id is deterministic, [A-Za-z0-9_-], at most 64 characters;
 *   - a --command template that parses gives a commandLine that splits as
 *     /bin/sh -c SCRIPT [sh V...], each V one of the blob's values (or
 *     the output directory), and a {name} holding any byte a shell would
 *     interpret is passed as a positional parameter, never inlined;
 *   - a failure sets a one-line error.
 */
#include <stdbool.h>

#include "bm_log.h"
#include "fuzz.h"
#include "tasktemplate.h"

#define FUZZ_OUT_DIR "/data-out/out"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bm_log_init("fuzz-template", BM_LOG_OFF, false);
	return 0;
}

static void check_quote(const char *name)
{
	struct bm_error err;
	char *q = task_shell_quote(name);
	char **argv = NULL;
	size_t argc = 0;

	bm_error_clear(&err);
	if (!q || task_cmdline_split(q, &argv, &argc, &err) != 0)
		abort();
	if (argc != 1 || strcmp(argv[0], name) != 0)
		abort();
	task_argv_free(argv);
	free(q);
}

static void check_task_id(const char *name)
{
	char id[TASK_ID_MAX + 1], id2[TASK_ID_MAX + 1];
	size_t len;

	task_make_id(name, id);
	task_make_id(name, id2);
	len = strnlen(id, sizeof(id));
	if (len == 0 || len > TASK_ID_MAX || strcmp(id, id2) != 0)
		abort();
	if (strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789_-") != len)
		abort();
}

static bool is_value(const struct tt_values *vals, const char *s)
{
	if (strcmp(s, FUZZ_OUT_DIR) == 0)
		return true;
	for (int i = 0; i < TT_F_COUNT; i++)
		if (vals->v[i] && strcmp(vals->v[i], s) == 0)
			return true;
	return false;
}

/* Bytes no shell treats specially anywhere in a word: a value made only of
 * these may be written into the script as is. */
static bool shell_plain(const char *v)
{
	return *v &&
	       strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789_./,:+@%-") == strlen(v);
}

static void check_command_line(const struct tt_template *t,
			       const struct tt_values *vals, const char *name)
{
	struct bm_error err;
	char *cl, **argv = NULL;
	size_t argc = 0;
	bool name_seen = false;

	bm_error_clear(&err);
	cl = tt_command_line(t, vals, FUZZ_OUT_DIR, &err);
	if (!cl)
		abort(); /* only allocation can fail, and that aborts first */
	if (*cl == '\0')
		goto out; /* empty template: the image ENTRYPOINT runs */
	if (task_cmdline_split(cl, &argv, &argc, &err) != 0)
		abort();
	if (argc < 3 || strcmp(argv[0], "/bin/sh") != 0 ||
	    strcmp(argv[1], "-c") != 0)
		abort();
	if (argc > 3 && strcmp(argv[3], "sh") != 0)
		abort();
	for (size_t i = 4; i < argc; i++) {
		if (!is_value(vals, argv[i]))
			abort();
		if (strcmp(argv[i], name) == 0)
			name_seen = true;
	}
	/* A name with any byte a shell might interpret must reach the app as
	 * a positional parameter, never as script text. */
	if (tt_template_uses(t, TT_F_NAME) && !name_seen && !shell_plain(name))
		abort();
	task_argv_free(argv);
out:
	free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_template *t = NULL;
	struct tt_values vals;
	struct bm_error err;
	const uint8_t *nul;
	char *text, *name, **argv = NULL;
	bool shell;
	int rc;

	if (size < 1)
		return 0;
	shell = data[0] & 1;
	data++;
	size--;
	nul = memchr(data, '\0', size);
	if (nul) {
		text = fuzz_cstr(data, (size_t)(nul - data));
		name = fuzz_cstr(nul + 1, size - (size_t)(nul - data) - 1);
	} else {
		text = fuzz_cstr(data, size);
		name = fuzz_cstr((const uint8_t *)"dir/data.csv", 12);
	}
	if (name[0] == '\0' || strlen(name) > 1024) {
		free(name);
		name = fuzz_cstr((const uint8_t *)"x", 1);
	}
	check_quote(name);
	check_task_id(name);

	/* Arbitrary text through the splitter: no crash, errors well formed. */
	bm_error_clear(&err);
	rc = task_cmdline_split(text, &argv, NULL, &err);
	fuzz_check_error(rc, &err);
	if (rc == 0)
		task_argv_free(argv);

	bm_error_clear(&err);
	rc = tt_template_parse(text, "--command", shell, &t, &err);
	fuzz_check_error(rc, &err);
	if (rc != 0)
		goto out;
	if (tt_values_init(
		&vals, name, 3, "/data-in", "/data-out", "out/name-result.txt",
		"http://127.0.0.1:10000/devstoreaccount1", "cont", &err) != 0)
		abort();
	if (shell) {
		check_command_line(t, &vals, name);
	} else {
		char *s = tt_template_expand(t, &vals, &err);

		if (!s)
			abort();
		free(s);
	}
	tt_values_release(&vals);
	tt_template_free(t);
out:
	free(text);
	free(name);
	return 0;
}

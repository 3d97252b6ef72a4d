/*
 * Unit tests of libtasktemplate: placeholders, brace errors, the template
 * options, task ids and TaskAddParameter JSON. The command lines and
 * quoting: test-tasktemplate-shell.c; the iterator: test-tasktemplate-iter.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "tasktemplate.h"
#include "tt-test-util.h"

/* ------------------------------------------------------------------ */
/* Placeholders and templates                                          */
/* ------------------------------------------------------------------ */

static void test_values_every_placeholder(void **state)
{
	struct tt_values v;
	struct bm_error err;

	bm_error_clear(&err);
	assert_int_equal(tt_values_init(&v, "dir/sub/photo 1.tar.gz", 7,
					"/data-in", "/data-out",
					"dir/sub/photo 1.tar.gz-result.txt",
					ENDPOINT, "data-in", &err),
			 0);
	assert_string_equal(v.v[TT_F_NAME], "dir/sub/photo 1.tar.gz");
	assert_string_equal(v.v[TT_F_BASENAME], "photo 1.tar.gz");
	assert_string_equal(v.v[TT_F_STEM], "photo 1.tar");
	assert_string_equal(v.v[TT_F_EXT], ".gz");
	assert_string_equal(v.v[TT_F_DIR], "dir/sub");
	assert_string_equal(v.v[TT_F_URL],
			    ENDPOINT "/data-in/dir/sub/photo%201.tar.gz");
	assert_string_equal(v.v[TT_F_INDEX], "7");
	assert_string_equal(v.v[TT_F_IN], "/data-in/dir/sub/photo 1.tar.gz");
	assert_string_equal(v.v[TT_F_OUT],
			    "/data-out/dir/sub/photo 1.tar.gz-result.txt");
	tt_values_release(&v);

	/* hidden file, no extension, no folder */
	assert_int_equal(tt_values_init(&v, ".bashrc", 0, "/i", "/o", NULL,
					ENDPOINT, "c", &err),
			 0);
	assert_string_equal(v.v[TT_F_STEM], ".bashrc");
	assert_string_equal(v.v[TT_F_EXT], "");
	assert_string_equal(v.v[TT_F_DIR], "");
	assert_string_equal(v.v[TT_F_OUT], "");
	tt_values_release(&v);

	assert_int_equal(tt_values_init(&v, "a.b/noext", 0, "/i", "/o", NULL,
					ENDPOINT, "c", &err),
			 0);
	assert_string_equal(v.v[TT_F_STEM], "noext");
	assert_string_equal(v.v[TT_F_EXT], "");
	assert_string_equal(v.v[TT_F_DIR], "a.b");
	tt_values_release(&v);
}

static void test_expand_plain(void **state)
{
	struct tt_template *t;
	struct tt_values v;
	struct bm_error err;
	char *s;

	bm_error_clear(&err);
	assert_int_equal(tt_template_parse("{dir}/{stem}{{x}}-{index}{ext}",
					   "--output-name", false, &t, &err),
			 0);
	assert_true(tt_template_uses(t, TT_F_STEM));
	assert_false(tt_template_uses(t, TT_F_NAME));
	assert_int_equal(tt_values_init(&v, "a/b c.txt", 3, "/i", "/o", NULL,
					ENDPOINT, "c", &err),
			 0);
	s = tt_template_expand(t, &v, &err);
	assert_string_equal(s, "a/b c{x}-3.txt");
	free(s);
	tt_values_release(&v);
	tt_template_free(t);

	/* A value containing braces is not expanded again. */
	assert_int_equal(tt_template_parse("{name}", "t", false, &t, &err), 0);
	assert_int_equal(tt_values_init(&v, "{name}}", 0, "/i", "/o", NULL,
					ENDPOINT, "c", &err),
			 0);
	s = tt_template_expand(t, &v, &err);
	assert_string_equal(s, "{name}}");
	free(s);
	tt_values_release(&v);
	tt_template_free(t);
}

static void expect_parse_error(const char *text, bool shell, const char *msg)
{
	struct tt_template *t = NULL;
	struct bm_error err;

	bm_error_clear(&err);
	assert_int_equal(tt_template_parse(text, "--command", shell, &t, &err),
			 -1);
	assert_null(t);
	assert_int_equal(err.code, BM_ERR_INVALID);
	assert_string_equal(err.msg, msg);
}

static void test_brace_errors(void **state)
{
	expect_parse_error("app {nmae} x", true,
			   "--command: unknown placeholder '{nmae}' at "
			   "column 5: did you mean {name}? (write '{{nmae}}' "
			   "for literal braces)");
	expect_parse_error("{}", false,
			   "--command: unknown placeholder '{}' at column 1 "
			   "(write '{{}}' for literal braces)");
	expect_parse_error("{NAME}", false,
			   "--command: unknown placeholder '{NAME}' at "
			   "column 1 (write '{{NAME}}' for literal braces)");
	expect_parse_error("app {name", true,
			   "--command: unclosed '{' at column 5 (write '{{' "
			   "for a literal brace)");
	/* Braces of ported shell code: no guess, the literal spelling. */
	expect_parse_error("awk '{print $1}' {in}", true,
			   "--command: unknown placeholder '{print $1}' at "
			   "column 6 (write '{{print $1}}' for literal "
			   "braces)");
	expect_parse_error("cp {in} ${HOME}/x", true,
			   "--command: unknown placeholder '{HOME}' at column "
			   "10 (write '{{HOME}}' for literal braces)");
	expect_parse_error("app {bsename}", false,
			   "--command: unknown placeholder '{bsename}' at "
			   "column 5: did you mean {basename}? (write "
			   "'{{bsename}}' for literal braces)");
	/* The first brace is the one left open, not "{in > {out}". */
	expect_parse_error("app {in > {out}", true,
			   "--command: unclosed '{' at column 5 (write '{{' "
			   "for a literal brace)");
	expect_parse_error("a {{ b } c", false,
			   "--command: unmatched '}' at column 8 (write '}}' "
			   "for a literal brace)");
	expect_parse_error("echo '{name}", true,
			   "--command: unterminated single quote at column 6");
	expect_parse_error("echo \"{name}", true,
			   "--command: unterminated double quote at column 6");
	expect_parse_error("echo \\{name}", true,
			   "--command: placeholder at column 7 follows a "
			   "backslash");
}

static void test_suggest(void **state)
{
	static const char *const cands[] = {"image", "input", "output", NULL,
					    "command"};

	(void)state;
	assert_int_equal(tt_edit_distance("imgae", 5, "image", 5), 1);
	assert_int_equal(tt_edit_distance("", 0, "abc", 3), 3);
	assert_int_equal(tt_edit_distance("kitten", 6, "sitting", 7), 3);
	assert_string_equal(tt_suggest("imgae", 5, cands, 5), "image");
	assert_string_equal(tt_suggest("outptu", 6, cands, 5), "output");
	assert_string_equal(tt_suggest("comand", 6, cands, 5), "command");
	/* Too far to be a typo: no guess. */
	assert_null(tt_suggest("zzz", 3, cands, 5));
	assert_null(tt_suggest("print $1", 8, cands, 5));
}

static void test_options(void **state)
{
	struct tt_options o;
	struct bm_error err;
	char path[] = "/tmp/tt-pw-XXXXXX";
	int fd;

	tt_options_init(&o);
	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_IN_DIR, "rel", &err), -1);
	assert_string_equal(err.msg,
			    "--in-dir 'rel': must be an absolute path");
	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_INPUT, "a/b", &err), -1);
	bm_error_clear(&err);
	assert_int_equal(tt_options_finish(&o, &err), -1);
	assert_string_equal(err.msg, "--input CONTAINER is required");

	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_INPUT, "in", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_IMAGE, "i", &err), 0);
	assert_int_equal(tt_options_finish(&o, &err), -1);
	assert_non_null(strstr(err.msg, "--command TEMPLATE is required"));

	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_COMMAND, "", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_SKIP_EXISTING, NULL, &err),
			 0);
	assert_int_equal(tt_options_finish(&o, &err), -1);
	assert_string_equal(err.msg,
			    "--skip-existing needs --output CONTAINER");

	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_OUTPUT, "out", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_OUT_DIR, "/x/y//", &err), 0);
	assert_string_equal(o.out_dir, "/x/y");
	assert_int_equal(
	    tt_options_set(&o, TT_OPT_OUTPUT_NAME, "{out}.x", &err), 0);
	assert_int_equal(tt_options_finish(&o, &err), -1);
	assert_non_null(strstr(err.msg, "'{out}' cannot be used"));

	/* registry: password from a variable or a file, never an option */
	bm_error_clear(&err);
	assert_int_equal(
	    tt_options_set(&o, TT_OPT_OUTPUT_NAME, "{name}.o", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY, "r.io", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY_USER, "u", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY_PASSWORD_ENV,
					"TT_TEST_UNSET_PW", &err),
			 0);
	unsetenv("TT_TEST_UNSET_PW");
	assert_int_equal(tt_options_finish(&o, &err), -1);
	assert_string_equal(err.msg, "registry password variable "
				     "'TT_TEST_UNSET_PW' is not set");
	bm_error_clear(&err);
	setenv("TT_TEST_UNSET_PW", "s3cret", 1);
	assert_int_equal(tt_options_finish(&o, &err), 0);
	assert_string_equal(o.registry_password, "s3cret");
	tt_options_release(&o);

	tt_options_init(&o);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "filepw\r\n", 8), 8);
	close(fd);
	assert_int_equal(tt_options_set(&o, TT_OPT_INPUT, "in", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_IMAGE, "i", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_COMMAND, "x", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY, "r.io", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY_USER, "u", &err),
			 0);
	assert_int_equal(
	    tt_options_set(&o, TT_OPT_REGISTRY_PASSWORD_FILE, path, &err), 0);
	assert_int_equal(tt_options_finish(&o, &err), 0);
	assert_string_equal(o.registry_password, "filepw");
	unlink(path);
	tt_options_release(&o);
}

/* ------------------------------------------------------------------ */
/* Task ids                                                            */
/* ------------------------------------------------------------------ */

static void assert_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	assert_true(n > 16 && n <= TASK_ID_MAX);
	for (i = 0; i < n; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
				       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_-",
				       id[i]));
}

static int ci_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static void test_task_ids(void **state)
{
	char a[TASK_ID_MAX + 1], b[TASK_ID_MAX + 1];
	char *longname = long_hostile_name();
	enum { N = 20000 };
	char **ids = calloc(2 * N, sizeof(*ids));
	size_t i;

	task_make_id("dir/photo 1.jpg", a);
	task_make_id("dir/photo 1.jpg", b);
	assert_string_equal(a, b); /* deterministic */
	assert_int_equal(strncmp(a, "photo_1_jpg-", 12), 0);
	assert_id_ok(a);

	/* differ only in case, or only in folded bytes */
	task_make_id("Photo.JPG", a);
	task_make_id("photo.jpg", b);
	assert_true(strcasecmp(a, b) != 0);
	task_make_id("a b", a);
	task_make_id("a_b", b);
	assert_true(strcasecmp(a, b) != 0);

	/* one long basename: the id is cut to its maximum */
	for (i = 0; longname[i]; i++)
		if (longname[i] == '/')
			longname[i] = 'x';
	task_make_id(longname, a);
	assert_id_ok(a);
	assert_int_equal(strlen(a), TASK_ID_MAX);
	free(longname);
	for (i = 0; i < hostile_count; i++) {
		task_make_id(hostile[i], a);
		assert_id_ok(a);
	}
	task_make_id("\xe6\x97\xa5\xe6\x9c\xac", a); /* nothing readable */
	assert_id_ok(a);

	/* A listing full of case variants: all ids distinct ignoring case. */
	assert_non_null(ids);
	for (i = 0; i < N; i++) {
		char name[64];

		ids[2 * i] = malloc(TASK_ID_MAX + 1);
		ids[2 * i + 1] = malloc(TASK_ID_MAX + 1);
		snprintf(name, sizeof(name), "Batch/File-%zu.TXT", i);
		task_make_id(name, ids[2 * i]);
		snprintf(name, sizeof(name), "batch/file-%zu.txt", i);
		task_make_id(name, ids[2 * i + 1]);
	}
	qsort(ids, 2 * N, sizeof(*ids), ci_cmp);
	for (i = 1; i < 2 * N; i++)
		assert_true(strcasecmp(ids[i - 1], ids[i]) != 0);
	for (i = 0; i < 2 * N; i++)
		free(ids[i]);
	free(ids);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static void test_task_json(void **state)
{
	struct tt_options o;
	struct tt_spec *spec;
	struct task t;
	struct bm_error err;
	json_t *j, *cs;

	tt_options_init(&o);
	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_INPUT, "in", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_IMAGE, "reg.io/app:2", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_COMMAND, "", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_RUN_OPTIONS,
					"--workdir /app -v /mnt/a:/a", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY, "reg.io", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY_USER, "bob", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_REGISTRY_PASSWORD_ENV,
					"TT_TEST_PW", &err),
			 0);
	setenv("TT_TEST_PW", "pw", 1);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "A=1=2", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "TT_TEST_PW", &err), 0);
	assert_int_equal(tt_options_finish(&o, &err), 0);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_true(tt_spec_container(spec)->workdir_image_default);
	assert_int_equal(tt_task_make(spec, "x.bin", 0, 5, 0, &t, &err), 0);
	j = task_to_json(&t);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "id")), t.id);
	assert_string_equal(
	    json_string_value(json_object_get(j, "displayName")), "x.bin");
	/* empty --command: the image's ENTRYPOINT runs */
	assert_string_equal(
	    json_string_value(json_object_get(j, "commandLine")), "");
	cs = json_object_get(j, "containerSettings");
	assert_string_equal(json_string_value(json_object_get(cs, "imageName")),
			    "reg.io/app:2");
	assert_string_equal(
	    json_string_value(json_object_get(cs, "containerRunOptions")),
	    "--workdir /app -v /mnt/a:/a");
	assert_string_equal(
	    json_string_value(json_object_get(cs, "workingDirectory")),
	    "containerImageDefault");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(cs, "registry"), "password")),
			    "pw");
	/* --env: Batch's environmentSettings, NAME alone resolved here */
	{
		json_t *es = json_object_get(j, "environmentSettings");

		assert_int_equal(json_array_size(es), 2);
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(es, 0), "name")),
				    "A");
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(es, 0), "value")),
				    "1=2");
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(es, 1), "value")),
				    "pw");
	}
	json_decref(j);
	task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* no --workdir: Batch's task directory */
	opts_make(&o, "app {name}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_false(tt_spec_container(spec)->workdir_image_default);
	assert_int_equal(tt_task_make(spec, "y", 0, 5, 0, &t, &err), 0);
	j = task_to_json(&t);
	cs = json_object_get(j, "containerSettings");
	assert_string_equal(
	    json_string_value(json_object_get(cs, "workingDirectory")),
	    "taskWorkingDirectory");
	assert_null(json_object_get(cs, "registry"));
	json_decref(j);
	task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_every_placeholder),
	    cmocka_unit_test(test_expand_plain),
	    cmocka_unit_test(test_brace_errors),
	    cmocka_unit_test(test_suggest),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_task_ids),
	    cmocka_unit_test(test_task_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

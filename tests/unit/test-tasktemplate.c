/*
 * Unit tests of libtasktemplate: placeholders, brace errors, the quoting
 * round trip through a real /bin/sh, Batch-style command-line splitting,
 * task ids, TaskAddParameter JSON, the streaming iterator and
 * --skip-existing (against the in-memory blob client), and the memory
 * bound of generating tasks for 100,000 blobs.
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

#define ENDPOINT "http://127.0.0.1:10000/devstoreaccount1"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Options with a given command and output name; the caller releases. */
static void opts_make(struct tt_options *o, const char *command,
		      const char *output_name, const char *out_dir)
{
	struct bm_error err;

	bm_error_clear(&err);
	tt_options_init(o);
	assert_int_equal(tt_options_set(o, TT_OPT_INPUT, "data-in", &err), 0);
	assert_int_equal(tt_options_set(o, TT_OPT_IMAGE, "img:1", &err), 0);
	assert_int_equal(tt_options_set(o, TT_OPT_COMMAND, command, &err), 0);
	if (output_name)
		assert_int_equal(
		    tt_options_set(o, TT_OPT_OUTPUT_NAME, output_name, &err),
		    0);
	if (out_dir)
		assert_int_equal(
		    tt_options_set(o, TT_OPT_OUT_DIR, out_dir, &err), 0);
	assert_int_equal(tt_options_finish(o, &err), 0);
}

/* Runs argv with stdout to a pipe; returns what it wrote (malloc()ed,
 * length in *len) and asserts exit status 0. */
static char *run_capture(char *const argv[], size_t *len)
{
	int fds[2], status;
	pid_t pid;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = read(fds[0], buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	*len = n;
	return buf;
}

/* The bytes of a NUL-separated list of strings. */
static char *nul_list(size_t *len, ...)
{
	va_list ap;
	const char *s;
	char *buf = NULL;
	size_t n = 0;

	va_start(ap, len);
	while ((s = va_arg(ap, const char *))) {
		size_t l = strlen(s) + 1;

		buf = realloc(buf, n + l);
		assert_non_null(buf);
		memcpy(buf + n, s, l);
		n += l;
	}
	va_end(ap);
	*len = n;
	return buf;
}

static char *cat3(const char *a, const char *b, const char *c)
{
	char *s;

	assert_true(asprintf(&s, "%s%s%s", a, b, c) >= 0);
	return s;
}

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
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

static void expect_split(const char *line, size_t want_argc, ...)
{
	struct bm_error err;
	char **argv;
	size_t argc, i;
	va_list ap;

	bm_error_clear(&err);
	assert_int_equal(tt_cmdline_split(line, &argv, &argc, &err), 0);
	assert_int_equal(argc, want_argc);
	va_start(ap, want_argc);
	for (i = 0; i < want_argc; i++)
		assert_string_equal(argv[i], va_arg(ap, const char *));
	va_end(ap);
	assert_null(argv[argc]);
	tt_argv_free(argv);
}

static void test_cmdline_split(void **state)
{
	struct bm_error err;
	char **argv = NULL;

	expect_split("", 0);
	expect_split(" \t\n ", 0);
	expect_split("a  b\tc\nd", 4, "a", "b", "c", "d");
	expect_split("'a b' \"c d\"", 2, "a b", "c d");
	expect_split("''", 1, "");
	expect_split("a'b'\"c\"d", 1, "abcd");
	expect_split("'it'\\''s'", 1, "it's");
	expect_split("\"\\\" \\\\ \\$x \\` \\q\"", 1, "\" \\ $x ` \\q");
	expect_split("a\\ b \\'c", 2, "a b", "'c");
	expect_split("'$(rm -rf /) `x` ;|&*'", 1, "$(rm -rf /) `x` ;|&*");
	expect_split("'line\nbreak'", 1, "line\nbreak");
	expect_split("a\\\nb", 1, "ab");
	expect_split("--volume /mnt/data-in:/data-in -w /app", 4, "--volume",
		     "/mnt/data-in:/data-in", "-w", "/app");
	bm_error_clear(&err);
	assert_int_equal(tt_cmdline_split("ok 'open", &argv, NULL, &err), -1);
	assert_string_equal(err.msg, "unterminated single quote at column 4");
	assert_null(argv);
}

static void test_shell_quote(void **state)
{
	char *q = tt_shell_quote("it's");

	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = tt_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

/* Names Azure allows that break naive quoting. */
static const char *const hostile[] = {
    "plain.txt",
    "with space.txt",
    "it's.txt",
    "'",
    "''",
    "\"double\"",
    "back`tick`",
    "$(touch SENTINEL)",
    "`touch SENTINEL`",
    "semi;colon&amp|pipe>redir<in*star?[a]",
    "new\nline",
    "trailing newline\n",
    "\ttab and  two spaces ",
    "-leading-dash",
    "--help",
    "unicode-\xc4\x89"
    "evalo-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80.txt",
    "back\\slash\\",
    "~tilde",
    "a=b",
    "if",
    "#hash",
    "{name}}",
    "%41%20",
    "dir/sub/name.txt",
    "dir/it's a \"dir\"/$(x).txt",
    "!bang",
    "${HOME}",
};

/* A 1,024-byte name made of hostile pieces, in folders so that no
 * component passes NAME_MAX and {in} can name it. */
static char *long_hostile_name(void)
{
	static const char piece[] = "a'b\"c$(d)`e` f;g\n";
	char *s = malloc(1025);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < 1024; i++)
		s[i] = piece[i % (sizeof(piece) - 1)];
	for (i = 200; i < 1024; i += 200)
		s[i] = '/';
	s[1024] = '\0';
	return s;
}

/*
 * Expands a printf-based command for `name`, runs the commandLine the way
 * the local runner does (tt_cmdline_split, then exec) and also through a
 * real POSIX shell's word splitting, and compares the argv bytes the
 * script received with the values expected.
 */
static void roundtrip_one(const char *name, const char *sentinel)
{
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_task t;
	struct bm_error err;
	char **argv;
	char *want, *got, *in, *out, *xy, *sh_argv[4];
	size_t wlen, glen;
	struct stat st;

	/* Each context: bare, double-quoted, single-quoted, inside a word,
	 * and joined paths. */
	opts_make(&o,
		  "printf '%s\\0' {name} \"{name}\" '{name}' x{basename}y "
		  "{in} {out} \"{index}\" '{{}}'",
		  "{index}.out", NULL);
	bm_error_clear(&err);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_task_make(spec, name, 42, 1, 0, &t, &err), 0);
	assert_non_null(strstr(t.command_line, "/bin/sh -c "));

	in = cat3("/data-in/", name, "");
	out = cat3("/data-out/", "42", ".out");
	{
		const char *slash = strrchr(name, '/');

		xy = cat3("x", slash ? slash + 1 : name, "y");
	}
	want = nul_list(&wlen, name, name, name, xy, in, out, "42", "{}",
			(char *)NULL);

	/* 1. split like Batch and blobmill run do */
	assert_int_equal(tt_cmdline_split(t.command_line, &argv, NULL, &err),
			 0);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "-c");
	got = run_capture(argv, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	tt_argv_free(argv);

	/* 2. a POSIX shell splitting the same line gives the same bytes */
	sh_argv[0] = "/bin/sh";
	sh_argv[1] = "-c";
	sh_argv[2] = t.command_line;
	sh_argv[3] = NULL;
	got = run_capture(sh_argv, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);

	/* nothing in the name ran as a command */
	assert_int_equal(stat(sentinel, &st), -1);

	free(want);
	free(in);
	free(out);
	free(xy);
	tt_task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
}

static void test_quoting_roundtrip(void **state)
{
	char dir[] = "/tmp/tt-quote-XXXXXX";
	char *sentinel, *longname;
	size_t i;

	/* $(touch SENTINEL) would create ./SENTINEL: run in a fresh dir */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	sentinel = cat3(dir, "/SENTINEL", "");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		roundtrip_one(hostile[i], sentinel);
	longname = long_hostile_name();
	roundtrip_one(longname, sentinel);
	free(longname);
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(rmdir(dir), 0);
	free(sentinel);
}

/* A plain name stays readable in the command line. */
static void test_command_line_readable(void **state)
{
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_task t;
	struct bm_error err;

	opts_make(&o,
		  "python app.py /data-in/{name} /data-out/{name}-result.txt",
		  NULL, NULL);
	bm_error_clear(&err);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_task_make(spec, "photo1.jpg", 0, 1, 0, &t, &err),
			 0);
	assert_string_equal(t.command_line,
			    "/bin/sh -c 'python app.py /data-in/photo1.jpg "
			    "/data-out/photo1.jpg-result.txt'");
	assert_string_equal(t.output_name, "photo1.jpg-result.txt");
	tt_task_release(&t);
	assert_int_equal(tt_task_make(spec, "my photo.jpg", 0, 1, 0, &t, &err),
			 0);
	assert_string_equal(t.command_line,
			    "/bin/sh -c 'python app.py /data-in/\"${1}\" "
			    "/data-out/\"${1}\"-result.txt' sh 'my photo.jpg'");
	tt_task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
}

/* Outputs in folders: the parent exists before the app runs. */
static void test_output_parent_created(void **state)
{
	char dir[] = "/tmp/tt-mkdir-XXXXXX";
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_task t;
	struct bm_error err;
	char **argv, *target, *got;
	size_t glen;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	opts_make(&o, "test -d \"$(dirname {out})\" && echo ok > {out}",
		  "res/{dir}/{stem}.out", dir);
	bm_error_clear(&err);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(
	    tt_task_make(spec, "a b/it's/x.txt", 0, 1, 0, &t, &err), 0);
	assert_string_equal(t.output_name, "res/a b/it's/x.out");
	assert_non_null(strstr(t.command_line, "mkdir -p -- "));
	assert_int_equal(tt_cmdline_split(t.command_line, &argv, NULL, &err),
			 0);
	got = run_capture(argv, &glen);
	free(got);
	tt_argv_free(argv);
	target = cat3(dir, "/res/a b/it's/x.out", "");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 3);
	free(target);
	tt_task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
	got = cat3("rm -rf -- '", dir, "'");
	assert_int_equal(system(got), 0);
	free(got);
}

/* ------------------------------------------------------------------ */
/* Task ids                                                            */
/* ------------------------------------------------------------------ */

static void assert_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	assert_true(n > 16 && n <= TT_TASK_ID_MAX);
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
	char a[TT_TASK_ID_MAX + 1], b[TT_TASK_ID_MAX + 1];
	char *longname = long_hostile_name();
	enum { N = 20000 };
	char **ids = calloc(2 * N, sizeof(*ids));
	size_t i;

	tt_task_id("dir/photo 1.jpg", a);
	tt_task_id("dir/photo 1.jpg", b);
	assert_string_equal(a, b); /* deterministic */
	assert_int_equal(strncmp(a, "photo_1_jpg-", 12), 0);
	assert_id_ok(a);

	/* differ only in case, or only in folded bytes */
	tt_task_id("Photo.JPG", a);
	tt_task_id("photo.jpg", b);
	assert_true(strcasecmp(a, b) != 0);
	tt_task_id("a b", a);
	tt_task_id("a_b", b);
	assert_true(strcasecmp(a, b) != 0);

	/* one long basename: the id is cut to its maximum */
	for (i = 0; longname[i]; i++)
		if (longname[i] == '/')
			longname[i] = 'x';
	tt_task_id(longname, a);
	assert_id_ok(a);
	assert_int_equal(strlen(a), TT_TASK_ID_MAX);
	free(longname);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		tt_task_id(hostile[i], a);
		assert_id_ok(a);
	}
	tt_task_id("\xe6\x97\xa5\xe6\x9c\xac", a); /* nothing readable */
	assert_id_ok(a);

	/* A listing full of case variants: all ids distinct ignoring case. */
	assert_non_null(ids);
	for (i = 0; i < N; i++) {
		char name[64];

		ids[2 * i] = malloc(TT_TASK_ID_MAX + 1);
		ids[2 * i + 1] = malloc(TT_TASK_ID_MAX + 1);
		snprintf(name, sizeof(name), "Batch/File-%zu.TXT", i);
		tt_task_id(name, ids[2 * i]);
		snprintf(name, sizeof(name), "batch/file-%zu.txt", i);
		tt_task_id(name, ids[2 * i + 1]);
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
	struct tt_task t;
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
	j = tt_task_to_json(&t);
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
	tt_task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* no --workdir: Batch's task directory */
	opts_make(&o, "app {name}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_false(tt_spec_container(spec)->workdir_image_default);
	assert_int_equal(tt_task_make(spec, "y", 0, 5, 0, &t, &err), 0);
	j = tt_task_to_json(&t);
	cs = json_object_get(j, "containerSettings");
	assert_string_equal(
	    json_string_value(json_object_get(cs, "workingDirectory")),
	    "taskWorkingDirectory");
	assert_null(json_object_get(cs, "registry"));
	json_decref(j);
	tt_task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
}

/* ------------------------------------------------------------------ */
/* Iterator and --skip-existing (in-memory client)                     */
/* ------------------------------------------------------------------ */

static void put_blob(struct bm_blob_client *c, const char *container,
		     const char *name, bool dir_marker)
{
	static const struct bm_metadata folder = {"hdi_isfolder", "true"};
	struct bm_put_opts po = {0};
	struct bm_body body = {.buf = "x", .fd = -1, .len = 1};
	struct bm_error err;

	if (dir_marker) {
		po.metadata = &folder;
		po.nmetadata = 1;
		body.len = 0;
	}
	bm_error_clear(&err);
	assert_int_equal(
	    c->ops->put(c, container, name, &body, &po, NULL, &err), 0);
}

/* How many tasks the iterator yields over spec, with no error. */
static size_t count_tasks(struct bm_blob_client *c, const struct tt_spec *spec)
{
	const struct tt_task *t;
	struct tt_iter *it;
	struct bm_error err;
	size_t n = 0;

	bm_error_clear(&err);
	assert_int_equal(tt_iter_open(c, spec, NULL, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1)
		n++;
	assert_int_equal(err.code, BM_OK);
	tt_iter_free(it);
	return n;
}

struct skips {
	size_t n;
	char blob[8][1100];
	char reason[8][200];
};

static void record_skip(const struct tt_skip *sk, void *ud)
{
	struct skips *k = ud;

	assert_int_equal(sk->kind, TT_SKIP_INVALID);
	assert_null(sk->output_name);
	assert_true(k->n < 8);
	snprintf(k->blob[k->n], sizeof(k->blob[0]), "%s", sk->blob);
	snprintf(k->reason[k->n], sizeof(k->reason[0]), "%s", sk->reason);
	k->n++;
}

/* Issue 13: a blob that cannot become a task is skipped with its reason;
 * the others before and after it still become their tasks. */
static void test_iterator_skips_impossible_blobs(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	char long_name[1020];
	struct skips k = {0};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct tt_task *t;
	struct bm_error err;
	size_t n = 0;

	/* 1,019 characters: "{name}-result.txt" passes 1,024 bytes */
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	long_name[0] = 'b';
	for (n = 200; n < 1000; n += 200)
		long_name[n] = '/';
	n = 0;
	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	put_blob(c, "data-in", "a.txt", false);
	put_blob(c, "data-in", long_name, false);
	put_blob(c, "data-in", "c/../../etc/passwd", false);
	put_blob(c, "data-in", "d.txt", false);
	opts_make(&o, "app {in} {out}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 2, &it, &err), 0);
	tt_iter_on_skip(it, record_skip, &k);
	while (tt_iter_next(it, &t, &err) == 1) {
		assert_string_equal(t->blob, n ? "d.txt" : "a.txt");
		n++;
	}
	assert_int_equal(err.code, BM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(k.n, 2);
	assert_string_equal(k.blob[0], long_name);
	assert_string_equal(k.reason[0],
			    "its output name is 1030 bytes (a blob "
			    "name is 1 to 1,024)");
	assert_string_equal(k.blob[1], "c/../../etc/passwd");
	assert_non_null(strstr(k.reason[1], "'..' path component"));
	tt_iter_stats(it, &st);
	assert_int_equal(st.selected, 4);
	assert_int_equal(st.invalid, 2);
	tt_iter_free(it);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* without {in}, the input name need not be a path: only the output
	 * name's rule applies ("x-{index}" is always fine) */
	opts_make(&o, "app {name} {out}", "x-{index}", NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(count_tasks(c, spec), 4);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

static void test_iterator_filters_and_pages(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	static const char *const names[] = {
	    "a.jpg",	 "b.txt",	 "dir",	  "dir/c.jpg",
	    "dir/d.jpg", "dir/skip.jpg", "e.jpg", "z/other.jpg",
	};
	static const char *const want[] = {"a.jpg", "dir/c.jpg", "dir/d.jpg",
					   "e.jpg"};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct tt_task *t;
	struct bm_error err;
	size_t i, n = 0;

	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		put_blob(c, "data-in", names[i], !strcmp(names[i], "dir"));
	opts_make(&o, "app {in} {index}", NULL, NULL);
	assert_int_equal(tt_options_set(&o, TT_OPT_INCLUDE, "*.jpg", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_EXCLUDE, "*skip*", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_EXCLUDE, "z/*", &err), 0);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 2, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		char idx[8];

		assert_true(n < 4);
		assert_string_equal(t->blob, want[n]);
		assert_int_equal(t->index, n);
		snprintf(idx, sizeof(idx), " %zu'", n);
		assert_non_null(strstr(t->command_line, idx));
		n++;
	}
	assert_int_equal(err.code, BM_OK);
	assert_int_equal(n, 4);
	tt_iter_stats(it, &st);
	assert_int_equal(st.listed, 8);
	assert_int_equal(st.selected, 4);
	assert_int_equal(st.pages, 4); /* 8 entries, 2 a page */
	assert_true(st.page_peak <= 2);
	tt_iter_free(it);

	/* --prefix */
	tt_spec_free(spec);
	assert_int_equal(tt_options_set(&o, TT_OPT_PREFIX, "dir/", &err), 0);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(count_tasks(c, spec), 2);
	tt_spec_free(spec);
	tt_options_release(&o);

	/* a missing input container is a clear error */
	opts_make(&o, "app", NULL, NULL);
	free(o.input);
	o.input = strdup("nope");
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, NULL, 0, &it, &err), 0);
	assert_int_equal(tt_iter_next(it, &t, &err), -1);
	assert_int_equal(err.code, BM_ERR_NO_CONTAINER);
	assert_non_null(strstr(err.msg, "cannot list input container 'nope'"));
	tt_iter_free(it);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

static void test_skip_existing(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_existing *ex;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct tt_task *t;
	struct bm_http_stats hs0, hs1;
	struct bm_error err;
	size_t n = 0;

	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "data-in", &err), 0);
	put_blob(c, "data-in", "one", false);
	put_blob(c, "data-in", "two", false);
	put_blob(c, "data-in", "three", false);

	/* no output container yet: nothing exists */
	assert_int_equal(tt_existing_load(c, "data-out", &ex, &err), 0);
	assert_false(tt_existing_covers(ex, "one-result.txt", 0));
	tt_existing_free(ex);

	assert_int_equal(c->ops->create_container(c, "data-out", &err), 0);
	put_blob(c, "data-out", "two-result.txt", false);
	c->ops->get_stats(c, &hs0);
	assert_int_equal(tt_existing_load(c, "data-out", &ex, &err), 0);
	c->ops->get_stats(c, &hs1);
	/* one listing, not one request per blob */
	assert_int_equal(hs1.requests[BM_OP_LIST] - hs0.requests[BM_OP_LIST],
			 1);
	assert_true(tt_existing_covers(ex, "two-result.txt", 0));
	/* an output older than its input does not count */
	assert_false(
	    tt_existing_covers(ex, "two-result.txt", time(NULL) + 3600));

	opts_make(&o, "app {name}", NULL, NULL);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	assert_int_equal(tt_iter_open(c, spec, ex, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		assert_string_not_equal(t->blob, "two");
		n++;
	}
	assert_int_equal(n, 2);
	tt_iter_stats(it, &st);
	assert_int_equal(st.selected, 3);
	assert_int_equal(st.skipped, 1);
	tt_iter_free(it);
	tt_existing_free(ex);
	tt_spec_free(spec);
	tt_options_release(&o);
	bm_blob_client_free(c);
}

/* ------------------------------------------------------------------ */
/* Streaming: 100,000 blobs                                            */
/* ------------------------------------------------------------------ */

/*
 * A client whose container holds `total` blobs named blob-NNNNNNN that
 * exist only as a counter: every List page is generated on demand, so the
 * memory measured below is the iterator's, not the fake service's.
 */
struct gen_client {
	struct bm_blob_client base;
	unsigned long total;
	unsigned long pages;
};

static int gen_list_page(struct bm_blob_client *c, const char *container,
			 const struct bm_list_opts *o, bm_list_cb cb, void *ud,
			 char **next_marker, struct bm_error *err)
{
	struct gen_client *g = (struct gen_client *)c;
	unsigned long start = o->marker ? strtoul(o->marker, NULL, 10) : 0;
	unsigned long max =
	    o->max_results > 0 ? (unsigned long)o->max_results : 5000;
	unsigned long i;
	char name[32];
	struct bm_blob_entry e = {
	    .name = name, .size = 10, .etag = "", .content_type = ""};

	g->pages++;
	for (i = start; i < g->total && i < start + max; i++) {
		snprintf(name, sizeof(name), "blob-%07lu", i);
		if (cb(&e, ud)) {
			bm_error_set(err, BM_ERR_ABORTED, "stopped");
			return -1;
		}
	}
	*next_marker = NULL;
	if (i < g->total)
		assert_true(asprintf(next_marker, "%lu", i) > 0);
	return 0;
}

static void gen_free(struct bm_blob_client *c)
{
}

static const struct bm_blob_ops gen_ops = {
    .list_page = gen_list_page,
    .free = gen_free,
};

static void test_streaming_100k(void **state)
{
	struct gen_client g = {.base = {.ops = &gen_ops}, .total = 100000};
	struct tt_options o;
	struct tt_spec *spec;
	struct tt_iter *it;
	struct tt_iter_stats st;
	const struct tt_task *t;
	struct bm_error err;
	size_t base, peak = 0, n = 0, bytes = 0;

	opts_make(&o, "python app.py {in} {out}", NULL, NULL);
	bm_error_clear(&err);
	assert_int_equal(tt_spec_new(&o, ENDPOINT, &spec, &err), 0);
	base = mallinfo2().uordblks;
	assert_int_equal(tt_iter_open(&g.base, spec, NULL, 0, &it, &err), 0);
	while (tt_iter_next(it, &t, &err) == 1) {
		size_t used = mallinfo2().uordblks;

		/* every 100th to JSON: enough to see the path holds nothing,
		 * cheap enough under valgrind */
		if (n % 100 == 0) {
			json_t *j = tt_task_to_json(t);

			assert_non_null(j);
			json_decref(j);
		}
		bytes += strlen(t->command_line);
		if (used > base && used - base > peak)
			peak = used - base;
		n++;
	}
	assert_int_equal(err.code, BM_OK);
	assert_int_equal(n, 100000);
	tt_iter_stats(it, &st);
	assert_int_equal(st.pages, 20);
	assert_int_equal(g.pages, 20);
	/* one page of names at a time, never the listing */
	assert_true(st.page_peak <= 5000);
	/* Holding every task would take more than their command lines
	 * alone (> 7 MB here); one page of names takes well under 1 MB.
	 * (Under ASan mallinfo2 reports nothing; page_peak still holds.) */
	assert_true(bytes > 7000000);
	print_message("streaming: 100000 tasks, %zu bytes of command lines, "
		      "peak heap growth %zu bytes, page peak %zu\n",
		      bytes, peak, st.page_peak);
	assert_true(peak < 2 * 1024 * 1024);
	tt_iter_free(it);
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
	    cmocka_unit_test(test_cmdline_split),
	    cmocka_unit_test(test_shell_quote),
	    cmocka_unit_test(test_quoting_roundtrip),
	    cmocka_unit_test(test_command_line_readable),
	    cmocka_unit_test(test_output_parent_created),
	    cmocka_unit_test(test_task_ids),
	    cmocka_unit_test(test_task_json),
	    cmocka_unit_test(test_iterator_filters_and_pages),
	    cmocka_unit_test(test_iterator_skips_impossible_blobs),
	    cmocka_unit_test(test_skip_existing),
	    cmocka_unit_test(test_streaming_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

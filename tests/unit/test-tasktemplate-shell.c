/*
 * Unit tests of libtasktemplate's command lines: Batch-style splitting,
 * shell quoting, and the quoting round trip of hostile blob names through
 * a real /bin/sh.
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
/* Command lines                                                       */
/* ------------------------------------------------------------------ */

static void expect_split(const char *line, size_t want_argc, ...)
{
	struct bm_error err;
	char **argv;
	size_t argc, i;
	va_list ap;

	bm_error_clear(&err);
	assert_int_equal(task_cmdline_split(line, &argv, &argc, &err), 0);
	assert_int_equal(argc, want_argc);
	va_start(ap, want_argc);
	for (i = 0; i < want_argc; i++)
		assert_string_equal(argv[i], va_arg(ap, const char *));
	va_end(ap);
	assert_null(argv[argc]);
	task_argv_free(argv);
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
	assert_int_equal(task_cmdline_split("ok 'open", &argv, NULL, &err), -1);
	assert_string_equal(err.msg, "unterminated single quote at column 4");
	assert_null(argv);
}

static void test_shell_quote(void **state)
{
	char *q = task_shell_quote("it's");

	assert_string_equal(q, "'it'\\''s'");
	free(q);
	q = task_shell_quote("");
	assert_string_equal(q, "''");
	free(q);
}

/*
 * Expands a printf-based command for `name`, runs the commandLine the way
 * the local runner does (task_cmdline_split, then exec) and also through a
 * real POSIX shell's word splitting, and compares the argv bytes the
 * script received with the values expected.
 */
static void roundtrip_one(const char *name, const char *sentinel)
{
	struct tt_options o;
	struct tt_spec *spec;
	struct task t;
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
	assert_int_equal(task_cmdline_split(t.command_line, &argv, NULL, &err),
			 0);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "-c");
	got = run_capture(argv, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	task_argv_free(argv);

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
	task_release(&t);
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
	for (i = 0; i < hostile_count; i++)
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
	struct task t;
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
	task_release(&t);
	assert_int_equal(tt_task_make(spec, "my photo.jpg", 0, 1, 0, &t, &err),
			 0);
	assert_string_equal(t.command_line,
			    "/bin/sh -c 'python app.py /data-in/\"${1}\" "
			    "/data-out/\"${1}\"-result.txt' sh 'my photo.jpg'");
	task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
}

/* Outputs in folders: the parent exists before the app runs. */
static void test_output_parent_created(void **state)
{
	char dir[] = "/tmp/tt-mkdir-XXXXXX";
	struct tt_options o;
	struct tt_spec *spec;
	struct task t;
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
	assert_int_equal(task_cmdline_split(t.command_line, &argv, NULL, &err),
			 0);
	got = run_capture(argv, &glen);
	free(got);
	task_argv_free(argv);
	target = cat3(dir, "/res/a b/it's/x.out", "");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 3);
	free(target);
	task_release(&t);
	tt_spec_free(spec);
	tt_options_release(&o);
	got = cat3("rm -rf -- '", dir, "'");
	assert_int_equal(system(got), 0);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmdline_split),
	    cmocka_unit_test(test_shell_quote),
	    cmocka_unit_test(test_quoting_roundtrip),
	    cmocka_unit_test(test_command_line_readable),
	    cmocka_unit_test(test_output_parent_created),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

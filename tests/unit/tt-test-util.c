/*
 * tt-test-util: helpers of the libtasktemplate unit tests (tt-test-util.h).
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

#include "tt-test-util.h"

/* Options with a given command and output name; the caller releases. */
void opts_make(struct tt_options *o, const char *command,
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
char *run_capture(char *const argv[], size_t *len)
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
char *nul_list(size_t *len, ...)
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

char *cat3(const char *a, const char *b, const char *c)
{
	char *s;

	assert_true(asprintf(&s, "%s%s%s", a, b, c) >= 0);
	return s;
}

/* Names Azure allows that break naive quoting. */
const char *const hostile[] = {
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
char *long_hostile_name(void)
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

const size_t hostile_count = sizeof(hostile) / sizeof(hostile[0]);

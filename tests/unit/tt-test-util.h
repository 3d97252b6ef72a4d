/*
 * tt-test-util.h: what the unit tests of libtasktemplate share
 * (test-tasktemplate*.c).
 */
#ifndef TT_TEST_UTIL_H
#define TT_TEST_UTIL_H

#include <stddef.h>

#include "tasktemplate.h"

#define ENDPOINT "http://127.0.0.1:10000/devstoreaccount1"

/* Options with a given command and output name; the caller releases. */
void opts_make(struct tt_options *o, const char *command,
	       const char *output_name, const char *out_dir);

/* Runs argv with stdout to a pipe; returns what it wrote (malloc()ed,
 * length in *len) and asserts exit status 0. */
char *run_capture(char *const argv[], size_t *len);

/* The bytes of a NUL-separated list of strings (NULL-terminated
 * arguments); malloc()ed. */
char *nul_list(size_t *len, ...);

/* a, b and c joined; malloc()ed. */
char *cat3(const char *a, const char *b, const char *c);

/* Names Azure allows that break naive quoting (hostile_count of them). */
extern const char *const hostile[];
extern const size_t hostile_count;

/* A 1,024-byte name made of hostile pieces, in folders so that no
 * component passes NAME_MAX and {in} can name it; malloc()ed. */
char *long_hostile_name(void);

#endif

/*
 * term.h: the terminal output of the `blobmill` command, shared by cli/ and
 * storage/: the exit codes, one-line error messages and reports, names
 * printed byte for byte or quoted, sizes for people, and the progress line.
 * Below cli/ and storage/; includes only src/.
 */
#ifndef BM_TERM_H
#define BM_TERM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bm_error.h"

/* Exit codes of every subcommand. */
enum {
	TERM_EXIT_OK = 0,
	TERM_EXIT_FAILURE =
	    1, /* the operation failed (service, network, tasks) */
	TERM_EXIT_USAGE = 2, /* bad command line or configuration */
};

/* Prints "blobmill: " + message + "\n" to stderr. */
void term_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "blobmill: WHAT: ERR-MSG" (or "blobmill: WHAT: CATEGORY") to
 * stderr, one line. */
void term_report(const char *what, const struct bm_error *err);

/* term_report for an operation on container: a missing container's line
 * ends with what to do, ": create it with 'blobmill mb CONTAINER'". */
void term_report_container(const char *what, const char *container,
			   const struct bm_error *err);

/* "12.3 MiB", "512 B": for people, not for parsing. */
void term_format_bytes(uint64_t n, char *out, size_t cap);

/* Writes s as it is when it can stand on a line by itself, else C-quoted
 * in double quotes as git does ("new\nline", \" \\ \t, \ooo for other
 * control bytes): a name holding a control character or starting with '"'.
 * So a line shows exactly the bytes, or a quoted form that says so. */
void term_print_name(FILE *out, const char *s);

/*
 * The progress line of a transfer (term/term_progress.c): on stderr, redrawn in
 * place, only when term_progress_wanted() (stderr is a terminal and no
 * --no-progress). Started off, every call is a no-op.
 * total_bytes 0: unknown (no percentage, no ETA); total_files 0: one file.
 */
struct term_progress {
	const char *verb;
	uint64_t total_bytes;
	unsigned total_files;
	atomic_uint_least64_t bytes; /* counted by term_progress_add */
	atomic_uint files;
	uint64_t (*sample)(void *ud); /* or bytes sampled from elsewhere */
	void *sample_ud;
	uint64_t sample_base;
	double start;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop */
	pthread_cond_t wake;
	bool stop;
	bool running;
};

bool term_progress_wanted(bool no_progress);
void term_progress_start(struct term_progress *p, bool on, const char *verb,
			 uint64_t total_bytes, unsigned total_files);
/* Counts the bytes sample(ud) returns beyond its value now (e.g. the
 * client's bytes sent). Call right after term_progress_start. */
void term_progress_sample(struct term_progress *p, uint64_t (*sample)(void *),
			  void *ud);
/* p may be NULL (no display at all). */
void term_progress_add(struct term_progress *p, uint64_t bytes);
void term_progress_file_done(struct term_progress *p);
/* Draws the final line (ended by a newline) and stops the ticker. */
void term_progress_stop(struct term_progress *p);

#endif

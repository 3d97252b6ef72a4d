/*
 * bm_log: leveled logging to stderr or syslog. Every line passes through
 * bm_redact() first, so account keys, SAS signatures and Authorization
 * headers never reach a log, whatever the caller formats into it.
 *
 * The logger is process-wide configuration set once at start-up
 * (bm_log_init) before threads start; logging itself is thread-safe.
 */
#ifndef BM_LOG_H
#define BM_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Same names as blobfuse's --log-level. */
enum bm_log_level {
	BM_LOG_OFF = 0,
	BM_LOG_CRIT,
	BM_LOG_ERR,
	BM_LOG_WARNING,
	BM_LOG_INFO,
	BM_LOG_DEBUG,
};

/* to_syslog false: lines go to stderr as "PROG: level: message". */
void bm_log_init(const char *prog, enum bm_log_level level, bool to_syslog);

/* Parses "LOG_OFF", "LOG_CRIT", "LOG_ERR", "LOG_WARNING", "LOG_INFO",
 * "LOG_DEBUG" exactly; returns -1 for anything else. */
int bm_log_level_parse(const char *s, enum bm_log_level *out);

void bm_log(enum bm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define bm_err(...) bm_log(BM_LOG_ERR, __VA_ARGS__)
#define bm_warn(...) bm_log(BM_LOG_WARNING, __VA_ARGS__)
#define bm_info(...) bm_log(BM_LOG_INFO, __VA_ARGS__)
#define bm_debug(...) bm_log(BM_LOG_DEBUG, __VA_ARGS__)

bool bm_log_enabled(enum bm_log_level level);

/*
 * Registers a secret (account key, SAS token) that must never be printed.
 * bm_redact() replaces every occurrence with "REDACTED", and also the value
 * of any "sig=" query parameter and of "Authorization:"/"SharedKey" headers.
 * Registered strings are copied; there is no limit on their number.
 */
void bm_redact_register(const char *secret);

/* Redacts in place within buf (NUL-terminated, capacity cap). */
void bm_redact(char *buf, size_t cap);

/*
 * Makes buf one printable line, in place: C0 control bytes and DEL become
 * "\n", "\r", "\t" or "\xHH", so a blob name holding a newline or an
 * escape sequence (ESC [2J) can neither forge a second line nor drive the
 * terminal that shows the message. Cut at a whole escape to fit cap.
 * Every log line, bm_error message and CLI error passes through it, after
 * bm_redact.
 */
void bm_escape_controls(char *buf, size_t cap);

#endif

/*
 * bm_log: leveled logging to stderr or syslog, and the redaction every line
 * and every error message passes through (see bm_log.h).
 *
 * The logger configuration and the list of registered secrets are the one
 * piece of process-wide mutable state in libblobmill. Both are guarded by
 * log_lock; a line is formatted and redacted in a local buffer and written
 * with one call, so lines from several threads never interleave.
 *
 * Redaction is textual: it knows registered secrets, "sig=" query values
 * (also "sig%3D" inside an encoded URL), "Authorization:" header values and
 * "SharedKey ACCOUNT:SIGNATURE" credentials. It does not know secrets that
 * were never registered and appear in another encoding.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "bm_log.h"

#define LOG_LINE_MAX 2048
#define REDACTED "REDACTED"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_prog[64] = "blobmill"; /* guarded by log_lock */
static enum bm_log_level log_level = BM_LOG_WARNING;
static bool log_syslog; /* guarded by log_lock */
static char **secrets;	/* guarded by log_lock */
static size_t nsecrets; /* guarded by log_lock */

static const struct {
	const char *name;  /* --log-level spelling */
	const char *label; /* stderr line label */
	int priority;	   /* syslog priority */
} levels[] = {
    [BM_LOG_OFF] = {"LOG_OFF", "off", LOG_DEBUG},
    [BM_LOG_CRIT] = {"LOG_CRIT", "critical", LOG_CRIT},
    [BM_LOG_ERR] = {"LOG_ERR", "error", LOG_ERR},
    [BM_LOG_WARNING] = {"LOG_WARNING", "warning", LOG_WARNING},
    [BM_LOG_INFO] = {"LOG_INFO", "info", LOG_INFO},
    [BM_LOG_DEBUG] = {"LOG_DEBUG", "debug", LOG_DEBUG},
};

void bm_log_init(const char *prog, enum bm_log_level level, bool to_syslog)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_prog, sizeof(log_prog), "%s", prog ? prog : "blobmill");
	log_level = level;
	if (log_syslog && !to_syslog)
		closelog();
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(log_prog, LOG_PID, LOG_USER);
	pthread_mutex_unlock(&log_lock);
}

int bm_log_level_parse(const char *s, enum bm_log_level *out)
{
	size_t i;

	for (i = 0; s && i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*out = (enum bm_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool bm_log_enabled(enum bm_log_level level)
{
	bool on;

	pthread_mutex_lock(&log_lock);
	on = level != BM_LOG_OFF && level <= log_level;
	pthread_mutex_unlock(&log_lock);
	return on;
}

void bm_log(enum bm_log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	if (!bm_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One event, one line: a newline in a blob name must not forge a
	 * second log line. */
	bm_redact(line, sizeof(line));
	bm_escape_controls(line, sizeof(line));

	pthread_mutex_lock(&log_lock);
	if (log_syslog)
		syslog(levels[level].priority, "%s", line);
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, levels[level].label,
			line);
	pthread_mutex_unlock(&log_lock);
}

/* How a byte is shown: 1 (itself), 2 ("\n"), or 4 ("\x1b"). */
static size_t shown_width(unsigned char c)
{
	if (c == '\n' || c == '\r' || c == '\t')
		return 2;
	return c < 0x20 || c == 0x7f ? 4 : 1;
}

void bm_escape_controls(char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n, out = 0, w;
	unsigned char c;

	if (!buf || cap == 0)
		return;
	/* The bytes that fit once escaped, then write them back to front:
	 * an escape is never shorter than its byte, so nothing unread is
	 * overwritten. */
	for (n = 0; buf[n]; n++) {
		w = shown_width((unsigned char)buf[n]);
		if (out + w > cap - 1)
			break;
		out += w;
	}
	buf[out] = '\0';
	while (n--) {
		c = (unsigned char)buf[n];
		w = shown_width(c);
		out -= w;
		if (w == 1) {
			buf[out] = (char)c;
			continue;
		}
		buf[out] = '\\';
		if (w == 2) {
			buf[out + 1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			continue;
		}
		buf[out + 1] = 'x';
		buf[out + 2] = hex[c >> 4];
		buf[out + 3] = hex[c & 15];
	}
}

void bm_redact_register(const char *secret)
{
	char **grown;
	size_t i;

	if (!secret || !*secret)
		return;
	pthread_mutex_lock(&log_lock);
	for (i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], secret) == 0)
			goto out;
	/* Grows without bound rather than silently forgetting a secret. */
	grown = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	if (!grown)
		goto out;
	secrets = grown;
	secrets[nsecrets] = strdup(secret);
	if (secrets[nsecrets])
		nsecrets++;
out:
	pthread_mutex_unlock(&log_lock);
}

/* Output buffer of the redaction pass; stops quietly when full. */
struct redact_out {
	char *buf;
	size_t len, cap;
};

static void out_put(struct redact_out *o, const char *s, size_t n)
{
	if (o->len + 1 >= o->cap)
		return;
	if (n > o->cap - 1 - o->len)
		n = o->cap - 1 - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Where a query value ends: the next separator of a URL or of prose, or
 * an encoded '&' ("%26") when the URL is itself encoded. */
static size_t value_len(const char *s, bool encoded)
{
	size_t n = strcspn(s, "& \t\r\n\"'<>;,)"), i;

	for (i = 0; encoded && i < n; i++)
		if (strncasecmp(s + i, "%26", 3) == 0)
			return i;
	return n;
}

/* Length of the registered secret at s, longest first, or 0. */
static size_t secret_at(const char *s)
{
	size_t i, n, best = 0;

	for (i = 0; i < nsecrets; i++) {
		n = strlen(secrets[i]);
		if (n > best && strncmp(s, secrets[i], n) == 0)
			best = n;
	}
	return best;
}

/*
 * If s starts a "SharedKey[Lite] ACCOUNT:SIG" credential, the length of its
 * prefix up to and including ':' in *keep and of the whole in the result.
 */
static size_t sharedkey_at(const char *s, size_t *keep)
{
	size_t n;

	if (strncasecmp(s, "SharedKeyLite ", 14) == 0)
		n = 14;
	else if (strncasecmp(s, "SharedKey ", 10) == 0)
		n = 10;
	else
		return 0;
	while (s[n] == ' ')
		n++;
	while (is_word_char(s[n]))
		n++;
	if (s[n] != ':')
		return 0;
	*keep = ++n;
	while (s[n] && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			      "vwxyz0123456789+/=%",
			      s[n]))
		n++;
	return n;
}

/* Length of a JWT at s (an Entra ID access token, a client assertion or a
 * federated token: "eyJ" + base64url, two dots), or 0. */
static size_t jwt_at(const char *s)
{
	size_t n = 0, dots = 0;

	if (strncmp(s, "eyJ", 3) != 0)
		return 0;
	while (is_word_char(s[n]) || s[n] == '.') {
		if (s[n] == '.')
			dots++;
		n++;
	}
	return dots == 2 ? n : 0;
}

/* The OAuth form fields that carry a secret ("client_secret=...",
 * "client_assertion=...", "access_token=..."): the prefix length, or 0. */
static size_t oauth_field_at(const char *s)
{
	static const char *const fields[] = {
	    "client_secret=", "client_assertion=", "access_token="};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strncasecmp(s, fields[i], strlen(fields[i])) == 0)
			return strlen(fields[i]);
	return 0;
}

void bm_redact(char *buf, size_t cap)
{
	struct redact_out o;
	const char *s;
	size_t n, keep;
	bool changed = false;

	if (!buf || cap == 0)
		return;
	o.cap = cap;
	o.len = 0;
	o.buf = malloc(cap);
	if (!o.buf) {
		/* Cannot prove the line clean: drop it. */
		snprintf(buf, cap, "%s", REDACTED);
		return;
	}
	pthread_mutex_lock(&log_lock);
	for (s = buf; *s;) {
		bool boundary = s == buf || !is_word_char(s[-1]);

		if ((n = secret_at(s)) > 0) {
			out_put(&o, REDACTED, strlen(REDACTED));
			s += n;
			changed = true;
		} else if ((boundary && strncasecmp(s, "sig=", 4) == 0) ||
			   ((boundary || (s - buf >= 3 && s[-3] == '%')) &&
			    strncasecmp(s, "sig%3d", 6) == 0)) {
			keep = s[3] == '=' ? 4 : 6;
			out_put(&o, s, keep);
			n = value_len(s + keep, keep == 6);
			if (n > 0) {
				out_put(&o, REDACTED, strlen(REDACTED));
				changed = true;
			}
			s += keep + n;
		} else if (strncasecmp(s, "authorization:", 14) == 0) {
			/* The whole header value, to the end of the line; also
			 * Proxy-Authorization and
			 * x-ms-copy-source-authorization. */
			out_put(&o, s, 14);
			out_put(&o, " " REDACTED, strlen(REDACTED) + 1);
			s += 14;
			s += strcspn(s, "\r\n");
			changed = true;
		} else if (boundary && (n = jwt_at(s)) > 0) {
			out_put(&o, REDACTED, strlen(REDACTED));
			s += n;
			changed = true;
		} else if (boundary && strncasecmp(s, "bearer ", 7) == 0 &&
			   s[7] && s[7] != ' ') {
			out_put(&o, s, 7);
			out_put(&o, REDACTED, strlen(REDACTED));
			s += 7;
			s += strcspn(s, " \t\r\n\"',;");
			changed = true;
		} else if (boundary && (keep = oauth_field_at(s)) > 0) {
			out_put(&o, s, keep);
			n = value_len(s + keep, false);
			if (n > 0) {
				out_put(&o, REDACTED, strlen(REDACTED));
				changed = true;
			}
			s += keep + n;
		} else if (boundary && (n = sharedkey_at(s, &keep)) > 0) {
			out_put(&o, s, keep);
			out_put(&o, REDACTED, strlen(REDACTED));
			s += n;
			changed = true;
		} else {
			out_put(&o, s, 1);
			s++;
		}
	}
	pthread_mutex_unlock(&log_lock);
	if (changed) {
		o.buf[o.len] = '\0';
		memcpy(buf, o.buf, o.len + 1);
	}
	free(o.buf);
}

/*
 * term_out: the one-line messages of the `blobmill` command on stderr
 * ("blobmill: ..."), the reports of a failed operation, and names printed
 * so that a line shows exactly the bytes or says it is quoted.
 *
 * Does not: decide exit codes or parse options (cli/), or draw the
 * progress line (term_progress.c).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bm_log.h"
#include "term.h"

void term_errorf(const char *fmt, ...)
{
	char line[4096]; /* room for a 1,024-character blob name, quoted */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One line whatever the caller formatted into it (a hostile blob
	 * name may hold a newline or ESC), and never a secret. */
	bm_redact(line, sizeof(line));
	bm_escape_controls(line, sizeof(line));
	fprintf(stderr, "blobmill: %s\n", line);
}

void term_report_container(const char *what, const char *container,
			   const struct bm_error *err)
{
	if (err->code != BM_ERR_NO_CONTAINER) {
		term_report(what, err);
		return;
	}
	char detail[96] = "";

	if (err->http_status)
		snprintf(detail, sizeof(detail), " (%ld%s%s)", err->http_status,
			 err->azure_code[0] ? " " : "", err->azure_code);
	term_errorf("%s: container '%s' not found%s: create it with "
		    "'blobmill mb %s'",
		    what, container, detail, container);
}

/*
 * One line: WHAT, then the cause. The client's messages already carry their
 * own context ("cannot list 'data': ..."); when it is the same as WHAT it is
 * not repeated. HTTP failures read as "CATEGORY (STATUS AZURE-CODE)", so
 * the failures users meet most read differently at a glance:
 *   authentication failed (403 AuthenticationFailed): check the ...
 *   container not found (404 ContainerNotFound)
 *   endpoint unreachable: cannot connect to '127.0.0.1:1': connection refused
 * For other statuses bm_http's text from the category on (it adds the
 * service's own first line) is kept: it is the only explanation there is.
 */
void term_report(const char *what, const struct bm_error *err)
{
	const char *cat = bm_errc_str(err->code);
	const char *msg = err->msg, *from_cat;
	size_t wlen = strlen(what);
	char detail[96] = "";

	if (!strncmp(msg, what, wlen) && !strncmp(msg + wlen, ": ", 2))
		msg += wlen + 2;
	from_cat = strstr(msg, cat);
	if (err->http_status) {
		snprintf(detail, sizeof(detail), " (%ld%s%s)", err->http_status,
			 err->azure_code[0] ? " " : "", err->azure_code);
		if (err->code == BM_ERR_AUTH && strstr(msg, "Entra ID token"))
			term_errorf("%s: %s", what, from_cat ? from_cat : msg);
		else if (err->code == BM_ERR_AUTH)
			term_errorf("%s: %s%s: check the account key or SAS "
				    "token",
				    what, cat, detail);
		else if (err->code == BM_ERR_NOT_FOUND ||
			 err->code == BM_ERR_NO_CONTAINER ||
			 err->code == BM_ERR_EXISTS)
			term_errorf("%s: %s%s", what, cat, detail);
		else if (from_cat)
			term_errorf("%s: %s", what, from_cat);
		else if (*msg)
			term_errorf("%s: %s%s: %s", what, cat, detail, msg);
		else
			term_errorf("%s: %s%s", what, cat, detail);
	} else if (!*msg) {
		term_errorf("%s: %s", what, cat);
	} else if ((err->code == BM_ERR_NETWORK ||
		    err->code == BM_ERR_TIMEOUT) &&
		   msg != from_cat) {
		/* Transport failures get their category first so that
		 * "endpoint unreachable" and "timed out" read apart. */
		term_errorf("%s: %s: %s", what, cat, msg);
	} else {
		term_errorf("%s: %s", what, msg);
	}
}

/* A name that cannot stand on a line by itself byte for byte. */
static bool needs_quoting(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (*p == '"')
		return true;
	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* git's quoting (quote_c_style): "...", with \" \\ \n \r \t, and three
 * octal digits for any other control byte. */
static void print_quoted(FILE *out, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	putc('"', out);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\%03o", *p);
			else
				putc(*p, out);
		}
	}
	putc('"', out);
}

void term_print_name(FILE *out, const char *name)
{
	if (needs_quoting(name))
		print_quoted(out, name);
	else
		fputs(name, out);
}

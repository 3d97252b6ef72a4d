/*
 * bm_url: percent-encoding for Blob REST URLs. Every byte that is not an
 * RFC 3986 unreserved character (A-Z a-z 0-9 - . _ ~) is encoded as %XX,
 * except '/' in blob paths, which is kept so that virtual directories stay
 * readable in logs. Works for any name Azure allows (1..1024 characters,
 * any Unicode, given as UTF-8 bytes). Returned strings are malloc()ed:
 * the caller frees them. NULL only on allocation failure.
 */
#ifndef BM_URL_H
#define BM_URL_H

#include <stddef.h>

/* Encodes a blob name for the path part: '/' is kept; the dots of a "."
 * or ".." segment are encoded (%2E) so that no client or proxy removes
 * them as dot segments. */
char *bm_url_encode_path(const char *name);

/* Encodes a query parameter value: '/' is encoded too. */
char *bm_url_encode_component(const char *value);

/* Decodes %XX (and nothing else; '+' stays '+'). Returns NULL on a malformed
 * escape or allocation failure. */
char *bm_url_decode(const char *s);

/* ENDPOINT/CONTAINER[/ENCODED-NAME][?QUERY]; name and query may be NULL.
 * query is appended as given (already encoded). */
char *bm_blob_url(const char *endpoint, const char *container, const char *name,
		  const char *query);

#endif

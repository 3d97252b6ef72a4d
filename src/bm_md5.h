/*
 * bm_md5: the Content-MD5 of an upload's body. Put Blob and Put Block
 * send it so the service checks what arrived against what was meant and
 * refuses a body damaged on the way (400 Md5Mismatch, which bm_http
 * retries: the body is read again from its source).
 */
#ifndef BM_MD5_H
#define BM_MD5_H

#include "bm_error.h"
#include "bm_http.h"

/* Base64 of an MD5 digest and its NUL. */
#define BM_MD5_B64_SIZE 25

/* base64(MD5(body)) into out: the bytes of body->buf, or body->len bytes
 * of body->fd from body->offset (read with pread, so the fd's offset is
 * untouched). 0, or -1 with err set (the fd could not be read whole). */
int bm_md5_body(const struct bm_body *body, char out[BM_MD5_B64_SIZE],
		struct bm_error *err);

#endif

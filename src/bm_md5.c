/*
 * bm_md5: the Content-MD5 of an upload's body (see bm_md5.h).
 * A body that lives in a file is read twice, once here and once by the
 * HTTP layer as it sends: both reads come from the page cache, and no
 * block is held in memory for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bm_auth.h"
#include "bm_md5.h"

/* Small: as many bodies are hashed at once as blocks are in flight
 * (--max-concurrency per writer closing, and the write-behind pool), and
 * each holds one chunk; 64 KiB reads from the page cache cost no speed. */
#define READ_CHUNK ((size_t)64 << 10)

#define SHORT_FILE (-1) /* the file ended before len bytes */

/* Feeds len bytes of fd from off to ctx. 0, an errno, or SHORT_FILE. */
static int digest_fd(EVP_MD_CTX *ctx, int fd, uint64_t off, uint64_t len)
{
	unsigned char *buf = malloc(READ_CHUNK);
	int e = 0;

	if (!buf)
		return ENOMEM;
	while (len > 0 && !e) {
		size_t want = len < READ_CHUNK ? (size_t)len : READ_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : SHORT_FILE;
			break;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			e = ENOMEM;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(buf);
	return e;
}

int bm_md5_body(const struct bm_body *body, char out[BM_MD5_B64_SIZE],
		struct bm_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char *b64 = NULL;
	int e = ENOMEM;

	if (ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1) {
		if (body->buf)
			e = EVP_DigestUpdate(ctx, body->buf, body->len) == 1
				? 0
				: ENOMEM;
		else
			e = digest_fd(ctx, body->fd, body->offset, body->len);
	}
	if (!e && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
		b64 = bm_base64_encode(md, mdlen);
	EVP_MD_CTX_free(ctx);
	if (!e && (!b64 || strlen(b64) >= BM_MD5_B64_SIZE))
		e = ENOMEM;
	if (e) {
		free(b64);
		if (e == ENOMEM)
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		else if (e == SHORT_FILE)
			bm_error_set(err, BM_ERR_IO,
				     "cannot read the data to upload: the file "
				     "became shorter while it was sent");
		else
			bm_error_set(err, BM_ERR_IO,
				     "cannot read the data to upload: %s",
				     strerror(e));
		return -1;
	}
	strcpy(out, b64);
	free(b64);
	return 0;
}

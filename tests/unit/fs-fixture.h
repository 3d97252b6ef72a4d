/*
 * fs-fixture.h: what the filesystem-logic tests (test-fs-read, test-fs-write,
 * test-fs-ns) share: a bmfs mounted without FUSE on the in-memory blob
 * service, with a stepped clock for the attr/entry/negative timeouts, and
 * helpers that put, get and count blobs and the service's requests.
 */
#ifndef BM_FS_FIXTURE_H
#define BM_FS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "bm_blob.h"
#include "bmfs.h"
#include "bmfs_int.h"

#define CONTAINER "data"

struct env {
	struct bm_blob_client *c; /* owned by fs */
	struct bmfs *fs;
	struct bmfs_options o;
	char tmp[64];
	double now;
};

/* cmocka setup/teardown: a service with CONTAINER, options for a 1 MiB
 * block size and 4 uploads at once, a tmp-path; the test mounts. */
int setup(void **state);
int teardown(void **state);

/* Mounts e->o on e's service (or on c, sharing it: a wrapped service). */
void env_mount(struct env *e);
void env_mount_client(struct env *e, struct bm_blob_client *c);

/* Puts a blob (a blobfuse directory marker if marker). */
void put_blob(struct bm_blob_client *c, const char *name, const void *data,
	      size_t len, bool marker);
/* The blob's content (malloc()ed, NUL-terminated), or NULL if absent. */
char *get_blob(struct bm_blob_client *c, const char *name, size_t *len);
/* Compares the blob with want (len bytes). */
void assert_blob(struct env *e, const char *name, const char *want, size_t len);

/* The service's requests of one kind, and the bytes it sent. */
uint64_t count(struct env *e, enum bm_op op);
uint64_t received(struct env *e);

/* len pseudo-random bytes from seed (malloc()ed). */
char *pattern(size_t len, unsigned seed);

/* What bmfs_readdir gave: names and modes (fill is its callback). */
struct names {
	char v[64][64];
	mode_t mode[64];
	int n;
};
int fill(void *ud, const char *name, const struct stat *st);
int find_name(const struct names *n, const char *name);

/* The files in dir whose names end in suffix (the upload records). */
int count_files(const char *dir, const char *suffix);

#endif

/*
 * fs-fixture.c: the filesystem tests' shared fixture (see fs-fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <unistd.h>

#include "fs-fixture.h"

static double test_clock(void *ud)
{
	return ((struct env *)ud)->now;
}

void put_blob(struct bm_blob_client *c, const char *name, const void *data,
	      size_t len, bool marker)
{
	static const struct bm_metadata md[] = {{"hdi_isfolder", "true"}};
	struct bm_put_opts po = {0};
	struct bm_body body = {.buf = data, .len = len};
	struct bm_error err = {0};

	if (marker) {
		po.metadata = md;
		po.nmetadata = 1;
	}
	assert_int_equal(c->ops->put(c, CONTAINER, name, len ? &body : NULL,
				     &po, NULL, &err),
			 0);
}

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_sink(const void *data, size_t len, void *ud)
{
	struct buf *b = ud;

	/* Doubling: a 40 MiB blob in 64 KiB chunks is not 640 copies of
	 * the whole (which under ASan took minutes). */
	if (b->n + len + 1 > b->cap) {
		b->cap = (b->n + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
	b->p[b->n] = '\0';
	return 0;
}

char *get_blob(struct bm_blob_client *c, const char *name, size_t *len)
{
	struct buf b = {calloc(1, 1), 0, 1};
	struct bm_get_opts o = {0};
	struct bm_error err = {0};

	if (c->ops->get(c, CONTAINER, name, &o, buf_sink, &b, NULL, &err)) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.n;
	return b.p;
}

uint64_t count(struct env *e, enum bm_op op)
{
	struct bm_http_stats s;

	e->c->ops->get_stats(e->c, &s);
	return s.requests[op];
}

uint64_t received(struct env *e)
{
	struct bm_http_stats s;

	e->c->ops->get_stats(e->c, &s);
	return s.bytes_received;
}

void env_mount_client(struct env *e, struct bm_blob_client *c)
{
	struct bm_error err = {0};

	e->fs = bmfs_new(c, CONTAINER, &e->o, &err);
	assert_non_null(e->fs);
	e->fs->clock = test_clock;
	e->fs->clock_ud = e;
	e->fs->client_borrowed = true; /* a "restart" reuses the service */
	assert_int_equal(bmfs_start(e->fs), 0);
}

void env_mount(struct env *e)
{
	env_mount_client(e, e->c);
}

int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct bm_error err = {0};

	snprintf(e->tmp, sizeof(e->tmp), "/tmp/test-fs.XXXXXX");
	assert_non_null(mkdtemp(e->tmp));
	bmfs_options_init(&e->o);
	e->o.tmp_path = strdup(e->tmp);
	e->o.attr_timeout = 240;
	e->o.entry_timeout = 240;
	e->o.negative_timeout = 120;
	e->o.block_size_mb = 1;
	e->o.max_concurrency = 4;
	e->now = 1000.0;
	e->c = bm_blob_client_new_memory();
	assert_int_equal(e->c->ops->create_container(e->c, CONTAINER, &err), 0);
	*state = e;
	return 0;
}

int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	bmfs_free(e->fs);
	bm_blob_client_free(e->c);
	bmfs_options_release(&e->o);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->tmp);
	assert_int_equal(system(cmd), 0);
	free(e);
	return 0;
}

int fill(void *ud, const char *name, const struct stat *st)
{
	struct names *n = ud;

	assert_true(n->n < 64);
	snprintf(n->v[n->n], sizeof(n->v[0]), "%s", name);
	n->mode[n->n++] = st->st_mode;
	return 0;
}

int find_name(const struct names *n, const char *name)
{
	int i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i], name) == 0)
			return i;
	return -1;
}

char *pattern(size_t len, unsigned seed)
{
	char *p = malloc(len);
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
	return p;
}

/* Compares the blob with want (len bytes). */
void assert_blob(struct env *e, const char *name, const char *want, size_t len)
{
	size_t got_len = 0;
	char *got = get_blob(e->c, name, &got_len);

	assert_non_null(got);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, want, len);
	free(got);
}

int count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	size_t sl = strlen(suffix);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

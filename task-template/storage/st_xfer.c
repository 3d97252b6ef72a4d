/*
 * st_xfer: one blob up or down, for `get`, `put` and their -r forms.
 *
 *   - A download to a file goes through a temporary in the file's
 *     directory, renamed into place only when the whole blob has arrived
 *     and been synced: a failed get never leaves a partial FILE. The file
 *     gets the blob's Last-Modified as its mtime, so get -r can tell a
 *     complete file from one to fetch again. SIGINT, SIGTERM and SIGHUP
 *     remove the temporaries in flight before they end the process
 *     (struct st_temps).
 *   - An upload of a regular file uses bm_blob_upload_fd (Put Blob when it
 *     fits in one block, else parallel Put Block + Put Block List); a pipe
 *     is read one block at a time by up to --max-concurrency workers, so
 *     memory is bounded by concurrency x block size.
 * Every failure is one line naming the blob or file and the cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bm_log.h"
#include "storage.h"

/* --- get --- */

struct get_sink {
	int fd;
	uint64_t written;
	int write_errno;
	struct term_progress *progress;
};

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int get_write(const void *data, size_t len, void *ud)
{
	struct get_sink *s = ud;

	if (write_all(s->fd, data, len)) {
		s->write_errno = errno;
		return 1;
	}
	s->written += len;
	if (s->progress)
		term_progress_add(s->progress, len);
	return 0;
}

/* A temporary beside dest (same filesystem, so rename is atomic).
 * Returns the fd and the malloc()ed path in *tmp_path (caller frees). */
static int make_temp(const char *dest, char **tmp_path)
{
	const char *slash = strrchr(dest, '/');
	int dirlen = slash ? (int)(slash - dest) + 1 : 0;
	mode_t mask;
	int fd;

	if (asprintf(tmp_path, "%.*s.blobmill-get-XXXXXX", dirlen, dest) < 0) {
		*tmp_path = NULL;
		errno = ENOMEM;
		return -1;
	}
	fd = mkstemp(*tmp_path);
	if (fd < 0) {
		free(*tmp_path);
		*tmp_path = NULL;
		return -1;
	}
	/* mkstemp makes 0600; give the file the mode a plain create would. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask)) {
		int e = errno;

		close(fd);
		unlink(*tmp_path);
		free(*tmp_path);
		*tmp_path = NULL;
		errno = e;
		return -1;
	}
	return fd;
}

/* --- the temporaries in flight --- */

static void *temps_wait(void *arg)
{
	struct st_temps *t = arg;
	sigset_t one;
	size_t i;
	int sig;

	if (sigwait(&t->set, &sig) || sig == SIGUSR1)
		return NULL;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < ST_TEMPS_MAX; i++)
		if (t->paths[i])
			unlink(t->paths[i]);
	/* Held: no transfer renames or registers a temporary now. */
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig); /* this thread alone has it unblocked: the process ends */
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void st_temps_start(struct st_temps *t)
{
	memset(t->paths, 0, sizeof(t->paths));
	t->running = false;
	pthread_mutex_init(&t->lock, NULL);
	sigemptyset(&t->set);
	sigaddset(&t->set, SIGINT);
	sigaddset(&t->set, SIGTERM);
	sigaddset(&t->set, SIGHUP);
	sigaddset(&t->set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &t->set, &t->old))
		return;
	if (pthread_create(&t->thread, NULL, temps_wait, t)) {
		pthread_sigmask(SIG_SETMASK, &t->old, NULL);
		return;
	}
	t->running = true;
}

/* Call once every temporary is renamed or removed. A signal that came in
 * meanwhile is delivered when the mask is restored. */
void st_temps_stop(struct st_temps *t)
{
	if (t->running) {
		pthread_kill(t->thread, SIGUSR1);
		pthread_join(t->thread, NULL);
		pthread_sigmask(SIG_SETMASK, &t->old, NULL);
		t->running = false;
	}
	pthread_mutex_destroy(&t->lock);
}

/* The slot of path, or -1 (no room: that temporary is not cleaned up on
 * a signal, as before there was a waiter). */
static int temps_add(struct st_temps *t, const char *path)
{
	int i, slot = -1;

	if (!t)
		return -1;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < ST_TEMPS_MAX && slot < 0; i++)
		if (!t->paths[i]) {
			t->paths[i] = path;
			slot = i;
		}
	pthread_mutex_unlock(&t->lock);
	return slot;
}

static void temps_remove(struct st_temps *t, int slot)
{
	if (!t || slot < 0)
		return;
	pthread_mutex_lock(&t->lock);
	t->paths[slot] = NULL;
	pthread_mutex_unlock(&t->lock);
}

/* Makes the temporary durable and moves it over dest. -1 with errno. */
static int commit_temp(int fd, const char *tmp_path, const char *dest)
{
	if (fsync(fd)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (close(fd))
		return -1;
	return rename(tmp_path, dest);
}

/* --- put --- */

/* Reads up to len bytes, fewer only at end of input. -1 with errno. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Uploading a stream (a pipe) in blocks. Workers take turns reading the
 * next whole block under the lock, so blocks get consecutive indexes in
 * input order, then upload their block outside the lock.
 */
struct stream_up {
	struct bm_blob_client *c;
	const char *container;
	const char *name;
	int fd;
	size_t block_size;
	/* Of this upload's block ids (bm_blob_block_id): fresh, so that a
	 * commit names no other writer's blocks. */
	char prefix[BM_BLOCK_PREFIX_SIZE];
	pthread_mutex_t lock; /* guards everything below */
	unsigned nblocks;     /* non-empty blocks read so far */
	bool done;	      /* end of input reached, or a failure */
	int read_errno;
	struct bm_error err; /* first upload failure */
};

static void stream_fail(struct stream_up *u, const struct bm_error *e)
{
	pthread_mutex_lock(&u->lock);
	if (u->err.code == BM_OK)
		u->err = *e;
	u->done = true;
	pthread_mutex_unlock(&u->lock);
}

/* Uploads block idx of n bytes from buf. */
static void stream_put_block(struct stream_up *u, unsigned idx, const char *buf,
			     size_t n)
{
	struct bm_body body = {.buf = buf, .len = n};
	struct bm_error e;
	char *id = bm_blob_block_id(u->prefix, idx);

	bm_error_clear(&e);
	if (!id)
		bm_error_set(&e, BM_ERR_NOMEM, "out of memory");
	else
		u->c->ops->put_block(u->c, u->container, u->name, id, &body,
				     &e);
	if (e.code != BM_OK)
		stream_fail(u, &e);
	free(id);
}

static void *stream_worker(void *arg)
{
	struct stream_up *u = arg;
	char *buf = malloc(u->block_size);
	struct bm_error e;

	if (!buf) {
		bm_error_clear(&e);
		bm_error_set(&e, BM_ERR_NOMEM, "out of memory");
		stream_fail(u, &e);
		return NULL;
	}
	for (;;) {
		unsigned idx;
		ssize_t n;

		pthread_mutex_lock(&u->lock);
		if (u->done) {
			pthread_mutex_unlock(&u->lock);
			break;
		}
		n = read_full(u->fd, buf, u->block_size);
		if (n < 0) {
			u->read_errno = errno;
			u->done = true;
		} else if ((size_t)n < u->block_size) {
			u->done = true;
		}
		idx = u->nblocks;
		if (n > 0)
			u->nblocks++;
		pthread_mutex_unlock(&u->lock);
		if (n <= 0)
			break;
		if (idx >= ST_MAX_BLOCKS) {
			bm_error_clear(&e);
			bm_error_set(&e, BM_ERR_TOO_LARGE,
				     "input exceeds %llu blocks of %zu MiB; "
				     "raise --block-size-mb",
				     ST_MAX_BLOCKS,
				     (size_t)(u->block_size / ST_MIB));
			stream_fail(u, &e);
			break;
		}
		stream_put_block(u, idx, buf, (size_t)n);
	}
	free(buf);
	return NULL;
}

static int commit_blocks(struct stream_up *u)
{
	char **ids = calloc(u->nblocks ? u->nblocks : 1, sizeof(*ids));
	unsigned i;
	int rc = -1;

	if (!ids)
		goto nomem;
	for (i = 0; i < u->nblocks; i++)
		if (!(ids[i] = bm_blob_block_id(u->prefix, i)))
			goto nomem;
	rc = u->c->ops->put_block_list(u->c, u->container, u->name,
				       (const char *const *)ids, u->nblocks,
				       NULL, NULL, &u->err);
	goto out;
nomem:
	bm_error_set(&u->err, BM_ERR_NOMEM, "out of memory");
out:
	if (ids)
		for (i = 0; i < u->nblocks; i++)
			free(ids[i]);
	free(ids);
	return rc;
}

/*
 * Uploads everything readable from fd. Input that fits in one block is one
 * Put Blob; longer input goes block by block with up to `parallel` blocks
 * in flight. -1 with err set, or *read_errno set for a local read error.
 */
static int upload_stream(struct bm_blob_client *c, const char *container,
			 const char *name, int fd, size_t block_size,
			 int parallel, int *read_errno, struct bm_error *err)
{
	struct stream_up u = {
	    .c = c,
	    .container = container,
	    .name = name,
	    .fd = fd,
	    .block_size = block_size,
	};
	pthread_t *threads = NULL;
	int i, started = 0, rc = -1;
	char *first = malloc(block_size);
	ssize_t n;

	if (!first || !(threads = calloc((size_t)parallel, sizeof(*threads)))) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	n = read_full(fd, first, block_size);
	if (n < 0) {
		*read_errno = errno;
		goto out;
	}
	if ((size_t)n < block_size) {
		struct bm_body body = {.buf = first, .len = (uint64_t)n};

		rc = c->ops->put(c, container, name, n ? &body : NULL, NULL,
				 NULL, err);
		goto out;
	}
	if (bm_blob_block_prefix(u.prefix, err) < 0)
		goto out;
	pthread_mutex_init(&u.lock, NULL);
	bm_error_clear(&u.err);
	u.nblocks = 1;
	for (i = 0; i < parallel; i++) {
		if (pthread_create(&threads[i], NULL, stream_worker, &u))
			break;
		started++;
	}
	/* This thread uploads block 0 while the workers read on. */
	if (started == 0) {
		bm_error_set(&u.err, BM_ERR_NOMEM, "cannot start a thread");
		u.done = true;
	} else {
		stream_put_block(&u, 0, first, block_size);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&u.lock);
	if (u.read_errno) {
		*read_errno = u.read_errno;
	} else if (u.err.code == BM_OK) {
		rc = commit_blocks(&u);
	}
	if (rc)
		*err = u.err;
out:
	free(first);
	free(threads);
	return rc;
}

/* Block size for a file of len bytes: the asked size, raised to stay
 * within the service's block count; 0 when even the largest is too small. */
static uint64_t file_block_size(uint64_t len, int block_size_mb)
{
	uint64_t bs = (uint64_t)block_size_mb * ST_MIB;
	uint64_t need = (len + ST_MAX_BLOCKS - 1) / ST_MAX_BLOCKS;

	if (need > bs)
		bs = (need + ST_MIB - 1) / ST_MIB * ST_MIB;
	return bs > (uint64_t)ST_BLOCK_MB_MAX * ST_MIB ? 0 : bs;
}

/* "cannot get 'c/name'", cut to fit (names may be 1,024 characters). */
static void what_blob(char *what, size_t cap, const char *verb,
		      const char *container, const char *name)
{
	snprintf(what, cap, "cannot %s '%s/%s'", verb, container, name);
}

/* Get Blob into sink, checking that every byte arrived. shown names the
 * destination in messages. 0, or -1 with the line printed. */
static int get_to_sink(const struct st_xfer *x, const char *container,
		       const char *name, struct get_sink *sink,
		       const char *shown, struct bm_blob_info *info)
{
	struct bm_blob_client *c = x->client;
	struct bm_get_opts go = {0};
	struct bm_error err;
	char what[1200];

	bm_error_clear(&err);
	if (c->ops->get(c, container, name, &go, get_write, sink, info, &err)) {
		if (sink->write_errno) {
			term_errorf("get: cannot write %s: %s", shown,
				    strerror(sink->write_errno));
		} else {
			what_blob(what, sizeof(what), "get", container, name);
			term_report_container(what, container, &err);
		}
		return -1;
	}
	if (info->size != sink->written) {
		term_errorf("get: '%s/%s': received %" PRIu64 " of %" PRIu64
			    " bytes",
			    container, name, sink->written, info->size);
		return -1;
	}
	return 0;
}

int st_get_stdout(const struct st_xfer *x, const char *container,
		  const char *name)
{
	struct get_sink sink = {.fd = STDOUT_FILENO, .progress = x->progress};
	struct bm_blob_info info = {0};

	return get_to_sink(x, container, name, &sink, "standard output", &info)
		   ? TERM_EXIT_FAILURE
		   : TERM_EXIT_OK;
}

int st_get_file(const struct st_xfer *x, const char *container,
		const char *name, const char *dest)
{
	struct get_sink sink = {.fd = -1, .progress = x->progress};
	struct bm_blob_info info = {0};
	struct timespec times[2];
	char *tmp_path = NULL, *shown = NULL;
	int slot = -1, rc = TERM_EXIT_FAILURE;

	sink.fd = make_temp(dest, &tmp_path);
	if (sink.fd < 0) {
		term_errorf("get: cannot create a file beside '%s': %s", dest,
			    strerror(errno));
		return TERM_EXIT_FAILURE;
	}
	slot = temps_add(x->temps, tmp_path);
	if (asprintf(&shown, "'%s'", dest) < 0) {
		shown = NULL;
		term_errorf("get: out of memory");
		goto out;
	}
	if (get_to_sink(x, container, name, &sink, shown, &info))
		goto out;
	/* The blob's time, so a later get -r knows this copy is whole. */
	times[0].tv_sec = times[1].tv_sec = info.mtime;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (info.mtime)
		futimens(sink.fd, times);
	if (commit_temp(sink.fd, tmp_path, dest)) {
		sink.fd = -1; /* commit_temp closed it */
		term_errorf("get: cannot write '%s': %s", dest,
			    strerror(errno));
		goto out;
	}
	sink.fd = -1;
	temps_remove(x->temps, slot);
	slot = -1;
	free(tmp_path);
	tmp_path = NULL;
	rc = TERM_EXIT_OK;
out:
	if (tmp_path) {
		if (sink.fd >= 0)
			close(sink.fd);
		unlink(tmp_path);
		temps_remove(x->temps, slot);
		free(tmp_path);
	}
	free(shown);
	return rc;
}

int st_put_fd(const struct st_xfer *x, int fd, const char *shown,
	      const char *container, const char *name)
{
	struct bm_blob_client *c = x->client;
	int read_errno = 0;
	struct bm_error err;
	struct stat st;
	char what[1200];

	if (fstat(fd, &st)) {
		term_errorf("put: cannot read '%s': %s", shown,
			    strerror(errno));
		return TERM_EXIT_FAILURE;
	}
	bm_error_clear(&err);
	/* A regular file read from its start goes through the shared upload
	 * path (pread, parallel blocks); anything else is a stream. */
	if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0) {
		uint64_t len = (uint64_t)st.st_size;
		uint64_t bs = file_block_size(len, x->block_size_mb);

		if (!bs) {
			term_errorf("put: '%s' is larger than a block blob can "
				    "be",
				    shown);
			return TERM_EXIT_FAILURE;
		}
		if (bm_blob_upload_fd(c, container, name, fd, len, bs, bs,
				      x->concurrency, NULL, NULL, &err) == 0)
			return TERM_EXIT_OK;
	} else if (upload_stream(c, container, name, fd,
				 (size_t)x->block_size_mb * ST_MIB,
				 x->concurrency, &read_errno, &err) == 0) {
		return TERM_EXIT_OK;
	}
	if (read_errno || err.code == BM_ERR_IO) {
		term_errorf("put: cannot read '%s': %s", shown,
			    read_errno ? strerror(read_errno) : err.msg);
	} else {
		what_blob(what, sizeof(what), "upload", container, name);
		term_report_container(what, container, &err);
	}
	return TERM_EXIT_FAILURE;
}

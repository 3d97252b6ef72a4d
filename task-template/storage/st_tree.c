/*
 * st_tree: the recursive storage commands, as azcopy and `az storage blob
 * upload-batch/download-batch` do them:
 *
 *   put -r DIR CONTAINER[/PREFIX]   every file under DIR becomes PREFIX/REL
 *   get -r CONTAINER[/PREFIX] DIR   every blob under PREFIX/ becomes DIR/REL
 *   rm -r CONTAINER[/PREFIX]        deletes every blob under PREFIX/
 *
 * PREFIX is a folder: "x" means the blobs under "x/" (never "xy"), and the
 * blobfuse folder marker "x" itself for rm.
 *
 * Both transfers are parallel (--max-concurrency files at once, each file
 * one at a time) and resumable: a rerun skips what is already complete.
 *   - get -r skips a local regular file with the blob's size and the blob's
 *     Last-Modified as its mtime (st_get_file gives every download that
 *     mtime); each file goes through its own temporary and rename, so an
 *     interrupted run leaves complete files and no partial one.
 *   - put -r lists PREFIX/ once and skips a file whose blob has its size
 *     and is not older than the file.
 * A name that cannot be represented on the other side (st_names.c) is
 * named with the reason and left out; every other file still goes; the
 * command then exits 1. Memory: the listing or the walk is held whole
 * (name, size, time per entry) so the progress line knows the total.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

/* One file or blob to transfer. */
struct tree_item {
	char *rel; /* below DIR and PREFIX/ */
	uint64_t size;
	time_t mtime;
	bool is_dir; /* a folder marker (get) */
};

struct tree_list {
	struct tree_item *v;
	size_t n, cap;
	uint64_t bytes;
	bool nomem;
};

static void tree_list_release(struct tree_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].rel);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void tree_list_add(struct tree_list *l, const char *rel, uint64_t size,
			  time_t mtime, bool is_dir)
{
	struct tree_item *grown;

	if (l->nomem)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		grown = realloc(l->v, cap * sizeof(*grown));
		if (!grown) {
			l->nomem = true;
			return;
		}
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n].rel = strdup(rel);
	if (!l->v[l->n].rel) {
		l->nomem = true;
		return;
	}
	l->v[l->n].size = size;
	l->v[l->n].mtime = mtime;
	l->v[l->n].is_dir = is_dir;
	l->bytes += size;
	l->n++;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tree_item *)a)->rel,
		      ((const struct tree_item *)b)->rel);
}

/* The item named rel in a sorted list, or NULL. */
static const struct tree_item *tree_find(const struct tree_list *l,
					 const char *rel)
{
	struct tree_item key = {.rel = (char *)rel};

	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), item_cmp) : NULL;
}

/* --- the worker pool --- */

struct tree_job {
	const struct st_args *a;
	struct st_xfer xfer;
	struct tree_list *items;
	char *container; /* owned (tree_close) */
	char *prefix;	 /* folder prefix, "" or ending in '/'; owned */
	const char *dir; /* the local directory */
	int (*one)(struct tree_job *j, const struct tree_item *it);

	pthread_mutex_t lock; /* guards next and the counters */
	size_t next;
	unsigned done, skipped, failed;
	uint64_t done_bytes;
};

static void *tree_worker(void *arg)
{
	struct tree_job *j = arg;

	for (;;) {
		const struct tree_item *it;
		int r;

		pthread_mutex_lock(&j->lock);
		it = j->next < j->items->n ? &j->items->v[j->next++] : NULL;
		pthread_mutex_unlock(&j->lock);
		if (!it)
			break;
		r = j->one(j, it);
		pthread_mutex_lock(&j->lock);
		if (r < 0) {
			j->failed++;
		} else if (r > 0) {
			j->skipped++;
		} else {
			j->done++;
			j->done_bytes += it->size;
		}
		pthread_mutex_unlock(&j->lock);
		term_progress_file_done(j->xfer.progress);
	}
	return NULL;
}

/* Runs j->one on every item with up to --max-concurrency threads. */
static void tree_run(struct tree_job *j)
{
	pthread_t threads[ST_CONCURRENCY_MAX];
	int i, started = 0;

	pthread_mutex_init(&j->lock, NULL);
	for (i = 0; i < j->a->concurrency && (size_t)i < j->items->n; i++) {
		if (pthread_create(&threads[i], NULL, tree_worker, j))
			break;
		started++;
	}
	if (started == 0)
		tree_worker(j); /* no thread to be had: this one does it all */
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&j->lock);
}

/* "put: 12 files uploaded (3.4 MiB), 2 already complete, 1 failed" */
static void tree_summary(const struct tree_job *j, const char *verb,
			 const char *done_word)
{
	char bytes[32];

	term_format_bytes(j->done_bytes, bytes, sizeof(bytes));
	fprintf(stderr,
		"%s: %u file%s %s (%s), %u already complete, %u failed\n", verb,
		j->done, j->done == 1 ? "" : "s", done_word, bytes, j->skipped,
		j->failed);
}

static uint64_t bytes_sent(void *ud)
{
	struct bm_blob_client *c = ud;
	struct bm_http_stats s;

	c->ops->get_stats(c, &s);
	return s.bytes_sent;
}

/* --- listing a folder --- */

struct list_into {
	struct tree_list *l;
	size_t skip; /* bytes of the prefix */
};

static int list_into_cb(const struct bm_blob_entry *e, void *ud)
{
	struct list_into *li = ud;
	const char *rel = e->name + li->skip;

	/* A marker named like the folder itself ("x/" under "x/"). */
	if (!*rel)
		return 0;
	tree_list_add(li->l, rel, e->size, e->mtime,
		      e->is_dir_marker || rel[strlen(rel) - 1] == '/');
	return li->l->nomem ? 1 : 0;
}

/* Every blob under prefix into l, sorted by name. Prints the error. */
static int list_folder(struct bm_blob_client *c, const char *verb,
		       const char *container, const char *prefix,
		       struct tree_list *l)
{
	struct bm_list_opts lo = {.prefix = prefix, .include_metadata = true};
	struct list_into li = {.l = l, .skip = strlen(prefix)};
	struct bm_error err;
	char what[1200];

	bm_error_clear(&err);
	if (bm_blob_list_all(c, container, &lo, list_into_cb, &li, &err) ||
	    l->nomem) {
		if (l->nomem)
			bm_error_set(&err, BM_ERR_NOMEM, "out of memory");
		snprintf(what, sizeof(what), "%s: cannot list '%s/%s'", verb,
			 container, prefix);
		term_report_container(what, container, &err);
		return -1;
	}
	if (l->n) /* qsort of NULL, even of 0 items, is undefined */
		qsort(l->v, l->n, sizeof(*l->v), item_cmp);
	return 0;
}

/*
 * CONTAINER[/PREFIX] of a -r command: *container and the folder prefix
 * *folder (both malloc()ed; the caller frees them, also on failure), and
 * every blob under it into l. TERM_EXIT_OK, or the code with the line
 * printed.
 */
static int open_target(struct bm_blob_client *c, const char *verb,
		       const char *arg, char **container, char **folder,
		       struct tree_list *l)
{
	const char *prefix;

	*folder = NULL;
	if (st_split_target(verb, arg, false, container, &prefix))
		return TERM_EXIT_USAGE;
	if (!(*folder = st_folder_prefix(prefix))) {
		term_errorf("%s: out of memory", verb);
		return TERM_EXIT_FAILURE;
	}
	return list_folder(c, verb, *container, *folder, l) ? TERM_EXIT_FAILURE
							    : TERM_EXIT_OK;
}

/* The start get -r, put -r and rm -r share: j cleared, then TARGET
 * (CONTAINER[/FOLDER]) split and listed into *listed, with j's command
 * line, client, container and folder prefix set. TERM_EXIT_OK, or the exit
 * code after a message; tree_close either way. */
static int tree_open(struct tree_job *j, struct bm_blob_client *c,
		     const struct st_args *a, const char *verb,
		     const char *target, struct tree_list *listed)
{
	memset(j, 0, sizeof(*j));
	j->a = a;
	j->xfer.client = c;
	return open_target(c, verb, target, &j->container, &j->prefix, listed);
}

static void tree_close(struct tree_job *j, struct tree_list *items)
{
	tree_list_release(items);
	free(j->prefix);
	free(j->container);
}

/* --- get -r --- */

/* mkdir -p of path's parent directories (path itself excluded).
 * -1 with errno. */
static int make_parents(char *path)
{
	char *p;

	for (p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0777) && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int get_one(struct tree_job *j, const struct tree_item *it)
{
	const char *problem = st_local_problem(it->rel);
	char *dest = NULL, *name = NULL;
	struct stat st;
	int rc = -1;

	if (problem) {
		term_errorf("get: cannot save '%s/%s%s' under '%s': %s",
			    j->container, j->prefix, it->rel, j->dir, problem);
		return -1;
	}
	if (asprintf(&dest, "%s/%s", j->dir, it->rel) < 0 ||
	    asprintf(&name, "%s%s", j->prefix, it->rel) < 0) {
		term_errorf("get: out of memory");
		goto out;
	}
	if (make_parents(dest)) {
		term_errorf("get: cannot create the folders of '%s': %s", dest,
			    strerror(errno));
		goto out;
	}
	if (it->is_dir) {
		size_t n = strlen(dest);

		if (dest[n - 1] == '/')
			dest[n - 1] = '\0';
		if (mkdir(dest, 0777) && errno != EEXIST) {
			term_errorf("get: cannot create folder '%s': %s", dest,
				    strerror(errno));
			goto out;
		}
		rc = 1;
		goto out;
	}
	/* Complete already: same size, and the blob's time, which only a
	 * finished download gives the file. */
	if (lstat(dest, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == it->size && st.st_mtime == it->mtime) {
		term_progress_add(j->xfer.progress, it->size);
		rc = 1;
		goto out;
	}
	rc = st_get_file(&j->xfer, j->container, name, dest) == TERM_EXIT_OK
		 ? 0
		 : -1;
out:
	free(dest);
	free(name);
	return rc;
}

int st_get_tree(struct bm_blob_client *c, const struct st_args *a)
{
	struct tree_list items = {0};
	struct term_progress progress;
	struct st_temps temps;
	struct tree_job j;
	const char *dir = a->argv[1];
	struct stat st;
	int rc;

	if (!strcmp(dir, "-")) {
		term_errorf("get: -r needs a directory, not standard output");
		return TERM_EXIT_USAGE;
	}
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		term_errorf("get: cannot use '%s' as the target folder: not a "
			    "directory",
			    dir);
		return TERM_EXIT_USAGE;
	}
	rc = tree_open(&j, c, a, "get", a->argv[0], &items);
	if (rc)
		goto out;
	rc = TERM_EXIT_FAILURE;
	if (items.n == 0) {
		term_errorf("get: no blobs under '%s/%s'", j.container,
			    j.prefix);
		goto out;
	}
	if (mkdir(dir, 0777) && errno != EEXIST) {
		term_errorf("get: cannot create '%s': %s", dir,
			    strerror(errno));
		goto out;
	}
	j.items = &items;
	j.dir = dir;
	j.one = get_one;
	j.xfer = (struct st_xfer){.client = c,
				  .temps = &temps,
				  .progress = &progress,
				  .block_size_mb = a->block_size_mb,
				  .concurrency = 1};
	st_temps_start(&temps);
	term_progress_start(&progress, term_progress_wanted(a->no_progress),
			    "get", items.bytes, (unsigned)items.n);
	tree_run(&j);
	term_progress_stop(&progress);
	st_temps_stop(&temps);
	tree_summary(&j, "get", "downloaded");
	rc = j.failed ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
out:
	tree_close(&j, &items);
	return rc;
}

/* --- put -r --- */

struct walk {
	struct tree_list *l;
	const char *root;
	const char *prefix;
	unsigned refused;
};

/* Adds every file under root/rel (rel "" for root itself). Problems are
 * named one line each; the walk goes on. -1 only when out of memory. */
static int walk_dir(struct walk *w, const char *rel)
{
	char *path = NULL;
	DIR *d;
	struct dirent *de;
	unsigned children = 0;
	int rc = 0;

	if (asprintf(&path, "%s%s%s", w->root, *rel ? "/" : "", rel) < 0)
		return -1;
	d = opendir(path);
	if (!d) {
		term_errorf("put: cannot read folder '%s': %s", path,
			    strerror(errno));
		w->refused++;
		free(path);
		return 0;
	}
	while (rc == 0 && (de = readdir(d))) {
		char *child = NULL, *full = NULL;
		const char *problem;
		struct stat st, lst;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		children++;
		if (asprintf(&child, "%s%s%s", rel, *rel ? "/" : "",
			     de->d_name) < 0 ||
		    asprintf(&full, "%s/%s", path, de->d_name) < 0) {
			free(child);
			rc = -1;
			break;
		}
		if (lstat(full, &lst) || stat(full, &st)) {
			term_errorf("put: cannot read '%s': %s", full,
				    strerror(errno));
			w->refused++;
		} else if (S_ISDIR(st.st_mode) && S_ISLNK(lst.st_mode)) {
			/* Followed, a link to a folder may loop. */
			term_errorf("put: not following '%s': a symbolic link "
				    "to a folder",
				    full);
			w->refused++;
		} else if (S_ISDIR(st.st_mode)) {
			rc = walk_dir(w, child);
		} else if (!S_ISREG(st.st_mode)) {
			term_errorf(
			    "put: cannot upload '%s': not a regular file",
			    full);
			w->refused++;
		} else if ((problem = st_blob_problem(w->prefix, child))) {
			term_errorf("put: cannot upload '%s': %s", full,
				    problem);
			w->refused++;
		} else {
			tree_list_add(w->l, child, (uint64_t)st.st_size,
				      st.st_mtime, false);
			if (w->l->nomem)
				rc = -1;
		}
		free(child);
		free(full);
	}
	closedir(d);
	/* An empty folder has no blob to carry it: it becomes blobfuse's
	 * folder marker, so mounts and get -r show it too. */
	if (rc == 0 && children == 0 && *rel) {
		tree_list_add(w->l, rel, 0, 0, true);
		if (w->l->nomem)
			rc = -1;
	}
	free(path);
	return rc;
}

struct put_job {
	struct tree_job j;
	struct tree_list remote; /* what PREFIX/ holds, sorted */
};

/* blobfuse's marker of an empty folder: a 0-byte blob named like the
 * folder, with metadata hdi_isfolder=true. */
static int put_marker(struct tree_job *j, const struct tree_item *it)
{
	static const struct bm_metadata folder = {"hdi_isfolder", "true"};
	struct bm_put_opts po = {.metadata = &folder, .nmetadata = 1};
	struct bm_blob_client *c = j->xfer.client;
	struct bm_error err;
	char *name = NULL;
	char what[1200];
	int rc = 0;

	if (asprintf(&name, "%s%s", j->prefix, it->rel) < 0) {
		term_errorf("put: out of memory");
		return -1;
	}
	bm_error_clear(&err);
	if (c->ops->put(c, j->container, name, NULL, &po, NULL, &err)) {
		snprintf(what, sizeof(what), "cannot create folder '%s/%s'",
			 j->container, name);
		term_report_container(what, j->container, &err);
		rc = -1;
	}
	free(name);
	return rc;
}

static int put_one(struct tree_job *j, const struct tree_item *it)
{
	const struct tree_item *have =
	    tree_find(&((struct put_job *)j)->remote, it->rel);
	char *path = NULL, *name = NULL;
	int fd = -1, rc = -1;

	/* Complete already: the same size, and not older than the file. */
	if (have && !have->is_dir && have->size == it->size &&
	    have->mtime >= it->mtime)
		return 1;
	if (it->is_dir)
		return have && have->is_dir ? 1 : put_marker(j, it);
	if (asprintf(&path, "%s/%s", j->dir, it->rel) < 0 ||
	    asprintf(&name, "%s%s", j->prefix, it->rel) < 0) {
		term_errorf("put: out of memory");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		term_errorf("put: cannot open '%s': %s", path, strerror(errno));
		goto out;
	}
	rc = st_put_fd(&j->xfer, fd, path, j->container, name) == TERM_EXIT_OK
		 ? 0
		 : -1;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(name);
	return rc;
}

int st_put_tree(struct bm_blob_client *c, const struct st_args *a)
{
	struct put_job pj;
	struct tree_job *j = &pj.j;
	struct tree_list items = {0};
	struct term_progress progress;
	struct walk w = {0};
	const char *dir = a->argv[0];
	char *root = NULL;
	struct stat st;
	size_t n;
	int rc;

	memset(&pj, 0, sizeof(pj));
	if (stat(dir, &st)) {
		term_errorf("put: cannot upload '%s': %s", dir,
			    strerror(errno));
		return TERM_EXIT_FAILURE;
	}
	if (!S_ISDIR(st.st_mode)) {
		term_errorf("put: cannot upload '%s' with -r: not a directory",
			    dir);
		return TERM_EXIT_USAGE;
	}
	rc = tree_open(j, c, a, "put", a->argv[1], &pj.remote);
	if (rc)
		goto out;
	rc = TERM_EXIT_FAILURE;
	/* "dir/" and "dir" are one folder; names never hold "dir//x". */
	root = strdup(dir);
	if (!root) {
		term_errorf("put: out of memory");
		goto out;
	}
	for (n = strlen(root); n > 1 && root[n - 1] == '/'; n--)
		root[n - 1] = '\0';
	w.l = &items;
	w.root = root;
	w.prefix = j->prefix;
	if (walk_dir(&w, "") < 0 || items.nomem) {
		term_errorf("put: out of memory");
		goto out;
	}
	if (items.n)
		qsort(items.v, items.n, sizeof(*items.v), item_cmp);
	j->items = &items;
	j->dir = root;
	j->one = put_one;
	/* Parallel across files; each file's blocks one at a time, so no
	 * more than --max-concurrency requests are in flight. */
	j->xfer = (struct st_xfer){.client = c,
				   .progress = &progress,
				   .block_size_mb = a->block_size_mb,
				   .concurrency = 1};
	term_progress_start(&progress, term_progress_wanted(a->no_progress),
			    "put", items.bytes, (unsigned)items.n);
	if (progress.running)
		term_progress_sample(&progress, bytes_sent, c);
	tree_run(j);
	term_progress_stop(&progress);
	j->failed += w.refused;
	tree_summary(j, "put", "uploaded");
	rc = j->failed ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
out:
	tree_close(j, &items);
	tree_list_release(&pj.remote);
	free(root);
	return rc;
}

/* --- rm -r --- */

static int rm_one(struct tree_job *j, const struct tree_item *it)
{
	struct bm_blob_client *c = j->xfer.client;
	struct bm_error err;
	char *name = NULL;
	char what[1200];
	int rc = -1;

	if (asprintf(&name, "%s%s", j->prefix, it->rel) < 0) {
		term_errorf("rm: out of memory");
		return -1;
	}
	bm_error_clear(&err);
	if (c->ops->remove(c, j->container, name, &err) == 0 ||
	    err.code == BM_ERR_NOT_FOUND) {
		rc = 0; /* gone either way */
	} else {
		snprintf(what, sizeof(what), "cannot delete '%s/%s'",
			 j->container, name);
		term_report(what, &err);
	}
	free(name);
	return rc;
}

int st_rm_tree(struct bm_blob_client *c, const struct st_args *a)
{
	struct tree_list items = {0};
	struct tree_job j;
	struct bm_blob_info info;
	struct bm_error err;
	char *container, *folder;
	unsigned marker = 0;
	int rc;

	rc = tree_open(&j, c, a, "rm", a->argv[0], &items);
	container = j.container;
	folder = j.prefix;
	if (rc)
		goto out;
	rc = TERM_EXIT_FAILURE;
	/* blobfuse's marker of the folder itself: the blob "x" beside
	 * "x/..." with hdi_isfolder=true. */
	if (*folder) {
		folder[strlen(folder) - 1] = '\0';
		bm_error_clear(&err);
		if (c->ops->head(c, container, folder, &info, &err) == 0 &&
		    info.is_dir_marker &&
		    c->ops->remove(c, container, folder, &err) == 0)
			marker = 1;
		strcat(folder, "/");
	}
	if (items.n == 0 && !marker) {
		term_errorf("rm: no blobs under '%s/%s'", container, folder);
		goto out;
	}
	j.items = &items;
	j.one = rm_one;
	tree_run(&j);
	printf("deleted %u blob%s under '%s/", j.done + marker,
	       j.done + marker == 1 ? "" : "s", container);
	term_print_name(stdout, folder);
	printf("'\n");
	if (j.failed)
		term_errorf("rm: %u blob%s not deleted", j.failed,
			    j.failed == 1 ? "" : "s");
	rc = j.failed ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
out:
	tree_close(&j, &items);
	return rc;
}

/*
 * cmd_storage: the storage commands `blobmill ls|get|put|rm|mb|rb`, a small
 * Blob client on libblobmill for scripts, the demo and the tests.
 *
 *   ls CONTAINER[/PREFIX] [-l] [--delimiter D] [--prefix P] [-0]
 *   get CONTAINER/NAME [FILE|-]      (default: stdout)
 *   put FILE|- CONTAINER/NAME
 *   rm CONTAINER/NAME...   mb CONTAINER...   rb CONTAINER...
 *
 * A blob is addressed as CONTAINER/NAME, split at the first '/' (container
 * names hold none). Every command shares one option table and one runner
 * (st_main): parse, check the arguments, open the client only when the
 * arguments are good, run, print --stats, free.
 *
 * Limits and contracts:
 *   - ls streams: one line per entry as each page is parsed; nothing is
 *     kept, so memory does not grow with the size of the container.
 *   - ls prints names byte for byte. A name that holds a control character
 *     (a newline, above all) or starts with '"' cannot be printed that way
 *     on a line of its own: it is printed C-quoted in double quotes, as git
 *     does. -0 prints every name raw and ends each entry with NUL instead.
 *   - get writes FILE through a temporary file in FILE's directory and
 *     renames it into place only when the whole blob has arrived and been
 *     synced: a failed get never leaves a partial FILE. SIGINT, SIGTERM
 *     and SIGHUP remove the temporary before they end the process.
 *   - put of a regular file uses bm_blob_upload_fd (Put Blob when it fits
 *     in one block, else parallel Put Block + Put Block List); a pipe is
 *     read one block at a time by up to --max-concurrency workers, so
 *     memory is bounded by concurrency x block size.
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

#include "bm_auth.h"
#include "bm_log.h"
#include "cli.h"

#define MIB (1024ULL * 1024)
#define ST_BLOCK_MB_DEFAULT 8
#define ST_BLOCK_MB_MAX 4000   /* Azure's largest Put Block */
#define ST_MAX_BLOCKS 50000ULL /* Azure's block count limit per blob */
#define ST_CONCURRENCY_DEFAULT 8
#define ST_CONCURRENCY_MAX 64

/* The command-specific options; values below CLI_OPT_CRED_FIRST. */
enum {
	OPT_LONG = 'l',
	OPT_NULL = '0',
	OPT_HELP = 'h',
	OPT_STATS = 0x100,
	OPT_DELIMITER,
	OPT_PREFIX,
	OPT_BLOCK_SIZE,
	OPT_CONCURRENCY,
};

/* Which of them a command accepts (credential options, --stats and --help
 * go with every command). */
enum {
	ST_ACCEPT_LIST = 1 << 0,   /* -l, -0, --delimiter, --prefix */
	ST_ACCEPT_UPLOAD = 1 << 1, /* --block-size-mb, --max-concurrency */
};

static const struct option st_longopts[] = {
    {"long", no_argument, NULL, OPT_LONG},
    {"null", no_argument, NULL, OPT_NULL},
    {"help", no_argument, NULL, OPT_HELP},
    {"stats", no_argument, NULL, OPT_STATS},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"block-size-mb", required_argument, NULL, OPT_BLOCK_SIZE},
    {"max-concurrency", required_argument, NULL, OPT_CONCURRENCY},
    CLI_CRED_LONGOPTS,
    {NULL, 0, NULL, 0},
};

struct st_args {
	struct cli_cred cred;
	bool stats;
	bool long_format;
	bool null_sep;
	const char *delimiter;
	const char *prefix;
	int block_size_mb;
	int concurrency;
	char **argv; /* the operands */
	int argc;
};

struct st_ctx {
	struct st_args a;
	/* opened by st_client, freed by st_main */
	struct bm_blob_client *client;
	/* errno of a failed stdout write, for run_builtin's message */
	int out_errno;
};

struct st_cmd {
	const char *name;
	const char *usage; /* synopsis and the command's own options */
	const char *notes; /* printed last by --help, or NULL */
	unsigned accept;
	int min_args;
	int max_args; /* -1: any number */
	int (*run)(struct st_ctx *ctx);
};

static struct bm_blob_client *st_client(struct st_ctx *ctx)
{
	if (!ctx->client)
		ctx->client = cli_open_client(&ctx->a.cred, NULL);
	return ctx->client;
}

static bool option_accepted(int opt, unsigned accept)
{
	switch (opt) {
	case OPT_LONG:
	case OPT_NULL:
	case OPT_DELIMITER:
	case OPT_PREFIX:
		return accept & ST_ACCEPT_LIST;
	case OPT_BLOCK_SIZE:
	case OPT_CONCURRENCY:
		return accept & ST_ACCEPT_UPLOAD;
	}
	return true;
}

/* 0: parsed; 1: --help printed; -1: usage error printed. */
static int st_parse(const struct st_cmd *cmd, int argc, char **argv,
		    struct st_args *a)
{
	const char *env = getenv("BLOBMILL_STATS");
	int opt;

	cli_cred_init(&a->cred);
	a->stats = env && !strcmp(env, "1");
	a->block_size_mb = ST_BLOCK_MB_DEFAULT;
	a->concurrency = ST_CONCURRENCY_DEFAULT;
	opterr = 0; /* our own one-line messages below */
	while ((opt = getopt_long(argc, argv, ":hl0", st_longopts, NULL)) !=
	       -1) {
		if (opt == '?' || opt == ':') {
			const char *bad = argv[optind - 1];
			char shortopt[3] = {'-', (char)optopt, 0};

			if (optopt && strncmp(bad, "--", 2))
				bad = shortopt;
			cli_errorf("%s: %s '%s'; see 'blobmill %s --help'",
				   cmd->name,
				   opt == ':' ? "missing value for option"
					      : "unknown option",
				   bad, cmd->name);
			return -1;
		}
		if (!option_accepted(opt, cmd->accept)) {
			cli_errorf("%s: option '%s' does not apply to this "
				   "command; see 'blobmill %s --help'",
				   cmd->name, argv[optind - 1], cmd->name);
			return -1;
		}
		if (opt >= CLI_OPT_CRED_FIRST && opt < CLI_OPT_CRED_LAST) {
			if (cli_cred_option(&a->cred, opt, optarg))
				return -1;
			continue;
		}
		switch (opt) {
		case OPT_HELP:
			printf("usage: blobmill %s\n", cmd->usage);
			printf("  --stats                print request "
			       "counters to stderr at exit\n"
			       "                         (also "
			       "BLOBMILL_STATS=1)\n");
			cli_cred_help(stdout);
			if (cmd->notes)
				printf("%s\n", cmd->notes);
			printf("exit status: 0 done, 1 the operation failed, "
			       "2 bad command line or configuration\n");
			return 1;
		case OPT_LONG:
			a->long_format = true;
			break;
		case OPT_NULL:
			a->null_sep = true;
			break;
		case OPT_STATS:
			a->stats = true;
			break;
		case OPT_DELIMITER:
			if (!*optarg) {
				cli_errorf("%s: --delimiter needs a value",
					   cmd->name);
				return -1;
			}
			a->delimiter = optarg;
			break;
		case OPT_PREFIX:
			a->prefix = optarg;
			break;
		case OPT_BLOCK_SIZE:
			if (cli_parse_int(cmd->name, "block-size-mb", optarg, 1,
					  ST_BLOCK_MB_MAX, &a->block_size_mb))
				return -1;
			break;
		case OPT_CONCURRENCY:
			if (cli_parse_int(cmd->name, "max-concurrency", optarg,
					  1, ST_CONCURRENCY_MAX,
					  &a->concurrency))
				return -1;
			break;
		}
	}
	a->argv = argv + optind;
	a->argc = argc - optind;
	if (a->argc < cmd->min_args ||
	    (cmd->max_args >= 0 && a->argc > cmd->max_args)) {
		cli_errorf(
		    "%s: wrong number of arguments; usage: blobmill %.*s",
		    cmd->name, (int)strcspn(cmd->usage, "\n"), cmd->usage);
		return -1;
	}
	return 0;
}

static int st_main(const struct st_cmd *cmd, int argc, char **argv)
{
	struct st_ctx ctx = {0};
	int rc;

	rc = st_parse(cmd, argc, argv, &ctx.a);
	if (rc)
		return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	rc = cmd->run(&ctx);
	if (ctx.client) {
		if (ctx.a.stats) {
			struct bm_http_stats s;
			char line[512];

			ctx.client->ops->get_stats(ctx.client, &s);
			bm_http_stats_format(&s, line, sizeof(line));
			fprintf(stderr, "blobmill: stats: %s\n", line);
		}
		bm_blob_client_free(ctx.client);
	}
	/* run_builtin reports a stdout write error with strerror(errno). */
	if (ctx.out_errno)
		errno = ctx.out_errno;
	return rc;
}

/*
 * Splits "CONTAINER/NAME" at the first '/'. *container is malloc()ed (the
 * caller frees it); *name points into arg ("" when there is no '/').
 * need_name: a missing or empty NAME is an error. Prints the error.
 */
static int split_target(const char *cmd, const char *arg, bool need_name,
			char **container, const char **name)
{
	const char *slash = strchr(arg, '/');
	size_t clen = slash ? (size_t)(slash - arg) : strlen(arg);

	*container = strndup(arg, clen);
	if (!*container) {
		cli_errorf("%s: out of memory", cmd);
		return -1;
	}
	*name = slash ? slash + 1 : "";
	if (!bm_container_name_valid(*container)) {
		cli_errorf("%s: invalid container name '%s': use 3 to 63 "
			   "lowercase letters, digits and single hyphens",
			   cmd, *container);
		goto fail;
	}
	if (need_name && !**name) {
		cli_errorf("%s: '%s' names no blob: expected CONTAINER/NAME",
			   cmd, arg);
		goto fail;
	}
	return 0;
fail:
	free(*container);
	*container = NULL;
	return -1;
}

/* --- ls --- */

struct ls_state {
	FILE *out;
	bool long_format;
	bool null_sep;
	int write_errno; /* first stdout error */
};

static int ls_entry(const struct bm_blob_entry *e, void *ud)
{
	struct ls_state *s = ud;

	if (s->long_format) {
		if (e->is_prefix) {
			fprintf(s->out, "%12s  %-20s  ", "-", "-");
		} else {
			char date[32] = "-";
			struct tm tm;

			if (gmtime_r(&e->mtime, &tm))
				strftime(date, sizeof(date),
					 "%Y-%m-%dT%H:%M:%SZ", &tm);
			fprintf(s->out, "%12" PRIu64 "  %-20s  ", e->size,
				date);
		}
	}
	if (s->null_sep)
		fputs(e->name, s->out);
	else
		cli_print_name(s->out, e->name);
	putc(s->null_sep ? '\0' : '\n', s->out);
	if (ferror(s->out)) {
		s->write_errno = errno;
		return 1; /* stop listing: nobody reads what follows */
	}
	return 0;
}

static int run_ls(struct st_ctx *ctx)
{
	struct ls_state st = {
	    .out = stdout,
	    .long_format = ctx->a.long_format,
	    .null_sep = ctx->a.null_sep,
	};
	struct bm_list_opts lo = {.delimiter = ctx->a.delimiter};
	struct bm_blob_client *c;
	struct bm_error err;
	const char *prefix;
	char *container;
	int rc = CLI_EXIT_FAILURE;

	if (split_target("ls", ctx->a.argv[0], false, &container, &prefix))
		return CLI_EXIT_USAGE;
	if (*prefix && ctx->a.prefix) {
		cli_errorf("ls: give the prefix as CONTAINER/PREFIX or as "
			   "--prefix, not both");
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	lo.prefix = *prefix ? prefix : ctx->a.prefix;
	c = st_client(ctx);
	if (!c) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	bm_error_clear(&err);
	if (bm_blob_list_all(c, container, &lo, ls_entry, &st, &err) == 0) {
		rc = CLI_EXIT_OK;
	} else if (st.write_errno) {
		/* run_builtin sees ferror(stdout) and says so, once. */
		ctx->out_errno = st.write_errno;
	} else {
		char what[128];

		snprintf(what, sizeof(what), "cannot list '%s'", container);
		cli_report(what, &err);
	}
out:
	free(container);
	return rc;
}

/* --- get --- */

struct get_sink {
	int fd;
	uint64_t written;
	int write_errno;
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

/*
 * While a get writes its temporary, SIGINT, SIGTERM and SIGHUP are blocked
 * in every thread (threads started later, libcurl's included, inherit the
 * mask) and taken by one waiter thread, which removes the temporary and
 * then lets the signal end the process as it would have. The path is
 * handed to that thread, not kept in a global. SIGUSR1, sent by
 * temp_guard_stop, tells the waiter that the get is over.
 */
struct temp_guard {
	pthread_t thread;
	sigset_t set;
	sigset_t old;
	const char *path;
	bool running;
};

static void *temp_guard_wait(void *arg)
{
	struct temp_guard *g = arg;
	sigset_t one;
	int sig;

	if (sigwait(&g->set, &sig) || sig == SIGUSR1)
		return NULL;
	unlink(g->path);
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig); /* this thread alone has it unblocked: the process ends */
	return NULL;
}

/* Best effort: without the waiter, an interrupted get leaves the hidden
 * temporary, as any program killed mid-write would. */
static void temp_guard_start(struct temp_guard *g, const char *path)
{
	sigemptyset(&g->set);
	sigaddset(&g->set, SIGINT);
	sigaddset(&g->set, SIGTERM);
	sigaddset(&g->set, SIGHUP);
	sigaddset(&g->set, SIGUSR1);
	g->path = path;
	g->running = false;
	if (pthread_sigmask(SIG_BLOCK, &g->set, &g->old))
		return;
	if (pthread_create(&g->thread, NULL, temp_guard_wait, g)) {
		pthread_sigmask(SIG_SETMASK, &g->old, NULL);
		return;
	}
	g->running = true;
}

/* Call once the temporary is renamed or removed. A signal that came in
 * meanwhile is delivered when the mask is restored. */
static void temp_guard_stop(struct temp_guard *g)
{
	if (!g->running)
		return;
	pthread_kill(g->thread, SIGUSR1);
	pthread_join(g->thread, NULL);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	g->running = false;
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

static int run_get(struct st_ctx *ctx)
{
	const char *dest = ctx->a.argc > 1 ? ctx->a.argv[1] : "-";
	bool to_stdout = !strcmp(dest, "-");
	struct get_sink sink = {.fd = STDOUT_FILENO};
	struct bm_get_opts go = {0};
	struct bm_blob_info info = {0};
	struct temp_guard guard = {.running = false};
	struct bm_blob_client *c;
	char *tmp_path = NULL;
	struct bm_error err;
	struct stat st;
	const char *name;
	char *container;
	int rc = CLI_EXIT_FAILURE;

	if (split_target("get", ctx->a.argv[0], true, &container, &name))
		return CLI_EXIT_USAGE;
	if (!to_stdout && stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_errorf("get: cannot write '%s': is a directory; name the "
			   "file",
			   dest);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	c = st_client(ctx);
	if (!c) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (!to_stdout) {
		sink.fd = make_temp(dest, &tmp_path);
		if (sink.fd < 0) {
			cli_errorf("get: cannot create a file beside '%s': %s",
				   dest, strerror(errno));
			goto out;
		}
		temp_guard_start(&guard, tmp_path);
	}
	bm_error_clear(&err);
	if (c->ops->get(c, container, name, &go, get_write, &sink, &info,
			&err)) {
		if (sink.write_errno) {
			cli_errorf("get: cannot write '%s': %s",
				   to_stdout ? "standard output" : dest,
				   strerror(sink.write_errno));
		} else {
			char what[1200];

			snprintf(what, sizeof(what), "cannot get '%s/%s'",
				 container, name);
			cli_report(what, &err);
		}
		goto out;
	}
	if (info.size != sink.written) {
		cli_errorf("get: '%s/%s': received %" PRIu64 " of %" PRIu64
			   " bytes",
			   container, name, sink.written, info.size);
		goto out;
	}
	if (!to_stdout) {
		int fd = sink.fd;

		sink.fd = -1; /* commit_temp closes it */
		if (commit_temp(fd, tmp_path, dest)) {
			cli_errorf("get: cannot write '%s': %s", dest,
				   strerror(errno));
			goto out;
		}
		temp_guard_stop(&guard);
		free(tmp_path);
		tmp_path = NULL;
	}
	rc = CLI_EXIT_OK;
out:
	if (tmp_path) {
		if (sink.fd >= 0)
			close(sink.fd);
		unlink(tmp_path);
		temp_guard_stop(&guard);
		free(tmp_path);
	}
	free(container);
	return rc;
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

/* Block ids: base64 of a fixed-width counter, so every id of a blob has
 * the same length, as the service requires. */
#define ST_BLOCK_ID_RAW "blobmill-%010u"

static char *block_id(unsigned idx)
{
	char raw[32];

	snprintf(raw, sizeof(raw), ST_BLOCK_ID_RAW, idx);
	return bm_base64_encode((const unsigned char *)raw, strlen(raw));
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
	char *id = block_id(idx);

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
				     (size_t)(u->block_size / MIB));
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
		if (!(ids[i] = block_id(i)))
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
	uint64_t bs = (uint64_t)block_size_mb * MIB;
	uint64_t need = (len + ST_MAX_BLOCKS - 1) / ST_MAX_BLOCKS;

	if (need > bs)
		bs = (need + MIB - 1) / MIB * MIB;
	return bs > (uint64_t)ST_BLOCK_MB_MAX * MIB ? 0 : bs;
}

static int run_put(struct st_ctx *ctx)
{
	const char *src = ctx->a.argv[0];
	bool from_stdin = !strcmp(src, "-");
	const char *shown = from_stdin ? "standard input" : src;
	struct bm_blob_client *c;
	int fd = STDIN_FILENO, read_errno = 0;
	struct bm_error err;
	struct stat st;
	const char *name;
	char *container;
	int rc = CLI_EXIT_FAILURE;

	if (split_target("put", ctx->a.argv[1], true, &container, &name))
		return CLI_EXIT_USAGE;
	if (!from_stdin && (fd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_errorf("put: cannot open '%s': %s", src, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st)) {
		cli_errorf("put: cannot read '%s': %s", shown, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		cli_errorf("put: cannot upload '%s': is a directory", shown);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	c = st_client(ctx);
	if (!c) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	bm_error_clear(&err);
	/* A regular file read from its start goes through the shared upload
	 * path (pread, parallel blocks); anything else is a stream. */
	if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0) {
		uint64_t len = (uint64_t)st.st_size;
		uint64_t bs = file_block_size(len, ctx->a.block_size_mb);

		if (!bs) {
			cli_errorf("put: '%s' is larger than a block blob can "
				   "be",
				   shown);
			goto out;
		}
		if (bm_blob_upload_fd(c, container, name, fd, len, bs, bs,
				      ctx->a.concurrency, NULL, NULL, &err))
			goto fail;
	} else if (upload_stream(c, container, name, fd,
				 (size_t)ctx->a.block_size_mb * MIB,
				 ctx->a.concurrency, &read_errno, &err)) {
		goto fail;
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	if (read_errno || err.code == BM_ERR_IO) {
		cli_errorf("put: cannot read '%s': %s", shown,
			   read_errno ? strerror(read_errno) : err.msg);
	} else {
		char what[1200];

		snprintf(what, sizeof(what), "cannot upload '%s/%s'", container,
			 name);
		cli_report(what, &err);
	}
out:
	if (!from_stdin && fd >= 0)
		close(fd);
	free(container);
	return rc;
}

/* --- rm, mb, rb: one request per operand --- */

enum st_simple_op { ST_RM, ST_MB, ST_RB };

static int simple_one(struct bm_blob_client *c, enum st_simple_op op,
		      const char *arg)
{
	static const char *const verbs[] = {"rm", "mb", "rb"};
	struct bm_error err;
	const char *name;
	char *container;
	char what[1200];
	int r;

	if (split_target(verbs[op], arg, op == ST_RM, &container, &name))
		return CLI_EXIT_USAGE;
	if (op != ST_RM && *name) {
		cli_errorf("%s: '%s' is not a container name", verbs[op], arg);
		free(container);
		return CLI_EXIT_USAGE;
	}
	bm_error_clear(&err);
	switch (op) {
	case ST_RM:
		r = c->ops->remove(c, container, name, &err);
		snprintf(what, sizeof(what), "cannot delete '%s/%s'", container,
			 name);
		break;
	case ST_MB:
		r = c->ops->create_container(c, container, &err);
		snprintf(what, sizeof(what), "cannot create container '%s'",
			 container);
		break;
	default:
		r = c->ops->delete_container(c, container, &err);
		snprintf(what, sizeof(what), "cannot delete container '%s'",
			 container);
		break;
	}
	if (r)
		cli_report(what, &err);
	free(container);
	return r ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* Every operand is tried; the exit code is the worst one. */
static int run_simple(struct st_ctx *ctx, enum st_simple_op op)
{
	struct bm_blob_client *c = st_client(ctx);
	int i, rc = CLI_EXIT_OK;

	if (!c)
		return CLI_EXIT_USAGE;
	for (i = 0; i < ctx->a.argc; i++) {
		int r = simple_one(c, op, ctx->a.argv[i]);

		if (r > rc)
			rc = r;
	}
	return rc;
}

static int run_rm(struct st_ctx *ctx)
{
	return run_simple(ctx, ST_RM);
}

static int run_mb(struct st_ctx *ctx)
{
	return run_simple(ctx, ST_MB);
}

static int run_rb(struct st_ctx *ctx)
{
	return run_simple(ctx, ST_RB);
}

/* --- the command table --- */

static const struct st_cmd st_ls = {
    .name = "ls",
    .usage = "ls CONTAINER[/PREFIX] [options]\n"
	     "list the blobs of CONTAINER whose names start with PREFIX, "
	     "one per line\n"
	     "  -l, --long             size, last modified (UTC) and name\n"
	     "  --delimiter=D          group names at D (e.g. /) into "
	     "prefixes\n"
	     "  --prefix=P             the prefix, as an option\n"
	     "  -0, --null             end each entry with NUL, names raw",
    .notes = "a name holding a control character (a newline) or starting "
	     "with a\n"
	     "double quote is printed C-quoted in double quotes, as git "
	     "does;\n"
	     "use -0 to read every name byte for byte",
    .accept = ST_ACCEPT_LIST,
    .min_args = 1,
    .max_args = 1,
    .run = run_ls,
};

static const struct st_cmd st_get = {
    .name = "get",
    .usage = "get CONTAINER/NAME [FILE|-]\n"
	     "download a blob to FILE (written whole or not at all) or "
	     "to stdout",
    .min_args = 1,
    .max_args = 2,
    .run = run_get,
};

static const struct st_cmd st_put = {
    .name = "put",
    .usage = "put FILE|- CONTAINER/NAME [options]\n"
	     "upload FILE (or stdin) as a block blob, replacing any blob "
	     "of that name\n"
	     "  --block-size-mb=N      block size, 1-4000 (default 8); "
	     "larger input is\n"
	     "                         uploaded in blocks, in parallel\n"
	     "  --max-concurrency=N    blocks in flight, 1-64 (default 8)",
    .notes = "a FILE whose name starts with '-' goes after '--'",
    .accept = ST_ACCEPT_UPLOAD,
    .min_args = 2,
    .max_args = 2,
    .run = run_put,
};

static const struct st_cmd st_rm = {
    .name = "rm",
    .usage = "rm CONTAINER/NAME...\ndelete blobs",
    .min_args = 1,
    .max_args = -1,
    .run = run_rm,
};

static const struct st_cmd st_mb = {
    .name = "mb",
    .usage = "mb CONTAINER...\ncreate containers",
    .min_args = 1,
    .max_args = -1,
    .run = run_mb,
};

static const struct st_cmd st_rb = {
    .name = "rb",
    .usage = "rb CONTAINER...\ndelete containers and every blob in them",
    .min_args = 1,
    .max_args = -1,
    .run = run_rb,
};

/* The entry points blobmill.c's table names (cli.h). */
#define ST_ENTRY(cmd)                                                          \
	int cmd_##cmd(int argc, char **argv)                                   \
	{                                                                      \
		return st_main(&st_##cmd, argc, argv);                         \
	}

ST_ENTRY(ls)
ST_ENTRY(get)
ST_ENTRY(put)
ST_ENTRY(rm)
ST_ENTRY(mb)
ST_ENTRY(rb)

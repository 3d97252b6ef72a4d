/*
 * cmd_storage: the storage commands `blobmill ls|get|put|rm|mb|rb`, a small
 * Blob client on libblobmill for people and scripts, in the manner of
 * azcopy and `az storage blob`:
 *
 *   ls [CONTAINER[/PREFIX]] [-l [-h]] [--delimiter D] [-0] [--output json]
 *   get CONTAINER/NAME [FILE|DIR|-]    get -r CONTAINER[/PREFIX] DIR
 *   put FILE|- CONTAINER[/NAME]        put -r DIR CONTAINER[/PREFIX]
 *   rm CONTAINER/NAME...               rm -r CONTAINER[/PREFIX]
 *   mb CONTAINER...                    rb [--force] CONTAINER...
 *
 * A blob is addressed as CONTAINER/NAME, split at the first '/' (container
 * names hold none). Destinations are cp-style: `put f data/` or `put f
 * data` (a container or a name ending in '/') keeps the file's name, and
 * `get data/x/f DIR` into an existing directory keeps the blob's last
 * component. Every command shares one option table and one runner
 * (st_main): parse, check the arguments, open the client only when the
 * arguments are good, run, print --stats, free. `doctor` (cmd_doctor.c)
 * runs through it too.
 *
 * Limits and contracts:
 *   - ls streams: one line per entry as each page is parsed; nothing is
 *     kept, so memory does not grow with the size of the container.
 *   - ls prints names byte for byte. A name that holds a control character
 *     (a newline, above all) or starts with '"' cannot be printed that way
 *     on a line of its own: it is printed C-quoted in double quotes, as git
 *     does. -0 prints every name raw and ends each entry with NUL instead;
 *     --output json prints one JSON array.
 *   - get and put of one file: st_xfer.c (atomic rename, bounded memory);
 *     the -r forms: st_tree.c (parallel, resumable).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bm_log.h"
#include "storage_cli.h"

/* The command-specific options; values below CLI_OPT_CRED_FIRST. */
enum {
	OPT_LONG = 'l',
	OPT_NULL = '0',
	OPT_HELP = 'h', /* ls: -h is --human-readable, as in ls -lh */
	OPT_RECURSIVE = 'r',
	OPT_STATS = 0x100,
	OPT_DELIMITER,
	OPT_PREFIX,
	OPT_BLOCK_SIZE,
	OPT_CONCURRENCY,
	OPT_FORCE,
	OPT_NO_PROGRESS,
	OPT_OUTPUT,
	OPT_HUMAN,
	OPT_HELP_LONG,
};

static const struct option st_longopts[] = {
    {"long", no_argument, NULL, OPT_LONG},
    {"null", no_argument, NULL, OPT_NULL},
    {"help", no_argument, NULL, OPT_HELP_LONG},
    {"human-readable", no_argument, NULL, OPT_HUMAN},
    {"recursive", no_argument, NULL, OPT_RECURSIVE},
    {"stats", no_argument, NULL, OPT_STATS},
    {"delimiter", required_argument, NULL, OPT_DELIMITER},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"block-size-mb", required_argument, NULL, OPT_BLOCK_SIZE},
    {"max-concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"force", no_argument, NULL, OPT_FORCE},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"output", required_argument, NULL, OPT_OUTPUT},
    CLI_CRED_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static struct bm_blob_client *st_client(struct st_ctx *ctx)
{
	if (!ctx->client)
		ctx->client = cli_open_client(&ctx->cred, NULL);
	return ctx->client;
}

static bool option_accepted(int opt, unsigned accept)
{
	switch (opt) {
	case OPT_LONG:
	case OPT_NULL:
	case OPT_DELIMITER:
	case OPT_PREFIX:
	case OPT_HUMAN:
	case OPT_OUTPUT:
		return accept & ST_ACCEPT_LIST;
	case OPT_BLOCK_SIZE:
		return accept & ST_ACCEPT_UPLOAD;
	case OPT_CONCURRENCY:
		return accept & (ST_ACCEPT_UPLOAD | ST_ACCEPT_TRANSFER);
	case OPT_NO_PROGRESS:
		return accept & ST_ACCEPT_TRANSFER;
	case OPT_RECURSIVE:
		return accept & ST_ACCEPT_RECURSIVE;
	case OPT_FORCE:
		return accept & ST_ACCEPT_FORCE;
	}
	return true;
}

static void st_help(const struct st_cmd *cmd)
{
	printf("usage: blobmill %s\n", cmd->usage);
	printf("  --stats                print request counters to stderr "
	       "at exit\n"
	       "                         (also BLOBMILL_STATS=1)\n"
	       "  -v, --verbose          log every request and retry to "
	       "stderr (no secrets)\n"
	       "  --log-level=LOG_*      LOG_OFF ... LOG_DEBUG (default "
	       "LOG_WARNING)\n");
	cli_cred_help(stdout);
	if (cmd->notes)
		printf("%s\n", cmd->notes);
	printf("exit status: 0 done, 1 the operation failed, 2 bad command "
	       "line or configuration\n");
	if (cmd->examples)
		printf("\nexamples:\n%s\n", cmd->examples);
}

/* The options that only turn a flag of st_args on. */
static const struct {
	int opt;
	size_t field; /* offsetof(struct st_args, ...) */
} st_flags[] = {
    {OPT_LONG, offsetof(struct st_args, long_format)},
    {OPT_HUMAN, offsetof(struct st_args, human)},
    {OPT_NULL, offsetof(struct st_args, null_sep)},
    {OPT_RECURSIVE, offsetof(struct st_args, recursive)},
    {OPT_FORCE, offsetof(struct st_args, force)},
    {OPT_NO_PROGRESS, offsetof(struct st_args, no_progress)},
    {OPT_STATS, offsetof(struct st_args, stats)},
};

/* The flag option opt turns on, or NULL when it is not a flag. */
static bool *st_flag(struct st_args *a, int opt)
{
	size_t i;

	for (i = 0; i < sizeof(st_flags) / sizeof(st_flags[0]); i++)
		if (st_flags[i].opt == opt)
			return (bool *)((char *)a + st_flags[i].field);
	return NULL;
}

/* 0: parsed; 1: --help printed; -1: usage error printed. */
static int st_parse(const struct st_cmd *cmd, int argc, char **argv,
		    struct st_ctx *ctx)
{
	struct st_args *a = &ctx->a;
	const char *env = getenv("BLOBMILL_STATS");
	/* ls -lh is a long listing in human units, not a call for help. */
	const char *shortopts = ":hl0rv";
	bool *flag;
	int opt;

	cli_cred_init(&ctx->cred);
	a->stats = env && !strcmp(env, "1");
	a->block_size_mb = ST_BLOCK_MB_DEFAULT;
	a->concurrency = ST_CONCURRENCY_DEFAULT;
	optind = 1;
	opterr = 0; /* our own one-line messages below */
	while ((opt = getopt_long(argc, argv, shortopts, st_longopts, NULL)) !=
	       -1) {
		if (opt == '?' || opt == ':') {
			cli_bad_option(cmd->name, opt, argv, st_longopts);
			return -1;
		}
		if (opt == 'v')
			opt = CLI_OPT_VERBOSE;
		if (opt == OPT_HELP && (cmd->accept & ST_ACCEPT_LIST))
			opt = OPT_HUMAN;
		if (!option_accepted(opt, cmd->accept)) {
			term_errorf("%s: option '%s' does not apply to this "
				    "command; see 'blobmill %s --help'",
				    cmd->name, argv[optind - 1], cmd->name);
			return -1;
		}
		if (opt >= CLI_OPT_CRED_FIRST && opt < CLI_OPT_CRED_LAST) {
			if (cli_cred_option(&ctx->cred, opt, optarg))
				return -1;
			continue;
		}
		if ((flag = st_flag(a, opt))) {
			*flag = true;
			continue;
		}
		switch (opt) {
		case OPT_HELP:
		case OPT_HELP_LONG:
			st_help(cmd);
			return 1;
		case OPT_OUTPUT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				term_errorf("%s: invalid value '%s' for "
					    "--output: use text or json",
					    cmd->name, optarg);
				return -1;
			}
			a->json = !strcmp(optarg, "json");
			break;
		case OPT_DELIMITER:
			if (!*optarg) {
				term_errorf("%s: --delimiter needs a value",
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
		term_errorf(
		    "%s: wrong number of arguments; usage: blobmill %.*s",
		    cmd->name, (int)strcspn(cmd->usage, "\n"), cmd->usage);
		return -1;
	}
	if (a->null_sep && a->json) {
		term_errorf("%s: -0 and --output json do not mix", cmd->name);
		return -1;
	}
	return 0;
}

int st_main(const struct st_cmd *cmd, int argc, char **argv)
{
	struct st_ctx ctx = {0};
	int rc;

	rc = st_parse(cmd, argc, argv, &ctx);
	if (rc)
		return rc > 0 ? TERM_EXIT_OK : TERM_EXIT_USAGE;
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

int st_split_target(const char *cmd, const char *arg, bool need_name,
		    char **container, const char **name)
{
	const char *slash = strchr(arg, '/');
	size_t clen = slash ? (size_t)(slash - arg) : strlen(arg);

	*container = strndup(arg, clen);
	if (!*container) {
		term_errorf("%s: out of memory", cmd);
		return -1;
	}
	*name = slash ? slash + 1 : "";
	if (!bm_container_name_valid(*container)) {
		term_errorf("%s: invalid container name '%s': use 3 to 63 "
			    "lowercase letters, digits and single hyphens",
			    cmd, *container);
		goto fail;
	}
	if (need_name && !**name) {
		term_errorf("%s: '%s' names no blob: expected CONTAINER/NAME",
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
	const struct st_args *a;
	bool containers;
	unsigned long n;
	int write_errno; /* first stdout error */
};

static void ls_json_entry(struct ls_state *s, const struct bm_blob_entry *e)
{
	json_t *o = json_object();
	char date[32] = "";
	struct tm tm;
	char *text;

	if (!o)
		return;
	json_object_set_new(o, "name", json_string(e->name));
	if (!s->containers) {
		json_object_set_new(o, "isPrefix", json_boolean(e->is_prefix));
		if (!e->is_prefix)
			json_object_set_new(o, "size",
					    json_integer((json_int_t)e->size));
	}
	if (!e->is_prefix && e->mtime && gmtime_r(&e->mtime, &tm)) {
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_set_new(o, "lastModified", json_string(date));
	}
	if (e->etag && *e->etag)
		json_object_set_new(o, "etag", json_string(e->etag));
	/* Names need not be valid UTF-8 in a listing Azurite sends back;
	 * jansson refuses those, so the entry says so rather than vanish. */
	if (!json_object_get(o, "name"))
		json_object_set_new(o, "name", json_null());
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	fprintf(s->out, "%s  %s", s->n ? ",\n" : "[\n", text ? text : "{}");
	free(text);
	json_decref(o);
}

static int ls_entry(const struct bm_blob_entry *e, void *ud)
{
	struct ls_state *s = ud;

	if (s->a->json) {
		ls_json_entry(s, e);
	} else {
		if (s->a->long_format) {
			char size[32] = "-", date[32] = "-";
			struct tm tm;

			if (!e->is_prefix && !s->containers) {
				if (s->a->human)
					term_format_bytes(e->size, size,
							  sizeof(size));
				else
					snprintf(size, sizeof(size), "%" PRIu64,
						 e->size);
			}
			if (!e->is_prefix && e->mtime &&
			    gmtime_r(&e->mtime, &tm))
				strftime(date, sizeof(date),
					 "%Y-%m-%dT%H:%M:%SZ", &tm);
			fprintf(s->out, "%12s  %-20s  ", size, date);
		}
		if (s->a->null_sep)
			fputs(e->name, s->out);
		else
			term_print_name(s->out, e->name);
		putc(s->a->null_sep ? '\0' : '\n', s->out);
	}
	s->n++;
	if (ferror(s->out)) {
		s->write_errno = errno;
		return 1; /* stop listing: nobody reads what follows */
	}
	return 0;
}

static int run_ls(struct st_ctx *ctx)
{
	struct ls_state st = {.out = stdout, .a = &ctx->a};
	struct bm_list_opts lo = {.delimiter = ctx->a.delimiter};
	struct bm_blob_client *c;
	struct bm_error err;
	const char *prefix = "";
	char *container = NULL;
	char what[160];
	int r, rc = TERM_EXIT_FAILURE;

	st.containers = ctx->a.argc == 0;
	if (!st.containers &&
	    st_split_target("ls", ctx->a.argv[0], false, &container, &prefix))
		return TERM_EXIT_USAGE;
	if (*prefix && ctx->a.prefix) {
		term_errorf("ls: give the prefix as CONTAINER/PREFIX or as "
			    "--prefix, not both");
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	if (st.containers && ctx->a.delimiter) {
		term_errorf("ls: --delimiter applies to the blobs of a "
			    "container; name one");
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	lo.prefix = *prefix ? prefix : ctx->a.prefix;
	c = st_client(ctx);
	if (!c) {
		rc = TERM_EXIT_USAGE;
		goto out;
	}
	bm_error_clear(&err);
	if (st.containers)
		r = c->ops->list_containers(c, lo.prefix, ls_entry, &st, NULL,
					    &err);
	else
		r = bm_blob_list_all(c, container, &lo, ls_entry, &st, &err);
	if (r == 0) {
		if (ctx->a.json)
			fputs(st.n ? "\n]\n" : "[]\n", stdout);
		rc = TERM_EXIT_OK;
	} else if (st.write_errno) {
		/* run_builtin sees ferror(stdout) and says so, once. */
		ctx->out_errno = st.write_errno;
	} else if (st.containers) {
		term_report("cannot list containers", &err);
	} else {
		snprintf(what, sizeof(what), "cannot list '%s'", container);
		term_report_container(what, container, &err);
	}
out:
	free(container);
	return rc;
}

/* --- get, put: one file, or -r --- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static struct st_xfer xfer_of(struct st_ctx *ctx, struct term_progress *p)
{
	return (struct st_xfer){.client = ctx->client,
				.progress = p,
				.block_size_mb = ctx->a.block_size_mb,
				.concurrency = ctx->a.concurrency};
}

static uint64_t client_bytes_sent(void *ud)
{
	struct bm_blob_client *c = ud;
	struct bm_http_stats s;

	c->ops->get_stats(c, &s);
	return s.bytes_sent;
}

static int run_get(struct st_ctx *ctx)
{
	const char *src = ctx->a.argv[0];
	const char *dest = ctx->a.argc > 1 ? ctx->a.argv[1] : "-";
	struct term_progress progress;
	struct bm_blob_info info;
	struct st_temps temps;
	struct st_xfer x;
	struct bm_error err;
	char *container = NULL, *path = NULL;
	const char *name, *base;
	size_t dlen = strlen(dest);
	int rc = TERM_EXIT_USAGE;

	if (ctx->a.recursive) {
		if (ctx->a.argc < 2) {
			term_errorf("get: -r needs a target folder: get -r "
				    "CONTAINER[/PREFIX] DIR");
			return TERM_EXIT_USAGE;
		}
		return st_client(ctx) ? st_get_tree(ctx->client, &ctx->a)
				      : TERM_EXIT_USAGE;
	}
	if (st_split_target("get", src, true, &container, &name))
		return TERM_EXIT_USAGE;
	/* cp-style: into a folder, the file keeps the blob's last name. */
	if (strcmp(dest, "-") && (is_dir(dest) || dest[dlen - 1] == '/')) {
		base = st_basename(name);
		if (!is_dir(dest)) {
			term_errorf("get: cannot write into '%s': no such "
				    "directory",
				    dest);
			goto out;
		}
		if (!*base || st_local_problem(base)) {
			term_errorf("get: '%s' has no file name to save under "
				    "'%s': name the file",
				    src, dest);
			goto out;
		}
		if (asprintf(&path, "%s%s%s", dest,
			     dest[dlen - 1] == '/' ? "" : "/", base) < 0) {
			path = NULL;
			term_errorf("get: out of memory");
			goto out;
		}
		dest = path;
	}
	rc = TERM_EXIT_USAGE;
	if (!st_client(ctx))
		goto out;
	x = xfer_of(ctx, &progress);
	if (!strcmp(dest, "-")) {
		term_progress_start(&progress, false, "get", 0, 0);
		rc = st_get_stdout(&x, container, name);
		goto out;
	}
	/* The size first, for the progress line's percentage and ETA. */
	memset(&info, 0, sizeof(info));
	bm_error_clear(&err);
	if (term_progress_wanted(ctx->a.no_progress))
		ctx->client->ops->head(ctx->client, container, name, &info,
				       &err);
	term_progress_start(&progress, term_progress_wanted(ctx->a.no_progress),
			    "get", info.size, 0);
	st_temps_start(&temps);
	x.temps = &temps;
	rc = st_get_file(&x, container, name, dest);
	st_temps_stop(&temps);
	term_progress_stop(&progress);
out:
	free(path);
	free(container);
	return rc;
}

static int run_put(struct st_ctx *ctx)
{
	const char *src = ctx->a.argv[0];
	bool from_stdin = !strcmp(src, "-");
	const char *shown = from_stdin ? "standard input" : src;
	struct term_progress progress;
	struct st_xfer x;
	struct stat st;
	const char *name;
	char *container = NULL, *blob = NULL;
	int fd = STDIN_FILENO;
	int rc = TERM_EXIT_USAGE;

	if (ctx->a.recursive)
		return st_client(ctx) ? st_put_tree(ctx->client, &ctx->a)
				      : TERM_EXIT_USAGE;
	if (st_split_target("put", ctx->a.argv[1], false, &container, &name))
		return TERM_EXIT_USAGE;
	if (!from_stdin && (fd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		term_errorf("put: cannot open '%s': %s", src, strerror(errno));
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (fstat(fd, &st)) {
		term_errorf("put: cannot read '%s': %s", shown,
			    strerror(errno));
		rc = TERM_EXIT_FAILURE;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		term_errorf("put: cannot upload '%s': is a directory (use put "
			    "-r to upload a folder)",
			    shown);
		goto out;
	}
	/* cp-style: "data", "data/" or "data/dir/" keep the file's name.
	 * Standard input has none: "data/dir/" from it is the blob "dir/"
	 * itself (the one way to make a name ending in '/'). */
	if (from_stdin && !*name) {
		term_errorf("put: standard input has no file name: name the "
			    "blob, CONTAINER/NAME");
		goto out;
	}
	if (!from_stdin && (!*name || name[strlen(name) - 1] == '/')) {
		const char *base = st_basename(src);
		const char *problem;

		if ((problem = st_blob_problem(name, base))) {
			term_errorf("put: cannot upload '%s': %s", src,
				    problem);
			goto out;
		}
		if (asprintf(&blob, "%s%s", name, base) < 0) {
			blob = NULL;
			term_errorf("put: out of memory");
			rc = TERM_EXIT_FAILURE;
			goto out;
		}
		name = blob;
	}
	if (!st_client(ctx))
		goto out;
	x = xfer_of(ctx, &progress);
	term_progress_start(&progress, term_progress_wanted(ctx->a.no_progress),
			    "put",
			    S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, 0);
	if (progress.running)
		term_progress_sample(&progress, client_bytes_sent, ctx->client);
	rc = st_put_fd(&x, fd, shown, container, name);
	term_progress_stop(&progress);
out:
	if (!from_stdin && fd >= 0)
		close(fd);
	free(blob);
	free(container);
	return rc;
}

/* --- rm, mb, rb: one request per operand --- */

enum st_simple_op { ST_RM, ST_MB, ST_RB };

static int stop_at_first(const struct bm_blob_entry *e, void *ud)
{
	*(bool *)ud = true;
	return 1;
}

/* rb without --force: a container that holds blobs is kept (one page of
 * one entry tells). 0: empty; 1: refused, said why; -1: err set. */
static int refuse_nonempty(struct bm_blob_client *c, const char *container,
			   struct bm_error *err)
{
	struct bm_list_opts lo = {.max_results = 1};
	char *marker = NULL;
	bool any = false;
	int r;

	r = c->ops->list_page(c, container, &lo, stop_at_first, &any, &marker,
			      err);
	free(marker);
	if (any) {
		term_errorf("rb: container '%s' is not empty: delete its blobs "
			    "first (blobmill rm -r %s), or use --force to "
			    "delete it with them",
			    container, container);
		return 1;
	}
	return r < 0 ? -1 : 0;
}

static int simple_one(struct bm_blob_client *c, enum st_simple_op op,
		      const char *arg, bool force)
{
	static const char *const verbs[] = {"rm", "mb", "rb"};
	struct bm_error err;
	const char *name;
	char *container;
	char what[1200];
	int r;

	if (st_split_target(verbs[op], arg, op == ST_RM, &container, &name))
		return TERM_EXIT_USAGE;
	if (op != ST_RM && *name) {
		term_errorf("%s: '%s' is not a container name", verbs[op], arg);
		free(container);
		return TERM_EXIT_USAGE;
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
		r = force ? 0 : refuse_nonempty(c, container, &err);
		if (r == 0)
			r = c->ops->delete_container(c, container, &err);
		snprintf(what, sizeof(what), "cannot delete container '%s'",
			 container);
		break;
	}
	/* 1: refuse_nonempty said why. Creating a container is no advice
	 * to someone deleting one. */
	if (r < 0 && op == ST_RM)
		term_report_container(what, container, &err);
	else if (r < 0)
		term_report(what, &err);
	free(container);
	return r ? TERM_EXIT_FAILURE : TERM_EXIT_OK;
}

/* Every operand is tried; the exit code is the worst one. */
static int run_simple(struct st_ctx *ctx, enum st_simple_op op)
{
	struct bm_blob_client *c = st_client(ctx);
	int i, rc = TERM_EXIT_OK;

	if (!c)
		return TERM_EXIT_USAGE;
	for (i = 0; i < ctx->a.argc; i++) {
		int r = simple_one(c, op, ctx->a.argv[i], ctx->a.force);

		if (r > rc)
			rc = r;
	}
	return rc;
}

static int run_rm(struct st_ctx *ctx)
{
	if (!ctx->a.recursive)
		return run_simple(ctx, ST_RM);
	if (ctx->a.argc != 1) {
		term_errorf("rm: -r takes one CONTAINER[/PREFIX]");
		return TERM_EXIT_USAGE;
	}
	return st_client(ctx) ? st_rm_tree(ctx->client, &ctx->a)
			      : TERM_EXIT_USAGE;
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
    .usage = "ls [CONTAINER[/PREFIX]] [options]\n"
	     "list the blobs of CONTAINER whose names start with PREFIX, "
	     "one per line;\n"
	     "without CONTAINER, list the account's containers\n"
	     "  -l, --long             size, last modified (UTC) and name\n"
	     "  -h, --human-readable   with -l, sizes as 1.5 MiB\n"
	     "  --delimiter=D          group names at D (e.g. /) into "
	     "prefixes\n"
	     "  --prefix=P             the prefix, as an option\n"
	     "  -0, --null             end each entry with NUL, names raw\n"
	     "  --output=text|json     json: one array of {name, size, "
	     "lastModified, etag}",
    .notes = "a name holding a control character (a newline) or starting "
	     "with a\n"
	     "double quote is printed C-quoted in double quotes, as git "
	     "does;\n"
	     "use -0 or --output json to read every name byte for byte",
    .examples = "  blobmill ls\n"
		"  blobmill ls -lh data-in/2024/\n"
		"  blobmill ls --delimiter / --output json data-in",
    .accept = ST_ACCEPT_LIST,
    .min_args = 0,
    .max_args = 1,
    .run = run_ls,
};

static const struct st_cmd st_get = {
    .name = "get",
    .usage = "get CONTAINER/NAME [FILE|DIR|-]   or   get -r "
	     "CONTAINER[/PREFIX] DIR\n"
	     "download a blob to FILE (written whole or not at all), into "
	     "DIR under its\n"
	     "own name, or to stdout; with -r, every blob under PREFIX/ "
	     "into DIR\n"
	     "  -r, --recursive        a whole folder, in parallel; a rerun "
	     "skips files\n"
	     "                         already complete (same size, the "
	     "blob's time)\n"
	     "  --max-concurrency=N    files at once with -r, 1-64 "
	     "(default 8)\n"
	     "  --no-progress          no progress line (shown only on a "
	     "terminal)",
    .examples = "  blobmill get data-out/report.csv .\n"
		"  blobmill get data-out/x.json - | jq .\n"
		"  blobmill get -r data-out/2024 ./results",
    .accept = ST_ACCEPT_TRANSFER | ST_ACCEPT_RECURSIVE,
    .min_args = 1,
    .max_args = 2,
    .run = run_get,
};

static const struct st_cmd st_put = {
    .name = "put",
    .usage = "put FILE|- CONTAINER[/NAME]   or   put -r DIR "
	     "CONTAINER[/PREFIX]\n"
	     "upload FILE (or stdin) as a block blob, replacing any blob "
	     "of that name;\n"
	     "a CONTAINER or a NAME ending in '/' keeps the file's name\n"
	     "  -r, --recursive        every file under DIR as PREFIX/PATH, "
	     "in parallel;\n"
	     "                         a rerun skips blobs already complete\n"
	     "  --block-size-mb=N      block size, 1-4000 (default 8); "
	     "larger input is\n"
	     "                         uploaded in blocks, in parallel\n"
	     "  --max-concurrency=N    blocks (or files, with -r) in "
	     "flight, 1-64 (default 8)\n"
	     "  --no-progress          no progress line (shown only on a "
	     "terminal)",
    .notes = "a FILE whose name starts with '-' goes after '--'",
    .examples = "  blobmill put photo.jpg data-in/\n"
		"  tar c dir | blobmill put - backups/dir.tar\n"
		"  blobmill put -r ./inputs data-in/batch1",
    .accept = ST_ACCEPT_UPLOAD | ST_ACCEPT_TRANSFER | ST_ACCEPT_RECURSIVE,
    .min_args = 2,
    .max_args = 2,
    .run = run_put,
};

static const struct st_cmd st_rm = {
    .name = "rm",
    .usage = "rm CONTAINER/NAME...   or   rm -r CONTAINER[/PREFIX]\n"
	     "delete blobs; with -r, every blob under PREFIX/ (and its "
	     "folder marker),\n"
	     "printing how many\n"
	     "  -r, --recursive        a whole folder, in parallel\n"
	     "  --max-concurrency=N    deletes at once with -r, 1-64 "
	     "(default 8)",
    .examples = "  blobmill rm data-in/old.csv\n"
		"  blobmill rm -r data-out/2023",
    .accept = ST_ACCEPT_RECURSIVE | ST_ACCEPT_TRANSFER,
    .min_args = 1,
    .max_args = -1,
    .run = run_rm,
};

static const struct st_cmd st_mb = {
    .name = "mb",
    .usage = "mb CONTAINER...\ncreate containers",
    .examples = "  blobmill mb data-in data-out",
    .min_args = 1,
    .max_args = -1,
    .run = run_mb,
};

static const struct st_cmd st_rb = {
    .name = "rb",
    .usage = "rb [--force] CONTAINER...\n"
	     "delete empty containers\n"
	     "  --force                delete a container with every blob "
	     "in it",
    .examples = "  blobmill rb scratch\n"
		"  blobmill rb --force old-results",
    .accept = ST_ACCEPT_FORCE,
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

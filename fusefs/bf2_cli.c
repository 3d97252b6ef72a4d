/*
 * bf2_cli: blobfuse2's `mount` and `unmount` (see bf2_cli.h): the flags,
 * the mount and the unmount; what the config, flags and environment
 * amount to is bf2_resolve.c.
 *
 * Flag spellings are blobfuse2's (cmd/mount.go and the components' flags
 * in Azure/azure-storage-fuse): a value flag takes "--flag=V" or
 * "--flag V", a boolean "--flag" or "--flag=true|false" (cobra's rules).
 * The environment variables are the ones blobfuse2's azstorage binds, and
 * they override the file as they do there (flags > environment > file);
 * blobfuse2 reads no connection string, so neither does this form.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bf2_cli.h"
#include "mount_guard.h"

extern char **environ;

/* ---- flags -------------------------------------------------------- */

enum flag_kind { F_STR, F_UINT, F_BOOL };

#define FOFF(f) offsetof(struct bf2_flags, f)

static const struct {
	const char *name;
	enum flag_kind kind;
	size_t off;
} flags[] = {
    {"config-file", F_STR, FOFF(config_file)},
    {"tmp-path", F_STR, FOFF(tmp_path)},
    {"container-name", F_STR, FOFF(container_name)},
    {"log-level", F_STR, FOFF(log_level)},
    {"log-type", F_STR, FOFF(log_type)},
    {"ca-cert-file", F_STR, FOFF(ca_cert_file)},
    {"attr-timeout", F_UINT, FOFF(attr_timeout)},
    {"entry-timeout", F_UINT, FOFF(entry_timeout)},
    {"negative-timeout", F_UINT, FOFF(negative_timeout)},
    {"file-cache-timeout", F_UINT, FOFF(file_cache_timeout)},
    {"file-cache-timeout-in-seconds", F_UINT, FOFF(file_cache_timeout)},
    {"cache-size-mb", F_UINT, FOFF(cache_size_mb)},
    {"max-concurrency", F_UINT, FOFF(max_concurrency)},
    {"max-retry", F_UINT, FOFF(max_retry)},
    {"max-retry-interval-in-seconds", F_UINT, FOFF(max_retry_interval)},
    {"read-only", F_BOOL, FOFF(read_only)},
    {"foreground", F_BOOL, FOFF(foreground)},
    {"allow-other", F_BOOL, FOFF(allow_other)},
    {"use-https", F_BOOL, FOFF(use_https)},
    {"block-cache", F_BOOL, FOFF(block_cache)},
    {"use-attr-cache", F_BOOL, FOFF(use_attr_cache)},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void usage(FILE *f)
{
	fputs("usage: " PROG " mount MOUNTPOINT --config-file=FILE.yaml "
	      "[flags]   (blobfuse2's form)\n"
	      "       " PROG " unmount MOUNTPOINT [-z|--lazy]\n"
	      "\n"
	      "  --config-file=FILE     blobfuse2 YAML config (default "
	      "./config.yaml)\n"
	      "  --tmp-path=DIR         file_cache.path\n"
	      "  --container-name=NAME  azstorage.container\n"
	      "  --read-only --foreground --allow-other\n"
	      "  --log-level=LOG_WARNING|...  --log-type=syslog|silent\n"
	      "  --attr-timeout=N --entry-timeout=N --negative-timeout=N\n"
	      "                         libfuse.*-expiration-sec\n"
	      "  --file-cache-timeout=N file_cache.timeout-sec\n"
	      "  --cache-size-mb=N      file_cache.max-size-mb\n"
	      "  --max-concurrency=N --max-retry=N "
	      "--max-retry-interval-in-seconds=N\n"
	      "  --use-https=true|false --ca-cert-file=FILE --block-cache "
	      "--use-attr-cache=false\n"
	      "  -o allow_other,attr_timeout=N,entry_timeout=N,"
	      "negative_timeout=N,ro,...\n"
	      "  -d                     debug: foreground, FUSE trace\n"
	      "Environment: AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_ACCESS_KEY, "
	      "AZURE_STORAGE_SAS_TOKEN,\n"
	      "AZURE_STORAGE_AUTH_TYPE, AZURE_STORAGE_BLOB_ENDPOINT, "
	      "AZURE_STORAGE_ACCOUNT_CONTAINER\n"
	      "(they override the file, as in blobfuse2). See "
	      "blobmill-fuse(8).\n",
	      f);
}

void bf2_flags_release(struct bf2_flags *f)
{
	int i;

	free(f->config_file);
	free(f->tmp_path);
	free(f->container_name);
	free(f->log_level);
	free(f->log_type);
	free(f->ca_cert_file);
	for (i = 0; i < f->n_fuse_opts; i++)
		free(f->fuse_opts[i]);
	free(f->fuse_opts);
	free(f->mountpoint);
	memset(f, 0, sizeof(*f));
}

/* The error line of a value flag i does not take; -1. */
static int invalid_value(size_t i, const char *v, const char *expected)
{
	fprintf(stderr, PROG ": invalid value '%s' for --%s (%s)\n", v,
		flags[i].name, expected);
	return -1;
}

static int flag_value(struct bf2_flags *f, size_t i, const char *v)
{
	char *field = (char *)f + flags[i].off, *end;
	unsigned long n;

	switch (flags[i].kind) {
	case F_STR:
		free(*(char **)field);
		*(char **)field = strdup(v);
		return *(char **)field ? 0 : -1;
	case F_UINT:
		errno = 0;
		n = strtoul(v, &end, 10);
		if (!isdigit((unsigned char)*v) || *end || errno ||
		    n > (unsigned long)LONG_MAX)
			return invalid_value(i, v, "a whole number");
		*(long *)field = (long)n;
		return 0;
	case F_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "1")) {
			*(int *)field = 1;
		} else if (!strcmp(v, "false") || !strcmp(v, "0")) {
			*(int *)field = 0;
		} else {
			return invalid_value(i, v, "true or false");
		}
		return 0;
	}
	return -1;
}

/* Adds the words of one -o argument (comma-separated). */
static int add_fuse_opts(struct bf2_flags *f, const char *v)
{
	const char *p = v;
	char **grown;
	size_t n;

	while (*p) {
		n = strcspn(p, ",");
		if (n > 0) {
			grown = realloc(f->fuse_opts,
					sizeof(*grown) *
					    (size_t)(f->n_fuse_opts + 1));
			if (!grown)
				return -1;
			f->fuse_opts = grown;
			f->fuse_opts[f->n_fuse_opts] = strndup(p, n);
			if (!f->fuse_opts[f->n_fuse_opts++])
				return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int bf2_flags_parse(int argc, char **argv, struct bf2_flags *f)
{
	const char *a, *eq, *name;
	size_t i, nlen;
	int k;

	memset(f, 0, sizeof(*f));
	f->attr_timeout = f->entry_timeout = f->negative_timeout = -1;
	f->file_cache_timeout = f->cache_size_mb = f->max_concurrency = -1;
	f->max_retry = f->max_retry_interval = -1;
	f->read_only = f->foreground = f->allow_other = f->use_https = -1;
	f->block_cache = f->use_attr_cache = -1;
	for (k = 1; k < argc; k++) {
		a = argv[k];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			f->help = true;
			continue;
		}
		if (!strcmp(a, "-d")) {
			f->debug = true;
			continue;
		}
		if (!strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 + (a[2] == '=') : NULL;

			if (!v && k + 1 >= argc) {
				fprintf(stderr,
					PROG ": mount: -o needs a value\n");
				return -1;
			}
			if (add_fuse_opts(f, v ? v : argv[++k]) < 0)
				goto nomem;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			if (a[0] == '-' && a[1]) {
				fprintf(stderr,
					PROG ": mount: unknown option '%s'\n",
					a);
				return -1;
			}
			if (f->mountpoint) {
				fprintf(stderr,
					PROG ": mount: one mount point only "
					     "('%s' and '%s')\n",
					f->mountpoint, a);
				return -1;
			}
			f->mountpoint = strdup(a);
			if (!f->mountpoint)
				goto nomem;
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		for (i = 0; i < N(flags); i++)
			if (strlen(flags[i].name) == nlen &&
			    !strncmp(flags[i].name, name, nlen))
				break;
		if (i == N(flags)) {
			/* The value may be a secret: print the name only. */
			fprintf(stderr,
				PROG ": mount: unknown option '--%.*s'\n",
				(int)nlen, name);
			return -1;
		}
		if (eq) {
			if (flag_value(f, i, eq + 1) < 0)
				return -1;
		} else if (flags[i].kind == F_BOOL) {
			*(int *)((char *)f + flags[i].off) = 1;
		} else if (k + 1 < argc) {
			if (flag_value(f, i, argv[++k]) < 0)
				return -1;
		} else {
			fprintf(stderr, PROG ": mount: --%s needs a value\n",
				flags[i].name);
			return -1;
		}
	}
	return 0;
nomem:
	fprintf(stderr, PROG ": out of memory\n");
	return -1;
}

/* ---- mount ---------------------------------------------------------- */

static int add_arg(struct fuse_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_arg(struct fuse_args *a, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	rc = fuse_opt_add_arg(a, s);
	free(s);
	return rc;
}

/* The words libfuse gets: what the options mean, in v1's terms. */
static int build_args(const char *prog, const struct bf2_flags *f,
		      struct bf2_mount *m)
{
	struct fuse_args *a = &m->job.args;
	int i;

	if (fuse_opt_add_arg(a, prog) < 0 ||
	    add_arg(a, "-oattr_timeout=%g", m->kernel_attr) < 0 ||
	    add_arg(a, "-oentry_timeout=%g", m->kernel_entry) < 0 ||
	    add_arg(a, "-onegative_timeout=%g", m->kernel_negative) < 0 ||
	    (m->allow_other && fuse_opt_add_arg(a, "-oallow_other") < 0) ||
	    (m->allow_root && fuse_opt_add_arg(a, "-oallow_root") < 0) ||
	    (m->job.o.read_only && fuse_opt_add_arg(a, "-oro") < 0) ||
	    (m->foreground && fuse_opt_add_arg(a, "-f") < 0) ||
	    (f->debug && fuse_opt_add_arg(a, "-d") < 0))
		return -1;
	for (i = 0; i < m->n_pass_opts; i++)
		if (add_arg(a, "-o%s", m->pass_opts[i]) < 0)
			return -1;
	return fuse_opt_add_arg(a, f->mountpoint);
}

int bf2_mount_main(const char *prog, int argc, char **argv)
{
	struct bf2_flags f;
	struct bf2_config file;
	struct bf2_mount m;
	struct bm_error err;
	const char *path;
	int rc = EXIT_USAGE;

	bf2_config_init(&file);
	bf2_mount_init(&m);
	bm_error_clear(&err);
	if (bf2_flags_parse(argc, argv, &f) < 0)
		goto out;
	if (f.help) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if (!f.mountpoint) {
		fprintf(stderr, PROG ": mount: missing mount point\n");
		usage(stderr);
		goto out;
	}
	/* blobfuse2 reads ./config.yaml when no file is named. */
	path = f.config_file;
	if (!path && access("config.yaml", F_OK) == 0)
		path = "config.yaml";
	if (path && bf2_config_load_file(&file, path, &err) < 0)
		goto report;
	if (!path && !(file.origin = strdup("(no config file)")))
		goto out;
	if (bf2_resolve(&file, &f, true, &m, &err) < 0 ||
	    bm_config_finish(&m.job.cfg, true, &err) < 0)
		goto report;
	if (mount_guard_mountpoint(f.mountpoint, &err) < 0) {
		fprintf(stderr, PROG ": %s\n", err.msg);
		rc = EXIT_MOUNT;
		goto out;
	}
	if (build_args(prog, &f, &m) < 0) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	if (fuse_parse_cmdline(&m.job.args, &m.job.fo) != 0 ||
	    !m.job.fo.mountpoint)
		goto out;
	bm_log_init(PROG, m.job.level, false);
	rc = mount_run(&m.job);
	goto out;
report:
	fprintf(stderr, PROG ": %s\n", err.msg);
out:
	bf2_mount_release(&m);
	bf2_config_release(&file);
	bf2_flags_release(&f);
	return rc;
}

/* ---- unmount ------------------------------------------------------- */

/* PIDs of blobmill-fuse daemons serving path (either form of command
 * line); up to max. */
static int daemons_of(const char *path, pid_t *pids, int max)
{
	char proc[300], cwd[4096], buf[8192], *arg, *rp;
	ssize_t cl;
	DIR *d = opendir("/proc");
	struct dirent *de;
	FILE *f;
	size_t n;
	int count = 0, i;

	while (d && count < max && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(proc, sizeof(proc), "/proc/%s/cmdline", de->d_name);
		f = fopen(proc, "re");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		arg = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
		if (strcmp(arg, PROG) != 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%s/cwd", de->d_name);
		cl = readlink(proc, cwd, sizeof(cwd) - 1);
		cwd[cl > 0 ? cl : 0] = '\0';
		/* The mount point is the first word that is not an option
		 * or "mount". Resolved without a stat: another daemon may
		 * hang. */
		for (arg = buf + strlen(buf) + 1, i = 0; arg < buf + n;
		     arg += strlen(arg) + 1, i++) {
			if (*arg == '-' || (i == 0 && !strcmp(arg, "mount")))
				continue;
			rp = mount_guard_resolve(cl > 0 ? cwd : NULL, arg);
			if (rp && !strcmp(rp, path))
				pids[count++] = (pid_t)atol(de->d_name);
			free(rp);
			break;
		}
	}
	if (d)
		closedir(d);
	return count;
}

int bf2_unmount_main(int argc, char **argv)
{
	const char *mp = NULL, *fargv[5];
	char *path = NULL, *fstype = NULL, why[512] = "";
	pid_t pids[8], child;
	int lazy = 0, i, n, status, pipefd[2] = {-1, -1}, rc = EXIT_USAGE;
	posix_spawn_file_actions_t fa;
	ssize_t got;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-z") || !strcmp(argv[i], "--lazy"))
			lazy = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || mp) {
			fprintf(stderr, PROG ": unmount: unexpected '%s'\n",
				argv[i]);
			return EXIT_USAGE;
		} else {
			mp = argv[i];
		}
	}
	if (!mp) {
		fprintf(stderr, PROG ": unmount: missing mount point\n");
		return EXIT_USAGE;
	}
	rc = EXIT_MOUNT;
	if (!mount_guard_find(mp, &path, &fstype)) {
		fprintf(stderr, PROG ": cannot unmount '%s': not mounted\n",
			mp);
		goto out;
	}
	if (strncmp(fstype, "fuse.", 5) != 0) {
		fprintf(stderr,
			PROG ": cannot unmount '%s': not a FUSE mount (%s)\n",
			mp, fstype);
		goto out;
	}
	n = daemons_of(path, pids, (int)N(pids));
	fargv[0] = "fusermount3";
	fargv[1] = lazy ? "-uz" : "-u";
	fargv[2] = "--";
	fargv[3] = path;
	fargv[4] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0 ||
	    posix_spawn_file_actions_init(&fa) != 0)
		goto spawn_failed;
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	i = posix_spawnp(&child, "fusermount3", &fa, NULL, (char **)fargv,
			 environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (i != 0)
		goto spawn_failed;
	got = read(pipefd[0], why, sizeof(why) - 1);
	why[got > 0 ? got : 0] = '\0';
	why[strcspn(why, "\n")] = '\0';
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		const char *cause = strrchr(why, ':');

		fprintf(stderr, PROG ": cannot unmount '%s': %s%s\n", mp,
			cause ? cause + 2 : "fusermount3 failed",
			strstr(why, "busy") ? " (files are open under it; "
					      "unmount -z detaches it now)"
					    : "");
		goto out;
	}
	/* The daemon uploads what is still pending and exits: wait for it,
	 * so that what follows (a remount, a shutdown) finds it done. */
	for (i = 0; i < n; i++) {
		int t;

		for (t = 0; t < 600 && kill(pids[i], 0) == 0; t++)
			nanosleep(&(struct timespec){0, 100000000}, NULL);
		if (kill(pids[i], 0) == 0)
			fprintf(stderr,
				PROG ": unmounted '%s'; its daemon (pid %ld) "
				     "is still uploading\n",
				mp, (long)pids[i]);
	}
	rc = 0;
	goto out;
spawn_failed:
	fprintf(stderr,
		PROG ": cannot unmount '%s': cannot run fusermount3: %s\n", mp,
		strerror(errno));
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	free(path);
	free(fstype);
	return rc;
}

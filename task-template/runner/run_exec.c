/*
 * run_exec: one task to one argv, for `blobmill run`.
 *
 *   docker:  docker run --rm RUN-OPTIONS IMAGE ARGV...
 *   podman:  podman --runtime runc run --rm --ulimit nofile=1024:20000
 *            --ulimit nproc=32768:32768 RUN-OPTIONS IMAGE ARGV...
 *            (runc and explicit ulimits: podman's defaults fail inside
 *            the unprivileged containers CI machines often are)
 *   host:    bwrap --die-with-parent --new-session --unshare-pid
 *            --clearenv [every top-level entry of / bound onto itself,
 *            a fresh /proc] [--bind SRC DST per --volume] --chdir
 *            WORKDIR -- ARGV...
 * ARGV is the task's commandLine split exactly as Batch splits it
 * (task_cmdline_split), and RUN-OPTIONS are split the same way, so a task
 * behaves here as on a pool node.
 *
 * Host runtime: bubblewrap gives the task a private mount namespace whose
 * root is a tmpfs holding the host's top-level directories, so a volume's
 * target (/data-in) can be created without touching the host's /. No
 * image, no engine: the task runs the host's programs, as the user who
 * runs blobmill, and reads what that user can read. It also gets its own
 * pid namespace and /proc, so it cannot read /proc/PID/environ of
 * blobmill or of the shell that started it.
 *
 * Environment (every runtime): a task sees only what we give it, never
 * the CLI's own environment (which holds AZURE_STORAGE_ACCESS_KEY or a
 * SAS): AZ_BATCH_TASK_ID; for the host runtime also
 * AZ_BATCH_TASK_WORKING_DIR, PATH, HOME and LANG (the engines take those
 * from the image); then the run options' -e/--env and the user's --env.
 * docker and podman pass nothing else of their caller's environment;
 * podman would copy the proxy variables, so --http-proxy=false.
 *
 * Staging (stage-in, stage-out): run_stage.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bm_log.h"
#include "runner.h"

/* ------------------------------------------------------------------ */
/* Runtimes                                                            */
/* ------------------------------------------------------------------ */

static const char *const runtime_names[] = {
    [RUN_AUTO] = "auto",
    [RUN_DOCKER] = "docker",
    [RUN_PODMAN] = "podman",
    [RUN_HOST] = "host",
};

const char *run_runtime_name(enum run_runtime rt)
{
	return runtime_names[rt];
}

int run_runtime_parse(const char *s, enum run_runtime *out)
{
	size_t i;

	for (i = 0; i < sizeof(runtime_names) / sizeof(runtime_names[0]); i++)
		if (!strcmp(s, runtime_names[i])) {
			*out = (enum run_runtime)i;
			return 0;
		}
	return -1;
}

/* Runs argv silently; true when it exits 0. */
static bool probe(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int run_runtime_detect(enum run_runtime *out, struct bm_error *err)
{
	static char *const docker[] = {"docker", "info", NULL};
	static char *const podman[] = {"podman", "--runtime", "runc", "info",
				       NULL};
	static char *const bwrap[] = {"bwrap", "--dev-bind", "/",
				      "/",     "true",	     NULL};

	if (probe(docker))
		*out = RUN_DOCKER;
	else if (probe(podman))
		*out = RUN_PODMAN;
	else if (probe(bwrap))
		*out = RUN_HOST;
	else {
		bm_error_set(err, BM_ERR_CONFIG,
			     "no runtime works here: 'docker info' and 'podman "
			     "info' failed and bubblewrap ('bwrap') cannot "
			     "run; install podman or bubblewrap");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* argv building                                                       */
/* ------------------------------------------------------------------ */

/* A growing NULL-terminated argv; `failed` sticks on allocation failure. */
struct argv_buf {
	char **v;
	size_t n, cap;
	bool failed;
};

static void av_add(struct argv_buf *a, const char *s)
{
	char *d;

	if (a->failed)
		return;
	if (a->n + 2 > a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, ncap * sizeof(*v));

		if (!v) {
			a->failed = true;
			return;
		}
		a->v = v;
		a->cap = ncap;
	}
	d = strdup(s);
	if (!d) {
		a->failed = true;
		return;
	}
	a->v[a->n++] = d;
	a->v[a->n] = NULL;
}

static void av_add2(struct argv_buf *a, const char *s1, const char *s2)
{
	av_add(a, s1);
	av_add(a, s2);
}

/* Hands the argv over, or NULL (freed) on allocation failure. */
static char **av_finish(struct argv_buf *a, struct bm_error *err)
{
	if (!a->failed && !a->v)
		a->v = calloc(1, sizeof(*a->v));
	if (a->failed || !a->v) {
		task_argv_free(a->v);
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return a->v;
}

/*
 * Recognizes an option with a value in the forms docker accepts:
 * "-v X", "-vX", "--volume X", "--volume=X". On a match sets *value and
 * returns how many words it used (1 or 2); 0 when it is not this option.
 */
static int opt_value(char **words, size_t i, char shortopt, const char *longopt,
		     const char **value)
{
	const char *w = words[i];
	size_t ll = strlen(longopt);

	if (w[0] == '-' && w[1] == shortopt) {
		if (w[2]) {
			*value = w + 2;
			return 1;
		}
		if (words[i + 1]) {
			*value = words[i + 1];
			return 2;
		}
		return 0;
	}
	if (!strncmp(w, "--", 2) && !strncmp(w + 2, longopt, ll)) {
		if (w[2 + ll] == '=') {
			*value = w + 3 + ll;
			return 1;
		}
		if (!w[2 + ll] && words[i + 1]) {
			*value = words[i + 1];
			return 2;
		}
	}
	return 0;
}

/* SRC:DST[:OPTIONS]; sets ro when OPTIONS name "ro". */
static int parse_volume(const char *spec, struct run_volume *v,
			struct bm_error *err)
{
	const char *c1 = strchr(spec, ':'), *c2;
	char *opts;

	memset(v, 0, sizeof(*v));
	if (!c1 || c1 == spec || spec[0] != '/' || c1[1] != '/') {
		bm_error_set(err, BM_ERR_INVALID,
			     "--run-options: volume '%s' is not "
			     "/HOST-DIR:/TASK-DIR[:ro]",
			     spec);
		return -1;
	}
	c2 = strchr(c1 + 1, ':');
	v->src = strndup(spec, (size_t)(c1 - spec));
	v->dst = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1);
	if (c2) {
		char *tok, *save = NULL;

		opts = strdup(c2 + 1);
		for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
		     tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, "ro"))
				v->ro = true;
		free(opts);
	}
	if (!v->src || !v->dst) {
		free(v->src);
		free(v->dst);
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

void run_plan_release(struct run_plan *p)
{
	size_t i;

	task_argv_free(p->run_opts);
	task_argv_free(p->host_env);
	task_argv_free(p->spawn_env);
	for (i = 0; i < p->nvols; i++) {
		free(p->vols[i].src);
		free(p->vols[i].dst);
	}
	free(p->vols);
	memset(p, 0, sizeof(*p));
}

static bool staged_target(const struct run_plan *p, const char *dst)
{
	return p->stage &&
	       (!strcmp(dst, p->in_dir) || !strcmp(dst, p->out_dir));
}

/* The host runtime's reading of the run options. */
static int plan_host_options(struct run_plan *p, struct bm_error *err)
{
	struct argv_buf env = {0};
	size_t i = 0;
	int used;

	while (p->run_opts[i]) {
		const char *val;

		if ((used = opt_value(p->run_opts, i, 'v', "volume", &val))) {
			struct run_volume *nv =
			    realloc(p->vols, (p->nvols + 1) * sizeof(*nv));

			if (!nv) {
				bm_error_set(err, BM_ERR_NOMEM,
					     "out of memory");
				goto fail;
			}
			p->vols = nv;
			if (parse_volume(val, &p->vols[p->nvols], err))
				goto fail;
			p->nvols++;
		} else if ((used = opt_value(p->run_opts, i, 'w', "workdir",
					     &val))) {
			p->host_workdir = val;
		} else if ((used =
				opt_value(p->run_opts, i, 'e', "env", &val))) {
			av_add(&env, val);
		} else {
			used = 1;
			if (strcmp(p->run_opts[i], "--rm"))
				bm_warn("run: the host runtime ignores run "
					"option '%s'",
					p->run_opts[i]);
		}
		i += (size_t)used;
	}
	p->host_env = av_finish(&env, err);
	return p->host_env ? 0 : -1;
fail:
	task_argv_free(env.v);
	return -1;
}

/* Every --volume source must exist unless staging replaces it. */
static int check_sources(const struct run_plan *p, struct bm_error *err)
{
	size_t i = 0;
	int used;

	while (p->run_opts[i]) {
		const char *val;
		struct run_volume v;
		struct stat st;

		used = opt_value(p->run_opts, i, 'v', "volume", &val);
		if (!used) {
			i++;
			continue;
		}
		i += (size_t)used;
		if (parse_volume(val, &v, err))
			return -1;
		if (!staged_target(p, v.dst) && stat(v.src, &st)) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "volume source '%s' does not exist: mount "
				     "the containers there (blobmill-fuse) or "
				     "use --stage",
				     v.src);
			free(v.src);
			free(v.dst);
			return -1;
		}
		free(v.src);
		free(v.dst);
	}
	return 0;
}

/*
 * The environment of the process we start for a task: bwrap gets PATH
 * alone (its pid 1 keeps the environment it was started with, and a task
 * could read that in /proc/1/environ); an engine gets ours without any
 * AZURE_* variable (it needs its own: XDG_RUNTIME_DIR, DOCKER_HOST...).
 */
static char **spawn_env(enum run_runtime rt)
{
	extern char **environ;
	struct argv_buf a = {0};
	const char *path = getenv("PATH");
	char *kv;
	size_t i;

	if (rt == RUN_HOST) {
		if (asprintf(&kv, "PATH=%s",
			     path && *path ? path : RUN_DEFAULT_PATH) < 0)
			return NULL;
		av_add(&a, kv);
		free(kv);
	} else {
		for (i = 0; environ && environ[i]; i++)
			if (strncmp(environ[i], "AZURE_", 6))
				av_add(&a, environ[i]);
	}
	if (!a.failed && !a.v)
		a.v = calloc(1, sizeof(*a.v));
	if (a.failed) {
		task_argv_free(a.v);
		return NULL;
	}
	return a.v;
}

int run_plan_init(struct run_plan *p, enum run_runtime rt,
		  const struct run_settings *rs, bool stage,
		  struct bm_error *err)
{
	memset(p, 0, sizeof(*p));
	p->rt = rt;
	p->image = rs->image;
	p->in_dir = rs->in_dir;
	p->out_dir = rs->out_dir;
	p->env = rs->env;
	p->stage = stage;
	if (task_cmdline_split(rs->run_options, &p->run_opts, NULL, err)) {
		bm_error_prefix(err, "--run-options");
		goto fail;
	}
	if (rt == RUN_HOST) {
		if (!*rs->command) {
			bm_error_set(err, BM_ERR_INVALID,
				     "the host runtime needs a --command "
				     "(there is no image entrypoint without "
				     "an engine)");
			goto fail;
		}
		if (plan_host_options(p, err))
			goto fail;
	}
	if (check_sources(p, err))
		goto fail;
	p->spawn_env = spawn_env(rt);
	if (!p->spawn_env) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto fail;
	}
	return 0;
fail:
	run_plan_release(p);
	return -1;
}

/* "TASKDIR/in" or "TASKDIR/out" when staging replaces dst's source. */
static char *staged_source(const struct run_plan *p, const char *dst,
			   const char *taskdir)
{
	char *s = NULL;

	if (!staged_target(p, dst))
		return NULL;
	if (asprintf(&s, "%s/%s", taskdir,
		     !strcmp(dst, p->in_dir) ? "in" : "out") < 0)
		return NULL;
	return s;
}

/* Adds the engine's run options with staged volume sources swapped in,
 * then staged volumes the options did not mention. */
static void add_engine_options(struct argv_buf *a, const struct run_plan *p,
			       const char *taskdir, struct bm_error *err)
{
	bool have_in = false, have_out = false;
	size_t i = 0;
	char *vol;

	while (p->run_opts[i]) {
		const char *val;
		struct run_volume v;
		char *src;
		int used = opt_value(p->run_opts, i, 'v', "volume", &val);

		if (!used) {
			av_add(a, p->run_opts[i++]);
			continue;
		}
		i += (size_t)used;
		if (parse_volume(val, &v, err)) {
			a->failed = true;
			return;
		}
		have_in |= !strcmp(v.dst, p->in_dir);
		have_out |= !strcmp(v.dst, p->out_dir);
		src = staged_source(p, v.dst, taskdir);
		if (src && asprintf(&vol, "%s:%s%s", src, v.dst,
				    v.ro ? ":ro" : "") >= 0) {
			av_add2(a, "--volume", vol);
			free(vol);
		} else {
			av_add2(a, "--volume", val);
		}
		free(src);
		free(v.src);
		free(v.dst);
	}
	if (p->stage && !have_in &&
	    asprintf(&vol, "%s/in:%s", taskdir, p->in_dir) >= 0) {
		av_add2(a, "--volume", vol);
		free(vol);
	}
	if (p->stage && !have_out &&
	    asprintf(&vol, "%s/out:%s", taskdir, p->out_dir) >= 0) {
		av_add2(a, "--volume", vol);
		free(vol);
	}
}

/* The user's --env for an engine: --env NAME=VALUE each. */
static void add_engine_env(struct argv_buf *a, const struct run_plan *p)
{
	size_t i;

	for (i = 0; p->env && p->env[i]; i++)
		av_add2(a, "--env", p->env[i]);
}

/* --setenv NAME VALUE for each "NAME=VALUE" (or, from the run options'
 * -e NAME, the value here; unset: not passed, as docker does). */
static void add_host_env(struct argv_buf *a, char *const *env)
{
	size_t i;

	for (i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		char *k = eq ? strndup(env[i], (size_t)(eq - env[i]))
			     : strdup(env[i]);
		const char *v = eq ? eq + 1 : getenv(env[i]);

		if (!k)
			a->failed = true;
		else if (v) {
			av_add(a, "--setenv");
			av_add2(a, k, v);
		}
		free(k);
	}
}

/* bwrap's view of /: a tmpfs with the host's top-level entries bound in
 * (symlinks such as /bin -> usr/bin recreated as symlinks); /proc is
 * the task's own (--proc), not the host's. */
static void add_host_root(struct argv_buf *a)
{
	DIR *d = opendir("/");
	struct dirent *e;

	if (!d) {
		a->failed = true;
		return;
	}
	while ((e = readdir(d))) {
		char path[PATH_MAX], target[PATH_MAX];
		struct stat st;
		ssize_t n;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "proc"))
			continue;
		snprintf(path, sizeof(path), "/%s", e->d_name);
		if (lstat(path, &st))
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			av_add(a, "--symlink");
			av_add2(a, target, path);
		} else if (S_ISDIR(st.st_mode)) {
			av_add(a, "--dev-bind");
			av_add2(a, path, path);
		}
	}
	closedir(d);
	av_add2(a, "--proc", "/proc");
}

static void add_host_options(struct argv_buf *a, const struct run_plan *p,
			     const struct task *t, const char *taskdir)
{
	bool have_in = false, have_out = false;
	size_t i;

	const char *path = getenv("PATH");

	/* --unshare-pid: no /proc/PID/environ of ours (or of the shell that
	 * holds the key) to read; --new-session: no TIOCSTI into our
	 * terminal. */
	av_add2(a, "bwrap", "--die-with-parent");
	av_add2(a, "--new-session", "--unshare-pid");
	av_add(a, "--clearenv");
	av_add(a, "--setenv");
	av_add2(a, "PATH", path && *path ? path : RUN_DEFAULT_PATH);
	if (getenv("HOME")) {
		av_add(a, "--setenv");
		av_add2(a, "HOME", getenv("HOME"));
	}
	if (getenv("LANG")) {
		av_add(a, "--setenv");
		av_add2(a, "LANG", getenv("LANG"));
	}
	av_add(a, "--setenv");
	av_add2(a, "AZ_BATCH_TASK_ID", t->id);
	add_host_root(a);
	for (i = 0; i < p->nvols; i++) {
		const struct run_volume *v = &p->vols[i];
		char *src = staged_source(p, v->dst, taskdir);

		have_in |= !strcmp(v->dst, p->in_dir);
		have_out |= !strcmp(v->dst, p->out_dir);
		av_add(a, v->ro ? "--ro-bind" : "--bind");
		av_add2(a, src ? src : v->src, v->dst);
		free(src);
	}
	if (p->stage) {
		char *s;

		if (!have_in && asprintf(&s, "%s/in", taskdir) >= 0) {
			av_add(a, "--bind");
			av_add2(a, s, p->in_dir);
			free(s);
		}
		if (!have_out && asprintf(&s, "%s/out", taskdir) >= 0) {
			av_add(a, "--bind");
			av_add2(a, s, p->out_dir);
			free(s);
		}
	}
	av_add(a, "--setenv");
	av_add2(a, "AZ_BATCH_TASK_WORKING_DIR", taskdir);
	add_host_env(a, p->host_env);
	add_host_env(a, p->env);
	/* Batch starts a task in its task directory unless --workdir. */
	av_add2(a, "--chdir", p->host_workdir ? p->host_workdir : taskdir);
	av_add(a, "--");
}

int run_task_argv(const struct run_plan *p, const struct task *t,
		  const char *taskdir, char ***argv_out, struct bm_error *err)
{
	struct argv_buf a = {0};
	char **cmd = NULL, *env_id;
	size_t i;

	*argv_out = NULL;
	if (task_cmdline_split(t->command_line, &cmd, NULL, err)) {
		bm_error_prefix(err, "commandLine of '%s'", t->id);
		return -1;
	}
	/* Like a pool node, tell the task its id (AZ_BATCH_TASK_ID). */
	if (asprintf(&env_id, "AZ_BATCH_TASK_ID=%s", t->id) < 0) {
		env_id = NULL;
		a.failed = true;
	}
	switch (p->rt) {
	case RUN_DOCKER:
		av_add2(&a, "docker", "run");
		av_add(&a, "--rm");
		av_add2(&a, "--env", env_id ? env_id : "");
		add_engine_env(&a, p);
		add_engine_options(&a, p, taskdir, err);
		av_add(&a, p->image);
		break;
	case RUN_PODMAN:
		av_add2(&a, "podman", "--runtime");
		av_add2(&a, "runc", "run");
		av_add(&a, "--rm");
		av_add2(&a, "--ulimit", "nofile=1024:20000");
		av_add2(&a, "--ulimit", "nproc=32768:32768");
		/* podman copies the caller's proxy variables by default */
		av_add(&a, "--http-proxy=false");
		av_add2(&a, "--env", env_id ? env_id : "");
		add_engine_env(&a, p);
		add_engine_options(&a, p, taskdir, err);
		av_add(&a, p->image);
		break;
	case RUN_HOST:
	case RUN_AUTO:
		add_host_options(&a, p, t, taskdir);
		break;
	}
	for (i = 0; cmd[i]; i++)
		av_add(&a, cmd[i]);
	task_argv_free(cmd);
	free(env_id);
	*argv_out = av_finish(&a, err);
	return *argv_out ? 0 : -1;
}

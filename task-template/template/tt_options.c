/*
 * tt_options: the input and template options that `blobmill tasks`, `run`
 * and `submit` share (TT_TEMPLATE_LONGOPTS). One table in the header, one
 * setter here, one check after the whole command line (tt_options_finish),
 * so the three commands cannot drift apart.
 *
 * The registry password is never an option value (it would show in `ps`):
 * it is read from a named environment variable or a file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm_log.h"
#include "tasktemplate.h"

void tt_options_init(struct tt_options *o)
{
	memset(o, 0, sizeof(*o));
	/* strdup()ed so that tt_options_set can free whatever is there */
	o->run_options = strdup(TT_DEFAULT_RUN_OPTIONS);
	o->output_name = strdup(TT_DEFAULT_OUTPUT_NAME);
	o->in_dir = strdup(TT_DEFAULT_IN_DIR);
	o->out_dir = strdup(TT_DEFAULT_OUT_DIR);
}

static void free_list(char **l)
{
	size_t i;

	for (i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

static void wipe_free(char *s)
{
	if (s) {
		/* volatile: the compiler may not drop the stores before free */
		volatile char *p = s;

		while (*p)
			*p++ = '\0';
		free(s);
	}
}

void tt_options_release(struct tt_options *o)
{
	free(o->input);
	free(o->prefix);
	free_list(o->include);
	free_list(o->exclude);
	free(o->output);
	free(o->image);
	free(o->command);
	free(o->run_options);
	free(o->output_name);
	free(o->in_dir);
	free(o->out_dir);
	free(o->registry);
	free(o->registry_user);
	free(o->registry_password_env);
	free(o->registry_password_file);
	wipe_free(o->registry_password);
	free_list(o->env);
	memset(o, 0, sizeof(*o));
}

static int set_str(char **field, const char *arg, struct bm_error *err)
{
	char *s = strdup(arg);

	if (!s) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

static int list_add(char ***list, const char *arg, struct bm_error *err)
{
	size_t n = 0;
	char **l;

	while (*list && (*list)[n])
		n++;
	l = realloc(*list, (n + 2) * sizeof(*l));
	if (!l || !(l[n] = strdup(arg))) {
		if (l)
			*list = l;
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		return -1;
	}
	l[n + 1] = NULL;
	*list = l;
	return 0;
}

/* --in-dir/--out-dir: absolute, stored without trailing '/' ("/" => ""). */
static int set_dir(char **field, const char *opt, const char *arg,
		   struct bm_error *err)
{
	size_t n = strlen(arg);

	if (arg[0] != '/') {
		bm_error_set(err, BM_ERR_INVALID,
			     "%s '%s': must be an absolute path", opt, arg);
		return -1;
	}
	while (n > 0 && arg[n - 1] == '/')
		n--;
	if (set_str(field, arg, err))
		return -1;
	(*field)[n] = '\0';
	return 0;
}

static int set_container(char **field, const char *opt, const char *arg,
			 struct bm_error *err)
{
	if (!*arg || strchr(arg, '/')) {
		bm_error_set(err, BM_ERR_INVALID,
			     "%s '%s': not a container name (use --prefix for "
			     "a folder)",
			     opt, arg);
		return -1;
	}
	return set_str(field, arg, err);
}

/* --env NAME=VALUE or --env NAME; NAME as a shell variable name, so
 * that every runtime (and Batch's environmentSettings) takes it. */
static int env_add(char ***list, const char *arg, struct bm_error *err)
{
	size_t n = strcspn(arg, "=");
	size_t i;

	for (i = 0; i < n; i++)
		if (!(arg[i] == '_' || (arg[i] >= 'A' && arg[i] <= 'Z') ||
		      (arg[i] >= 'a' && arg[i] <= 'z') ||
		      (i > 0 && arg[i] >= '0' && arg[i] <= '9')))
			break;
	if (n == 0 || i < n) {
		bm_error_set(err, BM_ERR_INVALID,
			     "--env '%s': expected NAME=VALUE or NAME, NAME "
			     "made of letters, digits and '_'",
			     arg);
		return -1;
	}
	return list_add(list, arg, err);
}

/* Turns each bare NAME of --env into NAME=VALUE from this environment,
 * dropping the unset ones (docker's -e NAME does the same). */
static int env_resolve(char **env, struct bm_error *err)
{
	size_t i, j = 0;

	for (i = 0; env && env[i]; i++) {
		const char *v;
		char *kv;

		if (strchr(env[i], '=')) {
			env[j++] = env[i];
			continue;
		}
		v = getenv(env[i]);
		if (!v) {
			free(env[i]);
			continue;
		}
		if (asprintf(&kv, "%s=%s", env[i], v) < 0) {
			bm_error_set(err, BM_ERR_NOMEM, "out of memory");
			for (; env[i]; i++)
				env[j++] = env[i];
			env[j] = NULL;
			return -1;
		}
		free(env[i]);
		env[j++] = kv;
	}
	if (env)
		env[j] = NULL;
	return 0;
}

int tt_options_set(struct tt_options *o, int opt, const char *arg,
		   struct bm_error *err)
{
	switch (opt) {
	case TT_OPT_INPUT:
		return set_container(&o->input, "--input", arg, err);
	case TT_OPT_PREFIX:
		return set_str(&o->prefix, arg, err);
	case TT_OPT_INCLUDE:
		return list_add(&o->include, arg, err);
	case TT_OPT_EXCLUDE:
		return list_add(&o->exclude, arg, err);
	case TT_OPT_OUTPUT:
		return set_container(&o->output, "--output", arg, err);
	case TT_OPT_IMAGE:
		return set_str(&o->image, arg, err);
	case TT_OPT_COMMAND:
		o->command_set = true;
		return set_str(&o->command, arg, err);
	case TT_OPT_RUN_OPTIONS:
		return set_str(&o->run_options, arg, err);
	case TT_OPT_OUTPUT_NAME:
		return set_str(&o->output_name, arg, err);
	case TT_OPT_IN_DIR:
		return set_dir(&o->in_dir, "--in-dir", arg, err);
	case TT_OPT_OUT_DIR:
		return set_dir(&o->out_dir, "--out-dir", arg, err);
	case TT_OPT_REGISTRY:
		return set_str(&o->registry, arg, err);
	case TT_OPT_REGISTRY_USER:
		return set_str(&o->registry_user, arg, err);
	case TT_OPT_REGISTRY_PASSWORD_ENV:
		return set_str(&o->registry_password_env, arg, err);
	case TT_OPT_REGISTRY_PASSWORD_FILE:
		return set_str(&o->registry_password_file, arg, err);
	case TT_OPT_SKIP_EXISTING:
		o->skip_existing = true;
		return 0;
	case TT_OPT_ENV:
		return env_add(&o->env, arg, err);
	}
	bm_error_set(err, BM_ERR_INVALID, "option %d is not a template option",
		     opt);
	return -1;
}

/* Reads the whole (small) password file; drops trailing CR/LF. */
static char *read_secret_file(const char *path, struct bm_error *err)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;

	if (!f) {
		bm_error_set(err, BM_ERR_IO,
			     "cannot read registry password file '%s': %s",
			     path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || !feof(f)) {
		bm_error_set(err, BM_ERR_IO,
			     "cannot read registry password file '%s': %s",
			     path, ferror(f) ? strerror(errno) : "too large");
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return strdup(buf);
}

static int load_registry_password(struct tt_options *o, struct bm_error *err)
{
	char *pw = NULL;

	if (o->registry_password_env && o->registry_password_file) {
		bm_error_set(err, BM_ERR_INVALID,
			     "give --registry-password-env or "
			     "--registry-password-file, not both");
		return -1;
	}
	if (o->registry_password_env) {
		const char *v = getenv(o->registry_password_env);

		if (!v || !*v) {
			bm_error_set(err, BM_ERR_CONFIG,
				     "registry password variable '%s' is not "
				     "set",
				     o->registry_password_env);
			return -1;
		}
		pw = strdup(v);
	} else if (o->registry_password_file) {
		pw = read_secret_file(o->registry_password_file, err);
		if (!pw)
			return -1;
	}
	if (!pw || !*pw) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "registry '%s' needs a password: "
			     "--registry-password-env VAR or "
			     "--registry-password-file FILE",
			     o->registry);
		wipe_free(pw);
		return -1;
	}
	bm_redact_register(pw);
	wipe_free(o->registry_password);
	o->registry_password = pw;
	return 0;
}

int tt_options_finish(struct tt_options *o, struct bm_error *err)
{
	struct tt_template *t = NULL;

	if (!o->input) {
		bm_error_set(err, BM_ERR_INVALID,
			     "--input CONTAINER is required");
		return -1;
	}
	if (!o->image && !o->image_optional) {
		bm_error_set(err, BM_ERR_INVALID, "--image IMAGE is required");
		return -1;
	}
	if (!o->command_set) {
		bm_error_set(err, BM_ERR_INVALID,
			     "--command TEMPLATE is required (--command '' "
			     "keeps the image's entrypoint)");
		return -1;
	}
	if (o->skip_existing && !o->output) {
		bm_error_set(err, BM_ERR_INVALID,
			     "--skip-existing needs --output CONTAINER");
		return -1;
	}
	if (!*o->output_name) {
		bm_error_set(err, BM_ERR_INVALID, "--output-name is empty");
		return -1;
	}
	if (!o->registry && (o->registry_user || o->registry_password_env ||
			     o->registry_password_file)) {
		bm_error_set(err, BM_ERR_INVALID,
			     "registry credentials given without --registry "
			     "SERVER");
		return -1;
	}
	if (o->registry) {
		if (!o->registry_user) {
			bm_error_set(err, BM_ERR_INVALID,
				     "registry '%s' needs --registry-user",
				     o->registry);
			return -1;
		}
		if (load_registry_password(o, err))
			return -1;
	}
	if (env_resolve(o->env, err))
		return -1;
	/* Parse now so that a template error stops before any request. */
	if (tt_template_parse(o->command, "--command", true, &t, err))
		return -1;
	tt_template_free(t);
	if (tt_template_parse(o->output_name, "--output-name", false, &t, err))
		return -1;
	if (tt_template_uses(t, TT_F_OUT)) {
		tt_template_free(t);
		bm_error_set(err, BM_ERR_INVALID,
			     "--output-name: '{out}' cannot be used in the "
			     "output name itself");
		return -1;
	}
	tt_template_free(t);
	return 0;
}

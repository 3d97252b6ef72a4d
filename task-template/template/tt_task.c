/*
 * tt_task: from one blob name to one Batch task: the compiled spec (parsed
 * templates, filters, container settings), task ids, and the
 * TaskAddParameter JSON.
 *
 * Not here: listing (tt_iter.c) and running (cmd_run.c).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tasktemplate.h"

struct tt_spec {
	const struct tt_options *o;
	struct tt_template *command;
	struct tt_template *output_name;
	struct tt_container container;
	const char *endpoint;
	char *endpoint_copy;
};

/* ------------------------------------------------------------------ */
/* Task ids                                                            */
/* ------------------------------------------------------------------ */

/* Room for the readable part: 64 - '-' - 16 hex digits. */
#define TT_ID_STEM_MAX (TT_TASK_ID_MAX - 1 - 16)

static bool id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void tt_task_id(const char *name, char id[TT_TASK_ID_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	const char *slash = strrchr(name, '/');
	const unsigned char *base =
	    (const unsigned char *)(slash && slash[1] ? slash + 1 : name);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = 0, i;

	/* Readable part: the basename, runs of other bytes folded into one
	 * '_' so "photo 1.jpg" reads "photo_1_jpg". */
	for (i = 0; base[i] && n < TT_ID_STEM_MAX; i++) {
		if (id_char(base[i]))
			id[n++] = (char)base[i];
		else if (n == 0 || id[n - 1] != '_')
			id[n++] = '_';
	}
	if (n > 0)
		id[n++] = '-';
	/* The hash makes the id unique: SHA-256 of the exact bytes, so names
	 * that differ in case or only in folded bytes differ here, and the
	 * lowercase hex cannot collide by case. 64 bits: a collision among
	 * 100,000 blobs has odds of about 3e-10. */
	EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < 8; i++) {
		id[n++] = hex[md[i] >> 4];
		id[n++] = hex[md[i] & 15];
	}
	id[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Specs                                                               */
/* ------------------------------------------------------------------ */

/* True when the run options name a working directory (-w, --workdir,
 * -wDIR, --workdir=DIR), as docker/podman read them. */
static bool run_options_set_workdir(const char *run_options,
				    struct bm_error *err, int *rc)
{
	char **argv = NULL;
	bool found = false;
	size_t i;

	*rc = tt_cmdline_split(run_options, &argv, NULL, err);
	if (*rc) {
		bm_error_prefix(err, "--run-options");
		return false;
	}
	for (i = 0; argv[i]; i++) {
		if (!strncmp(argv[i], "-w", 2) ||
		    !strcmp(argv[i], "--workdir") ||
		    !strncmp(argv[i], "--workdir=", 10))
			found = true;
	}
	tt_argv_free(argv);
	return found;
}

int tt_spec_new(const struct tt_options *o, const char *endpoint,
		struct tt_spec **out, struct bm_error *err)
{
	struct tt_spec *s = calloc(1, sizeof(*s));
	int rc = -1, split_rc;

	*out = NULL;
	if (!s) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->o = o;
	s->endpoint_copy = strdup(endpoint ? endpoint : "");
	if (!s->endpoint_copy) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->endpoint = s->endpoint_copy;
	if (tt_template_parse(o->command ? o->command : "", "--command", true,
			      &s->command, err) ||
	    tt_template_parse(o->output_name, "--output-name", false,
			      &s->output_name, err))
		goto out;
	s->container.image = o->image ? o->image : "";
	s->container.run_options = o->run_options ? o->run_options : "";
	s->container.registry = o->registry;
	s->container.registry_user = o->registry_user;
	s->container.registry_password = o->registry_password;
	s->container.env = o->env;
	s->container.workdir_image_default =
	    run_options_set_workdir(s->container.run_options, err, &split_rc);
	if (split_rc)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	tt_spec_free(s);
	return rc;
}

void tt_spec_free(struct tt_spec *s)
{
	if (!s)
		return;
	tt_template_free(s->command);
	tt_template_free(s->output_name);
	free(s->endpoint_copy);
	free(s);
}

const struct tt_container *tt_spec_container(const struct tt_spec *s)
{
	return &s->container;
}

const struct tt_options *tt_spec_options(const struct tt_spec *s)
{
	return s->o;
}

static bool matches_any(char *const *globs, const char *name)
{
	size_t i;

	for (i = 0; globs && globs[i]; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

bool tt_spec_selects(const struct tt_spec *s, const char *name,
		     bool is_dir_marker)
{
	const struct tt_options *o = s->o;

	if (is_dir_marker)
		return false;
	if (o->prefix && strncmp(name, o->prefix, strlen(o->prefix)))
		return false;
	/* fnmatch without FNM_PATHNAME: '*' matches '/' too, so '*.jpg'
	 * selects every .jpg in every folder. */
	if (o->include && !matches_any(o->include, name))
		return false;
	return !matches_any(o->exclude, name);
}

/* ------------------------------------------------------------------ */
/* Tasks                                                               */
/* ------------------------------------------------------------------ */

void tt_task_release(struct tt_task *t)
{
	free(t->blob);
	free(t->output_name);
	free(t->command_line);
	memset(t, 0, sizeof(*t));
}

/* out-dir + '/' + the output name's folder, or NULL when it has none. */
static char *output_parent(const char *out_dir, const char *out_name,
			   bool *nomem)
{
	const char *slash = strrchr(out_name, '/');
	size_t ld = strlen(out_dir), lp;
	char *p;

	*nomem = false;
	if (!slash)
		return NULL;
	lp = (size_t)(slash - out_name);
	p = malloc(ld + 1 + lp + 1);
	if (!p) {
		*nomem = true;
		return NULL;
	}
	memcpy(p, out_dir, ld);
	p[ld] = '/';
	memcpy(p + ld + 1, out_name, lp);
	p[ld + 1 + lp] = '\0';
	return p;
}

const char *tt_name_path_problem(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return "a name starting with '/' cannot be a relative path";
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "an empty, '.' or '..' path component cannot be "
			       "a local file";
		if (n > NAME_MAX)
			return "a path component longer than 255 bytes cannot "
			       "be a file name";
		if (!slash)
			return NULL;
		p = slash + 1;
	}
}

int tt_task_make(const struct tt_spec *s, const char *name, uint64_t index,
		 uint64_t size, time_t mtime, struct tt_task *t,
		 struct bm_error *err)
{
	const struct tt_options *o = s->o;
	struct tt_values vals;
	char *parent = NULL;
	const char *why;
	bool nomem = false;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if (tt_values_init(&vals, name, index, o->in_dir, o->out_dir, NULL,
			   s->endpoint, o->input, err))
		return -1;
	t->output_name = tt_template_expand(s->output_name, &vals, err);
	tt_values_release(&vals);
	if (!t->output_name)
		goto out;
	if (!*t->output_name || strlen(t->output_name) > 1024) {
		bm_error_set(err, BM_ERR_INVALID,
			     "its output name is %zu bytes (a blob name is 1 "
			     "to 1,024)",
			     strlen(t->output_name));
		goto out;
	}
	why = tt_name_path_problem(t->output_name);
	if (why) {
		bm_error_set(err, BM_ERR_INVALID,
			     "its output name cannot be a file under the out "
			     "dir: %s",
			     why);
		goto out;
	}
	why = tt_template_uses(s->command, TT_F_IN) ? tt_name_path_problem(name)
						    : NULL;
	if (why) {
		bm_error_set(err, BM_ERR_INVALID,
			     "{in} cannot be its path under the in dir: %s",
			     why);
		goto out;
	}
	if (tt_values_init(&vals, name, index, o->in_dir, o->out_dir,
			   t->output_name, s->endpoint, o->input, err))
		goto out;
	parent = output_parent(o->out_dir, t->output_name, &nomem);
	if (!nomem)
		t->command_line =
		    tt_command_line(s->command, &vals, parent, err);
	tt_values_release(&vals);
	t->blob = strdup(name);
	if (nomem || !t->command_line || !t->blob) {
		bm_error_set(err, BM_ERR_NOMEM, "out of memory");
		goto out;
	}
	tt_task_id(name, t->id);
	t->index = index;
	t->size = size;
	t->mtime = mtime;
	t->container = &s->container;
	rc = 0;
out:
	free(parent);
	if (rc)
		tt_task_release(t);
	return rc;
}

/* json_string() refuses invalid UTF-8; names from Azure are always valid,
 * names from elsewhere may not be. Cut to at most max bytes on a character
 * boundary. */
static json_t *json_str_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	return json_stringn(s, n);
}

/* --env as Batch's environmentSettings: [{"name", "value"}...]. */
static json_t *env_settings(char *const *env)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		json_t *e =
		    eq ? json_pack("{s:s%, s:s}", "name", env[i],
				   (size_t)(eq - env[i]), "value", eq + 1)
		       : NULL;

		if (!e || json_array_append_new(a, e)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *tt_task_to_json(const struct tt_task *t)
{
	const struct tt_container *c = t->container;
	json_t *task = json_object(), *cs = json_object(), *reg = NULL;
	int bad = !task || !cs;

	bad |= json_object_set_new(task, "id", json_string(t->id));
	/* displayName: Batch allows 1,024 characters. */
	bad |= json_object_set_new(task, "displayName",
				   json_str_cut(t->blob, 1024));
	bad |= json_object_set_new(task, "commandLine",
				   json_string(t->command_line));
	bad |= json_object_set_new(cs, "imageName", json_string(c->image));
	if (*c->run_options)
		bad |= json_object_set_new(cs, "containerRunOptions",
					   json_string(c->run_options));
	if (c->registry) {
		reg = json_object();
		bad |= !reg;
		bad |= json_object_set_new(reg, "registryServer",
					   json_string(c->registry));
		bad |= json_object_set_new(reg, "username",
					   json_string(c->registry_user));
		bad |= json_object_set_new(reg, "password",
					   json_string(c->registry_password));
		bad |= json_object_set_new(cs, "registry", reg);
	}
	/* A --workdir in the run options only takes effect when Batch does
	 * not impose the task directory. */
	bad |= json_object_set_new(cs, "workingDirectory",
				   json_string(c->workdir_image_default
						   ? "containerImageDefault"
						   : "taskWorkingDirectory"));
	bad |= json_object_set_new(task, "containerSettings", cs);
	if (c->env && c->env[0])
		bad |= json_object_set_new(task, "environmentSettings",
					   env_settings(c->env));
	if (bad) {
		json_decref(task);
		return NULL;
	}
	return task;
}

/*
 * tt_task: from one blob name to one Batch task: the compiled spec (parsed
 * templates, filters, container settings) and tt_task_make.
 *
 * Not here: what a task is once made (its id, JSON, release: task/task.c),
 * listing (tt_iter.c) and running (runner/).
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktemplate.h"

struct tt_spec {
	const struct tt_options *o;
	struct tt_template *command;
	struct tt_template *output_name;
	struct task_container container;
	const char *endpoint;
	char *endpoint_copy;
};

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

	*rc = task_cmdline_split(run_options, &argv, NULL, err);
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
	task_argv_free(argv);
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

const struct task_container *tt_spec_container(const struct tt_spec *s)
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

int tt_task_make(const struct tt_spec *s, const char *name, uint64_t index,
		 uint64_t size, time_t mtime, struct task *t,
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
	why = task_name_path_problem(t->output_name);
	if (why) {
		bm_error_set(err, BM_ERR_INVALID,
			     "its output name cannot be a file under the out "
			     "dir: %s",
			     why);
		goto out;
	}
	why = tt_template_uses(s->command, TT_F_IN)
		  ? task_name_path_problem(name)
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
	task_make_id(name, t->id);
	t->index = index;
	t->size = size;
	t->mtime = mtime;
	t->container = &s->container;
	rc = 0;
out:
	free(parent);
	if (rc)
		task_release(t);
	return rc;
}

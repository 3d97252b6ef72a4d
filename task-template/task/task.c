/*
 * task: what a task is, apart from how it was made: its id (a hash of the
 * blob name), the TaskAddParameter JSON Batch receives, the rule that
 * says whether a name can be a relative path, and its release.
 *
 * Not here: making a task from a blob (template/tt_task.c), shell words
 * (task_shell.c), submitting (batch/) or running (runner/).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "task.h"

/* ------------------------------------------------------------------ */
/* Task ids                                                            */
/* ------------------------------------------------------------------ */

/* Room for the readable part: 64 - '-' - 16 hex digits. */
#define TASK_ID_STEM_MAX (TASK_ID_MAX - 1 - 16)

static bool id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void task_make_id(const char *name, char id[TASK_ID_MAX + 1])
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
	for (i = 0; base[i] && n < TASK_ID_STEM_MAX; i++) {
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
/* Tasks                                                               */
/* ------------------------------------------------------------------ */

void task_release(struct task *t)
{
	free(t->blob);
	free(t->output_name);
	free(t->command_line);
	memset(t, 0, sizeof(*t));
}

const char *task_name_path_problem(const char *name)
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

json_t *task_to_json(const struct task *t)
{
	const struct task_container *c = t->container;
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

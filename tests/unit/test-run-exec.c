/*
 * Unit tests of run_exec (blobmill run): the argv given to docker, podman
 * and bubblewrap for a task, staged volumes replacing the mounts, the host
 * runtime's reading of the run options, and which names can be staged.
 * Docker is not installed on CI machines, so its argv is proven here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>

#include "bm_log.h"
#include "runner.h"
#include "tasktemplate.h"

/* Fails unless s holds every string of parts (NULL-terminated). */
static void expect_in(const char *s, const char *const parts[])
{
	for (; *parts; parts++)
		if (!strstr(s, *parts))
			fail_msg("'%s' is not in '%s'", *parts, s);
}

/* Fails if s holds any string of parts (NULL-terminated). */
static void expect_not_in(const char *s, const char *const parts[])
{
	for (; *parts; parts++)
		if (strstr(s, *parts))
			fail_msg("'%s' is in '%s'", *parts, s);
}

static void opts_make(struct tt_options *o, const char *command,
		      const char *run_options)
{
	struct bm_error err;

	bm_error_clear(&err);
	tt_options_init(o);
	assert_int_equal(tt_options_set(o, TT_OPT_INPUT, "in", &err), 0);
	assert_int_equal(tt_options_set(o, TT_OPT_OUTPUT, "out", &err), 0);
	assert_int_equal(tt_options_set(o, TT_OPT_IMAGE, "img:1", &err), 0);
	assert_int_equal(tt_options_set(o, TT_OPT_COMMAND, command, &err), 0);
	assert_int_equal(
	    tt_options_set(o, TT_OPT_RUN_OPTIONS, run_options, &err), 0);
	assert_int_equal(tt_options_finish(o, &err), 0);
}

/* run_plan_init with the options' values, as cmd_run passes them. */
static int plan_init(struct run_plan *p, enum run_runtime rt,
		     const struct tt_options *o, bool stage,
		     struct bm_error *err)
{
	const struct run_settings rs = {
	    .image = o->image,
	    .command = o->command,
	    .run_options = o->run_options,
	    .in_dir = o->in_dir,
	    .out_dir = o->out_dir,
	    .env = o->env,
	};

	return run_plan_init(p, rt, &rs, stage, err);
}

/* The argv of blob `name`'s task joined with '|', for easy comparison. */
static char *task_argv(const struct tt_options *o, enum run_runtime rt,
		       bool stage, const char *name)
{
	struct run_plan plan;
	struct tt_spec *spec;
	struct task t;
	struct bm_error err;
	char **argv, *s = NULL;
	size_t len = 0, i;

	bm_error_clear(&err);
	assert_int_equal(plan_init(&plan, rt, o, stage, &err), 0);
	assert_int_equal(tt_spec_new(o, "http://e", &spec, &err), 0);
	assert_int_equal(tt_task_make(spec, name, 0, 1, 0, &t, &err), 0);
	assert_int_equal(run_task_argv(&plan, &t, "/run/T", &argv, &err), 0);
	for (i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]);

		s = realloc(s, len + n + 2);
		assert_non_null(s);
		memcpy(s + len, argv[i], n);
		len += n;
		s[len++] = argv[i + 1] ? '|' : '\0';
	}
	task_argv_free(argv);
	task_release(&t);
	tt_spec_free(spec);
	run_plan_release(&plan);
	return s;
}

/* "AZ_BATCH_TASK_ID=ID" of blob name. */
static char *task_env(const char *name)
{
	char id[TASK_ID_MAX + 1], *s;

	task_make_id(name, id);
	assert_true(asprintf(&s, "AZ_BATCH_TASK_ID=%s", id) > 0);
	return s;
}

/* The argv of blob `name`'s task under an engine, staged: exactly
 * before + "AZ_BATCH_TASK_ID=ID" + after. */
static void expect_engine_argv(enum run_runtime rt, const char *command,
			       const char *run_opts, const char *name,
			       const char *before, const char *after)
{
	struct tt_options o;
	char *s, *want, *env = task_env(name);

	opts_make(&o, command, run_opts);
	s = task_argv(&o, rt, true, name);
	assert_true(asprintf(&want, "%s%s%s", before, env, after) > 0);
	assert_string_equal(s, want);
	free(want);
	free(env);
	free(s);
	tt_options_release(&o);
}

static void test_docker_staged(void **state)
{
	(void)state;
	expect_engine_argv(RUN_DOCKER, "app {in}",
			   "--workdir /app -v /mnt/data-in:/data-in:ro "
			   "--volume=/mnt/data-out:/data-out -e 'A=b c'",
			   "my file", "docker|run|--rm|--env|",
			   "|--workdir|/app|"
			   "--volume|/run/T/in:/data-in:ro|"
			   "--volume|/run/T/out:/data-out|-e|A=b c|img:1|"
			   "/bin/sh|-c|app \"${1}\"|sh|/data-in/my file");
}

static void test_podman_staged_adds_volumes(void **state)
{
	(void)state;
	/* no volume at in-dir/out-dir: staging adds both */
	expect_engine_argv(RUN_PODMAN, "app {name}", "--network none", "x",
			   "podman|--runtime|runc|run|--rm|--ulimit|"
			   "nofile=1024:20000|--ulimit|nproc=32768:32768|"
			   "--http-proxy=false|--env|",
			   "|--network|none|"
			   "--volume|/run/T/in:/data-in|"
			   "--volume|/run/T/out:/data-out|img:1|/bin/sh|-c|"
			   "app x");
}

static void test_engine_empty_command_keeps_entrypoint(void **state)
{
	struct tt_options o;
	char *s;

	opts_make(&o, "", "");
	s = task_argv(&o, RUN_PODMAN, false, "x");
	assert_non_null(strstr(s, "|img:1"));
	assert_int_equal(strcmp(s + strlen(s) - 6, "|img:1"), 0);
	free(s);
	tt_options_release(&o);
}

static void test_host_argv(void **state)
{
	struct tt_options o;
	char *s;

	opts_make(&o, "app {in}",
		  "--workdir /tmp -v /tmp:/data-in --volume /usr:/opt/u:ro "
		  "--env K=v --rm --cpus 2");
	s = task_argv(&o, RUN_HOST, true, "a b");
	assert_int_equal(strncmp(s, "bwrap|--die-with-parent|", 24), 0);
	/* the host's top-level directories are bound in */
	assert_non_null(strstr(s, "|--dev-bind|/usr|/usr|"));
	/* staging replaces the in-dir volume's source, adds out-dir */
	expect_in(s,
		  (const char *const[]){
		      "|--bind|/run/T/in|/data-in|", "|--ro-bind|/usr|/opt/u|",
		      "|--bind|/run/T/out|/data-out|", "|--setenv|K|v|",
		      "|--setenv|AZ_BATCH_TASK_ID|a_b-",
		      "|--setenv|AZ_BATCH_TASK_WORKING_DIR|/run/T|",
		      "|--chdir|/tmp|--|/bin/sh|-c|"
		      "app \"${1}\"|sh|/data-in/a b",
		      NULL});
	free(s);
	tt_options_release(&o);

	/* without --workdir the task starts in its directory, like Batch */
	opts_make(&o, "app", "");
	s = task_argv(&o, RUN_HOST, true, "x");
	assert_non_null(strstr(s, "|--chdir|/run/T|--|"));
	free(s);
	tt_options_release(&o);
}

/* Issue 17 defect 6: the host runtime's task gets a clean environment
 * (never the CLI's AZURE_STORAGE_*), its own pid namespace and /proc. */
static void test_host_clean_environment(void **state)
{
	struct tt_options o;
	struct bm_error err;
	char *s;

	setenv("AZURE_STORAGE_ACCESS_KEY", "c2VjcmV0", 1);
	setenv("BM_TEST_PASSED", "from-here", 1);
	unsetenv("BM_TEST_UNSET");
	opts_make(&o, "app", "-e RUNOPT=1");
	bm_error_clear(&err);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "USER_V=a b", &err), 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "BM_TEST_PASSED", &err),
			 0);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "BM_TEST_UNSET", &err),
			 0);
	assert_int_equal(tt_options_finish(&o, &err), 0);
	s = task_argv(&o, RUN_HOST, true, "x");
	assert_int_equal(strncmp(s,
				 "bwrap|--die-with-parent|--new-session|"
				 "--unshare-pid|--clearenv|--setenv|PATH|",
				 62),
			 0);
	assert_non_null(strstr(s, "|--proc|/proc|"));
	expect_not_in(s, (const char *const[]){"|/proc|/proc|", "AZURE",
					       "c2VjcmV0", NULL});
	expect_in(s, (const char *const[]){
			 "|--setenv|RUNOPT|1|", "|--setenv|USER_V|a b|",
			 "|--setenv|BM_TEST_PASSED|from-here|", NULL});
	assert_null(strstr(s, "BM_TEST_UNSET"));
	free(s);

	/* the engines get the user's --env, nothing else of ours */
	s = task_argv(&o, RUN_DOCKER, true, "x");
	assert_non_null(strstr(s, "|--env|USER_V=a b|"));
	assert_non_null(strstr(s, "|--env|BM_TEST_PASSED=from-here|"));
	assert_null(strstr(s, "AZURE"));
	free(s);
	tt_options_release(&o);
	unsetenv("AZURE_STORAGE_ACCESS_KEY");

	/* a bad name is refused where it is given */
	tt_options_init(&o);
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "1X=y", &err), -1);
	assert_non_null(strstr(err.msg, "--env '1X=y'"));
	assert_int_equal(tt_options_set(&o, TT_OPT_ENV, "=y", &err), -1);
	tt_options_release(&o);
}

/* Writes DIR/NAME (mode 0600) holding text. */
static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Issue 17 defect 5: the stage-out uploads regular files beneath the
 * out directory only, never what a link points at. */
static void test_stage_out_refuses_links(void **state)
{
	struct bm_blob_client *c = bm_blob_client_new_memory();
	char dir[] = "/tmp/test-run-exec-XXXXXX", path[256], out[300];
	struct bm_blob_info info;
	struct bm_error err;

	assert_non_null(c);
	assert_non_null(mkdtemp(dir));
	bm_error_clear(&err);
	assert_int_equal(c->ops->create_container(c, "out", &err), 0);
	snprintf(out, sizeof(out), "%s/out", dir);
	assert_int_equal(mkdir(out, 0755), 0);
	write_file(dir, "secret", "secret");

	/* the output itself a link */
	snprintf(path, sizeof(path), "%s/out/a-result.txt", dir);
	assert_int_equal(symlink("../secret", path), 0);
	assert_int_equal(run_stage_out(c, "out", out, "a-result.txt", &err),
			 -1);
	assert_int_equal(err.code, BM_ERR_INVALID);
	assert_non_null(strstr(err.msg, "output 'a-result.txt' refused"));
	bm_error_clear(&err);
	assert_int_equal(c->ops->head(c, "out", "a-result.txt", &info, &err),
			 -1);

	/* a folder of the output a link */
	snprintf(path, sizeof(path), "%s/out/d", dir);
	assert_int_equal(symlink(dir, path), 0);
	bm_error_clear(&err);
	assert_int_equal(run_stage_out(c, "out", out, "d/secret", &err), -1);
	assert_int_equal(err.code, BM_ERR_INVALID);

	/* a FIFO neither hangs nor uploads */
	snprintf(path, sizeof(path), "%s/out/f", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	bm_error_clear(&err);
	assert_int_equal(run_stage_out(c, "out", out, "f", &err), -1);
	assert_non_null(strstr(err.msg, "a FIFO, not a regular file"));

	/* the out directory itself swapped for a link */
	snprintf(path, sizeof(path), "%s/out2", dir);
	assert_int_equal(symlink(out, path), 0);
	bm_error_clear(&err);
	assert_int_equal(run_stage_out(c, "out", path, "b", &err), -1);

	/* a regular file in a real folder is uploaded */
	snprintf(path, sizeof(path), "%s/out/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(dir, "out/sub/ok.txt", "ok");
	bm_error_clear(&err);
	assert_int_equal(run_stage_out(c, "out", out, "sub/ok.txt", &err), 0);
	assert_int_equal(c->ops->head(c, "out", "sub/ok.txt", &info, &err), 0);
	assert_int_equal(info.size, 2);
	/* missing: the task did not write it */
	assert_int_equal(run_stage_out(c, "out", out, "none", &err), -1);
	assert_int_equal(err.code, BM_ERR_NOT_FOUND);

	assert_int_equal(run_remove_tree(dir), 0);
	bm_blob_client_free(c);
}

static void test_plan_errors(void **state)
{
	struct tt_options o;
	struct run_plan plan;
	struct bm_error err;

	/* the host runtime has no entrypoint */
	opts_make(&o, "", "");
	bm_error_clear(&err);
	assert_int_equal(plan_init(&plan, RUN_HOST, &o, true, &err), -1);
	assert_non_null(strstr(err.msg, "host runtime needs a --command"));
	tt_options_release(&o);

	/* without staging, a missing mount is named */
	opts_make(&o, "app", "--volume /nonexistent/mnt:/data-in");
	bm_error_clear(&err);
	assert_int_equal(plan_init(&plan, RUN_PODMAN, &o, false, &err), -1);
	assert_string_equal(err.msg,
			    "volume source '/nonexistent/mnt' does not exist: "
			    "mount the containers there (blobmill-fuse) or use "
			    "--stage");
	/* with staging it is replaced, so it need not exist */
	bm_error_clear(&err);
	assert_int_equal(plan_init(&plan, RUN_PODMAN, &o, true, &err), 0);
	run_plan_release(&plan);
	tt_options_release(&o);

	opts_make(&o, "app", "--volume relative:/x");
	bm_error_clear(&err);
	assert_int_equal(plan_init(&plan, RUN_HOST, &o, true, &err), -1);
	assert_non_null(strstr(err.msg, "volume 'relative:/x' is not"));
	tt_options_release(&o);
}

static void test_unstageable_names(void **state)
{
	char big[300];

	assert_null(task_name_path_problem("a/b c/it's.txt"));
	assert_null(task_name_path_problem("..a/b.."));
	assert_non_null(task_name_path_problem("/abs"));
	assert_non_null(task_name_path_problem("a//b"));
	assert_non_null(task_name_path_problem("a/../b"));
	assert_non_null(task_name_path_problem("./a"));
	assert_non_null(task_name_path_problem("dir/"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_non_null(strstr(task_name_path_problem(big), "255 bytes"));
	big[200] = '/';
	assert_null(task_name_path_problem(big));
}

static void test_runtime_names(void **state)
{
	enum run_runtime rt;

	assert_int_equal(run_runtime_parse("podman", &rt), 0);
	assert_int_equal(rt, RUN_PODMAN);
	assert_string_equal(run_runtime_name(RUN_HOST), "host");
	assert_int_equal(run_runtime_parse("Podman", &rt), -1);
	assert_int_equal(run_runtime_parse("dock", &rt), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_docker_staged),
	    cmocka_unit_test(test_podman_staged_adds_volumes),
	    cmocka_unit_test(test_engine_empty_command_keeps_entrypoint),
	    cmocka_unit_test(test_host_argv),
	    cmocka_unit_test(test_host_clean_environment),
	    cmocka_unit_test(test_stage_out_refuses_links),
	    cmocka_unit_test(test_plan_errors),
	    cmocka_unit_test(test_unstageable_names),
	    cmocka_unit_test(test_runtime_names),
	};

	/* the host runtime warns about ignored run options */
	bm_log_init("test-run-exec", BM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

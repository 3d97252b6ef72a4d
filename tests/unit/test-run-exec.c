/*
 * Unit tests of run_exec (blobmill run): the argv given to docker, podman
 * and bubblewrap for a task, staged volumes replacing the mounts, the host
 * runtime's reading of the run options, and which names can be staged.
 * Docker is not installed on CI machines, so its argv is proven here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "bm_log.h"
#include "run_exec.h"

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

/* The argv of blob `name`'s task joined with '|', for easy comparison. */
static char *task_argv(const struct tt_options *o, enum run_runtime rt,
		       bool stage, const char *name)
{
	struct run_plan plan;
	struct tt_spec *spec;
	struct tt_task t;
	struct bm_error err;
	char **argv, *s = NULL;
	size_t len = 0, i;

	bm_error_clear(&err);
	assert_int_equal(run_plan_init(&plan, rt, o, stage, &err), 0);
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
	tt_argv_free(argv);
	tt_task_release(&t);
	tt_spec_free(spec);
	run_plan_release(&plan);
	return s;
}

/* "AZ_BATCH_TASK_ID=ID" of blob name. */
static char *task_env(const char *name)
{
	char id[TT_TASK_ID_MAX + 1], *s;

	tt_task_id(name, id);
	assert_true(asprintf(&s, "AZ_BATCH_TASK_ID=%s", id) > 0);
	return s;
}

static void test_docker_staged(void **state)
{
	struct tt_options o;
	char *s, *want, *env = task_env("my file");

	opts_make(&o, "app {in}",
		  "--workdir /app -v /mnt/data-in:/data-in:ro "
		  "--volume=/mnt/data-out:/data-out -e 'A=b c'");
	s = task_argv(&o, RUN_DOCKER, true, "my file");
	assert_true(asprintf(&want,
			     "docker|run|--rm|--env|%s|--workdir|/app|"
			     "--volume|/run/T/in:/data-in:ro|"
			     "--volume|/run/T/out:/data-out|-e|A=b c|img:1|"
			     "/bin/sh|-c|app \"${1}\"|sh|/data-in/my file",
			     env) > 0);
	assert_string_equal(s, want);
	free(want);
	free(env);
	free(s);
	tt_options_release(&o);
}

static void test_podman_staged_adds_volumes(void **state)
{
	struct tt_options o;
	char *s, *want, *env = task_env("x");

	/* no volume at in-dir/out-dir: staging adds both */
	opts_make(&o, "app {name}", "--network none");
	s = task_argv(&o, RUN_PODMAN, true, "x");
	assert_true(asprintf(&want,
			     "podman|--runtime|runc|run|--rm|--ulimit|"
			     "nofile=1024:20000|--ulimit|nproc=32768:32768|"
			     "--env|%s|--network|none|"
			     "--volume|/run/T/in:/data-in|"
			     "--volume|/run/T/out:/data-out|img:1|/bin/sh|-c|"
			     "app x",
			     env) > 0);
	assert_string_equal(s, want);
	free(want);
	free(env);
	free(s);
	tt_options_release(&o);
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
	assert_non_null(strstr(s, "|--bind|/run/T/in|/data-in|"));
	assert_non_null(strstr(s, "|--ro-bind|/usr|/opt/u|"));
	assert_non_null(strstr(s, "|--bind|/run/T/out|/data-out|"));
	assert_non_null(strstr(s, "|--setenv|K|v|"));
	assert_non_null(strstr(s, "|--setenv|AZ_BATCH_TASK_ID|a_b-"));
	assert_non_null(
	    strstr(s, "|--setenv|AZ_BATCH_TASK_WORKING_DIR|/run/T|"));
	assert_non_null(strstr(s, "|--chdir|/tmp|--|/bin/sh|-c|"
				  "app \"${1}\"|sh|/data-in/a b"));
	free(s);
	tt_options_release(&o);

	/* without --workdir the task starts in its directory, like Batch */
	opts_make(&o, "app", "");
	s = task_argv(&o, RUN_HOST, true, "x");
	assert_non_null(strstr(s, "|--chdir|/run/T|--|"));
	free(s);
	tt_options_release(&o);
}

static void test_plan_errors(void **state)
{
	struct tt_options o;
	struct run_plan plan;
	struct bm_error err;

	/* the host runtime has no entrypoint */
	opts_make(&o, "", "");
	bm_error_clear(&err);
	assert_int_equal(run_plan_init(&plan, RUN_HOST, &o, true, &err), -1);
	assert_non_null(strstr(err.msg, "host runtime needs a --command"));
	tt_options_release(&o);

	/* without staging, a missing mount is named */
	opts_make(&o, "app", "--volume /nonexistent/mnt:/data-in");
	bm_error_clear(&err);
	assert_int_equal(run_plan_init(&plan, RUN_PODMAN, &o, false, &err), -1);
	assert_string_equal(err.msg,
			    "volume source '/nonexistent/mnt' does not exist: "
			    "mount the containers there (blobmill-fuse) or use "
			    "--stage");
	/* with staging it is replaced, so it need not exist */
	bm_error_clear(&err);
	assert_int_equal(run_plan_init(&plan, RUN_PODMAN, &o, true, &err), 0);
	run_plan_release(&plan);
	tt_options_release(&o);

	opts_make(&o, "app", "--volume relative:/x");
	bm_error_clear(&err);
	assert_int_equal(run_plan_init(&plan, RUN_HOST, &o, true, &err), -1);
	assert_non_null(strstr(err.msg, "volume 'relative:/x' is not"));
	tt_options_release(&o);
}

static void test_unstageable_names(void **state)
{
	char big[300];

	assert_null(run_name_unstageable("a/b c/it's.txt"));
	assert_null(run_name_unstageable("..a/b.."));
	assert_non_null(run_name_unstageable("/abs"));
	assert_non_null(run_name_unstageable("a//b"));
	assert_non_null(run_name_unstageable("a/../b"));
	assert_non_null(run_name_unstageable("./a"));
	assert_non_null(run_name_unstageable("dir/"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_non_null(strstr(run_name_unstageable(big), "255 bytes"));
	big[200] = '/';
	assert_null(run_name_unstageable(big));
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
	    cmocka_unit_test(test_plan_errors),
	    cmocka_unit_test(test_unstageable_names),
	    cmocka_unit_test(test_runtime_names),
	};

	/* the host runtime warns about ignored run options */
	bm_log_init("test-run-exec", BM_LOG_ERR, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

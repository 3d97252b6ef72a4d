/*
 * run_preflight: what `blobmill run` checks before its first task, so that
 * a mistake costs one line at once instead of one failure per task after
 * each has run: the input and output containers exist, and the image is
 * in the engine's store, or is pulled once now.
 *
 * Each failure is one line that says what to do:
 *   run: output container 'x' not found: create it with 'blobmill mb x'
 *   run: image 'app:1' is not on this machine and cannot be pulled (...):
 *        load it (podman load -i FILE) or check --image
 * (one line in fact). Costs: one request per container, one engine call
 * (two when the image has to be pulled).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "tasks_cli.h"

extern char **environ;

/* Runs argv with stdin and stdout on /dev/null; the last line of its
 * stderr goes to last (cap bytes). Returns the exit status, -1 when it
 * could not run. */
static int engine_call(char *const argv[], char *last, size_t cap)
{
	posix_spawn_file_actions_t fa;
	char buf[4096];
	size_t len = 0;
	int pipefd[2], status = -1;
	ssize_t n;
	pid_t pid;

	last[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	/* Keep the tail: the cause is the last thing an engine says. */
	while ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		len += (size_t)n;
		if (len == sizeof(buf) - 1) {
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	snprintf(last, cap, "%s",
		 strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int image_ready(enum run_runtime rt, const char *image)
{
	const char *engine = run_runtime_name(rt);
	char *inspect_podman[] = {"podman",  "--runtime",   "runc",
				  "image",   "inspect",	    "--format",
				  "{{.Id}}", (char *)image, NULL};
	char *inspect_docker[] = {"docker",   "image",	 "inspect",
				  "--format", "{{.Id}}", (char *)image,
				  NULL};
	char *pull_podman[] = {"podman", "--runtime",	"runc",
			       "pull",	 (char *)image, NULL};
	char *pull_docker[] = {"docker", "pull", (char *)image, NULL};
	char why[512];
	int rc;

	if (engine_call(rt == RUN_PODMAN ? inspect_podman : inspect_docker, why,
			sizeof(why)) == 0)
		return TERM_EXIT_OK;
	fprintf(stderr,
		"run: image '%s' is not on this machine: pulling it "
		"once\n",
		image);
	rc = engine_call(rt == RUN_PODMAN ? pull_podman : pull_docker, why,
			 sizeof(why));
	if (rc == 0)
		return TERM_EXIT_OK;
	term_errorf("run: image '%s' is not on this machine and cannot be "
		    "pulled (%s): load it (%s load -i FILE) or check --image",
		    image, *why ? why : "the engine gave no reason", engine);
	return TERM_EXIT_FAILURE;
}

static int container_ready(struct tasks_job *j, bool input)
{
	const char *name = input ? j->topt.input : j->topt.output;
	struct bm_error err;

	bm_error_clear(&err);
	if (j->client->ops->check_container(j->client, name, &err) == 0)
		return TERM_EXIT_OK;
	tasks_report(j, input, &err);
	return TERM_EXIT_FAILURE;
}

int run_preflight(struct tasks_job *j, enum run_runtime rt)
{
	int rc = container_ready(j, true);

	if (rc == TERM_EXIT_OK && j->topt.output)
		rc = container_ready(j, false);
	if (rc == TERM_EXIT_OK && (rt == RUN_DOCKER || rt == RUN_PODMAN) &&
	    j->topt.image && *j->topt.image)
		rc = image_ready(rt, j->topt.image);
	return rc;
}

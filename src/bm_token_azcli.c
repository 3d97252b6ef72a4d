/*
 * bm_token_azcli: the az CLI as a token source. Runs `az account
 * get-access-token --resource R -o json` without a shell, stdin from
 * /dev/null, reads its stdout and stderr through pipes under one deadline,
 * and hands the JSON to bm_token_parse_response. The cache around it is
 * bm_token.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bm_token.h"

extern char **environ;

/* Longest wait for `az account get-access-token`. */
#define AZCLI_TIMEOUT_MS 60000
/* Its JSON is a few KiB. */
#define FILE_MAX (64 * 1024)

/* Reads both pipes to EOF or until the deadline. */
static int drain(int out_fd, int err_fd, char *out, size_t *out_len, char *errb,
		 size_t *err_len, size_t cap)
{
	struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	long left = AZCLI_TIMEOUT_MS;
	int open_fds = 2, i, n;
	ssize_t got;

	while (open_fds > 0) {
		n = poll(p, 2, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 && (left -= 1000) <= 0)
			return -1;
		for (i = 0; i < 2; i++) {
			char *b = i == 0 ? out : errb;
			size_t *len = i == 0 ? out_len : err_len;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			got = read(p[i].fd, b + *len,
				   *len < cap ? cap - *len : 0);
			if (got > 0 && *len < cap) {
				*len += (size_t)got;
				continue;
			}
			if (got < 0 && errno == EINTR)
				continue;
			p[i].fd = -1;
			open_fds--;
		}
	}
	return 0;
}

int bm_token_fetch_azcli(const char *resource, time_t now, char **token,
			 time_t *expires_on, struct bm_error *err)
{
	/* posix_spawnp's argv is char *const[] but is not written to. */
	char *argv[] = {"az",
			"account",
			"get-access-token",
			"--resource",
			(char *)resource,
			"-o",
			"json",
			NULL};
	posix_spawn_file_actions_t fa;
	int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, status = 0, rc = -1;
	char *out = malloc(FILE_MAX + 1), *errb = malloc(4097), *line;
	size_t out_len = 0, err_len = 0;
	pid_t pid = -1;
	bool timed_out;

	if (!out || !errb || pipe2(out_p, O_CLOEXEC) < 0 ||
	    pipe2(err_p, O_CLOEXEC) < 0) {
		bm_error_set(err, BM_ERR_IO, "cannot run az: %s",
			     strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
	errno = posix_spawnp(&pid, "az", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out_p[1]);
	close(err_p[1]);
	out_p[1] = err_p[1] = -1;
	if (errno != 0) {
		bm_error_set(err, BM_ERR_CONFIG,
			     "cannot run 'az' (authType AzCli): %s%s",
			     strerror(errno),
			     errno == ENOENT ? ": install the Azure CLI" : "");
		pid = -1;
		goto out;
	}
	timed_out = drain(out_p[0], err_p[0], out, &out_len, errb, &err_len,
			  FILE_MAX) < 0;
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out[out_len] = '\0';
	errb[err_len < 4096 ? err_len : 4096] = '\0';
	if (timed_out) {
		bm_error_set(err, BM_ERR_TIMEOUT,
			     "'az account get-access-token' did not finish in "
			     "%d s",
			     AZCLI_TIMEOUT_MS / 1000);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* az's own message ("ERROR: Please run 'az login' ..."). */
		line = errb + strspn(errb, " \r\n");
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "ERROR: ", 7) == 0)
			line += 7;
		bm_error_set(err, BM_ERR_AUTH,
			     "'az account get-access-token' failed: %s",
			     *line ? line : "no message");
		goto out;
	}
	rc = bm_token_parse_response(out, now, token, expires_on, err);
out:
	if (out) {
		explicit_bzero(out, out_len);
		free(out);
	}
	free(errb);
	if (out_p[0] >= 0)
		close(out_p[0]);
	if (err_p[0] >= 0)
		close(err_p[0]);
	return rc;
}

#!/bin/bash
# What a `blobmill run` task can get at, for the host runtime (bubblewrap)
# and podman (issue 17, defects 5 and 6):
#   - its environment is clean: the AZ_BATCH_* variables, PATH, HOME,
#     LANG and what --env passes; never AZURE_STORAGE_* (the account key,
#     a SAS, a connection string) nor the proxy variables of the CLI, and
#     (host) no /proc/PID/environ of blobmill or of the shell above it;
#   - --stage uploads regular files only: an output that is a symbolic
#     link (to a host file the container cannot even see) is refused,
#     named in the summary, and counts as its task failing, while the
#     other tasks of the run complete.
. "$top_srcdir/tests/integration/tasks-lib.sh"

tasks_setup
for n in a b; do
	printf 'input %s' "$n" | "$BLOBMILL" put - "data-in/sec/$n" ||
		fail "put sec/$n"
done
# A file only root may read, outside anything a task is given.
printf 'host secret' >"$T/secret"
chmod 600 "$T/secret"
# The secrets a task must never see, in the CLI's environment. The
# connection string and SAS are decoys the configuration ignores (the
# key wins); the proxy settings must not reach the task either.
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$AZURE_STORAGE_ACCOUNT;AccountKey=$AZURE_STORAGE_ACCESS_KEY;BlobEndpoint=$AZURE_STORAGE_BLOB_ENDPOINT"
export BM_DECOY_SAS="sv=2021-08-06&sig=decoysignature"
export http_proxy=http://proxyuser:proxypass@192.0.2.1:3128
export no_proxy=127.0.0.1,localhost

# check_env FILE RUNTIME: FILE (a task's `env` output) holds no secret.
check_env() {
	local f=$1 rt=$2
	grep -q '^AZ_BATCH_TASK_ID=' "$f" || fail "$rt: AZ_BATCH_TASK_ID missing"
	grep -q '^PATH=' "$f" || fail "$rt: PATH missing"
	grep -q '^USER_VALUE=given with --env$' "$f" ||
		{ cat "$f" >&2; fail "$rt: --env NAME=VALUE missing"; }
	grep -q '^BM_DECOY_SAS=' "$f" && fail "$rt: a variable not asked for"
	if grep -E -q 'AZURE|AccountKey|proxypass|decoysignature' "$f" ||
		grep -F -q "$AZURE_STORAGE_ACCESS_KEY" "$f"; then
		cat "$f" >&2
		fail "$rt: the task saw a secret of the CLI's environment"
	fi
	echo "ok: $rt: clean task environment"
}

run_sec() {
	local rt=$1
	shift
	"$BLOBMILL" run --runtime "$rt" --stage --parallel 2 \
		--input data-in --output data-out --prefix sec/ \
		--run-options "--volume /mnt/data-in:/data-in --volume /mnt/data-out:/data-out" \
		--run-dir "$T/run-$rt" "$@"
}

# check_refused RUNTIME LOG: a's output (a link) refused, b's uploaded.
check_refused() {
	local rt=$1 log=$2
	grep -q "^run: 2 tasks: 1 succeeded, 1 failed" "$log" ||
		{ cat "$log" >&2; fail "$rt: summary"; }
	grep -q "blobmill: run: task a-[0-9a-f]*: output 'sec/a-result.txt' refused: it is (or is under) a symbolic link" "$log" ||
		{ cat "$log" >&2; fail "$rt: the summary must name the refused output"; }
	if "$BLOBMILL" get data-out/sec/a-result.txt "$T/got" 2>/dev/null; then
		grep -q 'host secret' "$T/got" &&
			fail "$rt: the host file behind a task's link was uploaded"
		fail "$rt: a refused output was uploaded"
	fi
	"$BLOBMILL" get data-out/sec/b-result.txt "$T/got" ||
		fail "$rt: the regular output of the other task"
	expect_eq "$rt: b's output" "input b" "$(cat "$T/got")"
	"$BLOBMILL" rm data-out/sec/b-result.txt || fail "rm b's output"
	echo "ok: $rt: a link as output is refused, named, counted failed"
}

# The task: a links its output to the secret, b copies its input.
LINK_CMD="case {name} in sec/a) ln -s $T/secret {out} ;; *) cat {in} > {out} ;; esac"

if command -v bwrap >/dev/null && bwrap --dev-bind / / true 2>/dev/null; then
	# --image is optional with the host runtime.
	run_sec host --env 'USER_VALUE=given with --env' --include sec/a \
		--command '(env; cat /proc/[0-9]*/environ | tr "\0" "\n") > {out}' \
		>"$T/log" 2>&1 || { cat "$T/log" >&2; fail "host: env task"; }
	"$BLOBMILL" get data-out/sec/a-result.txt "$T/env" || fail "host env"
	check_env "$T/env" host
	"$BLOBMILL" rm data-out/sec/a-result.txt || fail "rm env output"

	run_sec host --command "$LINK_CMD" >"$T/log" 2>&1 &&
		{ cat "$T/log" >&2; fail "host: a refused output must fail the run"; }
	check_refused host "$T/log"
else
	echo "skipped: host runtime (bubblewrap cannot run here)"
fi

tasks_podman_image
run_sec podman --image "$IMAGE" --env 'USER_VALUE=given with --env' \
	--include sec/a --command 'env > {out}' >"$T/log" 2>&1 ||
	{ cat "$T/log" >&2; fail "podman: env task"; }
"$BLOBMILL" get data-out/sec/a-result.txt "$T/env" || fail "podman env"
check_env "$T/env" podman
"$BLOBMILL" rm data-out/sec/a-result.txt || fail "rm env output"

run_sec podman --image "$IMAGE" --command "$LINK_CMD" >"$T/log" 2>&1 &&
	{ cat "$T/log" >&2; fail "podman: a refused output must fail the run"; }
check_refused podman "$T/log"

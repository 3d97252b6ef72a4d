#!/usr/bin/env bash
# t-cli-conventions.sh: the conventions users bring from git, curl and the
# az CLI, one behaviour per check:
#   help CMD, version, unknown commands and options with "did you mean",
#   ls -lh (not help), ls --output json, --help pages ending in examples,
#   AZURE_STORAGE_KEY as the az CLI spells it, -v / --log-level (requests
#   and retries logged, no secret), doctor (all well; wrong key; closed
#   port; missing container; a clock 2 hours off; each config warning
#   once), and the progress line
#   of put/get on a terminal only (script -qc gives a pseudo-terminal).
. "$top_srcdir/tests/integration/cli-lib.sh"

bm mb data || fail "mb data"
head -c 200000 /dev/urandom >payload
bm put payload data/dir/payload.bin || fail "put"

echo "--- help, version, unknown commands"
bm help put >help.out || fail "help put"
grep -q '^usage: blobmill put' help.out || fail "help put: $(head -n 2 help.out)"
cmp -s help.out <(bm put --help) || fail "help put differs from put --help"
for cmd in ls get put rm mb rb doctor; do
	bm help $cmd | tail -n 4 | grep -q '^  blobmill ' ||
		fail "'blobmill $cmd --help' does not end with examples"
done
echo "ok: help CMD is CMD --help, and the pages end with examples"
expect_eq "version" "$(bm --version)" "$(bm version)"
err=$(bm lss 2>&1) && fail "unknown command must fail"
expect_eq "unknown command" \
	"blobmill: 'lss' is not a command (did you mean ls?); see 'blobmill --help'" "$err"
err=$(bm ls --delimter / data 2>&1) && fail "unknown option must fail"
expect_eq "unknown option" \
	"blobmill: ls: unknown option '--delimter' (did you mean --delimiter?); see 'blobmill ls --help'" "$err"

err=$(bm run --imgae x 2>&1) && fail "run --imgae must fail"
expect_eq "unknown option of run" \
	"blobmill: run: unknown option '--imgae' (did you mean --image?); see 'blobmill run --help'" "$err"
err=$(bm tasks --input 2>&1) && fail "tasks --input without a value must fail"
expect_eq "missing value" \
	"blobmill: tasks: option '--input' needs a value; see 'blobmill tasks --help'" "$err"

echo "--- ls -lh and --output json"
line=$(bm ls -lh data/dir/) || fail "ls -lh"
case "$line" in *"195.3 KiB"*"dir/payload.bin") echo "ok: ls -lh: $line" ;;
*) fail "ls -lh: $line" ;; esac
bm ls --output json data >ls.json || fail "ls --output json"
python3 - ls.json <<'PY' || fail "ls --output json"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 1 and d[0]["name"] == "dir/payload.bin", d
assert d[0]["size"] == 200000 and d[0]["lastModified"].endswith("Z"), d
PY
echo "ok: ls --output json"

echo "--- AZURE_STORAGE_KEY (the az CLI's name)"
out=$(env -u AZURE_STORAGE_ACCESS_KEY AZURE_STORAGE_KEY="$AZURITE_KEY" \
	"$BLOBMILL" ls data) || fail "ls with AZURE_STORAGE_KEY"
expect_eq "ls with AZURE_STORAGE_KEY" "dir/payload.bin" "$out"

echo "--- -v and --log-level: requests and retries, no secret"
bm ls -v data >/dev/null 2>v.err || fail "ls -v"
grep -q "debug: http: GET list .* -> 200" v.err || fail "ls -v: $(cat v.err)"
grep -Fq "$AZURITE_KEY" v.err && fail "ls -v printed the key"
bm ls --log-level=LOG_DEBUG data >/dev/null 2>v2.err || fail "--log-level"
grep -q "debug: http: GET list" v2.err || fail "--log-level=LOG_DEBUG: $(cat v2.err)"
err=$(bm ls --log-level=LOUD data 2>&1) && fail "bad --log-level must fail"
case "$err" in *"invalid value 'LOUD' for --log-level"*) ;; *) fail "bad --log-level: $err" ;; esac
# A retry is logged: a closed port, one retry.
port=$(free_port)
AZURE_STORAGE_BLOB_ENDPOINT=http://127.0.0.1:$port/$AZURITE_ACCOUNT \
	"$BLOBMILL" ls -v --max-retry 1 --max-retry-interval-in-seconds 1 data \
	2>retry.err && fail "ls of a closed port must fail"
grep -q "retry 1 in" retry.err || fail "-v does not show the retry: $(cat retry.err)"
echo "ok: -v logs each request and retry"

echo "--- doctor"
bm doctor data >doc.out || fail "doctor: $(cat doc.out)"
grep -q "^credential   account key from AZURE_STORAGE_ACCESS_KEY" doc.out || fail "doctor: credential: $(cat doc.out)"
grep -q "^endpoint     $AZURITE_ENDPOINT (from AZURE_STORAGE_BLOB_ENDPOINT)" doc.out || fail "doctor: endpoint: $(cat doc.out)"
grep -q "^clock        in step" doc.out || fail "doctor: clock: $(cat doc.out)"
grep -q "^container    'data' exists" doc.out || fail "doctor: container: $(cat doc.out)"
expect_eq "doctor verdict" "no problems found" "$(tail -n 1 doc.out)"
bm doctor nosuch >doc.out && fail "doctor of a missing container must fail"
grep -q "fix: create it with 'blobmill mb nosuch'" doc.out || fail "doctor: missing container: $(cat doc.out)"
AZURE_STORAGE_ACCESS_KEY=$(head -c 64 /dev/urandom | base64 -w 0) \
	"$BLOBMILL" doctor data >doc.out && fail "doctor with a wrong key must fail"
grep -q "PROBLEM: the service refused the credential (403" doc.out &&
	grep -q "fix: check that the key" doc.out || fail "doctor: wrong key: $(cat doc.out)"
AZURE_STORAGE_BLOB_ENDPOINT=http://127.0.0.1:$port/$AZURITE_ACCOUNT \
	"$BLOBMILL" doctor --max-retry 0 >doc.out && fail "doctor of a closed port must fail"
grep -q "PROBLEM: endpoint unreachable" doc.out && grep -q "fix: check the endpoint URL" doc.out ||
	fail "doctor: closed port: $(cat doc.out)"
# Each warning about the configuration once: doctor read the file three
# times and finished the configuration twice, so these came three times
# and twice.
printf 'accountName %s\naccountKey %s\nblobEndpoint http://127.0.0.1:%s/otheraccount\n' \
	"$AZURITE_ACCOUNT" "$AZURITE_KEY" "$port" >warn.cfg
chmod 644 warn.cfg
env -u AZURE_STORAGE_ACCOUNT -u AZURE_STORAGE_ACCESS_KEY -u AZURE_STORAGE_BLOB_ENDPOINT \
	"$BLOBMILL" doctor --config-file warn.cfg --max-retry 0 >doc.out 2>doc.err &&
	fail "doctor of a closed port must fail"
expect_eq "doctor: the config file's mode warning, once" 1 \
	"$(grep -c "^blobmill: warning: config file 'warn.cfg' is readable by group or others" doc.err)"
expect_eq "doctor: the endpoint's account warning, once" 1 \
	"$(grep -c "^blobmill: warning: blob endpoint .* names account 'otheraccount'" doc.err)"
grep -q "^credential   account key from config file 'warn.cfg'" doc.out ||
	fail "doctor: credential from the file: $(cat doc.out)"
# A service whose clock is two hours ahead (a stand-in that answers every
# request with an empty listing and that Date).
python3 - "$port" <<'PY' &
import http.server, sys, time, email.utils
class H(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() + 7200, usegmt=True)
    def do_GET(self):
        body = b'<?xml version="1.0"?><EnumerationResults><Containers/><NextMarker/></EnumerationResults>'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
skewed=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
AZURE_STORAGE_BLOB_ENDPOINT=http://127.0.0.1:$port/$AZURITE_ACCOUNT \
	"$BLOBMILL" doctor >doc.out
rc=$?
kill $skewed
[ $rc -eq 1 ] || fail "doctor with a skewed clock: exit $rc: $(cat doc.out)"
grep -q "PROBLEM: this machine's clock is 7[12][0-9][0-9] s behind the service's" doc.out &&
	grep -q "fix: set this machine's clock" doc.out || fail "doctor: clock: $(cat doc.out)"
echo "ok: doctor finds a wrong key, a closed port, a missing container and a skewed clock"

echo "--- progress: on a terminal only"
script -qec "$BLOBMILL put $PWD/payload data/p.bin" /dev/null >tty.out || fail "put on a terminal"
grep -aq "put: 195.3 KiB / 195.3 KiB 100%" tty.out || fail "no progress line on a terminal: $(cat -v tty.out)"
script -qec "$BLOBMILL get data/p.bin $PWD/back.bin" /dev/null >tty.out || fail "get on a terminal"
grep -aq "get: 195.3 KiB / 195.3 KiB 100%" tty.out || fail "get: no progress line: $(cat -v tty.out)"
cmp -s payload back.bin || fail "get on a terminal: bytes differ"
script -qec "$BLOBMILL put --no-progress $PWD/payload data/p.bin" /dev/null >tty.out ||
	fail "put --no-progress"
[ ! -s tty.out ] || fail "--no-progress printed: $(cat -v tty.out)"
bm put payload data/p.bin 2>pipe.err || fail "put to a pipe"
[ ! -s pipe.err ] || fail "progress without a terminal: $(cat -v pipe.err)"
script -qec "$BLOBMILL get -r data/dir $PWD/tree" /dev/null >tty.out || fail "get -r on a terminal"
grep -aq "1/1 files" tty.out || fail "get -r: no file count: $(cat -v tty.out)"
echo "ok: progress lines on a terminal, none in a pipe or with --no-progress"

echo "--- bash completion, as make install puts it"
make -s -C "$top_builddir/task-template" install-data-local DESTDIR="$PWD/inst" \
	>/dev/null || fail "make install-data-local"
comp=$(find inst -path '*/bash-completion/completions/blobmill') && [ -n "$comp" ] ||
	fail "the completion is not installed under bash-completion/completions"
# complete WORDS...: what bash would offer for the last word.
complete_words() {
	PATH="$(dirname "$BLOBMILL"):$PATH" bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_blobmill; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort
}
expect_eq "complete a command" "doctor" "$(complete_words blobmill do)"
expect_eq "complete an option" "--recursive" "$(complete_words blobmill get --recu)"
expect_eq "complete a container" "data/" "$(complete_words blobmill ls da)"
expect_eq "complete a folder" "data/dir/" "$(complete_words blobmill get data/d)"
expect_eq "complete --input" "data/" "$(complete_words blobmill run --input d)"

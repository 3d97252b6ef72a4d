#!/usr/bin/env bash
# t-faultproxy: the fault-injecting proxy (tests/faultproxy.py) itself,
# driven with curl against a private Azurite: it forwards faithfully when
# no fault is due (bodies byte for byte, chunked listings, HEAD, PUT with
# Expect: 100-continue, keep-alive), each fault kind does what it says, a
# stall is bounded, and the decisions depend only on the seed.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

command -v curl >/dev/null || skip "curl not installed"
command -v openssl >/dev/null || skip "openssl not installed"
fc_start

az() { az_curl "$@"; }
code=$(az PUT "$AZURITE_ENDPOINT" "cont1?restype=container" -o /dev/null \
	-w '%{http_code}')
expect_eq "container created directly" 201 "$code"
head -c 2097152 /dev/urandom >"$dir/big"
big_sum=$(sha256sum <"$dir/big" | cut -d' ' -f1)
big_size=2097152
code=$(az PUT "$AZURITE_ENDPOINT" "cont1/big" -h "x-ms-blob-type: BlockBlob" \
	-h "Content-Length: $big_size" --data-binary @"$dir/big" -o /dev/null \
	-w '%{http_code}')
expect_eq "blob uploaded directly" 201 "$code"

# --- no faults: a faithful proxy ---------------------------------------
faultproxy_start --rate 0 || fail "proxy did not start"
P=$FAULTPROXY_ENDPOINT
az GET "$P" "cont1/big" -o "$dir/got" || fail "get through the proxy failed"
expect_eq "2 MiB body through the proxy" "$big_sum" \
	"$(sha256sum <"$dir/got" | cut -d' ' -f1)"
az GET "$AZURITE_ENDPOINT" "cont1?restype=container&comp=list" |
	sed 's/127.0.0.1:[0-9]*/HOST/g' >"$dir/list.direct"
az GET "$P" "cont1?restype=container&comp=list" |
	sed 's/127.0.0.1:[0-9]*/HOST/g' >"$dir/list.proxy"
cmp -s "$dir/list.direct" "$dir/list.proxy" ||
	fail "chunked listing differs through the proxy"
echo "ok: chunked listing through the proxy"
head -c 1500000 /dev/urandom >"$dir/up"
code=$(az PUT "$P" "cont1/up" -h "x-ms-blob-type: BlockBlob" \
	-h "Content-Length: 1500000" -H "Expect: 100-continue" \
	--data-binary @"$dir/up" -o /dev/null -w '%{http_code}')
expect_eq "PUT with Expect: 100-continue through the proxy" 201 "$code"
az GET "$AZURITE_ENDPOINT" "cont1/up" -o "$dir/up.back"
cmp -s "$dir/up" "$dir/up.back" || fail "uploaded bytes differ"
echo "ok: uploaded bytes arrive intact"
len=$(az HEAD "$P" "cont1/big" -I | tr -d '\r' |
	sed -n 's/^[Cc]ontent-[Ll]ength: //p')
expect_eq "HEAD through the proxy" "$big_size" "$len"
# Two requests in one curl: one client connection, reused.
az GET "$P" "cont1/up" -o /dev/null -o /dev/null "$P/cont1/big" -v \
	2>"$dir/keepalive.err" >/dev/null
grep -q 'Re-using existing connection' "$dir/keepalive.err" ||
	fail "curl did not reuse the connection through the proxy"
conns=$(tail -n 2 "$FAULTPROXY_LOG" |
	"$BM_PYTHON" -c 'import json,sys; print(len({json.loads(l)["conn"] for l in sys.stdin}))')
expect_eq "keep-alive: two requests on one proxy connection" 1 "$conns"
expect_eq "no fault injected at rate 0" 0 "$(faultproxy_count any)"
faultproxy_stop

# --- each fault kind, scripted by sequence number ------------------------
script="1:reset,2:reset_mid,3:truncate,4:http500,5:http503,6:stall"
script+=",7:stall,8:stall_mid,9:drop,10:reset_mid,11:truncate"
faultproxy_start --script "$script" --stall-seconds 3 ||
	fail "proxy did not start"
P=$FAULTPROXY_ENDPOINT
# get SEQ-LABEL [curl options]: GET big through the proxy; sets rc, got
# (bytes received) and http (status).
get() {
	local out
	rm -f "$dir/got"
	out=$(az GET "$P" "cont1/big" -o "$dir/got" -w '%{http_code}' "$@" \
		2>"$dir/curl.err")
	rc=$?
	http=$out
	got=$(stat -c %s "$dir/got" 2>/dev/null || echo 0)
	rm -f "$dir/got"
}
before=$(azurite_requests /cont1/big)
get
[ "$rc" -ne 0 ] && [ "$got" -eq 0 ] ||
	fail "reset: curl rc=$rc, $got bytes (want an error, no bytes)"
[ "$(azurite_requests /cont1/big)" -gt "$before" ] ||
	fail "reset: the request should have reached Azurite"
echo "ok: reset before the response (curl rc=$rc; Azurite served it)"
get
[ "$rc" -ne 0 ] && [ "$got" -lt "$big_size" ] && [ "$http" = 200 ] ||
	fail "reset_mid: curl rc=$rc http=$http, $got bytes"
echo "ok: reset mid-body after $got of $big_size bytes (curl rc=$rc)"
get
expect_eq "truncate: curl sees a partial file (rc 18)" 18 "$rc"
[ "$got" -lt "$big_size" ] || fail "truncate: got the whole body"
before=$(azurite_requests /cont1/big)
get -D "$dir/h500"
expect_eq "http500 status" 500 "$http"
tr -d '\r' <"$dir/h500" | grep -qx 'x-ms-error-code: InternalError' ||
	fail "500 without x-ms-error-code: $(cat "$dir/h500")"
get -D "$dir/h503"
expect_eq "http503 status" 503 "$http"
tr -d '\r' <"$dir/h503" | grep -qx 'Retry-After: 1' ||
	fail "503 without Retry-After: $(cat "$dir/h503")"
echo "ok: 503 carries Retry-After: 1"
expect_eq "500/503 never reach Azurite" "$before" \
	"$(azurite_requests /cont1/big)"
t0=$(date +%s%N)
get --max-time 1
expect_eq "stall: the client times out (rc 28)" 28 "$rc"
t0=$(date +%s%N)
get --max-time 30
t=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" -ne 0 ] && [ "$t" -ge 2500 ] && [ "$t" -lt 10000 ] ||
	fail "stall: rc=$rc after $t ms (want an error after ~3000 ms)"
echo "ok: a stall is bounded (connection closed after $t ms, rc=$rc)"
get --max-time 1
[ "$rc" -eq 28 ] && [ "$got" -lt "$big_size" ] ||
	fail "stall_mid: rc=$rc, $got bytes"
echo "ok: stall mid-body after $got bytes times out"
before=$(azurite_requests /cont1/big)
get
[ "$rc" -ne 0 ] || fail "drop: curl succeeded"
expect_eq "drop: never reaches Azurite" "$before" \
	"$(azurite_requests /cont1/big)"
az HEAD "$P" "cont1/big" -I >/dev/null 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "reset_mid on a HEAD (no body) went unnoticed"
echo "ok: reset_mid on a bodiless response cuts the head (rc=$rc)"
az GET "$P" "cont1?restype=container&comp=list" -o /dev/null 2>/dev/null
expect_eq "truncate of a chunked listing (rc 18)" 18 "$?"
get
expect_eq "after the faults, requests pass again" "0 $big_size" "$rc $got"
faultproxy_wait 12
faultproxy_stop
tail -n 1 "$FAULTPROXY_LOG" | grep -q '"faults": 11' ||
	fail "summary should count 11 faults: $(tail -n 1 "$FAULTPROXY_LOG")"
echo "ok: the log ends with a summary of 11 faults"
grep -c '^faultproxy: #' "$FAULTPROXY_ERR" | grep -qx 11 ||
	fail "each injection should be printed"
echo "ok: each injection printed on stderr"

# --- rules by name, and injection switched on at run time ---------------
faultproxy_start --rule 'GET .*/big$=http503' --start-off ||
	fail "proxy did not start"
P=$FAULTPROXY_ENDPOINT
get
expect_eq "--start-off: no fault before SIGUSR1" 200 "$http"
faultproxy_toggle
sleep 0.2
get
expect_eq "--rule faults the matching request" 503 "$http"
code=$(az GET "$P" "cont1/up" -o /dev/null -w '%{http_code}')
expect_eq "--rule leaves other requests alone" 200 "$code"
faultproxy_stop

# --- determinism ---------------------------------------------------------
fp() { "$BM_PYTHON" "$top_srcdir/tests/faultproxy.py" --target-port 1 "$@"; }
fp --seed 5 --dry-run 2000 >"$dir/d1"
fp --seed 5 --dry-run 2000 >"$dir/d2"
fp --seed 6 --dry-run 2000 >"$dir/d3"
cmp -s "$dir/d1" "$dir/d2" || fail "same seed, different decisions"
cmp -s "$dir/d1" "$dir/d3" && fail "different seeds, same decisions"
n=$(grep -vc ' -$' "$dir/d1")
[ "$n" -ge 140 ] && [ "$n" -le 260 ] ||
	fail "rate 0.1 over 2000 requests gave $n faults"
echo "ok: decisions are a function of the seed ($n of 2000 at rate 0.1)"
# The live proxy follows the same decisions as the dry run.
faultproxy_start --seed 9 --rate 0.4 --faults http500,http503 ||
	fail "proxy did not start"
for i in $(seq 1 25); do
	az GET "$FAULTPROXY_ENDPOINT" "cont1/up" -o /dev/null 2>/dev/null
done
faultproxy_wait 25
faultproxy_stop
fp --seed 9 --rate 0.4 --faults http500,http503 --dry-run 25 >"$dir/plan"
"$BM_PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "seq" in r:
        print(r["seq"], r["fault"] or "-")' "$FAULTPROXY_LOG" | sort -n >"$dir/live"
cmp -s "$dir/plan" "$dir/live" ||
	fail "live faults differ from the dry run: $(diff "$dir/plan" "$dir/live")"
echo "ok: the live proxy injects what the dry run predicts ($(grep -vc ' -$' "$dir/live") of 25)"

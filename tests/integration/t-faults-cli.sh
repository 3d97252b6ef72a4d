#!/usr/bin/env bash
# t-faults-cli: `blobmill put`, `get` and `ls` through the fault proxy
# (10% of requests faulted; several seeds; retries on, reduced and off).
# Every command either succeeds with exactly the right bytes or fails with
# one line on stderr; a failed put leaves the blob absent or whole, a failed
# get leaves no file; no command outlives its bound. Checked against Azurite
# directly, behind the proxy's back. Prints the figures at the end.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

[ -x "$BLOBMILL" ] || skip "blobmill not built"
fc_start

# Bound on one command: the retry budget (120 s) plus one attempt's
# low-speed timeout (30 s) plus slack; stalls here last 2 s.
bound=200
c=faults
"$BLOBMILL" mb "$c" || fail "mb '$c' directly failed"

if [ -n "${BLOBMILL_QUICK:-}" ]; then
	sizes="0 1 17 511 4095 65537 262144 1048576 3145729"
	seeds="11:5 13:0"
else
	sizes="0 1 17 511 4095 4096 65537 100000 262144 1048576 3145729 9437185"
	seeds="11:5 12:1 13:0"
fi
seeds=${FAULT_SEEDS:-$seeds} # SEED:MAX-RETRY ..., to replay one run
i=0
for s in $sizes; do
	head -c "$s" /dev/urandom >"$dir/src.$i"
	i=$((i + 1))
done
nfiles=$i

for sr in $seeds; do
	fc_seed "$sr"
	export AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT
	opt=(--max-retry="$retries" --max-retry-interval-in-seconds=2)
	uploaded=()
	for i in $(seq 0 $((nfiles - 1))); do
		name="s$seed/f$i é \$(x) 'q'.bin"
		want=$(fc_sha "$dir/src.$i")
		fc_run "$bound" "$BLOBMILL" put "${opt[@]}" "$dir/src.$i" "$c/$name"
		fc_count put
		got=$(fc_blob_sha "$c" "$name")
		if [ "$FC_RC" -eq 0 ]; then
			[ "$got" = "$want" ] ||
				fail "put '$name' succeeded but Azurite has $got, want $want"
			fc_count put_ok
			uploaded+=("$name")
		else
			fc_check_error "put '$name'"
			case "$got" in
			absent) ;;
			"$want") uploaded+=("$name") ;; # done, the answer was lost
			*) fail "failed put '$name' left wrong bytes ($got)" ;;
			esac
		fi
		fc_count bytes_put "$(stat -c %s "$dir/src.$i")"
	done

	fc_run "$bound" "$BLOBMILL" ls "${opt[@]}" "$c/s$seed/" >"$dir/ls.out"
	fc_count ls
	if [ "$FC_RC" -eq 0 ]; then
		for name in "${uploaded[@]}"; do
			grep -qF -- "${name#*/}" "$dir/ls.out" ||
				fail "ls of s$seed/ misses '$name': $(cat "$dir/ls.out")"
		done
		[ "$(wc -l <"$dir/ls.out")" -eq "${#uploaded[@]}" ] ||
			fail "ls of s$seed/ lists $(wc -l <"$dir/ls.out") names, want ${#uploaded[@]}"
		fc_count ls_ok
	else
		fc_check_error "ls '$c/s$seed/'"
	fi

	for name in "${uploaded[@]}"; do
		want=$(fc_blob_sha "$c" "$name")
		rm -f "$dir/got"
		fc_run "$bound" "$BLOBMILL" get "${opt[@]}" "$c/$name" "$dir/got"
		fc_count get
		if [ "$FC_RC" -eq 0 ]; then
			[ "$(fc_sha "$dir/got")" = "$want" ] ||
				fail "get '$name' succeeded with wrong bytes"
			fc_count get_ok
			fc_count bytes_verified "$(stat -c %s "$dir/got")"
		else
			fc_check_error "get '$name'"
			[ ! -e "$dir/got" ] ||
				fail "failed get '$name' left a file behind"
			ls "$dir" | grep -q blobmill && fail "failed get left a temporary file: $(ls "$dir")"
		fi
		# To stdout: bytes already written can't be taken back, so the
		# exit status is the whole contract.
		fc_run "$bound" "$BLOBMILL" get "${opt[@]}" "$c/$name" - >"$dir/got.stdout"
		fc_count get
		if [ "$FC_RC" -eq 0 ]; then
			[ "$(fc_sha "$dir/got.stdout")" = "$want" ] ||
				fail "get '$name' to stdout succeeded with wrong bytes"
			fc_count get_ok
		else
			fc_check_error "get '$name' -"
		fi
	done
	faultproxy_stop
	fc_count requests "$(faultproxy_count)"
	fc_count faults_injected "$(faultproxy_count any)"
	echo "seed $seed (--max-retry=$retries): $(faultproxy_count any) faults in $(faultproxy_count) requests"
done

# A stall past the client's low-speed timeout (30 s): the attempt is
# abandoned and retried, within the bound. Costs 30 s, so not in QUICK.
if [ -z "${BLOBMILL_QUICK:-}" ]; then
	faultproxy_start --script 1:stall --stall-seconds 60 || fail "proxy"
	export AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT
	name="s11/f2 é \$(x) 'q'.bin"
	fc_run "$bound" "$BLOBMILL" get "$c/$name" "$dir/got"
	[ "$FC_RC" -eq 0 ] || fail "get after a stall: $(cat "$FC_ERR")"
	[ "$(fc_sha "$dir/got")" = "$(fc_blob_sha "$c" "$name")" ] ||
		fail "get after a stall: wrong bytes"
	[ "$FC_SECS" -ge 25 ] && [ "$FC_SECS" -le 90 ] ||
		fail "get after a stall took $FC_SECS s (want ~30: timeout, retry)"
	echo "ok: a stalled request timed out and was retried ($FC_SECS s)"
	faultproxy_stop
	fc_count faults_injected
fi

fc_count bytes_lost 0
fc_figures
echo "ok: every command succeeded with the right bytes or failed with one line"

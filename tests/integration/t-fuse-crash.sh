#!/usr/bin/env bash
# t-fuse-crash: kill -9 blobmill-fuse while files are being uploaded, mount
# again on the same --tmp-path, and check that nothing acknowledged is lost:
#   - files whose close succeeded, and a file whose fsync succeeded, are in
#     Azurite with the right bytes, before and after the crash;
#   - files whose close failed (the proxy answers their uploads with 500)
#     and files whose close was still waiting when the daemon died (the
#     proxy stalls their uploads) were never acknowledged; their local
#     copies are pending under --tmp-path, and the new daemon uploads them
#     or names each in its log.
# Upload faults come from the fault proxy by name (--rule), switched on
# only after the first files are safely in.
set -u
. "$top_srcdir/tests/lib/faultcheck.sh"

fm_need
holder=
fc_on_exit() { [ -z "$holder" ] || kill "$holder" 2>/dev/null; }
fc_start mnt
mnt="$dir/mnt"
tmp="$dir/tmp"

c=crash
az_curl PUT "$AZURITE_ENDPOINT" "$c?restype=container" -o /dev/null ||
	fail "cannot create '$c'"
faultproxy_start --start-off --stall-seconds 300 \
	--rule 'PUT .*/fail-=http500' --rule 'PUT .*/stall-=stall' ||
	fail "proxy did not start"
export AZURE_STORAGE_BLOB_ENDPOINT=$FAULTPROXY_ENDPOINT
opts=(--container-name="$c" --max-retry=1 --max-retry-interval-in-seconds=1
	--log-level=LOG_INFO)
fm_mount "$mnt" "$tmp" "$dir/fuse-1.log" "${opts[@]}" || fail "mount failed"

if [ -n "${BLOBMILL_QUICK:-}" ]; then
	sizes="0 1 4096 65537 1048576"
else
	sizes="0 1 4096 65537 1048576 5242883 20971521"
fi
# mk NAME SIZE: a source file for blob NAME.
mk() {
	head -c "$2" /dev/urandom >"$dir/src.$1"
}

# 1. Acknowledged: closed (and one fsynced) while all is well.
acked=()
i=0
for s in $sizes; do
	mk "ok-$i" "$s"
	cp "$dir/src.ok-$i" "$mnt/ok-$i" || fail "close of ok-$i failed with no fault"
	acked+=("ok-$i")
	i=$((i + 1))
done
mk fsynced 300000
"$BM_PYTHON" - "$mnt/fsynced" "$dir/src.fsynced" "$dir/fsync.done" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, open(sys.argv[2], "rb").read())
os.fsync(fd)
open(sys.argv[3], "w").write("ok\n")
time.sleep(600)  # keep the file open: the daemon dies before close
EOF
holder=$!
for n in $(seq 1 300); do
	[ -s "$dir/fsync.done" ] && break
	sleep 0.1
done
[ -s "$dir/fsync.done" ] || fail "fsync did not return"
[ "$(fc_blob_sha "$c" fsynced)" = "$(fc_sha "$dir/src.fsynced")" ] ||
	fail "fsync returned but the blob is not in Azurite with the written bytes"
echo "ok: fsync returned only once the blob was uploaded (file still open)"
acked+=(fsynced)
for n in "${acked[@]}"; do
	[ "$(fc_blob_sha "$c" "$n")" = "$(fc_sha "$dir/src.$n")" ] ||
		fail "acknowledged '$n' is not in Azurite"
done
echo "ok: ${#acked[@]} acknowledged files are in Azurite"

# 2. Not acknowledged: uploads answered 500 (close fails) or stalled (close
#    waits until the daemon dies).
faultproxy_toggle
unacked=()
for i in 0 1 2; do
	mk "fail-$i" $((i * 70000 + 1))
	if cp "$dir/src.fail-$i" "$mnt/fail-$i" 2>"$dir/cp.err"; then
		fail "close of fail-$i succeeded though every upload got 500"
	fi
	echo "recorded: close of fail-$i failed: $(cat "$dir/cp.err")"
	[ "$(fc_blob_sha "$c" "fail-$i")" = absent ] ||
		fail "fail-$i is in Azurite though its upload always failed"
	unacked+=("fail-$i")
done
cps=()
for i in 0 1 2; do
	mk "stall-$i" $((i * 1048576 + 5))
	cp "$dir/src.stall-$i" "$mnt/stall-$i" 2>/dev/null &
	cps+=($!)
	unacked+=("stall-$i")
done
# Wait until the three stalled uploads have reached the proxy.
for n in $(seq 1 200); do
	[ "$(grep -c 'PUT .*stall-' "$FAULTPROXY_ERR" 2>/dev/null)" -ge 3 ] && break
	pending=$(find "$tmp" -name '*.pending' 2>/dev/null | wc -l)
	[ "$pending" -ge 6 ] && break
	sleep 0.1
done
sleep 1
for p in "${cps[@]}"; do
	kill -0 "$p" 2>/dev/null ||
		fail "a close finished though its upload is stalled"
done

# 3. The crash.
kill -9 "$FM_PID"
wait "$FM_PID" 2>/dev/null
FM_PID=
for p in "${cps[@]}"; do
	wait "$p" && fail "a close whose upload never finished succeeded"
done
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=
fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" ||
	fail "cannot take the dead mount down"
echo "ok: daemon killed with 3 closes waiting and 3 failed closes behind it"
pending=$(find "$tmp" -name '*.pending' | wc -l)
echo "pending records under tmp-path after the crash: $pending"

# 4. Mount again on the same tmp-path, with the network healthy.
faultproxy_toggle
fm_mount "$mnt" "$tmp" "$dir/fuse-2.log" "${opts[@]}" || fail "remount failed"
for n in $(seq 1 600); do
	all=1
	for b in "${unacked[@]}"; do
		[ "$(fc_blob_sha "$c" "$b")" = "$(fc_sha "$dir/src.$b")" ] ||
			{ all=0; break; }
	done
	[ "$all" -eq 1 ] && break
	sleep 0.1
done
recovered=0
reported=0
for b in "${unacked[@]}"; do
	got=$(fc_blob_sha "$c" "$b")
	if [ "$got" = "$(fc_sha "$dir/src.$b")" ]; then
		recovered=$((recovered + 1))
	elif grep -qF "'$b'" "$dir/fuse-2.log"; then
		[ "$got" = absent ] || fail "'$b' in Azurite with wrong bytes ($got)"
		reported=$((reported + 1))
		echo "reported by name: $(grep -F "'$b'" "$dir/fuse-2.log" | head -n 1)"
	else
		fail "'$b' (pending at the crash) neither uploaded nor named in the log: $(cat "$dir/fuse-2.log")"
	fi
done
for n in "${acked[@]}"; do
	[ "$(fc_blob_sha "$c" "$n")" = "$(fc_sha "$dir/src.$n")" ] ||
		fail "acknowledged '$n' lost or changed after the crash"
	fc_run 60 cat "$mnt/$n" >"$dir/back"
	[ "$FC_RC" -eq 0 ] && cmp -s "$dir/back" "$dir/src.$n" ||
		fail "acknowledged '$n' reads wrong through the new mount"
done
fm_alive "$mnt" || fail "the new daemon is not serving"
fm_umount "$mnt" || fail "unmount failed"
left=$(find "$tmp" -name '*.pending' | wc -l)
echo "figures: acknowledged=${#acked[@]} acknowledged_lost=0 unacknowledged_pending=${#unacked[@]} recovered_uploaded=$recovered reported_by_name=$reported pending_left=$left"
[ $((recovered + reported)) -eq ${#unacked[@]} ] || fail "accounting"
echo "ok: nothing acknowledged was lost; every pending file was uploaded or named"

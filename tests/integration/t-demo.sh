#!/usr/bin/env bash
# t-demo.sh: the README's first command, startup/demo.sh, with the binaries
# of this build (no package install, no rebuild). Checks every output blob
# against its input, that nothing is left mounted or running, that a Ctrl-C
# in the middle cleans up too, and that a re-run after it works, with the
# other task runtime.
: "${top_srcdir:?run me from make check}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/demo.sh" || exit 1

# 1. The demo as a newcomer runs it (runtime auto: podman where it works).
bash "$top_srcdir/startup/demo.sh" >"$d/demo1.log" 2>&1
rc=$?
cat "$d/demo1.log"
expect_eq "demo exit" 0 "$rc"
grep -q "^data-in: .*: mounted (5 entries)$" "$d/demo1.log" ||
	fail "the installer did not mount data-in with its 5 entries"
grep -qE "^==> done in [0-9]+s" "$d/demo1.log" || fail "no closing line"
expect_outputs "demo"
expect_clean "demo" "$d/demo1.log"
runtime1=$(sed -n 's/^==> one task per blob in data-in (\(.*\) runtime)$/\1/p' "$d/demo1.log")
echo "first run used the $runtime1 runtime"

# 2. Ctrl-C while the tasks run: the demo's traps clean up. The demo
# runs in its own process group, as in a terminal, and the whole group
# gets SIGINT.
# In a terminal Ctrl-C is not ignored; here it may be: a suite started in
# the background of a script (nohup CMD &) passes SIGINT ignored down to
# every test, the demo's shell cannot trap a signal ignored at its start,
# and only Azurite, which sets its own handler, would stop.
set -m
DEMO_RUNTIME=host env --default-signal=INT \
	bash "$top_srcdir/startup/demo.sh" >"$d/demo2.log" 2>&1 &
demo_pid=$!
set +m
for _ in $(seq 1 600); do
	grep -q "^==> one task per blob" "$d/demo2.log" && break
	kill -0 "$demo_pid" 2>/dev/null || break
	sleep 0.1
done
grep -q "^==> one task per blob" "$d/demo2.log" || { cat "$d/demo2.log"; fail "interrupted run: never got to the tasks"; }
# Press Ctrl-C while the tasks run: `blobmill run`, past its exec.
running=
for _ in $(seq 1 1200); do
	for p in $(pgrep -g "$demo_pid" -x blobmill); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '^[^ ]* run ' &&
			running=$p
	done
	[ -n "$running" ] && break
	kill -0 "$demo_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$running" ] || { cat "$d/demo2.log"; fail "interrupted run: never saw blobmill run running"; }
kill -INT -- "-$demo_pid"
wait "$demo_pid"
rc=$?
demo_pid=
cat "$d/demo2.log"
expect_eq "interrupted run: exit status" 130 "$rc"
expect_clean "interrupted run" "$d/demo2.log"

# 3. Running it again works, on the host runtime this time if the first
# run used podman.
other=host
[ "$runtime1" = host ] && other=auto
DEMO_RUNTIME=$other bash "$top_srcdir/startup/demo.sh" >"$d/demo3.log" 2>&1
rc=$?
cat "$d/demo3.log"
expect_eq "re-run exit" 0 "$rc"
expect_outputs "re-run"
expect_clean "re-run" "$d/demo3.log"

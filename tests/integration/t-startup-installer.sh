#!/usr/bin/env bash
# t-startup-installer.sh: the start-task installer (startup/blobmill-startup)
# against a private Azurite and real FUSE mounts: a fresh run, a second run
# (no change), daemons killed with -9 (stale mounts recovered), a hung
# daemon, a "reboot" (mounts gone), a wrong key and a missing container
# (one-line cause, nothing left mounted), no /dev/fuse, a bad mounts file,
# make bundle and --bundle, a missing package (apt-get), and --unmount with
# a busy mount. Mounts files and config files have CRLF ends.
: "${top_srcdir:?run me from make check}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/common.sh" || exit 1
. "$top_srcdir/tests/lib/azurite.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -x "$BLOBMILL_FUSE" ] || fail "'$BLOBMILL_FUSE' is not built"
[ -x "$BLOBMILL" ] || fail "'$BLOBMILL' is not built"

installer="$top_srcdir/startup/blobmill-startup"
d=$(test_dir) && [ -d "$d" ] || exit 1
prefix="$d/opt"
mnt="$d/mnt"

cleanup() {
	local f
	for f in "$d"/mounts*; do
		[ -f "$f" ] && "$installer" --unmount --mounts "$f" --prefix "$prefix" >/dev/null 2>&1
	done
	azurite_stop
	if [ -n "$d" ] && [ -z "${KEEP_TEST_DIR:-}" ] && ! findmnt -rn -o TARGET | grep -qF "$d/"; then
		rm -rf --one-file-system "$d"
	fi
}

azurite_start || fail "azurite did not start"
trap cleanup EXIT

# The data: two blobs in data-in, one with a space in its name.
"$BLOBMILL" mb data-in || fail "mb data-in"
"$BLOBMILL" mb data-out || fail "mb data-out"
printf 'one\n' | "$BLOBMILL" put - "data-in/a.txt" || fail "put a.txt"
printf 'two two\n' | "$BLOBMILL" put - "data-in/b c.txt" || fail "put 'b c.txt'"

# Config files as Windows editors write them: CRLF.
write_cfg() { # FILE CONTAINER KEY
	printf 'accountName %s\r\naccountKey %s\r\ncontainerName %s\r\nauthType Key\r\nblobEndpoint %s\r\n' \
		"$AZURITE_ACCOUNT" "$3" "$2" "$AZURITE_ENDPOINT" >"$1"
	chmod 600 "$1"
}
write_cfg "$d/in.cfg" data-in "$AZURITE_KEY"
write_cfg "$d/out.cfg" data-out "$AZURITE_KEY"
# A key that decodes but is not the account's.
write_cfg "$d/bad.cfg" data-out "$(head -c 64 /dev/zero | base64 -w0)"

# mounts: relative paths (against the file's directory), an escaped space,
# a comment, CRLF.
printf '# CONTAINER MOUNTPOINT TMP-PATH CONFIG-FILE [options]\r\n%s\r\n%s\r\n' \
	'data-in  mnt/data\ in  fusetmp/in  in.cfg  -o attr_timeout=240 -o entry_timeout=240 -o negative_timeout=120' \
	'data-out mnt/data-out fusetmp/out out.cfg -o attr_timeout=240' >"$d/mounts"

# PID of the daemon serving MOUNTPOINT (started as blobmill-fuse MP ...).
daemon_of() {
	pgrep -f -- "^$prefix/bin/blobmill-fuse $(printf '%s' "$1" | sed 's/[].[*^$\\]/\\&/g') " || true
}

run_installer() { # LABEL ARGS... ; sets out, err, rc
	local label=$1
	shift
	"$installer" --prefix "$prefix" "$@" >"$d/out" 2>"$d/err"
	rc=$?
	out=$(cat "$d/out")
	err=$(cat "$d/err")
	echo "--- $label (exit $rc)"
	cat "$d/out" "$d/err"
}

expect_grep() { # WHAT PATTERN TEXT
	grep -qE -- "$2" <<<"$3" || fail "$1: no line matching '$2'"
	echo "ok: $1"
}

expect_listing() { # WHAT
	expect_eq "$1: data-in listing" "a.txt|b c.txt" "$(ls "$mnt/data in" | paste -sd '|')"
}

# 1. Fresh run.
run_installer "fresh" --mounts "$d/mounts" --fuse "$BLOBMILL_FUSE" --cli "$BLOBMILL"
expect_eq "fresh run exit" 0 "$rc"
expect_grep "fresh: binaries installed" "install: $prefix/bin/blobmill-fuse: installed" "$out"
expect_grep "fresh: data-in mounted" "^data-in: $mnt/data in: mounted \(2 entries\)" "$out"
expect_grep "fresh: data-out mounted" "^data-out: $mnt/data-out: mounted \(0 entries\)" "$out"
expect_listing "fresh"
expect_eq "fresh: tmp path is private" 700 "$(stat -c %a "$d/fusetmp/in")"
printf 'through the mount\n' >"$mnt/data-out/written.txt" || fail "write through data-out"
expect_eq "fresh: a file written through data-out is a blob" "through the mount" \
	"$("$BLOBMILL" get data-out/written.txt)"
pid_in=$(daemon_of "$mnt/data in")
pid_out=$(daemon_of "$mnt/data-out")
[ -n "$pid_in" ] && [ -n "$pid_out" ] || fail "no daemon found for the mounts"

# 2. Second run: nothing to do, same daemons.
run_installer "second" --mounts "$d/mounts" --fuse "$BLOBMILL_FUSE" --cli "$BLOBMILL"
expect_eq "second run exit" 0 "$rc"
expect_grep "second: binaries unchanged" "install: $prefix/bin/blobmill-fuse: unchanged" "$out"
expect_grep "second: says no change" "^done: no change, 2 mount\(s\) healthy$" "$out"
expect_eq "second: same data-in daemon" "$pid_in" "$(daemon_of "$mnt/data in")"
expect_eq "second: same data-out daemon" "$pid_out" "$(daemon_of "$mnt/data-out")"

# 3. Daemons killed with -9: the mounts are left "not connected".
kill -KILL "$pid_in" "$pid_out"
for _ in $(seq 1 50); do
	kill -0 "$pid_in" 2>/dev/null || kill -0 "$pid_out" 2>/dev/null || break
	sleep 0.1
done
expect_grep "killed: mount is stale" "not connected" "$(LC_ALL=C ls "$mnt/data in" 2>&1)"
run_installer "after kill -9" --mounts "$d/mounts"
expect_eq "after kill -9: exit" 0 "$rc"
expect_grep "after kill -9: data-in recovered" "^data-in: $mnt/data in: was stale .*mounted again \(2 entries\)" "$out"
expect_grep "after kill -9: data-out recovered" "^data-out: $mnt/data-out: was stale .*mounted again \(1 entry\)" "$out"
expect_listing "after kill -9"
expect_eq "after kill -9: data-out content" "through the mount" "$(cat "$mnt/data-out/written.txt")"
expect_eq "after kill -9: one mount per mount point" 1 "$(findmnt -rn -o TARGET | grep -cxF "$mnt/data-out")"

# 4. A daemon that no longer answers (stopped) is killed and replaced.
pid_in=$(daemon_of "$mnt/data in")
kill -STOP "$pid_in"
BLOBMILL_STARTUP_LS_TIMEOUT=3 run_installer "hung daemon" --mounts "$d/mounts"
kill -0 "$pid_in" 2>/dev/null && kill -CONT "$pid_in"
expect_eq "hung: exit" 0 "$rc"
expect_grep "hung: data-in recovered" "^data-in: $mnt/data in: was hung \(daemon $pid_in killed, detached\)" "$out"
expect_grep "hung: data-out untouched" "^data-out: .*no change$" "$out"
expect_listing "hung"

# 5. After a "reboot": nothing mounted, the mount points still there.
umount "$mnt/data in" && umount "$mnt/data-out" || fail "cannot unmount for the reboot case"
run_installer "after reboot" --mounts "$d/mounts"
expect_eq "after reboot: exit" 0 "$rc"
expect_grep "after reboot: both mounted" "^done: 2 mount\(s\) healthy \(2 mounted" "$out"
expect_listing "after reboot"

# 6. A changed mount line remounts that mount only.
sed -i 's/attr_timeout=240\r$/attr_timeout=60\r/' "$d/mounts"
run_installer "changed line" --mounts "$d/mounts"
expect_eq "changed line: exit" 0 "$rc"
expect_grep "changed line: data-out remounted" "^data-out: .*remounted, its mount line changed" "$out"
expect_grep "changed line: data-in kept" "^data-in: .*no change$" "$out"

# 7. A wrong key: one line naming the mount and the daemon's cause; the
# mount made before it in the same run is undone.
printf '%s\n%s\n' "data-in $mnt/in2 $d/fusetmp/in2 $d/in.cfg" \
	"data-out $mnt/out2 $d/fusetmp/out2 $d/bad.cfg" >"$d/mounts-bad"
run_installer "wrong key" --mounts "$d/mounts-bad"
expect_eq "wrong key: exit" 1 "$rc"
expect_eq "wrong key: one line on stderr" 1 "$(printf '%s\n' "$err" | wc -l)"
expect_grep "wrong key: names the mount and the daemon's cause" \
	"^blobmill-startup: cannot mount 'data-out' on '$mnt/out2': .*(auth|403)" "$err"
expect_grep "wrong key: data-in rolled back" "^rolled back: unmounted '$mnt/in2'" "$out"
findmnt -rn -o TARGET | grep -qE "^$mnt/(in2|out2)$" && fail "wrong key: something is left mounted"
[ -z "$(daemon_of "$mnt/in2")$(daemon_of "$mnt/out2")" ] || fail "wrong key: a daemon is left"
echo "ok: wrong key: nothing left mounted"
grep -qF "$(head -c 64 /dev/zero | base64 -w0)" "$d/out" "$d/err" && fail "wrong key: the key was printed"
echo "ok: wrong key: the key is not printed"

# 8. A container that does not exist.
run_installer "missing container" -- nosuchcontainer "$mnt/none" "$d/fusetmp/none" "$d/in.cfg"
expect_eq "missing container: exit" 1 "$rc"
expect_grep "missing container: one line naming it" \
	"^blobmill-startup: cannot mount 'nosuchcontainer' on '$mnt/none': .*(not found|ContainerNotFound|404)" "$err"
findmnt -rn -o TARGET | grep -qxF "$mnt/none" && fail "missing container: left mounted"
echo "ok: missing container: nothing left mounted"

# 9. No /dev/fuse (a regular file over it, in a private mount namespace).
: >"$d/not-a-device"
if unshare -m true 2>/dev/null; then
	unshare -m bash -c 'mount --bind "$1" /dev/fuse && shift && exec "$@"' _ \
		"$d/not-a-device" "$installer" --prefix "$prefix" -- data-in "$mnt/nodev" "$d/fusetmp/nodev" "$d/in.cfg" \
		>"$d/out" 2>"$d/err"
	expect_eq "no /dev/fuse: exit" 1 "$?"
	expect_grep "no /dev/fuse: says so" "^blobmill-startup: cannot mount: '/dev/fuse' is missing" "$(cat "$d/err")"
else
	echo "not checked: no /dev/fuse (unshare -m not permitted here)"
fi

# 10. A bad mounts file changes nothing (exit 2).
printf 'data-in %s\n' "$mnt/x" >"$d/mounts-short"
run_installer "short line" --mounts "$d/mounts-short"
expect_eq "short line: exit" 2 "$rc"
expect_grep "short line: names file and line" "^blobmill-startup: '$d/mounts-short' line 1: expected CONTAINER MOUNTPOINT" "$err"
[ ! -e "$mnt/x" ] || fail "short line: created the mount point"

# 11. `make bundle`, unpacked and run as the pool's start task runs it:
# the installer inside the bundle, credentials from the environment ('-').
MAKEFLAGS='' MAKELEVEL='' make -s -C "$top_builddir/startup" bundle \
	BUNDLE_TAR="$d/bundle.tar.gz" >"$d/make-bundle.log" 2>&1 ||
	{ cat "$d/make-bundle.log"; fail "make bundle failed"; }
mkdir "$d/wd"
tar -C "$d/wd" -xzf "$d/bundle.tar.gz" || fail "cannot unpack the bundle"
node=$(echo "$d"/wd/blobmill-node-*)
for f in blobmill-startup bin/blobmill-fuse bin/blobmill mounts.txt README.md VERSION; do
	[ -e "$node/$f" ] || fail "bundle: no $f"
done
echo "ok: bundle: holds the installer, the binaries, mounts.txt, README.md"
printf 'data-in %s %s -\n' "$mnt/env" "$d/fusetmp/env" >"$d/mounts-env"
(cd "$d/wd" && "$node/blobmill-startup" --prefix "$prefix" --mounts "$d/mounts-env") >"$d/out" 2>&1 ||
	{ cat "$d/out"; fail "bundle: the bundle's installer failed"; }
cat "$d/out"
expect_grep "bundle: installs itself" "install: $prefix/bin/blobmill-startup: installed from $node/blobmill-startup" "$(cat "$d/out")"
expect_grep "bundle: environment credentials" "^data-in: $mnt/env: mounted \(2 entries\)" "$(cat "$d/out")"

# A bundle with another blobmill-fuse remounts what runs the old one.
mkdir -p "$d/bundle/blobmill-node-test"
cp -r "$node/." "$d/bundle/blobmill-node-test/"
printf '\n' >>"$d/bundle/blobmill-node-test/bin/blobmill-fuse" # another binary
tar -C "$d/bundle" -czf "$d/blobmill-node-test.tar.gz" blobmill-node-test
run_installer "--bundle" --mounts "$d/mounts" --bundle "$d/blobmill-node-test.tar.gz"
expect_eq "bundle: exit" 0 "$rc"
expect_grep "bundle: installs the new binary" "install: $prefix/bin/blobmill-fuse: installed from bundle '$d/blobmill-node-test.tar.gz'" "$out"
expect_grep "bundle: remounts" "^data-in: .*remounted, blobmill-fuse was updated" "$out"
expect_listing "bundle"

# `make install` (issue 13): the installed installer, given no bundle and
# no --fuse/--cli, uses the blobmill-fuse and blobmill installed beside
# it, and says so.
MAKEFLAGS='' MAKELEVEL='' make -s -C "$top_builddir" install DESTDIR="$d/dest" \
	>"$d/make-install.log" 2>&1 ||
	{ cat "$d/make-install.log"; fail "make install failed"; }
inst=$(dirname "$(find "$d/dest" -path '*/sbin/blobmill-startup' | head -n 1)")
[ -x "$inst/blobmill-startup" ] || fail "make install: no sbin/blobmill-startup"
inst_bin=$(cd "$inst/../bin" && pwd)
printf 'data-in %s %s %s\n' "$mnt/inst" "$d/fusetmp/inst" "$d/in.cfg" >"$d/mounts-inst"
"$inst/blobmill-startup" --prefix "$d/opt2" --mounts "$d/mounts-inst" >"$d/out" 2>&1 ||
	{ cat "$d/out"; fail "installed: the installed installer failed"; }
cat "$d/out"
expect_grep "installed: says which binaries" "^install: no bundle: using the blobmill-fuse and blobmill installed beside blobmill-startup in $inst_bin$" "$(cat "$d/out")"
expect_grep "installed: blobmill-fuse from the installation" "install: $d/opt2/bin/blobmill-fuse: installed from $inst_bin/blobmill-fuse" "$(cat "$d/out")"
expect_grep "installed: mounted" "^data-in: $mnt/inst: mounted \(2 entries\)" "$(cat "$d/out")"
"$inst/blobmill-startup" --prefix "$d/opt2" --unmount --mounts "$d/mounts-inst" >/dev/null ||
	fail "installed: unmount"

# 12. A missing runtime package is installed with apt-get; when apt-get
# fails, its last line is the cause and nothing is mounted. dpkg-query and
# apt-get are stand-ins on PATH (this machine's packages stay as they are).
mkdir -p "$d/fakebin"
printf '%s\n' '#!/bin/sh' \
	'case "$*" in *libjansson4*) exit 1 ;; *) printf "install ok installed" ;; esac' \
	>"$d/fakebin/dpkg-query"
printf '%s\n' '#!/bin/sh' 'echo "apt-get $*" >>"$FAKE_APT_LOG"' \
	'if [ -n "${FAKE_APT_FAIL:-}" ] && [ "$1" = install ]; then' \
	'	echo "E: Unable to locate package libjansson4"' '	exit 100' 'fi' \
	>"$d/fakebin/apt-get"
chmod +x "$d/fakebin/dpkg-query" "$d/fakebin/apt-get"
export FAKE_APT_LOG="$d/apt.log"
PATH="$d/fakebin:$PATH" run_installer "package missing" -- data-in "$mnt/pkg" "$d/fusetmp/pkg" "$d/in.cfg"
expect_eq "package missing: exit" 0 "$rc"
expect_grep "package missing: says what it installs" "^packages: installing libjansson4$" "$out"
expect_grep "package missing: apt-get install" \
	"^apt-get install -y -q --no-install-recommends libjansson4$" "$(cat "$d/apt.log")"
"$installer" --prefix "$prefix" --unmount -- data-in "$mnt/pkg" "$d/fusetmp/pkg" "$d/in.cfg" >/dev/null
FAKE_APT_FAIL=1 PATH="$d/fakebin:$PATH" run_installer "apt-get fails" -- data-in "$mnt/pkg2" "$d/fusetmp/pkg2" "$d/in.cfg"
expect_eq "apt-get fails: exit" 1 "$rc"
expect_eq "apt-get fails: the cause" \
	"blobmill-startup: cannot install 'libjansson4': apt-get failed: E: Unable to locate package libjansson4" "$err"
findmnt -rn -o TARGET | grep -qxF "$mnt/pkg2" && fail "apt-get fails: mounted anyway"
echo "ok: apt-get fails: nothing mounted"

# 13. --unmount: the daemons finish and exit; the blobs stay. data-out has
# a file open for writing: it is detached lazily, and the file is uploaded
# when it is closed.
pid_in=$(daemon_of "$mnt/data in")
pid_out=$(daemon_of "$mnt/data-out")
"$installer" --prefix "$prefix" --unmount --mounts "$d/mounts-env" >/dev/null || fail "unmount of $mnt/env"
exec 8>"$mnt/data-out/late.txt"
printf 'written before the unmount, closed after\n' >&8
run_installer "unmount" --unmount --mounts "$d/mounts"
expect_eq "unmount: exit" 0 "$rc"
expect_grep "unmount: data-in unmounted" "^data-in: $mnt/data in: unmounted$" "$out"
expect_grep "unmount: busy data-out detached" "^data-out: $mnt/data-out: busy, detached" "$out"
expect_grep "unmount: says so" "^done: 2 unmounted$" "$out"
findmnt -rn -o TARGET | grep -qF "$mnt/" && fail "unmount: something is still mounted"
for _ in $(seq 1 50); do kill -0 "$pid_in" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid_in" 2>/dev/null && fail "unmount: daemon $pid_in still running"
kill -0 "$pid_out" 2>/dev/null || fail "unmount: data-out's daemon exited with a file open"
exec 8>&-
for _ in $(seq 1 100); do kill -0 "$pid_out" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid_out" 2>/dev/null && fail "unmount: data-out's daemon still running after the last close"
echo "ok: unmount: data-out's daemon exited after the last close"
expect_eq "unmount: the late file is uploaded" "written before the unmount, closed after" \
	"$("$BLOBMILL" get data-out/late.txt)"
expect_eq "unmount: blobs kept" "a.txt|b c.txt" "$("$BLOBMILL" ls data-in | paste -sd '|')"
echo "all installer checks passed"

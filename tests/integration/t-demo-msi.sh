#!/usr/bin/env bash
# t-demo-msi.sh: startup/demo.sh with DEMO_AUTH=msi, the whole pipeline on
# Entra ID instead of the account key: Azurite serves HTTPS with OAuth on,
# tests/token_server.py stands in for the node's managed identity, the
# mounts' config files say `authType MSI`, and every `blobmill` command
# takes its token from the stand-in. Checks every output blob against its
# input, that no account key is written to any config file, the mounts
# file or any log, that tokens were issued, that nothing is left mounted or
# running, and that a DEMO_AUTH the demo does not know is refused.
: "${top_srcdir:?run me from make check}" "${top_builddir:?}"
. "$top_srcdir/tests/lib/demo.sh" || exit 1

# The host runtime and a small large sample: this is about the credentials.
export DEMO_AUTH=msi DEMO_RUNTIME=host DEMO_BIG_MB=2
bash "$top_srcdir/startup/demo.sh" >"$d/demo.log" 2>&1
rc=$?
cat "$d/demo.log"
expect_eq "demo exit" 0 "$rc"
grep -q "^Azurite: https://" "$d/demo.log" || fail "Azurite did not serve HTTPS"
grep -q "^data-in: .*: mounted (5 entries)$" "$d/demo.log" ||
	fail "the installer did not mount data-in with its 5 entries"
grep -qE "^==> done in [0-9]+s" "$d/demo.log" || fail "no closing line"
expect_outputs "msi demo"
expect_clean "msi demo" "$d/demo.log"

# The mounts authenticate as the managed identity, with nothing secret in
# their config files.
for c in data-in data-out; do
	cfg="$run/fuse_conn_$c.cfg"
	grep -qx $'authType MSI\r' "$cfg" || fail "$c: no 'authType MSI' in its config file"
	grep -qx $'msiEndpoint http://127\\.0\\.0\\.1:[0-9]*/metadata/identity/oauth2/token\r' "$cfg" ||
		fail "$c: its config file does not name the metadata endpoint"
	grep -qiE '^(accountKey|sasToken)' "$cfg" && fail "$c: its config file holds a key or a SAS"
done
echo "ok: both config files say authType MSI, with no key and no SAS"
grep -q -- "--ca-cert-file=" "$run/mounts" || fail "the mounts file does not give the CA"

# No account key anywhere the demo wrote text: config files, the mounts
# file, the task files, the installer's and the demo's logs (binaries are
# skipped: they know the development account's key).
key=$(. "$top_srcdir/tests/lib/azurite.sh" && echo "$AZURITE_KEY")
[ -n "$key" ] || fail "no Azurite key to look for"
grep -rlIF -- "$key" "$d" && fail "the account key was written to the file(s) above"
grep -rlIF -- "${key:0:20}" "$d" && fail "part of the account key was written to the file(s) above"
echo "ok: the account key is in no file under the demo's directory"

# One token per process at least: 2 mb, 5 put, 2 ls, 6 get and the two
# mount daemons.
issued=$(sed -n "s/^tokens the managed identity's stand-in issued: \([0-9]*\)$/\1/p" "$d/demo.log")
[ -n "$issued" ] && [ "$issued" -ge 17 ] ||
	fail "expected at least 17 tokens from the stand-in, it says '$issued'"
echo "ok: the stand-in issued $issued tokens"

# A DEMO_AUTH the demo does not know: one line, nonzero exit, nothing run.
DEMO_AUTH=sas bash "$top_srcdir/startup/demo.sh" >"$d/bad.log" 2>&1
rc=$?
cat "$d/bad.log"
[ "$rc" -ne 0 ] || fail "DEMO_AUTH=sas was accepted"
expect_eq "DEMO_AUTH=sas error" "demo: DEMO_AUTH 'sas' is not key or msi" "$(cat "$d/bad.log")"

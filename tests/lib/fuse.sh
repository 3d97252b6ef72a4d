# tests/lib/fuse.sh: mount blobmill-fuse on a test's private Azurite, read
# the daemon's request counters, and make blobs without going through the
# mount. Sourcing it sources common.sh, azurite.sh and azcurl.sh too.
#
#   fuse_test_begin                    # skip without FUSE; dir=$(test_dir),
#                                      # Azurite started, EXIT trap set that
#                                      # unmounts, stops Azurite, removes dir
#   fuse_config FILE CONTAINER [KEY]   # a blobfuse config file (mode 0600)
#   fuse_mount MNT TMP CONTAINER [blobmill-fuse options...]
#                                      # mounts and waits; records MNT for
#                                      # fuse_cleanup
#   fuse_unmount MNT
#   fuse_stat MNT OP                   # counter OP ("list", "get", ...,
#                                      # "requests") from user.blobmill.stats
#   fuse_hello CONTAINER               # create CONTAINER holding hello.txt
#                                      # ("hello\n", also in $dir/hello)
#   az_mb CONTAINER                    # create a container (curl)
#   az_put CONTAINER NAME FILE         # upload a blob (curl)
#   az_get CONTAINER NAME OUT          # download a blob (curl); 0 if found
#   az_put_many CONTAINER PREFIX N     # N one-byte blobs PREFIX0..PREFIXN-1

. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"
. "$top_srcdir/tests/lib/azcurl.sh"

FUSE_MOUNTS=()

fuse_test_begin() {
	[ -e /dev/fuse ] || skip "/dev/fuse missing"
	command -v fusermount3 >/dev/null || skip "fusermount3 not installed"
	dir=$(test_dir)
	azurite_start || fail "azurite did not start"
	trap fuse_test_end EXIT
}

fuse_test_end() {
	fuse_cleanup
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$dir"
}

fuse_config() { # FILE CONTAINER [KEY]
	(
		umask 077
		printf 'accountName %s\naccountKey %s\ncontainerName %s\nauthType Key\nblobEndpoint %s\n' \
			"$AZURITE_ACCOUNT" "${3:-$AZURITE_KEY}" "$2" \
			"$AZURITE_ENDPOINT" >"$1"
	)
}

fuse_mount() { # MNT TMP CONTAINER [options...]
	local mnt=$1 tmp=$2 cont=$3
	shift 3
	mkdir -p "$mnt"
	fuse_config "$dir/fuse-$cont.cfg" "$cont"
	"$BLOBMILL_FUSE" "$mnt" --tmp-path="$tmp" \
		--config-file="$dir/fuse-$cont.cfg" "$@" || return 1
	FUSE_MOUNTS+=("$mnt")
	mountpoint -q "$mnt"
}

fuse_unmount() { # MNT
	fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
	# The daemon uploads what is left and exits after the unmount.
	local i
	for i in $(seq 1 100); do
		pgrep -f -- "blobmill-fuse $1 " >/dev/null || return 0
		sleep 0.1
	done
}

# Also unmounts what a crashed daemon left ("Transport endpoint is not
# connected"), which mountpoint(1) cannot see: /proc/mounts can.
fuse_cleanup() {
	local m
	for m in "${FUSE_MOUNTS[@]+"${FUSE_MOUNTS[@]}"}"; do
		if awk -v m="$m" '$2 == m { f = 1 } END { exit !f }' \
			/proc/self/mounts; then
			fuse_unmount "$m"
		fi
	done
	return 0
}

fuse_stat() { # MNT OP
	python3 - "$1" "$2" <<'EOF'
import os, sys
line = os.getxattr(sys.argv[1], "user.blobmill.stats").decode()
for field in line.split():
    k, _, v = field.partition("=")
    if k == sys.argv[2]:
        print(v)
        break
else:
    sys.exit("no counter %r in %r" % (sys.argv[2], line))
EOF
}

az_mb() {
	az_curl PUT "$AZURITE_ENDPOINT" "$1?restype=container" -o /dev/null \
		-f
}

fuse_hello() { # CONTAINER
	az_mb "$1" || fail "cannot create container"
	printf 'hello\n' >"$dir/hello"
	az_put "$1" hello.txt "$dir/hello" || fail "cannot upload"
}

az_put() { # CONTAINER NAME FILE (NAME already URL-safe)
	az_curl PUT "$AZURITE_ENDPOINT" "$1/$2" -h "x-ms-blob-type: BlockBlob" \
		-h "Content-Length: $(stat -c %s "$3")" --data-binary @"$3" \
		-o /dev/null -f
}

az_get() { # CONTAINER NAME OUT
	az_curl GET "$AZURITE_ENDPOINT" "$1/$2" -o "$3" -f
}

# Many blobs quickly: one keep-alive connection, SharedKey signed.
az_put_many() { # CONTAINER PREFIX N
	python3 - "$AZURITE_PORT" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "$@" <<'EOF'
import base64, hashlib, hmac, http.client, sys, time
port, account, key, cont, prefix, n = sys.argv[1:7]
key = base64.b64decode(key)
conn = http.client.HTTPConnection("127.0.0.1", int(port))
for i in range(int(n)):
    path = "/%s/%s/%s%d" % (account, cont, prefix, i)
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    hdrs = {"x-ms-date": date, "x-ms-version": "2021-08-06",
            "x-ms-blob-type": "BlockBlob", "Content-Length": "1"}
    canon = "".join("%s:%s\n" % (k, hdrs[k]) for k in sorted(hdrs)
                    if k.startswith("x-ms-"))
    sts = "PUT\n\n\n1\n\n\n\n\n\n\n\n\n" + canon + "/" + account + path
    sig = base64.b64encode(hmac.new(key, sts.encode(),
                                    hashlib.sha256).digest()).decode()
    hdrs["Authorization"] = "SharedKey %s:%s" % (account, sig)
    conn.request("PUT", path, body=b"x", headers=hdrs)
    r = conn.getresponse()
    r.read()
    if r.status != 201:
        sys.exit("put %s: %d" % (path, r.status))
EOF
}

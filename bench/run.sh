#!/usr/bin/env bash
# bench/run.sh: blobmill beside raw curl and rclone mount, on one private
# Azurite, in one run, printed as one table of ratios.
#
#   bench/run.sh [--quick] [--repeat N] [--out FILE]
#                [--section all|node|single|stream]
#
# --section node runs only the node section (bench/node.sh: N copy tasks
# at once through two mounts beside N parallel curls); single, only the
# single-stream figures; stream, only the write and cold/warm read of the
# big file (no listing or task data: a few minutes); all (default), node
# and single.
#
# Every figure is the median of N rounds (default 3); in each round
# blobmill, curl and rclone take turns.
#
# Absolute times on a shared 2-core machine mean little; the ratios measured
# side by side in the same run, and the HTTP request counts (read from
# Azurite's access log, the same for every client), mean a lot.
#
# BLOBMILL and BLOBMILL_FUSE name the binaries (make bench sets them).
# --quick shrinks every data set (64 MiB instead of 1 GiB, 1,000 blobs
# instead of 10,000, ...) for a smoke run; its figures are not the targets'.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
: "${BLOBMILL:=$top/_build/ci/task-template/blobmill}"
: "${BLOBMILL_FUSE:=$top/_build/ci/fusefs/blobmill-fuse}"
quick=0
repeat=3
out=
section=all
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--repeat) repeat=$2; shift ;;
	--out) out=$2; shift ;;
	--section) section=$2; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "bench: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
for b in "$BLOBMILL" "$BLOBMILL_FUSE"; do
	[ -x "$b" ] || { echo "bench: '$b' not built: run make first (or set BLOBMILL/BLOBMILL_FUSE)" >&2; exit 2; }
done
# rclone is the bench's only extra package (Debian's rclone): installed
# here when missing and we are root, with what the tests need.
if ! command -v rclone >/dev/null && [ "$(id -u)" = 0 ]; then
	# shellcheck source=tests/lib/deps.sh
	. "$top/tests/lib/deps.sh"
	BM_EXTRA_PACKAGES=rclone deps_install || true
fi
for c in curl rclone python3 fusermount3; do
	command -v "$c" >/dev/null || { echo "bench: '$c' not found: apt-get install ${c/fusermount3/fuse3}" >&2; exit 2; }
done

if [ "$quick" = 1 ]; then
	BIG_MIB=64 N_LS=1000 N_SMALL=100 N_TASKS_LO=1000 N_TASKS_HI=5000
	NODE_NS="1 2 4 8" NODE_MIB=16 NODE_CAT_NS="1 2 4 8" NODE_OUT_NS="8"
else
	BIG_MIB=1024 N_LS=10000 N_SMALL=1000 N_TASKS_LO=10000 N_TASKS_HI=100000
	NODE_NS="1 2 4 8 16 32" NODE_MIB=64 NODE_CAT_NS="1 2 4 8" NODE_OUT_NS="8 32"
fi
case "$section" in
all | node | single | stream) ;;
*) echo "bench: unknown section '$section' (all, node, single, stream)" >&2; exit 2 ;;
esac
CONTAINER=bench

: "${TEST_TMPDIR:=${top_builddir:-$top/_build}/bench-work}"
mkdir -p "$TEST_TMPDIR"
export TEST_TMPDIR
top_builddir=${top_builddir:-$top/_build/ci}
# shellcheck source=tests/lib/azurite.sh
. "$top/tests/lib/azurite.sh"
W=$(mktemp -d "$TEST_TMPDIR/run.XXXXXX")
MOUNTS=()
cleanup() {
	local m
	set +e # every step, whatever failed
	for m in "${MOUNTS[@]+"${MOUNTS[@]}"}"; do
		fusermount3 -uz "$m" 2>/dev/null || true
	done
	pkill -f "rclone mount :azureblob:$CONTAINER $W/" 2>/dev/null || true
	azurite_stop
	rm -rf "$W"
}

# The python3 first on PATH may be a slow shim (pyenv); the system one starts fast.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
log() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { "$PY" -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
calc() { "$PY" -c "import sys; print($1)"; }
reqs() { azurite_requests "${1:-}"; }

azurite_start
# After azurite_start, whose own EXIT trap this replaces (cleanup stops
# Azurite too).
trap cleanup EXIT INT TERM
SAS=$("$PY" "$top/bench/lib/sas.py" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "$CONTAINER" rwdlc)
BASE="$AZURITE_ENDPOINT/$CONTAINER"
"$BLOBMILL" mb "$CONTAINER" >/dev/null

# ---------------------------------------------------------------- data
if [ "$section" != node ]; then
log "bench: creating data ($BIG_MIB MiB file$([ "$section" = stream ] || echo ", $N_LS + $N_SMALL + $N_TASKS_HI blobs"))"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$W/big"
BIG_SHA=$(sha256sum <"$W/big" | cut -d' ' -f1)
mkdir -p "$W/chunks"
(cd "$W/chunks" && split -b 8M -d -a 4 "$W/big" c)
fi
if [ "$section" = all ] || [ "$section" = single ]; then
"$PY" "$top/bench/lib/populate.py" "$AZURITE_ENDPOINT" "$CONTAINER" "$SAS" "ls/" "$N_LS" 0
"$PY" "$top/bench/lib/populate.py" "$AZURITE_ENDPOINT" "$CONTAINER" "$SAS" "small/" "$N_SMALL" 4096
for n in "$N_TASKS_LO" "$N_TASKS_HI"; do
	"$BLOBMILL" mb "tasks$n" >/dev/null
	"$PY" "$top/bench/lib/populate.py" "$AZURITE_ENDPOINT" "tasks$n" \
		"$("$PY" "$top/bench/lib/sas.py" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "tasks$n" rwdlc)" \
		"in/" "$n" 0
done
fi

# ------------------------------------------------------- client helpers
curl_put_blob() { # FILE NAME
	curl -sf -X PUT -H 'x-ms-blob-type: BlockBlob' -T "$1" "$BASE/$2?$SAS" -o /dev/null
}
# The block ids (and the list body) are made once, before any timing:
# the figure is the upload, not the shell.
[ "$section" = node ] || (cd "$W/chunks" && for f in c*; do printf '%s\n' "$f"; done) |
	"$PY" -c '
import base64, sys, urllib.parse
ids = [base64.b64encode(("blk%06d" % int(f.strip()[1:])).encode()).decode() for f in sys.stdin]
with open(sys.argv[1], "w") as args, open(sys.argv[2], "w") as xml:
    xml.write("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>")
    for i, b in enumerate(ids):
        args.write("%s/c%04d\n%s\n" % (sys.argv[3], i, urllib.parse.quote(b, safe="")))
        xml.write("<Latest>%s</Latest>" % b)
    xml.write("</BlockList>")
' "$W/blockargs" "$W/blocklist.xml" "$W/chunks"
curl_put_blocks() { # NAME: 4 parallel Put Block of the 8 MiB chunks, then the list
	xargs -d '\n' -n 2 -P 4 sh -c 'curl -sf -X PUT -T "$1" "'"$BASE/$1"'?comp=block&blockid=$2&'"$SAS"'" -o /dev/null' _ <"$W/blockargs"
	curl -sf -X PUT -T "$W/blocklist.xml" "$BASE/$1?comp=blocklist&$SAS" -o /dev/null
}
curl_get_ranges() { # NAME PARTS SIZE
	local name=$1 parts=$2 size=$3 i step pids=()
	step=$(((size + parts - 1) / parts))
	for ((i = 0; i < parts; i++)); do
		curl -sf -r "$((i * step))-$(((i + 1) * step - 1))" "$BASE/$name?$SAS" -o /dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}
curl_list() { # URL SAS [PREFIX]: every page of a flat listing, as a raw client would
	local marker=
	while :; do
		curl -sfG "$1" -d "restype=container&comp=list&prefix=${3:-}&$2" \
			--data-urlencode "marker=$marker" -o "$W/page.xml"
		marker=$(grep -o '<NextMarker>[^<]*' "$W/page.xml" | cut -c13- || true)
		[ -n "$marker" ] || break
	done
}
# Lanes: one curl per lane, each GETting every LANES-th 16 MiB range in
# turn, as parallel ranged GETs within a lone reader's 32 MiB window
# would (ARCHITECTURE.md, Reads: why one stream). The curl configs are
# made once, before any timing.
curl_lane_configs() { # NAME SIZE LANES
	local seg=$((16 << 20)) n j i
	n=$((($2 + seg - 1) / seg))
	for ((j = 0; j < $3; j++)); do
		for ((i = j; i < n; i += $3)); do
			printf 'url = "%s"\nrange = "%d-%d"\noutput = /dev/null\n' \
				"$BASE/$1?$SAS" "$((i * seg))" "$((i * seg + seg - 1))"
		done >"$W/lane$3.$j"
	done
}
curl_get_lanes() { # LANES
	local j pids=()
	for ((j = 0; j < $1; j++)); do
		curl -sf -K "$W/lane$1.$j" &
		pids+=($!)
	done
	for j in "${pids[@]}"; do wait "$j"; done
}
mount_ours() { # -> OURS_MNT OURS_PID (a cold mount: new daemon, new tmp-path)
	OURS_MNT="$W/ours.$RANDOM"
	mkdir -p "$OURS_MNT" "$OURS_MNT.tmp"
	"$BLOBMILL_FUSE" "$OURS_MNT" --tmp-path="$OURS_MNT.tmp" \
		--container-name="$CONTAINER" -o attr_timeout=240 \
		-o entry_timeout=240 -o negative_timeout=120 "$@"
	MOUNTS+=("$OURS_MNT")
	OURS_PID=$(pgrep -n -f "blobmill-fuse $OURS_MNT") || true
}
mount_rclone() { # -> RC_MNT RC_PID
	RC_MNT="$W/rclone.$RANDOM"
	mkdir -p "$RC_MNT"
	RCLONE_CONFIG=/dev/null RCLONE_AZUREBLOB_SAS_URL="$BASE?$SAS" \
		rclone mount ":azureblob:$CONTAINER" "$RC_MNT" --vfs-cache-mode "${1:-off}" \
		--daemon --daemon-wait 20s --cache-dir "$W/rclone-cache" 2>>"$W/rclone.log"
	MOUNTS+=("$RC_MNT")
	RC_PID=$(pgrep -n -f "rclone mount :azureblob:$CONTAINER $RC_MNT") || true
}
peak_rss_mib() { # PID
	awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"
}
unmount() { # MNT PID
	fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1"
	local i
	for i in $(seq 1 50); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$1.tmp" # our local copies: a GiB per round otherwise
}

# ------------------------------------------------------------- results
ROWS=()
row() { ROWS+=("$(printf '%s\t' "$@")"); }
fmt_ratio() { calc "'%.2f' % ($1)"; }

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }

print_table() {
	echo "blobmill bench ($( [ "$quick" = 1 ] && echo quick || echo full ), section $section, $(nproc) cores, Azurite $AZURITE_VERSION, $(date -u +%F))"
	echo "ratio: > 1 means blobmill is faster for rates, < 1 for times (ls, first byte, tasks, node)"
	printf '%s\n' "figure	blobmill	raw curl	rclone mount	ratio b/curl	ratio b/rclone	HTTP requests (blobmill)	target	met	peak RSS MiB b / rclone" \
		"${ROWS[@]}" | column -t -s $'\t'
}

MIB=$BIG_MIB
# Each figure is measured $repeat times, blobmill, curl and rclone taking
# turns in every round (so drift on a shared machine hits all of them),
# and the median of each is kept. A "cold" blobmill or rclone figure is
# always a fresh mount.
minus() { echo $(($(reqs) - $1)); }
measure() { # FIG SNIPPET: runs SNIPPET, appends its seconds to FIG_T and
	# the requests it made to FIG_R
	local -n _t=$1_T _r=$1_R
	local r0 t0
	r0=$(reqs); t0=$(now)
	eval "$2" >/dev/null
	_t+=("$(elapsed "$t0" "$(now)")"); _r+=("$(minus "$r0")")
}
ours_cold() { # FIG SNIPPET [WARMFIG]: measure on a fresh mount of ours (and
	# again as WARMFIG on the same mount); peak RSS to FIG_RSS
	local -n _m=$1_RSS
	mount_ours
	measure "$1" "$2"
	[ -z "${3:-}" ] || measure "$3" "$2"
	_m+=("$(peak_rss_mib "$OURS_PID")"); unmount "$OURS_MNT" "$OURS_PID"
}
rclone_cold() { # FIG SNIPPET: measure on a fresh rclone mount; FIG_RSS
	local -n _m=$1_RSS
	mount_rclone off
	measure "$1" "$2"
	_m+=("$(peak_rss_mib "$RC_PID")"); unmount "$RC_MNT" "$RC_PID"
}

# shellcheck source=bench/node.sh
. "$top/bench/node.sh"
if [ "$section" = all ] || [ "$section" = node ]; then
	node_section "$NODE_NS" "$NODE_MIB"
	node_cat_section "$NODE_CAT_NS" "$N_SMALL"
	node_small_out_section "$NODE_OUT_NS"
	node_ls_section "$N_LS"
fi
if [ "$section" = node ]; then
	print_table | tee ${out:+"$out"}
	exit 0
fi

# --- write 1 GiB until it is in storage ---
log "bench: write"
WPUT_T=() WPUT_R=() WBLK_T=() WBLK_R=() W_T=() W_R=() W_RSS=() WRC_T=() WRC_R=() WRC_RSS=()
for ((k = 0; k < repeat; k++)); do
	measure WPUT 'curl_put_blob "$W/big" big-curl'
	measure WBLK 'curl_put_blocks big-curl-blocks'
	ours_cold W 'dd if="$W/big" of="$OURS_MNT/big-ours" bs=1M conv=fsync status=none'
	rclone_cold WRC 'dd if="$W/big" of="$RC_MNT/big-rclone" bs=1M conv=fsync status=none'
done
t_curl_put=$(median "${WPUT_T[@]}") t_curl_blk=$(median "${WBLK_T[@]}")
t_ours_w=$(median "${W_T[@]}") r_ours_w=$(median "${W_R[@]}")
rss_ours_w=$(maxof "${W_RSS[@]}") t_rc_w=$(median "${WRC_T[@]}") rss_rc_w=$(maxof "${WRC_RSS[@]}")
got=$("$BLOBMILL" get "$CONTAINER/big-ours" - | sha256sum | cut -d' ' -f1)
[ "$got" = "$BIG_SHA" ] || log "bench: WARNING: big-ours does not match what was written"
# The target is the faster of curl's two ways (one Put Blob, or four
# Put Block at a time and the list).
t_curl_w=$(calc "min($t_curl_put, $t_curl_blk)")
row "write $MIB MiB (MiB/s)" "$(calc "'%.0f' % ($MIB / $t_ours_w)")" \
	"$(calc "'%.0f' % ($MIB / $t_curl_put)") put / $(calc "'%.0f' % ($MIB / $t_curl_blk)") 4xblock" \
	"$(calc "'%.0f' % ($MIB / $t_rc_w)")" \
	"$(fmt_ratio "$t_curl_w / $t_ours_w")" "$(fmt_ratio "$t_rc_w / $t_ours_w")" \
	"$r_ours_w" ">= 0.90 x faster curl" "$(calc "'yes' if $t_curl_w / $t_ours_w >= 0.9 else 'NO'")" \
	"$rss_ours_w / $rss_rc_w"

# --- read 1 GiB, cold and warm; first 4 KiB ---
log "bench: read"
RC1_T=() RC1_R=() RC4_T=() RC4_R=() TTFB_T=() TTFB_R=() TTFB_RSS=() R_T=() R_R=() RW_T=() RW_R=()
R_RSS=() RRC_T=() RRC_R=() RRC_RSS=() RL1_T=() RL1_R=() RL2_T=() RL2_R=()
RCP_T=() RCP_R=()
curl_lane_configs big-curl "$((MIB << 20))" 1
curl_lane_configs big-curl "$((MIB << 20))" 2
for ((k = 0; k < repeat; k++)); do
	measure RC1 'curl -sf "$BASE/big-curl?$SAS" -o /dev/null'
	measure RC4 'curl_get_ranges big-curl 4 "$((MIB << 20))"'
	measure RL1 'curl_get_lanes 1'
	measure RL2 'curl_get_lanes 2'
	measure RCP 'curl -sf "$BASE/big-curl?$SAS" | dd of=/dev/null bs=1M status=none'
	ours_cold TTFB 'dd if="$OURS_MNT/big-curl" of=/dev/null bs=4k count=1 status=none'
	ours_cold R 'dd if="$OURS_MNT/big-curl" of=/dev/null bs=1M status=none' RW
	rclone_cold RRC 'dd if="$RC_MNT/big-curl" of=/dev/null bs=1M status=none'
done
t_curl_1=$(median "${RC1_T[@]}") t_curl_4=$(median "${RC4_T[@]}")
t_ours_ttfb=$(median "${TTFB_T[@]}") r_ours_ttfb=$(maxof "${TTFB_R[@]}")
t_ours_r=$(median "${R_T[@]}") r_ours_r=$(median "${R_R[@]}")
t_ours_rw=$(median "${RW_T[@]}") r_ours_rw=$(maxof "${RW_R[@]}")
rss_ours_r=$(maxof "${R_RSS[@]}") t_rc_r=$(median "${RRC_T[@]}") rss_rc_r=$(maxof "${RRC_RSS[@]}")
row "read $MIB MiB cold (MiB/s)" "$(calc "'%.0f' % ($MIB / $t_ours_r)")" \
	"$(calc "'%.0f' % ($MIB / $t_curl_1)") 1x / $(calc "'%.0f' % ($MIB / $t_curl_4)") 4x" \
	"$(calc "'%.0f' % ($MIB / $t_rc_r)")" \
	"$(fmt_ratio "$t_curl_4 / $t_ours_r")" "$(fmt_ratio "$t_rc_r / $t_ours_r")" \
	"$r_ours_r" ">= 0.90 x curl 4x, > rclone" \
	"$(calc "'yes' if $t_curl_4 / $t_ours_r >= 0.9 and $t_rc_r > $t_ours_r else 'NO'")" \
	"$rss_ours_r / $rss_rc_r"
# Not a target: what parallel ranged GETs ("lanes") within a lone
# reader's 32 MiB window could reach, beside our one stream.
t_curl_l1=$(median "${RL1_T[@]}") t_curl_l2=$(median "${RL2_T[@]}")
row "read $MIB MiB cold, curl 16 MiB ranges (MiB/s)" "$(calc "'%.0f' % ($MIB / $t_ours_r)")" \
	"$(calc "'%.0f' % ($MIB / $t_curl_l1)") 1 lane / $(calc "'%.0f' % ($MIB / $t_curl_l2)") 2 lanes" "-" \
	"$(fmt_ratio "$t_curl_l2 / $t_ours_r")" "-" \
	"$r_ours_r (curl $(median "${RL2_R[@]}"))" "- (vs 2 lanes)" "-" "-"
# Not a target either: curl handing the bytes to a reading process (one
# more copy, through a pipe), as a mount must (daemon, kernel, reader).
t_curl_pipe=$(median "${RCP_T[@]}")
row "read $MIB MiB cold, curl | dd (MiB/s)" "$(calc "'%.0f' % ($MIB / $t_ours_r)")" \
	"$(calc "'%.0f' % ($MIB / $t_curl_pipe)") piped" "-" \
	"$(fmt_ratio "$t_curl_pipe / $t_ours_r")" "-" \
	"$r_ours_r (curl $(median "${RCP_R[@]}"))" "- (vs curl | dd)" "-" "-"
row "read $MIB MiB warm (MiB/s)" "$(calc "'%.0f' % ($MIB / $t_ours_rw)")" \
	"$(calc "'%.0f' % ($MIB / $t_curl_4)") 4x" "-" \
	"$(fmt_ratio "$t_curl_4 / $t_ours_rw")" "-" "$r_ours_rw" "-" "-" "-"
row "first 4 KiB of $MIB MiB (s)" "$t_ours_ttfb" "$t_curl_1 whole blob" "-" \
	"$(fmt_ratio "$t_ours_ttfb / $t_curl_1")" "-" "$r_ours_ttfb" \
	"< 0.05 x curl whole, 1 GET" \
	"$(calc "'yes' if $t_ours_ttfb / $t_curl_1 < 0.05 and $r_ours_ttfb == 1 else 'NO'")" "-"
if [ "$section" = stream ]; then
	print_table | tee ${out:+"$out"}
	exit 0
fi

# --- ls -l of N blobs, cold and warm ---
log "bench: ls -l"
LC_T=() LC_R=() L_T=() L_R=() LW_T=() LW_R=() L_RSS=() LRC_T=() LRC_R=() LRC_RSS=()
for ((k = 0; k < repeat; k++)); do
	measure LC 'curl_list "$BASE" "$SAS" ls/'
	ours_cold L 'ls -l "$OURS_MNT/ls" >"$W/ls.out"' LW
	n_seen=$(grep -c '^-' "$W/ls.out")
	[ "$n_seen" = "$N_LS" ] || log "bench: WARNING: ls -l saw $n_seen files, expected $N_LS"
	rclone_cold LRC 'ls -l "$RC_MNT/ls"'
done
t_curl_ls=$(median "${LC_T[@]}") r_curl_ls=$(median "${LC_R[@]}")
t_ours_ls=$(median "${L_T[@]}") r_ours_ls=$(maxof "${L_R[@]}")
t_ours_ls2=$(median "${LW_T[@]}") r_ours_ls2=$(maxof "${LW_R[@]}")
rss_ours_ls=$(maxof "${L_RSS[@]}")
t_rc_ls=$(median "${LRC_T[@]}") r_rc_ls=$(median "${LRC_R[@]}") rss_rc_ls=$(maxof "${LRC_RSS[@]}")
want_ls=$(((N_LS + 4999) / 5000))
row "ls -l $N_LS cold (s)" "$t_ours_ls" "$t_curl_ls" "$t_rc_ls" \
	"$(fmt_ratio "$t_ours_ls / $t_curl_ls")" "$(fmt_ratio "$t_ours_ls / $t_rc_ls")" \
	"$r_ours_ls (curl $r_curl_ls, rclone $r_rc_ls)" "<= 1.3 x curl, $want_ls List" \
	"$(calc "'yes' if $t_ours_ls / $t_curl_ls <= 1.3 and $r_ours_ls == $want_ls else 'NO'")" \
	"$rss_ours_ls / $rss_rc_ls"
row "ls -l $N_LS warm (s)" "$t_ours_ls2" "-" "-" "-" "-" "$r_ours_ls2" "0 requests" \
	"$(calc "'yes' if $r_ours_ls2 == 0 else 'NO'")" "-"

# --- cat of N small files, cold ---
log "bench: small files"
for ((i = 0; i < N_SMALL; i++)); do
	printf 'url = "%s/small/f%06d?%s"\noutput = /dev/null\n' "$BASE" "$i" "$SAS"
done >"$W/small.curl"
SC_T=() SC_R=() S_T=() S_R=() S_RSS=() SRC_T=() SRC_R=() SRC_RSS=()
for ((k = 0; k < repeat; k++)); do
	measure SC 'curl -sf -K "$W/small.curl"'
	ours_cold S 'cat "$OURS_MNT"/small/*'
	rclone_cold SRC 'cat "$RC_MNT"/small/*'
done
t_curl_sm=$(median "${SC_T[@]}") r_curl_sm=$(median "${SC_R[@]}")
t_ours_sm=$(median "${S_T[@]}") r_ours_sm=$(maxof "${S_R[@]}")
rss_ours_sm=$(maxof "${S_RSS[@]}") t_rc_sm=$(median "${SRC_T[@]}") rss_rc_sm=$(maxof "${SRC_RSS[@]}")
row "cat $N_SMALL x 4 KiB cold (files/s)" "$(calc "'%.0f' % ($N_SMALL / $t_ours_sm)")" \
	"$(calc "'%.0f' % ($N_SMALL / $t_curl_sm)")" "$(calc "'%.0f' % ($N_SMALL / $t_rc_sm)")" \
	"$(fmt_ratio "$t_curl_sm / $t_ours_sm")" "$(fmt_ratio "$t_rc_sm / $t_ours_sm")" \
	"$r_ours_sm (curl $r_curl_sm)" ">= 0.90 x curl, 1 GET/file" \
	"$(calc "'yes' if $t_curl_sm / $t_ours_sm >= 0.9 and $r_ours_sm <= $N_SMALL + 1 else 'NO'")" \
	"$rss_ours_sm / $rss_rc_sm"

# --- blobmill tasks over N blobs vs the raw listing ---
log "bench: tasks"
tasks_run() { # N -> "seconds peakKiB"
	/usr/bin/time -f '%e %M' -o "$W/time.out" "$BLOBMILL" tasks --input "tasks$1" \
		--image busybox --command 'app {in} {out}' >/dev/null
	cat "$W/time.out"
}
sas_hi=$("$PY" "$top/bench/lib/sas.py" "$AZURITE_ACCOUNT" "$AZURITE_KEY" "tasks$N_TASKS_HI" rl)
read -r t_tasks_lo rss_tasks_lo < <(tasks_run "$N_TASKS_LO")
TL_T=() TL_R=() T_HI=() T_HI_RSS=()
for ((k = 0; k < repeat; k++)); do
	measure TL 'curl_list "$AZURITE_ENDPOINT/tasks$N_TASKS_HI" "$sas_hi"'
	read -r t rss < <(tasks_run "$N_TASKS_HI")
	T_HI+=("$t") T_HI_RSS+=("$rss")
done
t_list_hi=$(median "${TL_T[@]}") t_tasks_hi=$(median "${T_HI[@]}")
rss_tasks_hi=$(maxof "${T_HI_RSS[@]}")
row "tasks over $N_TASKS_HI blobs (s)" "$t_tasks_hi" "$t_list_hi raw listing" "-" \
	"$(fmt_ratio "$t_tasks_hi / $t_list_hi")" "-" "-" "<= 1.1 x raw listing" \
	"$(calc "'yes' if $t_tasks_hi / $t_list_hi <= 1.1 else 'NO'")" \
	"$(calc "'%.1f' % ($rss_tasks_hi / 1024)")"
row "tasks RSS $N_TASKS_LO -> $N_TASKS_HI (MiB)" \
	"$(calc "'%.1f -> %.1f' % ($rss_tasks_lo / 1024, $rss_tasks_hi / 1024)")" "-" "-" \
	"$(fmt_ratio "$rss_tasks_hi / $rss_tasks_lo")" "-" "-" "flat within 10%" \
	"$(calc "'yes' if $rss_tasks_hi / $rss_tasks_lo <= 1.1 else 'NO'")" "-"
maxrss=$(calc "max(float(x) for x in '$rss_ours_w $rss_ours_r $rss_ours_ls $rss_ours_sm'.split())")
row "daemon peak RSS, all figures (MiB)" "$maxrss" "-" "$rss_rc_w (write)" "-" "-" "-" \
	"<= 64 MiB" "$(calc "'yes' if $maxrss <= 64 else 'NO'")" "-"

# ---------------------------------------------------------------- table
print_table | tee ${out:+"$out"}

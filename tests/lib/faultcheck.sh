# tests/lib/faultcheck.sh: what the tests under faults share: their
# opening, running a command with a time bound, judging its error output,
# reading a blob straight from Azurite (behind the proxy's back) and
# keeping the figures. Sourcing it sources common.sh, azurite.sh,
# azcurl.sh, faultproxy.sh and fusemount.sh too.
#
#   fc_start [MNT]         dir=$(test_dir), Azurite started, and an EXIT
#                          trap that runs fc_on_exit (when the test defines
#                          it), takes down the mount $dir/MNT (fm_cleanup),
#                          stops the proxy and Azurite, and removes dir
#   fc_seed SEED:MAX-RETRY sets seed and retries, and starts the proxy with
#                          that seed: 10% of requests faulted, 2 s stalls
#   fc_run BOUND CMD...    runs CMD with `timeout BOUND`; sets FC_RC, FC_ERR
#                          (stderr), FC_SECS; a timeout fails the test
#   fc_check_error WHAT    after a failed fc_run: stderr is exactly one line,
#                          starts with "blobmill", holds no key or signature
#   fc_blob_sha CONTAINER NAME   sha256 of the blob as Azurite has it, or
#                          "absent"; the name is percent-encoded here
#   fc_sha FILE            sha256 of a file
#   fc_count KEY [N]       adds N (default 1) to a figure; fc_figures prints
#                          them as one "figures: key=value ..." line

. "$top_srcdir/tests/lib/common.sh"
. "$top_srcdir/tests/lib/azurite.sh"
. "$top_srcdir/tests/lib/azcurl.sh"
. "$top_srcdir/tests/lib/faultproxy.sh"
. "$top_srcdir/tests/lib/fusemount.sh"

declare -A FC_FIG=()
FC_MNT=

fc_start() {
	dir=$(test_dir)
	FC_MNT=${1:+$dir/$1}
	azurite_start || fail "azurite did not start"
	trap fc_end EXIT
}

fc_end() {
	if declare -F fc_on_exit >/dev/null; then
		fc_on_exit
	fi
	[ -z "$FC_MNT" ] || fm_cleanup "$FC_MNT"
	faultproxy_stop
	azurite_stop
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$dir"
}

fc_seed() {
	seed=${1%%:*}
	retries=${1##*:}
	faultproxy_start --seed "$seed" --rate 0.1 --stall-seconds 2 ||
		fail "proxy did not start"
}

fc_count() {
	FC_FIG[$1]=$((${FC_FIG[$1]:-0} + ${2:-1}))
}

fc_figures() {
	local k line="figures:"
	for k in $(printf '%s\n' "${!FC_FIG[@]}" | sort); do
		line+=" $k=${FC_FIG[$k]}"
	done
	echo "$line"
}

fc_sha() {
	sha256sum <"$1" | cut -d' ' -f1
}

fc_run() {
	local bound=$1 t0
	shift
	FC_ERR=$(mktemp "${TEST_TMPDIR:-/tmp}/fc-err.XXXXXX")
	t0=$(date +%s%N)
	timeout -k 5 "$bound" "$@" 2>"$FC_ERR"
	FC_RC=$?
	FC_SECS=$((($(date +%s%N) - t0) / 1000000000))
	if [ "$FC_RC" -eq 124 ] || [ "$FC_RC" -eq 137 ]; then
		fail "'$*' still running after $bound s (the documented bound)"
	fi
	[ "$FC_SECS" -gt "${FC_FIG[max_command_seconds]:-0}" ] &&
		FC_FIG[max_command_seconds]=$FC_SECS
	return 0
}

fc_check_error() {
	local lines
	lines=$(wc -l <"$FC_ERR")
	[ "$lines" -eq 1 ] ||
		fail "$1: failed (exit $FC_RC) with $lines lines on stderr, want one: $(head -c 2000 "$FC_ERR")"
	grep -q '^blobmill' "$FC_ERR" ||
		fail "$1: error line does not name the program: $(cat "$FC_ERR")"
	if grep -qF -e "$AZURITE_KEY" -e "sig=" "$FC_ERR" &&
		! grep -q 'sig=REDACTED' "$FC_ERR"; then
		fail "$1: error line leaks a secret: $(cat "$FC_ERR")"
	fi
	fc_count errors_reported
}

# Percent-encodes a blob name for a URL path ('/' kept), byte by byte.
fc_urlencode() {
	local LC_ALL=C s=$1 out= c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~/-]) out+=$c ;;
		*)
			printf -v c '%%%02X' "'$c"
			out+=$c
			;;
		esac
	done
	printf '%s\n' "$out"
}

fc_blob_sha() {
	local enc tmp code
	enc=$(fc_urlencode "$2")
	tmp=$(mktemp "${TEST_TMPDIR:-/tmp}/fc-blob.XXXXXX")
	code=$(az_curl GET "$AZURITE_ENDPOINT" "$1/$enc" -o "$tmp" \
		-w '%{http_code}' 2>/dev/null)
	case "$code" in
	200) fc_sha "$tmp" ;;
	404) echo absent ;;
	*) echo "error-$code" ;;
	esac
	rm -f "$tmp"
}

# tests/lib/faultcheck.sh: what the tests under faults share: running a
# command with a time bound, judging its error output, reading a blob
# straight from Azurite (behind the proxy's back) and keeping the figures.
#
#   fc_run BOUND CMD...    runs CMD with `timeout BOUND`; sets FC_RC, FC_ERR
#                          (stderr), FC_SECS; a timeout fails the test
#   fc_check_error WHAT    after a failed fc_run: stderr is exactly one line,
#                          starts with "blobmill", holds no key or signature
#   fc_blob_sha CONTAINER NAME   sha256 of the blob as Azurite has it, or
#                          "absent"; the name is percent-encoded here
#   fc_sha FILE            sha256 of a file
#   fc_count KEY [N]       adds N (default 1) to a figure; fc_figures prints
#                          them as one "figures: key=value ..." line
# Needs tests/lib/azurite.sh and tests/lib/azcurl.sh loaded.

declare -A FC_FIG=()

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

# tests/lib/azcurl.sh: signed Blob REST requests with plain curl, for tests
# that must not depend on blobmill's own client (the fault proxy's self-test,
# checking blobs behind a mount). SharedKey over the Azurite development
# account (tests/lib/azurite.sh), signed with openssl.
#
#   az_curl METHOD ENDPOINT PATH-AND-QUERY [curl options...]
#              [-h "Name: value"]... [curl options...]
#     PATH-AND-QUERY is relative to the account, e.g. "cont1?restype=container"
#     or "cont1/blob.bin"; already percent-encoded. Request headers that
#     are signed (x-ms-*, Content-Length, Content-Type, Range) must be given
#     with -h (before the curl options), not -H.

az_curl() {
	local method=$1 endpoint=$2 pq=$3
	shift 3
	local -a extra=()
	while [ "${1:-}" = -h ]; do
		extra+=("$2")
		shift 2
	done
	local path=${pq%%\?*} query=
	[ "$path" != "$pq" ] && query=${pq#*\?}
	local date
	date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
	local -a hdrs=("x-ms-date: $date" "x-ms-version: 2021-08-06"
		"${extra[@]+"${extra[@]}"}")
	local h clen= ctype= range= canon
	for h in "${hdrs[@]}"; do
		case "${h,,}" in
		content-length:*) clen=${h#*: } ;;
		content-type:*) ctype=${h#*: } ;;
		range:*) range=${h#*: } ;;
		esac
	done
	[ "$clen" = 0 ] && clen=
	canon=$(for h in "${hdrs[@]}"; do
		case "${h,,}" in
		x-ms-*) printf '%s:%s\n' "$(printf %s "${h%%:*}" |
			tr 'A-Z' 'a-z')" "${h#*: }" ;;
		esac
	done | LC_ALL=C sort)
	res="/$AZURITE_ACCOUNT/${endpoint##*/}/$path"
	if [ -n "$query" ]; then
		res+=$(printf '%s\n' "${query//&/$'\n'}" |
			sed 's/=/:/' | LC_ALL=C sort | sed 's/^/\\n/' | tr -d '\n')
		res=$(printf '%b' "$res")
	fi
	local sts keyhex sig
	sts=$(printf '%s\n\n\n%s\n\n%s\n\n\n\n\n\n%s\n%s\n%s' "$method" "$clen" \
		"$ctype" "$range" "$canon" "$res")
	# The decoded key, computed once per key (tests call this a lot).
	if [ "${AZ_KEYHEX_OF:-}" != "$AZURITE_KEY" ]; then
		AZ_KEYHEX=$(printf %s "$AZURITE_KEY" | base64 -d | od -An -tx1 -v |
			tr -d ' \n')
		AZ_KEYHEX_OF=$AZURITE_KEY
	fi
	keyhex=$AZ_KEYHEX
	sig=$(printf %s "$sts" | openssl dgst -sha256 -mac HMAC \
		-macopt "hexkey:$keyhex" -binary | base64 -w0)
	local -a args=()
	# curl would add a Content-Type to a --data-binary body, unsigned.
	[ -z "$ctype" ] && args+=(-H "Content-Type:")
	for h in "${hdrs[@]}"; do
		args+=(-H "$h")
	done
	curl -sS -X "$method" "${args[@]}" \
		-H "Authorization: SharedKey $AZURITE_ACCOUNT:$sig" \
		"$@" "$endpoint/$pq"
}

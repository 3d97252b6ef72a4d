# bench/node.sh: the node section of bench/run.sh (sourced by it; uses its
# helpers): N tasks at once on one node, as Azure Batch runs them with
# taskSlotsPerNode > 1. Each task copies a 64 MiB blob in through one
# mount (data-in) and out through another (data-out); beside it in the
# same round, N parallel curls doing the same requests (one GET and one
# Put Blob each). Figures: time ratio, requests, MiB fetched by the
# data-in daemon (its user.blobmill.stats "received") per MiB read, and
# both daemons' peak RSS.

node_stat() { # MNT COUNTER
	"$PY" - "$1" "$2" <<'PYEOF'
import os, sys
line = os.getxattr(sys.argv[1], "user.blobmill.stats").decode()
print(dict(f.partition("=")[::2] for f in line.split()).get(sys.argv[2], 0))
PYEOF
}

node_data() { # N MIB: blobs node/in/f1..fN in storage, files $W/node/fI
	local i
	mkdir -p "$W/node"
	for ((i = 1; i <= $1; i++)); do
		[ -e "$W/node/f$i" ] || head -c "$(($2 << 20))" /dev/urandom >"$W/node/f$i"
		curl_put_blob "$W/node/f$i" "node/in/f$i"
	done
}

node_curl_copies() { # N: N parallel GET + Put Blob
	local i pids=()
	for ((i = 1; i <= $1; i++)); do
		(curl -sf "$BASE/node/in/f$i?$SAS" -o "$W/node/c$i" &&
			curl_put_blob "$W/node/c$i" "node/out/curl$i" && rm -f "$W/node/c$i") &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

node_ours_copies() { # N IN OUT: N parallel cp through the two mounts
	local i pids=()
	for ((i = 1; i <= $1; i++)); do
		cp "$2/node/in/f$i" "$3/node/out/ours$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

node_section() { # "N N ..." MIB
	local n k ns=$1 mib=$2 maxn=0 in_mnt in_pid out_mnt out_pid rx0 rx
	for n in $ns; do [ "$n" -gt "$maxn" ] && maxn=$n; done
	log "bench: node data ($maxn x $mib MiB)"
	node_data "$maxn" "$mib"
	for n in $ns; do
		log "bench: node, $n copies at once"
		local NC_T=() NC_R=() NO_T=() NO_R=() fr=() rss_in=() rss_out=()
		for ((k = 0; k < repeat; k++)); do
			measure NC "node_curl_copies $n"
			mount_ours
			in_mnt=$OURS_MNT in_pid=$OURS_PID
			mount_ours
			out_mnt=$OURS_MNT out_pid=$OURS_PID
			ls "$in_mnt/node/in" "$out_mnt/node" >/dev/null 2>&1 || true
			mkdir -p "$out_mnt/node/out"
			rx0=$(node_stat "$in_mnt" received)
			measure NO "node_ours_copies $n $in_mnt $out_mnt"
			rx=$(($(node_stat "$in_mnt" received) - rx0))
			fr+=("$(calc "'%.3f' % ($rx / float($n * ($mib << 20)))")")
			rss_in+=("$(peak_rss_mib "$in_pid")") rss_out+=("$(peak_rss_mib "$out_pid")")
			unmount "$in_mnt" "$in_pid"
			unmount "$out_mnt" "$out_pid"
		done
		local got
		got=$("$BLOBMILL" get "$CONTAINER/node/out/ours$n" - | sha256sum | cut -d' ' -f1)
		[ "$got" = "$(sha256sum <"$W/node/f$n" | cut -d' ' -f1)" ] ||
			log "bench: WARNING: node/out/ours$n does not match"
		local tc to ratio fmax rin rout
		tc=$(median "${NC_T[@]}") to=$(median "${NO_T[@]}")
		ratio=$(fmt_ratio "$to / $tc") fmax=$(maxof "${fr[@]}")
		rin=$(maxof "${rss_in[@]}") rout=$(maxof "${rss_out[@]}")
		row "node: $n x cp $mib MiB (s)" "$to" "$tc" "-" "$ratio" "-" \
			"$(median "${NO_R[@]}") (curl $(median "${NC_R[@]}")), fetched/read $fmax" \
			"<= 1.5 x curl, fetched/read <= 1.05, RSS <= 64" \
			"$(calc "'yes' if $to / $tc <= 1.5 and $fmax <= 1.05 and max($rin, $rout) <= 64 else 'NO'")" \
			"in $rin / out $rout"
	done
}

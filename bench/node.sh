# bench/node.sh: the node section of bench/run.sh (sourced by it; uses its
# helpers): N tasks at once on one node, as Azure Batch runs them with
# taskSlotsPerNode > 1. Each task copies a 64 MiB blob in through one
# mount (data-in) and out through another (data-out); beside it in the
# same round, N parallel curls doing the same requests (one GET and one
# Put Blob each) and N cp through two rclone mounts of the same Azurite.
# Figures: time ratio, requests, MiB fetched by the data-in daemon (its
# user.blobmill.stats "received") per MiB read, and the daemons' peak
# RSS. Then N concurrent cat loops over the small-file blobs (blobmill
# vs curl vs rclone mount), N small outputs closed at once (blobmill vs
# N curl Put Blob), and one `ls -l` of the listing blobs while 8 copies
# run, against its time on an idle mount.

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

node_cp_into() { # N IN OUT TAG: N parallel cp through two mounts, to node/out/TAGi
	local i pids=()
	for ((i = 1; i <= $1; i++)); do
		cp "$2/node/in/f$i" "$3/node/out/$4$i" &
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
		local NC_T=() NC_R=() NO_T=() NO_R=() RCN_T=() RCN_R=() RCN_RSS=() fr=() rss_in=() rss_out=()
		for ((k = 0; k < repeat; k++)); do
			measure NC "node_curl_copies $n"
			mount_ours
			in_mnt=$OURS_MNT in_pid=$OURS_PID
			mount_ours
			out_mnt=$OURS_MNT out_pid=$OURS_PID
			ls "$in_mnt/node/in" "$out_mnt/node" >/dev/null 2>&1 || true
			mkdir -p "$out_mnt/node/out"
			rx0=$(node_stat "$in_mnt" received)
			measure NO "node_cp_into $n $in_mnt $out_mnt ours"
			rx=$(($(node_stat "$in_mnt" received) - rx0))
			fr+=("$(calc "'%.3f' % ($rx / float($n * ($mib << 20)))")")
			rss_in+=("$(peak_rss_mib "$in_pid")") rss_out+=("$(peak_rss_mib "$out_pid")")
			unmount "$in_mnt" "$in_pid"
			unmount "$out_mnt" "$out_pid"
			node_rclone_copies "$n"
		done
		local got
		got=$("$BLOBMILL" get "$CONTAINER/node/out/ours$n" - | sha256sum | cut -d' ' -f1)
		[ "$got" = "$(sha256sum <"$W/node/f$n" | cut -d' ' -f1)" ] ||
			log "bench: WARNING: node/out/ours$n does not match"
		local tc to tr ratio fmax rin rout
		tc=$(median "${NC_T[@]}") to=$(median "${NO_T[@]}") tr=$(median "${RCN_T[@]}")
		ratio=$(fmt_ratio "$to / $tc") fmax=$(maxof "${fr[@]}")
		rin=$(maxof "${rss_in[@]}") rout=$(maxof "${rss_out[@]}")
		row "node: $n x cp $mib MiB (s)" "$to" "$tc" "$tr" "$ratio" "$(fmt_ratio "$to / $tr")" \
			"$(median "${NO_R[@]}") (curl $(median "${NC_R[@]}"), rclone $(median "${RCN_R[@]}")), fetched/read $fmax" \
			"<= 1.5 x curl, fetched/read <= 1.05, RSS <= 64" \
			"$(calc "'yes' if $to / $tc <= 1.5 and $fmax <= 1.05 and max($rin, $rout) <= 64 else 'NO'")" \
			"in $rin / out $rout / $(maxof "${RCN_RSS[@]}")"
	done
}

# rclone mount beside the copy rows: the same N cp through two rclone
# mounts (data-in, data-out) of the same Azurite; -> RCN_T, RCN_R,
# RCN_RSS (peak of the two daemons).
node_rclone_copies() { # N
	local n=$1 in_mnt in_pid out_mnt out_pid i pids=()
	mount_rclone off
	in_mnt=$RC_MNT in_pid=$RC_PID
	mount_rclone off
	out_mnt=$RC_MNT out_pid=$RC_PID
	ls "$in_mnt/node/in" >/dev/null 2>&1 || true
	mkdir -p "$out_mnt/node/out"
	measure RCN "node_cp_into $n $in_mnt $out_mnt rclone"
	RCN_RSS+=("$(maxof "$(peak_rss_mib "$in_pid")" "$(peak_rss_mib "$out_pid")")")
	unmount "$in_mnt" "$in_pid"
	unmount "$out_mnt" "$out_pid"
}

# ------------------------------------------- small files, N cat loops
# The 4 KiB blobs are small/f000000.. (the single-stream figure's; made
# here only when --section node skipped its data). Loop i of N reads the
# files whose index is i modulo N, so every client makes the same 1 GET
# per file whatever N: the figure is how well N tasks' small reads run
# side by side, not a cache hit. Opened by name with no listing first,
# each file costs blobmill one lookup (List prefix=NAME, see
# ARCHITECTURE.md "stat of a name") and one GET.
node_small_lists() { # N COUNT: $W/node/catI.files (paths) and catI.curl
	local n=$1 count=$2 i j
	for ((i = 0; i < n; i++)); do
		: >"$W/node/cat$i.files"
		: >"$W/node/cat$i.curl"
	done
	for ((j = 0; j < count; j++)); do
		i=$((j % n))
		printf 'small/f%06d\n' "$j" >>"$W/node/cat$i.files"
		printf 'url = "%s/small/f%06d?%s"\noutput = /dev/null\n' "$BASE" "$j" "$SAS" \
			>>"$W/node/cat$i.curl"
	done
}

node_cat_loops() { # N ROOT|curl: N loops at once, each one cat (or one
	# curl) of its share, by name, as a task that knows its inputs would
	local i pids=()
	for ((i = 0; i < $1; i++)); do
		if [ "$2" = curl ]; then
			curl -sf -K "$W/node/cat$i.curl" &
		else
			(cd "$2" && xargs -d '\n' cat <"$W/node/cat$i.files") &
		fi
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

node_cat_section() { # "N N ..." COUNT
	local n k count=$2
	[ "$section" != node ] || {
		log "bench: node small-file data ($count x 4 KiB)"
		"$PY" "$top/bench/lib/populate.py" "$AZURITE_ENDPOINT" "$CONTAINER" "$SAS" "small/" "$count" 4096
	}
	for n in $1; do
		log "bench: node, $n cat loops over $count x 4 KiB"
		node_small_lists "$n" "$count"
		local CC_T=() CC_R=() CO_T=() CO_R=() CO_RSS=() CR_T=() CR_R=() CR_RSS=()
		for ((k = 0; k < repeat; k++)); do
			measure CC "node_cat_loops $n curl"
			mount_ours
			measure CO "node_cat_loops $n $OURS_MNT"
			CO_RSS+=("$(peak_rss_mib "$OURS_PID")")
			unmount "$OURS_MNT" "$OURS_PID"
			mount_rclone off
			measure CR "node_cat_loops $n $RC_MNT"
			CR_RSS+=("$(peak_rss_mib "$RC_PID")")
			unmount "$RC_MNT" "$RC_PID"
		done
		local tc to tr ro
		tc=$(median "${CC_T[@]}") to=$(median "${CO_T[@]}") tr=$(median "${CR_T[@]}")
		ro=$(maxof "${CO_R[@]}")
		row "node: $n x cat loop, $count x 4 KiB (s)" "$to" "$tc" "$tr" \
			"$(fmt_ratio "$to / $tc")" "$(fmt_ratio "$to / $tr")" \
			"$ro (curl $(median "${CC_R[@]}"), rclone $(median "${CR_R[@]}"))" \
			"<= 1.11 x curl, <= 1 lookup + 1 GET/file" \
			"$(calc "'yes' if $to / $tc <= 1.11 and $ro <= 2 * $count else 'NO'")" \
			"$(maxof "${CO_RSS[@]}") / $(maxof "${CR_RSS[@]}")"
	done
}

# -------------------------------------------- ls -l during 8 copies
# One cold `ls -l` of the ls/ blobs (the single-stream ls figure's; made
# here only for --section node) on the data-in mount, idle and then while
# 8 copies run through the same two mounts; curl's raw listing beside it,
# idle and while 8 curl copies run. The copies start first; the ls must
# end before they do (checked).
node_ls_busy() { # KIND(ours|curl) IN OUT FIG: ls while 8 copies run
	local i pids=() running=0
	for ((i = 1; i <= 8; i++)); do
		if [ "$1" = curl ]; then
			(curl -sf "$BASE/node/in/f$i?$SAS" -o "$W/node/c$i" &&
				curl_put_blob "$W/node/c$i" "node/out/curl$i" && rm -f "$W/node/c$i") &
		else
			cp "$2/node/in/f$i" "$3/node/out/ours$i" &
		fi
		pids+=($!)
	done
	sleep 0.3
	# Timed here, not by measure: its request count waits for Azurite's
	# log to go quiet, i.e. for the copies to end.
	local -n _bt=$4_T
	local t0
	t0=$(now)
	if [ "$1" = curl ]; then
		curl_list "$BASE" "$SAS" ls/
	else
		ls -l "$2/ls" >"$W/node/ls.out"
	fi
	_bt+=("$(elapsed "$t0" "$(now)")")
	for i in "${pids[@]}"; do ! kill -0 "$i" 2>/dev/null || running=$((running + 1)); done
	[ "$running" -gt 0 ] || log "bench: WARNING: all 8 copies ended before the ls -l did"
	for i in "${pids[@]}"; do wait "$i"; done
}

node_ls_section() { # COUNT
	local k count=$1 in_mnt in_pid out_mnt out_pid n_seen
	[ "$section" != node ] || {
		log "bench: node listing data ($count blobs)"
		"$PY" "$top/bench/lib/populate.py" "$AZURITE_ENDPOINT" "$CONTAINER" "$SAS" "ls/" "$count" 0
	}
	log "bench: node, ls -l of $count during 8 copies"
	local LI_T=() LI_R=() LB_T=() LCI_T=() LCI_R=() LCB_T=() LB_RSS=()
	for ((k = 0; k < repeat; k++)); do
		measure LCI 'curl_list "$BASE" "$SAS" ls/'
		node_ls_busy curl - - LCB
		mount_ours
		measure LI 'ls -l "$OURS_MNT/ls" >"$W/node/ls.out"'
		unmount "$OURS_MNT" "$OURS_PID"
		mount_ours
		in_mnt=$OURS_MNT in_pid=$OURS_PID
		mount_ours
		out_mnt=$OURS_MNT out_pid=$OURS_PID
		mkdir -p "$out_mnt/node/out"
		node_ls_busy ours "$in_mnt" "$out_mnt" LB
		n_seen=$(grep -c '^-' "$W/node/ls.out" || true)
		[ "$n_seen" = "$count" ] || log "bench: WARNING: ls -l saw $n_seen files, expected $count"
		LB_RSS+=("$(peak_rss_mib "$in_pid")")
		unmount "$in_mnt" "$in_pid"
		unmount "$out_mnt" "$out_pid"
	done
	local ti tb tci tcb
	ti=$(median "${LI_T[@]}") tb=$(median "${LB_T[@]}")
	tci=$(median "${LCI_T[@]}") tcb=$(median "${LCB_T[@]}")
	row "node: ls -l $count during 8 cp (s)" "$tb (idle $ti)" "$tcb (idle $tci)" "-" \
		"$(fmt_ratio "$tb / $tcb")" "-" \
		"idle $(maxof "${LI_R[@]}") (curl $(median "${LCI_R[@]}"))" \
		"<= 2 x idle (here $(fmt_ratio "$tb / $ti"); curl $(fmt_ratio "$tcb / $tci"))" \
		"$(calc "'yes' if $tb / $ti <= 2 else 'NO'")" "$(maxof "${LB_RSS[@]}") / -"
}

# ------------------------------------- N small outputs closed at once
# N tasks each write a 4 KiB output at the same moment (cp of a local
# file) through one fresh data-out mount, beside N parallel curl Put Blob
# of the same file. Each close uploads its file (errors surface there),
# so the figure is how many uploads the mount keeps going at once.
node_small_out() { # N ROOT|curl
	local i pids=()
	for ((i = 1; i <= $1; i++)); do
		if [ "$2" = curl ]; then
			curl_put_blob "$W/node/out4k" "node/sout/curl$i" &
		else
			cp "$W/node/out4k" "$2/node/sout/ours$i" &
		fi
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
}

node_small_out_section() { # "N N ..."
	local n k
	mkdir -p "$W/node"
	head -c 4096 /dev/urandom >"$W/node/out4k"
	for n in $1; do
		log "bench: node, $n small outputs closed at once"
		local SOC_T=() SOC_R=() SOO_T=() SOO_R=() SOO_RSS=() ours=()
		local r0
		for ((k = 0; k < repeat; k++)); do
			measure SOC "node_small_out $n curl"
			mount_ours
			mkdir -p "$OURS_MNT/node/sout"
			r0=$(reqs 'node/sout/ours')
			measure SOO "node_small_out $n $OURS_MNT"
			# The requests naming the outputs: the figure the
			# target is about (the whole log may hold a late line
			# of the mount or mkdir too, in SOO_R).
			ours+=("$(($(reqs 'node/sout/ours') - r0))")
			SOO_RSS+=("$(peak_rss_mib "$OURS_PID")")
			unmount "$OURS_MNT" "$OURS_PID"
		done
		local tc to ro
		tc=$(median "${SOC_T[@]}") to=$(median "${SOO_T[@]}") ro=$(maxof "${ours[@]}")
		row "node: $n x 4 KiB closed at once (s)" "$to" "$tc" "-" \
			"$(fmt_ratio "$to / $tc")" "-" \
			"$ro on the outputs, $(maxof "${SOO_R[@]}") in all (curl $(median "${SOC_R[@]}"))" \
			"<= 1.5 x curl, 1 Put Blob/file" \
			"$(calc "'yes' if $to / $tc <= 1.5 and $ro <= $n else 'NO'")" \
			"$(maxof "${SOO_RSS[@]}") / -"
	done
}

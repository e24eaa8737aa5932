# SPDX-License-Identifier: GPL-2.0
# The flood section of `make bench` (sourced by bench/run.sh, which documents the variables): a TCP
# stream through an xwg tunnel while $OUTPUT/flood (bench/flood.c) floods the receiver's listen port.
#
# Per mode (BENCH_FLOOD_MODES): case_up's two namespaces, a the client and b the server and target.
# The flood leaves a's namespace with sources spoofed from FLOOD_SRC; b routes that prefix back to a,
# which blackholes what b answers, so every packet stays in the case's namespaces and b's rp_filter
# accepts the flood.  Timeline per flood kind: snapshot b (`xwg show --json`, agent CPU), flood for
# BENCH_SECS + 5 s, after 2 s of flood alone one iperf3 run a->b (BENCH_SECS), snapshot again, one
# unflooded iperf3 run.  "Unflooded" is the mean of the unflooded runs just before and after the flood.

FLOOD_KINDS=${BENCH_FLOOD_KINDS:-init data garbage replay}
FLOOD_MODES=${BENCH_FLOOD_MODES:-auto xdp}
FLOOD_PPS=${BENCH_FLOOD_PPS:-20000}
FLOOD_SRC=198.18.0.0/15
FLOOD_ALONE=2		# seconds of flood before the stream starts
declare -A F_ROWS=() F_NA=()

# The action (DELIVER, AGENT, DROP) of each reason, from the one list of them.
declare -A F_ACTION=()
while read -r name action; do
	F_ACTION[$name]=$action
done < <(sed -n 's/^[[:space:]]*X(\([A-Z_]*\),[[:space:]]*\([A-Z]*\),.*/\1 \2/p' \
	"$(dirname "${BASH_SOURCE[0]}")/../include/xwg_reasons.h")

# udp_rcvbuf_errors NS: datagrams the namespace's UDP sockets dropped for a full receive buffer.
udp_rcvbuf_errors() {
	nsx "$1" awk '/^Udp:/ { if (!n++) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i } else print $c }' \
		/proc/net/snmp
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# flood_snap FILE: b's `xwg show --json`.
flood_snap() { nsx "$NS_B" "$XWG" show "$(ifname_of "$F_N" b)" --json >"$1" 2>/dev/null; }

# flood_pct JIFFIES MS: CPU percent of one core.
flood_pct() { awk -v j="$1" -v ms="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (ms > 0 ? j / hz * 100000 / ms : 0) }'; }

# flood_moved BEFORE AFTER ACTION: "KEY n, ..." for reasons of ACTION that moved, minus the stream's own.
flood_moved() {
	local key n out=''
	while read -r key n; do
		[ "${F_ACTION[$key]:-DROP}" = "$3" ] || continue
		case $key in OK|KEEPALIVE|RX_BULK|TX_*) continue ;; esac
		out+="${out:+, }$key $n"
	done < <(jq -r -n --slurpfile a "$1" --slurpfile b "$2" \
		'$b[0].reasons as $r | $a[0].reasons as $q | $r | keys[] | "\(.) \($r[.] - ($q[.] // 0))"' 2>/dev/null |
		awk '$2 > 0')
	echo "${out:-none}"
}

# flood_stream OUT.json: one iperf3 run a->b; sets F_RATE (Gbit/s, empty on failure) and F_CPU (agent
# b's CPU % during the run).
flood_stream() {
	local c0 c1 t0 t1
	F_RATE='' F_CPU=''
	c0=$(ns_cpu "$NS_B") t0=$(now_ms)
	iperf_json "$1" && F_RATE=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 1000 | round / 1000' "$1")
	c1=$(ns_cpu "$NS_B") t1=$(now_ms)
	F_CPU=$(flood_pct $((c1 - c0)) $((t1 - t0)))
}

# flood_capture: a's own data messages to b, for the replay kind: ACKs of a b->a stream (single
# packets, never GSO super-packets), captured leaving a's veth.
flood_capture() {
	F_REPLAY=$T_TMP/replay.$F_N.bin
	rm -f "$F_REPLAY"
	nsx "$NS_A" "$OUTPUT/flood" capture "$VETH_A" "$(port_of "$F_N" b)" 2000 "$F_REPLAY" 8 \
		>"$T_TMP/capture.out" 2>&1 &
	local pid=$!
	sleep 0.3
	BENCH_SECS=2 iperf_json "$T_TMP/capture.json" -R
	wait "$pid"
	progress "flood $F_MODE: $(cat "$T_TMP/capture.out")"
}

# flood_kind KIND: one flood against the stream; sets K_ROW, its row with the unflooded cell and the
# ratio left for flood_row ("@U@", "@R@", "@M@").
flood_kind() {
	local kind=$1 j0=$T_TMP/f0.json j1=$T_TMP/f1.json out=$T_TMP/flood.out c0 c1 t0 t1 e0 e1 alone pid args=()
	case $kind in
	init) args=(--pubkey "${PAIR_B_PUB[$F_N]}") ;;
	replay) args=(--file "$F_REPLAY") ;;
	esac
	progress "flood $F_MODE: $kind at $FLOOD_PPS packets/s"
	flood_snap "$j0"
	e0=$(udp_rcvbuf_errors "$NS_B")
	c0=$(ns_cpu "$NS_B") t0=$(now_ms)
	nsx "$NS_A" "$OUTPUT/flood" send "$kind" "$UB4" "$(port_of "$F_N" b)" "$FLOOD_PPS" $((BENCH_SECS + 5)) \
		--src "$FLOOD_SRC" "${args[@]}" >"$out" 2>&1 &
	pid=$!
	sleep "$FLOOD_ALONE"
	c1=$(ns_cpu "$NS_B") t1=$(now_ms)
	alone=$(flood_pct $((c1 - c0)) $((t1 - t0)))
	flood_stream "$T_TMP/f.$kind.json"
	wait "$pid"
	flood_snap "$j1"
	e1=$(udp_rcvbuf_errors "$NS_B")
	[ -s "$out" ] && grep -v '^sent=' "$out" | head -n 3 | sed 's/^/bench: flood: /' >&2
	K_RATE=$F_RATE
	K_ROW=$(awk -v m="$F_MODE" -v k="$kind" -v r="$F_RATE" -v cpu="$F_CPU" -v alone="$alone" \
		-v sent="$(sed -n 's/.*pps=\([0-9]*\).*/\1/p' "$out")" \
		-v cookies="$(jq -n --slurpfile a "$j0" --slurpfile b "$j1" '$b[0].cookie_replies.sent - $a[0].cookie_replies.sent' 2>/dev/null)" \
		-v drops="$(flood_moved "$j0" "$j1" DROP)" -v up="$(flood_moved "$j0" "$j1" AGENT)" \
		-v sock="$(( ${e1:-0} - ${e0:-0} ))" 'BEGIN {
		printf "| %s | %s | %s | @U@ | %s | @R@ | >= 0.9 | @M@ | %s | %s | %s | %s | %s%% | %s%% |\n", m, k,
			sent == "" ? "n/a (flood failed)" : sent, r == "" ? "n/a" : r,
			cookies == "" ? "n/a" : cookies, drops, up, sock, alone, cpu }')
}

# flood_row ROW FLOODED BEFORE AFTER: ROW with the unflooded rate (the mean of the runs just before
# and just after the flood: the machine is shared and drifts), the ratio and whether it met 0.9.
flood_row() {
	local u ratio res
	read -r u ratio res < <(awk -v r="$2" -v a="$3" -v b="$4" 'BEGIN {
		if (a == "" || b == "") u = a b; else u = sprintf("%.3f", (a + b) / 2)
		if (r == "" || u == "" || u + 0 == 0) { print (u == "" ? "n/a" : u), "n/a", "n/a"; exit }
		printf "%s %.2f %s\n", u, r / u, (r / u >= 0.9 ? "met" : "missed") }')
	printf '%s\n' "$1" | sed -e "s/@U@/$u/" -e "s/@R@/$ratio/" -e "s/@M@/$res/"
}

# flood_mode MODE N: the tunnel, then an unflooded run before and after each flood kind.
flood_mode() {
	local kind prev rates='' cpus=''
	F_MODE=$1 F_N=$2
	progress "flood $F_MODE: setting up"
	if ! case_up "$F_MODE" "$F_N"; then
		F_NA[$F_MODE]=${WHY:-did not come up}
		case_down "$F_N"
		return
	fi
	if ! ip -n "$NS_B" route add "$FLOOD_SRC" via "$UA4" || ! ip -n "$NS_A" route add blackhole "$FLOOD_SRC"; then
		F_NA[$F_MODE]="routes for $FLOOD_SRC failed"
		case_down "$F_N"
		return
	fi
	nsx "$NS_B" iperf3 -s -p $PORT >/dev/null 2>&1 &
	T_PIDS+=($!)
	wait_for 5 sh -c "ip netns exec '$NS_B' ss -ltn | grep -q ':$PORT '"
	[[ " $FLOOD_KINDS " == *" replay "* ]] && flood_capture
	progress "flood $F_MODE: unflooded stream"
	flood_stream "$T_TMP/base.json"
	prev=$F_RATE rates=${F_RATE:-n/a} cpus="$F_CPU%"
	F_ROWS[$F_MODE]=''
	for kind in $FLOOD_KINDS; do
		flood_kind "$kind"
		progress "flood $F_MODE: unflooded stream"
		flood_stream "$T_TMP/base.json"
		F_ROWS[$F_MODE]+=$(flood_row "$K_ROW" "$K_RATE" "$prev" "$F_RATE")$'\n'
		prev=$F_RATE rates+=", ${F_RATE:-n/a}" cpus+=", $F_CPU%"
	done
	F_ROWS[$F_MODE]="| $F_MODE | none | 0 | $rates | | | | | | | | | | $cpus |"$'\n'"${F_ROWS[$F_MODE]}"
	case_down "$F_N"
}

flood_run() {
	local m n=60
	[ -x "$OUTPUT/flood" ] || { F_WHY="$OUTPUT/flood missing: run make"; return; }
	for m in $FLOOD_MODES; do
		n=$((n + 1))
		flood_mode "$m" "$n"
	done
}

flood_print() {
	local m
	[ -n "${F_WHY:-}" ] && { echo "n/a ($F_WHY)"; return; }
	echo "Each flood: $FLOOD_PPS packets/s asked of bench/flood.c (the packets/s column is what it sent) at b's" \
		"listen port from sources in $FLOOD_SRC, for BENCH_SECS + 5 s; the stream is one iperf3 TCP run a->b of" \
		"$BENCH_SECS s started after $FLOOD_ALONE s of flood.  Unflooded: the mean of the unflooded runs just" \
		"before and just after it (row none: every unflooded run in order, and b's agent CPU in each).  Drops: b's reason counters that moved (DROP actions: BPF's, and AGENT_RX_DROP, the agent's);" \
		"passed up: AGENT actions (XDP_PASS to b's socket).  Socket drops: b's UDP RcvbufErrors (/proc/net/snmp)" \
		"during the flood, the stream's datagrams among them.  Agent CPU: b's agent (/proc/PID/stat), percent of one" \
		"core, during the flood alone and during flood + stream.  The machine's $(nproc) CPUs are shared with" \
		"everything else running: the rates are noisy."
	echo
	echo "| mode | flood | packets/s | unflooded Gbit/s | flooded Gbit/s | ratio | goal | result | cookie replies |" \
		"drops by reason | passed up to the agent | socket drops | agent CPU flood alone | agent CPU flood + stream |"
	echo "|------|-------|------:|------:|------:|------:|-----:|--------|------:|------|------|------:|------:|------:|"
	for m in $FLOOD_MODES; do
		if [ -n "${F_NA[$m]:-}" ]; then
			echo "| $m | n/a (${F_NA[$m]}) | | | | | | | | | | | | |"
			continue
		fi
		printf '%s' "${F_ROWS[$m]}"
	done
}

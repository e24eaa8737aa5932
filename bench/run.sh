#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: throughput, packet rate, latency and CPU cost of each data path over a veth, plus the BPF AEAD benchmark.
#
# A benchmark, not a test: it prints numbers, never pass/fail (the exit status is 0 unless it could not
# run at all).  Needs root, iperf3, ping, jq, wg, wireguard-go and $OUTPUT/xwg (OUTPUT defaults to
# ./.output).  Runs in about 2-3 minutes.  Every case gets two fresh namespaces joined by a veth
# (selftests/lib.sh's topology); a is the client, b the server; the tunnel MTU is 1420.
#
# Cases (BENCH_CASES selects, default all, in this order):
#   plain     the veth itself, no tunnel: the ceiling
#   wggo      wireguard-go <-> wireguard-go
#   tun       xwg --mode tun <-> xwg --mode tun
#   xdp       xwg --mode xdp <-> xwg --mode xdp
#   xdp-wggo  xwg --mode xdp (a) <-> wireguard-go (b)
#
# Output (stdout; progress goes to stderr):
#   1. One markdown table, a row per case:
#      | case | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 1392 B kpps | ping avg us | CPU s/GB |
#      TCP: iperf3 -t $BENCH_SECS (default 5), receiver's rate, single stream and -P 4.
#      UDP: iperf3 -u -b 0 -l 1392: datagrams the receiver got (packets - lost) per second, in thousands.
#      ping: average RTT of 50 pings -i 0.01 over the tunnel, in microseconds.
#      CPU s/GB: busy jiffies of the whole machine (user+nice+system+irq+softirq from /proc/stat, so every
#      process involved and softirq time) during the single-stream TCP run, in seconds, per GB (1e9 bytes)
#      received.  System-wide: anything else running on the machine inflates it.
#      A case that does not come up prints "n/a (reason)" in its row; a run that fails prints "n/a".
#   2. Ratios the issue targets, one markdown table: xdp vs wggo (TCP 1 stream and 4 streams >= 3x,
#      UDP kpps >= 5x, ping <= 0.5x, CPU s/GB <= 0.45x) and tun vs wggo (TCP 1 stream >= 1x), each
#      "met", "missed" or "n/a".
#   3. The BPF AEAD benchmark (bench/aead_bench.c, built into $OUTPUT/aead_bench): its own markdown
#      table of ns per packet for OpenSSL, the portable core under gcc and the same core in BPF.
#   4. The per-program benchmark (bench/prog_bench.c, built into $OUTPUT/prog_bench): xwg_rx,
#      xwg_rx_tc_full and xwg_tx on fresh MTU-sized packets through BPF_PROG_TEST_RUN, ns per run.

LIB_DEMO=1
. "$(dirname "$0")/../selftests/lib.sh"

BENCH_SECS=${BENCH_SECS:-5}
BENCH_CASES=${BENCH_CASES:-plain wggo tun xdp xdp-wggo}
PORT=5201

progress() { printf 'bench: %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN, BPF)"
for c in ip iperf3 ping jq wg; do
	command -v "$c" >/dev/null || die "needs '$c' (make deps installs it)"
done

lib_init

declare -A R_TCP1 R_TCP4 R_UDP R_PING R_CPU R_NA

# The machine's busy jiffies so far: user + nice + system + irq + softirq, summed over CPUs.
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }

# iperf_json OUT.json iperf3-client-args...: one client run from NS_A; 0 when it produced a report.
iperf_json() {
	local out=$1; shift
	nsx "$NS_A" timeout $((BENCH_SECS + 20)) iperf3 -c "$DST" -p $PORT -t "$BENCH_SECS" -J \
		--connect-timeout 5000 "$@" >"$out" 2>"$out.err" && jq -e '.end.sum_received' "$out" >/dev/null 2>&1
}

# case_up CASE N: fresh namespaces and the tunnel; sets DST, or WHY when it could not.
case_up() {
	local c=$1 n=$2 log=$T_TMP/up.$1.log
	NS_A=$P-${n}a NS_B=$P-${n}b VETH_A=${P}v${n}a VETH_B=${P}v${n}b WHY=''
	topo_link "$NS_A" "$NS_B" "$VETH_A" "$VETH_B" >"$log" 2>&1 || { WHY="topology failed"; return 1; }
	case $c in
	plain)	DST=$UB4; return 0 ;;
	wggo)	set -- wireguard-go wireguard-go '' '' ;;
	tun)	set -- xwg xwg tun tun ;;
	xdp)	set -- xwg xwg xdp xdp ;;
	xdp-wggo) set -- xwg wireguard-go xdp '' ;;
	*)	WHY="unknown case"; return 1 ;;
	esac
	if [ "$1" = xwg ] || [ "$2" = xwg ]; then
		[ -x "$XWG" ] || { WHY="$XWG not built"; return 1; }
	fi
	if [ "$1" = wireguard-go ] || [ "$2" = wireguard-go ]; then
		command -v "$WGGO" >/dev/null || { WHY="no wireguard-go"; return 1; }
	fi
	DST=$(ovl4 "$n" b)
	if ! XWG_DAEMON=1 XWG_MODE_A=$3 XWG_MODE_B=$4 pair_up "$n" "$1" "$2" 4 a >>"$log" 2>&1; then
		cat "$T_TMP/$(ifname_of "$n" a).log" "$T_TMP/$(ifname_of "$n" b).log" 2>/dev/null >>"$log"
		WHY=$({ grep -h -E 'cannot use mode|not implemented' "$log"; grep -h -E 'rror|fail' "$log"; } |
			sed -e 's/^[#[:space:]]*//' -e 's/|/\\|/g' | head -n 1 | cut -c1-120)
		return 1
	fi
	nsx "$NS_A" ping -c 3 -i 0.2 -w 10 -q "$DST" >>"$log" 2>&1 || { WHY="no ping through the tunnel"; return 1; }
	return 0
}

# case_down N: agents down (xwg down removes its BPF state), everything in the namespaces killed, both gone.
case_down() {
	local pid
	pair_down "$1" >/dev/null 2>&1
	for pid in $(ip netns pids "$NS_A") $(ip netns pids "$NS_B"); do kill -KILL "$pid" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
}

# run_case CASE N: measures one case into the R_* tables.
run_case() {
	local c=$1 n=$2 j b0 b1 hz bytes
	progress "case $c: setting up"
	if ! case_up "$c" "$n"; then
		R_NA[$c]=${WHY:-did not come up}
		progress "case $c: n/a (${R_NA[$c]})"
		case_down "$n"
		return
	fi
	nsx "$NS_B" iperf3 -s -p $PORT >/dev/null 2>&1 &
	T_PIDS+=($!)
	wait_for 5 sh -c "ip netns exec '$NS_B' ss -ltn | grep -q ':$PORT '"

	progress "case $c: ping"
	R_PING[$c]=$(nsx "$NS_A" ping -c 50 -i 0.01 -w 10 -q "$DST" 2>/dev/null |
		awk -F/ '/^(rtt|round-trip)/ { printf "%.0f", $5 * 1000 }')

	progress "case $c: TCP, 1 stream"
	j=$T_TMP/$c.tcp1.json
	b0=$(busy_jiffies)
	if iperf_json "$j"; then
		b1=$(busy_jiffies) hz=$(getconf CLK_TCK)
		R_TCP1[$c]=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$j")
		bytes=$(jq -r '.end.sum_received.bytes' "$j")
		R_CPU[$c]=$(awk -v j=$((b1 - b0)) -v hz="$hz" -v b="$bytes" \
			'BEGIN { if (b > 0) printf "%.2f", (j / hz) / (b / 1e9) }')
	fi

	progress "case $c: TCP, 4 streams"
	j=$T_TMP/$c.tcp4.json
	iperf_json "$j" -P 4 &&
		R_TCP4[$c]=$(jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$j")

	progress "case $c: UDP, 1392-byte datagrams"
	j=$T_TMP/$c.udp.json
	iperf_json "$j" -u -b 0 -l 1392 &&
		R_UDP[$c]=$(jq -r '.end.sum_received | (.packets - .lost_packets) / .seconds / 1000 | round' "$j")

	case_down "$n"
}

cell() { [ -n "${2:-}" ] && printf '%s' "$2" || printf 'n/a'; }

print_results() {
	local c
	echo "| case | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 1392 B kpps | ping avg us | CPU s/GB |"
	echo "|------|------:|------:|------:|------:|------:|"
	for c in $BENCH_CASES; do
		if [ -n "${R_NA[$c]:-}" ]; then
			echo "| $c | n/a (${R_NA[$c]}) | n/a | n/a | n/a | n/a |"
			continue
		fi
		echo "| $c | $(cell x "${R_TCP1[$c]:-}") | $(cell x "${R_TCP4[$c]:-}") | $(cell x "${R_UDP[$c]:-}") |" \
			"$(cell x "${R_PING[$c]:-}") | $(cell x "${R_CPU[$c]:-}") |"
	done
}

# ratio_row WHAT NUM DEN OP GOAL: one line of the targets table; OP is ge (ratio >= GOAL) or le.
ratio_row() {
	local what=$1 num=$2 den=$3 op=$4 goal=$5
	awk -v w="$what" -v a="$num" -v b="$den" -v op="$op" -v g="$goal" 'BEGIN {
		sign = (op == "ge") ? ">=" : "<="
		if (a == "" || b == "" || b + 0 == 0) { printf "| %s | n/a | %s %sx | n/a |\n", w, sign, g; exit }
		r = a / b; met = (op == "ge") ? (r >= g) : (r <= g)
		printf "| %s | %.2fx | %s %sx | %s |\n", w, r, sign, g, met ? "met" : "missed" }'
}

print_ratios() {
	local x=xdp g=wggo
	echo "| target | ratio | goal | result |"
	echo "|--------|------:|-----:|--------|"
	ratio_row "xdp vs wireguard-go: TCP 1 stream" "${R_TCP1[$x]:-}" "${R_TCP1[$g]:-}" ge 3
	ratio_row "xdp vs wireguard-go: TCP 4 streams" "${R_TCP4[$x]:-}" "${R_TCP4[$g]:-}" ge 3
	ratio_row "xdp vs wireguard-go: UDP pps" "${R_UDP[$x]:-}" "${R_UDP[$g]:-}" ge 5
	ratio_row "xdp vs wireguard-go: ping RTT" "${R_PING[$x]:-}" "${R_PING[$g]:-}" le 0.5
	ratio_row "xdp vs wireguard-go: CPU s/GB" "${R_CPU[$x]:-}" "${R_CPU[$g]:-}" le 0.45
	ratio_row "tun vs wireguard-go: TCP 1 stream" "${R_TCP1[tun]:-}" "${R_TCP1[$g]:-}" ge 1
}

# A micro-benchmark binary (bench/NAME.c, built into $OUTPUT/NAME by make all).
run_micro() {
	local name=$1 what=$2
	[ -x "$OUTPUT/$name" ] || { echo "n/a ($OUTPUT/$name missing: run make)"; return; }
	progress "$what"
	"$OUTPUT/$name" 2>&1 || echo "n/a ($name failed)"
}

start=$(date +%s) load=$(cut -d' ' -f1-3 /proc/loadavg)
n=0
for c in $BENCH_CASES; do
	n=$((n + 1))
	run_case "$c" "$n"
done

echo "## Data path over a veth ($(nproc) CPUs, $(uname -r), iperf3 -t $BENCH_SECS, load average before: $load)"
echo
print_results
echo
echo "## Targets"
echo
print_ratios
echo
echo "## ChaCha20-Poly1305 per packet (bench/aead_bench.c)"
echo
run_micro aead_bench "AEAD benchmark"
echo
echo "## BPF programs per MTU-sized packet (bench/prog_bench.c, BPF_PROG_TEST_RUN)"
echo
run_micro prog_bench "per-program benchmark"
progress "done in $(( $(date +%s) - start )) s"
exit 0

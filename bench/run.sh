#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: throughput, packet rate, latency and CPU cost of each data path over a veth, against
# Debian's and a modern wireguard-go, with the issue's target ratios, CPU floors, and optionally perf.
#
# A benchmark, not a test: it prints numbers, never pass/fail (the exit status is 0 unless it could not
# run at all).  Needs root, iperf3, ping, jq, wg, wireguard-go, $OUTPUT/xwg and $OUTPUT/flood (OUTPUT
# defaults to ./.output); perf (Debian linux-perf) for BENCH_PERF=1.  Runs in about 6 minutes at
# BENCH_SECS=5 (6.5 with BENCH_PERF=1; the flood section, 8., is about 2.7 of it).
# Every case gets two fresh namespaces joined by a veth (selftests/lib.sh's topology); a is the client,
# b the server; the tunnel MTU is 1420.
#
# Environment:
#   BENCH_SECS   seconds per iperf3 run (default 5)
#   BENCH_CASES  cases to run, in this order (default all below)
#   BENCH_PERF   1: also profile a single-stream TCP run of auto, xdp, tun and wggo-modern (section 6)
#   WGGO_MODERN  the modern wireguard-go binary (TUN offloads, UDP GSO/GRO); default
#                ../shared/peers/wireguard-go-modern beside the repository (or beside the main worktree
#                when this is a linked git worktree).  Without it, its cases print
#                "n/a (no modern wireguard-go at PLACES: set WGGO_MODERN)" and the run goes on.
#   WIREGUARD_GO Debian's wireguard-go (default: wireguard-go on PATH)
#   BENCH_FLOOD  1 (default): run the flood section (8. below, bench/flood.sh); 0: leave it out
#   BENCH_FLOOD_MODES  xwg modes the floods run against (default "auto xdp")
#   BENCH_FLOOD_KINDS  floods, in this order (default "init data garbage replay"): initiations with a
#                valid mac1, data messages with random receiver indices, random bytes, replayed data
#                messages (bench/flood.c)
#   BENCH_FLOOD_PPS    packets per second each flood offers (default 20000)
#
# Cases:
#   plain        the veth itself, no tunnel: the ceiling
#   wggo         Debian wireguard-go <-> Debian wireguard-go
#   wggo-modern  modern wireguard-go <-> modern wireguard-go: the peer the issue's targets are against
#   tun          xwg --mode tun <-> xwg --mode tun
#   xdp          xwg --mode xdp <-> xwg --mode xdp (everything in BPF)
#   auto         xwg --mode auto <-> xwg --mode auto (the default mode)
#   auto-modern  xwg --mode auto (a) <-> modern wireguard-go (b)
#   xdp-wggo     xwg --mode xdp (a) <-> Debian wireguard-go (b)
#
# Output (stdout; progress goes to stderr):
#   1. The results, one markdown row per case:
#      | case | TCP 1 stream a->b | TCP 1 stream b->a | TCP 4 streams | UDP 1392 B kpps | ping avg us | CPU s/GB |
#      TCP: iperf3 -t $BENCH_SECS, receiver's rate in Gbit/s; b->a is iperf3 -R (b sends); 4 streams is -P 4.
#      UDP: iperf3 -u -b 0 -l 1392 a->b: datagrams the receiver got (packets - lost) per second, thousands.
#      ping: average RTT of 50 pings -i 0.01 over the tunnel, in microseconds.
#      CPU s/GB: busy jiffies of the whole machine (user+nice+system+irq+softirq from /proc/stat, so every
#      process involved and softirq time) during the single-stream a->b TCP run, in seconds, per GB (1e9
#      bytes) received.  System-wide: anything else running on the machine inflates it.
#      A case that does not come up prints "n/a (reason)" in its row; a run that fails prints "n/a".
#   2. Which path carried the packets: per xwg end, the data path `xwg show` reports and the packets BPF
#      and the agent carried over the whole case (`xwg show --json`).
#   3. The BPF AEAD benchmark (bench/aead_bench.c, built into $OUTPUT/aead_bench; run first, quietly, so
#      its OpenSSL number is known for 5): ns per packet for OpenSSL, the portable core under gcc and in BPF.
#   4. Targets: auto against the best peer of the run (wggo-modern when it ran, else wggo), every row:
#      TCP 1 stream (each way) >= 1.5x, TCP 4 streams >= 1.5x, UDP pps >= 3x, ping RTT <= 0.4x,
#      CPU s/GB <= 0.7x; then auto against tun and against xdp on every row, "at least as good within 10%"
#      (>= 0.9x where higher is better, <= 1.1x where lower is better).  Each line: ratio, goal, and
#      "met", "missed" or "n/a".
#   5. CPU floors: floor = plain veth's CPU s/GB + OpenSSL's ChaCha20-Poly1305 on both ends (3.'s ns per
#      1420-byte packet x 1e9/1420 packets per GB x 2 ends); per case its CPU s/GB, how many times the
#      floor and how many s/GB above it.
#   6. With BENCH_PERF=1, per profiled case: an extra single-stream a->b TCP run under
#      `perf record -e cpu-clock -a` (whole machine; cpu-clock because a VM may have no hardware PMU).
#      First the busy CPU split from /proc (agents per end from /proc/PID/stat, both iperf3 from their own
#      report, the rest, and softirq and system time of the machine), then from perf's sample counts
#      (idle excluded): the share per thread name, per object (kernel, BPF programs, libcrypto, the
#      agent...) and the top 15 symbols by self time.  perf counts the case's own threads (everything in
#      its two namespaces, and the cpumap kthreads of its agents' cpumaps) plus the shared kernel threads
#      (ksoftirqd, swapper, kworker); other processes are left out and their share is said.  When perf
#      cannot sample here, it says why and prints the /proc split alone.
#   7. The per-program benchmark (bench/prog_bench.c, built into $OUTPUT/prog_bench): xwg_rx,
#      xwg_rx_tc_full and xwg_tx on fresh MTU-sized packets through BPF_PROG_TEST_RUN, ns per run.
#   8. Floods (BENCH_FLOOD=1; bench/flood.sh): per mode and flood kind, a single-stream a->b TCP run
#      while $OUTPUT/flood (bench/flood.c) sends BENCH_FLOOD_PPS spoofed-source packets/s from a's
#      namespace at b's listen port: packets/s sent, the stream's rate unflooded and flooded (ratio,
#      goal >= 0.9, met or missed), cookie replies b sent, b's reason counters that moved (dropped,
#      passed up to the agent) and b's agent CPU (% of one core, flood alone and flood + stream).
#      About 80 s per mode at BENCH_SECS=5.

LIB_DEMO=1
. "$(dirname "$0")/../selftests/lib.sh"

BENCH_SECS=${BENCH_SECS:-5}
BENCH_CASES=${BENCH_CASES:-plain wggo wggo-modern tun xdp auto auto-modern xdp-wggo}
BENCH_PERF=${BENCH_PERF:-0}
BENCH_FLOOD=${BENCH_FLOOD:-1}
PERF_CASES="auto xdp tun wggo-modern"
PORT=5201
WGGO_DEBIAN=$WGGO
XWG_MODE=''	# each case says its modes; none leaks in from the environment

progress() { printf 'bench: %s\n' "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, TUN, BPF)"
for c in ip iperf3 ping jq wg; do
	command -v "$c" >/dev/null || die "needs '$c' (make deps installs it)"
done

# The modern wireguard-go, as lib.sh found it (WGGO_MODERN, else ../shared/peers; WGGO_MODERN_TRIED says
# where it looked); empty when it is not there.
WGGO_MODERN_BIN=$([ -x "$WGGO_MODERN" ] && echo "$WGGO_MODERN")

lib_init
. "$(dirname "$0")/flood.sh"

declare -A R_TCP1 R_TCPR R_TCP4 R_UDP R_PING R_CPU R_NA R_PATHS R_SPLIT R_PERF R_PERF_WHY

# The machine's busy jiffies so far: user + nice + system + irq + softirq, summed over CPUs.
busy_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
# "busy softirq system" jiffies, for the CPU split.
cpu_jiffies() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8, $8, $4; exit }' /proc/stat; }

# ns_cpu NS: utime + stime jiffies of every process in NS but iperf3 (the agents).
ns_cpu() {
	local pid t=0 v
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = iperf3 ] && continue
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# ns_tids NS: every thread id of every process in NS, and of the cpumap kthreads of their cpumaps
# (named cpumap/CPU/map:ID; the map ids from the processes' fdinfo, BPF_MAP_TYPE_CPUMAP is 16), one a line.
ns_tids() {
	local pid id f
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		ls "/proc/$pid/task" 2>/dev/null
		for id in $(grep -l '^map_type:[[:space:]]*16$' /proc/"$pid"/fdinfo/* 2>/dev/null |
			xargs -r sed -n 's/^map_id:[[:space:]]*//p' 2>/dev/null); do
			for f in $(grep -l -x "cpumap/[0-9]*/map:$id" /proc/[0-9]*/comm 2>/dev/null); do
				f=${f#/proc/}; echo "${f%/comm}"
			done
		done
	done
	return 0
}

gbit() { jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$1"; }

# iperf_json OUT.json iperf3-client-args...: one client run from NS_A; 0 when it produced a report.
iperf_json() {
	local out=$1; shift
	nsx "$NS_A" timeout $((BENCH_SECS + 20)) iperf3 -c "$DST" -p $PORT -t "$BENCH_SECS" -J \
		--connect-timeout 5000 "$@" >"$out" 2>"$out.err" && jq -e '.end.sum_received' "$out" >/dev/null 2>&1
}

# case_spec CASE: "IMPL_A IMPL_B MODE_A MODE_B WGGO_BINARY" ('-' for none), or nothing when unknown.
case_spec() {
	case $1 in
	wggo)		echo "wireguard-go wireguard-go - - $WGGO_DEBIAN" ;;
	wggo-modern)	echo "wireguard-go wireguard-go - - ${WGGO_MODERN_BIN:--}" ;;
	tun)		echo "xwg xwg tun tun -" ;;
	xdp)		echo "xwg xwg xdp xdp -" ;;
	auto)		echo "xwg xwg auto auto -" ;;
	auto-modern)	echo "xwg wireguard-go auto - ${WGGO_MODERN_BIN:--}" ;;
	xdp-wggo)	echo "xwg wireguard-go xdp - $WGGO_DEBIAN" ;;
	esac
}

# case_up CASE N: fresh namespaces and the tunnel; sets DST, or WHY when it could not.
case_up() {
	local c=$1 n=$2 log=$T_TMP/up.$1.log ia ib ma mb bin
	NS_A=$P-${n}a NS_B=$P-${n}b VETH_A=${P}v${n}a VETH_B=${P}v${n}b WHY=''
	if [ "$c" != plain ]; then
		read -r ia ib ma mb bin < <(case_spec "$c")
		[ -n "${ia:-}" ] || { WHY="unknown case"; return 1; }
		if [ "$ia" = xwg ] || [ "$ib" = xwg ]; then
			[ -x "$XWG" ] || { WHY="$XWG not built"; return 1; }
		fi
		if [ "$ia" = wireguard-go ] || [ "$ib" = wireguard-go ]; then
			if [ "$bin" = - ]; then
				WHY="no modern wireguard-go at $WGGO_MODERN_TRIED: set WGGO_MODERN"
				return 1
			fi
			command -v "$bin" >/dev/null || { WHY="no wireguard-go ($bin)"; return 1; }
		fi
	fi
	topo_link "$NS_A" "$NS_B" "$VETH_A" "$VETH_B" >"$log" 2>&1 || { WHY="topology failed"; return 1; }
	[ "$c" = plain ] && { DST=$UB4; return 0; }
	[ "$ma" = - ] && ma=''
	[ "$mb" = - ] && mb=''
	DST=$(ovl4 "$n" b)
	# inst_up reads WGGO when it starts a wireguard-go, so this case's binary is the one started.
	if ! WGGO=$bin XWG_DAEMON=1 XWG_MODE_A=$ma XWG_MODE_B=$mb pair_up "$n" "$ia" "$ib" 4 a >>"$log" 2>&1; then
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
	for pid in $(ip netns pids "$NS_A" 2>/dev/null) $(ip netns pids "$NS_B" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
}

# case_paths CASE N: for each xwg end, its data path and what BPF and the agent carried (cumulative).
case_paths() {
	local c=$1 n=$2 end ns ifn line
	for end in a b; do
		ns=$NS_A; [ $end = b ] && ns=$NS_B
		ifn=$(ifname_of "$n" $end)
		[ "${INST_IMPL[$ifn]:-}" = xwg ] || continue
		line=$(nsx "$ns" "$XWG" show "$ifn" --json 2>/dev/null | jq -r --arg c "$c" --arg e "$end" '
			(.mode // "?") as $m | (.peers[0] // {}) as $p |
			def n(k): ($p[k] // 0);
			def share(b; a): if (b + a) > 0 then (b * 1000 / (b + a) | round / 10 | tostring) + "%" else "n/a" end;
			"| \($c) | \($e) | \($m) | \(n("bpf_rx_packets")) | \(n("agent_rx_packets")) | " +
			"\(share(n("bpf_rx_packets"); n("agent_rx_packets"))) | \(n("bpf_tx_packets")) | " +
			"\(n("agent_tx_packets")) | \(share(n("bpf_tx_packets"); n("agent_tx_packets"))) |"' 2>/dev/null)
		[ -n "$line" ] || line="| $c | $end | n/a (xwg show --json failed) | | | | | | |"
		R_PATHS[$c]+="$line"$'\n'
	done
}

# perf_check: empty when perf can sample the whole machine here, else why not.
perf_check() {
	local f=$T_TMP/perf.check out
	command -v perf >/dev/null || { echo "perf is not installed (Debian linux-perf)"; return; }
	if ! out=$(perf record -e cpu-clock -a -q -o "$f" -- true 2>&1); then
		echo "perf record -a fails here: $(printf '%s' "$out" | grep -v '^$' | head -n 1 | cut -c1-120)"
	fi
	rm -f "$f"
}

# case_perf CASE: one more single-stream a->b TCP run, profiled (when PERF_WHY is empty) and split by
# /proc counters; results in R_SPLIT / R_PERF.
case_perf() {
	local c=$1 j=$T_TMP/$1.perf.json f=$T_TMP/$1.perf.data hz s0 s1 a0 a1 b0 b1 rc pp tids=''
	hz=$(getconf CLK_TCK)
	progress "case $c: TCP, 1 stream, profiled"
	s0=$(cpu_jiffies) a0=$(ns_cpu "$NS_A") b0=$(ns_cpu "$NS_B")
	if [ -z "$PERF_WHY" ]; then
		perf record -e cpu-clock -a -q -o "$f" -- ip netns exec "$NS_A" timeout $((BENCH_SECS + 20)) \
			iperf3 -c "$DST" -p $PORT -t "$BENCH_SECS" -J --connect-timeout 5000 >"$j" 2>"$j.err" &
		pp=$!
		# The case's threads (agents and both iperf3), once the client runs, to tell them from others'.
		sleep 1
		tids=$(ns_tids "$NS_A"; ns_tids "$NS_B")
		wait "$pp"
	else
		iperf_json "$j"
	fi
	rc=$?
	s1=$(cpu_jiffies) a1=$(ns_cpu "$NS_A") b1=$(ns_cpu "$NS_B")
	if [ $rc != 0 ] || ! jq -e '.end.sum_received' "$j" >/dev/null 2>&1; then
		R_PERF_WHY[$c]="the profiled run failed"
		return
	fi
	# Busy seconds: machine, agents a and b, both iperf3 (their own CPU report), softirq, system.
	R_SPLIT[$c]=$(jq -r '.end | [(.sum_received.bits_per_second / 1e9 * 100 | round / 100), .sum_received.seconds,
		.cpu_utilization_percent.host_total, .cpu_utilization_percent.remote_total] | map(tostring) | join(" ")' "$j" |
		awk -v s0="$s0" -v s1="$s1" -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v hz="$hz" '{
			split(s0, x, " "); split(s1, y, " ")
			busy = (y[1] - x[1]) / hz; si = (y[2] - x[2]) / hz; sy = (y[3] - x[3]) / hz
			ip = ($3 + $4) / 100 * $2
			printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |", $1, busy, a / hz, b / hz, ip,
				busy - a / hz - b / hz - ip, si, sy
		}')
	[ -z "$PERF_WHY" ] && R_PERF[$c]=$(perf_summary "$f" "$tids")
	rm -f "$f"
}

# perf_summary PERF.DATA TIDS: the busy share per process and in BPF programs, and the top 15 symbols
# of the case: its threads TIDS (agents, iperf3, its cpumap kthreads) and the shared kernel threads that
# carry packets (softirq in ksoftirqd and swapper, kworkers: other tests' packets there count too);
# shares from sample counts.
perf_summary() {
	perf report -i "$1" --stdio -n --no-children --sort pid,dso,sym --percent-limit 0 2>/dev/null |
		awk -v tids="$2" '
		BEGIN { n = split(tids, t, /[ \n]+/); for (i = 1; i <= n; i++) if (t[i] != "") mine[t[i]] = 1; n = 0 }
		/^ *[0-9.]+%/ {
			cnt = $2; tid = $3; sub(/:.*/, "", tid); comm = $3; sub(/^[0-9]+:/, "", comm); dso = $4
			sym = ""; for (i = 6; i <= NF; i++) sym = sym (i > 6 ? " " : "") $i
			all += cnt
			if (sym ~ /^(pv_native_safe_halt|native_safe_halt|acpi_safe_halt|default_idle|default_idle_call|cpu_idle_poll|poll_idle|intel_idle|acpi_idle_do_entry|mwait_idle_with_hints|cpuidle_enter_state|do_idle)$/) {
				idle += cnt; next
			}
			busy += cnt
			if (!(tid in mine) && comm !~ /^(ksoftirqd\/|swapper|kworker\/)/) { others += cnt; next }
			ours += cnt; by[comm] += cnt; obj[dso ~ /^bpf_prog_/ ? "BPF programs" : dso] += cnt
			if (sym ~ /^bpf_prog_/) bpf += cnt
			key = comm SUBSEP dso SUBSEP sym
			if (!(key in cs)) { n++; K[n] = key }
			cs[key] += cnt
		}
		END {
			if (ours <= 0) { print "no busy samples of the case'"'"'s threads"; exit }
			printf "%d samples, %.1f%% busy.  Threads of other processes (builds, other tests, their cpumap" \
				" kthreads) took %.1f%% of busy and are left out below; the shared kernel threads (ksoftirqd," \
				" swapper, kworker) stay in, with whatever else they carried.  BPF programs (bpf_prog_*):" \
				" %.1f%% of the case.\n\n",
				all, busy * 100 / all, others * 100 / busy, bpf * 100 / ours
			print "| thread (comm) | share of the case |"; print "|---|---:|"
			m = 0; for (k in by) { m++; Q[m] = k }
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (by[Q[j]] > by[Q[i]]) { x = Q[i]; Q[i] = Q[j]; Q[j] = x }
			for (i = 1; i <= m && i <= 8; i++) printf "| %s | %.1f%% |\n", Q[i], by[Q[i]] * 100 / ours
			print ""
			print "| object | share of the case |"; print "|---|---:|"
			m = 0; for (k in obj) { m++; Q[m] = k }
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (obj[Q[j]] > obj[Q[i]]) { x = Q[i]; Q[i] = Q[j]; Q[j] = x }
			for (i = 1; i <= m && i <= 8; i++) printf "| %s | %.1f%% |\n", Q[i], obj[Q[i]] * 100 / ours
			print ""
			print "| share of the case | thread (comm) | object | symbol |"; print "|---:|---|---|---|"
			for (r = 1; r <= 15 && r <= n; r++) {	# the 15 largest, by selection: n is thousands
				b = 0; for (i = 1; i <= n; i++) if (!(i in done) && (b == 0 || cs[K[i]] > cs[K[b]])) b = i
				done[b] = 1; split(K[b], f, SUBSEP); sym = f[3]; gsub(/\|/, "\\|", sym)
				printf "| %.1f%% | %s | %s | %s |\n", cs[K[b]] * 100 / ours, f[1], f[2], sym
			}
		}'
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

	progress "case $c: TCP, 1 stream a->b"
	j=$T_TMP/$c.tcp1.json
	b0=$(busy_jiffies)
	if iperf_json "$j"; then
		b1=$(busy_jiffies) hz=$(getconf CLK_TCK)
		R_TCP1[$c]=$(gbit "$j")
		bytes=$(jq -r '.end.sum_received.bytes' "$j")
		R_CPU[$c]=$(awk -v j=$((b1 - b0)) -v hz="$hz" -v b="$bytes" \
			'BEGIN { if (b > 0) printf "%.2f", (j / hz) / (b / 1e9) }')
	fi

	progress "case $c: TCP, 1 stream b->a"
	j=$T_TMP/$c.tcpr.json
	iperf_json "$j" -R && R_TCPR[$c]=$(gbit "$j")

	progress "case $c: TCP, 4 streams"
	j=$T_TMP/$c.tcp4.json
	iperf_json "$j" -P 4 && R_TCP4[$c]=$(gbit "$j")

	progress "case $c: UDP, 1392-byte datagrams"
	j=$T_TMP/$c.udp.json
	iperf_json "$j" -u -b 0 -l 1392 &&
		R_UDP[$c]=$(jq -r '.end.sum_received | (.packets - .lost_packets) / .seconds / 1000 | round' "$j")

	if [ "$BENCH_PERF" = 1 ] && [[ " $PERF_CASES " == *" $c "* ]]; then
		case_perf "$c"
	fi
	case_paths "$c" "$n"
	case_down "$n"
}

cell() { [ -n "${1:-}" ] && printf '%s' "$1" || printf 'n/a'; }

print_results() {
	local c
	echo "| case | TCP 1 stream a->b Gbit/s | TCP 1 stream b->a Gbit/s | TCP 4 streams Gbit/s | UDP 1392 B kpps |" \
		"ping avg us | CPU s/GB |"
	echo "|------|------:|------:|------:|------:|------:|------:|"
	for c in $BENCH_CASES; do
		if [ -n "${R_NA[$c]:-}" ]; then
			echo "| $c | n/a (${R_NA[$c]}) | n/a | n/a | n/a | n/a | n/a |"
			continue
		fi
		echo "| $c | $(cell "${R_TCP1[$c]:-}") | $(cell "${R_TCPR[$c]:-}") | $(cell "${R_TCP4[$c]:-}") |" \
			"$(cell "${R_UDP[$c]:-}") | $(cell "${R_PING[$c]:-}") | $(cell "${R_CPU[$c]:-}") |"
	done
}

print_paths() {
	local c any=''
	for c in $BENCH_CASES; do [ -n "${R_PATHS[$c]:-}" ] && any=1; done
	[ -n "$any" ] || { echo "n/a (no xwg case ran)"; return; }
	echo "| case | end | data path | rx BPF pkts | rx agent pkts | rx in BPF | tx BPF pkts | tx agent pkts | tx in BPF |"
	echo "|------|-----|-----------|------:|------:|------:|------:|------:|------:|"
	for c in $BENCH_CASES; do printf '%s' "${R_PATHS[$c]:-}"; done
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

# ran CASE: the case was selected and came up.
ran() { [[ " $BENCH_CASES " == *" $1 "* ]] && [ -z "${R_NA[$1]:-}" ]; }

# ratio_rows X Y GE LE PREFIX: X against Y on every row; GE is the goal where higher is better, LE where
# lower is better.
ratio_rows() {
	local x=$1 y=$2 ge=$3 le=$4 p=$5
	ratio_row "$p TCP 1 stream a->b" "${R_TCP1[$x]:-}" "${R_TCP1[$y]:-}" ge "$ge"
	ratio_row "$p TCP 1 stream b->a" "${R_TCPR[$x]:-}" "${R_TCPR[$y]:-}" ge "$ge"
	ratio_row "$p TCP 4 streams" "${R_TCP4[$x]:-}" "${R_TCP4[$y]:-}" ge "$ge"
	ratio_row "$p UDP pps" "${R_UDP[$x]:-}" "${R_UDP[$y]:-}" ge "${6:-$ge}"
	ratio_row "$p ping RTT" "${R_PING[$x]:-}" "${R_PING[$y]:-}" le "$le"
	ratio_row "$p CPU s/GB" "${R_CPU[$x]:-}" "${R_CPU[$y]:-}" le "${7:-$le}"
}

print_ratios() {
	local peer=wggo name="Debian wireguard-go" m
	if ran wggo-modern; then
		peer=wggo-modern name="modern wireguard-go"
	fi
	echo "auto against the best peer in this run: $name ($peer)."
	echo
	echo "| target | ratio | goal | result |"
	echo "|--------|------:|-----:|--------|"
	ratio_rows auto "$peer" 1.5 0.4 "auto vs $peer:" 3 0.7
	for m in tun xdp; do
		ratio_rows auto "$m" 0.9 1.1 "auto vs $m (at least as good, within 10%):"
	done
}

# print_floors OPENSSL_NS: CPU s/GB of each case against plain + OpenSSL's AEAD on both ends.
print_floors() {
	local ns=$1 c aead floor
	if [ -z "$ns" ] || [ -z "${R_CPU[plain]:-}" ]; then
		echo "n/a (needs the plain case's CPU s/GB and aead_bench's OpenSSL ns per 1420-byte packet)"
		return
	fi
	aead=$(awk -v ns="$ns" 'BEGIN { printf "%.2f", ns * (1e9 / 1420) * 2 / 1e9 }')
	floor=$(awk -v a="$aead" -v p="${R_CPU[plain]}" 'BEGIN { printf "%.2f", a + p }')
	echo "Floor = plain veth ${R_CPU[plain]} s/GB + OpenSSL AEAD on both ends $aead s/GB" \
		"($ns ns per 1420-byte packet x 1e9/1420 packets per GB x 2) = **$floor s/GB**."
	echo
	echo "| case | CPU s/GB | x floor | above floor s/GB |"
	echo "|------|------:|------:|------:|"
	for c in $BENCH_CASES; do
		[ "$c" = plain ] && continue
		if [ -z "${R_CPU[$c]:-}" ]; then
			echo "| $c | n/a | n/a | n/a |"
			continue
		fi
		awk -v c="$c" -v v="${R_CPU[$c]}" -v f="$floor" \
			'BEGIN { printf "| %s | %s | %.2fx | %+.2f |\n", c, v, v / f, v - f }'
	done
}

print_perf() {
	local c any=''
	if [ "$BENCH_PERF" != 1 ]; then
		echo "Not run (BENCH_PERF=1 profiles $PERF_CASES)."
		return
	fi
	[ -n "$PERF_WHY" ] && { echo "perf cannot sample here: $PERF_WHY.  The /proc split alone follows."; echo; }
	echo "CPU seconds during one more single-stream a->b TCP run (iperf3 -t $BENCH_SECS) per case: the whole" \
		"machine busy; the agents of each end (/proc/PID/stat of every process in the namespace but iperf3);" \
		"both iperf3 (their own report); the rest (kernel threads: ksoftirqd, cpumap; other processes); and," \
		"overlapping those, softirq and system time of the whole machine (/proc/stat; softirq is counted in" \
		"whichever process it interrupted)."
	echo
	echo "| case | Gbit/s | busy s | agent a s | agent b s | iperf3 s | rest s | softirq s | system s |"
	echo "|------|------:|------:|------:|------:|------:|------:|------:|------:|"
	for c in $PERF_CASES; do
		[[ " $BENCH_CASES " == *" $c "* ]] || continue
		if [ -n "${R_SPLIT[$c]:-}" ]; then
			echo "${R_SPLIT[$c]}" | sed "s/^|/| $c |/"
		else
			echo "| $c | n/a (${R_NA[$c]:-${R_PERF_WHY[$c]:-not run}}) | | | | | | | |"
		fi
	done
	[ -n "$PERF_WHY" ] && return
	for c in $PERF_CASES; do
		[ -n "${R_PERF[$c]:-}" ] || continue
		echo
		echo "### $c: perf record -e cpu-clock -a, self time"
		echo
		echo "${R_PERF[$c]}"
	done
}

# A micro-benchmark binary (bench/NAME.c, built into $OUTPUT/NAME by make all).
run_micro() {
	local name=$1 what=$2
	[ -x "$OUTPUT/$name" ] || { echo "n/a ($OUTPUT/$name missing: run make)"; return; }
	progress "$what"
	"$OUTPUT/$name" 2>&1 || echo "n/a ($name failed)"
}

start=$(date +%s) load=$(cut -d' ' -f1-3 /proc/loadavg)
PERF_WHY=''
if [ "$BENCH_PERF" = 1 ]; then
	PERF_WHY=$(perf_check)
	[ -n "$PERF_WHY" ] && progress "perf: $PERF_WHY; falling back to /proc counters"
fi
[ -n "$WGGO_MODERN_BIN" ] && progress "modern wireguard-go: $WGGO_MODERN_BIN" ||
	progress "no modern wireguard-go (set WGGO_MODERN): its cases are skipped"

# First, so its OpenSSL number is there for the floors.
AEAD_OUT=$(run_micro aead_bench "AEAD benchmark")
AEAD_NS=$(printf '%s\n' "$AEAD_OUT" | awk -F'|' '$2 + 0 == 1420 { gsub(/ /, "", $3); print $3; exit }')

n=0
for c in $BENCH_CASES; do
	n=$((n + 1))
	run_case "$c" "$n"
done
[ "$BENCH_FLOOD" = 1 ] && flood_run

echo "## Data path over a veth ($(nproc) CPUs, $(uname -r), iperf3 -t $BENCH_SECS, load average before: $load)"
echo
[ -n "$WGGO_MODERN_BIN" ] && echo "Modern wireguard-go: $WGGO_MODERN_BIN ($("$WGGO_MODERN_BIN" --version 2>/dev/null |
	grep -o '[0-9][0-9.]*[-0-9a-g]*' | head -n 1))." && echo
print_results
echo
echo "## Which path carried the packets (xwg show, whole case)"
echo
print_paths
echo
echo "## ChaCha20-Poly1305 per packet (bench/aead_bench.c)"
echo
printf '%s\n' "$AEAD_OUT"
echo
echo "## Targets"
echo
print_ratios
echo
echo "## CPU per GB against the floor"
echo
print_floors "$AEAD_NS"
echo
echo "## Where the CPU goes (BENCH_PERF=1)"
echo
print_perf
echo
echo "## BPF programs per MTU-sized packet (bench/prog_bench.c, BPF_PROG_TEST_RUN)"
echo
run_micro prog_bench "per-program benchmark"
echo
echo "## Floods (BENCH_FLOOD=1)"
echo
if [ "$BENCH_FLOOD" = 1 ]; then flood_print; else echo "Not run (BENCH_FLOOD=0)."; fi
progress "done in $(( $(date +%s) - start )) s"
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# BPF offload end to end: each mode against wireguard-go and xwg, >= 99% of data packets in BPF, roaming, agent restart, clean down.
# xwg-timeout: 480
#
# Pairings (a initiates; OFFLOAD_PAIRINGS overrides, "MODE_A:B" with B a mode for xwg or "wireguard-go"):
#   xdp:wireguard-go  xdp:xdp  tc:tun  xdp-generic:wireguard-go  auto:auto
# The last one sets its mode with "Mode =" in the configuration file instead of --mode.  Each pairing:
# ping over the IPv4 and IPv6 overlay, a TCP iperf3 of IPERF_SECS (default 5) each way over each
# overlay family, small TCP messages checked byte for byte each way
# while the receiver saturates the other direction (tcp_stream_check.py), then for every xwg side in a BPF mode `xwg show IF
# --json` must report that mode and the veth as underlay, and per peer
#   bpf_rx_packets / (bpf_rx_packets + agent_rx_packets) >= 0.99, and the same for tx
# except for auto, which chooses per packet: there bulk TCP must have gone through the agent each way
# (reasons TX_BULK and RX_BULK, agent_rx_bytes > bpf_rx_bytes), pings and ACKs through BPF, and no
# INDEX_DROP (a receiver index the agent knew, dropped as unknown)
# (on failure the numbers and the "reasons" counters are printed).  Then `xwg down` must leave no pins
# under /sys/fs/bpf/xwg/IF, no XDP program on the veth, no tc filter on it, and none of the instance's
# BPF programs loaded.
# A mode this machine lacks (the runner's probe, lib.sh mode_supported) makes its pairing SKIPPED with the
# probe's reason; a supported mode xwg refuses fails it.
#
# With xdp on both sides, also:
#   - roaming: a changes its underlay address under iperf3, b's `wg show IF endpoints` follows;
#   - agent restart ("restart:" lines): `kill -9` of a's agent under iperf3, `xwg up` again with the same
#     file; the stream survives with at most RESTART_MAX_STALLS (2) empty one-second intervals and neither
#     side's latest handshake changes (the new agent adopts the pinned state, no new handshake);
#   - rekey under traffic (OFFLOAD_REKEY=1, default): in a second pair of namespaces, started first and
#     running alongside everything else, a 20 Mbit/s stream for REKEY_SECS (default 135) crosses the
#     120 s rekey with the data still >= 99% in BPF.
# OFFLOAD_RR_MODE (default xdp) changes the mode of these three cases (auto: the 99% checks become
# check_share's).

. "$(dirname "$0")/lib.sh"

IPERF_SECS=${IPERF_SECS:-5}
OFFLOAD_PAIRINGS=${OFFLOAD_PAIRINGS:-xdp:wireguard-go xdp:xdp tc:tun xdp-generic:wireguard-go auto:auto}
OFFLOAD_REKEY=${OFFLOAD_REKEY:-1}
REKEY_SECS=${REKEY_SECS:-135}
RESTART_MAX_STALLS=${RESTART_MAX_STALLS:-2}
MIN_RATIO=0.99
# The mode of the roaming, restart and rekey cases (both sides).
RR_MODE=${OFFLOAD_RR_MODE:-xdp}
NEW4=192.0.2.11
# Every xwg instance runs as a user starts it (`xwg up` returns, `xwg down` stops it).
XWG_DAEMON=1

lib_init
need_cmd iperf3 jq ping tc bpftool
need_impl xwg wireguard-go
topo_create || { nok "topology"; lib_done; }
iperf_server "$NS_A" 5201
iperf_server "$NS_B" 5201
stream_server "$NS_A" 5301
stream_server "$NS_B" 5301
nsx "$NS_A" sysctl -qw "net.ipv4.conf.$VETH_A.promote_secondaries=1"


ns_of() { [ "$1" = a ] && echo "$NS_A" || echo "$NS_B"; }
veth_of() { [ "$1" = a ] && echo "$VETH_A" || echo "$VETH_B"; }

# unavailable_reason N: the refusal line from either side's `xwg up` output, if that is why it failed.
unavailable_reason() {
	grep -h -m1 -E 'cannot use mode|not implemented' \
		"$T_TMP/$(ifname_of "$1" a).log" "$T_TMP/$(ifname_of "$1" b).log" 2>/dev/null | head -n 1
}

# up_or_skip TAG N MODE_A MODE_B IMPL_B: pair_up; a mode the machine lacks is a skip, a refusal a failure.
# 0 when both sides run.
up_or_skip() {
	local tag=$1 n=$2 ma=$3 mb=$4 ib=$5 why m
	for m in "$ma" "$mb" "${PAIR_CONF_MODE_A:-}"; do
		if [ -n "$m" ] && ! mode_supported "$m"; then
			skip "$tag" "this machine lacks mode $m: $(mode_missing_why "$m")"
			return 1
		fi
	done
	if XWG_MODE_A=$ma XWG_MODE_B=$mb pair_up "$n" xwg "$ib" 4 a; then
		return 0
	fi
	why=$(unavailable_reason "$n")
	if [ -n "$why" ]; then
		nok "$tag: xwg refused a mode this machine supports: $why"
	else
		nok "$tag: instances come up"
	fi
	pair_down "$n"
	return 1
}

# show_json SIDE N: `xwg show IF --json` of that side, saved to $T_TMP/IF.json; prints the file name.
show_json() {
	local ifn f
	ifn=$(ifname_of "$2" "$1") f=$T_TMP/$(ifname_of "$2" "$1").json
	nsx "$(ns_of "$1")" "$XWG" show "$ifn" --json >"$f" 2>&1
	echo "$f"
}

# check_mode TAG SIDE N MODE: the active data path and, with BPF, the underlay it attached to.
check_mode() {
	local tag=$1 side=$2 n=$3 mode=$4 f
	f=$(show_json "$side" "$n")
	check_eq "$tag: $side reports mode $mode" "$mode" "$(jq -r '.mode' "$f" 2>/dev/null)"
	[ "$mode" = tun ] && return
	check_eq "$tag: $side's underlay is $(veth_of "$side")" "$(veth_of "$side")" \
		"$(jq -r '.underlay // [] | join(",")' "$f" 2>/dev/null)"
	[ "$(jq -r '.mode' "$f" 2>/dev/null)" = "$mode" ] || say "xwg show --json: $(head -c 600 "$f")"
}

# check_ratio TAG SIDE N: >= 99% of the data packets each way went through BPF on that side.
check_ratio() {
	check_bpf_share "$1" "$2" "$(show_json "$2" "$3")"
}

# check_share TAG SIDE N: check_ratio, but in auto (OFFLOAD_RR_MODE=auto, one-way streams) only that
# the device chose per packet, carried data and dropped no receiver index as unknown.
check_share() {
	local f
	[ "$RR_MODE" = auto ] || { check_ratio "$@"; return; }
	f=$(show_json "$2" "$3")
	check "$1: $2 says auto: bulk via the agent" jq -e '.hybrid.rx_bulk_len > 0' "$f"
	check "$1: $2 received data" jq -e '.peers[0].bpf_rx_packets + .peers[0].agent_rx_packets > 0' "$f"
	check "$1: $2: no receiver index dropped as unknown (INDEX_DROP)" jq -e '(.reasons.INDEX_DROP // 0) == 0' "$f"
}

# check_hybrid TAG SIDE N: auto chose per packet on that side (see the header).
check_hybrid() {
	local tag=$1 side=$2 f
	f=$(show_json "$side" "$3")
	check "$tag: $side says auto: bulk via the agent" jq -e '.hybrid.rx_bulk_len > 0' "$f"
	check "$tag: $side: GSO sends went to the agent (TX_BULK)" jq -e '(.reasons.TX_BULK // 0) > 0' "$f"
	check "$tag: $side: bulk data messages went up to the agent (RX_BULK)" jq -e '(.reasons.RX_BULK // 0) > 0' "$f"
	check "$tag: $side: the tunnel lets TCP build GSO packets (gso_max_segs > 1)" \
		sh -c "ip -n '$(ns_of "$side")' -d -j link show '$(ifname_of "$3" "$side")' | jq -e '.[0].gso_max_segs > 1'"
	check "$tag: $side: no receiver index dropped as unknown (INDEX_DROP)" jq -e '(.reasons.INDEX_DROP // 0) == 0' "$f"
	check "$tag: $side: single packets still in BPF each way" \
		jq -e '.peers[0].bpf_rx_packets > 0 and .peers[0].bpf_tx_packets > 0' "$f"
	check "$tag: $side: most received bytes through the agent" \
		jq -e '.peers[0].agent_rx_bytes > .peers[0].bpf_rx_bytes' "$f"
	jq -e '.hybrid and (.reasons.INDEX_DROP // 0) == 0' "$f" >/dev/null 2>&1 ||
		say "xwg show --json: $(jq -c '{hybrid, reasons, peers: [.peers[0] | with_entries(select(.key | test("packets|bytes")))]}' "$f" 2>/dev/null || head -c 600 "$f")"
}

# inst_progs IFNAME NS VETH: ids of the BPF programs belonging to an instance: the XDP program and tc
# filters on its veth, the tc filters on its tunnel, every program using a map pinned under its directory.
inst_progs() {
	local ifn=$1 ns=$2 veth=$3 f mids dev dir
	ip -n "$ns" -d link show "$veth" | grep -o 'prog/xdp[a-z]* id [0-9]*' | awk '{ print $3 }'
	for dev in "$veth" "$ifn"; do
		for dir in ingress egress; do
			tc -n "$ns" filter show dev "$dev" "$dir" 2>/dev/null | grep -o ' id [0-9]*' | awk '{ print $2 }'
		done
	done
	mids=$(for f in "$BPFFS_DIR/$ifn"/*; do
		[ -e "$f" ] && bpftool map show pinned "$f" -j 2>/dev/null | jq -r '.id // empty'
	done | paste -sd, -)
	[ -n "$mids" ] || return 0
	bpftool prog show -j 2>/dev/null |
		jq -r --argjson m "[$mids]" '.[] | select(([.map_ids[]?] - $m) != [.map_ids[]?]) | .id'
}

progs_gone() {
	local id
	for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && return 1; done
	return 0
}

no_xdp() { ! ip -n "$1" -d link show "$2" | grep -q 'xdp'; }

no_tc_filters() {
	[ -z "$(tc -n "$1" filter show dev "$2" ingress 2>/dev/null)" ] &&
		[ -z "$(tc -n "$1" filter show dev "$2" egress 2>/dev/null)" ]
}

# down_side TAG SIDE N: `xwg down` of one xwg side in a BPF mode, and what it must leave behind: nothing.
down_side() {
	local tag=$1 side=$2 n=$3 ifn ns veth progs
	ifn=$(ifname_of "$n" "$side") ns=$(ns_of "$side") veth=$(veth_of "$side")
	check "$tag: $side pins BPF state under $BPFFS_DIR/$ifn (root mount namespace)" test -d "$BPFFS_DIR/$ifn"
	progs=$(inst_progs "$ifn" "$ns" "$veth" | sort -u | tr '\n' ' ')
	[ -n "$progs" ] || say "$tag: found no BPF program of $ifn to follow"
	check "$tag: xwg down $ifn" nsx "$ns" "$XWG" down "$ifn"
	wait_for 5 sh -c "! ip -n '$ns' link show '$ifn'"
	check "$tag: $side: no pins left ($BPFFS_DIR/$ifn)" wait_for 3 test ! -e "$BPFFS_DIR/$ifn"
	check "$tag: $side: no XDP left on $veth" no_xdp "$ns" "$veth"
	check "$tag: $side: no tc filters left on $veth" no_tc_filters "$ns" "$veth"
	# shellcheck disable=SC2086
	check "$tag: $side: the instance's BPF programs ($progs) are unloaded" wait_for 3 progs_gone $progs
}

# run_pairing N MODE_A B SECS: see the header.
run_pairing() {
	local n=$1 ma=$2 spec_b=$3 secs=$4 ib=xwg mb tag s mode
	mb=$spec_b
	[ "$spec_b" = wireguard-go ] && ib=wireguard-go mb=''
	tag="xwg $ma(a) <-> ${mb:+xwg }$spec_b(b)"
	say "--- $tag"
	# Over veth a UDP GSO send reaches the receiver's TC ingress as one super-datagram (a NIC would
	# have cut it up), which TC can only pass to the agent: an xwg peer of a TC-mode side sends
	# datagram by datagram here (XWG_UDP_GSO=0), so the 99% check measures what it means to.
	local gso=1
	[ "$ma" = tc ] && [ "$ib" = xwg ] && gso=0
	# One pairing takes its mode from the configuration file rather than the command line.
	if [ "$ma" = xdp-generic ]; then
		XWG_UDP_GSO=$gso PAIR_CONF_MODE_A=$ma up_or_skip "$tag" "$n" '' "$mb" "$ib" || return
		tag="$tag [Mode = in the file]"
	else
		XWG_UDP_GSO=$gso up_or_skip "$tag" "$n" "$ma" "$mb" "$ib" || return
	fi
	check_mode "$tag" a "$n" "$([ "$ma" = auto ] && mode_auto_expect || echo "$ma")"
	[ -n "$mb" ] && check_mode "$tag" b "$n" "$([ "$mb" = auto ] && mode_auto_expect || echo "$mb")"

	check "$tag: ping IPv4 overlay" ping_ok "$NS_A" "$(ovl4 "$n" b)"
	check "$tag: ping IPv6 overlay" ping_ok "$NS_A" "$(ovl6 "$n" b)"
	check "$tag: 1420-byte IPv4 packets, DF" nsx "$NS_A" ping -M "do" -s 1392 -c 2 -i 0.2 -w 5 -q "$(ovl4 "$n" b)"
	check "$tag: b pings a (IPv6)" ping_ok "$NS_B" "$(ovl6 "$n" a)" 2
	iperf_check "$tag: iperf3 ${secs}s a -> b (IPv4)" "$NS_A" "$(ovl4 "$n" b)" 5201 "$secs"
	iperf_check "$tag: iperf3 ${secs}s b -> a (IPv4, -R)" "$NS_A" "$(ovl4 "$n" b)" 5201 "$secs" -R
	iperf_check "$tag: iperf3 ${secs}s a -> b (IPv6)" "$NS_A" "$(ovl6 "$n" b)" 5201 "$secs"
	iperf_check "$tag: iperf3 ${secs}s b -> a (IPv6, -R)" "$NS_A" "$(ovl6 "$n" b)" 5201 "$secs" -R
	stream_check "$tag: small TCP messages b -> a byte-exact under load" "$NS_A" "$(ovl4 "$n" b)" 5301
	stream_check "$tag: small TCP messages a -> b byte-exact under load (IPv6)" "$NS_B" "$(ovl6 "$n" a)" 5301

	for s in a b; do
		mode=$([ $s = a ] && echo "$ma" || echo "$mb")
		[ "$mode" = auto ] && mode=$(mode_auto_expect) && [ "$mode" != tun ] && { check_hybrid "$tag" $s "$n"; continue; }
		[ -n "$mode" ] && [ "$mode" != tun ] && check_ratio "$tag" $s "$n"
	done
	for s in a b; do
		mode=$([ $s = a ] && echo "$ma" || echo "$mb")
		[ "$mode" = auto ] && mode=$(mode_auto_expect)
		[ -n "$mode" ] && [ "$mode" != tun ] && down_side "$tag" $s "$n"
	done
	pair_down "$n"
}

# ---------------------------------------------------------------------------------------------
# Rekey under traffic, xdp <-> xdp, in namespaces of its own so it runs alongside the rest.

REKEY_N=9 REKEY_STARTED=0
rekey_start() {
	local tag="rekey $RR_MODE <-> $RR_MODE"
	NS_C=$P-c NS_D=$P-d
	topo_link "$NS_C" "$NS_D" "${P}vc" "${P}vd" || { nok "$tag: second topology"; return; }
	NS_A=$NS_C NS_B=$NS_D up_or_skip "$tag" $REKEY_N "$RR_MODE" "$RR_MODE" xwg || return
	check "$tag: ping" ping_ok "$NS_C" "$(ovl4 $REKEY_N b)" 2
	iperf_server "$NS_D" 5209
	RK_H0A=$(wg_field "$(ifname_of $REKEY_N a)" "${PAIR_B_PUB[$REKEY_N]}" 5)
	RK_H0B=$(wg_field "$(ifname_of $REKEY_N b)" "${PAIR_A_PUB[$REKEY_N]}" 5)
	iperf_start "$NS_C" "$(ovl4 $REKEY_N b)" 5209 "$REKEY_SECS" -b 20M
	RK_JSON=$IPERF_JSON RK_PID=$IPERF_PID RK_DESC=$IPERF_DESC REKEY_STARTED=1
	say "$tag: 20 Mbit/s for $REKEY_SECS s started in $NS_C/$NS_D"
}

rekey_finish() {
	local tag="rekey $RR_MODE <-> $RR_MODE" ha hb
	[ $REKEY_STARTED = 1 ] || return
	IPERF_JSON=$RK_JSON IPERF_PID=$RK_PID IPERF_DESC=$RK_DESC
	say "waiting for the rekey stream"
	if iperf_finish "$tag: TCP stream for $REKEY_SECS s"; then
		check "$tag: at most one empty one-second interval (got $(iperf_stalls))" test "$(iperf_stalls)" -le 1
	fi
	ha=$(wg_field "$(ifname_of $REKEY_N a)" "${PAIR_B_PUB[$REKEY_N]}" 5)
	hb=$(wg_field "$(ifname_of $REKEY_N b)" "${PAIR_A_PUB[$REKEY_N]}" 5)
	say "$tag: latest handshake a $RK_H0A -> $ha, b $RK_H0B -> $hb"
	check_ge "$tag: a's handshake advanced by >= 119 s" $(( ${ha:-0} - ${RK_H0A:-0} )) 119
	check_ge "$tag: b's handshake advanced by >= 119 s" $(( ${hb:-0} - ${RK_H0B:-0} )) 119
	NS_A=$NS_C NS_B=$NS_D VETH_A=${P}vc VETH_B=${P}vd check_share "$tag" a $REKEY_N
	NS_A=$NS_C NS_B=$NS_D VETH_A=${P}vc VETH_B=${P}vd check_share "$tag" b $REKEY_N
	pair_down $REKEY_N
}

# ---------------------------------------------------------------------------------------------
# Roaming with xdp on both sides: a moves from UA4 to NEW4 mid-transfer.

run_roaming() {
	local n=$1 tag="roaming $RR_MODE <-> $RR_MODE: a moves, b follows" want stalls
	say "--- $tag"
	up_or_skip "$tag" "$n" "$RR_MODE" "$RR_MODE" xwg || return
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check_eq "$tag: b sees a's old address" "$UA4:$(port_of "$n" a)" "$(wg_field "$(ifname_of "$n" b)" "${PAIR_A_PUB[$n]}" 3)"
	iperf_start "$NS_A" "$(ovl4 "$n" b)" 5201 6
	sleep 2
	ip -n "$NS_A" addr add "$NEW4/$U4LEN" dev "$VETH_A"
	ip -n "$NS_A" addr del "$UA4/$U4LEN" dev "$VETH_A"
	say "moved a from $UA4 to $NEW4"
	if iperf_finish "$tag: iperf3 across the address change"; then
		stalls=$(iperf_stalls)
		check "$tag: at most one empty one-second interval (got $stalls)" test "$stalls" -le 1
	fi
	want="$NEW4:$(port_of "$n" a)"
	check_eq "$tag: b's wg show endpoints has a's new address" "$want" \
		"$(wg show "$(ifname_of "$n" b)" endpoints | awk -v k="${PAIR_A_PUB[$n]}" '$1 == k { print $2 }')"
	check "$tag: ping after, from b" ping_ok "$NS_B" "$(ovl4 "$n" a)" 2
	check_share "$tag" b "$n"
	ip -n "$NS_A" addr add "$UA4/$U4LEN" dev "$VETH_A"
	ip -n "$NS_A" addr del "$NEW4/$U4LEN" dev "$VETH_A"
	pair_down "$n"
}

# ---------------------------------------------------------------------------------------------
# Agent restart under traffic: kill -9 a's agent, xwg up again; the pinned data path must carry on.

run_restart() {
	local n=$1 tag="restart: $RR_MODE agent killed under iperf3" ifa ifb ha0 hb0 ha1 hb1 pid stalls
	say "--- $tag"
	up_or_skip "$tag" "$n" "$RR_MODE" "$RR_MODE" xwg || return
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	ha0=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5) hb0=$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 5)
	iperf_start "$NS_A" "$(ovl4 "$n" b)" 5201 10 -b 200M
	sleep 3
	pid=$(agent_pids "$NS_A" | head -n 1)
	if [ -z "$pid" ]; then
		nok "$tag: found a's agent process"
	else
		kill -KILL "$pid"
		say "killed agent $pid of $ifa"
		wait_for 3 sh -c "! kill -0 $pid"
		sleep 1
		if nsx "$NS_A" "$XWG" up "$(conf_path "$ifa")" --mode "$RR_MODE" >"$T_TMP/$ifa.restart.log" 2>&1 &&
			wait_for 10 sock_ready "$ifa"; then
			ok "$tag: xwg up again with the same file"
		else
			nok "$tag: xwg up again with the same file"
			show_file "$T_TMP/$ifa.restart.log"
			pid=''
		fi
	fi
	if iperf_finish "$tag: the iperf3 stream survived the restart"; then
		stalls=$(iperf_stalls)
		check "$tag: at most $RESTART_MAX_STALLS empty one-second intervals (got $stalls)" \
			test "$stalls" -le "$RESTART_MAX_STALLS"
		say "$tag: MB per second: $(jq -r '[.intervals[].sum.bytes / 1e6 | floor | tostring] | join(" ")' \
			"$IPERF_JSON" 2>/dev/null)"
	fi
	if [ -z "$pid" ]; then
		# Without a running agent nothing else can be asked; the failure above says why.
		say "$tag: no agent after the restart: handshake, mode and down checks not run"
		pair_down "$n"
		return
	fi
	ha1=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5) hb1=$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 5)
	check_eq "$tag: a's latest handshake unchanged (adopted, no new handshake)" "$ha0" "$ha1"
	check_eq "$tag: b's latest handshake unchanged (adopted, no new handshake)" "$hb0" "$hb1"
	check_mode "$tag" a "$n" "$([ "$RR_MODE" = auto ] && mode_auto_expect || echo "$RR_MODE")"
	check "$tag: ping after" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	down_side "$tag" a "$n"
	pair_down "$n"
}

# Agent killed and not restarted: attach must only say "not running"; down must remove what it left.
run_dead_down() {
	local n=$1 tag="dead agent: $RR_MODE agent killed, then xwg down" ifa pid
	say "--- $tag"
	up_or_skip "$tag" "$n" "$RR_MODE" "$RR_MODE" xwg || return
	ifa=$(ifname_of "$n" a)
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	pid=$(agent_pids "$NS_A" | head -n 1)
	if [ -z "$pid" ]; then
		nok "$tag: found a's agent process"
		pair_down "$n"
		return
	fi
	kill -KILL "$pid"
	wait_for 3 sh -c "! kill -0 $pid"
	check "$tag: the tunnel outlives its agent (persistent)" ip -n "$NS_A" link show "$ifa"
	check "$tag: BPF still carries traffic without the agent" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check "$tag: attach without an agent fails" nsx "$NS_A" sh -c "! '$XWG' attach '$ifa' '$VETH_A' 2>/dev/null"
	check "$tag: ... and leaves the tunnel alone" ip -n "$NS_A" link show "$ifa"
	down_side "$tag" a "$n"
	check "$tag: the tunnel is gone" sh -c "! ip -n '$NS_A' link show '$ifa' 2>/dev/null"
	pair_down "$n"
}

# ---------------------------------------------------------------------------------------------

[ "$OFFLOAD_REKEY" = 1 ] && rekey_start

n=0
for pairing in $OFFLOAD_PAIRINGS; do
	n=$((n + 1))
	run_pairing $n "${pairing%%:*}" "${pairing#*:}" "$IPERF_SECS"
done
run_roaming 5
run_restart 6
run_dead_down 7
rekey_finish

lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Floods at the listen port: cookie replies under a handshake flood, and data floods stopped in BPF.
# xwg-timeout: 60
#
# Two pairs of xwg instances (XWG_MODE, default auto, and xdp); a sends with sources spoofed from
# FLOOD_SRC ($OUTPUT/flood, bench/flood.c), which b routes back to a, where they are blackholed:
# everything stays in the test's namespaces.  1. While initiations with a valid mac1 flood b, b sends
# cookie replies, and a's first handshake still completes (a gets a cookie reply, retries with mac2,
# b lets it through).
# 2. Then (for the xdp pair, meanwhile) data messages with random receiver indices, random bytes and
# a's own data messages replayed: b's BPF drops each one (INDEX_DROP, BAD_HEADER, REPLAY: one per
# packet sent); nothing reaches b's agent (no AGENT_RX_DROP, nothing passed up) and nothing is
# delivered.  Initiations past the per-CPU budget are dropped in BPF (HANDSHAKE_LIMIT).  No rates are
# asserted.  About 23 s.

. "$(dirname "$0")/lib.sh"

FLOOD_SRC=198.18.0.0/15
FLOOD=$OUTPUT/flood

lib_init
need_cmd jq ping
need_impl xwg
[ -x "$FLOOD" ] || { nok "$FLOOD is built (make)"; lib_done; }
topo_create || { nok "topology"; lib_done; }
# Pair 1 in XWG_MODE (default auto) takes the handshake flood and then the data floods; pair 2 in xdp
# (where the machine has it) takes the data floods meanwhile, on its own port.
MODE=${XWG_MODE:-auto}
mode_supported "$MODE" || skip_all "this machine lacks mode $MODE: $(mode_missing_why "$MODE")"
XWG_MODE=$MODE pair_up 1 xwg xwg 4 a || { nok "instances come up ($MODE)"; lib_done; }
PAIR2=''
if [ "$MODE" != xdp ] && mode_supported xdp; then
	XWG_MODE=xdp pair_up 2 xwg xwg 4 a && PAIR2=2 || nok "instances come up (xdp)"
fi
ip -n "$NS_B" route add "$FLOOD_SRC" via "$UA4" && ip -n "$NS_A" route add blackhole "$FLOOD_SRC" ||
	{ nok "routes for the spoofed sources"; lib_done; }

snap() { nsx "$1" "$XWG" show "$2" --json >"$3" 2>"$3.err"; }
# delta BEFORE AFTER JQ-PATH: how much a number moved
delta() { jq -n --slurpfile a "$1" --slurpfile b "$2" "(\$b[0]$3 // 0) - (\$a[0]$3 // 0)"; }
sent() { sed -n 's/^sent=\([0-9]*\) .*/\1/p' "$1"; }

# capture N: pair N's a sends b data messages (pings, single packets), captured for the replay flood.
capture() {
	local n=$1 cpid
	nsx "$NS_A" "$FLOOD" capture "$VETH_A" "$(port_of "$n" b)" 20 "$T_TMP/replay.$n.bin" 5 \
		>"$T_TMP/capture.$n.out" 2>&1 &
	cpid=$!
	sleep 0.2
	nsx "$NS_A" ping -c 20 -i 0.02 -q "$(ovl4 "$n" b)" >/dev/null 2>&1
	wait "$cpid"
	check_eq "pair $n: a's data messages to b captured" "captured=20" "$(cat "$T_TMP/capture.$n.out")"
}

# flood N KIND REASON: one second of KIND at pair N's b: its BPF drops every packet with REASON, its
# agent sees none, nothing is delivered.
flood() {
	local n=$1 kind=$2 reason=$3 tag="pair $1 ($(pair_mode "$1")): $2 flood" ifb pkts k
	local s0=$T_TMP/$1.$2.0.json s1=$T_TMP/$1.$2.1.json out=$T_TMP/$1.$2.out
	ifb=$(ifname_of "$n" b)
	snap "$NS_B" "$ifb" "$s0"
	nsx "$NS_A" "$FLOOD" send "$kind" "$UB4" "$(port_of "$n" b)" 3000 1 --src "$FLOOD_SRC" \
		--file "$T_TMP/replay.$n.bin" >"$out" 2>&1
	sleep 0.3
	snap "$NS_B" "$ifb" "$s1"
	pkts=$(sent "$out")
	check_ge "$tag: sent ($(cat "$out"))" "${pkts:-0}" 1000
	check_eq "$tag: every packet dropped in BPF as $reason" "${pkts:-?}" "$(delta "$s0" "$s1" ".reasons.$reason")"
	check_eq "$tag: the agent dropped none (AGENT_RX_DROP)" 0 "$(delta "$s0" "$s1" .reasons.AGENT_RX_DROP)"
	for k in UNKNOWN_INDEX NOT_DATA SHORT HANDSHAKE RX_BULK; do
		check_eq "$tag: none passed up to the agent as $k" 0 "$(delta "$s0" "$s1" ".reasons.$k")"
	done
	check_eq "$tag: nothing delivered (OK)" 0 "$(delta "$s0" "$s1" .reasons.OK)"
	check_eq "$tag: nothing received by the agent for the peer" 0 "$(delta "$s0" "$s1" '.peers[0].agent_rx_packets')"
}
# hs_budget N: a second of initiations at 20000/s; each is passed up (HANDSHAKE) or dropped over the
# per-CPU budget (HANDSHAKE_LIMIT, XWG_HS_PER_CPU_DEFAULT a second); with more than the budget of
# every CPU over two seconds (the flood may straddle two) some must be dropped.
hs_budget() {
	local n=$1 s0=$T_TMP/hs.0.json s1=$T_TMP/hs.1.json out=$T_TMP/hs.out pkts up lim
	snap "$NS_B" "$(ifname_of "$n" b)" "$s0"
	nsx "$NS_A" "$FLOOD" send init "$UB4" "$(port_of "$n" b)" 20000 1 --src "$FLOOD_SRC" >"$out" 2>&1
	sleep 0.3
	snap "$NS_B" "$(ifname_of "$n" b)" "$s1"
	pkts=$(sent "$out") up=$(delta "$s0" "$s1" .reasons.HANDSHAKE) lim=$(delta "$s0" "$s1" .reasons.HANDSHAKE_LIMIT)
	check_eq "pair $n: initiations at 20000/s ($(cat "$out")): each passed up or dropped over the budget" \
		"${pkts:-?}" "$((up + lim))"
	if [ "${pkts:-0}" -gt $((2 * 2048 * $(nproc))) ]; then
		check_ge "pair $n: the budget dropped some ($up passed up)" "$lim" 1
	else
		say "pair $n: only ${pkts:-0} sent, within the budget of every CPU over two seconds"
	fi
}
pair_mode() { [ "$1" = 1 ] && echo "$MODE" || echo xdp; }
data_floods() {
	hs_budget "$1"
	capture "$1"
	flood "$1" data INDEX_DROP
	flood "$1" garbage BAD_HEADER
	flood "$1" replay REPLAY
}

[ -n "$PAIR2" ] && check "pair 2 (xdp): ping" ping_ok "$NS_A" "$(ovl4 2 b)" 1

# 1. The handshake flood at pair 1, and a's first handshake through it (REKEY_TIMEOUT, 5 s, after the
# first initiation got a cookie reply, the second carries mac2); pair 2's data floods meanwhile.
IFA=$(ifname_of 1 a) IFB=$(ifname_of 1 b)
snap "$NS_B" "$IFB" "$T_TMP/b0.json"
snap "$NS_A" "$IFA" "$T_TMP/a0.json"
nsx "$NS_A" "$FLOOD" send init "$UB4" "$(port_of 1 b)" 1000 9 --src "$FLOOD_SRC" --pubkey "${PAIR_B_PUB[1]}" \
	>"$T_TMP/init.out" 2>&1 &
FPID=$!
T_PIDS+=("$FPID")
sleep 1
nsx "$NS_A" ping -c 1 -w 12 -q "$(ovl4 1 b)" >"$T_TMP/ping1.out" 2>&1 &
PPID1=$!
[ -n "$PAIR2" ] && data_floods 2
if wait "$PPID1"; then
	ok "pair 1: a's first handshake completes under the flood (ping)"
else
	nok "pair 1: a's first handshake completes under the flood (ping)"
	show_file "$T_TMP/ping1.out"
fi
wait "$FPID"
snap "$NS_B" "$IFB" "$T_TMP/b1.json"
snap "$NS_A" "$IFA" "$T_TMP/a1.json"
say "init flood: $(cat "$T_TMP/init.out")"
check_ge "pair 1: b sent cookie replies under the flood" "$(delta "$T_TMP/b0.json" "$T_TMP/b1.json" .cookie_replies.sent)" 500
check_ge "pair 1: a received b's cookie reply and used it" \
	"$(delta "$T_TMP/a0.json" "$T_TMP/a1.json" .cookie_replies.received)" 1
check_ge "pair 1: b's handshake is recent" "$(wg_field "$IFB" "${PAIR_A_PUB[1]}" 5)" 1

# 2. The data floods at pair 1.
data_floods 1
check "pair 1: the tunnel works after the floods" ping_ok "$NS_A" "$(ovl4 1 b)" 2
lib_done

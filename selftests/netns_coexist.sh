#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xwg on a crowded host: 12 extra interfaces with foreign XDP and TC programs, and two xwg interfaces in one namespace.
# xwg-timeout: 300
#
# (a) Namespace a gets 12 extra interfaces (6 veth pairs) besides its veth; one carries a foreign
#     generic-XDP program and the default route (a candidate xwg must skip, not refuse the mode
#     for), one a foreign tc filter, and the veth itself a foreign tc filter and, before xwg's, a
#     foreign TCX ingress program that returns TC_ACT_OK (a CNI's that hands everything to the
#     stack; all from foreign_test.bpf.o, the TCX one attached by tcx_attach). xwg's TCX program
#     must go in front of it, or decrypted frames would reach the veth's stack. `xwg up --mode xdp`
#     against wireguard-go must run in xdp (a refusal is a failure), with the veth as underlay,
#     carry ping and iperf3 each way with >= 99% of the data packets in BPF, and leave the
#     foreign programs attached (same ids) after up, after down, and after kill -9 of the agent
#     plus `xwg down`; the veth's TX checksumming (which xwg turns off) is back on after both,
#     and no pin, link or program of xwg remains. The foreign TCX program is then removed (its holder ends).
# (b) Two xwg interfaces in namespace a (different listen ports) on the same veth, each with a
#     wireguard-go peer in namespace b, both in xdp (through the namespace's XDP dispatcher,
#     pinned under $BPFFS_DIR/netns:INODE). Both carry traffic in BPF at the same time; then one
#     goes down and the other still carries traffic in BPF; then the other's agent is killed -9
#     and cleaned up while the first, up again, carries on; the dispatcher's pins go with the last.
# (c) The same as (a)'s kill -9 case on the fallback for kernels without links (XWG_NO_LINKS=1):
#     xwg's cls_bpf filter sits at its own priority beside the foreign one and goes, the foreign
#     clsact stays.

. "$(dirname "$0")/lib.sh"

MIN_RATIO=0.99
XWG_DAEMON=1
FOREIGN_OBJ=$OUTPUT/foreign_test.bpf.o
TCX_ATTACH=$OUTPUT/selftests/tcx_attach
N_EXTRA=12

lib_init
need_cmd iperf3 jq ping tc bpftool ethtool
need_impl xwg wireguard-go
[ -f "$FOREIGN_OBJ" ] || skip_all "$FOREIGN_OBJ not built"
[ -x "$TCX_ATTACH" ] || skip_all "$TCX_ATTACH not built"
topo_create || { nok "topology"; lib_done; }
# The namespace's dispatcher directory: removed by the EXIT trap too, should the test stop early.
NS_DIR=netns:$(nsx "$NS_A" stat -L -c %i /proc/self/ns/net)
T_IFS+=("$NS_DIR")
iperf_server "$NS_B" 5201
# Strict reverse-path filtering: a frame delivered into the wrong xwg tunnel is dropped, not accepted
# by the weak host model, so (b) fails if one interface's TC program takes the other's frames.
nsx "$NS_A" sysctl -qw net.ipv4.conf.all.rp_filter=1

# ---------------------------------------------------------------------------------------------
# Probes

xdp_id() { ip -n "$NS_A" -d link show "$1" | grep -o 'prog/xdp[a-z]* id [0-9]*' | awk '{ print $3 }'; }
# The foreign filters sit at pref 1 (xwg's fallback filter, at its own pref, is not one of them).
tc_ids() { tc -n "$NS_A" filter show dev "$1" ingress pref 1 2>/dev/null | grep -o ' id [0-9]*' | awk '{ print $2 }' | sort | paste -sd, -; }
# The programs on the veth's TCX ingress, first to last.
tcx_ids() { nsx "$NS_A" "$TCX_ATTACH" query "$VETH_A" 2>/dev/null; }
txcsum() { nsx "$NS_A" ethtool -k "$1" | awk '/^tx-checksumming:/ { print $2 }'; }

# foreign_intact TAG: the three foreign programs are where they were put, with the same ids.
foreign_intact() {
	check_eq "$1: foreign XDP program on ${P}d1 still attached" "$F_XDP" "$(xdp_id "${P}d1")"
	check_eq "$1: foreign tc filter on ${P}d2 still attached" "$F_TC" "$(tc_ids "${P}d2")"
	check_eq "$1: foreign tc filter on $VETH_A still attached" "$F_TCV" "$(tc_ids "$VETH_A")"
	[ -n "$F_TCX" ] || return 0
	check "$1: foreign TCX link's holder still running" kill -0 "$F_TCX_PID"
	check "$1: foreign TCX program $F_TCX still loaded" bpftool prog show id "$F_TCX"
	check_re "$1: foreign TCX program $F_TCX still on $VETH_A's ingress" "(^| )$F_TCX( |\$)" "$(tcx_ids)"
}

# tcx_first TAG IFNAME: IFNAME's program is first on the veth's TCX ingress, the foreign one after it.
tcx_first() {
	local ids first
	ids=$(tcx_ids) first=${ids%% *}
	first=${first:-none}
	check_re "$1: $2's TCX program goes before the foreign one ($ids)" " $F_TCX\$" "$ids"
	check_re "$1: the first TCX program ($first) is $2's" "(^| )$first( |\$)" "$(inst_prog_ids "$2")"
}

# bpf_share TAG IFNAME: >= 99% of the first peer's data packets each way went through BPF.
bpf_share() {
	nsx "$NS_A" "$XWG" show "$2" --json >"$T_TMP/$2.json" 2>&1
	check_bpf_share "$1" "$2" "$T_TMP/$2.json"
}

# mode_is TAG IFNAME MODE: the active data path, and the veth among the underlays.
mode_is() {
	local f=$T_TMP/$2.json
	nsx "$NS_A" "$XWG" show "$2" --json >"$f" 2>&1
	check_eq "$1: $2 runs in $3" "$3" "$(jq -r '.mode' "$f" 2>/dev/null)"
	check_re "$1: $2's underlays include $VETH_A" "(^|,)$VETH_A(,|\$)" "$(jq -r '.underlay // [] | join(",")' "$f" 2>/dev/null)"
	[ "$(jq -r '.mode' "$f" 2>/dev/null)" = "$3" ] || say "xwg show: $(head -c 600 "$f")"
}

# traffic TAG N: ping and a short iperf3 each way over pair N's IPv4 overlay.
traffic() {
	check "$1: ping" ping_ok "$NS_A" "$(ovl4 "$2" b)"
	iperf_check "$1: iperf3 3s a -> b" "$NS_A" "$(ovl4 "$2" b)" 5201 3
	iperf_check "$1: iperf3 3s b -> a (-R)" "$NS_A" "$(ovl4 "$2" b)" 5201 3 -R
}

# xwg_gone TAG IFNAME PROGS: no tunnel, pins or programs of that instance remain.
xwg_gone() {
	local id
	check "$1: $2 is gone" wait_for 5 sh -c "! ip -n '$NS_A' link show '$2' 2>/dev/null"
	check "$1: no pins left ($BPFFS_DIR/$2)" wait_for 3 test ! -e "$BPFFS_DIR/$2"
	for id in $3; do
		check "$1: $2's program $id unloaded" wait_for 3 sh -c "! bpftool prog show id $id >/dev/null 2>&1"
	done
}

# inst_prog_ids IFNAME: programs using a map pinned under the instance's directory.
inst_prog_ids() {
	local mids f
	mids=$(for f in "$BPFFS_DIR/$1"/xwg_*; do
		[ -e "$f" ] && bpftool map show pinned "$f" -j 2>/dev/null | jq -r '.id // empty'
	done | paste -sd, -)
	[ -n "$mids" ] || return 0
	bpftool prog show -j 2>/dev/null |
		jq -r --argjson m "[$mids]" '.[] | select(([.map_ids[]?] - $m) != [.map_ids[]?]) | .id' | sort -u | tr '\n' ' '
}

kill_agent() {	# kill_agent IFNAME: kill -9 of the agent serving IFNAME
	local pid
	pid=$(nsx "$NS_A" "$XWG" show "$1" --json 2>/dev/null | jq -r '.pid // empty')
	[ -n "$pid" ] || pid=$(for p in $(agent_pids "$NS_A"); do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "/$1.conf" && echo "$p"; done | head -n 1)
	[ -n "$pid" ] || return 1
	kill -KILL "$pid"
	wait_for 3 sh -c "! kill -0 $pid"
}

# ---------------------------------------------------------------------------------------------
# (a) 12 extra interfaces and foreign programs

for i in $(seq 1 2 $N_EXTRA); do
	ip -n "$NS_A" link add "${P}d$i" type veth peer name "${P}d$((i + 1))" &&
		ip -n "$NS_A" link set "${P}d$i" up && ip -n "$NS_A" link set "${P}d$((i + 1))" up ||
		{ nok "veth pair ${P}d$i/${P}d$((i + 1))"; lib_done; }
done
# The default route goes through the interface with the foreign XDP program: a candidate xwg must skip.
ip -n "$NS_A" addr add 198.51.100.1/24 dev "${P}d1"
ip -n "$NS_A" route add default via 198.51.100.254 dev "${P}d1"
check "foreign XDP program on ${P}d1" ip -n "$NS_A" link set dev "${P}d1" xdpgeneric obj "$FOREIGN_OBJ" sec xdp
check "foreign tc filter on ${P}d2" sh -c "tc -n '$NS_A' qdisc add dev '${P}d2' clsact &&
	tc -n '$NS_A' filter add dev '${P}d2' ingress prio 1 bpf da obj '$FOREIGN_OBJ' sec tc"
check "foreign tc filter on $VETH_A" sh -c "tc -n '$NS_A' qdisc add dev '$VETH_A' clsact &&
	tc -n '$NS_A' filter add dev '$VETH_A' ingress prio 1 bpf da obj '$FOREIGN_OBJ' sec tc"
# A CNI's TCX program that passes everything, there before xwg; its link lives as long as the holder.
ip netns exec "$NS_A" "$TCX_ATTACH" "$FOREIGN_OBJ" foreign_tc_pass "$VETH_A" >"$T_TMP/tcx.out" 2>&1 &
F_TCX_PID=$!
T_PIDS+=("$F_TCX_PID")
wait_for 5 test -s "$T_TMP/tcx.out"
F_TCX=$(head -n 1 "$T_TMP/tcx.out")
check_eq "foreign TCX program (TC_ACT_OK) on $VETH_A's ingress" "${F_TCX:-none}" "$(tcx_ids)"
F_XDP=$(xdp_id "${P}d1") F_TC=$(tc_ids "${P}d2") F_TCV=$(tc_ids "$VETH_A")
[ -n "$F_XDP" ] && [ -n "$F_TC" ] && [ -n "$F_TCV" ] && [ -n "$F_TCX" ] || { nok "foreign programs in place"; lib_done; }
say "foreign programs: xdp $F_XDP on ${P}d1, tc $F_TC on ${P}d2, tc $F_TCV and TCX $F_TCX on $VETH_A"
CSUM0=$(txcsum "$VETH_A")

tag="(a) $N_EXTRA extra interfaces, foreign programs"
if XWG_MODE_A=xdp pair_up 1 xwg wireguard-go 4 a; then
	ok "$tag: xwg up --mode xdp"
else
	nok "$tag: xwg up --mode xdp (a refusal is a failure here)"
	show_file "$T_TMP/$(ifname_of 1 a).log"
fi
IFA=$(ifname_of 1 a)
mode_is "$tag" "$IFA" xdp
check_re "$tag: ${P}d1 (default route, foreign XDP) was skipped, not the mode" "${P}d1: another XDP program" \
	"$(nsx "$NS_A" "$XWG" show "$IFA" --json | jq -r '.skipped // empty')"
foreign_intact "$tag: after up"
tcx_first "$tag" "$IFA"
check_eq "$tag: xwg turned $VETH_A's TX checksumming off" off "$(txcsum "$VETH_A")"
traffic "$tag" 1
bpf_share "$tag" "$IFA"
foreign_intact "$tag: after traffic"
PROGS=$(inst_prog_ids "$IFA")
check "$tag: xwg down" nsx "$NS_A" "$XWG" down "$IFA"
xwg_gone "$tag: after down" "$IFA" "$PROGS"
foreign_intact "$tag: after down"
check_eq "$tag: $VETH_A's TX checksumming restored after down" "$CSUM0" "$(txcsum "$VETH_A")"
inst_stop "$(ifname_of 1 b)"

tag="(a) kill -9 and cleanup"
if XWG_MODE_A=xdp pair_up 1 xwg wireguard-go 4 a; then
	ok "$tag: xwg up --mode xdp again"
	tcx_first "$tag" "$IFA"
	check "$tag: ping" ping_ok "$NS_A" "$(ovl4 1 b)"
	PROGS=$(inst_prog_ids "$IFA")
	check "$tag: kill -9 of the agent" kill_agent "$IFA"
	check "$tag: BPF carries traffic without the agent" ping_ok "$NS_A" "$(ovl4 1 b)" 2
	# A new agent takes the dead one's pinned TCX link over (bpf_link_update): still first.
	if nsx "$NS_A" "$XWG" up "$(conf_path "$IFA")" --mode xdp >"$T_TMP/$IFA.takeover.log" 2>&1 &&
		wait_for 10 sock_ready "$IFA"; then
		ok "$tag: xwg up over the dead agent's pins"
		tcx_first "$tag: after the takeover" "$IFA"
		check "$tag: ping after the takeover" ping_ok "$NS_A" "$(ovl4 1 b)" 2
		PROGS="$PROGS $(inst_prog_ids "$IFA")"
		check "$tag: kill -9 of the new agent" kill_agent "$IFA"
	else
		nok "$tag: xwg up over the dead agent's pins"
		show_file "$T_TMP/$IFA.takeover.log"
	fi
	check_re "$tag: xwg down removes what the dead agent left" "removed what a dead agent left" \
		"$(nsx "$NS_A" "$XWG" down "$IFA" 2>&1)"
	xwg_gone "$tag" "$IFA" "$PROGS"
	foreign_intact "$tag: after cleanup"
	check_eq "$tag: $VETH_A's TX checksumming restored after cleanup" "$CSUM0" "$(txcsum "$VETH_A")"
else
	nok "$tag: xwg up --mode xdp again"
fi
pair_down 1
# (b) and (c) run without it: the fallback's cls_bpf filter runs after every TCX program.
kill "$F_TCX_PID" 2>/dev/null; wait "$F_TCX_PID" 2>/dev/null
check "(a): the foreign TCX program is gone with its holder" wait_for 3 sh -c "! bpftool prog show id $F_TCX >/dev/null 2>&1"
check_eq "(a): nothing left on $VETH_A's TCX ingress" "" "$(tcx_ids)"
F_TCX=""

# ---------------------------------------------------------------------------------------------
# (b) two xwg interfaces in one namespace on one underlay

tag="(b) two xwg interfaces on $VETH_A"
IF1=$(ifname_of 2 a) IF2=$(ifname_of 3 a)
XWG_MODE_A=xdp pair_up 2 xwg wireguard-go 4 a || nok "$tag: $IF1 up in xdp"
XWG_MODE_A=xdp pair_up 3 xwg wireguard-go 4 a || nok "$tag: $IF2 up in xdp (a refusal is a failure)"
mode_is "$tag" "$IF1" xdp
mode_is "$tag" "$IF2" xdp
check "$tag: one dispatcher link on $VETH_A" test -e "$BPFFS_DIR/$NS_DIR/link-xdp-$(ip -n "$NS_A" -o link show "$VETH_A" | cut -d: -f1)"
iperf_server "$NS_B" 5202
iperf_start "$NS_A" "$(ovl4 2 b)" 5201 4
J1=$IPERF_JSON P1=$IPERF_PID D1=$IPERF_DESC
iperf_start "$NS_A" "$(ovl4 3 b)" 5202 4
J2=$IPERF_JSON P2=$IPERF_PID D2=$IPERF_DESC
IPERF_JSON=$J1 IPERF_PID=$P1 IPERF_DESC=$D1 iperf_finish "$tag: $IF1 iperf3 while $IF2 runs one"
IPERF_JSON=$J2 IPERF_PID=$P2 IPERF_DESC=$D2 iperf_finish "$tag: $IF2 iperf3 while $IF1 runs one"
check "$tag: ping over $IF1" ping_ok "$NS_A" "$(ovl4 2 b)"
check "$tag: ping over $IF2" ping_ok "$NS_A" "$(ovl4 3 b)"
bpf_share "$tag: both at once" "$IF1"
bpf_share "$tag: both at once" "$IF2"

check "$tag: xwg down $IF1" nsx "$NS_A" "$XWG" down "$IF1"
check "$tag: $IF1 is gone" wait_for 5 sh -c "! ip -n '$NS_A' link show '$IF1' 2>/dev/null"
check_eq "$tag: $VETH_A's TX checksumming stays off while $IF2 uses it" off "$(txcsum "$VETH_A")"
traffic "$tag: $IF2 after $IF1 went down" 3
bpf_share "$tag: $IF2 after $IF1 went down" "$IF2"

if XWG_MODE=xdp inst_up xwg "$NS_A" "$IF1"; then
	mode_is "$tag: $IF1 up again" "$IF1" xdp
	PROGS=$(inst_prog_ids "$IF2")
	check "$tag: kill -9 of $IF2's agent" kill_agent "$IF2"
	check_re "$tag: xwg down $IF2 cleans up" "removed what a dead agent left" "$(nsx "$NS_A" "$XWG" down "$IF2" 2>&1)"
	xwg_gone "$tag: $IF2 cleaned" "$IF2" "$PROGS"
	traffic "$tag: $IF1 after $IF2's cleanup" 2
	bpf_share "$tag: $IF1 after $IF2's cleanup" "$IF1"
	check_eq "$tag: $VETH_A's TX checksumming still off for $IF1" off "$(txcsum "$VETH_A")"
else
	nok "$tag: $IF1 up again in xdp"
fi
pair_down 2
pair_down 3
foreign_intact "(b) at the end"
# Only this namespace's directory: other tests may run beside this one, with dispatchers of their own.
check "(b): the dispatcher's pins went with the last interface" test ! -e "$BPFFS_DIR/$NS_DIR"
check "(b): no XDP left on $VETH_A" sh -c "! ip -n '$NS_A' -d link show '$VETH_A' | grep -q xdp"

# ---------------------------------------------------------------------------------------------
# (c) the fallback for kernels without links (forced): netlink XDP that never replaces, a cls_bpf
#     filter at xwg's own priority beside the foreign one, and the foreign clsact left in place.

tag="(c) without links (XWG_NO_LINKS=1)"
export XWG_NO_LINKS=1
if XWG_MODE_A=xdp pair_up 4 xwg wireguard-go 4 a; then
	IF4=$(ifname_of 4 a)
	mode_is "$tag" "$IF4" xdp
	check_re "$tag: xwg's filter at its own priority beside the foreign one" "pref 30567 bpf" \
		"$(tc -n "$NS_A" filter show dev "$VETH_A" ingress)"
	foreign_intact "$tag: after up"
	traffic "$tag" 4
	bpf_share "$tag" "$IF4"
	PROGS=$(inst_prog_ids "$IF4")
	check "$tag: kill -9 of the agent" kill_agent "$IF4"
	check_re "$tag: xwg down removes what the dead agent left" "removed what a dead agent left" \
		"$(nsx "$NS_A" "$XWG" down "$IF4" 2>&1)"
	xwg_gone "$tag" "$IF4" "$PROGS"
	foreign_intact "$tag: after cleanup"
	check_eq "$tag: no xwg filter left on $VETH_A" "" "$(tc -n "$NS_A" filter show dev "$VETH_A" ingress | grep 'pref 30567')"
	check "$tag: the foreign clsact on $VETH_A stays" sh -c "tc -n '$NS_A' qdisc show dev '$VETH_A' | grep -q clsact"
	check "$tag: no XDP left on $VETH_A" sh -c "! ip -n '$NS_A' -d link show '$VETH_A' | grep -q xdp"
	check_eq "$tag: $VETH_A's TX checksumming restored" "$CSUM0" "$(txcsum "$VETH_A")"
else
	nok "$tag: xwg up --mode xdp"
fi
unset XWG_NO_LINKS
pair_down 4
check_eq "(b): $VETH_A's TX checksumming restored at the end" "$CSUM0" "$(txcsum "$VETH_A")"

lib_done

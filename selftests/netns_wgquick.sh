#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The real wg-quick(8) with xwg-run as its userspace implementation: a full tunnel (0.0.0.0/0, ::/0) in every mode.
# xwg-timeout: 300
#
# Server (namespace b): xwg (`xwg up`), later once Debian's wireguard-go, with addresses that exist only
# behind it (on its loopback: 198.51.100.7/32, 2001:db8:99::7/128). Client (namespace a):
# `WG_QUICK_USERSPACE_IMPLEMENTATION=xwg-run XWG_MODE=<mode> wg-quick up FILE`, AllowedIPs = 0.0.0.0/0, ::/0,
# so wg-quick sets fwmark 51820, its policy rules, table 51820, its nftables table and src_valid_mark.
# In each mode this machine supports (a supported mode failing is a failure):
#   - before up, the client has no route to the addresses behind the server;
#   - after up: the data path is the one asked for; ping v4 and v6 reach the addresses behind the
#     server; handshakes and data leave as UDP to the endpoint on the underlay veth, none goes back into
#     the tunnel, and the peer's tx bytes stay those of the few packets sent (no loop); in BPF modes the
#     peer's "in BPF" counters move both ways; an iperf3 run moves MBs (in auto also through the agent's
#     batched path, in tun all of it); a new fwmark set on the live tunnel (with a rule routing it to the
#     endpoint with hop limit 33) is obeyed at once: every data packet leaves with TTL 33, BPF's too;
#   - after down: ip rules, every routing table, the nftables ruleset and the sysctls equal what they
#     were before up (apart from src_valid_mark=1, which wg-quick sets and by design never undoes), and
#     no xwg process, socket or BPF pin of the interface is left, nor anything attached to the underlay.

. "$(dirname "$0")/lib.sh"

BEHIND4=198.51.100.7 BEHIND6=2001:db8:99::7
OV4_S=10.91.0.1 OV4_C=10.91.0.2 OV6_S=fd91::1 OV6_C=fd91::2
SPORT=51902
IPERF_SECS=${IPERF_SECS:-2}
MIN_BULK=$((4 << 20))		# bytes the iperf3 run must move, at the least

lib_init
need_cmd wg-quick nft sysctl tcpdump iperf3 jq ping bpftool
need_impl xwg wireguard-go
# The kernel's module would take the interface from the userspace implementation.
[ -e /sys/module/wireguard ] && skip_all "the wireguard kernel module is loaded: wg-quick would not run xwg-run"
topo_create || { nok "topology"; lib_done; }
# Before the first snapshot: the veth's IPv6 link-local address (and its local route) settles.
wait_for 10 sh -c "ip -n '$NS_A' -6 addr show dev '$VETH_A' scope link | grep -q fe80 &&
	! ip -n '$NS_A' -6 addr show dev '$VETH_A' | grep -q tentative" || say "link-local address not ready"
# Where the namespace's XDP dispatcher is pinned while an xwg interface of it uses one.
NS_DIR=netns:$(nsx "$NS_A" stat -L -c %i /proc/self/ns/net)
# The link the Makefile installs (make install); the agent's name is then xwg-run.
ln -s "$XWG" "$T_TMP/xwg-run"

keys_new KS
keys_new KC
IF_S=${P}s IF_C=${P}c
# On the server's loopback: local to it, reachable from elsewhere only through it (no dummy module needed).
ip -n "$NS_B" addr add "$BEHIND4/32" dev lo &&
	ip -n "$NS_B" addr add "$BEHIND6/128" dev lo nodad || { nok "addresses behind the server"; lib_done; }
iperf_server "$NS_B" 5201

# Server file (lib's inst_up reads it); the client's is written for wg-quick, without xwg's keys.
conf_iface "$IF_S" "$KS_PRIV" "$SPORT" "$OV4_S/24, $OV6_S/64"
conf_peer "$IF_S" "$KC_PUB" "$OV4_C/32, $OV6_C/128"
CONF_C=$T_TMP/$IF_C.conf
cat >"$CONF_C" <<EOF
[Interface]
PrivateKey = $KC_PRIV
Address = $OV4_C/24, $OV6_C/64

[Peer]
PublicKey = $KS_PUB
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = $UB4:$SPORT
EOF
T_IFS+=("$IF_C")

# What wg-quick and the agent may touch in the client namespace, as text to compare.
state_dump() {
	{
		echo "== rules"; nsx "$NS_A" ip -4 rule; nsx "$NS_A" ip -6 rule
		echo "== routes"; nsx "$NS_A" ip -4 route show table all; nsx "$NS_A" ip -6 route show table all
		echo "== nft"; nsx "$NS_A" nft list ruleset
		echo "== sysctl"; nsx "$NS_A" sysctl net.ipv4.conf net.ipv6.conf net.ipv4.ip_forward 2>/dev/null
		echo "== links"; nsx "$NS_A" ip -br link | awk '{ print $1 }'
		echo "== underlay"; nsx "$NS_A" bpftool net show dev "$VETH_A"	# XDP and tc programs
	} 2>&1
}

# agents NS: pids of xwg agents in NS, under either name.
agents() {
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		case $(cat "/proc/$pid/comm" 2>/dev/null) in xwg|xwg-run) echo "$pid" ;; esac
	done
}

no_agents() { [ -z "$(agents "$NS_A")" ]; }

peer_json() {	# peer_json FIELD: one field of the client's peer in `xwg show --json`
	nsx "$NS_A" "$XWG" show "$IF_C" --json 2>/dev/null | jq -r ".peers[0].$1 // 0"
}

cap_start() {	# cap_start NAME IF FILTER: a capture in the client namespace; sets CAP_PID
	# Not through nsx: $! must be tcpdump itself (ip netns exec execs it), or kill_pid would miss it.
	# --immediate-mode: a packet still in the kernel's capture ring when tcpdump is stopped is lost.
	rm -f "$T_TMP/$1.pcap"
	ip netns exec "$NS_A" tcpdump -nn -U --immediate-mode -i "$2" -w "$T_TMP/$1.pcap" "$3" 2>"$T_TMP/$1.err" &
	CAP_PID=$!
	T_PIDS+=("$CAP_PID")
	wait_for 5 grep -q "listening on" "$T_TMP/$1.err"
}

cap_count() {	# cap_count NAME [FILTER]: packets in the capture matching FILTER
	tcpdump -nn -r "$T_TMP/$1.pcap" ${2:+"$2"} 2>/dev/null | wc -l
}

# fwmark_live TAG DATAPATH: `wg set IF fwmark` on the live tunnel, with a rule that routes the new mark
# to the endpoint with hop limit 33. Every data packet on the underlay must then carry TTL 33: BPF
# republished its mark, endpoint and hop limit (with the old ones it would keep TTL 64).
fwmark_live() {
	local tag=$1 want=$2 n n33 tx0 tx1 ok_set=0
	nsx "$NS_A" ip -4 rule add fwmark 0xca6d lookup 100 pref 90 &&
		nsx "$NS_A" ip -4 route add "$UB4/32" dev "$VETH_A" table 100 hoplimit 33 &&
		wg set "$IF_C" fwmark 0xca6d && ok_set=1
	check_eq "$tag: wg set fwmark 0xca6d on the live tunnel (and a rule for it)" 1 "$ok_set"
	if [ $ok_set = 1 ] && cap_start mark "$VETH_A" "udp and dst host $UB4 and dst port $SPORT and udp[8] = 4"; then
		tx0=$(peer_json bpf_tx_packets)
		check "$tag: ping $BEHIND4 with the new fwmark" ping_ok "$NS_A" "$BEHIND4" 5
		tx1=$(peer_json bpf_tx_packets)
		sleep 0.2
		kill_pid "$CAP_PID"
		n=$(cap_count mark) n33=$(cap_count mark 'ip[8] = 33')
		check_ge "$tag: data packets left on the underlay with the new mark" "$n" 5
		check_eq "$tag: every one has the hop limit of the new mark's route" "$n" "$n33"
		[ "$want" = tun ] ||
			check_ge "$tag: BPF encrypted them under the new mark (bpf tx +$((tx1 - tx0)))" $((tx1 - tx0)) 3
	fi
	# Back to wg-quick's mark: its down finds its rules by it.
	check "$tag: wg set fwmark back to 51820" wg set "$IF_C" fwmark 51820
	nsx "$NS_A" ip -4 route del "$UB4/32" dev "$VETH_A" table 100
	nsx "$NS_A" ip -4 rule del fwmark 0xca6d lookup 100 pref 90
}

# run_mode MODE SERVER-IMPL: one client up/down against the running server.
run_mode() {
	local mode=$1 simpl=$2 tag before after out rc want got fw hs tx1 cap_ok=1 CAP_VETH
	local b_rx0 b_tx0 b_rx1 b_tx1 a_tx0 a_rx0 a_tx1 a_rx1 pid
	tag="wg-quick [mode $mode] -> $simpl"
	say "--- $tag"
	before=$(state_dump)
	check_fails "$tag: before up, no route to $BEHIND4" nsx "$NS_A" ip -4 route get "$BEHIND4"
	check_fails "$tag: before up, no route to $BEHIND6" nsx "$NS_A" ip -6 route get "$BEHIND6"
	cap_start veth "$VETH_A" "udp and dst host $UB4 and dst port $SPORT" || cap_ok=0
	CAP_VETH=$CAP_PID

	out=$(nsx "$NS_A" env XWG_MODE="$mode" WG_QUICK_USERSPACE_IMPLEMENTATION="$T_TMP/xwg-run" \
		wg-quick up "$CONF_C" 2>&1); rc=$?
	if [ $rc != 0 ]; then
		nok "$tag: wg-quick up (rc $rc)"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
		nsx "$NS_A" wg-quick down "$CONF_C" >/dev/null 2>&1
		kill_pid "$CAP_PID"
		return
	fi
	ok "$tag: wg-quick up"
	fw=$(wg show "$IF_C" fwmark)
	check_eq "$tag: wg-quick set the fwmark" 0xca6c "$fw"
	check "$tag: wg-quick's policy rule is in place" sh -c "ip -n '$NS_A' -4 rule | grep -q 'not from all fwmark 0xca6c lookup 51820'"
	want=$mode
	[ "$mode" = auto ] && want=$(mode_auto_expect)
	got=$(nsx "$NS_A" "$XWG" show "$IF_C" 2>&1 | sed -n 's/^ *data path: \([^ ]*\).*/\1/p')
	check_eq "$tag: xwg runs the data path asked for (here $want)" "$want" "$got"

	cap_start tun "$IF_C" "udp and port $SPORT" || cap_ok=0
	b_rx0=$(peer_json bpf_rx_packets) b_tx0=$(peer_json bpf_tx_packets)
	check "$tag: ping $BEHIND4 through the tunnel" ping_ok "$NS_A" "$BEHIND4" 5
	check "$tag: ping $BEHIND6 through the tunnel" ping_ok "$NS_A" "$BEHIND6" 5
	check_re "$tag: the route to $BEHIND4 is the tunnel" "dev $IF_C " "$(nsx "$NS_A" ip -4 route get "$BEHIND4")"
	hs=$(wg show "$IF_C" latest-handshakes | cut -f2)
	check_re "$tag: latest handshake is set" '^[1-9][0-9]*$' "$hs"
	# A handshake and 10 small packets are about 1.5 KB; a loop would encrypt its own output again.
	tx1=$(wg show "$IF_C" transfer | cut -f3)
	check_re "$tag: the peer's tx bytes are those of a few packets ($tx1)" '^[0-9]{3,4}$' "$tx1"
	if [ "$want" != tun ]; then
		# XDP shows in bpftool net (what the dump after down compares); this bpftool lists no TCX.
		[ "$want" = tc ] || check_re "$tag: an XDP program is on the underlay (bpftool net)" \
			"^$VETH_A\\([0-9]+\\) (driver|generic) id [0-9]+" "$(nsx "$NS_A" bpftool net show dev "$VETH_A")"
		b_rx1=$(peer_json bpf_rx_packets) b_tx1=$(peer_json bpf_tx_packets)
		check_ge "$tag: pings were encrypted in BPF (bpf tx packets +$((b_tx1 - b_tx0)))" $((b_tx1 - b_tx0)) 5
		check_ge "$tag: replies were decrypted in BPF (bpf rx packets +$((b_rx1 - b_rx0)))" $((b_rx1 - b_rx0)) 5
	fi

	a_tx0=$(peer_json agent_tx_packets) a_rx0=$(peer_json agent_rx_packets)
	b_tx0=$(peer_json bpf_tx_packets)
	if iperf_check "$tag: iperf3 ${IPERF_SECS}s to $BEHIND4" "$NS_A" "$BEHIND4" 5201 "$IPERF_SECS"; then
		check_ge "$tag: iperf3 moved at least $MIN_BULK bytes" "$IPERF_BYTES" "$MIN_BULK"
	fi
	a_tx1=$(peer_json agent_tx_packets) b_tx1=$(peer_json bpf_tx_packets)
	case $want in
	tun) ;;	# the agent carries everything; show has no split to check
	*)
		if [ "$mode" = auto ]; then
			check_ge "$tag: bulk went through the agent's batched path (agent tx +$((a_tx1 - a_tx0)))" \
				$((a_tx1 - a_tx0)) 100
		else
			check_ge "$tag: bulk was encrypted in BPF (bpf tx +$((b_tx1 - b_tx0)))" $((b_tx1 - b_tx0)) 1000
		fi ;;
	esac
	fwmark_live "$tag" "$want"
	out=$(nsx "$NS_A" wg-quick down "$CONF_C" 2>&1); rc=$?
	check_eq "$tag: wg-quick down" 0 "$rc"
	[ $rc = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
	wait_for 5 sh -c "[ ! -e '$RUNDIR/$IF_C.sock' ]"
	kill_pid "$CAP_PID"
	kill_pid "$CAP_VETH"
	if [ $cap_ok = 1 ]; then
		check_ge "$tag: handshake initiations left on the underlay to $UB4:$SPORT" \
			"$(cap_count veth 'udp[8] = 1')" 1
		check_ge "$tag: data packets left on the underlay to $UB4:$SPORT" "$(cap_count veth 'udp[8] = 4')" 10
		check_eq "$tag: no UDP to the endpoint went into the tunnel (no loop)" 0 "$(cap_count tun)"
	else
		nok "$tag: capture on $VETH_A"; show_file "$T_TMP/veth.err" 5
	fi

	wait_for 5 no_agents
	check_eq "$tag: no xwg agent is left" "" "$(agents "$NS_A" | tr '\n' ' ')"
	check "$tag: no socket is left" test ! -e "$RUNDIR/$IF_C.sock"
	check "$tag: no BPF pin of $IF_C is left" test ! -e "$BPFFS_DIR/$IF_C"
	check "$tag: no dispatcher pins of the client namespace are left" test ! -e "$BPFFS_DIR/$NS_DIR"
	after=$(state_dump)
	# wg-quick sets src_valid_mark=1 for its rules and, like on any host, leaves it set.
	out=$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") |
		grep '^[<>]' | grep -v '^[<>] net.ipv4.conf.all.src_valid_mark = ')
	if [ -z "$out" ]; then
		ok "$tag: rules, routes, nftables, sysctls and the underlay are as before up"
	else
		nok "$tag: the client namespace differs from before up"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/#   /'
	fi
	pid=$(agents "$NS_A" | head -n 1)
	[ -z "$pid" ] || kill_pid "$pid"
}

if ! inst_up xwg "$NS_B" "$IF_S"; then
	nok "xwg server comes up"; lib_done
fi
for mode in ${WGQ_MODES:-auto tun tc xdp xdp-generic}; do
	if ! mode_supported "$mode"; then
		skip "wg-quick [mode $mode]" "$(mode_missing_why "$mode")"
		continue
	fi
	run_mode "$mode" xwg
done
inst_stop "$IF_S"
if inst_up wireguard-go "$NS_B" "$IF_S"; then
	run_mode auto wireguard-go
else
	nok "wireguard-go server comes up"
fi
lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wg-quick's routing under xwg up/down: a full tunnel (AllowedIPs = 0.0.0.0/0, ::/0) with policy routing, Table, the MTU rule.
# xwg-timeout: 600
#
# The client (namespace a) reaches addresses that exist only behind the server (on b's loopback:
# 198.51.100.7/32 and 2001:db8:99::7/128) through a full tunnel, while its handshakes and encrypted
# packets keep going to the endpoint over the underlay (a veth with MTU 1400). Per data path mode (tun,
# auto, and xdp and tc when this machine has them):
#   - before up, a has no route to those addresses;
#   - after `xwg up FILE`: MTU 1320 (1400 - 80, no MTU in the file), fwmark 0xca6c (51820), wg-quick's
#     rules "not fwmark 51820 lookup 51820" and "lookup main suppress_prefixlength 0" for IPv4 and IPv6,
#     the default routes in table 51820, the nftables tables wg-quick-IF, src_valid_mark 1; both
#     addresses answer ping; the endpoint is routed to the veth with the mark (to the tunnel without);
#     the server sees the client's underlay address; the veth carries the encrypted pings; in a BPF mode
#     the pings went through BPF both ways (xwg show's per-peer counters); in auto, iperf3 each way
#     went through the agent's batched path (TX_BULK, RX_BULK) and its marked sockets to the veth;
#   - after `xwg down`: routes of every table, rules, `nft list ruleset` and src_valid_mark are exactly
#     as before up.
# Then (auto): IPv4 only (0.0.0.0/0) sets up nothing for IPv6; `Table = off` installs no route and no
# rule; `Table = 1234` puts both defaults into table 1234 and adds no rule; a failing PostUp leaves
# nothing behind; SIGTERM to an `xwg up --foreground` agent leaves nothing; kill -9 of the agent then
# `xwg down` (without the file) leaves nothing; kill -9 then `xwg up` again, in tun (the tunnel went
# with the agent) and in auto (adopted), keeps the rules as they were; FwMark in the file is the table;
# with table 51820 in use, 51821 is taken; with two endpoints the smaller route MTU (1380, a route's
# mtu) makes the MTU; wg-quick itself on the same file changes the host in the same way.

. "$(dirname "$0")/lib.sh"

FAR4=198.51.100.7 FAR6=2001:db8:99::7

lib_init
need_cmd nft ping sysctl jq iperf3
need_impl xwg
topo_create || { nok "topology"; lib_done; }
ip -n "$NS_A" link set "$VETH_A" mtu 1400 && ip -n "$NS_B" link set "$VETH_B" mtu 1400 || nok "underlay MTU 1400"
nsx "$NS_A" sysctl -qw net.ipv4.conf.all.src_valid_mark=0

# The far side: addresses that exist only behind the server (on its loopback: no dummy module needed).
ip -n "$NS_B" addr add "$FAR4/32" dev lo && ip -n "$NS_B" addr add "$FAR6/128" dev lo nodad ||
	nok "the far addresses on the server's loopback"
# The veth's link-local address must be in place before the first dump, or it shows up as a difference.
wait_for 10 sh -c "ip -n '$NS_A' -6 route show table local | grep -q '^local fe80::'" || nok "link-local address on $VETH_A"

IFA=$(ifname_of 1 a) IFB=$(ifname_of 1 b)
keys_new KA; keys_new KB
conf_iface "$IFB" "$KB_PRIV" "$(port_of 1 b)" "10.78.1.2/24, fd78:1::2/64"
conf_peer "$IFB" "$KA_PUB" "10.78.1.1/32, fd78:1::1/128"
inst_up xwg "$NS_B" "$IFB" || { nok "server up"; lib_done; }
iperf_server "$NS_B" 5201

# client_conf [EXTRA-INTERFACE-LINE...]: the full-tunnel client file.
client_conf() {
	local l
	{
		echo "[Interface]"
		echo "PrivateKey = $KA_PRIV"
		echo "Address = 10.78.1.1/24, fd78:1::1/64"
		for l in "$@"; do echo "$l"; done
		echo
		echo "[Peer]"
		echo "PublicKey = $KB_PUB"
		echo "AllowedIPs = 0.0.0.0/0, ::/0"
		echo "Endpoint = $UB4:$(port_of 1 b)"
		echo "PersistentKeepalive = 25"
	} >"$(conf_path "$IFA")"
}

# client_up MODE: xwg up as a user runs it (the agent goes to the background); cleanup knows it.
client_up() {
	T_IFS+=("$IFA")
	INST_NS[$IFA]=$NS_A INST_IMPL[$IFA]=xwg INST_DAEMON[$IFA]=1
	nsx "$NS_A" "$XWG" up "$(conf_path "$IFA")" --mode "$1" >"$T_TMP/$IFA.log" 2>&1 || { cat "$T_TMP/$IFA.log"; return 1; }
	wait_for 10 sock_ready "$IFA"
}

client_down() {
	nsx "$NS_A" "$XWG" down "$IFA" >"$T_TMP/down.log" 2>&1 || { cat "$T_TMP/down.log"; return 1; }
	unset "INST_NS[$IFA]"
	wait_for 5 sh -c "! ip -n '$NS_A' link show '$IFA'"
}

# same_as_before TAG FILE: the namespace's routes, rules, nftables and sysctl equal the dump in FILE.
same_as_before() {
	host_dump "$NS_A" >"$T_TMP/after"
	if diff -u "$2" "$T_TMP/after" >"$T_TMP/diff"; then
		ok "$1: routes, rules, nftables and src_valid_mark as before up"
	else
		nok "$1: routes, rules, nftables and src_valid_mark as before up"
		show_file "$T_TMP/diff" 30
	fi
	[ ! -e "/var/run/wireguard/$IFA.xwg-state" ] && ok "$1: no state file left" || nok "$1: no state file left"
}

# rules_now / rules_before: the IPv4 and IPv6 rules now, and in the dump taken before up.
rules_now() { ip -n "$NS_A" -4 rule; ip -n "$NS_A" -6 rule; }
rules_before() {
	awk '/^== /{ on = ($0 == "== ip -4 rule") } on && !/^== /' "$T_TMP/before"
	awk '/^== /{ on = ($0 == "== ip -6 rule") } on && !/^== /' "$T_TMP/before"
}

link_mtu() { ip -n "$NS_A" link show "$IFA" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
veth_tx() { nsx "$NS_A" cat "/sys/class/net/$VETH_A/statistics/tx_packets"; }
veth_tx_bytes() { nsx "$NS_A" cat "/sys/class/net/$VETH_A/statistics/tx_bytes"; }

host_dump "$NS_A" >"$T_TMP/before"
check_fails "before up: no route to $FAR4" nsx "$NS_A" ip -4 route get "$FAR4"
check_fails "before up: no route to $FAR6" nsx "$NS_A" ip -6 route get "$FAR6"

# bulk_through_agent TAG: iperf3 each way to the far address; the client's batched path carried it.
bulk_through_agent() {
	local tag=$1 f=$T_TMP/bulk.json tx0 tx1
	tx0=$(veth_tx_bytes)
	iperf_check "$tag: iperf3 to $FAR4 through the tunnel" "$NS_A" "$FAR4" 5201 3
	iperf_check "$tag: iperf3 from $FAR4 through the tunnel" "$NS_A" "$FAR4" 5201 3 -R
	tx1=$(veth_tx_bytes)
	nsx "$NS_A" "$XWG" show "$IFA" --json >"$f" 2>&1
	check "$tag: GSO sends went to the agent's batched path (TX_BULK)" jq -e '(.reasons.TX_BULK // 0) > 0' "$f"
	check "$tag: bulk data messages went up to the agent (RX_BULK)" jq -e '(.reasons.RX_BULK // 0) > 0' "$f"
	check "$tag: the agent sent data packets" jq -e '.peers[0].agent_tx_packets > 1000' "$f"
	check_ge "$tag: and they left on the underlay veth (bytes, GSO or not)" "$((tx1 - tx0))" \
		"$(jq -r '.peers[0].agent_tx_bytes' "$f" 2>/dev/null)"
}

full_tunnel() {	# full_tunnel MODE
	local mode=$1 tag="full tunnel, $1" out tx0 tx1 hs
	client_conf
	if ! client_up "$mode" >"$T_TMP/up.out" 2>&1; then
		nok "$tag: xwg up"; show_file "$T_TMP/up.out"; return
	fi
	ok "$tag: xwg up"
	check_eq "$tag: MTU (none in the file) = underlay 1400 - 80" 1320 "$(link_mtu)"
	check_re "$tag: fwmark 0xca6c" "fwmark: 0xca6c" "$(nsx "$NS_A" "$XWG" show "$IFA")"
	out=$(ip -n "$NS_A" -4 rule)
	check_re "$tag: IPv4 rule not fwmark 51820 lookup 51820" "^32765:.*not from all fwmark 0xca6c lookup 51820" "$out"
	check_re "$tag: IPv4 rule lookup main suppress_prefixlength 0" "^32764:.*from all lookup main suppress_prefixlength 0" "$out"
	out=$(ip -n "$NS_A" -6 rule)
	check_re "$tag: IPv6 rule not fwmark 51820 lookup 51820" "^32765:.*not from all fwmark 0xca6c lookup 51820" "$out"
	check_re "$tag: IPv6 rule lookup main suppress_prefixlength 0" "^32764:.*from all lookup main suppress_prefixlength 0" "$out"
	check_re "$tag: IPv4 default route in table 51820" "^default dev $IFA" "$(ip -n "$NS_A" -4 route show table 51820)"
	check_re "$tag: IPv6 default route in table 51820" "^default dev $IFA" "$(ip -n "$NS_A" -6 route show table 51820)"
	check_eq "$tag: no default route in main" "" "$(ip -n "$NS_A" -4 route show default; ip -n "$NS_A" -6 route show default)"
	out=$(nsx "$NS_A" nft list ruleset)
	check_re "$tag: nftables table ip wg-quick-$IFA" "table ip wg-quick-$IFA " "$out"
	check_re "$tag: nftables table ip6 wg-quick-$IFA" "table ip6 wg-quick-$IFA " "$out"
	check_re "$tag: nftables drop rule for 10.78.1.1" "iifname != \"$IFA\" ip daddr 10.78.1.1 fib saddr type != local drop" "$out"
	check_re "$tag: nftables connmark save" "meta l4proto udp meta mark 0x0000ca6c ct mark set meta mark" "$out"
	check_eq "$tag: src_valid_mark 1" 1 "$(nsx "$NS_A" sysctl -n net.ipv4.conf.all.src_valid_mark)"
	check "$tag: ping $FAR4 through the tunnel" ping_ok "$NS_A" "$FAR4"
	check "$tag: ping $FAR6 through the tunnel" ping_ok "$NS_A" "$FAR6"
	check_re "$tag: $FAR4 is routed into the tunnel (table 51820)" "dev $IFA table 51820" \
		"$(nsx "$NS_A" ip -4 route get "$FAR4")"
	check_re "$tag: the endpoint with the mark goes to the underlay" "dev $VETH_A" \
		"$(nsx "$NS_A" ip -4 route get "$UB4" mark 51820)"
	check_re "$tag: $FAR6 is routed into the tunnel (table 51820)" "dev $IFA table 51820" \
		"$(nsx "$NS_A" ip -6 route get "$FAR6")"
	hs=$(wg show "$IFA" latest-handshakes | cut -f2)
	check_ge "$tag: a handshake with the endpoint" "${hs:-0}" 1
	check_re "$tag: the server sees the client on its underlay address" "$UA4:[0-9]+" "$(wg show "$IFB" endpoints)"
	tx0=$(veth_tx)
	nsx "$NS_A" ping -c 200 -i 0.005 -q -w 20 "$FAR4" >/dev/null 2>&1
	nsx "$NS_A" ping -c 200 -i 0.005 -q -w 20 "$FAR6" >/dev/null 2>&1
	tx1=$(veth_tx)
	check_ge "$tag: the 400 encrypted pings left on the underlay veth" "$((tx1 - tx0))" 400
	if [ "$mode" != tun ]; then
		nsx "$NS_A" "$XWG" show "$IFA" --json >"$T_TMP/a.json" 2>&1
		MIN_RATIO=0.9 check_bpf_share "$tag" client "$T_TMP/a.json"
	fi
	# auto sends bulk through the agent's batched path (its marked UDP sockets) and small packets in BPF.
	[ "$mode" = auto ] && bulk_through_agent "$tag"
	check "$tag: xwg down" client_down
	same_as_before "$tag" "$T_TMP/before"
}

modes=(tun auto)
for m in xdp tc; do
	if mode_supported "$m"; then modes+=("$m"); else skip "full tunnel, $m" "$(mode_missing_why "$m")"; fi
done
for m in "${modes[@]}"; do full_tunnel "$m"; done

# Table = off: the tunnel works as a device, but nothing is routed into it.
client_conf "Table = off"
if check "Table = off: xwg up" client_up auto; then
	check_eq "Table = off: no rule added" "$(rules_before)" "$(rules_now)"
	check_eq "Table = off: no route through $IFA but the addresses' own" "" \
		"$(ip -n "$NS_A" -4 route show table all dev "$IFA" | grep -v 'proto kernel';
		   ip -n "$NS_A" -6 route show table all dev "$IFA" | grep -v 'proto kernel' | grep -v '^multicast')"
	check_eq "Table = off: no fwmark chosen" "" "$(nsx "$NS_A" "$XWG" show "$IFA" | grep fwmark)"
	check_fails "Table = off: $FAR4 not reachable" nsx "$NS_A" ping -c 1 -W 1 "$FAR4"
	check "Table = off: xwg down" client_down
	same_as_before "Table = off" "$T_TMP/before"
fi

# Table = 1234: every allowed IP's route in table 1234, and no policy rule.
client_conf "Table = 1234"
if check "Table = 1234: xwg up" client_up auto; then
	check_re "Table = 1234: IPv4 default in table 1234" "^default dev $IFA" "$(ip -n "$NS_A" -4 route show table 1234)"
	check_re "Table = 1234: IPv6 default in table 1234" "^default dev $IFA" "$(ip -n "$NS_A" -6 route show table 1234)"
	check_eq "Table = 1234: no rule added" "$(rules_before)" "$(rules_now)"
	check_eq "Table = 1234: no nftables table" "" "$(nsx "$NS_A" nft list ruleset)"
	nsx "$NS_A" ip rule add to "$FAR4" table 1234 pref 100
	check "Table = 1234: reachable with a rule of one's own" ping_ok "$NS_A" "$FAR4" 1
	nsx "$NS_A" ip rule del to "$FAR4" table 1234 pref 100
	check "Table = 1234: xwg down" client_down
	same_as_before "Table = 1234" "$T_TMP/before"
fi

# IPv4 only (0.0.0.0/0): the policy routing, the firewall and the sysctl for IPv4, nothing for IPv6.
client_conf
sed -i 's|^AllowedIPs = .*|AllowedIPs = 0.0.0.0/0, fd78:1::2/128|' "$(conf_path "$IFA")"
if check "IPv4 only: xwg up" client_up auto; then
	check_re "IPv4 only: IPv4 rule" "not from all fwmark 0xca6c lookup 51820" "$(ip -n "$NS_A" -4 rule)"
	check_eq "IPv4 only: no IPv6 rule added" "$(awk '/^== /{ on = ($0 == "== ip -6 rule") } on && !/^== /' "$T_TMP/before")" \
		"$(ip -n "$NS_A" -6 rule)"
	check_eq "IPv4 only: nftables table for ip only" "table ip wg-quick-$IFA" "$(nsx "$NS_A" nft list tables)"
	check "IPv4 only: ping $FAR4" ping_ok "$NS_A" "$FAR4" 1
	check_fails "IPv4 only: $FAR6 not routed" nsx "$NS_A" ip -6 route get "$FAR6"
	check "IPv4 only: xwg down" client_down
	same_as_before "IPv4 only" "$T_TMP/before"
fi

# A failing PostUp: up fails and undoes everything it did.
client_conf "PostUp = false"
check_fails "failing PostUp: xwg up fails" client_up auto
wait_for 5 sh -c "! ip -n '$NS_A' link show '$IFA'"
check_fails "failing PostUp: no interface left" ip -n "$NS_A" link show "$IFA"
unset "INST_NS[$IFA]"
same_as_before "failing PostUp" "$T_TMP/before"

# SIGTERM to the agent (as systemd stops xwg up --foreground): the agent undoes it all itself.
client_conf
T_IFS+=("$IFA")
ip netns exec "$NS_A" "$XWG" up "$(conf_path "$IFA")" --foreground >"$T_TMP/fg.log" 2>&1 &
fg_pid=$!
T_PIDS+=("$fg_pid")
if wait_for 15 sock_ready "$IFA" && wait_for 5 sh -c "ip -n '$NS_A' rule | grep -q 'lookup 51820'"; then
	ok "SIGTERM: xwg up --foreground"
	check "SIGTERM: ping $FAR4" ping_ok "$NS_A" "$FAR4" 1
	kill -TERM "$fg_pid"
	wait "$fg_pid"
	check_eq "SIGTERM: the agent exits with status 0" 0 "$?"
	check_fails "SIGTERM: no interface left" ip -n "$NS_A" link show "$IFA"
	same_as_before "SIGTERM to the agent" "$T_TMP/before"
else
	nok "SIGTERM: xwg up --foreground"; show_file "$T_TMP/fg.log"
fi

# kill -9: xwg down undoes it all from the state file alone.
kill9_agent() {
	local pid
	pid=$(agent_pids "$NS_A")
	[ -n "$pid" ] && kill -KILL $pid && wait_for 5 sh -c "! kill -0 $pid"
}
client_conf
if check "kill -9: xwg up" client_up auto; then
	check "kill -9: the agent is killed" kill9_agent
	# Without the file, too: down works from the state record alone.
	mv "$(conf_path "$IFA")" "$T_TMP/moved.conf"
	check "kill -9: xwg down (the file moved away)" client_down
	mv "$T_TMP/moved.conf" "$(conf_path "$IFA")"
	same_as_before "kill -9 then xwg down" "$T_TMP/before"
fi

# kill -9 in tun: the tunnel goes with the agent, its rules and sysctl do not; xwg up again builds on the record.
if check "kill -9 in tun: xwg up" client_up tun; then
	rules0=$(rules_now)
	check "kill -9 in tun: the agent is killed" kill9_agent
	wait_for 5 sh -c "! ip -n '$NS_A' link show '$IFA'"
	check "kill -9 in tun: xwg up again" client_up tun
	check_eq "kill -9 in tun: the same rules, none doubled" "$rules0" "$(rules_now)"
	check "kill -9 in tun: ping $FAR4" ping_ok "$NS_A" "$FAR4" 1
	check "kill -9 in tun: xwg down" client_down
	same_as_before "kill -9 in tun, up, down" "$T_TMP/before"
fi

# FwMark in the file: its value is the table.
client_conf "FwMark = 0x1234"
if check "FwMark = 0x1234: xwg up" client_up auto; then
	check_re "FwMark = 0x1234: rule not fwmark 0x1234 lookup 4660" "not from all fwmark 0x1234 lookup 4660" \
		"$(ip -n "$NS_A" -4 rule)"
	check_re "FwMark = 0x1234: default route in table 4660" "^default dev $IFA" \
		"$(ip -n "$NS_A" -6 route show table 4660)"
	check "FwMark = 0x1234: ping $FAR6" ping_ok "$NS_A" "$FAR6" 1
	check "FwMark = 0x1234: xwg down" client_down
	same_as_before "FwMark = 0x1234" "$T_TMP/before"
fi

# Table 51820 in use (a route of someone else's): wg-quick's search takes the next one, and leaves that route
# alone. And a second peer whose endpoint's route has MTU 1380: the smallest endpoint MTU counts (wg-quick: largest).
client_conf
keys_new KC
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.99.0.0/24\nEndpoint = [%s]:%s\n' "$KC_PUB" "$UB6" 40000 \
	>>"$(conf_path "$IFA")"
ip -n "$NS_A" route add 203.0.113.0/24 dev lo table 51820
ip -n "$NS_A" -6 route add "$UB6/128" dev "$VETH_A" mtu 1380
host_dump "$NS_A" >"$T_TMP/before.taken"
if check "table 51820 in use: xwg up" client_up auto; then
	check_eq "two endpoints, routes with MTU 1400 and 1380: MTU 1380 - 80" 1300 "$(link_mtu)"
	check_re "table 51820 in use: fwmark 0xca6d" "fwmark: 0xca6d" "$(nsx "$NS_A" "$XWG" show "$IFA")"
	check_re "table 51820 in use: rule not fwmark 51821 lookup 51821" "not from all fwmark 0xca6d lookup 51821" \
		"$(ip -n "$NS_A" -4 rule)"
	check "table 51820 in use: ping $FAR4" ping_ok "$NS_A" "$FAR4" 1
	check "table 51820 in use: xwg down" client_down
	same_as_before "table 51820 in use" "$T_TMP/before.taken"
fi
ip -n "$NS_A" route del 203.0.113.0/24 dev lo table 51820
ip -n "$NS_A" -6 route del "$UB6/128" dev "$VETH_A"

# kill -9, then xwg up again: the tunnel is adopted, the rules are kept (never removed and re-added) and not doubled.
if check "adoption: xwg up" client_up auto; then
	check "adoption: the agent is killed" kill9_agent
	rules0=$(rules_now)
	if ip -n "$NS_A" link show "$IFA" >/dev/null 2>&1; then
		check "adoption: xwg up again" client_up auto
		check_eq "adoption: rules unchanged" "$rules0" "$(rules_now)"
		check "adoption: ping $FAR4" ping_ok "$NS_A" "$FAR4"
		check "adoption: ping $FAR6" ping_ok "$NS_A" "$FAR6"
	else
		say "adoption: auto ran in tun here (the device went with the agent): nothing to adopt"
		check "adoption: xwg up after kill -9 (tun)" client_up auto
	fi
	check "adoption: xwg down" client_down
	same_as_before "adoption" "$T_TMP/before"
fi

# Parity: wg-quick itself (over wireguard-go) on the same file makes the same routes, rules, nftables and
# sysctl, but for its routes' "proto boot" (xwg's say "proto static") and the random link-local address.
wgquick_parity() {
	local f norm='s/ proto static//; s/fe80::[0-9a-f:]*/fe80::LL/g'
	f=$(conf_path "$IFA")
	client_conf
	if ! nsx "$NS_A" env WG_QUICK_USERSPACE_IMPLEMENTATION="$WGGO" WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wg-quick up "$f" >"$T_TMP/wgq.log" 2>&1; then
		nok "parity: wg-quick up"; show_file "$T_TMP/wgq.log"; return
	fi
	# Sorted: the order of the random link-local addresses' routes is theirs.
	host_dump "$NS_A" | sed "$norm" | sort >"$T_TMP/dump.wgquick"
	nsx "$NS_A" wg-quick down "$f" >>"$T_TMP/wgq.log" 2>&1
	wait_for 5 sh -c "! ip -n '$NS_A' link show '$IFA'"
	# wg-quick down leaves src_valid_mark at 1 (xwg restores it).
	nsx "$NS_A" sysctl -qw net.ipv4.conf.all.src_valid_mark=0
	if check "parity: xwg up" client_up auto; then
		host_dump "$NS_A" | sed "$norm" | sort >"$T_TMP/dump.xwg"
		if diff -u "$T_TMP/dump.wgquick" "$T_TMP/dump.xwg" >"$T_TMP/diff"; then
			ok "parity: xwg up changes the host as wg-quick up does"
		else
			nok "parity: xwg up changes the host as wg-quick up does"; show_file "$T_TMP/diff" 40
		fi
		check "parity: xwg down" client_down
	fi
	same_as_before "parity" "$T_TMP/before"
}
if command -v wg-quick >/dev/null && command -v "$WGGO" >/dev/null; then
	wgquick_parity
else
	skip "parity with wg-quick" "needs wg-quick and $WGGO"
fi

lib_done

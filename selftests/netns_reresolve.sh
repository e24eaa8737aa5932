#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Endpoint names: a peer configured as a host name is looked up again when its handshakes fail, unless it roamed.
# xwg-timeout: 300
#
# Runs in a private mount namespace whose /etc/hosts (and an empty /etc/resolv.conf) are the test's own
# files, bind-mounted: the machine's are never touched.  The client a1 has "Endpoint = peer.xwg-test:PORT",
# the server b1 has no endpoint; XWG_RERESOLVE_AFTER=5 for the client.
#   1. The server restarts on another address (so it cannot reach the client first) and the hosts file
#      follows: the client resolves the name again, the tunnel comes back, `wg show endpoints` names
#      the new address.
#   2. The server restarts on the old address but the name no longer resolves: logged, the endpoint
#      kept, the agent runs on; once the name resolves again the tunnel comes back.
#   3. The server moves and sends first (keepalive): the client learns the address from the packet,
#      and during an outage long enough to re-resolve it does not go back to the (stale) name.

if [ "$(id -u)" = 0 ] && [ -z "${XWG_RERESOLVE_MNTNS:-}" ]; then
	XWG_RERESOLVE_MNTNS=1 exec unshare --mount --propagation private "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

NAME=peer.xwg-test
NEW_B=192.0.2.12

lib_init
need_cmd unshare mount ping jq
need_impl xwg
topo_create || { nok "topology"; lib_done; }

HOSTS=$T_TMP/hosts
hosts_point() {	# hosts_point ADDR|-: the test's /etc/hosts names ADDR peer.xwg-test ("-": nothing)
	{
		echo "127.0.0.1 localhost"
		[ "$1" != - ] && echo "$1 $NAME"
	} >"$HOSTS"	# rewritten in place: the bind mount shows the same inode
}
hosts_point "$UB4"
: >"$T_TMP/resolv.conf"
chmod 644 "$HOSTS" "$T_TMP/resolv.conf"
if ! mount --bind "$HOSTS" /etc/hosts || ! mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf; then
	nok "bind-mount the test's /etc/hosts in the test's mount namespace"; lib_done
fi
check "the name resolves through the test's hosts file" sh -c "getent ahostsv4 $NAME | grep -q '^$UB4 '"

# The new address is a secondary until the old (primary) one goes: promoted, not flushed with it.
nsx "$NS_B" sysctl -qw "net.ipv4.conf.$VETH_B.promote_secondaries=1"
server_move() {	# server_move FROM TO: the server's underlay address changes
	ip -n "$NS_B" addr add "$2/$U4LEN" dev "$VETH_B" &&
		ip -n "$NS_B" addr del "$1/$U4LEN" dev "$VETH_B" || return 1
	# XDP takes whatever reaches the veth, whichever address it was sent to: the client's cached
	# neighbour entry would keep the old address working. Gone, the old address is unreachable.
	ip -n "$NS_A" neigh flush to "$1"
}
pings_start() {	# traffic from the client for the handshake to run on; PINGER is its pid
	nsx "$NS_A" ping -i 0.5 -q "$OB" >/dev/null 2>&1 &
	PINGER=$!
	T_PIDS+=("$PINGER")
}
log_count() { grep -c "$1" "$LOG" 2>/dev/null; }
ifa=$(ifname_of 1 a) ifb=$(ifname_of 1 b)
PA=$(port_of 1 a) PB=$(port_of 1 b)
OB=$(ovl4 1 b)
LOG=$T_TMP/$ifa.log
keys_new KA; keys_new KB
conf_iface "$ifb" "$KB_PRIV" "$PB" "$OB/24"
conf_peer "$ifb" "$KA_PUB" "$(ovl4 1 a)/32"
conf_iface "$ifa" "$KA_PRIV" "$PA" "$(ovl4 1 a)/24"
conf_peer "$ifa" "$KB_PUB" "$OB/32" "$NAME:$PB"
if ! inst_up xwg "$NS_B" "$ifb" || ! XWG_RERESOLVE_AFTER=5 inst_up xwg "$NS_A" "$ifa"; then
	nok "instances come up"; lib_done
fi

check "ping through the tunnel" ping_ok "$NS_A" "$OB" 2
check_eq "the endpoint is the name's address" "$UB4:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
check_re "xwg show names the host" "endpoint: $UB4:$PB \\($NAME\\)" "$("$XWG" show "$ifa")"
check_eq "xwg show --json: endpoint_host" "$NAME" \
	"$("$XWG" show "$ifa" --json | jq -r '[.. | objects | select(has("endpoint_host"))][0].endpoint_host')"

# A running server would start a handshake from its new address itself (it sent data and heard
# nothing back): that is roaming (3.). Restarted, it knows no endpoint: only the name can help.
server_restart_at() {	# server_restart_at FROM TO
	inst_stop "$ifb"
	server_move "$1" "$2" && inst_up xwg "$NS_B" "$ifb"
}

say "1. the server restarts at $NEW_B, the name follows"
check "the server restarts at $NEW_B" server_restart_at "$UB4" "$NEW_B"
hosts_point "$NEW_B"
# About 15 s of unanswered data start the handshake; the first retry finds the handshake old.
check "ping works again after the name is resolved again" wait_for 60 nsx "$NS_A" ping -c 1 -W 1 -q "$OB"
check_eq "wg show endpoints: the new address" "$NEW_B:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
check "the agent says so" grep -q "resolved endpoint $NAME again: $NEW_B:$PB, was $UB4:$PB" "$LOG"

say "2. the server restarts at $UB4, the name does not resolve"
hosts_point -
check "the server restarts at $UB4" server_restart_at "$NEW_B" "$UB4"
pings_start
check "the failed lookup is logged" wait_for 60 grep -q "cannot resolve endpoint $NAME again: .*; keeping $NEW_B:$PB" "$LOG"
check_eq "the endpoint is kept" "$NEW_B:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
check "the agent runs on" kill -0 "${INST_PID[$ifa]}"
check "and answers" wg show "$ifa" endpoints
hosts_point "$UB4"
check "once the name resolves again, the tunnel is back" wait_for 40 nsx "$NS_A" ping -c 1 -W 1 -q "$OB"
check_eq "wg show endpoints: the name's address" "$UB4:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
kill_pid "$PINGER"

say "3. the server moves to $NEW_B and sends first; the name stays at $UB4"
wg set "$ifb" peer "$KA_PUB" persistent-keepalive 1
check "the server moves again" server_move "$UB4" "$NEW_B"
check "the client learns the address from the server's packets" \
	wait_for 20 sh -c "wg show '$ifa' endpoints | grep -q '$NEW_B:$PB'"
check "xwg show no longer names the host" sh -c "! '$XWG' show '$ifa' | grep -q '($NAME)'"
check_eq "xwg show --json: endpoint_host null" null \
	"$("$XWG" show "$ifa" --json | jq -r '[.. | objects | select(has("endpoint_host"))][0].endpoint_host')"
before=$(log_count "resolved endpoint $NAME again")
# An outage: the client's data goes unanswered (15 s), then initiations fail for longer than 5 s.
ip -n "$NS_B" link set "$VETH_B" down
pings_start
sleep 30
check_eq "during the outage the learned endpoint stays" "$NEW_B:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
check_eq "and the name is not looked up again" "$before" "$(log_count "resolved endpoint $NAME again")"
ip -n "$NS_B" link set "$VETH_B" up
check "the tunnel is back on the learned address" wait_for 40 nsx "$NS_A" ping -c 1 -W 1 -q "$OB"
check_eq "wg show endpoints: still the learned address" "$NEW_B:$PB" "$(wg_field "$ifa" "$KB_PUB" 3)"
kill_pid "$PINGER"
lib_done

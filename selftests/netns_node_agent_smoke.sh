#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xwg node-agent on two nodes (two network namespaces) against the fake API server: the agents publish
# their key and endpoint, mesh from the annotations alone, drop a deleted node, re-mesh a re-added one,
# skip a node with bad annotations without touching healthy peers, and survive SIGTERM and a restart
# with the same key while the data path keeps forwarding.
# xwg-timeout: 180

. "$(dirname "$0")/lib.sh"
. "$LIB_DIR/kube_lib.sh"

lib_init
need_cmd python3 openssl curl jq ping
# The agents leave their data path on SIGTERM by design: stop them and take it down with xwg down before the
# namespaces go, or the namespace's XDP dispatcher pins outlive it and a later namespace reusing its inode
# number would find them.
agents_down() {
	local pid n
	for pid in "${PID_a:-}" "${PID_b:-}"; do [ -n "$pid" ] && kill_pid "$pid"; done
	for n in a b; do
		if [ $n = a ]; then nsx "$NS_A" "$XWG" down "$IF_A"; else nsx "$NS_B" "$XWG" down "$IF_B"; fi
	done >/dev/null 2>&1
}
trap 'rc=$?; agents_down; (exit $rc); lib_cleanup' EXIT
topo_create || { nok "topology"; lib_done; }
check "the fake API server starts in node a's namespace" fake_start "$NS_A" "$UA4" || lib_done
KC=$T_TMP/kubeconfig
kubeconfig_write "$KC" token
IF_A=${P}na IF_B=${P}nb
T_IFS+=("$IF_A" "$IF_B")
PORT_A=$(port_of 1 a) PORT_B=$(port_of 1 b)
check "node a created (dual-stack pod CIDRs)" fake_node_put node-a "$UA4" 10.244.1.0/24 fd44:1::/64
check "node b created (dual-stack pod CIDRs)" fake_node_put node-b "$UB4" 10.244.2.0/24 fd44:2::/64

agent_start() {	# agent_start a|b: the agent of that node in its namespace, log in $T_TMP/agent-X.log
	local n=$1 ns ifn port
	if [ "$n" = a ]; then ns=$NS_A ifn=$IF_A port=$PORT_A; else ns=$NS_B ifn=$IF_B port=$PORT_B; fi
	ip netns exec "$ns" "$XWG" node-agent --kubeconfig "$KC" --node-name "node-$n" --interface "$ifn" \
		--listen-port "$port" --state-dir "$T_TMP/state-$n" ${XWG_MODE:+--mode "$XWG_MODE"} \
		--metrics-listen 127.0.0.1:9586 \
		>>"$T_TMP/agent-$n.log" 2>&1 &
	eval "PID_$n=$!"
	T_PIDS+=("$!")
}
peer_of() { wg show "$1" allowed-ips 2>/dev/null | awk -v c="$2" '$2 == c { print $1 }'; }
has_peer() { [ -n "$(peer_of "$1" "$2")" ]; }
no_peer() { [ -z "$(peer_of "$1" "$2")" ]; }
has_route() { ip -n "$1" route show "$2" dev "$3" | grep -q .; }
no_route() { ! has_route "$@"; }

agent_start a
agent_start b
for i in $(seq 150); do
	KEY_A=$(fake_annotation node-a xwg.io/public-key) KEY_B=$(fake_annotation node-b xwg.io/public-key)
	[ -n "$KEY_A" ] && [ -n "$KEY_B" ] && break
	sleep 0.1
done
check_eq "node a's published key is its interface's" "$(wg show "$IF_A" public-key 2>/dev/null)" "$KEY_A"
check_eq "node b's published key is its interface's" "$(wg show "$IF_B" public-key 2>/dev/null)" "$KEY_B"
check_eq "node a's endpoint annotation" "$UA4:$PORT_A" "$(fake_annotation node-a xwg.io/endpoint)"
check_eq "the key file is 0600" 600 "$(stat -c %a "$T_TMP/state-a/private.key")"
check "a meshes b from the annotations" wait_for 10 has_peer "$IF_A" 10.244.2.0/24
check "b meshes a from the annotations" wait_for 10 has_peer "$IF_B" 10.244.1.0/24
check_eq "a's peer is b's key" "$KEY_B" "$(peer_of "$IF_A" 10.244.2.0/24)"
check_eq "a's peer endpoint" "$UB4:$PORT_B" "$(wg show "$IF_A" endpoints | awk '{ print $2 }')"
check_eq "a's peer keepalive" 25 "$(wg show "$IF_A" persistent-keepalive | awk '{ print $2 }')"
check "a has the route to b's pod CIDR" wait_for 5 has_route "$NS_A" 10.244.2.0/24 "$IF_A"
check "a's interface has the first address of its pod CIDR" wait_for 5 sh -c "ip -n $NS_A addr show dev $IF_A | grep -q 'inet 10.244.1.1/32'"
say "data path of a: $("$XWG" show "$IF_A" 2>/dev/null | grep -i "mode\|data path" | head -n 2 | tr -s " " | tr "\n" " ")"
check_eq "a's /healthz" ok "$(nsx "$NS_A" curl -s http://127.0.0.1:9586/healthz)"
check "a's /metrics has b's peer" sh -c "ip netns exec $NS_A curl -s http://127.0.0.1:9586/metrics | grep -q 'wireguard_sent_bytes_total{interface=\"$IF_A\",public_key=\"$KEY_B\"'"
check "pod address a -> b" wait_for 10 nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1
check "IPv6 pod address a -> b" wait_for 10 nsx "$NS_A" ping -6 -c 1 -W 1 -I fd44:1::1 fd44:2::1
check_eq "a's peer b has both pod CIDRs" "10.244.2.0/24 fd44:2::/64" \
	"$(wg show "$IF_A" allowed-ips | awk -v k="$KEY_B" '$1 == k { $1 = ""; print substr($0, 2) }' | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"

# Bad input on another node: logged once, skipped, healthy peers untouched.
fake_node_put node-c 192.0.2.3 10.244.3.0/24 >/dev/null
fake_admin PATCH /admin/nodes/node-c '{"metadata":{"annotations":{"xwg.io/public-key":"not-a-key","xwg.io/endpoint":"192.0.2.3:1"}}}' >/dev/null
fake_admin PATCH /admin/nodes/node-c '{"metadata":{"labels":{"x":"1"}}}' >/dev/null
sleep 2
check "node c's bad key is logged" grep -q "node node-c.*not a base64 WireGuard key" "$T_TMP/agent-a.log"
check_eq "... once per resourceVersion" 2 "$(grep -c "node node-c.*not a base64" "$T_TMP/agent-a.log")"
check "... and a keeps its peer b" has_peer "$IF_A" 10.244.2.0/24
check "... and no peer for c" no_peer "$IF_A" 10.244.3.0/24
fake_admin PATCH /admin/nodes/node-c '{"metadata":{"annotations":{"xwg.io/public-key":"'"$KEY_B"'","xwg.io/endpoint":"garbage"}}}' >/dev/null
sleep 1
check "a garbage endpoint is logged" grep -q "node node-c.*'garbage' is not ADDRESS:PORT" "$T_TMP/agent-a.log"
fake_admin DELETE /admin/nodes/node-c >/dev/null
check "a still pings b" nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1

# A node deleted loses its peer and routes on the other within 10 s; re-added, it meshes again.
fake_admin DELETE /admin/nodes/node-b >/dev/null
check "b deleted: a drops its peer" wait_for 10 no_peer "$IF_A" 10.244.2.0/24
check "b deleted: a drops its route" wait_for 10 no_route "$NS_A" 10.244.2.0/24 "$IF_A"
fake_node_put node-b "$UB4" 10.244.2.0/24 fd44:2::/64 >/dev/null
check "b re-added: b publishes again, a re-meshes" wait_for 15 has_peer "$IF_A" 10.244.2.0/24
check "b re-added: route back" wait_for 5 has_route "$NS_A" 10.244.2.0/24 "$IF_A"
check "b re-added: pod address a -> b" wait_for 10 nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1

# The watch: cut mid-event (resume), history expired (410 as an ERROR event and as HTTP: relist), the API
# server away for a while (tunnels untouched, then the agents catch up).
node_c() {	# node_c KEY: node c with its annotations
	fake_node_put node-c 192.0.2.3 10.244.3.0/24 >/dev/null
	fake_admin PATCH /admin/nodes/node-c "{\"metadata\":{\"annotations\":{\"xwg.io/public-key\":\"$1\",\"xwg.io/endpoint\":\"192.0.2.3:51820\"}}}" >/dev/null
}
KEY_C1=$(wg genkey | wg pubkey) KEY_C2=$(wg genkey | wg pubkey) KEY_C3=$(wg genkey | wg pubkey) KEY_C4=$(wg genkey | wg pubkey)
check "both agents watch" wait_for 10 fake_watches 2
fake_admin POST "/admin/cut?when=next" >/dev/null
node_c "$KEY_C1"
check "watch cut mid-event: a still gets node c" wait_for 10 sh -c "wg show $IF_A allowed-ips | grep -q '^$KEY_C1'"
check "... and b" wait_for 10 sh -c "wg show $IF_B allowed-ips | grep -q '^$KEY_C1'"
check "... a logged the half line" grep -q "skipping a watch line: not one JSON object (truncated)" "$T_TMP/agent-a.log"
check "the agents watch again" wait_for 10 fake_watches 2
fake_admin POST "/admin/expire?gone=event" >/dev/null
node_c "$KEY_C2"
check "history expired (410 on an older resume as an ERROR event): a catches up" wait_for 15 sh -c "wg show $IF_A allowed-ips | grep -q '^$KEY_C2'"
check "... the old key is gone" sh -c "! wg show $IF_A peers | grep -qx '$KEY_C1'"
check "the agents watch again" wait_for 10 fake_watches 2
fake_admin POST "/admin/expire?gone=http" >/dev/null
node_c "$KEY_C3"
check "history expired (410 as HTTP): a catches up" wait_for 15 sh -c "wg show $IF_A allowed-ips | grep -q '^$KEY_C3'"
fake_admin POST "/admin/stop?seconds=8" >/dev/null
sleep 2
check "API server away: a still pings b" nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1
check "API server away: a keeps its peers" sh -c "has_peer() { wg show \$1 allowed-ips | grep -q \"\$2\"; }; has_peer $IF_A 10.244.2.0/24 && has_peer $IF_A 10.244.3.0/24"
fake_admin POST /admin/start >/dev/null
node_c "$KEY_C4"
check "API server back: a catches up" wait_for 40 sh -c "wg show $IF_A allowed-ips | grep -q '^$KEY_C4'"
fake_admin DELETE /admin/nodes/node-c >/dev/null
check "node c deleted: a drops it" wait_for 10 no_peer "$IF_A" 10.244.3.0/24

# SIGTERM leaves the data path; a restarted agent keeps its key and peers.
# Whether BPF received for a at all: only then can it go on without the agent.
RX_BPF=$("$XWG" show "$IF_A" 2>/dev/null | awk '$1 == "OK" { print $2 }')
say "a: ${RX_BPF:-0} packets received in BPF before the stop"
kill -TERM "$PID_a"
check "agent a exits on SIGTERM" wait_for 10 sh -c "! kill -0 $PID_a 2>/dev/null"
if [ "$XWG_MODE" = tun ]; then	# a TUN without BPF cannot outlive its process (xwg.8)
	check "tun mode: a's interface goes with its agent" sh -c "! ip -n $NS_A link show $IF_A 2>/dev/null"
else
	check "a's interface stays after SIGTERM" ip -n "$NS_A" link show "$IF_A"
	check "a's BPF pins stay after SIGTERM" test -d "$BPFFS_DIR/$IF_A"
	check "a's socket is gone after SIGTERM" test ! -e "$RUNDIR/$IF_A.sock"
fi
if [ -d "$BPFFS_DIR/$IF_A" ] && [ "${RX_BPF:-0}" -gt 0 ]; then
	check "pod address a -> b with agent a stopped (BPF data path)" wait_for 5 nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1
fi
agent_start a
check "restarted agent a serves again" wait_for 10 wg show "$IF_A" public-key
check_eq "restarted agent a keeps its key" "$KEY_A" "$(wg show "$IF_A" public-key 2>/dev/null)"
check "restarted agent a has peer b" wait_for 10 has_peer "$IF_A" 10.244.2.0/24
check "restarted agent a: pod address a -> b" wait_for 10 nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1
# A node name the API server does not know: the agent says so (once) and publishes nothing.
nsx "$NS_B" timeout 3 "$XWG" node-agent --kubeconfig "$KC" --node-name node-x --interface "${P}nx" \
	--listen-port 20009 --state-dir "$T_TMP/state-x" >"$T_TMP/agent-x.log" 2>&1
T_IFS+=("${P}nx")
check_eq "an unknown --node-name is reported once" 1 "$(grep -c 'node node-x is not among the Nodes' "$T_TMP/agent-x.log")"
nsx "$NS_B" "$XWG" down "${P}nx" >/dev/null 2>&1
# A kubeconfig with a client certificate (inline data) instead of the token.
kill -TERM "$PID_b"
check "agent b exits on SIGTERM" wait_for 10 sh -c "! kill -0 $PID_b 2>/dev/null"
kubeconfig_write "$KC" certdata
agent_start b
node_c "$KEY_C1"
check "agent b with a client certificate sees node c" wait_for 15 sh -c "wg show $IF_B allowed-ips | grep -q '^$KEY_C1'"
check_eq "agent b with a client certificate keeps its key" "$KEY_B" "$(wg show "$IF_B" public-key 2>/dev/null)"
# b's InternalIP becomes IPv6: b publishes [address]:port, a follows.
fake_admin PATCH /admin/nodes/node-b "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$UB6\"}]}}" >/dev/null
b_endpoint_is() { [ "$(fake_annotation node-b xwg.io/endpoint)" = "$1" ]; }
check "b publishes an IPv6 endpoint in brackets" wait_for 10 b_endpoint_is "[$UB6]:$PORT_B"
check "a uses b's IPv6 endpoint" wait_for 10 sh -c "wg show $IF_A endpoints | grep -qF '[$UB6]:$PORT_B'"
check "pod address a -> b over the IPv6 underlay" wait_for 10 nsx "$NS_A" ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1
check "agent a did not crash" kill -0 "$PID_a"
check "agent b did not crash" kill -0 "$PID_b"
[ "$T_FAIL" = 0 ] || { say "agent a:"; show_file "$T_TMP/agent-a.log" 30; say "agent b:"; show_file "$T_TMP/agent-b.log" 15; }
lib_done

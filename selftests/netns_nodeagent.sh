#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xwg node-agent on three nodes against the fake Kubernetes API server (fake_kube.py), over HTTPS.
# xwg-timeout: 420
#
# Three network namespaces are three nodes on one underlay (a bridge in the API server's namespace,
# where fake_kube.py listens on 10.88.0.254). Node i has InternalIP 10.88.0.i, podCIDRs 10.244.i.0/24
# and fd44:i::/64, and a "pod" address 10.244.i.10 / fd44:i::10 on its loopback. Nodes 1 and 2 use a
# kubeconfig with a bearer token, node 3 one with a client certificate; each has its own state dir.
# Checked: the annotations appear; the agents mesh from them alone and every pod address reaches
# every other (v4, v6); a node deleted from the API loses its peer and routes on the others within
# 10 s, and re-added with a new key re-meshes; a watch stream cut mid-event resumes (a change right
# after is applied); 410 Gone makes the agents list again; the API server stopped for 30 s leaves
# traffic flowing, and a change after it returns is applied; an agent stopped by SIGTERM and by
# kill -9 and restarted keeps its key file, annotation and peers while the others keep pinging its
# pod; bad input on other nodes (missing endpoint, garbage endpoint, malformed key, also on a node
# that was healthy) is skipped without removing healthy peers or stopping an agent; the in-cluster
# configuration (KUBERNETES_SERVICE_HOST/_PORT, service-account token and CA) works.

. "$(dirname "$0")/lib.sh"
. "$LIB_DIR/kube_lib.sh"

API_IP=10.88.0.254 API_IP6=fd88::fe
declare -A APID=()
declare -a KEY=()

lib_init
need_cmd python3 openssl curl jq ping unshare
need_impl xwg

ns() { echo "$P-n$1"; }
ifn() { echo "${P}w$1"; }
u4() { echo "10.88.0.$1"; }
pod4() { echo "10.244.$1.10"; }
pod6() { echo "fd44:$1::10"; }

# topo: the API server's namespace with the bridge, three nodes with a veth into it.
topo() {
	local i
	ns_create "$P-api" || return 1
	ip -n "$P-api" link add br0 type bridge && ip -n "$P-api" link set br0 up &&
		ip -n "$P-api" addr add "$API_IP/24" dev br0 && ip -n "$P-api" addr add "$API_IP6/64" dev br0 nodad || return 1
	for i in 1 2 3; do
		ns_create "$(ns "$i")" || return 1
		ip link add "${P}u$i" netns "$(ns "$i")" type veth peer name "${P}b$i" netns "$P-api" || return 1
		ip -n "$P-api" link set "${P}b$i" master br0 up
		ip -n "$(ns "$i")" addr add "$(u4 "$i")/24" dev "${P}u$i"
		ip -n "$(ns "$i")" addr add "fd88::$i/64" dev "${P}u$i" nodad
		ip -n "$(ns "$i")" link set "${P}u$i" up
		ip -n "$(ns "$i")" addr add "$(pod4 "$i")/32" dev lo
		ip -n "$(ns "$i")" addr add "$(pod6 "$i")/128" dev lo
		T_IFS+=("$(ifn "$i")")
	done
	for i in 1 2 3; do
		wait_for 5 nsx "$(ns "$i")" ping -c 1 -W 1 -q "$API_IP" || { say "underlay of node $i does not work"; return 1; }
	done
}

node_put() {	# node_put I: Node n<I> as the kubelet would register it
	fake_node_put "n$1" "$(u4 "$1")" "10.244.$1.0/24" "fd44:$1::/64" >/dev/null
}

# agent_start I [STATE_DIR]: the agent of node I in its namespace; log in $T_TMP/agent<I>.log.
agent_start() {
	local i=$1 state=${2:-$T_TMP/state$1}
	echo "--- start" >>"$T_TMP/agent$i.log"
	ip netns exec "$(ns "$i")" "$XWG" node-agent --kubeconfig "$T_TMP/kc$i" --node-name "n$i" \
		--interface "$(ifn "$i")" --listen-port 51820 --state-dir "$state" ${XWG_MODE:+--mode "$XWG_MODE"} \
		>>"$T_TMP/agent$i.log" 2>&1 &
	APID[$i]=$!
	T_PIDS+=("$!")
}

# agent_stop I SIGNAL: stops the agent; 0 when it exited within 10 s.
agent_stop() {
	local pid=${APID[$1]}
	kill "-$2" "$pid" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || return 1
	wait "$pid" 2>/dev/null
	AGENT_STATUS=$?
	return 0
}

alive() { kill -0 "${APID[$1]}" 2>/dev/null; }
key_of() { fake_annotation "n$1" xwg.io/public-key; }
peers_of() { wg show "$(ifn "$1")" peers 2>/dev/null | sort | xargs; }
# has_peer I J: node I has node J's published key as a peer, with J's pod CIDRs, J's endpoint.
has_peer() {
	local k
	k=$(key_of "$2")
	[ -n "$k" ] && wg show "$(ifn "$1")" allowed-ips 2>/dev/null | grep -q "^$k	.*10.244.$2.0/24" &&
		wg show "$(ifn "$1")" endpoints | grep -q "^$k	$(u4 "$2"):51820\$"
}
no_peer_cidr() { ! wg show "$(ifn "$1")" allowed-ips 2>/dev/null | grep -q "10.244.$2.0/24"; }
has_route() { ip -n "$(ns "$1")" route show "$2" dev "$(ifn "$1")" | grep -q . ||
	ip -n "$(ns "$1")" -6 route show "$2" dev "$(ifn "$1")" | grep -q .; }
no_routes() { ! has_route "$1" "10.244.$2.0/24" && ! has_route "$1" "fd44:$2::/64"; }
meshed() {	# every node has both others as peers, with routes
	local i j
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] && continue
			has_peer "$i" "$j" && has_route "$i" "10.244.$j.0/24" && has_route "$i" "fd44:$j::/64" || return 1
		done
	done
}
ping_pod() {	# ping_pod I J 4|6 [COUNT]: from node I's pod address to node J's
	if [ "$3" = 4 ]; then
		nsx "$(ns "$1")" ping -c "${4:-2}" -i 0.2 -W 2 -q -I "$(pod4 "$1")" "$(pod4 "$2")"
	else
		nsx "$(ns "$1")" ping -6 -c "${4:-2}" -i 0.2 -W 2 -q -I "$(pod6 "$1")" "$(pod6 "$2")"
	fi
}
all_pings() {	# all_pings TAG: every pod address reaches every other, v4 and v6
	local i j f bad=""
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] && continue
			for f in 4 6; do
				wait_for 10 ping_pod "$i" "$j" "$f" 1 || bad="$bad $i->$j/v$f"
			done
		done
	done
	if [ -z "$bad" ]; then ok "$1: every pod address reaches every other (v4 and v6)"; else nok "$1: pod pings fail:$bad"; fi
}
annotated() { [ -n "$(fake_annotation "n$1" xwg.io/endpoint)" ] && [ -n "$(key_of "$1")" ]; }
new_key_published() { local k; k=$(key_of "$1"); [ -n "$k" ] && [ "$k" != "$2" ]; }
gone_from_others() {	# gone_from_others J: no node has a peer or route for node J's pod CIDRs
	local i
	for i in 1 2 3; do
		[ "$i" = "$1" ] && continue
		no_peer_cidr "$i" "$1" && no_routes "$i" "$1" || return 1
	done
}
routed_on() {	# routed_on CIDR I...: each node I routes CIDR through its interface
	local c=$1 i; shift
	for i; do has_route "$i" "$c" || return 1; done
}
unrouted_on() { local c=$1 i; shift; for i; do ! has_route "$i" "$c" || return 1; done; }
audit_has() { fake_admin GET /admin/audit | jq -e "${2:-.} | [.[] | select($1)] | length > 0" >/dev/null; }
key_is() { [ "$(key_of "$1")" = "$2" ]; }
set_cidrs() {	# set_cidrs I CIDR...: one merge patch of node I's spec.podCIDRs (one MODIFIED event)
	local i=$1; shift
	fake_admin PATCH "/admin/nodes/n$i" "$(printf '%s\n' "$@" | jq -R . | jq -sc '{spec: {podCIDRs: .}}')" >/dev/null
}
api_up() { [ "$(fake_admin GET /admin/stats | jq .up)" = true ]; }
state_sum() { (cd "$1" && find . -type f | sort | xargs -r sha256sum); }
# ping_bg I J SECONDS: pings node J's pod from node I's for SECONDS, 5 per second, in the background.
ping_bg() {
	nsx "$(ns "$1")" ping -c $(($3 * 5)) -i 0.2 -W 1 -I "$(pod4 "$1")" "$(pod4 "$2")" >"$T_TMP/pingbg.$1$2" 2>&1 &
	PING_PID=$!
}
# ping_bg_wait: waits for the background ping; PING_LOSS is the percentage of echo requests lost.
ping_bg_wait() {
	wait "$PING_PID"
	PING_LOSS=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$T_TMP/pingbg."* | head -n 1)
	rm -f "$T_TMP/pingbg."*
}
loss_at_most() { awk -v l="$2" -v m="$3" 'BEGIN { exit !(l != "" && l + 0 <= m + 0) }' && ok "$1 (loss $2%)" ||
	nok "$1 (loss ${2:-?}%, at most $3% allowed)"; }

check "topology: the API server's namespace and three nodes on a bridge" topo || lib_done
# A token of its own for the in-cluster agent's service account, so its requests can be told apart.
FAKE_TOKEN2=sa-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "the fake API server starts on $API_IP (HTTPS, test CA)" fake_start "$P-api" "$API_IP" "$API_IP6" || lib_done
kubeconfig_write "$T_TMP/kc1" token
kubeconfig_write "$T_TMP/kc2" token
kubeconfig_write "$T_TMP/kc3" cert
for i in 1 2 3; do node_put "$i"; done
check_eq "three Nodes registered" "n1 n2 n3" "$(fake_admin GET /admin/nodes | jq -r '[.items[].metadata.name] | join(" ")')"

# ---- start: annotations, mesh from annotations alone
for i in 1 2 3; do agent_start "$i"; done
for i in 1 2 3; do
	check "node $i: annotations appear (xwg.io/public-key, xwg.io/endpoint)" wait_for 20 annotated "$i" ||
		show_file "$T_TMP/agent$i.log" 10
done
for i in 1 2 3; do
	KEY[$i]=$(key_of "$i")
	check_eq "node $i: the published key is its interface's" "$(wg show "$(ifn "$i")" public-key 2>/dev/null)" "${KEY[$i]}"
	check_eq "node $i: endpoint annotation InternalIP:port" "$(u4 "$i"):51820" "$(fake_annotation "n$i" xwg.io/endpoint)"
	check_eq "node $i: the key file is mode 0600" 600 "$(stat -c %a "$T_TMP/state$i/private.key" 2>&1)"
done
check "the agents mesh from the annotations alone (peers, endpoints, routes)" wait_for 20 meshed
check_eq "node 1: keepalive 25 for its peers" "25 25" "$(wg show "$(ifn 1)" persistent-keepalive | awk '{ print $2 }' | xargs)"
all_pings "mesh"
check "node 3 patched its Node authenticated by its client certificate" \
	audit_has '.user == "cert:xwg-node" and .verb == "patch" and .code == 200'
check "nodes 1 and 2 patched theirs authenticated by the bearer token" \
	audit_has '(.user | startswith("token:")) and .verb == "patch" and (.path | test("/n[12]")) and .code == 200'
fake_admin GET /admin/audit >"$T_TMP/audit.json"
say "the agents' requests: $(jq -r '[.[] | "\(.verb) \(.resource)"] | unique | join(", ")' "$T_TMP/audit.json")"
check_eq "the agents only get, list, watch and patch nodes" "" \
	"$(jq -r '.[] | select(.user != null) | select((.resource != "nodes") or
		(.verb | IN("get", "list", "watch", "patch") | not)) | .path' "$T_TMP/audit.json")"

# ---- a node deleted loses its peer and routes on the others within 10 s; re-added with a new key
fake_admin DELETE /admin/nodes/n3 >/dev/null
t0=$(date +%s%N)
check "n3 deleted: nodes 1 and 2 drop its peer and routes within 10 s" wait_for 10 gone_from_others 3
say "removed after $((($(date +%s%N) - t0) / 1000000)) ms"
check_eq "n3 deleted: node 1 has one peer left" 1 "$(wg show "$(ifn 1)" peers | wc -l)"
check "n3 deleted: 1 <-> 2 still fine" ping_pod 1 2 4
check "n3 deleted: its agent keeps running" alive 3
agent_stop 3 TERM
nsx "$(ns 3)" "$XWG" down "$(ifn 3)" >/dev/null 2>&1
check "node 3 reinstalled: interface gone" sh -c "! ip -n '$(ns 3)' link show '$(ifn 3)' 2>/dev/null"
node_put 3
agent_start 3 "$T_TMP/state3b"
check "n3 re-added: a new key is published" wait_for 20 new_key_published 3 "${KEY[3]}"
KEY[3]=$(key_of 3)
check "n3 re-added: the mesh is complete again, with the new key" wait_for 20 meshed
all_pings "re-added"

# ---- the watch stream cut mid-event resumes
fake_admin POST "/admin/cut?when=now" >/dev/null
set_cidrs 2 10.244.2.0/24 fd44:2::/64 10.245.2.0/24
check "cut mid-line, then a change (a third pod CIDR on n2): nodes 1 and 3 apply it" wait_for 15 routed_on 10.245.2.0/24 1 3
fake_admin POST "/admin/cut?when=next" >/dev/null
set_cidrs 2 10.244.2.0/24 fd44:2::/64
check "the change itself cut mid-line (half an event): applied after the resume" wait_for 15 unrouted_on 10.245.2.0/24 1 3
check "after the cuts: all three agents run" eval "alive 1 && alive 2 && alive 3"
check "after the cuts: mesh complete" wait_for 10 meshed

# ---- 410 Gone: the history expires, the streams close, the agents list again
fake_admin POST "/admin/expire?gone=event" >/dev/null
set_cidrs 2 10.244.2.0/24 fd44:2::/64 10.245.2.0/24
check "after 410 Gone: a change is applied (relist)" wait_for 20 routed_on 10.245.2.0/24 1 3

# ---- the API server stopped for 30 s: traffic keeps flowing; a change after it returns is applied
fake_admin POST "/admin/stop?seconds=30" >/dev/null
ping_bg 1 2 28
sleep 1
check_eq "API server stopped" "false" "$(fake_admin GET /admin/stats | jq .up)"
ping_bg_wait
loss_at_most "API server down: node 1 pings node 2's pod for 28 s" "$PING_LOSS" 5
check "API server down: node 3 pings node 1's pod (v4)" ping_pod 3 1 4
check "API server down: node 2 pings node 3's pod (v6)" ping_pod 2 3 6
check "API server back" wait_for 10 api_up
set_cidrs 2 10.244.2.0/24 fd44:2::/64
check "after the outage: a change is applied (n2's third pod CIDR removed) within 30 s" wait_for 30 unrouted_on 10.245.2.0/24 1 3
check "after the outage: all agents run" eval "alive 1 && alive 2 && alive 3"

# ---- an agent stopped (SIGTERM, then kill -9) and restarted keeps its key and peers
for sig in TERM KILL; do
	sum0=$(state_sum "$T_TMP/state1")
	ping_bg 2 1 8
	sleep 1
	agent_stop 1 "$sig"
	check "SIG$sig: agent 1 stops" test -n "${AGENT_STATUS:-}"
	[ "$sig" = TERM ] && check_eq "SIGTERM: exit status 0" 0 "$AGENT_STATUS"
	check "SIG$sig: node 1's interface stays" ip -n "$(ns 1)" link show "$(ifn 1)"
	check "SIG$sig: node 3 reaches node 1's pod with no agent on node 1" ping_pod 3 1 4
	sleep 2
	agent_start 1
	check "SIG$sig: the restarted agent serves" wait_for 10 wg show "$(ifn 1)" public-key
	ping_bg_wait
	loss_at_most "SIG$sig: node 2 pings node 1's pod through the restart" "$PING_LOSS" 10
	check_eq "SIG$sig: the state dir is unchanged (same key file)" "$sum0" "$(state_sum "$T_TMP/state1")"
	check_eq "SIG$sig: the same key on the interface" "${KEY[1]}" "$(wg show "$(ifn 1)" public-key 2>/dev/null)"
	sleep 1
	check_eq "SIG$sig: the annotation is unchanged" "${KEY[1]}" "$(key_of 1)"
	check "SIG$sig: its peers are back / kept" wait_for 10 meshed
	check "SIG$sig: pod pings from node 1 (v4 to node 2, v6 to node 3)" eval "ping_pod 1 2 4 && ping_pod 1 3 6"
done

# ---- bad input on other nodes: skipped, healthy peers stay, no agent stops
fake_node_put n4 10.88.0.4 10.244.4.0/24 >/dev/null
fake_admin PATCH /admin/nodes/n4 "{\"metadata\":{\"annotations\":{\"xwg.io/public-key\":\"$(wg genkey | wg pubkey)\"}}}" >/dev/null
fake_node_put n5 10.88.0.5 10.244.5.0/24 >/dev/null
fake_admin PATCH /admin/nodes/n5 "{\"metadata\":{\"annotations\":{\"xwg.io/public-key\":\"$(wg genkey | wg pubkey)\",\"xwg.io/endpoint\":\"garbage:port:x\"}}}" >/dev/null
fake_node_put n6 10.88.0.6 10.244.6.0/24 >/dev/null
fake_admin PATCH /admin/nodes/n6 '{"metadata":{"annotations":{"xwg.io/public-key":"bm90IGEga2V5","xwg.io/endpoint":"10.88.0.6:51820"}}}' >/dev/null
fake_node_put n7 10.88.0.7 10.244.7.0/24 >/dev/null
fake_admin PATCH /admin/nodes/n7 '{"metadata":{"annotations":{"xwg.io/public-key":"AAAA====!!","xwg.io/endpoint":"[::1"}}}' >/dev/null
# A healthy node's key turned malformed: its peer must stay (no removal on bad input).
fake_admin PATCH /admin/nodes/n2 '{"metadata":{"annotations":{"xwg.io/public-key":"%%%malformed%%%"}}}' >/dev/null
sleep 3
for i in 1 2 3; do
	check "bad input: agent $i still runs" alive "$i"
done
for i in 1 3; do
	check_eq "bad input: node $i keeps exactly its two healthy peers" \
		"$(printf '%s\n' "${KEY[@]}" | grep -vx "${KEY[$i]}" | sort | xargs)" "$(peers_of "$i")"
	check "bad input: no route to the bad nodes' pod CIDRs on node $i" sh -c \
		"! ip -n '$(ns "$i")' route show | grep -qE '10\\.244\\.[4-7]\\.'"
done
check "bad input: node 1 still pings node 2's pod (its key annotation is garbage now)" ping_pod 1 2 4
n=$(grep -c 'n6' "$T_TMP/agent1.log")
check "bad input is logged (the malformed key on n6)" test "$n" -ge 1
fake_admin PATCH /admin/nodes/n6 '{"metadata":{"labels":{"touched":"1"}}}' >/dev/null
sleep 1
check "... at most once per change of the node ($n line(s), then one event: $(grep -c 'n6' "$T_TMP/agent1.log"))" \
	test "$(grep -c 'n6' "$T_TMP/agent1.log")" -le $((n + 1))
fake_admin PATCH /admin/nodes/n2 "{\"metadata\":{\"annotations\":{\"xwg.io/public-key\":\"${KEY[2]}\"}}}" >/dev/null
for i in 4 5 6 7; do fake_admin DELETE "/admin/nodes/n$i" >/dev/null; done
check "bad input removed: mesh complete" wait_for 10 meshed
all_pings "after bad input"

# ---- in-cluster configuration: KUBERNETES_SERVICE_HOST/_PORT and the service-account files, in a
# private mount namespace (a tmpfs over /run with the real /run/wireguard bound back into it).
agent_stop 2 TERM
sa=$T_TMP/sa
mkdir -p "$sa" && cp "$FAKE_DIR/ca.crt" "$sa/ca.crt" && printf '%s' "$FAKE_TOKEN2" >"$sa/token" && echo xwg >"$sa/namespace"
echo "--- start (in-cluster)" >>"$T_TMP/agent2.log"
ip netns exec "$(ns 2)" unshare --mount --propagation private sh -c '
	set -e
	r=$1/newrun
	mkdir -p "$r"
	mount -t tmpfs -o mode=0755 tmpfs "$r"
	mkdir -p "$r/wireguard" "$r/secrets/kubernetes.io/serviceaccount"
	mount --bind /run/wireguard "$r/wireguard"
	for f in token ca.crt namespace; do
		touch "$r/secrets/kubernetes.io/serviceaccount/$f"
		mount --bind -o ro "$1/sa/$f" "$r/secrets/kubernetes.io/serviceaccount/$f"
	done
	mount -n --move "$r" /run
	shift
	exec env NODE_NAME=n2 KUBERNETES_SERVICE_HOST='"$API_IP"' KUBERNETES_SERVICE_PORT='"$FAKE_PORT"' "$@"' \
	sh "$T_TMP" "$XWG" node-agent --interface "$(ifn 2)" --state-dir "$T_TMP/state2" >>"$T_TMP/agent2.log" 2>&1 &
APID[2]=$!
T_PIDS+=("$!")
sleep 1
check "in-cluster: the agent runs (no --kubeconfig, no --node-name)" alive 2
check "in-cluster: the agent authenticates with the service-account token" wait_for 15 \
	audit_has ".user == \"token:${FAKE_TOKEN2:0:8}\" and .verb == \"watch\" and .code == 200"
fake_node_put n2 "$(u4 2)" 10.244.2.0/24 fd44:2::/64 >/dev/null
check "in-cluster: node 2 (re-registered) publishes its annotations again, the same key" wait_for 15 key_is 2 "${KEY[2]}"
set_cidrs 1 10.244.1.0/24 fd44:1::/64 10.245.1.0/24
check "in-cluster: node 2 applies a change from the API (route to node 1's new pod CIDR)" wait_for 20 routed_on 10.245.1.0/24 2
check "in-cluster: mesh complete, pods reach each other" wait_for 20 meshed
all_pings "in-cluster"
for i in 1 2 3; do check "agent $i still runs at the end" alive "$i"; done
if [ "$T_FAIL" -gt 0 ]; then
	for i in 1 2 3; do say "agent $i log:"; show_file "$T_TMP/agent$i.log" 15; done
	show_file "$FAKE_DIR/fake.log" 10
fi
lib_done

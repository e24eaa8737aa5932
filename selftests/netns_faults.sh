#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Faults under a running tunnel (issue 11): link flaps, peer restarts and key changes, a killed agent, bpffs gone, maps full.
# xwg-timeout: 200
#
# Runs itself in a private mount and PID namespace (like netns_fresh.sh), so PID 1's mount namespace,
# where xwg pins, is this script's: its own bpffs on /sys/fs/bpf and tmpfs over /run/wireguard and
# /run/netns.  xwg on both sides (both with endpoints, no PSK), per mode in FAULT_MODES (default
# "auto xdp"); the cases where BPF does not matter only in FAULT_SLOW_MODES (default "auto"):
#   link:    the veth goes down for LINK_DOWN_MS (1500) under a byte-exact TCP stream
#            (tcp_stream_check.py): the stream completes intact, BPF counters move afterwards.
#   full:    b removed and added again after 1024 other peers (the maps' peer slots): b has no slot;
#            then a peer with 2^18 IPv4 prefixes fills the LPM map and a prefix added to b does not
#            fit.  Each time `xwg show` gives the reason, the agent logs it, the to-agent reasons count,
#            pings both ways work through the agent; with the filler removed, b is back in BPF (logged).
#   restart: (slow) b's agent down and up twice with the same key: each new initiation (newer TAI64N)
#            is accepted and traffic resumes; b's first and latest initiations, captured on b's veth
#            and replayed from another port, get no response, no handshake, no endpoint move.
#   newkey:  (slow) b back with a new private key: no ping either way, no initiation accepted, nothing
#            received for the old peer; after `wg set` swaps the peer, pings work.
#   bpffs:   /sys/fs/bpf unmounted under both agents (lazily: they hold it open); a logs it, traffic
#            stays in BPF, a byte-exact stream works; `xwg down` removes a's pins from the unmounted
#            bpffs too, the agent exits 0, and b's stop leaves nothing on its veth.
#   kill:    (slow, a new pair) b stopped, a retrying its initiation is killed (-9); the tunnel
#            outlives it, `xwg up` again adopts it in the same mode, b comes back, pings work.
# After every `xwg down` of a: no tunnel, nothing under /run/wireguard, no pins under
# /sys/fs/bpf/xwg, no XDP or tc/tcx program on the veth, no agent, ip rules as before.

set -u
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: needs root"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ "${XWG_FAULTS_INNER:-0}" != 1 ]; then
	command -v unshare >/dev/null || { echo "# SKIP: needs unshare (util-linux)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
	XWG_FAULTS_INNER=1 exec unshare --mount --pid --fork --mount-proc --kill-child --propagation private "$SELF" "$@"
fi

. "$(dirname "$0")/lib.sh"

FAULT_MODES=${FAULT_MODES:-auto xdp}
FAULT_SLOW_MODES=${FAULT_SLOW_MODES:-auto}
LINK_DOWN_MS=${LINK_DOWN_MS:-1500}
SPORT=5301


# This mount namespace plays the host's: a bpffs of our own (none of the real host's pins in sight).
mount --make-rprivate /
for _ in 1 2 3 4 5 6 7 8; do is_bpffs /sys/fs/bpf || break; umount -l /sys/fs/bpf || break; done
mkdir -p /run/wireguard /run/netns
mount -t tmpfs -o mode=0755 xwg-faults /run/wireguard && mount -t tmpfs -o mode=0755 xwg-faults /run/netns &&
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf || { echo "not ok - private mounts"; echo "0 passed, 1 failed"; exit 1; }

lib_init
need_cmd ping jq python3 bpftool
need_impl xwg
topo_create || { nok "topology"; lib_done; }
stream_server "$NS_B" $SPORT
RULES0=$(ip -n "$NS_A" -4 rule; ip -n "$NS_A" -6 rule)

ns_of() { [ "$1" = a ] && echo "$NS_A" || echo "$NS_B"; }

# show_json SIDE N: `xwg show --json` of one side into a file; prints its name.
show_json() {
	local f=$T_TMP/$(ifname_of "$2" "$1").json
	# Without the allowed IPs, which can be 2^18 of them here.
	nsx "$(ns_of "$1")" "$XWG" show "$(ifname_of "$2" "$1")" --json 2>&1 | jq -c 'del(.peers[].allowed_ips)' >"$f"
	echo "$f"
}

# jqn FILE FILTER: one number out of a show file (0 when missing).
jqn() { jq -r "($2) // 0" "$1" 2>/dev/null || echo 0; }

# bpf_packets N: a's BPF packets with its first peer, both ways, added.
bpf_packets() { jqn "$(show_json a "$1")" '.peers[0].bpf_rx_packets + .peers[0].bpf_tx_packets'; }

# no_bpf_on NS DEV: neither XDP nor tc filters on DEV (bpftool here does not list TCX links: a_progs
# and progs_gone cover those, through the programs themselves).
no_bpf_on() {
	! ip -n "$1" -d link show "$2" | grep -q 'prog/xdp' &&
		nsx "$1" bpftool -j net show dev "$2" | jq -e '[.[] | (.xdp // [])[], (.tc // [])[]] | length == 0'
}

# a_progs N: ids of the BPF programs using a map pinned under a's directory, and the XDP program on
# its veth (xwg's rx, tx, ctl and, with links, the namespace's dispatcher).
a_progs() {
	local f mids
	ip -n "$NS_A" -d link show "$VETH_A" | grep -o 'prog/xdp[a-z]* id [0-9]*' | awk '{ print $3 }'
	mids=$(for f in "$BPFFS_DIR/$(ifname_of "$1" a)"/*; do
		[ -e "$f" ] && bpftool -j map show pinned "$f" 2>/dev/null | jq -r '.id // empty'
	done | paste -sd, -)
	[ -n "$mids" ] || return 0
	bpftool -j prog show 2>/dev/null |
		jq -r --argjson m "[$mids]" '.[] | select(([.map_ids[]?] - $m) != [.map_ids[]?]) | .id'
}

progs_gone() {
	local id
	for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && return 1; done
	return 0
}

no_run_files() { ! ls "$RUNDIR/$1".* >/dev/null 2>&1; }

# leftovers TAG NS IFNAME VETH: what a stopped agent must not leave behind.
leftovers() {
	local tag=$1 ns=$2 ifn=$3 veth=$4
	check "$tag: the tunnel $ifn is gone" wait_for 5 sh -c "! ip -n '$ns' link show '$ifn' 2>/dev/null"
	check "$tag: nothing of $ifn under $RUNDIR" wait_for 3 no_run_files "$ifn"
	check "$tag: no pins of $ifn under $BPFFS_DIR" test ! -e "$BPFFS_DIR/$ifn"
	check "$tag: no XDP, tc or tcx program left on $veth" no_bpf_on "$ns" "$veth"
	check_eq "$tag: no agent left in $ns" "" "$(agent_pids "$ns")"
	check_eq "$tag: ip rules as before" "$RULES0" "$(ip -n "$NS_A" -4 rule; ip -n "$NS_A" -6 rule)"
}

# down_a TAG N [PROGS]: `xwg down` of a, then the leftovers check, and a's programs (PROGS, by default
# a_progs now) unloaded.
down_a() {
	local ifa pid progs=${3:-}
	ifa=$(ifname_of "$2" a) pid=${INST_PID[$ifa]:-}
	[ -n "$progs" ] || progs=$(a_progs "$2" | sort -u | tr '\n' ' ')
	check "$1: xwg down $ifa" nsx "$NS_A" "$XWG" down "$ifa"
	[ -n "$pid" ] && wait_for 5 sh -c "! kill -0 $pid"
	leftovers "$1" "$NS_A" "$ifa" "$VETH_A"
	# shellcheck disable=SC2086
	check "$1: a's BPF programs ($progs) are unloaded" wait_for 3 progs_gone $progs
	unset "INST_NS[$ifa]"
}

# up_pair N MODE [INIT]: xwg on both sides in MODE, both with endpoints unless INIT says.
up_pair() {
	PAIR_PSK=0 XWG_MODE=$2 pair_up "$1" xwg xwg 4 "${3:-both}" || { nok "$2: pair $1 comes up"; pair_down "$1"; return 1; }
}

want_mode() { [ "$1" = auto ] && mode_auto_expect || echo "$1"; }

# timed CMD...: runs CMD and says how long it took.
timed() {
	local t0=$(date +%s%N)
	"$@"
	say "$1 $2: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# ---------------------------------------------------------------------------------------------

fault_link() {	# fault_link MODE N
	local tag="$1: link down and up" n=$2 before after spid out
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	# What the leftovers check must not find later is there now.
	check "$tag: an XDP program on $VETH_A while a runs" sh -c "ip -n '$NS_A' -d link show '$VETH_A' | grep -q prog/xdp"
	check_ge "$tag: a's programs loaded (on its pinned maps)" "$(a_progs "$n" | wc -w)" 3
	check "$tag: a does not think its bpffs is gone" sh -c "! grep -q 'no longer at /sys/fs/bpf' '$T_TMP/$(ifname_of "$n" a).log'"
	ip netns exec "$NS_A" timeout 30 python3 "$LIB_DIR/tcp_stream_check.py" check "$(ovl4 "$n" b)" $SPORT \
		>"$T_TMP/stream.out" 2>&1 &
	spid=$!
	sleep 0.5
	ip -n "$NS_A" link set "$VETH_A" down
	sleep "$(awk -v m="$LINK_DOWN_MS" 'BEGIN { print m / 1000 }')"
	check "$tag: the stream was still running when the link came back" kill -0 "$spid"
	ip -n "$NS_A" link set "$VETH_A" up
	if wait "$spid"; then
		ok "$tag: the TCP stream resumed and arrived byte-exact ($(cat "$T_TMP/stream.out"))"
	else
		nok "$tag: the TCP stream resumed and arrived byte-exact"
		show_file "$T_TMP/stream.out"
	fi
	before=$(bpf_packets "$n")
	check "$tag: ping after" ping_ok "$NS_A" "$(ovl4 "$n" b)" 3
	after=$(bpf_packets "$n")
	check_ge "$tag: BPF counters still move (a's BPF packets $before -> $after)" "$after" $((before + 6))
}

# ---------------------------------------------------------------------------------------------

# gen_peers FILE COUNT [PREFIXES]: a wg config of COUNT peers with random public keys; with PREFIXES,
# one peer holding that many IPv4 /32s counted up from 100.64.0.0.  Writes the keys to FILE.keys.
gen_peers() {
	python3 - "$@" <<'PY'
import base64, os, sys
path, count = sys.argv[1], int(sys.argv[2])
prefixes = int(sys.argv[3]) if len(sys.argv) > 3 else 0
keys = [base64.b64encode(os.urandom(32)).decode() for _ in range(count)]
with open(path, 'w') as f:
    for k in keys:
        f.write(f'[Peer]\nPublicKey = {k}\n')
        for base in range(0, prefixes, 1024):
            ips = (f'100.{64 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}/32' for i in range(base, min(base + 1024, prefixes)))
            f.write('AllowedIPs = ' + ','.join(ips) + '\n')
with open(path + '.keys', 'w') as f:
    f.write('\n'.join(keys) + '\n')
PY
}

# peer_json FILE PUBKEY FILTER: FILTER applied to that peer's object in a show file.
peer_json() { jq -r --arg k "$2" ".peers[] | select(.public_key == \$k) | $3" "$1" 2>/dev/null; }

# reason_sum FILE NAME...: the named reason counters added.
reason_sum() {
	local f=$1 r sum=0; shift
	for r in "$@"; do sum=$((sum + $(jqn "$f" ".reasons.$r"))); done
	echo "$sum"
}

# off_bpf_checks TAG N WHY-REGEX: a sees b off BPF for WHY; pings go through the agent and count.
off_bpf_checks() {
	local tag=$1 n=$2 ifa pub_b f a0 a1
	ifa=$(ifname_of "$n" a) pub_b=${PAIR_B_PUB[$n]}
	f=$(show_json a "$n")
	check_re "$tag: xwg show says why b is off BPF" "$3" "$(peer_json "$f" "$pub_b" '.offload_off')"
	check_re "$tag: the agent logged it" "off BPF, its packets go through the agent: $3" \
		"$(grep -F "peer $pub_b off BPF" "$T_TMP/$ifa.log" | tail -n 1)"
	a0=$(peer_json "$f" "$pub_b" '.agent_rx_packets + .agent_tx_packets')
	check "$tag: b still reachable (through the agent)" ping_ok "$NS_A" "$(ovl4 "$n" b)" 3
	check "$tag: b reaches a too" ping_ok "$NS_B" "$(ovl4 "$n" a)" 2
	f=$(show_json a "$n")
	a1=$(peer_json "$f" "$pub_b" '.agent_rx_packets + .agent_tx_packets')
	check_ge "$tag: the agent carried them (agent packets ${a0:-?} -> ${a1:-?})" "${a1:-0}" $((${a0:-0} + 10))
	FULL_JSON=$f
}

# back_bpf_checks TAG N TIMES: b is back in BPF (the once-a-second retry), the log says so (for the
# TIMES-th time), pings use BPF.
back_bpf_checks() {
	local tag=$1 n=$2 ifa pub_b b0 b1
	ifa=$(ifname_of "$n" a) pub_b=${PAIR_B_PUB[$n]}
	check "$tag: b back in BPF once the room is there" wait_for 5 \
		sh -c "'$XWG' show '$ifa' --json | jq -e --arg k '$pub_b' '.peers[] | select(.public_key == \$k) | .offload_off == null'"
	check_eq "$tag: the agent logged it" "$3" "$(grep -c "peer $pub_b back in BPF" "$T_TMP/$ifa.log")"
	b0=$(peer_json "$(show_json a "$n")" "$pub_b" '.bpf_rx_packets + .bpf_tx_packets')
	check "$tag: ping" ping_ok "$NS_A" "$(ovl4 "$n" b)" 3
	b1=$(peer_json "$(show_json a "$n")" "$pub_b" '.bpf_rx_packets + .bpf_tx_packets')
	check_ge "$tag: through BPF (BPF packets ${b0:-?} -> ${b1:-?})" "${b1:-0}" $((${b0:-0} + 6))
}

fault_full() {	# fault_full MODE N
	local tag="$1: peers map full" n=$2 ifa ifb pub_b b4 b6 epb t0 f x4
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b) pub_b=${PAIR_B_PUB[$n]}
	b4=$(ovl4 "$n" b)/32 b6=$(ovl6 "$n" b)/128 epb=$UB4:$(port_of "$n" b)
	# 1. No peer id left (the maps hold 1024): b is added again after 1024 others.
	t0=$(date +%s%N)
	gen_peers "$T_TMP/peers.conf" 1024
	wg set "$ifa" peer "$pub_b" remove
	check "$tag: 1024 other peers added" wg addconf "$ifa" "$T_TMP/peers.conf"
	wg set "$ifa" peer "$pub_b" allowed-ips "$b4,$b6" endpoint "$epb"
	off_bpf_checks "$tag" "$n" "no free peer slot in the maps"
	check_ge "$tag: counted as to-agent reasons (UNKNOWN_INDEX, TX_NO_PEER)" \
		"$(reason_sum "$FULL_JSON" UNKNOWN_INDEX TX_NO_PEER)" 4
	# auto drops unknown receiver indices only while every keypair is in the map: b's never is.
	check_eq "$tag: none of b's packets dropped as an unknown index (INDEX_DROP)" 0 \
		"$(jqn "$FULL_JSON" .reasons.INDEX_DROP)"
	wg set "$ifa" $(sed 's/.*/peer & remove/' "$T_TMP/peers.conf.keys")
	back_bpf_checks "$tag: 1024 peers removed" "$n" 1
	say "$tag: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

	# 2. The IPv4 LPM map full: one peer with 2^18 prefixes, then b gets one more.
	tag="$1: allowed IPs map full"
	t0=$(date +%s%N)
	gen_peers "$T_TMP/lpm.conf" 1 $((1 << 18))
	check "$tag: a peer with 2^18 IPv4 prefixes added" wg addconf "$ifa" "$T_TMP/lpm.conf"
	x4=10.79.$n.2
	ip -n "$NS_B" addr add "$x4/32" dev "$ifb"
	ip -n "$NS_A" route add "$x4/32" dev "$ifa"
	wg set "$ifa" peer "$pub_b" allowed-ips "$b4,$b6,$x4/32"
	say "$tag: filled in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	off_bpf_checks "$tag" "$n" "allowed IPs map \(IPv4\): "
	check_ge "$tag: counted as PEER_AGENT and TX_PEER_AGENT" "$(reason_sum "$FULL_JSON" PEER_AGENT TX_PEER_AGENT)" 4
	check "$tag: the prefix that did not fit works (through the agent)" ping_ok "$NS_A" "$x4" 2
	wg set "$ifa" peer "$(cat "$T_TMP/lpm.conf.keys")" remove
	back_bpf_checks "$tag: the big peer removed" "$n" 2
	check "$tag: the prefix that did not fit, now through BPF" ping_ok "$NS_A" "$x4" 2
	say "$tag: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# ---------------------------------------------------------------------------------------------

# sniff_start NS DEV PORT FILE: records, one hex line each, the payloads of handshake initiations
# (type 1) leaving DEV from UDP port PORT, until killed.  Sets SNIFF_PID.
sniff_start() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'PY' &
import socket, sys
dev, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((dev, 0))
with open(path, 'w') as out:
    while True:
        f = s.recv(65535)
        if len(f) < 14 + 20 + 8 or f[12:14] != b'\x08\x00' or f[23] != 17:
            continue
        u = 14 + (f[14] & 15) * 4
        if int.from_bytes(f[u:u + 2], 'big') == port and f[u + 8] == 1:
            out.write(f[u + 8:].hex() + '\n')
            out.flush()
PY
	SNIFF_PID=$!
	T_PIDS+=("$SNIFF_PID")
	sleep 0.3
}

# replay NS HEX DST PORT: sends one UDP datagram (from an ephemeral port).
replay() {
	nsx "$1" python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex(sys.argv[1]), (sys.argv[2], int(sys.argv[3])))' \
		"$2" "$3" "$4"
}

# hs_of N FIELD: a's handshake counter FIELD for b (initiations_received, responses_sent, ...).
hs_of() { peer_json "$(show_json a "$1")" "${PAIR_B_PUB[$1]}" ".handshakes.$2"; }

# restart_b MODE N: b's agent down and up again with its (possibly rewritten) file.
restart_b() {
	local ifb
	ifb=$(ifname_of "$2" b)
	nsx "$NS_B" "$XWG" down "$ifb" >/dev/null 2>&1
	inst_stop "$ifb"
	XWG_MODE=$1 inst_up xwg "$NS_B" "$ifb"
}

fault_restart() {	# fault_restart MODE N
	local tag="$1: peer restarts" n=$2 ifa i0 i1 r0 ep0 hs0 old cur pid
	ifa=$(ifname_of "$n" a)
	sniff_start "$NS_B" "$VETH_B" "$(port_of "$n" b)" "$T_TMP/init.hex"
	for round in 1 2; do
		i0=$(hs_of "$n" initiations_received)
		restart_b "$1" "$n" || nok "$tag: b comes back ($round)"
		check "$tag ($round): b's traffic resumes" ping_ok "$NS_B" "$(ovl4 "$n" a)" 2
		i1=$(hs_of "$n" initiations_received)
		check_ge "$tag ($round): a accepted b's new initiation (initiations received ${i0:-?} -> ${i1:-?})" \
			"${i1:-0}" $((${i0:-0} + 1))
	done
	kill "$SNIFF_PID" 2>/dev/null
	check_ge "$tag: b's initiations captured" "$(wc -l <"$T_TMP/init.hex")" 2
	old=$(head -n 1 "$T_TMP/init.hex") cur=$(tail -n 1 "$T_TMP/init.hex")
	i0=$(hs_of "$n" initiations_received) r0=$(hs_of "$n" responses_sent)
	ep0=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 3) hs0=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5)
	sleep 0.1	# past the 1/50 s flood limit: only the timestamp can reject them
	replay "$NS_B" "$old" "$UA4" "$(port_of "$n" a)"
	replay "$NS_B" "$cur" "$UA4" "$(port_of "$n" a)"
	sleep 0.3
	check_eq "$tag: replayed initiations (the first and the latest) rejected: none counted" "$i0" \
		"$(hs_of "$n" initiations_received)"
	check_eq "$tag: ... no response sent" "$r0" "$(hs_of "$n" responses_sent)"
	check_eq "$tag: ... the endpoint did not move to the replayer" "$ep0" "$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 3)"
	check_eq "$tag: ... no handshake" "$hs0" "$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5)"
	# a itself killed and started again: it adopts b's timestamp with the pinned state, so the
	# latest initiation is still a replay (without it, a would answer and move b's endpoint).
	tag="$1: a restarts (kill -9, adopted)"
	pid=${INST_PID[$ifa]}
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	nsx "$NS_A" "$XWG" up "$(conf_path "$ifa")" --foreground --mode "$1" >>"$T_TMP/$ifa.log" 2>&1 &
	INST_PID[$ifa]=$!
	check "$tag: xwg up again" wait_for 10 sock_ready "$ifa"
	i0=$(hs_of "$n" initiations_received) r0=$(hs_of "$n" responses_sent)
	replay "$NS_B" "$cur" "$UA4" "$(port_of "$n" a)"
	sleep 0.3
	check_eq "$tag: b's latest initiation replayed: not accepted" "$i0" "$(hs_of "$n" initiations_received)"
	check_eq "$tag: ... no response sent" "$r0" "$(hs_of "$n" responses_sent)"
	check_eq "$tag: ... the endpoint did not move to the replayer" "$ep0" "$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 3)"
	check "$tag: the tunnel still works" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
}

fault_newkey() {	# fault_newkey MODE N
	local tag="$1: peer's key changes" n=$2 ifa ifb old rx0 i0 conf
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b) old=${PAIR_B_PUB[$n]} conf=$(conf_path "$(ifname_of "$n" b)")
	keys_new KN
	sed -i "s|^PrivateKey = .*|PrivateKey = $KN_PRIV|" "$conf"
	rx0=$(wg_field "$ifa" "$old" 6) i0=$(hs_of "$n" initiations_received)
	restart_b "$1" "$n" || nok "$tag: b comes back with a new key"
	check_fails "$tag: b's pings get no answer" nsx "$NS_B" ping -c 3 -i 0.2 -W 1 -q "$(ovl4 "$n" a)"
	check_fails "$tag: a's pings get no answer" nsx "$NS_A" ping -c 2 -i 0.2 -W 1 -q "$(ovl4 "$n" b)"
	check_eq "$tag: a accepted no initiation from the new key" "$i0" "$(hs_of "$n" initiations_received)"
	check_eq "$tag: a received nothing for the old peer" "$rx0" "$(wg_field "$ifa" "$old" 6)"
	check_eq "$tag: a has no peer with the new key" "" "$(wg show "$ifa" peers | grep -Fx "$KN_PUB")"
	check "$tag: wg set swaps the peer" wg set "$ifa" peer "$KN_PUB" allowed-ips "$(ovl4 "$n" b)/32,$(ovl6 "$n" b)/128" \
		endpoint "$UB4:$(port_of "$n" b)" peer "$old" remove
	PAIR_B_PUB[$n]=$KN_PUB
	check "$tag: then the tunnel works (a -> b)" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check "$tag: ... and b -> a" ping_ok "$NS_B" "$(ovl4 "$n" a)" 2
}

# ---------------------------------------------------------------------------------------------

fault_bpffs() {	# fault_bpffs MODE N: ends with a stopped (and checked) and b stopped
	local tag="$1: bpffs unmounted under the agents" n=$2 ifa how before after pid rc progs
	ifa=$(ifname_of "$n" a) pid=${INST_PID[$(ifname_of "$n" a)]:-}
	check "$tag: a's pins are there before" test -d "$BPFFS_DIR/$ifa"
	progs=$(a_progs "$n" | sort -u | tr '\n' ' ')
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 1
	# A handle on this bpffs, to look at it after the unmount: a's pins must go with a all the same.
	exec {BPFFS_FD}</sys/fs/bpf
	if umount /sys/fs/bpf 2>"$T_TMP/umount.err"; then
		how=umount
	else
		# The agents hold the directory open (their pin root): only a lazy unmount gets it out of sight.
		say "$tag: umount: $(cat "$T_TMP/umount.err"); detaching it lazily"
		umount -l /sys/fs/bpf && how="umount -l"
	fi
	check "$tag: /sys/fs/bpf is no bpffs any more (${how:-failed})" sh -c '! [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]'
	check "$tag: a's agent says so in its log" wait_for 3 \
		grep -q "$ifa: the bpffs holding its pins is no longer at /sys/fs/bpf" "$T_TMP/$ifa.log"
	before=$(bpf_packets "$n")
	check "$tag: ping" ping_ok "$NS_A" "$(ovl4 "$n" b)" 3
	after=$(bpf_packets "$n")
	check_ge "$tag: still through BPF (a's BPF packets $before -> $after)" "$after" $((before + 6))
	check_eq "$tag: a still runs $(want_mode "$1")" "$(want_mode "$1")" "$(jq -r .mode "$(show_json a "$n")")"
	stream_check "$tag: a byte-exact TCP stream" "$NS_A" "$(ovl4 "$n" b)" $SPORT
	down_a "$tag" "$n" "$progs"
	check "$tag: a's pins left the unmounted bpffs too" test ! -e "/proc/$$/fd/$BPFFS_FD/xwg/$ifa"
	if [ -n "$pid" ]; then
		wait "$pid"; rc=$?
		check_eq "$tag: a's agent exited cleanly" 0 "$rc"
	fi
	check "$tag: no crash or error in a's log" sh -c "! grep -Ei 'fault|abort|sanitizer|error' '$T_TMP/$ifa.log'"
	inst_stop "$(ifname_of "$n" b)"
	check "$tag: nothing left on b's veth either" no_bpf_on "$NS_B" "$VETH_B"
	check "$tag: b's pins left the unmounted bpffs too" test ! -e "/proc/$$/fd/$BPFFS_FD/xwg/$(ifname_of "$n" b)"
	exec {BPFFS_FD}<&-
}

# fault_kill MODE N: a's agent killed while it retries a handshake to a stopped b.
fault_kill() {
	local tag="$1: agent killed during a handshake" n=$2 ifa ifb pid idx map
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	PAIR_PSK=0 XWG_MODE=$1 pair_up "$n" xwg xwg 4 a || { nok "$tag: pair $n comes up"; pair_down "$n"; return; }
	inst_stop "$ifb"
	nsx "$NS_A" ping -c 1 -W 1 -q "$(ovl4 "$n" b)" >/dev/null 2>&1
	check "$tag: a is sending initiations" wait_for 3 sh -c \
		"[ \"\$('$XWG' show '$ifa' --json | jq '.peers[0].handshakes.initiations_sent')\" -ge 1 ]"
	idx=$(ip -n "$NS_A" -j link show "$ifa" | jq '.[0].ifindex')
	map=$(bpftool -j map show pinned "$BPFFS_DIR/$ifa/xwg_peers" 2>/dev/null | jq '.id')
	pid=${INST_PID[$ifa]}
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	say "$tag: killed agent $pid"
	check "$tag: the tunnel outlives the agent" ip -n "$NS_A" link show "$ifa"
	nsx "$NS_A" "$XWG" up "$(conf_path "$ifa")" --foreground --mode "$1" >>"$T_TMP/$ifa.log" 2>&1 &
	INST_PID[$ifa]=$!
	check "$tag: xwg up again" wait_for 10 sock_ready "$ifa"
	check_eq "$tag: ... adopted the tunnel (same ifindex)" "$idx" "$(ip -n "$NS_A" -j link show "$ifa" | jq '.[0].ifindex')"
	[ "$1" = tun ] || check_eq "$tag: ... and the pinned maps (same peers map)" "$map" \
		"$(bpftool -j map show pinned "$BPFFS_DIR/$ifa/xwg_peers" 2>/dev/null | jq '.id')"
	check_eq "$tag: ... in $(want_mode "$1")" "$(want_mode "$1")" "$(jq -r .mode "$(show_json a "$n")")"
	XWG_MODE=$1 inst_up xwg "$NS_B" "$ifb" || nok "$tag: b comes back"
	check "$tag: the tunnel works" ping_ok "$NS_A" "$(ovl4 "$n" b)" 3
	down_a "$tag" "$n"
	pair_down "$n"
}

n=0
for mode in $FAULT_MODES; do
	n=$((n + 1))
	say "--- mode $mode, pair $n"
	up_pair $n "$mode" || continue
	timed fault_link "$mode" $n
	timed fault_full "$mode" $n
	if [[ " $FAULT_SLOW_MODES " == *" $mode "* ]]; then
		timed fault_restart "$mode" $n
		timed fault_newkey "$mode" $n
	fi
	timed fault_bpffs "$mode" $n
	pair_down $n
	if [[ " $FAULT_SLOW_MODES " == *" $mode "* ]]; then
		n=$((n + 1))
		timed fault_kill "$mode" $n
	fi
done
lib_done

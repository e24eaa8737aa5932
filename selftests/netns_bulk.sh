#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bulk data path: xwg in auto mode against wireguard-go (modern and Debian's) and every xwg mode, byte for byte.
# xwg-timeout: 480
#
# Side a is always xwg with `--mode auto`.  Pairings (BULK_PAIRINGS overrides; B is "wireguard-go",
# "wireguard-go-modern" or an xwg mode):
#   wireguard-go-modern  wireguard-go  tun  tc  xdp-generic  xdp  auto
# The modern wireguard-go is WGGO_MODERN, else ../shared/peers/wireguard-go-modern next to the repository
# (or next to the main checkout of a git worktree); without it that pairing is skipped, saying where it
# looked.  An xwg mode this machine lacks (the runner's probe) is skipped with the probe's reason; a
# supported mode xwg refuses fails.  Each pairing runs twice, IPv4 underlay (a initiates) and IPv6
# underlay (b initiates), and in each:
#   - small TCP messages b -> a checked byte for byte while a saturates a -> b, then a -> b while b
#     saturates b -> a (tcp_stream_check.py); the overlay families are IPv4-in-IPv4 and IPv6-in-IPv4,
#     then IPv6-in-IPv6 and IPv4-in-IPv6;
#   - for the pairings in UDP_PAIRINGS (default: wireguard-go-modern wireguard-go tun auto; tun is the
#     agent's own data path), UDP sent with UDP_SEGMENT in 64 KB buffers each way (udp_gso_check.py):
#     every datagram arrives exactly once, with its length and bytes.  The sender is paced and the
#     receiver's buffer holds many bursts, so no loss is allowed, except, with Debian's wireguard-go
#     receiving, exactly the drops the kernel counted in its undersized socket (see run_setup), and,
#     with the modern wireguard-go sending IPv6 inside the tunnel, exactly the datagrams it breaks: when
#     it splits a UDP_SEGMENT packet itself (tun/offload_linux.go gsoSplit) it writes a UDP checksum that
#     computes to zero as 0x0000 instead of 0xFFFF (RFC 768, RFC 8200 8.1); zero is illegal in IPv6 and
#     the receiving kernel drops the datagram as a checksum error (about 1 in 65536; over IPv4 zero means
#     "no checksum" and is accepted).  Such a loss passes only when every missing datagram is one whose
#     checksum computes to zero (udp_gso_check.py recomputes it), the receiving namespace's
#     Udp6InCsumErrors rose by exactly that many, and nothing was duplicated, altered or dropped by the
#     socket; the output says so.
# Then, auto on both ends:
#   - rekey (BULK_REKEY=1, default): in a second pair of namespaces, started first and running alongside
#     the rest, a bulk stream of REKEY_RATE bytes/s for REKEY_SECS (default 130 s, past the 120 s
#     REKEY_AFTER_TIME) stays byte-exact (bulk_stream.py), and both sides' latest handshake advanced by
#     >= 119 s (a rekey happened under it);
#   - agent kill -9: a's agent is killed during a byte-exact bulk stream a -> b of KILL_RATE bytes/s, and
#     `xwg up` again with the same file adopts the interface; the stream must complete byte-exact with no
#     gap longer than the keepalive timeout (10 s).  The longest gap is printed, "survived" (<= 1 s) or
#     "recovered after G s", and whether a new handshake happened.

. "$(dirname "$0")/lib.sh"

BULK_PAIRINGS=${BULK_PAIRINGS:-wireguard-go-modern wireguard-go tun tc xdp-generic xdp auto}
UDP_PAIRINGS=${UDP_PAIRINGS:-wireguard-go-modern wireguard-go tun auto}
UDP_BUFFERS=${UDP_BUFFERS:-100}
UDP_GAP=${UDP_GAP:-0.005} UDP_GAP_SLOW=${UDP_GAP_SLOW:-0.02}	# seconds between buffers
BULK_REKEY=${BULK_REKEY:-1}
REKEY_SECS=${REKEY_SECS:-130}
REKEY_RATE=${REKEY_RATE:-4000000}
KILL_SECS=${KILL_SECS:-10}
KILL_RATE=${KILL_RATE:-25000000}
KILL_MAX_GAP=10		# KEEPALIVE_TIMEOUT_S
STREAM_PORT=5301 BULK_PORT=5401

lib_init
need_cmd python3 ping jq
need_impl xwg
topo_create || { nok "topology"; lib_done; }

ovl_of() { [ "$1" = 6 ] && ovl6 "$2" "$3" || ovl4 "$2" "$3"; }

# bulk_server NS PORT: a long-lived bulk_stream.py sender in NS.
bulk_server() {
	ip netns exec "$1" python3 "$LIB_DIR/bulk_stream.py" serve "$2" >/dev/null 2>&1 &
	T_PIDS+=($!)
	wait_for 5 sh -c "ip netns exec '$1' ss -ltn | grep -q ':$2 '"
}

# bulk_start NS DST SECS RATE: NS receives and checks a bulk stream from DST's server, in the
# background.  Sets BULK_PID and BULK_OUT.
bulk_start() {
	BULK_OUT=$T_TMP/bulk.$RANDOM$RANDOM.out
	ip netns exec "$1" timeout $(( ${3%.*} + 60 )) python3 "$LIB_DIR/bulk_stream.py" check "$2" $BULK_PORT "$3" "$4" \
		>"$BULK_OUT" 2>&1 &
	BULK_PID=$!
}

# bulk_finish DESC: waits for bulk_start's check; sets BULK_GAP (longest gap in seconds) when it passed.
bulk_finish() {
	BULK_GAP=""
	if wait "$BULK_PID"; then
		ok "$1 ($(tail -n 1 "$BULK_OUT"))"
		BULK_GAP=$(sed -n 's/.*longest gap \([0-9.]*\) s$/\1/p' "$BULK_OUT" | tail -n 1)
	else
		nok "$1"
		show_file "$BULK_OUT" 5
	fi
}

# udp_counters NS: NS's UDP error counters (IPv4 and IPv6), "name value" a line.
udp_counters() {
	nsx "$1" cat /proc/net/snmp /proc/net/snmp6 2>/dev/null | awk '
		/^Udp: / { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 } else for (i = 2; i <= NF; i++) print "Udp" k[i], $i }
		/^Udp6/ { print $1, $2 }' | grep -E 'Errors|NoPorts'
}

# udp_rcvbuf_errors NS: UDP datagrams (IPv4 and IPv6) NS dropped for a full socket receive buffer.
udp_rcvbuf_errors() {
	udp_counters "$1" | awk '$1 ~ /^Udp6?RcvbufErrors$/ { n += $2 } END { print n + 0 }'
}

# udp6_csum_errors NS: IPv6 UDP datagrams NS dropped for a bad checksum.
udp6_csum_errors() {
	udp_counters "$1" | awk '$1 == "Udp6InCsumErrors" { n += $2 } END { print n + 0 }'
}

# udp_check DESC NS_RX NS_TX DST SIZE GAP [LOSS_OK]: UDP_SEGMENT buffers from NS_TX to DST (in NS_RX),
# one every GAP seconds, all intact.  LOSS_OK names the one known loss accepted, each exactly:
#   1 (a receiving peer known to keep an undersized UDP socket buffer): missing datagrams are accepted
#     only when the kernel counted exactly as many receive-buffer drops in NS_RX outside the test's own
#     socket, none duplicated or altered;
#   zero-csum (the modern wireguard-go sending IPv6, see the header): missing datagrams are accepted only
#     when each has a UDP checksum that computes to zero (sent by that peer as 0x0000, illegal in IPv6),
#     NS_RX's Udp6InCsumErrors rose by exactly as many, none duplicated, altered or socket-dropped.
udp_check() {
	local desc=$1 nrx=$2 ntx=$3 dst=$4 size=$5 gap=$6 loss_ok=${7:-0} port=5501 rout rpid sout rc drops res
	local missing own csum0 csumerr
	rout=$T_TMP/udp.$RANDOM.out
	drops=$(udp_rcvbuf_errors "$nrx")
	csumerr=$(udp6_csum_errors "$nrx")
	udp_counters "$nrx" >"$rout.c0"
	nsx "$nrx" timeout 40 python3 "$LIB_DIR/udp_gso_check.py" recv $port "$UDP_BUFFERS" "$size" 20 >"$rout" 2>&1 &
	rpid=$!
	if ! wait_for 5 grep -q '^ready' "$rout"; then
		nok "$desc: receiver starts"; show_file "$rout"; kill_pid "$rpid"; return
	fi
	sout=$(nsx "$ntx" timeout 30 python3 "$LIB_DIR/udp_gso_check.py" send "$dst" $port "$UDP_BUFFERS" "$size" \
		"$gap" 2>&1)
	rc=$?
	wait "$rpid" && [ $rc = 0 ] && { ok "$desc ($(tail -n 1 "$rout"))"; return; }
	res=$(tail -n 1 "$rout")
	drops=$(( $(udp_rcvbuf_errors "$nrx") - drops ))
	csumerr=$(( $(udp6_csum_errors "$nrx") - csumerr ))
	missing=$(printf '%s' "$res" | sed -n 's/.* intact, \([0-9]*\) missing, 0 duplicated, 0 bad, \([0-9]*\) dropped.*/\1/p')
	own=$(printf '%s' "$res" | sed -n 's/.* intact, \([0-9]*\) missing, 0 duplicated, 0 bad, \([0-9]*\) dropped.*/\2/p')
	csum0=$(printf '%s' "$res" | sed -n 's/.* (\([0-9]*\) missing with a UDP checksum of 0xffff)$/\1/p')
	if [ $rc = 0 ] && [ -n "$missing" ] && [ "$missing" -gt 0 ] && [ "$own" = 0 ]; then
		if [ "$loss_ok" = 1 ] && [ "$missing" = "$drops" ]; then
			ok "$desc ($res; all $missing lost in the peer's socket: $drops receive-buffer drops in $nrx)"
			return
		fi
		if [ "$loss_ok" = zero-csum ] && [ "$missing" = "${csum0:-}" ] && [ "$missing" = "$csumerr" ]; then
			ok "$desc ($res; all $missing sent with the illegal IPv6 UDP checksum 0x0000 by the modern" \
				"wireguard-go, its bug: $csumerr Udp6InCsumErrors in $nrx)"
			return
		fi
	fi
	nok "$desc"
	say "sender (rc $rc): $sout"
	say "receiver: $res"
	say "UDP receive buffer drops in $nrx during the run (any socket, the tunnel's included): $drops"
	say "IPv6 UDP checksum errors in $nrx during the run: $csumerr"
	say "other UDP error counters that moved in $nrx: $(udp_counters "$nrx" | awk 'NR == FNR { c[$1] = $2; next }
		$2 != c[$1] { printf "%s +%d ", $1, $2 - c[$1] }' "$rout.c0" -)"
	pair_diag
}

# pair_diag: where packets of the current pair (CUR_N) may have gone: the xwg sides' non-zero reason
# counters and packet counters, and every device's drop counters in both namespaces.
pair_diag() {
	local side ifn ns
	for side in a b; do
		ifn=$(ifname_of "$CUR_N" $side) ns=$([ $side = a ] && echo "$NS_A" || echo "$NS_B")
		[ "${INST_IMPL[$ifn]:-}" = xwg ] || continue
		say "$ifn: $(nsx "$ns" "$XWG" show "$ifn" --json 2>/dev/null | jq -c '{reasons: (.reasons // {} |
			with_entries(select(.value != 0))), peer: (.peers[0] // {} | with_entries(select(.key |
			test("packets|bytes"))))}' 2>/dev/null)"
	done
	for ns in "$NS_A" "$NS_B"; do
		say "$ns drops: $(ip -n "$ns" -s -j link show 2>/dev/null | jq -r '[.[] | select(.ifname != "lo") |
			"\(.ifname) rx \(.stats64.rx.dropped) tx \(.stats64.tx.dropped)"] | join(", ")' 2>/dev/null)"
	done
}

# up_pair TAG N B FAM INIT: a in auto mode against B (an implementation or an xwg mode); 0 when both run.
up_pair() {
	local tag=$1 n=$2 b=$3 fam=$4 init=$5 ib=xwg mb=""
	case $b in wireguard-go*) ib=$b ;; *) mb=$b ;; esac
	if XWG_MODE_A=auto XWG_MODE_B=$mb pair_up "$n" xwg "$ib" "$fam" "$init"; then
		return 0
	fi
	# The runner's probe said this machine has the mode (else the caller skipped it).
	nok "$tag: instances come up"
	grep -h -m1 -E 'cannot use mode|not implemented|refus' "$T_TMP/$(ifname_of "$n" a).log" \
		"$T_TMP/$(ifname_of "$n" b).log" 2>/dev/null | sed 's/^/# /'
	pair_down "$n"
	return 1
}

# run_setup N B FAM: one pair of fresh instances with underlay FAM; see the header.
run_setup() {
	local n=$1 b=$2 fam=$3 init tag o1 o2 size gap
	init=$([ "$fam" = 4 ] && echo a || echo b)
	o1=$fam o2=$([ "$fam" = 4 ] && echo 6 || echo 4)
	tag="auto(a) <-> $(case $b in wireguard-go*) echo "$b" ;; *) echo "xwg $b" ;; esac)(b), underlay v$fam, $init initiates"
	say "--- $tag"
	CUR_N=$n
	up_pair "$tag" "$n" "$b" "$fam" "$init" || return
	check "$tag: ping" ping_ok "$([ "$init" = a ] && echo "$NS_A" || echo "$NS_B")" \
		"$(ovl4 "$n" "$([ "$init" = a ] && echo b || echo a)")" 2
	stream_check "$tag: TCP b -> a byte-exact while a -> b floods (IPv$o1-in-IPv$fam)" \
		"$NS_A" "$(ovl_of "$o1" "$n" b)" $STREAM_PORT
	stream_check "$tag: TCP a -> b byte-exact while b -> a floods (IPv$o2-in-IPv$fam)" \
		"$NS_B" "$(ovl_of "$o2" "$n" a)" $STREAM_PORT
	case " $UDP_PAIRINGS " in
	*" $b "*)
		# Debian's wireguard-go leaves its UDP socket at the default receive buffer (208 KB of skb
		# truesize; the modern one asks for 7 MiB, and rmem_default is read-only inside a namespace):
		# a 64 KB buffer reaches it as one back-to-back burst, and what it does not drain in time its
		# socket drops.  It gets the bursts 4 times further apart, and as the receiver, exactly its
		# socket's counted drops are forgiven (udp_check's PEER_SOCKET_LOSS).
		gap=$([ "$b" = wireguard-go ] && echo "$UDP_GAP_SLOW" || echo "$UDP_GAP")
		# Full-MTU datagrams (1420 - 28 and 1420 - 48): each GSO segment is exactly one tunnel MTU.
		size=$([ "$o1" = 4 ] && echo 1392 || echo 1372)
		udp_check "$tag: UDP_SEGMENT a -> b, $UDP_BUFFERS x 64 KB every ${gap}s, $size-byte datagrams (IPv$o1-in-IPv$fam)" \
			"$NS_B" "$NS_A" "$(ovl_of "$o1" "$n" b)" "$size" "$gap" "$([ "$b" = wireguard-go ] && echo 1)"
		size=$([ "$o2" = 4 ] && echo 1392 || echo 1372)
		# The modern wireguard-go sending IPv6 inside the tunnel may write 0x0000 for 0xFFFF (see the header).
		udp_check "$tag: UDP_SEGMENT b -> a, $UDP_BUFFERS x 64 KB every ${gap}s, $size-byte datagrams (IPv$o2-in-IPv$fam)" \
			"$NS_A" "$NS_B" "$(ovl_of "$o2" "$n" a)" "$size" "$gap" \
			"$([ "$b" = wireguard-go-modern ] && [ "$o2" = 6 ] && echo zero-csum)"
		;;
	esac
	pair_down "$n"
}

# ---------------------------------------------------------------------------------------------
# Rekey under a bulk stream, auto <-> auto, in namespaces of its own so it runs alongside the rest.

REKEY_N=30 REKEY_STARTED=0
rekey_start() {
	local tag="rekey auto <-> auto"
	NS_C=$P-c NS_D=$P-d
	topo_link "$NS_C" "$NS_D" "${P}vc" "${P}vd" || { nok "$tag: second topology"; return; }
	NS_A=$NS_C NS_B=$NS_D up_pair "$tag" $REKEY_N auto 4 a || return
	check "$tag: ping" ping_ok "$NS_C" "$(ovl4 $REKEY_N b)" 2
	bulk_server "$NS_C" $BULK_PORT
	RK_H0A=$(wg_field "$(ifname_of $REKEY_N a)" "${PAIR_B_PUB[$REKEY_N]}" 5)
	RK_H0B=$(wg_field "$(ifname_of $REKEY_N b)" "${PAIR_A_PUB[$REKEY_N]}" 5)
	bulk_start "$NS_D" "$(ovl4 $REKEY_N a)" "$REKEY_SECS" "$REKEY_RATE"
	RK_PID=$BULK_PID RK_OUT=$BULK_OUT REKEY_STARTED=1
	say "$tag: bulk stream a -> b of $REKEY_RATE bytes/s for $REKEY_SECS s started in $NS_C/$NS_D"
}

rekey_finish() {
	local tag="rekey auto <-> auto" ha hb
	[ $REKEY_STARTED = 1 ] || return
	say "waiting for the rekey stream"
	BULK_PID=$RK_PID BULK_OUT=$RK_OUT bulk_finish "$tag: bulk stream a -> b byte-exact for $REKEY_SECS s"
	ha=$(wg_field "$(ifname_of $REKEY_N a)" "${PAIR_B_PUB[$REKEY_N]}" 5)
	hb=$(wg_field "$(ifname_of $REKEY_N b)" "${PAIR_A_PUB[$REKEY_N]}" 5)
	say "$tag: latest handshake a $RK_H0A -> $ha, b $RK_H0B -> $hb"
	check_ge "$tag: a's handshake advanced by >= 119 s (rekeyed under the stream)" $(( ${ha:-0} - ${RK_H0A:-0} )) 119
	check_ge "$tag: b's handshake advanced by >= 119 s" $(( ${hb:-0} - ${RK_H0B:-0} )) 119
	pair_down $REKEY_N
}

# ---------------------------------------------------------------------------------------------
# Agent kill -9 under a bulk stream, auto <-> auto: xwg up again must adopt, the stream must come through.

run_kill() {
	local n=$1 tag="kill -9: auto agent killed under a bulk stream" ifa ifb ha0 hb0 ha1 hb1 pid what
	say "--- $tag"
	XWG_DAEMON=1 up_pair "$tag" "$n" auto 4 a || return
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	ha0=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5) hb0=$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 5)
	bulk_start "$NS_B" "$(ovl4 "$n" a)" "$KILL_SECS" "$KILL_RATE"
	sleep 3
	pid=$(agent_pids "$NS_A" | head -n 1)
	if [ -z "$pid" ]; then
		nok "$tag: found a's agent process"
	else
		kill -KILL "$pid"
		say "killed agent $pid of $ifa"
		wait_for 3 sh -c "! kill -0 $pid"
		sleep 1
		if nsx "$NS_A" "$XWG" up "$(conf_path "$ifa")" --mode auto >"$T_TMP/$ifa.restart.log" 2>&1 &&
			wait_for 10 sock_ready "$ifa"; then
			ok "$tag: xwg up again with the same file"
			XWG_MODE=auto inst_check_mode "$ifa" "$NS_A"
		else
			nok "$tag: xwg up again with the same file"
			show_file "$T_TMP/$ifa.restart.log"
		fi
	fi
	bulk_finish "$tag: bulk stream a -> b byte-exact across the kill and restart"
	if [ -n "$BULK_GAP" ]; then
		check "$tag: longest gap $BULK_GAP s <= keepalive timeout ${KILL_MAX_GAP} s" \
			awk -v g="$BULK_GAP" -v m="$KILL_MAX_GAP" 'BEGIN { exit !(g <= m) }'
		what=$(awk -v g="$BULK_GAP" 'BEGIN { print (g <= 1 ? "survived (no gap over 1 s)" : "recovered after " g " s") }')
		ha1=$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5) hb1=$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 5)
		say "$tag: the stream $what; latest handshake a $ha0 -> $ha1, b $hb0 -> $hb1 ($( \
			[ "$ha0" = "$ha1" ] && [ "$hb0" = "$hb1" ] && echo "adopted, no new handshake" || echo "new handshake"))"
	fi
	check "$tag: ping after" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	pair_down "$n"
}

# ---------------------------------------------------------------------------------------------

for ns in "$NS_A" "$NS_B"; do
	stream_server "$ns" $STREAM_PORT
	bulk_server "$ns" $BULK_PORT
done
[ "$BULK_REKEY" = 1 ] && rekey_start

n=0
for b in $BULK_PAIRINGS; do
	n=$((n + 1))
	tag="auto <-> $b"
	case $b in
	wireguard-go*)
		why=$(impl_missing "$b")
		case $? in
		0) skip "$tag" "$why"; continue ;;
		2) nok "$tag: unknown pairing"; continue ;;
		esac ;;
	*)
		if ! mode_supported "$b"; then
			skip "$tag" "this machine lacks xwg mode $b: $(mode_missing_why "$b")"
			continue
		fi ;;
	esac
	run_setup "$n" "$b" 4
	n=$((n + 1))
	run_setup "$n" "$b" 6
done
run_kill 25
rekey_finish

lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Rekey under traffic at the real REKEY_AFTER_TIME (120 s): a TCP stream crosses the new handshake unharmed.
# xwg-timeout: 420
#
# Up to three tunnels run side by side in the same two namespaces (IMPL_A -> IMPL_B, IMPL_B -> IMPL_A,
# IMPL_A -> IMPL_A; "x -> y" means x initiates and sends the bulk data), each carrying a rate-limited
# iperf3 TCP stream for REKEY_SECS (default 135).  Afterwards: the stream succeeded with no empty
# one-second interval, both sides' latest handshake advanced by about 120 s, and a capture of
# handshake messages shows the initiator started the new handshake.

. "$(dirname "$0")/lib.sh"

REKEY_SECS=${REKEY_SECS:-135}
RATE=${RATE:-20M}

lib_init
need_cmd iperf3 jq tcpdump ping
need_impl "$IMPL_A" "$IMPL_B"
topo_create || { nok "topology"; lib_done; }

pairs=()
for p in "$IMPL_A:$IMPL_B" "$IMPL_B:$IMPL_A" "$IMPL_A:$IMPL_A"; do
	case " ${pairs[*]} " in *" $p "*) ;; *) pairs+=("$p") ;; esac
done

declare -A H0A H0B JSON PIDS
n=0
for p in "${pairs[@]}"; do
	n=$((n + 1))
	if ! pair_up $n "${p%%:*}" "${p##*:}" 4 a; then
		nok "$p: instances come up"; lib_done
	fi
	check "$p: ping" ping_ok "$NS_A" "$(ovl4 $n b)" 2
	iperf_server "$NS_B" $((5200 + n))
done

# Handshake messages only (type 1 initiation, 2 response): the first byte of the UDP payload.
nsx "$NS_B" tcpdump -n -l -i "$VETH_B" 'udp and (udp[8] = 1 or udp[8] = 2)' >"$T_TMP/hs.txt" 2>/dev/null &
T_PIDS+=($!)
sleep 1

start=$(date +%s)
n=0
for p in "${pairs[@]}"; do
	n=$((n + 1))
	H0A[$n]=$(wg_field "$(ifname_of $n a)" "${PAIR_B_PUB[$n]}" 5)
	H0B[$n]=$(wg_field "$(ifname_of $n b)" "${PAIR_A_PUB[$n]}" 5)
	iperf_start "$NS_A" "$(ovl4 $n b)" $((5200 + n)) "$REKEY_SECS" -b "$RATE"
	JSON[$n]=$IPERF_JSON PIDS[$n]=$IPERF_PID
done
say "${#pairs[@]} streams of $RATE for $REKEY_SECS s: ${pairs[*]}"

n=0
for p in "${pairs[@]}"; do
	n=$((n + 1))
	IPERF_JSON=${JSON[$n]} IPERF_PID=${PIDS[$n]}
	if iperf_finish "$p: TCP stream for $REKEY_SECS s"; then
		check_eq "$p: no one-second interval without data" 0 "$(iperf_stalls)"
		check_ge "$p: the stream lasted the whole run" \
			"$(jq '.end.sum_received.seconds | floor' "$IPERF_JSON")" $((REKEY_SECS - 1))
	fi
done
say "elapsed $(( $(date +%s) - start )) s"

n=0
for p in "${pairs[@]}"; do
	n=$((n + 1))
	ha=$(wg_field "$(ifname_of $n a)" "${PAIR_B_PUB[$n]}" 5)
	hb=$(wg_field "$(ifname_of $n b)" "${PAIR_A_PUB[$n]}" 5)
	say "$p: latest handshake a ${H0A[$n]} -> $ha, b ${H0B[$n]} -> $hb"
	# REKEY_AFTER_TIME is 120 s; the timestamps have one-second resolution on both implementations.
	check_ge "$p: initiator's handshake advanced by >= 119 s" $(( ${ha:-0} - ${H0A[$n]:-0} )) 119
	check "$p: ... and by less than the run length" test $(( ${ha:-0} - ${H0A[$n]:-0} )) -le "$REKEY_SECS"
	check_ge "$p: responder's handshake advanced by >= 119 s" $(( ${hb:-0} - ${H0B[$n]:-0} )) 119
	init=$(grep -c "$UA4\.$(port_of $n a) > $UB4\.$(port_of $n b): UDP, length 148" "$T_TMP/hs.txt")
	resp=$(grep -c "$UB4\.$(port_of $n b) > $UA4\.$(port_of $n a): UDP, length 92" "$T_TMP/hs.txt")
	back=$(grep -c "$UB4\.$(port_of $n b) > $UA4\.$(port_of $n a): UDP, length 148" "$T_TMP/hs.txt")
	check "$p: a sent a handshake initiation during the run (got $init)" test "$init" -ge 1 -a "$init" -le 3
	check "$p: b answered it (got $resp responses)" test "$resp" -ge 1
	check_eq "$p: b, which sends no bulk data, did not initiate" 0 "$back"
	check "$p: tunnel still works" ping_ok "$NS_B" "$(ovl4 $n a)" 2
done

lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Persistent keepalive on the wire: tshark's WireGuard dissector sees 32-byte type-4 packets once a second.
# xwg-timeout: 240
#
# Two runs: IMPL_A sends keepalives to IMPL_B, then the roles swap.  In each, after one ping the tunnel
# is idle; a capture on the sender's veth must show the sender's keepalives (transport data, type 4,
# 32 bytes of UDP payload: header 16 + empty payload + tag 16) about every second, and nothing at all
# coming back from the side without keepalive (an echo would mean keepalives are answered).

. "$(dirname "$0")/lib.sh"

CAPTURE_SECS=${CAPTURE_SECS:-6}

lib_init
need_cmd tshark ping
need_impl "$IMPL_A" "$IMPL_B"
topo_create || { nok "topology"; lib_done; }

run() {	# run N SENDER-IMPL RECEIVER-IMPL
	local n=$1 is=$2 ir=$3 tag pb pa cap count bad back med max
	tag="keepalive $is -> $ir"
	if ! pair_up "$n" "$is" "$ir" 4 a 1 -; then
		nok "$tag: instances come up"; pair_down "$n"; return
	fi
	check "$tag: ping" ping_ok "$NS_A" "$(ovl4 "$n" b)" 1
	check_eq "$tag: wg show persistent-keepalive" "every 1 second" \
		"$(wg show "$(ifname_of "$n" a)" | sed -n 's/^ *persistent keepalive: //p')"
	sleep 1
	pa=$(port_of "$n" a) pb=$(port_of "$n" b)
	cap=$T_TMP/cap$n.txt
	# On the sender's veth: an xwg receiver in an XDP mode consumes keepalives before any tap.
	nsx "$NS_A" timeout $((CAPTURE_SECS + 15)) tshark -n -l -i "$VETH_A" -f "udp port $pb" \
		-a duration:"$CAPTURE_SECS" -d "udp.port==$pb,wg" -Y wg \
		-T fields -E separator=, -e frame.time_relative -e ip.src -e udp.srcport -e wg.type -e udp.length \
		>"$cap" 2>"$T_TMP/tshark.err"
	say "capture ($CAPTURE_SECS s): $(wc -l <"$cap") WireGuard packets"
	count=$(awk -F, -v s="$UA4" -v p="$pa" '$2 == s && $3 == p && $4 == 4 && $5 == 40' "$cap" | wc -l)
	bad=$(awk -F, -v s="$UA4" '$2 == s && !($4 == 4 && $5 == 40)' "$cap" | wc -l)
	back=$(awk -F, -v s="$UB4" '$2 == s' "$cap" | wc -l)
	if [ "$count" -ge $((CAPTURE_SECS - 2)) ] && [ "$count" -le $((CAPTURE_SECS + 1)) ]; then
		ok "$tag: $count keepalives (type 4, 32-byte payload) in $CAPTURE_SECS s"
	else
		nok "$tag: $count keepalives in $CAPTURE_SECS s, expected about $CAPTURE_SECS"
		show_file "$cap" 20; show_file "$T_TMP/tshark.err" 5
	fi
	check_eq "$tag: the idle sender sends nothing but keepalives" 0 "$bad"
	check_eq "$tag: the receiver does not answer keepalives" 0 "$back"
	# Spacing between consecutive keepalives: median about 1 s, none wildly late.
	read -r med max < <(awk -F, -v s="$UA4" '$2 == s && $4 == 4 && $5 == 40 {
			if (n++) d[n - 1] = $1 - prev; prev = $1 }
		END {
			m = n - 1; if (m < 1) { print "0 0"; exit }
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (d[j] < d[i]) { t = d[i]; d[i] = d[j]; d[j] = t }
			printf "%d %d\n", d[int((m + 1) / 2)] * 1000, d[m] * 1000 }' "$cap")
	if [ "$med" -ge 800 ] && [ "$med" -le 1300 ] && [ "$max" -le 2500 ]; then
		ok "$tag: interval median ${med} ms, max ${max} ms"
	else
		nok "$tag: interval median ${med} ms, max ${max} ms (want ~1000, max <= 2500)"
	fi
	pair_down "$n"
}

run 1 "$IMPL_A" "$IMPL_B"
[ "$IMPL_A" != "$IMPL_B" ] && run 2 "$IMPL_B" "$IMPL_A"
lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Roaming: one side's underlay address changes under traffic; the other side follows it and traffic goes on.
# xwg-timeout: 240
#
# The roaming side (a) has an endpoint for the stable side (b); b learned a's endpoint from the
# handshake.  During an iperf3 run a gets a new address on its veth and loses the old one.  b must
# then show the new address in `wg show IF endpoints`, the TCP stream must survive, and a ping
# afterwards must work.  Run for IMPL_A stable / IMPL_B roaming and the other way round.

. "$(dirname "$0")/lib.sh"

RUN_SECS=${RUN_SECS:-6}
NEW4=192.0.2.11 NEW6=2001:db8:77::11

lib_init
need_cmd iperf3 jq ping
need_impl "$IMPL_A" "$IMPL_B"
topo_create || { nok "topology"; lib_done; }
iperf_server "$NS_B" 5201
# Let a secondary take over when the primary address is removed.
nsx "$NS_A" sysctl -qw "net.ipv4.conf.$VETH_A.promote_secondaries=1"

# run N ROAMING-IMPL STABLE-IMPL FAMILY
run() {
	local n=$1 ir=$2 is=$3 fam=$4 tag ifb old new len ep want stalls
	tag="$ir(a) roams v$fam, $is(b) follows"
	if [ "$fam" = 6 ]; then old=$UA6 new=$NEW6 len=$U6LEN; else old=$UA4 new=$NEW4 len=$U4LEN; fi
	if ! pair_up "$n" "$ir" "$is" "$fam" a; then
		nok "$tag: instances come up"; pair_down "$n"; return
	fi
	ifb=$(ifname_of "$n" b)
	check "$tag: ping before" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	want=$([ "$fam" = 6 ] && echo "[$old]" || echo "$old"):$(port_of "$n" a)
	check_eq "$tag: b sees a's old address" "$want" "$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 3)"

	iperf_start "$NS_A" "$(ovl4 "$n" b)" 5201 "$RUN_SECS"
	sleep 2
	ip -n "$NS_A" addr add "$new/$len" dev "$VETH_A" $([ "$fam" = 6 ] && echo nodad)
	ip -n "$NS_A" addr del "$old/$len" dev "$VETH_A"
	say "moved a from $old to $new"
	if iperf_finish "$tag: iperf3 across the address change"; then
		stalls=$(iperf_stalls)
		if [ "$ir" = wireguard-go ]; then
			# Observed: wireguard-go 0.0.20220316 logs "network is unreachable" for seconds after its
			# cached (sticky) IPv4 source address disappears, so it stalls when it is the side that roams.
			say "$tag: $stalls empty one-second intervals (not asserted: wireguard-go roaming)"
		else
			check "$tag: at most one empty one-second interval (got $stalls)" test "$stalls" -le 1
		fi
	fi
	want=$([ "$fam" = 6 ] && echo "[$new]" || echo "$new"):$(port_of "$n" a)
	ep=$(wg_field "$ifb" "${PAIR_A_PUB[$n]}" 3)
	check_eq "$tag: b's endpoint for a follows to the new address" "$want" "$ep"
	check "$tag: ping after" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check "$tag: ping after, from b" ping_ok "$NS_B" "$(ovl4 "$n" a)" 2
	# Put a back for the next run.
	ip -n "$NS_A" addr add "$old/$len" dev "$VETH_A" $([ "$fam" = 6 ] && echo nodad)
	ip -n "$NS_A" addr del "$new/$len" dev "$VETH_A"
	pair_down "$n"
}

run 1 "$IMPL_B" "$IMPL_A" 4
run 2 "$IMPL_A" "$IMPL_B" 4
run 3 "$IMPL_B" "$IMPL_A" 6
[ "$IMPL_A" != "$IMPL_B" ] && run 4 "$IMPL_A" "$IMPL_B" 6
lib_done

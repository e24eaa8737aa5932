#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Interop matrix: xwg <-> wireguard-go and xwg <-> xwg, each side initiating, IPv4/IPv6 underlay and overlay.
# xwg-timeout: 900
#
# Environment: IMPL_A (default xwg), IMPL_B (default wireguard-go); PAIRS overrides the list of
# "A:B" implementation pairs (default "IMPL_A:IMPL_B IMPL_A:IMPL_A"); LONG_SECS is the one full-length
# iperf3 run per direction (default 10), SHORT_SECS the others (default 2); XWG_MODES, when set, adds a
# short run of the first pair per listed xwg mode (written as "Mode = ..." into the xwg configs).

. "$(dirname "$0")/lib.sh"

LONG_SECS=${LONG_SECS:-10}
SHORT_SECS=${SHORT_SECS:-2}
PAIRS=${PAIRS:-"$IMPL_A:$IMPL_B $IMPL_A:$IMPL_A"}
XWG_MODES=${XWG_MODES:-}

lib_init
need_cmd iperf3 jq ping
for pair in $PAIRS; do need_impl "${pair%%:*}" "${pair##*:}"; done
topo_create || { nok "topology"; lib_done; }
iperf_server "$NS_A" 5201
iperf_server "$NS_B" 5201

N=0
LONG_DONE=0

# One setup: fresh instances, only INIT has an endpoint; FAM is the underlay; SECS the iperf3 length.
run_case() {
	local ia=$1 ib=$2 fam=$3 init=$4 secs=$5 ovl=$6
	local n tag ifa ifb ns_i ns_r side_r if_i if_r pub_i pub_r dst dst4 dst6 ep hs_i hs_r rx0 rx1
	N=$((N + 1)); n=$N
	tag="$ia(a) <-> $ib(b), underlay v$fam, $init initiates"
	say "--- $tag"
	if ! pair_up "$n" "$ia" "$ib" "$fam" "$init"; then
		nok "$tag: instances come up"
		pair_down "$n"
		return
	fi
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	if [ "$init" = a ]; then
		ns_i=$NS_A ns_r=$NS_B side_r=b if_i=$ifa if_r=$ifb pub_i=${PAIR_A_PUB[$n]} pub_r=${PAIR_B_PUB[$n]}
		ep=$([ "$fam" = 6 ] && echo "[$UA6]" || echo "$UA4"):$(port_of "$n" a)
	else
		ns_i=$NS_B ns_r=$NS_A side_r=a if_i=$ifb if_r=$ifa pub_i=${PAIR_B_PUB[$n]} pub_r=${PAIR_A_PUB[$n]}
		ep=$([ "$fam" = 6 ] && echo "[$UB6]" || echo "$UB4"):$(port_of "$n" b)
	fi
	dst4=$(ovl4 "$n" "$side_r") dst6=$(ovl6 "$n" "$side_r")

	check "$tag: ping IPv4 overlay" ping_ok "$ns_i" "$dst4"
	check "$tag: ping IPv6 overlay" ping_ok "$ns_i" "$dst6"
	# Full-MTU packets with DF set: 1420 - 28 (IPv4+ICMP) and 1420 - 48 (IPv6+ICMPv6).
	check "$tag: 1420-byte IPv4 packets, DF" nsx "$ns_i" ping -M do -s 1392 -c 2 -i 0.2 -w 5 -q "$dst4"
	check "$tag: 1420-byte IPv6 packets" nsx "$ns_i" ping -M do -s 1372 -c 2 -i 0.2 -w 5 -q "$dst6"
	check "$tag: responder pings back" ping_ok "$ns_r" "$(ovl4 "$n" "$([ "$side_r" = a ] && echo b || echo a)")" 2

	hs_i=$(wg_field "$if_i" "$pub_r" 5) hs_r=$(wg_field "$if_r" "$pub_i" 5)
	check_re "$tag: initiator's latest handshake is set" '^[1-9][0-9]*$' "$hs_i"
	check_re "$tag: responder's latest handshake is set" '^[1-9][0-9]*$' "$hs_r"
	check_eq "$tag: responder learned the initiator's endpoint" "$ep" "$(wg_field "$if_r" "$pub_i" 3)"

	dst=$([ "$ovl" = 6 ] && echo "$dst6" || echo "$dst4")
	rx0=$(wg_field "$if_r" "$pub_i" 6)
	if iperf_check "$tag: iperf3 ${secs}s initiator -> responder (IPv$ovl overlay)" "$ns_i" "$dst" 5201 "$secs"; then
		rx1=$(wg_field "$if_r" "$pub_i" 6)
		check_ge "$tag: responder's rx counter grew by at least the iperf3 bytes" \
			"$(( ${rx1:-0} - ${rx0:-0} ))" "$IPERF_BYTES"
	fi
	iperf_check "$tag: iperf3 ${secs}s responder -> initiator (IPv$ovl overlay, -R)" "$ns_i" "$dst" 5201 "$secs" -R
	pair_down "$n"
}

for pair in $PAIRS; do
	ia=${pair%%:*} ib=${pair##*:}
	for fam in 4 6; do
		for init in a b; do
			secs=$SHORT_SECS
			if [ $LONG_DONE = 0 ]; then secs=$LONG_SECS; LONG_DONE=1; fi
			# Alternate the overlay family used for bulk traffic across the four setups.
			ovl=$([ "$fam$init" = 4a ] || [ "$fam$init" = 6b ] && echo 4 || echo 6)
			run_case "$ia" "$ib" "$fam" "$init" "$secs" "$ovl"
		done
	done
done

first=${PAIRS%% *}
for mode in $XWG_MODES; do
	XWG_MODE=$mode run_case "${first%%:*}" "${first##*:}" 4 a "$SHORT_SECS" 4
done

lib_done

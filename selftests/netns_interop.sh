#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Interop matrix: xwg <-> wireguard-go and xwg <-> xwg, each side initiating, IPv4/IPv6 underlay and overlay.
# xwg-timeout: 900
#
# Environment: IMPL_A (default xwg), IMPL_B (default wireguard-go); PAIRS overrides the list of
# "A:B" implementation pairs (default "IMPL_A:IMPL_B IMPL_A:IMPL_A"); LONG_SECS is the one full-length
# iperf3 run per direction (default 10), SHORT_SECS the others (default 1).  XWG_MODES lists the xwg
# data-path modes to run the matrix in (`xwg up --mode`; default "auto tun tc xdp-generic xdp"): the
# first one runs the full matrix, the others the pairs involving xwg, with xwg <-> xwg on two setups.
# A mode this machine lacks (the runner's probe) is skipped with the reason; a refused one fails.

. "$(dirname "$0")/lib.sh"

LONG_SECS=${LONG_SECS:-10}
SHORT_SECS=${SHORT_SECS:-1}
PAIRS=${PAIRS:-"$IMPL_A:$IMPL_B $IMPL_A:$IMPL_A"}
XWG_MODES=${XWG_MODES:-auto tun tc xdp-generic xdp}

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
	local n tag ifa ifb ns_i ns_r side_r if_i if_r pub_i pub_r dst dst4 dst6 ep hs_i hs_r rx0 rx1 i
	N=$((N + 1)); n=$N
	tag="$ia(a) <-> $ib(b)"
	[ -n "$XWG_MODE" ] && [ "$ia$ib" != "${ia#xwg}${ib#xwg}" ] && tag="$tag [mode $XWG_MODE]"
	tag="$tag, underlay v$fam, $init initiates"
	say "--- $tag"
	if ! pair_up "$n" "$ia" "$ib" "$fam" "$init"; then
		# The runner's probe said this machine has the mode (else the loop below skipped it).
		nok "$tag: instances come up"
		pair_down "$n"
		return
	fi
	if [ -n "$XWG_MODE" ] && [ "$XWG_MODE" != auto ]; then
		for i in a b; do
			[ "${INST_IMPL[$(ifname_of "$n" $i)]}" = xwg ] || continue
			check_eq "$tag: xwg show reports data path $XWG_MODE on $i" "$XWG_MODE" \
				"$(nsx "$([ $i = a ] && echo "$NS_A" || echo "$NS_B")" "$XWG" show "$(ifname_of "$n" $i)" |
					sed -n 's/^ *data path: \([^ ]*\).*/\1/p')"
		done
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
	check "$tag: 1420-byte IPv4 packets, DF" nsx "$ns_i" ping -M "do" -s 1392 -c 2 -i 0.2 -w 5 -q "$dst4"
	check "$tag: 1420-byte IPv6 packets" nsx "$ns_i" ping -M "do" -s 1372 -c 2 -i 0.2 -w 5 -q "$dst6"
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

first_mode=1
for mode in $XWG_MODES; do
	XWG_MODE=$mode
	if ! mode_supported "$mode"; then
		skip "xwg mode $mode" "this machine lacks it: $(mode_missing_why "$mode")"
		continue
	fi
	for pair in $PAIRS; do
		ia=${pair%%:*} ib=${pair##*:}
		# Later modes only matter where xwg runs.
		[ $first_mode = 0 ] && [ "$ia" != xwg ] && [ "$ib" != xwg ] && continue
		for case in 4a 4b 6a 6b; do
			fam=${case%?} init=${case#?}
			[ $first_mode = 0 ] && [ "$ia" = "$ib" ] && [ "$case" != 4a ] && [ "$case" != 6b ] && continue
			secs=$SHORT_SECS
			if [ $LONG_DONE = 0 ]; then secs=$LONG_SECS; LONG_DONE=1; fi
			# Alternate the overlay family used for bulk traffic across the four setups.
			ovl=$([ "$case" = 4a ] || [ "$case" = 6b ] && echo 4 || echo 6)
			run_case "$ia" "$ib" "$fam" "$init" "$secs" "$ovl"
		done
	done
	first_mode=0
	# With wireguard-go alone there is no mode to vary.
	case " $PAIRS " in *xwg*) ;; *) break ;; esac
done

lib_done

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Wrong keys never complete a handshake: wrong peer public key (either side) or mismatched preshared key.
# xwg-timeout: 240
#
# For each case, the initiator must actually send handshake initiations (tx > 0), no handshake may
# complete on either side (latest handshake 0, ping fails); then the key is corrected with `wg set`
# and the same tunnel must work, which shows the failure was the key and nothing else.

. "$(dirname "$0")/lib.sh"

lib_init
need_cmd ping
need_impl "$IMPL_A" "$IMPL_B"
topo_create || { nok "topology"; lib_done; }

# expect_no_handshake TAG N INIT(a|b)
expect_no_handshake() {
	local tag=$1 n=$2 init=$3 ifa ifb ns_i dst if_i pub_i_view
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	if [ "$init" = a ]; then ns_i=$NS_A dst=$(ovl4 "$n" b) if_i=$ifa; else ns_i=$NS_B dst=$(ovl4 "$n" a) if_i=$ifb; fi
	check_fails "$tag: ping fails" nsx "$ns_i" ping -c 3 -i 0.5 -w 4 -q "$dst"
	pub_i_view=$(wg show "$if_i" peers | head -n 1)
	check_ge "$tag: initiator sent handshake initiations (tx bytes)" "$(wg_field "$if_i" "$pub_i_view" 7)" 148
	check_eq "$tag: $ifa latest handshake stays 0" 0 \
		"$(wg show "$ifa" latest-handshakes | awk '{ s += $2 } END { print s + 0 }')"
	check_eq "$tag: $ifb latest handshake stays 0" 0 \
		"$(wg show "$ifb" latest-handshakes | awk '{ s += $2 } END { print s + 0 }')"
	check_eq "$tag: initiator received nothing" 0 "$(wg_field "$if_i" "$pub_i_view" 6)"
}

# fix_key IFNAME WRONG-PUB RIGHT-PUB ALLOWED [ENDPOINT]: replaces a peer through `wg set`.
fix_key() {
	wg set "$1" peer "$2" remove peer "$3" allowed-ips "$4" ${5:+endpoint "$5"}
}

n=0
for tested in "$IMPL_A:$IMPL_B" "$IMPL_B:$IMPL_A"; do
	ia=${tested%%:*} ib=${tested##*:}
	[ $n -gt 0 ] && [ "$IMPL_A" = "$IMPL_B" ] && break

	# a holds a wrong public key for b and initiates: b drops the initiation (mac1 is keyed to b's key).
	n=$((n + 1)); tag="$ia(a) has a wrong key for $ib(b), a initiates"
	if PAIR_PSK=0 PAIR_WRONG_KEY_FOR_B=1 pair_up $n "$ia" "$ib" 4 a; then
		expect_no_handshake "$tag" $n a
		ifa=$(ifname_of $n a)
		fix_key "$ifa" "$(wg show "$ifa" peers)" "${PAIR_B_PUB[$n]}" "$(ovl4 $n b)/32" "$UB4:$(port_of $n b)"
		check "$tag: works once the key is fixed with wg set" ping_ok "$NS_A" "$(ovl4 $n b)"
	else
		nok "$tag: instances come up"
	fi
	pair_down $n

	# b initiates towards a, which holds a wrong key for b: a must reject an initiator it does not know.
	n=$((n + 1)); tag="$ia(a) has a wrong key for $ib(b), b initiates"
	if PAIR_PSK=0 PAIR_WRONG_KEY_FOR_B=1 pair_up $n "$ia" "$ib" 4 b; then
		expect_no_handshake "$tag" $n b
		ifa=$(ifname_of $n a)
		fix_key "$ifa" "$(wg show "$ifa" peers)" "${PAIR_B_PUB[$n]}" "$(ovl4 $n b)/32"
		check "$tag: works once the key is fixed with wg set" ping_ok "$NS_B" "$(ovl4 $n a)"
	else
		nok "$tag: instances come up"
	fi
	pair_down $n

	# Mismatched preshared keys: the initiator cannot open the response, so no session.
	n=$((n + 1)); tag="$ia(a) and $ib(b) disagree on the preshared key, a initiates"
	if pair_up $n "$ia" "$ib" 4 a; then
		ifa=$(ifname_of $n a)
		wg genpsk >"$T_TMP/psk.bad"
		wg set "$ifa" peer "${PAIR_B_PUB[$n]}" preshared-key "$T_TMP/psk.bad"
		check_fails "$tag: ping fails" nsx "$NS_A" ping -c 3 -i 0.5 -w 4 -q "$(ovl4 $n b)"
		check_eq "$tag: initiator's latest handshake stays 0" 0 "$(wg_field "$ifa" "${PAIR_B_PUB[$n]}" 5)"
		check_eq "$tag: no data reaches the responder's tunnel" 0 \
			"$(nsx "$NS_B" cat "/sys/class/net/$(ifname_of $n b)/statistics/rx_packets")"
		wg show "$(ifname_of $n b)" preshared-keys | cut -f2 >"$T_TMP/psk.good"
		wg set "$ifa" peer "${PAIR_B_PUB[$n]}" preshared-key "$T_TMP/psk.good"
		check "$tag: works once the keys agree" ping_ok "$NS_A" "$(ovl4 $n b)"
	else
		nok "$tag: instances come up"
	fi
	pair_down $n
done

lib_done

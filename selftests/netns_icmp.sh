#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packets into the tunnel that no peer, or no endpoint, can take get ICMP / ICMPv6 destination unreachable back.
# xwg-timeout: 240
#
# In every data path mode this machine supports (tun, tc, xdp, xdp-generic, auto), a pair of xwg instances:
# from a, `ping -c1 -W2` to an address of the tunnel's subnet that no peer owns prints "Destination Host
# Unreachable" (IPv4) and "Address unreachable" (IPv6), and so does an address owned by a peer that has
# allowed IPs but no endpoint and was never heard from; a TCP connect there fails at once with "No route to
# host"; the agent counts them (AGENT_UNROUTABLE, AGENT_ICMP_UNREACH in `xwg show --json`); pings to b work
# before and after. A host c behind a (a forwards) gets the same errors for its own pings: the IPv4 error
# is routed there by a's stack, the IPv6 one forwarded from the tunnel.
# A supported mode xwg refuses is a failure, a mode the machine lacks is skipped.

. "$(dirname "$0")/lib.sh"

ICMP_MODES=${ICMP_MODES:-tun tc xdp xdp-generic auto}

lib_init
need_cmd ping jq timeout
need_impl xwg
topo_create || { nok "topology"; lib_done; }

# c: a host on a LAN behind a, routed through a into the tunnel.
NS_C=$P-c C4=198.51.100.2 C6=2001:db8:c::2
c_up() {
	ns_create "$NS_C" || return 1
	ip link add "${P}vc" netns "$NS_C" type veth peer name "${P}vac" netns "$NS_A" || return 1
	ip -n "$NS_A" addr add 198.51.100.1/24 dev "${P}vac" && ip -n "$NS_A" addr add 2001:db8:c::1/64 dev "${P}vac" nodad &&
		ip -n "$NS_C" addr add "$C4/24" dev "${P}vc" && ip -n "$NS_C" addr add "$C6/64" dev "${P}vc" nodad &&
		ip -n "$NS_A" link set "${P}vac" up && ip -n "$NS_C" link set "${P}vc" up &&
		ip -n "$NS_C" route add default via 198.51.100.1 && ip -n "$NS_C" -6 route add default via 2001:db8:c::1 &&
		nsx "$NS_A" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}
c_up || { nok "host behind a"; lib_done; }

# unreach NS DST PATTERN [PING-OPTION]: one ping to DST fails within its 2 s and prints PATTERN (the ICMP error's).
unreach() {
	local out
	out=$(nsx "$1" ping -c1 -W2 ${4:-} "$2" 2>&1)
	printf '%s\n' "$out"
	printf '%s' "$out" | grep -q "$3"
}

# refused_fast NS ADDR: a TCP connect to ADDR fails with "No route to host" (the error, not a timeout).
refused_fast() {
	local out
	out=$(nsx "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/80" 2>&1)
	printf '%s\n' "$out"
	printf '%s' "$out" | grep -q "No route to host"
}

reason() {	# reason N KEY: a's counter KEY from xwg show --json
	nsx "$NS_A" "$XWG" show "$(ifname_of "$1" a)" --json 2>/dev/null | jq -r --arg k "$2" '.reasons[$k] // 0'
}

run() {	# run N MODE
	local n=$1 mode=$2 tag="$2" ifa nopeer4 nopeer6 noep4 noep6 before
	if ! mode_supported "$mode"; then
		skip "$tag" "this machine lacks mode $mode: $(mode_missing_why "$mode")"
		return
	fi
	if ! XWG_MODE=$mode pair_up "$n" xwg xwg 4 a; then
		nok "$tag: instances come up"; pair_down "$n"; return
	fi
	ifa=$(ifname_of "$n" a)
	nopeer4=10.78.$n.99 nopeer6=fd78:$(printf %x "$n")::99
	noep4=10.78.$n.50 noep6=fd78:$(printf %x "$n")::50
	check "$tag: ping b (IPv4)" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check "$tag: ping b (IPv6)" ping_ok "$NS_A" "$(ovl6 "$n" b)" 2
	# From a's own tunnel address: the error comes from this host, as the kernel's WireGuard sends it.
	check "$tag: no peer, IPv4: Destination Host Unreachable" unreach "$NS_A" "$nopeer4" \
		"From $(ovl4 "$n" a) icmp_seq=1 Destination Host Unreachable"
	check "$tag: no peer, IPv6: Address unreachable" unreach "$NS_A" "$nopeer6" \
		"From $(ovl6 "$n" a) icmp_seq=1 Destination unreachable: Address unreachable"
	check "$tag: no peer, TCP connect: No route to host" refused_fast "$NS_A" "$nopeer4"
	# A peer with allowed IPs and no endpoint, never heard from.
	check "$tag: add a peer without endpoint" nsx "$NS_A" wg set "$ifa" peer "$(wg genkey | wg pubkey)" \
		allowed-ips "$noep4/32,$noep6/128"
	check "$tag: no endpoint, IPv4: Destination Host Unreachable" unreach "$NS_A" "$noep4" "Destination Host Unreachable"
	check "$tag: no endpoint, IPv6: Address unreachable" unreach "$NS_A" "$noep6" "Address unreachable"
	check_ge "$tag: AGENT_UNROUTABLE counted" "$(reason "$n" AGENT_UNROUTABLE)" 5
	check_ge "$tag: AGENT_ICMP_UNREACH counted" "$(reason "$n" AGENT_ICMP_UNREACH)" 5
	# The subnet's broadcast address has no peer either, and must never be answered.
	before=$(reason "$n" AGENT_ICMP_UNREACH)
	check_fails "$tag: subnet broadcast: no error comes back" unreach "$NS_A" "10.78.$n.255" "Unreachable" -b
	check_eq "$tag: ... and none was sent" "$before" "$(reason "$n" AGENT_ICMP_UNREACH)"
	# In BPF modes xwg_tx hands them up rather than dropping them.
	if [ "$mode" != tun ]; then
		check_ge "$tag: BPF passed the no-peer packets up (TX_NO_PEER)" "$(reason "$n" TX_NO_PEER)" 3
		check_ge "$tag: BPF passed the no-endpoint packets up (TX_NO_ENDPOINT)" "$(reason "$n" TX_NO_ENDPOINT)" 2
	fi
	nsx "$NS_A" "$XWG" show "$ifa" | grep -E 'AGENT_|TX_NO' | sed 's/^/# /'
	check "$tag: from c behind a, IPv4: Destination Host Unreachable" unreach "$NS_C" "$nopeer4" \
		"From $(ovl4 "$n" a) icmp_seq=1 Destination Host Unreachable"
	check "$tag: from c behind a, IPv6: Address unreachable" unreach "$NS_C" "$nopeer6" \
		"From $(ovl6 "$n" a) icmp_seq=1 Destination unreachable: Address unreachable"
	check "$tag: ping b (IPv4) still works" ping_ok "$NS_A" "$(ovl4 "$n" b)" 2
	check "$tag: ping b (IPv6) still works" ping_ok "$NS_A" "$(ovl6 "$n" b)" 2
	pair_down "$n"
}

n=0
for m in $ICMP_MODES; do
	n=$((n + 1))
	run "$n" "$m"
done
lib_done

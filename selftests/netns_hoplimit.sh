#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The outer TTL / hop limit of BPF-encrypted packets is the route's, as the kernel's sockets would use.
# xwg-timeout: 180
#
# a (xwg in xdp mode) reaches b (IMPL_B) over routes to b's underlay address that carry a hoplimit
# metric (IPv4 33, IPv6 44). After pings over the tunnel, a capture on a's veth must show every data
# message from a with exactly that TTL / hop limit, and xwg's TX_OK counter must prove BPF sent them.
# Then the routes lose the metric and a's net.ipv4.ip_default_ttl becomes 99: a new instance sends with 99.

. "$(dirname "$0")/lib.sh"

lib_init
need_cmd tshark ping jq
need_impl xwg "$IMPL_B"
topo_create || { nok "topology"; lib_done; }

# capture_ttls N FAM: the distinct outer TTLs (hop limits) of a's data messages while a pings b.
capture_ttls() {
	local n=$1 fam=$2 cap=$T_TMP/cap$1-$2.txt pb field src filter
	pb=$(port_of "$n" b)
	if [ "$fam" = 6 ]; then field=ipv6.hlim src=$UA6 filter="ip6 and udp dst port $pb"
	else field=ip.ttl src=$UA4 filter="ip and udp dst port $pb"; fi
	: >"$T_TMP/tshark.err"
	nsx "$NS_A" timeout 30 tshark -n -l -i "$VETH_A" -f "$filter" -a duration:8 -d "udp.port==$pb,wg" \
		-Y "wg.type == 4 && udp.length > 40" -T fields -e "$field" >"$cap" 2>"$T_TMP/tshark.err" &
	local pid=$!
	wait_for 15 grep -q "Capture started" "$T_TMP/tshark.err"
	sleep 0.5
	nsx "$NS_A" ping -c 5 -i 0.2 -q "$(ovl4 "$n" b)" >/dev/null 2>&1
	wait "$pid"
	sort -u "$cap" | tr '\n' ' ' | sed 's/ $//'
}

tx_ok() {	# tx_ok N: a's TX_OK counter
	nsx "$NS_A" "$XWG" show "$(ifname_of "$1" a)" --json 2>/dev/null | jq -r '.reasons.TX_OK // 0'
}

run() {	# run N FAM WANT
	local n=$1 fam=$2 want=$3 tag="IPv$2 underlay" before after ttls
	if ! XWG_MODE_A=xdp pair_up "$n" xwg "$IMPL_B" "$fam" a; then
		nok "$tag: instances come up"; pair_down "$n"; return
	fi
	check "$tag: ping" ping_ok "$NS_A" "$(ovl4 "$n" b)" 1
	before=$(tx_ok "$n")
	ttls=$(capture_ttls "$n" "$fam")
	after=$(tx_ok "$n")
	check_eq "$tag: outer TTL / hop limit of a's data messages" "$want" "$ttls"
	[ "$ttls" = "$want" ] || show_file "$T_TMP/tshark.err" 5
	check_ge "$tag: BPF encrypted them (TX_OK $before -> $after)" $((after - before)) 5
	pair_down "$n"
}

ip -n "$NS_A" route add "$UB4/32" dev "$VETH_A" hoplimit 33
ip -n "$NS_A" -6 route add "$UB6/128" dev "$VETH_A" hoplimit 44
run 1 4 33
run 2 6 44
ip -n "$NS_A" route del "$UB4/32" dev "$VETH_A"
nsx "$NS_A" sysctl -qw net.ipv4.ip_default_ttl=99
run 3 4 99
lib_done

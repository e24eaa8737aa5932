#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# UAPI compatibility: `wg show/set/setconf/addconf/syncconf/showconf` against IMPL_A give what wireguard-go gives.
# xwg-timeout: 300
#
# The implementation under test (IMPL_A, default xwg) and a wireguard-go reference run the same
# configuration in two namespaces; after every operation, applied identically to both, `wg show dump`
# must agree field by field (peers sorted by key, allowed IPs as a set; handshake time and transfer
# counters only need the same shape, as their values legitimately differ).

. "$(dirname "$0")/lib.sh"

lib_init
need_cmd perl
need_impl "$IMPL_A" wireguard-go
topo_create || { nok "topology"; lib_done; }

X=${P}ut G=${P}ur	# under test, reference
PORT=51900

keys_new K; keys_new K2; keys_new P1; keys_new P2; keys_new P3; keys_new P4; keys_new P5
PSK1=$(wg genpsk)
printf '%s\n' "$PSK1" >"$T_TMP/psk1"
printf '%s\n' "$K2_PRIV" >"$T_TMP/k2"

for ifn in "$X" "$G"; do
	conf_iface "$ifn" "$K_PRIV" "$PORT" "10.79.0.1/24"
	# Host bits on purpose: both must store the masked prefix.
	conf_peer "$ifn" "$P1_PUB" "10.90.1.7/24, fd90:1::/64, 10.90.9.9/32" "192.0.2.77:51000" 25 "$PSK1"
	conf_peer "$ifn" "$P2_PUB" "10.90.2.0/24" "[2001:db8:77::99]:4242"
	conf_peer "$ifn" "$P3_PUB" ""
done
inst_up "$IMPL_A" "$NS_A" "$X" || { nok "$IMPL_A comes up"; lib_done; }
inst_up wireguard-go "$NS_B" "$G" || { nok "wireguard-go comes up"; lib_done; }

# A dump normalised for comparison: interface line, then peers sorted by key with allowed IPs sorted
# and the three run-time columns replaced by their shape.
norm_dump() {
	wg show "$1" dump | awk -F'\t' -v OFS='\t' '
		NR == 1 { print "I", $1, $2, $3, $4; next }
		{
			n = split($4, a, ","); s = ""
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") a[i]
			for (c = 5; c <= 7; c++) $c = ($c ~ /^[0-9]+$/) ? "<n>" : "BAD(" $c ")"
			print "P", $1, $2, $3, s, $5, $6, $7, $8
		}' | sort
}

# compare DESC: the two dumps must be identical once normalised; shows a diff when they are not.
compare() {
	local desc=$1
	if ! norm_dump "$X" >"$T_TMP/x.dump" 2>"$T_TMP/x.err"; then
		nok "$desc: wg show $X dump"; show_file "$T_TMP/x.err"; return
	fi
	norm_dump "$G" >"$T_TMP/g.dump"
	if [ ! -s "$T_TMP/x.dump" ]; then
		nok "$desc: empty dump"
	elif diff -u "$T_TMP/g.dump" "$T_TMP/x.dump" >"$T_TMP/dump.diff"; then
		ok "$desc"
	else
		nok "$desc: dump differs from wireguard-go (- wireguard-go, + $IMPL_A)"
		show_file "$T_TMP/dump.diff" 40
	fi
}

# both CMD...: runs `wg CMD` with IFNAME replaced, against both instances; both must succeed.
both() {
	local ifn args a rc=0
	for ifn in "$X" "$G"; do
		args=()
		for a in "$@"; do args+=("${a//IFNAME/$ifn}"); done
		wg "${args[@]}" >"$T_TMP/both.out" 2>&1 || { say "wg ${args[*]} failed:"; show_file "$T_TMP/both.out"; rc=1; }
	done
	return $rc
}

# step DESC CMD...: applies a wg command to both, then compares.
step() {
	local desc=$1; shift
	if both "$@"; then compare "$desc"; else nok "$desc: command failed"; fi
}

compare "initial config: dump matches"
check_eq "masked allowed IP" "10.90.1.0/24" \
	"$(wg_field "$X" "$P1_PUB" 4 | tr ',' '\n' | grep '^10\.90\.1\.')"
check_eq "IPv6 endpoint format" "[2001:db8:77::99]:4242" "$(wg_field "$X" "$P2_PUB" 3)"
check_eq "public key derived from private key" "$K_PUB" "$(wg show "$X" public-key)"
check_eq "listen-port" "$PORT" "$(wg show "$X" listen-port)"

# Every `wg show IF <field>` form, compared as sorted text.
for f in public-key private-key listen-port fwmark peers preshared-keys endpoints allowed-ips \
	persistent-keepalive; do
	a=$(wg show "$X" "$f" 2>&1 | tr -s ' \t' '\n' | sort) b=$(wg show "$G" "$f" 2>&1 | tr -s ' \t' '\n' | sort)
	check_eq "wg show IF $f" "$b" "$a"
done
wg show "$X" >"$T_TMP/pretty" 2>&1
check "wg show IF (pretty) names the interface and key" \
	sh -c "grep -qxF 'interface: $X' '$T_TMP/pretty' && grep -qF '  public key: $K_PUB' '$T_TMP/pretty'"
check_re "wg show interfaces lists it" "(^| )$X( |$)" "$(wg show interfaces | tr '\n' ' ')"

step "wg set fwmark" set IFNAME fwmark 0x2a
check_eq "fwmark reads back" "0x2a" "$(wg show "$X" fwmark)"
step "wg set fwmark 0 (off)" set IFNAME fwmark 0
step "wg set: add a peer" set IFNAME peer "$P4_PUB" allowed-ips 10.90.4.0/24,fd90:4::/64 \
	endpoint 192.0.2.44:4444 persistent-keepalive 10
step "wg set: keepalive off" set IFNAME peer "$P1_PUB" persistent-keepalive off
check_eq "keepalive off reads back" "off" "$(wg_field "$X" "$P1_PUB" 8)"
step "wg set: keepalive 15" set IFNAME peer "$P1_PUB" persistent-keepalive 15
step "wg set: replace allowed IPs" set IFNAME peer "$P2_PUB" allowed-ips 10.90.22.0/24,fd90:22::/64
step "wg set: empty allowed IPs" set IFNAME peer "$P4_PUB" allowed-ips ""
step "wg set: an allowed IP moves to another peer" set IFNAME peer "$P4_PUB" allowed-ips 10.90.9.9/32
check_eq "moved IP left the old peer" "" \
	"$(wg_field "$X" "$P1_PUB" 4 | tr ',' '\n' | grep -x '10.90.9.9/32')"
step "wg set: new endpoint (IPv6)" set IFNAME peer "$P1_PUB" endpoint "[2001:db8:77::55]:6000"
step "wg set: remove preshared key" set IFNAME peer "$P1_PUB" preshared-key /dev/null
step "wg set: set preshared key" set IFNAME peer "$P2_PUB" preshared-key "$T_TMP/psk1"
step "wg set: remove a peer" set IFNAME peer "$P3_PUB" remove
check_eq "removed peer is gone" "" "$(wg show "$X" peers | grep -x "$P3_PUB")"
step "wg set: several peers at once" set IFNAME peer "$P3_PUB" allowed-ips 10.90.3.0/24 peer "$P4_PUB" remove
step "wg set: listen-port" set IFNAME listen-port $((PORT + 1))
check "new listen port is bound" sh -c "ip netns exec '$NS_A' ss -lun | grep -q ':$((PORT + 1)) '"
step "wg set: private key" set IFNAME private-key "$T_TMP/k2"
check_eq "public key follows the new private key" "$K2_PUB" "$(wg show "$X" public-key)"

# setconf replaces everything; addconf appends; syncconf converges.
cat >"$T_TMP/set.conf" <<EOF
[Interface]
PrivateKey = $K_PRIV
ListenPort = $((PORT + 2))
FwMark = 0x99

[Peer]
PublicKey = $P5_PUB
AllowedIPs = 10.91.5.0/24
Endpoint = 192.0.2.55:5555

[Peer]
PublicKey = $P1_PUB
PresharedKey = $PSK1
AllowedIPs = 10.91.1.0/24, fd91:1::/64
PersistentKeepalive = 7
EOF
step "wg setconf replaces the configuration" setconf IFNAME "$T_TMP/set.conf"
check_eq "setconf dropped the other peers" 2 "$(wg show "$X" peers | wc -l)"

cat >"$T_TMP/add.conf" <<EOF
[Peer]
PublicKey = $P2_PUB
AllowedIPs = 10.91.2.0/24
EOF
step "wg addconf appends a peer" addconf IFNAME "$T_TMP/add.conf"

cat >"$T_TMP/sync.conf" <<EOF
[Interface]
PrivateKey = $K_PRIV
ListenPort = $((PORT + 2))

[Peer]
PublicKey = $P1_PUB
PresharedKey = $PSK1
AllowedIPs = 10.91.1.0/24
PersistentKeepalive = 7

[Peer]
PublicKey = $P3_PUB
AllowedIPs = 10.91.3.0/24, fd91:3::/64
Endpoint = [2001:db8:77::33]:3333
EOF
step "wg syncconf converges to the file" syncconf IFNAME "$T_TMP/sync.conf"

# showconf: same sections and values (peers and allowed IPs compared as sets).
norm_showconf() {
	wg showconf "$1" | awk '
		/^\[/ { if (sec != "") print sec; sec = $0; next }
		/=/ {
			k = $0; sub(/[ \t]*=.*/, "", k); v = $0; sub(/^[^=]*=[ \t]*/, "", v)
			if (k == "AllowedIPs") {
				n = split(v, a, /, */); v = ""
				for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
				for (i = 1; i <= n; i++) v = v (i > 1 ? "," : "") a[i]
			}
			sec = sec " " k "=" v
		}
		END { if (sec != "") print sec }' | sort
}
if norm_showconf "$X" >"$T_TMP/x.sc" 2>&1 && norm_showconf "$G" >"$T_TMP/g.sc" && [ -s "$T_TMP/x.sc" ] &&
		diff -u "$T_TMP/g.sc" "$T_TMP/x.sc" >"$T_TMP/sc.diff"; then
	ok "wg showconf matches wireguard-go"
else
	nok "wg showconf matches wireguard-go"
	show_file "$T_TMP/sc.diff" 30
fi
# And what showconf prints must set up an identical device.
wg showconf "$X" >"$T_TMP/round.conf" 2>/dev/null
step "wg setconf of showconf's output changes nothing" setconf IFNAME "$T_TMP/round.conf"

# Raw protocol: malformed requests get a non-zero errno (wireguard-go sends -EINVAL, the kernel-side
# tools accept either sign), and the agent keeps serving.
uapi() {	# uapi IFNAME 'REQUEST' (with \n escapes): prints the reply
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		(my $r = $ARGV[1]) =~ s/\\n/\n/g;
		$s->autoflush(1); print $s $r; shutdown($s, 1); local $/; my $a = <$s>; print $a if defined $a;' \
		"$RUNDIR/$1.sock" "$2"
}
for req in 'set=1\nlisten_port=notanumber\n\n' 'set=1\npublic_key=zz\n\n' \
	'set=1\nprivate_key=0123\n\n' 'set=1\nbogus_key=1\n\n' \
	"set=1\npublic_key=$(printf '%s' "$P1_PUB" | base64 -d | od -An -tx1 | tr -d ' \n')\nallowed_ip=10.0.0.0/33\n\n"; do
	rx=$(uapi "$X" "$req" 2>&1) rg=$(uapi "$G" "$req" 2>&1)
	check_re "wireguard-go rejects '$req'" '^errno=-?[1-9][0-9]*$' "$rg"
	check_re "$IMPL_A rejects '$req'" '^errno=-?[1-9][0-9]*$' "$rx"
done
rx=$(uapi "$X" 'nonsense=1\n\n' 2>&1)
check "unknown operation is not acknowledged" test "$rx" != "errno=0"
rx=$(uapi "$X" 'get=1\n\n' 2>&1)
check_re "raw get=1: keys in hex, ends with errno=0" "^private_key=[0-9a-f]{64}.*errno=0 \$" "$(printf '%s\n' "$rx" | tr '\n' ' ')"
check_re "raw get=1: protocol_version=1 per peer" "protocol_version=1" "$rx"
compare "still serving after bad requests"

# Live values: a real handshake between the instance under test and a wireguard-go peer fills in the
# run-time columns (handshake time, counters), which must then be non-zero on both.
inst_stop "$X"; inst_stop "$G"
pair_up 1 "$IMPL_A" wireguard-go 4 a || { nok "pair up"; lib_done; }
A1=$(ifname_of 1 a)
check "ping through the tunnel" ping_ok "$NS_A" "$(ovl4 1 b)"
line=$(wg show "$A1" dump | awk -F'\t' 'NR == 2')
check_eq "dump after a handshake: peer key" "${PAIR_B_PUB[1]}" "$(printf '%s' "$line" | cut -f1)"
check_eq "dump after a handshake: endpoint" "$UB4:$(port_of 1 b)" "$(printf '%s' "$line" | cut -f3)"
check_re "dump after a handshake: handshake, rx, tx non-zero, keepalive off" \
	'^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* off$' "$(printf '%s' "$line" | cut -f5- | tr '\t' ' ')"
now=$(date +%s) hs=$(printf '%s' "$line" | cut -f5)
check "latest handshake is a recent unix time" test $(( now - hs )) -ge 0 -a $(( now - hs )) -lt 60
check_re "wg show prints the handshake and transfer" 'latest handshake: .*transfer: .* received, .* sent' \
	"$(wg show "$A1" | tr '\n' ' ')"

lib_done

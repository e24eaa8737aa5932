#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests the xwg command line: key tools (and their interop with wg), help, errors, up/down/run,
# data path modes and attach/detach.
#
# Usage: XWG=path/to/xwg selftests/test_cli.sh   (default $OUTPUT/xwg, else .output/xwg; the netns part needs root)

XWG=${XWG:-${OUTPUT:-.output}/xwg}
XWG=$(realpath "$XWG" 2>/dev/null || echo "$XWG")
PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/xwg-cli.XXXXXX)
NS=xwgc$$
IF_A=xwgc$$a		# interface names must be unique: /var/run/wireguard is shared by all netns
IF_B=xwgc$$b
IF_R=xwgc$$r
IF_F=xwgc$$f
IF_Q=xwgc$$q
IF_O=xwgc$$o
IF_S=xwgc$$s

ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() {
	echo "not ok - $1"
	[ -n "$2" ] && sed 's/^/#   /' <<<"$2"
	FAIL=$((FAIL + 1))
}
# expect DESC COND [DETAIL]: COND is a shell expression evaluated now.
expect() { if eval "$2"; then ok "$1"; else not_ok "$1" "$3"; fi; }

cleanup() {
	for i in $IF_A $IF_B $IF_R $IF_F $IF_Q $IF_O; do
		[ -S /var/run/wireguard/$i.sock ] && "$XWG" down $i >/dev/null 2>&1
	done
	ip netns del $NS 2>/dev/null
	rm -f /var/run/wireguard/$IF_S.sock
	rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$XWG" ]; then
	echo "not ok - $XWG is not an executable"
	echo "0 passed, 1 failed"
	exit 1
fi

b64_key_re='^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$'

# ---- keys ----

k=$("$XWG" genkey); rc=$?
expect "genkey exits 0 and prints a 44-char base64 key" "[ $rc = 0 ] && [[ '$k' =~ $b64_key_re ]]" "got '$k'"
bytes=$(base64 -d <<<"$k" | od -An -tu1 | tr -s ' \n' ' ')
read -ra b <<<"$bytes"
expect "genkey output decodes to 32 clamped bytes" \
	"[ ${#b[@]} = 32 ] && [ \$(( ${b[0]:-1} & 7 )) = 0 ] && [ \$(( ${b[31]:-0} & 192 )) = 64 ]" "bytes: $bytes"
expect "genkey gives a new key each time" "[ '$k' != '$("$XWG" genkey)' ]"

p=$("$XWG" genpsk); rc=$?
expect "genpsk exits 0 and prints a 44-char base64 key" "[ $rc = 0 ] && [[ '$p' =~ $b64_key_re ]]" "got '$p'"
expect "genpsk gives a new key each time" "[ '$p' != '$("$XWG" genpsk)' ]"

for i in 1 2 3; do
	wk=$(wg genkey)
	expect "wg genkey | xwg pubkey == wg pubkey ($i)" \
		"[ '$(echo "$wk" | "$XWG" pubkey)' = '$(echo "$wk" | wg pubkey)' ]"
done
xk=$("$XWG" genkey)
xp=$(echo "$xk" | wg pubkey); rc=$?
expect "xwg genkey | wg pubkey works and agrees with xwg pubkey" \
	"[ $rc = 0 ] && [ -n '$xp' ] && [ '$xp' = '$(echo "$xk" | "$XWG" pubkey)' ]"
# wg clamps inside X25519, so an unclamped key (a psk) must give the same public key.
up=$(wg genpsk)
expect "pubkey of an unclamped key matches wg" "[ '$(echo "$up" | "$XWG" pubkey)' = '$(echo "$up" | wg pubkey)' ]"
expect "pubkey accepts a key without a trailing newline" \
	"[ '$(printf %s "$xk" | "$XWG" pubkey)' = '$xp' ]"

for bad in "bad" "" "${xk:0:43}" "${xk:0:42}B=" "${xk}${xk}" "${xk:0:43}x"; do
	out=$(printf '%s\n' "$bad" | "$XWG" pubkey 2>&1); rc=$?
	expect "pubkey rejects '$bad'" \
		"[ $rc = 1 ] && [ \"\$out\" = 'xwg: pubkey: invalid private key on stdin' ]" "rc=$rc out=$out"
done
out=$(head -c 100000 /dev/zero | "$XWG" pubkey 2>&1); rc=$?
expect "pubkey rejects a long binary stdin" "[ $rc = 1 ] && [[ \"\$out\" == *'invalid private key'* ]]" "rc=$rc"
out=$("$XWG" genkey extra 2>&1); rc=$?
expect "genkey rejects an extra argument" "[ $rc = 1 ] && [[ \"\$out\" == *\"unexpected argument 'extra'\"* ]]" "$out"

# ---- help and errors ----

for c in up down show run attach detach genkey genpsk pubkey help; do
	out=$("$XWG" $c --help 2>&1); rc=$?
	expect "xwg $c --help exits 0 with a usage line" "[ $rc = 0 ] && [[ \"\$out\" == *'Usage: xwg $c'* ]]" "rc=$rc $out"
done
out=$("$XWG" --help); rc=$?
expect "xwg --help lists every command" \
	"[ $rc = 0 ] && [[ \"\$out\" == *genkey* && \"\$out\" == *pubkey* && \"\$out\" == *up* && \"\$out\" == *down* ]]"
expect "xwg help exits 0" "'$XWG' help >/dev/null"
expect "xwg help up prints up's usage" "[[ '$("$XWG" help up)' == *'Usage: xwg up'* ]]"
expect "xwg --version prints a version" "[[ '$("$XWG" --version)' =~ ^xwg\ v[0-9] ]]"
out=$("$XWG" foo 2>&1 >/dev/null); rc=$?
expect "unknown command fails with a message and usage on stderr" \
	"[ $rc = 1 ] && [[ \"\$out\" == \"xwg: unknown command 'foo'\"* ]] && [[ \"\$out\" == *Usage:* ]]" "rc=$rc $out"
expect "unknown command prints nothing on stdout" "[ -z '$("$XWG" foo 2>/dev/null)' ]"
"$XWG" >/dev/null 2>&1; rc=$?
expect "no command fails" "[ $rc = 1 ]"
"$XWG" up >/dev/null 2>&1; rc=$?
expect "up without an argument fails" "[ $rc = 1 ]"
out=$("$XWG" up "$TMP/x.conf" --bogus 2>&1); rc=$?
expect "up with an unknown option fails" "[ $rc = 1 ] && [[ \"\$out\" == *\"unexpected argument '--bogus'\"* ]]" "$out"
out=$("$XWG" up 'bad name!' 2>&1); rc=$?
expect "up with an invalid interface name fails" "[ $rc = 1 ] && [[ \"\$out\" == *'not a valid interface name'* ]]" "$out"
out=$("$XWG" up "$TMP/missing.conf" 2>&1); rc=$?
expect "up with a missing file fails" "[ $rc = 1 ] && [[ \"\$out\" == xwg:*missing.conf* ]]" "$out"
out=$("$XWG" show 'a/b' 2>&1); rc=$?
expect "show with an invalid name fails" "[ $rc = 1 ] && [[ \"\$out\" == xwg:* ]]" "$out"
out=$("$XWG" down xwgc$$none 2>&1); rc=$?
expect "down of a non-running interface fails cleanly" \
	"[ $rc = 1 ] && [ \"\$out\" = 'xwg: xwgc$$none: not running' ]" "rc=$rc $out"
out=$("$XWG" down 2>&1); rc=$?
expect "down without an argument fails" "[ $rc = 1 ] && [[ \"\$out\" == *Usage:* ]]" "$out"

out=$("$XWG" up "$TMP/missing.conf" --mode bogus 2>&1); rc=$?
expect "up --mode bogus fails before anything else, naming the modes" \
	"[ $rc = 1 ] && [ \"\$out\" = \"xwg: up: unknown data path mode 'bogus' (auto, xdp, xdp-generic, tc or tun)\" ]" "rc=$rc $out"
out=$("$XWG" up "$TMP/missing.conf" --mode 2>&1); rc=$?
expect "up --mode without a value fails" "[ $rc = 1 ] && [[ \"\$out\" == *\"unexpected argument '--mode'\"* ]]" "rc=$rc $out"
out=$("$XWG" run --mode=XDP xwgc$$none 2>&1); rc=$?
expect "run --mode is case-sensitive and checked" "[ $rc = 1 ] && [[ \"\$out\" == *\"unknown data path mode 'XDP'\"* ]]" "rc=$rc $out"
out=$(XWG_MODE=fast "$XWG" run xwgc$$none 2>&1); rc=$?
expect "run checks XWG_MODE and says where the bad mode came from" \
	"[ $rc = 1 ] && [[ \"\$out\" == 'xwg: run: XWG_MODE: unknown data path mode'* ]]" "rc=$rc $out"
for args in "" "xwgc$$none" "xwgc$$none eth0 extra" "-x eth0" "xwgc$$none -x"; do
	for c in attach detach; do
		out=$("$XWG" $c $args 2>&1); rc=$?
		expect "$c '$args' fails with its usage" "[ $rc = 1 ] && [[ \"\$out\" == *'Usage: xwg $c INTERFACE DEVICE'* ]]" "rc=$rc $out"
	done
done
out=$("$XWG" attach 'bad name!' eth0 2>&1); rc=$?
expect "attach with an invalid interface name fails" "[ $rc = 1 ] && [[ \"\$out\" == *'not a valid interface name'* ]]" "$out"
for dev in "a b" "a/b" "a:b" "0123456789abcdef" "."; do
	out=$("$XWG" detach xwgc$$none "$dev" 2>&1); rc=$?
	expect "detach with the device name '$dev' fails" \
		"[ $rc = 1 ] && [ \"\$out\" = \"xwg: detach: '$dev' is not a valid device name\" ]" "rc=$rc $out"
done
out=$("$XWG" attach xwgc$$none eth0 2>&1); rc=$?
expect "attach to a non-running interface fails cleanly" \
	"[ $rc = 1 ] && [ \"\$out\" = 'xwg: xwgc$$none: not running' ]" "rc=$rc $out"

# ---- up / down / run: in a throwaway network namespace ----

if [ "$(id -u)" != 0 ] || ! ip netns add $NS 2>/dev/null; then
	echo "ok - # SKIP up/down tests need root and network namespaces"
	echo "$PASS passed, $FAIL failed"
	[ $FAIL = 0 ]
	exit
fi
in_ns() { ip netns exec $NS "$@"; }
in_ns ip link set lo up
no_trace() {	# no_trace IFNAME: neither the interface nor its socket exists
	! in_ns ip link show "$1" >/dev/null 2>&1 && [ ! -e /var/run/wireguard/"$1".sock ] && [ ! -e /var/run/wireguard/"$1".xwg-state ]
}

PORT=$((30000 + $$ % 20000))
priv_a=$(wg genkey); priv_b=$(wg genkey)
pub_a=$(echo "$priv_a" | wg pubkey); pub_b=$(echo "$priv_b" | wg pubkey)
psk=$(wg genpsk)
write_conf() {	# write_conf FILE EXTRA-INTERFACE-LINE EXTRA-PEER-LINE
	cat >"$1" <<-EOF
	[Interface]
	PrivateKey = $priv_a
	ListenPort = $PORT
	Address = 10.201.0.1/24, fd00:201::1/64
	$2

	[Peer]
	PublicKey = $pub_b
	PresharedKey = $psk
	Endpoint = 127.0.0.1:51999
	AllowedIPs = 10.201.0.2/32, 10.202.0.0/16, fd00:201::2/128
	PersistentKeepalive = 25
	$3
	EOF
	chmod 600 "$1"
}

write_conf "$TMP/$IF_A.conf" "Lisen = 5" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up with a bad key fails with file:line: unknown key" \
	"[ $rc = 1 ] && [ \"\$out\" = \"xwg: $IF_A.conf:5: unknown key 'Lisen'\" ]" "rc=$rc $out"
expect "... and leaves no interface or socket behind" "no_trace $IF_A"

write_conf "$TMP/$IF_A.conf" "DNS = 1.1.1.1, 300.1.1.1" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up refuses a bad DNS server, quoting it" \
	"[ $rc = 1 ] && [ \"\$out\" = \"xwg: $IF_A.conf:5: invalid DNS server '300.1.1.1'\" ] && no_trace $IF_A" "rc=$rc $out"

write_conf "$TMP/$IF_A.conf" "Table = 0x10" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up refuses a bad Table, quoting it" \
	"[ $rc = 1 ] && [[ \"\$out\" == *\"$IF_A.conf:5: invalid Table '0x10'\"* ]] && no_trace $IF_A" "rc=$rc $out"

write_conf "$TMP/$IF_A.conf" "PreUp = exit 3" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "a failing PreUp hook stops up before anything is created" \
	"[ $rc = 1 ] && [[ \"\$out\" == *\"PreUp 'exit 3' failed (exit status 3)\"* ]] && no_trace $IF_A" "rc=$rc $out"

write_conf "$TMP/$IF_A.conf" "PostUp = echo hook %i >$TMP/hook.out; exit 4" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "a failing PostUp hook (run with %i expanded) undoes up" \
	"[ $rc = 1 ] && [[ \"\$out\" == *\"exit status 4\"* ]] && [ \"\$(cat $TMP/hook.out)\" = 'hook $IF_A' ] && no_trace $IF_A" \
	"rc=$rc $out"

write_conf "$TMP/$IF_A.conf" $'MTU = 1300\nMode = tun\nTable = off\nSaveConfig = false\n# comment\nPreDown = true' \
	"AllowedIPs = 10.9.0.0/16"
out=$(in_ns "$XWG" strip "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "strip keeps only what wg(8) reads" \
	"[ $rc = 0 ] && ! grep -Eqi '^(Address|MTU|Mode|Table|SaveConfig|PreDown) *=' <<<\"\$out\" && grep -q '^# comment' <<<\"\$out\" && grep -q '^AllowedIPs = 10.9.0.0/16' <<<\"\$out\"" \
	"rc=$rc $out"
expect "... every key left is one of wg(8)'s" \
	"! grep -Ev '^(\\[(Interface|Peer)\\]|(PrivateKey|ListenPort|FwMark|PublicKey|PresharedKey|Endpoint|AllowedIPs|PersistentKeepalive) = .*|#.*|)\$' <<<\"\$out\"" "$out"

# Only lo in the namespace: no underlay for BPF, so an explicit BPF mode fails and auto falls back.
write_conf "$TMP/$IF_A.conf" "" ""
for m in xdp xdp-generic tc; do
	out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" --mode $m 2>&1); rc=$?
	expect "up --mode $m without an underlay fails with the reason and creates nothing" \
		"[ $rc = 1 ] && [[ \"\$out\" == 'xwg: $IF_A: cannot use mode $m: '?* ]] && no_trace $IF_A" "rc=$rc $out"
done

# auto's receive threshold comes from the environment: a bad one is an error, quoted, and leaves nothing.
out=$(XWG_RX_BULK_LEN=12x in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up with a bad XWG_RX_BULK_LEN fails, quoting it, and creates nothing" \
	"[ $rc = 1 ] && [[ \"\$out\" == *'XWG_RX_BULK_LEN=\"12x\": want a number of bytes from 0 to 65535'* ]] && no_trace $IF_A" "rc=$rc $out"
out=$(XWG_TX_BULK_LEN=-1 in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up with a bad XWG_TX_BULK_LEN fails, quoting it, and creates nothing" \
	"[ $rc = 1 ] && [[ \"\$out\" == *'XWG_TX_BULK_LEN=\"-1\": want a number of bytes from 0 to 65535'* ]] && no_trace $IF_A" "rc=$rc $out"
out=$(XWG_RERESOLVE_AFTER=86401 in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up with a bad XWG_RERESOLVE_AFTER fails, quoting it, and creates nothing" \
	"[ $rc = 1 ] && [[ \"\$out\" == *'XWG_RERESOLVE_AFTER=\"86401\": want a number of seconds from 0 (never) to 86400'* ]] && no_trace $IF_A" "rc=$rc $out"
out=$(XWG_UDP_GSO=yes in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up with a bad XWG_UDP_GSO fails, quoting it, and creates nothing" \
	"[ $rc = 1 ] && [[ \"\$out\" == *'XWG_UDP_GSO=\"yes\": want 0 or 1'* ]] && no_trace $IF_A" "rc=$rc $out"
for bad in 0 65 2x ''; do
	out=$(XWG_THREADS=$bad in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
	expect "up with XWG_THREADS='$bad' fails, quoting it, and creates nothing" \
		"[ $rc = 1 ] && [[ \"\$out\" == *'XWG_THREADS=\"$bad\": want a number of threads from 1 to 64'* ]] && no_trace $IF_A" "rc=$rc $out"
done
out=$(XWG_RX_BULK_LEN=70000 in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "... and one above 65535" "[ $rc = 1 ] && no_trace $IF_A" "rc=$rc $out"

out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up starts the interface" "[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_A up (data path: tun)' ]" "rc=$rc $out"
expect "... which is up with its addresses" \
	"in_ns ip -br addr show $IF_A 2>/dev/null | grep -q 'UNKNOWN.*10.201.0.1/24 fd00:201::1/64'" "$(in_ns ip -br addr 2>&1)"
expect "... and routes for the allowed IPs (none for those the address's subnet covers, as wg-quick)" \
	"in_ns ip route show dev $IF_A 2>/dev/null | grep -q '^10.202.0.0/16' && in_ns ip -6 route get fd00:201::2 2>/dev/null | grep -q 'dev $IF_A ' && ! in_ns ip -6 route show dev $IF_A 2>/dev/null | grep -q '^fd00:201::2 '" \
	"$(in_ns ip route 2>&1; in_ns ip -6 route 2>&1)"
expect "... and MTU 1420" "in_ns ip link show $IF_A 2>/dev/null | grep -q 'mtu 1420 '"
dump=$(wg show $IF_A dump 2>&1)
expect "wg show reads the configuration through the agent's socket" \
	"grep -qP \"^\\Q$priv_a\\E\t\\Q$pub_a\\E\t$PORT\t\" <<<\"\$dump\" && grep -qP \"^\\Q$pub_b\\E\t\\Q$psk\\E\t127.0.0.1:51999\t10.201.0.2/32,10.202.0.0/16,fd00:201::2/128\t.*\t25$\" <<<\"\$dump\"" \
	"$dump"
json=$("$XWG" show $IF_A --json 2>&1)
expect "xwg show --json names the interface" "[[ \"\$json\" == *'\"$IF_A\"'* ]]" "$json"
show=$("$XWG" show $IF_A 2>&1)
expect "xwg show says auto fell back to tun, and why xdp was refused" \
	"grep -qx '  data path: tun' <<<\"\$show\" && grep -q '^  refused: xdp: .' <<<\"\$show\"" "$show"
if command -v python3 >/dev/null; then
	expect "xwg show --json has the data path fields, typed, with zeros for the peer" \
		"python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d[\"mode\"] == \"tun\" and isinstance(d[\"refused\"], dict) and \"xdp\" in d[\"refused\"]
assert d[\"underlay\"] == [] and d[\"reasons\"] == {} and d[\"hybrid\"] is None
for k in (\"bpf_rx_packets\", \"bpf_tx_packets\", \"bpf_rx_bytes\", \"bpf_tx_bytes\", \"agent_rx_packets\", \"agent_tx_packets\",
	  \"agent_rx_bytes\", \"agent_tx_bytes\"):
	assert d[\"peers\"][0][k] == 0, k
' \"\$json\"" "$json"
fi
expect "xwg show interfaces lists it" "'$XWG' show interfaces | grep -qx $IF_A"
expect "xwg show (all) includes it" "'$XWG' show | grep -qx 'interface: $IF_A'"
if command -v python3 >/dev/null; then
	expect "xwg show all --json is one valid JSON array" \
		"'$XWG' show all --json | python3 -c 'import json,sys; a=json.load(sys.stdin); assert isinstance(a, list)'"
fi
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "up of a running interface fails: already exists" \
	"[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_A: interface already exists' ]" "rc=$rc $out"

# Same port, other name: fails at bind, after the TUN exists, so this checks the unwinding.
cp "$TMP/$IF_A.conf" "$TMP/$IF_B.conf"
sed -i "s|^PublicKey = .*|PublicKey = $(wg genkey | wg pubkey)|" "$TMP/$IF_B.conf"
out=$(in_ns "$XWG" up "$TMP/$IF_B.conf" 2>&1); rc=$?
expect "up on a port in use fails with the reason and unwinds" \
	"[ $rc = 1 ] && [[ \"\$out\" == *'Address already in use'* ]] && no_trace $IF_B" "rc=$rc $out"

out=$("$XWG" down "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "down (by config path) stops the agent" "[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_A down' ]" "rc=$rc $out"
expect "... and the interface, its routes and socket are gone" "no_trace $IF_A && ! in_ns ip route | grep -q 10.202"
out=$("$XWG" down $IF_A 2>&1); rc=$?
expect "a second down says not running" "[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_A: not running' ]" "$out"

# The file's Mode, and --mode overriding it.
write_conf "$TMP/$IF_A.conf" "Mode = TUN" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" 2>&1); rc=$?
expect "Mode = TUN in the file starts the tun data path" \
	"[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_A up (data path: tun)' ]" "rc=$rc $out"
show=$("$XWG" show $IF_A 2>&1)
expect "... with nothing refused (nothing was tried)" \
	"grep -qx '  data path: tun' <<<\"\$show\" && ! grep -q 'refused' <<<\"\$show\"" "$show"
out=$("$XWG" attach $IF_A lo 2>&1); rc=$?
expect "attach on a tun interface fails, saying why" \
	"[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_A: cannot attach lo: the data path is tun (start the interface with another --mode)' ]" \
	"rc=$rc $out"
out=$("$XWG" detach $IF_A lo 2>&1); rc=$?
expect "detach on a tun interface fails too" "[ $rc = 1 ] && [[ \"\$out\" == 'xwg: $IF_A: cannot detach lo: the data path is tun'* ]]" \
	"rc=$rc $out"
"$XWG" down $IF_A >/dev/null 2>&1
write_conf "$TMP/$IF_A.conf" "Mode = xdp" ""
out=$(in_ns "$XWG" up "$TMP/$IF_A.conf" --mode tun 2>&1); rc=$?
expect "--mode tun overrides the file's Mode = xdp" \
	"[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_A up (data path: tun)' ]" "rc=$rc $out"
"$XWG" down $IF_A >/dev/null 2>&1
write_conf "$TMP/$IF_A.conf" "" ""

write_conf "$TMP/$IF_F.conf" "MTU = 1380" ""
sed -i "s/^ListenPort.*//" "$TMP/$IF_F.conf"
ip netns exec $NS "$XWG" up --foreground "$TMP/$IF_F.conf" >"$TMP/fg.out" 2>&1 &
fg=$!
for _ in $(seq 50); do [ -S /var/run/wireguard/$IF_F.sock ] && break; sleep 0.1; done
expect "up --foreground serves the interface with its MTU" "in_ns ip link show $IF_F 2>/dev/null | grep -q 'mtu 1380 '"
kill -TERM $fg 2>/dev/null
wait $fg; rc=$?
expect "... and exits 0 on SIGTERM, removing everything" "[ $rc = 0 ] && no_trace $IF_F" "rc=$rc $(cat "$TMP/fg.out")"

out=$(in_ns "$XWG" run $IF_R 2>&1); rc=$?
expect "run creates a bare interface" "[ $rc = 0 ] && [ -S /var/run/wireguard/$IF_R.sock ] && in_ns ip link show $IF_R >/dev/null" "rc=$rc $out"
echo "$priv_b" >"$TMP/priv_b"
wg set $IF_R private-key "$TMP/priv_b" peer "$pub_a" allowed-ips 10.203.0.0/24
expect "wg set configures a run interface" "wg show $IF_R dump | grep -qP \"^\\Q$pub_a\\E\t.*\t10.203.0.0/24\t\"" "$(wg show $IF_R dump 2>&1)"
expect "down stops a run interface" "'$XWG' down $IF_R >/dev/null && no_trace $IF_R"
out=$(in_ns "$XWG" run --mode tun $IF_R 2>&1); rc=$?
expect "run --mode tun works" "[ $rc = 0 ] && [ \"\$('$XWG' show $IF_R | sed -n 's/^  data path: //p')\" = tun ]" "rc=$rc $out"
"$XWG" down $IF_R >/dev/null 2>&1

# attach/detach on a live BPF data path: two veth ends in the namespace are its underlays.
in_ns ip link add xwgcv0 type veth peer name xwgcv1
in_ns ip addr add 192.168.201.1/24 dev xwgcv0
in_ns ip link set xwgcv0 up
in_ns ip link set xwgcv1 up
write_conf "$TMP/$IF_O.conf" "" ""
sed -i "s/^ListenPort.*//" "$TMP/$IF_O.conf"
out=$(in_ns "$XWG" up "$TMP/$IF_O.conf" 2>&1); rc=$?
mode=$("$XWG" show $IF_O 2>/dev/null | sed -n 's/^  data path: \([^ ]*\).*/\1/p')
# The runner's probe (probe_modes.sh) says what auto must reach; only a machine without BPF skips.
[ -n "${XWG_TEST_MODES+x}" ] || eval "$(OUTPUT=$(dirname "$XWG") "$(dirname "$0")/probe_modes.sh")"
case " $XWG_TEST_MODES " in
*" xdp "*) want=xdp ;;
*" tc "*) want=tc ;;
*) want=tun ;;
esac
if [ "$want" = tun ]; then
	echo "ok - # SKIP attach/detach: this machine has no BPF data path (${XWG_TEST_MODES_WHY//|/; })"
elif [ $rc != 0 ] || [ "$mode" != "$want" ]; then
	not_ok "auto with veth underlays reaches $want, the best mode this machine supports (got '$mode')" "rc=$rc $out
$("$XWG" show $IF_O 2>&1 | head -n 6)"
else
	expect "auto with veth underlays reports them on the start-up line" \
		"[[ \"\$out\" == '[#] xwg: $IF_O up (data path: $mode on '*xwgcv0* ]]" "$out"
	out=$("$XWG" detach $IF_O xwgcv0 2>&1); rc=$?
	expect "detach a live underlay" "[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_O: detached xwgcv0' ]" "rc=$rc $out"
	json=$("$XWG" show $IF_O --json)
	expect "... which leaves the underlay list" "[[ \"\$json\" != *'\"xwgcv0\"'* ]]" "$json"
	out=$("$XWG" detach $IF_O xwgcv0 2>&1); rc=$?
	expect "detach again: not attached" "[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_O: cannot detach xwgcv0: not attached' ]" "rc=$rc $out"
	out=$("$XWG" attach $IF_O xwgcv0 2>&1); rc=$?
	expect "attach it back" "[ $rc = 0 ] && [ \"\$out\" = '[#] xwg: $IF_O: attached xwgcv0' ]" "rc=$rc $out"
	expect "... and show lists it again" "'$XWG' show $IF_O | grep -q '^  data path: $mode (on .*xwgcv0'"
	out=$("$XWG" attach $IF_O xwgcv0 2>&1); rc=$?
	expect "attach again: already attached" "[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_O: cannot attach xwgcv0: already attached' ]" "rc=$rc $out"
	out=$("$XWG" attach $IF_O xwgcnosuch 2>&1); rc=$?
	expect "attach a missing device: No such device" \
		"[ $rc = 1 ] && [ \"\$out\" = 'xwg: $IF_O: cannot attach xwgcnosuch: No such device' ]" "rc=$rc $out"
	dump=$(wg show $IF_O dump 2>&1); rc=$?
	expect "wg show dump still parses an offloading agent's reply" "[ $rc = 0 ] && grep -qP \"^\\Q$pub_b\\E\t\" <<<\"\$dump\"" "$dump"
fi
"$XWG" down $IF_O >/dev/null 2>&1
expect "down of an offloading interface leaves nothing behind" "no_trace $IF_O && [ ! -e /sys/fs/bpf/xwg/$IF_O ]"
in_ns ip link del xwgcv0 2>/dev/null

# wg-quick runs its userspace implementation as "IMPL IFNAME", which a link named xwg-run provides.
if command -v wg-quick >/dev/null && [ ! -e /sys/module/wireguard ]; then
	ln -s "$XWG" "$TMP/xwg-run"
	write_conf "$TMP/$IF_Q.conf" "" ""
	out=$(WG_QUICK_USERSPACE_IMPLEMENTATION="$TMP/xwg-run" in_ns wg-quick up "$TMP/$IF_Q.conf" 2>&1); rc=$?
	expect "wg-quick up works with xwg-run as its userspace implementation" \
		"[ $rc = 0 ] && wg show $IF_Q dump | grep -qP \"^\\Q$pub_b\\E\t\" && in_ns ip route | grep -q '^10.202.0.0/16 dev $IF_Q'" \
		"rc=$rc $out"
	in_ns wg-quick down "$TMP/$IF_Q.conf" >/dev/null 2>&1
	for _ in $(seq 50); do [ -e /var/run/wireguard/$IF_Q.sock ] || break; sleep 0.1; done
	expect "wg-quick down (deleting the link) makes the agent exit" "no_trace $IF_Q"
fi

# A peer the agent had to take out of BPF: show prints why (a canned reply from a fake agent socket).
if command -v python3 >/dev/null && [ -w /var/run/wireguard ]; then
	sock=/var/run/wireguard/$IF_S.sock
	python3 - "$sock" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1); s.settimeout(10)
try:
    c, _ = s.accept()
    req = b""
    while not req.endswith(b"\n\n"):
        req += c.recv(4096) or b"\n\n"
    c.sendall(b"listen_port=51820\nxwg_mode=xdp\npublic_key=" + b"11" * 32 + b"\nallowed_ip=10.9.0.0/16\n"
              b"xwg_offload_off=allowed IPs map (IPv4): No space left on device\nerrno=0\n\n")
    c.close()
finally:
    os.unlink(sys.argv[1])
PY
	srv=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	show=$("$XWG" show $IF_S 2>&1)
	wait $srv
	expect "xwg show says why a peer is out of BPF" \
		"grep -qx '  offload: off (allowed IPs map (IPv4): No space left on device)' <<<\"\$show\"" "$show"
fi

# ---- node-agent: every option in --help and xwg(8), bad values quoted, nothing started

MAN8=$(dirname "$0")/../man/xwg.8

out=$("$XWG" node-agent --help 2>&1); rc=$?
for o in --kubeconfig --node-name --interface --listen-port --state-dir --mode --metrics-listen; do
	expect "node-agent --help documents $o" "[ $rc = 0 ] && grep -q -- '$o' <<<\"\$out\"" "$out"
	mo=".BI $(sed 's/-/\\-/g' <<<"$o")"
	expect "xwg(8) documents node-agent $o" "grep -qF -- \"\$mo\" \"\$MAN8\""
done
while IFS='|' read -r args want; do
	out=$(NODE_NAME= "$XWG" node-agent $args 2>&1); rc=$?
	expect "node-agent $args fails quoting it" "[ $rc = 1 ] && [[ \"\$out\" == *\"$want\"* ]]" "rc=$rc $out"
done <<'EOF2'
--node-name n --listen-port 0|invalid --listen-port '0'
--node-name n --listen-port 65536|invalid --listen-port '65536'
--node-name Bad_Name|invalid --node-name 'Bad_Name'
--node-name n --interface this-name-is-too-long|invalid --interface 'this-name-is-too-long'
--node-name n --mode fast|invalid --mode 'fast'
--node-name n --metrics-listen nowhere|invalid --metrics-listen 'nowhere'
--node-name n --frobnicate|unknown option '--frobnicate'
--node-name n extra|unexpected argument 'extra'
--listen-port 1|no node name
--node-name n --kubeconfig /nonexistent/kubeconfig|cannot read kubeconfig /nonexistent/kubeconfig
EOF2

echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]

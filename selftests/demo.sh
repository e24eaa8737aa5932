#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make demo`: two namespaces joined by a veth, an xwg tunnel between them, ping, a short iperf3, xwg show.
#
# Everything lives in two throw-away network namespaces and is removed on exit (also on Ctrl-C).
# Environment: OUTPUT (where xwg is built), XWG_MODE (passed to `xwg up --mode`), IPERF_SECS (default 3).

LIB_DEMO=1
. "$(dirname "$0")/lib.sh"

IPERF_SECS=${IPERF_SECS:-3}

if [ "$(id -u)" != 0 ]; then
	echo "The demo creates network namespaces and TUN devices: run it as root (sudo make demo)." >&2
	exit 1
fi
for c in ip iperf3 ping; do
	command -v "$c" >/dev/null || { echo "The demo needs '$c' (make deps installs it)." >&2; exit 1; }
done
[ -x "$XWG" ] || { echo "$XWG is missing: run 'make' first." >&2; exit 1; }

lib_init
trap 'demo_rc=$?; echo; echo "Cleaning up: stopping both agents, deleting namespaces ${NS_A:-} and ${NS_B:-}."; (exit $demo_rc); lib_cleanup' EXIT

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
run() { local cmd="$*"; printf '$ %s\n' "${cmd//$XWG/xwg}"; "$@"; }
die() { echo "demo failed: $*" >&2; exit 1; }

step "Two network namespaces joined by a veth pair"
topo_create || die "could not create the namespaces"
echo "  $NS_A  $VETH_A  $UA4/$U4LEN  $UA6/$U6LEN"
echo "  $NS_B  $VETH_B  $UB4/$U4LEN  $UB6/$U6LEN"

step "Keys from xwg genkey / xwg pubkey"
PRIV_A=$("$XWG" genkey) PRIV_B=$("$XWG" genkey)
PUB_A=$(printf '%s\n' "$PRIV_A" | "$XWG" pubkey) PUB_B=$(printf '%s\n' "$PRIV_B" | "$XWG" pubkey)
PSK=$("$XWG" genpsk)
echo "  side a public key: $PUB_A"
echo "  side b public key: $PUB_B"

IF_A=$(ifname_of 1 a) IF_B=$(ifname_of 1 b)
conf_iface "$IF_A" "$PRIV_A" 51820 "10.78.1.1/24, fd78:1::1/64"
conf_peer "$IF_A" "$PUB_B" "10.78.1.2/32, fd78:1::2/128" "$UB4:51821" 25 "$PSK"
conf_iface "$IF_B" "$PRIV_B" 51821 "10.78.1.2/24, fd78:1::2/64"
conf_peer "$IF_B" "$PUB_A" "10.78.1.1/32, fd78:1::1/128" - - "$PSK"
step "Configuration of side a ($(conf_path "$IF_A"))"
sed -e 's/^\(PrivateKey = \).*/\1(hidden)/' -e 's/^\(PresharedKey = \).*/\1(hidden)/' "$(conf_path "$IF_A")" |
	sed 's/^/  /'

step "xwg up in both namespaces"
XWG_DAEMON=1
echo "$ ip netns exec $NS_B xwg up $(conf_path "$IF_B")"
inst_up xwg "$NS_B" "$IF_B" || die "xwg up failed on side b"
cat "$T_TMP/$IF_B.log"
echo "$ ip netns exec $NS_A xwg up $(conf_path "$IF_A")"
inst_up xwg "$NS_A" "$IF_A" || die "xwg up failed on side a"
cat "$T_TMP/$IF_A.log"

step "ping through the tunnel (IPv4 and IPv6 overlay)"
run ip netns exec "$NS_A" ping -c 3 -i 0.2 -w 10 10.78.1.2 || die "ping over IPv4 failed"
run ip netns exec "$NS_A" ping -c 3 -i 0.2 -w 10 fd78:1::2 || die "ping over IPv6 failed"

step "iperf3, $IPERF_SECS s, a -> b through the tunnel"
ip netns exec "$NS_B" iperf3 -s -1 >/dev/null 2>&1 &
T_PIDS+=($!)
wait_for 5 sh -c "ip netns exec '$NS_B' ss -ltn | grep -q ':5201 '"
run ip netns exec "$NS_A" iperf3 -c 10.78.1.2 -t "$IPERF_SECS" -f m || die "iperf3 failed"

step "xwg show on side a"
run ip netns exec "$NS_A" "$XWG" show "$IF_A"
step "xwg show on side b"
run ip netns exec "$NS_B" "$XWG" show "$IF_B"

step "xwg down on both sides"
run ip netns exec "$NS_A" "$XWG" down "$IF_A"
run ip netns exec "$NS_B" "$XWG" down "$IF_B"
unset "INST_NS[$IF_A]" "INST_NS[$IF_B]"
echo
echo "Demo finished: the tunnel carried ping and iperf3 traffic between the namespaces."

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The offload netns tests on a fresh machine: no bpffs at /sys/fs/bpf, in a private mount and PID namespace.
# xwg-timeout: 420
#
# On a host that never mounted bpffs, an agent started under `ip netns exec` must pin into the host's
# mount namespace (PID 1's), never into the private one `ip netns exec` makes, or its pins die with it and
# `xwg down` after `kill -9` finds nothing to clean.  This re-runs itself under
#   unshare --mount --pid --fork --mount-proc --kill-child
# so PID 1 is this script and its mount namespace plays the host's; there it makes / private, unmounts
# every bpffs at /sys/fs/bpf, puts tmpfs over /run/wireguard and /run/netns (nothing it creates can
# outlive it), checks that /sys/fs/bpf is no bpffs, then runs netns_offload.sh with
#   OFFLOAD_PAIRINGS (default "xdp:xdp tc:tun"), IPERF_SECS (default 3), no rekey case
# which still runs the restart (adoption of the pins) and the dead-agent cases (`kill -9`, `xwg down`
# finds the pins and removes programs, filters, pins and tunnel).  Its lines pass through; afterwards
# /sys/fs/bpf here must be a bpffs (the one xwg mounted in the "host" namespace) with no xwg directory
# left.  Then, with /sys/fs hidden so no bpffs can be mounted, `xwg up --mode xdp` must fail with the reason
# and auto must run in tun with `xwg show` saying why.  The summary adds it all.  Killing the outer process
# kills the namespace and all it holds.

set -u
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

if [ "$(id -u)" != 0 ]; then
	echo "# SKIP: needs root"; echo "0 passed, 0 failed, 1 skipped"; exit 0
fi
if [ "${XWG_FRESH_INNER:-0}" != 1 ]; then
	command -v unshare >/dev/null || { echo "# SKIP: needs unshare (util-linux)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
	XWG_FRESH_INNER=1 exec unshare --mount --pid --fork --mount-proc --kill-child --propagation private "$SELF" "$@"
fi

pass=0 fail=0 skipped=0
ok() { pass=$((pass + 1)); printf 'ok - %s\n' "$*"; }
nok() { fail=$((fail + 1)); printf 'not ok - %s\n' "$*"; }
summary() {
	printf '%d passed, %d failed' "$pass" "$fail"
	[ "$skipped" -gt 0 ] && printf ', %d skipped' "$skipped"
	printf '\n'
	[ "$fail" = 0 ]
	exit
}
is_bpffs() { [ "$(stat -f -c %T "$1" 2>/dev/null)" = bpf_fs ]; }

mount --make-rprivate /
for _ in 1 2 3 4 5 6 7 8; do
	is_bpffs /sys/fs/bpf || break
	umount /sys/fs/bpf || break
done
mkdir -p /run/wireguard /run/netns
mount -t tmpfs -o mode=0755 xwg-fresh /run/wireguard && mount -t tmpfs -o mode=0755 xwg-fresh /run/netns || {
	nok "tmpfs over /run/wireguard and /run/netns"; summary; }

if is_bpffs /sys/fs/bpf || is_bpffs /proc/1/root/sys/fs/bpf; then
	nok "fresh machine: no bpffs at /sys/fs/bpf in the private mount namespace"
	summary
fi
ok "fresh machine: no bpffs at /sys/fs/bpf in the private mount namespace (PID $$)"

out=$(mktemp /tmp/xwg-fresh.XXXXXX)
OFFLOAD_PAIRINGS=${OFFLOAD_PAIRINGS:-xdp:xdp tc:tun} IPERF_SECS=${IPERF_SECS:-3} OFFLOAD_REKEY=0 \
	"$(dirname "$SELF")/netns_offload.sh" 2>&1 | tee "$out" | sed '$!b; /^[0-9][0-9]* passed, /d'
rc=${PIPESTATUS[0]}
last=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1)
rm -f "$out"
if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
	pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2])) skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
	[ "$rc" = 0 ] || [ "${BASH_REMATCH[2]}" != 0 ] || nok "netns_offload.sh exit status $rc"
else
	nok "netns_offload.sh printed no summary (exit status $rc): $last"
fi

if is_bpffs /sys/fs/bpf; then
	ok "xwg mounted bpffs at /sys/fs/bpf in the host's (PID 1's) mount namespace"
else
	nok "xwg mounted bpffs at /sys/fs/bpf in the host's (PID 1's) mount namespace"
fi
if [ -e /sys/fs/bpf/xwg ]; then
	nok "no pins left under /sys/fs/bpf/xwg: $(ls -A /sys/fs/bpf/xwg | head -c 300)"
else
	ok "no pins left under /sys/fs/bpf/xwg"
fi

# No bpffs, and none can be mounted (/sys/fs hidden by a read-only tmpfs): BPF modes are refused with
# the reason, `xwg show` prints it, auto runs in tun, and `xwg down` removes the tunnel.
refusal_check() {
	local tag="no bpffs and none mountable" id=xwgf$RANDOM ns dir conf out
	ns=$id-n dir=$(mktemp -d /tmp/xwg-fresh.XXXXXX) conf=$dir/$id.conf
	for _ in 1 2 3 4 5 6 7 8; do is_bpffs /sys/fs/bpf || break; umount /sys/fs/bpf || break; done
	mount -t tmpfs -o ro,mode=0755 xwg-nofs /sys/fs || { nok "$tag: hide /sys/fs"; return; }
	ip netns add "$ns" && ip -n "$ns" link add "${id}v" type veth peer name "${id}w" &&
		ip -n "$ns" addr add 192.0.2.1/24 dev "${id}v" && ip -n "$ns" link set "${id}v" up &&
		ip -n "$ns" link set "${id}w" up || nok "$tag: namespace with a veth"
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(wg genkey)" >"$conf"
	chmod 600 "$conf"
	out=$(ip netns exec "$ns" "$XWG" up "$conf" --mode xdp 2>&1)
	if [ $? != 0 ] && [[ $out == *"cannot use mode xdp"*"no bpffs at /sys/fs/bpf"* ]]; then
		ok "$tag: xwg up --mode xdp fails with the reason"
	else
		nok "$tag: xwg up --mode xdp fails with the reason (got: $out)"
	fi
	out=$(ip netns exec "$ns" "$XWG" up "$conf" 2>&1)
	[ $? = 0 ] || nok "$tag: xwg up (auto) (got: $out)"
	out=$(ip netns exec "$ns" "$XWG" show "$id" 2>&1)
	if [[ $out == *"data path: tun"* ]] && [[ $out == *"refused: xdp: no bpffs at /sys/fs/bpf"*"mount bpf /sys/fs/bpf: No such file or directory"* ]]; then
		ok "$tag: auto runs in tun and xwg show prints why xdp was refused"
	else
		nok "$tag: auto runs in tun and xwg show prints why xdp was refused (got: $out)"
	fi
	if ip netns exec "$ns" "$XWG" down "$id" >/dev/null 2>&1 && ! ip -n "$ns" link show "$id" >/dev/null 2>&1; then
		ok "$tag: xwg down removes the tunnel"
	else
		nok "$tag: xwg down removes the tunnel"
	fi
	ip netns del "$ns"
	umount /sys/fs
	rm -rf "$dir"
}
XWG=${XWG:-${OUTPUT:-$(dirname "$(dirname "$SELF")")/.output}/xwg}
refusal_check
summary

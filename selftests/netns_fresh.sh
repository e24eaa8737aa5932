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
# left.  The summary adds both.  Killing the outer process kills the namespace and all it holds.

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
summary

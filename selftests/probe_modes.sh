#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Which xwg data path modes this machine supports, probed once (probe_modes on a veth in a throwaway namespace).
#
# Usage: OUTPUT=<abs .output> selftests/probe_modes.sh
# Prints two shell assignments for the runner to export:
#   XWG_TEST_MODES='tun tc xdp xdp-generic'   (the supported ones)
#   XWG_TEST_MODES_WHY='xdp: REASON|...'      (why each missing one is missing)
# Tests then treat a refusal of a supported mode (or `auto` ending below the best supported one) as a
# failure, and skip, with the reason, only what the machine lacks.  Needs root; without it nothing is
# supported and the reason says so.

set -u
OUTPUT=${OUTPUT:-$(cd "$(dirname "$0")/.." && pwd)/.output}
PROBE=$OUTPUT/selftests/probe_modes
ns=xwgprobe$$
res=""

if [ "$(id -u)" != 0 ]; then
	res="tun no: needs root"$'\n'"tc no: needs root"$'\n'"xdp no: needs root"$'\n'"xdp-generic no: needs root"
elif [ ! -x "$PROBE" ]; then
	res="tun no: $PROBE not built"$'\n'"tc no: $PROBE not built"$'\n'"xdp no: $PROBE not built"$'\n'"xdp-generic no: $PROBE not built"
elif ! ip netns add "$ns" 2>/dev/null; then
	res="tc no: cannot create a network namespace"$'\n'"xdp no: cannot create a network namespace"$'\n'"xdp-generic no: cannot create a network namespace"
else
	if ip -n "$ns" link add xwgp0 type veth peer name xwgp1 2>/dev/null &&
		ip -n "$ns" link set xwgp0 up && ip -n "$ns" link set xwgp1 up; then
		res=$(ip netns exec "$ns" "$PROBE" xwgp0 2>&1)
	else
		res="tc no: cannot create a veth"$'\n'"xdp no: cannot create a veth"$'\n'"xdp-generic no: cannot create a veth"
	fi
	ip netns del "$ns"
fi

modes="" why=""
while read -r mode verdict; do
	case $verdict in
	yes) modes="$modes $mode" ;;
	no:*) why="$why${why:+|}$mode: ${verdict#no: }" ;;
	esac
done <<<"$res"
printf 'XWG_TEST_MODES=%q\n' "${modes# }"
printf 'XWG_TEST_MODES_WHY=%q\n' "$why"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The layering rules, checked on the sources: the core reaches outward only through hooks.h, the data plane never
# calls up into control (the event loop reaches it through struct device_control).
set -u
cd "$(dirname "$0")/.." || exit 1
PASS=0 FAIL=0
ok() { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() { echo "not ok - $1: $2"; FAIL=$((FAIL + 1)); }

# No BPF in the core: neither offload.h nor libbpf, in any core source or header but the rule's own text.
bad=$(grep -lE '#include *["<](offload[a-z_]*\.h|bpf/|linux/bpf\.h)' user/core/*.c user/core/*.h)
[ -z "$bad" ] && ok "core includes no offload or libbpf header" || not_ok "core includes no offload or libbpf header" "$bad"

# Every function the data plane or control defines that a core file calls is declared in hooks.h.
defs=$(grep -hE '^[a-z].*[ *]([a-z_][a-z0-9_]*)\(' user/dataplane/*.c user/control/*.c | grep -v '^static' |
	grep -v ';$' | sed -E 's/^.*[ *]([a-z_][a-z0-9_]*)\(.*/\1/' | sort -u)
outside=""
n=0
for f in $defs; do
	grep -qE "\\b$f\\(" user/core/*.c || continue
	n=$((n + 1))
	grep -qE "\\b$f\\(" user/core/hooks.h || outside="$outside $f"
done
[ -n "$defs" ] && [ "$n" -gt 0 ] || not_ok "found the core's outward calls" "none found: the check itself broke"
[ -z "$outside" ] && ok "the core's $n outward calls are all declared in hooks.h" ||
	not_ok "the core's outward calls are all declared in hooks.h" "not there:$outside"

# The data plane never calls up into control: no control header, no function control defines.
bad=$(grep -lE '#include *"(uapi|config|show|cli|encoding)\.h"' user/dataplane/*.c user/dataplane/*.h)
[ -z "$bad" ] && ok "data plane includes no control header" || not_ok "data plane includes no control header" "$bad"
cdefs=$(grep -hE '^[a-z].*[ *]([a-z_][a-z0-9_]*)\(' user/control/*.c | grep -v '^static' | grep -v ';$' |
	sed -E 's/^.*[ *]([a-z_][a-z0-9_]*)\(.*/\1/' | sort -u)
up=""
for f in $cdefs; do
	grep -qE "\\b$f\\(" user/dataplane/*.c user/core/*.c && up="$up $f"
done
[ -n "$cdefs" ] || not_ok "found control's functions" "none found: the check itself broke"
[ -z "$up" ] && ok "data plane and core call no control function" || not_ok "data plane and core call no control function" "called:$up"

# The node layer (the Kubernetes agent) sits on top: it may call control, the data plane and the core, nothing
# calls it, but for main.c's command table starting `xwg node-agent`.
lower="user/core/*.c user/core/*.h user/dataplane/*.c user/dataplane/*.h $(ls user/control/*.[ch] | grep -v '/main\.c$')"
nhdrs=$(cd user/node && ls *.h | tr '\n' '|' | sed 's/|$//; s/\./\\./g')
bad=$(grep -lE "#include *\"($nhdrs)\"" $lower)
[ -n "$nhdrs" ] || not_ok "found the node layer's headers" "none found: the check itself broke"
[ -z "$bad" ] && ok "no lower layer includes a node header" || not_ok "no lower layer includes a node header" "$bad"
ndefs=$(grep -hE '^[a-z].*[ *]([a-z_][a-z0-9_]*)\(' user/node/*.c | grep -v '^static' | grep -v ';$' |
	sed -E 's/^.*[ *]([a-z_][a-z0-9_]*)\(.*/\1/' | sort -u)
up=""
for f in $ndefs; do
	grep -qE "\\b$f\\(" $lower && up="$up $f"
done
[ -n "$ndefs" ] || not_ok "found node's functions" "none found: the check itself broke"
[ -z "$up" ] && ok "core, data plane and control call no node function" ||
	not_ok "core, data plane and control call no node function" "called:$up"
mainuse=$(for f in $ndefs; do grep -qw "$f" user/control/main.c && echo "$f"; done | tr '\n' ' ')
[ "$mainuse" = "cmd_node_agent " ] && ok "main.c calls only cmd_node_agent of the node layer" ||
	not_ok "main.c calls only cmd_node_agent of the node layer" "calls: $mainuse"

# Nothing in the core writes to a file descriptor of the data plane itself.
bad=$(grep -nE '\b(write|sendmsg|sendto|send)\(dev->' user/core/*.c)
[ -z "$bad" ] && ok "core does no I/O on data-plane descriptors" || not_ok "core does no I/O on data-plane descriptors" "$bad"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

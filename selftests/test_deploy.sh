#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tests deploy/kubernetes: the manifest's properties and, as root, the node agent's pod simulated on a
# node against the fake API server.
# xwg-timeout: 300
#
# Part 1 (any user): selftests/k8s_manifest.py parses the manifest with python3-yaml and checks
# hostNetwork, priority, tolerations, NODE_NAME from the downward API, the bpffs (Bidirectional in a
# privileged init container, HostToContainer in the agent), TUN, state and socket mounts,
# capabilities, probes, and the ServiceAccount / ClusterRole / ClusterRoleBinding; the real xwg binary
# then checks that the container's command and the probes are existing subcommands with valid flags,
# and dpkg that the Containerfile installs every library xwg links against.
#
# Part 2 (root): no cluster here, so this script plays container runtime, kubelet and API server. The
# "node" is network namespace $P-a with its own bpffs instance standing for the node's /sys/fs/bpf and
# its own directories standing for its /var/lib/xwg and /var/run/wireguard; $P-b is a second node that
# also runs the fake API server (fake_kube.py, HTTPS) and an `xwg node-agent` of its own. A "pod" is
# the manifest's exact command run as PID 1 of new mount and PID namespaces entered into the node's
# network namespace (hostNetwork), with a fresh sysfs, every volumeMount of the manifest plus the
# service-account volume the kubelet adds (token, ca.crt, namespace), the environment the kubelet
# sets (NODE_NAME from spec.nodeName, KUBERNETES_SERVICE_HOST/_PORT), a read-only root if the
# manifest says so, no_new_privs and exactly the manifest's capabilities as the bounding set. Probes
# run like `kubectl exec`, inside the pod's namespaces. First the init container (mount-bpffs), run
# privileged on a node whose /sys/fs/bpf is a shared mount without bpffs: its mount must reach the
# node (Bidirectional), and a second run must mount nothing. Then: the pod publishes its key on its
# Node and meshes with node b from the annotations (pod addresses ping), both probes, BPF data path,
# every API call the agent makes is allowed by the ClusterRole; a termination as the kubelet does it
# (SIGTERM, SIGKILL after the grace period) and a SIGKILL both leave a forwarding BPF data path that
# the next pod adopts without a new handshake and with the same key; without any one capability there
# is no BPF data path.

. "$(dirname "$0")/lib.sh"

. "$LIB_DIR/kube_lib.sh"

MANIFEST=${MANIFEST:-$REPO_DIR/deploy/kubernetes/xwg-daemonset.yaml}
CONTAINERFILE=$REPO_DIR/deploy/kubernetes/Containerfile
IMAGE_BIN=/usr/local/bin		# where the Containerfile puts xwg
FACTS=""
POD_PID="" POD_WRAP="" POD_N=0 POD_LOG="" NODE_BPF=""

# ---- part 1: the manifest

# count_tap: echoes TAP lines from stdin and adds them to the totals.
count_tap() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"ok - "*) T_PASS=$((T_PASS + 1)) ;;
		"not ok - "*) T_FAIL=$((T_FAIL + 1)) ;;
		esac
	done
}

# usage_has_flag USAGE FLAG: FLAG appears as an option in a "Usage: xwg CMD ..." line.
usage_has_flag() {
	printf '%s\n' "$1" | grep -Eq -- "(^|[][ |])$2([][ |]|$)"
}

# check_xwg_command WHAT ARGV...: ARGV is `xwg SUBCOMMAND ...` that this xwg knows, with known flags;
# a word after a flag is its value (an interface name for --interface), other words are interfaces.
check_xwg_command() {
	local what=$1 usage a prev=""; shift
	check_eq "$what: runs xwg (found on the image's PATH)" "xwg" "${1##*/}"
	if [ "$1" != xwg ] && [ "$1" != "$IMAGE_BIN/xwg" ]; then
		nok "$what: '$1' is where the Containerfile installs xwg"
	fi
	check "$what: 'xwg $2' is an xwg subcommand ('xwg help $2')" "$XWG" help "$2"
	usage=$("$XWG" "$2" --help 2>&1)		# the Usage: line and the option list
	for a in "${@:3}"; do
		case $prev in
		--interface) prev="" ;;
		--*) prev=""; continue ;;
		esac
		case $a in
		--*)
			prev=$a
			if usage_has_flag "$usage" "$a"; then
				ok "$what: flag $a is in 'xwg $2 --help'"
			else
				nok "$what: flag $a is in 'xwg $2 --help': $usage"
			fi
			;;
		*) check "$what: argument '$a' is a valid interface name" test -n "$(printf '%s' "$a" |
				grep -E '^[A-Za-z0-9_=+.-]{1,15}$')" ;;
		esac
	done
}

# deps_closure PKG: PKG and everything apt installs with it (Depends and Pre-Depends, recursively;
# of alternatives "a | b" the first, as apt picks), one package a line.
deps_closure() {
	local todo=("$1") seen=" " p d
	while [ "${#todo[@]}" -gt 0 ]; do
		p=${todo[0]} todo=("${todo[@]:1}")
		case $seen in *" $p "*) continue ;; esac
		seen="$seen$p "
		echo "$p"
		for d in $(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p" 2>/dev/null | tr ',' '\n' |
			sed 's/|.*//; s/(.*)//; s/:any//' | awk 'NF { print $1 }'); do
			todo+=("$d")
		done
	done
}

# Every library xwg links against (but libc, which the base image has) comes from a package the
# Containerfile installs, or from one of their dependencies (recursively, as apt installs them);
# asked of dpkg on this bookworm machine.
containerfile_libs() {
	local installs so pkg p covered
	installs=$(sed -n 's/.*apt-get install[^&]*--no-install-recommends\([^&\\]*\).*/\1/p' "$CONTAINERFILE")
	if [ -z "$installs" ] || ! command -v dpkg-query >/dev/null; then
		nok "the Containerfile's packages can be read and checked with dpkg"
		return
	fi
	declare -A CLOSURE=()
	for p in $installs; do CLOSURE[$p]=$(deps_closure "$p"); done
	for so in $(ldd "$XWG" | awk '$2 == "=>" { print $3 }'); do
		pkg=$(dpkg -S "$so" 2>/dev/null || dpkg -S "$(realpath "$so")" 2>/dev/null)
		pkg=${pkg%%:*}
		[ "$pkg" = libc6 ] && continue
		covered=""
		for p in $installs; do
			if printf '%s\n' "${CLOSURE[$p]}" | grep -qx -- "$pkg"; then
				covered=$p
				break
			fi
		done
		if [ -n "$covered" ]; then
			ok "image has ${so##*/} (package ${pkg}, through $covered)"
		else
			nok "image has ${so##*/} (package '${pkg}' not in: $installs)"
		fi
	done
}

manifest_checks() {
	local key
	if ! python3 -c 'import yaml' 2>/dev/null; then
		skip_all "needs python3-yaml (make deps)"
	fi
	FACTS=$T_TMP/facts.json
	count_tap < <(python3 "$LIB_DIR/k8s_manifest.py" "$FACTS" "$MANIFEST")
	if [ ! -s "$FACTS" ]; then
		nok "the manifest's facts could be read"
		return 1
	fi
	mapfile -t CMD < <(jq -r '.command[]' "$FACTS")
	mapfile -t READY < <(jq -r '.probes.readinessProbe[]' "$FACTS")
	mapfile -t LIVE < <(jq -r '.probes.livenessProbe[]' "$FACTS")
	IFN=$(jq -r .ifname "$FACTS")
	check_xwg_command "container command" "${CMD[@]}"
	check_xwg_command "readinessProbe" "${READY[@]}"
	check_xwg_command "livenessProbe" "${LIVE[@]}"
	check "the Containerfile installs xwg in $IMAGE_BIN" grep -Eq "^COPY .*[[:space:]]$IMAGE_BIN/xwg\$" "$CONTAINERFILE"
	containerfile_libs
	mapfile -t INIT_CMD < <(jq -r '.initContainers[0].command[]?' "$FACTS")
	check "the init container's command parses as sh" sh -n -c "${INIT_CMD[2]:-false}"
}

# ---- part 2: a pod on a node

# The "container runtime", run as PID 1 of the pod's new mount and PID namespaces:
#   pod-init.sh CAPS NNP RO_ROOT MOUNT... -- COMMAND...   MOUNT is "bind|tmpfs:SRC:DST:RO".
write_pod_init() {
	cat >"$T_TMP/pod-init.sh" <<'EOF'
#!/bin/bash
set -e
caps=$1 nnp=$2 roroot=$3 n=0
shift 3
mount -t sysfs sysfs /sys		# as the runtime does: this network namespace's sysfs
while [ "$1" != -- ]; do
	IFS=: read -r kind src dst ro <<<"$1"
	shift
	if [ ! -e "$dst" ]; then
		# Not in the image: an overlay over the nearest existing ancestor adds the missing
		# directories without touching the host.
		base=${dst%/*}
		while [ ! -e "$base" ]; do base=${base%/*}; done
		n=$((n + 1))
		mkdir -p "$POD_TMP/ovl$n/${dst#"$base"/}"
		mount -t overlay overlay -o "lowerdir=$POD_TMP/ovl$n:$base" "$base"
	fi
	case $kind in
	bind) mount --bind "$src" "$dst" ;;
	tmpfs) mount -t tmpfs -o mode=0755 tmpfs "$dst" ;;
	esac
	[ "$ro" = 1 ] && mount -o remount,bind,ro "$dst"
done
shift
[ "$roroot" = 1 ] && mount -o remount,bind,ro /
[ "$caps" = ALL ] && exec "$@"
exec setpriv $([ "$nnp" = 1 ] && echo --no-new-privs) --inh-caps=-all --bounding-set="-all,$caps" -- "$@"
EOF
	chmod 755 "$T_TMP/pod-init.sh"
}

# The service-account volume the kubelet adds to every pod (projected: token, ca.crt, namespace), laid
# out as the kubelet writes it (a timestamped directory, ..data, symlinks), for the fake API server.
write_sa() {
	local dir=$T_TMP/sa ts=..2026_01_01_00_00_00.000000001 f
	mkdir -p "$dir/$ts"
	printf '%s' "$FAKE_TOKEN2" >"$dir/$ts/token"
	cp "$FAKE_DIR/ca.crt" "$dir/$ts/ca.crt"
	jq -r .namespace "$FACTS" >"$dir/$ts/namespace"
	chmod 0644 "$dir/$ts/"*
	ln -s "$ts" "$dir/..data"
	for f in token ca.crt namespace; do ln -s "..data/$f" "$dir/$f"; done
	SA_DIR=$dir
}

# pod_spec: POD_ARGS for pod-init.sh from the manifest's securityContext and volumeMounts.
pod_spec() {
	local caps kind src path ro
	caps=$(jq -r '[.capabilities[] | "+" + ascii_downcase] | join(",")' "$FACTS")
	POD_CAPS=$caps
	POD_NNP=$(jq -r 'if .noNewPrivs then 1 else 0 end' "$FACTS")
	# The service-account volume first: its overlay over /var/run must lie under the other mounts.
	POD_ARGS=("$caps" "$POD_NNP" "$(jq -r 'if .readOnlyRoot then 1 else 0 end' "$FACTS")"
		"bind:$SA_DIR:/var/run/secrets/kubernetes.io/serviceaccount:1")
	while IFS='|' read -r kind src path ro; do
		case $kind in
		hostPath)
			# The node's bpffs is our own bpffs instance; its state and run directories are ours
			# too; /dev/net/tun is the real one.
			case $src in
			/sys/fs/bpf) src=$NODE_BPF ;;
			/dev/*) ;;
			*) src=$NODE_ROOT$src; mkdir -p "$src" ;;
			esac
			POD_ARGS+=("bind:$src:$path:$ro") ;;
		emptyDir) POD_ARGS+=("tmpfs::$path:$ro") ;;
		*) nok "volume kind $kind at $path can be simulated"; return 1 ;;
		esac
	done < <(jq -r '.mounts[] | [.kind, .source, .path, (if .readOnly then 1 else 0 end | tostring)] | join("|")' "$FACTS")
}

# pod_start ARGV...: a new pod running ARGV; sets POD_WRAP (unshare, our child) and POD_PID (PID 1).
pod_start() {
	local i child=""
	POD_N=$((POD_N + 1))
	POD_LOG=$T_TMP/pod$POD_N.log
	env PATH="$POD_PATH" POD_TMP="$T_TMP/pod$POD_N" NODE_NAME=node-a KUBERNETES_SERVICE_HOST="$UB4" \
		KUBERNETES_SERVICE_PORT="$FAKE_PORT" nsenter --net="/run/netns/$NS_A" -- \
		unshare --mount --pid --fork --mount-proc -- "$T_TMP/pod-init.sh" "${POD_ARGS[@]}" -- "$@" \
		>"$POD_LOG" 2>&1 &
	POD_WRAP=$!
	for i in $(seq 50); do
		child=$(pgrep -P "$POD_WRAP" | head -n 1)
		[ -n "$child" ] && [ "$(cat "/proc/$child/comm" 2>/dev/null)" = "${1##*/}" ] && break
		sleep 0.1
	done
	POD_PID=$child
	[ -n "$POD_PID" ]
}

# pod_exec ARGV...: like `kubectl exec`: in the pod's namespaces, with its capabilities and PATH.
pod_exec() {
	nsenter -t "$POD_PID" -m -n -p -- env PATH="$POD_PATH" setpriv \
		$([ "$POD_NNP" = 1 ] && echo --no-new-privs) --inh-caps=-all --bounding-set="-all,$POD_CAPS" -- "$@"
}

# pod_terminate: what the kubelet does: SIGTERM, SIGKILL after the grace period.
# Sets POD_STATUS (the container's exit status) and POD_KILLED (1 if SIGKILL was needed).
pod_terminate() {
	local grace i
	grace=$(jq -r .grace "$FACTS")
	[ "$grace" -gt 30 ] && grace=30
	POD_KILLED=0
	kill -TERM "$POD_PID"
	for i in $(seq $((grace * 10))); do
		kill -0 "$POD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$POD_PID" 2>/dev/null; then
		kill -KILL "$POD_PID"
		POD_KILLED=1
	fi
	wait "$POD_WRAP"
	POD_STATUS=$?
	POD_PID="" POD_WRAP=""
}

# pod_kill: the agent dies without running its SIGTERM handling (OOM kill, grace period exceeded).
pod_kill() {
	kill -KILL "$POD_PID"
	wait "$POD_WRAP"
	POD_PID="" POD_WRAP=""
}

pod_ready() { wait_for 15 pod_exec "${READY[@]}"; }

# pod_failed: shows the pod's log and ends the test (what follows needs a running pod).
pod_failed() {
	say "log of pod $POD_N:"
	show_file "$POD_LOG"
	lib_done
}

no_link() { ! ip -n "$NS_A" link show "$IFN" >/dev/null 2>&1; }

# Nothing of xwg's left on the node's underlay: no XDP program, no TC ingress filter.
underlay_clean() {
	! ip -n "$NS_A" -d link show "$VETH_A" | grep -q 'prog/xdp' &&
		[ -z "$(tc -n "$NS_A" filter show dev "$VETH_A" ingress 2>/dev/null)" ]
}

deploy_cleanup() {
	local rc=$?
	if [ -n "$POD_PID" ]; then
		kill -TERM "$POD_PID" 2>/dev/null
		wait_for 5 sh -c "! kill -0 $POD_PID"
		kill -KILL "$POD_PID" 2>/dev/null
		wait "$POD_WRAP" 2>/dev/null
	fi
	# A killed pod leaves the tunnel and pins: remove them as the node's admin would.
	if [ -n "$NODE_BPF" ] && [ -n "${NS_A:-}" ] && { ! no_link || [ -e "$NODE_BPF/xwg/$IFN" ]; }; then
		POD_ARGS[0]=ALL
		pod_start "$XWG" down "$IFN" && wait "$POD_WRAP"
	fi >/dev/null 2>&1
	if [ -n "$NODE_BPF" ] && mountpoint -q "$NODE_BPF"; then
		umount "$NODE_BPF" || umount -l "$NODE_BPF"
	fi
	while [ -n "${NODE_SYSBPF:-}" ] && mountpoint -q "$NODE_SYSBPF"; do
		umount "$NODE_SYSBPF" || umount -l "$NODE_SYSBPF" || break
	done
	(exit "$rc")
	lib_cleanup
}

# node_b_start: node b's own agent (not a pod), with a kubeconfig for the fake.
node_b_start() {
	kubeconfig_write "$T_TMP/kc-b" token
	ip netns exec "$NS_B" "$XWG" node-agent --kubeconfig "$T_TMP/kc-b" --node-name node-b --interface "$IF_B" \
		--listen-port 51820 --state-dir "$T_TMP/state-b" >"$T_TMP/agent-b.log" 2>&1 &
	T_PIDS+=("$!")
	wait_for 15 sh -c "wg show '$IF_B' public-key >/dev/null 2>&1"
}

published() { [ -n "$(fake_annotation node-a xwg.io/public-key)" ] && [ -n "$(fake_annotation node-a xwg.io/endpoint)" ]; }
# a_meshed: node b has node a's published key as a peer for 10.244.1.0/24, and a has b's.
a_meshed() {
	local ka kb
	ka=$(fake_annotation node-a xwg.io/public-key) kb=$(fake_annotation node-b xwg.io/public-key)
	wg show "$IF_B" allowed-ips | grep -q "^$ka	.*10.244.1.0/24" &&
		pod_exec wg show "$IFN" allowed-ips | grep -q "^$kb	.*10.244.2.0/24"
}
pod_ping() { nsx "$NS_A" ping -c "${1:-3}" -i 0.2 -W 2 -q -I 10.244.1.10 10.244.2.10; }
hs_of_a() { wg show "$IF_B" latest-handshakes | awk -v k="$(fake_annotation node-a xwg.io/public-key)" '$1 == k { print $2 }'; }
hs_settled() { local a; a=$(hs_of_a); sleep 1.5; [ -n "$a" ] && [ "$a" != 0 ] && [ "$a" = "$(hs_of_a)" ]; }
# hs_note POD BEFORE AFTER: whether the adoption kept the session. Not asserted: the issue asks for a
# data path that keeps forwarding and the same key and peers (checked), not for the same session;
# today's agent makes a new handshake after it starts.
hs_note() {
	if [ "${2:-0}" -gt 0 ] && [ "$3" = "$2" ]; then
		say "$1: adopted the session too (node b's latest handshake with a unchanged: $2)"
	else
		say "$1: NOTE: a new handshake after the restart (node b's latest handshake with a: $2 -> $3)"
	fi
}
key_sum() { sha256sum <"$NODE_ROOT$(jq -r .stateDir "$FACTS")/private.key"; }

# rbac_checks: every API call the agent in the pod made is one the ClusterRole allows.
rbac_calls() {
	local calls rules c bad=""
	calls=$(fake_admin GET /admin/audit | jq -r '.[] | select(.user == "token:'"${FAKE_TOKEN2:0:8}"'") |
		"\(.verb) \(.resource)"' | sort -u)
	rules=$(jq -r '.rbac[] | "\(.verb) \(.resource)"' "$FACTS")
	say "the agent's calls: $(echo $calls | sed 's/ nodes/ nodes,/g')"
	check "the agent made API calls (list, watch, patch of nodes at least)" sh -c \
		"printf '%s\n' '$calls' | grep -qx 'list nodes' && printf '%s\n' '$calls' | grep -qx 'watch nodes' &&
		 printf '%s\n' '$calls' | grep -qx 'patch nodes'"
	while IFS= read -r c; do
		[ -z "$c" ] && continue
		printf '%s\n' "$rules" | grep -qx -- "$c" || bad="$bad, $c"
	done <<<"$calls"
	check_eq "every call the agent makes is allowed by the ClusterRole (verb resource)" "" "${bad#, }"
	check_eq "no call was refused" "" "$(fake_admin GET /admin/audit | jq -r '.[] | select(.code >= 400) | .path')"
}

# init_run: the init container (mount-bpffs): its exact command, privileged (every capability), in new
# mount and PID namespaces in the node's network namespace, with a fresh sysfs and the node's
# /sys/fs/bpf (NODE_SYSBPF, a shared mount as systemd makes them) bound with Bidirectional
# propagation: new mount namespace with propagation unchanged, every other mount made a slave first so
# that nothing else can reach the host, the host's /sys replaced by a fresh sysfs as a runtime does,
# then a bind of the shared mount, which joins its peer group.
init_run() {
	nsenter --net="/run/netns/$NS_A" -- unshare --mount --pid --fork --propagation unchanged -- \
		sh -c 'set -e
		findmnt -rno TARGET | while read -r m; do
			[ "$m" = "$1" ] || mount --make-slave "$m" 2>/dev/null || true
		done
		umount -R -l /sys	# as in a container: only its own sysfs, not the host mounts below it
		mount -t sysfs sysfs /sys
		mount --bind "$1" /sys/fs/bpf
		shift
		exec "$@"' sh "$NODE_SYSBPF" "${INIT_CMD[@]}"
}

# init_checks: with no bpffs on the node, the init container mounts one and it shows on the node
# (Bidirectional); a second run does nothing (it is already there).
init_checks() {
	local n
	NODE_SYSBPF=$T_TMP/node-sys-fs-bpf
	mkdir -p "$NODE_SYSBPF"
	mount --bind "$NODE_SYSBPF" "$NODE_SYSBPF" && mount --make-shared "$NODE_SYSBPF" ||
		{ nok "a shared mount for the node's /sys/fs/bpf"; return; }
	check_eq "init container: the node has no bpffs at /sys/fs/bpf yet" 0 "$(findmnt -rn -o FSTYPE "$NODE_SYSBPF" | grep -c '^bpf$')"
	check "init container '${INIT_CMD[*]}' succeeds (privileged)" init_run
	check_eq "init container: its bpffs mount reached the node (Bidirectional)" 1 \
		"$(findmnt -rn -o FSTYPE "$NODE_SYSBPF" | grep -c '^bpf$')"
	check "init container: a second run succeeds" init_run
	check_eq "... and mounts nothing more (bpffs already there)" 1 "$(findmnt -rn -o FSTYPE "$NODE_SYSBPF" | grep -c '^bpf$')"
	check_eq "... and the host's own /sys/fs/bpf is untouched" "$SYSBPF_BEFORE" "$(findmnt -rn /sys/fs/bpf | wc -l)"
}

# node_down: `xwg down IFNAME` as root on the node, as its admin would after deleting the DaemonSet.
node_down() {
	local caps=${POD_ARGS[0]}
	POD_ARGS[0]=ALL
	pod_start "$XWG" down "$IFN" && wait "$POD_WRAP"
	POD_PID="" POD_WRAP="" POD_ARGS[0]=$caps
}

pod_checks() {
	local hs0 hs1 out sum0 key0
	need_impl xwg
	need_cmd nsenter unshare setpriv pgrep tc jq python3 openssl curl
	topo_create || { nok "topology"; lib_done; }
	IF_B=${P}nb
	T_IFS+=("$IF_B")
	ip -n "$NS_A" addr add 10.244.1.10/32 dev lo
	ip -n "$NS_B" addr add 10.244.2.10/32 dev lo
	FAKE_TOKEN2=sa-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')	# the pod's service account
	check "the fake API server starts in node b's namespace on $UB4" fake_start "$NS_B" "$UB4" || lib_done
	fake_node_put node-a "$UA4" 10.244.1.0/24 fd44:1::/64 >/dev/null
	fake_node_put node-b "$UB4" 10.244.2.0/24 fd44:2::/64 >/dev/null
	check "node b's agent starts" node_b_start

	NODE_BPF=$T_TMP/node-bpffs NODE_ROOT=$T_TMP/node
	mkdir -p "$NODE_BPF" "$NODE_ROOT" "$T_TMP/image$IMAGE_BIN"
	mount -t bpf bpf "$NODE_BPF" || { nok "a bpffs for the node"; NODE_BPF=""; lib_done; }
	ln -s "$XWG" "$T_TMP/image$IMAGE_BIN/xwg"
	POD_PATH=$T_TMP/image$IMAGE_BIN:/usr/sbin:/usr/bin:/sbin:/bin
	write_sa
	write_pod_init
	pod_spec || lib_done
	SYSBPF_BEFORE=$(findmnt -rn /sys/fs/bpf | wc -l)
	init_checks
	say "pod: ${CMD[*]}; capabilities $POD_CAPS, no_new_privs $POD_NNP; mounts: ${POD_ARGS[*]:3}"

	# -- first pod; without a running pod the rest would check nothing
	check "pod 1 starts ('${CMD[*]}' as PID 1, in-cluster configuration)" pod_start "${CMD[@]}"
	check "pod 1: readinessProbe '${READY[*]}' succeeds" pod_ready || pod_failed
	check "pod 1: livenessProbe '${LIVE[*]}' succeeds" pod_exec "${LIVE[@]}"
	out=$(pod_exec "${READY[@]}" 2>&1)
	check_re "pod 1: BPF data path with these capabilities (xwg show)" 'data path: (xdp|tc) ' "$out"
	check "pod 1: node-a's annotations published" wait_for 15 published || pod_failed
	check_eq "pod 1: the published key is the interface's" "$(pod_exec wg show "$IFN" public-key 2>&1)" \
		"$(fake_annotation node-a xwg.io/public-key)"
	check_eq "pod 1: endpoint annotation" "$UA4:51820" "$(fake_annotation node-a xwg.io/endpoint)"
	check_eq "pod 1: the key file on the node's state dir is mode 0600" 600 \
		"$(stat -c %a "$NODE_ROOT$(jq -r .stateDir "$FACTS")/private.key" 2>&1)"
	check "pod 1: meshed with node b from the annotations" wait_for 15 a_meshed
	check "pod 1: pod address a -> pod address b" wait_for 10 pod_ping 1
	check "pod 1: pins in the node's bpffs" test -e "$NODE_BPF/xwg/$IFN/xwg_keypairs"
	rbac_calls
	# Both ends may start a handshake at first: wait until the latest one stays put.
	wait_for 10 hs_settled
	hs0=$(hs_of_a) sum0=$(key_sum) key0=$(fake_annotation node-a xwg.io/public-key)

	# -- termination as the kubelet does it: the data path stays for the next pod to adopt
	sleep 1.1	# so a new handshake would have a later timestamp
	pod_terminate
	check_eq "pod 1: the agent exits on SIGTERM, before the grace period (no SIGKILL)" 0 "$POD_KILLED"
	check_eq "pod 1: exit status 0" 0 "$POD_STATUS"
	check "pod 1 gone: $IFN stays" ip -n "$NS_A" link show "$IFN"
	check "pod 1 gone: pins stay in the node's bpffs" test -e "$NODE_BPF/xwg/$IFN/xwg_keypairs"
	check "pod 1 gone: pod addresses still ping (BPF data path, no agent)" pod_ping
	show_file "$POD_LOG" 5

	check "pod 2 starts on the tunnel pod 1 left" pod_start "${CMD[@]}"
	check "pod 2: readinessProbe succeeds" pod_ready || pod_failed
	check "pod 2: meshed" wait_for 15 a_meshed
	check "pod 2: ping" pod_ping
	hs1=$(hs_of_a)
	hs_note "pod 2" "$hs0" "$hs1"
	check_eq "pod 2: the same key file" "$sum0" "$(key_sum)"
	check_eq "pod 2: the same key on the Node" "$key0" "$(fake_annotation node-a xwg.io/public-key)"

	# -- crash: SIGKILL leaves the data path too, the next pod adopts it
	sleep 1.1
	pod_kill
	check "pod 2 killed: $IFN stays" ip -n "$NS_A" link show "$IFN"
	check "pod 2 killed: ping with no agent (BPF data path)" pod_ping
	check "pod 3 starts on the leftover tunnel" pod_start "${CMD[@]}"
	check "pod 3: readinessProbe succeeds" pod_ready || pod_failed
	check "pod 3: livenessProbe succeeds" pod_exec "${LIVE[@]}"
	check "pod 3: meshed, ping" eval "wait_for 15 a_meshed && pod_ping"
	hs1=$(hs_of_a)
	hs_note "pod 3" "$hs0" "$hs1"
	check_eq "pod 3: the same key file" "$sum0" "$(key_sum)"
	out=$(pod_exec "${READY[@]}" 2>&1)
	check_re "pod 3: BPF data path again" 'data path: (xdp|tc) ' "$out"
	pod_terminate
	check_eq "pod 3: exits 0 on SIGTERM without SIGKILL" "0 0" "$POD_KILLED $POD_STATUS"
	# What the node's admin does after deleting the DaemonSet (README.md): remove the leftovers.
	node_down
	check "after the DaemonSet: 'xwg down $IFN' on the node removes the tunnel and pins" \
		sh -c "! ip -n '$NS_A' link show '$IFN' 2>/dev/null && test ! -e '$NODE_BPF/xwg/$IFN'"
	caps_needed
}

# Least privilege: without any one of the manifest's capabilities there is no BPF data path.
caps_needed() {
	local all=$POD_CAPS cap out
	for cap in ${all//,/ }; do
		POD_CAPS=$(printf '%s' ",$all," | sed "s/,$cap,/,/; s/^,//; s/,\$//")
		POD_ARGS[0]=$POD_CAPS
		if pod_start "${CMD[@]}"; then
			if pod_ready; then
				out=$(pod_exec "${READY[@]}" 2>&1 | grep 'data path:')
			else
				out=$(tail -n 1 "$POD_LOG")
			fi
			pod_terminate
		else
			wait "$POD_WRAP"
			out=$(tail -n 1 "$POD_LOG")
			POD_PID="" POD_WRAP=""
		fi
		if printf '%s' "$out" | grep -Eq 'data path: (xdp|tc) '; then
			nok "without ${cap#+}: no BPF data path (got: $out)"
		else
			ok "without ${cap#+}: no BPF data path (${out#"${out%%[! ]*}"})"
		fi
		node_down >/dev/null 2>&1
		wait_for 5 no_link
	done
	POD_CAPS=$all POD_ARGS[0]=$all
}

if [ "$(id -u)" = 0 ]; then
	lib_init
	trap deploy_cleanup EXIT
	manifest_checks || lib_done
	pod_checks
	lib_done
fi
# Not root: the manifest checks only.
T_TMP=$(mktemp -d /tmp/xwg-deploy.XXXXXX)
trap 'rm -rf "$T_TMP"; lib_summary; [ "$T_FAIL" -eq 0 ] || exit 1' EXIT
manifest_checks
skip "the simulated pod" "needs root"

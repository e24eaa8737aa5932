#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tests deploy/kubernetes: the DaemonSet's properties and, as root, its pod simulated on a node.
# xwg-timeout: 240
#
# Part 1 (any user): selftests/k8s_manifest.py parses the manifests with python3-yaml and checks
# hostNetwork, the bpffs/TUN/Secret mounts, capabilities, probes; the real xwg binary then checks that
# the container's command and the probes are existing subcommands with valid flags, and that the
# example Secret's key is a placeholder xwg refuses.
#
# Part 2 (root): no cluster here, so this script plays container runtime and kubelet. The "node" is
# network namespace $P-a (veth to $P-b, where wireguard-go is the peer), with its own bpffs instance
# standing for the node's /sys/fs/bpf. A "pod" is the manifest's exact command run as PID 1 of new
# mount and PID namespaces entered into the node's network namespace (hostNetwork), with a fresh
# sysfs, every volumeMount of the manifest (the Secret laid out as the kubelet does: ..data symlinks,
# defaultMode), a read-only root if the manifest says so, no_new_privs and exactly the manifest's
# capabilities as the bounding set. Probes run like `kubectl exec`, inside the pod's namespaces.
# Checked: ping through the tunnel, both probes, BPF data path; then a pod termination as the kubelet
# does it (SIGTERM, SIGKILL after terminationGracePeriodSeconds) must remove the tunnel, programs and
# pins (the documented behaviour) and a new pod must come up with a new handshake; then a SIGKILL
# (crash, OOM kill, grace period exceeded) must leave a working BPF data path that the next pod adopts
# without a new handshake.

. "$(dirname "$0")/lib.sh"

MANIFEST=${MANIFEST:-$REPO_DIR/deploy/kubernetes/xwg-daemonset.yaml}
SECRET_EXAMPLE=$REPO_DIR/deploy/kubernetes/xwg-secret.example.yaml
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

# check_xwg_command WHAT ARGV...: ARGV is `xwg SUBCOMMAND ...` that this xwg knows, with known flags.
check_xwg_command() {
	local what=$1 usage a; shift
	check_eq "$what: runs xwg (found on the image's PATH)" "xwg" "${1##*/}"
	if [ "$1" != xwg ] && [ "$1" != "$IMAGE_BIN/xwg" ]; then
		nok "$what: '$1' is where the Containerfile installs xwg"
	fi
	check "$what: 'xwg $2' is an xwg subcommand ('xwg help $2')" "$XWG" help "$2"
	usage=$("$XWG" "$2" --help 2>&1 | grep '^Usage:')
	for a in "${@:3}"; do
		case $a in
		-*)
			if usage_has_flag "$usage" "$a"; then
				ok "$what: flag $a is in '$usage'"
			else
				nok "$what: flag $a is in '$usage'"
			fi
			;;
		*) check "$what: argument '$a' is a valid interface name" test -n "$(printf '%s' "$a" |
				grep -E '^[A-Za-z0-9_=+.-]{1,15}$')" ;;
		esac
	done
}

# Every library xwg links against (but libc, which the base image has) comes from a package the
# Containerfile installs, or from one of their dependencies; asked of dpkg on this bookworm machine.
containerfile_libs() {
	local installs so pkg p covered
	installs=$(sed -n 's/.*apt-get install[^&]*--no-install-recommends\([^&\\]*\).*/\1/p' "$CONTAINERFILE")
	if [ -z "$installs" ] || ! command -v dpkg-query >/dev/null; then
		nok "the Containerfile's packages can be read and checked with dpkg"
		return
	fi
	for so in $(ldd "$XWG" | awk '$2 == "=>" { print $3 }'); do
		pkg=$(dpkg -S "$so" 2>/dev/null || dpkg -S "$(realpath "$so")" 2>/dev/null)
		pkg=${pkg%%:*}
		[ "$pkg" = libc6 ] && continue
		covered=""
		for p in $installs; do
			if [ "$p" = "$pkg" ] || dpkg-query -W -f='${Depends}' "$p" 2>/dev/null |
				tr ',' '\n' | awk '{ print $1 }' | grep -qx -- "$pkg"; then
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
	count_tap < <(python3 "$LIB_DIR/k8s_manifest.py" "$FACTS" "$MANIFEST" "$SECRET_EXAMPLE")
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
	while IFS= read -r key; do
		check_fails "the example Secret's PrivateKey '$key' is a placeholder xwg refuses" \
			sh -c 'printf "%s\n" "$1" | "$2" pubkey' sh "$key" "$XWG"
	done < <(jq -r '.secretPrivateKeys[]' "$FACTS")
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
		# Not in the image: an overlay over the parent adds the directory without touching the host.
		n=$((n + 1))
		mkdir -p "$POD_TMP/ovl$n/${dst##*/}"
		mount -t overlay overlay -o "lowerdir=$POD_TMP/ovl$n:${dst%/*}" "${dst%/*}"
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

# The Secret volume as the kubelet writes it: a timestamped directory, ..data, and symlinks to it.
write_secret() {
	local mode=$1 dir=$T_TMP/secret ts=..2026_01_01_00_00_00.000000001
	mkdir -p "$dir/$ts"
	{
		echo "[Interface]"
		echo "PrivateKey = $KA_PRIV"
		echo "ListenPort = $(port_of 1 a)"
		echo "Address = $(ovl4 1 a)/24"
		echo
		echo "[Peer]"
		echo "PublicKey = $KB_PUB"
		echo "AllowedIPs = $(ovl4 1 b)/32"
		echo "Endpoint = $UB4:$(port_of 1 b)"
	} >"$dir/$ts/$IFN.conf"
	chmod "$(printf '%o' "$mode")" "$dir/$ts/$IFN.conf"
	ln -s "$ts" "$dir/..data"
	ln -s "..data/$IFN.conf" "$dir/$IFN.conf"
	SECRET_DIR=$dir
}

# pod_spec: POD_ARGS for pod-init.sh from the manifest's securityContext and volumeMounts.
pod_spec() {
	local caps kind src path ro
	caps=$(jq -r '[.capabilities[] | "+" + ascii_downcase] | join(",")' "$FACTS")
	POD_CAPS=$caps
	POD_NNP=$(jq -r 'if .noNewPrivs then 1 else 0 end' "$FACTS")
	POD_ARGS=("$caps" "$POD_NNP" "$(jq -r 'if .readOnlyRoot then 1 else 0 end' "$FACTS")")
	while IFS='|' read -r kind src path ro; do
		case $kind in
		secret) POD_ARGS+=("bind:$SECRET_DIR:$path:$ro") ;;
		hostPath)
			# The node's bpffs is our own bpffs instance; other host paths are the real ones.
			[ "$src" = /sys/fs/bpf ] && src=$NODE_BPF
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
	env PATH="$POD_PATH" POD_TMP="$T_TMP/pod$POD_N" nsenter --net="/run/netns/$NS_A" -- \
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
	(exit "$rc")
	lib_cleanup
}

pod_checks() {
	local pb hs0 hs1 hs2 out
	need_impl xwg wireguard-go
	need_cmd nsenter unshare setpriv pgrep tc jq
	topo_create || { nok "topology"; lib_done; }
	keys_new KA
	keys_new KB
	pb=$(ifname_of 1 b)
	conf_iface "$pb" "$KB_PRIV" "$(port_of 1 b)" "$(ovl4 1 b)/24"
	conf_peer "$pb" "$KA_PUB" "$(ovl4 1 a)/32"
	check "wireguard-go peer up in $NS_B" inst_up wireguard-go "$NS_B" "$pb"

	NODE_BPF=$T_TMP/node-bpffs
	mkdir -p "$NODE_BPF" "$T_TMP/image$IMAGE_BIN"
	mount -t bpf bpf "$NODE_BPF" || { nok "a bpffs for the node"; NODE_BPF=""; lib_done; }
	ln -s "$XWG" "$T_TMP/image$IMAGE_BIN/xwg"
	POD_PATH=$T_TMP/image$IMAGE_BIN:/usr/sbin:/usr/bin:/sbin:/bin
	write_secret "$(jq -r '.mounts[] | select(.kind == "secret") | .defaultMode' "$FACTS")"
	write_pod_init
	pod_spec || lib_done
	say "pod: ${CMD[*]}; capabilities $POD_CAPS, no_new_privs $POD_NNP; mounts: ${POD_ARGS[*]:3}"

	# -- first pod; without a running pod the rest would check nothing
	check "pod 1 starts ('${CMD[*]}' as PID 1)" pod_start "${CMD[@]}"
	check "pod 1: readinessProbe '${READY[*]}' succeeds" pod_ready || pod_failed
	check "pod 1: livenessProbe '${LIVE[*]}' succeeds" pod_exec "${LIVE[@]}"
	out=$(pod_exec "${READY[@]}" 2>&1)
	check_re "pod 1: BPF data path with these capabilities (xwg show)" 'data path: (xdp|tc) ' "$out"
	check "pod 1: ping through $IFN" ping_ok "$NS_A" "$(ovl4 1 b)"
	check "pod 1: pins in the node's bpffs" test -e "$NODE_BPF/xwg/$IFN/xwg_keypairs"
	hs0=$(wg_field "$pb" "$KA_PUB" 5)

	# -- termination as the kubelet does it: documented to remove the tunnel
	sleep 1.1	# so a new handshake has a later timestamp
	pod_terminate
	check_eq "pod 1: the agent exits on SIGTERM, before the grace period (no SIGKILL)" 0 "$POD_KILLED"
	check_eq "pod 1: exit status 0" 0 "$POD_STATUS"
	check "pod 1 gone: $IFN removed" no_link
	check "pod 1 gone: pins removed from the node's bpffs" test ! -e "$NODE_BPF/xwg/$IFN"
	check "pod 1 gone: no XDP program or TC filter left on $VETH_A" underlay_clean
	show_file "$POD_LOG" 5

	# -- the replacement pod starts afresh
	check "pod 2 starts" pod_start "${CMD[@]}"
	check "pod 2: readinessProbe succeeds" pod_ready || pod_failed
	check "pod 2: ping through $IFN" ping_ok "$NS_A" "$(ovl4 1 b)"
	hs1=$(wg_field "$pb" "$KA_PUB" 5)
	check "pod 2: a new handshake (peer's latest handshake $hs0 -> $hs1)" test "${hs0:-0}" -gt 0 -a "${hs1:-0}" -gt "${hs0:-0}"

	# -- crash: SIGKILL leaves the data path, the next pod adopts it
	sleep 1.1
	pod_kill
	check "pod 2 killed: $IFN stays" ip -n "$NS_A" link show "$IFN"
	check "pod 2 killed: pins stay in the node's bpffs" test -e "$NODE_BPF/xwg/$IFN/xwg_keypairs"
	check "pod 2 killed: ping through $IFN with no agent (BPF data path)" ping_ok "$NS_A" "$(ovl4 1 b)"
	check "pod 3 starts on the leftover tunnel" pod_start "${CMD[@]}"
	check "pod 3: readinessProbe succeeds" pod_ready || pod_failed
	check "pod 3: livenessProbe succeeds" pod_exec "${LIVE[@]}"
	check "pod 3: ping through $IFN" ping_ok "$NS_A" "$(ovl4 1 b)"
	hs2=$(wg_field "$pb" "$KA_PUB" 5)
	check "pod 3: adopted the pinned state, no new handshake (peer's latest handshake $hs1 -> $hs2)" \
		test "${hs1:-0}" -gt 0 -a "${hs2:-0}" = "${hs1:-0}"
	out=$(pod_exec "${READY[@]}" 2>&1)
	check_re "pod 3: BPF data path again" 'data path: (xdp|tc) ' "$out"

	pod_terminate
	check_eq "pod 3: exits 0 on SIGTERM without SIGKILL" "0 0" "$POD_KILLED $POD_STATUS"
	check "pod 3 gone: $IFN and pins removed" sh -c "! ip -n '$NS_A' link show '$IFN' 2>/dev/null &&
		test ! -e '$NODE_BPF/xwg/$IFN'"
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

# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the netns tests: namespaces, veths, WireGuard instances (xwg or wireguard-go), assertions, cleanup.
#
# Naming scheme: every run picks a random prefix P (e.g. "x3f9a"); namespaces are "$P-a"/"$P-b", veths
# "${P}va"/"${P}vb", tunnels "${P}a<N>"/"${P}b<N>".  Because /run/wireguard is shared by all network
# namespaces, unique interface names keep the agents' sockets apart, and `wg` can talk to any instance
# from anywhere.  Everything started is killed and every name used is removed by the EXIT trap.

set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$LIB_DIR")
OUTPUT=${OUTPUT:-$REPO_DIR/.output}
XWG=${XWG:-$OUTPUT/xwg}
WGGO=${WIREGUARD_GO:-wireguard-go}
# The modern wireguard-go (Linux offloads; ../shared/peers/README.md), implementation "wireguard-go-modern":
# WGGO_MODERN, else next to the repository, else next to the main checkout when this is a git worktree.
wggo_modern_find() {	# sets WGGO_MODERN, and WGGO_MODERN_TRIED to the places looked at
	local c common cands=("$REPO_DIR/../shared/peers/wireguard-go-modern")
	common=$(git -C "$REPO_DIR" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) &&
		[ "$(dirname "$common")" != "$REPO_DIR" ] &&
		cands+=("$(dirname "$(dirname "$common")")/shared/peers/wireguard-go-modern")
	WGGO_MODERN_TRIED=""
	for c in "${cands[@]}"; do
		WGGO_MODERN_TRIED="$WGGO_MODERN_TRIED${WGGO_MODERN_TRIED:+, }$c"
		[ -x "$c" ] && { WGGO_MODERN=$c; return; }
	done
	WGGO_MODERN=${cands[0]}
}
if [ -n "${WGGO_MODERN:-}" ]; then
	WGGO_MODERN_TRIED="WGGO_MODERN=$WGGO_MODERN"
else
	wggo_modern_find
fi
# Implementations under test; wireguard-go on both ends validates the harness itself.
IMPL_A=${IMPL_A:-xwg}
IMPL_B=${IMPL_B:-wireguard-go}
XWG_MODE=${XWG_MODE:-}		# passed to `xwg up --mode` when set
XWG_UP_ARGS=${XWG_UP_ARGS:-}	# more `xwg up` options (words), e.g. "--metrics-listen 127.0.0.1:9586"
RUNDIR=/var/run/wireguard
BPFFS_DIR=/sys/fs/bpf/xwg
is_bpffs() { [ "$(stat -f -c %T "$1" 2>/dev/null)" = bpf_fs ]; }

# Underlay and overlay addressing; all of it lives only inside our namespaces.
UA4=192.0.2.1 UB4=192.0.2.2 U4LEN=24
UA6=2001:db8:77::1 UB6=2001:db8:77::2 U6LEN=64

T_PASS=0 T_FAIL=0 T_SKIP=0 T_DONE=0
T_NS=() T_PIDS=() T_IFS=()
declare -A INST_NS=() INST_IMPL=() INST_PID=() INST_DAEMON=()
T_TMP=""
P=""

say() { printf '# %s\n' "$*"; }

ok() { T_PASS=$((T_PASS + 1)); printf 'ok - %s\n' "$*"; }

nok() { T_FAIL=$((T_FAIL + 1)); printf 'not ok - %s\n' "$*"; }

skip() { T_SKIP=$((T_SKIP + 1)); printf 'ok - %s # SKIP %s\n' "$1" "${2:-}"; }

# Indents a diagnostic file so it reads as a comment in the test output.
show_file() { [ -s "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/#   /'; return 0; }

# check DESC CMD...: passes when CMD succeeds; shows its output when it does not.
check() {
	local desc=$1; shift
	if "$@" >"$T_TMP/check.out" 2>&1; then
		ok "$desc"
	else
		nok "$desc"
		say "command failed (rc $?): $*"
		show_file "$T_TMP/check.out"
	fi
}

# check_fails DESC CMD...: passes when CMD fails.
check_fails() {
	local desc=$1; shift
	if "$@" >"$T_TMP/check.out" 2>&1; then
		nok "$desc"
		say "command unexpectedly succeeded: $*"
		show_file "$T_TMP/check.out"
	else
		ok "$desc"
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		nok "$1"
		say "expected: $2"
		say "     got: $3"
	fi
}

# check_re DESC EXTENDED-REGEX VALUE
check_re() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		nok "$1"
		say "expected to match: $2"
		say "               got: $3"
	fi
}

# check_ge DESC VALUE MIN (integers)
check_ge() {
	if [ -n "$2" ] && [ "$2" -ge "$3" ] 2>/dev/null; then
		ok "$1"
	else
		nok "$1"
		say "expected >= $3, got '$2'"
	fi
}

# check_bpf_share TAG LABEL JSON: in `xwg show --json` output JSON, at least MIN_RATIO (default 0.99)
# of the first peer's data packets went through BPF, each way.
check_bpf_share() {
	local tag=$1 label=$2 f=$3 min=${MIN_RATIO:-0.99} dir b a res
	for dir in rx tx; do
		read -r b a < <(jq -r --arg d "$dir" '.peers[0] | "\(.["bpf_" + $d + "_packets"]) \(.["agent_" + $d + "_packets"])"' \
			"$f" 2>/dev/null)
		res=$(awk -v b="${b:-null}" -v a="${a:-null}" -v m="$min" 'BEGIN {
			if (b !~ /^[0-9]+$/ || a !~ /^[0-9]+$/) { print "missing"; exit }
			if (b + a == 0) { print "none"; exit }
			r = b / (b + a); printf "%s %.4f\n", (r >= m ? "ok" : "low"), r }')
		case $res in
		ok*)
			ok "$tag: $label $dir in BPF ${res#ok } (bpf $b, agent $a)" ;;
		*)
			nok "$tag: $label $dir in BPF >= $min: $res (bpf_${dir}_packets=$b, agent_${dir}_packets=$a)"
			say "reasons on $label: $(jq -c '.reasons' "$f" 2>/dev/null || head -c 400 "$f")" ;;
		esac
	done
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s; 0 once it succeeds, 1 on timeout.
wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	until "$@" >/dev/null 2>&1; do
		[ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}

skip_all() {
	say "SKIP: $*"
	T_SKIP=$((T_SKIP + 1))
	T_DONE=1
	exit 0
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs '$c'"
	done
}

# impl_missing IMPL: prints why an implementation is not available here; nothing (status 1) when it
# is; status 2 for a name lib.sh does not know.
impl_missing() {
	case $1 in
	xwg) [ -x "$XWG" ] || { echo "$XWG not built"; return 0; } ;;
	wireguard-go) command -v "$WGGO" >/dev/null 2>&1 || { echo "needs '$WGGO'"; return 0; } ;;
	wireguard-go-modern) [ -x "$WGGO_MODERN" ] ||
		{ echo "no modern wireguard-go binary (looked for $WGGO_MODERN_TRIED; set WGGO_MODERN)"; return 0; } ;;
	*) echo "lib.sh: unknown implementation '$1'" >&2; return 2 ;;
	esac
	return 1
}

# need_impl IMPL...: skips the whole test when an implementation is not available.
need_impl() {
	local i why
	for i in "$@"; do
		why=$(impl_missing "$i")
		case $? in
		0) skip_all "$why" ;;
		2) exit 2 ;;
		esac
	done
	return 0
}

lib_summary() {
	if [ "$T_SKIP" -gt 0 ]; then
		printf '%d passed, %d failed, %d skipped\n' "$T_PASS" "$T_FAIL" "$T_SKIP"
	else
		printf '%d passed, %d failed\n' "$T_PASS" "$T_FAIL"
	fi
}

# Kills one pid and waits briefly for it; silently ignores pids that are already gone.
kill_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

lib_cleanup() {
	local rc=$? ifn ns pid pin ino
	trap - EXIT INT TERM
	set +e
	if [ "$T_DONE" != 1 ] && [ "${LIB_DEMO:-0}" != 1 ]; then
		nok "test script ended early (exit status $rc)"
	fi
	if [ "$T_FAIL" -gt 0 ] && [ -n "$T_TMP" ]; then
		# Instance logs, minus wireguard-go's banner, for those that said anything.
		for ifn in "${!INST_IMPL[@]}"; do
			grep -v '[│┌└]' "$T_TMP/$ifn.log" 2>/dev/null | grep -v '^\[#\] xwg: .* up (' >"$T_TMP/log.tmp"
			[ -s "$T_TMP/log.tmp" ] || continue
			say "log of ${INST_IMPL[$ifn]} $ifn (last lines):"
			show_file "$T_TMP/log.tmp" 12
		done
	fi
	{
		for ifn in "${!INST_IMPL[@]}"; do inst_stop "$ifn"; done
		for pid in "${T_PIDS[@]}"; do kill_pid "$pid"; done
		# Anything still running in our namespaces was started by this test (daemons, iperf3, tshark).
		for ns in "${T_NS[@]}"; do
			for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid"; done
		done
		# A dead agent's namespace-wide XDP dispatcher pins (netns:INODE) outlive the namespace, and a later
		# namespace given the same inode number would adopt them: they go with it.
		for ns in "${T_NS[@]}"; do
			ino=$(ip netns exec "$ns" stat -L -c %i /proc/self/ns/net)
			ip netns del "$ns"
			[ -n "$ino" ] && rm -rf "${BPFFS_DIR:?}/netns:$ino"
		done
		for ifn in "${T_IFS[@]}"; do
			rm -f "$RUNDIR/$ifn.sock" "/var/run/wireguard/$ifn.xwg-state"
			[ -d "$BPFFS_DIR/$ifn" ] && rm -rf "${BPFFS_DIR:?}/$ifn"
		done
		[ -n "$T_TMP" ] && rm -rf "$T_TMP"
	} >/dev/null 2>&1
	[ "${LIB_DEMO:-0}" = 1 ] && exit "$rc"
	lib_summary
	[ "$T_FAIL" -eq 0 ] && exit 0
	exit 1
}

# lib_init: root check, a fresh name prefix, a temp dir and the cleanup trap.  Call first.
lib_init() {
	[ "$(id -u)" = 0 ] || { echo "# SKIP: needs root"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
	trap lib_cleanup EXIT
	trap 'exit 130' INT TERM
	need_cmd ip wg
	lib_modes
	local tries=0
	while :; do
		P=$(printf 'x%04x' $(( (RANDOM ^ ($$ << 3)) & 0xffff )))
		ip netns list | grep -q "^$P-" || break
		tries=$((tries + 1)); [ $tries -lt 20 ] || { echo "no free prefix" >&2; exit 1; }
	done
	umask 077
	T_TMP=$(mktemp -d "/tmp/xwg-test.$P.XXXXXX")
	mkdir -p "$RUNDIR"
	[ "${LIB_DEMO:-0}" = 1 ] || say "prefix $P, temp dir $T_TMP, IMPL_A=$IMPL_A IMPL_B=$IMPL_B${XWG_MODE:+ XWG_MODE=$XWG_MODE}"
}

# Marks the test complete; the EXIT trap then cleans up and prints the summary.
lib_done() { T_DONE=1; exit 0; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

ns_create() {
	ip netns add "$1" || return 1
	T_NS+=("$1")
	ip -n "$1" link set lo up
}

# topo_create: namespaces NS_A, NS_B joined by veth VETH_A <-> VETH_B with IPv4 and IPv6 (nodad) addresses.
topo_create() {
	NS_A=$P-a NS_B=$P-b VETH_A=${P}va VETH_B=${P}vb
	topo_link "$NS_A" "$NS_B" "$VETH_A" "$VETH_B"
}

# topo_link NS1 NS2 VETH1 VETH2: two new namespaces joined like topo_create's, with the same underlay
# addresses (UA*/UB*); pair_up can use them by overriding NS_A/NS_B for the call.
topo_link() {
	local na=$1 nb=$2 va=$3 vb=$4
	ns_create "$na" && ns_create "$nb" || return 1
	ip link add "$va" netns "$na" type veth peer name "$vb" netns "$nb" || return 1
	ip -n "$na" addr add "$UA4/$U4LEN" dev "$va"
	ip -n "$nb" addr add "$UB4/$U4LEN" dev "$vb"
	ip -n "$na" addr add "$UA6/$U6LEN" dev "$va" nodad
	ip -n "$nb" addr add "$UB6/$U6LEN" dev "$vb" nodad
	ip -n "$na" link set "$va" up
	ip -n "$nb" link set "$vb" up
	wait_for 5 nsx "$na" ping -c 1 -W 1 -q "$UB4" || { say "underlay IPv4 does not work"; return 1; }
	wait_for 5 nsx "$na" ping -c 1 -W 1 -q "$UB6" || { say "underlay IPv6 does not work"; return 1; }
}

# ---------------------------------------------------------------------------------------------
# Configuration files (wg-quick format).  The interface name is the file's basename, as xwg wants.

conf_path() { printf '%s/%s.conf' "$T_TMP" "$1"; }

# conf_iface IFNAME PRIVKEY PORT ADDRESSES [MTU] [MODE]; MODE is xwg's data path key (Mode = ...).
conf_iface() {
	local f
	f=$(conf_path "$1")
	{
		echo "[Interface]"
		echo "PrivateKey = $2"
		[ -n "$3" ] && echo "ListenPort = $3"
		[ -n "$4" ] && echo "Address = $4"
		[ -n "${5:-}" ] && echo "MTU = $5"
		[ -n "${6:-}" ] && echo "Mode = $6"
	} >"$f"
}

# conf_peer IFNAME PUBKEY ALLOWEDIPS [ENDPOINT] [KEEPALIVE] [PSK]; empty or "-" leaves a key out.
conf_peer() {
	local f
	f=$(conf_path "$1")
	{
		echo
		echo "[Peer]"
		echo "PublicKey = $2"
		[ -n "${6:-}" ] && [ "$6" != - ] && echo "PresharedKey = $6"
		[ -n "$3" ] && [ "$3" != - ] && echo "AllowedIPs = $3"
		[ -n "${4:-}" ] && [ "$4" != - ] && echo "Endpoint = $4"
		[ -n "${5:-}" ] && [ "$5" != - ] && echo "PersistentKeepalive = $5"
	} >>"$f"
}

# Drops the wg-quick-only keys, leaving what `wg setconf` accepts (like `wg-quick strip`).
conf_strip() {
	grep -Eiv '^[[:space:]]*(Address|MTU|DNS|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig|Mode|Underlay)[[:space:]]*=' "$1"
}

# conf_values FILE KEY: every value of KEY, split on commas, one per line.
conf_values() {
	awk -v k="$2" '{ line = $0; sub(/#.*/, "", line) }
		match(line, "^[ \t]*[A-Za-z]+[ \t]*=") {
			key = substr(line, 1, RLENGTH - 1); gsub(/[ \t]/, "", key)
			if (tolower(key) != tolower(k)) next
			val = substr(line, RLENGTH + 1); n = split(val, parts, ",")
			for (i = 1; i <= n; i++) { gsub(/[ \t]/, "", parts[i]); if (parts[i] != "") print parts[i] }
		}' "$1"
}

# ---------------------------------------------------------------------------------------------
# Instances: one WireGuard interface run by IMPL in a namespace, configured from its wg-quick file.

sock_ready() { [ -S "$RUNDIR/$1.sock" ] && wg show "$1" public-key >/dev/null 2>&1; }

# inst_up IMPL NS IFNAME: starts the implementation with $(conf_path IFNAME); waits until it answers.
inst_up() {
	local impl=$1 ns=$2 ifn=$3 conf a mtu
	conf=$(conf_path "$ifn")
	T_IFS+=("$ifn")
	INST_NS[$ifn]=$ns INST_IMPL[$ifn]=$impl INST_DAEMON[$ifn]=0
	case $impl in
	wireguard-go|wireguard-go-modern)
		ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL="${WGGO_LOG_LEVEL:-error}" \
			"$([ "$impl" = wireguard-go ] && echo "$WGGO" || echo "$WGGO_MODERN")" -f "$ifn" >"$T_TMP/$ifn.log" 2>&1 &
		INST_PID[$ifn]=$!
		wait_for 10 sock_ready "$ifn" || { say "$impl $ifn did not come up"; return 1; }
		conf_strip "$conf" >"$T_TMP/$ifn.stripped"
		wg setconf "$ifn" "$T_TMP/$ifn.stripped" || return 1
		for a in $(conf_values "$conf" Address); do
			ip -n "$ns" addr add "$a" dev "$ifn" $([ "${a#*:}" != "$a" ] && echo nodad) || return 1
		done
		mtu=$(conf_values "$conf" MTU)
		[ -n "$mtu" ] && ip -n "$ns" link set "$ifn" mtu "$mtu"
		ip -n "$ns" link set "$ifn" up || return 1
		# Like wg-quick: a route per allowed IP (most are already covered by the address's subnet).
		for a in $(wg show "$ifn" allowed-ips | cut -f2- | tr -s ' \t' '\n'); do
			[ "$a" = "(none)" ] || ip -n "$ns" route replace "$a" dev "$ifn" || return 1
		done
		;;
	xwg)
		if [ "${XWG_DAEMON:-0}" = 1 ]; then
			# As a user would: `xwg up` returns once the agent runs in the background.
			INST_DAEMON[$ifn]=1
			ip netns exec "$ns" "$XWG" up "$conf" ${XWG_MODE:+--mode "$XWG_MODE"} ${XWG_UP_ARGS:-} >"$T_TMP/$ifn.log" 2>&1 ||
				{ say "xwg up $conf failed"; show_file "$T_TMP/$ifn.log"; return 1; }
		else
			ip netns exec "$ns" "$XWG" up "$conf" --foreground ${XWG_MODE:+--mode "$XWG_MODE"} ${XWG_UP_ARGS:-} \
				>"$T_TMP/$ifn.log" 2>&1 &
			INST_PID[$ifn]=$!
		fi
		wait_for 15 sock_ready "$ifn" || { say "xwg $ifn did not come up"; show_file "$T_TMP/$ifn.log"; return 1; }
		wait_for 5 ip -n "$ns" link show "$ifn" up || { say "xwg $ifn: link not up"; return 1; }
		inst_check_mode "$ifn" "$ns"
		;;
	*)
		say "unknown implementation '$impl'"; return 1 ;;
	esac
}

# inst_stop IFNAME: stops an instance and waits until its socket and link are gone.
inst_stop() {
	local ifn=$1 ns=${INST_NS[$1]:-} pid=${INST_PID[$1]:-}
	[ -n "$ns" ] || return 0
	if [ "${INST_IMPL[$ifn]}" = xwg ] && [ "${INST_DAEMON[$ifn]}" = 1 ]; then
		nsx "$ns" "$XWG" down "$ifn" >/dev/null 2>&1
	fi
	[ -n "$pid" ] && kill_pid "$pid"
	wait "$pid" 2>/dev/null
	wait_for 3 sh -c "! ip -n '$ns' link show '$ifn'"
	rm -f "$RUNDIR/$ifn.sock"
	unset "INST_PID[$ifn]"
	unset "INST_NS[$ifn]"
}

# ---------------------------------------------------------------------------------------------
# Pairs: instance a<N> in NS_A and b<N> in NS_B, overlay 10.78.N.0/24 and fd78:N::/64, ports 20000+2N.

ovl4() { printf '10.78.%d.%d' "$1" "$([ "$2" = a ] && echo 1 || echo 2)"; }
ovl6() { printf 'fd78:%x::%d' "$1" "$([ "$2" = a ] && echo 1 || echo 2)"; }
port_of() { echo $((20000 + 2 * $1 + $([ "$2" = a ] && echo 0 || echo 1))); }
ifname_of() { echo "$P$2$1"; }

# keys_new VAR: sets VAR_PRIV and VAR_PUB to a fresh key pair.
keys_new() {
	local priv
	priv=$(wg genkey)
	printf -v "$1_PRIV" '%s' "$priv"
	printf -v "$1_PUB" '%s' "$(printf '%s' "$priv" | wg pubkey)"
}

# pair_up N IMPL_A IMPL_B UNDERLAY(4|6) INITIATOR(a|b|both) [KEEPALIVE_A] [KEEPALIVE_B]
# Only the initiator gets an Endpoint, so it sends the first handshake and the other side learns the
# endpoint from it.  Extra knobs, read once: PAIR_PSK (default on), PAIR_WRONG_KEY_FOR_B (a's view of b's
# public key is wrong), PAIR_WRONG_KEY_FOR_A, PAIR_MTU; XWG_MODE_A / XWG_MODE_B (`--mode` for that side's
# xwg instead of XWG_MODE), PAIR_CONF_MODE_A / PAIR_CONF_MODE_B (a "Mode =" line in that side's file).
pair_up() {
	local n=$1 ia=$2 ib=$3 fam=$4 init=$5 ka=${6:--} kb=${7:--}
	local ifa ifb psk=- epa=- epb='' pub_b pub_a
	ifa=$(ifname_of "$n" a) ifb=$(ifname_of "$n" b)
	keys_new KA; keys_new KB
	[ "${PAIR_PSK:-1}" = 1 ] && psk=$(wg genpsk)
	if [ "$fam" = 6 ]; then
		epa="[$UB6]:$(port_of "$n" b)" epb="[$UA6]:$(port_of "$n" a)"
	else
		epa="$UB4:$(port_of "$n" b)" epb="$UA4:$(port_of "$n" a)"
	fi
	[ "$init" = b ] && epa=-
	[ "$init" = a ] && epb=-
	pub_b=$KB_PUB pub_a=$KA_PUB
	[ "${PAIR_WRONG_KEY_FOR_B:-0}" = 1 ] && pub_b=$(wg genkey | wg pubkey)
	[ "${PAIR_WRONG_KEY_FOR_A:-0}" = 1 ] && pub_a=$(wg genkey | wg pubkey)
	conf_iface "$ifa" "$KA_PRIV" "$(port_of "$n" a)" "$(ovl4 "$n" a)/24, $(ovl6 "$n" a)/64" "${PAIR_MTU:-}" \
		"${PAIR_CONF_MODE_A:-}"
	conf_peer "$ifa" "$pub_b" "$(ovl4 "$n" b)/32, $(ovl6 "$n" b)/128" "$epa" "$ka" "$psk"
	conf_iface "$ifb" "$KB_PRIV" "$(port_of "$n" b)" "$(ovl4 "$n" b)/24, $(ovl6 "$n" b)/64" "${PAIR_MTU:-}" \
		"${PAIR_CONF_MODE_B:-}"
	conf_peer "$ifb" "$pub_a" "$(ovl4 "$n" a)/32, $(ovl6 "$n" a)/128" "$epb" "$kb" "$psk"
	PAIR_A_PUB[$n]=$KA_PUB PAIR_B_PUB[$n]=$KB_PUB
	XWG_MODE=${XWG_MODE_B:-$XWG_MODE} inst_up "$ib" "$NS_B" "$ifb" &&
		XWG_MODE=${XWG_MODE_A:-$XWG_MODE} inst_up "$ia" "$NS_A" "$ifa"
}
declare -A PAIR_A_PUB=() PAIR_B_PUB=()

pair_down() {
	inst_stop "$(ifname_of "$1" a)"
	inst_stop "$(ifname_of "$1" b)"
}

# ---------------------------------------------------------------------------------------------
# Data path modes this machine supports (probe_modes.sh; run.sh probes once and exports the result).
# A supported mode that xwg refuses, or `auto` ending below the best supported mode, is a failure;
# only a mode the machine lacks is skipped, with the probe's reason.

lib_modes() {
	[ -n "${XWG_TEST_MODES+x}" ] && return
	eval "$(OUTPUT=$OUTPUT "$LIB_DIR/probe_modes.sh")"
	export XWG_TEST_MODES XWG_TEST_MODES_WHY
}

# mode_supported MODE: auto always is (it must end in mode_auto_expect).
mode_supported() {
	lib_modes
	[ "$1" = auto ] && return 0
	case " $XWG_TEST_MODES " in *" $1 "*) return 0 ;; esac
	return 1
}

mode_missing_why() {
	lib_modes
	printf '%s\n' "$XWG_TEST_MODES_WHY" | tr '|' '\n' | sed -n "s/^$1: //p" | head -n 1
}

# What auto must choose here: xdp, else tc, else tun (auto leaves xdp-generic out).
mode_auto_expect() {
	local m
	for m in xdp tc; do mode_supported $m && { echo $m; return; }; done
	echo tun
}

# inst_check_mode IFNAME NS: the data path xwg runs is the one asked for (--mode, else the file's
# Mode =, else auto: the best this machine supports).
inst_check_mode() {
	local want=${XWG_MODE:-} got
	[ -n "$want" ] || want=$(conf_values "$(conf_path "$1")" Mode | tail -n 1)
	[ -n "$want" ] || want=auto
	[ "$want" = auto ] && want=$(mode_auto_expect)
	got=$(nsx "$2" "$XWG" show "$1" 2>&1 | sed -n 's/^ *data path: \([^ ]*\).*/\1/p')
	check_eq "xwg $1 runs the data path asked for (${XWG_MODE:-auto}, here $want)" "$want" "$got"
	[ "$got" = "$want" ] || say "xwg show $1: $(nsx "$2" "$XWG" show "$1" 2>&1 | grep -iE 'data path|refused' | head -n 4)"
}

# ---------------------------------------------------------------------------------------------
# Probes

# agent_pids NS: pids of the xwg processes (agents) running in namespace NS.
agent_pids() {
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = xwg ] && echo "$pid"
	done
	return 0
}

# wg_field IFNAME PEER-PUBKEY COLUMN: one column of a peer's `wg show dump` line
# (3 endpoint, 4 allowed-ips, 5 latest-handshake, 6 rx, 7 tx, 8 keepalive).
wg_field() {
	wg show "$1" dump 2>/dev/null | awk -F'\t' -v k="$2" -v c="$3" 'NR > 1 && $1 == k { print $c }'
}

# host_dump NS: what wg-quick's half of up changes in a namespace (routes of every table, rules,
# nftables, src_valid_mark), in a stable form for before/after comparisons.
host_dump() {
	local f
	for f in -4 -6; do
		echo "== ip $f route show table all"
		ip -n "$1" "$f" route show table all | grep -v '^cache\b'
		echo "== ip $f rule"
		ip -n "$1" "$f" rule
	done
	echo "== nft list ruleset"
	nsx "$1" nft list ruleset
	echo "== src_valid_mark $(nsx "$1" sysctl -n net.ipv4.conf.all.src_valid_mark)"
}

# ping_ok NS DST [COUNT]: every one of COUNT echo requests is answered within 10 s.
ping_ok() {
	nsx "$1" ping -c "${3:-3}" -i 0.2 -w 10 -q "$2"
}

iperf_server() {	# iperf_server NS PORT: a long-lived server in NS
	ip netns exec "$1" iperf3 -s -p "$2" >/dev/null 2>&1 &
	T_PIDS+=($!)
	wait_for 5 sh -c "ip netns exec '$1' ss -ltn | grep -q ':$2 '"
}

stream_server() {	# stream_server NS PORT: a long-lived tcp_stream_check.py server in NS
	ip netns exec "$1" python3 "$LIB_DIR/tcp_stream_check.py" serve "$2" >/dev/null 2>&1 &
	T_PIDS+=($!)
	wait_for 5 sh -c "ip netns exec '$1' ss -ltn | grep -q ':$2 '"
}

# stream_check DESC NS DST PORT: small numbered messages from DST arrive byte-exact in NS while NS
# saturates the other direction (see tcp_stream_check.py).
stream_check() {
	local desc=$1 out
	if out=$(ip netns exec "$2" timeout 30 python3 "$LIB_DIR/tcp_stream_check.py" check "$3" "$4" 2>&1); then
		ok "$desc ($out)"
	else
		nok "$desc"
		say "$out"
	fi
}

# iperf_start NS DST PORT SECONDS [iperf3 options...]: a TCP client run in the background.
# Sets IPERF_PID and IPERF_JSON (the report, written when it ends).
iperf_start() {
	local ns=$1 dst=$2 port=$3 secs=$4
	shift 4
	IPERF_JSON=$T_TMP/iperf.$RANDOM$RANDOM.json
	IPERF_DESC="iperf3 -c $dst -p $port -t $secs $*"
	ip netns exec "$ns" timeout $((secs + 20)) iperf3 -c "$dst" -p "$port" -t "$secs" -J \
		--connect-timeout 5000 "$@" >"$IPERF_JSON" 2>&1 &
	IPERF_PID=$!
}

# iperf_finish DESC: waits for the run; it must succeed and move data.  Sets IPERF_BYTES.
iperf_finish() {
	local desc=$1 rc rate
	IPERF_BYTES=0
	wait "$IPERF_PID"; rc=$?
	if [ $rc != 0 ]; then
		nok "$desc"
		say "$IPERF_DESC failed (rc $rc): $(jq -r '.error // empty' "$IPERF_JSON" 2>/dev/null)"
		show_file "$IPERF_JSON" 5
		return 1
	fi
	IPERF_BYTES=$(jq -r '.end.sum_received.bytes // 0 | floor' "$IPERF_JSON" 2>/dev/null)
	rate=$(jq -r '(.end.sum_received.bits_per_second // 0) / 1e6 | floor' "$IPERF_JSON" 2>/dev/null)
	if [ "${IPERF_BYTES:-0}" -gt 0 ] 2>/dev/null; then
		ok "$desc ($rate Mbit/s)"
	else
		nok "$desc: no data received"
		say "$IPERF_DESC: $(jq -r '.error // "no error reported"' "$IPERF_JSON" 2>/dev/null || echo "unreadable report")"
		return 1
	fi
}

# iperf_check DESC NS DST PORT SECONDS [iperf3 options...]: iperf_start + iperf_finish.
iperf_check() {
	local desc=$1
	shift
	iperf_start "$@"
	iperf_finish "$desc"
}

# iperf_stalls: how many one-second intervals of the last run carried no data at all.
iperf_stalls() {
	jq '[.intervals[].sum.bytes | select(. == 0)] | length' "$IPERF_JSON" 2>/dev/null || echo "unreadable"
}

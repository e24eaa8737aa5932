#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# wg-quick's extras in xwg up/down: DNS through resolvconf, PreUp/PostUp/PreDown/PostDown hooks, SaveConfig.
# xwg-timeout: 300
#
# Run in the auto and tun data path modes. DNS goes through the machine's resolvconf (openresolv), but
# only ever inside a private mount namespace (in_rc) whose /etc/resolv.conf and /etc/resolvconf.conf
# are files of this test: openresolv's state lives in the test's temp dir, and the machine's own
# resolver is checked to be untouched at the end. Every xwg up and down that may touch DNS runs
# through in_rc, and so does the agent it starts (the mount namespace is inherited).

. "$(dirname "$0")/lib.sh"

lib_init
need_cmd unshare mount resolvconf stat sha256sum
need_impl xwg
topo_create || { nok "topology"; lib_done; }

HOST_RESOLV=$(sha256sum /etc/resolv.conf 2>/dev/null)
RC=$T_TMP/rc
mkdir -p "$RC/state" "$T_TMP/nobin"
printf 'nameserver 198.51.100.53\n' >"$RC/resolv.conf"
cat >"$RC/resolvconf.conf" <<EOF
resolv_conf=/etc/resolv.conf
state_dir=$RC/state
libc_restart=:
EOF
RESOLV_BEFORE=$(cat "$RC/resolv.conf")

# in_rc CMD...: CMD in a private mount namespace with the test's resolv.conf and openresolv config.
# Everything in it execs the next (unshare, sh, ip netns exec): in the background, $! is CMD.
RC_SH='mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/resolvconf.conf && shift 2 && exec "$@"'
in_rc() {
	unshare --mount --propagation private sh -c "$RC_SH" sh "$RC/resolv.conf" "$RC/resolvconf.conf" "$@"
}

# gone IFNAME: nothing of the interface is left: link, UAPI socket, state record, BPF pins.
gone() {
	! ip -n "$NS_A" link show "$1" >/dev/null 2>&1 && [ ! -e "$RUNDIR/$1.sock" ] &&
		[ -z "$(ls /var/run/wireguard/"$1".xwg-state* 2>/dev/null)" ] && [ ! -e "$BPFFS_DIR/$1" ]
}

# check_gone DESC IFNAME
check_gone() {
	if gone "$2"; then
		ok "$1"
	else
		nok "$1"
		say "left: $(ip -n "$NS_A" -br link show "$2" 2>/dev/null) $(ls -d "$RUNDIR/$2.sock" /var/run/wireguard/"$2".xwg-state* \
			"$BPFFS_DIR/$2" 2>/dev/null | tr '\n' ' ')"
	fi
}

# up IFNAME [ARGS...]: xwg up (in_rc, in NS_A) with the file of IFNAME; output in $T_TMP/IFNAME.up.
up() {
	local ifn=$1; shift
	T_IFS+=("$ifn")
	in_rc ip netns exec "$NS_A" "$XWG" up "$(conf_path "$ifn")" "$@" >"$T_TMP/$ifn.up" 2>&1
}

down() { in_rc ip netns exec "$NS_A" "$XWG" down "$1" >"$T_TMP/$1.down" 2>&1; }

# hook_conf IFNAME MODE LOG [EXTRA-LINE...]: a file whose hooks append "<hook><n> IFNAME <link exists>" to LOG.
hook_conf() {
	local ifn=$1 mode=$2 log=$3 h n
	shift 3
	keys_new HK
	conf_iface "$ifn" "$HK_PRIV" "" "10.79.2.1/24" "" "$mode"
	for h in PreUp PostUp PreDown PostDown; do
		for n in 1 2; do
			echo "$h = echo \"${h,,}$n %i \$(ip -br link show %i 2>/dev/null | wc -l)\" >>$log" >>"$(conf_path "$ifn")"
		done
	done
	for n in "$@"; do echo "$n" >>"$(conf_path "$ifn")"; done
	keys_new HP
	conf_peer "$ifn" "$HP_PUB" "10.79.2.2/32" "$UB4:51999"
}

# expected_log IFNAME HOOKS...: the lines hook_conf's hooks write, for HOOKS in order.
expected_log() {
	local ifn=$1 h n e
	shift
	for h in "$@"; do
		case $h in preup|postdown) e=0 ;; *) e=1 ;; esac
		for n in 1 2; do echo "$h$n $ifn $e"; done
	done
}

run_mode() {
	local m=$1 k ifn log before after port2 want
	local -a margs=(--mode "$m")

	# ---- DNS through resolvconf, undone by down
	ifn=${P}d${m:0:1}
	keys_new DK; keys_new DP
	conf_iface "$ifn" "$DK_PRIV" "" "10.79.1.1/24" "" ""
	echo "DNS = 10.79.0.53, fd79::53, corp.example, lab.example" >>"$(conf_path "$ifn")"
	conf_peer "$ifn" "$DP_PUB" "10.79.1.2/32" "$UB4:51999"
	if up "$ifn" "${margs[@]}"; then
		ok "$m: DNS: xwg up"
		after=$(in_rc cat /etc/resolv.conf)
		check_re "$m: DNS: resolv.conf has the first server" '^nameserver 10\.79\.0\.53$' "$after"
		check_re "$m: DNS: resolv.conf has the second server" '^nameserver fd79::53$' "$after"
		check_re "$m: DNS: resolv.conf has the search domains" '^search corp\.example lab\.example$' "$after"
		check_eq "$m: DNS: the state records resolvconf's interface" "dns.resolvconf=$ifn" \
			"$(grep '^dns\.' "/var/run/wireguard/$ifn.xwg-state" 2>&1)"
		check "$m: DNS: xwg down" down "$ifn"
		check_eq "$m: DNS: resolv.conf as before up" "$RESOLV_BEFORE" "$(in_rc cat /etc/resolv.conf)"
		check_eq "$m: DNS: openresolv holds nothing for $ifn" "" "$(in_rc resolvconf -l "$ifn" 2>/dev/null)"
		check_gone "$m: DNS: nothing left after down" "$ifn"
	else
		nok "$m: DNS: xwg up"; show_file "$T_TMP/$ifn.up"
		down "$ifn"
	fi

	# ---- the agent killed with -9: xwg down undoes DNS from the state record alone
	if up "$ifn" "${margs[@]}"; then
		check_re "$m: DNS, kill -9: resolv.conf has the server" '^nameserver 10\.79\.0\.53$' \
			"$(in_rc cat /etc/resolv.conf)"
		for k in $(agent_pids "$NS_A"); do kill -KILL "$k"; done
		wait_for 5 sh -c "[ -z \"\$(ip netns pids '$NS_A')\" ]"
		check "$m: DNS, kill -9: xwg down" down "$ifn"
		check_eq "$m: DNS, kill -9: resolv.conf as before up" "$RESOLV_BEFORE" "$(in_rc cat /etc/resolv.conf)"
		check "$m: DNS, kill -9: no interface, socket, state record or pins left after down" \
			sh -c "! ip -n '$NS_A' link show '$ifn' 2>/dev/null && ! ls /var/run/wireguard/'$ifn'.xwg-state* 2>/dev/null &&
				[ ! -e '$BPFFS_DIR/$ifn' ] && [ ! -e '$RUNDIR/$ifn.sock' ]"
	else
		nok "$m: DNS, kill -9: xwg up"; show_file "$T_TMP/$ifn.up"
		down "$ifn"
	fi

	# ---- DNS with neither resolvconf nor resolvectl on PATH: a clear error, nothing created
	if in_rc ip netns exec "$NS_A" env PATH="$T_TMP/nobin" "$XWG" up "$(conf_path "$ifn")" "${margs[@]}" \
		>"$T_TMP/$ifn.nodns" 2>&1; then
		nok "$m: DNS without resolvconf: xwg up fails"
		down "$ifn"
	else
		ok "$m: DNS without resolvconf: xwg up fails"
	fi
	check_re "$m: DNS without resolvconf: the error says why" \
		"^xwg: $ifn: DNS = 10\.79\.0\.53, fd79::53, corp\.example, lab\.example needs resolvconf or resolvectl, and neither is installed$" \
		"$(cat "$T_TMP/$ifn.nodns")"
	check_gone "$m: DNS without resolvconf: nothing left" "$ifn"
	check_eq "$m: DNS without resolvconf: resolv.conf untouched" "$RESOLV_BEFORE" "$(in_rc cat /etc/resolv.conf)"

	# ---- DNS through resolvectl when there is no resolvconf (a stub that logs its arguments; this
	# machine has no systemd-resolved). Down leaves it to resolved, which forgets a link that is gone;
	# an up that fails later reverts while the link is still there.
	mkdir -p "$T_TMP/ctlbin"
	printf '#!/bin/sh\necho "$*" >>%s\n' "$T_TMP/resolvectl.log" >"$T_TMP/ctlbin/resolvectl"
	chmod 0755 "$T_TMP/ctlbin/resolvectl"
	: >"$T_TMP/resolvectl.log"
	if in_rc ip netns exec "$NS_A" env PATH="$T_TMP/ctlbin" "$XWG" up "$(conf_path "$ifn")" "${margs[@]}" \
		>"$T_TMP/$ifn.ctl" 2>&1; then
		ok "$m: DNS through resolvectl: xwg up"
		check_eq "$m: DNS through resolvectl: servers, then search domains" \
			"$(printf 'dns %s 10.79.0.53 fd79::53\ndomain %s corp.example lab.example' "$ifn" "$ifn")" \
			"$(cat "$T_TMP/resolvectl.log")"
		check_eq "$m: DNS through resolvectl: the state records it" "dns.resolvectl=$ifn" \
			"$(grep '^dns\.' "/var/run/wireguard/$ifn.xwg-state" 2>&1)"
		check "$m: DNS through resolvectl: xwg down" down "$ifn"
		check_gone "$m: DNS through resolvectl: nothing left" "$ifn"
	else
		nok "$m: DNS through resolvectl: xwg up"; show_file "$T_TMP/$ifn.ctl"
		down "$ifn"
	fi
	cp "$(conf_path "$ifn")" "$T_TMP/$ifn.conf.orig"
	sed -i 's/^\[Interface\]$/&\nPostUp = exit 7/' "$(conf_path "$ifn")"
	: >"$T_TMP/resolvectl.log"
	if in_rc ip netns exec "$NS_A" env PATH="$T_TMP/ctlbin:/usr/bin" "$XWG" up "$(conf_path "$ifn")" "${margs[@]}" \
		>"$T_TMP/$ifn.ctl" 2>&1; then
		nok "$m: DNS through resolvectl, failing PostUp: xwg up fails"
		down "$ifn"
	else
		ok "$m: DNS through resolvectl, failing PostUp: xwg up fails"
	fi
	check_eq "$m: DNS through resolvectl, failing PostUp: reverted" \
		"$(printf 'dns %s 10.79.0.53 fd79::53\ndomain %s corp.example lab.example\nrevert %s' "$ifn" "$ifn" "$ifn")" \
		"$(cat "$T_TMP/resolvectl.log")"
	check_gone "$m: DNS through resolvectl, failing PostUp: nothing left" "$ifn"
	cp "$T_TMP/$ifn.conf.orig" "$(conf_path "$ifn")"

	# ---- hooks in order with %i, around xwg up and xwg down
	ifn=${P}h${m:0:1} log=$T_TMP/$ifn.hooks
	hook_conf "$ifn" "$m" "$log"
	: >"$log"
	if up "$ifn"; then
		ok "$m: hooks: xwg up"
		check_eq "$m: hooks: PreUp before the interface, PostUp after, in file order" \
			"$(expected_log "$ifn" preup postup)" "$(cat "$log")"
		check "$m: hooks: xwg down" down "$ifn"
		check_eq "$m: hooks: PreDown with the interface, PostDown after it" \
			"$(expected_log "$ifn" preup postup predown postdown)" "$(cat "$log")"
		check_gone "$m: hooks: nothing left after down" "$ifn"
	else
		nok "$m: hooks: xwg up"; show_file "$T_TMP/$ifn.up"
		down "$ifn"
	fi

	# ---- the foreground agent stopped by SIGTERM (systemd's stop) runs PreDown and PostDown itself
	: >"$log"
	T_IFS+=("$ifn")
	unshare --mount --propagation private sh -c "$RC_SH" sh "$RC/resolv.conf" "$RC/resolvconf.conf" \
		ip netns exec "$NS_A" "$XWG" up "$(conf_path "$ifn")" --foreground >"$T_TMP/$ifn.fg" 2>&1 &
	k=$!
	# The socket answers while PostUp runs (a hook may use wg): wait for the hooks instead.
	if wait_for 15 sock_ready "$ifn" && wait_for 15 sh -c "[ \$(wc -l <'$log') -ge 4 ]"; then
		ok "$m: hooks: xwg up --foreground"
		check_eq "$m: hooks: foreground up ran PreUp and PostUp" \
			"$(expected_log "$ifn" preup postup)" "$(cat "$log")"
		kill -TERM "$k"
		wait "$k"
		check_eq "$m: hooks: SIGTERM: the agent ran PreDown and PostDown" \
			"$(expected_log "$ifn" preup postup predown postdown)" "$(cat "$log")"
		check_gone "$m: hooks: SIGTERM: nothing left" "$ifn"
	else
		nok "$m: hooks: xwg up --foreground"; show_file "$T_TMP/$ifn.fg"
		kill_pid "$k"
	fi

	# ---- hooks that talk to the agent they run for (PostUp = wg set %i ...): it keeps serving meanwhile
	ifn=${P}w${m:0:1} log=$T_TMP/$ifn.hooks
	keys_new WK
	port2=$((54000 + RANDOM % 1000))
	conf_iface "$ifn" "$WK_PRIV" "" "10.79.3.1/24" "" "$m"
	{
		echo "PostUp = timeout 10 wg set %i listen-port $port2"
		echo "PreDown = timeout 10 wg show %i listen-port >>$log"
	} >>"$(conf_path "$ifn")"
	: >"$log"
	if up "$ifn"; then
		ok "$m: wg in hooks: xwg up with PostUp = wg set %i"
		check_eq "$m: wg in hooks: PostUp's wg set took effect" "$port2" "$(wg show "$ifn" listen-port)"
		check "$m: wg in hooks: xwg down" down "$ifn"
		check_eq "$m: wg in hooks: PreDown's wg show answered" "$port2" "$(cat "$log")"
	else
		nok "$m: wg in hooks: xwg up with PostUp = wg set %i"; show_file "$T_TMP/$ifn.up"
		down "$ifn"
	fi
	: >"$log"
	ip netns exec "$NS_A" "$XWG" up "$(conf_path "$ifn")" --foreground >"$T_TMP/$ifn.fg" 2>&1 &
	k=$!
	if wait_for 15 sock_ready "$ifn"; then
		kill -TERM "$k"
		wait "$k"
		check_eq "$m: wg in hooks: SIGTERM: the agent answered its own PreDown's wg show" "$port2" "$(cat "$log")"
		check_gone "$m: wg in hooks: nothing left" "$ifn"
	else
		nok "$m: wg in hooks: xwg up --foreground"; show_file "$T_TMP/$ifn.fg"
		kill_pid "$k"
	fi

	# ---- a failing PreUp stops before anything exists; later hooks do not run
	ifn=${P}p${m:0:1} log=$T_TMP/$ifn.hooks
	hook_conf "$ifn" "$m" "$log" "PreUp = exit 3"
	: >"$log"
	if up "$ifn"; then
		nok "$m: failing PreUp: xwg up fails"
		down "$ifn"
	else
		ok "$m: failing PreUp: xwg up fails"
	fi
	check_re "$m: failing PreUp: the error names the hook" "PreUp 'exit 3' failed \(exit status 3\)" \
		"$(cat "$T_TMP/$ifn.up")"
	check_eq "$m: failing PreUp: only the PreUp hooks ran" "$(expected_log "$ifn" preup)" "$(cat "$log")"
	check_gone "$m: failing PreUp: nothing left" "$ifn"

	# ---- a failing PostUp (failing as wg-quick's set -e shell would) undoes everything, DNS included
	ifn=${P}f${m:0:1} log=$T_TMP/$ifn.hooks
	hook_conf "$ifn" "$m" "$log" "PostUp = false; echo not-reached >>$log" \
		"DNS = 10.79.0.53, corp.example"
	: >"$log"
	if up "$ifn"; then
		nok "$m: failing PostUp: xwg up fails"
		down "$ifn"
	else
		ok "$m: failing PostUp: xwg up fails"
	fi
	check_re "$m: failing PostUp: the error names the hook" "PostUp 'false; echo not-reached >>[^']*' failed \(exit status 1\)" \
		"$(cat "$T_TMP/$ifn.up")"
	check_eq "$m: failing PostUp: PreUp and PostUp ran, not PreDown or PostDown" \
		"$(expected_log "$ifn" preup postup)" "$(cat "$log")"
	check_gone "$m: failing PostUp: nothing left" "$ifn"
	check_eq "$m: failing PostUp: resolv.conf as before" "$RESOLV_BEFORE" "$(in_rc cat /etc/resolv.conf)"

	# ---- SaveConfig: the running configuration written back on down
	ifn=${P}s${m:0:1}
	local f
	f=$(conf_path "$ifn")
	keys_new SK; keys_new SP1; keys_new SP2
	conf_iface "$ifn" "$SK_PRIV" 51820 "10.79.4.1/24, fd79:4::1/64" 1400 "$m"
	{
		echo "DNS = 10.79.0.53, corp.example"
		echo "Table = off"
		echo "SaveConfig = true"
		echo "PostUp = true %i"
		echo "PostDown = true %i"
	} >>"$f"
	conf_peer "$ifn" "$SP1_PUB" "10.79.4.2/32" "$UB4:51999" 25 "$(wg genpsk)"
	chmod 0644 "$f"
	if up "$ifn"; then
		ok "$m: SaveConfig: xwg up"
		port2=$((52000 + RANDOM % 1000))
		check "$m: SaveConfig: wg set adds a peer and changes the port" \
			wg set "$ifn" listen-port "$port2" peer "$SP2_PUB" allowed-ips 10.79.4.3/32 endpoint "$UB4:51998"
		check "$m: SaveConfig: wg set adds an allowed IP" \
			wg set "$ifn" peer "$SP1_PUB" allowed-ips 10.79.4.2/32,10.79.5.0/24
		check "$m: SaveConfig: MTU changed on the live interface" ip -n "$NS_A" link set "$ifn" mtu 1300
		check "$m: SaveConfig: an address added on the live interface" \
			ip -n "$NS_A" addr add 10.79.6.1/24 dev "$ifn"
		wg showconf "$ifn" >"$T_TMP/$ifn.showconf" 2>&1
		check "$m: SaveConfig: xwg down" down "$ifn"
		check_eq "$m: SaveConfig: the file is mode 0600" 600 "$(stat -c %a "$f")"
		check_eq "$m: SaveConfig: no temporary file left" "" "$(ls "$f.tmp" 2>/dev/null)"
		check_eq "$m: SaveConfig: xwg strip gives what wg showconf gave before down" \
			"$(cat "$T_TMP/$ifn.showconf")" "$(ip netns exec "$NS_A" "$XWG" strip "$f" 2>&1)"
		check_eq "$m: SaveConfig: private key unchanged" "$SK_PRIV" "$(conf_values "$f" PrivateKey)"
		check_eq "$m: SaveConfig: new ListenPort" "$port2" "$(conf_values "$f" ListenPort)"
		want=$(printf '10.79.4.1/24\n10.79.6.1/24\nfd79:4::1/64')
		check_eq "$m: SaveConfig: the live addresses" "$want" "$(conf_values "$f" Address | sort)"
		check_eq "$m: SaveConfig: the live MTU" 1300 "$(conf_values "$f" MTU)"
		check_eq "$m: SaveConfig: DNS servers and search domains" "$(printf '10.79.0.53\ncorp.example')" \
			"$(conf_values "$f" DNS)"
		check_eq "$m: SaveConfig: Table, SaveConfig, hooks and Mode kept" \
			"off|true|true %i|true %i|$m" \
			"$(conf_values "$f" Table)|$(conf_values "$f" SaveConfig)|$(sed -n 's/^PostUp = //p' "$f")|$(sed -n 's/^PostDown = //p' "$f")|$(conf_values "$f" Mode)"
		check_eq "$m: SaveConfig: both peers" 2 "$(grep -c '^\[Peer\]' "$f")"
		check_eq "$m: SaveConfig: preshared key kept" 1 "$(grep -c '^PresharedKey = ' "$f")"
		cp "$f" "$T_TMP/$ifn.saved1"
		# Up again from the saved file: the changes are in the running configuration.
		if up "$ifn"; then
			ok "$m: SaveConfig: xwg up from the saved file"
			check_eq "$m: SaveConfig: saved port in use" "$port2" "$(wg show "$ifn" listen-port)"
			check_eq "$m: SaveConfig: saved peer and allowed IPs in use" \
				"$(printf '%s\t10.79.4.2/32 10.79.5.0/24\n%s\t10.79.4.3/32' "$SP1_PUB" "$SP2_PUB" | sort)" \
				"$(wg show "$ifn" allowed-ips | sort)"
			check_eq "$m: SaveConfig: saved MTU in use" 1300 \
				"$(ip -n "$NS_A" -o link show "$ifn" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')"
			check "$m: SaveConfig: xwg down again" down "$ifn"
			check_eq "$m: SaveConfig: a second save gives the same file" \
				"$(cat "$T_TMP/$ifn.saved1")" "$(cat "$f")"
		else
			nok "$m: SaveConfig: xwg up from the saved file"; show_file "$T_TMP/$ifn.up"
			show_file "$f" 40 | grep -v PrivateKey
		fi
		check_gone "$m: SaveConfig: nothing left" "$ifn"
	else
		nok "$m: SaveConfig: xwg up"; show_file "$T_TMP/$ifn.up"
		down "$ifn"
	fi

	# ---- SaveConfig by the foreground agent itself, stopped by SIGTERM
	cp "$T_TMP/$ifn.saved1" "$f" 2>/dev/null
	unshare --mount --propagation private sh -c "$RC_SH" sh "$RC/resolv.conf" "$RC/resolvconf.conf" \
		ip netns exec "$NS_A" "$XWG" up "$f" --foreground >"$T_TMP/$ifn.fg" 2>&1 &
	k=$!
	if wait_for 15 sock_ready "$ifn"; then
		port2=$((53000 + RANDOM % 1000))
		check "$m: SaveConfig by SIGTERM: wg set changes the port" wg set "$ifn" listen-port "$port2"
		kill -TERM "$k"
		wait "$k"
		check_eq "$m: SaveConfig by SIGTERM: the agent saved the new port" "$port2" "$(conf_values "$f" ListenPort)"
		check_eq "$m: SaveConfig by SIGTERM: the rest as before" \
			"$(grep -v '^ListenPort' "$T_TMP/$ifn.saved1")" "$(grep -v '^ListenPort' "$f")"
		check_gone "$m: SaveConfig by SIGTERM: nothing left" "$ifn"
	else
		nok "$m: SaveConfig by SIGTERM: xwg up --foreground"; show_file "$T_TMP/$ifn.fg"
		kill_pid "$k"
	fi

	# ---- SaveConfig that cannot write: reported, and down goes on (a directory where the temp file goes)
	cp "$T_TMP/$ifn.saved1" "$f" 2>/dev/null
	if up "$ifn"; then
		mkdir -p "$f.tmp/x"
		if down "$ifn"; then ok "$m: SaveConfig write failure: xwg down succeeds"
		else nok "$m: SaveConfig write failure: xwg down succeeds"; show_file "$T_TMP/$ifn.down"; fi
		check_re "$m: SaveConfig write failure: reported" "SaveConfig: cannot write $f: " \
			"$(cat "$T_TMP/$ifn.down")"
		check_eq "$m: SaveConfig write failure: the file is left as it was" \
			"$(cat "$T_TMP/$ifn.saved1")" "$(cat "$f")"
		check_gone "$m: SaveConfig write failure: nothing left" "$ifn"
		rm -rf "$f.tmp"
	else
		nok "$m: SaveConfig write failure: xwg up"; show_file "$T_TMP/$ifn.up"
	fi
	check_eq "$m: resolv.conf as before" "$RESOLV_BEFORE" "$(in_rc cat /etc/resolv.conf)"
}

for mode in ${QUICK_MODES:-auto tun}; do
	run_mode "$mode"
done
check_eq "the machine's own /etc/resolv.conf is untouched" "$HOST_RESOLV" "$(sha256sum /etc/resolv.conf 2>/dev/null)"
check_eq "openresolv kept its state in the test's directory" "" "$(ls -d /run/resolvconf 2>/dev/null)"
lib_done

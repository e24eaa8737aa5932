#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Metrics: `xwg metrics` passes promtool with the right values, a real Prometheus scrapes --metrics-listen, bad values are refused.
# xwg-timeout: 300
#
# A pair of detached `xwg up` agents (both serving 127.0.0.1:9586 in their own namespace) pings across;
# then: promtool on `xwg metrics`, counters against `wg show dump` and each other (per-path data bytes
# plus handshake messages make up the transfer totals), the show --json view of the same keys, a
# Prometheus server scraping the agent every second and answering a query, /healthz, 404 and 405,
# the other accepted address forms, refused --metrics-listen values (nothing left behind), and the
# port closed again once the agent is down.

. "$(dirname "$0")/lib.sh"

lib_init
need_cmd promtool prometheus curl jq
need_impl xwg
topo_create || { nok "topology"; lib_done; }

MPORT=9586 PPORT=9590
XWG_DAEMON=1 XWG_UP_ARGS="--metrics-listen 127.0.0.1:$MPORT" pair_up 1 xwg xwg 4 a ||
	{ nok "pair with --metrics-listen comes up"; lib_done; }
A=$(ifname_of 1 a) B=$(ifname_of 1 b)
A_PUB=${PAIR_A_PUB[1]} B_PUB=${PAIR_B_PUB[1]}
check "ping through the tunnel" ping_ok "$NS_A" "$(ovl4 1 b)" 5

# metric FILE NAME LABELS...: the value of the one sample of NAME whose labels include every
# label="value" given (exactly one must match).
metric() {
	local f=$1 name=$2; shift 2
	awk -v name="$name" -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		index($0, name "{") == 1 {
			ok = 1
			for (i = 1; i <= n; i++) if (index($0, w[i]) == 0) ok = 0
			if (ok) { hits++; v = $NF }
		}
		END { if (hits == 1) print v; else { print "matches:" hits; exit 1 } }' "$f"
}

# check_has DESC TEXT STRING: TEXT contains STRING (fixed, not a pattern).
check_has() {
	if grep -qF -- "$3" <<<"$2"; then
		ok "$1"
	else
		nok "$1"; say "expected to contain: $3"; say "                got: $2"
	fi
}

scrape() { nsx "$NS_A" "$XWG" metrics "$A" >"$1" 2>"$T_TMP/metrics.err"; }

# ---- xwg metrics: format and values ----
M1=$T_TMP/m1.prom
check "xwg metrics $A" scrape "$M1"
if promtool check metrics <"$M1" >"$T_TMP/promtool.out" 2>&1; then
	ok "promtool check metrics accepts xwg metrics"
else
	nok "promtool check metrics accepts xwg metrics"; show_file "$T_TMP/promtool.out"
fi
check_has "HELP and TYPE as prometheus_wireguard_exporter" \
	"$(grep -A1 '^# HELP wireguard_sent_bytes_total' "$M1" | tr '\n' '|')" \
	'# HELP wireguard_sent_bytes_total Bytes sent to the peer|# TYPE wireguard_sent_bytes_total counter|'
PL="interface=\"$A\" public_key=\"$B_PUB\""
ALLOWED="allowed_ips=\"$(ovl4 1 b)/32,$(ovl6 1 b)/128\""
SENT1=$(metric "$M1" wireguard_sent_bytes_total $PL "$ALLOWED")
RECV1=$(metric "$M1" wireguard_received_bytes_total $PL "$ALLOWED")
HS=$(metric "$M1" wireguard_latest_handshake_seconds $PL "$ALLOWED")
check_eq "sent bytes as wg show dump" "$(wg_field "$A" "$B_PUB" 7)" "$SENT1"
check_eq "received bytes as wg show dump" "$(wg_field "$A" "$B_PUB" 6)" "$RECV1"
check "latest handshake within the last minute ($HS)" test "$HS" -gt $(( $(date +%s) - 60 )) -a "$HS" -le "$(date +%s)"

# The data messages by path plus the handshake messages (148 and 92 bytes) are the transfer totals.
path_sum() {	# path_sum FILE DIRECTION: bytes of the three paths
	local p s=0 v
	for p in bpf batched agent; do
		v=$(metric "$1" xwg_peer_data_bytes_total $PL "path=\"$p\"" "direction=\"$2\"") || { echo "no $p"; return; }
		s=$((s + v))
	done
	echo "$s"
}
hs() { metric "$M1" xwg_handshake_messages_total $PL "type=\"$1\"" "direction=\"$2\""; }
INIT_TX=$(hs initiation tx) INIT_RX=$(hs initiation rx) RESP_TX=$(hs response tx) RESP_RX=$(hs response rx)
check_ge "the initiator sent an initiation" "$INIT_TX" 1
check_ge "the initiator received a response" "$RESP_RX" 1
check_eq "sent: data bytes of bpf+batched+agent plus handshakes add up to the total" "$SENT1" \
	"$(( $(path_sum "$M1" tx) + 148 * INIT_TX + 92 * RESP_TX ))"
check_eq "received: data bytes of bpf+batched+agent plus handshakes add up to the total" "$RECV1" \
	"$(( $(path_sum "$M1" rx) + 148 * INIT_RX + 92 * RESP_RX ))"
TXP=0
for p in bpf batched agent; do
	TXP=$((TXP + $(metric "$M1" xwg_peer_data_packets_total $PL "path=\"$p\"" 'direction="tx"')))
done
check_ge "data messages sent (5 echo requests at least)" "$TXP" 5
nsx "$NS_B" "$XWG" metrics "$B" >"$T_TMP/mb.prom"
check_ge "the responder counted the initiation" \
	"$(metric "$T_TMP/mb.prom" xwg_handshake_messages_total "public_key=\"$A_PUB\"" 'type="initiation"' 'direction="rx"')" 1
check_ge "the responder counted its response" \
	"$(metric "$T_TMP/mb.prom" xwg_handshake_messages_total "public_key=\"$A_PUB\"" 'type="response"' 'direction="tx"')" 1
check_eq "no handshake timed out" "0" "$(metric "$M1" xwg_handshake_timeouts_total $PL)"
check_eq "none given up" "0" "$(metric "$M1" xwg_handshakes_given_up_total $PL)"
check_eq "cookie replies: none under this load" "0" "$(metric "$M1" xwg_cookie_replies_total "interface=\"$A\"" 'direction="tx"')"
NREASONS=$(grep -c '^	X(' include/xwg_reasons.h)
check_eq "every reason of xwg_reasons.h is a sample" "$NREASONS" \
	"$(grep -c "^xwg_datapath_reason_packets_total{interface=\"$A\"" "$M1")"
check_has "a drop reason has action=\"drop\"" "$(grep 'reason="BAD_TAG"' "$M1")" 'action="drop"'
MODE=$(nsx "$NS_A" "$XWG" show "$A" | sed -n 's/^ *data path: \([^ ]*\).*/\1/p')
check_has "xwg_datapath_info names the mode ($MODE)" "$(grep "^xwg_datapath_info{interface=\"$A\"" "$M1")" \
	"mode=\"$MODE\""

# The JSON view reads the same UAPI keys.
J=$(nsx "$NS_A" "$XWG" show "$A" --json)
check_eq "show --json: initiations sent as the metric" "$INIT_TX" "$(jq '.peers[0].handshakes.initiations_sent' <<<"$J")"
check_eq "show --json: batched tx bytes as the metric" \
	"$(metric "$M1" xwg_peer_data_bytes_total $PL 'path="batched"' 'direction="tx"')" \
	"$(jq '.peers[0].batch_tx_bytes' <<<"$J")"
check_eq "show --json: metrics URL" "\"http://127.0.0.1:$MPORT/metrics\"" "$(jq '.metrics' <<<"$J")"
check_has "xwg show lists the metrics URL" "$(nsx "$NS_A" "$XWG" show "$A")" \
	"metrics: http://127.0.0.1:$MPORT/metrics"

# A burst (32 echo requests in flight) reaches the agent's batches when the agent carries the data.
check "ping again, a burst" nsx "$NS_A" ping -c 64 -l 32 -i 0.01 -w 10 -q "$(ovl4 1 b)"
M2=$T_TMP/m2.prom
scrape "$M2"
SENT2=$(metric "$M2" wireguard_sent_bytes_total $PL)
check "sent bytes grew after a ping ($SENT1 -> $SENT2)" test "$SENT2" -gt "$SENT1"
M1=$M2 INIT_TX=$(hs initiation tx) RESP_TX=$(hs response tx)
check_eq "sent: the paths still add up to the total" "$SENT2" "$(( $(path_sum "$M2" tx) + 148 * INIT_TX + 92 * RESP_TX ))"
BATCHED=$(metric "$M2" xwg_peer_data_packets_total $PL 'path="batched"' 'direction="tx"')
if [ "$MODE" = tun ]; then
	check_ge "tun: the burst went out in batches" "$BATCHED" 2
else
	say "$MODE: $BATCHED data messages sent in batches (BPF carries the rest)"
fi

nsx "$NS_A" "$XWG" metrics >"$T_TMP/all.prom" 2>"$T_TMP/all.err"
check "xwg metrics (all interfaces) lists $A and $B" \
	sh -c "grep -q 'interface=\"$A\"' '$T_TMP/all.prom' && grep -q 'interface=\"$B\"' '$T_TMP/all.prom'"
check "promtool accepts the all-interfaces output" sh -c "promtool check metrics <'$T_TMP/all.prom'"
check_fails "xwg metrics of a missing interface fails" nsx "$NS_A" "$XWG" metrics "${P}none"
check_fails "xwg metrics with two names fails" nsx "$NS_A" "$XWG" metrics "$A" "$B"

# ---- the HTTP endpoint ----
hget() { nsx "$NS_A" curl -s -o "$T_TMP/body" -w '%{http_code} %{content_type}' "$@"; }
check_eq "GET /healthz" "200 text/plain; charset=utf-8" "$(hget "http://127.0.0.1:$MPORT/healthz")"
check_eq "/healthz says ok" "ok" "$(cat "$T_TMP/body")"
check_eq "GET /metrics" "200 text/plain; version=0.0.4; charset=utf-8" "$(hget "http://127.0.0.1:$MPORT/metrics")"
check "promtool accepts what /metrics serves" sh -c "promtool check metrics <'$T_TMP/body'"
check_has "/metrics holds the peer's counters" "$(cat "$T_TMP/body")" "wireguard_sent_bytes_total{interface=\"$A\""
check_eq "/metrics is this interface only" 0 "$(grep -c "interface=\"$B\"" "$T_TMP/body")"
check_eq "other paths are 404" "404" "$(hget "http://127.0.0.1:$MPORT/nope" | cut -d' ' -f1)"
check_eq "POST /metrics is 405" "405" "$(hget -X POST -d x "http://127.0.0.1:$MPORT/metrics" | cut -d' ' -f1)"

# ---- a real Prometheus scraping it ----
cat >"$T_TMP/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: xwg
    static_configs:
      - targets: ["127.0.0.1:$MPORT"]
EOF
nsx "$NS_A" prometheus --config.file="$T_TMP/prom.yml" --storage.tsdb.path="$T_TMP/prom-data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T_TMP/prom.log" 2>&1 &
T_PIDS+=($!)
query() {	# query EXPR: the JSON result vector
	nsx "$NS_A" curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
		jq -c '.data.result'
}
scraped() { [ "$(query "wireguard_sent_bytes_total{interface=\"$A\"}" | jq length)" -ge 1 ]; }
if wait_for 60 scraped; then
	ok "Prometheus scraped wireguard_sent_bytes_total"
	R=$(query wireguard_sent_bytes_total)
	check_eq "its labels" "$A $B_PUB $(ovl4 1 b)/32,$(ovl6 1 b)/128 xwg" \
		"$(jq -r '.[0].metric | "\(.interface) \(.public_key) \(.allowed_ips) \(.job)"' <<<"$R")"
	check "its value is the transfer counter, non-zero" test "$(jq -r '.[0].value[1]' <<<"$R")" -ge "$SENT2"
	check_eq "the target is up" "1" "$(query 'up{job="xwg"}' | jq -r '.[0].value[1]')"
	check_ge "per-path series arrived too" "$(query 'xwg_peer_data_packets_total' | jq length)" 6
else
	nok "Prometheus scraped wireguard_sent_bytes_total"; show_file "$T_TMP/prom.log"
fi

# ---- the other address forms, and a bare `xwg run` ----
R1=${P}r1
for L in "[::1]:9587" "0.0.0.0:9588"; do
	URL=http://$L/healthz
	[ "${L#0.0.0.0}" != "$L" ] && URL=http://127.0.0.1:9588/healthz
	T_IFS+=("$R1")
	# The second through the environment, as wg-quick's users would.
	if [ "$L" = "0.0.0.0:9588" ]; then
		HOW="XWG_METRICS_LISTEN=$L" RUN_ENV=("XWG_METRICS_LISTEN=$L") RUN_OPT=()
	else
		HOW="--metrics-listen $L" RUN_ENV=() RUN_OPT=(--metrics-listen "$L")
	fi
	if nsx "$NS_B" env "${RUN_ENV[@]}" "$XWG" run "${RUN_OPT[@]}" "$R1" >"$T_TMP/run.log" 2>&1; then
		check_eq "xwg run, $HOW, serves /healthz" "200" \
			"$(nsx "$NS_B" curl -sg -o /dev/null -w '%{http_code}' "$URL")"
		nsx "$NS_B" "$XWG" down "$R1" >/dev/null 2>&1
		check_fails "$L is closed once the agent is down" nsx "$NS_B" curl -sgf -o /dev/null "$URL"
	else
		nok "xwg run, $HOW"; show_file "$T_TMP/run.log"
	fi
done

# ---- refused values: an error quoting them, and nothing created ----
M=${P}m1
T_IFS+=("$M")
keys_new KM
conf_iface "$M" "$KM_PRIV" 20400 "10.79.9.1/24"
for V in foo "1.2.3.4:99999" ":" "" "127.0.0.1" "127.0.0.1:0" "localhost:9586" "[::1]" "::1:9586" "1.2.3.4:95x"; do
	if nsx "$NS_A" "$XWG" up "$(conf_path "$M")" --metrics-listen "$V" >"$T_TMP/bad.out" 2>&1; then
		nok "--metrics-listen '$V' refused"; nsx "$NS_A" "$XWG" down "$M" >/dev/null 2>&1
	else
		check_has "--metrics-listen '$V' refused, quoted" "$(cat "$T_TMP/bad.out")" "invalid --metrics-listen '$V'"
	fi
	check_fails "  no interface left behind" ip -n "$NS_A" link show "$M"
	check_fails "  no socket left behind" test -e "$RUNDIR/$M.sock"
done
check_has "xwg run refuses a bad value too" "$(nsx "$NS_A" "$XWG" run --metrics-listen foo "$M" 2>&1)" \
	"invalid --metrics-listen 'foo'"
check_has "... and in XWG_METRICS_LISTEN" "$(nsx "$NS_A" env XWG_METRICS_LISTEN=1.2.3.4 "$XWG" run "$M" 2>&1)" \
	"XWG_METRICS_LISTEN: invalid --metrics-listen '1.2.3.4'"
check_fails "  no interface left behind" ip -n "$NS_A" link show "$M"
check_has "xwg metrics refuses a bad name" "$(nsx "$NS_A" "$XWG" metrics 'a/b' 2>&1)" "'a/b' is not a valid interface name"
# Taken by $A's agent: the start-up fails on that step and unwinds.
if nsx "$NS_A" "$XWG" up "$(conf_path "$M")" --metrics-listen "127.0.0.1:$MPORT" >"$T_TMP/busy.out" 2>&1; then
	nok "a port in use is refused"; nsx "$NS_A" "$XWG" down "$M" >/dev/null 2>&1
else
	check_has "a port in use is refused" "$(cat "$T_TMP/busy.out")" \
		"cannot serve metrics on 127.0.0.1:$MPORT: Address already in use"
fi
check_fails "  no interface left behind" ip -n "$NS_A" link show "$M"
check_fails "  no socket left behind" test -e "$RUNDIR/$M.sock"

# ---- stopped with the agent, even in the middle of scrapes ----
( while :; do nsx "$NS_A" curl -s -o /dev/null "http://127.0.0.1:$MPORT/metrics"; done ) >/dev/null 2>&1 &
LOOP=$!
T_PIDS+=("$LOOP")
sleep 0.5
T0=$(date +%s%N)
check "xwg down $A while /metrics is scraped in a loop (and by Prometheus)" nsx "$NS_A" "$XWG" down "$A"
# A scrape in flight fails at once when the UAPI socket closes: no wait for its 5 s timeout.
check "... within 2 s ($(( ($(date +%s%N) - T0) / 1000000 )) ms)" test $(( ($(date +%s%N) - T0) / 1000000 )) -lt 2000
kill_pid "$LOOP"
pair_down 1
check_fails "the metrics port closes with the agent" nsx "$NS_A" curl -sf -o /dev/null "http://127.0.0.1:$MPORT/healthz"

lib_done

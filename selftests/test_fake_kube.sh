#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The fake Kubernetes API server (fake_kube.py) is faithful enough: the real kubectl (where the machine
# has it) lists, gets, annotates, patches, deletes and watches Nodes through it with a bearer token and
# with a client certificate; raw requests check what kubectl does not show: resourceVersions, resuming
# a watch, bookmarks, 410 Gone (as an ERROR event and as HTTP 410), authentication failures, and the
# test controls (a watch cut mid-line, the server stopped and started).
# xwg-timeout: 120
#
# As root it runs in its own network namespace; otherwise on this namespace's loopback.

. "$(dirname "$0")/lib.sh"
. "$LIB_DIR/kube_lib.sh"

KUBECTL=${KUBECTL:-$(command -v kubectl)}

if [ "$(id -u)" = 0 ]; then
	lib_init
	ns_create "$P-k" || { nok "namespace"; lib_done; }
	NS=$P-k
else
	T_TMP=$(mktemp -d /tmp/xwg-fakekube.XXXXXX)
	trap 'for p in "${T_PIDS[@]}"; do kill_pid "$p"; done; rm -rf "$T_TMP"; lib_summary; [ "$T_FAIL" -eq 0 ] || exit 1' EXIT
	NS=""
fi
need_cmd python3 openssl curl jq

FAKE_BOOKMARK=1
check "the fake starts (HTTPS, test CA from openssl)" fake_start "$NS" 127.0.0.1 || lib_done
say "fake API server $FAKE_API, admin $FAKE_ADMIN"
check "node n1 created through the admin endpoint" fake_node_put n1 192.0.2.1 10.244.1.0/24 fd44:1::/64
check "node n2 created" fake_node_put n2 192.0.2.2 10.244.2.0/24 fd44:2::/64

# ---- authentication
code() { fake_run curl -s -o /dev/null -w '%{http_code}' --cacert "$FAKE_DIR/ca.crt" "$@"; }
check_eq "no credentials: 401" 401 "$(code "$FAKE_API/api/v1/nodes")"
check_eq "a wrong bearer token: 401" 401 "$(code -H 'Authorization: Bearer nope' "$FAKE_API/api/v1/nodes")"
check_eq "the bearer token: 200" 200 "$(code -H "Authorization: Bearer $FAKE_TOKEN" "$FAKE_API/api/v1/nodes")"
check_eq "the client certificate: 200" 200 \
	"$(code --cert "$FAKE_DIR/client.crt" --key "$FAKE_DIR/client.key" "$FAKE_API/api/v1/nodes")"
mkdir -p "$T_TMP/other"
python3 "$FAKE_KUBE" certs "$T_TMP/other" 127.0.0.1 >/dev/null 2>&1
check_fails "a client certificate from another CA is refused" fake_run curl -sf --cacert "$FAKE_DIR/ca.crt" \
	--cert "$T_TMP/other/client.crt" --key "$T_TMP/other/client.key" "$FAKE_API/api/v1/nodes"
check_fails "the server certificate does not verify against another CA" fake_run curl -sf \
	--cacert "$T_TMP/other/ca.crt" -H "Authorization: Bearer $FAKE_TOKEN" "$FAKE_API/api/v1/nodes"

# ---- the protocol, raw
list=$(fake_api "/api/v1/nodes")
rv0=$(printf '%s' "$list" | jq -r .metadata.resourceVersion)
check_eq "NodeList of two nodes" "NodeList n1 n2" "$(printf '%s' "$list" | jq -r '[.kind, .items[].metadata.name] | join(" ")')"
check_re "NodeList has metadata.resourceVersion" '^[0-9]+$' "$rv0"
check_eq "GET /api/v1/nodes/n2" "n2 10.244.2.0/24,fd44:2::/64" \
	"$(fake_api /api/v1/nodes/n2 | jq -r '.metadata.name + " " + (.spec.podCIDRs | join(","))')"
check_eq "GET a missing node: a 404 Status" "404 NotFound" \
	"$(fake_api /api/v1/nodes/nx | jq -r '"\(.code) \(.reason)"')"
check_eq "merge patch (application/merge-patch+json)" "v1" "$(fake_api -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"annotations":{"k":"v1"}}}' /api/v1/nodes/n1 | jq -r '.metadata.annotations.k')"
out=$(fake_api -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' \
	-d '{"metadata":{"annotations":{"k":null,"j":"w"}}}' /api/v1/nodes/n1)
check_eq "strategic merge patch: null removes a key, others merge" "null w" \
	"$(printf '%s' "$out" | jq -r '"\(.metadata.annotations.k) \(.metadata.annotations.j)"')"
rv2=$(printf '%s' "$out" | jq -r .metadata.resourceVersion)
check "resourceVersion increases with every change ($rv0 -> $rv2)" test "$rv2" -gt "$rv0"
check_eq "a JSON patch is refused (415)" 415 "$(code -X PATCH -H "Authorization: Bearer $FAKE_TOKEN" \
	-H 'Content-Type: application/json-patch+json' -d '[]' "$FAKE_API/api/v1/nodes/n1")"
check_eq "a stale resourceVersion precondition: 409" 409 "$(code -X PATCH -H "Authorization: Bearer $FAKE_TOKEN" \
	-H 'Content-Type: application/merge-patch+json' -d "{\"metadata\":{\"resourceVersion\":\"$rv0\"}}" \
	"$FAKE_API/api/v1/nodes/n1")"

# A watch from rv0 replays exactly the two patches, then a bookmark; timeoutSeconds ends it cleanly.
fake_api -N "/api/v1/nodes?watch=1&resourceVersion=$rv0&allowWatchBookmarks=true&timeoutSeconds=2" \
	>"$T_TMP/w1" 2>"$T_TMP/w1.err"
check "a watch with timeoutSeconds ends cleanly" test $? = 0
check_eq "the watch from $rv0 replays the later changes in order" "MODIFIED $((rv0 + 1)) MODIFIED $rv2" \
	"$(jq -r 'select(.type != "BOOKMARK") | "\(.type) \(.object.metadata.resourceVersion)"' "$T_TMP/w1" | xargs)"
check_eq "bookmarks when asked (allowWatchBookmarks)" "BOOKMARK $rv2" \
	"$(jq -r 'select(.type == "BOOKMARK") | "\(.type) \(.object.metadata.resourceVersion)"' "$T_TMP/w1" | head -n 1)"
fake_api -N "/api/v1/nodes?watch=1&timeoutSeconds=1" >"$T_TMP/w2" 2>&1
check_eq "a watch without resourceVersion starts with ADDED for every node" "ADDED n1 ADDED n2" \
	"$(jq -r '"\(.type) \(.object.metadata.name)"' "$T_TMP/w2" | xargs)"

# A live watch sees ADDED, MODIFIED, DELETED.
fake_api -N "/api/v1/nodes?watch=1&resourceVersion=$rv2&timeoutSeconds=4" >"$T_TMP/w3" 2>&1 &
wpid=$!
wait_for 5 fake_watches 1
fake_node_put n3 192.0.2.3 10.244.3.0/24 >/dev/null
fake_admin PATCH /admin/nodes/n3 '{"metadata":{"labels":{"x":"y"}}}' >/dev/null
fake_api -X DELETE /api/v1/nodes/n3 >/dev/null
wait "$wpid"
check_eq "a live watch sees ADDED, MODIFIED, DELETED" "ADDED n3 MODIFIED n3 DELETED n3" \
	"$(jq -r '"\(.type) \(.object.metadata.name)"' "$T_TMP/w3" | xargs)"

# Cut mid-line: half a JSON line, then the connection closes without the chunked terminator.
fake_api -N "/api/v1/nodes?watch=1&resourceVersion=$rv2" >"$T_TMP/w4" 2>"$T_TMP/w4.err" &
wpid=$!
sleep 0.5
fake_admin POST "/admin/cut?when=next" >/dev/null
fake_admin PATCH /admin/nodes/n2 '{"metadata":{"labels":{"cut":"1"}}}' >/dev/null
wait "$wpid"
rc=$?
check "cut: the stream ends in the middle of a line (curl: $(head -c 80 "$T_TMP/w4.err"))" \
	sh -c "[ $rc != 0 ] && [ -s '$T_TMP/w4' ] && [ \"\$(tail -c 1 '$T_TMP/w4' | od -An -c | tr -d ' ')\" != '\\n' ]"
check_fails "cut: the half line is not valid JSON" jq -e . "$T_TMP/w4"

# 410 Gone: after the history is forgotten, an old resourceVersion gets an ERROR event with code 410...
rv3=$(fake_api /api/v1/nodes | jq -r .metadata.resourceVersion)
fake_admin POST "/admin/expire?gone=event" >/dev/null
check_eq "expired resourceVersion: ERROR event with a Status of code 410" "ERROR 410 Expired" \
	"$(fake_api -N "/api/v1/nodes?watch=1&resourceVersion=$rv2" | jq -r '"\(.type) \(.object.code) \(.object.reason)"')"
check_eq "the current resourceVersion still resumes (no event, clean end)" "" \
	"$(fake_api -N "/api/v1/nodes?watch=1&resourceVersion=$rv3&timeoutSeconds=1")"
fake_admin POST "/admin/expire?gone=http" >/dev/null
check_eq "... or, when asked, HTTP 410 on the request" 410 \
	"$(code -H "Authorization: Bearer $FAKE_TOKEN" "$FAKE_API/api/v1/nodes?watch=1&resourceVersion=$rv2")"
fake_admin POST "/admin/expire?gone=event" >/dev/null

# Stop for 2 s: refused, then back with the same state.
fake_admin POST "/admin/stop?seconds=2" >/dev/null
check_eq "stopped: the API port does not answer" 000 "$(code -m 2 "$FAKE_API/version")"
check "... and answers again after 2 s with the same nodes" wait_for 6 fake_api -f /api/v1/nodes/n2

# ---- the real kubectl
if [ -z "$KUBECTL" ]; then
	skip "kubectl drives the fake" "kubectl is not installed on this machine (make deps installs it where available)"
	lib_done
fi
kubeconfig_write "$T_TMP/kc-token" token
kubeconfig_write "$T_TMP/kc-cert" cert
# A cache of its own: kubectl must ask for discovery (/api, /apis, /api/v1), not reuse $HOME/.kube/cache.
kc() { local f=$1; shift; fake_run "$KUBECTL" --kubeconfig "$T_TMP/kc-$f" --cache-dir "$T_TMP/kcache" --request-timeout=10s "$@"; }
check_eq "kubectl get nodes -o json (token)" "n1 n2" "$(kc token get nodes -o json | jq -r '[.items[].metadata.name] | join(" ")')"
check_eq "kubectl get node n2 -o jsonpath (client certificate)" "10.244.2.0/24" \
	"$(kc cert get node n2 -o jsonpath='{.spec.podCIDR}')"
kc token get nodes -v=8 --cache-dir "$T_TMP/kcache-v8" >"$T_TMP/kv.out" 2>&1
say "kubectl requests: $(grep -o 'round_trippers.go:[0-9]*\] [A-Z]* [^ ]*' "$T_TMP/kv.out" | awk '{print $2, $3}' | xargs)"
check_re "kubectl asked for discovery (/api, /api/v1)" "/api\?.*/apis\?.*/api/v1\?" "$(grep -o "round_trippers.go:[0-9]*\] GET [^ ]*" "$T_TMP/kv.out" | xargs)"
check_eq "every request kubectl makes is answered 200 (discovery included)" "" \
	"$(grep 'Response Status' "$T_TMP/kv.out" | grep -v '200 OK')"
check "kubectl annotate node (merge patch)" kc cert annotate node n1 xwg.io/public-key=dGVzdA==
check_eq "... the annotation is on the node" "dGVzdA==" "$(fake_annotation n1 xwg.io/public-key)"
check "kubectl annotate --overwrite" kc token annotate --overwrite node n1 xwg.io/public-key=b3RoZXI=
check "kubectl annotate KEY- (removal)" kc token annotate node n1 xwg.io/public-key-
check_eq "... the annotation is gone" "" "$(fake_annotation n1 xwg.io/public-key)"
check "kubectl patch (strategic merge, kubectl's default)" kc token patch node n2 -p '{"metadata":{"labels":{"s":"1"}}}'
check "kubectl patch --type merge" kc token patch node n2 --type merge -p '{"metadata":{"labels":{"s":null}}}'
check_eq "... the label came and went" "" "$(kc token get node n2 -o jsonpath='{.metadata.labels.s}')"

kc token get nodes --watch --output-watch-events -o json >"$T_TMP/kw" 2>"$T_TMP/kw.err" &
wpid=$!
T_PIDS+=("$wpid")
sleep 2
kc token annotate node n2 xwg.io/endpoint=192.0.2.2:51820 >/dev/null
check "kubectl get nodes --watch sees the annotation change" \
	wait_for 10 sh -c "jq -r 'select(.type == \"MODIFIED\") | .object.metadata.annotations[\"xwg.io/endpoint\"] // empty' \
		'$T_TMP/kw' | grep -qx 192.0.2.2:51820"
kill "$wpid" 2>/dev/null
check "kubectl delete node" kc token delete node n2
check_re "kubectl get a deleted node: NotFound" 'NotFound|not found' "$(kc token get node n2 2>&1)"
lib_done

# SPDX-License-Identifier: GPL-2.0
# Helpers for tests that use the fake Kubernetes API server (fake_kube.py): start it, drive its admin
# endpoint, write Nodes and kubeconfigs.  Source after lib.sh.

FAKE_KUBE=$LIB_DIR/fake_kube.py
FAKE_NS="" FAKE_DIR="" FAKE_API="" FAKE_ADMIN="" FAKE_PID="" FAKE_TOKEN=""

# fake_run CMD...: CMD where the fake runs (its namespace, or here).
fake_run() {
	if [ -n "$FAKE_NS" ]; then ip netns exec "$FAKE_NS" "$@"; else "$@"; fi
}

# fake_start NS LISTEN_IP [CERT_IP...]: certificates (CA, server for LISTEN_IP and CERT_IPs, client),
# then the fake in namespace NS ("" = here) on LISTEN_IP, a random port; admin on 127.0.0.1 there.
# Sets FAKE_DIR, FAKE_API (https://IP:PORT), FAKE_ADMIN, FAKE_PID, FAKE_TOKEN.
fake_start() {
	local ns=$1 ip=$2 host i
	shift 2
	FAKE_NS=$ns FAKE_DIR=$T_TMP/kube
	mkdir -p "$FAKE_DIR"
	[ -s "$FAKE_DIR/ca.crt" ] || python3 "$FAKE_KUBE" certs "$FAKE_DIR" "$ip" "$@" >"$FAKE_DIR/certs.log" 2>&1 ||
		{ show_file "$FAKE_DIR/certs.log"; return 1; }
	FAKE_TOKEN=${FAKE_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')}
	host=$ip
	case $ip in *:*) host="[$ip]" ;; esac
	rm -f "$FAKE_DIR/ready"
	fake_run python3 "$FAKE_KUBE" serve --listen "$host:${FAKE_PORT:-0}" --cert "$FAKE_DIR/server.crt" \
		--key "$FAKE_DIR/server.key" --ca "$FAKE_DIR/ca.crt" --token "$FAKE_TOKEN" ${FAKE_TOKEN2:+--token "$FAKE_TOKEN2"} \
		--admin 127.0.0.1:0 --ready "$FAKE_DIR/ready" --bookmark-interval "${FAKE_BOOKMARK:-2}" \
		>>"$FAKE_DIR/fake.log" 2>&1 &
	FAKE_PID=$!
	T_PIDS+=("$FAKE_PID")
	for i in $(seq 100); do
		[ -s "$FAKE_DIR/ready" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$FAKE_DIR/ready" ] || { show_file "$FAKE_DIR/fake.log"; return 1; }
	FAKE_PORT=$(jq -r .api "$FAKE_DIR/ready" | sed 's/.*://')
	FAKE_API="https://$host:$FAKE_PORT"
	FAKE_ADMIN="http://$(jq -r .admin "$FAKE_DIR/ready")"
}

# fake_admin METHOD PATH [JSON]: one admin call; prints the answer, fails on a non-2xx status.
fake_admin() {
	fake_run curl -sS -f -X "$1" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$FAKE_ADMIN$2"
}

# fake_api CURL-ARGS... PATH: an authenticated (bearer token) API request with the CA.
fake_api() {
	local path=${*: -1}
	fake_run curl -sS --cacert "$FAKE_DIR/ca.crt" -H "Authorization: Bearer $FAKE_TOKEN" "${@:1:$#-1}" "$FAKE_API$path"
}

# fake_node_put NAME INTERNAL_IP POD_CIDR...: creates or replaces a Node (labels, podCIDR(s), addresses).
fake_node_put() {
	local name=$1 ip=$2 cidrs
	shift 2
	cidrs=$(for c; do printf '%s\n' "$c"; done | jq -R . | jq -sc .)
	fake_admin PUT "/admin/nodes/$name" "$(jq -nc --arg n "$name" --arg ip "$ip" --argjson c "$cidrs" '{
		apiVersion: "v1", kind: "Node",
		metadata: {name: $n, labels: {"kubernetes.io/hostname": $n, "kubernetes.io/os": "linux"}},
		spec: (if $c == [] then {} else {podCIDR: $c[0], podCIDRs: $c} end),
		status: {addresses: [{type: "InternalIP", address: $ip}, {type: "Hostname", address: $n}]}}')"
}

# fake_annotation NAME KEY: a Node's annotation, empty if none.
fake_annotation() {
	fake_admin GET /admin/nodes | jq -r --arg n "$1" --arg k "$2" '.items[] | select(.metadata.name == $n) |
		.metadata.annotations[$k] // empty'
}

# kubeconfig_write FILE token|cert [SERVER]: a kubeconfig for the fake (CA by file, token or client cert).
kubeconfig_write() {
	local file=$1 how=$2 server=${3:-$FAKE_API} user
	case $how in
	token) user="    token: $FAKE_TOKEN" ;;
	cert) user="    client-certificate: $FAKE_DIR/client.crt
    client-key: $FAKE_DIR/client.key" ;;
	certdata) user="    client-certificate-data: $(base64 -w0 "$FAKE_DIR/client.crt")
    client-key-data: $(base64 -w0 "$FAKE_DIR/client.key")" ;;
	esac
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $server
    certificate-authority: $FAKE_DIR/ca.crt
users:
- name: u
  user:
$user
contexts:
- name: c
  context:
    cluster: fake
    user: u
current-context: c
EOF
}

# fake_watches N: N watch streams are open.
fake_watches() { [ "$(fake_admin GET /admin/stats | jq .watches)" = "$1" ]; }

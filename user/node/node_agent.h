/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg node-agent`: the Kubernetes node agent command (node_agent.c). */
#ifndef XWG_NODE_AGENT_H
#define XWG_NODE_AGENT_H

#define NODE_AGENT_HELP "Runs the Kubernetes node agent: meshes every node's pod CIDRs from Node annotations"
#define NODE_AGENT_USAGE "[OPTIONS]\n\n" \
	"Options (defaults in brackets):\n" \
	"  --kubeconfig PATH        kubeconfig to reach the API server [in-cluster: KUBERNETES_SERVICE_HOST/_PORT,\n" \
	"                           the service-account token and CA under /var/run/secrets/kubernetes.io/serviceaccount]\n" \
	"  --node-name NAME         this node's Node object [$NODE_NAME]\n" \
	"  --interface NAME         the WireGuard interface [xwg0]\n" \
	"  --listen-port N          UDP port, 1-65535, published in xwg.io/endpoint [51820]\n" \
	"  --state-dir DIR          holds private.key, created mode 0600 on first start and reused [/var/lib/xwg]\n" \
	"  --mode MODE              data path: auto, xdp, xdp-generic, tc or tun [auto]\n" \
	"  --metrics-listen ADDR:PORT  serve /metrics and /healthz there [off]\n" \
	"  --help                   this text"

int cmd_node_agent(int argc, char *argv[]);

#endif

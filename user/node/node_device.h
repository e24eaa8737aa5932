/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's hands on its own interface from the watch thread: UAPI set requests and netlink routes. */
#ifndef XWG_NODE_DEVICE_H
#define XWG_NODE_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "kube_config.h"
#include "node_mesh.h"

struct node_device {
	char ifname[16];
	int ifindex;
	uint16_t listen_port;
	uint8_t public_key[32];
	const struct kube_config *kc;
	const char *node_name;
	bool published;		/* our annotations are on our Node */
	bool addressed;		/* our pod CIDRs' first addresses are on the interface */
	char noted_rv[64];	/* the resourceVersion of our Node last complained about */
	bool self_seen;		/* our Node was in a list or an event */
	bool missing_noted;	/* ... and we said once that it was not */
	struct mesh *mesh;
};

/* mesh_ops whose ctx is a struct node_device. */
extern const struct mesh_ops node_device_ops;

/* Sends one UAPI request (ending in a blank line) to the agent's own socket: 0 or -errno from its reply. */
int node_device_uapi(const char *ifname, const char *req);

/* Our own Node seen (list or event): publishes the annotations and adds the pod CIDR addresses. */
void node_device_self(void *ctx, const struct node_info *ni);

/* After a full list: peers on the device that no Node accounts for (adopted from before) go. */
void node_device_sweep(void *ctx);

/* The first address of a pod CIDR as a host prefix (/32 or /128). */
void node_device_first_addr(const struct xwg_prefix *cidr, struct xwg_prefix *out);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Node objects to WireGuard peers: what a Node says, and the reconciler that turns it into peers and routes. */
#ifndef XWG_NODE_MESH_H
#define XWG_NODE_MESH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "prefix.h"

#define NODE_ANN_KEY		"xwg.io/public-key"
#define NODE_ANN_ENDPOINT	"xwg.io/endpoint"
#define NODE_KEEPALIVE		25
#define NODE_NAME_MAX		254	/* a DNS subdomain name and its NUL */
#define NODE_CIDRS_MAX		4	/* dual stack needs 2 */

/* What one Node object says that the mesh needs. */
struct node_info {
	char name[NODE_NAME_MAX];
	char rv[64];			/* metadata.resourceVersion */
	bool has_key;			/* the public-key annotation is there (valid or not) */
	const char *bad;		/* why the peer annotations or pod CIDRs are unusable; NULL: usable */
	char why[256];			/* storage for bad */
	uint8_t key[32];
	char key_b64[64];		/* the annotation, for comparing with our own */
	char endpoint[128];		/* the annotation */
	struct sockaddr_storage ep;
	struct xwg_prefix cidrs[NODE_CIDRS_MAX];
	size_t n_cidrs;
	char internal_ip[64];		/* the first InternalIP address, "" when none */
};

/*
 * Reads a Node object. -EINVAL (with why) only when it has no name; unusable annotations or pod
 * CIDRs are reported in ni->bad, so one bad Node never stops the others.
 */
int node_parse(json_object *node, struct node_info *ni);

/* "10.0.0.1:51820" or "[fd00::1]:51820" from an address and a port; -EINVAL for a non-address. */
int node_endpoint_format(char *buf, size_t len, const char *ip, unsigned int port);

/* How the reconciler changes the device: the agent talks UAPI and netlink, the tests record. */
struct mesh_ops {
	int (*peer_set)(void *ctx, const struct node_info *ni);		/* add or update, allowed IPs replaced */
	int (*peer_remove)(void *ctx, const uint8_t key[32]);
	int (*route)(void *ctx, const struct xwg_prefix *p, bool add);
	void (*log)(void *ctx, const char *msg);
	void *ctx;
};

struct mesh_peer {
	char name[NODE_NAME_MAX];
	uint8_t key[32];
	struct sockaddr_storage ep;
	struct xwg_prefix cidrs[NODE_CIDRS_MAX];
	size_t n_cidrs;
	bool applied;			/* the device has it (a failed change is retried on the next event) */
	bool seen;			/* in the current relist */
};

struct mesh_note {			/* the last resourceVersion of a node whose bad input was logged */
	char name[NODE_NAME_MAX];
	char rv[64];
};

struct mesh {
	char self[NODE_NAME_MAX];
	struct mesh_ops ops;
	struct mesh_peer *peers;
	size_t n_peers, cap_peers;
	struct mesh_note *notes;
	size_t n_notes, cap_notes;
};

void mesh_init(struct mesh *m, const char *self, const struct mesh_ops *ops);
void mesh_free(struct mesh *m);

/* ADDED or MODIFIED (and each item of a list): adds, replaces, keeps or removes that node's peer. */
void mesh_node_update(struct mesh *m, const struct node_info *ni);
/* DELETED: the node's peer and routes go. */
void mesh_node_delete(struct mesh *m, const char *name);

/* A relist: every node not updated between begin and end is gone. */
void mesh_resync_begin(struct mesh *m);
void mesh_resync_end(struct mesh *m);

bool mesh_has_key(const struct mesh *m, const uint8_t key[32]);
/* A current peer routes exactly p: a stale peer's route to it must stay. */
bool mesh_has_cidr(const struct mesh *m, const struct xwg_prefix *p);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Reconciler actions on the live device: only through its UAPI socket and netlink, never its memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "encoding.h"
#include "kube_http.h"
#include "netlink.h"
#include "node_device.h"
#include "show.h"

/* The device's event loop owns the device: a set request is served there, between packets. */
int node_device_uapi(const char *ifname, const char *req)
{
	char reply[256];
	size_t len = strlen(req), off = 0;
	int fd = agent_connect(ifname), e = -1;
	ssize_t n;

	if (fd < 0)
		return fd;
	while (off < len) {
		n = write(fd, req + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	off = 0;
	while (off < sizeof(reply) - 1 && (n = read(fd, reply + off, sizeof(reply) - 1 - off)) > 0)
		off += (size_t)n;
	close(fd);
	reply[off] = '\0';
	if (sscanf(reply, "errno=%d", &e) != 1)
		return -EIO;
	return -e;
}

static void node_device_log(void *ctx, const char *msg)
{
	fprintf(stderr, "xwg: node-agent: %s\n", msg);
}

static int node_device_peer_set(void *ctx, const struct node_info *ni)
{
	struct node_device *nd = ctx;
	char req[1024], hex[KEY_HEX_LEN + 1], ep[80], pfx[64];
	size_t off;
	int ret;

	key_to_hex(hex, ni->key);
	endpoint_format(ep, sizeof(ep), (const struct sockaddr *)&ni->ep);
	off = (size_t)snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=%s\n"
			       "persistent_keepalive_interval=%d\nreplace_allowed_ips=true\n", hex, ep, NODE_KEEPALIVE);
	for (size_t i = 0; i < ni->n_cidrs; i++) {
		prefix_format(pfx, sizeof(pfx), &ni->cidrs[i]);
		off += (size_t)snprintf(req + off, sizeof(req) - off, "allowed_ip=%s\n", pfx);
	}
	snprintf(req + off, sizeof(req) - off, "\n");
	ret = node_device_uapi(nd->ifname, req);
	if (ret)
		fprintf(stderr, "xwg: node-agent: node %s: cannot set peer %s: %s\n", ni->name, ni->key_b64,
			strerror(-ret));
	return ret;
}

static int node_device_peer_remove(void *ctx, const uint8_t key[32])
{
	struct node_device *nd = ctx;
	char req[256], hex[KEY_HEX_LEN + 1];
	int ret;

	key_to_hex(hex, key);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nremove=true\n\n", hex);
	ret = node_device_uapi(nd->ifname, req);
	if (ret)
		fprintf(stderr, "xwg: node-agent: cannot remove peer %s: %s\n", hex, strerror(-ret));
	return ret;
}

static int node_device_route(void *ctx, const struct xwg_prefix *p, bool add)
{
	struct node_device *nd = ctx;
	char buf[64];
	int ret;

	ret = add ? nl_route_replace(nd->ifindex, p, 0) : nl_route_del(nd->ifindex, p, 0);
	if (!add && (ret == -ESRCH || ret == -ENOENT))
		ret = 0;	/* already gone */
	if (ret) {
		prefix_format(buf, sizeof(buf), p);
		fprintf(stderr, "xwg: node-agent: cannot %s the route to %s via %s: %s\n", add ? "add" : "delete",
			buf, nd->ifname, strerror(-ret));
	}
	return ret;
}

const struct mesh_ops node_device_ops = {
	.peer_set = node_device_peer_set,
	.peer_remove = node_device_peer_remove,
	.route = node_device_route,
	.log = node_device_log,
};

void node_device_first_addr(const struct xwg_prefix *cidr, struct xwg_prefix *out)
{
	int last = cidr->family == AF_INET ? 3 : 15;

	*out = *cidr;
	out->cidr = cidr->family == AF_INET ? 32 : 128;
	/* The network address plus one, carrying into the higher bytes. */
	for (int i = last; i >= 0 && ++out->addr[i] == 0; i--)
		;
}

static void node_device_addresses(struct node_device *nd, const struct node_info *ni)
{
	struct xwg_prefix a;
	char buf[64];
	int ret, failed = 0;

	for (size_t i = 0; i < ni->n_cidrs; i++) {
		node_device_first_addr(&ni->cidrs[i], &a);
		ret = nl_addr_add(nd->ifindex, &a);
		if (ret && ret != -EEXIST) {
			prefix_format(buf, sizeof(buf), &a);
			fprintf(stderr, "xwg: node-agent: cannot add address %s to %s: %s\n", buf, nd->ifname,
				strerror(-ret));
			failed++;
		}
	}
	nd->addressed = ni->n_cidrs && !failed;
}

static int node_device_patch(struct node_device *nd, const char *key, const char *endpoint)
{
	json_object *root = json_object_new_object(), *md = json_object_new_object(), *ann = json_object_new_object();
	struct kube_reply r;
	char path[512], err[512];
	int ret;

	json_object_object_add(ann, NODE_ANN_KEY, json_object_new_string(key));
	json_object_object_add(ann, NODE_ANN_ENDPOINT, json_object_new_string(endpoint));
	json_object_object_add(md, "annotations", ann);
	json_object_object_add(root, "metadata", md);
	snprintf(path, sizeof(path), "/api/v1/nodes/%s", nd->node_name);
	ret = kube_request(nd->kc, "PATCH", path, "application/merge-patch+json",
			   json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN), &r, err, sizeof(err));
	json_object_put(root);
	if (ret) {
		fprintf(stderr, "xwg: node-agent: patching node %s: %s\n", nd->node_name, err);
		return ret;
	}
	if (r.status != 200) {
		fprintf(stderr, "xwg: node-agent: patching node %s: HTTP %ld: %.200s\n", nd->node_name, r.status, r.body);
		ret = -EIO;
	} else {
		fprintf(stderr, "xwg: node-agent: node %s: published %s=%s, %s=%s\n", nd->node_name, NODE_ANN_KEY,
			key, NODE_ANN_ENDPOINT, endpoint);
	}
	free(r.body);
	return ret;
}

void node_device_self(void *ctx, const struct node_info *ni)
{
	struct node_device *nd = ctx;
	char key[KEY_B64_LEN + 1], ep[128];
	bool noted = !strcmp(nd->noted_rv, ni->rv);

	nd->self_seen = true;
	snprintf(nd->noted_rv, sizeof(nd->noted_rv), "%s", ni->rv);
	if (!nd->addressed) {
		if (ni->n_cidrs)
			node_device_addresses(nd, ni);
		else if (!noted)
			fprintf(stderr, "xwg: node-agent: node %s has no spec.podCIDRs (yet): no address on %s\n",
				ni->name, nd->ifname);
	}
	if (node_endpoint_format(ep, sizeof(ep), ni->internal_ip, nd->listen_port)) {
		if (!noted)
			fprintf(stderr, "xwg: node-agent: node %s has no InternalIP address ('%s'): cannot publish %s\n",
				ni->name, ni->internal_ip, NODE_ANN_ENDPOINT);
		return;
	}
	key_to_base64(key, nd->public_key);
	/* Only when the Node says otherwise: our own patch comes back as a MODIFIED event. */
	if (!strcmp(ni->key_b64, key) && !strcmp(ni->endpoint, ep))
		return;
	nd->published = node_device_patch(nd, key, ep) == 0;
}

void node_device_sweep(void *ctx)
{
	struct node_device *nd = ctx;
	struct show_device d;
	struct xwg_prefix p;

	/* A wrong --node-name would otherwise just never publish anything. */
	if (!nd->self_seen && !nd->missing_noted) {
		fprintf(stderr, "xwg: node-agent: node %s is not among the Nodes: nothing published yet (--node-name?)\n",
			nd->node_name);
		nd->missing_noted = true;
	}
	memset(&d, 0, sizeof(d));
	if (show_fetch(nd->ifname, &d, false))
		return;
	for (size_t i = 0; i < d.n_peers; i++) {
		struct show_peer *sp = &d.peers[i];
		char key[KEY_B64_LEN + 1];

		if (mesh_has_key(nd->mesh, sp->public_key))
			continue;
		key_to_base64(key, sp->public_key);
		fprintf(stderr, "xwg: node-agent: removing peer %s: no Node publishes it\n", key);
		for (size_t j = 0; j < sp->n_allowed; j++)
			if (!prefix_parse(&p, sp->allowed[j], false) && !mesh_has_cidr(nd->mesh, &p))
				node_device_route(nd, &p, false);
		node_device_peer_remove(nd, sp->public_key);
	}
	show_device_free(&d);
}

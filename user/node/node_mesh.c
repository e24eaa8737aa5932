/* SPDX-License-Identifier: GPL-2.0 */
/* The reconciler: each Node with xwg.io/public-key is a peer over its pod CIDRs; bad input is logged once, skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "node_mesh.h"

/* ---- reading a Node */

static json_object *node_get(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* A string member, or NULL when absent or not a string. */
static const char *node_str(json_object *o, const char *k)
{
	json_object *v = node_get(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void node_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

__attribute__((format(printf, 2, 3)))
static void node_bad(struct node_info *ni, const char *fmt, ...)
{
	va_list ap;

	if (ni->bad)
		return;		/* the first reason is the one to fix first */
	va_start(ap, fmt);
	vsnprintf(ni->why, sizeof(ni->why), fmt, ap);
	va_end(ap);
	ni->bad = ni->why;
}

static int node_add_cidr(struct node_info *ni, const char *s)
{
	if (ni->n_cidrs == NODE_CIDRS_MAX) {
		node_bad(ni, "more than %d pod CIDRs", NODE_CIDRS_MAX);
		return -E2BIG;
	}
	if (!s || prefix_parse(&ni->cidrs[ni->n_cidrs], s, false)) {
		node_bad(ni, "pod CIDR '%.64s' is not an address/prefix", s ? s : "(not a string)");
		return -EINVAL;
	}
	ni->n_cidrs++;
	return 0;
}

/* spec.podCIDRs, else the older single spec.podCIDR. */
static void node_parse_cidrs(json_object *spec, struct node_info *ni)
{
	json_object *list = node_get(spec, "podCIDRs");
	const char *one = node_str(spec, "podCIDR");

	if (list && json_object_is_type(list, json_type_array) && json_object_array_length(list)) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			json_object *c = json_object_array_get_idx(list, i);

			if (node_add_cidr(ni, json_object_is_type(c, json_type_string) ?
					  json_object_get_string(c) : NULL))
				return;
		}
	} else if (one && *one) {
		node_add_cidr(ni, one);
	}
}

static void node_parse_addresses(json_object *status, struct node_info *ni)
{
	json_object *list = node_get(status, "addresses");

	if (!list || !json_object_is_type(list, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *a = json_object_array_get_idx(list, i);
		const char *type = node_str(a, "type"), *addr = node_str(a, "address");

		if (type && addr && !strcmp(type, "InternalIP")) {
			node_copy(ni->internal_ip, sizeof(ni->internal_ip), addr);
			return;
		}
	}
}

/* The peer half: key, endpoint, pod CIDRs. Only checked when the key annotation says "mesh me". */
static void node_check_peer(struct node_info *ni, const char *key, const char *endpoint)
{
	node_copy(ni->key_b64, sizeof(ni->key_b64), key);
	node_copy(ni->endpoint, sizeof(ni->endpoint), endpoint);
	if (key_from_base64(ni->key, key))
		node_bad(ni, "annotation %s '%.64s' is not a base64 WireGuard key", NODE_ANN_KEY, key);
	if (!endpoint || !*endpoint)
		node_bad(ni, "annotation %s is missing", NODE_ANN_ENDPOINT);
	else if (endpoint_parse(&ni->ep, endpoint, false))
		node_bad(ni, "annotation %s '%.64s' is not ADDRESS:PORT", NODE_ANN_ENDPOINT, endpoint);
	if (!ni->n_cidrs)
		node_bad(ni, "no spec.podCIDRs");
}

int node_parse(json_object *node, struct node_info *ni)
{
	json_object *md = node_get(node, "metadata"), *ann = node_get(md, "annotations");
	const char *name = node_str(md, "name"), *key = node_str(ann, NODE_ANN_KEY);

	memset(ni, 0, sizeof(*ni));
	if (!name || !*name || strlen(name) >= sizeof(ni->name)) {
		node_bad(ni, "a Node without a usable metadata.name");
		return -EINVAL;
	}
	node_copy(ni->name, sizeof(ni->name), name);
	node_copy(ni->rv, sizeof(ni->rv), node_str(md, "resourceVersion"));
	node_parse_cidrs(node_get(node, "spec"), ni);
	node_parse_addresses(node_get(node, "status"), ni);
	ni->has_key = node_get(ann, NODE_ANN_KEY) != NULL;
	if (ni->has_key) {
		if (!key)
			node_bad(ni, "annotation %s is not a string", NODE_ANN_KEY);
		node_check_peer(ni, key ? key : "", node_str(ann, NODE_ANN_ENDPOINT));
	}
	return 0;
}

int node_endpoint_format(char *buf, size_t len, const char *ip, unsigned int port)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!ip || port < 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, &a4) == 1)
		snprintf(buf, len, "%s:%u", ip, port);
	else if (inet_pton(AF_INET6, ip, &a6) == 1)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		return -EINVAL;
	return 0;
}

/* ---- the reconciler */

void mesh_init(struct mesh *m, const char *self, const struct mesh_ops *ops)
{
	memset(m, 0, sizeof(*m));
	node_copy(m->self, sizeof(m->self), self);
	m->ops = *ops;
}

void mesh_free(struct mesh *m)
{
	free(m->peers);
	free(m->notes);
	memset(m, 0, sizeof(*m));
}

__attribute__((format(printf, 2, 3)))
static void mesh_log(struct mesh *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m->ops.log)
		m->ops.log(m->ops.ctx, msg);
}

static struct mesh_peer *mesh_find(struct mesh *m, const char *name)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (!strcmp(m->peers[i].name, name))
			return &m->peers[i];
	return NULL;
}

bool mesh_has_key(const struct mesh *m, const uint8_t key[32])
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (!memcmp(m->peers[i].key, key, 32))
			return true;
	return false;
}

/* Bad input on one node is logged once per resourceVersion: a relist must not repeat it. */
static void mesh_note_bad(struct mesh *m, const struct node_info *ni)
{
	struct mesh_note *n = NULL;

	for (size_t i = 0; i < m->n_notes; i++)
		if (!strcmp(m->notes[i].name, ni->name))
			n = &m->notes[i];
	if (n && !strcmp(n->rv, ni->rv))
		return;
	if (!n) {
		if (m->n_notes == m->cap_notes) {
			size_t cap = m->cap_notes ? m->cap_notes * 2 : 8;
			struct mesh_note *nn = realloc(m->notes, cap * sizeof(*nn));

			if (!nn)
				return;
			m->notes = nn;
			m->cap_notes = cap;
		}
		n = &m->notes[m->n_notes++];
		node_copy(n->name, sizeof(n->name), ni->name);
	}
	node_copy(n->rv, sizeof(n->rv), ni->rv);
	mesh_log(m, "node %s (resourceVersion %s): %s; skipped, its peer (if any) is kept", ni->name,
		 ni->rv[0] ? ni->rv : "?", ni->bad);
}

static bool mesh_cidr_in(const struct xwg_prefix *p, const struct xwg_prefix *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].family == p->family && set[i].cidr == p->cidr && !memcmp(set[i].addr, p->addr, 16))
			return true;
	return false;
}

bool mesh_has_cidr(const struct mesh *m, const struct xwg_prefix *p)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (mesh_cidr_in(p, m->peers[i].cidrs, m->peers[i].n_cidrs))
			return true;
	return false;
}

/* Routes of old not in new go; all of new are (re)placed, which is idempotent. */
static void mesh_routes(struct mesh *m, const struct xwg_prefix *old, size_t n_old, const struct xwg_prefix *new,
			size_t n_new)
{
	for (size_t i = 0; i < n_old; i++)
		if (!mesh_cidr_in(&old[i], new, n_new))
			m->ops.route(m->ops.ctx, &old[i], false);
	for (size_t i = 0; i < n_new; i++)
		m->ops.route(m->ops.ctx, &new[i], true);
}

static void mesh_remove_at(struct mesh *m, struct mesh_peer *p, const char *why)
{
	char key[64];

	key_to_base64(key, p->key);
	mesh_log(m, "node %s: removing peer %s (%s)", p->name, key, why);
	mesh_routes(m, p->cidrs, p->n_cidrs, NULL, 0);
	m->ops.peer_remove(m->ops.ctx, p->key);
	*p = m->peers[--m->n_peers];
}

static bool mesh_same(const struct mesh_peer *p, const struct node_info *ni)
{
	if (memcmp(p->key, ni->key, 32) || p->n_cidrs != ni->n_cidrs || memcmp(&p->ep, &ni->ep, sizeof(p->ep)))
		return false;
	for (size_t i = 0; i < ni->n_cidrs; i++)
		if (!mesh_cidr_in(&ni->cidrs[i], p->cidrs, p->n_cidrs))
			return false;
	return true;
}

static struct mesh_peer *mesh_add_entry(struct mesh *m, const char *name)
{
	struct mesh_peer *p;

	if (m->n_peers == m->cap_peers) {
		size_t cap = m->cap_peers ? m->cap_peers * 2 : 16;
		struct mesh_peer *np = realloc(m->peers, cap * sizeof(*np));

		if (!np)
			return NULL;
		m->peers = np;
		m->cap_peers = cap;
	}
	p = &m->peers[m->n_peers++];
	memset(p, 0, sizeof(*p));
	node_copy(p->name, sizeof(p->name), name);
	return p;
}

/* A usable node: new peer, replaced key, changed endpoint or CIDRs, or nothing to do. */
static void mesh_apply(struct mesh *m, struct mesh_peer *p, const struct node_info *ni)
{
	char key[64];

	if (p)
		p->seen = true;
	if (p && p->applied && mesh_same(p, ni))
		return;
	if (!p) {
		p = mesh_add_entry(m, ni->name);
		if (!p) {
			mesh_log(m, "node %s: out of memory", ni->name);
			return;
		}
		mesh_log(m, "node %s: adding peer %s at %s", ni->name, ni->key_b64, ni->endpoint);
	} else if (memcmp(p->key, ni->key, 32)) {
		key_to_base64(key, p->key);
		mesh_log(m, "node %s: key changed from %s to %s", ni->name, key, ni->key_b64);
		m->ops.peer_remove(m->ops.ctx, p->key);
	} else {
		mesh_log(m, "node %s: updating peer %s at %s", ni->name, ni->key_b64, ni->endpoint);
	}
	p->seen = true;
	p->applied = m->ops.peer_set(m->ops.ctx, ni) == 0;
	mesh_routes(m, p->cidrs, p->n_cidrs, ni->cidrs, ni->n_cidrs);
	memcpy(p->key, ni->key, 32);
	p->ep = ni->ep;
	memcpy(p->cidrs, ni->cidrs, sizeof(p->cidrs));
	p->n_cidrs = ni->n_cidrs;
}

void mesh_node_update(struct mesh *m, const struct node_info *ni)
{
	struct mesh_peer *p;

	if (!strcmp(ni->name, m->self))
		return;		/* our own Node is the agent's business, not a peer */
	p = mesh_find(m, ni->name);
	if (!ni->has_key) {
		if (p)
			mesh_remove_at(m, p, "annotation " NODE_ANN_KEY " removed");
		return;
	}
	if (ni->bad) {
		mesh_note_bad(m, ni);
		if (p)
			p->seen = true;	/* a healthy peer is never removed for bad input */
		return;
	}
	mesh_apply(m, p, ni);
}

void mesh_node_delete(struct mesh *m, const char *name)
{
	struct mesh_peer *p = mesh_find(m, name);

	if (p)
		mesh_remove_at(m, p, "node deleted");
}

void mesh_resync_begin(struct mesh *m)
{
	for (size_t i = 0; i < m->n_peers; i++)
		m->peers[i].seen = false;
}

void mesh_resync_end(struct mesh *m)
{
	for (size_t i = 0; i < m->n_peers;) {
		if (!m->peers[i].seen)
			mesh_remove_at(m, &m->peers[i], "node gone");	/* the last entry moved to i */
		else
			i++;
	}
}

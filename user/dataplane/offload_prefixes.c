/* SPDX-License-Identifier: GPL-2.0 */
/* Allowed IPs into the LPM maps: each peer's list diffed against what its slot published, and taken back after a restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"

void offload_prefixes_free(struct offload_prefixes *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- prefix lists */

static int prefixes_cmp(const void *a, const void *b)
{
	const struct offload_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->cidr != y->cidr)
		return x->cidr - y->cidr;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

int offload_prefixes_add(struct offload_prefixes *l, const struct offload_prefix *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct offload_prefix *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *p;
	return 0;
}

static bool prefixes_has(const struct offload_prefixes *l, const struct offload_prefix *p)
{
	return l->n && bsearch(p, l->v, l->n, sizeof(*p), prefixes_cmp);
}

static int prefixes_collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct offload_prefix p = { .family = family == AF_INET ? 4 : 6, .cidr = cidr };

	memcpy(p.addr, addr, family == AF_INET ? 4 : 16);
	return offload_prefixes_add(ctx, &p);
}

static int prefixes_lpm_write(struct offload *o, const struct offload_prefix *p, uint32_t id, bool del)
{
	struct xwg_lpm4_key k4 = { .prefixlen = p->cidr };
	struct xwg_lpm6_key k6 = { .prefixlen = p->cidr };
	bool v4 = p->family == 4;
	int fd = bpf_map__fd(v4 ? o->rx->maps.xwg_allowedips4 : o->rx->maps.xwg_allowedips6);
	const void *key = v4 ? (const void *)&k4 : (const void *)&k6;

	memcpy(k4.addr, p->addr, sizeof(k4.addr));
	memcpy(k6.addr, p->addr, sizeof(k6.addr));
	return del ? offload_map_delete(o, fd, key) : offload_map_update(o, fd, key, &id);
}

/* The prefix now belongs to another peer that has it in the map: deleting it would undo that. */
static bool prefixes_taken(struct xwg_device *dev, struct offload *o, const struct offload_prefix *p,
				 int id)
{
	struct peer *owner = allowedips_lookup_exact(&dev->allowedips, p->family == 4 ? AF_INET : AF_INET6,
						     p->addr, p->cidr);

	return owner && owner->offload_id >= 0 && owner->offload_id != id &&
	       prefixes_has(&o->slots[owner->offload_id].pub, p);
}

/*
 * Adds what the peer's list has and the map lacks: the change, not the table. What went away
 * waits in slot->stale until every peer's adds are in, so a prefix moving between peers never
 * leaves a gap. Only the peer's own list is read (allowedips_walk_list), never the whole trie.
 */
void offload_prefix_adds(struct offload *o, struct peer *peer, struct offload_slot *slot)
{
	struct offload_prefixes cur = { 0 }, pub = { 0 };
	size_t i, j;
	int err;

	o->n_failed -= slot->failed.n;
	/* While some prefix is missing, any change may cover it (or stop covering it). */
	if (slot->failed.n || o->n_failed)
		o->failed_changed = true;
	slot->failed.n = 0;
	err = allowedips_walk_list(peer, prefixes_collect, &cur);
	if (err) {
		offload_slot_fail(slot, "allowed IPs", err);
		goto out;
	}
	if (cur.n)
		qsort(cur.v, cur.n, sizeof(*cur.v), prefixes_cmp);
	for (i = 0, j = 0; i < cur.n || j < slot->pub.n;) {
		int c = i == cur.n ? 1 : j == slot->pub.n ? -1 : prefixes_cmp(&cur.v[i], &slot->pub.v[j]);

		if (c > 0) {
			/* Published, no longer ours: delete after the adds (or keep, if that fails). */
			err = offload_prefixes_add(&slot->stale, &slot->pub.v[j++]);
		} else if (c == 0) {
			err = offload_prefixes_add(&pub, &cur.v[i++]);
			j++;
		} else {
			err = prefixes_lpm_write(o, &cur.v[i], (uint32_t)peer->offload_id, false);
			if (err) {
				offload_slot_fail(slot, cur.v[i].family == 4 ? "allowed IPs map (IPv4)" :
					     "allowed IPs map (IPv6)", err);
				err = offload_prefixes_add(&slot->failed, &cur.v[i]);
				o->n_failed++;
				o->failed_changed = true;
			} else {
				err = offload_prefixes_add(&pub, &cur.v[i]);
			}
			i++;
		}
		if (err) {
			/* Out of memory for our own bookkeeping: the map may hold more than we know. */
			offload_slot_fail(slot, "allowed IPs", err);
			break;
		}
	}
	if (!err) {
		free(slot->pub.v);
		slot->pub = pub;
		pub.v = NULL;
	}
out:
	free(cur.v);
	free(pub.v);
}

/* Deletes what left the peer; a delete that fails keeps the prefix published (and the peer out). */
void offload_prefix_deletes(struct xwg_device *dev, struct offload *o, int id)
{
	struct offload_slot *slot = &o->slots[id];
	struct offload_prefixes keep = { 0 };
	int err;

	for (size_t i = 0; i < slot->stale.n; i++) {
		const struct offload_prefix *p = &slot->stale.v[i];

		if (prefixes_taken(dev, o, p, id))
			continue;
		err = prefixes_lpm_write(o, p, (uint32_t)id, true);
		if (err) {
			offload_slot_fail(slot, "allowed IPs map (delete)", err);
			if (offload_prefixes_add(&keep, p) == 0)
				continue;
		}
	}
	slot->stale.n = 0;
	for (size_t i = 0; i < keep.n; i++)
		offload_prefixes_add(&slot->pub, &keep.v[i]);
	if (keep.n)
		qsort(slot->pub.v, slot->pub.n, sizeof(*slot->pub.v), prefixes_cmp);
	free(keep.v);
}

/*
 * A failed prefix P of peer A that lies inside a shorter prefix Q of peer B: the map sends P's
 * traffic to B and accepts A's sources from B. B leaves BPF too, until P is in. Runs only while
 * some write failed, so its cost (every failed prefix, every shorter length) is no one's normal.
 */
void offload_prefix_covers(struct xwg_device *dev, struct offload *o)
{
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		o->slots[id].covers_failure = false;
	for (int id = 0; id < XWG_MAX_PEERS && o->n_failed; id++) {
		const struct offload_slot *slot = &o->slots[id];

		for (size_t i = 0; i < slot->failed.n; i++) {
			const struct offload_prefix *p = &slot->failed.v[i];
			int family = p->family == 4 ? AF_INET : AF_INET6;

			for (uint8_t c = 0; c < p->cidr; c++) {
				struct peer *owner = allowedips_lookup_exact(&dev->allowedips, family, p->addr, c);

				if (owner && owner->offload_id >= 0 && owner->offload_id != id)
					o->slots[owner->offload_id].covers_failure = true;
			}
		}
	}
}

/* ---- adoption */

static void prefixes_adopt_lpm(struct xwg_device *dev, struct offload *o, bool v4)
{
	int fd = bpf_map__fd(v4 ? o->rx->maps.xwg_allowedips4 : o->rx->maps.xwg_allowedips6);
	struct offload_prefixes all = { 0 };
	union {
		struct xwg_lpm4_key k4;
		struct xwg_lpm6_key k6;
	} key, next;
	bool first = true;
	uint32_t id;

	/* Read everything first: deleting under the iterator would make it start over. */
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct offload_prefix p = { .family = v4 ? 4 : 6 };

		key = next;
		first = false;
		if (bpf_map_lookup_elem(fd, &key, &id))
			continue;
		p.cidr = (uint8_t)(v4 ? key.k4.prefixlen : key.k6.prefixlen);
		memcpy(p.addr, v4 ? key.k4.addr : key.k6.addr, v4 ? 4 : 16);
		p.id = id;
		if (offload_prefixes_add(&all, &p))
			break;	/* what is not read stays; the peers' first publish overwrites theirs */
	}
	for (size_t i = 0; i < all.n; i++) {
		const struct offload_prefix *p = &all.v[i];

		/* A peer that is gone, or no memory to remember it: out of the map. */
		if (p->id >= XWG_MAX_PEERS || !o->by_id[p->id] || offload_prefixes_add(&o->slots[p->id].pub, p))
			prefixes_lpm_write(o, p, p->id, true);
	}
	free(all.v);
}

void offload_adopt_prefixes(struct xwg_device *dev, struct offload *o)
{
	prefixes_adopt_lpm(dev, o, true);
	prefixes_adopt_lpm(dev, o, false);
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		if (o->slots[id].pub.n)
			qsort(o->slots[id].pub.v, o->slots[id].pub.n, sizeof(*o->slots[id].pub.v), prefixes_cmp);
}

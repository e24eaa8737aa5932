/* SPDX-License-Identifier: GPL-2.0 */
/* Cryptokey routing table: path-compressed binary tries (one per family) mapping prefixes to peers. */
#include "allowedips.h"
#include "peer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Keys are kept as a 128-bit host-order integer (hi, lo), most significant bit first, so IPv4
 * (in the top 32 bits of hi) and IPv6 share all the bit arithmetic. Invariant: a node without a
 * peer is a pure branching point and always has two children.
 */
struct allowedips_node {
	uint64_t hi, lo;		/* key, masked to cidr */
	struct peer *peer;		/* NULL for a branching node */
	struct allowedips_node *child[2];
	/* peer's list (struct allowedips_list), valid while peer is set */
	struct allowedips_node *peer_next, **peer_pprev;
	uint8_t cidr;
	uint8_t bits;			/* 32 (IPv4) or 128 (IPv6) */
};

struct allowedips_key {
	uint64_t hi, lo;
	uint8_t bits;			/* 32 or 128 */
};

#define ALLOWEDIPS_MAX_DEPTH 130	/* a path never holds more than one node per prefix length */

static uint64_t allowedips_load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void allowedips_store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int allowedips_key_load(struct allowedips_key *k, int family, const void *addr)
{
	const uint8_t *a = addr;

	if (family == AF_INET) {
		k->hi = (uint64_t)a[0] << 56 | (uint64_t)a[1] << 48 | (uint64_t)a[2] << 40 |
			(uint64_t)a[3] << 32;
		k->lo = 0;
		k->bits = 32;
		return 0;
	}
	if (family == AF_INET6) {
		k->hi = allowedips_load_be64(a);
		k->lo = allowedips_load_be64(a + 8);
		k->bits = 128;
		return 0;
	}
	return -EAFNOSUPPORT;
}

static inline uint64_t allowedips_mask_hi(unsigned int cidr)
{
	return cidr == 0 ? 0 : cidr >= 64 ? ~0ULL : ~0ULL << (64 - cidr);
}

static inline uint64_t allowedips_mask_lo(unsigned int cidr)
{
	return cidr <= 64 ? 0 : cidr >= 128 ? ~0ULL : ~0ULL << (128 - cidr);
}

/* Does node's prefix contain the key? */
static inline bool allowedips_node_matches(const struct allowedips_node *n, uint64_t hi, uint64_t lo)
{
	return !(((n->hi ^ hi) & allowedips_mask_hi(n->cidr)) |
		 ((n->lo ^ lo) & allowedips_mask_lo(n->cidr)));
}

/* Bit number pos (0 = most significant) of the key. */
static inline unsigned int allowedips_bit(uint64_t hi, uint64_t lo, unsigned int pos)
{
	return pos < 64 ? (hi >> (63 - pos)) & 1 : (lo >> (127 - pos)) & 1;
}

/* Number of leading bits two keys share, capped at limit. */
static unsigned int allowedips_common_bits(uint64_t hi1, uint64_t lo1, uint64_t hi2, uint64_t lo2,
					   unsigned int limit)
{
	unsigned int n;

	if (hi1 != hi2)
		n = (unsigned int)__builtin_clzll(hi1 ^ hi2);
	else if (lo1 != lo2)
		n = 64 + (unsigned int)__builtin_clzll(lo1 ^ lo2);
	else
		n = 128;
	return n < limit ? n : limit;
}

/* Puts n on peer's list (n->peer becomes peer), or takes it off (peer NULL): O(1) either way. */
static void allowedips_node_set_peer(struct allowedips_node *n, struct peer *peer)
{
	struct allowedips_list *l;

	if (n->peer == peer)
		return;
	if (n->peer) {
		*n->peer_pprev = n->peer_next;
		if (n->peer_next)
			n->peer_next->peer_pprev = n->peer_pprev;
		n->peer->allowedips.count--;
		n->peer_next = NULL;
		n->peer_pprev = NULL;
	}
	n->peer = peer;
	if (!peer)
		return;
	l = &peer->allowedips;
	n->peer_next = l->first;
	if (l->first)
		l->first->peer_pprev = &n->peer_next;
	l->first = n;
	n->peer_pprev = &l->first;
	l->count++;
}

static struct allowedips_node *allowedips_node_new(uint64_t hi, uint64_t lo, uint8_t cidr, uint8_t bits,
						   struct peer *peer)
{
	struct allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->hi = hi & allowedips_mask_hi(cidr);
	n->lo = lo & allowedips_mask_lo(cidr);
	n->cidr = cidr;
	n->bits = bits;
	allowedips_node_set_peer(n, peer);
	return n;
}

/* Takes n off its peer's list and frees it. */
static void allowedips_node_free(struct allowedips_node *n)
{
	allowedips_node_set_peer(n, NULL);
	free(n);
}

static struct allowedips_node **allowedips_root(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : family == AF_INET6 ? &t->root6 : NULL;
}

void allowedips_init(struct allowedips *t)
{
	t->root4 = NULL;
	t->root6 = NULL;
}

static void allowedips_free_node(struct allowedips_node *n)
{
	if (!n)
		return;
	allowedips_free_node(n->child[0]);
	allowedips_free_node(n->child[1]);
	allowedips_node_free(n);
}

void allowedips_free(struct allowedips *t)
{
	allowedips_free_node(t->root4);
	allowedips_free_node(t->root6);
	allowedips_init(t);
}

int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer)
{
	struct allowedips_node **link = allowedips_root(t, family);
	struct allowedips_node *node, *leaf, *fork;
	struct allowedips_key k;
	unsigned int common;

	if (!link || !addr || !peer || allowedips_key_load(&k, family, addr) || cidr > k.bits)
		return -EINVAL;
	k.hi &= allowedips_mask_hi(cidr);
	k.lo &= allowedips_mask_lo(cidr);

	/* Descend while the node's prefix is a prefix of ours. */
	while ((node = *link)) {
		unsigned int limit = node->cidr < cidr ? node->cidr : cidr;

		common = allowedips_common_bits(node->hi, node->lo, k.hi, k.lo, limit);
		if (common < node->cidr)
			break;
		if (node->cidr == cidr) {
			/* an existing prefix moves to the new peer (or a branching node gets one) */
			allowedips_node_set_peer(node, peer);
			return 0;
		}
		link = &node->child[allowedips_bit(k.hi, k.lo, node->cidr)];
	}

	leaf = allowedips_node_new(k.hi, k.lo, cidr, k.bits, peer);
	if (!leaf)
		return -ENOMEM;
	if (!node) {
		*link = leaf;
		return 0;
	}
	/* node diverges from us after `common` bits, common <= cidr. */
	if (common == cidr) {
		leaf->child[allowedips_bit(node->hi, node->lo, cidr)] = node;
		*link = leaf;
		return 0;
	}
	fork = allowedips_node_new(k.hi, k.lo, (uint8_t)common, k.bits, NULL);
	if (!fork) {
		allowedips_node_free(leaf);
		return -ENOMEM;
	}
	fork->child[allowedips_bit(k.hi, k.lo, common)] = leaf;
	fork->child[allowedips_bit(node->hi, node->lo, common)] = node;
	*link = fork;
	return 0;
}

/* Restores the invariant at *link after its node may have lost its peer or a child. */
static void allowedips_compact(struct allowedips_node **link)
{
	struct allowedips_node *n = *link;

	if (!n || n->peer || (n->child[0] && n->child[1]))
		return;
	*link = n->child[0] ? n->child[0] : n->child[1];
	allowedips_node_free(n);
}

int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer)
{
	struct allowedips_node **path[ALLOWEDIPS_MAX_DEPTH];
	struct allowedips_node **link = allowedips_root(t, family);
	struct allowedips_node *node;
	struct allowedips_key k;
	int depth = 0;

	if (!link || !addr || allowedips_key_load(&k, family, addr) || cidr > k.bits)
		return -EINVAL;
	k.hi &= allowedips_mask_hi(cidr);
	k.lo &= allowedips_mask_lo(cidr);

	while ((node = *link) && node->cidr <= cidr && allowedips_node_matches(node, k.hi, k.lo)) {
		if (node->cidr == cidr)
			break;
		path[depth++] = link;
		link = &node->child[allowedips_bit(k.hi, k.lo, node->cidr)];
	}
	if (!node || node->cidr != cidr || !allowedips_node_matches(node, k.hi, k.lo) ||
	    !peer || node->peer != peer)
		return -ENOENT;

	allowedips_node_set_peer(node, NULL);
	allowedips_compact(link);
	/* Removing a leaf can leave its parent a branching node with one child. */
	if (depth)
		allowedips_compact(path[depth - 1]);
	return 0;
}

static int allowedips_key_store(const struct allowedips_node *n, int *family, uint8_t addr[16])
{
	allowedips_store_be64(addr, n->hi);
	allowedips_store_be64(addr + 8, n->lo);
	*family = n->bits == 32 ? AF_INET : AF_INET6;
	return 0;
}

/* Only the peer's own nodes, from its list: the cost is its prefixes, not the table. */
void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer)
{
	struct allowedips_node *n;
	uint8_t addr[16];
	int family;

	if (!peer)
		return;
	while ((n = peer->allowedips.first)) {
		allowedips_key_store(n, &family, addr);
		if (allowedips_remove(t, family, addr, n->cidr, peer)) {
			/* Not reachable in t: never loop on it, only take it off the list. */
			allowedips_node_set_peer(n, NULL);
		}
	}
}

struct peer *allowedips_lookup_exact(const struct allowedips *t, int family, const void *addr, uint8_t cidr)
{
	const struct allowedips_node *n;
	struct allowedips_key k;

	if (!addr || allowedips_key_load(&k, family, addr) || cidr > k.bits)
		return NULL;
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && n->cidr <= cidr && allowedips_node_matches(n, k.hi, k.lo)) {
		if (n->cidr == cidr)
			return n->peer;
		n = n->child[allowedips_bit(k.hi, k.lo, n->cidr)];
	}
	return NULL;
}

int allowedips_walk_list(const struct peer *peer,
			 int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx)
{
	uint8_t addr[16];
	int family, ret;

	for (const struct allowedips_node *n = peer->allowedips.first; n; n = n->peer_next) {
		allowedips_key_store(n, &family, addr);
		ret = fn(ctx, family, addr, n->cidr);
		if (ret)
			return ret;
	}
	return 0;
}

struct peer *allowedips_lookup(const struct allowedips *t, int family, const void *addr)
{
	const struct allowedips_node *n;
	struct peer *best = NULL;
	struct allowedips_key k;

	if (!addr || allowedips_key_load(&k, family, addr))
		return NULL;
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && allowedips_node_matches(n, k.hi, k.lo)) {
		if (n->peer)
			best = n->peer;
		if (n->cidr >= k.bits)
			break;
		n = n->child[allowedips_bit(k.hi, k.lo, n->cidr)];
	}
	return best;
}

struct allowedips_walk {
	const struct peer *peer;
	int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
	void *ctx;
	int family;
};

/* Pre-order: shorter prefixes first, then the 0 branch: a stable, sorted-looking order. */
static int allowedips_walk_node(const struct allowedips_node *n, const struct allowedips_walk *w)
{
	uint8_t addr[16];
	int ret;

	if (!n)
		return 0;
	if (n->peer == w->peer) {
		allowedips_store_be64(addr, n->hi);
		allowedips_store_be64(addr + 8, n->lo);
		ret = w->fn(w->ctx, w->family, addr, n->cidr);
		if (ret)
			return ret;
	}
	ret = allowedips_walk_node(n->child[0], w);
	return ret ? ret : allowedips_walk_node(n->child[1], w);
}

int allowedips_walk_by_peer(const struct allowedips *t, const struct peer *peer,
			    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx)
{
	struct allowedips_walk w = { .peer = peer, .fn = fn, .ctx = ctx, .family = AF_INET };
	int ret;

	if (!peer || !fn)
		return 0;
	ret = allowedips_walk_node(t->root4, &w);
	if (ret)
		return ret;
	w.family = AF_INET6;
	return allowedips_walk_node(t->root6, &w);
}

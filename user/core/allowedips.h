/* SPDX-License-Identifier: GPL-2.0 */
/* Cryptokey routing table: per-family binary tries mapping prefixes to peers. */
#ifndef XWG_ALLOWEDIPS_H
#define XWG_ALLOWEDIPS_H

#include <stdint.h>
#include <stddef.h>

struct peer;
struct allowedips_node;

struct allowedips {
	struct allowedips_node *root4;
	struct allowedips_node *root6;
};

/*
 * One peer's prefixes, linked through the trie's own nodes (the kernel's peer->allowedips_list),
 * so that what belongs to one peer is found without walking the table. Lives in struct peer.
 */
struct allowedips_list {
	struct allowedips_node *first;
	size_t count;
};

void allowedips_init(struct allowedips *t);
void allowedips_free(struct allowedips *t);
/* Inserts family/addr/cidr (stored masked) for peer; an existing prefix moves to peer. 0 or -errno. */
int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer);
/* Removes the prefix only if it belongs to peer: 0, or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer);
void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer);
/* Longest-prefix match; addr is 4 or 16 bytes in network order. NULL when nothing matches. */
struct peer *allowedips_lookup(const struct allowedips *t, int family, const void *addr);
/* The peer owning exactly this prefix (not a longest match); NULL when no node holds it. */
struct peer *allowedips_lookup_exact(const struct allowedips *t, int family, const void *addr, uint8_t cidr);
/* Calls fn for each prefix on peer's own list (unordered, no table walk); stops on non-zero. */
int allowedips_walk_list(const struct peer *peer,
			 int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx);
/* Calls fn for each prefix of peer in table order (IPv4 first); stops and returns fn's value if non-zero. */
int allowedips_walk_by_peer(const struct allowedips *t, const struct peer *peer,
			    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx);

#endif

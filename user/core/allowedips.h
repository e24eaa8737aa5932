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

void allowedips_init(struct allowedips *t);
void allowedips_free(struct allowedips *t);
/* Inserts family/addr/cidr (stored masked) for peer; an existing prefix moves to peer. 0 or -errno. */
int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer);
/* Removes the prefix only if it belongs to peer: 0, or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, struct peer *peer);
void allowedips_remove_by_peer(struct allowedips *t, struct peer *peer);
/* Longest-prefix match; addr is 4 or 16 bytes in network order. NULL when nothing matches. */
struct peer *allowedips_lookup(const struct allowedips *t, int family, const void *addr);
/* Calls fn for each prefix of peer (IPv4 first); stops and returns fn's value if non-zero. */
int allowedips_walk_by_peer(const struct allowedips *t, const struct peer *peer,
			    int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr), void *ctx);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Link, address and route set-up, and route lookups, through libnl-route-3. */
#ifndef XWG_NETLINK_H
#define XWG_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include "prefix.h"

struct sockaddr;
struct nl_sock;

/* All return 0 or -errno (with libnl errors mapped to errno). */
/* A connected NETLINK_ROUTE socket (free with nl_socket_free), and libnl's error codes as -errno. */
int nl_open(struct nl_sock **out);
int nl_errno(int nlerr);
int nl_link_set_mtu(int ifindex, int mtu);
int nl_link_set_up(int ifindex, bool up);
int nl_addr_add(int ifindex, const struct xwg_prefix *addr);	/* addr keeps host bits */
/* Route prefix -> ifindex in 'table' (0 = main). An existing identical route is not an error. */
int nl_route_add(int ifindex, const struct xwg_prefix *dst, uint32_t table);
/* The same, taking over whatever route to dst the table has (NLM_F_REPLACE). */
int nl_route_replace(int ifindex, const struct xwg_prefix *dst, uint32_t table);
int nl_route_del(int ifindex, const struct xwg_prefix *dst, uint32_t table);
int nl_link_set_gso_max_segs(int ifindex, uint32_t segs);
int nl_link_delete(int ifindex);

/* What the kernel's route lookup says about one destination. */
#define NL_ROUTE_OIFS 8
struct nl_route_info {
	uint8_t type;			/* RTN_UNICAST, RTN_LOCAL, ... */
	uint32_t hoplimit;		/* the route's RTAX_HOPLIMIT metric; 0 when it sets none */
	uint32_t mtu;			/* its RTAX_MTU metric; 0 when it sets none */
	unsigned int n_oifs;
	int oifs[NL_ROUTE_OIFS];	/* the output interface, or a multipath route's, in order */
	uint8_t dst_len;		/* nl_route_match: the matching route's prefix length */
	uint32_t table;			/* nl_route_match: the table it is in */
	bool has_prefsrc;
	uint8_t prefsrc[16];		/* the source address the kernel would pick (4 bytes for IPv4) */
};

/*
 * The route a packet to dst would take (RTM_GETROUTE): from src (NULL: any; 4 or 16 bytes as dst's
 * family) with fwmark mark (0: none). A netlink round trip: not for the packet path.
 */
int nl_route_get(const struct sockaddr *dst, const void *src, uint32_t mark, struct nl_route_info *out);
/* The same, leaving by interface oif (SO_BINDTODEVICE's view): out->prefsrc is the source it would use. */
int nl_route_get_via(const struct sockaddr *dst, int oif, uint32_t mark, struct nl_route_info *out);
/* The table entry a packet to dst matches (RTM_F_FIB_MATCH): its prefix length and table. */
int nl_route_match(const struct sockaddr *dst, uint32_t mark, struct nl_route_info *out);

/* Every unicast route's output interfaces (each multipath hop) to fn; defaults_only: main table's defaults. */
typedef void (*nl_oif_fn)(void *ctx, int ifindex);
int nl_route_oifs(bool defaults_only, nl_oif_fn fn, void *ctx);
/* The main table's unicast default routes, each hop: family, output interface and the route's metric. */
typedef void (*nl_default_fn)(void *ctx, int family, int ifindex, uint32_t metric);
int nl_route_defaults(nl_default_fn fn, void *ctx);

#endif

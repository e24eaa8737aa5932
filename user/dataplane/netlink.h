/* SPDX-License-Identifier: GPL-2.0 */
/* Link, address and route set-up through libnl-route-3. */
#ifndef XWG_NETLINK_H
#define XWG_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include "prefix.h"

/* All return 0 or -errno (with libnl errors mapped to errno). */
int nl_link_set_mtu(int ifindex, int mtu);
int nl_link_set_up(int ifindex, bool up);
int nl_addr_add(int ifindex, const struct xwg_prefix *addr);	/* addr keeps host bits */
/* Route prefix -> ifindex in 'table' (0 = main). An existing identical route is not an error. */
int nl_route_add(int ifindex, const struct xwg_prefix *dst, uint32_t table);
int nl_route_del(int ifindex, const struct xwg_prefix *dst, uint32_t table);
int nl_link_set_gso_max_segs(int ifindex, uint32_t segs);
int nl_link_delete(int ifindex);

#endif

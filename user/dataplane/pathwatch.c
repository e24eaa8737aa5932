/* SPDX-License-Identifier: GPL-2.0 */
/* Link, address and route events (rtnetlink multicast) turned into path up/down verdicts for path.c. */
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <string.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include "device.h"
#include "netlink.h"
#include "pathwatch.h"
#include "uplink.h"

/* The messages themselves do not matter: any change means "look again", which is cheap. */
static int pathwatch_skip(struct nl_msg *msg, void *arg)
{
	return NL_OK;
}

int pathwatch_open(struct xwg_device *dev)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, pathwatch_skip, NULL);
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret >= 0)
		ret = nl_socket_add_memberships(sk, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR,
						RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, 0);
	if (ret >= 0)
		ret = nl_socket_set_nonblocking(sk);
	if (ret < 0) {
		nl_socket_free(sk);
		return nl_errno(ret);
	}
	dev->pathwatch = sk;
	return device_watch(dev, nl_socket_get_fd(sk));
}

void pathwatch_close(struct xwg_device *dev)
{
	if (!dev->pathwatch)
		return;
	nl_socket_free(dev->pathwatch);
	dev->pathwatch = NULL;
}

int pathwatch_fd(const struct xwg_device *dev)
{
	return dev->pathwatch ? nl_socket_get_fd(dev->pathwatch) : -1;
}

/* Our address of the path still configured, on an interface that is up with a carrier. */
static bool pathwatch_local_up(const struct ifaddrs *ifs, const struct path *p)
{
	int family = p->remote.sa.sa_family;

	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *a = i->ifa_addr;
		const void *addr;

		if (!a || a->sa_family != family)
			continue;
		addr = family == AF_INET ? (const void *)&((const struct sockaddr_in *)a)->sin_addr
					 : (const void *)&((const struct sockaddr_in6 *)a)->sin6_addr;
		if (!memcmp(addr, p->local, family == AF_INET ? 4 : 16))
			return (i->ifa_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
	}
	return false;
}

/*
 * A path is up while a unicast route reaches its remote end and, once we know the local address
 * it uses, that address is still ours on a running link. The route's interface is not compared
 * with the one packets arrived on: routing may be asymmetric. A path over an uplink needs that
 * uplink's default route (a lookup bound to the interface would always succeed: on-link guess).
 */
static bool pathwatch_path_up(struct xwg_device *dev, const struct ifaddrs *ifs, const struct uplinks *ul,
			      const struct path *p)
{
	struct nl_route_info route;

	if (p->uplink)
		return uplink_has(ul, p->remote.sa.sa_family, p->ifindex) && pathwatch_local_up(ifs, p);
	if (nl_route_get(&p->remote.sa, NULL, dev->fwmark, &route) || route.type != RTN_UNICAST)
		return false;
	return !p->has_local || pathwatch_local_up(ifs, p);
}

/* Uplinks first (they may add paths), then every multi-path peer's paths up or down. */
static void pathwatch_check(struct xwg_device *dev)
{
	struct uplinks ul = { 0 };
	struct ifaddrs *ifs;

	dev->paths_dirty = false;
	if (!dev->peers)
		return;
	/*
	 * No answer is not "no uplinks": leave every path as it is until the next event. (A dump
	 * that found some but tripped over one odd route is still used.)
	 */
	if (uplink_list(dev, &ul) < 0 && !ul.n)
		return;
	for (struct peer *peer = dev->peers; peer; peer = peer->next_peer)
		if (peer->paths.n)
			uplink_expand(dev, peer, &ul);
	if (getifaddrs(&ifs) < 0)
		return;
	for (struct peer *peer = dev->peers; peer; peer = peer->next_peer) {
		if (!path_multi(&peer->paths))
			continue;
		for (unsigned int i = 0; i < peer->paths.n; i++)
			path_table_underlay(&peer->paths, i, pathwatch_path_up(dev, ifs, &ul, &peer->paths.p[i]),
					    now_ns());
	}
	freeifaddrs(ifs);
}

void pathwatch_tick(struct xwg_device *dev)
{
	if (dev->paths_dirty && dev->pathwatch)
		pathwatch_check(dev);
}

/* "REMOTE", or "REMOTE from LOCAL" once the local end is known ("%IFNAME" for an uplink's). */
static void pathwatch_format(char *buf, size_t len, const struct path *p)
{
	char ip[INET6_ADDRSTRLEN] = "?", local[INET6_ADDRSTRLEN] = "?", name[IF_NAMESIZE] = "?";
	const union path_addr *a = &p->remote;
	bool v4 = a->sa.sa_family == AF_INET;

	inet_ntop(a->sa.sa_family, v4 ? (const void *)&a->in4.sin_addr : (const void *)&a->in6.sin6_addr, ip,
		  sizeof(ip));
	if (p->has_local)
		inet_ntop(a->sa.sa_family, p->local, local, sizeof(local));
	if (p->uplink)
		if_indextoname((unsigned int)p->ifindex, name);
	snprintf(buf, len, v4 ? "%s:%u%s%s%s%s" : "[%s]:%u%s%s%s%s", ip, ntohs(v4 ? a->in4.sin_port : a->in6.sin6_port),
		 p->has_local ? " from " : "", p->has_local ? local : "", p->uplink ? "%" : "", p->uplink ? name : "");
}

/* One line per switch on the agent's stderr (the log of `xwg up`), for whoever wonders why traffic moved. */
void hooks_path_switched(struct peer *peer, unsigned int from)
{
	const struct peer_paths *pp = &peer->paths;
	const struct path *old = &pp->p[from];
	char a[128], b[128];

	pathwatch_format(a, sizeof(a), old);
	pathwatch_format(b, sizeof(b), &pp->p[pp->active]);
	fprintf(stderr, "xwg: %s: peer %" PRIu64 ": active path %s -> %s (old one %s)\n", peer->dev->ifname,
		peer->internal_id, a, b, old->down ? "down" : path_state_name((enum path_state)old->state));
}

void pathwatch_read(struct xwg_device *dev)
{
	/* Drain: every queued message goes through pathwatch_skip; ENOBUFS (overrun) counts as a change. */
	while (nl_recvmsgs_default(dev->pathwatch) >= 0)
		;
	pathwatch_check(dev);
}

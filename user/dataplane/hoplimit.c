/* SPDX-License-Identifier: GPL-2.0 */
/* The outer TTL / hop limit the kernel gives a UDP packet to an endpoint, for the BPF transmit path to copy. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hoplimit.h"
#include "netlink.h"

/*
 * As ip4_dst_hoplimit() / ip6_dst_hoplimit(): the RTAX_HOPLIMIT metric of the route the kernel
 * picks for the endpoint (RTM_GETROUTE, with the device fwmark and the sticky source the agent's
 * socket would use), else net.ipv4.ip_default_ttl, or for IPv6 the output device's
 * net.ipv6.conf.<dev>.hop_limit (the netns default when the device has none).
 */

/* An integer sysctl under /proc/sys, or 0 if it cannot be read. */
static unsigned long hoplimit_sysctl(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

uint8_t hoplimit_for_endpoint(const struct endpoint *ep, uint32_t fwmark)
{
	int family = ep->addr.sa.sa_family, ret;
	const void *src = family == AF_INET ? (const void *)&ep->src4 : (const void *)&ep->src6;
	char path[96], ifname[IF_NAMESIZE];
	struct nl_route_info route;
	unsigned long value;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	ret = nl_route_get(&ep->addr.sa, ep->src_valid ? src : NULL, fwmark, &route);
	/* A sticky source that went away makes the lookup fail: the socket then lets routing choose. */
	if (ret < 0 && ep->src_valid)
		ret = nl_route_get(&ep->addr.sa, NULL, fwmark, &route);
	if (ret == 0 && route.hoplimit)
		value = route.hoplimit;
	else if (family == AF_INET)
		value = hoplimit_sysctl("/proc/sys/net/ipv4/ip_default_ttl");
	else if (ret == 0 && route.n_oifs && route.oifs[0] > 0 &&
		 if_indextoname((unsigned int)route.oifs[0], ifname) &&
		 snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/hop_limit", ifname) < (int)sizeof(path))
		value = hoplimit_sysctl(path);
	else
		value = hoplimit_sysctl("/proc/sys/net/ipv6/conf/all/hop_limit");
	return value <= 255 ? (uint8_t)value : 0;
}

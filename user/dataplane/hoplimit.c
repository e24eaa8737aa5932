/* SPDX-License-Identifier: GPL-2.0 */
/* The outer TTL / hop limit the kernel gives a UDP packet to an endpoint, for the BPF transmit path to copy. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include "hoplimit.h"

/*
 * As ip4_dst_hoplimit() / ip6_dst_hoplimit(): the RTAX_HOPLIMIT metric of the route the kernel
 * picks for the endpoint (RTM_GETROUTE, with the device fwmark and the sticky source the agent's
 * socket would use), else net.ipv4.ip_default_ttl, or for IPv6 the output device's
 * net.ipv6.conf.<dev>.hop_limit (the netns default when the device has none).
 */

struct hoplimit_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[3 * RTA_SPACE(16)];
};

static void hoplimit_put(struct hoplimit_req *req, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* The route's metric (0 if it sets none) and output device; 0 or -errno. */
static int hoplimit_route(const struct endpoint *ep, uint32_t fwmark, bool with_src, uint32_t *metric,
			  int *oif)
{
	struct hoplimit_req req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
	};
	union {
		struct nlmsghdr nh;
		char buf[4096];
	} reply;
	bool v4 = ep->addr.sa.sa_family == AF_INET;
	struct rtattr *rta;
	struct nlmsghdr *nh;
	ssize_t n;
	int fd, len;

	req.rt.rtm_family = (unsigned char)ep->addr.sa.sa_family;
	req.rt.rtm_dst_len = v4 ? 32 : 128;
	if (v4)
		hoplimit_put(&req, RTA_DST, &ep->addr.in4.sin_addr, 4);
	else
		hoplimit_put(&req, RTA_DST, &ep->addr.in6.sin6_addr, 16);
	if (with_src) {
		req.rt.rtm_src_len = v4 ? 32 : 128;
		hoplimit_put(&req, RTA_SRC, v4 ? (const void *)&ep->src4 : (const void *)&ep->src6, v4 ? 4 : 16);
	}
	if (fwmark)
		hoplimit_put(&req, RTA_MARK, &fwmark, sizeof(fwmark));

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0 || (n = recv(fd, &reply, sizeof(reply), 0)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	nh = &reply.nh;
	if (!NLMSG_OK(nh, (size_t)n))
		return -EIO;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		return e->error ? e->error : -EIO;
	}
	if (nh->nlmsg_type != RTM_NEWROUTE)
		return -EIO;
	*metric = 0;
	*oif = 0;
	len = (int)RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_OIF && RTA_PAYLOAD(rta) >= 4) {
			memcpy(oif, RTA_DATA(rta), 4);
		} else if (rta->rta_type == RTA_METRICS) {
			int mlen = (int)RTA_PAYLOAD(rta);

			for (struct rtattr *m = RTA_DATA(rta); RTA_OK(m, mlen); m = RTA_NEXT(m, mlen))
				if (m->rta_type == RTAX_HOPLIMIT && RTA_PAYLOAD(m) >= 4)
					memcpy(metric, RTA_DATA(m), 4);
		}
	}
	return 0;
}

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
	int family = ep->addr.sa.sa_family, oif = 0, ret;
	char path[96], ifname[IF_NAMESIZE];
	unsigned long value;
	uint32_t metric = 0;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	ret = hoplimit_route(ep, fwmark, ep->src_valid, &metric, &oif);
	/* A sticky source that went away makes the lookup fail: the socket then lets routing choose. */
	if (ret < 0 && ep->src_valid)
		ret = hoplimit_route(ep, fwmark, false, &metric, &oif);
	if (ret == 0 && metric)
		value = metric;
	else if (family == AF_INET)
		value = hoplimit_sysctl("/proc/sys/net/ipv4/ip_default_ttl");
	else if (ret == 0 && oif && if_indextoname((unsigned int)oif, ifname) &&
		 snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/hop_limit", ifname) < (int)sizeof(path))
		value = hoplimit_sysctl(path);
	else
		value = hoplimit_sysctl("/proc/sys/net/ipv6/conf/all/hop_limit");
	return value <= 255 ? (uint8_t)value : 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Which interfaces carry the underlay: the routes to the peers' endpoints and the default routes, asked of rtnetlink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include "offload_internal.h"

struct offload_nlreq {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[64];
};

static int offload_nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void offload_nl_attr(struct offload_nlreq *req, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)req + NLMSG_ALIGN(req->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = NLMSG_ALIGN(req->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Output interfaces of one route message (RTA_OIF or each RTA_MULTIPATH hop) handed to add(). */
static void offload_nl_route_oifs(struct nlmsghdr *nh, bool defaults_only, offload_oif_fn add, void *ctx)
{
	struct rtmsg *rt = NLMSG_DATA(nh);
	int len = (int)RTM_PAYLOAD(nh);
	struct rtattr *a;

	if (rt->rtm_type != RTN_UNICAST || (defaults_only && rt->rtm_dst_len))
		return;
	if (defaults_only && rt->rtm_table != RT_TABLE_MAIN)
		return;
	for (a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF) {
			add(ctx, *(int *)RTA_DATA(a));
		} else if (a->rta_type == RTA_MULTIPATH) {
			struct rtnexthop *nh1 = RTA_DATA(a);
			int left = (int)RTA_PAYLOAD(a);

			while (left >= (int)sizeof(*nh1) && nh1->rtnh_len >= sizeof(*nh1) && nh1->rtnh_len <= left) {
				add(ctx, nh1->rtnh_ifindex);
				left -= RTNH_ALIGN(nh1->rtnh_len);
				nh1 = RTNH_NEXT(nh1);
			}
		}
	}
}

/* Sends req and hands every route in the answer to offload_nl_route_oifs. */
static int offload_nl_ask(struct offload_nlreq *req, bool defaults_only, offload_oif_fn add, void *ctx)
{
	static char buf[32768];
	int fd = offload_nl_open(), ret = 0;
	bool done = false;

	if (fd < 0)
		return fd;
	if (send(fd, req, req->nh.nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (n < 0) {
			ret = -errno;
			break;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
			} else if (nh->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				done = true;
			} else if (nh->nlmsg_type == RTM_NEWROUTE) {
				offload_nl_route_oifs(nh, defaults_only, add, ctx);
				if (!(nh->nlmsg_flags & NLM_F_MULTI))
					done = true;
			}
		}
	}
out:
	close(fd);
	return ret;
}

/* The interface the kernel routes dst through (with the device's fwmark, as its packets get). */
int offload_route_oifs_to(const struct sockaddr *dst, uint32_t fwmark, offload_oif_fn add, void *ctx)
{
	struct offload_nlreq req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST },
		.rt = { .rtm_family = (unsigned char)dst->sa_family },
	};

	if (dst->sa_family == AF_INET) {
		req.rt.rtm_dst_len = 32;
		offload_nl_attr(&req, RTA_DST, &((const struct sockaddr_in *)dst)->sin_addr, 4);
	} else if (dst->sa_family == AF_INET6) {
		req.rt.rtm_dst_len = 128;
		offload_nl_attr(&req, RTA_DST, &((const struct sockaddr_in6 *)dst)->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	if (fwmark)
		offload_nl_attr(&req, RTA_MARK, &fwmark, sizeof(fwmark));
	return offload_nl_ask(&req, false, add, ctx);
}

/* The interfaces of the main table's default routes (both families); with all, of every route. */
int offload_route_oifs_default(bool all, offload_oif_fn add, void *ctx)
{
	struct offload_nlreq req = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.rt = { .rtm_family = AF_UNSPEC },
	};

	return offload_nl_ask(&req, !all, add, ctx);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The tunnel's MTU, state, addresses and routes, and route lookups, through libnl-route-3; errors as -errno. */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "netlink.h"

/* libnl folds kernel errnos into its own codes; unfold the ones a caller can act on. */
int nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:			return 0;
	case NLE_INTR:		return -EINTR;
	case NLE_BAD_SOCK:	return -EBADF;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_EXIST:		return -EEXIST;
	case NLE_INVAL:		return -EINVAL;
	case NLE_RANGE:		return -ERANGE;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_NOADDR:	return -EADDRNOTAVAIL;
	case NLE_BUSY:		return -EBUSY;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	case NLE_NOACCESS:	return -EACCES;
	case NLE_PERM:		return -EPERM;
	case NLE_NODEV:		return -ENODEV;
	default:		return -EIO;
	}
}

int nl_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_socket_free(sk);
		return nl_errno(ret);
	}
	*out = sk;
	return 0;
}

/* Applies one change to link ifindex; fill decides what the change is. */
static int nl_link_change(int ifindex, void (*fill)(struct rtnl_link *, int), int arg)
{
	struct rtnl_link *orig, *change;
	struct nl_sock *sk;
	int ret;

	if (ifindex <= 0)
		return -EINVAL;
	ret = nl_open(&sk);
	if (ret)
		return ret;
	orig = rtnl_link_alloc();
	change = rtnl_link_alloc();
	if (!orig || !change) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_link_set_ifindex(orig, ifindex);
	fill(change, arg);
	ret = nl_errno(rtnl_link_change(sk, orig, change, 0));
out:
	rtnl_link_put(change);
	rtnl_link_put(orig);
	nl_socket_free(sk);
	return ret;
}

static void nl_fill_mtu(struct rtnl_link *link, int mtu)
{
	rtnl_link_set_mtu(link, (unsigned int)mtu);
}

static void nl_fill_up(struct rtnl_link *link, int up)
{
	if (up)
		rtnl_link_set_flags(link, IFF_UP);
	else
		rtnl_link_unset_flags(link, IFF_UP);
}

int nl_link_set_mtu(int ifindex, int mtu)
{
	if (mtu <= 0)
		return -EINVAL;
	return nl_link_change(ifindex, nl_fill_mtu, mtu);
}

int nl_link_set_up(int ifindex, bool up)
{
	return nl_link_change(ifindex, nl_fill_up, up);
}

static int nl_prefix_addr(const struct xwg_prefix *p, struct nl_addr **out)
{
	int len = p->family == AF_INET ? 4 : 16;
	struct nl_addr *a;

	if ((p->family != AF_INET && p->family != AF_INET6) || p->cidr > len * 8)
		return -EINVAL;
	a = nl_addr_build(p->family, p->addr, (size_t)len);
	if (!a)
		return -ENOMEM;
	nl_addr_set_prefixlen(a, p->cidr);
	*out = a;
	return 0;
}

int nl_addr_add(int ifindex, const struct xwg_prefix *prefix)
{
	struct rtnl_addr *addr;
	struct nl_addr *local;
	struct nl_sock *sk;
	int ret;

	if (ifindex <= 0)
		return -EINVAL;
	ret = nl_prefix_addr(prefix, &local);
	if (ret)
		return ret;
	ret = nl_open(&sk);
	if (ret)
		goto out_local;
	addr = rtnl_addr_alloc();
	if (!addr) {
		ret = -ENOMEM;
		goto out_sock;
	}
	rtnl_addr_set_ifindex(addr, ifindex);
	ret = nl_errno(rtnl_addr_set_local(addr, local));
	if (ret)
		goto out_addr;
	/* Skipping duplicate address detection makes an IPv6 address usable at once, not seconds later. */
	if (prefix->family == AF_INET6)
		rtnl_addr_set_flags(addr, IFA_F_NODAD);
	ret = nl_errno(rtnl_addr_add(sk, addr, 0));
out_addr:
	rtnl_addr_put(addr);
out_sock:
	nl_socket_free(sk);
out_local:
	nl_addr_put(local);
	return ret;
}

/* Builds "dst dev ifindex table T" as both add and delete want it. */
static int nl_route_build(int ifindex, const struct xwg_prefix *dst, uint32_t table, struct rtnl_route **out)
{
	struct rtnl_nexthop *nh;
	struct rtnl_route *route;
	struct nl_addr *a;
	int ret;

	if (ifindex <= 0)
		return -EINVAL;
	ret = nl_prefix_addr(dst, &a);
	if (ret)
		return ret;
	route = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	if (!route || !nh) {
		ret = -ENOMEM;
		goto err;
	}
	rtnl_route_set_family(route, (uint8_t)dst->family);
	rtnl_route_set_table(route, table ? table : RT_TABLE_MAIN);
	rtnl_route_set_type(route, RTN_UNICAST);
	/* No gateway: the peer is reached through the device itself, like "ip route add ... dev wg0". */
	rtnl_route_set_scope(route, RT_SCOPE_LINK);
	ret = nl_errno(rtnl_route_set_dst(route, a));
	if (ret)
		goto err;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(route, nh);
	nl_addr_put(a);
	*out = route;
	return 0;

err:
	if (nh)
		rtnl_route_nh_free(nh);
	if (route)
		rtnl_route_put(route);
	nl_addr_put(a);
	return ret;
}

/* Same prefix (dumped default routes carry no address bytes, so compare prefix lengths first). */
static bool nl_same_prefix(struct nl_addr *a, struct nl_addr *b)
{
	if (nl_addr_get_family(a) != nl_addr_get_family(b) ||
	    nl_addr_get_prefixlen(a) != nl_addr_get_prefixlen(b))
		return false;
	if (nl_addr_get_prefixlen(a) == 0)
		return true;
	return nl_addr_get_len(a) == nl_addr_get_len(b) &&
	       !memcmp(nl_addr_get_binary_addr(a), nl_addr_get_binary_addr(b), nl_addr_get_len(a));
}

/* After EEXIST: is the route in the way ours (same table, prefix, one nexthop on ifindex)? */
static bool nl_route_is_ours(struct nl_sock *sk, struct rtnl_route *want, int ifindex)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	bool found = false;

	if (rtnl_route_alloc_cache(sk, rtnl_route_get_family(want), 0, &cache) < 0)
		return false;
	for (obj = nl_cache_get_first(cache); obj && !found; obj = nl_cache_get_next(obj)) {
		struct rtnl_route *r = (struct rtnl_route *)obj;

		found = rtnl_route_get_table(r) == rtnl_route_get_table(want) &&
			rtnl_route_get_type(r) == RTN_UNICAST &&
			nl_same_prefix(rtnl_route_get_dst(r), rtnl_route_get_dst(want)) &&
			rtnl_route_get_nnexthops(r) == 1 &&
			rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0)) == ifindex &&
			!rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(r, 0));
	}
	nl_cache_free(cache);
	return found;
}

/* Adds (EXCL) or deletes the route "dst dev ifindex table T", or replaces one (NLM_F_REPLACE). */
static int nl_route_change(int ifindex, const struct xwg_prefix *dst, uint32_t table, bool add, bool replace)
{
	struct rtnl_route *route;
	struct nl_sock *sk;
	int ret;

	ret = nl_route_build(ifindex, dst, table, &route);
	if (ret)
		return ret;
	/* Whoever added it (wg-quick uses "proto boot", we "proto static"), it goes. */
	if (!add)
		rtnl_route_set_protocol(route, RTPROT_UNSPEC);
	ret = nl_open(&sk);
	if (ret)
		goto out_route;
	if (replace) {
		ret = nl_errno(rtnl_route_add(sk, route, NLM_F_REPLACE));
	} else if (add) {
		/* EXCL, or IPv6 would quietly turn a clash with another device's route into a multipath route. */
		ret = nl_errno(rtnl_route_add(sk, route, NLM_F_EXCL));
		if (ret == -EEXIST && nl_route_is_ours(sk, route, ifindex))
			ret = 0;
	} else {
		ret = nl_errno(rtnl_route_delete(sk, route, 0));
	}
	nl_socket_free(sk);
out_route:
	rtnl_route_put(route);
	return ret;
}

int nl_route_add(int ifindex, const struct xwg_prefix *dst, uint32_t table)
{
	return nl_route_change(ifindex, dst, table, true, false);
}

int nl_route_replace(int ifindex, const struct xwg_prefix *dst, uint32_t table)
{
	return nl_route_change(ifindex, dst, table, true, true);
}

int nl_route_del(int ifindex, const struct xwg_prefix *dst, uint32_t table)
{
	return nl_route_change(ifindex, dst, table, false, false);
}

/*
 * Caps the GSO size TCP may build for this link. libnl has no setter for IFLA_GSO_MAX_SEGS, so
 * this is a raw RTM_NEWLINK. With one segment per skb the BPF transmit path sees single packets.
 */
int nl_link_set_gso_max_segs(int ifindex, uint32_t segs)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct nl_sock *sk;
	struct nl_msg *msg;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_ACK);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
	if (!ret)
		ret = nla_put_u32(msg, IFLA_GSO_MAX_SEGS, segs);
	if (!ret)
		ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(sk);
	ret = nl_errno(ret < 0 ? ret : 0);
	nlmsg_free(msg);
out:
	nl_socket_free(sk);
	return ret;
}

int nl_link_delete(int ifindex)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	link = rtnl_link_alloc();
	if (!link) {
		nl_socket_free(sk);
		return -ENOMEM;
	}
	rtnl_link_set_ifindex(link, ifindex);
	ret = nl_errno(rtnl_link_delete(sk, link));
	rtnl_link_put(link);
	nl_socket_free(sk);
	return ret;
}

/* One RTM_GETROUTE exchange: each route the kernel answers with goes to visit(). */
struct nl_route_ask {
	void (*visit)(struct rtnl_route *route, void *arg);
	void *arg;
	int err;	/* the kernel's errno, or the first route that could not be parsed */
};

static int nl_route_ask_valid(struct nl_msg *msg, void *arg)
{
	struct nl_route_ask *ask = arg;
	struct rtnl_route *route;
	int ret;

	if (nlmsg_hdr(msg)->nlmsg_type != RTM_NEWROUTE)
		return NL_SKIP;
	ret = rtnl_route_parse(nlmsg_hdr(msg), &route);
	if (ret < 0) {
		/* One odd route (another family's) must not hide the rest of a dump. */
		if (!ask->err)
			ask->err = nl_errno(ret);
		return NL_SKIP;
	}
	ask->visit(route, ask->arg);
	rtnl_route_put(route);
	return NL_OK;
}

/* Keeps the kernel's own errno (libnl would fold ENETUNREACH and friends into one code). */
static int nl_route_ask_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nl_route_ask *ask = arg;

	ask->err = e->error ? e->error : -EIO;
	return NL_STOP;
}

/* Sends msg (a filled RTM_GETROUTE) and reads the answer to its end; 0 or -errno. */
static int nl_route_exchange(struct nl_msg *msg, struct nl_route_ask *ask)
{
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	/* A get is answered by the route or an error, a dump ends with NLMSG_DONE: no ack to wait for. */
	nl_socket_disable_auto_ack(sk);
	ret = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, nl_route_ask_valid, ask);
	if (!ret)
		ret = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, nl_route_ask_error, ask);
	if (!ret)
		ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (ask->err)
		return ask->err;
	return nl_errno(ret < 0 ? ret : 0);
}

/* An RTM_GETROUTE with its rtmsg header; flags NLM_F_DUMP for every route. */
static struct nl_msg *nl_route_request(int flags, const struct rtmsg *rtm)
{
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_GETROUTE, flags);

	if (msg && nlmsg_append(msg, (void *)rtm, sizeof(*rtm), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

static void nl_route_info_fill(struct rtnl_route *route, void *arg)
{
	struct nl_route_info *info = arg;
	struct nl_addr *pref = rtnl_route_get_pref_src(route);
	int n = rtnl_route_get_nnexthops(route);

	info->type = rtnl_route_get_type(route);
	if (rtnl_route_get_metric(route, RTAX_HOPLIMIT, &info->hoplimit) < 0)
		info->hoplimit = 0;
	if (rtnl_route_get_metric(route, RTAX_MTU, &info->mtu) < 0)
		info->mtu = 0;
	info->n_oifs = 0;
	for (int i = 0; i < n && info->n_oifs < NL_ROUTE_OIFS; i++)
		info->oifs[info->n_oifs++] = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, i));
	if (rtnl_route_get_dst(route))
		info->dst_len = (uint8_t)nl_addr_get_prefixlen(rtnl_route_get_dst(route));
	info->table = rtnl_route_get_table(route);
	if (pref && nl_addr_get_len(pref) <= sizeof(info->prefsrc)) {
		memcpy(info->prefsrc, nl_addr_get_binary_addr(pref), nl_addr_get_len(pref));
		info->has_prefsrc = true;
	}
}

/* One RTM_GETROUTE for dst: from src, by oif, with mark (each optional), rtm_flags as given. */
static int nl_route_ask_one(const struct sockaddr *dst, const void *src, int oif, uint32_t mark,
			    unsigned int flags, struct nl_route_info *out)
{
	struct nl_route_ask ask = { .visit = nl_route_info_fill, .arg = out };
	struct rtmsg rtm = { .rtm_family = (unsigned char)dst->sa_family, .rtm_flags = flags };
	const void *addr;
	struct nl_msg *msg;
	int len, ret;

	if (dst->sa_family == AF_INET) {
		addr = &((const struct sockaddr_in *)dst)->sin_addr;
		len = 4;
	} else if (dst->sa_family == AF_INET6) {
		addr = &((const struct sockaddr_in6 *)dst)->sin6_addr;
		len = 16;
	} else {
		return -EAFNOSUPPORT;
	}
	rtm.rtm_dst_len = (unsigned char)(len * 8);
	if (src)
		rtm.rtm_src_len = (unsigned char)(len * 8);
	memset(out, 0, sizeof(*out));
	msg = nl_route_request(0, &rtm);
	if (!msg)
		return -ENOMEM;
	ret = nla_put(msg, RTA_DST, len, addr);
	if (!ret && src)
		ret = nla_put(msg, RTA_SRC, len, src);
	if (!ret && oif)
		ret = nla_put_u32(msg, RTA_OIF, (uint32_t)oif);
	if (!ret && mark)
		ret = nla_put_u32(msg, RTA_MARK, mark);
	ret = ret < 0 ? nl_errno(ret) : nl_route_exchange(msg, &ask);
	nlmsg_free(msg);
	/* Not a single route back (nothing parsed) is no answer either. */
	if (!ret && !out->type)
		ret = -EIO;
	return ret;
}

int nl_route_get(const struct sockaddr *dst, const void *src, uint32_t mark, struct nl_route_info *out)
{
	return nl_route_ask_one(dst, src, 0, mark, 0, out);
}

int nl_route_get_via(const struct sockaddr *dst, int oif, uint32_t mark, struct nl_route_info *out)
{
	return nl_route_ask_one(dst, NULL, oif, mark, 0, out);
}

int nl_route_match(const struct sockaddr *dst, uint32_t mark, struct nl_route_info *out)
{
	return nl_route_ask_one(dst, NULL, 0, mark, RTM_F_FIB_MATCH, out);
}

struct nl_route_oifs_walk {
	bool defaults_only;
	nl_oif_fn fn;
	nl_default_fn def;	/* instead of fn: defaults only, with family and metric */
	void *ctx;
};

static void nl_route_oifs_visit(struct rtnl_route *route, void *arg)
{
	struct nl_route_oifs_walk *w = arg;
	int n = rtnl_route_get_nnexthops(route);

	if (rtnl_route_get_type(route) != RTN_UNICAST)
		return;
	if (w->defaults_only && (rtnl_route_get_table(route) != RT_TABLE_MAIN ||
				 nl_addr_get_prefixlen(rtnl_route_get_dst(route)) != 0))
		return;
	for (int i = 0; i < n; i++) {
		int oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, i));

		if (w->def)
			w->def(w->ctx, rtnl_route_get_family(route), oif, rtnl_route_get_priority(route));
		else
			w->fn(w->ctx, oif);
	}
}

static int nl_route_walk(struct nl_route_oifs_walk *w)
{
	struct nl_route_ask ask = { .visit = nl_route_oifs_visit, .arg = w };
	struct rtmsg rtm = { .rtm_family = AF_UNSPEC };
	struct nl_msg *msg = nl_route_request(NLM_F_DUMP, &rtm);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = nl_route_exchange(msg, &ask);
	nlmsg_free(msg);
	return ret;
}

int nl_route_oifs(bool defaults_only, nl_oif_fn fn, void *ctx)
{
	struct nl_route_oifs_walk w = { .defaults_only = defaults_only, .fn = fn, .ctx = ctx };

	return nl_route_walk(&w);
}

int nl_route_defaults(nl_default_fn fn, void *ctx)
{
	struct nl_route_oifs_walk w = { .defaults_only = true, .def = fn, .ctx = ctx };

	return nl_route_walk(&w);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's netlink needs beyond the tunnel's own: policy rules, free tables, route scans and MTUs (libnl-3). */
#include <errno.h>
#include <string.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <sys/socket.h>
#include "netlink.h"
#include "quick_route.h"

/* ---- rules: libnl-3's rtnl_rule knows neither FIB_RULE_INVERT nor FRA_SUPPRESS_PREFIXLEN, so raw messages */

static int quick_nl_rule_msg(int type, int flags, const struct quick_rule *r, struct nl_msg **out)
{
	struct fib_rule_hdr frh = {
		.family = (uint8_t)r->family,
		.table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC,
		.action = FR_ACT_TO_TBL,
		.flags = r->invert ? FIB_RULE_INVERT : 0,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = nlmsg_append(msg, &frh, sizeof(frh), NLMSG_ALIGNTO);
	if (!ret)
		ret = nla_put_u32(msg, FRA_TABLE, r->table);
	if (!ret && r->pref)
		ret = nla_put_u32(msg, FRA_PRIORITY, r->pref);
	if (!ret && r->fwmark)
		ret = nla_put_u32(msg, FRA_FWMARK, r->fwmark);
	if (!ret && r->suppress >= 0)
		ret = nla_put_u32(msg, FRA_SUPPRESS_PREFIXLEN, (uint32_t)r->suppress);
	if (ret) {
		nlmsg_free(msg);
		return nl_errno(ret);
	}
	*out = msg;
	return 0;
}

/* Sends msg and waits for the kernel's answer; 0 or -errno. */
static int quick_nl_talk(struct nl_msg *msg)
{
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_wait_for_ack(sk);
	nl_socket_free(sk);
	return nl_errno(ret < 0 ? ret : 0);
}

/* What a rule dump is looking for: a rule like want (pref included when set), and the kernel's default pref. */
struct quick_nl_rule_scan {
	const struct quick_rule *want;
	int index;
	uint32_t second_pref;		/* the pref of the rule after "lookup local" */
	bool found;
};

static uint32_t quick_nl_attr_u32(struct nlattr **tb, int type, uint32_t dflt)
{
	return tb[type] ? nla_get_u32(tb[type]) : dflt;
}

/* Exactly wg-quick's rule and nothing more: no other selector may narrow it. */
static bool quick_nl_rule_match(const struct fib_rule_hdr *frh, struct nlattr **tb, const struct quick_rule *r)
{
	uint32_t suppress = quick_nl_attr_u32(tb, FRA_SUPPRESS_PREFIXLEN, UINT32_MAX);

	if (frh->family != r->family || frh->action != FR_ACT_TO_TBL || frh->src_len || frh->dst_len ||
	    frh->tos || tb[FRA_IFNAME] || tb[FRA_OIFNAME] || tb[FRA_SRC] || tb[FRA_DST])
		return false;
	if (quick_nl_attr_u32(tb, FRA_TABLE, frh->table) != r->table)
		return false;
	if (!!(frh->flags & FIB_RULE_INVERT) != r->invert)
		return false;
	if (quick_nl_attr_u32(tb, FRA_FWMARK, 0) != r->fwmark)
		return false;
	if (suppress != (r->suppress >= 0 ? (uint32_t)r->suppress : UINT32_MAX))
		return false;
	return !r->pref || quick_nl_attr_u32(tb, FRA_PRIORITY, 0) == r->pref;
}

static int quick_nl_rule_visit(struct nl_msg *msg, void *arg)
{
	struct quick_nl_rule_scan *scan = arg;
	struct nlmsghdr *hdr = nlmsg_hdr(msg);
	struct nlattr *tb[FRA_MAX + 1];
	struct fib_rule_hdr *frh;

	if (hdr->nlmsg_type != RTM_NEWRULE || nlmsg_parse(hdr, sizeof(*frh), tb, FRA_MAX, NULL) < 0)
		return NL_SKIP;
	frh = nlmsg_data(hdr);
	if (scan->index++ == 1)
		scan->second_pref = quick_nl_attr_u32(tb, FRA_PRIORITY, 0);
	if (quick_nl_rule_match(frh, tb, scan->want))
		scan->found = true;
	return NL_OK;
}

static int quick_nl_rule_dump(struct quick_nl_rule_scan *scan)
{
	struct fib_rule_hdr frh = { .family = (uint8_t)scan->want->family };
	struct nl_sock *sk;
	struct nl_msg *msg;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	msg = nlmsg_alloc_simple(RTM_GETRULE, NLM_F_DUMP);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	/* A dump ends with NLMSG_DONE: no ack to wait for. */
	nl_socket_disable_auto_ack(sk);
	ret = nlmsg_append(msg, &frh, sizeof(frh), NLMSG_ALIGNTO);
	if (!ret)
		ret = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, quick_nl_rule_visit, scan);
	if (!ret)
		ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	ret = nl_errno(ret < 0 ? ret : 0);
	nlmsg_free(msg);
out:
	nl_socket_free(sk);
	return ret;
}

int quick_nl_rule_exists(const struct quick_rule *r)
{
	struct quick_nl_rule_scan scan = { .want = r };
	int ret = quick_nl_rule_dump(&scan);

	return ret ? ret : scan.found;
}

int quick_nl_rule_pref(int family, uint32_t *pref)
{
	struct quick_rule none = { .family = family, .suppress = -1 };
	struct quick_nl_rule_scan scan = { .want = &none };
	int ret = quick_nl_rule_dump(&scan);

	if (!ret)
		*pref = scan.second_pref > 1 ? scan.second_pref - 1 : 0;
	return ret;
}

int quick_nl_rule_add(const struct quick_rule *r)
{
	struct nl_msg *msg;
	int ret = quick_nl_rule_msg(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r, &msg);

	if (ret)
		return ret;
	ret = quick_nl_talk(msg);
	nlmsg_free(msg);
	return ret;
}

int quick_nl_rule_del(const struct quick_rule *r)
{
	struct nl_msg *msg;
	int ret = quick_nl_rule_msg(RTM_DELRULE, 0, r, &msg);

	if (ret)
		return ret;
	ret = quick_nl_talk(msg);
	nlmsg_free(msg);
	return ret;
}

/* ---- routes */

/* Every route of one family to fn until it returns non-zero; that value, 0, or -errno. */
static int quick_nl_routes(int family, int (*fn)(struct nl_sock *sk, struct rtnl_route *r, void *ctx), void *ctx)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	ret = nl_errno(rtnl_route_alloc_cache(sk, family, 0, &cache));
	if (ret)
		goto out;
	for (obj = nl_cache_get_first(cache); obj && !ret; obj = nl_cache_get_next(obj))
		ret = fn(sk, (struct rtnl_route *)obj, ctx);
	nl_cache_free(cache);
out:
	nl_socket_free(sk);
	return ret;
}

static int quick_nl_route_oif(struct rtnl_route *r)
{
	return rtnl_route_get_nnexthops(r) == 1 ? rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0)) : 0;
}

static int quick_nl_table_visit(struct nl_sock *sk, struct rtnl_route *r, void *ctx)
{
	return rtnl_route_get_table(r) == *(uint32_t *)ctx;
}

int quick_nl_table_free(uint32_t from, uint32_t *table)
{
	int ret;

	for (uint32_t t = from; t >= from; t++) {
		ret = quick_nl_routes(AF_INET, quick_nl_table_visit, &t);
		if (!ret)
			ret = quick_nl_routes(AF_INET6, quick_nl_table_visit, &t);
		if (ret < 0)
			return ret;
		if (!ret) {
			*table = t;
			return 0;
		}
	}
	return -ENOSPC;
}

struct quick_nl_cover {
	int ifindex;
	const struct xwg_prefix *p;
};

/* Does r's destination hold all of c->p (r's prefix no longer, same leading bits)? */
static bool quick_nl_prefix_holds(struct nl_addr *dst, const struct xwg_prefix *p)
{
	unsigned int len = nl_addr_get_prefixlen(dst), bytes = len / 8, bits = len % 8;
	const uint8_t *a = nl_addr_get_binary_addr(dst);

	if (len > p->cidr)
		return false;
	if (!len)
		return true;
	if (nl_addr_get_len(dst) * 8 < len || memcmp(a, p->addr, bytes))
		return false;
	return !bits || !((a[bytes] ^ p->addr[bytes]) & (uint8_t)(0xff << (8 - bits)));
}

static int quick_nl_cover_visit(struct nl_sock *sk, struct rtnl_route *r, void *ctx)
{
	const struct quick_nl_cover *c = ctx;

	return rtnl_route_get_table(r) == RT_TABLE_MAIN && quick_nl_route_oif(r) == c->ifindex &&
	       quick_nl_prefix_holds(rtnl_route_get_dst(r), c->p);
}

int quick_nl_route_covered(int ifindex, const struct xwg_prefix *p)
{
	struct quick_nl_cover c = { .ifindex = ifindex, .p = p };

	return quick_nl_routes(p->family, quick_nl_cover_visit, &c);
}

struct quick_nl_flush {
	int ifindex;
	uint32_t table;
	int err;
};

static int quick_nl_flush_visit(struct nl_sock *sk, struct rtnl_route *r, void *ctx)
{
	struct quick_nl_flush *f = ctx;
	int ret;

	if (rtnl_route_get_table(r) != f->table || quick_nl_route_oif(r) != f->ifindex)
		return 0;
	ret = nl_errno(rtnl_route_delete(sk, r, 0));
	if (ret && ret != -ENOENT && !f->err)
		f->err = ret;
	return 0;
}

int quick_nl_route_flush(int ifindex, uint32_t table)
{
	struct quick_nl_flush f = { .ifindex = ifindex, .table = table };
	int ret = quick_nl_routes(AF_INET, quick_nl_flush_visit, &f);

	if (!ret)
		ret = quick_nl_routes(AF_INET6, quick_nl_flush_visit, &f);
	return ret ? ret : f.err;
}

/* ---- addresses */

int quick_nl_addrs(int ifindex, int family, struct xwg_prefix *out, size_t max, size_t *n)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	*n = 0;
	if (ret)
		return ret;
	ret = nl_errno(rtnl_addr_alloc_cache(sk, &cache));
	if (ret)
		goto out;
	for (obj = nl_cache_get_first(cache); obj && *n < max; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *a = (struct rtnl_addr *)obj;
		struct nl_addr *local = rtnl_addr_get_local(a);
		unsigned int len = family == AF_INET ? 4 : 16;

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != family || !local ||
		    nl_addr_get_len(local) != len)
			continue;
		out[*n].family = family;
		memcpy(out[*n].addr, nl_addr_get_binary_addr(local), len);
		out[*n].cidr = (uint8_t)(len * 8);
		(*n)++;
	}
	nl_cache_free(cache);
out:
	nl_socket_free(sk);
	return ret;
}

/* ---- MTUs */

int quick_nl_link_mtu(int ifindex)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	int ret = nl_open(&sk);

	if (ret)
		return ret;
	ret = nl_errno(rtnl_link_get_kernel(sk, ifindex, NULL, &link));
	if (!ret) {
		ret = (int)rtnl_link_get_mtu(link);
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return ret;
}

static int quick_nl_default_visit(struct nl_sock *sk, struct rtnl_route *r, void *ctx)
{
	uint32_t mtu = 0;
	int oif;

	if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST ||
	    nl_addr_get_prefixlen(rtnl_route_get_dst(r)) != 0 || rtnl_route_get_nnexthops(r) < 1)
		return 0;
	/* Like wg-quick's regex on "ip route show default": the route's mtu, else its first device's. */
	if (rtnl_route_get_metric(r, RTAX_MTU, &mtu) < 0 || !mtu) {
		oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
		*(int *)ctx = oif > 0 ? quick_nl_link_mtu(oif) : -ENODEV;
	} else {
		*(int *)ctx = (int)mtu;
	}
	return 1;
}

int quick_nl_default_mtu(void)
{
	int mtu = -ENOENT, ret = quick_nl_routes(AF_INET, quick_nl_default_visit, &mtu);

	return ret < 0 ? ret : mtu;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's routing: a route per allowed IP in the table Table names; policy routing for a /0; the MTU rule. */
#include <errno.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "device.h"
#include "encoding.h"
#include "netlink.h"
#include "quick.h"
#include "quick_route.h"

/*
 * State keys (quick.h): route.ifindex (the tunnel the routes go through), route.flush (a table other than
 * main holding routes through it), route.policy (the policy routing table T = fwmark), route.rule4/6 and
 * route.suppress4/6 (the prefs of the two policy rules per family), fw.ip/fw.ip6 (the nftables tables),
 * sysctl.src_valid_mark (its value before up). Each is written before the change it records.
 */

/* Addresses per family the firewall guards: far more than an interface has. */
#define QUICK_FW_ADDRS 256

static const char *quick_route_fam(int family)
{
	return family == AF_INET6 ? "6" : "4";
}

static bool quick_route_has_default(const struct xwg_config *cfg, int family)
{
	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next)
		for (size_t i = 0; i < p->n_allowed_ips; i++)
			if (!p->allowed_ips[i].cidr && (!family || p->allowed_ips[i].family == family))
				return true;
	return false;
}

/* ---- before the device exists */

int quick_route_prepare(struct xwg_config *cfg, char *err, size_t errlen)
{
	struct quick_state st;
	const char *v;
	uint32_t table;
	int ret;

	/*
	 * wg-quick: a FwMark from the file is the table; else a dead agent's table (its rules may still be
	 * in place, with or without its tunnel), else the first free one.
	 */
	if (cfg->table_mode != XWG_TABLE_AUTO || !quick_route_has_default(cfg, 0) || cfg->fwmark)
		return 0;
	if (!quick_state_open(&st, cfg->ifname) &&
	    (v = quick_state_get(&st, "route.policy")) && (table = (uint32_t)strtoul(v, NULL, 10))) {
		cfg->fwmark = table;
		return 0;
	}
	ret = quick_nl_table_free(QUICK_TABLE_FIRST, &table);
	if (ret) {
		snprintf(err, errlen, "%s: no free routing table for the policy routing of a /0: %s", cfg->ifname,
			 strerror(-ret));
		return ret;
	}
	cfg->fwmark = table;
	return 0;
}

/* The path MTU toward one endpoint as wg-quick reads it: the route's mtu, else its device's; 0 if unknown. */
static int quick_route_endpoint_mtu(const struct sockaddr_storage *ep, uint32_t fwmark)
{
	struct nl_route_info info;
	int mtu;

	/* With the tunnel's mark: an adopted tunnel's policy rules would otherwise answer with the tunnel. */
	if (nl_route_get((const struct sockaddr *)ep, NULL, fwmark, &info) || info.type != RTN_UNICAST)
		return 0;
	if (info.mtu)
		return (int)info.mtu;
	if (!info.n_oifs || info.oifs[0] <= 0)
		return 0;
	mtu = quick_nl_link_mtu(info.oifs[0]);
	return mtu > 0 ? mtu : 0;
}

int quick_route_mtu(const struct xwg_config *cfg)
{
	int mtu = 0, m;

	/* The smallest of the endpoints' (wg-quick takes the largest: one small path would then fragment). */
	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next) {
		if (!p->has_endpoint)
			continue;
		m = quick_route_endpoint_mtu(&p->endpoint, cfg->fwmark);
		if (m > 0 && (!mtu || m < mtu))
			mtu = m;
		/* Every path of a multi-path peer: traffic may move to any of them. */
		for (size_t i = 0; i < p->n_more_endpoints; i++) {
			m = quick_route_endpoint_mtu(&p->more_endpoints[i], cfg->fwmark);
			if (m > 0 && (!mtu || m < mtu))
				mtu = m;
		}
	}
	if (!mtu) {
		m = quick_nl_default_mtu();
		mtu = m > 0 ? m : 1500;
	}
	/* 80: the largest WireGuard overhead (IPv6 40 + UDP 8 + header 16 + tag 16). */
	return mtu - 80;
}

/* ---- the policy rules by the state's record (down, and a dead agent's for another table) */

static uint32_t quick_route_u32(const struct quick_state *st, const char *key)
{
	const char *v = quick_state_get(st, key);

	return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

static void quick_route_rule_del(const struct quick_state *st, const char *key, struct quick_rule *r)
{
	int ret;

	if (!quick_state_get(st, key))
		return;
	r->pref = quick_route_u32(st, key);
	ret = quick_nl_rule_del(r);
	if (ret && ret != -ENOENT)
		fprintf(stderr, "xwg: %s: cannot delete policy routing rule %u: %s\n", st->ifname, r->pref,
			strerror(-ret));
}

static void quick_route_rules_down(const struct quick_state *st)
{
	static const int families[] = { AF_INET, AF_INET6 };
	uint32_t t = quick_route_u32(st, "route.policy");
	char key[32];

	for (int i = 0; i < 2 && t; i++) {
		struct quick_rule mark = { .family = families[i], .table = t, .fwmark = t, .invert = true,
					   .suppress = -1 };
		struct quick_rule suppress = { .family = families[i], .table = RT_TABLE_MAIN, .suppress = 0 };

		snprintf(key, sizeof(key), "route.suppress%s", quick_route_fam(families[i]));
		quick_route_rule_del(st, key, &suppress);
		snprintf(key, sizeof(key), "route.rule%s", quick_route_fam(families[i]));
		quick_route_rule_del(st, key, &mark);
	}
}

/* ---- up */

static int quick_route_cmp(const void *a, const void *b)
{
	const struct xwg_prefix *x = a, *y = b;

	return (int)y->cidr - (int)x->cidr;
}

/* Every allowed IP, masked, longest prefix first (wg-quick's order: "sort -nr -k 2 -t /"). */
static int quick_route_collect(const struct xwg_config *cfg, struct xwg_prefix **out, size_t *n)
{
	struct xwg_prefix *list;
	size_t total = 0, k = 0;

	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next)
		total += p->n_allowed_ips;
	list = calloc(total ? total : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next) {
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			struct xwg_prefix *a = &list[k++];

			*a = p->allowed_ips[i];
			for (unsigned int bit = a->cidr; bit < (a->family == AF_INET ? 32u : 128u); bit++)
				a->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
		}
	}
	qsort(list, total, sizeof(*list), quick_route_cmp);
	*out = list;
	*n = total;
	return 0;
}

static int quick_route_fail(char *err, size_t errlen, int ret, const char *ifname, const char *what,
			    const struct xwg_prefix *p)
{
	char buf[64] = "";

	if (p)
		prefix_format(buf, sizeof(buf), p);
	snprintf(err, errlen, "%s: cannot %s%s%s: %s", ifname, what, p ? " " : "", buf, strerror(-ret));
	return ret;
}

/* One allowed IP's route: main (unless the device already has one covering it) or table N. */
static int quick_route_one(int ifindex, const struct xwg_config *cfg, const struct xwg_prefix *p, char *err,
			   size_t errlen)
{
	int ret;

	if (cfg->table_mode == XWG_TABLE_AUTO) {
		ret = quick_nl_route_covered(ifindex, p);
		if (ret < 0)
			return quick_route_fail(err, errlen, ret, cfg->ifname, "read the routes for", p);
		if (ret)
			return 0;
	}
	ret = nl_route_add(ifindex, p, cfg->table_mode == XWG_TABLE_ID ? cfg->table : 0);
	return ret ? quick_route_fail(err, errlen, ret, cfg->ifname, "add route", p) : 0;
}

/* One policy rule, recorded under key: kept when the state's rule is still there (adoption), else added. */
static int quick_route_rule(struct quick_state *st, const char *key, struct quick_rule *r, const char *ifname,
			    char *err, size_t errlen)
{
	const char *v = quick_state_get(st, key);
	int ret;

	if (v) {
		r->pref = (uint32_t)strtoul(v, NULL, 10);
		if (quick_nl_rule_exists(r) == 1)
			return 0;
	}
	ret = quick_nl_rule_pref(r->family, &r->pref);
	if (!ret)
		ret = quick_state_set(st, key, "%u", r->pref);
	if (!ret)
		ret = quick_nl_rule_add(r);
	return ret ? quick_route_fail(err, errlen, ret, ifname, "add the policy routing rule", NULL) : 0;
}

/* wg-quick's add_default, one family: the /0 in T, "not fwmark T table T", "table main suppress_prefixlength 0". */
static int quick_route_policy(int ifindex, const struct xwg_config *cfg, int family, struct quick_state *st,
			      char *err, size_t errlen)
{
	struct xwg_prefix any = { .family = family };
	struct quick_rule mark = { .family = family, .table = cfg->fwmark, .fwmark = cfg->fwmark, .invert = true,
				   .suppress = -1 };
	struct quick_rule suppress = { .family = family, .table = RT_TABLE_MAIN, .suppress = 0 };
	char key[32];
	int ret;

	/* Replace, never delete first: an adopted tunnel's traffic must not leave outside it for a moment. */
	ret = nl_route_replace(ifindex, &any, cfg->fwmark);
	if (ret)
		return quick_route_fail(err, errlen, ret, cfg->ifname, "add route", &any);
	/* This order gives the suppress rule the lower pref, as wg-quick's: main's specific routes win. */
	snprintf(key, sizeof(key), "route.rule%s", quick_route_fam(family));
	ret = quick_route_rule(st, key, &mark, cfg->ifname, err, errlen);
	if (ret)
		return ret;
	snprintf(key, sizeof(key), "route.suppress%s", quick_route_fam(family));
	return quick_route_rule(st, key, &suppress, cfg->ifname, err, errlen);
}

/* src_valid_mark=1, so reverse path filtering sees the mark; the value before is kept for down. */
static int quick_route_sysctl(struct quick_state *st, const char *ifname, char *err, size_t errlen)
{
	int old, ret;

	ret = quick_fw_sysctl_get(&old);
	if (!ret && old == 1)
		return 0;
	/* An adopted tunnel's record already holds the value from before the first up. */
	if (!ret && !quick_state_get(st, "sysctl.src_valid_mark"))
		ret = quick_state_set(st, "sysctl.src_valid_mark", "%d", old);
	if (!ret)
		ret = quick_fw_sysctl_set(1);
	if (ret)
		snprintf(err, errlen, "%s: cannot set net.ipv4.conf.all.src_valid_mark: %s", ifname, strerror(-ret));
	return ret;
}

/* wg-quick's nftables table, guarding the addresses the interface has now (its link-local one too). */
static int quick_route_firewall(int ifindex, const struct xwg_config *cfg, int family, struct quick_state *st,
				char *err, size_t errlen)
{
	struct xwg_prefix addrs[QUICK_FW_ADDRS];
	size_t n;
	int ret = quick_nl_addrs(ifindex, family, addrs, QUICK_FW_ADDRS, &n);

	if (ret)
		return quick_route_fail(err, errlen, ret, cfg->ifname, "read the interface's addresses", NULL);
	ret = quick_state_set(st, family == AF_INET ? "fw.ip" : "fw.ip6", "wg-quick-%s", cfg->ifname);
	if (ret)
		return quick_route_fail(err, errlen, ret, cfg->ifname, "record the firewall", NULL);
	return quick_fw_add(cfg->ifname, family, addrs, n, cfg->fwmark, err, errlen);
}

/* The full tunnel's part, per family with a /0. */
static int quick_route_full(int ifindex, const struct xwg_config *cfg, struct quick_state *st, char *err,
			    size_t errlen)
{
	/* IPv6 first, as wg-quick's sorted list of allowed IPs has ::/0 before 0.0.0.0/0. */
	static const int families[] = { AF_INET6, AF_INET };
	uint32_t old = quick_route_u32(st, "route.policy");
	int ret;

	/* A dead agent's rules for another table (the file's FwMark changed since) are not ours to keep. */
	if (old && old != cfg->fwmark)
		quick_route_rules_down(st);
	ret = quick_state_set(st, "route.policy", "%u", cfg->fwmark);
	if (ret)
		return quick_route_fail(err, errlen, ret, cfg->ifname, "record the policy routing", NULL);
	for (int i = 0; i < 2; i++) {
		if (!quick_route_has_default(cfg, families[i]))
			continue;
		ret = quick_route_policy(ifindex, cfg, families[i], st, err, errlen);
		if (!ret && families[i] == AF_INET)
			ret = quick_route_sysctl(st, cfg->ifname, err, errlen);
		if (!ret)
			ret = quick_route_firewall(ifindex, cfg, families[i], st, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int quick_route_up(struct xwg_device *dev, const struct xwg_config *cfg, struct quick_state *st, char *err,
		   size_t errlen)
{
	bool full = cfg->table_mode == XWG_TABLE_AUTO && quick_route_has_default(cfg, 0);
	struct xwg_prefix *list;
	size_t n;
	int ret;

	if (cfg->table_mode == XWG_TABLE_OFF)
		return 0;
	if (full && !cfg->fwmark) {	/* quick_route_prepare picks it; only a caller that skipped it gets here */
		snprintf(err, errlen, "%s: a /0 with Table = auto needs the policy routing table chosen first",
			 cfg->ifname);
		return -EINVAL;
	}
	ret = quick_state_set(st, "route.ifindex", "%d", dev->ifindex);
	if (!ret && cfg->table_mode == XWG_TABLE_ID && cfg->table != RT_TABLE_MAIN)
		ret = quick_state_set(st, "route.flush", "%u", cfg->table);
	if (!ret)
		ret = quick_route_collect(cfg, &list, &n);
	if (ret)
		return quick_route_fail(err, errlen, ret, cfg->ifname, "set up the routes", NULL);
	for (size_t i = 0; i < n && !ret; i++)
		if (cfg->table_mode != XWG_TABLE_AUTO || list[i].cidr)
			ret = quick_route_one(dev->ifindex, cfg, &list[i], err, errlen);
	free(list);
	if (!ret && full)
		ret = quick_route_full(dev->ifindex, cfg, st, err, errlen);
	return ret;
}

/* ---- down: from the state alone */

/* Routes outside main through a tunnel that is still there (quick_up failed: the device goes next). */
static void quick_route_flush(const struct quick_state *st)
{
	static const char *const keys[] = { "route.policy", "route.flush" };
	int ifindex = (int)quick_route_u32(st, "route.ifindex"), ret;
	uint32_t t;

	if (!ifindex || (int)if_nametoindex(st->ifname) != ifindex)
		return;	/* gone, and the kernel took its routes in every table along */
	for (int i = 0; i < 2; i++) {
		t = quick_route_u32(st, keys[i]);
		ret = t ? quick_nl_route_flush(ifindex, t) : 0;
		if (ret)
			fprintf(stderr, "xwg: %s: cannot delete the routes in table %u: %s\n", st->ifname, t,
				strerror(-ret));
	}
}

void quick_route_down(const struct quick_state *st)
{
	char err[512];
	int ret;

	quick_route_flush(st);
	quick_route_rules_down(st);
	if (quick_state_get(st, "fw.ip") && quick_fw_del(st->ifname, AF_INET, err, sizeof(err)))
		fprintf(stderr, "xwg: %s\n", err);
	if (quick_state_get(st, "fw.ip6") && quick_fw_del(st->ifname, AF_INET6, err, sizeof(err)))
		fprintf(stderr, "xwg: %s\n", err);
	if (quick_state_get(st, "sysctl.src_valid_mark")) {
		ret = quick_fw_sysctl_set((int)quick_route_u32(st, "sysctl.src_valid_mark"));
		if (ret)
			fprintf(stderr, "xwg: %s: cannot restore net.ipv4.conf.all.src_valid_mark: %s\n", st->ifname,
				strerror(-ret));
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* What quick_route.c puts together: policy rules and route scans (quick_nl.c), nftables and sysctl (quick_fw.c). */
#ifndef XWG_QUICK_ROUTE_H
#define XWG_QUICK_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "prefix.h"

/* wg-quick's first choice for the policy routing table and fwmark. */
#define QUICK_TABLE_FIRST 51820

/*
 * One of wg-quick's two policy rules: "not fwmark T table T" (invert, fwmark set) or
 * "table main suppress_prefixlength 0" (suppress >= 0). pref 0: the kernel's choice.
 */
struct quick_rule {
	int family;
	uint32_t pref;
	uint32_t table;
	uint32_t fwmark;		/* 0: none */
	bool invert;
	int suppress;			/* -1: none */
};

/* All return 0 or -errno unless said otherwise. */
/* The pref the kernel would give a new rule (just below the first rule after local), 0 if none is free. */
int quick_nl_rule_pref(int family, uint32_t *pref);
int quick_nl_rule_add(const struct quick_rule *r);
int quick_nl_rule_del(const struct quick_rule *r);
/* 1 when a rule exactly like r (pref included) is in place, 0 when not. */
int quick_nl_rule_exists(const struct quick_rule *r);
/* The first table from 'from' on with no route of either family in it (wg-quick's search). */
int quick_nl_table_free(uint32_t from, uint32_t *table);
/* 1 when main has a route through ifindex that covers p ("ip route show dev D match P"), 0 when not. */
int quick_nl_route_covered(int ifindex, const struct xwg_prefix *p);
/* Deletes every route in table that goes through ifindex. */
int quick_nl_route_flush(int ifindex, uint32_t table);
/* The addresses of one family on ifindex (what "ip -o addr show dev" lists: link-local ones too), up to max. */
int quick_nl_addrs(int ifindex, int family, struct xwg_prefix *out, size_t max, size_t *n);
/* The link's MTU, or -errno. */
int quick_nl_link_mtu(int ifindex);
/* The MTU of the main table's IPv4 default route (its mtu metric, else its device's), or -errno. */
int quick_nl_default_mtu(void);

/* wg-quick's nftables table "wg-quick-IFNAME" for one family ("ip" or "ip6"), built over any old one. */
int quick_fw_add(const char *ifname, int family, const struct xwg_prefix *addrs, size_t n_addrs, uint32_t mark,
		 char *err, size_t errlen);
/* Removes that table if it exists. */
int quick_fw_del(const char *ifname, int family, char *err, size_t errlen);
/* net.ipv4.conf.all.src_valid_mark: read into *value, or written. */
int quick_fw_sysctl_get(int *value);
int quick_fw_sysctl_set(int value);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's routing: a route per allowed IP in the table Table names; policy routing for a /0. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "device.h"
#include "encoding.h"
#include "netlink.h"
#include "quick.h"

int quick_route_prepare(struct xwg_config *cfg, char *err, size_t errlen)
{
	char buf[64];

	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next)
		for (size_t i = 0; i < p->n_allowed_ips; i++)
			if (!p->allowed_ips[i].cidr && cfg->table_mode == XWG_TABLE_AUTO) {
				prefix_format(buf, sizeof(buf), &p->allowed_ips[i]);
				snprintf(err, errlen, "%s: AllowedIPs %s: policy routing is not implemented yet",
					 cfg->ifname, buf);
				return -EOPNOTSUPP;
			}
	return 0;
}

int quick_route_mtu(const struct xwg_config *cfg)
{
	return XWG_DEFAULT_MTU;
}

int quick_route_up(struct xwg_device *dev, const struct xwg_config *cfg, struct quick_state *st, char *err,
		   size_t errlen)
{
	char buf[64];
	int ret;

	if (cfg->table_mode != XWG_TABLE_AUTO)
		return 0;
	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next) {
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			ret = nl_route_add(dev->ifindex, &p->allowed_ips[i], 0);
			if (ret) {
				prefix_format(buf, sizeof(buf), &p->allowed_ips[i]);
				snprintf(err, errlen, "%s: cannot add route %s: %s", cfg->ifname, buf, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

void quick_route_down(const struct quick_state *st)
{
	/* The routes in the main table go with the device. */
}

// SPDX-License-Identifier: GPL-2.0
/* The host's uplinks (main-table default routes) and the paths they give configured endpoints. */
#include <errno.h>
#include <string.h>
#include <linux/rtnetlink.h>
#include "device.h"
#include "netlink.h"
#include "uplink.h"

struct uplink_walk {
	const struct xwg_device *dev;
	struct uplinks *ul;
};

/* Keeps the list sorted by metric with one entry per family and interface (its best route). */
static void uplink_add(void *ctx, int family, int ifindex, uint32_t metric)
{
	struct uplink_walk *w = ctx;
	struct uplinks *ul = w->ul;
	unsigned int i, at;

	if (ifindex <= 0 || ifindex == w->dev->ifindex)
		return;
	for (i = 0; i < ul->n; i++) {
		if (ul->u[i].family != family || ul->u[i].ifindex != ifindex)
			continue;
		if (ul->u[i].metric <= metric)
			return;
		memmove(&ul->u[i], &ul->u[i + 1], (ul->n - i - 1) * sizeof(ul->u[0]));
		ul->n--;
		break;
	}
	for (at = 0; at < ul->n && ul->u[at].metric <= metric; at++)
		;
	if (at == UPLINK_MAX)
		return;
	if (ul->n == UPLINK_MAX)
		ul->n--;
	memmove(&ul->u[at + 1], &ul->u[at], (ul->n - at) * sizeof(ul->u[0]));
	ul->u[at].family = family;
	ul->u[at].ifindex = ifindex;
	ul->u[at].metric = metric;
	ul->n++;
}

int uplink_list(const struct xwg_device *dev, struct uplinks *ul)
{
	struct uplink_walk w = { .dev = dev, .ul = ul };

	ul->n = 0;
	return nl_route_defaults(uplink_add, &w);
}

bool uplink_has(const struct uplinks *ul, int family, int ifindex)
{
	for (unsigned int i = 0; i < ul->n; i++)
		if (ul->u[i].family == family && ul->u[i].ifindex == ifindex)
			return true;
	return false;
}

static unsigned int uplink_count(const struct uplinks *ul, int family)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < ul->n; i++)
		n += ul->u[i].family == family;
	return n;
}

/*
 * remote's paths, one per uplink of its family, if the kernel reaches it by a main-table default
 * route (a more specific route, another table or a local address: routing decides, one path).
 * An uplink without an address to send from (no source) is left out until it has one.
 */
static void uplink_expand_remote(struct xwg_device *dev, struct peer *peer, const struct sockaddr *remote,
				 const struct uplinks *ul)
{
	struct path_uplink list[PATH_MAX_PER_PEER];
	struct nl_route_info info;
	unsigned int n = 0;

	if (nl_route_match(remote, dev->fwmark, &info) || info.type != RTN_UNICAST || info.dst_len ||
	    info.table != RT_TABLE_MAIN)
		return;
	for (unsigned int i = 0; i < ul->n && n < PATH_MAX_PER_PEER; i++) {
		if (ul->u[i].family != remote->sa_family ||
		    nl_route_get_via(remote, ul->u[i].ifindex, dev->fwmark, &info) || !info.has_prefsrc)
			continue;
		list[n].ifindex = ul->u[i].ifindex;
		list[n].metric = ul->u[i].metric;
		memcpy(list[n].local, info.prefsrc, sizeof(list[n].local));
		n++;
	}
	if (n)
		path_set_uplinks(peer, remote, list, n);
}

/* Remotes already over an uplink, or with at least two uplinks of their family to go over. */
static bool uplink_wanted(const struct peer_paths *pp, const union path_addr *remote, const struct uplinks *ul)
{
	for (unsigned int i = 0; i < pp->n; i++)
		if (pp->p[i].uplink && !memcmp(&pp->p[i].remote, remote, sizeof(*remote)))
			return true;
	return uplink_count(ul, remote->sa.sa_family) >= 2;
}

void uplink_expand(struct xwg_device *dev, struct peer *peer, const struct uplinks *ul)
{
	union path_addr remotes[PATH_MAX_PER_PEER];
	unsigned int n = path_table_configured(&peer->paths, remotes);

	/* Taken first: expanding one remote appends paths. */
	for (unsigned int k = 0; k < n; k++)
		if (uplink_wanted(&peer->paths, &remotes[k], ul))
			uplink_expand_remote(dev, peer, &remotes[k].sa, ul);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The host's uplinks (main-table default routes) and the paths they give configured endpoints. */
#ifndef XWG_UPLINK_H
#define XWG_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

struct xwg_device;
struct peer;

#define UPLINK_MAX 8

struct uplinks {
	unsigned int n;
	struct {
		int family;
		int ifindex;
		uint32_t metric;
	} u[UPLINK_MAX];	/* by metric, best first; one entry per family and interface */
};

/* Lists the default routes' interfaces (not the tunnel's own). 0 or -errno. */
int uplink_list(const struct xwg_device *dev, struct uplinks *ul);
/* True if ifindex carries a default route of family. */
bool uplink_has(const struct uplinks *ul, int family, int ifindex);
/* Gives the peer's configured endpoints reached by a default route one path per uplink (path.c). */
void uplink_expand(struct xwg_device *dev, struct peer *peer, const struct uplinks *ul);

#endif

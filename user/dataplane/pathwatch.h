/* SPDX-License-Identifier: GPL-2.0 */
/* Underlay events for multi-path peers: a path fails at once when its link, address or route goes. */
#ifndef XWG_PATHWATCH_H
#define XWG_PATHWATCH_H

struct xwg_device;

/* Subscribes to link, address and route changes; the fd joins the event loop. 0 or -errno. */
int pathwatch_open(struct xwg_device *dev);
void pathwatch_close(struct xwg_device *dev);
/* The fd is readable: drain it and look at every multi-path peer's paths again. */
void pathwatch_read(struct xwg_device *dev);
int pathwatch_fd(const struct xwg_device *dev);
/* Endpoints changed since the last look (configuration, wg set): look again. */
void pathwatch_tick(struct xwg_device *dev);

#endif

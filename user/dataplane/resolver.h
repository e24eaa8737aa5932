/* SPDX-License-Identifier: GPL-2.0 */
/* Endpoint names looked up again on a worker thread, the answers applied on the event loop. */
#ifndef XWG_RESOLVER_H
#define XWG_RESOLVER_H

struct xwg_device;

/* Starts a lookup for every peer whose name is due (reresolve_due); at most once a second. */
void resolver_tick(struct xwg_device *dev);
/* The fd the loop watches for answers; -1 before the first lookup. */
int resolver_fd(const struct xwg_device *dev);
/* Applies the answers that arrived (the loop saw resolver_fd readable). */
void resolver_collect(struct xwg_device *dev);
/* The device goes away: a lookup still running finishes on its own and frees what it holds. */
void resolver_stop(struct xwg_device *dev);

#endif

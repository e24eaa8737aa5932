/* SPDX-License-Identifier: GPL-2.0 */
/* The TUN device: create by name, non-blocking, no packet info header. */
#ifndef XWG_TUN_H
#define XWG_TUN_H

/* Creates (or attaches to) TUN 'name' (IFF_TUN|IFF_NO_PI). Returns fd or -errno; *ifindex set. */
int tun_open(const char *name, int *ifindex);

#endif

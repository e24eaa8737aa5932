/* SPDX-License-Identifier: GPL-2.0 */
/* The TUN device: create by name, non-blocking, no packet info header. */
#ifndef XWG_TUN_H
#define XWG_TUN_H

/* Creates (or attaches to) TUN 'name' (IFF_TUN|IFF_NO_PI). Returns fd or -errno; *ifindex set. */
int tun_open(const char *name, int *ifindex);
/* tun_write (the core's way to deliver a decrypted packet) is declared in core/hooks.h. */

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* WireGuard's cross-platform configuration protocol on /var/run/wireguard/IFNAME.sock. */
#ifndef XWG_UAPI_H
#define XWG_UAPI_H

#include <stdio.h>

/* Where every WireGuard implementation puts its sockets, shared by all network namespaces. */
#define XWG_UAPI_DIR "/var/run/wireguard"

struct xwg_device;

/* Creates the listening socket (replacing a stale one). 0 or -errno; sets dev->uapi_fd/uapi_path. */
int uapi_listen(struct xwg_device *dev);
void uapi_close(struct xwg_device *dev);
/* Accepts one connection and serves its requests until EOF. */
void uapi_accept(struct xwg_device *dev);
/* Serves all requests read from 'in', writing replies to 'out' (the testable core). */
void uapi_serve(struct xwg_device *dev, FILE *in, FILE *out);

#endif

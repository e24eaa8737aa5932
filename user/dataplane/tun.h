/* SPDX-License-Identifier: GPL-2.0 */
/* The TUN device: create by name, non-blocking, with virtio-net headers and TSO/USO where it can. */
#ifndef XWG_TUN_H
#define XWG_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xwg_device;
struct iovec;

/*
 * Creates (or attaches to) TUN 'name' (IFF_TUN|IFF_NO_PI, and IFF_VNET_HDR with TSO/USO offloads
 * unless XWG_TUN_OFFLOAD=0 or the kernel refuses: *vnet says which, *uso whether UDP segmentation
 * is on too). Returns fd or -errno; *ifindex set.
 */
int tun_open(const char *name, int *ifindex, bool *vnet, bool *uso);
/*
 * Reads one frame and splits it into inner IP packets (a TSO/USO super-packet into segments with
 * their checksums done). Returns the packet count (0: nothing usable, read again), -EAGAIN when
 * the queue is empty, or another -errno: the device is gone (-ENODEV for a zero-length read).
 */
int tun_read(struct xwg_device *dev, uint8_t *buf, size_t size, uint8_t *seg_buf, size_t seg_size,
	     struct iovec *pkts, unsigned int max_pkts);
/* Writes what tun_write (core/hooks.h) held back to coalesce: call after each receive batch. */
void tun_flush(struct xwg_device *dev);
/* Frees the coalescing state. */
void tun_close(struct xwg_device *dev);

#endif

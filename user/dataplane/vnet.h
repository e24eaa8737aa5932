/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtio-net-header packets of the batched TUN path: segmentation of the TSO/USO super-packets a TUN opened
 * with IFF_VNET_HDR + TUNSETOFFLOAD hands out, and GRO-style coalescing of decrypted packets into
 * super-packets written back to it. Pure functions on caller memory: no I/O, no globals; one struct vnet_gro
 * per thread. The header's 16-bit fields are in host order (the TUN's default without TUNSETVNETLE/BE).
 */
#ifndef XWG_VNET_H
#define XWG_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4	5	/* USO: IPv4 or IPv6 UDP, each segment its own datagram */
#endif

#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)	/* 10: what IFF_VNET_HDR puts before every packet */
/* The largest frame a TUN read or a vnet_gro write can carry: header + IPv6 header + 64 KiB payload. */
#define VNET_FRAME_MAX (VNET_HDR_LEN + 40 + 65535)

/*
 * Splits one TUN read (virtio_net_hdr + IP packet, maybe a TCPV4/TCPV6/UDP_L4 super-packet, maybe
 * VIRTIO_NET_HDR_F_NEEDS_CSUM) into IP packets of at most hdr.gso_size payload each, each with a complete
 * IPv4 header checksum and TCP/UDP checksum. Segments are written back to back into out (out_size bytes)
 * and segs[i] describes each. A packet with gso_type NONE and no NEEDS_CSUM may be returned without a copy
 * (segs[0] points into buf). Returns the segment count (>= 1), -EINVAL for a malformed header or packet,
 * -ENOBUFS when out/max_segs are too small, -EPROTONOSUPPORT for a gso_type it does not handle.
 */
int vnet_segment(const uint8_t *buf, size_t len, uint8_t *out, size_t out_size, struct iovec *segs,
		 unsigned int max_segs);

typedef int (*vnet_write_fn)(void *ctx, const uint8_t *frame, size_t len); /* frame = virtio_net_hdr + IP packet */
struct vnet_gro;
struct vnet_gro *vnet_gro_new(void);	/* NULL on ENOMEM */
void vnet_gro_free(struct vnet_gro *g);
/*
 * UDP coalescing is on by default; turn it off when TUNSETOFFLOAD refused TUN_F_USO4/6: kernels before 6.2
 * reject VIRTIO_NET_HDR_GSO_UDP_L4 writes (EINVAL), so UDP packets then go out one by one.
 */
void vnet_gro_udp(struct vnet_gro *g, bool enable);
/*
 * Takes a copy of one decrypted IP packet (checksums complete, as the sender made them). It is merged into a
 * pending super-packet when it continues one (TCP: same flow/headers/ack/window/options, seq = previous end,
 * size rules like the kernel's GRO; UDP: same 4-tuple, same datagram size, last one may be shorter), else it
 * starts a new pending entry. When the pending storage is full it flushes first through write. Packets of one
 * flow keep their order; packets it cannot coalesce (ICMP, fragments, IP options, SYN/FIN/RST/URG/CWR, bad
 * checksums, ...) are written alone (gso NONE, flags 0), after the pending entries of their flow. Bytes after
 * the IP header's length (WireGuard's padding) are dropped, as the kernel would trim them. Holds 32 entries of
 * up to 64 KiB (about 2 MiB, touched as used). A write() error met here is returned by the next vnet_gro_flush().
 */
void vnet_gro_add(struct vnet_gro *g, const uint8_t *pkt, size_t len, vnet_write_fn write, void *ctx);
/* Writes every pending entry (merged ones as GSO with NEEDS_CSUM + pseudo-header checksum, like a NIC's
 * LRO output the kernel's virtio_net_hdr_to_skb accepts). Returns 0 or the first negative write() error. */
int vnet_gro_flush(struct vnet_gro *g, vnet_write_fn write, void *ctx);

#endif

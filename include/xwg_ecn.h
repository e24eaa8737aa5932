/* SPDX-License-Identifier: GPL-2.0 */
/* ECN across the tunnel (RFC 6040), one copy of the rules for the BPF data path and the agent. */
#ifndef XWG_ECN_H
#define XWG_ECN_H

#include "xwg_types.h"

/*
 * The rules are the kernel's (include/net/inet_ecn.h): on send the outer header carries the
 * inner ECN field, CE sent as ECT(0) (INET_ECN_encapsulate); on receive (INET_ECN_decapsulate)
 * an outer CE marks an ECN-capable inner packet CE, an outer ECT(1) turns an inner ECT(0) into
 * ECT(1), and an outer CE over a not-ECT inner packet is dropped: the congestion signal could
 * not be passed on otherwise (RFC 6040 4.2; the kernel's IP tunnels drop it too).
 * The header helpers work on the first bytes of an inner IP packet in memory, which both sides
 * have: the agent its decrypted buffer, BPF a copy it stores back.
 */
#define XWG_ECN_NOT_ECT	0
#define XWG_ECN_ECT1	1
#define XWG_ECN_ECT0	2
#define XWG_ECN_CE	3
#define XWG_ECN_MASK	3
#define XWG_ECN_DROP	(-1)

/* Outer ECN bits for an inner packet with these ECN bits. */
static __always_inline __u8 xwg_ecn_encap(__u8 inner)
{
	inner &= XWG_ECN_MASK;
	return inner == XWG_ECN_CE ? XWG_ECN_ECT0 : inner;
}

/* The inner packet's new ECN bits, or XWG_ECN_DROP. */
static __always_inline int xwg_ecn_decap(__u8 outer, __u8 inner)
{
	outer &= XWG_ECN_MASK;
	inner &= XWG_ECN_MASK;
	if (inner == XWG_ECN_NOT_ECT)
		return outer == XWG_ECN_CE ? XWG_ECN_DROP : XWG_ECN_NOT_ECT;
	if (outer == XWG_ECN_CE)
		return XWG_ECN_CE;
	if (outer == XWG_ECN_ECT1 && inner == XWG_ECN_ECT0)
		return XWG_ECN_ECT1;
	return inner;
}

/* ECN bits of an IPv4 (TOS) or IPv6 (traffic class) header; ip holds at least 2 bytes. */
static __always_inline __u8 xwg_ecn_get(const __u8 *ip)
{
	return ip[0] >> 4 == 6 ? (ip[1] >> 4) & XWG_ECN_MASK : ip[1] & XWG_ECN_MASK;
}

/*
 * Writes the ECN bits; an IPv4 header's checksum (ip[10..11]) follows incrementally
 * (RFC 1624: HC' = ~(~HC + ~m + m')). ip holds the whole fixed header.
 */
static __always_inline void xwg_ecn_set(__u8 *ip, __u8 ecn)
{
	__u32 old_w, new_w, sum;

	ecn &= XWG_ECN_MASK;
	if (ip[0] >> 4 == 6) {
		ip[1] = (ip[1] & ~(XWG_ECN_MASK << 4)) | ecn << 4;
		return;
	}
	old_w = (__u32)ip[0] << 8 | ip[1];
	ip[1] = (ip[1] & ~XWG_ECN_MASK) | ecn;
	new_w = (__u32)ip[0] << 8 | ip[1];
	sum = (~((__u32)ip[10] << 8 | ip[11]) & 0xffff) + (~old_w & 0xffff) + new_w;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;
}

/*
 * The decapsulation step on an inner header: 1 if it changed (the caller writes it back),
 * 0 if not, XWG_ECN_DROP if the packet must be dropped.
 */
static __always_inline int xwg_ecn_decap_header(__u8 *ip, __u8 outer)
{
	__u8 inner = xwg_ecn_get(ip);
	int ecn = xwg_ecn_decap(outer, inner);

	if (ecn == XWG_ECN_DROP)
		return XWG_ECN_DROP;
	if (ecn == inner)
		return 0;
	xwg_ecn_set(ip, (__u8)ecn);
	return 1;
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* ICMP / ICMPv6 destination unreachable for packets the tunnel cannot route: builder, rate limit, sender. */
#ifndef XWG_ICMP_H
#define XWG_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Whole error messages, headers included, are at most these sizes: RFC 1812 4.3.2.3 (576 bytes for
 * IPv4) and RFC 4443 2.4(c) (the IPv6 minimum MTU). The original packet is quoted up to that.
 */
#define ICMP_ERR4_MAX	576
#define ICMP_ERR6_MAX	1280
#define ICMP_ERR_MAX	ICMP_ERR6_MAX

/*
 * The rate limit: one token bucket for the device, like the kernel's global ICMP limit
 * (net.ipv4.icmp_msgs_per_sec = 1000, icmp_msgs_burst = 50). A flood into the tunnel costs the
 * agent a route lookup and this check per packet, and at most 1000 errors a second.
 */
#define ICMP_RATE_PER_SEC	1000
#define ICMP_BURST		50

struct icmp_bucket {
	uint64_t last_ns;	/* tokens were added up to this time */
	uint32_t tokens;
};

/* Takes one token at now_ns (monotonic); false when the bucket is empty. */
bool icmp_bucket_take(struct icmp_bucket *b, uint64_t now_ns);

/* What an answerable packet says about itself (icmp_parse). */
struct icmp_orig {
	int family;		/* 4 or 6 */
	const uint8_t *src;	/* into the packet: 4 or 16 bytes; the error goes there */
	const uint8_t *dst;	/* the unreachable address */
	size_t len;		/* the IP packet's own length (trailing bytes left out) */
};

/*
 * Whether pkt (len bytes, an IP packet as read from the TUN) may get an error at all, and where
 * from and to. Never: malformed packets, ICMP/ICMPv6 errors (and ICMP types unknown to us, as the
 * kernel), non-first fragments, multicast or broadcast destinations, unspecified, multicast or
 * broadcast sources. 0 and *o filled, or -EINVAL (malformed) / -EPERM (must not be answered).
 */
int icmp_parse(const uint8_t *pkt, size_t len, struct icmp_orig *o);

/*
 * Builds the whole error (IP header, ICMP host unreachable / ICMPv6 address unreachable, as much
 * of pkt as fits in ICMP_ERR4_MAX / ICMP_ERR6_MAX) from src (4 or 16 bytes, o->family's) to
 * o->src into out (ICMP_ERR_MAX bytes). Returns its length.
 */
size_t icmp_build_unreach(uint8_t *out, const struct icmp_orig *o, const uint8_t *pkt, const uint8_t *src);

/* Ones' complement sum of n bytes as big-endian 16-bit words, added to sum; not folded. */
uint32_t icmp_csum_add(uint32_t sum, const uint8_t *p, size_t n);
/* Folded and inverted: the value for a checksum field, in host order. */
uint16_t icmp_csum_fold(uint32_t sum);

struct xwg_device;
/* Closes the raw socket and frees what hooks_packet_unroutable set up (device_uninit). */
void icmp_free(struct xwg_device *dev);

#endif

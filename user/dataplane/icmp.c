/* SPDX-License-Identifier: GPL-2.0 */
/* Building ICMP / ICMPv6 destination-unreachable errors (RFC 792, RFC 1812, RFC 4443) and their rate limit: no I/O. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include "icmp.h"

#define IP4_HLEN	20
#define IP6_HLEN	40
#define ICMP_HLEN	8
#define ICMP_TTL	64
#define ICMP4_UNREACH	3	/* type destination unreachable */
#define ICMP4_HOST	1	/* code host unreachable (the kernel's WireGuard: ICMP_HOST_UNREACH) */
#define ICMP6_UNREACH	1
#define ICMP6_ADDR	3	/* code address unreachable (ICMPV6_ADDR_UNREACH) */
#define IPTOS_INTERNETCONTROL 0xc0	/* precedence of ICMP errors (RFC 1812 4.3.2.5), as the kernel */
#define IP6_EXT_MAX	8	/* extension headers walked before giving up (then: no answer) */

bool icmp_bucket_take(struct icmp_bucket *b, uint64_t now_ns)
{
	const uint64_t step = 1000000000ULL / ICMP_RATE_PER_SEC;
	uint64_t add = (now_ns - b->last_ns) / step;

	if (add) {
		if (b->tokens + add >= ICMP_BURST) {
			b->tokens = ICMP_BURST;
			b->last_ns = now_ns;
		} else {
			b->tokens += (uint32_t)add;
			b->last_ns += add * step;	/* keep the fraction of a token */
		}
	}
	if (!b->tokens)
		return false;
	b->tokens--;
	return true;
}

uint32_t icmp_csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	/* Folded once, so calls chain: one call over 64 KiB of 0xffff words still fits in 32 bits. */
	return (sum & 0xffff) + (sum >> 16);
}

uint16_t icmp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void icmp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Types that are not errors (RFC 792, 950, 1256): echo, router, timestamp, information, mask. */
static bool icmp4_informational(uint8_t type)
{
	return type == 0 || type == 8 || type == 9 || type == 10 || (type >= 13 && type <= 18);
}

static bool icmp4_unicast(const uint8_t *a)
{
	/* Not 0.0.0.0, not multicast (224/4), not class E or the limited broadcast (240/4). */
	return (a[0] | a[1] | a[2] | a[3]) && a[0] < 224;
}

static int icmp_parse4(const uint8_t *pkt, size_t len, struct icmp_orig *o)
{
	size_t hlen = (size_t)(pkt[0] & 15) * 4, tot;

	if (len < IP4_HLEN || hlen < IP4_HLEN)
		return -EINVAL;
	tot = (size_t)pkt[2] << 8 | pkt[3];
	if (tot < hlen || tot > len)
		return -EINVAL;
	if (((pkt[6] & 0x1f) << 8 | pkt[7]) != 0)
		return -EPERM;			/* not the first fragment */
	if (!icmp4_unicast(pkt + 12) || !icmp4_unicast(pkt + 16))
		return -EPERM;
	/* An ICMP error, or a first fragment too short to tell: never answered. */
	if (pkt[9] == IPPROTO_ICMP && (tot < hlen + 1 || !icmp4_informational(pkt[hlen])))
		return -EPERM;
	*o = (struct icmp_orig){ .family = 4, .src = pkt + 12, .dst = pkt + 16, .len = tot };
	return 0;
}

static bool icmp6_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

/*
 * Walks the extension headers to the upper layer. -EPERM for a non-first fragment or an ICMPv6
 * error (types below 128, RFC 4443 2.1), or when the chain runs past the packet.
 */
static int icmp_walk6(const uint8_t *pkt, size_t len)
{
	size_t off = IP6_HLEN;
	uint8_t next = pkt[6];

	for (int i = 0; i < IP6_EXT_MAX; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (off + 2 > len)
				return -EPERM;
			next = pkt[off];
			off += ((size_t)pkt[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if (off + 2 > len)
				return -EPERM;
			next = pkt[off];
			off += ((size_t)pkt[off + 1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if (off + 8 > len)
				return -EPERM;
			if (((pkt[off + 2] << 8 | pkt[off + 3]) & 0xfff8) != 0)
				return -EPERM;
			next = pkt[off];
			off += 8;
			break;
		case IPPROTO_ICMPV6:
			return off < len && pkt[off] >= 128 ? 0 : -EPERM;
		default:
			return off <= len ? 0 : -EPERM;
		}
	}
	return -EPERM;
}

static int icmp_parse6(const uint8_t *pkt, size_t len, struct icmp_orig *o)
{
	size_t tot;

	if (len < IP6_HLEN)
		return -EINVAL;
	tot = IP6_HLEN + ((size_t)pkt[4] << 8 | pkt[5]);
	if (tot > len)
		return -EINVAL;
	if (pkt[24] == 0xff || pkt[8] == 0xff || icmp6_unspecified(pkt + 8))
		return -EPERM;			/* multicast destination, multicast or unspecified source */
	if (icmp_walk6(pkt, tot) < 0)
		return -EPERM;
	*o = (struct icmp_orig){ .family = 6, .src = pkt + 8, .dst = pkt + 24, .len = tot };
	return 0;
}

int icmp_parse(const uint8_t *pkt, size_t len, struct icmp_orig *o)
{
	if (!len)
		return -EINVAL;
	if (pkt[0] >> 4 == 4)
		return icmp_parse4(pkt, len, o);
	if (pkt[0] >> 4 == 6)
		return icmp_parse6(pkt, len, o);
	return -EINVAL;
}

static size_t icmp_build4(uint8_t *out, const struct icmp_orig *o, const uint8_t *pkt, const uint8_t *src)
{
	size_t quote = o->len < ICMP_ERR4_MAX - IP4_HLEN - ICMP_HLEN ? o->len : ICMP_ERR4_MAX - IP4_HLEN - ICMP_HLEN;
	size_t total = IP4_HLEN + ICMP_HLEN + quote;
	uint8_t *ip = out, *icmp = out + IP4_HLEN;

	memset(out, 0, IP4_HLEN + ICMP_HLEN);
	ip[0] = 0x45;
	ip[1] = IPTOS_INTERNETCONTROL;
	icmp_put16(ip + 2, (uint16_t)total);
	ip[8] = ICMP_TTL;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, o->src, 4);
	icmp_put16(ip + 10, icmp_csum_fold(icmp_csum_add(0, ip, IP4_HLEN)));
	icmp[0] = ICMP4_UNREACH;
	icmp[1] = ICMP4_HOST;
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	icmp_put16(icmp + 2, icmp_csum_fold(icmp_csum_add(0, icmp, ICMP_HLEN + quote)));
	return total;
}

static size_t icmp_build6(uint8_t *out, const struct icmp_orig *o, const uint8_t *pkt, const uint8_t *src)
{
	size_t quote = o->len < ICMP_ERR6_MAX - IP6_HLEN - ICMP_HLEN ? o->len : ICMP_ERR6_MAX - IP6_HLEN - ICMP_HLEN;
	size_t plen = ICMP_HLEN + quote;
	uint8_t *ip = out, *icmp = out + IP6_HLEN;
	uint8_t pseudo_tail[8] = { 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, 0, 0, 0, IPPROTO_ICMPV6 };
	uint32_t sum;

	memset(out, 0, IP6_HLEN + ICMP_HLEN);
	ip[0] = 0x60;
	icmp_put16(ip + 4, (uint16_t)plen);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = ICMP_TTL;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, o->src, 16);
	icmp[0] = ICMP6_UNREACH;
	icmp[1] = ICMP6_ADDR;
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	/* RFC 8200 8.1: source, destination, upper-layer length, next header. */
	sum = icmp_csum_add(0, ip + 8, 32);
	sum = icmp_csum_add(sum, pseudo_tail, sizeof(pseudo_tail));
	icmp_put16(icmp + 2, icmp_csum_fold(icmp_csum_add(sum, icmp, plen)));
	return IP6_HLEN + plen;
}

size_t icmp_build_unreach(uint8_t *out, const struct icmp_orig *o, const uint8_t *pkt, const uint8_t *src)
{
	return o->family == 4 ? icmp_build4(out, o, pkt, src) : icmp_build6(out, o, pkt, src);
}

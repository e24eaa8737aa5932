// SPDX-License-Identifier: GPL-2.0
/* TSO/USO segmentation of TUN super-packets and GRO-style coalescing of decrypted packets (vnet.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "vnet.h"

#define IPV4_HLEN	20u
#define IPV6_HLEN	40u
#define TCP_HLEN	20u
#define UDP_HLEN	8u
#define TCP_CSUM_OFF	16
#define UDP_CSUM_OFF	6
#define IP_LEN_MAX	65535u	/* a merged entry stays a valid IPv4 packet, and an IPv6 one without jumbo */

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_PSH	0x08
#define TCP_ACK	0x10
#define TCP_URG	0x20
#define TCP_ECE	0x40
#define TCP_CWR	0x80

#define IPV4_MF		0x2000
#define IPV4_FRAG_OFF	0x1fff

/* Pending entries of one vnet_gro, and segments per entry (the kernel's UDP_MAX_SEGMENTS is larger). */
#define GRO_SLOTS	32
#define GRO_MAX_SEGS	64

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/*
 * One's-complement sum of n bytes as native-order words (RFC 1071: folding it gives the native-order 16-bit
 * sum, stored back with a native store). p must sit at an even offset from the start of the checksummed span.
 */
static uint64_t vnet_csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	uint64_t s1 = 0, a, b;
	uint32_t w32;
	uint16_t w16 = 0;

	while (n >= 16) {
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		sum += (a & 0xffffffff) + (a >> 32);
		s1 += (b & 0xffffffff) + (b >> 32);
		p += 16;
		n -= 16;
	}
	if (n >= 8) {
		memcpy(&a, p, 8);
		sum += (a & 0xffffffff) + (a >> 32);
		p += 8;
		n -= 8;
	}
	if (n >= 4) {
		memcpy(&w32, p, 4);
		sum += w32;
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		memcpy(&w16, p, 2);
		sum += w16;
		p += 2;
		n -= 2;
	}
	if (n) {
		w16 = 0;
		memcpy(&w16, p, 1);	/* the odd byte, padded with a zero after it */
		sum += w16;
	}
	return sum + s1;
}

/* Folds a sum to 16 bits, not complemented (the kernel's csum_fold() is the complement of this). */
static uint16_t vnet_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void vnet_put_csum(uint8_t *p, uint16_t native)
{
	memcpy(p, &native, 2);
}

/* The TCP/UDP pseudo-header of ip, unfolded. */
static uint64_t vnet_pseudo(const uint8_t *ip, bool v6, uint8_t proto, uint32_t l4len)
{
	if (v6)
		return vnet_csum_add(0, ip + 8, 32) + htonl(l4len) + htonl(proto);
	return vnet_csum_add(0, ip + 12, 8) + htons(proto) + htons((uint16_t)l4len);
}

static void vnet_ipv4_csum(uint8_t *ip, unsigned int l3len)
{
	ip[10] = ip[11] = 0;
	vnet_put_csum(ip + 10, (uint16_t)~vnet_fold(vnet_csum_add(0, ip, l3len)));
}

/* What an IP header says about its packet. */
struct vnet_ip {
	bool v6;
	uint8_t proto;		/* IPv6: the first next header, maybe an extension */
	uint16_t l3len;		/* header bytes: IHL*4, or 40 */
	uint32_t len;		/* the packet's length by its header */
};

/* Checks the IP header against the n bytes there are. 0 or -EINVAL. */
static int vnet_ip_parse(const uint8_t *p, size_t n, struct vnet_ip *ip)
{
	if (n < 1)
		return -EINVAL;
	if (p[0] >> 4 == 4) {
		if (n < IPV4_HLEN || (p[0] & 15) < 5)
			return -EINVAL;
		ip->v6 = false;
		ip->l3len = (p[0] & 15) * 4;
		ip->len = get16(p + 2);
		ip->proto = p[9];
		if (ip->len < ip->l3len || ip->len > n)
			return -EINVAL;
		return 0;
	}
	if (p[0] >> 4 == 6) {
		if (n < IPV6_HLEN)
			return -EINVAL;
		ip->v6 = true;
		ip->l3len = IPV6_HLEN;
		ip->len = IPV6_HLEN + get16(p + 4);
		ip->proto = p[6];
		/* A zero payload length on a longer packet is a jumbogram: not ours to handle. */
		if (ip->len > n || (ip->len == IPV6_HLEN && n > IPV6_HLEN))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

/* NEEDS_CSUM without GSO: what the kernel's skb_checksum_help() does, at csum_start/csum_offset. */
static int vnet_csum_one(const struct virtio_net_hdr *h, const uint8_t *pkt, const struct vnet_ip *ip,
			 uint8_t *out, size_t out_size, struct iovec *segs)
{
	uint32_t start = h->csum_start, at = start + h->csum_offset;
	uint16_t c;

	if (start < ip->l3len || at + 2 > ip->len)
		return -EINVAL;
	if (out_size < ip->len)
		return -ENOBUFS;
	memcpy(out, pkt, ip->len);
	c = (uint16_t)~vnet_fold(vnet_csum_add(0, out + start, ip->len - start));
	vnet_put_csum(out + at, c ? c : 0xffff);
	segs[0].iov_base = out;
	segs[0].iov_len = ip->len;
	return 1;
}

/* The transport header of a GSO packet: its length, or -EINVAL. */
static int vnet_gso_l4len(const struct virtio_net_hdr *h, const uint8_t *pkt, const struct vnet_ip *ip)
{
	unsigned int type = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN, l4len;
	bool tcp = type != VIRTIO_NET_HDR_GSO_UDP_L4;

	if ((type == VIRTIO_NET_HDR_GSO_TCPV4 && ip->v6) || (type == VIRTIO_NET_HDR_GSO_TCPV6 && !ip->v6))
		return -EINVAL;
	if (ip->proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP) || !h->gso_size)
		return -EINVAL;
	if (!ip->v6 && (get16(pkt + 6) & (IPV4_MF | IPV4_FRAG_OFF)))
		return -EINVAL;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start != ip->l3len || h->csum_offset != (tcp ? TCP_CSUM_OFF : UDP_CSUM_OFF)))
		return -EINVAL;
	if (!tcp)
		return ip->len >= ip->l3len + UDP_HLEN ? (int)UDP_HLEN : -EINVAL;
	if (ip->len < ip->l3len + TCP_HLEN)
		return -EINVAL;
	l4len = (pkt[ip->l3len + 12] >> 4) * 4;
	if (l4len < TCP_HLEN || ip->l3len + l4len > ip->len)
		return -EINVAL;
	return (int)l4len;
}

/*
 * Rewrites one segment's headers in place: lengths, IPv4 ID (+i, as the kernel's inet_gso_segment does
 * without FIXEDID), TCP sequence and flags (CWR on the first only, FIN/PSH on the last only, as
 * tcp_gso_segment), then the IPv4 header and the full TCP/UDP checksum.
 */
static void vnet_seg_fix(uint8_t *o, const struct vnet_ip *ip, unsigned int l4len, uint32_t chunk,
			 unsigned int i, bool last, uint32_t gso_size)
{
	uint8_t *l4 = o + ip->l3len;
	uint32_t seglen = ip->l3len + l4len + chunk;
	uint16_t c;

	if (ip->v6) {
		put16(o + 4, (uint16_t)(seglen - IPV6_HLEN));
	} else {
		put16(o + 2, (uint16_t)seglen);
		put16(o + 4, (uint16_t)(get16(o + 4) + i));
		vnet_ipv4_csum(o, ip->l3len);
	}
	if (ip->proto == IPPROTO_TCP) {
		put32(l4 + 4, get32(l4 + 4) + i * gso_size);
		if (i)
			l4[13] &= (uint8_t)~TCP_CWR;
		if (!last)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		l4[TCP_CSUM_OFF] = l4[TCP_CSUM_OFF + 1] = 0;
		c = (uint16_t)~vnet_fold(vnet_pseudo(o, ip->v6, IPPROTO_TCP, l4len + chunk) +
					  vnet_csum_add(0, l4, l4len + chunk));
		vnet_put_csum(l4 + TCP_CSUM_OFF, c);
	} else {
		put16(l4 + 4, (uint16_t)(UDP_HLEN + chunk));
		l4[UDP_CSUM_OFF] = l4[UDP_CSUM_OFF + 1] = 0;
		c = (uint16_t)~vnet_fold(vnet_pseudo(o, ip->v6, IPPROTO_UDP, UDP_HLEN + chunk) +
					  vnet_csum_add(0, l4, UDP_HLEN + chunk));
		vnet_put_csum(l4 + UDP_CSUM_OFF, c ? c : 0xffff);	/* zero means "no checksum" in UDP */
	}
}

static int vnet_gso(const struct virtio_net_hdr *h, const uint8_t *pkt, const struct vnet_ip *ip,
		    uint8_t *out, size_t out_size, struct iovec *segs, unsigned int max_segs)
{
	uint32_t hdrs, payload, nseg, gs = h->gso_size, off = 0;
	int l4len = vnet_gso_l4len(h, pkt, ip);

	if (l4len < 0)
		return l4len;
	hdrs = ip->l3len + (uint32_t)l4len;
	payload = ip->len - hdrs;
	nseg = payload ? (payload + gs - 1) / gs : 1;
	if (nseg > max_segs || (size_t)nseg * hdrs + payload > out_size)
		return -ENOBUFS;
	for (uint32_t i = 0; i < nseg; i++) {
		uint32_t chunk = payload - i * gs < gs ? payload - i * gs : gs;
		uint8_t *o = out + off;

		memcpy(o, pkt, hdrs);
		memcpy(o + hdrs, pkt + hdrs + i * gs, chunk);
		vnet_seg_fix(o, ip, (unsigned int)l4len, chunk, i, i + 1 == nseg, gs);
		segs[i].iov_base = o;
		segs[i].iov_len = hdrs + chunk;
		off += hdrs + chunk;
	}
	return (int)nseg;
}

int vnet_segment(const uint8_t *buf, size_t len, uint8_t *out, size_t out_size, struct iovec *segs,
		 unsigned int max_segs)
{
	struct virtio_net_hdr h;
	struct vnet_ip ip;
	const uint8_t *pkt;
	int err;

	if (!buf || !segs || len < VNET_HDR_LEN)
		return -EINVAL;
	if (!max_segs)
		return -ENOBUFS;
	memcpy(&h, buf, sizeof(h));
	pkt = buf + VNET_HDR_LEN;
	err = vnet_ip_parse(pkt, len - VNET_HDR_LEN, &ip);
	if (err)
		return err;
	switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h.gso_type)		/* ECN without a GSO type means nothing */
			return -EINVAL;
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return vnet_csum_one(&h, pkt, &ip, out, out_size, segs);
		segs[0].iov_base = (void *)pkt;
		segs[0].iov_len = ip.len;
		return 1;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		return vnet_gso(&h, pkt, &ip, out, out_size, segs, max_segs);
	default:		/* UFO (IP fragmentation of UDP) and anything newer */
		return -EPROTONOSUPPORT;
	}
}

/* ---- coalescing ---- */

/* One pending super-packet (or a single packet waiting for followers), in a slot of VNET_FRAME_MAX bytes. */
struct vnet_gro_entry {
	uint8_t *frame;		/* virtio_net_hdr room, then the IP packet */
	uint32_t len;		/* IP bytes so far */
	uint32_t hash;		/* of the flow (addresses, protocol, ports), to skip most comparisons */
	uint32_t addr_hash;	/* of the addresses alone, for packets without ports */
	uint32_t next_seq;	/* TCP: where the next segment must start */
	uint16_t hdrs;		/* IP + transport header bytes */
	uint16_t l3len;
	uint16_t gso_size;	/* payload of the first packet; no later one may be larger */
	uint16_t segs;
	uint16_t next_id;	/* IPv4: the ID the next segment must carry */
	uint8_t proto;
	bool v6;
	bool closed;		/* a short or PSH segment ended it, or it is full */
	bool verified;		/* the first packet's transport checksum was checked */
};

struct vnet_gro {
	struct vnet_gro_entry e[GRO_SLOTS];	/* pending, oldest first */
	uint8_t *free[GRO_SLOTS];
	unsigned int n, nfree;
	int err;				/* first write() error since the last flush */
	bool no_udp;				/* the TUN takes no UDP_L4 GSO writes */
	uint8_t *scratch;			/* a frame for packets written alone */
	uint8_t *mem;
};

/* What vnet_gro_add learned about a packet. */
struct vnet_gro_pkt {
	struct vnet_ip ip;
	bool parsed;		/* the IP header is sound and matches the length */
	bool ports;		/* a TCP/UDP header is there: the flow has ports */
	bool coalescable;
	uint16_t l4len;
	uint32_t payload;
	uint32_t hash, addr_hash;
};

struct vnet_gro *vnet_gro_new(void)
{
	struct vnet_gro *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->mem = malloc((size_t)(GRO_SLOTS + 1) * VNET_FRAME_MAX);
	if (!g->mem) {
		free(g);
		return NULL;
	}
	for (unsigned int i = 0; i < GRO_SLOTS; i++)
		g->free[g->nfree++] = g->mem + (size_t)i * VNET_FRAME_MAX;
	g->scratch = g->mem + (size_t)GRO_SLOTS * VNET_FRAME_MAX;
	return g;
}

void vnet_gro_udp(struct vnet_gro *g, bool enable)
{
	g->no_udp = !enable;
}

void vnet_gro_free(struct vnet_gro *g)
{
	if (!g)
		return;
	free(g->mem);
	free(g);
}

static unsigned int vnet_addr_off(bool v6)
{
	return v6 ? 8 : 12;
}

static unsigned int vnet_addr_len(bool v6)
{
	return v6 ? 32 : 8;
}

/* FNV-1a, to tell flows apart before comparing their bytes. */
static uint32_t vnet_hash(uint32_t h, const uint8_t *p, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static bool vnet_tcp_flags_ok(uint8_t f)
{
	/* Like the kernel's tcp_gro_receive: SYN/FIN/RST/URG end GRO, CWR is never merged. */
	return (f & TCP_ACK) && !(f & ~(TCP_ACK | TCP_PSH | TCP_ECE));
}

/*
 * What p is. Bytes after the IP length (WireGuard's padding, if the caller left it) are ignored: the kernel
 * trims them too.
 */
static void vnet_gro_classify(const uint8_t *p, size_t len, struct vnet_gro_pkt *c)
{
	struct vnet_ip *ip = &c->ip;

	memset(c, 0, sizeof(*c));
	if (len > VNET_FRAME_MAX - VNET_HDR_LEN || vnet_ip_parse(p, len, ip))
		return;
	c->parsed = true;
	len = ip->len;
	if (!ip->v6 && (get16(p + 6) & (IPV4_MF | IPV4_FRAG_OFF)))
		goto done;	/* a fragment: no ports */
	if (ip->proto == IPPROTO_TCP && len >= ip->l3len + TCP_HLEN) {
		c->l4len = (p[ip->l3len + 12] >> 4) * 4;
		if (c->l4len < TCP_HLEN || ip->l3len + c->l4len > len)
			goto done;
		c->ports = true;
		c->payload = (uint32_t)len - ip->l3len - c->l4len;
		c->coalescable = vnet_tcp_flags_ok(p[ip->l3len + 13]);
	} else if (ip->proto == IPPROTO_UDP && len >= ip->l3len + UDP_HLEN) {
		c->l4len = UDP_HLEN;
		c->ports = true;
		c->payload = (uint32_t)len - ip->l3len - UDP_HLEN;
		/* A zero checksum (IPv4 "none") would become a computed one: leave such packets alone. */
		c->coalescable = get16(p + ip->l3len + 4) == len - ip->l3len && get16(p + ip->l3len + 6);
	}
	/* IP options stay out, as in wireguard-go; a bad IPv4 header checksum is for the kernel to drop. */
	if (!ip->v6 && (ip->l3len != IPV4_HLEN || vnet_fold(vnet_csum_add(0, p, IPV4_HLEN)) != 0xffff))
		c->coalescable = false;
	if (!c->payload)
		c->coalescable = false;
done:
	c->addr_hash = vnet_hash(2166136261u, p + vnet_addr_off(ip->v6), vnet_addr_len(ip->v6));
	c->hash = c->ports ? vnet_hash(c->addr_hash ^ ip->proto, p + ip->l3len, 4) : c->addr_hash;
}

/* Is entry e of the flow of packet p (addresses, and protocol and ports when p has some)? */
static bool vnet_gro_same_flow(const struct vnet_gro_entry *e, const uint8_t *p, const struct vnet_gro_pkt *c)
{
	const uint8_t *ep = e->frame + VNET_HDR_LEN;

	if ((c->ports ? e->hash != c->hash : e->addr_hash != c->addr_hash) || e->v6 != c->ip.v6)
		return false;
	if (memcmp(ep + vnet_addr_off(e->v6), p + vnet_addr_off(e->v6), vnet_addr_len(e->v6)))
		return false;
	if (!c->ports)
		return true;
	return e->proto == c->ip.proto && !memcmp(ep + e->l3len, p + c->ip.l3len, 4);
}

/* The full transport checksum of a packet is right. */
static bool vnet_l4_csum_ok(const uint8_t *p, const struct vnet_ip *ip)
{
	uint32_t l4len = ip->len - ip->l3len;

	return vnet_fold(vnet_pseudo(p, ip->v6, ip->proto, l4len) + vnet_csum_add(0, p + ip->l3len, l4len)) == 0xffff;
}

enum vnet_gro_verdict { GRO_APPEND, GRO_NEW, GRO_ALONE };

/* The IP headers may become one: kernel GRO's flush conditions (inet/ipv6_gro_receive, gro_network_flush). */
static bool vnet_gro_ip_match(const struct vnet_gro_entry *e, const uint8_t *ep, const uint8_t *p)
{
	if (e->v6)	/* version, traffic class (ECN bits too), flow label; hop limit */
		return !memcmp(ep, p, 4) && ep[7] == p[7];
	/* TOS (with ECN: a CE mark is never folded into a non-CE train), DF, TTL; IDs must count up by one
	 * because the super-packet cannot say "fixed ID" and resegmentation numbers them id, id+1, ... */
	return ep[1] == p[1] && (ep[6] >> 5) == (p[6] >> 5) && ep[8] == p[8] && get16(p + 4) == e->next_id;
}

static enum vnet_gro_verdict vnet_gro_check(struct vnet_gro_entry *e, const uint8_t *p, const struct vnet_gro_pkt *c)
{
	const uint8_t *ep = e->frame + VNET_HDR_LEN, *el4 = ep + e->l3len, *l4 = p + c->ip.l3len;

	if (e->closed || e->segs >= GRO_MAX_SEGS || c->payload > e->gso_size || e->len + c->payload > IP_LEN_MAX)
		return GRO_NEW;
	if (c->l4len + c->ip.l3len != e->hdrs || !vnet_gro_ip_match(e, ep, p))
		return GRO_NEW;
	if (e->proto == IPPROTO_TCP) {
		/* Same ack, same flags but PSH (and reserved bits: AccECN's AE), same window, same options;
		 * the bytes right after ours. */
		if (get32(l4 + 4) != e->next_seq || memcmp(el4 + 8, l4 + 8, 4) || el4[12] != l4[12] ||
		    (l4[13] & ~TCP_PSH) != el4[13] || memcmp(el4 + 14, l4 + 14, 2) ||
		    memcmp(el4 + TCP_HLEN, l4 + TCP_HLEN, c->l4len - TCP_HLEN))
			return GRO_NEW;
	}
	/* Once merged, the kernel takes the checksum as done (CHECKSUM_PARTIAL): check both ends now. */
	if (!e->verified) {
		if (!vnet_l4_csum_ok(ep, &(struct vnet_ip){ .v6 = e->v6, .proto = e->proto, .l3len = e->l3len,
							    .len = e->len })) {
			e->closed = true;	/* it goes out alone; the kernel drops it */
			return GRO_NEW;
		}
		e->verified = true;
	}
	return vnet_l4_csum_ok(p, &c->ip) ? GRO_APPEND : GRO_ALONE;
}

static void vnet_gro_append(struct vnet_gro_entry *e, const uint8_t *p, const struct vnet_gro_pkt *c)
{
	uint8_t *el4 = e->frame + VNET_HDR_LEN + e->l3len;

	memcpy(e->frame + VNET_HDR_LEN + e->len, p + e->hdrs, c->payload);
	e->len += c->payload;
	e->segs++;
	e->next_id++;
	e->next_seq += c->payload;
	if (c->payload < e->gso_size)
		e->closed = true;	/* only the last segment may be short */
	if (e->proto == IPPROTO_TCP && (p[c->ip.l3len + 13] & TCP_PSH)) {
		el4[13] |= TCP_PSH;	/* segmentation puts it back on the last segment only */
		e->closed = true;
	}
}

/* Turns a pending entry into its frame and writes it; a merged one becomes a GSO frame with NEEDS_CSUM. */
static void vnet_gro_emit(struct vnet_gro *g, struct vnet_gro_entry *e, vnet_write_fn write, void *ctx)
{
	struct virtio_net_hdr h;
	uint8_t *ip = e->frame + VNET_HDR_LEN, *l4 = ip + e->l3len;
	unsigned int csum_off = e->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	int ret;

	memset(&h, 0, sizeof(h));
	if (e->segs > 1) {
		if (e->v6) {
			put16(ip + 4, (uint16_t)(e->len - IPV6_HLEN));
		} else {
			put16(ip + 2, (uint16_t)e->len);
			vnet_ipv4_csum(ip, e->l3len);
		}
		if (e->proto == IPPROTO_UDP)
			put16(l4 + 4, (uint16_t)(e->len - e->l3len));
		/* CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum, not complemented. */
		vnet_put_csum(l4 + csum_off, vnet_fold(vnet_pseudo(ip, e->v6, e->proto, e->len - e->l3len)));
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.gso_type = e->proto == IPPROTO_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 :
			     e->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		h.hdr_len = e->hdrs;
		h.gso_size = e->gso_size;
		h.csum_start = e->l3len;
		h.csum_offset = (uint16_t)csum_off;
	}
	memcpy(e->frame, &h, sizeof(h));
	ret = write(ctx, e->frame, VNET_HDR_LEN + e->len);
	if (ret < 0 && !g->err)
		g->err = ret;
	g->free[g->nfree++] = e->frame;
}

/* Writes, oldest first, the pending entries of p's flow (all of them when p is NULL) and forgets them. */
static void vnet_gro_flush_some(struct vnet_gro *g, const uint8_t *p, const struct vnet_gro_pkt *c,
				vnet_write_fn write, void *ctx)
{
	unsigned int kept = 0;

	for (unsigned int i = 0; i < g->n; i++) {
		if (!p || vnet_gro_same_flow(&g->e[i], p, c))
			vnet_gro_emit(g, &g->e[i], write, ctx);
		else
			g->e[kept++] = g->e[i];
	}
	g->n = kept;
}

static void vnet_gro_write_alone(struct vnet_gro *g, const uint8_t *p, size_t len, vnet_write_fn write, void *ctx)
{
	int ret;

	if (len > VNET_FRAME_MAX - VNET_HDR_LEN) {
		if (!g->err)
			g->err = -EMSGSIZE;
		return;
	}
	memset(g->scratch, 0, VNET_HDR_LEN);
	memcpy(g->scratch + VNET_HDR_LEN, p, len);
	ret = write(ctx, g->scratch, VNET_HDR_LEN + len);
	if (ret < 0 && !g->err)
		g->err = ret;
}

static void vnet_gro_start(struct vnet_gro *g, const uint8_t *p, const struct vnet_gro_pkt *c,
			   vnet_write_fn write, void *ctx)
{
	struct vnet_gro_entry *e;
	const uint8_t *l4 = p + c->ip.l3len;

	if (!g->nfree)
		vnet_gro_flush_some(g, NULL, NULL, write, ctx);
	e = &g->e[g->n++];
	memset(e, 0, sizeof(*e));
	e->frame = g->free[--g->nfree];
	memcpy(e->frame + VNET_HDR_LEN, p, c->ip.len);
	e->len = c->ip.len;
	e->hash = c->hash;
	e->addr_hash = c->addr_hash;
	e->l3len = c->ip.l3len;
	e->hdrs = c->ip.l3len + c->l4len;
	e->gso_size = (uint16_t)c->payload;
	e->segs = 1;
	e->proto = c->ip.proto;
	e->v6 = c->ip.v6;
	if (!e->v6)
		e->next_id = (uint16_t)(get16(p + 4) + 1);
	if (e->proto == IPPROTO_TCP) {
		e->next_seq = get32(l4 + 4) + c->payload;
		e->closed = l4[13] & TCP_PSH;
	}
}

void vnet_gro_add(struct vnet_gro *g, const uint8_t *pkt, size_t len, vnet_write_fn write, void *ctx)
{
	struct vnet_gro_entry *e = NULL;
	struct vnet_gro_pkt c;

	vnet_gro_classify(pkt, len, &c);
	if (c.coalescable && !(g->no_udp && c.ip.proto == IPPROTO_UDP)) {
		for (unsigned int i = g->n; i-- > 0;) {
			if (vnet_gro_same_flow(&g->e[i], pkt, &c)) {
				e = &g->e[i];	/* only the newest entry of a flow may grow: order stays */
				break;
			}
		}
		switch (e ? vnet_gro_check(e, pkt, &c) : GRO_NEW) {
		case GRO_APPEND:
			vnet_gro_append(e, pkt, &c);
			return;
		case GRO_NEW:
			vnet_gro_start(g, pkt, &c, write, ctx);
			return;
		case GRO_ALONE:
			break;
		}
	}
	if (c.parsed) {
		vnet_gro_flush_some(g, pkt, &c, write, ctx);
		len = c.ip.len;
	}
	vnet_gro_write_alone(g, pkt, len, write, ctx);
}

int vnet_gro_flush(struct vnet_gro *g, vnet_write_fn write, void *ctx)
{
	int err;

	vnet_gro_flush_some(g, NULL, NULL, write, ctx);
	err = g->err;
	g->err = 0;
	return err;
}

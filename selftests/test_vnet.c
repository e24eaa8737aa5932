// SPDX-License-Identifier: GPL-2.0
/*
 * vnet.h against the kernel: super-packets the kernel's TCP/UDP build and hand to a vnet-header TUN are
 * segmented and checked with an independent checksum routine, and coalesced frames written to the TUN are
 * accepted by the kernel's own TCP and UDP sockets byte-exact; plus the coalescing rules as unit cases.
 * xwg-needs: root (a network namespace, a TUN)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>
#include "test.h"
#include "vnet.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40
#define F_CWR 0x80

#define OUT_SIZE (512 * 1024)
#define MAX_SEGS 2048

static uint8_t seg_out[OUT_SIZE];
static struct iovec segv[MAX_SEGS];

/* ---- an independent checksum: big-endian 16-bit words, one at a time (RFC 1071 as written) ---- */

static uint32_t be_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t be_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

static bool is_v6(const uint8_t *ip)
{
	return ip[0] >> 4 == 6;
}

static unsigned int l3_len(const uint8_t *ip)
{
	return is_v6(ip) ? 40 : (ip[0] & 15) * 4u;
}

static uint8_t l4_proto(const uint8_t *ip)
{
	return is_v6(ip) ? ip[6] : ip[9];
}

static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	if (is_v6(ip))
		return be_sum(ip + 8, 32, 0) + (l4len >> 16) + (l4len & 0xffff) + proto;
	return be_sum(ip + 12, 8, 0) + proto + l4len;
}

static unsigned int l4_hdr_len(const uint8_t *ip)
{
	return l4_proto(ip) == IPPROTO_TCP ? (ip[l3_len(ip) + 12] >> 4) * 4u : 8;
}

/* A complete IP packet: lengths agree, IPv4 header checksum, TCP/UDP checksum with pseudo-header. */
static bool pkt_valid(const uint8_t *ip, size_t len)
{
	unsigned int l3 = l3_len(ip);
	uint32_t l4len;

	if (len < l3 || (is_v6(ip) ? rd16(ip + 4) + 40u : rd16(ip + 2)) != len) {
		fprintf(stderr, "    bad IP length %zu\n", len);
		return false;
	}
	if (!is_v6(ip) && be_fold(be_sum(ip, l3, 0)) != 0xffff) {
		fprintf(stderr, "    bad IPv4 header checksum\n");
		return false;
	}
	l4len = (uint32_t)len - l3;
	if (l4_proto(ip) == IPPROTO_UDP && rd16(ip + l3 + 4) != l4len) {
		fprintf(stderr, "    bad UDP length\n");
		return false;
	}
	if (l4_proto(ip) == IPPROTO_UDP && rd16(ip + l3 + 6) == 0) {
		fprintf(stderr, "    UDP without checksum\n");
		return false;
	}
	if (be_fold(be_sum(ip + l3, l4len, pseudo_sum(ip, l4_proto(ip), l4len))) != 0xffff) {
		fprintf(stderr, "    bad transport checksum\n");
		return false;
	}
	return true;
}

/* ---- packets as a peer sends them ---- */

struct flow {
	bool v6;
	uint8_t proto, tos, ttl;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

struct tcpf {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *opt;
	unsigned int optlen;
};

/* Builds one packet with complete checksums into p; returns its length. */
static size_t build(uint8_t *p, const struct flow *f, uint16_t id, const struct tcpf *t, const uint8_t *data,
		    size_t dlen)
{
	unsigned int l3 = f->v6 ? 40 : 20, l4 = f->proto == IPPROTO_TCP ? 20 + (t ? t->optlen : 0) : 8;
	size_t len = l3 + l4 + dlen;
	uint8_t *h = p + l3;

	memset(p, 0, l3 + l4);
	if (f->v6) {
		p[0] = 0x60 | f->tos >> 4;
		p[1] = (uint8_t)(f->tos << 4);
		wr16(p + 4, (uint16_t)(len - 40));
		p[6] = f->proto;
		p[7] = f->ttl;
		memcpy(p + 8, f->src, 16);
		memcpy(p + 24, f->dst, 16);
	} else {
		p[0] = 0x45;
		p[1] = f->tos;
		wr16(p + 2, (uint16_t)len);
		wr16(p + 4, id);
		wr16(p + 6, 0x4000);
		p[8] = f->ttl;
		p[9] = f->proto;
		memcpy(p + 12, f->src, 4);
		memcpy(p + 16, f->dst, 4);
		wr16(p + 10, (uint16_t)~be_fold(be_sum(p, 20, 0)));
	}
	wr16(h, f->sport);
	wr16(h + 2, f->dport);
	if (f->proto == IPPROTO_TCP) {
		wr32(h + 4, t->seq);
		wr32(h + 8, t->ack);
		h[12] = (uint8_t)(l4 / 4) << 4;
		h[13] = t->flags;
		wr16(h + 14, t->win);
		if (t->optlen)
			memcpy(h + 20, t->opt, t->optlen);
	} else {
		wr16(h + 4, (uint16_t)(l4 + dlen));
	}
	if (dlen)
		memcpy(h + l4, data, dlen);
	{
		uint16_t c = (uint16_t)~be_fold(be_sum(h, l4 + dlen, pseudo_sum(p, f->proto, (uint32_t)(l4 + dlen))));

		if (f->proto == IPPROTO_UDP && !c)
			c = 0xffff;
		wr16(h + (f->proto == IPPROTO_TCP ? 16 : 6), c);
	}
	return len;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void set_addrs(struct flow *f, bool v6, const char *src, const char *dst)
{
	memset(f->src, 0, 16);
	memset(f->dst, 0, 16);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, src, f->src) != 1 || inet_pton(v6 ? AF_INET6 : AF_INET, dst, f->dst) != 1)
		abort();
	f->v6 = v6;
}

/* ---- a recording write function ---- */

struct rec {
	unsigned int n, gso;
	uint8_t *frame[4096];
	size_t len[4096];
	int fail;		/* returned by write when set */
	int bad;		/* frames that failed verify_frame */
	int tun;		/* >= 0: also write the frame into this TUN */
	int tun_err;
};

static void rec_reset(struct rec *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		free(r->frame[i]);
	r->n = r->gso = 0;
	r->fail = r->bad = r->tun_err = 0;
}

/*
 * A frame vnet_gro wrote, judged independently: a single packet is complete and unmarked; a merged one is what
 * virtio_net_hdr_to_skb takes: NEEDS_CSUM at the transport checksum, whose field holds the folded pseudo-header
 * sum for the whole length, right lengths, a valid IPv4 header checksum.
 */
static bool verify_frame(const uint8_t *f, size_t len)
{
	struct virtio_net_hdr h;
	const uint8_t *ip = f + VNET_HDR_LEN;
	size_t n = len - VNET_HDR_LEN;
	unsigned int l3 = l3_len(ip), l4h = l4_hdr_len(ip);
	uint8_t proto = l4_proto(ip);

	memcpy(&h, f, sizeof(h));
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE)	/* the packet as it came: expect_packets compares it */
		return h.flags == 0 && !h.gso_size && !h.hdr_len && !h.csum_start && !h.csum_offset;
	if (h.flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || h.csum_start != l3 || h.hdr_len != l3 + l4h || !h.gso_size)
		return false;
	if (proto == IPPROTO_TCP && (h.csum_offset != 16 || h.gso_type != (is_v6(ip) ? VIRTIO_NET_HDR_GSO_TCPV6 :
									 VIRTIO_NET_HDR_GSO_TCPV4)))
		return false;
	if (proto == IPPROTO_UDP && (h.csum_offset != 6 || h.gso_type != VIRTIO_NET_HDR_GSO_UDP_L4 ||
				     rd16(ip + l3 + 4) != n - l3 || (n - l3 - 8) > 64u * h.gso_size))
		return false;
	if ((is_v6(ip) ? rd16(ip + 4) + 40u : rd16(ip + 2)) != n || n > 65535)
		return false;
	if (!is_v6(ip) && be_fold(be_sum(ip, l3, 0)) != 0xffff)
		return false;
	if (n - l3 - l4h <= h.gso_size)		/* not really GSO: the kernel would say so too */
		return false;
	return rd16(ip + h.csum_start + h.csum_offset) == be_fold(pseudo_sum(ip, proto, (uint32_t)(n - l3)));
}

static int rec_write(void *ctx, const uint8_t *frame, size_t len)
{
	struct rec *r = ctx;
	struct virtio_net_hdr h;

	if (r->fail)
		return r->fail;
	if (r->n == 4096)
		abort();
	memcpy(&h, frame, sizeof(h));
	r->gso += h.gso_type != VIRTIO_NET_HDR_GSO_NONE;
	r->bad += !verify_frame(frame, len);
	r->frame[r->n] = malloc(len);
	memcpy(r->frame[r->n], frame, len);
	r->len[r->n++] = len;
	if (r->tun >= 0 && write(r->tun, frame, len) != (ssize_t)len) {
		fprintf(stderr, "    TUN write of %zu bytes: %s\n", len, strerror(errno));
		r->tun_err++;
	}
	return 0;
}

/* Expands the recorded frames back into packets with vnet_segment; they must equal want[] exactly. */
static void expect_packets(struct rec *r, uint8_t **want, size_t *wlen, unsigned int nwant)
{
	unsigned int k = 0;

	ASSERT_EQ(r->bad, 0);
	for (unsigned int i = 0; i < r->n; i++) {
		int n = vnet_segment(r->frame[i], r->len[i], seg_out, OUT_SIZE, segv, MAX_SEGS);

		ASSERT_TRUE(n >= 1);
		for (int s = 0; s < n; s++, k++) {
			if (k >= nwant) {
				TEST_FAIL("more packets than sent");
				return;
			}
			ASSERT_EQ(segv[s].iov_len, wlen[k]);
			if (segv[s].iov_len == wlen[k])
				ASSERT_MEMEQ(segv[s].iov_base, want[k], wlen[k]);
		}
	}
	ASSERT_EQ(k, nwant);
}

/* ---- segmentation units ---- */

/* A super-packet the way the kernel hands it out: full lengths, NEEDS_CSUM, pseudo-header sum in the field. */
static size_t make_super(uint8_t *buf, const struct flow *f, uint16_t id, const struct tcpf *t,
			 const uint8_t *data, size_t dlen, uint16_t gso_size, uint8_t gso_type)
{
	struct virtio_net_hdr h = { 0 };
	uint8_t *ip = buf + VNET_HDR_LEN;
	size_t len = build(ip, f, id, t, data, dlen);
	unsigned int l3 = l3_len(ip), off = f->proto == IPPROTO_TCP ? 16 : 6;

	wr16(ip + l3 + off, be_fold(pseudo_sum(ip, f->proto, (uint32_t)(len - l3))));
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = gso_type;
	h.gso_size = gso_size;
	h.hdr_len = (uint16_t)(l3 + l4_hdr_len(ip));
	h.csum_start = (uint16_t)l3;
	h.csum_offset = (uint16_t)off;
	memcpy(buf, &h, sizeof(h));
	return VNET_HDR_LEN + len;
}

/* Checks segments of a TCP/UDP super-packet: valid, sizes, IDs, seqs, flags, and the payload concatenated. */
static void check_segments(int n, const uint8_t *first_hdr, const uint8_t *data, size_t dlen, unsigned int gso,
			   uint8_t orig_flags)
{
	size_t at = 0;
	bool tcp = l4_proto(first_hdr) == IPPROTO_TCP;
	unsigned int l3 = l3_len(first_hdr), l4h = l4_hdr_len(first_hdr);

	for (int i = 0; i < n; i++) {
		const uint8_t *p = segv[i].iov_base, *h = p + l3;
		size_t pl = segv[i].iov_len - l3 - l4h;
		uint8_t want = orig_flags;

		ASSERT_TRUE(pkt_valid(p, segv[i].iov_len));
		ASSERT_TRUE(i == n - 1 ? pl <= gso && (pl > 0 || dlen == 0) : pl == gso);
		if (!is_v6(p))
			ASSERT_EQ(rd16(p + 4), (uint16_t)(rd16(first_hdr + 4) + i));
		ASSERT_MEMEQ(h, first_hdr + l3, 4);	/* ports */
		if (tcp) {
			ASSERT_EQ(rd32(h + 4), rd32(first_hdr + l3 + 4) + (uint32_t)at);
			if (i)
				want &= (uint8_t)~F_CWR;
			if (i != n - 1)
				want &= (uint8_t)~(F_FIN | F_PSH);
			ASSERT_EQ(h[13], want);
		}
		ASSERT_TRUE(at + pl <= dlen);
		if (at + pl <= dlen)
			ASSERT_MEMEQ(h + l4h, data + at, pl);
		at += pl;
	}
	ASSERT_EQ(at, dlen);
}

static void seg_synthetic(bool v6, uint8_t proto, size_t dlen, uint16_t gso)
{
	static uint8_t buf[VNET_FRAME_MAX], data[65536];
	struct flow f = { .proto = proto, .tos = 0x02, .ttl = 64, .sport = 1234, .dport = 5678 };
	struct tcpf t = { .seq = 0xfffff000u, .ack = 77, .flags = F_ACK | F_PSH | F_FIN | F_CWR, .win = 500 };
	uint8_t type = proto == IPPROTO_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 :
		       v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	size_t len;
	int n;

	set_addrs(&f, v6, v6 ? "fd00::1" : "10.0.0.1", v6 ? "fd00::2" : "10.0.0.2");
	fill(data, dlen, (uint32_t)dlen);
	if (proto == IPPROTO_TCP)
		type |= VIRTIO_NET_HDR_GSO_ECN;
	len = make_super(buf, &f, 0xfffe, &t, data, dlen, gso, type);
	n = vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS);
	ASSERT_EQ(n, dlen ? (dlen + gso - 1) / gso : 1);
	if (n > 0)
		check_segments(n, buf + VNET_HDR_LEN, data, dlen, gso, proto == IPPROTO_TCP ? t.flags : 0);
}

/* TCP and UDP, both families, odd sizes: one byte, gso-1, gso, gso+1, a short last, sequence and ID wrap. */
static void test_segment_synthetic(void)
{
	static const size_t sizes[] = { 1, 998, 999, 1000, 3 * 999 + 7, 65 * 999 };

	for (int v6 = 0; v6 < 2; v6++)
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			seg_synthetic(v6, IPPROTO_TCP, sizes[i], 999);
			seg_synthetic(v6, IPPROTO_UDP, sizes[i], 999);
		}
	seg_synthetic(false, IPPROTO_TCP, 0, 999);
	seg_synthetic(false, IPPROTO_TCP, 2001, 2);
	seg_synthetic(true, IPPROTO_UDP, 2001, 3);
}

/* NONE without NEEDS_CSUM: no copy; NONE with NEEDS_CSUM: the checksum completed, like skb_checksum_help. */
static void test_segment_plain(void)
{
	static uint8_t buf[2048], data[1001];
	struct flow f = { .proto = IPPROTO_UDP, .ttl = 9, .sport = 53, .dport = 5353 };
	struct virtio_net_hdr h = { 0 };
	size_t len;
	int n;

	set_addrs(&f, false, "192.0.2.1", "192.0.2.2");
	fill(data, sizeof(data), 3);
	len = VNET_HDR_LEN + build(buf + VNET_HDR_LEN, &f, 1, NULL, data, sizeof(data));
	memcpy(buf, &h, sizeof(h));
	n = vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS);
	ASSERT_EQ(n, 1);
	ASSERT_TRUE(segv[0].iov_base == buf + VNET_HDR_LEN);
	ASSERT_EQ(segv[0].iov_len, len - VNET_HDR_LEN);

	for (int v6 = 0; v6 < 2; v6++)
		for (uint8_t proto = IPPROTO_TCP; proto; proto = proto == IPPROTO_TCP ? IPPROTO_UDP : 0) {
			struct tcpf t = { .seq = 1, .ack = 2, .flags = F_ACK, .win = 3 };

			f.proto = proto;
			set_addrs(&f, v6, v6 ? "2001:db8::1" : "192.0.2.1", v6 ? "2001:db8::2" : "192.0.2.2");
			len = make_super(buf, &f, 7, &t, data, sizeof(data), 0, VIRTIO_NET_HDR_GSO_NONE);
			n = vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS);
			ASSERT_EQ(n, 1);
			ASSERT_TRUE(segv[0].iov_base == seg_out);
			ASSERT_TRUE(pkt_valid(seg_out, segv[0].iov_len));
		}
}

static void test_segment_errors(void)
{
	static uint8_t buf[4096], data[3000];
	struct flow f = { .proto = IPPROTO_TCP, .ttl = 9, .sport = 1, .dport = 2 };
	struct tcpf t = { .seq = 1, .ack = 2, .flags = F_ACK, .win = 3 };
	struct virtio_net_hdr h;
	size_t len;

	set_addrs(&f, false, "192.0.2.1", "192.0.2.2");
	len = make_super(buf, &f, 7, &t, data, sizeof(data), 1000, VIRTIO_NET_HDR_GSO_TCPV4);
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), 3);
	ASSERT_EQ(vnet_segment(buf, 5, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);
	ASSERT_EQ(vnet_segment(buf, len - 1, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);	/* IP length > data */
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, 2), -ENOBUFS);
	ASSERT_EQ(vnet_segment(buf, len, seg_out, 3000 + 3 * 40 - 1, segv, MAX_SEGS), -ENOBUFS);
	ASSERT_EQ(vnet_segment(buf, len, seg_out, 3000 + 3 * 40, segv, MAX_SEGS), 3);

	memcpy(&h, buf, sizeof(h));
#define WITH_HDR(field, val, want) do { struct virtio_net_hdr _h = h; _h.field = (val); memcpy(buf, &_h, sizeof(_h)); \
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), want); memcpy(buf, &h, sizeof(h)); } while (0)
	WITH_HDR(gso_size, 0, -EINVAL);
	WITH_HDR(gso_type, VIRTIO_NET_HDR_GSO_TCPV6, -EINVAL);
	WITH_HDR(gso_type, VIRTIO_NET_HDR_GSO_UDP_L4, -EINVAL);
	WITH_HDR(gso_type, VIRTIO_NET_HDR_GSO_UDP, -EPROTONOSUPPORT);
	WITH_HDR(gso_type, 9, -EPROTONOSUPPORT);
	WITH_HDR(csum_start, 24, -EINVAL);
	WITH_HDR(csum_offset, 6, -EINVAL);
	buf[VNET_HDR_LEN] = 0x35;	/* version 3 */
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);
	buf[VNET_HDR_LEN] = 0x45;
	buf[VNET_HDR_LEN + 20 + 12] = 0x40;	/* TCP data offset 4 */
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);
	buf[VNET_HDR_LEN + 20 + 12] = 0xf0;	/* 60 bytes: still inside, accepted */
	ASSERT_TRUE(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS) > 0);
	buf[VNET_HDR_LEN + 20 + 12] = 0x50;
	buf[VNET_HDR_LEN + 6] |= 0x20;	/* MF: a fragment cannot be TSO */
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);
	buf[VNET_HDR_LEN + 6] &= (uint8_t)~0x20;
	/* NEEDS_CSUM alone with the checksum field past the end */
	h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	h.csum_offset = (uint16_t)(len - VNET_HDR_LEN - 20 - 1);
	memcpy(buf, &h, sizeof(h));
	ASSERT_EQ(vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS), -EINVAL);
#undef WITH_HDR
}

/*
 * Mutated super-packets and packets (random bytes of the header, IP and TCP/UDP header flipped): every answer
 * is an errno or segments inside the buffers; vnet_gro writes only frames no larger than VNET_FRAME_MAX.
 */
static int count_write(void *ctx, const uint8_t *frame, size_t len)
{
	(*(unsigned int *)ctx) += len <= VNET_FRAME_MAX && len > VNET_HDR_LEN && frame;
	return 0;
}

static void test_mutations(void)
{
	static uint8_t buf[8192], data[5000];
	struct vnet_gro *g = vnet_gro_new();
	uint32_t seed = 1;
	unsigned int good_writes = 0, adds = 0;

	fill(data, sizeof(data), 5);
	for (unsigned int iter = 0; iter < 20000; iter++) {
		struct flow f = { .proto = iter & 1 ? IPPROTO_UDP : IPPROTO_TCP, .ttl = 9, .sport = 1, .dport = 2 };
		struct tcpf t = { .seq = 1, .ack = 2, .flags = F_ACK, .win = 3 };
		size_t dlen = iter % 4000, len;
		int n;

		set_addrs(&f, iter & 2, iter & 2 ? "2001:db8::1" : "192.0.2.1", iter & 2 ? "2001:db8::2" : "192.0.2.2");
		len = make_super(buf, &f, 7, &t, data, dlen, (uint16_t)(1 + iter % 1500),
				 iter & 1 ? VIRTIO_NET_HDR_GSO_UDP_L4 :
				 iter & 2 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
		for (unsigned int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % (VNET_HDR_LEN + 64)] ^= (uint8_t)(1u << (seed >> 28 & 7));
		}
		if (iter % 7 == 0)
			len = (seed >> 4) % len;
		n = vnet_segment(buf, len, seg_out, OUT_SIZE, segv, MAX_SEGS);
		if (n < 0) {
			ASSERT_TRUE(n == -EINVAL || n == -ENOBUFS || n == -EPROTONOSUPPORT);
		} else {
			ASSERT_TRUE(n >= 1 && n <= MAX_SEGS);
			for (int i = 0; i < n; i++) {
				const uint8_t *b = segv[i].iov_base;

				ASSERT_TRUE((b >= seg_out && b + segv[i].iov_len <= seg_out + OUT_SIZE) ||
					    (b >= buf && b + segv[i].iov_len <= buf + len));
			}
		}
		if (len > VNET_HDR_LEN) {
			vnet_gro_add(g, buf + VNET_HDR_LEN, len - VNET_HDR_LEN, count_write, &good_writes);
			adds++;
		}
	}
	ASSERT_EQ(vnet_gro_flush(g, count_write, &good_writes), 0);
	ASSERT_TRUE(good_writes > 0 && good_writes <= adds);
	vnet_gro_free(g);
}

/* ---- coalescing units ---- */

struct train {
	uint8_t *pkt[512];
	size_t len[512];
	unsigned int n;
};

static void train_free(struct train *tr)
{
	for (unsigned int i = 0; i < tr->n; i++)
		free(tr->pkt[i]);
	tr->n = 0;
}

static void train_add(struct train *tr, const struct flow *f, uint16_t id, const struct tcpf *t, size_t dlen)
{
	uint8_t data[65536];

	if (tr->n == 512)
		abort();
	fill(data, dlen, tr->n * 7919u + (uint32_t)dlen);
	tr->pkt[tr->n] = malloc(dlen + 120);
	tr->len[tr->n] = build(tr->pkt[tr->n], f, id, t, data, dlen);
	tr->n++;
}

/* TCP data of one flow: payload sizes sz[] from seq, IDs from id; flags ACK (+extra on the last). */
static void tcp_train(struct train *tr, const struct flow *f, uint32_t *seq, uint16_t *id, const size_t *sz,
		      unsigned int n, uint8_t last_flags)
{
	for (unsigned int i = 0; i < n; i++) {
		struct tcpf t = { .seq = *seq, .ack = 4242, .flags = F_ACK, .win = 1000 };

		if (i == n - 1)
			t.flags |= last_flags;
		train_add(tr, f, (*id)++, &t, sz[i]);
		*seq += (uint32_t)sz[i];
	}
}

static void gro_run(struct vnet_gro *g, struct rec *r, struct train *tr)
{
	for (unsigned int i = 0; i < tr->n; i++)
		vnet_gro_add(g, tr->pkt[i], tr->len[i], rec_write, r);
	ASSERT_EQ(vnet_gro_flush(g, rec_write, r), 0);
}

static struct flow tcp_flow(bool v6)
{
	struct flow f = { .proto = IPPROTO_TCP, .ttl = 61, .sport = 443, .dport = 50000 };

	set_addrs(&f, v6, v6 ? "fd00::1" : "10.0.0.1", v6 ? "fd00::2" : "10.0.0.2");
	return f;
}

/* A train with a short odd last segment and PSH becomes one GSO frame that segments back to the same packets. */
static void test_gro_tcp_merge(void)
{
	static const size_t sz[] = { 1400, 1400, 1400, 1400, 1400, 777 };
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };

	for (int v6 = 0; v6 < 2; v6++) {
		struct flow f = tcp_flow(v6);
		uint32_t seq = 0xfffffa00u;
		uint16_t id = 0xfffd;

		tcp_train(&tr, &f, &seq, &id, sz, 6, F_PSH);
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.n, 1);
		ASSERT_EQ(r.gso, 1);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		train_free(&tr);
	}
	vnet_gro_free(g);
}

/* Packets with WireGuard's zero padding after their IP length still merge, and come out without it. */
static void test_gro_padded(void)
{
	static const size_t sz[] = { 1400, 1400, 1400, 333 };
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };
	struct flow f = tcp_flow(false), icmp = tcp_flow(false);
	uint32_t seq = 1;
	uint16_t id = 1;

	icmp.proto = IPPROTO_ICMP;
	tcp_train(&tr, &f, &seq, &id, sz, 4, 0);
	train_add(&tr, &icmp, 77, NULL, 20);
	for (unsigned int i = 0; i < tr.n; i++) {
		uint8_t padded[1600] = { 0 };

		memcpy(padded, tr.pkt[i], tr.len[i]);
		vnet_gro_add(g, padded, (tr.len[i] + 15) / 16 * 16 + 16, rec_write, &r);
	}
	ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), 0);
	ASSERT_EQ(r.n, 2);
	ASSERT_EQ(r.gso, 1);
	expect_packets(&r, tr.pkt, tr.len, tr.n);
	rec_reset(&r);
	train_free(&tr);
	vnet_gro_free(g);
}

/* One packet of a train changed by 'mod' must not be merged; the frames must still give back every packet. */
static void gro_split_case(const char *what, int at, void (*mod)(uint8_t *p, size_t *len), unsigned int want_frames)
{
	static const size_t sz[] = { 1000, 1000, 1000, 1000, 1000, 1000 };
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };
	struct flow f = tcp_flow(false);
	uint32_t seq = 1;
	uint16_t id = 100;

	tcp_train(&tr, &f, &seq, &id, sz, 6, 0);
	if (mod)
		mod(tr.pkt[at], &tr.len[at]);
	gro_run(g, &r, &tr);
	if (r.n != want_frames)
		fprintf(stderr, "    case %s: %u frames\n", what, r.n);
	ASSERT_EQ(r.n, want_frames);
	expect_packets(&r, tr.pkt, tr.len, tr.n);
	rec_reset(&r);
	train_free(&tr);
	vnet_gro_free(g);
}

static void resum(uint8_t *p, size_t len)
{
	unsigned int l3 = l3_len(p);
	uint8_t *h = p + l3;

	if (!is_v6(p)) {
		p[10] = p[11] = 0;
		wr16(p + 10, (uint16_t)~be_fold(be_sum(p, l3, 0)));
	}
	wr16(h + 16, 0);
	wr16(h + 16, (uint16_t)~be_fold(be_sum(h, len - l3, pseudo_sum(p, IPPROTO_TCP, (uint32_t)(len - l3)))));
}

static void mod_ce(uint8_t *p, size_t *len) { p[1] |= 3; resum(p, *len); }
static void mod_fin(uint8_t *p, size_t *len) { p[33] |= F_FIN; resum(p, *len); }
static void mod_syn(uint8_t *p, size_t *len) { p[33] |= F_SYN; resum(p, *len); }
static void mod_rst(uint8_t *p, size_t *len) { p[33] |= F_RST; resum(p, *len); }
static void mod_urg(uint8_t *p, size_t *len) { p[33] |= F_URG; resum(p, *len); }
static void mod_cwr(uint8_t *p, size_t *len) { p[33] |= F_CWR; resum(p, *len); }
static void mod_psh(uint8_t *p, size_t *len) { p[33] |= F_PSH; resum(p, *len); }
static void mod_ae(uint8_t *p, size_t *len) { p[32] |= 1; resum(p, *len); }
static void mod_ack(uint8_t *p, size_t *len) { p[31] ^= 1; resum(p, *len); }
static void mod_win(uint8_t *p, size_t *len) { p[35] ^= 1; resum(p, *len); }
static void mod_ttl(uint8_t *p, size_t *len) { p[8]--; resum(p, *len); }
static void mod_id(uint8_t *p, size_t *len) { p[5] += 2; resum(p, *len); }
static void mod_seq(uint8_t *p, size_t *len) { p[27] ^= 1; resum(p, *len); }
static void mod_csum(uint8_t *p, size_t *len) { p[40 + 500] ^= 0x55; }
static void mod_short(uint8_t *p, size_t *len) { *len -= 1; wr16(p + 2, (uint16_t)*len); resum(p, *len); }

/*
 * Which packets merge: each changed packet splits the train; CE/ECN, FIN/SYN/RST/URG/CWR, AccECN's AE, another
 * ack, window, TTL, IPv4 ID, a sequence gap or a bad checksum never merge, and every packet still comes back in order.
 */
static void test_gro_rules(void)
{
	gro_split_case("none", 0, NULL, 1);
	gro_split_case("ce", 3, mod_ce, 3);		/* 0-2 | 3 | 4-5 */
	gro_split_case("ce-first", 0, mod_ce, 2);
	gro_split_case("fin-last", 5, mod_fin, 2);	/* 0-4 then FIN alone */
	gro_split_case("fin-mid", 2, mod_fin, 3);
	gro_split_case("syn", 2, mod_syn, 3);
	gro_split_case("rst", 2, mod_rst, 3);
	gro_split_case("urg", 2, mod_urg, 3);
	gro_split_case("cwr", 2, mod_cwr, 3);
	gro_split_case("psh-mid", 2, mod_psh, 2);	/* PSH ends an entry: 0-2 | 3-5 */
	gro_split_case("ack", 2, mod_ack, 3);
	gro_split_case("ae", 2, mod_ae, 3);
	gro_split_case("win", 2, mod_win, 3);
	gro_split_case("ttl", 2, mod_ttl, 3);
	gro_split_case("id", 2, mod_id, 3);		/* 0-1 | 2 | 3-5: 3 follows 2's ID again */
	gro_split_case("seq", 2, mod_seq, 3);
	gro_split_case("csum", 2, mod_csum, 3);
	gro_split_case("short-mid", 2, mod_short, 2);	/* 0-2 (short last) | 3-5 */

	/* Timestamps: equal options merge (and come back on every segment); a new TSval starts an entry. */
	{
		uint8_t ts[12] = { 1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9 };
		struct vnet_gro *g = vnet_gro_new();
		struct rec r = { .tun = -1 };
		struct train tr = { .n = 0 };
		struct flow f = tcp_flow(false);
		struct tcpf t = { .seq = 1, .ack = 4242, .flags = F_ACK, .win = 1000, .opt = ts, .optlen = 12 };

		for (unsigned int i = 0; i < 6; i++, t.seq += 1000) {
			if (i == 3)
				ts[7] = 8;
			train_add(&tr, &f, (uint16_t)i, &t, 1000);
		}
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.n, 2);
		ASSERT_EQ(r.gso, 2);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		train_free(&tr);
		vnet_gro_free(g);
	}

	/* A FIN is not held for merging: it goes out at once, right after its flow's pending train. */
	{
		static const size_t sz[] = { 1000, 1000, 1000 };
		struct vnet_gro *g = vnet_gro_new();
		struct rec r = { .tun = -1 };
		struct train tr = { .n = 0 };
		struct flow f = tcp_flow(true);
		uint32_t seq = 1;
		uint16_t id = 0;

		tcp_train(&tr, &f, &seq, &id, sz, 3, F_FIN);
		for (unsigned int i = 0; i < tr.n; i++)
			vnet_gro_add(g, tr.pkt[i], tr.len[i], rec_write, &r);
		ASSERT_EQ(r.n, 2);
		ASSERT_EQ(r.gso, 1);
		ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), 0);
		ASSERT_EQ(r.n, 2);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		train_free(&tr);
		vnet_gro_free(g);
	}
}

/* Larger after smaller, pure ACKs, ICMP and fragments of other flows; flows interleaved keep their own order. */
static void test_gro_order(void)
{
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };
	struct flow a = tcp_flow(false), b = tcp_flow(false), icmp = tcp_flow(false);
	struct tcpf t = { .seq = 1, .ack = 4242, .flags = F_ACK, .win = 1000 };
	uint8_t *want[512];
	size_t wlen[512];
	unsigned int k = 0;

	b.sport = 444;
	icmp.proto = IPPROTO_ICMP;
	train_add(&tr, &a, 1, &t, 1000);	/* 0: A */
	t.seq = 7; train_add(&tr, &b, 50, &t, 1000);	/* 1: B */
	t.seq = 1001; train_add(&tr, &a, 2, &t, 1000);	/* 2: A merges */
	t.seq = 1007; train_add(&tr, &b, 51, &t, 1000);	/* 3: B merges */
	t.seq = 2001; train_add(&tr, &a, 3, &t, 0);	/* 4: A pure ACK: A's entry out, then it */
	t.seq = 2007; train_add(&tr, &b, 52, &t, 1000);	/* 5: B still pending, merges */
	train_add(&tr, &icmp, 9, NULL, 0);		/* 6: ICMP of A's addresses, no ports: flushes B too */
	t.seq = 2001; train_add(&tr, &a, 4, &t, 500);	/* 7: A anew */
	t.seq = 2501; train_add(&tr, &a, 5, &t, 1000);	/* 8: larger after smaller: new entry */
	for (unsigned int i = 0; i < tr.n; i++)
		vnet_gro_add(g, tr.pkt[i], tr.len[i], rec_write, &r);
	ASSERT_EQ(r.n, 4);		/* A(0,2), ACK(4), B(1,3,5), ICMP(6) written during add */
	ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), 0);
	ASSERT_EQ(r.n, 6);		/* A(7), A(8) */
	ASSERT_EQ(r.gso, 2);
	for (unsigned int i = 0; i < 9; i++) {
		static const unsigned int order[] = { 0, 2, 4, 1, 3, 5, 6, 7, 8 };

		want[k] = tr.pkt[order[i]];
		wlen[k++] = tr.len[order[i]];
	}
	expect_packets(&r, want, wlen, k);
	rec_reset(&r);
	train_free(&tr);
	vnet_gro_free(g);
}

/* 64 KiB: a long train of full segments splits into frames of at most 65535 IP bytes (and 64 segments). */
static void test_gro_limit(void)
{
	size_t sz[200];
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };

	for (int v6 = 0; v6 < 2; v6++) {
		struct flow f = tcp_flow(v6);
		uint32_t seq = 5;
		uint16_t id = 1;
		size_t total = 0;

		for (unsigned int i = 0; i < 200; i++)
			sz[i] = v6 ? 1440 : 301;	/* 301: the 64-segment cap comes first */
		tcp_train(&tr, &f, &seq, &id, sz, 200, 0);
		gro_run(g, &r, &tr);
		for (unsigned int i = 0; i < r.n; i++) {
			ASSERT_TRUE(r.len[i] - VNET_HDR_LEN <= 65535);
			total += r.len[i] - VNET_HDR_LEN;
		}
		ASSERT_EQ(r.n, v6 ? 5 : 4);	/* 45 x 1440 = 64800 payload; 64 x 301 */
		ASSERT_TRUE(total > 200 * sz[0]);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		train_free(&tr);
	}
	vnet_gro_free(g);
}

/* UDP: same size merges, a shorter one ends the entry, a zero checksum goes alone; IPv6 too. */
static void test_gro_udp(void)
{
	static const size_t sz[] = { 1200, 1200, 1200, 555, 1200, 1200, 1, 1200 };
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };

	for (int v6 = 0; v6 < 2; v6++) {
		struct flow f = { .proto = IPPROTO_UDP, .ttl = 64, .tos = 1, .sport = 4444, .dport = 5555 };
		uint16_t id = 9;

		set_addrs(&f, v6, v6 ? "fd00::1" : "10.0.0.1", v6 ? "fd00::2" : "10.0.0.2");
		for (unsigned int i = 0; i < 8; i++)
			train_add(&tr, &f, id++, NULL, sz[i]);
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.n, 3);	/* 0-3 | 4-6 | 7 */
		ASSERT_EQ(r.gso, 2);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		vnet_gro_udp(g, false);		/* a TUN without USO: every datagram alone */
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.n, 8);
		ASSERT_EQ(r.gso, 0);
		expect_packets(&r, tr.pkt, tr.len, tr.n);
		rec_reset(&r);
		vnet_gro_udp(g, true);
		if (!v6) {	/* packet 1 with no checksum: 0 | 1 | 2-3 | 4-6 | 7 */
			wr16(tr.pkt[1] + 26, 0);
			gro_run(g, &r, &tr);
			ASSERT_EQ(r.n, 5);
			expect_packets(&r, tr.pkt, tr.len, tr.n);
			rec_reset(&r);
		}
		train_free(&tr);
	}
	vnet_gro_free(g);
}

/* More flows than pending slots: add() writes the oldest out itself; nothing is lost; write errors surface. */
static void test_gro_full_and_errors(void)
{
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = -1 };
	struct train tr = { .n = 0 };
	struct tcpf t = { .seq = 1, .ack = 4242, .flags = F_ACK, .win = 1000 };

	for (unsigned int i = 0; i < 100; i++) {
		struct flow f = tcp_flow(false);

		f.sport = (uint16_t)(1000 + i);
		train_add(&tr, &f, 1, &t, 100);
	}
	for (unsigned int i = 0; i < tr.n; i++)
		vnet_gro_add(g, tr.pkt[i], tr.len[i], rec_write, &r);
	ASSERT_TRUE(r.n > 0);
	ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), 0);
	expect_packets(&r, tr.pkt, tr.len, tr.n);
	rec_reset(&r);

	r.fail = -EIO;
	vnet_gro_add(g, tr.pkt[0], tr.len[0], rec_write, &r);
	ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), -EIO);
	r.fail = 0;
	ASSERT_EQ(vnet_gro_flush(g, rec_write, &r), 0);
	rec_reset(&r);
	train_free(&tr);
	vnet_gro_free(g);
}

/* ---- against the kernel: a TUN with vnet headers and offloads in a private network namespace ---- */

#define TUN_NAME "vnt0"
#define TUN2_NAME "vnt1"
#define FAR4 "10.78.0.2"
#define FAR6 "fd78::2"
#define LOCAL4 "10.77.0.1"
#define PEER4 "10.77.0.2"
#define LOCAL6 "fd77::1"
#define PEER6 "fd77::2"

static int tun_fd = -1, tun2_fd = -1;
static bool tun_uso;

static int knet_setup(void)
{
	struct ifreq ifr;
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun_fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	strcpy(ifr.ifr_name, TUN_NAME);
	if (ioctl(tun_fd, TUNSETIFF, &ifr))
		return -1;
	tun_uso = true;
	if (ioctl(tun_fd, TUNSETOFFLOAD, off)) {
		/* Kernels before 6.2 have no USO on TUN: TCP still gets tested. */
		tun_uso = false;
		if (ioctl(tun_fd, TUNSETOFFLOAD, off & ~(TUN_F_USO4 | TUN_F_USO6)))
			return -1;
		fprintf(stderr, "note: no TUN_F_USO4/6 on this kernel: UDP super-packets not tested\n");
	}
	/* A plain TUN behind it, to which the kernel forwards (and so segments and checksums) what it got. */
	tun2_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun2_fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strcpy(ifr.ifr_name, TUN2_NAME);
	if (ioctl(tun2_fd, TUNSETIFF, &ifr))
		return -1;
	return system("ip link set lo up && ip link set " TUN_NAME " up && ip link set " TUN2_NAME " up && "
		      "ip addr add " LOCAL4 "/24 dev " TUN_NAME " && "
		      "ip -6 addr add " LOCAL6 "/64 dev " TUN_NAME " nodad && "
		      "ip addr add 10.78.0.1/24 dev " TUN2_NAME " && "
		      "ip -6 addr add fd78::1/64 dev " TUN2_NAME " nodad && "
		      "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.tcp_ecn=1") ? -1 : 0;
}

/*
 * Reads from fd the next frame (hdr bytes of virtio_net_hdr, then IP) for (family, proto, destination port),
 * skipping the kernel's own chatter.
 */
static ssize_t read_match(int fd, size_t hdr, uint8_t *buf, size_t size, bool v6, uint8_t proto, uint16_t dport,
			  int ms)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const uint8_t *ip = buf + hdr;
		ssize_t n;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = read(fd, buf, size);
		if (n < (ssize_t)hdr + 20)
			continue;
		if (getenv("VNET_DEBUG"))
			fprintf(stderr, "    read %zd: v%d proto %u dport %u flags %02x\n", n, ip[0] >> 4, l4_proto(ip),
				rd16(ip + l3_len(ip) + 2), ip[l3_len(ip) + 13]);
		if (n < (ssize_t)(hdr + l3_len(ip) + 8))
			continue;
		if (is_v6(ip) == v6 && l4_proto(ip) == proto && rd16(ip + l3_len(ip) + 2) == dport)
			return n;
	}
}

static ssize_t tun_read_match(uint8_t *buf, size_t size, bool v6, uint8_t proto, uint16_t dport, int ms)
{
	return read_match(tun_fd, VNET_HDR_LEN, buf, size, v6, proto, dport, ms);
}

/* Forgets what the kernel queued on the TUN (an earlier connection's RST, its own chatter). */
static void tun_drain(void)
{
	uint8_t buf[VNET_FRAME_MAX];

	while (read(tun_fd, buf, sizeof(buf)) > 0)
		;
}

static void tun_send(const uint8_t *pkt, size_t len)
{
	uint8_t frame[VNET_FRAME_MAX];

	memset(frame, 0, VNET_HDR_LEN);
	memcpy(frame + VNET_HDR_LEN, pkt, len);
	if (write(tun_fd, frame, VNET_HDR_LEN + len) != (ssize_t)(VNET_HDR_LEN + len))
		TEST_FAIL("TUN write: %s", strerror(errno));
}

static socklen_t sockaddr_of(struct sockaddr_storage *ss, bool v6, const char *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		return sizeof(*s);
	}
	{
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		return sizeof(*s);
	}
}

/* The kernel's UDP_SEGMENT sends, read as USO super-packets (or single packets) and segmented. */
static void test_kernel_segment_udp(void)
{
	static uint8_t buf[VNET_FRAME_MAX], data[65536];

	if (tun_fd < 0 || !tun_uso)
		return;
	for (int v6 = 0; v6 < 2; v6++) {
		const unsigned int gs = v6 ? 1233 : 1001;
		const size_t sizes[] = { 1, gs - 1, gs, gs + 1, 3 * gs + 7, 40 * gs };
		struct sockaddr_storage ss;
		socklen_t sl = sockaddr_of(&ss, v6, v6 ? PEER6 : PEER4, 9999);
		int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int gsi = (int)gs;

		ASSERT_TRUE(s >= 0);
		ASSERT_EQ(setsockopt(s, IPPROTO_UDP, UDP_SEGMENT, &gsi, sizeof(gsi)), 0);
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct virtio_net_hdr h;
			ssize_t n;
			int segs;

			fill(data, sizes[i], (uint32_t)(i + 100 * v6));
			ASSERT_EQ(sendto(s, data, sizes[i], 0, (struct sockaddr *)&ss, sl), (ssize_t)sizes[i]);
			n = tun_read_match(buf, sizeof(buf), v6, IPPROTO_UDP, 9999, 2000);
			ASSERT_TRUE(n > 0);
			if (n <= 0)
				break;
			memcpy(&h, buf, sizeof(h));
			if (sizes[i] > gs)
				ASSERT_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);	/* the kernel made a super-packet */
			segs = vnet_segment(buf, (size_t)n, seg_out, OUT_SIZE, segv, MAX_SEGS);
			ASSERT_EQ(segs, (sizes[i] + gs - 1) / gs);
			if (segs > 0)
				check_segments(segs, buf + VNET_HDR_LEN, data, sizes[i], gs, 0);
		}
		close(s);
	}
}

static size_t tcp_payload(const uint8_t *ip, size_t len)
{
	return len - l3_len(ip) - l4_hdr_len(ip);
}

/*
 * A TCP connection to the fake peer, completed by hand; the kernel's TSO super-packets are segmented, every
 * segment checked, ACKed, and the stream must be exactly what send() took. With ecn, the connection
 * negotiates ECN and the ACKs echo congestion (ECE) until the kernel answers with CWR, which must be on the
 * first segment of its super-packet only.
 */
static void kernel_tcp_stream(bool v6, uint16_t mss, size_t total, bool ecn)
{
	static uint8_t buf[VNET_FRAME_MAX], data[200000], got[200000], pkt[256];
	const uint16_t port = 7777;
	struct flow peer = { .proto = IPPROTO_TCP, .ttl = 64, .sport = port };
	uint8_t mssopt[4] = { 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss };
	struct tcpf t = { .seq = 0x10000000u, .flags = F_SYN | F_ACK, .win = 65535, .opt = mssopt, .optlen = 4 };
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&ss, v6, v6 ? PEER6 : PEER4, port);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	size_t sent = 0, rcvd = 0;
	unsigned int gso_frames = 0, ecn_frames = 0, cwr = 0;
	uint32_t isn, peer_seq = t.seq + 1;
	struct timespec t0, t1;
	ssize_t n;
	int c, err = 0, fails0 = test_failures_in_case;

	fill(data, total, (uint32_t)total);
	set_addrs(&peer, v6, v6 ? PEER6 : PEER4, v6 ? LOCAL6 : LOCAL4);
	tun_drain();
	c = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(c >= 0);
	ASSERT_EQ(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	ASSERT_TRUE(connect(c, (struct sockaddr *)&ss, sl) < 0 && errno == EINPROGRESS);
	n = tun_read_match(buf, sizeof(buf), v6, IPPROTO_TCP, port, 2000);
	ASSERT_TRUE(n > 0);
	if (n <= 0)
		goto out;
	{
		const uint8_t *ip = buf + VNET_HDR_LEN, *th = ip + l3_len(ip);

		ASSERT_EQ(th[13] & ~(F_ECE | F_CWR), F_SYN);	/* the netns has tcp_ecn=1: it always asks */
		if (ecn)
			ASSERT_EQ(th[13], F_SYN | F_ECE | F_CWR);
		isn = rd32(th + 4);
		peer.dport = rd16(th);
	}
	t.ack = isn + 1;
	if (ecn)
		t.flags |= F_ECE;
	tun_send(pkt, build(pkt, &peer, 1, &t, NULL, 0));
	{
		struct pollfd pfd = { .fd = c, .events = POLLOUT };
		socklen_t el = sizeof(err);

		ASSERT_EQ(poll(&pfd, 1, 2000), 1);
		ASSERT_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
		ASSERT_EQ(err, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rcvd < total && test_failures_in_case == fails0) {
		int segs;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 10) {
			TEST_FAIL("stream stalled at %zu of %zu bytes", rcvd, total);
			break;
		}
		if (sent < total) {
			ssize_t w = send(c, data + sent, total - sent, MSG_DONTWAIT);

			if (w > 0)
				sent += (size_t)w;
		}
		n = tun_read_match(buf, sizeof(buf), v6, IPPROTO_TCP, port, 200);
		if (n <= 0)
			continue;
		{
			struct virtio_net_hdr h;

			memcpy(&h, buf, sizeof(h));
			gso_frames += h.gso_type != VIRTIO_NET_HDR_GSO_NONE;
			ecn_frames += !!(h.gso_type & VIRTIO_NET_HDR_GSO_ECN);
		}
		segs = vnet_segment(buf, (size_t)n, seg_out, OUT_SIZE, segv, MAX_SEGS);
		ASSERT_TRUE(segs >= 1);
		for (int i = 0; i < segs; i++) {
			const uint8_t *ip = segv[i].iov_base, *th = ip + l3_len(ip);
			size_t pl = tcp_payload(ip, segv[i].iov_len);
			uint32_t off = rd32(th + 4) - (isn + 1);

			ASSERT_TRUE(pkt_valid(ip, segv[i].iov_len));
			ASSERT_TRUE(pl <= mss);
			ASSERT_TRUE(th[13] & F_ACK);
			if (i != segs - 1)
				ASSERT_FALSE(th[13] & (F_PSH | F_FIN));
			if (i)
				ASSERT_FALSE(th[13] & F_CWR);
			cwr += !!(th[13] & F_CWR);
			if (!pl)
				continue;
			if (ecn)	/* ECT(0) on data, kept by segmentation */
				ASSERT_EQ(v6 ? (ip[1] >> 4) & 3 : ip[1] & 3, 2);
			/* in order, or a retransmission of bytes already seen */
			ASSERT_TRUE(off <= rcvd && off + pl <= total);
			if (off > rcvd || off + pl > total)
				break;
			ASSERT_MEMEQ(th + 20, data + off, pl);
			if (off + pl > rcvd) {
				memcpy(got + off, th + 20, pl);
				rcvd = off + pl;
			}
		}
		t = (struct tcpf){ .seq = peer_seq, .ack = isn + 1 + (uint32_t)rcvd, .flags = F_ACK, .win = 65535 };
		if (ecn && !cwr && rcvd > 20000)
			t.flags |= F_ECE;	/* "congestion experienced" until the sender says CWR */
		tun_send(pkt, build(pkt, &peer, 2, &t, NULL, 0));
	}
	ASSERT_EQ(rcvd, total);
	if (rcvd == total)
		ASSERT_MEMEQ(got, data, total);
	if (total > 2u * mss)
		ASSERT_TRUE(gso_frames > 0);	/* the kernel really used TSO */
	if (ecn) {
		ASSERT_TRUE(cwr > 0);
		ASSERT_TRUE(ecn_frames > 0);	/* and marked a super-packet VIRTIO_NET_HDR_GSO_ECN */
	}
out:
	close(c);
}

static void test_kernel_segment_tcp(void)
{
	if (tun_fd < 0)
		return;
	for (int v6 = 0; v6 < 2; v6++) {
		uint16_t mss = v6 ? 1207 : 1001;
		const size_t sizes[] = { 1, mss - 1u, mss + 1u, 3u * mss + 7, 200000 - 3 };

		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			kernel_tcp_stream(v6, mss, sizes[i], false);
		kernel_tcp_stream(v6, mss, 200000 - 3, true);
	}
}

/* Coalesced UDP written to the TUN: the kernel's UDP socket receives every datagram byte-exact, in order. */
static void test_kernel_coalesce_udp(void)
{
	static const size_t sz[] = { 1200, 1200, 1200, 1200, 1200, 1200, 1200, 555, 1, 1200, 1200, 1199,
				     1300, 1300, 1300 };
	static uint8_t got[2048];
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = tun_fd };
	struct train tr = { .n = 0 };

	if (tun_fd < 0 || !tun_uso)
		goto out;
	for (int v6 = 0; v6 < 2; v6++) {
		struct flow f = { .proto = IPPROTO_UDP, .ttl = 64, .sport = 4444, .dport = 5555 };
		struct sockaddr_storage ss;
		socklen_t sl = sockaddr_of(&ss, v6, v6 ? LOCAL6 : LOCAL4, 5555);
		int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		uint16_t id = 0xfff0;

		ASSERT_EQ(bind(s, (struct sockaddr *)&ss, sl), 0);
		set_addrs(&f, v6, v6 ? PEER6 : PEER4, v6 ? LOCAL6 : LOCAL4);
		for (unsigned int i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
			train_add(&tr, &f, id++, NULL, sz[i]);
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.bad, 0);
		ASSERT_EQ(r.tun_err, 0);
		ASSERT_EQ(r.n, 4);	/* 0-7 | 8 | 9-11 | 12-14 */
		ASSERT_EQ(r.gso, 3);
		for (unsigned int i = 0; i < tr.n; i++) {
			struct pollfd pfd = { .fd = s, .events = POLLIN };
			unsigned int l3 = v6 ? 40 : 20;
			ssize_t n;

			if (poll(&pfd, 1, 2000) != 1) {
				TEST_FAIL("datagram %u of %u never arrived", i, tr.n);
				break;
			}
			n = recv(s, got, sizeof(got), 0);
			ASSERT_EQ(n, (ssize_t)(tr.len[i] - l3 - 8));
			if (n == (ssize_t)(tr.len[i] - l3 - 8))
				ASSERT_MEMEQ(got, tr.pkt[i] + l3 + 8, (size_t)n);
		}
		rec_reset(&r);
		r.tun = tun_fd;
		train_free(&tr);
		close(s);
	}
out:
	vnet_gro_free(g);
}

/*
 * Coalesced TCP written to the TUN: a hand-made handshake to a listening kernel socket, then data in rounds
 * (short and odd segments, PSH in the middle, a FIN at the end); accept() and read() give the stream exactly.
 */
static void kernel_tcp_coalesce(bool v6)
{
	static uint8_t buf[VNET_FRAME_MAX], pkt[256], got[100000];
	const uint16_t lport = 6666, pport = 40000;
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = tun_fd };
	struct train tr = { .n = 0 };
	struct flow f = { .proto = IPPROTO_TCP, .ttl = 64, .sport = pport, .dport = lport };
	uint8_t mssopt[4] = { 2, 4, 1400 >> 8, 1400 & 255 };
	struct tcpf t = { .seq = 0x7ffffff0u, .flags = F_SYN, .win = 65535, .opt = mssopt, .optlen = 4 };
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&ss, v6, v6 ? LOCAL6 : LOCAL4, lport);
	int l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a = -1, one = 1;
	uint32_t seq = t.seq + 1, srv;
	uint16_t id = 0xffe0;
	size_t total = 0, rcvd = 0;
	ssize_t n;
	/* rounds of payload sizes; 0 ends a round (the test reads what was sent before the next) */
	static const size_t plan[] = { 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400,
				       1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1399, 0,
				       1400, 1400, 1, 1400, 1400, 1400, 700, 1400, 1400, 1400, 0,
				       1400, 1400, 1400, 1400, 1400, 1400, 1400, 333, 0 };
	bool psh_mid = true;

	set_addrs(&f, v6, v6 ? PEER6 : PEER4, v6 ? LOCAL6 : LOCAL4);
	ASSERT_EQ(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	ASSERT_EQ(bind(l, (struct sockaddr *)&ss, sl), 0);
	ASSERT_EQ(listen(l, 4), 0);
	tun_drain();
	tun_send(pkt, build(pkt, &f, id++, &t, NULL, 0));
	n = tun_read_match(buf, sizeof(buf), v6, IPPROTO_TCP, pport, 2000);
	ASSERT_TRUE(n > 0);
	if (n <= 0)
		goto out;
	{
		const uint8_t *ip = buf + VNET_HDR_LEN, *th = ip + l3_len(ip);

		ASSERT_EQ(th[13], F_SYN | F_ACK);
		srv = rd32(th + 4) + 1;
		ASSERT_EQ(rd32(th + 8), seq);
	}
	t = (struct tcpf){ .seq = seq, .ack = srv, .flags = F_ACK, .win = 65535 };
	tun_send(pkt, build(pkt, &f, id++, &t, NULL, 0));
	{
		struct pollfd pfd = { .fd = l, .events = POLLIN };

		ASSERT_EQ(poll(&pfd, 1, 2000), 1);
		a = accept(l, NULL, NULL);
		ASSERT_TRUE(a >= 0);
		if (a < 0)
			goto out;
	}
	for (unsigned int i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		bool last = i + 1 == sizeof(plan) / sizeof(plan[0]);

		if (plan[i]) {
			t = (struct tcpf){ .seq = seq, .ack = srv, .flags = F_ACK, .win = 65535 };
			if (psh_mid && i == 25) {
				t.flags |= F_PSH;
				psh_mid = false;
			}
			train_add(&tr, &f, id++, &t, plan[i]);
			seq += (uint32_t)plan[i];
			total += plan[i];
			continue;
		}
		if (last) {	/* the FIN, with data: never merged, written after the pending train */
			t = (struct tcpf){ .seq = seq, .ack = srv, .flags = F_ACK | F_FIN | F_PSH, .win = 65535 };
			train_add(&tr, &f, id++, &t, 77);
			seq += 78;
			total += 77;
		}
		r.gso = 0;
		gro_run(g, &r, &tr);
		ASSERT_EQ(r.bad, 0);
		ASSERT_EQ(r.tun_err, 0);
		ASSERT_TRUE(r.gso > 0);
		ASSERT_TRUE(r.n < tr.n);
		/* read this round's bytes */
		while (rcvd < total) {
			struct pollfd pfd = { .fd = a, .events = POLLIN };

			if (poll(&pfd, 1, 2000) != 1) {
				TEST_FAIL("round ending at packet %u: %zu of %zu bytes arrived", i, rcvd, total);
				goto out;
			}
			n = read(a, got + rcvd, sizeof(got) - rcvd);
			ASSERT_TRUE(n > 0);
			if (n <= 0)
				goto out;
			rcvd += (size_t)n;
		}
		/* compare this round with what was sent */
		{
			size_t at = total;

			for (unsigned int k = tr.n; k-- > 0;) {
				unsigned int l3 = v6 ? 40 : 20;
				size_t pl = tr.len[k] - l3 - 20;

				at -= pl;
				ASSERT_MEMEQ(got + at, tr.pkt[k] + l3 + 20, pl);
			}
		}
		rec_reset(&r);
		r.tun = tun_fd;
		train_free(&tr);
	}
	{
		struct pollfd pfd = { .fd = a, .events = POLLIN };

		ASSERT_EQ(poll(&pfd, 1, 2000), 1);
		ASSERT_EQ(read(a, got, sizeof(got)), 0);	/* the FIN came after every byte */
	}
out:
	rec_reset(&r);
	train_free(&tr);
	if (a >= 0) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(a);
	}
	close(l);
	vnet_gro_free(g);
}

/*
 * Coalesced frames forwarded by the kernel to a TUN without offloads: the kernel segments them itself and
 * completes each checksum from the pseudo-header sum vnet_gro left in the field (tcp/udp_gso_segment, then
 * skb_checksum_help). What comes out must be each original packet exactly, TTL/hop limit less one.
 */
static void test_kernel_forward(void)
{
	static const size_t tcp_sz[] = { 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 1400, 777 };
	static const size_t udp_sz[] = { 1200, 1200, 1200, 1200, 1200, 1200, 1200, 555 };
	static uint8_t buf[VNET_FRAME_MAX];
	struct vnet_gro *g = vnet_gro_new();
	struct rec r = { .tun = tun_fd };
	struct train tr = { .n = 0 };

	if (tun_fd < 0)
		goto out;
	for (int v6 = 0; v6 < 2; v6++)
		for (int udp = 0; udp < 2; udp++) {
			struct flow f = { .proto = udp ? IPPROTO_UDP : IPPROTO_TCP, .ttl = 64, .tos = 0x10,
					  .sport = 3333, .dport = 4444 };
			uint32_t seq = 0xffffff00u;
			uint16_t id = 0xfffa;

			if (udp && !tun_uso)
				continue;
			set_addrs(&f, v6, v6 ? PEER6 : PEER4, v6 ? FAR6 : FAR4);
			if (udp)
				for (unsigned int i = 0; i < sizeof(udp_sz) / sizeof(udp_sz[0]); i++)
					train_add(&tr, &f, id++, NULL, udp_sz[i]);
			else
				tcp_train(&tr, &f, &seq, &id, tcp_sz, sizeof(tcp_sz) / sizeof(tcp_sz[0]), F_PSH);
			while (read(tun2_fd, buf, sizeof(buf)) > 0)
				;
			gro_run(g, &r, &tr);
			ASSERT_EQ(r.n, 1);
			ASSERT_EQ(r.gso, 1);
			ASSERT_EQ(r.bad + r.tun_err, 0);
			for (unsigned int i = 0; i < tr.n; i++) {
				uint8_t *want = tr.pkt[i];
				ssize_t n = read_match(tun2_fd, 0, buf, sizeof(buf), v6, f.proto, 4444, 2000);

				if (n <= 0) {
					TEST_FAIL("%s%s: forwarded packet %u of %u never came", v6 ? "v6" : "v4",
						  udp ? "udp" : "tcp", i, tr.n);
					break;
				}
				ASSERT_TRUE(pkt_valid(buf, (size_t)n));
				want[v6 ? 7 : 8]--;
				if (!v6) {
					want[10] = want[11] = 0;
					wr16(want + 10, (uint16_t)~be_fold(be_sum(want, 20, 0)));
				}
				ASSERT_EQ(n, (ssize_t)tr.len[i]);
				if (n == (ssize_t)tr.len[i])
					ASSERT_MEMEQ(buf, want, tr.len[i]);
			}
			rec_reset(&r);
			r.tun = tun_fd;
			train_free(&tr);
		}
out:
	vnet_gro_free(g);
}

static void test_kernel_coalesce_tcp(void)
{
	if (tun_fd < 0)
		return;
	kernel_tcp_coalesce(false);
	kernel_tcp_coalesce(true);
}

int main(void)
{
	RUN_TEST(test_segment_synthetic);
	RUN_TEST(test_segment_plain);
	RUN_TEST(test_segment_errors);
	RUN_TEST(test_mutations);
	RUN_TEST(test_gro_tcp_merge);
	RUN_TEST(test_gro_padded);
	RUN_TEST(test_gro_rules);
	RUN_TEST(test_gro_order);
	RUN_TEST(test_gro_limit);
	RUN_TEST(test_gro_udp);
	RUN_TEST(test_gro_full_and_errors);
	if (knet_setup()) {
		printf("not ok - kernel set-up (netns, TUN with IFF_VNET_HDR and offloads)\n");
		test_failed++;
	} else {
		RUN_TEST(test_kernel_segment_udp);
		RUN_TEST(test_kernel_segment_tcp);
		RUN_TEST(test_kernel_coalesce_udp);
		RUN_TEST(test_kernel_coalesce_tcp);
		RUN_TEST(test_kernel_forward);
	}
	return TEST_SUMMARY();
}

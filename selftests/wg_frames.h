/* SPDX-License-Identifier: GPL-2.0 */
/* The receive tests' world: WireGuard frames sealed with OpenSSL, and the test device in the rx maps. */
#ifndef XWG_TEST_WG_FRAMES_H
#define XWG_TEST_WG_FRAMES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include "bpf_test.h"
#include "rx.skel.h"

#define FRAME_MAX	2048
#define MTU		1420

enum { IN_V4, IN_V6, IN_KEEPALIVE, IN_NOT_IP, IN_BAD_LEN };

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t wg_off;		/* WireGuard header */
	uint8_t inner[FRAME_MAX];	/* the plaintext IP packet, unpadded */
	size_t inner_len;
	uint16_t inner_proto;
};

/* ---------------------------------------------------------------- packet building */

/* IPv4/IPv6 + UDP header at p around payload bytes already at p + l3 + 8; returns the length. */
static size_t ip_udp(uint8_t *p, int family, const char *src, const char *dst, uint8_t opt_words,
		     uint16_t sport, uint16_t dport, size_t payload)
{
	size_t l3 = family == 4 ? 20 + 4u * opt_words : 40, ulen = 8 + payload;
	uint8_t *udp = p + l3;
	uint32_t sum;

	memset(p, 0, l3);
	if (family == 4) {
		p[0] = (uint8_t)(0x40 | (5 + opt_words));
		put16(p + 2, (uint16_t)(l3 + ulen));
		p[8] = 64;
		p[9] = 17;
		pton(4, src, p + 12);
		pton(4, dst, p + 16);
		memset(p + 20, 1, 4u * opt_words);	/* NOP options */
		put16(p + 10, csum_fold(csum_add(0, p, l3)));
	} else {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)ulen);
		p[6] = 17;
		p[7] = 64;
		pton(6, src, p + 8);
		pton(6, dst, p + 24);
	}
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	if (family == 6) {	/* mandatory over IPv6: pseudo-header + UDP */
		sum = csum_add(0, p + 8, 32) + (uint32_t)ulen + 17;
		sum = csum_add(sum, udp, ulen);
		put16(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);
	}
	return l3 + ulen;
}

/*
 * ECN bits into an IPv4 (TOS, header checksum recomputed from scratch) or IPv6 (traffic class)
 * header: the tests' own way, independent of the incremental update in xwg_ecn.h.
 */
static inline void ip_set_ecn(uint8_t *p, uint8_t ecn)
{
	if (p[0] >> 4 == 6) {
		p[1] = (uint8_t)((p[1] & ~0x30) | (ecn & 3) << 4);
		return;
	}
	p[1] = (uint8_t)((p[1] & ~3) | (ecn & 3));
	put16(p + 10, 0);
	put16(p + 10, csum_fold(csum_add(0, p, (p[0] & 15) * 4u)));
}

static size_t inner_packet(uint8_t *p, int kind, const char *src, size_t payload)
{
	int family = kind == IN_V6 ? 6 : 4;
	size_t l3 = family == 4 ? 20 : 40, len;

	if (kind == IN_KEEPALIVE)
		return 0;
	if (kind == IN_NOT_IP) {
		memset(p, 0x55, 40);	/* version nibble 5 */
		return 40;
	}
	for (size_t i = 0; i < payload; i++)
		p[l3 + 8 + i] = (uint8_t)(i * 7 + 3);
	len = ip_udp(p, family, src ? src : family == 4 ? "10.99.0.2" : "fd00::2",
		     family == 4 ? "10.99.0.1" : "fd00::1", 0, 5555, 7777, payload);
	if (kind == IN_BAD_LEN) {
		put16(p + 2, (uint16_t)(len + 100));
		put16(p + 10, 0);
		put16(p + 10, csum_fold(csum_add(0, p, 20)));
	}
	return len;
}

static int seal(uint8_t *out, const uint8_t *in, size_t len, uint64_t counter, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = { 0 };
	int n, ok;

	put_le(nonce + 4, counter, 8);
	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     (len == 0 || EVP_EncryptUpdate(ctx, out, &n, in, (int)len)) &&
	     EVP_EncryptFinal_ex(ctx, out + len, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Transport message: header, AEAD of the plaintext zero-padded to min(MTU, roundup16). */
static size_t wg_data(uint8_t *out, uint32_t index, uint64_t counter, const uint8_t *plain, size_t len,
		      const uint8_t key[32])
{
	uint8_t padded[FRAME_MAX] = { 0 };
	size_t plen = (len + 15) & ~(size_t)15;

	if (plen > MTU)
		plen = MTU > len ? MTU : len;
	memcpy(padded, plain, len);
	out[0] = 4;
	out[1] = out[2] = out[3] = 0;
	put_le(out + 4, index, 4);
	put_le(out + 8, counter, 8);
	if (seal(out + 16, padded, plen, counter, key))
		abort();
	return 16 + plen + 16;
}

/* A handshake-looking message of the exact size for its type; the agent's business. */
static size_t wg_other(uint8_t *out, int type, size_t size)
{
	for (size_t i = 0; i < size; i++)
		out[i] = (uint8_t)(i * 13 + 1);
	out[0] = (uint8_t)type;
	out[1] = out[2] = out[3] = 0;
	return size;
}

/* Ethernet + outer IP + UDP around wg (wg_len bytes). */
static void outer_frame(struct frame *fr, int family, uint8_t opt_words, uint16_t dport, const uint8_t *wg,
			size_t wg_len)
{
	static const uint8_t macs[12] = { 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	size_t l3 = family == 4 ? 20 + 4u * opt_words : 40;

	memcpy(fr->b, macs, 12);
	put16(fr->b + 12, family == 4 ? 0x0800 : 0x86dd);
	memcpy(fr->b + 14 + l3 + 8, wg, wg_len);
	fr->len = 14 + ip_udp(fr->b + 14, family, family == 4 ? "192.0.2.1" : "2001:db8::1",
			      family == 4 ? "192.0.2.2" : "2001:db8::2", opt_words, 40000, dport, wg_len);
	fr->wg_off = 14 + l3 + 8;
}

/* ---------------------------------------------------------------- the test device in the rx maps */

#define PORT		51820
#define LO_IFINDEX	1

/* Keypairs (local receiver indices) and peers of the test device. */
#define KP_A		0x0a0a0a0au	/* peer 1, fresh: the fixtures' main keypair */
#define KP_EXPIRED	0x0b0b0b0bu	/* peer 1, 181 s old */
#define KP_OFF		0x0c0c0c0cu	/* peer 1, not valid for receiving */
#define KP_EVENTS	0x0d0d0d0du	/* peer 4, initiator, 170 s old */
#define KP_E2E		0x0e0e0e0eu	/* peer 1, for the netns test */
#define KP_VECTOR	0x55667788u	/* peer 3, the protocol digest's transport vector (wire 88776655) */
#define KP_UNKNOWN	0x99999999u
#define KP_AGENT	0x0f0f0f0fu	/* peer 5, fresh, but the peer is marked XWG_PEER_F_AGENT */
#define PEER_A		1
#define PEER_B		2		/* owns 10.99.0.0/24 and fd00::/64 around peer A's /32 and /128 */
#define PEER_VECTOR	3
#define PEER_EVENTS	4
#define PEER_AGENT	5

enum { OUT_ANY, OUT_SAME, OUT_INNER };
enum {
	MUT_NONE, MUT_FLIP_CT, MUT_FLIP_TAG, MUT_RESERVED, MUT_TYPE1, MUT_TYPE2, MUT_TYPE3, MUT_TRUNC,
	MUT_UDPLEN, MUT_PORT, MUT_TCP, MUT_FRAG, MUT_ARP, MUT_IPOPT, MUT_V6EXT, MUT_GARBAGE, MUT_RUNT,
};

static struct rx_bpf *skel;
static uint8_t key_a[32], key_vector[32];

static inline int set_config_bulk(uint32_t tun_ifindex, uint32_t flags, uint32_t rx_bulk_len)
{
	struct xwg_dev_config c = { .tun_ifindex = tun_ifindex, .flags = flags, .listen_port = htons(PORT),
				    .rx_bulk_len = rx_bulk_len };
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_config), &zero, &c, BPF_ANY);
}

static inline int set_config(uint32_t tun_ifindex, uint32_t flags)
{
	struct xwg_dev_config c = { .tun_ifindex = tun_ifindex, .flags = flags, .listen_port = htons(PORT) };
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_config), &zero, &c, BPF_ANY);
}

static inline int add_keypair(uint32_t index, uint32_t peer, const uint8_t key[32], uint64_t age_s, uint32_t flags)
{
	struct xwg_keypair kp;

	memset(&kp, 0, sizeof(kp));
	memcpy(kp.recv_key, key, 32);
	kp.birthdate_ns = mono_ns() - age_s * 1000000000ull;
	kp.peer_id = peer;
	kp.flags = flags;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp, BPF_ANY);
}

static inline int add_allowed(int family, const char *addr, uint32_t plen, uint32_t peer)
{
	struct xwg_lpm4_key k4 = { .prefixlen = plen };
	struct xwg_lpm6_key k6 = { .prefixlen = plen };

	if (family == 4) {
		pton(4, addr, k4.addr);
		return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_allowedips4), &k4, &peer, BPF_ANY);
	}
	pton(6, addr, k6.addr);
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_allowedips6), &k6, &peer, BPF_ANY);
}

/* The endpoint the v4 fixture frames come from, as the receive path must report it. */
static inline struct xwg_endpoint fixture_endpoint(void)
{
	struct xwg_endpoint ep = { .family = XWG_AF_INET, .port = htons(40000), .ifindex = LO_IFINDEX };

	pton(4, "192.0.2.1", ep.addr);
	pton(4, "192.0.2.2", ep.local);
	return ep;
}

static inline int set_peer(uint32_t peer, const struct xwg_endpoint *ep)
{
	struct xwg_peer p = { .endpoint = *ep };

	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_peers), &peer, &p, BPF_ANY);
}

static inline int set_peer_flags(uint32_t peer, uint32_t flags)
{
	struct xwg_peer p;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_peers), &peer, &p))
		return -1;
	p.flags = flags;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_peers), &peer, &p, BPF_ANY);
}

/* Loads rx.bpf.o and fills its maps with the keypairs, peers and allowed IPs above. 0 or -1. */
static inline int rx_device_setup(void)
{
	struct xwg_endpoint ep = fixture_endpoint(), other = ep;
	int err = 0;

	skel = rx_bpf__open();
	/* Two CPUs, so the spreading code is loaded (and off until a test sets XWG_CFG_F_RX_SPREAD). */
	if (skel) {
		skel->rodata->rx_ncpus = 2;
		if (rx_bpf__load(skel)) {
			rx_bpf__destroy(skel);
			skel = NULL;
		}
	}
	if (bpf_test_setup(skel ? skel->obj : NULL))
		return -1;
	for (int i = 0; i < 32; i++)
		key_a[i] = (uint8_t)(0xa0 + i * 5);
	test_unhex(key_vector, "d8dad548f3dd84b4ffc41cd1d570dd29e5877cd705cbd55d9a324001f7a04797");
	other.port = htons(1);
	err |= set_config(LO_IFINDEX, XWG_CFG_F_RX);
	err |= add_keypair(KP_A, PEER_A, key_a, 1, XWG_KP_F_RECV_VALID);
	err |= add_keypair(KP_EXPIRED, PEER_A, key_a, 181, XWG_KP_F_RECV_VALID);
	err |= add_keypair(KP_OFF, PEER_A, key_a, 1, 0);
	err |= add_keypair(KP_EVENTS, PEER_EVENTS, key_a, 170, XWG_KP_F_RECV_VALID | XWG_KP_F_INITIATOR);
	err |= add_keypair(KP_VECTOR, PEER_VECTOR, key_vector, 1, XWG_KP_F_RECV_VALID);
	err |= set_peer(PEER_A, &ep);
	err |= set_peer(PEER_EVENTS, &other);
	err |= add_keypair(KP_AGENT, PEER_AGENT, key_a, 1, XWG_KP_F_RECV_VALID);
	err |= set_peer(PEER_AGENT, &ep);
	err |= set_peer_flags(PEER_AGENT, XWG_PEER_F_AGENT);
	err |= add_allowed(4, "10.99.0.0", 24, PEER_B);
	err |= add_allowed(4, "10.99.0.2", 32, PEER_A);
	err |= add_allowed(6, "fd00::", 64, PEER_B);
	err |= add_allowed(6, "fd00::2", 128, PEER_A);
	return err ? -1 : 0;
}

/* ---------------------------------------------------------------- shared receive checks */

/* One run of a receive program: its verdict and the packet it left. */
struct run {
	int verdict;
	uint8_t out[FRAME_MAX + 64];
	size_t out_len;
	size_t meta_len;	/* XDP only: data - data_meta */
};

typedef int (*rx_run_fn)(const uint8_t *pkt, size_t len, struct run *r);

/* ---------------------------------------------------------------- fixtures of the receive programs */

/* Fixture tables leave the trailing (ECN) fields out where they are zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct fixture {
	const char *name;
	int outer;		/* 4 or 6 */
	int inner;		/* IN_* */
	const char *src;	/* inner source; NULL: the peer's own address */
	size_t payload;		/* inner UDP payload bytes */
	uint32_t index;
	uint64_t counter;
	int mutate;		/* MUT_*, applied to the finished frame */
	int verdict;		/* the program's verdict */
	int reason;		/* the one xwg_reasons counter that must move */
	int out;		/* OUT_INNER: Ethernet + inner packet (XDP: + mark); OUT_SAME: untouched */
	uint8_t outer_ecn;	/* ECN bits of the outer header ... */
	uint8_t inner_ecn;	/* ... and of the inner packet sent; */
	uint8_t want_ecn;	/* the inner packet's after decapsulation (if either of them is set) */
};

/*
 * RFC 6040 decapsulation (the kernel's INET_ECN_decapsulate), both inner families, in both
 * outer families: outer, inner -> delivered inner. Counters from 11000 on; deliver and drop are
 * the program's verdicts.
 */
#define N_ECT	0
#define ECT1	1
#define ECT0	2
#define CE	3
#define ECN_FIXTURE(name, outer, inner, counter, o, i, w, deliver) \
	{ "ecn " name, outer, inner, NULL, 20, KP_A, counter, MUT_NONE, deliver, XWG_R_OK, OUT_INNER, o, i, w }
#define ECN_FIXTURES_ONE(outer, inner, base, deliver, drop)					\
	ECN_FIXTURE("CE over ECT(0)", outer, inner, base + 0, CE, ECT0, CE, deliver),		\
	ECN_FIXTURE("CE over ECT(1)", outer, inner, base + 1, CE, ECT1, CE, deliver),		\
	ECN_FIXTURE("CE over CE", outer, inner, base + 2, CE, CE, CE, deliver),		\
	ECN_FIXTURE("ECT(0) over not-ECT", outer, inner, base + 3, ECT0, N_ECT, N_ECT, deliver),\
	ECN_FIXTURE("ECT(1) over not-ECT", outer, inner, base + 4, ECT1, N_ECT, N_ECT, deliver),\
	ECN_FIXTURE("ECT(1) over ECT(0)", outer, inner, base + 5, ECT1, ECT0, ECT1, deliver),	\
	ECN_FIXTURE("ECT(0) over ECT(1)", outer, inner, base + 6, ECT0, ECT1, ECT1, deliver),	\
	ECN_FIXTURE("ECT(0) over CE", outer, inner, base + 7, ECT0, CE, CE, deliver),		\
	ECN_FIXTURE("not-ECT over CE", outer, inner, base + 8, N_ECT, CE, CE, deliver),	\
	ECN_FIXTURE("not-ECT over ECT(0)", outer, inner, base + 9, N_ECT, ECT0, ECT0, deliver),\
	{ "ecn CE over not-ECT: dropped", outer, inner, NULL, 20, KP_A, base + 10, MUT_NONE, drop,	\
	  XWG_R_ECN_NOT_ECT, OUT_ANY, CE, N_ECT, 0 }
#define ECN_FIXTURES(deliver, drop)					\
	ECN_FIXTURES_ONE(4, IN_V4, 11000, deliver, drop),		\
	ECN_FIXTURES_ONE(6, IN_V6, 11020, deliver, drop),		\
	ECN_FIXTURES_ONE(4, IN_V6, 11040, deliver, drop),		\
	ECN_FIXTURES_ONE(6, IN_V4, 11060, deliver, drop)

/*
 * auto's per-packet choice (XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN, rx_bulk_len HYBRID_BULK):
 * run after the main table, so counters 10000 and 1000 are committed and too old. A v4-in-v4
 * message carries 32 + roundup16(28 + payload) bytes: 452 is exactly HYBRID_BULK, 436 is 496.
 */
#define HYBRID_BULK	512
#define HYBRID_FIXTURES(pass, deliver, drop)							\
	{ "hybrid: big message to the agent", 4, IN_V4, NULL, 600, KP_A, 12000, MUT_NONE, pass,	\
	  XWG_R_RX_BULK, OUT_SAME },								\
	{ "hybrid: same big message, window untouched", 4, IN_V4, NULL, 600, KP_A, 12000,		\
	  MUT_NONE, pass, XWG_R_RX_BULK, OUT_SAME },						\
	{ "hybrid: exactly rx_bulk_len", 6, IN_V4, NULL, 452, KP_A, 12001, MUT_NONE, pass,	\
	  XWG_R_RX_BULK, OUT_SAME },								\
	{ "hybrid: big, not authenticated here", 4, IN_V4, NULL, 600, KP_A, 12002, MUT_FLIP_TAG,	\
	  pass, XWG_R_RX_BULK, OUT_SAME },							\
	{ "hybrid: big v6 in v6", 6, IN_V6, NULL, 1000, KP_A, 12003, MUT_NONE, pass,		\
	  XWG_R_RX_BULK, OUT_SAME },								\
	{ "hybrid: big, unknown index", 4, IN_V4, NULL, 600, KP_UNKNOWN, 12004, MUT_NONE, drop,	\
	  XWG_R_INDEX_DROP, OUT_ANY },								\
	{ "hybrid: small, unknown index", 4, IN_V4, NULL, 10, KP_UNKNOWN, 12005, MUT_NONE, drop,	\
	  XWG_R_INDEX_DROP, OUT_ANY },								\
	{ "hybrid: big, replayed counter", 4, IN_V4, NULL, 600, KP_A, 10000, MUT_NONE, drop,	\
	  XWG_R_REPLAY, OUT_SAME },								\
	{ "hybrid: big, behind the window", 4, IN_V4, NULL, 600, KP_A, 1000, MUT_NONE, drop,	\
	  XWG_R_REPLAY, OUT_SAME },								\
	{ "hybrid: big, expired keypair", 4, IN_V4, NULL, 600, KP_EXPIRED, 12006, MUT_NONE, pass,	\
	  XWG_R_EXPIRED_KEY, OUT_SAME },							\
	{ "hybrid: big, peer the agent took", 4, IN_V4, NULL, 600, KP_AGENT, 12007, MUT_NONE,	\
	  pass, XWG_R_PEER_AGENT, OUT_SAME },							\
	{ "hybrid: small message decrypted here", 4, IN_V4, NULL, 10, KP_A, 12008, MUT_NONE,	\
	  deliver, XWG_R_OK, OUT_INNER },							\
	{ "hybrid: one below rx_bulk_len", 4, IN_V4, NULL, 436, KP_A, 12009, MUT_NONE, deliver,	\
	  XWG_R_OK, OUT_INNER },									\
	{ "hybrid: keepalive", 4, IN_KEEPALIVE, NULL, 0, KP_A, 12010, MUT_NONE, drop,		\
	  XWG_R_KEEPALIVE, OUT_ANY },								\
	{ "hybrid: small, replayed", 4, IN_V4, NULL, 10, KP_A, 12008, MUT_NONE, drop,		\
	  XWG_R_REPLAY, OUT_SAME },								\
	{ "hybrid: handshake still to the agent", 4, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE1, pass,	\
	  XWG_R_HANDSHAKE, OUT_SAME },								\
	{ "hybrid: 31-byte data message dropped", 4, IN_V4, NULL, 10, KP_A, 12011, MUT_TRUNC,	\
	  drop, XWG_R_BAD_HEADER, OUT_ANY },							\
	{ "hybrid: reserved byte set, dropped", 4, IN_V4, NULL, 600, KP_A, 12012, MUT_RESERVED,	\
	  drop, XWG_R_BAD_HEADER, OUT_ANY },							\
	{ "hybrid: other UDP port untouched", 4, IN_V4, NULL, 600, KP_A, 12013, MUT_PORT, pass,	\
	  XWG_R_NOT_WG, OUT_SAME }

/* Explicit modes (no HYBRID flag, even with rx_bulk_len set): big messages decrypted as before. */
#define NOT_HYBRID_FIXTURES(pass, deliver)							\
	{ "not hybrid: big message decrypted here", 4, IN_V4, NULL, 600, KP_A, 12100, MUT_NONE,	\
	  deliver, XWG_R_OK, OUT_INNER },							\
	{ "not hybrid: hybrid's big message, now decrypted", 4, IN_V4, NULL, 600, KP_A, 12000,	\
	  MUT_NONE, deliver, XWG_R_OK, OUT_INNER },						\
	{ "not hybrid: unknown index to the agent", 4, IN_V4, NULL, 600, KP_UNKNOWN, 12101,	\
	  MUT_NONE, pass, XWG_R_UNKNOWN_INDEX, OUT_SAME }

/* HYBRID without DROP_UNKNOWN (a keypair of the agent's is not in the map): unknown goes up. */
#define HYBRID_KEEP_UNKNOWN_FIXTURES(pass)							\
	{ "hybrid, agent keypair outside: unknown index to the agent", 4, IN_V4, NULL, 600,	\
	  KP_UNKNOWN, 12200, MUT_NONE, pass, XWG_R_UNKNOWN_INDEX, OUT_SAME },			\
	{ "hybrid, agent keypair outside: big still to the agent", 4, IN_V4, NULL, 600, KP_A,	\
	  12201, MUT_NONE, pass, XWG_R_RX_BULK, OUT_SAME }

/* What the fixtures should have counted for peer A. */
static uint64_t peer_a_bytes, peer_a_packets;

/* The WireGuard message alone: for the netns test, where a UDP socket adds the outer headers. */
static inline size_t build_wg(const struct fixture *f, struct frame *fr, uint8_t *wg)
{
	int m = f->mutate;

	memset(fr, 0, sizeof(*fr));
	size_t n;

	fr->inner_len = inner_packet(fr->inner, f->inner, f->src, f->payload);
	fr->inner_proto = f->inner == IN_V6 ? 0x86dd : 0x0800;
	if (m == MUT_TYPE1 || m == MUT_TYPE2 || m == MUT_TYPE3)
		return wg_other(wg, m - MUT_TYPE1 + 1, m == MUT_TYPE1 ? 148 : m == MUT_TYPE2 ? 92 : 64);
	if (f->inner_ecn)
		ip_set_ecn(fr->inner, f->inner_ecn);
	n = wg_data(wg, f->index, f->counter, fr->inner, fr->inner_len,
		    f->index == KP_VECTOR ? key_vector : key_a);
	/* From here on fr->inner is what must come out of the tunnel. */
	if (f->outer_ecn || f->inner_ecn)
		ip_set_ecn(fr->inner, f->want_ecn);
	return n;
}

/* The fixture's frame: outer headers around build_wg(), then its mutation. */
static inline void build(const struct fixture *f, struct frame *fr)
{
	uint8_t wg[FRAME_MAX];
	size_t wg_len = build_wg(f, fr, wg);
	int m = f->mutate;

	if (m == MUT_TRUNC)
		wg_len = 31;
	outer_frame(fr, f->outer, m == MUT_IPOPT ? 1 : 0, m == MUT_PORT ? PORT + 1 : PORT, wg, wg_len);
	if (f->outer_ecn)
		ip_set_ecn(fr->b + 14, f->outer_ecn);

	switch (m) {
	case MUT_FLIP_CT:
		fr->b[fr->wg_off + 16 + fr->inner_len / 2] ^= 0x01;
		break;
	case MUT_FLIP_TAG:
		fr->b[fr->len - 1] ^= 0x80;
		break;
	case MUT_RESERVED:
		fr->b[fr->wg_off + 1] = 1;
		break;
	case MUT_UDPLEN:
		put16(fr->b + fr->wg_off - 4, (uint16_t)(wg_len + 8 + 16));
		break;
	case MUT_TCP:
		fr->b[14 + 9] = 6;
		break;
	case MUT_FRAG:
		fr->b[14 + 6] = 0x20;	/* more fragments */
		break;
	case MUT_V6EXT:
		fr->b[14 + 6] = 0;	/* hop-by-hop options first */
		break;
	case MUT_ARP:
		put16(fr->b + 12, 0x0806);
		break;
	case MUT_GARBAGE:
		for (size_t i = 14; i < fr->len; i++)
			fr->b[i] = (uint8_t)(i * 151 + 77);
		break;
	case MUT_RUNT:
		fr->len = 14 + 20;	/* no UDP header (an skb test run refuses less than IPv4) */
		break;
	}
}

typedef void (*rx_check_fn)(const struct fixture *f, const struct frame *fr, const struct run *r);

/* One fixture through run: its verdict, exactly its one reason counter, then check on the output. */
static inline void rx_run_fixture(const struct fixture *f, rx_run_fn run, rx_check_fn check)
{
	uint64_t before[XWG_R_MAX], after[XWG_R_MAX];
	static struct frame fr;
	static struct run r;

	build(f, &fr);
	reasons_snapshot(before);
	if (run(fr.b, fr.len, &r)) {
		TEST_FAIL("%s: test run failed: %s", f->name, strerror(errno));
		return;
	}
	reasons_snapshot(after);
	if (r.verdict != f->verdict)
		TEST_FAIL("%s: verdict %d, want %d", f->name, r.verdict, f->verdict);
	for (uint32_t i = 0; i < XWG_R_MAX; i++) {
		uint64_t want = before[i] + (i == (uint32_t)f->reason);

		if (after[i] != want)
			TEST_FAIL("%s: counter %s moved by %lld, want %lld", f->name, xwg_reason_key(i),
				  (long long)(after[i] - before[i]), (long long)(want - before[i]));
	}
	check(f, &fr, &r);
	if (f->reason == XWG_R_OK || f->reason == XWG_R_KEEPALIVE) {
		peer_a_bytes += fr.len - fr.wg_off;
		peer_a_packets++;
	}
}

/* Peer A's per-CPU stats hold exactly the delivered and keepalive message bytes (rx_run_fixture counts them). */
static inline void rx_check_peer_stats(void)
{
	struct xwg_peer_stats st = peer_stats(PEER_A);
	uint64_t now = mono_ns();

	ASSERT_TRUE(peer_a_packets > 0);
	ASSERT_EQ(st.rx_packets, peer_a_packets);
	ASSERT_EQ(st.rx_bytes, peer_a_bytes);
	ASSERT_TRUE(st.last_rx_ns > 0 && st.last_rx_ns <= now);
	ASSERT_TRUE(st.last_rx_data_ns > 0 && st.last_rx_data_ns <= st.last_rx_ns);
	ASSERT_EQ(peer_stats(PEER_B).rx_packets, 0);
}

/*
 * The protocol digest's transport messages (section 9.6), decrypted with T1 by the program run
 * calls; drop is its drop verdict, data_family the outer family of the data message.
 */
static inline void rx_digest_vectors(rx_run_fn run, int drop, int data_family)
{
	static const char *keepalive = "040000008877665500000000000000005e51049c33134747b2ca3f7ebf77ae19";
	static const char *data = "040000008877665501000000000000004d9612790c751fff0eec6465c2689ee9"
				  "6885fa0061e34b50741565f2e427a68b26c6d0f330af590e2d5100b5df8eea01";
	static struct frame fr;
	static struct run r;
	uint8_t wg[64], plain[32] = { 0 };
	uint64_t ka, bad;
	size_t n;

	for (int i = 0; i < 20; i++)
		plain[i] = (uint8_t)(i + 1);
	n = test_unhex(wg, keepalive);
	outer_frame(&fr, 4, 0, PORT, wg, n);
	ka = reason_count(XWG_R_KEEPALIVE);
	ASSERT_EQ(run(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, drop);
	ASSERT_EQ(reason_count(XWG_R_KEEPALIVE), ka + 1);

	/* Authentic, but 01 02 .. 14 is no IP packet: dropped after decryption, in place. */
	n = test_unhex(wg, data);
	outer_frame(&fr, data_family, 0, PORT, wg, n);
	bad = reason_count(XWG_R_BAD_INNER);
	ASSERT_EQ(run(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, drop);
	ASSERT_EQ(reason_count(XWG_R_BAD_INNER), bad + 1);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out + fr.wg_off + 16, plain, 32);
	ASSERT_EQ(peer_stats(PEER_VECTOR).rx_packets, 1);	/* the keepalive */
	ASSERT_EQ(peer_stats(PEER_VECTOR).rx_bytes, 32);
}

/* Ring-buffer events collected by rx_event_cb. */
struct events {
	struct xwg_event ev[8];
	int n;
};

static inline int rx_event_cb(void *ctx, void *data, size_t size)
{
	struct events *e = ctx;

	if (size == sizeof(struct xwg_event) && e->n < 8)
		memcpy(&e->ev[e->n++], data, size);
	return 0;
}

static inline const struct xwg_event *find_event(const struct events *e, uint32_t type)
{
	for (int i = 0; i < e->n; i++)
		if (e->ev[i].type == type)
			return &e->ev[i];
	return NULL;
}

/*
 * The hybrid tables in order, each under its configuration: auto dropping unknown indices, auto
 * keeping them for the agent, then an explicit mode with a threshold it must ignore.
 */
#define RUN_HYBRID_FIXTURES(hybrid, keep, not_hybrid, run_fixture) do { \
	ASSERT_EQ(set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN, \
				  HYBRID_BULK), 0); \
	RUN_FIXTURES(hybrid, run_fixture); \
	ASSERT_EQ(set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_HYBRID, HYBRID_BULK), 0); \
	RUN_FIXTURES(keep, run_fixture); \
	ASSERT_EQ(set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX, HYBRID_BULK), 0); \
	RUN_FIXTURES(not_hybrid, run_fixture); \
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0); \
} while (0)

#endif

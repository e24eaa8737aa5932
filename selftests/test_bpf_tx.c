/* SPDX-License-Identifier: GPL-2.0 */
/* Tests the BPF transmit path (bpf/tx.bpf.c): BPF_PROG_TEST_RUN fixtures, OpenSSL and xwg_rx cross-checks, a netns. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "test.h"
#include "bpf_test.h"
#include "messages.h"
#include "xwg_maps.h"
#include "tx.skel.h"
#include "rx.skel.h"

#define PORT		51820	/* our listen port: the outer source port */
#define PEER_PORT	51821	/* every test endpoint's port, and the rx cross-check's listen port */
#define MTU		1420
#define FRAME_MAX	2048
#define LO_IFINDEX	1

/* Test peers; the inner destination picks one (10.<peer>.0.0/24, fd<peer>::/64). */
enum {
	PEER_A = 1,		/* IPv4 endpoint, fresh keypair */
	PEER_B,			/* IPv6 endpoint, fresh keypair */
	PEER_NOEP,		/* no endpoint */
	PEER_NOSRC,		/* endpoint, but no local address learned yet */
	PEER_NOKP,		/* no current keypair */
	PEER_GONE,		/* current keypair index not in the map */
	PEER_EXPIRED,		/* keypair 181 s old */
	PEER_NOSEND,		/* keypair not valid for sending */
	PEER_EXHAUSTED,		/* counter at REJECT_AFTER_MESSAGES */
	PEER_AGENT,		/* usable, but the agent marked it XWG_PEER_F_AGENT (a publish failed) */
	PEER_MISSING,		/* allowed IPs point to a peer id that is not in xwg_peers */
	PEER_REKEY,		/* initiator, 121 s old */
	PEER_RESPONDER,		/* responder, 121 s old: no rekey on age */
	PEER_MANY,		/* counter past REKEY_AFTER_MESSAGES */
	NPEERS
};
#define KP_BASE		0x0a000000u	/* local index of peer p's keypair: KP_BASE + p */
#define REMOTE_BASE	0xd1c2b300u	/* its remote index */

enum { K_ICMP4, K_TCP4, K_UDP4, K_TCP6, K_UDP6, K_ICMP6, K_FRAG4, K_V6EXT, K_ARP };
enum { CS_GOOD, CS_PARTIAL, CS_GARBAGE, CS_ZERO };
/* M_HYBRID*: auto's per-packet choice (XWG_CFG_F_HYBRID) for this one run. */
enum { M_NONE, M_GSO, M_TRUNC_LEN, M_DISABLED, M_HYBRID, M_HYBRID_GSO, M_HYBRID_BIG };

struct fixture {
	const char *name;
	int kind;		/* K_*: the inner packet */
	int peer;		/* destination owner; 0: nobody */
	size_t payload;		/* L4 payload bytes */
	int csum;		/* CS_*: the inner L4 checksum as it reaches TC */
	uint8_t tos;		/* inner TOS / traffic class */
	int mutate;		/* M_* */
	int verdict;		/* TC_ACT_REDIRECT or TC_ACT_UNSPEC */
	int reason;		/* the one xwg_reasons counter that must move */
};

/*
 * CS_PARTIAL puts into the field what a CHECKSUM_PARTIAL skb carries there; a test run cannot
 * make the skb itself CHECKSUM_PARTIAL (that layout is the netns test's job, with real TCP/UDP).
 */
static const struct fixture fixtures[] = {
	{ "ICMP echo in v4", K_ICMP4, PEER_A, 56, CS_GOOD, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "TCP, partial checksum", K_TCP4, PEER_A, 100, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "TCP, garbage checksum", K_TCP4, PEER_A, 333, CS_GARBAGE, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "UDP", K_UDP4, PEER_A, 33, CS_GARBAGE, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "UDP without checksum stays so", K_UDP4, PEER_A, 1, CS_ZERO, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "UDP, empty payload", K_UDP4, PEER_A, 0, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "ECT(1) copied", K_UDP4, PEER_A, 64, CS_GOOD, 0xb9, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "CE becomes ECT(0)", K_TCP4, PEER_A, 64, CS_GOOD, 0x03, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "DSCP without ECN: not-ECT outside", K_UDP4, PEER_A, 20, CS_GOOD, 0xb8, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "ECT(0) in v4 over v6", K_UDP4, PEER_B, 20, CS_GOOD, 0x02, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "CE in v6 over v6 becomes ECT(0)", K_UDP6, PEER_B, 20, CS_GOOD, 0x23, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "ECT(1) in v6 over v4", K_TCP6, PEER_A, 20, CS_GOOD, 0x01, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "IPv4 fragment left alone", K_FRAG4, PEER_A, 200, CS_GARBAGE, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "TCP in v6 (6-in-4)", K_TCP6, PEER_A, 200, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "TCP in v6 over v6", K_TCP6, PEER_B, 1000, CS_GARBAGE, 0x21, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "UDP in v6", K_UDP6, PEER_B, 7, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "ICMPv6 echo", K_ICMP6, PEER_B, 56, CS_GARBAGE, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "v4 over v6 (4-in-6)", K_UDP4, PEER_B, 500, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "MTU-sized: padding capped", K_UDP4, PEER_A, MTU - 28, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "MTU-sized v6 over v6", K_TCP6, PEER_B, MTU - 60, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "one byte under a multiple of 16", K_UDP4, PEER_A, 35, CS_GOOD, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "one byte over the MTU", K_UDP4, PEER_A, MTU - 27, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_TOO_BIG },
	{ "GSO super-packet", K_TCP4, PEER_A, 1000, CS_PARTIAL, 0, M_GSO, TC_ACT_UNSPEC, XWG_R_TX_GSO },
	{ "hybrid: GSO super-packet to the batched path", K_TCP4, PEER_A, 1000, CS_PARTIAL, 0, M_HYBRID_GSO,
	  TC_ACT_UNSPEC, XWG_R_TX_BULK },
	{ "hybrid: single packet encrypted here", K_TCP4, PEER_A, 1000, CS_PARTIAL, 0, M_HYBRID,
	  TC_ACT_REDIRECT, XWG_R_TX_OK },
	/* With tx_bulk_len 600 (M_HYBRID_BIG): from 600 inner bytes up to the agent, below it here. */
	{ "hybrid: big single packet to the batched path", K_TCP4, PEER_A, 1000, CS_PARTIAL, 0, M_HYBRID_BIG,
	  TC_ACT_UNSPEC, XWG_R_TX_BULK },
	{ "hybrid: packet at tx_bulk_len to the batched path", K_UDP4, PEER_A, 600 - 28, CS_GOOD, 0,
	  M_HYBRID_BIG, TC_ACT_UNSPEC, XWG_R_TX_BULK },
	{ "hybrid: packet under tx_bulk_len encrypted here", K_UDP4, PEER_A, 599 - 28, CS_GOOD, 0, M_HYBRID_BIG,
	  TC_ACT_REDIRECT, XWG_R_TX_OK },
	{ "nobody's destination", K_UDP4, 0, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_PEER },
	{ "nobody's v6 destination", K_UDP6, 0, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_PEER },
	{ "allowed IP of a removed peer", K_UDP4, PEER_MISSING, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_PEER },
	{ "peer the agent took out of BPF", K_UDP4, PEER_AGENT, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_PEER_AGENT },
	{ "peer without endpoint", K_UDP4, PEER_NOEP, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_ENDPOINT },
	{ "endpoint without source", K_UDP4, PEER_NOSRC, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_ENDPOINT },
	{ "no current keypair", K_UDP4, PEER_NOKP, 10, CS_PARTIAL, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_KEYPAIR },
	{ "current keypair deleted", K_TCP6, PEER_GONE, 10, CS_PARTIAL, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NO_KEYPAIR },
	{ "expired keypair", K_TCP4, PEER_EXPIRED, 10, CS_PARTIAL, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_EXPIRED_KEY },
	{ "keypair not for sending", K_UDP4, PEER_NOSEND, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_EXPIRED_KEY },
	{ "counter exhausted", K_UDP4, PEER_EXHAUSTED, 10, CS_PARTIAL, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_EXHAUSTED },
	{ "IPv6 extension header", K_V6EXT, PEER_A, 10, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NOT_IP },
	{ "IP length beyond the packet", K_UDP4, PEER_A, 10, CS_GOOD, 0, M_TRUNC_LEN, TC_ACT_UNSPEC, XWG_R_TX_NOT_IP },
	{ "ARP", K_ARP, PEER_A, 0, CS_GOOD, 0, M_NONE, TC_ACT_UNSPEC, XWG_R_TX_NOT_IP },
	{ "transmit offload off", K_UDP4, PEER_A, 10, CS_GOOD, 0, M_DISABLED, TC_ACT_UNSPEC, XWG_R_TX_DISABLED },
	{ "still in sync after all that", K_TCP4, PEER_A, 1, CS_PARTIAL, 0, M_NONE, TC_ACT_REDIRECT, XWG_R_TX_OK },
};

/* The outer TTL / hop limit each peer's map entry carries (0: unknown) and what must go out. */
static uint8_t hop_limits[NPEERS] = { [PEER_A] = 33, [PEER_B] = 77 };

static uint8_t hop_limit_want(int peer)
{
	return hop_limits[peer] ? hop_limits[peer] : 64;
}

static struct tx_bpf *skel;
static struct rx_bpf *rx;		/* the peer's receive path, for the cross-check */
static uint8_t keys[NPEERS][32];
static uint64_t next_counter[NPEERS];	/* what the next packet to each peer must carry */
static uint64_t sent_bytes[NPEERS], sent_packets[NPEERS];

/* ---------------------------------------------------------------- packet building */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Pseudo-header sum (not folded, not inverted) for an L4 segment of len bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t len)
{
	if (ip[0] >> 4 == 4)
		return csum_add(0, ip + 12, 8) + proto + (uint32_t)len;
	return csum_add(0, ip + 8, 32) + proto + (uint32_t)len;
}

static void peer_addr(int family, int peer, uint8_t *out)
{
	char buf[64];

	if (family == 4)
		snprintf(buf, sizeof(buf), "10.%d.0.%d", peer ? peer : 99, 5);
	else
		snprintf(buf, sizeof(buf), "fd%02x::5", peer ? peer : 0x99);
	pton(family, buf, out);
}

/* The checksum the inner packet must carry on the wire (0 means none, for UDP over IPv4). */
static void l4_finish(uint8_t *ip, size_t l3, size_t len, uint8_t proto, int csum_off, int cs)
{
	uint8_t *l4 = ip + l3, *field = l4 + csum_off;
	uint32_t sum = proto == 1 ? 0 : pseudo_sum(ip, proto, len - l3);
	uint16_t good;

	put16(field, 0);
	good = csum_fold(csum_add(sum, l4, len - l3));
	if (proto == 17 && !good)
		good = 0xffff;
	switch (cs) {
	case CS_GOOD:
		put16(field, good);
		break;
	case CS_PARTIAL:	/* what CHECKSUM_PARTIAL leaves: the folded pseudo-header, not inverted */
		put16(field, (uint16_t)~csum_fold(sum));
		break;
	case CS_GARBAGE:
		put16(field, 0x1234);
		break;
	case CS_ZERO:
		break;
	}
}

/*
 * The inner packet as it reaches TC egress (in), and as the peer must decrypt it (want: the
 * same with the L4 checksum computed). Returns the inner length; *proto is its Ethernet type.
 */
static size_t inner_packet(const struct fixture *f, uint8_t *in, uint8_t *want, uint16_t *proto)
{
	int v6 = f->kind == K_TCP6 || f->kind == K_UDP6 || f->kind == K_ICMP6 || f->kind == K_V6EXT;
	size_t l3 = v6 ? 40 : 20, l4h, len;
	uint8_t l4proto;
	int csum_off;

	switch (f->kind) {
	case K_TCP4: case K_TCP6:
		l4proto = 6, l4h = 20, csum_off = 16;
		break;
	case K_ICMP4:
		l4proto = 1, l4h = 8, csum_off = 2;
		break;
	case K_ICMP6:
		l4proto = 58, l4h = 8, csum_off = 2;
		break;
	default:
		l4proto = 17, l4h = 8, csum_off = 6;
	}
	len = l3 + l4h + f->payload;
	memset(in, 0, len);
	*proto = v6 ? ETH_P_IPV6 : ETH_P_IP;
	if (f->kind == K_ARP) {
		*proto = ETH_P_ARP;
		memset(in, 0x42, 28);
		memcpy(want, in, 28);
		return 28;
	}
	if (v6) {
		in[0] = (uint8_t)(0x60 | f->tos >> 4);
		in[1] = (uint8_t)(f->tos << 4);
		put16(in + 4, (uint16_t)(len - 40));
		in[6] = f->kind == K_V6EXT ? 0 : l4proto;
		in[7] = 64;
		pton(6, "fd00::1", in + 8);
		peer_addr(6, f->peer, in + 24);
	} else {
		in[0] = 0x45;
		in[1] = f->tos;
		put16(in + 2, (uint16_t)len);
		put16(in + 4, 0x4242);
		if (f->kind == K_FRAG4)
			put16(in + 6, 0x2000);	/* more fragments, offset 0 */
		in[8] = 64;
		in[9] = l4proto;
		pton(4, "10.0.0.1", in + 12);
		peer_addr(4, f->peer, in + 16);
		put16(in + 10, csum_fold(csum_add(0, in, 20)));
	}
	in[l3] = l4proto == 1 ? 8 : l4proto == 58 ? 128 : 0x9c;	/* echo request / source port */
	in[l3 + 1] = 0x40;
	put16(in + l3 + 2, 80);
	if (l4proto == 17)
		put16(in + l3 + 4, (uint16_t)(len - l3));
	if (l4proto == 6) {
		put16(in + l3 + 4, 0x1234);
		in[l3 + 12] = 0x50;	/* data offset 5 */
		in[l3 + 13] = 0x18;	/* PSH ACK */
		put16(in + l3 + 14, 512);
	}
	for (size_t i = 0; i < f->payload; i++)
		in[l3 + l4h + i] = (uint8_t)(i * 7 + 3);
	memcpy(want, in, len);
	l4_finish(want, l3, len, l4proto, csum_off, f->csum == CS_ZERO ? CS_ZERO : CS_GOOD);
	if (f->kind == K_FRAG4)
		l4_finish(want, l3, len, l4proto, csum_off, f->csum);	/* fragments stay as they are */
	l4_finish(in, l3, len, l4proto, csum_off, f->csum);
	return len;
}

/* The frame BPF_PROG_TEST_RUN hands a TC program: Ethernet (zero MACs) + the inner packet. */
static size_t tc_frame(uint8_t *fr, const uint8_t *inner, size_t len, uint16_t proto)
{
	memset(fr, 0, 12);
	put16(fr + 12, proto);
	memcpy(fr + 14, inner, len);
	return 14 + len;
}

static int open_aead(uint8_t *out, const uint8_t *in, size_t len, uint64_t counter, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = { 0 };
	int n, ok;

	if (len < 16)
		return -1;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
	len -= 16;
	ok = ctx && EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     (len == 0 || EVP_DecryptUpdate(ctx, out, &n, in, (int)len)) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + len)) &&
	     EVP_DecryptFinal_ex(ctx, out + len, &n) > 0;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- BPF plumbing */

struct run {
	int retval;
	uint8_t out[2 * FRAME_MAX];
	size_t out_len;
};

static int run_tc(const uint8_t *pkt, size_t len, struct __sk_buff *ctx, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int err;

	if (ctx) {
		opts.ctx_in = opts.ctx_out = ctx;
		opts.ctx_size_in = opts.ctx_size_out = sizeof(*ctx);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_tx), &opts);
	if (err)
		return err;
	r->retval = (int)opts.retval;
	r->out_len = opts.data_size_out;
	return 0;
}

static uint64_t send_counter(int peer)
{
	struct xwg_keypair kp;
	uint32_t index = KP_BASE + (uint32_t)peer;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp))
		return ~0ull;
	return kp.send_counter;
}

static int set_config_all(uint32_t flags, uint16_t mtu, uint32_t fwmark, uint32_t tx_bulk_len)
{
	struct xwg_dev_config c = { .flags = flags, .listen_port = htons(PORT), .mtu = mtu, .fwmark = fwmark,
				    .tx_bulk_len = tx_bulk_len };
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_config), &zero, &c, BPF_ANY);
}

static int set_config_mark(uint32_t flags, uint16_t mtu, uint32_t fwmark)
{
	return set_config_all(flags, mtu, fwmark, 0);
}

static int set_config_bulk(uint32_t flags, uint16_t mtu, uint32_t tx_bulk_len)
{
	return set_config_all(flags, mtu, 0, tx_bulk_len);
}

static int set_config(uint32_t flags, uint16_t mtu)
{
	return set_config_mark(flags, mtu, 0);
}

/* Peer p: endpoint of the given family (0: none), current keypair KP_BASE + p if has_kp. */
static int set_peer(int p, int family, int with_source, int has_kp, uint32_t ifindex)
{
	struct xwg_peer peer = { .current_index = KP_BASE + (uint32_t)p };
	struct xwg_endpoint *ep = &peer.endpoint;

	if (family) {
		ep->family = family == 4 ? XWG_AF_INET : XWG_AF_INET6;
		ep->port = htons(PEER_PORT);
		ep->ifindex = ifindex;
		pton(family, family == 4 ? "192.0.2.2" : "2001:db8::2", ep->addr);
		if (with_source)
			pton(family, family == 4 ? "192.0.2.1" : "2001:db8::1", ep->local);
	}
	peer.flags = has_kp ? XWG_PEER_F_HAS_CURRENT : 0;
	peer.hop_limit = hop_limits[p];
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_peers), &p, &peer, BPF_ANY);
}

static int set_peer_flags(int p, uint32_t flags)
{
	struct xwg_peer peer;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_peers), &p, &peer))
		return -1;
	peer.flags = flags;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_peers), &p, &peer, BPF_ANY);
}

static int add_keypair(int p, uint64_t age_s, uint32_t flags, uint64_t counter)
{
	struct xwg_keypair kp;
	uint32_t index = KP_BASE + (uint32_t)p;

	memset(&kp, 0, sizeof(kp));
	memcpy(kp.send_key, keys[p], 32);
	kp.birthdate_ns = mono_ns() - age_s * 1000000000ull;
	kp.send_counter = counter;
	kp.remote_index = REMOTE_BASE + (uint32_t)p;
	kp.peer_id = (uint32_t)p;
	kp.flags = flags;
	next_counter[p] = counter;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp, BPF_ANY);
}

static int add_allowed(int fd4, int fd6, int p, uint32_t owner)
{
	struct xwg_lpm4_key k4 = { .prefixlen = 24 };
	struct xwg_lpm6_key k6 = { .prefixlen = 64 };

	peer_addr(4, p, k4.addr);
	k4.addr[3] = 0;
	peer_addr(6, p, k6.addr);
	k6.addr[15] = 0;
	return bpf_map_update_elem(fd4, &k4, &owner, BPF_ANY) | bpf_map_update_elem(fd6, &k6, &owner, BPF_ANY);
}

/* The peer's side: xwg_rx with the mirrored keypairs, receiving on PEER_PORT. */
static int setup_rx(void)
{
	struct xwg_dev_config c = { .tun_ifindex = LO_IFINDEX, .flags = XWG_CFG_F_RX, .listen_port = htons(PEER_PORT) };
	struct xwg_lpm4_key k4 = { .prefixlen = 32 };
	struct xwg_lpm6_key k6 = { .prefixlen = 128 };
	uint32_t zero = 0, rx_peer = 1;
	int err = 0;

	rx = rx_bpf__open_and_load();
	if (!rx)
		return -1;
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_config), &zero, &c, BPF_ANY);
	for (int p = PEER_A; p <= PEER_B; p++) {
		struct xwg_keypair kp;
		uint32_t index = REMOTE_BASE + (uint32_t)p;

		memset(&kp, 0, sizeof(kp));
		memcpy(kp.recv_key, keys[p], 32);
		kp.birthdate_ns = mono_ns();
		kp.peer_id = rx_peer;
		kp.flags = XWG_KP_F_RECV_VALID;
		err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_keypairs), &index, &kp, BPF_ANY);
	}
	pton(4, "10.0.0.1", k4.addr);
	pton(6, "fd00::1", k6.addr);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_allowedips4), &k4, &rx_peer, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_allowedips6), &k6, &rx_peer, BPF_ANY);
	return err ? -1 : 0;
}

static int setup(void)
{
	int fd4, fd6, err = 0;

	skel = tx_bpf__open_and_load();
	if (bpf_test_setup(skel ? skel->obj : NULL))
		return -1;
	for (int p = 0; p < NPEERS; p++)
		for (int i = 0; i < 32; i++)
			keys[p][i] = (uint8_t)(p * 17 + i * 5 + 1);
	fd4 = bpf_map__fd(skel->maps.xwg_allowedips4);
	fd6 = bpf_map__fd(skel->maps.xwg_allowedips6);
	err |= set_config(XWG_CFG_F_TX, MTU);
	for (int p = PEER_A; p < NPEERS; p++)
		err |= add_allowed(fd4, fd6, p, (uint32_t)p);
	err |= set_peer(PEER_A, 4, 1, 1, LO_IFINDEX);
	err |= set_peer(PEER_B, 6, 1, 1, LO_IFINDEX);
	err |= set_peer(PEER_NOEP, 0, 0, 1, 0);
	err |= set_peer(PEER_NOSRC, 4, 0, 1, LO_IFINDEX);
	err |= set_peer(PEER_NOKP, 4, 1, 0, LO_IFINDEX);
	for (int p = PEER_GONE; p < NPEERS; p++)
		if (p != PEER_MISSING)
			err |= set_peer(p, 4, 1, 1, LO_IFINDEX);
	err |= add_keypair(PEER_A, 1, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_B, 1, XWG_KP_F_SEND_VALID | XWG_KP_F_INITIATOR, 0);
	err |= add_keypair(PEER_NOEP, 1, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_NOSRC, 1, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_NOKP, 1, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_EXPIRED, 181, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_NOSEND, 1, XWG_KP_F_RECV_VALID, 0);
	err |= add_keypair(PEER_EXHAUSTED, 1, XWG_KP_F_SEND_VALID, REJECT_AFTER_MESSAGES);
	err |= add_keypair(PEER_AGENT, 1, XWG_KP_F_SEND_VALID, 0);
	err |= set_peer_flags(PEER_AGENT, XWG_PEER_F_HAS_CURRENT | XWG_PEER_F_AGENT);
	err |= add_keypair(PEER_REKEY, 121, XWG_KP_F_SEND_VALID | XWG_KP_F_INITIATOR, 0);
	err |= add_keypair(PEER_RESPONDER, 121, XWG_KP_F_SEND_VALID, 0);
	err |= add_keypair(PEER_MANY, 1, XWG_KP_F_SEND_VALID, REKEY_AFTER_MESSAGES);
	return err ? -1 : setup_rx();
}

/* ---------------------------------------------------------------- checks */

/* Outer headers, WireGuard header, OpenSSL decryption, the inner checksum; returns the plaintext length. */
static size_t check_wire(const struct fixture *f, const struct run *r, const uint8_t *want, size_t want_len,
			 uint8_t *plain)
{
	int v6 = f->peer == PEER_B;
	size_t l3 = v6 ? 40 : 20, padded = (want_len + 15) & ~(size_t)15, wg_len;
	const uint8_t *ip = r->out + 14, *udp = ip + l3, *wg = udp + 8;
	uint8_t ecn = f->tos & 3;	/* the low bits of the TOS / traffic class either way */
	uint8_t src[16], dst[16];
	uint64_t counter;

	if (padded > MTU)
		padded = MTU;
	wg_len = 32 + padded;
	if (ecn == 3)
		ecn = 2;
	ASSERT_EQ(r->out_len, 14 + l3 + 8 + wg_len);
	if (r->out_len != 14 + l3 + 8 + wg_len)
		return 0;
	for (int i = 0; i < 12; i++)
		ASSERT_EQ(r->out[i], 0);
	ASSERT_EQ(get16(r->out + 12), v6 ? ETH_P_IPV6 : ETH_P_IP);
	pton(v6 ? 6 : 4, v6 ? "2001:db8::1" : "192.0.2.1", src);
	pton(v6 ? 6 : 4, v6 ? "2001:db8::2" : "192.0.2.2", dst);
	if (v6) {
		ASSERT_EQ(ip[0], 0x60 | ecn >> 4);
		ASSERT_EQ(ip[1], (uint8_t)(ecn << 4));
		ASSERT_EQ(ip[2] | ip[3], 0);
		ASSERT_EQ(get16(ip + 4), 8 + wg_len);
		ASSERT_EQ(ip[6], 17);
		ASSERT_EQ(ip[7], hop_limit_want(f->peer));
		ASSERT_MEMEQ(ip + 8, src, 16);
		ASSERT_MEMEQ(ip + 24, dst, 16);
	} else {
		ASSERT_EQ(ip[0], 0x45);
		ASSERT_EQ(ip[1], ecn);
		ASSERT_EQ(get16(ip + 2), 20 + 8 + wg_len);
		ASSERT_EQ(get16(ip + 6), 0);	/* DF off, no fragment */
		ASSERT_EQ(ip[8], hop_limit_want(f->peer));
		ASSERT_EQ(ip[9], 17);
		ASSERT_EQ(csum_fold(csum_add(0, ip, 20)), 0);
		ASSERT_MEMEQ(ip + 12, src, 4);
		ASSERT_MEMEQ(ip + 16, dst, 4);
	}
	ASSERT_EQ(get16(udp), PORT);
	ASSERT_EQ(get16(udp + 2), PEER_PORT);
	ASSERT_EQ(get16(udp + 4), 8 + wg_len);
	ASSERT_NE(get16(udp + 6), 0);
	ASSERT_EQ(csum_fold(csum_add(pseudo_sum(ip, 17, 8 + wg_len), udp, 8 + wg_len)), 0);
	ASSERT_EQ(get_le(wg, 4), 4);
	ASSERT_EQ(get_le(wg + 4, 4), REMOTE_BASE + (uint32_t)f->peer);
	counter = get_le(wg + 8, 8);
	ASSERT_EQ(counter, next_counter[f->peer]);
	next_counter[f->peer] = counter + 1;
	if (open_aead(plain, wg + 16, wg_len - 16, counter, keys[f->peer])) {
		TEST_FAIL("%s: OpenSSL cannot open the message", f->name);
		return 0;
	}
	ASSERT_MEMEQ(plain, want, want_len);
	for (size_t i = want_len; i < padded; i++)
		if (plain[i])
			TEST_FAIL("%s: padding byte %zu is %u", f->name, i, plain[i]);
	sent_bytes[f->peer] += wg_len;
	sent_packets[f->peer]++;
	return padded;
}

/* An independent look at the decrypted inner L4 checksum. */
static void check_inner_csum(const struct fixture *f, const uint8_t *p, size_t len)
{
	size_t l3 = p[0] >> 4 == 6 ? 40 : 20;
	uint8_t proto = l3 == 40 ? p[6] : p[9];

	if (f->kind == K_FRAG4)
		return;
	if (proto == 17 && l3 == 20 && f->csum == CS_ZERO) {
		ASSERT_EQ(get16(p + l3 + 6), 0);
		return;
	}
	ASSERT_EQ(csum_fold(csum_add(proto == 1 ? 0 : pseudo_sum(p, proto, len - l3), p + l3, len - l3)), 0);
}

/* The strongest check: the peer's xwg_rx takes the frame and hands over the inner packet. */
static void rx_accepts(const char *what, const uint8_t *frame, size_t len, const uint8_t *want, size_t want_len)
{
	struct xdp_md in = { .data_end = (uint32_t)len, .ingress_ifindex = LO_IFINDEX }, out = { 0 };
	uint8_t got[2 * FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = got, .data_size_out = sizeof(got), .ctx_in = &in, .ctx_size_in = sizeof(in),
		    .ctx_out = &out, .ctx_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(rx->progs.xwg_rx), &opts)) {
		TEST_FAIL("%s: xwg_rx test run: %s", what, strerror(errno));
		return;
	}
	/* Padding and tag are left for xwg_rx_tc to trim: the mark says how much is the packet. */
	if (opts.retval != XDP_PASS || out.data != sizeof(struct xwg_rx_meta) ||
	    ((struct xwg_rx_meta *)got)->mark.keep != 14 + want_len ||
	    opts.data_size_out < sizeof(struct xwg_rx_meta) + 14 + want_len) {
		TEST_FAIL("%s: xwg_rx did not deliver it (verdict %u, %u bytes)", what, opts.retval,
			  opts.data_size_out);
		return;
	}
	ASSERT_MEMEQ(got + sizeof(struct xwg_rx_meta) + 14, want, want_len);
}

static void run_fixture(const struct fixture *f)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX], frame[FRAME_MAX], plain[FRAME_MAX];
	uint64_t before[XWG_R_MAX], after[XWG_R_MAX], counter = f->peer ? send_counter(f->peer) : 0;
	struct __sk_buff ctx = { .gso_segs = 4, .gso_size = 1000 };
	uint16_t proto;
	size_t len = inner_packet(f, in, want, &proto), flen;
	struct run r;

	if (f->mutate == M_TRUNC_LEN)
		put16(in + 2, (uint16_t)(len + 1));
	flen = tc_frame(frame, in, len, proto);
	if (f->mutate == M_DISABLED)
		ASSERT_EQ(set_config(0, MTU), 0);
	if (f->mutate == M_HYBRID || f->mutate == M_HYBRID_GSO)
		ASSERT_EQ(set_config(XWG_CFG_F_TX | XWG_CFG_F_HYBRID, MTU), 0);
	if (f->mutate == M_HYBRID_BIG)
		ASSERT_EQ(set_config_bulk(XWG_CFG_F_TX | XWG_CFG_F_HYBRID, MTU, 600), 0);
	for (uint32_t i = 0; i < XWG_R_MAX; i++)
		before[i] = reason_count(i);
	if (run_tc(frame, flen, f->mutate == M_GSO || f->mutate == M_HYBRID_GSO ? &ctx : NULL, &r)) {
		TEST_FAIL("%s: test run failed: %s", f->name, strerror(errno));
		return;
	}
	for (uint32_t i = 0; i < XWG_R_MAX; i++)
		after[i] = reason_count(i);
	if (f->mutate == M_DISABLED || f->mutate >= M_HYBRID)
		ASSERT_EQ(set_config(XWG_CFG_F_TX, MTU), 0);
	if (r.retval != f->verdict)
		TEST_FAIL("%s: verdict %d, want %d", f->name, r.retval, f->verdict);
	for (uint32_t i = 0; i < XWG_R_MAX; i++) {
		uint64_t exp = before[i] + (i == (uint32_t)f->reason);

		if (after[i] != exp)
			TEST_FAIL("%s: counter %s moved by %lld, want %lld", f->name, xwg_reason_key(i),
				  (long long)(after[i] - before[i]), (long long)(exp - before[i]));
	}
	if (f->verdict == TC_ACT_UNSPEC) {
		/* The agent gets exactly what came in, and no nonce was spent on it. */
		ASSERT_EQ(r.out_len, flen);
		if (r.out_len == flen)
			ASSERT_MEMEQ(r.out, frame, flen);
		if (f->peer)
			ASSERT_EQ(send_counter(f->peer), counter);
		return;
	}
	if (check_wire(f, &r, want, len, plain)) {
		check_inner_csum(f, plain, len);
		rx_accepts(f->name, r.out, r.out_len, want, len);
	}
}

static void test_fixtures(void)
{
	RUN_FIXTURES(fixtures, run_fixture);
}

/* A peer entry whose route hop limit the agent did not know (0) sends with 64, v4 and v6. */
static void test_hop_limit_default(void)
{
	static const struct fixture v4 = { "default TTL", K_UDP4, PEER_A, 20, CS_GOOD, 0, M_NONE,
					   TC_ACT_REDIRECT, XWG_R_TX_OK };
	static const struct fixture v6 = { "default hop limit", K_UDP6, PEER_B, 20, CS_GOOD, 0, M_NONE,
					   TC_ACT_REDIRECT, XWG_R_TX_OK };
	uint8_t saved[NPEERS];

	memcpy(saved, hop_limits, sizeof(saved));
	hop_limits[PEER_A] = hop_limits[PEER_B] = 0;
	ASSERT_EQ(set_peer(PEER_A, 4, 1, 1, LO_IFINDEX), 0);
	ASSERT_EQ(set_peer(PEER_B, 6, 1, 1, LO_IFINDEX), 0);
	run_fixture(&v4);
	run_fixture(&v6);
	/* and 255, the largest a route can ask for */
	hop_limits[PEER_A] = 255;
	ASSERT_EQ(set_peer(PEER_A, 4, 1, 1, LO_IFINDEX), 0);
	run_fixture(&v4);
	memcpy(hop_limits, saved, sizeof(saved));
	ASSERT_EQ(set_peer(PEER_A, 4, 1, 1, LO_IFINDEX), 0);
	ASSERT_EQ(set_peer(PEER_B, 6, 1, 1, LO_IFINDEX), 0);
}

/* Per-peer transmit statistics hold exactly the message bytes the fixtures sent. */
static void test_peer_stats(void)
{
	uint64_t now = mono_ns();

	for (int p = PEER_A; p <= PEER_B; p++) {
		struct xwg_peer_stats st = peer_stats((uint32_t)p);

		ASSERT_TRUE(sent_packets[p] > 0);
		ASSERT_EQ(st.tx_packets, sent_packets[p]);
		ASSERT_EQ(st.tx_bytes, sent_bytes[p]);
		ASSERT_TRUE(st.last_tx_ns > 0 && st.last_tx_ns <= now);
		ASSERT_EQ(st.last_tx_data_ns, st.last_tx_ns);
		ASSERT_EQ(st.rx_packets, 0);
		ASSERT_EQ(send_counter(p), next_counter[p]);
	}
	for (int p = PEER_NOEP; p <= PEER_MISSING; p++)
		ASSERT_EQ(peer_stats((uint32_t)p).tx_packets, 0);
}

struct events {
	struct xwg_event ev[8];
	int n;
};

static int event_cb(void *ctx, void *data, size_t size)
{
	struct events *e = ctx;

	if (size == sizeof(struct xwg_event) && e->n < 8)
		memcpy(&e->ev[e->n++], data, size);
	return 0;
}

/* Sends one small UDP packet to peer p and returns the verdict. */
static int send_to(int p)
{
	struct fixture f = { "send", K_UDP4, p, 10, CS_GOOD, 0, M_NONE, 0, 0 };
	uint8_t in[FRAME_MAX], want[FRAME_MAX], frame[FRAME_MAX];
	uint16_t proto;
	size_t len = inner_packet(&f, in, want, &proto);
	struct run r;

	if (run_tc(frame, tc_frame(frame, in, len, proto), NULL, &r))
		return -1;
	return r.retval;
}

/* Rekey due: packets still go out, the agent hears about it once per keypair. */
static void test_rekey_events(void)
{
	struct events ev = { .n = 0 };
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.xwg_events), event_cb, &ev, NULL);
	struct xwg_keypair kp;
	uint32_t index = KP_BASE + PEER_REKEY;
	uint64_t t0 = mono_ns();

	ASSERT_TRUE(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);
	ev.n = 0;
	ASSERT_EQ(send_to(PEER_REKEY), TC_ACT_REDIRECT);
	ASSERT_EQ(send_to(PEER_REKEY), TC_ACT_REDIRECT);
	ASSERT_EQ(ring_buffer__consume(rb), 1);
	ASSERT_EQ(ev.ev[0].type, XWG_EV_REKEY_NEEDED);
	ASSERT_EQ(ev.ev[0].peer_id, PEER_REKEY);
	ASSERT_EQ(ev.ev[0].index, KP_BASE + PEER_REKEY);
	ASSERT_TRUE(ev.ev[0].time_ns >= t0 && ev.ev[0].time_ns <= mono_ns());
	ASSERT_EQ(ev.ev[0].endpoint.family, XWG_AF_INET);
	ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp), 0);
	ASSERT_EQ(kp.state, XWG_KP_S_TX_REKEY_SENT);
	ASSERT_EQ(kp.send_counter, 2);

	/* A responder's keypair does not rekey on age; any keypair does past 2^60 messages. */
	ev.n = 0;
	ASSERT_EQ(send_to(PEER_RESPONDER), TC_ACT_REDIRECT);
	ASSERT_EQ(send_to(PEER_MANY), TC_ACT_REDIRECT);	/* counter == 2^60: not past it yet */
	ASSERT_EQ(ring_buffer__consume(rb), 0);
	ASSERT_EQ(send_to(PEER_MANY), TC_ACT_REDIRECT);
	ASSERT_EQ(send_to(PEER_MANY), TC_ACT_REDIRECT);
	ASSERT_EQ(ring_buffer__consume(rb), 1);
	ASSERT_TRUE(ev.n == 1 && ev.ev[0].type == XWG_EV_REKEY_NEEDED && ev.ev[0].peer_id == PEER_MANY);
	ring_buffer__free(rb);
}

/* Sent packets carry the device fwmark (policy routing must not loop them); the agent's keep theirs. */
static void test_fwmark(void)
{
	static const struct {
		int peer;
		uint32_t fwmark, want;
		int verdict;
	} cases[] = {
		{ PEER_A, 0, 7, TC_ACT_REDIRECT },
		{ PEER_A, 0xca6c, 0xca6c, TC_ACT_REDIRECT },
		{ PEER_NOEP, 0xca6c, 7, TC_ACT_UNSPEC },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture f = { "fwmark", K_UDP4, cases[i].peer, 10, CS_GOOD, 0, M_NONE, 0, 0 };
		uint8_t in[FRAME_MAX], want[FRAME_MAX], frame[FRAME_MAX];
		struct __sk_buff ctx = { .mark = 7 };
		uint16_t proto;
		size_t len = inner_packet(&f, in, want, &proto);
		struct run r;

		ASSERT_EQ(set_config_mark(XWG_CFG_F_TX, MTU, cases[i].fwmark), 0);
		ASSERT_EQ(run_tc(frame, tc_frame(frame, in, len, proto), &ctx, &r), 0);
		ASSERT_EQ(r.retval, cases[i].verdict);
		ASSERT_EQ(ctx.mark, cases[i].want);
		if (r.retval == TC_ACT_REDIRECT) {
			next_counter[cases[i].peer]++;
			sent_bytes[cases[i].peer] += 32 + 48;
			sent_packets[cases[i].peer]++;
		}
	}
	ASSERT_EQ(set_config(XWG_CFG_F_TX, MTU), 0);
}

/* The inner checksum of every length from 0 to 100 payload bytes, odd ones included. */
static void test_checksum_lengths(void)
{
	static const int kinds[] = { K_TCP4, K_UDP4, K_ICMP4, K_TCP6, K_UDP6, K_ICMP6 };

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (size_t n = 0; n <= 100; n += (n < 20 ? 1 : 13)) {
			int v6 = kinds[k] == K_TCP6 || kinds[k] == K_UDP6 || kinds[k] == K_ICMP6;
			struct fixture f = { "lengths", kinds[k], v6 ? PEER_B : PEER_A, n, CS_GARBAGE, 0, M_NONE,
					     TC_ACT_REDIRECT, XWG_R_TX_OK };
			int before = test_failures_in_case;

			run_fixture(&f);
			if (test_failures_in_case != before) {
				printf("# kind %d, %zu payload bytes failed\n", kinds[k], n);
				return;
			}
		}
	}
}

/* MTU not a multiple of 16, and an odd one: the cap still holds and the UDP checksum with it. */
static void test_odd_mtu(void)
{
	static const uint16_t mtus[] = { 1419, 1281, 576 };

	for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		struct fixture f = { "odd MTU", K_UDP4, PEER_A, mtus[i] - 28u, CS_PARTIAL, 0, M_NONE,
				     TC_ACT_REDIRECT, XWG_R_TX_OK };
		uint8_t in[FRAME_MAX], want[FRAME_MAX], frame[FRAME_MAX], plain[FRAME_MAX];
		uint16_t proto;
		size_t len = inner_packet(&f, in, want, &proto);
		const uint8_t *udp;
		uint64_t counter;
		struct run r;

		ASSERT_EQ(set_config(XWG_CFG_F_TX, mtus[i]), 0);
		ASSERT_EQ(run_tc(frame, tc_frame(frame, in, len, proto), NULL, &r), 0);
		ASSERT_EQ(r.retval, TC_ACT_REDIRECT);
		ASSERT_EQ(r.out_len, 14 + 20 + 8 + 32 + (size_t)mtus[i]);
		if (r.out_len != 14 + 20 + 8 + 32 + (size_t)mtus[i])
			continue;
		udp = r.out + 34;
		ASSERT_EQ(csum_fold(csum_add(pseudo_sum(r.out + 14, 17, 8 + 32 + mtus[i]), udp, 8 + 32 + mtus[i])), 0);
		counter = get_le(udp + 16, 8);
		ASSERT_EQ(open_aead(plain, udp + 24, mtus[i] + 16u, counter, keys[PEER_A]), 0);
		ASSERT_MEMEQ(plain, want, len);
		next_counter[PEER_A] = counter + 1;
		sent_bytes[PEER_A] += 32 + mtus[i];
		sent_packets[PEER_A]++;
	}
	ASSERT_EQ(set_config(XWG_CFG_F_TX, MTU), 0);
}

/* The price of one MTU-sized packet: checksum, pad, encrypt, encapsulate. */
static void test_cost(void)
{
	struct fixture f = { "cost", K_TCP4, PEER_A, MTU - 40, CS_PARTIAL, 0, M_NONE, 0, 0 };
	uint8_t in[FRAME_MAX], want[FRAME_MAX], frame[FRAME_MAX];
	uint16_t proto;
	size_t len = inner_packet(&f, in, want, &proto), flen = tc_frame(frame, in, len, proto);
	uint64_t total = 0, best = ~0ull, ok = reason_count(XWG_R_TX_OK);
	const int runs = 200;
	struct run r;

	for (int i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)flen,
			    .data_out = r.out, .data_size_out = sizeof(r.out), .repeat = 1);

		ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_tx), &opts), 0);
		total += opts.duration;
		if (opts.duration < best)
			best = opts.duration;
	}
	ASSERT_EQ(reason_count(XWG_R_TX_OK), ok + runs);
	next_counter[PEER_A] += runs;
	sent_bytes[PEER_A] += runs * (32u + MTU);
	sent_packets[PEER_A] += runs;
	printf("# %d-byte packet, encrypt + encapsulate in BPF: %llu ns best, %llu ns mean\n", MTU,
	       (unsigned long long)best, (unsigned long long)(total / runs));
}

/* ---------------------------------------------------------------- end to end, in a private netns */

/*
 * The next WireGuard frame to PEER_PORT on the packet socket (PACKET_VNET_HDR), checksum completed
 * here when it is still CHECKSUM_PARTIAL, as the stack or a NIC would; *partial says whether.
 */
static ssize_t capture(int fd, uint8_t *buf, size_t len, int *partial)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct virtio_net_hdr vh;
	uint8_t raw[FRAME_MAX + sizeof(vh)];

	while (poll(&pfd, 1, 1000) == 1) {
		ssize_t n = recv(fd, raw, sizeof(raw), 0) - (ssize_t)sizeof(vh);
		size_t l3, start, at;

		memcpy(&vh, raw, sizeof(vh));
		memcpy(buf, raw + sizeof(vh), n > 0 && (size_t)n <= len ? (size_t)n : 0);
		if (n < 14 + 40 + 8 || (size_t)n > len)
			continue;
		l3 = get16(buf + 12) == ETH_P_IP ? 20 : get16(buf + 12) == ETH_P_IPV6 ? 40 : 0;
		if (!l3 || buf[14 + (l3 == 20 ? 9 : 6)] != 17 || get16(buf + 14 + l3 + 2) != PEER_PORT)
			continue;
		*partial = !!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		if (*partial) {
			start = vh.csum_start;
			at = start + vh.csum_offset;
			/* The layout xwg_tx promises: the completion lands on the outer UDP checksum. */
			ASSERT_EQ(at, 14 + l3 + 6);
			if (at != 14 + l3 + 6 || start > (size_t)n)
				return -1;
			put16(buf + at, csum_fold(csum_add(0, buf + start, (size_t)n - start)) ?: 0xffff);
		}
		return n;
	}
	return -1;
}

/* Decrypts a captured frame sent to peer p and checks what the inner packet says. */
static void check_captured(const char *what, const uint8_t *fr, ssize_t n, int p, uint8_t inner_proto,
			   const uint8_t *payload, size_t plen)
{
	size_t l3 = get16(fr + 12) == ETH_P_IP ? 20 : 40, wg_len, inner_l3, inner_len;
	const uint8_t *udp = fr + 14 + l3, *wg = udp + 8;
	uint8_t plain[FRAME_MAX];
	uint64_t counter;

	if (n <= 0) {
		TEST_FAIL("%s: nothing captured on the underlay", what);
		return;
	}
	wg_len = get16(udp + 4) - 8u;
	ASSERT_EQ((size_t)n, 14 + l3 + 8 + wg_len);
	ASSERT_EQ(l3, p == PEER_A ? 20 : 40);
	if (csum_fold(csum_add(pseudo_sum(fr + 14, 17, 8 + wg_len), udp, 8 + wg_len)))
		TEST_FAIL("%s: outer UDP checksum wrong", what);
	if (l3 == 20 && csum_fold(csum_add(0, fr + 14, 20)))
		TEST_FAIL("%s: outer IPv4 header checksum wrong", what);
	ASSERT_EQ(get_le(wg + 4, 4), REMOTE_BASE + (uint32_t)p);
	counter = get_le(wg + 8, 8);
	ASSERT_EQ(counter, next_counter[p]);
	next_counter[p] = counter + 1;
	if (open_aead(plain, wg + 16, wg_len - 16, counter, keys[p])) {
		TEST_FAIL("%s: message does not authenticate: changed after encryption", what);
		return;
	}
	inner_l3 = plain[0] >> 4 == 4 ? 20 : 40;
	inner_len = inner_l3 == 20 ? get16(plain + 2) : 40u + get16(plain + 4);
	ASSERT_EQ(inner_l3 == 20 ? plain[9] : plain[6], inner_proto);
	if (csum_fold(csum_add(pseudo_sum(plain, inner_proto, inner_len - inner_l3), plain + inner_l3,
			       inner_len - inner_l3)))
		TEST_FAIL("%s: inner checksum wrong", what);
	if (payload)
		ASSERT_MEMEQ(plain + inner_l3 + 8, payload, plen);
	rx_accepts(what, fr, (size_t)n, plain, inner_len);
}

static int udp_send(const char *dst, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int v6 = strchr(dst, ':') != NULL;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n;

	if (fd < 0)
		return -1;
	if (!v6) {
		pton(4, dst, (uint8_t *)&s4.sin_addr);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&s4, sizeof(s4));
	} else {
		pton(6, dst, (uint8_t *)&s6.sin6_addr);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&s6, sizeof(s6));
	}
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* A TCP SYN: CHECKSUM_PARTIAL at TC egress, so the inner checksum is BPF's work. */
static int tcp_syn(const char *dst)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(80) };
	int v6 = strchr(dst, ':') != NULL, err;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (!v6) {
		pton(4, dst, (uint8_t *)&s4.sin_addr);
		err = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	} else {
		pton(6, dst, (uint8_t *)&s6.sin6_addr);
		err = connect(fd, (struct sockaddr *)&s6, sizeof(s6));
	}
	if (err == 0 || errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Destination, owning peer, inner protocol, payload bytes (UDP). */
struct e2e_case {
	const char *what;
	const char *dst;
	int peer;
	uint8_t proto;
	size_t payload;
};

static const struct e2e_case e2e_cases[] = {
	{ "UDP v4 in v4", "10.1.0.5", PEER_A, 17, 300 },
	{ "UDP v6 in v6", "fd02::5", PEER_B, 17, 100 },
	{ "TCP SYN v4 in v4", "10.1.0.5", PEER_A, 6, 0 },
	{ "TCP SYN v6 in v6", "fd02::5", PEER_B, 6, 0 },
	{ "TCP SYN v6 in v4", "fd01::5", PEER_A, 6, 0 },
	{ "TCP SYN v4 in v6", "10.2.0.5", PEER_B, 6, 0 },
	{ "MTU-sized UDP v4 in v4", "10.1.0.5", PEER_A, 17, MTU - 28 },
	{ "MTU-sized UDP v6 in v4", "fd01::5", PEER_A, 17, MTU - 48 },
	{ "MTU-sized UDP v4 in v6", "10.2.0.5", PEER_B, 17, MTU - 28 },
};

/* Sends each case through the tunnel and checks the frame on the far end of the veth. */
static int e2e_round(int pkt, const char *label)
{
	uint8_t buf[FRAME_MAX], payload[FRAME_MAX];
	int partials = 0;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	for (size_t i = 0; i < sizeof(e2e_cases) / sizeof(e2e_cases[0]); i++) {
		const struct e2e_case *c = &e2e_cases[i];
		char what[128];
		int fd = -1, partial = 0;
		ssize_t n;

		snprintf(what, sizeof(what), "%s, %s", c->what, label);
		if (c->proto == 17)
			ASSERT_EQ(udp_send(c->dst, 7777, payload, c->payload), 0);
		else
			ASSERT_TRUE((fd = tcp_syn(c->dst)) >= 0);
		n = capture(pkt, buf, sizeof(buf), &partial);
		check_captured(what, buf, n, c->peer, c->proto, c->proto == 17 ? payload : NULL, c->payload);
		partials += partial;
		if (fd >= 0)
			close(fd);
	}
	return partials;
}

static void test_e2e_netns(void)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = bpf_program__fd(skel->progs.xwg_tx));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int tun, tun_ifindex = 0, veth, pkt, one = 1, partials;
	uint8_t buf[FRAME_MAX], payload[20] = { 1, 2, 3 };
	uint64_t ok;
	ssize_t n;

	if (bpf_test_enter_netns())
		return;
	tun = test_tun_open("xwgtx0", &tun_ifindex);
	ASSERT_TRUE(tun >= 0);
	if (tun < 0)
		return;
	/* Underlay xtxa -> xtxb; the "peer" is only a static neighbour behind xtxb. */
	ASSERT_EQ(system("ip link set lo up && ip link set xwgtx0 mtu 1420 up && "
			 "ip addr add 10.0.0.1/24 dev xwgtx0 && ip addr add fd00::1/64 dev xwgtx0 nodad && "
			 "ip route add 10.1.0.0/24 dev xwgtx0 && ip route add 10.2.0.0/24 dev xwgtx0 && "
			 "ip route add 10.99.0.0/24 dev xwgtx0 && "
			 "ip route add fd01::/64 dev xwgtx0 && ip route add fd02::/64 dev xwgtx0 && "
			 "ip link add xtxa type veth peer name xtxb && ip link set xtxb address 02:00:00:00:00:02 && "
			 "ip link set xtxa up && ip link set xtxb up && "
			 "ip addr add 192.0.2.1/24 dev xtxa && ip addr add 2001:db8::1/64 dev xtxa nodad && "
			 "ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev xtxa && "
			 "ip neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev xtxa"), 0);
	veth = (int)if_nametoindex("xtxa");
	ll.sll_ifindex = (int)if_nametoindex("xtxb");
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ASSERT_TRUE(pkt >= 0 && setsockopt(pkt, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) == 0 &&
		    bind(pkt, (struct sockaddr *)&ll, sizeof(ll)) == 0);
	ASSERT_EQ(set_peer(PEER_A, 4, 1, 1, (uint32_t)veth), 0);
	ASSERT_EQ(set_peer(PEER_B, 6, 1, 1, (uint32_t)veth), 0);
	hook.ifindex = tun_ifindex;
	ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
	ASSERT_EQ(bpf_tc_attach(&hook, &tc), 0);
	ok = reason_count(XWG_R_TX_OK);

	/* veth offloads checksums: CHECKSUM_PARTIAL leaves as such and the capture completes it. */
	partials = e2e_round(pkt, "underlay offloads checksums");
	ASSERT_EQ(partials, 4);		/* the SYNs */
	/* Without offload the kernel completes CHECKSUM_PARTIAL in software, at csum_start. */
	ASSERT_EQ(system("ethtool -K xtxa tx off >/dev/null"), 0);
	ASSERT_EQ(e2e_round(pkt, "software checksum"), 0);
	/* A TUN that takes unchecksummed packets makes UDP CHECKSUM_PARTIAL too. */
	if (ioctl(tun, TUNSETOFFLOAD, TUN_F_CSUM) == 0) {
		ASSERT_EQ(e2e_round(pkt, "TUN_F_CSUM, software checksum"), 0);
		ASSERT_EQ(system("ethtool -K xtxa tx on >/dev/null"), 0);
		ASSERT_EQ(e2e_round(pkt, "TUN_F_CSUM, underlay offloads"), (int)(sizeof(e2e_cases) / sizeof(e2e_cases[0])));
	} else {
		printf("# TUNSETOFFLOAD: %s; CHECKSUM_PARTIAL UDP not covered\n", strerror(errno));
	}
	ASSERT_EQ(reason_count(XWG_R_TX_OK), ok + 4 * sizeof(e2e_cases) / sizeof(e2e_cases[0]));

	/* Nobody's destination: up the tunnel to the agent, untouched. */
	ASSERT_EQ(ioctl(tun, TUNSETOFFLOAD, 0), 0);
	ASSERT_EQ(udp_send("10.99.0.7", 7777, payload, sizeof(payload)), 0);
	usleep(100000);
	while ((n = read(tun, buf, sizeof(buf))) > 0 && !(buf[0] == 0x45 && buf[16] == 10 && buf[17] == 99))
		;	/* IPv6 router solicitations and the like */
	ASSERT_EQ(n, 20 + 8 + sizeof(payload));
	if (n == 20 + 8 + sizeof(payload)) {
		ASSERT_MEMEQ(buf + 28, payload, sizeof(payload));
		ASSERT_EQ(csum_fold(csum_add(pseudo_sum(buf, 17, 8 + sizeof(payload)), buf + 20, 8 + sizeof(payload))), 0);
	}
	bpf_tc_hook_destroy(&hook);
	close(pkt);
	close(tun);
}

int main(void)
{
	static const char *const progs[] = { "xwg_tx" };
	int status;

	if (!bpf_test_begin("test_bpf_tx", setup, "tx.bpf.o/rx.bpf.o or fill their maps", &status))
		return status;
	bpf_test_verifier_stats(tx_bpf__elf_bytes, progs, 1);
	RUN_TEST(test_fixtures);
	RUN_TEST(test_hop_limit_default);
	RUN_TEST(test_checksum_lengths);
	RUN_TEST(test_odd_mtu);
	RUN_TEST(test_rekey_events);
	RUN_TEST(test_fwmark);
	RUN_TEST(test_cost);
	RUN_TEST(test_peer_stats);
	RUN_TEST(test_e2e_netns);	/* last: it moves the process into a new network namespace */
	rx_bpf__destroy(rx);
	tx_bpf__destroy(skel);
	return TEST_SUMMARY();
}

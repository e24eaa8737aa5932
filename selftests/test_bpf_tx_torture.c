/* SPDX-License-Identifier: GPL-2.0 */
/* Packet torture for the transmit path: odd and mutated inner packets through xwg_tx, invariants per run. */
/* xwg-timeout: 600 */
#include <errno.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <openssl/evp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "bpf_test.h"
#include "torture.h"
#include "xwg_maps.h"
#include "xwg_reasons.h"
#include "messages.h"
#include "tx.skel.h"

/*
 * XWG_TORTURE_N inner packets (default sized for make check), XWG_TORTURE_SEED to repeat a run.
 * Every packet starts as a well-formed IPv4/IPv6 TCP, UDP or ICMP packet to one of the peers
 * below (or to nobody) and gets one mutation or none.
 */
#define TORTURE_N_DEFAULT	100000
#define PORT		51820
#define PEER_PORT	51821
#define MTU		1420
#define FRAME_MAX	2048
#define LO_IFINDEX	1
#define KP_BASE		0x0a000000u
#define REMOTE_BASE	0xd1c2b300u

/* Destinations: 10.<peer>.0.0/24 and fd<peer>::/64; peer 9 owns nothing. */
enum { PEER_A = 1, PEER_B, PEER_NOKP, PEER_AGENT, PEER_EXPIRED, NPEERS, PEER_NOBODY = 9 };

enum {
	M_NONE, M_ETH_TYPE, M_VLAN, M_V4_OPTIONS, M_V4_VER_IHL, M_V4_TOTLEN, M_V4_FRAG, M_V4_PROTO,
	M_V4_CSUM, M_V6_PLEN, M_V6_EXT, M_V6_NEXTHDR, M_L4_CSUM, M_TOS, M_TRUNCATE, M_TRAILER,
	M_BYTES, M_RANDOM, M_GSO, M_BIG, M_MAX
};
static const char *const mut_name[M_MAX] = {
	"none", "eth type", "vlan tag", "v4 options", "v4 ver/ihl", "v4 total len", "v4 frag",
	"v4 proto", "v4 csum", "v6 payload len", "v6 ext hdr", "v6 next hdr", "l4 csum", "tos/ecn",
	"truncate", "trailer", "random bytes", "random frame", "gso ctx", "mtu edge",
};

static struct tx_bpf *skel;
static uint8_t keys[NPEERS][32];
static uint64_t next_counter[NPEERS];
static uint64_t reasons[XWG_R_MAX], verdicts[10], muts[M_MAX], mut_sent[M_MAX];
static uint64_t runs, refused, sent;

/* ---------------------------------------------------------------- the device */

static int set_config(uint32_t flags, uint32_t tx_bulk_len)
{
	struct xwg_dev_config c = { .flags = flags, .listen_port = htons(PORT), .mtu = MTU,
				    .tx_bulk_len = tx_bulk_len };
	uint32_t zero = 0;

	return bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_config), &zero, &c, BPF_ANY);
}

static int add_peer(int p, int family, uint32_t peer_flags, uint64_t age_s, uint32_t kp_flags)
{
	struct xwg_peer peer = { .current_index = KP_BASE + (uint32_t)p, .flags = peer_flags };
	struct xwg_lpm4_key k4 = { .prefixlen = 24, .addr = { 10, (uint8_t)p } };
	struct xwg_lpm6_key k6 = { .prefixlen = 64, .addr = { 0xfd, (uint8_t)p } };
	struct xwg_keypair kp;
	uint32_t index = KP_BASE + (uint32_t)p, owner = (uint32_t)p;
	int err = 0;

	peer.endpoint.family = family == 4 ? XWG_AF_INET : XWG_AF_INET6;
	peer.endpoint.port = htons(PEER_PORT);
	peer.endpoint.ifindex = LO_IFINDEX;
	pton(family, family == 4 ? "192.0.2.2" : "2001:db8::2", peer.endpoint.addr);
	pton(family, family == 4 ? "192.0.2.1" : "2001:db8::1", peer.endpoint.local);
	memset(&kp, 0, sizeof(kp));
	for (int i = 0; i < 32; i++)
		keys[p][i] = (uint8_t)(p * 17 + i * 5 + 1);
	memcpy(kp.send_key, keys[p], 32);
	kp.birthdate_ns = mono_ns() - age_s * 1000000000ull;
	kp.remote_index = REMOTE_BASE + (uint32_t)p;
	kp.peer_id = (uint32_t)p;
	kp.flags = kp_flags;
	err |= bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_peers), &owner, &peer, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_allowedips4), &k4, &owner, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(skel->maps.xwg_allowedips6), &k6, &owner, BPF_ANY);
	return err;
}

static int setup(void)
{
	int err = 0;

	skel = tx_bpf__open_and_load();
	if (bpf_test_setup(skel ? skel->obj : NULL))
		return -1;
	err |= set_config(XWG_CFG_F_TX, 0);
	err |= add_peer(PEER_A, 4, XWG_PEER_F_HAS_CURRENT, 1, XWG_KP_F_SEND_VALID);
	err |= add_peer(PEER_B, 6, XWG_PEER_F_HAS_CURRENT, 1, XWG_KP_F_SEND_VALID);
	err |= add_peer(PEER_NOKP, 4, 0, 1, XWG_KP_F_SEND_VALID);
	err |= add_peer(PEER_AGENT, 4, XWG_PEER_F_HAS_CURRENT | XWG_PEER_F_AGENT, 1, XWG_KP_F_SEND_VALID);
	err |= add_peer(PEER_EXPIRED, 4, XWG_PEER_F_HAS_CURRENT, 181, XWG_KP_F_SEND_VALID);
	return err ? -1 : 0;
}

static uint64_t send_counter(int p)
{
	struct xwg_keypair kp;
	uint32_t index = KP_BASE + (uint32_t)p;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp))
		return ~0ull;
	return kp.send_counter;
}

/* ---------------------------------------------------------------- the generator */

/* A well-formed inner packet at p (TCP, UDP or ICMP over IPv4 or IPv6) to peer dst; its length. */
static size_t inner_build(uint8_t *p, int v6, int dst, size_t payload)
{
	static const uint8_t protos4[] = { 6, 17, 1 }, protos6[] = { 6, 17, 58 };
	uint8_t proto = v6 ? protos6[rnd_below(3)] : protos4[rnd_below(3)];
	size_t l3 = v6 ? 40 : 20, l4h = proto == 6 ? 20 : 8, len = l3 + l4h + payload;
	int csum_off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
	uint32_t sum;

	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)(len - 40));
		p[6] = proto;
		p[7] = 64;
		pton(6, "fd00::1", p + 8);
		p[24] = 0xfd;
		p[25] = (uint8_t)dst;
		p[39] = 5;
	} else {
		p[0] = 0x45;
		put16(p + 2, (uint16_t)len);
		p[8] = 64;
		p[9] = proto;
		pton(4, "10.0.0.1", p + 12);
		p[16] = 10;
		p[17] = (uint8_t)dst;
		p[19] = 5;
	}
	p[l3] = proto == 1 ? 8 : proto == 58 ? 128 : 0x9c;
	put16(p + l3 + 2, 80);
	if (proto == 17)
		put16(p + l3 + 4, (uint16_t)(len - l3));
	if (proto == 6)
		p[l3 + 12] = 0x50;
	rnd_fill(p + l3 + l4h, payload);
	sum = proto == 1 ? 0 : csum_add(0, p + (v6 ? 8 : 12), v6 ? 32 : 8) + proto + (uint32_t)(len - l3);
	put16(p + l3 + csum_off, csum_fold(csum_add(sum, p + l3, len - l3)));
	if (!v6)
		put16(p + 10, csum_fold(csum_add(0, p, 20)));
	return len;
}

static bool insert(uint8_t *b, size_t *len, size_t off, const uint8_t *p, size_t n)
{
	if (*len + n > FRAME_MAX || off > *len)
		return false;
	memmove(b + off + n, b + off, *len - off);
	memcpy(b + off, p, n);
	*len += n;
	return true;
}

/* One mutation of the frame (Ethernet + inner packet); may set a GSO context. */
static void mutate(uint8_t *b, size_t *len, int m, int v6, struct __sk_buff *ctx)
{
	uint8_t *ip = b + 14, opts[40], ext[8] = { 0 };
	static const uint16_t types[] = { 0x0806, 0x8100, 0x86dd, 0x0800, 0x88a8, 0 };
	size_t n;

	switch (m) {
	case M_ETH_TYPE:
		put16(b + 12, rnd_below(2) ? types[rnd_below(6)] : (uint16_t)rnd());
		break;
	case M_VLAN:
		put16(opts, 0x8100);
		put16(opts + 2, (uint16_t)rnd());
		insert(b, len, 12, opts, 4);
		break;
	case M_V4_OPTIONS:
		/* Real options (NOPs, or random bytes), header length, total length and checksum fixed. */
		if (v6)
			break;
		n = 4 * (1 + rnd_below(10));
		memset(opts, 1, n);
		if (rnd_below(2))
			rnd_fill(opts, n);
		if (insert(b, len, 14 + 20, opts, n)) {
			ip[0] = (uint8_t)(0x45 + n / 4);
			put16(ip + 2, (uint16_t)(get16(ip + 2) + n));
			put16(ip + 10, 0);
			put16(ip + 10, csum_fold(csum_add(0, ip, 20 + n)));
		}
		break;
	case M_V4_VER_IHL:
		ip[0] = rnd_below(2) ? (uint8_t)rnd() : (uint8_t)((ip[0] & 0xf0) | rnd_below(16));
		break;
	case M_V4_TOTLEN:
	case M_V6_PLEN:
		put16(ip + (v6 ? 4 : 2), rnd16_near(get16(ip + (v6 ? 4 : 2))));
		break;
	case M_V4_FRAG:
		if (!v6)
			put16(ip + 6, rnd_below(2) ? (uint16_t)(0x2000 | rnd_below(0x2000)) : (uint16_t)rnd());
		break;
	case M_V4_PROTO:
	case M_V6_NEXTHDR:
		ip[v6 ? 6 : 9] = (uint8_t)rnd();
		break;
	case M_V4_CSUM:
		put16(ip + 10, (uint16_t)rnd());
		break;
	case M_V6_EXT:
		/* hop-by-hop, routing, fragment or destination options before the L4 header */
		if (!v6)
			break;
		ext[0] = ip[6];
		ip[6] = (uint8_t[]){ 0, 43, 44, 60 }[rnd_below(4)];
		if (ip[6] != 44) {
			ext[2] = 1;
			ext[3] = 4;
		}
		if (insert(b, len, 14 + 40, ext, 8))
			put16(ip + 4, (uint16_t)(get16(ip + 4) + 8));
		break;
	case M_L4_CSUM:
		rnd_fill(ip + (v6 ? 40 : 20) + rnd_below(20), 2);
		break;
	case M_TOS:
		if (v6)
			put16(ip, (uint16_t)(0x6000 | (rnd() & 0xff0)));
		else
			ip[1] = (uint8_t)rnd();
		break;
	case M_TRUNCATE:
		*len = rnd_below((uint32_t)*len);
		break;
	case M_TRAILER:
		n = 1 + rnd_below(32);
		if (*len + n <= FRAME_MAX) {
			rnd_fill(b + *len, n);
			*len += n;
		}
		break;
	case M_BYTES:
		for (uint32_t i = 0, k = 1 + rnd_below(8); i < k; i++)
			b[rnd_below((uint32_t)*len)] = (uint8_t)rnd();
		break;
	case M_RANDOM:
		*len = 14 + rnd_below(FRAME_MAX - 14);
		rnd_fill(ip, *len - 14);
		break;
	case M_GSO:
		ctx->gso_size = rnd_below(3) ? rnd_below(1500) : 0;
		ctx->gso_segs = rnd_below(4);
		break;
	}
}

/* ---------------------------------------------------------------- running and checking */

static void report(const char *why, uint64_t iter, int m, const uint8_t *b, size_t len)
{
	TEST_FAIL("%s: iteration %" PRIu64 ", mutation %s, %zu bytes", why, iter, mut_name[m], len);
	test_hexdump("frame", b, len < 128 ? len : 128);
}

static int open_aead(uint8_t *out, const uint8_t *in, size_t len, uint64_t counter, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = { 0 };
	int n, ok;

	if (len < 16)
		return -1;
	put_le(nonce + 4, counter, 8);
	len -= 16;
	ok = ctx && EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     (len == 0 || EVP_DecryptUpdate(ctx, out, &n, in, (int)len)) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + len)) &&
	     EVP_DecryptFinal_ex(ctx, out + len, &n) > 0;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The peer the input's IP destination names (by our own reading), or 0 if it is no IP packet. */
static int input_peer(const uint8_t *b, size_t len, int *v6)
{
	uint16_t type = get16(b + 12);

	*v6 = type == ETH_P_IPV6;
	if (type == ETH_P_IP && len >= 14 + 20 && b[14] >> 4 == 4 && b[14 + 16] == 10)
		return b[14 + 17];
	if (type == ETH_P_IPV6 && len >= 14 + 40 && b[14] >> 4 == 6 && b[14 + 24] == 0xfd && !b[14 + 26])
		return b[14 + 25];
	return 0;
}

/*
 * What went out for an encrypted packet: to the owning peer's endpoint, its remote index, the
 * next unused counter, and a message that opens with its key to the input packet (the L4
 * checksum may be completed), zero-padded.
 */
static void check_sent(uint64_t iter, int m, const uint8_t *in, size_t in_len, const uint8_t *out, size_t out_len)
{
	int v6, p = input_peer(in, in_len, &v6), ov6 = p == PEER_B;
	size_t l3 = ov6 ? 40 : 20, hdr = 14 + l3 + 8, inner = in_len - 14, ihl, padded;
	static uint8_t plain[FRAME_MAX], want[FRAME_MAX];
	const uint8_t *wg = out + hdr;
	uint64_t counter;

	if (p != PEER_A && p != PEER_B) {
		report("encrypted to a peer that may not send", iter, m, in, in_len);
		return;
	}
	if (out_len < hdr + 32 || get16(out + hdr - 6) != PEER_PORT || get16(out + hdr - 8) != PORT ||
	    get_le(wg, 4) != 4 || get_le(wg + 4, 4) != REMOTE_BASE + (uint32_t)p) {
		report("malformed outer frame", iter, m, in, in_len);
		return;
	}
	counter = get_le(wg + 8, 8);
	if (counter != next_counter[p])
		report("send counter not the next unused one", iter, m, in, in_len);
	next_counter[p] = counter + 1;
	if (open_aead(plain, wg + 16, out_len - hdr - 16, counter, keys[p])) {
		report("message does not open", iter, m, in, in_len);
		return;
	}
	/* The IP length must be the skb's: nothing of the buffer beyond it may be encrypted. */
	padded = (inner + 15) & ~(size_t)15;
	if (padded > MTU)
		padded = MTU;
	if (out_len - hdr - 32 < inner || out_len - hdr - 32 != padded) {
		report("plaintext length", iter, m, in, in_len);
		return;
	}
	memcpy(want, in + 14, inner);
	ihl = v6 ? 40 : (want[0] & 15) * 4u;
	for (size_t i = ihl; i < ihl + 20 && i < inner; i++)	/* the L4 header's checksum may change */
		want[i] = plain[i] = 0;
	if (memcmp(plain, want, inner))
		report("plaintext differs from the packet", iter, m, in, in_len);
	for (size_t i = inner; i < out_len - hdr - 32; i++)
		if (plain[i]) {
			report("padding not zero", iter, m, in, in_len);
			break;
		}
}

/*
 * One run with all invariants: the verdict the reason's action calls for, agent's packets
 * untouched and no counter spent on them. Returns the reason, -1 if none.
 */
static int run_checked(uint64_t iter, int m, const uint8_t *b, size_t len, struct __sk_buff *ctx)
{
	static uint8_t out[2 * FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = b, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = ctx, .ctx_size_in = sizeof(*ctx),
		    .repeat = 1);
	uint64_t ca = send_counter(PEER_A), cb = send_counter(PEER_B);
	int reason, act, want;

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_tx), &opts)) {
		if (errno == EINVAL && len < 14 + 40) {	/* runts the kernel refuses before the program */
			refused++;
			return -1;
		}
		report(strerror(errno), iter, m, b, len);
		return -1;
	}
	runs++;
	if ((int)opts.retval >= -1 && (int)opts.retval < 9)
		verdicts[(int)opts.retval + 1]++;
	reason = torture_moved_reason("xwg_tx");
	if (reason < 0) {
		report("reason counters", iter, m, b, len);
		return -1;
	}
	reasons[reason]++;
	act = xwg_reason_action((uint32_t)reason);
	want = act == XWG_ACT_DELIVER ? TC_ACT_REDIRECT : act == XWG_ACT_AGENT ? TC_ACT_UNSPEC : TC_ACT_SHOT;
	if ((int)opts.retval != want) {
		TEST_FAIL("verdict %d for reason %s", (int)opts.retval, xwg_reason_key((uint32_t)reason));
		report("verdict", iter, m, b, len);
	}
	if (act == XWG_ACT_DELIVER) {
		sent++;
		mut_sent[m]++;
		check_sent(iter, m, b, len, out, opts.data_size_out);
		return reason;
	}
	if (opts.data_size_out != len || memcmp(out, b, len))
		report("packet for the agent modified", iter, m, b, len);
	if (send_counter(PEER_A) != ca || send_counter(PEER_B) != cb)
		report("a counter spent on a packet not sent", iter, m, b, len);
	return reason;
}

static int set_mode(uint64_t mode)
{
	if (mode == 1)
		return set_config(XWG_CFG_F_TX | XWG_CFG_F_HYBRID, 600);
	if (mode == 2)
		return set_config(XWG_CFG_F_TX | XWG_CFG_F_HYBRID, 0);
	return set_config(XWG_CFG_F_TX, 0);
}

static void print_stats(void)
{
	printf("# xwg_tx: %" PRIu64 " runs, %" PRIu64 " encrypted, %" PRIu64 " runts refused by the kernel\n",
	       runs, sent, refused);
	printf("#   verdicts:");
	for (int v = 0; v < 10; v++)
		if (verdicts[v])
			printf(" %d=%" PRIu64, v - 1, verdicts[v]);
	printf("\n#   reasons:");
	for (uint32_t i = 0; i < XWG_R_MAX; i++)
		if (reasons[i])
			printf(" %s=%" PRIu64, xwg_reason_key(i), reasons[i]);
	printf("\n#   encrypted by mutation:");
	for (int m = 0; m < M_MAX; m++)
		printf(" %s=%" PRIu64 "/%" PRIu64, mut_name[m], mut_sent[m], muts[m]);
	printf("\n");
}

static void test_tx_torture(void)
{
	static const int dsts[] = { PEER_A, PEER_B, PEER_A, PEER_B, PEER_NOKP, PEER_AGENT, PEER_EXPIRED,
				    PEER_NOBODY };
	uint64_t n = torture_env("XWG_TORTURE_N", TORTURE_N_DEFAULT);
	uint64_t seed = torture_env("XWG_TORTURE_SEED", (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
	static uint8_t b[FRAME_MAX];

	printf("# XWG_TORTURE_SEED=%" PRIu64 " XWG_TORTURE_N=%" PRIu64 "\n", seed, n);
	torture_seed(seed);
	reasons_snapshot(torture_snap);
	for (uint64_t i = 0; i < n && test_failures_in_case < 20; i++) {
		struct __sk_buff ctx = { .ifindex = LO_IFINDEX };
		int v6 = (int)rnd_below(2), m = rnd_below(3) ? (int)rnd_below(M_MAX) : M_NONE;
		size_t payload = m == M_BIG ? MTU - 60 + rnd_below(80) : rnd_below(64) ? rnd_below(300) :
				 rnd_below(MTU);
		size_t len;
		int dst = dsts[rnd_below(8)];

		if (i % 1000 == 0 && set_mode((i / 1000) % 3)) {
			TEST_FAIL("cannot set the configuration");
			break;
		}
		memset(b, 0, 12);
		put16(b + 12, v6 ? ETH_P_IPV6 : ETH_P_IP);
		len = 14 + inner_build(b + 14, v6, dst, payload);
		mutate(b, &len, m, v6, &ctx);
		muts[m]++;
		/* An untouched packet to a usable peer in the plain configuration must go out here. */
		if (run_checked(i, m, b, len, &ctx) != XWG_R_TX_OK && m == M_NONE && (i / 1000) % 3 == 0 &&
		    (dst == PEER_A || dst == PEER_B) && len - 14 <= MTU)
			report("well-formed packet not encrypted", i, m, b, len);
	}
	print_stats();
	ASSERT_TRUE(sent > 0);
	ASSERT_EQ(runs + refused, n);
}

int main(void)
{
	int status;

	if (!bpf_test_begin("test_bpf_tx_torture", setup, "tx.bpf.o or fill its maps", &status))
		return status;
	RUN_TEST(test_tx_torture);
	tx_bpf__destroy(skel);
	return TEST_SUMMARY();
}

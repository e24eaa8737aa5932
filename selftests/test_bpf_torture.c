/* SPDX-License-Identifier: GPL-2.0 */
/* Packet torture: mutated WireGuard frames through xwg_rx (XDP) and xwg_rx_tc_full (TC), invariants per run. */
/* xwg-timeout: 600 */
#include <errno.h>
#include <inttypes.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "wg_frames.h"
#include "xwg_maps.h"
#include "xwg_reasons.h"
#include "rx.skel.h"
#include "torture.h"

/*
 * XWG_TORTURE_N frames per program (default sized for make check), XWG_TORTURE_SEED to repeat a
 * run. Every frame starts as a valid sealed message of the test device's keypair KP_A and gets
 * one mutation (or none); the invariants hold whatever the mutation was.
 */
#define TORTURE_N_DEFAULT	60000
#define WINDOW			8128	/* replay window: counters top - WINDOW .. top accepted */

enum { P_XDP, P_TC, P_MAX };
static const char *const prog_name[P_MAX] = { "xwg_rx", "xwg_rx_tc_full" };

enum {
	M_NONE, M_ETH_TYPE, M_VLAN, M_V4_VER_IHL, M_V4_TOS, M_V4_TOTLEN, M_V4_FRAG, M_V4_TTL_PROTO,
	M_V4_CSUM, M_V4_ADDR, M_V4_OPTIONS, M_V6_PLEN, M_V6_HBH, M_V6_FRAGHDR, M_V6_NEXTHDR,
	M_UDP_PORTS, M_UDP_LEN, M_UDP_CSUM, M_WG_TYPE, M_WG_RESERVED, M_WG_INDEX, M_WG_COUNTER,
	M_TRUNCATE, M_TRAILER, M_BYTES, M_RANDOM, M_CT_BIT, M_HANDSHAKE, M_MAX
};
static const char *const mut_name[M_MAX] = {
	"none", "eth type", "vlan tags", "v4 ver/ihl", "v4 tos", "v4 total len", "v4 frag",
	"v4 ttl/proto", "v4 csum", "v4 addrs", "v4 options", "v6 payload len", "v6 hop-by-hop",
	"v6 fragment hdr", "v6 next hdr", "udp ports", "udp len", "udp csum", "wg type", "wg reserved",
	"wg index", "wg counter field", "truncate", "trailer", "random bytes", "random frame",
	"ct/tag bit", "handshake msg",
};

/* What one iteration sealed: the message, its plaintext and counter. */
struct sealed {
	uint8_t msg[FRAME_MAX];
	size_t msg_len;
	uint8_t inner[FRAME_MAX];
	size_t inner_len;
	uint64_t counter;
	uint32_t index;
	bool data;		/* a transport data message (not a handshake-looking one) */
};

struct stats {
	uint64_t iters, runs, delivered, refused, replays;
	uint64_t reason[XWG_R_MAX];
	uint64_t verdict[10];	/* XDP_ABORTED..XDP_REDIRECT / TC: UNSPEC(-1)..REDIRECT(7), shifted by one */
	uint64_t mut[M_MAX], mut_delivered[M_MAX];
};

static struct stats st[P_MAX];
static uint64_t top;		/* highest counter of KP_A ever delivered */
static uint64_t next_ctr;	/* next fresh counter */
static bool last_gso;		/* the last run_prog() gave TC a GSO context */
static uint64_t renewals;	/* keypair_renew() calls */

/* ---------------------------------------------------------------- randomness and bookkeeping */

/* Delivered counters of KP_A: open addressing, never deleted; sized for a million deliveries. */
#define DSET_BITS	22
static uint64_t *dset;

static bool dset_insert(uint64_t c)
{
	uint64_t key = c + 1, h = (c * 0x9e3779b97f4a7c15ull) >> (64 - DSET_BITS);

	for (;; h = (h + 1) & ((1u << DSET_BITS) - 1)) {
		if (dset[h] == key)
			return false;
		if (!dset[h]) {
			dset[h] = key;
			return true;
		}
	}
}

/* ---------------------------------------------------------------- the generator */

/* A counter around the replay window: mostly fresh, else replayed, at or past its edges, far ahead. */
static uint64_t pick_counter(void)
{
	switch (rnd_below(16)) {
	case 0:
		return top;					/* replay of the newest */
	case 1:
		return top >= WINDOW ? top - WINDOW : 0;	/* oldest still in the window */
	case 2:
		return top > WINDOW ? top - WINDOW - 1 : next_ctr++;	/* just behind it */
	case 3:
		return top > 1 ? top - 1 - rnd_below((uint32_t)(top < WINDOW ? top : WINDOW)) : next_ctr++;
	case 4:
		return next_ctr + 1 + rnd_below(1u << 20);	/* far ahead: window jumps */
	case 5:
		return rnd_below(64) ? next_ctr++ : REJECT_AFTER_MESSAGES - rnd_below(2);
	default:
		return next_ctr++;
	}
}

/* Inner packets: mostly the peer's own v4 or v6, sometimes keepalive, not IP, bad length, other source. */
static void pick_inner(struct sealed *s)
{
	static const char *const srcs[] = { "10.99.0.7", "192.0.2.99", "fd00::99", NULL };
	uint32_t k = rnd_below(20), payload = rnd_below(64) ? rnd_below(200) : rnd_below(MTU - 40);
	int kind = k < 8 ? IN_V4 : k < 15 ? IN_V6 : k == 15 ? IN_KEEPALIVE : k == 16 ? IN_NOT_IP :
		   k == 17 ? IN_BAD_LEN : (rnd() & 1) ? IN_V4 : IN_V6;
	const char *src = k >= 18 ? srcs[rnd_below(4)] : NULL;

	if (src && (strchr(src, ':') != NULL) != (kind == IN_V6))
		src = NULL;
	s->inner_len = inner_packet(s->inner, kind, src, payload);
	if (s->inner_len && rnd_below(4) == 0)
		ip_set_ecn(s->inner, (uint8_t)rnd_below(4));
}

static void seal_message(struct sealed *s)
{
	static const uint32_t others[] = { KP_UNKNOWN, KP_EXPIRED, KP_OFF, KP_AGENT, KP_VECTOR };

	s->index = rnd_below(12) ? KP_A : others[rnd_below(5)];
	s->counter = s->index == KP_A ? pick_counter() : rnd_below(1000);
	pick_inner(s);
	s->msg_len = wg_data(s->msg, s->index, s->counter, s->inner, s->inner_len, key_a);
	s->data = true;
}

/* Inserts n bytes at off, moving the rest; false when the frame would not fit. */
static bool insert(struct frame *fr, size_t off, const uint8_t *p, size_t n)
{
	if (fr->len + n > FRAME_MAX || off > fr->len)
		return false;
	memmove(fr->b + off + n, fr->b + off, fr->len - off);
	memcpy(fr->b + off, p, n);
	fr->len += n;
	return true;
}

/* One mutation of the valid frame fr (outer family fam, IPv4 header length l3). */
static void mutate(struct frame *fr, int m, int fam, size_t l3)
{
	uint8_t *ip = fr->b + 14, *udp = ip + l3, *wg = fr->b + fr->wg_off, ext[8] = { 0 };
	static const uint16_t types[] = { 0x0806, 0x8100, 0x88a8, 0x86dd, 0x0800, 0x8847, 0 };

	switch (m) {
	case M_ETH_TYPE:
		put16(fr->b + 12, rnd_below(2) ? types[rnd_below(7)] : (uint16_t)rnd());
		break;
	case M_VLAN:
		for (uint32_t i = 0, n = 1 + rnd_below(2); i < n; i++) {
			uint8_t tag[4];

			put16(tag, i + 1 == n && rnd_below(2) ? 0x88a8 : 0x8100);
			put16(tag + 2, (uint16_t)rnd());
			insert(fr, 12, tag, 4);
		}
		break;
	case M_V4_VER_IHL:
	case M_V6_NEXTHDR:
		if (m == M_V4_VER_IHL || rnd_below(2))
			ip[0] = rnd_below(2) ? (uint8_t)rnd() : (uint8_t)((ip[0] & 0xf0) | rnd_below(16));
		else
			ip[6] = (uint8_t)rnd();
		break;
	case M_V4_TOS:
		ip[1] = (uint8_t)rnd();
		break;
	case M_V4_TOTLEN:
	case M_V6_PLEN:
		put16(ip + (fam == 4 ? 2 : 4), rnd16_near(get16(ip + (fam == 4 ? 2 : 4))));
		break;
	case M_V4_FRAG:
		put16(ip + 6, rnd_below(2) ? (uint16_t)(0x2000 | rnd_below(0x2000)) : (uint16_t)rnd());
		break;
	case M_V4_TTL_PROTO:
		ip[8 + rnd_below(2)] = (uint8_t)rnd();
		break;
	case M_V4_CSUM:
		put16(ip + 10, (uint16_t)rnd());
		break;
	case M_V4_ADDR:
		rnd_fill(ip + (fam == 4 ? 12 : 8) + rnd_below(fam == 4 ? 8 : 32), 1 + rnd_below(4));
		break;
	case M_V6_HBH:
	case M_V6_FRAGHDR:
		if (fam != 6)
			break;
		/* A real extension header between IPv6 and UDP: next header UDP, lengths fixed up. */
		ext[0] = 17;
		if (m == M_V6_FRAGHDR) {
			put16(ext + 2, rnd_below(2) ? 0 : (uint16_t)rnd());	/* offset/M, or an atomic fragment */
			put_le(ext + 4, rnd(), 4);
		} else {
			ext[2] = 1;	/* PadN filling the 8 bytes */
			ext[3] = 4;
		}
		ip[6] = m == M_V6_HBH ? 0 : 44;
		if (insert(fr, 14 + 40, ext, 8))
			put16(ip + 4, (uint16_t)(get16(ip + 4) + 8));
		break;
	case M_UDP_PORTS:
		put16(udp + 2 * rnd_below(2), rnd16_near(PORT));
		break;
	case M_UDP_LEN:
		put16(udp + 4, rnd16_near(get16(udp + 4)));
		break;
	case M_UDP_CSUM:
		put16(udp + 6, (uint16_t)rnd());
		break;
	case M_WG_TYPE:
		wg[0] = rnd_below(2) ? (uint8_t)rnd_below(6) : (uint8_t)rnd();
		break;
	case M_WG_RESERVED:
		wg[1 + rnd_below(3)] = (uint8_t)(1 + rnd_below(255));
		break;
	case M_WG_INDEX:
		rnd_fill(wg + 4 + rnd_below(4), 1);
		break;
	case M_WG_COUNTER:
		wg[8 + rnd_below(8)] ^= (uint8_t)(1u << rnd_below(8));
		break;
	case M_TRUNCATE:
		fr->len = rnd_below((uint32_t)fr->len);
		break;
	case M_TRAILER:
		if (fr->len < FRAME_MAX) {
			size_t n = 1 + rnd_below((uint32_t)(FRAME_MAX - fr->len > 64 ? 64 : FRAME_MAX - fr->len));

			rnd_fill(fr->b + fr->len, n);
			fr->len += n;
		}
		break;
	case M_BYTES:
		for (uint32_t i = 0, n = 1 + rnd_below(8); i < n; i++)
			fr->b[rnd_below((uint32_t)fr->len)] = (uint8_t)rnd();
		break;
	case M_RANDOM:
		fr->len = 14 + rnd_below(FRAME_MAX - 14);
		rnd_fill(fr->b + 14, fr->len - 14);
		if (rnd_below(2))
			ip[0] = fam == 4 ? 0x45 : 0x60;
		break;
	case M_CT_BIT:
		wg[16 + rnd_below((uint32_t)(fr->len - fr->wg_off - 16))] ^= (uint8_t)(1u << rnd_below(8));
		break;
	}
}

/* Builds a valid frame around s (IPv4 sometimes with options), then one random mutation. */
static int build_frame(struct frame *fr, struct sealed *s)
{
	int fam = rnd_below(2) ? 4 : 6, m = rnd_below(3) ? (int)rnd_below(M_MAX) : M_NONE;
	uint8_t opt = 0;

	if (m == M_HANDSHAKE) {
		static const size_t sizes[] = { 148, 92, 64 };
		int t = (int)rnd_below(3);

		s->msg_len = wg_other(s->msg, t + 1, sizes[t]);
		s->data = false;
	} else {
		seal_message(s);
	}
	if (fam == 4 && (m == M_V4_OPTIONS || rnd_below(16) == 0))
		opt = (uint8_t)(1 + rnd_below(10));
	memset(fr, 0, sizeof(*fr));
	outer_frame(fr, fam, opt, PORT, s->msg, s->msg_len);
	mutate(fr, m, fam, fam == 4 ? 20 + 4u * opt : 40);
	return m;
}

/* ---------------------------------------------------------------- running and checking */

static int run_prog(int p, const uint8_t *pkt, size_t len, struct run *r)
{
	struct xdp_md xin = { .data_end = (uint32_t)len, .ingress_ifindex = LO_IFINDEX }, xout = { 0 };
	struct __sk_buff sin = { .ingress_ifindex = LO_IFINDEX };

	/* Now and then a GRO-looking skb: one tag per datagram, never decrypted as one. */
	last_gso = p == P_TC && rnd_below(32) == 0;
	if (last_gso) {
		sin.gso_size = 1 + rnd_below(1500);
		sin.gso_segs = rnd_below(4);
	}
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int err;

	if (p == P_XDP) {
		opts.ctx_in = &xin;
		opts.ctx_size_in = sizeof(xin);
		opts.ctx_out = &xout;
		opts.ctx_size_out = sizeof(xout);
	} else {
		opts.ctx_in = &sin;
		opts.ctx_size_in = sizeof(sin);
	}
	err = bpf_prog_test_run_opts(p == P_XDP ? bpf_program__fd(skel->progs.xwg_rx) :
				     bpf_program__fd(skel->progs.xwg_rx_tc_full), &opts);
	if (err)
		return -errno;
	r->verdict = (int)opts.retval;
	r->out_len = opts.data_size_out;
	r->meta_len = p == P_XDP ? xout.data : 0;
	return 0;
}

/* The reasons that say the message authenticated: its counter is in the replay window now. */
static bool authenticated(int reason)
{
	return reason == XWG_R_OK || reason == XWG_R_KEEPALIVE || reason == XWG_R_BAD_INNER ||
	       reason == XWG_R_WRONG_SOURCE || reason == XWG_R_ECN_NOT_ECT;
}

/* The verdict each reason's action calls for, in program p. */
static int want_verdict(int p, int action)
{
	if (action == XWG_ACT_DELIVER)
		return p == P_XDP ? XDP_PASS : TC_ACT_REDIRECT;
	if (action == XWG_ACT_AGENT)
		return p == P_XDP ? XDP_PASS : TC_ACT_UNSPEC;
	return p == P_XDP ? XDP_DROP : TC_ACT_SHOT;
}

/* The inner packet without its ECN bits and IPv4 checksum: RFC 6040 may rewrite those on the way. */
static bool inner_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t x[FRAME_MAX], y[FRAME_MAX];

	memcpy(x, a, n);
	memcpy(y, b, n);
	if (n >= 20) {
		x[1] &= (uint8_t)~0x33;
		y[1] &= (uint8_t)~0x33;
		x[10] = x[11] = y[10] = y[11] = 0;
	}
	return !memcmp(x, y, n);
}

static void report_frame(const char *why, int p, uint64_t iter, int m, const uint8_t *pkt, size_t len)
{
	TEST_FAIL("%s: %s, iteration %" PRIu64 ", mutation %s, %zu bytes", why, prog_name[p], iter,
		  mut_name[m], len);
	test_hexdump("frame", pkt, len < 128 ? len : 128);
}

/*
 * One frame through program p: a test run without error, exactly one reason counter moved, the
 * verdict that reason's action calls for, untouched if handed to the agent, and delivered only if
 * it carries this iteration's sealed message intact with a counter never accepted before (the
 * same for every authenticated drop). Returns true when the message authenticated.
 */
static bool run_checked(int p, uint64_t iter, int m, const struct frame *fr, const struct sealed *s, bool replay)
{
	static struct run r;
	int err = run_prog(p, fr->b, fr->len, &r), reason, act;

	if (err == -EINVAL && fr->len < 14 + 40) {	/* the kernel refuses runts before the program */
		st[p].refused++;
		return false;
	}
	if (err) {
		report_frame(strerror(-err), p, iter, m, fr->b, fr->len);
		return false;
	}
	st[p].runs++;
	if (r.verdict >= -1 && r.verdict < 9)
		st[p].verdict[r.verdict + 1]++;
	reason = torture_moved_reason(prog_name[p]);
	if (reason < 0) {
		report_frame("reason counters", p, iter, m, fr->b, fr->len);
		return false;
	}
	st[p].reason[reason]++;
	act = xwg_reason_action((uint32_t)reason);
	if (r.verdict != want_verdict(p, act)) {
		TEST_FAIL("verdict %d for reason %s", r.verdict, xwg_reason_key((uint32_t)reason));
		report_frame("verdict", p, iter, m, fr->b, fr->len);
	}
	if (act == XWG_ACT_AGENT && (r.meta_len || r.out_len != fr->len || memcmp(r.out, fr->b, fr->len)))
		report_frame("handed to the agent modified", p, iter, m, fr->b, fr->len);
	if (!authenticated(reason))
		return false;

	/* Authenticated: only this iteration's intact sealed message, its plaintext, a fresh counter. */
	size_t off = r.meta_len + 14;

	if (replay)
		report_frame("replayed frame accepted again", p, iter, m, fr->b, fr->len);
	if (!s->data || s->index != KP_A || !memmem(fr->b, fr->len, s->msg, s->msg_len))
		report_frame("accepted without an intact sealed message", p, iter, m, fr->b, fr->len);
	else if (act == XWG_ACT_DELIVER &&
		 (r.out_len < off + s->inner_len || !inner_equal(r.out + off, s->inner, s->inner_len)))
		report_frame("delivered plaintext differs", p, iter, m, fr->b, fr->len);
	else if (!dset_insert(s->counter))
		report_frame("counter accepted twice", p, iter, m, fr->b, fr->len);
	if (s->counter > top)
		top = s->counter;
	if (s->counter >= next_ctr)
		next_ctr = s->counter + 1;
	if (act != XWG_ACT_DELIVER)
		return true;
	st[p].delivered++;
	st[p].mut_delivered[m]++;
	return true;
}

/* The three receive configurations the torture cycles through. */
static int set_mode(uint64_t mode)
{
	switch (mode) {
	case 0:
		return set_config(LO_IFINDEX, XWG_CFG_F_RX);
	case 1:
		return set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN,
				       HYBRID_BULK);
	default:
		return set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_HYBRID, HYBRID_BULK);
	}
}

static void print_stats(int p)
{
	const struct stats *s = &st[p];

	printf("# %s: %" PRIu64 " runs, %" PRIu64 " delivered, %" PRIu64 " replays refused, %" PRIu64
	       " runts refused by the kernel\n", prog_name[p], s->runs, s->delivered, s->replays, s->refused);
	printf("#   verdicts:");
	for (int v = 0; v < 10; v++)
		if (s->verdict[v])
			printf(" %d=%" PRIu64, v - 1, s->verdict[v]);
	printf("\n#   reasons:");
	for (uint32_t i = 0; i < XWG_R_MAX; i++)
		if (s->reason[i])
			printf(" %s=%" PRIu64, xwg_reason_key(i), s->reason[i]);
	printf("\n#   delivered by mutation:");
	for (int m = 0; m < M_MAX; m++)
		if (s->mut[m])
			printf(" %s=%" PRIu64 "/%" PRIu64, mut_name[m], s->mut_delivered[m], s->mut[m]);
	printf("\n");
}

/*
 * The counters ran up to REJECT_AFTER_MESSAGES: a new keypair under the same index (an empty
 * window), as after a handshake, and the bookkeeping starts over.
 */
static int keypair_renew(void)
{
	if (add_keypair(KP_A, PEER_A, key_a, 1, XWG_KP_F_RECV_VALID)) {
		TEST_FAIL("cannot renew keypair KP_A");
		return -1;
	}
	memset(dset, 0, (sizeof(*dset)) << DSET_BITS);
	top = 0;
	next_ctr = 1;
	renewals++;
	return 0;
}

/* N frames through each program, alternating; a delivered frame is replayed through both. */
static void test_torture(void)
{
	uint64_t n = torture_env("XWG_TORTURE_N", TORTURE_N_DEFAULT);
	uint64_t seed = torture_env("XWG_TORTURE_SEED", (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32);
	static struct frame fr;
	static struct sealed s;

	printf("# XWG_TORTURE_SEED=%" PRIu64 " XWG_TORTURE_N=%" PRIu64 "\n", seed, n);
	torture_seed(seed);
	memset(st, 0, sizeof(st));	/* the counts below are this test's, not the truncation sweep's */
	reasons_snapshot(torture_snap);
	for (uint64_t i = 0; i < 2 * n && test_failures_in_case < 20; i++) {
		int p = (int)(i & 1), m;
		bool fresh;

		if (i % 1000 == 0 && set_mode((i / 1000) % 3)) {
			TEST_FAIL("cannot set the configuration");
			break;
		}
		if (top > REJECT_AFTER_MESSAGES - (1ull << 32) && keypair_renew())
			break;
		m = build_frame(&fr, &s);
		fresh = s.data && s.index == KP_A && s.counter >= next_ctr - 1 && s.counter > top &&
			s.counter < REJECT_AFTER_MESSAGES;
		st[p].mut[m]++;
		st[p].iters++;
		if (!run_checked(p, i, m, &fr, &s, false)) {
			/* An untouched fresh message in the plain configuration must get through. */
			if (m == M_NONE && fresh && !last_gso && (i / 1000) % 3 == 0 && s.inner_len >= 20 &&
			    s.inner[0] >> 4 == 4 && !memcmp(s.inner + 12, "\x0a\x63\x00\x02", 4) &&
			    get16(s.inner + 2) == s.inner_len)
				report_frame("valid frame not delivered", p, i, m, fr.b, fr.len);
			continue;
		}
		for (int q = 0; q < P_MAX; q++) {
			run_checked(q, i, m, &fr, &s, true);
			st[q].replays++;
		}
	}
	printf("# keypair renewed %" PRIu64 " times after counters near REJECT_AFTER_MESSAGES\n", renewals);
	for (int p = 0; p < P_MAX; p++) {
		print_stats(p);
		ASSERT_TRUE(st[p].delivered > 0);
		ASSERT_EQ(st[p].runs + st[p].refused, st[p].iters + st[p].replays);
	}
}

/*
 * Truncation at every length of a valid frame, both families, both programs: only the whole
 * frame may be accepted, once.
 */
static void test_truncations(void)
{
	static struct frame whole, fr;
	static struct sealed s;

	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0);
	reasons_snapshot(torture_snap);
	for (int fam = 4; fam <= 6; fam += 2) {
		s.index = KP_A;
		s.counter = next_ctr++;
		s.inner_len = inner_packet(s.inner, fam == 4 ? IN_V4 : IN_V6, NULL, 100);
		s.msg_len = wg_data(s.msg, s.index, s.counter, s.inner, s.inner_len, key_a);
		s.data = true;
		outer_frame(&whole, fam, 0, PORT, s.msg, s.msg_len);
		for (int p = 0; p < P_MAX; p++) {
			for (size_t len = 0; len < whole.len; len++) {
				fr = whole;
				fr.len = len;
				ASSERT_FALSE(run_checked(p, len, M_TRUNCATE, &fr, &s, false));
			}
		}
		ASSERT_TRUE(run_checked(P_XDP, whole.len, M_NONE, &whole, &s, false));
		ASSERT_FALSE(run_checked(P_TC, whole.len, M_NONE, &whole, &s, true));
	}
}

int main(void)
{
	int status;

	if (!bpf_test_begin("test_bpf_torture", rx_device_setup, "rx.bpf.o or fill its maps", &status))
		return status;
	dset = calloc(1u << DSET_BITS, sizeof(*dset));
	if (!dset)
		return 1;
	next_ctr = 1;
	RUN_TEST(test_truncations);
	RUN_TEST(test_torture);
	free(dset);
	rx_bpf__destroy(skel);
	return TEST_SUMMARY();
}

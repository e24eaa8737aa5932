/* SPDX-License-Identifier: GPL-2.0 */
/* Tests the tc-mode receive path (xwg_rx_tc_full in bpf/rx.bpf.c) through BPF_PROG_TEST_RUN on skbs and in a netns. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "test.h"
#include "wg_frames.h"
#include "xwg_maps.h"
#include "rx.skel.h"

#define REDIR TC_ACT_REDIRECT
#define PASS TC_ACT_UNSPEC
#define SHOT TC_ACT_SHOT

/* The XDP fixtures (test_bpf_rx.c) with the TC verdicts: delivered, to the agent, dropped. */
static const struct fixture fixtures[] = {
	{ "v4 in v4", 4, IN_V4, NULL, 33, KP_A, 0, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "same packet again", 4, IN_V4, NULL, 33, KP_A, 0, MUT_NONE, SHOT, XWG_R_REPLAY, OUT_SAME },
	{ "v6 in v6", 6, IN_V6, NULL, 33, KP_A, 1, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "v6 in v4", 4, IN_V6, NULL, 0, KP_A, 2, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "v4 in v6", 6, IN_V4, NULL, 100, KP_A, 3, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "MTU-sized, padding capped", 4, IN_V4, NULL, MTU - 29, KP_A, 4, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "MTU-sized v6 in v6", 6, IN_V6, NULL, MTU - 49, KP_A, 5, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "outer IPv4 options", 4, IN_V4, NULL, 64, KP_A, 6, MUT_IPOPT, REDIR, XWG_R_OK, OUT_INNER },
	{ "keepalive", 4, IN_KEEPALIVE, NULL, 0, KP_A, 7, MUT_NONE, SHOT, XWG_R_KEEPALIVE, OUT_ANY },
	{ "keepalive replayed", 4, IN_KEEPALIVE, NULL, 0, KP_A, 7, MUT_NONE, SHOT, XWG_R_REPLAY, OUT_SAME },
	{ "jump ahead", 4, IN_V4, NULL, 10, KP_A, 10000, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "behind, inside the window", 4, IN_V4, NULL, 10, KP_A, 9000, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "inside the window, replayed", 4, IN_V4, NULL, 10, KP_A, 9000, MUT_NONE, SHOT, XWG_R_REPLAY, OUT_SAME },
	{ "oldest counter in the window", 4, IN_V4, NULL, 10, KP_A, 10000 - 8128, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "one behind the window", 4, IN_V4, NULL, 10, KP_A, 10000 - 8129, MUT_NONE, SHOT, XWG_R_REPLAY, OUT_SAME },
	{ "counter at REJECT_AFTER_MESSAGES", 4, IN_V4, NULL, 10, KP_A, REJECT_AFTER_MESSAGES, MUT_NONE, SHOT, XWG_R_REPLAY, OUT_SAME },
	{ "flipped ciphertext bit", 4, IN_V4, NULL, 10, KP_A, 10001, MUT_FLIP_CT, SHOT, XWG_R_BAD_TAG, OUT_ANY },
	{ "flipped tag bit", 6, IN_V6, NULL, 10, KP_A, 10002, MUT_FLIP_TAG, SHOT, XWG_R_BAD_TAG, OUT_ANY },
	{ "flipped bit in a long message", 6, IN_V4, NULL, 700, KP_A, 10003, MUT_FLIP_CT, SHOT, XWG_R_BAD_TAG, OUT_ANY },
	{ "forgeries did not burn counters", 4, IN_V4, NULL, 10, KP_A, 10001, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	{ "inner source of another peer", 4, IN_V4, "10.99.0.7", 10, KP_A, 10004, MUT_NONE, SHOT, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "inner source nobody owns", 4, IN_V4, "192.0.2.99", 10, KP_A, 10005, MUT_NONE, SHOT, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "inner v6 source of another peer", 4, IN_V6, "fd00::7", 10, KP_A, 10006, MUT_NONE, SHOT, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "plaintext is not IP", 4, IN_NOT_IP, NULL, 0, KP_A, 10007, MUT_NONE, SHOT, XWG_R_BAD_INNER, OUT_ANY },
	{ "inner length beyond plaintext", 4, IN_BAD_LEN, NULL, 10, KP_A, 10008, MUT_NONE, SHOT, XWG_R_BAD_INNER, OUT_ANY },
	{ "31-byte data message", 4, IN_V4, NULL, 10, KP_A, 10009, MUT_TRUNC, PASS, XWG_R_SHORT, OUT_SAME },
	{ "UDP length beyond the packet", 4, IN_V4, NULL, 10, KP_A, 10010, MUT_UDPLEN, PASS, XWG_R_SHORT, OUT_SAME },
	{ "reserved byte set", 4, IN_V4, NULL, 10, KP_A, 10011, MUT_RESERVED, PASS, XWG_R_NOT_DATA, OUT_SAME },
	{ "handshake initiation", 4, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE1, PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "handshake response", 6, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE2, PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "cookie reply", 4, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE3, PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "unknown receiver index", 4, IN_V4, NULL, 10, KP_UNKNOWN, 0, MUT_NONE, PASS, XWG_R_UNKNOWN_INDEX, OUT_SAME },
	{ "expired keypair", 4, IN_V4, NULL, 10, KP_EXPIRED, 0, MUT_NONE, PASS, XWG_R_EXPIRED_KEY, OUT_SAME },
	{ "keypair not receiving", 6, IN_V4, NULL, 10, KP_OFF, 0, MUT_NONE, PASS, XWG_R_EXPIRED_KEY, OUT_SAME },
	{ "other UDP port", 4, IN_V4, NULL, 10, KP_A, 10012, MUT_PORT, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "TCP to the listen port", 4, IN_V4, NULL, 10, KP_A, 10013, MUT_TCP, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "outer IPv4 fragment", 4, IN_V4, NULL, 10, KP_A, 10014, MUT_FRAG, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "outer IPv6 extension header", 6, IN_V4, NULL, 10, KP_A, 10015, MUT_V6EXT, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "ARP", 4, IN_V4, NULL, 10, KP_A, 10016, MUT_ARP, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "garbage after Ethernet", 4, IN_V4, NULL, 10, KP_A, 10017, MUT_GARBAGE, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "runt frame", 4, IN_V4, NULL, 10, KP_A, 10018, MUT_RUNT, PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "still in sync after all that", 6, IN_V6, NULL, 1000, KP_A, 10019, MUT_NONE, REDIR, XWG_R_OK, OUT_INNER },
	ECN_FIXTURES(REDIR, SHOT),
};

/* ---------------------------------------------------------------- BPF plumbing */

/* One skb through xwg_rx_tc_full as if it arrived on lo; gso_size != 0 fakes a GRO packet. */
static int run_tc_gso(const uint8_t *pkt, size_t len, uint32_t gso_size, uint32_t repeat, struct run *r)
{
	struct __sk_buff in = { .ingress_ifindex = LO_IFINDEX, .gso_size = gso_size, .gso_segs = gso_size ? 2 : 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out),
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .repeat = (int)repeat);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx_tc_full), &opts);

	if (err)
		return err;
	r->verdict = (int)opts.retval;
	r->out_len = opts.data_size_out;
	return (int)opts.duration;
}

static int run_tc(const uint8_t *pkt, size_t len, struct run *r)
{
	int ret = run_tc_gso(pkt, len, 0, 1, r);

	return ret < 0 ? ret : 0;
}

static int setup(void)
{
	return rx_device_setup() || add_allowed(4, "10.99.0.9", 32, PEER_EVENTS) ? -1 : 0;
}

/* ---------------------------------------------------------------- tests */

static void check_output(const struct fixture *f, const struct frame *fr, const struct run *r)
{
	if (f->out == OUT_SAME) {
		ASSERT_EQ(r->out_len, fr->len);
		if (r->out_len == fr->len)
			ASSERT_MEMEQ(r->out, fr->b, fr->len);
	} else if (f->out == OUT_INNER) {
		ASSERT_EQ(r->out_len, 14 + fr->inner_len);
		if (r->out_len != 14 + fr->inner_len)
			return;
		ASSERT_MEMEQ(r->out, fr->b, 12);
		ASSERT_EQ(r->out[12] << 8 | r->out[13], fr->inner_proto);
		ASSERT_MEMEQ(r->out + 14, fr->inner, fr->inner_len);
	}
}

static void run_fixture(const struct fixture *f)
{
	rx_run_fixture(f, run_tc, check_output);
}

static void test_fixtures(void)
{
	RUN_FIXTURES(fixtures, run_fixture);
}

static const struct fixture hybrid_fixtures[] = { HYBRID_FIXTURES(PASS, REDIR, SHOT) };
static const struct fixture not_hybrid_fixtures[] = { NOT_HYBRID_FIXTURES(PASS, REDIR) };
static const struct fixture hybrid_keep_fixtures[] = { HYBRID_KEEP_UNKNOWN_FIXTURES(PASS) };

/* auto's per-packet choice on the main table's keypair, then the explicit modes' behaviour. */
static void test_hybrid(void)
{
	RUN_HYBRID_FIXTURES(hybrid_fixtures, hybrid_keep_fixtures, not_hybrid_fixtures, run_fixture);
}

/* Peer A's per-CPU stats hold exactly the delivered and keepalive message bytes, as in XDP. */
static void test_peer_stats(void)
{
	rx_check_peer_stats();
}

/* The protocol digest's transport messages (section 9.6): short pieces through the skb helpers. */
static void test_digest_vectors(void)
{
	rx_digest_vectors(run_tc, TC_ACT_SHOT, 6);
}

/* Confirmation, rekey (initiator, 170 s) and roaming, with the endpoint read from the skb. */
static void test_events(void)
{
	struct fixture f = { "event", 4, IN_V4, "10.99.0.9", 10, KP_EVENTS, 0, MUT_NONE, 0, 0, 0 };
	struct xwg_endpoint want = fixture_endpoint();
	struct events ev = { .n = 0 };
	const struct xwg_event *e;
	struct ring_buffer *rb;
	struct xwg_keypair kp;
	uint32_t index = KP_EVENTS;
	struct frame fr;
	struct run r;

	rb = ring_buffer__new(bpf_map__fd(skel->maps.xwg_events), rx_event_cb, &ev, NULL);
	ASSERT_TRUE(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);	/* whatever the fixtures produced */
	ev.n = 0;
	build(&f, &fr);
	ASSERT_EQ(run_tc(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
	ASSERT_EQ(ring_buffer__consume(rb), 3);
	ASSERT_TRUE(find_event(&ev, XWG_EV_KEYPAIR_CONFIRMED) != NULL);
	ASSERT_TRUE(find_event(&ev, XWG_EV_REKEY_NEEDED) != NULL);
	e = find_event(&ev, XWG_EV_ROAMED);
	ASSERT_TRUE(e != NULL);
	if (e) {
		ASSERT_EQ(e->peer_id, PEER_EVENTS);
		ASSERT_EQ(e->index, KP_EVENTS);
		ASSERT_MEMEQ(&e->endpoint, &want, sizeof(want));
		ASSERT_EQ(e->flags, XWG_EVF_DATA);	/* it carried a packet: path.c may follow the peer */
	}
	ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp), 0);
	ASSERT_EQ(kp.state, XWG_KP_S_CONFIRMED | XWG_KP_S_REKEY_SENT);
	ring_buffer__free(rb);
}

/* Offload off, or a GRO super-packet (one tag per datagram): the agent's, untouched. */
static void test_agent_cases(void)
{
	struct fixture f = { "agent", 4, IN_V4, NULL, 10, KP_A, 20000, MUT_NONE, 0, 0, 0 };
	uint64_t dis = reason_count(XWG_R_DISABLED), nl = reason_count(XWG_R_NONLINEAR);
	uint64_t ok = reason_count(XWG_R_OK);
	struct frame fr;
	struct run r;

	build(&f, &fr);
	ASSERT_EQ(set_config(LO_IFINDEX, 0), 0);
	ASSERT_EQ(run_tc(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, TC_ACT_UNSPEC);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out, fr.b, fr.len);
	ASSERT_EQ(set_config(0, XWG_CFG_F_RX), 0);	/* no tunnel: also off */
	ASSERT_EQ(run_tc(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, TC_ACT_UNSPEC);
	ASSERT_EQ(reason_count(XWG_R_DISABLED), dis + 2);
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0);

	ASSERT_TRUE(run_tc_gso(fr.b, fr.len, 100, 1, &r) >= 0);
	ASSERT_EQ(r.verdict, TC_ACT_UNSPEC);
	ASSERT_EQ(reason_count(XWG_R_NONLINEAR), nl + 1);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out, fr.b, fr.len);

	/* The same packet, not GRO: the counter is still fresh. */
	ASSERT_EQ(run_tc(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, TC_ACT_REDIRECT);
	ASSERT_EQ(reason_count(XWG_R_OK), ok + 1);
	peer_a_bytes += fr.len - fr.wg_off;
	peer_a_packets++;
}

/* A bad tag costs a full decrypt and verify: the price of one MTU-sized message, printed. */
static void test_cost(void)
{
	struct fixture f = { "cost", 4, IN_V4, NULL, MTU - 29, KP_A, 30000, MUT_FLIP_TAG, 0, 0, 0 };
	uint64_t n = reason_count(XWG_R_BAD_TAG);
	struct frame fr;
	struct run r;
	int ns;

	build(&f, &fr);
	ns = run_tc_gso(fr.b, fr.len, 0, 1000, &r);
	ASSERT_TRUE(ns >= 0);
	ASSERT_EQ(r.verdict, TC_ACT_SHOT);
	ASSERT_EQ(reason_count(XWG_R_BAD_TAG), n + 1000);
	printf("# %zu-byte message, decrypt + verify in BPF (tc): %d ns\n", fr.len - fr.wg_off, ns);
}

/* ---------------------------------------------------------------- end to end, in a private netns */

struct e2e {
	int peer[2];		/* the "peer": v4 and v6 sockets on lo that send WireGuard messages */
	int agent[2];		/* the "agent": v4 and v6 sockets on the listen port */
};

/* A real UDP datagram over lo: TC ingress on lo -> xwg_rx_tc_full -> tunnel ingress. */
static ssize_t e2e_send(const struct e2e *e, int outer, int inner, uint64_t counter, int mutate)
{
	struct fixture f = { "e2e", outer, inner, NULL, 24, KP_E2E, counter, mutate, 0, 0, 0 };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(PORT),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t wg[FRAME_MAX];
	struct frame fr;
	size_t n = build_wg(&f, &fr, wg);

	if (mutate == MUT_FLIP_TAG)
		wg[n - 1] ^= 0x80;
	if (outer == 4)
		return sendto(e->peer[0], wg, n, 0, (struct sockaddr *)&s4, sizeof(s4));
	return sendto(e->peer[1], wg, n, 0, (struct sockaddr *)&s6, sizeof(s6));
}

/*
 * UDP_SEGMENT makes the sender put the payload in page fragments: one message arrives with only
 * Ethernet + IP + UDP in the linear part (headers pulled, payload through the helpers); two
 * messages in one send stay a GSO packet over lo, which must reach the agent, segmented.
 */
static void e2e_paged(const struct e2e *e, int s4, int tun_ifindex)
{
	struct fixture f = { "paged", 4, IN_V4, NULL, 500, KP_E2E, 10, MUT_NONE, 0, 0, 0 };
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint64_t nl = reason_count(XWG_R_NONLINEAR), ok = reason_count(XWG_R_OK);
	static uint8_t wg[2 * FRAME_MAX], got[FRAME_MAX];
	int gso = 1200, via;
	struct frame fr;
	size_t n, m;

	ASSERT_EQ(setsockopt(e->peer[0], IPPROTO_UDP, UDP_SEGMENT, &gso, sizeof(gso)), 0);
	n = build_wg(&f, &fr, wg);
	ASSERT_EQ(sendto(e->peer[0], wg, n, 0, (struct sockaddr *)&s, sizeof(s)), (ssize_t)n);
	ASSERT_EQ(udp_recv(s4, got, sizeof(got), &via), 500);
	ASSERT_EQ(via, tun_ifindex);
	ASSERT_MEMEQ(got, fr.inner + 28, 500);
	ASSERT_EQ(reason_count(XWG_R_OK), ok + 1);

	/* Two messages of exactly gso bytes each: 1200 - 32 = 1168 plaintext bytes, 1140 of UDP. */
	f.payload = 1200 - 32 - 28;
	f.counter = 11;
	n = build_wg(&f, &fr, wg);
	f.counter = 12;
	m = build_wg(&f, &fr, wg + n);
	ASSERT_EQ(n, 1200);
	ASSERT_EQ(sendto(e->peer[0], wg, n + m, 0, (struct sockaddr *)&s, sizeof(s)), (ssize_t)(n + m));
	ASSERT_EQ(udp_recv(e->agent[0], got, sizeof(got), &via), 1200);
	ASSERT_MEMEQ(got, wg, 1200);
	ASSERT_EQ(udp_recv(e->agent[0], got, sizeof(got), &via), 1200);
	ASSERT_MEMEQ(got, wg + n, 1200);
	ASSERT_EQ(reason_count(XWG_R_NONLINEAR), nl + 1);
	ASSERT_EQ(recv(s4, got, sizeof(got), MSG_DONTWAIT), -1);
	gso = 0;
	setsockopt(e->peer[0], IPPROTO_UDP, UDP_SEGMENT, &gso, sizeof(gso));
}

static void test_e2e_netns(void)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO_IFINDEX, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = bpf_program__fd(skel->progs.xwg_rx_tc_full));
	struct e2e e = { { -1, -1 }, { -1, -1 } };
	uint8_t want[24], got[256];
	int tun, ifindex = 0, via, s4, s6;
	uint64_t ok = reason_count(XWG_R_OK), hs = reason_count(XWG_R_HANDSHAKE);
	uint64_t bad = reason_count(XWG_R_BAD_TAG), rep = reason_count(XWG_R_REPLAY);

	if (bpf_test_enter_netns())
		return;
	tun = test_tun_open("xwgtc0", &ifindex);
	ASSERT_TRUE(tun >= 0);
	if (tun < 0)
		return;
	ASSERT_EQ(system("ip link set lo up && ip link set xwgtc0 up && "
			 "ip addr add 10.99.0.1/24 dev xwgtc0 && ip addr add fd00::1/64 dev xwgtc0 nodad"), 0);
	ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
	ASSERT_EQ(bpf_tc_attach(&hook, &tc), 0);
	ASSERT_EQ(set_config((uint32_t)ifindex, XWG_CFG_F_RX), 0);
	ASSERT_EQ(add_keypair(KP_E2E, PEER_A, key_a, 1, XWG_KP_F_RECV_VALID), 0);
	s4 = udp_listen(4, "10.99.0.1", 7777);
	s6 = udp_listen(6, "fd00::1", 7777);
	e.peer[0] = udp_listen(4, "127.0.0.1", 40000);
	e.peer[1] = udp_listen(6, "::1", 40000);
	e.agent[0] = udp_listen(4, "127.0.0.1", PORT);
	e.agent[1] = udp_listen(6, "::1", PORT);
	ASSERT_TRUE(s4 >= 0 && s6 >= 0 && e.peer[0] >= 0 && e.peer[1] >= 0 && e.agent[0] >= 0 && e.agent[1] >= 0);

	for (int i = 0; i < 24; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	/* Delivered on the tunnel (inner UDP checksums verified by the stack), never to the agent. */
	ASSERT_TRUE(e2e_send(&e, 4, IN_V4, 0, MUT_NONE) > 0);
	ASSERT_EQ(udp_recv(s4, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_TRUE(e2e_send(&e, 6, IN_V6, 1, MUT_NONE) > 0);
	ASSERT_EQ(udp_recv(s6, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_TRUE(e2e_send(&e, 4, IN_V6, 2, MUT_NONE) > 0);	/* skb->protocol must turn IPv6 */
	ASSERT_EQ(udp_recv(s6, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_TRUE(e2e_send(&e, 6, IN_V4, 3, MUT_NONE) > 0);
	ASSERT_EQ(udp_recv(s4, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_EQ(reason_count(XWG_R_OK), ok + 4);

	/* Replay and forgery: dropped in TC, nothing anywhere. A handshake reaches the agent. */
	ASSERT_TRUE(e2e_send(&e, 4, IN_V4, 0, MUT_NONE) > 0);
	ASSERT_TRUE(e2e_send(&e, 6, IN_V6, 4, MUT_FLIP_TAG) > 0);
	ASSERT_TRUE(e2e_send(&e, 4, IN_V4, 0, MUT_TYPE1) > 0);
	ASSERT_EQ(udp_recv(e.agent[0], got, sizeof(got), &via), 148);
	ASSERT_EQ(got[0], 1);
	ASSERT_EQ(recv(s4, got, sizeof(got), MSG_DONTWAIT), -1);
	ASSERT_EQ(recv(s6, got, sizeof(got), MSG_DONTWAIT), -1);
	ASSERT_EQ(recv(e.agent[0], got, sizeof(got), MSG_DONTWAIT), -1);
	ASSERT_EQ(recv(e.agent[1], got, sizeof(got), MSG_DONTWAIT), -1);
	ASSERT_EQ(reason_count(XWG_R_REPLAY), rep + 1);
	ASSERT_EQ(reason_count(XWG_R_BAD_TAG), bad + 1);
	ASSERT_EQ(reason_count(XWG_R_HANDSHAKE), hs + 1);

	e2e_paged(&e, s4, ifindex);

	bpf_tc_hook_destroy(&hook);
	for (int i = 0; i < 2; i++) {
		close(e.peer[i]);
		close(e.agent[i]);
	}
	close(s4);
	close(s6);
	close(tun);
}

int main(void)
{
	static const char *const progs[] = { "xwg_rx_tc_full" };
	int status;

	if (!bpf_test_begin("test_bpf_rx_tc", setup, "rx.bpf.o or fill its maps", &status))
		return status;
	bpf_test_verifier_stats(rx_bpf__elf_bytes, progs, 1);
	RUN_TEST(test_fixtures);
	RUN_TEST(test_hybrid);
	RUN_TEST(test_agent_cases);
	RUN_TEST(test_peer_stats);
	RUN_TEST(test_digest_vectors);
	RUN_TEST(test_events);
	RUN_TEST(test_cost);
	RUN_TEST(test_e2e_netns);	/* last: it moves the process into a new network namespace */
	rx_bpf__destroy(skel);
	return TEST_SUMMARY();
}

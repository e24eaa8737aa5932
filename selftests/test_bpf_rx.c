/* SPDX-License-Identifier: GPL-2.0 */
/* Tests the BPF receive path (bpf/rx.bpf.c) with real WireGuard packets through BPF_PROG_TEST_RUN and a netns. */
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
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "test.h"
#include "wg_frames.h"
#include "xwg_maps.h"
#include "rx.skel.h"

static const struct fixture fixtures[] = {
	{ "v4 in v4", 4, IN_V4, NULL, 33, KP_A, 0, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "same packet again", 4, IN_V4, NULL, 33, KP_A, 0, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "v6 in v6", 6, IN_V6, NULL, 33, KP_A, 1, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "v6 in v4", 4, IN_V6, NULL, 0, KP_A, 2, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "v4 in v6", 6, IN_V4, NULL, 100, KP_A, 3, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "MTU-sized, padding capped", 4, IN_V4, NULL, MTU - 29, KP_A, 4, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "outer IPv4 options", 4, IN_V4, NULL, 64, KP_A, 5, MUT_IPOPT, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "keepalive", 4, IN_KEEPALIVE, NULL, 0, KP_A, 6, MUT_NONE, XDP_DROP, XWG_R_KEEPALIVE, OUT_ANY },
	{ "keepalive replayed", 4, IN_KEEPALIVE, NULL, 0, KP_A, 6, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "jump ahead", 4, IN_V4, NULL, 10, KP_A, 10000, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "behind, inside the window", 4, IN_V4, NULL, 10, KP_A, 9000, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "inside the window, replayed", 4, IN_V4, NULL, 10, KP_A, 9000, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "oldest counter in the window", 4, IN_V4, NULL, 10, KP_A, 10000 - 8128, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "one behind the window", 4, IN_V4, NULL, 10, KP_A, 10000 - 8129, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "far behind the window", 4, IN_V4, NULL, 10, KP_A, 1000, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "counter at REJECT_AFTER_MESSAGES", 4, IN_V4, NULL, 10, KP_A, REJECT_AFTER_MESSAGES, MUT_NONE, XDP_DROP, XWG_R_REPLAY, OUT_SAME },
	{ "flipped ciphertext bit", 4, IN_V4, NULL, 10, KP_A, 10001, MUT_FLIP_CT, XDP_DROP, XWG_R_BAD_TAG, OUT_ANY },
	{ "flipped tag bit", 6, IN_V6, NULL, 10, KP_A, 10002, MUT_FLIP_TAG, XDP_DROP, XWG_R_BAD_TAG, OUT_ANY },
	{ "forgeries did not burn counters", 4, IN_V4, NULL, 10, KP_A, 10001, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	{ "inner source of another peer", 4, IN_V4, "10.99.0.7", 10, KP_A, 10003, MUT_NONE, XDP_DROP, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "inner source nobody owns", 4, IN_V4, "192.0.2.99", 10, KP_A, 10004, MUT_NONE, XDP_DROP, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "inner v6 source nobody owns", 6, IN_V6, "fd00::99", 10, KP_A, 10005, MUT_NONE, XDP_DROP, XWG_R_WRONG_SOURCE, OUT_ANY },
	{ "plaintext is not IP", 4, IN_NOT_IP, NULL, 0, KP_A, 10006, MUT_NONE, XDP_DROP, XWG_R_BAD_INNER, OUT_ANY },
	{ "inner length beyond plaintext", 4, IN_BAD_LEN, NULL, 10, KP_A, 10007, MUT_NONE, XDP_DROP, XWG_R_BAD_INNER, OUT_ANY },
	{ "31-byte data message", 4, IN_V4, NULL, 10, KP_A, 10008, MUT_TRUNC, XDP_PASS, XWG_R_SHORT, OUT_SAME },
	{ "UDP length beyond the packet", 4, IN_V4, NULL, 10, KP_A, 10009, MUT_UDPLEN, XDP_PASS, XWG_R_SHORT, OUT_SAME },
	{ "reserved byte set", 4, IN_V4, NULL, 10, KP_A, 10010, MUT_RESERVED, XDP_PASS, XWG_R_NOT_DATA, OUT_SAME },
	{ "handshake initiation", 4, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE1, XDP_PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "handshake response", 6, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE2, XDP_PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "cookie reply", 4, IN_V4, NULL, 0, KP_A, 0, MUT_TYPE3, XDP_PASS, XWG_R_HANDSHAKE, OUT_SAME },
	{ "unknown receiver index", 4, IN_V4, NULL, 10, KP_UNKNOWN, 0, MUT_NONE, XDP_PASS, XWG_R_UNKNOWN_INDEX, OUT_SAME },
	{ "expired keypair", 4, IN_V4, NULL, 10, KP_EXPIRED, 0, MUT_NONE, XDP_PASS, XWG_R_EXPIRED_KEY, OUT_SAME },
	{ "keypair not receiving", 6, IN_V4, NULL, 10, KP_OFF, 0, MUT_NONE, XDP_PASS, XWG_R_EXPIRED_KEY, OUT_SAME },
	{ "peer the agent took out of BPF", 4, IN_V4, NULL, 10, KP_AGENT, 1, MUT_NONE, XDP_PASS, XWG_R_PEER_AGENT, OUT_SAME },
	{ "other UDP port", 4, IN_V4, NULL, 10, KP_A, 10011, MUT_PORT, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "TCP to the listen port", 4, IN_V4, NULL, 10, KP_A, 10012, MUT_TCP, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "outer IPv4 fragment", 4, IN_V4, NULL, 10, KP_A, 10013, MUT_FRAG, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "outer IPv6 extension header", 6, IN_V4, NULL, 10, KP_A, 10014, MUT_V6EXT, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "ARP", 4, IN_V4, NULL, 10, KP_A, 10015, MUT_ARP, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "garbage after Ethernet", 4, IN_V4, NULL, 10, KP_A, 10016, MUT_GARBAGE, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "runt frame", 4, IN_V4, NULL, 10, KP_A, 10017, MUT_RUNT, XDP_PASS, XWG_R_NOT_WG, OUT_SAME },
	{ "still in sync after all that", 6, IN_V6, NULL, 1000, KP_A, 10018, MUT_NONE, XDP_PASS, XWG_R_OK, OUT_INNER },
	ECN_FIXTURES(XDP_PASS, XDP_DROP),
};

/* ---------------------------------------------------------------- BPF plumbing */

static int run_xdp(const uint8_t *pkt, size_t len, struct run *r)
{
	struct xdp_md in = { .data_end = (uint32_t)len, .ingress_ifindex = LO_IFINDEX }, out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out),
		    .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out, .ctx_size_out = sizeof(out),
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx), &opts);

	if (err)
		return err;
	r->verdict = (int)opts.retval;
	r->out_len = opts.data_size_out;
	r->meta_len = out.data;		/* XDP test runs report data - data_meta here */
	return 0;
}

/* ---------------------------------------------------------------- tests */

static void check_output(const struct fixture *f, const struct frame *fr, const struct run *r)
{
	const struct xwg_rx_meta *meta = (const void *)r->out;
	const uint8_t *eth = r->out + r->meta_len;

	if (f->out == OUT_SAME) {
		ASSERT_EQ(r->meta_len, 0);
		ASSERT_EQ(r->out_len, fr->len);
		if (r->out_len == fr->len)
			ASSERT_MEMEQ(r->out, fr->b, fr->len);
	} else if (f->out == OUT_INNER) {
		struct xwg_rx_mark l3;
		/* Outer headers off; padding and tag stay, for xwg_rx_tc to trim to mark.keep. */
		size_t want = sizeof(*meta) + 14 + fr->len - fr->wg_off - 16;

		memcpy(&l3, meta->mark_l3, sizeof(l3));
		ASSERT_EQ(r->meta_len, sizeof(*meta));
		ASSERT_EQ(r->out_len, want);
		if (r->out_len != want)
			return;
		ASSERT_EQ(meta->mark.magic, XWG_RX_META_MAGIC);
		ASSERT_EQ(meta->mark.peer_id, PEER_A);
		ASSERT_EQ(meta->mark.keep, 14 + fr->inner_len);
		/* The copy TC reads when it sees the network header (after generic XDP). */
		ASSERT_EQ(l3.magic, XWG_RX_META_MAGIC);
		ASSERT_EQ(l3.peer_id, PEER_A);
		ASSERT_EQ(l3.keep, fr->inner_len);
		ASSERT_MEMEQ(eth, fr->b, 12);
		ASSERT_EQ(eth[12] << 8 | eth[13], fr->inner_proto);
		ASSERT_MEMEQ(eth + 14, fr->inner, fr->inner_len);
	}
}

static void run_fixture(const struct fixture *f)
{
	rx_run_fixture(f, run_xdp, check_output);
}

static void test_fixtures(void)
{
	RUN_FIXTURES(fixtures, run_fixture);
}

static const struct fixture hybrid_fixtures[] = { HYBRID_FIXTURES(XDP_PASS, XDP_PASS, XDP_DROP) };
static const struct fixture not_hybrid_fixtures[] = { NOT_HYBRID_FIXTURES(XDP_PASS, XDP_PASS) };
static const struct fixture hybrid_keep_fixtures[] = { HYBRID_KEEP_UNKNOWN_FIXTURES(XDP_PASS) };

/* auto's per-packet choice on the main table's keypair, then the explicit modes' behaviour. */
static void test_hybrid(void)
{
	RUN_HYBRID_FIXTURES(hybrid_fixtures, hybrid_keep_fixtures, not_hybrid_fixtures, run_fixture);
}

/* Peer A's per-CPU stats hold exactly the delivered and keepalive message bytes. */
static void test_peer_stats(void)
{
	rx_check_peer_stats();
}

/* The protocol digest's transport messages (section 9.6), decrypted by BPF with T1. */
static void test_digest_vectors(void)
{
	rx_digest_vectors(run_xdp, XDP_DROP, 4);
}

static void send_event_packet(uint64_t counter)
{
	struct fixture f = { "event", 4, IN_V4, "10.99.0.9", 10, KP_EVENTS, counter, MUT_NONE, 0, 0, 0 };
	struct frame fr;
	struct run r;

	build(&f, &fr);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
}

/* First packet: confirmed + rekey (initiator, 170 s) + roamed; then silence; then a fresh roam. */
static void test_events(void)
{
	struct events ev = { .n = 0 };
	struct ring_buffer *rb;
	struct xwg_endpoint want = fixture_endpoint();
	struct xwg_keypair kp;
	const struct xwg_event *e;
	uint32_t index = KP_EVENTS;
	uint64_t e_time;

	ASSERT_EQ(add_allowed(4, "10.99.0.9", 32, PEER_EVENTS), 0);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.xwg_events), rx_event_cb, &ev, NULL);
	ASSERT_TRUE(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);	/* whatever the fixtures' roaming produced */
	ev.n = 0;

	e_time = mono_ns();
	send_event_packet(0);
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
		ASSERT_TRUE(e->time_ns > 0 && e->time_ns <= mono_ns());
	}
	ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp), 0);
	ASSERT_EQ(kp.state, XWG_KP_S_CONFIRMED | XWG_KP_S_REKEY_SENT);

	/* Same source within the rate-limit gap, state bits already set: nothing new. */
	ev.n = 0;
	send_event_packet(1);
	if (mono_ns() - e_time < XWG_ROAM_EVENT_GAP_NS)	/* a stalled machine may legitimately re-send */
		ASSERT_EQ(ring_buffer__consume(rb), 0);
	else
		ring_buffer__consume(rb);

	/* The agent adopted the endpoint: still nothing; then the peer moves again after the gap. */
	ASSERT_EQ(set_peer(PEER_EVENTS, &want), 0);
	send_event_packet(2);
	ASSERT_EQ(ring_buffer__consume(rb), 0);
	want.port = htons(1);
	ASSERT_EQ(set_peer(PEER_EVENTS, &want), 0);
	usleep(XWG_ROAM_EVENT_GAP_NS / 1000 + 10000);
	send_event_packet(3);
	ASSERT_EQ(ring_buffer__consume(rb), 1);
	ASSERT_TRUE(find_event(&ev, XWG_EV_ROAMED) != NULL);
	ring_buffer__free(rb);
}

/* A full ring loses no confirmation: the state bit stays clear until the event got through. */
static void test_events_overflow(void)
{
	const uint32_t first = 0x20000000u, count = 1200;	/* 1200 events > 64 KiB of ring */
	struct events ev = { .n = 0 };
	struct ring_buffer *rb;
	struct xwg_keypair kp;
	uint32_t index, unconfirmed = 0;

	rb = ring_buffer__new(bpf_map__fd(skel->maps.xwg_events), rx_event_cb, &ev, NULL);
	ASSERT_TRUE(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);
	for (index = first; index < first + count; index++) {
		struct fixture f = { "overflow", 4, IN_KEEPALIVE, NULL, 0, index, 0, MUT_NONE, 0, 0, 0 };
		struct frame fr;
		struct run r;

		ASSERT_EQ(add_keypair(index, PEER_A, key_a, 1, XWG_KP_F_RECV_VALID), 0);
		build(&f, &fr);
		ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
		ASSERT_EQ(r.verdict, XDP_DROP);
		peer_a_bytes += fr.len - fr.wg_off;
		peer_a_packets++;
	}
	for (index = first; index < first + count; index++) {
		ASSERT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index, &kp), 0);
		unconfirmed += !(kp.state & XWG_KP_S_CONFIRMED);
	}
	ASSERT_TRUE(unconfirmed > 0 && unconfirmed < count);

	/* Drained, the next packet under the last keypair confirms it. */
	ASSERT_EQ(ring_buffer__consume(rb), (int)(count - unconfirmed));
	index = first + count - 1;
	ev.n = 0;
	{
		struct fixture f = { "overflow", 4, IN_KEEPALIVE, NULL, 0, index, 1, MUT_NONE, 0, 0, 0 };
		struct frame fr;
		struct run r;

		build(&f, &fr);
		ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
		peer_a_bytes += fr.len - fr.wg_off;
		peer_a_packets++;
	}
	ASSERT_EQ(ring_buffer__consume(rb), 1);
	ASSERT_TRUE(ev.n == 1 && ev.ev[0].type == XWG_EV_KEYPAIR_CONFIRMED && ev.ev[0].index == index);
	for (index = first; index < first + count; index++)
		bpf_map_delete_elem(bpf_map__fd(skel->maps.xwg_keypairs), &index);
	ring_buffer__free(rb);
}

/* Receive offload off: even a perfect packet goes to the agent untouched. */
static void test_disabled(void)
{
	struct fixture f = { "disabled", 4, IN_V4, NULL, 10, KP_A, 20000, MUT_NONE, 0, 0, 0 };
	uint64_t n = reason_count(XWG_R_DISABLED);
	struct frame fr;
	struct run r;

	build(&f, &fr);
	ASSERT_EQ(set_config(LO_IFINDEX, 0), 0);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out, fr.b, fr.len);
	ASSERT_EQ(set_config(0, XWG_CFG_F_RX), 0);	/* no tunnel: also off */
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(reason_count(XWG_R_DISABLED), n + 2);
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(r.meta_len, sizeof(struct xwg_rx_meta));
}

/*
 * Spreading on: data messages leave xwg_rx for the cpumap entry its receiver index picks (without
 * entries, up untouched to the agent), everything else takes the usual path.
 */
static void test_spread(void)
{
	struct fixture f = { "spread", 4, IN_V4, NULL, 10, KP_A, 20100, MUT_NONE, 0, 0, 0 };
	struct bpf_cpumap_val v = { .qsize = 64, .bpf_prog.fd = bpf_program__fd(skel->progs.xwg_rx_cpu) };
	int cpus = bpf_map__fd(skel->maps.xwg_rx_cpus);
	uint64_t ok = reason_count(XWG_R_OK), hs = reason_count(XWG_R_HANDSHAKE);
	uint8_t init[148] = { 1 };
	struct frame fr, hfr;
	struct run r;

	build(&f, &fr);
	outer_frame(&hfr, 4, 0, PORT, init, sizeof(init));
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_RX_SPREAD), 0);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out, fr.b, fr.len);
	for (uint32_t cpu = 0; cpu < 2; cpu++)
		ASSERT_EQ(bpf_map_update_elem(cpus, &cpu, &v, BPF_ANY), 0);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_REDIRECT);
	ASSERT_EQ(reason_count(XWG_R_OK), ok);		/* not decrypted here */
	ASSERT_EQ(run_xdp(hfr.b, hfr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(reason_count(XWG_R_HANDSHAKE), hs + 1);
	for (uint32_t cpu = 0; cpu < 2; cpu++)
		bpf_map_delete_elem(cpus, &cpu);
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0);
	/* The same message is still fresh: spreading decided before the replay window saw it. */
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(reason_count(XWG_R_OK), ok + 1);
}

/* auto with spreading: bulk is checked and passed up on this CPU, small messages still spread. */
static void test_hybrid_spread(void)
{
	struct fixture big = { "big", 4, IN_V4, NULL, 600, KP_A, 20200, MUT_NONE, 0, 0, 0 };
	struct fixture small = { "small", 4, IN_V4, NULL, 10, KP_A, 20201, MUT_NONE, 0, 0, 0 };
	struct bpf_cpumap_val v = { .qsize = 64, .bpf_prog.fd = bpf_program__fd(skel->progs.xwg_rx_cpu) };
	int cpus = bpf_map__fd(skel->maps.xwg_rx_cpus);
	uint64_t bulk = reason_count(XWG_R_RX_BULK);
	struct frame fr;
	struct run r;

	for (uint32_t cpu = 0; cpu < 2; cpu++)
		ASSERT_EQ(bpf_map_update_elem(cpus, &cpu, &v, BPF_ANY), 0);
	ASSERT_EQ(set_config_bulk(LO_IFINDEX, XWG_CFG_F_RX | XWG_CFG_F_RX_SPREAD | XWG_CFG_F_HYBRID, HYBRID_BULK), 0);
	build(&big, &fr);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_PASS);
	ASSERT_EQ(reason_count(XWG_R_RX_BULK), bulk + 1);
	ASSERT_EQ(r.out_len, fr.len);
	ASSERT_MEMEQ(r.out, fr.b, fr.len);
	build(&small, &fr);
	ASSERT_EQ(run_xdp(fr.b, fr.len, &r), 0);
	ASSERT_EQ(r.verdict, XDP_REDIRECT);
	for (uint32_t cpu = 0; cpu < 2; cpu++)
		bpf_map_delete_elem(cpus, &cpu);
	ASSERT_EQ(set_config(LO_IFINDEX, XWG_CFG_F_RX), 0);
}

/* A frame bigger than one page arrives as a multi-buffer xdp_buff: the agent's. */
static void test_nonlinear(void)
{
	static uint8_t big[5000];
	struct frame fr;
	uint64_t n = reason_count(XWG_R_NONLINEAR);
	uint8_t wg[32] = { 4 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = big, .data_size_in = sizeof(big), .repeat = 1);

	put_le(wg + 4, KP_A, 4);
	outer_frame(&fr, 4, 0, PORT, wg, sizeof(wg));
	memcpy(big, fr.b, fr.len);
	put16(big + 14 + 2, (uint16_t)(sizeof(big) - 14));		/* IP total length */
	put16(big + 14 + 20 + 4, (uint16_t)(sizeof(big) - 14 - 20));	/* UDP length */
	ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx), &opts), 0);
	ASSERT_EQ(opts.retval, XDP_PASS);
	ASSERT_EQ(reason_count(XWG_R_NONLINEAR), n + 1);
}

/* Without the mark the TC half leaves packets alone (a marked skb cannot be fed to a TC test run). */
static void test_tc_unmarked(void)
{
	struct fixture f = { "tc", 4, IN_V4, NULL, 10, KP_A, 0, MUT_NONE, 0, 0, 0 };
	struct frame fr;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1);

	build(&f, &fr);
	opts.data_in = fr.b;
	opts.data_size_in = (uint32_t)fr.len;
	ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx_tc), &opts), 0);
	ASSERT_EQ((int)opts.retval, TC_ACT_UNSPEC);
}

/* A bad tag costs a full decrypt and verify: the price of one MTU-sized message, printed. */
static void test_cost(void)
{
	struct fixture f = { "cost", 4, IN_V4, NULL, MTU - 29, KP_A, 30000, MUT_FLIP_TAG, 0, 0, 0 };
	uint64_t n = reason_count(XWG_R_BAD_TAG);
	struct frame fr;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1000);

	build(&f, &fr);
	opts.data_in = fr.b;
	opts.data_size_in = (uint32_t)fr.len;
	ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx), &opts), 0);
	ASSERT_EQ(opts.retval, XDP_DROP);
	ASSERT_EQ(reason_count(XWG_R_BAD_TAG), n + 1000);
	printf("# %zu-byte message, decrypt + verify in BPF: %u ns\n", fr.len - fr.wg_off, opts.duration);
}

/* ---------------------------------------------------------------- end to end, in a private netns */

/* The real thing: XDP (live frame on lo) -> mark -> TC ingress on lo -> tunnel -> UDP socket. */
static int e2e_send(int outer, int inner, uint64_t counter)
{
	struct fixture f = { "e2e", outer, inner, NULL, 24, KP_E2E, counter, MUT_NONE, 0, 0, 0 };
	struct xdp_md in = { .ingress_ifindex = LO_IFINDEX };
	struct frame fr;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &in, .ctx_size_in = sizeof(in),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = 1);

	build(&f, &fr);
	in.data_end = (uint32_t)fr.len;
	opts.data_in = fr.b;
	opts.data_size_in = (uint32_t)fr.len;
	return bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xwg_rx), &opts);
}

static void test_e2e_netns(void)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO_IFINDEX, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tc, .prog_fd = bpf_program__fd(skel->progs.xwg_rx_tc));
	uint8_t want[24], got[64];
	int tun, ifindex = 0, via, s4, s6;
	uint64_t ok = reason_count(XWG_R_OK);

	if (bpf_test_enter_netns())
		return;
	tun = test_tun_open("xwgrx0", &ifindex);
	ASSERT_TRUE(tun >= 0);
	if (tun < 0)
		return;
	ASSERT_EQ(system("ip link set lo up && ip link set xwgrx0 up && "
			 "ip addr add 10.99.0.1/24 dev xwgrx0 && ip addr add fd00::1/64 dev xwgrx0 nodad"), 0);
	ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
	ASSERT_EQ(bpf_tc_attach(&hook, &tc), 0);
	ASSERT_EQ(set_config((uint32_t)ifindex, XWG_CFG_F_RX), 0);
	ASSERT_EQ(add_keypair(KP_E2E, PEER_A, key_a, 1, XWG_KP_F_RECV_VALID), 0);
	s4 = udp_listen(4, "10.99.0.1", 7777);
	s6 = udp_listen(6, "fd00::1", 7777);
	ASSERT_TRUE(s4 >= 0 && s6 >= 0);

	for (int i = 0; i < 24; i++)
		want[i] = (uint8_t)(i * 7 + 3);
	/* Delivered on the tunnel, not on lo (lo would accept them for a local address too). */
	ASSERT_EQ(e2e_send(4, IN_V4, 0), 0);
	ASSERT_EQ(udp_recv(s4, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_EQ(e2e_send(6, IN_V6, 1), 0);
	ASSERT_EQ(udp_recv(s6, got, sizeof(got), &via), 24);
	ASSERT_MEMEQ(got, want, 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_EQ(e2e_send(4, IN_V6, 2), 0);
	ASSERT_EQ(udp_recv(s6, got, sizeof(got), &via), 24);
	ASSERT_EQ(via, ifindex);
	ASSERT_EQ(reason_count(XWG_R_OK), ok + 3);

	/* A replay is dropped in XDP: nothing arrives. */
	ASSERT_EQ(e2e_send(4, IN_V4, 0), 0);
	ASSERT_EQ(recv(s4, got, sizeof(got), MSG_DONTWAIT), -1);

	bpf_tc_hook_destroy(&hook);
	close(s4);
	close(s6);
	close(tun);
}

int main(void)
{
	static const char *const progs[] = { "xwg_rx", "xwg_rx_tc" };
	int status;

	if (!bpf_test_begin("test_bpf_rx", rx_device_setup, "rx.bpf.o or fill its maps", &status))
		return status;
	bpf_test_verifier_stats(rx_bpf__elf_bytes, progs, 2);
	RUN_TEST(test_fixtures);
	RUN_TEST(test_hybrid);
	RUN_TEST(test_peer_stats);
	RUN_TEST(test_digest_vectors);
	RUN_TEST(test_events);
	RUN_TEST(test_events_overflow);
	RUN_TEST(test_disabled);
	RUN_TEST(test_spread);
	RUN_TEST(test_hybrid_spread);
	RUN_TEST(test_nonlinear);
	RUN_TEST(test_tc_unmarked);
	RUN_TEST(test_cost);
	RUN_TEST(test_e2e_netns);	/* last: it moves the process into a new network namespace */
	rx_bpf__destroy(skel);
	return TEST_SUMMARY();
}

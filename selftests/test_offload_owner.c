/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Failure injection on the agent's path to an offloaded keypair (real ctl.bpf.c, real send.c and
 * receive.c, UDP on loopback): no nonce is ever used twice, no replay is ever delivered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sys/uio.h>
#include "test.h"
#include "device.h"
#include "crypto.h"
#include "noise.h"
#include "uapi.h"
#include "offload_internal.h"

#define R		REJECT_AFTER_MESSAGES
#define PEER_INNER	"10.7.0.2"	/* the peer's allowed IP, inner source/destination */

static struct rx_bpf *rx;
static struct ctl_bpf *ctl;

/* ---------------------------------------------------------------- injection into offload_ctl.c */

static int inject_err[4];	/* by op: what the next ctl calls fail with (0: run for real) */
static int ctl_calls[4];	/* by op: how many were made */

static int inject(uint32_t op, uint32_t index)
{
	(void)index;
	ctl_calls[op & 3]++;
	return inject_err[op & 3];
}

static void inject_reset(void)
{
	memset(inject_err, 0, sizeof(inject_err));
	memset(ctl_calls, 0, sizeof(ctl_calls));
}

/* ---------------------------------------------------------------- every nonce ever put on the wire */

#define LEDGER_MAX 4096
static struct {
	uint32_t key_idx;
	uint64_t counter;
} ledger[LEDGER_MAX];
static size_t ledger_len;

/* Records a sent (key, counter); false if it was sent before: nonce reuse. */
static bool ledger_add(uint32_t key_idx, uint64_t counter)
{
	for (size_t i = 0; i < ledger_len; i++)
		if (ledger[i].key_idx == key_idx && ledger[i].counter == counter)
			return false;
	if (ledger_len < LEDGER_MAX) {
		ledger[ledger_len].key_idx = key_idx;
		ledger[ledger_len++].counter = counter;
	}
	return true;
}

/* ---------------------------------------------------------------- a device with one peer */

struct fx {
	struct xwg_device dev;
	struct offload *o;
	struct peer *peer;
	struct noise_keypair *kp;
	int capture;		/* the peer's UDP socket: everything the agent sends */
	uint16_t capture_port;
	int tun[2];		/* dev.tun_fd is tun[0]; tun[1] reads what the agent delivers */
	uint8_t peer_public[32];
};

static struct fx fx;

static int udp_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	if (port)
		*port = ntohs(a.sin_port);
	return fd;
}

static struct sockaddr_in loopback_addr(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return a;
}

static struct offload *offload_fake(void)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (!o || offload_slots_alloc(o))
		abort();
	o->mode = OFFLOAD_XDP;
	o->rx = rx;
	o->ctl = ctl;
	o->ncpus = libbpf_num_possible_cpus();
	return o;
}

/* A session keypair as noise_begin_session leaves it, current for the peer, offloaded if BPF is on. */
static struct noise_keypair *fx_keypair(struct fx *f)
{
	struct noise_keypair *kp = calloc(1, sizeof(*kp));

	if (!kp)
		abort();
	crypto_random(kp->send_key, sizeof(kp->send_key));
	crypto_random(kp->recv_key, sizeof(kp->recv_key));
	replay_counter_init(&kp->replay);
	kp->birthdate = now_ns();
	kp->sending_valid = kp->receiving_valid = true;
	kp->i_am_the_initiator = true;
	kp->peer = f->peer;
	kp->remote_index = crypto_random_u32() | 1;
	kp->local_index = index_table_insert(&f->dev.index_table, INDEX_KEYPAIR, f->peer, kp);
	return kp;
}

static void fx_device(struct fx *f, const uint8_t priv[32], bool offloaded)
{
	uint16_t port;
	struct sockaddr_in ep;

	memset(&f->dev, 0, sizeof(f->dev));
	f->dev.tun_fd = f->dev.sock4 = f->dev.sock6 = f->dev.epoll_fd = f->dev.uapi_fd = f->dev.signal_fd = -1;
	f->dev.mtu = 1420;
	allowedips_init(&f->dev.allowedips);
	if (index_table_init(&f->dev.index_table) || ratelimiter_init(&f->dev))
		abort();
	f->o = offloaded ? offload_fake() : NULL;
	if (device_set_private_key(&f->dev, priv))
		abort();
	f->dev.sock4 = udp_loopback(NULL);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f->tun))
		abort();
	f->dev.tun_fd = f->tun[0];
	f->peer = peer_create(&f->dev, f->peer_public);
	if (!f->peer)
		abort();
	{
		uint8_t a[4];

		inet_pton(AF_INET, PEER_INNER, a);
		if (allowedips_insert(&f->dev.allowedips, AF_INET, a, 32, f->peer))
			abort();
	}
	port = 0;
	f->capture = udp_loopback(&port);
	f->capture_port = port;
	ep = loopback_addr(port);
	peer_set_endpoint(f->peer, (struct sockaddr *)&ep);
	/* BPF comes on after the configuration, as in the agent (offload_start follows the config). */
	f->dev.offload = f->o;
}

static void fx_setup(bool offloaded)
{
	uint8_t priv[32], peer_priv[32];

	inject_reset();
	curve25519_generate_private(priv);
	curve25519_generate_private(peer_priv);
	if (curve25519_generate_public(fx.peer_public, peer_priv))
		abort();
	fx_device(&fx, priv, offloaded);
	fx.kp = fx_keypair(&fx);
	fx.peer->keypairs.current_keypair = fx.kp;
	/* As after noise_begin_session: the core marks, the loop's end publishes (keypair, peer). */
	hooks_peer_changed(fx.peer, PUBLISH_ALL);
	offload_publish(&fx.dev);
}

/* Tears the agent state down; with keep_maps the map entries stay, as after kill -9. */
static void fx_teardown(struct fx *f, bool keep_maps)
{
	struct offload *o = f->o;

	/* Peers leave the maps while BPF is on, unless the agent "died"; the fake offload is ours to free. */
	if (!keep_maps)
		device_remove_all_peers(&f->dev);
	f->dev.offload = NULL;
	device_uninit(&f->dev);
	/* Its slots and their prefix lists too (leaks found by LeakSanitizer). */
	if (o)
		offload_slots_free(o);
	free(o);
	close(f->capture);
	close(f->tun[1]);
	inject_reset();
}

/* ---------------------------------------------------------------- what reached the wire and the TUN */

struct capture {
	int data, initiations, other;
	uint64_t counters[256];
	bool reused;		/* a (key, counter) the ledger had already seen */
	bool undecryptable;	/* a data message the keypair's send key does not open */
};

/* Reads everything the agent sent to the peer; data messages must open with kp's send key. */
static struct capture capture_drain(struct fx *f, const struct noise_keypair *kp)
{
	static uint8_t buf[65536];
	struct capture c = { 0 };
	ssize_t n;

	while ((n = recv(f->capture, buf, sizeof(buf), 0)) >= 4) {
		struct message_data *hdr = (struct message_data *)buf;
		uint32_t type = le32toh(hdr->header.type);
		uint64_t counter;

		if (type == MESSAGE_HANDSHAKE_INITIATION && n == sizeof(struct message_handshake_initiation)) {
			c.initiations++;
			continue;
		}
		if (type != MESSAGE_DATA || (size_t)n < message_data_len(0)) {
			c.other++;
			continue;
		}
		counter = le64toh(hdr->counter);
		if (!ledger_add(hdr->key_idx, counter))
			c.reused = true;
		if (aead_decrypt(hdr->encrypted_data, hdr->encrypted_data, (size_t)n - sizeof(*hdr), NULL, 0,
				 counter, kp->send_key) < 0)
			c.undecryptable = true;
		if (c.data < 256)
			c.counters[c.data] = counter;
		c.data++;
	}
	return c;
}

static int tun_drain(struct fx *f)
{
	uint8_t buf[2048];
	int n = 0;

	while (recv(f->tun[1], buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/* An IPv4 packet to or from the peer's inner address. */
static size_t inner_packet(uint8_t *buf, bool from_peer, uint8_t tag)
{
	struct iphdr *ip = (struct iphdr *)buf;

	memset(buf, 0, 40);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = 253;
	ip->tot_len = htons(40);
	inet_pton(AF_INET, from_peer ? PEER_INNER : "10.7.0.1", &ip->saddr);
	inet_pton(AF_INET, from_peer ? "10.7.0.1" : PEER_INNER, &ip->daddr);
	buf[39] = tag;
	return 40;
}

/* Through the agent's real transmit path: a batch (of one) from the TUN. */
static void send_from_tun(struct fx *f, uint8_t tag)
{
	uint8_t pkt[64];
	struct iovec iov = { .iov_base = pkt, .iov_len = inner_packet(pkt, false, tag) };

	send_packets_from_tun(&f->dev, &iov, 1);
}

/* The peer's data message with this counter, sealed with kp's receive key. */
static size_t peer_message(const struct noise_keypair *kp, uint64_t counter, uint8_t *out)
{
	struct message_data *hdr = (struct message_data *)out;
	size_t len = inner_packet(hdr->encrypted_data, true, (uint8_t)counter);

	hdr->header.type = htole32(MESSAGE_DATA);
	hdr->key_idx = kp->local_index;
	hdr->counter = htole64(counter);
	aead_encrypt(hdr->encrypted_data, hdr->encrypted_data, len, NULL, 0, counter, kp->recv_key);
	return message_data_len(len);
}

/* One receive batch of the peer's messages with these counters; returns how many reached the TUN. */
static int receive_batch(struct fx *f, const struct noise_keypair *const *kps, const uint64_t *counters, int n)
{
	static uint8_t bufs[RECEIVE_BATCH][256];
	struct sockaddr_in src = loopback_addr(f->capture_port);	/* keeps the endpoint where it is */

	for (int i = 0; i < n && i < RECEIVE_BATCH; i++) {
		size_t len = peer_message(kps[i], counters[i], bufs[i]);

		receive_packet(&f->dev, bufs[i], len, (struct sockaddr *)&src, NULL, 0, 0);
	}
	receive_flush(&f->dev);
	return tun_drain(f);
}

static int receive_one(struct fx *f, uint64_t counter)
{
	const struct noise_keypair *kp = f->kp;

	return receive_batch(f, &kp, &counter, 1);
}

/* ---------------------------------------------------------------- the maps, as BPF sees them */

static int map_keypair(const struct noise_keypair *kp, struct xwg_keypair *val)
{
	return bpf_map_lookup_elem(bpf_map__fd(rx->maps.xwg_keypairs), &kp->local_index, val);
}

static uint64_t map_send_counter(const struct noise_keypair *kp)
{
	struct xwg_keypair val;

	return map_keypair(kp, &val) ? ~0ull : val.send_counter;
}

static int map_set_send_counter(const struct noise_keypair *kp, uint64_t counter)
{
	struct xwg_keypair val;

	if (map_keypair(kp, &val))
		return -1;
	val.send_counter = counter;
	return bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_keypairs), &kp->local_index, &val, BPF_EXIST);
}

/* What BPF's own TX or RX does to the shared keypair, through the same program. */
static int bpf_side(uint32_t op, const struct noise_keypair *kp, uint64_t arg, uint64_t *result)
{
	struct xwg_ctl_req req = { .op = op, .index = kp->local_index, .arg = arg };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &req, .data_size_in = sizeof(req),
		    .data_out = &req, .data_size_out = sizeof(req), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(ctl->progs.xwg_ctl), &run) || req.err)
		return -1;
	*result = req.result;
	return 0;
}

static bool map_peer_has_current(const struct peer *peer)
{
	struct xwg_peer val;
	uint32_t id = (uint32_t)peer->offload_id;

	if (bpf_map_lookup_elem(bpf_map__fd(rx->maps.xwg_peers), &id, &val))
		return false;
	return val.flags & XWG_PEER_F_HAS_CURRENT;
}

static bool uapi_says(struct xwg_device *dev, const char *line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *in = fmemopen((void *)"get=1\n\n", 7, "r");
	FILE *out = open_memstream(&buf, &len);
	bool found;

	if (!in || !out)
		abort();
	uapi_serve(dev, in, out);
	fclose(in);
	fclose(out);
	found = buf && strstr(buf, line);
	free(buf);
	return found;
}

/* ---------------------------------------------------------------- send */

static void test_send_uses_map_counter(void)
{
	struct capture c;
	uint64_t first;

	fx_setup(true);
	ASSERT_TRUE(fx.kp->offloaded);
	/* BPF's TX sent 100 packets with this keypair before the agent's first one. */
	ASSERT_EQ(bpf_side(XWG_CTL_RESERVE, fx.kp, 100, &first), 0);
	for (int i = 0; i < 3; i++)
		send_from_tun(&fx, (uint8_t)i);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 3);
	ASSERT_FALSE(c.reused);
	ASSERT_FALSE(c.undecryptable);
	ASSERT_EQ(c.counters[0], 100);
	ASSERT_EQ(fx.kp->send_counter, 0);	/* the local counter is not the owner */
	/*
	 * One call reserved the block the three came from, and BPF goes on after it; on a loaded
	 * machine the block may age out (1 ms) between two sends: then each block has its call.
	 */
	ASSERT_TRUE(ctl_calls[XWG_CTL_RESERVE] >= 1 && ctl_calls[XWG_CTL_RESERVE] <= 3);
	for (int i = 1; i < 3; i++)
		ASSERT_EQ(c.counters[i], ctl_calls[XWG_CTL_RESERVE] == 1 ? c.counters[i - 1] + 1
					 : c.counters[i]);
	ASSERT_EQ(map_send_counter(fx.kp), 100 + ctl_calls[XWG_CTL_RESERVE] * OFFLOAD_RESERVE_BATCH);
	ASSERT_EQ(bpf_side(XWG_CTL_RESERVE, fx.kp, 1, &first), 0);
	ASSERT_TRUE(first > c.counters[2]);
	fx_teardown(&fx, false);
}

/* The kernel's answer to a keypair that cannot send: retire it, keep the packet, start a handshake. */
static void expect_retired(int staged, const char *why)
{
	struct capture c = capture_drain(&fx, fx.kp);

	if (c.data)
		TEST_FAIL("%s: %d data message(s) sent", why, c.data);
	ASSERT_EQ(c.initiations, 1);
	ASSERT_FALSE(c.reused);
	ASSERT_FALSE(fx.kp->sending_valid);
	ASSERT_EQ(fx.peer->staged_count, staged);
	ASSERT_EQ(fx.dev.tx_keypair_retired, 1);
	ASSERT_FALSE(map_peer_has_current(fx.peer));
	ASSERT_TRUE(uapi_says(&fx.dev, "xwg_reason=AGENT_NO_COUNTER:1\n"));

	/* Later packets queue behind it: still nothing goes out under the retired keypair. */
	inject_reset();
	send_from_tun(&fx, 9);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 0);
	ASSERT_EQ(fx.peer->staged_count, staged + 1);
}

static void test_send_ctl_fails(void)
{
	fx_setup(true);
	ASSERT_TRUE(map_peer_has_current(fx.peer));
	inject_err[XWG_CTL_RESERVE] = -EIO;
	send_from_tun(&fx, 1);
	expect_retired(1, "ctl call failed");
	fx_teardown(&fx, false);
}

static void test_send_keypair_gone_from_map(void)
{
	fx_setup(true);
	ASSERT_EQ(bpf_map_delete_elem(bpf_map__fd(rx->maps.xwg_keypairs), &fx.kp->local_index), 0);
	send_from_tun(&fx, 1);
	expect_retired(1, "keypair not in the map");
	fx_teardown(&fx, false);
}

static void test_send_ctl_program_gone(void)
{
	fx_setup(true);
	fx.o->ctl = NULL;	/* as if the program could not be run at all */
	send_from_tun(&fx, 1);
	expect_retired(1, "no ctl program");
	fx_teardown(&fx, false);
}

/* Exhausted in the map (BPF sent the rest): ERANGE must do exactly what a failed call does. */
static void test_send_exhausted(void)
{
	fx_setup(true);
	ASSERT_EQ(map_set_send_counter(fx.kp, R - 5), 0);
	peer_stage_packet(fx.peer, NULL, 0);	/* a keepalive already waiting */
	send_from_tun(&fx, 1);
	expect_retired(2, "counter exhausted");
	fx_teardown(&fx, false);
}

/* A block already reserved stays good; the failure shows when the next block is due. */
static void test_send_block_then_failure(void)
{
	struct capture c;

	fx_setup(true);
	send_from_tun(&fx, 0);
	inject_err[XWG_CTL_RESERVE] = -EIO;
	for (int i = 1; i < OFFLOAD_RESERVE_BATCH + 1; i++)
		send_from_tun(&fx, (uint8_t)i);
	c = capture_drain(&fx, fx.kp);
	/* Fast enough for one block: if the 1 ms age ran out, fewer went out, never a reused one. */
	ASSERT_TRUE(c.data >= 1 && c.data <= OFFLOAD_RESERVE_BATCH);
	ASSERT_FALSE(c.reused);
	ASSERT_FALSE(c.undecryptable);
	for (int i = 0; i < c.data && i < 256; i++)
		ASSERT_EQ(c.counters[i], (uint64_t)i);
	ASSERT_EQ(c.initiations, 1);
	ASSERT_FALSE(fx.kp->sending_valid);
	ASSERT_EQ(fx.peer->staged_count, OFFLOAD_RESERVE_BATCH + 1 - c.data);
	fx_teardown(&fx, false);
}

/* A block older than its age limit is abandoned: the next packet takes a new one. */
static void test_send_block_ages(void)
{
	struct timespec ts = { .tv_nsec = 3000000 };
	struct capture c;

	fx_setup(true);
	send_from_tun(&fx, 0);
	nanosleep(&ts, NULL);
	send_from_tun(&fx, 1);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 2);
	ASSERT_EQ(ctl_calls[XWG_CTL_RESERVE], 2);
	ASSERT_EQ(c.counters[0], 0);
	ASSERT_EQ(c.counters[1], OFFLOAD_RESERVE_BATCH);
	ASSERT_FALSE(c.reused);
	fx_teardown(&fx, false);
}

/*
 * kill -9 and a new agent: it adopts the pinned keypair, whose counter and window only the map
 * knows. Nothing it sends may repeat a nonce the old agent or BPF used, nothing it delivers may
 * repeat a packet BPF delivered.
 */
static void test_adopted_keypair(void)
{
	static struct fx again;
	uint8_t priv[32];
	uint64_t first;
	struct capture c;
	struct sockaddr_in ep;
	uint32_t index;

	fx_setup(true);
	for (int i = 0; i < 5; i++)
		send_from_tun(&fx, (uint8_t)i);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 5);
	ASSERT_EQ(bpf_side(XWG_CTL_RESERVE, fx.kp, 10, &first), 0);	/* BPF sent 10 more */
	ASSERT_EQ(receive_one(&fx, 40), 1);
	ASSERT_EQ(bpf_side(XWG_CTL_REPLAY, fx.kp, 41, &first), 0);	/* BPF received 41 */
	index = fx.kp->local_index;
	memcpy(priv, fx.dev.static_private, sizeof(priv));
	memcpy(again.peer_public, fx.peer_public, sizeof(again.peer_public));
	fx_teardown(&fx, true);

	fx_device(&again, priv, true);
	offload_adopt(&again.dev, again.o);
	ep = loopback_addr(again.capture_port);	/* adoption restored the old agent's endpoint */
	peer_set_endpoint(again.peer, (struct sockaddr *)&ep);
	again.kp = again.peer->keypairs.current_keypair;
	if (!again.kp) {
		TEST_FAIL("no current keypair adopted");
		fx_teardown(&again, false);
		return;
	}
	ASSERT_EQ(again.kp->local_index, index);
	ASSERT_TRUE(again.kp->offloaded);
	ASSERT_EQ(again.kp->send_block_next, again.kp->send_block_end);
	for (int i = 0; i < 3; i++)
		send_from_tun(&again, (uint8_t)i);
	c = capture_drain(&again, again.kp);
	ASSERT_EQ(c.data, 3);
	ASSERT_FALSE(c.reused);
	ASSERT_FALSE(c.undecryptable);
	ASSERT_EQ(c.counters[0], OFFLOAD_RESERVE_BATCH + 10);

	/* What the old agent and BPF accepted stays accepted: replays of both are dropped. */
	{
		struct fx *saved = &again;
		const struct noise_keypair *kp = saved->kp;
		uint64_t counters[3] = { 40, 41, 42 };
		const struct noise_keypair *kps[3] = { kp, kp, kp };

		ASSERT_EQ(receive_batch(saved, kps, counters, 3), 1);
	}
	fx_teardown(&again, false);
}

/* ---------------------------------------------------------------- receive */

static void test_receive_fresh_and_replayed(void)
{
	uint64_t fresh;

	fx_setup(true);
	ASSERT_EQ(receive_one(&fx, 0), 1);
	ASSERT_EQ(receive_one(&fx, 0), 0);		/* the agent's own replay */
	ASSERT_EQ(bpf_side(XWG_CTL_REPLAY, fx.kp, 5, &fresh), 0);
	ASSERT_EQ(fresh, 1);
	ASSERT_EQ(receive_one(&fx, 5), 0);		/* BPF saw it first */
	ASSERT_EQ(receive_one(&fx, 6), 1);
	ASSERT_EQ(bpf_side(XWG_CTL_REPLAY, fx.kp, 6, &fresh), 0);
	ASSERT_EQ(fresh, 0);				/* and BPF sees the agent's */
	ASSERT_EQ(fx.peer->agent_rx_packets, 2);
	ASSERT_EQ(fx.kp->replay.counter, 0);		/* the local window is not the owner */
	ASSERT_EQ(fx.dev.rx_replay_unchecked, 0);
	fx_teardown(&fx, false);
}

static void test_receive_check_fails(void)
{
	struct xwg_keypair before, after;

	fx_setup(true);
	ASSERT_EQ(receive_one(&fx, 1), 1);
	ASSERT_EQ(map_keypair(fx.kp, &before), 0);
	inject_err[XWG_CTL_REPLAY_BATCH] = -EIO;
	ASSERT_EQ(receive_one(&fx, 7), 0);
	ASSERT_EQ(receive_one(&fx, 1), 0);
	ASSERT_EQ(fx.dev.rx_replay_unchecked, 2);
	ASSERT_EQ(fx.peer->agent_rx_packets, 1);
	ASSERT_TRUE(uapi_says(&fx.dev, "xwg_reason=AGENT_NO_REPLAY_CHECK:2\n"));
	ASSERT_EQ(map_keypair(fx.kp, &after), 0);
	ASSERT_MEMEQ(&after.replay, &before.replay, sizeof(before.replay));

	/* Gone from the map: the same, never a fallback to the keypair's own window. */
	inject_reset();
	ASSERT_EQ(bpf_map_delete_elem(bpf_map__fd(rx->maps.xwg_keypairs), &fx.kp->local_index), 0);
	ASSERT_EQ(receive_one(&fx, 1), 0);
	ASSERT_EQ(receive_one(&fx, 8), 0);
	ASSERT_EQ(fx.dev.rx_replay_unchecked, 4);
	fx_teardown(&fx, false);
}

/* One call per keypair per batch; duplicates inside a batch are delivered once. */
static void test_receive_batch(void)
{
	const struct noise_keypair *kps[12];
	uint64_t counters[12] = { 20, 21, 22, 21, 23, 24, 20, 3, 4, 3, 25, 5 };
	struct noise_keypair *prev;

	fx_setup(true);
	prev = fx_keypair(&fx);
	fx.peer->keypairs.previous_keypair = prev;
	hooks_peer_changed(fx.peer, PUBLISH_KEYPAIRS);
	offload_publish(&fx.dev);
	for (int i = 0; i < 12; i++)
		kps[i] = i >= 7 && i != 10 ? prev : fx.kp;
	ASSERT_EQ(receive_batch(&fx, kps, counters, 12), 6 + 3);
	ASSERT_EQ(ctl_calls[XWG_CTL_REPLAY_BATCH], 2);
	ASSERT_EQ(receive_batch(&fx, kps, counters, 12), 0);
	ASSERT_EQ(ctl_calls[XWG_CTL_REPLAY_BATCH], 4);
	fx_teardown(&fx, false);
}

/* Without BPF the keypair owns both, and the agent never calls the offload layer for them. */
static void test_not_offloaded(void)
{
	struct capture c;

	fx_setup(false);
	ASSERT_FALSE(fx.kp->offloaded);
	for (int i = 0; i < 3; i++)
		send_from_tun(&fx, (uint8_t)i);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 3);
	ASSERT_FALSE(c.reused);
	ASSERT_EQ(c.counters[2], 2);
	ASSERT_EQ(fx.kp->send_counter, 3);
	ASSERT_EQ(receive_one(&fx, 4), 1);
	ASSERT_EQ(receive_one(&fx, 4), 0);
	ASSERT_EQ(fx.kp->replay.counter, 5);
	ASSERT_EQ(ctl_calls[XWG_CTL_RESERVE] + ctl_calls[XWG_CTL_REPLAY_BATCH], 0);

	/* The last counter goes out, the one after it never: the packet waits for a new session. */
	fx.kp->send_counter = R - 1;
	send_from_tun(&fx, 1);
	send_from_tun(&fx, 2);
	c = capture_drain(&fx, fx.kp);
	ASSERT_EQ(c.data, 1);
	ASSERT_EQ(c.counters[0], R - 1);
	ASSERT_EQ(c.initiations, 1);
	ASSERT_EQ(fx.peer->staged_count, 1);
	fx_teardown(&fx, false);
}

static int setup(void)
{
	struct bpf_map *m;

	if (crypto_init())
		return -1;
	noise_init();
	rx = rx_bpf__open_and_load();
	if (!rx)
		return -1;
	ctl = ctl_bpf__open();
	if (!ctl)
		return -1;
	/* As offload_load does: ctl works on rx's maps. */
	bpf_object__for_each_map(m, ctl->obj) {
		struct bpf_map *from = bpf_object__find_map_by_name(rx->obj, bpf_map__name(m));

		if (from && bpf_map__reuse_fd(m, bpf_map__fd(from)))
			return -1;
	}
	if (ctl_bpf__load(ctl))
		return -1;
	offload_ctl_inject = inject;
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN needs root\n");
		return TEST_SUMMARY();
	}
	if (setup()) {
		fprintf(stderr, "test_offload_owner: cannot load rx/ctl: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	RUN_TEST(test_send_uses_map_counter);
	RUN_TEST(test_send_ctl_fails);
	RUN_TEST(test_send_keypair_gone_from_map);
	RUN_TEST(test_send_ctl_program_gone);
	RUN_TEST(test_send_exhausted);
	RUN_TEST(test_send_block_then_failure);
	RUN_TEST(test_send_block_ages);
	RUN_TEST(test_adopted_keypair);
	RUN_TEST(test_receive_fresh_and_replayed);
	RUN_TEST(test_receive_check_fails);
	RUN_TEST(test_receive_batch);
	RUN_TEST(test_not_offloaded);
	ctl_bpf__destroy(ctl);
	rx_bpf__destroy(rx);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The batched path: crypto workers, UDP GSO sends, batch send and receive through the core, in order. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "test.h"
#include "test_device.h"
#include "crypto.h"
#include "device.h"
#include "parallel.h"
#include "socket_cmsg.h"

#define PEER_INNER "10.9.0.2"
#define MAX_ITEMS 700

static atomic_uint hits[MAX_ITEMS];
static pthread_t who[MAX_ITEMS];

static void count_item(void *arg, unsigned int i)
{
	atomic_fetch_add(&hits[i], 1);
	who[i] = pthread_self();
}

/* Every item runs exactly once per batch, whatever the size, and the workers take part. */
static void test_parallel_once(void)
{
	bool shared = false;

	ASSERT_EQ(parallel_start(4), 0);
	ASSERT_EQ(parallel_threads(), 4);
	for (unsigned int round = 0; round < 3000; round++) {
		unsigned int n = round % MAX_ITEMS;

		for (unsigned int i = 0; i < n; i++)
			atomic_store(&hits[i], 0);
		parallel_run(count_item, NULL, n);
		for (unsigned int i = 0; i < n; i++)
			if (atomic_load(&hits[i]) != 1) {
				TEST_FAIL("round %u item %u ran %u times", round, i, atomic_load(&hits[i]));
				break;
			}
		for (unsigned int i = 1; i < n; i++)
			shared |= !pthread_equal(who[i], pthread_self());
	}
	ASSERT_TRUE(shared);
	parallel_stop();
	ASSERT_EQ(parallel_threads(), 1);
	atomic_store(&hits[0], 0);
	parallel_run(count_item, NULL, 1);
	ASSERT_EQ(atomic_load(&hits[0]), 1);
}

struct seal_job {
	uint8_t key[32];
	uint8_t buf[MAX_ITEMS][96];
};

static void seal_item(void *arg, unsigned int i)
{
	struct seal_job *j = arg;

	aead_encrypt(j->buf[i], j->buf[i], 80, NULL, 0, i, j->key);
}

/* The AEAD's per-thread contexts give the same bytes on a worker as on this thread. */
static void test_parallel_aead(void)
{
	static struct seal_job job, ref;

	crypto_random(job.key, sizeof(job.key));
	for (unsigned int i = 0; i < MAX_ITEMS; i++)
		memset(job.buf[i], (int)i, 80);
	ref = job;
	for (unsigned int i = 0; i < MAX_ITEMS; i++)
		aead_encrypt(ref.buf[i], ref.buf[i], 80, NULL, 0, i, ref.key);
	ASSERT_EQ(parallel_start(3), 0);
	parallel_run(seal_item, &job, MAX_ITEMS);
	parallel_stop();
	ASSERT_MEMEQ(job.buf, ref.buf, sizeof(job.buf));
}

static int udp_loopback(uint16_t *port, bool gro)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, size = 8 << 20;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (gro && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)))
		abort();
	*port = ntohs(a.sin_port);
	return fd;
}

static struct xwg_device dev;
static struct peer *peer;
static int capture, tun[2];

/* A device with one peer at a loopback capture socket, a current keypair, and a socketpair TUN. */
static struct noise_keypair *fx_setup(bool gro)
{
	struct noise_keypair *kp = calloc(1, sizeof(*kp));
	uint8_t pub[32], inner[4];
	uint16_t port;
	struct sockaddr_in ep = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	test_device_init(&dev, "xwgbatch");
	crypto_random(pub, sizeof(pub));
	dev.sock4 = udp_loopback(&port, false);
	peer = peer_create(&dev, pub);
	inet_pton(AF_INET, PEER_INNER, inner);
	if (!kp || !peer || allowedips_insert(&dev.allowedips, AF_INET, inner, 24, peer) ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tun))
		abort();
	dev.tun_fd = tun[0];
	capture = udp_loopback(&port, gro);
	ep.sin_port = htons(port);
	peer_set_endpoint(peer, (struct sockaddr *)&ep);
	crypto_random(kp->send_key, sizeof(kp->send_key));
	memcpy(kp->recv_key, kp->send_key, sizeof(kp->recv_key));	/* talks to itself */
	replay_counter_init(&kp->replay);
	kp->birthdate = now_ns();
	kp->sending_valid = kp->receiving_valid = true;
	kp->peer = peer;
	kp->local_index = index_table_insert(&dev.index_table, INDEX_KEYPAIR, peer, kp);
	kp->remote_index = kp->local_index;
	peer->keypairs.current_keypair = kp;
	return kp;
}

static void fx_teardown(void)
{
	device_remove_all_peers(&dev);
	close(capture);
	close(tun[0]);
	close(tun[1]);
	close(dev.sock4);
	index_table_free(&dev.index_table);
	allowedips_free(&dev.allowedips);
}

/* An IPv4 packet to PEER_INNER whose payload bytes say which packet it is. */
static size_t fx_packet(uint8_t *buf, unsigned int id, size_t len)
{
	struct iphdr *ip = (struct iphdr *)buf;

	memset(buf, 0, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = 253;	/* experimental: nothing parses it */
	ip->tot_len = htons((uint16_t)len);
	ip->saddr = htonl(0x0a090001);
	inet_pton(AF_INET, PEER_INNER, &ip->daddr);
	memcpy(buf + sizeof(*ip), &id, sizeof(id));
	for (size_t i = sizeof(*ip) + sizeof(id); i < len; i++)
		buf[i] = (uint8_t)(id + i);
	return len;
}

static size_t fx_size(unsigned int id)
{
	/* Runs of one size, then a short one, then an oversize one that takes the one-by-one path. */
	if (id == 150)
		return 1900;
	return id % 37 == 36 ? 100 + id % 7 : 1400;
}

/*
 * More packets than a batch holds, one of them too big for a batch slot: every message arrives
 * once, counters 0..n-1 in order, each opening to its own packet.
 */
static void test_send_batch_order(void)
{
	static uint8_t pkts[400][2048], msg[4096], plain[4096];
	static struct iovec iov[400];
	struct noise_keypair *kp;
	unsigned int n = 400, got = 0;

	kp = fx_setup(false);
	dev.mtu = 2000;
	ASSERT_EQ(parallel_start(2), 0);
	for (unsigned int i = 0; i < n; i++)
		iov[i] = (struct iovec){ .iov_base = pkts[i], .iov_len = fx_packet(pkts[i], i, fx_size(i)) };
	send_packets_from_tun(&dev, iov, n);
	parallel_stop();
	for (;;) {
		ssize_t len = recv(capture, msg, sizeof(msg), 0);
		struct message_data *hdr = (struct message_data *)msg;
		uint64_t counter;

		if (len < 0)
			break;
		counter = le64toh(hdr->counter);
		if (counter != got) {
			TEST_FAIL("message %u has counter %llu", got, (unsigned long long)counter);
			break;
		}
		if (aead_decrypt(plain, hdr->encrypted_data, (size_t)len - sizeof(*hdr), NULL, 0, counter,
				 kp->send_key)) {
			TEST_FAIL("message %u does not open", got);
			break;
		}
		fx_packet(pkts[0], got, fx_size(got));
		ASSERT_MEMEQ(plain, pkts[0], fx_size(got));
		got++;
	}
	ASSERT_EQ(got, n);
	ASSERT_EQ(kp->send_counter, n);
	ASSERT_EQ(peer->agent_tx_packets, n);
	/* Sealed in batches of SEND_BATCH: all of them count as batched (metrics' path="batched"). */
	ASSERT_EQ(peer->batch_tx_packets, n);
	ASSERT_EQ(peer->batch_tx_bytes, peer->agent_tx_bytes);
	fx_teardown();
}

/* A run of equal messages to one peer is one UDP GSO send: a GRO socket gets it back as one. */
static void test_send_gso(void)
{
	static uint8_t bufs[12][200], got[4096];
	struct socket_msg msgs[12];
	union socket_control control;
	struct iovec iov = { .iov_base = got, .iov_len = sizeof(got) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
			     .msg_controllen = sizeof(control) };
	struct socket_rx_info info;
	ssize_t len;

	fx_setup(true);
	for (int i = 0; i < 12; i++) {
		memset(bufs[i], 'a' + i, sizeof(bufs[i]));
		msgs[i] = (struct socket_msg){ .peer = peer, .buf = bufs[i], .len = i == 11 ? 77 : 200 };
	}
	socket_send_batch(&dev, msgs, 12);
	ASSERT_FALSE(dev.no_udp_gso);
	len = recvmsg(capture, &mh, 0);
	socket_rx_cmsg(&mh, &info);
	ASSERT_EQ(len, 11 * 200 + 77);
	ASSERT_EQ(info.gso_size, 200);
	for (int i = 0; i < 12 && len > 0; i++)
		ASSERT_MEMEQ(got + 200 * i, bufs[i], i == 11 ? 77 : 200);
	ASSERT_EQ(peer->tx_bytes, 11 * 200 + 77);
	fx_teardown();
}

/*
 * The receive batch: good messages delivered once, in order; a forged one, a replay and one of an
 * unknown index are not; the batch is bigger than the crypto workers' threshold.
 */
static void test_receive_batch(void)
{
	static uint8_t msgs[200][1600], plain[1600], want[1600];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons(9) };
	struct noise_keypair *kp = fx_setup(false);
	unsigned int n = 200, delivered = 0;
	size_t lens[200];

	ASSERT_EQ(parallel_start(2), 0);
	for (unsigned int i = 0; i < n; i++) {
		struct message_data *hdr = (struct message_data *)msgs[i];
		uint64_t counter = i == 120 ? 5 : i;	/* 120 replays counter 5 */
		size_t plen = fx_packet(plain, i, 96 + i % 3 * 16);

		hdr->header.type = htole32(MESSAGE_DATA);
		hdr->key_idx = i == 180 ? kp->local_index ^ 0x100 : kp->local_index;
		hdr->counter = htole64(counter);
		aead_encrypt(hdr->encrypted_data, plain, plen, NULL, 0, counter, kp->recv_key);
		if (i == 60)
			hdr->encrypted_data[3] ^= 1;	/* forged */
		lens[i] = message_data_len(plen);
		receive_packet(&dev, msgs[i], lens[i], (struct sockaddr *)&src, NULL, 0, 0);
	}
	receive_flush(&dev);
	parallel_stop();
	for (;;) {
		ssize_t len = recv(tun[1], plain, sizeof(plain), 0);
		unsigned int id;

		if (len < 0)
			break;
		memcpy(&id, plain + sizeof(struct iphdr), sizeof(id));
		while (delivered == 60 || delivered == 120 || delivered == 180)
			delivered++;
		ASSERT_EQ(id, delivered);
		ASSERT_EQ(len, fx_packet(want, id, 96 + id % 3 * 16));
		ASSERT_MEMEQ(plain, want, (size_t)len);
		delivered++;
	}
	ASSERT_EQ(delivered, n);
	ASSERT_EQ(peer->agent_rx_packets, n - 3);
	/* Opened in batches of many: all batched. */
	ASSERT_EQ(peer->batch_rx_packets, n - 3);
	ASSERT_EQ(peer->batch_rx_bytes, peer->agent_rx_bytes);
	fx_teardown();
}

int main(void)
{
	if (crypto_init())
		return 1;
	RUN_TEST(test_parallel_once);
	RUN_TEST(test_parallel_aead);
	RUN_TEST(test_send_batch_order);
	RUN_TEST(test_send_gso);
	RUN_TEST(test_receive_batch);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* ECN across the tunnel in the agent: the RFC 6040 rules (xwg_ecn.h), the sockets' TOS cmsgs, receive_packet() to the TUN. */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "test.h"
#include "test_device.h"
#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "cookie.h"
#include "peer.h"
#include "socket_cmsg.h"
#include "xwg_ecn.h"

enum { N = 0, E1 = 1, E0 = 2, CE = 3, DROP = -1 };

/* RFC 6040 section 4.2, Figure 4 (rows: inner; columns: outer), with the kernel's drop. */
static const int figure4[4][4] = {
	/* outer:   Not-ECT ECT(1) ECT(0) CE */
	[N]  = { N,  N,  N,  DROP },
	[E1] = { E1, E1, E1, CE },
	[E0] = { E0, E1, E0, CE },
	[CE] = { CE, CE, CE, CE },
};

static uint16_t fold(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* An IPv4 header with a valid checksum and the given TOS, or an IPv6 one with that traffic class. */
static void header(uint8_t *ip, int family, uint8_t tos)
{
	memset(ip, 0, 40);
	if (family == 4) {
		uint16_t c;

		ip[0] = 0x45;
		ip[1] = tos;
		ip[3] = 48;
		ip[4] = 0x12;
		ip[5] = 0x34;
		ip[8] = 64;
		ip[9] = 17;
		ip[12] = 10, ip[15] = 2;
		ip[16] = 10, ip[19] = 1;
		c = fold(ip, 20);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	} else {
		ip[0] = (uint8_t)(0x60 | tos >> 4);
		ip[1] = (uint8_t)(tos << 4 | 0x0a);	/* flow label bits beside the class */
		ip[5] = 8;
		ip[6] = 17;
		ip[7] = 64;
	}
}

static void test_rules(void)
{
	for (int o = 0; o < 4; o++)
		for (int i = 0; i < 4; i++)
			if (xwg_ecn_decap((uint8_t)o, (uint8_t)i) != figure4[i][o])
				TEST_FAIL("outer %d inner %d: %d, want %d", o, i, xwg_ecn_decap((uint8_t)o, (uint8_t)i),
					  figure4[i][o]);
	/* INET_ECN_encapsulate: copied, CE as ECT(0); DSCP bits never leak out. */
	ASSERT_EQ(xwg_ecn_encap(N), N);
	ASSERT_EQ(xwg_ecn_encap(E1), E1);
	ASSERT_EQ(xwg_ecn_encap(E0), E0);
	ASSERT_EQ(xwg_ecn_encap(CE), E0);
	ASSERT_EQ(xwg_ecn_encap(0xb9), E1);
}

/* Every combination on real headers: only the ECN bits change, the IPv4 checksum stays valid. */
static void test_headers(void)
{
	for (int family = 4; family <= 6; family += 2)
		for (int o = 0; o < 4; o++)
			for (int i = 0; i < 4; i++) {
				uint8_t ip[40], want[40];
				int ret, w = figure4[i][o];

				header(ip, family, (uint8_t)(0xb8 | i));	/* DSCP 46 */
				ret = xwg_ecn_decap_header(ip, (uint8_t)(0xfc | o));
				if (w == DROP) {
					ASSERT_EQ(ret, XWG_ECN_DROP);
					continue;
				}
				header(want, family, (uint8_t)(0xb8 | w));
				ASSERT_EQ(ret, w != i);
				ASSERT_MEMEQ(ip, want, 40);
				if (family == 4)
					ASSERT_EQ(fold(ip, 20), 0);
			}
}

/* Receives one datagram on fd and returns the TOS its control messages carried, or -1. */
static int recv_tos(int fd)
{
	union {
		char buf[256];
		struct cmsghdr align;
	} control;
	char data[64];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
			      .msg_controllen = sizeof(control) };
	struct socket_rx_info info;

	if (recvmsg(fd, &msg, 0) < 0)
		return -1;
	socket_rx_cmsg(&msg, &info);
	return info.tos;
}

/*
 * The agent's own sockets ask for the TOS / traffic class of what they receive, and
 * socket_send_to_peer_tos() sets it per datagram: one device sends to itself over loopback.
 */
static void test_socket_tos(void)
{
	struct xwg_device dev;
	struct peer peer;

	memset(&dev, 0, sizeof(dev));
	memset(&peer, 0, sizeof(peer));
	dev.sock4 = dev.sock6 = dev.epoll_fd = dev.tun_fd = -1;
	ASSERT_EQ(device_set_listen_port(&dev, 0), 0);
	if (dev.sock4 < 0)
		return;
	peer.dev = &dev;
	for (int family = AF_INET; family; family = family == AF_INET ? AF_INET6 : 0) {
		if (family == AF_INET6 && dev.sock6 < 0)
			continue;
		if (family == AF_INET) {
			peer.endpoint.addr.in4.sin_family = AF_INET;
			peer.endpoint.addr.in4.sin_port = htons(dev.listen_port);
			peer.endpoint.addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		} else {
			peer.endpoint.addr.in6.sin6_family = AF_INET6;
			peer.endpoint.addr.in6.sin6_port = htons(dev.listen_port);
			peer.endpoint.addr.in6.sin6_addr = in6addr_loopback;
		}
		for (uint8_t ecn = 0; ecn < 4; ecn++) {
			int fd = family == AF_INET ? dev.sock4 : dev.sock6;

			ASSERT_EQ(socket_send_to_peer_tos(&peer, "x", 1, ecn), 0);
			ASSERT_EQ(recv_tos(fd), ecn);
		}
		ASSERT_EQ(socket_send_to_peer(&peer, "x", 1), 0);
		ASSERT_EQ(recv_tos(family == AF_INET ? dev.sock4 : dev.sock6), 0);
	}
	close(dev.sock4);
	if (dev.sock6 >= 0)
		close(dev.sock6);
}

/* ---------------------------------------------------------------- receive_packet() to the TUN */

static void dev_setup(struct xwg_device *dev)
{
	test_device_init(dev, "xwgecn0");
}

/* b initiates to a; then b's data messages, with various outer TOS, arrive at a's receive_packet(). */
static void test_receive(void)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct xwg_device a, b;
	struct peer *b_on_a, *a_on_b;
	struct noise_keypair *kp;
	uint8_t inner_addr[4] = { 10, 0, 0, 2 };
	int sv[2];
	uint64_t counter = 0;

	dev_setup(&a);
	dev_setup(&b);
	b_on_a = test_peer_add(&a, b.static_public);
	a_on_b = test_peer_add(&b, a.static_public);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	a.tun_fd = sv[0];
	ASSERT_EQ(allowedips_insert(&a.allowedips, AF_INET, inner_addr, 32, b_on_a), 0);
	ASSERT_EQ(noise_create_initiation(&b, a_on_b, &m1), 0);
	cookie_add_macs(a_on_b, &m1, sizeof(m1));
	ASSERT_TRUE(noise_consume_initiation(&a, &m1) == b_on_a);
	ASSERT_EQ(noise_create_response(&a, b_on_a, &m2), 0);
	cookie_add_macs(b_on_a, &m2, sizeof(m2));
	ASSERT_EQ(noise_begin_session(&a, b_on_a), 0);
	ASSERT_TRUE(noise_consume_response(&b, &m2) == a_on_b);
	ASSERT_EQ(noise_begin_session(&b, a_on_b), 0);
	kp = a_on_b->keypairs.current_keypair;
	ASSERT_TRUE(kp != NULL);
	if (!kp)
		goto out;
	inet_pton(AF_INET, "192.0.2.9", &src.sin_addr);

	for (int o = 0; o < 4; o++)
		for (int i = 0; i < 4; i++) {
			uint8_t plain[48], msg[16 + 48 + 16], got[64];
			ssize_t n;

			header(plain, 4, (uint8_t)i);
			memset(plain + 20, 0x5a, 28);
			msg[0] = MESSAGE_DATA;
			msg[1] = msg[2] = msg[3] = 0;
			memcpy(msg + 4, &kp->remote_index, 4);
			for (int k = 0; k < 8; k++)
				msg[8 + k] = (uint8_t)(counter >> (8 * k));
			ASSERT_EQ(aead_encrypt(msg + 16, plain, sizeof(plain), NULL, 0, counter, kp->send_key), 0);
			counter++;
			receive_packet(&a, msg, sizeof(msg), (struct sockaddr *)&src, NULL, 0, (uint8_t)(0x20 | o));
			receive_flush(&a);
			n = recv(sv[1], got, sizeof(got), MSG_DONTWAIT);
			if (figure4[i][o] == DROP) {
				ASSERT_EQ(n, -1);
				continue;
			}
			header(plain, 4, (uint8_t)figure4[i][o]);
			memset(plain + 20, 0x5a, 28);
			ASSERT_EQ(n, sizeof(plain));
			if (n == sizeof(plain))
				ASSERT_MEMEQ(got, plain, sizeof(plain));
		}
out:
	close(sv[0]);
	close(sv[1]);
	a.tun_fd = -1;
	test_device_teardown(&a);
	test_device_teardown(&b);
}

int main(void)
{
	if (crypto_init())
		return 1;
	RUN_TEST(test_rules);
	RUN_TEST(test_headers);
	RUN_TEST(test_socket_tos);
	RUN_TEST(test_receive);
	return TEST_SUMMARY();
}

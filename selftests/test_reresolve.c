/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for endpoint re-resolution: the name the config keeps, when the core asks for a lookup, what an answer changes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include "test.h"
#include "test_device.h"
#include "config.h"
#include "reresolve.h"
#include "resolver.h"

#define KEY1 "BxQhLjtIVWJvfImWo7C9ytfk8f4LGCUyP0xZZnOAjZo="
#define KEY2 "DhsoNUJPXGl2g5CdqrfE0d7r+AUSHyw5RlNgbXqHlKE="
#define AFTER 135
#define S(x) ((uint64_t)(x) * NSEC_PER_SEC)

static struct sockaddr_in sin4(const char *addr, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &s.sin_addr);
	return s;
}

/* The name only when the host part is not an address; the last Endpoint line wins. */
static const char *config_host(const char *endpoints)
{
	static char host[256];
	char text[1024], err[256];
	struct xwg_config cfg;

	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = " KEY1 "\n[Peer]\nPublicKey = " KEY2 "\n%s",
		 endpoints);
	if (config_parse_string(&cfg, "t.conf", text, err, sizeof(err))) {
		fprintf(stderr, "    %s\n", err);
		return "(error)";
	}
	snprintf(host, sizeof(host), "%s", cfg.peers->endpoint_host);
	config_free(&cfg);
	return host;
}

static void test_config_keeps_name(void)
{
	ASSERT_STREQ(config_host("Endpoint = localhost:51820\n"), "localhost");
	ASSERT_STREQ(config_host("Endpoint = 192.0.2.1:51820\n"), "");
	ASSERT_STREQ(config_host("Endpoint = [2001:db8::1]:51820\n"), "");
	ASSERT_STREQ(config_host("Endpoint = localhost:1\nEndpoint = 192.0.2.1:2\n"), "");
	ASSERT_STREQ(config_host("Endpoint = 192.0.2.1:2\nEndpoint = localhost:1\n"), "localhost");
}

/* A peer with the name set at an endpoint it resolved to, as `xwg up` leaves it. */
static struct peer *named_peer(struct xwg_device *dev)
{
	struct sockaddr_in a = sin4("192.0.2.1", 51820);
	uint8_t pub[32];
	struct peer *peer;

	test_device_init(dev, "rr0");
	dev->tune.reresolve_after_s = AFTER;
	memset(pub, 0x42, sizeof(pub));
	peer = peer_create(dev, pub);
	if (!peer)
		abort();
	peer_set_endpoint(peer, (struct sockaddr *)&a);
	if (reresolve_set_name(peer, "vpn.example.org", 51820))
		abort();
	return peer;
}

static void named_done(struct xwg_device *dev)
{
	resolver_stop(dev);
	device_remove_all_peers(dev);
	index_table_free(&dev->index_table);
	allowedips_free(&dev->allowedips);
}

static void test_when_due(void)
{
	struct xwg_device dev;
	struct peer *peer = named_peer(&dev);
	uint64_t t0 = peer->endpoint_name.not_before - S(AFTER);	/* when the name was set */
	int64_t wall = 1700000000;

	ASSERT_EQ(peer->endpoint_name.port, 51820);
	/* Not trying (no initiation waiting for an answer): never, however old the handshake. */
	ASSERT_FALSE(reresolve_due(peer, t0 + S(1000), wall, AFTER));
	peer->timer_retransmit_handshake.at = t0 + S(1);
	/* Trying, never a handshake: only once the start-up lookup had after_s to work. */
	ASSERT_FALSE(reresolve_due(peer, t0 + S(AFTER) - 1, wall, AFTER));
	ASSERT_TRUE(reresolve_due(peer, t0 + S(AFTER), wall, AFTER));
	/* A handshake younger than after_s: the address works, or worked a moment ago. */
	peer->last_handshake.tv_sec = wall - AFTER + 1;
	ASSERT_FALSE(reresolve_due(peer, t0 + S(1000), wall, AFTER));
	peer->last_handshake.tv_sec = wall - AFTER;
	ASSERT_TRUE(reresolve_due(peer, t0 + S(1000), wall, AFTER));
	/* Off, or the threshold from the environment. */
	ASSERT_FALSE(reresolve_due(peer, t0 + S(1000), wall, 0));
	ASSERT_FALSE(reresolve_due(peer, t0 + S(1000), wall, AFTER + 1));
	/* One lookup at a time, then one per RERESOLVE_RETRY_S (or after_s if shorter). */
	reresolve_started(peer, t0 + S(1000), AFTER);
	ASSERT_TRUE(peer->endpoint_name.resolving);
	ASSERT_FALSE(reresolve_due(peer, t0 + S(2000), wall, AFTER));
	ASSERT_EQ(reresolve_finished(peer, peer->endpoint_name.gen, NULL), RERESOLVE_FAILED);
	ASSERT_FALSE(peer->endpoint_name.resolving);
	ASSERT_FALSE(reresolve_due(peer, t0 + S(1000 + RERESOLVE_RETRY_S) - 1, wall, AFTER));
	ASSERT_TRUE(reresolve_due(peer, t0 + S(1000 + RERESOLVE_RETRY_S), wall, AFTER));
	reresolve_started(peer, t0 + S(2000), 5);
	ASSERT_EQ(peer->endpoint_name.not_before, t0 + S(2005));
	named_done(&dev);
}

static void test_answers(void)
{
	struct sockaddr_in a = sin4("192.0.2.1", 51820), b = sin4("198.51.100.7", 51820);
	struct xwg_device dev;
	struct peer *peer = named_peer(&dev);
	uint64_t gen = peer->endpoint_name.gen;

	/* Failure or the same address: the endpoint stays as it is, nothing is sent. */
	reresolve_started(peer, now_ns(), AFTER);
	ASSERT_EQ(reresolve_finished(peer, gen, NULL), RERESOLVE_FAILED);
	ASSERT_MEMEQ(&peer->endpoint.addr.in4, &a, sizeof(a));
	reresolve_started(peer, now_ns(), AFTER);
	ASSERT_EQ(reresolve_finished(peer, gen, (struct sockaddr *)&a), RERESOLVE_SAME);
	ASSERT_EQ(peer->last_sent_handshake, 0);
	/* A new address: the endpoint moves, keeps its name, and a handshake goes out at once. */
	peer->publish = 0;
	peer->last_sent_handshake = now_ns();	/* just sent one: the new address must not wait */
	reresolve_started(peer, now_ns(), AFTER);
	ASSERT_EQ(reresolve_finished(peer, gen, (struct sockaddr *)&b), RERESOLVE_CHANGED);
	ASSERT_MEMEQ(&peer->endpoint.addr.in4, &b, sizeof(b));
	ASSERT_STREQ(peer->endpoint_name.host, "vpn.example.org");
	ASSERT_TRUE(peer->publish & PUBLISH_ENDPOINT);
	ASSERT_TRUE(peer->timer_retransmit_handshake.at != 0);
	ASSERT_EQ(peer->timer_handshake_attempts, 0);
	/* An answer for an older name (changed meanwhile) is dropped. */
	reresolve_started(peer, now_ns(), AFTER);
	ASSERT_EQ(reresolve_finished(peer, gen + 1, (struct sockaddr *)&a), RERESOLVE_STALE);
	ASSERT_MEMEQ(&peer->endpoint.addr.in4, &b, sizeof(b));
	named_done(&dev);
}

static void test_roaming_wins(void)
{
	struct sockaddr_in a = sin4("192.0.2.1", 51820), c = sin4("203.0.113.9", 4000);
	struct xwg_device dev;
	struct peer *peer = named_peer(&dev);
	struct endpoint old = peer->endpoint;
	uint64_t gen = peer->endpoint_name.gen;

	peer->timer_retransmit_handshake.at = 1;
	/* A packet from the address the name gave: the name stays in use. */
	reresolve_packet_moved(peer, &old);
	ASSERT_FALSE(peer->endpoint_name.learned);
	ASSERT_TRUE(reresolve_due(peer, peer->endpoint_name.not_before, 0, AFTER));
	/* The peer roamed: its word beats the name, even with a lookup already out. */
	reresolve_started(peer, now_ns(), AFTER);
	peer->endpoint.addr.in4 = c;
	reresolve_packet_moved(peer, &old);
	ASSERT_TRUE(peer->endpoint_name.learned);
	ASSERT_EQ(reresolve_finished(peer, gen, (struct sockaddr *)&a), RERESOLVE_STALE);
	ASSERT_MEMEQ(&peer->endpoint.addr.in4, &c, sizeof(c));
	ASSERT_FALSE(reresolve_due(peer, UINT64_MAX, 0, AFTER));
	/* Until the configuration sets the name again. */
	ASSERT_EQ(reresolve_set_name(peer, "vpn.example.org", 51820), 0);
	ASSERT_FALSE(peer->endpoint_name.learned);
	named_done(&dev);
}

static void test_address_set_forgets_name(void)
{
	struct sockaddr_in a = sin4("192.0.2.1", 51820), d = sin4("192.0.2.99", 1);
	char long_name[ENDPOINT_HOST_MAX + 1];
	struct xwg_device dev;
	struct peer *peer = named_peer(&dev);
	uint64_t gen = peer->endpoint_name.gen;

	reresolve_started(peer, now_ns(), AFTER);
	/* `wg set ... endpoint ADDR` (UAPI): the user chose an address. */
	peer_set_endpoint(peer, (struct sockaddr *)&d);
	ASSERT_STREQ(peer->endpoint_name.host, "");
	ASSERT_EQ(reresolve_finished(peer, gen, (struct sockaddr *)&a), RERESOLVE_STALE);
	ASSERT_MEMEQ(&peer->endpoint.addr.in4, &d, sizeof(d));
	peer->timer_retransmit_handshake.at = 1;
	ASSERT_FALSE(reresolve_due(peer, UINT64_MAX, 0, AFTER));
	/* Names that cannot be kept are refused, not cut. */
	memset(long_name, 'a', ENDPOINT_HOST_MAX);
	long_name[ENDPOINT_HOST_MAX] = '\0';
	ASSERT_EQ(reresolve_set_name(peer, long_name, 1), -EINVAL);
	ASSERT_EQ(reresolve_set_name(peer, "", 1), -EINVAL);
	named_done(&dev);
}

/* The data plane's worker: a due name is looked up off the caller's thread, the answer applied by collect. */
static void test_resolver_thread(void)
{
	struct sockaddr_in lo = sin4("127.0.0.1", 51820);
	struct xwg_device dev;
	struct peer *peer = named_peer(&dev);
	struct pollfd pfd;
	int fd;

	ASSERT_EQ(reresolve_set_name(peer, "localhost", 51820), 0);
	peer->endpoint_name.not_before = 0;
	peer->timer_retransmit_handshake.at = now_ns() + S(5);
	resolver_tick(&dev);
	ASSERT_TRUE(peer->endpoint_name.resolving);
	fd = resolver_fd(&dev);
	ASSERT_TRUE(fd >= 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ASSERT_EQ(poll(&pfd, 1, 10000), 1);
	resolver_collect(&dev);
	ASSERT_FALSE(peer->endpoint_name.resolving);
	/* localhost may come back as ::1 first, as getaddrinfo orders it: either is the name's address. */
	if (peer->endpoint.addr.sa.sa_family == AF_INET)
		ASSERT_MEMEQ(&peer->endpoint.addr.in4, &lo, sizeof(lo));
	else
		ASSERT_EQ(peer->endpoint.addr.sa.sa_family, AF_INET6);
	ASSERT_STREQ(peer->endpoint_name.host, "localhost");
	/* Not again before the retry interval; a lookup still out when the device stops is abandoned. */
	dev.resolver_checked = 0;
	resolver_tick(&dev);
	ASSERT_FALSE(peer->endpoint_name.resolving);
	peer->endpoint_name.not_before = 0;
	dev.resolver_checked = 0;
	resolver_tick(&dev);
	ASSERT_TRUE(peer->endpoint_name.resolving);
	resolver_stop(&dev);
	ASSERT_EQ(resolver_fd(&dev), -1);
	named_done(&dev);
}

int main(void)
{
	RUN_TEST(test_config_keeps_name);
	RUN_TEST(test_when_due);
	RUN_TEST(test_answers);
	RUN_TEST(test_roaming_wins);
	RUN_TEST(test_address_set_forgets_name);
	RUN_TEST(test_resolver_thread);
	return TEST_SUMMARY();
}

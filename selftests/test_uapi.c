/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the UAPI server (get/set semantics, errors, framing, the socket) and the `xwg show` client. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "test.h"
#include "crypto.h"
#include "device.h"
#include "encoding.h"
#include "offload.h"
#include "peer.h"
#include "reresolve.h"
#include "show.h"
#include "uapi.h"
#include "test_uapi_serve.h"

static const char zero_hex[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* A device without TUN, sockets or epoll: enough for configuration. */
static void dev_setup(struct xwg_device *dev)
{
	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = dev->sock4 = dev->sock6 = dev->epoll_fd = dev->uapi_fd = dev->signal_fd = -1;
	allowedips_init(&dev->allowedips);
	if (index_table_init(&dev->index_table))
		abort();
}

static void dev_teardown(struct xwg_device *dev)
{
	device_uninit(dev);
}

/* Runs one byte stream of requests through uapi_serve; returns everything written (malloc'd). */
static char *serve(struct xwg_device *dev, const char *req)
{
	return test_uapi_serve(dev, req, strlen(req));
}

/* Serves req and compares the reply; frees it. */
#define EXPECT_REPLY(dev, req, want) do { char *_r = serve(dev, req); ASSERT_STREQ(_r, want); free(_r); } while (0)

/* Deterministic key pairs: private = clamp(seed byte repeated). */
static void test_keypair(uint8_t seed, uint8_t priv[32], uint8_t pub[32], char priv_hex[65], char pub_hex[65])
{
	memset(priv, seed, 32);
	curve25519_clamp(priv);
	if (curve25519_generate_public(pub, priv))
		abort();
	key_to_hex(priv_hex, priv);
	key_to_hex(pub_hex, pub);
}

static struct peer *find_peer(struct xwg_device *dev, const char *pub_hex)
{
	uint8_t key[32];

	if (key_from_hex(key, pub_hex))
		abort();
	return device_lookup_peer(dev, key);
}

static struct peer *route4(struct xwg_device *dev, const char *ip)
{
	uint8_t a[4];

	inet_pton(AF_INET, ip, a);
	return allowedips_lookup(&dev->allowedips, AF_INET, a);
}

static int count_prefixes_cb(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_prefixes(struct xwg_device *dev, struct peer *peer)
{
	int n = 0;

	allowedips_walk_by_peer(&dev->allowedips, peer, count_prefixes_cb, &n);
	return n;
}

static void test_get_empty(void)
{
	struct xwg_device dev;

	dev_setup(&dev);
	/* Without offload: the mode and nothing else (no refusals, underlays or counters). */
	EXPECT_REPLY(&dev, "get=1\n\n", "xwg_mode=tun\nerrno=0\n\n");
	/* Asking for tun explicitly loads nothing and changes nothing. */
	ASSERT_EQ(offload_start(&dev, OFFLOAD_TUN, NULL), 0);
	ASSERT_EQ(offload_active_mode(&dev), OFFLOAD_TUN);
	EXPECT_REPLY(&dev, "get=1\n\n", "xwg_mode=tun\nerrno=0\n\n");
	/* A probe connection sends nothing at all. */
	EXPECT_REPLY(&dev, "", "");
	dev_teardown(&dev);
}

static void test_attach_detach(void)
{
	static const struct {
		const char *req, *reply;
	} cases[] = {
		/* tun mode has no BPF to attach. */
		{ "set=1\nxwg_attach=lo\n\n", "errno=-95\n\n" },
		{ "set=1\nxwg_detach=lo\n\n", "errno=-95\n\n" },
		{ "set=1\nxwg_attach=xwgnosuchdev0\n\n", "errno=-95\n\n" },
		/* Names that cannot be interfaces are refused before the offload sees them. */
		{ "set=1\nxwg_attach=\n\n", "errno=-22\n\n" },
		{ "set=1\nxwg_detach=0123456789abcdef\n\n", "errno=-22\n\n" },
		/* Device keys only: inside a peer block they are unknown peer keys. */
		{ "set=1\npublic_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "xwg_attach=lo\n\n", "errno=-22\n\n" },
		/* Get-only keys cannot be set. */
		{ "set=1\nxwg_underlay=lo\n\n", "errno=-22\n\n" },
		{ "set=1\nxwg_reason=OK:1\n\n", "errno=-22\n\n" },
	};
	struct xwg_device dev;

	dev_setup(&dev);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = serve(&dev, cases[i].req);

		if (!r || strcmp(r, cases[i].reply))
			TEST_FAIL("request %zu \"%s\": got \"%s\", want \"%s\"", i, cases[i].req,
				  r ? r : "(null)", cases[i].reply);
		free(r);
	}
	/* Still tun without underlays; the peer block that failed stays (not transactional). */
	EXPECT_REPLY(&dev, "get=1\n\n",
		     "xwg_mode=tun\npublic_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		     "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		     "protocol_version=1\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		     "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		     "xwg_bpf_rx_packets=0\nxwg_bpf_tx_packets=0\nxwg_bpf_rx_bytes=0\nxwg_bpf_tx_bytes=0\n"
		     "xwg_agent_rx_packets=0\nxwg_agent_tx_packets=0\nxwg_agent_rx_bytes=0\nxwg_agent_tx_bytes=0\n"
		     "xwg_batch_rx_packets=0\nxwg_batch_tx_packets=0\nxwg_batch_rx_bytes=0\nxwg_batch_tx_bytes=0\n"
		     "xwg_handshake_initiations_sent=0\nxwg_handshake_responses_sent=0\n"
		     "xwg_handshake_initiations_received=0\nxwg_handshake_responses_received=0\n"
		     "xwg_handshake_timeouts=0\nxwg_handshakes_given_up=0\n"
		     "errno=0\n\n");
	dev_teardown(&dev);
}

static void test_private_key_clamped(void)
{
	struct xwg_device dev;
	char b64[KEY_B64_LEN + 1], *r;
	uint8_t pub[32];

	dev_setup(&dev);
	/* 0xff... is "/////..." in base64; clamped it must read back as "+////...". */
	EXPECT_REPLY(&dev, "set=1\nprivate_key=ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n\n",
		     "errno=0\n\n");
	ASSERT_TRUE(dev.has_identity);
	EXPECT_REPLY(&dev, "get=1\n\n",
		     "private_key=f8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f\nxwg_mode=tun\n"
		     "errno=0\n\n");
	key_to_base64(b64, dev.static_private);
	ASSERT_EQ(b64[0], '+');
	curve25519_generate_public(pub, dev.static_private);
	ASSERT_MEMEQ(dev.static_public, pub, 32);

	/* Upper-case hex is accepted too. */
	EXPECT_REPLY(&dev, "set=1\nprivate_key=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n\n",
		     "errno=0\n\n");
	ASSERT_TRUE(dev.has_identity);

	/* All zeros removes the identity (and is not clamped into a real key). */
	r = serve(&dev, "set=1\nprivate_key=0000000000000000000000000000000000000000000000000000000000000000\n\n"
			"get=1\n\n");
	ASSERT_STREQ(r, "errno=0\n\nxwg_mode=tun\nerrno=0\n\n");
	free(r);
	ASSERT_FALSE(dev.has_identity);
	dev_teardown(&dev);
}

static void test_peer_full(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32], ppriv[32], ppub[32];
	char priv_hex[65], pub_hex[65], ppriv_hex[65], ppub_hex[65], req[1024], want[2048];
	struct peer *peer;

	dev_setup(&dev);
	test_keypair(1, priv, pub, priv_hex, pub_hex);
	test_keypair(2, ppriv, ppub, ppriv_hex, ppub_hex);
	snprintf(req, sizeof(req),
		 "set=1\nprivate_key=%s\nfwmark=4660\npublic_key=%s\n"
		 "preshared_key=0101010101010101010101010101010101010101010101010101010101010101\n"
		 "endpoint=[fd00::2]:51820\nprotocol_version=1\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.0.0.5/24\nallowed_ip=fd00::1/64\nallowed_ip=192.168.7.7\n\n",
		 priv_hex, ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	peer = find_peer(&dev, ppub_hex);
	ASSERT_TRUE(peer != NULL);
	if (!peer)
		goto out;
	ASSERT_EQ(dev.fwmark, 4660);
	ASSERT_EQ(peer->endpoint.addr.sa.sa_family, AF_INET6);
	ASSERT_TRUE(route4(&dev, "10.0.0.200") == peer);
	ASSERT_TRUE(route4(&dev, "10.0.1.1") == NULL);

	/* Counters and handshake time are reported as stored (no BPF share to add in tun mode). */
	peer->rx_bytes = 1372;
	peer->tx_bytes = 1428;
	peer->agent_rx_packets = 7;
	peer->agent_tx_packets = 9;
	peer->agent_rx_bytes = 700;
	peer->agent_tx_bytes = 900;
	peer->batch_rx_packets = 5;
	peer->batch_tx_packets = 6;
	peer->batch_rx_bytes = 500;
	peer->batch_tx_bytes = 600;
	peer->hs_initiations_sent = 11;
	peer->hs_responses_sent = 12;
	peer->hs_initiations_received = 13;
	peer->hs_responses_received = 14;
	peer->hs_timeouts = 15;
	peer->hs_given_up = 16;
	dev.cookies_sent = 17;
	dev.cookies_received = 18;
	peer->last_handshake.tv_sec = 1700000000;
	peer->last_handshake.tv_nsec = 123456789;
	/* Masked prefixes, IPv4 first, hex lower case, PSK reported in full. */
	snprintf(want, sizeof(want),
		 "private_key=%s\nfwmark=4660\nxwg_mode=tun\nxwg_cookie_replies_sent=17\n"
		 "xwg_cookie_replies_received=18\npublic_key=%s\n"
		 "preshared_key=0101010101010101010101010101010101010101010101010101010101010101\n"
		 "protocol_version=1\nendpoint=[fd00::2]:51820\n"
		 "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\n"
		 "tx_bytes=1428\nrx_bytes=1372\npersistent_keepalive_interval=0\n",
		 priv_hex, ppub_hex);
	{
		char *r = serve(&dev, "get=1\n\n");

		ASSERT_TRUE(r && !strncmp(r, want, strlen(want)));
		ASSERT_TRUE(r && strstr(r, "allowed_ip=10.0.0.0/24\n"));
		ASSERT_TRUE(r && strstr(r, "allowed_ip=192.168.7.7/32\n"));
		ASSERT_TRUE(r && strstr(r, "allowed_ip=fd00::/64\n"));
		/* Our peer keys come after the standard ones. */
		ASSERT_TRUE(r && strstr(r, "allowed_ip=fd00::/64\nxwg_bpf_rx_packets=0\nxwg_bpf_tx_packets=0\n"
				   "xwg_bpf_rx_bytes=0\nxwg_bpf_tx_bytes=0\nxwg_agent_rx_packets=7\n"
				   "xwg_agent_tx_packets=9\nxwg_agent_rx_bytes=700\nxwg_agent_tx_bytes=900\n"
				   "xwg_batch_rx_packets=5\nxwg_batch_tx_packets=6\nxwg_batch_rx_bytes=500\n"
				   "xwg_batch_tx_bytes=600\nxwg_handshake_initiations_sent=11\n"
				   "xwg_handshake_responses_sent=12\nxwg_handshake_initiations_received=13\n"
				   "xwg_handshake_responses_received=14\nxwg_handshake_timeouts=15\n"
				   "xwg_handshakes_given_up=16\nerrno=0\n\n"));
		ASSERT_TRUE(r && strlen(r) > 7 && !strcmp(r + strlen(r) - 10, "\nerrno=0\n\n"));
		free(r);
	}

	/* IPv4 endpoint, keepalive, PSK removal with zeros; the peer is updated in place. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:4500\n"
		 "persistent_keepalive_interval=25\n\n", ppub_hex, zero_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(find_peer(&dev, ppub_hex) == peer);
	ASSERT_EQ(dev.num_peers, 1);
	ASSERT_EQ(peer->persistent_keepalive_interval, 25);
	ASSERT_TRUE(crypto_is_zero(peer->preshared_key, 32));
	{
		char *r = serve(&dev, "get=1\n\n");
		char line[100];

		snprintf(line, sizeof(line), "preshared_key=%s\n", zero_hex);
		ASSERT_TRUE(r && strstr(r, line));
		ASSERT_TRUE(r && strstr(r, "endpoint=192.0.2.1:4500\n"));
		ASSERT_TRUE(r && strstr(r, "persistent_keepalive_interval=25\n"));
		free(r);
	}
	/* "off" is sent as 0. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\npersistent_keepalive_interval=0\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(peer->persistent_keepalive_interval, 0);
out:
	dev_teardown(&dev);
}

/* Two peers A (10.1.0.0/16, 10.2.0.0/16) and B (10.3.0.0/16). */
static void setup_two_peers(struct xwg_device *dev, char a_hex[65], char b_hex[65])
{
	uint8_t priv[32], pub[32];
	char priv_hex[65], req[512];

	dev_setup(dev);
	test_keypair(3, priv, pub, priv_hex, a_hex);
	test_keypair(4, priv, pub, priv_hex, b_hex);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=10.1.0.0/16\nallowed_ip=10.2.0.0/16\n"
		 "public_key=%s\nallowed_ip=10.3.0.0/16\n\n", a_hex, b_hex);
	EXPECT_REPLY(dev, req, "errno=0\n\n");
}

static void test_replace_allowed_ips(void)
{
	struct xwg_device dev;
	char a[65], b[65], req[512];
	struct peer *pa;

	setup_two_peers(&dev, a, b);
	pa = find_peer(&dev, a);
	ASSERT_EQ(count_prefixes(&dev, pa), 2);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=10.9.0.0/16\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(count_prefixes(&dev, pa), 1);
	ASSERT_TRUE(route4(&dev, "10.9.1.1") == pa);
	ASSERT_TRUE(route4(&dev, "10.1.1.1") == NULL);
	/* B is untouched. */
	ASSERT_TRUE(route4(&dev, "10.3.1.1") == find_peer(&dev, b));
	/* wg set IF peer P allowed-ips "" */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nreplace_allowed_ips=true\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(count_prefixes(&dev, pa), 0);
	dev_teardown(&dev);
}

static void test_allowed_ip_removal(void)
{
	struct xwg_device dev;
	char a[65], b[65], req[512];
	struct peer *pa, *pb;

	setup_two_peers(&dev, a, b);
	pa = find_peer(&dev, a);
	pb = find_peer(&dev, b);
	/* Removal uses the masked prefix; a prefix of another peer is left alone, without error. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=-10.1.2.3/16\nallowed_ip=-10.3.0.0/16\n"
		 "allowed_ip=-10.77.0.0/16\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(route4(&dev, "10.1.0.1") == NULL);
	ASSERT_TRUE(route4(&dev, "10.2.0.1") == pa);
	ASSERT_TRUE(route4(&dev, "10.3.0.1") == pb);
	/* A malformed removal is still an error. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=-10.2.0.0/33\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=-22\n\n");
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=-\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=-22\n\n");
	ASSERT_TRUE(route4(&dev, "10.2.0.1") == pa);
	dev_teardown(&dev);
}

static void test_move_prefix(void)
{
	struct xwg_device dev;
	char a[65], b[65], req[512];
	struct peer *pa, *pb;

	setup_two_peers(&dev, a, b);
	pa = find_peer(&dev, a);
	pb = find_peer(&dev, b);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=10.1.0.0/16\n\n", b);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(route4(&dev, "10.1.0.1") == pb);
	ASSERT_EQ(count_prefixes(&dev, pa), 1);
	ASSERT_EQ(count_prefixes(&dev, pb), 2);
	/* The old owner can no longer remove it. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=-10.1.0.0/16\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(route4(&dev, "10.1.0.1") == pb);
	{
		char *r = serve(&dev, "get=1\n\n");
		char *pos_b = r ? strstr(r, b) : NULL;

		/* Reported under B only: after B's public_key line. */
		ASSERT_TRUE(pos_b && strstr(pos_b, "allowed_ip=10.1.0.0/16\n"));
		ASSERT_TRUE(r && strstr(r, "allowed_ip=10.1.0.0/16\n") > pos_b);
		free(r);
	}
	dev_teardown(&dev);
}

static void test_replace_peers(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32];
	char a[65], b[65], c[65], priv_hex[65], req[512];

	setup_two_peers(&dev, a, b);
	test_keypair(5, priv, pub, priv_hex, c);
	snprintf(req, sizeof(req), "set=1\nreplace_peers=true\npublic_key=%s\nallowed_ip=10.5.0.0/16\n\n", c);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(dev.num_peers, 1);
	ASSERT_TRUE(find_peer(&dev, a) == NULL);
	ASSERT_TRUE(find_peer(&dev, b) == NULL);
	ASSERT_TRUE(find_peer(&dev, c) != NULL);
	ASSERT_TRUE(route4(&dev, "10.1.0.1") == NULL);
	ASSERT_TRUE(route4(&dev, "10.5.0.1") == find_peer(&dev, c));
	/* replace_peers with no peers following empties the device. */
	EXPECT_REPLY(&dev, "set=1\nreplace_peers=true\n\n", "errno=0\n\n");
	ASSERT_EQ(dev.num_peers, 0);
	ASSERT_TRUE(dev.peers == NULL);
	dev_teardown(&dev);
}

static void test_remove_peer(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32];
	char a[65], b[65], c[65], priv_hex[65], req[512];

	setup_two_peers(&dev, a, b);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nremove=true\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(dev.num_peers, 1);
	ASSERT_TRUE(find_peer(&dev, a) == NULL);
	ASSERT_TRUE(route4(&dev, "10.1.0.1") == NULL);
	ASSERT_TRUE(route4(&dev, "10.2.0.1") == NULL);
	/* Removing an unknown peer neither fails nor creates it; lines after remove are ignored. */
	test_keypair(6, priv, pub, priv_hex, c);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nremove=true\nallowed_ip=10.6.0.0/16\n\n", c);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(find_peer(&dev, c) == NULL);
	ASSERT_TRUE(route4(&dev, "10.6.0.1") == NULL);
	/* Then the next block works again. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nremove=true\npublic_key=%s\nallowed_ip=10.6.0.0/16\n\n",
		 b, c);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(find_peer(&dev, b) == NULL);
	ASSERT_TRUE(route4(&dev, "10.6.0.1") == find_peer(&dev, c));
	ASSERT_EQ(dev.num_peers, 1);
	dev_teardown(&dev);
}

static void test_update_only(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32];
	char a[65], b[65], c[65], priv_hex[65], req[512];

	setup_two_peers(&dev, a, b);
	test_keypair(7, priv, pub, priv_hex, c);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nupdate_only=true\nendpoint=192.0.2.7:1\n"
		 "allowed_ip=10.7.0.0/16\n\n", c);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_TRUE(find_peer(&dev, c) == NULL);
	ASSERT_EQ(dev.num_peers, 2);
	ASSERT_TRUE(route4(&dev, "10.7.0.1") == NULL);
	/* An existing peer is updated. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nupdate_only=true\nendpoint=192.0.2.7:1\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(find_peer(&dev, a)->endpoint.addr.sa.sa_family, AF_INET);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nupdate_only=yes\n\n", a);
	EXPECT_REPLY(&dev, req, "errno=-22\n\n");
	dev_teardown(&dev);
}

/* A configured host name is reported while in use; an endpoint set through UAPI (an address) drops it. */
static void test_endpoint_host(void)
{
	struct xwg_device dev;
	uint8_t ppriv[32], ppub[32];
	char ppriv_hex[65], ppub_hex[65], req[512], *r;
	struct endpoint old;
	struct peer *peer;

	dev_setup(&dev);
	dev.tune.reresolve_after_s = RERESOLVE_AFTER_S_DEFAULT;
	test_keypair(2, ppriv, ppub, ppriv_hex, ppub_hex);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=192.0.2.1:51820\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	peer = find_peer(&dev, ppub_hex);
	ASSERT_TRUE(peer != NULL);
	if (!peer)
		goto out;
	ASSERT_EQ(reresolve_set_name(peer, "vpn.example.org", 51820), 0);
	r = serve(&dev, "get=1\n\n");
	ASSERT_TRUE(r && strstr(r, "endpoint=192.0.2.1:51820\n") && strstr(r, "\nxwg_endpoint_host=vpn.example.org\n"));
	free(r);
	/* Roamed: the learned address wins, the name is not shown (nor used) any more. */
	old = peer->endpoint;
	peer->endpoint.addr.in4.sin_port = htons(4000);
	reresolve_packet_moved(peer, &old);
	r = serve(&dev, "get=1\n\n");
	ASSERT_TRUE(r && !strstr(r, "xwg_endpoint_host"));
	free(r);
	/* wg set ... endpoint: the user chose an address. */
	ASSERT_EQ(reresolve_set_name(peer, "vpn.example.org", 51820), 0);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=192.0.2.9:51820\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_STREQ(peer->endpoint_name.host, "");
	r = serve(&dev, "get=1\n\n");
	ASSERT_TRUE(r && strstr(r, "endpoint=192.0.2.9:51820\n") && !strstr(r, "xwg_endpoint_host"));
	free(r);
out:
	dev_teardown(&dev);
}

/* xwg's path keys: set the configured endpoints and the policy; get gives them back for SaveConfig. */
static void test_path_keys(void)
{
	struct xwg_device dev;
	uint8_t ppriv[32], ppub[32];
	char ppriv_hex[65], ppub_hex[65], req[512], *r, *conf = NULL;
	size_t conf_len = 0;
	struct peer *peer;
	FILE *in, *out;

	dev_setup(&dev);
	test_keypair(3, ppriv, ppub, ppriv_hex, ppub_hex);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nxwg_endpoints=192.0.2.1:51820, [2001:db8::1]:51821\n"
		 "xwg_path_policy=lowest-rtt\nxwg_path_probe_interval=2\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	peer = find_peer(&dev, ppub_hex);
	ASSERT_TRUE(peer != NULL);
	if (!peer)
		goto out;
	ASSERT_EQ(peer->paths.n, 2);
	ASSERT_EQ(peer->paths.policy, PATH_POLICY_LOWEST_RTT);
	ASSERT_EQ(peer->paths.probe_interval_s, 2);
	ASSERT_EQ(ntohs(peer->endpoint.addr.in4.sin_port), 51820);
	ASSERT_TRUE(dev.paths_dirty);
	r = serve(&dev, "get=1\n\n");
	ASSERT_TRUE(r && strstr(r, "\nendpoint=192.0.2.1:51820\n") &&
		    strstr(r, "\nxwg_endpoints=192.0.2.1:51820, [2001:db8::1]:51821\n") &&
		    strstr(r, "\nxwg_path_policy=lowest-rtt\n"));
	/* SaveConfig's file: the endpoints and the keys as a configuration has them. */
	in = r ? fmemopen(r, strlen(r), "r") : NULL;
	out = open_memstream(&conf, &conf_len);
	ASSERT_TRUE(in && out);
	if (in && out) {
		ASSERT_EQ(show_conf(in, NULL, out), 0);
		fclose(out);
		out = NULL;
		ASSERT_TRUE(conf && strstr(conf, "\nEndpoint = 192.0.2.1:51820, [2001:db8::1]:51821\n") &&
			    strstr(conf, "\nPathPolicy = lowest-rtt\n") && strstr(conf, "\nPathProbeInterval = 2\n"));
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	free(conf);
	free(r);
	/* A bad list changes nothing; wg set endpoint makes a one-path peer again. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nxwg_endpoints=192.0.2.7:1, bad\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=-22\n\n");
	ASSERT_EQ(peer->paths.n, 2);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=192.0.2.9:51820\n\n", ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(peer->paths.n, 1);
	r = serve(&dev, "get=1\n\n");
	ASSERT_TRUE(r && !strstr(r, "xwg_endpoints") && !strstr(r, "xwg_path"));
	free(r);
out:
	dev_teardown(&dev);
}

static void test_own_public_key_ignored(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32], ppriv[32], ppub[32];
	char priv_hex[65], pub_hex[65], ppriv_hex[65], ppub_hex[65], req[1024];

	dev_setup(&dev);
	test_keypair(8, priv, pub, priv_hex, pub_hex);
	test_keypair(9, ppriv, ppub, ppriv_hex, ppub_hex);
	/* wg-quick users paste their own key as a peer: silently skip that block only. */
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\npublic_key=%s\nendpoint=192.0.2.8:1\n"
		 "allowed_ip=10.8.0.0/16\npublic_key=%s\nallowed_ip=10.9.0.0/16\n\n", priv_hex, pub_hex, ppub_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(dev.num_peers, 1);
	ASSERT_TRUE(find_peer(&dev, pub_hex) == NULL);
	ASSERT_TRUE(route4(&dev, "10.8.0.1") == NULL);
	ASSERT_TRUE(route4(&dev, "10.9.0.1") == find_peer(&dev, ppub_hex));
	/* Values in the ignored block are still validated. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nendpoint=bogus\n\n", pub_hex);
	EXPECT_REPLY(&dev, req, "errno=-22\n\n");
	/* Taking a peer's key as our identity removes that peer. */
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\n\n", ppriv_hex);
	EXPECT_REPLY(&dev, req, "errno=0\n\n");
	ASSERT_EQ(dev.num_peers, 0);
	ASSERT_TRUE(route4(&dev, "10.9.0.1") == NULL);
	dev_teardown(&dev);
}

static void test_errors(void)
{
	static const struct {
		const char *req, *reply;
	} cases[] = {
		{ "set=1\nprivate_key=zz\n\n", "errno=-22\n\n" },
		{ "set=1\nprivate_key=0123\n\n", "errno=-22\n\n" },
		{ "set=1\nprivate_key=g000000000000000000000000000000000000000000000000000000000000000\n\n",
		  "errno=-22\n\n" },
		{ "set=1\nbogus_key=1\n\n", "errno=-22\n\n" },
		{ "set=1\nlisten_port=65536\n\n", "errno=-22\n\n" },
		{ "set=1\nlisten_port=-1\n\n", "errno=-22\n\n" },
		{ "set=1\nlisten_port=\n\n", "errno=-22\n\n" },
		{ "set=1\nlisten_port=+5\n\n", "errno=-22\n\n" },
		{ "set=1\nfwmark=4294967296\n\n", "errno=-22\n\n" },
		{ "set=1\nfwmark=0x10\n\n", "errno=-22\n\n" },
		{ "set=1\nreplace_peers=false\n\n", "errno=-22\n\n" },
		{ "set=1\nreplace_peers=1\n\n", "errno=-22\n\n" },
		{ "set=1\nno equals sign\n\n", "errno=-71\n\n" },
		{ "set=1\npublic_key=abc\n\n", "errno=-22\n\n" },
		/* Keys only a get reply carries. */
		{ "set=1\nrx_bytes=0\n\n", "errno=-22\n\n" },
		{ "set=1\ntx_bytes=0\n\n", "errno=-22\n\n" },
		{ "set=1\nlast_handshake_time_sec=0\n\n", "errno=-22\n\n" },
		{ "set=1\nlast_handshake_time_nsec=0\n\n", "errno=-22\n\n" },
		{ "set=1\nxwg_mode=tun\n\n", "errno=-22\n\n" },
		/* Peer keys before any public_key. */
		{ "set=1\nendpoint=1.2.3.4:5\n\n", "errno=-22\n\n" },
		{ "set=1\nallowed_ip=10.0.0.0/8\n\n", "errno=-22\n\n" },
		/* get takes no arguments. */
		{ "get=1\nfoo=bar\n\n", "errno=-22\n\n" },
		/* Unknown operations and stray blank lines close the connection without a reply. */
		{ "put=1\n\n", "" },
		{ "\nget=1\n\n", "" },
		{ "get=1", "" },
	};
	struct xwg_device dev;

	dev_setup(&dev);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = serve(&dev, cases[i].req);

		if (!r || strcmp(r, cases[i].reply))
			TEST_FAIL("request %zu \"%s\": got \"%s\", want \"%s\"", i, cases[i].req,
				  r ? r : "(null)", cases[i].reply);
		free(r);
	}
	ASSERT_FALSE(dev.has_identity);
	ASSERT_EQ(dev.num_peers, 0);
	ASSERT_EQ(dev.fwmark, 0);
	dev_teardown(&dev);
}

static void test_peer_errors(void)
{
	struct xwg_device dev;
	uint8_t priv[32], pub[32];
	char priv_hex[65], a[65], req[1024];
	const char *bad[] = {
		"preshared_key=00",
		"endpoint=localhost:51820",	/* names are resolved by wg, never by the agent */
		"endpoint=1.2.3.4",
		"endpoint=1.2.3.4:65536",
		"endpoint=fd00::1:51820",
		"persistent_keepalive_interval=65536",
		"persistent_keepalive_interval=off",
		"replace_allowed_ips=yes",
		"allowed_ip=10.0.0.0/33",
		"allowed_ip=10.0.0",
		"allowed_ip=fd00::/129",
		"protocol_version=2",
		"remove=false",
		("private_key=" "0000000000000000000000000000000000000000000000000000000000000000"),
		"listen_port=1",
		"rx_bytes=0",
		"unknown=1",
		"xwg_endpoints=",
		"xwg_endpoints=192.0.2.1:51820, vpn.example.org:51820",
		"xwg_endpoints=192.0.2.1:1, 192.0.2.1:2, 192.0.2.1:3, 192.0.2.1:4, 192.0.2.1:5",
		"xwg_path_policy=fastest",
		"xwg_path_probe_interval=0",
		"xwg_path_probe_interval=3601",
		"xwg_path=192.0.2.1:51820 - active 0 0 0 0 0",
	};

	dev_setup(&dev);
	test_keypair(10, priv, pub, priv_hex, a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *r;

		snprintf(req, sizeof(req), "set=1\npublic_key=%s\n%s\n\n", a, bad[i]);
		r = serve(&dev, req);
		if (!r || strcmp(r, "errno=-22\n\n"))
			TEST_FAIL("\"%s\": got \"%s\"", bad[i], r ? r : "(null)");
		free(r);
	}
	/* The peer block started before the error stays applied (not transactional). */
	ASSERT_TRUE(find_peer(&dev, a) != NULL);
	dev_teardown(&dev);
}

static void test_error_stops_and_drains(void)
{
	struct xwg_device dev;
	char a[65], b[65], req[1024], *r;

	setup_two_peers(&dev, a, b);
	/* Lines before the error are applied, lines after it are drained, and the stream continues. */
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=10.11.0.0/16\nallowed_ip=garbage\n"
		 "allowed_ip=10.12.0.0/16\nno-equals\n\nget=1\n\n", a);
	r = serve(&dev, req);
	ASSERT_TRUE(r && !strncmp(r, "errno=-22\n\nxwg_mode=tun\npublic_key=", 35));
	ASSERT_TRUE(r && strlen(r) > 10 && !strcmp(r + strlen(r) - 10, "\nerrno=0\n\n"));
	free(r);
	ASSERT_TRUE(route4(&dev, "10.11.0.1") == find_peer(&dev, a));
	ASSERT_TRUE(route4(&dev, "10.12.0.1") == NULL);

	/* An overlong line is a protocol error, not a crash or a silent truncation. */
	{
		size_t n = 4000;
		char *big = malloc(n + 64);

		strcpy(big, "set=1\nallowed_ip=");
		memset(big + strlen(big), '1', n);
		strcpy(big + 17 + n, "\n\nget=1\n\n");
		r = serve(&dev, big);
		ASSERT_TRUE(r && !strncmp(r, "errno=-71\n\n", 11));
		ASSERT_TRUE(r && strstr(r, "public_key="));
		free(r);
		free(big);
	}
	dev_teardown(&dev);
}

static void test_multiple_requests(void)
{
	struct xwg_device dev;
	char *r;

	dev_setup(&dev);
	r = serve(&dev, "get=1\n\nset=1\nfwmark=7\n\nget=1\n\nset=1\nfwmark=0\n\nget=1\n\n");
	ASSERT_STREQ(r, "xwg_mode=tun\nerrno=0\n\nerrno=0\n\nfwmark=7\nxwg_mode=tun\nerrno=0\n\nerrno=0\n\n"
			"xwg_mode=tun\nerrno=0\n\n");
	free(r);
	/* A set cut short by EOF still applies what arrived (as wireguard-go does). */
	EXPECT_REPLY(&dev, "set=1\nfwmark=9\n", "errno=0\n\n");
	ASSERT_EQ(dev.fwmark, 9);
	/* A get cut short gets no reply: nobody is there to read it. */
	EXPECT_REPLY(&dev, "get=1\n", "");
	/* An empty set is fine. */
	EXPECT_REPLY(&dev, "set=1\n\n", "errno=0\n\n");
	dev_teardown(&dev);
}

static void test_listen_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct xwg_device dev;
	socklen_t len = sizeof(sin);
	char req[128], want[128];
	int fd;

	dev_setup(&dev);
	EXPECT_REPLY(&dev, "set=1\nlisten_port=0\n\n", "errno=0\n\n");
	ASSERT_NE(dev.listen_port, 0);
	ASSERT_TRUE(dev.sock4 >= 0);
	snprintf(want, sizeof(want), "listen_port=%u\nxwg_mode=tun\nerrno=0\n\n", dev.listen_port);
	EXPECT_REPLY(&dev, "get=1\n\n", want);

	/* A port somebody else holds: -EADDRINUSE. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	snprintf(req, sizeof(req), "set=1\nlisten_port=%u\n\n", ntohs(sin.sin_port));
	EXPECT_REPLY(&dev, req, "errno=-98\n\n");
	close(fd);
	dev_teardown(&dev);
}

/* ---- the real socket, and the show client against it ---- */

static int unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends req, half-closes, lets the (same-process) server run, then reads everything. */
static char *socket_roundtrip(struct xwg_device *dev, const char *req)
{
	static char buf[8192];
	size_t len = 0;
	ssize_t n;
	int fd = unix_connect(dev->uapi_path);

	if (fd < 0)
		return NULL;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		abort();
	shutdown(fd, SHUT_WR);
	uapi_accept(dev);
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

/* Serves connections in a child until killed, so a blocking client can run in this process. */
static pid_t serve_in_child(struct xwg_device *dev)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct pollfd pfd = { .fd = dev->uapi_fd, .events = POLLIN };

		for (;;)
			if (poll(&pfd, 1, -1) > 0)
				uapi_accept(dev);
	}
	return pid;
}

static char *capture_show(const char *ifname, bool json, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	*ret = show_print(ifname, json, out);
	fclose(out);
	return buf;
}

static void test_socket_and_show(void)
{
	struct xwg_device dev, other;
	uint8_t priv[32], pub[32], ppriv[32], ppub[32];
	char priv_hex[65], pub_hex[65], ppriv_hex[65], ppub_hex[65], b64[45], req[1024], *r;
	struct stat st;
	struct peer *peer;
	pid_t child;
	int fd, ret;

	dev_setup(&dev);
	snprintf(dev.ifname, sizeof(dev.ifname), "xwgt%d", (int)getpid() % 1000000);
	ret = uapi_listen(&dev);
	if (ret == -EACCES || ret == -EPERM) {
		printf("# skipped: /var/run/wireguard needs root\n");
		dev_teardown(&dev);
		return;
	}
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(dev.uapi_fd >= 0);
	ASSERT_EQ(stat(dev.uapi_path, &st), 0);
	ASSERT_TRUE(S_ISSOCK(st.st_mode));
	ASSERT_EQ(st.st_mode & 077, 0);

	/* A live instance owns the name. */
	dev_setup(&other);
	strcpy(other.ifname, dev.ifname);
	ASSERT_EQ(uapi_listen(&other), -EADDRINUSE);
	ASSERT_EQ(other.uapi_fd, -1);

	/* wg's probe: connect and close without a word. */
	fd = unix_connect(dev.uapi_path);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	uapi_accept(&dev);
	/* Nothing pending: returns at once (non-blocking listener). */
	uapi_accept(&dev);

	test_keypair(11, priv, pub, priv_hex, pub_hex);
	test_keypair(12, ppriv, ppub, ppriv_hex, ppub_hex);
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\npublic_key=%s\npreshared_key=%s\n"
		 "endpoint=192.0.2.9:51820\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n\nget=1\n\n",
		 priv_hex, ppub_hex, priv_hex);
	r = socket_roundtrip(&dev, req);
	ASSERT_TRUE(r && !strncmp(r, "errno=0\n\nprivate_key=", 21));
	ASSERT_TRUE(r && strstr(r, "xwg_mode=tun\n"));
	ASSERT_TRUE(r && strlen(r) > 10 && !strcmp(r + strlen(r) - 10, "\nerrno=0\n\n"));
	peer = find_peer(&dev, ppub_hex);
	ASSERT_TRUE(peer != NULL);
	if (!peer)
		goto out;
	peer->rx_bytes = 1260;		/* 1.23 KiB */
	peer->tx_bytes = 4669;		/* 4.56 KiB */
	peer->last_handshake.tv_sec = time(NULL) - 65;
	peer->persistent_keepalive_interval = 25;
	peer->agent_rx_packets = 11;
	peer->agent_tx_packets = 13;
	peer->agent_rx_bytes = 1100;
	peer->agent_tx_bytes = 1300;

	child = serve_in_child(&dev);
	ASSERT_TRUE(child > 0);
	if (child <= 0)
		goto out;
	r = capture_show(dev.ifname, false, &ret);
	ASSERT_EQ(ret, 0);
	key_to_base64(b64, pub);
	ASSERT_TRUE(r && strstr(r, "interface: xwgt"));
	ASSERT_TRUE(r && strstr(r, b64));
	ASSERT_TRUE(r && strstr(r, "  private key: (hidden)\n"));
	ASSERT_TRUE(r && strstr(r, "  data path: tun\n"));
	key_to_base64(b64, ppub);
	ASSERT_TRUE(r && strstr(r, b64));
	ASSERT_TRUE(r && strstr(r, "  preshared key: (hidden)\n"));
	ASSERT_TRUE(r && strstr(r, "  endpoint: 192.0.2.9:51820\n"));
	ASSERT_TRUE(r && strstr(r, "  allowed ips: 10.0.0.0/24, fd00::/64\n"));
	/* One second of slack for a clock tick between setting and printing. */
	ASSERT_TRUE(r && (strstr(r, "  latest handshake: 1 minute, 5 seconds ago\n") ||
			  strstr(r, "  latest handshake: 1 minute, 6 seconds ago\n")));
	ASSERT_TRUE(r && strstr(r, "  transfer: 1.23 KiB received, 4.56 KiB sent\n"));
	ASSERT_TRUE(r && strstr(r, "  persistent keepalive: every 25 seconds\n"));
	/* tun mode: no offload section, and the agent's share is not worth a line. */
	ASSERT_FALSE(r && strstr(r, "refused:"));
	ASSERT_FALSE(r && strstr(r, "bpf counters:"));
	ASSERT_FALSE(r && strstr(r, "  offload:"));
	ASSERT_FALSE(r && strstr(r, "  in BPF:"));
	ASSERT_FALSE(r && strstr(r, "  in agent:"));
	ASSERT_FALSE(r && strstr(r, "  auto:"));
	ASSERT_FALSE(r && strstr(r, priv_hex));
	free(r);

	r = capture_show(dev.ifname, true, &ret);
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(r && !strncmp(r, "{\"interface\":\"xwgt", 18));
	ASSERT_TRUE(r && strstr(r, "\"mode\":\"tun\""));
	ASSERT_TRUE(r && strstr(r, "\"preshared_key\":true"));
	ASSERT_TRUE(r && strstr(r, "\"endpoint\":\"192.0.2.9:51820\""));
	ASSERT_TRUE(r && strstr(r, "\"allowed_ips\":[\"10.0.0.0/24\",\"fd00::/64\"]"));
	ASSERT_TRUE(r && strstr(r, "\"mode\":\"tun\",\"agent_path\":null,\"hybrid\":null,\"refused\":{},\"underlay\":[],\"reasons\":{},"));
	ASSERT_TRUE(r && strstr(r, "\"rx_bytes\":1260,\"tx_bytes\":4669,\"persistent_keepalive\":25,"
				"\"bpf_rx_packets\":0,\"bpf_tx_packets\":0,\"bpf_rx_bytes\":0,\"bpf_tx_bytes\":0,"
				"\"agent_rx_packets\":11,\"agent_tx_packets\":13,\"agent_rx_bytes\":1100,"
				"\"agent_tx_bytes\":1300,"
				"\"batch_rx_packets\":0,\"batch_tx_packets\":0,\"batch_rx_bytes\":0,\"batch_tx_bytes\":0,"
				"\"handshakes\":{\"initiations_sent\":0,\"responses_sent\":0,\"initiations_received\":0,"
				"\"responses_received\":0,\"timeouts\":0,\"given_up\":0},\"offload_off\":null}]}\n"));
	free(r);

	/* The listing includes us (it connects, which the child serves as a probe). */
	{
		char *buf = NULL, line[32];
		size_t len = 0;
		FILE *out = open_memstream(&buf, &len);

		ret = show_list_interfaces(out);
		fclose(out);
		ASSERT_TRUE(ret >= 1);
		snprintf(line, sizeof(line), "%s\n", dev.ifname);
		ASSERT_TRUE(buf && strstr(buf, line));
		free(buf);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* Unknown interface: a clear error, -errno. */
	r = capture_show("xwgnosuch0", false, &ret);
	ASSERT_TRUE(ret == -ENOENT || ret == -ECONNREFUSED);
	ASSERT_STREQ(r, "");
	free(r);
	r = capture_show("../etc", false, &ret);
	ASSERT_TRUE(ret < 0);
	free(r);

	/* A socket file nobody serves is stale: the next instance takes it over. */
	close(dev.uapi_fd);
	dev.uapi_fd = -1;
	ASSERT_EQ(uapi_listen(&other), 0);
	ASSERT_TRUE(other.uapi_fd >= 0);
	uapi_close(&other);
	ASSERT_TRUE(access(dev.uapi_path, F_OK) < 0);
out:
	dev_teardown(&other);
	dev_teardown(&dev);
}

/* Serves one canned reply on /var/run/wireguard/IFNAME.sock from a child; returns its pid or -1. */
static pid_t canned_server(const char *ifname, const char *reply, char *path, size_t pathlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	pid_t pid;
	int fd;

	snprintf(path, pathlen, "/var/run/wireguard/%s.sock", ifname);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char buf[64];
		int c = accept(fd, NULL, NULL);

		/* Read the whole "get=1\n\n" before answering, like a real server. */
		for (size_t got = 0; got < 7;) {
			ssize_t n = read(c, buf, sizeof(buf));

			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (write(c, reply, strlen(reply)) < 0)
			_exit(1);
		_exit(0);
	}
	close(fd);
	return pid;
}

/* Everything an offloading agent adds; OK comes in two parts that must add up. */
#define SHOW_OFFLOAD_REPLY \
	"listen_port=51820\nxwg_mode=xdp-generic\nxwg_agent_threads=2\nxwg_agent_tun_offload=tso,uso\nxwg_agent_udp_gso=1\nxwg_hybrid_rx_bulk_len=512\nxwg_hybrid_tx_bulk_len=600\n" \
	"xwg_refused=xdp:veth1: native XDP unsupported: Operation not supported\n" \
	"xwg_underlay=eth0\nxwg_underlay=veth1\n" \
	"xwg_reason=OK:12340\nxwg_reason=BAD_TAG:3\nxwg_reason=FUTURE_THING:5\nxwg_reason=OK:5\n" \
	"public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n" \
	"tx_bytes=620\nrx_bytes=708\n" \
	"xwg_bpf_rx_packets=12345\nxwg_bpf_tx_packets=23456\nxwg_bpf_rx_bytes=600\nxwg_bpf_tx_bytes=500\n" \
	"xwg_agent_rx_packets=12\nxwg_agent_tx_packets=3\nxwg_agent_rx_bytes=2048\nxwg_agent_tx_bytes=300\n" \
	"xwg_offload_off=keypairs map: Cannot allocate memory\nerrno=0\n\n"

/* show_print (or show_get_mode when mode is set) against one canned reply. */
static char *show_canned(const char *name, const char *reply, bool json, int *ret, char *mode)
{
	char path[128];
	pid_t pid = canned_server(name, reply, path, sizeof(path));
	char *r = NULL;

	if (pid <= 0) {
		*ret = -EIO;
		return NULL;
	}
	if (mode)
		*ret = show_get_mode(name, mode, 32);
	else
		r = capture_show(name, json, ret);
	waitpid(pid, NULL, 0);
	unlink(path);
	return r;
}

static void test_show_offload(void)
{
	char mode[32] = "";
	int ret;
	char *r;

	if (mkdir("/var/run/wireguard", 0755) < 0 && errno != EEXIST) {
		printf("# skipped: /var/run/wireguard needs root\n");
		return;
	}
	r = show_canned("xwgto", SHOW_OFFLOAD_REPLY, true, &ret, NULL);
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(r && strstr(r, "\"listen_port\":51820,\"fwmark\":0,\"mode\":\"xdp-generic\","
				"\"agent_path\":{\"threads\":2,\"tun_offload\":\"tso,uso\",\"udp_gso\":true},\"hybrid\":{\"rx_bulk_len\":512,\"tx_bulk_len\":600},\"refused\":{\"xdp\":\"veth1: native XDP unsupported: Operation not supported\"},"
				"\"underlay\":[\"eth0\",\"veth1\"],"
				"\"reasons\":{\"OK\":12345,\"BAD_TAG\":3,\"FUTURE_THING\":5},\"cookie_replies\":{\"sent\":0,\"received\":0},\"metrics\":null,\"peers\":[{"));
	ASSERT_TRUE(r && strstr(r, "\"rx_bytes\":708,\"tx_bytes\":620,\"persistent_keepalive\":0,"
				"\"bpf_rx_packets\":12345,\"bpf_tx_packets\":23456,\"bpf_rx_bytes\":600,"
				"\"bpf_tx_bytes\":500,\"agent_rx_packets\":12,\"agent_tx_packets\":3,"
				"\"agent_rx_bytes\":2048,\"agent_tx_bytes\":300,"
				"\"batch_rx_packets\":0,\"batch_tx_packets\":0,\"batch_rx_bytes\":0,\"batch_tx_bytes\":0,"
				"\"handshakes\":{\"initiations_sent\":0,\"responses_sent\":0,\"initiations_received\":0,"
				"\"responses_received\":0,\"timeouts\":0,\"given_up\":0},\"offload_off\":\"keypairs map: Cannot allocate memory\"}]}\n"));
	free(r);

	/* The quiet mode query attach uses to explain EOPNOTSUPP. */
	show_canned("xwgto", SHOW_OFFLOAD_REPLY, false, &ret, mode);
	ASSERT_EQ(ret, 0);
	ASSERT_STREQ(mode, "xdp-generic");
	show_canned("xwgto", "listen_port=1\nerrno=0\n\n", false, &ret, mode);
	ASSERT_EQ(ret, -ENOENT);
	show_canned("xwgto", "errno=-5\n\n", false, &ret, mode);
	ASSERT_EQ(ret, -EIO);
	ASSERT_EQ(show_get_mode("xwgnosuch0", mode, sizeof(mode)) < 0, 1);
}

static void test_show_parse(void)
{
	static const struct {
		const char *reply;
		int ret;
		const char *expect;	/* substring of the output when ret is 0 */
	} cases[] = {
		{ "errno=-22\n\n", -EINVAL, NULL },
		{ "errno=0\n\n", 0, "  data path: unknown\n" },
		{ "listen_port=abc\nerrno=0\n\n", -EPROTO, NULL },
		{ "listen_port=65536\nerrno=0\n\n", -EPROTO, NULL },
		{ "private_key=zz\nerrno=0\n\n", -EPROTO, NULL },
		{ "listen_port=51820\n", -EPROTO, NULL },		/* no errno before EOF */
		{ "garbage\nerrno=0\n\n", -EPROTO, NULL },
		{ "errno=abc\n\n", -EPROTO, NULL },
		/* wireguard-go's reply, with keys we do not know: public key derived, PSK "(none)" not shown. */
		{ "private_key=f0c7635f1dd43bf25ad1fd5b85b1182bed4c50243a7b1899f0c83216cc9ec758\n"
		  "listen_port=51820\nsome_future_key=1\n"
		  "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		  "protocol_version=1\nendpoint=127.0.0.1:40000\nlast_handshake_time_sec=0\n"
		  "last_handshake_time_nsec=0\ntx_bytes=620\nrx_bytes=708\npersistent_keepalive_interval=0\n"
		  "allowed_ip=10.99.0.2/32\nerrno=0\n\n", 0,
		  "interface: xwgtp\n  public key: n9Ft6difHzPI/OD3DCRyBrtCPzy94KhtCsEhOP0wiDo=\n"
		  "  private key: (hidden)\n  listening port: 51820\n  data path: unknown\n\n"
		  "peer: 0Q2r31/tom/aVo+GFOv89B4Zm1ameSQPN3Vtyx+nIHY=\n  endpoint: 127.0.0.1:40000\n"
		  "  allowed ips: 10.99.0.2/32\n  transfer: 708 B received, 620 B sent\n" },
		/* The host name an xwg endpoint is looked up again from, after the address. */
		{ "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "endpoint=192.0.2.1:51820\nxwg_endpoint_host=vpn.example.org\nerrno=0\n\n", 0,
		  "  endpoint: 192.0.2.1:51820 (vpn.example.org)\n" },
		{ "listen_port=1\npublic_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "allowed_ip=10.0.0.0/40\nerrno=0\n\n", -EPROTO, NULL },
		{ "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "rx_bytes=5368709120\ntx_bytes=1048576\nerrno=0\n\n", 0,
		  "  allowed ips: (none)\n  transfer: 5.00 GiB received, 1.00 MiB sent\n" },
		/* An offloading xwg: underlays, refusals, counters (one this client does not know). */
		{ SHOW_OFFLOAD_REPLY, 0,
		  "  listening port: 51820\n  data path: xdp-generic (on eth0, veth1)\n"
		  "  refused: xdp: veth1: native XDP unsupported: Operation not supported\n"
		  "  agent path: 2 crypto threads, TUN offload tso,uso, UDP GSO on\n"
		  "  auto: bulk via the agent (GSO sends, packets from 600 bytes, data messages from 512 bytes), the rest in BPF\n"
		  "  bpf counters:\n"
		  "    OK                     12345  delivered to the tunnel\n"
		  "    BAD_TAG                    3  authentication failed\n"
		  "    FUTURE_THING               5  (unknown to this xwg)\n\npeer: " },
		{ SHOW_OFFLOAD_REPLY, 0,
		  "  allowed ips: (none)\n  transfer: 708 B received, 620 B sent\n"
		  "  in BPF: 12345 rx / 23456 tx packets, 600 B received, 500 B sent\n"
		  "  in agent: 12 rx / 3 tx packets, 2.00 KiB received, 300 B sent\n" },
		/* Offloaded but nothing went through BPF yet: the split still says where packets went. */
		{ "xwg_mode=tc\npublic_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "xwg_agent_rx_packets=2\nerrno=0\n\n", 0,
		  "  data path: tc\n\npeer: 0Q2r31/tom/aVo+GFOv89B4Zm1ameSQPN3Vtyx+nIHY=\n  allowed ips: (none)\n"
		  "  in BPF: 0 rx / 0 tx packets, 0 B received, 0 B sent\n"
		  "  in agent: 2 rx / 0 tx packets, 0 B received, 0 B sent\n" },
		/* auto receiving every data message in BPF: only GSO sends go to the agent. */
		{ "xwg_mode=xdp\nxwg_hybrid_rx_bulk_len=0\nerrno=0\n\n", 0,
		  "  data path: xdp\n  auto: bulk via the agent (GSO sends), the rest in BPF\n" },
		{ "xwg_hybrid_rx_bulk_len=x\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_mode=\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_reason=OK\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_reason=ok:1\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_reason=OK:\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_reason=OK:-1\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_reason=:1\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_refused=xdp\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_refused=:why\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_refused=XDP:why\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_underlay=\nerrno=0\n\n", -EPROTO, NULL },
		{ "xwg_underlay=0123456789abcdef\nerrno=0\n\n", -EPROTO, NULL },
		{ "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "xwg_bpf_tx_bytes=x\nerrno=0\n\n", -EPROTO, NULL },
		{ "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
		  "xwg_agent_rx_packets=18446744073709551616\nerrno=0\n\n", -EPROTO, NULL },
	};
	char path[128], name[16];

	if (mkdir("/var/run/wireguard", 0755) < 0 && errno != EEXIST) {
		printf("# skipped: /var/run/wireguard needs root\n");
		return;
	}
	snprintf(name, sizeof(name), "xwgtp");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = canned_server(name, cases[i].reply, path, sizeof(path));
		int ret;
		char *r;

		ASSERT_TRUE(pid > 0);
		if (pid <= 0)
			return;
		r = capture_show(name, false, &ret);
		waitpid(pid, NULL, 0);
		unlink(path);
		if (ret != cases[i].ret)
			TEST_FAIL("case %zu: ret %d, want %d", i, ret, cases[i].ret);
		if (cases[i].expect && (!r || !strstr(r, cases[i].expect)))
			TEST_FAIL("case %zu: output \"%s\" lacks \"%s\"", i, r ? r : "(null)", cases[i].expect);
		free(r);
	}

	/* JSON escapes whatever the name holds; a never-handshaken peer reports 0 and null endpoint. */
	snprintf(name, sizeof(name), "x\"w\\g\t");
	{
		pid_t pid = canned_server(name, "public_key=d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076\n"
					  "errno=0\n\n", path, sizeof(path));
		int ret;
		char *r;

		ASSERT_TRUE(pid > 0);
		if (pid <= 0)
			return;
		r = capture_show(name, true, &ret);
		waitpid(pid, NULL, 0);
		unlink(path);
		ASSERT_EQ(ret, 0);
		ASSERT_STREQ(r, "{\"interface\":\"x\\\"w\\\\g\\u0009\",\"public_key\":null,\"listen_port\":0,"
			     "\"fwmark\":0,\"mode\":null,\"agent_path\":null,\"hybrid\":null,\"refused\":{},\"underlay\":[],\"reasons\":{},"
			     "\"cookie_replies\":{\"sent\":0,\"received\":0},\"metrics\":null,"
			     "\"peers\":[{\"public_key\":"
			     "\"0Q2r31/tom/aVo+GFOv89B4Zm1ameSQPN3Vtyx+nIHY=\",\"preshared_key\":false,"
			     "\"endpoint\":null,\"endpoint_host\":null,\"allowed_ips\":[],\"latest_handshake\":0,\"rx_bytes\":0,"
			     "\"tx_bytes\":0,\"persistent_keepalive\":0,\"bpf_rx_packets\":0,\"bpf_tx_packets\":0,"
			     "\"bpf_rx_bytes\":0,\"bpf_tx_bytes\":0,\"agent_rx_packets\":0,\"agent_tx_packets\":0,"
			     "\"agent_rx_bytes\":0,\"agent_tx_bytes\":0,"
			     "\"batch_rx_packets\":0,\"batch_tx_packets\":0,\"batch_rx_bytes\":0,\"batch_tx_bytes\":0,"
			     "\"handshakes\":{\"initiations_sent\":0,\"responses_sent\":0,\"initiations_received\":0,"
			     "\"responses_received\":0,\"timeouts\":0,\"given_up\":0},\"offload_off\":null}]}\n");
		free(r);
	}
}

int main(void)
{
	if (crypto_init())
		return 1;
	RUN_TEST(test_get_empty);
	RUN_TEST(test_attach_detach);
	RUN_TEST(test_private_key_clamped);
	RUN_TEST(test_peer_full);
	RUN_TEST(test_replace_allowed_ips);
	RUN_TEST(test_allowed_ip_removal);
	RUN_TEST(test_move_prefix);
	RUN_TEST(test_replace_peers);
	RUN_TEST(test_remove_peer);
	RUN_TEST(test_update_only);
	RUN_TEST(test_own_public_key_ignored);
	RUN_TEST(test_endpoint_host);
	RUN_TEST(test_path_keys);
	RUN_TEST(test_errors);
	RUN_TEST(test_peer_errors);
	RUN_TEST(test_error_stops_and_drains);
	RUN_TEST(test_multiple_requests);
	RUN_TEST(test_listen_port);
	RUN_TEST(test_socket_and_show);
	RUN_TEST(test_show_parse);
	RUN_TEST(test_show_offload);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for mac1/mac2, cookie replies (the digest's 9.6 message 3) and the handshake rate limiter. */
#include <errno.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/un.h>
#include "test.h"
#include "crypto.h"
#include "device.h"
#include "cookie.h"
#include "peer.h"

#define V_SR "f0c7635f1dd43bf25ad1fd5b85b1182bed4c50243a7b1899f0c83216cc9ec758"
#define V_SPUB_I "d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076"
#define V_SPUB_R "9fd16de9d89f1f33c8fce0f70c247206bb423f3cbde0a86d0ac12138fd30883a"
#define V_MSG1 "01000000443322119cc92d88ac6a1ee35ba3bf3347cfa62706175e7f0772bb08aba88bbdb252a2708e6318" \
	"712e0ec48198a69b825faf492eabb5909d2165451eab27e0e5132e6532a3e9d0355d840f243928130865094a43928e" \
	"81db9244f27b400df1135c555f92af19793de4ed3dcd907d13d188fc2321ed02a02becc9e8b66af24b990000000000" \
	"0000000000000000000000"
#define V_MSG2 "020000008877665544332211a3d7661eb92d4667346dd54e82b75c9f1a20311c63694a9a536e4277f0d1fd5b" \
	"9fc19e7ec383ec7927a88fea826677daa290dbb72a829535312f7eaf37a94f5900000000000000000000000000000000"
#define V_MAC1_KEY_R "4c8943317ddba98189ddb549cad3a593ef5c6847f74ab520679e8ce9818d35ac"
#define V_MAC1_KEY_I "3784223bf9dccd22fb8f979b7f724bdddc8094ec836f96554b8c207e8f2ed621"
#define V_COOKIE_KEY_R "bca0f1a405807465cb7d40525078c4db5d8d1ced4442c714eaed57ba9b5b020b"
#define V_COOKIE "000102030405060708090a0b0c0d0e0f"
#define V_NONCE "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"
#define V_MSG3 "0300000044332211a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b72a082c6787e96edc4f9a3ccb" \
	"372080a29962428d34a98e9f9378f59039304a10"
#define V_MAC2 "fb89a9d3a7215ce343b66a235cb9b081"

#define SEC 1000000000ULL

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void dev_setup(struct xwg_device *dev, const char *priv_hex)
{
	memset(dev, 0, sizeof(*dev));
	if (index_table_init(&dev->index_table))
		abort();
	if (priv_hex)
		test_unhex(dev->static_private, priv_hex);
	else
		curve25519_generate_private(dev->static_private);
	if (curve25519_generate_public(dev->static_public, dev->static_private))
		abort();
	dev->has_identity = true;
	cookie_checker_precompute_device_keys(dev);
}

/* Only what cookie.c reads: the peer's keys and its cookie state. */
static void peer_setup(struct peer *peer, struct xwg_device *dev, const uint8_t pub[32])
{
	memset(peer, 0, sizeof(*peer));
	peer->dev = dev;
	memcpy(peer->public_key, pub, 32);
	cookie_precompute_peer_keys(peer);
}

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static struct sockaddr_in6 sin6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

static void test_keys(void)
{
	struct xwg_device resp;
	struct peer peer;
	uint8_t want[32], pub[32];

	dev_setup(&resp, V_SR);
	test_unhex(pub, V_SPUB_R);
	ASSERT_MEMEQ(resp.static_public, pub, 32);
	test_unhex(want, V_MAC1_KEY_R);
	ASSERT_MEMEQ(resp.cookie_checker.message_mac1_key, want, 32);
	test_unhex(want, V_COOKIE_KEY_R);
	ASSERT_MEMEQ(resp.cookie_checker.cookie_encryption_key, want, 32);

	/* The initiator's view of the same responder gets the same keys. */
	peer_setup(&peer, NULL, pub);
	test_unhex(want, V_MAC1_KEY_R);
	ASSERT_MEMEQ(peer.latest_cookie.message_mac1_key, want, 32);
	test_unhex(want, V_COOKIE_KEY_R);
	ASSERT_MEMEQ(peer.latest_cookie.cookie_decryption_key, want, 32);
	test_unhex(pub, V_SPUB_I);
	peer_setup(&peer, NULL, pub);
	test_unhex(want, V_MAC1_KEY_I);
	ASSERT_MEMEQ(peer.latest_cookie.message_mac1_key, want, 32);

	/* No identity: no keys. */
	resp.has_identity = false;
	cookie_checker_precompute_device_keys(&resp);
	ASSERT_TRUE(crypto_is_zero(resp.cookie_checker.message_mac1_key, 32));
	ASSERT_TRUE(crypto_is_zero(resp.cookie_checker.cookie_encryption_key, 32));
	index_table_free(&resp.index_table);
}

static void test_mac1_vector(void)
{
	uint8_t want1[148], want2[92], msg1[148], msg2[92], pub[32];
	struct sockaddr_in src = sin4("192.0.2.1", 51820);
	struct xwg_device resp;
	struct peer peer;

	test_unhex(want1, V_MSG1);
	test_unhex(want2, V_MSG2);

	/* Message 1 with its macs scribbled over: cookie_add_macs restores the vector exactly. */
	test_unhex(pub, V_SPUB_R);
	peer_setup(&peer, NULL, pub);
	memcpy(msg1, want1, sizeof(msg1));
	memset(msg1 + 116, 0xa5, 32);
	cookie_add_macs(&peer, msg1, sizeof(msg1));
	ASSERT_MEMEQ(msg1, want1, sizeof(msg1));
	ASSERT_TRUE(peer.latest_cookie.have_sent_mac1);
	ASSERT_MEMEQ(peer.latest_cookie.last_mac1_sent, want1 + 116, 16);

	/* Message 2: mac1 keyed with the initiator's public key. */
	test_unhex(pub, V_SPUB_I);
	peer_setup(&peer, NULL, pub);
	memcpy(msg2, want2, sizeof(msg2));
	memset(msg2 + 60, 0, 32);
	cookie_add_macs(&peer, msg2, sizeof(msg2));
	ASSERT_MEMEQ(msg2, want2, sizeof(msg2));

	/* The responder checks mac1. */
	dev_setup(&resp, V_SR);
	ASSERT_EQ(cookie_validate_packet(&resp, want1, 148, (struct sockaddr *)&src, false), VALID_MAC_BUT_NO_COOKIE);
	/* Under load, a zero mac2 is "no cookie", still not "invalid". */
	ASSERT_EQ(cookie_validate_packet(&resp, want1, 148, (struct sockaddr *)&src, true), VALID_MAC_BUT_NO_COOKIE);
	/* Message 2 is not for this device: its mac1 key is the initiator's. */
	ASSERT_EQ(cookie_validate_packet(&resp, want2, 92, (struct sockaddr *)&src, false), INVALID_MAC);

	/* Every covered byte matters; mac2 is not covered by mac1. */
	for (size_t off = 0; off < 132; off++) {
		memcpy(msg1, want1, sizeof(msg1));
		msg1[off] ^= 0x80;
		if (cookie_validate_packet(&resp, msg1, 148, (struct sockaddr *)&src, false) != INVALID_MAC)
			TEST_FAIL("flipped byte %zu passed mac1", off);
	}
	memcpy(msg1, want1, sizeof(msg1));
	msg1[140] ^= 1;
	ASSERT_EQ(cookie_validate_packet(&resp, msg1, 148, (struct sockaddr *)&src, false), VALID_MAC_BUT_NO_COOKIE);
	/* Truncated input and a device without identity. */
	ASSERT_EQ(cookie_validate_packet(&resp, want1, 20, (struct sockaddr *)&src, false), INVALID_MAC);
	ASSERT_EQ(cookie_validate_packet(&resp, want1, 0, (struct sockaddr *)&src, false), INVALID_MAC);
	resp.has_identity = false;
	ASSERT_EQ(cookie_validate_packet(&resp, want1, 148, (struct sockaddr *)&src, false), INVALID_MAC);
	index_table_free(&resp.index_table);
}

static void test_cookie_reply_vector(void)
{
	uint8_t msg1[148], want[148], nonce[24], cookie[16], mac2[16], pub[32];
	struct message_handshake_cookie m3, local;
	struct xwg_device resp, ini;
	struct peer peer;
	uint32_t vector_index, idx;

	test_unhex(msg1, V_MSG1);
	test_unhex(want, V_MSG3);
	test_unhex(nonce, V_NONCE);
	test_unhex(cookie, V_COOKIE);
	test_unhex(mac2, V_MAC2);
	memcpy(&vector_index, msg1 + 4, 4);

	dev_setup(&resp, V_SR);
	cookie_message_seal(&resp, &m3, vector_index, nonce, cookie, msg1 + 116);
	ASSERT_MEMEQ(&m3, want, 64);

	/*
	 * The initiator: a peer for Sr that has sent message 1, and a handshake index to deliver
	 * to. The table hands out random indices, so the reply is re-addressed to the one it gave
	 * (the receiver index is not covered by the XAEAD, whose AD is mac1).
	 */
	dev_setup(&ini, NULL);
	test_unhex(pub, V_SPUB_R);
	peer_setup(&peer, &ini, pub);
	idx = index_table_insert(&ini.index_table, INDEX_HANDSHAKE, &peer, NULL);
	ASSERT_NE(idx, 0);
	local = m3;
	memcpy(&local.receiver_index, &idx, 4);

	/* Nothing sent yet: a reply is unsolicited. */
	ASSERT_EQ(cookie_message_consume(&ini, &local), -EINVAL);
	cookie_add_macs(&peer, msg1, sizeof(msg1));
	ASSERT_TRUE(crypto_is_zero(msg1 + 132, 16));

	/* Unknown index, bad type, tampered ciphertext or nonce: refused, state untouched. */
	ASSERT_EQ(cookie_message_consume(&ini, &m3), -ENOENT);
	{
		struct message_handshake_cookie bad = local;

		bad.header.type ^= 0x100;
		ASSERT_EQ(cookie_message_consume(&ini, &bad), -EINVAL);
		bad = local;
		bad.encrypted_cookie[3] ^= 1;
		ASSERT_EQ(cookie_message_consume(&ini, &bad), -EBADMSG);
		bad = local;
		bad.nonce[23] ^= 1;
		ASSERT_EQ(cookie_message_consume(&ini, &bad), -EBADMSG);
		bad = local;
		bad.encrypted_cookie[31] ^= 1;
		ASSERT_EQ(cookie_message_consume(&ini, &bad), -EBADMSG);
	}
	ASSERT_FALSE(peer.latest_cookie.is_valid);
	ASSERT_TRUE(peer.latest_cookie.have_sent_mac1);

	ASSERT_EQ(ini.cookies_received, 0);	/* the refused ones above did not count */
	ASSERT_EQ(cookie_message_consume(&ini, &local), 0);
	ASSERT_EQ(ini.cookies_received, 1);
	ASSERT_TRUE(peer.latest_cookie.is_valid);
	ASSERT_FALSE(peer.latest_cookie.have_sent_mac1);
	ASSERT_MEMEQ(peer.latest_cookie.cookie, cookie, 16);
	/* Once consumed, the same reply is not taken again until a new mac1 goes out. */
	ASSERT_EQ(cookie_message_consume(&ini, &local), -EINVAL);

	/* Message 1 resent: same mac1, and now mac2 = MAC(cookie, msg[0..132)). */
	cookie_add_macs(&peer, msg1, sizeof(msg1));
	test_unhex(want, V_MSG1);
	ASSERT_MEMEQ(msg1, want, 132);
	ASSERT_MEMEQ(msg1 + 132, mac2, 16);

	/* Also found through a keypair index. */
	index_table_replace(&ini.index_table, idx, INDEX_KEYPAIR, NULL);
	ASSERT_EQ(cookie_message_consume(&ini, &local), 0);

	/* The cookie is used for 120 - 5 s only. */
	peer.latest_cookie.birthdate = now_ns() - 114 * SEC;
	cookie_add_macs(&peer, msg1, sizeof(msg1));
	ASSERT_MEMEQ(msg1 + 132, mac2, 16);
	peer.latest_cookie.birthdate = now_ns() - 116 * SEC;
	cookie_add_macs(&peer, msg1, sizeof(msg1));
	ASSERT_TRUE(crypto_is_zero(msg1 + 132, 16));

	index_table_free(&ini.index_table);
	index_table_free(&resp.index_table);
}

/* Under load: initiation without cookie -> cookie reply -> initiation with mac2 passes. */
static void test_cookie_round_trip(void)
{
	struct sockaddr_in src = sin4("198.51.100.7", 40000), other_port = sin4("198.51.100.7", 40001);
	struct sockaddr_in other_ip = sin4("198.51.100.8", 40000);
	struct sockaddr_in6 src6 = sin6("2001:db8::1", 40000), other6 = sin6("2001:db8::2", 40000);
	struct message_handshake_initiation m1;
	struct message_handshake_cookie m3, m3b;
	struct sockaddr_un unix_src = { .sun_family = AF_UNIX };
	struct xwg_device resp, ini;
	struct peer peer;
	uint32_t idx;

	dev_setup(&resp, NULL);
	dev_setup(&ini, NULL);
	peer_setup(&peer, &ini, resp.static_public);
	idx = index_table_insert(&ini.index_table, INDEX_HANDSHAKE, &peer, NULL);

	/* Any initiation-shaped message will do: the macs do not look inside. */
	crypto_random(&m1, sizeof(m1));
	m1.header.type = MESSAGE_HANDSHAKE_INITIATION;
	memcpy(&m1.sender_index, &idx, 4);
	cookie_add_macs(&peer, &m1, sizeof(m1));
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src, true),
		  VALID_MAC_BUT_NO_COOKIE);

	cookie_message_create(&resp, &m3, &m1, sizeof(m1), idx, (struct sockaddr *)&src);
	ASSERT_EQ(m3.header.type, MESSAGE_HANDSHAKE_COOKIE);
	ASSERT_EQ(m3.receiver_index, idx);
	/* A second reply to the same source carries the same cookie under a fresh nonce. */
	cookie_message_create(&resp, &m3b, &m1, sizeof(m1), idx, (struct sockaddr *)&src);
	ASSERT_FALSE(!memcmp(m3.nonce, m3b.nonce, 24));
	ASSERT_EQ(cookie_message_consume(&ini, &m3), 0);

	cookie_add_macs(&peer, &m1, sizeof(m1));
	ASSERT_FALSE(crypto_is_zero(m1.macs.mac2, 16));
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src, true),
		  VALID_MAC_WITH_COOKIE);
	/* When not under load mac2 is not even looked at. */
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src, false),
		  VALID_MAC_BUT_NO_COOKIE);
	/* The cookie is bound to the address and port. */
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&other_port, true),
		  VALID_MAC_BUT_NO_COOKIE);
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&other_ip, true),
		  VALID_MAC_BUT_NO_COOKIE);
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&unix_src, true),
		  VALID_MAC_BUT_NO_COOKIE);
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), NULL, true), VALID_MAC_BUT_NO_COOKIE);

	/* The m3b copy opens too (have_sent_mac1 was raised again) and holds the same cookie. */
	ASSERT_EQ(cookie_message_consume(&ini, &m3b), 0);

	/* IPv6 sources. */
	cookie_add_macs(&peer, &m1, sizeof(m1));
	cookie_message_create(&resp, &m3, &m1, sizeof(m1), idx, (struct sockaddr *)&src6);
	ASSERT_EQ(cookie_message_consume(&ini, &m3), 0);
	cookie_add_macs(&peer, &m1, sizeof(m1));
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src6, true),
		  VALID_MAC_WITH_COOKIE);
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&other6, true),
		  VALID_MAC_BUT_NO_COOKIE);

	/* A tampered mac2 fails; a bad mac1 is invalid whatever mac2 says. */
	m1.macs.mac2[0] ^= 1;
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src6, true),
		  VALID_MAC_BUT_NO_COOKIE);
	m1.macs.mac2[0] ^= 1;
	m1.macs.mac1[0] ^= 1;
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src6, true), INVALID_MAC);
	m1.macs.mac1[0] ^= 1;

	/* The secret rotates after 120 s, which invalidates cookies made with the old one. */
	resp.cookie_checker.secret_birthdate = now_ns() - 119 * SEC;
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src6, true),
		  VALID_MAC_WITH_COOKIE);
	resp.cookie_checker.secret_birthdate = now_ns() - 121 * SEC;
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), (struct sockaddr *)&src6, true),
		  VALID_MAC_BUT_NO_COOKIE);
	ASSERT_TRUE(now_ns() - resp.cookie_checker.secret_birthdate < SEC);

	index_table_free(&ini.index_table);
	index_table_free(&resp.index_table);
}

static int burst(struct xwg_device *dev, const void *src, int tries)
{
	int allowed = 0;

	for (int i = 0; i < tries; i++)
		allowed += ratelimiter_allow(dev, src);
	return allowed;
}

static void test_ratelimiter(void)
{
	struct sockaddr_in a = sin4("192.0.2.1", 1), a_port = sin4("192.0.2.1", 2), b = sin4("192.0.2.2", 1);
	struct sockaddr_in6 v6 = sin6("2001:db8:1:2::1", 1), v6_same64 = sin6("2001:db8:1:2:ffff::9", 7);
	struct sockaddr_in6 v6_other64 = sin6("2001:db8:1:3::1", 1), mapped = sin6("::ffff:192.0.2.1", 1);
	struct sockaddr_in6 mapped_other = sin6("::ffff:192.0.2.77", 1);
	struct sockaddr_un unix_src = { .sun_family = AF_UNIX };
	struct xwg_device dev;

	memset(&dev, 0, sizeof(dev));
	ASSERT_FALSE(ratelimiter_allow(&dev, (struct sockaddr *)&a));	/* not initialised */
	ASSERT_EQ(ratelimiter_init(&dev), 0);

	/* Burst of 5, then nothing; the port does not matter (per-address buckets). */
	ASSERT_EQ(burst(&dev, &a, 3), 3);
	ASSERT_EQ(burst(&dev, &a_port, 10), 2);
	ASSERT_EQ(burst(&dev, &a, 10), 0);
	/* An IPv4-mapped IPv6 source is the same host. */
	ASSERT_EQ(burst(&dev, &mapped, 1), 0);
	ASSERT_EQ(burst(&dev, &mapped_other, 10), 5);
	/* Other sources have their own buckets. */
	ASSERT_EQ(burst(&dev, &b, 10), 5);
	/* IPv6: one bucket per /64. */
	ASSERT_EQ(burst(&dev, &v6, 3), 3);
	ASSERT_EQ(burst(&dev, &v6_same64, 10), 2);
	ASSERT_EQ(burst(&dev, &v6_other64, 10), 5);
	/* Not an IP source. */
	ASSERT_FALSE(ratelimiter_allow(&dev, (struct sockaddr *)&unix_src));
	ASSERT_FALSE(ratelimiter_allow(&dev, NULL));

	/* 20 per second: one token every 50 ms... */
	sleep_ms(60);
	ASSERT_EQ(burst(&dev, &a, 10), 1);
	sleep_ms(100);
	ASSERT_EQ(burst(&dev, &a, 10), 2);
	/* ...and never more than the burst, however long the pause. */
	sleep_ms(400);
	ASSERT_EQ(burst(&dev, &a, 20), 5);

	/* Runs the once-a-second sweep of idle entries (under ASan this checks the unlinking). */
	sleep_ms(1100);
	ASSERT_EQ(burst(&dev, &b, 20), 5);
	ASSERT_EQ(burst(&dev, &v6_same64, 20), 5);

	ratelimiter_uninit(&dev);
	ASSERT_TRUE(dev.ratelimiter == NULL);
	ratelimiter_uninit(&dev);
}

int main(void)
{
	if (crypto_init())
		return 1;
	RUN_TEST(test_keys);
	RUN_TEST(test_mac1_vector);
	RUN_TEST(test_cookie_reply_vector);
	RUN_TEST(test_cookie_round_trip);
	RUN_TEST(test_ratelimiter);
	return TEST_SUMMARY();
}

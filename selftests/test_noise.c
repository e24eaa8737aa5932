/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the Noise_IKpsk2 handshake: the digest's 9.6 vector byte for byte, checks and slot rotation. */
#include <errno.h>
#include <time.h>
#include "test.h"
#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "cookie.h"
#include "peer.h"

/*
 * peer.c has the real lookup (same list walk); this weak copy lets the test also be built by hand
 * from noise.c, cookie.c, crypto.c and index_table.c alone.
 */
__attribute__((weak)) struct peer *device_lookup_peer(struct xwg_device *dev,
						      const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		if (!memcmp(p->public_key, public_key, NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

/* Digest section 9.6. */
#define V_SI "98885ba63638d0d424f3b8f3595fae668ae0fc82e89f92bf787b075b3bae6a70"
#define V_SPUB_I "d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076"
#define V_SR "f0c7635f1dd43bf25ad1fd5b85b1182bed4c50243a7b1899f0c83216cc9ec758"
#define V_SPUB_R "9fd16de9d89f1f33c8fce0f70c247206bb423f3cbde0a86d0ac12138fd30883a"
#define V_EI "784c252bf4e72c95bb3e0bddd05eb224fb302c150aaeef109cf9533e66351947"
#define V_ER "682843a9019dfc8daa00619c450466ac7223c171adcff5e9838b3d61e751ad65"
#define V_PSK "b0f937f7780b07526c906be72a047d2f534c5db7607ad6b7dc908f0ca99a916f"
#define V_TS "40000000713fb30a00000000"
#define V_I "44332211"	/* 0x11223344 as it appears on the wire */
#define V_R "88776655"	/* 0x55667788 */
#define V_H1 "df9e6c3cedea27256e8a61e5c188caf0e7287f9de7264a46e6300b13e3d17383"
#define V_C1 "b5e4d1dd261f453434b87c21677a9dd95a42f7dbb8ecac594ced8b709f3e9cb2"
#define V_H2 "e68af4f154a0f1746679e6ba0e39d6edf07dbfa3612877634651c66b30d92305"
#define V_C2 "00850422eb7d273cbb2196279fa2379fd466c64c9e60e5330e0261bc73129219"
#define V_MSG1 "01000000443322119cc92d88ac6a1ee35ba3bf3347cfa62706175e7f0772bb08aba88bbdb252a2708e6318" \
	"712e0ec48198a69b825faf492eabb5909d2165451eab27e0e5132e6532a3e9d0355d840f243928130865094a43928e" \
	"81db9244f27b400df1135c555f92af19793de4ed3dcd907d13d188fc2321ed02a02becc9e8b66af24b990000000000" \
	"0000000000000000000000"
#define V_MSG2 "020000008877665544332211a3d7661eb92d4667346dd54e82b75c9f1a20311c63694a9a536e4277f0d1fd5b" \
	"9fc19e7ec383ec7927a88fea826677daa290dbb72a829535312f7eaf37a94f5900000000000000000000000000000000"
#define V_T1 "d8dad548f3dd84b4ffc41cd1d570dd29e5877cd705cbd55d9a324001f7a04797"
#define V_T2 "f0cedf136cd713ac820784832fbba92c953b094d379aeac8233d5cccbe921b2c"
#define V_KA_I "040000008877665500000000000000005e51049c33134747b2ca3f7ebf77ae19"
#define V_DATA_I "040000008877665501000000000000004d9612790c751fff0eec6465c2689ee96885fa0061e34b50741565" \
	"f2e427a68b26c6d0f330af590e2d5100b5df8eea01"
#define V_KA_R "040000004433221100000000000000009d33d2372b81ad21a88f86d1e319ad79"

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void dev_setup(struct xwg_device *dev, const uint8_t *priv)
{
	memset(dev, 0, sizeof(*dev));
	if (index_table_init(&dev->index_table))
		abort();
	if (priv)
		memcpy(dev->static_private, priv, NOISE_PUBLIC_KEY_LEN);
	else
		curve25519_generate_private(dev->static_private);
	if (curve25519_generate_public(dev->static_public, dev->static_private))
		abort();
	dev->has_identity = true;
	cookie_checker_precompute_device_keys(dev);
}

/* What peer_create does, without dragging timers and allowed IPs into this test. */
static struct peer *peer_add(struct xwg_device *dev, const uint8_t *pub, const uint8_t *psk)
{
	struct peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		abort();
	peer->dev = dev;
	memcpy(peer->public_key, pub, NOISE_PUBLIC_KEY_LEN);
	if (psk)
		memcpy(peer->preshared_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	cookie_precompute_peer_keys(peer);
	noise_precompute_static_static(dev, peer);
	if (dev->peers_tail)
		dev->peers_tail->next_peer = peer;
	else
		dev->peers = peer;
	dev->peers_tail = peer;
	dev->num_peers++;
	return peer;
}

static void dev_teardown(struct xwg_device *dev)
{
	struct peer *p, *next;

	for (p = dev->peers; p; p = next) {
		next = p->next_peer;
		noise_handshake_clear(dev, p);
		noise_keypairs_clear(dev, p);
		free(p);
	}
	index_table_free(&dev->index_table);
	memset(dev, 0, sizeof(*dev));
}

/* Two devices that know each other, sharing a PSK. */
struct pair {
	struct xwg_device a, b;
	struct peer *b_on_a, *a_on_b;
};

static void pair_setup(struct pair *p)
{
	uint8_t psk[32];

	crypto_random(psk, sizeof(psk));
	dev_setup(&p->a, NULL);
	dev_setup(&p->b, NULL);
	p->b_on_a = peer_add(&p->a, p->b.static_public, psk);
	p->a_on_b = peer_add(&p->b, p->a.static_public, psk);
}

static void pair_teardown(struct pair *p)
{
	dev_teardown(&p->a);
	dev_teardown(&p->b);
}

/*
 * A complete handshake from 'ini' (whose peer entry for the responder is 'ip') to 'resp'
 * (whose entry for the initiator is 'rp'). Waits out the 20 ms flood limit and the 2^24 ns
 * timestamp granularity first, so back-to-back calls always succeed. Returns true on success.
 */
static bool handshake(struct xwg_device *ini, struct peer *ip, struct xwg_device *resp, struct peer *rp)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;

	sleep_ms(25);
	if (noise_create_initiation(ini, ip, &m1))
		return false;
	cookie_add_macs(ip, &m1, sizeof(m1));
	if (noise_consume_initiation(resp, &m1) != rp)
		return false;
	if (noise_create_response(resp, rp, &m2))
		return false;
	cookie_add_macs(rp, &m2, sizeof(m2));
	if (noise_begin_session(resp, rp))
		return false;
	if (noise_consume_response(ini, &m2) != ip)
		return false;
	return !noise_begin_session(ini, ip);
}

/* A transport message as the data path will build it: header, counter, AEAD with empty AD. */
static size_t build_data(uint8_t *out, const struct noise_keypair *kp, uint64_t counter,
			 const uint8_t *pt, size_t len)
{
	out[0] = MESSAGE_DATA;
	out[1] = out[2] = out[3] = 0;
	memcpy(out + 4, &kp->remote_index, 4);
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(counter >> (8 * i));
	if (aead_encrypt(out + 16, pt, len, NULL, 0, counter, kp->send_key))
		abort();
	return 16 + len + 16;
}

static void test_tai64n(void)
{
	uint8_t a[12], b[12];
	uint64_t sec = 0;
	time_t now = time(NULL);

	noise_tai64n_now(a);
	for (int i = 0; i < 8; i++)
		sec = sec << 8 | a[i];
	ASSERT_TRUE(sec >= 0x400000000000000aULL + (uint64_t)now);
	ASSERT_TRUE(sec <= 0x400000000000000aULL + (uint64_t)now + 2);
	/* Nanoseconds are big-endian and a multiple of 2^24: the low three bytes are zero. */
	ASSERT_TRUE(a[9] == 0 && a[10] == 0 && a[11] == 0);
	ASSERT_TRUE(a[8] < 0x3c);	/* < 10^9 / 2^24 = 59.6 */
	sleep_ms(20);
	noise_tai64n_now(b);
	ASSERT_TRUE(memcmp(b, a, 12) > 0);
}

static void test_vector(void)
{
	uint8_t si[32], sr[32], spub_i[32], spub_r[32], ei[32], er[32], psk[32], ts[12];
	uint8_t want1[148], want2[92], h[32], c[32], t1[32], t2[32], want[64], got[64];
	uint8_t idx_i[4], idx_r[4], payload[32] = { 0 };
	struct message_handshake_initiation m1;
	struct message_handshake_response m2, m2_local;
	struct noise_test_hooks hooks = { 0 };
	struct xwg_device ini, resp;
	struct peer *r_on_i, *i_on_r;
	struct noise_keypair *kpi, *kpr;
	uint32_t real_i, real_r;
	uint8_t dec[32];
	size_t n;

	test_unhex(si, V_SI);
	test_unhex(sr, V_SR);
	test_unhex(spub_i, V_SPUB_I);
	test_unhex(spub_r, V_SPUB_R);
	test_unhex(ei, V_EI);
	test_unhex(er, V_ER);
	test_unhex(psk, V_PSK);
	test_unhex(ts, V_TS);
	test_unhex(idx_i, V_I);
	test_unhex(idx_r, V_R);
	test_unhex(want1, V_MSG1);
	test_unhex(want2, V_MSG2);
	test_unhex(t1, V_T1);
	test_unhex(t2, V_T2);

	dev_setup(&ini, si);
	dev_setup(&resp, sr);
	ASSERT_MEMEQ(ini.static_public, spub_i, 32);
	ASSERT_MEMEQ(resp.static_public, spub_r, 32);
	r_on_i = peer_add(&ini, spub_r, psk);
	i_on_r = peer_add(&resp, spub_i, psk);
	ASSERT_TRUE(r_on_i->static_static_valid && i_on_r->static_static_valid);
	ASSERT_MEMEQ(r_on_i->static_static, i_on_r->static_static, 32);

	noise_test_hooks = &hooks;
	hooks.timestamp = ts;

	/* Message 1. */
	hooks.ephemeral_private = ei;
	ASSERT_EQ(noise_create_initiation(&ini, r_on_i, &m1), 0);
	ASSERT_EQ(r_on_i->handshake.state, HANDSHAKE_CREATED_INITIATION);
	test_unhex(h, V_H1);
	test_unhex(c, V_C1);
	ASSERT_MEMEQ(r_on_i->handshake.hash, h, 32);
	ASSERT_MEMEQ(r_on_i->handshake.chaining_key, c, 32);
	memcpy(&real_i, &m1.sender_index, 4);
	ASSERT_NE(real_i, 0);
	ASSERT_EQ(real_i, r_on_i->handshake.local_index);
	ASSERT_TRUE(index_table_lookup(&ini.index_table, real_i, INDEX_HANDSHAKE) != NULL);
	/*
	 * Local indices are random by design. An index is not bound by H or any AEAD, only by
	 * mac1/mac2, so the test rewrites sender_index to the vector's I before the macs are
	 * computed: everything cryptographic below is still produced by noise.c/cookie.c. The
	 * responder then echoes I byte for byte; the initiator consumes a copy of message 2 whose
	 * receiver_index is set back to the index really registered (consume_response does not
	 * look at the macs, the receive path checks them before).
	 */
	memcpy(&m1.sender_index, idx_i, 4);
	cookie_add_macs(r_on_i, &m1, sizeof(m1));
	ASSERT_MEMEQ(&m1, want1, sizeof(want1));
	ASSERT_EQ(cookie_validate_packet(&resp, &m1, sizeof(m1), NULL, false), VALID_MAC_BUT_NO_COOKIE);

	ASSERT_TRUE(noise_consume_initiation(&resp, &m1) == i_on_r);
	ASSERT_EQ(i_on_r->handshake.state, HANDSHAKE_CONSUMED_INITIATION);
	ASSERT_MEMEQ(i_on_r->handshake.hash, h, 32);
	ASSERT_MEMEQ(i_on_r->handshake.chaining_key, c, 32);
	ASSERT_MEMEQ(i_on_r->handshake.latest_timestamp, ts, 12);
	ASSERT_MEMEQ(&i_on_r->handshake.remote_index, idx_i, 4);

	/* Message 2. */
	hooks.ephemeral_private = er;
	ASSERT_EQ(noise_create_response(&resp, i_on_r, &m2), 0);
	ASSERT_EQ(i_on_r->handshake.state, HANDSHAKE_CREATED_RESPONSE);
	test_unhex(h, V_H2);
	test_unhex(c, V_C2);
	ASSERT_MEMEQ(i_on_r->handshake.hash, h, 32);
	ASSERT_MEMEQ(i_on_r->handshake.chaining_key, c, 32);
	memcpy(&real_r, &m2.sender_index, 4);
	ASSERT_EQ(real_r, i_on_r->handshake.local_index);
	memcpy(&m2.sender_index, idx_r, 4);
	cookie_add_macs(i_on_r, &m2, sizeof(m2));
	ASSERT_MEMEQ(&m2, want2, sizeof(want2));
	ASSERT_EQ(cookie_validate_packet(&ini, &m2, sizeof(m2), NULL, false), VALID_MAC_BUT_NO_COOKIE);
	noise_test_hooks = NULL;

	ASSERT_EQ(noise_begin_session(&resp, i_on_r), 0);
	m2_local = m2;
	memcpy(&m2_local.receiver_index, &real_i, 4);
	ASSERT_TRUE(noise_consume_response(&ini, &m2_local) == r_on_i);
	ASSERT_EQ(r_on_i->handshake.state, HANDSHAKE_CONSUMED_RESPONSE);
	ASSERT_MEMEQ(r_on_i->handshake.hash, h, 32);
	ASSERT_MEMEQ(r_on_i->handshake.chaining_key, c, 32);
	ASSERT_EQ(noise_begin_session(&ini, r_on_i), 0);

	/* Transport keys: the initiator may send at once, the responder waits for confirmation. */
	kpi = r_on_i->keypairs.current_keypair;
	kpr = i_on_r->keypairs.next_keypair;
	ASSERT_TRUE(kpi && kpr);
	ASSERT_TRUE(!r_on_i->keypairs.next_keypair && !r_on_i->keypairs.previous_keypair);
	ASSERT_TRUE(!i_on_r->keypairs.current_keypair && !i_on_r->keypairs.previous_keypair);
	if (!kpi || !kpr)
		goto out;
	ASSERT_MEMEQ(kpi->send_key, t1, 32);
	ASSERT_MEMEQ(kpi->recv_key, t2, 32);
	ASSERT_MEMEQ(kpr->recv_key, t1, 32);
	ASSERT_MEMEQ(kpr->send_key, t2, 32);
	ASSERT_TRUE(kpi->i_am_the_initiator && !kpr->i_am_the_initiator);
	ASSERT_TRUE(kpi->sending_valid && kpi->receiving_valid && kpr->sending_valid && kpr->receiving_valid);
	ASSERT_EQ(kpi->send_counter, 0);
	ASSERT_EQ(kpi->replay.counter, 0);
	ASSERT_MEMEQ(&kpi->remote_index, idx_r, 4);
	ASSERT_MEMEQ(&kpr->remote_index, idx_i, 4);
	ASSERT_TRUE(kpi->peer == r_on_i && kpr->peer == i_on_r);
	ASSERT_TRUE(kpi->birthdate > 0 && kpi->birthdate <= now_ns());

	/* The handshake index now names the keypair; the handshake itself is wiped. */
	ASSERT_EQ(kpi->local_index, real_i);
	ASSERT_EQ(kpr->local_index, real_r);
	ASSERT_TRUE(index_table_lookup(&ini.index_table, real_i, INDEX_HANDSHAKE) == NULL);
	ASSERT_TRUE(index_table_lookup(&ini.index_table, real_i, INDEX_KEYPAIR)->keypair == kpi);
	ASSERT_TRUE(index_table_lookup(&resp.index_table, real_r, INDEX_KEYPAIR)->keypair == kpr);
	ASSERT_EQ(r_on_i->handshake.state, HANDSHAKE_ZEROED);
	ASSERT_EQ(i_on_r->handshake.state, HANDSHAKE_ZEROED);
	ASSERT_EQ(r_on_i->handshake.local_index, 0);
	ASSERT_TRUE(crypto_is_zero(r_on_i->handshake.chaining_key, 32));
	ASSERT_TRUE(crypto_is_zero(r_on_i->handshake.hash, 32));
	ASSERT_TRUE(crypto_is_zero(r_on_i->handshake.ephemeral_private, 32));
	ASSERT_TRUE(crypto_is_zero(i_on_r->handshake.ephemeral_private, 32));
	ASSERT_TRUE(crypto_is_zero(i_on_r->handshake.chaining_key, 32));
	/* The replay history outlives the wipe. */
	ASSERT_MEMEQ(i_on_r->handshake.latest_timestamp, ts, 12);
	ASSERT_NE(i_on_r->handshake.last_initiation_consumption, 0);

	/* The listed transport packets. */
	n = build_data(got, kpi, 0, NULL, 0);
	ASSERT_EQ(n, 32);
	ASSERT_EQ(test_unhex(want, V_KA_I), n);
	ASSERT_MEMEQ(got, want, n);
	for (int i = 0; i < 20; i++)
		payload[i] = (uint8_t)(i + 1);
	n = build_data(got, kpi, 1, payload, 32);
	ASSERT_EQ(n, 64);
	ASSERT_EQ(test_unhex(want, V_DATA_I), n);
	ASSERT_MEMEQ(got, want, n);
	ASSERT_EQ(aead_decrypt(dec, got + 16, 48, NULL, 0, 1, kpr->recv_key), 0);
	ASSERT_MEMEQ(dec, payload, 32);
	n = build_data(got, kpr, 0, NULL, 0);
	ASSERT_EQ(test_unhex(want, V_KA_R), n);
	ASSERT_MEMEQ(got, want, n);
	ASSERT_EQ(aead_decrypt(dec, got + 16, 16, NULL, 0, 0, kpi->recv_key), 0);
out:
	noise_test_hooks = NULL;
	dev_teardown(&ini);
	dev_teardown(&resp);
}

static void test_random_handshake(void)
{
	struct pair p;
	struct noise_keypair *ka, *kb;
	uint8_t pkt[64], dec[16];

	pair_setup(&p);
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	ka = p.b_on_a->keypairs.current_keypair;
	kb = p.a_on_b->keypairs.next_keypair;
	ASSERT_TRUE(ka && kb);
	if (!ka || !kb)
		goto out;
	ASSERT_MEMEQ(ka->send_key, kb->recv_key, 32);
	ASSERT_MEMEQ(ka->recv_key, kb->send_key, 32);
	ASSERT_FALSE(!memcmp(ka->send_key, ka->recv_key, 32));
	ASSERT_EQ(ka->remote_index, kb->local_index);
	ASSERT_EQ(kb->remote_index, ka->local_index);
	ASSERT_TRUE(index_table_lookup(&p.b.index_table, ka->remote_index, INDEX_KEYPAIR)->keypair == kb);

	/* A keepalive from the initiator decrypts on the responder and confirms the key. */
	build_data(pkt, ka, 0, NULL, 0);
	ASSERT_EQ(aead_decrypt(dec, pkt + 16, 16, NULL, 0, 0, kb->recv_key), 0);
	ASSERT_TRUE(noise_received_with_keypair(p.a_on_b, kb));
	ASSERT_TRUE(p.a_on_b->keypairs.current_keypair == kb);
	ASSERT_TRUE(p.a_on_b->keypairs.next_keypair == NULL);
	ASSERT_TRUE(p.a_on_b->keypairs.previous_keypair == NULL);
	ASSERT_FALSE(noise_received_with_keypair(p.a_on_b, kb));
	ASSERT_FALSE(noise_received_with_keypair(p.b_on_a, ka));
	ASSERT_FALSE(noise_received_with_keypair(p.b_on_a, NULL));

	/* And the other way round (b initiates). */
	ASSERT_TRUE(handshake(&p.b, p.a_on_b, &p.a, p.b_on_a));
	ASSERT_MEMEQ(p.a_on_b->keypairs.current_keypair->send_key, p.b_on_a->keypairs.next_keypair->recv_key, 32);
out:
	pair_teardown(&p);
}

static void test_replay_and_flood(void)
{
	struct message_handshake_initiation m1, m1b, m1c;
	struct noise_test_hooks hooks = { 0 };
	uint8_t ts[12] = { 0x40, 0, 0, 0, 0x71, 0x3f, 0xb3, 0x0a, 0x10, 0, 0, 0 };
	uint8_t saved[12];
	struct pair p;

	pair_setup(&p);
	noise_test_hooks = &hooks;
	hooks.timestamp = ts;
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1), 0);
	ts[11] = 2;
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1b), 0);
	ts[11] = 1;
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1c), 0);
	noise_test_hooks = NULL;

	/* m1 (ts ...10 00 00 00) first. */
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1) == p.a_on_b);
	memcpy(saved, p.a_on_b->handshake.latest_timestamp, 12);

	/* The very same message again: same timestamp, not strictly newer. */
	sleep_ms(25);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1) == NULL);
	/* m1b is newer, but arrives within 20 ms of an accepted initiation: flood. */
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1c) == p.a_on_b);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1b) == NULL);
	sleep_ms(10);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1b) == NULL);
	/* The flood-rejected m1b did not raise the stored timestamp; it passes once 20 ms are over. */
	ASSERT_EQ(p.a_on_b->handshake.latest_timestamp[11], 1);
	ASSERT_MEMEQ(p.a_on_b->handshake.latest_timestamp, saved, 11);
	sleep_ms(25);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1b) == p.a_on_b);
	ASSERT_EQ(p.a_on_b->handshake.latest_timestamp[11], 2);
	/* Older (m1c) and equal (m1b) timestamps are refused after the flood window too. */
	sleep_ms(25);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1c) == NULL);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1b) == NULL);

	/* A failed consume leaves the responder's handshake as it was. */
	ASSERT_EQ(p.a_on_b->handshake.state, HANDSHAKE_CONSUMED_INITIATION);
	pair_teardown(&p);
}

static void test_bad_initiations(void)
{
	struct message_handshake_initiation good, m1, bad;
	struct xwg_device stranger;
	struct peer *b_on_a;
	struct pair p;

	pair_setup(&p);
	b_on_a = p.b_on_a;
	ASSERT_EQ(noise_create_initiation(&p.a, b_on_a, &good), 0);
	m1 = good;

	/* Any flipped bit in the authenticated parts, or a bad header, is dropped. */
	for (size_t off = 0; off < offsetof(struct message_handshake_initiation, macs); off++) {
		if (off >= 4 && off < 8)
			continue;	/* the sender index is only covered by mac1 */
		bad = m1;
		((uint8_t *)&bad)[off] ^= 0x20;
		if (noise_consume_initiation(&p.b, &bad) != NULL)
			TEST_FAIL("flipped byte %zu accepted", off);
	}

	/* Sent to a device that is not the intended responder. */
	dev_setup(&stranger, NULL);
	peer_add(&stranger, p.a.static_public, NULL);
	ASSERT_TRUE(noise_consume_initiation(&stranger, &m1) == NULL);
	dev_teardown(&stranger);

	/* The responder does not know the initiator. */
	dev_setup(&stranger, NULL);
	ASSERT_EQ(noise_create_initiation(&p.a, peer_add(&p.a, stranger.static_public, NULL), &m1), 0);
	ASSERT_TRUE(noise_consume_initiation(&stranger, &m1) == NULL);
	peer_add(&stranger, p.a.static_public, NULL);
	ASSERT_TRUE(noise_consume_initiation(&stranger, &m1) == stranger.peers);
	dev_teardown(&stranger);

	/* No identity: nothing is consumed; the same message passes once the identity is back. */
	p.b.has_identity = false;
	ASSERT_TRUE(noise_consume_initiation(&p.b, &good) == NULL);
	ASSERT_NE(noise_create_initiation(&p.b, p.a_on_b, &m1), 0);
	p.b.has_identity = true;
	ASSERT_TRUE(noise_consume_initiation(&p.b, &good) == p.a_on_b);

	/* Response before any initiation was consumed. */
	{
		struct message_handshake_response m2;
		struct pair q;

		pair_setup(&q);
		ASSERT_NE(noise_create_response(&q.b, q.a_on_b, &m2), 0);
		ASSERT_NE(noise_begin_session(&q.b, q.a_on_b), 0);
		ASSERT_TRUE(q.a_on_b->keypairs.next_keypair == NULL);
		pair_teardown(&q);
	}
	pair_teardown(&p);
}

static void test_wrong_psk(void)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;
	struct pair p;

	pair_setup(&p);
	p.a_on_b->preshared_key[0] ^= 1;
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1), 0);
	/* The PSK only enters with message 2, so the initiation is still accepted. */
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1) == p.a_on_b);
	ASSERT_EQ(noise_create_response(&p.b, p.a_on_b, &m2), 0);
	ASSERT_TRUE(noise_consume_response(&p.a, &m2) == NULL);
	ASSERT_EQ(p.b_on_a->handshake.state, HANDSHAKE_CREATED_INITIATION);
	ASSERT_NE(noise_begin_session(&p.a, p.b_on_a), 0);
	ASSERT_TRUE(p.b_on_a->keypairs.current_keypair == NULL);

	/* With the right PSK the same initiator state completes: the failure changed nothing. */
	p.a_on_b->preshared_key[0] ^= 1;
	sleep_ms(25);
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	pair_teardown(&p);
}

static void test_low_order_keys(void)
{
	static const char *const low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	struct message_handshake_initiation m1;
	struct xwg_device dev;
	uint8_t pub[32];

	dev_setup(&dev, NULL);
	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		struct peer *peer;

		test_unhex(pub, low[i]);
		peer = peer_add(&dev, pub, NULL);
		if (peer->static_static_valid)
			TEST_FAIL("low-order key %zu gave a static-static", i);
		ASSERT_TRUE(crypto_is_zero(peer->static_static, 32));
		ASSERT_NE(noise_create_initiation(&dev, peer, &m1), 0);
		ASSERT_EQ(peer->handshake.state, HANDSHAKE_ZEROED);
		ASSERT_EQ(peer->handshake.local_index, 0);
	}

	/* A good key without an identity is no better. */
	dev.has_identity = false;
	curve25519_generate_private(pub);
	curve25519_generate_public(pub, pub);
	ASSERT_FALSE(peer_add(&dev, pub, NULL)->static_static_valid);
	ASSERT_EQ(noise_create_initiation(&dev, dev.peers_tail, &m1), -ENOKEY);
	dev.has_identity = true;
	noise_precompute_static_static(&dev, dev.peers_tail);
	ASSERT_TRUE(dev.peers_tail->static_static_valid);
	ASSERT_EQ(noise_create_initiation(&dev, dev.peers_tail, &m1), 0);
	dev_teardown(&dev);
}

static void test_bad_responses(void)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2, bad;
	uint32_t idx;
	struct pair p;

	pair_setup(&p);
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1), 0);
	ASSERT_TRUE(noise_consume_initiation(&p.b, &m1) == p.a_on_b);
	ASSERT_EQ(noise_create_response(&p.b, p.a_on_b, &m2), 0);
	ASSERT_EQ(noise_begin_session(&p.b, p.a_on_b), 0);

	/* Unknown receiver index. */
	bad = m2;
	idx = p.b_on_a->handshake.local_index ^ 0x01000000;
	memcpy(&bad.receiver_index, &idx, 4);
	ASSERT_TRUE(noise_consume_response(&p.a, &bad) == NULL);
	idx = 0;
	memcpy(&bad.receiver_index, &idx, 4);
	ASSERT_TRUE(noise_consume_response(&p.a, &bad) == NULL);

	/* Tampering anywhere but the (unauthenticated) sender index. */
	for (size_t off = 0; off < offsetof(struct message_handshake_response, macs); off++) {
		if (off >= 4 && off < 12)
			continue;
		bad = m2;
		((uint8_t *)&bad)[off] ^= 0x04;
		if (noise_consume_response(&p.a, &bad) != NULL)
			TEST_FAIL("flipped byte %zu accepted", off);
	}
	ASSERT_EQ(p.b_on_a->handshake.state, HANDSHAKE_CREATED_INITIATION);

	/* The genuine one works once; afterwards its index names a keypair, not a handshake. */
	ASSERT_TRUE(noise_consume_response(&p.a, &m2) == p.b_on_a);
	ASSERT_TRUE(noise_consume_response(&p.a, &m2) == NULL);	/* state is no longer "created" */
	ASSERT_EQ(noise_begin_session(&p.a, p.b_on_a), 0);
	ASSERT_TRUE(noise_consume_response(&p.a, &m2) == NULL);
	ASSERT_NE(noise_begin_session(&p.a, p.b_on_a), 0);

	/* A response sent to the wrong device (the responder itself). */
	ASSERT_TRUE(noise_consume_response(&p.b, &m2) == NULL);

	/* A new initiation retires the previous handshake index. */
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1), 0);
	memcpy(&idx, &m1.sender_index, 4);
	ASSERT_EQ(noise_create_initiation(&p.a, p.b_on_a, &m1), 0);
	ASSERT_TRUE(index_table_lookup(&p.a.index_table, idx, INDEX_HANDSHAKE | INDEX_KEYPAIR) == NULL);
	memcpy(&idx, &m1.sender_index, 4);
	ASSERT_TRUE(index_table_lookup(&p.a.index_table, idx, INDEX_HANDSHAKE)->peer == p.b_on_a);

	/* noise_handshake_clear drops the registered index too. */
	noise_handshake_clear(&p.a, p.b_on_a);
	ASSERT_TRUE(index_table_lookup(&p.a.index_table, idx, INDEX_HANDSHAKE) == NULL);
	ASSERT_EQ(p.b_on_a->handshake.state, HANDSHAKE_ZEROED);
	ASSERT_EQ(p.b_on_a->handshake.local_index, 0);
	pair_teardown(&p);
}

static bool index_live(struct xwg_device *dev, uint32_t idx)
{
	return index_table_lookup(&dev->index_table, idx, INDEX_KEYPAIR | INDEX_HANDSHAKE) != NULL;
}

static void test_rotation(void)
{
	struct noise_keypairs *ka, *kb;
	struct noise_keypair *a1, *a2, *b1, *b2, *b3, *b4, *n;
	uint32_t a1_idx, b2_idx, b1_idx;
	struct pair p;

	pair_setup(&p);
	ka = &p.b_on_a->keypairs;
	kb = &p.a_on_b->keypairs;

	/* Handshake 1 (a initiates). */
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	a1 = ka->current_keypair;
	b1 = kb->next_keypair;
	ASSERT_TRUE(a1 && !ka->previous_keypair && !ka->next_keypair);
	ASSERT_TRUE(b1 && !kb->previous_keypair && !kb->current_keypair);
	ASSERT_TRUE(noise_received_with_keypair(p.a_on_b, b1));
	ASSERT_TRUE(kb->current_keypair == b1 && !kb->next_keypair && !kb->previous_keypair);

	/* Handshake 2: initiator: previous <- current; responder: next <- new, current kept. */
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	a2 = ka->current_keypair;
	b2 = kb->next_keypair;
	ASSERT_TRUE(a2 != a1 && ka->previous_keypair == a1 && !ka->next_keypair);
	ASSERT_TRUE(kb->current_keypair == b1 && b2 && !kb->previous_keypair);

	/* Handshake 3 before b2 was confirmed: the unconfirmed next is replaced and freed. */
	a1_idx = a1->local_index;
	b2_idx = b2->local_index;
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	ASSERT_TRUE(ka->previous_keypair == a2 && ka->current_keypair != a2);
	ASSERT_FALSE(index_live(&p.a, a1_idx));	/* old previous freed */
	b3 = kb->next_keypair;
	ASSERT_TRUE(b3 && b3 != b2 && kb->current_keypair == b1);
	ASSERT_FALSE(index_live(&p.b, b2_idx));
	ASSERT_FALSE(noise_received_with_keypair(p.a_on_b, b1));

	/* Confirmation slides: previous <- current, current <- next. */
	ASSERT_TRUE(noise_received_with_keypair(p.a_on_b, b3));
	ASSERT_TRUE(kb->previous_keypair == b1 && kb->current_keypair == b3 && !kb->next_keypair);

	/* Responder again: the previous slot is emptied (and freed) as the new next arrives. */
	b1_idx = b1->local_index;
	ASSERT_TRUE(handshake(&p.a, p.b_on_a, &p.b, p.a_on_b));
	b4 = kb->next_keypair;
	ASSERT_TRUE(b4 && kb->current_keypair == b3 && !kb->previous_keypair);
	ASSERT_FALSE(index_live(&p.b, b1_idx));
	ASSERT_TRUE(index_live(&p.b, b3->local_index) && index_live(&p.b, b4->local_index));

	/*
	 * Initiator with a pending next: b holds next = b4 (unconfirmed) and current = b3. If b
	 * now initiates and completes, previous <- b4, b3 is freed, current <- the new keypair.
	 */
	{
		uint32_t b3_idx = b3->local_index;

		ASSERT_TRUE(handshake(&p.b, p.a_on_b, &p.a, p.b_on_a));
		n = kb->current_keypair;
		ASSERT_TRUE(n && n != b4 && n->i_am_the_initiator);
		ASSERT_TRUE(kb->previous_keypair == b4 && !kb->next_keypair);
		ASSERT_FALSE(index_live(&p.b, b3_idx));
	}
	/* Meanwhile a (responder this time) has the new key in next and its current untouched. */
	ASSERT_TRUE(ka->next_keypair && !ka->previous_keypair && ka->current_keypair);
	ASSERT_MEMEQ(ka->next_keypair->recv_key, n->send_key, 32);

	/* Expiry marks current and next unusable for sending, receiving stays possible. */
	noise_expire_current_keypairs(p.b_on_a);
	ASSERT_FALSE(ka->current_keypair->sending_valid);
	ASSERT_FALSE(ka->next_keypair->sending_valid);
	ASSERT_TRUE(ka->current_keypair->receiving_valid);

	/* Clearing frees all three and their indices. */
	{
		uint32_t i1 = kb->current_keypair->local_index, i2 = kb->previous_keypair->local_index;

		noise_keypairs_clear(&p.b, p.a_on_b);
		ASSERT_TRUE(!kb->current_keypair && !kb->previous_keypair && !kb->next_keypair);
		ASSERT_FALSE(index_live(&p.b, i1));
		ASSERT_FALSE(index_live(&p.b, i2));
	}
	pair_teardown(&p);
}

int main(void)
{
	if (crypto_init())
		return 1;
	noise_init();
	RUN_TEST(test_tai64n);
	RUN_TEST(test_vector);
	RUN_TEST(test_random_handshake);
	RUN_TEST(test_replay_and_flood);
	RUN_TEST(test_bad_initiations);
	RUN_TEST(test_wrong_psk);
	RUN_TEST(test_low_order_keys);
	RUN_TEST(test_bad_responses);
	RUN_TEST(test_rotation);
	return TEST_SUMMARY();
}

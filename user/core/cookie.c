/* SPDX-License-Identifier: GPL-2.0 */
/* mac1/mac2 on handshake messages, cookie replies, and the per-source handshake rate limiter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "cookie.h"
#include "crypto.h"
#include "device.h"
#include "peer.h"

static const char cookie_label_mac1[8] = "mac1----";
static const char cookie_label_cookie[8] = "cookie--";

/* HASH(label || public key): the per-identity mac1 and cookie keys. */
static void cookie_precompute_key(uint8_t out[NOISE_SYMMETRIC_KEY_LEN], const char label[8],
				  const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	blake2s256(out, label, 8, pub, NOISE_PUBLIC_KEY_LEN);
}

void cookie_checker_precompute_device_keys(struct xwg_device *dev)
{
	struct cookie_checker *c = &dev->cookie_checker;

	if (dev->has_identity) {
		cookie_precompute_key(c->cookie_encryption_key, cookie_label_cookie, dev->static_public);
		cookie_precompute_key(c->message_mac1_key, cookie_label_mac1, dev->static_public);
	} else {
		crypto_zero(c->cookie_encryption_key, sizeof(c->cookie_encryption_key));
		crypto_zero(c->message_mac1_key, sizeof(c->message_mac1_key));
	}
}

void cookie_precompute_peer_keys(struct peer *peer)
{
	struct cookie *c = &peer->latest_cookie;

	cookie_precompute_key(c->cookie_decryption_key, cookie_label_cookie, peer->public_key);
	cookie_precompute_key(c->message_mac1_key, cookie_label_mac1, peer->public_key);
}

/* True when 'birthdate' (monotonic ns, 0 = never) is at least 'seconds' old. */
static bool cookie_expired(uint64_t birthdate, uint64_t seconds, uint64_t now)
{
	return !birthdate || now - birthdate >= seconds * NSEC_PER_SEC;
}

/* mac1 covers everything before the macs; mac2 covers that and mac1. */
static void cookie_compute_mac1(uint8_t out[COOKIE_LEN], const void *msg, size_t len,
				const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	blake2s_mac16(out, key, NOISE_SYMMETRIC_KEY_LEN, msg, len - sizeof(struct message_macs));
}

static void cookie_compute_mac2(uint8_t out[COOKIE_LEN], const void *msg, size_t len,
				const uint8_t cookie[COOKIE_LEN])
{
	blake2s_mac16(out, cookie, COOKIE_LEN, msg, len - sizeof(struct message_macs) + COOKIE_LEN);
}

static const struct message_macs *cookie_macs_of(const void *msg, size_t len)
{
	return (const struct message_macs *)((const uint8_t *)msg + len - sizeof(struct message_macs));
}

/* The IP bytes followed by the port in network order: stable, and only this host checks it. */
static size_t cookie_source_bytes(uint8_t out[18], const struct sockaddr *src)
{
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)src;

		memcpy(out, &in4->sin_addr, 4);
		memcpy(out + 4, &in4->sin_port, 2);
		return 6;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)src;

		memcpy(out, &in6->sin6_addr, 16);
		memcpy(out + 16, &in6->sin6_port, 2);
		return 18;
	}
	return 0;
}

/* cookie = MAC(secret, source), with the secret replaced once it is two minutes old. */
static void cookie_make(struct cookie_checker *c, uint8_t cookie[COOKIE_LEN], const struct sockaddr *src)
{
	uint64_t now = now_ns();
	uint8_t input[18];
	size_t len;

	if (cookie_expired(c->secret_birthdate, COOKIE_SECRET_MAX_AGE_S, now)) {
		crypto_random(c->secret, sizeof(c->secret));
		c->secret_birthdate = now;
	}
	len = cookie_source_bytes(input, src);
	blake2s_mac16(cookie, c->secret, sizeof(c->secret), input, len);
	crypto_zero(input, sizeof(input));
}

enum cookie_mac_state cookie_validate_packet(struct xwg_device *dev, const void *msg, size_t len,
					     const struct sockaddr *src, bool check_cookie)
{
	const struct message_macs *macs;
	enum cookie_mac_state ret = INVALID_MAC;
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];

	if (!dev->has_identity || len < sizeof(struct message_header) + sizeof(*macs))
		return INVALID_MAC;
	macs = cookie_macs_of(msg, len);

	cookie_compute_mac1(computed, msg, len, dev->cookie_checker.message_mac1_key);
	if (!crypto_equal(computed, macs->mac1, COOKIE_LEN))
		goto out;
	ret = VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie || !src || (src->sa_family != AF_INET && src->sa_family != AF_INET6))
		goto out;

	cookie_make(&dev->cookie_checker, cookie, src);
	cookie_compute_mac2(computed, msg, len, cookie);
	if (crypto_equal(computed, macs->mac2, COOKIE_LEN))
		ret = VALID_MAC_WITH_COOKIE;
out:
	crypto_zero(cookie, sizeof(cookie));
	return ret;
}

void cookie_add_macs(struct peer *peer, void *msg, size_t len)
{
	struct message_macs *macs = (struct message_macs *)((uint8_t *)msg + len - sizeof(*macs));
	struct cookie *c = &peer->latest_cookie;

	cookie_compute_mac1(macs->mac1, msg, len, c->message_mac1_key);
	memcpy(c->last_mac1_sent, macs->mac1, COOKIE_LEN);
	c->have_sent_mac1 = true;

	/* Stop using a cookie a little before the issuer's secret could have rotated under it. */
	if (c->is_valid &&
	    !cookie_expired(c->birthdate, COOKIE_SECRET_MAX_AGE_S - COOKIE_SECRET_LATENCY_S, now_ns()))
		cookie_compute_mac2(macs->mac2, msg, len, c->cookie);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
}

void cookie_message_seal(struct xwg_device *dev, struct message_handshake_cookie *dst,
			 uint32_t receiver_index, const uint8_t nonce[COOKIE_NONCE_LEN],
			 const uint8_t cookie[COOKIE_LEN], const uint8_t mac1[COOKIE_LEN])
{
	uint32_t type = MESSAGE_HANDSHAKE_COOKIE;

	memcpy(&dst->header.type, &type, sizeof(type));
	memcpy(&dst->receiver_index, &receiver_index, sizeof(receiver_index));
	memcpy(dst->nonce, nonce, COOKIE_NONCE_LEN);
	xaead_encrypt(dst->encrypted_cookie, cookie, COOKIE_LEN, mac1, COOKIE_LEN, dst->nonce,
		      dev->cookie_checker.cookie_encryption_key);
}

void cookie_message_create(struct xwg_device *dev, struct message_handshake_cookie *dst,
			   const void *msg, size_t len, uint32_t sender_index, const struct sockaddr *src)
{
	uint8_t nonce[COOKIE_NONCE_LEN], cookie[COOKIE_LEN];

	crypto_random(nonce, sizeof(nonce));
	cookie_make(&dev->cookie_checker, cookie, src);
	cookie_message_seal(dev, dst, sender_index, nonce, cookie, cookie_macs_of(msg, len)->mac1);
	crypto_zero(cookie, sizeof(cookie));
}

int cookie_message_consume(struct xwg_device *dev, const struct message_handshake_cookie *src)
{
	uint8_t cookie[COOKIE_LEN];
	struct index_entry *entry;
	struct cookie *c;
	uint32_t type, index;
	int ret;

	memcpy(&type, &src->header.type, sizeof(type));
	memcpy(&index, &src->receiver_index, sizeof(index));
	if (type != MESSAGE_HANDSHAKE_COOKIE)
		return -EINVAL;
	entry = index_table_lookup(&dev->index_table, index, INDEX_HANDSHAKE | INDEX_KEYPAIR);
	if (!entry || !entry->peer)
		return -ENOENT;
	c = &entry->peer->latest_cookie;
	/* A cookie reply only makes sense as the answer to a mac1 we sent. */
	if (!c->have_sent_mac1)
		return -EINVAL;

	ret = xaead_decrypt(cookie, src->encrypted_cookie, sizeof(src->encrypted_cookie),
			    c->last_mac1_sent, COOKIE_LEN, src->nonce, c->cookie_decryption_key);
	if (!ret) {
		memcpy(c->cookie, cookie, COOKIE_LEN);
		c->birthdate = now_ns();
		c->is_valid = true;
		c->have_sent_mac1 = false;
		dev->cookies_received++;
	}
	crypto_zero(cookie, sizeof(cookie));
	return ret;
}

/*
 * Rate limiter: a token bucket per source (IPv4 /32, IPv6 /64) measured in nanoseconds of
 * credit, in a chained hash table keyed with a random seed. Entries idle for more than a
 * second are full again anyway, so they are dropped by a sweep run at most once a second.
 */
#define RL_PACKETS_PER_SECOND 20
#define RL_PACKETS_BURSTABLE 5
#define RL_PACKET_COST (NSEC_PER_SEC / RL_PACKETS_PER_SECOND)
#define RL_TOKEN_MAX (RL_PACKET_COST * RL_PACKETS_BURSTABLE)
#define RL_BUCKETS 1024
#define RL_MAX_ENTRIES 8192

struct rl_entry {
	struct rl_entry *next;
	uint64_t key;
	uint8_t family;
	uint64_t last_time;
	uint64_t tokens;
};

struct ratelimiter {
	uint64_t seed[2];
	uint64_t last_gc;
	size_t count;
	struct rl_entry *buckets[RL_BUCKETS];
};

/* Reduces the source to what is limited together; false for anything that is not IP. */
static bool rl_key(const struct sockaddr *src, uint64_t *key, uint8_t *family)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a;

	*key = 0;
	if (src->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)src)->sin_addr, 4);
		*family = AF_INET;
		return true;
	}
	if (src->sa_family != AF_INET6)
		return false;
	a = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
	/* A mapped IPv4 source is one host, not a share of the ::ffff:0:0/64 bucket. */
	if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
		memcpy(key, a + 12, 4);
		*family = AF_INET;
	} else {
		memcpy(key, a, 8);
		*family = AF_INET6;
	}
	return true;
}

static uint64_t rl_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint32_t rl_hash(const struct ratelimiter *rl, uint64_t key, uint8_t family)
{
	return (uint32_t)(rl_mix(rl_mix(key ^ rl->seed[0]) ^ rl->seed[1] ^ family) & (RL_BUCKETS - 1));
}

static void rl_gc(struct ratelimiter *rl, uint64_t now, bool everything)
{
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		struct rl_entry **pp = &rl->buckets[i], *e;

		while ((e = *pp)) {
			if (everything || now - e->last_time > NSEC_PER_SEC) {
				*pp = e->next;
				free(e);
				rl->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	rl->last_gc = now;
}

bool ratelimiter_allow(struct xwg_device *dev, const struct sockaddr *src)
{
	struct ratelimiter *rl = dev->ratelimiter;
	struct rl_entry *e;
	uint64_t key, now = now_ns();
	uint8_t family;
	uint32_t h;

	if (!rl || !src || !rl_key(src, &key, &family))
		return false;
	if (now - rl->last_gc > NSEC_PER_SEC)
		rl_gc(rl, now, false);

	h = rl_hash(rl, key, family);
	for (e = rl->buckets[h]; e; e = e->next) {
		if (e->key != key || e->family != family)
			continue;
		e->tokens += now - e->last_time;
		if (e->tokens > RL_TOKEN_MAX)
			e->tokens = RL_TOKEN_MAX;
		e->last_time = now;
		if (e->tokens < RL_PACKET_COST)
			return false;
		e->tokens -= RL_PACKET_COST;
		return true;
	}

	/* New source: it starts with a full bucket, minus this packet. Refuse when the table is full. */
	if (rl->count >= RL_MAX_ENTRIES)
		return false;
	e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	e->key = key;
	e->family = family;
	e->last_time = now;
	e->tokens = RL_TOKEN_MAX - RL_PACKET_COST;
	e->next = rl->buckets[h];
	rl->buckets[h] = e;
	rl->count++;
	return true;
}

int ratelimiter_init(struct xwg_device *dev)
{
	struct ratelimiter *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return -ENOMEM;
	crypto_random(rl->seed, sizeof(rl->seed));
	rl->last_gc = now_ns();
	dev->ratelimiter = rl;
	return 0;
}

void ratelimiter_uninit(struct xwg_device *dev)
{
	struct ratelimiter *rl = dev->ratelimiter;

	if (!rl)
		return;
	rl_gc(rl, 0, true);
	free(rl);
	dev->ratelimiter = NULL;
}

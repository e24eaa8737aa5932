/* SPDX-License-Identifier: GPL-2.0 */
/* Noise_IKpsk2 handshake messages, transport key derivation and keypair slot rotation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "peer.h"

static const char noise_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char noise_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

static uint8_t noise_c0[NOISE_HASH_LEN];	/* HASH(CONSTRUCTION) */
static uint8_t noise_h0[NOISE_HASH_LEN];	/* HASH(C0 || IDENTIFIER) */

struct noise_test_hooks *noise_test_hooks;

void noise_init(void)
{
	blake2s256(noise_c0, noise_construction, sizeof(noise_construction) - 1, NULL, 0);
	blake2s256(noise_h0, noise_c0, sizeof(noise_c0), noise_identifier, sizeof(noise_identifier) - 1);
}

/* H = HASH(H || data) */
static void noise_mix_hash(uint8_t hash[NOISE_HASH_LEN], const void *data, size_t len)
{
	uint8_t prev[NOISE_HASH_LEN];

	memcpy(prev, hash, sizeof(prev));
	blake2s256(hash, prev, sizeof(prev), data, len);
	crypto_zero(prev, sizeof(prev));
}

/* The state every handshake starts from: C = C0, H = HASH(H0 || responder static). */
static void noise_handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
				  const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(ck, noise_c0, NOISE_HASH_LEN);
	memcpy(hash, noise_h0, NOISE_HASH_LEN);
	noise_mix_hash(hash, responder_static, NOISE_PUBLIC_KEY_LEN);
}

/* An ephemeral goes into both H and (PSK-mode Noise) C. */
static void noise_mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
				const uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN])
{
	noise_mix_hash(hash, ephemeral, NOISE_PUBLIC_KEY_LEN);
	kdf(ck, NULL, NULL, ck, ephemeral, NOISE_PUBLIC_KEY_LEN);
}

/* (C, k) = KDF2(C, DH(priv, pub)), or C = KDF1(...) when key is NULL; fails on an all-zero DH. */
static int noise_mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
			const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	int ret;

	ret = curve25519(dh, priv, pub);
	if (!ret)
		kdf(ck, key, NULL, ck, dh, sizeof(dh));
	crypto_zero(dh, sizeof(dh));
	return ret;
}

/* (C, tau, k) = KDF3(C, psk); H = HASH(H || tau) */
static void noise_mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			  uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t tau[NOISE_HASH_LEN];

	kdf(ck, tau, key, ck, psk, NOISE_SYMMETRIC_KEY_LEN);
	noise_mix_hash(hash, tau, sizeof(tau));
	crypto_zero(tau, sizeof(tau));
}

/* Handshake AEADs always use counter 0 and the running hash as AD, then absorb the ciphertext. */
static void noise_encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
				   const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	static const uint8_t nothing;

	aead_encrypt(dst, src ? src : &nothing, len, hash, NOISE_HASH_LEN, 0, key);
	noise_mix_hash(hash, dst, noise_encrypted_len(len));
}

static int noise_decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t srclen,
				  const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	uint8_t nothing[1];
	int ret;

	ret = aead_decrypt(dst ? dst : nothing, src, srclen, hash, NOISE_HASH_LEN, 0, key);
	if (!ret)
		noise_mix_hash(hash, src, srclen);
	return ret;
}

/* A fresh ephemeral key pair (or the test vector's, when a test forces it). */
static int noise_new_ephemeral(uint8_t priv[NOISE_PUBLIC_KEY_LEN], uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	if (noise_test_hooks && noise_test_hooks->ephemeral_private)
		memcpy(priv, noise_test_hooks->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	else
		curve25519_generate_private(priv);
	return curve25519_generate_public(pub, priv);
}

void noise_tai64n_now(uint8_t out[NOISE_TIMESTAMP_LEN])
{
	struct timespec ts;
	uint64_t sec;
	uint32_t nsec;

	clock_gettime(CLOCK_REALTIME, &ts);
	sec = 0x400000000000000aULL + (uint64_t)ts.tv_sec;
	/* Coarse nanoseconds, as both reference implementations do, so timing is not leaked. */
	nsec = (uint32_t)ts.tv_nsec & ~0xffffffu;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(sec >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(nsec >> (24 - 8 * i));
}

static void noise_timestamp(uint8_t out[NOISE_TIMESTAMP_LEN])
{
	if (noise_test_hooks && noise_test_hooks->timestamp)
		memcpy(out, noise_test_hooks->timestamp, NOISE_TIMESTAMP_LEN);
	else
		noise_tai64n_now(out);
}

void noise_precompute_static_static(struct xwg_device *dev, struct peer *peer)
{
	peer->static_static_valid = dev->has_identity &&
		!curve25519(peer->static_static, dev->static_private, peer->public_key);
	if (!peer->static_static_valid)
		crypto_zero(peer->static_static, sizeof(peer->static_static));
}

/* Registers a fresh local index for the handshake, dropping the one it had. */
static int noise_handshake_new_index(struct xwg_device *dev, struct peer *peer)
{
	struct noise_handshake *hs = &peer->handshake;

	if (hs->local_index)
		index_table_remove(&dev->index_table, hs->local_index);
	hs->local_index = index_table_insert(&dev->index_table, INDEX_HANDSHAKE, peer, NULL);
	return hs->local_index ? 0 : -ENOMEM;
}

/* Forgets the handshake secrets; the replay/flood history survives on purpose. */
static void noise_handshake_zero(struct noise_handshake *hs)
{
	crypto_zero(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	crypto_zero(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	crypto_zero(hs->hash, sizeof(hs->hash));
	crypto_zero(hs->chaining_key, sizeof(hs->chaining_key));
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

int noise_create_initiation(struct xwg_device *dev, struct peer *peer,
			    struct message_handshake_initiation *msg)
{
	struct noise_handshake *hs = &peer->handshake;
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN];
	uint32_t type = MESSAGE_HANDSHAKE_INITIATION;
	int ret = -ENOKEY;

	/* A low-order peer key (or no identity) must never produce a message. */
	if (!dev->has_identity || !peer->static_static_valid)
		goto out;

	memset(msg, 0, sizeof(*msg));
	memcpy(&msg->header.type, &type, sizeof(type));
	noise_handshake_start(ck, hash, peer->public_key);

	/* e */
	ret = noise_new_ephemeral(eph, msg->unencrypted_ephemeral);
	if (ret)
		goto out;
	noise_mix_ephemeral(ck, hash, msg->unencrypted_ephemeral);

	/* es */
	ret = noise_mix_dh(ck, key, eph, peer->public_key);
	if (ret)
		goto out;

	/* s */
	noise_encrypt_and_hash(msg->encrypted_static, dev->static_public, NOISE_PUBLIC_KEY_LEN, key, hash);

	/* ss (precomputed) */
	kdf(ck, key, NULL, ck, peer->static_static, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	noise_timestamp(ts);
	noise_encrypt_and_hash(msg->encrypted_timestamp, ts, NOISE_TIMESTAMP_LEN, key, hash);

	ret = noise_handshake_new_index(dev, peer);
	if (ret)
		goto out;
	memcpy(&msg->sender_index, &hs->local_index, sizeof(hs->local_index));

	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, hash, sizeof(hash));
	memcpy(hs->ephemeral_private, eph, sizeof(eph));
	hs->remote_index = 0;
	hs->state = HANDSHAKE_CREATED_INITIATION;
out:
	crypto_zero(ck, sizeof(ck));
	crypto_zero(hash, sizeof(hash));
	crypto_zero(key, sizeof(key));
	crypto_zero(eph, sizeof(eph));
	crypto_zero(ts, sizeof(ts));
	return ret;
}

static bool noise_header_is(const struct message_header *h, uint32_t type)
{
	uint32_t v;

	memcpy(&v, &h->type, sizeof(v));
	return v == type;
}

struct peer *noise_consume_initiation(struct xwg_device *dev,
				      const struct message_handshake_initiation *msg)
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e[NOISE_PUBLIC_KEY_LEN], s[NOISE_PUBLIC_KEY_LEN], ts[NOISE_TIMESTAMP_LEN];
	struct peer *peer = NULL, *ret = NULL;
	struct noise_handshake *hs;
	bool replay, flood;
	uint64_t now;

	if (!dev->has_identity || !noise_header_is(&msg->header, MESSAGE_HANDSHAKE_INITIATION))
		goto out;

	noise_handshake_start(ck, hash, dev->static_public);

	/* e */
	memcpy(e, msg->unencrypted_ephemeral, sizeof(e));
	noise_mix_ephemeral(ck, hash, e);

	/* es */
	if (noise_mix_dh(ck, key, dev->static_private, e))
		goto out;

	/* s */
	if (noise_decrypt_and_hash(s, msg->encrypted_static, sizeof(msg->encrypted_static), key, hash))
		goto out;
	peer = device_lookup_peer(dev, s);
	if (!peer || !peer->static_static_valid)
		goto out;
	hs = &peer->handshake;

	/* ss (precomputed) */
	kdf(ck, key, NULL, ck, peer->static_static, NOISE_PUBLIC_KEY_LEN);

	/* {t} */
	if (noise_decrypt_and_hash(ts, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), key, hash))
		goto out;

	/* Strictly newer than anything accepted before, and not within 1/50 s of the last one. */
	now = now_ns();
	replay = memcmp(ts, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood = hs->last_initiation_consumption &&
		hs->last_initiation_consumption + NSEC_PER_SEC / INITIATIONS_PER_SECOND > now;
	if (replay || flood)
		goto out;

	memcpy(hs->remote_ephemeral, e, sizeof(e));
	memcpy(hs->latest_timestamp, ts, sizeof(ts));
	memcpy(hs->hash, hash, sizeof(hash));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(&hs->remote_index, &msg->sender_index, sizeof(hs->remote_index));
	if (now > hs->last_initiation_consumption)
		hs->last_initiation_consumption = now;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	ret = peer;
out:
	crypto_zero(ck, sizeof(ck));
	crypto_zero(hash, sizeof(hash));
	crypto_zero(key, sizeof(key));
	crypto_zero(e, sizeof(e));
	crypto_zero(s, sizeof(s));
	crypto_zero(ts, sizeof(ts));
	return ret;
}

int noise_create_response(struct xwg_device *dev, struct peer *peer,
			  struct message_handshake_response *msg)
{
	struct noise_handshake *hs = &peer->handshake;
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t eph[NOISE_PUBLIC_KEY_LEN];
	uint32_t type = MESSAGE_HANDSHAKE_RESPONSE;
	int ret = -EINVAL;

	if (!dev->has_identity || hs->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;

	memset(msg, 0, sizeof(*msg));
	memcpy(&msg->header.type, &type, sizeof(type));
	memcpy(&msg->receiver_index, &hs->remote_index, sizeof(hs->remote_index));
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(hash, hs->hash, sizeof(hash));

	/* e */
	ret = noise_new_ephemeral(eph, msg->unencrypted_ephemeral);
	if (ret)
		goto out;
	noise_mix_ephemeral(ck, hash, msg->unencrypted_ephemeral);

	/* ee */
	ret = noise_mix_dh(ck, NULL, eph, hs->remote_ephemeral);
	if (ret)
		goto out;

	/* se */
	ret = noise_mix_dh(ck, NULL, eph, peer->public_key);
	if (ret)
		goto out;

	/* psk */
	noise_mix_psk(ck, hash, key, peer->preshared_key);

	/* {} */
	noise_encrypt_and_hash(msg->encrypted_nothing, NULL, 0, key, hash);

	ret = noise_handshake_new_index(dev, peer);
	if (ret)
		goto out;
	memcpy(&msg->sender_index, &hs->local_index, sizeof(hs->local_index));

	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(hs->hash, hash, sizeof(hash));
	memcpy(hs->ephemeral_private, eph, sizeof(eph));
	hs->state = HANDSHAKE_CREATED_RESPONSE;
out:
	crypto_zero(ck, sizeof(ck));
	crypto_zero(hash, sizeof(hash));
	crypto_zero(key, sizeof(key));
	crypto_zero(eph, sizeof(eph));
	return ret;
}

struct peer *noise_consume_response(struct xwg_device *dev,
				    const struct message_handshake_response *msg)
{
	uint8_t ck[NOISE_HASH_LEN], hash[NOISE_HASH_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e[NOISE_PUBLIC_KEY_LEN];
	struct peer *peer, *ret = NULL;
	struct noise_handshake *hs;
	struct index_entry *entry;
	uint32_t receiver;

	if (!dev->has_identity || !noise_header_is(&msg->header, MESSAGE_HANDSHAKE_RESPONSE))
		return NULL;
	memcpy(&receiver, &msg->receiver_index, sizeof(receiver));
	entry = index_table_lookup(&dev->index_table, receiver, INDEX_HANDSHAKE);
	if (!entry || !entry->peer)
		return NULL;
	peer = entry->peer;
	hs = &peer->handshake;
	if (hs->state != HANDSHAKE_CREATED_INITIATION || hs->local_index != receiver)
		return NULL;

	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(hash, hs->hash, sizeof(hash));

	/* e */
	memcpy(e, msg->unencrypted_ephemeral, sizeof(e));
	noise_mix_ephemeral(ck, hash, e);

	/* ee */
	if (noise_mix_dh(ck, NULL, hs->ephemeral_private, e))
		goto out;

	/* se */
	if (noise_mix_dh(ck, NULL, dev->static_private, e))
		goto out;

	/* psk */
	noise_mix_psk(ck, hash, key, peer->preshared_key);

	/* {} */
	if (noise_decrypt_and_hash(NULL, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), key, hash))
		goto out;

	memcpy(hs->remote_ephemeral, e, sizeof(e));
	memcpy(hs->hash, hash, sizeof(hash));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	memcpy(&hs->remote_index, &msg->sender_index, sizeof(hs->remote_index));
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	ret = peer;
out:
	crypto_zero(ck, sizeof(ck));
	crypto_zero(hash, sizeof(hash));
	crypto_zero(key, sizeof(key));
	crypto_zero(e, sizeof(e));
	return ret;
}

static void noise_keypair_free(struct xwg_device *dev, struct noise_keypair *kp)
{
	if (!kp)
		return;
	/* Out of the maps first: BPF must never use keys the agent is about to wipe. */
	hooks_keypair_retired(kp);
	index_table_remove(&dev->index_table, kp->local_index);
	crypto_zero(kp, sizeof(*kp));
	free(kp);
}

/* Slot rotation of digest section 5.3. */
static void noise_add_new_keypair(struct xwg_device *dev, struct noise_keypairs *kps,
				  struct noise_keypair *kp)
{
	struct noise_keypair *prev = kps->previous_keypair;
	struct noise_keypair *cur = kps->current_keypair;
	struct noise_keypair *next = kps->next_keypair;

	if (kp->i_am_the_initiator) {
		/* Usable at once: a pending responder-side 'next' is demoted rather than dropped. */
		if (next) {
			kps->next_keypair = NULL;
			kps->previous_keypair = next;
			noise_keypair_free(dev, cur);
		} else {
			kps->previous_keypair = cur;
		}
		noise_keypair_free(dev, prev);
		kps->current_keypair = kp;
	} else {
		/* Unconfirmed until the initiator's first data packet arrives under it. */
		kps->next_keypair = kp;
		noise_keypair_free(dev, next);
		kps->previous_keypair = NULL;
		noise_keypair_free(dev, prev);
	}
}

int noise_begin_session(struct xwg_device *dev, struct peer *peer)
{
	struct noise_handshake *hs = &peer->handshake;
	struct noise_keypair *kp;

	if (hs->state != HANDSHAKE_CREATED_RESPONSE && hs->state != HANDSHAKE_CONSUMED_RESPONSE)
		return -EINVAL;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return -ENOMEM;

	kp->i_am_the_initiator = hs->state == HANDSHAKE_CONSUMED_RESPONSE;
	if (kp->i_am_the_initiator)
		kdf(kp->send_key, kp->recv_key, NULL, hs->chaining_key, NULL, 0);
	else
		kdf(kp->recv_key, kp->send_key, NULL, hs->chaining_key, NULL, 0);
	replay_counter_init(&kp->replay);
	kp->send_counter = 0;
	kp->birthdate = now_ns();
	kp->sending_valid = true;
	kp->receiving_valid = true;
	kp->peer = peer;
	kp->remote_index = hs->remote_index;

	/* The number the peer will address us by stays the same; it now names the keypair. */
	kp->local_index = hs->local_index;
	index_table_replace(&dev->index_table, kp->local_index, INDEX_KEYPAIR, kp);
	hs->local_index = 0;

	noise_add_new_keypair(dev, &peer->keypairs, kp);
	noise_handshake_zero(hs);
	hooks_peer_changed(peer, PUBLISH_KEYPAIRS);
	return 0;
}

bool noise_received_with_keypair(struct peer *peer, struct noise_keypair *kp)
{
	struct noise_keypairs *kps = &peer->keypairs;

	if (!kp || kp != kps->next_keypair)
		return false;
	noise_keypair_free(peer->dev, kps->previous_keypair);
	kps->previous_keypair = kps->current_keypair;
	kps->current_keypair = kp;
	kps->next_keypair = NULL;
	hooks_peer_changed(peer, PUBLISH_KEYPAIRS);
	return true;
}

void noise_keypairs_clear(struct xwg_device *dev, struct peer *peer)
{
	struct noise_keypairs *kps = &peer->keypairs;

	noise_keypair_free(dev, kps->previous_keypair);
	noise_keypair_free(dev, kps->current_keypair);
	noise_keypair_free(dev, kps->next_keypair);
	kps->previous_keypair = kps->current_keypair = kps->next_keypair = NULL;
	hooks_peer_changed(peer, PUBLISH_KEYPAIRS);
}

void noise_handshake_clear(struct xwg_device *dev, struct peer *peer)
{
	struct noise_handshake *hs = &peer->handshake;

	if (hs->local_index)
		index_table_remove(&dev->index_table, hs->local_index);
	hs->local_index = 0;
	noise_handshake_zero(hs);
}

void noise_expire_current_keypairs(struct peer *peer)
{
	struct noise_keypair *kps[] = { peer->keypairs.current_keypair, peer->keypairs.next_keypair };

	for (size_t i = 0; i < sizeof(kps) / sizeof(kps[0]); i++)
		if (kps[i]) {
			kps[i]->sending_valid = false;
			hooks_keypair_send_invalid(kps[i]);
		}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* mac1/mac2 on handshake messages, cookie replies, and the under-load rate limiter. */
#ifndef XWG_COOKIE_H
#define XWG_COOKIE_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include "messages.h"

struct peer;
struct xwg_device;

/* The device's side: verifies mac1/mac2 on what it receives and issues cookies. */
struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birthdate;		/* monotonic ns */
	uint8_t cookie_encryption_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || own pub) */
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || own pub) */
};

/* A peer's side: the cookie it gave us and the keys to talk to it. */
struct cookie {
	uint64_t birthdate;			/* monotonic ns */
	bool is_valid;
	uint8_t cookie[COOKIE_LEN];
	bool have_sent_mac1;
	uint8_t last_mac1_sent[COOKIE_LEN];
	uint8_t cookie_decryption_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || peer pub) */
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || peer pub) */
};

enum cookie_mac_state {
	INVALID_MAC,
	VALID_MAC_BUT_NO_COOKIE,
	VALID_MAC_WITH_COOKIE_BUT_RATELIMITED,
	VALID_MAC_WITH_COOKIE,
};

/* Recomputes the checker's keys from dev->static_public (after a private key change). */
void cookie_checker_precompute_device_keys(struct xwg_device *dev);
/* Recomputes the peer's keys from peer->public_key. */
void cookie_precompute_peer_keys(struct peer *peer);

/* 'msg' is a whole initiation or response; 'len' its size. 'src' is the UDP source. */
enum cookie_mac_state cookie_validate_packet(struct xwg_device *dev, const void *msg, size_t len,
					     const struct sockaddr *src, bool check_cookie);
/* Fills mac1 (always) and mac2 (when the peer's cookie is fresh) and remembers mac1. */
void cookie_add_macs(struct peer *peer, void *msg, size_t len);
/* Builds the cookie reply to 'msg' (an initiation or response that failed mac2 under load). */
void cookie_message_create(struct xwg_device *dev, struct message_handshake_cookie *dst,
			   const void *msg, size_t len, uint32_t sender_index, const struct sockaddr *src);
/* The reply itself with a given nonce and cookie (cookie_message_create's core; vector tests). */
void cookie_message_seal(struct xwg_device *dev, struct message_handshake_cookie *dst,
			 uint32_t receiver_index, const uint8_t nonce[COOKIE_NONCE_LEN],
			 const uint8_t cookie[COOKIE_LEN], const uint8_t mac1[COOKIE_LEN]);
/* Opens a received cookie reply and stores the cookie in the matching peer. Returns 0 or -errno. */
int cookie_message_consume(struct xwg_device *dev, const struct message_handshake_cookie *src);

/* Token bucket per source address (IPv4 /32, IPv6 /64): 20 packets/s, burst 5. true = allowed. */
bool ratelimiter_allow(struct xwg_device *dev, const struct sockaddr *src);
int ratelimiter_init(struct xwg_device *dev);
void ratelimiter_uninit(struct xwg_device *dev);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Noise_IKpsk2 handshake state, transport keypairs and the handshake message API. */
#ifndef XWG_NOISE_H
#define XWG_NOISE_H

#include <stdint.h>
#include <stdbool.h>
#include "messages.h"
#include "replay.h"

struct peer;
struct xwg_device;

struct noise_keypair {
	uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t recv_key[NOISE_SYMMETRIC_KEY_LEN];
	/*
	 * One owner each: while !offloaded these two are the send counter and the replay window;
	 * once offloaded the map entry owns both (handed over as they were) and these are never read
	 * again. The agent then sends from a block reserved in the map, [send_block_next,
	 * send_block_end), taken at send_block_ns; an adopted keypair starts with an empty block.
	 */
	uint64_t send_counter;		/* next counter to use (not offloaded) */
	struct replay_counter replay;	/* (not offloaded) */
	uint64_t send_block_next, send_block_end, send_block_ns;
	uint64_t birthdate;		/* monotonic ns */
	uint32_t local_index;		/* wire value (little-endian bytes as read) */
	uint32_t remote_index;		/* wire value, echoed verbatim */
	bool i_am_the_initiator;
	bool sending_valid;
	bool receiving_valid;
	bool offloaded;			/* in the BPF keypair map, which owns counter and window; never
					 * cleared while the keypair lives */
	struct peer *peer;
};

struct noise_keypairs {
	struct noise_keypair *current_keypair;
	struct noise_keypair *previous_keypair;
	struct noise_keypair *next_keypair;
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	enum noise_handshake_state state;
	uint64_t last_initiation_consumption;	/* monotonic ns, 0 = never */
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint32_t local_index;		/* registered in the device index table while != 0 */
	uint32_t remote_index;
};

/* One-time constants C0 and H0; call once at start-up (after crypto_init). */
void noise_init(void);

/* Recomputes peer->static_static (DH(dev static, peer public)); sets peer->static_static_valid. */
void noise_precompute_static_static(struct xwg_device *dev, struct peer *peer);

/*
 * Handshake messages. Create functions fill the message except mac1/mac2 (cookie_add_macs does
 * those) and return 0 or negative errno. Consume functions return the peer or NULL (drop).
 * 'now_mono' is monotonic ns; 'now_real' the wall-clock used for TAI64N (timespec).
 */
int noise_create_initiation(struct xwg_device *dev, struct peer *peer,
			    struct message_handshake_initiation *msg);
struct peer *noise_consume_initiation(struct xwg_device *dev,
				      const struct message_handshake_initiation *msg);
int noise_create_response(struct xwg_device *dev, struct peer *peer,
			  struct message_handshake_response *msg);
struct peer *noise_consume_response(struct xwg_device *dev,
				    const struct message_handshake_response *msg);

/*
 * Derives the transport keypair from the finished handshake, erases the handshake secrets and
 * rotates it into the peer's slots (initiator: current at once; responder: next). Returns 0 or
 * negative errno.
 */
int noise_begin_session(struct xwg_device *dev, struct peer *peer);

/* Promotes 'next' to 'current' if the packet arrived under 'next'; true if it did (key confirmed). */
bool noise_received_with_keypair(struct peer *peer, struct noise_keypair *kp);

/* Wipes and frees all three keypairs and the handshake (zero-key timer, peer removal, key change). */
void noise_keypairs_clear(struct xwg_device *dev, struct peer *peer);
void noise_handshake_clear(struct xwg_device *dev, struct peer *peer);
/* Marks current/next unusable for sending (private key changed). */
void noise_expire_current_keypairs(struct peer *peer);

/* TAI64N now, nanoseconds rounded down to 2^24 (exposed for tests). */
void noise_tai64n_now(uint8_t out[NOISE_TIMESTAMP_LEN]);

/* Test hook: when non-NULL, these supply ephemeral keys, the timestamp and indices (vector tests). */
struct noise_test_hooks {
	const uint8_t *ephemeral_private;	/* 32 bytes */
	const uint8_t *timestamp;		/* 12 bytes */
};
extern struct noise_test_hooks *noise_test_hooks;

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* WireGuard wire format: message layouts, sizes and protocol constants (nothing else). */
#ifndef XWG_MESSAGES_H
#define XWG_MESSAGES_H

#include "xwg_types.h"

enum {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
	COOKIE_LEN = 16,
	COOKIE_NONCE_LEN = 24,
	COOKIE_KEY_LEN = 32,
};

#define noise_encrypted_len(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

/* Protocol timing and limits (whitepaper section 6, digest section 5.1). */
#define REKEY_AFTER_MESSAGES (1ULL << 60)
#define REJECT_AFTER_MESSAGES (~0ULL - (1ULL << 13))	/* 2^64 - 2^13 - 1 */
#define REKEY_TIMEOUT_S 5
#define REKEY_TIMEOUT_JITTER_MAX_MS 334
#define REKEY_AFTER_TIME_S 120
#define REJECT_AFTER_TIME_S 180
#define REKEY_ATTEMPT_TIME_S 90
#define MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME_S / REKEY_TIMEOUT_S)
#define KEEPALIVE_TIMEOUT_S 10
#define COOKIE_SECRET_MAX_AGE_S 120
#define COOKIE_SECRET_LATENCY_S 5
#define INITIATIONS_PER_SECOND 50
#define MAX_STAGED_PACKETS 128
#define MAX_QUEUED_INCOMING_HANDSHAKES 4096
#define UNDER_LOAD_AFTER_TIME_S 1
#define COUNTER_BITS_TOTAL 8192
#define COUNTER_WINDOW_SIZE (COUNTER_BITS_TOTAL - 64)	/* 8128 */
#define MESSAGE_PADDING_MULTIPLE 16
#define XWG_DEFAULT_MTU 1420
#define XWG_DEFAULT_PORT 51820

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = 1,
	MESSAGE_HANDSHAKE_RESPONSE = 2,
	MESSAGE_HANDSHAKE_COOKIE = 3,
	MESSAGE_DATA = 4,
};

/* The 4-byte header read as a little-endian u32: type in byte 0, bytes 1..3 must be zero. */
struct message_header {
	__le32 type;
};

struct message_macs {
	__u8 mac1[COOKIE_LEN];
	__u8 mac2[COOKIE_LEN];
};

struct message_handshake_initiation {
	struct message_header header;
	__le32 sender_index;
	__u8 unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	__u8 encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	__u8 encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
};

struct message_handshake_response {
	struct message_header header;
	__le32 sender_index;
	__le32 receiver_index;
	__u8 unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	__u8 encrypted_nothing[noise_encrypted_len(0)];
	struct message_macs macs;
};

struct message_handshake_cookie {
	struct message_header header;
	__le32 receiver_index;
	__u8 nonce[COOKIE_NONCE_LEN];
	__u8 encrypted_cookie[noise_encrypted_len(COOKIE_LEN)];
};

struct message_data {
	struct message_header header;
	__le32 key_idx;
	__le64 counter;
	__u8 encrypted_data[];
};

#define message_data_len(plain_len) (noise_encrypted_len(plain_len) + sizeof(struct message_data))
#define MESSAGE_MINIMUM_LENGTH message_data_len(0)

_Static_assert(sizeof(struct message_handshake_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct message_handshake_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct message_handshake_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct message_data) == 16, "data header is 16 bytes");

/* Outer overhead per data packet: WireGuard header + tag, UDP, IPv4 or IPv6. */
#define XWG_OVERHEAD_V4 (32 + 8 + 20)
#define XWG_OVERHEAD_V6 (32 + 8 + 40)

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fuzzes what reaches the agent's UDP port (receive_packet): handshake initiations, responses,
 * cookie replies and transport data, against a device with a real peer so the fuzzer gets past the
 * MACs and the AEADs and into the state machine.
 *
 * Input: one mode byte, then the body. The low bits of the mode pick the message:
 *   0 raw      the body is the packet as it arrives
 *   1 init     a valid initiation from the peer, XORed with the body
 *   2 resp     a valid response from the peer to our initiation, XORed with the body
 *   3 cookie   a valid cookie reply from the peer to our initiation, XORed with the body
 *   4 data     a session, then a data message correctly encrypted under it whose plaintext is the body
 *   5 dataraw  a session, then a data message for its index whose counter and ciphertext are the body
 * Unless bit 0x80 is set, mac1 of an initiation or response is recomputed after the mutation (the
 * fuzzer knows the responder's public key, as any sender does), so mutations are judged by the noise
 * code and not just refused by the mac check. Bit 0x40 puts the device under load first (cookie path).
 * The ephemeral keys come from the system RNG, so runs are not bit-for-bit reproducible; the
 * mutations are, and a crash input reproduces in practice. The two static identities and their
 * static-static secret are made once per process: every input still gets fresh devices, peers and
 * tables, but only the X25519 work of its own messages (about three times the executions per second).
 */
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "test_device.h"
#include "cookie.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"

enum { MODE_RAW, MODE_INIT, MODE_RESP, MODE_COOKIE, MODE_DATA, MODE_DATARAW, MODE_MAX };

static int tun_pair[2] = { -1, -1 };

/* Device a's and b's static key pairs, and the DH of the two (the same from either side). */
static struct {
	uint8_t priv[2][NOISE_PUBLIC_KEY_LEN], pub[2][NOISE_PUBLIC_KEY_LEN];
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];
} ids;

static void fuzz_ids_make(void)
{
	for (int i = 0; i < 2; i++) {
		curve25519_generate_private(ids.priv[i]);
		if (curve25519_generate_public(ids.pub[i], ids.priv[i]))
			abort();
	}
	if (curve25519(ids.static_static, ids.priv[0], ids.pub[1]))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (crypto_init())
		abort();
	noise_init();
	fuzz_ids_make();
	/* The agent's TUN is one end of a datagram pair, drained after each input. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, tun_pair))
		abort();
	return 0;
}

/* test_peer_add, with the static-static secret made once in fuzz_ids_make(). */
static struct peer *fuzz_peer_add(struct xwg_device *dev, const uint8_t *pub)
{
	struct peer *peer = test_peer_alloc(dev, pub);

	memcpy(peer->static_static, ids.static_static, sizeof(peer->static_static));
	peer->static_static_valid = true;
	return peer;
}

static void fuzz_xor(void *msg, size_t len, const uint8_t *body, size_t blen)
{
	uint8_t *m = msg;

	for (size_t i = 0; i < len && i < blen; i++)
		m[i] ^= body[i];
}

/* a is the device under test, b its peer; b_on_a / a_on_b the peer entries. */
struct fuzz_pair {
	struct xwg_device a, b;
	struct peer *b_on_a, *a_on_b;
};

static void fuzz_pair_setup(struct fuzz_pair *p)
{
	static const uint8_t inner[4] = { 10, 0, 0, 2 };

	test_device_init_key(&p->a, "xwgfuzz0", ids.priv[0], ids.pub[0]);
	test_device_init_key(&p->b, "xwgfuzz1", ids.priv[1], ids.pub[1]);
	p->b_on_a = fuzz_peer_add(&p->a, p->b.static_public);
	p->a_on_b = fuzz_peer_add(&p->b, p->a.static_public);
	p->a.tun_fd = tun_pair[0];
	if (allowedips_insert(&p->a.allowedips, AF_INET, inner, 32, p->b_on_a))
		abort();
}

/* b initiates, a responds, both derive: a data message from b can then be delivered on a. */
static struct noise_keypair *fuzz_session(struct fuzz_pair *p)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;

	FUZZ_ASSERT(noise_create_initiation(&p->b, p->a_on_b, &m1) == 0);
	FUZZ_ASSERT(noise_consume_initiation(&p->a, &m1) == p->b_on_a);
	FUZZ_ASSERT(noise_create_response(&p->a, p->b_on_a, &m2) == 0);
	FUZZ_ASSERT(noise_begin_session(&p->a, p->b_on_a) == 0);
	FUZZ_ASSERT(noise_consume_response(&p->b, &m2) == p->a_on_b);
	FUZZ_ASSERT(noise_begin_session(&p->b, p->a_on_b) == 0);
	return p->a_on_b->keypairs.current_keypair;
}

/* Builds the packet for the mode into buf; returns its length. */
static size_t fuzz_build(struct fuzz_pair *p, int mode, bool fix_mac, const uint8_t *body, size_t blen,
			 uint8_t *buf, size_t cap, const struct sockaddr *src)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;
	struct message_handshake_cookie m3;
	struct noise_keypair *kp;
	size_t len = 0;

	switch (mode) {
	case MODE_RAW:
		len = blen < cap ? blen : cap;
		memcpy(buf, body, len);
		break;
	case MODE_INIT:
		FUZZ_ASSERT(noise_create_initiation(&p->b, p->a_on_b, &m1) == 0);
		cookie_add_macs(p->a_on_b, &m1, sizeof(m1));
		memcpy(buf, &m1, len = sizeof(m1));
		break;
	case MODE_RESP:
		/* a initiates to b; b answers. */
		FUZZ_ASSERT(noise_create_initiation(&p->a, p->b_on_a, &m1) == 0);
		cookie_add_macs(p->b_on_a, &m1, sizeof(m1));
		FUZZ_ASSERT(noise_consume_initiation(&p->b, &m1) == p->a_on_b);
		FUZZ_ASSERT(noise_create_response(&p->b, p->a_on_b, &m2) == 0);
		cookie_add_macs(p->a_on_b, &m2, sizeof(m2));
		memcpy(buf, &m2, len = sizeof(m2));
		break;
	case MODE_COOKIE:
		FUZZ_ASSERT(noise_create_initiation(&p->a, p->b_on_a, &m1) == 0);
		cookie_add_macs(p->b_on_a, &m1, sizeof(m1));
		cookie_message_create(&p->b, &m3, &m1, sizeof(m1), m1.sender_index, src);
		memcpy(buf, &m3, len = sizeof(m3));
		break;
	case MODE_DATA:
	case MODE_DATARAW: {
		struct message_data *hdr = (struct message_data *)buf;
		size_t plain = blen > 1500 ? 1500 : blen;

		kp = fuzz_session(p);
		FUZZ_ASSERT(kp != NULL);
		memset(hdr, 0, sizeof(*hdr));
		hdr->header.type = htole32(MESSAGE_DATA);
		hdr->key_idx = kp->remote_index;
		if (mode == MODE_DATA) {
			FUZZ_ASSERT(aead_encrypt(hdr->encrypted_data, body, plain, NULL, 0, 0, kp->send_key) == 0);
			return message_data_len(plain);
		}
		len = blen + 8 > cap - 8 ? cap - 8 : blen + 8;
		memcpy(buf + 8, body, len - 8);
		return len;
	}
	}
	if (mode != MODE_RAW)
		fuzz_xor(buf, len, body, blen);
	/* The mac covers the mutated bytes: recompute it so the noise code judges them. */
	if (fix_mac && len == sizeof(m1) && le32toh(((struct message_header *)buf)->type) == MESSAGE_HANDSHAKE_INITIATION)
		cookie_add_macs(p->a_on_b, buf, len);
	else if (fix_mac && len == sizeof(m2) && le32toh(((struct message_header *)buf)->type) == MESSAGE_HANDSHAKE_RESPONSE)
		cookie_add_macs(p->a_on_b, buf, len);
	return len;
}

static bool fuzz_all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * What must hold after the packet: an unmutated valid message is accepted (else the target would
 * silently test nothing), and raw bytes from someone without the peer's static key never give the
 * device a session, a counter bump or a delivered packet.
 */
static void fuzz_check(struct fuzz_pair *p, int mode, uint8_t flags, const uint8_t *body, size_t blen,
		       ssize_t delivered)
{
	struct noise_keypairs *kps = &p->b_on_a->keypairs;
	bool pristine = fuzz_all_zero(body, blen) && !(flags & 0xc0);

	if (mode == MODE_RAW) {
		FUZZ_ASSERT(!kps->current_keypair && !kps->next_keypair && !kps->previous_keypair);
		FUZZ_ASSERT(p->b_on_a->hs_initiations_received == 0 && p->b_on_a->hs_responses_received == 0);
		FUZZ_ASSERT(delivered <= 0 && p->b_on_a->rx_bytes == 0);
	}
	if (pristine && mode == MODE_INIT)
		FUZZ_ASSERT(p->b_on_a->hs_initiations_received == 1);
	if (pristine && mode == MODE_RESP)
		FUZZ_ASSERT(p->b_on_a->hs_responses_received == 1 && kps->current_keypair);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssize_t delivered = 0, n;
	static uint8_t buf[2048];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(51820),
				   .sin_addr.s_addr = htonl(0xc0000209) };
	struct fuzz_pair p;
	char drain[2048];
	size_t len;
	int mode;

	if (size < 1)
		return 0;
	mode = (data[0] & 0x3f) % MODE_MAX;
	fuzz_pair_setup(&p);
	len = fuzz_build(&p, mode, !(data[0] & 0x80), data + 1, size - 1, buf, sizeof(buf) - 64,
			 (struct sockaddr *)&src);
	if (data[0] & 0x40)
		for (int i = 0; i < 200; i++)
			device_under_load(&p.a);
	receive_packet(&p.a, buf, len, (struct sockaddr *)&src, NULL, 0, 0);
	receive_flush(&p.a);
	while ((n = recv(tun_pair[1], drain, sizeof(drain), 0)) > 0)
		delivered += n;
	fuzz_check(&p, mode, data[0], data + 1, size - 1, delivered);
	p.a.tun_fd = -1;
	test_device_teardown(&p.a);
	test_device_teardown(&p.b);
	return 0;
}

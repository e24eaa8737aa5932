/* SPDX-License-Identifier: GPL-2.0 */
/* The userspace transmit path: handshake messages out, and TUN packets encrypted to their peer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/uio.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include "device.h"
#include "crypto.h"
#include "parallel.h"
#include "timers.h"
#include "xwg_ecn.h"

void send_handshake_initiation(struct peer *peer, bool is_retry)
{
	struct message_handshake_initiation msg;

	if (!is_retry)
		peer->timer_handshake_attempts = 0;
	/* One initiation (or response) per REKEY_TIMEOUT: the peer needs time to answer. */
	if (peer->last_sent_handshake && !birthdate_has_expired(peer->last_sent_handshake, REKEY_TIMEOUT_S))
		return;
	peer->last_sent_handshake = now_ns();
	if (noise_create_initiation(peer->dev, peer, &msg) < 0)
		return;
	cookie_add_macs(peer, &msg, sizeof(msg));
	timers_any_authenticated_packet_traversal(peer);
	timers_any_authenticated_packet_sent(peer);
	if (!socket_send_to_peer(peer, &msg, sizeof(msg)))
		peer->hs_initiations_sent++;
	timers_handshake_initiated(peer);
	crypto_zero(&msg, sizeof(msg));
}

void send_handshake_response(struct peer *peer)
{
	struct message_handshake_response msg;

	peer->last_sent_handshake = now_ns();
	if (noise_create_response(peer->dev, peer, &msg) < 0)
		return;
	cookie_add_macs(peer, &msg, sizeof(msg));
	if (noise_begin_session(peer->dev, peer) < 0)
		return;
	timers_session_derived(peer);
	timers_any_authenticated_packet_traversal(peer);
	timers_any_authenticated_packet_sent(peer);
	if (!socket_send_to_peer(peer, &msg, sizeof(msg)))
		peer->hs_responses_sent++;
}

/*
 * A nonce older than the peer's window (COUNTER_WINDOW_SIZE behind the newest counter it saw) is
 * dropped there, and BPF keeps sending with newer ones: so a reserved block is used for a short
 * while only, then abandoned. Skipping counters is safe; only reusing one is not.
 */
#define SEND_BLOCK_MAX_AGE_NS	1000000ULL	/* 1 ms */

/* The highest counter this keypair is known to have reached, for the limits (never a nonce). */
static uint64_t send_counter_seen(const struct noise_keypair *kp)
{
	return kp->offloaded ? kp->send_block_next : kp->send_counter;
}

static bool keypair_can_send(const struct noise_keypair *kp)
{
	return kp && kp->sending_valid && send_counter_seen(kp) < REJECT_AFTER_MESSAGES &&
	       !birthdate_has_expired(kp->birthdate, REJECT_AFTER_TIME_S);
}

/*
 * The next nonce, from the counter's one owner: the keypair itself, or (offloaded) the map, one
 * reservation of OFFLOAD_RESERVE_BATCH at a time. 0, or -errno: kp must never send again.
 */
static int send_counter_next(struct noise_keypair *kp, uint64_t *counter)
{
	uint64_t now, first;
	int ret;

	if (!kp->offloaded) {
		if (kp->send_counter >= REJECT_AFTER_MESSAGES)
			return -ERANGE;
		*counter = kp->send_counter++;
		return 0;
	}
	now = now_ns();
	if (kp->send_block_next >= kp->send_block_end || now - kp->send_block_ns > SEND_BLOCK_MAX_AGE_NS) {
		kp->send_block_end = kp->send_block_next;	/* a failed reservation leaves it empty */
		ret = offload_reserve_counters(kp, OFFLOAD_RESERVE_BATCH, &first);
		if (ret < 0)
			return ret;
		kp->send_block_next = first;
		kp->send_block_end = first + OFFLOAD_RESERVE_BATCH;
		kp->send_block_ns = now;
	}
	*counter = kp->send_block_next++;
	return 0;
}

/*
 * No counter (exhausted, or the map cannot give one): like the kernel's sending.is_valid = false,
 * the keypair never sends again, BPF stops using it too, and a handshake replaces it.
 */
static void send_keypair_retire(struct peer *peer, struct noise_keypair *kp)
{
	kp->sending_valid = false;
	peer->dev->tx_keypair_retired++;
	hooks_keypair_send_invalid(kp);
	send_handshake_initiation(peer, false);
}

/* Only the initiator rekeys on age, so both ends do not race to replace the same session. */
static void send_keep_key_fresh(struct peer *peer)
{
	struct noise_keypair *kp = peer->keypairs.current_keypair;

	if (kp && kp->sending_valid &&
	    (send_counter_seen(kp) > REKEY_AFTER_MESSAGES ||
	     (kp->i_am_the_initiator && birthdate_has_expired(kp->birthdate, REKEY_AFTER_TIME_S))))
		send_handshake_initiation(peer, false);
}

/* Padding to 16 bytes hides exact lengths, but never past the MTU (kernel's calculate_skb_padding). */
static size_t send_padded_len(size_t len, int mtu)
{
	size_t last_unit = mtu > 0 ? len % (size_t)mtu : len;
	size_t padded = (last_unit + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);

	if (mtu > 0 && padded > (size_t)mtu)
		padded = (size_t)mtu;
	return len + (padded - last_unit);
}

/* The agent's share of a peer's traffic, added once per run of its packets; batched: sealed with others. */
static void send_count(struct peer *peer, uint64_t packets, uint64_t bytes, bool batched)
{
	peer->agent_tx_packets += packets;
	peer->agent_tx_bytes += bytes;
	if (batched) {
		peer->batch_tx_packets += packets;
		peer->batch_tx_bytes += bytes;
	}
}

static uint8_t send_buf[sizeof(struct message_data) + 65536 + 64 + NOISE_AUTHTAG_LEN] __attribute__((aligned(64)));

/* One data message into buf: header, plaintext padded to padded bytes, sealed under kp with counter. */
static void send_seal(uint8_t *buf, const struct noise_keypair *kp, uint64_t counter, const uint8_t *pkt,
		      size_t len, size_t padded)
{
	struct message_data *hdr = (struct message_data *)buf;

	hdr->header.type = htole32(MESSAGE_DATA);
	hdr->key_idx = kp->remote_index;
	hdr->counter = htole64(counter);
	memcpy(hdr->encrypted_data, pkt, len);
	memset(hdr->encrypted_data + len, 0, padded - len);
	aead_encrypt(hdr->encrypted_data, hdr->encrypted_data, padded, NULL, 0, counter, kp->send_key);
}

/* Encrypts one plaintext (empty = keepalive) under kp with the given nonce and sends it. 0 or -errno. */
static int send_data(struct peer *peer, struct noise_keypair *kp, uint64_t counter, const uint8_t *pkt,
		     size_t len)
{
	size_t padded = len ? send_padded_len(len, peer->dev->mtu) : 0;

	if (padded > sizeof(send_buf) - sizeof(struct message_data) - NOISE_AUTHTAG_LEN)
		return -EMSGSIZE;
	send_seal(send_buf, kp, counter, pkt, len, padded);

	timers_any_authenticated_packet_traversal(peer);
	timers_any_authenticated_packet_sent(peer);
	if (len)
		timers_data_sent(peer);
	send_count(peer, 1, message_data_len(padded), false);
	return socket_send_to_peer_tos(peer, send_buf, message_data_len(padded),
				       len ? xwg_ecn_encap(xwg_ecn_get(pkt)) : 0);
}

void send_staged_packets(struct peer *peer)
{
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	uint64_t counter;

	if (!peer->staged_count)
		return;
	if (!keypair_can_send(kp)) {
		/* No usable session: keep the packets staged and ask for one. */
		send_handshake_initiation(peer, false);
		return;
	}
	while (peer->staged_count) {
		struct staged_packet *sp = peer->staged[peer->staged_head];

		/* Without a nonce the packet stays at the head of the queue for the next session. */
		if (send_counter_next(kp, &counter) < 0) {
			send_keypair_retire(peer, kp);
			return;
		}
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
		send_data(peer, kp, counter, sp->data, sp->len);
		crypto_zero(sp->data, sp->len);
		free(sp);
	}
	send_keep_key_fresh(peer);
}

/*
 * Path probes and their answers (path.c): a keepalive on the current session to another address.
 * No timer hook runs: the protocol's timers watch the active path, which this packet does not use.
 */
int send_keepalive_on(struct peer *peer, struct endpoint *ep)
{
	static const uint8_t nothing[1];
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	uint64_t counter;

	if (!keypair_can_send(kp))
		return -ENOKEY;
	if (send_counter_next(kp, &counter) < 0) {
		send_keypair_retire(peer, kp);
		return -ERANGE;
	}
	send_seal(send_buf, kp, counter, nothing, 0, 0);
	send_count(peer, 1, message_data_len(0), false);
	return socket_send_to_endpoint(peer, ep, send_buf, message_data_len(0));
}

void send_keepalive(struct peer *peer)
{
	/* Queued data already proves liveness; a keepalive only when there is nothing else to send. */
	if (!peer->staged_count)
		peer_stage_packet(peer, NULL, 0);
	send_staged_packets(peer);
}

/*
 * Longest-prefix match on the inner destination picks the peer (cryptokey routing, outbound). The
 * packet may sit at any alignment in its batch buffer, so the address is found by offset, never
 * through a header pointer.
 */
static struct peer *send_route(struct xwg_device *dev, const uint8_t *pkt, size_t len)
{
	if (len >= sizeof(struct iphdr) && (pkt[0] >> 4) == 4)
		return allowedips_lookup(&dev->allowedips, AF_INET, pkt + offsetof(struct iphdr, daddr));
	if (len >= sizeof(struct ip6_hdr) && (pkt[0] >> 4) == 6)
		return allowedips_lookup(&dev->allowedips, AF_INET6, pkt + offsetof(struct ip6_hdr, ip6_dst));
	return NULL;
}

/*
 * Multicast and broadcast: no peer by nature (the kernel's own MLD reports and router solicitations
 * on an idle tunnel), so not counted as lost.
 */
static bool send_to_group(const uint8_t *pkt, size_t len)
{
	if (len >= sizeof(struct iphdr) && (pkt[0] >> 4) == 4)
		return pkt[16] >= 224;
	return len >= sizeof(struct ip6_hdr) && (pkt[0] >> 4) == 6 && pkt[24] == 0xff;
}

/*
 * No peer owns the destination, or the peer has no endpoint (never configured, never heard from):
 * the packet is dropped, and the sender may hear so (hooks_packet_unroutable), like wg_xmit's
 * icmp_ndo_send. True when that is the case.
 */
static bool send_unroutable(struct xwg_device *dev, const struct peer *peer, const uint8_t *pkt, size_t len)
{
	if (peer && peer->endpoint.addr.sa.sa_family)
		return false;
	if (!send_to_group(pkt, len))
		dev->tx_unroutable++;
	hooks_packet_unroutable(dev, pkt, len);
	return true;
}

void send_packet_from_tun(struct xwg_device *dev, uint8_t *pkt, size_t len)
{
	struct peer *peer = send_route(dev, pkt, len);
	struct noise_keypair *kp;
	uint64_t counter;

	if (send_unroutable(dev, peer, pkt, len))
		return;
	kp = peer->keypairs.current_keypair;
	/* Fast path: nothing queued ahead of us and a live session, so no copy into the staging ring. */
	if (!peer->staged_count && keypair_can_send(kp)) {
		if (send_counter_next(kp, &counter) == 0) {
			send_data(peer, kp, counter, pkt, len);
			send_keep_key_fresh(peer);
			return;
		}
		peer_stage_packet(peer, pkt, len);
		send_keypair_retire(peer, kp);
		return;
	}
	peer_stage_packet(peer, pkt, len);
	send_staged_packets(peer);
}

/*
 * The batched path. A batch is numbered on this thread (counters in order, from their one owner),
 * sealed on every crypto worker, then sent in order: the wire order of a peer's counters is the
 * order of its packets. Each slot holds one whole message of a packet up to SEND_SLOT bytes.
 */
#define SEND_BATCH	256
#define SEND_SLOT	2048

struct send_item {
	struct peer *peer;
	struct noise_keypair *kp;
	uint64_t counter;
	const uint8_t *pkt;	/* the caller's buffer, valid until send_packets_from_tun returns */
	size_t len, padded;
};

static struct send_item send_items[SEND_BATCH];
static struct socket_msg send_msgs[SEND_BATCH];
static unsigned int send_queued;
static uint8_t send_slots[SEND_BATCH][SEND_SLOT] __attribute__((aligned(64)));

static void send_batch_seal(void *unused, unsigned int i)
{
	const struct send_item *it = &send_items[i];

	send_seal(send_slots[i], it->kp, it->counter, it->pkt, it->len, it->padded);
}

/* Seals and sends what is queued; the timers move once per run of one peer's packets. */
static void send_batch_flush(struct xwg_device *dev)
{
	unsigned int n = send_queued;
	uint64_t run_packets = 0, run_bytes = 0;

	if (!n)
		return;
	send_queued = 0;
	parallel_run(send_batch_seal, NULL, n);
	for (unsigned int i = 0; i < n; i++) {
		struct send_item *it = &send_items[i];
		size_t wire = message_data_len(it->padded);

		send_msgs[i] = (struct socket_msg){
			.peer = it->peer, .buf = send_slots[i], .len = wire,
			.tos = xwg_ecn_encap(xwg_ecn_get(it->pkt)),
		};
		run_packets++;
		run_bytes += wire;
		if (i + 1 < n && send_items[i + 1].peer == it->peer)
			continue;
		send_count(it->peer, run_packets, run_bytes, n > 1);
		run_packets = run_bytes = 0;
		timers_any_authenticated_packet_traversal(it->peer);
		timers_any_authenticated_packet_sent(it->peer);
		timers_data_sent(it->peer);
	}
	socket_send_batch(dev, send_msgs, n);
	for (unsigned int i = 0; i < n; i++)
		if (i + 1 == n || send_items[i + 1].peer != send_items[i].peer)
			send_keep_key_fresh(send_items[i].peer);
}

/* Queues one packet for the batch; false when it must take the one-by-one path instead. */
static bool send_batch_add(struct xwg_device *dev, struct peer *peer, const uint8_t *pkt, size_t len)
{
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	size_t padded = send_padded_len(len, dev->mtu);
	struct send_item *it;
	uint64_t counter;

	if (peer->staged_count || !keypair_can_send(kp) || !len ||
	    message_data_len(padded) > SEND_SLOT)
		return false;
	if (send_counter_next(kp, &counter) < 0) {
		/* Fail closed: what was numbered before goes out, this one waits for a new session. */
		send_batch_flush(dev);
		peer_stage_packet(peer, pkt, len);
		send_keypair_retire(peer, kp);
		return true;
	}
	it = &send_items[send_queued++];
	*it = (struct send_item){ .peer = peer, .kp = kp, .counter = counter, .pkt = pkt, .len = len,
				  .padded = padded };
	if (send_queued == SEND_BATCH)
		send_batch_flush(dev);
	return true;
}

void send_packets_from_tun(struct xwg_device *dev, const struct iovec *pkts, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *pkt = pkts[i].iov_base;
		size_t len = pkts[i].iov_len;
		struct peer *peer = send_route(dev, pkt, len);

		if (send_unroutable(dev, peer, pkt, len))
			continue;
		if (send_batch_add(dev, peer, pkt, len))
			continue;
		/* Keep the order: whatever was queued before this packet leaves first. */
		send_batch_flush(dev);
		send_packet_from_tun(dev, pkt, len);
	}
	send_batch_flush(dev);
}

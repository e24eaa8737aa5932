/* SPDX-License-Identifier: GPL-2.0 */
/* The userspace receive path: handshake messages, cookie replies, and data decrypted to the TUN. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include "device.h"
#include "crypto.h"
#include "parallel.h"
#include "timers.h"
#include "xwg_ecn.h"

/*
 * Messages sit at any alignment in the receive buffers (segments of a coalesced datagram follow each
 * other at the segment size), so fields are read by offset and memcpy, never through a struct pointer.
 */
static uint32_t receive_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t receive_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t receive_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

#define RECEIVE_PAYLOAD(msg) ((msg) + offsetof(struct message_data, encrypted_data))

static void receive_send_cookie(struct xwg_device *dev, const uint8_t *msg, size_t len,
				const struct sockaddr *src)
{
	struct message_handshake_cookie reply;
	/* sender_index sits at offset 4 in both initiation and response. */
	uint32_t sender_index = receive_u32(msg + 4);

	cookie_message_create(dev, &reply, msg, len, sender_index, src);
	if (!socket_send_to_addr(dev, &reply, sizeof(reply), src))
		dev->cookies_sent++;
}

static void receive_handshake(struct xwg_device *dev, uint8_t *msg, size_t len, uint32_t type,
			      const struct sockaddr *src, const void *local, int ifindex)
{
	enum cookie_mac_state state;
	struct peer *peer;
	bool under_load;

	if (type == MESSAGE_HANDSHAKE_COOKIE) {
		cookie_message_consume(dev, (const struct message_handshake_cookie *)msg);
		return;
	}
	under_load = device_under_load(dev);
	state = cookie_validate_packet(dev, msg, len, src, under_load);
	if (under_load && state == VALID_MAC_BUT_NO_COOKIE) {
		receive_send_cookie(dev, msg, len, src);
		return;
	}
	if (under_load ? state != VALID_MAC_WITH_COOKIE : state != VALID_MAC_BUT_NO_COOKIE)
		return;
	if (under_load && !ratelimiter_allow(dev, src))
		return;
	/*
	 * Only a handshake that gets this far can free keypairs that queued data refers to: finish
	 * the data first.  Flushing for every handshake message would let a flood of them (answered
	 * with cookies above) break the batches of a stream into single messages.
	 */
	receive_flush(dev);

	if (type == MESSAGE_HANDSHAKE_INITIATION) {
		peer = noise_consume_initiation(dev, (const struct message_handshake_initiation *)msg);
		if (!peer)
			return;
		peer->hs_initiations_received++;
		socket_set_peer_endpoint_from_packet(peer, src, local, ifindex);
		send_handshake_response(peer);
	} else {
		peer = noise_consume_response(dev, (const struct message_handshake_response *)msg);
		if (!peer)
			return;
		peer->hs_responses_received++;
		socket_set_peer_endpoint_from_packet(peer, src, local, ifindex);
		if (noise_begin_session(dev, peer) == 0) {
			timers_session_derived(peer);
			timers_handshake_complete(peer);
			/* Key confirmation for the responder: queued data, or else a keepalive. */
			send_keepalive(peer);
		}
	}
	peer->rx_bytes += len;
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer);
}

static bool keypair_can_receive(struct noise_keypair *kp)
{
	/* An offloaded keypair's window is in the map, which refuses counters past the limit itself. */
	if (!kp->receiving_valid || (!kp->offloaded && kp->replay.counter >= REJECT_AFTER_MESSAGES) ||
	    birthdate_has_expired(kp->birthdate, REJECT_AFTER_TIME_S)) {
		kp->receiving_valid = false;
		return false;
	}
	return true;
}

/* The initiator rekeys shortly before the session would be rejected, if traffic still flows. */
static void receive_keep_key_fresh(struct peer *peer)
{
	struct noise_keypair *kp = peer->keypairs.current_keypair;

	if (peer->sent_lastminute_handshake || !kp || !kp->sending_valid || !kp->i_am_the_initiator)
		return;
	if (birthdate_has_expired(kp->birthdate,
				  REJECT_AFTER_TIME_S - KEEPALIVE_TIMEOUT_S - REKEY_TIMEOUT_S)) {
		peer->sent_lastminute_handshake = true;
		send_handshake_initiation(peer, false);
	}
}

/* Length of the IP packet inside a decrypted payload, or 0 if it is not a plausible one. */
static size_t receive_inner_len(const uint8_t *p, size_t len, int *family, const void **src)
{
	if (len >= sizeof(struct iphdr) && (p[0] >> 4) == 4) {
		size_t ihl = (p[0] & 0xf) * 4u, tot = receive_be16(p + offsetof(struct iphdr, tot_len));

		if (ihl < sizeof(struct iphdr) || tot < ihl || tot > len)
			return 0;
		*family = AF_INET;
		*src = p + offsetof(struct iphdr, saddr);
		return tot;
	}
	if (len >= sizeof(struct ip6_hdr) && (p[0] >> 4) == 6) {
		size_t tot = sizeof(struct ip6_hdr) + receive_be16(p + offsetof(struct ip6_hdr, ip6_plen));

		if (tot > len)
			return 0;
		*family = AF_INET6;
		*src = p + offsetof(struct ip6_hdr, ip6_src);
		return tot;
	}
	return 0;
}

/*
 * Data messages are handled per receive batch: receive_data looks the keypair up and queues,
 * receive_flush opens them all on the crypto workers, commits the authenticated counters (one
 * replay-window call per keypair and OFFLOAD_REPLAY_BATCH counters when BPF owns the window) and
 * delivers the fresh ones in arrival order. A queued message stays in the caller's buffer until
 * receive_flush.
 */
struct receive_pending {
	uint8_t *msg;
	size_t len;
	struct noise_keypair *kp;	/* valid until the commit: nothing frees keypairs before it */
	uint32_t index;			/* looked up again for delivery, which may rotate keypairs */
	uint64_t counter;
	struct sockaddr_storage src;
	uint8_t local[16];
	bool has_local, authentic, done, fresh;
	int ifindex;
	uint8_t outer_tos;		/* the datagram's TOS / traffic class, for ECN */
};

/* The agent is one thread serving one device: one queue, empty between socket wakeups. */
static struct receive_pending receive_queue[RECEIVE_BATCH];
static unsigned int receive_queued;

/* Everything after the replay window accepted the packet: endpoint, timers, then the TUN. */
static void receive_data_deliver(struct xwg_device *dev, struct peer *peer, struct noise_keypair *kp,
				 uint8_t *msg, size_t len, const struct sockaddr *src, const void *local,
				 int ifindex, uint8_t outer_tos)
{
	uint8_t *payload = RECEIVE_PAYLOAD(msg);
	size_t plain_len = len - message_data_len(0), inner_len;
	const void *inner_src;
	int family;

	socket_set_peer_endpoint_from_packet(peer, src, local, ifindex);
	if (noise_received_with_keypair(peer, kp)) {
		timers_handshake_complete(peer);
		send_staged_packets(peer);
	}
	receive_keep_key_fresh(peer);
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer);
	peer->rx_bytes += len;
	if (!plain_len) {
		/* keepalive: on the active path of a multi-path peer, maybe the peer's probe (path.h) */
		if (path_multi(&peer->paths))
			path_table_keepalive_received(&peer->paths);
		return;
	}
	path_data_received(peer);
	timers_data_received(peer);

	inner_len = receive_inner_len(payload, plain_len, &family, &inner_src);
	if (!inner_len)
		return;
	/* Cryptokey routing, inbound: the inner source must belong to the peer that holds the key. */
	if (allowedips_lookup(&dev->allowedips, family, inner_src) != peer)
		return;
	/* RFC 6040, as the kernel's INET_ECN_decapsulate: the outer congestion mark moves inward. */
	if (xwg_ecn_decap_header(payload, outer_tos) == XWG_ECN_DROP)
		return;
	tun_write(dev, payload, inner_len);
}

/*
 * Only authenticated counters move a window, and each keypair's window has one owner: the
 * keypair's own (not offloaded) or the map's, reached in one call for all of a keypair's queued
 * counters. If that call fails they are all dropped and counted: never checked against another
 * window, which has not seen what BPF accepted.
 */
static void receive_commit_keypair(struct xwg_device *dev, unsigned int first)
{
	struct noise_keypair *kp = receive_queue[first].kp;
	uint64_t counters[OFFLOAD_REPLAY_BATCH], fresh = 0;
	unsigned int slot[OFFLOAD_REPLAY_BATCH], n = 0;
	int ret;

	for (unsigned int i = first; i < receive_queued && n < OFFLOAD_REPLAY_BATCH; i++) {
		struct receive_pending *e = &receive_queue[i];

		if (e->done || e->kp != kp)
			continue;
		e->done = true;
		if (!e->authentic) {
			dev->rx_dropped++;
			continue;
		}
		if (!kp->offloaded) {
			e->fresh = replay_counter_validate(&kp->replay, e->counter);
			dev->rx_dropped += !e->fresh;
			continue;
		}
		counters[n] = e->counter;
		slot[n++] = i;
	}
	if (!n)
		return;
	ret = offload_replay_commit(kp, counters, n, &fresh);
	if (ret < 0)
		dev->rx_replay_unchecked += n;
	for (unsigned int k = 0; k < n; k++) {
		receive_queue[slot[k]].fresh = ret == 0 && (fresh >> k & 1);
		/* Replayed; an unreachable window is counted above, as AGENT_NO_REPLAY_CHECK. */
		dev->rx_dropped += ret == 0 && !(fresh >> k & 1);
	}
}

/* The agent's share of a peer's traffic; batched: opened with others, the crypto workers could share it. */
static void receive_count(struct peer *peer, size_t len, bool batched)
{
	peer->agent_rx_packets++;
	peer->agent_rx_bytes += len;
	if (batched) {
		peer->batch_rx_packets++;
		peer->batch_rx_bytes += len;
	}
}

/* On a crypto worker: authenticates and decrypts one queued message in place. */
static void receive_open(void *unused, unsigned int i)
{
	struct receive_pending *e = &receive_queue[i];
	uint8_t *payload = RECEIVE_PAYLOAD(e->msg);

	e->authentic = aead_decrypt(payload, payload, e->len - sizeof(struct message_data), NULL, 0,
				    e->counter, e->kp->recv_key) == 0;
}

void receive_flush(struct xwg_device *dev)
{
	unsigned int n = receive_queued;

	parallel_run(receive_open, NULL, n);
	/* A keypair with more than OFFLOAD_REPLAY_BATCH queued counters takes several calls. */
	for (unsigned int i = 0; i < n; i++)
		while (!receive_queue[i].done)
			receive_commit_keypair(dev, i);
	receive_queued = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct receive_pending *e = &receive_queue[i];
		struct index_entry *entry;

		if (!e->fresh)
			continue;
		/* An earlier delivery may have rotated this keypair out (and freed it): then drop. */
		entry = index_table_lookup(&dev->index_table, e->index, INDEX_KEYPAIR);
		if (!entry) {
			dev->rx_dropped++;
			continue;
		}
		/* Counted before delivery, which may drop the inner packet: it was opened all the same. */
		receive_count(entry->peer, e->len, n > 1);
		receive_data_deliver(dev, entry->peer, entry->keypair, e->msg, e->len, (const struct sockaddr *)&e->src,
				     e->has_local ? e->local : NULL, e->ifindex, e->outer_tos);
	}
}

static void receive_data(struct xwg_device *dev, uint8_t *msg, size_t len,
			 const struct sockaddr *src, const void *local, int ifindex, uint8_t outer_tos)
{
	uint32_t index = receive_u32(msg + offsetof(struct message_data, key_idx));
	struct index_entry *entry = index_table_lookup(&dev->index_table, index, INDEX_KEYPAIR);
	struct receive_pending *e;

	if (!entry || !keypair_can_receive(entry->keypair)) {
		dev->rx_dropped++;
		return;
	}
	if (receive_queued == RECEIVE_BATCH)
		receive_flush(dev);
	e = &receive_queue[receive_queued++];
	memset(e, 0, sizeof(*e));
	e->msg = msg;
	e->len = len;
	e->kp = entry->keypair;
	e->index = index;
	e->counter = le64toh(receive_u64(msg + offsetof(struct message_data, counter)));
	memcpy(&e->src, src, src->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	if (local) {
		memcpy(e->local, local, src->sa_family == AF_INET ? 4 : 16);
		e->has_local = true;
	}
	e->ifindex = ifindex;
	e->outer_tos = outer_tos;
}

void receive_packet(struct xwg_device *dev, uint8_t *buf, size_t len, const struct sockaddr *src,
		    const void *local_addr, int local_ifindex, uint8_t outer_tos)
{
	uint32_t type;

	if (len < sizeof(struct message_header)) {
		dev->rx_dropped++;
		return;
	}
	/* Reserved bytes are part of the little-endian type word: any non-zero one makes it unknown. */
	type = le32toh(receive_u32(buf));
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len != sizeof(struct message_handshake_initiation))
			break;
		receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		return;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len != sizeof(struct message_handshake_response))
			break;
		receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		return;
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len != sizeof(struct message_handshake_cookie))
			break;
		receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		return;
	case MESSAGE_DATA:
		if (len < MESSAGE_MINIMUM_LENGTH)
			break;
		receive_data(dev, buf, len, src, local_addr, local_ifindex, outer_tos);
		return;
	}
	/* Unknown type, or the wrong length for its type. */
	dev->rx_dropped++;
}

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
#include "offload.h"
#include "timers.h"
#include "xwg_ecn.h"

static uint32_t receive_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void receive_send_cookie(struct xwg_device *dev, const uint8_t *msg, size_t len,
				const struct sockaddr *src)
{
	struct message_handshake_cookie reply;
	/* sender_index sits at offset 4 in both initiation and response. */
	uint32_t sender_index = receive_u32(msg + 4);

	cookie_message_create(dev, &reply, msg, len, sender_index, src);
	socket_send_to_addr(dev, &reply, sizeof(reply), src);
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

	if (type == MESSAGE_HANDSHAKE_INITIATION) {
		peer = noise_consume_initiation(dev, (const struct message_handshake_initiation *)msg);
		if (!peer)
			return;
		socket_set_peer_endpoint_from_packet(peer, src, local, ifindex);
		send_handshake_response(peer);
	} else {
		peer = noise_consume_response(dev, (const struct message_handshake_response *)msg);
		if (!peer)
			return;
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
	if (!kp->receiving_valid || kp->replay.counter >= REJECT_AFTER_MESSAGES ||
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
		const struct iphdr *ip = (const struct iphdr *)p;
		size_t tot = ntohs(ip->tot_len);

		if (ip->ihl < 5 || tot < (size_t)ip->ihl * 4 || tot > len)
			return 0;
		*family = AF_INET;
		*src = &ip->saddr;
		return tot;
	}
	if (len >= sizeof(struct ip6_hdr) && (p[0] >> 4) == 6) {
		const struct ip6_hdr *ip6 = (const struct ip6_hdr *)p;
		size_t tot = sizeof(*ip6) + ntohs(ip6->ip6_plen);

		if (tot > len)
			return 0;
		*family = AF_INET6;
		*src = &ip6->ip6_src;
		return tot;
	}
	return 0;
}

static void receive_data(struct xwg_device *dev, uint8_t *msg, size_t len,
			 const struct sockaddr *src, const void *local, int ifindex, uint8_t outer_tos)
{
	struct message_data *hdr = (struct message_data *)msg;
	struct index_entry *entry = index_table_lookup(&dev->index_table, receive_u32(msg + 4), INDEX_KEYPAIR);
	size_t plain_len = len - message_data_len(0), inner_len;
	struct noise_keypair *kp;
	struct peer *peer;
	uint64_t counter;
	const void *inner_src;
	int family, ret;

	if (!entry || !keypair_can_receive(entry->keypair))
		return;
	kp = entry->keypair;
	peer = entry->peer;
	counter = le64toh(hdr->counter);
	if (aead_decrypt(hdr->encrypted_data, hdr->encrypted_data, len - sizeof(*hdr), NULL, 0,
			 counter, kp->recv_key) < 0)
		return;
	/* Only an authenticated counter may move the window; BPF's window when BPF shares the keypair. */
	ret = kp->offloaded ? offload_replay_check(kp, counter) : -ENOENT;
	if (ret < 0)
		ret = replay_counter_validate(&kp->replay, counter);
	if (!ret)
		return;
	peer->agent_rx_packets++;

	socket_set_peer_endpoint_from_packet(peer, src, local, ifindex);
	if (noise_received_with_keypair(peer, kp)) {
		timers_handshake_complete(peer);
		send_staged_packets(peer);
	}
	receive_keep_key_fresh(peer);
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer);
	peer->rx_bytes += len;
	if (!plain_len)
		return;	/* keepalive */
	timers_data_received(peer);

	inner_len = receive_inner_len(hdr->encrypted_data, plain_len, &family, &inner_src);
	if (!inner_len)
		return;
	/* Cryptokey routing, inbound: the inner source must belong to the peer that holds the key. */
	if (allowedips_lookup(&dev->allowedips, family, inner_src) != peer)
		return;
	/* RFC 6040, as the kernel's INET_ECN_decapsulate: the outer congestion mark moves inward. */
	if (xwg_ecn_decap_header(hdr->encrypted_data, outer_tos) == XWG_ECN_DROP)
		return;
	if (write(dev->tun_fd, hdr->encrypted_data, inner_len) < 0)
		return;
}

void receive_packet(struct xwg_device *dev, uint8_t *buf, size_t len, const struct sockaddr *src,
		    const void *local_addr, int local_ifindex, uint8_t outer_tos)
{
	uint32_t type;

	if (len < sizeof(struct message_header))
		return;
	/* Reserved bytes are part of the little-endian type word: any non-zero one makes it unknown. */
	type = le32toh(receive_u32(buf));
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len == sizeof(struct message_handshake_initiation))
			receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len == sizeof(struct message_handshake_response))
			receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len == sizeof(struct message_handshake_cookie))
			receive_handshake(dev, buf, len, type, src, local_addr, local_ifindex);
		break;
	case MESSAGE_DATA:
		if (len >= MESSAGE_MINIMUM_LENGTH)
			receive_data(dev, buf, len, src, local_addr, local_ifindex, outer_tos);
		break;
	}
}

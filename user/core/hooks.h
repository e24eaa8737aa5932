/* SPDX-License-Identifier: GPL-2.0 */
/* The protocol core's only door to the data plane: events it reports, and the I/O it asks for. */
#ifndef XWG_HOOKS_H
#define XWG_HOOKS_H

/*
 * Layering rule. user/core/ (noise, cookie, timers, peer, allowed IPs, index table, send, receive)
 * is the protocol: no sockets of its own, no TUN, no libbpf, no BPF maps. It calls outward only
 * through the functions declared here, which the data plane (user/dataplane/) implements; the
 * data plane and control (user/control/) call into the core freely, never the other way round.
 *
 * The core does not mirror anything into BPF. It reports what changed (hooks_peer_changed with
 * PUBLISH_* bits, hooks_peer_removed, hooks_keypair_retired) and the data plane publishes the
 * marked state into its maps once per event-loop turn (offload_publish). Two events cannot
 * wait for the turn to end, because memory goes away right after them: a retired keypair leaves
 * the maps inside hooks_keypair_retired, before the core wipes and frees it, and a removed peer's
 * map slot is taken over by the data plane inside hooks_peer_removed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xwg_device;
struct peer;
struct noise_keypair;
struct sockaddr;
struct endpoint;

/* What changed about a peer since the data plane last published it (peer->publish). */
enum publish_what {
	PUBLISH_ENDPOINT = 1u << 0,	/* endpoint or its sticky source */
	PUBLISH_KEYPAIRS = 1u << 1,	/* a keypair was added, promoted, or may no longer send */
	PUBLISH_ALLOWEDIPS = 1u << 2,	/* the peer's allowed-IPs list changed */
	PUBLISH_SETTINGS = 1u << 3,	/* keepalive interval, last handshake time */
	PUBLISH_ALL = PUBLISH_ENDPOINT | PUBLISH_KEYPAIRS | PUBLISH_ALLOWEDIPS | PUBLISH_SETTINGS,
};

/* Marks what of peer changed; published at the end of the event-loop turn. */
void hooks_peer_changed(struct peer *peer, unsigned int what);
/* peer is about to be freed (its keypairs were already retired): its map slot must go. */
void hooks_peer_removed(struct peer *peer);
/* kp is about to be wiped and freed: nothing may send or receive with it after this returns. */
void hooks_keypair_retired(struct noise_keypair *kp);
/*
 * kp (kp->sending_valid now false) must stop sending at once, not at the end of the turn: the
 * peer's entry stops naming it as current before this returns.
 */
void hooks_keypair_send_invalid(struct noise_keypair *kp);

/*
 * An offloaded keypair's send counter and replay window live in its map entry only (offload_ctl.c).
 * There is no fallback to the keypair's own fields: an error means "unusable", never "use yours".
 */
#define OFFLOAD_RESERVE_BATCH	64	/* counters the agent takes per reservation */
#define OFFLOAD_REPLAY_BATCH	64	/* most counters one replay commit validates */
/* Takes n consecutive send counters; *first is the first. 0, or -errno (-ERANGE: exhausted). */
int offload_reserve_counters(struct noise_keypair *kp, uint32_t n, uint64_t *first);
/*
 * Validates n authenticated counters of kp against its window, in order, in one call: bit i of
 * *fresh is set if counters[i] was fresh (and is now recorded). 0, or -errno: then none is fresh.
 */
int offload_replay_commit(struct noise_keypair *kp, const uint64_t *counters, unsigned int n, uint64_t *fresh);

/* One encrypted data message of a send batch. */
struct socket_msg {
	struct peer *peer;
	const void *buf;
	size_t len;
	uint8_t tos;		/* outer TOS / traffic class (ECN bits) */
};
/*
 * UDP (socket.c): sends a batch of data messages in order. Consecutive messages to one peer with
 * one size (the last may be shorter) leave in one UDP GSO send where the kernel has UDP_SEGMENT.
 */
void socket_send_batch(struct xwg_device *dev, const struct socket_msg *msgs, unsigned int n);
/* UDP (socket.c): send a whole WireGuard message to the peer's endpoint; 0 or -errno. */
int socket_send_to_peer(struct peer *peer, const void *buf, size_t len);
/* The same with the outer TOS / traffic class (ECN bits of a data message, xwg_ecn_encap). */
int socket_send_to_peer_tos(struct peer *peer, const void *buf, size_t len, uint8_t tos);
/* UDP (socket.c): send to ep (one of the peer's paths) rather than the peer's endpoint; 0 or -errno. */
int socket_send_to_endpoint(struct peer *peer, struct endpoint *ep, const void *buf, size_t len);
int socket_send_to_addr(struct xwg_device *dev, const void *buf, size_t len, const struct sockaddr *dst);
/* Records where an authenticated packet came from (and reports PUBLISH_ENDPOINT if it moved). */
void socket_set_peer_endpoint_from_packet(struct peer *peer, const struct sockaddr *src,
					  const void *local_addr, int local_ifindex);
/* TUN (tun.c): hand one decrypted inner packet to the kernel; 0 or -errno. */
int tun_write(struct xwg_device *dev, const void *pkt, size_t len);
/*
 * pkt, read from the TUN, has no peer for its destination, or its peer no endpoint: it is dropped,
 * and the data plane (icmp_send.c) may answer the sender with a destination unreachable, as the
 * kernel's WireGuard does. pkt is only read, and only during the call.
 */
void hooks_packet_unroutable(struct xwg_device *dev, const uint8_t *pkt, size_t len);
/* A multi-path peer's active path changed from path index from (path.h): the data plane logs it. */
void hooks_path_switched(struct peer *peer, unsigned int from);
/* Handshake load (device.c): true while more handshake messages arrive than we answer freely. */
bool device_under_load(struct xwg_device *dev);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* A peer: its keys, handshake, keypairs, endpoint, timers, counters and staged packets. */
#ifndef XWG_PEER_H
#define XWG_PEER_H

#include <stdint.h>
#include <stdbool.h>
#include <time.h>
#include <netinet/in.h>
#include "noise.h"
#include "cookie.h"
#include "allowedips.h"
#include "path.h"

struct xwg_device;

/* Remote address plus the local address it last reached us on ("sticky" source for replies). */
struct endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;				/* sa_family 0 = no endpoint */
	union {
		struct in_addr src4;
		struct in6_addr src6;
	};
	int src_ifindex;
	bool src_valid;
	bool src_pinned;		/* sends leave by src_ifindex (a path over one uplink), not by routing */
};

/* A timer is a monotonic deadline in ns; 0 = not pending. Fired by timers_run(). */
struct xwg_timer {
	uint64_t at;
};

/*
 * The host name an endpoint was configured as (Endpoint = name:port in the file), kept so a peer
 * whose handshakes fail can have it looked up again (reresolve.c decides when; the data plane
 * resolves, off the event loop).
 */
#define ENDPOINT_HOST_MAX 256
struct endpoint_name {
	char host[ENDPOINT_HOST_MAX];	/* "" = the endpoint was given as an address */
	uint16_t port;			/* host order */
	bool learned;			/* an authenticated packet moved the endpoint since: name retired */
	bool resolving;			/* a lookup is out */
	uint64_t not_before;		/* monotonic ns: no lookup before this */
	uint64_t gen;			/* bumped whenever the name changes: older answers are dropped */
};

struct staged_packet {
	size_t len;
	uint8_t data[];
};

struct peer {
	struct peer *next_peer;		/* device list, in creation order */
	struct xwg_device *dev;
	uint64_t internal_id;

	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t static_static[NOISE_PUBLIC_KEY_LEN];
	bool static_static_valid;	/* false: low-order key or no identity: never handshake */

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct cookie latest_cookie;
	struct endpoint endpoint;
	struct endpoint_name endpoint_name;
	struct peer_paths paths;	/* several underlay paths (path.h); peer->endpoint is the active one */

	uint16_t persistent_keepalive_interval;
	uint64_t rx_bytes, tx_bytes;
	struct timespec last_handshake;	/* wall clock of the last completed handshake; 0 = never */
	uint64_t last_sent_handshake;	/* monotonic ns of the last initiation or response sent */

	struct xwg_timer timer_retransmit_handshake;
	struct xwg_timer timer_send_keepalive;
	struct xwg_timer timer_new_handshake;
	struct xwg_timer timer_zero_key_material;
	struct xwg_timer timer_persistent_keepalive;
	unsigned int timer_handshake_attempts;
	bool timer_need_another_keepalive;
	bool sent_lastminute_handshake;

	struct allowedips_list allowedips;	/* this peer's prefixes in dev->allowedips */
	unsigned int publish;		/* enum publish_what: changed since the data plane published */

	/* BPF fast path: slot in the maps (-1: none) and the activity last turned into timer events. */
	int offload_id;
	bool offload_off_logged;	/* the log said it left BPF (and has not said it is back) */
	uint64_t offload_seen_rx, offload_seen_rx_data, offload_seen_tx, offload_seen_tx_data;
	uint64_t offload_seen_rx_endpoint;
	uint64_t agent_rx_packets, agent_tx_packets;	/* transport packets the agent itself handled */
	uint64_t agent_rx_bytes, agent_tx_bytes;	/* and their wire bytes (as rx_bytes/tx_bytes) */
	/* Of those, the ones sealed or opened in a batch with others (the crypto workers could share it). */
	uint64_t batch_rx_packets, batch_tx_packets, batch_rx_bytes, batch_tx_bytes;
	/* Handshake messages, counted on the event loop: sent, and received with a valid handshake. */
	uint64_t hs_initiations_sent, hs_responses_sent, hs_initiations_received, hs_responses_received;
	uint64_t hs_timeouts;		/* initiations that got no answer within REKEY_TIMEOUT */
	uint64_t hs_given_up;		/* handshakes abandoned after MAX_TIMER_HANDSHAKES retries */

	struct staged_packet *staged[MAX_STAGED_PACKETS];	/* ring, oldest dropped when full */
	unsigned int staged_head, staged_count;
};

/* Creates a peer with this public key (caller checked it is new). NULL with errno on failure. */
struct peer *peer_create(struct xwg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
/* Removes it from the device, its allowed IPs and index entries; wipes keys; frees it. */
void peer_remove(struct peer *peer);
void peer_set_preshared_key(struct peer *peer, const uint8_t key[NOISE_SYMMETRIC_KEY_LEN]);
/* An address chosen by the user: it also forgets the name the old one came from (reresolve.h). */
void peer_set_endpoint(struct peer *peer, const struct sockaddr *sa);
/* Only the address (a re-resolved name): the name stays. */
void peer_put_endpoint(struct peer *peer, const struct sockaddr *sa);
/* 0 = off; 0 -> N sends a keepalive at once (as the kernel and wireguard-go do). */
void peer_set_persistent_keepalive(struct peer *peer, uint16_t interval);
/*
 * The peer's allowed IPs: the table plus the change report (a prefix taken from another peer
 * changes that one too). 0 or -errno; removing a prefix the peer does not own is -ENOENT.
 */
int peer_add_allowed_ip(struct peer *peer, int family, const void *addr, uint8_t cidr);
int peer_remove_allowed_ip(struct peer *peer, int family, const void *addr, uint8_t cidr);
void peer_clear_allowed_ips(struct peer *peer);
/* Staged-packet queue while a handshake runs. */
void peer_stage_packet(struct peer *peer, const uint8_t *pkt, size_t len);
void peer_purge_staged(struct peer *peer);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* The xwg device: identity, sockets, TUN, peers, index table, and its event loop. */
#ifndef XWG_DEVICE_H
#define XWG_DEVICE_H

#include <stdint.h>
#include <stdbool.h>
#include <net/if.h>
#include <signal.h>
#include <time.h>
#include "messages.h"
#include "cookie.h"
#include "allowedips.h"
#include "peer.h"
#include "hooks.h"

enum index_type {
	INDEX_HANDSHAKE = 1 << 0,
	INDEX_KEYPAIR = 1 << 1,
};

struct index_entry {
	uint32_t index;			/* 0 = empty slot (0 is never handed out) */
	uint8_t type;			/* enum index_type; a tombstone has index 0 and type != 0 */
	struct peer *peer;
	struct noise_keypair *keypair;
};

struct index_table {
	struct index_entry *slots;
	uint32_t size;			/* power of two */
	uint32_t used;			/* live + tombstones */
};

struct ratelimiter;
struct resolver;
struct vnet_gro;
struct icmp_state;
struct xwg_device;
struct nl_sock;

/*
 * What control (user/control/) lends the event loop, named after the loop's events: the data
 * plane calls these instead of linking to a layer above it.
 */
struct device_control {
	void (*uapi_ready)(struct xwg_device *dev);	/* a client is connecting to the UAPI socket */
	void (*closing)(struct xwg_device *dev);	/* the device goes away: close the UAPI socket */
};

/* What `xwg up` read from the environment for the data path (xwg.8, ENVIRONMENT; control/up.c). */
struct device_tunables {
	unsigned int threads;		/* crypto threads, the loop's included; 0 = one per online CPU */
	bool udp_gso;			/* false: XWG_UDP_GSO=0, datagrams one by one */
	uint32_t rx_bulk_len, tx_bulk_len;	/* auto's thresholds (include/xwg_maps.h) */
	uint32_t reresolve_after_s;	/* failing handshakes this long: look the endpoint name up again; 0 = never */
};

struct xwg_device {
	char ifname[IFNAMSIZ];
	struct device_tunables tune;	/* device_set_tunables, before offload_start / device_run */
	int ifindex;
	int tun_fd;
	int mtu;

	int sock4, sock6;		/* -1 when closed */
	uint16_t listen_port;		/* as bound (0 before the first bind) */
	uint16_t requested_port;	/* as configured (0 = random) */
	uint32_t fwmark;
	bool no_udp_gso;		/* UDP_SEGMENT refused (or !tune.udp_gso): datagrams one by one */
	bool no_udp_gro;		/* receive without UDP_GRO: BPF decrypts after GRO (tc, xdp-generic) */
	bool tun_vnet;			/* the TUN carries virtio-net headers (TSO offloads on) */
	bool tun_uso;			/* ... and UDP segmentation offload (kernel 6.2+) */
	uint64_t tun_write_errors;	/* coalesced writes the TUN refused */
	uint64_t tun_bad_frames;	/* TUN frames vnet_segment could not take apart (dropped) */
	struct vnet_gro *tun_gro;	/* decrypted packets held back to be written coalesced */

	bool has_identity;
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	struct cookie_checker cookie_checker;
	struct ratelimiter *ratelimiter;

	struct peer *peers, *peers_tail;
	size_t num_peers;
	uint64_t next_peer_id;
	struct allowedips allowedips;
	struct index_table index_table;

	uint64_t last_under_load;	/* monotonic ns the handshake load was last high */
	uint32_t handshakes_this_second;
	uint64_t handshake_second;

	int epoll_fd;
	int uapi_fd;			/* listening socket, -1 when none */
	const struct device_control *control;	/* set by control's uapi_listen; NULL without one */
	char uapi_path[108];
	int signal_fd;
	bool running;
	bool paths_dirty;	/* a peer's endpoints changed: pathwatch.c looks for its uplinks again */
	struct offload *offload;	/* BPF fast path, NULL in tun mode */
	struct nl_sock *pathwatch;	/* link/address/route events for multi-path peers (pathwatch.c) */
	struct resolver *resolver;	/* endpoint name lookups off the loop (resolver.c); NULL until one */
	uint64_t resolver_checked;	/* monotonic ns the peers' names were last looked at */
	bool config_changed;		/* a UAPI set ran: the device's own map entry needs a rewrite */
	bool publish_pending;		/* some peer->publish is set (hooks_peer_changed) */
	/* Fail-closed events, shown with the BPF reasons (AGENT_NO_COUNTER, AGENT_NO_REPLAY_CHECK). */
	uint64_t tx_keypair_retired;	/* no send counter: keypair retired, packet kept staged */
	uint64_t rx_replay_unchecked;	/* replay window unreachable: authenticated packet dropped */
	uint64_t rx_dropped;		/* received and dropped: unknown, unauthenticated, replayed (AGENT_RX_DROP) */
	/* No peer or no endpoint (AGENT_UNROUTABLE), and how many got an ICMP error (AGENT_ICMP_UNREACH). */
	uint64_t tx_unroutable;
	uint64_t icmp_unreach_sent;
	struct icmp_state *icmp;	/* icmp_send.c: rate limit, tunnel addresses, IPv4 raw socket */
	/* Cookie replies: sent while under load, and received ones that decrypted (a peer asked us to wait). */
	uint64_t cookies_sent, cookies_received;
};

#define NSEC_PER_SEC 1000000000ULL

/* Monotonic clock in ns: every protocol timer and age is measured with it. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* True once 'seconds' have passed since birthdate (a now_ns() time). */
static inline bool birthdate_has_expired(uint64_t birthdate, uint64_t seconds)
{
	return birthdate + seconds * NSEC_PER_SEC <= now_ns();
}

/* Creates the TUN device and the device state (no sockets yet). 0 or -errno. */
int device_init(struct xwg_device *dev, const char *ifname, int mtu);
/* Tears down everything device_init and later calls created (TUN goes away with its routes). */
void device_uninit(struct xwg_device *dev);
/*
 * Frees the device in this process and closes its fds, leaving the kernel side (persistent TUN,
 * pinned programs and maps) forwarding for the next agent to adopt.
 */
void device_release(struct xwg_device *dev);
/* Blocks SIGTERM, SIGINT and SIGHUP (the stop signals device_run reads from a signalfd); fills mask. */
int device_block_signals(sigset_t *mask);
/* Serves UAPI, packets and timers until SIGTERM/SIGINT or the TUN disappears. 0 or -errno. */
int device_run(struct xwg_device *dev);
/* One turn's timers: BPF's activity first (offload_poll_activity), then timers_run; its timeout. */
int device_run_timers(struct xwg_device *dev);

/* Configuration used by UAPI and the config file. Each returns 0 or -errno. */
int device_set_private_key(struct xwg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);	/* zero = remove */
int device_set_listen_port(struct xwg_device *dev, uint16_t port);	/* binds now; -EADDRINUSE */
int device_set_fwmark(struct xwg_device *dev, uint32_t fwmark);
/* UDP_GRO on the sockets, now and after a rebind (socket.c). */
void device_set_udp_gro(struct xwg_device *dev, bool on);
/* Takes the tunables (before the sockets send and device_run starts the workers). */
void device_set_tunables(struct xwg_device *dev, const struct device_tunables *tune);
struct peer *device_lookup_peer(struct xwg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);
void device_remove_all_peers(struct xwg_device *dev);
/* Adds fd to the event loop; a -1 fd (or no loop yet) is left out. 0 or -errno. */
int device_watch(struct xwg_device *dev, int fd);
/* Closes *fd if open and sets it to -1. */
void device_close_fd(int *fd);

/* Index table (local receiver indices shared by handshakes and keypairs). */
int index_table_init(struct index_table *t);
void index_table_free(struct index_table *t);
/* Picks a fresh random non-zero index for this entry and inserts it. Returns the index (never 0). */
uint32_t index_table_insert(struct index_table *t, uint8_t type, struct peer *peer, struct noise_keypair *kp);
/* Inserts a chosen index (adopting pinned keypairs after a restart). 0, or -EEXIST / -ENOMEM. */
int index_table_insert_at(struct index_table *t, uint32_t index, uint8_t type, struct peer *peer,
			  struct noise_keypair *kp);
/* Re-points an existing index (handshake -> keypair). */
void index_table_replace(struct index_table *t, uint32_t index, uint8_t type, struct noise_keypair *kp);
void index_table_remove(struct index_table *t, uint32_t index);
struct index_entry *index_table_lookup(struct index_table *t, uint32_t index, uint8_t type_mask);

/* UDP receive (socket.c, called by the event loop); the core's socket calls are in hooks.h. */
void socket_receive(struct xwg_device *dev, int fd);

/* Data path (send.c / receive.c). */
void send_packet_from_tun(struct xwg_device *dev, uint8_t *pkt, size_t len);
/*
 * The batched transmit path: routes, numbers and encrypts n inner packets read from the TUN (on
 * every crypto worker, parallel.h) and sends them in order (socket_send_batch). Packets that cannot
 * go in a batch (no session yet, staged packets ahead, oversize) take send_packet_from_tun's path,
 * after what was batched before them.
 */
struct iovec;
void send_packets_from_tun(struct xwg_device *dev, const struct iovec *pkts, unsigned int n);
void send_handshake_initiation(struct peer *peer, bool is_retry);
void send_handshake_response(struct peer *peer);
void send_keepalive(struct peer *peer);
/* One keepalive to ep (a path other than peer->endpoint, path.c), outside the protocol timers. 0 or -errno. */
int send_keepalive_on(struct peer *peer, struct endpoint *ep);
void send_staged_packets(struct peer *peer);
/*
 * Handles one datagram. Data messages are queued (buf must stay untouched) until receive_flush,
 * which decrypts them on the crypto workers, commits their replay checks (one call per keypair)
 * and delivers the fresh ones in order; call it after every batch. At most RECEIVE_BATCH are queued (more flush on their own).
 */
#define RECEIVE_BATCH 512
/* outer_tos: the received datagram's TOS / traffic class, for ECN decapsulation (xwg_ecn.h). */
void receive_packet(struct xwg_device *dev, uint8_t *buf, size_t len, const struct sockaddr *src,
		    const void *local_addr, int local_ifindex, uint8_t outer_tos);
void receive_flush(struct xwg_device *dev);

#endif

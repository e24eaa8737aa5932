/* SPDX-License-Identifier: GPL-2.0 */
/* Several underlay paths per peer: their liveness, and the policy that picks the one carrying data. */
#ifndef XWG_PATH_H
#define XWG_PATH_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

/*
 * A peer with more than one path (Endpoint = a:port, b:port, or a second source heard from) is a
 * multi-path peer; with one it is a plain WireGuard peer and nothing here changes its roaming. The
 * active path's endpoint is the peer's endpoint (peer->endpoint): the handshake, the agent's sends,
 * BPF's transmit path and the batched path all use it and know nothing of the others. The rest of
 * the paths are probed with keepalives while the peer is in use, so their liveness is known before
 * they are needed.
 */
#define PATH_MAX_PER_PEER	4
#define PATH_PROBE_DEFAULT_S	5
#define PATH_RETRY_MIN_NS	(250ULL * 1000000ULL)	/* a preferred path's probes: at most this often */
#define PATH_FAIL_MIN_NS	(300ULL * 1000000ULL)	/* active path: no answer this long = failed */
#define PATH_HYSTERESIS_NS	(2ULL * 1000000000ULL)	/* a recovered preferred path waits this long */
/* For PATH_SETTLE_NS after a switch the new path's fail timeout is at least PATH_GRACE_NS. */
#define PATH_GRACE_NS		(600ULL * 1000000ULL)
#define PATH_SETTLE_NS		(1000ULL * 1000000ULL)
/* A standard peer's packets on a path this soon after our probe there: it roamed, it hears us. */
#define PATH_ROAM_WINDOW_NS	(250ULL * 1000000ULL)

#define PATH_RTT_WINDOW_NS	(10ULL * 1000000000ULL)
/*
 * The peer heard on a standby path while the active one went unanswered this long (or 3 RTT): it
 * moved there. A standard peer that roamed to our probe comes back within a round trip.
 */
#define PATH_MOVED_MIN_NS	(100ULL * 1000000ULL)
/* Data sent this long after the first unanswered packet: traffic is ongoing, no need to confirm. */
#define PATH_ONGOING_NS		(50ULL * 1000000ULL)

enum path_state {
	PATH_UNKNOWN,		/* nothing heard on it yet (or not for a long time) */
	PATH_ACTIVE,		/* carries the data */
	PATH_STANDBY,		/* heard from recently: ready to take over */
	PATH_FAILED,		/* data went unanswered on it, or its underlay went away */
};

enum path_policy {
	PATH_POLICY_FAILOVER,	/* the first live path in configuration order */
	PATH_POLICY_LOWEST_RTT,	/* the live path with the lowest round-trip time */
};

struct path {
	union path_addr {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} remote;
	uint8_t local[16];	/* our address it was heard on (IPv4 in the first 4 bytes) */
	int ifindex;
	bool has_local;		/* learned from the first packet that came over it */
	bool configured;	/* from Endpoint =; false: learned from an authenticated packet */
	bool uplink;		/* over one uplink (a default route): local and ifindex from it, sends pinned */
	uint64_t rank;		/* failover order, lowest first: uplink metric, then Endpoint order */
	bool down;		/* the data plane says its route, link or address is gone */
	uint8_t state;		/* enum path_state */
	uint64_t last_rx_ns, last_tx_ns;	/* authenticated packet received on it; anything sent */
	uint64_t live_since_ns;	/* first packet heard after it was not live; 0 = not live */
	unsigned int live_rx;	/* packets heard since live_since_ns */
	uint64_t probe_ns;	/* our last probe on it (RTT sample on the next packet heard) */
	uint64_t probed_ns;	/* the same, kept after the sample */
	/*
	 * Round-trip time: the smallest probe-to-next-packet sample of the last PATH_RTT_WINDOW_NS
	 * (the next packet may be the peer's own probe rather than the answer: the minimum filters
	 * those out, as BBR's min_rtt does). 0 = no sample yet.
	 */
	uint64_t rtt_ns, rtt_at_ns;
	bool answer_due;	/* a packet arrived on this standby path: answer with one keepalive */
	bool probe_due;		/* the active path is in doubt: probe it before calling it failed */
	uint64_t last_answer_ns;	/* answers at most every half probe interval */
	uint64_t rx_bytes, tx_bytes;	/* the peer's traffic while this path was active, probes too */
};

struct peer_paths {
	struct path p[PATH_MAX_PER_PEER];
	unsigned int n;
	unsigned int active;		/* index into p; meaningful when n > 0 */
	unsigned int last_rx;		/* the path the latest packet came over */
	uint8_t policy;			/* enum path_policy */
	uint16_t probe_interval_s;	/* 0 = PATH_PROBE_DEFAULT_S */
	uint64_t tx_pending_ns;		/* data sent on the active path, nothing heard on it since */
	uint64_t confirm_ns;		/* pending too long with no more data: probed at this time */
	uint64_t last_data_ns;		/* data sent or received: the peer is in use */
	uint64_t switches;		/* times the active path changed */
	uint64_t switched_ns;		/* when it last changed */
	uint64_t seen_rx_bytes, seen_tx_bytes;	/* peer totals already spread over the paths */
};

struct peer;
struct endpoint;
struct xwg_device;

/* ---- the pure part, on struct peer_paths alone (selftests/test_path.c drives it) */

void path_table_init(struct peer_paths *pp);
/* Index of the path to remote (with this local address if both know one), or -1. */
int path_table_find(const struct peer_paths *pp, const struct sockaddr *remote, const void *local);
/* The configured remote endpoints, each once, in their order (uplinks repeat them); how many. */
unsigned int path_table_configured(const struct peer_paths *pp, union path_addr out[PATH_MAX_PER_PEER]);
/* Appends a path; its index, or -ENOSPC (a learned path gives way to nothing). */
int path_table_add(struct peer_paths *pp, const struct sockaddr *remote, bool configured);
/* An authenticated packet arrived over path i at now. */
void path_table_rx(struct peer_paths *pp, unsigned int i, uint64_t now);
/* The last packet (path_table_rx) was data on a standby path: true if the active one failed (moved). */
bool path_table_data_elsewhere(struct peer_paths *pp, uint64_t now);
/* A keepalive arrived on the active path: an xwg peer probing it (answered, rate-limited). */
void path_table_keepalive_received(struct peer_paths *pp);
/* Data (not a keepalive) sent on the active path / received: the peer is in use. */
void path_table_data_sent(struct peer_paths *pp, uint64_t now);
void path_table_data_received(struct peer_paths *pp, uint64_t now);
/* The data plane's verdict on path i's route and addresses. */
void path_table_underlay(struct peer_paths *pp, unsigned int i, bool up, uint64_t now);
/* Liveness: fails the active path if data went unanswered, ages standby paths. */
void path_table_age(struct peer_paths *pp, uint64_t now);
/* The policy's choice of active path at now (may be the current one). */
unsigned int path_table_choose(const struct peer_paths *pp, uint64_t now);
/* Makes i the active path (states follow). */
void path_table_activate(struct peer_paths *pp, unsigned int i, uint64_t now);
uint64_t path_probe_interval_ns(const struct peer_paths *pp);
/* True while the peer was in use within two probe intervals: only then are paths probed. */
bool path_table_in_use(const struct peer_paths *pp, uint64_t now);
const char *path_state_name(enum path_state s);
const char *path_policy_name(enum path_policy p);
int path_policy_parse(const char *s, enum path_policy *out);

/*
 * Uplinks: with two default routes or more (Wi-Fi and a phone tether, a gateway's two providers),
 * a configured endpoint reached by a default route gets one path over each, its local address
 * the one the kernel would use there and its packets pinned to the interface, ranked by the
 * routes' metrics. The data plane lists them (pathwatch.c); what is gone later is marked down,
 * never removed: the table's indices stay put.
 */
struct path_uplink {
	int ifindex;
	uint32_t metric;
	uint8_t local[16];	/* IPv4 in the first 4 bytes */
};

/* ---- the peer's side: the active path is peer->endpoint */

static inline bool path_multi(const struct peer_paths *pp)
{
	return pp->n > 1;
}

/* Resets the table to the peer's one configured endpoint (wg set endpoint): a plain peer again. */
void path_reset(struct peer *peer);
/* Adds a configured endpoint; the first one becomes the peer's endpoint. 0 or -errno. */
int path_add_endpoint(struct peer *peer, const struct sockaddr *sa);
/*
 * An authenticated packet came from ep: records it on its path (adding a learned one). True if the
 * caller should move peer->endpoint to ep, as plain WireGuard roaming does (a one-path peer always,
 * the active path when it learned its local address); false: the packet was a standby path's.
 */
bool path_received(struct peer *peer, const struct endpoint *ep);
/* The agent received data from the peer (after path_received): follows a peer that moved. */
void path_data_received(struct peer *peer);
/* BPF saw an authenticated packet from exactly the published endpoint at time t. */
void path_active_received(struct peer *peer, uint64_t t);
/* The peer's byte totals (agent and BPF): the growth since last time goes to the active path. */
void path_account(struct peer *peer, uint64_t rx_bytes, uint64_t tx_bytes);
/* One turn: ages, applies the policy, sends probes and answers. ms until it wants to run again, -1: never. */
int path_run(struct xwg_device *dev);
/* Gives remote (a configured endpoint) one path per uplink in ul (best first); returns paths added. */
int path_set_uplinks(struct peer *peer, const struct sockaddr *remote, const struct path_uplink *ul,
		     unsigned int n);
/* The path endpoint as a struct endpoint (for sending on it). */
void path_to_endpoint(const struct path *path, struct endpoint *ep);

#endif

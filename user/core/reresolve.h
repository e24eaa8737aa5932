/* SPDX-License-Identifier: GPL-2.0 */
/* When a peer's configured endpoint name is looked up again, and what its answer changes. */
#ifndef XWG_RERESOLVE_H
#define XWG_RERESOLVE_H

#include <stdbool.h>
#include <stdint.h>

struct peer;
struct sockaddr;
struct endpoint;

/*
 * wireguard-tools' contrib/reresolve-dns runs every 30 s and looks a name up again once the latest
 * handshake is older than 135 s; the agent does the same from its own handshake state.
 */
#define RERESOLVE_AFTER_S_DEFAULT 135
#define RERESOLVE_RETRY_S 30

enum reresolve_result {
	RERESOLVE_STALE,	/* the name changed, was retired or the lookup was not ours: ignored */
	RERESOLVE_FAILED,	/* the lookup failed: the endpoint stays */
	RERESOLVE_SAME,		/* the name still gives the endpoint we have */
	RERESOLVE_CHANGED,	/* the endpoint moved to the new address; a handshake was started */
};

/* The endpoint was configured as host:port (after peer_set_endpoint set its address). -EINVAL: too long. */
int reresolve_set_name(struct peer *peer, const char *host, uint16_t port);
/* The endpoint is an address now (UAPI set, or roaming): no lookup is started again. */
void reresolve_clear_name(struct peer *peer);
/* An authenticated packet came from somewhere: if the address moved off old, the name is retired. */
void reresolve_packet_moved(struct peer *peer, const struct endpoint *old);
/*
 * True when the name should be looked up now: it is in use (not retired, no lookup out), the peer
 * is trying to handshake (an initiation waits for its answer), no handshake completed in the last
 * after_s seconds (wall clock, like `wg show latest-handshakes`), and not_before has passed.
 * after_s 0 = never. now: monotonic ns; wall_now: seconds since the epoch.
 */
bool reresolve_due(const struct peer *peer, uint64_t now, int64_t wall_now, uint32_t after_s);
/* A lookup of peer's name goes out now; the next waits RERESOLVE_RETRY_S (or after_s, if shorter). */
void reresolve_started(struct peer *peer, uint64_t now, uint32_t after_s);
/*
 * The answer for the lookup started at generation gen: sa, or NULL when it failed. A new address
 * replaces the endpoint and restarts the handshake at once.
 */
enum reresolve_result reresolve_finished(struct peer *peer, uint64_t gen, const struct sockaddr *sa);

#endif

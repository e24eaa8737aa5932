/* SPDX-License-Identifier: GPL-2.0 */
/* Re-resolving a peer's configured endpoint name: when to look it up, and applying the answer. */
#include <errno.h>
#include <string.h>
#include "device.h"
#include "reresolve.h"

int reresolve_set_name(struct peer *peer, const char *host, uint16_t port)
{
	struct endpoint_name *n = &peer->endpoint_name;
	size_t len = strlen(host);

	if (!len || len >= sizeof(n->host))
		return -EINVAL;
	reresolve_clear_name(peer);
	memcpy(n->host, host, len + 1);
	n->port = port;
	/* It was just resolved: the first lookup waits as long as a handshake may fail. */
	n->not_before = now_ns() + (uint64_t)peer->dev->tune.reresolve_after_s * NSEC_PER_SEC;
	return 0;
}

void reresolve_clear_name(struct peer *peer)
{
	struct endpoint_name *n = &peer->endpoint_name;
	uint64_t gen = n->gen + 1;

	memset(n, 0, sizeof(*n));
	n->gen = gen;
}

static bool reresolve_same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port && a6->sin6_scope_id == b6->sin6_scope_id &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
	return false;
}

void reresolve_packet_moved(struct peer *peer, const struct endpoint *old)
{
	struct endpoint_name *n = &peer->endpoint_name;

	/* Roaming: the peer itself says where it is now, which beats any name (until set again). */
	if (n->host[0] && !reresolve_same_addr(&old->addr.sa, &peer->endpoint.addr.sa))
		n->learned = true;
}

static bool reresolve_trying(const struct peer *peer)
{
	return peer->timer_retransmit_handshake.at != 0;
}

bool reresolve_due(const struct peer *peer, uint64_t now, int64_t wall_now, uint32_t after_s)
{
	const struct endpoint_name *n = &peer->endpoint_name;
	int64_t last = peer->last_handshake.tv_sec;

	if (!after_s || !n->host[0] || n->learned || n->resolving || !reresolve_trying(peer))
		return false;
	if (now < n->not_before)
		return false;
	/* Never: the start-up lookup's address has had its chance since not_before was set. */
	return !last || wall_now - last >= (int64_t)after_s;
}

void reresolve_started(struct peer *peer, uint64_t now, uint32_t after_s)
{
	uint32_t retry = after_s < RERESOLVE_RETRY_S ? after_s : RERESOLVE_RETRY_S;

	peer->endpoint_name.resolving = true;
	peer->endpoint_name.not_before = now + (uint64_t)retry * NSEC_PER_SEC;
}

enum reresolve_result reresolve_finished(struct peer *peer, uint64_t gen, const struct sockaddr *sa)
{
	struct endpoint_name *n = &peer->endpoint_name;

	if (gen != n->gen)
		return RERESOLVE_STALE;
	n->resolving = false;
	if (!n->host[0] || n->learned)
		return RERESOLVE_STALE;
	if (!sa)
		return RERESOLVE_FAILED;
	if (reresolve_same_addr(sa, &peer->endpoint.addr.sa))
		return RERESOLVE_SAME;
	peer_put_endpoint(peer, sa);
	/* The old address is why the handshakes failed: try the new one now, not at the next retry. */
	peer->last_sent_handshake = 0;
	send_handshake_initiation(peer, false);
	return RERESOLVE_CHANGED;
}

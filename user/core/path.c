/* SPDX-License-Identifier: GPL-2.0 */
/* A peer's underlay paths: liveness from authenticated packets, the failover policy, probes. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "device.h"
#include "path.h"

#define NSEC_PER_MSEC 1000000ULL
/* How often the loop looks at a peer in use: the failure timeout is 300 ms. */
#define PATH_TICK_MS 50

/* ---- the table */

void path_table_init(struct peer_paths *pp)
{
	uint8_t policy = pp->policy;
	uint16_t probe = pp->probe_interval_s;

	memset(pp, 0, sizeof(*pp));
	pp->policy = policy;
	pp->probe_interval_s = probe;
}

uint64_t path_probe_interval_ns(const struct peer_paths *pp)
{
	return (uint64_t)(pp->probe_interval_s ? pp->probe_interval_s : PATH_PROBE_DEFAULT_S) * NSEC_PER_SEC;
}

static size_t path_addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool path_remote_equal(const union path_addr *a, const struct sockaddr *b)
{
	if (a->sa.sa_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)b;

		return a->in4.sin_port == x->sin_port && a->in4.sin_addr.s_addr == x->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)b;

		return a->in6.sin6_port == x->sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &x->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

int path_table_find(const struct peer_paths *pp, const struct sockaddr *remote, const void *local)
{
	for (unsigned int i = 0; i < pp->n; i++) {
		const struct path *p = &pp->p[i];

		if (!path_remote_equal(&p->remote, remote))
			continue;
		if (local && p->has_local && memcmp(p->local, local, path_addr_len(remote->sa_family)))
			continue;
		return (int)i;
	}
	return -1;
}

unsigned int path_table_configured(const struct peer_paths *pp, union path_addr out[PATH_MAX_PER_PEER])
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < pp->n; i++) {
		bool seen = !pp->p[i].configured;

		for (unsigned int k = 0; k < n && !seen; k++)
			seen = path_remote_equal(&out[k], &pp->p[i].remote.sa);
		if (!seen)
			out[n++] = pp->p[i].remote;
	}
	return n;
}

int path_table_add(struct peer_paths *pp, const struct sockaddr *remote, bool configured)
{
	struct path *p;

	if (remote->sa_family != AF_INET && remote->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (pp->n == PATH_MAX_PER_PEER)
		return -ENOSPC;
	p = &pp->p[pp->n];
	memset(p, 0, sizeof(*p));
	memcpy(&p->remote, remote, remote->sa_family == AF_INET ? sizeof(p->remote.in4) : sizeof(p->remote.in6));
	p->configured = configured;
	/* Configured paths in the order given, learned ones after them. */
	p->rank = configured ? pp->n : UINT64_MAX;
	p->state = pp->n ? PATH_UNKNOWN : PATH_ACTIVE;
	return (int)pp->n++;
}

static bool path_usable(const struct path *p)
{
	return !p->down && p->state != PATH_FAILED;
}

/* Unanswered this long on the active path, with the peer heard on another: it moved there. */
static uint64_t path_moved_after(const struct path *active)
{
	return 3 * active->rtt_ns > PATH_MOVED_MIN_NS ? 3 * active->rtt_ns : PATH_MOVED_MIN_NS;
}

static void path_table_fail_active(struct peer_paths *pp)
{
	struct path *a = &pp->p[pp->active];

	pp->tx_pending_ns = pp->confirm_ns = 0;
	a->state = PATH_FAILED;
	a->live_since_ns = 0;
}

void path_table_rx(struct peer_paths *pp, unsigned int i, uint64_t now)
{
	struct path *p = &pp->p[i];
	uint64_t sample;

	p->last_rx_ns = now;
	pp->last_rx = i;
	if (!p->live_since_ns) {
		p->live_since_ns = now;
		p->live_rx = 0;
	}
	p->live_rx++;
	/* The first packet after a probe answers it, roughly: a sample for the round-trip time. */
	if (p->probe_ns && now >= p->probe_ns && now - p->probe_ns < path_probe_interval_ns(pp)) {
		sample = now - p->probe_ns;
		if (!p->rtt_ns || sample < p->rtt_ns || now - p->rtt_at_ns > PATH_RTT_WINDOW_NS) {
			p->rtt_ns = sample;
			p->rtt_at_ns = now;
		}
		p->probe_ns = 0;
	}
	if (i == pp->active) {
		pp->tx_pending_ns = pp->confirm_ns = 0;
		p->state = PATH_ACTIVE;
		return;
	}
	p->state = PATH_STANDBY;
	p->answer_due = true;
	/*
	 * A standard peer answers on the path we last sent on: shortly after a probe here and before
	 * our next packet on the active path, what it sends arrives here, and proves it hears us. Only
	 * if the active path was heard from just before the probe: else this is a peer that moved
	 * here because the active path is dead.
	 */
	if (p->probed_ns > pp->p[pp->active].last_tx_ns && now - p->probed_ns < PATH_ROAM_WINDOW_NS &&
	    pp->p[pp->active].last_rx_ns + PATH_FAIL_MIN_NS > p->probed_ns)
		pp->tx_pending_ns = pp->confirm_ns = 0;
}

/*
 * Data (not a probe: keepalives) came in over a standby path while what we sent on the active
 * path has gone unanswered for longer than a round trip: the peer moved (an xwg peer failed over,
 * a standard one roamed for good). Fails the active path now rather than at our own timeout.
 */
bool path_table_data_elsewhere(struct peer_paths *pp, uint64_t now)
{
	if (!pp->n || pp->last_rx == pp->active || !pp->tx_pending_ns ||
	    now - pp->tx_pending_ns <= path_moved_after(&pp->p[pp->active]) || !path_usable(&pp->p[pp->last_rx]))
		return false;
	path_table_fail_active(pp);
	return true;
}

void path_table_keepalive_received(struct peer_paths *pp)
{
	if (pp->n && pp->last_rx == pp->active)
		pp->p[pp->active].answer_due = true;
}

void path_table_data_sent(struct peer_paths *pp, uint64_t now)
{
	pp->last_data_ns = now;
	if (!pp->tx_pending_ns)
		pp->tx_pending_ns = now;
	if (pp->n)
		pp->p[pp->active].last_tx_ns = now;
}

void path_table_data_received(struct peer_paths *pp, uint64_t now)
{
	pp->last_data_ns = now;
}

void path_table_underlay(struct peer_paths *pp, unsigned int i, bool up, uint64_t now)
{
	struct path *p = &pp->p[i];

	if (up == !p->down)
		return;
	p->down = !up;
	p->live_since_ns = 0;
	p->probe_ns = 0;
	if (!up) {
		p->state = PATH_FAILED;
		if (i == pp->active)
			pp->tx_pending_ns = 0;
		return;
	}
	/*
	 * Back: probed at the next turn, and counted as heard from now on. A standard peer answers
	 * probes only by roaming, which the next packet on the active path undoes at once, so its
	 * answers on this path are a matter of luck; the underlay's return is the better evidence. The
	 * hysteresis still applies, and if the path is broken further on, data unanswered fails it.
	 */
	p->state = i == pp->active ? PATH_ACTIVE : PATH_STANDBY;
	p->last_tx_ns = 0;
	p->last_rx_ns = p->live_since_ns = now;
	p->live_rx = 2;
}

/*
 * The active path fails when what we sent on it goes unanswered: max(3 RTT, 300 ms). Right after
 * a switch the peer may still answer on the old path until it follows (its own timeout, or its
 * policy): the new path gets PATH_GRACE_NS then, so that two ends do not race each other back.
 */
static uint64_t path_fail_timeout(const struct peer_paths *pp, const struct path *p, uint64_t now)
{
	uint64_t t = 3 * p->rtt_ns > PATH_FAIL_MIN_NS ? 3 * p->rtt_ns : PATH_FAIL_MIN_NS;

	if (pp->switched_ns && now - pp->switched_ns < PATH_SETTLE_NS && t < PATH_GRACE_NS)
		t = PATH_GRACE_NS;
	return t;
}

/* A standby path not heard from in two probe intervals (and a second) is no longer known live. */
static uint64_t path_stale_after(const struct peer_paths *pp)
{
	return 2 * path_probe_interval_ns(pp) + NSEC_PER_SEC;
}

void path_table_age(struct peer_paths *pp, uint64_t now)
{
	struct path *a = &pp->p[pp->active];
	uint64_t timeout;

	if (!pp->n)
		return;
	timeout = path_fail_timeout(pp, a, now);

	/*
	 * Unanswered data fails the path at once while more keeps going out; a last packet that needs
	 * no answer (a final ACK) gets one probe first, which an xwg peer answers. The probe goes out
	 * early (after a round trip or so): a TCP sender whose window ran out stops sending too, and
	 * its retransmissions back off (0.2, 0.6, 1.4 s); the answer still gets the whole timeout.
	 */
	if (pp->tx_pending_ns && now - pp->tx_pending_ns > path_moved_after(a) && !pp->confirm_ns &&
	    a->last_tx_ns < pp->tx_pending_ns + PATH_ONGOING_NS) {
		pp->confirm_ns = now;
		a->probe_due = true;
	} else if (pp->tx_pending_ns && now - pp->tx_pending_ns > timeout &&
		   (!pp->confirm_ns || now - pp->confirm_ns > timeout)) {
		path_table_fail_active(pp);
	}
	for (unsigned int i = 0; i < pp->n; i++) {
		struct path *p = &pp->p[i];

		if (i != pp->active && p->state == PATH_STANDBY && now - p->last_rx_ns > path_stale_after(pp)) {
			p->state = PATH_UNKNOWN;
			p->live_since_ns = 0;
		}
	}
}

/* Live long enough to take traffic over from a working path: hysteresis against flapping. */
static bool path_stable(const struct peer_paths *pp, unsigned int i, uint64_t now)
{
	const struct path *p = &pp->p[i];

	return path_usable(p) && p->state == PATH_STANDBY && p->live_since_ns && p->live_rx >= 2 &&
	       now - p->live_since_ns >= PATH_HYSTERESIS_NS;
}

/* The live path with the lowest RTT (no sample counts as worst); -1 if none. */
static int path_lowest_rtt(const struct peer_paths *pp, bool stable_only, uint64_t now)
{
	int best = -1;

	for (unsigned int i = 0; i < pp->n; i++) {
		const struct path *p = &pp->p[i];

		if (i == pp->active || p->state != PATH_STANDBY || !path_usable(p))
			continue;
		if (stable_only && !path_stable(pp, i, now))
			continue;
		if (best < 0 || (p->rtt_ns && (!pp->p[best].rtt_ns || p->rtt_ns < pp->p[best].rtt_ns)))
			best = (int)i;
	}
	return best;
}

/* The first path in failover order (rank) that is not the active one and passes ok(); -1 if none. */
static int path_first(const struct peer_paths *pp, uint64_t now,
		      bool (*ok)(const struct peer_paths *pp, unsigned int i, uint64_t now))
{
	int best = -1;

	for (unsigned int i = 0; i < pp->n; i++)
		if (i != pp->active && ok(pp, i, now) && (best < 0 || pp->p[i].rank < pp->p[best].rank))
			best = (int)i;
	return best;
}

static bool path_live(const struct peer_paths *pp, unsigned int i, uint64_t now)
{
	return pp->p[i].state == PATH_STANDBY && path_usable(&pp->p[i]);
}

static bool path_not_broken(const struct peer_paths *pp, unsigned int i, uint64_t now)
{
	return path_usable(&pp->p[i]);
}

/* The active path is gone: the best live one, else any not known broken, else stay. */
static unsigned int path_choose_replacement(const struct peer_paths *pp, uint64_t now)
{
	int best = -1;

	if (pp->policy == PATH_POLICY_LOWEST_RTT)
		best = path_lowest_rtt(pp, false, now);
	if (best < 0)
		best = path_first(pp, now, path_live);
	if (best < 0)
		best = path_first(pp, now, path_not_broken);
	return best < 0 ? pp->active : (unsigned int)best;
}

unsigned int path_table_choose(const struct peer_paths *pp, uint64_t now)
{
	const struct path *a = &pp->p[pp->active];
	int best;

	if (pp->n < 2)
		return pp->active;
	if (!path_usable(a))
		return path_choose_replacement(pp, now);
	if (pp->policy == PATH_POLICY_LOWEST_RTT) {
		best = path_lowest_rtt(pp, true, now);
		/* A quarter better, so that two similar paths do not take turns. */
		if (best >= 0 && pp->p[best].rtt_ns && (!a->rtt_ns || pp->p[best].rtt_ns * 5 / 4 < a->rtt_ns))
			return (unsigned int)best;
		return pp->active;
	}
	/* Failover: a stable path before the active one in the order takes over. */
	best = path_first(pp, now, path_stable);
	if (best >= 0 && pp->p[best].rank < a->rank)
		return (unsigned int)best;
	return pp->active;
}

void path_table_activate(struct peer_paths *pp, unsigned int i, uint64_t now)
{
	struct path *old = &pp->p[pp->active];

	if (i == pp->active || i >= pp->n)
		return;
	if (old->state == PATH_ACTIVE)
		old->state = old->live_since_ns ? PATH_STANDBY : PATH_UNKNOWN;
	pp->active = i;
	pp->p[i].state = PATH_ACTIVE;
	pp->tx_pending_ns = pp->confirm_ns = 0;
	pp->switched_ns = now;
	pp->switches++;
}

bool path_table_in_use(const struct peer_paths *pp, uint64_t now)
{
	return pp->last_data_ns && now - pp->last_data_ns < 2 * path_probe_interval_ns(pp);
}

const char *path_state_name(enum path_state s)
{
	static const char *const names[] = { "unknown", "active", "standby", "failed" };

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *path_policy_name(enum path_policy p)
{
	return p == PATH_POLICY_LOWEST_RTT ? "lowest-rtt" : "failover";
}

int path_policy_parse(const char *s, enum path_policy *out)
{
	if (!strcasecmp(s, "failover"))
		*out = PATH_POLICY_FAILOVER;
	else if (!strcasecmp(s, "lowest-rtt"))
		*out = PATH_POLICY_LOWEST_RTT;
	else
		return -EINVAL;
	return 0;
}

/* ---- the peer: the active path is peer->endpoint */

void path_to_endpoint(const struct path *path, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	memcpy(&ep->addr, &path->remote, sizeof(path->remote));
	if (!path->has_local)
		return;
	memcpy(path->remote.sa.sa_family == AF_INET ? (void *)&ep->src4 : (void *)&ep->src6, path->local,
	       path_addr_len(path->remote.sa.sa_family));
	ep->src_ifindex = path->ifindex;
	ep->src_valid = true;
	ep->src_pinned = path->uplink;
}

static void path_send(struct peer *peer, unsigned int i, bool probe, uint64_t now);

/* The data plane sends where peer->endpoint says: point it at the active path. */
static void path_publish_active(struct peer *peer)
{
	struct endpoint ep;

	path_to_endpoint(&peer->paths.p[peer->paths.active], &ep);
	if (!memcmp(&ep, &peer->endpoint, sizeof(ep)))
		return;
	peer->endpoint = ep;
	hooks_peer_changed(peer, PUBLISH_ENDPOINT);
}

static void path_select(struct peer *peer, uint64_t now)
{
	unsigned int i = path_table_choose(&peer->paths, now);

	if (i == peer->paths.active)
		return;
	{
	unsigned int from = peer->paths.active;

	path_table_activate(&peer->paths, i, now);
	path_publish_active(peer);
	hooks_path_switched(peer, from);
	/*
	 * Tell the peer at once: a standard one roams to the new path with this keepalive (else it
	 * would keep sending into the old one while we have nothing to send), an xwg one hears it.
	 */
	path_send(peer, i, true, now);
	}
}

void path_reset(struct peer *peer)
{
	path_table_init(&peer->paths);
	peer->dev->paths_dirty = true;
}

int path_add_endpoint(struct peer *peer, const struct sockaddr *sa)
{
	int ret = path_table_find(&peer->paths, sa, NULL);

	peer->dev->paths_dirty = true;
	if (ret >= 0)
		return 0;
	ret = path_table_add(&peer->paths, sa, true);
	if (ret < 0)
		return ret;
	if (ret == 0)
		path_publish_active(peer);
	return 0;
}

/* A learned path when the table is full takes the place of the oldest learned one not in use. */
static int path_add_learned(struct peer_paths *pp, const struct sockaddr *remote)
{
	int victim = -1, ret = path_table_add(pp, remote, false);

	if (ret >= 0)
		return ret;
	for (unsigned int i = 0; i < pp->n; i++)
		if (!pp->p[i].configured && i != pp->active &&
		    (victim < 0 || pp->p[i].last_rx_ns < pp->p[victim].last_rx_ns))
			victim = (int)i;
	if (victim < 0)
		return -ENOSPC;
	memset(&pp->p[victim], 0, sizeof(pp->p[victim]));
	memcpy(&pp->p[victim].remote, remote,
	       remote->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	pp->p[victim].rank = UINT64_MAX;
	return victim;
}

bool path_received(struct peer *peer, const struct endpoint *ep)
{
	struct peer_paths *pp = &peer->paths;
	const void *local = NULL;
	struct path *p;
	int i;

	if (!path_multi(pp))
		return true;
	if (ep->src_valid)
		local = ep->addr.sa.sa_family == AF_INET ? (const void *)&ep->src4 : (const void *)&ep->src6;
	i = path_table_find(pp, &ep->addr.sa, local);
	if (i < 0)
		i = path_add_learned(pp, &ep->addr.sa);
	if (i < 0)
		return false;
	p = &pp->p[i];
	/* An uplink's path keeps the address and interface its route gave (replies may come in elsewhere). */
	if (local && !p->uplink && (!p->has_local || p->ifindex != ep->src_ifindex)) {
		memcpy(p->local, local, path_addr_len(ep->addr.sa.sa_family));
		p->ifindex = ep->src_ifindex;
		p->has_local = true;
		if ((unsigned int)i == pp->active)
			path_publish_active(peer);
	}
	path_table_rx(pp, (unsigned int)i, now_ns());
	/* A live path may be what the policy waited for (the active one failed): switch now. */
	path_select(peer, now_ns());
	return false;
}

/* Index of remote's path over uplink ifindex (0: the configured one not over an uplink yet), or -1. */
static int path_find_uplink(const struct peer_paths *pp, const struct sockaddr *remote, int ifindex)
{
	for (unsigned int i = 0; i < pp->n; i++) {
		const struct path *p = &pp->p[i];

		if (p->configured && path_remote_equal(&p->remote, remote) &&
		    (ifindex ? p->uplink && p->ifindex == ifindex : !p->uplink))
			return (int)i;
	}
	return -1;
}

int path_set_uplinks(struct peer *peer, const struct sockaddr *remote, const struct path_uplink *ul,
		     unsigned int n)
{
	struct peer_paths *pp = &peer->paths;
	size_t len = path_addr_len(remote->sa_family);
	uint64_t order = 0;
	int added = 0;

	for (unsigned int i = 0; i < pp->n; i++)
		if (pp->p[i].configured && path_remote_equal(&pp->p[i].remote, remote)) {
			order = pp->p[i].rank & 0xff;
			break;
		}
	for (unsigned int k = 0; k < n; k++) {
		int i = path_find_uplink(pp, remote, ul[k].ifindex);
		struct path *p;
		bool changed;

		/* The first uplink takes the endpoint's own path over; the others are new. */
		if (i < 0)
			i = path_find_uplink(pp, remote, 0);
		if (i < 0) {
			i = path_table_add(pp, remote, true);
			if (i < 0)
				break;
			added++;
		}
		p = &pp->p[i];
		changed = !p->uplink || p->ifindex != ul[k].ifindex || memcmp(p->local, ul[k].local, len);
		p->uplink = p->has_local = true;
		p->ifindex = ul[k].ifindex;
		memcpy(p->local, ul[k].local, len);
		p->rank = (uint64_t)ul[k].metric << 8 | order;
		if (changed && (unsigned int)i == pp->active)
			path_publish_active(peer);
	}
	return added;
}

void path_data_received(struct peer *peer)
{
	struct peer_paths *pp = &peer->paths;
	uint64_t now;

	/* Per data packet: only a packet over a standby path with ours pending costs a clock read. */
	if (!path_multi(pp) || pp->last_rx == pp->active || !pp->tx_pending_ns)
		return;
	now = now_ns();
	if (path_table_data_elsewhere(pp, now))
		path_select(peer, now);
}

void path_active_received(struct peer *peer, uint64_t t)
{
	if (path_multi(&peer->paths))
		path_table_rx(&peer->paths, peer->paths.active, t);
}

void path_account(struct peer *peer, uint64_t rx_bytes, uint64_t tx_bytes)
{
	struct peer_paths *pp = &peer->paths;
	struct path *a = &pp->p[pp->active];

	if (!pp->n)
		return;
	if (rx_bytes >= pp->seen_rx_bytes)
		a->rx_bytes += rx_bytes - pp->seen_rx_bytes;
	if (tx_bytes >= pp->seen_tx_bytes)
		a->tx_bytes += tx_bytes - pp->seen_tx_bytes;
	pp->seen_rx_bytes = rx_bytes;
	pp->seen_tx_bytes = tx_bytes;
}

/* One keepalive on path i: a probe (its answer times the path) or the answer to the peer's. */
static void path_send(struct peer *peer, unsigned int i, bool probe, uint64_t now)
{
	struct path *p = &peer->paths.p[i];
	struct endpoint ep;

	path_to_endpoint(p, &ep);
	p->last_tx_ns = now;
	if (send_keepalive_on(peer, &ep) < 0)
		return;
	if (probe)
		p->probe_ns = p->probed_ns = now;
}

/*
 * How often path i is probed while the peer is in use. A path that failover prefers to the active
 * one is probed four times as often (not below PATH_RETRY_MIN_NS): a standard peer answers a probe
 * only by roaming, until our next packet on the active path brings it back, so each probe has a
 * small chance of an answer, and those answers are what its return waits for.
 */
static uint64_t path_probe_every(const struct peer_paths *pp, unsigned int i)
{
	uint64_t every = path_probe_interval_ns(pp);

	if (pp->policy == PATH_POLICY_FAILOVER && i != pp->active && pp->p[i].rank < pp->p[pp->active].rank)
		return every / 4 > PATH_RETRY_MIN_NS ? every / 4 : PATH_RETRY_MIN_NS;
	return every;
}

static void path_run_peer(struct peer *peer, uint64_t now)
{
	struct peer_paths *pp = &peer->paths;
	uint64_t every = path_probe_interval_ns(pp);
	bool in_use = path_table_in_use(pp, now);

	path_table_age(pp, now);
	path_select(peer, now);
	for (unsigned int i = 0; i < pp->n; i++) {
		struct path *p = &pp->p[i];
		bool probe = i != pp->active || pp->policy == PATH_POLICY_LOWEST_RTT;

		if (p->down) {
			p->answer_due = p->probe_due = false;
			continue;
		}
		/* At most one answer per half interval each way: two xwg ends never ping-pong for long. */
		if (p->answer_due && now - p->last_answer_ns >= every / 2) {
			p->last_answer_ns = now;
			path_send(peer, i, false, now);
		} else if (p->probe_due || (in_use && probe && now - p->last_tx_ns >= path_probe_every(pp, i))) {
			path_send(peer, i, true, now);
		}
		p->answer_due = p->probe_due = false;
	}
}

int path_run(struct xwg_device *dev)
{
	uint64_t now = now_ns();
	bool busy = false;

	for (struct peer *peer = dev->peers; peer; peer = peer->next_peer) {
		if (!path_multi(&peer->paths))
			continue;
		path_run_peer(peer, now);
		busy |= path_table_in_use(&peer->paths, now) || peer->paths.tx_pending_ns;
	}
	return busy ? PATH_TICK_MS : -1;
}

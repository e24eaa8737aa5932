/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the BPF path back: counters, ring-buffer events, and its activity replayed into the timers. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"
#include "reresolve.h"
#include "timers.h"

/* Timer granularity for BPF traffic; the protocol's timers are seconds. */
#define OFFLOAD_POLL_NS (OFFLOAD_POLL_MS * 1000000ULL)

int offload_peer_stats(struct peer *peer, struct offload_peer_stats *st)
{
	struct offload *o = offload_live(peer->dev);
	struct xwg_peer_stats *v;
	uint32_t id;

	memset(st, 0, sizeof(*st));
	if (!o || peer->offload_id < 0)
		return 0;
	id = (uint32_t)peer->offload_id;
	v = calloc((size_t)o->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_stats), &id, v) == 0) {
		for (int c = 0; c < o->ncpus; c++) {
			st->rx_bytes += v[c].rx_bytes;
			st->rx_packets += v[c].rx_packets;
			st->tx_bytes += v[c].tx_bytes;
			st->tx_packets += v[c].tx_packets;
#define MAXF(f) if (v[c].f > st->f) st->f = v[c].f
			MAXF(last_rx_ns);
			MAXF(last_rx_data_ns);
			MAXF(last_tx_ns);
			MAXF(last_tx_data_ns);
			MAXF(last_rx_endpoint_ns);
#undef MAXF
		}
	}
	free(v);
	return 0;
}

int offload_reason_counts(struct xwg_device *dev, uint64_t *counts)
{
	struct offload *o = offload_live(dev);
	uint64_t *v;

	memset(counts, 0, sizeof(*counts) * XWG_R_MAX);
	if (!o)
		return 0;
	v = calloc((size_t)o->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t r = 0; r < XWG_R_MAX; r++) {
		if (bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_reasons), &r, v))
			continue;
		for (int c = 0; c < o->ncpus; c++)
			counts[r] += v[c];
	}
	free(v);
	return 0;
}

int offload_events_fd(const struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	return o && o->events ? ring_buffer__epoll_fd(o->events) : -1;
}

static bool offload_addr_is_local(const struct ifaddrs *ifs, const struct endpoint *ep)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *a = i->ifa_addr;

		if (!a || a->sa_family != ep->addr.sa.sa_family)
			continue;
		if (a->sa_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)a)->sin_addr, &ep->src4, sizeof(ep->src4)))
			return true;
		if (a->sa_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &ep->src6, sizeof(ep->src6)))
			return true;
	}
	return false;
}

/*
 * BPF writes the cached source address into every packet, so nothing notices when it is removed
 * (the socket path learns it from sendmsg errors). Drop a source that is no longer ours, for one
 * peer or (only NULL) all: the agent then sends through routing, the peer sees the new address,
 * and BPF learns it back from the peer's next packet (a roaming event).
 */
static void offload_drop_stale_sources(struct xwg_device *dev, struct peer *only)
{
	struct ifaddrs *ifs;

	if (getifaddrs(&ifs) < 0)
		return;
	for (struct peer *p = only ? only : dev->peers; p; p = only ? NULL : p->next_peer) {
		if (!p->endpoint.src_valid || offload_addr_is_local(ifs, &p->endpoint))
			continue;
		p->endpoint.src_valid = false;
		hooks_peer_changed(p, PUBLISH_ENDPOINT);
	}
	freeifaddrs(ifs);
}

int offload_handle_event(void *ctx, void *data, size_t len)
{
	struct xwg_device *dev = ctx;
	struct offload *o = offload_live(dev);
	const struct xwg_event *e = data;
	struct index_entry *entry;
	struct endpoint old;
	struct peer *peer;

	if (!o || len < sizeof(*e) || e->peer_id >= XWG_MAX_PEERS || !(peer = o->by_id[e->peer_id]))
		return 0;
	switch (e->type) {
	case XWG_EV_ROAMED:
		/* A multi-path peer's packet belongs to one of its paths: path.c decides what is active. */
		if (path_multi(&peer->paths)) {
			offload_endpoint_decode(&e->endpoint, &old);
			path_received(peer, &old);
			if (e->flags & XWG_EVF_DATA)
				path_data_received(peer);
			break;
		}
		old = peer->endpoint;
		offload_endpoint_from_map(peer, &e->endpoint);
		reresolve_packet_moved(peer, &old);
		/*
		 * XDP does not care which of our addresses a packet was sent to: the peer may still be
		 * using one we just removed. Never adopt that as the source for our replies.
		 */
		offload_drop_stale_sources(dev, peer);
		hooks_peer_changed(peer, PUBLISH_ENDPOINT);
		break;
	case XWG_EV_KEYPAIR_CONFIRMED:
		entry = index_table_lookup(&dev->index_table, e->index, INDEX_KEYPAIR);
		if (entry && entry->peer == peer && noise_received_with_keypair(peer, entry->keypair)) {
			timers_handshake_complete(peer);
			send_staged_packets(peer);
		}
		break;
	case XWG_EV_REKEY_NEEDED:
	case XWG_EV_HANDSHAKE_NEEDED:
		send_handshake_initiation(peer, false);
		break;
	}
	return 0;
}

/* BPF moves packets without the agent seeing them: replay its activity into the timer hooks. */
static void offload_poll_timers(struct peer *peer)
{
	struct offload_peer_stats st;

	if (offload_peer_stats(peer, &st) < 0)
		return;
	if (path_multi(&peer->paths))
		path_account(peer, peer->rx_bytes + st.rx_bytes, peer->tx_bytes + st.tx_bytes);
	if (st.last_rx_endpoint_ns > peer->offload_seen_rx_endpoint) {
		peer->offload_seen_rx_endpoint = st.last_rx_endpoint_ns;
		path_active_received(peer, st.last_rx_endpoint_ns);
		/* The newest packet from there carried no data: a keepalive, maybe the peer's probe. */
		if (st.last_rx_endpoint_ns > st.last_rx_data_ns && path_multi(&peer->paths))
			path_table_keepalive_received(&peer->paths);
	}
	if (st.last_rx_ns > peer->offload_seen_rx) {
		peer->offload_seen_rx = st.last_rx_ns;
		timers_any_authenticated_packet_received(peer);
		timers_any_authenticated_packet_traversal(peer);
	}
	if (st.last_rx_data_ns > peer->offload_seen_rx_data) {
		peer->offload_seen_rx_data = st.last_rx_data_ns;
		timers_data_received(peer);
	}
	if (st.last_tx_ns > peer->offload_seen_tx) {
		peer->offload_seen_tx = st.last_tx_ns;
		timers_any_authenticated_packet_sent(peer);
		timers_any_authenticated_packet_traversal(peer);
	}
	if (st.last_tx_data_ns > peer->offload_seen_tx_data) {
		peer->offload_seen_tx_data = st.last_tx_data_ns;
		timers_data_sent(peer);
	}
}

/*
 * BPF's per-peer last_rx/last_tx stamps into timer hooks. The event loop calls this right before
 * protocol timers fire (so no keepalive or handshake timer fires because BPF traffic was not read
 * yet) and every OFFLOAD_POLL_MS otherwise.
 */
void offload_poll_activity(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o)
		return;
	o->last_poll_ns = now_ns();
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		offload_poll_timers(p);
}

/* The bpffs went away under us: the data path carries on, but whoever cleans up after us is blind. */
static void offload_poll_pins(struct offload *o)
{
	if (o->pins_lost || !o->pinned || offload_pins_reachable())
		return;
	o->pins_lost = true;
	fprintf(stderr, "xwg: %s: the bpffs holding its pins is no longer at /sys/fs/bpf (unmounted?): the data path "
		"keeps running on the agent's own references, but should the agent die, `xwg down` cannot find "
		"them; `xwg down` and `xwg up` again pins afresh\n", o->ifname);
}

void offload_poll(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o)
		return;
	if (o->events)
		ring_buffer__consume(o->events);
	if (now_ns() - o->last_poll_ns < OFFLOAD_POLL_NS)
		return;
	offload_drop_stale_sources(dev, NULL);
	offload_poll_activity(dev);
	offload_poll_pins(o);
}

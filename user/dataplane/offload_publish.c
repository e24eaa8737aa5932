/* SPDX-License-Identifier: GPL-2.0 */
/* The one writer of agent state into the maps: the core marks changes (hooks.h), this publishes them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>
#include "crypto.h"
#include "offload_internal.h"
#include "hoplimit.h"

/* A peer out of BPF after a failed write is tried again this often (the map may have room now). */
#define PUBLISH_RETRY_NS NSEC_PER_SEC

/* ---- checked map writes: every one is counted, and its error returned */

int offload_map_update(struct offload *o, int fd, const void *key, const void *val)
{
	o->map_writes++;
	return bpf_map_update_elem(fd, key, val, BPF_ANY) ? -errno : 0;
}

/* A key that is already gone is what a delete wants: not an error. */
int offload_map_delete(struct offload *o, int fd, const void *key)
{
	o->map_writes++;
	return bpf_map_delete_elem(fd, key) && errno != ENOENT ? -errno : 0;
}

void offload_slot_fail(struct offload_slot *slot, const char *what, int err)
{
	if (slot->own_failure)
		return;	/* the first failure is the one worth reporting */
	slot->own_failure = true;
	snprintf(slot->why, sizeof(slot->why), "%s: %s", what, strerror(-err));
}

/* ---- slots */

int offload_slots_alloc(struct offload *o)
{
	o->slots = calloc(XWG_MAX_PEERS, sizeof(*o->slots));
	return o->slots ? 0 : -ENOMEM;
}

static void publish_slot_reset(struct offload_slot *slot)
{
	offload_prefixes_free(&slot->pub);
	offload_prefixes_free(&slot->stale);
	offload_prefixes_free(&slot->failed);
	memset(slot, 0, sizeof(*slot));
}

void offload_slots_free(struct offload *o)
{
	if (!o->slots)
		return;
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		publish_slot_reset(&o->slots[id]);
	free(o->slots);
	o->slots = NULL;
	free(o->dead);
	o->dead = NULL;
	o->n_dead = o->cap_dead = 0;
}

/* A removed peer's id stays taken until its entry and prefixes are out of the maps. */
static int publish_peer_id(struct offload *o, struct peer *peer)
{
	if (peer->offload_id >= 0)
		return peer->offload_id;
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		if (!o->by_id[id] && !o->slots[id].removed && !o->slots[id].entry && !o->slots[id].pub.n) {
			o->by_id[id] = peer;
			peer->offload_id = id;
			return id;
		}
	return -ENOSPC;
}

/* ---- keypairs */

static int publish_keypair(struct offload *o, struct noise_keypair *kp)
{
	struct xwg_keypair val;
	int err;

	memset(&val, 0, sizeof(val));
	memcpy(val.recv_key, kp->recv_key, sizeof(val.recv_key));
	memcpy(val.send_key, kp->send_key, sizeof(val.send_key));
	val.birthdate_ns = kp->birthdate;
	/* Until now the agent owned counter and window: BPF continues where the agent stopped. */
	val.send_counter = kp->send_counter;
	val.replay = kp->replay;
	val.remote_index = kp->remote_index;
	val.peer_id = (uint32_t)kp->peer->offload_id;
	val.flags = (kp->receiving_valid ? XWG_KP_F_RECV_VALID : 0) | (kp->sending_valid ? XWG_KP_F_SEND_VALID : 0) |
		    (kp->i_am_the_initiator ? XWG_KP_F_INITIATOR : 0);
	/* The initiator's keypair is confirmed by the response the agent just consumed: no event needed. */
	val.state = kp->i_am_the_initiator ? XWG_KP_S_CONFIRMED : 0;
	err = offload_map_update(o, bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index, &val);
	if (!err)
		kp->offloaded = true;
	crypto_zero(&val, sizeof(val));
	return err;
}

static void publish_keypairs(struct offload *o, struct peer *peer, struct offload_slot *slot)
{
	struct noise_keypair *kps[] = { peer->keypairs.previous_keypair, peer->keypairs.current_keypair,
					peer->keypairs.next_keypair };
	int err;

	for (size_t i = 0; i < sizeof(kps) / sizeof(kps[0]); i++) {
		if (!kps[i] || kps[i]->offloaded)
			continue;
		err = publish_keypair(o, kps[i]);
		if (err)
			offload_slot_fail(slot, "keypairs map", err);
	}
}

/* ---- peer entries */

static bool publish_agent(const struct offload_slot *slot)
{
	return slot->own_failure || slot->covers_failure || slot->dead_keypairs;
}

/* Writes val as the peer's entry; if that fails, no entry at all (RX and TX then pass to the agent). */
static void publish_entry_write(struct offload *o, int id, const struct xwg_peer *val)
{
	struct offload_slot *slot = &o->slots[id];
	int fd = bpf_map__fd(o->rx->maps.xwg_peers);
	uint32_t key = (uint32_t)id;
	int err = offload_map_update(o, fd, &key, val);

	if (!err) {
		slot->val = *val;
		slot->entry = true;
		return;
	}
	offload_slot_fail(slot, "peers map", err);
	if (offload_map_delete(o, fd, &key) == 0)
		slot->entry = false;
	else
		slot->val.flags = 0;	/* unknown: assume the worst of what is there */
}

static void publish_entry(struct offload *o, struct peer *peer)
{
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	struct offload_slot *slot = &o->slots[peer->offload_id];
	struct xwg_peer val = { 0 };

	offload_endpoint_to_map(&peer->endpoint, &val.endpoint);
	val.keepalive_interval = peer->persistent_keepalive_interval;
	val.hop_limit = hoplimit_for_endpoint(&peer->endpoint, peer->dev->fwmark);
	/* BPF sends only with a keypair the agent still considers good for sending. */
	if (kp && kp->offloaded && kp->sending_valid) {
		val.flags |= XWG_PEER_F_HAS_CURRENT;
		val.current_index = kp->local_index;
	}
	if (publish_agent(slot))
		val.flags |= XWG_PEER_F_AGENT;
	memcpy(val.public_key, peer->public_key, sizeof(val.public_key));
	val.last_handshake_sec = (uint64_t)peer->last_handshake.tv_sec;
	val.last_handshake_nsec = (uint64_t)peer->last_handshake.tv_nsec;
	_Static_assert(sizeof(val.latest_timestamp) == NOISE_TIMESTAMP_LEN, "timestamp length");
	memcpy(val.latest_timestamp, peer->handshake.latest_timestamp, sizeof(val.latest_timestamp));
	publish_entry_write(o, peer->offload_id, &val);
	/* The entry write itself may have failed just now: then there is no entry, which is as safe. */
}

/* The entry stops naming index as current, now: the keypair is retired or may no longer send. */
static void publish_entry_drop_current(struct offload *o, int id, uint32_t index)
{
	struct offload_slot *slot = &o->slots[id];
	struct xwg_peer val;

	if (!slot->entry || !(slot->val.flags & XWG_PEER_F_HAS_CURRENT) || slot->val.current_index != index)
		return;
	val = slot->val;
	val.flags &= ~XWG_PEER_F_HAS_CURRENT;
	val.current_index = 0;
	publish_entry_write(o, id, &val);
}

/* ---- retired keypairs the map kept */

/*
 * A retired keypair that would not leave the map: its peer goes to the agent (which no longer
 * knows the index, so nothing is accepted under it) until a retry deletes it.
 */
static void publish_dead_add(struct offload *o, uint32_t index, int id, int err)
{
	if (id >= 0) {
		struct xwg_peer val = o->slots[id].val;

		o->slots[id].dead_keypairs++;
		if (o->slots[id].entry) {
			val.flags |= XWG_PEER_F_AGENT;
			publish_entry_write(o, id, &val);
		}
		if (!o->slots[id].own_failure)
			snprintf(o->slots[id].why, sizeof(o->slots[id].why), "keypairs map (delete): %s",
				 strerror(-err));
	}
	if (o->n_dead == o->cap_dead) {
		size_t cap = o->cap_dead ? o->cap_dead * 2 : 4;
		struct offload_dead *d = realloc(o->dead, cap * sizeof(*d));

		if (!d)
			return;	/* the peer stays out of BPF: dead_keypairs never drops */
		o->dead = d;
		o->cap_dead = cap;
	}
	o->dead[o->n_dead++] = (struct offload_dead){ .index = index, .id = id };
}

static void publish_dead_retry(struct offload *o)
{
	size_t keep = 0;

	for (size_t i = 0; i < o->n_dead; i++) {
		struct offload_dead d = o->dead[i];

		if (offload_map_delete(o, bpf_map__fd(o->rx->maps.xwg_keypairs), &d.index)) {
			o->dead[keep++] = d;
			continue;
		}
		if (d.id >= 0 && o->slots[d.id].dead_keypairs)
			o->slots[d.id].dead_keypairs--;
	}
	o->n_dead = keep;
}

/* ---- the log */

/*
 * A peer that leaves BPF (no slot, a map full, a write failed) or comes back is logged once per
 * change: its packets still flow, through the agent, and the log says why they got slower.
 */
static void publish_log_peer(const struct xwg_device *dev, struct peer *peer)
{
	const char *why = offload_peer_refused(peer);
	char key[48];

	if (!*why == !peer->offload_off_logged)
		return;
	peer->offload_off_logged = *why != '\0';
	EVP_EncodeBlock((unsigned char *)key, peer->public_key, sizeof(peer->public_key));
	if (*why)
		fprintf(stderr, "xwg: %s: peer %s off BPF, its packets go through the agent: %s\n", dev->ifname, key,
			why);
	else
		fprintf(stderr, "xwg: %s: peer %s back in BPF\n", dev->ifname, key);
}

/* ---- the publish step */

/* Every keypair the agent holds is in xwg_keypairs: no unknown receiver index can be the agent's. */
static bool publish_all_keypairs_in(const struct xwg_device *dev)
{
	for (const struct peer *p = dev->peers; p; p = p->next_peer) {
		const struct noise_keypair *kps[] = { p->keypairs.previous_keypair, p->keypairs.current_keypair,
						      p->keypairs.next_keypair };

		for (size_t i = 0; i < sizeof(kps) / sizeof(kps[0]); i++)
			if (kps[i] && !kps[i]->offloaded)
				return false;
	}
	return true;
}

static uint32_t publish_config_flags(const struct xwg_device *dev, const struct offload *o)
{
	/* Only native XDP spreads: generic XDP would run the cpumap program on skbs. */
	uint32_t flags = XWG_CFG_F_RX | XWG_CFG_F_TX | XWG_CFG_F_DROP_MALFORMED |
			 (o->mode == OFFLOAD_XDP && o->rx_spread ? XWG_CFG_F_RX_SPREAD : 0);

	/* Floods of made-up indices stop in BPF in every mode (measured: make bench, Floods). */
	if (publish_all_keypairs_in(dev))
		flags |= XWG_CFG_F_DROP_UNKNOWN;
	if (o->hybrid)
		flags |= XWG_CFG_F_HYBRID;
	return flags;
}

static void publish_config(struct xwg_device *dev, struct offload *o)
{
	struct xwg_dev_config cfg = {
		.tun_ifindex = (uint32_t)dev->ifindex,
		.flags = publish_config_flags(dev, o),
		.listen_port = htons(dev->listen_port),
		.mtu = (uint16_t)dev->mtu,
		.fwmark = dev->fwmark,
		.rx_bulk_len = o->hybrid ? o->rx_bulk_len : 0,
		.tx_bulk_len = o->hybrid ? o->tx_bulk_len : 0,
		.hs_per_cpu = XWG_HS_PER_CPU_DEFAULT,
	};
	uint32_t zero = 0;
	int err = offload_map_update(o, bpf_map__fd(o->rx->maps.xwg_config), &zero, &cfg);

	if (err) {
		snprintf(o->config_why, sizeof(o->config_why), "config map: %s", strerror(-err));
	} else {
		o->config_why[0] = '\0';
		o->cfg_flags = cfg.flags;
	}
	offload_listen_port_follow(dev);
}

/* A keypair went in or failed to: DROP_UNKNOWN must say whether all of them are in. */
static void publish_config_follow(struct xwg_device *dev, struct offload *o)
{
	if (publish_config_flags(dev, o) != o->cfg_flags)
		publish_config(dev, o);
}

/* A gone peer's slot: its prefixes (unless another peer took them), its entry, its stats. */
static void publish_removed(struct xwg_device *dev, struct offload *o, int id)
{
	struct offload_slot *slot = &o->slots[id];
	uint32_t key = (uint32_t)id;
	struct xwg_peer_stats *zero;

	for (size_t i = 0; i < slot->pub.n; i++)
		offload_prefixes_add(&slot->stale, &slot->pub.v[i]);
	slot->pub.n = 0;
	offload_prefix_deletes(dev, o, id);
	if (slot->entry && offload_map_delete(o, bpf_map__fd(o->rx->maps.xwg_peers), &key) == 0)
		slot->entry = false;
	if (slot->pub.n || slot->entry || slot->dead_keypairs)
		return;	/* something stayed: the id stays taken, tried again on the next retry */
	zero = calloc((size_t)o->ncpus, sizeof(*zero));
	if (zero) {
		offload_map_update(o, bpf_map__fd(o->rx->maps.xwg_stats), &key, zero);
		free(zero);
	}
	o->n_failed -= slot->failed.n;
	o->failed_changed = true;
	publish_slot_reset(slot);
}

/*
 * Some peer's endpoint changed this turn (entries are already written). The one place for work
 * that follows endpoints, e.g. recomputing which underlays carry them (offload_attach.c).
 */
static void publish_endpoints_changed(struct xwg_device *dev, struct offload *o)
{
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		if (p->publish & PUBLISH_ENDPOINT)
			offload_underlay_follow(dev, &p->endpoint);
}

static void publish_peer(struct offload *o, struct peer *peer, unsigned int what)
{
	struct offload_slot *slot = &o->slots[peer->offload_id];

	if (what & PUBLISH_KEYPAIRS)
		publish_keypairs(o, peer, slot);
	if (what & PUBLISH_ALLOWEDIPS)
		offload_prefix_adds(o, peer, slot);
}

void offload_publish(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);
	bool retry, endpoints_changed = false;
	uint64_t now = now_ns();
	struct peer *p;

	if (!o) {
		/* No maps: the marks mean nothing, but must not pile up for a later start. */
		for (p = dev->publish_pending ? dev->peers : NULL; p; p = p->next_peer)
			p->publish = 0;
		dev->publish_pending = dev->config_changed = false;
		return;
	}
	retry = now - o->last_retry_ns >= PUBLISH_RETRY_NS;
	if (retry)
		o->last_retry_ns = now;
	if (dev->config_changed || (retry && o->config_why[0])) {
		dev->config_changed = false;
		publish_config(dev, o);
	}
	if (!dev->publish_pending && !retry)
		return;
	dev->publish_pending = false;
	if (retry && o->n_dead)
		publish_dead_retry(o);

	/* 1. Ids, keypairs, prefix adds. A peer out of BPF is tried whole again (a full diff). */
	for (p = dev->peers; p; p = p->next_peer) {
		struct offload_slot *slot;

		if (retry && (p->offload_id < 0 || o->slots[p->offload_id].own_failure))
			p->publish |= PUBLISH_ALL;
		if (!p->publish)
			continue;
		if (publish_peer_id(o, p) < 0)
			continue;	/* no slot: nothing in the maps names it, the agent has it all */
		slot = &o->slots[p->offload_id];
		if ((p->publish & PUBLISH_ALL) == PUBLISH_ALL)
			slot->own_failure = false;	/* a whole publish decides afresh */
		publish_peer(o, p, p->publish);
	}
	if (o->failed_changed) {
		o->failed_changed = false;
		offload_prefix_covers(dev, o);
		/* Whoever went in or out of BPF because of it gets its entry rewritten. */
		for (p = dev->peers; p; p = p->next_peer)
			if (p->offload_id >= 0 && o->slots[p->offload_id].entry &&
			    !(o->slots[p->offload_id].val.flags & XWG_PEER_F_AGENT) != !publish_agent(&o->slots[p->offload_id]))
				p->publish |= PUBLISH_SETTINGS;
	}
	/* 2. Entries, after their keypairs are in; allowed IPs alone do not touch the entry. */
	for (p = dev->peers; p; p = p->next_peer) {
		const struct offload_slot *slot;

		endpoints_changed |= (p->publish & PUBLISH_ENDPOINT) != 0;
		if (!p->publish || p->offload_id < 0)
			continue;
		slot = &o->slots[p->offload_id];
		if ((p->publish & ~PUBLISH_ALLOWEDIPS) || !slot->entry ||
		    !(slot->val.flags & XWG_PEER_F_AGENT) != !publish_agent(slot))
			publish_entry(o, p);
	}
	if (endpoints_changed)
		publish_endpoints_changed(dev, o);
	/* 3. Deletes, after every add: a prefix that moved is already the new owner's. */
	for (int id = 0; id < XWG_MAX_PEERS; id++) {
		if (o->slots[id].removed)
			publish_removed(dev, o, id);
		else if (o->slots[id].stale.n)
			offload_prefix_deletes(dev, o, id);
	}
	/* A delete failed just now, or a dead keypair finally left: the entry says so. */
	for (p = dev->peers; p; p = p->next_peer) {
		const struct offload_slot *slot = p->offload_id >= 0 ? &o->slots[p->offload_id] : NULL;

		if (slot && slot->entry && !(slot->val.flags & XWG_PEER_F_AGENT) != !publish_agent(slot))
			publish_entry(o, p);
		p->publish = 0;
		publish_log_peer(dev, p);
	}
	publish_config_follow(dev, o);
}

void offload_sync(struct xwg_device *dev)
{
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		p->publish = PUBLISH_ALL;
	dev->config_changed = true;
	dev->publish_pending = true;
	offload_publish(dev);
}

const char *offload_peer_refused(const struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	const struct offload_slot *slot;

	if (!o)
		return "";
	if (peer->offload_id < 0)
		return "no free peer slot in the maps";
	slot = &o->slots[peer->offload_id];
	if (slot->own_failure || slot->dead_keypairs)
		return slot->why;
	if (slot->covers_failure)
		return "covers an allowed IP of another peer that is not in the maps";
	return "";
}

/* ---- the hooks the core calls (hooks.h) */

void hooks_peer_changed(struct peer *peer, unsigned int what)
{
	struct offload *o = offload_live(peer->dev);

	peer->publish |= what;
	peer->dev->publish_pending = true;
	/*
	 * Unknown indices are dropped: a new keypair goes into the map now, before the handshake
	 * response that lets the peer use it leaves; if it cannot (or the peer has no slot at all),
	 * unknown indices go to the agent, also now.
	 */
	if (o && (what & PUBLISH_KEYPAIRS)) {
		if (peer->offload_id >= 0)
			publish_keypairs(o, peer, &o->slots[peer->offload_id]);
		publish_config_follow(peer->dev, o);
	}
}

void hooks_peer_removed(struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	int id = peer->offload_id;

	peer->offload_id = -1;
	peer->publish = 0;
	if (!o || id < 0)
		return;
	o->by_id[id] = NULL;
	o->slots[id].removed = true;
	peer->dev->publish_pending = true;
}

/*
 * Synchronous, unlike everything else here: the core wipes and frees kp when this returns. The
 * entry stops naming it first, then the keypair leaves the map; if that delete fails, the peer
 * is handed to the agent so that BPF cannot reach the keypair through it.
 */
void hooks_keypair_retired(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);
	int id = kp->peer->offload_id, err;

	if (!o || !kp->offloaded) {
		kp->offloaded = false;
		return;
	}
	kp->offloaded = false;
	if (id >= 0)
		publish_entry_drop_current(o, id, kp->local_index);
	err = offload_map_delete(o, bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index);
	if (err)
		publish_dead_add(o, kp->local_index, id, err);
}

void hooks_keypair_send_invalid(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);

	hooks_peer_changed(kp->peer, PUBLISH_KEYPAIRS);
	if (o && kp->peer->offload_id >= 0)
		publish_entry_drop_current(o, kp->peer->offload_id, kp->local_index);
}


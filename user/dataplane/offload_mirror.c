/* SPDX-License-Identifier: GPL-2.0 */
/* Mirrors agent state into the maps (config, peers, keypairs, allowed IPs) and adopts pinned state back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"

static void offload_write_config(struct xwg_device *dev, struct offload *o)
{
	struct xwg_dev_config cfg = {
		.tun_ifindex = (uint32_t)dev->ifindex,
		/* Only native XDP spreads: generic XDP would run the cpumap program on skbs. */
		.flags = XWG_CFG_F_RX | XWG_CFG_F_TX |
			 (o->mode == OFFLOAD_XDP && o->rx_spread ? XWG_CFG_F_RX_SPREAD : 0),
		.listen_port = htons(dev->listen_port),
		.mtu = (uint16_t)dev->mtu,
		.fwmark = dev->fwmark,
	};
	uint32_t zero = 0;

	bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_config), &zero, &cfg, BPF_ANY);
}

static void offload_endpoint_to_map(const struct endpoint *ep, struct xwg_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (ep->addr.sa.sa_family == AF_INET) {
		out->family = XWG_AF_INET;
		memcpy(out->addr, &ep->addr.in4.sin_addr, 4);
		out->port = ep->addr.in4.sin_port;
		if (ep->src_valid)
			memcpy(out->local, &ep->src4, 4);
	} else if (ep->addr.sa.sa_family == AF_INET6) {
		out->family = XWG_AF_INET6;
		memcpy(out->addr, &ep->addr.in6.sin6_addr, 16);
		out->port = ep->addr.in6.sin6_port;
		if (ep->src_valid)
			memcpy(out->local, &ep->src6, 16);
	}
	if (ep->src_valid)
		out->ifindex = (uint32_t)ep->src_ifindex;
}

void offload_endpoint_from_map(struct peer *peer, const struct xwg_endpoint *in)
{
	struct endpoint *ep = &peer->endpoint;

	memset(ep, 0, sizeof(*ep));
	if (in->family == XWG_AF_INET) {
		ep->addr.in4.sin_family = AF_INET;
		ep->addr.in4.sin_port = in->port;
		memcpy(&ep->addr.in4.sin_addr, in->addr, 4);
		memcpy(&ep->src4, in->local, 4);
	} else {
		ep->addr.in6.sin6_family = AF_INET6;
		ep->addr.in6.sin6_port = in->port;
		memcpy(&ep->addr.in6.sin6_addr, in->addr, 16);
		memcpy(&ep->src6, in->local, 16);
	}
	ep->src_ifindex = (int)in->ifindex;
	ep->src_valid = true;
}

static int offload_peer_id(struct offload *o, struct peer *peer)
{
	if (peer->offload_id >= 0)
		return peer->offload_id;
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		if (!o->by_id[id]) {
			o->by_id[id] = peer;
			peer->offload_id = id;
			return id;
		}
	return -ENOSPC;
}

void offload_peer_sync(struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	struct xwg_peer val = { 0 };
	int id;

	if (!o || (id = offload_peer_id(o, peer)) < 0)
		return;
	offload_endpoint_to_map(&peer->endpoint, &val.endpoint);
	val.keepalive_interval = peer->persistent_keepalive_interval;
	/* BPF sends only with a keypair the agent still considers good for sending. */
	if (kp && kp->offloaded && kp->sending_valid) {
		val.flags |= XWG_PEER_F_HAS_CURRENT;
		val.current_index = kp->local_index;
	}
	memcpy(val.public_key, peer->public_key, sizeof(val.public_key));
	val.last_handshake_sec = (uint64_t)peer->last_handshake.tv_sec;
	val.last_handshake_nsec = (uint64_t)peer->last_handshake.tv_nsec;
	bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id, &val, BPF_ANY);
	offload_underlay_follow(peer->dev, &peer->endpoint);
}

void offload_peer_remove(struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	struct xwg_peer_stats *zero;
	uint32_t id;

	if (!o || peer->offload_id < 0)
		return;
	id = (uint32_t)peer->offload_id;
	bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id);
	zero = calloc((size_t)o->ncpus, sizeof(*zero));
	if (zero) {
		bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_stats), &id, zero, BPF_ANY);
		free(zero);
	}
	o->by_id[id] = NULL;
	peer->offload_id = -1;
}

void offload_keypair_add(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);
	struct xwg_keypair val;

	if (!o || offload_peer_id(o, kp->peer) < 0)
		return;
	memset(&val, 0, sizeof(val));
	memcpy(val.recv_key, kp->recv_key, sizeof(val.recv_key));
	memcpy(val.send_key, kp->send_key, sizeof(val.send_key));
	val.birthdate_ns = kp->birthdate;
	val.send_counter = kp->send_counter;
	val.remote_index = kp->remote_index;
	val.peer_id = (uint32_t)kp->peer->offload_id;
	val.flags = XWG_KP_F_RECV_VALID | XWG_KP_F_SEND_VALID | (kp->i_am_the_initiator ? XWG_KP_F_INITIATOR : 0);
	/* The initiator's keypair is confirmed by the response the agent just consumed: no event needed. */
	val.state = kp->i_am_the_initiator ? XWG_KP_S_CONFIRMED : 0;
	replay_counter_init(&val.replay);
	if (bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index, &val, BPF_ANY) == 0)
		kp->offloaded = true;
	memset(&val, 0, sizeof(val));
}

void offload_keypair_remove(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);

	if (o)
		bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index);
	kp->offloaded = false;
}

static int offload_ctl(struct offload *o, uint32_t op, uint32_t index, uint64_t arg, uint64_t *result)
{
	struct xwg_ctl_req req = { .op = op, .index = index, .arg = arg };
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &req, .data_size_in = sizeof(req),
			    .data_out = &req, .data_size_out = sizeof(req), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(o->ctl->progs.xwg_ctl), &run) < 0)
		return -errno;
	if (req.err)
		return req.err;
	*result = req.result;
	return 0;
}

int offload_reserve_counter(struct noise_keypair *kp, uint64_t *counter)
{
	struct offload *o = offload_live(kp->peer->dev);

	if (!o || !kp->offloaded)
		return -ENOENT;
	return offload_ctl(o, XWG_CTL_RESERVE, kp->local_index, 1, counter);
}

int offload_replay_check(struct noise_keypair *kp, uint64_t counter)
{
	struct offload *o = offload_live(kp->peer->dev);
	uint64_t fresh;
	int ret;

	if (!o || !kp->offloaded)
		return -ENOENT;
	ret = offload_ctl(o, XWG_CTL_REPLAY, kp->local_index, counter, &fresh);
	return ret < 0 ? ret : fresh != 0;
}

/* ---- allowed IPs: the LPM tries follow the agent's table, update-before-delete so no gap opens */

struct offload_collect {
	struct offload_prefix *v;
	size_t n, cap;
	uint32_t id;
};

static int offload_collect_prefix(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct offload_collect *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct offload_prefix *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	c->v[c->n].family = family == AF_INET ? 4 : 6;
	c->v[c->n].cidr = cidr;
	memcpy(c->v[c->n].addr, addr, family == AF_INET ? 4 : 16);
	c->v[c->n].id = c->id;
	c->n++;
	return 0;
}

static int offload_prefix_cmp(const void *a, const void *b)
{
	const struct offload_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->cidr != y->cidr)
		return x->cidr - y->cidr;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void offload_lpm_write(struct offload *o, const struct offload_prefix *p, bool del)
{
	struct xwg_lpm4_key k4 = { .prefixlen = p->cidr };
	struct xwg_lpm6_key k6 = { .prefixlen = p->cidr };
	bool v4 = p->family == 4;
	int fd = bpf_map__fd(v4 ? o->rx->maps.xwg_allowedips4 : o->rx->maps.xwg_allowedips6);
	void *key = v4 ? (void *)&k4 : (void *)&k6;

	memcpy(k4.addr, p->addr, sizeof(k4.addr));
	memcpy(k6.addr, p->addr, sizeof(k6.addr));
	if (del)
		bpf_map_delete_elem(fd, key);
	else
		bpf_map_update_elem(fd, key, &p->id, BPF_ANY);
}

static void offload_sync_allowedips(struct xwg_device *dev, struct offload *o)
{
	struct offload_collect c = { 0 };
	size_t i, j;

	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		if (offload_peer_id(o, p) < 0)
			continue;
		c.id = (uint32_t)p->offload_id;
		if (allowedips_walk_by_peer(&dev->allowedips, p, offload_collect_prefix, &c) < 0) {
			free(c.v);
			return;
		}
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), offload_prefix_cmp);
	for (i = 0; i < c.n; i++)
		offload_lpm_write(o, &c.v[i], false);
	/* Both lists are sorted: walk them together to find prefixes that went away. */
	for (i = 0, j = 0; i < o->n_prefixes; i++) {
		while (j < c.n && offload_prefix_cmp(&c.v[j], &o->prefixes[i]) < 0)
			j++;
		if (j == c.n || offload_prefix_cmp(&c.v[j], &o->prefixes[i]))
			offload_lpm_write(o, &o->prefixes[i], true);
	}
	free(o->prefixes);
	o->prefixes = c.v;
	o->n_prefixes = c.n;
}

/* Full resync after configuration changes (UAPI set, start): peers, keypairs, prefixes. */
void offload_sync(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o)
		return;
	offload_write_config(dev, o);
	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		struct noise_keypair *kps[] = { p->keypairs.previous_keypair, p->keypairs.current_keypair,
						p->keypairs.next_keypair };

		for (int i = 0; i < 3; i++)
			if (kps[i] && !kps[i]->offloaded)
				offload_keypair_add(kps[i]);
		offload_peer_sync(p);
	}
	offload_sync_allowedips(dev, o);
}

/* ---- adopting what a previous agent left pinned */

static void offload_adopt_peers(struct xwg_device *dev, struct offload *o)
{
	int fd = bpf_map__fd(o->rx->maps.xwg_peers);
	uint32_t id, next, *key = NULL;
	struct xwg_peer val;
	struct peer *peer;

	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		id = next;
		key = &id;
		if (bpf_map_lookup_elem(fd, &id, &val) || id >= XWG_MAX_PEERS)
			continue;
		peer = device_lookup_peer(dev, val.public_key);
		if (!peer || peer->offload_id >= 0)
			continue;	/* gone from the configuration: the resync deletes it */
		peer->offload_id = (int)id;
		o->by_id[id] = peer;
		peer->last_handshake.tv_sec = (time_t)val.last_handshake_sec;
		peer->last_handshake.tv_nsec = (long)val.last_handshake_nsec;
		if (val.endpoint.family)
			offload_endpoint_from_map(peer, &val.endpoint);
	}
}

/* Rebuilds previous/current/next from the pinned keypairs, keeping their indices and counters. */
static void offload_adopt_keypair(struct xwg_device *dev, struct offload *o, uint32_t index,
				  const struct xwg_keypair *val)
{
	struct peer *peer = val->peer_id < XWG_MAX_PEERS ? o->by_id[val->peer_id] : NULL;
	struct noise_keypairs *kps;
	struct noise_keypair *kp;
	struct xwg_peer pv;
	uint32_t id;

	if (!peer)
		return;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return;
	memcpy(kp->send_key, val->send_key, sizeof(kp->send_key));
	memcpy(kp->recv_key, val->recv_key, sizeof(kp->recv_key));
	kp->birthdate = val->birthdate_ns;
	kp->remote_index = val->remote_index;
	kp->local_index = index;
	kp->i_am_the_initiator = val->flags & XWG_KP_F_INITIATOR;
	kp->sending_valid = val->flags & XWG_KP_F_SEND_VALID;
	kp->receiving_valid = val->flags & XWG_KP_F_RECV_VALID;
	kp->peer = peer;
	kp->offloaded = true;
	replay_counter_init(&kp->replay);
	if (index_table_insert_at(&dev->index_table, index, INDEX_KEYPAIR, peer, kp)) {
		free(kp);
		return;
	}
	kps = &peer->keypairs;
	id = (uint32_t)peer->offload_id;
	if (!bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id, &pv) &&
	    (pv.flags & XWG_PEER_F_HAS_CURRENT) && pv.current_index == index && !kps->current_keypair)
		kps->current_keypair = kp;
	else if (!(val->state & XWG_KP_S_CONFIRMED) && !kps->next_keypair)
		kps->next_keypair = kp;
	else if (!kps->previous_keypair)
		kps->previous_keypair = kp;
	else
		index_table_remove(&dev->index_table, index), free(kp);
}

void offload_adopt(struct xwg_device *dev, struct offload *o)
{
	int fd = bpf_map__fd(o->rx->maps.xwg_keypairs);
	uint32_t index, next, *key = NULL;
	struct xwg_keypair val;

	offload_adopt_peers(dev, o);
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if (!bpf_map_lookup_elem(fd, &index, &val))
			offload_adopt_keypair(dev, o, index, &val);
	}
	memset(&val, 0, sizeof(val));
	/* Keypairs of peers that are gone, and the peers themselves, leave the maps now. */
	key = NULL;
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if (!index_table_lookup(&dev->index_table, index, INDEX_KEYPAIR) &&
		    !bpf_map_delete_elem(fd, &index))
			key = NULL;
	}
	fd = bpf_map__fd(o->rx->maps.xwg_peers);
	key = NULL;
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if ((index >= XWG_MAX_PEERS || !o->by_id[index]) && !bpf_map_delete_elem(fd, &index))
			key = NULL;
	}
}

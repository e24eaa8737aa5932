/* SPDX-License-Identifier: GPL-2.0 */
/* Endpoints between agent and map form, the agent's atomic calls into BPF, and adopting pinned state back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "crypto.h"
#include "offload_internal.h"

void offload_endpoint_to_map(const struct endpoint *ep, struct xwg_endpoint *out)
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
	offload_endpoint_decode(in, &peer->endpoint);
}

void offload_endpoint_decode(const struct xwg_endpoint *in, struct endpoint *ep)
{
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
		o->slots[id].entry = true;
		o->slots[id].val = val;
		peer->last_handshake.tv_sec = (time_t)val.last_handshake_sec;
		peer->last_handshake.tv_nsec = (long)val.last_handshake_nsec;
		/* Else a replay of the peer's last initiation would be news to us, and move its endpoint. */
		memcpy(peer->handshake.latest_timestamp, val.latest_timestamp, sizeof(val.latest_timestamp));
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
	/* The map owns counter and window: the local ones stay unused, the send block starts empty. */
	kp->offloaded = true;
	kp->send_block_next = kp->send_block_end = 0;
	replay_counter_init(&kp->replay);
	if (index_table_insert_at(&dev->index_table, index, INDEX_KEYPAIR, peer, kp)) {
		crypto_zero(kp, sizeof(*kp));
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
	else {
		index_table_remove(&dev->index_table, index);
		crypto_zero(kp, sizeof(*kp));
		free(kp);
	}
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
	crypto_zero(&val, sizeof(val));
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
	offload_adopt_prefixes(dev, o);
}

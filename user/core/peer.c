/* SPDX-License-Identifier: GPL-2.0 */
/* Peer lifetime, peer settings, and the bounded queue of packets staged while a handshake runs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "device.h"
#include "crypto.h"
#include "reresolve.h"
#include "timers.h"

struct peer *peer_create(struct xwg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct peer *peer = calloc(1, sizeof(*peer));

	if (!peer) {
		errno = ENOMEM;
		return NULL;
	}
	peer->dev = dev;
	peer->internal_id = ++dev->next_peer_id;
	peer->offload_id = -1;
	memcpy(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	cookie_precompute_peer_keys(peer);
	noise_precompute_static_static(dev, peer);
	if (dev->peers_tail)
		dev->peers_tail->next_peer = peer;
	else
		dev->peers = peer;
	dev->peers_tail = peer;
	dev->num_peers++;
	hooks_peer_changed(peer, PUBLISH_ALL);
	return peer;
}

static void peer_unlink(struct peer *peer)
{
	struct xwg_device *dev = peer->dev;
	struct peer **pp, *prev = NULL;

	for (pp = &dev->peers; *pp; prev = *pp, pp = &(*pp)->next_peer) {
		if (*pp != peer)
			continue;
		*pp = peer->next_peer;
		if (dev->peers_tail == peer)
			dev->peers_tail = prev;
		dev->num_peers--;
		return;
	}
}

void peer_remove(struct peer *peer)
{
	struct xwg_device *dev = peer->dev;

	allowedips_remove_by_peer(&dev->allowedips, peer);
	timers_stop(peer);
	noise_handshake_clear(dev, peer);
	noise_keypairs_clear(dev, peer);
	hooks_peer_removed(peer);
	peer_purge_staged(peer);
	peer_unlink(peer);
	crypto_zero(peer, sizeof(*peer));
	free(peer);
}

struct peer *device_lookup_peer(struct xwg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		if (!memcmp(p->public_key, public_key, NOISE_PUBLIC_KEY_LEN))
			return p;
	return NULL;
}

void device_remove_all_peers(struct xwg_device *dev)
{
	while (dev->peers)
		peer_remove(dev->peers);
}

void peer_set_preshared_key(struct peer *peer, const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	memcpy(peer->preshared_key, key, NOISE_SYMMETRIC_KEY_LEN);
}

void peer_set_endpoint(struct peer *peer, const struct sockaddr *sa)
{
	reresolve_clear_name(peer);
	/* The user's choice: one path again (a configuration adds the others after this one). */
	path_reset(peer);
	path_add_endpoint(peer, sa);
	peer_put_endpoint(peer, sa);
}

void peer_put_endpoint(struct peer *peer, const struct sockaddr *sa)
{
	struct endpoint *ep = &peer->endpoint;

	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET)
		ep->addr.in4 = *(const struct sockaddr_in *)sa;
	else if (sa->sa_family == AF_INET6)
		ep->addr.in6 = *(const struct sockaddr_in6 *)sa;
	hooks_peer_changed(peer, PUBLISH_ENDPOINT);
}

void peer_set_persistent_keepalive(struct peer *peer, uint16_t interval)
{
	bool was_off = !peer->persistent_keepalive_interval;

	peer->persistent_keepalive_interval = interval;
	hooks_peer_changed(peer, PUBLISH_SETTINGS);
	if (!interval)
		peer->timer_persistent_keepalive.at = 0;
	else if (was_off && peer->dev->has_identity && peer->endpoint.addr.sa.sa_family)
		send_keepalive(peer);
}

int peer_add_allowed_ip(struct peer *peer, int family, const void *addr, uint8_t cidr)
{
	struct allowedips *t = &peer->dev->allowedips;
	struct peer *old = allowedips_lookup_exact(t, family, addr, cidr);
	int ret = allowedips_insert(t, family, addr, cidr, peer);

	if (ret)
		return ret;
	if (old != peer)
		hooks_peer_changed(peer, PUBLISH_ALLOWEDIPS);
	if (old && old != peer)
		hooks_peer_changed(old, PUBLISH_ALLOWEDIPS);
	return 0;
}

int peer_remove_allowed_ip(struct peer *peer, int family, const void *addr, uint8_t cidr)
{
	int ret = allowedips_remove(&peer->dev->allowedips, family, addr, cidr, peer);

	if (!ret)
		hooks_peer_changed(peer, PUBLISH_ALLOWEDIPS);
	return ret;
}

void peer_clear_allowed_ips(struct peer *peer)
{
	if (!peer->allowedips.count)
		return;
	allowedips_remove_by_peer(&peer->dev->allowedips, peer);
	hooks_peer_changed(peer, PUBLISH_ALLOWEDIPS);
}

/* Staged plaintext is the user's traffic: wiped like the send path wipes what it sent. */
static void peer_staged_free(struct staged_packet *sp)
{
	crypto_zero(sp, sizeof(*sp) + sp->len);
	free(sp);
}

void peer_stage_packet(struct peer *peer, const uint8_t *pkt, size_t len)
{
	struct staged_packet *sp = malloc(sizeof(*sp) + len);
	unsigned int slot;

	if (!sp)
		return;
	sp->len = len;
	if (len)
		memcpy(sp->data, pkt, len);
	if (peer->staged_count == MAX_STAGED_PACKETS) {
		/* Full: the oldest packet is the least useful one to deliver late. */
		peer_staged_free(peer->staged[peer->staged_head]);
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
	}
	slot = (peer->staged_head + peer->staged_count) % MAX_STAGED_PACKETS;
	peer->staged[slot] = sp;
	peer->staged_count++;
}

void peer_purge_staged(struct peer *peer)
{
	while (peer->staged_count) {
		peer_staged_free(peer->staged[peer->staged_head]);
		peer->staged[peer->staged_head] = NULL;
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		peer->staged_count--;
	}
	peer->staged_head = 0;
}

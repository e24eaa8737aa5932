/* SPDX-License-Identifier: GPL-2.0 */
/* A device with an identity and no sockets, TUN or loop, for tests that drive the core directly. */
#ifndef XWG_TEST_DEVICE_H
#define XWG_TEST_DEVICE_H

#include <stdlib.h>
#include <string.h>
#include "cookie.h"
#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "peer.h"

/* Every fd -1, MTU 1420, empty tables, this static key pair. Aborts on failure. */
static inline void test_device_init_key(struct xwg_device *dev, const char *ifname, const uint8_t *priv,
				 const uint8_t *pub)
{
	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = dev->sock4 = dev->sock6 = dev->epoll_fd = dev->uapi_fd = dev->signal_fd = -1;
	dev->mtu = 1420;
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	allowedips_init(&dev->allowedips);
	if (index_table_init(&dev->index_table))
		abort();
	memcpy(dev->static_private, priv, sizeof(dev->static_private));
	memcpy(dev->static_public, pub, sizeof(dev->static_public));
	dev->has_identity = true;
	cookie_checker_precompute_device_keys(dev);
}

/* The same with a fresh random static key pair. */
static inline void test_device_init(struct xwg_device *dev, const char *ifname)
{
	uint8_t priv[sizeof(dev->static_private)], pub[sizeof(dev->static_public)];

	curve25519_generate_private(priv);
	if (curve25519_generate_public(pub, priv))
		abort();
	test_device_init_key(dev, ifname, priv, pub);
	crypto_zero(priv, sizeof(priv));
}

/* The device's only peer, with this public key and its cookie keys; no static-static secret yet. */
static inline struct peer *test_peer_alloc(struct xwg_device *dev, const uint8_t *pub)
{
	struct peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		abort();
	peer->dev = dev;
	peer->offload_id = -1;
	memcpy(peer->public_key, pub, NOISE_PUBLIC_KEY_LEN);
	cookie_precompute_peer_keys(peer);
	dev->peers = dev->peers_tail = peer;
	dev->num_peers = 1;
	return peer;
}

/* The same, ready to handshake. */
static inline struct peer *test_peer_add(struct xwg_device *dev, const uint8_t *pub)
{
	struct peer *peer = test_peer_alloc(dev, pub);

	noise_precompute_static_static(dev, peer);
	return peer;
}

/* Frees a device made by test_device_init* and its one peer (test_peer_add). */
static inline void test_device_teardown(struct xwg_device *dev)
{
	struct peer *p = dev->peers;

	noise_handshake_clear(dev, p);
	noise_keypairs_clear(dev, p);
	/* The trie points at the peer: free it first (found by ASan). */
	allowedips_free(&dev->allowedips);
	free(p);
	index_table_free(&dev->index_table);
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* A device with an identity and no sockets, TUN or loop, for tests that drive the core directly. */
#ifndef XWG_TEST_DEVICE_H
#define XWG_TEST_DEVICE_H

#include <stdlib.h>
#include <string.h>
#include "cookie.h"
#include "crypto.h"
#include "device.h"

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

#endif

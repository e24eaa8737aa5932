/* SPDX-License-Identifier: GPL-2.0 */
/* A device with an identity and no sockets, TUN or loop, for tests that drive the core directly. */
#ifndef XWG_TEST_DEVICE_H
#define XWG_TEST_DEVICE_H

#include <stdlib.h>
#include <string.h>
#include "cookie.h"
#include "crypto.h"
#include "device.h"

/* Every fd -1, MTU 1420, empty tables, a fresh random static key pair. Aborts on failure. */
static void test_device_init(struct xwg_device *dev, const char *ifname)
{
	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = dev->sock4 = dev->sock6 = dev->epoll_fd = dev->uapi_fd = dev->signal_fd = -1;
	dev->mtu = 1420;
	snprintf(dev->ifname, sizeof(dev->ifname), "%s", ifname);
	allowedips_init(&dev->allowedips);
	if (index_table_init(&dev->index_table))
		abort();
	curve25519_generate_private(dev->static_private);
	if (curve25519_generate_public(dev->static_public, dev->static_private))
		abort();
	dev->has_identity = true;
	cookie_checker_precompute_device_keys(dev);
}

#endif

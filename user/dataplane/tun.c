/* SPDX-License-Identifier: GPL-2.0 */
/* The TUN device the user sees: created by name, read in super-packets, written in coalesced ones. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include "device.h"
#include "tun.h"
#include "vnet.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* TCP segmentation and checksum offload both ways; UDP segmentation where the kernel has it (6.2+). */
#define TUN_OFFLOADS_TCP (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
#define TUN_OFFLOADS_UDP (TUN_F_USO4 | TUN_F_USO6)

static bool tun_offload_wanted(void)
{
	const char *env = getenv("XWG_TUN_OFFLOAD");

	return !env || strcmp(env, "0");
}

/*
 * Turns offloads on; false (and vnet headers off again) when the kernel takes none of them.
 * Kernels before 6.2 have no USO: then TCP only, and *uso tells the coalescer not to build UDP
 * super-packets, which such a kernel would refuse.
 */
static bool tun_offload_on(int fd, bool *uso)
{
	*uso = ioctl(fd, TUNSETOFFLOAD, TUN_OFFLOADS_TCP | TUN_OFFLOADS_UDP) == 0;
	return *uso || ioctl(fd, TUNSETOFFLOAD, TUN_OFFLOADS_TCP) == 0;
}

static int tun_attach(int fd, const char *name, bool vnet)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	memcpy(ifr.ifr_name, name, strlen(name));
	return ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
}

int tun_open(const char *name, int *ifindex, bool *vnet, bool *uso)
{
	bool existed;
	int fd, ret;

	/* '%' would let the kernel pick a different name ("wg%d"); the caller asked for this one. */
	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '%') || strchr(name, '/'))
		return -EINVAL;
	existed = if_nametoindex(name) != 0;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*vnet = tun_offload_wanted();
	ret = tun_attach(fd, name, *vnet);
	if (ret < 0) {
		/* The kernel says EINVAL when the name belongs to a device that is not a TUN (or is a TAP). */
		if (existed && ret == -EINVAL)
			ret = -EEXIST;
		goto err_close;
	}
	*uso = false;
	if (*vnet && !tun_offload_on(fd, uso)) {
		/* No offloads: plain packets are cheaper than headers that say nothing. Start over. */
		close(fd);
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		*vnet = false;
		ret = tun_attach(fd, name, false);
		if (ret < 0)
			goto err_close;
	}
	*ifindex = (int)if_nametoindex(name);
	if (!*ifindex) {
		ret = errno ? -errno : -ENODEV;
		goto err_close;
	}
	return fd;

err_close:
	close(fd);
	return ret;
}

int tun_read(struct xwg_device *dev, uint8_t *buf, size_t size, uint8_t *seg_buf, size_t seg_size,
	     struct iovec *pkts, unsigned int max_pkts)
{
	ssize_t len = read(dev->tun_fd, buf, size);
	int n;

	if (len < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (len == 0)
		return -ENODEV;
	if (!dev->tun_vnet) {
		pkts[0] = (struct iovec){ .iov_base = buf, .iov_len = (size_t)len };
		return 1;
	}
	n = vnet_segment(buf, (size_t)len, seg_buf, seg_size, pkts, max_pkts);
	/* A frame we cannot take apart is dropped and counted, as a NIC drops a malformed one. */
	if (n < 0) {
		dev->tun_bad_frames++;
		return 0;
	}
	return n;
}

static int tun_write_frame(void *ctx, const uint8_t *frame, size_t len)
{
	struct xwg_device *dev = ctx;

	return write(dev->tun_fd, frame, len) < 0 ? -errno : 0;
}

int tun_write(struct xwg_device *dev, const void *pkt, size_t len)
{
	if (!dev->tun_vnet)
		return write(dev->tun_fd, pkt, len) < 0 ? -errno : 0;
	if (!dev->tun_gro) {
		dev->tun_gro = vnet_gro_new();
		if (!dev->tun_gro)
			return -ENOMEM;
		vnet_gro_udp(dev->tun_gro, dev->tun_uso);
	}
	vnet_gro_add(dev->tun_gro, pkt, len, tun_write_frame, dev);
	return 0;
}

void tun_flush(struct xwg_device *dev)
{
	/* A failed write is a dropped packet, as it would be for a NIC's receive queue. */
	if (dev->tun_gro && vnet_gro_flush(dev->tun_gro, tun_write_frame, dev) < 0)
		dev->tun_write_errors++;
}

void tun_close(struct xwg_device *dev)
{
	tun_flush(dev);
	vnet_gro_free(dev->tun_gro);
	dev->tun_gro = NULL;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Creates the TUN device the user sees (IFF_TUN|IFF_NO_PI), non-blocking and close-on-exec. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include "device.h"
#include "tun.h"

int tun_open(const char *name, int *ifindex)
{
	bool existed;
	struct ifreq ifr;
	int fd, ret;

	/* '%' would let the kernel pick a different name ("wg%d"); the caller asked for this one. */
	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '%') || strchr(name, '/'))
		return -EINVAL;
	existed = if_nametoindex(name) != 0;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		/* The kernel says EINVAL when the name belongs to a device that is not a TUN (or is a TAP). */
		if (existed && ret == -EINVAL)
			ret = -EEXIST;
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

int tun_write(struct xwg_device *dev, const void *pkt, size_t len)
{
	return write(dev->tun_fd, pkt, len) < 0 ? -errno : 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The UDP sockets: binding, fwmark, and sending with the peer's sticky source address. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "device.h"
#include "reresolve.h"
#include "socket_cmsg.h"

/* As wireguard-go: room for a few batches of 64 KiB GSO sends and GRO receives in flight. */
#define SOCKET_BUFFER_SIZE (7 << 20)


static int socket_open(struct xwg_device *dev, int family, uint16_t port)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr = { 0 };
	int one = 1, size = SOCKET_BUFFER_SIZE, fd, ret;
	socklen_t len;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The Force variants work as root and lift the sysctl cap; fall back quietly otherwise. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (dev->fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof(dev->fwmark)) < 0)
		goto err;
	if (family == AF_INET) {
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_port = htons(port);
		len = sizeof(addr.in4);
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)) < 0)
			goto err;
	} else {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(port);
		len = sizeof(addr.in6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one)) < 0)
			goto err;
	}
	/* Coalesced receives (socket_receive splits them); a kernel without UDP_GRO sends them singly. */
	if (!dev->no_udp_gro)
		setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, len) < 0)
		goto err;
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

/*
 * A socket with UDP_GRO makes the kernel coalesce its datagrams in GRO, which runs before TC
 * ingress and generic XDP: a mode that decrypts there must see them one by one.
 */
void device_set_udp_gro(struct xwg_device *dev, bool on)
{
	int val = on;

	dev->no_udp_gro = !on;
	for (int i = 0; i < 2; i++) {
		int fd = i ? dev->sock6 : dev->sock4;

		if (fd >= 0)
			setsockopt(fd, SOL_UDP, UDP_GRO, &val, sizeof(val));
	}
}

static uint16_t socket_bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void socket_close_all(struct xwg_device *dev)
{
	device_close_fd(&dev->sock4);
	device_close_fd(&dev->sock6);
}

/*
 * Binds IPv4 and IPv6 sockets to the same port. With port 0 the kernel picks the IPv4 port and the
 * IPv6 socket must get the same one, which can collide: retry a few times, like wireguard-go.
 */
static int socket_bind_pair(struct xwg_device *dev, uint16_t port)
{
	int fd4, fd6, ret = -EADDRINUSE;

	for (int attempt = 0; attempt < 100; attempt++) {
		fd4 = socket_open(dev, AF_INET, port);
		if (fd4 < 0)
			return fd4;
		fd6 = socket_open(dev, AF_INET6, socket_bound_port(fd4));
		if (fd6 >= 0 || fd6 == -EAFNOSUPPORT) {
			dev->sock4 = fd4;
			dev->sock6 = fd6 >= 0 ? fd6 : -1;
			dev->listen_port = socket_bound_port(fd4);
			return 0;
		}
		close(fd4);
		ret = fd6;
		if (port || fd6 != -EADDRINUSE)
			break;
	}
	return ret;
}

int device_set_listen_port(struct xwg_device *dev, uint16_t port)
{
	int old4 = dev->sock4, old6 = dev->sock6, ret;

	if (dev->sock4 >= 0 && port && port == dev->listen_port)
		return 0;
	/* Release the old port first so that re-binding to it (or swapping ports) works. */
	dev->sock4 = dev->sock6 = -1;
	if (old4 >= 0)
		close(old4);
	if (old6 >= 0)
		close(old6);
	ret = socket_bind_pair(dev, port);
	if (ret < 0) {
		/* Keep serving on the old port rather than going deaf after a failed change. */
		uint16_t old_port = dev->listen_port;

		dev->listen_port = 0;
		if (old4 >= 0 && socket_bind_pair(dev, old_port) == 0 &&
		    device_watch(dev, dev->sock4) == 0 && device_watch(dev, dev->sock6) == 0)
			return ret;
		socket_close_all(dev);
		dev->listen_port = 0;
		return ret;
	}
	dev->requested_port = port;
	ret = device_watch(dev, dev->sock4);
	if (!ret)
		ret = device_watch(dev, dev->sock6);
	if (ret < 0)
		socket_close_all(dev);
	return ret;
}

/*
 * The mark is what keeps policy routing (wg-quick's "not fwmark N table N") from sending the
 * encrypted packets back into the tunnel, on both paths: the sockets get SO_MARK, and BPF marks
 * what it redirects with the copy in its config map (xwg_dev_config.fwmark), rewritten at the end
 * of the turn. A new mark may route differently: each peer's sticky source is forgotten and its
 * endpoint published again, so the hop limit and the underlays are looked up with the new mark.
 */
int device_set_fwmark(struct xwg_device *dev, uint32_t fwmark)
{
	for (int i = 0; i < 2; i++) {
		int fd = i ? dev->sock6 : dev->sock4, ret;

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) == 0)
			continue;
		ret = -errno;
		/* Fail closed: both sockets keep the mark BPF and the other socket still use. */
		if (i && dev->sock4 >= 0)
			setsockopt(dev->sock4, SOL_SOCKET, SO_MARK, &dev->fwmark, sizeof(dev->fwmark));
		return ret;
	}
	if (dev->fwmark == fwmark)
		return 0;	/* same routes as before: keep the learned sources */
	dev->fwmark = fwmark;
	dev->config_changed = true;
	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		p->endpoint.src_valid = false;
		hooks_peer_changed(p, PUBLISH_ENDPOINT);
	}
	return 0;
}

/*
 * Control messages for one send: the cached local address, so replies leave from where the peer
 * reached us, the outer TOS / traffic class (ECN bits; 0: none, the socket's default), and the
 * segment size of a UDP GSO send (0: one datagram).
 */
static void socket_tx_cmsg(struct msghdr *msg, union socket_control *control, const struct endpoint *ep,
			   bool with_src, uint8_t tos, uint16_t gso_size)
{
	bool v4 = ep->addr.sa.sa_family == AF_INET;
	struct cmsghdr *cmsg;
	size_t len = 0;
	int val = tos;

	memset(control, 0, sizeof(*control));
	msg->msg_control = control;
	msg->msg_controllen = sizeof(*control);
	cmsg = CMSG_FIRSTHDR(msg);
	if (with_src) {
		/* A path over one uplink leaves by its interface: routing alone would pick the best default. */
		int oif = ep->src_pinned ? ep->src_ifindex : 0;
		struct in_pktinfo pi4 = { .ipi_ifindex = oif, .ipi_spec_dst = ep->src4 };
		struct in6_pktinfo pi6 = { .ipi6_addr = ep->src6, .ipi6_ifindex = (unsigned int)oif };
		size_t n = v4 ? sizeof(pi4) : sizeof(pi6);

		cmsg->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
		cmsg->cmsg_type = v4 ? IP_PKTINFO : IPV6_PKTINFO;
		cmsg->cmsg_len = CMSG_LEN(n);
		memcpy(CMSG_DATA(cmsg), v4 ? (const void *)&pi4 : (const void *)&pi6, n);
		len += CMSG_SPACE(n);
		cmsg = (struct cmsghdr *)(control->buf + len);
	}
	if (tos) {
		cmsg->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
		cmsg->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(val));
		memcpy(CMSG_DATA(cmsg), &val, sizeof(val));
		len += CMSG_SPACE(sizeof(val));
		cmsg = (struct cmsghdr *)(control->buf + len);
	}
	if (gso_size) {
		cmsg->cmsg_level = SOL_UDP;
		cmsg->cmsg_type = UDP_SEGMENT;
		cmsg->cmsg_len = CMSG_LEN(sizeof(gso_size));
		memcpy(CMSG_DATA(cmsg), &gso_size, sizeof(gso_size));
		len += CMSG_SPACE(sizeof(gso_size));
	}
	msg->msg_controllen = len;
	if (!len)
		msg->msg_control = NULL;
}

/* A full send buffer: wait a little for room rather than drop a whole GSO batch at once. */
static ssize_t socket_sendmsg_wait(int fd, const struct msghdr *msg)
{
	ssize_t ret = sendmsg(fd, msg, MSG_DONTWAIT);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	if (ret < 0 && errno == EAGAIN && poll(&pfd, 1, SOCKET_SEND_WAIT_MS) == 1)
		ret = sendmsg(fd, msg, MSG_DONTWAIT);
	return ret;
}

int socket_sendmsg(int fd, const struct iovec *iov, size_t iovcnt, struct endpoint *ep, uint8_t tos,
		   uint16_t gso_size)
{
	union socket_control control;
	struct msghdr msg = {
		.msg_name = &ep->addr,
		.msg_namelen = ep->addr.sa.sa_family == AF_INET ? sizeof(ep->addr.in4) : sizeof(ep->addr.in6),
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = iovcnt,
	};

	socket_tx_cmsg(&msg, &control, ep, ep->src_valid, tos, gso_size);
	if (socket_sendmsg_wait(fd, &msg) >= 0)
		return 0;
	/* The cached source address went away (roaming, address removed): let routing choose. */
	if (ep->src_valid && (errno == EINVAL || errno == EADDRNOTAVAIL || errno == ENETUNREACH)) {
		ep->src_valid = false;
		socket_tx_cmsg(&msg, &control, ep, false, tos, gso_size);
		if (socket_sendmsg_wait(fd, &msg) >= 0)
			return 0;
	}
	return -errno;
}

int socket_send_to_peer(struct peer *peer, const void *buf, size_t len)
{
	return socket_send_to_peer_tos(peer, buf, len, 0);
}

int socket_send_to_peer_tos(struct peer *peer, const void *buf, size_t len, uint8_t tos)
{
	struct xwg_device *dev = peer->dev;
	int family = peer->endpoint.addr.sa.sa_family, fd, ret;

	if (family != AF_INET && family != AF_INET6)
		return -EDESTADDRREQ;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	fd = family == AF_INET ? dev->sock4 : dev->sock6;
	if (fd < 0)
		return -ENETUNREACH;
	ret = socket_sendmsg(fd, &iov, 1, &peer->endpoint, tos, 0);
	if (!ret)
		peer->tx_bytes += len;
	return ret;
}

int socket_send_to_endpoint(struct peer *peer, struct endpoint *ep, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	int family = ep->addr.sa.sa_family, fd, ret;

	if (family != AF_INET && family != AF_INET6)
		return -EDESTADDRREQ;
	fd = family == AF_INET ? peer->dev->sock4 : peer->dev->sock6;
	if (fd < 0)
		return -ENETUNREACH;
	ret = socket_sendmsg(fd, &iov, 1, ep, 0, 0);
	if (!ret)
		peer->tx_bytes += len;
	return ret;
}

int socket_send_to_addr(struct xwg_device *dev, const void *buf, size_t len, const struct sockaddr *dst)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct endpoint ep = { 0 };
	int fd;

	if (dst->sa_family == AF_INET) {
		ep.addr.in4 = *(const struct sockaddr_in *)dst;
		fd = dev->sock4;
	} else if (dst->sa_family == AF_INET6) {
		ep.addr.in6 = *(const struct sockaddr_in6 *)dst;
		fd = dev->sock6;
	} else {
		return -EAFNOSUPPORT;
	}
	return fd < 0 ? -ENETUNREACH : socket_sendmsg(fd, &iov, 1, &ep, 0, 0);
}

/* Records where an authenticated packet came from and which local address it reached. */
void socket_set_peer_endpoint_from_packet(struct peer *peer, const struct sockaddr *src,
					  const void *local_addr, int local_ifindex)
{
	struct endpoint *ep = &peer->endpoint, old = *ep, seen = { 0 };

	/* A multi-path peer's packet belongs to one of its paths: path.c decides what is active. */
	if (path_multi(&peer->paths)) {
		memcpy(&seen.addr, src, src->sa_family == AF_INET ? sizeof(seen.addr.in4) : sizeof(seen.addr.in6));
		if (local_addr)
			memcpy(&seen.src6, local_addr, src->sa_family == AF_INET ? 4 : 16);
		seen.src_ifindex = local_ifindex;
		seen.src_valid = local_addr != NULL;
		path_received(peer, &seen);
		return;
	}
	if (src->sa_family == AF_INET) {
		ep->addr.in4 = *(const struct sockaddr_in *)src;
		if (local_addr)
			memcpy(&ep->src4, local_addr, sizeof(ep->src4));
	} else {
		ep->addr.in6 = *(const struct sockaddr_in6 *)src;
		if (local_addr)
			memcpy(&ep->src6, local_addr, sizeof(ep->src6));
	}
	ep->src_ifindex = local_ifindex;
	ep->src_valid = local_addr != NULL;
	/* The BPF transmit path needs the same endpoint; tell it only when something changed. */
	if (memcmp(&old, ep, sizeof(old)))
		hooks_peer_changed(peer, PUBLISH_ENDPOINT);
	reresolve_packet_moved(peer, &old);
}

/* What the kernel says about a received datagram: the local address and interface, the outer TOS. */
void socket_rx_cmsg(struct msghdr *msg, struct socket_rx_info *info)
{
	info->local = NULL;
	info->ifindex = 0;
	info->tos = 0;
	info->gso_size = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);

			info->local = &pi->ipi_addr;
			info->ifindex = pi->ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo *pi = (struct in6_pktinfo *)CMSG_DATA(c);

			info->local = &pi->ipi6_addr;
			info->ifindex = pi->ipi6_ifindex;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS &&
			   c->cmsg_len >= CMSG_LEN(1)) {
			info->tos = *CMSG_DATA(c);	/* one byte on receive */
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int tclass;

			memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
			info->tos = (uint8_t)tclass;
		} else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
			   c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int size;

			memcpy(&size, CMSG_DATA(c), sizeof(size));
			info->gso_size = size > 0 ? (unsigned int)size : 0;
		}
	}
}

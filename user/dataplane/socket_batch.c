/* SPDX-License-Identifier: GPL-2.0 */
/* The UDP sockets in batches: GSO sends of a peer's consecutive messages, GRO receives split apart. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "device.h"
#include "socket_cmsg.h"
#include "tun.h"

/* The kernel's UDP_MAX_SEGMENTS was 64 until 6.x: stay within what every kernel takes. */
#define SOCKET_GSO_MAX_SEGS	64
/* A GSO send is one UDP datagram before segmentation: at most 65507 bytes of payload over IPv4. */
#define SOCKET_GSO_MAX_BYTES	65000
/* recvmmsg slots per call; each may hold many GRO-coalesced messages. */
#define SOCKET_RX_SLOTS		64

/* How many of msgs[0..n) go in one GSO send: one peer, one TOS, one size, the last may be shorter. */
static unsigned int socket_gso_run(const struct socket_msg *msgs, unsigned int n)
{
	size_t size = msgs[0].len, total = size;
	unsigned int k = 1;

	while (k < n && k < SOCKET_GSO_MAX_SEGS && msgs[k].peer == msgs[0].peer && msgs[k].tos == msgs[0].tos &&
	       msgs[k].len <= size && total + msgs[k].len <= SOCKET_GSO_MAX_BYTES) {
		total += msgs[k].len;
		if (msgs[k++].len < size)
			break;
	}
	return k;
}

/* Errors that mean "this kernel cannot do UDP GSO at all", not "this datagram failed". */
static bool socket_gso_unsupported(int err)
{
	return err == -EIO || err == -ENOPROTOOPT || err == -EOPNOTSUPP;
}

/* Sends one run (socket_gso_run) as one GSO send, else message by message. Drops what fails (UDP). */
static void socket_send_run(struct xwg_device *dev, int fd, const struct socket_msg *msgs, unsigned int k)
{
	struct peer *peer = msgs[0].peer;
	struct iovec iov[SOCKET_GSO_MAX_SEGS];
	size_t total = 0;
	int ret;

	for (unsigned int i = 0; i < k; i++) {
		iov[i] = (struct iovec){ .iov_base = (void *)msgs[i].buf, .iov_len = msgs[i].len };
		total += msgs[i].len;
	}
	if (k > 1 && !dev->no_udp_gso) {
		ret = socket_sendmsg(fd, iov, k, &peer->endpoint, msgs[0].tos, (uint16_t)msgs[0].len);
		if (!ret) {
			peer->tx_bytes += total;
			return;
		}
		if (socket_gso_unsupported(ret))
			dev->no_udp_gso = true;	/* for good: send singly from now on */
		else if (ret != -EINVAL)
			return;			/* the datagrams are lost, as a plain send's would be */
	}
	for (unsigned int i = 0; i < k; i++)
		if (!socket_sendmsg(fd, &iov[i], 1, &peer->endpoint, msgs[i].tos, 0))
			peer->tx_bytes += msgs[i].len;
}

void socket_send_batch(struct xwg_device *dev, const struct socket_msg *msgs, unsigned int n)
{
	unsigned int k;

	for (unsigned int i = 0; i < n; i += k) {
		int family = msgs[i].peer->endpoint.addr.sa.sa_family;
		int fd = family == AF_INET ? dev->sock4 : family == AF_INET6 ? dev->sock6 : -1;

		k = socket_gso_run(msgs + i, n - i);
		if (fd >= 0)
			socket_send_run(dev, fd, msgs + i, k);
	}
}

/* One receive batch: a buffer per datagram, since receive_packet keeps data messages until the flush. */
static uint8_t socket_rx_bufs[SOCKET_RX_SLOTS][65536] __attribute__((aligned(64)));

/* Hands each message of one (maybe GRO-coalesced) datagram to the core. */
static void socket_receive_one(struct xwg_device *dev, uint8_t *buf, size_t len, struct msghdr *mh)
{
	struct socket_rx_info info;
	size_t step;

	socket_rx_cmsg(mh, &info);
	step = info.gso_size ? info.gso_size : len;
	for (size_t off = 0; off < len; off += step)
		receive_packet(dev, buf + off, len - off < step ? len - off : step, mh->msg_name, info.local,
			       info.ifindex, info.tos);
}

/*
 * Drains up to 4 batches from one socket, then yields to the other event sources. Each batch is
 * one recvmmsg, one receive_flush (replay checks committed once per keypair, decryption spread
 * over the crypto workers) and one flush of the packets coalesced for the TUN.
 */
void socket_receive(struct xwg_device *dev, int fd)
{
	static union socket_control control[SOCKET_RX_SLOTS];
	static struct sockaddr_storage src[SOCKET_RX_SLOTS];
	static struct iovec iov[SOCKET_RX_SLOTS];
	static struct mmsghdr msgs[SOCKET_RX_SLOTS];

	for (int round = 0; round < 4; round++) {
		int n;

		for (int i = 0; i < SOCKET_RX_SLOTS; i++) {
			iov[i] = (struct iovec){ .iov_base = socket_rx_bufs[i], .iov_len = sizeof(socket_rx_bufs[i]) };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &src[i], .msg_namelen = sizeof(src[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1,
				.msg_control = &control[i], .msg_controllen = sizeof(control[i]),
			};
		}
		n = recvmmsg(fd, msgs, SOCKET_RX_SLOTS, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			socket_receive_one(dev, socket_rx_bufs[i], msgs[i].msg_len, &msgs[i].msg_hdr);
		receive_flush(dev);
		tun_flush(dev);
		if (n < SOCKET_RX_SLOTS)
			return;
	}
}

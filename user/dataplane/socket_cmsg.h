/* SPDX-License-Identifier: GPL-2.0 */
/* What the UDP sockets share: control messages of received datagrams, and one send call. */
#ifndef XWG_SOCKET_CMSG_H
#define XWG_SOCKET_CMSG_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* How long a send waits for room in a full socket buffer before it drops. */
#define SOCKET_SEND_WAIT_MS 5

/* Room for packet info, TOS / traffic class and a UDP GSO segment size or a GRO size, either way. */
union socket_control {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

struct socket_rx_info {
	const void *local;	/* local address it reached (struct in_addr / in6_addr in msg), or NULL */
	int ifindex;		/* interface it arrived on, 0 if unknown */
	uint8_t tos;		/* outer TOS / traffic class: its ECN bits feed RFC 6040 decapsulation */
	unsigned int gso_size;	/* UDP GRO: the datagram holds messages of this size (the last may be shorter) */
};

/* Parses IP_PKTINFO / IPV6_PKTINFO, IP_TOS / IPV6_TCLASS and UDP_GRO; info->local points into msg's buffer. */
void socket_rx_cmsg(struct msghdr *msg, struct socket_rx_info *info);

struct endpoint;
/*
 * Sends iov to ep from its sticky source (dropped and retried without it if the address went away),
 * with the TOS and, when gso_size, as UDP GSO segments of that size. 0 or -errno.
 */
int socket_sendmsg(int fd, const struct iovec *iov, size_t iovcnt, struct endpoint *ep, uint8_t tos,
		   uint16_t gso_size);

#endif

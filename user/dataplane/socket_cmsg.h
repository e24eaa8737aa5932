/* SPDX-License-Identifier: GPL-2.0 */
/* What the UDP sockets learn from a received datagram's control messages. */
#ifndef XWG_SOCKET_CMSG_H
#define XWG_SOCKET_CMSG_H

#include <stdint.h>
#include <sys/socket.h>

struct socket_rx_info {
	const void *local;	/* local address it reached (struct in_addr / in6_addr in msg), or NULL */
	int ifindex;		/* interface it arrived on, 0 if unknown */
	uint8_t tos;		/* outer TOS / traffic class: its ECN bits feed RFC 6040 decapsulation */
};

/* Parses IP_PKTINFO / IPV6_PKTINFO and IP_TOS / IPV6_TCLASS; info->local points into msg's buffer. */
void socket_rx_cmsg(struct msghdr *msg, struct socket_rx_info *info);

#endif

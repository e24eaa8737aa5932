/* SPDX-License-Identifier: GPL-2.0 */
/* The outer TTL / hop limit for packets to an endpoint, as the kernel's UDP sockets pick it. */
#ifndef XWG_HOPLIMIT_H
#define XWG_HOPLIMIT_H

#include <stdint.h>
#include "peer.h"

/*
 * The route's hop limit metric, else the netns default (IPv4) or the output device's hop_limit
 * (IPv6); 0 if there is no endpoint or nothing could be read (BPF then uses 64). A netlink round
 * trip: call it when the endpoint or the fwmark changes, never per packet.
 */
uint8_t hoplimit_for_endpoint(const struct endpoint *ep, uint32_t fwmark);

#endif

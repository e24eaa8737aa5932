/* SPDX-License-Identifier: GPL-2.0 */
/* The wg-quick configuration file format, parsed into a plain structure. */
#ifndef XWG_CONFIG_H
#define XWG_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include "encoding.h"

struct xwg_config_peer {
	uint8_t public_key[32];
	bool has_preshared_key;
	uint8_t preshared_key[32];
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	uint16_t persistent_keepalive;
	struct xwg_prefix *allowed_ips;
	size_t n_allowed_ips;
	struct xwg_config_peer *next;
};

struct xwg_config {
	char ifname[16];		/* from the file name (wg0.conf -> wg0) */
	bool has_private_key;
	uint8_t private_key[32];
	bool has_listen_port;
	uint16_t listen_port;
	uint32_t fwmark;
	int mtu;			/* 0 = default */
	char mode[16];			/* "" = default ("auto"); xwg extension key Mode */
	char underlay[256];		/* "" or "eth0,eth1": xwg extension key Underlay */
	struct xwg_prefix *addresses;	/* kept with host bits */
	size_t n_addresses;
	struct xwg_config_peer *peers;	/* in file order */
	size_t n_peers;
};

/*
 * Parses path. On error returns -EINVAL (or -errno for I/O) and writes a message naming the file,
 * line and key into err, e.g. "wg0.conf:7: unknown key 'Endpont'". Nothing needs freeing on error.
 */
int config_parse_file(struct xwg_config *cfg, const char *path, char *err, size_t errlen);
int config_parse_string(struct xwg_config *cfg, const char *name, const char *text, char *err, size_t errlen);
void config_free(struct xwg_config *cfg);

#endif

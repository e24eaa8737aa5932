/* SPDX-License-Identifier: GPL-2.0 */
/* The wg-quick configuration file format, parsed into a plain structure. */
#ifndef XWG_CONFIG_H
#define XWG_CONFIG_H

#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include "encoding.h"

#define XWG_CONFIG_MAX_ENDPOINTS 4	/* PATH_MAX_PER_PEER */

struct xwg_config_peer {
	uint8_t public_key[32];
	bool has_preshared_key;
	uint8_t preshared_key[32];
	bool has_endpoint;
	struct sockaddr_storage endpoint;
	char endpoint_host[256];	/* "" = Endpoint was an address; else its host name (port: endpoint's) */
	uint16_t persistent_keepalive;
	/* xwg extension: Endpoint = a:port, b:port gives more paths (path.h), PathPolicy, PathProbeInterval */
	struct sockaddr_storage more_endpoints[XWG_CONFIG_MAX_ENDPOINTS - 1];
	size_t n_more_endpoints;
	bool has_path_policy;
	uint8_t path_policy;		/* enum path_policy */
	uint16_t path_probe_interval;	/* seconds; 0 = default */
	struct xwg_prefix *allowed_ips;
	size_t n_allowed_ips;
	struct xwg_config_peer *next;
};

/* wg-quick's Table: auto (the default: main, with policy routing for a /0), off, or a table id. */
enum xwg_table_mode { XWG_TABLE_AUTO, XWG_TABLE_OFF, XWG_TABLE_ID };

/* wg-quick's hooks, in the order they run. */
enum xwg_hook { XWG_HOOK_PRE_UP, XWG_HOOK_POST_UP, XWG_HOOK_PRE_DOWN, XWG_HOOK_POST_DOWN, XWG_HOOK_MAX };

struct xwg_config {
	char ifname[16];		/* from the file name (wg0.conf -> wg0) */
	char path[4096];		/* the file, absolute (config_parse_file; "" from a string) */
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
	/* The rest is wg-quick's, not wg(8)'s: applied by xwg up/down (quick.c). */
	enum xwg_table_mode table_mode;
	uint32_t table;			/* XWG_TABLE_ID */
	bool has_table;			/* given in the file (SaveConfig writes it back only then) */
	bool save_config;
	struct xwg_prefix *dns;		/* DNS servers (cidr = full length) */
	size_t n_dns;
	char **dns_search;		/* DNS search domains */
	size_t n_dns_search;
	char **hooks[XWG_HOOK_MAX];	/* commands, %i not yet expanded */
	size_t n_hooks[XWG_HOOK_MAX];
};

/* The file key of each hook ("PreUp", ...). */
extern const char *const config_hook_names[XWG_HOOK_MAX];

/*
 * Parses path. On error returns -EINVAL (or -errno for I/O) and writes a message naming the file,
 * line and key into err, e.g. "wg0.conf:7: unknown key 'Endpont'". Nothing needs freeing on error.
 */
int config_parse_file(struct xwg_config *cfg, const char *path, char *err, size_t errlen);
int config_parse_string(struct xwg_config *cfg, const char *name, const char *text, char *err, size_t errlen);
void config_free(struct xwg_config *cfg);

/* The whole file as a NUL-terminated string (-EILSEQ if it holds a NUL); free with config_wipe_free. */
int config_read_file(const char *path, char **out);
void config_wipe_free(char *s, size_t len);

/*
 * Like wg-quick strip: writes the lines of the file at path that wg(8) understands (everything but
 * wg-quick's and xwg's own [Interface] keys) to out. The file is parsed first: a bad file is an error
 * in err and nothing is written.
 */
int config_strip(const char *path, FILE *out, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg show`: queries an agent (or any WireGuard UAPI server) over its socket and prints the state. */
#ifndef XWG_SHOW_H
#define XWG_SHOW_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Prints the interface like `wg show IF` (or one JSON object with json) to out.
 * 0 or -errno; on failure one "xwg: IFNAME: ..." line goes to stderr.
 */
int show_print(const char *ifname, bool json, FILE *out);
/* The data path mode the agent reports ("tun", "xdp", ...), quietly. 0, -ENOENT if it reports none, or -errno. */
int show_get_mode(const char *ifname, char *mode, size_t len);
/*
 * Reads a UAPI get reply from in and writes it to out as `wg showconf` does (keys in base64), with
 * interface_extra (wg-quick's own lines, each ending in a newline) right after "[Interface]". out
 * receives the private key: the caller wipes its buffers. 0, -EPROTO for a malformed reply, the
 * reply's errno, or -EIO.
 */
int show_conf(FILE *in, const char *interface_extra, FILE *out);
/* Prints the name of every connectable socket in /var/run/wireguard, sorted, one per line. Count or -errno. */
int show_list_interfaces(FILE *out);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg metrics` and --metrics-listen: show's data model in Prometheus text format, printed or served. */
#ifndef XWG_METRICS_H
#define XWG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

struct show_device;

/* One interface's state as show_fetch parsed it. */
struct metrics_iface {
	const char *ifname;
	const struct show_device *d;
};

/* Writes one label value with the text format's escapes (backslash, double quote, newline). */
void metrics_label_value(FILE *out, const char *s);
/* Writes the exposition of n interfaces, every family once with all of its samples together. */
void metrics_format(FILE *out, const struct metrics_iface *ifs, size_t n);
/*
 * Fetches and writes one interface (quietly with quiet, else failures on stderr), or every live one
 * (ifname NULL; those that vanish meanwhile are left out). 0 or -errno.
 */
int metrics_print(const char *ifname, FILE *out, bool quiet);

/* "127.0.0.1:9586" or "[::1]:9586": numeric address and a port from 1 to 65535. 0 or -EINVAL. */
int metrics_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/*
 * Serves /metrics and /healthz on listen from libmicrohttpd's own thread, which reads the device
 * only through ifname's UAPI socket (metrics_http.c says why). 0, or -errno with a message in err.
 */
int metrics_http_start(const char *ifname, const char *listen, char *err, size_t errlen);
/* Stops serving (no-op when not started); call after the UAPI socket is closed. */
void metrics_http_stop(void);
/* "http://ADDR:PORT/metrics" while serving, else "". */
const char *metrics_http_url(void);

#endif

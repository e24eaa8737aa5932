/* SPDX-License-Identifier: GPL-2.0 */
/* Agent start-up shared by the CLI's up and run commands (implemented in up.c). */
#ifndef XWG_CLI_H
#define XWG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "messages.h"	/* XWG_DEFAULT_MTU */
#include "uapi.h"	/* XWG_UAPI_DIR */

struct xwg_device;

struct agent_opts {
	const char *ifname;
	const struct xwg_config *cfg;	/* NULL: bare device for wg/wg-quick to configure (xwg run) */
	const char *mode;		/* data path (offload_mode_parse name); NULL or "" = "auto" */
	bool foreground;		/* serve in this process instead of a detached child */
	bool quiet;			/* no "[#] ..." progress line */
	const char *metrics_listen;	/* "ADDR:PORT" for the metrics server (metrics.h); NULL = none */
};

/*
 * Creates and configures the device, then serves it: detached (returns 0 once the agent reported
 * it is ready) or in the foreground (returns when the agent stops). On failure returns -errno and
 * writes one message naming the interface and the failed step into err (without the "xwg: " prefix);
 * whatever was already created is gone again by then.
 */
int agent_start(const struct agent_opts *opts, char *err, size_t errlen);

/*
 * For a command that serves the device on one of its own threads (node-agent): the checks and set-up
 * of a foreground start, with the stop signals blocked in the calling thread (create threads after).
 */
int agent_start_here(struct xwg_device *dev, const struct agent_opts *o, char *err, size_t errlen);

/*
 * Serves dev until a stop signal, then leaves the data path in place for the next agent to adopt
 * (a tun-mode device, which cannot outlive its process, goes when the process exits).
 */
int agent_serve_kept(struct xwg_device *dev);

/*
 * Connects to the agent's UAPI socket, with 5 s send and receive timeouts so a wedged agent cannot
 * hang the CLI: fd, or -ENOENT / -ECONNREFUSED when nobody serves it.
 */
int agent_connect(const char *ifname);

/* wg-quick's interface name rule: 1-15 of [a-zA-Z0-9_=+.-], and not "." or "..". */
bool ifname_valid(const char *name);

#endif

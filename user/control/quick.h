/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's half of xwg up and down: hooks, routes and policy rules, firewall, DNS, MTU, SaveConfig. */
#ifndef XWG_QUICK_H
#define XWG_QUICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "config.h"
#include "uapi.h"	/* XWG_UAPI_DIR */

struct xwg_device;

/*
 * Each interface's record of what xwg up changed on the host: beside its socket, in the one
 * directory the agent must be able to write anyway (a pod mounts it, wg(8) only reads *.sock there).
 */
#define XWG_STATE_DIR XWG_UAPI_DIR
#define XWG_STATE_SUFFIX ".xwg-state"

/*
 * What up changed, as "key=value" lines, written to XWG_STATE_DIR/IFNAME.xwg-state after every step so
 * that any later down (xwg down, the agent's own exit, or xwg down after kill -9) can undo exactly
 * that, with or without the configuration file. Each module owns its keys ("route.*", "dns.*", ...).
 */
#define QUICK_STATE_MAX 48
struct quick_state {
	char ifname[16];
	char path[64];			/* the state file: XWG_STATE_DIR/IFNAME.xwg-state */
	int n;
	struct {
		char key[32];
		char value[256];
	} kv[QUICK_STATE_MAX];
};

const char *quick_state_get(const struct quick_state *st, const char *key);
/* Reads IFNAME's state file as it is (a dead agent's, to build on); -errno, -ENOENT if there is none. */
int quick_state_open(struct quick_state *st, const char *ifname);
/* Sets key and writes the file at once (the record must survive a crash right after the change). */
int quick_state_set(struct quick_state *st, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Before the device exists, in the process that will run it: decides what the rest needs (the
 * policy routing table and fwmark for a /0 with Table = auto: may set cfg->fwmark) and the MTU when
 * the file gives none (wg-quick's rule, from the routes to the endpoints). adopting: a dead agent's
 * tunnel is being taken over, its state file is reused.
 */
int quick_prepare(struct xwg_config *cfg, bool adopting, char *err, size_t errlen);
/* PreUp hooks (not when adopting). */
int quick_pre_up(const struct xwg_config *cfg, bool adopting, char *err, size_t errlen);
/*
 * After the device is configured, up and offloaded: DNS, routes and rules, firewall, then the
 * PostUp hooks. On failure everything quick_up did is undone (quick_undo) and err says what failed.
 */
int quick_up(struct xwg_device *dev, const struct xwg_config *cfg, bool adopting, char *err, size_t errlen);

/*
 * Down, in two halves around stopping the agent. Whoever claims the interface's state file does
 * both: xwg down (the agent then finds it claimed and only stops), or the agent itself when it is
 * stopped by a signal. quick_down_begin runs the PreDown hooks and SaveConfig (getconf: the running
 * configuration in the UAPI "get" text form); quick_down_end undoes routes, rules, firewall and DNS
 * from the state alone and runs the PostDown hooks. Failures are reported on stderr; down goes on.
 */
struct quick_down {
	struct quick_state st;
	struct xwg_config cfg;		/* reread from the file up used; n/a if has_cfg is false */
	bool has_cfg;
	char claimed[96];		/* the renamed state file */
	struct xwg_device *dev;		/* the agent's own, when it runs down itself: serves PreDown's wg calls */
};
/* 1 and d filled when ifname has a state file and it was ours to claim, 0 if none, -errno. */
int quick_down_claim(const char *ifname, struct quick_down *d);
void quick_down_begin(struct quick_down *d, int (*getconf)(void *ctx, FILE *out), void *ctx);
void quick_down_end(struct quick_down *d);

/*
 * Runs argv[0] (looked up on PATH) with argv, no shell, input (if not NULL) on its stdin, and the
 * default signal mask and dispositions; meanwhile dev (if not NULL) keeps answering on its UAPI
 * socket. Its exit status (128 + signal if killed), or -errno if it could not be started.
 */
int quick_spawn(char *const argv[], const char *input, struct xwg_device *dev);

/*
 * Hooks of one kind, in file order, each through bash (as wg-quick: -e, pipefail) with %i replaced
 * by the interface name. dev: the agent's own device, which keeps serving UAPI while a hook runs
 * (PostUp, and PreDown when the agent runs down itself), so "wg set %i ..." in a hook works.
 */
int quick_hooks_run(const struct xwg_config *cfg, enum xwg_hook which, struct xwg_device *dev, char *err,
		    size_t errlen);

/* ---- per concern (quick_route.c, quick_dns.c, quick_save.c) */

/* Table/policy routing and fwmark choice before the device exists (may set cfg->fwmark). */
int quick_route_prepare(struct xwg_config *cfg, char *err, size_t errlen);
/* The MTU for a file without MTU: wg-quick's rule from the routes to the endpoints, minus 80. */
int quick_route_mtu(const struct xwg_config *cfg);
/* Routes for the allowed IPs per Table, wg-quick's policy rules and firewall for a /0, sysctls. */
int quick_route_up(struct xwg_device *dev, const struct xwg_config *cfg, struct quick_state *st, char *err,
		   size_t errlen);
/* Undoes what the state says quick_route_up did (the device may be gone already). */
void quick_route_down(const struct quick_state *st);

/*
 * The file's DNS through resolvconf, else resolvectl (an error if neither is on PATH); records
 * "dns.resolvconf=NAME" or "dns.resolvectl=IFNAME" before running them. quick_dns_down undoes what
 * the state records, reporting failures on stderr.
 */
int quick_dns_up(const struct xwg_config *cfg, struct quick_state *st, char *err, size_t errlen);
void quick_dns_down(const struct quick_state *st);

/* SaveConfig: writes the running configuration (getconf's UAPI text) over cfg's file, as wg-quick does. */
int quick_save(const struct xwg_config *cfg, const char *ifname, const char *path,
	       int (*getconf)(void *ctx, FILE *out), void *ctx, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF fast path as the agent sees it: load, pin, attach, mirror state into maps, read counters. */
#ifndef XWG_OFFLOAD_H
#define XWG_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include "xwg_reasons.h"

struct xwg_device;
struct peer;
struct noise_keypair;
struct offload;

enum offload_mode {
	OFFLOAD_TUN = 0,	/* no BPF: the agent does everything */
	OFFLOAD_TC,		/* TC ingress receive + TC egress transmit */
	OFFLOAD_XDP_GENERIC,	/* skb-mode XDP receive + TC */
	OFFLOAD_XDP,		/* native XDP receive + TC */
	OFFLOAD_AUTO,		/* request only: best that works */
};

#define OFFLOAD_MAX_UNDERLAY 8
/* How often the event loop calls offload_poll while BPF is on (ms). */
#define OFFLOAD_POLL_MS 100

/* Per-peer numbers the BPF path accumulated (summed over CPUs). */
struct offload_peer_stats {
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
	uint64_t last_rx_ns, last_rx_data_ns, last_tx_ns, last_tx_data_ns;
};

/* "auto", "tun", "tc", "xdp-generic", "xdp" <-> enum; parse returns -EINVAL for anything else. */
int offload_mode_parse(const char *s, enum offload_mode *mode);
const char *offload_mode_name(enum offload_mode mode);

/*
 * Loads the programs, pins the maps under /sys/fs/bpf/xwg/IFNAME/ and attaches to every suitable
 * underlay interface (up, not loopback, not the tunnel) in the requested mode; auto tries xdp,
 * xdp-generic, tc, then tun. Never fails for lack of BPF: it falls back to tun and records why
 * (offload_refused). Returns 0, or -errno only for errors that leave nothing usable.
 */
int offload_start(struct xwg_device *dev, enum offload_mode requested);
/* Finds the host's bpffs for pins; call early in the CLI, before forking the agent. */
void offload_prepare(void);
/* True when an agent for ifname left pinned state behind (it died): offload_start adopts it. */
bool offload_has_pins(const char *ifname);
/* `xwg down` after the agent died: detach our programs, delete the tunnel, remove the pins. */
int offload_cleanup_stale(const char *ifname);
/* Detaches everything offload_start/attach created and removes the pins. */
void offload_stop(struct xwg_device *dev);
enum offload_mode offload_active_mode(const struct xwg_device *dev);
/* Why a better mode than the active one was refused ("" if it was not tried). */
const char *offload_refused(const struct xwg_device *dev, enum offload_mode mode);
/* Underlay interfaces with the receive program attached. Returns the count. */
int offload_underlay(const struct xwg_device *dev, const char *names[OFFLOAD_MAX_UNDERLAY]);
int offload_attach(struct xwg_device *dev, const char *ifname);
int offload_detach(struct xwg_device *dev, const char *ifname);

/* Mirrors of agent state into the maps; no-ops when offload is off. */
void offload_peer_sync(struct peer *peer);		/* endpoint, current keypair, keepalive */
void offload_peer_remove(struct peer *peer);
/* Full resync after a configuration change (UAPI set): device config, peers, keypairs, allowed IPs. */
void offload_sync(struct xwg_device *dev);
void offload_keypair_add(struct noise_keypair *kp);
void offload_keypair_remove(struct noise_keypair *kp);
/*
 * An offloaded keypair's send counter and replay window live in its map entry only (offload_ctl.c).
 * There is no fallback to the keypair's own fields: an error means "unusable", never "use yours".
 */
#define OFFLOAD_RESERVE_BATCH	64	/* counters the agent takes per reservation */
#define OFFLOAD_REPLAY_BATCH	64	/* most counters one replay commit validates */
/* Takes n consecutive send counters; *first is the first. 0, or -errno (-ERANGE: exhausted). */
int offload_reserve_counters(struct noise_keypair *kp, uint32_t n, uint64_t *first);
/*
 * Validates n authenticated counters of kp against its window, in order, in one call: bit i of
 * *fresh is set if counters[i] was fresh (and is now recorded). 0, or -errno: then none is fresh.
 */
int offload_replay_commit(struct noise_keypair *kp, const uint64_t *counters, unsigned int n, uint64_t *fresh);

int offload_peer_stats(struct peer *peer, struct offload_peer_stats *st);	/* zeros when off */
/* Per-reason counters summed over CPUs; counts has XWG_R_MAX entries. */
int offload_reason_counts(struct xwg_device *dev, uint64_t *counts);
/* Drains BPF events (roaming, key confirmation, rekey) and turns BPF activity into timer events. */
void offload_poll(struct xwg_device *dev);
int offload_events_fd(const struct xwg_device *dev);	/* -1 when off: add to epoll */

#endif

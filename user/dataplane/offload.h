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

/* How many underlay names a caller asks for at most (the list itself has no cap). */
#define OFFLOAD_REPORT_UNDERLAY 64
/* How often the event loop calls offload_poll while BPF is on (ms). */
#define OFFLOAD_POLL_MS 100

/* Per-peer numbers the BPF path accumulated (summed over CPUs). */
struct offload_peer_stats {
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
	uint64_t last_rx_ns, last_rx_data_ns, last_tx_ns, last_tx_data_ns;
	uint64_t last_rx_endpoint_ns;	/* from the published endpoint exactly (the active path) */
};

/* auto's flavour: true when BPF runs and the device chooses per packet (hybrid), with its thresholds. */
bool offload_hybrid(const struct xwg_device *dev, uint32_t *rx_bulk_len, uint32_t *tx_bulk_len);

/* "auto", "tun", "tc", "xdp-generic", "xdp" <-> enum; parse returns -EINVAL for anything else. */
int offload_mode_parse(const char *s, enum offload_mode *mode);
const char *offload_mode_name(enum offload_mode mode);

/*
 * Loads the programs, pins the maps under /sys/fs/bpf/xwg/IFNAME/ and attaches to the underlays
 * (the configured ones, comma-separated in underlays or NULL, the interfaces of the routes to the
 * peers' endpoints and of the default routes) in the requested mode, through pinned bpf_links;
 * never over a program xwg did not attach. auto tries xdp, then tc, then tun. Never fails for
 * lack of BPF: it falls back to tun and records why (offload_refused). Returns 0, or -errno only
 * for errors that leave nothing usable.
 */
int offload_start(struct xwg_device *dev, enum offload_mode requested, const char *underlays);
/* Finds the host's bpffs for pins; call early in the CLI, before forking the agent. */
void offload_prepare(void);
/* True when an agent for ifname left pinned state behind (it died): offload_start adopts it. */
bool offload_has_pins(const char *ifname);
/* `xwg down` after the agent died: detach our programs, delete the tunnel, remove the pins. */
int offload_cleanup_stale(const char *ifname);
/* Detaches everything offload_start/attach created and removes the pins. */
void offload_stop(struct xwg_device *dev);
/*
 * Frees this process's copy and closes its fds, as an exit would: the pinned links, programs and
 * maps stay and keep forwarding for the next agent to adopt (agent_serve_kept).
 */
void offload_release(struct xwg_device *dev);
enum offload_mode offload_active_mode(const struct xwg_device *dev);
/* Why a better mode than the active one was refused ("" if it was not tried). */
const char *offload_refused(const struct xwg_device *dev, enum offload_mode mode);
/* Underlay interfaces with the receive program attached, up to max. Returns the count. */
int offload_underlay(const struct xwg_device *dev, const char **names, int max);
/* Interfaces that were candidates but not attached to, with why ("" if none). */
const char *offload_underlay_skipped(const struct xwg_device *dev);
int offload_attach(struct xwg_device *dev, const char *ifname);
int offload_detach(struct xwg_device *dev, const char *ifname);

/*
 * Publishes what the core marked (peer->publish, hooks.h) into the maps: called once per
 * event-loop turn, before the loop sleeps. Every write is checked; a peer whose write failed
 * is handed to the agent (XWG_PEER_F_AGENT) and retried once a second. No-op when offload is off.
 */
void offload_publish(struct xwg_device *dev);
/* Marks every peer and the device config, and publishes: start, mode change. */
void offload_sync(struct xwg_device *dev);
/* Why the peer is not (wholly) in BPF while BPF runs; "" when it is, or when BPF is off. */
const char *offload_peer_refused(const struct peer *peer);

int offload_peer_stats(struct peer *peer, struct offload_peer_stats *st);	/* zeros when off */
/* Per-reason counters summed over CPUs; counts has XWG_R_MAX entries. */
int offload_reason_counts(struct xwg_device *dev, uint64_t *counts);
/* Drains BPF events (roaming, key confirmation, rekey) and turns BPF activity into timer events. */
void offload_poll(struct xwg_device *dev);
/* Only the activity part, now: the event loop calls it right before due protocol timers fire. */
void offload_poll_activity(struct xwg_device *dev);
int offload_events_fd(const struct xwg_device *dev);	/* -1 when off: add to epoll */

#endif

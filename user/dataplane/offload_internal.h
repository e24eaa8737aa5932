/* SPDX-License-Identifier: GPL-2.0 */
/* What the offload_*.c parts share: the offload state and the calls they make across files. */
#ifndef XWG_OFFLOAD_INTERNAL_H
#define XWG_OFFLOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "device.h"
#include "offload.h"
#include "xwg_maps.h"
#include "rx.skel.h"
#include "tx.skel.h"
#include "ctl.skel.h"

#define OFFLOAD_MODES (OFFLOAD_XDP + 1)

struct offload_prefix {
	uint8_t family, cidr;
	uint8_t addr[16];
	uint32_t id;
};

struct offload {
	enum offload_mode mode;
	char refused[OFFLOAD_MODES][160];
	struct rx_bpf *rx;
	struct tx_bpf *tx;
	struct ctl_bpf *ctl;
	struct ring_buffer *events;
	int underlay[OFFLOAD_MAX_UNDERLAY];
	bool underlay_csum_off[OFFLOAD_MAX_UNDERLAY];	/* we turned veth TX checksumming off */
	char underlay_name[OFFLOAD_MAX_UNDERLAY][IF_NAMESIZE];
	int n_underlay;
	bool pinned;			/* the maps are pinned under the interface's directory */
	struct peer *by_id[XWG_MAX_PEERS];
	struct offload_prefix *prefixes;	/* what the LPM maps hold, sorted */
	size_t n_prefixes;
	int ncpus;
	bool rx_spread;			/* xwg_rx_cpus has an entry for every CPU */
	uint64_t last_poll_ns;
};

/* The offload state when programs are loaded; NULL in tun mode (or a refusal record only). */
static inline struct offload *offload_live(const struct xwg_device *dev)
{
	return dev->offload && dev->offload->rx ? dev->offload : NULL;
}

/* offload_load.c: bpffs, programs, pins. */
/* Finds or mounts the host's bpffs (PID 1's mount namespace); on failure, why in offload_bpffs_error(). */
int offload_mount_bpffs(void);
const char *offload_bpffs_error(void);
/* Loads all three objects on one set of maps, counts CPUs; *adopted when a dead agent's pins were reused. */
int offload_load(struct offload *o, const char *ifname, bool *adopted);
int offload_pin(struct offload *o, const char *ifname);
void offload_unpin(struct offload *o, const char *ifname);
/* Removes ifname's pins without loaded programs (cleanup after a dead agent). */
void offload_unpin_stale(const char *ifname);

/* offload_attach.c: programs on the underlays and the tunnel. */
/* Attaches in one mode to every underlay and the tunnel; on failure leaves nothing and says why. */
int offload_attach_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode);
void offload_detach_all(struct xwg_device *dev, struct offload *o);
/* Detaches programs carrying our names from every interface but the tunnel (after a dead agent). */
void offload_detach_stale(int tun_ifindex);

/* offload_mirror.c: agent state <-> maps. */
void offload_endpoint_from_map(struct peer *peer, const struct xwg_endpoint *in);
/* Rebuilds peers' map slots and keypairs from pinned maps, and drops what the configuration lost. */
void offload_adopt(struct xwg_device *dev, struct offload *o);

/* offload_poll.c: ring-buffer callback (ctx is the device). */
int offload_handle_event(void *ctx, void *data, size_t len);

#endif

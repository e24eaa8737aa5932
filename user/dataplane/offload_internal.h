/* SPDX-License-Identifier: GPL-2.0 */
/* What the offload_*.c parts share: the offload state and the calls they make across files. */
#ifndef XWG_OFFLOAD_INTERNAL_H
#define XWG_OFFLOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
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

/* A growable array of prefixes, kept sorted (offload_prefix_cmp) where it says so. */
struct offload_prefixes {
	struct offload_prefix *v;
	size_t n, cap;
};

/* What the maps hold for one peer id: the publish step diffs against it (offload_publish.c). */
struct offload_slot {
	struct offload_prefixes pub;	/* in the LPM maps under this id, sorted */
	struct offload_prefixes stale;	/* published but no longer the peer's: deleted after all adds */
	struct offload_prefixes failed;	/* the peer's, but a map write failed: not in the maps */
	struct xwg_peer val;		/* the xwg_peers entry as last written (valid if entry) */
	bool entry;			/* an xwg_peers entry exists for this id */
	bool own_failure;		/* a write for this peer failed: out of BPF until a retry works */
	bool covers_failure;		/* its prefix covers another peer's failed one: out of BPF too */
	bool removed;			/* the peer is gone: entry and prefixes go, then the id is free */
	unsigned int dead_keypairs;	/* retired keypairs whose map delete failed (o->dead) */
	char why[128];			/* own_failure: the write that failed, for `xwg show` */
};

struct offload_underlay {
	int ifindex;
	char name[IF_NAMESIZE];
};

/* Where xwg attaches a program. */
enum offload_hook {
	OFFLOAD_HOOK_XDP,	/* underlay: xwg_rx */
	OFFLOAD_HOOK_TC_IN,	/* underlay ingress: xwg_rx_tc (xdp modes) or xwg_rx_tc_full (tc) */
	OFFLOAD_HOOK_TC_OUT,	/* tunnel egress: xwg_tx */
};

/* What the pinned record (offload_record.c) holds, per (kind, ifindex). */
enum offload_rec {
	OFFLOAD_REC_CSUM = 1,	/* we turned veth TX checksumming off; value: what to set back */
	OFFLOAD_REC_GSO,	/* the tunnel's gso_max_segs before we set 1 */
	OFFLOAD_REC_CLSACT,	/* fallback: we created the clsact qdisc */
	OFFLOAD_REC_XDP_LINK,	/* value: the XDP flags (mode) of our pinned link */
	OFFLOAD_REC_XDP_PROG,	/* fallback: our netlink XDP program (prog_id), value: flags */
	OFFLOAD_REC_TC_IN,	/* fallback: our cls_bpf filter's program on ingress */
	OFFLOAD_REC_TC_OUT,	/* ... on egress (order as enum offload_hook) */
	OFFLOAD_REC_DISP_SLOT,	/* value: our slot in the namespace's XDP dispatcher */
};

struct offload {
	enum offload_mode mode;
	bool hybrid;			/* auto picked the mode: per-packet choice (XWG_CFG_F_HYBRID) */
	uint32_t rx_bulk_len;		/* hybrid: xwg_dev_config.rx_bulk_len */
	uint32_t tx_bulk_len;		/* hybrid: xwg_dev_config.tx_bulk_len */
	uint32_t cfg_flags;		/* the flags the xwg_config entry holds (as last written) */
	char refused[OFFLOAD_MODES][160];
	struct rx_bpf *rx;
	struct tx_bpf *tx;
	struct ctl_bpf *ctl;
	struct ring_buffer *events;
	struct offload_underlay *underlays;	/* grows: no cap */
	int n_underlay, cap_underlay;
	char config_underlays[256];	/* Underlay = from the file, comma-separated names */
	char skipped[512];		/* interfaces not attached to, and why */
	bool attached;			/* programs are on the hooks */
	bool links;			/* bpf_links (else netlink XDP + cls_bpf, recorded) */
	int rec_fd;			/* the pinned host-settings record, -1 before attaching */
	int tun_ifindex;
	char ifname[IF_NAMESIZE];
	char pin_dir[160];		/* ROOT/IFNAME */
	uint16_t listen_port;		/* the port registered with the dispatcher */
	int disp_slot;			/* -1 until this interface joined the dispatcher */
	int disp_ports, disp_progs, disp_prog;	/* its pinned maps and program, -1 when closed */
	struct sockaddr_in6 followed;	/* the last endpoint offload_underlay_follow looked up */
	uint32_t followed_fwmark;	/* ... and the fwmark its route was looked up with */
	bool pinned;			/* the maps are pinned under the interface's directory */
	struct peer *by_id[XWG_MAX_PEERS];
	struct offload_slot *slots;	/* XWG_MAX_PEERS of them, by peer id */
	size_t n_failed;		/* prefixes in all slots' failed lists */
	bool failed_changed;		/* some failed list changed: recompute covers_failure */
	uint64_t last_retry_ns;		/* peers out of BPF are retried once a second */
	uint64_t map_writes;		/* map updates and deletes the publish step issued (tests) */
	struct offload_dead {		/* retired keypairs still in the map: deleted on every retry */
		uint32_t index;
		int id;			/* the peer's slot, kept out of BPF until they are gone */
	} *dead;
	size_t n_dead, cap_dead;
	char config_why[128];		/* the xwg_config write failed: "" when fine */
	int ncpus;
	bool rx_spread;			/* xwg_rx_cpus has an entry for every CPU */
	uint64_t last_poll_ns;
	bool pins_lost;			/* offload_pins_reachable() said no (logged once) */
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
/* False once the bpffs holding our pins is no longer the host's /sys/fs/bpf (unmounted under us). */
bool offload_pins_reachable(void);
/* Removes ifname's pins without loaded programs (cleanup after a dead agent). */
void offload_unpin_stale(const char *ifname);

/* ROOT/IFNAME, the directory of an interface's pins. */
void offload_pin_dir(char *buf, size_t len, const char *ifname);

/* offload_attach.c: programs on the underlays and the tunnel. */
/* Attaches in one mode to the underlays and the tunnel; on failure leaves nothing and says why. */
int offload_attach_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode);
void offload_detach_all(struct xwg_device *dev, struct offload *o);
/* After a dead agent: its pinned links and recorded attachments go, its host settings come back. */
void offload_detach_stale(const char *ifname);
struct endpoint;
/* After a peer endpoint or the listen port changed: its interface an underlay, the dispatcher on the port (the publish step calls it). */
void offload_underlay_follow(struct xwg_device *dev, const struct endpoint *ep);
/* The listen port changed: the dispatcher's entries move with it. */
void offload_listen_port_follow(struct xwg_device *dev);

/* offload_hook.c: one program at one hook, only where the slot is xwg's. */
int offload_hook_attach(struct offload *o, enum offload_hook hook, int ifindex, int prog_fd, uint32_t xdp_flags);
void offload_hook_detach(struct offload *o, enum offload_hook hook, int ifindex);
/* Detaches every attachment under dir (links by pin, fallbacks by record) that keep() (if any) does not keep. */
void offload_hook_sweep(const char *dir, int rec_fd, bool (*keep)(void *, enum offload_hook, int), void *ctx);

/* offload_dispatch.c: the namespace's XDP dispatcher (with links). */
int offload_disp_attach(struct offload *o, int ifindex, uint16_t port, uint32_t xdp_flags);
void offload_disp_detach(struct offload *o, int ifindex);
bool offload_disp_owns(int ifindex);
void offload_disp_leave(struct offload *o);
void offload_disp_leave_stale(int rec_fd);
void offload_disp_prune(struct offload *o, bool (*keep)(void *, int), void *ctx);

/* offload_record.c: the pinned record of host changes. */
int offload_rec_open(const char *dir, bool create);
void offload_rec_close(int fd, const char *dir, bool unpin);
int offload_rec_add(int fd, enum offload_rec kind, int ifindex, uint32_t value, uint32_t prog_id);
int offload_rec_get(int fd, enum offload_rec kind, int ifindex, uint32_t *value, uint32_t *prog_id);
void offload_rec_del(int fd, enum offload_rec kind, int ifindex);
/* Puts back the settings recorded for ifindex (0: all) and forgets them. */
void offload_rec_restore(int fd, int ifindex);
void offload_rec_sweep_legacy(int fd, bool (*keep)(void *, enum offload_hook, int), void *ctx,
			      void (*detach)(int, enum offload_hook, int));
int offload_ethtool(int ifindex, void *data);

/* offload_mirror.c: agent state <-> maps. */
void offload_endpoint_from_map(struct peer *peer, const struct xwg_endpoint *in);
void offload_endpoint_decode(const struct xwg_endpoint *in, struct endpoint *out);
void offload_endpoint_to_map(const struct endpoint *ep, struct xwg_endpoint *out);
/* Rebuilds peers' map slots and keypairs from pinned maps, and drops what the configuration lost. */
void offload_adopt(struct xwg_device *dev, struct offload *o);

/* offload_publish.c: the one writer of peers, keypairs and allowed IPs into the maps. */
int offload_slots_alloc(struct offload *o);
void offload_slots_free(struct offload *o);
/* Checked, counted map writes: 0 or -errno (a delete of a missing key is 0). */
int offload_map_update(struct offload *o, int fd, const void *key, const void *val);
int offload_map_delete(struct offload *o, int fd, const void *key);
/* Records the first failed write of a slot's peer: it leaves BPF, and `xwg show` says why. */
void offload_slot_fail(struct offload_slot *slot, const char *what, int err);

/* offload_prefixes.c: allowed IPs into the LPM maps, as diffs of each peer's own list. */
void offload_prefixes_free(struct offload_prefixes *l);
int offload_prefixes_add(struct offload_prefixes *l, const struct offload_prefix *p);
/* Writes the prefixes peer gained; what it lost waits in slot->stale for offload_prefix_deletes. */
void offload_prefix_adds(struct offload *o, struct peer *peer, struct offload_slot *slot);
/* Deletes slot id's stale prefixes, unless another peer now holds them in the map. */
void offload_prefix_deletes(struct xwg_device *dev, struct offload *o, int id);
/* Marks covers_failure on every peer whose shorter prefix covers a failed one. */
void offload_prefix_covers(struct xwg_device *dev, struct offload *o);
/* Takes the LPM entries a dead agent left into the slots of the peers adopted (deletes the rest). */
void offload_adopt_prefixes(struct xwg_device *dev, struct offload *o);

/* offload_ctl.c: test hook; when set, a non-zero return fails the ctl call with that -errno. */
extern int (*offload_ctl_inject)(uint32_t op, uint32_t index);

/* offload_poll.c: ring-buffer callback (ctx is the device). */
int offload_handle_event(void *ctx, void *data, size_t len);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Every struct and map the BPF data path shares with the agent: fixed-width, explicitly padded, size-checked. */
#ifndef XWG_MAPS_H
#define XWG_MAPS_H

#include "xwg_types.h"
#include "replay.h"
#include "xwg_reasons.h"

#ifndef __bpf__
#include <linux/bpf.h>		/* struct bpf_spin_lock */
#endif

/*
 * Conventions: addresses and ports are in network byte order, exactly as on the wire (the BPF side
 * compares them without swapping); an IPv4 address sits in addr[0..4) with addr[4..16) zero.
 * Receiver indices are the 4 wire bytes read as a native u32 (little-endian hosts: the value the
 * agent put into its handshake message). Times are bpf_ktime_get_ns(), i.e. CLOCK_MONOTONIC.
 * Maps are created by whichever object loads first; the agent shares them between the rx and tx
 * objects with bpf_map__reuse_fd() and pins them under /sys/fs/bpf/xwg/<ifname>/ itself
 * (no pinning attribute here, so tests never leave pins behind).
 */

#define XWG_AF_INET		2	/* AF_INET, without pulling libc into BPF */
#define XWG_AF_INET6		10	/* AF_INET6 */

#define XWG_MAX_PEERS		1024	/* peer ids are 0 .. XWG_MAX_PEERS - 1 */
#define XWG_MAX_KEYPAIRS	(4 * XWG_MAX_PEERS)	/* previous, current, next + slack */
#define XWG_MAX_ALLOWEDIPS	(1 << 18)
#define XWG_EVENTS_BYTES	(64 * 1024)

/* Receive limits: the largest UDP payload the BPF path decrypts (bigger goes to the agent). */
#define XWG_RX_MAX_MESSAGE	9216
#define XWG_REJECT_AFTER_TIME_NS	(180ULL * 1000000000ULL)
/* REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT: the receiving initiator rekeys now. */
#define XWG_REKEY_ON_RECV_NS	(165ULL * 1000000000ULL)
/* Send side (digest 5.2): the initiator of the current keypair rekeys on age. */
#define XWG_REKEY_AFTER_TIME_NS	(120ULL * 1000000000ULL)
/* At most one roaming event per peer per CPU in this interval, until the agent updates xwg_peers. */
#define XWG_ROAM_EVENT_GAP_NS	(100ULL * 1000000ULL)

/* ---- xwg_config (array, one entry, key 0) */

#define XWG_CFG_F_RX		(1u << 0)	/* decrypt in BPF; clear: every packet to the agent */
#define XWG_CFG_F_TX		(1u << 1)	/* encrypt in BPF (tx.bpf.c) */
#define XWG_CFG_F_RX_SPREAD	(1u << 2)	/* xwg_rx hands data messages to xwg_rx_cpus (native XDP) */
/*
 * auto's per-packet choice: GSO super-packets go to the agent's batched path as TX_BULK, data
 * messages of rx_bulk_len bytes or more pass up to its UDP socket as RX_BULK once their index and
 * counter checked out.
 */
#define XWG_CFG_F_HYBRID	(1u << 3)
/*
 * Unknown receiver indices are dropped (INDEX_DROP) rather than passed to the agent: set in every
 * mode while every keypair the agent holds is in xwg_keypairs, so none can be the agent's.
 */
#define XWG_CFG_F_DROP_UNKNOWN	(1u << 4)
/*
 * Messages to the listen port shorter than their type needs, or of an unknown type, are dropped
 * (BAD_HEADER) rather than passed to the agent, which would only drop them: HYBRID implies it.
 */
#define XWG_CFG_F_DROP_MALFORMED	(1u << 5)
/* rx_bulk_len when XWG_RX_BULK_LEN does not say otherwise: full-size data messages go up, ACKs stay. */
#define XWG_RX_BULK_LEN_DEFAULT	512
/*
 * tx_bulk_len when XWG_TX_BULK_LEN does not say otherwise: a full-size packet costs eBPF about 8 us
 * against about 1.5 us in the agent's batch (README, Benchmark), while a 60-byte ACK costs 2 us here
 * and a TUN read plus a send there.
 */
#define XWG_TX_BULK_LEN_DEFAULT	512
#define XWG_MAX_CPUS		256		/* xwg_rx_cpus entries */

struct xwg_dev_config {
	__u32 tun_ifindex;	/* decrypted packets go to this interface's ingress */
	__u32 flags;		/* XWG_CFG_F_* */
	__be16 listen_port;	/* network byte order */
	__u16 mtu;		/* tunnel MTU: TX pads up to it and hands bigger packets to the agent */
	__u32 fwmark;		/* device fwmark: TX marks outer packets with it (0: keep skb->mark) */
	/* XWG_CFG_F_HYBRID: data messages (UDP payload) at least this long go to the agent; 0: none */
	__u32 rx_bulk_len;
	/* XWG_CFG_F_HYBRID: inner packets at least this long go to the agent too, GSO or not; 0: GSO only */
	__u32 tx_bulk_len;
	/*
	 * Handshake messages passed up to the agent per second on each CPU; past it they are dropped
	 * (HANDSHAKE_LIMIT), so that a flood of them cannot fill the agent's socket, which in auto
	 * also carries bulk data. 0: no limit.
	 */
	__u32 hs_per_cpu;
};
_Static_assert(sizeof(struct xwg_dev_config) == 28, "xwg_dev_config layout");
/*
 * hs_per_cpu as the agent sets it: answering an initiation under load (mac1, a cookie reply) costs
 * the agent about 17 us (make bench, Floods), so 2 CPUs' worth is about 7% of its core, while a
 * legitimate load of 10,000 peers rekeying every two minutes is under 100 a second.
 */
#define XWG_HS_PER_CPU_DEFAULT	2048

/* ---- xwg_peers (hash, peer id -> struct xwg_peer), written only by the agent */

/* Where a peer was last seen: remote address/port, and the local address/ifindex it reached. */
struct xwg_endpoint {
	__u8 addr[16];		/* peer's address */
	__u8 local[16];		/* our address the peer sent to (sticky source for replies) */
	__u32 ifindex;		/* underlay interface it arrived on */
	__be16 port;		/* peer's UDP port */
	__u16 family;		/* XWG_AF_INET, XWG_AF_INET6, or 0 (no endpoint) */
};
_Static_assert(sizeof(struct xwg_endpoint) == 40, "xwg_endpoint layout");

#define XWG_TIMESTAMP_LEN	12	/* TAI64N, as in the handshake initiation */

#define XWG_PEER_F_HAS_CURRENT	(1u << 0)	/* current_index is valid (TX) */
/*
 * The agent could not publish all of this peer (a map write failed): RX and TX hand its packets
 * to the agent untouched, as they do for a peer id missing from xwg_peers. Never a drop.
 */
#define XWG_PEER_F_AGENT	(1u << 1)

struct xwg_peer {
	struct xwg_endpoint endpoint;
	__u32 flags;		/* XWG_PEER_F_* */
	__u32 current_index;	/* TX: local index of the current keypair in xwg_keypairs */
	__u16 keepalive_interval;	/* persistent keepalive, seconds, 0 = off */
	/* TX: outer TTL / hop limit, from the route to the endpoint as the kernel picks it; 0 = 64 */
	__u8 hop_limit;
	__u8 pad0;
	__u32 pad1;
	/* Agent-only: what a restarted agent needs to adopt this entry (BPF never reads them). */
	__u8 public_key[32];
	__u64 last_handshake_sec;	/* CLOCK_REALTIME of the last completed handshake */
	__u64 last_handshake_nsec;
	/* TAI64N of the newest initiation accepted from the peer: replays stay rejected after a restart. */
	__u8 latest_timestamp[XWG_TIMESTAMP_LEN];
	__u32 pad2;
};
_Static_assert(sizeof(struct xwg_peer) == 120, "xwg_peer layout");

/* ---- xwg_keypairs (hash, local receiver index -> struct xwg_keypair) */

/* flags: written by the agent when it inserts the keypair; BPF only reads them. */
#define XWG_KP_F_RECV_VALID	(1u << 0)	/* may decrypt with recv_key */
#define XWG_KP_F_SEND_VALID	(1u << 1)	/* may encrypt with send_key */
#define XWG_KP_F_INITIATOR	(1u << 2)	/* we initiated the handshake (rekey-on-receive rule) */

/* state: written by BPF under the lock; the agent inserts 0 (or pre-sets bits to mute events). */
#define XWG_KP_S_CONFIRMED	(1u << 0)	/* authenticated packet seen; KEYPAIR_CONFIRMED sent */
#define XWG_KP_S_REKEY_SENT	(1u << 1)	/* REKEY_NEEDED sent for this keypair */
#define XWG_KP_S_TX_REKEY_SENT	(1u << 2)	/* TX sent REKEY_NEEDED (age or counter) for it */

struct xwg_keypair {
	__u8 recv_key[32];
	__u8 send_key[32];
	__u64 birthdate_ns;	/* CLOCK_MONOTONIC at key derivation */
	__u64 send_counter;	/* TX: next nonce, atomically incremented */
	__u32 remote_index;	/* the peer's index for this keypair, wire value (TX header) */
	__u32 peer_id;
	__u32 flags;		/* XWG_KP_F_* */
	__u32 pad0;
	struct bpf_spin_lock lock;	/* guards state and replay */
	__u32 state;		/* XWG_KP_S_* */
	struct replay_counter replay;
};
_Static_assert(sizeof(struct xwg_keypair) == 104 + sizeof(struct replay_counter), "xwg_keypair layout");

/* ---- xwg_allowedips4 / xwg_allowedips6 (LPM tries, prefix -> __u32 peer id) */

struct xwg_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};
_Static_assert(sizeof(struct xwg_lpm4_key) == 8, "xwg_lpm4_key layout");

struct xwg_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};
_Static_assert(sizeof(struct xwg_lpm6_key) == 20, "xwg_lpm6_key layout");

/* ---- xwg_stats (per-CPU array indexed by peer id); the agent sums the CPUs */

struct xwg_peer_stats {
	__u64 rx_bytes;		/* WireGuard message bytes (UDP payload), like the kernel's rx_bytes */
	__u64 rx_packets;
	__u64 tx_bytes;
	__u64 tx_packets;
	__u64 last_rx_ns;	/* any authenticated packet: data or keepalive */
	__u64 last_rx_data_ns;	/* non-keepalive data (drives the agent's keepalive timer) */
	__u64 last_tx_ns;
	__u64 last_tx_data_ns;
	__u64 last_roam_event_ns;	/* rate limit for XWG_EV_ROAMED, per CPU */
	/* authenticated packet from exactly the published endpoint: the active path is alive (path.c) */
	__u64 last_rx_endpoint_ns;
};
_Static_assert(sizeof(struct xwg_peer_stats) == 80, "xwg_peer_stats layout");

/* ---- xwg_reasons (per-CPU array of __u64, indexed by enum xwg_reason) */

/* ---- xwg_events (ring buffer of struct xwg_event) */

enum xwg_event_type {
	XWG_EV_ROAMED = 1,		/* endpoint: the peer's new endpoint; store it in xwg_peers */
	XWG_EV_KEYPAIR_CONFIRMED = 2,	/* first authenticated packet under index: promote "next" */
	XWG_EV_REKEY_NEEDED = 3,	/* initiator's keypair older than 165 s still receiving; or TX:
					 * current keypair due (initiator and older than 120 s, or
					 * counter past REKEY_AFTER_MESSAGES); packets still go out */
	XWG_EV_HANDSHAKE_NEEDED = 4,	/* TX found no usable keypair for peer_id */
};

struct xwg_event {
	__u32 type;		/* enum xwg_event_type */
	__u32 peer_id;
	__u32 index;		/* local receiver index of the keypair involved */
	__u32 flags;		/* XWG_EVF_* */
	__u64 time_ns;
	struct xwg_endpoint endpoint;
};
#define XWG_EVF_DATA	1u	/* XWG_EV_ROAMED: the packet carried data (not a keepalive) */
_Static_assert(sizeof(struct xwg_event) == 64, "xwg_event layout");

/* ---- XDP -> TC hand-off: XDP metadata in front of a decapsulated packet */

#define XWG_RX_META_MAGIC	0x31677778u	/* "xwg1" in memory */

/*
 * ---- bpf/dispatch.bpf.c: one XDP program per underlay for every xwg interface of a namespace
 *
 * XDP takes one program per device, so xwg attaches a dispatcher (pinned under
 * /sys/fs/bpf/xwg/netns:INODE/) that looks up (ingress ifindex, UDP destination port) and
 * tail-calls the owning interface's xwg_rx; other traffic passes.
 */
#define XWG_DISP_SLOTS		64
#define XWG_DISP_MAX_PORTS	1024

struct xwg_disp_key {
	__u32 ifindex;		/* the underlay */
	__u16 port;		/* UDP destination port, network order */
	__u16 pad;
};
_Static_assert(sizeof(struct xwg_disp_key) == 8, "xwg_disp_key layout");

/*
 * Several xwg interfaces can share an underlay (one TCX program each on its ingress): tun_ifindex
 * says whose frame it is, so every xwg_rx_tc takes only its own tunnel's and passes the rest on.
 */
struct xwg_rx_mark {
	__u32 magic;
	__u32 tun_ifindex;	/* the tunnel the frame was decrypted for */
	__u16 keep;		/* bytes from TC's data on that are the packet: the rest is padding + tag */
	__u16 peer_id;
};
_Static_assert(sizeof(struct xwg_rx_mark) == 12, "xwg_rx_mark layout");
_Static_assert(XWG_MAX_PEERS <= 65536, "peer ids fit the mark's 16 bits");

/*
 * XDP cannot trim the tail itself: generic XDP on 6.18 leaves the skb's tail pointer out of step
 * with its length after bpf_xdp_adjust_tail(), and TCP later coalesces small segments into the
 * wrong place (measured: shifted bytes in a TCP stream whose checksums were all good). So XDP only
 * strips the head and TC trims with bpf_skb_change_tail() to mark.keep.
 * TC finds the metadata at data - meta_len, and data is normally the MAC header; after generic XDP
 * TC sees data at the network header, ETH_HLEN further on (the skb's mac_len is 0 there). The mark
 * is written twice, each with its own keep, so either view reads a correct one at data_meta.
 */
struct xwg_rx_meta {
	struct xwg_rx_mark mark;	/* data_meta when TC's data is the MAC header */
	__u8 pad0[2];
	__u8 mark_l3[12];		/* a struct xwg_rx_mark, unaligned: data_meta when data is L3 */
	__u8 pad1[2];
};
_Static_assert(sizeof(struct xwg_rx_meta) == 28, "xwg_rx_meta layout (4-byte multiple, <= 32)");
_Static_assert(__builtin_offsetof(struct xwg_rx_meta, mark_l3) == 14, "mark_l3 is ETH_HLEN on");

/*
 * ---- bpf/ctl.bpf.c: the agent's atomic access to a shared keypair
 *
 * Userspace can neither fetch-and-add a hash map value nor take its bpf_spin_lock, so the agent
 * runs the XDP program xwg_ctl through BPF_PROG_TEST_RUN with one request as the "packet" and
 * reads the answer back from the output packet (program return XDP_PASS; XDP_DROP: the packet is
 * shorter than the request and nothing was done).
 */
enum xwg_ctl_op {
	XWG_CTL_RESERVE = 1,	/* result = first of arg consecutive send counters (fetch-and-add) */
	XWG_CTL_REPLAY = 2,	/* result = replay_counter_validate(arg) under the lock: 1 fresh, 0 not */
	XWG_CTL_REPLAY_BATCH = 3,	/* struct xwg_ctl_batch: validates counters[0 .. arg) in order;
					 * result bit i = 1 if counters[i] was fresh */
};

/* err values, negative errno numbers written out (no libc in BPF). */
#define XWG_CTL_ENOENT		(-2)	/* no keypair under index */
#define XWG_CTL_EINVAL		(-22)	/* unknown op, RESERVE arg 0 or above XWG_CTL_RESERVE_MAX,
					 * REPLAY_BATCH arg 0 or above XWG_CTL_BATCH */
#define XWG_CTL_ERANGE		(-34)	/* RESERVE: the range would reach REJECT_AFTER_MESSAGES */

/*
 * The most counters one RESERVE takes. Bounded so that the overshoot past REJECT_AFTER_MESSAGES
 * (the counter of an exhausted keypair keeps growing) stays inside the 2^13 left below 2^64: 8
 * reservations racing past the check, plus 4096 TX packets doing the same, cannot wrap it.
 */
#define XWG_CTL_RESERVE_MAX	512

struct xwg_ctl_req {
	__u32 op;		/* enum xwg_ctl_op */
	__u32 index;		/* local receiver index: the xwg_keypairs key */
	__u64 arg;		/* RESERVE: how many counters; REPLAY: the received counter */
	__u64 result;		/* out; 0 unless err == 0 */
	__s32 err;		/* out: 0 or XWG_CTL_E* */
	__u32 pad;
};
_Static_assert(sizeof(struct xwg_ctl_req) == 32, "xwg_ctl_req layout (>= ETH_HLEN for XDP test runs)");

/*
 * REPLAY_BATCH: the counters the agent authenticated under one keypair in one receive batch, so
 * that one test run commits them all. 64 makes the answer one bitmap word, and the request (544
 * bytes) stays a small XDP test-run packet: the kernel takes up to a page minus headroom.
 */
#define XWG_CTL_BATCH		64

struct xwg_ctl_batch {
	struct xwg_ctl_req req;	/* op = XWG_CTL_REPLAY_BATCH, arg = how many counters */
	__u64 counters[XWG_CTL_BATCH];
};
_Static_assert(sizeof(struct xwg_ctl_batch) == 32 + 8 * XWG_CTL_BATCH, "xwg_ctl_batch layout");
_Static_assert(XWG_CTL_BATCH <= 64, "the fresh bitmap is one __u64");

#ifdef __bpf__
/*
 * The map definitions, shared by rx.bpf.c and tx.bpf.c so bpf_map__reuse_fd() matches them.
 * Include vmlinux.h and <bpf/bpf_helpers.h> before this header.
 */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xwg_dev_config);
} xwg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWG_MAX_PEERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xwg_peer);
} xwg_peers SEC(".maps");

/* Not preallocated: a deleted keypair stays intact until readers leave RCU, never reused early. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWG_MAX_KEYPAIRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct xwg_keypair);
} xwg_keypairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWG_MAX_ALLOWEDIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xwg_lpm4_key);
	__type(value, __u32);
} xwg_allowedips4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWG_MAX_ALLOWEDIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xwg_lpm6_key);
	__type(value, __u32);
} xwg_allowedips6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XWG_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct xwg_peer_stats);
} xwg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XWG_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xwg_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XWG_EVENTS_BYTES);
} xwg_events SEC(".maps");

/* Tells the agent something it must act on; false when the ring is full (the agent is behind). */
static __always_inline bool xwg_event_emit(__u32 type, __u32 peer_id, __u32 index, __u64 now,
					   const struct xwg_endpoint *ep, __u32 flags)
{
	struct xwg_event *e = bpf_ringbuf_reserve(&xwg_events, sizeof(*e), 0);

	if (!e)
		return false;
	e->type = type;
	e->peer_id = peer_id;
	e->index = index;
	e->flags = flags;
	e->time_ns = now;
	e->endpoint = *ep;
	bpf_ringbuf_submit(e, 0);
	return true;
}
#endif

#endif

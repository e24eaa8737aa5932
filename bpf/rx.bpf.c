/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF receive path: XDP (or, in tc mode, TC ingress) decrypts WireGuard data messages on the underlay for the tunnel. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "chacha20poly1305.h"
#include "messages.h"
#include "xwg_maps.h"
#include "xwg_ecn.h"

/*
 * xwg_rx (XDP, underlay): UDP to the listen port carrying a data message (type 4) under a known,
 * live receiver index is checked against the replay window, decrypted and verified in place,
 * committed to the window, checked against the peer's allowed IPs and decapsulated to
 * Ethernet + inner packet (+ padding and tag), then marked with struct xwg_rx_meta and passed up.
 * xwg_rx_tc (TC ingress, same underlay): trims marked packets and redirects them to the tunnel.
 * xwg_rx_tc_full (TC ingress, tc mode, where XDP is unavailable): the same steps on the skb, then
 * decapsulated with bpf_skb_adjust_room() and redirected to the tunnel's ingress itself.
 * Everything else is passed untouched to the stack and the agent; only what the AEAD or the replay
 * window proved bad, and keepalives, are dropped. Every step returns 0 or -reason; each program
 * turns the reason into a verdict and a per-CPU counter in one place (rx_verdict, rx_tc_verdict).
 * The shared steps take the context as void * plus a constant `skb` flag (false: struct xdp_md,
 * true: struct __sk_buff); they are always inlined, so each program keeps only its own branch.
 */

#define ETH_HLEN	14
#define ETH_ALEN	6
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IP_MF_OFFSET	0x3fff
/* Not ours (or the agent's): TCX runs the next program on the hook, cls_bpf the next filter. */
#define TC_ACT_UNSPEC	(-1)
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
/* Ethernet + the longest IPv4 header + UDP + WireGuard header: all the parser reads directly. */
#define RX_HDRS_MAX	(ETH_HLEN + 60 + 8 + 16)
#define WG_HDR_LEN	16		/* type, receiver index, counter */
#define WG_TAG_LEN	CC20P1305_TAG_SIZE

char LICENSE[] SEC("license") = "GPL";

/* AEAD state and one aligned block: too big for the 512-byte stack. */
struct rx_scratch {
	struct cc20p1305_ctx aead;
	union cc_block blk;
	__u64 tag[2];
	__u64 want[2];
	__u64 hs_second;	/* rx_handshake_budget: the second counted, and its handshakes so far */
	__u32 hs_count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rx_scratch);
} xwg_rx_scratch SEC(".maps");

/*
 * Decryption spread over CPUs, as the kernel driver spreads it: veth runs a flow's receive XDP on
 * the sender's CPU, next to its encryption. Each keypair (receiver index) keeps one CPU, so a
 * peer's packets stay in order. rx_ncpus is set before load; 0 or 1 turns spreading off.
 */
const volatile __u32 rx_ncpus = 0;

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, XWG_MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} xwg_rx_cpus SEC(".maps");

/* What one packet told us so far. */
struct rx_pkt {
	union {
		struct xwg_endpoint ep;		/* outer source: the endpoint candidate */
		__u64 w[5];			/* word view for the comparison */
	} src;
	__u64 now;
	__u64 counter;
	__u32 wg_off;		/* WireGuard header, from the start of the frame */
	__u32 wg_len;		/* UDP payload length */
	__u32 index;
	__u32 peer_id;
	__u32 inner_len;
	__u32 tun_ifindex;
	__u16 inner_proto;	/* network order */
	__u8 outer_ecn;		/* ECN bits of the outer IP header, for RFC 6040 decapsulation */
};

static __always_inline void rx_count(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&xwg_reasons, &reason);

	if (cnt)
		(*cnt)++;
}

/* The only place a reason becomes a verdict. */
static __always_inline int rx_verdict(__u32 reason)
{
	rx_count(reason);
	return xwg_reason_action(reason) == XWG_ACT_DROP ? XDP_DROP : XDP_PASS;
}

/*
 * A CHECKSUM_UNNECESSARY verdict (veth sets it) was about the outer UDP checksum, which is gone:
 * let the inner stack verify the inner checksums itself.
 */
static __always_inline long rx_tc_deliver(struct __sk_buff *skb, __u32 tun_ifindex)
{
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	return bpf_redirect(tun_ifindex, BPF_F_INGRESS);
}

/* tc mode's counterpart: delivery is a redirect to the tunnel's ingress. */
static __always_inline int rx_tc_verdict(struct __sk_buff *skb, __u32 reason, __u32 tun_ifindex)
{
	rx_count(reason);
	switch (xwg_reason_action(reason)) {
	case XWG_ACT_DELIVER:
		return rx_tc_deliver(skb, tun_ifindex);
	case XWG_ACT_AGENT:
		return TC_ACT_UNSPEC;
	}
	return TC_ACT_SHOT;
}

static __always_inline long rx_load(void *ctx, bool skb, __u32 off, void *to, __u32 len)
{
	if (skb)
		return bpf_skb_load_bytes(ctx, off, to, len);
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

/* Plaintext over ciphertext: an skb's CHECKSUM_COMPLETE sum must follow the bytes. */
static __always_inline long rx_store(void *ctx, bool skb, __u32 off, void *from, __u32 len)
{
	if (skb)
		return bpf_skb_store_bytes(ctx, off, from, len, BPF_F_RECOMPUTE_CSUM);
	return bpf_xdp_store_bytes(ctx, off, from, len);
}

/*
 * Ethernet, IPv4 or IPv6 (no extension headers, no fragments), UDP to the listen port; the headers
 * lie between data and end, frame_len counts the whole frame.
 */
static __always_inline int rx_parse_udp(void *data, void *end, __u64 frame_len,
					const struct xwg_dev_config *cfg, struct rx_pkt *p)
{
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u64 l3_end, udp_off, ulen;

	if ((void *)(eth + 1) > end)
		return -XWG_R_NOT_WG;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 ihl;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & bpf_htons(IP_MF_OFFSET)))
			return -XWG_R_NOT_WG;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return -XWG_R_NOT_WG;
		udp = (void *)ip + ihl;
		l3_end = ETH_HLEN + (__u64)bpf_ntohs(ip->tot_len);
		p->src.ep.family = XWG_AF_INET;
		p->outer_ecn = xwg_ecn_get((const __u8 *)ip);
		__builtin_memcpy(p->src.ep.addr, &ip->saddr, 4);
		__builtin_memcpy(p->src.ep.local, &ip->daddr, 4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return -XWG_R_NOT_WG;
		udp = (void *)(ip6 + 1);
		l3_end = ETH_HLEN + sizeof(*ip6) + (__u64)bpf_ntohs(ip6->payload_len);
		p->src.ep.family = XWG_AF_INET6;
		p->outer_ecn = xwg_ecn_get((const __u8 *)ip6);
		__builtin_memcpy(p->src.ep.addr, &ip6->saddr, 16);
		__builtin_memcpy(p->src.ep.local, &ip6->daddr, 16);
	} else {
		return -XWG_R_NOT_WG;
	}
	if ((void *)(udp + 1) > end || !cfg->listen_port || udp->dest != cfg->listen_port)
		return -XWG_R_NOT_WG;
	p->src.ep.port = udp->source;

	/* Lengths as 64-bit differences, so no header field can wrap them; all buffers count. */
	udp_off = (void *)udp - data;
	ulen = bpf_ntohs(udp->len);
	if (l3_end > frame_len || ulen < sizeof(*udp) || udp_off + ulen > l3_end)
		return -XWG_R_SHORT;
	p->wg_off = udp_off + sizeof(*udp);
	p->wg_len = ulen - sizeof(*udp);
	return 0;
}

/* Only data messages stay in BPF; handshakes and anything odd go to the agent. */
static __always_inline int rx_parse_wg(void *data, void *end, struct rx_pkt *p)
{
	struct message_data *msg;
	__u32 type;

	if (p->wg_len < sizeof(msg->header))
		return -XWG_R_SHORT;
	if (p->wg_off > ETH_HLEN + 60 + 8)	/* cannot happen; bounds the offset for the verifier */
		return -XWG_R_NOT_WG;
	msg = data + p->wg_off;
	if ((void *)&msg->header + sizeof(msg->header) > end)
		return -XWG_R_SHORT;
	type = msg->header.type;	/* le32: byte 0 is the type, bytes 1..3 must be zero */
	if (type >= MESSAGE_HANDSHAKE_INITIATION && type <= MESSAGE_HANDSHAKE_COOKIE)
		return -XWG_R_HANDSHAKE;
	if (type != MESSAGE_DATA)
		return -XWG_R_NOT_DATA;
	if (p->wg_len < MESSAGE_MINIMUM_LENGTH || (void *)(msg + 1) > end)
		return -XWG_R_SHORT;
	if (p->wg_len > XWG_RX_MAX_MESSAGE)
		return -XWG_R_TOO_BIG;
	p->index = msg->key_idx;
	p->counter = msg->counter;
	return 0;
}

static __always_inline int rx_parse_xdp(struct xdp_md *ctx, const struct xwg_dev_config *cfg, struct rx_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	int ret = rx_parse_udp(data, end, bpf_xdp_get_buff_len(ctx), cfg, p);

	if (ret)
		return ret;
	p->src.ep.ifindex = ctx->ingress_ifindex;
	/* Headers are in the linear part, but the payload loops below assume one buffer. */
	if (bpf_xdp_get_buff_len(ctx) != (__u64)(end - data))
		return -XWG_R_NONLINEAR;
	if (!(cfg->flags & XWG_CFG_F_RX) || !cfg->tun_ifindex)
		return -XWG_R_DISABLED;
	return rx_parse_wg(data, end, p);
}

/*
 * Headers are read in place, so they must be in the linear part: pull them only when they are not,
 * since pulling unclones (copies) an skb a packet tap shares. The payload goes through
 * bpf_skb_load_bytes()/store_bytes(), which cope with paged data themselves.
 */
static __always_inline int rx_parse_skb(struct __sk_buff *skb, const struct xwg_dev_config *cfg, struct rx_pkt *p)
{
	__u32 want = skb->len < RX_HDRS_MAX ? skb->len : RX_HDRS_MAX;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	int ret;

	if (data + want > end) {
		if (bpf_skb_pull_data(skb, want))
			return -XWG_R_NONLINEAR;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	ret = rx_parse_udp(data, end, skb->len, cfg, p);
	if (ret)
		return ret;
	p->src.ep.ifindex = skb->ingress_ifindex;
	/* GRO merged several datagrams: one counter and one tag each, which only the agent splits. */
	if (skb->gso_size)
		return -XWG_R_NONLINEAR;
	if (!(cfg->flags & XWG_CFG_F_RX) || !cfg->tun_ifindex)
		return -XWG_R_DISABLED;
	return rx_parse_wg(data, end, p);
}

/* The agent decides about keypairs past REJECT_AFTER_TIME or not (yet) valid for receiving. */
static __always_inline int rx_keypair_usable(const struct xwg_keypair *kp, const struct rx_pkt *p)
{
	if (!(kp->flags & XWG_KP_F_RECV_VALID) || p->now - kp->birthdate_ns >= XWG_REJECT_AFTER_TIME_NS)
		return -XWG_R_EXPIRED_KEY;
	return 0;
}

/* Delivery needs the TC mark; find out before decrypting whether this driver can carry it. */
/* A peer without an entry is decrypted here as before: only the agent's explicit mark hands it over. */
static __always_inline int rx_peer_offloaded(__u32 peer_id)
{
	const struct xwg_peer *peer = bpf_map_lookup_elem(&xwg_peers, &peer_id);

	return peer && (peer->flags & XWG_PEER_F_AGENT) ? -XWG_R_PEER_AGENT : 0;
}

static __always_inline int rx_meta_supported(struct xdp_md *ctx)
{
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xwg_rx_meta)))
		return -XWG_R_NO_META;
	if (bpf_xdp_adjust_meta(ctx, (int)sizeof(struct xwg_rx_meta)))
		return -XWG_R_ERROR;
	return 0;
}

/*
 * auto: a data message this big is the batched path's, which decrypts it with SIMD. Only the
 * read-only window check runs first; the agent commits the counter after authenticating it.
 */
static __always_inline bool rx_bulk(const struct xwg_dev_config *cfg, const struct rx_pkt *p)
{
	return (cfg->flags & XWG_CFG_F_HYBRID) && cfg->rx_bulk_len && p->wg_len >= cfg->rx_bulk_len;
}

/*
 * Dropped here what the agent would only drop later, before an skb exists: a message to the listen
 * port shorter than its type needs or with an unknown type (or reserved bytes set).
 */
static __always_inline int rx_hybrid_malformed(const struct xwg_dev_config *cfg, int ret)
{
	if ((cfg->flags & (XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_MALFORMED)) &&
	    (ret == -XWG_R_SHORT || ret == -XWG_R_NOT_DATA))
		return -XWG_R_BAD_HEADER;
	return ret;
}

/*
 * Handshake messages go up to the agent, which answers them on the thread that also receives data:
 * past cfg->hs_per_cpu of them in one second on this CPU, the rest are dropped here. Per CPU, so no
 * lock; a legitimate initiation in a flood competes for the budget, as in the kernel's full queue.
 */
static __always_inline int rx_handshake_budget(const struct xwg_dev_config *cfg, struct rx_scratch *s, int ret)
{
	__u64 second;

	if (ret != -XWG_R_HANDSHAKE || !cfg->hs_per_cpu)
		return ret;
	second = bpf_ktime_get_ns() / 1000000000ULL;
	if (s->hs_second != second) {
		s->hs_second = second;
		s->hs_count = 0;
	}
	return ++s->hs_count > cfg->hs_per_cpu ? -XWG_R_HANDSHAKE_LIMIT : ret;
}

/* replay_counter_validate() without the side effects: cheap rejection before decrypting. */
static __always_inline bool rx_replay_fresh(const struct replay_counter *r, __u64 counter)
{
	__u64 c = counter + 1;

	if (r->counter >= REJECT_AFTER_MESSAGES + 1 || counter >= REJECT_AFTER_MESSAGES)
		return false;
	if (COUNTER_WINDOW_SIZE + c < r->counter)
		return false;
	if (c > r->counter)
		return true;
	return !(r->backtrack[(c >> 6) & (REPLAY_WORDS - 1)] & (1ULL << (c & 63)));
}

static __always_inline int rx_replay_precheck(struct xwg_keypair *kp, __u64 counter)
{
	bool fresh;

	bpf_spin_lock(&kp->lock);
	fresh = rx_replay_fresh(&kp->replay, counter);
	bpf_spin_unlock(&kp->lock);
	return fresh ? 0 : -XWG_R_REPLAY;
}

/*
 * Records the authenticated counter; another CPU may have won the race for it since the
 * precheck. Returns the XWG_KP_S_* bits this packet is the first to set (one event each).
 */
static __always_inline int rx_replay_commit(struct xwg_keypair *kp, __u64 counter, __u32 want)
{
	__u32 first = 0;
	bool fresh;

	bpf_spin_lock(&kp->lock);
	fresh = replay_counter_validate(&kp->replay, counter);
	if (fresh) {
		first = want & ~kp->state;
		kp->state |= first;
	}
	bpf_spin_unlock(&kp->lock);
	return fresh ? (int)first : -XWG_R_REPLAY;
}

struct rx_chunks {
	void *ctx;		/* struct xdp_md or struct __sk_buff, as the callback knows */
	struct rx_scratch *s;
	__u32 off;		/* ciphertext offset in the frame */
	__u32 len;		/* ciphertext length, without the tag */
	__u32 err;
};

/* A whole block straight from the (linear) packet: the helpers cost as much as the cipher. */
static __always_inline long rx_decrypt_full_chunk(struct rx_chunks *c, __u64 off)
{
	struct xdp_md *ctx = c->ctx;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct rx_scratch *s = c->s;
	__u64 *pkt;
	int i;

	/* The verifier only trusts a range check when offset + size stays below 64 KiB. */
	if (off > ETH_HLEN + 60 + 8 + WG_HDR_LEN + XWG_RX_MAX_MESSAGE)
		goto err;
	pkt = data + off;
	if ((void *)(pkt + 8) > end)
		goto err;
	for (i = 0; i < 8; i++)
		s->blk.q[i] = pkt[i];
	cc20p1305_decrypt_chunk(&s->aead, &s->blk, CHACHA20_BLOCK_SIZE);
	for (i = 0; i < 8; i++)
		pkt[i] = s->blk.q[i];
	return 0;
err:
	c->err = 1;
	return 1;
}

/*
 * bpf_loop body: authenticate and decrypt the idx-th 64-byte piece in place. An skb takes the
 * helpers for every piece: they keep a CHECKSUM_COMPLETE sum right and need no linear data.
 */
static __always_inline long rx_decrypt_chunk(__u32 idx, struct rx_chunks *c, bool skb)
{
	struct rx_scratch *s = c->s;
	__u64 pos = (__u64)idx * CHACHA20_BLOCK_SIZE, n;

	if (pos >= c->len)
		return 1;
	n = c->len - pos;
	if (n > CHACHA20_BLOCK_SIZE)
		n = CHACHA20_BLOCK_SIZE;
	/* Hide n's origin so clang keeps a range check the verifier can see. */
	asm volatile("" : "+r"(n));
	if (n == 0 || n > CHACHA20_BLOCK_SIZE)
		return 1;
	if (!skb && n == CHACHA20_BLOCK_SIZE)
		return rx_decrypt_full_chunk(c, c->off + pos);
	if (rx_load(c->ctx, skb, c->off + pos, s->blk.q, n))
		goto err;
	cc20p1305_decrypt_chunk(&s->aead, &s->blk, (__u32)n);
	if (rx_store(c->ctx, skb, c->off + pos, s->blk.q, n))
		goto err;
	return 0;
err:
	c->err = 1;
	return 1;
}

static long rx_decrypt_chunk_xdp(__u32 idx, void *arg)
{
	return rx_decrypt_chunk(idx, arg, false);
}

static long rx_decrypt_chunk_skb(__u32 idx, void *arg)
{
	return rx_decrypt_chunk(idx, arg, true);
}

/* Plaintext replaces the ciphertext; on a bad tag the caller must drop the packet. */
static __always_inline int rx_decrypt(void *ctx, bool skb, struct rx_scratch *s,
				      const struct xwg_keypair *kp, const struct rx_pkt *p)
{
	struct rx_chunks c = {
		.ctx = ctx,
		.s = s,
		.off = p->wg_off + WG_HDR_LEN,
		.len = p->wg_len - MESSAGE_MINIMUM_LENGTH,
	};
	__u32 chunks;

	cc20p1305_init_wg(&s->aead, kp->recv_key, p->counter);
	chunks = (c.len + CHACHA20_BLOCK_SIZE - 1) / CHACHA20_BLOCK_SIZE;
	if (chunks)
		bpf_loop(chunks, skb ? rx_decrypt_chunk_skb : rx_decrypt_chunk_xdp, &c, 0);
	if (c.err)
		return -XWG_R_ERROR;
	cc20p1305_final(&s->aead, s->tag);
	if (rx_load(ctx, skb, c.off + c.len, s->want, WG_TAG_LEN))
		return -XWG_R_ERROR;
	return cc20p1305_tag_equal(s->tag, s->want) ? 0 : -XWG_R_BAD_TAG;
}

static __always_inline bool rx_event(__u32 type, const struct rx_pkt *p)
{
	__u32 flags = p->wg_len > MESSAGE_MINIMUM_LENGTH ? XWG_EVF_DATA : 0;

	return xwg_event_emit(type, p->peer_id, p->index, p->now, &p->src.ep, flags);
}

static __always_inline bool rx_endpoint_equal(const struct xwg_endpoint *known, const struct rx_pkt *p)
{
	const __u64 *w = (const __u64 *)known;
	int i;

	for (i = 0; i < 5; i++)
		if (w[i] != p->src.w[i])
			return false;
	return true;
}

/* The packet authenticated from somewhere else than the peer's endpoint: tell the agent. */
static __always_inline void rx_roam(const struct rx_pkt *p, struct xwg_peer_stats *st)
{
	const struct xwg_peer *peer = bpf_map_lookup_elem(&xwg_peers, &p->peer_id);

	if (!peer)
		return;
	if (rx_endpoint_equal(&peer->endpoint, p)) {
		if (st)
			st->last_rx_endpoint_ns = p->now;
		return;
	}
	if (st) {
		if (p->now - st->last_roam_event_ns < XWG_ROAM_EVENT_GAP_NS)
			return;
		st->last_roam_event_ns = p->now;
	}
	rx_event(XWG_EV_ROAMED, p);
}

/* Timers, roaming and key confirmation: due for every authenticated packet, keepalives too. */
static __always_inline void rx_authenticated(struct xwg_keypair *kp, const struct rx_pkt *p,
					     struct xwg_peer_stats *st, __u32 first)
{
	__u32 lost = 0;

	if (st) {
		st->last_rx_ns = p->now;
		if (p->wg_len > MESSAGE_MINIMUM_LENGTH)
			st->last_rx_data_ns = p->now;
	}
	if ((first & XWG_KP_S_CONFIRMED) && !rx_event(XWG_EV_KEYPAIR_CONFIRMED, p))
		lost |= XWG_KP_S_CONFIRMED;
	if ((first & XWG_KP_S_REKEY_SENT) && !rx_event(XWG_EV_REKEY_NEEDED, p))
		lost |= XWG_KP_S_REKEY_SENT;
	if (lost) {
		/* Undo, so that a later packet sends the event the agent must not miss. */
		bpf_spin_lock(&kp->lock);
		kp->state &= ~lost;
		bpf_spin_unlock(&kp->lock);
	}
	rx_roam(p, st);
}

static __always_inline void rx_account(const struct rx_pkt *p, struct xwg_peer_stats *st)
{
	if (st) {
		st->rx_bytes += p->wg_len;
		st->rx_packets++;
	}
}

/* A plausible IPv4 or IPv6 packet whose source belongs to the keypair's peer. */
static __always_inline int rx_check_inner(void *ctx, bool skb, struct rx_scratch *s, struct rx_pkt *p)
{
	__u32 off = p->wg_off + WG_HDR_LEN, plen = p->wg_len - MESSAGE_MINIMUM_LENGTH;
	const __u8 *b = s->blk.b;
	__u32 *owner, len;

	if (plen < sizeof(struct iphdr) || rx_load(ctx, skb, off, s->blk.q, sizeof(struct iphdr)))
		return -XWG_R_BAD_INNER;
	if (b[0] >> 4 == 4) {
		struct xwg_lpm4_key k = { .prefixlen = 32 };
		__u32 ihl = (b[0] & 15) * 4;

		len = (__u32)b[2] << 8 | b[3];
		if (ihl < sizeof(struct iphdr) || len < ihl || len > plen)
			return -XWG_R_BAD_INNER;
		__builtin_memcpy(k.addr, b + 12, 4);
		owner = bpf_map_lookup_elem(&xwg_allowedips4, &k);
		p->inner_proto = bpf_htons(ETH_P_IP);
	} else if (b[0] >> 4 == 6) {
		struct xwg_lpm6_key k = { .prefixlen = 128 };

		if (plen < sizeof(struct ipv6hdr) ||
		    rx_load(ctx, skb, off, s->blk.q, sizeof(struct ipv6hdr)))
			return -XWG_R_BAD_INNER;
		len = sizeof(struct ipv6hdr) + ((__u32)b[4] << 8 | b[5]);
		if (len > plen)
			return -XWG_R_BAD_INNER;
		__builtin_memcpy(k.addr, b + 8, 16);
		owner = bpf_map_lookup_elem(&xwg_allowedips6, &k);
		p->inner_proto = bpf_htons(ETH_P_IPV6);
	} else {
		return -XWG_R_BAD_INNER;
	}
	if (!owner || *owner != p->peer_id)
		return -XWG_R_WRONG_SOURCE;
	p->inner_len = len;
	return 0;
}

/*
 * RFC 6040 decapsulation, as the kernel's INET_ECN_decapsulate: the congestion mark the outer
 * header collected on the way moves into the inner header rx_check_inner left in s->blk.
 */
static __always_inline int rx_ecn_decap(void *ctx, bool skb, struct rx_scratch *s, const struct rx_pkt *p)
{
	__u32 off = p->wg_off + WG_HDR_LEN;
	int ret = xwg_ecn_decap_header(s->blk.b, p->outer_ecn);

	if (ret == XWG_ECN_DROP)
		return -XWG_R_ECN_NOT_ECT;
	if (!ret)
		return 0;
	/* IPv4: TOS and the checksum (bytes 1 and 10..11); IPv6: the traffic class (bytes 0..1). */
	if (p->inner_proto == bpf_htons(ETH_P_IP) ? rx_store(ctx, skb, off, s->blk.q, 12) :
						    rx_store(ctx, skb, off, s->blk.q, 2))
		return -XWG_R_ERROR;
	return 0;
}

/*
 * Outer headers off, Ethernet type rewritten, TC mark on. Padding and tag stay for TC to trim
 * (struct xwg_rx_meta says why).
 */
static __always_inline int rx_decap_xdp(struct xdp_md *ctx, const struct rx_pkt *p)
{
	union {
		__u64 q[2];
		struct ethhdr h;
	} eth;
	struct xwg_rx_meta *meta;
	__u64 frame, want;

	if (bpf_xdp_load_bytes(ctx, 0, &eth.h, 2 * ETH_ALEN))
		return -XWG_R_ERROR;
	eth.h.h_proto = p->inner_proto;
	if (bpf_xdp_adjust_head(ctx, (int)(p->wg_off + WG_HDR_LEN - ETH_HLEN)) ||
	    bpf_xdp_store_bytes(ctx, 0, &eth.h, ETH_HLEN))
		return -XWG_R_ERROR;
	frame = bpf_xdp_get_buff_len(ctx);
	want = ETH_HLEN + (__u64)p->inner_len;
	if (frame < want || want > 0xffff)
		return -XWG_R_ERROR;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
		return -XWG_R_ERROR;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return -XWG_R_ERROR;
	meta->mark.magic = XWG_RX_META_MAGIC;
	meta->mark.tun_ifindex = p->tun_ifindex;
	meta->mark.peer_id = (__u16)p->peer_id;
	meta->mark.keep = (__u16)p->inner_len;
	__builtin_memcpy(meta->mark_l3, &meta->mark, sizeof(meta->mark));
	meta->mark.keep = (__u16)want;
	return 0;
}

/*
 * Tag and padding off the tail, outer IP + UDP + WireGuard header out from behind the Ethernet
 * header. DECAP_L3 makes skb->protocol the inner one, which the tunnel's ingress keeps (6 in 4);
 * the Ethernet type is rewritten too, for whoever reads the frame.
 */
static __always_inline int rx_decap_skb(struct __sk_buff *skb, const struct rx_pkt *p)
{
	__u64 flags = p->inner_proto == bpf_htons(ETH_P_IP) ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4 :
							       BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	__u16 proto = p->inner_proto;

	if (bpf_skb_change_tail(skb, p->wg_off + WG_HDR_LEN + p->inner_len, 0) ||
	    bpf_skb_adjust_room(skb, -(int)(p->wg_off + WG_HDR_LEN - ETH_HLEN), BPF_ADJ_ROOM_MAC, flags) ||
	    bpf_skb_store_bytes(skb, 2 * ETH_ALEN, &proto, sizeof(proto), 0))
		return -XWG_R_ERROR;
	return 0;
}

/* The whole receive path; skb is a constant, so each program keeps only its own calls. */
static __always_inline int rx_process(void *ctx, bool skb, struct rx_pkt *p)
{
	const struct xwg_dev_config *cfg;
	struct xwg_peer_stats *st;
	struct xwg_keypair *kp;
	struct rx_scratch *s;
	__u32 zero = 0, want;
	int ret;

	cfg = bpf_map_lookup_elem(&xwg_config, &zero);
	s = bpf_map_lookup_elem(&xwg_rx_scratch, &zero);
	if (!cfg || !s)
		return -XWG_R_ERROR;
	ret = skb ? rx_parse_skb(ctx, cfg, p) : rx_parse_xdp(ctx, cfg, p);
	if (ret)
		return rx_hybrid_malformed(cfg, rx_handshake_budget(cfg, s, ret));
	p->tun_ifindex = cfg->tun_ifindex;
	kp = bpf_map_lookup_elem(&xwg_keypairs, &p->index);
	if (!kp)
		return cfg->flags & XWG_CFG_F_DROP_UNKNOWN ? -XWG_R_INDEX_DROP : -XWG_R_UNKNOWN_INDEX;
	p->now = bpf_ktime_get_ns();
	p->peer_id = kp->peer_id;
	/*
	 * A peer the agent could not publish whole (its allowed IPs may be missing here) is the
	 * agent's: decrypting it here could turn its packets into WRONG_SOURCE drops.
	 */
	ret = rx_peer_offloaded(p->peer_id);
	if (!ret)
		ret = rx_keypair_usable(kp, p);
	if (!ret && rx_bulk(cfg, p))
		return rx_replay_precheck(kp, p->counter) ?: -XWG_R_RX_BULK;
	if (!ret && !skb)
		ret = rx_meta_supported(ctx);
	if (!ret)
		ret = rx_replay_precheck(kp, p->counter);
	if (!ret)
		ret = rx_decrypt(ctx, skb, s, kp, p);
	if (ret)
		return ret;

	want = XWG_KP_S_CONFIRMED;
	if ((kp->flags & XWG_KP_F_INITIATOR) && p->now - kp->birthdate_ns > XWG_REKEY_ON_RECV_NS)
		want |= XWG_KP_S_REKEY_SENT;
	ret = rx_replay_commit(kp, p->counter, want);
	if (ret < 0)
		return ret;
	st = bpf_map_lookup_elem(&xwg_stats, &p->peer_id);
	rx_authenticated(kp, p, st, (__u32)ret);
	if (p->wg_len == MESSAGE_MINIMUM_LENGTH) {
		rx_account(p, st);
		return -XWG_R_KEEPALIVE;
	}

	ret = rx_check_inner(ctx, skb, s, p);
	if (!ret)
		ret = rx_ecn_decap(ctx, skb, s, p);
	if (!ret)
		ret = skb ? rx_decap_skb(ctx, p) : rx_decap_xdp(ctx, p);
	if (ret)
		return ret;
	rx_account(p, st);
	return -XWG_R_OK;
}

/* The CPU that decrypts this data message, or -1: here (no spreading, or not a data message). */
static __always_inline int rx_spread_cpu(struct xdp_md *ctx)
{
	const struct xwg_dev_config *cfg;
	struct rx_pkt p = {};
	__u32 zero = 0;

	/* rx_ncpus is constant at load: on one CPU the verifier drops all of this. */
	if (rx_ncpus < 2)
		return -1;
	cfg = bpf_map_lookup_elem(&xwg_config, &zero);
	if (!cfg || !(cfg->flags & XWG_CFG_F_RX_SPREAD) || rx_parse_xdp(ctx, cfg, &p))
		return -1;
	/* Checked and passed up right here: the hop to another CPU would cost more than that. */
	if (rx_bulk(cfg, &p))
		return -1;
	return (int)(p.index % rx_ncpus);
}

SEC("xdp.frags")
int xwg_rx(struct xdp_md *ctx)
{
	struct rx_pkt p = {};
	int cpu = rx_spread_cpu(ctx);

	/* A CPU without an entry passes the packet up untouched: the agent's, never dropped. */
	if (cpu >= 0)
		return (int)bpf_redirect_map(&xwg_rx_cpus, (__u32)cpu, XDP_PASS);
	return rx_verdict(-rx_process(ctx, false, &p));
}

/* xwg_rx's work on the CPU rx_spread_cpu chose (the cpumap's kthread). */
SEC("xdp.frags/cpumap")	/* frags like xwg_rx: a cpumap takes the kind of program that uses it */
int xwg_rx_cpu(struct xdp_md *ctx)
{
	struct rx_pkt p = {};

	return rx_verdict(-rx_process(ctx, false, &p));
}

/* Second half of the XDP path: only packets xwg_rx marked are redirected to the tunnel. */
SEC("tc")
int xwg_rx_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct xwg_rx_mark *meta = (void *)(long)skb->data_meta;
	const struct xwg_dev_config *cfg;
	__u32 zero = 0;

	if ((void *)(meta + 1) > data || meta->magic != XWG_RX_META_MAGIC)
		return TC_ACT_UNSPEC;
	cfg = bpf_map_lookup_elem(&xwg_config, &zero);
	/* Another xwg interface's frame: its own xwg_rx_tc further along the hook takes it. */
	if (cfg && meta->tun_ifindex != cfg->tun_ifindex)
		return TC_ACT_UNSPEC;
	/* Decrypted and stripped: it must not go up the underlay's stack. */
	if (!cfg || !cfg->tun_ifindex || meta->keep > skb->len ||
	    bpf_skb_change_tail(skb, meta->keep, 0)) {
		rx_count(XWG_R_ERROR);
		return TC_ACT_SHOT;
	}
	return rx_tc_deliver(skb, cfg->tun_ifindex);
}

/* tc mode: the whole receive path on the skb, delivered to the tunnel's ingress directly. */
SEC("tc")
int xwg_rx_tc_full(struct __sk_buff *skb)
{
	struct rx_pkt p = {};
	__u32 reason = -rx_process(skb, true, &p);

	return rx_tc_verdict(skb, reason, p.tun_ifindex);
}

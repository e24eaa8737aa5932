/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF transmit path: TC egress on the tunnel encrypts packets for their peer and redirects them to the underlay. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "chacha20poly1305.h"
#include "messages.h"
#include "xwg_maps.h"
#include "xwg_ecn.h"

/*
 * xwg_tx (TC egress, tunnel): an IPv4/IPv6 packet whose destination belongs to a peer with an
 * endpoint and a live current keypair gets its inner L4 checksum computed, is padded, encrypted
 * with the next send counter, wrapped in WireGuard + UDP + IP + Ethernet and redirected to the
 * underlay interface the peer was last heard on, from the local address it reached there (the
 * sticky source the receive path records). bpf_redirect_neigh routes on that interface and
 * resolves the next hop itself: unlike bpf_fib_lookup it needs no forwarding sysctl and does not
 * fail after a neighbour flush. Everything else goes up the tunnel to the agent untouched
 * (TC_ACT_UNSPEC): GSO super-packets, oversize packets, packets without peer, endpoint (or its
 * source) or usable keypair. Every step returns 0 or -reason; tx_verdict() turns the reason into
 * the verdict and the per-CPU counter in one place.
 *
 * CHECKSUM_PARTIAL (almost every TCP packet): the stack, or the NIC, will later write a checksum
 * at csum_start + csum_offset, and BPF cannot clear that state. Such packets are laid out so that
 * this spot is the outer UDP checksum, seeded so that the completion yields the right value: the
 * ciphertext is written shift bytes behind the plaintext (a three-block read-ahead keeps the copy
 * inside the encryption pass), and the head is grown or shrunk to fit.
 */

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IP_MF_OFFSET	0x3fff
#define TC_ACT_UNSPEC	(-1)	/* the agent's: TCX runs the next program, then the stack */
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#define WG_HDR_LEN	16
#define WG_TAG_LEN	CC20P1305_TAG_SIZE
#define OUTER_TTL	64	/* when the agent did not know the route's (xwg_peer.hop_limit 0) */
#define IPPROTO_ICMPV6	58	/* not in vmlinux.h: it is a #define in the kernel */
/* Whatever xwg_tx sends, the peer's xwg_rx can take. */
#define TX_MAX_INNER	(XWG_RX_MAX_MESSAGE - MESSAGE_MINIMUM_LENGTH)
#define TX_PIECE	512	/* bpf_csum_diff() takes at most 512 bytes */
#define TX_PIECES	((TX_MAX_INNER + TX_PIECE - 1) / TX_PIECE)
#define HDR_AT		2	/* Ethernet at hdr.b[2] puts the IP header on a 4-byte boundary */
#define CHECKSUM_PARTIAL 3	/* skb->ip_summed */
#define RING		3	/* plaintext blocks read ahead of the one being encrypted */

char LICENSE[] SEC("license") = "GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* What one packet told us so far. */
struct tx_pkt {
	struct xwg_endpoint ep;
	__u64 now;
	__u64 counter;
	__u32 l2;		/* bytes in front of the inner IP header (0 on a TUN) */
	__u32 csum_start;	/* CHECKSUM_PARTIAL: from the frame start; else 0 */
	__u32 csum_offset;
	__u32 shift;		/* the ciphertext starts this far behind the plaintext */
	__u32 inner_len;
	__u32 padded;
	__u32 l4_off;		/* inner L4 header, from the inner IP header */
	__u32 csum_off;		/* its checksum field, from the L4 header; 0: leave the packet alone */
	__u32 peer_id;
	__u32 index;		/* local index of the keypair */
	__u32 remote_index;
	__u32 fwmark;
	__be16 sport;		/* the listen port */
	__u8 family;		/* inner: 4 or 6 */
	__u8 proto;		/* inner L4 protocol */
	__u8 ecn;		/* outer ECN bits (RFC 6040 / INET_ECN_encapsulate) */
	__u8 hop_limit;		/* outer TTL / hop limit */
	__u8 partial;		/* skb is CHECKSUM_PARTIAL */
};

/*
 * Packet state, AEAD state, blocks, the headers being built, a checksum window: the 512-byte stack
 * belongs to the ChaCha block function, called from inside the bpf_loop callback.
 */
struct tx_scratch {
	struct tx_pkt p;
	struct cc20p1305_ctx aead;
	union cc_block blk;
	union cc_block ring[RING];
	__u64 tag[2];
	__u64 sum;		/* ones' complement sum of the ciphertext, for the UDP checksum */
	__u32 src;		/* plaintext offset in the frame */
	__u32 dst;		/* ciphertext offset: src + shift, shift < 2 blocks */
	__u32 len;		/* padded plaintext length */
	__u32 err;
	union {
		__u64 q[11];
		__u8 b[88];
	} hdr;			/* Ethernet at b[HDR_AT] */
	union {
		__u16 w[20];
		__u8 b[40];
	} ip;			/* the inner IP header */
	__u8 buf[TX_PIECE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tx_scratch);
} xwg_tx_scratch SEC(".maps");

static __always_inline void tx_count(__u32 reason)
{
	__u64 *cnt = bpf_map_lookup_elem(&xwg_reasons, &reason);

	if (cnt)
		(*cnt)++;
}

/* The only place a reason becomes a verdict. */
static __always_inline int tx_verdict(__u32 reason, __u32 ifindex)
{
	tx_count(reason);
	switch (xwg_reason_action(reason)) {
	case XWG_ACT_DELIVER:
		return bpf_redirect_neigh(ifindex, NULL, 0, 0);
	case XWG_ACT_AGENT:
		return TC_ACT_UNSPEC;
	}
	return TC_ACT_SHOT;
}

/* Ones' complement sum of 16-bit words in memory order; folded and inverted by tx_csum_fold(). */
static __always_inline __u64 tx_sum16(__u64 sum, const __u16 *w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* 64-bit lanes with end-around carry: the same ones' complement sum, four words at a time. */
static __always_inline __u64 tx_sum64(__u64 sum, const __u64 *q, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		sum += q[i];
		sum += sum < q[i];
	}
	return sum;
}

/* The 16-bit ones' complement sum, not inverted. */
static __always_inline __u16 tx_csum_reduce(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __u16 tx_csum_fold(__u64 sum)
{
	return (__u16)~tx_csum_reduce(sum);
}

/*
 * What __sk_buff does not say. l2: the network header's distance from the MAC header, where
 * skb->data points at TC (0 on the TUN; 14 when BPF_PROG_TEST_RUN prepends Ethernet). Whether the
 * L4 checksum is left to be completed at csum_start + csum_offset (head-relative, like mac_header).
 */
static __always_inline void tx_skb_info(struct __sk_buff *skb, struct tx_pkt *p)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);

	p->l2 = (__u16)(k->network_header - k->mac_header);
	p->partial = BPF_CORE_READ_BITFIELD(k, ip_summed) == CHECKSUM_PARTIAL;
	if (p->partial) {
		p->csum_start = (__u16)(k->csum_start - k->mac_header);
		p->csum_offset = k->csum_offset;
	}
}

/* Which inner checksum to finish: TCP, UDP (unless 0 over IPv4), ICMP, ICMPv6; not fragments. */
static __always_inline void tx_pick_csum(struct tx_pkt *p, bool fragment)
{
	p->csum_off = 0;
	if (fragment)
		return;
	if (p->proto == IPPROTO_TCP)
		p->csum_off = 16;
	else if (p->proto == IPPROTO_UDP)
		p->csum_off = 6;
	else if (p->proto == IPPROTO_ICMP && p->family == 4)
		p->csum_off = 2;
	else if (p->proto == IPPROTO_ICMPV6 && p->family == 6)
		p->csum_off = 2;
}

/* IPv4 or IPv6 without extension headers, exactly filling the skb; not GSO, not above the MTU. */
static __always_inline int tx_parse(struct __sk_buff *skb, const struct xwg_dev_config *cfg,
				   struct tx_scratch *s, struct tx_pkt *p)
{
	__u32 len = skb->len, mtu = cfg->mtu;
	const __u8 *b = s->ip.b;
	bool fragment = false;

	tx_skb_info(skb, p);
	if (p->l2 > ETH_HLEN || len < p->l2 + sizeof(struct iphdr) ||
	    bpf_skb_load_bytes(skb, p->l2, s->ip.b, sizeof(struct iphdr)))
		return -XWG_R_TX_NOT_IP;
	len -= p->l2;
	if (skb->protocol == bpf_htons(ETH_P_IP) && b[0] >> 4 == 4) {
		p->family = 4;
		p->l4_off = (b[0] & 15) * 4;
		p->inner_len = (__u32)b[2] << 8 | b[3];
		p->proto = b[9];
		p->ecn = b[1] & XWG_ECN_MASK;
		fragment = (b[6] << 8 | b[7]) & IP_MF_OFFSET;
		if (p->l4_off < sizeof(struct iphdr))
			return -XWG_R_TX_NOT_IP;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6) && b[0] >> 4 == 6) {
		if (len < sizeof(struct ipv6hdr) ||
		    bpf_skb_load_bytes(skb, p->l2, s->ip.b, sizeof(struct ipv6hdr)))
			return -XWG_R_TX_NOT_IP;
		p->family = 6;
		p->l4_off = sizeof(struct ipv6hdr);
		p->inner_len = sizeof(struct ipv6hdr) + ((__u32)b[4] << 8 | b[5]);
		p->proto = b[6];
		p->ecn = (b[1] >> 4) & XWG_ECN_MASK;
		/* Extension headers hide the L4 header: the agent's path copes. */
		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP && p->proto != IPPROTO_ICMPV6)
			return -XWG_R_TX_NOT_IP;
	} else {
		return -XWG_R_TX_NOT_IP;
	}
	if (p->inner_len != len || p->inner_len < p->l4_off)
		return -XWG_R_TX_NOT_IP;
	/* auto lets TCP build them for the agent's batched path: by design there, not a fallback. */
	if (skb->gso_size || skb->gso_segs > 1)
		return cfg->flags & XWG_CFG_F_HYBRID ? -XWG_R_TX_BULK : -XWG_R_TX_GSO;
	/* auto: a big single packet is cheaper in the agent's batch too (xwg_maps.h). */
	if ((cfg->flags & XWG_CFG_F_HYBRID) && cfg->tx_bulk_len && p->inner_len >= cfg->tx_bulk_len)
		return -XWG_R_TX_BULK;
	if (p->inner_len > mtu || p->inner_len > TX_MAX_INNER)
		return -XWG_R_TX_TOO_BIG;
	p->ecn = xwg_ecn_encap(p->ecn);
	tx_pick_csum(p, fragment);
	if (p->csum_off && p->inner_len - p->l4_off < p->csum_off + 2)
		return -XWG_R_TX_NOT_IP;
	if (p->partial) {
		/* Only the layout we know how to redirect; the TUN path finishes anything else. */
		if (!p->csum_off || p->csum_start != p->l2 + p->l4_off || p->csum_offset != p->csum_off)
			return -XWG_R_TX_NOT_IP;
		p->shift = sizeof(struct udphdr) + WG_HDR_LEN - 6 + p->l4_off + p->csum_offset;
	}
	/* padded = min(mtu, roundup16(len)) (digest 2.4) */
	p->padded = (p->inner_len + 15) & ~15u;
	if (p->padded > mtu)
		p->padded = mtu;
	return 0;
}

/* The sticky source and its interface come from the receive path; without them, the agent. */
static __always_inline bool tx_endpoint_usable(const struct xwg_endpoint *ep)
{
	const __u64 *local = (const __u64 *)ep->local;

	if (ep->family != XWG_AF_INET && ep->family != XWG_AF_INET6)
		return false;
	return ep->ifindex && ep->port && (local[0] | local[1]);
}

/* Destination -> peer -> endpoint -> current keypair of that peer. */
static __always_inline int tx_lookup(struct tx_scratch *s, struct tx_pkt *p, struct xwg_keypair **kpp)
{
	const struct xwg_peer *peer;
	struct xwg_keypair *kp;
	__u32 *owner;

	if (p->family == 4) {
		struct xwg_lpm4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, s->ip.b + 16, 4);
		owner = bpf_map_lookup_elem(&xwg_allowedips4, &k);
	} else {
		struct xwg_lpm6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, s->ip.b + 24, 16);
		owner = bpf_map_lookup_elem(&xwg_allowedips6, &k);
	}
	if (!owner)
		return -XWG_R_TX_NO_PEER;
	p->peer_id = *owner;
	peer = bpf_map_lookup_elem(&xwg_peers, &p->peer_id);
	if (!peer)
		return -XWG_R_TX_NO_PEER;
	if (peer->flags & XWG_PEER_F_AGENT)
		return -XWG_R_TX_PEER_AGENT;
	p->ep = peer->endpoint;
	p->index = peer->current_index;
	p->hop_limit = peer->hop_limit ?: OUTER_TTL;
	if (!tx_endpoint_usable(&p->ep))
		return -XWG_R_TX_NO_ENDPOINT;
	if (!(peer->flags & XWG_PEER_F_HAS_CURRENT))
		return -XWG_R_TX_NO_KEYPAIR;
	kp = bpf_map_lookup_elem(&xwg_keypairs, &p->index);
	if (!kp || kp->peer_id != p->peer_id)
		return -XWG_R_TX_NO_KEYPAIR;
	*kpp = kp;
	return 0;
}

static __always_inline int tx_keypair_usable(const struct xwg_keypair *kp, const struct tx_pkt *p)
{
	if (!(kp->flags & XWG_KP_F_SEND_VALID) || p->now - kp->birthdate_ns >= XWG_REJECT_AFTER_TIME_NS)
		return -XWG_R_TX_EXPIRED_KEY;
	if (kp->send_counter >= REJECT_AFTER_MESSAGES)
		return -XWG_R_TX_EXHAUSTED;
	return 0;
}

/* The inner checksum from scratch: pseudo-header, then the L4 bytes with the field zeroed. */
static __always_inline int tx_inner_csum(struct __sk_buff *skb, struct tx_scratch *s, const struct tx_pkt *p)
{
	__u32 off = p->l2 + p->l4_off, l4_len = p->inner_len - p->l4_off, csum_off = p->csum_off;
	__u64 sum = 0, pos, n;
	__u16 check;
	__s64 ret;
	int i;

	if (!csum_off || csum_off > 16)
		return 0;
	if (p->family == 4 && p->proto != IPPROTO_ICMP) {
		sum = tx_sum16(0, &s->ip.w[6], 4);	/* saddr, daddr */
		sum += bpf_htons(p->proto) + bpf_htons((__u16)l4_len);
	} else if (p->family == 6) {
		sum = tx_sum16(0, &s->ip.w[4], 16);
		sum += bpf_htons(p->proto) + bpf_htons((__u16)l4_len);
	}
	for (i = 0; i < TX_PIECES; i++) {
		pos = (__u64)i * TX_PIECE;
		if (pos >= l4_len)
			break;
		n = l4_len - pos;
		if (n > TX_PIECE)
			n = TX_PIECE;
		asm volatile("" : "+r"(n));
		if (n == 0 || n > TX_PIECE)
			return -XWG_R_ERROR;
		/* Zero the bytes up to the next 4-byte boundary that the load leaves alone. */
		*(__u32 *)(s->buf + (n & (TX_PIECE - 4))) = 0;
		if (bpf_skb_load_bytes(skb, off + pos, s->buf, n))
			return -XWG_R_ERROR;
		if (i == 0) {
			s->buf[csum_off] = 0;
			s->buf[csum_off + 1] = 0;
		}
		n = (n + 3) & ~3ull;
		asm volatile("" : "+r"(n));
		if (n > TX_PIECE)
			return -XWG_R_ERROR;
		ret = bpf_csum_diff(NULL, 0, (void *)s->buf, n, 0);
		if (ret < 0)
			return -XWG_R_ERROR;
		sum += (__u32)ret;
	}
	check = tx_csum_fold(sum);
	if (p->proto == IPPROTO_UDP && !check)
		check = 0xffff;		/* 0 means "no checksum" */
	if (p->proto == IPPROTO_UDP && p->family == 4 && !p->partial) {
		__u16 old;

		/* UDP over IPv4 may go without a checksum; keep it that way. */
		if (bpf_skb_load_bytes(skb, off + csum_off, &old, 2))
			return -XWG_R_ERROR;
		if (!old)
			return 0;
	}
	if (bpf_skb_store_bytes(skb, off + csum_off, &check, 2, 0))
		return -XWG_R_ERROR;
	return 0;
}

/* Room behind for the shifted ciphertext, zero padding and the tag. */
static __always_inline int tx_grow_tail(struct __sk_buff *skb, const struct tx_pkt *p)
{
	if (bpf_skb_change_tail(skb, p->l2 + p->shift + p->padded + WG_TAG_LEN, 0))
		return -XWG_R_ERROR;
	return 0;
}

/*
 * Exactly Ethernet + outer IP + UDP + WireGuard header in front of the ciphertext: grow or shrink
 * the room behind the L2 bytes (what goes is stale plaintext), switch the protocol for 6-in-4 and
 * 4-in-6 (bpf_redirect_neigh goes by skb->protocol), push the L2 header a TUN packet lacks.
 */
static __always_inline int tx_reshape_head(struct __sk_buff *skb, const struct tx_pkt *p, __u32 ip_len)
{
	int head = ETH_HLEN - (int)p->l2, proto = 0, room;

	if (p->family == 4 && p->ep.family == XWG_AF_INET6)
		proto = 20;	/* 4 -> 6: 20 more header bytes */
	else if (p->family == 6 && p->ep.family == XWG_AF_INET)
		proto = -20;
	room = (int)(ETH_HLEN + ip_len + sizeof(struct udphdr) + WG_HDR_LEN) - (int)(p->l2 + p->shift) -
	       proto - head;
	if (room && bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, 0))
		return -XWG_R_ERROR;
	if (proto && bpf_skb_change_proto(skb, bpf_htons(proto > 0 ? ETH_P_IPV6 : ETH_P_IP), 0))
		return -XWG_R_ERROR;
	if (head && bpf_skb_change_head(skb, head, 0))
		return -XWG_R_ERROR;
	return 0;
}

/* bpf_loop context: it must live on the stack, so only the pointers; the rest is in tx_scratch. */
struct tx_chunks {
	struct __sk_buff *skb;
	struct tx_scratch *s;
};

/*
 * A whole 64-byte block at off in the linear area, or NULL (then the helpers do it). The verifier
 * only trusts a range check when offset + size stays below 64 KiB: bound off well below that.
 */
static __always_inline __u64 *tx_pkt_block(struct __sk_buff *skb, __u64 off)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u64 *pkt;

	if (off > ETH_HLEN + 2 * CHACHA20_BLOCK_SIZE + XWG_RX_MAX_MESSAGE)
		return NULL;
	pkt = data + off;
	if ((void *)(pkt + 8) > end)
		return NULL;
	return pkt;
}

/* Plaintext block idx into its ring slot, before any ciphertext store can reach it. */
static __always_inline int tx_read_ahead(struct tx_chunks *c, __u32 idx)
{
	__u64 pos = (__u64)idx * CHACHA20_BLOCK_SIZE, n, *pkt;
	__u64 slot = idx % RING;
	int i;

	if (pos >= c->s->len)
		return 0;
	n = c->s->len - pos;
	if (n > CHACHA20_BLOCK_SIZE)
		n = CHACHA20_BLOCK_SIZE;
	/* Hide the origins so clang keeps range checks the verifier can see. */
	asm volatile("" : "+r"(n), "+r"(slot));
	if (n == 0 || n > CHACHA20_BLOCK_SIZE || slot >= RING)
		return -1;
	pkt = n == CHACHA20_BLOCK_SIZE ? tx_pkt_block(c->skb, c->s->src + pos) : NULL;
	if (pkt) {
		for (i = 0; i < 8; i++)
			c->s->ring[slot].q[i] = pkt[i];
		return 0;
	}
	return bpf_skb_load_bytes(c->skb, c->s->src + pos, c->s->ring[slot].q, n) ? -1 : 0;
}

/*
 * bpf_loop body: encrypt and authenticate the idx-th 64-byte block. Whole blocks go by direct
 * packet access (tx_prepare made the packet linear): a helper call per block in each direction
 * cost more than the cipher.
 */
static long tx_encrypt_chunk(__u32 idx, void *arg)
{
	struct tx_chunks *c = arg;
	struct tx_scratch *s = c->s;
	__u64 pos = (__u64)idx * CHACHA20_BLOCK_SIZE, n, *pkt;
	__u64 slot = idx % RING;
	int i;

	if (pos >= s->len)
		return 1;
	n = s->len - pos;
	if (n > CHACHA20_BLOCK_SIZE)
		n = CHACHA20_BLOCK_SIZE;
	asm volatile("" : "+r"(n), "+r"(slot));
	if (n == 0 || n > CHACHA20_BLOCK_SIZE || slot >= RING || tx_read_ahead(c, idx + RING - 1))
		goto err;
	for (i = 0; i < 8; i++)
		s->blk.q[i] = s->ring[slot].q[i];
	cc20p1305_encrypt_chunk(&s->aead, &s->blk, (__u32)n);
	pkt = n == CHACHA20_BLOCK_SIZE ? tx_pkt_block(c->skb, s->dst + pos) : NULL;
	if (pkt) {
		for (i = 0; i < 8; i++)
			pkt[i] = s->blk.q[i];
	} else if (bpf_skb_store_bytes(c->skb, s->dst + pos, s->blk.q, n, 0)) {
		goto err;
	}
	s->sum = tx_sum64(s->sum, s->blk.q, 8);	/* bytes past n are zero */
	return 0;
err:
	s->err = 1;
	return 1;
}

/* Ciphertext of the padded plaintext at dst, the tag behind it; s->sum: the sum over both. */
static __always_inline int tx_encrypt(struct __sk_buff *skb, struct tx_scratch *s,
				      const struct xwg_keypair *kp, const struct tx_pkt *p)
{
	struct tx_chunks c = { .skb = skb, .s = s };
	__u32 len = p->padded;
	__u16 tag;
	int i;

	s->src = p->l2;
	s->dst = p->l2 + p->shift;
	s->len = len;
	s->sum = 0;
	s->err = 0;
	cc20p1305_init_wg(&s->aead, kp->send_key, p->counter);
	for (i = 0; i < RING - 1; i++)
		if (tx_read_ahead(&c, i))
			return -XWG_R_ERROR;
	if (len)
		bpf_loop((len + CHACHA20_BLOCK_SIZE - 1) / CHACHA20_BLOCK_SIZE, tx_encrypt_chunk, &c, 0);
	if (s->err)
		return -XWG_R_ERROR;
	cc20p1305_final(&s->aead, s->tag);
	if (bpf_skb_store_bytes(skb, p->l2 + p->shift + len, s->tag, WG_TAG_LEN, 0))
		return -XWG_R_ERROR;
	tag = tx_csum_reduce(tx_sum64(0, s->tag, 2));
	/* After an odd padded length (odd MTU) the tag's bytes sit in the other half of each word. */
	if (len & 1)
		tag = (__u16)(tag << 8 | tag >> 8);
	s->sum += tag;
	return 0;
}

/*
 * Ethernet (addresses left to bpf_redirect_neigh), outer IP, UDP, WireGuard header, in one store.
 * sum: the ones' complement sum of ciphertext and tag.
 */
static __always_inline int tx_write_headers(struct __sk_buff *skb, struct tx_scratch *s,
					    const struct tx_pkt *p, __u64 sum)
{
	__u32 ip_len = p->ep.family == XWG_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u32 wg_len = WG_HDR_LEN + p->padded + WG_TAG_LEN, udp_len = sizeof(struct udphdr) + wg_len;
	__u8 *eth = s->hdr.b + HDR_AT, *ip = eth + ETH_HLEN;
	struct udphdr *udp = (void *)(ip + ip_len);
	__u32 *wg = (void *)(udp + 1);
	__u64 pseudo;
	int i;

	for (i = 0; i < 11; i++)
		s->hdr.q[i] = 0;
	if (p->ep.family == XWG_AF_INET) {
		struct iphdr *h = (void *)ip;

		*(__u16 *)(eth + 12) = bpf_htons(ETH_P_IP);
		h->version = 4;
		h->ihl = 5;
		h->tos = p->ecn;
		h->tot_len = bpf_htons(ip_len + udp_len);
		h->id = (__u16)bpf_get_prandom_u32();	/* DF off: fragments need an ID */
		h->ttl = p->hop_limit;
		h->protocol = IPPROTO_UDP;
		__builtin_memcpy(&h->saddr, p->ep.local, 4);
		__builtin_memcpy(&h->daddr, p->ep.addr, 4);
		h->check = tx_csum_fold(tx_sum16(0, (__u16 *)h, 10));
		pseudo = tx_sum16(0, (__u16 *)&h->saddr, 4);
	} else {
		struct ipv6hdr *h = (void *)ip;

		*(__u16 *)(eth + 12) = bpf_htons(ETH_P_IPV6);
		*(__u32 *)h = bpf_htonl(6u << 28 | (__u32)p->ecn << 20);
		h->payload_len = bpf_htons(udp_len);
		h->nexthdr = IPPROTO_UDP;
		h->hop_limit = p->hop_limit;
		__builtin_memcpy(&h->saddr, p->ep.local, 16);
		__builtin_memcpy(&h->daddr, p->ep.addr, 16);
		pseudo = tx_sum16(0, (__u16 *)&h->saddr, 16);
	}
	pseudo += bpf_htons(IPPROTO_UDP) + bpf_htons(udp_len);
	udp->source = p->sport;
	udp->dest = p->ep.port;
	udp->len = bpf_htons(udp_len);
	wg[0] = MESSAGE_DATA;		/* le32 type, reserved bytes zero */
	wg[1] = p->remote_index;
	wg[2] = (__u32)p->counter;	/* le64 counter, little-endian host */
	wg[3] = (__u32)(p->counter >> 32);
	if (!p->partial) {
		sum = tx_sum16(sum + pseudo, (__u16 *)udp, 12);
		udp->check = tx_csum_fold(sum) ?: 0xffff;
	} else if (p->csum_offset == 6) {
		udp->check = tx_csum_reduce(pseudo);	/* the usual CHECKSUM_PARTIAL seed */
	} else {
		/* The completion starts 10 bytes before the UDP header: take them out in advance. */
		udp->check = tx_csum_reduce(pseudo + (__u16)~tx_csum_reduce(tx_sum16(0, (__u16 *)udp - 5, 5)));
	}
	if (bpf_skb_store_bytes(skb, 0, eth, ETH_HLEN + ip_len + sizeof(*udp) + WG_HDR_LEN, 0))
		return -XWG_R_ERROR;
	return 0;
}

static __always_inline bool tx_event(__u32 type, const struct tx_pkt *p)
{
	return xwg_event_emit(type, p->peer_id, p->index, p->now, &p->ep, 0);
}

/* Digest 5.2: still send, but once per keypair ask the agent for a new handshake. */
static __always_inline void tx_maybe_rekey(struct xwg_keypair *kp, const struct tx_pkt *p)
{
	bool first;

	if (!(((kp->flags & XWG_KP_F_INITIATOR) && p->now - kp->birthdate_ns > XWG_REKEY_AFTER_TIME_NS) ||
	      p->counter > REKEY_AFTER_MESSAGES))
		return;
	if (kp->state & XWG_KP_S_TX_REKEY_SENT)	/* unlocked peek: the common case stays lock-free */
		return;
	bpf_spin_lock(&kp->lock);
	first = !(kp->state & XWG_KP_S_TX_REKEY_SENT);
	kp->state |= XWG_KP_S_TX_REKEY_SENT;
	bpf_spin_unlock(&kp->lock);
	if (first && !tx_event(XWG_EV_REKEY_NEEDED, p)) {
		/* Undo, so that a later packet sends the event the agent must not miss. */
		bpf_spin_lock(&kp->lock);
		kp->state &= ~XWG_KP_S_TX_REKEY_SENT;
		bpf_spin_unlock(&kp->lock);
	}
}

static __always_inline void tx_account(const struct tx_pkt *p)
{
	struct xwg_peer_stats *st = bpf_map_lookup_elem(&xwg_stats, &p->peer_id);

	if (!st)
		return;
	st->tx_bytes += WG_HDR_LEN + p->padded + WG_TAG_LEN;
	st->tx_packets++;
	st->last_tx_ns = p->now;
	st->last_tx_data_ns = p->now;
}

/*
 * Everything up to the encryption: checks that leave the packet to the agent, then the nonce, the
 * inner checksum and the tail room. Out of line, like tx_finish(): the stack that xwg_tx() keeps
 * across the bpf_loop() adds up with the callback's and the ChaCha block's, within 512 bytes.
 */
static __noinline int tx_prepare(struct __sk_buff *skb, struct tx_scratch *s, struct xwg_keypair **kpp)
{
	struct tx_pkt *p = &s->p;
	const struct xwg_dev_config *cfg;
	struct xwg_keypair *kp = NULL;
	__u32 zero = 0;
	int ret;

	cfg = bpf_map_lookup_elem(&xwg_config, &zero);
	if (!cfg)
		return -XWG_R_ERROR;
	if (!(cfg->flags & XWG_CFG_F_TX) || !cfg->mtu || !cfg->listen_port)
		return -XWG_R_TX_DISABLED;
	p->sport = cfg->listen_port;
	p->fwmark = cfg->fwmark;
	ret = tx_parse(skb, cfg, s, p);
	if (!ret)
		ret = tx_lookup(s, p, &kp);
	if (ret || !kp)
		return ret ?: -XWG_R_ERROR;
	p->now = bpf_ktime_get_ns();
	p->remote_index = kp->remote_index;
	ret = tx_keypair_usable(kp, p);
	if (ret)
		return ret;
	/*
	 * Claim the nonce before touching the packet: from here on it is no longer what the agent
	 * may receive (a rewritten checksum in a CHECKSUM_PARTIAL skb would be "completed" wrongly).
	 */
	p->counter = __sync_fetch_and_add(&kp->send_counter, 1);
	if (p->counter >= REJECT_AFTER_MESSAGES)
		return -XWG_R_TX_EXHAUSTED;
	*kpp = kp;
	ret = tx_inner_csum(skb, s, p);
	if (!ret)
		ret = tx_grow_tail(skb, p);
	/* One copy into a linear, writable head instead of two helper calls per block. */
	if (!ret && (__u64)(skb->data_end - skb->data) < skb->len && bpf_skb_pull_data(skb, skb->len))
		ret = -XWG_R_ERROR;
	return ret;
}

/* Everything after it: headers in front, events, statistics. */
static __noinline int tx_finish(struct __sk_buff *skb, struct tx_scratch *s, struct xwg_keypair *kp)
{
	struct tx_pkt *p = &s->p;
	__u32 ip_len = p->ep.family == XWG_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	int ret;

	if (!kp)
		return -XWG_R_ERROR;
	ret = tx_reshape_head(skb, p, ip_len);
	if (!ret)
		ret = tx_write_headers(skb, s, p, s->sum);
	if (ret)
		return ret;
	/* Like the kernel's WireGuard: policy routing (wg-quick) must not send it back in here. */
	if (p->fwmark)
		skb->mark = p->fwmark;
	tx_maybe_rekey(kp, p);
	tx_account(p);
	return -XWG_R_TX_OK;
}

SEC("tc")
int xwg_tx(struct __sk_buff *skb)
{
	struct xwg_keypair *kp = NULL;
	struct tx_scratch *s;
	__u32 zero = 0;
	int ret;

	s = bpf_map_lookup_elem(&xwg_tx_scratch, &zero);
	if (!s)
		return tx_verdict(XWG_R_ERROR, 0);
	__builtin_memset(&s->p, 0, sizeof(s->p));
	ret = tx_prepare(skb, s, &kp);
	if (!ret && kp)
		ret = tx_encrypt(skb, s, kp, &s->p);
	if (!ret)
		ret = tx_finish(skb, s, kp);
	return tx_verdict(-ret, s->p.ep.ifindex);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The namespace's one XDP program per underlay: hands each UDP port's datagrams to the xwg interface that listens on it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xwg_maps.h"

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define IP_MF_OFFSET	0x3fff

char LICENSE[] SEC("license") = "GPL";

/* (underlay, UDP destination port) -> slot in xwg_disp_progs; written by the agents. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWG_DISP_MAX_PORTS);
	__type(key, struct xwg_disp_key);
	__type(value, __u32);
} xwg_disp_ports SEC(".maps");

/* slot -> an xwg interface's xwg_rx. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, XWG_DISP_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} xwg_disp_progs SEC(".maps");

/* The UDP destination port, or 0: not UDP over IPv4/IPv6 without extension headers, or a fragment. */
static __always_inline __u16 disp_udp_port(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(IP_MF_OFFSET)) ||
		    ip->ihl < 5)
			return 0;
		udp = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return 0;
		udp = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if ((void *)(udp + 1) > end)
		return 0;
	return udp->dest;
}

/* frags like xwg_rx: a program array takes only programs of its owner's kind. */
SEC("xdp.frags")
int xwg_dispatch(struct xdp_md *ctx)
{
	struct xwg_disp_key key = { .ifindex = ctx->ingress_ifindex };
	__u32 *slot;

	key.port = disp_udp_port(ctx);
	if (!key.port)
		return XDP_PASS;
	slot = bpf_map_lookup_elem(&xwg_disp_ports, &key);
	if (slot)
		bpf_tail_call(ctx, &xwg_disp_progs, *slot);
	/* Nobody's port, or a slot being replaced: the stack's. */
	return XDP_PASS;
}

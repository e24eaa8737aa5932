/* SPDX-License-Identifier: GPL-2.0 */
/* Stand-ins for another project's programs (a CNI's): the netns tests attach them and check xwg leaves them alone. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int foreign_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* TC_ACT_UNSPEC: a policy program that lets the next one (or the stack) decide. */
SEC("tc")
int foreign_tc(struct __sk_buff *skb)
{
	return -1;
}

/* TC_ACT_OK (TCX_PASS): a CNI's program that hands every packet to the stack, skipping what follows. */
SEC("tc")
int foreign_tc_pass(struct __sk_buff *skb)
{
	return 0;
}

/* What the dispatcher test plugs into a slot: frags like xwg_rx, and a verdict nothing else gives. */
SEC("xdp.frags")
int foreign_xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's atomic operations on shared keypairs (send counter, replay window), run only via BPF_PROG_TEST_RUN. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "xwg_maps.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The pre-check keeps an exhausted keypair's counter from growing without bound (see
 * XWG_CTL_RESERVE_MAX); the post-check catches the ranges that cross the limit.
 */
static __always_inline int ctl_reserve(struct xwg_keypair *kp, __u64 n, __u64 *first)
{
	__u64 old;

	if (n < 1 || n > XWG_CTL_RESERVE_MAX)
		return XWG_CTL_EINVAL;
	if (kp->send_counter >= REJECT_AFTER_MESSAGES)
		return XWG_CTL_ERANGE;
	old = __sync_fetch_and_add(&kp->send_counter, n);
	if (old >= REJECT_AFTER_MESSAGES || REJECT_AFTER_MESSAGES - old < n)
		return XWG_CTL_ERANGE;
	*first = old;
	return 0;
}

/* The same lock the receive path holds, so a counter is accepted once whoever decrypted it. */
static __always_inline __u64 ctl_replay(struct xwg_keypair *kp, __u64 counter)
{
	bool fresh;

	bpf_spin_lock(&kp->lock);
	fresh = replay_counter_validate(&kp->replay, counter);
	bpf_spin_unlock(&kp->lock);
	return fresh;
}

SEC("xdp")
int xwg_ctl(struct xdp_md *ctx)
{
	struct xwg_ctl_req *req = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xwg_keypair *kp;
	__u64 result = 0;
	__u32 index;
	int err;

	if ((void *)(req + 1) > end)
		return XDP_DROP;
	index = req->index;
	kp = bpf_map_lookup_elem(&xwg_keypairs, &index);
	if (!kp)
		err = XWG_CTL_ENOENT;
	else if (req->op == XWG_CTL_RESERVE)
		err = ctl_reserve(kp, req->arg, &result);
	else if (req->op == XWG_CTL_REPLAY) {
		result = ctl_replay(kp, req->arg);
		err = 0;
	} else
		err = XWG_CTL_EINVAL;
	req->result = result;
	req->err = err;
	return XDP_PASS;
}

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

struct ctl_batch_ctx {
	struct xwg_keypair *kp;
	struct xwg_ctl_batch *b;
	void *end;
	__u64 fresh;
};

/* One counter of a batch, under the lock (a bpf_loop callback: verified once, not 64 times). */
static long ctl_replay_one(__u64 i, void *data)
{
	struct ctl_batch_ctx *c = data;
	__u64 *slot = &c->b->counters[i & (XWG_CTL_BATCH - 1)], counter;
	bool ok;

	/* A variable offset into the packet: the verifier wants the bound checked on the result. */
	if ((void *)(slot + 1) > c->end)
		return 1;
	counter = *slot;
	bpf_spin_lock(&c->kp->lock);
	ok = replay_counter_validate(&c->kp->replay, counter);
	bpf_spin_unlock(&c->kp->lock);
	if (ok)
		c->fresh |= 1ULL << (i & 63);
	return 0;
}

/*
 * One receive batch of one keypair: each counter under the lock in turn (not the whole batch, so
 * XDP on other CPUs waits for one update at most), in the agent's order, so a counter that comes
 * twice in a batch is fresh only the first time.
 */
static __always_inline int ctl_replay_batch(struct xwg_keypair *kp, struct xwg_ctl_batch *b, void *end,
					    __u64 *fresh)
{
	struct ctl_batch_ctx c = { .kp = kp, .b = b, .end = end };
	__u64 n = b->req.arg;

	if (n < 1 || n > XWG_CTL_BATCH)
		return XWG_CTL_EINVAL;
	if (bpf_loop((__u32)n, ctl_replay_one, &c, 0) != (long)n)
		return XWG_CTL_EINVAL;
	*fresh = c.fresh;
	return 0;
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
	if (req->op == XWG_CTL_REPLAY_BATCH && (void *)((struct xwg_ctl_batch *)req + 1) > end)
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
	} else if (req->op == XWG_CTL_REPLAY_BATCH)
		err = ctl_replay_batch(kp, (struct xwg_ctl_batch *)req, end, &result);
	else
		err = XWG_CTL_EINVAL;
	req->result = result;
	req->err = err;
	return XDP_PASS;
}

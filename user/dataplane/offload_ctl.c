/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's only way to an offloaded keypair's send counter and replay window: batched ctl.bpf.c runs. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"

_Static_assert(OFFLOAD_REPLAY_BATCH == XWG_CTL_BATCH, "one receive batch is one REPLAY_BATCH request");
_Static_assert(OFFLOAD_RESERVE_BATCH <= XWG_CTL_RESERVE_MAX, "one reservation is one RESERVE request");

int (*offload_ctl_inject)(uint32_t op, uint32_t index);

/*
 * Runs one request (a struct xwg_ctl_req, or the struct xwg_ctl_batch that starts with one) and
 * reads the answer back in place. 0, or -errno from the kernel or from the program.
 */
static int offload_ctl_run(struct offload *o, struct xwg_ctl_req *req, size_t size)
{
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = req, .data_size_in = (uint32_t)size,
			    .data_out = req, .data_size_out = (uint32_t)size, .repeat = 1);
	int ret;

	if (offload_ctl_inject && (ret = offload_ctl_inject(req->op, req->index)))
		return ret;
	if (!o->ctl)
		return -ENOENT;
	if (bpf_prog_test_run_opts(bpf_program__fd(o->ctl->progs.xwg_ctl), &run) < 0)
		return -errno;
	/* XDP_DROP: the program found the request short and did nothing. */
	if (run.retval != XDP_PASS)
		return -EPROTO;
	return req->err;
}

int offload_reserve_counters(struct noise_keypair *kp, uint32_t n, uint64_t *first)
{
	struct offload *o = offload_live(kp->peer->dev);
	struct xwg_ctl_req req = { .op = XWG_CTL_RESERVE, .index = kp->local_index, .arg = n };
	int ret;

	if (!o || !kp->offloaded)
		return -ENOENT;
	ret = offload_ctl_run(o, &req, sizeof(req));
	if (!ret)
		*first = req.result;
	return ret;
}

int offload_replay_commit(struct noise_keypair *kp, const uint64_t *counters, unsigned int n, uint64_t *fresh)
{
	struct offload *o = offload_live(kp->peer->dev);
	struct xwg_ctl_batch b = {
		.req = { .op = XWG_CTL_REPLAY_BATCH, .index = kp->local_index, .arg = n },
	};
	int ret;

	if (!o || !kp->offloaded)
		return -ENOENT;
	if (n < 1 || n > XWG_CTL_BATCH)
		return -EINVAL;
	memcpy(b.counters, counters, n * sizeof(*counters));
	ret = offload_ctl_run(o, &b.req, sizeof(b));
	if (!ret)
		*fresh = b.req.result;
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* One program at one hook, attached only where xwg owns the slot: pinned bpf_links, or recorded netlink/cls_bpf attachments. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"

/* The uapi headers are older than the kernel: TCX (6.6) attach types by number. */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
/* bpf_mprog (6.6): with no relative program, BEFORE puts the link at the front of the chain. */
#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif

/* Fallback (no links): a cls_bpf filter at a handle and priority of xwg's own, never replacing another's. */
#define OFFLOAD_TC_HANDLE 0x7767
#define OFFLOAD_TC_PRIO 0x7767

static const char *const offload_hook_names[] = {
	[OFFLOAD_HOOK_XDP] = "xdp", [OFFLOAD_HOOK_TC_IN] = "tcx_ingress", [OFFLOAD_HOOK_TC_OUT] = "tcx_egress",
};

/* DIR/link-KIND-IFINDEX: the pin that owns the attachment; unpinning it (with detach) removes it. */
static void offload_link_path(char *path, size_t len, const char *dir, enum offload_hook hook, int ifindex)
{
	snprintf(path, len, "%s/link-%s-%d", dir, offload_hook_names[hook], ifindex);
}

static int offload_link_create(enum offload_hook hook, int ifindex, int prog_fd, uint32_t xdp_flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	enum bpf_attach_type type = hook == OFFLOAD_HOOK_XDP ? BPF_XDP :
				    hook == OFFLOAD_HOOK_TC_IN ? (enum bpf_attach_type)BPF_TCX_INGRESS :
								 (enum bpf_attach_type)BPF_TCX_EGRESS;
	int fd;

	/*
	 * TCX ingress goes first: a foreign program's TCX_PASS before ours would hand a frame our XDP
	 * program decrypted to the underlay's stack. xwg_rx_tc returns TCX_NEXT for what is not its
	 * own, so the programs after it still see every other packet. Egress (on the tunnel, which
	 * xwg owns) appends. libbpf 1.1 passes opts.flags through for every attach type.
	 */
	if (hook == OFFLOAD_HOOK_XDP)
		opts.flags = xdp_flags;
	else if (hook == OFFLOAD_HOOK_TC_IN)
		opts.flags = BPF_F_BEFORE;
	fd = bpf_link_create(prog_fd, ifindex, type, &opts);
	return fd < 0 ? -errno : fd;
}

/*
 * Through a link: an existing pin of ours (a dead agent's) gets the new program in place, with
 * no gap and, for TCX, at the same place in the chain; else a new link is created and pinned. XDP
 * links cannot be created over a program attached through netlink (EBUSY) and TCX inserts beside
 * whatever is there (ingress at the front, egress at the end): nothing foreign is replaced.
 */
static int offload_link_attach(struct offload *o, enum offload_hook hook, int ifindex, int prog_fd, uint32_t flags)
{
	char path[192];
	int fd, ret;

	offload_link_path(path, sizeof(path), o->pin_dir, hook, ifindex);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		uint32_t was = 0;

		/* Same hook and, for XDP, the same mode: swap the program; else start over. */
		if (hook != OFFLOAD_HOOK_XDP ||
		    (!offload_rec_get(o->rec_fd, OFFLOAD_REC_XDP_LINK, ifindex, &was, NULL) && was == flags)) {
			ret = bpf_link_update(fd, prog_fd, NULL) ? -errno : 0;
			close(fd);
			if (!ret)
				return 0;
		} else {
			close(fd);
		}
		offload_hook_detach(o, hook, ifindex);
	}
	fd = offload_link_create(hook, ifindex, prog_fd, flags);
	if (fd < 0)
		return fd;
	ret = bpf_obj_pin(fd, path) ? -errno : 0;
	if (ret)
		bpf_link_detach(fd);
	else if (hook == OFFLOAD_HOOK_XDP)
		ret = offload_rec_add(o->rec_fd, OFFLOAD_REC_XDP_LINK, ifindex, flags, 0);
	close(fd);
	if (ret)
		offload_hook_detach(o, hook, ifindex);
	return ret;
}

static uint32_t offload_prog_id(int prog_fd)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? 0 : info.id;
}

/* Fallback XDP: never over another program; over our own (recorded id) only with REPLACE. */
static int offload_legacy_xdp(struct offload *o, int ifindex, int prog_fd, uint32_t flags)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	uint32_t ours = 0;
	int old = -1, ret;

	if (!offload_rec_get(o->rec_fd, OFFLOAD_REC_XDP_PROG, ifindex, NULL, &ours) && ours)
		old = bpf_prog_get_fd_by_id(ours);
	if (old >= 0) {
		opts.old_prog_fd = old;
		ret = bpf_xdp_attach(ifindex, prog_fd, flags | XDP_FLAGS_REPLACE, &opts);
		close(old);
	} else {
		ret = bpf_xdp_attach(ifindex, prog_fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	}
	if (ret)
		return ret;
	return offload_rec_add(o->rec_fd, OFFLOAD_REC_XDP_PROG, ifindex, flags, offload_prog_id(prog_fd));
}

/*
 * Fallback TC: our own handle and priority; clsact created only if missing, and then recorded.
 * cls_bpf runs filters by ascending priority, so ours (0x7767) runs after a foreign filter at a
 * lower one; such a filter that returns TC_ACT_OK ends the chain before ours. Taking a lower
 * priority could collide with another's, so this path does not try to go first.
 */
static int offload_legacy_tc(struct offload *o, enum offload_hook hook, int ifindex, int prog_fd)
{
	enum bpf_tc_attach_point where = hook == OFFLOAD_HOOK_TC_IN ? BPF_TC_INGRESS : BPF_TC_EGRESS;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, tch, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO,
			    .prog_fd = prog_fd);
	uint32_t ours = 0;
	int ret = bpf_tc_hook_create(&tch);

	if (!ret)
		ret = offload_rec_add(o->rec_fd, OFFLOAD_REC_CLSACT, ifindex, 0, 0);
	else if (ret == -EEXIST)
		ret = 0;
	if (ret)
		return ret;
	if (!offload_rec_get(o->rec_fd, OFFLOAD_REC_TC_IN + (hook - OFFLOAD_HOOK_TC_IN), ifindex, NULL, &ours) &&
	    ours) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO);

		/* Replace only the filter this interface's agent put there. */
		if (!bpf_tc_query(&tch, &q) && q.prog_id == ours)
			opts.flags = BPF_TC_F_REPLACE;
	}
	ret = bpf_tc_attach(&tch, &opts);
	if (ret)
		return ret;
	return offload_rec_add(o->rec_fd, OFFLOAD_REC_TC_IN + (hook - OFFLOAD_HOOK_TC_IN), ifindex, 0, opts.prog_id);
}

int offload_hook_attach(struct offload *o, enum offload_hook hook, int ifindex, int prog_fd, uint32_t xdp_flags)
{
	int ret;

	if (o->links) {
		ret = offload_link_attach(o, hook, ifindex, prog_fd, xdp_flags);
		/* No such attach type: a kernel before TCX (6.6). Everything then goes the old way. */
		if (ret != -EINVAL || hook == OFFLOAD_HOOK_XDP)
			return ret;
		o->links = false;
	}
	if (hook == OFFLOAD_HOOK_XDP)
		return offload_legacy_xdp(o, ifindex, prog_fd, xdp_flags);
	return offload_legacy_tc(o, hook, ifindex, prog_fd);
}

/* Removes exactly what the record says is ours; others' programs and filters are not looked at. */
static void offload_legacy_detach(int rec_fd, enum offload_hook hook, int ifindex)
{
	uint32_t ours = 0, flags = 0;

	if (hook == OFFLOAD_HOOK_XDP) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts);

		if (offload_rec_get(rec_fd, OFFLOAD_REC_XDP_PROG, ifindex, &flags, &ours))
			return;
		opts.old_prog_fd = bpf_prog_get_fd_by_id(ours);
		if (opts.old_prog_fd >= 0) {
			bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &opts);
			close(opts.old_prog_fd);
		}
		offload_rec_del(rec_fd, OFFLOAD_REC_XDP_PROG, ifindex);
	} else {
		enum offload_rec kind = OFFLOAD_REC_TC_IN + (hook - OFFLOAD_HOOK_TC_IN);
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, tch, .ifindex = ifindex,
				    .attach_point = hook == OFFLOAD_HOOK_TC_IN ? BPF_TC_INGRESS : BPF_TC_EGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO);

		if (offload_rec_get(rec_fd, kind, ifindex, NULL, &ours))
			return;
		if (!bpf_tc_query(&tch, &q) && q.prog_id == ours) {
			q.prog_id = 0;
			q.prog_fd = 0;
			q.flags = 0;
			bpf_tc_detach(&tch, &q);
		}
		offload_rec_del(rec_fd, kind, ifindex);
	}
}

/* BPF_LINK_DETACH first (synchronous, so the order of detaches holds), then the pin goes. */
static void offload_link_detach(const char *dir, int rec_fd, enum offload_hook hook, int ifindex)
{
	char path[192];
	int fd;

	offload_link_path(path, sizeof(path), dir, hook, ifindex);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
	if (hook == OFFLOAD_HOOK_XDP)
		offload_rec_del(rec_fd, OFFLOAD_REC_XDP_LINK, ifindex);
}

static void offload_hook_detach_at(const char *dir, int rec_fd, enum offload_hook hook, int ifindex)
{
	offload_link_detach(dir, rec_fd, hook, ifindex);
	offload_legacy_detach(rec_fd, hook, ifindex);
}

void offload_hook_detach(struct offload *o, enum offload_hook hook, int ifindex)
{
	offload_hook_detach_at(o->pin_dir, o->rec_fd, hook, ifindex);
}

/* Parses "link-KIND-IFINDEX". */
static bool offload_link_name(const char *name, enum offload_hook *hook, int *ifindex)
{
	for (int h = 0; h <= OFFLOAD_HOOK_TC_OUT; h++) {
		size_t n = strlen(offload_hook_names[h]);
		char *end;

		if (strncmp(name, "link-", 5) || strncmp(name + 5, offload_hook_names[h], n) || name[5 + n] != '-')
			continue;
		*ifindex = (int)strtol(name + 6 + n, &end, 10);
		*hook = (enum offload_hook)h;
		return !*end && *ifindex > 0;
	}
	return false;
}

/*
 * Every attachment under dir, XDP first: after a dead agent (keep < 0) or the ones a new agent did
 * not take over (keep_fn says which to keep). Links by their pins, fallbacks by the record.
 */
void offload_hook_sweep(const char *dir, int rec_fd, bool (*keep)(void *, enum offload_hook, int), void *ctx)
{
	for (int pass = OFFLOAD_HOOK_XDP; pass <= OFFLOAD_HOOK_TC_OUT; pass++) {
		DIR *d = opendir(dir);
		struct dirent *e;
		enum offload_hook hook;
		int ifindex;

		while (d && (e = readdir(d))) {
			if (!offload_link_name(e->d_name, &hook, &ifindex) || (int)hook != pass)
				continue;
			if (!keep || !keep(ctx, hook, ifindex))
				offload_link_detach(dir, rec_fd, hook, ifindex);
		}
		if (d)
			closedir(d);
	}
	offload_rec_sweep_legacy(rec_fd, keep, ctx, offload_legacy_detach);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The record of what xwg changed on the host (settings, qdiscs, fallback attachments), pinned so it outlives a kill -9. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netlink.h"
#include "offload_internal.h"

#define OFFLOAD_REC_PIN "host_settings"
#define OFFLOAD_REC_MAX 1024

struct offload_rec_key {
	uint32_t kind;		/* enum offload_rec */
	int32_t ifindex;
};

struct offload_rec_val {
	uint32_t value;		/* the old setting, or XDP flags */
	uint32_t prog_id;	/* fallback attachments: the program that is ours */
};

static void offload_rec_path(char *path, size_t len, const char *dir)
{
	snprintf(path, len, "%s/" OFFLOAD_REC_PIN, dir);
}

/* The record under dir: an existing one (a dead agent's, adopted) or a new one when create. */
int offload_rec_open(const char *dir, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	char path[192];
	int fd;

	offload_rec_path(path, sizeof(path), dir);
	fd = bpf_obj_get(path);
	if (fd >= 0 || !create)
		return fd >= 0 ? fd : -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "xwg_host_rec", sizeof(struct offload_rec_key),
			    sizeof(struct offload_rec_val), OFFLOAD_REC_MAX, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

void offload_rec_close(int fd, const char *dir, bool unpin)
{
	char path[192];

	if (fd >= 0)
		close(fd);
	if (unpin) {
		offload_rec_path(path, sizeof(path), dir);
		unlink(path);
	}
}

/* A change is recorded before (or right after) it is made: a failure to record undoes it. */
int offload_rec_add(int fd, enum offload_rec kind, int ifindex, uint32_t value, uint32_t prog_id)
{
	struct offload_rec_key k = { .kind = kind, .ifindex = ifindex };
	struct offload_rec_val v = { .value = value, .prog_id = prog_id };

	return bpf_map_update_elem(fd, &k, &v, BPF_ANY) ? -errno : 0;
}

int offload_rec_get(int fd, enum offload_rec kind, int ifindex, uint32_t *value, uint32_t *prog_id)
{
	struct offload_rec_key k = { .kind = kind, .ifindex = ifindex };
	struct offload_rec_val v;

	if (fd < 0 || bpf_map_lookup_elem(fd, &k, &v))
		return -ENOENT;
	if (value)
		*value = v.value;
	if (prog_id)
		*prog_id = v.prog_id;
	return 0;
}

void offload_rec_del(int fd, enum offload_rec kind, int ifindex)
{
	struct offload_rec_key k = { .kind = kind, .ifindex = ifindex };

	if (fd >= 0)
		bpf_map_delete_elem(fd, &k);
}

int offload_ethtool(int ifindex, void *data)
{
	struct ifreq ifr = { .ifr_data = data };
	int fd, ret;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * A setting of a device another xwg interface of this namespace still receives on (its TCX link
 * is pinned there) is not put back but handed to that interface's record: the last one restores it.
 */
static bool offload_rec_handoff(const struct offload_rec_key *k, const struct offload_rec_val *v)
{
	char root[160], path[192 + 256];
	struct dirent *e;
	bool done = false;
	DIR *d;

	offload_pin_dir(root, sizeof(root), "");
	d = opendir(root);
	while (d && !done && (e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.' || !if_nametoindex(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s%s/link-tcx_ingress-%d", root, e->d_name, k->ifindex);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		close(fd);
		snprintf(path, sizeof(path), "%s%s", root, e->d_name);
		fd = offload_rec_open(path, false);
		if (fd >= 0) {
			done = !bpf_map_update_elem(fd, k, v, BPF_NOEXIST) || errno == EEXIST;
			close(fd);
		}
	}
	if (d)
		closedir(d);
	return done;
}

/* Puts one recorded setting back and forgets it. */
static void offload_rec_undo(int fd, const struct offload_rec_key *k, const struct offload_rec_val *v)
{
	switch (k->kind) {
	case OFFLOAD_REC_CSUM: {
		struct ethtool_value val = { .cmd = ETHTOOL_STXCSUM, .data = v->value };

		if (!offload_rec_handoff(k, v))
			offload_ethtool(k->ifindex, &val);
		break;
	}
	case OFFLOAD_REC_GSO:
		nl_link_set_gso_max_segs(k->ifindex, v->value);
		break;
	case OFFLOAD_REC_CLSACT: {
		/* Only ever recorded when xwg created it. */
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = k->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&h);
		break;
	}
	default:
		return;		/* attachments: offload_hook's business */
	}
	offload_rec_del(fd, k->kind, k->ifindex);
}

/*
 * The record's keys for ifindex (every interface when 0) whose kind is in kinds (a bit per kind;
 * 0: all), into todo. Collected before anything is changed: deleting while walking a hash
 * restarts the walk. Returns the count.
 */
static int offload_rec_collect(int fd, int ifindex, uint32_t kinds, struct offload_rec_key *todo)
{
	struct offload_rec_key k, next, *prev = NULL;
	int n = 0;

	while (n < OFFLOAD_REC_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if ((!ifindex || k.ifindex == ifindex) && (!kinds || (k.kind < 32 && (kinds & (1u << k.kind)))))
			todo[n++] = k;
	}
	return n;
}

/* Restores the settings recorded for ifindex (every interface when ifindex is 0). */
void offload_rec_restore(int fd, int ifindex)
{
	struct offload_rec_key todo[OFFLOAD_REC_MAX];
	struct offload_rec_val v;
	int n;

	if (fd < 0)
		return;
	n = offload_rec_collect(fd, ifindex, 0, todo);
	for (int i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(fd, &todo[i], &v))
			offload_rec_undo(fd, &todo[i], &v);
}

/* Fallback attachments in the record that keep() does not claim: detach() removes them. */
void offload_rec_sweep_legacy(int fd, bool (*keep)(void *, enum offload_hook, int), void *ctx,
			      void (*detach)(int, enum offload_hook, int))
{
	static const enum offload_hook hook_of[] = {
		[OFFLOAD_REC_XDP_PROG] = OFFLOAD_HOOK_XDP, [OFFLOAD_REC_TC_IN] = OFFLOAD_HOOK_TC_IN,
		[OFFLOAD_REC_TC_OUT] = OFFLOAD_HOOK_TC_OUT,
	};
	struct offload_rec_key todo[OFFLOAD_REC_MAX];
	int n;

	if (fd < 0)
		return;
	n = offload_rec_collect(fd, 0, 1u << OFFLOAD_REC_XDP_PROG | 1u << OFFLOAD_REC_TC_IN | 1u << OFFLOAD_REC_TC_OUT,
				todo);
	/* XDP before TC, as everywhere. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			enum offload_hook h = hook_of[todo[i].kind];

			if ((pass == 0) != (h == OFFLOAD_HOOK_XDP))
				continue;
			if (!keep || !keep(ctx, h, todo[i].ifindex))
				detach(fd, h, todo[i].ifindex);
		}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Loading the BPF objects on one shared set of maps, and pinning those maps in the host's bpffs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"

/* libbpf's warnings (e.g. "clsact exists" on every attach) are noise to users; XWG_DEBUG shows them. */
static int offload_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!getenv("XWG_DEBUG") || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static bool offload_is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/*
 * Where pins live: /sys/fs/bpf/xwg. `ip netns exec` mounts a fresh sysfs over /sys, hiding the
 * host's bpffs, and pins made in a private bpffs would die with the agent. So look for the host's
 * through init's root, or the root of whoever started us (the shell outside `ip netns exec`), and
 * hold that directory open: /proc/self/fd/N stays valid after the starter exits. Resolved once,
 * by the CLI before it forks the agent (offload_prepare).
 */
static const char *offload_pin_root(void)
{
	static char root[64];
	char cand[3][48];

	if (root[0])
		return root;
	snprintf(cand[0], sizeof(cand[0]), "/sys/fs/bpf");
	snprintf(cand[1], sizeof(cand[1]), "/proc/1/root/sys/fs/bpf");
	snprintf(cand[2], sizeof(cand[2]), "/proc/%d/root/sys/fs/bpf", (int)getppid());
	for (int i = 0; i < 3; i++) {
		int fd;

		if (!offload_is_bpffs(cand[i]))
			continue;
		if (i == 0) {
			snprintf(root, sizeof(root), "/sys/fs/bpf/xwg");
			return root;
		}
		fd = open(cand[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		snprintf(root, sizeof(root), "/proc/self/fd/%d/xwg", fd);
		return root;
	}
	return NULL;
}

void offload_prepare(void)
{
	offload_pin_root();
}

int offload_mount_bpffs(void)
{
	if (offload_pin_root())
		return 0;
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return offload_pin_root() ? 0 : -ENOTSUP;
}

/* Only the xwg_ maps are shared and pinned; libbpf's own (.rodata, ...) stay per object. */
static bool offload_map_shared(const struct bpf_map *map)
{
	return !strncmp(bpf_map__name(map), "xwg_", 4);
}

/* ROOT/IFNAME, or ROOT/IFNAME/MAP when map is given. */
static void offload_pin_path(char *path, size_t len, const char *ifname, const struct bpf_map *map)
{
	if (map)
		snprintf(path, len, "%s/%s/%s", offload_pin_root(), ifname, bpf_map__name(map));
	else
		snprintf(path, len, "%s/%s", offload_pin_root(), ifname);
}

/* Later objects use the first object's maps, so every program sees one state. */
static int offload_share_maps(struct bpf_object *from, struct bpf_object *to)
{
	struct bpf_map *map, *src;

	bpf_object__for_each_map(map, to) {
		if (!offload_map_shared(map))
			continue;
		src = bpf_object__find_map_by_name(from, bpf_map__name(map));
		if (src && bpf_map__reuse_fd(map, bpf_map__fd(src)) < 0)
			return -errno;
	}
	return 0;
}

/* Removes the pins of obj's maps, ifname's directory, and the xwg root once no interface uses it. */
static void offload_unpin_obj(struct bpf_object *obj, const char *ifname)
{
	struct bpf_map *map;
	char path[160];

	bpf_object__for_each_map(map, obj) {
		if (!offload_map_shared(map))
			continue;
		offload_pin_path(path, sizeof(path), ifname, map);
		unlink(path);
	}
	offload_pin_path(path, sizeof(path), ifname, NULL);
	rmdir(path);
	rmdir(offload_pin_root());	/* only succeeds when no other interface uses it */
}

void offload_unpin(struct offload *o, const char *ifname)
{
	if (o->rx && o->pinned)
		offload_unpin_obj(o->rx->obj, ifname);
	o->pinned = false;
}

void offload_unpin_stale(const char *ifname)
{
	/* The pin names are the rx object's map names: open it (no load) just to list them. */
	struct rx_bpf *rx = rx_bpf__open();

	if (rx) {
		offload_unpin_obj(rx->obj, ifname);
		rx_bpf__destroy(rx);
	}
}

/* Pinned, BTF-typed maps let `bpftool map dump pinned` show the state; 0600 since they hold keys. */
int offload_pin(struct offload *o, const char *ifname)
{
	struct bpf_map *map;
	char path[160];

	o->pinned = true;	/* from here on, offload_unpin has something to remove */
	offload_pin_path(path, sizeof(path), ifname, NULL);
	mkdir(offload_pin_root(), 0700);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, o->rx->obj) {
		if (!offload_map_shared(map))
			continue;
		offload_pin_path(path, sizeof(path), ifname, map);
		unlink(path);	/* a stale pin from an agent that was killed */
		if (bpf_map__pin(map, path) < 0 || chmod(path, 0600) < 0)
			return -errno;
	}
	return 0;
}

/* A pinned map set left by an agent that died: reuse it, so sessions and counters carry on. */
static int offload_reuse_pins(struct offload *o, const char *ifname, bool *adopted)
{
	struct bpf_map *map;
	char path[160];
	int fd, ret;

	*adopted = false;
	bpf_object__for_each_map(map, o->rx->obj) {
		if (!offload_map_shared(map))
			continue;
		offload_pin_path(path, sizeof(path), ifname, map);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return 0;	/* nothing (complete) to adopt: start afresh */
		ret = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (ret < 0)
			return ret;
		*adopted = true;
	}
	return 0;
}

/* Every CPU gets the decrypting program as its cpumap entry, or spreading stays off. */
static bool offload_spread_setup(struct offload *o)
{
	struct bpf_cpumap_val v = { .qsize = 2048, .bpf_prog.fd = bpf_program__fd(o->rx->progs.xwg_rx_cpu) };
	int fd = bpf_map__fd(o->rx->maps.xwg_rx_cpus);

	if (o->rx->rodata->rx_ncpus < 2)
		return false;
	for (uint32_t cpu = 0; cpu < o->rx->rodata->rx_ncpus; cpu++)
		if (bpf_map_update_elem(fd, &cpu, &v, BPF_ANY)) {
			fprintf(stderr, "xwg: decryption stays on the receiving CPU: cpumap entry %u: %s\n", cpu,
				strerror(errno));
			return false;
		}
	return true;
}

int offload_load(struct offload *o, const char *ifname, bool *adopted)
{
	int ret;

	libbpf_set_print(offload_libbpf_print);
	o->ncpus = libbpf_num_possible_cpus();
	o->rx = rx_bpf__open();
	if (!o->rx)
		return -errno;
	ret = offload_reuse_pins(o, ifname, adopted);
	if (ret)
		return ret;
	o->rx->rodata->rx_ncpus = o->ncpus > 0 && o->ncpus <= XWG_MAX_CPUS ? (uint32_t)o->ncpus : 0;
	if (rx_bpf__load(o->rx))
		return -errno;
	o->rx_spread = offload_spread_setup(o);
	o->tx = tx_bpf__open();
	o->ctl = ctl_bpf__open();
	if (!o->tx || !o->ctl)
		return -errno;
	ret = offload_share_maps(o->rx->obj, o->tx->obj);
	if (!ret)
		ret = offload_share_maps(o->rx->obj, o->ctl->obj);
	if (ret)
		return ret;
	if (tx_bpf__load(o->tx) || ctl_bpf__load(o->ctl))
		return -errno;
	return 0;
}

bool offload_has_pins(const char *ifname)
{
	char path[160];
	struct stat st;

	if (!offload_pin_root())
		return false;
	snprintf(path, sizeof(path), "%s/%s/xwg_keypairs", offload_pin_root(), ifname);
	return stat(path, &st) == 0;
}

void offload_pin_dir(char *buf, size_t len, const char *ifname)
{
	offload_pin_path(buf, len, ifname, NULL);
}

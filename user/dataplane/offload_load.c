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
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
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

/*
 * Where pins live: /sys/fs/bpf/xwg in the host's mount namespace. `ip netns exec` runs us in a
 * private mount namespace with a fresh sysfs over /sys: a bpffs found or mounted there would die
 * with the agent, and with it the pins `xwg down` needs after a `kill -9`. The host's is PID 1's
 * (as our PID namespace sees it) or, where we may not look at PID 1 (a sandbox), that of our
 * outermost ancestor we may look at. The CLI resolves it before it forks the agent (offload_prepare)
 * and holds its root and mount namespace open, so the agent can still reach and mount there once
 * those processes are gone; the pin root is then /proc/self/fd/N/xwg. The agent, the next agent and
 * `xwg down` all resolve the same place; none looks at the /sys it happens to see.
 */
static char offload_bpffs_why[160];
static int offload_host_root = -1, offload_host_ns = -1;
static pid_t offload_host;

/* A mount namespace fd of pid's, or -errno (we may not look at it, or it is gone). */
static int offload_mntns_open(pid_t pid)
{
	char path[40];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static pid_t offload_parent_of(pid_t pid)
{
	char path[40];
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
		ppid = 0;
	fclose(f);
	return ppid;
}

/* PID 1, else the outermost ancestor whose mount namespace we may open. */
static pid_t offload_host_pid(void)
{
	pid_t pid = getpid(), host = pid, up;
	int fd = offload_mntns_open(1);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	for (int depth = 0; depth < 64 && (up = offload_parent_of(pid)) > 1; depth++, pid = up) {
		fd = offload_mntns_open(up);
		if (fd < 0)
			break;
		close(fd);
		host = up;
	}
	return host;
}

/* Opens the host's root directory and mount namespace, once; false when we may not. */
static bool offload_host_open(void)
{
	char path[40];

	if (offload_host_root >= 0 && offload_host_ns >= 0)
		return true;
	offload_host = offload_host_pid();
	snprintf(path, sizeof(path), "/proc/%d/root", (int)offload_host);
	if (offload_host_root < 0)
		offload_host_root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (offload_host_ns < 0)
		offload_host_ns = offload_mntns_open(offload_host);
	return offload_host_root >= 0 && offload_host_ns >= 0;
}

static int offload_pin_fd = -1;	/* the bpffs directory the pin root names */

static const char *offload_pin_root(void)
{
	static char root[64];
	struct statfs st;
	int fd;

	if (root[0])
		return root;
	if (!offload_host_open())
		return NULL;
	/* Walked from the host's root, so the host's mounts apply, not ours. */
	fd = openat(offload_host_root, "sys/fs/bpf", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstatfs(fd, &st) < 0 || st.f_type != BPF_FS_MAGIC) {
		close(fd);
		return NULL;
	}
	snprintf(root, sizeof(root), "/proc/self/fd/%d/xwg", fd);
	offload_pin_fd = fd;
	return root;
}

/*
 * Our pins live in the bpffs we resolved at start; someone may have unmounted it since (only
 * lazily: our open directory keeps it busy). The data path lives on through our references, but
 * the next agent and `xwg down` look at /sys/fs/bpf and would find nothing: true while the host's
 * /sys/fs/bpf is still the filesystem we pin into.
 */
bool offload_pins_reachable(void)
{
	struct stat ours, host;

	if (offload_pin_fd < 0 || offload_host_root < 0)
		return true;	/* no pins, nothing to lose */
	if (fstat(offload_pin_fd, &ours) < 0 ||
	    fstatat(offload_host_root, "sys/fs/bpf", &host, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return ours.st_dev == host.st_dev && ours.st_ino == host.st_ino;
}

void offload_prepare(void)
{
	offload_pin_root();
}

const char *offload_bpffs_error(void)
{
	return offload_bpffs_why;
}

/* In the mount child: the failed step to the parent, errno as the exit status. */
static _Noreturn void offload_mount_fail(int err, const char *step)
{
	int e = errno;

	if (write(err, step, strlen(step)) < 0)
		e = e ? e : EIO;	/* the status alone still says why */
	_exit(e ? e : EIO);
}

/* Runs in a forked child, since setns would move the caller: only plain syscalls here. */
static _Noreturn void offload_mount_child(int ns, int err)
{
	if (setns(ns, CLONE_NEWNS) < 0)
		offload_mount_fail(err, "setns");
	/* Mode 0700: the pins hold session keys. */
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		offload_mount_fail(err, "mount bpf /sys/fs/bpf");
	_exit(0);
}

/* Mounts bpffs on /sys/fs/bpf in the host's mount namespace, as systemd does on most hosts. */
static int offload_mount_host(void)
{
	char step[32];
	int pipefd[2], status, e;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		offload_mount_child(offload_host_ns, pipefd[1]);
	}
	e = errno;
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -e;
	}
	n = read(pipefd[0], step, sizeof(step) - 1);
	step[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(offload_bpffs_why, sizeof(offload_bpffs_why),
		 "no bpffs at /sys/fs/bpf in the host's mount namespace (pid %d's), and mounting one failed (%s: %s)",
		 (int)offload_host, step[0] ? step : "child", strerror(WIFEXITED(status) ? WEXITSTATUS(status) : EINTR));
	return -(WIFEXITED(status) ? WEXITSTATUS(status) : EINTR);
}

/* The host's bpffs, mounted if need be; else why not in offload_bpffs_error(). */
int offload_mount_bpffs(void)
{
	int ret;

	if (offload_pin_root())
		return 0;
	if (!offload_host_open()) {
		snprintf(offload_bpffs_why, sizeof(offload_bpffs_why),
			 "cannot open the host's mount namespace (pid %d's): %s", (int)offload_host, strerror(errno));
		return -EACCES;
	}
	ret = offload_mount_host();
	if (ret && !offload_bpffs_why[0])
		snprintf(offload_bpffs_why, sizeof(offload_bpffs_why),
			 "no bpffs at /sys/fs/bpf in the host's mount namespace (pid %d's), and mounting one failed: %s",
			 (int)offload_host, strerror(-ret));
	if (ret)
		return ret;
	if (offload_pin_root())
		return 0;
	snprintf(offload_bpffs_why, sizeof(offload_bpffs_why),
		 "bpffs mounted in the host's mount namespace (pid %d's), but it is not there", (int)offload_host);
	return -ENOTSUP;
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

/* SPDX-License-Identifier: GPL-2.0 */
/* The namespace-wide XDP dispatcher: shared pins, one slot per xwg interface, one pinned link per underlay. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "offload_internal.h"
#include "dispatch.skel.h"

/* Every xwg interface of this network namespace meets in ROOT/netns:INODE (no interface name has a colon; bpffs refuses dots). */
static void offload_disp_dir(char *dir, size_t len)
{
	struct stat st = { 0 };
	char name[48];

	stat("/proc/self/ns/net", &st);
	snprintf(name, sizeof(name), "netns:%lu", (unsigned long)st.st_ino);
	offload_pin_dir(dir, len, name);
}

static int offload_disp_get(const char *dir, const char *what)
{
	char path[224];

	snprintf(path, sizeof(path), "%s/%s", dir, what);
	return bpf_obj_get(path);
}

/* Loads the dispatcher and pins it with its maps; EEXIST when another agent was faster. */
static int offload_disp_create(const char *dir)
{
	struct dispatch_bpf *d = dispatch_bpf__open_and_load();
	char path[224];
	int ret = 0;

	if (!d)
		return -errno;
	snprintf(path, sizeof(path), "%s/ports", dir);
	if (bpf_map__pin(d->maps.xwg_disp_ports, path))
		ret = -errno;
	snprintf(path, sizeof(path), "%s/progs", dir);
	if (!ret && bpf_map__pin(d->maps.xwg_disp_progs, path))
		ret = -errno;
	snprintf(path, sizeof(path), "%s/prog", dir);
	if (!ret && bpf_obj_pin(bpf_program__fd(d->progs.xwg_dispatch), path))
		ret = -errno;
	dispatch_bpf__destroy(d);
	return ret;
}

static void offload_disp_close(struct offload *o)
{
	if (o->disp_prog >= 0)
		close(o->disp_prog);
	if (o->disp_ports >= 0)
		close(o->disp_ports);
	if (o->disp_progs >= 0)
		close(o->disp_progs);
	o->disp_prog = o->disp_ports = o->disp_progs = -1;
}

static int offload_disp_open_at(struct offload *o, const char *dir)
{
	o->disp_ports = offload_disp_get(dir, "ports");
	o->disp_progs = offload_disp_get(dir, "progs");
	o->disp_prog = offload_disp_get(dir, "prog");
	if (o->disp_ports >= 0 && o->disp_progs >= 0 && o->disp_prog >= 0)
		return 0;
	offload_disp_close(o);
	return -ENOENT;
}

/* This interface's slot: kept from a dead predecessor (the record says which), else a free one. */
static int offload_disp_slot(struct offload *o)
{
	uint32_t slot, id;

	if (!offload_rec_get(o->rec_fd, OFFLOAD_REC_DISP_SLOT, 0, &slot, NULL) && slot < XWG_DISP_SLOTS)
		return (int)slot;
	for (slot = 0; slot < XWG_DISP_SLOTS; slot++)
		if (bpf_map_lookup_elem(o->disp_progs, &slot, &id) && errno == ENOENT)
			return (int)slot;
	return -ENOSPC;
}

/* Opens (or creates) the namespace's dispatcher and puts our xwg_rx in our slot. */
static int offload_disp_join(struct offload *o)
{
	char dir[160], root[160];
	int ret, fd;
	uint32_t slot;

	if (o->disp_slot >= 0)
		return 0;
	offload_disp_dir(dir, sizeof(dir));
	if (offload_disp_open_at(o, dir)) {
		snprintf(root, sizeof(root), "%s", dir);
		*strrchr(root, '/') = '\0';
		mkdir(root, 0700);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		ret = offload_disp_create(dir);
		if (ret && ret != -EEXIST)
			return ret;
		if (offload_disp_open_at(o, dir))
			return -ENOENT;
	}
	ret = offload_disp_slot(o);
	if (ret < 0)
		goto fail;
	slot = (uint32_t)ret;
	fd = bpf_program__fd(o->rx->progs.xwg_rx);
	/* Recorded first: a dead agent's slot is found again by its cleanup. */
	ret = offload_rec_add(o->rec_fd, OFFLOAD_REC_DISP_SLOT, 0, slot, 0);
	if (!ret && bpf_map_update_elem(o->disp_progs, &slot, &fd, BPF_ANY))
		ret = -errno;
	if (ret)
		goto fail;
	o->disp_slot = (int)slot;
	return 0;
fail:
	offload_disp_close(o);
	return ret;
}

static void offload_disp_link_path(char *path, size_t len, int ifindex)
{
	char dir[160];

	offload_disp_dir(dir, sizeof(dir));
	snprintf(path, len, "%s/link-xdp-%d", dir, ifindex);
}

/* True when the XDP program on ifindex is the namespace's dispatcher (ours to share). */
bool offload_disp_owns(int ifindex)
{
	char path[224];
	int fd;

	offload_disp_link_path(path, sizeof(path), ifindex);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Our port on ifindex goes to our slot; the dispatcher is attached there if it is not yet. */
int offload_disp_attach(struct offload *o, int ifindex, uint16_t port, uint32_t xdp_flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_flags);
	struct xwg_disp_key key = { .ifindex = (uint32_t)ifindex, .port = htons(port) };
	char path[224];
	uint32_t slot;
	int ret = offload_disp_join(o), fd;

	if (ret)
		return ret;
	slot = (uint32_t)o->disp_slot;
	if (bpf_map_update_elem(o->disp_ports, &key, &slot, BPF_ANY))
		return -errno;
	if (offload_disp_owns(ifindex))
		return 0;
	fd = bpf_link_create(o->disp_prog, ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		ret = -errno;
		goto undo;
	}
	offload_disp_link_path(path, sizeof(path), ifindex);
	if (bpf_obj_pin(fd, path)) {
		ret = -errno;
		bpf_link_detach(fd);
		close(fd);
		goto undo;
	}
	close(fd);
	return 0;
undo:
	bpf_map_delete_elem(o->disp_ports, &key);
	return ret;
}

/* Whether any interface still has a port on ifindex. */
static bool offload_disp_in_use(int ports, int ifindex)
{
	struct xwg_disp_key k, next, *prev = NULL;

	while (!bpf_map_get_next_key(ports, prev, &next)) {
		if ((int)next.ifindex == ifindex)
			return true;
		k = next;
		prev = &k;
	}
	return false;
}

/* Detaches the dispatcher from ifindex once nobody's port is on it. */
static void offload_disp_release(int ports, int ifindex)
{
	char path[224];
	int fd;

	if (offload_disp_in_use(ports, ifindex))
		return;
	offload_disp_link_path(path, sizeof(path), ifindex);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

/* Removes slot's ports (on ifindex only, or everywhere when ifindex is 0) and releases underlays. */
static void offload_disp_drop_ports(int ports, uint32_t slot, int ifindex)
{
	struct xwg_disp_key k, next, todo[XWG_DISP_MAX_PORTS], *prev = NULL;
	uint32_t v;
	int n = 0;

	while (n < XWG_DISP_MAX_PORTS && !bpf_map_get_next_key(ports, prev, &next)) {
		k = next;
		prev = &k;
		if ((!ifindex || (int)k.ifindex == ifindex) && !bpf_map_lookup_elem(ports, &k, &v) && v == slot)
			todo[n++] = k;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(ports, &todo[i]);
	for (int i = 0; i < n; i++)
		offload_disp_release(ports, (int)todo[i].ifindex);
}

void offload_disp_detach(struct offload *o, int ifindex)
{
	if (o->disp_slot >= 0)
		offload_disp_drop_ports(o->disp_ports, (uint32_t)o->disp_slot, ifindex);
}

/* The last one out unpins the dispatcher and its maps. */
static void offload_disp_teardown_if_empty(int ports)
{
	struct xwg_disp_key k;
	char dir[160], path[224];

	if (!bpf_map_get_next_key(ports, NULL, &k))
		return;
	offload_disp_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/prog", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/progs", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ports", dir);
	unlink(path);
	rmdir(dir);
}

/* Leaves the dispatcher: ports, slot, and the dispatcher itself if we were the last. */
static void offload_disp_leave_fds(int ports, int progs, int rec_fd)
{
	uint32_t slot;

	if (offload_rec_get(rec_fd, OFFLOAD_REC_DISP_SLOT, 0, &slot, NULL))
		return;
	offload_disp_drop_ports(ports, slot, 0);
	bpf_map_delete_elem(progs, &slot);
	offload_rec_del(rec_fd, OFFLOAD_REC_DISP_SLOT, 0);
	offload_disp_teardown_if_empty(ports);
}

void offload_disp_leave_stale(int rec_fd);

void offload_disp_leave(struct offload *o)
{
	if (o->disp_ports >= 0)
		offload_disp_leave_fds(o->disp_ports, o->disp_progs, o->rec_fd);
	else
		offload_disp_leave_stale(o->rec_fd);	/* a predecessor's slot this agent did not join */
	o->disp_slot = -1;
	offload_disp_close(o);
}

/* After a dead agent: the same, from the shared pins and the dead agent's record. */
void offload_disp_leave_stale(int rec_fd)
{
	struct offload o = { .disp_slot = -1, .disp_ports = -1, .disp_progs = -1, .disp_prog = -1 };
	char dir[160];

	offload_disp_dir(dir, sizeof(dir));
	if (rec_fd < 0 || offload_disp_open_at(&o, dir))
		return;
	offload_disp_leave_fds(o.disp_ports, o.disp_progs, rec_fd);
	offload_disp_close(&o);
}

/* A restarted agent: ports its predecessor had on underlays this one no longer uses. */
void offload_disp_prune(struct offload *o, bool (*keep)(void *, int), void *ctx)
{
	struct xwg_disp_key k, next, todo[XWG_DISP_MAX_PORTS], *prev = NULL;
	uint32_t v;
	int n = 0;

	if (o->disp_slot < 0)
		return;
	while (n < XWG_DISP_MAX_PORTS && !bpf_map_get_next_key(o->disp_ports, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(o->disp_ports, &k, &v) && v == (uint32_t)o->disp_slot &&
		    !keep(ctx, (int)k.ifindex))
			todo[n++] = k;
	}
	for (int i = 0; i < n; i++)
		offload_disp_drop_ports(o->disp_ports, (uint32_t)o->disp_slot, (int)todo[i].ifindex);
}

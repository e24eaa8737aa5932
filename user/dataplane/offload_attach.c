/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching the programs: XDP/TC receive on the underlays, TC transmit on the tunnel, and their settings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netlink.h"
#include "offload_internal.h"

#define OFFLOAD_TC_HANDLE 0x7767
#define OFFLOAD_TC_PRIO 1

static int offload_tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST)
		return ret;
	return bpf_tc_attach(&hook, &opts);
}

static void offload_tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO);

	bpf_tc_detach(&hook, &opts);
}

static uint32_t offload_xdp_flags(enum offload_mode mode)
{
	return mode == OFFLOAD_XDP ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

/* Receive side on one underlay interface, in the given mode. */
static int offload_attach_one(struct offload *o, int ifindex, enum offload_mode mode)
{
	int ret;

	if (mode == OFFLOAD_TC) {
		struct bpf_program *full = bpf_object__find_program_by_name(o->rx->obj, "xwg_rx_tc_full");

		if (!full)
			return -EOPNOTSUPP;
		return offload_tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(full));
	}
	ret = bpf_xdp_attach(ifindex, bpf_program__fd(o->rx->progs.xwg_rx), offload_xdp_flags(mode), NULL);
	if (ret)
		return ret;
	ret = offload_tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(o->rx->progs.xwg_rx_tc));
	if (ret)
		bpf_xdp_detach(ifindex, offload_xdp_flags(mode), NULL);
	return ret;
}

static void offload_detach_one(struct offload *o, int ifindex)
{
	if (o->mode != OFFLOAD_TC)
		bpf_xdp_detach(ifindex, offload_xdp_flags(o->mode), NULL);
	offload_tc_detach(ifindex, BPF_TC_INGRESS);
}

/* Underlays by default: every interface that is up, not loopback and not a tunnel of ours. */
static bool offload_is_underlay(struct xwg_device *dev, int ifindex, const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	if (ifindex == dev->ifindex)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	return ret == 0 && (ifr.ifr_flags & IFF_UP) && !(ifr.ifr_flags & (IFF_LOOPBACK | IFF_POINTOPOINT));
}

static int offload_ethtool(const char *ifname, void *data)
{
	struct ifreq ifr = { .ifr_data = data };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * TCP hands xwg_tx CHECKSUM_PARTIAL skbs and xwg_tx lays them out so the completion lands on the
 * outer UDP checksum. A NIC does that completion; veth does not, it passes the skb to the peer's
 * stack still PARTIAL with csum_start ahead of the UDP header, and the IPv6 UDP receive path then
 * verifies the unfinished checksum and drops the packet (seen against wireguard-go). Making the
 * kernel finish the checksum before veth transmits avoids that. Returns true if we changed it.
 */
static bool offload_veth_csum_off(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_value val = { .cmd = ETHTOOL_GTXCSUM };

	if (offload_ethtool(ifname, &info) || strcmp(info.driver, "veth"))
		return false;
	if (offload_ethtool(ifname, &val) || !val.data)
		return false;
	val = (struct ethtool_value){ .cmd = ETHTOOL_STXCSUM, .data = 0 };
	return offload_ethtool(ifname, &val) == 0;
}

/* Detaches underlay i, restores its checksum offload, and moves the last entry into its place. */
static void offload_remove_underlay(struct offload *o, int i)
{
	struct ethtool_value val = { .cmd = ETHTOOL_STXCSUM, .data = 1 };
	int last = --o->n_underlay;

	offload_detach_one(o, o->underlay[i]);
	if (o->underlay_csum_off[i])
		offload_ethtool(o->underlay_name[i], &val);
	o->underlay[i] = o->underlay[last];
	o->underlay_csum_off[i] = o->underlay_csum_off[last];
	memmove(o->underlay_name[i], o->underlay_name[last], IF_NAMESIZE);
}

static void offload_detach_underlays(struct offload *o)
{
	while (o->n_underlay)
		offload_remove_underlay(o, o->n_underlay - 1);
}

static int offload_add_underlay(struct offload *o, int ifindex, const char *name)
{
	int ret;

	if (o->n_underlay == OFFLOAD_MAX_UNDERLAY)
		return -ENOSPC;
	ret = offload_attach_one(o, ifindex, o->mode);
	if (ret)
		return ret;
	o->underlay[o->n_underlay] = ifindex;
	snprintf(o->underlay_name[o->n_underlay], IF_NAMESIZE, "%s", name);
	o->underlay_csum_off[o->n_underlay] = offload_veth_csum_off(name);
	o->n_underlay++;
	return 0;
}

/* Tries one mode on every underlay; on failure leaves nothing attached and says why. */
static int offload_try_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int ret = 0;

	if (!ifs)
		return -errno;
	o->mode = mode;
	for (i = ifs; i->if_index && !ret; i++) {
		if (!offload_is_underlay(dev, (int)i->if_index, i->if_name))
			continue;
		ret = offload_add_underlay(o, (int)i->if_index, i->if_name);
		if (ret)
			snprintf(o->refused[mode], sizeof(o->refused[mode]), "%s: %s", i->if_name, strerror(-ret));
	}
	if_freenameindex(ifs);
	if (!ret && !o->n_underlay) {
		ret = -ENODEV;
		snprintf(o->refused[mode], sizeof(o->refused[mode]), "no underlay interface is up");
	}
	if (!ret)
		ret = offload_tc_attach(dev->ifindex, BPF_TC_EGRESS, bpf_program__fd(o->tx->progs.xwg_tx));
	if (ret) {
		if (!o->refused[mode][0])
			snprintf(o->refused[mode], sizeof(o->refused[mode]), "%s: %s", dev->ifname, strerror(-ret));
		offload_detach_underlays(o);
	}
	return ret;
}

int offload_attach_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode)
{
	int ret = offload_try_mode(dev, o, mode);

	if (ret)
		return ret;
	/* TCP would hand TC super-packets BPF cannot segment: ask it for single ones. */
	nl_link_set_gso_max_segs(dev->ifindex, 1);
	/* The tunnel must outlive a crashed agent, or BPF would forward into nothing. */
	ioctl(dev->tun_fd, TUNSETPERSIST, 1);
	return 0;
}

void offload_detach_all(struct xwg_device *dev, struct offload *o)
{
	offload_detach_underlays(o);
	offload_tc_detach(dev->ifindex, BPF_TC_EGRESS);
	if (dev->tun_fd >= 0)
		ioctl(dev->tun_fd, TUNSETPERSIST, 0);
}

int offload_attach(struct xwg_device *dev, const char *ifname)
{
	struct offload *o = offload_live(dev);
	int ifindex = (int)if_nametoindex(ifname);

	if (!o)
		return -EOPNOTSUPP;
	if (!ifindex)
		return -ENODEV;
	for (int i = 0; i < o->n_underlay; i++)
		if (o->underlay[i] == ifindex)
			return -EEXIST;
	return offload_add_underlay(o, ifindex, ifname);
}

int offload_detach(struct xwg_device *dev, const char *ifname)
{
	struct offload *o = offload_live(dev);
	int ifindex = (int)if_nametoindex(ifname);

	if (!o)
		return -EOPNOTSUPP;
	for (int i = 0; i < o->n_underlay; i++) {
		if (o->underlay[i] == ifindex) {
			offload_remove_underlay(o, i);
			return 0;
		}
	}
	return ifindex ? -ENOENT : -ENODEV;
}

int offload_underlay(const struct xwg_device *dev, const char *names[OFFLOAD_MAX_UNDERLAY])
{
	struct offload *o = dev->offload;

	if (!o)
		return 0;
	for (int i = 0; i < o->n_underlay; i++)
		names[i] = o->underlay_name[i];
	return o->n_underlay;
}

static bool offload_prog_is(uint32_t id, const char *name)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool match;

	if (fd < 0)
		return false;
	match = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strncmp(info.name, name, sizeof(info.name));
	close(fd);
	return match;
}

void offload_detach_stale(int tun_ifindex)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	for (i = ifs; i && i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)i->if_index, .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO);
		uint32_t id = 0;

		if ((int)i->if_index == tun_ifindex)
			continue;
		if (!bpf_xdp_query_id((int)i->if_index, 0, &id) && id && offload_prog_is(id, "xwg_rx"))
			bpf_xdp_detach((int)i->if_index, 0, NULL);
		if (!bpf_tc_query(&hook, &opts) && (offload_prog_is(opts.prog_id, "xwg_rx_tc") ||
						    offload_prog_is(opts.prog_id, "xwg_rx_tc_full"))) {
			opts.prog_id = 0;
			bpf_tc_detach(&hook, &opts);
		}
	}
	if (ifs)
		if_freenameindex(ifs);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF fast path seen from the agent: load, pin, attach, mirror peers/keys/prefixes, read it back. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/if_tun.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "device.h"
#include "netlink.h"
#include "offload.h"
#include "timers.h"
#include "xwg_maps.h"
#include "rx.skel.h"
#include "tx.skel.h"
#include "ctl.skel.h"

#define OFFLOAD_TC_HANDLE 0x7767
#define OFFLOAD_TC_PRIO 1
#define OFFLOAD_MODES (OFFLOAD_XDP + 1)
/* Timer granularity for BPF traffic; the protocol's timers are seconds. */
#define OFFLOAD_POLL_NS (100ULL * 1000000ULL)

struct offload_prefix {
	uint8_t family, cidr;
	uint8_t addr[16];
	uint32_t id;
};

struct offload {
	enum offload_mode mode;
	char refused[OFFLOAD_MODES][160];
	struct rx_bpf *rx;
	struct tx_bpf *tx;
	struct ctl_bpf *ctl;
	struct ring_buffer *events;
	int underlay[OFFLOAD_MAX_UNDERLAY];
	bool underlay_csum_off[OFFLOAD_MAX_UNDERLAY];	/* we turned veth TX checksumming off */
	char underlay_name[OFFLOAD_MAX_UNDERLAY][IF_NAMESIZE];
	int n_underlay;
	char pin_dir[96];
	struct peer *by_id[XWG_MAX_PEERS];
	struct offload_prefix *prefixes;	/* what the LPM maps hold, sorted */
	size_t n_prefixes;
	int ncpus;
	uint64_t last_poll_ns;
};

static const char *const offload_mode_names[] = {
	[OFFLOAD_TUN] = "tun", [OFFLOAD_TC] = "tc", [OFFLOAD_XDP_GENERIC] = "xdp-generic",
	[OFFLOAD_XDP] = "xdp", [OFFLOAD_AUTO] = "auto",
};

int offload_mode_parse(const char *s, enum offload_mode *mode)
{
	for (int m = OFFLOAD_TUN; m <= OFFLOAD_AUTO; m++)
		if (!strcmp(s, offload_mode_names[m])) {
			*mode = m;
			return 0;
		}
	return -EINVAL;
}

const char *offload_mode_name(enum offload_mode mode)
{
	return mode <= OFFLOAD_AUTO ? offload_mode_names[mode] : "unknown";
}

enum offload_mode offload_active_mode(const struct xwg_device *dev)
{
	return dev->offload ? dev->offload->mode : OFFLOAD_TUN;
}

static char offload_no_refusal[1];

const char *offload_refused(const struct xwg_device *dev, enum offload_mode mode)
{
	if (!dev->offload || mode >= OFFLOAD_MODES)
		return offload_no_refusal;
	return dev->offload->refused[mode];
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

/* ---- loading and pinning */

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

static int offload_mount_bpffs(void)
{
	if (offload_pin_root())
		return 0;
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return offload_pin_root() ? 0 : -ENOTSUP;
}

/* Later objects use the first object's maps, so every program sees one state. */
static int offload_share_maps(struct bpf_object *from, struct bpf_object *to)
{
	struct bpf_map *map, *src;

	bpf_object__for_each_map(map, to) {
		if (strncmp(bpf_map__name(map), "xwg_", 4))
			continue;
		src = bpf_object__find_map_by_name(from, bpf_map__name(map));
		if (src && bpf_map__reuse_fd(map, bpf_map__fd(src)) < 0)
			return -errno;
	}
	return 0;
}

static void offload_unpin(struct offload *o)
{
	struct bpf_map *map;
	char path[160];

	if (!o->rx || !o->pin_dir[0])
		return;
	bpf_object__for_each_map(map, o->rx->obj) {
		if (strncmp(bpf_map__name(map), "xwg_", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->pin_dir, bpf_map__name(map));
		unlink(path);
	}
	rmdir(o->pin_dir);
	rmdir(offload_pin_root());	/* only succeeds when no other interface uses it */
}

/* Pinned, BTF-typed maps let `bpftool map dump pinned` show the state; 0600 since they hold keys. */
static int offload_pin(struct offload *o, const char *ifname)
{
	struct bpf_map *map;
	char path[160];

	snprintf(o->pin_dir, sizeof(o->pin_dir), "%s/%s", offload_pin_root(), ifname);
	mkdir(offload_pin_root(), 0700);
	if (mkdir(o->pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, o->rx->obj) {
		if (strncmp(bpf_map__name(map), "xwg_", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", o->pin_dir, bpf_map__name(map));
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
		if (strncmp(bpf_map__name(map), "xwg_", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", offload_pin_root(), ifname, bpf_map__name(map));
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

static int offload_load(struct offload *o, const char *ifname, bool *adopted)
{
	int ret;

	o->rx = rx_bpf__open();
	if (!o->rx)
		return -errno;
	ret = offload_reuse_pins(o, ifname, adopted);
	if (ret)
		return ret;
	if (rx_bpf__load(o->rx))
		return -errno;
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

/* ---- attaching */

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

static void offload_veth_csum_restore(int i, struct offload *o)
{
	struct ethtool_value val = { .cmd = ETHTOOL_STXCSUM, .data = 1 };

	if (o->underlay_csum_off[i])
		offload_ethtool(o->underlay_name[i], &val);
	o->underlay_csum_off[i] = false;
}

static void offload_detach_all(struct offload *o)
{
	while (o->n_underlay) {
		o->n_underlay--;
		offload_detach_one(o, o->underlay[o->n_underlay]);
		offload_veth_csum_restore(o->n_underlay, o);
	}
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
		offload_detach_all(o);
	}
	return ret;
}

static void offload_write_config(struct xwg_device *dev, struct offload *o)
{
	struct xwg_dev_config cfg = {
		.tun_ifindex = (uint32_t)dev->ifindex,
		.flags = XWG_CFG_F_RX | XWG_CFG_F_TX,
		.listen_port = htons(dev->listen_port),
		.mtu = (uint16_t)dev->mtu,
		.fwmark = dev->fwmark,
	};
	uint32_t zero = 0;

	bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_config), &zero, &cfg, BPF_ANY);
}

static int offload_handle_event(void *ctx, void *data, size_t len);
static void offload_adopt(struct xwg_device *dev, struct offload *o);

static void offload_free(struct offload *o)
{
	ring_buffer__free(o->events);
	ctl_bpf__destroy(o->ctl);
	tx_bpf__destroy(o->tx);
	rx_bpf__destroy(o->rx);
	free(o->prefixes);
	free(o);
}

int offload_start(struct xwg_device *dev, enum offload_mode requested)
{
	/*
	 * xdp-generic is left out of auto: TCP sessions through it break now and then (see README,
	 * "Known issues"); it stays available when asked for by name.
	 */
	static const enum offload_mode auto_order[] = { OFFLOAD_XDP, OFFLOAD_TC };
	static const enum offload_mode explicit_order[] = { OFFLOAD_XDP, OFFLOAD_XDP_GENERIC, OFFLOAD_TC };
	const enum offload_mode *order = requested == OFFLOAD_AUTO ? auto_order : explicit_order;
	size_t n_order = requested == OFFLOAD_AUTO ? 2 : 3;
	struct offload *o;
	bool adopted = false;
	int ret;

	if (requested == OFFLOAD_TUN)
		return 0;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	libbpf_set_print(offload_libbpf_print);
	o->ncpus = libbpf_num_possible_cpus();
	ret = offload_mount_bpffs();
	if (!ret)
		ret = offload_load(o, dev->ifname, &adopted);
	if (!ret)
		ret = offload_pin(o, dev->ifname);
	if (ret) {
		/* No BPF here at all: every mode is refused for the same reason. */
		for (int m = OFFLOAD_TC; m < OFFLOAD_MODES; m++)
			snprintf(o->refused[m], sizeof(o->refused[m]), "cannot load BPF programs: %s", strerror(-ret));
		goto fallback;
	}
	dev->offload = o;
	if (adopted)
		offload_adopt(dev, o);
	offload_write_config(dev, o);
	offload_sync(dev);
	for (size_t i = 0; i < n_order; i++) {
		if (requested != OFFLOAD_AUTO && requested != order[i])
			continue;
		if (offload_try_mode(dev, o, order[i]) == 0) {
			/* TCP would hand TC super-packets BPF cannot segment: ask it for single ones. */
			nl_link_set_gso_max_segs(dev->ifindex, 1);
			/* The tunnel must outlive a crashed agent, or BPF would forward into nothing. */
			ioctl(dev->tun_fd, TUNSETPERSIST, 1);
			o->events = ring_buffer__new(bpf_map__fd(o->rx->maps.xwg_events), offload_handle_event, dev, NULL);
			return 0;
		}
	}
	dev->offload = NULL;
	/* Keep only the reasons: the agent reports them, and tun mode needs no BPF. */
fallback:
	offload_unpin(o);
	{
		struct offload *keep = calloc(1, sizeof(*keep));

		if (keep) {
			memcpy(keep->refused, o->refused, sizeof(keep->refused));
			keep->mode = OFFLOAD_TUN;
		}
		offload_free(o);
		/* A refusal record without programs: every mirror function checks for rx. */
		dev->offload = keep;
	}
	return 0;
}

void offload_stop(struct xwg_device *dev)
{
	struct offload *o = dev->offload;

	if (!o)
		return;
	if (o->rx) {
		offload_detach_all(o);
		offload_tc_detach(dev->ifindex, BPF_TC_EGRESS);
		offload_unpin(o);
		if (dev->tun_fd >= 0)
			ioctl(dev->tun_fd, TUNSETPERSIST, 0);
	}
	dev->offload = NULL;
	offload_free(o);
}

static struct offload *offload_live(const struct xwg_device *dev)
{
	return dev->offload && dev->offload->rx ? dev->offload : NULL;
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
		if (o->underlay[i] != ifindex)
			continue;
		offload_detach_one(o, ifindex);
		offload_veth_csum_restore(i, o);
		o->n_underlay--;
		o->underlay[i] = o->underlay[o->n_underlay];
		o->underlay_csum_off[i] = o->underlay_csum_off[o->n_underlay];
		memcpy(o->underlay_name[i], o->underlay_name[o->n_underlay], IF_NAMESIZE);
		return 0;
	}
	return ifindex ? -ENOENT : -ENODEV;
}

/* ---- mirroring agent state */

static void offload_endpoint_to_map(const struct endpoint *ep, struct xwg_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (ep->addr.sa.sa_family == AF_INET) {
		out->family = XWG_AF_INET;
		memcpy(out->addr, &ep->addr.in4.sin_addr, 4);
		out->port = ep->addr.in4.sin_port;
		if (ep->src_valid)
			memcpy(out->local, &ep->src4, 4);
	} else if (ep->addr.sa.sa_family == AF_INET6) {
		out->family = XWG_AF_INET6;
		memcpy(out->addr, &ep->addr.in6.sin6_addr, 16);
		out->port = ep->addr.in6.sin6_port;
		if (ep->src_valid)
			memcpy(out->local, &ep->src6, 16);
	}
	if (ep->src_valid)
		out->ifindex = (uint32_t)ep->src_ifindex;
}

static int offload_peer_id(struct offload *o, struct peer *peer)
{
	if (peer->offload_id >= 0)
		return peer->offload_id;
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		if (!o->by_id[id]) {
			o->by_id[id] = peer;
			peer->offload_id = id;
			return id;
		}
	return -ENOSPC;
}

void offload_peer_sync(struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	struct noise_keypair *kp = peer->keypairs.current_keypair;
	struct xwg_peer val = { 0 };
	int id;

	if (!o || (id = offload_peer_id(o, peer)) < 0)
		return;
	offload_endpoint_to_map(&peer->endpoint, &val.endpoint);
	val.keepalive_interval = peer->persistent_keepalive_interval;
	/* BPF sends only with a keypair the agent still considers good for sending. */
	if (kp && kp->offloaded && kp->sending_valid) {
		val.flags |= XWG_PEER_F_HAS_CURRENT;
		val.current_index = kp->local_index;
	}
	memcpy(val.public_key, peer->public_key, sizeof(val.public_key));
	val.last_handshake_sec = (uint64_t)peer->last_handshake.tv_sec;
	val.last_handshake_nsec = (uint64_t)peer->last_handshake.tv_nsec;
	bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id, &val, BPF_ANY);
}

void offload_peer_remove(struct peer *peer)
{
	struct offload *o = offload_live(peer->dev);
	struct xwg_peer_stats *zero;
	uint32_t id;

	if (!o || peer->offload_id < 0)
		return;
	id = (uint32_t)peer->offload_id;
	bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id);
	zero = calloc((size_t)o->ncpus, sizeof(*zero));
	if (zero) {
		bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_stats), &id, zero, BPF_ANY);
		free(zero);
	}
	o->by_id[id] = NULL;
	peer->offload_id = -1;
}

void offload_keypair_add(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);
	struct xwg_keypair val;

	if (!o || offload_peer_id(o, kp->peer) < 0)
		return;
	memset(&val, 0, sizeof(val));
	memcpy(val.recv_key, kp->recv_key, sizeof(val.recv_key));
	memcpy(val.send_key, kp->send_key, sizeof(val.send_key));
	val.birthdate_ns = kp->birthdate;
	val.send_counter = kp->send_counter;
	val.remote_index = kp->remote_index;
	val.peer_id = (uint32_t)kp->peer->offload_id;
	val.flags = XWG_KP_F_RECV_VALID | XWG_KP_F_SEND_VALID | (kp->i_am_the_initiator ? XWG_KP_F_INITIATOR : 0);
	/* The initiator's keypair is confirmed by the response the agent just consumed: no event needed. */
	val.state = kp->i_am_the_initiator ? XWG_KP_S_CONFIRMED : 0;
	replay_counter_init(&val.replay);
	if (bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index, &val, BPF_ANY) == 0)
		kp->offloaded = true;
	memset(&val, 0, sizeof(val));
}

void offload_keypair_remove(struct noise_keypair *kp)
{
	struct offload *o = offload_live(kp->peer->dev);

	if (o)
		bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_keypairs), &kp->local_index);
	kp->offloaded = false;
}

static int offload_ctl(struct offload *o, uint32_t op, uint32_t index, uint64_t arg, uint64_t *result)
{
	struct xwg_ctl_req req = { .op = op, .index = index, .arg = arg };
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = &req, .data_size_in = sizeof(req),
			    .data_out = &req, .data_size_out = sizeof(req), .repeat = 1);

	if (bpf_prog_test_run_opts(bpf_program__fd(o->ctl->progs.xwg_ctl), &run) < 0)
		return -errno;
	if (req.err)
		return req.err;
	*result = req.result;
	return 0;
}

int offload_reserve_counter(struct noise_keypair *kp, uint64_t *counter)
{
	struct offload *o = offload_live(kp->peer->dev);

	if (!o || !kp->offloaded)
		return -ENOENT;
	return offload_ctl(o, XWG_CTL_RESERVE, kp->local_index, 1, counter);
}

int offload_replay_check(struct noise_keypair *kp, uint64_t counter)
{
	struct offload *o = offload_live(kp->peer->dev);
	uint64_t fresh;
	int ret;

	if (!o || !kp->offloaded)
		return -ENOENT;
	ret = offload_ctl(o, XWG_CTL_REPLAY, kp->local_index, counter, &fresh);
	return ret < 0 ? ret : fresh != 0;
}

/* ---- allowed IPs: the LPM tries follow the agent's table, update-before-delete so no gap opens */

struct offload_collect {
	struct offload_prefix *v;
	size_t n, cap;
	uint32_t id;
};

static int offload_collect_prefix(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct offload_collect *c = ctx;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct offload_prefix *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	c->v[c->n].family = family == AF_INET ? 4 : 6;
	c->v[c->n].cidr = cidr;
	memcpy(c->v[c->n].addr, addr, family == AF_INET ? 4 : 16);
	c->v[c->n].id = c->id;
	c->n++;
	return 0;
}

static int offload_prefix_cmp(const void *a, const void *b)
{
	const struct offload_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->cidr != y->cidr)
		return x->cidr - y->cidr;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void offload_lpm_write(struct offload *o, const struct offload_prefix *p, bool del)
{
	if (p->family == 4) {
		struct xwg_lpm4_key k = { .prefixlen = p->cidr };

		memcpy(k.addr, p->addr, 4);
		if (del)
			bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_allowedips4), &k);
		else
			bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_allowedips4), &k, &p->id, BPF_ANY);
	} else {
		struct xwg_lpm6_key k = { .prefixlen = p->cidr };

		memcpy(k.addr, p->addr, 16);
		if (del)
			bpf_map_delete_elem(bpf_map__fd(o->rx->maps.xwg_allowedips6), &k);
		else
			bpf_map_update_elem(bpf_map__fd(o->rx->maps.xwg_allowedips6), &k, &p->id, BPF_ANY);
	}
}

static void offload_sync_allowedips(struct xwg_device *dev, struct offload *o)
{
	struct offload_collect c = { 0 };
	size_t i, j;

	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		if (offload_peer_id(o, p) < 0)
			continue;
		c.id = (uint32_t)p->offload_id;
		if (allowedips_walk_by_peer(&dev->allowedips, p, offload_collect_prefix, &c) < 0) {
			free(c.v);
			return;
		}
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), offload_prefix_cmp);
	for (i = 0; i < c.n; i++)
		offload_lpm_write(o, &c.v[i], false);
	/* Both lists are sorted: walk them together to find prefixes that went away. */
	for (i = 0, j = 0; i < o->n_prefixes; i++) {
		while (j < c.n && offload_prefix_cmp(&c.v[j], &o->prefixes[i]) < 0)
			j++;
		if (j == c.n || offload_prefix_cmp(&c.v[j], &o->prefixes[i]))
			offload_lpm_write(o, &o->prefixes[i], true);
	}
	free(o->prefixes);
	o->prefixes = c.v;
	o->n_prefixes = c.n;
}

/* Full resync after configuration changes (UAPI set, start): peers, keypairs, prefixes. */
void offload_sync(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o)
		return;
	offload_write_config(dev, o);
	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		struct noise_keypair *kps[] = { p->keypairs.previous_keypair, p->keypairs.current_keypair,
						p->keypairs.next_keypair };

		for (int i = 0; i < 3; i++)
			if (kps[i] && !kps[i]->offloaded)
				offload_keypair_add(kps[i]);
		offload_peer_sync(p);
	}
	offload_sync_allowedips(dev, o);
}

/* ---- reading back */

int offload_peer_stats(struct peer *peer, struct offload_peer_stats *st)
{
	struct offload *o = offload_live(peer->dev);
	struct xwg_peer_stats *v;
	uint32_t id;

	memset(st, 0, sizeof(*st));
	if (!o || peer->offload_id < 0)
		return 0;
	id = (uint32_t)peer->offload_id;
	v = calloc((size_t)o->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_stats), &id, v) == 0) {
		for (int c = 0; c < o->ncpus; c++) {
			st->rx_bytes += v[c].rx_bytes;
			st->rx_packets += v[c].rx_packets;
			st->tx_bytes += v[c].tx_bytes;
			st->tx_packets += v[c].tx_packets;
#define MAXF(f) if (v[c].f > st->f) st->f = v[c].f
			MAXF(last_rx_ns);
			MAXF(last_rx_data_ns);
			MAXF(last_tx_ns);
			MAXF(last_tx_data_ns);
#undef MAXF
		}
	}
	free(v);
	return 0;
}

int offload_reason_counts(struct xwg_device *dev, uint64_t *counts)
{
	struct offload *o = offload_live(dev);
	uint64_t *v;

	memset(counts, 0, sizeof(*counts) * XWG_R_MAX);
	if (!o)
		return 0;
	v = calloc((size_t)o->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t r = 0; r < XWG_R_MAX; r++) {
		if (bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_reasons), &r, v))
			continue;
		for (int c = 0; c < o->ncpus; c++)
			counts[r] += v[c];
	}
	free(v);
	return 0;
}

int offload_events_fd(const struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	return o && o->events ? ring_buffer__epoll_fd(o->events) : -1;
}

static void offload_endpoint_from_map(struct peer *peer, const struct xwg_endpoint *in)
{
	struct endpoint *ep = &peer->endpoint;

	memset(ep, 0, sizeof(*ep));
	if (in->family == XWG_AF_INET) {
		ep->addr.in4.sin_family = AF_INET;
		ep->addr.in4.sin_port = in->port;
		memcpy(&ep->addr.in4.sin_addr, in->addr, 4);
		memcpy(&ep->src4, in->local, 4);
	} else {
		ep->addr.in6.sin6_family = AF_INET6;
		ep->addr.in6.sin6_port = in->port;
		memcpy(&ep->addr.in6.sin6_addr, in->addr, 16);
		memcpy(&ep->src6, in->local, 16);
	}
	ep->src_ifindex = (int)in->ifindex;
	ep->src_valid = true;
}


static bool offload_addr_is_local(const struct ifaddrs *ifs, const struct endpoint *ep)
{
	for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		const struct sockaddr *a = i->ifa_addr;

		if (!a || a->sa_family != ep->addr.sa.sa_family)
			continue;
		if (a->sa_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)a)->sin_addr, &ep->src4, sizeof(ep->src4)))
			return true;
		if (a->sa_family == AF_INET6 &&
		    !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &ep->src6, sizeof(ep->src6)))
			return true;
	}
	return false;
}

/*
 * BPF writes the cached source address into every packet, so nothing notices when it is removed
 * (the socket path learns it from sendmsg errors). Drop a source that is no longer ours, for one
 * peer or (only NULL) all: the agent then sends through routing, the peer sees the new address,
 * and BPF learns it back from the peer's next packet (a roaming event).
 */
static void offload_drop_stale_sources(struct xwg_device *dev, struct peer *only)
{
	struct ifaddrs *ifs;

	if (getifaddrs(&ifs) < 0)
		return;
	for (struct peer *p = only ? only : dev->peers; p; p = only ? NULL : p->next_peer) {
		if (!p->endpoint.src_valid || offload_addr_is_local(ifs, &p->endpoint))
			continue;
		p->endpoint.src_valid = false;
		offload_peer_sync(p);
	}
	freeifaddrs(ifs);
}

static int offload_handle_event(void *ctx, void *data, size_t len)
{
	struct xwg_device *dev = ctx;
	struct offload *o = offload_live(dev);
	const struct xwg_event *e = data;
	struct index_entry *entry;
	struct peer *peer;

	if (!o || len < sizeof(*e) || e->peer_id >= XWG_MAX_PEERS || !(peer = o->by_id[e->peer_id]))
		return 0;
	switch (e->type) {
	case XWG_EV_ROAMED:
		offload_endpoint_from_map(peer, &e->endpoint);
		/*
		 * XDP does not care which of our addresses a packet was sent to: the peer may still be
		 * using one we just removed. Never adopt that as the source for our replies.
		 */
		offload_drop_stale_sources(dev, peer);
		offload_peer_sync(peer);
		break;
	case XWG_EV_KEYPAIR_CONFIRMED:
		entry = index_table_lookup(&dev->index_table, e->index, INDEX_KEYPAIR);
		if (entry && entry->peer == peer && noise_received_with_keypair(peer, entry->keypair)) {
			timers_handshake_complete(peer);
			send_staged_packets(peer);
		}
		break;
	case XWG_EV_REKEY_NEEDED:
	case XWG_EV_HANDSHAKE_NEEDED:
		send_handshake_initiation(peer, false);
		break;
	}
	return 0;
}

/* BPF moves packets without the agent seeing them: replay its activity into the timer hooks. */
static void offload_poll_timers(struct peer *peer)
{
	struct offload_peer_stats st;

	if (offload_peer_stats(peer, &st) < 0)
		return;
	if (st.last_rx_ns > peer->offload_seen_rx) {
		peer->offload_seen_rx = st.last_rx_ns;
		timers_any_authenticated_packet_received(peer);
		timers_any_authenticated_packet_traversal(peer);
	}
	if (st.last_rx_data_ns > peer->offload_seen_rx_data) {
		peer->offload_seen_rx_data = st.last_rx_data_ns;
		timers_data_received(peer);
	}
	if (st.last_tx_ns > peer->offload_seen_tx) {
		peer->offload_seen_tx = st.last_tx_ns;
		timers_any_authenticated_packet_sent(peer);
		timers_any_authenticated_packet_traversal(peer);
	}
	if (st.last_tx_data_ns > peer->offload_seen_tx_data) {
		peer->offload_seen_tx_data = st.last_tx_data_ns;
		timers_data_sent(peer);
	}
}



void offload_poll(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o)
		return;
	if (o->events)
		ring_buffer__consume(o->events);
	if (now_ns() - o->last_poll_ns < OFFLOAD_POLL_NS)
		return;
	o->last_poll_ns = now_ns();
	offload_drop_stale_sources(dev, NULL);
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		offload_poll_timers(p);
}

/* ---- adopting what a previous agent left pinned */

static void offload_adopt_peers(struct xwg_device *dev, struct offload *o)
{
	int fd = bpf_map__fd(o->rx->maps.xwg_peers);
	uint32_t id, next, *key = NULL;
	struct xwg_peer val;
	struct peer *peer;

	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		id = next;
		key = &id;
		if (bpf_map_lookup_elem(fd, &id, &val) || id >= XWG_MAX_PEERS)
			continue;
		peer = device_lookup_peer(dev, val.public_key);
		if (!peer || peer->offload_id >= 0)
			continue;	/* gone from the configuration: the resync deletes it */
		peer->offload_id = (int)id;
		o->by_id[id] = peer;
		peer->last_handshake.tv_sec = (time_t)val.last_handshake_sec;
		peer->last_handshake.tv_nsec = (long)val.last_handshake_nsec;
		if (val.endpoint.family)
			offload_endpoint_from_map(peer, &val.endpoint);
	}
}

/* Rebuilds previous/current/next from the pinned keypairs, keeping their indices and counters. */
static void offload_adopt_keypair(struct xwg_device *dev, struct offload *o, uint32_t index,
				  const struct xwg_keypair *val)
{
	struct peer *peer = val->peer_id < XWG_MAX_PEERS ? o->by_id[val->peer_id] : NULL;
	struct noise_keypairs *kps;
	struct noise_keypair *kp;
	struct xwg_peer pv;
	uint32_t id;

	if (!peer)
		return;
	kp = calloc(1, sizeof(*kp));
	if (!kp)
		return;
	memcpy(kp->send_key, val->send_key, sizeof(kp->send_key));
	memcpy(kp->recv_key, val->recv_key, sizeof(kp->recv_key));
	kp->birthdate = val->birthdate_ns;
	kp->remote_index = val->remote_index;
	kp->local_index = index;
	kp->i_am_the_initiator = val->flags & XWG_KP_F_INITIATOR;
	kp->sending_valid = val->flags & XWG_KP_F_SEND_VALID;
	kp->receiving_valid = val->flags & XWG_KP_F_RECV_VALID;
	kp->peer = peer;
	kp->offloaded = true;
	replay_counter_init(&kp->replay);
	if (index_table_insert_at(&dev->index_table, index, INDEX_KEYPAIR, peer, kp)) {
		free(kp);
		return;
	}
	kps = &peer->keypairs;
	id = (uint32_t)peer->offload_id;
	if (!bpf_map_lookup_elem(bpf_map__fd(o->rx->maps.xwg_peers), &id, &pv) &&
	    (pv.flags & XWG_PEER_F_HAS_CURRENT) && pv.current_index == index && !kps->current_keypair)
		kps->current_keypair = kp;
	else if (!(val->state & XWG_KP_S_CONFIRMED) && !kps->next_keypair)
		kps->next_keypair = kp;
	else if (!kps->previous_keypair)
		kps->previous_keypair = kp;
	else
		index_table_remove(&dev->index_table, index), free(kp);
}

static void offload_adopt(struct xwg_device *dev, struct offload *o)
{
	int fd = bpf_map__fd(o->rx->maps.xwg_keypairs);
	uint32_t index, next, *key = NULL;
	struct xwg_keypair val;

	offload_adopt_peers(dev, o);
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if (!bpf_map_lookup_elem(fd, &index, &val))
			offload_adopt_keypair(dev, o, index, &val);
	}
	memset(&val, 0, sizeof(val));
	/* Keypairs of peers that are gone, and the peers themselves, leave the maps now. */
	key = NULL;
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if (!index_table_lookup(&dev->index_table, index, INDEX_KEYPAIR) &&
		    !bpf_map_delete_elem(fd, &index))
			key = NULL;
	}
	fd = bpf_map__fd(o->rx->maps.xwg_peers);
	key = NULL;
	while (bpf_map_get_next_key(fd, key, &next) == 0) {
		index = next;
		key = &index;
		if ((index >= XWG_MAX_PEERS || !o->by_id[index]) && !bpf_map_delete_elem(fd, &index))
			key = NULL;
	}
}

bool offload_has_pins(const char *ifname)
{
	const char *root = offload_pin_root();
	char path[160];
	struct stat st;

	if (!root)
		return false;
	snprintf(path, sizeof(path), "%s/%s/xwg_keypairs", root, ifname);
	return stat(path, &st) == 0;
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

/*
 * After an agent died (kill -9) its programs stay attached and its tunnel persists: `xwg down`
 * without an agent removes what carries our names. Returns 0 if anything was cleaned, else -ENOENT.
 */
int offload_cleanup_stale(const char *ifname)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int tun = (int)if_nametoindex(ifname), found = offload_has_pins(ifname);
	char path[160];
	struct bpf_map *map;
	struct rx_bpf *rx;

	for (i = ifs; i && i->if_index; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)i->if_index, .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = OFFLOAD_TC_HANDLE, .priority = OFFLOAD_TC_PRIO);
		uint32_t id = 0;

		if (!found || (int)i->if_index == tun)
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
	if (!found)
		return -ENOENT;
	if (tun)
		nl_link_delete(tun);
	/* The pin names are the rx object's map names: open it (no load) just to list them. */
	rx = rx_bpf__open();
	if (rx) {
		bpf_object__for_each_map(map, rx->obj) {
			snprintf(path, sizeof(path), "%s/%s/%s", offload_pin_root(), ifname, bpf_map__name(map));
			unlink(path);
		}
		rx_bpf__destroy(rx);
	}
	snprintf(path, sizeof(path), "%s/%s", offload_pin_root(), ifname);
	rmdir(path);
	rmdir(offload_pin_root());
	return 0;
}

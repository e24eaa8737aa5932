/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching the programs: which interfaces are underlays, receive there, transmit on the tunnel, and the host settings they need. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "netlink.h"
#include "peer.h"
#include "offload_internal.h"

static uint32_t offload_xdp_flags(enum offload_mode mode)
{
	return mode == OFFLOAD_XDP ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

static void offload_skip(struct offload *o, const char *name, const char *why)
{
	size_t off = strlen(o->skipped);

	snprintf(o->skipped + off, sizeof(o->skipped) - off, "%s%s: %s", off ? "; " : "", name, why);
	fprintf(stderr, "xwg: %s: not attaching to %s: %s\n", o->ifname, name, why);
}

/* An XDP program on ifindex that xwg did not attach (neither our link nor our recorded program). */
static uint32_t offload_foreign_xdp(struct offload *o, int ifindex)
{
	char path[192];
	uint32_t id = 0;
	int fd;

	if (bpf_xdp_query_id(ifindex, 0, &id) || !id || offload_disp_owns(ifindex))
		return 0;
	snprintf(path, sizeof(path), "%s/link-xdp-%d", o->pin_dir, ifindex);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (!offload_rec_get(o->rec_fd, OFFLOAD_REC_XDP_PROG, ifindex, NULL, NULL))
		return 0;
	return id;
}

/* Receive side on one underlay: TC before XDP, so no decrypted frame ever meets the underlay's stack. */
static int offload_attach_one(struct offload *o, int ifindex, enum offload_mode mode, char *why, size_t len)
{
	uint32_t foreign;
	int ret;

	if (mode == OFFLOAD_TC) {
		struct bpf_program *full = bpf_object__find_program_by_name(o->rx->obj, "xwg_rx_tc_full");

		ret = full ? offload_hook_attach(o, OFFLOAD_HOOK_TC_IN, ifindex, bpf_program__fd(full), 0) : -EOPNOTSUPP;
		if (ret)
			snprintf(why, len, "tc ingress: %s", strerror(-ret));
		return ret;
	}
	foreign = offload_foreign_xdp(o, ifindex);
	if (foreign) {
		snprintf(why, len, "another XDP program (id %u) is attached", foreign);
		return -EBUSY;
	}
	ret = offload_hook_attach(o, OFFLOAD_HOOK_TC_IN, ifindex, bpf_program__fd(o->rx->progs.xwg_rx_tc), 0);
	if (ret) {
		snprintf(why, len, "tc ingress: %s", strerror(-ret));
		return ret;
	}
	/* With links, through the namespace's dispatcher: other xwg interfaces share the device. */
	if (o->links)
		ret = offload_disp_attach(o, ifindex, o->listen_port, offload_xdp_flags(mode));
	else
		ret = offload_hook_attach(o, OFFLOAD_HOOK_XDP, ifindex, bpf_program__fd(o->rx->progs.xwg_rx),
					  offload_xdp_flags(mode));
	if (ret) {
		snprintf(why, len, "xdp: %s", strerror(-ret));
		offload_hook_detach(o, OFFLOAD_HOOK_TC_IN, ifindex);
	}
	return ret;
}

/* XDP off first, then TC, then the settings this interface got back. */
static void offload_detach_one(struct offload *o, int ifindex)
{
	offload_disp_detach(o, ifindex);
	offload_hook_detach(o, OFFLOAD_HOOK_XDP, ifindex);
	offload_hook_detach(o, OFFLOAD_HOOK_TC_IN, ifindex);
	offload_rec_restore(o->rec_fd, ifindex);
}

/*
 * TCP hands xwg_tx CHECKSUM_PARTIAL skbs and xwg_tx lays them out so the completion lands on the
 * outer UDP checksum. A NIC does that completion; veth does not, it passes the skb to the peer's
 * stack still PARTIAL with csum_start ahead of the UDP header, and the IPv6 UDP receive path then
 * verifies the unfinished checksum and drops the packet (seen against wireguard-go). Making the
 * kernel finish the checksum before veth transmits avoids that. Recorded first, so it is undone
 * after a kill -9 too.
 */
static void offload_veth_csum_off(struct offload *o, int ifindex)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ethtool_value val = { .cmd = ETHTOOL_GTXCSUM };

	if (offload_ethtool(ifindex, &info) || strcmp(info.driver, "veth"))
		return;
	if (offload_ethtool(ifindex, &val) || !val.data)
		return;
	if (offload_rec_add(o->rec_fd, OFFLOAD_REC_CSUM, ifindex, 1, 0))
		return;
	val = (struct ethtool_value){ .cmd = ETHTOOL_STXCSUM, .data = 0 };
	if (offload_ethtool(ifindex, &val))
		offload_rec_del(o->rec_fd, OFFLOAD_REC_CSUM, ifindex);
}

static int offload_find_underlay(const struct offload *o, int ifindex)
{
	for (int i = 0; i < o->n_underlay; i++)
		if (o->underlays[i].ifindex == ifindex)
			return i;
	return -1;
}

static void offload_remove_underlay(struct offload *o, int i)
{
	offload_detach_one(o, o->underlays[i].ifindex);
	o->underlays[i] = o->underlays[--o->n_underlay];
}

static void offload_detach_underlays(struct offload *o)
{
	while (o->n_underlay)
		offload_remove_underlay(o, o->n_underlay - 1);
}

/* Attaches to one more underlay; why says what went wrong. No cap: the list grows. */
static int offload_add_underlay(struct offload *o, int ifindex, char *why, size_t len)
{
	struct offload_underlay *u;
	int ret;

	if (o->n_underlay == o->cap_underlay) {
		int cap = o->cap_underlay ? 2 * o->cap_underlay : 8;

		u = realloc(o->underlays, (size_t)cap * sizeof(*u));
		if (!u) {
			snprintf(why, len, "%s", strerror(ENOMEM));
			return -ENOMEM;
		}
		o->underlays = u;
		o->cap_underlay = cap;
	}
	u = &o->underlays[o->n_underlay];
	if (!if_indextoname((unsigned int)ifindex, u->name)) {
		snprintf(why, len, "no such interface");
		return -ENODEV;
	}
	ret = offload_attach_one(o, ifindex, o->mode, why, len);
	if (ret)
		return ret;
	u->ifindex = ifindex;
	o->n_underlay++;
	offload_veth_csum_off(o, ifindex);
	return 0;
}

/* ---- which interfaces */

struct offload_cands {
	struct offload *o;
	int tun;
	int *idx;
	size_t n, cap;
};

static bool offload_if_usable(int ifindex)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	return ret == 0 && !(ifr.ifr_flags & IFF_LOOPBACK);
}

static void offload_cand_add(void *ctx, int ifindex)
{
	struct offload_cands *c = ctx;
	int *grown;

	if (ifindex <= 0 || ifindex == c->tun || !offload_if_usable(ifindex))
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->idx[i] == ifindex)
			return;
	if (c->n == c->cap) {
		grown = realloc(c->idx, (c->cap ? 2 * c->cap : 16) * sizeof(*grown));
		if (!grown)
			return;
		c->idx = grown;
		c->cap = c->cap ? 2 * c->cap : 16;
	}
	c->idx[c->n++] = ifindex;
}

/* Where a peer's packets arrive: the interface it was heard on, else the route to its endpoint. */
static void offload_cand_endpoint(struct xwg_device *dev, const struct endpoint *ep, struct offload_cands *c)
{
	struct nl_route_info route;

	if (ep->src_valid && ep->src_ifindex > 0) {
		offload_cand_add(c, ep->src_ifindex);
	} else if (ep->addr.sa.sa_family && !nl_route_get(&ep->addr.sa, NULL, dev->fwmark, &route) &&
		   route.type == RTN_UNICAST) {
		for (unsigned int i = 0; i < route.n_oifs; i++)
			offload_cand_add(c, route.oifs[i]);
	}
}

/* The configured ones (Underlay =, by name), the peers' endpoints' and the default routes' interfaces. */
static void offload_candidates(struct xwg_device *dev, struct offload *o, struct offload_cands *c)
{
	char names[sizeof(o->config_underlays)], *save = NULL, *name;

	c->o = o;
	c->tun = dev->ifindex;
	snprintf(names, sizeof(names), "%s", o->config_underlays);
	for (name = strtok_r(names, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		int ifindex = (int)if_nametoindex(name);

		if (ifindex)
			offload_cand_add(c, ifindex);
		else
			offload_skip(o, name, "Underlay names no such interface");
	}
	for (struct peer *p = dev->peers; p; p = p->next_peer) {
		offload_cand_endpoint(dev, &p->endpoint, c);
		/* Every path of a multi-path peer: traffic may move to any of them. */
		for (unsigned int i = 0; path_multi(&p->paths) && i < p->paths.n; i++) {
			struct endpoint ep;

			path_to_endpoint(&p->paths.p[i], &ep);
			offload_cand_endpoint(dev, &ep, c);
		}
	}
	nl_route_oifs(true, offload_cand_add, c);
	/* Nothing known yet (no endpoint, no default route): where the routes go, to start with. */
	if (!c->n)
		nl_route_oifs(false, offload_cand_add, c);
}

/* Tries one mode on the underlays; refused only when none could be attached. Leaves nothing on failure. */
static int offload_try_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode)
{
	struct offload_cands c = { 0 };
	char why[128];
	int ret = 0;

	o->mode = mode;
	o->skipped[0] = '\0';
	offload_candidates(dev, o, &c);
	for (size_t i = 0; i < c.n; i++) {
		char name[IF_NAMESIZE] = "?";

		if (!offload_add_underlay(o, c.idx[i], why, sizeof(why)))
			continue;
		if_indextoname((unsigned int)c.idx[i], name);
		offload_skip(o, name, why);
	}
	free(c.idx);
	if (!o->n_underlay) {
		ret = -ENODEV;
		snprintf(o->refused[mode], sizeof(o->refused[mode]), "no underlay interface%s%.80s",
			 o->skipped[0] ? ": " : " (no route to a peer, no default route)", o->skipped);
	}
	if (!ret) {
		ret = offload_hook_attach(o, OFFLOAD_HOOK_TC_OUT, dev->ifindex, bpf_program__fd(o->tx->progs.xwg_tx), 0);
		if (ret)
			snprintf(o->refused[mode], sizeof(o->refused[mode]), "%s: tc egress: %s", dev->ifname,
				 strerror(-ret));
	}
	if (ret)
		offload_detach_underlays(o);
	return ret;
}

/* What a restarted agent keeps of its predecessor's attachments: the ones it just (re)made. */
static bool offload_hook_current(void *ctx, enum offload_hook hook, int ifindex)
{
	const struct offload *o = ctx;

	if (hook == OFFLOAD_HOOK_TC_OUT)
		return ifindex == o->tun_ifindex;
	if (hook == OFFLOAD_HOOK_XDP && o->mode == OFFLOAD_TC)
		return false;
	return offload_find_underlay(o, ifindex) >= 0;
}

static bool offload_is_underlay(void *ctx, int ifindex)
{
	return offload_find_underlay(ctx, ifindex) >= 0;
}

static uint32_t offload_read_gso_max_segs(const char *ifname)
{
	char path[96], buf[24] = "";
	uint32_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/gso_max_segs", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) > 0)
			v = (uint32_t)strtoul(buf, NULL, 10);
		close(fd);
	}
	return v ? v : 65535;	/* GSO_MAX_SEGS, the kernel's default */
}

/*
 * TCP would hand TC super-packets BPF cannot segment: an explicit mode asks it for single ones.
 * auto wants them, for the agent's batched path: no cap, and a dead agent's cap is put back.
 */
static void offload_gso_cap(struct xwg_device *dev, struct offload *o)
{
	uint32_t old;
	bool capped = !offload_rec_get(o->rec_fd, OFFLOAD_REC_GSO, dev->ifindex, &old, NULL);

	if (o->hybrid) {
		if (capped && !nl_link_set_gso_max_segs(dev->ifindex, old))
			offload_rec_del(o->rec_fd, OFFLOAD_REC_GSO, dev->ifindex);
		return;
	}
	if (capped)
		return;
	old = offload_read_gso_max_segs(dev->ifname);
	if (!offload_rec_add(o->rec_fd, OFFLOAD_REC_GSO, dev->ifindex, old, 0))
		nl_link_set_gso_max_segs(dev->ifindex, 1);
}

/* The record of host changes: the dead agent's when adopting, else a new one. */
static int offload_rec_ready(struct xwg_device *dev, struct offload *o)
{
	if (o->rec_fd >= 0)
		return 0;
	o->tun_ifindex = dev->ifindex;
	snprintf(o->ifname, sizeof(o->ifname), "%s", dev->ifname);
	offload_pin_dir(o->pin_dir, sizeof(o->pin_dir), dev->ifname);
	o->links = !getenv("XWG_NO_LINKS");	/* the fallback can be tested on a kernel with links */
	o->listen_port = dev->listen_port;
	o->rec_fd = offload_rec_open(o->pin_dir, true);
	return o->rec_fd < 0 ? o->rec_fd : 0;
}

int offload_attach_mode(struct xwg_device *dev, struct offload *o, enum offload_mode mode)
{
	int ret = offload_rec_ready(dev, o);

	if (ret) {
		snprintf(o->refused[mode], sizeof(o->refused[mode]), "cannot record host settings: %s", strerror(-ret));
		return ret;
	}
	ret = offload_try_mode(dev, o, mode);
	if (ret)
		return ret;
	/* A dead agent's attachments this one did not take over (mode or underlays changed). */
	offload_hook_sweep(o->pin_dir, o->rec_fd, offload_hook_current, o);
	if (mode == OFFLOAD_TC)
		offload_disp_leave(o);
	else
		offload_disp_prune(o, offload_is_underlay, o);
	offload_gso_cap(dev, o);
	/* The tunnel must outlive a crashed agent, or BPF would forward into nothing. */
	ioctl(dev->tun_fd, TUNSETPERSIST, 1);
	o->attached = true;
	return 0;
}

void offload_detach_all(struct xwg_device *dev, struct offload *o)
{
	o->attached = false;
	offload_detach_underlays(o);
	if (o->rec_fd >= 0)
		offload_disp_leave(o);
	if (o->pin_dir[0])
		offload_hook_detach(o, OFFLOAD_HOOK_TC_OUT, dev->ifindex);
	if (o->rec_fd >= 0) {
		offload_hook_sweep(o->pin_dir, o->rec_fd, NULL, NULL);
		offload_rec_restore(o->rec_fd, 0);
		offload_rec_close(o->rec_fd, o->pin_dir, true);
		o->rec_fd = -1;
	}
	if (dev->tun_fd >= 0)
		ioctl(dev->tun_fd, TUNSETPERSIST, 0);
}

int offload_attach(struct xwg_device *dev, const char *ifname)
{
	struct offload *o = offload_live(dev);
	int ifindex = (int)if_nametoindex(ifname);
	char why[128];

	if (!o || !o->attached)
		return -EOPNOTSUPP;
	if (!ifindex)
		return -ENODEV;
	if (ifindex == dev->ifindex)
		return -EINVAL;
	if (offload_find_underlay(o, ifindex) >= 0)
		return -EEXIST;
	return offload_add_underlay(o, ifindex, why, sizeof(why));
}

int offload_detach(struct xwg_device *dev, const char *ifname)
{
	struct offload *o = offload_live(dev);
	int ifindex = (int)if_nametoindex(ifname), i;

	if (!o)
		return -EOPNOTSUPP;
	i = ifindex ? offload_find_underlay(o, ifindex) : -1;
	if (i < 0)
		return ifindex ? -ENOENT : -ENODEV;
	offload_remove_underlay(o, i);
	return 0;
}


/* A new listen port (UAPI set): the dispatcher must hand that port to us now. */
void offload_listen_port_follow(struct xwg_device *dev)
{
	struct offload *o = offload_live(dev);

	if (!o || !o->attached || o->listen_port == dev->listen_port || o->disp_slot < 0)
		return;
	o->listen_port = dev->listen_port;
	for (int i = 0; i < o->n_underlay; i++) {
		offload_disp_detach(o, o->underlays[i].ifindex);
		if (offload_disp_attach(o, o->underlays[i].ifindex, o->listen_port, offload_xdp_flags(o->mode)))
			offload_skip(o, o->underlays[i].name, "cannot move the dispatcher to the new port");
	}
}

/*
 * After a peer's endpoint changed: the interface its packets now arrive on becomes an underlay
 * if it is not one. Cheap when nothing changed (no route lookup for an endpoint seen last time).
 */
void offload_underlay_follow(struct xwg_device *dev, const struct endpoint *ep)
{
	struct offload *o = offload_live(dev);
	struct offload_cands c = { 0 };
	char why[128];

	if (!o || !o->attached)
		return;
	offload_listen_port_follow(dev);
	if (!ep->addr.sa.sa_family)
		return;
	if (ep->src_valid && ep->src_ifindex > 0 && offload_find_underlay(o, ep->src_ifindex) >= 0)
		return;
	/* A new fwmark may route the same endpoint elsewhere (policy routing): look it up again. */
	if (!ep->src_valid && !memcmp(&o->followed, &ep->addr, sizeof(o->followed)) &&
	    o->followed_fwmark == dev->fwmark)
		return;
	if (!ep->src_valid) {
		memcpy(&o->followed, &ep->addr, sizeof(o->followed));
		o->followed_fwmark = dev->fwmark;
	}
	c.o = o;
	c.tun = dev->ifindex;
	offload_cand_endpoint(dev, ep, &c);
	for (size_t i = 0; i < c.n; i++) {
		char name[IF_NAMESIZE] = "?";

		if (offload_find_underlay(o, c.idx[i]) >= 0 || !offload_add_underlay(o, c.idx[i], why, sizeof(why)))
			continue;
		if_indextoname((unsigned int)c.idx[i], name);
		offload_skip(o, name, why);
	}
	free(c.idx);
}

int offload_underlay(const struct xwg_device *dev, const char **names, int max)
{
	struct offload *o = dev->offload;
	int i;

	if (!o)
		return 0;
	for (i = 0; i < o->n_underlay && i < max; i++)
		names[i] = o->underlays[i].name;
	return i;
}

const char *offload_underlay_skipped(const struct xwg_device *dev)
{
	return dev->offload ? dev->offload->skipped : "";
}

/* `xwg down` after a dead agent: its links (by pin), fallback attachments and settings (by record). */
void offload_detach_stale(const char *ifname)
{
	char dir[160];
	int rec;

	offload_pin_dir(dir, sizeof(dir), ifname);
	rec = offload_rec_open(dir, false);
	offload_disp_leave_stale(rec);	/* XDP first */
	offload_hook_sweep(dir, rec, NULL, NULL);
	if (rec >= 0) {
		offload_rec_restore(rec, 0);
		offload_rec_close(rec, dir, true);
	}
}

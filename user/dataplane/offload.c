/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF fast path's life: choosing a mode, starting (or falling back to tun), stopping, cleaning up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "netlink.h"
#include "offload_internal.h"

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

bool offload_hybrid(const struct xwg_device *dev, uint32_t *rx_bulk_len, uint32_t *tx_bulk_len)
{
	const struct offload *o = offload_live(dev);

	if (!o || !o->hybrid)
		return false;
	if (rx_bulk_len)
		*rx_bulk_len = o->rx_bulk_len;
	if (tx_bulk_len)
		*tx_bulk_len = o->tx_bulk_len;
	return true;
}

enum offload_mode offload_active_mode(const struct xwg_device *dev)
{
	return dev->offload ? dev->offload->mode : OFFLOAD_TUN;
}

const char *offload_refused(const struct xwg_device *dev, enum offload_mode mode)
{
	if (!dev->offload || mode >= OFFLOAD_MODES)
		return "";
	return dev->offload->refused[mode];
}

static void offload_free(struct offload *o)
{
	ring_buffer__free(o->events);
	free(o->underlays);
	ctl_bpf__destroy(o->ctl);
	tx_bpf__destroy(o->tx);
	rx_bpf__destroy(o->rx);
	offload_slots_free(o);
	free(o);
}

/*
 * Keeps only the reasons: the agent reports them, and tun mode needs no BPF. A refusal record
 * without programs: every mirror function checks for rx (offload_live).
 */
static void offload_fall_back(struct xwg_device *dev, struct offload *o)
{
	struct offload *keep = calloc(1, sizeof(*keep));

	if (o->rx)
		offload_detach_all(dev, o);	/* the host-settings record, if attaching began */
	offload_unpin(o, dev->ifname);
	if (keep) {
		memcpy(keep->refused, o->refused, sizeof(keep->refused));
		keep->mode = OFFLOAD_TUN;
	}
	offload_free(o);
	dev->offload = keep;
}

int offload_start(struct xwg_device *dev, enum offload_mode requested, const char *underlays)
{
	/*
	 * xdp-generic is left out of auto: the kernel copies nearly every skb before generic XDP and
	 * TC ingress runs after it anyway, so it only adds work to tc mode (README, "Generic XDP").
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
	if (!o || offload_slots_alloc(o)) {
		free(o);
		return -ENOMEM;
	}
	/* An explicit mode keeps everything it can in BPF; auto chooses per packet. */
	o->hybrid = requested == OFFLOAD_AUTO;
	o->rx_bulk_len = dev->tune.rx_bulk_len;
	o->tx_bulk_len = dev->tune.tx_bulk_len;
	o->rec_fd = -1;
	o->disp_slot = o->disp_ports = o->disp_progs = o->disp_prog = -1;
	snprintf(o->config_underlays, sizeof(o->config_underlays), "%s", underlays ? underlays : "");
	ret = offload_mount_bpffs();
	if (!ret)
		ret = offload_load(o, dev->ifname, &adopted);
	if (!ret)
		ret = offload_pin(o, dev->ifname);
	if (ret) {
		/* No BPF here at all: every mode is refused for the same reason. */
		for (int m = OFFLOAD_TC; m < OFFLOAD_MODES; m++)
			if (offload_bpffs_error()[0])
				snprintf(o->refused[m], sizeof(o->refused[m]), "%s", offload_bpffs_error());
			else
				snprintf(o->refused[m], sizeof(o->refused[m]), "cannot load BPF programs: %s",
					 strerror(-ret));
		offload_fall_back(dev, o);
		return 0;
	}
	dev->offload = o;
	if (adopted)
		offload_adopt(dev, o);
	offload_sync(dev);	/* config, peers, keypairs, prefixes */
	for (size_t i = 0; i < n_order; i++) {
		if (requested != OFFLOAD_AUTO && requested != order[i])
			continue;
		if (offload_attach_mode(dev, o, order[i]) == 0) {
			dev->config_changed = true;	/* the config's flags depend on the mode */
			offload_publish(dev);
			o->events = ring_buffer__new(bpf_map__fd(o->rx->maps.xwg_events), offload_handle_event, dev, NULL);
			return 0;
		}
	}
	offload_fall_back(dev, o);
	return 0;
}

void offload_stop(struct xwg_device *dev)
{
	struct offload *o = dev->offload;

	if (!o)
		return;
	if (o->rx) {
		offload_detach_all(dev, o);
		offload_unpin(o, dev->ifname);
	}
	dev->offload = NULL;
	offload_free(o);
}

void offload_release(struct xwg_device *dev)
{
	struct offload *o = dev->offload;

	dev->offload = NULL;
	if (o)
		offload_free(o);
}

/*
 * After an agent died (kill -9) its programs stay attached and its tunnel persists: `xwg down`
 * without an agent removes exactly its pinned links and recorded attachments, puts back the host
 * settings it recorded, deletes the tunnel and the pins. Returns 0 if anything was cleaned, else -ENOENT.
 */
int offload_cleanup_stale(const char *ifname)
{
	int tun = (int)if_nametoindex(ifname);

	if (!offload_has_pins(ifname))
		return -ENOENT;
	offload_detach_stale(ifname);
	if (tun)
		nl_link_delete(tun);
	offload_unpin_stale(ifname);
	return 0;
}

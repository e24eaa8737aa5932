/* SPDX-License-Identifier: GPL-2.0 */
/* Device lifetime, identity, handshake load, and the single-threaded event loop. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include "device.h"
#include "crypto.h"
#include "offload.h"
#include "parallel.h"
#include "resolver.h"
#include "timers.h"
#include "tun.h"
#include "vnet.h"
#include "icmp.h"
#include "pathwatch.h"

/*
 * The agent answers handshakes synchronously, so its "queue" is the rate: past this many
 * handshake messages in one second it demands cookies (wireguard-go: queue >= 128).
 */
#define UNDER_LOAD_HANDSHAKES_PER_SECOND 128
/*
 * The TUN is read TUN_READS frames at a time (each maybe a 64 KiB super-packet), and their
 * segments go to the core as one send batch; at most TUN_GROUPS such batches per wakeup.
 */
#define TUN_READS	8
#define TUN_GROUPS	32
#define TUN_FRAME	VNET_FRAME_MAX
#define TUN_SEGS	1024		/* a 64 KiB TSO frame of an MSS down to 64 bytes */
#define TUN_SEG_BUF	(VNET_FRAME_MAX + TUN_SEGS * 120)	/* its segments with their copied headers */

int device_watch(struct xwg_device *dev, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (fd < 0 || dev->epoll_fd < 0)
		return 0;
	return epoll_ctl(dev->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int device_block_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGHUP);
	return sigprocmask(SIG_BLOCK, mask, NULL) < 0 ? -errno : 0;
}

static int device_signals_open(struct xwg_device *dev)
{
	sigset_t mask;
	int ret = device_block_signals(&mask);

	if (ret)
		return ret;
	dev->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return dev->signal_fd < 0 ? -errno : 0;
}

void device_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void device_set_tunables(struct xwg_device *dev, const struct device_tunables *tune)
{
	dev->tune = *tune;
	dev->no_udp_gso = !tune->udp_gso;
}

int device_init(struct xwg_device *dev, const char *ifname, int mtu)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->tun_fd = dev->sock4 = dev->sock6 = dev->epoll_fd = dev->uapi_fd = dev->signal_fd = -1;
	dev->mtu = mtu > 0 ? mtu : XWG_DEFAULT_MTU;
	if (strlen(ifname) >= sizeof(dev->ifname))
		return -ENAMETOOLONG;
	strcpy(dev->ifname, ifname);
	allowedips_init(&dev->allowedips);

	ret = index_table_init(&dev->index_table);
	if (ret < 0)
		goto err;
	ret = ratelimiter_init(dev);
	if (ret < 0)
		goto err;
	crypto_random(dev->cookie_checker.secret, sizeof(dev->cookie_checker.secret));
	dev->cookie_checker.secret_birthdate = now_ns();

	dev->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (dev->epoll_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = tun_open(ifname, &dev->ifindex, &dev->tun_vnet, &dev->tun_uso);
	if (ret < 0)
		goto err;
	dev->tun_fd = ret;
	ret = device_watch(dev, dev->tun_fd);
	if (ret < 0)
		goto err;
	return 0;
err:
	device_uninit(dev);
	return ret;
}

/* Everything of the device in this process: peers, keys, tables, fds (device_uninit, device_release). */
static void device_free_state(struct xwg_device *dev)
{
	/* The netlink socket is this process's, in either case. */
	pathwatch_close(dev);
	device_remove_all_peers(dev);
	if (dev->control)
		dev->control->closing(dev);
	/* Closing the TUN fd deletes the interface, and with it its addresses and routes. */
	if (dev->tun_fd >= 0)
		tun_close(dev);
	device_close_fd(&dev->tun_fd);
	device_close_fd(&dev->sock4);
	device_close_fd(&dev->sock6);
	device_close_fd(&dev->epoll_fd);
	device_close_fd(&dev->signal_fd);
	if (dev->ratelimiter)
		ratelimiter_uninit(dev);
	icmp_free(dev);
	if (dev->index_table.slots)
		index_table_free(&dev->index_table);
	allowedips_free(&dev->allowedips);
	crypto_zero(dev->static_private, sizeof(dev->static_private));
	crypto_zero(&dev->cookie_checker, sizeof(dev->cookie_checker));
	dev->has_identity = false;
}

void device_uninit(struct xwg_device *dev)
{
	parallel_stop();
	resolver_stop(dev);
	offload_stop(dev);
	device_free_state(dev);
}

void device_release(struct xwg_device *dev)
{
	parallel_stop();
	resolver_stop(dev);
	/* First, so that removing the peers below leaves their map entries for the next agent. */
	offload_release(dev);
	device_free_state(dev);
}

int device_set_private_key(struct xwg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t clamped[NOISE_PUBLIC_KEY_LEN], pub[NOISE_PUBLIC_KEY_LEN];
	struct peer *peer, *next;

	memcpy(clamped, key, sizeof(clamped));
	if (crypto_is_zero(clamped, sizeof(clamped))) {
		dev->has_identity = false;
		memset(pub, 0, sizeof(pub));
	} else {
		curve25519_clamp(clamped);
		if (dev->has_identity && crypto_equal(clamped, dev->static_private, sizeof(clamped)))
			goto out;
		if (curve25519_generate_public(pub, clamped) < 0) {
			crypto_zero(clamped, sizeof(clamped));
			return -EINVAL;
		}
		dev->has_identity = true;
		/* We cannot be our own peer. */
		peer = device_lookup_peer(dev, pub);
		if (peer)
			peer_remove(peer);
	}
	memcpy(dev->static_private, clamped, sizeof(clamped));
	memcpy(dev->static_public, pub, sizeof(pub));
	cookie_checker_precompute_device_keys(dev);
	/* Sessions were authenticated by the old identity: stop sending on them, redo the handshake. */
	for (peer = dev->peers; peer; peer = next) {
		next = peer->next_peer;
		noise_precompute_static_static(dev, peer);
		noise_expire_current_keypairs(peer);
		noise_handshake_clear(dev, peer);
	}
out:
	crypto_zero(clamped, sizeof(clamped));
	return 0;
}

bool device_under_load(struct xwg_device *dev)
{
	uint64_t now = now_ns(), second = now / NSEC_PER_SEC;

	if (second != dev->handshake_second) {
		dev->handshake_second = second;
		dev->handshakes_this_second = 0;
	}
	if (++dev->handshakes_this_second > UNDER_LOAD_HANDSHAKES_PER_SECOND)
		dev->last_under_load = now;
	return dev->last_under_load && now - dev->last_under_load < UNDER_LOAD_AFTER_TIME_S * NSEC_PER_SEC;
}

static uint8_t tun_frames[TUN_READS][TUN_FRAME] __attribute__((aligned(64)));
static uint8_t tun_segs[TUN_READS][TUN_SEG_BUF] __attribute__((aligned(64)));
static struct iovec tun_pkts[TUN_READS * TUN_SEGS];

/* Returns false when the TUN device is gone (deleted under us): the agent must exit. */
static bool device_read_tun(struct xwg_device *dev)
{
	for (int group = 0; group < TUN_GROUPS; group++) {
		unsigned int n = 0;
		int r = 0, ret = 0;

		for (r = 0; r < TUN_READS; r++) {
			ret = tun_read(dev, tun_frames[r], TUN_FRAME, tun_segs[r], TUN_SEG_BUF, tun_pkts + n,
				       TUN_SEGS);
			if (ret < 0)
				break;
			n += (unsigned int)ret;
		}
		send_packets_from_tun(dev, tun_pkts, n);
		/* Drained; any other error means the device went away (EBADFD once it is deleted). */
		if (ret < 0)
			return ret == -EAGAIN;
	}
	return true;
}


/* Multi-path peers (path.c): their traffic per path (BPF's is added in offload_poll), then the policy. */
static int device_run_paths(struct xwg_device *dev)
{
	if (!dev->offload)
		for (struct peer *p = dev->peers; p; p = p->next_peer)
			if (path_multi(&p->paths))
				path_account(p, p->rx_bytes, p->tx_bytes);
	return path_run(dev);
}

int device_run_timers(struct xwg_device *dev)
{
	int timeout, paths;

	/* BPF traffic moves timers too: read it before a timer decides the peer was quiet. */
	if (timers_due(dev))
		offload_poll_activity(dev);
	timeout = timers_run(dev);
	paths = device_run_paths(dev);
	if (paths >= 0 && (timeout < 0 || paths < timeout))
		timeout = paths;
	return timeout;
}

int device_run(struct xwg_device *dev)
{
	struct epoll_event events[16];
	int ret;

	ret = device_signals_open(dev);
	if (ret < 0)
		return ret;
	ret = device_watch(dev, dev->signal_fd);
	if (ret < 0)
		return ret;
	/* Both are optional: device_watch skips a -1. */
	ret = device_watch(dev, dev->uapi_fd);
	if (ret < 0)
		return ret;
	ret = device_watch(dev, offload_events_fd(dev));
	if (ret < 0)
		return ret;
	/* Without it paths still fail by liveness, only later: not a reason to stop. */
	if (pathwatch_open(dev) < 0)
		pathwatch_close(dev);
	/* Without workers the agent still works, one thread doing everything. */
	parallel_start(dev->tune.threads);
	dev->running = true;
	while (dev->running) {
		int timeout, n;

		timeout = device_run_timers(dev);
		/* After the timers: a retry that just fired is what makes a peer "trying". */
		resolver_tick(dev);
		pathwatch_tick(dev);
		/* What this turn changed (fds, events, timers) goes into the maps before we sleep. */
		offload_publish(dev);
		/* BPF traffic is invisible to the loop: look at its counters a few times a second. */
		if (dev->offload && (timeout < 0 || timeout > OFFLOAD_POLL_MS))
			timeout = OFFLOAD_POLL_MS;
		n = epoll_wait(dev->epoll_fd, events, 16, timeout);
		offload_poll(dev);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == dev->tun_fd) {
				if (!device_read_tun(dev))
					dev->running = false;
			} else if (fd == dev->sock4 || fd == dev->sock6) {
				socket_receive(dev, fd);
			} else if (fd == dev->uapi_fd) {
				dev->control->uapi_ready(dev);
			} else if (fd == dev->signal_fd) {
				dev->running = false;
			} else if (fd == resolver_fd(dev)) {
				resolver_collect(dev);
			} else if (fd == pathwatch_fd(dev)) {
				pathwatch_read(dev);
			}
		}
	}
	parallel_stop();
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Agent start-up: turns a parsed configuration into a configured device and a detached agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "crypto.h"
#include "device.h"
#include "encoding.h"
#include "metrics.h"
#include "netlink.h"
#include "offload.h"
#include "parallel.h"
#include "xwg_maps.h"
#include "peer.h"
#include "quick.h"
#include "reresolve.h"
#include "uapi.h"

/* A wedged agent must not hang the CLI forever (show, attach, detach, down). */
#define AGENT_TIMEOUT_SEC 5

/* Formats "IFNAME: what: strerror" into err and hands back ret, so every step fails in one line. */
__attribute__((format(printf, 5, 6)))
static int agent_fail(char *err, size_t errlen, int ret, const char *ifname, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ret)
		snprintf(err, errlen, "%s: %s: %s", ifname, what, strerror(-ret));
	else
		snprintf(err, errlen, "%s: %s", ifname, what);
	return ret ? ret : -EINVAL;
}

bool ifname_valid(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_=+.-") == len;
}

int agent_connect(const char *ifname)
{
	struct timeval tv = { .tv_sec = AGENT_TIMEOUT_SEC };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", XWG_UAPI_DIR, ifname);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* NULL or "" is auto; cmd_up and cmd_run already said which names exist, this is the last word. */
static int agent_parse_mode(const char *name, enum offload_mode *mode, const char *ifname, char *err, size_t errlen)
{
	*mode = OFFLOAD_AUTO;
	if (!name || !*name || !offload_mode_parse(name, mode))
		return 0;
	return agent_fail(err, errlen, 0, ifname,
			  "unknown data path mode '%s' (auto, xdp, xdp-generic, tc or tun)", name);
}

/* The port of an endpoint the configuration resolved (IPv4 or IPv6), host order. */
static uint16_t agent_port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static int agent_apply_peer(struct xwg_device *dev, const struct xwg_config_peer *cp, char *err, size_t errlen)
{
	char key[KEY_B64_LEN + 1], buf[64];
	struct peer *peer;
	int ret;

	key_to_base64(key, cp->public_key);
	peer = device_lookup_peer(dev, cp->public_key);
	if (!peer) {
		peer = peer_create(dev, cp->public_key);
		if (!peer)
			return agent_fail(err, errlen, errno ? -errno : -ENOMEM, dev->ifname,
					  "cannot add peer %s", key);
	}
	if (cp->has_preshared_key)
		peer_set_preshared_key(peer, cp->preshared_key);
	if (cp->has_endpoint) {
		peer_set_endpoint(peer, (const struct sockaddr *)&cp->endpoint);
		if (cp->endpoint_host[0])
			reresolve_set_name(peer, cp->endpoint_host, agent_port_of(&cp->endpoint));
		for (size_t i = 0; i < cp->n_more_endpoints; i++) {
			ret = path_add_endpoint(peer, (const struct sockaddr *)&cp->more_endpoints[i]);
			if (ret)
				return agent_fail(err, errlen, ret, dev->ifname, "cannot add endpoint %zu of peer %s",
						  i + 2, key);
		}
	}
	if (cp->has_path_policy)
		peer->paths.policy = cp->path_policy;
	peer->paths.probe_interval_s = cp->path_probe_interval;
	for (size_t i = 0; i < cp->n_allowed_ips; i++) {
		const struct xwg_prefix *a = &cp->allowed_ips[i];

		ret = peer_add_allowed_ip(peer, a->family, a->addr, a->cidr);
		if (ret) {
			prefix_format(buf, sizeof(buf), a);
			return agent_fail(err, errlen, ret, dev->ifname, "cannot add allowed IP %s to peer %s",
					  buf, key);
		}
	}
	/* Last, because turning keepalive on may send a packet at once: the peer must be complete. */
	if (cp->persistent_keepalive)
		peer_set_persistent_keepalive(peer, cp->persistent_keepalive);
	return 0;
}

/* The wg(8) half of wg-quick: identity, port, mark and peers. */
static int agent_apply_config(struct xwg_device *dev, const struct xwg_config *cfg, char *err, size_t errlen)
{
	uint16_t port = cfg->has_listen_port ? cfg->listen_port : 0;
	int ret;

	if (cfg->has_private_key) {
		ret = device_set_private_key(dev, cfg->private_key);
		if (ret)
			return agent_fail(err, errlen, ret, dev->ifname, "cannot set the private key");
	}
	ret = device_set_listen_port(dev, port);
	if (ret)
		return agent_fail(err, errlen, ret, dev->ifname, "cannot listen on UDP port %u", port);
	if (cfg->fwmark) {
		ret = device_set_fwmark(dev, cfg->fwmark);
		if (ret)
			return agent_fail(err, errlen, ret, dev->ifname, "cannot set fwmark 0x%x", cfg->fwmark);
	}
	for (const struct xwg_config_peer *p = cfg->peers; p; p = p->next) {
		ret = agent_apply_peer(dev, p, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Addresses, MTU, link up: what goes away with the TUN device. Routes and the rest are quick_up's. */
static int agent_setup_links(struct xwg_device *dev, const struct xwg_config *cfg, int mtu,
			     char *err, size_t errlen)
{
	char buf[64];
	int ret;

	ret = nl_link_set_mtu(dev->ifindex, mtu);
	if (ret)
		return agent_fail(err, errlen, ret, dev->ifname, "cannot set MTU %d", mtu);
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		ret = nl_addr_add(dev->ifindex, &cfg->addresses[i]);
		if (ret && ret != -EEXIST) {	/* EEXIST: an adopted tunnel kept its addresses */
			prefix_format(buf, sizeof(buf), &cfg->addresses[i]);
			return agent_fail(err, errlen, ret, dev->ifname, "cannot add address %s", buf);
		}
	}
	ret = nl_link_set_up(dev->ifindex, true);
	if (ret)
		return agent_fail(err, errlen, ret, dev->ifname, "cannot bring the interface up");
	return 0;
}

/*
 * Lays the BPF fast path over the configured device. auto takes whatever works (tun included);
 * an explicit mode that could not be had is an error, not a silent downgrade.
 */
static int agent_offload(struct xwg_device *dev, enum offload_mode mode, const struct xwg_config *cfg, char *err,
			 size_t errlen)
{
	const char *why;
	int ret;

	ret = offload_start(dev, mode, cfg && cfg->underlay[0] ? cfg->underlay : NULL);
	if (ret)
		return agent_fail(err, errlen, ret, dev->ifname, "cannot start the %s data path",
				  offload_mode_name(mode));
	if (mode == OFFLOAD_AUTO || offload_active_mode(dev) == mode)
		return 0;
	why = offload_refused(dev, mode);
	return agent_fail(err, errlen, 0, dev->ifname, "cannot use mode %s: %s", offload_mode_name(mode),
			  why && *why ? why : "not available");
}

/* "xdp on eth0, veth1" or "tun": what the start-up line reports. */
static void agent_describe_mode(const struct xwg_device *dev, char *buf, size_t len)
{
	const char *names[OFFLOAD_REPORT_UNDERLAY];
	int n = offload_underlay(dev, names, OFFLOAD_REPORT_UNDERLAY);
	size_t off;

	off = (size_t)snprintf(buf, len, "%s", offload_mode_name(offload_active_mode(dev)));
	for (int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : " on ", names[i]);
}

/* The agent's environment variables (xwg.8, ENVIRONMENT): read here only, handed down as tunables. */
struct agent_env {
	const char *name;
	uint64_t min, max;
	const char *want;		/* what the error says a good value is */
	bool auto_only;			/* explicit modes ignore it */
};

enum { ENV_THREADS, ENV_UDP_GSO, ENV_RX_BULK, ENV_TX_BULK, ENV_RERESOLVE, ENV_MAX };

static const struct agent_env agent_envs[ENV_MAX] = {
	[ENV_THREADS] = { "XWG_THREADS", 1, PARALLEL_MAX_THREADS, "a number of threads from 1 to 64" },
	[ENV_UDP_GSO] = { "XWG_UDP_GSO", 0, 1, "0 or 1" },
	[ENV_RX_BULK] = { "XWG_RX_BULK_LEN", 0, 65535, "a number of bytes from 0 to 65535", true },
	[ENV_TX_BULK] = { "XWG_TX_BULK_LEN", 0, 65535, "a number of bytes from 0 to 65535", true },
	[ENV_RERESOLVE] = { "XWG_RERESOLVE_AFTER", 0, 86400, "a number of seconds from 0 (never) to 86400" },
};

/* Fills tune from the environment over its defaults; a bad value is an error that quotes it. */
static int agent_read_env(struct device_tunables *tune, enum offload_mode mode, const char *ifname, char *err,
			  size_t errlen)
{
	uint64_t v[ENV_MAX] = { [ENV_THREADS] = tune->threads, [ENV_UDP_GSO] = tune->udp_gso,
				[ENV_RX_BULK] = tune->rx_bulk_len, [ENV_TX_BULK] = tune->tx_bulk_len,
				[ENV_RERESOLVE] = tune->reresolve_after_s };

	for (int i = 0; i < ENV_MAX; i++) {
		const struct agent_env *e = &agent_envs[i];
		const char *s = getenv(e->name);

		if (!s || (e->auto_only && mode != OFFLOAD_AUTO))
			continue;
		if (uint_parse(s, e->max, &v[i]) || v[i] < e->min)
			return agent_fail(err, errlen, 0, ifname, "%s=\"%s\": want %s", e->name, s, e->want);
	}
	tune->threads = (unsigned int)v[ENV_THREADS];
	tune->udp_gso = v[ENV_UDP_GSO];
	tune->rx_bulk_len = (uint32_t)v[ENV_RX_BULK];
	tune->tx_bulk_len = (uint32_t)v[ENV_TX_BULK];
	tune->reresolve_after_s = (uint32_t)v[ENV_RERESOLVE];
	return 0;
}

/* Brings the device to "ready": configured and answering on its UAPI socket. Unwinds on failure. */
static int agent_setup(struct xwg_device *dev, const struct agent_opts *o, char *err, size_t errlen)
{
	const struct xwg_config *cfg = o->cfg;
	int mtu = cfg && cfg->mtu ? cfg->mtu : XWG_DEFAULT_MTU;
	struct device_tunables tune = { .udp_gso = true, .rx_bulk_len = XWG_RX_BULK_LEN_DEFAULT,
					.tx_bulk_len = XWG_TX_BULK_LEN_DEFAULT,
					.reresolve_after_s = RERESOLVE_AFTER_S_DEFAULT };
	enum offload_mode mode;
	int ret;

	/* Checked before: an existing interface here is a dead agent's, with its pins, being adopted. */
	bool adopting = if_nametoindex(o->ifname) != 0;

	ret = agent_parse_mode(o->mode, &mode, o->ifname, err, errlen);
	if (!ret)
		ret = agent_read_env(&tune, mode, o->ifname, err, errlen);
	if (!ret && cfg)
		ret = quick_pre_up(cfg, adopting, err, errlen);
	if (ret)
		return ret;
	ret = device_init(dev, o->ifname, mtu);
	if (ret)
		return agent_fail(err, errlen, ret, o->ifname, "cannot create TUN device");
	device_set_tunables(dev, &tune);
	if (cfg) {
		ret = agent_apply_config(dev, cfg, err, errlen);
	} else {
		/* Like the kernel's, a bare device listens on a random port until told otherwise. */
		ret = device_set_listen_port(dev, 0);
		if (ret)
			agent_fail(err, errlen, ret, o->ifname, "cannot open the UDP sockets");
	}
	if (ret)
		goto err_uninit;
	ret = uapi_listen(dev);
	if (ret) {
		agent_fail(err, errlen, ret, o->ifname, "cannot listen on %s/%s.sock", XWG_UAPI_DIR, o->ifname);
		goto err_uninit;
	}
	if (cfg) {
		ret = agent_setup_links(dev, cfg, mtu, err, errlen);
		if (ret)
			goto err_uninit;
	}
	/* Last: the programs mirror the finished configuration and find the underlays up. */
	ret = agent_offload(dev, mode, cfg, err, errlen);
	if (ret)
		goto err_uninit;
	/* GRO'd datagrams suit the agent; a mode that decrypts at TC or generic XDP needs them single. */
	device_set_udp_gro(dev, offload_active_mode(dev) == OFFLOAD_TUN || offload_hybrid(dev, NULL, NULL));
	/* Once the device is ready: the server reads it through the UAPI socket (metrics_http.c). */
	if (o->metrics_listen) {
		ret = metrics_http_start(o->ifname, o->metrics_listen, err, errlen);
		if (ret)
			goto err_uninit;
	}
	/* wg-quick's part last, on a working tunnel: DNS, routes and rules, firewall, PostUp. */
	if (cfg) {
		ret = quick_up(dev, cfg, adopting, err, errlen);
		if (ret)
			goto err_uninit;
	}
	return 0;

err_uninit:
	/* Also stops the offload and closes the UAPI socket; the TUN takes its addresses and routes along. */
	device_uninit(dev);
	metrics_http_stop();
	return ret;
}

/*
 * A stop request that arrives while the device is being set up must not kill the agent halfway
 * (leaving a stale socket): blocked now, it stays pending until device_run's signalfd reads it.
 */
static void agent_block_signals(void)
{
	sigset_t mask;

	device_block_signals(&mask);
}

/* The running configuration, for SaveConfig: the agent's own answer to a UAPI get. */
static int agent_getconf(void *ctx, FILE *out)
{
	static const char req[] = "get=1\n\n";
	FILE *in = fmemopen((void *)req, sizeof(req) - 1, "r");

	if (!in)
		return -errno;
	uapi_serve(ctx, in, out);
	fclose(in);
	return 0;
}

/*
 * Stopped by a signal: unless xwg down claimed the interface's wg-quick state first (and does the
 * same around the agent's exit), the agent runs down itself: PreDown, SaveConfig, the device, the
 * routes, rules and DNS, PostDown.
 */
static int agent_serve(struct xwg_device *dev)
{
	int ret = device_run(dev);
	struct quick_down d;
	int claimed = quick_down_claim(dev->ifname, &d);

	if (claimed > 0) {
		d.dev = dev;
		quick_down_begin(&d, agent_getconf, dev);
	}
	device_uninit(dev);
	/* After the UAPI socket closed: a scrape in flight fails at once instead of holding the stop up. */
	metrics_http_stop();
	if (claimed > 0)
		quick_down_end(&d);
	return ret;
}

static void agent_announce(const struct agent_opts *o, const char *mode)
{
	if (o->quiet)
		return;
	printf("[#] xwg: %s up (data path: %s)\n", o->ifname, mode);
	fflush(stdout);
}

/* Leaves the caller's session and terminal so the agent outlives the shell that started it. */
static void agent_detach(void)
{
	int fd;

	setsid();
	if (chdir("/"))
		return;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * Pipes the caller's shell left open (fd 3 and up, without close-on-exec) would keep whoever reads
 * their far end waiting for the agent's exit; the agent has no use for them.
 */
static void agent_close_inherited(int keep_fd)
{
	struct dirent *de;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (fd > STDERR_FILENO && fd != keep_fd && fd != dirfd(d) &&
		    !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			close(fd);
	}
	closedir(d);
}

/* The device held the private key and cookie secrets: wiped, whatever path freed it. */
static void agent_free(struct xwg_device *dev)
{
	crypto_zero(dev, sizeof(*dev));
	free(dev);
}

/*
 * The child side of a detached start: report "0<mode>" (ready) or "1<message>" through the pipe, so
 * the parent only returns once the interface is usable, exactly like wireguard-go does.
 */
static void agent_child(struct xwg_device *dev, const struct agent_opts *o, int status_fd)
{
	char msg[512];
	int ret;

	agent_block_signals();
	agent_close_inherited(status_fd);
	ret = agent_setup(dev, o, msg, sizeof(msg));
	if (ret) {
		dprintf(status_fd, "1%s", msg);
		exit(1);
	}
	agent_detach();
	/* If the parent is gone, nobody is left to tell: serve anyway, as it asked. */
	agent_describe_mode(dev, msg, sizeof(msg));
	dprintf(status_fd, "0%s", msg);
	close(status_fd);
	ret = agent_serve(dev);
	agent_free(dev);
	exit(ret ? 1 : 0);
}

/* Truncating copy that gcc's format-truncation check does not mistake for a bug. */
static void agent_copy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int agent_wait_ready(pid_t pid, int status_fd, const char *ifname, char *mode, size_t modelen,
			    char *err, size_t errlen)
{
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int status;

	while (len < sizeof(buf) - 1) {
		n = read(status_fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len && buf[0] == '0') {
		agent_copy(mode, modelen, buf + 1);
		return 0;
	}
	if (len > 1) {
		agent_copy(err, errlen, buf + 1);
		waitpid(pid, NULL, 0);
		return -EINVAL;
	}
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status))
		return agent_fail(err, errlen, 0, ifname, "agent died during start-up (signal %d)",
				  WTERMSIG(status));
	return agent_fail(err, errlen, 0, ifname, "agent exited during start-up");
}

static int agent_precheck(const struct agent_opts *o, char *err, size_t errlen)
{
	enum offload_mode mode;
	int fd, ret;

	if (!ifname_valid(o->ifname))
		return agent_fail(err, errlen, 0, o->ifname, "not a valid interface name");
	ret = agent_parse_mode(o->mode, &mode, o->ifname, err, errlen);
	if (ret)
		return ret;
	/* A tunnel left by an agent that died, with its BPF state pinned, is adopted, not refused. */
	if (if_nametoindex(o->ifname) && !offload_has_pins(o->ifname))
		return agent_fail(err, errlen, 0, o->ifname, "interface already exists");
	/* The socket directory is shared by all network namespaces: the name may be taken elsewhere. */
	fd = agent_connect(o->ifname);
	if (fd >= 0) {
		close(fd);
		return agent_fail(err, errlen, 0, o->ifname,
				  "an agent already serves %s/%s.sock (in another network namespace?)",
				  XWG_UAPI_DIR, o->ifname);
	}
	return 0;
}

int agent_start_here(struct xwg_device *dev, const struct agent_opts *o, char *err, size_t errlen)
{
	int ret = agent_precheck(o, err, errlen);

	if (ret)
		return ret;
	agent_block_signals();
	return agent_setup(dev, o, err, errlen);
}

int agent_serve_kept(struct xwg_device *dev)
{
	int ret = device_run(dev);

	/*
	 * Like kill -9 but in order: the TUN (persistent), the pinned programs and maps, its peers and
	 * keys stay and keep forwarding; only the socket and this process's memory go, so the next
	 * agent adopts all of it.
	 */
	device_release(dev);
	metrics_http_stop();
	return ret;
}

int agent_start(const struct agent_opts *o, char *err, size_t errlen)
{
	struct xwg_device *dev;
	char mode[256];
	int fds[2], ret;
	pid_t pid;

	ret = agent_precheck(o, err, errlen);
	if (ret)
		return ret;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return agent_fail(err, errlen, -ENOMEM, o->ifname, "cannot allocate the device");

	if (o->foreground) {
		agent_block_signals();
		ret = agent_setup(dev, o, err, errlen);
		if (!ret) {
			agent_describe_mode(dev, mode, sizeof(mode));
			agent_announce(o, mode);
			ret = agent_serve(dev);
			if (ret)
				agent_fail(err, errlen, ret, o->ifname, "agent stopped");
		}
		agent_free(dev);
		return ret;
	}

	if (pipe2(fds, O_CLOEXEC) < 0) {
		ret = agent_fail(err, errlen, -errno, o->ifname, "cannot create a pipe");
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		ret = agent_fail(err, errlen, -errno, o->ifname, "cannot fork the agent");
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		agent_child(dev, o, fds[1]);	/* does not return */
	}
	close(fds[1]);
	ret = agent_wait_ready(pid, fds[0], o->ifname, mode, sizeof(mode), err, errlen);
	close(fds[0]);
	if (!ret)
		agent_announce(o, mode);
out:
	agent_free(dev);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Server side of WireGuard's cross-platform configuration protocol (get=1 / set=1 over a UNIX socket). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include "crypto.h"
#include "device.h"
#include "encoding.h"
#include "metrics.h"
#include "offload.h"
#include "parallel.h"
#include "peer.h"
#include "path.h"
#include "uapi.h"

/* Longest legitimate line is an allowed_ip with a full IPv6 prefix; anything near this is garbage. */
#define UAPI_LINE_MAX 512
/* A client that stalls this long is dropped so it cannot freeze the single-threaded agent. */
#define UAPI_IO_TIMEOUT_MS 1000
/* A refusal reason is cut here so every reply line stays well inside what clients buffer. */
#define UAPI_REASON_MAX 300

/* ---- listening socket ---- */

static int uapi_sockaddr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

/* True when another process accepts connections on path (a live instance owns the name). */
static bool uapi_path_is_live(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

/* The event loop's calls into control, for the UAPI socket this file owns. */
static const struct device_control uapi_device_control = {
	.uapi_ready = uapi_accept,
	.closing = uapi_close,
};

int uapi_listen(struct xwg_device *dev)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path)];
	mode_t old_umask;
	int fd, ret;

	if (mkdir(XWG_UAPI_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (snprintf(path, sizeof(path), XWG_UAPI_DIR "/%s.sock", dev->ifname) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = uapi_sockaddr(&sun, path);
	if (ret)
		return ret;

	if (access(path, F_OK) == 0) {
		if (uapi_path_is_live(&sun))
			return -EADDRINUSE;
		/* Left behind by a killed instance: nobody answers, so the name is free. */
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The socket grants full control of the tunnel: only root may connect. */
	old_umask = umask(077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (ret < 0) {
		ret = -errno;
		goto err_close;
	}
	if (listen(fd, 16) < 0) {
		ret = -errno;
		goto err_unlink;
	}
	dev->uapi_fd = fd;
	dev->control = &uapi_device_control;
	snprintf(dev->uapi_path, sizeof(dev->uapi_path), "%s", path);
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	return ret;
}

void uapi_close(struct xwg_device *dev)
{
	if (dev->uapi_fd >= 0)
		close(dev->uapi_fd);
	dev->uapi_fd = -1;
	if (dev->uapi_path[0])
		unlink(dev->uapi_path);
	dev->uapi_path[0] = '\0';
}

/* ---- one connection ---- */

/* Writes with MSG_NOSIGNAL: a client that hangs up must not kill the agent with SIGPIPE. */
static ssize_t uapi_cookie_write(void *cookie, const char *buf, size_t len)
{
	int fd = *(int *)cookie;
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return done ? (ssize_t)done : -1;
		done += n;
	}
	return done;
}

void uapi_accept(struct xwg_device *dev)
{
	struct timeval tv = { .tv_sec = UAPI_IO_TIMEOUT_MS / 1000,
			      .tv_usec = (UAPI_IO_TIMEOUT_MS % 1000) * 1000 };
	cookie_io_functions_t io = { .write = uapi_cookie_write };
	/* stdio buffers of our own: they see private keys both ways and are wiped, not just freed. */
	char inbuf[BUFSIZ], outbuf[BUFSIZ];
	FILE *in, *out;
	int fd;

	fd = accept4(dev->uapi_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* Blocking (Linux does not inherit O_NONBLOCK) and served to completion, bounded by the timeouts. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto err_close;
	in = fdopen(fd, "r");
	if (!in)
		goto err_close;
	setvbuf(in, inbuf, _IOFBF, sizeof(inbuf));
	out = fopencookie(&fd, "w", io);
	if (!out) {
		fclose(in);
		crypto_zero(inbuf, sizeof(inbuf));
		return;
	}
	setvbuf(out, outbuf, _IOFBF, sizeof(outbuf));
	uapi_serve(dev, in, out);
	fclose(out);
	fclose(in);
	crypto_zero(inbuf, sizeof(inbuf));
	crypto_zero(outbuf, sizeof(outbuf));
	return;

err_close:
	close(fd);
}

/*
 * Reads one line without its '\n' into buf. Returns its length, -ENODATA at EOF,
 * -EIO on a read error (including the receive timeout), -EMSGSIZE for an overlong line (consumed).
 */
static int uapi_getline(FILE *in, char *buf, size_t size)
{
	size_t len;
	int c;

	if (!fgets(buf, size, in))
		return ferror(in) ? -EIO : -ENODATA;
	len = strlen(buf);
	if (len && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		return len;
	}
	if (feof(in))
		return len;
	while ((c = fgetc(in)) != EOF && c != '\n')
		;
	return -EMSGSIZE;
}

/* ---- get ---- */

static int uapi_print_allowed_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct xwg_prefix p = { .family = family, .cidr = cidr };
	char buf[64];

	memcpy(p.addr, addr, family == AF_INET ? 4 : 16);
	prefix_format(buf, sizeof(buf), &p);
	fprintf(ctx, "allowed_ip=%s\n", buf);
	return 0;
}

static void uapi_print_text(FILE *out, const char *s);

/* Agent and BPF traffic are one peer to wg: the standard counters add both up. */
/* Age of a monotonic stamp in ms; -1 for never. */
static long long uapi_age_ms(uint64_t now, uint64_t t)
{
	return t ? (long long)((now - t) / 1000000) : -1;
}

/*
 * "xwg_endpoints=a:port, b:port": the configured endpoints in their order, for SaveConfig's
 * "Endpoint =" (the endpoint= line is the active path's). Multi-path peers only, like the rest.
 */
static void uapi_print_configured(const struct peer_paths *pp, FILE *out)
{
	union path_addr remotes[PATH_MAX_PER_PEER];
	unsigned int n = path_table_configured(pp, remotes);
	char ep[80];

	for (unsigned int i = 0; i < n; i++) {
		endpoint_format(ep, sizeof(ep), &remotes[i].sa);
		fprintf(out, "%s%s", i ? ", " : "xwg_endpoints=", ep);
	}
	if (n)
		fputc('\n', out);
}

/*
 * A multi-path peer's paths (path.h), one line each, fields separated by spaces: endpoint, local
 * address ("-": not known yet), state, RTT in us (0: no sample), ms since the last packet heard and
 * sent on it (-1: never), bytes received and sent while it was active. `xwg show` reads them.
 */
static void uapi_print_paths(struct peer *peer, FILE *out)
{
	const struct peer_paths *pp = &peer->paths;
	uint64_t now = now_ns();
	char ep[80], local[INET6_ADDRSTRLEN + IF_NAMESIZE + 1], name[IF_NAMESIZE];

	if (!path_multi(pp))
		return;
	fprintf(out, "xwg_path_policy=%s\nxwg_path_probe_interval=%" PRIu64 "\nxwg_path_switches=%" PRIu64 "\n",
		path_policy_name((enum path_policy)pp->policy), (uint64_t)(path_probe_interval_ns(pp) / NSEC_PER_SEC),
		pp->switches);
	uapi_print_configured(pp, out);
	for (unsigned int i = 0; i < pp->n; i++) {
		const struct path *p = &pp->p[i];

		endpoint_format(ep, sizeof(ep), &p->remote.sa);
		if (!p->has_local || !inet_ntop(p->remote.sa.sa_family, p->local, local, sizeof(local)))
			strcpy(local, "-");
		/* A path over one uplink: ADDRESS%INTERFACE, as a scoped address reads. */
		else if (p->uplink && if_indextoname((unsigned int)p->ifindex, name))
			snprintf(local + strlen(local), sizeof(local) - strlen(local), "%%%s", name);
		fprintf(out, "xwg_path=%s %s %s %" PRIu64 " %lld %lld %" PRIu64 " %" PRIu64 "\n", ep, local,
			p->down ? "down" : path_state_name((enum path_state)p->state), p->rtt_ns / 1000,
			uapi_age_ms(now, p->last_rx_ns), uapi_age_ms(now, p->last_tx_ns), p->rx_bytes, p->tx_bytes);
	}
}

static void uapi_print_peer(struct xwg_device *dev, struct peer *peer, FILE *out)
{
	char hex[KEY_HEX_LEN + 1], ep[80];
	struct offload_peer_stats st;
	const char *why;

	if (offload_peer_stats(peer, &st))
		memset(&st, 0, sizeof(st));
	key_to_hex(hex, peer->public_key);
	fprintf(out, "public_key=%s\n", hex);
	key_to_hex(hex, peer->preshared_key);
	fprintf(out, "preshared_key=%s\n", hex);
	crypto_zero(hex, sizeof(hex));
	fprintf(out, "protocol_version=1\n");
	if (peer->endpoint.addr.sa.sa_family) {
		endpoint_format(ep, sizeof(ep), &peer->endpoint.addr.sa);
		fprintf(out, "endpoint=%s\n", ep);
	}
	fprintf(out, "last_handshake_time_sec=%lld\n", (long long)peer->last_handshake.tv_sec);
	fprintf(out, "last_handshake_time_nsec=%ld\n", (long)peer->last_handshake.tv_nsec);
	fprintf(out, "tx_bytes=%" PRIu64 "\n", peer->tx_bytes + st.tx_bytes);
	fprintf(out, "rx_bytes=%" PRIu64 "\n", peer->rx_bytes + st.rx_bytes);
	fprintf(out, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive_interval);
	allowedips_walk_by_peer(&dev->allowedips, peer, uapi_print_allowed_ip, out);
	/* Our own keys, last: wg ignores keys it does not know, at device and peer level alike. */
	fprintf(out, "xwg_bpf_rx_packets=%" PRIu64 "\nxwg_bpf_tx_packets=%" PRIu64 "\n",
		st.rx_packets, st.tx_packets);
	fprintf(out, "xwg_bpf_rx_bytes=%" PRIu64 "\nxwg_bpf_tx_bytes=%" PRIu64 "\n", st.rx_bytes, st.tx_bytes);
	fprintf(out, "xwg_agent_rx_packets=%" PRIu64 "\nxwg_agent_tx_packets=%" PRIu64 "\n",
		peer->agent_rx_packets, peer->agent_tx_packets);
	fprintf(out, "xwg_agent_rx_bytes=%" PRIu64 "\nxwg_agent_tx_bytes=%" PRIu64 "\n",
		peer->agent_rx_bytes, peer->agent_tx_bytes);
	/* Of the agent's: sealed or opened in a batch with others. */
	fprintf(out, "xwg_batch_rx_packets=%" PRIu64 "\nxwg_batch_tx_packets=%" PRIu64 "\n",
		peer->batch_rx_packets, peer->batch_tx_packets);
	fprintf(out, "xwg_batch_rx_bytes=%" PRIu64 "\nxwg_batch_tx_bytes=%" PRIu64 "\n",
		peer->batch_rx_bytes, peer->batch_tx_bytes);
	fprintf(out, "xwg_handshake_initiations_sent=%" PRIu64 "\nxwg_handshake_responses_sent=%" PRIu64 "\n",
		peer->hs_initiations_sent, peer->hs_responses_sent);
	fprintf(out, "xwg_handshake_initiations_received=%" PRIu64 "\nxwg_handshake_responses_received=%" PRIu64
		"\n", peer->hs_initiations_received, peer->hs_responses_received);
	fprintf(out, "xwg_handshake_timeouts=%" PRIu64 "\nxwg_handshakes_given_up=%" PRIu64 "\n",
		peer->hs_timeouts, peer->hs_given_up);
	/* The name the endpoint is looked up again from, while it is in use (not after roaming). */
	if (peer->endpoint_name.host[0] && !peer->endpoint_name.learned) {
		fprintf(out, "xwg_endpoint_host=");
		uapi_print_text(out, peer->endpoint_name.host);
		fputc('\n', out);
	}
	uapi_print_paths(peer, out);
	why = offload_peer_refused(peer);
	if (*why) {
		fprintf(out, "xwg_offload_off=");
		uapi_print_text(out, why);
		fputc('\n', out);
	}
}

/* A reason is free text from libbpf and the kernel: one line, bounded, whatever it holds. */
static void uapi_print_text(FILE *out, const char *s)
{
	for (size_t i = 0; s[i] && i < UAPI_REASON_MAX; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i], out);
}

/* The data path: active mode, why better ones were refused, underlays, non-zero BPF counters. */
static void uapi_print_offload(struct xwg_device *dev, FILE *out)
{
	enum offload_mode active = offload_active_mode(dev);
	const char *names[OFFLOAD_REPORT_UNDERLAY];
	uint64_t counts[XWG_R_MAX];
	uint32_t bulk, tx_bulk;
	int m, n;

	fprintf(out, "xwg_mode=%s\n", offload_mode_name(active));
	/* The agent's batched path (once it has a TUN): crypto threads, TUN offloads, UDP GSO. */
	if (dev->tun_fd >= 0)
		fprintf(out, "xwg_agent_threads=%u\nxwg_agent_tun_offload=%s\nxwg_agent_udp_gso=%d\n", parallel_threads(),
			dev->tun_vnet ? (dev->tun_uso ? "tso,uso" : "tso") : "none", !dev->no_udp_gso);
	/* auto's per-packet choice is on: its receive threshold (0: every data message in BPF). */
	if (offload_hybrid(dev, &bulk, &tx_bulk))
		fprintf(out, "xwg_hybrid_rx_bulk_len=%u\nxwg_hybrid_tx_bulk_len=%u\n", bulk, tx_bulk);
	/* The enum runs from worst (tun) to best (xdp). */
	for (m = OFFLOAD_XDP; m > (int)active; m--) {
		const char *why = offload_refused(dev, (enum offload_mode)m);

		if (!why || !*why)
			continue;
		fprintf(out, "xwg_refused=%s:", offload_mode_name((enum offload_mode)m));
		uapi_print_text(out, why);
		fputc('\n', out);
	}
	n = offload_underlay(dev, names, OFFLOAD_REPORT_UNDERLAY);
	for (int i = 0; i < n; i++)
		fprintf(out, "xwg_underlay=%s\n", names[i]);
	if (offload_underlay_skipped(dev)[0]) {
		fprintf(out, "xwg_skipped=");
		uapi_print_text(out, offload_underlay_skipped(dev));
		fputc('\n', out);
	}
	if (offload_reason_counts(dev, counts))
		memset(counts, 0, sizeof(counts));
	/* The agent's own fail-closed drops, next to BPF's. */
	counts[XWG_R_AGENT_NO_COUNTER] += dev->tx_keypair_retired;
	counts[XWG_R_AGENT_NO_REPLAY_CHECK] += dev->rx_replay_unchecked;
	counts[XWG_R_AGENT_UNROUTABLE] += dev->tx_unroutable;
	counts[XWG_R_AGENT_ICMP_UNREACH] += dev->icmp_unreach_sent;
	counts[XWG_R_AGENT_RX_DROP] += dev->rx_dropped;
	for (unsigned int r = 0; r < XWG_R_MAX; r++)
		if (counts[r])
			fprintf(out, "xwg_reason=%s:%" PRIu64 "\n", xwg_reason_key(r), counts[r]);
	/* Like the reasons, only once there is something to count. */
	if (dev->cookies_sent)
		fprintf(out, "xwg_cookie_replies_sent=%" PRIu64 "\n", dev->cookies_sent);
	if (dev->cookies_received)
		fprintf(out, "xwg_cookie_replies_received=%" PRIu64 "\n", dev->cookies_received);
	/* This process's metrics server (metrics_http.c), if --metrics-listen started one. */
	if (metrics_http_url()[0])
		fprintf(out, "xwg_metrics=%s\n", metrics_http_url());
}

static void uapi_get(struct xwg_device *dev, FILE *out)
{
	char hex[KEY_HEX_LEN + 1];
	struct peer *peer;

	if (dev->has_identity) {
		key_to_hex(hex, dev->static_private);
		fprintf(out, "private_key=%s\n", hex);
		crypto_zero(hex, sizeof(hex));
	}
	if (dev->listen_port)
		fprintf(out, "listen_port=%u\n", dev->listen_port);
	if (dev->fwmark)
		fprintf(out, "fwmark=%u\n", dev->fwmark);
	uapi_print_offload(dev, out);
	for (peer = dev->peers; peer; peer = peer->next_peer)
		uapi_print_peer(dev, peer, out);
}

/* ---- set ---- */

struct uapi_set {
	struct xwg_device *dev;
	bool in_peers;		/* a public_key was seen: device keys are no longer accepted */
	struct peer *peer;	/* target of peer keys; NULL while a block is being ignored */
	bool created;		/* peer was created by this block (update_only undoes that) */
};

static int uapi_parse_true(const char *value)
{
	return strcmp(value, "true") ? -EINVAL : 0;
}

static int uapi_set_private_key(struct xwg_device *dev, const char *value)
{
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	int ret;

	/* The device clamps it (all zeros stays "no identity"), so a get reports the clamped key. */
	ret = key_from_hex(key, value);
	if (!ret)
		ret = device_set_private_key(dev, key);
	crypto_zero(key, sizeof(key));
	return ret;
}

/* xwg_attach=DEV / xwg_detach=DEV: our own device keys, which wg never sends. */
static int uapi_set_underlay(struct xwg_device *dev, bool attach, const char *ifname)
{
	if (!*ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	return attach ? offload_attach(dev, ifname) : offload_detach(dev, ifname);
}

static int uapi_set_device_key(struct uapi_set *st, const char *key, const char *value)
{
	uint64_t v;
	int ret;

	if (!strcmp(key, "private_key"))
		return uapi_set_private_key(st->dev, value);
	if (!strcmp(key, "listen_port")) {
		ret = uint_parse(value, 65535, &v);
		return ret ? ret : device_set_listen_port(st->dev, (uint16_t)v);
	}
	if (!strcmp(key, "fwmark")) {
		ret = uint_parse(value, UINT32_MAX, &v);
		return ret ? ret : device_set_fwmark(st->dev, (uint32_t)v);
	}
	if (!strcmp(key, "replace_peers")) {
		ret = uapi_parse_true(value);
		if (!ret)
			device_remove_all_peers(st->dev);
		return ret;
	}
	if (!strcmp(key, "xwg_attach") || !strcmp(key, "xwg_detach"))
		return uapi_set_underlay(st->dev, key[4] == 'a', value);
	return -EINVAL;
}

static int uapi_start_peer(struct uapi_set *st, const char *value)
{
	uint8_t key[NOISE_PUBLIC_KEY_LEN];
	struct xwg_device *dev = st->dev;
	int ret;

	st->in_peers = true;
	st->peer = NULL;
	st->created = false;
	ret = key_from_hex(key, value);
	if (ret)
		return ret;
	/* Configuring ourselves as a peer is meaningless; wg-quick users do it by accident. */
	if (dev->has_identity && crypto_equal(key, dev->static_public, sizeof(key)))
		return 0;
	st->peer = device_lookup_peer(dev, key);
	if (st->peer)
		return 0;
	st->peer = peer_create(dev, key);
	if (!st->peer)
		return errno ? -errno : -ENOMEM;
	st->created = true;
	return 0;
}

static int uapi_set_allowed_ip(struct uapi_set *st, const char *value)
{
	bool remove = value[0] == '-';
	struct xwg_prefix p;
	int ret;

	ret = prefix_parse(&p, value + remove, false);
	if (ret || !st->peer)
		return ret;
	if (!remove)
		return peer_add_allowed_ip(st->peer, p.family, p.addr, p.cidr);
	/* Removing a prefix the peer does not own is a no-op, not an error. */
	ret = peer_remove_allowed_ip(st->peer, p.family, p.addr, p.cidr);
	return ret == -ENOENT ? 0 : ret;
}

/*
 * "xwg_endpoints=a:port, b:port": the peer's configured paths, as "Endpoint =" in a file (address
 * literals, at most PATH_MAX_PER_PEER); every one is parsed before the peer changes.
 */
static int uapi_set_endpoints(struct peer *peer, const char *value)
{
	struct sockaddr_storage ss[PATH_MAX_PER_PEER];
	char buf[4 * 80], *save = NULL, *tok;
	unsigned int n = 0;
	int ret;

	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " \t");
		tok[strcspn(tok, " \t")] = '\0';
		if (n == PATH_MAX_PER_PEER || endpoint_parse(&ss[n], tok, false))
			return -EINVAL;
		n++;
	}
	if (!n)
		return -EINVAL;
	if (!peer)
		return 0;
	peer_set_endpoint(peer, (struct sockaddr *)&ss[0]);
	for (unsigned int i = 1; i < n; i++) {
		ret = path_add_endpoint(peer, (struct sockaddr *)&ss[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* xwg's own peer keys: the multi-path extension (path.h). */
static int uapi_set_peer_paths(struct uapi_set *st, const char *key, const char *value)
{
	enum path_policy policy;
	uint64_t v;
	int ret;

	if (!strcmp(key, "xwg_endpoints"))
		return uapi_set_endpoints(st->peer, value);
	if (!strcmp(key, "xwg_path_policy")) {
		if (path_policy_parse(value, &policy))
			return -EINVAL;
		if (st->peer)
			st->peer->paths.policy = (uint8_t)policy;
		return 0;
	}
	if (!strcmp(key, "xwg_path_probe_interval")) {
		ret = uint_parse(value, 3600, &v);
		if (ret || !v)
			return -EINVAL;
		if (st->peer)
			st->peer->paths.probe_interval_s = (uint16_t)v;
		return 0;
	}
	return -EINVAL;
}

/* Values are validated even inside an ignored block, so a bad line is reported wherever it is. */
static int uapi_set_peer_key(struct uapi_set *st, const char *key, const char *value)
{
	struct peer *peer = st->peer;
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	struct sockaddr_storage ss;
	uint64_t v;
	int ret;

	if (!strcmp(key, "remove") || !strcmp(key, "update_only")) {
		ret = uapi_parse_true(value);
		if (ret || !peer)
			return ret;
		/* update_only only undoes a creation; remove always deletes. */
		if (key[0] == 'r' || st->created) {
			peer_remove(peer);
			st->peer = NULL;
		}
		return 0;
	}
	if (!strcmp(key, "preshared_key")) {
		ret = key_from_hex(psk, value);
		if (!ret && peer)
			peer_set_preshared_key(peer, psk);
		crypto_zero(psk, sizeof(psk));
		return ret;
	}
	if (!strcmp(key, "endpoint")) {
		/* wg resolves names itself; the agent must never block on DNS. */
		ret = endpoint_parse(&ss, value, false);
		if (!ret && peer)
			peer_set_endpoint(peer, (struct sockaddr *)&ss);
		return ret ? -EINVAL : 0;
	}
	if (!strcmp(key, "persistent_keepalive_interval")) {
		ret = uint_parse(value, 65535, &v);
		if (!ret && peer)
			peer_set_persistent_keepalive(peer, (uint16_t)v);
		return ret;
	}
	if (!strcmp(key, "replace_allowed_ips")) {
		ret = uapi_parse_true(value);
		if (!ret && peer)
			peer_clear_allowed_ips(peer);
		return ret;
	}
	if (!strcmp(key, "allowed_ip"))
		return uapi_set_allowed_ip(st, value);
	if (!strcmp(key, "protocol_version"))
		return strcmp(value, "1") ? -EINVAL : 0;
	if (!strncmp(key, "xwg_", 4))
		return uapi_set_peer_paths(st, key, value);
	return -EINVAL;
}

static int uapi_set_line(struct uapi_set *st, char *line)
{
	char *value = strchr(line, '=');

	if (!value)
		return -EPROTO;
	*value++ = '\0';
	if (!strcmp(line, "public_key"))
		return uapi_start_peer(st, value);
	if (!st->in_peers)
		return uapi_set_device_key(st, line, value);
	return uapi_set_peer_key(st, line, value);
}

/*
 * Applies lines as they arrive until the empty line. After the first error the rest of the
 * request is only drained. Returns 0, the first error, or -ENODATA/-EIO when the stream ended
 * (a request cut short still counts: its lines are applied, as wireguard-go does).
 */
static int uapi_set(struct xwg_device *dev, FILE *in, int *stream_err)
{
	struct uapi_set st = { .dev = dev };
	char line[UAPI_LINE_MAX];
	int ret = 0, n;

	/* Lines apply as they are read, so even a failing set may have changed something. */
	dev->config_changed = true;
	while ((n = uapi_getline(in, line, sizeof(line))) != 0) {
		if (n == -ENODATA || n == -EIO) {
			*stream_err = n;
			break;
		}
		if (ret)
			continue;
		ret = n == -EMSGSIZE ? -EPROTO : uapi_set_line(&st, line);
	}
	crypto_zero(line, sizeof(line));
	if (!ret && *stream_err == -EIO)
		ret = -EIO;
	return ret;
}

/* A get carries no arguments: anything before the empty line is an error (drained). */
static int uapi_get_request(FILE *in, int *stream_err)
{
	char line[UAPI_LINE_MAX];
	int ret = 0, n;

	while ((n = uapi_getline(in, line, sizeof(line))) != 0) {
		if (n == -ENODATA || n == -EIO) {
			*stream_err = n;
			return -EIO;
		}
		ret = -EINVAL;
	}
	return ret;
}

void uapi_serve(struct xwg_device *dev, FILE *in, FILE *out)
{
	char line[UAPI_LINE_MAX];
	int stream_err = 0, ret;

	while (!stream_err && uapi_getline(in, line, sizeof(line)) >= 0) {
		if (!strcmp(line, "get=1")) {
			ret = uapi_get_request(in, &stream_err);
			/* Nobody is left to read a reply to a get cut off by EOF. */
			if (stream_err)
				break;
			if (!ret)
				uapi_get(dev, out);
		} else if (!strcmp(line, "set=1")) {
			ret = uapi_set(dev, in, &stream_err);
		} else {
			/* Not a protocol we speak (or a stray empty line): hang up like wireguard-go. */
			break;
		}
		fprintf(out, "errno=%d\n\n", ret);
		if (fflush(out) || ferror(out))
			break;
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg show`: a UAPI client that fetches an interface's state with get=1 and prints it for humans or as JSON. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "cli.h"
#include "crypto.h"
#include "encoding.h"
#include "show.h"
#include "xwg_reasons.h"

#define SHOW_LINE_MAX 512

/* ---- talking to the socket ---- */

static int show_connect(const char *ifname)
{
	/* The name becomes a path: keep it to what an interface name can be. */
	if (!*ifname || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') || ifname[0] == '.')
		return -ENODEV;
	return agent_connect(ifname);
}

/* A number in a reply; anything malformed is a protocol error. */
static int show_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	return uint_parse(s, max, out) ? -EPROTO : 0;
}

static int show_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int ret = show_parse_u64(s, max, &v);

	if (!ret)
		*out = (uint32_t)v;
	return ret;
}

static int show_add_peer(struct show_device *d, const char *hex)
{
	struct show_peer *p;

	if (d->n_peers == d->cap_peers) {
		size_t cap = d->cap_peers ? d->cap_peers * 2 : 8;

		/* Not realloc(): the old array holds preshared keys and must be wiped, not just freed. */
		p = malloc(cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		if (d->peers) {
			memcpy(p, d->peers, d->n_peers * sizeof(*p));
			crypto_zero(d->peers, d->cap_peers * sizeof(*p));
			free(d->peers);
		}
		d->peers = p;
		d->cap_peers = cap;
	}
	p = &d->peers[d->n_peers];
	memset(p, 0, sizeof(*p));
	if (key_from_hex(p->public_key, hex))
		return -EPROTO;
	d->n_peers++;
	return 0;
}

static int show_add_allowed_ip(struct show_peer *p, const char *s)
{
	struct xwg_prefix prefix;

	if (prefix_parse(&prefix, s, true))
		return -EPROTO;
	if (p->n_allowed == p->cap_allowed) {
		size_t cap = p->cap_allowed ? p->cap_allowed * 2 : 4;
		char (*a)[64] = realloc(p->allowed, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		p->allowed = a;
		p->cap_allowed = cap;
	}
	prefix_format(p->allowed[p->n_allowed++], sizeof(p->allowed[0]), &prefix);
	return 0;
}

/* "name:rest" with a non-empty name of at most namelen-1 characters from allowed. */
static int show_split(const char *value, const char *allowed, char *name, size_t namelen, const char **rest)
{
	size_t len = strcspn(value, ":");

	if (!len || len >= namelen || !value[len] || strspn(value, allowed) < len)
		return -EPROTO;
	memcpy(name, value, len);
	name[len] = '\0';
	*rest = value + len + 1;
	return 0;
}

static int show_add_refused(struct show_device *d, const char *value)
{
	char mode[sizeof(d->refused[0].mode)];
	struct show_refused *r;
	const char *reason;

	if (show_split(value, "abcdefghijklmnopqrstuvwxyz-", mode, sizeof(mode), &reason))
		return -EPROTO;
	if (d->n_refused == SHOW_MAX_REFUSED)
		return 0;
	r = &d->refused[d->n_refused++];
	strcpy(r->mode, mode);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	return 0;
}

static int show_add_underlay(struct show_device *d, const char *value)
{
	if (!*value || strlen(value) >= IFNAMSIZ)
		return -EPROTO;
	if (d->n_underlay < SHOW_MAX_UNDERLAY)
		strcpy(d->underlay[d->n_underlay++], value);
	return 0;
}

static int show_add_reason(struct show_device *d, const char *value)
{
	char key[sizeof(d->reasons[0].key)];
	const char *count;
	uint64_t n;
	size_t i;

	if (show_split(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", key, sizeof(key), &count) ||
	    show_parse_u64(count, UINT64_MAX, &n))
		return -EPROTO;
	/* A repeated key adds up, so the JSON object never holds one name twice. */
	for (i = 0; i < d->n_reasons && strcmp(d->reasons[i].key, key); i++)
		;
	if (i == SHOW_MAX_REASONS)
		return 0;
	if (i == d->n_reasons) {
		strcpy(d->reasons[i].key, key);
		d->reasons[i].count = 0;
		d->n_reasons++;
	}
	d->reasons[i].count += n;
	return 0;
}

static int show_device_line(struct show_device *d, const char *key, const char *value)
{
	int ret;

	if (!strcmp(key, "private_key")) {
		if (key_from_hex(d->private_key, value))
			return -EPROTO;
		d->has_key = !crypto_is_zero(d->private_key, sizeof(d->private_key));
		ret = d->has_key ? curve25519_generate_public(d->public_key, d->private_key) : 0;
		return ret ? -EPROTO : 0;
	}
	if (!strcmp(key, "listen_port"))
		return show_parse_u32(value, 65535, &d->listen_port);
	if (!strcmp(key, "fwmark"))
		return show_parse_u32(value, UINT32_MAX, &d->fwmark);
	if (!strcmp(key, "xwg_mode")) {
		if (!*value || strlen(value) >= sizeof(d->mode))
			return -EPROTO;
		strcpy(d->mode, value);
		return 0;
	}
	if (!strcmp(key, "xwg_hybrid_rx_bulk_len")) {
		d->hybrid = true;
		return show_parse_u32(value, UINT32_MAX, &d->rx_bulk_len);
	}
	if (!strcmp(key, "xwg_agent_threads"))
		return show_parse_u32(value, 1024, &d->agent_threads);
	if (!strcmp(key, "xwg_agent_udp_gso"))
		return show_parse_u32(value, 1, &d->agent_udp_gso);
	if (!strcmp(key, "xwg_agent_tun_offload")) {
		if (strlen(value) >= sizeof(d->agent_tun_offload))
			return -EPROTO;
		strcpy(d->agent_tun_offload, value);
		return 0;
	}
	if (!strcmp(key, "xwg_hybrid_tx_bulk_len")) {
		d->hybrid = true;
		return show_parse_u32(value, UINT32_MAX, &d->tx_bulk_len);
	}
	if (!strcmp(key, "xwg_refused"))
		return show_add_refused(d, value);
	if (!strcmp(key, "xwg_underlay"))
		return show_add_underlay(d, value);
	if (!strcmp(key, "xwg_skipped")) {
		snprintf(d->skipped, sizeof(d->skipped), "%s", value);
		return 0;
	}
	if (!strcmp(key, "xwg_reason"))
		return show_add_reason(d, value);
	if (!strcmp(key, "xwg_cookie_replies_sent"))
		return show_parse_u64(value, UINT64_MAX, &d->cookies_sent);
	if (!strcmp(key, "xwg_cookie_replies_received"))
		return show_parse_u64(value, UINT64_MAX, &d->cookies_received);
	if (!strcmp(key, "xwg_metrics")) {
		if (strlen(value) >= sizeof(d->metrics_url))
			return -EPROTO;
		strcpy(d->metrics_url, value);
		return 0;
	}
	return 0;
}

/* xwg's per-peer counters (0 from other servers). */
#define SHOW_COUNTER(key, field) { key, offsetof(struct show_peer, field) }
static const struct {
	const char *key;
	size_t offset;
} show_peer_counters[] = {
	SHOW_COUNTER("xwg_bpf_rx_packets", bpf_rx_packets),
	SHOW_COUNTER("xwg_bpf_tx_packets", bpf_tx_packets),
	SHOW_COUNTER("xwg_bpf_rx_bytes", bpf_rx_bytes),
	SHOW_COUNTER("xwg_bpf_tx_bytes", bpf_tx_bytes),
	SHOW_COUNTER("xwg_agent_rx_packets", agent_rx_packets),
	SHOW_COUNTER("xwg_agent_tx_packets", agent_tx_packets),
	SHOW_COUNTER("xwg_agent_rx_bytes", agent_rx_bytes),
	SHOW_COUNTER("xwg_agent_tx_bytes", agent_tx_bytes),
	SHOW_COUNTER("xwg_batch_rx_packets", batch_rx_packets),
	SHOW_COUNTER("xwg_batch_tx_packets", batch_tx_packets),
	SHOW_COUNTER("xwg_batch_rx_bytes", batch_rx_bytes),
	SHOW_COUNTER("xwg_batch_tx_bytes", batch_tx_bytes),
	SHOW_COUNTER("xwg_handshake_initiations_sent", hs_initiations_sent),
	SHOW_COUNTER("xwg_handshake_responses_sent", hs_responses_sent),
	SHOW_COUNTER("xwg_handshake_initiations_received", hs_initiations_received),
	SHOW_COUNTER("xwg_handshake_responses_received", hs_responses_received),
	SHOW_COUNTER("xwg_handshake_timeouts", hs_timeouts),
	SHOW_COUNTER("xwg_handshakes_given_up", hs_given_up),
};
#undef SHOW_COUNTER

static int show_peer_line(struct show_peer *p, const char *key, const char *value)
{
	uint64_t v;
	int ret;

	if (!strcmp(key, "preshared_key")) {
		if (key_from_hex(p->psk, value))
			return -EPROTO;
		p->has_psk = !crypto_is_zero(p->psk, sizeof(p->psk));
		return 0;
	}
	if (!strcmp(key, "endpoint")) {
		if (!*value || strlen(value) >= sizeof(p->endpoint))
			return -EPROTO;
		strcpy(p->endpoint, value);
		return 0;
	}
	if (!strcmp(key, "last_handshake_time_sec")) {
		if (show_parse_u64(value, INT64_MAX, &v))
			return -EPROTO;
		p->handshake_sec = (int64_t)v;
		return 0;
	}
	if (!strcmp(key, "rx_bytes"))
		return show_parse_u64(value, UINT64_MAX, &p->rx_bytes);
	if (!strcmp(key, "tx_bytes"))
		return show_parse_u64(value, UINT64_MAX, &p->tx_bytes);
	if (!strcmp(key, "persistent_keepalive_interval"))
		return show_parse_u32(value, 65535, &p->keepalive);
	if (!strcmp(key, "allowed_ip"))
		return show_add_allowed_ip(p, value);
	for (size_t i = 0; i < sizeof(show_peer_counters) / sizeof(show_peer_counters[0]); i++)
		if (!strcmp(key, show_peer_counters[i].key))
			return show_parse_u64(value, UINT64_MAX,
					      (uint64_t *)((char *)p + show_peer_counters[i].offset));
	if (!strcmp(key, "xwg_endpoint_host")) {
		snprintf(p->endpoint_host, sizeof(p->endpoint_host), "%s", value);
		return 0;
	}
	ret = show_path_line(p, key, value);
	if (ret <= 0)
		return ret;
	if (!strcmp(key, "xwg_offload_off")) {
		snprintf(p->offload_off, sizeof(p->offload_off), "%s", value);
		return 0;
	}
	/* Like wg: unknown keys (and protocol_version, last_handshake_time_nsec) are not our business. */
	return 0;
}

/* Returns 1 when the reply is complete (see d->server_errno), 0 to continue, or -EPROTO/-ENOMEM. */
static int show_parse_line(struct show_device *d, char *line)
{
	char *value = strchr(line, '=');
	uint32_t err;

	if (!value)
		return -EPROTO;
	*value++ = '\0';
	if (!strcmp(line, "errno")) {
		/* Servers send the negative errno; accept the positive form too. */
		if (show_parse_u32(value + (value[0] == '-'), 4095, &err))
			return -EPROTO;
		d->server_errno = -(int)err;
		return 1;
	}
	if (!strcmp(line, "public_key"))
		return show_add_peer(d, value);
	if (!d->n_peers)
		return show_device_line(d, line, value);
	return show_peer_line(&d->peers[d->n_peers - 1], line, value);
}

static int show_read_reply(struct show_device *d, FILE *in)
{
	char line[SHOW_LINE_MAX];
	size_t len;
	int ret = 0;

	while (ret == 0) {
		if (!fgets(line, sizeof(line), in)) {
			/* The socket's receive timeout (agent_connect) reads as EAGAIN: say that it was one. */
			ret = !ferror(in) ? -EPROTO : errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -EIO;
			break;
		}
		len = strlen(line);
		if (!len || line[len - 1] != '\n') {
			ret = -EPROTO;
			break;
		}
		line[len - 1] = '\0';
		ret = show_parse_line(d, line);
	}
	/* The reply carried the private key. */
	crypto_zero(line, sizeof(line));
	return ret < 0 ? ret : 0;
}

/* The private and preshared keys were in here. */
void show_device_free(struct show_device *d)
{
	for (size_t i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowed);
	if (d->peers)
		crypto_zero(d->peers, d->cap_peers * sizeof(*d->peers));
	free(d->peers);
	crypto_zero(d, sizeof(*d));
}

static void show_connect_error(const char *ifname, int err)
{
	if (err == -ENOENT || err == -ECONNREFUSED || err == -ENODEV)
		fprintf(stderr, "xwg: %s: no such interface (is the agent running?)\n", ifname);
	else
		fprintf(stderr, "xwg: %s: cannot connect to the agent: %s\n", ifname, strerror(-err));
}

int show_fetch(const char *ifname, struct show_device *d, bool report)
{
	static const char req[] = "get=1\n\n";
	char inbuf[BUFSIZ];	/* the reply carries the private key: a stdio buffer we can wipe */
	FILE *in;
	int fd, ret;

	fd = show_connect(ifname);
	if (fd < 0) {
		if (report)
			show_connect_error(ifname, fd);
		return fd;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1) {
		ret = errno ? -errno : -EIO;
		close(fd);
		goto err;
	}
	in = fdopen(fd, "r");
	if (!in) {
		ret = -errno;
		close(fd);
		goto err;
	}
	setvbuf(in, inbuf, _IOFBF, sizeof(inbuf));
	ret = show_read_reply(d, in);
	fclose(in);
	crypto_zero(inbuf, sizeof(inbuf));
	if (!ret && d->server_errno) {
		if (report)
			fprintf(stderr, "xwg: %s: the agent refused: %s\n", ifname, strerror(-d->server_errno));
		return d->server_errno;
	}
	if (!ret || !report)
		return ret;
err:
	if (!report)
		return ret;
	if (ret == -EPROTO)
		fprintf(stderr, "xwg: %s: malformed reply from the agent\n", ifname);
	else
		fprintf(stderr, "xwg: %s: talking to the agent: %s\n", ifname, strerror(-ret));
	return ret;
}

int show_get_mode(const char *ifname, char *mode, size_t len)
{
	struct show_device d = { 0 };
	int ret;

	ret = show_fetch(ifname, &d, false);
	if (!ret && !d.mode[0])
		ret = -ENOENT;
	if (!ret)
		snprintf(mode, len, "%s", d.mode);
	show_device_free(&d);
	return ret;
}

/* ---- human output (mirrors wg show) ---- */

static void show_pretty_time(FILE *out, uint64_t secs)
{
	static const struct { uint64_t len; const char *name; } units[] = {
		{ 365ULL * 24 * 3600, "year" }, { 24 * 3600, "day" }, { 3600, "hour" },
		{ 60, "minute" }, { 1, "second" },
	};
	bool first = true;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = secs / units[i].len;

		if (!n)
			continue;
		secs %= units[i].len;
		fprintf(out, "%s%" PRIu64 " %s%s", first ? "" : ", ", n, units[i].name, n == 1 ? "" : "s");
		first = false;
	}
}

static void show_handshake(FILE *out, int64_t when)
{
	int64_t now = time(NULL);

	fprintf(out, "  latest handshake: ");
	if (when == now) {
		fprintf(out, "Now");
	} else if (when > now) {
		fprintf(out, "in the future (system clock wound backward?)");
	} else {
		show_pretty_time(out, (uint64_t)(now - when));
		fprintf(out, " ago");
	}
	fprintf(out, "\n");
}

static void show_bytes(FILE *out, uint64_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = -1;

	if (b < 1024) {
		fprintf(out, "%" PRIu64 " B", b);
		return;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	fprintf(out, "%.2f %s", v, units[i]);
}

/* "  in BPF: 12 rx / 34 tx packets, 1.20 KiB received, 3.40 KiB sent": what one path carried. */
static void show_path(FILE *out, const char *path, uint64_t rx_packets, uint64_t tx_packets, uint64_t rx_bytes,
		      uint64_t tx_bytes)
{
	fprintf(out, "  %s: %" PRIu64 " rx / %" PRIu64 " tx packets, ", path, rx_packets, tx_packets);
	show_bytes(out, rx_bytes);
	fprintf(out, " received, ");
	show_bytes(out, tx_bytes);
	fprintf(out, " sent\n");
}

static void show_human_peer(FILE *out, const struct show_peer *p, bool offloaded)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, p->public_key);
	fprintf(out, "\npeer: %s\n", b64);
	if (p->has_psk)
		fprintf(out, "  preshared key: (hidden)\n");
	if (p->endpoint[0] && p->endpoint_host[0])
		fprintf(out, "  endpoint: %s (%s)\n", p->endpoint, p->endpoint_host);
	else if (p->endpoint[0])
		fprintf(out, "  endpoint: %s\n", p->endpoint);
	fprintf(out, "  allowed ips: ");
	for (size_t i = 0; i < p->n_allowed; i++)
		fprintf(out, "%s%s", i ? ", " : "", p->allowed[i]);
	fprintf(out, "%s\n", p->n_allowed ? "" : "(none)");
	if (p->handshake_sec)
		show_handshake(out, p->handshake_sec);
	if (p->rx_bytes || p->tx_bytes) {
		fprintf(out, "  transfer: ");
		show_bytes(out, p->rx_bytes);
		fprintf(out, " received, ");
		show_bytes(out, p->tx_bytes);
		fprintf(out, " sent\n");
	}
	if (p->keepalive) {
		fprintf(out, "  persistent keepalive: every ");
		show_pretty_time(out, p->keepalive);
		fprintf(out, "\n");
	}
	/* In tun mode the agent handles everything: the split says nothing then. */
	if (p->bpf_rx_packets || p->bpf_tx_packets ||
	    (offloaded && (p->agent_rx_packets || p->agent_tx_packets))) {
		show_path(out, "in BPF", p->bpf_rx_packets, p->bpf_tx_packets, p->bpf_rx_bytes, p->bpf_tx_bytes);
		show_path(out, "in agent", p->agent_rx_packets, p->agent_tx_packets, p->agent_rx_bytes,
			  p->agent_tx_bytes);
	}
	if (p->batch_rx_packets || p->batch_tx_packets)
		show_path(out, "agent in batches", p->batch_rx_packets, p->batch_tx_packets, p->batch_rx_bytes,
			  p->batch_tx_bytes);
	if (p->hs_initiations_sent || p->hs_initiations_received || p->hs_timeouts)
		fprintf(out, "  handshake messages: %" PRIu64 " initiations / %" PRIu64 " responses sent, %" PRIu64
			" / %" PRIu64 " received, %" PRIu64 " timed out, %" PRIu64 " given up\n",
			p->hs_initiations_sent, p->hs_responses_sent, p->hs_initiations_received,
			p->hs_responses_received, p->hs_timeouts, p->hs_given_up);
	if (p->offload_off[0])
		fprintf(out, "  offload: off (%s)\n", p->offload_off);
	show_path_human(out, p);
}

static const char *show_reason_desc(const char *key)
{
	for (unsigned int r = 0; r < XWG_R_MAX; r++)
		if (!strcmp(xwg_reason_key(r), key))
			return xwg_reason_desc(r);
	return "(unknown to this xwg)";
}

static void show_human_offload(FILE *out, const struct show_device *d)
{
	fprintf(out, "  data path: %s", d->mode[0] ? d->mode : "unknown");
	for (size_t i = 0; i < d->n_underlay; i++)
		fprintf(out, "%s%s", i ? ", " : " (on ", d->underlay[i]);
	fprintf(out, "%s\n", d->n_underlay ? ")" : "");
	for (size_t i = 0; i < d->n_refused; i++)
		fprintf(out, "  refused: %s: %s\n", d->refused[i].mode, d->refused[i].reason);
	if (d->agent_threads)
		fprintf(out, "  agent path: %u crypto thread%s, TUN offload %s, UDP GSO %s\n", d->agent_threads,
			d->agent_threads == 1 ? "" : "s", d->agent_tun_offload[0] ? d->agent_tun_offload : "none",
			d->agent_udp_gso ? "on" : "off");
	if (d->hybrid) {
		fprintf(out, "  auto: bulk via the agent (GSO sends");
		if (d->tx_bulk_len)
			fprintf(out, ", packets from %u bytes", d->tx_bulk_len);
		if (d->rx_bulk_len)
			fprintf(out, ", data messages from %u bytes", d->rx_bulk_len);
		fprintf(out, "), the rest in BPF\n");
	}
	if (d->skipped[0])
		fprintf(out, "  not attached to: %s\n", d->skipped);
	if (d->metrics_url[0])
		fprintf(out, "  metrics: %s\n", d->metrics_url);
	if (!d->n_reasons)
		return;
	fprintf(out, "  bpf counters:\n");
	for (size_t i = 0; i < d->n_reasons; i++)
		fprintf(out, "    %-15s %12" PRIu64 "  %s\n", d->reasons[i].key, d->reasons[i].count,
			show_reason_desc(d->reasons[i].key));
}

static void show_human(FILE *out, const char *ifname, const struct show_device *d)
{
	char b64[KEY_B64_LEN + 1];

	fprintf(out, "interface: %s\n", ifname);
	if (d->has_key) {
		key_to_base64(b64, d->public_key);
		fprintf(out, "  public key: %s\n  private key: (hidden)\n", b64);
	}
	if (d->listen_port)
		fprintf(out, "  listening port: %u\n", d->listen_port);
	if (d->fwmark)
		fprintf(out, "  fwmark: 0x%x\n", d->fwmark);
	show_human_offload(out, d);
	for (size_t i = 0; i < d->n_peers; i++)
		show_human_peer(out, &d->peers[i], d->mode[0] && strcmp(d->mode, "tun"));
}

/* ---- JSON output ---- */

void show_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void show_json_key(FILE *out, const uint8_t key[32])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	show_json_string(out, b64);
}

static void show_json_peer(FILE *out, const struct show_peer *p)
{
	fprintf(out, "{\"public_key\":");
	show_json_key(out, p->public_key);
	fprintf(out, ",\"preshared_key\":%s,\"endpoint\":", p->has_psk ? "true" : "false");
	if (p->endpoint[0])
		show_json_string(out, p->endpoint);
	else
		fprintf(out, "null");
	fprintf(out, ",\"endpoint_host\":");
	if (p->endpoint_host[0])
		show_json_string(out, p->endpoint_host);
	else
		fprintf(out, "null");
	fprintf(out, ",\"allowed_ips\":[");
	for (size_t i = 0; i < p->n_allowed; i++) {
		if (i)
			fputc(',', out);
		show_json_string(out, p->allowed[i]);
	}
	fprintf(out, "],\"latest_handshake\":%" PRId64 ",\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		",\"persistent_keepalive\":%u", p->handshake_sec, p->rx_bytes, p->tx_bytes, p->keepalive);
	fprintf(out, ",\"bpf_rx_packets\":%" PRIu64 ",\"bpf_tx_packets\":%" PRIu64 ",\"bpf_rx_bytes\":%" PRIu64
		",\"bpf_tx_bytes\":%" PRIu64 ",\"agent_rx_packets\":%" PRIu64 ",\"agent_tx_packets\":%" PRIu64
		",\"agent_rx_bytes\":%" PRIu64 ",\"agent_tx_bytes\":%" PRIu64,
		p->bpf_rx_packets, p->bpf_tx_packets, p->bpf_rx_bytes, p->bpf_tx_bytes, p->agent_rx_packets,
		p->agent_tx_packets, p->agent_rx_bytes, p->agent_tx_bytes);
	fprintf(out, ",\"batch_rx_packets\":%" PRIu64 ",\"batch_tx_packets\":%" PRIu64 ",\"batch_rx_bytes\":%" PRIu64
		",\"batch_tx_bytes\":%" PRIu64, p->batch_rx_packets, p->batch_tx_packets, p->batch_rx_bytes,
		p->batch_tx_bytes);
	fprintf(out, ",\"handshakes\":{\"initiations_sent\":%" PRIu64 ",\"responses_sent\":%" PRIu64
		",\"initiations_received\":%" PRIu64 ",\"responses_received\":%" PRIu64 ",\"timeouts\":%" PRIu64
		",\"given_up\":%" PRIu64 "}", p->hs_initiations_sent, p->hs_responses_sent, p->hs_initiations_received,
		p->hs_responses_received, p->hs_timeouts, p->hs_given_up);
	fprintf(out, ",\"offload_off\":");
	if (p->offload_off[0])
		show_json_string(out, p->offload_off);
	else
		fprintf(out, "null");
	show_path_json(out, p);
	fputc('}', out);
}

/* Always present, empty when the server is not xwg, so scripts need no existence checks. */
static void show_json_offload(FILE *out, const struct show_device *d)
{
	/* auto's per-packet choice: null when the device keeps everything it can in BPF (or is tun). */
	if (d->agent_threads) {
		fprintf(out, ",\"agent_path\":{\"threads\":%u,\"tun_offload\":", d->agent_threads);
		show_json_string(out, d->agent_tun_offload);
		fprintf(out, ",\"udp_gso\":%s}", d->agent_udp_gso ? "true" : "false");
	} else {
		fprintf(out, ",\"agent_path\":null");
	}
	if (d->hybrid)
		fprintf(out, ",\"hybrid\":{\"rx_bulk_len\":%u,\"tx_bulk_len\":%u}", d->rx_bulk_len,
			d->tx_bulk_len);
	else
		fprintf(out, ",\"hybrid\":null");
	fprintf(out, ",\"refused\":{");
	for (size_t i = 0; i < d->n_refused; i++) {
		fprintf(out, "%s", i ? "," : "");
		show_json_string(out, d->refused[i].mode);
		fputc(':', out);
		show_json_string(out, d->refused[i].reason);
	}
	fprintf(out, "},\"underlay\":[");
	for (size_t i = 0; i < d->n_underlay; i++) {
		fprintf(out, "%s", i ? "," : "");
		show_json_string(out, d->underlay[i]);
	}
	fprintf(out, "]");
	/* Only when there is something: candidates xwg did not attach to, and why. */
	if (d->skipped[0]) {
		fprintf(out, ",\"skipped\":");
		show_json_string(out, d->skipped);
	}
	fprintf(out, ",\"reasons\":{");
	for (size_t i = 0; i < d->n_reasons; i++) {
		fprintf(out, "%s", i ? "," : "");
		show_json_string(out, d->reasons[i].key);
		fprintf(out, ":%" PRIu64, d->reasons[i].count);
	}
	fprintf(out, "},\"cookie_replies\":{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 "},\"metrics\":",
		d->cookies_sent, d->cookies_received);
	if (d->metrics_url[0])
		show_json_string(out, d->metrics_url);
	else
		fprintf(out, "null");
}

static void show_json(FILE *out, const char *ifname, const struct show_device *d)
{
	fprintf(out, "{\"interface\":");
	show_json_string(out, ifname);
	fprintf(out, ",\"public_key\":");
	if (d->has_key)
		show_json_key(out, d->public_key);
	else
		fprintf(out, "null");
	fprintf(out, ",\"listen_port\":%u,\"fwmark\":%u,\"mode\":", d->listen_port, d->fwmark);
	if (d->mode[0])
		show_json_string(out, d->mode);
	else
		fprintf(out, "null");
	show_json_offload(out, d);
	fprintf(out, ",\"peers\":[");
	for (size_t i = 0; i < d->n_peers; i++) {
		if (i)
			fputc(',', out);
		show_json_peer(out, &d->peers[i]);
	}
	fprintf(out, "]}\n");
}

int show_print(const char *ifname, bool json, FILE *out)
{
	struct show_device d = { 0 };
	int ret;

	ret = show_fetch(ifname, &d, true);
	if (ret)
		goto out;
	if (json)
		show_json(out, ifname, &d);
	else
		show_human(out, ifname, &d);
	if (fflush(out) || ferror(out))
		ret = -EIO;
out:
	show_device_free(&d);
	return ret;
}

/* ---- the configuration file (wg showconf) ---- */

static void show_conf_key(FILE *out, const char *name, const uint8_t key[32])
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, key);
	fprintf(out, "%s = %s\n", name, b64);
	crypto_zero(b64, sizeof(b64));
}

static void show_conf_print(FILE *out, const struct show_device *d, const char *interface_extra)
{
	fprintf(out, "[Interface]\n%s", interface_extra ? interface_extra : "");
	if (d->listen_port)
		fprintf(out, "ListenPort = %u\n", d->listen_port);
	if (d->fwmark)
		fprintf(out, "FwMark = 0x%x\n", d->fwmark);
	if (d->has_key)
		show_conf_key(out, "PrivateKey", d->private_key);
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct show_peer *p = &d->peers[i];

		fprintf(out, "\n[Peer]\n");
		show_conf_key(out, "PublicKey", p->public_key);
		if (p->has_psk)
			show_conf_key(out, "PresharedKey", p->psk);
		for (size_t j = 0; j < p->n_allowed; j++)
			fprintf(out, "%s%s", j ? ", " : "AllowedIPs = ", p->allowed[j]);
		if (p->n_allowed)
			fputc('\n', out);
		show_path_conf(out, p);
		if (p->keepalive)
			fprintf(out, "PersistentKeepalive = %u\n", p->keepalive);
	}
}

int show_conf(FILE *in, const char *interface_extra, FILE *out)
{
	struct show_device d = { 0 };
	int ret;

	ret = show_read_reply(&d, in);
	if (!ret && d.server_errno)
		ret = d.server_errno;
	if (!ret) {
		show_conf_print(out, &d, interface_extra);
		if (fflush(out) || ferror(out))
			ret = -EIO;
	}
	show_device_free(&d);
	return ret;
}

/* ---- listing ---- */

static int show_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An interface is listed only when its socket answers: stale files of killed agents are skipped. */
static bool show_is_live(const char *ifname)
{
	int fd = show_connect(ifname);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int show_list_interfaces(FILE *out)
{
	char **names = NULL, **tmp;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	dir = opendir(XWG_UAPI_DIR);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char *name;

		if (len <= 5 || len - 5 >= IFNAMSIZ || strcmp(de->d_name + len - 5, ".sock"))
			continue;
		name = strndup(de->d_name, len - 5);
		if (!name) {
			ret = -ENOMEM;
			break;
		}
		if (!show_is_live(name)) {
			free(name);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			tmp = realloc(names, cap * sizeof(*names));
			if (!tmp) {
				free(name);
				ret = -ENOMEM;
				break;
			}
			names = tmp;
		}
		names[n++] = name;
	}
	closedir(dir);
	if (!ret && n)
		qsort(names, n, sizeof(*names), show_cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (!ret)
			fprintf(out, "%s\n", names[i]);
		free(names[i]);
	}
	free(names);
	return ret ? ret : (int)n;
}

char *show_interface_names(int *err)
{
	char *names = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&names, &len);
	int ret;

	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	ret = show_list_interfaces(f);
	fclose(f);
	if (ret < 0 || !names) {
		free(names);
		*err = ret < 0 ? ret : -ENOMEM;
		return NULL;
	}
	*err = 0;
	return names;
}

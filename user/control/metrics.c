/* SPDX-License-Identifier: GPL-2.0 */
/* Prometheus text exposition of show's data model: prometheus_wireguard_exporter's wireguard_*, and xwg_*. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "crypto.h"
#include "encoding.h"
#include "metrics.h"
#include "show.h"
#include "xwg_reasons.h"

void metrics_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The start of a sample: NAME{interface="IF" (the caller adds labels, then metrics_value). */
static void metrics_begin(FILE *out, const char *name, const char *ifname)
{
	fprintf(out, "%s{interface=\"", name);
	metrics_label_value(out, ifname);
	fputc('"', out);
}

static void metrics_label(FILE *out, const char *name, const char *value)
{
	fprintf(out, ",%s=\"", name);
	metrics_label_value(out, value);
	fputc('"', out);
}

static void metrics_value(FILE *out, uint64_t v)
{
	fprintf(out, "} %" PRIu64 "\n", v);
}

static void metrics_peer_key(FILE *out, const struct show_peer *p)
{
	char b64[KEY_B64_LEN + 1];

	key_to_base64(b64, p->public_key);
	metrics_label(out, "public_key", b64);
}

/* The exporter's label set: interface, public_key, allowed_ips joined by commas without spaces. */
static void metrics_exporter_labels(FILE *out, const char *name, const char *ifname, const struct show_peer *p)
{
	metrics_begin(out, name, ifname);
	metrics_peer_key(out, p);
	fprintf(out, ",allowed_ips=\"");
	for (size_t i = 0; i < p->n_allowed; i++) {
		fputs(i ? "," : "", out);
		metrics_label_value(out, p->allowed[i]);
	}
	fputc('"', out);
}

/* ---- the families, each over all interfaces ---- */

static bool metrics_is_xwg(const struct show_device *d)
{
	return d->mode[0] != '\0';
}

static void metrics_exporter(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "wireguard_sent_bytes_total", "counter", "Bytes sent to the peer" },
		{ "wireguard_received_bytes_total", "counter", "Bytes received from the peer" },
		/* The exporter's words; the value is the UNIX time of the handshake (0: never). */
		{ "wireguard_latest_handshake_seconds", "gauge", "Seconds from the last handshake" },
	};

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < n; i++) {
			for (size_t k = 0; k < ifs[i].d->n_peers; k++) {
				const struct show_peer *p = &ifs[i].d->peers[k];
				uint64_t v = f == 0 ? p->tx_bytes : f == 1 ? p->rx_bytes : (uint64_t)p->handshake_sec;

				metrics_exporter_labels(out, fam[f].name, ifs[i].ifname, p);
				metrics_value(out, v);
			}
		}
	}
}

/* What one data path carried for a peer, one direction: packets and bytes. */
struct metrics_path_count {
	const char *path, *direction;
	uint64_t packets, bytes;
};

/* The single-message share is what the agent handled minus its batches (never below zero). */
static uint64_t metrics_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static size_t metrics_paths(const struct show_peer *p, struct metrics_path_count c[6])
{
	c[0] = (struct metrics_path_count){ "bpf", "rx", p->bpf_rx_packets, p->bpf_rx_bytes };
	c[1] = (struct metrics_path_count){ "bpf", "tx", p->bpf_tx_packets, p->bpf_tx_bytes };
	c[2] = (struct metrics_path_count){ "batched", "rx", p->batch_rx_packets, p->batch_rx_bytes };
	c[3] = (struct metrics_path_count){ "batched", "tx", p->batch_tx_packets, p->batch_tx_bytes };
	c[4] = (struct metrics_path_count){ "agent", "rx", metrics_sub(p->agent_rx_packets, p->batch_rx_packets),
					    metrics_sub(p->agent_rx_bytes, p->batch_rx_bytes) };
	c[5] = (struct metrics_path_count){ "agent", "tx", metrics_sub(p->agent_tx_packets, p->batch_tx_packets),
					    metrics_sub(p->agent_tx_bytes, p->batch_tx_bytes) };
	return 6;
}

static void metrics_data_paths(FILE *out, const struct metrics_iface *ifs, size_t n, bool bytes)
{
	const char *name = bytes ? "xwg_peer_data_bytes_total" : "xwg_peer_data_packets_total";
	struct metrics_path_count c[6];

	metrics_family(out, name, "counter", bytes ?
		       "Bytes of data messages (UDP payload) by data path (bpf, batched, agent) and direction" :
		       "Data messages by data path (bpf, batched, agent) and direction");
	for (size_t i = 0; i < n; i++) {
		if (!metrics_is_xwg(ifs[i].d))
			continue;
		for (size_t k = 0; k < ifs[i].d->n_peers; k++) {
			size_t m = metrics_paths(&ifs[i].d->peers[k], c);

			for (size_t j = 0; j < m; j++) {
				metrics_begin(out, name, ifs[i].ifname);
				metrics_peer_key(out, &ifs[i].d->peers[k]);
				metrics_label(out, "path", c[j].path);
				metrics_label(out, "direction", c[j].direction);
				metrics_value(out, bytes ? c[j].bytes : c[j].packets);
			}
		}
	}
}

static void metrics_handshakes(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	metrics_family(out, "xwg_handshake_messages_total", "counter",
		       "Handshake initiations and responses sent, and received with a valid handshake");
	for (size_t i = 0; i < n; i++) {
		if (!metrics_is_xwg(ifs[i].d))
			continue;
		for (size_t k = 0; k < ifs[i].d->n_peers; k++) {
			const struct show_peer *p = &ifs[i].d->peers[k];
			const struct {
				const char *type, *direction;
				uint64_t v;
			} c[] = {
				{ "initiation", "tx", p->hs_initiations_sent },
				{ "initiation", "rx", p->hs_initiations_received },
				{ "response", "tx", p->hs_responses_sent },
				{ "response", "rx", p->hs_responses_received },
			};

			for (size_t j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
				metrics_begin(out, "xwg_handshake_messages_total", ifs[i].ifname);
				metrics_peer_key(out, p);
				metrics_label(out, "type", c[j].type);
				metrics_label(out, "direction", c[j].direction);
				metrics_value(out, c[j].v);
			}
		}
	}
}

/* A per-peer counter without further labels; field picks it from the peer. */
static void metrics_peer_counter(FILE *out, const struct metrics_iface *ifs, size_t n, const char *name,
				 const char *help, uint64_t (*field)(const struct show_peer *p))
{
	metrics_family(out, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		if (!metrics_is_xwg(ifs[i].d))
			continue;
		for (size_t k = 0; k < ifs[i].d->n_peers; k++) {
			metrics_begin(out, name, ifs[i].ifname);
			metrics_peer_key(out, &ifs[i].d->peers[k]);
			metrics_value(out, field(&ifs[i].d->peers[k]));
		}
	}
}

static uint64_t metrics_hs_timeouts(const struct show_peer *p)
{
	return p->hs_timeouts;
}

static uint64_t metrics_hs_given_up(const struct show_peer *p)
{
	return p->hs_given_up;
}

static void metrics_cookies(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	metrics_family(out, "xwg_cookie_replies_total", "counter",
		       "Cookie replies sent while under load, and received ones that decrypted");
	for (size_t i = 0; i < n; i++) {
		if (!metrics_is_xwg(ifs[i].d))
			continue;
		metrics_begin(out, "xwg_cookie_replies_total", ifs[i].ifname);
		metrics_label(out, "direction", "tx");
		metrics_value(out, ifs[i].d->cookies_sent);
		metrics_begin(out, "xwg_cookie_replies_total", ifs[i].ifname);
		metrics_label(out, "direction", "rx");
		metrics_value(out, ifs[i].d->cookies_received);
	}
}

static const char *metrics_action_name(const char *key)
{
	static const char *const names[] = { [XWG_ACT_DELIVER] = "deliver", [XWG_ACT_AGENT] = "agent",
					     [XWG_ACT_DROP] = "drop" };

	for (unsigned int r = 0; r < XWG_R_MAX; r++)
		if (!strcmp(xwg_reason_key(r), key))
			return names[xwg_reason_action(r)];
	return "unknown";
}

static uint64_t metrics_reason_count(const struct show_device *d, const char *key, bool *found)
{
	for (size_t i = 0; i < d->n_reasons; i++)
		if (!strcmp(d->reasons[i].key, key)) {
			*found = true;
			return d->reasons[i].count;
		}
	return 0;
}

static void metrics_reason(FILE *out, const char *ifname, const char *key, uint64_t v)
{
	metrics_begin(out, "xwg_datapath_reason_packets_total", ifname);
	metrics_label(out, "reason", key);
	metrics_label(out, "action", metrics_action_name(key));
	metrics_value(out, v);
}

/* Every reason this xwg knows (the agent only reports non-zero ones), then any newer ones it sent. */
static void metrics_reasons(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	metrics_family(out, "xwg_datapath_reason_packets_total", "counter",
		       "Packets the data path delivered (deliver), left to the agent (agent) or dropped (drop), by reason");
	for (size_t i = 0; i < n; i++) {
		const struct show_device *d = ifs[i].d;
		size_t known = 0;
		bool found = false;

		if (!metrics_is_xwg(d))
			continue;
		for (unsigned int r = 0; r < XWG_R_MAX; r++) {
			found = false;
			metrics_reason(out, ifs[i].ifname, xwg_reason_key(r),
				       metrics_reason_count(d, xwg_reason_key(r), &found));
			known += found;
		}
		for (size_t k = 0; known < d->n_reasons && k < d->n_reasons; k++)
			if (!strcmp(metrics_action_name(d->reasons[k].key), "unknown"))
				metrics_reason(out, ifs[i].ifname, d->reasons[k].key, d->reasons[k].count);
	}
}

static void metrics_info(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	metrics_family(out, "xwg_datapath_info", "gauge",
		       "Always 1: the data path mode, its underlay devices and the agent path's offloads");
	for (size_t i = 0; i < n; i++) {
		const struct show_device *d = ifs[i].d;
		char underlay[sizeof(d->underlay)] = "";
		size_t off = 0;

		if (!metrics_is_xwg(d))
			continue;
		for (size_t k = 0; k < d->n_underlay && off < sizeof(underlay); k++)
			off += (size_t)snprintf(underlay + off, sizeof(underlay) - off, "%s%s", k ? "," : "",
						d->underlay[k]);
		metrics_begin(out, "xwg_datapath_info", ifs[i].ifname);
		metrics_label(out, "mode", d->mode);
		metrics_label(out, "underlay", underlay);
		metrics_label(out, "hybrid", d->hybrid ? "on" : "off");
		metrics_label(out, "tun_offload", d->agent_tun_offload[0] ? d->agent_tun_offload : "none");
		metrics_label(out, "udp_gso", d->agent_udp_gso ? "on" : "off");
		metrics_value(out, 1);
	}
	metrics_family(out, "xwg_agent_crypto_threads", "gauge", "Threads sealing and opening the agent's batches");
	for (size_t i = 0; i < n; i++) {
		if (!metrics_is_xwg(ifs[i].d))
			continue;
		metrics_begin(out, "xwg_agent_crypto_threads", ifs[i].ifname);
		metrics_value(out, ifs[i].d->agent_threads);
	}
}

void metrics_format(FILE *out, const struct metrics_iface *ifs, size_t n)
{
	metrics_exporter(out, ifs, n);
	metrics_data_paths(out, ifs, n, false);
	metrics_data_paths(out, ifs, n, true);
	metrics_handshakes(out, ifs, n);
	metrics_peer_counter(out, ifs, n, "xwg_handshake_timeouts_total",
			     "Handshake initiations that got no response within REKEY_TIMEOUT (5 s)", metrics_hs_timeouts);
	metrics_peer_counter(out, ifs, n, "xwg_handshakes_given_up_total",
			     "Handshakes abandoned after MAX_TIMER_HANDSHAKES retries (REKEY_ATTEMPT_TIME)",
			     metrics_hs_given_up);
	metrics_cookies(out, ifs, n);
	metrics_reasons(out, ifs, n);
	metrics_info(out, ifs, n);
}

/* ---- fetching ---- */

struct metrics_set {
	struct metrics_iface *ifs;
	struct show_device *devs;
	char (*names)[IFNAMSIZ];
	size_t n, cap;
};

static void metrics_set_free(struct metrics_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		show_device_free(&s->devs[i]);
	free(s->ifs);
	free(s->devs);
	free(s->names);
}

/* Fetches one more interface into s. 0 or -errno. */
static int metrics_set_add(struct metrics_set *s, const char *ifname, bool report)
{
	struct show_device d = { 0 };
	int ret;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		void *a = realloc(s->ifs, cap * sizeof(*s->ifs)), *b, *c;

		if (a)
			s->ifs = a;
		b = realloc(s->devs, cap * sizeof(*s->devs));
		if (b)
			s->devs = b;
		c = realloc(s->names, cap * sizeof(*s->names));
		if (c)
			s->names = c;
		if (!a || !b || !c)
			return -ENOMEM;
		s->cap = cap;
	}
	ret = show_fetch(ifname, &d, report);
	if (ret) {
		show_device_free(&d);
		return ret;
	}
	snprintf(s->names[s->n], IFNAMSIZ, "%s", ifname);
	s->devs[s->n++] = d;
	return 0;
}

/* Every live interface; one that vanishes between listing and fetching is left out. */
static int metrics_set_all(struct metrics_set *s)
{
	char *name, *save = NULL;
	int ret;
	char *names = show_interface_names(&ret);

	if (!names)
		return ret;
	for (name = strtok_r(names, "\n", &save); name && ret != -ENOMEM; name = strtok_r(NULL, "\n", &save))
		ret = metrics_set_add(s, name, false);
	free(names);
	return ret == -ENOMEM ? ret : 0;
}

int metrics_print(const char *ifname, FILE *out, bool quiet)
{
	struct metrics_set s = { 0 };
	int ret;

	ret = ifname ? metrics_set_add(&s, ifname, !quiet) : metrics_set_all(&s);
	if (!ret) {
		for (size_t i = 0; i < s.n; i++)
			s.ifs[i] = (struct metrics_iface){ .ifname = s.names[i], .d = &s.devs[i] };
		metrics_format(out, s.ifs, s.n);
		if (fflush(out) || ferror(out))
			ret = -EIO;
	}
	metrics_set_free(&s);
	return ret;
}

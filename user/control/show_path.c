/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg show` for multi-path peers: each path's state, RTT, last packets and traffic. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "encoding.h"
#include "path.h"
#include "show.h"

/* "ENDPOINT LOCAL STATE RTT_US RX_AGE_MS TX_AGE_MS RX_BYTES TX_BYTES" (uapi_print_paths). */
static int show_path_parse(struct show_peer *p, const char *value)
{
	struct show_path *s;
	int end = 0;

	if (p->n_paths == SHOW_MAX_PATHS)
		return 0;	/* a newer agent with more paths: show the first ones */
	s = &p->paths[p->n_paths];
	memset(s, 0, sizeof(*s));
	if (sscanf(value, "%79s %63s %11s %" SCNu64 " %lld %lld %" SCNu64 " %" SCNu64 "%n", s->endpoint, s->local,
		   s->state, &s->rtt_us, &s->rx_age_ms, &s->tx_age_ms, &s->rx_bytes, &s->tx_bytes, &end) != 8 ||
	    value[end])
		return -EPROTO;
	p->n_paths++;
	return 0;
}

int show_path_line(struct show_peer *p, const char *key, const char *value)
{
	if (!strcmp(key, "xwg_path"))
		return show_path_parse(p, value);
	if (!strcmp(key, "xwg_endpoints")) {
		if (strlen(value) >= sizeof(p->endpoints))
			return -EPROTO;
		strcpy(p->endpoints, value);
		return 0;
	}
	if (!strcmp(key, "xwg_path_policy")) {
		snprintf(p->path_policy, sizeof(p->path_policy), "%s", value);
		return 0;
	}
	if (!strcmp(key, "xwg_path_probe_interval"))
		return uint_parse(value, 65535, &p->path_probe_interval) ? -EPROTO : 0;
	if (!strcmp(key, "xwg_path_switches"))
		return uint_parse(value, UINT64_MAX, &p->path_switches) ? -EPROTO : 0;
	return 1;
}

static void show_path_age(FILE *out, const char *what, long long ms)
{
	if (ms < 0)
		fprintf(out, ", %s never", what);
	else
		fprintf(out, ", %s %lld.%03lld s ago", what, ms / 1000, ms % 1000);
}

void show_path_human(FILE *out, const struct show_peer *p)
{
	if (!p->n_paths)
		return;
	fprintf(out, "  paths: policy %s, probe every %" PRIu64 " s, %" PRIu64 " switches\n", p->path_policy,
		p->path_probe_interval, p->path_switches);
	for (size_t i = 0; i < p->n_paths; i++) {
		const struct show_path *s = &p->paths[i];

		fprintf(out, "    %s from %s: %s", s->endpoint, strcmp(s->local, "-") ? s->local : "(routing)",
			s->state);
		if (s->rtt_us)
			fprintf(out, ", rtt %" PRIu64 ".%03" PRIu64 " ms", s->rtt_us / 1000, s->rtt_us % 1000);
		show_path_age(out, "last rx", s->rx_age_ms);
		show_path_age(out, "last tx", s->tx_age_ms);
		fprintf(out, ", %" PRIu64 " B received, %" PRIu64 " B sent\n", s->rx_bytes, s->tx_bytes);
	}
}

/* SaveConfig: the configured endpoints and the path keys of a multi-path peer, as the file had them. */
void show_path_conf(FILE *out, const struct show_peer *p)
{
	if (p->endpoints[0])
		fprintf(out, "Endpoint = %s\n", p->endpoints);
	else if (p->endpoint[0])
		fprintf(out, "Endpoint = %s\n", p->endpoint);
	if (!strcmp(p->path_policy, "lowest-rtt"))
		fprintf(out, "PathPolicy = lowest-rtt\n");
	if (p->n_paths && p->path_probe_interval != PATH_PROBE_DEFAULT_S)
		fprintf(out, "PathProbeInterval = %" PRIu64 "\n", p->path_probe_interval);
}

/* Only for a multi-path peer: other peers' objects stay as they were. */
void show_path_json(FILE *out, const struct show_peer *p)
{
	if (!p->n_paths)
		return;
	fprintf(out, ",\"path_policy\":");
	show_json_string(out, p->path_policy[0] ? p->path_policy : "failover");
	fprintf(out, ",\"path_switches\":%" PRIu64 ",\"paths\":[", p->path_switches);
	for (size_t i = 0; i < p->n_paths; i++) {
		const struct show_path *s = &p->paths[i];

		fprintf(out, "%s{\"endpoint\":", i ? "," : "");
		show_json_string(out, s->endpoint);
		fprintf(out, ",\"local\":");
		if (strcmp(s->local, "-"))
			show_json_string(out, s->local);
		else
			fprintf(out, "null");
		fprintf(out, ",\"state\":");
		show_json_string(out, s->state);
		fprintf(out, ",\"rtt_us\":%" PRIu64 ",\"last_rx_ms_ago\":%lld,\"last_tx_ms_ago\":%lld,\"rx_bytes\":%" PRIu64
			",\"tx_bytes\":%" PRIu64 "}", s->rtt_us, s->rx_age_ms, s->tx_age_ms, s->rx_bytes, s->tx_bytes);
	}
	fputc(']', out);
}

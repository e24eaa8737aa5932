/* SPDX-License-Identifier: GPL-2.0 */
/* `xwg show`: queries an agent (or any WireGuard UAPI server) over its socket and prints the state. */
#ifndef XWG_SHOW_H
#define XWG_SHOW_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * What one reply can list. Beyond these an entry is dropped, not an error: a newer agent may know
 * more modes or reasons than this client, and the reply is still good.
 */
#define SHOW_MAX_REFUSED 8
#define SHOW_MAX_UNDERLAY 64	/* as OFFLOAD_REPORT_UNDERLAY */
#define SHOW_MAX_REASONS 64
#define SHOW_REASON_MAX 512	/* a reply line, at most */

/* One underlay path of a multi-path peer, as the agent's xwg_path line has it (uapi.c). */
#define SHOW_MAX_PATHS 4	/* PATH_MAX_PER_PEER */
struct show_path {
	char endpoint[80], local[64], state[12];
	uint64_t rtt_us, rx_bytes, tx_bytes;
	long long rx_age_ms, tx_age_ms;	/* -1: never */
};

struct show_peer {
	uint8_t public_key[32];
	bool has_psk;
	uint8_t psk[32];		/* kept for show_conf only */
	char endpoint[80];		/* "" = none */
	char endpoint_host[256];	/* xwg: the name it is looked up again from; "" = none */
	char endpoints[4 * 80];		/* xwg: the configured endpoints of a multi-path peer; "" = none */
	int64_t handshake_sec;		/* 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint32_t keepalive;
	char (*allowed)[64];
	size_t n_allowed, cap_allowed;
	/* xwg only (0 from other servers): packets BPF and the agent each handled. */
	uint64_t bpf_rx_packets, bpf_tx_packets, bpf_rx_bytes, bpf_tx_bytes;
	uint64_t agent_rx_packets, agent_tx_packets, agent_rx_bytes, agent_tx_bytes;
	/* Of the agent's: sealed or opened in a batch with others. */
	uint64_t batch_rx_packets, batch_tx_packets, batch_rx_bytes, batch_tx_bytes;
	uint64_t hs_initiations_sent, hs_responses_sent, hs_initiations_received, hs_responses_received;
	uint64_t hs_timeouts, hs_given_up;
	char offload_off[SHOW_REASON_MAX];	/* why BPF hands this peer to the agent; "" = it does not */
	struct show_path paths[SHOW_MAX_PATHS];	/* multi-path peers only */
	size_t n_paths;
	char path_policy[16];
	uint64_t path_probe_interval, path_switches;
};

/* show_path.c: a peer's paths, from the reply's lines to text and JSON. */
int show_path_line(struct show_peer *p, const char *key, const char *value);	/* 1: not a path key */
void show_path_human(FILE *out, const struct show_peer *p);
void show_path_json(FILE *out, const struct show_peer *p);
void show_path_conf(FILE *out, const struct show_peer *p);
void show_json_string(FILE *out, const char *s);

struct show_refused {
	char mode[16];
	char reason[SHOW_REASON_MAX];
};

struct show_reason {
	char key[32];
	uint64_t count;
};

struct show_device {
	bool has_key;
	uint8_t private_key[32];	/* kept for show_conf only; wiped by show_device_free */
	uint8_t public_key[32];
	uint32_t listen_port, fwmark;
	char mode[32];			/* "" = the server did not say (not xwg) */
	bool hybrid;			/* auto chooses per packet: bulk via the agent */
	uint32_t rx_bulk_len;		/* hybrid: data messages from this size go to the agent */
	uint32_t tx_bulk_len;		/* hybrid: inner packets from this size (and GSO) go to the agent */
	uint32_t agent_threads;		/* the agent's crypto threads; 0 = the server did not say */
	char agent_tun_offload[16];	/* "tso,uso", "tso" or "none" */
	uint32_t agent_udp_gso;		/* 1: UDP GSO sends work */
	struct show_refused refused[SHOW_MAX_REFUSED];
	size_t n_refused;
	char underlay[SHOW_MAX_UNDERLAY][IFNAMSIZ];
	size_t n_underlay;
	char skipped[512];		/* candidate underlays not attached to, and why */
	struct show_reason reasons[SHOW_MAX_REASONS];
	size_t n_reasons;
	uint64_t cookies_sent, cookies_received;	/* cookie replies */
	char metrics_url[80];		/* "" = the agent serves no metrics */
	int server_errno;		/* the reply's errno, as a negative value */
	struct show_peer *peers;
	size_t n_peers, cap_peers;
};

/*
 * Fetches an interface's state with get=1 into d (zeroed by the caller; free it with show_device_free
 * even on failure). 0 or -errno; with report, a failure is also described on stderr. Uses nothing but
 * the UAPI socket, so any thread may call it.
 */
int show_fetch(const char *ifname, struct show_device *d, bool report);
void show_device_free(struct show_device *d);

/*
 * Prints the interface like `wg show IF` (or one JSON object with json) to out.
 * 0 or -errno; on failure one "xwg: IFNAME: ..." line goes to stderr.
 */
int show_print(const char *ifname, bool json, FILE *out);
/* The data path mode the agent reports ("tun", "xdp", ...), quietly. 0, -ENOENT if it reports none, or -errno. */
int show_get_mode(const char *ifname, char *mode, size_t len);
/*
 * Reads a UAPI get reply from in and writes it to out as `wg showconf` does (keys in base64), with
 * interface_extra (wg-quick's own lines, each ending in a newline) right after "[Interface]". out
 * receives the private key: the caller wipes its buffers. 0, -EPROTO for a malformed reply, the
 * reply's errno, or -EIO.
 */
int show_conf(FILE *in, const char *interface_extra, FILE *out);
/* Prints the name of every connectable socket in /var/run/wireguard, sorted, one per line. Count or -errno. */
int show_list_interfaces(FILE *out);
/* The same list as one malloc'd string, a name per line (for strtok_r); NULL and *err = -errno on failure. */
char *show_interface_names(int *err);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the Prometheus exposition (metrics.c), --metrics-listen parsing and the core's handshake counters. */
#include "test.h"
#include "test_device.h"
#include "peer.h"
#include "timers.h"
#include "metrics.h"
#include "show.h"
#include "xwg_reasons.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>

static char *capture_label(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_label_value(f, s);
	fclose(f);
	return buf;
}

static void test_label_escape(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "wg0", "wg0" },
		{ "", "" },
		{ "a\\b", "a\\\\b" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		/* Tabs and UTF-8 pass through: only these three are special in a label value. */
		{ "t\tü", "t\tü" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = capture_label(cases[i].in);

		ASSERT_STREQ(r, cases[i].out);
		free(r);
	}
}

static char *format(const struct metrics_iface *ifs, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_format(f, ifs, n);
	fclose(f);
	return buf;
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += !strncmp(p, prefix, plen);
	return n;
}

static void test_format(void)
{
	char allowed[2][64] = { "10.0.0.2/32", "fd00::2/128" };
	struct show_peer peer = {
		.handshake_sec = 1700000000, .rx_bytes = 1000, .tx_bytes = 2000,
		.allowed = allowed, .n_allowed = 2,
		.bpf_rx_packets = 10, .bpf_rx_bytes = 100, .agent_tx_packets = 7, .agent_tx_bytes = 700,
		.batch_tx_packets = 5, .batch_tx_bytes = 500, .hs_initiations_sent = 3, .hs_timeouts = 2,
	};
	struct show_device xwg = { .peers = &peer, .n_peers = 1, .n_underlay = 2, .agent_threads = 2,
				   .n_reasons = 2, .cookies_sent = 4 };
	struct show_device other = { .peers = &peer, .n_peers = 1 };	/* wireguard-go: no xwg_mode */
	struct metrics_iface ifs[2] = { { "wg\"0", &xwg }, { "wggo", &other } };
	char *r;

	strcpy(xwg.mode, "xdp");
	strcpy(xwg.underlay[0], "eth0");
	strcpy(xwg.underlay[1], "veth1");
	strcpy(xwg.agent_tun_offload, "tso,uso");
	strcpy(xwg.reasons[0].key, "BAD_TAG");
	xwg.reasons[0].count = 9;
	strcpy(xwg.reasons[1].key, "FUTURE_THING");
	xwg.reasons[1].count = 1;
	r = format(ifs, 2);
	ASSERT_TRUE(r != NULL);
	if (!r)
		return;
	/* The exporter's families: one HELP/TYPE, then every interface's samples, label values escaped. */
	ASSERT_TRUE(strstr(r, "# HELP wireguard_sent_bytes_total Bytes sent to the peer\n"
			      "# TYPE wireguard_sent_bytes_total counter\n"
			      "wireguard_sent_bytes_total{interface=\"wg\\\"0\","
			      "public_key=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
			      "allowed_ips=\"10.0.0.2/32,fd00::2/128\"} 2000\n"
			      "wireguard_sent_bytes_total{interface=\"wggo\","));
	ASSERT_TRUE(strstr(r, "# TYPE wireguard_latest_handshake_seconds gauge\n"));
	ASSERT_TRUE(strstr(r, "wireguard_latest_handshake_seconds{interface=\"wggo\","
			      "public_key=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
			      "allowed_ips=\"10.0.0.2/32,fd00::2/128\"} 1700000000\n"));
	ASSERT_EQ(count_lines(r, "# TYPE wireguard_received_bytes_total "), 1);
	ASSERT_EQ(count_lines(r, "wireguard_received_bytes_total{"), 2);
	/* The agent's single-message share is its total minus its batches. */
	ASSERT_TRUE(strstr(r, "xwg_peer_data_packets_total{interface=\"wg\\\"0\","
			      "public_key=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",path=\"batched\","
			      "direction=\"tx\"} 5\n"));
	ASSERT_TRUE(strstr(r, "path=\"agent\",direction=\"tx\"} 2\n"));
	ASSERT_TRUE(strstr(r, "xwg_peer_data_bytes_total{interface=\"wg\\\"0\","
			      "public_key=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",path=\"bpf\","
			      "direction=\"rx\"} 100\n"));
	ASSERT_TRUE(strstr(r, "path=\"agent\",direction=\"tx\"} 200\n"));
	ASSERT_TRUE(strstr(r, ",type=\"initiation\",direction=\"tx\"} 3\n"));
	ASSERT_TRUE(strstr(r, "xwg_handshake_timeouts_total{interface=\"wg\\\"0\","
			      "public_key=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"} 2\n"));
	ASSERT_TRUE(strstr(r, "xwg_cookie_replies_total{interface=\"wg\\\"0\",direction=\"tx\"} 4\n"));
	/* Every known reason (zeros too), with its action, and the one this client does not know. */
	ASSERT_EQ(count_lines(r, "xwg_datapath_reason_packets_total{"), XWG_R_MAX + 1);
	ASSERT_TRUE(strstr(r, "reason=\"BAD_TAG\",action=\"drop\"} 9\n"));
	ASSERT_TRUE(strstr(r, "reason=\"OK\",action=\"deliver\"} 0\n"));
	ASSERT_TRUE(strstr(r, "reason=\"FUTURE_THING\",action=\"unknown\"} 1\n"));
	ASSERT_TRUE(strstr(r, "xwg_datapath_info{interface=\"wg\\\"0\",mode=\"xdp\",underlay=\"eth0,veth1\","
			      "hybrid=\"off\",tun_offload=\"tso,uso\",udp_gso=\"off\"} 1\n"));
	ASSERT_TRUE(strstr(r, "xwg_agent_crypto_threads{interface=\"wg\\\"0\"} 2\n"));
	/* Not xwg: the exporter's families only. */
	ASSERT_EQ(count_lines(r, "xwg_peer_data_packets_total{interface=\"wggo\""), 0);
	ASSERT_FALSE(strstr(r, "{interface=\"wggo\",mode="));
	/* Every family is announced once. */
	ASSERT_EQ(count_lines(r, "# TYPE xwg_datapath_reason_packets_total "), 1);
	ASSERT_EQ(count_lines(r, "# HELP "), count_lines(r, "# TYPE "));
	free(r);
}

static void test_listen_parse(void)
{
	static const char *const good[] = { "127.0.0.1:9586", "[::1]:9586", "0.0.0.0:9586", "[::]:1",
					    "10.1.2.3:65535" };
	static const char *const bad[] = { "foo", "1.2.3.4:99999", ":", "", "127.0.0.1", "127.0.0.1:",
					   "127.0.0.1:0", "localhost:9586", "[::1]", "[::1]9586", "::1:9586",
					   "[127.0.0.1]:9586", "1.2.3.4:95x", "1.2.3.4:+80", "[::1:9586",
					   "1.2.3:9586", " 1.2.3.4:80" };
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (metrics_listen_parse(good[i], &ss, &len))
			TEST_FAIL("'%s' refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (metrics_listen_parse(bad[i], &ss, &len) != -EINVAL)
			TEST_FAIL("'%s' accepted", bad[i]);
	ASSERT_EQ(metrics_listen_parse("[::1]:9586", &ss, &len), 0);
	ASSERT_EQ(ss.ss_family, AF_INET6);
	ASSERT_EQ(len, sizeof(struct sockaddr_in6));
	ASSERT_EQ(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9586);
	ASSERT_EQ(metrics_listen_parse("10.1.2.3:65535", &ss, &len), 0);
	ASSERT_EQ(ss.ss_family, AF_INET);
	ASSERT_EQ(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x0a010203);
	ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 65535);
}

/*
 * The retransmit timer's expiries are the timeouts; the one past MAX_TIMER_HANDSHAKES retries gives
 * up. No sockets here, so nothing is sent (and nothing counted as sent).
 */
static void test_handshake_counters(void)
{
	struct sockaddr_in ep = { .sin_family = AF_INET, .sin_port = htons(51820) };
	uint8_t key[32], priv[32];
	struct xwg_device dev;
	struct peer *peer;

	test_device_init(&dev, "xwgtm");
	curve25519_generate_private(priv);
	ASSERT_EQ(curve25519_generate_public(key, priv), 0);
	peer = peer_create(&dev, key);
	ASSERT_TRUE(peer != NULL);
	if (!peer)
		return;
	inet_pton(AF_INET, "192.0.2.9", &ep.sin_addr);
	peer_set_endpoint(peer, (struct sockaddr *)&ep);
	send_handshake_initiation(peer, false);
	ASSERT_EQ(peer->hs_initiations_sent, 0);
	for (unsigned int i = 0; i < MAX_TIMER_HANDSHAKES + 2; i++) {
		ASSERT_TRUE(peer->timer_retransmit_handshake.at != 0);
		/* Due now, and the one-per-REKEY_TIMEOUT rule satisfied. */
		peer->timer_retransmit_handshake.at = 1;
		peer->last_sent_handshake = 0;
		timers_run(&dev);
		ASSERT_EQ(peer->hs_timeouts, i + 1);
		ASSERT_EQ(peer->hs_given_up, i == MAX_TIMER_HANDSHAKES + 1);
	}
	/* Given up: no more retries. */
	ASSERT_EQ(peer->timer_retransmit_handshake.at, 0);
	ASSERT_EQ(peer->hs_initiations_sent, 0);
	device_remove_all_peers(&dev);
	index_table_free(&dev.index_table);
	allowedips_free(&dev.allowedips);
}

int main(void)
{
	if (crypto_init())
		return 1;
	noise_init();
	RUN_TEST(test_label_escape);
	RUN_TEST(test_format);
	RUN_TEST(test_listen_parse);
	RUN_TEST(test_handshake_counters);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The path table and its policy (user/core/path.c): event sequences in, the active path out. */
#include <errno.h>
#include <arpa/inet.h>
#include "test.h"
#include "test_device.h"
#include "path.h"

#define MS 1000000ULL

/* One step of a fixture: at time t (ms), something happens to path i, then the choice is checked. */
enum ev { RX, SENT, DOWN, UP, AGE, KEEPALIVE, DATA_RX };

struct step {
	uint64_t t_ms;
	enum ev ev;
	unsigned int path;
	int want_active;	/* after the step and the policy's choice; -1: do not check */
};

struct fixture {
	const char *name;
	enum path_policy policy;
	unsigned int n;
	struct step steps[24];
};

static void add_path(struct peer_paths *pp, int i)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(51820) };

	sin.sin_addr.s_addr = htonl(0xc0000200u + (uint32_t)i + 1);
	ASSERT_EQ(path_table_add(pp, (struct sockaddr *)&sin, true), i);
}

/* Runs one fixture; every step is followed by aging and the policy, as a loop turn does. */
static void run_fixture(const struct fixture *f)
{
	struct peer_paths pp = { .policy = (uint8_t)f->policy, .probe_interval_s = 1 };
	const uint64_t base = 1000 * MS * 1000;	/* far from 0: 0 means "never" */

	path_table_init(&pp);
	for (unsigned int i = 0; i < f->n; i++)
		add_path(&pp, (int)i);
	for (const struct step *s = f->steps; s->t_ms || s->ev || s->path || s->want_active; s++) {
		uint64_t now = base + s->t_ms * MS;

		switch (s->ev) {
		case RX:
			path_table_rx(&pp, s->path, now);
			break;
		case SENT:
			path_table_data_sent(&pp, now);
			break;
		case DOWN:
		case UP:
			path_table_underlay(&pp, s->path, s->ev == UP, now);
			break;
		case DATA_RX:
			path_table_rx(&pp, s->path, now);
			path_table_data_elsewhere(&pp, now);
			break;
		case KEEPALIVE:
			path_table_rx(&pp, s->path, now);
			path_table_keepalive_received(&pp);
			break;
		case AGE:
			break;
		}
		path_table_age(&pp, now);
		path_table_activate(&pp, path_table_choose(&pp, now), now);
		if (s->want_active >= 0 && (int)pp.active != s->want_active)
			TEST_FAIL("%s: after step at %llu ms: active path %u, want %d", f->name,
				  (unsigned long long)s->t_ms, pp.active, s->want_active);
	}
}

static const struct fixture fixtures[] = {
	{ "first path is active at start", PATH_POLICY_FAILOVER, 2, {
		{ 1, AGE, 0, 0 }, { 0 } } },
	{ "link down fails over at once", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 10, DOWN, 0, 1 }, { 0 } } },
	{ "unanswered data fails over after 300 ms, not before", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 },
		{ 100, SENT, 0, 0 }, { 200, SENT, 0, 0 }, { 390, SENT, 0, 0 }, { 399, AGE, 0, 0 },
		{ 401, SENT, 0, 1 }, { 0 } } },
	{ "answered data keeps the path", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 },
		{ 100, SENT, 0, 0 }, { 150, RX, 0, 0 }, { 300, SENT, 0, 0 }, { 350, RX, 0, 0 },
		{ 500, SENT, 0, 0 }, { 550, RX, 0, 0 }, { 2000, AGE, 0, 0 }, { 0 } } },
	{ "a single last packet is confirmed by a probe first", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 450, AGE, 0, 0 },
		{ 500, KEEPALIVE, 0, 0 }, { 1200, AGE, 0, 0 }, { 0 } } },
	{ "data on a standby path while ours went unanswered: follow the peer", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 150, SENT, 0, 0 }, { 250, DATA_RX, 1, 1 },
		{ 0 } } },
	{ "a probe there (no data) waits for the timeout", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 150, SENT, 0, 0 }, { 250, RX, 1, 0 },
		{ 0 } } },
	{ "a standard peer's data after our probe, within a round trip: stay", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 130, DATA_RX, 1, 0 }, { 140, RX, 0, 0 },
		{ 500, AGE, 0, 0 }, { 0 } } },
	{ "an unconfirmed last packet fails after two timeouts", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 450, AGE, 0, 0 },
		{ 700, AGE, 0, 0 }, { 800, AGE, 0, 1 }, { 0 } } },
	{ "recovered preferred path waits for the hysteresis", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 10, DOWN, 0, 1 },
		{ 5000, UP, 0, 1 }, { 5500, RX, 0, 1 }, { 6900, AGE, 0, 1 }, { 7001, AGE, 0, 0 }, { 0 } } },
	{ "a silently failed path needs two packets and 2 s to come back", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 100, SENT, 0, 0 }, { 500, SENT, 0, 1 },
		{ 3000, RX, 0, 1 }, { 4000, RX, 0, 1 }, { 4900, AGE, 0, 1 }, { 5100, AGE, 0, 0 }, { 0 } } },
	{ "a down standby is never chosen", PATH_POLICY_FAILOVER, 3, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 3, RX, 2, 0 }, { 5, DOWN, 1, 0 }, { 10, DOWN, 0, 2 }, { 0 } } },
	{ "all paths down: stay on the active one", PATH_POLICY_FAILOVER, 2, {
		{ 1, RX, 0, 0 }, { 5, DOWN, 1, 0 }, { 10, DOWN, 0, 0 }, { 0 } } },
	{ "failover prefers a live standby over an unknown one", PATH_POLICY_FAILOVER, 3, {
		{ 1, RX, 0, 0 }, { 2, RX, 2, 0 }, { 10, DOWN, 0, 2 }, { 0 } } },
	{ "a stale standby is no longer preferred", PATH_POLICY_FAILOVER, 3, {
		{ 1, RX, 0, 0 }, { 2, RX, 1, 0 }, { 5000, RX, 2, 0 }, { 5001, DOWN, 0, 2 }, { 0 } } },
};

static void test_path_fixtures(void)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		run_fixture(&fixtures[i]);
}

/* lowest-rtt: a path whose probes come back a quarter faster takes over once stable. */
static void test_path_lowest_rtt(void)
{
	struct peer_paths pp = { .policy = PATH_POLICY_LOWEST_RTT, .probe_interval_s = 1 };
	uint64_t t = 1000 * MS * 1000;

	path_table_init(&pp);
	add_path(&pp, 0);
	add_path(&pp, 1);
	for (int k = 0; k < 4; k++, t += 1000 * MS) {
		pp.p[0].probe_ns = t;
		path_table_rx(&pp, 0, t + 40 * MS);
		pp.p[1].probe_ns = t;
		path_table_rx(&pp, 1, t + 10 * MS);
		path_table_age(&pp, t + 50 * MS);
		path_table_activate(&pp, path_table_choose(&pp, t + 50 * MS), t + 50 * MS);
		ASSERT_EQ(pp.active, k < 2 ? 0 : 1);	/* stable after 2 s */
	}
	ASSERT_EQ(pp.p[1].rtt_ns, 10 * MS);
	ASSERT_EQ(pp.p[0].rtt_ns, 40 * MS);
	ASSERT_EQ(pp.switches, 1);
}

/* Lookup, learned paths and the table limit. */
static void test_path_table(void)
{
	struct peer_paths pp = { 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1) };
	uint8_t local[4] = { 10, 0, 0, 1 }, other[4] = { 10, 0, 0, 2 };

	path_table_init(&pp);
	for (int i = 0; i < PATH_MAX_PER_PEER; i++)
		add_path(&pp, i);
	ASSERT_EQ(path_table_add(&pp, (struct sockaddr *)&a, false), -ENOSPC);
	a.sin_port = htons(51820);
	a.sin_addr.s_addr = htonl(0xc0000202u);
	ASSERT_EQ(path_table_find(&pp, (struct sockaddr *)&a, NULL), 1);
	memcpy(pp.p[1].local, local, 4);
	pp.p[1].has_local = true;
	ASSERT_EQ(path_table_find(&pp, (struct sockaddr *)&a, local), 1);
	ASSERT_EQ(path_table_find(&pp, (struct sockaddr *)&a, other), -1);
	a.sin_port = htons(51821);
	ASSERT_EQ(path_table_find(&pp, (struct sockaddr *)&a, NULL), -1);
	ASSERT_EQ(pp.p[0].state, PATH_ACTIVE);
	ASSERT_EQ(pp.p[1].state, PATH_UNKNOWN);
}

/* Failover follows the rank, not the index: an uplink with a better metric found later is preferred. */
static void test_path_rank(void)
{
	struct peer_paths pp = { .probe_interval_s = 1 };
	uint64_t t = 1000 * MS * 1000;

	path_table_init(&pp);
	for (int i = 0; i < 3; i++)
		add_path(&pp, i);
	pp.p[0].rank = 100 << 8;
	pp.p[1].rank = 200 << 8;
	pp.p[2].rank = 50 << 8;
	path_table_rx(&pp, 0, t);
	for (int k = 0; k < 4; k++, t += 1000 * MS) {
		path_table_rx(&pp, 1, t);
		path_table_rx(&pp, 2, t);
		path_table_age(&pp, t);
		path_table_activate(&pp, path_table_choose(&pp, t), t);
		ASSERT_EQ(pp.active, k < 2 ? 0 : 2);	/* stable after 2 s */
	}
	/* Its underlay goes: the next in rank order (path 0, live) rather than the first index after it. */
	path_table_underlay(&pp, 2, false, t);
	path_table_rx(&pp, 0, t);
	path_table_activate(&pp, path_table_choose(&pp, t), t);
	ASSERT_EQ(pp.active, 0);
	/* Learned paths come after every configured one. */
	ASSERT_EQ(pp.p[path_table_add(&pp, (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET },
				      false)].rank, UINT64_MAX);
}

/* Uplinks: the endpoint's own path goes over the best one, pinned; the others are added once. */
static void test_path_uplinks(void)
{
	struct sockaddr_in e = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct path_uplink ul[2] = {
		{ .ifindex = 7, .metric = 100, .local = { 10, 0, 0, 1 } },
		{ .ifindex = 8, .metric = 200, .local = { 10, 0, 1, 1 } },
	}, better = { .ifindex = 9, .metric = 50, .local = { 10, 0, 2, 1 } };
	struct endpoint from = { .src_ifindex = 3, .src_valid = true };
	uint8_t pub[NOISE_PUBLIC_KEY_LEN] = { 9 };
	struct xwg_device dev;
	struct peer *peer;

	e.sin_addr.s_addr = htonl(0xc0000201u);
	test_device_init(&dev, "xwgpath0");
	peer = test_peer_add(&dev, pub);
	peer_set_endpoint(peer, (struct sockaddr *)&e);
	ASSERT_TRUE(dev.paths_dirty);
	ASSERT_EQ(path_set_uplinks(peer, (struct sockaddr *)&e, ul, 2), 1);
	ASSERT_EQ(peer->paths.n, 2);
	ASSERT_TRUE(peer->paths.p[0].uplink && peer->paths.p[0].ifindex == 7);
	ASSERT_TRUE(peer->paths.p[1].uplink && peer->paths.p[1].ifindex == 8);
	ASSERT_TRUE(peer->paths.p[0].rank < peer->paths.p[1].rank);
	/* The data plane sends from the best uplink's address, out of its interface. */
	ASSERT_TRUE(peer->endpoint.src_valid && peer->endpoint.src_pinned);
	ASSERT_EQ(peer->endpoint.src_ifindex, 7);
	ASSERT_EQ(memcmp(&peer->endpoint.src4, ul[0].local, 4), 0);
	ASSERT_EQ(path_set_uplinks(peer, (struct sockaddr *)&e, ul, 2), 0);
	ASSERT_EQ(path_set_uplinks(peer, (struct sockaddr *)&e, &better, 1), 1);
	ASSERT_TRUE(peer->paths.p[2].rank < peer->paths.p[0].rank);
	/* A packet to uplink 8's address is that path's, wherever it came in; the path keeps its interface. */
	from.addr.in4 = e;
	memcpy(&from.src4, ul[1].local, 4);
	ASSERT_FALSE(path_received(peer, &from));
	ASSERT_EQ(peer->paths.last_rx, 1);
	ASSERT_EQ(peer->paths.p[1].ifindex, 8);
	ASSERT_EQ(peer->paths.n, 3);
	/* wg set endpoint: one plain path again, to be looked at anew. */
	dev.paths_dirty = false;
	peer_set_endpoint(peer, (struct sockaddr *)&e);
	ASSERT_EQ(peer->paths.n, 1);
	ASSERT_FALSE(peer->paths.p[0].uplink);
	ASSERT_TRUE(dev.paths_dirty);
	test_device_teardown(&dev);
}

static void test_path_policy_names(void)
{
	enum path_policy p;

	ASSERT_EQ(path_policy_parse("failover", &p), 0);
	ASSERT_EQ(p, PATH_POLICY_FAILOVER);
	ASSERT_EQ(path_policy_parse("Lowest-RTT", &p), 0);
	ASSERT_EQ(p, PATH_POLICY_LOWEST_RTT);
	ASSERT_EQ(path_policy_parse("fastest", &p), -EINVAL);
	ASSERT_STREQ(path_policy_name(PATH_POLICY_LOWEST_RTT), "lowest-rtt");
	ASSERT_STREQ(path_state_name(PATH_STANDBY), "standby");
}

int main(void)
{
	RUN_TEST(test_path_fixtures);
	RUN_TEST(test_path_lowest_rtt);
	RUN_TEST(test_path_table);
	RUN_TEST(test_path_rank);
	RUN_TEST(test_path_uplinks);
	RUN_TEST(test_path_policy_names);
	return TEST_SUMMARY();
}

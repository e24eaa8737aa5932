/* SPDX-License-Identifier: GPL-2.0 */
/* Tests hoplimit_for_endpoint() (hoplimit.c) and the route lookups under it (netlink.c) in a private netns. */
/* xwg-needs: root (a private network namespace) */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include "test.h"
#include "hoplimit.h"
#include "netlink.h"

static struct endpoint endpoint(const char *addr)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	if (strchr(addr, ':')) {
		ep.addr.in6.sin6_family = AF_INET6;
		ep.addr.in6.sin6_port = htons(51820);
		inet_pton(AF_INET6, addr, &ep.addr.in6.sin6_addr);
	} else {
		ep.addr.in4.sin_family = AF_INET;
		ep.addr.in4.sin_port = htons(51820);
		inet_pton(AF_INET, addr, &ep.addr.in4.sin_addr);
	}
	return ep;
}

static uint8_t hops(const char *addr)
{
	struct endpoint ep = endpoint(addr);

	return hoplimit_for_endpoint(&ep, 0);
}

/* Two veth devices: xhl0 with the defaults, xhl1 with its own IPv6 hop_limit. */
static int setup(void)
{
	return system("ip link set lo up && "
		      "ip link add xhl0 type veth peer name xhl0p && ip link add xhl1 type veth peer name xhl1p && "
		      "ip link set xhl0p up && ip link set xhl1p up && "
		      "ip link set xhl0 up && ip link set xhl1 up && "
		      "ip addr add 198.51.100.1/24 dev xhl0 && ip addr add 203.0.113.1/24 dev xhl1 && "
		      "ip addr add 2001:db8:1::1/64 dev xhl0 nodad && ip addr add 2001:db8:2::1/64 dev xhl1 nodad && "
		      "sysctl -qw net.ipv4.ip_default_ttl=99 && sysctl -qw net.ipv6.conf.all.hop_limit=98 && "
		      "sysctl -qw net.ipv6.conf.xhl0.hop_limit=97 && sysctl -qw net.ipv6.conf.xhl1.hop_limit=55 && "
		      "ip route add 192.0.2.0/24 dev xhl0 hoplimit 33 && "
		      "ip route add 2001:db8:9::/64 dev xhl1 hoplimit 44 && "
		      "ip route add 10.200.0.0/16 dev xhl1 && ip route add 2001:db8:8::/64 dev xhl1 && "
		      "ip rule add fwmark 0x55 table 100 && ip route add 192.0.2.0/24 dev xhl0 hoplimit 11 table 100");
}

/* The route's metric wins, in either family. */
static void test_route_metric(void)
{
	ASSERT_EQ(hops("192.0.2.7"), 33);
	ASSERT_EQ(hops("2001:db8:9::7"), 44);
}

/* Without a metric: ip_default_ttl for IPv4, the output device's hop_limit for IPv6. */
static void test_sysctl_default(void)
{
	ASSERT_EQ(hops("10.200.1.1"), 99);
	ASSERT_EQ(hops("198.51.100.9"), 99);
	ASSERT_EQ(hops("2001:db8:8::7"), 55);
	ASSERT_EQ(hops("2001:db8:1::9"), 97);
}

/* The fwmark picks the policy route the agent's socket would take. */
static void test_fwmark(void)
{
	struct endpoint ep = endpoint("192.0.2.7");

	ASSERT_EQ(hoplimit_for_endpoint(&ep, 0x55), 11);
	ASSERT_EQ(hoplimit_for_endpoint(&ep, 0x56), 33);
}

/* A sticky source that no longer exists does not hide the route. */
static void test_stale_source(void)
{
	struct endpoint ep = endpoint("192.0.2.7");

	inet_pton(AF_INET, "198.51.100.1", &ep.src4);
	ep.src_valid = true;
	ASSERT_EQ(hoplimit_for_endpoint(&ep, 0), 33);
	inet_pton(AF_INET, "10.9.9.9", &ep.src4);
	ASSERT_EQ(hoplimit_for_endpoint(&ep, 0), 33);
}

/* No endpoint, no answer; an unreachable one falls back to the sysctl like the kernel's socket. */
static void test_no_endpoint(void)
{
	struct endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ASSERT_EQ(hoplimit_for_endpoint(&ep, 0), 0);
	ASSERT_EQ(hops("100.64.0.1"), 99);
}

/* The lookup itself: type, output device, metric and fwmark; an unreachable one keeps the kernel's errno. */
static void test_route_get(void)
{
	struct endpoint ep = endpoint("192.0.2.7");
	struct nl_route_info r;

	ASSERT_EQ(nl_route_get(&ep.addr.sa, NULL, 0, &r), 0);
	ASSERT_EQ(r.type, RTN_UNICAST);
	ASSERT_EQ(r.n_oifs, 1);
	ASSERT_EQ(r.oifs[0], if_nametoindex("xhl0"));
	ASSERT_EQ(r.hoplimit, 33);
	ASSERT_EQ(nl_route_get(&ep.addr.sa, NULL, 0x55, &r), 0);
	ASSERT_EQ(r.hoplimit, 11);
	ep = endpoint("2001:db8:8::7");
	ASSERT_EQ(nl_route_get(&ep.addr.sa, NULL, 0, &r), 0);
	ASSERT_EQ(r.oifs[0], if_nametoindex("xhl1"));
	ASSERT_EQ(r.hoplimit, 0);
	ep = endpoint("198.51.100.1");
	ASSERT_EQ(nl_route_get(&ep.addr.sa, NULL, 0, &r), 0);
	ASSERT_EQ(r.type, RTN_LOCAL);
	ep = endpoint("100.64.0.1");
	ASSERT_EQ(nl_route_get(&ep.addr.sa, NULL, 0, &r), -ENETUNREACH);
}

struct oifs_seen {
	int n[4];	/* how often xhl0, xhl1, xhl2 and anything else came */
};

static void oifs_count(void *ctx, int ifindex)
{
	struct oifs_seen *seen = ctx;
	char name[IF_NAMESIZE] = "";
	int i;

	if_indextoname((unsigned int)ifindex, name);
	for (i = 0; i < 3; i++) {
		char want[8];

		snprintf(want, sizeof(want), "xhl%d", i);
		if (!strcmp(name, want))
			break;
	}
	seen->n[i]++;
}

/*
 * Default routes of the main table only (every hop of a multipath one); without the filter, every
 * unicast route (xhl2's default in table 100, not its local route).
 */
static void test_route_oifs(void)
{
	struct oifs_seen seen = { 0 };

	/* xhl2 without IPv6, so that its one route is table 100's default. */
	ASSERT_EQ(system("ip link add xhl2 type veth peer name xhl2p && sysctl -qw net.ipv6.conf.xhl2.disable_ipv6=1 && "
			 "ip link set xhl2p up && ip link set xhl2 up && "
			 "ip route add default nexthop dev xhl0 nexthop dev xhl1 && "
			 "ip -6 route add default dev xhl1 && ip route add default dev xhl2 table 100 && "
			 "ip route add local 10.77.0.1 dev xhl2 table 100"), 0);
	ASSERT_EQ(nl_route_oifs(true, oifs_count, &seen), 0);
	ASSERT_EQ(seen.n[0], 1);
	ASSERT_EQ(seen.n[1], 2);
	ASSERT_EQ(seen.n[2], 0);
	ASSERT_EQ(seen.n[3], 0);
	memset(&seen, 0, sizeof(seen));
	ASSERT_EQ(nl_route_oifs(false, oifs_count, &seen), 0);
	ASSERT_TRUE(seen.n[0] > 1);
	ASSERT_TRUE(seen.n[1] > 2);
	ASSERT_EQ(seen.n[2], 1);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root (network namespace)\n");
		return TEST_SUMMARY();
	}
	if (unshare(CLONE_NEWNET)) {
		printf("skipped: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return TEST_SUMMARY();
	}
	if (setup()) {
		printf("setting up the namespace failed\n");
		return 1;
	}
	RUN_TEST(test_route_metric);
	RUN_TEST(test_sysctl_default);
	RUN_TEST(test_fwmark);
	RUN_TEST(test_stale_source);
	RUN_TEST(test_no_endpoint);
	RUN_TEST(test_route_get);
	/* Last: it adds default routes, which would make test_no_endpoint's address reachable. */
	RUN_TEST(test_route_oifs);
	return TEST_SUMMARY();
}

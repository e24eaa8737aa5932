/* SPDX-License-Identifier: GPL-2.0 */
/* Tests tun.c and netlink.c for real, inside a private network namespace so nothing leaks to the host. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include "test.h"
#include "encoding.h"
#include "netlink.h"
#include "tun.h"

static int tun_fd = -1, tun_ifindex, other_fd = -1, other_ifindex;

/* Runs a shell command in this namespace and counts the lines of its output that contain needle. */
static int sh_count(const char *cmd, const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	pclose(f);
	return n;
}

static struct xwg_prefix pfx(const char *s, bool keep_host)
{
	struct xwg_prefix p;

	if (prefix_parse(&p, s, keep_host)) {
		fprintf(stderr, "bad test prefix %s\n", s);
		abort();
	}
	return p;
}

static void test_tun_open(void)
{
	int idx = -1, flags = 0;
	bool vnet = false, uso = false;
	struct ifreq ifr;

	tun_fd = tun_open("xwgt0", &tun_ifindex, &vnet, &uso);
	ASSERT_TRUE(tun_fd >= 0);
	/* This kernel has TUN offloads: the TUN must carry virtio-net headers (the batched path). */
	ASSERT_TRUE(vnet);
	ASSERT_TRUE(uso);
	memset(&ifr, 0, sizeof(ifr));
	ASSERT_EQ(ioctl(tun_fd, TUNGETIFF, &ifr), 0);
	flags = ifr.ifr_flags;
	ASSERT_TRUE(flags & IFF_VNET_HDR);
	ASSERT_TRUE(tun_ifindex > 0);
	ASSERT_EQ(if_nametoindex("xwgt0"), tun_ifindex);
	ASSERT_TRUE(fcntl(tun_fd, F_GETFL) & O_NONBLOCK);
	ASSERT_TRUE(fcntl(tun_fd, F_GETFD) & FD_CLOEXEC);
	/* Nothing to read yet, and it must not block. */
	{
		char buf[64];

		ASSERT_EQ(read(tun_fd, buf, sizeof(buf)), -1);
		ASSERT_EQ(errno, EAGAIN);
	}

	/* Already held by us (single queue): the kernel says busy. */
	ASSERT_EQ(tun_open("xwgt0", &idx, &vnet, &uso), -EBUSY);
	/* A name taken by a device that is not a TUN. */
	ASSERT_EQ(tun_open("lo", &idx, &vnet, &uso), -EEXIST);
	ASSERT_EQ(tun_open("", &idx, &vnet, &uso), -EINVAL);
	ASSERT_EQ(tun_open("0123456789abcdef", &idx, &vnet, &uso), -EINVAL);
	ASSERT_EQ(tun_open("xwg%d", &idx, &vnet, &uso), -EINVAL);
	ASSERT_EQ(idx, -1);

	other_fd = tun_open("0123456789abcde", &other_ifindex, &vnet, &uso);
	ASSERT_TRUE(other_fd >= 0);
	ASSERT_TRUE(other_ifindex > 0 && other_ifindex != tun_ifindex);
}

static void test_link(void)
{
	ASSERT_EQ(nl_link_set_mtu(tun_ifindex, 1420), 0);
	ASSERT_EQ(sh_count("ip -o link show dev xwgt0", "mtu 1420 "), 1);
	ASSERT_EQ(nl_link_set_mtu(tun_ifindex, 0), -EINVAL);
	ASSERT_EQ(nl_link_set_mtu(tun_ifindex, 70000), -EINVAL);
	ASSERT_EQ(nl_link_set_mtu(0, 1420), -EINVAL);
	ASSERT_EQ(nl_link_set_mtu(99999, 1420), -ENODEV);
	ASSERT_EQ(sh_count("ip -o link show dev xwgt0", "mtu 1420 "), 1);

	ASSERT_EQ(sh_count("ip -o link show dev xwgt0", ",UP"), 0);
	ASSERT_EQ(nl_link_set_up(tun_ifindex, true), 0);
	ASSERT_EQ(sh_count("ip -o link show dev xwgt0", ",UP"), 1);
	ASSERT_EQ(nl_link_set_up(other_ifindex, true), 0);
	ASSERT_EQ(nl_link_set_up(99999, true), -ENODEV);
}

static void test_addr(void)
{
	struct xwg_prefix a4 = pfx("10.9.0.1/24", true), a6 = pfx("fd00:9::1/64", true);
	struct xwg_prefix bad = a4;

	ASSERT_EQ(nl_addr_add(tun_ifindex, &a4), 0);
	ASSERT_EQ(nl_addr_add(tun_ifindex, &a6), 0);
	ASSERT_EQ(sh_count("ip -o -4 addr show dev xwgt0", "inet 10.9.0.1/24 "), 1);
	ASSERT_EQ(sh_count("ip -o -6 addr show dev xwgt0", "inet6 fd00:9::1/64 "), 1);
	/* NODAD: usable at once, never "tentative". */
	ASSERT_EQ(sh_count("ip -o -6 addr show dev xwgt0", "nodad"), 1);
	ASSERT_EQ(sh_count("ip -o -6 addr show dev xwgt0", "tentative"), 0);
	ASSERT_EQ(nl_addr_add(tun_ifindex, &a4), -EEXIST);
	ASSERT_EQ(nl_addr_add(tun_ifindex, &a6), -EEXIST);

	bad.cidr = 33;
	ASSERT_EQ(nl_addr_add(tun_ifindex, &bad), -EINVAL);
	bad.family = AF_UNIX;
	bad.cidr = 8;
	ASSERT_EQ(nl_addr_add(tun_ifindex, &bad), -EINVAL);
	ASSERT_EQ(nl_addr_add(99999, &a4), -ENODEV);
}

static void test_routes(void)
{
	struct xwg_prefix r4 = pfx("10.10.0.0/16", false), r6 = pfx("fd00:10::/48", false);
	struct xwg_prefix c4 = pfx("10.12.0.0/16", false), c6 = pfx("fd00:12::/48", false);
	struct xwg_prefix d4 = pfx("0.0.0.0/0", false), d6 = pfx("::/0", false);
	struct xwg_prefix h4 = pfx("10.13.1.2/32", false);

	ASSERT_EQ(nl_route_add(tun_ifindex, &r4, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &r6, 0), 0);
	/* Adding the same route again is not an error, and does not duplicate it. */
	ASSERT_EQ(nl_route_add(tun_ifindex, &r4, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &r6, 0), 0);
	ASSERT_EQ(sh_count("ip -4 route show dev xwgt0", "10.10.0.0/16 "), 1);
	ASSERT_EQ(sh_count("ip -4 route show dev xwgt0", "scope link"), 2);	/* + the connected /24 */
	ASSERT_EQ(sh_count("ip -6 route show dev xwgt0", "fd00:10::/48 "), 1);
	ASSERT_EQ(sh_count("ip -6 route show", "fd00:10::/48 "), 1);

	/* The same prefix on another device is a real clash. */
	ASSERT_EQ(nl_route_add(other_ifindex, &c4, 0), 0);
	ASSERT_EQ(nl_route_add(other_ifindex, &c6, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &c4, 0), -EEXIST);
	ASSERT_EQ(nl_route_add(tun_ifindex, &c6, 0), -EEXIST);
	ASSERT_EQ(sh_count("ip -6 route show", "fd00:12::/48 "), 1);
	ASSERT_EQ(sh_count("ip -6 route show dev xwgt0", "fd00:12::/48 "), 0);

	/* Default routes (no destination bytes in the dump) and host routes, twice each. */
	ASSERT_EQ(nl_route_add(tun_ifindex, &d4, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &d4, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &d6, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &d6, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &h4, 0), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &h4, 0), 0);
	ASSERT_EQ(sh_count("ip -4 route show dev xwgt0", "default"), 1);
	ASSERT_EQ(sh_count("ip -6 route show dev xwgt0", "default"), 1);
	ASSERT_EQ(sh_count("ip -4 route show dev xwgt0", "10.13.1.2 "), 1);

	/* Another table. */
	ASSERT_EQ(nl_route_add(tun_ifindex, &r4, 1234), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &r4, 1234), 0);
	ASSERT_EQ(nl_route_add(tun_ifindex, &r6, 1234), 0);
	ASSERT_EQ(sh_count("ip -4 route show table 1234", "10.10.0.0/16 dev xwgt0"), 1);
	ASSERT_EQ(sh_count("ip -6 route show table 1234", "fd00:10::/48 dev xwgt0"), 1);

	ASSERT_EQ(nl_route_del(tun_ifindex, &r4, 0), 0);
	ASSERT_EQ(sh_count("ip -4 route show", "10.10.0.0/16 "), 0);
	ASSERT_EQ(sh_count("ip -4 route show table 1234", "10.10.0.0/16 "), 1);
	ASSERT_EQ(nl_route_del(tun_ifindex, &r4, 0), -ENOENT);
	ASSERT_EQ(nl_route_del(tun_ifindex, &r6, 0), 0);
	ASSERT_EQ(sh_count("ip -6 route show", "fd00:10::/48 "), 0);
	ASSERT_EQ(nl_route_del(tun_ifindex, &r6, 0), -ENOENT);
	/* A route on another device is not ours to delete. */
	ASSERT_EQ(nl_route_del(tun_ifindex, &c4, 0), -ENOENT);
	ASSERT_EQ(sh_count("ip -4 route show", "10.12.0.0/16 "), 1);
	ASSERT_EQ(nl_route_del(tun_ifindex, &r4, 1234), 0);
	ASSERT_EQ(nl_route_del(tun_ifindex, &r6, 1234), 0);
	ASSERT_EQ(nl_route_del(tun_ifindex, &d4, 0), 0);
	ASSERT_EQ(nl_route_del(tun_ifindex, &d6, 0), 0);
	ASSERT_EQ(sh_count("ip -4 route show dev xwgt0", "default"), 0);

	ASSERT_EQ(nl_route_add(99999, &r4, 0), -ENODEV);
	ASSERT_EQ(nl_route_add(0, &r4, 0), -EINVAL);
}

static void test_down_and_close(void)
{
	ASSERT_EQ(nl_link_set_up(tun_ifindex, false), 0);
	ASSERT_EQ(sh_count("ip -o link show dev xwgt0", ",UP"), 0);
	/* Routes through a device go with it when it goes down. */
	ASSERT_EQ(sh_count("ip -4 route show", "xwgt0"), 0);
	/* Not persistent: closing the fd removes the device. */
	close(tun_fd);
	close(other_fd);
	ASSERT_EQ(if_nametoindex("xwgt0"), 0);
	ASSERT_EQ(if_nametoindex("0123456789abcde"), 0);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: needs root (network namespace, TUN)\n");
		return TEST_SUMMARY();
	}
	if (unshare(CLONE_NEWNET)) {
		printf("skipped: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return TEST_SUMMARY();
	}
	if (sh_count("ip -o link show dev lo", "lo") != 1) {
		printf("skipped: the ip command is not available\n");
		return TEST_SUMMARY();
	}
	RUN_TEST(test_tun_open);
	if (tun_fd < 0 || other_fd < 0)
		return TEST_SUMMARY();
	RUN_TEST(test_link);
	RUN_TEST(test_addr);
	RUN_TEST(test_routes);
	RUN_TEST(test_down_and_close);
	return TEST_SUMMARY();
}

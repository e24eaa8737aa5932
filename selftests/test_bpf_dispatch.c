/* SPDX-License-Identifier: GPL-2.0 */
/* Tests the namespace's XDP dispatcher (bpf/dispatch.bpf.c) through BPF_PROG_TEST_RUN: ports to slots, the rest passes. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "bpf_test.h"
#include "xwg_maps.h"
#include "dispatch.skel.h"
#include "foreign_test.skel.h"

#define LO 1
#define PORT 51820

static struct dispatch_bpf *disp;
static struct foreign_test_bpf *target;

/* Ethernet + IPv4 or IPv6 + UDP (or TCP when proto says so) to dport, 8 bytes of payload. */
static size_t frame(uint8_t *b, int family, uint8_t proto, uint16_t dport)
{
	size_t l3 = family == 4 ? 20 : 40, len = 14 + l3 + 8 + 8;

	memset(b, 0, len);
	put16(b + 12, family == 4 ? ETH_P_IP : ETH_P_IPV6);
	if (family == 4) {
		b[14] = 0x45;
		put16(b + 16, (uint16_t)(len - 14));
		b[22] = 64;
		b[23] = proto;
	} else {
		b[14] = 0x60;
		put16(b + 18, 16);
		b[20] = proto;
		b[21] = 64;
	}
	put16(b + 14 + l3, 40000);
	put16(b + 14 + l3 + 2, dport);
	put16(b + 14 + l3 + 4, 16);
	return len;
}

static int run(int family, uint8_t proto, uint16_t dport, uint32_t ifindex)
{
	struct xdp_md ctx = { .ingress_ifindex = ifindex };
	uint8_t b[128];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	opts.data_in = b;
	opts.data_size_in = (uint32_t)frame(b, family, proto, dport);
	ctx.data_end = opts.data_size_in;
	if (bpf_prog_test_run_opts(bpf_program__fd(disp->progs.xwg_dispatch), &opts))
		return -errno;
	return (int)opts.retval;
}

static int setup(void)
{
	disp = dispatch_bpf__open_and_load();
	target = foreign_test_bpf__open_and_load();
	return disp && target ? 0 : -1;
}

static void test_dispatch(void)
{
	struct xwg_disp_key key = { .ifindex = LO, .port = htons(PORT) };
	int ports = bpf_map__fd(disp->maps.xwg_disp_ports), progs = bpf_map__fd(disp->maps.xwg_disp_progs);
	int fd = bpf_program__fd(target->progs.foreign_xdp_drop);
	uint32_t slot = 5;

	/* Nothing registered: everything passes. */
	ASSERT_EQ(run(4, IPPROTO_UDP, PORT, LO), XDP_PASS);
	ASSERT_EQ(bpf_map_update_elem(ports, &key, &slot, BPF_ANY), 0);
	/* A port without a program in its slot (being replaced): passes. */
	ASSERT_EQ(run(4, IPPROTO_UDP, PORT, LO), XDP_PASS);
	ASSERT_EQ(bpf_map_update_elem(progs, &slot, &fd, BPF_ANY), 0);
	ASSERT_EQ(run(4, IPPROTO_UDP, PORT, LO), XDP_DROP);
	ASSERT_EQ(run(6, IPPROTO_UDP, PORT, LO), XDP_DROP);
	/* Another port, another protocol: not the slot's. */
	ASSERT_EQ(run(4, IPPROTO_UDP, PORT + 1, LO), XDP_PASS);
	ASSERT_EQ(run(4, IPPROTO_TCP, PORT, LO), XDP_PASS);
	ASSERT_EQ(run(6, IPPROTO_TCP, PORT, LO), XDP_PASS);
	/* Unregistered: passes again. */
	ASSERT_EQ(bpf_map_delete_elem(ports, &key), 0);
	ASSERT_EQ(run(6, IPPROTO_UDP, PORT, LO), XDP_PASS);
}

int main(void)
{
	int status;

	if (!bpf_test_begin("test_bpf_dispatch", setup, "dispatch.bpf.o or foreign_test.bpf.o", &status))
		return status;
	RUN_TEST(test_dispatch);
	dispatch_bpf__destroy(disp);
	foreign_test_bpf__destroy(target);
	return TEST_SUMMARY();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Which data path modes this kernel supports, told apart with trivial programs on a veth: the
 * test runner's ground truth, so a mode xwg refuses on a kernel that has it fails a test instead
 * of skipping it.  Usage: probe_modes IFNAME (a veth nobody else uses).  Prints one line per mode:
 * "MODE yes" or "MODE no: REASON".  A mode needs what xwg's programs need of it: the map types
 * (ring buffer, LPM trie), a TC hook on the underlay (TCX link or clsact) and, for xdp and
 * xdp-generic, an XDP program attached in that mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif

/* r0 = ret; exit */
static int probe_prog(enum bpf_prog_type type, int ret)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(type, "xwg_probe", "GPL", insns, 2, NULL);

	return fd < 0 ? -errno : fd;
}

static int probe_maps(char *why, size_t len)
{
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		snprintf(why, len, "no BPF ring buffer maps");
		return -1;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LPM_TRIE, NULL) != 1) {
		snprintf(why, len, "no BPF LPM trie maps");
		return -1;
	}
	return 0;
}

/* A TC program on both directions of ifindex: TCX links, else a clsact qdisc. */
static int probe_tc(int ifindex, char *why, size_t len)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
	int fd = probe_prog(BPF_PROG_TYPE_SCHED_CLS, TC_ACT_OK), in, eg, ret;

	if (fd < 0) {
		snprintf(why, len, "cannot load a TC program: %s", strerror(-fd));
		return -1;
	}
	in = bpf_link_create(fd, ifindex, BPF_TCX_INGRESS, NULL);
	eg = bpf_link_create(fd, ifindex, BPF_TCX_EGRESS, NULL);
	if (in >= 0 && eg >= 0) {
		close(in);
		close(eg);
		close(fd);
		return 0;
	}
	if (in >= 0)
		close(in);
	if (eg >= 0)
		close(eg);
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST) {
		snprintf(why, len, "no TCX and no clsact qdisc: %s", strerror(-ret));
		close(fd);
		return -1;
	}
	hook.attach_point = BPF_TC_INGRESS;
	ret = bpf_tc_attach(&hook, &opts);
	if (!ret) {
		hook.attach_point = BPF_TC_EGRESS;
		opts.prog_id = 0;
		ret = bpf_tc_attach(&hook, &opts);
	}
	if (ret)
		snprintf(why, len, "no TCX and cannot attach to clsact: %s", strerror(-ret));
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook);
	close(fd);
	return ret ? -1 : 0;
}

static int probe_xdp(int ifindex, __u32 flags, char *why, size_t len)
{
	int fd = probe_prog(BPF_PROG_TYPE_XDP, 2 /* XDP_PASS */), ret;

	if (fd < 0) {
		snprintf(why, len, "cannot load an XDP program: %s", strerror(-fd));
		return -1;
	}
	ret = bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (ret)
		snprintf(why, len, "cannot attach XDP to a veth in %s mode: %s",
			 flags & XDP_FLAGS_DRV_MODE ? "native" : "generic", strerror(-ret));
	else
		bpf_xdp_detach(ifindex, flags, NULL);
	close(fd);
	return ret ? -1 : 0;
}

static void probe_say(const char *mode, int ret, const char *why)
{
	if (ret)
		printf("%s no: %s\n", mode, why);
	else
		printf("%s yes\n", mode);
}

int main(int argc, char *argv[])
{
	char why[160] = "", bpf_why[160] = "";
	int ifindex, tun, bpf, tc;

	libbpf_set_print(NULL);	/* the reasons printed here say enough */
	if (argc != 2 || !(ifindex = (int)if_nametoindex(argv[1]))) {
		fprintf(stderr, "usage: probe_modes IFNAME (an existing veth)\n");
		return 2;
	}
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	probe_say("tun", tun < 0 ? -1 : 0, "cannot open /dev/net/tun");
	if (tun >= 0)
		close(tun);
	bpf = probe_maps(bpf_why, sizeof(bpf_why));
	tc = bpf ? bpf : probe_tc(ifindex, bpf_why, sizeof(bpf_why));
	probe_say("tc", tc, bpf_why);
	if (tc) {
		probe_say("xdp", tc, bpf_why);
		probe_say("xdp-generic", tc, bpf_why);
		return 0;
	}
	probe_say("xdp", probe_xdp(ifindex, XDP_FLAGS_DRV_MODE, why, sizeof(why)), why);
	probe_say("xdp-generic", probe_xdp(ifindex, XDP_FLAGS_SKB_MODE, why, sizeof(why)), why);
	return 0;
}

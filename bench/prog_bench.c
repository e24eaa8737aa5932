/* SPDX-License-Identifier: GPL-2.0 */
/* Benchmark (no pass/fail): ns per MTU-sized packet in xwg_rx, xwg_rx_tc_full and xwg_tx through BPF_PROG_TEST_RUN. */
/*
 * Build (after the rx/tx skeletons exist):
 *   gcc -O2 -g -std=c11 -D_GNU_SOURCE -Iinclude -I.output -Iselftests bench/prog_bench.c \
 *       -lbpf -lelf -lz -lcrypto -o .output/prog_bench
 * Run as root, pinned to one CPU (PROG_BENCH_CPU). Each program runs RUNS times on a fresh packet
 * (repeat = 1, so caches are as cold as userspace left them between packets); the median, the 10th
 * percentile and the best are printed, because on a shared machine a mean mostly measures the
 * neighbours. Compare builds by the best and p10 of interleaved runs.
 * xwg_rx and xwg_rx_tc_full get valid messages with new counters (the whole path: decrypt, verify,
 * replay window, inner check, decapsulation); xwg_tx gets a 1420-byte TCP packet.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wg_frames.h"
#include "xwg_maps.h"
#include "rx.skel.h"
#include "tx.skel.h"

#define PORT		51820
#define KP		0x0a0a0a0au
#define PEER		1
#define RUNS		1000
#ifndef PROG_BENCH_CPU
#define PROG_BENCH_CPU	1
#endif

static uint8_t key[32];

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, uint32_t *t, int n, int ok)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_u32);
	printf("| %s | %u | %u | %u | %d/%d |\n", what, t[n / 2], t[n / 10], t[0], ok, n);
}

static int rx_setup(struct rx_bpf *rx)
{
	struct xwg_dev_config c = { .tun_ifindex = 1, .flags = XWG_CFG_F_RX, .listen_port = htons(PORT) };
	struct xwg_lpm4_key k4 = { .prefixlen = 32 };
	struct xwg_keypair kp;
	uint32_t zero = 0, peer = PEER, index = KP;
	int err = 0;

	memset(&kp, 0, sizeof(kp));
	memcpy(kp.recv_key, key, 32);
	kp.birthdate_ns = mono_ns();
	kp.peer_id = PEER;
	kp.flags = XWG_KP_F_RECV_VALID;
	pton(4, "10.99.0.2", k4.addr);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_config), &zero, &c, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_keypairs), &index, &kp, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_allowedips4), &k4, &peer, BPF_ANY);
	return err;
}

/* xdp: 1 for xwg_rx, 0 for xwg_rx_tc_full; counters continue from *counter. */
static void bench_rx(struct rx_bpf *rx, int xdp, uint64_t *counter)
{
	static struct frame fr;
	static uint8_t wg[FRAME_MAX], out[FRAME_MAX + 64];
	int fd = bpf_program__fd(xdp ? rx->progs.xwg_rx : rx->progs.xwg_rx_tc_full), ok = 0;
	uint32_t t[RUNS];

	for (int i = 0; i < RUNS; i++) {
		struct xdp_md xin = { .ingress_ifindex = 1 };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		size_t wg_len;

		memset(&fr, 0, sizeof(fr));
		fr.inner_len = inner_packet(fr.inner, IN_V4, NULL, MTU - 28);
		wg_len = wg_data(wg, KP, (*counter)++, fr.inner, fr.inner_len, key);
		outer_frame(&fr, 4, 0, PORT, wg, wg_len);
		opts.data_in = fr.b;
		opts.data_size_in = (uint32_t)fr.len;
		if (xdp) {
			xin.data_end = (uint32_t)fr.len;
			opts.ctx_in = &xin;
			opts.ctx_size_in = sizeof(xin);
		}
		if (bpf_prog_test_run_opts(fd, &opts)) {
			fprintf(stderr, "prog_bench: test run: %s\n", strerror(errno));
			exit(1);
		}
		/* Delivered: XDP_PASS with the mark (output starts at the metadata), or TC's redirect. */
		ok += xdp ? opts.retval == XDP_PASS && opts.data_size_out > sizeof(struct xwg_rx_meta) &&
				    ((const struct xwg_rx_meta *)out)->mark.keep == 14 + fr.inner_len :
			    opts.retval == 7;
		t[i] = opts.duration;
	}
	report(xdp ? "xwg_rx (XDP), 1452 B message" : "xwg_rx_tc_full (TC), 1452 B message", t, RUNS, ok);
}

static int tx_setup(struct tx_bpf *tx)
{
	struct xwg_dev_config c = { .flags = XWG_CFG_F_TX, .listen_port = htons(PORT), .mtu = MTU };
	struct xwg_lpm4_key k4 = { .prefixlen = 24 };
	struct xwg_peer p = { .current_index = KP, .flags = XWG_PEER_F_HAS_CURRENT };
	struct xwg_keypair kp;
	uint32_t zero = 0, peer = PEER, index = KP;
	int err = 0;

	memset(&kp, 0, sizeof(kp));
	memcpy(kp.send_key, key, 32);
	kp.birthdate_ns = mono_ns();
	kp.peer_id = PEER;
	kp.remote_index = 0x12345678;
	kp.flags = XWG_KP_F_SEND_VALID;
	p.endpoint.family = XWG_AF_INET;
	p.endpoint.port = htons(PORT + 1);
	p.endpoint.ifindex = 1;
	pton(4, "192.0.2.2", p.endpoint.addr);
	pton(4, "192.0.2.1", p.endpoint.local);
	pton(4, "10.1.0.0", k4.addr);
	err |= bpf_map_update_elem(bpf_map__fd(tx->maps.xwg_config), &zero, &c, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(tx->maps.xwg_keypairs), &index, &kp, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(tx->maps.xwg_peers), &peer, &p, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(tx->maps.xwg_allowedips4), &k4, &peer, BPF_ANY);
	return err;
}

static void bench_tx(struct tx_bpf *tx)
{
	static uint8_t in[FRAME_MAX], out[2 * FRAME_MAX];
	int fd = bpf_program__fd(tx->progs.xwg_tx), ok = 0;
	size_t len = MTU;
	uint32_t t[RUNS];

	/* Ethernet (BPF_PROG_TEST_RUN's TC frames have one) + IPv4 + TCP + payload. */
	memset(in, 0, 14 + len);
	put16(in + 12, 0x0800);
	in[14] = 0x45;
	put16(in + 16, (uint16_t)len);
	in[22] = 64;
	in[23] = 6;
	pton(4, "10.0.0.1", in + 26);
	pton(4, "10.1.0.5", in + 30);
	put16(in + 24, csum_fold(csum_add(0, in + 14, 20)));
	in[14 + 20 + 12] = 0x50;
	for (size_t i = 40; i < len; i++)
		in[14 + i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)(14 + len),
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (bpf_prog_test_run_opts(fd, &opts)) {
			fprintf(stderr, "prog_bench: test run: %s\n", strerror(errno));
			exit(1);
		}
		ok += opts.retval == 7 && opts.data_size_out == 14 + 20 + 8 + 16 + len + 16;
		t[i] = opts.duration;
	}
	report("xwg_tx (TC), 1420 B packet", t, RUNS, ok);
}

int main(void)
{
	uint64_t counter = 0;
	struct rx_bpf *rx;
	struct tx_bpf *tx;
	cpu_set_t cpus;

	if (geteuid() != 0) {
		fprintf(stderr, "prog_bench: needs root\n");
		return 1;
	}
	CPU_ZERO(&cpus);
	CPU_SET(PROG_BENCH_CPU, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0xa0 + i * 5);
	rx = rx_bpf__open_and_load();
	tx = tx_bpf__open_and_load();
	if (!rx || !tx || rx_setup(rx) || tx_setup(tx)) {
		fprintf(stderr, "prog_bench: cannot load or fill rx/tx: %s\n", strerror(errno));
		return 1;
	}
	printf("| program | median ns | p10 ns | best ns | delivered |\n|---|---:|---:|---:|---:|\n");
	bench_rx(rx, 1, &counter);
	bench_rx(rx, 0, &counter);
	bench_tx(tx);
	rx_bpf__destroy(rx);
	tx_bpf__destroy(tx);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counter reservation under concurrency: agent threads reserving batches with
 * offload_reserve_counters() (real ctl.bpf.c) while other threads run the real xwg_tx on the same
 * keypair through BPF_PROG_TEST_RUN. Every counter must be used once: none twice, none lost.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "bpf_test.h"
#include "device.h"
#include "noise.h"
#include "offload_internal.h"

#define PORT		51820
#define PEER_PORT	51821
#define MTU		1420
#define LO_IFINDEX	1
#define PEER_ID		1
#define KP_INDEX	0x0b000001u
#define REMOTE_INDEX	0xd1c2b3a4u
#define RESERVERS	3
#define SENDERS		3
#define ROUNDS		2000		/* per thread */
#define WG_OFF		(14 + 20 + 8)	/* the WireGuard header in an IPv4 frame xwg_tx built */

static struct rx_bpf *rx;
static struct tx_bpf *tx;
static struct ctl_bpf *ctl;

/* The agent's side as offload_reserve_counters() sees it: a device, a peer, an offloaded keypair. */
static struct xwg_device dev;
static struct peer peer;
static struct noise_keypair kp;

/* What one thread used: counters, in the order it got them. */
struct used {
	pthread_t thread;
	uint64_t *c;
	size_t n, cap;
	uint32_t seed;		/* reservers: where its sequence of batch sizes starts */
	int errors;		/* calls that failed or packets that came out wrong */
	char why[160];
};

static pthread_barrier_t start;

/* Thread i on CPU i % CPUs: with a CPU each, the reservers really run at the same time. */
static void pin(int i)
{
	cpu_set_t set;
	int n = libbpf_num_possible_cpus();

	CPU_ZERO(&set);
	CPU_SET(i % (n > 0 ? n : 1), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);	/* best effort */
}

static void used_add(struct used *u, uint64_t c)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 1024;
		u->c = realloc(u->c, u->cap * sizeof(*u->c));
		if (!u->c)
			abort();
	}
	u->c[u->n++] = c;
}

static void used_fail(struct used *u, const char *why, long v)
{
	if (!u->errors++)
		snprintf(u->why, sizeof(u->why), "%s (%ld)", why, v);
}

/* Batches of 1 .. 64 counters, as the batched send path reserves them. */
static void *reserver(void *arg)
{
	struct used *u = arg;
	uint64_t first;
	int ret;

	pin((int)u->seed);
	pthread_barrier_wait(&start);
	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t n = 1 + (i * 37 + u->seed * 11) % 64;

		ret = offload_reserve_counters(&kp, n, &first);
		if (ret) {
			used_fail(u, "offload_reserve_counters", ret);
			continue;
		}
		for (uint32_t k = 0; k < n; k++)
			used_add(u, first + k);
	}
	return NULL;
}

/* An Ethernet frame with a small UDP packet to the peer's allowed IP, as TC sees it on the tunnel. */
static size_t tx_frame(uint8_t *fr)
{
	uint8_t *ip = fr + 14;
	size_t len = 20 + 8 + 32;

	memset(fr, 0, 14 + len);
	put16(fr + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)len);
	ip[8] = 64;
	ip[9] = 17;
	pton(4, "10.0.0.1", ip + 12);
	pton(4, "10.0.0.2", ip + 16);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	put16(ip + 20, 4000);
	put16(ip + 22, 5000);
	put16(ip + 24, 8 + 32);
	for (int i = 0; i < 32; i++)
		ip[28 + i] = (uint8_t)i;
	return 14 + len;
}

/* The real transmit program; the counter it used is in the WireGuard header it wrote. */
static void *sender(void *arg)
{
	struct used *u = arg;
	uint8_t in[128], out[256];
	size_t len = tx_frame(in);

	pin((int)u->seed);
	pthread_barrier_wait(&start);
	for (int i = 0; i < ROUNDS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		uint32_t type, index;
		uint64_t c;

		if (bpf_prog_test_run_opts(bpf_program__fd(tx->progs.xwg_tx), &opts)) {
			used_fail(u, "xwg_tx test run", -errno);
			continue;
		}
		if (opts.retval != TC_ACT_REDIRECT || opts.data_size_out < WG_OFF + 16) {
			used_fail(u, "xwg_tx verdict", (long)opts.retval);
			continue;
		}
		memcpy(&type, out + WG_OFF, 4);
		memcpy(&index, out + WG_OFF + 4, 4);
		memcpy(&c, out + WG_OFF + 8, 8);	/* little-endian on the wire and here */
		if (type != MESSAGE_DATA || index != REMOTE_INDEX) {
			used_fail(u, "xwg_tx wrote no data message header", (long)type);
			continue;
		}
		used_add(u, c);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t map_send_counter(void)
{
	struct xwg_keypair val;
	uint32_t index = KP_INDEX;

	if (bpf_map_lookup_elem(bpf_map__fd(rx->maps.xwg_keypairs), &index, &val))
		return UINT64_MAX;
	return val.send_counter;
}

static void test_no_counter_twice(void)
{
	struct used u[RESERVERS + SENDERS] = { 0 };
	size_t total = 0, k = 0, from_bpf = 0;
	uint64_t *all, dup = UINT64_MAX;

	ASSERT_EQ(pthread_barrier_init(&start, NULL, RESERVERS + SENDERS), 0);
	for (int i = 0; i < RESERVERS + SENDERS; i++) {
		u[i].seed = (uint32_t)i;	/* its CPU, and a batch-size sequence of its own */
		ASSERT_EQ(pthread_create(&u[i].thread, NULL, i < RESERVERS ? reserver : sender, &u[i]), 0);
	}
	for (int i = 0; i < RESERVERS + SENDERS; i++) {
		pthread_join(u[i].thread, NULL);
		if (u[i].errors)
			TEST_FAIL("thread %d: %d errors, first: %s", i, u[i].errors, u[i].why);
		total += u[i].n;
		if (i >= RESERVERS)
			from_bpf += u[i].n;
	}
	pthread_barrier_destroy(&start);
	ASSERT_EQ(from_bpf, (size_t)SENDERS * ROUNDS);
	all = malloc(total * sizeof(*all));
	if (!all)
		abort();
	for (int i = 0; i < RESERVERS + SENDERS; i++) {
		memcpy(all + k, u[i].c, u[i].n * sizeof(*all));
		k += u[i].n;
		free(u[i].c);
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	for (size_t i = 1; i < total; i++)
		if (all[i] == all[i - 1] && dup == UINT64_MAX)
			dup = all[i];
	if (dup != UINT64_MAX)
		TEST_FAIL("counter %llu used twice", (unsigned long long)dup);
	/* Nothing lost either: the counters used are exactly 0 .. total - 1, and the map is past them. */
	ASSERT_TRUE(total > 0);
	ASSERT_EQ(all[0], 0);
	ASSERT_EQ(all[total - 1], total - 1);
	ASSERT_EQ(map_send_counter(), total);
	printf("# %zu counters: %zu by xwg_tx, %zu reserved by %d agent threads\n", total, from_bpf,
	       total - from_bpf, RESERVERS);
	free(all);
}

/* rx creates the maps; tx and ctl load on them, as offload_load does. */
static int load_on_rx_maps(struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map *from = bpf_object__find_map_by_name(rx->obj, bpf_map__name(m));

		if (from && bpf_map__reuse_fd(m, bpf_map__fd(from)))
			return -1;
	}
	return bpf_object__load(obj);
}

/* One peer with an IPv4 endpoint and a current keypair at counter 0; 10.0.0.0/24 is its. */
static int fill_maps(void)
{
	struct xwg_dev_config cfg = { .flags = XWG_CFG_F_TX | XWG_CFG_F_HYBRID, .listen_port = htons(PORT),
				      .mtu = MTU };
	struct xwg_peer p = { .flags = XWG_PEER_F_HAS_CURRENT, .current_index = KP_INDEX };
	struct xwg_lpm4_key k4 = { .prefixlen = 24 };
	struct xwg_keypair val;
	uint32_t zero = 0, id = PEER_ID, index = KP_INDEX;
	int err = 0;

	p.endpoint.family = XWG_AF_INET;
	p.endpoint.port = htons(PEER_PORT);
	p.endpoint.ifindex = LO_IFINDEX;
	pton(4, "192.0.2.2", p.endpoint.addr);
	pton(4, "192.0.2.1", p.endpoint.local);
	memset(&val, 0, sizeof(val));
	for (int i = 0; i < 32; i++)
		val.send_key[i] = (uint8_t)(i * 7 + 3);
	val.birthdate_ns = mono_ns();
	val.remote_index = REMOTE_INDEX;
	val.peer_id = PEER_ID;
	val.flags = XWG_KP_F_SEND_VALID;
	pton(4, "10.0.0.0", k4.addr);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_config), &zero, &cfg, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_peers), &id, &p, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_keypairs), &index, &val, BPF_ANY);
	err |= bpf_map_update_elem(bpf_map__fd(rx->maps.xwg_allowedips4), &k4, &id, BPF_ANY);
	return err ? -1 : 0;
}

static int setup(void)
{
	struct offload *o;

	rx = rx_bpf__open_and_load();
	tx = tx_bpf__open();
	ctl = ctl_bpf__open();
	if (!rx || !tx || !ctl || load_on_rx_maps(tx->obj) || load_on_rx_maps(ctl->obj))
		return -1;
	if (bpf_test_setup(rx->obj) || fill_maps())
		return -1;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -1;
	o->mode = OFFLOAD_XDP;
	o->hybrid = true;
	o->rx = rx;
	o->ctl = ctl;
	dev.offload = o;
	peer.dev = &dev;
	kp.peer = &peer;
	kp.local_index = KP_INDEX;
	kp.offloaded = true;
	return 0;
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN needs root\n");
		return TEST_SUMMARY();
	}
	if (setup()) {
		fprintf(stderr, "test_reserve_mt: cannot load rx/tx/ctl: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	RUN_TEST(test_no_counter_twice);
	free(dev.offload);
	ctl_bpf__destroy(ctl);
	tx_bpf__destroy(tx);
	rx_bpf__destroy(rx);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* What the BPF program tests share: byte and checksum helpers, per-CPU map sums, set-up and main's start. */
#ifndef XWG_TEST_BPF_TEST_H
#define XWG_TEST_BPF_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "xwg_maps.h"

/* ---------------------------------------------------------------- bytes and checksums */

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static inline uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void pton(int family, const char *s, uint8_t *out)
{
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1)
		abort();
}

/* ---------------------------------------------------------------- the loaded object's maps */

static struct bpf_object *bpf_test_obj;	/* whose maps the helpers below read */
static int ncpus;

/* Per-CPU counters and rate limits: keep every test run on one CPU. 0, or -1 if obj did not load. */
static inline int bpf_test_setup(struct bpf_object *obj)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	ncpus = libbpf_num_possible_cpus();
	bpf_test_obj = obj;
	return obj && ncpus > 0 ? 0 : -1;
}

static inline int bpf_test_map(const char *name)
{
	return bpf_object__find_map_fd_by_name(bpf_test_obj, name);
}

/* One xwg_reasons counter summed over CPUs; ~0 if it cannot be read. */
static inline uint64_t reason_count(uint32_t reason)
{
	uint64_t v[ncpus], sum = 0;

	if (bpf_map_lookup_elem(bpf_test_map("xwg_reasons"), &reason, v))
		return ~0ull;
	for (int i = 0; i < ncpus; i++)
		sum += v[i];
	return sum;
}

static inline void reasons_snapshot(uint64_t *v)
{
	for (uint32_t r = 0; r < XWG_R_MAX; r++)
		v[r] = reason_count(r);
}

/* A peer's statistics over all CPUs: counters added up, times the latest; zeros if unreadable. */
static inline struct xwg_peer_stats peer_stats(uint32_t peer)
{
	struct xwg_peer_stats v[ncpus], sum = { 0 };

	if (bpf_map_lookup_elem(bpf_test_map("xwg_stats"), &peer, v))
		return sum;
	for (int i = 0; i < ncpus; i++) {
		sum.rx_bytes += v[i].rx_bytes;
		sum.rx_packets += v[i].rx_packets;
		sum.tx_bytes += v[i].tx_bytes;
		sum.tx_packets += v[i].tx_packets;
#define BPF_TEST_MAX(f) if (v[i].f > sum.f) sum.f = v[i].f
		BPF_TEST_MAX(last_rx_ns);
		BPF_TEST_MAX(last_rx_data_ns);
		BPF_TEST_MAX(last_tx_ns);
		BPF_TEST_MAX(last_tx_data_ns);
#undef BPF_TEST_MAX
	}
	return sum;
}

/* ---------------------------------------------------------------- live runs in a private netns */

/* Moves the process into a new network namespace; -1 (said why) when the live run must be skipped. */
static inline int bpf_test_enter_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		printf("# skipped end to end: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static inline int test_tun_open(const char *name, int *ifindex)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	*ifindex = (int)if_nametoindex(name);
	return fd;
}

static inline int udp_listen(int family, const char *addr, uint16_t port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 3 };	/* a loaded 2-CPU box can sit on a backlog for a while */
	int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err, one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, family == 4 ? IPPROTO_IP : IPPROTO_IPV6, family == 4 ? IP_PKTINFO : IPV6_RECVPKTINFO,
		   &one, sizeof(one));
	if (family == 4) {
		pton(4, addr, (uint8_t *)&s4.sin_addr);
		err = bind(fd, (struct sockaddr *)&s4, sizeof(s4));
	} else {
		pton(6, addr, (uint8_t *)&s6.sin6_addr);
		err = bind(fd, (struct sockaddr *)&s6, sizeof(s6));
	}
	if (err) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Receives one datagram; *ifindex is the interface it came in on (IP_PKTINFO / IPV6_PKTINFO). */
static inline ssize_t udp_recv(int fd, uint8_t *buf, size_t len, int *ifindex)
{
	union {
		struct cmsghdr align;
		uint8_t b[256];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			      .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(fd, &msg, 0);

	*ifindex = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			*ifindex = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_ifindex;
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			*ifindex = (int)((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_ifindex;
	}
	return n;
}

/* Runs run_fixture on every entry of a fixture table and names each entry that failed. */
#define RUN_FIXTURES(table, run_fixture) do { \
	int _failures = test_failures_in_case; \
	for (size_t _i = 0; _i < sizeof(table) / sizeof((table)[0]); _i++) { \
		run_fixture(&(table)[_i]); \
		if (test_failures_in_case != _failures) \
			printf("# fixture %zu (%s) failed\n", _i, (table)[_i].name); \
		_failures = test_failures_in_case; \
	} } while (0)

/* ---------------------------------------------------------------- main */

/*
 * The verifier's own cost figures for the named programs of a skeleton's object (its NAME__elf_bytes),
 * for the record: a load of its own at log level 4 (statistics only).
 */
static inline void bpf_test_verifier_stats(const void *(*elf_bytes)(size_t *size), const char *const names[], int n)
{
	static char log[4][4096];
	struct bpf_program *prog[4] = { 0 };
	struct bpf_object *obj;
	const void *elf;
	size_t size;
	const char *p;

	elf = elf_bytes(&size);
	obj = bpf_object__open_mem(elf, size, NULL);
	if (!obj)
		return;
	for (int i = 0; i < n && i < 4; i++) {
		prog[i] = bpf_object__find_program_by_name(obj, names[i]);
		if (!prog[i])
			continue;
		bpf_program__set_log_buf(prog[i], log[i], sizeof(log[i]));
		bpf_program__set_log_level(prog[i], 4);
	}
	if (!bpf_object__load(obj)) {
		for (int i = 0; i < n && i < 4; i++)
			if (prog[i] && (p = strstr(log[i], "processed")))
				printf("# %s verifier: %.*s\n", names[i], (int)strcspn(p, "\n"), p);
	}
	bpf_object__close(obj);
}

/*
 * The start of a BPF test's main(): skips without root (the test runs need it) and runs setup,
 * whose failure is one failed test. Returns true to go on, else false with the exit status.
 */
static inline bool bpf_test_begin(const char *test, int (*setup)(void), const char *what, int *status)
{
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN needs root\n");
		*status = TEST_SUMMARY();
		return false;
	}
	if (setup()) {
		fprintf(stderr, "%s: cannot load %s: %s\n", test, what, strerror(errno));
		printf("0 passed, 1 failed\n");
		*status = 1;
		return false;
	}
	return true;
}

#endif

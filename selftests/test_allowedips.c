/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the allowed-IPs tries: semantics, a brute-force reference and the netns.sh scale. */
#include "test.h"
#include "allowedips.h"
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

/* The table only links its nodes into each peer's allowedips list: zeroed peers do. */
static struct peer peer_storage[8];
#define P(i) (&peer_storage[i])

static void ins(struct allowedips *t, const char *ip, uint8_t cidr, struct peer *p)
{
	uint8_t a[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, ip, a) != 1)
		abort();
	if (allowedips_insert(t, fam, a, cidr, p))
		TEST_FAIL("insert %s/%u failed", ip, cidr);
}

static int rem(struct allowedips *t, const char *ip, uint8_t cidr, struct peer *p)
{
	uint8_t a[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, ip, a) != 1)
		abort();
	return allowedips_remove(t, fam, a, cidr, p);
}

static struct peer *look(struct allowedips *t, const char *ip)
{
	uint8_t a[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, ip, a) != 1)
		abort();
	return allowedips_lookup(t, fam, a);
}

/* Walk output collected as "addr/cidr " text. */
struct walk_buf {
	char text[4096];
	int count, stop_after;
};

static int walk_collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_buf *w = ctx;
	char host[INET6_ADDRSTRLEN];
	size_t len = strlen(w->text);

	inet_ntop(family, addr, host, sizeof(host));
	snprintf(w->text + len, sizeof(w->text) - len, "%s/%u ", host, cidr);
	if (++w->count == w->stop_after)
		return 42;
	return 0;
}

static const char *walk_text(struct allowedips *t, struct peer *p)
{
	static struct walk_buf w;

	memset(&w, 0, sizeof(w));
	allowedips_walk_by_peer(t, p, walk_collect, &w);
	return w.text;
}

static void test_exact_and_longest(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ASSERT_TRUE(look(&t, "10.0.0.1") == NULL);
	ins(&t, "10.0.0.0", 8, P(1));
	ins(&t, "10.1.0.0", 16, P(2));
	ins(&t, "10.1.2.0", 24, P(3));
	ins(&t, "10.1.2.3", 32, P(4));
	ASSERT_TRUE(look(&t, "10.9.9.9") == P(1));
	ASSERT_TRUE(look(&t, "10.1.9.9") == P(2));
	ASSERT_TRUE(look(&t, "10.1.2.9") == P(3));
	ASSERT_TRUE(look(&t, "10.1.2.3") == P(4));
	ASSERT_TRUE(look(&t, "10.1.2.2") == P(3));
	ASSERT_TRUE(look(&t, "11.0.0.0") == NULL);
	ASSERT_TRUE(look(&t, "9.255.255.255") == NULL);
	/* Inserted in the other order the answers are the same. */
	allowedips_free(&t);
	ins(&t, "10.1.2.3", 32, P(4));
	ins(&t, "10.1.2.0", 24, P(3));
	ins(&t, "10.1.0.0", 16, P(2));
	ins(&t, "10.0.0.0", 8, P(1));
	ASSERT_TRUE(look(&t, "10.9.9.9") == P(1));
	ASSERT_TRUE(look(&t, "10.1.9.9") == P(2));
	ASSERT_TRUE(look(&t, "10.1.2.9") == P(3));
	ASSERT_TRUE(look(&t, "10.1.2.3") == P(4));
	/* Siblings that fork in the middle of a byte. */
	ins(&t, "192.168.0.0", 17, P(5));
	ins(&t, "192.168.128.0", 17, P(6));
	ASSERT_TRUE(look(&t, "192.168.127.255") == P(5));
	ASSERT_TRUE(look(&t, "192.168.128.0") == P(6));
	ASSERT_TRUE(look(&t, "192.169.0.0") == NULL);
	allowedips_free(&t);
	ASSERT_TRUE(t.root4 == NULL && t.root6 == NULL);
}

static void test_default_routes(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "0.0.0.0", 0, P(1));
	ins(&t, "::", 0, P(2));
	ASSERT_TRUE(look(&t, "1.2.3.4") == P(1));
	ASSERT_TRUE(look(&t, "255.255.255.255") == P(1));
	ASSERT_TRUE(look(&t, "0.0.0.0") == P(1));
	ASSERT_TRUE(look(&t, "2001:db8::1") == P(2));
	ASSERT_TRUE(look(&t, "::") == P(2));
	ins(&t, "1.2.3.4", 32, P(3));
	ASSERT_TRUE(look(&t, "1.2.3.4") == P(3));
	ASSERT_TRUE(look(&t, "1.2.3.5") == P(1));
	/* A /0 with host bits set is still the default route. */
	ins(&t, "8.8.8.8", 0, P(4));
	ASSERT_TRUE(look(&t, "9.9.9.9") == P(4));
	ASSERT_STREQ(walk_text(&t, P(4)), "0.0.0.0/0 ");
	ASSERT_EQ(rem(&t, "0.0.0.0", 0, P(4)), 0);
	ASSERT_TRUE(look(&t, "9.9.9.9") == NULL);
	ASSERT_TRUE(look(&t, "1.2.3.4") == P(3));
	allowedips_free(&t);
}

static void test_hosts(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "192.168.241.2", 32, P(1));
	ins(&t, "fd00::2", 128, P(1));
	ins(&t, "fd00::3", 128, P(2));
	ASSERT_TRUE(look(&t, "192.168.241.2") == P(1));
	ASSERT_TRUE(look(&t, "192.168.241.3") == NULL);
	ASSERT_TRUE(look(&t, "fd00::2") == P(1));
	ASSERT_TRUE(look(&t, "fd00::3") == P(2));
	ASSERT_TRUE(look(&t, "fd00::4") == NULL);
	ASSERT_TRUE(look(&t, "fd00::") == NULL);
	/* Families never leak into each other: ::c0a8:f102 has the same low bits. */
	ASSERT_TRUE(look(&t, "::c0a8:f102") == NULL);
	ins(&t, "255.255.255.255", 32, P(3));
	ins(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, P(3));
	ASSERT_TRUE(look(&t, "255.255.255.255") == P(3));
	ASSERT_TRUE(look(&t, "255.255.255.254") == NULL);
	ASSERT_TRUE(look(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == P(3));
	ASSERT_TRUE(look(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") == NULL);
	allowedips_free(&t);
}

static void test_ipv6(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "2001:db8::", 32, P(1));
	ins(&t, "2001:db8:1::", 48, P(2));
	ins(&t, "2001:db8:1:2::", 64, P(3));
	ins(&t, "2001:db8:1:2:8000::", 65, P(4));
	ins(&t, "2001:db8:1:2::1:0", 112, P(5));
	ASSERT_TRUE(look(&t, "2001:db8:ffff::1") == P(1));
	ASSERT_TRUE(look(&t, "2001:db8:1:ffff::1") == P(2));
	ASSERT_TRUE(look(&t, "2001:db8:1:2::9") == P(3));
	ASSERT_TRUE(look(&t, "2001:db8:1:2:8000::9") == P(4));
	ASSERT_TRUE(look(&t, "2001:db8:1:2:7fff::9") == P(3));
	ASSERT_TRUE(look(&t, "2001:db8:1:2::1:abcd") == P(5));
	ASSERT_TRUE(look(&t, "2001:db9::") == NULL);
	ASSERT_STREQ(walk_text(&t, P(4)), "2001:db8:1:2:8000::/65 ");
	ASSERT_EQ(rem(&t, "2001:db8:1:2::", 64, P(3)), 0);
	ASSERT_TRUE(look(&t, "2001:db8:1:2::9") == P(2));
	ASSERT_TRUE(look(&t, "2001:db8:1:2::1:abcd") == P(5));
	allowedips_free(&t);
}

static void test_move_on_insert(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "10.0.0.0", 24, P(1));
	ins(&t, "10.0.0.0", 24, P(2));
	ASSERT_TRUE(look(&t, "10.0.0.7") == P(2));
	ASSERT_STREQ(walk_text(&t, P(1)), "");
	ASSERT_STREQ(walk_text(&t, P(2)), "10.0.0.0/24 ");
	/* The old owner can no longer remove it. */
	ASSERT_EQ(rem(&t, "10.0.0.0", 24, P(1)), -ENOENT);
	ASSERT_TRUE(look(&t, "10.0.0.7") == P(2));
	/* Same prefix given with host bits moves it too. */
	ins(&t, "10.0.0.99", 24, P(3));
	ASSERT_TRUE(look(&t, "10.0.0.7") == P(3));
	ASSERT_STREQ(walk_text(&t, P(2)), "");
	/* Re-inserting for the same peer is harmless. */
	ins(&t, "10.0.0.0", 24, P(3));
	ASSERT_STREQ(walk_text(&t, P(3)), "10.0.0.0/24 ");
	allowedips_free(&t);
}

static void test_remove_only_owner(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "10.0.0.0", 8, P(1));
	ins(&t, "10.1.0.0", 16, P(2));
	ins(&t, "10.2.0.0", 16, P(3));
	ASSERT_EQ(rem(&t, "10.1.0.0", 16, P(1)), -ENOENT);
	ASSERT_EQ(rem(&t, "10.1.0.0", 17, P(2)), -ENOENT);	/* different length */
	ASSERT_EQ(rem(&t, "10.3.0.0", 16, P(2)), -ENOENT);	/* absent */
	ASSERT_EQ(rem(&t, "10.0.0.0", 15, P(1)), -ENOENT);	/* branching node, not a prefix */
	ASSERT_EQ(rem(&t, "10.1.0.0", 16, NULL), -ENOENT);
	ASSERT_TRUE(look(&t, "10.1.0.1") == P(2));
	ASSERT_EQ(rem(&t, "10.1.5.5", 16, P(2)), 0);		/* masked like insert */
	ASSERT_TRUE(look(&t, "10.1.0.1") == P(1));
	ASSERT_EQ(rem(&t, "10.1.0.0", 16, P(2)), -ENOENT);	/* already gone */
	ASSERT_EQ(rem(&t, "10.0.0.0", 8, P(1)), 0);
	ASSERT_TRUE(look(&t, "10.1.0.1") == NULL);
	ASSERT_TRUE(look(&t, "10.2.0.1") == P(3));
	ASSERT_EQ(rem(&t, "10.2.0.0", 16, P(3)), 0);
	ASSERT_TRUE(t.root4 == NULL);			/* nothing left behind */
	ASSERT_EQ(rem(&t, "10.2.0.0", 16, P(3)), -ENOENT);
	allowedips_free(&t);
}

static void test_bad_input(void)
{
	struct allowedips t;
	uint8_t a[16] = { 10 };

	allowedips_init(&t);
	ASSERT_EQ(allowedips_insert(&t, AF_INET, a, 33, P(1)), -EINVAL);
	ASSERT_EQ(allowedips_insert(&t, AF_INET6, a, 129, P(1)), -EINVAL);
	ASSERT_EQ(allowedips_insert(&t, AF_UNIX, a, 8, P(1)), -EINVAL);
	ASSERT_EQ(allowedips_insert(&t, AF_INET, a, 8, NULL), -EINVAL);
	ASSERT_EQ(allowedips_remove(&t, AF_INET, a, 33, P(1)), -EINVAL);
	ASSERT_EQ(allowedips_remove(&t, AF_UNIX, a, 8, P(1)), -EINVAL);
	ASSERT_TRUE(allowedips_lookup(&t, AF_UNIX, a) == NULL);
	ASSERT_TRUE(t.root4 == NULL && t.root6 == NULL);
	allowedips_remove_by_peer(&t, P(1));
	allowedips_free(&t);
}

static void test_remove_by_peer(void)
{
	struct allowedips t;

	allowedips_init(&t);
	ins(&t, "0.0.0.0", 0, P(1));
	ins(&t, "10.0.0.0", 8, P(2));
	ins(&t, "10.1.0.0", 16, P(1));
	ins(&t, "10.1.1.0", 24, P(2));
	ins(&t, "10.1.1.1", 32, P(1));
	ins(&t, "fd00::", 64, P(1));
	ins(&t, "fd00::1", 128, P(2));
	allowedips_remove_by_peer(&t, P(1));
	ASSERT_STREQ(walk_text(&t, P(1)), "");
	ASSERT_TRUE(look(&t, "1.1.1.1") == NULL);
	ASSERT_TRUE(look(&t, "10.1.0.1") == P(2));
	ASSERT_TRUE(look(&t, "10.1.1.1") == P(2));
	ASSERT_TRUE(look(&t, "fd00::1") == P(2));
	ASSERT_TRUE(look(&t, "fd00::2") == NULL);
	ASSERT_STREQ(walk_text(&t, P(2)), "10.0.0.0/8 10.1.1.0/24 fd00::1/128 ");
	allowedips_remove_by_peer(&t, P(2));
	ASSERT_TRUE(t.root4 == NULL && t.root6 == NULL);
	allowedips_free(&t);
}

static void test_masking_and_walk(void)
{
	struct allowedips t;
	struct walk_buf w;

	allowedips_init(&t);
	ins(&t, "fd00::1:2:3", 112, P(1));
	ins(&t, "10.0.0.5", 24, P(1));
	ins(&t, "172.16.99.1", 12, P(1));
	ins(&t, "10.0.0.5", 32, P(1));
	ins(&t, "192.168.1.1", 32, P(2));
	ins(&t, "::1", 128, P(1));
	ASSERT_STREQ(walk_text(&t, P(1)),
		     "10.0.0.0/24 10.0.0.5/32 172.16.0.0/12 ::1/128 fd00::1:2:0/112 ");
	ASSERT_STREQ(walk_text(&t, P(2)), "192.168.1.1/32 ");
	ASSERT_STREQ(walk_text(&t, P(3)), "");
	/* A non-zero return stops the walk and is passed back. */
	memset(&w, 0, sizeof(w));
	w.stop_after = 2;
	ASSERT_EQ(allowedips_walk_by_peer(&t, P(1), walk_collect, &w), 42);
	ASSERT_STREQ(w.text, "10.0.0.0/24 10.0.0.5/32 ");
	memset(&w, 0, sizeof(w));
	w.stop_after = 4;
	ASSERT_EQ(allowedips_walk_by_peer(&t, P(1), walk_collect, &w), 42);
	ASSERT_EQ(w.count, 4);
	allowedips_free(&t);
}

/* ---- randomized comparison with a linear reference ---- */

struct ref_entry {
	uint8_t addr[16];
	uint8_t cidr;
	struct peer *peer;
};

static struct ref_entry ref[8192];
static int ref_n;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void mask_bytes(uint8_t *a, int bytes, int cidr)
{
	for (int i = 0; i < bytes; i++) {
		int keep = cidr - 8 * i;

		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

static bool ref_contains(const struct ref_entry *e, const uint8_t *a)
{
	uint8_t m[16];

	memcpy(m, a, 16);
	mask_bytes(m, 16, e->cidr);
	return !memcmp(m, e->addr, 16);
}

static int ref_find(const uint8_t *a, uint8_t cidr)
{
	for (int i = 0; i < ref_n; i++)
		if (ref[i].cidr == cidr && !memcmp(ref[i].addr, a, 16))
			return i;
	return -1;
}

static struct peer *ref_lookup(const uint8_t *a)
{
	int best = -1;

	for (int i = 0; i < ref_n; i++)
		if (ref_contains(&ref[i], a) && (best < 0 || ref[i].cidr > ref[best].cidr))
			best = i;
	return best < 0 ? NULL : ref[best].peer;
}

/* Random address biased to a few common leading patterns, so prefixes nest and collide. */
static void random_addr(uint8_t *a, int bytes)
{
	static const uint8_t heads[4][2] = { { 10, 0 }, { 10, 1 }, { 0xfd, 0 }, { 192, 168 } };
	int h = (int)(rng() % 5);

	memset(a, 0, 16);
	for (int i = 0; i < bytes; i++)
		a[i] = (uint8_t)rng();
	if (h < 4) {
		a[0] = heads[h][0];
		if (rng() & 1)
			a[1] = heads[h][1];
	}
	/* Runs of equal bytes make long shared IPv6 paths. */
	if (bytes == 16 && (rng() & 1))
		memset(a + 2, 0, (size_t)(rng() % 12));
}

struct walk_check {
	struct peer *peer;
	int family, count, bad;
};

static int walk_check_fn(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_check *c = ctx;
	uint8_t a[16] = { 0 };
	int i;

	memcpy(a, addr, family == AF_INET ? 4 : 16);
	i = ref_find(a, cidr);
	if (family != c->family || i < 0 || ref[i].peer != c->peer)
		c->bad++;
	c->count++;
	return 0;
}

static void random_run(int family)
{
	int bytes = family == AF_INET ? 4 : 16, bits = bytes * 8;
	struct allowedips t;
	int mismatches = 0, hits = 0;

	allowedips_init(&t);
	ref_n = 0;
	for (int op = 0; op < 8000; op++) {
		uint8_t a[16];
		/* Mostly longer prefixes, so that plenty of lookups find nothing or a deep match. */
		uint8_t cidr = (uint8_t)(rng() % 200 ? bits / 4 + rng() % (bits - bits / 4 + 1)
					     : rng() % (bits + 1));
		struct peer *p = P(rng() % 8);
		int r = (int)(rng() % 1000), i;

		random_addr(a, bytes);
		mask_bytes(a, 16, cidr);
		i = ref_find(a, cidr);
		if (r < 750 || ref_n == 0) {
			if (allowedips_insert(&t, family, a, cidr, p))
				TEST_FAIL("insert failed");
			if (i >= 0) {
				ref[i].peer = p;
			} else if (ref_n < (int)(sizeof(ref) / sizeof(ref[0]))) {
				memcpy(ref[ref_n].addr, a, 16);
				ref[ref_n].cidr = cidr;
				ref[ref_n++].peer = p;
			}
		} else if (r < 990) {
			/* Remove an existing entry, sometimes naming the wrong peer. */
			struct ref_entry *e = &ref[rng() % (uint64_t)ref_n];
			struct peer *who = (rng() % 4) ? e->peer : P(rng() % 8);
			int want = who == e->peer ? 0 : -ENOENT;
			int got = allowedips_remove(&t, family, e->addr, e->cidr, who);

			if (got != want)
				TEST_FAIL("remove: got %d want %d", got, want);
			if (!got)
				*e = ref[--ref_n];
		} else {
			struct peer *p2 = P(rng() % 8);
			int j = 0;

			allowedips_remove_by_peer(&t, p2);
			for (int k = 0; k < ref_n; k++)
				if (ref[k].peer != p2)
					ref[j++] = ref[k];
			ref_n = j;
		}

		for (int q = 0; q < 4; q++) {
			uint8_t la[16];
			struct peer *want;

			if (q == 0 && ref_n) {
				/* An address inside an existing prefix, with random host bits. */
				const struct ref_entry *e = &ref[rng() % (uint64_t)ref_n];

				random_addr(la, bytes);
				for (int b = 0; b < bytes; b++) {
					int keep = e->cidr - 8 * b;
					uint8_t m = keep <= 0 ? 0 : keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));

					la[b] = (uint8_t)((e->addr[b] & m) | (la[b] & ~m));
				}
			} else {
				random_addr(la, bytes);
			}
			want = ref_lookup(la);
			hits += want != NULL;
			if (allowedips_lookup(&t, family, la) != want && mismatches++ < 5)
				TEST_FAIL("lookup mismatch at op %d", op);
		}
	}

	/* Every peer's walk lists exactly its reference entries. */
	for (int pi = 0; pi < 8; pi++) {
		struct walk_check c = { .peer = P(pi), .family = family };
		int want = 0;

		for (int k = 0; k < ref_n; k++)
			want += ref[k].peer == P(pi);
		allowedips_walk_by_peer(&t, P(pi), walk_check_fn, &c);
		ASSERT_EQ(c.bad, 0);
		ASSERT_EQ(c.count, want);
		/* The peer's own list (what publishing reads) holds the same prefixes, and only them. */
		memset(&c, 0, sizeof(c));
		c.peer = P(pi);
		c.family = family;
		allowedips_walk_list(P(pi), walk_check_fn, &c);
		ASSERT_EQ(c.bad, 0);
		ASSERT_EQ(c.count, want);
		ASSERT_EQ(P(pi)->allowedips.count, want);
	}
	printf("# %d prefixes at the end, %d of 32000 lookups matched\n", ref_n, hits);
	allowedips_remove_by_peer(&t, P(1));
	ASSERT_EQ(P(1)->allowedips.count, 0);
	ASSERT_TRUE(P(1)->allowedips.first == NULL);
	ASSERT_TRUE(ref_n > 100);
	ASSERT_TRUE(hits > 8000 && hits < 30000);
	allowedips_free(&t);
}

static void test_random_v4(void)
{
	random_run(AF_INET);
}

static void test_random_v6(void)
{
	random_run(AF_INET6);
}

static int walk_count(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	(*(int *)ctx)++;
	return 0;
}

/* netns.sh: one peer with 255 x 256 IPv4 /16 plus IPv6 /128 prefixes, through one setconf. */
static void test_scale(void)
{
	struct allowedips t;
	struct timespec t0, t1;
	double secs;
	int walked = 0, hits = 0;

	allowedips_init(&t);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i <= 255; i++) {
		for (int j = 0; j <= 255; j++) {
			uint8_t a4[4] = { (uint8_t)i, (uint8_t)j, 0, 0 };
			uint8_t a6[16] = { 0xab, 0xcd, [12] = 0, [13] = (uint8_t)i, [14] = 0, [15] = (uint8_t)j };

			if (allowedips_insert(&t, AF_INET, a4, 16, P(1)) ||
			    allowedips_insert(&t, AF_INET6, a6, 128, P(1))) {
				TEST_FAIL("insert %d.%d failed", i, j);
				return;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# 130560 inserts in %.3f s\n", secs);
	ASSERT_TRUE(secs < 0.5);

	ASSERT_TRUE(look(&t, "200.100.1.2") == P(1));
	ASSERT_TRUE(look(&t, "0.1.2.3") == NULL);
	ASSERT_TRUE(look(&t, "abcd::ff:80") == P(1));
	ASSERT_TRUE(look(&t, "abcd::ff:80:0") == NULL);
	ASSERT_TRUE(look(&t, "abcd::1:100") == NULL);

	ASSERT_EQ(allowedips_walk_by_peer(&t, P(1), walk_count, &walked), 0);
	ASSERT_EQ(walked, 2 * 255 * 256);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t n = 0; n < 1000000; n++) {
		uint8_t a4[4] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, 1 };

		hits += allowedips_lookup(&t, AF_INET, a4) != NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# 1M IPv4 lookups in %.3f s\n", secs);
	ASSERT_EQ(hits, 1000000 - 65536);	/* first octet 0 has no route */

	/* Remove some one at a time (owner only), then the rest by peer. */
	for (int i = 1; i <= 255; i++) {
		uint8_t a4[4] = { (uint8_t)i, 0, 0, 0 };

		ASSERT_EQ(allowedips_remove(&t, AF_INET, a4, 16, P(2)), -ENOENT);
		ASSERT_EQ(allowedips_remove(&t, AF_INET, a4, 16, P(1)), 0);
		ASSERT_EQ(allowedips_remove(&t, AF_INET, a4, 16, P(1)), -ENOENT);
	}
	ASSERT_TRUE(look(&t, "7.0.1.1") == NULL);
	ASSERT_TRUE(look(&t, "7.1.1.1") == P(1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	allowedips_remove_by_peer(&t, P(1));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# remove_by_peer of 130k prefixes in %.3f s\n", secs);
	ASSERT_TRUE(t.root4 == NULL && t.root6 == NULL);
	allowedips_free(&t);
}

int main(void)
{
	RUN_TEST(test_exact_and_longest);
	RUN_TEST(test_default_routes);
	RUN_TEST(test_hosts);
	RUN_TEST(test_ipv6);
	RUN_TEST(test_move_on_insert);
	RUN_TEST(test_remove_only_owner);
	RUN_TEST(test_bad_input);
	RUN_TEST(test_remove_by_peer);
	RUN_TEST(test_masking_and_walk);
	RUN_TEST(test_random_v4);
	RUN_TEST(test_random_v6);
	RUN_TEST(test_scale);
	return TEST_SUMMARY();
}

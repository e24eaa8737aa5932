/* SPDX-License-Identifier: GPL-2.0 */
/* The ICMP unreachable builder: headers, checksums checked independently, quoting limits, never-answer cases, rate limit. */
#include <errno.h>
#include <arpa/inet.h>
#include "test.h"
#include "icmp.h"

/* RFC 1071, written out separately from icmp.c: a correct checksum makes the whole sum 0xffff. */
static uint16_t ref_sum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (uint64_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* An IPv4 packet of len bytes (>= 28): proto, src, dst, and for ICMP the type; the rest a pattern. */
static size_t pkt4(uint8_t *p, size_t len, uint8_t proto, const char *src, const char *dst, uint8_t type)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	p[0] = 0x45;
	p[1] = 0;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[6] = p[7] = 0;
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	p[20] = type;
	return len;
}

/* An IPv6 packet of len bytes (>= 48) with next header nh; p[40] = type. */
static size_t pkt6(uint8_t *p, size_t len, uint8_t nh, const char *src, const char *dst, uint8_t type)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 5 + 1);
	memset(p, 0, 8);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	p[40] = type;
	return len;
}

static uint8_t in[2000], out[ICMP_ERR_MAX + 16];

/* Builds from src and checks every field of an IPv4 error quoting want_quote bytes of in. */
static void check4(size_t len, size_t want_quote)
{
	static const uint8_t src[4] = { 10, 0, 0, 1 };
	struct icmp_orig o;
	size_t n;

	ASSERT_EQ(icmp_parse(in, len, &o), 0);
	ASSERT_EQ(o.family, 4);
	n = icmp_build_unreach(out, &o, in, src);
	ASSERT_EQ(n, 28 + want_quote);
	ASSERT_TRUE(n <= ICMP_ERR4_MAX);
	ASSERT_EQ(out[0], 0x45);
	ASSERT_EQ(get16(out + 2), n);
	ASSERT_EQ(out[8], 64);
	ASSERT_EQ(out[9], 1);				/* ICMP */
	ASSERT_EQ(get16(out + 6) & 0x1fff, 0);		/* not a fragment */
	ASSERT_MEMEQ(out + 12, src, 4);
	ASSERT_MEMEQ(out + 16, in + 12, 4);		/* back to the sender */
	ASSERT_EQ(ref_sum(out, 20), 0xffff);		/* header checksum */
	ASSERT_EQ(out[20], 3);				/* destination unreachable */
	ASSERT_EQ(out[21], 1);				/* host unreachable */
	ASSERT_EQ(get16(out + 24), 0);
	ASSERT_EQ(get16(out + 26), 0);			/* unused */
	ASSERT_EQ(ref_sum(out + 20, n - 20), 0xffff);	/* ICMP checksum over header and data */
	ASSERT_MEMEQ(out + 28, in, want_quote);
}

static void test_v4_small(void)
{
	check4(pkt4(in, 84, 1, "10.0.0.1", "10.0.0.99", 8), 84);	/* a ping: quoted whole */
	check4(pkt4(in, 40, 6, "192.168.1.5", "10.0.0.99", 0), 40);	/* TCP SYN */
	check4(pkt4(in, 29, 17, "10.0.0.1", "10.0.0.99", 0), 29);	/* odd length */
}

static void test_v4_quote_limit(void)
{
	check4(pkt4(in, 548, 17, "10.0.0.1", "10.0.0.99", 0), 548);	/* exactly fits 576 */
	check4(pkt4(in, 549, 17, "10.0.0.1", "10.0.0.99", 0), 548);
	check4(pkt4(in, 1420, 6, "10.0.0.1", "10.0.0.99", 0), 548);
}

static void test_v4_trailing_bytes(void)
{
	/* A read longer than the IP length: only the packet itself is quoted. */
	pkt4(in, 60, 17, "10.0.0.1", "10.0.0.99", 0);
	check4(100, 60);
}

static void test_v4_options(void)
{
	pkt4(in, 88, 1, "10.0.0.1", "10.0.0.99", 0);
	in[0] = 0x46;	/* 24-byte header: the ICMP type is at 24 */
	in[24] = 8;
	check4(88, 88);
	in[24] = 3;	/* an error behind options is still an error */
	{
		struct icmp_orig o;

		ASSERT_EQ(icmp_parse(in, 88, &o), -EPERM);
	}
}

static void check6(size_t len, size_t want_quote)
{
	uint8_t src[16], pseudo[40 + ICMP_ERR6_MAX];
	struct icmp_orig o;
	size_t n, plen;

	inet_pton(AF_INET6, "fd00::1", src);
	ASSERT_EQ(icmp_parse(in, len, &o), 0);
	ASSERT_EQ(o.family, 6);
	n = icmp_build_unreach(out, &o, in, src);
	ASSERT_EQ(n, 48 + want_quote);
	ASSERT_TRUE(n <= ICMP_ERR6_MAX);
	plen = n - 40;
	ASSERT_EQ(out[0] >> 4, 6);
	ASSERT_EQ(get16(out + 4), plen);
	ASSERT_EQ(out[6], 58);
	ASSERT_TRUE(out[7] > 0);
	ASSERT_MEMEQ(out + 8, src, 16);
	ASSERT_MEMEQ(out + 24, in + 8, 16);
	ASSERT_EQ(out[40], 1);				/* destination unreachable */
	ASSERT_EQ(out[41], 3);				/* address unreachable */
	ASSERT_EQ(get16(out + 44) | get16(out + 46), 0);
	ASSERT_MEMEQ(out + 48, in, want_quote);
	/* RFC 8200 8.1 pseudo-header: source, destination, 32-bit length, three zeros, next header. */
	memcpy(pseudo, out + 8, 32);
	pseudo[32] = pseudo[33] = 0;
	pseudo[34] = (uint8_t)(plen >> 8);
	pseudo[35] = (uint8_t)plen;
	pseudo[36] = pseudo[37] = pseudo[38] = 0;
	pseudo[39] = 58;
	memcpy(pseudo + 40, out + 40, plen);
	ASSERT_EQ(ref_sum(pseudo, 40 + plen), 0xffff);
	/* Without the pseudo-header it would be wrong: the field is not a plain ICMP checksum. */
	ASSERT_NE(ref_sum(out + 40, plen), 0xffff);
}

static void test_v6_small(void)
{
	check6(pkt6(in, 104, 58, "fd00::1", "fd00::99", 128), 104);	/* ping6 */
	check6(pkt6(in, 61, 17, "2001:db8::5", "fd00::99", 0), 61);
}

static void test_v6_quote_limit(void)
{
	check6(pkt6(in, 1232, 17, "fd00::1", "fd00::99", 0), 1232);
	check6(pkt6(in, 1233, 17, "fd00::1", "fd00::99", 0), 1232);
	check6(pkt6(in, 1500, 6, "fd00::1", "fd00::99", 0), 1232);
}

static void test_v6_extension_headers(void)
{
	struct icmp_orig o;

	/* Hop-by-hop (8 bytes) then ICMPv6 echo: answered; then an error there: not. */
	pkt6(in, 120, 0, "fd00::1", "fd00::99", 58);
	in[41] = 0;
	in[48] = 128;
	ASSERT_EQ(icmp_parse(in, 120, &o), 0);
	in[48] = 1;
	ASSERT_EQ(icmp_parse(in, 120, &o), -EPERM);
	/* First fragment (offset 0, M set): answered; a later one: not. */
	pkt6(in, 120, 44, "fd00::1", "fd00::99", 17);
	in[42] = 0;
	in[43] = 1;
	ASSERT_EQ(icmp_parse(in, 120, &o), 0);
	in[42] = 0;
	in[43] = 8 << 3;
	ASSERT_EQ(icmp_parse(in, 120, &o), -EPERM);
	/* A chain running off the packet: not answered. */
	pkt6(in, 48, 60, "fd00::1", "fd00::99", 17);
	in[41] = 10;
	ASSERT_EQ(icmp_parse(in, 48, &o), -EPERM);
}

static void test_never_answer(void)
{
	struct icmp_orig o;

	/* ICMP errors, and types the kernel too treats as errors (unknown ones). */
	pkt4(in, 56, 1, "10.0.0.1", "10.0.0.99", 3);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 1, "10.0.0.1", "10.0.0.99", 11);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 1, "10.0.0.1", "10.0.0.99", 42);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 1, "10.0.0.1", "10.0.0.99", 0);		/* echo reply: informational */
	ASSERT_EQ(icmp_parse(in, 56, &o), 0);
	/* Fragments: the first (MF, offset 0) is answered, later ones are not. */
	pkt4(in, 56, 17, "10.0.0.1", "10.0.0.99", 0);
	in[6] = 0x20;
	ASSERT_EQ(icmp_parse(in, 56, &o), 0);
	in[6] = 0x00;
	in[7] = 0x10;
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	in[6] = 0x40;	/* DF alone is not a fragment */
	in[7] = 0;
	ASSERT_EQ(icmp_parse(in, 56, &o), 0);
	/* Multicast and broadcast destinations, unspecified / multicast / broadcast sources. */
	pkt4(in, 56, 17, "10.0.0.1", "224.0.0.5", 0);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 17, "10.0.0.1", "255.255.255.255", 0);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 17, "0.0.0.0", "10.0.0.99", 0);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 17, "239.1.1.1", "10.0.0.99", 0);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	pkt4(in, 56, 17, "255.255.255.255", "10.0.0.99", 0);
	ASSERT_EQ(icmp_parse(in, 56, &o), -EPERM);
	/* IPv6: ICMPv6 errors (type < 128), multicast destination, unspecified or multicast source. */
	pkt6(in, 96, 58, "fd00::1", "fd00::99", 1);
	ASSERT_EQ(icmp_parse(in, 96, &o), -EPERM);
	pkt6(in, 96, 58, "fd00::1", "fd00::99", 127);
	ASSERT_EQ(icmp_parse(in, 96, &o), -EPERM);
	pkt6(in, 96, 58, "fd00::1", "fd00::99", 129);		/* echo reply */
	ASSERT_EQ(icmp_parse(in, 96, &o), 0);
	pkt6(in, 96, 17, "fd00::1", "ff02::1", 0);
	ASSERT_EQ(icmp_parse(in, 96, &o), -EPERM);
	pkt6(in, 96, 17, "::", "fd00::99", 0);
	ASSERT_EQ(icmp_parse(in, 96, &o), -EPERM);
	pkt6(in, 96, 17, "ff05::2", "fd00::99", 0);
	ASSERT_EQ(icmp_parse(in, 96, &o), -EPERM);
}

static void test_malformed(void)
{
	struct icmp_orig o;

	ASSERT_EQ(icmp_parse(in, 0, &o), -EINVAL);
	pkt4(in, 56, 17, "10.0.0.1", "10.0.0.99", 0);
	ASSERT_EQ(icmp_parse(in, 19, &o), -EINVAL);		/* shorter than a header */
	ASSERT_EQ(icmp_parse(in, 55, &o), -EINVAL);		/* IP length past the read */
	in[0] = 0x44;						/* IHL below 5 */
	ASSERT_EQ(icmp_parse(in, 56, &o), -EINVAL);
	in[0] = 0x55;						/* not IPv4 or IPv6 */
	ASSERT_EQ(icmp_parse(in, 56, &o), -EINVAL);
	pkt6(in, 96, 17, "fd00::1", "fd00::99", 0);
	ASSERT_EQ(icmp_parse(in, 39, &o), -EINVAL);
	ASSERT_EQ(icmp_parse(in, 95, &o), -EINVAL);
	/* ICMP too short to show its type: never answered. */
	pkt4(in, 28, 1, "10.0.0.1", "10.0.0.99", 8);
	in[3] = 20;
	ASSERT_EQ(icmp_parse(in, 28, &o), -EPERM);
}

static void test_rate_limit(void)
{
	struct icmp_bucket b = { 0 };
	uint64_t t = 5000000000ULL;	/* any monotonic start */
	int n = 0;

	/* A full burst at once, then nothing within the same millisecond. */
	while (n < 1000 && icmp_bucket_take(&b, t))
		n++;
	ASSERT_EQ(n, ICMP_BURST);
	ASSERT_FALSE(icmp_bucket_take(&b, t + 999999));
	/* One token a millisecond. */
	ASSERT_TRUE(icmp_bucket_take(&b, t + 1000000));
	ASSERT_FALSE(icmp_bucket_take(&b, t + 1500000));
	ASSERT_TRUE(icmp_bucket_take(&b, t + 2000000));	/* the half-millisecond was kept */
	for (n = 0; n < 1000 && icmp_bucket_take(&b, t + 12000000); n++)
		;
	ASSERT_EQ(n, 10);
	/* A long pause refills to the burst, not beyond. */
	for (n = 0; n < 5000 && icmp_bucket_take(&b, t + 3 * 1000000000ULL); n++)
		;
	ASSERT_EQ(n, ICMP_BURST);
	/* A flood over one simulated second gets about ICMP_RATE_PER_SEC through. */
	n = 0;
	for (uint64_t us = 0; us < 1000000; us += 10)
		n += icmp_bucket_take(&b, t + 4 * 1000000000ULL + us * 1000);
	ASSERT_TRUE(n >= ICMP_RATE_PER_SEC - 1 && n <= ICMP_RATE_PER_SEC + ICMP_BURST);
}

int main(void)
{
	RUN_TEST(test_v4_small);
	RUN_TEST(test_v4_quote_limit);
	RUN_TEST(test_v4_trailing_bytes);
	RUN_TEST(test_v4_options);
	RUN_TEST(test_v6_small);
	RUN_TEST(test_v6_quote_limit);
	RUN_TEST(test_v6_extension_headers);
	RUN_TEST(test_never_answer);
	RUN_TEST(test_malformed);
	RUN_TEST(test_rate_limit);
	return TEST_SUMMARY();
}

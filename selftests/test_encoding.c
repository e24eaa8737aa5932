/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for key, prefix and endpoint text forms, good and bad input. */
#include "test.h"
#include "encoding.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>

/* Digest section 8: the low-order point with hex e0eb7a7c... */
static const char lo_b64[] = "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=";
static const char lo_hex[] = "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";

static void test_base64_vectors(void)
{
	uint8_t key[32], want[32];
	char out[KEY_B64_LEN + 1];

	test_unhex(want, lo_hex);
	ASSERT_EQ(key_from_base64(key, lo_b64), 0);
	ASSERT_MEMEQ(key, want, 32);
	key_to_base64(out, key);
	ASSERT_STREQ(out, lo_b64);

	test_unhex(want, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
	ASSERT_EQ(key_from_base64(key, "X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc="), 0);
	ASSERT_MEMEQ(key, want, 32);

	memset(want, 0, 32);
	ASSERT_EQ(key_from_base64(key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), 0);
	ASSERT_MEMEQ(key, want, 32);
	key_to_base64(out, key);
	ASSERT_STREQ(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");

	/* p - 1 = ecff..ff7f */
	memset(want, 0xff, 32);
	want[0] = 0xec;
	want[31] = 0x7f;
	ASSERT_EQ(key_from_base64(key, "7P///////////////////////////////////////38="), 0);
	ASSERT_MEMEQ(key, want, 32);
	key_to_base64(out, want);
	ASSERT_STREQ(out, "7P///////////////////////////////////////38=");

	/* Round trip over many byte patterns. */
	for (int i = 0; i < 256; i++) {
		for (int j = 0; j < 32; j++)
			want[j] = (uint8_t)(i * 31 + j * 7);
		key_to_base64(out, want);
		ASSERT_EQ(strlen(out), KEY_B64_LEN);
		ASSERT_EQ(key_from_base64(key, out), 0);
		ASSERT_MEMEQ(key, want, 32);
	}
}

static void test_base64_bad(void)
{
	uint8_t key[32], before[32];
	char s[64];

	memset(key, 0x5a, 32);
	memcpy(before, key, 32);
	ASSERT_EQ(key_from_base64(key, ""), -EINVAL);
	ASSERT_EQ(key_from_base64(key, NULL), -EINVAL);
	/* 43 chars, 45 chars, no '=' */
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA"), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAAA"), -EINVAL);
	/* Last data char with low bits set: 'B' (1), 'C' (2), 'D' (3) are non-canonical. */
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAB="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAC="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAD="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAE="), 0);
	memcpy(key, before, 32);
	/* Bad alphabet: URL-safe chars, space, '=' in the middle, NUL-free junk. */
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z_EatoJjeucMrH9hmIFFl9JuAA="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z-EatoJjeucMrH9hmIFFl9JuAA="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z EatoJjeucMrH9hmIFFl9JuAA="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z=EatoJjeucMrH9hmIFFl9JuAA="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, " Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA="), -EINVAL);
	ASSERT_EQ(key_from_base64(key, "4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuA\n="), -EINVAL);
	/* A hex key is not base64. */
	ASSERT_EQ(key_from_base64(key, lo_hex), -EINVAL);
	/* Failed parses leave the output alone. */
	ASSERT_MEMEQ(key, before, 32);
	memset(s, 'A', 43);
	s[43] = '=';
	s[44] = '\0';
	ASSERT_EQ(key_from_base64(key, s), 0);
}

static void test_hex(void)
{
	uint8_t key[32], want[32], before[32];
	char out[KEY_HEX_LEN + 1], upper[KEY_HEX_LEN + 1];

	test_unhex(want, lo_hex);
	ASSERT_EQ(key_from_hex(key, lo_hex), 0);
	ASSERT_MEMEQ(key, want, 32);
	key_to_hex(out, key);
	ASSERT_STREQ(out, lo_hex);
	/* Upper and mixed case in, lower case out. */
	for (int i = 0; i < KEY_HEX_LEN + 1; i++)
		upper[i] = (char)(lo_hex[i] >= 'a' && lo_hex[i] <= 'f' && (i & 1) ? lo_hex[i] - 32 : lo_hex[i]);
	ASSERT_EQ(key_from_hex(key, upper), 0);
	ASSERT_MEMEQ(key, want, 32);
	key_to_hex(out, key);
	ASSERT_STREQ(out, lo_hex);

	memcpy(before, key, 32);
	ASSERT_EQ(key_from_hex(key, ""), -EINVAL);
	ASSERT_EQ(key_from_hex(key, NULL), -EINVAL);
	ASSERT_EQ(key_from_hex(key, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b80"), -EINVAL);
	ASSERT_EQ(key_from_hex(key, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b8000"), -EINVAL);
	ASSERT_EQ(key_from_hex(key, "g0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), -EINVAL);
	ASSERT_EQ(key_from_hex(key, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b8 0"), -EINVAL);
	ASSERT_EQ(key_from_hex(key, "0xeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"), -EINVAL);
	ASSERT_EQ(key_from_hex(key, lo_b64), -EINVAL);
	ASSERT_MEMEQ(key, before, 32);

	memset(key, 0xff, 32);
	key_to_hex(out, key);
	ASSERT_EQ(strspn(out, "f"), KEY_HEX_LEN);
}

static const char *pfmt(const char *in, bool keep_host, int want_ret)
{
	static char buf[64];
	struct xwg_prefix p;
	int ret = prefix_parse(&p, in, keep_host);

	if (ret != want_ret) {
		TEST_FAIL("prefix_parse(\"%s\") = %d, want %d", in, ret, want_ret);
		return "(error)";
	}
	if (ret)
		return "(rejected)";
	prefix_format(buf, sizeof(buf), &p);
	return buf;
}

static void test_prefix_good(void)
{
	struct xwg_prefix p;
	static const uint8_t v4[4] = { 10, 0, 0, 0 };

	ASSERT_EQ(prefix_parse(&p, "10.0.0.1/24", false), 0);
	ASSERT_EQ(p.family, AF_INET);
	ASSERT_EQ(p.cidr, 24);
	ASSERT_MEMEQ(p.addr, v4, 4);
	ASSERT_STREQ(pfmt("10.0.0.1/24", false, 0), "10.0.0.0/24");
	ASSERT_STREQ(pfmt("10.0.0.1/24", true, 0), "10.0.0.1/24");
	ASSERT_STREQ(pfmt("10.0.0.1", false, 0), "10.0.0.1/32");
	ASSERT_STREQ(pfmt("0.0.0.0/0", false, 0), "0.0.0.0/0");
	ASSERT_STREQ(pfmt("255.255.255.255/0", false, 0), "0.0.0.0/0");
	ASSERT_STREQ(pfmt("192.168.255.255/17", false, 0), "192.168.128.0/17");
	ASSERT_STREQ(pfmt("172.31.1.1/12", false, 0), "172.16.0.0/12");
	ASSERT_STREQ(pfmt("1.2.3.4/32", false, 0), "1.2.3.4/32");
	ASSERT_STREQ(pfmt("10.0.0.1/024", false, 0), "10.0.0.0/24");
	ASSERT_STREQ(pfmt("fd00::1/64", false, 0), "fd00::/64");
	ASSERT_STREQ(pfmt("fd00::1/64", true, 0), "fd00::1/64");
	ASSERT_STREQ(pfmt("fd00::1", false, 0), "fd00::1/128");
	ASSERT_STREQ(pfmt("FD00::ABCD/112", false, 0), "fd00::/112");
	ASSERT_STREQ(pfmt("fd00::1:ffff/113", false, 0), "fd00::1:8000/113");
	ASSERT_STREQ(pfmt("::/0", false, 0), "::/0");
	ASSERT_STREQ(pfmt("2001:db8::ff/127", false, 0), "2001:db8::fe/127");
	ASSERT_STREQ(pfmt("::ffff:10.1.2.3/128", false, 0), "::ffff:10.1.2.3/128");
	ASSERT_EQ(prefix_parse(&p, "fd00::1/128", false), 0);
	ASSERT_EQ(p.family, AF_INET6);
	ASSERT_EQ(p.cidr, 128);
	ASSERT_EQ(p.addr[15], 1);
}

static void test_prefix_bad(void)
{
	static const char *const bad[] = {
		"", "/", "/24", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/-1", "10.0.0.1/+8",
		"10.0.0.1/24/", "10.0.0.1/2 4", "10.0.0.1/24 ", " 10.0.0.1/24", "10.0.0.1 /24",
		"10.0.0/24", "10.1/8", "10.0.0.256/32", "10.0.0.1.1", "1.2.3.4x", "10.0.0.1/1000",
		"fd00::1/129", "fd00::1/", "fd00:::1/64", "fd00::g/64", "fd00::1%eth0/64",
		"host.example/24", "10.0.0.1/0x10", "10.0.0.1/8a", "abc",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/64",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_STREQ(pfmt(bad[i], false, -EINVAL), "(rejected)");
	ASSERT_EQ(prefix_parse(&(struct xwg_prefix){ 0 }, NULL, false), -EINVAL);
}

static const char *efmt(const char *in, bool resolve, int want_ret)
{
	static char buf[128];
	struct sockaddr_storage ss;
	int ret = endpoint_parse(&ss, in, resolve);

	if (ret != want_ret) {
		TEST_FAIL("endpoint_parse(\"%s\") = %d, want %d", in, ret, want_ret);
		return "(error)";
	}
	if (ret)
		return "(rejected)";
	endpoint_format(buf, sizeof(buf), (struct sockaddr *)&ss);
	return buf;
}

static void test_endpoint_good(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	ASSERT_EQ(endpoint_parse(&ss, "1.2.3.4:51820", false), 0);
	ASSERT_EQ(sin->sin_family, AF_INET);
	ASSERT_EQ(ntohs(sin->sin_port), 51820);
	ASSERT_EQ(ntohl(sin->sin_addr.s_addr), 0x01020304);
	ASSERT_EQ(endpoint_parse(&ss, "[fd00::1]:51820", false), 0);
	ASSERT_EQ(sin6->sin6_family, AF_INET6);
	ASSERT_EQ(ntohs(sin6->sin6_port), 51820);
	ASSERT_EQ(sin6->sin6_addr.s6_addr[0], 0xfd);
	ASSERT_EQ(sin6->sin6_addr.s6_addr[15], 1);
	ASSERT_EQ(sin6->sin6_scope_id, 0);

	ASSERT_STREQ(efmt("1.2.3.4:51820", false, 0), "1.2.3.4:51820");
	ASSERT_STREQ(efmt("127.0.0.1:0", false, 0), "127.0.0.1:0");
	ASSERT_STREQ(efmt("127.212.121.99:9999", false, 0), "127.212.121.99:9999");
	ASSERT_STREQ(efmt("255.255.255.255:65535", false, 0), "255.255.255.255:65535");
	ASSERT_STREQ(efmt("[::1]:9998", false, 0), "[::1]:9998");
	ASSERT_STREQ(efmt("[FD00:0::1]:1", false, 0), "[fd00::1]:1");
	ASSERT_STREQ(efmt("[fd00:aa::3]:00001", false, 0), "[fd00:aa::3]:1");
	/* IPv4-mapped prints as IPv4, like wg shows dual-stack sources. */
	ASSERT_STREQ(efmt("[::ffff:10.0.0.1]:2", false, 0), "10.0.0.1:2");
	/* Scope ids: numeric and by interface name. */
	ASSERT_EQ(endpoint_parse(&ss, "[fe80::1%1]:1", false), 0);
	ASSERT_EQ(sin6->sin6_scope_id, 1);
	ASSERT_EQ(ntohs(sin6->sin6_port), 1);
	ASSERT_EQ(endpoint_parse(&ss, "[fe80::1%lo]:7", false), 0);
	ASSERT_EQ(sin6->sin6_scope_id, if_nametoindex("lo"));
	ASSERT_STREQ(efmt("[fe80::1%lo]:7", false, 0), "[fe80::1%lo]:7");
	/* Names resolve only when asked; localhost is in /etc/hosts, so no network is needed. */
	ASSERT_EQ(endpoint_parse(&ss, "localhost:51820", true), 0);
	ASSERT_TRUE(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (ss.ss_family == AF_INET)
		ASSERT_EQ(ntohs(sin->sin_port), 51820);
	else
		ASSERT_EQ(ntohs(sin6->sin6_port), 51820);
	/* Numeric forms do not need resolve. */
	ASSERT_STREQ(efmt("10.0.0.100:2", true, 0), "10.0.0.100:2");
}

static void test_endpoint_bad(void)
{
	static const char *const bad[] = {
		"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:99999999", "1.2.3.4:-1",
		"1.2.3.4:+1", "1.2.3.4:0x10", "1.2.3.4:1 ", " 1.2.3.4:1", "1.2.3.4 :1", ":51820",
		"fd00::1:51820", "::1:1", "[fd00::1]", "[fd00::1]:", "[fd00::1]51820", "[fd00::1:51820",
		"fd00::1]:51820", "[]:1", "[1.2.3.4]:1", "[fd00::1]:1:2", "[fd00::g]:1",
		"[fe80::1%nosuchif0]:1", "1.2.3:1", "1.2.3.4.5:1", "localhost:1", "[localhost]:1",
		"1.2.3.4:51820x",
	};
	struct sockaddr_storage ss;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_STREQ(efmt(bad[i], false, -EINVAL), "(rejected)");
	/* With resolve, bad syntax is still -EINVAL, an unknown name -EHOSTUNREACH. */
	ASSERT_STREQ(efmt("localhost:", true, -EINVAL), "(rejected)");
	ASSERT_STREQ(efmt("localhost", true, -EINVAL), "(rejected)");
	ASSERT_STREQ(efmt("fd00::1:51820", true, -EINVAL), "(rejected)");
	ASSERT_STREQ(efmt("localhost:70000", true, -EINVAL), "(rejected)");
	ASSERT_STREQ(efmt("no-such-host.invalid:1", true, -EHOSTUNREACH), "(rejected)");
	ASSERT_EQ(endpoint_parse(&ss, NULL, true), -EINVAL);
}

static void test_endpoint_format(void)
{
	char buf[64];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(2) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(51820) };
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	sin.sin_addr.s_addr = htonl(0x0a000001);
	endpoint_format(buf, sizeof(buf), (struct sockaddr *)&sin);
	ASSERT_STREQ(buf, "10.0.0.1:2");
	inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
	endpoint_format(buf, sizeof(buf), (struct sockaddr *)&sin6);
	ASSERT_STREQ(buf, "[2001:db8::5]:51820");
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	endpoint_format(buf, sizeof(buf), (struct sockaddr *)&sin6);
	ASSERT_STREQ(buf, "127.0.0.1:51820");
	endpoint_format(buf, sizeof(buf), &sa);
	ASSERT_STREQ(buf, "(none)");
	/* Truncation is safe. */
	endpoint_format(buf, 5, (struct sockaddr *)&sin);
	ASSERT_STREQ(buf, "10.0");
}

int main(void)
{
	RUN_TEST(test_base64_vectors);
	RUN_TEST(test_base64_bad);
	RUN_TEST(test_hex);
	RUN_TEST(test_prefix_good);
	RUN_TEST(test_prefix_bad);
	RUN_TEST(test_endpoint_good);
	RUN_TEST(test_endpoint_bad);
	RUN_TEST(test_endpoint_format);
	return TEST_SUMMARY();
}

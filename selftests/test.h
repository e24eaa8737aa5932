/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal unit-test harness: ASSERT_* macros, per-case reporting and a "N passed, N failed" summary. */
#ifndef XWG_TEST_H
#define XWG_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

static int test_failures_in_case, test_passed, test_failed;
static const char *test_case_name;

#define TEST_FAIL(fmt, ...) do { \
	fprintf(stderr, "  FAIL %s:%d: %s: " fmt "\n", __FILE__, __LINE__, test_case_name, ##__VA_ARGS__); \
	test_failures_in_case++; } while (0)

#define ASSERT_TRUE(c) do { if (!(c)) TEST_FAIL("expected true: %s", #c); } while (0)
#define ASSERT_FALSE(c) do { if (c) TEST_FAIL("expected false: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) TEST_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_NE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a == _b) TEST_FAIL("%s != %s: both %lld", #a, #b, _a); } while (0)
#define ASSERT_STREQ(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) TEST_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)
#define ASSERT_MEMEQ(a, b, n) do { if (memcmp((a), (b), (n))) { TEST_FAIL("%s == %s (%zu bytes)", #a, #b, (size_t)(n)); \
	test_hexdump("got", (a), (n)); test_hexdump("want", (b), (n)); } } while (0)

static inline void test_hexdump(const char *label, const void *p, size_t n)
{
	const uint8_t *b = p;
	fprintf(stderr, "    %s: ", label);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", b[i]);
	fprintf(stderr, "\n");
}

/* Parses a hex string into buf; returns the byte count. Aborts on malformed test data. */
static inline size_t test_unhex(uint8_t *buf, const char *hex)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			abort();
		buf[i] = (uint8_t)v;
	}
	return n;
}

#define RUN_TEST(fn) do { test_case_name = #fn; test_failures_in_case = 0; fn(); \
	if (test_failures_in_case) { test_failed++; printf("not ok - %s\n", #fn); } \
	else { test_passed++; printf("ok - %s\n", #fn); } } while (0)

/* The summary line the top-level runner adds up. */
#define TEST_SUMMARY() (printf("%d passed, %d failed\n", test_passed, test_failed), test_failed ? 1 : 0)

#endif

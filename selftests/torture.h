/* SPDX-License-Identifier: GPL-2.0 */
/* What the packet torture tests share: a seeded generator, the environment knobs, the one-reason check. */
#ifndef XWG_TEST_TORTURE_H
#define XWG_TEST_TORTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "bpf_test.h"
#include "xwg_reasons.h"

static uint64_t rng_state;
static uint64_t torture_snap[XWG_R_MAX];	/* the reason counters after the last run */

static inline void torture_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

/* xorshift64: fast, and the same sequence for the same seed everywhere. */
static inline uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static inline uint32_t rnd_below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static inline void rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* A 16-bit field: random, off by a little, or an edge value. */
static inline uint16_t rnd16_near(uint16_t v)
{
	switch (rnd_below(4)) {
	case 0:
		return (uint16_t)rnd();
	case 1:
		return (uint16_t)(v + rnd_below(9) - 4);
	case 2:
		return rnd_below(2) ? 0 : 0xffff;
	default:
		return (uint16_t)(v ^ (1u << rnd_below(16)));
	}
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A number from the environment (decimal or 0x...), def if unset; exits on garbage. */
static inline uint64_t torture_env(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	char *end;
	uint64_t x;

	if (!v || !*v)
		return def;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "bad %s=\"%s\"\n", name, v);
		exit(1);
	}
	return x;
}

/* The one reason that moved since the last run; -1 (said why) if not exactly one moved by one. */
static inline int torture_moved_reason(const char *what)
{
	int which = -1, n = 0;

	for (uint32_t i = 0; i < XWG_R_MAX; i++) {
		uint64_t v = reason_count(i);

		if (v != torture_snap[i]) {
			n++;
			if (v == torture_snap[i] + 1)
				which = (int)i;
			torture_snap[i] = v;
		}
	}
	if (n != 1 || which < 0) {
		TEST_FAIL("%s: %d reason counters moved (want exactly one, by one)", what, n);
		return -1;
	}
	return which;
}

#endif

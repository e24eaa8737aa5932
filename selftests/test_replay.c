/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for the replay window: the kernel's counter self-test sequence plus edge cases. */
#include "test.h"
#include "replay.h"

static struct replay_counter rc;

#define LIM (COUNTER_WINDOW_SIZE + 1)
#define R REJECT_AFTER_MESSAGES

struct replay_step {
	__u64 counter;
	bool ok;
};

static void replay_run(const struct replay_step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool got = replay_counter_validate(&rc, steps[i].counter);

		if (got != steps[i].ok)
			TEST_FAIL("step %zu: counter %llu: got %d want %d", i + 1,
				  (unsigned long long)steps[i].counter, got, steps[i].ok);
	}
}

static void test_kernel_table(void)
{
	static const struct replay_step steps[] = {
		{ 0, true }, { 1, true }, { 1, false }, { 9, true }, { 8, true }, { 7, true },
		{ 7, false }, { LIM, true }, { LIM - 1, true }, { LIM - 1, false },
		{ LIM - 2, true }, { 2, true }, { 2, false }, { LIM + 16, true }, { 3, false },
		{ LIM + 16, false }, { LIM * 4, true }, { LIM * 4 - (LIM - 1), true },
		{ 10, false }, { LIM * 4 - LIM, false }, { LIM * 4 - (LIM + 1), false },
		{ LIM * 4 - (LIM - 2), true }, { LIM * 4 + 1 - LIM, false }, { 0, false },
		{ R, false }, { R - 1, true }, { R, false }, { R - 1, false }, { R - 2, true },
		{ R + 1, false }, { R + 2, false }, { R - 2, false }, { R - 3, true }, { 0, false },
	};

	ASSERT_EQ(R, 18446744073709543423ULL);
	replay_counter_init(&rc);
	replay_run(steps, sizeof(steps) / sizeof(steps[0]));
}

static void expect(__u64 counter, bool ok, const char *what)
{
	if (replay_counter_validate(&rc, counter) != ok)
		TEST_FAIL("%s: counter %llu: want %d", what, (unsigned long long)counter, ok);
}

static void test_fill_window_then_zero(void)
{
	replay_counter_init(&rc);
	for (__u64 i = 1; i <= COUNTER_WINDOW_SIZE; i++)
		expect(i, true, "ascending");
	expect(0, true, "zero still inside window");
	expect(0, false, "zero replayed");
}

static void test_fill_window_then_one(void)
{
	replay_counter_init(&rc);
	for (__u64 i = 2; i <= COUNTER_WINDOW_SIZE + 1; i++)
		expect(i, true, "ascending");
	expect(1, true, "one still inside window");
	expect(0, false, "zero fell out of window");
}

static void test_descending_from_window(void)
{
	replay_counter_init(&rc);
	for (__u64 i = COUNTER_WINDOW_SIZE + 1; i-- > 0;)
		expect(i, true, "descending to 0");
}

static void test_descending_one_past_window(void)
{
	replay_counter_init(&rc);
	for (__u64 i = COUNTER_WINDOW_SIZE + 2; i-- > 1;)
		expect(i, true, "descending to 1");
	expect(0, false, "zero out of window");
}

static void test_descending_then_top(void)
{
	replay_counter_init(&rc);
	for (__u64 i = COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(i, true, "descending to 1");
	expect(COUNTER_WINDOW_SIZE + 1, true, "new top");
	expect(0, false, "zero pushed out by new top");
}

static void test_descending_zero_then_top(void)
{
	replay_counter_init(&rc);
	for (__u64 i = COUNTER_WINDOW_SIZE + 1; i-- > 1;)
		expect(i, true, "descending to 1");
	expect(0, true, "zero still inside");
	expect(COUNTER_WINDOW_SIZE + 1, true, "new top after zero");
}

/* Moving ahead must clear the skipped words: bits left from the previous lap must not alias. */
static void test_jump_clears_ring(void)
{
	__u64 top = COUNTER_BITS_TOTAL + 300;

	replay_counter_init(&rc);
	for (__u64 i = 0; i < 300; i++)
		expect(i, true, "first lap");
	expect(top, true, "one lap ahead");
	/* c and c + 8192 share a bit; 8192..8491 must be fresh although 0..299 were seen. */
	for (__u64 i = COUNTER_BITS_TOTAL; i < top; i++)
		expect(i, true, "aliases of the first lap are fresh");
	for (__u64 i = top - COUNTER_WINDOW_SIZE; i < 1000; i += 7)
		expect(i, true, "never seen, inside window");
	expect(top - COUNTER_WINDOW_SIZE - 1, false, "just beyond the window");
	expect(299, false, "first lap, now too old");

	expect(1000000, true, "far jump");
	for (__u64 i = 1000000 - COUNTER_WINDOW_SIZE; i < 1000000; i += 97)
		expect(i, true, "after far jump");
	expect(1000000 - COUNTER_WINDOW_SIZE - 1, false, "just beyond the window");
	expect(1000000, false, "top replayed");
}

/* Already seen counters still inside the window stay rejected when the top advances a little. */
static void test_small_advance_keeps_history(void)
{
	replay_counter_init(&rc);
	for (__u64 i = 0; i < 1000; i += 2)
		expect(i, true, "evens");
	expect(5000, true, "advance");
	for (__u64 i = 0; i < 1000; i += 2)
		expect(i, false, "evens replayed");
	for (__u64 i = 1; i < 1000; i += 2)
		expect(i, true, "odds fresh");
}

/* Random order within the window: each counter accepted exactly once, compared with a bitmap model. */
static void test_random_against_model(void)
{
	static uint8_t seen[1 << 16];
	__u64 top = 0;
	bool any = false;
	unsigned int seed = 12345;

	replay_counter_init(&rc);
	memset(seen, 0, sizeof(seen));
	for (int n = 0; n < 200000; n++) {
		__u64 c;
		bool want, got;

		seed = seed * 1103515245u + 12345u;
		/* Mostly near the top, sometimes ahead, sometimes just outside the window. */
		c = top + 64 - (seed >> 8) % (COUNTER_WINDOW_SIZE + 200);
		if ((int64_t)c < 0 || c >= sizeof(seen))
			continue;
		want = !seen[c] && (!any || c + COUNTER_WINDOW_SIZE >= top);
		got = replay_counter_validate(&rc, c);
		if (got != want) {
			TEST_FAIL("counter %llu (top %llu): got %d want %d", (unsigned long long)c,
				  (unsigned long long)top, got, want);
			return;
		}
		if (want) {
			seen[c] = 1;
			if (!any || c > top)
				top = c;
			any = true;
		}
	}
}

static void test_reject_limits(void)
{
	replay_counter_init(&rc);
	expect(R, false, "R itself");
	expect(~0ULL, false, "max u64");
	expect(R - 1, true, "last valid");
	expect(0, false, "far below after R-1");
	expect(R - 1 - COUNTER_WINDOW_SIZE, true, "oldest in window at the top");
	expect(R - 2 - COUNTER_WINDOW_SIZE, false, "one older");
	replay_counter_init(&rc);
	ASSERT_EQ(rc.counter, 0);
	expect(5, true, "fresh again after init");
}

int main(void)
{
	RUN_TEST(test_kernel_table);
	RUN_TEST(test_fill_window_then_zero);
	RUN_TEST(test_fill_window_then_one);
	RUN_TEST(test_descending_from_window);
	RUN_TEST(test_descending_one_past_window);
	RUN_TEST(test_descending_then_top);
	RUN_TEST(test_descending_zero_then_top);
	RUN_TEST(test_jump_clears_ring);
	RUN_TEST(test_small_advance_keeps_history);
	RUN_TEST(test_random_against_model);
	RUN_TEST(test_reject_limits);
	return TEST_SUMMARY();
}

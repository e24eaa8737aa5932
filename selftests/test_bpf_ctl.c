/* SPDX-License-Identifier: GPL-2.0 */
/* Tests bpf/ctl.bpf.c: counter reservation and replay checks on shared keypairs through BPF_PROG_TEST_RUN. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "xwg_maps.h"
#include "ctl.skel.h"
#include "rx.skel.h"

#define R		REJECT_AFTER_MESSAGES
#define LIM		(COUNTER_WINDOW_SIZE + 1)

/* Local receiver indices, one per test so that no test sees another's state. */
enum {
	KP_SEQ = 0x1001, KP_LIMIT, KP_LAST, KP_TOP, KP_TABLE, KP_MODEL, KP_ISOLATE, KP_UNKNOWN,
	KP_RACE_RES, KP_RACE_REPLAY, KP_COST, KP_SHARED, KP_BATCH_MODEL, KP_BATCH_SHORT, KP_BATCH_COST,
	KP_BATCH_TABLE = 0x2000,	/* + fixture number */
};

static struct ctl_bpf *ctl;

/* ---------------------------------------------------------------- helpers */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * One request through the program; returns the XDP verdict, or -errno if the test run itself
 * failed. repeat > 1 runs the program that many times in the kernel on the same request.
 */
static int ctl_call_n(int prog_fd, struct xwg_ctl_req *req, uint32_t repeat)
{
	struct xwg_ctl_req out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = req, .data_size_in = sizeof(*req),
		    .data_out = &out, .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	if (opts.data_size_out != sizeof(out))
		return -EMSGSIZE;
	*req = out;
	return (int)opts.retval;
}

/* Returns the request's err, or a test-run failure as -1000 - errno (never a valid err). */
static int ctl_op(int prog_fd, uint32_t op, uint32_t index, uint64_t arg, uint64_t *result)
{
	struct xwg_ctl_req req = { .op = op, .index = index, .arg = arg, .result = 0xdeadbeef };
	int ret = ctl_call_n(prog_fd, &req, 1);

	if (ret != XDP_PASS)
		return ret < 0 ? -1000 + ret : -1000;
	if (result)
		*result = req.result;
	return req.err;
}

static int prog_fd(void)
{
	return bpf_program__fd(ctl->progs.xwg_ctl);
}

static int reserve(uint32_t index, uint64_t n, uint64_t *first)
{
	return ctl_op(prog_fd(), XWG_CTL_RESERVE, index, n, first);
}

/* 1 fresh, 0 replayed, negative: error. */
static int replay(uint32_t index, uint64_t counter)
{
	uint64_t result = 99;
	int err = ctl_op(prog_fd(), XWG_CTL_REPLAY, index, counter, &result);

	if (err)
		return err;
	return result <= 1 ? (int)result : -1001;
}

static int kp_insert(int map_fd, uint32_t index, uint64_t send_counter)
{
	struct xwg_keypair kp = {
		.birthdate_ns = mono_ns(), .send_counter = send_counter, .remote_index = ~index,
		.peer_id = 7, .flags = XWG_KP_F_RECV_VALID | XWG_KP_F_SEND_VALID,
	};

	for (int i = 0; i < 32; i++) {
		kp.recv_key[i] = (uint8_t)(i + 1);
		kp.send_key[i] = (uint8_t)(0x80 + i);
	}
	return bpf_map_update_elem(map_fd, &index, &kp, BPF_NOEXIST);
}

static int keypairs_fd(void)
{
	return bpf_map__fd(ctl->maps.xwg_keypairs);
}

static int kp_read(uint32_t index, struct xwg_keypair *kp)
{
	return bpf_map_lookup_elem(keypairs_fd(), &index, kp);
}

static uint64_t kp_counter(uint32_t index)
{
	struct xwg_keypair kp;

	if (kp_read(index, &kp))
		return 0xbadbadbadull;
	return kp.send_counter;
}

/* ---------------------------------------------------------------- reserve */

static void test_layout(void)
{
	ASSERT_EQ(sizeof(struct xwg_ctl_req), 32);
	ASSERT_EQ(sizeof(struct xwg_ctl_batch), 32 + 8 * XWG_CTL_BATCH);
	ASSERT_EQ(offsetof(struct xwg_ctl_batch, counters), sizeof(struct xwg_ctl_req));
	ASSERT_EQ(offsetof(struct xwg_ctl_req, arg), 8);
	ASSERT_EQ(offsetof(struct xwg_ctl_req, result), 16);
	ASSERT_EQ(offsetof(struct xwg_ctl_req, err), 24);
	ASSERT_TRUE(sizeof(struct xwg_ctl_req) >= 14);
}

static void test_reserve_sequence(void)
{
	uint64_t first = 99;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_SEQ, 0), 0);
	for (uint64_t i = 0; i < 5; i++) {
		ASSERT_EQ(reserve(KP_SEQ, 1, &first), 0);
		ASSERT_EQ(first, i);
	}
	ASSERT_EQ(reserve(KP_SEQ, 3, &first), 0);
	ASSERT_EQ(first, 5);
	ASSERT_EQ(reserve(KP_SEQ, 1, &first), 0);
	ASSERT_EQ(first, 8);
	ASSERT_EQ(reserve(KP_SEQ, XWG_CTL_RESERVE_MAX, &first), 0);
	ASSERT_EQ(first, 9);
	ASSERT_EQ(reserve(KP_SEQ, 1, &first), 0);
	ASSERT_EQ(first, 9 + XWG_CTL_RESERVE_MAX);
	ASSERT_EQ(kp_counter(KP_SEQ), 10 + XWG_CTL_RESERVE_MAX);

	/* Bad counts change nothing. */
	first = 99;
	ASSERT_EQ(reserve(KP_SEQ, 0, &first), XWG_CTL_EINVAL);
	ASSERT_EQ(first, 0);
	ASSERT_EQ(reserve(KP_SEQ, XWG_CTL_RESERVE_MAX + 1, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(reserve(KP_SEQ, ~0ull, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(reserve(KP_SEQ, 1ull << 32, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(kp_counter(KP_SEQ), 10 + XWG_CTL_RESERVE_MAX);
	ASSERT_EQ(reserve(KP_SEQ, 1, &first), 0);
	ASSERT_EQ(first, 10 + XWG_CTL_RESERVE_MAX);
}

/* Counters up to R - 1 may be used, R and above never (digest 5.4; the receiver rejects them). */
static void test_reserve_limit(void)
{
	uint64_t first = 99;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_LIMIT, R - 4), 0);
	ASSERT_EQ(reserve(KP_LIMIT, 1, &first), 0);
	ASSERT_EQ(first, R - 4);
	ASSERT_EQ(reserve(KP_LIMIT, 3, &first), 0);	/* all usable */
	ASSERT_EQ(first, R - 3);
	ASSERT_EQ(kp_counter(KP_LIMIT), R);
	first = 99;
	ASSERT_EQ(reserve(KP_LIMIT, 1, &first), XWG_CTL_ERANGE);
	ASSERT_EQ(first, 0);
	/* Exhausted: refused before the add, so the counter stops growing. */
	for (int i = 0; i < 10; i++)
		ASSERT_EQ(reserve(KP_LIMIT, XWG_CTL_RESERVE_MAX, NULL), XWG_CTL_ERANGE);
	ASSERT_EQ(kp_counter(KP_LIMIT), R);

	/* A range crossing the limit is refused as a whole. */
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_LAST, R - 2), 0);
	first = 99;
	ASSERT_EQ(reserve(KP_LAST, 3, &first), XWG_CTL_ERANGE);
	ASSERT_EQ(first, 0);
	ASSERT_EQ(kp_counter(KP_LAST), R + 1);
	ASSERT_EQ(reserve(KP_LAST, 1, NULL), XWG_CTL_ERANGE);
	ASSERT_EQ(kp_counter(KP_LAST), R + 1);

	/* Whatever the agent or TX left there, the counter never wraps to reusable nonces. */
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_TOP, ~0ull), 0);
	ASSERT_EQ(reserve(KP_TOP, XWG_CTL_RESERVE_MAX, NULL), XWG_CTL_ERANGE);
	ASSERT_EQ(reserve(KP_TOP, 1, NULL), XWG_CTL_ERANGE);
	ASSERT_EQ(kp_counter(KP_TOP), ~0ull);
}

/* ---------------------------------------------------------------- replay */

struct replay_step {
	uint64_t counter;
	int fresh;
};

/* The kernel's counter self-test (digest 5.4), on one fresh window. */
static void test_replay_kernel_table(void)
{
	static const struct replay_step steps[] = {
		{ 0, 1 }, { 1, 1 }, { 1, 0 }, { 9, 1 }, { 8, 1 }, { 7, 1 },
		{ 7, 0 }, { LIM, 1 }, { LIM - 1, 1 }, { LIM - 1, 0 },
		{ LIM - 2, 1 }, { 2, 1 }, { 2, 0 }, { LIM + 16, 1 }, { 3, 0 },
		{ LIM + 16, 0 }, { LIM * 4, 1 }, { LIM * 4 - (LIM - 1), 1 },
		{ 10, 0 }, { LIM * 4 - LIM, 0 }, { LIM * 4 - (LIM + 1), 0 },
		{ LIM * 4 - (LIM - 2), 1 }, { LIM * 4 + 1 - LIM, 0 }, { 0, 0 },
		{ R, 0 }, { R - 1, 1 }, { R, 0 }, { R - 1, 0 }, { R - 2, 1 },
		{ R + 1, 0 }, { R + 2, 0 }, { R - 2, 0 }, { R - 3, 1 }, { 0, 0 },
	};

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_TABLE, 0), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int got = replay(KP_TABLE, steps[i].counter);

		if (got != steps[i].fresh)
			TEST_FAIL("step %zu: counter %llu: got %d want %d", i + 1,
				  (unsigned long long)steps[i].counter, got, steps[i].fresh);
	}
	ASSERT_EQ(kp_counter(KP_TABLE), 0);	/* replay checks leave the send counter alone */
}

/*
 * Random counters through the BPF op and through the header's function on a private window:
 * every answer and finally the whole window must agree.
 */
static void test_replay_matches_header(void)
{
	static struct replay_counter model;
	struct xwg_keypair kp;
	unsigned int seed = 4242;
	uint64_t top = 20000;
	int mismatches = 0;

	replay_counter_init(&model);
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_MODEL, 0), 0);
	for (int n = 0; n < 30000 && mismatches < 5; n++) {
		uint64_t c;
		int want, got;

		seed = seed * 1103515245u + 12345u;
		c = top - (seed >> 8) % (COUNTER_WINDOW_SIZE + 300);
		if (n % 1000 == 999)
			top += (seed >> 4) % 20000;	/* sometimes jump ahead, past a whole ring */
		else if (n % 7 == 0)
			top += 3;
		want = replay_counter_validate(&model, c);
		got = replay(KP_MODEL, c);
		if (got != want) {
			TEST_FAIL("counter %llu: BPF %d, header %d", (unsigned long long)c, got, want);
			mismatches++;
		}
	}
	ASSERT_EQ(kp_read(KP_MODEL, &kp), 0);
	ASSERT_EQ(kp.replay.counter, model.counter);
	ASSERT_MEMEQ(kp.replay.backtrack, model.backtrack, sizeof(model.backtrack));
}

/* Each op touches only its own field. */
static void test_ops_isolated(void)
{
	struct xwg_keypair before, after;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_ISOLATE, 100), 0);
	ASSERT_EQ(kp_read(KP_ISOLATE, &before), 0);
	ASSERT_EQ(replay(KP_ISOLATE, 5), 1);
	ASSERT_EQ(reserve(KP_ISOLATE, 2, NULL), 0);
	ASSERT_EQ(kp_read(KP_ISOLATE, &after), 0);
	ASSERT_EQ(after.send_counter, 102);
	ASSERT_EQ(after.replay.counter, 6);
	ASSERT_EQ(after.replay.backtrack[0], 1ull << 6);
	ASSERT_MEMEQ(after.recv_key, before.recv_key, 32);
	ASSERT_MEMEQ(after.send_key, before.send_key, 32);
	ASSERT_EQ(after.birthdate_ns, before.birthdate_ns);
	ASSERT_EQ(after.remote_index, before.remote_index);
	ASSERT_EQ(after.peer_id, before.peer_id);
	ASSERT_EQ(after.flags, before.flags);
	ASSERT_EQ(after.state, before.state);
}

/* ---------------------------------------------------------------- replay batches */

/* One REPLAY_BATCH of n counters; returns err (or -1000 - errno), *fresh the bitmap. */
static int replay_batch(uint32_t index, const uint64_t *counters, uint64_t n, uint64_t *fresh)
{
	struct xwg_ctl_batch b = { .req = { .op = XWG_CTL_REPLAY_BATCH, .index = index, .arg = n,
					    .result = 0xdeadbeef } };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &b, .data_size_in = sizeof(b),
		    .data_out = &b, .data_size_out = sizeof(b), .repeat = 1);

	memcpy(b.counters, counters, (n < XWG_CTL_BATCH ? n : XWG_CTL_BATCH) * sizeof(*counters));
	if (bpf_prog_test_run_opts(prog_fd(), &opts))
		return -1000 - errno;
	if (opts.retval != XDP_PASS || opts.data_size_out != sizeof(b))
		return -1000;
	*fresh = b.req.result;
	return b.req.err;
}

struct batch_fixture {
	const char *name;
	uint64_t seen[2];	/* accepted one by one first (0 = none; the first entry is seen + 1) */
	uint64_t n;		/* counters in the batch */
	uint64_t counters[8];
	int err;
	uint64_t fresh;
	uint64_t window_counter;	/* replay.counter afterwards */
};

static const struct batch_fixture batch_fixtures[] = {
	{ "ascending, all fresh", { 0 }, 5, { 0, 1, 2, 3, 4 }, 0, 0x1f, 5 },
	{ "out of order, all fresh", { 0 }, 4, { 7, 3, 9, 0 }, 0, 0xf, 10 },
	{ "a duplicate inside the batch", { 0 }, 4, { 5, 5, 6, 5 }, 0, 0x5, 7 },
	{ "seen before the batch", { 10 + 1 }, 3, { 10, 11, 10 }, 0, 0x2, 12 },
	{ "behind the window", { 3 * LIM + 1 }, 3, { 0, LIM, 3 * LIM + 1 }, 0, 0x4, 3 * LIM + 2 },
	{ "at and past the limit", { 0 }, 4, { R - 1, R, R + 1, R - 2 }, 0, 0x9, R },
	{ "count 0", { 0 }, 0, { 1 }, XWG_CTL_EINVAL, 0, 0 },
	{ "count above the batch", { 0 }, XWG_CTL_BATCH + 1, { 1 }, XWG_CTL_EINVAL, 0, 0 },
	{ "count 2^32 + 1", { 0 }, (1ull << 32) + 1, { 1 }, XWG_CTL_EINVAL, 0, 0 },
};

static void run_batch_fixture(const struct batch_fixture *f)
{
	uint32_t index = KP_BATCH_TABLE + (uint32_t)(f - batch_fixtures);
	uint64_t fresh = 0xdeadbeef, counters[XWG_CTL_BATCH] = { 0 };
	struct xwg_keypair kp;

	/* replay_batch reads up to XWG_CTL_BATCH counters; a fixture holds 8 (found by ASan). */
	memcpy(counters, f->counters, sizeof(f->counters));
	ASSERT_EQ(kp_insert(keypairs_fd(), index, 0), 0);
	for (int i = 0; i < 2 && f->seen[i]; i++)
		ASSERT_EQ(replay(index, f->seen[i] - 1), 1);
	ASSERT_EQ(replay_batch(index, counters, f->n, &fresh), f->err);
	ASSERT_EQ(fresh, f->err ? 0 : f->fresh);
	ASSERT_EQ(kp_read(index, &kp), 0);
	ASSERT_EQ(kp.replay.counter, f->err ? (f->seen[0] ? f->seen[0] : 0) : f->window_counter);
	ASSERT_EQ(kp.send_counter, 0);
}

static void test_replay_batch_table(void)
{
	uint64_t full[XWG_CTL_BATCH], fresh = 0;

	for (size_t i = 0; i < sizeof(batch_fixtures) / sizeof(batch_fixtures[0]); i++) {
		int failures = test_failures_in_case;

		run_batch_fixture(&batch_fixtures[i]);
		if (test_failures_in_case != failures)
			printf("# fixture %zu (%s) failed\n", i, batch_fixtures[i].name);
	}

	/* A whole batch of fresh counters, then the same batch again. */
	for (int i = 0; i < XWG_CTL_BATCH; i++)
		full[i] = 1000 + (uint64_t)i;
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_BATCH_TABLE + 100, 0), 0);
	ASSERT_EQ(replay_batch(KP_BATCH_TABLE + 100, full, XWG_CTL_BATCH, &fresh), 0);
	ASSERT_EQ(fresh, ~0ull);
	ASSERT_EQ(replay_batch(KP_BATCH_TABLE + 100, full, XWG_CTL_BATCH, &fresh), 0);
	ASSERT_EQ(fresh, 0);
	ASSERT_EQ(replay_batch(KP_UNKNOWN + 0x100, full, 1, &fresh), XWG_CTL_ENOENT);
}

/* Random batches through BPF and the header's function one by one: same answers, same window. */
static void test_replay_batch_matches_header(void)
{
	static struct replay_counter model;
	uint64_t counters[XWG_CTL_BATCH], fresh, want;
	unsigned int seed = 777;
	uint64_t top = 5000;
	struct xwg_keypair kp;
	int mismatches = 0;

	replay_counter_init(&model);
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_BATCH_MODEL, 0), 0);
	for (int round = 0; round < 2000 && mismatches < 5; round++) {
		uint64_t n = 1 + round % XWG_CTL_BATCH;

		want = 0;
		for (uint64_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			counters[i] = top - (seed >> 8) % (COUNTER_WINDOW_SIZE + 200);
			top += (seed >> 4) % 4;
			if (round % 97 == 96 && i == 0)
				top += 20000;	/* jump past a whole ring */
			if (replay_counter_validate(&model, counters[i]))
				want |= 1ull << i;
		}
		if (replay_batch(KP_BATCH_MODEL, counters, n, &fresh) || fresh != want) {
			TEST_FAIL("round %d: BPF %#llx, header %#llx", round, (unsigned long long)fresh,
				  (unsigned long long)want);
			mismatches++;
		}
	}
	ASSERT_EQ(kp_read(KP_BATCH_MODEL, &kp), 0);
	ASSERT_EQ(kp.replay.counter, model.counter);
	ASSERT_MEMEQ(kp.replay.backtrack, model.backtrack, sizeof(model.backtrack));
}

/* A REPLAY_BATCH that carries only the header is dropped whole: the window does not move. */
static void test_replay_batch_short(void)
{
	struct xwg_ctl_batch b = { .req = { .op = XWG_CTL_REPLAY_BATCH, .index = KP_BATCH_SHORT, .arg = 1 } };
	uint8_t out[sizeof(b)];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &b, .data_size_in = sizeof(b) - 8,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	struct xwg_keypair kp;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_BATCH_SHORT, 0), 0);
	ASSERT_EQ(bpf_prog_test_run_opts(prog_fd(), &opts), 0);
	ASSERT_EQ(opts.retval, XDP_DROP);
	ASSERT_EQ(kp_read(KP_BATCH_SHORT, &kp), 0);
	ASSERT_EQ(kp.replay.counter, 0);
}

/* ---------------------------------------------------------------- bad requests */

static void test_bad_requests(void)
{
	uint8_t small[20] = { 0 }, out[64];
	struct xwg_ctl_req req = { .op = XWG_CTL_RESERVE, .index = KP_UNKNOWN, .arg = 1 };
	uint64_t result = 99;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = small, .data_size_in = sizeof(small),
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	ASSERT_EQ(reserve(KP_UNKNOWN, 1, &result), XWG_CTL_ENOENT);
	ASSERT_EQ(result, 0);
	ASSERT_EQ(replay(KP_UNKNOWN, 0), XWG_CTL_ENOENT);
	ASSERT_EQ(ctl_op(prog_fd(), 77, KP_UNKNOWN, 1, NULL), XWG_CTL_ENOENT);
	ASSERT_EQ(kp_insert(keypairs_fd(), KP_UNKNOWN, 0), 0);
	ASSERT_EQ(ctl_op(prog_fd(), 0, KP_UNKNOWN, 1, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(ctl_op(prog_fd(), 4, KP_UNKNOWN, 1, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(ctl_op(prog_fd(), ~0u, KP_UNKNOWN, 1, NULL), XWG_CTL_EINVAL);
	ASSERT_EQ(kp_counter(KP_UNKNOWN), 0);
	ASSERT_EQ(reserve(KP_UNKNOWN, 1, &result), 0);
	ASSERT_EQ(result, 0);

	/* Shorter than a request: dropped, nothing written. */
	memcpy(small, &req, sizeof(small));
	ASSERT_EQ(bpf_prog_test_run_opts(prog_fd(), &opts), 0);
	ASSERT_EQ(opts.retval, XDP_DROP);
	ASSERT_EQ(opts.data_size_out, sizeof(small));
	ASSERT_MEMEQ(out, small, sizeof(small));
	ASSERT_EQ(kp_counter(KP_UNKNOWN), 1);

	/* Longer is fine: the tail is left alone. */
	{
		uint8_t big[48];

		memset(big, 0xa5, sizeof(big));
		req.index = KP_UNKNOWN;
		memcpy(big, &req, sizeof(req));
		opts.data_in = big;
		opts.data_size_in = sizeof(big);
		opts.data_size_out = sizeof(out);
		ASSERT_EQ(bpf_prog_test_run_opts(prog_fd(), &opts), 0);
		ASSERT_EQ(opts.retval, XDP_PASS);
		ASSERT_EQ(opts.data_size_out, sizeof(big));
		memcpy(&req, out, sizeof(req));
		ASSERT_EQ(req.err, 0);
		ASSERT_EQ(req.result, 1);
		ASSERT_MEMEQ(out + sizeof(req), big + sizeof(req), sizeof(big) - sizeof(req));
	}
}

/* ---------------------------------------------------------------- concurrency */

#define RACE_CALLS	20000
#define RACE_BPF_REPS	200000
#define RACE_REPLAYS	30000

struct racer {
	pthread_t thread;
	uint32_t index;
	uint64_t n;		/* counters per reservation (reserve racers) */
	uint64_t *firsts;	/* reserve racers: every range start */
	long accepted;		/* replay racers */
	int failures;
};

/* Starts the racers together, so that they overlap for most of their run. */
static pthread_barrier_t race_start;

/* Userspace side: one syscall per reservation, as the agent does. */
static void *race_reserve(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(&race_start);
	for (int i = 0; i < RACE_CALLS; i++)
		if (reserve(r->index, r->n, &r->firsts[i]))
			r->failures++;
	return NULL;
}

/* "BPF side": the same fetch-and-add repeated inside the kernel, like TX on another CPU. */
static void *race_bpf_loop(void *arg)
{
	struct racer *r = arg;
	struct xwg_ctl_req req = { .op = XWG_CTL_RESERVE, .index = r->index, .arg = 1 };

	pthread_barrier_wait(&race_start);
	for (int i = 0; i < RACE_BPF_REPS / 10000; i++)
		if (ctl_call_n(prog_fd(), &req, 10000) != XDP_PASS || req.err)
			r->failures++;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_concurrent_reserve(void)
{
	static uint64_t firsts[2][RACE_CALLS];
	struct racer r[3] = {
		{ .index = KP_RACE_RES, .n = 1, .firsts = firsts[0] },
		{ .index = KP_RACE_RES, .n = 3, .firsts = firsts[1] },
		{ .index = KP_RACE_RES },
	};
	static uint64_t all[2 * RACE_CALLS];
	size_t k = 0;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_RACE_RES, 0), 0);
	pthread_barrier_init(&race_start, NULL, 3);
	pthread_create(&r[0].thread, NULL, race_reserve, &r[0]);
	pthread_create(&r[1].thread, NULL, race_reserve, &r[1]);
	pthread_create(&r[2].thread, NULL, race_bpf_loop, &r[2]);
	for (int i = 0; i < 3; i++) {
		pthread_join(r[i].thread, NULL);
		ASSERT_EQ(r[i].failures, 0);
	}
	pthread_barrier_destroy(&race_start);
	ASSERT_EQ(kp_counter(KP_RACE_RES), RACE_CALLS * (1 + 3) + RACE_BPF_REPS);

	/* Userspace ranges (start << 2 | length) must not overlap; the BPF loop took the gaps. */
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < RACE_CALLS; i++)
			all[k++] = firsts[t][i] << 2 | (uint64_t)r[t].n;
	qsort(all, k, sizeof(all[0]), cmp_u64);
	for (size_t i = 1; i < k; i++) {
		uint64_t prev = all[i - 1] >> 2, len = all[i - 1] & 3, cur = all[i] >> 2;

		if (prev + len > cur) {
			TEST_FAIL("range %llu+%llu overlaps %llu", (unsigned long long)prev,
				  (unsigned long long)len, (unsigned long long)cur);
			break;
		}
	}
	/* Each thread saw its own reservations in increasing order. */
	for (int t = 0; t < 2; t++)
		for (int i = 1; i < RACE_CALLS; i++)
			if (firsts[t][i] <= firsts[t][i - 1]) {
				TEST_FAIL("thread %d: %llu after %llu", t, (unsigned long long)firsts[t][i],
					  (unsigned long long)firsts[t][i - 1]);
				break;
			}
}

/*
 * Both threads offer the same ascending counters, in lock step so that they collide: under the
 * lock each is accepted exactly once. Steps of a whole ring make every update the longest one.
 */
static atomic_uint race_arrivals;

static void race_lockstep(unsigned int round)
{
	atomic_fetch_add(&race_arrivals, 1);
	while (atomic_load(&race_arrivals) < 2 * (round + 1))
		sched_yield();
}

static void *race_replay(void *arg)
{
	struct racer *r = arg;

	for (unsigned int k = 0; k < RACE_REPLAYS; k++) {
		int ret;

		race_lockstep(k);
		ret = replay(r->index, (uint64_t)k * COUNTER_BITS_TOTAL);
		if (ret < 0)
			r->failures++;
		else
			r->accepted += ret;
	}
	return NULL;
}

static void test_concurrent_replay(void)
{
	struct racer r[2] = { { .index = KP_RACE_REPLAY }, { .index = KP_RACE_REPLAY } };
	struct xwg_keypair kp;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_RACE_REPLAY, 0), 0);
	atomic_store(&race_arrivals, 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i].thread, NULL, race_replay, &r[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(r[i].thread, NULL);
		ASSERT_EQ(r[i].failures, 0);
	}
	ASSERT_EQ(r[0].accepted + r[1].accepted, RACE_REPLAYS);
	ASSERT_EQ(kp_read(KP_RACE_REPLAY, &kp), 0);
	ASSERT_EQ(kp.replay.counter, (uint64_t)(RACE_REPLAYS - 1) * COUNTER_BITS_TOTAL + 1);
	printf("# replay race: thread 0 accepted %ld, thread 1 %ld\n", r[0].accepted, r[1].accepted);
}

/* ---------------------------------------------------------------- cost */

#define COST_CALLS	100000

static void test_reserve_cost(void)
{
	struct xwg_ctl_req req = { .op = XWG_CTL_RESERVE, .index = KP_COST, .arg = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = &req, .data_size_in = sizeof(req),
		    .repeat = COST_CALLS);
	uint64_t first, t0, t1;
	int failures = 0;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_COST, 0), 0);
	t0 = mono_ns();
	for (int i = 0; i < COST_CALLS; i++)
		if (reserve(KP_COST, 1, &first) || first != (uint64_t)i)
			failures++;
	t1 = mono_ns();
	ASSERT_EQ(failures, 0);
	ASSERT_EQ(kp_counter(KP_COST), COST_CALLS);
	printf("# reserve via BPF_PROG_TEST_RUN from userspace: %.0f ns/call (%d calls)\n",
	       (double)(t1 - t0) / COST_CALLS, COST_CALLS);

	ASSERT_EQ(bpf_prog_test_run_opts(prog_fd(), &opts), 0);
	ASSERT_EQ(kp_counter(KP_COST), 2 * COST_CALLS);
	printf("# reserve program alone (in-kernel repeat): %u ns/run\n", opts.duration);
}

/* What the agent pays per received packet when one call commits a batch of 64. */
static void test_replay_batch_cost(void)
{
	uint64_t counters[XWG_CTL_BATCH], fresh;
	int failures = 0, calls = 2000;
	uint64_t t0, t1;

	ASSERT_EQ(kp_insert(keypairs_fd(), KP_BATCH_COST, 0), 0);
	t0 = mono_ns();
	for (int c = 0; c < calls; c++) {
		for (int i = 0; i < XWG_CTL_BATCH; i++)
			counters[i] = (uint64_t)c * XWG_CTL_BATCH + (uint64_t)i;
		if (replay_batch(KP_BATCH_COST, counters, XWG_CTL_BATCH, &fresh) || fresh != ~0ull)
			failures++;
	}
	t1 = mono_ns();
	ASSERT_EQ(failures, 0);
	printf("# replay batch of %d: %.0f ns/call, %.0f ns/counter\n", XWG_CTL_BATCH,
	       (double)(t1 - t0) / calls, (double)(t1 - t0) / calls / XWG_CTL_BATCH);
}

/* ---------------------------------------------------------------- sharing with rx */

/* What the agent does: every xwg_* map of ctl becomes rx's map. Returns how many, or -errno. */
static int ctl_reuse_maps(struct bpf_object *dst, struct bpf_object *src)
{
	struct bpf_map *m, *from;
	int n = 0, err;

	bpf_object__for_each_map(m, dst) {
		if (strncmp(bpf_map__name(m), "xwg_", 4))
			continue;
		from = bpf_object__find_map_by_name(src, bpf_map__name(m));
		if (!from)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(from));
		if (err)
			return err;
		n++;
	}
	return n;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

static void test_shared_with_rx(void)
{
	struct rx_bpf *rx = rx_bpf__open_and_load();
	struct ctl_bpf *shared = NULL;
	struct xwg_keypair kp;
	uint64_t first = 99;
	uint32_t index = KP_SHARED;
	int rx_fd, fd;

	if (!rx) {
		TEST_FAIL("rx_bpf__open_and_load: %s", strerror(errno));
		return;
	}
	rx_fd = bpf_map__fd(rx->maps.xwg_keypairs);
	shared = ctl_bpf__open();
	if (!shared) {
		TEST_FAIL("ctl_bpf__open: %s", strerror(errno));
		goto out;
	}
	ASSERT_EQ(ctl_reuse_maps(shared->obj, rx->obj), 8);
	if (ctl_bpf__load(shared)) {
		TEST_FAIL("ctl_bpf__load with rx's maps: %s", strerror(errno));
		goto out;
	}
	ASSERT_EQ(map_id(bpf_map__fd(shared->maps.xwg_keypairs)), map_id(rx_fd));
	ASSERT_EQ(map_id(bpf_map__fd(shared->maps.xwg_events)), map_id(bpf_map__fd(rx->maps.xwg_events)));

	/* Inserted through rx's fd, used through ctl, seen again through rx's fd. */
	ASSERT_EQ(kp_insert(rx_fd, index, 41), 0);
	fd = bpf_program__fd(shared->progs.xwg_ctl);
	ASSERT_EQ(ctl_op(fd, XWG_CTL_RESERVE, index, 2, &first), 0);
	ASSERT_EQ(first, 41);
	ASSERT_EQ(ctl_op(fd, XWG_CTL_REPLAY, index, 300, &first), 0);
	ASSERT_EQ(first, 1);
	ASSERT_EQ(ctl_op(fd, XWG_CTL_REPLAY, index, 300, &first), 0);
	ASSERT_EQ(first, 0);
	ASSERT_EQ(bpf_map_lookup_elem(rx_fd, &index, &kp), 0);
	ASSERT_EQ(kp.send_counter, 43);
	ASSERT_EQ(kp.replay.counter, 301);
	/* The standalone ctl object has its own map: the keypair is not there. */
	ASSERT_EQ(reserve(KP_SHARED, 1, NULL), XWG_CTL_ENOENT);

	ASSERT_EQ(bpf_map_delete_elem(rx_fd, &index), 0);
	ASSERT_EQ(ctl_op(fd, XWG_CTL_RESERVE, index, 1, NULL), XWG_CTL_ENOENT);
out:
	ctl_bpf__destroy(shared);
	rx_bpf__destroy(rx);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# SKIP needs root\n");
		return 77;
	}
	ctl = ctl_bpf__open_and_load();
	if (!ctl) {
		printf("not ok - load ctl: %s\n", strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	RUN_TEST(test_layout);
	RUN_TEST(test_reserve_sequence);
	RUN_TEST(test_reserve_limit);
	RUN_TEST(test_replay_kernel_table);
	RUN_TEST(test_replay_matches_header);
	RUN_TEST(test_ops_isolated);
	RUN_TEST(test_replay_batch_table);
	RUN_TEST(test_replay_batch_matches_header);
	RUN_TEST(test_replay_batch_short);
	RUN_TEST(test_bad_requests);
	RUN_TEST(test_concurrent_reserve);
	RUN_TEST(test_concurrent_replay);
	RUN_TEST(test_reserve_cost);
	RUN_TEST(test_replay_batch_cost);
	RUN_TEST(test_shared_with_rx);
	ctl_bpf__destroy(ctl);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The 8128-packet sliding replay window (RFC 6479 bitmap), shared by the agent and the BPF data path. */
#ifndef XWG_REPLAY_H
#define XWG_REPLAY_H

#include "xwg_types.h"
#include "messages.h"

#define REPLAY_WORDS (COUNTER_BITS_TOTAL / 64)

struct replay_counter {
	__u64 counter;			/* highest counter seen + 1 (0: nothing seen yet) */
	__u64 backtrack[REPLAY_WORDS];
};
_Static_assert(sizeof(struct replay_counter) == 8 + 1024, "replay window layout");
_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0, "ring index is masked, not divided");

static __always_inline void replay_counter_init(struct replay_counter *r)
{
	__u32 i;

	r->counter = 0;
	/*
	 * No memset in BPF, and clang turns a plain zeroing loop back into one; the volatile
	 * store keeps it an explicit loop.
	 */
	for (i = 0; i < REPLAY_WORDS; i++)
		*(volatile __u64 *)&r->backtrack[i] = 0;
}

/*
 * Returns true and records the counter if it is fresh; false if replayed, too old or beyond
 * REJECT_AFTER_MESSAGES. Call only after the packet authenticated.
 *
 * Kept verifier-friendly for use under a bpf_spin_lock: no calls, shifts and masks instead of
 * division, every array index masked, and the one loop bounded by REPLAY_WORDS.
 * Like the kernel, r->counter holds the highest counter seen plus one, and the bit for counter
 * n lives at position n + 1, so an all-zero window means "nothing seen" and 0 is acceptable.
 */
static __always_inline bool replay_counter_validate(struct replay_counter *r, __u64 their_counter)
{
	__u64 index, index_current, top, i, bit;

	if (r->counter >= REJECT_AFTER_MESSAGES + 1 || their_counter >= REJECT_AFTER_MESSAGES)
		return false;
	their_counter++;
	/* Older than the window (cannot overflow: their_counter <= REJECT_AFTER_MESSAGES). */
	if (COUNTER_WINDOW_SIZE + their_counter < r->counter)
		return false;

	index = their_counter >> 6;
	if (their_counter > r->counter) {
		/* Moving ahead: clear the words we skip, at most the whole ring. */
		index_current = r->counter >> 6;
		top = index - index_current;
		if (top > REPLAY_WORDS)
			top = REPLAY_WORDS;
		for (i = 1; i <= REPLAY_WORDS; i++) {
			if (i > top)
				break;
			r->backtrack[(index_current + i) & (REPLAY_WORDS - 1)] = 0;
		}
		r->counter = their_counter;
	}

	index &= REPLAY_WORDS - 1;
	bit = 1ULL << (their_counter & 63);
	if (r->backtrack[index] & bit)
		return false;
	r->backtrack[index] |= bit;
	return true;
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Portable ChaCha20, HChaCha20, Poly1305 and their RFC 8439 AEAD: one source for BPF and userspace. */
#ifndef XWG_CHACHA20POLY1305_H
#define XWG_CHACHA20POLY1305_H

#include "xwg_types.h"

/*
 * Layers, from the bottom (no libc; little-endian targets only; static inline in userspace):
 *
 *   ChaCha20      chacha20_init(ctx, key, ctr32, nonce12) / chacha20_init_wg(ctx, key, ctr64)
 *                 chacha20_block(ctx, &blk): one 64-byte keystream block, then block counter++
 *                 hchacha20(out32, nonce16, key32)               (XChaCha subkeys, cookies)
 *                 chacha20_xor(ctx, dst, src, len)               (byte buffers; userspace/tests)
 *   Poly1305      poly1305_init(p, key32) / poly1305_init_words(p, k[4])
 *                 poly1305_blocks(p, &blk, nblocks, hibit)       (up to 4 aligned 16-byte blocks)
 *                 poly1305_final(p, tag[2])
 *                 poly1305_mac(tag16, msg, len, key32)           (any length; userspace/tests)
 *   AEAD chunks   cc20p1305_init(c, key, nonce12) / cc20p1305_init_wg(c, key, counter)
 *                 cc20p1305_ad_chunk(c, &blk, len)               (len 0..64; only the last may be short)
 *                 cc20p1305_encrypt_chunk(c, &blk, len)          (in place; same rule)
 *                 cc20p1305_decrypt_chunk(c, &blk, len)
 *                 cc20p1305_final(c, tag[2]), cc20p1305_tag_equal(a, b)   (constant time)
 *   AEAD buffers  cc20p1305_encrypt / cc20p1305_decrypt (WireGuard nonce 0^32 || LE64(counter)),
 *                 cc20p1305_seal / cc20p1305_open (raw 12-byte nonce, for the RFC vectors)
 *
 * Chunk API, as the BPF data path uses it: keep a struct cc20p1305_ctx (224 bytes) and a union
 * cc_block scratch (64 bytes) in a per-CPU map value, because the BPF stack is only 512 bytes.
 * Per packet: cc20p1305_init_wg(); then for each 64-byte piece of the payload (a bpf_loop callback
 * per chunk): copy it into the scratch block, cc20p1305_encrypt_chunk()/decrypt_chunk() it in place,
 * copy it back. Every chunk is 64 bytes except the last. Copy whole chunks inside the linear area
 * with eight 64-bit packet loads/stores (unaligned packet access is allowed; bound the offset well
 * below 64 KiB or the verifier forgets the packet range) and the rest with bpf_xdp_load_bytes() /
 * bpf_skb_load_bytes() and *_store_bytes(): a helper call plus memcpy per chunk costs about 10%.
 * Finally cc20p1305_final() gives the tag as two little-endian u64 words: store it after the
 * ciphertext (encrypt), or load the received tag into an aligned __u64[2] and cc20p1305_tag_equal()
 * it (decrypt; drop the packet on mismatch, since decrypt_chunk already wrote plaintext).
 * bpf/crypto_test.bpf.c is a complete, tested example.
 * All accesses to the scratch are aligned 64-bit words (the verifier refuses unaligned stack access
 * and byte-wise packing is slow); loops have constant bounds.
 *
 * Build BPF users with -mcpu=v3 -DXWG_BPF_ALU32 if possible (see cc_word below): about 1.35x faster.
 */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "chacha20poly1305.h assumes a little-endian target (x86, arm64, bpfel)"
#endif

/*
 * In BPF the ChaCha block and the Poly1305 step are global subprograms: each has its own stack
 * frame, and the verifier checks each once, on its own, instead of again at every call site and
 * every bpf_loop pass (bpf/crypto_test.bpf.c: 94k -> 9k processed instructions; with -mcpu=v3
 * 443k -> 12k). Global functions need sized pointer arguments (hence union cc_block rather than
 * __u64 *), may be passed NULL, and must return a scalar.
 */
#ifdef __bpf__
#define CC_NOINLINE __attribute__((noinline))
#else
#define CC_NOINLINE static inline
#endif
#define CC_INLINE static __always_inline

#define CHACHA20_KEY_SIZE	32
#define CHACHA20_NONCE_SIZE	12
#define CHACHA20_BLOCK_SIZE	64
#define HCHACHA20_NONCE_SIZE	16
#define POLY1305_KEY_SIZE	32
#define POLY1305_TAG_SIZE	16
#define CC20P1305_TAG_SIZE	16

/* One 64-byte block, 8-byte aligned so BPF can work on it in whole words. */
union cc_block {
	__u64 q[8];		/* the core reads and writes only these */
	__u8 b[64];		/* bytes, for userspace copies (char may alias) */
};

struct chacha20_ctx {
	__u32 s[16];		/* constants, key, block counter (s[12]), nonce */
};

struct poly1305_ctx {
	__u32 r[5];		/* clamped r, 26-bit limbs */
	__u32 r5[4];		/* 5 * r[1..4]: folds 2^130 back in as 5 during the multiply */
	__u32 h[5];		/* accumulator, 26-bit limbs, kept partially reduced */
	__u32 unused;
	__u64 pad[2];		/* s, the second key half, added at the end */
};

struct cc20p1305_ctx {
	struct chacha20_ctx chacha;
	struct poly1305_ctx poly;
	__u64 adlen;
	__u64 ctlen;
	union cc_block ks;	/* keystream scratch */
};
_Static_assert(sizeof(struct cc20p1305_ctx) == 224, "AEAD state layout (documented size)");

CC_INLINE __u32 cc_load_le32(const __u8 *p)
{
	return (__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24;
}

CC_INLINE __u64 cc_load_le64(const __u8 *p)
{
	return (__u64)cc_load_le32(p) | (__u64)cc_load_le32(p + 4) << 32;
}

CC_INLINE void cc_store_le32(__u8 *p, __u32 v)
{
	p[0] = (__u8)v;
	p[1] = (__u8)(v >> 8);
	p[2] = (__u8)(v >> 16);
	p[3] = (__u8)(v >> 24);
}

CC_INLINE void cc_store_le64(__u8 *p, __u64 v)
{
	cc_store_le32(p, (__u32)v);
	cc_store_le32(p + 4, (__u32)(v >> 32));
}

/* ---------------------------------------------------------------- ChaCha20 */

/*
 * The state words' C type only steers clang's BPF code generation; the values are always 32-bit
 * (the rotate truncates, additions only carry garbage upwards, the output truncates). Measured per
 * block on this machine: with -mcpu=v3 (alu32) 64-bit words give 177 ns vs 270 ns for 32-bit words;
 * with the default -mcpu (no alu32) 32-bit words give 275 ns vs 333 ns. BPF builds that pass
 * -mcpu=v3 should define XWG_BPF_ALU32. gcc: either is about 115 ns.
 */
#if defined(__bpf__) && !defined(XWG_BPF_ALU32)
typedef __u32 cc_word;
#else
typedef __u64 cc_word;
#endif

#define CC_ROTL32(v, n) ((__u32)(v) << (n) | (__u32)(v) >> (32 - (n)))
#define CC_QR(a, b, c, d) do {					\
	a += b; d ^= a; d = CC_ROTL32(d, 16);			\
	c += d; b ^= c; b = CC_ROTL32(b, 12);			\
	a += b; d ^= a; d = CC_ROTL32(d, 8);			\
	c += d; b ^= c; b = CC_ROTL32(b, 7);			\
} while (0)

/* The 20 rounds; feed_forward adds the input back (ChaCha20) or not (HChaCha20). Output is
 * packed into little-endian 64-bit words: the only width anything reads a block with. */
CC_INLINE void chacha20_core(__u64 out[8], const __u32 in[16], int feed_forward)
{
	cc_word x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
	cc_word x4 = in[4], x5 = in[5], x6 = in[6], x7 = in[7];
	cc_word x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11];
	cc_word x12 = in[12], x13 = in[13], x14 = in[14], x15 = in[15];
	int i;

	/*
	 * Not unrolled: the rolled loop's 200-odd instructions stay in the instruction cache that the
	 * unrolled 2,600 (about 10 KiB of x86) had to share with the network stack between packets.
	 * BPF_PROG_TEST_RUN on fresh packets: xwg_rx 7.47 -> 6.91 us, xwg_tx 8.45 -> 8.11 us; the hot
	 * AEAD loop (bench/aead_bench.c) is unchanged within noise.
	 */
	for (i = 0; i < 10; i++) {
		CC_QR(x0, x4, x8, x12);
		CC_QR(x1, x5, x9, x13);
		CC_QR(x2, x6, x10, x14);
		CC_QR(x3, x7, x11, x15);
		CC_QR(x0, x5, x10, x15);
		CC_QR(x1, x6, x11, x12);
		CC_QR(x2, x7, x8, x13);
		CC_QR(x3, x4, x9, x14);
	}
	if (feed_forward) {
		x0 += in[0]; x1 += in[1]; x2 += in[2]; x3 += in[3];
		x4 += in[4]; x5 += in[5]; x6 += in[6]; x7 += in[7];
		x8 += in[8]; x9 += in[9]; x10 += in[10]; x11 += in[11];
		x12 += in[12]; x13 += in[13]; x14 += in[14]; x15 += in[15];
	}
	out[0] = (__u32)x0 | (__u64)x1 << 32;
	out[1] = (__u32)x2 | (__u64)x3 << 32;
	out[2] = (__u32)x4 | (__u64)x5 << 32;
	out[3] = (__u32)x6 | (__u64)x7 << 32;
	out[4] = (__u32)x8 | (__u64)x9 << 32;
	out[5] = (__u32)x10 | (__u64)x11 << 32;
	out[6] = (__u32)x12 | (__u64)x13 << 32;
	out[7] = (__u32)x14 | (__u64)x15 << 32;
}

/* "expand 32-byte k" followed by the key words; the rest is filled by the callers. */
CC_INLINE void chacha20_init_key(__u32 s[16], const __u8 key[32])
{
	int i;

	s[0] = 0x61707865;
	s[1] = 0x3320646e;
	s[2] = 0x79622d32;
	s[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		s[4 + i] = cc_load_le32(key + 4 * i);
}

/* RFC 8439 layout: 32-bit block counter, 96-bit nonce. */
CC_INLINE void chacha20_init(struct chacha20_ctx *c, const __u8 key[32], __u32 counter,
			     const __u8 nonce[12])
{
	chacha20_init_key(c->s, key);
	c->s[12] = counter;
	c->s[13] = cc_load_le32(nonce);
	c->s[14] = cc_load_le32(nonce + 4);
	c->s[15] = cc_load_le32(nonce + 8);
}

/* WireGuard: nonce = 4 zero bytes || LE64(message counter); the block counter starts at 0. */
CC_INLINE void chacha20_init_wg(struct chacha20_ctx *c, const __u8 key[32], __u64 counter)
{
	chacha20_init_key(c->s, key);
	c->s[12] = 0;
	c->s[13] = 0;
	c->s[14] = (__u32)counter;
	c->s[15] = (__u32)(counter >> 32);
}

/* Writes one keystream block and advances the block counter. */
CC_NOINLINE int chacha20_block(struct chacha20_ctx *c, union cc_block *out)
{
	if (!c || !out)
		return -1;
	chacha20_core(out->q, c->s, 1);
	c->s[12]++;
	return 0;
}

/* HChaCha20 (draft-irtf-cfrg-xchacha §2.2): the XChaCha20 subkey from a 16-byte nonce. */
static inline void hchacha20(__u8 out[32], const __u8 nonce[16], const __u8 key[32])
{
	__u32 s[16];
	__u64 x[8];
	int i;

	chacha20_init_key(s, key);
	for (i = 0; i < 4; i++)
		s[12 + i] = cc_load_le32(nonce + 4 * i);
	chacha20_core(x, s, 0);
	cc_store_le64(out, x[0]);
	cc_store_le64(out + 8, x[1]);
	cc_store_le64(out + 16, x[6]);
	cc_store_le64(out + 24, x[7]);
}

/* Byte-buffer ChaCha20 (dst == src or disjoint); for userspace and tests, not for BPF packets. */
static inline void chacha20_xor(struct chacha20_ctx *c, __u8 *dst, const __u8 *src, __u64 len)
{
	union cc_block ks;
	__u64 i;

	for (i = 0; i < len; i++) {
		if ((i & 63) == 0)
			chacha20_block(c, &ks);
		dst[i] = src[i] ^ ks.b[i & 63];
	}
}

/* ---------------------------------------------------------------- Poly1305 */

#define CC_M26 0x3ffffffu
#define POLY1305_HIBIT (1u << 24)	/* the 2^128 bit of a full 16-byte block, in limb 4 */

/* k = r (clamped here) || s, as little-endian 64-bit words. */
CC_INLINE void poly1305_init_words(struct poly1305_ctx *p, const __u64 k[4])
{
	__u64 lo = k[0] & 0x0ffffffc0fffffffull;
	__u64 hi = k[1] & 0x0ffffffc0ffffffcull;

	p->r[0] = lo & CC_M26;
	p->r[1] = (lo >> 26) & CC_M26;
	p->r[2] = ((lo >> 52) | (hi << 12)) & CC_M26;
	p->r[3] = (hi >> 14) & CC_M26;
	p->r[4] = hi >> 40;
	p->r5[0] = p->r[1] * 5;
	p->r5[1] = p->r[2] * 5;
	p->r5[2] = p->r[3] * 5;
	p->r5[3] = p->r[4] * 5;
	p->h[0] = p->h[1] = p->h[2] = p->h[3] = p->h[4] = 0;
	p->unused = 0;
	p->pad[0] = k[2];
	p->pad[1] = k[3];
}

CC_INLINE void poly1305_init(struct poly1305_ctx *p, const __u8 key[32])
{
	__u64 k[4];
	int i;

	for (i = 0; i < 4; i++)
		k[i] = cc_load_le64(key + 8 * i);
	poly1305_init_words(p, k);
}

/*
 * h = (h + m) * r mod 2^130 - 5 for the first nblocks (at most 4) 16-byte blocks of blk; hibit is
 * POLY1305_HIBIT for full blocks (0 only for a short final block already padded with 0x01 0x00...).
 * Limbs stay below 2^27 and products below 2^59, so 64-bit arithmetic never overflows.
 * (Two blocks per step as (h + m1) * r^2 + m2 * r measured no faster in BPF, which is bound by
 * instruction count here, not by the carry chain.)
 */
CC_NOINLINE int poly1305_blocks(struct poly1305_ctx *p, const union cc_block *blk, __u32 nblocks,
				__u32 hibit)
{
	__u64 r0, r1, r2, r3, r4, s1, s2, s3, s4, h0, h1, h2, h3, h4;
	__u64 d0, d1, d2, d3, d4, c, lo, hi;
	__u32 i;

	if (!p || !blk)
		return -1;
	r0 = p->r[0]; r1 = p->r[1]; r2 = p->r[2]; r3 = p->r[3]; r4 = p->r[4];
	s1 = p->r5[0]; s2 = p->r5[1]; s3 = p->r5[2]; s4 = p->r5[3];
	h0 = p->h[0]; h1 = p->h[1]; h2 = p->h[2]; h3 = p->h[3]; h4 = p->h[4];

	for (i = 0; i < nblocks && i < 4; i++) {
		lo = blk->q[2 * i];
		hi = blk->q[2 * i + 1];
		h0 += lo & CC_M26;
		h1 += (lo >> 26) & CC_M26;
		h2 += ((lo >> 52) | (hi << 12)) & CC_M26;
		h3 += (hi >> 14) & CC_M26;
		h4 += (hi >> 40) | hibit;

		d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
		d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
		d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
		d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
		d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;

		c = d0 >> 26; h0 = d0 & CC_M26; d1 += c;
		c = d1 >> 26; h1 = d1 & CC_M26; d2 += c;
		c = d2 >> 26; h2 = d2 & CC_M26; d3 += c;
		c = d3 >> 26; h3 = d3 & CC_M26; d4 += c;
		c = d4 >> 26; h4 = d4 & CC_M26;
		h0 += c * 5;
		c = h0 >> 26; h0 &= CC_M26; h1 += c;
	}
	p->h[0] = (__u32)h0;
	p->h[1] = (__u32)h1;
	p->h[2] = (__u32)h2;
	p->h[3] = (__u32)h3;
	p->h[4] = (__u32)h4;
	return 0;
}

/* Fully reduces h, adds s mod 2^128 and writes the tag as two little-endian words. */
CC_INLINE void poly1305_final(struct poly1305_ctx *p, __u64 tag[2])
{
	__u32 h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
	__u32 g0, g1, g2, g3, g4, c, mask;
	__u64 lo, hi;

	c = h1 >> 26; h1 &= CC_M26; h2 += c;
	c = h2 >> 26; h2 &= CC_M26; h3 += c;
	c = h3 >> 26; h3 &= CC_M26; h4 += c;
	c = h4 >> 26; h4 &= CC_M26; h0 += c * 5;
	c = h0 >> 26; h0 &= CC_M26; h1 += c;

	/* g = h + 5 - 2^130; take g when it did not go negative, i.e. h >= p (no branch). */
	g0 = h0 + 5; c = g0 >> 26; g0 &= CC_M26;
	g1 = h1 + c; c = g1 >> 26; g1 &= CC_M26;
	g2 = h2 + c; c = g2 >> 26; g2 &= CC_M26;
	g3 = h3 + c; c = g3 >> 26; g3 &= CC_M26;
	g4 = h4 + c - (1u << 26);
	mask = (g4 >> 31) - 1;	/* all ones when g4 >= 0 */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h3 = (h3 & ~mask) | (g3 & mask);
	h4 = (h4 & ~mask) | (g4 & mask);

	lo = (__u64)h0 | (__u64)h1 << 26 | (__u64)h2 << 52;
	hi = (__u64)h2 >> 12 | (__u64)h3 << 14 | (__u64)h4 << 40;
	lo += p->pad[0];
	hi += p->pad[1] + (lo < p->pad[0]);
	tag[0] = lo;
	tag[1] = hi;
}

/* One-shot Poly1305 over any byte string; for userspace and tests. */
static inline void poly1305_mac(__u8 tag[16], const __u8 *msg, __u64 len, const __u8 key[32])
{
	struct poly1305_ctx p;
	union cc_block m;
	__u64 t[2];
	__u8 last[16];
	__u64 i, n;

	poly1305_init(&p, key);
	for (i = 0; i + 16 <= len; i += 16) {
		m.q[0] = cc_load_le64(msg + i);
		m.q[1] = cc_load_le64(msg + i + 8);
		poly1305_blocks(&p, &m, 1, POLY1305_HIBIT);
	}
	n = len - i;
	if (n) {
		for (i = 0; i < 16; i++)
			last[i] = i < n ? msg[len - n + i] : i == n ? 1 : 0;
		m.q[0] = cc_load_le64(last);
		m.q[1] = cc_load_le64(last + 8);
		poly1305_blocks(&p, &m, 1, 0);
	}
	poly1305_final(&p, t);
	cc_store_le64(tag, t[0]);
	cc_store_le64(tag + 8, t[1]);
}

/* ---------------------------------------------------------------- AEAD (RFC 8439 §2.8) */

/* Block 0 of the keystream is the Poly1305 key; data starts at block counter 1. */
CC_INLINE void cc20p1305_start(struct cc20p1305_ctx *c)
{
	chacha20_block(&c->chacha, &c->ks);
	poly1305_init_words(&c->poly, c->ks.q);
	c->adlen = 0;
	c->ctlen = 0;
}

CC_INLINE void cc20p1305_init(struct cc20p1305_ctx *c, const __u8 key[32], const __u8 nonce[12])
{
	chacha20_init(&c->chacha, key, 0, nonce);
	cc20p1305_start(c);
}

CC_INLINE void cc20p1305_init_wg(struct cc20p1305_ctx *c, const __u8 key[32], __u64 counter)
{
	chacha20_init_wg(&c->chacha, key, counter);
	cc20p1305_start(c);
}

/* Zeroes bytes [len, 64) so that a short chunk is Poly1305's zero padding up to 16 bytes. */
CC_INLINE void cc_block_zero_tail(union cc_block *blk, __u32 len)
{
	int i;

	for (i = 0; i < 8; i++) {
		__u32 lo = 8 * i;

		if (len <= lo)
			blk->q[i] = 0;
		else if (len < lo + 8)
			blk->q[i] &= ((__u64)1 << (8 * (len - lo))) - 1;
	}
}

CC_INLINE void cc_block_xor(union cc_block *dst, const union cc_block *ks)
{
	int i;

	for (i = 0; i < 8; i++)
		dst->q[i] ^= ks->q[i];
}

/* Authenticates len (0..64) bytes of associated data held in blk (bytes past len are clobbered). */
CC_INLINE void cc20p1305_ad_chunk(struct cc20p1305_ctx *c, union cc_block *blk, __u32 len)
{
	if (len > 64)
		len = 64;
	if (len < 64)
		cc_block_zero_tail(blk, len);
	poly1305_blocks(&c->poly, blk, (len + 15) / 16, POLY1305_HIBIT);
	c->adlen += len;
}

/* Encrypts len (0..64) bytes in place and authenticates the ciphertext (bytes past len: garbage). */
CC_INLINE void cc20p1305_encrypt_chunk(struct cc20p1305_ctx *c, union cc_block *blk, __u32 len)
{
	if (len > 64)
		len = 64;
	chacha20_block(&c->chacha, &c->ks);
	cc_block_xor(blk, &c->ks);
	if (len < 64)
		cc_block_zero_tail(blk, len);
	poly1305_blocks(&c->poly, blk, (len + 15) / 16, POLY1305_HIBIT);
	c->ctlen += len;
}

/* Authenticates len (0..64) bytes of ciphertext and decrypts them in place (past len: garbage). */
CC_INLINE void cc20p1305_decrypt_chunk(struct cc20p1305_ctx *c, union cc_block *blk, __u32 len)
{
	if (len > 64)
		len = 64;
	if (len < 64)
		cc_block_zero_tail(blk, len);
	poly1305_blocks(&c->poly, blk, (len + 15) / 16, POLY1305_HIBIT);
	c->ctlen += len;
	chacha20_block(&c->chacha, &c->ks);
	cc_block_xor(blk, &c->ks);
}

/* The lengths block, then the tag (two little-endian words). */
CC_INLINE void cc20p1305_final(struct cc20p1305_ctx *c, __u64 tag[2])
{
	c->ks.q[0] = c->adlen;
	c->ks.q[1] = c->ctlen;
	poly1305_blocks(&c->poly, &c->ks, 1, POLY1305_HIBIT);
	poly1305_final(&c->poly, tag);
}

/* 1 when equal, 0 otherwise, in time independent of the contents. */
CC_INLINE int cc20p1305_tag_equal(const __u64 a[2], const __u64 b[2])
{
	__u64 d = (a[0] ^ b[0]) | (a[1] ^ b[1]);

	return (int)(1 & (((d | (0 - d)) >> 63) ^ 1));
}

/* ---------------------------------------------------------------- contiguous-buffer AEAD */

CC_INLINE void cc_copy(__u8 *dst, const __u8 *src, __u64 n)
{
	__u64 i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

static inline void cc20p1305_absorb_ad(struct cc20p1305_ctx *c, const __u8 *ad, __u64 adlen)
{
	union cc_block blk;
	__u64 off, n;

	for (off = 0; off < adlen; off += n) {
		n = adlen - off < 64 ? adlen - off : 64;
		cc_copy(blk.b, ad + off, n);
		cc20p1305_ad_chunk(c, &blk, (__u32)n);
	}
}

static inline void cc20p1305_seal_ctx(struct cc20p1305_ctx *c, __u8 *dst, const __u8 *src,
				      __u64 len, const __u8 *ad, __u64 adlen)
{
	union cc_block blk;
	__u64 off, n, tag[2];

	cc20p1305_absorb_ad(c, ad, adlen);
	for (off = 0; off < len; off += n) {
		n = len - off < 64 ? len - off : 64;
		cc_copy(blk.b, src + off, n);
		cc20p1305_encrypt_chunk(c, &blk, (__u32)n);
		cc_copy(dst + off, blk.b, n);
	}
	cc20p1305_final(c, tag);
	cc_store_le64(dst + len, tag[0]);
	cc_store_le64(dst + len + 8, tag[1]);
}

static inline int cc20p1305_open_ctx(struct cc20p1305_ctx *c, __u8 *dst, const __u8 *src,
				     __u64 srclen, const __u8 *ad, __u64 adlen)
{
	union cc_block blk;
	__u64 off, n, len, tag[2], want[2];

	if (srclen < CC20P1305_TAG_SIZE)
		return -1;
	len = srclen - CC20P1305_TAG_SIZE;
	want[0] = cc_load_le64(src + len);
	want[1] = cc_load_le64(src + len + 8);
	cc20p1305_absorb_ad(c, ad, adlen);
	for (off = 0; off < len; off += n) {
		n = len - off < 64 ? len - off : 64;
		cc_copy(blk.b, src + off, n);
		cc20p1305_decrypt_chunk(c, &blk, (__u32)n);
		cc_copy(dst + off, blk.b, n);
	}
	cc20p1305_final(c, tag);
	if (cc20p1305_tag_equal(tag, want))
		return 0;
	/* Never hand out unauthenticated plaintext. */
	for (off = 0; off < len; off++)
		dst[off] = 0;
	return -1;
}

/* RFC 8439 AEAD with a raw 12-byte nonce; writes len + 16 bytes (dst == src or disjoint). */
static inline int cc20p1305_seal(__u8 *dst, const __u8 *src, __u64 len, const __u8 *ad,
				 __u64 adlen, const __u8 nonce[12], const __u8 key[32])
{
	struct cc20p1305_ctx c;

	cc20p1305_init(&c, key, nonce);
	cc20p1305_seal_ctx(&c, dst, src, len, ad, adlen);
	return 0;
}

/* Returns 0, or -1 (dst zeroed) when srclen < 16 or the tag does not verify. */
static inline int cc20p1305_open(__u8 *dst, const __u8 *src, __u64 srclen, const __u8 *ad,
				 __u64 adlen, const __u8 nonce[12], const __u8 key[32])
{
	struct cc20p1305_ctx c;

	cc20p1305_init(&c, key, nonce);
	return cc20p1305_open_ctx(&c, dst, src, srclen, ad, adlen);
}

/* WireGuard AEAD (nonce 0^32 || LE64(counter)); writes len + 16 bytes. */
static inline int cc20p1305_encrypt(__u8 *dst, const __u8 *src, __u64 len, const __u8 *ad,
				    __u64 adlen, __u64 counter, const __u8 key[32])
{
	struct cc20p1305_ctx c;

	cc20p1305_init_wg(&c, key, counter);
	cc20p1305_seal_ctx(&c, dst, src, len, ad, adlen);
	return 0;
}

/* Writes srclen - 16 bytes; returns 0, or -1 (dst zeroed) on a short input or bad tag. */
static inline int cc20p1305_decrypt(__u8 *dst, const __u8 *src, __u64 srclen, const __u8 *ad,
				    __u64 adlen, __u64 counter, const __u8 key[32])
{
	struct cc20p1305_ctx c;

	cc20p1305_init_wg(&c, key, counter);
	return cc20p1305_open_ctx(&c, dst, src, srclen, ad, adlen);
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Runs the ChaCha20-Poly1305 core inside BPF (bpf/crypto_test.bpf.c, BPF_PROG_TEST_RUN) against OpenSSL. */
#include <errno.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <openssl/evp.h>

#include "test.h"
#include "crypto_test.skel.h"

/* Mirrors the packet layout documented in bpf/crypto_test.bpf.c. */
#define CT_HDR_LEN	48
#define CT_OP_ENCRYPT	1
#define CT_OP_DECRYPT	2
#define CT_F_WG		1
#define CT_MAXPKT	3000

static struct crypto_test_bpf *skel;
static int prog_fd = -1;
static uint64_t rng_state = 0xb9f0c0ffee5eed01ull;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng_next();
}

static void wg_nonce(uint8_t nonce[12], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static int ossl_seal(uint8_t *out, const uint8_t *in, int len, const uint8_t *ad, int adlen,
		     const uint8_t nonce[12], const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok;

	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     (adlen == 0 || EVP_EncryptUpdate(ctx, NULL, &n, ad, adlen)) &&
	     (len == 0 || EVP_EncryptUpdate(ctx, out, &n, in, len)) &&
	     EVP_EncryptFinal_ex(ctx, out + len, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Builds the test packet; data is len bytes followed by 16 tag bytes (copied if given). */
static size_t pkt_build(uint8_t *pkt, const uint8_t key[32], const uint8_t nonce[12], int op, int flags,
			const uint8_t *ad, size_t adlen, const uint8_t *data, size_t len, const uint8_t *tag)
{
	memcpy(pkt, key, 32);
	memcpy(pkt + 32, nonce, 12);
	pkt[44] = (uint8_t)op;
	pkt[45] = (uint8_t)flags;
	pkt[46] = (uint8_t)adlen;
	pkt[47] = (uint8_t)(adlen >> 8);
	if (adlen)
		memcpy(pkt + CT_HDR_LEN, ad, adlen);
	if (len)
		memcpy(pkt + CT_HDR_LEN + adlen, data, len);
	if (tag)
		memcpy(pkt + CT_HDR_LEN + adlen + len, tag, 16);
	else
		memset(pkt + CT_HDR_LEN + adlen + len, 0, 16);
	return CT_HDR_LEN + adlen + len + 16;
}

/* Runs the program once; returns its XDP verdict (or -1) and the rewritten packet in out. */
static int bpf_run(const uint8_t *pkt, size_t size, uint8_t *out, int repeat, uint32_t *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt, .data_size_in = (uint32_t)size,
		.data_out = out, .data_size_out = CT_MAXPKT,
		.repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		fprintf(stderr, "    test_run: %s\n", strerror(errno));
		return -1;
	}
	if (opts.data_size_out != size)
		return -1;
	if (duration)
		*duration = opts.duration;
	return (int)opts.retval;
}

static void test_bpf_rfc8439_2_8_2(void)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
				 "for the future, sunscreen would be it.";
	uint8_t key[32], nonce[12], ad[12], want[130], pkt[512], out[CT_MAXPKT];
	size_t size;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	test_unhex(nonce, "070000004041424344454647");
	test_unhex(ad, "50515253c0c1c2c3c4c5c6c7");
	test_unhex(want, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
			 "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675"
			 "945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
			 "1ae10b594f09e26a7e902ecbd0600691");

	size = pkt_build(pkt, key, nonce, CT_OP_ENCRYPT, 0, ad, 12, (const uint8_t *)pt, 114, NULL);
	ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
	ASSERT_MEMEQ(out + CT_HDR_LEN + 12, want, 130);

	size = pkt_build(pkt, key, nonce, CT_OP_DECRYPT, 0, ad, 12, want, 114, want + 114);
	ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
	ASSERT_MEMEQ(out + CT_HDR_LEN + 12, pt, 114);

	pkt[CT_HDR_LEN + 3] ^= 0x04;	/* AD */
	ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_DROP);
	pkt[CT_HDR_LEN + 3] ^= 0x04;
	pkt[size - 1] ^= 0x01;		/* tag */
	ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_DROP);
}

/* WireGuard nonce, every length 0..1420, empty AD as on the data path, some with AD. */
static void test_bpf_vs_openssl(void)
{
	static uint8_t pt[1420], want[1436], pkt[CT_MAXPKT], out[CT_MAXPKT];
	uint8_t key[32], nonce[12], ad[64];
	int checked = 0;

	for (size_t len = 0; len <= 1420; len++) {
		uint64_t counter = len % 3 ? rng_next() : len;
		size_t adlen = len % 5 == 2 ? rng_next() % sizeof(ad) : 0;
		int failed_before = test_failures_in_case;
		size_t size, bit, off = CT_HDR_LEN + adlen;

		checked++;
		rng_fill(key, 32);
		rng_fill(pt, len);
		rng_fill(ad, adlen);
		wg_nonce(nonce, counter);
		ASSERT_EQ(ossl_seal(want, pt, (int)len, ad, (int)adlen, nonce, key), 0);

		size = pkt_build(pkt, key, nonce, CT_OP_ENCRYPT, CT_F_WG, ad, adlen, pt, len, NULL);
		ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
		ASSERT_MEMEQ(out + off, want, len + 16);

		size = pkt_build(pkt, key, nonce, CT_OP_DECRYPT, CT_F_WG, ad, adlen, want, len, want + len);
		ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
		ASSERT_MEMEQ(out + off, pt, len);

		bit = rng_next() % ((len + 16) * 8);
		pkt[off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_DROP);
		pkt[off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		pkt[36] ^= 1;			/* wrong counter */
		ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_DROP);
		if (test_failures_in_case != failed_before) {
			fprintf(stderr, "    at len %zu adlen %zu\n", len, adlen);
			return;
		}
	}
	ASSERT_EQ(checked, 1421);
}

/* Associated data spanning several chunks (the data path itself only ever has none). */
static void test_bpf_long_ad(void)
{
	static const size_t lens[] = { 0, 1, 64, 100, 1420 }, adlens[] = { 64, 65, 128, 200, 1024 };
	static uint8_t pt[1420], want[1436], ad[1024], pkt[CT_MAXPKT], out[CT_MAXPKT];
	uint8_t key[32], nonce[12];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t j = 0; j < sizeof(adlens) / sizeof(adlens[0]); j++) {
			size_t len = lens[i], adlen = adlens[j], off = CT_HDR_LEN + adlen, size;

			rng_fill(key, 32);
			rng_fill(nonce, 12);
			rng_fill(pt, len);
			rng_fill(ad, adlen);
			ASSERT_EQ(ossl_seal(want, pt, (int)len, ad, (int)adlen, nonce, key), 0);
			size = pkt_build(pkt, key, nonce, CT_OP_ENCRYPT, 0, ad, adlen, pt, len, NULL);
			ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
			ASSERT_MEMEQ(out + off, want, len + 16);
			size = pkt_build(pkt, key, nonce, CT_OP_DECRYPT, 0, ad, adlen, want, len, want + len);
			ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_PASS);
			ASSERT_MEMEQ(out + off, pt, len);
			pkt[CT_HDR_LEN + adlen - 1] ^= 0x80;	/* last AD byte */
			ASSERT_EQ(bpf_run(pkt, size, out, 1, NULL), XDP_DROP);
		}
	}
}

static void test_bpf_malformed(void)
{
	uint8_t pkt[CT_MAXPKT] = { 0 }, out[CT_MAXPKT];

	pkt[44] = CT_OP_ENCRYPT;
	/* Too short for header + tag. */
	ASSERT_EQ(bpf_run(pkt, CT_HDR_LEN + 15, out, 1, NULL), XDP_ABORTED);
	/* AD longer than the packet. */
	pkt[46] = 100;
	ASSERT_EQ(bpf_run(pkt, CT_HDR_LEN + 16 + 99, out, 1, NULL), XDP_ABORTED);
	pkt[46] = 0;
	/* Unknown op. */
	pkt[44] = 9;
	ASSERT_EQ(bpf_run(pkt, CT_HDR_LEN + 16, out, 1, NULL), XDP_ABORTED);
	/* Data beyond what the program accepts. */
	pkt[44] = CT_OP_ENCRYPT;
	ASSERT_EQ(bpf_run(pkt, CT_HDR_LEN + 16 + 2049, out, 1, NULL), XDP_ABORTED);
	/* Smallest valid input: an empty message (a WireGuard keepalive). */
	ASSERT_EQ(bpf_run(pkt, CT_HDR_LEN + 16, out, 1, NULL), XDP_PASS);
}

/* Not a pass/fail benchmark (bench/aead_bench.c is): prints the per-packet cost for the log. */
static void test_bpf_timing_1420(void)
{
	static uint8_t pt[1420], pkt[CT_MAXPKT], out[CT_MAXPKT];
	uint8_t key[32], nonce[12] = { 0 };
	uint32_t ns, best = ~0u;
	size_t size;

	rng_fill(key, 32);
	rng_fill(pt, sizeof(pt));
	size = pkt_build(pkt, key, nonce, CT_OP_ENCRYPT, CT_F_WG, NULL, 0, pt, sizeof(pt), NULL);
	/* Best of several short runs: the machine running the tests is usually busy. */
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(bpf_run(pkt, size, out, 100, &ns), XDP_PASS);
		if (ns < best)
			best = ns;
	}
	printf("# BPF ChaCha20-Poly1305 encrypt, 1420 bytes: %u ns/packet\n", best);
}

int main(void)
{
	const char *seed = getenv("TEST_SEED");

	if (seed)
		rng_state = strtoull(seed, NULL, 0);
	if (geteuid() != 0) {
		printf("# skipped: BPF_PROG_TEST_RUN needs root\n");
		return TEST_SUMMARY();
	}
	skel = crypto_test_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "failed to load crypto_test BPF object: %s\n", strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.xwg_crypto_test);
	RUN_TEST(test_bpf_rfc8439_2_8_2);
	RUN_TEST(test_bpf_vs_openssl);
	RUN_TEST(test_bpf_long_ad);
	RUN_TEST(test_bpf_malformed);
	RUN_TEST(test_bpf_timing_1420);
	crypto_test_bpf__destroy(skel);
	return TEST_SUMMARY();
}

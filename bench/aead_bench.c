/* SPDX-License-Identifier: GPL-2.0 */
/* Benchmark (no pass/fail): ChaCha20-Poly1305 per packet in BPF vs the same core built with gcc vs OpenSSL. */
/*
 * Build (after the crypto_test skeleton exists):
 *   gcc -O2 -g -std=c11 -D_GNU_SOURCE -Iinclude -I.output bench/aead_bench.c \
 *       -lbpf -lelf -lz -lcrypto -o .output/aead_bench
 * Run as root. Each cell is the best of several interleaved trials, to shrug off a noisy machine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <openssl/evp.h>

#include "chacha20poly1305.h"
#include "crypto_test.skel.h"

#define CT_HDR_LEN	48
#define CT_OP_ENCRYPT	1
#define CT_F_WG		1
#define TRIALS		61

static __u8 pt[2048], ct[2048 + 16], pkt[4096], out[4096], key[32];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int iters_for(size_t len)
{
	return len >= 1024 ? 200 : 800;
}

/* OpenSSL as a data path would use it: key set once, nonce set per packet. */
static double bench_openssl(EVP_CIPHER_CTX *ctx, size_t len)
{
	__u8 nonce[12] = { 0 };
	int n, iters = iters_for(len);
	double t = now_ns();

	for (int i = 0; i < iters; i++) {
		memcpy(nonce + 4, &i, sizeof(i));
		if (!EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) ||
		    !EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len) ||
		    !EVP_EncryptFinal_ex(ctx, ct + len, &n) ||
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, ct + len))
			return -1;
	}
	return (now_ns() - t) / iters;
}

static double bench_core(size_t len)
{
	int iters = iters_for(len);
	double t = now_ns();

	for (int i = 0; i < iters; i++)
		cc20p1305_encrypt(ct, pt, len, NULL, 0, (__u64)i, key);
	return (now_ns() - t) / iters;
}

/* BPF_PROG_TEST_RUN repeats the program in the kernel and reports the mean ns per run. */
static double bench_bpf(int prog_fd, size_t len)
{
	size_t size = CT_HDR_LEN + len + 16;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt, .data_size_in = (__u32)size,
		.data_out = out, .data_size_out = sizeof(out),
		.repeat = iters_for(len));

	memset(pkt, 0, CT_HDR_LEN);
	memcpy(pkt, key, 32);
	pkt[44] = CT_OP_ENCRYPT;
	pkt[45] = CT_F_WG;
	memcpy(pkt + CT_HDR_LEN, pt, len);
	if (bpf_prog_test_run_opts(prog_fd, &opts) || opts.retval != 2 /* XDP_PASS */)
		return -1;
	return opts.duration;
}

static double min_d(double a, double b)
{
	return a < 0 || (b >= 0 && b < a) ? b : a;
}

int main(void)
{
	static const size_t sizes[] = { 64, 256, 512, 1024, 1420 };
	struct crypto_test_bpf *skel;
	EVP_CIPHER_CTX *ctx;
	int prog_fd;

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (__u8)(i * 7);
	for (int i = 0; i < 32; i++)
		key[i] = (__u8)(0x80 + i);
	skel = crypto_test_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "aead_bench: cannot load the crypto_test BPF object (root?): %s\n",
			strerror(errno));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.xwg_crypto_test);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, NULL)) {
		fprintf(stderr, "aead_bench: OpenSSL ChaCha20-Poly1305 unavailable\n");
		return 1;
	}

	printf("| bytes | OpenSSL EVP ns | core gcc -O2 ns | core in BPF ns | BPF/OpenSSL | BPF/gcc | BPF Gbit/s |\n");
	printf("|------:|------:|------:|------:|------:|------:|------:|\n");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double o = -1, g = -1, b = -1;

		for (int t = 0; t < TRIALS; t++) {
			o = min_d(o, bench_openssl(ctx, sizes[s]));
			g = min_d(g, bench_core(sizes[s]));
			b = min_d(b, bench_bpf(prog_fd, sizes[s]));
		}
		printf("| %zu | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f |\n", sizes[s], o, g, b,
		       b / o, b / g, sizes[s] * 8 / b);
	}
	EVP_CIPHER_CTX_free(ctx);
	crypto_test_bpf__destroy(skel);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Tests the portable ChaCha20-Poly1305 core against RFC 8439 / XChaCha vectors and OpenSSL. */
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/core_names.h>

#include "test.h"
#include "chacha20poly1305.h"

static const char sunscreen[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
	"sunscreen would be it.";

static uint64_t rng_state = 0x5eed0fc0ffee1234ull;

/* splitmix64: deterministic, so a failure reproduces. */
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

/* OpenSSL's ChaCha20-Poly1305: out gets len bytes of ciphertext then the 16-byte tag. */
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

static int ossl_poly1305(uint8_t tag[16], const uint8_t *msg, size_t len, const uint8_t key[32])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t outl = 0;
	int ok;

	ok = ctx && EVP_MAC_init(ctx, key, 32, NULL) && EVP_MAC_update(ctx, msg, len) &&
	     EVP_MAC_final(ctx, tag, &outl, 16) && outl == 16;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

static void seq_key(uint8_t key[32], uint8_t first)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(first + i);
}

static void test_chacha20_block_rfc8439_2_3_2(void)
{
	uint8_t key[32], nonce[12], want[64];
	struct chacha20_ctx c;
	union cc_block ks;

	seq_key(key, 0);
	test_unhex(nonce, "000000090000004a00000000");
	test_unhex(want, "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
			 "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
	chacha20_init(&c, key, 1, nonce);
	chacha20_block(&c, &ks);
	ASSERT_MEMEQ(ks.b, want, 64);
	ASSERT_EQ(c.s[12], 2);
}

static void test_chacha20_encrypt_rfc8439_2_4_2(void)
{
	uint8_t key[32], nonce[12], want[114], out[114];
	struct chacha20_ctx c;

	seq_key(key, 0);
	test_unhex(nonce, "000000000000004a00000000");
	ASSERT_EQ(test_unhex(want,
		"6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dab"
		"cd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806"
		"818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d"), 114);
	chacha20_init(&c, key, 1, nonce);
	chacha20_xor(&c, out, (const uint8_t *)sunscreen, 114);
	ASSERT_MEMEQ(out, want, 114);
	/* Same keystream decrypts, in place. */
	chacha20_init(&c, key, 1, nonce);
	chacha20_xor(&c, out, out, 114);
	ASSERT_MEMEQ(out, sunscreen, 114);
}

static void test_poly1305_rfc8439_2_5_2(void)
{
	const char *msg = "Cryptographic Forum Research Group";
	uint8_t key[32], want[16], tag[16];

	test_unhex(key, "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
	test_unhex(want, "a8061dc1305136c6c22b8baf0c0127a9");
	poly1305_mac(tag, (const uint8_t *)msg, strlen(msg), key);
	ASSERT_MEMEQ(tag, want, 16);
}

/* Inputs that drive h to or past 2^130 - 5 (RFC 8439 appendix A.3 style), checked against OpenSSL. */
static void test_poly1305_edge_cases(void)
{
	static const struct { const char *key, *msg, *tag; } v[] = {
		{ "02000000000000000000000000000000" "00000000000000000000000000000000",
		  "ffffffffffffffffffffffffffffffff", "03000000000000000000000000000000" },
		{ "02000000000000000000000000000000" "ffffffffffffffffffffffffffffffff",
		  "02000000000000000000000000000000", "03000000000000000000000000000000" },
		{ "01000000000000000000000000000000" "00000000000000000000000000000000",
		  "ffffffffffffffffffffffffffffffff" "f0ffffffffffffffffffffffffffffff"
		  "11000000000000000000000000000000", "05000000000000000000000000000000" },
		{ "01000000000000000000000000000000" "00000000000000000000000000000000",
		  "ffffffffffffffffffffffffffffffff" "fbfefefefefefefefefefefefefefefe"
		  "01010101010101010101010101010101", "00000000000000000000000000000000" },
		{ "02000000000000000000000000000000" "00000000000000000000000000000000",
		  "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff" },
		{ "ffffffffffffffffffffffffffffffff" "ffffffffffffffffffffffffffffffff",
		  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", NULL },
	};
	uint8_t key[32], msg[64], want[16], tag[16];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n;

		test_unhex(key, v[i].key);
		n = test_unhex(msg, v[i].msg);
		poly1305_mac(tag, msg, n, key);
		ASSERT_EQ(ossl_poly1305(want, msg, n, key), 0);
		ASSERT_MEMEQ(tag, want, 16);
		if (v[i].tag) {
			test_unhex(want, v[i].tag);
			ASSERT_MEMEQ(tag, want, 16);
		}
	}
}

/* Largest limbs everywhere: all-ones key (r maximal after clamping) and all-ones messages. */
static void test_poly1305_max_limbs(void)
{
	static uint8_t msg[1024];
	uint8_t key[32], tag[16], want[16];

	memset(key, 0xff, sizeof(key));
	memset(msg, 0xff, sizeof(msg));
	for (size_t len = 1; len <= sizeof(msg); len = len * 2 + 1) {
		poly1305_mac(tag, msg, len, key);
		ASSERT_EQ(ossl_poly1305(want, msg, len, key), 0);
		ASSERT_MEMEQ(tag, want, 16);
	}
	poly1305_mac(tag, msg, sizeof(msg), key);
	ASSERT_EQ(ossl_poly1305(want, msg, sizeof(msg), key), 0);
	ASSERT_MEMEQ(tag, want, 16);
}

static void test_poly1305_vs_openssl(void)
{
	uint8_t key[32], msg[300], tag[16], want[16];

	for (size_t len = 0; len <= sizeof(msg); len++) {
		rng_fill(key, 32);
		rng_fill(msg, len);
		poly1305_mac(tag, msg, len, key);
		ASSERT_EQ(ossl_poly1305(want, msg, len, key), 0);
		ASSERT_MEMEQ(tag, want, 16);
	}
}

static void test_poly1305_keygen_rfc8439_2_6_2(void)
{
	uint8_t key[32], nonce[12], want[32];
	struct chacha20_ctx c;
	union cc_block ks;

	seq_key(key, 0x80);
	test_unhex(nonce, "000000000001020304050607");
	test_unhex(want, "8ad5a08b905f81cc815040274ab29471a833b637e3fd0da508dbb8e2fdd1a646");
	chacha20_init(&c, key, 0, nonce);
	chacha20_block(&c, &ks);
	ASSERT_MEMEQ(ks.b, want, 32);
}

static void test_aead_rfc8439_2_8_2(void)
{
	uint8_t key[32], nonce[12], ad[12], want[130], out[130], back[114];
	struct cc20p1305_ctx c;
	uint8_t otk[32];

	seq_key(key, 0x80);
	test_unhex(nonce, "070000004041424344454647");
	test_unhex(ad, "50515253c0c1c2c3c4c5c6c7");
	test_unhex(want, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
			 "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675"
			 "945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
			 "1ae10b594f09e26a7e902ecbd0600691");
	test_unhex(otk, "7bac2b252db447af09b67a55a4e955840ae1d6731075d9eb2a9375783ed553ff");

	cc20p1305_init(&c, key, nonce);
	ASSERT_MEMEQ(c.ks.b, otk, 32);
	ASSERT_EQ(c.chacha.s[12], 1);

	ASSERT_EQ(cc20p1305_seal(out, (const uint8_t *)sunscreen, 114, ad, 12, nonce, key), 0);
	ASSERT_MEMEQ(out, want, 130);
	ASSERT_EQ(cc20p1305_open(back, out, 130, ad, 12, nonce, key), 0);
	ASSERT_MEMEQ(back, sunscreen, 114);
	out[129] ^= 0x80;
	ASSERT_EQ(cc20p1305_open(back, out, 130, ad, 12, nonce, key), -1);
	out[129] ^= 0x80;
	ad[0] ^= 1;
	ASSERT_EQ(cc20p1305_open(back, out, 130, ad, 12, nonce, key), -1);
	for (int i = 0; i < 114; i++)
		ASSERT_EQ(back[i], 0);
}

static void test_hchacha20_xchacha_draft(void)
{
	uint8_t key[32], nonce[16], want[32], out[32];

	seq_key(key, 0);
	test_unhex(nonce, "000000090000004a0000000031415927");
	test_unhex(want, "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
	hchacha20(out, nonce, key);
	ASSERT_MEMEQ(out, want, 32);
}

/* XChaCha20-Poly1305 = HChaCha20 subkey + ChaCha20-Poly1305 with nonce 0^32 || n24[16..24). */
static void test_xchacha20poly1305_draft_a_3_1(void)
{
	uint8_t key[32], n24[24], sub[32], nonce[12] = { 0 }, ad[12], want[130], out[130];

	seq_key(key, 0x80);
	for (int i = 0; i < 24; i++)
		n24[i] = (uint8_t)(0x40 + i);
	test_unhex(ad, "50515253c0c1c2c3c4c5c6c7");
	test_unhex(want, "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a8"
			 "2f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc3"
			 "69488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
			 "c0875924c1c7987947deafd8780acf49");
	hchacha20(sub, n24, key);
	memcpy(nonce + 4, n24 + 16, 8);
	ASSERT_EQ(cc20p1305_seal(out, (const uint8_t *)sunscreen, 114, ad, 12, nonce, sub), 0);
	ASSERT_MEMEQ(out, want, 130);
}

static uint64_t pick_counter(size_t i)
{
	switch (i % 5) {
	case 0: return 0;
	case 1: return ~0ull;
	case 2: return 0xffffffffull;
	default: return rng_next();
	}
}

/* Every length 0..1500, WireGuard nonce, random key/counter, empty and random AD. */
static void test_aead_vs_openssl(void)
{
	enum { MAXLEN = 1500 };
	static uint8_t pt[MAXLEN], ct[MAXLEN + 16], want[MAXLEN + 16], back[MAXLEN];
	uint8_t key[32], nonce[12], ad[200];

	for (size_t len = 0; len <= MAXLEN; len++) {
		uint64_t counter = pick_counter(len);
		size_t adlen = len % 7 == 3 ? rng_next() % sizeof(ad) : len % 11 == 5 ? 32 : 0;
		size_t bit = rng_next() % ((len + 16) * 8);
		int failed_before = test_failures_in_case;

		rng_fill(key, 32);
		rng_fill(pt, len);
		rng_fill(ad, adlen);
		wg_nonce(nonce, counter);
		ASSERT_EQ(ossl_seal(want, pt, (int)len, ad, (int)adlen, nonce, key), 0);
		ASSERT_EQ(cc20p1305_encrypt(ct, pt, len, ad, adlen, counter, key), 0);
		ASSERT_MEMEQ(ct, want, len + 16);

		memset(back, 0xaa, len);
		ASSERT_EQ(cc20p1305_decrypt(back, ct, len + 16, ad, adlen, counter, key), 0);
		ASSERT_MEMEQ(back, pt, len);

		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ASSERT_EQ(cc20p1305_decrypt(back, ct, len + 16, ad, adlen, counter, key), -1);
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ASSERT_EQ(cc20p1305_decrypt(back, ct, len + 16, ad, adlen, counter + 1, key), -1);
		if (adlen) {
			ad[rng_next() % adlen] ^= 0x10;
			ASSERT_EQ(cc20p1305_decrypt(back, ct, len + 16, ad, adlen, counter, key), -1);
		}
		if (test_failures_in_case != failed_before) {
			fprintf(stderr, "    at len %zu adlen %zu counter %llu\n", len, adlen,
				(unsigned long long)counter);
			return;
		}
	}
}

/* Every single-bit flip of a short message, including the tag, must be rejected. */
static void test_aead_every_bit_flip(void)
{
	uint8_t key[32], pt[77], ct[77 + 16], back[77];
	size_t n = sizeof(ct) * 8;
	int rejected = 0;

	rng_fill(key, 32);
	rng_fill(pt, sizeof(pt));
	cc20p1305_encrypt(ct, pt, sizeof(pt), NULL, 0, 42, key);
	for (size_t bit = 0; bit < n; bit++) {
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rejected += cc20p1305_decrypt(back, ct, sizeof(ct), NULL, 0, 42, key) == -1;
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ASSERT_EQ(rejected, n);
	ASSERT_EQ(cc20p1305_decrypt(back, ct, sizeof(ct), NULL, 0, 42, key), 0);
	ASSERT_MEMEQ(back, pt, sizeof(pt));
}

static void test_aead_bad_input(void)
{
	uint8_t key[32] = { 1 }, buf[64] = { 0 }, out[64];

	/* Shorter than a tag. */
	for (int n = 0; n < 16; n++)
		ASSERT_EQ(cc20p1305_decrypt(out, buf, n, NULL, 0, 0, key), -1);
	/* An all-zero "keepalive" that was never sealed. */
	ASSERT_EQ(cc20p1305_decrypt(out, buf, 16, NULL, 0, 0, key), -1);
	/* A real keepalive (empty plaintext) opens. */
	cc20p1305_encrypt(buf, NULL, 0, NULL, 0, 7, key);
	ASSERT_EQ(cc20p1305_decrypt(out, buf, 16, NULL, 0, 7, key), 0);
	ASSERT_EQ(cc20p1305_decrypt(out, buf, 16, NULL, 0, 8, key), -1);
}

static void test_aead_in_place(void)
{
	uint8_t key[32], pt[1420], buf[1420 + 16], want[1420 + 16];

	rng_fill(key, 32);
	rng_fill(pt, sizeof(pt));
	memcpy(buf, pt, sizeof(pt));
	cc20p1305_encrypt(want, pt, sizeof(pt), NULL, 0, 1234567, key);
	cc20p1305_encrypt(buf, buf, sizeof(pt), NULL, 0, 1234567, key);
	ASSERT_MEMEQ(buf, want, sizeof(want));
	ASSERT_EQ(cc20p1305_decrypt(buf, buf, sizeof(buf), NULL, 0, 1234567, key), 0);
	ASSERT_MEMEQ(buf, pt, sizeof(pt));
}

/* The chunk API the BPF data path uses, driven the way a packet loop drives it. */
static void test_chunk_api(void)
{
	uint8_t key[32], pt[200], want[216];
	union cc_block blk;
	struct cc20p1305_ctx c;
	__u64 tag[2], bad[2];

	rng_fill(key, 32);
	rng_fill(pt, sizeof(pt));
	cc20p1305_encrypt(want, pt, sizeof(pt), NULL, 0, 99, key);

	cc20p1305_init_wg(&c, key, 99);
	for (size_t off = 0; off < sizeof(pt); off += 64) {
		size_t n = sizeof(pt) - off < 64 ? sizeof(pt) - off : 64;

		memset(blk.b, 0xee, 64);	/* stale bytes past n must not matter */
		memcpy(blk.b, pt + off, n);
		cc20p1305_encrypt_chunk(&c, &blk, (__u32)n);
		ASSERT_MEMEQ(blk.b, want + off, n);
	}
	cc20p1305_final(&c, tag);
	ASSERT_MEMEQ(tag, want + 200, 16);

	cc20p1305_init_wg(&c, key, 99);
	for (size_t off = 0; off < sizeof(pt); off += 64) {
		size_t n = sizeof(pt) - off < 64 ? sizeof(pt) - off : 64;

		memset(blk.b, 0x11, 64);
		memcpy(blk.b, want + off, n);
		cc20p1305_decrypt_chunk(&c, &blk, (__u32)n);
		ASSERT_MEMEQ(blk.b, pt + off, n);
	}
	cc20p1305_final(&c, tag);
	memcpy(bad, want + 200, 16);
	ASSERT_TRUE(cc20p1305_tag_equal(tag, bad));
	bad[1] ^= 1ull << 63;
	ASSERT_FALSE(cc20p1305_tag_equal(tag, bad));
	bad[1] ^= 1ull << 63;
	bad[0] ^= 1;
	ASSERT_FALSE(cc20p1305_tag_equal(tag, bad));
}

int main(void)
{
	const char *seed = getenv("TEST_SEED");

	if (seed)
		rng_state = strtoull(seed, NULL, 0);
	RUN_TEST(test_chacha20_block_rfc8439_2_3_2);
	RUN_TEST(test_chacha20_encrypt_rfc8439_2_4_2);
	RUN_TEST(test_poly1305_rfc8439_2_5_2);
	RUN_TEST(test_poly1305_edge_cases);
	RUN_TEST(test_poly1305_max_limbs);
	RUN_TEST(test_poly1305_vs_openssl);
	RUN_TEST(test_poly1305_keygen_rfc8439_2_6_2);
	RUN_TEST(test_aead_rfc8439_2_8_2);
	RUN_TEST(test_hchacha20_xchacha_draft);
	RUN_TEST(test_xchacha20poly1305_draft_a_3_1);
	RUN_TEST(test_aead_vs_openssl);
	RUN_TEST(test_aead_every_bit_flip);
	RUN_TEST(test_aead_bad_input);
	RUN_TEST(test_aead_in_place);
	RUN_TEST(test_chunk_api);
	return TEST_SUMMARY();
}

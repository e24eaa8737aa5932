/* SPDX-License-Identifier: GPL-2.0 */
/* Unit tests for user/core/crypto.c: RFC and WireGuard vectors, low-order keys, clamping and AEAD misuse. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "test.h"
#include "xwg_types.h"
#include "chacha20poly1305.h"
#include "crypto.h"

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
				"tip for the future, sunscreen would be it.";

/* Message 1 of the digest's full handshake vector (section 9.6). */
static const char msg1_hex[] =
	"01000000443322119cc92d88ac6a1ee35ba3bf3347cfa62706175e7f0772bb08aba88bbdb252a2708e6318712e0ec481"
	"98a69b825faf492eabb5909d2165451eab27e0e5132e6532a3e9d0355d840f243928130865094a43928e81db9244f27b"
	"400df1135c555f92af19793de4ed3dcd907d13d188fc2321ed02a02becc9e8b66af24b9900000000000000000000000000000000";
static const char msg2_hex[] =
	"020000008877665544332211a3d7661eb92d4667346dd54e82b75c9f1a20311c63694a9a536e4277f0d1fd5b9fc19e7e"
	"c383ec7927a88fea826677daa290dbb72a829535312f7eaf37a94f5900000000000000000000000000000000";

static uint8_t *unhex(uint8_t *buf, const char *hex)
{
	test_unhex(buf, hex);
	return buf;
}

static void unbase64(uint8_t out[32], const char *b64)
{
	uint8_t buf[33];

	if (strlen(b64) != 44 || EVP_DecodeBlock(buf, (const unsigned char *)b64, 44) != 33)
		abort();
	memcpy(out, buf, 32);
}

/* RFC 8439 AEAD with an arbitrary 12-byte nonce, straight on EVP: the reference aead_* is checked against. */
static int ref_aead_encrypt(uint8_t *dst, const uint8_t *src, int len, const uint8_t *ad, int adlen,
			    const uint8_t nonce[12], const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl, ok;

	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     EVP_EncryptUpdate(ctx, NULL, &outl, ad, adlen) &&
	     EVP_EncryptUpdate(ctx, dst, &outl, src, len) &&
	     EVP_EncryptFinal_ex(ctx, dst + len, &outl) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, dst + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * HChaCha20 derived independently of the portable core: a ChaCha20 keystream block is the
 * 20-round state plus the input state, and OpenSSL's 16-byte ChaCha20 IV (counter || nonce)
 * is exactly HChaCha20's 16-byte input, so subtracting the input words yields HChaCha20.
 */
static void ref_hchacha20(uint8_t out[32], const uint8_t in[16], const uint8_t key[32])
{
	static const uint8_t sigma[16] = "expand 32-byte k";
	uint8_t zero[64] = { 0 }, ks[64];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;

	if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, in) ||
	    !EVP_EncryptUpdate(ctx, ks, &outl, zero, 64))
		abort();
	EVP_CIPHER_CTX_free(ctx);
	for (int w = 0; w < 8; w++) {
		int word = w < 4 ? w : w + 8;
		const uint8_t *init = w < 4 ? sigma + 4 * w : in + 4 * (w - 4);
		uint32_t k = 0, i = 0, v;

		for (int b = 3; b >= 0; b--) {
			k = (k << 8) | ks[4 * word + b];
			i = (i << 8) | init[b];
		}
		v = k - i;
		for (int b = 0; b < 4; b++)
			out[4 * w + b] = (uint8_t)(v >> (8 * b));
	}
}

static void test_blake2s_vectors(void)
{
	uint8_t out[32], want[32], spub_r[32];

	blake2s256(out, "abc", 3, NULL, 0);
	ASSERT_MEMEQ(out, unhex(want, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"), 32);
	blake2s256(out, "", 0, NULL, 0);
	ASSERT_MEMEQ(out, unhex(want, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"), 32);
	/* Two-part input hashes the concatenation. */
	blake2s256(out, "a", 1, "bc", 2);
	ASSERT_MEMEQ(out, unhex(want, "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982"), 32);

	/* Digest section 1 constants. */
	blake2s256(out, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", 37, NULL, 0);
	ASSERT_MEMEQ(out, unhex(want, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"), 32);
	blake2s256(out, out, 32, "WireGuard v1 zx2c4 Jason@zx2c4.com", 34);
	ASSERT_MEMEQ(out, unhex(want, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"), 32);

	/* Section 9.6 mac1 and cookie keys. */
	unhex(spub_r, "9fd16de9d89f1f33c8fce0f70c247206bb423f3cbde0a86d0ac12138fd30883a");
	blake2s256(out, "mac1----", 8, spub_r, 32);
	ASSERT_MEMEQ(out, unhex(want, "4c8943317ddba98189ddb549cad3a593ef5c6847f74ab520679e8ce9818d35ac"), 32);
	blake2s256(out, "cookie--", 8, spub_r, 32);
	ASSERT_MEMEQ(out, unhex(want, "bca0f1a405807465cb7d40525078c4db5d8d1ced4442c714eaed57ba9b5b020b"), 32);
}

static void test_blake2s_mac16(void)
{
	uint8_t msg1[148], msg2[92], key[32], cookie[16], out[16], want[16];

	unhex(msg1, msg1_hex);
	unhex(msg2, msg2_hex);
	/* mac1 = MAC(HASH("mac1----" || Spub_r), msg1[0..116)): a 32-byte key, 16-byte output. */
	blake2s_mac16(out, unhex(key, "4c8943317ddba98189ddb549cad3a593ef5c6847f74ab520679e8ce9818d35ac"), 32,
		      msg1, 116);
	ASSERT_MEMEQ(out, unhex(want, "88fc2321ed02a02becc9e8b66af24b99"), 16);
	ASSERT_MEMEQ(out, msg1 + 116, 16);
	/* Message 2's mac1 under the initiator's mac1 key. */
	blake2s_mac16(out, unhex(key, "3784223bf9dccd22fb8f979b7f724bdddc8094ec836f96554b8c207e8f2ed621"), 32,
		      msg2, 60);
	ASSERT_MEMEQ(out, msg2 + 60, 16);
	/* mac2 = MAC(cookie, msg1[0..132)): the 16-byte-key case. */
	blake2s_mac16(out, unhex(cookie, "000102030405060708090a0b0c0d0e0f"), 16, msg1, 132);
	ASSERT_MEMEQ(out, unhex(want, "fb89a9d3a7215ce343b66a235cb9b081"), 16);
	/* A keyed 16-byte BLAKE2s is not a truncated unkeyed hash. */
	uint8_t h[32];
	blake2s256(h, msg1, 116, NULL, 0);
	ASSERT_FALSE(crypto_equal(h, msg1 + 116, 16));
}

static void test_hmac_kdf(void)
{
	static const struct {
		const char *key, *in, *t1, *t2, *t3;
	} v[] = {
		{ "test-key", "test-input",
		  "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
		  "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
		  "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24" },
		{ "wireguard", "wireguard",
		  "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
		  "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
		  "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160" },
		{ "", "",
		  "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
		  "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
		  "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t ck[32] = { 0 }, t1[32], t2[32], t3[32], want[32];
		size_t inlen = strlen(v[i].in);

		/*
		 * wireguard-go's vectors use short ASCII keys; HMAC zero-pads keys shorter than its
		 * block, so a 32-byte zero-padded chaining key gives the same result.
		 */
		memcpy(ck, v[i].key, strlen(v[i].key));
		kdf(t1, t2, t3, ck, v[i].in, inlen);
		ASSERT_MEMEQ(t1, unhex(want, v[i].t1), 32);
		ASSERT_MEMEQ(t2, unhex(want, v[i].t2), 32);
		ASSERT_MEMEQ(t3, unhex(want, v[i].t3), 32);
		/* KDF1 and KDF2 are prefixes of KDF3. */
		memset(t2, 0xaa, 32);
		kdf(t1, t2, NULL, ck, v[i].in, inlen);
		ASSERT_MEMEQ(t1, unhex(want, v[i].t1), 32);
		ASSERT_MEMEQ(t2, unhex(want, v[i].t2), 32);
		kdf(t1, NULL, NULL, ck, v[i].in, inlen);
		ASSERT_MEMEQ(t1, unhex(want, v[i].t1), 32);
		/* Exact-length key through hmac_blake2s matches the zero-padded one. */
		uint8_t a[32], b[32];
		hmac_blake2s(a, v[i].key, strlen(v[i].key), v[i].in, inlen);
		hmac_blake2s(b, ck, 32, v[i].in, inlen);
		ASSERT_MEMEQ(a, b, 32);
	}

	/* Section 9.6 trace, with the chaining key updated in place (t1 aliases ck). */
	uint8_t c[32], k[32], epub_i[32], es[32], want[32];
	unhex(c, "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	unhex(epub_i, "9cc92d88ac6a1ee35ba3bf3347cfa62706175e7f0772bb08aba88bbdb252a270");
	kdf(c, NULL, NULL, c, epub_i, 32);
	ASSERT_MEMEQ(c, unhex(want, "b7958517efad52d8e3fe399c0282e27c40b25d2393988eefd4b257cb754fc3a9"), 32);
	unhex(es, "7f0fd7972cfca78dadea16533d51e37413e0da5a5aac97a8acae32401ad28221");
	kdf(c, k, NULL, c, es, 32);
	ASSERT_MEMEQ(c, unhex(want, "9a2c17c2fd3c7f4c69dd7c7b5f8784fbb3d4cc5b1821dbf8199d4599c3d34cef"), 32);
	ASSERT_MEMEQ(k, unhex(want, "c3973c2a7c1466b92ac398ba2712b7f182213796f26207910652d14c367a91ad"), 32);
	/* Transport keys: KDF2(C, "") with an empty input. */
	uint8_t t1[32], t2[32];
	unhex(c, "00850422eb7d273cbb2196279fa2379fd466c64c9e60e5330e0261bc73129219");
	kdf(t1, t2, NULL, c, NULL, 0);
	ASSERT_MEMEQ(t1, unhex(want, "d8dad548f3dd84b4ffc41cd1d570dd29e5877cd705cbd55d9a324001f7a04797"), 32);
	ASSERT_MEMEQ(t2, unhex(want, "f0cedf136cd713ac820784832fbba92c953b094d379aeac8233d5cccbe921b2c"), 32);
}

static void test_x25519_rfc7748(void)
{
	uint8_t k[32], u[32], out[32], want[32];

	/* Section 5.2 #1. */
	unhex(k, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	unhex(u, "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
	ASSERT_EQ(curve25519(out, k, u), 0);
	ASSERT_MEMEQ(out, unhex(want, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"), 32);
	/* Section 5.2 #2: the u-coordinate has its top bit set, which must be ignored. */
	unhex(k, "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d");
	unhex(u, "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493");
	ASSERT_TRUE(u[31] & 0x80);
	ASSERT_EQ(curve25519(out, k, u), 0);
	ASSERT_MEMEQ(out, unhex(want, "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"), 32);
	u[31] &= 0x7f;
	ASSERT_EQ(curve25519(out, k, u), 0);
	ASSERT_MEMEQ(out, want, 32);

	/* Section 6.1 Diffie-Hellman. */
	uint8_t a[32], b[32], apub[32], bpub[32], s1[32], s2[32];
	unhex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	ASSERT_EQ(curve25519_generate_public(apub, a), 0);
	ASSERT_MEMEQ(apub, unhex(want, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), 32);
	ASSERT_EQ(curve25519_generate_public(bpub, b), 0);
	ASSERT_MEMEQ(bpub, unhex(want, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), 32);
	ASSERT_EQ(curve25519(s1, a, bpub), 0);
	ASSERT_EQ(curve25519(s2, b, apub), 0);
	ASSERT_MEMEQ(s1, unhex(want, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"), 32);
	ASSERT_MEMEQ(s2, s1, 32);
}

static void test_x25519_iterated(void)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32], want[32];

	/* k, u <- X25519(k, u), k; the 1,000,000-round vector is too slow for a unit test. */
	for (int i = 1; i <= 1000; i++) {
		ASSERT_EQ(curve25519(r, k, u), 0);
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			ASSERT_MEMEQ(k, unhex(want, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"), 32);
	}
	ASSERT_MEMEQ(k, unhex(want, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"), 32);
}

static void test_x25519_low_order(void)
{
	/* Digest section 8: every one yields an all-zero secret for any private key. */
	static const char *const low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	static const char *const base64[] = {
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=",
		"X5yVvKNQjCSx0LFVnIPvWwREXMRYHI6G2CJO3dCfEVc=",
		"7P///////////////////////////////////////38=",
		"7f///////////////////////////////////////38=",
		"7v///////////////////////////////////////38=",
	};
	uint8_t priv[32], pub[32], b64pub[32], out[32];

	for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
		unhex(pub, low_order[i]);
		unbase64(b64pub, base64[i]);
		ASSERT_MEMEQ(b64pub, pub, 32);
		for (int round = 0; round < 4; round++) {
			curve25519_generate_private(priv);
			memset(out, 0xaa, sizeof(out));
			ASSERT_EQ(curve25519(out, priv, pub), -EINVAL);
			ASSERT_TRUE(crypto_is_zero(out, 32));
		}
		/* The ignored top bit must not turn a low-order point into a usable one. */
		pub[31] |= 0x80;
		ASSERT_EQ(curve25519(out, priv, pub), -EINVAL);
	}
	/* A sane point still works with the same private key. */
	uint8_t other[32], other_pub[32];
	curve25519_generate_private(other);
	ASSERT_EQ(curve25519_generate_public(other_pub, other), 0);
	ASSERT_EQ(curve25519(out, priv, other_pub), 0);
	ASSERT_FALSE(crypto_is_zero(out, 32));
}

static void test_clamp(void)
{
	uint8_t k[32], pub1[32], pub2[32], want[32];

	memset(k, 0xff, sizeof(k));
	curve25519_clamp(k);
	ASSERT_EQ(k[0], 0xf8);
	ASSERT_EQ(k[31], 0x7f);
	for (int i = 1; i < 31; i++)
		ASSERT_EQ(k[i], 0xff);
	memset(k, 0, sizeof(k));
	curve25519_clamp(k);
	ASSERT_EQ(k[0], 0);
	ASSERT_EQ(k[31], 0x40);

	for (int i = 0; i < 16; i++) {
		curve25519_generate_private(k);
		ASSERT_EQ(k[0] & 7, 0);
		ASSERT_EQ(k[31] & 0xc0, 0x40);
	}
	/* Unclamped and clamped forms of one key give one public key. */
	curve25519_generate_private(k);
	ASSERT_EQ(curve25519_generate_public(pub1, k), 0);
	k[0] |= 7;
	k[31] |= 0x80;
	k[31] &= ~0x40;
	ASSERT_EQ(curve25519_generate_public(pub2, k), 0);
	ASSERT_MEMEQ(pub1, pub2, 32);

	/* Wireshark's Spriv_i and Spriv_i_alt differ only in the clamped bits (digest 9.7). */
	unbase64(k, "AKeZaHwBxjiKLFnkY2unvEdOTtg4AL+M9dQXfopFVFk=");
	ASSERT_EQ(curve25519_generate_public(pub1, k), 0);
	unbase64(want, "Igge9KzRytKNwrgkzDE/8hrLu6Ly0OqVdvOPWhA5KR4=");
	ASSERT_MEMEQ(pub1, want, 32);
	unbase64(k, "B6eZaHwBxjiKLFnkY2unvEdOTtg4AL+M9dQXfopFVJk=");
	ASSERT_EQ(curve25519_generate_public(pub2, k), 0);
	ASSERT_MEMEQ(pub2, want, 32);
}

static void test_keypairs_digest(void)
{
	uint8_t si[32], sr[32], spub_i[32], spub_r[32], ei[32], pub[32], s1[32], s2[32], want[32];

	/* Digest 9.6 base64 keys, cross-checked against the hex listing. */
	unbase64(si, "mIhbpjY40NQk87jzWV+uZorg/ILon5K/eHsHWzuuanA=");
	ASSERT_MEMEQ(si, unhex(want, "98885ba63638d0d424f3b8f3595fae668ae0fc82e89f92bf787b075b3bae6a70"), 32);
	unbase64(spub_i, "0Q2r31/tom/aVo+GFOv89B4Zm1ameSQPN3Vtyx+nIHY=");
	ASSERT_MEMEQ(spub_i, unhex(want, "d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076"), 32);
	unbase64(sr, "8MdjXx3UO/Ja0f1bhbEYK+1MUCQ6exiZ8MgyFsyex1g=");
	unbase64(spub_r, "n9Ft6difHzPI/OD3DCRyBrtCPzy94KhtCsEhOP0wiDo=");

	ASSERT_EQ(curve25519_generate_public(pub, si), 0);
	ASSERT_MEMEQ(pub, spub_i, 32);
	ASSERT_EQ(curve25519_generate_public(pub, sr), 0);
	ASSERT_MEMEQ(pub, spub_r, 32);

	/* es = DH(Ei, Spub_r) and ss = DH(Si, Spub_r) from the message 1 trace; ss is symmetric. */
	unhex(ei, "784c252bf4e72c95bb3e0bddd05eb224fb302c150aaeef109cf9533e66351947");
	ASSERT_EQ(curve25519_generate_public(pub, ei), 0);
	ASSERT_MEMEQ(pub, unhex(want, "9cc92d88ac6a1ee35ba3bf3347cfa62706175e7f0772bb08aba88bbdb252a270"), 32);
	ASSERT_EQ(curve25519(s1, ei, spub_r), 0);
	ASSERT_MEMEQ(s1, unhex(want, "7f0fd7972cfca78dadea16533d51e37413e0da5a5aac97a8acae32401ad28221"), 32);
	ASSERT_EQ(curve25519(s1, si, spub_r), 0);
	ASSERT_MEMEQ(s1, unhex(want, "4212fd6ed4fe0c0bd31f6c47815824218587e4096818788c7f1af2c3b066e502"), 32);
	ASSERT_EQ(curve25519(s2, sr, spub_i), 0);
	ASSERT_MEMEQ(s2, s1, 32);
}

/* RFC 8439 section 2.8.2 runs with nonce 07000000 || IV, which aead_* cannot express: check OpenSSL directly. */
static void test_aead_rfc8439_reference(void)
{
	uint8_t key[32], nonce[12], ad[12], out[114 + 16], want[114 + 16];

	unhex(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, "070000004041424344454647");
	unhex(ad, "50515253c0c1c2c3c4c5c6c7");
	unhex(want, "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
		    "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6759455"
		    "85808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
		    "1ae10b594f09e26a7e902ecbd0600691");
	ASSERT_EQ(strlen(sunscreen), 114);
	ASSERT_EQ(ref_aead_encrypt(out, (const uint8_t *)sunscreen, 114, ad, 12, nonce, key), 0);
	ASSERT_MEMEQ(out, want, sizeof(want));
}

/* aead_* must equal RFC 8439 with nonce 00000000 || LE64(counter), byte for byte. */
static void test_aead_matches_reference(void)
{
	static const uint64_t counters[] = { 0, 1, 255, 256, 0x0807060504030201ULL, UINT64_MAX - 1, UINT64_MAX };
	static const size_t lens[] = { 0, 1, 15, 16, 63, 64, 65, 1420, 4096 };
	static uint8_t pt[4096], got[4096 + 16], ref[4096 + 16], back[4096];
	uint8_t key[32], ad[40], nonce[12];

	crypto_random(key, sizeof(key));
	crypto_random(ad, sizeof(ad));
	crypto_random(pt, sizeof(pt));
	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		memset(nonce, 0, 4);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] = (uint8_t)(counters[c] >> (8 * i));
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			size_t len = lens[l], adlen = (l * 7) % sizeof(ad);

			ASSERT_EQ(aead_encrypt(got, pt, len, ad, adlen, counters[c], key), 0);
			ASSERT_EQ(ref_aead_encrypt(ref, pt, (int)len, ad, (int)adlen, nonce, key), 0);
			ASSERT_MEMEQ(got, ref, len + 16);
			ASSERT_EQ(aead_decrypt(back, got, len + 16, ad, adlen, counters[c], key), 0);
			ASSERT_MEMEQ(back, pt, len);
		}
	}
	/* The explicit layout: counter 0x0807060504030201 is nonce 000000000102030405060708. */
	unhex(nonce, "000000000102030405060708");
	ASSERT_EQ(aead_encrypt(got, pt, 64, NULL, 0, 0x0807060504030201ULL, key), 0);
	ASSERT_EQ(ref_aead_encrypt(ref, pt, 64, NULL, 0, nonce, key), 0);
	ASSERT_MEMEQ(got, ref, 64 + 16);
}

/* WireGuard-nonce vectors from the digest's handshake and transport trace (section 9.6). */
static void test_aead_wireguard_vectors(void)
{
	static const struct {
		const char *key, *pt, *ad, *ct;
		uint64_t counter;
	} v[] = {
		/* encrypted_static: AEAD(k, 0, Spub_i, H) */
		{ "c3973c2a7c1466b92ac398ba2712b7f182213796f26207910652d14c367a91ad",
		  "d10dabdf5feda26fda568f8614ebfcf41e199b56a679240f37756dcb1fa72076",
		  "915ade4dddcaa37a73176c1b1887e2555fba9fa6ef556f332b260020f7b0e2ef",
		  "8e6318712e0ec48198a69b825faf492eabb5909d2165451eab27e0e5132e6532a3e9d0355d840f243928130865094a43", 0 },
		/* encrypted_timestamp */
		{ "025510dae88e557d75e91ec250521bcb716e47caf541f44a14e487757f7e9b78",
		  "40000000713fb30a00000000",
		  "1b5efa0ade2ac69d457b69f6d89cf48a065eb613808b919f6aabea57b32aca6d",
		  "928e81db9244f27b400df1135c555f92af19793de4ed3dcd907d13d1", 0 },
		/* encrypted_nothing */
		{ "27a9d26a8340fcade29c15dc2579d3799cdd03f94db4214ad43cba8136824226", "",
		  "e70c26f81903ed31e366ef574dc42750280c348f7ee0c3bba4c94dd7fa3f7e10",
		  "9fc19e7ec383ec7927a88fea826677da", 0 },
		/* initiator keepalive, counter 0 */
		{ "d8dad548f3dd84b4ffc41cd1d570dd29e5877cd705cbd55d9a324001f7a04797", "", "",
		  "5e51049c33134747b2ca3f7ebf77ae19", 0 },
		/* initiator data, counter 1, 20 bytes padded to 32 */
		{ "d8dad548f3dd84b4ffc41cd1d570dd29e5877cd705cbd55d9a324001f7a04797",
		  "0102030405060708090a0b0c0d0e0f1011121314" "000000000000000000000000", "",
		  "4d9612790c751fff0eec6465c2689ee96885fa0061e34b50741565f2e427a68b26c6d0f330af590e2d5100b5df8eea01", 1 },
		/* responder keepalive, counter 0 */
		{ "f0cedf136cd713ac820784832fbba92c953b094d379aeac8233d5cccbe921b2c", "", "",
		  "9d33d2372b81ad21a88f86d1e319ad79", 0 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t key[32], pt[64], ad[32], ct[80], out[80], back[64];
		size_t ptlen = test_unhex(pt, v[i].pt), adlen = test_unhex(ad, v[i].ad);
		size_t ctlen = test_unhex(ct, v[i].ct);

		unhex(key, v[i].key);
		ASSERT_EQ(ctlen, ptlen + 16);
		ASSERT_EQ(aead_encrypt(out, pt, ptlen, ad, adlen, v[i].counter, key), 0);
		ASSERT_MEMEQ(out, ct, ctlen);
		ASSERT_EQ(aead_decrypt(back, ct, ctlen, ad, adlen, v[i].counter, key), 0);
		ASSERT_MEMEQ(back, pt, ptlen);
	}
}

static void test_aead_in_place(void)
{
	uint8_t key[32], ad[13], pt[1500], buf[1500 + 16], ref[1500 + 16];

	crypto_random(key, sizeof(key));
	crypto_random(ad, sizeof(ad));
	crypto_random(pt, sizeof(pt));
	memcpy(buf, pt, sizeof(pt));
	ASSERT_EQ(aead_encrypt(ref, pt, sizeof(pt), ad, sizeof(ad), 42, key), 0);
	ASSERT_EQ(aead_encrypt(buf, buf, sizeof(pt), ad, sizeof(ad), 42, key), 0);
	ASSERT_MEMEQ(buf, ref, sizeof(ref));
	ASSERT_EQ(aead_decrypt(buf, buf, sizeof(buf), ad, sizeof(ad), 42, key), 0);
	ASSERT_MEMEQ(buf, pt, sizeof(pt));

	/* Keepalive: empty plaintext, NULL source, tag only. */
	ASSERT_EQ(aead_encrypt(buf, NULL, 0, NULL, 0, 7, key), 0);
	ASSERT_EQ(aead_decrypt(buf, buf, 16, NULL, 0, 7, key), 0);
}

static void test_aead_tamper(void)
{
	uint8_t key[32], key2[32], ad[8], pt[100], ct[116], tmp[116], out[100];

	crypto_random(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[5] ^= 1;
	crypto_random(ad, sizeof(ad));
	crypto_random(pt, sizeof(pt));
	ASSERT_EQ(aead_encrypt(ct, pt, sizeof(pt), ad, sizeof(ad), 9, key), 0);

	memcpy(tmp, ct, sizeof(ct));
	tmp[115] ^= 0x80;	/* tag */
	ASSERT_EQ(aead_decrypt(out, tmp, sizeof(tmp), ad, sizeof(ad), 9, key), -EBADMSG);
	memcpy(tmp, ct, sizeof(ct));
	tmp[0] ^= 1;		/* ciphertext */
	memset(out, 0x55, sizeof(out));
	ASSERT_EQ(aead_decrypt(out, tmp, sizeof(tmp), ad, sizeof(ad), 9, key), -EBADMSG);
	ASSERT_TRUE(crypto_is_zero(out, sizeof(out)));	/* no unauthenticated plaintext leaks */
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct), ad, sizeof(ad), 10, key), -EBADMSG);
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct), ad, sizeof(ad) - 1, 9, key), -EBADMSG);
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct), NULL, 0, 9, key), -EBADMSG);
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct), ad, sizeof(ad), 9, key2), -EBADMSG);
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct) - 1, ad, sizeof(ad), 9, key), -EBADMSG);
	/* Shorter than a tag is malformed input, not a forgery attempt to authenticate. */
	ASSERT_EQ(aead_decrypt(out, ct, 15, ad, sizeof(ad), 9, key), -EINVAL);
	ASSERT_EQ(aead_decrypt(out, ct, 0, ad, sizeof(ad), 9, key), -EINVAL);
	/* In-place failure also wipes. */
	memcpy(tmp, ct, sizeof(ct));
	tmp[115] ^= 1;
	ASSERT_EQ(aead_decrypt(tmp, tmp, sizeof(tmp), ad, sizeof(ad), 9, key), -EBADMSG);
	ASSERT_TRUE(crypto_is_zero(tmp, 100));
	/* The reused context still works after failures. */
	ASSERT_EQ(aead_decrypt(out, ct, sizeof(ct), ad, sizeof(ad), 9, key), 0);
	ASSERT_MEMEQ(out, pt, sizeof(pt));
}

/* The TUN path (aead_*) and the BPF path (portable core) must interoperate in both directions. */
static void test_aead_vs_portable_core(void)
{
	static uint8_t pt[1500], a[1500 + 16], b[1500 + 16], back[1500];
	static const size_t lens[] = { 0, 1, 64, 100, 1420, 1500 };
	uint8_t key[32], ad[16];

	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		uint64_t counter = ((uint64_t)crypto_random_u32() << 32) | crypto_random_u32();
		size_t len = lens[l];

		crypto_random(key, sizeof(key));
		crypto_random(ad, sizeof(ad));
		crypto_random(pt, sizeof(pt));
		ASSERT_EQ(aead_encrypt(a, pt, len, ad, sizeof(ad), counter, key), 0);
		ASSERT_EQ(cc20p1305_encrypt(b, pt, len, ad, sizeof(ad), counter, key), 0);
		ASSERT_MEMEQ(a, b, len + 16);
		ASSERT_EQ(cc20p1305_decrypt(back, a, len + 16, ad, sizeof(ad), counter, key), 0);
		ASSERT_MEMEQ(back, pt, len);
		ASSERT_EQ(aead_decrypt(back, b, len + 16, ad, sizeof(ad), counter, key), 0);
		ASSERT_MEMEQ(back, pt, len);
	}
}

static void test_hchacha20(void)
{
	uint8_t key[32], in[16], out[32], ref[32], want[32];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	unhex(in, "000000090000004a0000000031415927");
	hchacha20(out, in, key);
	ASSERT_MEMEQ(out, unhex(want, "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"), 32);
	/* The OpenSSL-derived reference agrees on the vector and on random inputs. */
	ref_hchacha20(ref, in, key);
	ASSERT_MEMEQ(ref, want, 32);
	for (int round = 0; round < 64; round++) {
		crypto_random(key, sizeof(key));
		crypto_random(in, sizeof(in));
		hchacha20(out, in, key);
		ref_hchacha20(ref, in, key);
		ASSERT_MEMEQ(out, ref, 32);
	}
}

static void test_xaead(void)
{
	uint8_t key[32], nonce[24], ad[12], out[114 + 16], back[114], want[114 + 16];

	/* draft-irtf-cfrg-xchacha A.3.1. */
	unhex(key, "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, "404142434445464748494a4b4c4d4e4f5051525354555657");
	unhex(ad, "50515253c0c1c2c3c4c5c6c7");
	unhex(want, "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f"
		    "4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f"
		    "76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
		    "c0875924c1c7987947deafd8780acf49");
	ASSERT_EQ(xaead_encrypt(out, (const uint8_t *)sunscreen, 114, ad, 12, nonce, key), 0);
	ASSERT_MEMEQ(out, want, sizeof(want));
	ASSERT_EQ(xaead_decrypt(back, out, sizeof(out), ad, 12, nonce, key), 0);
	ASSERT_MEMEQ(back, sunscreen, 114);
	out[3] ^= 4;
	ASSERT_EQ(xaead_decrypt(back, out, sizeof(out), ad, 12, nonce, key), -EBADMSG);
	out[3] ^= 4;
	nonce[23] ^= 1;		/* the raw tail of the nonce matters too */
	ASSERT_EQ(xaead_decrypt(back, out, sizeof(out), ad, 12, nonce, key), -EBADMSG);
	ASSERT_EQ(xaead_decrypt(back, out, 15, ad, 12, nonce, key), -EINVAL);

	/* Digest 9.6 cookie reply: XAEAD(cookie key, nonce, cookie, mac1 of message 1). */
	uint8_t ckey[32], cnonce[24], cookie[16], mac1[16], enc[32], msg3[64];
	unhex(ckey, "bca0f1a405807465cb7d40525078c4db5d8d1ced4442c714eaed57ba9b5b020b");
	unhex(cnonce, "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7");
	unhex(cookie, "000102030405060708090a0b0c0d0e0f");
	unhex(mac1, "88fc2321ed02a02becc9e8b66af24b99");
	unhex(msg3, "0300000044332211a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b72a082c6787e96edc4f9a3ccb"
		    "372080a29962428d34a98e9f9378f59039304a10");
	ASSERT_EQ(xaead_encrypt(enc, cookie, 16, mac1, 16, cnonce, ckey), 0);
	ASSERT_MEMEQ(enc, msg3 + 32, 32);
	ASSERT_EQ(xaead_decrypt(enc, msg3 + 32, 32, mac1, 16, msg3 + 8, ckey), 0);
	ASSERT_MEMEQ(enc, cookie, 16);
}

static void test_helpers(void)
{
	uint8_t a[32], b[32], z[32] = { 0 };
	uint32_t r[8];
	bool distinct = false;

	crypto_random(a, sizeof(a));
	crypto_random(b, sizeof(b));
	ASSERT_FALSE(crypto_equal(a, b, sizeof(a)));
	ASSERT_FALSE(crypto_is_zero(a, sizeof(a)));
	for (int i = 0; i < 8; i++) {
		r[i] = crypto_random_u32();
		if (i && r[i] != r[0])
			distinct = true;
	}
	ASSERT_TRUE(distinct);

	memcpy(b, a, sizeof(a));
	ASSERT_TRUE(crypto_equal(a, b, sizeof(a)));
	b[31] ^= 1;
	ASSERT_FALSE(crypto_equal(a, b, sizeof(a)));
	ASSERT_TRUE(crypto_equal(a, b, 31));
	ASSERT_TRUE(crypto_is_zero(z, sizeof(z)));
	z[31] = 1;
	ASSERT_FALSE(crypto_is_zero(z, sizeof(z)));
	ASSERT_TRUE(crypto_is_zero(z, 0));
	crypto_zero(a, sizeof(a));
	ASSERT_TRUE(crypto_is_zero(a, sizeof(a)));
}

int main(void)
{
	if (crypto_init() || crypto_init()) {
		fprintf(stderr, "crypto_init failed\n");
		return 1;
	}
	RUN_TEST(test_blake2s_vectors);
	RUN_TEST(test_blake2s_mac16);
	RUN_TEST(test_hmac_kdf);
	RUN_TEST(test_x25519_rfc7748);
	RUN_TEST(test_x25519_iterated);
	RUN_TEST(test_x25519_low_order);
	RUN_TEST(test_clamp);
	RUN_TEST(test_keypairs_digest);
	RUN_TEST(test_aead_rfc8439_reference);
	RUN_TEST(test_aead_matches_reference);
	RUN_TEST(test_aead_wireguard_vectors);
	RUN_TEST(test_aead_in_place);
	RUN_TEST(test_aead_tamper);
	RUN_TEST(test_aead_vs_portable_core);
	RUN_TEST(test_hchacha20);
	RUN_TEST(test_xaead);
	RUN_TEST(test_helpers);
	return TEST_SUMMARY();
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace crypto primitives (hash, MAC, HMAC, KDF, X25519, (X)ChaCha20-Poly1305) on OpenSSL 3 EVP. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "xwg_types.h"
#include "chacha20poly1305.h"
#include "crypto.h"

#define AEAD_TAG_LEN 16
#define AEAD_NONCE_LEN 12

/*
 * Algorithms are fetched once and contexts are reused for every call: the TUN data path
 * encrypts and decrypts per packet, where fetches and allocations would dominate. The handshake
 * primitives run on the agent's one protocol thread; the AEAD also runs on the data path's
 * crypto workers (parallel.c), so its two contexts are per thread, made on first use.
 */
static struct {
	bool ready;
	EVP_MD *blake2s;
	EVP_MAC *blake2smac;
	EVP_MAC *hmac;
	EVP_CIPHER *chachapoly;
	EVP_MD_CTX *md_ctx;
	EVP_MAC_CTX *mac_ctx;
	EVP_MAC_CTX *hmac_ctx;
} cr;

static _Thread_local EVP_CIPHER_CTX *aead_enc_ctx, *aead_dec_ctx;

/* A failing primitive with valid arguments means OpenSSL itself is broken: never continue with garbage. */
static void __attribute__((noreturn)) crypto_fatal(const char *what)
{
	fprintf(stderr, "xwg: fatal: OpenSSL %s failed\n", what);
	ERR_print_errors_fp(stderr);
	abort();
}

static void crypto_ensure(void)
{
	if (!cr.ready && crypto_init())
		crypto_fatal("initialisation");
}

void crypto_thread_release(void)
{
	EVP_CIPHER_CTX_free(aead_dec_ctx);
	EVP_CIPHER_CTX_free(aead_enc_ctx);
	aead_enc_ctx = aead_dec_ctx = NULL;
}

static void crypto_release(void)
{
	crypto_thread_release();
	EVP_MAC_CTX_free(cr.hmac_ctx);
	EVP_MAC_CTX_free(cr.mac_ctx);
	EVP_MD_CTX_free(cr.md_ctx);
	EVP_CIPHER_free(cr.chachapoly);
	EVP_MAC_free(cr.hmac);
	EVP_MAC_free(cr.blake2smac);
	EVP_MD_free(cr.blake2s);
	memset(&cr, 0, sizeof(cr));
}

static int crypto_init_contexts(void)
{
	size_t mac_size = 16;
	char digest[] = "BLAKE2S-256";
	OSSL_PARAM mac_params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &mac_size),
		OSSL_PARAM_construct_end(),
	};
	OSSL_PARAM hmac_params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	cr.md_ctx = EVP_MD_CTX_new();
	cr.mac_ctx = EVP_MAC_CTX_new(cr.blake2smac);
	cr.hmac_ctx = EVP_MAC_CTX_new(cr.hmac);
	if (!cr.md_ctx || !cr.mac_ctx || !cr.hmac_ctx)
		return -ENOMEM;
	/* Parameters that never change are bound once; each call only supplies the key. */
	if (!EVP_MAC_CTX_set_params(cr.mac_ctx, mac_params) ||
	    !EVP_MAC_CTX_set_params(cr.hmac_ctx, hmac_params))
		return -ENOSYS;
	return 0;
}

int crypto_init(void)
{
	int ret;

	if (cr.ready)
		return 0;
	cr.blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	cr.blake2smac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	cr.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	cr.chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!cr.blake2s || !cr.blake2smac || !cr.hmac || !cr.chachapoly) {
		ret = -ENOSYS;
		goto err;
	}
	ret = crypto_init_contexts();
	if (ret)
		goto err;
	cr.ready = true;
	return 0;
err:
	fprintf(stderr, "xwg: OpenSSL lacks BLAKE2s, HMAC or ChaCha20-Poly1305 (%d)\n", ret);
	ERR_print_errors_fp(stderr);
	crypto_release();
	return ret;
}

void crypto_random(void *buf, size_t len)
{
	if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
		crypto_fatal("RAND_bytes");
}

uint32_t crypto_random_u32(void)
{
	uint32_t v;

	crypto_random(&v, sizeof(v));
	return v;
}

void crypto_zero(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

bool crypto_is_zero(const void *p, size_t len)
{
	const volatile uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= b[i];
	return acc == 0;
}

void curve25519_clamp(uint8_t key[32])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

void curve25519_generate_private(uint8_t key[32])
{
	crypto_random(key, 32);
	curve25519_clamp(key);
}

/* Builds an X25519 key from a clamped copy so the result never depends on OpenSSL's own clamping. */
static EVP_PKEY *curve25519_private_key(const uint8_t priv[32])
{
	uint8_t k[32];
	EVP_PKEY *pkey;

	memcpy(k, priv, sizeof(k));
	curve25519_clamp(k);
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k, sizeof(k));
	crypto_zero(k, sizeof(k));
	return pkey;
}

int curve25519_generate_public(uint8_t pub[32], const uint8_t priv[32])
{
	size_t len = 32;
	EVP_PKEY *pkey;
	int ret = 0;

	pkey = curve25519_private_key(priv);
	if (!pkey)
		return -ENOMEM;
	if (!EVP_PKEY_get_raw_public_key(pkey, pub, &len) || len != 32)
		ret = -EINVAL;
	EVP_PKEY_free(pkey);
	return ret;
}

int curve25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	EVP_PKEY *sk, *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = 32;
	int ret = -ENOMEM;

	sk = curve25519_private_key(priv);
	if (!sk)
		goto out;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	if (!pk)
		goto out_sk;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, sk, NULL);
	if (!ctx)
		goto out_pk;
	/* OpenSSL refuses an all-zero secret itself; the explicit check keeps that guarantee ours. */
	ret = -EINVAL;
	if (EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, pk) != 1 ||
	    EVP_PKEY_derive(ctx, out, &len) != 1 || len != 32 || crypto_is_zero(out, 32))
		goto out_ctx;
	ret = 0;
out_ctx:
	EVP_PKEY_CTX_free(ctx);
out_pk:
	EVP_PKEY_free(pk);
out_sk:
	EVP_PKEY_free(sk);
out:
	if (ret) {
		ERR_clear_error();
		crypto_zero(out, 32);
	}
	return ret;
}

void blake2s256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned int outl = 0;

	crypto_ensure();
	if (!EVP_DigestInit_ex2(cr.md_ctx, cr.blake2s, NULL) ||
	    (alen && !EVP_DigestUpdate(cr.md_ctx, a, alen)) ||
	    (blen && !EVP_DigestUpdate(cr.md_ctx, b, blen)) ||
	    !EVP_DigestFinal_ex(cr.md_ctx, out, &outl) || outl != 32)
		crypto_fatal("BLAKE2s-256");
}

/* Shared body of keyed BLAKE2s and HMAC: both are one-shot MACs on a pre-configured context. */
static void crypto_mac(EVP_MAC_CTX *ctx, uint8_t *out, size_t outlen, const void *key, size_t keylen,
		       const void *in, size_t len, const char *what)
{
	static const uint8_t empty_key;
	size_t outl = 0;

	/* A NULL key would mean "reuse the previous key" to OpenSSL, not "empty key". */
	if (!key)
		key = &empty_key;
	if (!EVP_MAC_init(ctx, key, keylen, NULL) || (len && !EVP_MAC_update(ctx, in, len)) ||
	    !EVP_MAC_final(ctx, out, &outl, outlen) || outl != outlen)
		crypto_fatal(what);
}

void blake2s_mac16(uint8_t out[16], const void *key, size_t keylen, const void *in, size_t len)
{
	crypto_ensure();
	/* BLAKE2s keys are 1..32 bytes; anything else is a caller bug, not input to survive. */
	if (keylen < 1 || keylen > 32)
		crypto_fatal("BLAKE2s MAC (bad key length)");
	crypto_mac(cr.mac_ctx, out, 16, key, keylen, in, len, "BLAKE2s MAC");
}

void hmac_blake2s(uint8_t out[32], const void *key, size_t keylen, const void *in, size_t len)
{
	crypto_ensure();
	crypto_mac(cr.hmac_ctx, out, 32, key, keylen, in, len, "HMAC-BLAKE2s");
}

void kdf(uint8_t t1[32], uint8_t *t2, uint8_t *t3, const uint8_t ck[32], const void *in, size_t inlen)
{
	uint8_t prk[32], t[3][33];

	/* Outputs go to locals first so t1..t3 may alias ck or in (C = KDF1(C, x) is the common case). */
	hmac_blake2s(prk, ck, 32, in, inlen);
	t[0][0] = 1;
	hmac_blake2s(t[0], prk, 32, t[0], 1);
	if (t2 || t3) {
		t[0][32] = 2;
		hmac_blake2s(t[1], prk, 32, t[0], 33);
	}
	if (t3) {
		t[1][32] = 3;
		hmac_blake2s(t[2], prk, 32, t[1], 33);
	}
	memcpy(t1, t[0], 32);
	if (t2)
		memcpy(t2, t[1], 32);
	if (t3)
		memcpy(t3, t[2], 32);
	crypto_zero(prk, sizeof(prk));
	crypto_zero(t, sizeof(t));
}

/* This thread's AEAD context (the cipher bound once; each call only supplies key and nonce). */
static EVP_CIPHER_CTX *aead_ctx(bool seal)
{
	EVP_CIPHER_CTX **ctx = seal ? &aead_enc_ctx : &aead_dec_ctx;

	crypto_ensure();
	if (*ctx)
		return *ctx;
	*ctx = EVP_CIPHER_CTX_new();
	if (!*ctx || !(seal ? EVP_EncryptInit_ex(*ctx, cr.chachapoly, NULL, NULL, NULL) :
			      EVP_DecryptInit_ex(*ctx, cr.chachapoly, NULL, NULL, NULL)))
		crypto_fatal("ChaCha20-Poly1305 context");
	return *ctx;
}

static void aead_wg_nonce(uint8_t nonce[AEAD_NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

static int aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx;
	int outl;

	if (len > INT_MAX - AEAD_TAG_LEN || adlen > INT_MAX)
		return -EMSGSIZE;
	ctx = aead_ctx(true);
	if (!EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) ||
	    (adlen && !EVP_EncryptUpdate(ctx, NULL, &outl, ad, (int)adlen)) ||
	    (len && !EVP_EncryptUpdate(ctx, dst, &outl, src, (int)len)) ||
	    !EVP_EncryptFinal_ex(ctx, dst + len, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, dst + len))
		crypto_fatal("ChaCha20-Poly1305 encrypt");
	return 0;
}

static int aead_open(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad, size_t adlen,
		     const uint8_t nonce[AEAD_NONCE_LEN], const uint8_t key[32])
{
	uint8_t tag[AEAD_TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	size_t len;
	int outl;

	if (srclen < AEAD_TAG_LEN)
		return -EINVAL;
	if (srclen > INT_MAX || adlen > INT_MAX)
		return -EMSGSIZE;
	ctx = aead_ctx(false);
	len = srclen - AEAD_TAG_LEN;
	memcpy(tag, src + len, AEAD_TAG_LEN);
	if (!EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) ||
	    (adlen && !EVP_DecryptUpdate(ctx, NULL, &outl, ad, (int)adlen)) ||
	    (len && !EVP_DecryptUpdate(ctx, dst, &outl, src, (int)len)))
		crypto_fatal("ChaCha20-Poly1305 decrypt");
	if (EVP_DecryptFinal_ex(ctx, dst + len, &outl) != 1) {
		/* Never hand unauthenticated plaintext to a caller that ignores the return value. */
		crypto_zero(dst, len);
		ERR_clear_error();
		return -EBADMSG;
	}
	return 0;
}

int aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		 uint64_t counter, const uint8_t key[32])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_wg_nonce(nonce, counter);
	return aead_seal(dst, src, len, ad, adlen, nonce, key);
}

int aead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad, size_t adlen,
		 uint64_t counter, const uint8_t key[32])
{
	uint8_t nonce[AEAD_NONCE_LEN];

	aead_wg_nonce(nonce, counter);
	return aead_open(dst, src, srclen, ad, adlen, nonce, key);
}

/* XChaCha20-Poly1305: the subkey comes from HChaCha20 over the first 16 nonce bytes, the rest is raw nonce. */
static int xaead(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[24], const uint8_t key[32], bool seal)
{
	uint8_t subkey[32], nonce12[AEAD_NONCE_LEN] = { 0 };
	int ret;

	hchacha20(subkey, nonce, key);
	memcpy(nonce12 + 4, nonce + 16, 8);
	ret = seal ? aead_seal(dst, src, len, ad, adlen, nonce12, subkey) :
		     aead_open(dst, src, len, ad, adlen, nonce12, subkey);
	crypto_zero(subkey, sizeof(subkey));
	return ret;
}

int xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[24], const uint8_t key[32])
{
	return xaead(dst, src, len, ad, adlen, nonce, key, true);
}

int xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[24], const uint8_t key[32])
{
	return xaead(dst, src, srclen, ad, adlen, nonce, key, false);
}

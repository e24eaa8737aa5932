/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace cryptographic primitives for the handshake, cookies and TUN data path (OpenSSL 3 EVP). */
#ifndef XWG_CRYPTO_H
#define XWG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Fetches the EVP algorithms once; returns 0 or -ENOSYS if OpenSSL lacks one. Call before anything else. */
int crypto_init(void);
/* Frees the calling thread's AEAD contexts (a worker thread before it exits; they are per thread). */
void crypto_thread_release(void);

/* Cryptographically secure random bytes; aborts the process if the RNG fails (nothing sane to do). */
void crypto_random(void *buf, size_t len);
uint32_t crypto_random_u32(void);
/* Wipes secrets in a way the compiler cannot elide. */
void crypto_zero(void *p, size_t len);
/* Constant-time equality: true when equal. */
bool crypto_equal(const void *a, const void *b, size_t len);
/* True when all bytes are zero (constant time). */
bool crypto_is_zero(const void *p, size_t len);

/* X25519 (RFC 7748). Private keys are clamped by curve25519_clamp(). */
void curve25519_clamp(uint8_t key[32]);
void curve25519_generate_private(uint8_t key[32]);
int curve25519_generate_public(uint8_t pub[32], const uint8_t priv[32]);
/* Returns -EINVAL when the shared secret is all zero (low-order point): callers must abort. */
int curve25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

/* BLAKE2s-256 of the concatenation a || b (b may be NULL with blen 0). */
void blake2s256(uint8_t out[32], const void *a, size_t alen, const void *b, size_t blen);
/* Keyed BLAKE2s (BLAKE2SMAC) with a 16..32-byte key and 16-byte output: WireGuard's MAC(). */
void blake2s_mac16(uint8_t out[16], const void *key, size_t keylen, const void *in, size_t len);
/* HMAC-BLAKE2s-256. */
void hmac_blake2s(uint8_t out[32], const void *key, size_t keylen, const void *in, size_t len);
/* WireGuard KDF_n: fills t1 and, when non-NULL, t2 and t3 from chaining key ck and input. */
void kdf(uint8_t t1[32], uint8_t *t2, uint8_t *t3, const uint8_t ck[32], const void *in, size_t inlen);

/*
 * ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 4 zero bytes || LE64(counter).
 * encrypt writes len + 16 bytes to dst; dst may equal src. decrypt takes srclen >= 16 (tag included),
 * writes srclen - 16 bytes and returns 0, or -EBADMSG on authentication failure (dst contents undefined).
 */
int aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		 uint64_t counter, const uint8_t key[32]);
int aead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad, size_t adlen,
		 uint64_t counter, const uint8_t key[32]);

/* XChaCha20-Poly1305: HChaCha20 from the portable core, then the AEAD above with a 24-byte nonce. */
int xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[24], const uint8_t key[32]);
int xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t srclen, const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[24], const uint8_t key[32]);

#endif

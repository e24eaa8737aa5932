/* SPDX-License-Identifier: GPL-2.0 */
/* Test-side WireGuard frames: outer Ethernet/IP/UDP, transport messages sealed with OpenSSL, inner packets. */
#ifndef XWG_TEST_WG_FRAMES_H
#define XWG_TEST_WG_FRAMES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <openssl/evp.h>

#define FRAME_MAX	2048
#define MTU		1420

enum { IN_V4, IN_V6, IN_KEEPALIVE, IN_NOT_IP, IN_BAD_LEN };

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t wg_off;		/* WireGuard header */
	uint8_t inner[FRAME_MAX];	/* the plaintext IP packet, unpadded */
	size_t inner_len;
	uint16_t inner_proto;
};

/* ---------------------------------------------------------------- packet building */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void pton(int family, const char *s, uint8_t *out)
{
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1)
		abort();
}

/* IPv4/IPv6 + UDP header at p around payload bytes already at p + l3 + 8; returns the length. */
static size_t ip_udp(uint8_t *p, int family, const char *src, const char *dst, uint8_t opt_words,
		     uint16_t sport, uint16_t dport, size_t payload)
{
	size_t l3 = family == 4 ? 20 + 4u * opt_words : 40, ulen = 8 + payload;
	uint8_t *udp = p + l3;
	uint32_t sum;

	memset(p, 0, l3);
	if (family == 4) {
		p[0] = (uint8_t)(0x40 | (5 + opt_words));
		put16(p + 2, (uint16_t)(l3 + ulen));
		p[8] = 64;
		p[9] = 17;
		pton(4, src, p + 12);
		pton(4, dst, p + 16);
		memset(p + 20, 1, 4u * opt_words);	/* NOP options */
		put16(p + 10, csum_fold(csum_add(0, p, l3)));
	} else {
		p[0] = 0x60;
		put16(p + 4, (uint16_t)ulen);
		p[6] = 17;
		p[7] = 64;
		pton(6, src, p + 8);
		pton(6, dst, p + 24);
	}
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)ulen);
	put16(udp + 6, 0);
	if (family == 6) {	/* mandatory over IPv6: pseudo-header + UDP */
		sum = csum_add(0, p + 8, 32) + (uint32_t)ulen + 17;
		sum = csum_add(sum, udp, ulen);
		put16(udp + 6, csum_fold(sum) ? csum_fold(sum) : 0xffff);
	}
	return l3 + ulen;
}

static size_t inner_packet(uint8_t *p, int kind, const char *src, size_t payload)
{
	int family = kind == IN_V6 ? 6 : 4;
	size_t l3 = family == 4 ? 20 : 40, len;

	if (kind == IN_KEEPALIVE)
		return 0;
	if (kind == IN_NOT_IP) {
		memset(p, 0x55, 40);	/* version nibble 5 */
		return 40;
	}
	for (size_t i = 0; i < payload; i++)
		p[l3 + 8 + i] = (uint8_t)(i * 7 + 3);
	len = ip_udp(p, family, src ? src : family == 4 ? "10.99.0.2" : "fd00::2",
		     family == 4 ? "10.99.0.1" : "fd00::1", 0, 5555, 7777, payload);
	if (kind == IN_BAD_LEN) {
		put16(p + 2, (uint16_t)(len + 100));
		put16(p + 10, 0);
		put16(p + 10, csum_fold(csum_add(0, p, 20)));
	}
	return len;
}

static int seal(uint8_t *out, const uint8_t *in, size_t len, uint64_t counter, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = { 0 };
	int n, ok;

	put_le(nonce + 4, counter, 8);
	ok = ctx && EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, key, nonce) &&
	     (len == 0 || EVP_EncryptUpdate(ctx, out, &n, in, (int)len)) &&
	     EVP_EncryptFinal_ex(ctx, out + len, &n) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + len);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* Transport message: header, AEAD of the plaintext zero-padded to min(MTU, roundup16). */
static size_t wg_data(uint8_t *out, uint32_t index, uint64_t counter, const uint8_t *plain, size_t len,
		      const uint8_t key[32])
{
	uint8_t padded[FRAME_MAX] = { 0 };
	size_t plen = (len + 15) & ~(size_t)15;

	if (plen > MTU)
		plen = MTU > len ? MTU : len;
	memcpy(padded, plain, len);
	out[0] = 4;
	out[1] = out[2] = out[3] = 0;
	put_le(out + 4, index, 4);
	put_le(out + 8, counter, 8);
	if (seal(out + 16, padded, plen, counter, key))
		abort();
	return 16 + plen + 16;
}

/* A handshake-looking message of the exact size for its type; the agent's business. */
static size_t wg_other(uint8_t *out, int type, size_t size)
{
	for (size_t i = 0; i < size; i++)
		out[i] = (uint8_t)(i * 13 + 1);
	out[0] = (uint8_t)type;
	out[1] = out[2] = out[3] = 0;
	return size;
}

/* Ethernet + outer IP + UDP around wg (wg_len bytes). */
static void outer_frame(struct frame *fr, int family, uint8_t opt_words, uint16_t dport, const uint8_t *wg,
			size_t wg_len)
{
	static const uint8_t macs[12] = { 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	size_t l3 = family == 4 ? 20 + 4u * opt_words : 40;

	memcpy(fr->b, macs, 12);
	put16(fr->b + 12, family == 4 ? 0x0800 : 0x86dd);
	memcpy(fr->b + 14 + l3 + 8, wg, wg_len);
	fr->len = 14 + ip_udp(fr->b + 14, family, family == 4 ? "192.0.2.1" : "2001:db8::1",
			      family == 4 ? "192.0.2.2" : "2001:db8::2", opt_words, 40000, dport, wg_len);
	fr->wg_off = 14 + l3 + 8;
}

#endif

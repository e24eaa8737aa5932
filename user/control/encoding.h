/* SPDX-License-Identifier: GPL-2.0 */
/* Text forms: base64 and hex keys, IP prefixes, endpoints, plain numbers. */
#ifndef XWG_ENCODING_H
#define XWG_ENCODING_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include "prefix.h"

#define KEY_B64_LEN 44
#define KEY_HEX_LEN 64

/* Decimal digits only (no sign, no spaces, not empty), at most max. 0 or -EINVAL. */
int uint_parse(const char *s, uint64_t max, uint64_t *out);
/* Cuts leading and trailing white space (isspace) in place; returns the new start. */
char *text_trim(char *s);

/* Strict like wg: exactly 44 chars ending in '=', last char's two low bits zero. 0 or -EINVAL. */
int key_from_base64(uint8_t key[32], const char *b64);
void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[32]);
/* 64 hex chars, either case. 0 or -EINVAL. */
int key_from_hex(uint8_t key[32], const char *hex);
void key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[32]);

/* "10.0.0.1/24", "fd00::1/64", "10.0.0.1" (=/32). Masked unless keep_host. 0 or -EINVAL. */
int prefix_parse(struct xwg_prefix *p, const char *s, bool keep_host);
void prefix_format(char *buf, size_t len, const struct xwg_prefix *p);

/*
 * "1.2.3.4:51820", "[fd00::1]:51820", and with resolve, "host.name:51820" (getaddrinfo).
 * Fills a sockaddr_in or sockaddr_in6 in *ss. 0 or -EINVAL / -EHOSTUNREACH (name did not resolve).
 */
int endpoint_parse(struct sockaddr_storage *ss, const char *s, bool resolve);
/* "1.2.3.4:51820" or "[fd00::1]:51820"; an IPv4-mapped v6 address prints as IPv4. */
void endpoint_format(char *buf, size_t len, const struct sockaddr *sa);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Text forms of keys (base64, hex), IP prefixes, UDP endpoints and numbers, parsed as strictly as wg does. */
#include "encoding.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

int uint_parse(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		uint64_t digit = (uint64_t)(*s - '0');

		/* v * 10 + digit <= max, asked without overflowing. */
		if (*s < '0' || *s > '9' || digit > max || v > (max - digit) / 10)
			return -EINVAL;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

char *text_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Value of a base64 alphabet character, or -1 (padding included: it is only legal at the end). */
static int encoding_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int key_from_base64(uint8_t key[32], const char *b64)
{
	uint8_t buf[33];
	int last;

	if (!b64 || strlen(b64) != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	/* EVP_DecodeBlock tolerates '=' mid-string and whitespace, so vet the alphabet first. */
	for (int i = 0; i < KEY_B64_LEN - 1; i++)
		if (encoding_b64_value(b64[i]) < 0)
			return -EINVAL;
	/* The 43rd char carries 4 key bits and 2 padding bits; wg insists those are zero. */
	last = encoding_b64_value(b64[KEY_B64_LEN - 2]);
	if (last & 3)
		return -EINVAL;
	if (EVP_DecodeBlock(buf, (const unsigned char *)b64, KEY_B64_LEN) != 33)
		return -EINVAL;
	memcpy(key, buf, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

void key_to_base64(char out[KEY_B64_LEN + 1], const uint8_t key[32])
{
	EVP_EncodeBlock((unsigned char *)out, key, 32);
	out[KEY_B64_LEN] = '\0';
}

static int encoding_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int key_from_hex(uint8_t key[32], const char *hex)
{
	uint8_t buf[32];

	if (!hex || strlen(hex) != KEY_HEX_LEN)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		int hi = encoding_hex_value(hex[2 * i]);
		int lo = encoding_hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, buf, 32);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

void key_to_hex(char out[KEY_HEX_LEN + 1], const uint8_t key[32])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[KEY_HEX_LEN] = '\0';
}

static void encoding_mask(uint8_t *addr, int bytes, int cidr)
{
	for (int i = 0; i < bytes; i++) {
		int keep = cidr - 8 * i;

		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

int prefix_parse(struct xwg_prefix *p, const char *s, bool keep_host)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash;
	uint64_t cidr;
	size_t hlen;
	int family, max;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	hlen = slash ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	family = strchr(host, ':') ? AF_INET6 : AF_INET;
	max = family == AF_INET ? 32 : 128;
	memset(p, 0, sizeof(*p));
	/* inet_pton, unlike inet_aton, refuses shorthand such as "10.1" or trailing junk. */
	if (inet_pton(family, host, p->addr) != 1)
		return -EINVAL;
	if (!slash)
		cidr = (uint64_t)max;
	else if (strlen(slash + 1) > 3 || uint_parse(slash + 1, (uint64_t)max, &cidr))	/* no "/0024" */
		return -EINVAL;
	p->family = family;
	p->cidr = (uint8_t)cidr;
	if (!keep_host)
		encoding_mask(p->addr, max / 8, (int)cidr);
	return 0;
}

void prefix_format(char *buf, size_t len, const struct xwg_prefix *p)
{
	char host[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    !inet_ntop(p->family, p->addr, host, sizeof(host))) {
		snprintf(buf, len, "(invalid)");
		return;
	}
	snprintf(buf, len, "%s/%u", host, p->cidr);
}

/* Numeric IPv6 with an optional %scope: getaddrinfo resolves interface names for us. */
static int encoding_parse_v6(struct sockaddr_storage *ss, const char *host, int port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct addrinfo hints = { .ai_family = AF_INET6, .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res;

	memset(ss, 0, sizeof(*ss));
	if (!strchr(host, '%')) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		if (getaddrinfo(host, NULL, &hints, &res))
			return -EINVAL;
		if (res->ai_family != AF_INET6 || res->ai_addrlen > sizeof(*ss)) {
			freeaddrinfo(res);
			return -EINVAL;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	return 0;
}

static int encoding_resolve(struct sockaddr_storage *ss, const char *host, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
				  .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res, *ai;
	int ret, tries = 0;

	/* Like wg, retry transient resolver failures a few times before giving up. */
	do {
		ret = getaddrinfo(host, NULL, &hints, &res);
	} while (ret == EAI_AGAIN && ++tries < 3);
	if (ret)
		return -EHOSTUNREACH;
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(*ss))
			continue;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		ret = 0;
		break;
	}
	freeaddrinfo(res);
	return ret;
}

int endpoint_parse(struct sockaddr_storage *ss, const char *s, bool resolve)
{
	char host[256];
	const char *hend, *colon, *hstart = s;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	uint64_t port;
	size_t hlen;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		hstart = s + 1;
		hend = strchr(hstart, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		hend = colon;
		/* An unbracketed IPv6 address would be ambiguous with the port. */
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
	}
	hlen = (size_t)(hend - hstart);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';
	/* Five digits at most: a padded "000080" stays invalid. */
	if (strlen(colon + 1) > 5 || uint_parse(colon + 1, 65535, &port))
		return -EINVAL;

	if (*s == '[')
		return encoding_parse_v6(ss, host, (int)port);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (!resolve)
		return -EINVAL;
	return encoding_resolve(ss, host, (int)port);
}

void endpoint_format(char *buf, size_t len, const struct sockaddr *sa)
{
	char host[NI_MAXHOST];
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	if (!len)
		return;
	if (sa && sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		/* Dual-stack sockets report IPv4 peers this way; show them as wg does. */
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin6->sin6_port));
	} else if (sa && sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		/* getnameinfo appends "%scope" for link-local addresses; inet_ntop would drop it. */
		if (getnameinfo(sa, sizeof(*sin6), host, sizeof(host), NULL, 0, NI_NUMERICHOST))
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Fuzzes key, prefix, endpoint and number encodings; what parses must survive format-then-parse unchanged. */
#include <sys/socket.h>
#include <netinet/in.h>
#include "fuzz.h"
#include "encoding.h"

static void fuzz_keys(const char *s)
{
	uint8_t key[32], again[32];
	char b64[KEY_B64_LEN + 1], hex[KEY_HEX_LEN + 1];

	if (key_from_base64(key, s) == 0) {
		key_to_base64(b64, key);
		FUZZ_ASSERT(key_from_base64(again, b64) == 0 && !memcmp(key, again, 32));
	}
	if (key_from_hex(key, s) == 0) {
		key_to_hex(hex, key);
		FUZZ_ASSERT(key_from_hex(again, hex) == 0 && !memcmp(key, again, 32));
	}
}

static void fuzz_prefix(const char *s, bool keep_host)
{
	struct xwg_prefix p, again;
	char buf[128];

	if (prefix_parse(&p, s, keep_host))
		return;
	FUZZ_ASSERT(p.family == AF_INET ? p.cidr <= 32 : p.family == AF_INET6 && p.cidr <= 128);
	prefix_format(buf, sizeof(buf), &p);
	FUZZ_ASSERT(prefix_parse(&again, buf, keep_host) == 0);
	FUZZ_ASSERT(again.family == p.family && again.cidr == p.cidr &&
		    !memcmp(again.addr, p.addr, p.family == AF_INET ? 4 : 16));
}

/* Never resolve: the fuzzer must not send DNS queries. */
static void fuzz_endpoint(const char *s)
{
	struct sockaddr_storage ss, again;
	char buf[128];

	if (endpoint_parse(&ss, s, false))
		return;
	FUZZ_ASSERT(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	endpoint_format(buf, sizeof(buf), (struct sockaddr *)&ss);
	FUZZ_ASSERT(endpoint_parse(&again, buf, false) == 0);
	FUZZ_ASSERT(again.ss_family == ss.ss_family);
	if (ss.ss_family == AF_INET)
		FUZZ_ASSERT(!memcmp(&((struct sockaddr_in *)&ss)->sin_addr, &((struct sockaddr_in *)&again)->sin_addr, 4) &&
			    ((struct sockaddr_in *)&ss)->sin_port == ((struct sockaddr_in *)&again)->sin_port);
	else
		FUZZ_ASSERT(!memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, &((struct sockaddr_in6 *)&again)->sin6_addr, 16) &&
			    ((struct sockaddr_in6 *)&ss)->sin6_port == ((struct sockaddr_in6 *)&again)->sin6_port);
}

static void fuzz_number(const char *s)
{
	uint64_t v;

	if (uint_parse(s, 65535, &v) == 0)
		FUZZ_ASSERT(v <= 65535);
	if (uint_parse(s, UINT64_MAX, &v) == 0)
		(void)v;
}

/* Every string goes through every decoder: seeds of one kind exercise the others' rejections too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	char *t;

	fuzz_keys(s);
	fuzz_prefix(s, false);
	fuzz_prefix(s, true);
	fuzz_endpoint(s);
	fuzz_number(s);
	t = text_trim(s);
	FUZZ_ASSERT(t >= s && t <= s + strlen(s));
	free(s);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the libFuzzer targets: NUL-terminated copies of the input and invariant checks. */
#ifndef XWG_FUZZ_H
#define XWG_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fuzzer's bytes as a C string (the parsers take strings); aborts on OOM so it is never silent. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A broken invariant is a finding: say which, then crash so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* One byte stream of configuration-socket requests through uapi_serve, in memory (tests, fuzzer). */
#ifndef XWG_TEST_UAPI_SERVE_H
#define XWG_TEST_UAPI_SERVE_H

#include <stdio.h>
#include <stdlib.h>
#include "uapi.h"

/* Returns everything the server wrote (malloc'd). len > 0: fmemopen refuses an empty buffer. */
static inline char *test_uapi_serve(struct xwg_device *dev, const void *req, size_t len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *in = fmemopen((void *)req, len, "r");
	FILE *out = open_memstream(&buf, &blen);

	if (!in || !out)
		abort();
	uapi_serve(dev, in, out);
	fclose(in);
	fclose(out);
	return buf;
}

#endif

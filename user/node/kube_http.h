/* SPDX-License-Identifier: GPL-2.0 */
/* The API server over libcurl: one-shot requests and a line-by-line watch stream. */
#ifndef XWG_KUBE_HTTP_H
#define XWG_KUBE_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "kube_config.h"

struct kube_reply {
	long status;		/* HTTP status, 0 when no answer came */
	char *body;		/* NUL-terminated, free() it */
	size_t len;
};

/* Called per complete line of a watch stream; a non-zero return ends the stream. */
typedef int (*kube_line_fn)(void *ctx, const char *line, size_t len);

/* Once per process, before any thread uses libcurl. */
int kube_http_init(void);

/*
 * method GET or PATCH (body with content_type) on path ("/api/v1/nodes/x"). 0 when an answer came
 * (any status), else -errno with libcurl's reason in err.
 */
int kube_request(const struct kube_config *kc, const char *method, const char *path, const char *content_type,
		 const char *body, struct kube_reply *reply, char *err, size_t errlen);

/*
 * Streams path, handing each line to fn, until the server ends it, fn returns non-zero, *stop is
 * set or max_s seconds passed. *status is the HTTP status (0: none). 0 when the stream ended
 * normally or fn ended it, else -errno with a message in err.
 */
int kube_watch(const struct kube_config *kc, const char *path, kube_line_fn fn, void *ctx,
	       const atomic_bool *stop, long max_s, long *status, char *err, size_t errlen);

#endif

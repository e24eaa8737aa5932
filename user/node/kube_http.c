/* SPDX-License-Identifier: GPL-2.0 */
/* libcurl transfers to the API server: TLS with its CA or client certificate, the bearer token, streamed watches. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_http.h"

/* An API server that does not answer within this is down for our purposes; the caller retries. */
#define KUBE_CONNECT_S	5
#define KUBE_REQUEST_S	20
/* Replies to single-object or list calls on a node-sized cluster stay far below this. */
#define KUBE_BODY_MAX	(64 << 20)
/* One watch event is one Node object: a line longer than this is not one. */
#define KUBE_LINE_MAX	(4 << 20)

int kube_http_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
}

static void kube_blob(CURL *c, CURLoption opt, const struct kube_pem *pem)
{
	struct curl_blob blob = { .data = pem->data, .len = pem->len, .flags = CURL_BLOB_COPY };

	curl_easy_setopt(c, opt, &blob);
}

/* Everything both kinds of transfer share: TLS trust, client identity, the token, timeouts. */
static CURL *kube_easy(const struct kube_config *kc, const char *path, struct curl_slist **hdrs)
{
	char *url = NULL, *auth = NULL;
	CURL *c = curl_easy_init();

	if (!c || asprintf(&url, "%s%s", kc->server, path) < 0)
		goto err;
	curl_easy_setopt(c, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)KUBE_CONNECT_S);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (kc->ca.data)
		kube_blob(c, CURLOPT_CAINFO_BLOB, &kc->ca);
	else if (kc->ca.path)
		curl_easy_setopt(c, CURLOPT_CAINFO, kc->ca.path);
	if (kc->cert.data)
		kube_blob(c, CURLOPT_SSLCERT_BLOB, &kc->cert);
	else if (kc->cert.path)
		curl_easy_setopt(c, CURLOPT_SSLCERT, kc->cert.path);
	if (kc->key.data)
		kube_blob(c, CURLOPT_SSLKEY_BLOB, &kc->key);
	else if (kc->key.path)
		curl_easy_setopt(c, CURLOPT_SSLKEY, kc->key.path);
	if (kc->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	*hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (kc->token) {
		if (asprintf(&auth, "Authorization: Bearer %s", kc->token) < 0)
			goto err;
		struct curl_slist *h = curl_slist_append(*hdrs, auth);

		memset(auth, 0, strlen(auth));
		free(auth);
		if (!h)
			goto err;
		*hdrs = h;
	}
	if (!*hdrs)
		goto err;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	return c;
err:
	curl_slist_free_all(*hdrs);
	*hdrs = NULL;
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

static size_t kube_collect(char *data, size_t size, size_t n, void *ctx)
{
	struct kube_reply *r = ctx;
	size_t add = size * n;
	char *nb;

	if (r->len + add > KUBE_BODY_MAX)
		return 0;
	nb = realloc(r->body, r->len + add + 1);
	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, data, add);
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static int kube_curl_err(CURLcode rc, const char *errbuf, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	return -EIO;
}

int kube_request(const struct kube_config *kc, const char *method, const char *path, const char *content_type,
		 const char *body, struct kube_reply *reply, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "", ctype[128];
	struct curl_slist *hdrs = NULL;
	CURL *c = kube_easy(kc, path, &hdrs);
	CURLcode rc;
	int ret = 0;

	memset(reply, 0, sizeof(*reply));
	if (!c) {
		snprintf(err, errlen, "%s: cannot set up the request", path);
		return -ENOMEM;
	}
	if (content_type) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
		struct curl_slist *h = curl_slist_append(hdrs, ctype);

		if (h)
			hdrs = h;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)KUBE_REQUEST_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, kube_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		ret = kube_curl_err(rc, errbuf, path, err, errlen);
		free(reply->body);
		memset(reply, 0, sizeof(*reply));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
		if (!reply->body)
			reply->body = strdup("");
		if (!reply->body)
			ret = -ENOMEM;
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return ret;
}

/* ---- watch: lines as they arrive */

struct kube_stream {
	kube_line_fn fn;
	void *ctx;
	const atomic_bool *stop;
	char *buf;
	size_t len, cap;
	bool ended;		/* fn asked to end: not an error */
	CURL *c;
	long status;
};

static int kube_stream_line(struct kube_stream *s, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r'))
		len--;
	if (!len)
		return 0;
	return s->fn(s->ctx, line, len);
}

static size_t kube_stream_write(char *data, size_t size, size_t n, void *ctx)
{
	struct kube_stream *s = ctx;
	size_t add = size * n;
	char *nl;

	if (!s->status)
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
	/* A refusal (410 Gone, 403) carries a Status object, not events: the status code says it all. */
	if (s->status != 200)
		return add;
	if (s->len + add + 1 > s->cap) {
		size_t cap = (s->len + add + 1) * 2;
		char *nb;

		if (cap > KUBE_LINE_MAX * 2 || !(nb = realloc(s->buf, cap)))
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	s->buf[s->len] = '\0';
	/* Every complete line now; the tail waits for the rest. */
	while ((nl = memchr(s->buf, '\n', s->len))) {
		size_t l = (size_t)(nl - s->buf);

		*nl = '\0';
		if (kube_stream_line(s, s->buf, l)) {
			s->ended = true;
			return 0;
		}
		memmove(s->buf, nl + 1, s->len - l - 1);
		s->len -= l + 1;
		s->buf[s->len] = '\0';
	}
	return s->len > KUBE_LINE_MAX ? 0 : add;
}

static int kube_stream_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct kube_stream *s = ctx;

	return s->stop && atomic_load(s->stop) ? 1 : 0;
}

int kube_watch(const struct kube_config *kc, const char *path, kube_line_fn fn, void *ctx,
	       const atomic_bool *stop, long max_s, long *status, char *err, size_t errlen)
{
	struct kube_stream s = { .fn = fn, .ctx = ctx, .stop = stop };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	int ret = 0;

	*status = 0;
	s.c = kube_easy(kc, path, &hdrs);
	if (!s.c) {
		snprintf(err, errlen, "%s: cannot set up the request", path);
		return -ENOMEM;
	}
	curl_easy_setopt(s.c, CURLOPT_TIMEOUT, max_s);
	curl_easy_setopt(s.c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, kube_stream_write);
	curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(s.c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s.c, CURLOPT_XFERINFOFUNCTION, kube_stream_progress);
	curl_easy_setopt(s.c, CURLOPT_XFERINFODATA, &s);
	rc = curl_easy_perform(s.c);
	curl_easy_getinfo(s.c, CURLINFO_RESPONSE_CODE, status);
	/*
	 * A last line without its newline: complete JSON when the server just ended there, else the half
	 * of an event a dropped stream cut, which the parser refuses (logged) and the resume sends again.
	 */
	if (s.len && *status == 200 && !s.ended)
		kube_stream_line(&s, s.buf, s.len);
	if (rc != CURLE_OK && !s.ended && !(stop && atomic_load(stop)))
		ret = kube_curl_err(rc, errbuf, path, err, errlen);
	free(s.buf);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(s.c);
	return ret;
}

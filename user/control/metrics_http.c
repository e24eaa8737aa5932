/* SPDX-License-Identifier: GPL-2.0 */
/* The agent's HTTP endpoint (--metrics-listen): /metrics and /healthz served by libmicrohttpd's own thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "encoding.h"
#include "metrics.h"
#include "show.h"

/*
 * Thread safety. libmicrohttpd answers on a thread of its own, and nothing in the device (peers,
 * keypairs, counters, BPF maps) is locked: only the event loop may read it. So the handler never
 * touches the device. It asks the agent's own UAPI socket for a get, exactly as `xwg metrics` does
 * from outside; the event loop serves that between its other events, so a scrape sees a consistent
 * state and `xwg show --json` and /metrics read the same keys. A wedged loop makes a scrape fail
 * (503) after agent_connect's 5 s timeout. The server is stopped only after the UAPI socket is
 * closed, so a scrape in flight at shutdown fails at once instead of holding the stop up.
 */

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_CONNECTIONS 16	/* scrapers are few; each scrape costs the event loop a get */
#define METRICS_CONNECTION_TIMEOUT_S 10

static struct {
	struct MHD_Daemon *daemon;
	char ifname[IFNAMSIZ];
	char url[80];
} metrics_http;

int metrics_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *port, *end;
	bool v6 = s[0] == '[';
	uint64_t p;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	end = v6 ? strchr(s, ']') : strrchr(s, ':');
	if (!end || (v6 && end[1] != ':'))
		return -EINVAL;
	hlen = (size_t)(end - s) - v6;
	port = end + 1 + v6;
	if (!hlen || hlen >= sizeof(host) || uint_parse(port, 65535, &p) || !p)
		return -EINVAL;
	memcpy(host, s + v6, hlen);
	host[hlen] = '\0';
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)p);
	*len = sizeof(*in4);
	return inet_pton(AF_INET, host, &in4->sin_addr) == 1 ? 0 : -EINVAL;
}

const char *metrics_http_url(void)
{
	return metrics_http.url;
}

static enum MHD_Result metrics_http_reply(struct MHD_Connection *c, unsigned int status, char *body, size_t len,
					  const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) == MHD_NO) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A short text reply; the body is copied so the reply can free it like the others. */
static enum MHD_Result metrics_http_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	char *body = strdup(text);

	return body ? metrics_http_reply(c, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result metrics_http_metrics(struct MHD_Connection *c)
{
	char *body = NULL, msg[160];
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	ret = metrics_print(metrics_http.ifname, f, true);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (!ret)
		return metrics_http_reply(c, MHD_HTTP_OK, body, len, METRICS_CONTENT_TYPE);
	free(body);
	snprintf(msg, sizeof(msg), "xwg: %s: cannot read the agent's state: %s\n", metrics_http.ifname,
		 strerror(-ret));
	return metrics_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

/* Healthy while the event loop answers a get on the UAPI socket (the same path /metrics takes). */
static enum MHD_Result metrics_http_healthz(struct MHD_Connection *c)
{
	struct show_device d = { 0 };
	int ret = show_fetch(metrics_http.ifname, &d, false);

	show_device_free(&d);
	return metrics_http_text(c, ret ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, ret ? "unavailable\n" : "ok\n");
}

static enum MHD_Result metrics_http_answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
					   const char *version, const char *upload_data, size_t *upload_data_size,
					   void **req_cls)
{
	/* A body (nobody should send one) is read and ignored; the reply waits until it is in. */
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") && strcmp(url, "/healthz"))
		return metrics_http_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics or /healthz\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return metrics_http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	return url[1] == 'm' ? metrics_http_metrics(c) : metrics_http_healthz(c);
}

/* Our own listening socket, so a bind failure reports its real errno. fd or -errno. */
static int metrics_http_socket(const struct sockaddr_storage *ss, socklen_t len)
{
	int one = 1, fd, ret;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, METRICS_MAX_CONNECTIONS) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int metrics_http_start(const char *ifname, const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret;

	if (metrics_listen_parse(listen, &ss, &len)) {
		snprintf(err, errlen, "%s: invalid --metrics-listen '%s' (want ADDR:PORT, e.g. 127.0.0.1:9586)", ifname,
			 listen);
		return -EINVAL;
	}
	fd = metrics_http_socket(&ss, len);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot serve metrics on %s: %s", ifname, listen, strerror(-fd));
		return fd;
	}
	snprintf(metrics_http.ifname, sizeof(metrics_http.ifname), "%s", ifname);
	errno = 0;
	metrics_http.daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, metrics_http_answer, NULL,
					       MHD_OPTION_LISTEN_SOCKET, fd,
					       MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_MAX_CONNECTIONS,
					       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONNECTION_TIMEOUT_S,
					       MHD_OPTION_END);
	if (!metrics_http.daemon) {
		ret = errno ? -errno : -EIO;
		close(fd);
		snprintf(err, errlen, "%s: cannot start the metrics server on %s: %s", ifname, listen, strerror(-ret));
		return ret;
	}
	snprintf(metrics_http.url, sizeof(metrics_http.url), "http://%s/metrics", listen);
	return 0;
}

void metrics_http_stop(void)
{
	/* Joins the server's thread and closes the listening socket. */
	if (metrics_http.daemon)
		MHD_stop_daemon(metrics_http.daemon);
	metrics_http.daemon = NULL;
	metrics_http.url[0] = '\0';
}

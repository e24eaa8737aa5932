/* SPDX-License-Identifier: GPL-2.0 */
/* The endpoint-name resolver: one worker thread doing blocking getaddrinfo, answers posted back through an eventfd. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include "device.h"
#include "reresolve.h"
#include "resolver.h"

#define RESOLVER_TICK_NS NSEC_PER_SEC

struct resolver_job {
	struct resolver_job *next;
	uint64_t peer_id, gen;		/* whose name, which version of it (the peer may be gone by then) */
	char host[ENDPOINT_HOST_MAX];
	uint16_t port;
	int err;			/* 0, or getaddrinfo's EAI_* */
	struct sockaddr_storage addr;
};

/*
 * Shared by the loop and the worker, freed by whichever lets go last: a lookup can block for as
 * long as the resolver's timeouts, and stopping the device must not wait for it.
 */
struct resolver {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct resolver_job *todo, *done;	/* LIFO; order does not matter, each names its peer */
	int efd;
	int refs;
	bool closing;
};

static void resolver_free_jobs(struct resolver_job *j)
{
	while (j) {
		struct resolver_job *next = j->next;

		free(j);
		j = next;
	}
}

/* Drops one reference under the lock (which it releases); the last one frees everything. */
static void resolver_put_locked(struct resolver *r)
{
	bool last = --r->refs == 0;

	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	resolver_free_jobs(r->todo);
	resolver_free_jobs(r->done);
	close(r->efd);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Like `xwg up` (encoding.c): the first IPv4 or IPv6 address, transient failures tried 3 times. */
static void resolver_lookup(struct resolver_job *j)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res, *ai;
	int tries = 0;

	do {
		j->err = getaddrinfo(j->host, NULL, &hints, &res);
	} while (j->err == EAI_AGAIN && ++tries < 3);
	if (j->err)
		return;
	j->err = EAI_NONAME;
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(j->addr))
			continue;
		memset(&j->addr, 0, sizeof(j->addr));
		memcpy(&j->addr, ai->ai_addr, ai->ai_addrlen);
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)&j->addr)->sin_port = htons(j->port);
		else
			((struct sockaddr_in6 *)&j->addr)->sin6_port = htons(j->port);
		j->err = 0;
		break;
	}
	freeaddrinfo(res);
}

static void *resolver_worker(void *arg)
{
	struct resolver *r = arg;
	struct resolver_job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->closing && !r->todo)
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->closing)
			break;
		j = r->todo;
		r->todo = j->next;
		pthread_mutex_unlock(&r->lock);
		resolver_lookup(j);
		pthread_mutex_lock(&r->lock);
		j->next = r->done;
		r->done = j;
		if (write(r->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			r->closing = true;	/* cannot happen with an eventfd; never spin */
	}
	resolver_put_locked(r);
	return NULL;
}

/* The resolver and its thread, on the first lookup only: most devices never need one. */
static struct resolver *resolver_get(struct xwg_device *dev)
{
	struct resolver *r = dev->resolver;
	pthread_attr_t attr;
	pthread_t t;
	int ret;

	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0)
		goto err_free;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->refs = 2;
	if (pthread_attr_init(&attr))
		goto err_close;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &attr, resolver_worker, r);
	pthread_attr_destroy(&attr);
	if (ret)
		goto err_close;
	if (device_watch(dev, r->efd) < 0) {
		/* No way to hear the answers: let the thread go and try again at the next tick. */
		pthread_mutex_lock(&r->lock);
		r->closing = true;
		pthread_cond_signal(&r->wake);
		resolver_put_locked(r);
		return NULL;
	}
	dev->resolver = r;
	return r;

err_close:
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	close(r->efd);
err_free:
	free(r);
	return NULL;
}

static void resolver_submit(struct xwg_device *dev, struct peer *peer)
{
	struct resolver *r = resolver_get(dev);
	struct resolver_job *j;

	if (!r)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->peer_id = peer->internal_id;
	j->gen = peer->endpoint_name.gen;
	memcpy(j->host, peer->endpoint_name.host, sizeof(j->host));
	j->port = peer->endpoint_name.port;
	reresolve_started(peer, now_ns(), dev->tune.reresolve_after_s);
	pthread_mutex_lock(&r->lock);
	j->next = r->todo;
	r->todo = j;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void resolver_tick(struct xwg_device *dev)
{
	uint64_t now = now_ns();
	struct timespec wall;

	if (!dev->tune.reresolve_after_s || now - dev->resolver_checked < RESOLVER_TICK_NS)
		return;
	dev->resolver_checked = now;
	clock_gettime(CLOCK_REALTIME, &wall);
	for (struct peer *p = dev->peers; p; p = p->next_peer)
		if (reresolve_due(p, now, wall.tv_sec, dev->tune.reresolve_after_s))
			resolver_submit(dev, p);
}

int resolver_fd(const struct xwg_device *dev)
{
	return dev->resolver ? dev->resolver->efd : -1;
}

static void resolver_format(char *buf, size_t len, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
}

/* One answer: applied by the core, said on stderr (the agent's log) unless it was stale. */
static void resolver_apply(struct xwg_device *dev, struct resolver_job *j)
{
	char old[64], new[64];
	struct peer *p;

	for (p = dev->peers; p && p->internal_id != j->peer_id; p = p->next_peer)
		;
	if (!p)
		return;
	resolver_format(old, sizeof(old), &p->endpoint.addr.sa);
	switch (reresolve_finished(p, j->gen, j->err ? NULL : (struct sockaddr *)&j->addr)) {
	case RERESOLVE_FAILED:
		fprintf(stderr, "xwg: %s: cannot resolve endpoint %s again: %s; keeping %s\n", dev->ifname, j->host,
			gai_strerror(j->err), old);
		break;
	case RERESOLVE_SAME:
		fprintf(stderr, "xwg: %s: resolved endpoint %s again: %s, unchanged\n", dev->ifname, j->host, old);
		break;
	case RERESOLVE_CHANGED:
		resolver_format(new, sizeof(new), &p->endpoint.addr.sa);
		fprintf(stderr, "xwg: %s: resolved endpoint %s again: %s, was %s\n", dev->ifname, j->host, new, old);
		break;
	case RERESOLVE_STALE:
		break;
	}
}

void resolver_collect(struct xwg_device *dev)
{
	struct resolver *r = dev->resolver;
	struct resolver_job *done, *next;
	uint64_t count;

	if (!r)
		return;
	if (read(r->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&r->lock);
	done = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	for (; done; done = next) {
		next = done->next;
		resolver_apply(dev, done);
		free(done);
	}
}

void resolver_stop(struct xwg_device *dev)
{
	struct resolver *r = dev->resolver;

	if (!r)
		return;
	dev->resolver = NULL;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_signal(&r->wake);
	resolver_put_locked(r);
}

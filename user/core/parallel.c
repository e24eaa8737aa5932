/* SPDX-License-Identifier: GPL-2.0 */
/* The crypto worker pool: fork-join over one batch at a time, the caller working too. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include "crypto.h"
#include "parallel.h"

/* Below this many items a wake-up costs more than the work it would share. */
#define PARALLEL_MIN_ITEMS	8
/* Items claimed at a time: few enough to balance, enough to keep the shared counter cool. */
#define PARALLEL_CHUNK		4

struct parallel_job {
	parallel_fn fn;
	void *arg;
	unsigned int n;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t start, done;
	pthread_t tid[PARALLEL_MAX_THREADS];
	unsigned int workers;
	unsigned long generation;	/* bumped per job: wakes the workers */
	bool open, stopping;		/* a job may still be joined; the pool goes away */
	unsigned int active;		/* workers inside the open job */
	struct parallel_job job;
	atomic_uint next;		/* the next unclaimed item */
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.start = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static void parallel_work(const struct parallel_job *job)
{
	unsigned int i;

	while ((i = atomic_fetch_add_explicit(&pool.next, PARALLEL_CHUNK, memory_order_relaxed)) < job->n) {
		unsigned int end = i + PARALLEL_CHUNK < job->n ? i + PARALLEL_CHUNK : job->n;

		for (; i < end; i++)
			job->fn(job->arg, i);
	}
}

static void *parallel_worker(void *unused)
{
	unsigned long seen = 0;
	struct parallel_job job;

	for (;;) {
		pthread_mutex_lock(&pool.lock);
		while (pool.generation == seen && !pool.stopping)
			pthread_cond_wait(&pool.start, &pool.lock);
		if (pool.stopping) {
			pthread_mutex_unlock(&pool.lock);
			/* Its AEAD contexts are thread-local: they would leak with the thread (LeakSanitizer). */
			crypto_thread_release();
			return NULL;
		}
		seen = pool.generation;
		/* A worker that wakes after the caller finished the job alone must not touch it. */
		if (!pool.open) {
			pthread_mutex_unlock(&pool.lock);
			continue;
		}
		pool.active++;
		job = pool.job;
		pthread_mutex_unlock(&pool.lock);

		parallel_work(&job);

		pthread_mutex_lock(&pool.lock);
		if (--pool.active == 0)
			pthread_cond_signal(&pool.done);
		pthread_mutex_unlock(&pool.lock);
	}
}

unsigned int parallel_threads(void)
{
	return pool.workers + 1;
}

int parallel_start(unsigned int threads)
{
	sigset_t all, old;
	int ret = 0;

	if (pool.workers)
		return -EALREADY;
	if (!threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		threads = cpus > 0 ? (unsigned int)cpus : 1;
	}
	if (threads > PARALLEL_MAX_THREADS)
		threads = PARALLEL_MAX_THREADS;
	/* Workers never take signals: the event loop reads them from its signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pool.stopping = false;
	while (pool.workers + 1 < threads) {
		ret = -pthread_create(&pool.tid[pool.workers], NULL, parallel_worker, NULL);
		if (ret)
			break;
		pool.workers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		parallel_stop();
	return ret;
}

void parallel_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	pthread_cond_broadcast(&pool.start);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned int i = 0; i < pool.workers; i++)
		pthread_join(pool.tid[i], NULL);
	pool.workers = 0;
	pool.stopping = false;
}

void parallel_run(parallel_fn fn, void *arg, unsigned int n)
{
	struct parallel_job job = { .fn = fn, .arg = arg, .n = n };

	if (!pool.workers || n < PARALLEL_MIN_ITEMS) {
		for (unsigned int i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&pool.lock);
	pool.job = job;
	atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
	pool.open = true;
	pool.generation++;
	pthread_cond_broadcast(&pool.start);
	pthread_mutex_unlock(&pool.lock);

	parallel_work(&job);

	/* Every item is claimed; wait for the workers still finishing theirs. */
	pthread_mutex_lock(&pool.lock);
	pool.open = false;
	while (pool.active)
		pthread_cond_wait(&pool.done, &pool.lock);
	pthread_mutex_unlock(&pool.lock);
}

/* SPDX-License-Identifier: GPL-2.0 */
/* The crypto workers: one function run over the items of a batch on several CPUs (fork-join). */
#ifndef XWG_PARALLEL_H
#define XWG_PARALLEL_H

/*
 * The data path encrypts and decrypts a batch at a time. Each item is independent and writes only
 * its own slot; order is kept by the caller, which sends or delivers the slots in batch order after
 * parallel_run returns (the simplest ordered queue: a whole batch is the unit, as the kernel's
 * per-peer serial queue and wireguard-go's ordered channels keep order per packet).
 */
typedef void (*parallel_fn)(void *arg, unsigned int item);

#define PARALLEL_MAX_THREADS	64
/* Starts threads - 1 workers (the caller is the last one); 0 = one per online CPU. 0 or -errno. */
int parallel_start(unsigned int threads);
/* Stops and joins the workers (a no-op when none run). */
void parallel_stop(void);
/* Threads that take part in a batch, the caller included (1 when no workers run). */
unsigned int parallel_threads(void);
/* Runs fn(arg, i) for every i < n, on the workers and the caller; returns when all are done. */
void parallel_run(parallel_fn fn, void *arg, unsigned int n);

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* Fixed-width types usable from both BPF programs (vmlinux.h) and userspace. */
#ifndef XWG_TYPES_H
#define XWG_TYPES_H

#if defined(__bpf__)
/* vmlinux.h provides __u8..__u64 */
#else
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/* An IP prefix as every layer passes it around (parsed by control, installed by the data plane). */
#ifndef XWG_PREFIX_H
#define XWG_PREFIX_H

#include <stdint.h>

struct xwg_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network order; masked to cidr */
	uint8_t cidr;
};

#endif

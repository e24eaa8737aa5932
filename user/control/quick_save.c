/* SPDX-License-Identifier: GPL-2.0 */
/* SaveConfig: the running configuration written back over the file on down, as wg-quick does. */
#include <errno.h>
#include <stdio.h>
#include "quick.h"

int quick_save(const struct xwg_config *cfg, const char *ifname, const char *path,
	       int (*getconf)(void *ctx, FILE *out), void *ctx, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: SaveConfig is not implemented yet", ifname);
	return -EOPNOTSUPP;
}

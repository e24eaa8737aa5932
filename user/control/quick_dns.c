/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's DNS: the file's servers and search domains through resolvconf or resolvectl, undone on down. */
#include <errno.h>
#include <stdio.h>
#include "quick.h"

int quick_dns_up(const struct xwg_config *cfg, struct quick_state *st, char *err, size_t errlen)
{
	if (!cfg->n_dns && !cfg->n_dns_search)
		return 0;
	snprintf(err, errlen, "%s: DNS is not implemented yet", cfg->ifname);
	return -EOPNOTSUPP;
}

void quick_dns_down(const struct quick_state *st)
{
}

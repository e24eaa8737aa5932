/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's firewall for a full tunnel, as its nftables table per family (libnftables), and src_valid_mark. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include "quick_route.h"

#define QUICK_FW_SYSCTL "/proc/sys/net/ipv4/conf/all/src_valid_mark"

/* Runs one nft batch (all or nothing); on failure err gets nft's first error line. */
static int quick_fw_run(const char *cmds, const char *ifname, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int ret;

	if (!nft) {
		snprintf(err, errlen, "%s: nftables: out of memory", ifname);
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, cmds);
	if (ret) {
		msg = nft_ctx_get_error_buffer(nft);
		snprintf(err, errlen, "%s: nftables: %.*s", ifname, msg ? (int)strcspn(msg, "\n") : 0, msg ? msg : "");
		ret = -EIO;
	}
	nft_ctx_free(nft);
	return ret;
}

/* "ip" or "ip6": the nftables family and the name of its address match. */
static const char *quick_fw_pf(int family)
{
	return family == AF_INET6 ? "ip6" : "ip";
}

int quick_fw_add(const char *ifname, int family, const struct xwg_prefix *addrs, size_t n_addrs, uint32_t mark,
		 char *err, size_t errlen)
{
	const char *pf = quick_fw_pf(family);
	char ip[INET6_ADDRSTRLEN], *cmds = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&cmds, &len);
	int ret;

	if (!f) {
		snprintf(err, errlen, "%s: nftables: out of memory", ifname);
		return -ENOMEM;
	}
	/* Add, delete, add in one transaction: an adopted tunnel's old table is swapped, never missing. */
	fprintf(f, "add table %s wg-quick-%s\n", pf, ifname);
	fprintf(f, "delete table %s wg-quick-%s\n", pf, ifname);
	fprintf(f, "add table %s wg-quick-%s\n", pf, ifname);
	fprintf(f, "add chain %s wg-quick-%s preraw { type filter hook prerouting priority -300; }\n", pf, ifname);
	fprintf(f, "add chain %s wg-quick-%s premangle { type filter hook prerouting priority -150; }\n", pf,
		     ifname);
	fprintf(f, "add chain %s wg-quick-%s postmangle { type filter hook postrouting priority -150; }\n", pf,
		     ifname);
	/* A tunnel address is reached through the tunnel only: nobody on the LAN may probe it. */
	for (size_t i = 0; i < n_addrs; i++) {
		if (addrs[i].family != family || !inet_ntop(family, addrs[i].addr, ip, sizeof(ip)))
			continue;
		fprintf(f, "add rule %s wg-quick-%s preraw iifname != \"%s\" %s daddr %s fib saddr type != local drop\n",
			pf, ifname, ifname, pf, ip);
	}
	/* The mark of the encrypted packets sticks to their connection, so the replies skip the tunnel too. */
	fprintf(f, "add rule %s wg-quick-%s postmangle meta l4proto udp mark %u ct mark set mark\n", pf, ifname, mark);
	fprintf(f, "add rule %s wg-quick-%s premangle meta l4proto udp meta mark set ct mark\n", pf, ifname);
	ret = fclose(f) ? -errno : 0;
	if (ret || !cmds) {
		snprintf(err, errlen, "%s: nftables: out of memory", ifname);
		free(cmds);
		return ret ? ret : -ENOMEM;
	}
	ret = quick_fw_run(cmds, ifname, err, errlen);
	free(cmds);
	return ret;
}

int quick_fw_del(const char *ifname, int family, char *err, size_t errlen)
{
	const char *pf = quick_fw_pf(family);
	char cmds[160];

	/* "add" first makes the delete succeed whether or not the table is still there. */
	snprintf(cmds, sizeof(cmds), "add table %s wg-quick-%s\ndelete table %s wg-quick-%s\n", pf, ifname, pf,
		 ifname);
	return quick_fw_run(cmds, ifname, err, errlen);
}

int quick_fw_sysctl_get(int *value)
{
	char buf[16] = "";
	int fd = open(QUICK_FW_SYSCTL, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *end;
	long v;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n'))
		return -EIO;
	*value = (int)v;
	return 0;
}

int quick_fw_sysctl_set(int value)
{
	char buf[16];
	int fd = open(QUICK_FW_SYSCTL, O_WRONLY | O_CLOEXEC);
	int len = snprintf(buf, sizeof(buf), "%d\n", value), ret = 0;

	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, buf, (size_t)len) != len)
		ret = errno ? -errno : -EIO;
	close(fd);
	return ret;
}

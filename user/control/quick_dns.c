/* SPDX-License-Identifier: GPL-2.0 */
/* wg-quick's DNS: the file's servers and search domains through resolvconf or resolvectl, undone on down. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "quick.h"

/* Debian's resolvconf orders interfaces by name; wg-quick takes its first "NAME*" pattern as a prefix. */
#define DNS_INTERFACE_ORDER "/etc/resolvconf/interface-order"
#define DNS_ARGS_MAX 64		/* "resolvectl dns IF" plus that many servers or domains per command */

/* Whether prog is an executable file in one of PATH's directories, as posix_spawnp would find it. */
static bool quick_dns_have(const char *prog)
{
	const char *path = getenv("PATH"), *dir, *end;
	char file[PATH_MAX];
	struct stat st;

	if (!path)
		path = "/bin:/usr/bin";	/* what execvp and posix_spawnp use without PATH */
	for (dir = path; dir; dir = *end ? end + 1 : NULL) {
		end = dir + strcspn(dir, ":");
		snprintf(file, sizeof(file), "%.*s%s%s", (int)(end - dir), dir, end > dir ? "/" : "./", prog);
		if (!stat(file, &st) && S_ISREG(st.st_mode) && !access(file, X_OK))
			return true;
	}
	return false;
}

/* wg-quick's resolvconf_iface_prefix: "NAME." for the first "NAME*" line of interface-order, or "". */
static void quick_dns_prefix(char *buf, size_t len)
{
	char line[256];
	FILE *f;

	buf[0] = '\0';
	f = fopen(DNS_INTERFACE_ORDER, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *s = text_trim(line);
		size_t n = strlen(s);

		if (n < 2 || s[n - 1] != '*')
			continue;
		s[--n] = '\0';
		if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != n)
			continue;
		snprintf(buf, len, "%s.", s);
		break;
	}
	fclose(f);
}

static void quick_dns_server(char *buf, size_t len, const struct xwg_prefix *p)
{
	if (!inet_ntop(p->family, p->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* "10.0.0.1, corp.example": the DNS line as the error messages quote it. */
static void quick_dns_describe(const struct xwg_config *cfg, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->n_dns + cfg->n_dns_search && off < len; i++) {
		const char *s = addr;

		if (i < cfg->n_dns)
			quick_dns_server(addr, sizeof(addr), &cfg->dns[i]);
		else
			s = cfg->dns_search[i - cfg->n_dns];
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", s);
	}
}

/* Runs argv; 0, or -ECANCELED with err saying which command failed and how. */
static int quick_dns_exec(char *const argv[], const char *input, const char *ifname, char *err, size_t errlen)
{
	char line[512];
	size_t off = 0;
	int ret;

	for (int i = 0; argv[i] && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s", i ? " " : "", argv[i]);
	fprintf(stderr, "[#] %s\n", line);
	fflush(stderr);
	ret = quick_spawn(argv, input, NULL);
	if (!ret)
		return 0;
	if (ret < 0)
		snprintf(err, errlen, "%s: cannot run '%s': %s", ifname, line, strerror(-ret));
	else
		snprintf(err, errlen, "%s: '%s' failed (exit status %d)", ifname, line, ret);
	return -ECANCELED;
}

/* wg-quick's set_dns: "nameserver" and "search" lines on the stdin of resolvconf -a IFACE -m 0 -x. */
static int quick_dns_resolvconf_up(const struct xwg_config *cfg, struct quick_state *st, char *err, size_t errlen)
{
	char iface[IFNAMSIZ + 64], addr[INET6_ADDRSTRLEN], *text = NULL;
	char *argv[] = { "resolvconf", "-a", iface, "-m", "0", "-x", NULL };
	size_t len = 0;
	FILE *f;
	int ret;

	quick_dns_prefix(iface, sizeof(iface));
	snprintf(iface + strlen(iface), sizeof(iface) - strlen(iface), "%s", cfg->ifname);
	f = open_memstream(&text, &len);
	if (!f)
		goto err_nomem;
	for (size_t i = 0; i < cfg->n_dns; i++) {
		quick_dns_server(addr, sizeof(addr), &cfg->dns[i]);
		fprintf(f, "nameserver %s\n", addr);
	}
	for (size_t i = 0; i < cfg->n_dns_search; i++)
		fprintf(f, "%s%s", i ? " " : "search ", cfg->dns_search[i]);
	if (cfg->n_dns_search)
		fputc('\n', f);
	if (fclose(f))
		goto err_nomem;
	/* Recorded first: a crash right after resolvconf must still leave down something to undo. */
	ret = quick_state_set(st, "dns.resolvconf", "%s", iface);
	if (ret)
		snprintf(err, errlen, "%s: cannot write %s: %s", cfg->ifname, st->path, strerror(-ret));
	else
		ret = quick_dns_exec(argv, text, cfg->ifname, err, errlen);
	free(text);
	return ret;

err_nomem:
	free(text);
	snprintf(err, errlen, "%s: out of memory", cfg->ifname);
	return -ENOMEM;
}

/* systemd-resolved's per-link servers and domains, which it forgets itself when the link goes. */
static int quick_dns_resolvectl_up(const struct xwg_config *cfg, struct quick_state *st, char *err, size_t errlen)
{
	char addrs[DNS_ARGS_MAX][INET6_ADDRSTRLEN];
	char *argv[DNS_ARGS_MAX + 4] = { "resolvectl", "dns", (char *)cfg->ifname };
	size_t n;
	int ret;

	if (cfg->n_dns > DNS_ARGS_MAX || cfg->n_dns_search > DNS_ARGS_MAX) {
		snprintf(err, errlen, "%s: more than %d DNS servers or search domains", cfg->ifname, DNS_ARGS_MAX);
		return -E2BIG;
	}
	ret = quick_state_set(st, "dns.resolvectl", "%s", cfg->ifname);
	if (ret) {
		snprintf(err, errlen, "%s: cannot write %s: %s", cfg->ifname, st->path, strerror(-ret));
		return ret;
	}
	if (cfg->n_dns) {
		for (n = 0; n < cfg->n_dns; n++) {
			quick_dns_server(addrs[n], sizeof(addrs[n]), &cfg->dns[n]);
			argv[3 + n] = addrs[n];
		}
		argv[3 + n] = NULL;
		ret = quick_dns_exec(argv, NULL, cfg->ifname, err, errlen);
		if (ret)
			return ret;
	}
	if (!cfg->n_dns_search)
		return 0;
	argv[1] = "domain";
	for (n = 0; n < cfg->n_dns_search; n++)
		argv[3 + n] = cfg->dns_search[n];
	argv[3 + n] = NULL;
	return quick_dns_exec(argv, NULL, cfg->ifname, err, errlen);
}

int quick_dns_up(const struct xwg_config *cfg, struct quick_state *st, char *err, size_t errlen)
{
	char what[512];

	if (!cfg->n_dns && !cfg->n_dns_search)
		return 0;
	/* resolvconf first, as wg-quick: on systemd-resolved machines it is resolvectl's own front end. */
	if (quick_dns_have("resolvconf"))
		return quick_dns_resolvconf_up(cfg, st, err, errlen);
	if (quick_dns_have("resolvectl"))
		return quick_dns_resolvectl_up(cfg, st, err, errlen);
	quick_dns_describe(cfg, what, sizeof(what));
	snprintf(err, errlen, "%s: DNS = %s needs resolvconf or resolvectl, and neither is installed",
		 cfg->ifname, what);
	return -ENOENT;
}

void quick_dns_down(const struct quick_state *st)
{
	const char *rc = quick_state_get(st, "dns.resolvconf");
	const char *rctl = quick_state_get(st, "dns.resolvectl");
	char err[512];

	/* -f: no error if resolvconf never got as far as adding it. */
	if (rc && *rc) {
		char *argv[] = { "resolvconf", "-d", (char *)rc, "-f", NULL };

		if (quick_dns_exec(argv, NULL, st->ifname, err, sizeof(err)))
			fprintf(stderr, "xwg: %s\n", err);
	}
	/* Once the link is gone, systemd-resolved has dropped its settings already. */
	if (rctl && *rctl && if_nametoindex(rctl)) {
		char *argv[] = { "resolvectl", "revert", (char *)rctl, NULL };

		if (quick_dns_exec(argv, NULL, st->ifname, err, sizeof(err)))
			fprintf(stderr, "xwg: %s\n", err);
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/* SaveConfig: the running configuration written back over the file on down, as wg-quick does. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "crypto.h"
#include "quick.h"
#include "show.h"

/*
 * A growing buffer behind a FILE for text that holds the private key: every copy it leaves behind
 * is wiped (open_memstream's realloc would free old copies as they are).
 */
struct save_buf {
	char *data;
	size_t len, cap;
};

static ssize_t save_buf_write(void *cookie, const char *p, size_t n)
{
	struct save_buf *b = cookie;
	char *grown;
	size_t cap;

	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 4096; cap < b->len + n + 1; cap *= 2)
			;
		grown = malloc(cap);
		if (!grown)
			return -1;
		if (b->data) {
			memcpy(grown, b->data, b->len);
			crypto_zero(b->data, b->cap);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (ssize_t)n;
}

/* A FILE writing into b through iobuf, a stdio buffer of the caller's that it wipes after fclose. */
static FILE *save_buf_open(struct save_buf *b, char *iobuf, size_t iolen)
{
	cookie_io_functions_t io = { .write = save_buf_write };
	FILE *f = fopencookie(b, "w", io);

	if (f)
		setvbuf(f, iobuf, _IOFBF, iolen);
	return f;
}

static void save_buf_free(struct save_buf *b)
{
	if (b->data)
		crypto_zero(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Kernel-made IPv6 link-local addresses are not configuration; one the file gave is kept. */
static bool quick_save_skip_addr(const struct xwg_config *cfg, const struct xwg_prefix *a)
{
	if (a->family != AF_INET6 || a->addr[0] != 0xfe || (a->addr[1] & 0xc0) != 0x80)
		return false;
	for (size_t i = 0; i < cfg->n_addresses; i++)
		if (cfg->addresses[i].family == AF_INET6 && !memcmp(cfg->addresses[i].addr, a->addr, 16))
			return false;
	return true;
}

static uint8_t quick_save_prefixlen(const struct sockaddr *mask, int family)
{
	const uint8_t *m = family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr
					     : ((const struct sockaddr_in6 *)mask)->sin6_addr.s6_addr;
	int bytes = family == AF_INET ? 4 : 16;
	uint8_t n = 0;

	for (int i = 0; i < bytes; i++)
		n += (uint8_t)__builtin_popcount(m[i]);
	return n;
}

/* wg-quick's "ip address show": the interface's addresses as they are now, "Address = a/len" each. */
static int quick_save_addresses(const struct xwg_config *cfg, const char *ifname, FILE *out)
{
	struct ifaddrs *ifa, *i;
	struct xwg_prefix a;
	char buf[64];

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		int family = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;

		if (strcmp(i->ifa_name, ifname) || (family != AF_INET && family != AF_INET6) || !i->ifa_netmask)
			continue;
		memset(&a, 0, sizeof(a));
		a.family = family;
		if (family == AF_INET)
			memcpy(a.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		else
			memcpy(a.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		a.cidr = quick_save_prefixlen(i->ifa_netmask, family);
		if (quick_save_skip_addr(cfg, &a))
			continue;
		prefix_format(buf, sizeof(buf), &a);
		fprintf(out, "Address = %s\n", buf);
	}
	freeifaddrs(ifa);
	return 0;
}

static int quick_save_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ret = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return ret;
}

/*
 * wg-quick's new [Interface] lines: live addresses, DNS, MTU (live, only if the file had one), Table
 * (if the file had one), SaveConfig, the hooks; then xwg's own keys the file had.
 */
static int quick_save_interface(const struct xwg_config *cfg, const char *ifname, FILE *out)
{
	char addr[INET6_ADDRSTRLEN];
	int ret, mtu;

	if (!if_nametoindex(ifname))
		return -ENODEV;	/* no addresses to save is not the same as none configured */
	ret = quick_save_addresses(cfg, ifname, out);
	if (ret)
		return ret;
	for (size_t i = 0; i < cfg->n_dns; i++) {
		if (!inet_ntop(cfg->dns[i].family, cfg->dns[i].addr, addr, sizeof(addr)))
			return -errno;
		fprintf(out, "DNS = %s\n", addr);
	}
	for (size_t i = 0; i < cfg->n_dns_search; i++)
		fprintf(out, "DNS = %s\n", cfg->dns_search[i]);
	if (cfg->mtu) {
		mtu = quick_save_mtu(ifname);
		if (mtu < 0)
			return mtu;
		fprintf(out, "MTU = %d\n", mtu);
	}
	if (cfg->has_table) {
		if (cfg->table_mode == XWG_TABLE_ID && cfg->table == 254)	/* RT_TABLE_MAIN, as written */
			fprintf(out, "Table = main\n");
		else if (cfg->table_mode == XWG_TABLE_ID)
			fprintf(out, "Table = %u\n", cfg->table);
		else
			fprintf(out, "Table = %s\n", cfg->table_mode == XWG_TABLE_OFF ? "off" : "auto");
	}
	fprintf(out, "SaveConfig = true\n");
	for (int h = 0; h < XWG_HOOK_MAX; h++)
		for (size_t i = 0; i < cfg->n_hooks[h]; i++)
			fprintf(out, "%s = %s\n", config_hook_names[h], cfg->hooks[h][i]);
	if (cfg->mode[0])
		fprintf(out, "Mode = %s\n", cfg->mode);
	if (cfg->underlay[0])
		fprintf(out, "Underlay = %s\n", cfg->underlay);
	return 0;
}

/* wg-quick's umask 077, sync and mv: a new file next to path, in place only once it is complete. */
static int quick_save_write(const char *path, const char *text, size_t len)
{
	char tmp[sizeof(((struct xwg_config *)0)->path) + 8];
	size_t done = 0;
	int fd, ret = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* Whatever sits there (a stale tmp, a planted symlink) is not written through. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (done < len && !ret) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ret = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* getconf's reply turned into the whole new file, in conf. */
static int quick_save_render(const struct xwg_config *cfg, const char *ifname, struct save_buf *reply,
			     struct save_buf *conf, char *err, size_t errlen)
{
	char iobuf[BUFSIZ], *extra = NULL;
	size_t extra_len = 0;
	FILE *in = NULL, *out = NULL, *f;
	int ret;

	f = open_memstream(&extra, &extra_len);
	if (!f)
		return -ENOMEM;
	ret = quick_save_interface(cfg, ifname, f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		snprintf(err, errlen, "%s: SaveConfig: cannot read the interface: %s", ifname, strerror(-ret));
		goto out;
	}
	in = fmemopen(reply->data, reply->len, "r");
	out = save_buf_open(conf, iobuf, sizeof(iobuf));
	if (!in || !out) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: SaveConfig: out of memory", ifname);
		goto out;
	}
	/* fmemopen reads straight from reply: unbuffered, no second copy of the key. */
	setvbuf(in, NULL, _IONBF, 0);
	ret = show_conf(in, extra, out);
	if (ret)
		snprintf(err, errlen, "%s: SaveConfig: cannot read the running configuration: %s", ifname,
			 ret == -EPROTO ? "malformed reply from the agent" : strerror(-ret));
out:
	if (in)
		fclose(in);
	if (out && fclose(out) && !ret) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: SaveConfig: out of memory", ifname);
	}
	crypto_zero(iobuf, sizeof(iobuf));
	free(extra);
	return ret;
}

int quick_save(const struct xwg_config *cfg, const char *ifname, const char *path,
	       int (*getconf)(void *ctx, FILE *out), void *ctx, char *err, size_t errlen)
{
	struct save_buf reply = { 0 }, conf = { 0 };
	char iobuf[BUFSIZ];
	FILE *f;
	int ret;

	fprintf(stderr, "[#] SaveConfig: %s\n", path);
	f = save_buf_open(&reply, iobuf, sizeof(iobuf));
	if (!f) {
		snprintf(err, errlen, "%s: SaveConfig: out of memory", ifname);
		return -ENOMEM;
	}
	ret = getconf(ctx, f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	crypto_zero(iobuf, sizeof(iobuf));
	if (ret) {
		snprintf(err, errlen, "%s: SaveConfig: cannot get the running configuration: %s", ifname,
			 strerror(-ret));
		goto out;
	}
	if (!reply.data) {
		ret = -EPROTO;
		snprintf(err, errlen, "%s: SaveConfig: empty reply from the agent", ifname);
		goto out;
	}
	ret = quick_save_render(cfg, ifname, &reply, &conf, err, errlen);
	if (ret)
		goto out;
	ret = quick_save_write(path, conf.data, conf.len);
	if (ret)
		snprintf(err, errlen, "%s: SaveConfig: cannot write %s: %s", ifname, path, strerror(-ret));
out:
	save_buf_free(&reply);
	save_buf_free(&conf);
	return ret;
}

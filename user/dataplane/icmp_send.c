/* SPDX-License-Identifier: GPL-2.0 */
/* Answering packets the tunnel cannot route (no peer, no endpoint) with an ICMP error, from the tunnel's own address. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "device.h"
#include "icmp.h"
#include "vnet.h"

#define ICMP_ADDRS	8		/* tunnel addresses remembered per family */
#define ICMP_ADDR_TTL_NS (NSEC_PER_SEC)	/* how old the cached addresses may get */

struct icmp_addr {
	uint8_t addr[16];
	uint8_t plen;
};

/*
 * Per device, set up on the first unroutable packet. The tunnel's addresses are read again when
 * the copy is older than a second, and only when an error is about to go out, so a flood of
 * unroutable packets costs at most one address dump a second (ICMP_RATE_PER_SEC bounds the rest).
 */
struct icmp_state {
	struct icmp_bucket bucket;
	int raw4;			/* IPv4 sender; -1: not open yet */
	bool raw4_refused;		/* socket() failed (no CAP_NET_RAW): no IPv4 errors */
	uint64_t addrs_ns;		/* when addrs were read; 0: never */
	unsigned int n4, n6;
	struct icmp_addr a4[ICMP_ADDRS], a6[ICMP_ADDRS];
};

static uint8_t icmp_prefix_len(const uint8_t *mask, size_t n)
{
	uint8_t plen = 0;

	for (size_t i = 0; i < n; i++)
		plen += (uint8_t)__builtin_popcount(mask[i]);
	return plen;
}

static void icmp_addr_keep(struct icmp_state *s, const struct ifaddrs *ifa)
{
	const struct sockaddr *a = ifa->ifa_addr, *m = ifa->ifa_netmask;

	if (a->sa_family == AF_INET && s->n4 < ICMP_ADDRS) {
		struct icmp_addr *x = &s->a4[s->n4++];

		memcpy(x->addr, &((const struct sockaddr_in *)a)->sin_addr, 4);
		x->plen = m ? icmp_prefix_len((const uint8_t *)&((const struct sockaddr_in *)m)->sin_addr, 4) : 32;
	} else if (a->sa_family == AF_INET6 && s->n6 < ICMP_ADDRS) {
		struct icmp_addr *x = &s->a6[s->n6++];

		memcpy(x->addr, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
		x->plen = m ? icmp_prefix_len((const uint8_t *)&((const struct sockaddr_in6 *)m)->sin6_addr, 16) : 128;
	}
}

/* The tunnel's addresses now; on failure the cache is empty, and nothing is answered. */
static void icmp_addrs_refresh(struct xwg_device *dev, struct icmp_state *s, uint64_t now)
{
	char name[IF_NAMESIZE];
	struct ifaddrs *list, *ifa;

	s->n4 = s->n6 = 0;
	s->addrs_ns = now;
	if (dev->ifindex <= 0 || !if_indextoname((unsigned int)dev->ifindex, name) || getifaddrs(&list) < 0)
		return;
	for (ifa = list; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_addr && !strcmp(ifa->ifa_name, name))
			icmp_addr_keep(s, ifa);
	freeifaddrs(list);
}

static bool icmp_in_prefix(const uint8_t *a, const uint8_t *p, unsigned int plen)
{
	unsigned int bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, p, bytes))
		return false;
	return !bits || !((a[bytes] ^ p[bytes]) & (0xff << (8 - bits)));
}

/* The subnet broadcast of a /30 or wider IPv4 prefix: all host bits set. */
static bool icmp_is_broadcast4(const uint8_t *a, unsigned int plen)
{
	uint32_t v = (uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	uint32_t host = plen >= 31 ? 0 : 0xffffffffu >> plen;

	return host && (v & host) == host;
}

static bool icmp_link_local6(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/*
 * Which tunnel address the error comes from: the one whose subnet holds the unreachable
 * destination, else the first (IPv6: the first that is not link-local, unless the sender's is).
 * NULL: none, or the destination is a subnet broadcast (never answered).
 */
static const uint8_t *icmp_pick_source(const struct icmp_state *s, const struct icmp_orig *o)
{
	const struct icmp_addr *a = o->family == 4 ? s->a4 : s->a6, *pick = NULL;
	unsigned int n = o->family == 4 ? s->n4 : s->n6;
	bool ll_ok = o->family == 6 && icmp_link_local6(o->src);

	for (unsigned int i = 0; i < n; i++) {
		if (icmp_in_prefix(o->dst, a[i].addr, a[i].plen)) {
			if (o->family == 4 && icmp_is_broadcast4(o->dst, a[i].plen))
				return NULL;
			return a[i].addr;
		}
		if (!pick && (o->family == 4 || ll_ok || !icmp_link_local6(a[i].addr)))
			pick = &a[i];
	}
	return pick ? pick->addr : NULL;
}

/*
 * IPv4 leaves through a raw socket, so the host routes it to the sender like an error it made
 * itself: written into the TUN it would arrive with one of the host's own addresses as its source,
 * which the IPv4 input path drops as a martian (fib_validate_source, unless accept_local).
 */
static int icmp_send4(struct icmp_state *s, const uint8_t *msg, size_t len, const uint8_t *dst)
{
	struct sockaddr_in to = { .sin_family = AF_INET };

	if (s->raw4 < 0 && !s->raw4_refused) {
		s->raw4 = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
		s->raw4_refused = s->raw4 < 0;
	}
	if (s->raw4 < 0)
		return -EPERM;
	memcpy(&to.sin_addr, dst, 4);
	return sendto(s->raw4, msg, len, 0, (const struct sockaddr *)&to, sizeof(to)) < 0 ? -errno : 0;
}

/* IPv6 goes in through the TUN: the stack takes it like any packet from the tunnel. */
static int icmp_send6(struct xwg_device *dev, const uint8_t *msg, size_t len)
{
	struct virtio_net_hdr hdr = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)msg, .iov_len = len },
	};

	if (dev->tun_fd < 0)
		return -EBADF;
	return writev(dev->tun_fd, dev->tun_vnet ? iov : iov + 1, dev->tun_vnet ? 2 : 1) < 0 ? -errno : 0;
}

static struct icmp_state *icmp_state(struct xwg_device *dev)
{
	if (!dev->icmp) {
		dev->icmp = calloc(1, sizeof(*dev->icmp));
		if (dev->icmp)
			dev->icmp->raw4 = -1;
	}
	return dev->icmp;
}

static uint8_t icmp_buf[ICMP_ERR_MAX];

void hooks_packet_unroutable(struct xwg_device *dev, const uint8_t *pkt, size_t len)
{
	struct icmp_state *s;
	struct icmp_orig o;
	const uint8_t *src;
	uint64_t now;
	size_t n;
	int ret;

	if (icmp_parse(pkt, len, &o) < 0)
		return;
	s = icmp_state(dev);
	now = now_ns();
	if (!s || !icmp_bucket_take(&s->bucket, now))
		return;
	if (!s->addrs_ns || now - s->addrs_ns >= ICMP_ADDR_TTL_NS)
		icmp_addrs_refresh(dev, s, now);
	src = icmp_pick_source(s, &o);
	if (!src)
		return;
	n = icmp_build_unreach(icmp_buf, &o, pkt, src);
	ret = o.family == 4 ? icmp_send4(s, icmp_buf, n, o.src) : icmp_send6(dev, icmp_buf, n);
	if (!ret)
		dev->icmp_unreach_sent++;
}

void icmp_free(struct xwg_device *dev)
{
	if (!dev->icmp)
		return;
	if (dev->icmp->raw4 >= 0)
		close(dev->icmp->raw4);
	free(dev->icmp);
	dev->icmp = NULL;
}

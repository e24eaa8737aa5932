/* SPDX-License-Identifier: GPL-2.0 */
/* Flood generator for the bench and selftests: spoofed-source WireGuard messages at a rate, and their capture. */
/*
 *   flood send KIND DST_IPV4 DST_PORT PPS SECONDS [--pubkey B64] [--src PREFIX] [--file FILE]
 *     KIND init     148-byte handshake initiations, random sender index and body; with --pubkey (the
 *                   responder's public key, which any attacker knows) mac1 is valid, so the responder
 *                   gets past its cheapest check (user/core/cookie.c computes it, linked in)
 *          data     type-4 messages with random receiver indices, counters and bodies, 32..1408 bytes
 *          garbage  random bytes, 1..1400 of them
 *          replay   the payloads of --file (written by capture), over and over
 *     Sources are random addresses in PREFIX (default 198.18.0.0/15) and random ports 1024..65535,
 *     written with a raw socket (IP_HDRINCL). Prints "sent=N errors=N secs=S pps=R".
 *   flood capture IFNAME DST_PORT COUNT FILE [SECONDS]
 *     AF_PACKET on IFNAME: the UDP payloads of up to COUNT outgoing IPv4 data messages (type 4) to
 *     DST_PORT, appended to FILE as 2-byte length (host order) + payload. Stops after SECONDS
 *     (default 10). Prints "captured=N".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "crypto.h"
#include "encoding.h"
#include "messages.h"
#include "peer.h"

#define FLOOD_POOL	4096		/* distinct payloads generated up front, sent in turn */
#define FLOOD_BATCH	32		/* datagrams per sendmmsg */
#define FLOOD_MAX	1500
#define FLOOD_HDRS	(sizeof(struct iphdr) + sizeof(struct udphdr))

struct flood_pkt {
	uint16_t len;
	uint8_t data[FLOOD_MAX];
};

struct flood {
	const char *kind;
	struct in_addr dst;
	uint16_t port;
	uint64_t pps, secs;
	uint32_t src_base, src_mask;	/* host order */
	struct peer *responder;		/* mac1 key holder; NULL: random mac1 */
	struct flood_pkt *pool;
	size_t n_pool;
	uint64_t rng;
};

static int flood_usage(void)
{
	fprintf(stderr, "usage: flood send init|data|garbage|replay DST_IPV4 DST_PORT PPS SECONDS"
		" [--pubkey B64] [--src PREFIX] [--file FILE]\n"
		"       flood capture IFNAME DST_PORT COUNT FILE [SECONDS]\n");
	return 2;
}

/* xorshift64*: payloads and sources need to look random to a receiver, not to resist anyone. */
static uint64_t flood_rand(struct flood *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dULL;
}

static void flood_fill(struct flood *f, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)flood_rand(f);
}

static uint64_t flood_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void flood_make_init(struct flood *f, struct flood_pkt *p)
{
	uint32_t type = htole32(MESSAGE_HANDSHAKE_INITIATION);

	p->len = sizeof(struct message_handshake_initiation);
	flood_fill(f, p->data, p->len);
	memcpy(p->data, &type, sizeof(type));
	if (f->responder)
		cookie_add_macs(f->responder, p->data, p->len);	/* mac1 valid, mac2 zero: no cookie */
}

static void flood_make_data(struct flood *f, struct flood_pkt *p)
{
	uint32_t type = htole32(MESSAGE_DATA);

	p->len = (uint16_t)(MESSAGE_MINIMUM_LENGTH + 16 * (flood_rand(f) % 87));
	flood_fill(f, p->data, p->len);
	memcpy(p->data, &type, sizeof(type));
}

static void flood_make_garbage(struct flood *f, struct flood_pkt *p)
{
	p->len = (uint16_t)(1 + flood_rand(f) % 1400);
	flood_fill(f, p->data, p->len);
}

/* The replay pool: what capture wrote, one record after another. */
static int flood_load(struct flood *f, const char *path)
{
	FILE *in = fopen(path, "rb");
	uint16_t len;

	if (!in) {
		fprintf(stderr, "flood: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (f->n_pool < FLOOD_POOL && fread(&len, sizeof(len), 1, in) == 1) {
		struct flood_pkt *p = &f->pool[f->n_pool];

		if (!len || len > FLOOD_MAX - FLOOD_HDRS || fread(p->data, 1, len, in) != len)
			break;
		p->len = len;
		f->n_pool++;
	}
	fclose(in);
	if (!f->n_pool) {
		fprintf(stderr, "flood: %s: no captured messages in it\n", path);
		return -1;
	}
	return 0;
}

static int flood_make_pool(struct flood *f, const char *file)
{
	f->pool = calloc(FLOOD_POOL, sizeof(*f->pool));
	if (!f->pool)
		return -1;
	if (!strcmp(f->kind, "replay"))
		return file ? flood_load(f, file) : (fprintf(stderr, "flood: replay needs --file\n"), -1);
	for (f->n_pool = 0; f->n_pool < FLOOD_POOL; f->n_pool++) {
		struct flood_pkt *p = &f->pool[f->n_pool];

		if (!strcmp(f->kind, "init"))
			flood_make_init(f, p);
		else if (!strcmp(f->kind, "data"))
			flood_make_data(f, p);
		else if (!strcmp(f->kind, "garbage"))
			flood_make_garbage(f, p);
		else
			return fprintf(stderr, "flood: unknown kind '%s'\n", f->kind), -1;
	}
	return 0;
}

/* Wraps payload p in IPv4 + UDP from a random source of the prefix; the kernel fills the IP checksum. */
static size_t flood_frame(struct flood *f, uint8_t *buf, const struct flood_pkt *p)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint64_t r = flood_rand(f);

	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)(FLOOD_HDRS + p->len));
	ip->saddr = htonl(f->src_base | ((uint32_t)r & f->src_mask));
	ip->daddr = f->dst.s_addr;
	udp->source = htons((uint16_t)(1024 + (r >> 32) % 64512));
	udp->dest = htons(f->port);
	udp->len = htons((uint16_t)(sizeof(*udp) + p->len));
	udp->check = 0;		/* IPv4 UDP without a checksum is valid */
	memcpy(udp + 1, p->data, p->len);
	return FLOOD_HDRS + p->len;
}

/* Sends at f->pps for f->secs in batches, catching up after a slow batch rather than bursting forever. */
static int flood_send(struct flood *f)
{
	static uint8_t bufs[FLOOD_BATCH][FLOOD_MAX];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = f->dst };
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	uint64_t start, now, end, sent = 0, errors = 0, next = 0;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0) {
		fprintf(stderr, "flood: raw socket: %s\n", strerror(errno));
		return 1;
	}
	start = flood_now_ns();
	end = start + f->secs * 1000000000ULL;
	for (now = start; now < end; now = flood_now_ns()) {
		uint64_t due = (uint64_t)((double)(now - start) * (double)f->pps / 1e9);
		int n, k;

		if (due <= sent) {
			struct timespec ts = { 0, 200000 };

			nanosleep(&ts, NULL);
			continue;
		}
		n = due - sent > FLOOD_BATCH ? FLOOD_BATCH : (int)(due - sent);
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = flood_frame(f, bufs[i], &f->pool[next++ % f->n_pool]);
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &to;
			msgs[i].msg_hdr.msg_namelen = sizeof(to);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		k = sendmmsg(fd, msgs, (unsigned int)n, 0);
		if (k < 0) {
			errors += (uint64_t)n;	/* counted as offered: the rate stays the rate asked for */
			k = n;
		} else if (k < n) {
			errors += (uint64_t)(n - k);
		}
		sent += (uint64_t)n;
	}
	close(fd);
	now = flood_now_ns();
	printf("sent=%llu errors=%llu secs=%.2f pps=%.0f\n", (unsigned long long)(sent - errors),
	       (unsigned long long)errors, (double)(now - start) / 1e9,
	       (double)(sent - errors) * 1e9 / (double)(now - start));
	return 0;
}

/* "a.b.c.d/len" into base and mask of the host bits, host order. */
static int flood_parse_src(struct flood *f, const char *s)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	unsigned long len;
	struct in_addr a;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	len = strtoul(slash + 1, NULL, 10);
	if (inet_pton(AF_INET, ip, &a) != 1 || len < 1 || len > 32)
		return -1;
	f->src_mask = len == 32 ? 0 : 0xffffffffu >> len;
	f->src_base = ntohl(a.s_addr) & ~f->src_mask;
	return 0;
}

static int flood_set_pubkey(struct flood *f, const char *b64)
{
	f->responder = calloc(1, sizeof(*f->responder));
	if (!f->responder || key_from_base64(f->responder->public_key, b64))
		return -1;
	cookie_precompute_peer_keys(f->responder);
	return 0;
}

static int flood_main_send(int argc, char **argv)
{
	struct flood f = { .kind = argv[2] };
	const char *file = NULL;
	uint64_t port;
	int ret;

	if (argc < 7 || inet_pton(AF_INET, argv[3], &f.dst) != 1 || uint_parse(argv[4], 65535, &port) ||
	    !port || uint_parse(argv[5], 10000000, &f.pps) || uint_parse(argv[6], 3600, &f.secs))
		return flood_usage();
	f.port = (uint16_t)port;
	flood_parse_src(&f, "198.18.0.0/15");
	ret = 2;
	for (int i = 7; i < argc; i++) {
		if (i + 1 >= argc) {
			flood_usage();
			goto out;
		}
		if (!strcmp(argv[i], "--pubkey") && !f.responder && !flood_set_pubkey(&f, argv[i + 1])) {
			i++;
		} else if (!strcmp(argv[i], "--src") && !flood_parse_src(&f, argv[i + 1])) {
			i++;
		} else if (!strcmp(argv[i], "--file")) {
			file = argv[++i];
		} else {
			fprintf(stderr, "flood: bad option '%s %s'\n", argv[i], argv[i + 1]);
			goto out;
		}
	}
	crypto_random(&f.rng, sizeof(f.rng));
	f.rng |= 1;
	ret = flood_make_pool(&f, file) ? 1 : flood_send(&f);
out:
	free(f.pool);
	free(f.responder);
	return ret;
}

/* One captured frame (IPv4 from its network header): the payload when it is a data message to port. */
static const uint8_t *flood_data_payload(const uint8_t *b, size_t n, uint16_t port, size_t *len)
{
	const struct iphdr *ip = (const struct iphdr *)b;
	const struct udphdr *udp;
	uint32_t type;
	size_t hl;

	if (n < sizeof(*ip) || ip->version != 4 || ip->protocol != IPPROTO_UDP)
		return NULL;
	hl = (size_t)ip->ihl * 4;
	if (hl < sizeof(*ip) || n < hl + sizeof(*udp))
		return NULL;
	udp = (const struct udphdr *)(b + hl);
	*len = ntohs(udp->len);
	if (ntohs(udp->dest) != port || *len < sizeof(*udp) + MESSAGE_MINIMUM_LENGTH || hl + *len > n)
		return NULL;
	*len -= sizeof(*udp);
	memcpy(&type, udp + 1, sizeof(type));	/* IP options can leave it unaligned */
	if (le32toh(type) != MESSAGE_DATA)
		return NULL;
	return (const uint8_t *)(udp + 1);
}

static int flood_capture_loop(int fd, FILE *out, uint16_t port, uint64_t count, uint64_t secs)
{
	static uint8_t buf[65536];
	uint64_t got = 0, end = flood_now_ns() + secs * 1000000000ULL;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (got < count && flood_now_ns() < end) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		const uint8_t *payload;
		ssize_t n;
		size_t len;
		uint16_t l16;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0 || from.sll_pkttype != PACKET_OUTGOING || from.sll_protocol != htons(ETH_P_IP))
			continue;
		payload = flood_data_payload(buf, (size_t)n, port, &len);
		if (!payload || len > FLOOD_MAX - FLOOD_HDRS)
			continue;
		l16 = (uint16_t)len;
		if (fwrite(&l16, sizeof(l16), 1, out) != 1 || fwrite(payload, 1, len, out) != len)
			return -1;
		got++;
	}
	printf("captured=%llu\n", (unsigned long long)got);
	return 0;
}

static int flood_main_capture(int argc, char **argv)
{
	/* ETH_P_ALL: a frame xwg_tx built on the tunnel's egress need not say ETH_P_IP in skb->protocol. */
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint64_t port, count, secs = 10;
	FILE *out;
	int fd, ret;

	if (argc < 6 || uint_parse(argv[3], 65535, &port) || uint_parse(argv[4], 1000000, &count) ||
	    (argc > 6 && uint_parse(argv[6], 3600, &secs)))
		return flood_usage();
	sll.sll_ifindex = (int)if_nametoindex(argv[2]);
	if (!sll.sll_ifindex)
		return fprintf(stderr, "flood: no interface '%s'\n", argv[2]), 1;
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "flood: AF_PACKET on %s: %s\n", argv[2], strerror(errno));
		goto err_fd;
	}
	out = fopen(argv[5], "ab");
	if (!out) {
		fprintf(stderr, "flood: %s: %s\n", argv[5], strerror(errno));
		goto err_fd;
	}
	ret = flood_capture_loop(fd, out, (uint16_t)port, count, secs);
	if (fclose(out) || ret) {
		fprintf(stderr, "flood: writing %s failed\n", argv[5]);
		goto err_fd;
	}
	close(fd);
	return 0;
err_fd:
	if (fd >= 0)
		close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	if (crypto_init()) {
		fprintf(stderr, "flood: OpenSSL lacks BLAKE2s or ChaCha20-Poly1305\n");
		return 1;
	}
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return flood_main_send(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "capture"))
		return flood_main_capture(argc, argv);
	return flood_usage();
}

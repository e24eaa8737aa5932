/* SPDX-License-Identifier: GPL-2.0 */
/* The core -> data-plane seam: events mark peers, offload_publish writes the real maps, failures hand peers to the agent. */
/* xwg-needs: root (creates BPF maps) */
#include <errno.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "test_device.h"
#include "crypto.h"
#include "device.h"
#include "noise.h"
#include "cookie.h"
#include "peer.h"
#include "timers.h"
#include "uapi.h"
#include "offload.h"
#include "offload_internal.h"

/* Small enough to fill in a test; the real map holds XWG_MAX_ALLOWEDIPS. */
#define LPM4_MAX 8

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void dev_setup(struct xwg_device *dev)
{
	test_device_init(dev, "xwgpub0");
}

/* The real maps, through the rx skeleton (as the agent loads them), without attaching anything. */
static int offload_setup(struct xwg_device *dev)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (!o || offload_slots_alloc(o))
		return -1;
	o->rx = rx_bpf__open();
	if (!o->rx || bpf_map__set_max_entries(o->rx->maps.xwg_allowedips4, LPM4_MAX) || rx_bpf__load(o->rx))
		return -1;
	o->ncpus = libbpf_num_possible_cpus();
	o->mode = OFFLOAD_TC;
	dev->offload = o;
	return 0;
}

static void dev_teardown(struct xwg_device *dev)
{
	struct offload *o = dev->offload;

	device_remove_all_peers(dev);
	dev->offload = NULL;
	rx_bpf__destroy(o->rx);
	offload_slots_free(o);
	free(o);
	index_table_free(&dev->index_table);
	allowedips_free(&dev->allowedips);
}

static struct offload *O(struct xwg_device *dev)
{
	return dev->offload;
}

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static bool peer_entry(struct xwg_device *dev, struct peer *peer, struct xwg_peer *val)
{
	uint32_t id = (uint32_t)peer->offload_id;

	return peer->offload_id >= 0 && !bpf_map_lookup_elem(fd_of(O(dev)->rx->maps.xwg_peers), &id, val);
}

/* The id the LPM map holds for exactly this prefix, or -1. */
static long lpm_get(struct xwg_device *dev, const char *addr, uint8_t cidr)
{
	struct xwg_lpm4_key k4 = { .prefixlen = cidr };
	struct xwg_lpm6_key k6 = { .prefixlen = cidr };
	bool v4 = !strchr(addr, ':');
	uint32_t id;

	inet_pton(v4 ? AF_INET : AF_INET6, addr, v4 ? (void *)k4.addr : (void *)k6.addr);
	if (bpf_map_lookup_elem(fd_of(v4 ? O(dev)->rx->maps.xwg_allowedips4 : O(dev)->rx->maps.xwg_allowedips6),
				v4 ? (void *)&k4 : (void *)&k6, &id))
		return -1;
	return id;
}

static int add_ip(struct peer *peer, const char *addr, uint8_t cidr)
{
	uint8_t a[16] = { 0 };
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	inet_pton(family, addr, a);
	return peer_add_allowed_ip(peer, family, a, cidr);
}

static int del_ip(struct peer *peer, const char *addr, uint8_t cidr)
{
	uint8_t a[16] = { 0 };
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	inet_pton(family, addr, a);
	return peer_remove_allowed_ip(peer, family, a, cidr);
}

static bool keypair_in_map(struct xwg_device *dev, uint32_t index)
{
	struct xwg_keypair v;
	bool in = !bpf_map_lookup_elem(fd_of(O(dev)->rx->maps.xwg_keypairs), &index, &v);

	crypto_zero(&v, sizeof(v));
	return in;
}

/* A handshake between dev (initiator, offloaded) and a plain in-process responder. */
static bool handshake(struct xwg_device *ini, struct peer *ip, struct xwg_device *resp, struct peer *rp)
{
	struct message_handshake_initiation m1;
	struct message_handshake_response m2;

	sleep_ms(25);
	if (noise_create_initiation(ini, ip, &m1))
		return false;
	cookie_add_macs(ip, &m1, sizeof(m1));
	if (noise_consume_initiation(resp, &m1) != rp || noise_create_response(resp, rp, &m2))
		return false;
	cookie_add_macs(rp, &m2, sizeof(m2));
	if (noise_begin_session(resp, rp) || noise_consume_response(ini, &m2) != ip)
		return false;
	return !noise_begin_session(ini, ip);
}

/* What `wg show`/`xwg show` get over UAPI. Caller frees. */
static char *uapi_get_text(struct xwg_device *dev)
{
	static char req[] = "get=1\n\n";
	FILE *in = fmemopen(req, strlen(req), "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	uapi_serve(dev, in, out);
	fclose(in);
	fclose(out);
	return buf;
}

static void test_events_and_maps(void)
{
	struct xwg_device dev, resp;
	struct peer *peer, *other, *me;
	struct sockaddr_in ep = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct xwg_peer val;
	uint64_t writes;
	uint32_t index;

	dev_setup(&dev);
	dev_setup(&resp);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	/* New peer: marked whole, published as an entry without a keypair. */
	peer = peer_create(&dev, resp.static_public);
	me = peer_create(&resp, dev.static_public);
	ASSERT_TRUE(peer && me);
	ASSERT_EQ(peer->publish, PUBLISH_ALL);
	ASSERT_TRUE(dev.publish_pending);
	offload_publish(&dev);
	ASSERT_EQ(peer->publish, 0);
	ASSERT_FALSE(dev.publish_pending);
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_EQ(val.flags, 0);
	ASSERT_MEMEQ(val.public_key, peer->public_key, 32);

	/* Endpoint change: only the endpoint is marked, and the entry follows. */
	inet_pton(AF_INET, "192.0.2.7", &ep.sin_addr);
	peer_set_endpoint(peer, (struct sockaddr *)&ep);
	ASSERT_EQ(peer->publish, PUBLISH_ENDPOINT);
	offload_publish(&dev);
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_EQ(val.endpoint.family, XWG_AF_INET);
	ASSERT_EQ(val.endpoint.port, htons(51820));
	ASSERT_MEMEQ(val.endpoint.addr, &ep.sin_addr, 4);

	/* Allowed IPs: added prefixes appear under the peer's id. */
	ASSERT_EQ(add_ip(peer, "10.1.0.0", 16), 0);
	ASSERT_EQ(add_ip(peer, "fd00:1::", 64), 0);
	ASSERT_EQ(peer->publish, PUBLISH_ALLOWEDIPS);
	offload_publish(&dev);
	ASSERT_EQ(lpm_get(&dev, "10.1.0.0", 16), peer->offload_id);
	ASSERT_EQ(lpm_get(&dev, "fd00:1::", 64), peer->offload_id);

	/* One more prefix costs one map write, whatever the table holds. */
	for (int i = 0; i < 40; i++) {
		char a[32];

		snprintf(a, sizeof(a), "fd00:2:%x::", i);
		ASSERT_EQ(add_ip(peer, a, 48), 0);
	}
	offload_publish(&dev);
	writes = O(&dev)->map_writes;
	ASSERT_EQ(add_ip(peer, "fd00:3::", 64), 0);
	offload_publish(&dev);
	ASSERT_EQ(O(&dev)->map_writes - writes, 1);
	ASSERT_EQ(lpm_get(&dev, "fd00:3::", 64), peer->offload_id);
	writes = O(&dev)->map_writes;
	ASSERT_EQ(del_ip(peer, "fd00:3::", 64), 0);
	offload_publish(&dev);
	ASSERT_EQ(O(&dev)->map_writes - writes, 1);
	ASSERT_EQ(lpm_get(&dev, "fd00:3::", 64), -1);
	/* A turn with nothing marked writes nothing. */
	writes = O(&dev)->map_writes;
	offload_publish(&dev);
	ASSERT_EQ(O(&dev)->map_writes - writes, 0);

	/* A prefix moving to another peer: the new owner's id, never a delete that undoes it. */
	other = peer_create(&dev, (const uint8_t[32]){ 9, 9, 9 });
	ASSERT_TRUE(other != NULL);
	ASSERT_EQ(add_ip(other, "10.1.0.0", 16), 0);
	ASSERT_TRUE(peer->publish & PUBLISH_ALLOWEDIPS);
	offload_publish(&dev);
	ASSERT_EQ(lpm_get(&dev, "10.1.0.0", 16), other->offload_id);

	/*
	 * Handshake complete: the keypair goes in at once (unknown indices are dropped in every
	 * mode), then the publish makes the entry name it as current.
	 */
	ASSERT_TRUE(handshake(&dev, peer, &resp, me));
	ASSERT_TRUE(peer->publish & PUBLISH_KEYPAIRS);
	index = peer->keypairs.current_keypair->local_index;
	ASSERT_TRUE(keypair_in_map(&dev, index));
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_FALSE(val.flags & XWG_PEER_F_HAS_CURRENT);
	offload_publish(&dev);
	ASSERT_TRUE(peer->keypairs.current_keypair->offloaded);
	ASSERT_TRUE(keypair_in_map(&dev, index));
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_TRUE(val.flags & XWG_PEER_F_HAS_CURRENT);
	ASSERT_EQ(val.current_index, index);

	/* Retired: out of the map and no longer current at once, before any publish. */
	noise_keypairs_clear(&dev, peer);
	ASSERT_FALSE(keypair_in_map(&dev, index));
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_FALSE(val.flags & XWG_PEER_F_HAS_CURRENT);
	offload_publish(&dev);

	/* Peer removed: entry and prefixes leave; the prefix another peer took stays that peer's. */
	{
		int id = peer->offload_id;
		uint32_t key = (uint32_t)id;

		peer_remove(peer);
		offload_publish(&dev);
		ASSERT_TRUE(bpf_map_lookup_elem(fd_of(O(&dev)->rx->maps.xwg_peers), &key, &val) != 0);
		ASSERT_EQ(lpm_get(&dev, "fd00:1::", 64), -1);
		ASSERT_EQ(lpm_get(&dev, "fd00:2:1::", 48), -1);
		ASSERT_EQ(lpm_get(&dev, "10.1.0.0", 16), other->offload_id);
		ASSERT_FALSE(O(&dev)->slots[id].removed);
	}
	dev_teardown(&dev);
	device_remove_all_peers(&resp);
	index_table_free(&resp.index_table);
}

/* A full allowed-IPs map: the peer leaves BPF (and says why), a covering peer too; both come back. */
static void test_lpm_full(void)
{
	struct xwg_device dev;
	struct peer *a, *b;
	struct xwg_peer val;
	char *text, a4[32];

	dev_setup(&dev);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	a = peer_create(&dev, (const uint8_t[32]){ 1 });
	b = peer_create(&dev, (const uint8_t[32]){ 2 });
	ASSERT_EQ(add_ip(b, "10.0.0.0", 8), 0);
	offload_publish(&dev);
	/* LPM4_MAX - 1 slots left; a wants more. */
	for (int i = 0; i < LPM4_MAX + 2; i++) {
		snprintf(a4, sizeof(a4), "10.2.%d.0", i);
		ASSERT_EQ(add_ip(a, a4, 24), 0);
	}
	offload_publish(&dev);
	ASSERT_TRUE(peer_entry(&dev, a, &val));
	ASSERT_TRUE(val.flags & XWG_PEER_F_AGENT);
	ASSERT_STREQ(offload_peer_refused(a), "allowed IPs map (IPv4): No space left on device");
	/* b's 10/8 would catch a's missing /24s: b is out too. */
	ASSERT_TRUE(peer_entry(&dev, b, &val));
	ASSERT_TRUE(val.flags & XWG_PEER_F_AGENT);
	ASSERT_TRUE(*offload_peer_refused(b) != '\0');
	text = uapi_get_text(&dev);
	ASSERT_TRUE(text && strstr(text, "xwg_offload_off=allowed IPs map (IPv4): No space left on device\n"));
	free(text);

	/* The failure clears: the next retry puts both back. */
	for (int i = 0; i < 3; i++) {
		snprintf(a4, sizeof(a4), "10.2.%d.0", i);
		ASSERT_EQ(del_ip(a, a4, 24), 0);
	}
	offload_publish(&dev);	/* the deletes are in; a is still out until it is retried */
	O(&dev)->last_retry_ns = 0;
	offload_publish(&dev);
	ASSERT_TRUE(peer_entry(&dev, a, &val));
	ASSERT_FALSE(val.flags & XWG_PEER_F_AGENT);
	ASSERT_TRUE(peer_entry(&dev, b, &val));
	ASSERT_FALSE(val.flags & XWG_PEER_F_AGENT);
	ASSERT_STREQ(offload_peer_refused(a), "");
	ASSERT_STREQ(offload_peer_refused(b), "");
	for (int i = 3; i < LPM4_MAX + 2; i++) {
		snprintf(a4, sizeof(a4), "10.2.%d.0", i);
		ASSERT_EQ(lpm_get(&dev, a4, 24), a->offload_id);
	}
	text = uapi_get_text(&dev);
	ASSERT_TRUE(text && !strstr(text, "xwg_offload_off="));
	free(text);
	dev_teardown(&dev);
}

/* A restarted agent adopts the maps a dead one left: the first publish writes only what changed. */
static void test_adopt(void)
{
	struct xwg_device dead, dev;
	struct offload *o2 = calloc(1, sizeof(*o2));
	const uint8_t key_a[32] = { 11 }, key_gone[32] = { 12 };
	struct peer *a, *gone;
	struct xwg_peer val;
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	uint64_t writes;
	int id_a;

	dev_setup(&dead);
	dev_setup(&dev);
	if (!o2 || offload_slots_alloc(o2) || offload_setup(&dead)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	a = peer_create(&dead, key_a);
	gone = peer_create(&dead, key_gone);
	for (int i = 0; i < 4; i++) {
		char p6[32];

		snprintf(p6, sizeof(p6), "fd00:a:%d::", i);
		ASSERT_EQ(add_ip(a, p6, 48), 0);
	}
	ASSERT_EQ(add_ip(gone, "fd00:b::", 48), 0);
	memset(a->handshake.latest_timestamp, 0x5a, sizeof(a->handshake.latest_timestamp));
	offload_publish(&dead);
	id_a = a->offload_id;

	/* The new agent: a with one prefix fewer and one more, gone not configured any more. */
	o2->rx = O(&dead)->rx;
	o2->ncpus = O(&dead)->ncpus;
	o2->mode = OFFLOAD_TC;
	a = peer_create(&dev, key_a);
	ASSERT_EQ(add_ip(a, "fd00:a:0::", 48), 0);
	ASSERT_EQ(add_ip(a, "fd00:a:1::", 48), 0);
	ASSERT_EQ(add_ip(a, "fd00:a:2::", 48), 0);
	ASSERT_EQ(add_ip(a, "fd00:a:9::", 48), 0);
	dev.offload = o2;
	offload_adopt(&dev, o2);
	ASSERT_EQ(a->offload_id, id_a);
	/* The newest accepted initiation's timestamp: a replay of it stays a replay. */
	memset(ts, 0x5a, sizeof(ts));
	ASSERT_MEMEQ(a->handshake.latest_timestamp, ts, sizeof(ts));
	ASSERT_EQ(lpm_get(&dev, "fd00:b::", 48), -1);	/* the gone peer's prefix went with it */
	writes = o2->map_writes;
	offload_sync(&dev);
	/* config, a's entry, one add, one delete: not the four prefixes that stayed */
	ASSERT_EQ(o2->map_writes - writes, 4);
	ASSERT_EQ(lpm_get(&dev, "fd00:a:3::", 48), -1);
	ASSERT_EQ(lpm_get(&dev, "fd00:a:9::", 48), id_a);
	ASSERT_EQ(lpm_get(&dev, "fd00:a:0::", 48), id_a);
	ASSERT_TRUE(peer_entry(&dev, a, &val));
	ASSERT_FALSE(val.flags & XWG_PEER_F_AGENT);

	dev_teardown(&dev);	/* destroys the shared skeleton */
	dead.offload->rx = NULL;
	offload_slots_free(dead.offload);
	free(dead.offload);
	dead.offload = NULL;
	device_remove_all_peers(&dead);
	index_table_free(&dead.index_table);
	allowedips_free(&dead.allowedips);
}

/* A due keepalive timer must see BPF's traffic first: BPF sent a packet, so no keepalive is due. */
static void test_timers_see_bpf(void)
{
	struct xwg_device dev;
	struct sockaddr_in ep = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct xwg_peer_stats *st;
	struct peer *peer;
	uint32_t id;

	dev_setup(&dev);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	peer = peer_create(&dev, (const uint8_t[32]){ 7 });
	inet_pton(AF_INET, "192.0.2.9", &ep.sin_addr);
	peer_set_endpoint(peer, (struct sockaddr *)&ep);
	offload_publish(&dev);
	id = (uint32_t)peer->offload_id;
	/* Data came in through BPF earlier (keepalive armed) and is now due; BPF has since sent. */
	peer->timer_send_keepalive.at = now_ns() - 1;
	st = calloc((size_t)O(&dev)->ncpus, sizeof(*st));
	ASSERT_TRUE(st != NULL);
	if (!st)
		return;
	st[0].last_tx_ns = st[0].last_tx_data_ns = now_ns();
	ASSERT_EQ(bpf_map_update_elem(fd_of(O(&dev)->rx->maps.xwg_stats), &id, st, BPF_ANY), 0);
	free(st);
	O(&dev)->last_poll_ns = now_ns();	/* the 100 ms poll just ran: only the timer path reads */
	device_run_timers(&dev);
	ASSERT_EQ(peer->timer_send_keepalive.at, 0);
	ASSERT_EQ(peer->staged_count, 0);	/* no keepalive was made */
	ASSERT_EQ(peer->last_sent_handshake, 0);	/* nor a handshake to send it with */
	dev_teardown(&dev);
}

static struct xwg_dev_config config_of(struct xwg_device *dev)
{
	struct xwg_dev_config c = { 0 };
	uint32_t zero = 0;

	bpf_map_lookup_elem(fd_of(O(dev)->rx->maps.xwg_config), &zero, &c);
	return c;
}

/*
 * wg set fwmark (wg-quick's policy routing): BPF marks its packets with the new value, and each
 * endpoint is published again without its learned source, so that its route, hop limit and
 * underlay are looked up under the new mark. The same mark again changes nothing.
 */
static void test_fwmark(void)
{
	struct sockaddr_in ep = { .sin_family = AF_INET, .sin_port = htons(51820) };
	struct xwg_device dev;
	struct xwg_peer val;
	struct peer *peer;

	dev_setup(&dev);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	peer = peer_create(&dev, (const uint8_t[32]){ 7, 7, 7 });
	ASSERT_TRUE(peer != NULL);
	inet_pton(AF_INET, "192.0.2.7", &ep.sin_addr);
	peer_set_endpoint(peer, (struct sockaddr *)&ep);
	dev.config_changed = true;
	offload_publish(&dev);
	ASSERT_EQ(config_of(&dev).fwmark, 0);
	/* A source the receive path learned, published. */
	peer->endpoint.src_valid = true;
	peer->endpoint.src_ifindex = 1;
	inet_pton(AF_INET, "192.0.2.1", &peer->endpoint.src4);
	hooks_peer_changed(peer, PUBLISH_ENDPOINT);
	offload_publish(&dev);
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_EQ(val.endpoint.ifindex, 1);

	ASSERT_EQ(device_set_fwmark(&dev, 51820), 0);
	ASSERT_TRUE(dev.config_changed);
	ASSERT_TRUE(peer->publish & PUBLISH_ENDPOINT);
	ASSERT_FALSE(peer->endpoint.src_valid);
	offload_publish(&dev);
	ASSERT_EQ(config_of(&dev).fwmark, 51820);
	ASSERT_TRUE(peer_entry(&dev, peer, &val));
	ASSERT_EQ(val.endpoint.ifindex, 0);
	ASSERT_MEMEQ(val.endpoint.local, (uint8_t[16]){ 0 }, 16);
	ASSERT_MEMEQ(val.endpoint.addr, &ep.sin_addr, 4);

	peer->endpoint.src_valid = true;
	ASSERT_EQ(device_set_fwmark(&dev, 51820), 0);
	ASSERT_FALSE(dev.config_changed);
	ASSERT_EQ(peer->publish, 0);
	ASSERT_TRUE(peer->endpoint.src_valid);
	dev_teardown(&dev);
}

/*
 * auto: the config map says hybrid, with the receive threshold; a new keypair is in the map as
 * soon as the session begins (before the response that lets the peer use it leaves), and unknown
 * indices are dropped only while every keypair the agent holds is in the map.
 */
static void test_hybrid(void)
{
	struct xwg_device dev, resp;
	struct peer *peer, *me;
	struct noise_keypair *kp;
	struct xwg_dev_config c;

	dev_setup(&dev);
	dev_setup(&resp);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	O(&dev)->hybrid = true;
	O(&dev)->rx_bulk_len = 777;
	peer = peer_create(&dev, resp.static_public);
	me = peer_create(&resp, dev.static_public);
	ASSERT_TRUE(peer && me);
	dev.config_changed = true;
	offload_publish(&dev);
	c = config_of(&dev);
	ASSERT_EQ(c.flags & (XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN), XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN);
	ASSERT_EQ(c.rx_bulk_len, 777);

	ASSERT_TRUE(handshake(&dev, peer, &resp, me));
	kp = peer->keypairs.current_keypair;
	ASSERT_TRUE(kp && kp->offloaded);
	ASSERT_TRUE(kp && keypair_in_map(&dev, kp->local_index));	/* no offload_publish yet */
	ASSERT_TRUE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);
	offload_publish(&dev);	/* the entry names it */

	/* A keypair of the agent's outside the map: its index must reach the agent, not be dropped. */
	kp->offloaded = false;
	hooks_peer_changed(peer, PUBLISH_ENDPOINT);
	offload_publish(&dev);
	c = config_of(&dev);
	ASSERT_TRUE(c.flags & XWG_CFG_F_HYBRID);
	ASSERT_FALSE(c.flags & XWG_CFG_F_DROP_UNKNOWN);
	/* The next publish puts it in, and unknown indices are dropped again. */
	hooks_peer_changed(peer, PUBLISH_KEYPAIRS);
	ASSERT_TRUE(kp->offloaded);
	ASSERT_TRUE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);
	offload_publish(&dev);

	/* An explicit mode: no per-packet choice, no threshold, but floods still stop in BPF. */
	O(&dev)->hybrid = false;
	dev.config_changed = true;
	offload_publish(&dev);
	c = config_of(&dev);
	ASSERT_EQ(c.flags & (XWG_CFG_F_HYBRID | XWG_CFG_F_DROP_UNKNOWN | XWG_CFG_F_DROP_MALFORMED),
		  XWG_CFG_F_DROP_UNKNOWN | XWG_CFG_F_DROP_MALFORMED);
	ASSERT_EQ(c.rx_bulk_len, 0);
	/* ... and only while every keypair of the agent's is in the map. */
	kp->offloaded = false;
	hooks_peer_changed(peer, PUBLISH_ENDPOINT);
	offload_publish(&dev);
	ASSERT_FALSE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);
	hooks_peer_changed(peer, PUBLISH_KEYPAIRS);
	ASSERT_TRUE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);
	device_remove_all_peers(&resp);
	index_table_free(&resp.index_table);
	allowedips_free(&resp.allowedips);
	dev_teardown(&dev);
}

/*
 * auto with a peer that got no slot in the maps (all taken): its handshake's keypair lives only in
 * the agent, so unknown indices must reach the agent from the moment the session begins, not from
 * the next publish (the peer's first data packet may come first).
 */
static void test_hybrid_no_slot(void)
{
	struct xwg_device dev, resp;
	struct peer *peer, *me;

	dev_setup(&dev);
	dev_setup(&resp);
	if (offload_setup(&dev)) {
		TEST_FAIL("cannot load rx.bpf.o: %s", strerror(errno));
		return;
	}
	O(&dev)->hybrid = true;
	/* Every id taken (by peers being removed: the same publish frees them again). */
	for (int id = 0; id < XWG_MAX_PEERS; id++)
		O(&dev)->slots[id].removed = true;
	peer = peer_create(&dev, resp.static_public);
	me = peer_create(&resp, dev.static_public);
	ASSERT_TRUE(peer && me);
	dev.config_changed = true;
	offload_publish(&dev);
	ASSERT_EQ(peer->offload_id, -1);
	ASSERT_STREQ(offload_peer_refused(peer), "no free peer slot in the maps");
	ASSERT_TRUE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);	/* no keypair anywhere yet */

	ASSERT_TRUE(handshake(&dev, peer, &resp, me));
	ASSERT_TRUE(peer->keypairs.current_keypair && !peer->keypairs.current_keypair->offloaded);
	ASSERT_FALSE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);	/* no offload_publish yet */
	offload_publish(&dev);	/* the slot freed above: now it goes in */
	ASSERT_TRUE(peer->offload_id >= 0);
	ASSERT_TRUE(config_of(&dev).flags & XWG_CFG_F_DROP_UNKNOWN);
	device_remove_all_peers(&resp);
	index_table_free(&resp.index_table);
	allowedips_free(&resp.allowedips);
	dev_teardown(&dev);
}

int main(void)
{
	if (crypto_init())
		return 1;
	noise_init();
	RUN_TEST(test_events_and_maps);
	RUN_TEST(test_lpm_full);
	RUN_TEST(test_adopt);
	RUN_TEST(test_timers_see_bpf);
	RUN_TEST(test_hybrid);
	RUN_TEST(test_hybrid_no_slot);
	RUN_TEST(test_fwmark);
	return TEST_SUMMARY();
}

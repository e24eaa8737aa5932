/* SPDX-License-Identifier: GPL-2.0 */
/* Protocol timers: armed and cancelled by event hooks, fired from the event loop by timers_run(). */
#include <limits.h>
#include "device.h"
#include "crypto.h"
#include "timers.h"

#define NSEC_PER_MSEC 1000000ULL

static bool timer_pending(const struct xwg_timer *t)
{
	return t->at != 0;
}

static void timer_arm(struct xwg_timer *t, uint64_t delay_ns)
{
	t->at = now_ns() + delay_ns;
}

static void timer_cancel(struct xwg_timer *t)
{
	t->at = 0;
}

/* Kernel and wireguard-go add up to a third of a second so peers do not retry in lockstep. */
static uint64_t timer_jitter(void)
{
	return (uint64_t)(crypto_random_u32() % REKEY_TIMEOUT_JITTER_MAX_MS) * NSEC_PER_MSEC;
}

void timers_data_sent(struct peer *peer)
{
	if (path_multi(&peer->paths))
		path_table_data_sent(&peer->paths, now_ns());
	if (!timer_pending(&peer->timer_new_handshake))
		timer_arm(&peer->timer_new_handshake,
			  (KEEPALIVE_TIMEOUT_S + REKEY_TIMEOUT_S) * NSEC_PER_SEC + timer_jitter());
}

void timers_data_received(struct peer *peer)
{
	if (path_multi(&peer->paths))
		path_table_data_received(&peer->paths, now_ns());
	if (!timer_pending(&peer->timer_send_keepalive))
		timer_arm(&peer->timer_send_keepalive, KEEPALIVE_TIMEOUT_S * NSEC_PER_SEC);
	else
		peer->timer_need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct peer *peer)
{
	timer_cancel(&peer->timer_send_keepalive);
}

void timers_any_authenticated_packet_received(struct peer *peer)
{
	timer_cancel(&peer->timer_new_handshake);
}

void timers_handshake_initiated(struct peer *peer)
{
	timer_arm(&peer->timer_retransmit_handshake, REKEY_TIMEOUT_S * NSEC_PER_SEC + timer_jitter());
}

void timers_handshake_complete(struct peer *peer)
{
	timer_cancel(&peer->timer_retransmit_handshake);
	peer->timer_handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	clock_gettime(CLOCK_REALTIME, &peer->last_handshake);
	/* A restarted agent reads the handshake time back from the pinned peer map. */
	hooks_peer_changed(peer, PUBLISH_SETTINGS);
}

void timers_session_derived(struct peer *peer)
{
	timer_arm(&peer->timer_zero_key_material, 3ULL * REJECT_AFTER_TIME_S * NSEC_PER_SEC);
}

void timers_any_authenticated_packet_traversal(struct peer *peer)
{
	if (peer->persistent_keepalive_interval)
		timer_arm(&peer->timer_persistent_keepalive,
			  (uint64_t)peer->persistent_keepalive_interval * NSEC_PER_SEC);
}

void timers_stop(struct peer *peer)
{
	timer_cancel(&peer->timer_retransmit_handshake);
	timer_cancel(&peer->timer_send_keepalive);
	timer_cancel(&peer->timer_new_handshake);
	timer_cancel(&peer->timer_zero_key_material);
	timer_cancel(&peer->timer_persistent_keepalive);
}

static void timers_expired_retransmit_handshake(struct peer *peer)
{
	peer->hs_timeouts++;
	if (peer->timer_handshake_attempts > MAX_TIMER_HANDSHAKES) {
		peer->hs_given_up++;
		/* Give up: drop what waited for this peer and wipe keys later unless traffic returns. */
		timer_cancel(&peer->timer_send_keepalive);
		peer_purge_staged(peer);
		if (!timer_pending(&peer->timer_zero_key_material))
			timer_arm(&peer->timer_zero_key_material, 3ULL * REJECT_AFTER_TIME_S * NSEC_PER_SEC);
		return;
	}
	peer->timer_handshake_attempts++;
	/* The cached source may be why nothing answers (address moved): let routing pick again. */
	peer->endpoint.src_valid = false;
	send_handshake_initiation(peer, true);
}

static void timers_expired_send_keepalive(struct peer *peer)
{
	send_keepalive(peer);
	if (peer->timer_need_another_keepalive) {
		peer->timer_need_another_keepalive = false;
		timer_arm(&peer->timer_send_keepalive, KEEPALIVE_TIMEOUT_S * NSEC_PER_SEC);
	}
}

static void timers_expired_new_handshake(struct peer *peer)
{
	peer->endpoint.src_valid = false;
	send_handshake_initiation(peer, false);
}

static void timers_expired_zero_key_material(struct peer *peer)
{
	noise_handshake_clear(peer->dev, peer);
	noise_keypairs_clear(peer->dev, peer);
}

static void timers_expired_persistent_keepalive(struct peer *peer)
{
	if (peer->persistent_keepalive_interval)
		send_keepalive(peer);
}

static const struct {
	size_t offset;
	void (*fire)(struct peer *peer);
} timer_table[] = {
	{ offsetof(struct peer, timer_retransmit_handshake), timers_expired_retransmit_handshake },
	{ offsetof(struct peer, timer_send_keepalive), timers_expired_send_keepalive },
	{ offsetof(struct peer, timer_new_handshake), timers_expired_new_handshake },
	{ offsetof(struct peer, timer_zero_key_material), timers_expired_zero_key_material },
	{ offsetof(struct peer, timer_persistent_keepalive), timers_expired_persistent_keepalive },
};

bool timers_due(struct xwg_device *dev)
{
	uint64_t now = now_ns();

	for (struct peer *peer = dev->peers; peer; peer = peer->next_peer)
		for (size_t i = 0; i < sizeof(timer_table) / sizeof(timer_table[0]); i++) {
			const struct xwg_timer *t = (const struct xwg_timer *)((const char *)peer + timer_table[i].offset);

			if (timer_pending(t) && t->at <= now)
				return true;
		}
	return false;
}

int timers_run(struct xwg_device *dev)
{
	uint64_t now = now_ns(), next = UINT64_MAX;
	struct peer *peer, *next_peer;

	for (peer = dev->peers; peer; peer = next_peer) {
		next_peer = peer->next_peer;
		for (size_t i = 0; i < sizeof(timer_table) / sizeof(timer_table[0]); i++) {
			struct xwg_timer *t = (struct xwg_timer *)((char *)peer + timer_table[i].offset);

			if (timer_pending(t) && t->at <= now) {
				timer_cancel(t);
				timer_table[i].fire(peer);
			}
		}
	}
	/* A fired timer may have armed others: collect the earliest deadline afterwards. */
	for (peer = dev->peers; peer; peer = peer->next_peer)
		for (size_t i = 0; i < sizeof(timer_table) / sizeof(timer_table[0]); i++) {
			struct xwg_timer *t = (struct xwg_timer *)((char *)peer + timer_table[i].offset);

			if (timer_pending(t) && t->at < next)
				next = t->at;
		}
	if (next == UINT64_MAX)
		return -1;
	now = now_ns();
	if (next <= now)
		return 0;
	/* Round up so we never wake a hair early and spin. */
	next = (next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
	return next > INT_MAX ? INT_MAX : (int)next;
}

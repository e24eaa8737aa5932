/* SPDX-License-Identifier: GPL-2.0 */
/* Protocol timers as hooks named after the events that arm and cancel them. */
#ifndef XWG_TIMERS_H
#define XWG_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

struct peer;
struct xwg_device;

void timers_data_sent(struct peer *peer);
void timers_data_received(struct peer *peer);
void timers_any_authenticated_packet_sent(struct peer *peer);
void timers_any_authenticated_packet_received(struct peer *peer);
void timers_handshake_initiated(struct peer *peer);
void timers_handshake_complete(struct peer *peer);
void timers_session_derived(struct peer *peer);
void timers_any_authenticated_packet_traversal(struct peer *peer);
void timers_stop(struct peer *peer);

/* True when timers_run would fire something now (the loop reads BPF activity first). */
bool timers_due(struct xwg_device *dev);
/* Fires every due timer of every peer; returns ms until the next one (-1 = none) for epoll_wait. */
int timers_run(struct xwg_device *dev);

#endif

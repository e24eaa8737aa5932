/* SPDX-License-Identifier: GPL-2.0 */
/* Why the BPF data path delivered, dropped or handed a packet to the agent: one list for BPF counters and CLI names. */
#ifndef XWG_REASONS_H
#define XWG_REASONS_H

#include "xwg_types.h"

/*
 * X(name, action, description). The action says what the data path does with the packet:
 *   DELIVER  decrypted and sent on to the tunnel interface (RX), encrypted and sent to the
 *            peer (TX)
 *   AGENT    left untouched (XDP_PASS / TC_ACT_OK): the kernel stack and the agent's UDP socket
 *            decide. Everything the agent could still handle goes this way.
 *   DROP     proved bad by the AEAD or the replay window, or consumed (keepalive), or a
 *            congestion mark the inner packet cannot carry (RFC 6040); TX drops only packets
 *            it already modified (ERROR)
 * The order is ABI (the xwg_reasons per-CPU array is indexed by it): append only.
 * AGENT_* are counted by the agent, not BPF, and shown with the rest: AGENT_NO_COUNTER keeps the
 * packet staged (the keypair is retired and a handshake started), AGENT_NO_REPLAY_CHECK drops it.
 * AGENT_UNROUTABLE counts unicast packets without peer or endpoint (BPF hands them up as
 * TX_NO_PEER / TX_NO_ENDPOINT), AGENT_ICMP_UNREACH how many of them got a destination unreachable
 * back; the rest were rate-limited or must not be answered (ICMP errors, later fragments, ...).
 * AGENT_RX_DROP counts what reached the agent's UDP socket and was dropped there: a message of
 * unknown type or wrong length, a data message with an unknown index or an unusable keypair, one
 * that failed authentication or was replayed (a flood that BPF stops never moves it).
 */
#define XWG_REASONS(X)								\
	X(OK,            DELIVER, "delivered to the tunnel")			\
	X(KEEPALIVE,     DROP,    "keepalive consumed")				\
	X(NOT_WG,        AGENT,   "not for the listen port")			\
	X(HANDSHAKE,     AGENT,   "handshake message to agent")			\
	X(NOT_DATA,      AGENT,   "unknown message type to agent")		\
	X(SHORT,         AGENT,   "truncated message to agent")			\
	X(NONLINEAR,     AGENT,   "multi-buffer frame to agent")		\
	X(TOO_BIG,       AGENT,   "oversize message to agent")			\
	X(DISABLED,      AGENT,   "receive offload off")			\
	X(NO_META,       AGENT,   "driver lacks XDP metadata, to agent")	\
	X(UNKNOWN_INDEX, AGENT,   "unknown receiver index to agent")		\
	X(EXPIRED_KEY,   AGENT,   "expired or not receiving keypair to agent")	\
	X(REPLAY,        DROP,    "replayed or too old counter")		\
	X(BAD_TAG,       DROP,    "authentication failed")			\
	X(BAD_INNER,     DROP,    "malformed inner packet")			\
	X(WRONG_SOURCE,  DROP,    "inner source not in peer's allowed IPs")	\
	X(ERROR,         DROP,    "internal error")				\
	X(TX_OK,         DELIVER, "encrypted and sent to the peer")		\
	X(TX_DISABLED,   AGENT,   "transmit offload off")			\
	X(TX_NOT_IP,     AGENT,   "unsupported inner packet to agent")		\
	X(TX_NO_PEER,    AGENT,   "no peer for destination to agent")		\
	X(TX_NO_ENDPOINT, AGENT,  "peer endpoint or source unknown to agent")	\
	X(TX_NO_KEYPAIR, AGENT,   "no current keypair to agent")		\
	X(TX_EXPIRED_KEY, AGENT,  "current keypair expired or not sending")	\
	X(TX_EXHAUSTED,  AGENT,   "send counter exhausted to agent")		\
	X(TX_GSO,        AGENT,   "GSO super-packet to agent")			\
	X(TX_TOO_BIG,    AGENT,   "larger than the MTU to agent")		\
	X(PEER_AGENT,    AGENT,   "peer not (fully) in BPF, to agent")	\
	X(TX_PEER_AGENT, AGENT,   "peer not (fully) in BPF, to agent")	\
	X(AGENT_NO_COUNTER, DROP, "agent: no send counter, keypair retired")	\
	X(AGENT_NO_REPLAY_CHECK, DROP, "agent: replay window unreachable")	\
	X(ECN_NOT_ECT,   DROP,    "outer CE over a not-ECT inner packet")	\
	X(TX_BULK,       AGENT,   "auto: GSO super-packet to the batched path")	\
	X(RX_BULK,       AGENT,   "auto: bulk data message to the batched path")	\
	X(INDEX_DROP,    DROP,    "unknown receiver index dropped")		\
	X(BAD_HEADER,    DROP,    "truncated or unknown message dropped")	\
	X(AGENT_UNROUTABLE, DROP, "agent: no peer or endpoint, dropped")	\
	X(AGENT_ICMP_UNREACH, DROP, "agent: ICMP unreachable sent")	\
	X(AGENT_RX_DROP, DROP,   "agent: data or unknown message dropped")	\
	X(HANDSHAKE_LIMIT, DROP, "handshake over the per-CPU rate dropped")

#define XWG_REASON_ENUM(name, action, desc) XWG_R_##name,
enum xwg_reason {
	XWG_REASONS(XWG_REASON_ENUM)
	XWG_R_MAX
};
#undef XWG_REASON_ENUM

enum xwg_action {
	XWG_ACT_DELIVER,
	XWG_ACT_AGENT,
	XWG_ACT_DROP,
};

/* Unknown values count as drops: the safe reading of a counter from a newer data path. */
static __always_inline int xwg_reason_action(__u32 reason)
{
	switch (reason) {
#define XWG_REASON_CASE(name, action, desc) case XWG_R_##name: return XWG_ACT_##action;
	XWG_REASONS(XWG_REASON_CASE)
#undef XWG_REASON_CASE
	}
	return XWG_ACT_DROP;
}

#ifndef __bpf__
/* "BAD_TAG": stable key for scripts and JSON. */
static inline const char *xwg_reason_key(unsigned int reason)
{
	switch (reason) {
#define XWG_REASON_CASE(name, action, desc) case XWG_R_##name: return #name;
	XWG_REASONS(XWG_REASON_CASE)
#undef XWG_REASON_CASE
	}
	return "UNKNOWN";
}

/* "authentication failed": for people. */
static inline const char *xwg_reason_desc(unsigned int reason)
{
	switch (reason) {
#define XWG_REASON_CASE(name, action, desc) case XWG_R_##name: return desc;
	XWG_REASONS(XWG_REASON_CASE)
#undef XWG_REASON_CASE
	}
	return "unknown reason";
}
#endif

#endif

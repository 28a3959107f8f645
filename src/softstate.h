/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 2003 section 5 tunnel soft state: the path MTU (5.1), the outer TTL
 * the path needs and the reachability of the tunnel exit, learned from ICMP
 * errors about our outer packets; the outer IDs sent lately, which such an
 * error must quote to be believed; and the ICMP errors ipipd may send in
 * return: at most one for each error received (as the kernel's ipip turns
 * one error into at most one link failure), within a rate limit.
 *
 * Threads: the rx thread learns (ss_icmp, ss_exit_reached) and lowers, the
 * tx thread spends (ss_error_allowed); only the owner (the datapath
 * process's main thread, ss_tick) raises the MTU again, forgets state and
 * moves the window of recent IDs.  No I/O and no clock: callers pass the
 * time (CLOCK_MONOTONIC), so that tests can pass theirs.
 */
#ifndef IPIPD_SOFTSTATE_H
#define IPIPD_SOFTSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

#define SS_PMTU_FLOOR 552u	/* outer; the kernel's net.ipv4.route.min_pmtu default */
#define SS_EXPIRE_S 600u	/* the kernel's net.ipv4.route.mtu_expires default */
#define SS_TTL_MAX 64u		/* the kernel's net.ipv4.ip_default_ttl default */
#define SS_UNREACH_S 30u	/* as the kernel's IPTUNNEL_ERR_TIMEO (also how long errors are owed) */
#define SS_RATE 10u		/* ICMP errors ipipd sends, per second ... */
#define SS_BURST 20u		/* ... with this burst; also the most errors owed */
#define SS_TICK_MS 500u		/* ss_tick() is called this often */
#define SS_ID_SLOTS 8u		/* IDs of the last 3.5-4 s are recent */

struct ss_limits {
	unsigned mtu;		/* the device MTU: the ceiling of the path MTU soft state */
	unsigned floor;		/* outer path MTU floor: smaller reports are raised to it */
	unsigned expire_s;	/* a lowered path MTU, a learned path TTL: forgotten after */
	unsigned ttl_max;	/* the highest path TTL an error can teach */
	unsigned overhead;	/* outer header bytes (0: IPV4_HLEN; UDP encapsulation's more) */
};

/* Flags of ss.flags and of ss_tick()'s and ss_icmp()'s *changed. */
#define SS_TTL 1u		/* a path TTL is known */
#define SS_UNREACH 2u		/* the exit was reported unreachable lately */
#define SS_PMTU 4u		/* (changes only) the path MTU moved */
#define SS_CREDIT 8u		/* (changes only) errors owed went from none to some */
#define SS_ROUTE 16u		/* (ss_tick) ask the route's MTU again: ss_pmtu_lower() */

struct softstate {
	struct ss_limits lim;
	_Atomic unsigned pmtu;		/* inner MTU that fits the path now */
	_Atomic uint64_t pmtu_lowered;	/* when it was last lowered (s; 0: never since raised) */
	_Atomic unsigned flags;		/* SS_TTL, SS_UNREACH */
	_Atomic unsigned path_ttl;	/* valid while SS_TTL */
	_Atomic uint64_t ttl_at;	/* when it was last learned (s) */
	_Atomic uint64_t unreach_at;	/* when the exit was last reported unreachable (s; 0: never) */
	_Atomic int credit;		/* ICMP errors owed: one per error received, at most SS_BURST */
	_Atomic uint64_t credit_at;	/* when the last was owed (s): all expire SS_UNREACH_S later */
	_Atomic uint64_t tat_ns;	/* rate limit: when the bucket is full again (GCRA) */
	_Atomic uint32_t *ids;		/* the tunnel's outer ID counter (the next ID to take) */
	_Atomic uint32_t id_hist[SS_ID_SLOTS];	/* the counter at the last ticks */
	_Atomic unsigned id_ticks;	/* ticks so far (written by the owner) */
};

/* What ss_read() reports. */
struct ss_view {
	unsigned pmtu;
	unsigned path_ttl;	/* 0: none known */
	bool unreachable;	/* the exit was reported unreachable within SS_UNREACH_S */
	int64_t unreachable_age;	/* seconds since that report, -1: never */
	int credit;
};

void ss_init(struct softstate *s, const struct ss_limits *lim, _Atomic uint32_t *ids);

/*
 * An ICMP error type/code/info (as in sock_extended_err) that quotes
 * quoted[0..len): believed only if it quotes one of this tunnel's outer
 * packets (icmp_quote_ours) with an ID taken lately (id_recent).  Then, if
 * the relay table answers it (icmp_answered), one error is owed to inner
 * senders (for SS_UNREACH_S), and the soft state learns from it:
 * fragmentation needed lowers the path MTU, time exceeded teaches the path
 * TTL (TTL = inherit only, at most lim.ttl_max), net/host unreachable marks
 * the exit unreachable.  Returns PKT_OK or why it was not believed; *changed
 * gets the SS_* flags of what moved.  Any thread; one learner at a time.
 */
enum pkt_verdict ss_icmp(struct softstate *s, const struct ipip_params *p, unsigned type,
			 unsigned code, uint32_t info, const uint8_t *quoted, size_t len,
			 uint64_t now_s, unsigned *changed);

/* The device MTU changed (the owner): the path MTU follows it down, and up where not lowered. */
void ss_set_mtu(struct softstate *s, unsigned mtu);

/* Lower the path MTU to fit an outer MTU (never raises); true if it moved. */
bool ss_pmtu_lower(struct softstate *s, unsigned outer, uint64_t now_s);

/* The path MTU now (one relaxed load: the per-packet check). */
static inline unsigned ss_pmtu(struct softstate *s)
{
	return atomic_load_explicit(&s->pmtu, memory_order_relaxed);
}

/* SS_TTL|SS_UNREACH (one relaxed load: the per-packet check). */
static inline unsigned ss_flags(struct softstate *s)
{
	return atomic_load_explicit(&s->flags, memory_order_relaxed);
}

/* A packet came from the exit: it is reachable.  True if that changed the state. */
bool ss_exit_reached(struct softstate *s);

enum ss_send { SS_SEND, SS_NOT_OWED, SS_LIMITED };

/*
 * May an ICMP error go to an inner sender now?  owed: it answers an error
 * received (a relay or a soft-state error), and spends one of those owed;
 * otherwise (fragmentation needed for our own MTU) only the rate limit
 * applies.  Any thread.
 */
enum ss_send ss_error_allowed(struct softstate *s, bool owed, uint64_t now_ns);

/*
 * The owner, every SS_TICK_MS: move the window of recent IDs, forget a path
 * TTL and an unreachable exit that are too old, raise the path MTU to the
 * device MTU once the last decrease is lim.expire_s old.  Returns the SS_*
 * flags of what moved (SS_ROUTE: the caller should then lower it to the
 * route's MTU).
 */
unsigned ss_tick(struct softstate *s, uint64_t now_s);

void ss_read(struct softstate *s, uint64_t now_s, struct ss_view *v);

/*
 * Take n consecutive outer IDs from the counter; ids[0..n) get their low 16
 * bits, none of them 0 (the kernel's IP output would replace a 0 with an ID
 * of its own sequence).  Any thread.
 */
void ss_take_ids(struct softstate *s, uint16_t *ids, unsigned n);

/*
 * Take a run of n consecutive outer IDs, 0 among them maybe (for packets
 * that no IP output rewrites: UDP GSO frames); returns the first.
 */
uint16_t ss_take_id_run(struct softstate *s, unsigned n);

#endif

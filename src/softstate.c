/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "softstate.h"

#include <string.h>

#define RELAXED memory_order_relaxed

void ss_init(struct softstate *s, const struct ss_limits *lim, _Atomic uint32_t *ids)
{
	uint32_t now = atomic_load(ids);

	memset(s, 0, sizeof(*s));
	s->lim = *lim;
	if (s->lim.floor < SS_PMTU_FLOOR)
		s->lim.floor = SS_PMTU_FLOOR;
	if (!s->lim.expire_s)
		s->lim.expire_s = SS_EXPIRE_S;
	if (!s->lim.ttl_max || s->lim.ttl_max > 255)
		s->lim.ttl_max = SS_TTL_MAX;
	s->ids = ids;
	for (unsigned i = 0; i < SS_ID_SLOTS; i++)
		atomic_store(&s->id_hist[i], now);
	atomic_store(&s->pmtu, s->lim.mtu);
}

void ss_set_mtu(struct softstate *s, unsigned mtu)
{
	unsigned cur = atomic_load(&s->pmtu), was = s->lim.mtu;

	s->lim.mtu = mtu;
	/* lower at once; higher only where the path MTU was not lowered by the path */
	while ((cur > mtu || (cur == was && mtu > was)) &&
	       !atomic_compare_exchange_weak(&s->pmtu, &cur, mtu))
		;
}

bool ss_pmtu_lower(struct softstate *s, unsigned outer, uint64_t now_s)
{
	unsigned cur = atomic_load_explicit(&s->pmtu, RELAXED), inner;

	if (outer < s->lim.floor)
		outer = s->lim.floor;
	inner = outer - (s->lim.overhead ? s->lim.overhead : IPV4_HLEN);
	if (inner > s->lim.mtu)
		inner = s->lim.mtu;
	do {
		if (inner >= cur)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&s->pmtu, &cur, inner, RELAXED, RELAXED));
	atomic_store_explicit(&s->pmtu_lowered, now_s ? now_s : 1, RELAXED);
	return true;
}

/* The IDs taken since the oldest tick kept: is id one of them? */
static bool id_is_recent(struct softstate *s, uint16_t id)
{
	unsigned ticks = atomic_load_explicit(&s->id_ticks, memory_order_acquire);
	uint32_t oldest = atomic_load_explicit(&s->id_hist[ticks % SS_ID_SLOTS], RELAXED);

	return id_recent(atomic_load_explicit(s->ids, RELAXED), oldest, id);
}

static void learn_ttl(struct softstate *s, int sent, uint64_t now_s, unsigned *changed)
{
	unsigned need = (unsigned)sent + 1, cur = 0;

	if (sent < 0)
		return;
	if (need > s->lim.ttl_max)
		need = s->lim.ttl_max;
	if (atomic_load(&s->flags) & SS_TTL)
		cur = atomic_load(&s->path_ttl);
	if (need > cur) {
		atomic_store(&s->path_ttl, need);
		*changed |= SS_TTL;
	}
	atomic_store(&s->ttl_at, now_s);
	if (!(atomic_fetch_or(&s->flags, SS_TTL) & SS_TTL))
		*changed |= SS_TTL;
}

enum pkt_verdict ss_icmp(struct softstate *s, const struct ipip_params *p, unsigned type,
			 unsigned code, uint32_t info, const uint8_t *quoted, size_t len,
			 uint64_t now_s, unsigned *changed)
{
	uint16_t id;
	int owed;

	*changed = 0;
	if (icmp_quote_ours(p, quoted, len, &id) != PKT_OK)
		return PKT_ICMP_NOT_OURS;
	if (!id_is_recent(s, id))
		return PKT_ICMP_ID_NOT_RECENT;
	/* an error the relay table answers buys one error to an inner sender */
	owed = atomic_load(&s->credit);
	while (icmp_answered(type, code) && owed < (int)SS_BURST) {
		if (atomic_compare_exchange_weak(&s->credit, &owed, owed + 1)) {
			atomic_store(&s->credit_at, now_s ? now_s : 1);
			if (owed == 0)
				*changed |= SS_CREDIT;
			break;
		}
	}
	if (type == 3 && code == 4 && ss_pmtu_lower(s, info, now_s))
		*changed |= SS_PMTU;
	/*
	 * A hub's errors are about one of its peers: the path MTU is the
	 * tunnel's (the lowest of theirs), but one peer's TTL or
	 * reachability says nothing of the others'.
	 */
	if (p->remote_any)
		return PKT_OK;
	learn_ttl(s, icmp_sent_ttl(p, type, quoted, len), now_s, changed);
	if (icmp_exit_unreachable(p, type, code, quoted, len)) {
		atomic_store(&s->unreach_at, now_s ? now_s : 1);
		if (!(atomic_fetch_or(&s->flags, SS_UNREACH) & SS_UNREACH))
			*changed |= SS_UNREACH;
	}
	return PKT_OK;
}

bool ss_exit_reached(struct softstate *s)
{
	return atomic_fetch_and(&s->flags, ~SS_UNREACH) & SS_UNREACH;
}

/* The rate limit (GCRA): tat is when the bucket is full again. */
static bool rate_ok(struct softstate *s, uint64_t now)
{
	const uint64_t per = 1000000000u / SS_RATE, burst = (uint64_t)SS_BURST * per;
	uint64_t tat = atomic_load_explicit(&s->tat_ns, RELAXED), next;

	do {
		next = (tat > now ? tat : now) + per;
		if (next - now > burst)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&s->tat_ns, &tat, next, RELAXED, RELAXED));
	return true;
}

enum ss_send ss_error_allowed(struct softstate *s, bool owed, uint64_t now_ns)
{
	int c;

	if (owed) {
		c = atomic_load(&s->credit);
		do {
			if (c <= 0)
				return SS_NOT_OWED;
		} while (!atomic_compare_exchange_weak(&s->credit, &c, c - 1));
	}
	if (rate_ok(s, now_ns))
		return SS_SEND;
	if (owed)
		atomic_fetch_add(&s->credit, 1);	/* still owed: perhaps later */
	return SS_LIMITED;
}

/* Clear flag if at (when it was last set) is secs old and was not renewed meanwhile. */
static bool expire(struct softstate *s, unsigned flag, _Atomic uint64_t *at, uint64_t secs,
		   uint64_t now_s)
{
	uint64_t t = atomic_load(at);

	if (!(atomic_load(&s->flags) & flag) || now_s - t < secs)
		return false;
	atomic_fetch_and(&s->flags, ~flag);
	if (atomic_load(at) != t) {
		atomic_fetch_or(&s->flags, flag);	/* the rx thread renewed it */
		return false;
	}
	return true;
}

unsigned ss_tick(struct softstate *s, uint64_t now_s)
{
	unsigned t = atomic_load_explicit(&s->id_ticks, RELAXED), changed = 0, cur;
	uint64_t lowered;

	atomic_store_explicit(&s->id_hist[t % SS_ID_SLOTS], atomic_load(s->ids), RELAXED);
	atomic_store_explicit(&s->id_ticks, t + 1, memory_order_release);
	if (expire(s, SS_TTL, &s->ttl_at, s->lim.expire_s, now_s))
		changed |= SS_TTL;
	if (expire(s, SS_UNREACH, &s->unreach_at, SS_UNREACH_S, now_s))
		changed |= SS_UNREACH;
	/* errors owed expire as the kernel's ipip forgets its error count (30 s) */
	if (atomic_load(&s->credit) > 0 && now_s - atomic_load(&s->credit_at) >= SS_UNREACH_S &&
	    atomic_exchange(&s->credit, 0) > 0)
		changed |= SS_CREDIT;
	lowered = atomic_load(&s->pmtu_lowered);
	if (lowered && now_s - lowered >= s->lim.expire_s) {
		/* try the device MTU again, unless it was lowered just now */
		cur = atomic_load(&s->pmtu);
		if (atomic_load(&s->pmtu_lowered) == lowered &&
		    atomic_compare_exchange_strong(&s->pmtu, &cur, s->lim.mtu)) {
			atomic_store(&s->pmtu_lowered, 0);
			changed |= SS_PMTU | SS_ROUTE;
		}
	}
	return changed;
}

void ss_read(struct softstate *s, uint64_t now_s, struct ss_view *v)
{
	unsigned flags = atomic_load(&s->flags);
	uint64_t at = atomic_load(&s->unreach_at);

	v->pmtu = atomic_load(&s->pmtu);
	v->path_ttl = flags & SS_TTL ? atomic_load(&s->path_ttl) : 0;
	v->unreachable = (flags & SS_UNREACH) && now_s - at < SS_UNREACH_S;
	v->unreachable_age = at ? (int64_t)(now_s - at) : -1;
	v->credit = atomic_load(&s->credit);
}

uint16_t ss_take_id_run(struct softstate *s, unsigned n)
{
	return (uint16_t)atomic_fetch_add_explicit(s->ids, n, RELAXED);
}

void ss_take_ids(struct softstate *s, uint16_t *ids, unsigned n)
{
	/* one spare: at most one ID in a run of n + 1 has low bits 0 */
	uint32_t id = atomic_fetch_add_explicit(s->ids, n + 1, RELAXED);

	for (unsigned i = 0; i < n; id++) {
		if ((uint16_t)id != 0)
			ids[i++] = (uint16_t)id;
	}
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RFC 2003 section 5 soft state (src/softstate.c) on a clock of the test's
 * own: the path MTU floor and its expiry after net.ipv4.route.mtu_expires,
 * the learned path TTL (inherit only, bounded) and its expiry, the exit's
 * reachability, the window of recent outer IDs an ICMP error must quote, and
 * the errors owed to inner senders (one per error received, rate-limited).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "packet.h"
#include "softstate.h"

static const uint8_t LOCAL[4] = { 192, 0, 2, 1 };
static const uint8_t REMOTE[4] = { 198, 51, 100, 1 };

#define T0 100000u	/* seconds: the test's clock starts here */

struct fixture {
	struct ipip_params p;
	struct softstate ss;
	_Atomic uint32_t ids;
};

static struct fixture fx;

static int setup(void **state)
{
	struct ss_limits lim = { .mtu = 1480, .floor = 552, .expire_s = 600, .ttl_max = 64 };

	memset(&fx, 0, sizeof(fx));
	memcpy(&fx.p.local, LOCAL, 4);
	memcpy(&fx.p.remote, REMOTE, 4);
	fx.p.pmtudisc = true;
	atomic_store(&fx.ids, 5000);
	ss_init(&fx.ss, &lim, &fx.ids);
	*state = &fx;
	return 0;
}

/* An outer packet as a router quotes it: outer header with ID id, inner header with TTL ttl. */
static size_t quote(uint8_t *q, uint16_t id, uint8_t ttl)
{
	uint8_t inner[28] = { 0x45, 0, 0, 28, 0, 0, 0x40, 0, ttl, 17 };

	memcpy(inner + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	inner[10] = 0;
	inner[11] = 0;
	{
		uint16_t c = inet_csum(inner, 20);

		inner[10] = (uint8_t)(c >> 8);
		inner[11] = (uint8_t)c;
	}
	assert_int_equal(ipip_encap(&fx.p, q, inner, sizeof(inner)), PKT_OK);
	ipv4_set_id(q, id);
	memcpy(q + IPV4_HLEN, inner, sizeof(inner));
	return IPV4_HLEN + sizeof(inner);
}

/* Take n IDs as the datapath does; returns the first. */
static uint16_t take(unsigned n)
{
	uint16_t ids[64];

	ss_take_ids(&fx.ss, ids, n);
	for (unsigned i = 1; i < n; i++)
		assert_int_equal((uint16_t)(ids[i - 1] + 1), ids[i]);
	return ids[0];
}

static enum pkt_verdict icmp(unsigned type, unsigned code, uint32_t info, uint16_t id,
			     uint8_t ttl, uint64_t now, unsigned *changed)
{
	uint8_t q[64];
	size_t len = quote(q, id, ttl);

	return ss_icmp(&fx.ss, &fx.p, type, code, info, q, len, now, changed);
}

static void test_pmtu_floor_and_ceiling(void **state)
{
	unsigned ch;
	uint16_t id = take(1);

	(void)state;
	assert_int_equal(ss_pmtu(&fx.ss), 1480);
	/* a forged tiny "too big" (even a believed one) stops at the floor: 552 - 20 */
	assert_int_equal(icmp(3, 4, 300, id, 64, T0, &ch), PKT_OK);
	assert_true(ch & SS_PMTU);
	assert_int_equal(ss_pmtu(&fx.ss), 532);
	/* never raised by an error, never above the device MTU */
	assert_false(ss_pmtu_lower(&fx.ss, 9000, T0));
	assert_int_equal(ss_pmtu(&fx.ss), 532);
	assert_false(ss_pmtu_lower(&fx.ss, 0, T0));
	assert_int_equal(ss_pmtu(&fx.ss), 532);
}

static void test_pmtu_expiry(void **state)
{
	unsigned ch;

	(void)state;
	assert_true(ss_pmtu_lower(&fx.ss, 1400, T0));
	assert_int_equal(ss_pmtu(&fx.ss), 1380);
	/* lowered again later: the 600 s count from the last decrease */
	assert_true(ss_pmtu_lower(&fx.ss, 1300, T0 + 100));
	ch = ss_tick(&fx.ss, T0 + 699);
	assert_false(ch & SS_PMTU);
	assert_int_equal(ss_pmtu(&fx.ss), 1280);
	ch = ss_tick(&fx.ss, T0 + 700);
	assert_true(ch & SS_PMTU);
	assert_true(ch & SS_ROUTE);	/* the caller asks the route's MTU again */
	assert_int_equal(ss_pmtu(&fx.ss), 1480);
	assert_false(ss_tick(&fx.ss, T0 + 2000) & SS_PMTU);
}

static void test_ttl_learned_bounded_expired(void **state)
{
	unsigned ch;
	uint16_t id = take(3);
	struct ss_view v;

	(void)state;
	/* TTL inherit: the quoted inner TTL 40 was the outer one: the path needs 41 */
	assert_int_equal(icmp(11, 0, 0, id, 40, T0, &ch), PKT_OK);
	assert_true(ch & SS_TTL);
	ss_read(&fx.ss, T0, &v);
	assert_int_equal(v.path_ttl, 41);
	/* never lowered by a smaller one */
	assert_int_equal(icmp(11, 0, 0, (uint16_t)(id + 1), 10, T0 + 1, &ch), PKT_OK);
	ss_read(&fx.ss, T0 + 1, &v);
	assert_int_equal(v.path_ttl, 41);
	/* bounded: a quote of TTL 200 teaches at most ip_default_ttl (64) */
	assert_int_equal(icmp(11, 0, 0, (uint16_t)(id + 2), 200, T0 + 2, &ch), PKT_OK);
	ss_read(&fx.ss, T0 + 2, &v);
	assert_int_equal(v.path_ttl, 64);
	/* forgotten 600 s after the last one */
	assert_false(ss_tick(&fx.ss, T0 + 601) & SS_TTL);
	assert_true(ss_tick(&fx.ss, T0 + 602) & SS_TTL);
	ss_read(&fx.ss, T0 + 602, &v);
	assert_int_equal(v.path_ttl, 0);
}

static void test_ttl_fixed_learns_nothing(void **state)
{
	unsigned ch;
	uint16_t id;
	struct ss_view v;

	(void)state;
	fx.p.ttl = 30;
	id = take(1);
	assert_int_equal(icmp(11, 0, 0, id, 30, T0, &ch), PKT_OK);
	ss_read(&fx.ss, T0, &v);
	assert_int_equal(v.path_ttl, 0);
	assert_false(ss_flags(&fx.ss) & SS_TTL);
	assert_int_equal(v.credit, 1);	/* an error is still owed to one sender */
}

static void test_unreachable(void **state)
{
	unsigned ch;
	uint16_t id = take(2);
	struct ss_view v;

	(void)state;
	assert_int_equal(icmp(3, 1, 0, id, 64, T0, &ch), PKT_OK);
	assert_true(ch & SS_UNREACH);
	ss_read(&fx.ss, T0 + 5, &v);
	assert_true(v.unreachable);
	assert_int_equal(v.unreachable_age, 5);
	/* a packet from the exit clears it */
	assert_true(ss_exit_reached(&fx.ss));
	assert_false(ss_exit_reached(&fx.ss));
	/* or 30 s without a new report */
	assert_int_equal(icmp(3, 0, 0, (uint16_t)(id + 1), 64, T0 + 10, &ch), PKT_OK);
	assert_false(ss_tick(&fx.ss, T0 + 39) & SS_UNREACH);
	assert_true(ss_tick(&fx.ss, T0 + 40) & SS_UNREACH);
	assert_false(ss_flags(&fx.ss) & SS_UNREACH);
	/* port unreachable and frag needed say nothing about the exit */
	assert_int_equal(icmp(3, 3, 0, id, 64, T0 + 41, &ch), PKT_OK);
	assert_int_equal(icmp(3, 4, 1400, id, 64, T0 + 41, &ch), PKT_OK);
	assert_false(ss_flags(&fx.ss) & SS_UNREACH);
}

static void test_forged_quote_changes_nothing(void **state)
{
	unsigned ch;
	uint16_t id = take(1);
	uint8_t q[64];
	size_t len = quote(q, id, 40);
	struct ss_view v;

	(void)state;
	/* another destination: not this tunnel's packet */
	q[19] ^= 1;
	assert_int_equal(ss_icmp(&fx.ss, &fx.p, 3, 4, 600, q, len, T0, &ch), PKT_ICMP_NOT_OURS);
	q[19] ^= 1;
	/* another protocol */
	q[9] = 17;
	assert_int_equal(ss_icmp(&fx.ss, &fx.p, 3, 4, 600, q, len, T0, &ch), PKT_ICMP_NOT_OURS);
	q[9] = 4;
	/* an ID not taken */
	ipv4_set_id(q, (uint16_t)(id + 1000));
	assert_int_equal(ss_icmp(&fx.ss, &fx.p, 3, 4, 600, q, len, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	assert_int_equal(ss_icmp(&fx.ss, &fx.p, 11, 0, 0, q, len, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	assert_int_equal(ss_icmp(&fx.ss, &fx.p, 3, 1, 0, q, len, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	assert_int_equal(ch, 0);
	ss_read(&fx.ss, T0, &v);
	assert_int_equal(v.pmtu, 1480);
	assert_int_equal(v.path_ttl, 0);
	assert_false(v.unreachable);
	assert_int_equal(v.credit, 0);
	assert_int_equal(ss_error_allowed(&fx.ss, true, (uint64_t)T0 * 1000000000u), SS_NOT_OWED);
}

static void test_id_window_moves(void **state)
{
	unsigned ch;
	uint16_t old = take(10), id;

	(void)state;
	/* taken within the last ticks: recent */
	assert_int_equal(icmp(3, 3, 0, old, 64, T0, &ch), PKT_OK);
	assert_int_equal(icmp(3, 3, 0, (uint16_t)(old + 9), 64, T0, &ch), PKT_OK);
	/* (one spare is taken with each run) */
	assert_int_equal(icmp(3, 3, 0, (uint16_t)(old + 11), 64, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	assert_int_equal(icmp(3, 3, 0, (uint16_t)(old - 1), 64, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	/* SS_ID_SLOTS ticks without taking an ID: the window is empty */
	for (unsigned i = 0; i < SS_ID_SLOTS; i++)
		ss_tick(&fx.ss, T0);
	assert_int_equal(icmp(3, 3, 0, old, 64, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	id = take(1);
	assert_int_equal(icmp(3, 3, 0, id, 64, T0, &ch), PKT_OK);
	assert_int_equal(icmp(3, 3, 0, (uint16_t)(id - 1), 64, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
	/* taken one tick ago, still there SS_ID_SLOTS - 1 ticks later, gone after one more */
	for (unsigned i = 0; i < SS_ID_SLOTS - 1; i++)
		ss_tick(&fx.ss, T0);
	assert_int_equal(icmp(3, 3, 0, id, 64, T0, &ch), PKT_OK);
	ss_tick(&fx.ss, T0);
	assert_int_equal(icmp(3, 3, 0, id, 64, T0, &ch), PKT_ICMP_ID_NOT_RECENT);
}

static void test_ids_skip_zero(void **state)
{
	uint16_t ids[64];

	(void)state;
	atomic_store(&fx.ids, 0x1fffe);
	ss_take_ids(&fx.ss, ids, 4);
	assert_int_equal(ids[0], 0xfffe);
	assert_int_equal(ids[1], 0xffff);
	assert_int_equal(ids[2], 1);
	assert_int_equal(ids[3], 2);
	assert_int_equal(atomic_load(&fx.ids), 0x1fffe + 5);
}

static void test_errors_owed_only_for_answered_and_expire(void **state)
{
	unsigned ch;
	uint16_t id = take(4);

	(void)state;
	/* port unreachable, source route failed, redirect: nothing owed */
	assert_int_equal(icmp(3, 3, 0, id, 64, T0, &ch), PKT_OK);
	assert_int_equal(icmp(3, 5, 0, id, 64, T0, &ch), PKT_OK);
	assert_int_equal(icmp(5, 1, 0, id, 64, T0, &ch), PKT_OK);
	assert_int_equal(atomic_load(&fx.ss.credit), 0);
	/* host unreachable: one owed, for 30 s (the kernel's error window) */
	assert_int_equal(icmp(3, 1, 0, id, 64, T0, &ch), PKT_OK);
	assert_int_equal(atomic_load(&fx.ss.credit), 1);
	assert_false(ss_tick(&fx.ss, T0 + 29) & SS_CREDIT);
	assert_int_equal(atomic_load(&fx.ss.credit), 1);
	assert_true(ss_tick(&fx.ss, T0 + 30) & SS_CREDIT);
	assert_int_equal(atomic_load(&fx.ss.credit), 0);
}

static void test_errors_owed_one_per_error(void **state)
{
	unsigned ch;
	uint16_t id = take(40);
	uint64_t ns = (uint64_t)T0 * 1000000000u;

	(void)state;
	assert_int_equal(ss_error_allowed(&fx.ss, true, ns), SS_NOT_OWED);
	assert_int_equal(icmp(3, 1, 0, id, 64, T0, &ch), PKT_OK);
	assert_true(ch & SS_CREDIT);
	assert_int_equal(ss_error_allowed(&fx.ss, true, ns), SS_SEND);
	assert_int_equal(ss_error_allowed(&fx.ss, true, ns), SS_NOT_OWED);
	/* 30 errors received: at most SS_BURST owed */
	for (unsigned i = 0; i < 30; i++)
		assert_int_equal(icmp(3, 1, 0, (uint16_t)(id + i), 64, T0, &ch), PKT_OK);
	assert_int_equal(atomic_load(&fx.ss.credit), (int)SS_BURST);
	/* the rate limit: a burst of 20 (one went above), then 10 a second; a limited error stays owed */
	for (unsigned i = 1; i < SS_BURST; i++)
		assert_int_equal(ss_error_allowed(&fx.ss, false, ns), SS_SEND);
	assert_int_equal(ss_error_allowed(&fx.ss, true, ns), SS_LIMITED);
	assert_int_equal(atomic_load(&fx.ss.credit), (int)SS_BURST);
	assert_int_equal(ss_error_allowed(&fx.ss, true, ns + 100000000u), SS_SEND);
	assert_int_equal(atomic_load(&fx.ss.credit), (int)SS_BURST - 1);
	assert_int_equal(ss_error_allowed(&fx.ss, false, ns + 100000000u), SS_LIMITED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_pmtu_floor_and_ceiling, setup),
		cmocka_unit_test_setup(test_pmtu_expiry, setup),
		cmocka_unit_test_setup(test_ttl_learned_bounded_expired, setup),
		cmocka_unit_test_setup(test_ttl_fixed_learns_nothing, setup),
		cmocka_unit_test_setup(test_unreachable, setup),
		cmocka_unit_test_setup(test_forged_quote_changes_nothing, setup),
		cmocka_unit_test_setup(test_id_window_moves, setup),
		cmocka_unit_test_setup(test_ids_skip_zero, setup),
		cmocka_unit_test_setup(test_errors_owed_one_per_error, setup),
		cmocka_unit_test_setup(test_errors_owed_only_for_answered_and_expire, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

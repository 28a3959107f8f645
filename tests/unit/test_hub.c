/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of Remote = any: the routes into the device (src/hub.c, longest
 * prefix first, against a plain scan of every route), and the outer-source
 * and ICMP checks of a hub (AllowedRemotes in src/packet.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "packet.h"

static uint32_t A(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct hub_route R(const char *dst, unsigned len, const char *gw)
{
	return (struct hub_route){ .dst = A(dst), .len = (uint8_t)len, .gw = gw ? A(gw) : 0 };
}

static void test_longest_prefix(void **state)
{
	const struct hub_route r[] = {
		R("203.0.113.0", 24, "192.0.2.7"),
		R("203.0.113.16", 28, "192.0.2.8"),
		R("203.0.113.17", 32, NULL),	/* no gateway: the destination itself */
		R("0.0.0.0", 0, "192.0.2.9"),
	};
	struct hub_table *t = hub_build(r, 4);
	uint32_t peer = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(t->n, 4);
	assert_true(hub_lookup(t, A("203.0.113.200"), &peer, NULL));
	assert_int_equal(peer, A("192.0.2.7"));
	assert_true(hub_lookup(t, A("203.0.113.30"), &peer, NULL));
	assert_int_equal(peer, A("192.0.2.8"));
	assert_true(hub_lookup(t, A("203.0.113.17"), &peer, NULL));
	assert_int_equal(peer, A("203.0.113.17"));
	assert_true(hub_lookup(t, A("198.51.100.1"), &peer, NULL));
	assert_int_equal(peer, A("192.0.2.9"));
	hub_free(t);
}

static void test_no_route(void **state)
{
	const struct hub_route r[] = { R("203.0.113.0", 24, "192.0.2.7") };
	struct hub_table *t = hub_build(r, 1), *empty = hub_build(NULL, 0);
	uint32_t peer = 42;

	(void)state;
	assert_false(hub_lookup(t, A("203.0.114.1"), &peer, NULL));
	assert_false(hub_lookup(empty, A("203.0.113.1"), &peer, NULL));
	assert_false(hub_lookup(NULL, A("203.0.113.1"), &peer, NULL));
	assert_int_equal(peer, 42);	/* untouched */
	/* host bits of a route are not part of its key */
	hub_free(t);
	t = hub_build((struct hub_route[]){ R("203.0.113.77", 24, "192.0.2.7") }, 1);
	assert_true(hub_lookup(t, A("203.0.113.1"), &peer, NULL));
	assert_int_equal(peer, A("192.0.2.7"));
	hub_free(t);
	hub_free(empty);
}

static void test_same_prefix_twice(void **state)
{
	const struct hub_route r[] = { R("203.0.113.0", 24, "192.0.2.7"),
				       R("203.0.113.0", 24, "192.0.2.8") };
	struct hub_table *t = hub_build(r, 2);
	uint32_t peer;

	(void)state;
	assert_int_equal(t->n, 1);
	assert_int_equal(t->nlens, 1);
	assert_true(hub_lookup(t, A("203.0.113.5"), &peer, NULL));
	assert_int_equal(peer, A("192.0.2.8"));
	hub_free(t);
	assert_null(hub_build(r, HUB_ROUTES_MAX + 1));
}

/* Each gateway's counters: one entry per address, kept; none past HUB_PEERS_MAX. */
static void test_peers(void **state)
{
	static struct hub_peers ps;
	static struct hub_ids ids;
	struct hub_route r[2] = { R("203.0.113.0", 24, "192.0.2.7"), R("203.0.113.64", 26, NULL) };
	struct hub_table *t;
	uint32_t peer, idx = 0;

	(void)state;
	/* the owner numbers gateways in the order they come, whatever their addresses */
	assert_int_equal(hub_id(&ids, A("192.0.2.8")), 0);
	assert_int_equal(hub_id(&ids, A("192.0.2.7")), 1);
	assert_int_equal(hub_id(&ids, A("192.0.2.9")), 2);
	assert_int_equal(hub_id(&ids, A("192.0.2.7")), 1);
	assert_int_equal(hub_id(&ids, A("192.0.2.8")), 0);
	assert_int_equal(hub_id(&ids, 0), HUB_NO_PEER);
	/* the datapath process's entries follow the numbers */
	assert_true(hub_peer_set(&ps, 1, A("192.0.2.7")));
	assert_int_equal(ps.n, 2);
	assert_int_equal(hub_peer_find(&ps, A("192.0.2.7")), 1);
	assert_int_equal(hub_peer_find(&ps, A("192.0.2.8")), HUB_NO_PEER);
	assert_int_equal(hub_peer_find(&ps, 0), HUB_NO_PEER);	/* not entry 0, never given */
	assert_false(hub_peer_set(&ps, HUB_PEERS_MAX, A("192.0.2.8")));
	r[0].peer = 1;
	r[1].peer = HUB_NO_PEER;
	t = hub_build(r, 2);
	assert_true(hub_lookup(t, A("203.0.113.1"), &peer, &idx));
	assert_int_equal(idx, 1);
	assert_true(hub_lookup(t, A("203.0.113.65"), &peer, &idx));
	assert_int_equal(idx, HUB_NO_PEER);
	hub_free(t);
	/* all numbers taken: none for a new gateway, the old ones kept */
	while (ids.n < HUB_PEERS_MAX) {
		unsigned n = ids.n;

		assert_int_equal(hub_id(&ids, htonl(0xc6000000u + n)), n);
	}
	assert_int_equal(hub_id(&ids, A("203.0.113.1")), HUB_NO_PEER);
	assert_int_equal(hub_id(&ids, A("192.0.2.7")), 1);
	for (unsigned i = 1; i < ids.n; i++)
		assert_true(ids.addr[i - 1] < ids.addr[i]);	/* sorted, each once */
}

/* A memo answers for its table's generation only. */
static void test_memo(void **state)
{
	struct hub_route r1[] = { R("203.0.113.0", 24, "192.0.2.7") };
	struct hub_route r2[] = { R("203.0.113.0", 24, "192.0.2.8") };
	struct hub_table *t1 = hub_build(r1, 1), *t2 = hub_build(r2, 1);
	struct hub_memo m = { 0 };
	uint32_t peer = 0, idx = 0;

	(void)state;
	assert_true(hub_lookup_memo(t1, 1, &m, A("203.0.113.9"), &peer, &idx));
	assert_int_equal(peer, A("192.0.2.7"));
	assert_true(hub_lookup_memo(t1, 1, &m, A("203.0.113.9"), &peer, &idx));
	assert_int_equal(peer, A("192.0.2.7"));
	/* the next table, even at the same address, is looked up anew */
	assert_true(hub_lookup_memo(t2, 2, &m, A("203.0.113.9"), &peer, &idx));
	assert_int_equal(peer, A("192.0.2.8"));
	assert_false(hub_lookup_memo(t2, 2, &m, A("198.51.100.1"), &peer, &idx));
	assert_false(hub_lookup_memo(NULL, 3, &m, A("203.0.113.9"), &peer, &idx));
	hub_free(t1);
	hub_free(t2);
}

/* The longest matching route by looking at all of them (the later of equal ones). */
static bool scan(const struct hub_route *r, size_t n, uint32_t addr, uint32_t *peer)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		uint32_t m = r[i].len ? htonl(~0u << (32 - r[i].len)) : 0;

		if (((addr ^ r[i].dst) & m) == 0 && (best < 0 || r[i].len >= r[best].len))
			best = (int)i;
	}
	if (best < 0)
		return false;
	*peer = r[best].gw ? r[best].gw : addr;
	return true;
}

static void test_against_scan(void **state)
{
	static struct hub_route r[3000];
	static const uint8_t lens[] = { 8, 16, 20, 24, 26, 28, 30, 32 };
	struct hub_table *t;

	(void)state;
	srand(7);
	for (size_t i = 0; i < 3000; i++) {
		/* addresses within 203.0.0.0/16, so that prefixes overlap often */
		uint32_t a = htonl(0xcb000000u | ((uint32_t)rand() & 0xffff));

		r[i] = (struct hub_route){ .dst = a, .len = lens[rand() % 8],
					   .gw = rand() % 4 ? htonl(0xc0000200u | (uint32_t)(rand() & 0xff)) : 0 };
	}
	t = hub_build(r, 3000);
	assert_non_null(t);
	for (int k = 0; k < 100000; k++) {
		uint32_t a = htonl(0xcb000000u | ((uint32_t)rand() & 0x1ffff)), p1 = 0, p2 = 0;
		bool f1 = hub_lookup(t, a, &p1, NULL), f2 = scan(r, 3000, a, &p2);

		assert_int_equal(f1, f2);
		assert_int_equal(p1, p2);
	}
	hub_free(t);
}

/* The IPv4 header checksum of h, written. */
static void set_csum(uint8_t *h)
{
	uint16_t c;

	h[10] = h[11] = 0;
	c = inet_csum(h, IPV4_HLEN);
	h[10] = (uint8_t)(c >> 8);
	h[11] = (uint8_t)c;
}

/* A hub's packets: from AllowedRemotes only; ICMP errors about packets to them only. */
static void test_allowed_remotes(void **state)
{
	const struct prefix allowed[] = { { A("192.0.2.0"), 28 } };
	struct ipip_params hub = { .local = A("192.0.2.1"), .remote_any = true,
				   .allowed_remotes = allowed, .n_allowed_remotes = 1,
				   .pmtudisc = true, .ecn = ECN_MODE_NORMAL };
	struct ipip_params to = hub;
	uint8_t inner[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
			      203, 0, 113, 17, 198, 51, 100, 1 };
	uint8_t pkt[IPV4_HLEN + 28];
	struct ipip_rx rx;
	uint16_t id;

	(void)state;
	assert_true(ipip_remote_ok(&hub, A("192.0.2.11")));
	assert_false(ipip_remote_ok(&hub, A("192.0.2.99")));
	assert_false(ipip_remote_ok(&hub, 0));
	set_csum(inner);
	/* from a peer in AllowedRemotes: taken; from one outside: dropped */
	to.remote = A("192.0.2.11");
	memcpy(pkt + IPV4_HLEN, inner, sizeof(inner));	/* encapsulated in place */
	assert_int_equal(ipip_encap(&to, pkt, pkt + IPV4_HLEN, sizeof(inner)), PKT_OK);
	memcpy(pkt + 12, &to.remote, 4);	/* as the peer sent it: from it, to us */
	memcpy(pkt + 16, &hub.local, 4);
	set_csum(pkt);
	assert_int_equal(ipip_decap(&hub, pkt, sizeof(pkt), &rx), PKT_OK);
	{
		uint32_t x = A("192.0.2.99");

		memcpy(pkt + 12, &x, 4);
	}
	set_csum(pkt);
	assert_int_equal(ipip_decap(&hub, pkt, sizeof(pkt), &rx), PKT_RX_OUTER_SOURCE);
	/* ICMP errors: about a packet we sent to a peer in AllowedRemotes, else not ours */
	memcpy(pkt + IPV4_HLEN, inner, sizeof(inner));	/* encapsulated in place */
	assert_int_equal(ipip_encap(&to, pkt, pkt + IPV4_HLEN, sizeof(inner)), PKT_OK);
	assert_int_equal(icmp_quote_ours(&hub, pkt, sizeof(pkt), &id), PKT_OK);
	to.remote = A("198.51.100.9");
	memcpy(pkt + IPV4_HLEN, inner, sizeof(inner));	/* encapsulated in place */
	assert_int_equal(ipip_encap(&to, pkt, pkt + IPV4_HLEN, sizeof(inner)), PKT_OK);
	assert_int_equal(icmp_quote_ours(&hub, pkt, sizeof(pkt), &id), PKT_ICMP_NOT_OURS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_prefix),
		cmocka_unit_test(test_no_route),
		cmocka_unit_test(test_same_prefix_twice),
		cmocka_unit_test(test_against_scan),
		cmocka_unit_test(test_peers),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_allowed_remotes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

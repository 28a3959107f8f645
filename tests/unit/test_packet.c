/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the pure packet code (src/packet.c): the Internet checksum,
 * RFC 2003 encapsulation, RFC 6040 ECN handling, RFC 2983 DSCP handling and
 * every malformed-input verdict of the encapsulator and the decapsulator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "packet.h"

#define IP_DF 0x4000u
#define IP_MF 0x2000u

/* assert_int_equal, naming the table entry when it fails */
#define assert_int_equal_at(a, b, fmt, ...)                                    \
	do {                                                                   \
		if ((uintmax_t)(a) != (uintmax_t)(b))                          \
			print_message("  at " fmt "\n", __VA_ARGS__);          \
		assert_int_equal(a, b);                                        \
	} while (0)

/* The tunnel's endpoints: this host is LOCAL, the far end REMOTE. */
static const uint8_t LOCAL[4] = { 192, 0, 2, 1 };
static const uint8_t REMOTE[4] = { 198, 51, 100, 1 };
static const uint8_t OTHER[4] = { 203, 0, 113, 9 };
/* The inner packet's addresses. */
static const uint8_t INNER_SRC[4] = { 10, 0, 0, 1 };
static const uint8_t INNER_DST[4] = { 10, 0, 0, 2 };

static const uint8_t ECNS[4] = { ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE };

/* ---- helpers ------------------------------------------------------------ */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Recompute the header checksum of the IPv4 header h[0..hlen). */
static void set_csum(uint8_t *h, size_t hlen)
{
	wr16(h + 10, 0);
	wr16(h + 10, inet_csum(h, hlen));
}

static struct ipip_params params(void)
{
	struct ipip_params p;

	memset(&p, 0, sizeof(p));
	memcpy(&p.local, LOCAL, 4);
	memcpy(&p.remote, REMOTE, 4);
	p.ttl = 0;
	p.tos_inherit = false;
	p.tos = 0;
	p.pmtudisc = true;
	p.ecn = ECN_MODE_NORMAL;
	p.dscp_uniform = false;
	return p;
}

/* The same tunnel seen from the other end. */
static struct ipip_params peer_params(const struct ipip_params *p)
{
	struct ipip_params q = *p;

	q.local = p->remote;
	q.remote = p->local;
	return q;
}

/*
 * An inner IPv4 UDP packet with an ihl-word header (NOP options beyond 20
 * bytes), the given TOS, TTL and flags/fragment field, and payload bytes.
 * Returns its length.
 */
static size_t make_inner_ihl(uint8_t *buf, unsigned ihl, uint8_t tos, uint8_t ttl, uint16_t frag,
			     size_t payload)
{
	size_t hlen = ihl * 4u, len = hlen + payload;

	memset(buf, 0, hlen);
	buf[0] = (uint8_t)(0x40 | ihl);
	buf[1] = tos;
	wr16(buf + 2, (uint16_t)len);
	wr16(buf + 4, 0x1234);
	wr16(buf + 6, frag);
	buf[8] = ttl;
	buf[9] = 17;
	memcpy(buf + 12, INNER_SRC, 4);
	memcpy(buf + 16, INNER_DST, 4);
	for (size_t i = 20; i < hlen; i++)
		buf[i] = i + 1 == hlen ? 0x00 : 0x01;	/* NOPs, then end of options */
	for (size_t i = 0; i < payload; i++)
		buf[hlen + i] = (uint8_t)(i * 7 + 3);
	set_csum(buf, hlen);
	return len;
}

static size_t make_inner(uint8_t *buf, uint8_t tos, uint8_t ttl, uint16_t frag, size_t payload)
{
	return make_inner_ihl(buf, 5, tos, ttl, frag, payload);
}

/*
 * A received datagram as the far end sends it: an outer header of ihl words
 * (REMOTE -> LOCAL, protocol 4, DF, TTL 64, given TOS) followed by
 * inner[0..inner_len).  Returns the datagram's length.
 */
static size_t make_outer_ihl(uint8_t *pkt, unsigned ihl, uint8_t tos, const uint8_t *inner,
			     size_t inner_len)
{
	size_t hlen = ihl * 4u;

	memset(pkt, 0, hlen);
	pkt[0] = (uint8_t)(0x40 | ihl);
	pkt[1] = tos;
	wr16(pkt + 2, (uint16_t)(hlen + inner_len));
	wr16(pkt + 4, 0x4242);
	wr16(pkt + 6, IP_DF);
	pkt[8] = 64;
	pkt[9] = IPPROTO_IPIP_;
	memcpy(pkt + 12, REMOTE, 4);
	memcpy(pkt + 16, LOCAL, 4);
	for (size_t i = 20; i < hlen; i++)
		pkt[i] = 0x01;
	memcpy(pkt + hlen, inner, inner_len);
	set_csum(pkt, hlen);
	return hlen + inner_len;
}

static size_t make_outer(uint8_t *pkt, uint8_t tos, const uint8_t *inner, size_t inner_len)
{
	return make_outer_ihl(pkt, 5, tos, inner, inner_len);
}

/* A valid datagram: outer TOS outer_tos, inner TOS inner_tos, 32 payload bytes. */
static size_t make_datagram(uint8_t *pkt, uint8_t outer_tos, uint8_t inner_tos)
{
	uint8_t inner[64];
	size_t n = make_inner(inner, inner_tos, 64, IP_DF, 32);

	return make_outer(pkt, outer_tos, inner, n);
}

static enum pkt_verdict decap(uint8_t *pkt, size_t len)
{
	struct ipip_params p = params();
	struct ipip_rx rx;

	return ipip_decap(&p, pkt, len, &rx);
}

static enum pkt_verdict encap(const uint8_t *inner, size_t len)
{
	struct ipip_params p = params();
	uint8_t outer[IPV4_HLEN];

	return ipip_encap(&p, outer, inner, len);
}

/* Encapsulate inner with p, asserting success; the outer header lands in outer. */
static void encap_ok(const struct ipip_params *p, uint8_t outer[IPV4_HLEN], const uint8_t *inner,
		     size_t len)
{
	memset(outer, 0xee, IPV4_HLEN);
	assert_int_equal(ipip_encap(p, outer, inner, len), PKT_OK);
	assert_int_equal(inet_csum(outer, IPV4_HLEN), 0);
}

/* ---- inet_csum ---------------------------------------------------------- */

static void test_csum_rfc1071_example(void **state)
{
	/* RFC 1071 section 3: the one's complement sum of these words is 0xddf2. */
	static const uint8_t data[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	assert_int_equal(inet_csum(data, sizeof(data)), 0x220d);
}

static void test_csum_real_ipv4_header(void **state)
{
	/* 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, DF, total length 0x73. */
	uint8_t h[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};

	/*
	 * By hand: 4500 + 0073 + 0000 + 4000 + 4011 + 0000 + c0a8 + 0001 + c0a8
	 * + 00c7 = 0x2479c; folded 0x479e; complement 0xb861.
	 */
	assert_int_equal(inet_csum(h, sizeof(h)), 0xb861);
	wr16(h + 10, 0xb861);
	assert_int_equal(inet_csum(h, sizeof(h)), 0);
}

static void test_csum_filled_header_sums_to_zero(void **state)
{
	uint8_t buf[64];

	make_inner(buf, 0xb8 | ECN_CE, 255, IP_DF, 0);
	assert_int_not_equal(rd16(buf + 10), 0);
	assert_int_equal(inet_csum(buf, 20), 0);
	make_inner_ihl(buf, 6, 0x28, 1, 0, 0);
	assert_int_equal(inet_csum(buf, 24), 0);
}

static void test_set_id_keeps_checksum_valid(void **state)
{
	uint8_t h[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	uint8_t fresh[20];

	/* every ID, each time from the previous one: as from scratch */
	for (unsigned id = 1; id <= 0x10000; id++) {
		ipv4_set_id(h, (uint16_t)id);
		assert_int_equal(rd16(h + 4), (uint16_t)id);
		assert_int_equal(inet_csum(h, sizeof(h)), 0);
		memcpy(fresh, h, sizeof(h));
		wr16(fresh + 10, 0);
		assert_int_equal(rd16(h + 10), inet_csum(fresh, sizeof(fresh)));
	}
}

static void test_csum_odd_length_and_carries(void **state)
{
	static const uint8_t one[] = { 0x01 };
	static const uint8_t odd[] = { 0x00, 0x01, 0xf2 };	/* 0x0001 + 0xf200 */
	static const uint8_t ones[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t carry[] = { 0xff, 0xff, 0x00, 0x02 };	/* 0x10001 -> 0x0002 */

	assert_int_equal(inet_csum(one, 1), 0xfeff);
	assert_int_equal(inet_csum(odd, 3), (uint16_t)~0xf201);
	assert_int_equal(inet_csum(ones, sizeof(ones)), 0x0000);
	assert_int_equal(inet_csum(carry, sizeof(carry)), (uint16_t)~0x0002);
	assert_int_equal(inet_csum(one, 0), 0xffff);
}

/* ---- encapsulation: the outer header ----------------------------------- */

static void test_encap_outer_header_fields(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], outer[IPV4_HLEN];
	size_t n = make_inner(inner, 0x00, 64, IP_DF, 80);

	encap_ok(&p, outer, inner, n);
	assert_int_equal(outer[0], 0x45);
	assert_int_equal(outer[1], 0x00);
	assert_int_equal(rd16(outer + 2), n + 20);
	assert_int_equal(rd16(outer + 4), 0);		/* ID left for the kernel (RFC 6864) */
	assert_int_equal(rd16(outer + 6), IP_DF);	/* DF, no MF, offset 0 */
	assert_int_equal(outer[8], 64);
	assert_int_equal(outer[9], 4);
	assert_int_equal(inet_csum(outer, IPV4_HLEN), 0);
	assert_memory_equal(outer + 12, LOCAL, 4);
	assert_memory_equal(outer + 16, REMOTE, 4);
}

static void test_encap_does_not_modify_inner(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], copy[128], outer[IPV4_HLEN];
	size_t n = make_inner(inner, 0x28 | ECN_CE, 17, 0, 60);

	p.ecn = ECN_MODE_KERNEL;	/* rewrites CE in the outer header only */
	p.ttl = 200;
	memcpy(copy, inner, sizeof(copy));
	encap_ok(&p, outer, inner, n);
	assert_memory_equal(inner, copy, sizeof(copy));
}

static void test_encap_inner_options_accepted(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], outer[IPV4_HLEN];
	size_t n = make_inner_ihl(inner, 6, 0, 64, IP_DF, 10);

	encap_ok(&p, outer, inner, n);
	assert_int_equal(outer[0], 0x45);	/* inner options are not copied */
	assert_int_equal(rd16(outer + 2), n + 20);
}

static void test_encap_ttl_inherit(void **state)
{
	static const uint8_t inner_ttls[] = { 1, 64, 255 };
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	p.ttl = 0;
	for (size_t i = 0; i < sizeof(inner_ttls); i++) {
		size_t n = make_inner(inner, 0, inner_ttls[i], IP_DF, 8);

		encap_ok(&p, outer, inner, n);
		assert_int_equal_at(outer[8], inner_ttls[i], "inner TTL %u", inner_ttls[i]);
		assert_int_equal(inner[8], inner_ttls[i]);	/* not decremented */
	}
}

static void test_encap_ttl_fixed(void **state)
{
	static const uint8_t inner_ttls[] = { 1, 64, 255 };
	static const uint8_t fixed[] = { 64, 1, 255 };
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	for (size_t f = 0; f < sizeof(fixed); f++) {
		p.ttl = fixed[f];
		for (size_t i = 0; i < sizeof(inner_ttls); i++) {
			size_t n = make_inner(inner, 0, inner_ttls[i], IP_DF, 8);

			encap_ok(&p, outer, inner, n);
			assert_int_equal_at(outer[8], fixed[f], "ttl %u, inner TTL %u", fixed[f],
					    inner_ttls[i]);
		}
	}
}

static void test_encap_tos_fixed_zero(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	p.tos = 0;
	for (size_t e = 0; e < 4; e++) {
		size_t n = make_inner(inner, (uint8_t)(0xb8 | ECNS[e]), 64, IP_DF, 8);

		encap_ok(&p, outer, inner, n);
		/* DSCP 0; ECN from the inner packet (normal mode copies) */
		assert_int_equal_at(outer[1], ECNS[e], "inner ECN %u", ECNS[e]);
	}
}

static void test_encap_tos_fixed_ignores_own_ecn_bits(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	for (uint8_t own = 0; own < 4; own++) {
		p.tos = (uint8_t)(0x28 | own);
		for (size_t e = 0; e < 4; e++) {
			size_t n = make_inner(inner, (uint8_t)(0x00 | ECNS[e]), 64, IP_DF, 8);

			encap_ok(&p, outer, inner, n);
			assert_int_equal_at(outer[1], 0x28 | ECNS[e], "tos 0x%02x, inner ECN %u",
					    p.tos, ECNS[e]);
		}
	}
}

static void test_encap_tos_inherit(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	p.tos_inherit = true;
	p.tos = 0xb8;	/* ignored when inheriting */
	for (size_t e = 0; e < 4; e++) {
		size_t n = make_inner(inner, (uint8_t)(0x28 | ECNS[e]), 64, IP_DF, 8);

		p.ecn = ECN_MODE_NORMAL;
		encap_ok(&p, outer, inner, n);
		assert_int_equal_at(outer[1], 0x28 | ECNS[e], "normal, inner ECN %u", ECNS[e]);

		p.ecn = ECN_MODE_COMPAT;
		encap_ok(&p, outer, inner, n);
		assert_int_equal_at(outer[1], 0x28 | ECN_NOT_ECT, "compat, inner ECN %u", ECNS[e]);

		p.ecn = ECN_MODE_KERNEL;
		encap_ok(&p, outer, inner, n);
		assert_int_equal_at(outer[1], 0x28 | (ECNS[e] == ECN_CE ? ECN_ECT0 : ECNS[e]),
				    "kernel, inner ECN %u", ECNS[e]);
	}
}

static void test_encap_pmtudisc_always_sets_df(void **state)
{
	static const uint16_t frags[] = { 0, IP_DF };
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	p.pmtudisc = true;
	for (size_t i = 0; i < 2; i++) {
		size_t n = make_inner(inner, 0, 64, frags[i], 8);

		encap_ok(&p, outer, inner, n);
		assert_int_equal_at(rd16(outer + 6), IP_DF, "inner flags 0x%04x", frags[i]);
	}
}

static void test_encap_nopmtudisc_copies_inner_df(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];
	size_t n;

	p.pmtudisc = false;
	n = make_inner(inner, 0, 64, IP_DF, 8);
	encap_ok(&p, outer, inner, n);
	assert_int_equal(rd16(outer + 6), IP_DF);

	n = make_inner(inner, 0, 64, 0, 8);
	encap_ok(&p, outer, inner, n);
	assert_int_equal(rd16(outer + 6), 0);
}

static void test_encap_inner_fragment_fields_not_copied(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];
	/* a first fragment (MF) and a later one (offset 0x55, DF clear) */
	size_t n = make_inner(inner, 0, 64, IP_MF, 16);

	p.pmtudisc = false;
	encap_ok(&p, outer, inner, n);
	assert_int_equal(rd16(outer + 6), 0);
	n = make_inner(inner, 0, 64, 0x0055, 16);
	encap_ok(&p, outer, inner, n);
	assert_int_equal(rd16(outer + 6), 0);
	p.pmtudisc = true;
	encap_ok(&p, outer, inner, n);
	assert_int_equal(rd16(outer + 6), IP_DF);
}

/* ---- RFC 6040 encapsulation ---------------------------------------------- */

static void test_ecn_encap_normal_copies_all(void **state)
{
	for (size_t e = 0; e < 4; e++)
		assert_int_equal_at(ecn_encap(ECN_MODE_NORMAL, ECNS[e]), ECNS[e], "inner ECN %u",
				    ECNS[e]);
}

static void test_ecn_encap_compat_not_ect(void **state)
{
	for (size_t e = 0; e < 4; e++)
		assert_int_equal_at(ecn_encap(ECN_MODE_COMPAT, ECNS[e]), ECN_NOT_ECT,
				    "inner ECN %u", ECNS[e]);
}

static void test_ecn_encap_kernel_ce_to_ect0(void **state)
{
	assert_int_equal(ecn_encap(ECN_MODE_KERNEL, ECN_NOT_ECT), ECN_NOT_ECT);
	assert_int_equal(ecn_encap(ECN_MODE_KERNEL, ECN_ECT1), ECN_ECT1);
	assert_int_equal(ecn_encap(ECN_MODE_KERNEL, ECN_ECT0), ECN_ECT0);
	assert_int_equal(ecn_encap(ECN_MODE_KERNEL, ECN_CE), ECN_ECT0);
}

static void test_ecn_encap_ignores_dscp_bits(void **state)
{
	assert_int_equal(ecn_encap(ECN_MODE_NORMAL, 0xb8 | ECN_CE), ECN_CE);
	assert_int_equal(ecn_encap(ECN_MODE_KERNEL, 0xb8 | ECN_CE), ECN_ECT0);
	assert_int_equal(ecn_encap(ECN_MODE_NORMAL, 0xfc), ECN_NOT_ECT);
}

static void test_encap_outer_ecn_table(void **state)
{
	static const enum ecn_mode modes[] = { ECN_MODE_NORMAL, ECN_MODE_COMPAT, ECN_MODE_KERNEL };
	/* expected outer ECN, indexed [mode][inner ECN codepoint] */
	static const uint8_t want[3][4] = {
		[ECN_MODE_NORMAL] = { ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_CE },
		[ECN_MODE_COMPAT] = { ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT },
		[ECN_MODE_KERNEL] = { ECN_NOT_ECT, ECN_ECT1, ECN_ECT0, ECN_ECT0 },
	};
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];

	p.tos = 0x28;
	for (size_t m = 0; m < 3; m++) {
		p.ecn = modes[m];
		for (uint8_t e = 0; e < 4; e++) {
			size_t n = make_inner(inner, (uint8_t)(0xb8 | e), 64, IP_DF, 8);

			encap_ok(&p, outer, inner, n);
			assert_int_equal_at(outer[1], 0x28 | want[m][e], "mode %zu, inner ECN %u", m,
					    e);
			assert_int_equal(inner[1], 0xb8 | e);	/* the inner ECN is never changed */
		}
	}
}

/* ---- RFC 6040 decapsulation ---------------------------------------------- */

/* RFC 6040 4.2, indexed [inner][outer] by codepoint value; -1 is drop. */
static const int DECAP_TABLE[4][4] = {
	/* outer:           Not-ECT      ECT(1)    ECT(0)       CE */
	[ECN_NOT_ECT] = { ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT, -1 },
	[ECN_ECT1] = { ECN_ECT1, ECN_ECT1, ECN_ECT1, ECN_CE },
	[ECN_ECT0] = { ECN_ECT0, ECN_ECT1, ECN_ECT0, ECN_CE },
	[ECN_CE] = { ECN_CE, ECN_CE, ECN_CE, ECN_CE },
};

/* The (!!!) combinations: currently unused, to be logged. */
static const bool DECAP_UNUSUAL[4][4] = {
	[ECN_NOT_ECT] = { false, true, true, true },
	[ECN_ECT1] = { false, false, false, false },
	[ECN_ECT0] = { false, false, false, false },
	[ECN_CE] = { false, true, false, false },
};

static void test_ecn_decap_table(void **state)
{
	for (uint8_t in = 0; in < 4; in++) {
		for (uint8_t out = 0; out < 4; out++) {
			bool unusual = !DECAP_UNUSUAL[in][out];
			int r = ecn_decap(in, out, &unusual);

			assert_int_equal_at(r, DECAP_TABLE[in][out], "inner %u, outer %u", in, out);
			assert_int_equal_at(unusual, DECAP_UNUSUAL[in][out], "inner %u, outer %u",
					    in, out);
		}
	}
}

static void test_ecn_decap_ignores_dscp_bits(void **state)
{
	bool unusual;

	assert_int_equal(ecn_decap(0xb8 | ECN_ECT0, 0x28 | ECN_CE, &unusual), ECN_CE);
	assert_false(unusual);
	assert_int_equal(ecn_decap(0xb8 | ECN_NOT_ECT, 0x04 | ECN_CE, &unusual), -1);
	assert_true(unusual);
}

static void test_decap_ecn_table(void **state)
{
	struct ipip_params p = params();
	uint8_t pkt[128];
	struct ipip_rx rx;

	for (uint8_t in = 0; in < 4; in++) {
		for (uint8_t out = 0; out < 4; out++) {
			size_t len = make_datagram(pkt, (uint8_t)(0xb8 | out), (uint8_t)(0x28 | in));
			enum pkt_verdict v = ipip_decap(&p, pkt, len, &rx);
			const uint8_t *inner = pkt + 20;

			assert_int_equal_at(rx.outer_ecn, out, "inner %u, outer %u", in, out);
			assert_int_equal_at(rx.inner_ecn, in, "inner %u, outer %u", in, out);
			assert_int_equal_at(rx.ecn_unusual, DECAP_UNUSUAL[in][out],
					    "inner %u, outer %u", in, out);
			if (DECAP_TABLE[in][out] < 0) {
				assert_int_equal(v, PKT_RX_ECN_CE_NOT_ECT);
				continue;
			}
			assert_int_equal_at(v, PKT_OK, "inner %u, outer %u", in, out);
			assert_int_equal(rx.inner_off, 20);
			assert_int_equal(rx.inner_len, 52);
			/* pipe: the inner DSCP is kept; ECN per the table */
			assert_int_equal_at(inner[1], 0x28 | DECAP_TABLE[in][out], "inner %u, outer %u",
					    in, out);
			assert_int_equal_at(inet_csum(inner, 20), 0, "inner %u, outer %u", in, out);
			assert_int_equal(inner[8], 64);	/* TTL untouched */
		}
	}
}

static void test_decap_rewrite_updates_inner_checksum(void **state)
{
	struct ipip_params p = params();
	uint8_t pkt[128], expect[20];
	size_t len = make_datagram(pkt, ECN_CE, 0x28 | ECN_ECT0);
	struct ipip_rx rx;

	memcpy(expect, pkt + 20, 20);
	expect[1] = 0x28 | ECN_CE;
	set_csum(expect, 20);
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_memory_equal(pkt + 20, expect, 20);
}

static void test_decap_rx_ecn_ce_over_not_ect(void **state)
{
	struct ipip_params p = params();
	uint8_t pkt[128], copy[128];
	size_t len = make_datagram(pkt, 0x00 | ECN_CE, 0x28 | ECN_NOT_ECT);
	struct ipip_rx rx;

	memcpy(copy, pkt, sizeof(copy));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_RX_ECN_CE_NOT_ECT);
	assert_true(rx.ecn_unusual);
	assert_int_equal(rx.outer_ecn, ECN_CE);
	assert_int_equal(rx.inner_ecn, ECN_NOT_ECT);
	assert_memory_equal(pkt, copy, sizeof(copy));	/* a dropped packet is not rewritten */
}

/* ---- RFC 2983 DSCP ------------------------------------------------------- */

static void test_decap_dscp_pipe_keeps_inner(void **state)
{
	struct ipip_params p = params();
	uint8_t pkt[128], copy[128];
	size_t len = make_datagram(pkt, 0xb8 | ECN_ECT0, 0x28 | ECN_ECT0);
	struct ipip_rx rx;

	memcpy(copy, pkt, sizeof(copy));
	p.dscp_uniform = false;
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(pkt[20 + 1], 0x28 | ECN_ECT0);
	assert_memory_equal(pkt, copy, sizeof(copy));	/* nothing to rewrite */
}

static void test_decap_dscp_uniform_copies_outer(void **state)
{
	struct ipip_params p = params();
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0xb8 | ECN_ECT0, 0x28 | ECN_ECT0);
	struct ipip_rx rx;

	p.dscp_uniform = true;
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(pkt[20 + 1], 0xb8 | ECN_ECT0);
	assert_int_equal(inet_csum(pkt + 20, 20), 0);

	/* ECN still follows RFC 6040: outer CE over inner ECT(1) gives CE */
	len = make_datagram(pkt, 0x48 | ECN_CE, 0x28 | ECN_ECT1);
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(pkt[20 + 1], 0x48 | ECN_CE);
	assert_int_equal(inet_csum(pkt + 20, 20), 0);

	/* outer DSCP 0 clears the inner DSCP */
	len = make_datagram(pkt, ECN_NOT_ECT, 0xb8 | ECN_NOT_ECT);
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(pkt[20 + 1], 0x00);
	assert_int_equal(inet_csum(pkt + 20, 20), 0);
}

/* ---- decapsulation: accepted shapes -------------------------------------- */

static void test_decap_valid_datagram(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], pkt[160];
	size_t n = make_inner(inner, 0x28, 1, 0, 70);
	size_t len = make_outer(pkt, 0x28, inner, n);
	struct ipip_rx rx;

	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 20);
	assert_int_equal(rx.inner_len, n);
	assert_memory_equal(pkt + rx.inner_off, inner, n);
	assert_false(rx.ecn_unusual);
}

static void test_decap_trailing_bytes_trimmed(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], pkt[200];
	size_t n = make_inner(inner, 0, 64, IP_DF, 30);
	size_t len = make_outer(pkt, 0, inner, n);
	struct ipip_rx rx;

	/* link-layer padding after the outer total length */
	memset(pkt + len, 0xaa, 16);
	assert_int_equal(ipip_decap(&p, pkt, len + 16, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 20);
	assert_int_equal(rx.inner_len, n);
	assert_memory_equal(pkt + 20, inner, n);
}

static void test_decap_inner_shorter_than_outer_payload_trimmed(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128] = { 0 }, pkt[200];
	size_t n = make_inner(inner, 0, 64, IP_DF, 30);
	/* the outer total length covers 8 bytes more than the inner packet */
	size_t len = make_outer(pkt, 0, inner, n + 8);
	struct ipip_rx rx;

	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(rx.inner_len, n);
}

static void test_decap_outer_options_accepted(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], pkt[200];
	size_t n = make_inner(inner, 0, 64, IP_DF, 30);
	size_t len = make_outer_ihl(pkt, 6, 0, inner, n);
	struct ipip_rx rx;

	assert_int_equal(len, 24 + n);
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 24);
	assert_int_equal(rx.inner_len, n);
	assert_memory_equal(pkt + 24, inner, n);
}

static void test_decap_inner_options_accepted(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[128], pkt[200];
	size_t n = make_inner_ihl(inner, 7, 0x28 | ECN_ECT0, 64, IP_DF, 30);
	size_t len = make_outer(pkt, ECN_CE, inner, n);
	struct ipip_rx rx;

	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	assert_int_equal(rx.inner_len, n);
	assert_int_equal(pkt[20 + 1], 0x28 | ECN_CE);
	assert_int_equal(inet_csum(pkt + 20, 28), 0);	/* over the whole inner header */
}

static void test_roundtrip_encap_decap(void **state)
{
	static const enum ecn_mode modes[] = { ECN_MODE_NORMAL, ECN_MODE_COMPAT, ECN_MODE_KERNEL };
	uint8_t inner[256], pkt[300];

	for (size_t m = 0; m < 3; m++) {
		for (int inherit = 0; inherit < 2; inherit++) {
			for (uint8_t e = 0; e < 4; e++) {
				struct ipip_params tx = params(), rxp;
				size_t n = make_inner(inner, (uint8_t)(0x68 | e), 33, IP_DF, 200);
				struct ipip_rx rx;

				tx.ecn = modes[m];
				tx.tos_inherit = inherit;
				tx.tos = 0x10;
				rxp = peer_params(&tx);
				rxp.dscp_uniform = inherit;
				encap_ok(&tx, pkt, inner, n);
				memcpy(pkt + IPV4_HLEN, inner, n);
				assert_int_equal_at(ipip_decap(&rxp, pkt, n + IPV4_HLEN, &rx), PKT_OK,
						    "mode %zu, inherit %d, ECN %u", m, inherit, e);
				assert_int_equal(rx.inner_off, IPV4_HLEN);
				assert_int_equal(rx.inner_len, n);
				assert_memory_equal(pkt + IPV4_HLEN, inner, n);
			}
		}
	}
}

/* ---- decapsulation: malformed outer header ------------------------------- */

static void test_decap_rx_outer_short(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	assert_int_equal(decap(pkt, 19), PKT_RX_OUTER_SHORT);
	assert_int_equal(decap(pkt, 0), PKT_RX_OUTER_SHORT);
	assert_int_equal(decap(pkt, len), PKT_OK);
}

static void test_decap_rx_outer_version(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[0] = 0x65;
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_VERSION);
	pkt[0] = 0x05;
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_VERSION);
}

static void test_decap_rx_outer_ihl_below_5(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[0] = 0x44;
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_IHL);
	pkt[0] = 0x40;
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_IHL);
}

static void test_decap_rx_outer_ihl_beyond_length(void **state)
{
	uint8_t inner[64], pkt[128];
	size_t n = make_inner(inner, 0, 64, IP_DF, 0);
	size_t len = make_outer(pkt, 0, inner, n);

	assert_int_equal(len, 40);
	pkt[0] = 0x4f;	/* a 60-byte header in a 40-byte datagram */
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_IHL);
}

static void test_decap_rx_outer_length_below_header(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 2, 19);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_LENGTH);
}

static void test_decap_rx_outer_length_beyond_datagram(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 2, (uint16_t)(len + 1));
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_LENGTH);
}

static void test_decap_rx_outer_checksum(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[11] ^= 0x01;
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_CSUM);
	pkt[11] ^= 0x01;
	pkt[8] = 63;	/* a changed TTL without a checksum update */
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_CSUM);
}

static void test_decap_rx_outer_protocol(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[9] = 94;	/* KA9Q "IPIP", not RFC 2003 */
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_PROTO);
	pkt[9] = 41;
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_PROTO);
}

static void test_decap_rx_outer_fragment_mf(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 6, IP_MF);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_FRAGMENT);
}

static void test_decap_rx_outer_fragment_offset(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 6, 0x0001);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_FRAGMENT);
	wr16(pkt + 6, IP_DF | 0x1fff);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_FRAGMENT);
	wr16(pkt + 6, 0);	/* DF clear, not a fragment: fine */
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_OK);
}

static void test_decap_rx_outer_source(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	memcpy(pkt + 12, OTHER, 4);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_SOURCE);
	memcpy(pkt + 12, LOCAL, 4);	/* our own address as source */
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_SOURCE);
}

static void test_decap_rx_outer_destination(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	memcpy(pkt + 16, OTHER, 4);
	set_csum(pkt, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_OUTER_DEST);
}

/* ---- decapsulation: malformed inner packet ------------------------------- */

static void test_decap_rx_inner_short(void **state)
{
	uint8_t inner[64], pkt[128];
	size_t len;

	make_inner(inner, 0, 64, IP_DF, 0);
	len = make_outer(pkt, 0, inner, 19);
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_SHORT);
	len = make_outer(pkt, 0, inner, 0);	/* an outer header alone */
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_SHORT);
}

static void test_decap_rx_inner_version(void **state)
{
	uint8_t v6[48], pkt[128];
	size_t len;

	memset(v6, 0, sizeof(v6));
	v6[0] = 0x60;	/* an IPv6 header with an 8-byte payload */
	wr16(v6 + 4, 8);
	v6[6] = 17;
	v6[7] = 64;
	len = make_outer(pkt, 0, v6, sizeof(v6));
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_VERSION);
	len = make_outer(pkt, 0, v6, 5);	/* a short one too */
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_VERSION);
}

static void test_decap_rx_inner_ihl_below_5(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[20] = 0x44;
	set_csum(pkt + 20, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_IHL);
}

static void test_decap_rx_inner_ihl_beyond_length(void **state)
{
	uint8_t inner[64], pkt[128];
	size_t n = make_inner(inner, 0, 64, IP_DF, 20);
	size_t len;

	inner[0] = 0x4f;	/* 60-byte header in a 40-byte inner packet */
	len = make_outer(pkt, 0, inner, n);
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_IHL);
}

static void test_decap_rx_inner_length_beyond_outer(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 20 + 2, (uint16_t)(len - 20 + 1));
	set_csum(pkt + 20, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_LENGTH);
	/* bytes past the outer total length do not count */
	assert_int_equal(decap(pkt, len + 1), PKT_RX_INNER_LENGTH);
}

static void test_decap_rx_inner_length_below_header(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	wr16(pkt + 20 + 2, 19);
	set_csum(pkt + 20, 20);
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_LENGTH);
}

static void test_decap_rx_inner_checksum(void **state)
{
	uint8_t pkt[128];
	size_t len = make_datagram(pkt, 0, 0);

	pkt[20 + 10] ^= 0x80;
	assert_int_equal(decap(pkt, len), PKT_RX_INNER_CSUM);
}

static void test_decap_rx_inner_ttl0(void **state)
{
	uint8_t inner[64], pkt[128];
	size_t n = make_inner(inner, 0, 0, IP_DF, 8);
	size_t len = make_outer(pkt, 0, inner, n);

	assert_int_equal(decap(pkt, len), PKT_RX_INNER_TTL0);
}

/* ---- encapsulation: malformed inner packet ------------------------------- */

static void test_encap_tx_not_ipv4(void **state)
{
	uint8_t v6[48];

	memset(v6, 0, sizeof(v6));
	v6[0] = 0x60;
	wr16(v6 + 4, 8);
	v6[6] = 17;
	v6[7] = 64;
	assert_int_equal(encap(v6, sizeof(v6)), PKT_TX_NOT_IPV4);
	assert_int_equal(encap(v6, 1), PKT_TX_NOT_IPV4);
}

static void test_encap_tx_short(void **state)
{
	uint8_t inner[64];

	make_inner(inner, 0, 64, IP_DF, 0);
	assert_int_equal(encap(inner, 19), PKT_TX_SHORT);
	assert_int_equal(encap(inner, 0), PKT_TX_SHORT);
}

static void test_encap_tx_bad_ihl(void **state)
{
	uint8_t inner[64];
	size_t n = make_inner(inner, 0, 64, IP_DF, 8);

	inner[0] = 0x44;
	set_csum(inner, 20);
	assert_int_equal(encap(inner, n), PKT_TX_IHL);
	inner[0] = 0x4f;	/* 60 bytes of header in a 28-byte packet */
	assert_int_equal(encap(inner, n), PKT_TX_IHL);
}

static void test_encap_tx_bad_length(void **state)
{
	uint8_t inner[64];
	size_t n = make_inner(inner, 0, 64, IP_DF, 8);

	assert_int_equal(encap(inner, n - 1), PKT_TX_LENGTH);	/* total length > len */
	assert_int_equal(encap(inner, n + 1), PKT_TX_LENGTH);	/* total length < len */
	wr16(inner + 2, 19);	/* total length < header length */
	assert_int_equal(encap(inner, n), PKT_TX_LENGTH);
}

static void test_encap_tx_ttl0(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[64], outer[IPV4_HLEN];
	size_t n = make_inner(inner, 0, 0, IP_DF, 8);

	assert_int_equal(ipip_encap(&p, outer, inner, n), PKT_TX_TTL0);
	p.ttl = 64;	/* a fixed outer TTL does not make it sendable */
	assert_int_equal(ipip_encap(&p, outer, inner, n), PKT_TX_TTL0);
}

static void test_encap_tx_too_big(void **state)
{
	static uint8_t inner[0xffff - IPV4_HLEN + 1];
	size_t n = sizeof(inner);

	make_inner(inner, 0, 64, IP_DF, 0);
	wr16(inner + 2, (uint16_t)n);
	set_csum(inner, 20);
	assert_int_equal(encap(inner, n), PKT_TX_TOO_BIG);
	wr16(inner + 2, (uint16_t)(n - 1));	/* the largest that fits */
	set_csum(inner, 20);
	assert_int_equal(encap(inner, n - 1), PKT_OK);
}

/* ---- verdict names ------------------------------------------------------- */

/* Prefixes: the mask in network order at every length's edges, and matching. */
static void test_prefix(void **state)
{
	static const struct {
		unsigned len;
		uint8_t mask[4];
	} t[] = {
		{ 0, { 0, 0, 0, 0 } },		{ 1, { 0x80, 0, 0, 0 } },
		{ 8, { 255, 0, 0, 0 } },	{ 9, { 255, 0x80, 0, 0 } },
		{ 23, { 255, 255, 0xfe, 0 } },	{ 24, { 255, 255, 255, 0 } },
		{ 31, { 255, 255, 255, 0xfe } },	{ 32, { 255, 255, 255, 255 } },
		{ 33, { 255, 255, 255, 255 } },	{ 255, { 255, 255, 255, 255 } },
	};
	const uint8_t net[4] = { 198, 51, 100, 0 }, in[4] = { 198, 51, 100, 77 },
		      out[4] = { 198, 51, 101, 77 };
	struct prefix p = { 0, 24 };
	uint32_t m, a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m = prefix_mask(t[i].len);
		assert_memory_equal(&m, t[i].mask, 4);
	}
	memcpy(&p.addr, net, 4);
	memcpy(&a, in, 4);
	memcpy(&b, out, 4);
	assert_true(prefix_match(&p, a));
	assert_false(prefix_match(&p, b));
	p.len = 23;	/* 198.51.100.0/23 holds 198.51.101.x */
	assert_true(prefix_match(&p, b));
	p.len = 32;
	assert_false(prefix_match(&p, a));
	assert_true(prefix_match(&p, p.addr));
	p.len = 0;	/* the default route matches everything */
	assert_true(prefix_match(&p, b));
}

static void test_verdict_names(void **state)
{
	assert_string_equal(pkt_verdict_name(PKT_OK), "ok");
	assert_string_equal(pkt_verdict_name(PKT_RX_OUTER_CSUM), "rx_outer_checksum");
	assert_string_equal(pkt_verdict_name(PKT_RX_OUTER_DEST), "rx_outer_destination");
	assert_string_equal(pkt_verdict_name(PKT_RX_ECN_CE_NOT_ECT), "rx_ecn_ce_over_not_ect");
	assert_string_equal(pkt_verdict_name(PKT_TX_IHL), "tx_bad_ihl");
	assert_string_equal(pkt_verdict_name(PKT_TX_SEND_ERROR), "tx_send_error");
	assert_string_equal(pkt_verdict_name(PKT_VERDICT_MAX), "unknown");
	assert_string_equal(pkt_verdict_name((enum pkt_verdict)(PKT_VERDICT_MAX + 7)), "unknown");
	for (int v = 0; v < PKT_VERDICT_MAX; v++) {
		const char *name = pkt_verdict_name((enum pkt_verdict)v);

		assert_non_null(name);
		assert_string_not_equal(name, "unknown");
		for (int w = 0; w < v; w++)	/* names are distinct */
			assert_string_not_equal(name, pkt_verdict_name((enum pkt_verdict)w));
	}
}

/* RFC 1191: fragmentation needed, about the inner packet, to its sender. */
static void test_icmp_frag_needed_fields(void **state)
{
	uint8_t inner[1500], out[ICMP_FRAG_NEEDED_MAX];
	size_t len = make_inner(inner, 0, 64, 0x4000, 1400), n;

	(void)state;
	n = icmp_frag_needed(out, inner, len, 1380);
	assert_int_equal(n, 20 + 8 + 20 + 8);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(out[9], 1);
	assert_memory_equal(out + 12, inner + 16, 4);	/* from the inner destination */
	assert_memory_equal(out + 16, inner + 12, 4);	/* to the inner source */
	assert_int_equal(inet_csum(out, 20), 0);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 4);
	assert_int_equal(rd16(out + 26), 1380);
	assert_int_equal(inet_csum(out + 20, n - 20), 0);
	assert_memory_equal(out + 28, inner, 28);	/* header + 8 bytes quoted */
}

static void test_icmp_frag_needed_not_about_errors(void **state)
{
	uint8_t inner[200], out[ICMP_FRAG_NEEDED_MAX];
	size_t len = make_inner(inner, 0, 64, 0x4000, 100);

	(void)state;
	inner[9] = 1;		/* ICMP */
	inner[20] = 3;		/* destination unreachable: an error */
	set_csum(inner, 20);
	assert_int_equal(icmp_frag_needed(out, inner, len, 1000), 0);
	inner[20] = 8;		/* echo request: fine */
	assert_int_not_equal(icmp_frag_needed(out, inner, len, 1000), 0);
	make_inner(inner, 0, 64, 0x2000 | 10, 100);	/* a non-first fragment */
	assert_int_equal(icmp_frag_needed(out, inner, len, 1000), 0);
	make_inner(inner, 0, 64, 0x4000, 100);
	memset(inner + 12, 0, 4);			/* no unicast source */
	assert_int_equal(icmp_frag_needed(out, inner, len, 1000), 0);
}

/* ---- RFC 2003 section 4: ICMP errors from within the tunnel ------------- */

/*
 * The datagram a router quotes about one of our outer packets: our outer
 * header (LOCAL -> REMOTE) and inner[0..inner_len), cut to quote_len bytes.
 */
static size_t make_quoted(uint8_t *q, const uint8_t *inner, size_t inner_len, size_t quote_len)
{
	size_t n = make_outer_ihl(q, 5, 0, inner, inner_len);

	memcpy(q + 12, LOCAL, 4);
	memcpy(q + 16, REMOTE, 4);
	set_csum(q, 20);
	return quote_len < n ? quote_len : n;
}

/* Check the relayed message: 3/code about inner, from its destination to its source. */
static void check_relayed(const uint8_t *out, size_t n, const uint8_t *inner, unsigned code,
			  unsigned mtu)
{
	size_t ihl = (size_t)(inner[0] & 15) * 4;

	assert_int_equal(n, 20 + 8 + ihl + 8);
	assert_int_equal(out[0], 0x45);
	assert_int_equal(rd16(out + 2), n);
	assert_int_equal(out[9], 1);
	assert_int_equal(inet_csum(out, 20), 0);
	assert_memory_equal(out + 12, inner + 16, 4);	/* from the inner destination */
	assert_memory_equal(out + 16, inner + 12, 4);	/* to the inner source */
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], code);
	assert_int_equal(inet_csum(out + 20, n - 20), 0);
	assert_int_equal(rd16(out + 24), 0);
	assert_int_equal(rd16(out + 26), mtu);
	assert_memory_equal(out + 28, inner, ihl + 8);	/* inner header + 8, no outer */
}

/* Every row of the RFC 2003 section 4 table. */
static void test_icmp_relay_table(void **state)
{
	static const struct {
		unsigned type, code;
		int relay_code;		/* -1: not relayed */
	} rows[] = {
		{ 3, 0, 0 },	/* net unreachable */
		{ 3, 1, 1 },	/* host unreachable */
		{ 3, 2, 1 },	/* protocol unreachable: never 2 */
		{ 3, 3, -1 },	/* port unreachable */
		{ 3, 4, 4 },	/* fragmentation needed */
		{ 3, 5, -1 },	/* source route failed */
		{ 3, 6, 0 },	/* destination network unknown */
		{ 3, 7, 1 },	/* destination host unknown */
		{ 3, 13, 1 },	/* administratively prohibited */
		{ 3, 16, -1 },	/* no such code */
		{ 4, 0, -1 },	/* source quench */
		{ 5, 0, -1 },	/* redirect network */
		{ 5, 1, -1 },	/* redirect host */
		{ 11, 0, 1 },	/* time exceeded in transit */
		{ 11, 1, 1 },	/* reassembly time exceeded */
		{ 12, 0, -1 },	/* parameter problem */
		{ 0, 0, -1 },	/* echo reply: not an error */
		{ 8, 0, -1 },	/* echo request */
	};
	uint8_t inner[1500], q[1600], out[ICMP_RELAY_MAX];
	size_t len = make_inner(inner, 0, 64, IP_DF, 1400), qlen = make_quoted(q, inner, len, 576);

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum icmp_relay_why why = ICMP_RELAY_BAD_INNER;
		size_t n = icmp_relay(out, rows[i].type, rows[i].code, 1400, q, qlen, &why);

		if (rows[i].relay_code < 0) {
			assert_int_equal_at(n, 0, "%u/%u", rows[i].type, rows[i].code);
			assert_int_equal_at(why, ICMP_RELAY_NOT_RELAYED, "%u/%u", rows[i].type,
					    rows[i].code);
			continue;
		}
		assert_int_equal_at(why, ICMP_RELAY_OK, "%u/%u", rows[i].type, rows[i].code);
		check_relayed(out, n, inner, (unsigned)rows[i].relay_code,
			      rows[i].relay_code == 4 ? 1380 : 0);
	}
}

/* Datagram too big: reported MTU - 20, the reported MTU raised to the soft state floor. */
static void test_icmp_relay_frag_needed_mtu(void **state)
{
	static const struct {
		uint32_t info;
		unsigned mtu;
	} rows[] = {
		{ 1500, 1480 }, { 1280, 1260 }, { 576, 556 }, { 552, 532 },
		{ 551, 532 }, { 68, 532 }, { 0, 532 }, { 0x10000, 0xffff - 20 },
		{ 0xffffffffu, 0xffff - 20 },
	};
	uint8_t inner[1500], q[1600], out[ICMP_RELAY_MAX];
	size_t len = make_inner(inner, 0, 64, IP_DF, 1400), qlen = make_quoted(q, inner, len, 576);

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = icmp_relay(out, 3, 4, rows[i].info, q, qlen, NULL);

		assert_int_equal_at(rd16(out + 26), rows[i].mtu, "info %u", rows[i].info);
		check_relayed(out, n, inner, 4, rows[i].mtu);
	}
}

/* Inner options are quoted in full, and short quotes are fine once the inner header is there. */
static void test_icmp_relay_quotes(void **state)
{
	uint8_t inner[200], q[300], out[ICMP_RELAY_MAX];
	size_t len = make_inner_ihl(inner, 15, 0, 64, 0, 100), qlen, n;
	enum icmp_relay_why why;

	(void)state;
	qlen = make_quoted(q, inner, len, 20 + 60 + 8);
	check_relayed(out, icmp_relay(out, 3, 1, 0, q, qlen, NULL), inner, 1, 0);
	/* the 8 payload bytes are not all there: quote what is */
	qlen = make_quoted(q, inner, len, 20 + 60 + 3);
	n = icmp_relay(out, 3, 1, 0, q, qlen, &why);
	assert_int_equal(why, ICMP_RELAY_OK);
	assert_int_equal(n, 20 + 8 + 60 + 3);
	assert_memory_equal(out + 28, inner, 63);
	assert_int_equal(inet_csum(out + 20, n - 20), 0);
	/* an inner packet shorter than header + 8: trimmed to its own length */
	len = make_inner(inner, 0, 64, 0, 2);
	qlen = make_quoted(q, inner, len, 300);
	q[qlen] = 0xee;
	n = icmp_relay(out, 3, 0, 0, q, qlen + 1, &why);	/* trailing byte ignored */
	assert_int_equal(why, ICMP_RELAY_OK);
	assert_int_equal(n, 20 + 8 + 22);
	assert_memory_equal(out + 28, inner, 22);
	/* outer options are stripped too */
	len = make_inner(inner, 0, 64, 0, 100);
	qlen = make_outer_ihl(q, 8, 0, inner, len);
	check_relayed(out, icmp_relay(out, 11, 0, 0, q, qlen, NULL), inner, 1, 0);
}

/* Every refusal: untrusted, truncated or malformed quotes, and RFC 1812 4.3.2.7. */
static void test_icmp_relay_refusals(void **state)
{
	uint8_t inner[200], q[300], out[ICMP_RELAY_MAX];
	size_t len = make_inner(inner, 0, 64, IP_DF, 100), qlen = make_quoted(q, inner, len, 300);
	enum icmp_relay_why why;

	(void)state;
#define REFUSED(buf, n, w)                                                       \
	do {                                                                     \
		why = ICMP_RELAY_OK;                                             \
		assert_int_equal(icmp_relay(out, 3, 1, 0, buf, n, &why), 0);     \
		assert_int_equal(why, w);                                        \
	} while (0)
	/* the outer header */
	REFUSED(NULL, 0, ICMP_RELAY_BAD_OUTER);
	REFUSED(q, 0, ICMP_RELAY_BAD_OUTER);
	REFUSED(q, 19, ICMP_RELAY_BAD_OUTER);
	q[0] = 0x65;					/* version 6 */
	REFUSED(q, qlen, ICMP_RELAY_BAD_OUTER);
	q[0] = 0x44;					/* IHL 4 */
	REFUSED(q, qlen, ICMP_RELAY_BAD_OUTER);
	q[0] = 0x4f;					/* IHL beyond the quote */
	REFUSED(q, 40, ICMP_RELAY_BAD_OUTER);
	q[0] = 0x45;
	q[9] = 17;					/* not IP-in-IP */
	REFUSED(q, qlen, ICMP_RELAY_BAD_OUTER);
	q[9] = 4;
	/* the inner header not quoted in full */
	REFUSED(q, 20, ICMP_RELAY_BAD_INNER);
	REFUSED(q, 20 + 8, ICMP_RELAY_BAD_INNER);	/* RFC 792 minimum quote */
	REFUSED(q, 20 + 19, ICMP_RELAY_BAD_INNER);
	q[20] = 0x65;					/* inner version 6 */
	REFUSED(q, qlen, ICMP_RELAY_BAD_INNER);
	q[20] = 0x44;					/* inner IHL 4 */
	REFUSED(q, qlen, ICMP_RELAY_BAD_INNER);
	q[20] = 0x4f;					/* inner IHL beyond the quote */
	REFUSED(q, 20 + 40, ICMP_RELAY_BAD_INNER);
	q[20] = 0x45;
	wr16(q + 22, 10);				/* inner length below its header */
	REFUSED(q, 20 + 20, ICMP_RELAY_BAD_INNER);
	REFUSED(q, qlen, ICMP_RELAY_BAD_INNER);
	wr16(q + 22, (uint16_t)len);
	assert_int_not_equal(icmp_relay(out, 3, 1, 0, q, qlen, NULL), 0);

	/* not about an ICMP error */
	for (uint8_t t = 0; t < 20; t++) {
		bool err = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;

		len = make_inner(inner, 0, 64, 0, 100);
		inner[9] = 1;
		inner[20] = t;
		set_csum(inner, 20);
		qlen = make_quoted(q, inner, len, 300);
		why = ICMP_RELAY_OK;
		assert_int_equal_at(icmp_relay(out, 3, 1, 0, q, qlen, &why) == 0, err, "type %u", t);
		assert_int_equal_at(why, err ? ICMP_RELAY_ABOUT_ERROR : ICMP_RELAY_OK, "type %u", t);
	}
	/* not about a non-first fragment; a first fragment is fine */
	len = make_inner(inner, 0, 64, IP_MF | 10, 100);
	qlen = make_quoted(q, inner, len, 300);
	REFUSED(q, qlen, ICMP_RELAY_FRAGMENT);
	len = make_inner(inner, 0, 64, 10, 100);
	qlen = make_quoted(q, inner, len, 300);
	REFUSED(q, qlen, ICMP_RELAY_FRAGMENT);
	len = make_inner(inner, 0, 64, IP_MF, 100);
	qlen = make_quoted(q, inner, len, 300);
	check_relayed(out, icmp_relay(out, 3, 1, 0, q, qlen, NULL), inner, 1, 0);
	/* not to or from anything but unicast */
	static const uint8_t bad[][4] = {
		{ 0, 0, 0, 0 }, { 0, 1, 2, 3 }, { 127, 0, 0, 1 }, { 224, 0, 0, 1 },
		{ 239, 1, 1, 1 }, { 240, 0, 0, 1 }, { 255, 255, 255, 255 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int dst = 0; dst < 2; dst++) {
			len = make_inner(inner, 0, 64, 0, 100);
			memcpy(inner + (dst ? 16 : 12), bad[i], 4);
			set_csum(inner, 20);
			qlen = make_quoted(q, inner, len, 300);
			why = ICMP_RELAY_OK;
			assert_int_equal_at(icmp_relay(out, 3, 1, 0, q, qlen, &why), 0, "%zu %d", i,
					    dst);
			assert_int_equal_at(why, ICMP_RELAY_NOT_UNICAST, "%zu %d", i, dst);
		}
	}
	/* the table is applied first */
	len = make_inner(inner, 0, 64, 0, 100);
	qlen = make_quoted(q, inner, len, 300);
	assert_int_equal(icmp_relay(out, 3, 3, 0, q, qlen, &why), 0);
	assert_int_equal(why, ICMP_RELAY_NOT_RELAYED);
#undef REFUSED
}

/* Every length of every prefix of a valid quote: no reads beyond it (ASan). */
static void test_icmp_relay_truncations(void **state)
{
	uint8_t inner[200], full[300], out[ICMP_RELAY_MAX];
	size_t len = make_inner_ihl(inner, 7, 0, 64, 0, 40), qlen = make_quoted(full, inner, len, 300);

	(void)state;
	for (size_t n = 0; n <= qlen; n++) {
		uint8_t *q = malloc(n ? n : 1);
		size_t r;

		assert_non_null(q);
		memcpy(q, full, n);
		r = icmp_relay(out, 3, 4, 1400, q, n, NULL);
		assert_int_equal_at(r != 0, n >= 20 + 28, "n %zu", n);
		if (r)
			assert_int_equal(r, 20 + 8 + (n - 20 < 36 ? n - 20 : 36));
		free(q);
	}
}

/* RFC 791: fragments fit the MTU and put back together give the original. */
static void check_fragments(unsigned ihl, size_t payload, unsigned mtu)
{
	static uint8_t pkt[4000], frag[4000], joined[4000];
	size_t len = make_inner_ihl(pkt, ihl, 0x28, 64, 0, payload), off = 0, n, nfrag = 0;
	size_t hlen = ihl * 4u, got = 0;
	bool saw_last = false;

	while ((n = ipv4_fragment(pkt, len, mtu, &off, frag)) != 0) {
		size_t fh = (size_t)(frag[0] & 15) * 4, fo = (size_t)(rd16(frag + 6) & 0x1fff) * 8;

		assert_true(n <= mtu);
		assert_int_equal(rd16(frag + 2), n);
		assert_int_equal(inet_csum(frag, fh), 0);
		assert_false(saw_last);
		saw_last = !(rd16(frag + 6) & 0x2000);
		assert_int_equal(fo, got);
		assert_true(fo + n - fh <= payload);
		memcpy(joined + fo, frag + fh, n - fh);
		got += n - fh;
		if (nfrag++ == 0)
			assert_int_equal(fh, hlen);	/* the first carries every option */
		else
			assert_int_equal(fh, 20);	/* NOPs are not copied */
	}
	assert_true(saw_last);
	assert_int_equal(got, payload);
	assert_memory_equal(joined, pkt + hlen, payload);
	if (len <= mtu)
		assert_int_equal(nfrag, 1);
	else
		assert_true(nfrag > 1);
}

static void test_fragment_reassembles(void **state)
{
	(void)state;
	check_fragments(5, 1480, 1380);
	check_fragments(5, 3000, 576);
	check_fragments(7, 2000, 1000);
	check_fragments(5, 100, 1500);		/* fits: one piece, MF clear */
}

static void test_fragment_mtu_too_small(void **state)
{
	uint8_t pkt[200], out[200];
	size_t len = make_inner(pkt, 0, 64, 0, 100), off = 0;

	(void)state;
	assert_int_equal(ipv4_fragment(pkt, len, 27, &off, out), 0);
}

/* RFC 2003 6, RFC 6169: who may be the inner source. */
static void test_decap_inner_source_checks(void **state)
{
	static const struct prefix peer_only = { 0, 32 };
	struct ipip_params p = params();
	uint8_t inner[200], pkt[300];
	struct ipip_rx rx;
	struct prefix allow = peer_only;
	size_t len;

	(void)state;
	memcpy(&allow.addr, INNER_SRC, 4);
	/* our own address as the inner source */
	len = make_inner(inner, 0, 64, 0x4000, 40);
	memcpy(&p.own[1], INNER_SRC, 4);
	len = make_outer(pkt, 0, inner, len);
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_RX_INNER_SOURCE_OURS);
	p.own[1] = 0;
	/* an allow-list that has the source, then one that has not */
	p.allowed = &allow;
	p.n_allowed = 1;
	len = make_outer(pkt, 0, inner, make_inner(inner, 0, 64, 0x4000, 40));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	allow.len = 32;
	allow.addr ^= 0x01000000u;	/* another host */
	len = make_outer(pkt, 0, inner, make_inner(inner, 0, 64, 0x4000, 40));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_RX_INNER_SOURCE_NOT_ALLOWED);
	allow.len = 0;			/* 0.0.0.0/0 */
	len = make_outer(pkt, 0, inner, make_inner(inner, 0, 64, 0x4000, 40));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
}

/* An inner packet with a loose source route option (RFC 791, type 0x83). */
static size_t make_lsrr(uint8_t *inner)
{
	size_t len = make_inner_ihl(inner, 7, 0, 64, 0x4000, 40);

	inner[20] = 0x83;	/* LSRR, length 7, pointer 4, one address */
	inner[21] = 7;
	inner[22] = 4;
	inner[27] = 0;		/* end of options */
	set_csum(inner, 28);
	return len;
}

static void test_decap_inner_source_route_dropped(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[200], pkt[300];
	struct ipip_rx rx;
	size_t len;

	(void)state;
	len = make_outer(pkt, 0, inner, make_lsrr(inner));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_RX_INNER_SOURCE_ROUTE);
	p.allow_source_route = true;
	len = make_outer(pkt, 0, inner, make_lsrr(inner));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
}

/* RFC 2003 3.2: no tunnelling of what comes from the exit point; no dead loops. */
static void test_encap_loops(void **state)
{
	struct ipip_params p = params();
	uint8_t inner[200], outer[IPV4_HLEN];
	size_t len = make_inner(inner, 0, 64, 0x4000, 40);

	(void)state;
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_OK);
	memcpy(inner + 12, REMOTE, 4);		/* from the tunnel's exit point */
	set_csum(inner, 20);
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_TX_LOOP);
	memcpy(inner + 12, LOCAL, 4);		/* our own outer packet, back again */
	memcpy(inner + 16, REMOTE, 4);
	inner[9] = IPPROTO_IPIP_;
	set_csum(inner, 20);
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_TX_DEAD_LOOP);
	inner[9] = 17;				/* ordinary traffic from Local to Remote */
	set_csum(inner, 20);
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_OK);
}

/* ---- RFC 2003 5 soft state from ICMP errors, the host's own addresses ----- */

/* What a router quotes of one of our outer packets: the encapsulated inner packet. */
static size_t make_quote(const struct ipip_params *p, uint8_t *q, uint8_t inner_ttl)
{
	uint8_t inner[100];
	size_t len = make_inner(inner, 0, inner_ttl, 0x4000, 40);

	assert_int_equal(ipip_encap(p, q, inner, len), PKT_OK);
	memcpy(q + IPV4_HLEN, inner, len);
	return IPV4_HLEN + len;
}

static void test_soft_state_sent_ttl(void **state)
{
	struct ipip_params p = params(), other = params();
	uint8_t q[200];
	size_t len;

	(void)state;
	/* TTL inherit: the outer TTL was the inner one, read from the quote */
	len = make_quote(&p, q, 37);
	assert_int_equal(icmp_sent_ttl(&p, 11, q, len), 37);
	/* the quote ends before the inner TTL (RFC 792: header + 8 bytes) */
	assert_int_equal(icmp_sent_ttl(&p, 11, q, IPV4_HLEN + 8), -1);
	assert_int_equal(icmp_sent_ttl(&p, 11, q, IPV4_HLEN + 9), 37);
	/* the router's copy has TTL 1 in the outer header: not what we sent */
	q[8] = 1;
	assert_int_equal(icmp_sent_ttl(&p, 11, q, len), 37);
	/* fixed TTL: nothing to learn (a path TTL above it would condemn every packet) */
	p.ttl = 30;
	assert_int_equal(icmp_sent_ttl(&p, 11, q, IPV4_HLEN + 8), -1);
	assert_int_equal(icmp_sent_ttl(&p, 11, q, len), -1);
	p.ttl = 0;
	/* only time exceeded, only about this tunnel's outer packets */
	assert_int_equal(icmp_sent_ttl(&p, 3, q, len), -1);
	assert_int_equal(icmp_sent_ttl(&p, 11, NULL, 0), -1);
	assert_int_equal(icmp_sent_ttl(&p, 11, q, IPV4_HLEN - 1), -1);
	memcpy(&other.remote, OTHER, 4);
	assert_int_equal(icmp_sent_ttl(&other, 11, q, len), -1);
	other = peer_params(&p);
	assert_int_equal(icmp_sent_ttl(&other, 11, q, len), -1);
	q[9] = 17;
	assert_int_equal(icmp_sent_ttl(&p, 11, q, len), -1);
}


static void test_icmp_quote_ours(void **state)
{
	struct ipip_params p = params(), other = params();
	uint8_t q[200];
	size_t len = make_quote(&p, q, 64);
	uint16_t id = 0;

	(void)state;
	q[4] = 0xab;
	q[5] = 0xcd;
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_OK);
	assert_int_equal(id, 0xabcd);
	assert_int_equal(icmp_quote_ours(&p, q, IPV4_HLEN, &id), PKT_OK);
	/* a header cut short, another protocol, another destination or source */
	assert_int_equal(icmp_quote_ours(&p, q, IPV4_HLEN - 1, &id), PKT_ICMP_NOT_OURS);
	assert_int_equal(icmp_quote_ours(&p, NULL, 0, &id), PKT_ICMP_NOT_OURS);
	memcpy(&other.remote, OTHER, 4);
	assert_int_equal(icmp_quote_ours(&other, q, len, &id), PKT_ICMP_NOT_OURS);
	other = peer_params(&p);
	assert_int_equal(icmp_quote_ours(&other, q, len, &id), PKT_ICMP_NOT_OURS);
	q[0] = 0x46;	/* IHL 6: options the quote claims but a 20-byte copy lacks */
	assert_int_equal(icmp_quote_ours(&p, q, IPV4_HLEN, &id), PKT_ICMP_NOT_OURS);
	q[0] = 0x45;
	q[9] = 17;
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_ICMP_NOT_OURS);
}

static void test_id_recent(void **state)
{
	(void)state;
	/* the counter went from 1000 to 1010: IDs 1000..1009 were taken */
	for (unsigned id = 990; id < 1020; id++)
		assert_int_equal_at(id_recent(1010, 1000, (uint16_t)id), id >= 1000 && id < 1010,
				    "id %u", id);
	/* nothing taken: nothing recent */
	assert_false(id_recent(1000, 1000, 999));
	assert_false(id_recent(1000, 1000, 1000));
	/* across the 16-bit wrap, and across the 32-bit wrap */
	assert_true(id_recent(0x10005, 0xfffe, 0xffff));
	assert_true(id_recent(0x10005, 0xfffe, 0x0004));
	assert_false(id_recent(0x10005, 0xfffe, 0x0005));
	assert_false(id_recent(0x10005, 0xfffe, 0xfffd));
	assert_true(id_recent(3, 0xfffffffeu, 0xfffe));
	assert_true(id_recent(3, 0xfffffffeu, 2));
	assert_false(id_recent(3, 0xfffffffeu, 3));
	/* 65535 taken: all but one; 65536 or more: every ID */
	assert_false(id_recent(70000 + 65535, 70000, (uint16_t)(70000 + 65535)));
	assert_true(id_recent(70000 + 65535, 70000, (uint16_t)(70000 + 65534)));
	for (unsigned id = 0; id < 0x10000; id += 97)
		assert_true(id_recent(70000 + 65536, 70000, (uint16_t)id));
}

static void test_source_check(void **state)
{
	struct ipip_params p = params();
	struct prefix allowed[1] = { { 0, 24 } };
	uint32_t a, b;

	(void)state;
	memcpy(&a, "\xcb\x00\x71\x09", 4);	/* 203.0.113.9 */
	memcpy(&b, "\xc6\x33\x64\x07", 4);	/* 198.51.100.7 */
	assert_int_equal(ipip_source_check(&p, a), PKT_OK);
	p.own[0] = p.local;
	assert_int_equal(ipip_source_check(&p, p.local), PKT_RX_INNER_SOURCE_OURS);
	p.own[1] = a;
	assert_int_equal(ipip_source_check(&p, a), PKT_RX_INNER_SOURCE_OURS);
	p.own[1] = 0;
	memcpy(&allowed[0].addr, "\xc6\x33\x64\x00", 4);	/* 198.51.100.0/24 */
	p.allowed = allowed;
	p.n_allowed = 1;
	assert_int_equal(ipip_source_check(&p, b), PKT_OK);
	assert_int_equal(ipip_source_check(&p, a), PKT_RX_INNER_SOURCE_NOT_ALLOWED);
}

static void test_soft_state_exit_unreachable(void **state)
{
	struct ipip_params p = params(), other = params();
	uint8_t q[200];
	size_t len = make_quote(&p, q, 64);

	(void)state;
	for (unsigned code = 0; code <= 16; code++)
		assert_int_equal_at(icmp_exit_unreachable(&p, 3, code, q, len),
				    code <= 2 || (code >= 6 && code <= 15), "code %u", code);
	assert_false(icmp_exit_unreachable(&p, 11, 0, q, len));
	assert_false(icmp_exit_unreachable(&p, 12, 0, q, len));
	assert_false(icmp_exit_unreachable(&p, 5, 1, q, len));
	/* about someone else's packet, or no quote */
	memcpy(&other.remote, OTHER, 4);
	assert_false(icmp_exit_unreachable(&other, 3, 1, q, len));
	assert_false(icmp_exit_unreachable(&p, 3, 1, q, IPV4_HLEN - 1));
}

static void test_soft_state_error_about(void **state)
{
	uint8_t inner[100], out[ICMP_FRAG_NEEDED_MAX];
	size_t len = make_inner(inner, 0, 5, 0x4000, 40), n;

	(void)state;
	n = icmp_error_about(out, 11, 0, 0, inner, len);
	assert_int_equal(n, IPV4_HLEN + 8 + IPV4_HLEN + 8);
	assert_int_equal(out[20], 11);
	assert_int_equal(out[21], 0);
	assert_memory_equal(out + 12, INNER_DST, 4);
	assert_memory_equal(out + 16, INNER_SRC, 4);
	assert_int_equal(inet_csum(out, IPV4_HLEN), 0);
	assert_int_equal(inet_csum(out + 20, n - 20), 0);
	assert_memory_equal(out + 28, inner, IPV4_HLEN + 8);
	n = icmp_error_about(out, 3, 1, 0, inner, len);
	assert_int_equal(out[20], 3);
	assert_int_equal(out[21], 1);
	/* never about a non-first fragment */
	len = make_inner(inner, 0, 5, 0x0010, 40);
	assert_int_equal(icmp_error_about(out, 11, 0, 0, inner, len), 0);
}

static void test_own_addrs_set(void **state)
{
	static struct own_addrs set;
	static uint32_t many[OWN_ADDRS_MAX + 10];
	struct ipip_params p = params();
	uint8_t inner[200], pkt[300];
	uint32_t a[3], src;
	struct ipip_rx rx;
	size_t len;

	(void)state;
	memcpy(&src, INNER_SRC, 4);
	memcpy(&a[0], OTHER, 4);
	memcpy(&a[1], LOCAL, 4);
	a[2] = src;
	assert_false(own_addrs_contains(&set, src));
	own_addrs_publish(&set, a, 3);
	assert_true(own_addrs_contains(&set, src));
	assert_true(own_addrs_contains(&set, a[0]));
	/* decapsulation: an inner source that is one of the host's addresses */
	p.host = &set;
	len = make_outer(pkt, 0, inner, make_inner(inner, 0, 64, 0x4000, 40));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_RX_INNER_SOURCE_OURS);
	/* the address goes away: the packet passes */
	own_addrs_publish(&set, a, 2);
	assert_false(own_addrs_contains(&set, src));
	len = make_outer(pkt, 0, inner, make_inner(inner, 0, 64, 0x4000, 40));
	assert_int_equal(ipip_decap(&p, pkt, len, &rx), PKT_OK);
	/* more than OWN_ADDRS_MAX: the first OWN_ADDRS_MAX are kept */
	for (unsigned i = 0; i < OWN_ADDRS_MAX + 10; i++)
		many[i] = 0x0a000000u + i + 1;
	own_addrs_publish(&set, many, OWN_ADDRS_MAX + 10);
	assert_true(own_addrs_contains(&set, many[OWN_ADDRS_MAX - 1]));
	assert_false(own_addrs_contains(&set, many[OWN_ADDRS_MAX]));
	own_addrs_publish(&set, NULL, 0);
	assert_false(own_addrs_contains(&set, many[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071_example),
		cmocka_unit_test(test_csum_real_ipv4_header),
		cmocka_unit_test(test_csum_filled_header_sums_to_zero),
		cmocka_unit_test(test_set_id_keeps_checksum_valid),
		cmocka_unit_test(test_csum_odd_length_and_carries),

		cmocka_unit_test(test_encap_outer_header_fields),
		cmocka_unit_test(test_encap_does_not_modify_inner),
		cmocka_unit_test(test_encap_inner_options_accepted),
		cmocka_unit_test(test_encap_ttl_inherit),
		cmocka_unit_test(test_encap_ttl_fixed),
		cmocka_unit_test(test_encap_tos_fixed_zero),
		cmocka_unit_test(test_encap_tos_fixed_ignores_own_ecn_bits),
		cmocka_unit_test(test_encap_tos_inherit),
		cmocka_unit_test(test_encap_pmtudisc_always_sets_df),
		cmocka_unit_test(test_encap_nopmtudisc_copies_inner_df),
		cmocka_unit_test(test_encap_inner_fragment_fields_not_copied),

		cmocka_unit_test(test_ecn_encap_normal_copies_all),
		cmocka_unit_test(test_ecn_encap_compat_not_ect),
		cmocka_unit_test(test_ecn_encap_kernel_ce_to_ect0),
		cmocka_unit_test(test_ecn_encap_ignores_dscp_bits),
		cmocka_unit_test(test_encap_outer_ecn_table),

		cmocka_unit_test(test_ecn_decap_table),
		cmocka_unit_test(test_ecn_decap_ignores_dscp_bits),
		cmocka_unit_test(test_decap_ecn_table),
		cmocka_unit_test(test_decap_rewrite_updates_inner_checksum),
		cmocka_unit_test(test_decap_rx_ecn_ce_over_not_ect),

		cmocka_unit_test(test_decap_dscp_pipe_keeps_inner),
		cmocka_unit_test(test_decap_dscp_uniform_copies_outer),

		cmocka_unit_test(test_decap_valid_datagram),
		cmocka_unit_test(test_decap_trailing_bytes_trimmed),
		cmocka_unit_test(test_decap_inner_shorter_than_outer_payload_trimmed),
		cmocka_unit_test(test_decap_outer_options_accepted),
		cmocka_unit_test(test_decap_inner_options_accepted),
		cmocka_unit_test(test_roundtrip_encap_decap),
		cmocka_unit_test(test_icmp_frag_needed_fields),
		cmocka_unit_test(test_encap_loops),
		cmocka_unit_test(test_decap_inner_source_checks),
		cmocka_unit_test(test_soft_state_sent_ttl),
		cmocka_unit_test(test_icmp_quote_ours),
		cmocka_unit_test(test_id_recent),
		cmocka_unit_test(test_source_check),
		cmocka_unit_test(test_soft_state_exit_unreachable),
		cmocka_unit_test(test_soft_state_error_about),
		cmocka_unit_test(test_own_addrs_set),
		cmocka_unit_test(test_decap_inner_source_route_dropped),
		cmocka_unit_test(test_icmp_frag_needed_not_about_errors),
		cmocka_unit_test(test_icmp_relay_table),
		cmocka_unit_test(test_icmp_relay_frag_needed_mtu),
		cmocka_unit_test(test_icmp_relay_quotes),
		cmocka_unit_test(test_icmp_relay_refusals),
		cmocka_unit_test(test_icmp_relay_truncations),
		cmocka_unit_test(test_fragment_reassembles),
		cmocka_unit_test(test_fragment_mtu_too_small),

		cmocka_unit_test(test_decap_rx_outer_short),
		cmocka_unit_test(test_decap_rx_outer_version),
		cmocka_unit_test(test_decap_rx_outer_ihl_below_5),
		cmocka_unit_test(test_decap_rx_outer_ihl_beyond_length),
		cmocka_unit_test(test_decap_rx_outer_length_below_header),
		cmocka_unit_test(test_decap_rx_outer_length_beyond_datagram),
		cmocka_unit_test(test_decap_rx_outer_checksum),
		cmocka_unit_test(test_decap_rx_outer_protocol),
		cmocka_unit_test(test_decap_rx_outer_fragment_mf),
		cmocka_unit_test(test_decap_rx_outer_fragment_offset),
		cmocka_unit_test(test_decap_rx_outer_source),
		cmocka_unit_test(test_decap_rx_outer_destination),

		cmocka_unit_test(test_decap_rx_inner_short),
		cmocka_unit_test(test_decap_rx_inner_version),
		cmocka_unit_test(test_decap_rx_inner_ihl_below_5),
		cmocka_unit_test(test_decap_rx_inner_ihl_beyond_length),
		cmocka_unit_test(test_decap_rx_inner_length_beyond_outer),
		cmocka_unit_test(test_decap_rx_inner_length_below_header),
		cmocka_unit_test(test_decap_rx_inner_checksum),
		cmocka_unit_test(test_decap_rx_inner_ttl0),

		cmocka_unit_test(test_encap_tx_not_ipv4),
		cmocka_unit_test(test_encap_tx_short),
		cmocka_unit_test(test_encap_tx_bad_ihl),
		cmocka_unit_test(test_encap_tx_bad_length),
		cmocka_unit_test(test_encap_tx_ttl0),
		cmocka_unit_test(test_encap_tx_too_big),

		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

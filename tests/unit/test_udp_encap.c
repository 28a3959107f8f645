/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of UDP encapsulation in the pure packet code (src/packet.c):
 * the FOU and GUE outer headers ipip_encap() writes (ports, lengths, the
 * optional UDP checksum, the flow-hash source port), udp_decap()'s checks,
 * and ICMP errors about our UDP packets (icmp_quote_ours, icmp_sent_ttl,
 * icmp_relay_encap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "packet.h"

static const uint8_t LOCAL[4] = { 192, 0, 2, 1 };
static const uint8_t REMOTE[4] = { 198, 51, 100, 1 };
static const uint8_t OTHER[4] = { 203, 0, 113, 9 };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static struct ipip_params params(enum encap e)
{
	struct ipip_params p;

	memset(&p, 0, sizeof(p));
	memcpy(&p.local, LOCAL, 4);
	memcpy(&p.remote, REMOTE, 4);
	p.pmtudisc = true;
	p.ecn = ECN_MODE_NORMAL;
	p.encap = e;
	p.port = 5555;
	p.remote_port = 6666;
	p.sport_min = 32768;
	p.sport_max = 61000;
	return p;
}

/* An inner IPv4 packet proto (TCP or UDP: ports sport -> 80), TOS tos, payload bytes. */
static size_t make_inner(uint8_t *buf, uint8_t proto, uint16_t sport, uint8_t tos, size_t payload)
{
	size_t len = 20 + 8 + payload;

	memset(buf, 0, 28);
	buf[0] = 0x45;
	buf[1] = tos;
	wr16(buf + 2, (uint16_t)len);
	wr16(buf + 6, 0x4000);
	buf[8] = 64;
	buf[9] = proto;
	buf[12] = 10, buf[15] = 1;
	buf[16] = 10, buf[19] = 2;
	wr16(buf + 10, inet_csum(buf, 20));
	wr16(buf + 20, sport);
	wr16(buf + 22, 80);
	for (size_t i = 0; i < payload; i++)
		buf[28 + i] = (uint8_t)(i * 13 + 5);
	return len;
}

/* The one's complement sum over the pseudo-header, UDP header and data: 0 if valid. */
static uint16_t udp_verify(const uint8_t *pkt)
{
	size_t ulen = rd16(pkt + 24);
	uint8_t buf[2048];

	memcpy(buf, pkt + 12, 8);
	buf[8] = 0;
	buf[9] = 17;
	wr16(buf + 10, (uint16_t)ulen);
	memcpy(buf + 12, pkt + 20, ulen);
	return inet_csum(buf, 12 + ulen);
}

static void test_fou_header(void **state)
{
	struct ipip_params p = params(ENCAP_FOU);
	uint8_t pkt[512];
	size_t len = make_inner(pkt + 28, 6, 1234, 0, 100);

	(void)state;
	assert_int_equal(ipip_outer_len(&p), 28);
	assert_int_equal(ipip_encap(&p, pkt, pkt + 28, len), PKT_OK);
	assert_int_equal(inet_csum(pkt, 20), 0);
	assert_int_equal(pkt[9], 17);
	assert_int_equal(rd16(pkt + 2), 28 + len);
	assert_true(rd16(pkt + 20) >= 32768 && rd16(pkt + 20) < 61000);
	assert_int_equal(rd16(pkt + 22), 6666);
	assert_int_equal(rd16(pkt + 24), 8 + len);
	assert_int_equal(rd16(pkt + 26), 0);	/* no checksum: the kernel's default for IPv4 */
	/* a fixed source port, and the checksum when asked: valid over the inner packet */
	p.sport = 4000;
	p.udp_csum = true;
	assert_int_equal(ipip_encap(&p, pkt, pkt + 28, len), PKT_OK);
	assert_int_equal(rd16(pkt + 20), 4000);
	assert_int_not_equal(rd16(pkt + 26), 0);
	assert_int_equal(udp_verify(pkt), 0);
	pkt[40] ^= 1;	/* it covers the inner packet */
	assert_int_not_equal(udp_verify(pkt), 0);
}

static void test_gue_header(void **state)
{
	struct ipip_params p = params(ENCAP_GUE);
	uint8_t pkt[512];
	size_t len = make_inner(pkt + 32, 17, 999, 0, 33);	/* odd length: the checksum's pad */

	(void)state;
	assert_int_equal(ipip_outer_len(&p), 32);
	p.udp_csum = true;
	assert_int_equal(ipip_encap(&p, pkt, pkt + 32, len), PKT_OK);
	assert_int_equal(rd16(pkt + 2), 32 + len);
	assert_int_equal(rd16(pkt + 24), 12 + len);
	/* variant 0, C = 0, hlen 0; proto/ctype 4; flags 0 */
	assert_int_equal(pkt[28], 0);
	assert_int_equal(pkt[29], 4);
	assert_int_equal(rd16(pkt + 30), 0);
	assert_int_equal(udp_verify(pkt), 0);
}

/*
 * UDP GSO: the kernel cuts a frame into datagrams as __udp_gso_segment()
 * does (the header copied, each datagram's UDP length patched into the
 * checksum field udp_gso_outer() left, then the data summed in).  Each
 * datagram must be what ipip_encap() writes for it alone.
 */
static void test_udp_gso_outer(void **state)
{
	static const enum encap encs[] = { ENCAP_FOU, ENCAP_GUE };

	(void)state;
	for (size_t e = 0; e < 2; e++) {
		struct ipip_params p = params(encs[e]);
		size_t olen = ipip_outer_len(&p), hl = olen - 28, seg, total = 0;
		static uint8_t frame[8192], alone[2048], cut[2048];
		uint8_t *pay = frame + 28;
		size_t lens[3];

		p.udp_csum = true;
		/* three datagrams: two of one length, the last shorter (and odd) */
		for (int i = 0; i < 3; i++) {
			uint8_t *in = pay + total + hl;

			lens[i] = make_inner(in, 6, 1234, 0x02, i < 2 ? 1000 : 333);
			in[27] = (uint8_t)i;	/* they differ */
			if (i == 0)
				assert_int_equal(ipip_encap(&p, in - olen, in, lens[i]), PKT_OK);
			else
				memcpy(in - hl, pay, hl);
			total += hl + lens[i];
		}
		seg = hl + lens[0];
		udp_gso_outer(frame, total);
		assert_int_equal(rd16(frame + 2), 28 + total);
		assert_int_equal(inet_csum(frame, 20), 0);
		assert_int_equal(rd16(frame + 24), 8 + total);
		for (size_t off = 0; off < total; off += seg) {
			size_t n = total - off < seg ? total - off : seg;
			uint16_t check = rd16(frame + 26), oldlen = rd16(frame + 24);
			uint32_t sum;

			/* the kernel: the length's change into the pseudo-header sum ... */
			sum = (uint16_t)check + (uint32_t)(uint16_t)~oldlen + (uint32_t)(8 + n);
			sum = (sum & 0xffff) + (sum >> 16);
			sum = (sum & 0xffff) + (sum >> 16);
			memcpy(cut, frame, 28);
			memcpy(cut + 28, pay + off, n);
			wr16(cut + 2, (uint16_t)(28 + n));
			wr16(cut + 24, (uint16_t)(8 + n));
			/* ... which the checksum over the header and data then takes in */
			wr16(cut + 26, (uint16_t)sum);
			wr16(cut + 26, inet_csum(cut + 20, 8 + n) ? inet_csum(cut + 20, 8 + n) : 0xffff);
			assert_int_equal(udp_verify(cut), 0);
			/* the same bytes as the datagram encapsulated alone (but the IPv4 ID and checksum) */
			memcpy(alone + olen, pay + off + hl, n - hl);
			assert_int_equal(ipip_encap(&p, alone, alone + olen, n - hl), PKT_OK);
			assert_memory_equal(alone + 20, cut + 20, 8 + n);
			assert_memory_equal(alone, cut, 4);
			assert_memory_equal(alone + 6, cut + 6, 4);
			assert_memory_equal(alone + 12, cut + 12, 8);
		}
	}
}

/* One flow keeps one port; flows spread over the range; fragments and portless protocols too. */
static void test_flow_port(void **state)
{
	struct ipip_params p = params(ENCAP_FOU);
	uint8_t a[128], b[128];
	uint16_t first, seen[64];
	unsigned distinct = 0;
	size_t len;

	(void)state;
	len = make_inner(a, 6, 1000, 0, 10);
	first = ipip_flow_port(&p, a, len);
	make_inner(b, 6, 1000, 0x28, 50);	/* the same flow: other TOS, other length */
	assert_int_equal(ipip_flow_port(&p, b, 78), first);
	for (unsigned i = 0; i < 64; i++) {
		bool dup = false;

		len = make_inner(a, 17, (uint16_t)(2000 + i), 0, 10);
		seen[i] = ipip_flow_port(&p, a, len);
		assert_true(seen[i] >= 32768 && seen[i] < 61000);
		for (unsigned j = 0; j < i; j++)
			dup = dup || seen[j] == seen[i];
		distinct += !dup;
	}
	assert_true(distinct >= 60);	/* 64 flows over 28232 ports */
	/* a non-first fragment has no ports: it hashes as its addresses and protocol */
	len = make_inner(a, 17, 1, 0, 10);
	wr16(a + 6, 0x0010);
	first = ipip_flow_port(&p, a, len);
	wr16(a + 20, 2);
	assert_int_equal(ipip_flow_port(&p, a, len), first);
	/* an empty range gives its low end */
	p.sport_max = p.sport_min;
	assert_int_equal(ipip_flow_port(&p, a, len), 32768);
}

static void test_udp_decap(void **state)
{
	struct ipip_params p = params(ENCAP_FOU), g = params(ENCAP_GUE);
	uint32_t remote, other;
	uint8_t pay[256];
	struct ipip_rx rx;
	size_t len;

	(void)state;
	memcpy(&remote, REMOTE, 4);
	memcpy(&other, OTHER, 4);
	len = make_inner(pay, 17, 5, ECN_ECT0, 20);
	assert_int_equal(udp_decap(&p, pay, len, remote, 0, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 0);
	assert_int_equal(rx.inner_len, len);
	assert_int_equal(udp_decap(&p, pay, len, other, 0, &rx), PKT_RX_OUTER_SOURCE);
	/* outer CE onto an ECT inner packet (RFC 6040): CE inside, checksum kept right */
	assert_int_equal(udp_decap(&p, pay, len, remote, ECN_CE, &rx), PKT_OK);
	assert_int_equal(pay[1] & 3, ECN_CE);
	assert_int_equal(inet_csum(pay, 20), 0);
	/* ... and onto a Not-ECT one: dropped */
	len = make_inner(pay, 17, 5, 0, 20);
	assert_int_equal(udp_decap(&p, pay, len, remote, ECN_CE, &rx), PKT_RX_ECN_CE_NOT_ECT);
	/* trailing bytes after the inner packet are not passed on */
	assert_int_equal(udp_decap(&p, pay, len + 7, remote, 0, &rx), PKT_OK);
	assert_int_equal(rx.inner_len, len);
	assert_int_equal(udp_decap(&p, pay, 10, remote, 0, &rx), PKT_RX_INNER_SHORT);

	/* GUE variant 0 */
	memset(pay, 0, 4);
	pay[1] = 4;
	len = make_inner(pay + 4, 6, 7, 0, 20);
	assert_int_equal(udp_decap(&g, pay, len + 4, remote, 0, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 4);
	assert_int_equal(rx.inner_len, len);
	/* a control message, optional fields, another protocol, flags, version 2 or 3 */
	static const uint8_t bad[][4] = {
		{ 0x20, 4, 0, 0 }, { 0x01, 4, 0, 0 }, { 0x00, 47, 0, 0 }, { 0, 4, 0x80, 0 },
		{ 0, 4, 0, 1 }, { 0x80, 4, 0, 0 }, { 0xc0, 4, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(pay, bad[i], 4);
		assert_int_equal(udp_decap(&g, pay, len + 4, remote, 0, &rx), PKT_RX_GUE_HEADER);
	}
	assert_int_equal(udp_decap(&g, pay, 3, remote, 0, &rx), PKT_RX_GUE_HEADER);
	/* variant 1: the IPv4 header at once (first nibble 4: version bits 01); IPv6 (6) not ours */
	len = make_inner(pay, 6, 7, 0, 20);
	assert_int_equal(udp_decap(&g, pay, len, remote, 0, &rx), PKT_OK);
	assert_int_equal(rx.inner_off, 0);
	pay[0] = 0x60;
	assert_int_equal(udp_decap(&g, pay, len, remote, 0, &rx), PKT_RX_GUE_HEADER);
}

/* What a router quotes of one of our outer packets (quote_len bytes of it). */
static size_t make_quote(const struct ipip_params *p, uint8_t *q, uint16_t id)
{
	size_t olen = ipip_outer_len(p), len = make_inner(q + olen, 6, 4321, 0, 40);

	assert_int_equal(ipip_encap(p, q, q + olen, len), PKT_OK);
	ipv4_set_id(q, id);
	return olen + len;
}

static void test_icmp_about_udp(void **state)
{
	struct ipip_params p = params(ENCAP_FOU), ipip = params(ENCAP_IPIP);
	uint8_t q[256], out[ICMP_RELAY_MAX];
	size_t len = make_quote(&p, q, 0x1234), n;
	enum icmp_relay_why why;
	uint16_t id = 0;

	(void)state;
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_OK);
	assert_int_equal(id, 0x1234);
	/* RFC 792's header and 8 bytes: the UDP header, enough */
	assert_int_equal(icmp_quote_ours(&p, q, 28, &id), PKT_OK);
	assert_int_equal(icmp_quote_ours(&p, q, 27, &id), PKT_ICMP_NOT_OURS);
	/* a protocol-4 tunnel does not take it, nor a UDP one ours */
	assert_int_equal(icmp_quote_ours(&ipip, q, len, &id), PKT_ICMP_NOT_OURS);
	/* another destination port */
	wr16(q + 22, 6667);
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_ICMP_NOT_OURS);
	wr16(q + 22, 6666);
	/* a source port outside the range auto takes from, or not the fixed one */
	wr16(q + 20, 1000);
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_ICMP_NOT_OURS);
	wr16(q + 20, 61000);
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_ICMP_NOT_OURS);
	p.sport = 4000;
	wr16(q + 20, 4001);
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_ICMP_NOT_OURS);
	wr16(q + 20, 4000);
	assert_int_equal(icmp_quote_ours(&p, q, len, &id), PKT_OK);
	/* time exceeded: the inner TTL read after the UDP header */
	assert_int_equal(icmp_sent_ttl(&p, 11, q, len), 64);
	assert_int_equal(icmp_sent_ttl(&p, 11, q, 28 + 8), -1);
	/* frag-needed relayed with the reported MTU less the whole outer header */
	n = icmp_relay_encap(&p, out, 3, 4, 1400, q, len, &why);
	assert_int_not_equal(n, 0);
	assert_int_equal(why, ICMP_RELAY_OK);
	assert_int_equal(rd16(out + 26), 1400 - 28);
	assert_memory_equal(out + 28, q + 28, 20);	/* quotes the inner header */
	/* a quote that stops inside the UDP header, or before the inner packet */
	assert_int_equal(icmp_relay_encap(&p, out, 3, 4, 1400, q, 27, &why), 0);
	assert_int_equal(why, ICMP_RELAY_BAD_OUTER);
	p = params(ENCAP_GUE);
	len = make_quote(&p, q, 7);
	assert_int_equal(icmp_relay_encap(&p, out, 3, 4, 1400, q, 30, &why), 0);
	assert_int_equal(why, ICMP_RELAY_BAD_INNER);
	n = icmp_relay_encap(&p, out, 3, 4, 1400, q, len, &why);
	assert_int_equal(rd16(out + 26), 1400 - 32);
	assert_memory_equal(out + 28, q + 32, 20);
	/* icmp_relay() is the protocol-4 case */
	assert_int_equal(icmp_relay(out, 3, 4, 1400, q, len, &why), 0);
	assert_int_equal(why, ICMP_RELAY_BAD_OUTER);
}

/* Our own outer UDP packets routed back into the tunnel: a dead loop, not other UDP. */
static void test_udp_dead_loop(void **state)
{
	struct ipip_params p = params(ENCAP_FOU);
	uint8_t inner[128], outer[OUTER_MAX];
	size_t len = make_inner(inner, 17, 40000, 0, 10);

	(void)state;
	memcpy(inner + 12, LOCAL, 4);
	memcpy(inner + 16, REMOTE, 4);
	wr16(inner + 22, 6666);
	wr16(inner + 10, 0);
	wr16(inner + 10, inet_csum(inner, 20));
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_TX_DEAD_LOOP);
	wr16(inner + 22, 53);
	assert_int_equal(ipip_encap(&p, outer, inner, len), PKT_OK);
}

/* The largest inner packet: 65535 with the whole outer header. */
static void test_udp_too_big(void **state)
{
	static uint8_t big[0xffff];
	struct ipip_params p = params(ENCAP_GUE);
	uint8_t outer[OUTER_MAX];

	(void)state;
	for (size_t len = 0xffff - 33; len <= 0xffff - 31; len++) {
		make_inner(big, 17, 9, 0, len - 28);
		assert_int_equal(ipip_encap(&p, outer, big, len),
				 len <= 0xffff - 32 ? PKT_OK : PKT_TX_TOO_BIG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fou_header),
		cmocka_unit_test(test_gue_header),
		cmocka_unit_test(test_udp_gso_outer),
		cmocka_unit_test(test_flow_port),
		cmocka_unit_test(test_udp_decap),
		cmocka_unit_test(test_icmp_about_udp),
		cmocka_unit_test(test_udp_dead_loop),
		cmocka_unit_test(test_udp_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

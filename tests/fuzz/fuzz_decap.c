/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz the packet code: ipip_decap, ipip_encap and the round trip between them.
 *
 * Input: one settings byte, then the packet bytes.  The settings byte picks
 *   bits 0-1  ECN mode: 0 normal, 1 compatibility, 2 kernel, 3 normal
 *   bit  2    DSCP uniform (else pipe)
 *   bit  3    TOS inherit (else the fixed TOS of bits 6-7)
 *   bit  4    DiscoverPathMTU
 *   bit  5    fixed TTL 64 (else inherit)
 *   bits 6-7  fixed TOS 0x00, 0x20, 0xb8 or 0xfc
 * The packet is decapsulated as received from the peer (local 192.0.2.2,
 * remote 192.0.2.1), once as given and once with its outer and inner header
 * checksums repaired, and encapsulated as if read from the TUN device.
 * With UDP encapsulation (FOU, then GUE; the same settings, DiscoverPathMTU
 * also choosing the UDP checksum and TOS inherit a fixed source port), the
 * bytes are also a received UDP payload for udp_decap(), and the inner
 * packet of a round trip through ipip_encap() and udp_decap().
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "packet.h"


#define IP_DF 0x4000u

static const uint8_t fixed_tos[4] = { 0x00, 0x20, 0xb8, 0xfc };

/* RFC 6040 section 4.2, indexed [inner][outer] by codepoint; -1: drop. */
static const int decap_table[4][4] = {
	/* outer:      Not-ECT  ECT(1)   ECT(0)   CE */
	[ECN_NOT_ECT] = { ECN_NOT_ECT, ECN_NOT_ECT, ECN_NOT_ECT, -1 },
	[ECN_ECT1] = { ECN_ECT1, ECN_ECT1, ECN_ECT1, ECN_CE },
	[ECN_ECT0] = { ECN_ECT0, ECN_ECT1, ECN_ECT0, ECN_CE },
	[ECN_CE] = { ECN_CE, ECN_CE, ECN_CE, ECN_CE },
};

/* The combinations RFC 6040 marks "(!!!)". */
static bool decap_unusual(unsigned inner, unsigned outer)
{
	return (inner == ECN_NOT_ECT && outer != ECN_NOT_ECT) ||
	       (inner == ECN_CE && outer == ECN_ECT1);
}

static unsigned encap_ecn(enum ecn_mode mode, unsigned inner)
{
	switch (mode) {
	case ECN_MODE_COMPAT:
		return ECN_NOT_ECT;
	case ECN_MODE_KERNEL:
		return inner == ECN_CE ? ECN_ECT0 : inner;
	default:
		return inner;
	}
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void set_params(struct ipip_params *p, uint8_t s)
{
	static const enum ecn_mode modes[4] = {
		ECN_MODE_NORMAL, ECN_MODE_COMPAT, ECN_MODE_KERNEL, ECN_MODE_NORMAL,
	};

	memset(p, 0, sizeof(*p));
	p->local = htonl(0xc0000202);	/* 192.0.2.2 */
	p->remote = htonl(0xc0000201);	/* 192.0.2.1 */
	p->ecn = modes[s & 3];
	p->dscp_uniform = s & 0x04;
	p->tos_inherit = s & 0x08;
	p->pmtudisc = s & 0x10;
	p->ttl = (s & 0x20) ? 64 : 0;
	p->tos = fixed_tos[s >> 6];
}

/* Fill in a valid header checksum if the header at h fits in len bytes; returns its length or 0. */
static size_t fix_csum(uint8_t *h, size_t len)
{
	size_t hlen;

	if (len < IPV4_HLEN)
		return 0;
	hlen = (size_t)(h[0] & 0x0f) * 4;
	if (hlen < IPV4_HLEN || hlen > len)
		return 0;
	h[10] = h[11] = 0;
	uint16_t c = inet_csum(h, hlen);
	h[10] = (uint8_t)(c >> 8);
	h[11] = (uint8_t)c;
	return hlen;
}

static void check_decap(const struct ipip_params *p, const uint8_t *data, size_t size)
{
	uint8_t *pkt = malloc(size ? size : 1);
	struct ipip_rx rx;
	enum pkt_verdict v;

	CHECK(pkt);
	memcpy(pkt, data, size);
	v = ipip_decap(p, pkt, size, &rx);
	CHECK(v == PKT_OK || (v >= PKT_RX_OUTER_SHORT && v <= PKT_RX_INNER_SOURCE_ROUTE));
	if (v == PKT_RX_INNER_SOURCE_ROUTE) {	/* only inner options carry a source route */
		size_t o = (size_t)(data[0] & 0x0f) * 4;

		CHECK(o < size && (data[o] & 0x0f) > 5);
	}
	if (v == PKT_RX_ECN_CE_NOT_ECT)
		CHECK(rx.ecn_unusual && rx.outer_ecn == ECN_CE && rx.inner_ecn == ECN_NOT_ECT);
	if (v != PKT_OK) {
		/* A dropped packet is left as it was. */
		CHECK(memcmp(pkt, data, size) == 0);
		free(pkt);
		return;
	}

	/* The outer header was what we expect from our peer. */
	CHECK(size >= IPV4_HLEN && (data[0] >> 4) == 4 && data[9] == IPPROTO_IPIP_);
	CHECK(memcmp(data + 12, &p->remote, 4) == 0 && memcmp(data + 16, &p->local, 4) == 0);
	CHECK(inet_csum(data, (size_t)(data[0] & 0x0f) * 4) == 0);

	/* The inner packet is a well-formed IPv4 packet inside the buffer. */
	CHECK(rx.inner_off == (size_t)(data[0] & 0x0f) * 4);
	CHECK(rx.inner_len >= IPV4_HLEN);
	CHECK(rx.inner_off + rx.inner_len <= size);
	CHECK(rx.inner_off + rx.inner_len <= get16(data + 2));

	const uint8_t *in = pkt + rx.inner_off, *orig = data + rx.inner_off;
	size_t ihl = (size_t)(in[0] & 0x0f) * 4;

	CHECK((in[0] >> 4) == 4);
	CHECK(ihl >= IPV4_HLEN && ihl <= rx.inner_len);
	CHECK(get16(in + 2) == rx.inner_len);
	CHECK(inet_csum(in, ihl) == 0);
	CHECK(in[8] != 0);

	/* Only the inner TOS byte and checksum may change, and the TOS as RFC 6040/2983 say. */
	for (size_t i = 0; i < size; i++)
		if (i != rx.inner_off + 1 && i != rx.inner_off + 10 && i != rx.inner_off + 11)
			CHECK(pkt[i] == data[i]);
	CHECK(rx.outer_ecn == (data[1] & 3) && rx.inner_ecn == (orig[1] & 3));
	CHECK(rx.ecn_unusual == decap_unusual(rx.inner_ecn, rx.outer_ecn));
	CHECK(decap_table[rx.inner_ecn][rx.outer_ecn] == (int)(in[1] & 3));
	CHECK((in[1] >> 2) == ((p->dscp_uniform ? data[1] : orig[1]) >> 2));
	if (in[1] == orig[1])
		CHECK(in[10] == orig[10] && in[11] == orig[11]);
	free(pkt);
}

/* Encapsulate data; returns the verdict after checking the outer header. */
static enum pkt_verdict check_encap(const struct ipip_params *p, uint8_t outer[IPV4_HLEN],
				    const uint8_t *data, size_t size)
{
	enum pkt_verdict v = ipip_encap(p, outer, data, size);
	unsigned ecn;

	CHECK(v == PKT_OK || (v >= PKT_TX_NOT_IPV4 && v <= PKT_TX_TOO_BIG));
	if (v != PKT_OK)
		return v;
	CHECK(size >= IPV4_HLEN && (data[0] >> 4) == 4 && get16(data + 2) == size);
	CHECK(data[8] != 0);
	CHECK(inet_csum(outer, IPV4_HLEN) == 0);
	CHECK(outer[0] == 0x45);
	CHECK(get16(outer + 2) == size + IPV4_HLEN);
	CHECK(outer[9] == IPPROTO_IPIP_);
	CHECK(memcmp(outer + 12, &p->local, 4) == 0 && memcmp(outer + 16, &p->remote, 4) == 0);
	CHECK(get16(outer + 6) == ((p->pmtudisc || (get16(data + 6) & IP_DF)) ? IP_DF : 0));
	CHECK(outer[8] == (p->ttl ? p->ttl : data[8]));
	ecn = encap_ecn(p->ecn, data[1] & 3);
	CHECK((outer[1] & 3) == ecn);
	CHECK((outer[1] >> 2) == ((p->tos_inherit ? data[1] : p->tos) >> 2));
	return PKT_OK;
}

/*
 * decap(encap(x)) at the peer gives x back in every ECN mode: the outer ECN
 * made by any of them decapsulates to the inner one again (normal copies it;
 * kernel sends CE as ECT(0) and CE inner stays CE; compatibility sends Not-ECT).
 * With DSCP pipe, or uniform with TOS inherit, x comes back byte for byte; with
 * uniform and a fixed TOS the inner DSCP becomes the fixed one.  The peer checks
 * the inner checksum, which encap does not.
 */
static void check_round_trip(const struct ipip_params *p, const uint8_t *data, size_t size)
{
	struct ipip_params peer = *p;
	struct ipip_rx rx;
	enum pkt_verdict v;
	uint8_t *buf;
	size_t ihl;

	buf = malloc(size + IPV4_HLEN);
	CHECK(buf);
	memcpy(buf + IPV4_HLEN, data, size);
	if (check_encap(p, buf, data, size) != PKT_OK) {
		free(buf);
		return;
	}
	ihl = (size_t)(data[0] & 0x0f) * 4;

	/* Our own packet, looped back to us, is not from the peer. */
	CHECK(ipip_decap(p, buf, size + IPV4_HLEN, &rx) == PKT_RX_OUTER_SOURCE);

	peer.local = p->remote;
	peer.remote = p->local;
	peer.allow_source_route = true;	/* x may carry any options */
	v = ipip_decap(&peer, buf, size + IPV4_HLEN, &rx);
	if (inet_csum(data, ihl) != 0) {
		CHECK(v == PKT_RX_INNER_CSUM);
		free(buf);
		return;
	}
	CHECK(v == PKT_OK);
	CHECK(rx.inner_off == IPV4_HLEN && rx.inner_len == size);
	CHECK(!rx.ecn_unusual);
	if (!p->dscp_uniform || p->tos_inherit) {
		CHECK(memcmp(buf + IPV4_HLEN, data, size) == 0);
	} else {
		const uint8_t *in = buf + IPV4_HLEN;

		CHECK(in[1] == ((p->tos & ~3u) | (data[1] & 3u)));
		CHECK(in[0] == data[0] && memcmp(in + 2, data + 2, 8) == 0);
		CHECK(memcmp(in + 12, data + 12, size - 12) == 0);
		CHECK(inet_csum(in, ihl) == 0);
	}
	free(buf);
}

/* The UDP (and GUE) header ipip_encap() wrote after the outer header of buf. */
static void check_udp_header(const struct ipip_params *p, const uint8_t *buf, size_t size)
{
	size_t olen = ipip_outer_len(p), ulen = olen - IPV4_HLEN + size;
	const uint8_t *u = buf + IPV4_HLEN;
	unsigned sport = get16(u);
	uint32_t sum = 0;

	CHECK(buf[9] == IPPROTO_UDP_ && get16(buf + 2) == olen + size);
	CHECK(p->sport ? sport == p->sport : sport >= p->sport_min && sport < p->sport_max);
	CHECK(sport == (p->sport ? p->sport : ipip_flow_port(p, buf + olen, size)));
	CHECK(get16(u + 2) == p->remote_port && get16(u + 4) == ulen);
	if (p->encap == ENCAP_GUE)
		CHECK(u[8] == 0 && u[9] == IPPROTO_IPIP_ && u[10] == 0 && u[11] == 0);
	if (!p->udp_csum) {
		CHECK(get16(u + 6) == 0);
		return;
	}
	/* RFC 768: the sum over the pseudo-header, header and data is 0xffff */
	CHECK(get16(u + 6) != 0);
	for (size_t i = 12; i < 20; i += 2)
		sum += get16(buf + i);
	sum += IPPROTO_UDP_ + (uint32_t)ulen;
	for (size_t i = 0; i + 1 < ulen; i += 2)
		sum += get16(u + i);
	if (ulen & 1)
		sum += (uint32_t)u[ulen - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	CHECK(sum == 0xffff);
}

/*
 * UDP encapsulation: data as a payload received from src for udp_decap()
 * (dropped: untouched; taken: a well-formed inner packet within it), and
 * data as an inner packet through ipip_encap() and the peer's udp_decap().
 */
static void check_udp(const struct ipip_params *base, enum encap e, const uint8_t *data,
		      size_t size)
{
	struct ipip_params p = *base, peer;
	size_t olen, ihl;
	struct ipip_rx rx;
	enum pkt_verdict v;
	uint8_t *buf;

	p.encap = e;
	p.port = 5555;
	p.remote_port = 6666;
	p.sport = p.tos_inherit ? 0 : 4000;
	p.sport_min = 32768;
	p.sport_max = 61000;
	p.udp_csum = p.pmtudisc;
	olen = ipip_outer_len(&p);
	buf = malloc(size + olen);
	CHECK(buf);

	memcpy(buf, data, size);
	CHECK(udp_decap(&p, buf, size, p.local, 0, &rx) == PKT_RX_OUTER_SOURCE);
	v = udp_decap(&p, buf, size, p.remote, data[0] & 0xfc, &rx);
	CHECK(v == PKT_OK || (v >= PKT_RX_GUE_HEADER && v <= PKT_RX_INNER_SOURCE_ROUTE));
	if (v != PKT_OK) {
		CHECK(memcmp(buf, data, size) == 0);
	} else {
		CHECK(rx.inner_off == (e == ENCAP_GUE && (data[0] >> 6) == 0 ? GUE_HLEN : 0));
		CHECK(rx.inner_len >= IPV4_HLEN && rx.inner_off + rx.inner_len <= size);
		CHECK(get16(buf + rx.inner_off + 2) == rx.inner_len);
		CHECK(inet_csum(buf + rx.inner_off, (size_t)(buf[rx.inner_off] & 0x0f) * 4) == 0);
	}

	memcpy(buf + olen, data, size);
	v = ipip_encap(&p, buf, buf + olen, size);
	if (v != PKT_OK) {
		free(buf);
		return;
	}
	check_udp_header(&p, buf, size);
	peer = p;
	peer.local = p.remote;
	peer.remote = p.local;
	peer.allow_source_route = true;
	ihl = (size_t)(data[0] & 0x0f) * 4;
	v = udp_decap(&peer, buf + IPV4_HLEN + UDP_HLEN, size + olen - IPV4_HLEN - UDP_HLEN,
		      p.local, buf[1], &rx);
	if (inet_csum(data, ihl) != 0) {
		CHECK(v == PKT_RX_INNER_CSUM);
	} else {
		CHECK(v == PKT_OK);
		CHECK(rx.inner_off == olen - IPV4_HLEN - UDP_HLEN && rx.inner_len == size);
		if (!p.dscp_uniform || p.tos_inherit)
			CHECK(memcmp(buf + olen, data, size) == 0);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipip_params p;
	uint8_t outer[IPV4_HLEN], *fixed;
	size_t ohl;

	if (size < 1)
		return 0;
	set_params(&p, data[0]);
	data++;
	size--;

	check_decap(&p, data, size);
	check_encap(&p, outer, data, size);
	check_round_trip(&p, data, size);
	if (size) {
		check_udp(&p, ENCAP_FOU, data, size);
		check_udp(&p, ENCAP_GUE, data, size);
	}

	/* The same with valid checksums, which random bytes rarely have. */
	fixed = malloc(size ? size : 1);
	CHECK(fixed);
	memcpy(fixed, data, size);
	ohl = fix_csum(fixed, size);
	if (ohl)
		fix_csum(fixed + ohl, size - ohl);
	check_decap(&p, fixed, size);
	if (size >= IPV4_HLEN) {
		memcpy(fixed, data, size);
		fix_csum(fixed, size);
		check_round_trip(&p, fixed, size);
		check_udp(&p, ENCAP_FOU, fixed, size);
		check_udp(&p, ENCAP_GUE, fixed, size);
	}
	free(fixed);
	return 0;
}

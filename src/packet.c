/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "packet.h"

#include <string.h>

#define IP_DF 0x4000u
#define IP_MF 0x2000u
#define IP_OFFMASK 0x1fffu

#define PKT_NAME_(e, s) [e] = s,
static const char *const verdict_names[PKT_VERDICT_MAX] = { PKT_VERDICTS(PKT_NAME_) };
#undef PKT_NAME_

const char *pkt_verdict_name(enum pkt_verdict v)
{
	return (unsigned)v < PKT_VERDICT_MAX ? verdict_names[v] : "unknown";
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t inet_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint8_t ecn_encap(enum ecn_mode mode, uint8_t inner_ecn)
{
	inner_ecn &= 3;
	switch (mode) {
	case ECN_MODE_COMPAT:
		return ECN_NOT_ECT;
	case ECN_MODE_KERNEL:
		return inner_ecn == ECN_CE ? ECN_ECT0 : inner_ecn;
	case ECN_MODE_NORMAL:
	default:
		return inner_ecn;
	}
}

int ecn_decap(uint8_t inner, uint8_t outer, bool *unusual)
{
	inner &= 3;
	outer &= 3;
	*unusual = false;
	if (inner == ECN_NOT_ECT) {
		*unusual = outer != ECN_NOT_ECT;
		return outer == ECN_CE ? -1 : (int)ECN_NOT_ECT;
	}
	if (inner == ECN_CE) {
		*unusual = outer == ECN_ECT1;
		return ECN_CE;
	}
	/* inner ECT(0) or ECT(1) */
	if (outer == ECN_CE)
		return ECN_CE;
	if (outer == ECN_ECT1)
		return ECN_ECT1;
	return inner;
}

/* Checks shared by both directions: version, IHL, total length, checksum. */
struct hdr_errors {
	enum pkt_verdict version, ihl, length, csum;
};

static enum pkt_verdict check_ipv4(const uint8_t *h, size_t len, const struct hdr_errors *e,
				   size_t *hlen, size_t *tot)
{
	if ((h[0] >> 4) != 4)
		return e->version;
	*hlen = (size_t)(h[0] & 0x0f) * 4;
	if (*hlen < IPV4_HLEN || *hlen > len)
		return e->ihl;
	*tot = get16(h + 2);
	if (*tot < *hlen || *tot > len)
		return e->length;
	if (e->csum != PKT_OK && inet_csum(h, *hlen) != 0)
		return e->csum;
	return PKT_OK;
}

static const struct hdr_errors tx_errors = {
	PKT_TX_NOT_IPV4, PKT_TX_IHL, PKT_TX_LENGTH, PKT_OK,
};

enum pkt_verdict ipip_encap(const struct ipip_params *p, uint8_t outer[IPV4_HLEN],
			    const uint8_t *inner, size_t len)
{
	size_t hlen, tot;
	enum pkt_verdict v;
	uint8_t base;

	if (len >= 1 && (inner[0] >> 4) != 4)
		return PKT_TX_NOT_IPV4;
	if (len < IPV4_HLEN)
		return PKT_TX_SHORT;
	v = check_ipv4(inner, len, &tx_errors, &hlen, &tot);
	if (v != PKT_OK)
		return v;
	if (tot != len)
		return PKT_TX_LENGTH;
	if (inner[8] == 0)
		return PKT_TX_TTL0;
	if (len > 0xffff - IPV4_HLEN)
		return PKT_TX_TOO_BIG;

	base = p->tos_inherit ? inner[1] : p->tos;
	outer[0] = 0x45;
	outer[1] = (uint8_t)((base & ~3u) | ecn_encap(p->ecn, inner[1] & 3));
	put16(outer + 2, (uint16_t)(len + IPV4_HLEN));
	put16(outer + 4, 0);
	put16(outer + 6, (p->pmtudisc || (get16(inner + 6) & IP_DF)) ? IP_DF : 0);
	outer[8] = p->ttl ? p->ttl : inner[8];
	outer[9] = IPPROTO_IPIP_;
	put16(outer + 10, 0);
	memcpy(outer + 12, &p->local, 4);
	memcpy(outer + 16, &p->remote, 4);
	put16(outer + 10, inet_csum(outer, IPV4_HLEN));
	return PKT_OK;
}

static const struct hdr_errors rx_outer_errors = {
	PKT_RX_OUTER_VERSION, PKT_RX_OUTER_IHL, PKT_RX_OUTER_LENGTH, PKT_RX_OUTER_CSUM,
};

static const struct hdr_errors rx_inner_errors = {
	PKT_RX_INNER_VERSION, PKT_RX_INNER_IHL, PKT_RX_INNER_LENGTH, PKT_RX_INNER_CSUM,
};

static enum pkt_verdict check_outer(const struct ipip_params *p, const uint8_t *pkt, size_t len,
				    size_t *hlen, size_t *tot)
{
	enum pkt_verdict v;

	if (len < IPV4_HLEN)
		return PKT_RX_OUTER_SHORT;
	v = check_ipv4(pkt, len, &rx_outer_errors, hlen, tot);
	if (v != PKT_OK)
		return v;
	if (pkt[9] != IPPROTO_IPIP_)
		return PKT_RX_OUTER_PROTO;
	if (get16(pkt + 6) & (IP_MF | IP_OFFMASK))
		return PKT_RX_OUTER_FRAGMENT;
	if (memcmp(pkt + 12, &p->remote, 4) != 0)
		return PKT_RX_OUTER_SOURCE;
	if (memcmp(pkt + 16, &p->local, 4) != 0)
		return PKT_RX_OUTER_DEST;
	return PKT_OK;
}

enum pkt_verdict ipip_decap(const struct ipip_params *p, uint8_t *pkt, size_t len,
			    struct ipip_rx *rx)
{
	size_t ohlen, otot, ihlen, itot, ilen;
	enum pkt_verdict v;
	uint8_t *in, tos;
	bool unusual;
	int ecn;

	memset(rx, 0, sizeof(*rx));
	v = check_outer(p, pkt, len, &ohlen, &otot);
	if (v != PKT_OK)
		return v;
	in = pkt + ohlen;
	ilen = otot - ohlen;
	if (ilen >= 1 && (in[0] >> 4) != 4)
		return PKT_RX_INNER_VERSION;
	if (ilen < IPV4_HLEN)
		return PKT_RX_INNER_SHORT;
	v = check_ipv4(in, ilen, &rx_inner_errors, &ihlen, &itot);
	if (v != PKT_OK)
		return v;
	if (in[8] == 0)
		return PKT_RX_INNER_TTL0;

	rx->outer_ecn = pkt[1] & 3;
	rx->inner_ecn = in[1] & 3;
	ecn = ecn_decap(rx->inner_ecn, rx->outer_ecn, &unusual);
	rx->ecn_unusual = unusual;
	if (ecn < 0)
		return PKT_RX_ECN_CE_NOT_ECT;
	tos = (uint8_t)(((p->dscp_uniform ? pkt[1] : in[1]) & ~3u) | (unsigned)ecn);
	if (tos != in[1]) {
		in[1] = tos;
		put16(in + 10, 0);
		put16(in + 10, inet_csum(in, ihlen));
	}
	rx->inner_off = ohlen;
	rx->inner_len = itot;
	return PKT_OK;
}

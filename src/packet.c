/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "packet.h"

#include <string.h>

#include "bytes.h"
#include "csum.h"
#include "flowhash.h"

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

bool prefix_match(const struct prefix *p, uint32_t addr)
{
	return ((addr ^ p->addr) & prefix_mask(p->len)) == 0;
}

/* The IPv4 address at b, as addresses are kept: network order. */
static uint32_t addr_at(const uint8_t *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

bool ipip_remote_ok(const struct ipip_params *p, uint32_t addr)
{
	if (!p->remote_any)
		return addr == p->remote;
	for (unsigned i = 0; i < p->n_allowed_remotes; i++)
		if (prefix_match(&p->allowed_remotes[i], addr))
			return true;
	return false;
}

void own_addrs_publish(struct own_addrs *s, const uint32_t *addr, unsigned n)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

	if (n > OWN_ADDRS_MAX)
		n = OWN_ADDRS_MAX;
	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (unsigned i = 0; i < n; i++)
		atomic_store_explicit(&s->addr[i], addr[i], memory_order_relaxed);
	atomic_store_explicit(&s->n, n, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

bool own_addrs_contains(const struct own_addrs *s, uint32_t addr)
{
	struct own_addrs *w = (struct own_addrs *)s;	/* atomic loads want non-const */

	for (;;) {
		uint32_t seq = atomic_load_explicit(&w->seq, memory_order_acquire), n;
		bool found = false;

		if (seq & 1)
			continue;	/* the writer is at it: a few stores */
		n = atomic_load_explicit(&w->n, memory_order_relaxed);
		if (n > OWN_ADDRS_MAX)
			n = OWN_ADDRS_MAX;
		for (uint32_t i = 0; i < n && !found; i++)
			found = atomic_load_explicit(&w->addr[i], memory_order_relaxed) == addr;
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&w->seq, memory_order_relaxed) == seq)
			return found;
	}
}

uint16_t inet_csum(const void *buf, size_t len)
{
	return csum_value(csum_add(0, buf, len));
}

void ipv4_set_id(uint8_t *h, uint16_t id)
{
	uint32_t sum = (uint16_t)~get16(h + 10) + (uint32_t)(uint16_t)~get16(h + 4) + id;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	put16(h + 4, id);
	put16(h + 10, (uint16_t)~sum);
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

uint16_t ipip_flow_port(const struct ipip_params *p, const uint8_t *inner, size_t len)
{
	uint32_t h = FLOWHASH_SEED ^ inner[9], lo = p->sport_min, span;
	size_t hlen = (size_t)(inner[0] & 0x0f) * 4;

	h = flowhash_mix(h, inner + 12);
	h = flowhash_mix(h, inner + 16);
	/* ports: TCP, UDP, SCTP, UDP-Lite, DCCP, of a first fragment or none */
	if ((inner[9] == 6 || inner[9] == 17 || inner[9] == 33 || inner[9] == 132 ||
	     inner[9] == 136) && !(get16(inner + 6) & IP_OFFMASK) && hlen >= IPV4_HLEN &&
	    len >= hlen + 4)
		h = flowhash_mix(h, inner + hlen);
	if (p->sport_max <= lo)
		return p->sport_min ? p->sport_min : 32768;
	span = p->sport_max - lo;
	h ^= h << 16;	/* as udp_flow_src_port(): the high bits choose */
	return (uint16_t)(lo + (uint32_t)(((uint64_t)h * span) >> 32));
}

/* The UDP (and GUE) header after the outer IPv4 header of outer. */
static void udp_header(const struct ipip_params *p, uint8_t *outer, const uint8_t *inner,
		       size_t len)
{
	uint8_t *u = outer + IPV4_HLEN;
	size_t ulen = ipip_outer_len(p) - IPV4_HLEN + len;
	uint64_t sum;
	uint16_t c;

	put16(u, p->sport ? p->sport : ipip_flow_port(p, inner, len));
	put16(u + 2, p->remote_port);
	put16(u + 4, (uint16_t)ulen);
	put16(u + 6, 0);
	if (p->encap == ENCAP_GUE) {
		u[8] = 0;		/* version 0, C = 0, hlen 0 */
		u[9] = IPPROTO_IPIP_;	/* proto/ctype */
		put16(u + 10, 0);	/* flags */
	}
	if (!p->udp_csum)
		return;
	/* RFC 768: pseudo-header, UDP header, data; 0 is sent as 0xffff */
	sum = csum_pseudo4(outer, IPPROTO_UDP_, ulen);
	sum = csum_add(sum, u, ulen - len);	/* (8 or 12 bytes: the data's words stay aligned) */
	sum = csum_add(sum, inner, len);
	c = csum_value(sum);
	put16(u + 6, c ? c : 0xffff);
}

enum pkt_verdict ipip_encap(const struct ipip_params *p, uint8_t *outer,
			    const uint8_t *inner, size_t len)
{
	return ipip_encap_to(p, p->remote, outer, inner, len);
}

enum pkt_verdict ipip_encap_to(const struct ipip_params *p, uint32_t remote, uint8_t *outer,
			       const uint8_t *inner, size_t len)
{
	size_t hlen, tot, olen = ipip_outer_len(p);
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
	/* RFC 2003 3.2: never tunnel what comes from the tunnel's exit point */
	if (!memcmp(inner + 12, &remote, 4))
		return PKT_TX_LOOP;
	/* our own outer packet routed back into the tunnel (Linux: "DeadLoop") */
	if (inner[9] == (p->encap == ENCAP_IPIP ? IPPROTO_IPIP_ : IPPROTO_UDP_) &&
	    !memcmp(inner + 12, &p->local, 4) && !memcmp(inner + 16, &remote, 4) &&
	    (p->encap == ENCAP_IPIP ||
	     (len >= hlen + UDP_HLEN && get16(inner + hlen + 2) == p->remote_port)))
		return PKT_TX_DEAD_LOOP;
	if (len > 0xffff - olen)
		return PKT_TX_TOO_BIG;

	base = p->tos_inherit ? inner[1] : p->tos;
	outer[0] = 0x45;
	outer[1] = (uint8_t)((base & ~3u) | ecn_encap(p->ecn, inner[1] & 3));
	put16(outer + 2, (uint16_t)(len + olen));
	put16(outer + 4, 0);
	put16(outer + 6, (p->pmtudisc || (get16(inner + 6) & IP_DF)) ? IP_DF : 0);
	outer[8] = p->ttl ? p->ttl : inner[8];
	outer[9] = p->encap == ENCAP_IPIP ? IPPROTO_IPIP_ : IPPROTO_UDP_;
	put16(outer + 10, 0);
	memcpy(outer + 12, &p->local, 4);
	memcpy(outer + 16, &remote, 4);
	put16(outer + 10, inet_csum(outer, IPV4_HLEN));
	if (p->encap != ENCAP_IPIP)
		udp_header(p, outer, inner, len);
	return PKT_OK;
}

void udp_gso_outer(uint8_t *outer, size_t pay)
{
	uint8_t *u = outer + IPV4_HLEN;

	put16(outer + 2, (uint16_t)(IPV4_HLEN + UDP_HLEN + pay));
	put16(outer + 10, 0);
	put16(outer + 10, inet_csum(outer, IPV4_HLEN));
	put16(u + 4, (uint16_t)(UDP_HLEN + pay));
	/* the pseudo-header's sum, folded, not complemented: the seed of a partial checksum */
	put16(u + 6, ntohs(csum_fold(csum_pseudo4(outer, IPPROTO_UDP_, UDP_HLEN + pay))));
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
	if (!ipip_remote_ok(p, addr_at(pkt + 12)))
		return PKT_RX_OUTER_SOURCE;
	if (memcmp(pkt + 16, &p->local, 4) != 0)
		return PKT_RX_OUTER_DEST;
	return PKT_OK;
}

/* Loose or strict source route option (RFC 791) in a header of hlen bytes. */
static bool has_source_route(const uint8_t *h, size_t hlen)
{
	for (size_t i = IPV4_HLEN; i < hlen;) {
		uint8_t type = h[i];

		if (type == 0)
			break;
		if (type == 1) {
			i++;
			continue;
		}
		if (type == 0x83 || type == 0x89)
			return true;
		if (i + 1 >= hlen || h[i + 1] < 2)
			return true;	/* malformed options: treat as unsafe */
		i += h[i + 1];
	}
	return false;
}

enum pkt_verdict ipip_source_check(const struct ipip_params *p, uint32_t src)
{
	bool ok;

	for (size_t i = 0; i < 2; i++)
		if (p->own[i] && src == p->own[i])
			return PKT_RX_INNER_SOURCE_OURS;
	if (p->host && own_addrs_contains(p->host, src))
		return PKT_RX_INNER_SOURCE_OURS;
	ok = p->n_allowed == 0;
	for (unsigned i = 0; !ok && i < p->n_allowed; i++)
		ok = prefix_match(&p->allowed[i], src);
	return ok ? PKT_OK : PKT_RX_INNER_SOURCE_NOT_ALLOWED;
}

/* Anti-spoofing on the inner packet (RFC 2003 6, RFC 6169). */
static enum pkt_verdict check_inner_source(const struct ipip_params *p, const uint8_t *in,
					   size_t ihlen)
{
	uint32_t src;
	enum pkt_verdict v;

	memcpy(&src, in + 12, 4);
	v = ipip_source_check(p, src);
	if (v != PKT_OK)
		return v;
	if (!p->allow_source_route && ihlen > IPV4_HLEN && has_source_route(in, ihlen))
		return PKT_RX_INNER_SOURCE_ROUTE;
	return PKT_OK;
}

/*
 * The inner packet in[0..ilen) of an outer packet with TOS byte otos:
 * checked and decapsulated in place; rx->inner_off is from in.
 */
static enum pkt_verdict decap_inner(const struct ipip_params *p, uint8_t *in, size_t ilen,
				    uint8_t otos, struct ipip_rx *rx)
{
	size_t ihlen, itot;
	enum pkt_verdict v;
	uint8_t tos;
	bool unusual;
	int ecn;

	if (ilen >= 1 && (in[0] >> 4) != 4)
		return PKT_RX_INNER_VERSION;
	if (ilen < IPV4_HLEN)
		return PKT_RX_INNER_SHORT;
	v = check_ipv4(in, ilen, &rx_inner_errors, &ihlen, &itot);
	if (v != PKT_OK)
		return v;
	if (in[8] == 0)
		return PKT_RX_INNER_TTL0;
	v = check_inner_source(p, in, ihlen);
	if (v != PKT_OK)
		return v;

	rx->outer_ecn = otos & 3;
	rx->inner_ecn = in[1] & 3;
	ecn = ecn_decap(rx->inner_ecn, rx->outer_ecn, &unusual);
	rx->ecn_unusual = unusual;
	if (ecn < 0)
		return PKT_RX_ECN_CE_NOT_ECT;
	tos = (uint8_t)(((p->dscp_uniform ? otos : in[1]) & ~3u) | (unsigned)ecn);
	if (tos != in[1]) {
		in[1] = tos;
		put16(in + 10, 0);
		put16(in + 10, inet_csum(in, ihlen));
	}
	rx->inner_off = 0;
	rx->inner_len = itot;
	return PKT_OK;
}

enum pkt_verdict ipip_decap(const struct ipip_params *p, uint8_t *pkt, size_t len,
			    struct ipip_rx *rx)
{
	size_t ohlen, otot;
	enum pkt_verdict v;

	memset(rx, 0, sizeof(*rx));
	v = check_outer(p, pkt, len, &ohlen, &otot);
	if (v != PKT_OK)
		return v;
	v = decap_inner(p, pkt + ohlen, otot - ohlen, pkt[1], rx);
	rx->inner_off += ohlen;
	return v;
}

enum pkt_verdict udp_decap(const struct ipip_params *p, uint8_t *pay, size_t len, uint32_t src,
			   uint8_t tos, struct ipip_rx *rx)
{
	size_t off = 0;
	enum pkt_verdict v;

	memset(rx, 0, sizeof(*rx));
	if (!p->learn_port && !ipip_remote_ok(p, src))
		return PKT_RX_OUTER_SOURCE;
	if (p->encap == ENCAP_GUE) {
		/*
		 * Variant 0 with no optional fields and protocol 4, or variant 1
		 * (the inner IPv4 header at once), as the kernel's gue_udp_recv()
		 * takes them; control messages and options are not ours.
		 */
		if (len >= 1 && (pay[0] >> 6) == 1) {
			if ((pay[0] >> 4) != 4)
				return PKT_RX_GUE_HEADER;
		} else if (len < GUE_HLEN || pay[0] != 0 || pay[1] != IPPROTO_IPIP_ ||
			   get16(pay + 2) != 0) {
			return PKT_RX_GUE_HEADER;
		} else {
			off = GUE_HLEN;
		}
	}
	v = decap_inner(p, pay + off, len - off, tos, rx);
	rx->inner_off += off;
	return v;
}


static bool unicast_source(const uint8_t *a)
{
	return a[0] != 0 && a[0] < 224 && !(a[0] == 127);
}

static bool unicast_dest(const uint8_t *a)
{
	return unicast_source(a) && !(a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255);
}

static bool is_icmp_error_type(uint8_t t)
{
	return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

/*
 * Why no ICMP error may be sent about inner[0..len) (RFC 1812 4.3.2.7), or
 * ICMP_RELAY_OK with its header length in *hlen.
 */
static enum icmp_relay_why icmp_error_allowed(const uint8_t *inner, size_t len, size_t *hlen)
{
	if (len < IPV4_HLEN || (inner[0] >> 4) != 4)
		return ICMP_RELAY_BAD_INNER;
	*hlen = (size_t)(inner[0] & 0x0f) * 4;
	if (*hlen < IPV4_HLEN || *hlen > len)
		return ICMP_RELAY_BAD_INNER;
	if (get16(inner + 6) & IP_OFFMASK)
		return ICMP_RELAY_FRAGMENT;
	if (!unicast_source(inner + 12))
		return ICMP_RELAY_NOT_UNICAST;
	if (inner[9] == 1 && len > *hlen && is_icmp_error_type(inner[*hlen]))
		return ICMP_RELAY_ABOUT_ERROR;	/* never an error about an ICMP error */
	return ICMP_RELAY_OK;
}

/* ICMP type/code/word about inner[0..len) (header length hlen), to its sender. */
static size_t icmp_error_build(uint8_t *out, uint8_t type, uint8_t code, uint16_t word,
			       const uint8_t *inner, size_t len, size_t hlen)
{
	size_t quote = hlen + 8 < len ? hlen + 8 : len, tot = IPV4_HLEN + 8 + quote;

	out[0] = 0x45;
	out[1] = 0xc0;			/* internetwork control, as the kernel sends ICMP */
	put16(out + 2, (uint16_t)tot);
	put16(out + 4, 0);
	put16(out + 6, 0);
	out[8] = 64;
	out[9] = 1;
	put16(out + 10, 0);
	memcpy(out + 12, inner + 16, 4);
	memcpy(out + 16, inner + 12, 4);
	put16(out + 10, inet_csum(out, IPV4_HLEN));
	out[20] = type;
	out[21] = code;
	put16(out + 22, 0);
	put16(out + 24, 0);
	put16(out + 26, word);
	memcpy(out + 28, inner, quote);
	put16(out + 22, inet_csum(out + 20, 8 + quote));
	return tot;
}

size_t icmp_error_about(uint8_t *out, uint8_t type, uint8_t code, uint16_t word,
			const uint8_t *inner, size_t len)
{
	size_t hlen;

	if (icmp_error_allowed(inner, len, &hlen) != ICMP_RELAY_OK)
		return 0;
	return icmp_error_build(out, type, code, word, inner, len, hlen);
}

size_t icmp_frag_needed(uint8_t *out, const uint8_t *inner, size_t len, unsigned mtu)
{
	return icmp_error_about(out, 3, 4, (uint16_t)(mtu > 0xffff ? 0xffff : mtu), inner, len);
}

/* RFC 2003 section 4: the type/code to relay for type/code, or -1. */
static int relay_code(unsigned type, unsigned code)
{
	if (type == 11)
		return 1;		/* time exceeded: host unreachable */
	if (type != 3)
		return -1;		/* quench, redirect, parameter problem, unknown */
	switch (code) {
	case 0: case 6: case 9: case 11:
		return 0;		/* network unreachable/unknown/prohibited/for TOS */
	case 3:			/* port unreachable: protocol 4 has no ports */
	case 5:			/* source route failed: we send no source route */
		return -1;
	case 4:
		return 4;
	default:
		return code <= 15 ? 1 : -1;	/* host and protocol codes: host unreachable */
	}
}

bool icmp_answered(unsigned type, unsigned code)
{
	return relay_code(type, code) >= 0;
}

/*
 * Where the inner packet starts in quoted[0..len) if it quotes a whole IPv4
 * header of p's encapsulation (protocol 4; or UDP to p->remote_port, its UDP
 * header quoted whole), else 0.  The inner packet itself may be cut off.
 */
static size_t quoted_outer(const struct ipip_params *p, const uint8_t *quoted, size_t len)
{
	size_t ohlen;

	if (!quoted || len < IPV4_HLEN || (quoted[0] >> 4) != 4 ||
	    (ohlen = (size_t)(quoted[0] & 0x0f) * 4) < IPV4_HLEN || ohlen > len)
		return 0;
	if (p->encap == ENCAP_IPIP)
		return quoted[9] == IPPROTO_IPIP_ ? ohlen : 0;
	if (quoted[9] != IPPROTO_UDP_ || len < ohlen + UDP_HLEN ||
	    get16(quoted + ohlen + 2) != p->remote_port)
		return 0;
	return ohlen + ipip_outer_len(p) - IPV4_HLEN;
}

/* ... and one of this tunnel's (Local to Remote, from our source port). */
static size_t quotes_tunnel(const struct ipip_params *p, const uint8_t *quoted, size_t len)
{
	size_t off = quoted_outer(p, quoted, len), ohlen;
	uint16_t sport;

	if (!off || memcmp(quoted + 12, &p->local, 4) != 0 || !ipip_remote_ok(p, addr_at(quoted + 16)))
		return 0;
	if (p->encap != ENCAP_IPIP) {
		ohlen = (size_t)(quoted[0] & 0x0f) * 4;
		sport = get16(quoted + ohlen);
		if (p->sport ? sport != p->sport :
		    sport < p->sport_min || (p->sport_max > p->sport_min && sport >= p->sport_max))
			return 0;
	}
	return off;
}

enum pkt_verdict icmp_quote_ours(const struct ipip_params *p, const uint8_t *quoted, size_t len,
				 uint16_t *id)
{
	if (!quotes_tunnel(p, quoted, len))
		return PKT_ICMP_NOT_OURS;
	*id = get16(quoted + 4);
	return PKT_OK;
}

bool id_recent(uint32_t newest, uint32_t oldest, uint16_t id)
{
	uint32_t taken = newest - oldest;

	if (taken >= 0x10000u)
		return true;
	/* how far back from the last ID taken (newest - 1), modulo 2^16 */
	return (uint16_t)(newest - 1u - id) < taken;
}

int icmp_sent_ttl(const struct ipip_params *p, unsigned type, const uint8_t *quoted, size_t len)
{
	size_t off = type == 11 ? quotes_tunnel(p, quoted, len) : 0;

	if (!off || p->ttl)
		return -1;
	if (len < off + 9 || (quoted[off] >> 4) != 4)
		return -1;
	return quoted[off + 8];
}

bool icmp_exit_unreachable(const struct ipip_params *p, unsigned type, unsigned code,
			   const uint8_t *quoted, size_t len)
{
	int rc = type == 3 ? relay_code(type, code) : -1;

	return (rc == 0 || rc == 1) && quotes_tunnel(p, quoted, len);
}

size_t icmp_relay_encap(const struct ipip_params *p, uint8_t *out, unsigned type, unsigned code,
			uint32_t info, const uint8_t *quoted, size_t len, enum icmp_relay_why *why)
{
	enum icmp_relay_why w = ICMP_RELAY_OK;
	size_t off = 0, hlen = 0, n = 0;
	const uint8_t *inner;
	uint16_t word = 0;
	int rc = relay_code(type, code);

	if (rc < 0) {
		w = ICMP_RELAY_NOT_RELAYED;
		goto out;
	}
	off = quoted_outer(p, quoted, len);
	if (!off) {
		w = ICMP_RELAY_BAD_OUTER;
		goto out;
	}
	if (off > len) {	/* the inner packet not quoted at all */
		w = ICMP_RELAY_BAD_INNER;
		goto out;
	}
	inner = quoted + off;
	len -= off;
	/* a router quotes what it got: trim to the inner packet's own length */
	if (len >= IPV4_HLEN && get16(inner + 2) >= IPV4_HLEN && get16(inner + 2) < len)
		len = get16(inner + 2);
	w = icmp_error_allowed(inner, len, &hlen);
	if (w != ICMP_RELAY_OK)
		goto out;
	if (get16(inner + 2) < hlen) {	/* no packet we sent: forged or corrupt */
		w = ICMP_RELAY_BAD_INNER;
		goto out;
	}
	if (!unicast_dest(inner + 16)) {
		w = ICMP_RELAY_NOT_UNICAST;
		goto out;
	}
	if (rc == 4) {
		uint32_t mtu = info < ICMP_RELAY_PMTU_FLOOR ? ICMP_RELAY_PMTU_FLOOR : info;

		if (mtu > 0xffff)
			mtu = 0xffff;
		word = (uint16_t)(mtu - ipip_outer_len(p));
	}
	n = icmp_error_build(out, 3, (uint8_t)rc, word, inner, len, hlen);
out:
	if (why)
		*why = w;
	return n;
}

size_t icmp_relay(uint8_t *out, unsigned type, unsigned code, uint32_t info,
		  const uint8_t *quoted, size_t len, enum icmp_relay_why *why)
{
	static const struct ipip_params ipip = { .encap = ENCAP_IPIP };

	return icmp_relay_encap(&ipip, out, type, code, info, quoted, len, why);
}

size_t icmp_echo_request(uint8_t *out, uint32_t src, uint32_t dst, uint16_t id, uint16_t seq,
			 const void *payload, size_t plen)
{
	size_t tot;

	if (plen > ICMP_ECHO_MAX - IPV4_HLEN - 8)
		plen = ICMP_ECHO_MAX - IPV4_HLEN - 8;
	tot = IPV4_HLEN + 8 + plen;
	memset(out, 0, IPV4_HLEN + 8);
	out[0] = 0x45;
	put16(out + 2, (uint16_t)tot);
	put16(out + 6, IP_DF);
	out[8] = 64;
	out[9] = 1;
	memcpy(out + 12, &src, 4);
	memcpy(out + 16, &dst, 4);
	put16(out + 10, inet_csum(out, IPV4_HLEN));
	out[20] = 8;	/* echo request */
	put16(out + 24, id);
	put16(out + 26, seq);
	memcpy(out + 28, payload, plen);
	put16(out + 22, inet_csum(out + 20, 8 + plen));
	return tot;
}

/* The options of hdr that are copied into every fragment (RFC 791 copied flag). */
static size_t copied_options(const uint8_t *hdr, size_t hlen, uint8_t *out)
{
	size_t i = IPV4_HLEN, n = 0;

	while (i < hlen) {
		uint8_t type = hdr[i];
		size_t olen;

		if (type == 0)
			break;
		if (type == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || hdr[i + 1] < 2 || i + hdr[i + 1] > hlen)
			break;
		olen = hdr[i + 1];
		if (type & 0x80) {
			memcpy(out + n, hdr + i, olen);
			n += olen;
		}
		i += olen;
	}
	while (n % 4)
		out[n++] = 0;	/* end of options, padding */
	return n;
}

size_t ipv4_fragment(const uint8_t *pkt, size_t len, unsigned mtu, size_t *off, uint8_t *out)
{
	size_t hlen = (size_t)(pkt[0] & 0x0f) * 4, ohlen, data, chunk, start;
	uint16_t frag = get16(pkt + 6), base = frag & IP_OFFMASK;
	uint8_t opts[40];
	bool last;

	if (len < IPV4_HLEN || hlen < IPV4_HLEN || hlen > len)
		return 0;
	data = len - hlen;
	if (*off >= data)
		return 0;
	if (*off == 0) {
		ohlen = hlen;
		memcpy(out, pkt, hlen);
	} else {
		ohlen = IPV4_HLEN + copied_options(pkt, hlen, opts);
		memcpy(out, pkt, IPV4_HLEN);
		memcpy(out + IPV4_HLEN, opts, ohlen - IPV4_HLEN);
		out[0] = (uint8_t)(0x40 | ohlen / 4);
	}
	if (mtu < ohlen + 8)
		return 0;
	chunk = (mtu - ohlen) & ~(size_t)7;
	start = *off;
	last = data - start <= chunk;
	if (last)
		chunk = data - start;
	memcpy(out + ohlen, pkt + hlen + start, chunk);
	put16(out + 2, (uint16_t)(ohlen + chunk));
	/* MF on all but the last piece, and on the last if the original had it */
	put16(out + 6, (uint16_t)((frag & ~(IP_OFFMASK | IP_MF)) |
				  ((!last || (frag & IP_MF)) ? IP_MF : 0) |
				  (base + start / 8)));
	put16(out + 10, 0);
	put16(out + 10, inet_csum(out, ohlen));
	*off = start + chunk;
	return ohlen + chunk;
}

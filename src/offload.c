/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "offload.h"

#include <arpa/inet.h>
#include <string.h>

#include "bytes.h"
#include "csum.h"

#define IP_MF 0x2000u
#define IP_OFFMASK 0x1fffu
#define PROTO_TCP 6u
#define PROTO_UDP 17u

#define TCP_FIN 0x01u
#define TCP_PSH 0x08u
#define TCP_ACK 0x10u
#define TCP_CWR 0x80u

/* ---- checksums ----------------------------------------------------------- */

static void store_csum(uint8_t *field, uint16_t machine_order)
{
	memcpy(field, &machine_order, 2);
}

static void ip_hdr_csum(uint8_t *ip, size_t l3len)
{
	ip[10] = ip[11] = 0;
	store_csum(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, l3len)));
}

enum off_error off_csum_complete(uint8_t *pkt, size_t len, const struct virtio_net_hdr *h)
{
	size_t start = h->csum_start, at = (size_t)h->csum_start + h->csum_offset;
	uint16_t c;

	if (start >= len || at + 2 > len)
		return OFF_BAD_META;
	/* The field holds the pseudo-header sum: it is the seed. */
	c = (uint16_t)~csum_fold(csum_add(0, pkt + start, len - start));
	store_csum(pkt + at, c ? c : 0xffff);
	return OFF_OK;
}

/* ---- GSO split ----------------------------------------------------------- */

enum off_error gso_begin(struct gso_iter *g, const struct virtio_net_hdr *h, const uint8_t *pkt,
			 size_t len)
{
	unsigned type = h->gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN;
	size_t l3len, l4hlen;
	uint8_t proto;

	memset(g, 0, sizeof(*g));
	if (type == VIRTIO_NET_HDR_GSO_TCPV4)
		proto = PROTO_TCP;
	else if (type == VIRTIO_NET_HDR_GSO_UDP_L4)
		proto = PROTO_UDP;
	else if (type == VIRTIO_NET_HDR_GSO_TCPV6)
		return OFF_NOT_IPV4;
	else
		return OFF_BAD_META;
	if (len >= 1 && (pkt[0] >> 4) != 4)
		return OFF_NOT_IPV4;
	if (len < 20)
		return OFF_SHORT;
	l3len = (size_t)(pkt[0] & 0x0f) * 4;
	if (l3len < 20 || l3len > len)
		return OFF_BAD_IHL;
	if (get16(pkt + 2) != len)
		return OFF_BAD_LENGTH;
	if (pkt[9] != proto || (get16(pkt + 6) & (IP_MF | IP_OFFMASK)))
		return OFF_BAD_META;
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (h->csum_start != l3len || h->csum_offset != (proto == PROTO_TCP ? 16 : 6)))
		return OFF_BAD_META;
	if (proto == PROTO_TCP) {
		if (l3len + 20 > len)
			return OFF_SHORT;
		l4hlen = (size_t)(pkt[l3len + 12] >> 4) * 4;
		if (l4hlen < 20)
			return OFF_BAD_META;
	} else {
		l4hlen = 8;
	}
	if (l3len + l4hlen > len)
		return OFF_SHORT;
	if (h->gso_size == 0)
		return OFF_BAD_META;
	g->pkt = pkt;
	g->len = len;
	g->l3len = l3len;
	g->hlen = l3len + l4hlen;	/* hdr_len from the kernel is not trusted */
	g->mss = h->gso_size;
	g->off = g->hlen;
	g->proto = proto;
	g->id0 = get16(pkt + 4);
	if (proto == PROTO_TCP)
		g->seq0 = get32(pkt + l3len + 4);
	return OFF_OK;
}

size_t gso_seg_max(const struct gso_iter *g)
{
	size_t payload = g->len - g->hlen;

	return g->hlen + (payload < g->mss ? payload : g->mss);
}

size_t gso_next(struct gso_iter *g, uint8_t *out, size_t cap)
{
	size_t plen, seglen, l4len;
	uint8_t *l4 = out + g->l3len;
	uint16_t c;
	bool last;

	if (g->pkt == NULL || (g->off >= g->len && g->idx > 0))
		return 0;
	plen = g->len - g->off;
	if (plen > g->mss)
		plen = g->mss;
	seglen = g->hlen + plen;
	if (seglen > cap)
		return 0;
	last = g->off + plen >= g->len;
	memcpy(out, g->pkt, g->hlen);
	memcpy(out + g->hlen, g->pkt + g->off, plen);

	put16(out + 2, (uint16_t)seglen);
	put16(out + 4, (uint16_t)(g->id0 + g->idx));
	ip_hdr_csum(out, g->l3len);

	l4len = seglen - g->l3len;
	if (g->proto == PROTO_TCP) {
		put32(l4 + 4, g->seq0 + (uint32_t)(g->off - g->hlen));
		if (!last)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (g->idx > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
		l4[16] = l4[17] = 0;
		c = (uint16_t)~csum_fold(csum_add(csum_pseudo4(out, PROTO_TCP, l4len), l4, l4len));
		store_csum(l4 + 16, c);
	} else {
		put16(l4 + 4, (uint16_t)l4len);
		l4[6] = l4[7] = 0;
		c = (uint16_t)~csum_fold(csum_add(csum_pseudo4(out, PROTO_UDP, l4len), l4, l4len));
		store_csum(l4 + 6, c ? c : 0xffff);
	}
	g->off += plen;
	g->idx++;
	if (plen == 0)
		g->off = g->len;	/* a header-only super-packet: one segment */
	return seglen;
}

/* ---- GRO coalesce -------------------------------------------------------- */

void gro_reset(struct gro *g, unsigned flags)
{
	g->flags = flags;
	g->npkt = 0;
	g->nitem = 0;
}

struct cand {
	uint8_t proto;		/* 0: not TCP/UDP over plain IPv4, written alone */
	bool mergeable;
	bool partial;		/* longer than the MTU, partial checksum: GSO write */
	uint16_t hlen;
	uint32_t plen;
};

/*
 * A sender on this host (the kernel's ipip, an eBPF fast path, in another
 * network namespace over veth) hands over TCP/UDP packets whose checksum is
 * still partial: the pseudo-header sum, not complemented, as CHECKSUM_PARTIAL
 * leaves it, and TCP/UDP super-packets longer than any MTU.  Complete the
 * checksum of such a packet, or (a super-packet, where the device takes GSO)
 * keep it partial for a GSO write.  Returns 1 if it was partial.
 */
static int fix_partial(struct gro *g, struct cand *c, uint8_t *p, size_t len)
{
	uint8_t *field = p + 20 + (c->proto == PROTO_TCP ? 16 : 6);
	uint16_t pseudo = csum_fold(csum_pseudo4(p, c->proto, len - 20)), want;

	if (memcmp(field, &pseudo, 2) != 0)
		return 0;
	if (len > g->mtu && (g->flags & (c->proto == PROTO_TCP ? GRO_TCP : GRO_UDP))) {
		c->partial = true;
		return 1;
	}
	want = (uint16_t)~csum_fold(csum_add(0, p + 20, len - 20));	/* pseudo sum is in field */
	store_csum(field, want ? want : (c->proto == PROTO_UDP ? 0xffff : 0));
	return 1;
}

static bool l4_valid(const uint8_t *p, size_t len, uint8_t proto)
{
	return csum_fold(csum_add(csum_pseudo4(p, proto, len - 20), p + 20, len - 20)) == 0xffff;
}

/*
 * Is pkt a packet that may be merged, and what are its header lengths?  Its
 * L4 checksum is verified (IP-in-IP carries no integrity check: only verified
 * segments are merged), and a partial one from a same-host sender completed.
 */
static struct cand classify(struct gro *g, uint8_t *p, size_t len)
{
	struct cand c = { 0, false, false, 0, 0 };
	size_t thlen;
	bool may;

	if (len < 28 || p[0] != 0x45 || get16(p + 2) != len ||
	    (get16(p + 6) & (IP_MF | IP_OFFMASK)))
		return c;
	if (p[9] == PROTO_TCP && len >= 40) {
		thlen = (size_t)(p[32] >> 4) * 4;
		if (thlen < 20 || 20 + thlen > len)
			return c;
		c.proto = PROTO_TCP;
		c.hlen = (uint16_t)(20 + thlen);
		c.plen = (uint32_t)(len - c.hlen);
		may = (g->flags & GRO_TCP) && c.plen > 0 &&
		      !(p[33] & (uint8_t)~(TCP_ACK | TCP_PSH)) && (p[33] & TCP_ACK);
	} else if (p[9] == PROTO_UDP) {
		if (get16(p + 24) != len - 20)
			return c;
		c.proto = PROTO_UDP;
		c.hlen = 28;
		c.plen = (uint32_t)(len - 28);
		/* No checksum (0) means nothing to verify: never merged. */
		if (p[26] == 0 && p[27] == 0)
			return c;
		may = (g->flags & GRO_UDP) && c.plen > 0;
	} else {
		return c;
	}
	if (!l4_valid(p, len, c.proto)) {
		if (!fix_partial(g, &c, p, len)) {
			g->csum_bad += may;	/* counted where it kept a segment from merging */
			return c;
		}
		if (c.partial)
			return c;	/* a partial super-packet: written alone, as GSO */
	}
	c.mergeable = may;
	return c;
}

/* May packet p (classified c) follow the last segment of item it? */
static bool can_append(const struct gro *g, const struct gro_item *it, const uint8_t *p,
		       const struct cand *c)
{
	const uint8_t *h = g->pkt[it->head].data;

	if (it->closed || c->hlen != it->hlen || c->plen > it->mss ||
	    it->total + c->plen > 0xffff)
		return false;
	/* IPv4: same version/IHL, TOS (ECN included), flags, TTL; addresses are the key. */
	if (h[1] != p[1] || h[6] != p[6] || h[7] != p[7] || h[8] != p[8])
		return false;
	if (c->proto == PROTO_TCP) {
		if (get32(p + 24) != it->next_seq)
			return false;
		/* Same ack, data offset, flags (ACK; PSH only on the new one), window, urgent, options. */
		if (memcmp(h + 28, p + 28, 5) != 0 || (p[33] & (uint8_t)~TCP_PSH) != h[33] ||
		    memcmp(h + 34, p + 34, 2) != 0 || memcmp(h + 38, p + 38, it->hlen - 38) != 0)
			return false;
	}
	return true;
}

bool gro_add(struct gro *g, uint8_t *p, size_t len)
{
	struct gro_item *it = NULL;
	struct cand c;
	unsigned i;

	if (g->npkt == GRO_MAX)
		return false;
	i = g->npkt++;
	g->pkt[i] = (struct gro_pkt){ p, (uint32_t)len, 0, -1 };
	c = classify(g, p, len);
	if (c.proto) {
		/* The flow's newest item, whatever it is: order within a flow is kept. */
		for (unsigned k = g->nitem; k-- > 0;) {
			struct gro_item *t = &g->item[k];

			if (t->proto == c.proto && memcmp(t->key, p + 12, 8) == 0 &&
			    memcmp(t->key + 8, p + 20, 4) == 0) {
				it = t;
				break;
			}
		}
		if (it && c.mergeable && can_append(g, it, p, &c)) {
			g->pkt[i].hlen = c.hlen;
			g->pkt[it->tail].next = (int16_t)i;
			it->tail = (int16_t)i;
			it->nseg++;
			it->total += c.plen;
			it->next_seq += c.plen;
			if (c.plen < it->mss)
				it->closed = true;
			if (c.proto == PROTO_TCP && (p[33] & TCP_PSH)) {
				it->closed = true;
				g->pkt[it->head].data[33] |= TCP_PSH;
			}
			return true;
		}
	}
	it = &g->item[g->nitem++];
	memset(it, 0, sizeof(*it));
	it->proto = c.proto;
	if (c.proto) {
		memcpy(it->key, p + 12, 8);
		memcpy(it->key + 8, p + 20, 4);
	}
	it->closed = !c.mergeable;
	it->partial = c.partial;
	it->hlen = c.hlen;
	it->mss = (uint16_t)c.plen;
	it->nseg = 1;
	it->total = (uint32_t)len;
	if (c.proto == PROTO_TCP) {
		it->next_seq = get32(p + 24) + c.plen;
		if (p[33] & TCP_PSH)
			it->closed = true;
	}
	it->head = it->tail = (int16_t)i;
	g->pkt[i].hlen = c.hlen;
	return true;
}

unsigned gro_finish(struct gro *g, struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned k = 0; k < g->nitem; k++) {
		struct gro_item *it = &g->item[k];
		struct gro_write *w = &g->wr[k];
		struct gro_pkt *head = &g->pkt[it->head];
		uint8_t *p = head->data;

		memset(&w->hdr, 0, sizeof(w->hdr));
		w->iov_first = n;
		w->npkt = it->nseg;
		w->bytes = 0;
		iov[n++] = (struct iovec){ &w->hdr, VNET_HLEN };
		iov[n++] = (struct iovec){ p, head->len };
		w->bytes += head->len;
		if (it->nseg > 1) {
			size_t l4len = it->total - 20;
			uint8_t *field = p + 20 + (it->proto == PROTO_TCP ? 16 : 6);

			for (int j = head->next; j >= 0; j = g->pkt[j].next) {
				struct gro_pkt *s = &g->pkt[j];

				iov[n++] = (struct iovec){ s->data + s->hlen, s->len - s->hlen };
				w->bytes += s->len;
			}
			put16(p + 2, (uint16_t)it->total);
			ip_hdr_csum(p, 20);
			if (it->proto == PROTO_UDP)
				put16(p + 24, (uint16_t)l4len);
			/* Partial checksum: the pseudo-header sum, not complemented. */
			store_csum(field, csum_fold(csum_pseudo4(p, it->proto, l4len)));
			w->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			w->hdr.gso_type = it->proto == PROTO_TCP ? VIRTIO_NET_HDR_GSO_TCPV4
								  : VIRTIO_NET_HDR_GSO_UDP_L4;
			w->hdr.hdr_len = it->hlen;
			w->hdr.gso_size = it->mss;
			w->hdr.csum_start = 20;
			w->hdr.csum_offset = it->proto == PROTO_TCP ? 16 : 6;
		} else if (it->partial) {
			/* as it came: the kernel segments it where it must, and completes the checksums */
			w->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			w->hdr.gso_type = it->proto == PROTO_TCP ? VIRTIO_NET_HDR_GSO_TCPV4
								  : VIRTIO_NET_HDR_GSO_UDP_L4;
			w->hdr.hdr_len = it->hlen;
			w->hdr.gso_size = (uint16_t)(g->mtu > it->hlen ? g->mtu - it->hlen : 1);
			w->hdr.csum_start = 20;
			w->hdr.csum_offset = it->proto == PROTO_TCP ? 16 : 6;
		}
		w->iov_cnt = n - w->iov_first;
	}
	return g->nitem;
}

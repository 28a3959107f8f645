/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the pure offload code (src/offload.c): checksums, GSO split of
 * TCP and UDP super-packets read from a TUN device with IFF_VNET_HDR, and GRO
 * coalescing of received segments for the TUN write, including every reason
 * not to merge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "offload.h"
#include "packet.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static const uint8_t SRC[4] = { 198, 51, 100, 1 };
static const uint8_t DST[4] = { 198, 51, 100, 2 };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* The L4 checksum of an IPv4 packet (20-byte header) verifies. */
static int l4_ok(const uint8_t *p, size_t len)
{
	return csum_fold(csum_add(csum_pseudo4(p, p[9], len - 20), p + 20, len - 20)) == 0xffff;
}

static void fill_payload(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

static void ip_hdr(uint8_t *p, size_t tot, uint8_t proto, uint16_t id, uint8_t tos)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	p[1] = tos;
	wr16(p + 2, (uint16_t)tot);
	wr16(p + 4, id);
	wr16(p + 6, 0x4000);	/* DF */
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, SRC, 4);
	memcpy(p + 16, DST, 4);
	wr16(p + 10, inet_csum(p, 20));
}

/*
 * A TCP packet: 20-byte IPv4, TCP with 12 bytes of options (timestamps),
 * payload n bytes; checksums complete.  Returns its length.
 */
static size_t tcp_pkt(uint8_t *p, uint32_t seq, uint8_t flags, size_t n, unsigned seed,
		      uint16_t id, uint8_t tos)
{
	size_t tot = 20 + 32 + n;
	uint8_t *t = p + 20;
	uint16_t c;

	ip_hdr(p, tot, 6, id, tos);
	memset(t, 0, 32);
	wr16(t, 40000);
	wr16(t + 2, 5201);
	wr32(t + 4, seq);
	wr32(t + 8, 0x01020304);
	t[12] = 8 << 4;
	t[13] = flags;
	wr16(t + 14, 512);
	t[20] = 1;
	t[21] = 1;
	t[22] = 8;
	t[23] = 10;
	wr32(t + 24, 0xaabbccdd);
	wr32(t + 28, 0x11223344);
	fill_payload(p + 52, n, seed);
	c = (uint16_t)~csum_fold(csum_add(csum_pseudo4(p, 6, tot - 20), t, tot - 20));
	memcpy(t + 16, &c, 2);
	return tot;
}

static size_t udp_pkt(uint8_t *p, size_t n, unsigned seed, uint16_t id)
{
	size_t tot = 28 + n;
	uint16_t c;

	ip_hdr(p, tot, 17, id, 0);
	wr16(p + 20, 5000);
	wr16(p + 22, 5201);
	wr16(p + 24, (uint16_t)(8 + n));
	wr16(p + 26, 0);
	fill_payload(p + 28, n, seed);
	c = (uint16_t)~csum_fold(csum_add(csum_pseudo4(p, 17, tot - 20), p + 20, tot - 20));
	if (c == 0)
		c = 0xffff;
	memcpy(p + 26, &c, 2);
	return tot;
}

/* Turn a complete packet into what TUN hands over with NEEDS_CSUM: pseudo-header sum in the field. */
static void make_partial(uint8_t *p, size_t len, struct virtio_net_hdr *h)
{
	unsigned off = p[9] == 6 ? 16 : 6;
	uint16_t ps = csum_fold(csum_pseudo4(p, p[9], len - 20));

	memcpy(p + 20 + off, &ps, 2);
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = 20;
	h->csum_offset = (uint16_t)off;
}

/* ---- checksums ----------------------------------------------------------- */

static void test_csum_matches_reference(void **state)
{
	uint8_t buf[3001];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(rand() & 0xff);
	for (size_t off = 0; off < 4; off++) {
		for (size_t len = 0; len + off <= sizeof(buf); len += 1 + len / 3) {
			uint16_t want = inet_csum(buf + off, len);
			uint16_t got = (uint16_t)~csum_fold(csum_add(0, buf + off, len));
			uint8_t be[2];

			memcpy(be, &got, 2);	/* machine order -> bytes */
			assert_int_equal(rd16(be), want);
		}
	}
}

static void test_csum_complete(void **state)
{
	uint8_t p[1500];
	struct virtio_net_hdr h = { 0 };
	size_t len = tcp_pkt(p, 1000, TCP_ACK, 700, 1, 1, 0);

	(void)state;
	make_partial(p, len, &h);
	assert_false(l4_ok(p, len));
	assert_int_equal(off_csum_complete(p, len, &h), OFF_OK);
	assert_true(l4_ok(p, len));

	len = udp_pkt(p, 333, 2, 2);
	make_partial(p, len, &h);
	assert_int_equal(off_csum_complete(p, len, &h), OFF_OK);
	assert_true(l4_ok(p, len));

	h.csum_start = (uint16_t)len;
	assert_int_equal(off_csum_complete(p, len, &h), OFF_BAD_META);
	h.csum_start = 20;
	h.csum_offset = (uint16_t)(len - 21);
	assert_int_equal(off_csum_complete(p, len, &h), OFF_BAD_META);
}

/* ---- GSO split ----------------------------------------------------------- */

#define BIG 65535

struct split {
	uint8_t seg[64][1600];
	size_t len[64];
	unsigned n;
};

static enum off_error do_split(struct split *s, struct virtio_net_hdr *h, const uint8_t *p,
			       size_t len)
{
	struct gso_iter g;
	enum off_error e = gso_begin(&g, h, p, len);

	s->n = 0;
	if (e != OFF_OK)
		return e;
	while (s->n < 64) {
		size_t l = gso_next(&g, s->seg[s->n], sizeof(s->seg[0]));

		if (!l)
			break;
		assert_true(l <= gso_seg_max(&g));
		s->len[s->n++] = l;
	}
	assert_int_equal(gso_next(&g, s->seg[0], sizeof(s->seg[0])), 0);
	return OFF_OK;
}

static void test_gso_tcp_split(void **state)
{
	static uint8_t p[BIG];
	static struct split s;
	struct virtio_net_hdr h = { 0 };
	const size_t mss = 1428, n = 10 * mss + 500;
	size_t len = tcp_pkt(p, 0xfffff000u, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, n, 3, 0xfffe, 0x02);
	size_t got = 0;
	struct ipip_params ip = { .local = 0x01020304, .remote = 0x05060708, .pmtudisc = true };

	(void)state;
	make_partial(p, len, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	h.gso_size = mss;
	h.hdr_len = 9999;	/* never trusted */
	assert_int_equal(do_split(&s, &h, p, len), OFF_OK);
	assert_int_equal(s.n, 11);
	for (unsigned i = 0; i < s.n; i++) {
		uint8_t *q = s.seg[i], *t = q + 20, outer[IPV4_HLEN];
		size_t plen = s.len[i] - 52;

		assert_int_equal(plen, i < 10 ? mss : 500);
		assert_int_equal(rd16(q + 2), s.len[i]);
		assert_int_equal(rd16(q + 4), (uint16_t)(0xfffe + i));	/* wraps */
		assert_int_equal(inet_csum(q, 20), 0);
		assert_int_equal(q[1], 0x02);
		assert_int_equal(rd32(t + 4), 0xfffff000u + (uint32_t)(i * mss));
		assert_int_equal(t[13] & TCP_ACK, TCP_ACK);
		assert_int_equal(!!(t[13] & TCP_FIN), i == 10);
		assert_int_equal(!!(t[13] & TCP_PSH), i == 10);
		assert_int_equal(!!(t[13] & TCP_CWR), i == 0);
		assert_memory_equal(t + 20, p + 40, 12);	/* options copied */
		assert_true(l4_ok(q, s.len[i]));
		assert_memory_equal(q + 52, p + 52 + got, plen);
		got += plen;
		/* Each segment is an ordinary packet for the encapsulator. */
		assert_int_equal(ipip_encap(&ip, outer, q, s.len[i]), PKT_OK);
		assert_int_equal(rd16(outer + 2), s.len[i] + 20);
		assert_int_equal(outer[8], 64);
		assert_int_equal(rd16(outer + 6) & 0x4000, 0x4000);
	}
	assert_int_equal(got, n);
}

static void test_gso_udp_split(void **state)
{
	static uint8_t p[BIG];
	static struct split s;
	struct virtio_net_hdr h = { 0 };
	size_t len = udp_pkt(p, 3 * 1200 + 7, 4, 100), got = 0;

	(void)state;
	make_partial(p, len, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	h.gso_size = 1200;
	assert_int_equal(do_split(&s, &h, p, len), OFF_OK);
	assert_int_equal(s.n, 4);
	for (unsigned i = 0; i < s.n; i++) {
		uint8_t *q = s.seg[i];
		size_t plen = s.len[i] - 28;

		assert_int_equal(plen, i < 3 ? 1200 : 7);
		assert_int_equal(rd16(q + 2), s.len[i]);
		assert_int_equal(rd16(q + 4), 100 + i);
		assert_int_equal(inet_csum(q, 20), 0);
		assert_int_equal(rd16(q + 24), 8 + plen);
		assert_int_not_equal(rd16(q + 26), 0);
		assert_true(l4_ok(q, s.len[i]));
		assert_memory_equal(q + 28, p + 28 + got, plen);
		got += plen;
	}
}

static void test_gso_small_and_header_only(void **state)
{
	static uint8_t p[BIG];
	static struct split s;
	struct virtio_net_hdr h = { 0 };
	size_t len = tcp_pkt(p, 5, TCP_ACK | TCP_PSH, 100, 5, 7, 0);

	(void)state;
	make_partial(p, len, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1400;	/* one segment: a payload smaller than gso_size */
	assert_int_equal(do_split(&s, &h, p, len), OFF_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.len[0], len);
	assert_int_equal(s.seg[0][33], TCP_ACK | TCP_PSH);
	assert_true(l4_ok(s.seg[0], len));

	len = tcp_pkt(p, 5, TCP_ACK, 0, 5, 7, 0);
	make_partial(p, len, &h);
	assert_int_equal(do_split(&s, &h, p, len), OFF_OK);
	assert_int_equal(s.n, 1);
	assert_true(l4_ok(s.seg[0], len));
}

static void test_gso_rejects(void **state)
{
	static uint8_t p[BIG], q[BIG];
	struct virtio_net_hdr h0 = { 0 }, h;
	struct gso_iter g;
	size_t len = tcp_pkt(p, 1, TCP_ACK, 5000, 6, 1, 0);

	(void)state;
	make_partial(p, len, &h0);
	h0.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h0.gso_size = 1400;
	assert_int_equal(gso_begin(&g, &h0, p, len), OFF_OK);

	h = h0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_NOT_IPV4);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;	/* UFO: fragments, never asked for */
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_BAD_META);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;	/* wrong protocol for the packet */
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_BAD_META);
	h = h0;
	h.gso_size = 0;
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_BAD_META);
	h = h0;
	h.csum_start = 24;
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_BAD_META);
	h = h0;
	h.csum_offset = 6;
	assert_int_equal(gso_begin(&g, &h, p, len), OFF_BAD_META);
	assert_int_equal(gso_begin(&g, &h0, p, len - 1), OFF_BAD_LENGTH);
	assert_int_equal(gso_begin(&g, &h0, p, 19), OFF_SHORT);

	memcpy(q, p, len);
	q[0] = 0x60;
	assert_int_equal(gso_begin(&g, &h0, q, len), OFF_NOT_IPV4);
	memcpy(q, p, len);
	q[0] = 0x44;
	assert_int_equal(gso_begin(&g, &h0, q, len), OFF_BAD_IHL);
	memcpy(q, p, len);
	q[32] = 4 << 4;	/* TCP data offset below 5 */
	assert_int_equal(gso_begin(&g, &h0, q, len), OFF_BAD_META);
	memcpy(q, p, len);
	wr16(q + 6, 0x2000);	/* a fragment */
	assert_int_equal(gso_begin(&g, &h0, q, len), OFF_BAD_META);
	memcpy(q, p, len);
	q[32] = 15 << 4;	/* a 60-byte TCP header in a 60-byte packet */
	wr16(q + 2, 60);
	assert_int_equal(gso_begin(&g, &h0, q, 60), OFF_SHORT);
}

/* ---- GRO ---------------------------------------------------------------- */

static struct gro gro;
static struct iovec iov[2 * GRO_MAX];
static uint8_t pk[GRO_MAX][1600];
static size_t pl[GRO_MAX];

/* Bytes of write k (without the virtio header) into out; returns the length. */
static size_t flatten(unsigned k, uint8_t *out)
{
	const struct gro_write *w = &gro.wr[k];
	size_t n = 0;

	assert_int_equal(iov[w->iov_first].iov_len, VNET_HLEN);
	assert_ptr_equal(iov[w->iov_first].iov_base, &w->hdr);
	for (unsigned i = 1; i < w->iov_cnt; i++) {
		memcpy(out + n, iov[w->iov_first + i].iov_base, iov[w->iov_first + i].iov_len);
		n += iov[w->iov_first + i].iov_len;
	}
	return n;
}

/* What the kernel does with NEEDS_CSUM: finish the checksum from csum_start. */
static void kernel_finish(uint8_t *p, size_t len, const struct virtio_net_hdr *h)
{
	assert_int_equal(h->flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(off_csum_complete(p, len, h), OFF_OK);
}

static void test_gro_tcp_roundtrip(void **state)
{
	static uint8_t p[BIG], out[BIG];
	static struct split s;
	struct virtio_net_hdr h = { 0 };
	const size_t mss = 1428;
	size_t len = tcp_pkt(p, 77, TCP_ACK | TCP_PSH, 20 * mss + 99, 9, 40, 0);
	size_t n;

	(void)state;
	make_partial(p, len, &h);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = mss;
	assert_int_equal(do_split(&s, &h, p, len), OFF_OK);
	assert_int_equal(s.n, 21);
	gro_reset(&gro, GRO_TCP);
	for (unsigned i = 0; i < s.n; i++)
		assert_true(gro_add(&gro, s.seg[i], s.len[i]));
	assert_int_equal(gro_finish(&gro, iov), 1);
	assert_int_equal(gro.wr[0].npkt, 21);
	assert_int_equal(gro.wr[0].iov_cnt, 1 + 21);
	assert_int_equal(gro.wr[0].hdr.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(gro.wr[0].hdr.gso_size, mss);
	assert_int_equal(gro.wr[0].hdr.hdr_len, 52);
	assert_int_equal(gro.wr[0].hdr.csum_start, 20);
	assert_int_equal(gro.wr[0].hdr.csum_offset, 16);
	n = flatten(0, out);
	assert_int_equal(n, len);
	assert_int_equal(gro.wr[0].bytes, 21 * 52 + 20 * mss + 99);
	assert_int_equal(rd16(out + 2), len);
	assert_int_equal(inet_csum(out, 20), 0);
	assert_int_equal(out[33], TCP_ACK | TCP_PSH);	/* PSH of the last segment */
	kernel_finish(out, n, &gro.wr[0].hdr);
	assert_true(l4_ok(out, n));
	/* Same bytes as the original super-packet, apart from the IPv4 ID and checksums. */
	assert_memory_equal(out + 52, p + 52, len - 52);
	assert_int_equal(rd32(out + 24), 77);
}

static void test_gro_single_and_non_candidates(void **state)
{
	(void)state;
	gro_reset(&gro, GRO_TCP);
	pl[0] = tcp_pkt(pk[0], 1, TCP_ACK, 100, 1, 1, 0);
	pl[1] = tcp_pkt(pk[1], 1, TCP_SYN, 0, 1, 2, 0);
	pl[2] = udp_pkt(pk[2], 50, 1, 3);	/* GRO_UDP not enabled */
	pk[3][0] = 0x60;			/* not IPv4 at all */
	pl[3] = 40;
	for (int i = 0; i < 4; i++)
		assert_true(gro_add(&gro, pk[i], pl[i]));
	assert_int_equal(gro_finish(&gro, iov), 4);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(gro.wr[k].npkt, 1);
		assert_int_equal(gro.wr[k].hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		assert_int_equal(gro.wr[k].hdr.flags, 0);
		assert_int_equal(gro.wr[k].iov_cnt, 2);
		assert_ptr_equal(iov[gro.wr[k].iov_first + 1].iov_base, pk[k]);
		assert_int_equal(iov[gro.wr[k].iov_first + 1].iov_len, pl[k]);
	}
	assert_true(l4_ok(pk[0], pl[0]));	/* untouched */
}

/* n segments of one flow, mss bytes each from seq. */
static void flow(unsigned first, unsigned n, uint32_t seq, size_t mss, uint16_t sport)
{
	for (unsigned i = 0; i < n; i++) {
		pl[first + i] = tcp_pkt(pk[first + i], seq + (uint32_t)(i * mss), TCP_ACK, mss,
					first + i, (uint16_t)i, 0);
		if (sport != 40000) {
			wr16(pk[first + i] + 20, sport);
			pl[first + i] = pl[first + i];
			/* fix the TCP checksum after the port change */
			pk[first + i][36] = pk[first + i][37] = 0;
			{
				uint16_t c = (uint16_t)~csum_fold(csum_add(
					csum_pseudo4(pk[first + i], 6, pl[first + i] - 20),
					pk[first + i] + 20, pl[first + i] - 20));
				memcpy(pk[first + i] + 36, &c, 2);
			}
		}
	}
}

static unsigned add_all(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_true(gro_add(&gro, pk[i], pl[i]));
	return gro_finish(&gro, iov);
}

static void test_gro_two_flows_interleaved(void **state)
{
	static uint8_t a[GRO_MAX][1600];
	static size_t al[GRO_MAX];

	(void)state;
	/* Flow X: 4 segments; flow Y: 4 segments; interleaved X Y X Y ... */
	flow(0, 4, 1000, 1000, 40000);
	memcpy(a, pk, sizeof(a));
	memcpy(al, pl, sizeof(al));
	flow(0, 4, 5000, 1000, 40001);
	for (unsigned i = 0; i < 4; i++) {
		memcpy(pk[8 + i], pk[i], 1600);
		pl[8 + i] = pl[i];
	}
	for (unsigned i = 0; i < 4; i++) {
		memcpy(pk[2 * i], a[i], 1600);
		pl[2 * i] = al[i];
		memcpy(pk[2 * i + 1], pk[8 + i], 1600);
		pl[2 * i + 1] = pl[8 + i];
	}
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(8), 2);
	assert_int_equal(gro.wr[0].npkt, 4);
	assert_int_equal(gro.wr[1].npkt, 4);
	assert_int_equal(rd16(pk[0] + 20), 40000);
	assert_int_equal(rd16(pk[1] + 20), 40001);
}

static void test_gro_out_of_order_and_sizes(void **state)
{
	(void)state;
	/* seq gap: 0,1 then 3: two items */
	flow(0, 4, 0, 1000, 40000);
	memcpy(pk[2], pk[3], 1600);
	pl[2] = pl[3];
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(3), 2);
	assert_int_equal(gro.wr[0].npkt, 2);
	assert_int_equal(gro.wr[1].npkt, 1);

	/* a short segment ends the item; the next full one starts another */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 500, 1, 1, 0);
	pl[2] = tcp_pkt(pk[2], 1500, TCP_ACK, 1000, 2, 2, 0);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(3), 2);
	assert_int_equal(gro.wr[0].npkt, 2);

	/* a bigger segment after the first cannot join */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 500, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 500, TCP_ACK, 1000, 1, 1, 0);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);

	/* PSH on the second: it joins and ends the item */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK | TCP_PSH, 1000, 1, 1, 0);
	pl[2] = tcp_pkt(pk[2], 2000, TCP_ACK, 1000, 2, 2, 0);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(3), 2);
	assert_int_equal(gro.wr[0].npkt, 2);
	assert_int_equal(pk[0][33], TCP_ACK | TCP_PSH);
}

static void test_gro_refuses_differences(void **state)
{
	(void)state;
	/* different TOS (ECN CE on the second) */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0x02);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 1000, 1, 1, 0x03);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);

	/* different ack */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 1000, 1, 1, 0);
	wr32(pk[1] + 28, 0x01020305);
	pk[1][36] = pk[1][37] = 0;
	{
		uint16_t c = (uint16_t)~csum_fold(csum_add(csum_pseudo4(pk[1], 6, pl[1] - 20),
							   pk[1] + 20, pl[1] - 20));
		memcpy(pk[1] + 36, &c, 2);
	}
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);

	/* different TTL */
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 1000, 1, 1, 0);
	pk[1][8] = 63;
	wr16(pk[1] + 10, 0);
	wr16(pk[1] + 10, inet_csum(pk[1], 20));
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);

	/* a FIN is not merged, and it keeps its place in the flow */
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK | TCP_FIN, 1000, 1, 1, 0);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);

	/* a corrupted payload: not merged, counted, passed alone for the kernel to drop */
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 1000, 1, 1, 0);
	pl[2] = tcp_pkt(pk[2], 2000, TCP_ACK, 1000, 2, 2, 0);
	pk[1][100] ^= 0x40;
	gro_reset(&gro, GRO_TCP);
	gro.csum_bad = 0;
	assert_int_equal(add_all(3), 3);
	assert_int_equal(gro.csum_bad, 1);
	assert_int_equal(gro.wr[1].hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);

	/* GRO off: nothing merges */
	gro_reset(&gro, 0);
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 1000, 1, 1, 0);
	assert_int_equal(add_all(2), 2);

	/* IPv4 options (IHL 6): never merged */
	gro_reset(&gro, GRO_TCP);
	pk[0][0] = 0x46;
	pk[1][0] = 0x46;
	assert_int_equal(add_all(2), 2);
	assert_int_equal(gro.wr[0].hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
}

static void test_gro_order_kept_within_flow(void **state)
{
	uint8_t *order[4];

	(void)state;
	/* seg0, FIN-less pure ACK (no payload) of the same flow, seg1: seg1 must not jump the ACK */
	pl[0] = tcp_pkt(pk[0], 0, TCP_ACK, 1000, 0, 0, 0);
	pl[1] = tcp_pkt(pk[1], 1000, TCP_ACK, 0, 1, 1, 0);
	pl[2] = tcp_pkt(pk[2], 1000, TCP_ACK, 1000, 2, 2, 0);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(3), 3);
	for (unsigned k = 0; k < 3; k++)
		order[k] = iov[gro.wr[k].iov_first + 1].iov_base;
	assert_ptr_equal(order[0], pk[0]);
	assert_ptr_equal(order[1], pk[1]);
	assert_ptr_equal(order[2], pk[2]);
}

static void test_gro_limits(void **state)
{
	(void)state;
	/* 64 KiB at most per super-packet: 50 x 1400 bytes makes two */
	gro_reset(&gro, GRO_TCP);
	for (unsigned i = 0; i < 50; i++) {
		pl[i] = tcp_pkt(pk[i], i * 1400u, TCP_ACK, 1400, i, (uint16_t)i, 0);
		assert_true(gro_add(&gro, pk[i], pl[i]));
	}
	assert_int_equal(gro_finish(&gro, iov), 2);
	assert_true(rd16(pk[0] + 2) <= 0xffff);
	assert_int_equal(gro.wr[0].npkt + gro.wr[1].npkt, 50);
	/* the batch is full at GRO_MAX */
	gro_reset(&gro, GRO_TCP);
	for (unsigned i = 0; i < GRO_MAX; i++)
		assert_true(gro_add(&gro, pk[0], pl[0]));
	assert_false(gro_add(&gro, pk[0], pl[0]));
}

static void test_gro_udp(void **state)
{
	static uint8_t out[BIG];
	size_t n;

	(void)state;
	for (unsigned i = 0; i < 5; i++)
		pl[i] = udp_pkt(pk[i], i < 4 ? 64 : 20, i, (uint16_t)i);
	gro_reset(&gro, GRO_TCP | GRO_UDP);
	assert_int_equal(add_all(5), 1);
	assert_int_equal(gro.wr[0].npkt, 5);
	assert_int_equal(gro.wr[0].hdr.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
	assert_int_equal(gro.wr[0].hdr.gso_size, 64);
	assert_int_equal(gro.wr[0].hdr.hdr_len, 28);
	assert_int_equal(gro.wr[0].hdr.csum_offset, 6);
	n = flatten(0, out);
	assert_int_equal(n, 28 + 4 * 64 + 20);
	assert_int_equal(rd16(out + 2), n);
	assert_int_equal(rd16(out + 24), n - 20);
	assert_int_equal(inet_csum(out, 20), 0);
	kernel_finish(out, n, &gro.wr[0].hdr);
	assert_true(l4_ok(out, n));

	/* UDP without a checksum is never merged; neither without GRO_UDP */
	for (unsigned i = 0; i < 2; i++) {
		pl[i] = udp_pkt(pk[i], 64, i, (uint16_t)i);
		pk[i][26] = pk[i][27] = 0;
	}
	gro_reset(&gro, GRO_TCP | GRO_UDP);
	assert_int_equal(add_all(2), 2);
	for (unsigned i = 0; i < 2; i++)
		pl[i] = udp_pkt(pk[i], 64, i, (uint16_t)i);
	gro_reset(&gro, GRO_TCP);
	assert_int_equal(add_all(2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_csum_complete),
		cmocka_unit_test(test_gso_tcp_split),
		cmocka_unit_test(test_gso_udp_split),
		cmocka_unit_test(test_gso_small_and_header_only),
		cmocka_unit_test(test_gso_rejects),
		cmocka_unit_test(test_gro_tcp_roundtrip),
		cmocka_unit_test(test_gro_single_and_non_candidates),
		cmocka_unit_test(test_gro_two_flows_interleaved),
		cmocka_unit_test(test_gro_out_of_order_and_sizes),
		cmocka_unit_test(test_gro_refuses_differences),
		cmocka_unit_test(test_gro_order_kept_within_flow),
		cmocka_unit_test(test_gro_limits),
		cmocka_unit_test(test_gro_udp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz icmp_relay, the RFC 2003 section 4 relay of ICMP errors about our
 * outer packets to the inner sender, and the RFC 2003 section 5 soft state
 * taken from the same errors (icmp_sent_ttl, icmp_exit_unreachable).
 *
 * Input: ICMP type (1 byte), code (1 byte), the reported info (4 bytes, big
 * endian: the next-hop MTU of a "fragmentation needed"), then the quoted
 * datagram as recvmsg(MSG_ERRQUEUE) gives it: outer header, inner packet.
 * The quote is copied into a buffer of exactly its size, so that ASan sees
 * any read beyond it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "packet.h"
#include "softstate.h"


static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The table of RFC 2003 section 4, written out again: relayed code or -1. */
static int expected_code(unsigned type, unsigned code)
{
	if (type == 11)
		return 1;
	if (type != 3 || code > 15 || code == 3 || code == 5)
		return -1;
	if (code == 0 || code == 6 || code == 9 || code == 11)
		return 0;
	return code == 4 ? 4 : 1;
}

static bool unicast(const uint8_t *a)
{
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

/*
 * Soft state, for the tunnel whose outer header is quoted (and for one whose
 * Remote differs); the low byte of info is the configured TTL (0: inherit).
 */
static void check_soft_state(unsigned type, unsigned code, uint32_t info, const uint8_t *q,
			     size_t len)
{
	struct ipip_params p, other;
	size_t ohl = len >= IPV4_HLEN ? (size_t)(q[0] & 15) * 4 : 0;
	bool ours = len >= IPV4_HLEN && (q[0] >> 4) == 4 && ohl >= IPV4_HLEN && ohl <= len &&
		    q[9] == IPPROTO_IPIP_;
	int want = expected_code(type, code), ttl;

	memset(&p, 0, sizeof(p));
	if (len >= IPV4_HLEN) {
		memcpy(&p.local, q + 12, 4);
		memcpy(&p.remote, q + 16, 4);
	}
	p.ttl = (uint8_t)info;
	other = p;
	other.remote ^= 1;
	ttl = icmp_sent_ttl(&p, type, q, len);
	if (type != 11 || !ours)
		CHECK(ttl == -1);
	else if (p.ttl)
		CHECK(ttl == -1);	/* a fixed TTL teaches nothing */
	else if (len >= ohl + 9 && (q[ohl] >> 4) == 4)
		CHECK(ttl == q[ohl + 8]);
	else
		CHECK(ttl == -1);
	CHECK(icmp_sent_ttl(&other, type, q, len) == -1);
	CHECK(icmp_exit_unreachable(&p, type, code, q, len) ==
	      (type == 3 && (want == 0 || want == 1) && ours));
	CHECK(!icmp_exit_unreachable(&other, type, code, q, len));
}

/*
 * The soft state as the datapath drives it: the error is believed only if it
 * quotes this tunnel's outer header with an ID taken lately (the counter is
 * placed from info so that the quoted ID is inside or outside the window);
 * otherwise nothing moves.  Whatever is believed, the state stays in bounds.
 */
static void check_softstate(unsigned type, unsigned code, uint32_t info, const uint8_t *q,
			    size_t len)
{
	static struct softstate ss;
	static _Atomic uint32_t ids;
	struct ss_limits lim = { .mtu = 1480, .floor = 552, .expire_s = 600, .ttl_max = 64 };
	struct ipip_params p;
	struct ss_view before, after;
	enum pkt_verdict v;
	unsigned changed;
	uint16_t qid = len >= 6 ? (uint16_t)(q[4] << 8 | q[5]) : 0;

	memset(&p, 0, sizeof(p));
	if (len >= IPV4_HLEN) {
		memcpy(&p.local, q + 12, 4);
		memcpy(&p.remote, q + 16, 4);
	}
	p.ttl = (uint8_t)(info >> 8);
	/* the quoted ID was taken (info bit 16) or not, some IDs ago (info bits 20-27) */
	atomic_store(&ids, (uint32_t)qid + 1 + ((info >> 20) & 0xff) - (info & 0x10000 ? 0 : 0x8000));
	ss_init(&ss, &lim, &ids);
	if (info & 0x10000) {
		uint16_t taken[64];

		ss_take_ids(&ss, taken, 1 + ((info >> 28) & 15));
	}
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	ss_read(&ss, 1000, &before);
	v = ss_icmp(&ss, &p, type, code, info, q, len, 1000, &changed);
	ss_read(&ss, 1000, &after);
	if (v != PKT_OK) {
		CHECK(v == PKT_ICMP_NOT_OURS || v == PKT_ICMP_ID_NOT_RECENT);
		CHECK(changed == 0);
		CHECK(!memcmp(&before, &after, sizeof(before)));
		CHECK(ss_error_allowed(&ss, true, 1) == SS_NOT_OWED);
		return;
	}
	CHECK(after.credit == (icmp_answered(type, code) ? 1 : 0));
	CHECK(after.pmtu >= lim.floor - IPV4_HLEN && after.pmtu <= lim.mtu);
	CHECK(after.pmtu == before.pmtu || (type == 3 && code == 4));
	CHECK(after.path_ttl <= lim.ttl_max);
	CHECK(after.path_ttl == 0 || (type == 11 && p.ttl == 0));
	CHECK(!after.unreachable || type == 3);
	if (after.credit)
		CHECK(ss_error_allowed(&ss, true, 1) == SS_SEND);
	CHECK(ss_error_allowed(&ss, true, 1) == SS_NOT_OWED);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[ICMP_RELAY_MAX + 16], *q;
	enum icmp_relay_why why;
	unsigned type, code;
	uint32_t info;
	size_t n, len, ohl, ihl, avail, quote;
	const uint8_t *in;
	int want;

	if (size < 6)
		return 0;
	type = data[0];
	code = data[1];
	info = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 8 | data[5];
	len = size - 6;
	q = malloc(len ? len : 1);
	CHECK(q);
	memcpy(q, data + 6, len);
	memset(out, 0xa5, sizeof(out));

	check_soft_state(type, code, info, q, len);
	check_softstate(type, code, info, q, len);
	n = icmp_relay(out, type, code, info, q, len, &why);
	CHECK(memcmp(q, data + 6, len) == 0);		/* the input is not written */
	for (size_t i = ICMP_RELAY_MAX; i < sizeof(out); i++)
		CHECK(out[i] == 0xa5);			/* nor beyond out's size */
	CHECK(icmp_relay(out, type, code, info, q, len, NULL) == n);
	CHECK((n == 0) == (why != ICMP_RELAY_OK));
	want = expected_code(type, code);
	if (want < 0)
		CHECK(why == ICMP_RELAY_NOT_RELAYED);
	if (n == 0) {
		free(q);
		return 0;
	}

	/* Relayed: the quote held our outer header and a whole inner header. */
	CHECK(len >= 2 * IPV4_HLEN && (q[0] >> 4) == 4 && q[9] == IPPROTO_IPIP_);
	ohl = (size_t)(q[0] & 15) * 4;
	CHECK(ohl >= IPV4_HLEN && ohl + IPV4_HLEN <= len);
	in = q + ohl;
	ihl = (size_t)(in[0] & 15) * 4;
	CHECK((in[0] >> 4) == 4 && ihl >= IPV4_HLEN && ohl + ihl <= len);
	CHECK(get16(in + 2) >= ihl);
	CHECK((get16(in + 6) & 0x1fff) == 0);
	CHECK(unicast(in + 12) && unicast(in + 16));
	/* the inner packet: what was quoted of it, up to its own length */
	avail = len - ohl;
	if (get16(in + 2) < avail)
		avail = get16(in + 2);
	CHECK(avail >= ihl);
	if (in[9] == 1 && ihl < avail)
		CHECK(in[ihl] != 3 && in[ihl] != 4 && in[ihl] != 5 && in[ihl] != 11 &&
		      in[ihl] != 12);

	/* The message: 3/want from the inner destination to the inner source. */
	quote = ihl + 8 < avail ? ihl + 8 : avail;
	CHECK(n == IPV4_HLEN + 8 + quote && n <= ICMP_RELAY_MAX);
	CHECK(out[0] == 0x45 && get16(out + 2) == n && out[9] == 1 && out[8] != 0);
	CHECK(inet_csum(out, IPV4_HLEN) == 0);
	CHECK(memcmp(out + 12, in + 16, 4) == 0 && memcmp(out + 16, in + 12, 4) == 0);
	CHECK(out[20] == 3 && (int)out[21] == want);
	CHECK(inet_csum(out + 20, n - 20) == 0);
	CHECK(get16(out + 24) == 0);
	if (want == 4) {
		uint32_t m = info < ICMP_RELAY_PMTU_FLOOR ? ICMP_RELAY_PMTU_FLOOR : info;

		CHECK(get16(out + 26) == (m > 0xffff ? 0xffff : m) - IPV4_HLEN);
		CHECK(get16(out + 26) >= ICMP_RELAY_PMTU_FLOOR - IPV4_HLEN);
	} else {
		CHECK(get16(out + 26) == 0);
	}
	CHECK(memcmp(out + 28, in, quote) == 0);
	free(q);
	return 0;
}

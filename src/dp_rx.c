/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dp_int.h"

/* ---- rx: underlay -> TUN device ------------------------------------------ */

/* RFC 6040 (!!!) combinations: counted always, logged at most ECN_LOG_BUDGET a minute. */
static void log_ecn(struct datapath *dp, struct dp_rx *r, const struct ipip_rx *rx)
{
	uint64_t minute = now_seconds() / 60;

	ctr_add(&r->c.ecn_unusual, 1);
	if (!dp_params(dp)->ecn_log)
		return;
	if (minute != r->ecn_log_minute) {
		r->ecn_log_minute = minute;
		r->ecn_log_budget = ECN_LOG_BUDGET;
	}
	if (!r->ecn_log_budget)
		return;
	if (--r->ecn_log_budget == 0)
		log_warnx("further unusual ECN combinations this minute are counted, not logged");
	else
		log_warnx("unusual ECN combination (RFC 6040): inner %u, outer %u", rx->inner_ecn,
			  rx->outer_ecn);
}

/* Write the coalesced batch into the TUN device. */
static void rx_flush(struct datapath *dp, uint64_t *pkts, uint64_t *bytes)
{
	struct dp_rx *r = &dp->rx;
	unsigned nw = gro_finish(&r->gro, r->gro_iov);
	uint64_t writes = 0, merged = 0;

	for (unsigned k = 0; k < nw; k++) {
		const struct gro_write *w = &r->gro.wr[k];
		const struct iovec *iov = r->gro_iov + w->iov_first;
		ssize_t rc;

		do
			rc = writev(dp->tun_fd, iov, (int)w->iov_cnt);
		while (rc < 0 && errno == EINTR);
		writes++;
		if (rc < 0) {
			ctr_add(&r->c.drops[PKT_RX_TUN_WRITE], w->npkt);
			continue;
		}
		if (w->npkt > 1)
			merged++;
		*pkts += w->npkt;
		*bytes += w->bytes;
	}
	ctr_add(&r->c.syscalls, writes);
	ctr_add(&r->c.offload, merged);
	if (r->gro.csum_bad) {
		ctr_add(&r->c.csum_bad, r->gro.csum_bad);
		r->gro.csum_bad = 0;
	}
}

/*
 * RemotePort = learn: the source port of a datagram from Remote that passed
 * every check is where the far end (behind a NAT that rewrites ports) takes
 * packets now.  Logged at most once a second (an attacker who can send from
 * Remote's address can move it as often as he likes: documented).
 */
static void learn_port(struct datapath *dp, const struct ipip_params *p, uint32_t addr,
		       uint16_t port)
{
	uint64_t now;

	/* plain loads first: on the packet path, a change is rare (one writer: this thread) */
	if (addr != p->remote &&
	    atomic_load_explicit(&dp->learned_addr, memory_order_relaxed) != addr) {
		atomic_store_explicit(&dp->learned_addr, addr, memory_order_relaxed);
		dp_event(dp);	/* another address: the owner has the parent move Remote there */
	}
	if (atomic_load_explicit(&dp->learned_port, memory_order_relaxed) == port)
		return;
	atomic_store_explicit(&dp->learned_port, port, memory_order_relaxed);
	atomic_fetch_add_explicit(&dp->port_changes, 1, memory_order_relaxed);
	now = now_seconds();
	if (now != dp->port_log_s) {
		dp->port_log_s = now;
		log_info("RemotePort = learn: the far end sends from port %u now", port);
	}
}

/*
 * A datagram's control messages: the outer TOS byte (IP_RECVTOS; 0 if
 * missing) and, where the kernel coalesced datagrams of one flow (UDP_GRO),
 * the length of each but the last (0: one datagram).  The kernel coalesces
 * only datagrams with the same addresses, ports, TOS and TTL.
 */
static void udp_cmsgs(struct msghdr *m, uint8_t *tos, size_t *seg)
{
	*tos = 0;
	*seg = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS &&
		    cm->cmsg_len >= CMSG_LEN(1))
			*tos = *(const uint8_t *)CMSG_DATA(cm);
		else if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO &&
			 cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;

			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			*seg = v > 0 ? (size_t)v : 0;
		}
	}
}

/* What one receive batch did, for the counters. */
struct rx_batch {
	uint64_t pkts, bytes, writes;
	bool decapped;
};

/* One received packet (with UDP encapsulation: one datagram's payload): decapsulate and deliver. */
static void rx_one(struct datapath *dp, const struct ipip_params *p, uint8_t *pkt, size_t len,
		   const struct sockaddr_in *from, uint8_t tos, struct rx_batch *b)
{
	struct dp_rx *r = &dp->rx;
	struct ipip_rx rx;
	enum pkt_verdict v;

	if (dp->udp_fd >= 0)
		v = udp_decap(p, pkt, len, from->sin_addr.s_addr, tos, &rx);
	else
		v = ipip_decap(p, pkt, len, &rx);
	if (rx.ecn_unusual)
		log_ecn(dp, r, &rx);
	if (v == PKT_OK && p->remote_any) {
		/* the inner source must be routed back through the tunnel to this peer */
		uint32_t src, peer = 0, outer_src, idx = HUB_NO_PEER;
		bool found;

		memcpy(&src, pkt + rx.inner_off + 12, 4);
		if (from)
			outer_src = from->sin_addr.s_addr;
		else
			memcpy(&outer_src, pkt + 12, 4);
		found = hub_lookup_memo(dp->hub, dp->hub_gen, &r->memo, src, &peer, &idx);
		if (p->peer_check && (!found || peer != outer_src)) {
			v = PKT_RX_PEER_SOURCE;
		} else if (found && peer == outer_src && idx != HUB_NO_PEER) {
			struct hub_peer *hp = &dp->peers->peer[idx];

			ctr_add(&hp->rx_packets, 1);
			ctr_add(&hp->rx_bytes, rx.inner_len);
			ctr_set(&hp->last_rx_ms, now_ns() / 1000000u);
		}
	}
	if (v != PKT_OK) {
		ctr_add(&r->c.drops[v], 1);
		return;
	}
	b->decapped = true;
	if (p->learn_port)
		learn_port(dp, p, from->sin_addr.s_addr, ntohs(from->sin_port));
	if (dp->vnet) {
		if (!gro_add(&r->gro, pkt + rx.inner_off, rx.inner_len)) {
			/* full (datagrams the kernel coalesced): write what is queued */
			rx_flush(dp, &b->pkts, &b->bytes);
			gro_reset(&r->gro, dp->gro_flags);
			gro_add(&r->gro, pkt + rx.inner_off, rx.inner_len);
		}
		return;
	}
	b->writes++;
	if (write(dp->tun_fd, pkt + rx.inner_off, rx.inner_len) < 0) {
		ctr_add(&r->c.drops[PKT_RX_TUN_WRITE], 1);
		return;
	}
	b->pkts++;
	b->bytes += rx.inner_len;
}

int dp_net_to_tun(struct datapath *dp)
{
	struct dp_rx *r = &dp->rx;
	struct dp_ring *ring = &r->ring;
	struct rx_batch b = { 0 };
	const struct ipip_params *p;
	int n;

	for (int i = 0; i < DP_BATCH; i++) {
		ring->iov[i].iov_len = DP_SLOT;
		if (dp->udp_fd >= 0) {
			ring->msg[i].msg_hdr.msg_name = &r->from[i];
			ring->msg[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
			ring->msg[i].msg_hdr.msg_control = r->ctl[i].buf;
			ring->msg[i].msg_hdr.msg_controllen = sizeof(r->ctl[i].buf);
		}
	}
	n = recvmmsg(dp->udp_fd >= 0 ? dp->udp_fd : dp->raw_fd, ring->msg, DP_BATCH, MSG_DONTWAIT,
		     NULL);
	if (n <= 0)
		return 0;
	p = dp_params(dp);	/* one set of settings for the batch */
	gro_reset(&r->gro, dp->gro_flags);
	for (int i = 0; i < n; i++) {
		uint8_t *pkt = ring->iov[i].iov_base, tos;
		size_t len = ring->msg[i].msg_len, seg;

		if (ring->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			ctr_add(&r->c.drops[PKT_RX_TRUNCATED], 1);
			continue;
		}
		if (dp->udp_fd < 0) {
			rx_one(dp, p, pkt, len, NULL, 0, &b);
			continue;
		}
		udp_cmsgs(&ring->msg[i].msg_hdr, &tos, &seg);
		if (!seg || seg > len)
			seg = len;
		/* coalesced datagrams: each seg bytes long, the last one shorter or as long */
		if (seg < len)
			ctr_add(&r->c.udp_coalesced, (len - 1) / seg);
		for (size_t off = 0; off < len; off += seg)
			rx_one(dp, p, pkt + off, len - off < seg ? len - off : seg, &r->from[i], tos, &b);
	}
	if (dp->vnet)
		rx_flush(dp, &b.pkts, &b.bytes);
	else
		ctr_add(&r->c.syscalls, b.writes);
	ctr_add(&r->c.packets, b.pkts);
	if (b.decapped)	/* liveness: once a batch */
		atomic_store_explicit(&dp->last_rx_ms, now_ns() / 1000000u, memory_order_relaxed);
	ctr_add(&r->c.bytes, b.bytes);
	/* RFC 2003 5: a packet from Remote shows the exit is reachable again */
	if (b.decapped && (ss_flags(&dp->ss) & SS_UNREACH) && ss_exit_reached(&dp->ss)) {
		log_debug("soft state: tunnel exit reachable again (packet from Remote)");
		dp_event(dp);
	}
	return n;
}

/*
 * RFC 2003 4: tell the inner sender about an ICMP error on the tunnel path.
 * The relayed error comes from the quoted inner destination: that address
 * must pass the inner-source checks of decapsulation (not one of ours,
 * inside AllowedSources), or anyone could make the host hear errors from
 * any address it chose.
 */
static void relay_icmp(struct datapath *dp, const struct sock_extended_err *ee,
		       const uint8_t *quoted, size_t len)
{
	struct dp_rx *r = &dp->rx;
	uint8_t icmp[ICMP_RELAY_MAX];
	enum icmp_relay_why why;
	enum pkt_verdict v;
	enum ss_send ok;
	uint32_t info = ee->ee_info < dp->ss.lim.floor ? dp->ss.lim.floor : ee->ee_info, src;
	struct ipip_params tmp;
	size_t n = icmp_relay_encap(dp_tx_params(dp, &tmp), icmp, ee->ee_type, ee->ee_code, info,
				    quoted, len, &why);

	if (!n) {
		log_debug("ICMP error %u/%u not relayed (%d)", ee->ee_type, ee->ee_code, (int)why);
		return;
	}
	memcpy(&src, icmp + 12, 4);
	v = ipip_source_check(dp_params(dp), src);
	if (v != PKT_OK) {
		ctr_add(&r->c.drops[v == PKT_RX_INNER_SOURCE_OURS ? PKT_ICMP_SOURCE_OURS :
				    PKT_ICMP_SOURCE_NOT_ALLOWED], 1);
		return;
	}
	ok = ss_error_allowed(&dp->ss, true, now_ns());
	if (ok != SS_SEND) {
		ctr_add(&r->icmp_relay_limited, 1);
		return;
	}
	dp_tun_inject(dp, icmp, n);
	ctr_add(&r->icmp_relayed, 1);
}

/*
 * The socket's error queue: ICMP errors that quote a protocol-4 packet from
 * Local to Remote (the socket is bound and connected).  Each is believed
 * only if it quotes an outer ID this tunnel sent lately (ss_icmp); anything
 * else is counted under its reason and left alone.
 */
void dp_read_errors(struct datapath *dp)
{
	struct dp_counters *c = &dp->rx.c;
	struct ipip_params tmp;

	for (int i = 0; i < 64; i++) {
		uint8_t data[576];	/* the quoted datagram: outer header and inner start */
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t got = recvmsg(dp->raw_fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (got < 0)
			return;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			const struct sock_extended_err *ee;
			enum pkt_verdict v;
			unsigned changed;

			if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_RECVERR ||
			    cm->cmsg_len < CMSG_LEN(sizeof(*ee)))
				continue;
			ee = (const void *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ICMP)
				continue;
			v = ss_icmp(&dp->ss, dp_tx_params(dp, &tmp), ee->ee_type, ee->ee_code, ee->ee_info, data,
				    (size_t)got, now_seconds(), &changed);
			if (v != PKT_OK) {
				ctr_add(&c->drops[v], 1);
				log_debug("ICMP error %u/%u not believed: %s", ee->ee_type,
					  ee->ee_code, pkt_verdict_name(v));
				continue;
			}
			ctr_add(&c->icmp_errors, 1);
			ctr_set(&c->last_icmp_type, ee->ee_type);
			ctr_set(&c->last_icmp_code, ee->ee_code);
			ctr_set(&c->last_icmp_info, ee->ee_info);
			log_debug("ICMP error type %u code %u info %u about an outer packet",
				  ee->ee_type, ee->ee_code, ee->ee_info);
			if (changed)
				dp_event(dp);
			relay_icmp(dp, ee, data, (size_t)got);
		}
	}
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dp_int.h"

/* ---- tx: TUN device -> underlay ------------------------------------------ */

uint32_t dp_remote_moved(struct datapath *dp)
{
	uint32_t a = atomic_load_explicit(&dp->learned_addr, memory_order_relaxed);

	return a && a != dp_params(dp)->remote ? a : 0;
}

uint16_t dp_remote_port(const struct datapath *dp)
{
	struct datapath *w = (struct datapath *)dp;	/* atomic loads want non-const */
	const struct ipip_params *p = dp_params(w);
	uint32_t l = p->learn_port ? atomic_load_explicit(&w->learned_port, memory_order_relaxed) : 0;

	return l ? (uint16_t)l : p->remote_port;
}

/*
 * The settings now, with RemotePort = learn the port learned in *tmp's copy:
 * what encapsulation and the checks of ICMP errors about our packets use.
 */
const struct ipip_params *dp_tx_params(struct datapath *dp, struct ipip_params *tmp)
{
	const struct ipip_params *p = dp_params(dp);

	if (!p->learn_port)
		return p;
	*tmp = *p;
	tmp->remote_port = dp_remote_port(dp);
	return tmp;
}

/* Wake the owner: the soft state moved (a datapath thread, rarely). */
void dp_event(struct datapath *dp)
{
	uint64_t one = 1;

	if (write(dp->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("datapath event: %s", strerror(errno));
}

unsigned dp_tick(struct datapath *dp, bool timer)
{
	uint64_t ev, now = now_seconds();
	unsigned changed = 0, was = ss_pmtu(&dp->ss);

	if (read(dp->event_fd, &ev, sizeof(ev)) < 0 && errno != EAGAIN)
		log_debug("datapath event: %s", strerror(errno));
	if (timer)
		changed = ss_tick(&dp->ss, now);
	/* raised again, or a send was too big: the route's MTU, as the parent knows it */
	if (dp->route_mtu && (changed & SS_ROUTE) && ss_pmtu_lower(&dp->ss, dp->route_mtu, now))
		changed |= SS_PMTU;
	if (atomic_exchange(&dp->route_check, false))
		changed |= SS_ROUTE;
	if (ss_pmtu(&dp->ss) != was)
		log_info("path MTU soft state: tunnel MTU %u (was %u)", ss_pmtu(&dp->ss), was);
	if (changed & SS_TTL)
		log_debug("soft state: path TTL %s", ss_flags(&dp->ss) & SS_TTL ? "known" : "forgotten");
	if (changed & SS_UNREACH)
		log_debug("soft state: tunnel exit presumed reachable again");
	return changed;
}

int dp_send_inner(struct datapath *dp, const uint8_t *inner, size_t len)
{
	uint8_t pkt[OUTER_MAX + ICMP_ECHO_MAX];
	struct ipip_params tmp;
	const struct ipip_params *p = dp_tx_params(dp, &tmp);
	size_t olen = ipip_outer_len(p);
	enum pkt_verdict v;
	uint16_t id;

	if (len > ICMP_ECHO_MAX)
		return -EMSGSIZE;
	if (p->remote_any)
		return -EDESTADDRREQ;	/* a hub has no one Remote */
	memcpy(pkt + olen, inner, len);
	v = ipip_encap(p, pkt, pkt + olen, len);
	if (v != PKT_OK)
		return -EINVAL;
	ss_take_ids(&dp->ss, &id, 1);
	ipv4_set_id(pkt, id);
	if (sendto(dp->tx_fd, pkt, olen + len, 0, (struct sockaddr *)&dp->remote,
		   sizeof(dp->remote)) < 0)
		return -errno;
	atomic_store_explicit(&dp->last_tx_ms, now_ns() / 1000000u, memory_order_relaxed);
	return 0;
}

int dp_set_params(struct datapath *dp, const struct ipip_params *p, unsigned mtu)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = p->remote };

	if (p->remote != dp_params(dp)->remote && !p->remote_any) {
		/* the raw socket takes the new Remote's packets and errors only */
		if (connect(dp->raw_fd, (struct sockaddr *)&peer, sizeof(peer)) < 0)
			return -errno;
		__atomic_store_n(&dp->remote.sin_addr.s_addr, p->remote, __ATOMIC_RELAXED);
	}
	if (mtu != dp->mtu) {
		dp->mtu = mtu;
		ss_set_mtu(&dp->ss, mtu);
	}
	atomic_store_explicit(&dp->p, p, memory_order_release);
	return 0;
}

bool dp_route_mtu(struct datapath *dp, unsigned outer)
{
	unsigned was = ss_pmtu(&dp->ss);

	dp->route_mtu = outer;
	if (!ss_pmtu_lower(&dp->ss, outer, now_seconds()))
		return false;
	log_info("path MTU soft state: tunnel MTU %u (was %u; the route's MTU)", ss_pmtu(&dp->ss), was);
	return true;
}

/* Hand a locally made packet (an ICMP error) to the host through the TUN device. */
void dp_tun_inject(struct datapath *dp, const uint8_t *pkt, size_t len)
{
	static const struct virtio_net_hdr none;	/* no offload, checksum complete */
	struct iovec iov[2] = { { (void *)&none, VNET_HLEN }, { (void *)pkt, len } };

	if (writev(dp->tun_fd, dp->vnet ? iov : iov + 1, dp->vnet ? 2 : 1) < 0)
		log_debug("TUN write of an ICMP error: %s", strerror(errno));
}

/*
 * RFC 2003 5: the inner packet inner[0..len), encapsulated with outer TTL
 * outer[8], violates the tunnel's soft state: its sender gets host unreachable
 * (exit unreachable) or else time exceeded (outer TTL below the path's), if
 * an error is owed (one per error received) and the rate limit allows.  The
 * packet is sent all the same.
 */
static void tx_soft_check(struct datapath *dp, const uint8_t *outer, const uint8_t *inner,
			  size_t len, unsigned soft)
{
	struct dp_tx *t = &dp->tx;
	uint8_t icmp[ICMP_FRAG_NEEDED_MAX], type;
	_Atomic uint64_t *sent;
	enum ss_send ok;
	size_t n;

	if (soft & SS_UNREACH) {
		type = 3;
		sent = &t->soft_unreach_sent;
	} else if ((soft & SS_TTL) &&
		   outer[8] < atomic_load_explicit(&dp->ss.path_ttl, memory_order_relaxed)) {
		type = 11;
		sent = &t->soft_ttl_sent;
	} else {
		return;
	}
	if (atomic_load_explicit(&dp->ss.credit, memory_order_relaxed) <= 0)
		return;
	/* 3/1 host unreachable, 11/0 time exceeded in transit */
	n = icmp_error_about(icmp, type, type == 3, 0, inner, len);
	if (!n)
		return;
	ok = ss_error_allowed(&dp->ss, true, now_ns());
	if (ok == SS_LIMITED)
		ctr_add(&t->soft_limited, 1);
	if (ok != SS_SEND)
		return;
	dp_tun_inject(dp, icmp, n);
	ctr_add(sent, 1);
	dp_event(dp);	/* the owner republishes what the fast path must send slow */
}

static enum pkt_verdict send_error(int err)
{
	switch (err) {
	case EMSGSIZE:
		return PKT_TX_TOO_BIG;
	case ENOBUFS:
	case EAGAIN:
	case ENOMEM:
		return PKT_TX_NOBUFS;
	default:
		return PKT_TX_SEND_ERROR;
	}
}

/* An ICMP error queued earlier surfaces once on the next send: that send did not happen. */
static bool transient_icmp_error(int err)
{
	return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
	       err == ENOPROTOOPT || err == EPROTO;
}

void dp_set_hop(struct datapath *dp, int ifindex, const uint8_t mac[6], const uint8_t src_mac[6])
{
	struct dp_hop *h = &dp->hop;
	uint32_t seq = atomic_load_explicit(&h->seq, memory_order_relaxed);

	atomic_store_explicit(&h->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->ifindex, dp->pkt_fd >= 0 ? ifindex : 0, memory_order_relaxed);
	for (int i = 0; i < 6; i++) {
		atomic_store_explicit(&h->mac[i], mac ? mac[i] : 0, memory_order_relaxed);
		atomic_store_explicit(&h->src_mac[i], src_mac ? src_mac[i] : 0, memory_order_relaxed);
	}
	atomic_store_explicit(&h->seq, seq + 2, memory_order_release);
	atomic_store_explicit(&h->kick, true, memory_order_relaxed);
}

bool dp_hop_failed(struct datapath *dp)
{
	return atomic_exchange_explicit(&dp->hop.failed, false, memory_order_relaxed);
}

/* The tx thread's copy of the next hop, brought up to date; false: none. */
static bool tx_hop(struct datapath *dp)
{
	struct dp_hop *h = &dp->hop;
	struct sockaddr_ll *ll = &dp->tx.ll;
	uint32_t seq = atomic_load_explicit(&h->seq, memory_order_acquire);

	if (seq == dp->tx.ll_seq)
		return ll->sll_ifindex != 0;
	for (;;) {
		if (seq & 1) {
			seq = atomic_load_explicit(&h->seq, memory_order_acquire);
			continue;	/* the writer is at it: a few stores */
		}
		ll->sll_ifindex = atomic_load_explicit(&h->ifindex, memory_order_relaxed);
		for (int i = 0; i < 6; i++) {
			ll->sll_addr[i] = atomic_load_explicit(&h->mac[i], memory_order_relaxed);
			dp->tx.eth[i] = ll->sll_addr[i];
			dp->tx.eth[6 + i] = atomic_load_explicit(&h->src_mac[i], memory_order_relaxed);
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&h->seq, memory_order_relaxed) == seq)
			break;
		seq = atomic_load_explicit(&h->seq, memory_order_acquire);
	}
	dp->tx.eth[12] = ETH_P_IP >> 8;
	dp->tx.eth[13] = ETH_P_IP & 0xff;
	ll->sll_family = AF_PACKET;
	ll->sll_protocol = htons(ETH_P_IP);
	ll->sll_halen = 6;
	dp->tx.ll_seq = seq;
	return ll->sll_ifindex != 0;
}

/*
 * Outer IDs: one per-tunnel counter for every outer packet, whichever way it
 * leaves and whichever datapath sends it (the fast path's counter when it
 * runs).  The packet socket fills no ID, and the kernel's IP output keeps a
 * non-zero one (a raw socket with a header: it rewrites only the checksum),
 * so the IDs of this tunnel's source, destination and protocol come from one
 * sequence (RFC 6864: no repeat for DF=0 within a reassembly lifetime; any
 * value for DF=1), and an ICMP error about one of them can be checked
 * against the IDs sent lately.
 */
static void tx_set_ids(struct datapath *dp, unsigned n)
{
	struct dp_tx *t = &dp->tx;

	ss_take_ids(&dp->ss, t->ids, n);
	for (unsigned i = 0; i < n; i++)
		ipv4_set_id(t->ring.msg[i].msg_hdr.msg_iov->iov_base, t->ids[i]);
}

/* Address msg[from..n) to the next hop. */
static void tx_direct(struct datapath *dp, unsigned from, unsigned n)
{
	struct dp_tx *t = &dp->tx;

	for (unsigned i = from; i < n; i++) {
		struct msghdr *m = &t->ring.msg[i].msg_hdr;

		m->msg_name = &t->ll;
		m->msg_namelen = sizeof(t->ll);
		t->on_pkt[i] = true;
	}
}

/* Remote = any: each of msg[0..n) whose peer has a next hop, addressed to it. */
static void tx_direct_peers(struct datapath *dp, unsigned n)
{
	struct dp_tx *t = &dp->tx;
	uint32_t kick = atomic_load_explicit(&dp->peer_kick, memory_order_relaxed);

	for (unsigned i = 0; i < n && dp->peer_hops; i++) {
		struct msghdr *m = &t->ring.msg[i].msg_hdr;
		struct dp_peer_hop *h;

		if (t->to_peer[i] == HUB_NO_PEER)
			continue;
		h = &dp->peer_hops[t->to_peer[i]];
		if (!h->ll.sll_ifindex || atomic_load_explicit(&h->failed, memory_order_relaxed))
			continue;
		if (h->kicked != kick) {
			h->kicked = kick;	/* this one through the kernel */
			continue;
		}
		m->msg_name = &h->ll;
		m->msg_namelen = sizeof(h->ll);
		t->on_pkt[i] = true;
	}
}

/* Back to the kernel's IP output for those of msg[from..n) that were to go direct. */
static void tx_via_kernel(struct datapath *dp, unsigned from, unsigned n)
{
	struct dp_tx *t = &dp->tx;

	for (unsigned i = from; i < n; i++) {
		if (!t->on_pkt[i])
			continue;
		t->on_pkt[i] = false;
		/* Remote = any: each slot names its own peer */
		t->ring.msg[i].msg_hdr.msg_name = dp->peers ? (void *)&t->to[i] : (void *)&dp->remote;
		t->ring.msg[i].msg_hdr.msg_namelen = sizeof(dp->remote);
	}
}

/* Remote = any: the counters of the peers slots [from, from + n) went to. */
static void tx_count_peers(struct datapath *dp, unsigned from, unsigned n, size_t olen)
{
	uint64_t now = now_ns() / 1000000u;

	for (unsigned i = from; i < from + n; i++) {
		uint32_t idx = dp->tx.to_peer[i];
		struct hub_peer *hp;

		if (idx == HUB_NO_PEER)
			continue;
		hp = &dp->peers->peer[idx];
		ctr_add(&hp->tx_packets, 1);
		ctr_add(&hp->tx_bytes, dp->tx.ring.msg[i].msg_hdr.msg_iov->iov_len - olen);
		if (dp->tx.on_pkt[i])
			ctr_add(&hp->tx_direct, 1);
		ctr_set(&hp->last_tx_ms, now);
	}
}

/* A send on the packet socket failed at slot i: the rest through the kernel, the parent told. */
static void tx_direct_failed(struct datapath *dp, unsigned i, unsigned n)
{
	atomic_store_explicit(&dp->hop.failed, true, memory_order_relaxed);
	ctr_add(&dp->tx.direct_failed, 1);
	if (dp->peers && dp->peer_hops)	/* that peer's until the next table */
		atomic_store_explicit(&dp->peer_hops[dp->tx.to_peer[i]].failed, true,
				      memory_order_relaxed);
	tx_via_kernel(dp, i, n);
}

/* Send the tx.n filled slots. */
static void tx_flush(struct datapath *dp)
{
	struct dp_tx *t = &dp->tx;
	struct mmsghdr *msg = t->ring.msg;
	unsigned n = t->n, done = 0;
	uint64_t pkts = 0, bytes = 0, direct = 0;
	bool retried = false;
	size_t olen = ipip_outer_len(dp_params(dp));

	t->n = 0;
	tx_set_ids(dp, n);
	memset(t->on_pkt, 0, sizeof(t->on_pkt));
	if (dp->pkt_fd >= 0 && n >= DP_DIRECT_MIN && dp->peers) {
		tx_direct_peers(dp, n);	/* Remote = any: each peer's next hop */
	} else if (dp->pkt_fd >= 0 && n >= DP_DIRECT_MIN && tx_hop(dp)) {
		/* one packet through the kernel after each dp_set_hop() */
		tx_direct(dp, atomic_exchange_explicit(&dp->hop.kick, false, memory_order_relaxed), n);
	} else if (n) {
		/* through the kernel: that keeps the neighbour entry in use too */
		atomic_store_explicit(&dp->hop.kick, false, memory_order_relaxed);
	}
	while (done < n) {
		bool on_pkt = t->on_pkt[done];
		unsigned end = done + 1;
		int rc;

		while (end < n && t->on_pkt[end] == on_pkt)	/* a run of one way out */
			end++;
		rc = sendmmsg(on_pkt ? dp->pkt_fd : dp->tx_fd, msg + done, end - done, 0);
		if (rc > 0) {
			for (int i = 0; i < rc; i++)
				bytes += msg[done + i].msg_hdr.msg_iov->iov_len - olen;
			if (dp->peers)	/* Remote = any: each peer's */
				tx_count_peers(dp, done, (unsigned)rc, olen);
			pkts += (unsigned)rc;
			if (on_pkt)
				direct += (unsigned)rc;
			done += (unsigned)rc;
			retried = false;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (on_pkt && errno != EMSGSIZE && errno != ENOBUFS && errno != EAGAIN) {
			/* the device went away or down */
			tx_direct_failed(dp, done, n);
			continue;
		}
		if (!retried && transient_icmp_error(errno)) {
			retried = true;
			continue;
		}
		if (errno == EMSGSIZE && !atomic_exchange(&dp->route_check, true))
			dp_event(dp);	/* the route's MTU went down: the owner asks it */
		ctr_add(&t->c.drops[send_error(errno)], 1);
		done++;
		retried = false;
	}
	ctr_add(&t->c.packets, pkts);
	if (pkts)	/* liveness: once a batch */
		atomic_store_explicit(&dp->last_tx_ms, now_ns() / 1000000u, memory_order_relaxed);
	ctr_add(&t->c.bytes, bytes);
	if (direct)
		ctr_add(&t->direct, direct);
}

/* The next free slot (flushing a full ring first): inner packet at +DP_HEAD. */
static uint8_t *tx_slot(struct datapath *dp)
{
	if (dp->tx.n == DP_BATCH)
		tx_flush(dp);
	return dp->tx.ring.buf + (size_t)dp->tx.n * DP_SLOT;
}

static void tx_queue(struct datapath *dp, uint8_t *slot, size_t len);

/*
 * An inner packet larger than the path allows (RFC 2003 5.1, RFC 4459):
 * with DF, "fragmentation needed" with the tunnel MTU goes to its sender;
 * without, it is fragmented before encapsulation (the outer DF stays set).
 */
static void tx_too_big(struct datapath *dp, const uint8_t *pkt, size_t len, unsigned mtu)
{
	static _Thread_local uint8_t copy[0x10000];
	uint8_t icmp[ICMP_FRAG_NEEDED_MAX];
	size_t off = 0, n;

	if (pkt[6] & 0x40) {
		/* rate-limited as the relay is (the kernel's icmp_send is too) */
		n = icmp_frag_needed(icmp, pkt, len, mtu);
		if (n && ss_error_allowed(&dp->ss, false, now_ns()) == SS_SEND)
			dp_tun_inject(dp, icmp, n);
		else if (n)
			ctr_add(&dp->tx.frag_needed_limited, 1);
		ctr_add(&dp->tx.c.drops[PKT_TX_FRAG_NEEDED], 1);
		return;
	}
	memcpy(copy, pkt, len);	/* the slots we write into may hold pkt */
	ctr_add(&dp->frag_sent, 1);
	for (;;) {
		uint8_t *slot = tx_slot(dp);

		n = ipv4_fragment(copy, len, mtu, &off, slot + DP_HEAD);
		if (!n)
			break;
		tx_queue(dp, slot, n);
	}
}

/* Encapsulate the inner packet at slot+DP_HEAD and queue it. */
static void tx_queue(struct datapath *dp, uint8_t *slot, size_t len)
{
	struct dp_tx *t = &dp->tx;
	struct ipip_params tmp;
	const struct ipip_params *p = dp_tx_params(dp, &tmp);
	unsigned pmtu = ss_pmtu(&dp->ss), soft;
	uint8_t *inner = slot + DP_HEAD, *outer = inner - ipip_outer_len(p);
	uint32_t peer = p->remote;	/* Remote = any: each packet's */
	enum pkt_verdict v;
	struct msghdr *m;

	if (len > pmtu && len >= IPV4_HLEN && (inner[0] >> 4) == 4 &&
	    ((size_t)inner[2] << 8 | inner[3]) == len) {
		tx_too_big(dp, inner, len, pmtu);
		return;
	}
	if (p->remote_any && len >= IPV4_HLEN) {
		/* a hub: to the gateway of the route the packet came by (hub.h) */
		uint32_t idx = HUB_NO_PEER;

		memcpy(&peer, inner + 16, 4);
		hub_lookup_memo(dp->hub, dp->hub_gen, &t->memo, peer, &peer, &idx);
		t->to_peer[t->n] = idx;
		if (!ipip_remote_ok(p, peer)) {
			ctr_add(&t->c.drops[PKT_TX_NO_PEER], 1);
			return;
		}
		t->to[t->n] = (struct sockaddr_in){ .sin_family = AF_INET,
						    .sin_addr.s_addr = peer };
	}
	v = ipip_encap_to(p, peer, outer, inner, len);
	if (v != PKT_OK) {
		ctr_add(&t->c.drops[v], 1);
		return;
	}
	soft = ss_flags(&dp->ss);
	if (soft)
		tx_soft_check(dp, outer, inner, len, soft);
	m = &t->ring.msg[t->n].msg_hdr;
	m->msg_name = p->remote_any ? &t->to[t->n] : &dp->remote;
	m->msg_namelen = sizeof(dp->remote);
	t->ring.iov[t->n].iov_base = outer;
	t->ring.iov[t->n].iov_len = len + (size_t)(inner - outer);
	t->n++;
}

static enum pkt_verdict off_verdict(enum off_error e)
{
	switch (e) {
	case OFF_NOT_IPV4: return PKT_TX_NOT_IPV4;
	case OFF_SHORT: return PKT_TX_SHORT;
	case OFF_BAD_IHL: return PKT_TX_IHL;
	default: return PKT_TX_LENGTH;
	}
}

/*
 * UDP encapsulation with UDP checksums, a super-packet from the TUN device
 * and the next hop known: its datagrams leave as UDP GSO frames on the
 * packet socket, up to GSO_SEGS_MAX in one send.  The kernel (or the NIC)
 * cuts each frame into the datagrams this datapath would have sent one by
 * one: the outer header copied, the IDs consecutive from the frame's (taken
 * from the tunnel's counter as for any outer packet), lengths and checksums
 * completed; a veth or a receiver with GRO may keep them whole.  false: not
 * here (soft state to apply, a segment beyond the path MTU, the next hop
 * unknown or due through the kernel): the caller sends them one by one.
 */
static bool tx_udp_gso(struct datapath *dp, struct gso_iter *g)
{
	struct dp_tx *t = &dp->tx;
	struct ipip_params tmp;
	const struct ipip_params *p = dp_tx_params(dp, &tmp);
	const size_t hl = p->encap == ENCAP_GUE ? GUE_HLEN : 0, olen = ipip_outer_len(p);
	const size_t max = gso_seg_max(g), room = 0xffff - IPV4_HLEN - UDP_HLEN;
	struct ipip_params nosum;	/* the frame's checksum is udp_gso_outer()'s, not summed here */
	uint8_t *frame = t->gso + VNET_HLEN, *outer = frame + ETH_HLEN;
	uint8_t *pay = outer + IPV4_HLEN + UDP_HLEN;
	uint64_t pkts = 0, bytes = 0;

	if (dp->gso_fd < 0 || !p->udp_csum || p->encap == ENCAP_IPIP || ss_flags(&dp->ss) ||
	    max > ss_pmtu(&dp->ss) || hl + max > room || !tx_hop(dp) ||
	    atomic_load_explicit(&dp->hop.kick, memory_order_relaxed))
		return false;
	nosum = *p;
	nosum.udp_csum = false;
	if (t->n)
		tx_flush(dp);	/* what is queued leaves first */
	memcpy(frame, t->eth, ETH_HLEN);
	for (;;) {
		struct virtio_net_hdr h = { 0 };
		struct iovec iov;
		struct msghdr m = { .msg_name = &t->ll, .msg_namelen = sizeof(t->ll),
				    .msg_iov = &iov, .msg_iovlen = 1 };
		size_t total = 0, seg = 0, n = 0, inner = 0;
		unsigned nseg = 0;
		ssize_t rc;

		/* equal datagrams, but the last one shorter: the segmenter's rule */
		while (nseg < GSO_SEGS_MAX && n == seg && total + hl + max <= room) {
			uint8_t *in = pay + total + hl;
			enum pkt_verdict v;

			n = gso_next(g, in, max);
			if (!n)
				break;
			if (!nseg) {
				v = ipip_encap(&nosum, in - olen, in, n);
				if (v != PKT_OK) {
					ctr_add(&t->c.drops[v], 1);
					n = seg;	/* so the next one is a first too */
					continue;
				}
				seg = n;
			} else if (hl) {
				memcpy(in - hl, pay, hl);
			}
			total += hl + n;
			inner += n;
			nseg++;
		}
		if (!nseg)
			break;
		udp_gso_outer(outer, total);
		ipv4_set_id(outer, ss_take_id_run(&dp->ss, nseg));
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = ETH_HLEN + IPV4_HLEN;
		h.csum_offset = 6;	/* the UDP checksum */
		if (nseg > 1) {
			h.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
			h.gso_size = (uint16_t)(hl + seg);
			h.hdr_len = ETH_HLEN + IPV4_HLEN + UDP_HLEN;
		}
		memcpy(t->gso, &h, sizeof(h));
		iov.iov_base = t->gso;
		iov.iov_len = VNET_HLEN + ETH_HLEN + IPV4_HLEN + UDP_HLEN + total;
		do
			rc = sendmsg(dp->gso_fd, &m, 0);
		while (rc < 0 && errno == EINTR);
		if (rc < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EMSGSIZE) {
				atomic_store_explicit(&dp->hop.failed, true, memory_order_relaxed);
				ctr_add(&t->direct_failed, 1);
			}
			ctr_add(&t->c.drops[send_error(errno)], nseg);
			continue;
		}
		pkts += nseg;
		bytes += inner;
	}
	if (pkts) {
		ctr_add(&t->c.packets, pkts);
		ctr_add(&t->c.bytes, bytes);
		ctr_add(&t->direct, pkts);
		ctr_add(&t->udp_gso, pkts);
		atomic_store_explicit(&dp->last_tx_ms, now_ns() / 1000000u, memory_order_relaxed);
	}
	return true;
}

/* One packet read with a virtio_net_hdr in front: split or checksum, then queue. */
static void tx_vnet(struct datapath *dp, uint8_t *buf, size_t len)
{
	struct virtio_net_hdr h;
	uint8_t *pkt = buf + VNET_HLEN, *slot;
	struct gso_iter g;
	enum off_error e;
	size_t seg;

	memcpy(&h, buf, sizeof(h));
	len -= VNET_HLEN;
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			e = off_csum_complete(pkt, len, &h);
			if (e != OFF_OK) {
				ctr_add(&dp->tx.c.drops[off_verdict(e)], 1);
				return;
			}
		}
		slot = tx_slot(dp);
		memcpy(slot + DP_HEAD, pkt, len);
		tx_queue(dp, slot, len);
		return;
	}
	e = gso_begin(&g, &h, pkt, len);
	if (e != OFF_OK) {
		ctr_add(&dp->tx.c.drops[off_verdict(e)], 1);
		return;
	}
	ctr_add(&dp->tx.c.offload, 1);
	if (tx_udp_gso(dp, &g))
		return;
	for (;;) {
		slot = tx_slot(dp);
		seg = gso_next(&g, slot + DP_HEAD, DP_SLOT - DP_HEAD);
		if (seg == 0)
			break;
		tx_queue(dp, slot, seg);
	}
}

/* What read() can give, at most max packets: read into a slot's room, or (offloads) into t->in. */
static int read_round(struct datapath *dp, int max)
{
	struct dp_tx *t = &dp->tx;
	uint64_t reads = 0;
	int got = 0;

	for (;;) {
		uint8_t *dst = dp->vnet ? t->in : tx_slot(dp) + DP_HEAD;
		size_t cap = dp->vnet ? TX_IN_SIZE : DP_SLOT - DP_HEAD;
		ssize_t len = read(dp->tun_fd, dst, cap);

		reads++;
		if (len < 0) {
			if (errno == EINTR)
				continue;
			break;	/* EAGAIN: drained */
		}
		got++;
		if (!dp->vnet)
			tx_queue(dp, dst - DP_HEAD, (size_t)len);
		else if ((size_t)len < VNET_HLEN)
			ctr_add(&t->c.drops[PKT_TX_SHORT], 1);
		else
			tx_vnet(dp, dst, (size_t)len);
		/* A full ring was flushed by tx_slot(); stop after a few to let rx run. */
		if (got >= max)
			break;
	}
	if (t->n)
		tx_flush(dp);
	ctr_add(&t->c.syscalls, reads);
	return got;
}

/* Take what the ring has read (at most max packets); returns how many. */
static int uring_take(struct datapath *dp, int max)
{
	struct dp_tx *t = &dp->tx;
	uint8_t *buf, *slot;
	ssize_t len;
	int got = 0;

	while (got < max && (len = dp_uring_take(dp->uring, &buf)) != 0) {
		if (len < 0)
			continue;	/* the read ended: armed again by the next pass */
		got++;
		if (!dp->vnet) {
			slot = tx_slot(dp);
			memcpy(slot + DP_HEAD, buf, (size_t)len);
			tx_queue(dp, slot, (size_t)len);
		} else if ((size_t)len < VNET_HLEN) {
			ctr_add(&t->c.drops[PKT_TX_SHORT], 1);
		} else {
			tx_vnet(dp, buf, (size_t)len);
		}
		dp_uring_give(dp->uring, buf);
	}
	return got;
}

/* The ring's read cancelled, and what it had read taken; returns how many. */
static int uring_drain(struct datapath *dp)
{
	int rc = dp_uring_cancel(dp->uring);

	if (rc < 0)
		log_warnc(rc, "io_uring: the TUN device's read not cancelled");
	return uring_take(dp, DP_URING_BUFS);
}

/*
 * The tx thread's ring: passes, each one system call (the read armed again
 * if it ended, the deferred reads done, their completions taken), until a
 * round has as many packets as read_round() would take, or a pass finds
 * none.  The multishot read ends whenever its buffers are all taken
 * (ENOBUFS): a round of a single pass would leave the device's queue full
 * while the thread lingers.
 */
static int uring_round(struct datapath *dp, bool eager)
{
	struct dp_tx *t = &dp->tx;
	uint64_t passes = 0;
	int got = 0, n, rc;

	/*
	 * The thread was idle: the first packet is read by read() and sent at
	 * once, as a lone packet costs less that way than through the ring.
	 * Only while the ring holds no packet read before it (the order kept).
	 */
	if (eager && !dp_uring_waiting(dp->uring))
		got = read_round(dp, 1);
	do {
		rc = dp_uring_pass(dp->uring, dp->tun_fd);
		passes++;
		n = uring_take(dp, DP_ROUNDS * DP_BATCH - got);
		got += n;
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			log_warnc(rc, "io_uring: TUN reads by read() from now on");
			got += uring_drain(dp);
			atomic_store(&dp->uring_on, false);
			break;
		}
	} while (n > 0 && got < DP_ROUNDS * DP_BATCH);
	if (t->n)
		tx_flush(dp);
	ctr_add(&t->c.syscalls, passes);
	return got;
}

int dp_tun_to_net(struct datapath *dp, bool eager)
{
	return atomic_load_explicit(&dp->uring_on, memory_order_relaxed) ? uring_round(dp, eager) :
	       read_round(dp, DP_ROUNDS * DP_BATCH);
}

int dp_tun_reply(struct datapath *dp)
{
	if (atomic_load_explicit(&dp->uring_on, memory_order_relaxed)) {
		if (dp_uring_waiting(dp->uring))
			return 0;	/* those go first: the tx thread's next round */
		if (dp_uring_quiet(dp->uring))
			return 0;	/* nothing came: no read() to find the device empty */
	}
	return read_round(dp, DP_ROUNDS * DP_BATCH);
}

void dp_tun_quiesce(struct datapath *dp)
{
	if (!atomic_load_explicit(&dp->uring_on, memory_order_relaxed))
		return;
	uring_drain(dp);
	if (dp->tx.n)
		tx_flush(dp);
}

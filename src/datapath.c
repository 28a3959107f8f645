/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "datapath.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

#define ECN_LOG_BUDGET 16
#define TX_IN_SIZE (VNET_HLEN + 0x10000)	/* one TUN read, super-packets included */
#define GSO_FRAME (VNET_HLEN + ETH_HLEN + 0x10000)	/* one UDP GSO frame */
#define GSO_SEGS_MAX 64		/* datagrams in one UDP GSO frame (the kernel's UDP_MAX_SEGMENTS) */
#define DP_ROUNDS 8				/* batches per wakeup before polling again */

_Static_assert(DP_BATCH <= GRO_MAX, "one received batch must fit the GRO table");

/* ---- counters: one writer (the direction's thread), relaxed readers ------ */

static inline void ctr_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void ctr_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t ctr_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

static uint64_t now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void dp_stats_read(const struct datapath *dp, struct dp_stats *out)
{
	const struct dp_counters *t = &dp->tx.c, *r = &dp->rx.c;
	struct ss_view ss;

	memset(out, 0, sizeof(*out));
	out->rx_packets = ctr_get(&r->packets);
	out->rx_bytes = ctr_get(&r->bytes);
	out->tx_packets = ctr_get(&t->packets);
	out->tx_bytes = ctr_get(&t->bytes);
	out->tx_direct = ctr_get(&dp->tx.direct);
	out->tx_direct_failed = ctr_get(&dp->tx.direct_failed);
	for (int v = 0; v < PKT_VERDICT_MAX; v++)
		out->drops[v] = ctr_get(&t->drops[v]) + ctr_get(&r->drops[v]);
	out->ecn_unusual = ctr_get(&r->ecn_unusual);
	out->icmp_errors = ctr_get(&r->icmp_errors);
	out->last_icmp_type = ctr_get(&r->last_icmp_type);
	out->last_icmp_code = ctr_get(&r->last_icmp_code);
	out->last_icmp_info = ctr_get(&r->last_icmp_info);
	out->tun_reads = ctr_get(&t->syscalls);
	out->tun_writes = ctr_get(&r->syscalls);
	out->gso_packets = ctr_get(&t->offload);
	out->gro_writes = ctr_get(&r->offload);
	out->gro_csum_bad = ctr_get(&r->csum_bad);
	out->udp_coalesced = ctr_get(&r->udp_coalesced);
	out->udp_gso = ctr_get(&dp->tx.udp_gso);
	out->frag_sent = ctr_get(&dp->frag_sent);
	out->icmp_relayed = ctr_get(&dp->rx.icmp_relayed);
	out->icmp_relay_limited = ctr_get(&dp->rx.icmp_relay_limited);
	ss_read((struct softstate *)&dp->ss, now_seconds(), &ss);
	out->path_mtu = ss.pmtu;
	out->path_ttl = ss.path_ttl;
	out->reachable = !ss.unreachable;
	out->unreachable_age = ss.unreachable_age;
	out->errors_owed = ss.credit;
	out->soft_ttl_sent = ctr_get(&dp->tx.soft_ttl_sent);
	out->soft_unreach_sent = ctr_get(&dp->tx.soft_unreach_sent);
	out->soft_limited = ctr_get(&dp->tx.soft_limited);
	out->frag_needed_limited = ctr_get(&dp->tx.frag_needed_limited);
}

/* ---- buffers ------------------------------------------------------------- */

static int ring_init(struct dp_ring *r)
{
	/* Untouched pages cost no memory: slots are only as resident as the packets in them. */
	r->buf = mmap(NULL, (size_t)DP_BATCH * DP_SLOT, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->buf == MAP_FAILED) {
		r->buf = NULL;
		return -errno;
	}
	memset(r->msg, 0, sizeof(r->msg));
	for (int i = 0; i < DP_BATCH; i++) {
		r->iov[i].iov_base = r->buf + (size_t)i * DP_SLOT;
		r->iov[i].iov_len = DP_SLOT;
		r->msg[i].msg_hdr.msg_iov = &r->iov[i];
		r->msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void ring_free(struct dp_ring *r)
{
	if (r->buf)
		munmap(r->buf, (size_t)DP_BATCH * DP_SLOT);
	r->buf = NULL;
}

/* IPIPD_OFFLOAD / IPIPD_GRO = off|0|no switch a feature off (tests, measurements). */
static bool env_off(const char *name)
{
	const char *v = getenv(name);

	return v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no"));
}

int dp_prepare(struct dp_fds *f, int tun_fd, int raw_fd, bool direct, bool gso)
{
	unsigned feats = 0;
	int rc;

	memset(f, 0, sizeof(*f));
	f->tun = tun_fd;
	f->raw = raw_fd;
	f->udp = -1;
	f->pkt = f->gso = -1;
	f->tx = env_off("IPIPD_TX_SOCKET") ? -1 : raw_open_tx();
	if (f->tx < 0)
		f->tx = -1;	/* the raw socket sends */
	f->vnet = tun_has_vnet_hdr(tun_fd) > 0;
	if (f->vnet) {
		rc = tun_set_offload(tun_fd, &feats);
		if (rc < 0)
			log_debug("TUN offloads: %s", strerror(-rc));
		if (!env_off("IPIPD_GRO")) {
			f->gro_flags = GRO_TCP;
			if (feats & TUN_F_USO4_)
				f->gro_flags |= GRO_UDP;
		}
		log_debug("TUN offloads 0x%x, GRO 0x%x", feats, f->gro_flags);
	}
	if (direct) {
		f->pkt = packet_open_tx();
		if (f->pkt < 0) {
			log_warnc(f->pkt,
				  "no packet socket: outer packets go through the kernel's IP output");
			f->pkt = -1;
		}
	}
	/* UDP GSO: where the TUN device gives super-packets and they go direct */
	if (f->pkt >= 0 && f->vnet && gso && !env_off("IPIPD_UDP_GSO")) {
		f->gso = packet_open_gso();
		if (f->gso < 0) {
			log_warnc(f->gso, "no packet socket for UDP GSO: each datagram is sent on its own");
			f->gso = -1;
		}
	}
	return 0;
}

/* A buffer of len bytes, resident only as far as it is written; 0 or -errno. */
static int buf_map(uint8_t **buf, size_t len)
{
	void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED) {
		*buf = NULL;
		return -errno;
	}
	*buf = b;
	return 0;
}

int dp_init(struct datapath *dp, const struct ipip_params *p, const struct dp_fds *f,
	    const struct ss_limits *lim, _Atomic uint32_t *ids)
{
	int rc;

	memset(dp, 0, sizeof(*dp));
	dp->inited = true;
	dp->hub_gen = 1;	/* (an empty memo has generation 0) */
	atomic_store(&dp->p, p);
	dp->tun_fd = f->tun;
	dp->raw_fd = f->raw;
	dp->udp_fd = f->udp;
	dp->tx_fd = f->tx >= 0 ? f->tx : f->raw;
	dp->pkt_fd = f->pkt;
	dp->gso_fd = f->gso;
	dp->vnet = f->vnet;
	dp->gro_flags = f->gro_flags;
	dp->stop_fd = dp->event_fd = -1;
	dp->mtu = lim->mtu;
	dp->rx.gro.mtu = lim->mtu;
	if (!ids) {
		atomic_store(&dp->own_ids, (uint32_t)now_ns());
		ids = &dp->own_ids;
	}
	ss_init(&dp->ss, lim, ids);
	dp->linger_ns = DP_LINGER_US * 1000;
	if (getenv("IPIPD_LINGER_US"))	/* measurements: 0 switches it off */
		dp->linger_ns = strtol(getenv("IPIPD_LINGER_US"), NULL, 10) * 1000;
	if (dp->linger_ns < 0 || dp->linger_ns >= 1000000000)
		dp->linger_ns = 0;
	dp->rx.ecn_log_budget = ECN_LOG_BUDGET;
	dp->remote.sin_family = AF_INET;
	dp->remote.sin_addr.s_addr = p->remote;
	rc = -pthread_mutex_init(&dp->tx_lock, NULL);
	dp->tx_lock_made = rc == 0;
	if (rc == 0) {
		rc = -pthread_mutex_init(&dp->rx_lock, NULL);
		dp->rx_lock_made = rc == 0;
	}
	if (rc == 0)
		rc = ring_init(&dp->rx.ring);
	if (rc == 0)
		rc = ring_init(&dp->tx.ring);
	if (rc == 0)
		rc = buf_map(&dp->tx.in, TX_IN_SIZE);
	if (rc == 0)
		rc = buf_map(&dp->tx.gso, GSO_FRAME);
	if (rc == 0 && p->remote_any)
		rc = buf_map((uint8_t **)&dp->peers, sizeof(*dp->peers));
	if (rc == 0) {
		dp->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		dp->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dp->stop_fd < 0 || dp->event_fd < 0)
			rc = -errno;
	}
	if (rc < 0)
		dp_free(dp);
	return rc;
}

void dp_free(struct datapath *dp)
{
	if (!dp->inited)
		return;
	dp_stop(dp);
	ring_free(&dp->rx.ring);
	ring_free(&dp->tx.ring);
	if (dp->tx.in)
		munmap(dp->tx.in, TX_IN_SIZE);
	dp->tx.in = NULL;
	if (dp->tx.gso)
		munmap(dp->tx.gso, GSO_FRAME);
	dp->tx.gso = NULL;
	if (dp->peers)
		munmap(dp->peers, sizeof(*dp->peers));
	dp->peers = NULL;
	if (dp->stop_fd >= 0)
		close(dp->stop_fd);
	if (dp->event_fd >= 0)
		close(dp->event_fd);
	dp->stop_fd = dp->event_fd = -1;
	if (dp->tx_fd >= 0 && dp->tx_fd != dp->raw_fd)
		close(dp->tx_fd);
	if (dp->pkt_fd >= 0)
		close(dp->pkt_fd);
	if (dp->gso_fd >= 0)
		close(dp->gso_fd);
	if (dp->udp_fd >= 0)
		close(dp->udp_fd);
	dp->pkt_fd = dp->gso_fd = dp->udp_fd = -1;
	dp->tx_fd = -1;
	if (dp->tx_lock_made)
		pthread_mutex_destroy(&dp->tx_lock);
	dp->tx_lock_made = false;
	if (dp->rx_lock_made)
		pthread_mutex_destroy(&dp->rx_lock);
	dp->rx_lock_made = false;
	hub_free(dp->hub);
	dp->hub = NULL;
	free(dp->peer_hops);
	dp->peer_hops = NULL;
	dp->inited = false;
}

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
static const struct ipip_params *tx_params(struct datapath *dp, struct ipip_params *tmp)
{
	const struct ipip_params *p = dp_params(dp);

	if (!p->learn_port)
		return p;
	*tmp = *p;
	tmp->remote_port = dp_remote_port(dp);
	return tmp;
}

/* Wake the owner: the soft state moved (a datapath thread, rarely). */
static void dp_event(struct datapath *dp)
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
	const struct ipip_params *p = tx_params(dp, &tmp);
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

int dp_replace_fds(struct datapath *dp, const struct dp_fds *f)
{
	bool running = dp->tx_started || dp->rx_started;
	int rc = 0;

	dp_stop(dp);
	if (dp->tx_fd >= 0 && dp->tx_fd != dp->raw_fd)
		close(dp->tx_fd);
	if (dp->pkt_fd >= 0)
		close(dp->pkt_fd);
	if (dp->gso_fd >= 0)
		close(dp->gso_fd);
	if (dp->raw_fd >= 0)
		close(dp->raw_fd);
	if (dp->udp_fd >= 0 && f->udp >= 0)	/* none: the same (a new Remote only) */
		close(dp->udp_fd);
	if (dp->tun_fd >= 0 && dp->tun_fd != f->tun)
		close(dp->tun_fd);
	dp->tun_fd = f->tun;
	dp->raw_fd = f->raw;
	if (f->udp >= 0)
		dp->udp_fd = f->udp;
	dp->tx_fd = f->tx >= 0 ? f->tx : f->raw;
	dp->pkt_fd = f->pkt;
	dp->gso_fd = f->gso;
	dp->tx.ll_seq = 0;	/* the next hop is looked up again */
	if (running)
		rc = dp_start(dp);
	return rc;
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
static void tun_inject(struct datapath *dp, const uint8_t *pkt, size_t len)
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
	tun_inject(dp, icmp, n);
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
			tun_inject(dp, icmp, n);
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
	const struct ipip_params *p = tx_params(dp, &tmp);
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
	const struct ipip_params *p = tx_params(dp, &tmp);
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

int dp_tun_to_net(struct datapath *dp)
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
		if (got >= DP_ROUNDS * DP_BATCH)
			break;
	}
	if (t->n)
		tx_flush(dp);
	ctr_add(&t->c.syscalls, reads);
	return got;
}

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
	size_t n = icmp_relay_encap(tx_params(dp, &tmp), icmp, ee->ee_type, ee->ee_code, info,
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
	tun_inject(dp, icmp, n);
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
			v = ss_icmp(&dp->ss, tx_params(dp, &tmp), ee->ee_type, ee->ee_code, ee->ee_info, data,
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

/* ---- threads ------------------------------------------------------------- */

/*
 * Wait until fd has events, or err_fd (if not -1) an error (or stop);
 * returns the revents of both (POLLERR for err_fd's error), -1 on stop.
 */
static int wait_fds(struct datapath *dp, int fd, int err_fd)
{
	struct pollfd pfd[3] = {
		{ .fd = dp->stop_fd, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
		{ .fd = err_fd, .events = 0 },
	};

	for (;;) {
		if (poll(pfd, err_fd >= 0 ? 3 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("datapath poll");
			return -1;
		}
		if (pfd[0].revents)
			return -1;
		if (err_fd < 0)
			return pfd[1].revents;
		/* a pending error on fd itself: the next receive returns (and clears) it */
		return (pfd[1].revents & POLLERR ? POLLIN : 0) | (pfd[1].revents & ~POLLERR) |
		       (pfd[2].revents & POLLERR);
	}
}

static int wait_fd(struct datapath *dp, int fd)
{
	return wait_fds(dp, fd, -1);
}

/*
 * Interrupt coalescing, in userspace: after a round that moved packets, the
 * thread sleeps dp->linger_ns and looks again instead of going back to poll().
 * While traffic flows it is then never on the fd's wait queue, so the sender
 * (a local application on this core, or the peer's thread on another core:
 * an IPI, dear in a VM) does not pay for waking it, and each round finds a
 * larger batch.  An idle fd is still waited for with poll(): no latency is
 * added there, nor after a round of a single packet (request/response
 * traffic: the answer must not wait out a sleep) unless the thread was woken
 * within DP_BUSY_GAP_NS of going idle (a flow of packets that arrive one at
 * a time because the thread keeps up with them: without this rule a thread
 * with a higher priority than the sender on its core is woken, and preempts
 * the sender, for every packet).  A round that hit its limit left packets
 * queued: the next one follows without a sleep.  Bounded, so that poll()
 * sees stop_fd and the error queue.
 */
#define DP_LINGER_MIN 2
#define DP_BUSY_GAP_NS 20000	/* woken this soon after going idle: traffic is flowing */
static void linger(struct datapath *dp, int (*round)(struct datapath *), int got)
{
	struct timespec ts = { 0, dp->linger_ns };

	for (int i = 0; dp->linger_ns && i < DP_LINGER_ROUNDS; i++) {
		if (got < DP_ROUNDS * DP_BATCH)
			nanosleep(&ts, NULL);
		got = round(dp);
		if (got == 0)
			return;
	}
}

/* A round of tx: by the tx thread, or by the rx thread in reply_round(). */
static int tx_round(struct datapath *dp)
{
	int got;

	pthread_mutex_lock(&dp->tx_lock);
	got = dp_tun_to_net(dp);
	pthread_mutex_unlock(&dp->tx_lock);
	return got;
}

static void *tx_main(void *arg)
{
	struct datapath *dp = arg;
	uint64_t idle = 0;
	int ev, got;

	while ((ev = wait_fd(dp, dp->tun_fd)) >= 0) {
		bool busy = now_ns() - idle < DP_BUSY_GAP_NS;

		if (!(ev & POLLIN) && ev & (POLLERR | POLLHUP | POLLNVAL)) {
			/*
			 * The device was removed under us (`ip link del`): every
			 * read fails at once.  The owner sees the device go and
			 * stops the tunnel; until then, wait for that alone.
			 */
			log_warnx("the TUN device is gone: no more packets to send");
			wait_fd(dp, -1);
			break;
		}
		got = tx_round(dp);
		if (got >= DP_LINGER_MIN || (busy && got > 0))
			linger(dp, tx_round, got);
		idle = now_ns();
	}
	return NULL;
}

/*
 * After a lone packet was written to the TUN device, the rx thread sends what
 * the device has for the underlay by then.  A packet for this host is taken
 * in by the kernel within the write(), and its answer (an echo reply, a
 * request-response protocol's response) is queued on the device before the
 * write returns: sent from here, it does not wait for the tx thread to be
 * woken, which on an idle machine (and in a VM above all) is the larger part
 * of the round trip.  Nothing there: one read() that finds the device empty.
 * Not while the tx thread is in a round (the device is being drained), nor
 * after a batch (bulk traffic: the rx thread goes back to its socket).
 */
static void reply_round(struct datapath *dp)
{
	if (pthread_mutex_trylock(&dp->tx_lock) != 0)
		return;
	dp_tun_to_net(dp);
	pthread_mutex_unlock(&dp->tx_lock);
}

static int rx_rounds(struct datapath *dp)
{
	int got = 0, n;

	pthread_mutex_lock(&dp->rx_lock);
	for (int i = 0; i < DP_ROUNDS; i++) {
		n = dp_net_to_tun(dp);
		got += n;
		if (n < DP_BATCH)
			break;
	}
	pthread_mutex_unlock(&dp->rx_lock);
	return got;
}

void dp_set_hub(struct datapath *dp, struct hub_table *t)
{
	struct hub_table *old;

	/* no round of either direction holds the old table past this */
	pthread_mutex_lock(&dp->tx_lock);
	pthread_mutex_lock(&dp->rx_lock);
	old = dp->hub;
	dp->hub = t;
	dp->hub_gen++;	/* the threads' memos are of the old table */
	pthread_mutex_unlock(&dp->rx_lock);
	pthread_mutex_unlock(&dp->tx_lock);
	hub_free(old);
}

void dp_set_peer_hops(struct datapath *dp, struct dp_peer_hop *hops)
{
	struct dp_peer_hop *old;

	/* no round of tx holds the old table past this */
	pthread_mutex_lock(&dp->tx_lock);
	old = dp->peer_hops;
	dp->peer_hops = hops;
	pthread_mutex_unlock(&dp->tx_lock);
	free(old);
	dp_kick_peers(dp);	/* each peer's first packet through the kernel */
}

void dp_kick_peers(struct datapath *dp)
{
	atomic_fetch_add_explicit(&dp->peer_kick, 1, memory_order_relaxed);
}

int dp_peer_hop(struct datapath *dp, uint32_t idx)
{
	const struct dp_peer_hop *h = dp->peer_hops && idx < HUB_PEERS_MAX ? &dp->peer_hops[idx] : NULL;

	return h && dp->pkt_fd >= 0 && !atomic_load_explicit(&h->failed, memory_order_relaxed) ?
	       h->ll.sll_ifindex : 0;
}

static void *rx_main(void *arg)
{
	struct datapath *dp = arg;
	uint64_t idle = 0;
	int ev, got;

	/* UDP encapsulation: datagrams on the UDP socket, errors on the raw one */
	while ((ev = dp->udp_fd >= 0 ? wait_fds(dp, dp->udp_fd, dp->raw_fd) :
		     wait_fd(dp, dp->raw_fd)) >= 0) {
		bool busy = now_ns() - idle < DP_BUSY_GAP_NS;

		if (ev & POLLERR)
			dp_read_errors(dp);
		if (!(ev & POLLIN))
			continue;
		got = rx_rounds(dp);
		if (got >= DP_LINGER_MIN || (busy && got > 0))
			linger(dp, rx_rounds, got);
		else if (got > 0)
			reply_round(dp);
		idle = now_ns();
	}
	return NULL;
}

static int spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	sigset_t all, old;
	int rc;

	/* Signals stay with the control thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 << 10);
	rc = pthread_create(th, &a, fn, arg);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

int dp_start(struct datapath *dp)
{
	int rc;

	if (dp->stop_fd < 0)
		return -EINVAL;
	rc = spawn(&dp->rx_thread, rx_main, dp);
	if (rc == 0) {
		dp->rx_started = true;
		rc = spawn(&dp->tx_thread, tx_main, dp);
	}
	if (rc == 0)
		dp->tx_started = true;
	else
		dp_stop(dp);
	return rc;
}

void dp_stop(struct datapath *dp)
{
	uint64_t one = 1;

	if (!dp->tx_started && !dp->rx_started)
		return;
	if (write(dp->stop_fd, &one, sizeof(one)) < 0)
		log_warn("datapath stop");
	if (dp->tx_started)
		pthread_join(dp->tx_thread, NULL);
	if (dp->rx_started)
		pthread_join(dp->rx_thread, NULL);
	dp->tx_started = dp->rx_started = false;
	/* read the stop back: threads started again (dp_replace_fds) must not see it */
	if (read(dp->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("datapath stop");
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The userspace datapath: its buffers, its setup and its two threads.  What
 * each thread does is in dp_tx.c (TUN device -> underlay) and dp_rx.c
 * (underlay -> TUN device); what they share, in dp_int.h.
 */
#include "dp_int.h"

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

bool dp_env_off(const char *name)
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
	f->tx = dp_env_off("IPIPD_TX_SOCKET") ? -1 : raw_open_tx();
	if (f->tx < 0)
		f->tx = -1;	/* the raw socket sends */
	f->vnet = tun_has_vnet_hdr(tun_fd) > 0;
	if (f->vnet) {
		rc = tun_set_offload(tun_fd, &feats);
		if (rc < 0)
			log_debug("TUN offloads: %s", strerror(-rc));
		if (!dp_env_off("IPIPD_GRO")) {
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
	if (f->pkt >= 0 && f->vnet && gso && !dp_env_off("IPIPD_UDP_GSO")) {
		f->gso = packet_open_gso();
		if (f->gso < 0) {
			log_warnc(f->gso, "no packet socket for UDP GSO: each datagram is sent on its own");
			f->gso = -1;
		}
	}
	return 0;
}

struct dp_uring *dp_ring_new(const char **why)
{
	if (dp_env_off("IPIPD_URING")) {
		*why = "switched off (IPIPD_URING)";
		return NULL;
	}
	return dp_uring_new(why);
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
	dp->uring = f->uring;
	dp->uring_why = f->uring_why ? f->uring_why : "no ring";
	dp->remote.sin_family = AF_INET;
	dp->remote.sin_addr.s_addr = p->remote;
	rc = -pthread_mutex_init(&dp->tx_lock, NULL);
	dp->tx_lock_made = rc == 0;
	if (rc == 0) {
		rc = -pthread_mutex_init(&dp->park_lock, NULL);
		if (rc == 0 && (rc = -pthread_cond_init(&dp->park_cond, NULL)) < 0)
			pthread_mutex_destroy(&dp->park_lock);
		dp->park_made = rc == 0;
	}
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
	if (rc == 0 && dp->uring) {
		/* a plain TUN device's packets go straight into a slot's room */
		rc = dp_uring_setup(dp->uring, dp->vnet ? TX_IN_SIZE : DP_SLOT - DP_HEAD, &dp->uring_why);
		if (rc < 0) {
			dp_uring_free(dp->uring);
			dp->uring = NULL;
			rc = 0;
		}
	}
	if (rc < 0)
		dp_free(dp);
	else if (dp->uring)
		log_info("TUN reads: io_uring, a multishot read into %d buffers", DP_URING_BUFS);
	else
		log_info("TUN reads: read(), one a packet: %s", dp->uring_why);
	return rc;
}

/* The sockets outer packets leave by (the raw socket, if one of them, stays). */
static void close_send_fds(struct datapath *dp)
{
	if (dp->tx_fd >= 0 && dp->tx_fd != dp->raw_fd)
		close(dp->tx_fd);
	if (dp->pkt_fd >= 0)
		close(dp->pkt_fd);
	if (dp->gso_fd >= 0)
		close(dp->gso_fd);
	dp->tx_fd = dp->pkt_fd = dp->gso_fd = -1;
}

void dp_free(struct datapath *dp)
{
	if (!dp->inited)
		return;
	dp_stop(dp);
	dp_uring_free(dp->uring);
	dp->uring = NULL;
	atomic_store(&dp->uring_on, false);
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
	close_send_fds(dp);
	if (dp->udp_fd >= 0)
		close(dp->udp_fd);
	dp->udp_fd = -1;
	if (dp->tx_lock_made)
		pthread_mutex_destroy(&dp->tx_lock);
	dp->tx_lock_made = false;
	if (dp->rx_lock_made)
		pthread_mutex_destroy(&dp->rx_lock);
	dp->rx_lock_made = false;
	if (dp->park_made) {
		pthread_cond_destroy(&dp->park_cond);
		pthread_mutex_destroy(&dp->park_lock);
	}
	dp->park_made = false;
	hub_free(dp->hub);
	dp->hub = NULL;
	free(dp->peer_hops);
	dp->peer_hops = NULL;
	dp->inited = false;
}

static void dp_pause(struct datapath *dp);
static void dp_resume(struct datapath *dp);

int dp_replace_fds(struct datapath *dp, const struct dp_fds *f)
{
	dp_pause(dp);
	close_send_fds(dp);
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
	dp_resume(dp);
	return 0;
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

/* A round of tx; eager: the thread was idle (see dp_tun_to_net()). */
static int tx_round_of(struct datapath *dp, bool eager)
{
	int got;

	pthread_mutex_lock(&dp->tx_lock);
	got = dp_tun_to_net(dp, eager);
	pthread_mutex_unlock(&dp->tx_lock);
	return got;
}

/* A round of tx while the thread lingers. */
static int tx_round(struct datapath *dp)
{
	return tx_round_of(dp, false);
}

/*
 * A thread after stop_fd: true to go on (dp_pause() parked it and
 * dp_resume() let it go, the descriptors maybe others now), false to end
 * (dp_stop()).
 */
static bool park(struct datapath *dp)
{
	bool go;

	pthread_mutex_lock(&dp->park_lock);
	dp->parked++;
	pthread_cond_broadcast(&dp->park_cond);
	while (dp->pause && !dp->quit)
		pthread_cond_wait(&dp->park_cond, &dp->park_lock);
	dp->parked--;
	go = !dp->quit;
	pthread_mutex_unlock(&dp->park_lock);
	return go;
}

/* The tx thread, first: its ring enabled, which makes it the ring's submitter. */
static void tx_uring_enable(struct datapath *dp)
{
	int rc;

	if (!dp->uring)
		return;
	rc = dp_uring_enable(dp->uring);
	if (rc < 0) {
		log_warnc(rc, "io_uring: the ring could not be enabled: TUN reads by read()");
		return;
	}
	pthread_mutex_lock(&dp->tx_lock);
	atomic_store(&dp->uring_on, true);
	pthread_mutex_unlock(&dp->tx_lock);
}

/* The tx thread, before it parks or ends: no read of the TUN device left armed. */
static void tx_quiesce(struct datapath *dp)
{
	pthread_mutex_lock(&dp->tx_lock);
	dp_tun_quiesce(dp);
	pthread_mutex_unlock(&dp->tx_lock);
}

static void tx_loop(struct datapath *dp)
{
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
		got = tx_round_of(dp, !busy);
		if (got >= DP_LINGER_MIN || (busy && got > 0))
			linger(dp, tx_round, got);
		idle = now_ns();
	}
}

static void *tx_main(void *arg)
{
	struct datapath *dp = arg;

	tx_uring_enable(dp);
	do {
		tx_loop(dp);
		tx_quiesce(dp);
	} while (park(dp));
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
 * after a batch (bulk traffic: the rx thread goes back to its socket), nor
 * (dp_tun_reply) while the tx thread's ring holds packets read before.
 */
static void reply_round(struct datapath *dp)
{
	if (pthread_mutex_trylock(&dp->tx_lock) != 0)
		return;
	dp_tun_reply(dp);
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

static void rx_loop(struct datapath *dp)
{
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
}

static void *rx_main(void *arg)
{
	struct datapath *dp = arg;

	do
		rx_loop(dp);
	while (park(dp));
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

/* stop_fd read back: threads that go on, or start again, must not see it. */
static void stop_taken(struct datapath *dp)
{
	uint64_t one;

	if (read(dp->stop_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("datapath stop");
}

static void stop_told(struct datapath *dp)
{
	uint64_t one = 1;

	if (write(dp->stop_fd, &one, sizeof(one)) < 0)
		log_warn("datapath stop");
}

/* The threads parked (out of their rounds and polls) until dp_resume(). */
static void dp_pause(struct datapath *dp)
{
	unsigned n = (unsigned)dp->tx_started + (unsigned)dp->rx_started;

	if (n == 0)
		return;
	pthread_mutex_lock(&dp->park_lock);
	dp->pause = true;
	pthread_mutex_unlock(&dp->park_lock);
	stop_told(dp);
	pthread_mutex_lock(&dp->park_lock);
	while (dp->parked < n)
		pthread_cond_wait(&dp->park_cond, &dp->park_lock);
	pthread_mutex_unlock(&dp->park_lock);
	stop_taken(dp);
}

static void dp_resume(struct datapath *dp)
{
	if (!dp->tx_started && !dp->rx_started)
		return;
	pthread_mutex_lock(&dp->park_lock);
	dp->pause = false;
	pthread_cond_broadcast(&dp->park_cond);
	pthread_mutex_unlock(&dp->park_lock);
}

void dp_stop(struct datapath *dp)
{
	if (!dp->tx_started && !dp->rx_started)
		return;
	pthread_mutex_lock(&dp->park_lock);
	dp->quit = true;
	pthread_cond_broadcast(&dp->park_cond);
	pthread_mutex_unlock(&dp->park_lock);
	stop_told(dp);
	if (dp->tx_started)
		pthread_join(dp->tx_thread, NULL);
	if (dp->rx_started)
		pthread_join(dp->rx_thread, NULL);
	dp->tx_started = dp->rx_started = false;
	dp->quit = dp->pause = false;
	stop_taken(dp);
	if (atomic_load(&dp->uring_on)) {
		/* its submitter has ended: a tx thread started again reads with read() */
		atomic_store(&dp->uring_on, false);
		dp_uring_free(dp->uring);
		dp->uring = NULL;
		dp->uring_why = "the datapath was started again";
	}
}

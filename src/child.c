/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The datapath process: everything that touches untrusted bytes (packets
 * from the TUN device and the underlay, ICMP errors about our packets,
 * requests on the control socket), as an unprivileged user with no
 * capability, only the descriptors it needs, Landlock and its own seccomp
 * allow-list (sandbox.h).  It owns the soft state (RFC 2003 5) and
 * publishes it to the fast path through memory; what needs privileges or
 * rtnetlink it asks of the parent (msg.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "daemon.h"
#include "fwwatch.h"
#include "host.h"
#include "log.h"

#define STATUS_TIMEOUT_MS 1000	/* the parent answers a status request within */
#define CTL_TIMEOUT_MS 1000	/* a control client has to send its request, and read the reply */

/* Close every descriptor but keep[0..n) (and stdio): what the parent held is not ours. */
static void close_other_fds(const int *keep, size_t n)
{
	int fds[256], nfds = 0, dfd;
	struct dirent *e;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir) {
		log_warn("cannot list /proc/self/fd");
		return;
	}
	dfd = dirfd(dir);
	while ((e = readdir(dir)) && nfds < (int)(sizeof(fds) / sizeof(fds[0]))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		bool kept = fd <= 2 || fd == dfd || *end;

		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			fds[nfds++] = (int)fd;
	}
	closedir(dir);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * The soft state moved: what the fast path must leave to the slow path
 * (packets over the path MTU; while an ICMP error is owed, the packets that
 * violate the TTL or reachability state, so that their senders hear of it)
 * goes to the parent, the tunnel's owner, which writes it into the programs'
 * settings (tunnel_soft_state()); told when it changes.
 */
static void publish_state(struct daemon *d)
{
	struct msg m = { .type = MSG_SOFT_STATE };
	struct ss_view v;
	struct timespec ts;

	if (!d->t.fast || !d->attached)
		return;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	ss_read(&d->dp.ss, (uint64_t)ts.tv_sec, &v);
	m.u.soft.pmtu = v.pmtu;
	m.u.soft.path_ttl = v.credit > 0 ? v.path_ttl : 0;
	m.u.soft.unreach = v.credit > 0 && v.unreachable;
	if (d->soft_told_valid && !memcmp(&m.u.soft, &d->soft_told, sizeof(m.u.soft)))
		return;
	if (msg_send(d->sock_fd, &m) < 0)
		return;		/* told again at the next tick */
	d->soft_told = m.u.soft;
	d->soft_told_valid = true;
}

/*
 * The owner's turn (every SS_TICK_MS, and when a datapath thread says the
 * soft state moved): move it on and publish it.  A packet the fast path
 * decapsulated shows the exit is reachable, as one the slow path did.
 */
static void soft_state_turn(struct daemon *d, bool timer)
{
	uint64_t fc[FP_COUNTER_MAX];
	struct msg m = { .type = MSG_ROUTE_CHECK };
	uint32_t moved;
	bool unreach;

	if (dp_tick(&d->dp, timer) & SS_ROUTE)
		msg_send(d->sock_fd, &m);	/* answered with MSG_ROUTE_MTU */
	if (d->t.fast && timer) {
		fp_counters(&d->t.fp, fc);
		/*
		 * The fast path's packets count for liveness, seen at this tick.
		 * Those counted since the last tick show the exit reachable only
		 * if the unreachable was known then: else some may have come before
		 * the error that said so (the slow path's own packets are in order).
		 */
		if (fc[FP_RX_PACKETS] != d->fast_rx) {
			atomic_store(&d->dp.last_rx_ms, now_ms());
			if ((ss_flags(&d->dp.ss) & SS_UNREACH) && d->unreach_at_tick &&
			    ss_exit_reached(&d->dp.ss))
				log_debug("soft state: tunnel exit reachable again (packet from Remote)");
		}
		if (fc[FP_TX_PACKETS] != d->fast_tx)
			atomic_store(&d->dp.last_tx_ms, now_ms());
		d->fast_rx = fc[FP_RX_PACKETS];
		d->fast_tx = fc[FP_TX_PACKETS];
	}
	moved = d->attached && !d->t.kernel ? dp_remote_moved(&d->dp) : 0;
	if (moved && (moved != d->moved_told || now_ms() - d->moved_told_ms >= 1000)) {
		/* RemotePort = learn: the parent moves Remote (again, if it did not yet) */
		m.type = MSG_REMOTE_SEEN;
		m.u.remote.addr = moved;
		msg_send(d->sock_fd, &m);
		d->moved_told = moved;
		d->moved_told_ms = now_ms();
	}
	if (timer) {
		unreach = ss_flags(&d->dp.ss) & SS_UNREACH;
		if (unreach && !d->unreach_at_tick) {	/* Remote may have moved: its name may say */
			m.type = MSG_UNREACHABLE;
			msg_send(d->sock_fd, &m);
		}
		d->unreach_at_tick = unreach;
	}
	publish_state(d);
}

/* The parent says it in systemd's STATUS= (and looks Remote's name up again when down). */
static void tell_alive(struct daemon *d)
{
	struct msg m = { .type = MSG_ALIVE };

	m.u.alive.alive = !d->ka.down;
	if (msg_send(d->sock_fd, &m) < 0)
		log_warn("cannot tell the parent that the tunnel is %s", d->ka.down ? "down" : "up");
}

/*
 * Keepalive (every tick while it is on): when nothing came from Remote for
 * Keepalive seconds, an ICMP echo request goes through the tunnel to Peer
 * (any Linux peer answers it, the kernel's ipip or ipipd); after
 * KeepaliveMisses of them in a row with nothing received since, the tunnel
 * is down, until a packet from Remote arrives.  Each change is logged once.
 */

static void keepalive(struct daemon *d)
{
	static const char payload[] = "ipipd keepalive";
	const struct config *c = &d->t.cfg;
	uint8_t echo[ICMP_ECHO_MAX];
	uint64_t now = now_ms(), rx = atomic_load(&d->dp.last_rx_ms), quiet;
	size_t n;
	int rc;

	if (!c->keepalive || d->t.kernel)
		return;
	if (d->ka.sent_at && rx >= d->ka.sent_at) {	/* answered (or anything else came) */
		d->ka.unanswered = 0;
		if (d->ka.down) {
			d->ka.down = false;
			log_info("%s: up again: a packet from Remote", c->name);
			tell_alive(d);
		}
	}
	quiet = now - (rx > d->ka.sent_at ? rx : d->ka.sent_at);
	if (quiet < (uint64_t)c->keepalive * 1000)
		return;
	if (d->ka.sent_at && rx < d->ka.sent_at && ++d->ka.unanswered >= c->keepalive_misses &&
	    !d->ka.down) {
		d->ka.down = true;
		log_warnx("%s: down: %u keepalives to Peer unanswered", c->name, d->ka.unanswered);
		tell_alive(d);
	}
	n = icmp_echo_request(echo, c->addr.s_addr, c->peer.s_addr, 0x1b1b,
			      (uint16_t)d->ka.sent, payload, sizeof(payload) - 1);
	rc = dp_send_inner(&d->dp, echo, n);
	if (rc < 0)
		log_debug("keepalive: %s", strerror(-rc));
	d->ka.sent_at = now;
	d->ka.sent++;
}

/* The kernel device's own counters (read by the parent); its errors count as drops. */
static void kernel_stats(const struct msg_status *ps, struct dp_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->rx_packets = ps->kernel[MK_RX_PACKETS];
	st->rx_bytes = ps->kernel[MK_RX_BYTES];
	st->tx_packets = ps->kernel[MK_TX_PACKETS];
	st->tx_bytes = ps->kernel[MK_TX_BYTES];
	st->drops[PKT_RX_ECN_CE_NOT_ECT] = ps->kernel[MK_RX_ECN_DROPS];
	st->drops[PKT_TX_SEND_ERROR] = ps->kernel[MK_TX_ERRORS];
}

static const char *ecn_name(enum ecn_mode m)
{
	return m == ECN_MODE_COMPAT ? "compatibility" : m == ECN_MODE_KERNEL ? "kernel" : "normal";
}

/* The time since the last packet from and to Remote (JSON null: never, or unknown). */
/* "KEY=N" (ms since last) or "KEY=null" (never: last 0), then end. */
static void sb_age(struct strbuf *sb, const char *key, uint64_t last, uint64_t now, const char *end)
{
	if (last)
		sb_printf(sb, "%s%llu%s", key, (unsigned long long)(now - last), end);
	else
		sb_printf(sb, "%snull%s", key, end);
}

static void describe_liveness(const struct daemon *d, struct strbuf *sb)
{
	struct datapath *dp = (struct datapath *)&d->dp;	/* atomic loads want non-const */
	uint64_t rx = d->t.kernel ? 0 : atomic_load(&dp->last_rx_ms);
	uint64_t tx = d->t.kernel ? 0 : atomic_load(&dp->last_tx_ms), now = now_ms();

	sb_age(sb, "last_rx_ms=", rx, now, "\n");
	sb_age(sb, "last_tx_ms=", tx, now, "\n");
	sb_printf(sb, "alive=%s\nkeepalives_sent=%llu\n",
		  !d->t.cfg.keepalive ? "null" : d->ka.down ? "false" : "true",
		  (unsigned long long)d->ka.sent);
}

/* The routes into the device that lead to peer addr, as "PREFIX,PREFIX,..." (at most n bytes). */
static void peer_routes(const struct hub_table *t, uint32_t addr, char *out, size_t n)
{
	char a[INET_ADDRSTRLEN];
	size_t len = 0;
	unsigned more = 0;

	out[0] = '\0';
	for (unsigned i = 0; t && i <= t->mask; i++) {
		const struct hub_slot *s = &t->slot[i];
		int w;

		if (!s->used || s->gw != addr)
			continue;
		w = snprintf(out + len, n - len, "%s%s/%u", len ? "," : "", ip4(s->key, a), s->len);
		if (w < 0 || (size_t)w >= n - len - 16) {	/* room for ",+N more" */
			out[len] = '\0';
			more++;
			continue;
		}
		len += (size_t)w;
	}
	if (more)
		snprintf(out + len, n - len, "%s+%u more", len ? "," : "", more);
}

/*
 * Remote = any: each peer with its counters, as "hub_peer.ADDR=routes=...
 * rx_packets=N ..." lines (ipipctl makes them the "peers" list).  A reply
 * has CTL_MAX_REPLY bytes: the status reply holds the first
 * HUB_PEERS_SHOWN peers, keeping HUB_PEERS_ROOM bytes for what follows (the
 * drops, the errno line), should the routes make the lines long; a reply
 * to "peers=N" holds as many as fit from number N on.  A reply that stops
 * before the last peer says "peers_next=N", and ipipctl asks for the rest.
 */
#define HUB_PEERS_SHOWN 48
#define HUB_PEERS_ROOM 4096
#define HUB_PEER_LINE 1024	/* room for one more line (its routes cut at 160 bytes) */
/* Remote = any: how many peers' outer packets go straight to their next hop now. */
static unsigned peers_direct(const struct daemon *d)
{
	struct datapath *dp = (struct datapath *)&d->dp;	/* atomic loads want non-const */
	unsigned n = 0;

	for (unsigned i = 0; dp->peers && i < dp->peers->n; i++)
		n += dp_peer_hop(dp, i) != 0;
	return n;
}

/* The lines of peers from number from on, at most max of them, while sb has room left. */
static void peer_lines(const struct daemon *d, struct strbuf *sb, unsigned from, unsigned max,
		       size_t room)
{
	struct datapath *dp = (struct datapath *)&d->dp;	/* atomic loads want non-const */
	struct hub_peers *ps = d->dp.peers;
	uint64_t now = now_ms();
	char a[INET_ADDRSTRLEN], routes[160];
	unsigned i, shown = 0;

	for (i = from; ps && i < ps->n && shown < max && sb->len + room < CTL_MAX_REPLY; i++) {
		struct hub_peer *p = &ps->peer[i];
		uint64_t lr = atomic_load_explicit(&p->last_rx_ms, memory_order_relaxed);
		uint64_t lt = atomic_load_explicit(&p->last_tx_ms, memory_order_relaxed);
		struct fp_peer_ctr f;	/* the eBPF fast path's part (zero without it) */
		int hop = dp_peer_hop(dp, i);	/* 0: through the kernel */

		if (!p->addr)
			continue;	/* a number not given (yet) */
		shown++;
		fp_peer_counters(&d->t.fp, i, &f);
		if (f.last_rx_ms > lr)
			lr = f.last_rx_ms;
		if (f.last_tx_ms > lt)
			lt = f.last_tx_ms;
		peer_routes(d->dp.hub, p->addr, routes, sizeof(routes));
		sb_printf(sb, "hub_peer.%s=routes=%s rx_packets=%llu rx_bytes=%llu tx_packets=%llu "
			  "tx_bytes=%llu", ip4(p->addr, a), routes[0] ? routes : "-",
			  (unsigned long long)(atomic_load_explicit(&p->rx_packets, memory_order_relaxed) +
					       f.rx_packets),
			  (unsigned long long)(atomic_load_explicit(&p->rx_bytes, memory_order_relaxed) +
					       f.rx_bytes),
			  (unsigned long long)(atomic_load_explicit(&p->tx_packets, memory_order_relaxed) +
					       f.tx_packets),
			  (unsigned long long)(atomic_load_explicit(&p->tx_bytes, memory_order_relaxed) +
					       f.tx_bytes));
		sb_age(sb, " last_rx_ms=", lr, now, "");
		sb_age(sb, " last_tx_ms=", lt, now, "");
		sb_printf(sb, " direct=%s hop_ifindex=%d tx_direct=%llu rx_fast=%llu tx_fast=%llu\n",
			  hop ? "true" : "false", hop,
			  (unsigned long long)atomic_load_explicit(&p->tx_direct, memory_order_relaxed),
			  (unsigned long long)f.rx_packets, (unsigned long long)f.tx_packets);
	}
	for (; ps && i < ps->n && !ps->peer[i].addr; i++)
		;
	if (ps && i < ps->n)
		sb_printf(sb, "peers_next=%u\n", i);
}

static void describe_peers(const struct daemon *d, struct strbuf *sb)
{
	struct hub_peers *ps = d->dp.peers;

	sb_printf(sb, "hub_peers=%u\nhub_peers_direct=%u\n", ps ? ps->n : 0, peers_direct(d));
	peer_lines(d, sb, 0, HUB_PEERS_SHOWN, HUB_PEERS_ROOM);
}

/* Where outer packets go: the kernel's IP output, or straight to the next hop (a hub's: each peer's). */
static const char *underlay_output(const struct daemon *d, char *buf, size_t n)
{
	unsigned peers = d->dp.peers ? d->dp.peers->n : 0, direct;

	if (d->t.cfg.underlay_output == UO_KERNEL)
		return "kernel";
	if (d->dp.pkt_fd < 0)
		return "kernel (no packet socket)";
	if (!d->t.cfg.ip.remote_any)
		return d->t.hop_rc == 0 ? "direct" : "kernel (next hop not an Ethernet neighbour now)";
	direct = peers_direct(d);
	if (direct && direct == peers)
		return "direct";
	if (!direct)
		return "kernel (no peer's next hop is a resolved Ethernet neighbour now)";
	snprintf(buf, n, "direct for %u of %u peers (the others through the kernel)", direct, peers);
	return buf;
}

static void describe(const struct daemon *d, const struct msg_status *ps, struct strbuf *sb)
{
	const struct config *c = &d->t.cfg;
	struct dp_stats snap;
	const struct dp_stats *st = &snap;
	char a[INET_ADDRSTRLEN], out[96], next_hop[18] = "lookup";
	struct fp_eth eth;
	uint64_t fc[FP_COUNTER_MAX];

	if (!d->attached) {	/* waiting for the network (a route, Local) */
		sb_printf(sb, "name=%s\npid=%ld\ndatapath_pid=%ld\ndatapath_user=%s\n"
			  "state=waiting\nwaiting_for=%s\nlandlock=%s\n", c->name, (long)d->parent,
			  (long)getpid(), d->user.name, d->t.waiting,
			  sandbox_landlock() > 0 ? "yes" : "no");
		sb_printf(sb, "local=%s\n", ip4(c->ip.local, a));
		sb_printf(sb, "remote=%s\n", c->ip.remote_any ? "any" : ip4(c->ip.remote, a));
		sb_printf(sb, "address=%s/%u\n", ip4(c->addr.s_addr, a), c->prefixlen);
		return;
	}
	if (d->t.kernel)
		kernel_stats(ps, &snap);
	else
		dp_stats_read(&d->dp, &snap);
	fp_counters(&d->t.fp, fc);
	snap.rx_packets += fc[FP_RX_PACKETS];
	snap.rx_bytes += fc[FP_RX_BYTES];
	snap.tx_packets += fc[FP_TX_PACKETS];
	snap.tx_bytes += fc[FP_TX_BYTES];
	snap.drops[PKT_RX_TUN_WRITE] += fc[FP_RX_ERROR];
	snap.drops[PKT_TX_SEND_ERROR] += fc[FP_TX_ERROR];

	sb_printf(sb, "name=%s\npid=%ld\ndatapath_pid=%ld\ndatapath_user=%s\ndatapath=%s\n"
		  "datapath_reason=%s\n", c->name, (long)d->parent, (long)getpid(), d->user.name,
		  d->t.kernel ? "kernel" : d->t.fast ? "ebpf" : "userspace", d->t.dp_reason);
	sb_printf(sb, "state=%s\n", d->t.up ? "up" : "waiting");
	if (!d->t.up)
		sb_printf(sb, "waiting_for=%s\n", d->t.waiting);
	sb_printf(sb, "landlock=%s\n", sandbox_landlock() > 0 ? "yes" : "no");
	/* who enforces the inner-source rules: ipipd (either datapath) or the kernel's device */
	sb_printf(sb, "enforcement=%s\n", d->t.kernel ?
		  "the kernel: sources of the host's own addresses (martian sources), source routes "
		  "(accept_source_route 0 on the device), unusual ECN logged (ipip's log_ecn_error)" :
		  "ipipd: inner sources (the host's addresses, AllowedSources), source routes, unusual ECN");
	if (d->t.fast && fp_next_hop(&d->t.fp, &eth))
		snprintf(next_hop, sizeof(next_hop), "%02x:%02x:%02x:%02x:%02x:%02x", eth.dst[0],
			 eth.dst[1], eth.dst[2], eth.dst[3], eth.dst[4], eth.dst[5]);
	if (d->t.fast)
		sb_printf(sb, "fast_attach=%s\nfast_programs=%u %u\nfast_underlay=%d\n"
			  "fast_next_hop=%s\n"
			  "fast_rx_packets=%llu\nfast_tx_packets=%llu\n"
			  "slow_rx_packets=%llu\nslow_tx_packets=%llu\n",
			  d->attach, d->prog_id[FP_EGRESS], d->prog_id[FP_INGRESS],
			  fp_underlay(&d->t.fp), next_hop,
			  (unsigned long long)fc[FP_RX_PACKETS],
			  (unsigned long long)fc[FP_TX_PACKETS],
			  (unsigned long long)fc[FP_RX_SLOW], (unsigned long long)fc[FP_TX_SLOW]);
	sb_printf(sb, "local=%s\n", ip4(c->ip.local, a));
	sb_printf(sb, "remote=%s\n", c->ip.remote_any ? "any" : ip4(c->ip.remote, a));
	if (c->ip.remote_any) {
		sb_printf(sb, "allowed_remotes=");
		for (unsigned i = 0; i < c->ip.n_allowed_remotes; i++)
			sb_printf(sb, "%s%s/%u", i ? " " : "", ip4(c->allowed_remotes[i].addr, a),
				  c->allowed_remotes[i].len);
		sb_printf(sb, "\npeer_source_check=%s\nhub_routes=%u\n", c->ip.peer_check ? "yes" : "no",
			  d->dp.hub ? d->dp.hub->n : 0);
		describe_peers(d, sb);
	}
	sb_printf(sb, "address=%s/%u\n", ip4(c->addr.s_addr, a), c->prefixlen);
	if (c->has_peer)
		sb_printf(sb, "peer=%s\n", ip4(c->peer.s_addr, a));
	sb_printf(sb, "mtu=%u\nifindex=%d\ndevice=%s\n", d->t.mtu, d->t.ifindex,
		  ps->device_down ? "down" : "up");
	if (ps->device_renamed[0])	/* (a name has no spaces or newlines) */
		sb_printf(sb, "device_renamed=%.15s\n", ps->device_renamed);
	sb_printf(sb, "routes_displaced=%u\n", ps->displaced);
	if (ps->displaced)
		sb_printf(sb, "route_displaced=%s/%u table %u\n", ip4(ps->displaced_dst, a),
			  ps->displaced_len, ps->displaced_table);
	sb_printf(sb, "encapsulation=%s\n", c->ip.encap == ENCAP_FOU ? "fou" :
		  c->ip.encap == ENCAP_GUE ? "gue" : "ipip");
	if (c->ip.encap != ENCAP_IPIP) {
		sb_printf(sb, "port=%u\n", c->ip.port);
		if (c->ip.learn_port && d->attached)
			sb_printf(sb, "remote_port=learn %u\nremote_port_changes=%llu\n",
				  dp_remote_port(&d->dp), (unsigned long long)atomic_load_explicit(
					  &d->dp.port_changes, memory_order_relaxed));
		else
			sb_printf(sb, "remote_port=%s%u\n", c->ip.learn_port ? "learn " : "",
				  c->ip.remote_port);
		if (c->ip.sport)
			sb_printf(sb, "source_port=%u\n", c->ip.sport);
		else
			sb_printf(sb, "source_port=auto %u-%u\n", c->ip.sport_min, c->ip.sport_max - 1);
		sb_printf(sb, "udp_checksum=%s\n", c->ip.udp_csum ? "yes" : "no");
		if (!d->t.kernel)
			sb_printf(sb, "udp_coalesced=%llu\nudp_gso_sent=%llu\n",
				  (unsigned long long)st->udp_coalesced, (unsigned long long)st->udp_gso);
	}
	if (c->ip.ttl)
		sb_printf(sb, "ttl=%u\n", c->ip.ttl);
	else
		sb_printf(sb, "ttl=inherit\n");
	if (c->ip.tos_inherit)
		sb_printf(sb, "tos=inherit\n");
	else
		sb_printf(sb, "tos=0x%02x\n", c->ip.tos);
	sb_printf(sb, "pmtudisc=%s\necn=%s\ndscp=%s\n", c->ip.pmtudisc ? "yes" : "no",
		  ecn_name(c->ip.ecn), c->ip.dscp_uniform ? "uniform" : "pipe");
	sb_printf(sb, "rx_packets=%llu\nrx_bytes=%llu\ntx_packets=%llu\ntx_bytes=%llu\n",
		  (unsigned long long)st->rx_packets, (unsigned long long)st->rx_bytes,
		  (unsigned long long)st->tx_packets, (unsigned long long)st->tx_bytes);
	host_describe(c, ps->fw_rules, sb);
	fwwatch_describe(sb);
	if (!d->t.kernel) {
		sb_printf(sb, "path_mtu=%llu\nfragmented=%llu\n", (unsigned long long)st->path_mtu,
			  (unsigned long long)st->frag_sent);
		sb_printf(sb, "path_ttl=%llu\nreachable=%s\nunreachable_age=%lld\n",
			  (unsigned long long)st->path_ttl, st->reachable ? "yes" : "no",
			  (long long)st->unreachable_age);
		sb_printf(sb, "soft_ttl_errors=%llu\nsoft_unreach_errors=%llu\nsoft_errors_limited=%llu\n",
			  (unsigned long long)st->soft_ttl_sent,
			  (unsigned long long)st->soft_unreach_sent,
			  (unsigned long long)st->soft_limited);
		sb_printf(sb, "icmp_errors_owed=%lld\nfrag_needed_limited=%llu\n",
			  (long long)st->errors_owed, (unsigned long long)st->frag_needed_limited);
	}
	if (!d->t.kernel) {
		sb_printf(sb, "own_addresses=%d\n", d->t.n_own);
		sb_printf(sb, "underlay_output=%s\n", underlay_output(d, out, sizeof(out)));
		if (d->t.hop_rc == 0 && !c->ip.remote_any)
			sb_printf(sb, "underlay_hop=%02x:%02x:%02x:%02x:%02x:%02x ifindex %d\n",
				  d->t.hop.mac[0], d->t.hop.mac[1], d->t.hop.mac[2], d->t.hop.mac[3],
				  d->t.hop.mac[4], d->t.hop.mac[5], d->t.hop.ifindex);
		sb_printf(sb, "tx_direct=%llu\ntx_direct_failed=%llu\n", (unsigned long long)st->tx_direct,
			  (unsigned long long)st->tx_direct_failed);
		if (atomic_load(&d->dp.uring_on))
			sb_printf(sb, "tun_read_by=io_uring\n");
		else
			sb_printf(sb, "tun_read_by=read\ntun_read_why=%s\n",
				  d->dp.uring ? "io_uring: the ring could not be enabled, or failed (see the log)" :
				  d->dp.uring_why ? d->dp.uring_why : "-");
		sb_printf(sb, "tun_reads=%llu\ntun_writes=%llu\ngso_split=%llu\ngro_writes=%llu\n"
			  "gro_csum_bad=%llu\n", (unsigned long long)st->tun_reads,
			  (unsigned long long)st->tun_writes, (unsigned long long)st->gso_packets,
			  (unsigned long long)st->gro_writes, (unsigned long long)st->gro_csum_bad);
		if (st->icmp_errors)
			sb_printf(sb, "last_icmp_error=type %llu code %llu info %llu\n",
				  (unsigned long long)st->last_icmp_type,
				  (unsigned long long)st->last_icmp_code,
				  (unsigned long long)st->last_icmp_info);
	}
	describe_liveness(d, sb);
	sb_printf(sb, "icmp_errors=%llu\necn_unusual=%llu\n", (unsigned long long)st->icmp_errors,
		  (unsigned long long)st->ecn_unusual);
	sb_printf(sb, "icmp_relayed=%llu\nicmp_relay_limited=%llu\n",
		  (unsigned long long)st->icmp_relayed, (unsigned long long)st->icmp_relay_limited);
	for (int v = PKT_OK + 1; v < PKT_VERDICT_MAX; v++)
		sb_printf(sb, "drop.%s=%llu\n", pkt_verdict_name((enum pkt_verdict)v),
			  (unsigned long long)st->drops[v]);
}


/* Settings a reload replaced: freed once no thread can still hold them. */
#define PARAMS_GRACE_MS 10000

struct params_gen {
	struct ipip_params p;
	struct prefix allowed[CONFIG_MAX_LIST];
	struct prefix allowed_remotes[CONFIG_MAX_LIST];
	uint64_t retired;	/* CLOCK_MONOTONIC ms (0: current) */
	struct params_gen *next;
};

static struct params_gen *generations;

static void free_retired(bool all)
{
	uint64_t now = now_ms();

	for (struct params_gen **g = &generations; *g;) {
		struct params_gen *x = *g;

		if (x->retired && (all || now - x->retired >= PARAMS_GRACE_MS)) {
			*g = x->next;
			free(x);
		} else {
			g = &x->next;
		}
	}
}

/* The settings the threads read now: the newest generation (made from the configuration at first). */
static const struct ipip_params *params_now(struct daemon *d)
{
	struct params_gen *g = generations;

	if (g)
		return &g->p;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->p = d->t.cfg.ip;
	memcpy(g->allowed, d->t.cfg.allowed, sizeof(g->allowed));
	memcpy(g->allowed_remotes, d->t.cfg.allowed_remotes, sizeof(g->allowed_remotes));
	g->p.allowed = g->allowed;
	g->p.allowed_remotes = g->allowed_remotes;
	generations = g;
	return &g->p;
}

/* A message's list of prefixes (n checked by msg_recv). */
static void take_prefixes(struct prefix *out, const struct msg_prefix *in, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		out[i] = (struct prefix){ .addr = in[i].addr, .len = in[i].len };
}

/*
 * A reload's [Tunnel]: new settings for the datapath threads (swapped whole:
 * a batch reads one set), the raw socket connected to the new Remote, the
 * device MTU, the keepalive.  The fast path's settings are the parent's to
 * store.
 */
static void apply_params(struct daemon *d, const struct msg_params *mp)
{
	struct params_gen *g = calloc(1, sizeof(*g));
	struct ipip_params *p;
	int rc;

	if (!g) {
		log_warn("reload: settings");
		return;
	}
	p = &g->p;
	*p = d->t.cfg.ip;		/* the host's addresses (own_addrs) stay */
	p->local = mp->local;
	p->remote = mp->remote;
	p->ttl = mp->ttl;
	p->tos = mp->tos;
	p->tos_inherit = mp->tos_inherit;
	p->pmtudisc = mp->pmtudisc;
	p->ecn = (enum ecn_mode)mp->ecn;
	p->dscp_uniform = mp->dscp_uniform;
	p->allow_source_route = mp->allow_source_route;
	p->ecn_log = mp->ecn_log;
	take_prefixes(g->allowed, mp->allowed, mp->n_allowed);
	p->allowed = g->allowed;
	p->n_allowed = mp->n_allowed;
	take_prefixes(g->allowed_remotes, mp->allowed_remotes, mp->n_allowed_remotes);
	p->allowed_remotes = g->allowed_remotes;
	p->n_allowed_remotes = mp->n_allowed_remotes;
	p->remote_any = mp->remote_any;
	p->peer_check = mp->peer_check;
	p->own[0] = mp->local;
	p->own[1] = mp->address;
	if (d->attached && !d->t.kernel) {
		rc = dp_set_params(&d->dp, p, mp->mtu);
		if (rc < 0)
			log_warnc(rc, "reload: the raw socket towards the new Remote");
	}
	for (struct params_gen *x = generations; x; x = x->next)
		if (!x->retired)
			x->retired = now_ms();
	g->next = generations;
	generations = g;
	free_retired(false);
	d->t.cfg.ip = *p;
	memcpy(d->t.cfg.allowed, g->allowed, sizeof(d->t.cfg.allowed));
	memcpy(d->t.cfg.allowed_remotes, g->allowed_remotes, sizeof(d->t.cfg.allowed_remotes));
	config_own_lists(&d->t.cfg);
	d->t.cfg.addr.s_addr = mp->address;
	d->t.cfg.has_peer = mp->peer != 0;
	d->t.cfg.peer.s_addr = mp->peer;
	d->t.cfg.keepalive = mp->keepalive;
	d->t.cfg.keepalive_misses = mp->keepalive_misses;
	d->t.mtu = mp->mtu;
	if (!mp->keepalive)
		d->ka.down = false;
}

/*
 * The datapath to run (the tunnel is up): the kernel's device (nothing to
 * run), or ipipd's own with the descriptors the parent made; the fast
 * path's shared memory mapped.  Again after a reload that needed new
 * descriptors (a new Local): those replace the old ones.
 */
static int attach(struct daemon *d, struct msg *m)
{
	const struct msg_datapath *md = &m->u.dp;
	struct ss_limits lim = { md->mtu, md->floor, md->expire_s, md->ttl_max, 0 };
	struct dp_fds f = { .tun = m->fds[MF_TUN], .raw = m->fds[MF_RAW], .tx = m->fds[MF_TX],
			    .pkt = md->direct ? m->fds[MF_PACKET] : -1, .vnet = md->vnet,
			    .udp = -1, .gro_flags = md->gro_flags };
	int got[MF_MAX];
	unsigned i = 0;
	int rc = 0;

	d->soft_told_valid = false;	/* the parent hears the soft state afresh */
	/* the descriptors come in MF order, each present one after the other */
	memcpy(got, m->fds, sizeof(got));
	for (int k = 0; k < MF_MAX; k++)
		m->fds[k] = md->fds & (1u << k) ? got[i++] : -1;
	f.tun = m->fds[MF_TUN];
	f.raw = m->fds[MF_RAW];
	f.tx = m->fds[MF_TX];
	f.pkt = m->fds[MF_PACKET];
	f.udp = m->fds[MF_UDP];
	f.gso = m->fds[MF_GSO];
	if (d->attached != !!md->replace || (md->replace && (d->t.kernel || md->fast != d->t.fast))) {
		for (int k = 0; k < MF_MAX; k++)
			if (m->fds[k] >= 0)
				close(m->fds[k]);
		return -EINVAL;	/* not what the parent does */
	}
	if (md->replace) {
		if (dp_params(&d->dp)->encap == ENCAP_IPIP && f.udp >= 0) {
			for (int k = 0; k < MF_MAX; k++)
				if (m->fds[k] >= 0)
					close(m->fds[k]);
			return -EINVAL;	/* UDP encapsulation's socket, and only then (none: the same) */
		}
		if (f.tun < 0)
			f.tun = d->t.tun_fd;	/* the same device */
		rc = dp_replace_fds(&d->dp, &f);
		d->t.tun_fd = f.tun;
		d->t.raw_fd = f.raw;
		return rc;
	}
	d->t.kernel = md->kernel;
	d->t.fast = md->fast;
	d->t.ifindex = md->ifindex;
	d->t.mtu = md->mtu;
	snprintf(d->t.dp_reason, sizeof(d->t.dp_reason), "%s", md->reason);
	snprintf(d->attach, sizeof(d->attach), "%s", md->attach);
	d->prog_id[0] = md->prog_id[0];
	d->prog_id[1] = md->prog_id[1];
	if (d->t.fast) {
		struct fp_pages slot = { m->fds[MF_BSS], md->bss_off, md->bss_len };
		struct fp_pages ctr = { m->fds[MF_COUNTERS], md->counters_off, md->counters_len };

		rc = fp_map(&d->t.fp, &slot, &ctr, md->ncpus);
		close(m->fds[MF_BSS]);
		close(m->fds[MF_COUNTERS]);
		if (rc == 0 && m->fds[MF_PEERS] >= 0)
			rc = fp_map_peers(&d->t.fp, m->fds[MF_PEERS], md->peers_len);
		if (m->fds[MF_PEERS] >= 0)
			close(m->fds[MF_PEERS]);
		if (rc < 0)
			return rc;
	}
	if (d->t.kernel) {
		dp_uring_free(d->uring);	/* the kernel's device: nothing to read */
		d->uring = NULL;
	} else {
		const struct ipip_params *p = params_now(d);

		if (!p)
			return -ENOMEM;
		if ((p->encap != ENCAP_IPIP) != (f.udp >= 0))
			return -EINVAL;	/* UDP encapsulation's socket, and only then */
		lim.overhead = (unsigned)ipip_outer_len(p);
		d->t.tun_fd = f.tun;
		d->t.raw_fd = f.raw;
		f.uring = d->uring;	/* the datapath's now, even if it fails */
		f.uring_why = d->uring_why;
		d->uring = NULL;
		rc = dp_init(&d->dp, p, &f, &lim, d->t.fast ? fp_ids(&d->t.fp) : NULL);
		if (rc < 0)
			return rc;
		d->dp.route_mtu = md->route_mtu;
		rc = dp_start(&d->dp);	/* one thread per direction */
		if (rc < 0)
			return rc;
	}
	d->attached = true;
	d->t.up = true;
	publish_state(d);
	return 0;
}

/*
 * Remote = any: a part of the routes into the device.  The last part of a
 * table builds it, and the datapath takes it in place of the one it had.
 */
static void hub_part(struct daemon *d, const struct msg_hub *h)
{
	static struct hub_route *parts;
	static uint32_t have, total;
	struct hub_table *t;

	_Static_assert(MSG_HUB_MAX == HUB_ROUTES_MAX, "one limit of a hub's routes");
	if (h->first == 0) {
		struct hub_route *p = realloc(parts, ((size_t)h->total + 1) * sizeof(*p));

		if (!p) {
			log_warn("the routes into the device");
			have = total = 0;
			return;
		}
		parts = p;
		have = 0;
		total = h->total;
	}
	if (h->first != have || h->total != total)
		return;		/* a part of a table not begun: cannot happen in order */
	for (uint32_t i = 0; i < h->n; i++) {
		/* counters of each gateway, by the owner's number (kept when its routes go) */
		uint32_t peer = h->r[i].peer;

		if (peer != HUB_NO_PEER && !(d->attached && d->dp.peers &&
					     hub_peer_set(d->dp.peers, peer, h->r[i].gw)))
			peer = HUB_NO_PEER;
		parts[have + i] = (struct hub_route){
			.dst = h->r[i].dst, .len = (uint8_t)h->r[i].len, .gw = h->r[i].gw,
			.peer = peer,
		};
	}
	have += h->n;
	if (have < total)
		return;
	t = hub_build(parts, total);
	if (!t) {
		log_warnx("the routes into the device: no memory for %u; the last ones kept", total);
		return;
	}
	if (!d->attached || d->t.kernel) {
		hub_free(t);
		return;
	}
	dp_set_hub(&d->dp, t);
	log_debug("%s: %u routes into the device", d->t.cfg.name, t->n);
}

/*
 * Remote = any: a part of the peers' next hops.  The last part of a table
 * makes the datapath's, by peer index, in place of the one it had (a peer
 * not in it goes through the kernel's IP output).
 */
static void hops_part(struct daemon *d, const struct msg_hub_hops *h)
{
	static struct dp_peer_hop *hops;
	static uint32_t have, total;

	_Static_assert(MSG_HOPS_MAX == HUB_PEERS_MAX, "one limit of a hub's peers");
	if (!d->attached || d->t.kernel || !d->dp.peers)
		return;
	if (h->first == 0) {
		free(hops);
		hops = calloc(HUB_PEERS_MAX, sizeof(*hops));
		if (!hops) {
			log_warn("the peers' next hops");
			return;
		}
		have = 0;
		total = h->total;
	}
	if (!hops || h->first != have || h->total != total)
		return;		/* a part of a table not begun: cannot happen in order */
	for (uint32_t i = 0; i < h->n; i++) {
		uint32_t idx = hub_peer_find(d->dp.peers, h->h[i].addr);
		struct sockaddr_ll *ll;

		if (idx == HUB_NO_PEER)
			continue;
		ll = &hops[idx].ll;
		ll->sll_family = AF_PACKET;
		ll->sll_protocol = htons(ETH_P_IP);
		ll->sll_ifindex = h->h[i].ifindex;
		ll->sll_halen = 6;
		memcpy(ll->sll_addr, h->h[i].mac, 6);
	}
	have += h->n;
	if (have < total)
		return;
	dp_set_peer_hops(&d->dp, hops);
	hops = NULL;
}

/* What the parent says, whenever it says it. */
static void parent_said(struct daemon *d, struct msg *m)
{
	struct msg r = { .type = MSG_READY };
	int rc;

	switch (m->type) {
	case MSG_ADDRS:
		own_addrs_publish(&d->t.own, m->u.addrs.addr, m->u.addrs.n);
		d->t.n_own = m->u.addrs.total == UINT32_MAX ? -1 : (int)m->u.addrs.total;
		break;
	case MSG_HOP:
		d->t.hop_rc = m->u.hop.rc;
		memset(&d->t.hop, 0, sizeof(d->t.hop));
		if (m->u.hop.rc == 0) {
			d->t.hop.ifindex = m->u.hop.ifindex;
			d->t.hop.via = m->u.hop.via;
			memcpy(d->t.hop.mac, m->u.hop.mac, sizeof(d->t.hop.mac));
			memcpy(d->t.hop.src_mac, m->u.hop.src_mac, sizeof(d->t.hop.src_mac));
		}
		if (d->attached && !d->t.kernel)
			dp_set_hop(&d->dp, d->t.hop.ifindex, d->t.hop.mac, d->t.hop.src_mac);
		break;
	case MSG_ROUTE_MTU:
		if (d->attached && !d->t.kernel && dp_route_mtu(&d->dp, m->u.route.mtu))
			publish_state(d);
		break;
	case MSG_STATE:
		d->t.up = m->u.state.up && d->attached;
		snprintf(d->t.waiting, sizeof(d->t.waiting), "%s", m->u.state.waiting);
		break;
	case MSG_DATAPATH:
		rc = attach(d, m);
		if (rc < 0) {
			log_warnc(rc, "datapath");
			d->stop = 2;
			break;
		}
		if (msg_send(d->sock_fd, &r) < 0)
			d->stop = 2;
		break;
	case MSG_PARAMS:
		apply_params(d, &m->u.params);
		publish_state(d);
		break;
	case MSG_STOP:
		d->stop = 1;
		break;
	case MSG_HUB_ROUTES:
		hub_part(d, &m->u.hub);
		break;
	case MSG_HUB_HOPS:
		hops_part(d, &m->u.hops);
		break;
	default:
		break;	/* a late reply */
	}
}

/* Read what the parent sent; -1 when it is gone or talks nonsense (then we end). */
static int from_parent(struct daemon *d, struct msg *m)
{
	int rc = msg_recv(d->sock_fd, MSG_FROM_PARENT, m);

	if (rc == -EAGAIN)
		return 0;
	if (rc < 0) {
		if (rc != -EPIPE)
			log_warnx("datapath: bad message from the parent: %s", strerror(-rc));
		d->stop = 2;
		return -1;
	}
	if (m->type != MSG_STATUS && m->type != MSG_RELOADED)
		parent_said(d, m);
	return 1;
}

/* Ask the parent and wait (handling what else it says) for its reply of type want. */
static int ask_parent(struct daemon *d, enum msg_type ask, enum msg_type want, int timeout_ms,
		      struct msg *reply)
{
	struct msg m = { .type = ask };
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	if (msg_send(d->sock_fd, &m) < 0)
		return -1;
	while (now_ms() < deadline && !d->stop) {
		struct pollfd p = { .fd = d->sock_fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(deadline - now_ms()));

		if (n < 0 && errno != EINTR)
			return -1;
		if (n <= 0)
			continue;
		n = from_parent(d, &m);
		if (n < 0)
			return -1;
		if (n > 0 && m.type == want) {
			*reply = m;
			return 0;
		}
	}
	return -1;
}

#define RELOAD_TIMEOUT_MS 20000	/* the parent applies a reload within */

static void serve_control(struct daemon *d)
{
	static struct strbuf sb;	/* 16 KiB: not on the stack */
	int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	unsigned arg;
	struct msg m;

	if (fd < 0)
		return;
	sb.len = 0;
	sb.overflow = 0;
	switch (ctl_read_request(fd, CTL_TIMEOUT_MS, &arg)) {
	case CTL_GET:
		if (ask_parent(d, MSG_STATUS_REQ, MSG_STATUS, STATUS_TIMEOUT_MS, &m) < 0) {
			sb_printf(&sb, "errno=%d\n\n", EIO);
			break;
		}
		describe(d, &m.u.status, &sb);
		sb_printf(&sb, "errno=0\n\n");
		break;
	case CTL_PEERS:	/* the rest of a hub's peers (no other tunnel has any) */
		peer_lines(d, &sb, arg, UINT32_MAX, HUB_PEER_LINE);
		sb_printf(&sb, "errno=0\n\n");
		break;
	case CTL_DOWN:
		m.type = MSG_DOWN;	/* the parent logs it */
		sb_printf(&sb, "errno=%d\n\n", msg_send(d->sock_fd, &m) < 0 ? EIO : 0);
		break;
	case CTL_RELOAD:
		if (ask_parent(d, MSG_RELOAD, MSG_RELOADED, RELOAD_TIMEOUT_MS, &m) < 0) {
			sb_printf(&sb, "errno=%d\n\n", EIO);
			break;
		}
		sb_printf(&sb, "reload=%s\nerrno=%d\n\n", m.u.reloaded.text, m.u.reloaded.err);
		break;
	default:
		sb_printf(&sb, "errno=%d\n\n", EINVAL);
		break;
	}
	if (sb.overflow) {	/* (the status: a few KiB; the hub's peers come in pages) */
		log_warnx("control: a reply longer than %d bytes was cut", CTL_MAX_REPLY);
		sb_cut(&sb);
	}
	ctl_write_all(fd, sb.buf, sb.len, CTL_TIMEOUT_MS);
	close(fd);
}

/* The datapath process's own descriptors (the parent's socket, the control socket). */
static void keep_only_ours(struct daemon *d)
{
	int keep[2] = { d->sock_fd, d->ctl_fd };

	if (!d->foreground)
		closelog();	/* its socket goes too: opened again below */
	close_other_fds(keep, 2);
	if (!d->foreground) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 2)
				close(null);
		}
		log_to_syslog();
	}
}

static void child_loop(struct daemon *d)
{
	uint64_t ticked = now_ms();
	struct msg m;

	while (!d->stop) {
		bool running = d->attached && !d->t.kernel;
		struct pollfd pfd[3] = {
			{ .fd = d->sock_fd, .events = POLLIN },
			{ .fd = d->ctl_fd, .events = POLLIN },
			{ .fd = running ? d->dp.event_fd : -1, .events = POLLIN },
		};
		int n = poll(pfd, 3, running ? (int)SS_TICK_MS : -1);

		if (running && now_ms() - ticked >= SS_TICK_MS) {
			ticked = now_ms();
			soft_state_turn(d, true);
			keepalive(d);
			if (d->dp.peers)	/* Remote = any: each peer's neighbour entry kept in use */
				dp_kick_peers(&d->dp);
			if (dp_hop_failed(&d->dp)) {
				m.type = MSG_HOP_FAILED;
				msg_send(d->sock_fd, &m);
			}
		}
		if (n < 0 && errno != EINTR) {
			log_warn("datapath: poll");
			break;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents)
			while (from_parent(d, &m) > 0 && !d->stop)
				;
		if (pfd[1].revents & POLLIN)
			serve_control(d);
		if (pfd[2].revents & POLLIN)
			soft_state_turn(d, false);
	}
}

_Noreturn void child_run(struct daemon *d)
{
	d->parent = getppid();
	d->attached = d->t.up = false;
	keep_only_ours(d);
	tzset();	/* syslog's time zone, before files are out of reach */
	d->uring = dp_ring_new(&d->uring_why);	/* the sandbox allows no new ring */
	if (sandbox_enter_child(d->sandbox, &d->user, d->parent) < 0)
		_exit(1);
	child_loop(d);
	if (d->attached && !d->t.kernel) {
		dp_free(&d->dp);
		close(d->t.tun_fd);
		close(d->t.raw_fd);
	}
	dp_uring_free(d->uring);	/* not handed over */
	fp_unmap(&d->t.fp);
	free_retired(true);
	for (struct params_gen *g = generations; g; g = generations) {
		generations = g->next;
		free(g);
	}
	exit(d->stop == 1 ? 0 : 1);
}

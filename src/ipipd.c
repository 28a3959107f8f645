/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ipipd: an IP-in-IP (RFC 2003) tunnel from one configuration file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "config.h"
#include "control.h"
#include "datapath.h"
#include "fastpath.h"
#include "host.h"
#include "log.h"
#include "netlink.h"
#include "sandbox.h"
#include "tun.h"

struct daemon {
	struct config cfg;
	struct nl nl;
	struct nl mon;		/* RTMGRP_IPV4_IFADDR: the host's addresses change */
	struct own_addrs own;	/* the host's addresses, for the rx thread */
	int n_own;		/* how many the last dump found (-1: failed) */
	struct datapath dp;
	struct fastpath fp;
	bool fast;		/* the eBPF fast path carries ordinary packets */
	int underlay_ifindex;	/* the route to Remote leaves here */
	struct nl_ether_hop hop;	/* where outer packets go direct (ifindex 0: none) */
	int hop_rc;		/* why not (-errno), as last looked up */
	int lock_fd, tun_fd, raw_fd, ctl_fd, sig_fd, mon_fd;
	int ifindex;
	unsigned mtu;
	bool kernel;		/* the kernel's ipip device carries the packets */
	char dp_reason[224];
	char run_dir[512], sock_path[512], pid_path[512], lock_path[512], state_path[512];
	int stop;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipipd [-f] [-v] [-n] [-S] CONFIG\n"
		   "  -f  stay in the foreground and log to stderr\n"
		   "  -v  verbose (debug) logging\n"
		   "  -n  check the configuration and exit\n"
		   "  -S  sandbox report mode: let system calls outside the allow-list\n"
		   "      proceed and name them in the log instead of killing the daemon\n"
		   "  -h  show this help\n");
}

static const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* Take the tunnel's lock: a second ipipd for the same name refuses to start. */
static int take_lock(struct daemon *d)
{
	const char *path = d->lock_path;
	int rc = run_dir(d->run_dir, sizeof(d->run_dir), 1);

	if (rc < 0) {
		errno = -rc;
		log_warn("cannot create the runtime directory");
		return -1;
	}
	if (run_path(d->lock_path, sizeof(d->lock_path), d->cfg.name, ".lock") < 0 ||
	    run_path(d->sock_path, sizeof(d->sock_path), d->cfg.name, ".sock") < 0 ||
	    run_path(d->pid_path, sizeof(d->pid_path), d->cfg.name, ".pid") < 0 ||
	    run_path(d->state_path, sizeof(d->state_path), d->cfg.name, ".state") < 0) {
		log_warnx("runtime path too long");
		return -1;
	}
	d->lock_fd = run_lock(path);
	if (d->lock_fd == -EWOULDBLOCK) {
		log_warnx("tunnel '%s' is already run by another ipipd", d->cfg.name);
		return -1;
	}
	if (d->lock_fd < 0) {
		errno = -d->lock_fd;
		log_warn("%s", path);
		return -1;
	}
	return 0;
}

static int write_pid(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

static int setup_link(struct daemon *d)
{
	struct config *c = &d->cfg;
	char path[128];
	int rc;

	d->ifindex = (int)if_nametoindex(c->name);
	if (!d->ifindex) {
		log_warn("%s: no interface index", c->name);
		return -1;
	}
	/* Like the kernel's ipip device: IPv4 only, no IPv6 link-local chatter. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", c->name);
	if (host_sysctl_write(path, "1") < 0)
		log_debug("%s: cannot disable IPv6 on the device", c->name);
	rc = nl_link_set(&d->nl, d->ifindex, d->mtu, false);
	if (rc == 0)
		rc = nl_addr_add(&d->nl, d->ifindex, c->addr.s_addr, c->prefixlen,
				 c->has_peer ? c->peer.s_addr : 0);
	if (rc == 0)
		rc = nl_link_set(&d->nl, d->ifindex, 0, true);
	if (rc < 0) {
		errno = -rc;
		log_warn("%s: cannot configure the interface", c->name);
		return -1;
	}
	return 0;
}

static int setup_signals(struct daemon *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sig_fd < 0 ? -1 : 0;
}

/* Dump the host's IPv4 addresses and publish them to the rx thread. */
static void refresh_own(struct daemon *d)
{
	uint32_t a[OWN_ADDRS_MAX];
	int n = nl_addr_dump(&d->nl, a, OWN_ADDRS_MAX);

	if (n < 0) {
		errno = -n;
		log_warn("cannot list the host's addresses");
		d->n_own = -1;
		return;
	}
	if (n > OWN_ADDRS_MAX && d->n_own <= OWN_ADDRS_MAX)
		log_warnx("%d host addresses: only the first %d are refused as inner sources", n,
			  OWN_ADDRS_MAX);
	own_addrs_publish(&d->own, a, (unsigned)n);
	if (d->fast && fp_set_own(&d->fp, a, (unsigned)(n < OWN_ADDRS_MAX ? n : OWN_ADDRS_MAX)) < 0)
		log_warn("eBPF fast path: cannot update the host's addresses");
	log_debug("%d host addresses refused as inner sources", n);
	d->n_own = n;
}

/*
 * Inner packets from one of the host's own addresses are spoofed (RFC 2003
 * 3.2, RFC 6169): follow the host's addresses, subscribed before the first
 * dump so that no change falls in between.
 */
static int setup_own_addresses(struct daemon *d)
{
	d->mon_fd = nl_monitor_open(&d->mon, RTMGRP_IPV4_IFADDR);
	if (d->mon_fd < 0) {
		errno = -d->mon_fd;
		log_warn("netlink address notifications");
		return -1;
	}
	refresh_own(d);
	d->cfg.ip.host = &d->own;
	return 0;
}

/*
 * Datapath = kernel or auto: the kernel's own ipip device, where the kernel
 * has it; ipipd then only sets it up, reports and cleans up.
 */
static int setup_kernel_device(struct daemon *d)
{
	struct config *c = &d->cfg;
	int rc;

	if (c->datapath == DPM_USERSPACE || c->datapath == DPM_EBPF) {
		snprintf(d->dp_reason, sizeof(d->dp_reason), "configured");
		return 0;
	}
	rc = host_record_link(d->state_path, c->name);
	if (rc == 0)
		rc = nl_ipip_add(&d->nl, c->name, &c->ip, d->mtu);
	if (rc == 0) {
		d->kernel = true;
		snprintf(d->dp_reason, sizeof(d->dp_reason), "%s",
			 c->datapath == DPM_KERNEL ? "configured" : "the kernel has ipip");
		if (c->ip.ecn != ECN_MODE_KERNEL || c->ip.dscp_uniform)
			log_warnx("%s: the kernel datapath encapsulates inner CE as ECT(0) and keeps "
				  "the inner DSCP (ECN = kernel, DSCP = pipe)", c->name);
		return 0;
	}
	host_cleanup(&d->nl, d->state_path, stderr);
	if (c->datapath == DPM_KERNEL) {
		errno = -rc;
		log_warn("%s: Datapath = kernel: cannot create an ipip device", c->name);
		return -1;
	}
	snprintf(d->dp_reason, sizeof(d->dp_reason), "the kernel cannot create ipip devices: %s",
		 strerror(-rc));
	return 0;
}

/* The soft state changed: the fast path passes what no longer fits to the slow path. */
static void fast_state(struct datapath *dp, void *arg)
{
	struct daemon *d = arg;
	unsigned pmtu = atomic_load_explicit(&dp->pmtu, memory_order_relaxed);
	/* TTL or reachability soft state: every packet to the slow path, which checks it */
	bool slow = atomic_load_explicit(&dp->soft, memory_order_relaxed) != 0;
	int rc = fp_set_state(&d->fp, pmtu, slow);

	if (rc < 0) {
		errno = -rc;
		log_warn("eBPF fast path: cannot update its state");
	}
}

/*
 * UnderlayOutput = auto: outer packets go straight to the next hop towards
 * Remote through a packet socket while the route leaves through an Ethernet
 * and the kernel has resolved the neighbour; looked up again every second.
 */
static void refresh_hop(struct daemon *d)
{
	struct nl_ether_hop hop;
	char a[INET_ADDRSTRLEN];
	bool failed;
	int rc;

	if (d->kernel || d->dp.pkt_fd < 0)
		return;
	failed = dp_hop_failed(&d->dp);
	rc = nl_ether_hop(&d->nl, d->cfg.ip.remote, d->cfg.ip.local, &hop);
	if (rc < 0)
		memset(&hop, 0, sizeof(hop));
	dp_set_hop(&d->dp, hop.ifindex, hop.mac);
	if (rc == d->hop_rc && hop.ifindex == d->hop.ifindex &&
	    !memcmp(hop.mac, d->hop.mac, sizeof(hop.mac)) && !failed)
		return;
	if (rc == 0)
		log_info("%s: outer packets go straight to %02x:%02x:%02x:%02x:%02x:%02x (%s) on ifindex %d%s",
			 d->cfg.name, hop.mac[0], hop.mac[1], hop.mac[2], hop.mac[3], hop.mac[4],
			 hop.mac[5], ip4(hop.via, a), hop.ifindex,
			 failed ? " (a send there had failed)" : "");
	else
		log_info("%s: outer packets go through the kernel's IP output: %s", d->cfg.name,
			 rc == -EPFNOSUPPORT ? "the next hop is not a neighbour on an Ethernet with ARP" :
			 rc == -EHOSTUNREACH ? "the next hop is not resolved (yet)" : strerror(-rc));
	d->hop = hop;
	d->hop_rc = rc;
}

static void setup_underlay_output(struct daemon *d)
{
	int fd;

	d->hop_rc = 1;	/* log the first lookup */
	if (d->cfg.underlay_output == UO_KERNEL)
		return;
	fd = packet_open_tx();
	if (fd < 0) {
		errno = -fd;
		log_warn("%s: no packet socket: outer packets go through the kernel's IP output",
			 d->cfg.name);
		return;
	}
	d->dp.pkt_fd = fd;
	refresh_hop(d);
}

/*
 * Datapath = ebpf or auto (without the kernel's device): the TC programs carry
 * ordinary packets; the userspace datapath stays as the slow path.
 */
static int setup_fast_path(struct daemon *d)
{
	struct config *c = &d->cfg;
	struct fp_config fc;
	char why[160];
	size_t n;
	int rc;

	if (d->kernel || (c->datapath != DPM_EBPF && c->datapath != DPM_AUTO))
		return 0;
	fp_config_init(&fc, &c->ip, c->addr.s_addr, d->ifindex, d->underlay_ifindex, d->mtu);
	rc = fp_start(&d->fp, &fc, c->name, c->fp_attach, why, sizeof(why));
	if (rc < 0 && c->datapath == DPM_EBPF) {
		log_warnx("%s: Datapath = ebpf: %s", c->name, why);
		return -1;
	}
	n = strlen(d->dp_reason);
	if (rc < 0) {
		snprintf(d->dp_reason + n, sizeof(d->dp_reason) - n, "; eBPF: %s", why);
		log_info("%s: userspace datapath (%s)", c->name, d->dp_reason);
		return 0;
	}
	if (!strcmp(d->fp.attach, "clsact"))	/* outlives a crash: undone by a restart too */
		host_record_tc_filter(d->state_path, d->underlay_ifindex, d->fp.handle,
				      FP_TC_PRIORITY);
	d->fast = true;
	d->dp.state_changed = fast_state;
	d->dp.state_arg = d;
	if (d->mon_fd >= 0)
		refresh_own(d);
	snprintf(d->dp_reason + n, sizeof(d->dp_reason) - n, "%s%s programs", n ? "; " : "",
		 d->fp.attach);
	log_info("%s: eBPF fast path (%s)", c->name, d->dp_reason);
	return 0;
}

static int setup(struct daemon *d)
{
	struct config *c = &d->cfg;
	char a[INET_ADDRSTRLEN];
	unsigned umtu;
	int oif, rc;

	if (setup_signals(d) < 0) {
		log_warn("signals");
		return -1;
	}
	if (take_lock(d) < 0)
		return -1;
	rc = nl_open(&d->nl);
	if (rc < 0) {
		errno = -rc;
		log_warn("netlink");
		return -1;
	}
	rc = host_cleanup(&d->nl, d->state_path, stderr);
	if (rc > 0)
		log_info("%s: undid %d changes left by an earlier ipipd that did not stop cleanly",
			 c->name, rc);
	else if (rc < 0)
		log_warnx("%s: some changes left by an earlier ipipd could not be undone (%s)",
			  c->name, d->state_path);
	if (if_nametoindex(c->name)) {
		log_warnx("%s: an interface with this name already exists", c->name);
		return -1;
	}
	rc = nl_route_mtu(&d->nl, c->ip.remote, &umtu, &oif);
	if (rc < 0) {
		errno = -rc;
		log_warn("no route to Remote %s", ip4(c->ip.remote, a));
		return -1;
	}
	d->underlay_ifindex = oif;
	d->mtu = c->mtu ? c->mtu : umtu - IPV4_HLEN;
	if (d->mtu < CONFIG_MTU_MIN)
		d->mtu = CONFIG_MTU_MIN;
	if (d->mtu > CONFIG_MTU_MAX)
		d->mtu = CONFIG_MTU_MAX;
	if (setup_kernel_device(d) < 0)
		return -1;
	if (!d->kernel) {
		d->raw_fd = raw_open(c->ip.local);
		if (d->raw_fd < 0) {
			errno = -d->raw_fd;
			log_warn("raw protocol-4 socket on Local %s", ip4(c->ip.local, a));
			return -1;
		}
		d->tun_fd = tun_open(c->name);
		if (d->tun_fd < 0) {
			errno = -d->tun_fd;
			log_warn("%s: cannot create the TUN device", c->name);
			return -1;
		}
	}
	if (setup_link(d) < 0)
		return -1;
	if (host_apply(c, &d->nl, d->ifindex, d->state_path, stderr) < 0)
		return -1;
	rc = d->kernel ? 0 : dp_init(&d->dp, &c->ip, d->tun_fd, d->raw_fd);
	if (rc < 0) {
		errno = -rc;
		log_warn("datapath buffers");
		return -1;
	}
	if (!d->kernel) {
		dp_set_mtu(&d->dp, d->mtu);
		if (setup_own_addresses(d) < 0)
			return -1;
		setup_underlay_output(d);
	}
	if (setup_fast_path(d) < 0)
		return -1;
	d->ctl_fd = ctl_listen(d->sock_path);
	if (d->ctl_fd < 0) {
		errno = -d->ctl_fd;
		log_warn("control socket %s", d->sock_path);
		return -1;
	}
	if (write_pid(d->pid_path) < 0) {
		log_warn("%s", d->pid_path);
		return -1;
	}
	log_info("tunnel %s up: local %s remote %s mtu %u", c->name, ip4(c->ip.local, a),
		 ip4(c->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }), d->mtu);
	return 0;
}

/* Undo everything setup() did, in reverse; safe after a partial setup. */
static void teardown(struct daemon *d)
{
	fp_stop(&d->fp);	/* before the device it redirects to goes */
	dp_free(&d->dp);
	if (d->lock_fd >= 0 && d->nl.sock && host_cleanup(&d->nl, d->state_path, stderr) < 0)
		log_warnx("%s: some host changes could not be undone; see %s", d->cfg.name,
			  d->state_path);
	if (d->tun_fd >= 0) {
		/* The device goes with its last descriptor, and its addresses and routes with it. */
		close(d->tun_fd);
	}
	if (d->raw_fd >= 0)
		close(d->raw_fd);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	nl_close(&d->mon);
	nl_close(&d->nl);
	/* The socket goes last: `ipipctl down` waits for it, so the host must be clean by then. */
	if (d->ctl_fd >= 0) {
		close(d->ctl_fd);
		unlink(d->sock_path);
	}
	if (d->pid_path[0] && d->lock_fd >= 0)
		unlink(d->pid_path);
	if (d->lock_fd >= 0) {
		unlink(d->lock_path);
		close(d->lock_fd);
		/* A per-namespace directory goes when its last tunnel does. */
		if (strcmp(d->run_dir, "/run/ipipd") != 0)
			rmdir(d->run_dir);
	}
}

static const char *ecn_name(enum ecn_mode m)
{
	return m == ECN_MODE_COMPAT ? "compatibility" : m == ECN_MODE_KERNEL ? "kernel" : "normal";
}

static uint64_t sysfs_counter(const char *ifname, const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strtoull(buf, NULL, 10);
}

/* The kernel device's own counters; its errors count as drops. */
static void kernel_stats(const char *ifname, struct dp_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->rx_packets = sysfs_counter(ifname, "rx_packets");
	st->rx_bytes = sysfs_counter(ifname, "rx_bytes");
	st->tx_packets = sysfs_counter(ifname, "tx_packets");
	st->tx_bytes = sysfs_counter(ifname, "tx_bytes");
	st->drops[PKT_RX_ECN_CE_NOT_ECT] = sysfs_counter(ifname, "rx_frame_errors");
	st->drops[PKT_TX_SEND_ERROR] = sysfs_counter(ifname, "tx_errors");
}

static void describe(const struct daemon *d, struct strbuf *sb)
{
	const struct config *c = &d->cfg;
	struct dp_stats snap;
	const struct dp_stats *st = &snap;
	char a[INET_ADDRSTRLEN];

	uint64_t fc[FP_COUNTER_MAX];

	if (d->kernel)
		kernel_stats(c->name, &snap);
	else
		dp_stats_read(&d->dp, &snap);
	fp_counters(&d->fp, fc);
	snap.rx_packets += fc[FP_RX_PACKETS];
	snap.rx_bytes += fc[FP_RX_BYTES];
	snap.tx_packets += fc[FP_TX_PACKETS];
	snap.tx_bytes += fc[FP_TX_BYTES];
	snap.drops[PKT_RX_TUN_WRITE] += fc[FP_RX_ERROR];
	snap.drops[PKT_TX_SEND_ERROR] += fc[FP_TX_ERROR];

	sb_printf(sb, "name=%s\npid=%ld\ndatapath=%s\ndatapath_reason=%s\n", c->name,
		  (long)getpid(), d->kernel ? "kernel" : d->fast ? "ebpf" : "userspace",
		  d->dp_reason);
	if (d->fast)
		sb_printf(sb, "fast_attach=%s\nfast_programs=%u %u\nfast_underlay=%d\n"
			  "fast_rx_packets=%llu\nfast_tx_packets=%llu\n"
			  "slow_rx_packets=%llu\nslow_tx_packets=%llu\n",
			  d->fp.attach, d->fp.prog_id[FP_EGRESS], d->fp.prog_id[FP_INGRESS],
			  d->underlay_ifindex, (unsigned long long)fc[FP_RX_PACKETS],
			  (unsigned long long)fc[FP_TX_PACKETS],
			  (unsigned long long)fc[FP_RX_SLOW], (unsigned long long)fc[FP_TX_SLOW]);
	sb_printf(sb, "local=%s\n", ip4(c->ip.local, a));
	sb_printf(sb, "remote=%s\n", ip4(c->ip.remote, a));
	sb_printf(sb, "address=%s/%u\n", ip4(c->addr.s_addr, a), c->prefixlen);
	if (c->has_peer)
		sb_printf(sb, "peer=%s\n", ip4(c->peer.s_addr, a));
	sb_printf(sb, "mtu=%u\nifindex=%d\n", d->mtu, d->ifindex);
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
	host_describe(c, sb);
	if (!d->kernel) {
		sb_printf(sb, "path_mtu=%llu\nfragmented=%llu\n", (unsigned long long)st->path_mtu,
			  (unsigned long long)st->frag_sent);
		sb_printf(sb, "path_ttl=%llu\nreachable=%s\nunreachable_age=%lld\n",
			  (unsigned long long)st->path_ttl, st->reachable ? "yes" : "no",
			  (long long)st->unreachable_age);
		sb_printf(sb, "soft_ttl_errors=%llu\nsoft_unreach_errors=%llu\nsoft_errors_limited=%llu\n",
			  (unsigned long long)st->soft_ttl_sent,
			  (unsigned long long)st->soft_unreach_sent,
			  (unsigned long long)st->soft_limited);
	}
	if (!d->kernel) {
		sb_printf(sb, "own_addresses=%d\n", d->n_own);
		sb_printf(sb, "underlay_output=%s\n", d->cfg.underlay_output == UO_KERNEL ? "kernel" :
			  d->dp.pkt_fd < 0 ? "kernel (no packet socket)" :
			  d->hop_rc == 0 ? "direct" : "kernel (next hop not an Ethernet neighbour now)");
		if (d->hop_rc == 0)
			sb_printf(sb, "underlay_hop=%02x:%02x:%02x:%02x:%02x:%02x ifindex %d\n",
				  d->hop.mac[0], d->hop.mac[1], d->hop.mac[2], d->hop.mac[3],
				  d->hop.mac[4], d->hop.mac[5], d->hop.ifindex);
		sb_printf(sb, "tx_direct=%llu\n", (unsigned long long)st->tx_direct);
	}
	sb_printf(sb, "icmp_errors=%llu\necn_unusual=%llu\n", (unsigned long long)st->icmp_errors,
		  (unsigned long long)st->ecn_unusual);
	sb_printf(sb, "icmp_relayed=%llu\nicmp_relay_limited=%llu\n",
		  (unsigned long long)st->icmp_relayed, (unsigned long long)st->icmp_relay_limited);
	for (int v = PKT_OK + 1; v < PKT_VERDICT_MAX; v++)
		sb_printf(sb, "drop.%s=%llu\n", pkt_verdict_name((enum pkt_verdict)v),
			  (unsigned long long)st->drops[v]);
}

static void serve_control(struct daemon *d)
{
	static struct strbuf sb;	/* 16 KiB: not on the stack */
	int fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	enum ctl_request req;

	if (fd < 0)
		return;
	sb.len = 0;
	sb.overflow = 0;
	req = ctl_read_request(fd);
	switch (req) {
	case CTL_GET:
		describe(d, &sb);
		sb_printf(&sb, "errno=0\n\n");
		break;
	case CTL_DOWN:
		log_info("stopping on request");
		d->stop = 1;
		sb_printf(&sb, "errno=0\n\n");
		break;
	default:
		sb_printf(&sb, "errno=%d\n\n", EINVAL);
		break;
	}
	ctl_write_all(fd, sb.buf, sb.len);
	close(fd);
}

/*
 * The fast path follows the route to Remote: when it leaves through another
 * device (the underlay was replaced, or a route changed), the ingress program
 * moves there and outer packets go there.
 */
static void follow_underlay(struct daemon *d)
{
	unsigned umtu;
	int oif, rc;

	if (!d->fast || nl_route_mtu(&d->nl, d->cfg.ip.remote, &umtu, &oif) < 0 ||
	    oif == d->underlay_ifindex)
		return;
	rc = fp_move_underlay(&d->fp, oif);
	if (rc < 0) {
		errno = -rc;
		log_warn("eBPF fast path: cannot move to ifindex %d", oif);
		return;
	}
	log_info("%s: eBPF fast path: the route to Remote now leaves through ifindex %d (was %d)",
		 d->cfg.name, oif, d->underlay_ifindex);
	d->underlay_ifindex = oif;
	if (!strcmp(d->fp.attach, "clsact"))
		host_record_tc_filter(d->state_path, oif, d->fp.handle, FP_TC_PRIORITY);
	fast_state(&d->dp, d);
}

#define FOLLOW_UNDERLAY_MS 1000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run(struct daemon *d)
{
	struct pollfd pfd[3] = {
		{ .fd = d->sig_fd, .events = POLLIN },
		{ .fd = d->ctl_fd, .events = POLLIN },
		{ .fd = d->mon_fd, .events = POLLIN },	/* -1 (ignored) with the kernel's device */
	};
	uint64_t followed = now_ms();
	bool timer = d->fast || (!d->kernel && d->dp.pkt_fd >= 0);
	int rc = d->kernel ? 0 : dp_start(&d->dp);	/* one thread per direction */

	if (rc < 0) {
		errno = -rc;
		log_warn("datapath threads");
		return;
	}
	while (!d->stop) {
		int n = poll(pfd, 3, timer ? FOLLOW_UNDERLAY_MS : -1);

		if (timer && now_ms() - followed >= FOLLOW_UNDERLAY_MS) {
			followed = now_ms();
			follow_underlay(d);
			refresh_hop(d);
		}
		if (n == 0)
			continue;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
				log_info("signal %u: stopping", si.ssi_signo);
				d->stop = 1;
			}
		}
		if (pfd[1].revents & POLLIN)
			serve_control(d);
		if (pfd[2].revents && nl_monitor_drain(&d->mon) > 0)
			refresh_own(d);
	}
	if (!d->kernel)
		dp_stop(&d->dp);
}

/*
 * Without -f: fork, let the child set up, and exit 0 from the parent only once
 * the child says the tunnel is up.  Start-up errors still reach stderr.
 */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &ok, 1) == 1 && ok == '1')
			_exit(0);
		_exit(1);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

/*
 * Nice (default -10) for this thread and so for the datapath threads run()
 * starts.  Without the privilege the daemon still works, at the priority it
 * was started with.
 */
static void set_priority(const struct config *c)
{
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) == c->nice && errno == 0)
		return;
	if (setpriority(PRIO_PROCESS, 0, c->nice) < 0) {
		int err = errno, now = getpriority(PRIO_PROCESS, 0);

		errno = err;
		log_warn("%s: Nice = %d: the datapath keeps priority %d", c->path, c->nice, now);
	}
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int main(int argc, char **argv)
{
	static struct daemon d;
	int opt, foreground = 0, verbose = 0, check = 0, ready_fd = -1;
	enum sandbox_mode sbx = SANDBOX_ENFORCE;

	while ((opt = getopt(argc, argv, "fvnSh")) != -1) {
		switch (opt) {
		case 'f': foreground = 1; break;
		case 'v': verbose = 1; break;
		case 'n': check = 1; break;
		case 'S': sbx = SANDBOX_REPORT; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	log_init("ipipd", true, verbose);
	if (config_load(argv[optind], &d.cfg, stderr) < 0)
		return 1;
	if (check) {
		printf("%s: configuration ok (tunnel %s)\n", argv[optind], d.cfg.name);
		return 0;
	}
	if (geteuid() != 0)
		log_warnx("not running as root: creating the tunnel will probably fail");
	d.lock_fd = d.tun_fd = d.raw_fd = d.ctl_fd = d.sig_fd = d.mon_fd = -1;
	fp_init(&d.fp);
	if (!foreground)
		daemonize(&ready_fd);
	if (setup(&d) < 0) {
		teardown(&d);
		return 1;
	}
	/* Before the datapath threads start in run(): they inherit the priority
	 * (CAP_SYS_NICE is still held here) and the filter. */
	set_priority(&d.cfg);
	if (sandbox_enter(sbx) < 0) {
		teardown(&d);
		return 1;
	}
	if (ready_fd >= 0) {
		log_to_syslog();
		detach_stdio();
		if (write(ready_fd, "1", 1) != 1)
			log_warn("readiness pipe");
		close(ready_fd);
	}
	run(&d);
	teardown(&d);
	log_info("tunnel %s down", d.cfg.name);
	return 0;
}

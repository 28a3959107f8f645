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
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "control.h"
#include "daemon.h"
#include "firewall.h"
#include "fwwatch.h"
#include "host.h"
#include "lint.h"
#include "log.h"
#include "tun.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ipipd [-f] [-v] [-n] [-S] [-u USER] CONFIG\n"
		   "  -f  stay in the foreground and log to stderr\n"
		   "  -v  verbose (debug) logging\n"
		   "  -n  check the configuration and exit\n"
		   "  -S  sandbox report mode: let system calls outside the allow-list\n"
		   "      proceed and name them in the log instead of killing the daemon\n"
		   "  -u  the user the datapath process runs as (default " SANDBOX_USER ")\n"
		   "  -h  show this help\n");
}

const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* The runtime directory (checked, made if missing) and the tunnel's paths in it. */
static int runtime_paths(struct daemon *d)
{
	char why[600];
	int rc = run_dir_check(1, why, sizeof(why));

	if (rc < 0) {
		log_warnx("runtime directory: %s: refusing to start", why);
		return -1;
	}
	if (run_dir(d->run_dir, sizeof(d->run_dir)) < 0 ||
	    run_path(d->lock_path, sizeof(d->lock_path), d->cfg.name, ".lock") < 0 ||
	    run_path(d->sock_path, sizeof(d->sock_path), d->cfg.name, ".sock") < 0 ||
	    run_path(d->pid_path, sizeof(d->pid_path), d->cfg.name, ".pid") < 0 ||
	    run_path(d->state_path, sizeof(d->state_path), d->cfg.name, ".state") < 0) {
		log_warnx("runtime path too long");
		return -1;
	}
	return 0;
}

/* Take the tunnel's lock: a second ipipd for the same name refuses to start. */
static int take_lock(struct daemon *d)
{
	/* a namespace's directory goes with its last tunnel: made again if it just went */
	for (int tries = 0; tries < 3; tries++) {
		if (runtime_paths(d) < 0)
			return -1;
		d->lock_fd = run_lock(d->lock_path, 0);
		if (d->lock_fd != -ENOENT)
			break;
	}
	if (d->lock_fd == -EWOULDBLOCK) {
		log_warnx("tunnel '%s' is already run by another ipipd", d->cfg.name);
		return -1;
	}
	if (d->lock_fd < 0) {
		errno = -d->lock_fd;
		log_warn("%s", d->lock_path);
		return -1;
	}
	return 0;
}

static int write_pid(const char *path)
{
	char buf[32];
	int fd = run_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), len, rc = 0;

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
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

/* The datapath process learns the host's addresses (the rx thread's own_addrs). */
static void tell_addrs(struct daemon *d)
{
	struct msg m = { .type = MSG_ADDRS };
	unsigned n = d->n_own < 0 ? 0 : d->n_own > OWN_ADDRS_MAX ? OWN_ADDRS_MAX : (unsigned)d->n_own;

	if (d->child <= 0) {	/* not yet forked: it inherits them */
		own_addrs_publish(&d->own, d->own_list, n);
		return;
	}
	m.u.addrs.total = d->n_own < 0 ? UINT32_MAX : (uint32_t)d->n_own;
	m.u.addrs.n = n;
	memcpy(m.u.addrs.addr, d->own_list, n * sizeof(uint32_t));
	if (msg_send(d->sock_fd, &m) < 0)
		log_warn("datapath process: cannot send the host's addresses");
}

/* Dump the host's IPv4 addresses and publish them to the rx thread and the fast path. */
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
	memcpy(d->own_list, a, sizeof(a));
	if (d->fast && fp_set_own(&d->fp, a, (unsigned)(n < OWN_ADDRS_MAX ? n : OWN_ADDRS_MAX)) < 0)
		log_warn("eBPF fast path: cannot update the host's addresses");
	log_debug("%d host addresses refused as inner sources", n);
	d->n_own = n;
	tell_addrs(d);
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
 * Create the tunnel's device of kind "ipip" (the kernel's) or "tun" (d->tun_fd),
 * recorded first with the interface index it is then given (another one if
 * that index was taken in between).  0 or -errno.
 */
static int create_link(struct daemon *d, const char *kind)
{
	struct config *c = &d->cfg;
	int rc = -EBUSY, ifindex;
	off_t at;

	for (int tries = 0; tries < 5 && rc == -EBUSY; tries++) {
		rc = nl_free_ifindex(&d->nl, &ifindex);
		if (rc == 0)
			rc = host_record_link(d->state_path, ifindex, c->name, kind, &at);
		if (rc < 0)
			return rc;
		if (!strcmp(kind, "ipip")) {
			rc = nl_ipip_add(&d->nl, c->name, &c->ip, d->mtu, ifindex);
		} else {
			d->tun_fd = tun_open(c->name, ifindex);
			rc = d->tun_fd < 0 ? d->tun_fd : 0;
		}
		/* taken meanwhile (the ipip module's tunl0 as it loads): not ours */
		if (rc == -EBUSY && (errno = -host_unrecord(d->state_path, at)) != 0)
			log_warn("%s: cannot take back its last line", d->state_path);
	}
	return rc;
}

/*
 * Datapath = kernel or auto: the kernel's own ipip device, where the kernel
 * has it; ipipd then only sets it up, reports and cleans up.
 */
static int setup_kernel_device(struct daemon *d)
{
	struct config *c = &d->cfg;
	int rc;

	const char *gap;
	unsigned line;
	char path[128];

	if (c->datapath == DPM_USERSPACE || c->datapath == DPM_EBPF) {
		snprintf(d->dp_reason, sizeof(d->dp_reason), "configured");
		return 0;
	}
	/* never ignore a key: where the kernel's device cannot enforce one, ipipd carries the packets */
	gap = config_kernel_gap(c, &line);
	if (gap && c->datapath == DPM_KERNEL) {
		fprintf(stderr, "%s:%u: %s: the kernel's ipip device (Datapath = kernel) cannot "
			"enforce it; use Datapath = auto, ebpf or userspace\n", c->path, line, gap);
		return -1;
	}
	if (gap) {
		snprintf(d->dp_reason, sizeof(d->dp_reason),
			 "%s: the kernel's ipip device would not enforce it", gap);
		return 0;
	}
	rc = create_link(d, "ipip");
	if (rc == 0) {
		d->kernel = true;
		/* inner packets with a source route option are refused on the device (AllowSourceRoute = no) */
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_source_route", c->name);
		if (host_sysctl_write(path, "0") < 0)
			log_warnx("%s: cannot refuse source-routed packets on the device", c->name);
		snprintf(d->dp_reason, sizeof(d->dp_reason), "%s",
			 c->datapath == DPM_KERNEL ? "configured" : "the kernel has ipip");
		if (c->ip.ecn != ECN_MODE_KERNEL || c->ip.dscp_uniform)
			log_warnx("%s: the kernel datapath encapsulates inner CE as ECT(0) and keeps "
				  "the inner DSCP (ECN = kernel, DSCP = pipe)", c->name);
		return 0;
	}
	host_cleanup(&d->nl, c->name, d->state_path, stderr);
	if (c->datapath == DPM_KERNEL) {
		errno = -rc;
		log_warn("%s: Datapath = kernel: cannot create an ipip device", c->name);
		return -1;
	}
	snprintf(d->dp_reason, sizeof(d->dp_reason), "the kernel cannot create ipip devices: %s",
		 strerror(-rc));
	return 0;
}

/*
 * UnderlayOutput = auto: outer packets go straight to the next hop towards
 * Remote through a packet socket while the route leaves through an Ethernet
 * and the kernel has resolved the neighbour; looked up again every second.
 */
static void refresh_hop(struct daemon *d, bool failed)
{
	struct nl_ether_hop hop;
	struct msg m = { .type = MSG_HOP };
	char a[INET_ADDRSTRLEN];
	int rc;

	if (d->kernel || !d->direct)
		return;
	rc = nl_ether_hop(&d->nl, d->cfg.ip.remote, d->cfg.ip.local, &hop);
	if (rc < 0)
		memset(&hop, 0, sizeof(hop));
	if (d->child > 0) {
		m.u.hop.rc = rc < 0 ? rc : 0;
		m.u.hop.ifindex = hop.ifindex;
		m.u.hop.via = hop.via;
		memcpy(m.u.hop.mac, hop.mac, sizeof(hop.mac));
		m.u.hop.failed = failed;
		if (msg_send(d->sock_fd, &m) < 0)
			log_warn("datapath process: cannot send the next hop");
	} else {
		dp_set_hop(&d->dp, hop.ifindex, hop.mac);
	}
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
	d->direct = true;
	refresh_hop(d, false);
}

/*
 * Datapath = ebpf or auto (without the kernel's device): the TC programs carry
 * ordinary packets; the userspace datapath stays as the slow path.
 */
static int record_tc_filter(void *arg, int ifindex, uint32_t handle, uint32_t prio)
{
	struct daemon *d = arg;

	return host_record_tc_filter(d->state_path, ifindex, handle, prio);
}

/* fp_underlay_l2() of a device (-1: unknown or unusable). */
static int underlay_l2(struct daemon *d, int ifindex)
{
	unsigned short type;

	return nl_link_type(&d->nl, ifindex, &type) < 0 ? -1 : fp_underlay_l2(type);
}

static int setup_fast_path(struct daemon *d)
{
	struct config *c = &d->cfg;
	struct fp_config fc;
	char why[200];
	size_t n;
	int rc;

	if (d->kernel || (c->datapath != DPM_EBPF && c->datapath != DPM_AUTO))
		return 0;
	fp_config_init(&fc, &c->ip, c->addr.s_addr, d->ifindex, d->underlay_ifindex, d->mtu);
	d->fp.record = record_tc_filter;
	d->fp.record_arg = d;
	rc = fp_start(&d->fp, &fc, c->name, c->fp_attach, d->own_list,
		      d->n_own < 0 ? 0 : (unsigned)(d->n_own < OWN_ADDRS_MAX ? d->n_own : OWN_ADDRS_MAX),
		      underlay_l2(d, d->underlay_ifindex), why, sizeof(why));
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
	d->fast = true;
	snprintf(d->dp_reason + n, sizeof(d->dp_reason) - n, "%s%s programs", n ? "; " : "",
		 d->fp.attach);
	log_info("%s: eBPF fast path (%s)", c->name, d->dp_reason);
	return 0;
}

/* The kernel's own limits for the soft state (net.ipv4.route.*, ip_default_ttl). */
static unsigned sysctl_uint(const char *path, unsigned dflt)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	unsigned long v;
	char *end;

	if (!f)
		return dflt;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return dflt;
	}
	fclose(f);
	v = strtoul(buf, &end, 10);
	return end == buf || v > 0xffffffffu ? dflt : (unsigned)v;
}

static void soft_limits(struct daemon *d, struct ss_limits *lim)
{
	lim->mtu = d->mtu;
	lim->floor = sysctl_uint("/proc/sys/net/ipv4/route/min_pmtu", SS_PMTU_FLOOR);
	lim->expire_s = sysctl_uint("/proc/sys/net/ipv4/route/mtu_expires", SS_EXPIRE_S);
	lim->ttl_max = sysctl_uint("/proc/sys/net/ipv4/ip_default_ttl", SS_TTL_MAX);
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
	rc = host_cleanup(&d->nl, c->name, d->state_path, stderr);
	if (rc > 0)
		log_info("%s: undid %d changes left by an earlier ipipd that did not stop cleanly",
			 c->name, rc);
	else if (rc == -EIO)
		log_warnx("%s: some changes left by an earlier ipipd could not be undone (%s)",
			  c->name, d->state_path);
	else if (rc < 0) {
		if (rc == -EBADMSG)
			log_warnx("%s: %s holds entries ipipd did not write for this tunnel here: "
				  "nothing of it was undone (look at it, undo what it lists by hand "
				  "and remove it)", c->name, d->state_path);
		log_warnx("%s: %s: refusing to start", c->name, d->state_path);
		d->keep_state = true;
		return -1;
	}
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
	d->route_mtu = umtu;
	d->mtu = c->mtu ? c->mtu : umtu - IPV4_HLEN;
	if (d->mtu < CONFIG_MTU_MIN)
		d->mtu = CONFIG_MTU_MIN;
	if (d->mtu > CONFIG_MTU_MAX)
		d->mtu = CONFIG_MTU_MAX;
	if (setup_kernel_device(d) < 0)
		return -1;
	if (!d->kernel) {
		d->raw_fd = raw_open(c->ip.local, c->ip.remote);
		if (d->raw_fd < 0) {
			errno = -d->raw_fd;
			log_warn("raw protocol-4 socket on Local %s", ip4(c->ip.local, a));
			return -1;
		}
		rc = create_link(d, "tun");
		if (rc < 0) {
			errno = -rc;
			log_warn("%s: cannot create the TUN device", c->name);
			return -1;
		}
	}
	if (setup_link(d) < 0)
		return -1;
	if (fwwatch_open(c) < 0)
		return -1;
	if (host_apply(c, &d->nl, d->ifindex, d->state_path, stderr) < 0)
		return -1;
	if (!d->kernel && setup_own_addresses(d) < 0)
		return -1;
	if (setup_fast_path(d) < 0)
		return -1;
	if (!d->kernel) {
		struct ss_limits lim;

		soft_limits(d, &lim);
		rc = dp_init(&d->dp, &c->ip, d->tun_fd, d->raw_fd, &lim,
			     d->fast ? fp_ids(&d->fp) : NULL);
		d->dp.route_mtu = d->route_mtu;
		if (rc < 0) {
			errno = -rc;
			log_warn("datapath buffers");
			return -1;
		}
		setup_underlay_output(d);
	}
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

/* Close what only the datapath process uses (the parent, after the fork or a failed setup). */
static void close_datapath(struct daemon *d)
{
	dp_free(&d->dp);
	if (d->tun_fd >= 0) {
		/* The device goes with its last descriptor, and its addresses and routes with it. */
		close(d->tun_fd);
		d->tun_fd = -1;
	}
	if (d->raw_fd >= 0)
		close(d->raw_fd);
	if (d->ctl_fd >= 0)
		close(d->ctl_fd);
	d->raw_fd = d->ctl_fd = -1;
}

/* Undo everything setup() did, in reverse; safe after a partial setup. */
static void teardown(struct daemon *d)
{
	fwwatch_close();
	fp_stop(&d->fp);	/* before the device it redirects to goes */
	close_datapath(d);
	if (d->lock_fd >= 0 && d->nl.sock && !d->keep_state &&
	    host_cleanup(&d->nl, d->cfg.name, d->state_path, stderr) < 0)
		log_warnx("%s: some host changes could not be undone; see %s", d->cfg.name,
			  d->state_path);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->sock_fd >= 0)
		close(d->sock_fd);
	nl_close(&d->mon);
	nl_close(&d->nl);
	/* The socket goes last: `ipipctl down` waits for it, so the host must be clean by then. */
	if (d->sock_path[0] && d->lock_fd >= 0)
		unlink(d->sock_path);
	if (d->pid_path[0] && d->lock_fd >= 0)
		unlink(d->pid_path);
	if (d->lock_fd >= 0) {
		unlink(d->lock_path);
		close(d->lock_fd);
		/* A per-namespace directory goes when its last tunnel does. */
		if (strcmp(d->run_dir, RUN_BASE) != 0)
			rmdir(d->run_dir);
	}
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

/* The parent's part of `ipipctl show`: what needs privileges or the kernel device. */
static void send_status(struct daemon *d)
{
	static const char *const names[MK_MAX] = {
		[MK_RX_PACKETS] = "rx_packets", [MK_RX_BYTES] = "rx_bytes",
		[MK_TX_PACKETS] = "tx_packets", [MK_TX_BYTES] = "tx_bytes",
		[MK_RX_ECN_DROPS] = "rx_frame_errors", [MK_TX_ERRORS] = "tx_errors",
	};
	struct msg m = { .type = MSG_STATUS };

	m.u.status.fw_rules = d->cfg.fw_forward || d->cfg.fw_input ? fw_count(d->cfg.name) : -1;
	if (m.u.status.fw_rules < -1)
		m.u.status.fw_rules = -1;
	m.u.status.underlay = d->underlay_ifindex;
	for (int i = 0; d->kernel && i < MK_MAX; i++)
		m.u.status.kernel[i] = sysfs_counter(d->cfg.name, names[i]);
	if (msg_send(d->sock_fd, &m) < 0)
		log_warn("datapath process: cannot send the status");
}

/*
 * The route to Remote, every second and when the datapath process asks: its
 * MTU goes to the datapath process when it changed (or was asked for), and
 * the fast path follows it: when it leaves through another device (the
 * underlay was replaced, or a route changed), the ingress program moves
 * there and outer packets go there.
 */
static void follow_underlay(struct daemon *d, bool asked)
{
	struct msg m = { .type = MSG_ROUTE_MTU };
	unsigned umtu;
	int oif, rc;

	if (nl_route_mtu(&d->nl, d->cfg.ip.remote, &umtu, &oif) < 0)
		return;
	/* the datapath process keeps the path MTU within the route's */
	if (umtu != d->route_mtu || asked) {
		d->route_mtu = umtu;
		m.u.route.mtu = umtu < 68 ? 68 : umtu > 0xffff ? 0xffff : umtu;
		if (msg_send(d->sock_fd, &m) < 0)
			log_warn("datapath process: cannot send the route's MTU");
	}
	if (oif == d->underlay_ifindex)
		return;
	if (!d->fast) {
		d->underlay_ifindex = oif;
		return;
	}
	rc = fp_move_underlay(&d->fp, oif, underlay_l2(d, oif));
	if (rc < 0) {
		errno = -rc;
		log_warn("eBPF fast path: cannot move to ifindex %d", oif);
		return;
	}
	log_info("%s: eBPF fast path: the route to Remote now leaves through ifindex %d (was %d)",
		 d->cfg.name, oif, d->underlay_ifindex);
	d->underlay_ifindex = oif;
}

#define FOLLOW_UNDERLAY_MS 1000
#define CHILD_READY_MS 10000	/* the datapath process starts within */
#define CHILD_STOP_MS 5000	/* ... and stops within, or is killed */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Fork the datapath process.  It keeps the TUN device, the sockets, the
 * mapped fast path state and the control socket; the parent keeps netlink,
 * the journal and the attachments, and closes the rest.
 */
static int spawn_child(struct daemon *d)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair");
		return -1;
	}
	d->child = fork();
	if (d->child < 0) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (d->child == 0) {
		close(sv[0]);
		d->sock_fd = sv[1];
		child_run(d);
	}
	close(sv[1]);
	d->sock_fd = sv[0];
	close_datapath(d);
	return 0;
}

/* Wait for the datapath process's MSG_READY; 0, or -1 if it failed or fell silent. */
static int wait_ready(struct daemon *d)
{
	uint64_t deadline = now_ms() + CHILD_READY_MS;
	struct msg m;

	while (now_ms() < deadline) {
		struct pollfd p = { .fd = d->sock_fd, .events = POLLIN };
		int n = poll(&p, 1, (int)(deadline - now_ms()));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		n = msg_recv(d->sock_fd, MSG_FROM_CHILD, &m);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			break;
		if (m.type == MSG_READY)
			return 0;
	}
	log_warnx("%s: the datapath process did not start", d->cfg.name);
	return -1;
}

/* Tell the datapath process to stop, and reap it (killed if it does not go in time). */
static int stop_child(struct daemon *d)
{
	struct msg m = { .type = MSG_STOP };
	uint64_t deadline = now_ms() + CHILD_STOP_MS;
	int status = 0;

	if (d->child <= 0)
		return 0;
	msg_send(d->sock_fd, &m);
	for (;;) {
		pid_t pid = waitpid(d->child, &status, WNOHANG);

		if (pid == d->child || (pid < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline) {
			log_warnx("%s: the datapath process did not stop: killed", d->cfg.name);
			kill(d->child, SIGKILL);
			waitpid(d->child, &status, 0);
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	d->child = 0;
	if (WIFSIGNALED(status)) {
		log_warnx("%s: the datapath process was killed by signal %d", d->cfg.name,
			  WTERMSIG(status));
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A message from the datapath process; -1 when it is gone or misbehaves. */
static int from_child(struct daemon *d)
{
	struct msg m;
	int rc = msg_recv(d->sock_fd, MSG_FROM_CHILD, &m);

	if (rc == -EAGAIN)
		return 0;
	if (rc < 0) {
		if (rc == -EPIPE)
			log_warnx("%s: the datapath process ended", d->cfg.name);
		else
			log_warnx("%s: bad message from the datapath process: %s", d->cfg.name,
				  strerror(-rc));
		return -1;
	}
	switch (m.type) {
	case MSG_DOWN:
		log_info("stopping on request");
		d->stop = 1;
		break;
	case MSG_STATUS_REQ:
		send_status(d);
		break;
	case MSG_HOP_FAILED:
		refresh_hop(d, true);
		break;
	case MSG_ROUTE_CHECK:
		follow_underlay(d, true);
		break;
	default:
		break;
	}
	return 1;
}

/* The parent's loop: signals, the datapath process, the host's addresses, routes, the firewall. */
static int run(struct daemon *d)
{
	struct pollfd pfd[4] = {
		{ .fd = d->sig_fd, .events = POLLIN },
		{ .fd = d->sock_fd, .events = POLLIN },
		{ .fd = d->mon_fd, .events = POLLIN },	/* -1 (ignored) with the kernel's device */
		{ .fd = fwwatch_fd(), .events = POLLIN },	/* -1 without Forward or Input */
	};
	uint64_t followed = now_ms();
	int failed = 0;

	while (!d->stop) {
		int n = poll(pfd, 4, d->kernel ? -1 : FOLLOW_UNDERLAY_MS);

		if (!d->kernel && now_ms() - followed >= FOLLOW_UNDERLAY_MS) {
			followed = now_ms();
			follow_underlay(d, false);
			refresh_hop(d, false);
		}
		if (n == 0)
			continue;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			failed = 1;
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
				log_info("signal %u: stopping", si.ssi_signo);
				d->stop = 1;
			}
		}
		if (pfd[1].revents && from_child(d) < 0) {
			failed = 1;
			break;
		}
		if (pfd[2].revents && nl_monitor_drain(&d->mon) > 0)
			refresh_own(d);
		if (pfd[3].revents)
			fwwatch_run();
	}
	return stop_child(d) < 0 || failed ? -1 : 0;
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
 * Nice (default -10) for this thread and so for the datapath process and
 * its threads.  Without the privilege the daemon still works, at the
 * priority it was started with.
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
	const char *user = SANDBOX_USER;
	int opt, verbose = 0, check = 0, ready_fd = -1, rc;

	d.sandbox = SANDBOX_ENFORCE;
	while ((opt = getopt(argc, argv, "fvnSu:h")) != -1) {
		switch (opt) {
		case 'f': d.foreground = true; break;
		case 'v': verbose = 1; break;
		case 'n': check = 1; break;
		case 'S': d.sandbox = SANDBOX_REPORT; break;
		case 'u': user = optarg; break;
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
		unsigned warnings;

		if (lint_run(&d.cfg, LINT_CHECK, stderr, &warnings) > 0)
			return 1;
		printf("%s: configuration ok (tunnel %s)%s\n", argv[optind], d.cfg.name,
		       warnings ? ", with warnings" : "");
		return 0;
	}
	lint_run(&d.cfg, LINT_START, stderr, NULL);	/* warnings only */
	if (geteuid() != 0)
		log_warnx("not running as root: creating the tunnel will probably fail");
	d.lock_fd = d.tun_fd = d.raw_fd = d.ctl_fd = d.sig_fd = d.mon_fd = d.sock_fd = -1;
	fp_init(&d.fp);
	if (sandbox_user(user, &d.user) < 0)
		return 1;
	if (!d.foreground)
		daemonize(&ready_fd);
	if (setup(&d) < 0) {
		teardown(&d);
		return 1;
	}
	/* Before the fork: the datapath process and its threads inherit it
	 * (CAP_SYS_NICE is still held here). */
	set_priority(&d.cfg);
	if (spawn_child(&d) < 0 || sandbox_enter_parent(d.sandbox, d.fast, d.child) < 0 ||
	    wait_ready(&d) < 0) {
		stop_child(&d);
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
	/* systemd (Type=notify): ready only now that the datapath carries packets */
	sd_notifyf(0, "READY=1\nSTATUS=Tunnel %s up: local %s, remote %s, %s datapath", d.cfg.name,
		   ip4(d.cfg.ip.local, (char[INET_ADDRSTRLEN]){ 0 }),
		   ip4(d.cfg.ip.remote, (char[INET_ADDRSTRLEN]){ 0 }),
		   d.kernel ? "kernel" : d.fast ? "eBPF" : "userspace");
	rc = run(&d);
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping: undoing the host setup");
	teardown(&d);
	log_info("tunnel %s down", d.cfg.name);
	return rc < 0 ? 1 : 0;
}

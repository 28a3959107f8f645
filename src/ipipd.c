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
#include "tunnel.h"

/* sysexits.h's EX_CONFIG: a configuration error, which a restart does not mend */
#define EXIT_CONFIG 78
#define FOLLOW_UNDERLAY_MS 1000
#define WAIT_RETRY_MS 5000	/* while waiting, look again at least this often */
#define CHILD_READY_MS 10000	/* the datapath process starts within */
#define CHILD_STOP_MS 5000	/* ... and stops within, or is killed */

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

	own_addrs_publish(&d->own, d->own_list, n);	/* a child not yet forked inherits them */
	if (d->child <= 0)
		return;
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

/* While the tunnel waits for a route to Remote: the routes' notifications. */
static void watch_routes(struct daemon *d, bool on)
{
	if (!on) {
		nl_close(&d->mon_route);
		d->route_fd = -1;
		return;
	}
	if (d->route_fd >= 0)
		return;
	d->route_fd = nl_monitor_open(&d->mon_route, RTMGRP_IPV4_ROUTE);
	if (d->route_fd < 0) {
		errno = -d->route_fd;
		log_warn("netlink route notifications: looking again every %d s", WAIT_RETRY_MS / 1000);
		d->route_fd = -1;
	}
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
		/*
		 * The index taken meanwhile (the ipip module's tunl0, as the
		 * kernel loads it for this very request): -EBUSY, or -EEXIST
		 * on kernels that say so while our name is still free.  Not ours.
		 */
		if (rc == -EEXIST && !if_nametoindex(c->name))
			rc = -EBUSY;
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
		d->config_error = true;
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

	if (!d->up || d->kernel || !d->direct)
		return;
	rc = nl_ether_hop(&d->nl, d->cfg.ip.remote, d->cfg.ip.local, &hop);
	if (rc < 0)
		memset(&hop, 0, sizeof(hop));
	m.u.hop.rc = rc < 0 ? rc : 0;
	m.u.hop.ifindex = hop.ifindex;
	m.u.hop.via = hop.via;
	memcpy(m.u.hop.mac, hop.mac, sizeof(hop.mac));
	m.u.hop.failed = failed;
	if (msg_send(d->sock_fd, &m) < 0)
		log_warn("datapath process: cannot send the next hop");
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


/* Local is an address of this host (one may bind to it). */
static bool local_assigned(uint32_t local)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = local };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return true;	/* cannot tell: the raw socket's bind says */
	rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == 0 || errno != EADDRNOTAVAIL;
}


static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * What needs no network: signals, the lock, netlink, what an earlier ipipd
 * left, the host's addresses, the control socket, the pid file.  Then the
 * tunnel may wait for its route or address.
 */
static int base_setup(struct daemon *d)
{
	struct config *c = &d->cfg;
	int rc;

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
	if (setup_own_addresses(d) < 0 || fwwatch_share() < 0)
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
	return 0;
}

/*
 * Hand the datapath process its datapath: the descriptors made here with
 * privileges (the TUN device, the raw socket, the send sockets; the fast
 * path's shared memory), the device's settings and the soft state's
 * limits.  replace: a reload made a new raw socket (a new Local): only the
 * sockets go.  The parent keeps the TUN device (the device lives while
 * ipipd does) and closes its copies of the sockets.  0 or -1.
 */
static int send_datapath(struct daemon *d, bool replace)
{
	struct msg m = { .type = MSG_DATAPATH };
	struct msg_datapath *md = &m.u.dp;
	struct dp_fds f = { .tun = -1, .raw = -1, .tx = -1, .pkt = -1 };
	int fds[MF_MAX], ctr_fd = -1, bss_fd = -1, rc = 0;
	size_t bss_len = 0, ctr_len = 0;
	unsigned n = 0;

	md->kernel = d->kernel;
	md->fast = d->fast;
	md->replace = replace;
	md->ifindex = d->ifindex;
	md->mtu = d->mtu;
	md->route_mtu = d->route_mtu < 68 ? 68 : d->route_mtu > 0xffff ? 0xffff : d->route_mtu;
	md->floor = sysctl_uint("/proc/sys/net/ipv4/route/min_pmtu", SS_PMTU_FLOOR);
	md->expire_s = sysctl_uint("/proc/sys/net/ipv4/route/mtu_expires", SS_EXPIRE_S);
	md->ttl_max = sysctl_uint("/proc/sys/net/ipv4/ip_default_ttl", SS_TTL_MAX);
	snprintf(md->reason, sizeof(md->reason), "%s", d->dp_reason);
	if (!d->kernel) {
		rc = dp_prepare(&f, d->tun_fd, d->raw_fd, d->cfg.underlay_output != UO_KERNEL);
		if (rc < 0) {
			errno = -rc;
			log_warn("datapath sockets");
			return -1;
		}
		d->direct = f.pkt >= 0;
		md->vnet = f.vnet;
		md->direct = d->direct;
		md->gro_flags = f.gro_flags;
		if (!replace) {
			md->fds |= 1u << MF_TUN;
			fds[n++] = d->tun_fd;
		}
		md->fds |= 1u << MF_RAW;
		fds[n++] = d->raw_fd;
		if (f.tx >= 0) {
			md->fds |= 1u << MF_TX;
			fds[n++] = f.tx;
		}
		if (f.pkt >= 0) {
			md->fds |= 1u << MF_PACKET;
			fds[n++] = f.pkt;
		}
	}
	if (d->fast && !replace) {
		fp_shared(&d->fp, &bss_fd, &bss_len, &ctr_fd, &ctr_len);
		md->fds |= 1u << MF_BSS | 1u << MF_COUNTERS;
		fds[n++] = bss_fd;
		fds[n++] = ctr_fd;
		md->bss_len = (uint32_t)bss_len;
		md->counters_len = (uint32_t)ctr_len;
		md->ncpus = d->fp.ncpus;
		md->prog_id[0] = d->fp.prog_id[FP_EGRESS];
		md->prog_id[1] = d->fp.prog_id[FP_INGRESS];
		snprintf(md->attach, sizeof(md->attach), "%s", d->fp.attach);
	}
	rc = msg_send_fds(d->sock_fd, &m, fds, n);
	if (rc < 0) {
		errno = -rc;
		log_warn("datapath process: cannot hand over the datapath");
	}
	/* the datapath process has its own copies now */
	if (f.tx >= 0)
		close(f.tx);
	if (f.pkt >= 0)
		close(f.pkt);
	if (d->raw_fd >= 0)
		close(d->raw_fd);
	d->raw_fd = -1;
	return rc < 0 ? -1 : 0;
}

/* Tell the datapath process (and systemd) what the tunnel waits for, or that it is up. */
static void tell_state(struct daemon *d)
{
	struct msg m = { .type = MSG_STATE };

	m.u.state.up = d->up;
	snprintf(m.u.state.waiting, sizeof(m.u.state.waiting), "%s", d->up ? "" : d->waiting);
	if (msg_send(d->sock_fd, &m) < 0)
		log_warn("datapath process: cannot send the tunnel's state");
	if (!d->up)
		sd_notifyf(0, "STATUS=Waiting for %s", d->waiting);
}

/*
 * Set the tunnel up, once Local is an address of the host and Remote has a
 * route (at boot, maybe not yet): the device, its address, the host setup,
 * the datapath.  0: up (the datapath process says MSG_READY when it runs);
 * 1: waiting (d->waiting says for what; nothing was changed); -1: failed.
 */
static int bring_up(struct daemon *d)
{
	struct config *c = &d->cfg;
	struct msg pm = { .type = MSG_PARAMS };
	char a[INET_ADDRSTRLEN];
	unsigned umtu;
	uint32_t src;
	int oif, rc;

	if (c->remote_name[0] && !c->ip.remote) {
		snprintf(d->waiting, sizeof(d->waiting), "Remote %.70s to resolve (%.60s)",
			 c->remote_name, d->resolve_err[0] ? d->resolve_err : "looking it up");
		return 1;
	}
	if (c->local_auto) {	/* the source address of the route to Remote */
		rc = nl_route_src(&d->nl, c->ip.remote, &src);
		if (rc < 0) {
			snprintf(d->waiting, sizeof(d->waiting), "a route to Remote %s with a "
				 "source address for Local = auto (%s)", ip4(c->ip.remote, a),
				 strerror(-rc));
			return 1;
		}
		c->ip.local = c->ip.own[0] = src;
	}
	if (!local_assigned(c->ip.local)) {
		snprintf(d->waiting, sizeof(d->waiting), "Local %s to be an address of this host",
			 ip4(c->ip.local, a));
		return 1;
	}
	rc = nl_route_mtu(&d->nl, c->ip.remote, &umtu, &oif);
	if (rc < 0) {
		snprintf(d->waiting, sizeof(d->waiting), "a route to Remote %s (%s)",
			 ip4(c->ip.remote, a), strerror(-rc));
		return 1;
	}
	d->underlay_ifindex = oif;
	d->route_mtu = umtu;
	d->mtu = tunnel_mtu(c, umtu);
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
	if (setup_fast_path(d) < 0)
		return -1;
	/* the endpoints as they are now (the datapath process was forked before) */
	tunnel_params(c, d->mtu, &pm.u.params);
	if (msg_send(d->sock_fd, &pm) < 0 || send_datapath(d, false) < 0)
		return -1;
	d->up = true;
	d->ready_by = now_ms() + CHILD_READY_MS;
	watch_routes(d, c->local_auto);	/* Local = auto follows the routes */
	tell_state(d);
	d->hop_rc = 1;	/* log the first lookup */
	refresh_hop(d, false);
	log_info("tunnel %s up: local %s remote %s mtu %u", c->name, ip4(c->ip.local, a),
		 ip4(c->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }), d->mtu);
	return 0;
}

/* Try to bring the tunnel up (at start, and on each notification while it waits): bring_up(). */
static int try_up(struct daemon *d)
{
	char was[MSG_TEXT_MAX];
	int rc;

	snprintf(was, sizeof(was), "%s", d->waiting);
	rc = bring_up(d);
	d->tried = now_ms();
	if (rc == 1 && strcmp(was, d->waiting)) {
		log_info("%s: waiting for %s", d->cfg.name, d->waiting);
		watch_routes(d, true);
		tell_state(d);
	}
	return rc;
}

/* Close the parent's copies of the datapath's descriptors. */
static void close_datapath(struct daemon *d)
{
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

/* Undo everything setup did, in reverse; safe after a partial setup. */
static void teardown(struct daemon *d)
{
	resolver_close(&d->res);
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
	nl_close(&d->mon_route);
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

	m.u.status.fw_rules = (d->cfg.fw_forward || d->cfg.fw_input) && d->up ?
			      fw_count(d->cfg.name) : -1;
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

	if (!d->up || d->kernel || nl_route_mtu(&d->nl, d->cfg.ip.remote, &umtu, &oif) < 0)
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

/*
 * Fork the datapath process, before the tunnel is up.  It keeps the
 * control socket and its end of the socketpair, and gets the datapath's
 * descriptors once the tunnel comes up (send_datapath).
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
	close(d->ctl_fd);	/* the datapath process answers it */
	d->ctl_fd = -1;
	return 0;
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

static void release_start(struct daemon *d);

/* systemd's STATUS= of a tunnel that is up (with READY=1 when ready). */
static void notify_up(struct daemon *d, bool ready)
{
	const struct config *c = &d->cfg;

	sd_notifyf(0, "%sSTATUS=Tunnel %s up: local %s%s, remote %s%s%s%s, %s datapath%s",
		   ready ? "READY=1\n" : "", c->name,
		   ip4(c->ip.local, (char[INET_ADDRSTRLEN]){ 0 }), c->local_auto ? " (auto)" : "",
		   ip4(c->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }),
		   c->remote_name[0] ? " (" : "", c->remote_name, c->remote_name[0] ? ")" : "",
		   d->kernel ? "kernel" : d->fast ? "eBPF" : "userspace",
		   d->peer_down ? "; down: Peer does not answer keepalives" : "");
}

/* The ready tunnel: the parent's own sandbox, the shell or systemd told. */
static int on_ready(struct daemon *d)
{
	if (d->ready)
		return 0;
	d->ready = true;
	if (sandbox_enter_parent(d->sandbox, d->fast, d->child) < 0)
		return -1;
	release_start(d);
	/* systemd (Type=notify): ready only now that the datapath carries packets */
	notify_up(d, true);
	return 0;
}

/*
 * A reload's changes to the running tunnel, checked first (a route to the
 * new Remote, the new Local an address here), then applied: the device
 * (the kernel's by changelink; the TUN device's MTU), its address, the
 * fast path's settings, the datapath process's, the host by difference.
 * 0, or -errno with text saying why (nothing was changed if a check failed).
 */
static int apply_reload(struct daemon *d, struct config *nc, const struct tunnel_diff *td,
			FILE *err)
{
	struct config *c = &d->cfg;
	char a[INET_ADDRSTRLEN];
	struct msg m = { .type = MSG_PARAMS };
	unsigned umtu = d->route_mtu, mtu;
	int oif, rc, raw = -1;

	if (td->live & TC_REMOTE) {
		rc = nl_route_mtu(&d->nl, nc->ip.remote, &umtu, &oif);
		if (rc < 0) {
			fprintf(err, "%s:%u: Remote %s: no route (%s); nothing was changed\n", nc->path,
				 nc->line.remote, ip4(nc->ip.remote, a), strerror(-rc));
			return rc;
		}
	}
	if ((td->live & TC_LOCAL) && !local_assigned(nc->ip.local)) {
		fprintf(err, "%s:%u: Local %s is not an address of this host; nothing was changed\n", nc->path,
			 nc->line.local, ip4(nc->ip.local, a));
		return -EADDRNOTAVAIL;
	}
	if ((td->live & (TC_LOCAL | TC_REMOTE)) && !d->kernel) {
		raw = raw_open(nc->ip.local, nc->ip.remote);
		if (raw < 0) {
			fprintf(err, "raw protocol-4 socket on Local %s: %s; nothing was changed\n",
				 ip4(nc->ip.local, a), strerror(-raw));
			return raw;
		}
	}
	mtu = tunnel_mtu(nc, umtu);
	/* checked: from here on the tunnel changes */
	if (d->kernel) {
		rc = nl_ipip_change(&d->nl, d->ifindex, &nc->ip, mtu != d->mtu ? mtu : 0);
		if (rc < 0)
			fprintf(err, "%s: the kernel's device: %s\n", c->name, strerror(-rc));
	} else if (mtu != d->mtu && (rc = nl_link_set_mtu(&d->nl, d->ifindex, mtu)) < 0) {
		fprintf(err, "%s: MTU %u: %s\n", c->name, mtu, strerror(-rc));
		mtu = d->mtu;
	}
	if ((td->live & TC_ROUTES) && host_routes_change(c, nc, &d->nl, d->ifindex, err) < 0)
		fprintf(err, "%s: the routes were changed only in part\n", c->name);
	if (td->live & TC_ADDRESS) {
		rc = nl_addr_del(&d->nl, d->ifindex, c->addr.s_addr, c->prefixlen,
				 c->has_peer ? c->peer.s_addr : 0);
		if (rc < 0 && rc != -EADDRNOTAVAIL)
			fprintf(err, "%s: the old address: %s\n", c->name, strerror(-rc));
		rc = nl_addr_add(&d->nl, d->ifindex, nc->addr.s_addr, nc->prefixlen,
				 nc->has_peer ? nc->peer.s_addr : 0);
		if (rc < 0)
			fprintf(err, "%s:%u: Address: %s\n", nc->path, nc->line.address,
				strerror(-rc));
	}
	if (raw >= 0) {	/* a new raw socket first, then the settings that go with it */
		d->raw_fd = raw;
		if (send_datapath(d, true) < 0)
			fprintf(err, "%s: the datapath's new sockets could not be handed over\n",
				c->name);
	}
	if (d->fast) {
		struct fp_config fc;

		fp_config_init(&fc, &nc->ip, nc->addr.s_addr, d->ifindex, d->underlay_ifindex, mtu);
		fp_set_config(&d->fp, &fc);
	}
	tunnel_params(nc, mtu, &m.u.params);
	if (msg_send(d->sock_fd, &m) < 0)
		fprintf(err, "%s: the datapath process was not told the new settings\n", c->name);
	if (host_reapply(c, nc, td->host, &d->nl, d->ifindex, d->state_path, err) < 0)
		fprintf(err, "%s: the host setup was changed only in part; see %s\n", c->name,
			d->state_path);
	d->mtu = mtu;
	return 0;
}

/* The new configuration is the tunnel's now (its pointers into itself made again). */
static void adopt(struct daemon *d, const struct config *nc)
{
	d->cfg = *nc;
	d->cfg.ip.allowed = d->cfg.allowed;
	d->cfg.ip.host = &d->own;
}

/* Every line of text to the log (prefix: what they are about). */
static void log_lines(const char *prefix, char *text)
{
	char *nl_at;

	for (char *l = text; *l; l = nl_at ? nl_at + 1 : l + strlen(l)) {
		nl_at = strchr(l, '\n');
		if (nl_at)
			*nl_at = '\0';
		if (*l)
			log_warnx("%s: %s", prefix, l);
		if (!nl_at)
			break;
	}
}

/*
 * A reload's Remote given as a name and Local = auto: the addresses they
 * stand for now (Remote's looked up again only if the name changed).
 * While the tunnel is up, one that cannot be found refuses the reload
 * (-1, said to err); while it waits, it is waited for.
 */
static int fill_endpoints(struct daemon *d, struct config *nc, FILE *err)
{
	char e[ENDPOINT_ERR_MAX];
	uint32_t a;
	int rc;

	if (nc->remote_name[0]) {
		if (!strcmp(nc->remote_name, d->cfg.remote_name) && d->cfg.ip.remote) {
			nc->ip.remote = d->cfg.ip.remote;	/* looked up on its own schedule */
		} else if (endpoint_resolve(nc->remote_name, &a, e, sizeof(e)) == 0) {
			nc->ip.remote = a;
		} else if (d->up) {
			fprintf(err, "%s:%u: Remote %s: %s; nothing was changed\n", nc->path,
				nc->line.remote, nc->remote_name, e);
			return -1;
		}
	}
	if (nc->local_auto && nc->ip.remote) {
		rc = nl_route_src(&d->nl, nc->ip.remote, &a);
		if (rc == 0) {
			nc->ip.local = a;
		} else if (d->up) {
			fprintf(err, "%s:%u: Local = auto: no source address for Remote %s (%s); "
				"nothing was changed\n", nc->path, nc->line.local,
				ip4(nc->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }), strerror(-rc));
			return -1;
		}
	}
	nc->ip.own[0] = nc->ip.local;
	return 0;
}

/*
 * Remote's name resolves to another address, or Local = auto has another
 * source address (a home end's new ISP address): applied to the running
 * tunnel as a reload applies a new Local or Remote, nothing else touched.
 * remote: the new address (0: Remote stays).
 */
static void follow_endpoints(struct daemon *d, uint32_t remote)
{
	static struct config nc;
	struct config *c = &d->cfg;
	struct tunnel_diff td;
	char *errs = NULL, a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	size_t errs_len = 0;
	uint32_t local = c->ip.local;
	FILE *err;
	int rc;

	if (!d->up)
		return;
	if (!remote)
		remote = c->ip.remote;
	if (c->local_auto && nl_route_src(&d->nl, remote, &local) < 0)
		local = c->ip.local;	/* none now (an address going away): wait for the next */
	if (local == c->ip.local && remote == c->ip.remote)
		return;
	nc = *c;
	nc.ip.local = nc.ip.own[0] = local;
	nc.ip.remote = remote;
	nc.ip.allowed = nc.allowed;
	tunnel_diff(c, &nc, d->kernel, &td);
	err = open_memstream(&errs, &errs_len);
	if (!err) {
		log_warn("%s: following the endpoints", c->name);
		return;
	}
	rc = apply_reload(d, &nc, &td, err);
	fclose(err);
	if (errs && errs_len)
		log_lines(c->name, errs);
	free(errs);
	if (rc < 0)
		return;		/* tried again at the next change */
	log_info("%s: now local %s%s, remote %s%s%s%s", c->name, ip4(local, a),
		 local != c->ip.local ? " (Local = auto: the route's source address changed)" : "",
		 ip4(remote, b), remote != c->ip.remote ? " (" : "",
		 remote != c->ip.remote ? c->remote_name : "", remote != c->ip.remote ? " resolves to it)" : "");
	adopt(d, &nc);
	if (td.host & HG_FIREWALL) {	/* Input = accept: the rules name Local and Remote */
		fwwatch_close();
		if (fwwatch_open(c) < 0)
			log_warnx("%s: the firewall is no longer followed", c->name);
	}
	follow_underlay(d, true);
	refresh_hop(d, false);
	if (d->ready)
		notify_up(d, false);
}

/*
 * SIGHUP, `ipipctl reload`: read the file again and apply only what
 * changed, without dropping the tunnel.  A file with an error, or a change
 * only a restart applies, is refused and nothing changes.  0, or -errno;
 * text says what changed or what is wrong.
 */
static int reload(struct daemon *d, char *text, size_t n)
{
	static struct config nc;
	struct tunnel_diff td;
	char what[256], *errs = NULL, *nl_at;
	size_t errs_len = 0;
	FILE *err = open_memstream(&errs, &errs_len);
	int rc = 0;

	if (!err) {
		snprintf(text, n, "out of memory");
		return -ENOMEM;
	}
	if (d->ready)
		sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading %s", d->cfg.path);
	if (config_load(d->cfg.path, &nc, err) < 0) {
		rc = -EINVAL;
	} else if (fill_endpoints(d, &nc, err) < 0) {
		rc = -EHOSTUNREACH;
	} else {
		tunnel_diff(&d->cfg, &nc, d->kernel, &td);
		tunnel_diff_text(&td, what, sizeof(what));
		if (td.restart) {
			fprintf(err, "%s:%u: %s changed: only a restart applies it (ipipctl down %s, "
				"then start it again); nothing was changed\n", nc.path, td.restart_line,
				td.restart, d->cfg.name);
			rc = -EPERM;
		} else if (!d->up) {
			adopt(d, &nc);	/* applied when the tunnel comes up (bring_up) */
		} else if (td.live || td.host) {
			rc = apply_reload(d, &nc, &td, err);
			if (rc == 0)
				adopt(d, &nc);
			if (rc == 0 && (td.host & HG_FIREWALL)) {	/* follow the new rules */
				fwwatch_close();
				if (fwwatch_open(&d->cfg) < 0)
					fprintf(err, "%s: the firewall is no longer followed\n",
						d->cfg.name);
			}
		}
	}
	fclose(err);
	if (errs && errs_len) {
		/* every line to the log; the first to whoever asked */
		snprintf(text, n, "%s", errs);
		if ((nl_at = strchr(text, '\n')) != NULL)
			*nl_at = '\0';
		log_lines("reload", errs);
		if (rc == 0)
			rc = -EIO;	/* applied, but not all of it */
	} else if (rc == 0) {
		snprintf(text, n, "changed: %.150s", what);
	}
	free(errs);
	if (rc == 0 || rc == -EIO) {
		log_info("%s: reloaded %s: %s", d->cfg.name, d->cfg.path, rc ? "with errors" : what);
		if (!d->cfg.remote_name[0])
			d->resolve_at = 0;
		else if (!d->res.busy)	/* (a running lookup of an old name asks again) */
			d->resolve_at = now_ms() + (d->cfg.ip.remote ?
				d->cfg.resolve_interval * 1000ull : WAIT_RETRY_MS);
		if (!d->up)
			tell_state(d);
		else
			follow_underlay(d, true);	/* a new Remote may leave elsewhere */
		if (d->up)	/* Local = auto follows the routes */
			watch_routes(d, d->cfg.local_auto);
		refresh_hop(d, false);
	}
	if (d->ready)
		notify_up(d, true);
	return rc;
}

/*
 * Remote as a name: looked up now, off the loop (every ResolveInterval,
 * sooner after a failure to reach Remote or while the tunnel waits for it).
 */
static void ask_lookup(struct daemon *d)
{
	int rc;

	if (!d->cfg.remote_name[0])
		return;
	rc = resolver_ask(&d->res, d->cfg.remote_name);
	if (rc < 0) {
		errno = -rc;
		log_warn("%s: cannot look Remote %s up", d->cfg.name, d->cfg.remote_name);
		d->resolve_at = now_ms() + WAIT_RETRY_MS;
		return;
	}
	d->resolve_at = 0;	/* until it is over */
	d->resolve_asked = now_ms();
}

/* Early, after a failure to reach Remote (at most every WAIT_RETRY_MS). */
static void ask_lookup_early(struct daemon *d)
{
	if (d->cfg.remote_name[0] && now_ms() - d->resolve_asked >= WAIT_RETRY_MS)
		ask_lookup(d);
}

/*
 * A lookup is over: a new address is followed; a failure keeps the last one.
 * -1 if the tunnel failed to come up with it.
 */
static int lookup_done(struct daemon *d)
{
	char name[ENDPOINT_NAME_MAX], e[ENDPOINT_ERR_MAX], a[INET_ADDRSTRLEN];
	uint32_t addr;
	int rc;

	if (resolver_take(&d->res, name, &addr, &rc, e) <= 0)
		return 0;
	if (strcmp(name, d->cfg.remote_name)) {	/* a reload changed the name meanwhile */
		ask_lookup(d);
		return 0;
	}
	if (rc < 0) {
		if (strcmp(e, d->resolve_err))
			log_warnx("%s: Remote %s: cannot look it up: %s%s%s", d->cfg.name, name, e,
				  d->cfg.ip.remote ? "; keeping " : "",
				  d->cfg.ip.remote ? ip4(d->cfg.ip.remote, a) : "");
		snprintf(d->resolve_err, sizeof(d->resolve_err), "%s", e);
		d->resolve_at = now_ms() + (d->cfg.ip.remote &&
			d->cfg.resolve_interval * 1000ull < WAIT_RETRY_MS * 6 ?
			d->cfg.resolve_interval * 1000ull : WAIT_RETRY_MS * 6);
		if (!d->up)
			d->resolve_at = now_ms() + WAIT_RETRY_MS;
		return 0;
	}
	if (d->resolve_err[0])
		log_info("%s: Remote %s resolves again: %s", d->cfg.name, name, ip4(addr, a));
	d->resolve_err[0] = '\0';
	d->resolve_at = now_ms() + d->cfg.resolve_interval * 1000ull;
	if (addr == d->cfg.ip.remote)
		return 0;
	if (!d->up) {
		d->cfg.ip.remote = addr;
		return try_up(d) < 0 ? -1 : 0;
	}
	log_info("%s: Remote %s now resolves to %s (was %s)", d->cfg.name, name, ip4(addr, a),
		 ip4(d->cfg.ip.remote, (char[INET_ADDRSTRLEN]){ 0 }));
	follow_endpoints(d, addr);
	return 0;
}

/* A message from the datapath process; -1 when it is gone or misbehaves. */
static int from_child(struct daemon *d)
{
	struct msg m, r = { .type = MSG_RELOADED };
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
	case MSG_READY:
		if (d->up && on_ready(d) < 0)
			return -1;
		break;
	case MSG_DOWN:
		log_info("stopping on request");
		d->stop = 1;
		break;
	case MSG_STATUS_REQ:
		send_status(d);
		break;
	case MSG_HOP_FAILED:
		refresh_hop(d, true);
		ask_lookup_early(d);
		break;
	case MSG_UNREACHABLE:	/* a failure to reach Remote: its name may say where it went */
		ask_lookup_early(d);
		break;
	case MSG_ALIVE:
		d->peer_down = !m.u.alive.alive;
		if (d->peer_down)	/* Remote may have moved: its name may say where */
			ask_lookup_early(d);
		if (d->ready)
			notify_up(d, false);
		break;
	case MSG_ROUTE_CHECK:
		follow_underlay(d, true);
		break;
	case MSG_RELOAD:
		rc = reload(d, r.u.reloaded.text, sizeof(r.u.reloaded.text));
		r.u.reloaded.err = rc < 0 ? -rc : 0;
		if (msg_send(d->sock_fd, &r) < 0)
			log_warn("datapath process: cannot send the reload's outcome");
		break;
	default:
		break;
	}
	return 1;
}

/* A signal: SIGHUP reloads, the others stop. */
static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	char text[MSG_TEXT_MAX];

	if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: reloading %s", d->cfg.path);
		reload(d, text, sizeof(text));
		return;
	}
	log_info("signal %u: stopping", si.ssi_signo);
	d->stop = 1;
}

/*
 * The parent's loop: signals, the datapath process, the host's addresses,
 * routes; while waiting, the notifications that may bring the tunnel up.
 */
static int run(struct daemon *d)
{
	uint64_t followed = now_ms();
	int failed = 0;

	while (!d->stop) {
		struct pollfd pfd[6] = {
			{ .fd = d->sig_fd, .events = POLLIN },
			{ .fd = d->sock_fd, .events = POLLIN },
			{ .fd = d->mon_fd, .events = POLLIN },
			{ .fd = d->route_fd, .events = POLLIN },	/* up: only with Local = auto */
			{ .fd = fwwatch_fd(), .events = POLLIN },	/* -1 without Forward or Input */
			{ .fd = d->res.fd, .events = POLLIN },	/* -1 without a name for Remote */
		};
		int timeout = !d->up ? WAIT_RETRY_MS : d->kernel && d->ready ? -1 :
			      FOLLOW_UNDERLAY_MS;
		uint64_t now = now_ms();
		int n;
		bool look = false, moved = false;

		if (d->resolve_at && d->resolve_at <= now)
			ask_lookup(d);
		if (d->resolve_at && (timeout < 0 || d->resolve_at - now < (uint64_t)timeout))
			timeout = (int)(d->resolve_at - now);
		n = poll(pfd, 6, timeout);

		if (d->up && !d->kernel && now_ms() - followed >= FOLLOW_UNDERLAY_MS) {
			followed = now_ms();
			follow_underlay(d, false);
			refresh_hop(d, false);
		}
		if (d->up && !d->ready && now_ms() >= d->ready_by) {
			log_warnx("%s: the datapath process did not start", d->cfg.name);
			failed = 1;
			break;
		}
		if (!d->up && now_ms() - d->tried >= WAIT_RETRY_MS)
			look = true;
		if (n < 0 && errno != EINTR) {
			log_warn("poll");
			failed = 1;
			break;
		}
		if (n > 0 && pfd[0].revents)
			on_signal(d);
		if (n > 0 && pfd[1].revents && from_child(d) < 0) {
			failed = 1;
			break;
		}
		if (n > 0 && pfd[2].revents && nl_monitor_drain(&d->mon) > 0) {
			refresh_own(d);
			look = moved = true;
		}
		if (n > 0 && pfd[3].revents && nl_monitor_drain(&d->mon_route) > 0)
			look = moved = true;
		if (look && !d->up && !d->stop) {
			int rc;

			if (!d->cfg.ip.remote)	/* the network came: the name may resolve now */
				ask_lookup_early(d);
			rc = try_up(d);
			if (rc < 0) {
				failed = 1;
				break;
			}
		} else if (moved && d->up && d->cfg.local_auto) {
			follow_endpoints(d, 0);
		}
		if (n > 0 && pfd[5].revents && lookup_done(d) < 0) {
			failed = 1;
			break;
		}
		if (n > 0 && pfd[4].revents)
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

/* The start is over (up, or waiting): `ipipd CONFIG` returns; the log goes to syslog. */
static void release_start(struct daemon *d)
{
	if (d->ready_fd < 0)
		return;
	log_to_syslog();
	detach_stdio();
	if (write(d->ready_fd, "1", 1) != 1)
		log_warn("readiness pipe");
	close(d->ready_fd);
	d->ready_fd = -1;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	const char *user = SANDBOX_USER;
	unsigned gap_line;
	int opt, verbose = 0, check = 0, rc;

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
		return check ? 1 : EXIT_CONFIG;
	if (check) {
		unsigned warnings;

		if (lint_run(&d.cfg, LINT_CHECK, stderr, &warnings) > 0)
			return 1;
		printf("%s: configuration ok (tunnel %s)%s\n", argv[optind], d.cfg.name,
		       warnings ? ", with warnings" : "");
		return 0;
	}
	lint_run(&d.cfg, LINT_START, stderr, NULL);	/* warnings only */
	/* a contradiction in the file, said at once (not once the network is there) */
	if (d.cfg.datapath == DPM_KERNEL && config_kernel_gap(&d.cfg, &gap_line)) {
		fprintf(stderr, "%s:%u: %s: the kernel's ipip device (Datapath = kernel) cannot "
			"enforce it; use Datapath = auto, ebpf or userspace\n", d.cfg.path, gap_line,
			config_kernel_gap(&d.cfg, &gap_line));
		return EXIT_CONFIG;
	}
	if (geteuid() != 0)
		log_warnx("not running as root: creating the tunnel will probably fail");
	d.lock_fd = d.tun_fd = d.raw_fd = d.ctl_fd = d.sig_fd = d.mon_fd = d.sock_fd = -1;
	d.route_fd = d.ready_fd = -1;
	resolver_init(&d.res);
	fp_init(&d.fp);
	if (sandbox_user(user, &d.user) < 0)
		return 1;
	if (!d.foreground)
		daemonize(&d.ready_fd);
	if (base_setup(&d) < 0) {
		teardown(&d);
		return 1;
	}
	/* Before the fork: the datapath process and its threads inherit it
	 * (CAP_SYS_NICE is still held here). */
	set_priority(&d.cfg);
	rc = spawn_child(&d);
	if (rc == 0 && d.cfg.remote_name[0]) {	/* the first lookup, before the first try */
		uint32_t a;

		if (endpoint_resolve(d.cfg.remote_name, &a, d.resolve_err, sizeof(d.resolve_err)) == 0) {
			d.cfg.ip.remote = a;
			d.resolve_err[0] = '\0';
			d.resolve_at = now_ms() + d.cfg.resolve_interval * 1000ull;
		} else {
			log_warnx("%s: Remote %s: cannot look it up: %s", d.cfg.name,
				  d.cfg.remote_name, d.resolve_err);
			d.resolve_at = now_ms() + WAIT_RETRY_MS;
		}
	}
	if (rc == 0)
		rc = try_up(&d);
	if (rc < 0) {
		stop_child(&d);
		teardown(&d);
		return d.config_error ? EXIT_CONFIG : 1;
	}
	if (rc == 1)	/* waiting: `ipipd CONFIG` returns, systemd hears STATUS= */
		release_start(&d);
	rc = run(&d);
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping: undoing the host setup");
	teardown(&d);
	log_info("tunnel %s down", d.cfg.name);
	return rc < 0 ? 1 : 0;
}

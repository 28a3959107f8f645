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

#include "clock.h"
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
#define FOLLOW_EVENT_GAP_MS 10	/* after a link or route change: at once, but not more often */
#define PUT_BACK_MS 1000		/* what someone else deleted: put back this much later, at once */
#define WAIT_RETRY_MS TUNNEL_RETRY_MS	/* while waiting, look again at least this often */
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
	    run_path(d->lock_path, sizeof(d->lock_path), d->t.cfg.name, ".lock") < 0 ||
	    run_path(d->sock_path, sizeof(d->sock_path), d->t.cfg.name, ".sock") < 0 ||
	    run_path(d->pid_path, sizeof(d->pid_path), d->t.cfg.name, ".pid") < 0 ||
	    run_path(d->t.state_path, sizeof(d->t.state_path), d->t.cfg.name, ".state") < 0) {
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
		log_warnx("tunnel '%s' is already run by another ipipd", d->t.cfg.name);
		return -1;
	}
	if (d->lock_fd < 0) {
		log_warnc(d->lock_fd, "%s", d->lock_path);
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

/*
 * Inner packets from one of the host's own addresses are spoofed (RFC 2003
 * 3.2, RFC 6169): follow the host's addresses, subscribed before the first
 * dump so that no change falls in between.
 */
static int setup_own_addresses(struct daemon *d)
{
	/* links: watch_device(); rules and routes (and addresses): watch_setup() */
	d->mon_fd = nl_monitor_open(&d->mon, RTMGRP_IPV4_IFADDR | RTMGRP_LINK | RTMGRP_IPV4_ROUTE |
				    RTMGRP_IPV4_RULE);
	if (d->mon_fd < 0) {
		log_warnc(d->mon_fd, "netlink address notifications");
		return -1;
	}
	tunnel_refresh_own(&d->t);
	d->t.cfg.ip.host = &d->t.own;
	return 0;
}

/*
 * The routes' and links' notifications: while the tunnel waits for a route to
 * Remote; while it runs on a datapath of ipipd's, which sends to the
 * underlay and next hop it was told of (the kernel's device finds them
 * itself), and for Local = auto and Remote = any.  The kernel removes the
 * IPv4 routes over a link that goes down without a notification: its link's
 * says so.
 */
static bool follows_routes(const struct daemon *d)
{
	return d->t.cfg.local_auto || d->t.cfg.ip.remote_any || !d->t.kernel;
}

static void watch_routes(struct daemon *d, bool on)
{
	if (!on) {
		nl_close(&d->mon_route);
		d->route_fd = -1;
		return;
	}
	if (d->route_fd >= 0)
		return;
	d->route_fd = nl_monitor_open(&d->mon_route, RTMGRP_IPV4_ROUTE | RTMGRP_LINK);
	if (d->route_fd < 0) {
		log_warnc(d->route_fd, "netlink route notifications: looking again every %d s",
			  WAIT_RETRY_MS / 1000);
		d->route_fd = -1;
	}
}

/*
 * What needs no network: signals, the lock, netlink, what an earlier ipipd
 * left, the host's addresses, the control socket, the pid file.  Then the
 * tunnel may wait for its route or address.
 */
static int base_setup(struct daemon *d)
{
	struct config *c = &d->t.cfg;
	int rc;

	if (setup_signals(d) < 0) {
		log_warn("signals");
		return -1;
	}
	if (take_lock(d) < 0)
		return -1;
	rc = nl_open(&d->nl);
	if (rc < 0) {
		log_warnc(rc, "netlink");
		return -1;
	}
	rc = host_sweep_gone(&d->nl, stderr);
	if (rc > 0)
		log_info("removed the runtime files of %d tunnel%s of a network namespace that is "
			 "gone", rc, rc == 1 ? "" : "s");
	rc = host_cleanup(&d->nl, c->name, d->t.state_path, stderr);
	if (rc > 0)
		log_info("%s: undid %d changes left by an earlier ipipd that did not stop cleanly",
			 c->name, rc);
	else if (rc == -EIO)
		log_warnx("%s: some changes left by an earlier ipipd could not be undone (%s)",
			  c->name, d->t.state_path);
	else if (rc < 0) {
		if (rc == -EBADMSG)
			log_warnx("%s: %s holds entries ipipd did not write for this tunnel here: "
				  "nothing of it was undone (look at it, undo what it lists by hand "
				  "and remove it)", c->name, d->t.state_path);
		log_warnx("%s: %s: refusing to start", c->name, d->t.state_path);
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
		log_warnc(d->ctl_fd, "control socket %s", d->sock_path);
		return -1;
	}
	if (write_pid(d->pid_path) < 0) {
		log_warn("%s", d->pid_path);
		return -1;
	}
	return 0;
}

/* Tell the datapath process (and systemd) what the tunnel waits for, or that it is up. */
static void tell_state(struct daemon *d)
{
	struct msg m = { .type = MSG_STATE };

	m.u.state.up = d->t.up;
	snprintf(m.u.state.waiting, sizeof(m.u.state.waiting), "%s", d->t.up ? "" : d->t.waiting);
	if (msg_send(d->t.dp_fd, &m) < 0)
		log_warn("datapath process: cannot send the tunnel's state");
	if (!d->t.up)
		sd_notifyf(0, "STATUS=Waiting for %s", d->t.waiting);
}

/* Try to bring the tunnel up (at start, and on each notification while it waits): tunnel_bring_up(). */
static int try_up(struct daemon *d)
{
	char was[MSG_TEXT_MAX];
	int rc;

	snprintf(was, sizeof(was), "%s", d->t.waiting);
	rc = tunnel_bring_up(&d->t);
	d->t.tried = now_ms();
	if (rc == 0) {
		d->ready_by = now_ms() + CHILD_READY_MS;
		watch_routes(d, follows_routes(d));
		tell_state(d);
	}
	if (rc == 1 && strcmp(was, d->t.waiting)) {
		log_info("%s: waiting for %s", d->t.cfg.name, d->t.waiting);
		watch_routes(d, true);
		tell_state(d);
	}
	return rc;
}

/* Close the parent's copies of the datapath's descriptors. */
static void close_datapath(struct daemon *d)
{
	tunnel_close(&d->t);
	if (d->ctl_fd >= 0)
		close(d->ctl_fd);
	d->ctl_fd = -1;
}

/* Undo everything setup did, in reverse; safe after a partial setup. */
static void teardown(struct daemon *d)
{
	close_datapath(d);
	if (d->lock_fd >= 0 && d->nl.sock && !d->keep_state &&
	    host_cleanup(&d->nl, d->t.cfg.name, d->t.state_path, stderr) < 0)
		log_warnx("%s: some host changes could not be undone; see %s", d->t.cfg.name,
			  d->t.state_path);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->t.dp_fd >= 0)
		close(d->t.dp_fd);
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
	d->t.dp_fd = sv[0];
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
	msg_send(d->t.dp_fd, &m);
	for (;;) {
		pid_t pid = waitpid(d->child, &status, WNOHANG);

		if (pid == d->child || (pid < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline) {
			log_warnx("%s: the datapath process did not stop: killed", d->t.cfg.name);
			kill(d->child, SIGKILL);
			waitpid(d->child, &status, 0);
			break;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	d->child = 0;
	if (WIFSIGNALED(status)) {
		log_warnx("%s: the datapath process was killed by signal %d", d->t.cfg.name,
			  WTERMSIG(status));
		return -1;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void release_start(struct daemon *d);

/* systemd's STATUS= of a tunnel that is up (with READY=1 when ready). */
static void notify_up(struct daemon *d, bool ready)
{
	const struct config *c = &d->t.cfg;

	sd_notifyf(0, "%sSTATUS=Tunnel %s up: local %s%s, remote %s%s%s%s, %s datapath%s%s%s",
		   ready ? "READY=1\n" : "", c->name,
		   ip4(c->ip.local, (char[INET_ADDRSTRLEN]){ 0 }), c->local_auto ? " (auto)" : "",
		   c->ip.remote_any ? "any" : ip4(c->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }),
		   c->remote_name[0] ? " (" : "", c->remote_name, c->remote_name[0] ? ")" : "",
		   d->t.kernel ? "kernel" : d->t.fast ? "eBPF" : "userspace",
		   d->t.peer_down ? "; down: Peer does not answer keepalives" : "",
		   d->t.device_down ? "; its device was set down" : "",
		   d->t.device_renamed[0] ? "; its device was renamed" : "");
}

/* The ready tunnel: the parent's own sandbox, the shell or systemd told. */
static int on_ready(struct daemon *d)
{
	if (d->ready)
		return 0;
	d->ready = true;
	if (sandbox_enter_parent(d->sandbox, d->t.fast, d->child) < 0)
		return -1;
	release_start(d);
	/* systemd (Type=notify): ready only now that the datapath carries packets */
	notify_up(d, true);
	return 0;
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
		sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading %s", d->t.cfg.path);
	if (config_load(d->t.cfg.path, &nc, err) < 0) {
		rc = -EINVAL;
	} else if (tunnel_fill_endpoints(&d->t, &nc, err) < 0) {
		rc = -EHOSTUNREACH;
	} else {
		tunnel_diff(&d->t.cfg, &nc, d->t.kernel, &td);
		tunnel_diff_text(&td, what, sizeof(what));
		if (td.restart) {
			fprintf(err, "%s:%u: %s changed: only a restart applies it (ipipctl down %s, "
				"then start it again); nothing was changed\n", nc.path, td.restart_line,
				td.restart, d->t.cfg.name);
			rc = -EPERM;
		} else if (!d->t.up) {
			tunnel_adopt(&d->t, &nc);	/* applied when the tunnel comes up (tunnel_bring_up) */
			memset(&d->t.displaced, 0, sizeof(d->t.displaced));
		} else if (td.live || td.host) {
			rc = tunnel_apply(&d->t, &nc, &td, err);
			if (rc == 0) {
				tunnel_adopt(&d->t, &nc);
				memset(&d->t.displaced, 0, sizeof(d->t.displaced));	/* (other routes now) */
			}
			if (rc == 0 && (td.host & HG_FIREWALL)) {	/* follow the new rules */
				fwwatch_close();
				if (fwwatch_open(&d->t.cfg) < 0)
					fprintf(err, "%s: the firewall is no longer followed\n",
						d->t.cfg.name);
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
		log_info("%s: reloaded %s: %s", d->t.cfg.name, d->t.cfg.path, rc ? "with errors" : what);
		if (!d->t.cfg.remote_name[0])
			d->t.resolve_at = 0;
		else if (!d->t.res.busy)	/* (a running lookup of an old name asks again) */
			d->t.resolve_at = now_ms() + (d->t.cfg.ip.remote ?
				d->t.cfg.resolve_interval * 1000ull : WAIT_RETRY_MS);
		if (!d->t.up)
			tell_state(d);
		else
			tunnel_follow_underlay(&d->t, true);	/* a new Remote may leave elsewhere */
		if (d->t.up)
			watch_routes(d, follows_routes(d));
		tunnel_follow_hop(&d->t, false);
	}
	if (d->ready)
		notify_up(d, true);
	return rc;
}

/* A message from the datapath process; -1 when it is gone or misbehaves. */
static int from_child(struct daemon *d)
{
	struct msg m, r = { .type = MSG_RELOADED };
	int rc = msg_recv(d->t.dp_fd, MSG_FROM_CHILD, &m);

	if (rc == -EAGAIN)
		return 0;
	if (rc < 0) {
		if (rc == -EPIPE)
			log_warnx("%s: the datapath process ended", d->t.cfg.name);
		else
			log_warnx("%s: bad message from the datapath process: %s", d->t.cfg.name,
				  strerror(-rc));
		return -1;
	}
	switch (m.type) {
	case MSG_READY:
		if (d->t.up && on_ready(d) < 0)
			return -1;
		break;
	case MSG_DOWN:
		log_info("stopping on request");
		d->stop = 1;
		break;
	case MSG_STATUS_REQ:
		tunnel_send_status(&d->t);
		break;
	case MSG_HOP_FAILED:
		tunnel_follow_hop(&d->t, true);
		tunnel_lookup_early(&d->t);
		break;
	case MSG_UNREACHABLE:	/* a failure to reach Remote: its name may say where it went */
		tunnel_lookup_early(&d->t);
		break;
	case MSG_ALIVE:
		d->t.peer_down = !m.u.alive.alive;
		if (d->t.peer_down)	/* Remote may have moved: its name may say where */
			tunnel_lookup_early(&d->t);
		if (d->ready)
			notify_up(d, false);
		break;
	case MSG_ROUTE_CHECK:
		tunnel_follow_underlay(&d->t, true);
		break;
	case MSG_SOFT_STATE:
		tunnel_soft_state(&d->t, &m.u.soft);
		break;
	case MSG_REMOTE_SEEN:
		tunnel_remote_seen(&d->t, m.u.remote.addr);
		break;
	case MSG_RELOAD:
		rc = reload(d, r.u.reloaded.text, sizeof(r.u.reloaded.text));
		r.u.reloaded.err = rc < 0 ? -rc : 0;
		if (msg_send(d->t.dp_fd, &r) < 0)
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
		log_info("SIGHUP: reloading %s", d->t.cfg.path);
		reload(d, text, sizeof(text));
		return;
	}
	log_info("signal %u: stopping", si.ssi_signo);
	d->stop = 1;
}

/*
 * The device renamed by someone else (`ip link set dga name x`): named back.
 * The firewall's rules match it by name (as the HOWTO's `-i tunl1` do), the
 * kernel's device is counted and removed by name, and `ipipctl` and the
 * logs call it so.  Where it cannot be (Linux before 6.2 renames only a
 * device that is down; another device took the name meanwhile), said once,
 * shown by `ipipctl show`, and tried again at the device's next change.
 */
static void watch_name(struct daemon *d)
{
	const char *name = d->t.cfg.name;
	char now[16], kind[16];
	int rc = nl_link_info(&d->nl, d->t.ifindex, now, kind);

	if (rc < 0 || !strcmp(now, name)) {
		if (rc == 0 && d->t.device_renamed[0])
			log_info("%s: the tunnel's device has its name again", name);
		if (rc == 0)
			d->t.device_renamed[0] = '\0';
		return;
	}
	rc = nl_link_set_name(&d->nl, d->t.ifindex, name);
	if (rc == 0) {
		log_warnx("%s: the tunnel's device was renamed to %s (not by ipipd): named %s again",
			  name, now, name);
		d->t.device_renamed[0] = '\0';
		return;
	}
	if (strcmp(d->t.device_renamed, now)) {
		log_warnx("%s: the tunnel's device was renamed to %s (not by ipipd), and cannot be "
			  "named %s again (%s): the firewall's rules match %s", name, now, name,
			  strerror(-rc), name);
		snprintf(d->t.device_renamed, sizeof(d->t.device_renamed), "%s", now);
	}
}

/*
 * What someone else did to the tunnel's device, looked at on each change of
 * a link or address.  Removed (`ip link del`; ipipd removes it only on its
 * way out): nothing is left to carry the packets, and the tunnel stops with
 * an error (-1: a service is restarted, and sets it up anew).  Set down: the
 * kernel takes the routes through it along, and they are put back when it
 * comes up again (ipipd leaves it down: whoever set it down meant it).
 */
static int watch_device(struct daemon *d)
{
	const char *name = d->t.cfg.name;
	unsigned flags;
	int rc, n;

	if (!d->t.up || d->t.ifindex <= 0)
		return 0;
	rc = nl_link_flags(&d->nl, d->t.ifindex, &flags);
	if (rc == -ENODEV) {
		log_warnx("%s: the tunnel's device was removed (not by ipipd): stopping", name);
		return -1;
	}
	if (rc < 0)
		return 0;	/* (looked at again on the next change) */
	watch_name(d);
	if (!(flags & IFF_UP) && !d->t.device_down) {
		d->t.device_down = true;
		if (d->t.fast)
			fp_set_device_down(&d->t.fp, true);
		log_warnx("%s: the tunnel's device was set down (not by ipipd): its routes went "
			  "with it, and are put back when it comes up", name);
		if (d->ready)
			notify_up(d, false);
	} else if (flags & IFF_UP && d->t.device_down) {
		char *errs = NULL;
		size_t len = 0;
		FILE *err = open_memstream(&errs, &len);

		d->t.device_down = false;
		if (d->t.fast)
			fp_set_device_down(&d->t.fp, false);
		n = err ? host_routes_restore(&d->t.cfg, &d->nl, d->t.ifindex, &d->t.displaced, err) :
			  -1;
		if (err)
			fclose(err);
		if (errs && len)
			log_lines("the tunnel's device is up again", errs);
		free(errs);
		if (n >= 0)
			log_info("%s: the tunnel's device is up again: %d route%s put back", name, n,
				 n == 1 ? "" : "s");
		if (d->ready)
			notify_up(d, false);
	}
	return 0;
}

/*
 * Something of the tunnel's was deleted (NL_MON_GONE): an address of its
 * device, a rule, a route through the device or in its table.  What ipipd
 * set up and someone else removed (`ip rule del`, `ip route flush table`,
 * a network manager removing rules and routes it did not make) is put back
 * and said so, as the firewall's rules are: the configuration says what
 * the tunnel has, and a reload changes it.  What a reload removed is no
 * longer in the configuration, and what the device took along when it
 * went down comes back when it comes up (watch_device()).  Put back
 * PUT_BACK_MS after the first deletion: the remover (`ip route flush`,
 * which deletes until the table is empty; a manager's batch) is done by
 * then, and all of it is put back at once, not fought one at a time.
 */
static void watch_setup(struct daemon *d)
{
	struct host_put_back put;
	char *errs = NULL, list[128] = "";
	size_t len = 0;
	unsigned flags;
	FILE *err;

	if (!d->t.up || d->t.device_down || d->t.ifindex <= 0 || d->stop ||
	    nl_link_flags(&d->nl, d->t.ifindex, &flags) < 0 || !(flags & IFF_UP))
		return;
	err = open_memstream(&errs, &len);
	if (!err)
		return;
	host_restore(&d->t.cfg, &d->nl, d->t.ifindex, d->t.state_path, &put, &d->t.displaced, err);
	fclose(err);
	if (errs && len)
		log_lines("putting back what was removed", errs);
	free(errs);
	if (put.addresses)
		snprintf(list, sizeof(list), "its address");
	for (int i = 0; i < 2; i++) {
		int k = i ? put.routes : put.rules;
		size_t at = strlen(list);

		if (k)
			snprintf(list + at, sizeof(list) - at, "%s%d %s%s", at ? ", " : "", k,
				 i ? "route" : "rule", k == 1 ? "" : "s");
	}
	if (list[0])
		log_warnx("%s: removed, not by ipipd, and put back: %s", d->t.cfg.name, list);
}

/* Does another route hold the place of one of the tunnel's? */
static bool displaced(const struct daemon *d)
{
	for (unsigned i = 0; i <= d->t.cfg.n_routes; i++)
		if (d->t.displaced.at[i])
			return true;
	return false;
}

/* The parent's monitor read (nl_monitor_drain()), with the routes the tunnel puts in. */
static int drain_monitor(struct daemon *d)
{
	static struct nl_route_info r[1 + CONFIG_MAX_ROUTES];
	const struct config *c = &d->t.cfg;
	struct config_route rt;
	unsigned n = 0;

	for (unsigned i = 0; i <= c->n_routes; i++)
		if (config_route_at(c, i, &rt))
			r[n++] = (struct nl_route_info){ .dst = rt.dst.addr, .len = rt.dst.len,
							 .table = rt.table, .metric = rt.metric };
	return nl_monitor_drain(&d->mon, d->t.ifindex, c->table, r, n);
}

/* poll()'s timeout (-1: none) shortened to end by at (0: no such time). */
static int poll_until(uint64_t at, uint64_t now, int timeout)
{
	uint64_t wait = at > now ? at - now : 0;

	return at && (timeout < 0 || wait < (uint64_t)timeout) ? (int)wait : timeout;
}

/*
 * The parent's loop: signals, the datapath process, the host's addresses,
 * routes; while waiting, the notifications that may bring the tunnel up.
 */
static int run(struct daemon *d)
{
	uint64_t followed = now_ms(), follow_soon = 0;	/* 0: no change to follow pending */
	uint64_t put_back = 0;				/* 0: nothing deleted to put back */
	int failed = 0;

	while (!d->stop) {
		struct pollfd pfd[6] = {
			{ .fd = d->sig_fd, .events = POLLIN },
			{ .fd = d->t.dp_fd, .events = POLLIN },
			{ .fd = d->mon_fd, .events = POLLIN },
			{ .fd = d->route_fd, .events = POLLIN },	/* -1 up on the kernel's device (but Local = auto, Remote = any) */
			{ .fd = fwwatch_fd(), .events = POLLIN },	/* -1 without Forward or Input */
			{ .fd = d->t.res.fd, .events = POLLIN },	/* -1 without a name for Remote */
		};
		int timeout = !d->t.up ? WAIT_RETRY_MS : d->t.kernel && d->ready ? -1 :
			      FOLLOW_UNDERLAY_MS;
		uint64_t now = now_ms();
		int n, other = 0, seen;
		bool look = false, moved = false;

		if (d->t.resolve_at && d->t.resolve_at <= now)
			tunnel_lookup(&d->t);
		if (d->t.resolve_at && (timeout < 0 || d->t.resolve_at - now < (uint64_t)timeout))
			timeout = (int)(d->t.resolve_at - now);
		timeout = poll_until(follow_soon, now, timeout);
		timeout = poll_until(put_back, now, timeout);
		n = poll(pfd, 6, timeout);

		if (d->t.up && !d->t.kernel && (now_ms() - followed >= FOLLOW_UNDERLAY_MS ||
						 (follow_soon && now_ms() >= follow_soon))) {
			followed = now_ms();
			follow_soon = 0;
			tunnel_follow_underlay(&d->t, false);
			tunnel_follow_hop(&d->t, false);
		}
		if (d->t.up && !d->ready && now_ms() >= d->ready_by) {
			log_warnx("%s: the datapath process did not start", d->t.cfg.name);
			failed = 1;
			break;
		}
		if (!d->t.up && now_ms() - d->t.tried >= WAIT_RETRY_MS)
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
		if (n > 0 && pfd[2].revents &&
		    (seen = drain_monitor(d)) != 0) {
			if (seen & NL_MON_ADDR) {
				tunnel_refresh_own(&d->t);
				look = moved = true;
			}
			if ((seen & NL_MON_LINK) && watch_device(d) < 0) {
				failed = 1;
				break;
			}
			/*
			 * (a route in the place of one of the tunnel's: gone with any
			 * change of routes, or of links: the kernel removes the routes
			 * through a device that goes down, and says nothing of them)
			 */
			if (((seen & NL_MON_GONE) ||
			     ((seen & (NL_MON_ROUTE | NL_MON_LINK)) && displaced(d))) && !put_back)
				put_back = now_ms() + PUT_BACK_MS;
		}
		if (put_back && now_ms() >= put_back) {
			put_back = 0;
			watch_setup(d);
		}
		if (n > 0 && pfd[3].revents && nl_monitor_drain_other(&d->mon_route, d->t.ifindex, &other) > 0) {
			look = moved = true;
			tunnel_follow_routes(&d->t);	/* Remote = any: the routes into the device */
			/*
			 * A link or a route of the underlay changed: the way out
			 * and the next hop, looked up again now (a link that went
			 * down took its routes with it), not at the next look.
			 */
			if (other && d->t.up && !d->t.kernel && !follow_soon)
				follow_soon = followed + FOLLOW_EVENT_GAP_MS;	/* (may be past: at once) */
		}
		if (look && !d->t.up && !d->stop) {
			int rc;

			if (!d->t.cfg.ip.remote)	/* the network came: the name may resolve now */
				tunnel_lookup_early(&d->t);
			rc = try_up(d);
			if (rc < 0) {
				failed = 1;
				break;
			}
		} else if (moved && d->t.up && d->t.cfg.local_auto &&
			   tunnel_follow_endpoints(&d->t, 0) && d->ready) {
			notify_up(d, false);
		}
		if (n > 0 && pfd[5].revents) {
			int rc = tunnel_lookup_done(&d->t);

			if (rc == 1 && d->ready)
				notify_up(d, false);
			if (rc == 2 && try_up(d) < 0) {
				failed = 1;
				break;
			}
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

/*
 * SourcePort = auto takes ports from the host's ephemeral range, as the
 * kernel's encap-sport auto does (net.ipv4.ip_local_port_range): read
 * before the datapath process, which cannot, is made.
 */
static void local_port_range(struct ipip_params *p)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned lo, hi;

	if (!f)
		return;
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo >= 1 && lo < hi && hi <= 65535) {
		p->sport_min = (uint16_t)lo;
		p->sport_max = (uint16_t)hi;
	}
	fclose(f);
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
	if (config_load(argv[optind], &d.t.cfg, stderr) < 0)
		return check ? 1 : EXIT_CONFIG;
	if (check) {
		unsigned warnings;

		if (lint_run(&d.t.cfg, LINT_CHECK, stderr, &warnings) > 0)
			return 1;
		printf("%s: configuration ok (tunnel %s)%s\n", argv[optind], d.t.cfg.name,
		       warnings ? ", with warnings" : "");
		return 0;
	}
	lint_run(&d.t.cfg, LINT_START, stderr, NULL);	/* warnings only */
	/* a contradiction in the file, said at once (not once the network is there) */
	if (d.t.cfg.datapath == DPM_KERNEL && config_kernel_gap(&d.t.cfg, &gap_line)) {
		fprintf(stderr, "%s:%u: %s: the kernel's ipip device (Datapath = kernel) cannot "
			"enforce it; use Datapath = auto, ebpf or userspace\n", d.t.cfg.path, gap_line,
			config_kernel_gap(&d.t.cfg, &gap_line));
		return EXIT_CONFIG;
	}
	if (geteuid() != 0)
		log_warnx("not running as root: creating the tunnel will probably fail");
	d.lock_fd = d.ctl_fd = d.sig_fd = d.mon_fd = d.sock_fd = -1;
	d.route_fd = d.ready_fd = -1;
	tunnel_init(&d.t, &d.nl);
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
	set_priority(&d.t.cfg);
	local_port_range(&d.t.cfg.ip);
	rc = spawn_child(&d);
	if (rc == 0) {
		tunnel_resolve_first(&d.t);
		rc = try_up(&d);
	}
	if (rc < 0) {
		stop_child(&d);
		teardown(&d);
		return d.t.config_error ? EXIT_CONFIG : 1;
	}
	if (rc == 1)	/* waiting: `ipipd CONFIG` returns, systemd hears STATUS= */
		release_start(&d);
	rc = run(&d);
	sd_notify(0, "STOPPING=1\nSTATUS=Stopping: undoing the host setup");
	teardown(&d);
	log_info("tunnel %s down", d.t.cfg.name);
	return rc < 0 ? 1 : 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The running tunnel, as its two processes share it at fork: the parent
 * (ipipd.c: privileged, it set everything up, follows the host and undoes
 * it all at the end) and the datapath process (child.c: unprivileged, it
 * carries the packets, reads the ICMP errors and answers the control
 * socket).  After the fork each owns its half; they talk over sock_fd
 * (msg.h).
 */
#ifndef IPIPD_DAEMON_H
#define IPIPD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "datapath.h"
#include "endpoint.h"
#include "fastpath.h"
#include "msg.h"
#include "netlink.h"
#include "sandbox.h"
#include "tunnel.h"

struct daemon {
	/*
	 * The tunnel (tunnel.h): the parent owns it and alone changes it;
	 * the datapath process holds a copy, kept as the parent's messages say.
	 */
	struct tunnel t;
	/* the parent's */
	struct nl nl;		/* the tunnel's rtnetlink socket (t.nl) */
	struct nl mon;		/* RTMGRP_IPV4_IFADDR, RTMGRP_LINK: addresses and devices change */
	struct nl mon_route;	/* RTMGRP_IPV4_ROUTE, while the tunnel waits for a route */
	int lock_fd, sig_fd, mon_fd, route_fd;
	int ready_fd;		/* without -f: the start is over (ipipd CONFIG returns) */
	bool ready;		/* the datapath process said MSG_READY once */
	uint64_t ready_by;	/* ... must, by then (CLOCK_MONOTONIC ms) */
	pid_t child;		/* the datapath process */
	struct sandbox_user user;	/* ... runs as */
	/* the datapath process's */
	struct datapath dp;
	struct dp_uring *uring;	/* its TUN reads' ring, until the datapath takes it ... */
	const char *uring_why;	/* ... or why there is none */
	int ctl_fd;
	uint64_t fast_rx, fast_tx;	/* the fast path's packets at the last tick */
	bool unreach_at_tick;	/* the soft state said unreachable at the last tick */
	uint32_t moved_told;	/* RemotePort = learn: the address last told the parent ... */
	uint64_t moved_told_ms;	/* ... and when */
	struct msg_soft soft_told;	/* the fast path's soft state, as last told the parent */
	bool soft_told_valid;	/* ... (false: tell it again) */
	struct {
		uint64_t sent_at;	/* CLOCK_MONOTONIC ms of the last echo (0: none yet) */
		uint64_t sent;		/* echoes sent */
		unsigned unanswered;	/* echoes in a row without a packet from Remote since */
		bool down;		/* declared down (KeepaliveMisses unanswered) */
	} ka;
	pid_t parent;
	bool attached;		/* it has its datapath (MSG_DATAPATH) */
	char attach[8];		/* the fast path's attachment, as the parent said */
	uint32_t prog_id[2];
	int sock_fd;		/* the datapath process's end of the pair (the parent's: t.dp_fd) */
	bool foreground;
	bool keep_state;	/* the state file was refused: leave it as found */
	enum sandbox_mode sandbox;
	char run_dir[512], sock_path[512], pid_path[512], lock_path[512];
	int stop;
};

/*
 * The datapath process, right after the fork: drop privileges, start the
 * datapath, say MSG_READY, serve until MSG_STOP or the parent is gone.
 * Never returns.
 */
_Noreturn void child_run(struct daemon *d);

#endif

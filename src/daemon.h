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

struct daemon {
	struct config cfg;
	/* the parent's */
	struct nl nl;
	struct nl mon;		/* RTMGRP_IPV4_IFADDR: the host's addresses change */
	struct nl mon_route;	/* RTMGRP_IPV4_ROUTE, while the tunnel waits for a route */
	int lock_fd, sig_fd, mon_fd, route_fd;
	int ready_fd;		/* without -f: the start is over (ipipd CONFIG returns) */
	bool ready;		/* the datapath process said MSG_READY once */
	uint64_t ready_by;	/* ... must, by then (CLOCK_MONOTONIC ms) */
	uint64_t tried;		/* the last bring-up attempt while waiting */
	pid_t child;		/* the datapath process */
	struct sandbox_user user;	/* ... runs as */
	int underlay_ifindex;	/* the route to Remote leaves here */
	bool direct;		/* outer packets may go straight to the next hop (packet socket) */
	unsigned route_mtu;	/* the route's MTU to Remote, as last told to the datapath process */
	struct resolver res;	/* Remote as a name: its lookups */
	uint64_t resolve_at;	/* the next lookup (CLOCK_MONOTONIC ms; 0: none due, or one runs) */
	uint64_t resolve_asked;	/* the last lookup asked for early (a failure to reach Remote) */
	char resolve_err[ENDPOINT_ERR_MAX];	/* the last lookup's failure ("": it worked) */
	bool peer_down;		/* Keepalive: the datapath process said Peer stopped answering */
	/* the datapath process's */
	struct datapath dp;
	struct own_addrs own;	/* the host's addresses, for the rx thread */
	int tun_fd, raw_fd, ctl_fd;
	uint64_t fast_rx, fast_tx;	/* the fast path's packets at the last tick */
	bool unreach_at_tick;	/* the soft state said unreachable at the last tick */
	struct {
		uint64_t sent_at;	/* CLOCK_MONOTONIC ms of the last echo (0: none yet) */
		uint64_t sent;		/* echoes sent */
		unsigned unanswered;	/* echoes in a row without a packet from Remote since */
		bool down;		/* declared down (KeepaliveMisses unanswered) */
	} ka;
	pid_t parent;
	bool attached;		/* it has its datapath (MSG_DATAPATH) */
	bool up;		/* the tunnel is up (else: waiting) */
	char waiting[MSG_TEXT_MAX];	/* what for */
	char attach[8];		/* the fast path's attachment, as the parent said */
	uint32_t prog_id[2];
	/* both (the parent tells the datapath process what changes) */
	int sock_fd;		/* the other process */
	struct fastpath fp;	/* parent: attachments, address map; child: mapped state */
	bool fast;		/* the eBPF fast path carries ordinary packets */
	bool kernel;		/* the kernel's ipip device carries the packets */
	bool foreground;
	bool keep_state;	/* the state file was refused: leave it as found */
	bool config_error;	/* the start failed on the configuration (exit status 78) */
	enum sandbox_mode sandbox;
	int n_own;		/* the host's addresses at the last dump (-1: failed) */
	uint32_t own_list[OWN_ADDRS_MAX];	/* ... the first OWN_ADDRS_MAX of them */
	struct nl_ether_hop hop;	/* where outer packets go direct (ifindex 0: none) */
	int hop_rc;		/* why not (-errno), as last looked up */
	int ifindex;
	unsigned mtu;
	char dp_reason[224];
	char run_dir[512], sock_path[512], pid_path[512], lock_path[512], state_path[512];
	int stop;
};

/*
 * The datapath process, right after the fork: drop privileges, start the
 * datapath, say MSG_READY, serve until MSG_STOP or the parent is gone.
 * Never returns.
 */
_Noreturn void child_run(struct daemon *d);

/* "a.b.c.d" of an address in network order. */
const char *ip4(uint32_t a, char *buf);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege after setup, for ipipd's two processes (privilege
 * separation, as OpenBSD's daemons do it):
 *
 *  - the parent keeps what teardown and following the host need:
 *    CAP_NET_ADMIN (netlink, nftables, /proc/sys/net), CAP_BPF while the
 *    fast path runs (attaching it to a new underlay, the map of the host's
 *    addresses), CAP_NET_RAW (a reload's new raw socket), CAP_KILL (the
 *    datapath process only), uid 0 for the root-owned files it removes;
 *  - the datapath process (packets, ICMP errors, the control socket) runs as
 *    an unprivileged system user with no capability at all, no supplementary
 *    groups, under Landlock (no file may be opened, no TCP port used) where
 *    the kernel has it, with only the descriptors it needs.
 *
 * Both set no_new_privs and run under a seccomp allow-list of their own
 * whose default action kills the process (or, in report mode, lets the call
 * proceed and names it in the log).  See SECURITY in ipipd(8).
 */
#ifndef IPIPD_SANDBOX_H
#define IPIPD_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

enum sandbox_mode {
	SANDBOX_ENFORCE,	/* a call outside the allow-list kills the process */
	SANDBOX_REPORT,		/* -S: such a call is allowed and reported in the log */
};

/* The system user the datapath process runs as. */
#define SANDBOX_USER "ipipd"
#define SANDBOX_FALLBACK_USER "nobody"

struct sandbox_user {
	uid_t uid;
	gid_t gid;
	char name[32];
};

/*
 * Look name up (before any sandbox: NSS may open files); if it does not
 * exist and is the default SANDBOX_USER, fall back to SANDBOX_FALLBACK_USER
 * with a warning.  Refuses uid 0.  0, or -1 with the reason logged.
 */
int sandbox_user(const char *name, struct sandbox_user *u);

/*
 * The parent, once, after setup and before its own loop: keep only
 * CAP_NET_ADMIN (and CAP_BPF if bpf), set no_new_privs and install the
 * parent's allow-list; kill(2) only of the datapath process child.
 * 0, or -1 with errno set.
 */
int sandbox_enter_parent(enum sandbox_mode mode, bool bpf, pid_t child);

/*
 * The datapath process, once, before its threads start: become u (no
 * capability, no supplementary group, bounding set empty), die with the
 * parent, Landlock, no_new_privs, the datapath's allow-list.  0, or -1 with
 * the reason logged.
 */
int sandbox_enter_child(enum sandbox_mode mode, const struct sandbox_user *u, pid_t parent);

/* Landlock as the datapath process has it: 1 if in force, 0 if the kernel has none, -1 on error. */
int sandbox_landlock(void);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host setup around the tunnel (the HOWTO's steps 5-9): the routing table's
 * name, a default route in it, policy rules, rp_filter, proxy ARP, IPv4
 * forwarding and the firewall.  Every change that would outlive the tunnel
 * device is recorded in a state file before it is made (journal.h), so that
 * it can be undone exactly, also after a crash (host_cleanup); the sysctls
 * shared with other tunnels are held in the namespace's ledger (ledger.h).
 */
#ifndef IPIPD_HOST_H
#define IPIPD_HOST_H

#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "netlink.h"

/*
 * Apply the setup for the tunnel device ifindex, recording into state_path.
 * On failure, print "FILE:LINE: Step: reason" to err, undo what was done and
 * return -1.
 */
int host_apply(const struct config *c, struct nl *nl, int ifindex, const char *state_path,
	       FILE *err);

/*
 * Undo everything recorded in state_path by tunnel name, newest first, then
 * remove it.  Returns the number of entries undone (0: no file); -EBADMSG if
 * some line is not one ipipd writes for this tunnel in this namespace (each
 * reported to log; nothing is undone and the file is kept); -EIO if some
 * could not be undone (the file is kept); or -errno.
 */
int host_cleanup(struct nl *nl, const char *name, const char *state_path, FILE *log);

/*
 * In a namespace other than PID 1's: the runtime files of every tunnel whose
 * state file a namespace that is gone wrote (one that had this namespace's
 * inode; its daemon was killed, then the namespace died), removed as
 * host_cleanup() would (only the files of its setup are left to undo).
 * Returns how many tunnels' files were removed.
 */
int host_sweep_gone(struct nl *nl, FILE *log);

/* Did a namespace that is gone write the state file at path (jr_netns_gone())? */
int host_state_gone(const char *path);

/* The groups of host settings a reload changes by difference. */
enum host_group {
	HG_ROUTING = 1,		/* Table's name, DefaultRoute, RuleFrom, RulePriority */
	HG_RP_FILTER = 2,
	HG_PROXY_ARP = 4,
	HG_FORWARDING = 8,
	HG_FIREWALL = 16,
};

/*
 * A reload: undo what the record says the groups did under the old
 * settings (and old's default route), take it out of the record, then
 * apply the groups' new settings c, recorded as at start.  What is not in
 * groups is not touched.  -1 with "FILE:LINE: Step: reason" lines in err
 * if some step failed (the others stay as they are).
 */
int host_reapply(const struct config *old, const struct config *c, unsigned groups,
		 struct nl *nl, int ifindex, const char *state_path, FILE *err);

/* Write a sysctl file (/proc/sys/...): 0 or -errno. */
int host_sysctl_write(const char *path, const char *val);

/*
 * Record, before it is created, that the tunnel's device name of kind
 * ("ipip", "tun") gets interface index ifindex (deleted on cleanup while that
 * index still has that name and kind).
 */
int host_record_link(const char *state_path, int ifindex, const char *name, const char *kind,
		     off_t *at);

/* Take back the last record (at: the state file's length before it): 0 or -errno. */
int host_unrecord(const char *state_path, off_t at);

/* Record a clsact filter of the eBPF fast path on the underlay (ingress). */
int host_record_tc_filter(const char *state_path, int ifindex, uint32_t handle, uint32_t prio);

/* The ip/sysctl/nft commands equivalent to what ipipd does for c, in order. */
void host_explain(const struct config *c, unsigned mtu, FILE *out);

/*
 * A reload's [Route] sections: the routes only old has are deleted, those
 * only c has added (dev ifindex), the others left alone.  0, or -1 with
 * err saying what failed.
 */
int host_routes_change(const struct config *old, const struct config *c, struct nl *nl,
		       int ifindex, FILE *err);

/*
 * The tunnel's routes (the default route in Table, each [Route]) whose
 * place another route holds: the same destination, table and metric, not
 * through the device (`ip route replace`, a routing daemon's).  The kernel
 * has room for one of the two: the other is left alone, and said once.
 */
struct host_displaced {
	bool at[1 + CONFIG_MAX_ROUTES];	/* by config_route_at()'s number */
};

/*
 * The device went down and came up again (`ip link set NAME down`, then
 * up): the kernel took the routes through it along, the default route in
 * Table and each [Route]; they are put back (those still there left alone;
 * those another holds the place of said in err when first seen so, and
 * noted in *shown).  How many were put back, or -1 with err saying what
 * failed.
 */
int host_routes_restore(const struct config *c, struct nl *nl, int ifindex,
			struct host_displaced *shown, FILE *err);

/*
 * Someone else deleted what ipipd set up while the tunnel runs (`ip rule
 * del`, `ip route flush table`, `ip address del`, a network manager that
 * removes rules and routes it did not make): the device's address, the
 * policy rules (as recorded in state_path, with their priorities), the
 * table's default route and each [Route] are added again, those still
 * there left alone (and those another route holds the place of: *shown,
 * as host_routes_restore()).  *put says how many of each were put back.
 * 0, or -1 with err saying what failed.
 */
struct host_put_back {
	int addresses, rules, routes;
};
int host_restore(const struct config *c, struct nl *nl, int ifindex, const char *state_path,
		 struct host_put_back *put, struct host_displaced *shown, FILE *err);

/*
 * Append key=value lines describing the host setup (for ipipctl show);
 * fw_rules: ipipd's nft rules for the tunnel now (fw_count()).
 */
struct strbuf;
void host_describe(const struct config *c, int fw_rules, struct strbuf *sb);

/*
 * Path of the iproute2 table-name file ipipd writes for tunnel name in this
 * network namespace: rt_tables.d/ipipd-NAME.conf in PID 1's, else
 * rt_tables.d/ipipd-INODE:NAME.conf (the directory is shared by all).
 */
int host_rt_tables_path(const char *name, char *buf, size_t n);

#endif

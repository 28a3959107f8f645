/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Keeping ipipd's firewall rules in the ruleset (the parent).  A firewall
 * reload (firewall-cmd --reload, ufw reload, nft -f of a file that starts
 * with flush ruleset) removes them, and a forward or input chain made after
 * the start has none.  The parent follows nf_tables' notifications (the
 * netlink group NFNLGRP_NFTABLES, which `nft monitor` reads): every
 * transaction ends with a new generation (NFT_MSG_NEWGEN) naming the process
 * that committed it.  Once the generations of other processes have settled
 * (none for FWW_SETTLE_MS, or FWW_LATEST_MS after the first, whatever keeps
 * coming), it plans against the ruleset as it is then (firewall.h: only
 * what is missing) and adds that in one transaction, counted and logged once.
 * Its own transactions are not changes to follow, and a plan with nothing
 * missing commits nothing, so it never answers itself; a firewall manager
 * that keeps removing the rules is answered less and less often (the wait
 * doubles after each restore within FWW_STREAK_MS, up to FWW_SETTLE_MS << 7).
 *
 * The counters `ipipctl show` reports live in a page the parent maps shared
 * before the fork (fwwatch_share): it writes them, the datapath process reads them, and the
 * parent never reads what is there.
 */
#ifndef IPIPD_FWWATCH_H
#define IPIPD_FWWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define FWW_SETTLE_MS 200	/* a change is acted on once no other came for this long */
#define FWW_LATEST_MS 1000	/* ... or this long after the first */
#define FWW_STREAK_MS 10000	/* restores closer than this in a row wait longer each time */

/* Map the page shared with the datapath process: before the fork.  0, or -1 (logged). */
int fwwatch_share(void);

/*
 * Subscribe for tunnel c (nothing without Forward or Input): before its
 * rules are first added, so that no change after them is missed; again
 * after a reload that changed them (c is read at each restore).  0, or -1
 * (logged).
 */
int fwwatch_open(const struct config *c);

/* The descriptor to poll for POLLIN (-1: none): notifications and the timer. */
int fwwatch_fd(void);

/* On its events: read the notifications; once settled, put the rules back. */
void fwwatch_run(void);

void fwwatch_close(void);

/*
 * ipipctl show's keys (in the datapath process): firewall_restored (how many
 * times rules were put back) and firewall_restored_ago_ms (null: never).
 */
struct strbuf;
void fwwatch_describe(struct strbuf *sb);

/* ---- exposed for the tests ---- */

/* What one read of the socket says. */
struct fww_news {
	uint32_t self;		/* this process's pid: its own generations are not news */
	unsigned changes;	/* generations committed by other processes */
	unsigned own;		/* ... by this one */
	uint32_t gen, pid;	/* the last of the others' (0: not said) */
	char comm[16];		/* ... and the name of its process ("": not said) */
};

/* Read the notifications in buf[0..len) into *n; 0, or -1 if they are malformed. */
int fwwatch_parse(const void *buf, size_t len, struct fww_news *n);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks of a valid configuration for the mistakes that break a host or
 * cannot work, beyond what config.c refuses: `ipipd -n` prints them, and
 * ipipd at start the warnings among them.  The checks are pure: what they
 * need to know about the host is gathered first, in one place
 * (lint_host_facts()), so that tests can hand them any host.
 */
#ifndef IPIPD_LINT_H
#define IPIPD_LINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "netlink.h"

#define LINT_MAX_ADDRS 256
#define LINT_MAX_LINKS 256

struct host_facts {
	bool known;		/* gathered (else only the checks without the host are made) */
	unsigned n_addrs, n_links;	/* at most LINT_MAX_* of them kept */
	struct nl_addr_info addrs[LINT_MAX_ADDRS];	/* every IPv4 address */
	struct nl_link_info links[LINT_MAX_LINKS];	/* every interface */
	int route_rc;		/* the route to Remote: 0, or -errno (no route) */
	unsigned route_mtu;	/* ... its MTU (configured, else its device's) */
	int route_oif;		/* ... and its device */
	int ip_forward;		/* net.ipv4.ip_forward: 0, 1, or -1 if unknown */
	bool ours;		/* ipipd's runtime files for the tunnel's Name exist: it runs, or left it */
	/* the endpoints given as Remote = NAME and Local = auto, as they are now */
	uint32_t remote;	/* Remote's name resolves to (0: it does not; remote_err says why) */
	char remote_err[ENDPOINT_ERR_MAX];
	uint32_t local;		/* Local = auto: the route to Remote's source address (0: none) */
	int local_rc;		/* ... 0, or -errno */
	/*
	 * ipipd -n: a route not through the tunnel's device in the place of
	 * each of the tunnel's (by config_route_at()'s number: 0 the default
	 * route in Table, 1 + i [Route] i): the same destination, table and
	 * metric.
	 */
	bool taken[1 + CONFIG_MAX_ROUTES];
	struct nl_route_info taken_by[1 + CONFIG_MAX_ROUTES];	/* ... that route */
};

enum lint_when {
	LINT_CHECK,		/* ipipd -n: every check */
	LINT_START,		/* ipipd starting: not what start-up itself reports */
};

/* Gather what the checks need about this host (rtnetlink, /proc: no privilege). */
void lint_host_facts(const struct config *c, struct host_facts *h);

/*
 * Print what is wrong with c on this host (h, or NULL for the checks that
 * need no host) to out, sorted by line: "FILE:LINE: warning: KEY: ..." for
 * warnings, "FILE:LINE: KEY: ..." for errors (nothing could work).
 * Returns the number of errors, and the number of warnings in *warnings
 * (if not NULL); at LINT_START every finding is a warning.
 */
int lint_config(const struct config *c, const struct host_facts *h, enum lint_when when,
		FILE *out, unsigned *warnings);

/* Both: gather this host's facts and check. */
int lint_run(const struct config *c, enum lint_when when, FILE *out, unsigned *warnings);

/*
 * What several tunnels' files take twice (ipipctl check): a name, an
 * address, a table with a default route, the same endpoints, a UDP port, a
 * [Route]; each printed as an error at the later file's line, naming the
 * earlier file.  Returns the number of errors.
 */
int lint_set(const struct config *const *cs, unsigned n, FILE *out);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forwarding through the tunnel, through libnftables: rules tagged
 * comment "ipipd:NAME" at the top of every IPv4 forward base chain (so they
 * also open an iptables-nft FORWARD chain with policy DROP), and, with
 * ForwardFrom, a chain of our own in table inet ipipd that drops forwarded
 * traffic into the tunnel from other sources.  Only tagged rules and our
 * chain are ever removed.
 */
#ifndef IPIPD_FIREWALL_H
#define IPIPD_FIREWALL_H

#include <stddef.h>

#include "config.h"

/*
 * The nft commands that open forwarding for ifname, given the ruleset as it
 * is now, into buf (one per line).  Returns 0, or -1 with a message in err.
 */
int fw_plan(const char *ifname, const struct prefix *from, unsigned n, char *buf, size_t len,
	    char *err, size_t errlen);

/* Run commands (one transaction); -1 with nft's message in err on failure. */
int fw_run(const char *cmds, char *err, size_t errlen);

/* Remove every rule tagged for ifname and its own chain; 0 or -1 with err. */
int fw_cleanup(const char *ifname, char *err, size_t errlen);

/* How many tagged rules for ifname are in the ruleset now (-1: cannot list). */
int fw_count(const char *ifname);

#endif

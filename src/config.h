/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel configuration file: one INI file per tunnel. */
#ifndef IPIPD_CONFIG_H
#define IPIPD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>

#include "packet.h"

#define CONFIG_MTU_MIN 68u
#define CONFIG_MTU_MAX (0xffffu - IPV4_HLEN)

struct config {
	char path[4096];
	char name[IFNAMSIZ];
	struct ipip_params ip;	/* local, remote, TTL, TOS, DF, ECN, DSCP */
	unsigned mtu;		/* 0: underlay route MTU - 20 */
	struct in_addr addr;
	unsigned prefixlen;
	bool has_peer;
	struct in_addr peer;
};

/*
 * Parse the file at path into *c.  On error, print "FILE:LINE: message"
 * lines to err and return -1.  Touches nothing but *c.
 */
int config_load(const char *path, struct config *c, FILE *err);

/* Parse a configuration held in memory (for tests and fuzzing). */
int config_parse_string(const char *text, const char *path, struct config *c, FILE *err);

/* A valid interface name: 1..15 bytes, no '/', ':' or white space, not "." or "..". */
bool config_valid_ifname(const char *s);

#endif

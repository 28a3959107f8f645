/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forwarding through the tunnel, through libnftables: rules tagged
 * comment "ipipd:NAME" at the top of every IPv4 forward base chain (so they
 * also open an iptables-nft FORWARD chain with policy DROP), and, with
 * ForwardFrom, a chain of our own in table inet ipipd that drops forwarded
 * traffic into the tunnel from other sources.  With Input, a rule at the top
 * of every IPv4 input base chain accepts the outer packets (protocol 4) from
 * Remote to Local: a packet must be accepted by every base chain of its hook,
 * so a chain of our own could not open an input chain whose policy drops.
 * Only tagged rules and our chain are ever removed.
 *
 * A plan is made against the ruleset as it is now and holds only what is
 * missing from it: carried out once, planning again finds nothing to do, so
 * the rules can be put back after a firewall reload (fwwatch.h) without
 * doubling those still there.
 *
 * The ruleset is read, and the commands are given, in nft's JSON form: table
 * and chain names are strings there, whatever characters they hold (the
 * text form needs them quoted, which nft before 1.0.7 does not accept, and
 * prints them unquoted).
 */
#ifndef IPIPD_FIREWALL_H
#define IPIPD_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define FW_NAME_MAX 257		/* NFT_NAME_MAXLEN and the NUL */
#define FW_MAX_CHAINS 64
#define FW_MAX_RULES 256
#define FW_OWN_CHAIN_MAX 40	/* "fwdx_" and 2 hex digits per character of a name */

struct fw_chain {
	char family[8], table[FW_NAME_MAX], chain[FW_NAME_MAX];
	bool forward;		/* a filter base chain on the forward hook */
	bool input;		/* ... on the input hook */
};

/* ipipd's rules in a forward chain: iifname NAME accept, oifname NAME accept. */
#define FW_IIF 1u
#define FW_OIF 2u
#define FW_BOTH (FW_IIF | FW_OIF)
/* ipipd's rule in an input chain (any rule tagged for the tunnel there). */
#define FW_IN 4u

/* What opens forwarding for one tunnel, given the ruleset as it was read. */
struct fw_plan {
	char ifname[IFNAMSIZ];
	struct fw_chain chains[FW_MAX_CHAINS];	/* the IPv4 forward (and input) chains to open */
	unsigned char have[FW_MAX_CHAINS];	/* FW_IIF, FW_OIF, FW_IN: the rules each holds already */
	unsigned n_chains;
	uint32_t local, remote;	/* Input: the outer addresses (network order) */
	uint16_t port;		/* ... and UDP encapsulation's Port (0: protocol 4) */
	bool any_source;	/* RemotePort = learn: from any address (Remote follows it) */
	const struct prefix *from;	/* ForwardFrom (n_from 0: no chain of our own) */
	unsigned n_from;
	char own[FW_OWN_CHAIN_MAX];
	bool own_there;		/* the chain exists ... */
	bool own_whole;		/* ... holding its three rules: nothing to add */
};

/* Read the ruleset and plan for the tunnel; 0, or -1 with a message in err. */
int fw_plan(const struct config *c, struct fw_plan *p, char *err, size_t errlen);

/* How many rules fw_apply() would add (0: the ruleset holds them all). */
unsigned fw_plan_missing(const struct fw_plan *p);

/*
 * The whole plan as nft commands, one a line, names quoted where nft needs
 * it (explain): what a start on a ruleset without ipipd's rules adds.
 */
int fw_plan_text(const struct fw_plan *p, char *buf, size_t len);

/* Add what the plan misses (one transaction); -1 with nft's message in err on failure. */
int fw_apply(const struct fw_plan *p, char *err, size_t errlen);

/* Remove every rule tagged for ifname and its own chain; 0 or -1 with err. */
int fw_cleanup(const char *ifname, char *err, size_t errlen);

/* How many tagged rules for ifname are in the ruleset now (-1: cannot list). */
int fw_count(const char *ifname);

/* ---- exposed for the tests ---- */

/*
 * The name of ifname's own chain: "fwd_" and the name when it has only
 * letters, digits and '_', else "fwdx_" and its bytes in hex (one to one:
 * no plain name gives a "fwdx_" chain).
 */
void fw_own_chain(const char *ifname, char *buf, size_t len);

/* The ruleset as `nft -j list ruleset` prints it, reduced to what ipipd uses. */
struct fw_ruleset {
	struct fw_chain chains[FW_MAX_CHAINS];
	unsigned nchains;
	struct {
		unsigned chain;		/* index in chains */
		unsigned long handle;
		unsigned char dir;	/* FW_IIF, FW_OIF: the meta keys its expressions match */
	} rules[FW_MAX_RULES];		/* the rules tagged for ifname */
	unsigned nrules;
	bool own_chain, own_table_other_chains;
};

/* 0, or -1 if json is not nft's JSON ruleset. */
int fw_parse_ruleset(const char *json, const char *ifname, struct fw_ruleset *rs);

/* The plan for the tunnel against a ruleset read for its name (fw_plan() without nft). */
void fw_plan_ruleset(const struct fw_ruleset *rs, const struct config *c, struct fw_plan *p);

#endif

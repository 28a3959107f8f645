/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "firewall.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OWN_TABLE "ipipd"
#define MAX_CHAINS 64
#define MAX_RULES 256

struct chain_ref {
	char family[8], table[64], chain[64];
	bool forward;		/* a base chain on the forward hook */
};

struct rule_ref {
	struct chain_ref *chain;
	unsigned long handle;
};

struct ruleset {
	struct chain_ref chains[MAX_CHAINS];
	unsigned nchains;
	struct rule_ref rules[MAX_RULES];	/* rules tagged for our interface */
	unsigned nrules;
	bool own_chain, own_table_other_chains;
};

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx)
		return NULL;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	return ctx;
}

static void copy_err(struct nft_ctx *ctx, char *err, size_t errlen)
{
	const char *e = nft_ctx_get_error_buffer(ctx);
	size_t n;

	snprintf(err, errlen, "%s", e && *e ? e : "nft failed");
	n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

int fw_run(const char *cmds, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new();
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "libnftables: cannot create a context");
		return -1;
	}
	rc = nft_run_cmd_from_buffer(ctx, cmds);
	if (rc)
		copy_err(ctx, err, errlen);
	nft_ctx_free(ctx);
	return rc ? -1 : 0;
}

/* Our chain's name: "fwd_" and the interface name, hex-encoded if it is not an identifier. */
static void own_chain(const char *ifname, char *buf, size_t len)
{
	bool plain = true;
	size_t n;

	for (const char *p = ifname; *p; p++)
		plain = plain && (isalnum((unsigned char)*p) || *p == '_');
	n = (size_t)snprintf(buf, len, "fwd_%s", plain ? ifname : "x");
	if (!plain)
		for (const char *p = ifname; *p && n + 3 < len; p++)
			n += (size_t)snprintf(buf + n, len - n, "%02x", (unsigned char)*p);
}

/* First word of s (up to space or '{') into out. */
static void word(const char *s, char *out, size_t len)
{
	size_t n = strcspn(s, " \t{");

	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static int braces(const char *l)
{
	int d = 0;
	bool q = false;

	for (; *l; l++) {
		if (*l == '"')
			q = !q;
		else if (!q && *l == '{')
			d++;
		else if (!q && *l == '}')
			d--;
	}
	return d;
}

/* Parse `nft -a list ruleset` text into the chains and our tagged rules. */
static void parse_ruleset(const char *text, const char *ifname, struct ruleset *rs)
{
	char tag[64], family[8] = "", table[64] = "", own[64];
	const char *l = text;
	struct chain_ref *cur = NULL;
	int depth = 0;

	memset(rs, 0, sizeof(*rs));
	snprintf(tag, sizeof(tag), "comment \"ipipd:%s\" # handle ", ifname);
	own_chain(ifname, own, sizeof(own));
	while (*l) {
		size_t len = strcspn(l, "\n");
		char line[1024];

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
		l += len + (l[len] == '\n');
		const char *t = line + strspn(line, " \t");

		if (depth == 0 && !strncmp(t, "table ", 6)) {
			word(t + 6, family, sizeof(family));
			word(t + 6 + strlen(family) + 1, table, sizeof(table));
			cur = NULL;
		} else if (depth == 1 && !strncmp(t, "chain ", 6)) {
			cur = NULL;
			if (rs->nchains < MAX_CHAINS) {
				cur = &rs->chains[rs->nchains++];
				snprintf(cur->family, sizeof(cur->family), "%s", family);
				snprintf(cur->table, sizeof(cur->table), "%s", table);
				word(t + 6, cur->chain, sizeof(cur->chain));
				if (!strcmp(family, "inet") && !strcmp(table, OWN_TABLE)) {
					if (!strcmp(cur->chain, own))
						rs->own_chain = true;
					else
						rs->own_table_other_chains = true;
				}
			}
		} else if (depth == 2 && cur) {
			const char *h = strstr(t, tag);

			if (strstr(t, "type filter hook forward "))
				cur->forward = true;
			if (h && rs->nrules < MAX_RULES) {
				rs->rules[rs->nrules].chain = cur;
				rs->rules[rs->nrules++].handle = strtoul(h + strlen(tag), NULL, 10);
			}
		}
		depth += braces(t);
		if (depth < 0)
			depth = 0;
	}
}

static int list_ruleset(const char *ifname, struct ruleset *rs, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new();
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "libnftables: cannot create a context");
		return -1;
	}
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE);
	rc = nft_run_cmd_from_buffer(ctx, "list ruleset");
	if (rc)
		copy_err(ctx, err, errlen);
	else
		parse_ruleset(nft_ctx_get_output_buffer(ctx), ifname, rs);
	nft_ctx_free(ctx);
	return rc ? -1 : 0;
}

static bool is_ipv4_family(const char *f)
{
	return !strcmp(f, "ip") || !strcmp(f, "inet");
}

#define ADD(...) do { \
	int n_ = snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__); \
	used += n_ > 0 ? (size_t)n_ : 0; \
} while (0)

int fw_plan(const char *ifname, const struct prefix *from, unsigned n, char *buf, size_t len,
	    char *err, size_t errlen)
{
	static struct ruleset rs;
	char own[64], a[INET_ADDRSTRLEN];
	size_t used = 0;

	if (list_ruleset(ifname, &rs, err, errlen) < 0)
		return -1;
	buf[0] = '\0';
	for (unsigned i = 0; i < rs.nchains; i++) {
		const struct chain_ref *c = &rs.chains[i];

		if (!c->forward || !is_ipv4_family(c->family) ||
		    (!strcmp(c->family, "inet") && !strcmp(c->table, OWN_TABLE)))
			continue;
		/* insert puts a rule first: oifname ends up second, iifname first */
		ADD("insert rule %s %s %s oifname \"%s\" accept comment \"ipipd:%s\"\n", c->family,
		    c->table, c->chain, ifname, ifname);
		ADD("insert rule %s %s %s iifname \"%s\" accept comment \"ipipd:%s\"\n", c->family,
		    c->table, c->chain, ifname, ifname);
	}
	if (n) {
		own_chain(ifname, own, sizeof(own));
		ADD("add table inet " OWN_TABLE "\n");
		ADD("add chain inet " OWN_TABLE " %s { type filter hook forward priority filter - 1; "
		    "policy accept; }\n", own);
		ADD("add rule inet " OWN_TABLE " %s oifname \"%s\" ct state established,related accept "
		    "comment \"ipipd:%s\"\n", own, ifname, ifname);
		ADD("add rule inet " OWN_TABLE " %s oifname \"%s\" ip saddr { ", own, ifname);
		for (unsigned i = 0; i < n; i++)
			ADD("%s%s/%u", i ? ", " : "", inet_ntop(AF_INET, &from[i].addr, a, sizeof(a)),
			    from[i].len);
		ADD(" } accept comment \"ipipd:%s\"\n", ifname);
		ADD("add rule inet " OWN_TABLE " %s oifname \"%s\" drop comment \"ipipd:%s\"\n", own,
		    ifname, ifname);
	}
	if (used >= len) {
		snprintf(err, errlen, "too many forward chains");
		return -1;
	}
	return 0;
}

int fw_cleanup(const char *ifname, char *err, size_t errlen)
{
	static struct ruleset rs;
	static char buf[32768];
	size_t used = 0, len = sizeof(buf);
	char own[64];

	if (list_ruleset(ifname, &rs, err, errlen) < 0)
		return -1;
	buf[0] = '\0';
	own_chain(ifname, own, sizeof(own));
	for (unsigned i = 0; i < rs.nrules; i++) {
		const struct rule_ref *r = &rs.rules[i];

		if (!strcmp(r->chain->family, "inet") && !strcmp(r->chain->table, OWN_TABLE) &&
		    !strcmp(r->chain->chain, own))
			continue;	/* goes with the chain */
		ADD("delete rule %s %s %s handle %lu\n", r->chain->family, r->chain->table,
		    r->chain->chain, r->handle);
	}
	if (rs.own_chain) {
		ADD("flush chain inet " OWN_TABLE " %s\n", own);
		ADD("delete chain inet " OWN_TABLE " %s\n", own);
		if (!rs.own_table_other_chains)
			ADD("delete table inet " OWN_TABLE "\n");
	}
	if (used >= len) {
		snprintf(err, errlen, "too many rules to remove");
		return -1;
	}
	return used ? fw_run(buf, err, errlen) : 0;
}

int fw_count(const char *ifname)
{
	static struct ruleset rs;
	char err[256];

	if (list_ruleset(ifname, &rs, err, sizeof(err)) < 0)
		return -1;
	return (int)rs.nrules;
}

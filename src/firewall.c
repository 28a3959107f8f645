/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "firewall.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OWN_TABLE "ipipd"
#define JSON_DEPTH 64

static struct nft_ctx *ctx_new(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx)
		return NULL;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	/* JSON out, and JSON in: nft_run_cmd_from_buffer() parses it first */
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE);
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

static int run(const char *cmds, char *err, size_t errlen)
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

void fw_own_chain(const char *ifname, char *buf, size_t len)
{
	bool plain = *ifname != '\0';
	size_t n;

	for (const char *p = ifname; *p; p++)
		plain = plain && (isalnum((unsigned char)*p) || *p == '_');
	n = (size_t)snprintf(buf, len, "%s%s", plain ? "fwd_" : "fwdx_", plain ? ifname : "");
	for (const char *p = ifname; !plain && *p && n + 3 <= len; p++)
		n += (size_t)snprintf(buf + n, len - n, "%02x", (unsigned char)*p);
}

/* ---- reading nft's JSON ------------------------------------------------- */

struct js {
	const char *p;
};

static void ws(struct js *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static bool eat(struct js *j, char c)
{
	ws(j);
	if (*j->p != c)
		return false;
	j->p++;
	return true;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 16 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0' :
					  tolower((unsigned char)s[i]) - 'a' + 10);
	}
	return 0;
}

/* Append one byte of a string value (out NULL: skipped); -1 when it does not fit. */
static int put(char *out, size_t cap, size_t *n, unsigned char c)
{
	if (!out)
		return 0;
	if (*n + 1 >= cap)
		return -1;
	out[(*n)++] = (char)c;
	return 0;
}

/* A \uXXXX escape (no surrogates) as UTF-8. */
static int put_u(char *out, size_t cap, size_t *n, unsigned v)
{
	if (v >= 0xd800 && v < 0xe000)
		return -1;
	if (v < 0x80)
		return put(out, cap, n, (unsigned char)v);
	if (v < 0x800)
		return put(out, cap, n, (unsigned char)(0xc0 | v >> 6)) ||
		       put(out, cap, n, (unsigned char)(0x80 | (v & 0x3f))) ? -1 : 0;
	return put(out, cap, n, (unsigned char)(0xe0 | v >> 12)) ||
	       put(out, cap, n, (unsigned char)(0x80 | ((v >> 6) & 0x3f))) ||
	       put(out, cap, n, (unsigned char)(0x80 | (v & 0x3f))) ? -1 : 0;
}

/* A string into out[cap] (NULL: skip it); -1 if it is none or does not fit. */
static int string(struct js *j, char *out, size_t cap)
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	size_t n = 0;

	if (!eat(j, '"'))
		return -1;
	for (;;) {
		unsigned char c = (unsigned char)*j->p++;
		const char *e;
		unsigned v;

		if (c == '"')
			break;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (put(out, cap, &n, c) < 0)
				return -1;
			continue;
		}
		c = (unsigned char)*j->p++;
		if (c == 'u') {
			if (hex4(j->p, &v) < 0 || put_u(out, cap, &n, v) < 0)
				return -1;
			j->p += 4;
		} else if (c && (e = strchr(esc, c))) {
			if (put(out, cap, &n, (unsigned char)val[e - esc]) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	if (out)
		out[n] = '\0';
	return 0;
}

static int skip(struct js *j, int depth);

/* The members of an object or the elements of an array, skipped. */
static int skip_items(struct js *j, char close, int depth)
{
	if (eat(j, close))
		return 0;
	do {
		if (close == '}' && (string(j, NULL, 0) < 0 || !eat(j, ':')))
			return -1;
		if (skip(j, depth + 1) < 0)
			return -1;
	} while (eat(j, ','));
	return eat(j, close) ? 0 : -1;
}

static int skip(struct js *j, int depth)
{
	ws(j);
	if (depth > JSON_DEPTH)
		return -1;
	if (*j->p == '"')
		return string(j, NULL, 0);
	if (eat(j, '{'))
		return skip_items(j, '}', depth);
	if (eat(j, '['))
		return skip_items(j, ']', depth);
	if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
		j->p += 4;
		return 0;
	}
	if (!strncmp(j->p, "false", 5)) {
		j->p += 5;
		return 0;
	}
	if (*j->p != '-' && !isdigit((unsigned char)*j->p))
		return -1;
	j->p += strspn(j->p, "+-0123456789.eE");
	return 0;
}

/*
 * A rule's expressions, skipped, noting the interface it matches on: FW_IIF
 * for {"meta": {"key": "iifname"}} anywhere in them, FW_OIF for oifname.
 */
static int scan_expr(struct js *j, int depth, bool meta, unsigned char *dir)
{
	char key[256], val[16];
	const char *at;

	ws(j);
	if (depth > JSON_DEPTH)
		return -1;
	if (eat(j, '[')) {
		if (eat(j, ']'))
			return 0;
		do {
			if (scan_expr(j, depth + 1, false, dir) < 0)
				return -1;
		} while (eat(j, ','));
		return eat(j, ']') ? 0 : -1;
	}
	if (!eat(j, '{'))
		return skip(j, depth);
	if (eat(j, '}'))
		return 0;
	do {
		if (string(j, key, sizeof(key)) < 0 || !eat(j, ':'))
			return -1;
		ws(j);
		at = j->p;
		if (meta && !strcmp(key, "key") && *j->p == '"') {
			if (string(j, val, sizeof(val)) == 0) {
				*dir |= !strcmp(val, "iifname") ? FW_IIF : !strcmp(val, "oifname") ? FW_OIF : 0;
				continue;
			}
			j->p = at;	/* longer than any key of ours */
		}
		if (scan_expr(j, depth + 1, !strcmp(key, "meta"), dir) < 0)
			return -1;
	} while (eat(j, ','));
	return eat(j, '}') ? 0 : -1;
}

/* The members of a table, chain or rule object that matter here. */
struct obj {
	char family[8], table[FW_NAME_MAX], chain[FW_NAME_MAX], name[FW_NAME_MAX];
	char type[16], hook[16], comment[FW_NAME_MAX];
	unsigned long handle;
	unsigned char dir;	/* a rule's: FW_IIF, FW_OIF */
};

static char *member(struct obj *o, const char *key, size_t *cap)
{
	static const struct { const char *key; size_t off, cap; } m[] = {
		{ "family", offsetof(struct obj, family), sizeof(((struct obj *)0)->family) },
		{ "table", offsetof(struct obj, table), FW_NAME_MAX },
		{ "chain", offsetof(struct obj, chain), FW_NAME_MAX },
		{ "name", offsetof(struct obj, name), FW_NAME_MAX },
		{ "type", offsetof(struct obj, type), sizeof(((struct obj *)0)->type) },
		{ "hook", offsetof(struct obj, hook), sizeof(((struct obj *)0)->hook) },
		{ "comment", offsetof(struct obj, comment), FW_NAME_MAX },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcmp(key, m[i].key)) {
			*cap = m[i].cap;
			return (char *)o + m[i].off;
		}
	return NULL;
}

static int object(struct js *j, struct obj *o)
{
	memset(o, 0, sizeof(*o));
	if (!eat(j, '{'))
		return -1;
	if (eat(j, '}'))
		return 0;
	do {
		char key[256], *dst, *end;
		size_t cap;

		if (string(j, key, sizeof(key)) < 0 || !eat(j, ':'))
			return -1;
		ws(j);
		dst = member(o, key, &cap);
		if (dst && *j->p == '"') {
			if (string(j, dst, cap) < 0)
				return -1;
		} else if (!strcmp(key, "handle") && isdigit((unsigned char)*j->p)) {
			o->handle = strtoul(j->p, &end, 10);
			j->p = end;
		} else if (!strcmp(key, "expr")) {
			if (scan_expr(j, 1, false, &o->dir) < 0)
				return -1;
		} else if (skip(j, 1) < 0) {
			return -1;
		}
	} while (eat(j, ','));
	return eat(j, '}') ? 0 : -1;
}

static int chain_index(struct fw_ruleset *rs, const char *family, const char *table,
		       const char *chain)
{
	struct fw_chain *c;

	for (unsigned i = 0; i < rs->nchains; i++) {
		c = &rs->chains[i];
		if (!strcmp(c->family, family) && !strcmp(c->table, table) && !strcmp(c->chain, chain))
			return (int)i;
	}
	if (rs->nchains == FW_MAX_CHAINS)
		return -1;
	c = &rs->chains[rs->nchains];
	memset(c, 0, sizeof(*c));
	snprintf(c->family, sizeof(c->family), "%s", family);
	snprintf(c->table, sizeof(c->table), "%s", table);
	snprintf(c->chain, sizeof(c->chain), "%s", chain);
	return (int)rs->nchains++;
}

static void take_chain(struct fw_ruleset *rs, const struct obj *o, const char *own)
{
	int i = chain_index(rs, o->family, o->table, o->name);

	if (i >= 0 && !strcmp(o->type, "filter") && !strcmp(o->hook, "forward"))
		rs->chains[i].forward = true;
	if (i >= 0 && !strcmp(o->type, "filter") && !strcmp(o->hook, "input"))
		rs->chains[i].input = true;
	if (strcmp(o->family, "inet") || strcmp(o->table, OWN_TABLE))
		return;
	if (!strcmp(o->name, own))
		rs->own_chain = true;
	else
		rs->own_table_other_chains = true;
}

static void take_rule(struct fw_ruleset *rs, const struct obj *o, const char *tag)
{
	int i;

	if (strcmp(o->comment, tag) || rs->nrules == FW_MAX_RULES)
		return;
	i = chain_index(rs, o->family, o->table, o->chain);
	if (i < 0)
		return;
	rs->rules[rs->nrules].chain = (unsigned)i;
	rs->rules[rs->nrules].dir = o->dir;
	rs->rules[rs->nrules++].handle = o->handle;
}

/* One element of the "nftables" array: {"KIND": {...}}. */
static int element(struct js *j, struct fw_ruleset *rs, const char *tag, const char *own)
{
	static struct obj o;
	char kind[16];

	if (!eat(j, '{') || string(j, kind, sizeof(kind)) < 0 || !eat(j, ':'))
		return -1;
	if (!strcmp(kind, "chain") || !strcmp(kind, "rule")) {
		if (object(j, &o) < 0)
			return -1;
		if (kind[0] == 'c')
			take_chain(rs, &o, own);
		else
			take_rule(rs, &o, tag);
	} else if (skip(j, 2) < 0) {
		return -1;
	}
	return eat(j, '}') ? 0 : -1;
}

int fw_parse_ruleset(const char *json, const char *ifname, struct fw_ruleset *rs)
{
	char key[16], tag[64], own[FW_OWN_CHAIN_MAX];
	struct js j = { json };

	memset(rs, 0, sizeof(*rs));
	snprintf(tag, sizeof(tag), "ipipd:%s", ifname);
	fw_own_chain(ifname, own, sizeof(own));
	if (!eat(&j, '{'))
		return -1;
	do {
		if (string(&j, key, sizeof(key)) < 0 || !eat(&j, ':'))
			return -1;
		if (strcmp(key, "nftables")) {
			if (skip(&j, 1) < 0)
				return -1;
			continue;
		}
		if (!eat(&j, '['))
			return -1;
		if (eat(&j, ']'))
			continue;
		do {
			if (element(&j, rs, tag, own) < 0)
				return -1;
		} while (eat(&j, ','));
		if (!eat(&j, ']'))
			return -1;
	} while (eat(&j, ','));
	return eat(&j, '}') ? 0 : -1;
}

static int list_ruleset(const char *ifname, struct fw_ruleset *rs, char *err, size_t errlen)
{
	struct nft_ctx *ctx = ctx_new();
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "libnftables: cannot create a context");
		return -1;
	}
	rc = nft_run_cmd_from_buffer(ctx, "list ruleset");
	if (rc)
		copy_err(ctx, err, errlen);
	else if (fw_parse_ruleset(nft_ctx_get_output_buffer(ctx), ifname, rs) < 0) {
		snprintf(err, errlen, "cannot read nft's JSON ruleset");
		rc = -1;
	}
	nft_ctx_free(ctx);
	return rc ? -1 : 0;
}

/* ---- writing commands ---------------------------------------------------- */

struct out {
	char *buf;
	size_t len, used;
	unsigned items;		/* commands so far */
};

static void add(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + (o->used < o->len ? o->used : o->len),
		      o->used < o->len ? o->len - o->used : 0, fmt, ap);
	va_end(ap);
	o->used += n > 0 ? (size_t)n : 0;
}

/* s as a JSON string. */
static void jstr(struct out *o, const char *s)
{
	add(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			add(o, "\\%c", c);
		else if (c < 0x20)
			add(o, "\\u%04x", c);
		else
			add(o, "%c", c);
	}
	add(o, "\"");
}

/* The next command of the list: {"VERB":{"OBJECT":{ */
static void jcmd(struct out *o, const char *verb, const char *object)
{
	add(o, "%s{\"%s\":{\"%s\":{", o->items++ ? "," : "", verb, object);
}

/* "family":F,"table":T,"KEY":C */
static void jchain(struct out *o, const char *family, const char *table, const char *chain,
		   const char *key)
{
	add(o, "\"family\":");
	jstr(o, family);
	add(o, ",\"table\":");
	jstr(o, table);
	add(o, ",\"%s\":", key);
	jstr(o, chain);
}

/* A rule tagged for the tunnel, up to its first expression: "expr":[ */
static void jrule_tagged(struct out *o, const char *verb, const struct fw_chain *c,
			 const char *ifname)
{
	char tag[64];

	snprintf(tag, sizeof(tag), "ipipd:%s", ifname);
	jcmd(o, verb, "rule");
	jchain(o, c->family, c->table, c->chain, "chain");
	add(o, ",\"comment\":");
	jstr(o, tag);
	add(o, ",\"expr\":[");
}

/*
 * A rule tagged for the tunnel that starts "DIR == IFNAME" (meta oifname or
 * iifname), up to the rest of its expressions, which the caller adds before
 * jrule_end().
 */
static void jrule(struct out *o, const char *verb, const struct fw_chain *c, const char *dir,
		  const char *ifname)
{
	jrule_tagged(o, verb, c, ifname);
	add(o, "{\"match\":{\"op\":\"==\",\"left\":{\"meta\":{\"key\":\"%s\"}},\"right\":", dir);
	jstr(o, ifname);
	add(o, "}}");
}

static void jrule_end(struct out *o, const char *verdict)
{
	add(o, ",{\"%s\":null}]}}}", verdict);
}

/*
 * ip saddr REMOTE ip daddr LOCAL ip protocol 4 accept (udp dport PORT with UDP
 * encapsulation), at the top of an input chain.
 */
static void jinput(struct out *o, const struct fw_plan *p, const struct fw_chain *c)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	jrule_tagged(o, "insert", c, p->ifname);
	if (!p->any_source)
		add(o, "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"ip\","
		    "\"field\":\"saddr\"}},\"right\":\"%s\"}},",
		    inet_ntop(AF_INET, &p->remote, a, sizeof(a)));
	add(o, "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"ip\","
	    "\"field\":\"daddr\"}},\"right\":\"%s\"}},"
	    "{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"%s\","
	    "\"field\":\"%s\"}},\"right\":%u}}",
	    inet_ntop(AF_INET, &p->local, b, sizeof(b)),
	    p->port ? "udp" : "ip", p->port ? "dport" : "protocol", p->port ? p->port : 4u);
	jrule_end(o, "accept");
}

static void jown_chain(struct out *o, const struct fw_plan *p)
{
	struct fw_chain own = { "inet", OWN_TABLE, "", false, false };
	char a[INET_ADDRSTRLEN];

	snprintf(own.chain, sizeof(own.chain), "%s", p->own);
	jcmd(o, "add", "table");
	add(o, "\"family\":\"inet\",\"name\":\"" OWN_TABLE "\"}}}");
	jcmd(o, "add", "chain");
	jchain(o, "inet", OWN_TABLE, p->own, "name");
	add(o, ",\"type\":\"filter\",\"hook\":\"forward\",\"prio\":-1,\"policy\":\"accept\"}}}");
	if (p->own_there) {	/* with some of its rules gone: all three again */
		jcmd(o, "flush", "chain");
		jchain(o, "inet", OWN_TABLE, p->own, "name");
		add(o, "}}}");
	}
	jrule(o, "add", &own, "oifname", p->ifname);
	add(o, ",{\"match\":{\"op\":\"in\",\"left\":{\"ct\":{\"key\":\"state\"}},"
	    "\"right\":[\"established\",\"related\"]}}");
	jrule_end(o, "accept");
	jrule(o, "add", &own, "oifname", p->ifname);
	add(o, ",{\"match\":{\"op\":\"==\",\"left\":{\"payload\":{\"protocol\":\"ip\","
	    "\"field\":\"saddr\"}},\"right\":{\"set\":[");
	for (unsigned i = 0; i < p->n_from; i++)
		add(o, "%s{\"prefix\":{\"addr\":\"%s\",\"len\":%u}}", i ? "," : "",
		    inet_ntop(AF_INET, &p->from[i].addr, a, sizeof(a)), p->from[i].len);
	add(o, "]}}}");
	jrule_end(o, "accept");
	jrule(o, "add", &own, "oifname", p->ifname);
	jrule_end(o, "drop");
}

void fw_plan_ruleset(const struct fw_ruleset *rs, const struct config *c, struct fw_plan *p)
{
	unsigned own_rules = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->ifname, sizeof(p->ifname), "%s", c->name);
	fw_own_chain(c->name, p->own, sizeof(p->own));
	p->local = c->ip.local;
	p->remote = c->ip.remote;
	p->port = c->ip.encap == ENCAP_IPIP ? 0 : c->ip.port;
	p->any_source = c->ip.learn_port || c->ip.remote_any;	/* Remote = any: ipipd checks AllowedRemotes itself, and counts */
	for (unsigned i = 0; i < rs->nchains; i++) {
		const struct fw_chain *ch = &rs->chains[i];

		if (!((ch->forward && c->fw_forward) || (ch->input && c->fw_input)) ||
		    (strcmp(ch->family, "ip") && strcmp(ch->family, "inet")) ||
		    (!strcmp(ch->family, "inet") && !strcmp(ch->table, OWN_TABLE)))
			continue;
		for (unsigned r = 0; r < rs->nrules; r++)
			if (rs->rules[r].chain == i)
				p->have[p->n_chains] |= ch->input ? FW_IN : rs->rules[r].dir & FW_BOTH;
		p->chains[p->n_chains++] = *ch;
	}
	for (unsigned r = 0; r < rs->nrules; r++) {
		const struct fw_chain *ch = &rs->chains[rs->rules[r].chain];

		own_rules += !strcmp(ch->family, "inet") && !strcmp(ch->table, OWN_TABLE) &&
			     !strcmp(ch->chain, p->own);
	}
	p->from = c->forward_from;
	p->n_from = c->n_forward_from;
	p->own_there = rs->own_chain;
	p->own_whole = rs->own_chain && own_rules == 3;
}

int fw_plan(const struct config *c, struct fw_plan *p, char *err, size_t errlen)
{
	static struct fw_ruleset rs;

	memset(p, 0, sizeof(*p));
	if (list_ruleset(c->name, &rs, err, errlen) < 0)
		return -1;
	fw_plan_ruleset(&rs, c, p);
	return 0;
}

unsigned fw_plan_missing(const struct fw_plan *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n_chains; i++)
		n += p->chains[i].input ? !(p->have[i] & FW_IN) :
		     !(p->have[i] & FW_IIF) + !(p->have[i] & FW_OIF);
	return n + (p->n_from && !p->own_whole ? 3 : 0);
}

int fw_apply(const struct fw_plan *p, char *err, size_t errlen)
{
	static char buf[262144];
	struct out o = { buf, sizeof(buf), 0, 0 };

	add(&o, "{\"nftables\":[");
	for (unsigned i = 0; i < p->n_chains; i++) {
		if (p->chains[i].input) {
			if (!(p->have[i] & FW_IN))
				jinput(&o, p, &p->chains[i]);
			continue;
		}
		/* insert puts a rule first: oifname ends up second, iifname first */
		if (!(p->have[i] & FW_OIF)) {
			jrule(&o, "insert", &p->chains[i], "oifname", p->ifname);
			jrule_end(&o, "accept");
		}
		if (!(p->have[i] & FW_IIF)) {
			jrule(&o, "insert", &p->chains[i], "iifname", p->ifname);
			jrule_end(&o, "accept");
		}
	}
	if (p->n_from && !p->own_whole)
		jown_chain(&o, p);
	add(&o, "]}");
	if (o.used >= o.len) {
		snprintf(err, errlen, "too many forward chains");
		return -1;
	}
	return o.items ? run(buf, err, errlen) : 0;
}

/* A name as nft's text form wants it: quoted unless it is a plain identifier. */
static void tname(struct out *o, const char *s)
{
	size_t plain = isalpha((unsigned char)*s) ?
		       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789_./\\-") : 0;

	add(o, plain == strlen(s) ? "%s" : "\"%s\"", s);
}

int fw_plan_text(const struct fw_plan *p, char *buf, size_t len)
{
	struct out o = { buf, len, 0, 0 };
	char a[INET_ADDRSTRLEN];

	buf[0] = '\0';
	for (unsigned i = 0; i < p->n_chains; i++) {
		if (p->chains[i].input) {
			add(&o, "insert rule %s ", p->chains[i].family);
			tname(&o, p->chains[i].table);
			add(&o, " ");
			tname(&o, p->chains[i].chain);
			if (!p->any_source)
				add(&o, " ip saddr %s", inet_ntop(AF_INET, &p->remote, a, sizeof(a)));
			add(&o, " ip daddr %s", inet_ntop(AF_INET, &p->local, a, sizeof(a)));
			if (p->port)
				add(&o, " udp dport %u", p->port);
			else
				add(&o, " ip protocol 4");
			add(&o, " accept comment \"ipipd:%s\"\n", p->ifname);
			continue;
		}
		for (int k = 0; k < 2; k++) {
			add(&o, "insert rule %s ", p->chains[i].family);
			tname(&o, p->chains[i].table);
			add(&o, " ");
			tname(&o, p->chains[i].chain);
			add(&o, " %s \"%s\" accept comment \"ipipd:%s\"\n", k ? "iifname" : "oifname",
			    p->ifname, p->ifname);
		}
	}
	if (p->n_from) {
		add(&o, "add table inet " OWN_TABLE "\n");
		add(&o, "add chain inet " OWN_TABLE " %s { type filter hook forward priority "
		    "filter - 1; policy accept; }\n", p->own);
		add(&o, "add rule inet " OWN_TABLE " %s oifname \"%s\" ct state established,related "
		    "accept comment \"ipipd:%s\"\n", p->own, p->ifname, p->ifname);
		add(&o, "add rule inet " OWN_TABLE " %s oifname \"%s\" ip saddr { ", p->own, p->ifname);
		for (unsigned i = 0; i < p->n_from; i++)
			add(&o, "%s%s/%u", i ? ", " : "",
			    inet_ntop(AF_INET, &p->from[i].addr, a, sizeof(a)), p->from[i].len);
		add(&o, " } accept comment \"ipipd:%s\"\n", p->ifname);
		add(&o, "add rule inet " OWN_TABLE " %s oifname \"%s\" drop comment \"ipipd:%s\"\n",
		    p->own, p->ifname, p->ifname);
	}
	return o.used < len ? 0 : -1;
}

int fw_cleanup(const char *ifname, char *err, size_t errlen)
{
	static struct fw_ruleset rs;
	static char buf[262144];
	struct out o = { buf, sizeof(buf), 0, 0 };
	char own[FW_OWN_CHAIN_MAX];

	if (list_ruleset(ifname, &rs, err, errlen) < 0)
		return -1;
	fw_own_chain(ifname, own, sizeof(own));
	add(&o, "{\"nftables\":[");
	for (unsigned i = 0; i < rs.nrules; i++) {
		const struct fw_chain *c = &rs.chains[rs.rules[i].chain];

		if (!strcmp(c->family, "inet") && !strcmp(c->table, OWN_TABLE) && !strcmp(c->chain, own))
			continue;	/* goes with the chain */
		jcmd(&o, "delete", "rule");
		jchain(&o, c->family, c->table, c->chain, "chain");
		add(&o, ",\"handle\":%lu}}}", rs.rules[i].handle);
	}
	for (int k = 0; rs.own_chain && k < 2; k++) {
		jcmd(&o, k ? "delete" : "flush", "chain");
		jchain(&o, "inet", OWN_TABLE, own, "name");
		add(&o, "}}}");
	}
	if (rs.own_chain && !rs.own_table_other_chains) {
		jcmd(&o, "delete", "table");
		add(&o, "\"family\":\"inet\",\"name\":\"" OWN_TABLE "\"}}}");
	}
	add(&o, "]}");
	if (o.used >= o.len) {
		snprintf(err, errlen, "too many rules to remove");
		return -1;
	}
	return o.items ? run(buf, err, errlen) : 0;
}

int fw_count(const char *ifname)
{
	static struct fw_ruleset rs;
	char err[256];

	if (list_ruleset(ifname, &rs, err, sizeof(err)) < 0)
		return -1;
	return (int)rs.nrules;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "journal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_TOKENS (4 + JR_HOLDERS_MAX)

typedef int parse_fn(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		     char *why, size_t n);

static parse_fn p_netns, p_rmdir, p_rtfile, p_rule, p_sysctl, p_link, p_tcfilter, p_nft, p_hold;

/*
 * The kinds of lines: what each records, how it is undone (host.c,
 * ledger.c), and its shape.  Every line is written before the change it
 * records is made, so that a crash in between leaves nothing untracked.
 */
static const struct kind {
	const char *word;
	unsigned where;		/* enum jr_file bits */
	unsigned min_args, max_args;
	parse_fn *parse;
} kinds[JR_KINDS] = {
	/* netns INODE COOKIE: the network namespace the file belongs to (its
	 * first line; cookie 0 where the kernel has none).  A file of another
	 * namespace (the inode can be reused) is refused whole. */
	[JR_NETNS] = { "netns", JR_STATE | JR_LEDGER, 2, 2, p_netns },
	/* rmdir DIR: ipipd created /etc/iproute2/rt_tables.d; removed if empty.
	 * Only that directory. */
	[JR_RMDIR] = { "rmdir", JR_STATE, 1, 1, p_rmdir },
	/* rtfile PATH: the table-name file; deleted.  Only the path ipipd
	 * derives for this tunnel in this namespace. */
	[JR_RTFILE] = { "rtfile", JR_STATE, 1, 1, p_rtfile },
	/* rule ADDRESS LENGTH TABLE PRIORITY: a policy rule "from
	 * ADDRESS/LENGTH table TABLE", added with that priority (the
	 * configured one or the one the kernel would have given it); deleted
	 * by all four.  TABLE 1-4294967295 but 253-255, PRIORITY >= 1. */
	[JR_RULE] = { "rule", JR_STATE, 4, 4, p_rule },
	/* sysctl PATH: this tunnel holds the setting in the namespace's ledger
	 * (hold below); undone by releasing the hold.  PATH under
	 * /proc/sys/net/ipv4/, components of [A-Za-z0-9._-]. */
	[JR_SYSCTL] = { "sysctl", JR_STATE, 1, 1, p_sysctl },
	/* link IFINDEX NAME KIND: the tunnel's device, created with that
	 * index; deleted only while the device of that index still has that
	 * name and kind ("ipip": the kernel's device, "tun": a TUN device).
	 * NAME: the tunnel's. */
	[JR_LINK] = { "link", JR_STATE, 3, 3, p_link },
	/* tcfilter IFINDEX DEVICE HANDLE PRIORITY: the fast path's clsact
	 * filter on the underlay's ingress; deleted only on the device of that
	 * index and name.  HANDLE and PRIORITY: the tunnel's own. */
	[JR_TCFILTER] = { "tcfilter", JR_STATE, 4, 4, p_tcfilter },
	/* nft NAME: rules tagged "ipipd:NAME" and the tunnel's own chain;
	 * deleted.  NAME: the tunnel's. */
	[JR_NFT] = { "nft", JR_STATE, 1, 1, p_nft },
	/* hold PATH ORIGINAL VALUE HOLDER...: (the ledger) a shared sysctl, the
	 * value it had before the first holder, the value the holders set;
	 * the last holder to go writes ORIGINAL back.  Values: digits. */
	[JR_HOLD] = { "hold", JR_LEDGER, 4, 3 + JR_HOLDERS_MAX, p_hold },
};

const char *jr_kind_name(enum jr_kind k)
{
	return k < JR_KINDS ? kinds[k].word : "?";
}

static int bad(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* A decimal number without sign, spaces or leading zeros, at most max. */
static int number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || (s[0] == '0' && s[1]))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *v > max ? -1 : 0;
}

static int u32_arg(const char *s, unsigned *v)
{
	unsigned long long u;

	if (number(s, UINT32_MAX, &u) < 0)
		return -1;
	*v = (unsigned)u;
	return 0;
}

static int ifindex_arg(const char *s, int *v)
{
	unsigned long long u;

	if (number(s, INT_MAX, &u) < 0 || u == 0)
		return -1;
	*v = (int)u;
	return 0;
}

static int copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

int jr_sysctl_path_ok(const char *path)
{
	const char *p = path + strlen(JR_SYSCTL_BASE);

	if (strncmp(path, JR_SYSCTL_BASE, strlen(JR_SYSCTL_BASE)) || strlen(path) >= JR_PATH_MAX)
		return 0;
	for (;;) {
		size_t len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789._-");

		if (!len || (len == 1 && p[0] == '.') || (len == 2 && !strncmp(p, "..", 2)))
			return 0;
		if (!p[len])
			return 1;
		if (p[len] != '/')
			return 0;
		p += len + 1;
	}
}

int jr_value_ok(const char *v)
{
	size_t len = strlen(v);

	return len && len < JR_VALUE_MAX && strspn(v, "0123456789") == len;
}

static int p_netns(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		   char *why, size_t n)
{
	if (number(tok[0], ULLONG_MAX, &e->inode) < 0 || number(tok[1], ULLONG_MAX, &e->cookie) < 0)
		return bad(why, n, "not an inode and a cookie");
	if (e->inode != x->inode || e->cookie != x->cookie) {
		snprintf(why, n, "written in another network namespace (inode %llu, cookie %llu; "
			 "this one is inode %llu, cookie %llu)", e->inode, e->cookie, x->inode,
			 x->cookie);
		return -EXDEV;
	}
	return 0;
}

static int p_rmdir(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		   char *why, size_t n)
{
	if (strcmp(tok[0], JR_RT_TABLES_D))
		return bad(why, n, "only %s is ever created", JR_RT_TABLES_D);
	return copy(e->path, sizeof(e->path), tok[0]);
}

static int p_rtfile(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		    char *why, size_t n)
{
	if (!x->rtfile || strcmp(tok[0], x->rtfile))
		return bad(why, n, "not this tunnel's table-name file (%s)",
			   x->rtfile ? x->rtfile : "none");
	return copy(e->path, sizeof(e->path), tok[0]);
}

static int p_rule(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		  char *why, size_t n)
{
	struct in_addr a;

	if (inet_pton(AF_INET, tok[0], &a) != 1)
		return bad(why, n, "'%s' is not an IPv4 address", tok[0]);
	e->addr = a.s_addr;
	if (u32_arg(tok[1], &e->len) < 0 || e->len > 32)
		return bad(why, n, "'%s' is not a prefix length", tok[1]);
	if (u32_arg(tok[2], &e->table) < 0 || e->table == 0 || (e->table >= 253 && e->table <= 255))
		return bad(why, n, "'%s' is not a table ipipd uses", tok[2]);
	if (u32_arg(tok[3], &e->prio) < 0 || e->prio == 0)
		return bad(why, n, "'%s' is not a rule priority (1-4294967295)", tok[3]);
	return 0;
}

static int p_sysctl(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		    char *why, size_t n)
{
	if (!jr_sysctl_path_ok(tok[0]))
		return bad(why, n, "'%s' is not a sysctl under " JR_SYSCTL_BASE, tok[0]);
	return copy(e->path, sizeof(e->path), tok[0]);
}

static int own_name(const char *s, const struct jr_expect *x, struct jr_entry *e, char *why,
		    size_t n)
{
	if (!x->name || strcmp(s, x->name))
		return bad(why, n, "'%s' is not this tunnel's name", s);
	return copy(e->name, sizeof(e->name), s);
}

static int p_link(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		  char *why, size_t n)
{
	if (ifindex_arg(tok[0], &e->ifindex) < 0)
		return bad(why, n, "'%s' is not an interface index", tok[0]);
	if (own_name(tok[1], x, e, why, n) < 0)
		return -EBADMSG;
	if (strcmp(tok[2], "ipip") && strcmp(tok[2], "tun"))
		return bad(why, n, "'%s' is not a kind of device ipipd creates", tok[2]);
	return copy(e->link_kind, sizeof(e->link_kind), tok[2]);
}

static int p_tcfilter(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		      char *why, size_t n)
{
	if (ifindex_arg(tok[0], &e->ifindex) < 0)
		return bad(why, n, "'%s' is not an interface index", tok[0]);
	if ((strcmp(tok[1], "-") && !config_valid_ifname(tok[1])) ||
	    copy(e->name, sizeof(e->name), tok[1]) < 0)
		return bad(why, n, "'%s' is not an interface name", tok[1]);
	if (u32_arg(tok[2], &e->handle) < 0 || e->handle != x->tc_handle)
		return bad(why, n, "'%s' is not this tunnel's filter handle", tok[2]);
	if (u32_arg(tok[3], &e->prio) < 0 || e->prio != x->tc_prio)
		return bad(why, n, "'%s' is not the fast path's filter priority", tok[3]);
	return 0;
}

static int p_nft(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		 char *why, size_t n)
{
	return own_name(tok[0], x, e, why, n);
}

static int p_hold(char **tok, unsigned ntok, const struct jr_expect *x, struct jr_entry *e,
		  char *why, size_t n)
{
	if (!jr_sysctl_path_ok(tok[0]) || copy(e->path, sizeof(e->path), tok[0]) < 0)
		return bad(why, n, "'%s' is not a sysctl under " JR_SYSCTL_BASE, tok[0]);
	if (!jr_value_ok(tok[1]) || !jr_value_ok(tok[2]))
		return bad(why, n, "values are digits");
	strcpy(e->orig, tok[1]);
	strcpy(e->value, tok[2]);
	for (unsigned i = 3; i < ntok; i++) {
		if (!config_valid_ifname(tok[i]))
			return bad(why, n, "'%s' is not a tunnel name", tok[i]);
		for (unsigned j = 0; j < e->n_holders; j++)
			if (!strcmp(e->holders[j], tok[i]))
				return bad(why, n, "'%s' holds it twice", tok[i]);
		strcpy(e->holders[e->n_holders++], tok[i]);
	}
	return 0;
}

/* Split at single spaces: -1 on an empty token (leading, trailing or double space). */
static int split(char *s, char **tok, unsigned max, unsigned *ntok)
{
	*ntok = 0;
	for (;;) {
		char *sp = strchr(s, ' ');

		if (*ntok == max || s == sp || !*s)
			return -1;
		tok[(*ntok)++] = s;
		if (!sp)
			return 0;
		*sp = '\0';
		s = sp + 1;
	}
}

static int find_kind(const char *word, enum jr_file where)
{
	for (int k = 0; k < JR_KINDS; k++)
		if (!strcmp(kinds[k].word, word) && (kinds[k].where & where))
			return k;
	return -1;
}

int jr_parse(const char *line, enum jr_file where, const struct jr_expect *x,
	     struct jr_entry *e, char *why, size_t n)
{
	char buf[JR_LINE_MAX], again[JR_LINE_MAX], *tok[MAX_TOKENS + 1];
	const struct kind *k;
	unsigned ntok;
	int kind, rc;

	memset(e, 0, sizeof(*e));
	if (copy(buf, sizeof(buf), line) < 0)
		return bad(why, n, "line too long");
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x21 && *p != ' ')
			return bad(why, n, "control character or tab");
	if (split(buf, tok, MAX_TOKENS + 1, &ntok) < 0)
		return bad(why, n, "not words separated by single spaces");
	kind = find_kind(tok[0], where);
	if (kind < 0)
		return bad(why, n, "'%s' is not a kind of entry ipipd writes here", tok[0]);
	k = &kinds[kind];
	if (ntok - 1 < k->min_args || ntok - 1 > k->max_args)
		return bad(why, n, "wrong number of fields for '%s'", k->word);
	e->kind = (enum jr_kind)kind;
	rc = k->parse(tok + 1, ntok - 1, x, e, why, n);
	if (rc < 0)
		return rc;
	/* the one shape ipipd writes: no other spelling of the same values */
	if (jr_format(e, again, sizeof(again)) < 0 || strcmp(again, line))
		return bad(why, n, "not written as ipipd writes it ('%s')", again);
	return 0;
}

int jr_netns_gone(const char *line, const struct jr_expect *x, unsigned long long *cookie)
{
	struct jr_expect any = *x;
	struct jr_entry e;
	char why[256];
	unsigned long long c;
	char more;

	if (!x->cookie || sscanf(line, "netns %*u %llu%c", &c, &more) != 1 || !c || c == x->cookie)
		return 0;
	any.cookie = c;	/* the rest exactly as ipipd writes it */
	if (jr_parse(line, JR_STATE, &any, &e, why, sizeof(why)) < 0 || e.kind != JR_NETNS)
		return 0;
	*cookie = c;
	return 1;
}

int jr_format(const struct jr_entry *e, char *buf, size_t n)
{
	char a[INET_ADDRSTRLEN];
	size_t used;
	int len;

	switch (e->kind) {
	case JR_NETNS:
		len = snprintf(buf, n, "netns %llu %llu", e->inode, e->cookie);
		break;
	case JR_RMDIR:
	case JR_RTFILE:
	case JR_SYSCTL:
		len = snprintf(buf, n, "%s %s", kinds[e->kind].word, e->path);
		break;
	case JR_RULE:
		len = snprintf(buf, n, "rule %s %u %u %u", inet_ntop(AF_INET, &e->addr, a, sizeof(a)),
			       e->len, e->table, e->prio);
		break;
	case JR_LINK:
		len = snprintf(buf, n, "link %d %s %s", e->ifindex, e->name, e->link_kind);
		break;
	case JR_TCFILTER:
		len = snprintf(buf, n, "tcfilter %d %s %u %u", e->ifindex, e->name, e->handle,
			       e->prio);
		break;
	case JR_NFT:
		len = snprintf(buf, n, "nft %s", e->name);
		break;
	case JR_HOLD:
		len = snprintf(buf, n, "hold %s %s %s", e->path, e->orig, e->value);
		for (unsigned i = 0; i < e->n_holders && len >= 0 && (size_t)len < n; i++) {
			used = (size_t)len;
			len += snprintf(buf + used, n - used, " %s", e->holders[i]);
		}
		break;
	default:
		return -EINVAL;
	}
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

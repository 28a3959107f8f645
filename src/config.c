/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/rtnetlink.h>

struct parser;
typedef int (*key_fn)(struct parser *ps, const char *val);

struct key {
	const char *section;
	const char *name;
	key_fn parse;
	bool required;
};

#define MAX_KEYS 48

struct parser {
	struct config *c;
	const char *path;
	FILE *err;
	int errors;
	/* the line reader's position: inih calls it once per physical line */
	const char *text;
	FILE *file;
	unsigned line;
	unsigned wrapped_line;	/* the first indented line without '=' or ':' (0: none) */
	unsigned section_line[6];
	unsigned key_line[MAX_KEYS];
	unsigned route_key_line[MAX_KEYS];	/* the keys of the [Route] section at hand */
	bool route_over;	/* ... which is one too many (reported) */
	bool name_set;
};

static void perr(struct parser *ps, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;

	fprintf(ps->err, "%s:%u: ", ps->path, line);
	va_start(ap, fmt);
	vfprintf(ps->err, fmt, ap);
	va_end(ap);
	fputc('\n', ps->err);
	ps->errors++;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 0);
	if (errno || *end || *out < min || *out > max)
		return -1;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -1;
}

static int parse_unicast(const char *s, struct in_addr *a)
{
	uint32_t h;

	if (inet_pton(AF_INET, s, a) != 1)
		return -1;
	h = ntohl(a->s_addr);
	if (h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
		return -1;
	return 0;
}

const char *config_kernel_gap(const struct config *c, unsigned *line)
{
	if (c->ip.n_allowed) {
		*line = c->line.allowed_sources;
		return "AllowedSources";
	}
	if (c->ip.allow_source_route) {
		*line = c->line.allow_source_route;
		return "AllowSourceRoute = yes";
	}
	if (!c->ip.ecn_log) {
		*line = c->line.log_ecn;
		return "LogUnusualECN = no";
	}
	if (c->keepalive) {
		*line = c->line.keepalive;
		return "Keepalive";
	}
	return NULL;
}

bool config_valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

#define LINE (ps->line)

static int k_name(struct parser *ps, const char *v)
{
	if (strlen(v) >= IFNAMSIZ) {
		perr(ps, LINE, "Name: '%s' is %zu bytes long: interface names are at most %d bytes",
		     v, strlen(v), IFNAMSIZ - 1);
		return -1;
	}
	if (!config_valid_ifname(v)) {
		perr(ps, LINE, "Name: '%s' is not a valid interface name (1-15 characters, no '/', ':' or spaces)", v);
		return -1;
	}
	strcpy(ps->c->name, v);
	ps->name_set = true;
	return 0;
}

static int k_local(struct parser *ps, const char *v)
{
	struct in_addr a;

	if (!strcmp(v, "auto")) {	/* the route to Remote's source address, followed */
		ps->c->local_auto = true;
		ps->c->ip.local = 0;
		return 0;
	}
	if (parse_unicast(v, &a) < 0) {
		perr(ps, LINE, "Local: '%s' is not a unicast IPv4 address, or auto", v);
		return -1;
	}
	ps->c->local_auto = false;
	ps->c->ip.local = a.s_addr;
	return 0;
}

static int k_remote(struct parser *ps, const char *v)
{
	struct in_addr a;

	ps->c->ip.remote_any = !strcmp(v, "any");
	if (ps->c->ip.remote_any) {
		ps->c->remote_name[0] = '\0';
		ps->c->ip.remote = 0;	/* each route's gateway (hub.h) */
		return 0;
	}
	if (parse_unicast(v, &a) == 0) {
		ps->c->remote_name[0] = '\0';
		ps->c->ip.remote = a.s_addr;
		return 0;
	}
	if (!endpoint_valid_name(v)) {
		perr(ps, LINE, "Remote: '%s' is not a unicast IPv4 address or a host name", v);
		return -1;
	}
	snprintf(ps->c->remote_name, sizeof(ps->c->remote_name), "%s", v);	/* (fits: checked) */
	ps->c->ip.remote = 0;	/* looked up when the tunnel starts, and again */
	return 0;
}

static int k_resolve_interval(struct parser *ps, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 1, CONFIG_RESOLVE_MAX, &n) < 0) {
		perr(ps, LINE, "ResolveInterval: '%s' is not a number of seconds from 1 to %u", v,
		     CONFIG_RESOLVE_MAX);
		return -1;
	}
	ps->c->resolve_interval = (unsigned)n;
	return 0;
}

static int k_ttl(struct parser *ps, const char *v)
{
	unsigned long n;

	if (!strcasecmp(v, "inherit"))
		return ps->c->ip.ttl = 0, 0;
	if (parse_uint(v, 1, 255, &n) < 0) {
		perr(ps, LINE, "TTL: '%s' is neither 'inherit' nor a number from 1 to 255", v);
		return -1;
	}
	ps->c->ip.ttl = (uint8_t)n;
	return 0;
}

static int k_tos(struct parser *ps, const char *v)
{
	unsigned long n;

	if (!strcasecmp(v, "inherit"))
		return ps->c->ip.tos_inherit = true, 0;
	if (parse_uint(v, 0, 255, &n) < 0) {
		perr(ps, LINE, "TOS: '%s' is neither 'inherit' nor a number from 0 to 255", v);
		return -1;
	}
	ps->c->ip.tos_inherit = false;
	ps->c->tos_given = (uint8_t)n;
	ps->c->ip.tos = (uint8_t)(n & ~3ul);
	return 0;
}

static int k_pmtud(struct parser *ps, const char *v)
{
	if (parse_bool(v, &ps->c->ip.pmtudisc) < 0) {
		perr(ps, LINE, "DiscoverPathMTU: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int k_mtu(struct parser *ps, const char *v)
{
	unsigned long n;

	if (parse_uint(v, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &n) < 0) {
		perr(ps, LINE, "MTU: '%s' is not a number from %u to %u", v, CONFIG_MTU_MIN,
		     CONFIG_MTU_MAX);
		return -1;
	}
	ps->c->mtu = (unsigned)n;
	return 0;
}

static int k_nice(struct parser *ps, const char *v)
{
	unsigned long n;
	bool neg = v[0] == '-';

	if (parse_uint(v + neg, 0, neg ? 20 : 19, &n) < 0) {
		perr(ps, LINE, "Nice: '%s' is not a number from -20 to 19", v);
		return -1;
	}
	ps->c->nice = neg ? -(int)n : (int)n;
	ps->c->line.nice = LINE;
	return 0;
}

/*
 * One of the words of a keyword's list (NULL-terminated, in the order of its
 * enum), case-insensitive: its index, or -1 after "KEY: 'v' is not ..." with
 * the list in the error's own order, `expect`.
 */
static int k_word(struct parser *ps, const char *key, const char *v, const char *const *words,
		  const char *expect)
{
	for (int i = 0; words[i]; i++)
		if (!strcasecmp(v, words[i]))
			return i;
	perr(ps, LINE, "%s: '%s' is not %s", key, v, expect);
	return -1;
}

static int k_ecn(struct parser *ps, const char *v)
{
	static const char *const w[] = { "normal", "compatibility", "kernel", NULL };
	int i = k_word(ps, "ECN", v, w, "normal, compatibility or kernel");

	if (i < 0)
		return -1;
	ps->c->ip.ecn = (enum ecn_mode)i;	/* ECN_MODE_NORMAL, _COMPAT, _KERNEL */
	return 0;
}

static int k_dscp(struct parser *ps, const char *v)
{
	static const char *const w[] = { "pipe", "uniform", NULL };
	int i = k_word(ps, "DSCP", v, w, "pipe or uniform");

	if (i < 0)
		return -1;
	ps->c->ip.dscp_uniform = i == 1;
	return 0;
}

static int k_fp_attach(struct parser *ps, const char *v)
{
	static const char *const w[] = { "auto", "tcx", "clsact", NULL };	/* enum order */
	int i = k_word(ps, "FastPathAttach", v, w, "auto, tcx or clsact");

	if (i < 0)
		return -1;
	ps->c->fp_attach = (enum fp_attach_mode)i;
	ps->c->line.fp_attach = LINE;
	return 0;
}

static int k_keepalive(struct parser *ps, const char *v)
{
	unsigned long n;

	if (!strcmp(v, "off") || !strcmp(v, "no")) {
		ps->c->keepalive = 0;
		return 0;
	}
	if (parse_uint(v, 1, CONFIG_KEEPALIVE_MAX, &n) < 0) {
		perr(ps, LINE, "Keepalive: '%s' is not a number of seconds from 1 to %u, or off", v,
		     CONFIG_KEEPALIVE_MAX);
		return -1;
	}
	ps->c->keepalive = (unsigned)n;
	return 0;
}

static int k_keepalive_misses(struct parser *ps, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 1, 100, &n) < 0) {
		perr(ps, LINE, "KeepaliveMisses: '%s' is not a number from 1 to 100", v);
		return -1;
	}
	ps->c->keepalive_misses = (unsigned)n;
	return 0;
}

static int k_underlay_output(struct parser *ps, const char *v)
{
	static const char *const w[] = { "auto", "kernel", NULL };	/* enum order */
	int i = k_word(ps, "UnderlayOutput", v, w, "auto or kernel");

	if (i < 0)
		return -1;
	ps->c->underlay_output = (enum underlay_output)i;
	ps->c->line.underlay_output = LINE;
	return 0;
}

static int k_datapath(struct parser *ps, const char *v)
{
	static const char *const w[] = { "auto", "userspace", "kernel", "ebpf", NULL };	/* enum order */
	int i = k_word(ps, "Datapath", v, w, "auto, ebpf, userspace or kernel");

	if (i < 0)
		return -1;
	ps->c->datapath = (enum dp_mode)i;
	ps->c->line.datapath = LINE;
	return 0;
}

static int k_encapsulation(struct parser *ps, const char *v)
{
	static const char *const w[] = { "ipip", "fou", "gue", NULL };	/* enum order */
	int i = k_word(ps, "Encapsulation", v, w, "ipip, fou or gue");

	if (i < 0)
		return -1;
	ps->c->ip.encap = (enum encap)i;
	return 0;
}

/* A UDP port, 1-65535, into *port; or_word: what else the key takes, for the message. */
static int port_value(struct parser *ps, const char *key, const char *v, uint16_t *port,
		      const char *or_word)
{
	unsigned long n;

	if (parse_uint(v, 1, 65535, &n) < 0) {
		perr(ps, LINE, "%s: '%s' is not a UDP port (1-65535)%s", key, v, or_word);
		return -1;
	}
	*port = (uint16_t)n;
	return 0;
}

static int k_port(struct parser *ps, const char *v)
{
	return port_value(ps, "Port", v, &ps->c->ip.port, "");
}

static int k_remote_port(struct parser *ps, const char *v)
{
	ps->c->ip.learn_port = !strcmp(v, "learn");
	if (ps->c->ip.learn_port)
		return 0;
	return port_value(ps, "RemotePort", v, &ps->c->ip.remote_port,
			  " or learn (the source port of the far end's packets)");
}

static int k_source_port(struct parser *ps, const char *v)
{
	if (!strcmp(v, "auto")) {
		ps->c->ip.sport = 0;
		return 0;
	}
	return port_value(ps, "SourcePort", v, &ps->c->ip.sport,
			  " or auto (a hash of each inner flow, as the kernel's encap-sport auto)");
}

static int k_udp_checksum(struct parser *ps, const char *v)
{
	if (parse_bool(v, &ps->c->ip.udp_csum) < 0) {
		perr(ps, LINE, "UDPChecksum: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

/* ADDRESS[/PREFIXLENGTH]: without a length, /32, as `ip address add` takes it. */
static int k_address(struct parser *ps, const char *v)
{
	char buf[32];
	const char *slash = strchr(v, '/');
	unsigned long len = 32;
	size_t n;

	n = slash ? (size_t)(slash - v) : strlen(v);
	if (n >= sizeof(buf) || (slash && parse_uint(slash + 1, 0, 32, &len) < 0))
		goto bad;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (parse_unicast(buf, &ps->c->addr) < 0)
		goto bad;
	ps->c->prefixlen = (unsigned)len;
	ps->c->line.address = LINE;
	return 0;
bad:
	perr(ps, LINE, "Address: '%s' is not ADDRESS or ADDRESS/PREFIXLENGTH (for example "
	     "203.0.113.5/32)", v);
	return -1;
}

static int k_peer(struct parser *ps, const char *v)
{
	if (parse_unicast(v, &ps->c->peer) < 0) {
		perr(ps, LINE, "Peer: '%s' is not a unicast IPv4 address", v);
		return -1;
	}
	ps->c->has_peer = true;
	return 0;
}

/* A list: words separated by white space or commas; calls fn for each. */
static int each_word(struct parser *ps, const char *v, const char *key,
		     int (*fn)(struct parser *ps, const char *key, const char *word))
{
	char buf[1024], *save = NULL, *w;
	int rc = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	for (w = strtok_r(buf, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save))
		if (fn(ps, key, w) < 0)
			rc = -1;
	return rc;
}

static int parse_prefix(const char *s, struct prefix *p)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	unsigned long len = 32;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a;
	uint32_t mask;

	if (n >= sizeof(buf) || (slash && parse_uint(slash + 1, 0, 32, &len) < 0))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	mask = prefix_mask((unsigned)len);
	if (a.s_addr & ~mask)
		return -1;	/* host bits set: almost always a typo */
	p->addr = a.s_addr;
	p->len = (unsigned)len;
	return 0;
}

static int add_prefix(struct parser *ps, const char *key, const char *w)
{
	struct config *c = ps->c;
	struct prefix *list = !strcmp(key, "RuleFrom") ? c->rule_from :
			      !strcmp(key, "AllowedSources") ? c->allowed :
			      !strcmp(key, "AllowedRemotes") ? c->allowed_remotes : c->forward_from;
	unsigned *n = list == c->rule_from ? &c->n_rule_from :
		      list == c->allowed ? &c->ip.n_allowed :
		      list == c->allowed_remotes ? &c->ip.n_allowed_remotes : &c->n_forward_from;

	if (*n == CONFIG_MAX_LIST) {
		perr(ps, LINE, "%s: more than %u prefixes", key, CONFIG_MAX_LIST);
		return -1;
	}
	if (parse_prefix(w, &list[*n]) < 0) {
		perr(ps, LINE, "%s: '%s' is not an IPv4 address or prefix (host bits must be 0)",
		     key, w);
		return -1;
	}
	(*n)++;
	return 0;
}

static int k_allowed_sources(struct parser *ps, const char *v)
{
	ps->c->line.allowed_sources = LINE;
	return each_word(ps, v, "AllowedSources", add_prefix);
}

static int k_allowed_remotes(struct parser *ps, const char *v)
{
	ps->c->line.allowed_remotes = LINE;
	return each_word(ps, v, "AllowedRemotes", add_prefix);
}

static int k_peer_check(struct parser *ps, const char *v)
{
	ps->c->line.peer_check = LINE;
	if (parse_bool(v, &ps->c->ip.peer_check) < 0) {
		perr(ps, LINE, "PeerSourceCheck: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int k_allow_source_route(struct parser *ps, const char *v)
{
	ps->c->line.allow_source_route = LINE;
	if (parse_bool(v, &ps->c->ip.allow_source_route) < 0) {
		perr(ps, LINE, "AllowSourceRoute: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int k_log_ecn(struct parser *ps, const char *v)
{
	ps->c->line.log_ecn = LINE;
	if (parse_bool(v, &ps->c->ip.ecn_log) < 0) {
		perr(ps, LINE, "LogUnusualECN: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int k_table(struct parser *ps, const char *v)
{
	const char *colon = strchr(v, ':');
	const char *num = colon ? colon + 1 : v;
	unsigned long n;
	size_t len = colon ? (size_t)(colon - v) : 0;

	if (colon) {
		bool digits = true;

		for (size_t i = 0; i < len; i++) {
			if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-')
				len = 0;
			digits = digits && isdigit((unsigned char)v[i]);
		}
		if (!len || digits || len >= CONFIG_TABLE_NAME_MAX)
			goto bad;
		memcpy(ps->c->table_name, v, len);
		ps->c->table_name[len] = '\0';
	}
	if (parse_uint(num, 1, 0xffffffffu, &n) < 0 || n == 253 || n == 254 || n == 255)
		goto bad;
	ps->c->table = (unsigned)n;
	ps->c->line.table = LINE;
	return 0;
bad:
	perr(ps, LINE, "Table: '%s' is not NAME:NUMBER or NUMBER (1-4294967295, not 253-255; "
	     "NAME: letters, digits, '_' and '-')", v);
	return -1;
}

static int k_default_route(struct parser *ps, const char *v)
{
	ps->c->line.default_route = LINE;
	if (parse_bool(v, &ps->c->default_route) < 0) {
		perr(ps, LINE, "DefaultRoute: '%s' is not yes or no", v);
		return -1;
	}
	return 0;
}

static int k_rule_from(struct parser *ps, const char *v)
{
	ps->c->line.rule_from = LINE;
	return each_word(ps, v, "RuleFrom", add_prefix);
}

static int k_rule_priority(struct parser *ps, const char *v)
{
	unsigned long n;

	if (parse_uint(v, 1, 0xffffffffu, &n) < 0) {
		perr(ps, LINE, "RulePriority: '%s' is not a number from 1 to 4294967295", v);
		return -1;
	}
	ps->c->rule_priority = (unsigned)n;
	return 0;
}

static int k_ip_forward(struct parser *ps, const char *v)
{
	bool b;

	ps->c->line.ip_forward = LINE;
	if (!strcasecmp(v, "keep"))
		return ps->c->ip_forward = TRI_KEEP, 0;
	if (parse_bool(v, &b) < 0) {
		perr(ps, LINE, "IPv4Forwarding: '%s' is not yes, no or keep", v);
		return -1;
	}
	ps->c->ip_forward = b ? TRI_YES : TRI_NO;
	return 0;
}

static int add_ifname(struct parser *ps, const char *key, const char *w)
{
	struct config *c = ps->c;

	if (strlen(w) >= IFNAMSIZ) {
		perr(ps, LINE, "%s: '%s' is not a valid interface name: %zu bytes long, interface "
		     "names are at most %d bytes", key, w, strlen(w), IFNAMSIZ - 1);
		return -1;
	}
	if (!config_valid_ifname(w)) {
		perr(ps, LINE, "%s: '%s' is not a valid interface name", key, w);
		return -1;
	}
	for (unsigned i = 0; i < c->n_proxy_arp; i++)
		if (!strcmp(c->proxy_arp[i], w)) {
			perr(ps, LINE, "%s: '%s' given twice", key, w);
			return -1;
		}
	if (c->n_proxy_arp == CONFIG_MAX_LIST) {
		perr(ps, LINE, "%s: more than %u interfaces", key, CONFIG_MAX_LIST);
		return -1;
	}
	strcpy(c->proxy_arp[c->n_proxy_arp++], w);
	return 0;
}

static int k_proxy_arp(struct parser *ps, const char *v)
{
	ps->c->line.proxy_arp = LINE;
	return each_word(ps, v, "ProxyARP", add_ifname);
}

static int k_rp_filter(struct parser *ps, const char *v)
{
	static const struct { const char *s; enum rp_filter v; } m[] = {
		{ "strict", RPF_STRICT }, { "loose", RPF_LOOSE }, { "off", RPF_OFF }, { "keep", RPF_KEEP },
	};

	ps->c->line.rp_filter = LINE;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (!strcasecmp(v, m[i].s))
			return ps->c->rp_filter = m[i].v, 0;
	perr(ps, LINE, "ReversePathFilter: '%s' is not strict, loose, off or keep", v);
	return -1;
}

static int k_forward(struct parser *ps, const char *v)
{
	ps->c->line.forward = LINE;
	if (!strcasecmp(v, "accept"))
		ps->c->fw_forward = true;
	else if (!strcasecmp(v, "none"))
		ps->c->fw_forward = false;
	else {
		perr(ps, LINE, "Forward: '%s' is not accept or none", v);
		return -1;
	}
	return 0;
}

static int k_input(struct parser *ps, const char *v)
{
	ps->c->line.input = LINE;
	if (!strcasecmp(v, "accept"))
		ps->c->fw_input = true;
	else if (!strcasecmp(v, "none"))
		ps->c->fw_input = false;
	else {
		perr(ps, LINE, "Input: '%s' is not accept or none", v);
		return -1;
	}
	return 0;
}

static int k_forward_from(struct parser *ps, const char *v)
{
	return each_word(ps, v, "ForwardFrom", add_prefix);
}

/* The [Route] section at hand (NULL past the last one there is room for). */
static struct config_route *route_here(struct parser *ps)
{
	return ps->route_over || !ps->c->n_routes ? NULL : &ps->c->routes[ps->c->n_routes - 1];
}

static int k_route_dst(struct parser *ps, const char *v)
{
	struct config_route *r = route_here(ps);

	if (!r)
		return 0;
	if (parse_prefix(v, &r->dst) < 0) {
		perr(ps, LINE, "Destination: '%s' is not an IPv4 prefix (ADDRESS/LENGTH, host bits 0)",
		     v);
		return -1;
	}
	r->has_dst = true;
	return 0;
}

static int k_route_table(struct parser *ps, const char *v)
{
	struct config_route *r = route_here(ps);
	unsigned long n;

	if (!r)
		return 0;
	if (!strcmp(v, "main")) {
		r->table = RT_TABLE_MAIN;
		return 0;
	}
	if (parse_uint(v, 1, 0xffffffffu, &n) < 0 || n == RT_TABLE_DEFAULT || n == RT_TABLE_LOCAL) {
		perr(ps, LINE, "Table: '%s' is not main or a table number (1-4294967295, not 253 "
		     "or 255)", v);
		return -1;
	}
	r->table = (unsigned)n;
	return 0;
}

static int k_route_gateway(struct parser *ps, const char *v)
{
	struct config_route *r = route_here(ps);
	struct in_addr a;

	if (!r)
		return 0;
	if (parse_unicast(v, &a) < 0) {
		perr(ps, LINE, "Gateway: '%s' is not a unicast IPv4 address", v);
		return -1;
	}
	r->gw = a.s_addr;
	return 0;
}

static int k_route_metric(struct parser *ps, const char *v)
{
	struct config_route *r = route_here(ps);
	unsigned long n;

	if (!r)
		return 0;
	if (parse_uint(v, 0, 0xffffffffu, &n) < 0) {
		perr(ps, LINE, "Metric: '%s' is not a number from 0 to 4294967295", v);
		return -1;
	}
	r->metric = (unsigned)n;
	return 0;
}

static const char *const sections[] = { "Tunnel", "Address", "Routing", "Host", "Firewall",
					"Route" };
#define ROUTE_SECTION 5	/* repeatable: one prefix routed into the tunnel each */
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

static const struct key keys[] = {
	{ "Tunnel", "Name", k_name, false },
	{ "Tunnel", "Local", k_local, true },
	{ "Tunnel", "Remote", k_remote, true },
	{ "Tunnel", "ResolveInterval", k_resolve_interval, false },
	{ "Tunnel", "TTL", k_ttl, false },
	{ "Tunnel", "TOS", k_tos, false },
	{ "Tunnel", "DiscoverPathMTU", k_pmtud, false },
	{ "Tunnel", "MTU", k_mtu, false },
	{ "Tunnel", "ECN", k_ecn, false },
	{ "Tunnel", "DSCP", k_dscp, false },
	{ "Tunnel", "Datapath", k_datapath, false },
	{ "Tunnel", "Encapsulation", k_encapsulation, false },
	{ "Tunnel", "Port", k_port, false },
	{ "Tunnel", "RemotePort", k_remote_port, false },
	{ "Tunnel", "SourcePort", k_source_port, false },
	{ "Tunnel", "UDPChecksum", k_udp_checksum, false },
	{ "Tunnel", "FastPathAttach", k_fp_attach, false },
	{ "Tunnel", "Nice", k_nice, false },
	{ "Tunnel", "UnderlayOutput", k_underlay_output, false },
	{ "Tunnel", "AllowedSources", k_allowed_sources, false },
	{ "Tunnel", "AllowedRemotes", k_allowed_remotes, false },
	{ "Tunnel", "PeerSourceCheck", k_peer_check, false },
	{ "Tunnel", "AllowSourceRoute", k_allow_source_route, false },
	{ "Tunnel", "LogUnusualECN", k_log_ecn, false },
	{ "Tunnel", "Keepalive", k_keepalive, false },
	{ "Tunnel", "KeepaliveMisses", k_keepalive_misses, false },
	{ "Address", "Address", k_address, true },
	{ "Address", "Peer", k_peer, false },
	{ "Routing", "Table", k_table, false },
	{ "Routing", "DefaultRoute", k_default_route, false },
	{ "Routing", "RuleFrom", k_rule_from, false },
	{ "Routing", "RulePriority", k_rule_priority, false },
	{ "Host", "IPv4Forwarding", k_ip_forward, false },
	{ "Host", "ProxyARP", k_proxy_arp, false },
	{ "Host", "ReversePathFilter", k_rp_filter, false },
	{ "Route", "Destination", k_route_dst, false },
	{ "Route", "Table", k_route_table, false },
	{ "Route", "Metric", k_route_metric, false },
	{ "Route", "Gateway", k_route_gateway, false },
	{ "Firewall", "Forward", k_forward, false },
	{ "Firewall", "ForwardFrom", k_forward_from, false },
	{ "Firewall", "Input", k_input, false },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= MAX_KEYS, "raise MAX_KEYS");

static unsigned key_line(const struct parser *ps, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].name, name))
			return ps->key_line[i];
	return 0;
}

static int section_index(const char *s)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!strcmp(s, sections[i]))
			return (int)i;
	return -1;
}

static int section_index_nocase(const char *s)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!strcasecmp(s, sections[i]))
			return (int)i;
	return -1;
}

/* An unknown key: say what was probably meant (its case, or its section). */
static void unknown_key(struct parser *ps, const char *section, const char *name)
{
	const struct key *here = NULL, *elsewhere = NULL;

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcasecmp(keys[i].name, name))
			continue;
		if (!strcmp(keys[i].section, section))
			here = &keys[i];
		else if (!elsewhere)
			elsewhere = &keys[i];
	}
	if (here)
		perr(ps, LINE, "unknown key '%s' in section [%s]: key names are case-sensitive: %s",
		     name, section, here->name);
	else if (elsewhere)
		perr(ps, LINE, "unknown key '%s' in section [%s]: %s belongs in [%s]", name, section,
		     elsewhere->name, elsewhere->section);
	else
		perr(ps, LINE, "unknown key '%s' in section [%s]", name, section);
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parser *ps = user;
	int si = section_index(section);

	if (si < 0) {
		if (!section[0])
			perr(ps, LINE, "'%s' outside of a section", name);
		return 1;	/* an unknown section was already reported */
	}
	for (size_t i = 0; i < NKEYS; i++) {
		unsigned *seen = si == ROUTE_SECTION ? &ps->route_key_line[i] : &ps->key_line[i];

		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (*seen) {
			perr(ps, LINE, "%s: given twice (first on line %u)", name, *seen);
			return 1;
		}
		*seen = LINE;
		if (!value[0]) {
			perr(ps, LINE, "%s: empty value", name);
			return 1;
		}
		keys[i].parse(ps, value);
		return 1;
	}
	unknown_key(ps, section, name);
	return 1;
}

/* A [Route] header: another route, its keys not given yet. */
static void new_route(struct parser *ps)
{
	struct config *c = ps->c;

	if (!ps->section_line[ROUTE_SECTION])
		ps->section_line[ROUTE_SECTION] = ps->line;
	memset(ps->route_key_line, 0, sizeof(ps->route_key_line));
	if (c->n_routes == CONFIG_MAX_ROUTES) {
		if (!ps->route_over)
			perr(ps, ps->line, "[Route]: more than %u of them", CONFIG_MAX_ROUTES);
		ps->route_over = true;
		return;
	}
	c->routes[c->n_routes].table = RT_TABLE_MAIN;
	c->routes[c->n_routes].line = ps->line;
	c->n_routes++;
}

bool config_route_at(const struct config *c, unsigned i, struct config_route *rt)
{
	if (i == 0) {
		*rt = (struct config_route){ .table = c->table, .has_dst = true };
		return c->table && c->default_route;
	}
	*rt = c->routes[i - 1];
	return i <= c->n_routes;
}

bool config_route_key_eq(const struct config_route *x, const struct config_route *y)
{
	return x->dst.addr == y->dst.addr && x->dst.len == y->dst.len && x->table == y->table &&
	       x->metric == y->metric;
}

bool config_route_eq(const struct config_route *x, const struct config_route *y)
{
	return config_route_key_eq(x, y) && x->gw == y->gw;
}

void config_own_lists(struct config *c)
{
	c->ip.allowed = c->allowed;
	c->ip.allowed_remotes = c->allowed_remotes;
}

bool config_has_route(const struct config *c, const struct config_route *rt)
{
	for (unsigned i = 0; i < c->n_routes; i++)
		if (config_route_eq(&c->routes[i], rt))
			return true;
	return false;
}

/* Each [Route] has its Destination, and no two are the same route. */
static void check_routes(struct parser *ps)
{
	const struct config *c = ps->c;
	char a[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		if (!r->has_dst) {
			perr(ps, r->line, "[Route]: missing required key 'Destination'");
			continue;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct config_route *o = &c->routes[j];

			if (o->has_dst && config_route_eq(o, r)) {
				perr(ps, r->line, "[Route]: %s/%u in table %u with metric %u is also "
				     "the route of line %u",
				     inet_ntop(AF_INET, &r->dst.addr, a, sizeof(a)), r->dst.len,
				     r->table, r->metric, o->line);
				break;
			}
		}
	}
}

/* A [Section] header line: note it (inih reports sections only through their keys). */
static void on_header(struct parser *ps, const char *line)
{
	const char *end = strchr(line, ']');
	char name[64];
	size_t n;
	int si;

	if (!end)
		return;		/* inih reports the syntax error */
	n = (size_t)(end - line - 1);
	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), line + 1);
	si = section_index(name);
	if (si < 0 && (si = section_index_nocase(name)) >= 0)
		perr(ps, ps->line, "unknown section [%s]: section names are case-sensitive: [%s]",
		     name, sections[si]);
	else if (si < 0)
		perr(ps, ps->line, "unknown section [%s] (the sections are [Tunnel], [Address], "
		     "[Routing], [Host], [Firewall] and [Route])", name);
	else if (si == ROUTE_SECTION)
		new_route(ps);
	else if (ps->section_line[si])
		perr(ps, ps->line, "section [%s] given twice (first on line %u)", name,
		     ps->section_line[si]);
	else
		ps->section_line[si] = ps->line;
}

/* Copy the next physical line into buf; returns its full length or -1 at the end. */
static long next_line(struct parser *ps, char *buf, size_t size)
{
	size_t n = 0;
	int c;

	if (ps->file) {
		while ((c = getc(ps->file)) != EOF) {
			if (n + 1 < size)
				buf[n] = (char)c;
			n++;
			if (c == '\n')
				break;
		}
		if (c == EOF && n == 0)
			return -1;
	} else {
		if (!*ps->text)
			return -1;
		while (ps->text[n] && ps->text[n] != '\n')
			n++;
		if (ps->text[n] == '\n')
			n++;
		memcpy(buf, ps->text, n < size ? n : size - 1);
		ps->text += n;
	}
	buf[n < size ? n : size - 1] = '\0';
	return (long)n;
}

/*
 * Cut an inline comment: from the first '#' or ';' that follows white space
 * to the end of the line (a value cannot hold one).
 */
static void cut_inline_comment(char *s)
{
	for (char *p = s + 1; *p; p++)
		if ((*p == '#' || *p == ';') && (p[-1] == ' ' || p[-1] == '\t')) {
			strcpy(p, "\n");
			return;
		}
}

/*
 * inih's line reader: it gets exactly one call per physical line, so the
 * line number here is the line of whatever inih reports next.  Lines reach
 * inih without their indentation (so it never takes one for the
 * continuation of the previous value) and without inline comments.
 */
static char *read_line(char *buf, int size, void *stream)
{
	struct parser *ps = stream;
	char line[1024];
	char *start;
	bool indented;
	long n = next_line(ps, line, sizeof(line));

	if (n < 0)
		return NULL;
	ps->line++;
	start = line;
	if (ps->line == 1 && !strncmp(start, "\xef\xbb\xbf", 3))
		start += 3;
	indented = *start == ' ' || *start == '\t';
	start += strspn(start, " \t");
	if ((size_t)n + 1 > sizeof(line) || (size_t)n + 1 >= (size_t)size) {
		if (*start != ';' && *start != '#')
			perr(ps, ps->line, "line too long");
		strcpy(buf, "\n");
		return buf;
	}
	if (*start == ';' || *start == '#') {
		strcpy(buf, "\n");	/* a comment line */
		return buf;
	}
	cut_inline_comment(start);
	if (*start == '[')
		on_header(ps, start);
	else if (indented && !ps->wrapped_line && start[strspn(start, " \t\r\n")] &&
		 !strpbrk(start, "=:"))
		ps->wrapped_line = ps->line;
	strcpy(buf, start);
	return buf;
}

/* The tunnel name a path gives (its base name without ".conf") into buf; its length. */
static size_t name_from_path(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && !strcmp(base + n - 5, ".conf"))
		n -= 5;
	snprintf(buf, size, "%.*s", (int)n, base);
	return n;
}

static void defaults(struct config *c, const char *path)
{
	char base[256];
	size_t n;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	n = name_from_path(path, base, sizeof(base));
	if (n < sizeof(c->name))
		memcpy(c->name, base, n);
	c->ip.pmtudisc = true;
	c->ip.ecn = ECN_MODE_NORMAL;
	c->ip.ecn_log = true;
	c->rp_filter = RPF_KEEP;
	c->nice = CONFIG_NICE_DEFAULT;
	c->resolve_interval = CONFIG_RESOLVE_DEFAULT;
	c->keepalive_misses = CONFIG_KEEPALIVE_MISSES;
}

/*
 * The tunnel's addresses against the underlay's: where outer packets would
 * be routed into the tunnel itself (or delivered here), nothing can work.
 */
static void check_loops(struct parser *ps)
{
	struct config *c = ps->c;
	char a[INET_ADDRSTRLEN], p[INET_ADDRSTRLEN];

	if (!c->addr.s_addr)
		return;		/* missing: reported */
	inet_ntop(AF_INET, &c->ip.remote, a, sizeof(a));
	/* (Remote as a name, Local = auto: 0 here, their addresses not known yet) */
	if (c->ip.remote && c->ip.remote == c->addr.s_addr)
		perr(ps, key_line(ps, "Remote"), "Remote: %s is also Address, this end's address "
		     "inside the tunnel: outer packets to Remote would be delivered to this host "
		     "(Remote is the other end's address on the underlay)", a);
	if (c->has_peer && c->ip.remote && c->ip.remote == c->peer.s_addr)
		perr(ps, key_line(ps, "Remote"), "Remote: %s is also Peer: the route to Peer goes "
		     "through the tunnel, so outer packets to Remote would enter the tunnel itself, "
		     "a loop (Peer is the other end's address inside the tunnel, Remote its address "
		     "on the underlay)", a);
	if (c->has_peer && c->peer.s_addr == c->addr.s_addr)
		perr(ps, key_line(ps, "Peer"), "Peer: %s is also Address: Peer is the other end's "
		     "address inside the tunnel, Address this end's",
		     inet_ntop(AF_INET, &c->peer, p, sizeof(p)));
	if (!c->table || !c->default_route || !c->ip.local)
		return;		/* the table's routes are the user's (lint.c warns) */
	inet_ntop(AF_INET, &c->ip.local, a, sizeof(a));
	for (unsigned i = 0; i < c->n_rule_from; i++) {
		if (!prefix_match(&c->rule_from[i], c->ip.local))
			continue;
		if (!key_line(ps, "RuleFrom"))	/* the default: Address/32, and Address is Local */
			perr(ps, c->line.address, "Address: %s is Local too: the rule for traffic "
			     "from Address (RuleFrom's default) would send the tunnel's own outer "
			     "packets into the tunnel by table %u's default route, a loop; give the "
			     "tunnel an address of its own", a, c->table);
		else
			perr(ps, key_line(ps, "RuleFrom"), "RuleFrom: %s/%u covers Local %s: the "
			     "tunnel's own outer packets (from Local) would follow table %u's default "
			     "route into the tunnel, a loop; leave Local out (or set DefaultRoute = "
			     "no and route Remote in that table yourself)",
			     inet_ntop(AF_INET, &c->rule_from[i].addr, p, sizeof(p)),
			     c->rule_from[i].len, a, c->table);
		break;
	}
}

/* UDP encapsulation's keys: all or nothing, and what carries it. */
static void check_encap(struct parser *ps)
{
	static const char *const udp_keys[] = { "Port", "RemotePort", "SourcePort", "UDPChecksum" };
	struct config *c = ps->c;

	c->line.encap = key_line(ps, "Encapsulation");
	c->line.port = key_line(ps, "Port");
	c->line.remote_port = key_line(ps, "RemotePort");
	c->line.source_port = key_line(ps, "SourcePort");
	c->line.udp_checksum = key_line(ps, "UDPChecksum");
	if (c->ip.encap == ENCAP_IPIP) {
		for (size_t i = 0; i < 4; i++)
			if (key_line(ps, udp_keys[i]))
				perr(ps, key_line(ps, udp_keys[i]), "%s: needs Encapsulation = fou or "
				     "gue (UDP encapsulation)", udp_keys[i]);
		return;
	}
	if (!c->ip.port)
		perr(ps, c->line.encap, "Encapsulation = %s: needs Port (the local UDP port the far "
		     "end sends to, as `ip fou add port`)", c->ip.encap == ENCAP_FOU ? "fou" : "gue");
	if (!c->ip.remote_port)
		c->ip.remote_port = c->ip.port;
	/* a NAT's mapping answers only the 4-tuple it saw: send from our own Port */
	if (c->ip.learn_port && !key_line(ps, "SourcePort"))
		c->ip.sport = c->ip.port;
	if (c->datapath == DPM_KERNEL)
		perr(ps, c->line.datapath, "Datapath = kernel: ipipd sets up the kernel's device for "
		     "protocol 4 only; Encapsulation = %s needs Datapath = auto, ebpf or userspace",
		     c->ip.encap == ENCAP_FOU ? "fou" : "gue");
	if (c->datapath == DPM_EBPF && c->ip.learn_port)
		perr(ps, c->line.remote_port, "RemotePort = learn: the eBPF fast path does not follow "
		     "ports; use Datapath = auto or userspace");
	if (c->datapath == DPM_EBPF && c->ip.udp_csum)
		perr(ps, c->line.udp_checksum, "UDPChecksum = yes: the eBPF fast path sends no UDP "
		     "checksum; use Datapath = auto or userspace");
	/* the kernel's default, until ipipd reads the host's (ip_local_port_range) */
	c->ip.sport_min = 32768;
	c->ip.sport_max = 60999;
}

/* Remote = any (a hub): what it needs, and what it cannot have. */
static void check_hub(struct parser *ps)
{
	struct config *c = ps->c;
	char a[INET_ADDRSTRLEN];

	c->line.allowed_remotes = key_line(ps, "AllowedRemotes");
	c->line.peer_check = key_line(ps, "PeerSourceCheck");
	if (!c->ip.remote_any) {
		if (c->line.allowed_remotes)
			perr(ps, c->line.allowed_remotes, "AllowedRemotes: needs Remote = any (with "
			     "one Remote, only Remote may send)");
		if (c->line.peer_check)
			perr(ps, c->line.peer_check, "PeerSourceCheck: needs Remote = any");
		for (unsigned i = 0; i < c->n_routes; i++)
			if (c->routes[i].gw)
				perr(ps, c->routes[i].line, "Route: Gateway needs Remote = any (a "
				     "point-to-point tunnel sends everything to Remote)");
		return;
	}
	if (!key_line(ps, "PeerSourceCheck"))
		c->ip.peer_check = true;
	if (!c->ip.n_allowed_remotes)
		perr(ps, key_line(ps, "Remote"), "Remote = any: needs AllowedRemotes (the underlay "
		     "prefixes the peers' packets may come from)");
	if (c->ip.encap != ENCAP_IPIP)
		perr(ps, c->line.encap, "Encapsulation: Remote = any carries protocol 4 only");
	if (c->keepalive)
		perr(ps, key_line(ps, "Keepalive"), "Keepalive: needs one Remote (Remote = any has "
		     "many peers)");
	if (c->local_auto)
		perr(ps, key_line(ps, "Local"), "Local = auto: looks at the route to Remote; "
		     "Remote = any needs Local given");
	if (c->datapath == DPM_KERNEL)
		perr(ps, c->line.datapath, "Datapath = kernel: Remote = any runs on ipipd's own "
		     "datapaths (auto, ebpf or userspace)");
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		if (r->gw && !ipip_remote_ok(&c->ip, r->gw))
			perr(ps, r->line, "Route: Gateway %s is not in AllowedRemotes: its packets "
			     "would be dropped", inet_ntop(AF_INET, &r->gw, a, sizeof(a)));
	}
}

static void check_whole(struct parser *ps)
{
	struct config *c = ps->c;
	unsigned eof = ps->line ? ps->line : 1;

	for (size_t si = 0; si < 2; si++) {	/* [Tunnel] and [Address] are required */
		if (ps->section_line[si])
			continue;
		perr(ps, eof, "missing section [%s]", sections[si]);
	}
	for (size_t i = 0; i < NKEYS; i++) {
		int si = section_index(keys[i].section);

		if (keys[i].required && !ps->key_line[i] && ps->section_line[si])
			perr(ps, ps->section_line[si], "[%s]: missing required key '%s'",
			     keys[i].section, keys[i].name);
	}
	if (!ps->name_set && !config_valid_ifname(c->name)) {
		char base[256];
		size_t n = name_from_path(c->path, base, sizeof(base));

		if (n >= IFNAMSIZ)
			perr(ps, ps->section_line[0] ? ps->section_line[0] : eof,
			     "Name: not set, and the file name gives '%s', %zu bytes long: interface "
			     "names are at most %d bytes; set Name", base, n, IFNAMSIZ - 1);
		else
			perr(ps, ps->section_line[0] ? ps->section_line[0] : eof,
			     "Name: not set, and the file name does not give a valid interface name "
			     "('%s'); set Name", base);
	}
	if (c->ip.ttl && !c->ip.pmtudisc)
		perr(ps, key_line(ps, "DiscoverPathMTU"), "DiscoverPathMTU: 'no' cannot be used with a fixed TTL "
		     "(as in iproute2: ttl %u requires pmtudisc)", c->ip.ttl);
	if (!c->table) {
		static const char *const need_table[] = { "DefaultRoute", "RuleFrom", "RulePriority" };

		for (size_t i = 0; i < 3; i++)
			if (key_line(ps, need_table[i]))
				perr(ps, key_line(ps, need_table[i]), "%s: needs [Routing] Table",
				     need_table[i]);
	} else {
		if (!key_line(ps, "DefaultRoute"))
			c->default_route = true;
		if (!c->n_rule_from) {	/* from the tunnel address itself */
			c->rule_from[0].addr = c->addr.s_addr;
			c->rule_from[0].len = 32;
			c->n_rule_from = 1;
		}
	}
	config_own_lists(c);
	c->ip.own[0] = c->ip.local;
	c->ip.own[1] = c->addr.s_addr;
	if (c->n_forward_from && !c->fw_forward)
		perr(ps, key_line(ps, "ForwardFrom"), "ForwardFrom: needs [Firewall] Forward = accept");
	if (c->ip.local && c->ip.local == c->ip.remote)
		perr(ps, key_line(ps, "Remote"), "Remote: must differ from Local");
	if (c->keepalive && !c->has_peer)
		perr(ps, key_line(ps, "Keepalive"), "Keepalive: needs [Address] Peer (the echo request goes to it)");
	c->line.keepalive = key_line(ps, "Keepalive");
	check_encap(ps);
	check_loops(ps);
	check_routes(ps);
	check_hub(ps);
	c->line.tunnel = ps->section_line[0];
	c->line.name = key_line(ps, "Name");
	c->line.local = key_line(ps, "Local");
	c->line.remote = key_line(ps, "Remote");
	c->line.resolve_interval = key_line(ps, "ResolveInterval");
	c->line.tos = key_line(ps, "TOS");
	c->line.mtu = key_line(ps, "MTU");
}

static int run(struct parser *ps)
{
	int rc = ini_parse_stream(read_line, ps, on_entry, ps);

	if (rc > 0 && (unsigned)rc == ps->wrapped_line)
		perr(ps, (unsigned)rc, "syntax error (expected [Section] or Key = Value): a value "
		     "cannot go on over the next line; a list must be on its key's one line");
	else if (rc > 0)
		perr(ps, (unsigned)rc, "syntax error (expected [Section] or Key = Value)");
	else if (rc < 0)
		perr(ps, ps->line, "cannot parse (out of memory)");
	if (!ps->errors)
		check_whole(ps);
	return ps->errors ? -1 : 0;
}

int config_parse_string(const char *text, const char *path, struct config *c, FILE *err)
{
	struct parser ps = { .c = c, .path = path, .err = err, .text = text };

	defaults(c, path);
	return run(&ps);
}

int config_load(const char *path, struct config *c, FILE *err)
{
	struct parser ps = { .c = c, .path = path, .err = err };
	int rc;

	defaults(c, path);
	ps.file = fopen(path, "re");
	if (!ps.file) {
		fprintf(err, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = run(&ps);
	fclose(ps.file);
	return rc;
}

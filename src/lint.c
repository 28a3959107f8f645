/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "lint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "control.h"
#include "packet.h"

/* ---- the host's facts ---------------------------------------------------- */

static int read_ip_forward(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "re");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* ipipd runs the tunnel, or left its state behind (which the next start undoes). */
static bool runtime_files(const char *name)
{
	static const char *const suffix[] = { ".sock", ".pid", ".state" };
	char path[512];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (run_path(path, sizeof(path), name, suffix[i]) == 0 && access(path, F_OK) == 0)
			return true;
	return false;
}

void lint_host_facts(const struct config *c, struct host_facts *h)
{
	struct nl nl;
	int n;

	memset(h, 0, sizeof(*h));
	if (c->remote_name[0])
		endpoint_resolve(c->remote_name, &h->remote, h->remote_err, sizeof(h->remote_err));
	h->ip_forward = read_ip_forward();
	h->ours = runtime_files(c->name);
	if (nl_open(&nl) < 0)
		return;
	n = nl_addr_dump_info(&nl, h->addrs, LINT_MAX_ADDRS);
	if (n >= 0) {
		h->n_addrs = n < LINT_MAX_ADDRS ? (unsigned)n : LINT_MAX_ADDRS;
		n = nl_link_dump(&nl, h->links, LINT_MAX_LINKS);
	}
	if (n >= 0) {
		h->n_links = n < LINT_MAX_LINKS ? (unsigned)n : LINT_MAX_LINKS;
		uint32_t remote = c->remote_name[0] ? h->remote : c->ip.remote;

		h->route_rc = remote ? nl_route_mtu(&nl, remote, &h->route_mtu, &h->route_oif) :
				       -EDESTADDRREQ;
		if (c->local_auto)
			h->local_rc = remote ? nl_route_src(&nl, remote, &h->local) : -EDESTADDRREQ;
		h->known = true;
	}
	nl_close(&nl);
}

/* ---- findings, printed sorted by line --------------------------------------- */

#define MAX_FINDINGS 64

struct finding {
	unsigned line, seq;
	bool error;
	char text[480];
};

struct lint {
	const struct config *c;
	const struct host_facts *h;	/* NULL: not known */
	enum lint_when when;
	struct finding f[MAX_FINDINGS];
	unsigned n;
};

static void say(struct lint *l, bool error, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct lint *l, bool error, unsigned line, const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (l->n == MAX_FINDINGS)
		return;
	f = &l->f[l->n];
	f->line = line ? line : l->c->line.tunnel ? l->c->line.tunnel : 1;
	f->seq = l->n++;
	f->error = error && l->when == LINT_CHECK;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

#define lint_warn(l, line, ...) say(l, false, line, __VA_ARGS__)
#define lint_error(l, line, ...) say(l, true, line, __VA_ARGS__)

static int by_line(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const char *ip(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

#define IP(a) ip((a), (char[INET_ADDRSTRLEN]){ 0 })

/* ---- what the host has --------------------------------------------------------- */

static const struct nl_link_info *link_by_name(const struct host_facts *h, const char *name)
{
	for (unsigned i = 0; i < h->n_links; i++)
		if (!strcmp(h->links[i].name, name))
			return &h->links[i];
	return NULL;
}

static const struct nl_link_info *link_by_index(const struct host_facts *h, int ifindex)
{
	for (unsigned i = 0; i < h->n_links; i++)
		if (h->links[i].ifindex == ifindex)
			return &h->links[i];
	return NULL;
}

static const char *link_name(const struct host_facts *h, int ifindex)
{
	const struct nl_link_info *k = link_by_index(h, ifindex);

	return k && k->name[0] ? k->name : "?";
}

static bool host_has(const struct host_facts *h, uint32_t a)
{
	for (unsigned i = 0; i < h->n_addrs; i++)
		if (h->addrs[i].addr == a)
			return true;
	return false;
}

/* The tunnel's routes (config_route_at()) against the host's. */
struct taken {
	const struct config *c;
	struct host_facts *h;
	int own;		/* the tunnel's device (0: none): its routes are its own */
};

static void taken_each(const struct nl_route_info *r, void *data)
{
	struct taken *t = data;
	struct config_route got = { .dst = { r->dst, r->len }, .table = r->table, .metric = r->metric };
	struct config_route rt;

	if (t->own && r->oif == t->own)
		return;
	for (unsigned i = 0; i <= t->c->n_routes; i++)
		if (config_route_at(t->c, i, &rt) && config_route_key_eq(&got, &rt)) {
			t->h->taken[i] = true;
			t->h->taken_by[i] = *r;
		}
}

/*
 * Which of the tunnel's routes another route holds the place of: one dump
 * of each table they go into (a host with a full BGP table: its main table
 * whole, which is why only ipipd -n looks).
 */
static void host_routes(const struct config *c, struct host_facts *h)
{
	struct taken t = { .c = c, .h = h };
	const struct nl_link_info *own = link_by_name(h, c->name);
	struct config_route rt, seen;
	struct nl nl;

	t.own = own ? own->ifindex : 0;
	if (nl_open(&nl) < 0)
		return;
	for (unsigned i = 0; i <= c->n_routes; i++) {
		bool again = false;

		if (!config_route_at(c, i, &rt))
			continue;
		for (unsigned j = 0; j < i && !again; j++)
			again = config_route_at(c, j, &seen) && seen.table == rt.table;
		if (!again)
			(void)nl_route_each(&nl, 0, rt.table, taken_each, &t);	/* (else: not known) */
	}
	nl_close(&nl);
}

/* ---- the checks ---------------------------------------------------------------- */

/* The devices the kernel makes by itself in every namespace when a tunnel module loads. */
static const char *fallback_device(const char *name)
{
	static const struct { const char *name, *module; } fb[] = {
		{ "tunl0", "ipip" }, { "gre0", "ip_gre" }, { "gretap0", "ip_gre" },
		{ "erspan0", "ip_gre" }, { "sit0", "sit" }, { "ip_vti0", "ip_vti" },
		{ "ip6tnl0", "ip6_tunnel" }, { "ip6gre0", "ip6_gre" }, { "ip6_vti0", "ip6_vti" },
	};

	for (size_t i = 0; i < sizeof(fb) / sizeof(fb[0]); i++)
		if (!strcmp(name, fb[i].name))
			return fb[i].module;
	return NULL;
}

static void check_name(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;
	const struct nl_link_info *k = h ? link_by_name(h, c->name) : NULL;
	const char *module = fallback_device(c->name);

	if (k && !h->ours) {
		/* start-up refuses it itself */
		if (l->when == LINT_CHECK)
			lint_error(l, c->line.name, "Name: an interface named '%s' (%s) already exists on "
				   "this host and ipipd did not create it: ipipd will not start; choose "
				   "another Name%s", c->name, k->kind[0] ? k->kind : "no kind: a NIC?",
				   module ? " (it is the kernel's fallback device of its tunnel module)" : "");
		return;
	}
	if (module && !k)
		lint_warn(l, c->line.name, "Name: %s is the device the kernel makes in every network "
			  "namespace when the %s module loads%s: the names would collide; choose "
			  "another Name", c->name, module,
			  strcmp(module, "ipip") ? "" : " (Datapath = auto or kernel loads it)");
}

/* Remote as a name, Local = auto: what they stand for now; the checks below use it. */
static void check_endpoints(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;

	if (!c->remote_name[0] && c->line.resolve_interval)
		lint_warn(l, c->line.resolve_interval, "ResolveInterval: Remote is an address, not "
			  "a name: there is nothing to look up");
	if (!h || l->when != LINT_CHECK)
		return;
	if (c->remote_name[0] && !c->ip.remote)
		lint_warn(l, c->line.remote, "Remote: %s does not resolve now (%s): ipipd waits "
			  "until it does", c->remote_name, h->remote_err);
	else if (c->local_auto && c->ip.remote && !c->ip.local)
		lint_warn(l, c->line.local, "Local: auto: the route to Remote %s has no source "
			  "address now (%s): ipipd waits until it has", IP(c->ip.remote),
			  strerror(-h->local_rc));
}

static void check_addresses(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;
	struct prefix link;
	uint32_t mask;

	/* (with the default RuleFrom and ipipd's default route config.c refuses it) */
	if (c->ip.local == c->addr.s_addr)
		lint_warn(l, c->line.address, "Address: %s is Local too, this host's address on the "
			  "underlay: the tunnel's own outer packets then come from the tunnel's address, "
			  "and whatever matches it (RuleFrom, firewall rules) takes them too; give the "
			  "tunnel an address of its own", IP(c->addr.s_addr));
	/* the prefix the tunnel's address routes through the tunnel (to Peer with Peer) */
	mask = prefix_mask(c->prefixlen);
	link.addr = (c->has_peer ? c->peer.s_addr : c->addr.s_addr) & mask;
	link.len = c->prefixlen;
	if (link.len < 32 && c->ip.remote && prefix_match(&link, c->ip.remote))
		lint_warn(l, c->line.remote, "Remote: %s is inside %s/%u, the prefix the tunnel's address "
			  "routes into the tunnel: unless a longer route to Remote leaves through the "
			  "underlay, outer packets would enter the tunnel itself", IP(c->ip.remote),
			  IP(link.addr), link.len);
	for (unsigned i = 0; i < c->n_routes && c->ip.remote; i++)
		if (prefix_match(&c->routes[i].dst, c->ip.remote))
			lint_warn(l, c->routes[i].line, "Destination: %s/%u covers Remote %s: unless a "
				  "longer route to Remote leaves through the underlay, outer packets "
				  "would enter the tunnel itself", IP(c->routes[i].dst.addr),
				  c->routes[i].dst.len, IP(c->ip.remote));
	/* Remote = any: the peers' underlay addresses, the same way */
	for (unsigned i = 0; i < c->ip.n_allowed_remotes; i++) {
		const struct prefix *ar = &c->allowed_remotes[i];

		if (link.len < 32 && link.len <= ar->len && prefix_match(&link, ar->addr))
			lint_warn(l, c->line.allowed_remotes, "AllowedRemotes: %s/%u is inside %s/%u, "
				  "the prefix the tunnel's address routes into the tunnel: unless longer "
				  "routes to the peers leave through the underlay, outer packets would "
				  "enter the tunnel itself", IP(ar->addr), ar->len, IP(link.addr), link.len);
		for (unsigned j = 0; j < c->n_routes; j++)
			if (c->routes[j].dst.len <= ar->len && prefix_match(&c->routes[j].dst, ar->addr))
				lint_warn(l, c->routes[j].line, "Destination: %s/%u covers AllowedRemotes "
					  "%s/%u: unless longer routes to the peers leave through the "
					  "underlay, outer packets would enter the tunnel itself",
					  IP(c->routes[j].dst.addr), c->routes[j].dst.len, IP(ar->addr),
					  ar->len);
	}
	if (!h || !h->known)
		return;
	if (c->ip.remote && host_has(h, c->ip.remote))
		lint_warn(l, c->line.remote, "Remote: %s is an address of this host: outer packets to it "
			  "would not leave it; Remote is the other end's address%s", IP(c->ip.remote),
			  host_has(h, c->ip.local) ? "" : " (are Local and Remote swapped?)");
	/* start-up says these itself: binding to Local, the route to Remote */
	if (l->when != LINT_CHECK)
		return;
	if (c->ip.local && !c->local_auto && !host_has(h, c->ip.local))
		lint_warn(l, c->line.local, "Local: %s is not an address of this host (yet): ipipd "
			  "receives the tunnel's packets there and waits until it is",
			  IP(c->ip.local));
	if (c->ip.remote && h->route_rc < 0 && !host_has(h, c->ip.remote))
		lint_warn(l, c->line.remote, "Remote: no route to %s on this host (yet): ipipd waits "
			  "until there is one", IP(c->ip.remote));
}

/* Every prefix of RuleFrom against Local and the host's own addresses. */
static void check_rule_from(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;
	unsigned line = c->line.rule_from ? c->line.rule_from : c->line.table;

	for (unsigned i = 0; i < c->n_rule_from; i++) {
		const struct prefix *p = &c->rule_from[i];
		const struct nl_addr_info *first = NULL;
		const struct nl_link_info *tun = h ? link_by_name(h, c->name) : NULL;
		unsigned more = 0;

		if (c->ip.local && prefix_match(p, c->ip.local))	/* (with the default route config.c refuses it) */
			lint_warn(l, line, "RuleFrom: %s/%u covers Local %s: the tunnel's own outer packets "
				  "go by table %u, which must route Remote through the underlay "
				  "(DefaultRoute = no: the table is yours)", IP(p->addr), p->len,
				  IP(c->ip.local), c->table);
		if (p->len == 0) {
			lint_warn(l, line, "RuleFrom: 0.0.0.0/0 sends all of this host's traffic by table "
				  "%u, SSH sessions to it included%s", c->table,
				  c->default_route ? ", into the tunnel" : "");
			continue;
		}
		for (unsigned j = 0; h && h->known && j < h->n_addrs; j++) {
			const struct nl_addr_info *a = &h->addrs[j];

			if (a->scope == RT_SCOPE_HOST || a->addr == c->ip.local ||
			    a->addr == c->addr.s_addr || (tun && a->ifindex == tun->ifindex) ||
			    !prefix_match(p, a->addr))
				continue;
			if (!first)
				first = a;
			else
				more++;
		}
		if (first)
			lint_warn(l, line, "RuleFrom: %s/%u covers %s (%s)%s%s, an address of this host: "
				  "traffic from it, SSH sessions to it included, would go by table %u%s",
				  IP(p->addr), p->len, IP(first->addr), link_name(h, first->ifindex),
				  more ? " and more" : "", more ? " of this host's addresses" : "",
				  c->table, c->default_route ? ", into the tunnel" : "");
	}
}

static void check_host_section(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;

	if (!c->n_proxy_arp)
		return;
	if (c->ip_forward == TRI_NO)
		lint_warn(l, c->line.ip_forward, "IPv4Forwarding: no, and ProxyARP (line %u) is set: the "
			  "kernel answers ARP by proxy only on an interface that forwards",
			  c->line.proxy_arp);
	else if (c->ip_forward == TRI_KEEP && h && h->ip_forward == 0)
		lint_warn(l, c->line.proxy_arp, "ProxyARP: the kernel answers ARP by proxy only on an "
			  "interface that forwards, and net.ipv4.ip_forward is 0 on this host: set "
			  "[Host] IPv4Forwarding = yes");
	if (!h || !h->known || l->when != LINT_CHECK)
		return;		/* start-up refuses a missing interface itself */
	for (unsigned i = 0; i < c->n_proxy_arp; i++)
		if (!link_by_name(h, c->proxy_arp[i]))
			lint_warn(l, c->line.proxy_arp, "ProxyARP: no interface '%s' on this host (yet): "
				  "ipipd will not start until there is one", c->proxy_arp[i]);
}

static void check_mtu(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;

	unsigned olen = (unsigned)ipip_outer_len(&c->ip);

	if (!c->mtu || !h || !h->known || h->route_rc < 0 || h->route_mtu < CONFIG_MTU_MIN + olen)
		return;
	if (c->mtu + olen > h->route_mtu)
		lint_warn(l, c->line.mtu, "MTU: %u is more than the underlay carries: the route to Remote "
			  "%s (through %s) has MTU %u, which leaves %u after the %u-byte outer header; "
			  "larger packets would be refused (\"fragmentation needed\") or fragmented; "
			  "leave MTU out for %u", c->mtu, IP(c->ip.remote),
			  link_name(h, h->route_oif), h->route_mtu, h->route_mtu - olen, olen,
			  h->route_mtu - olen);
}

static void check_tos(struct lint *l)
{
	const struct config *c = l->c;
	unsigned v = c->tos_given;

	if (c->ip.tos_inherit || !(v & 3))
		return;
	lint_warn(l, c->line.tos, "TOS: %u (0x%02x) gives the outer header TOS 0x%02x: only the DSCP "
		  "bits (0xfc) are used, ECN comes from the ECN key%s", v, v, v & ~3u,
		  v & 1 ? "; unlike iproute2's tos, an odd value does not mean inherit: for that, "
		  "write TOS = inherit" : "");
}

/* The tunnel's routes: another in the place of one, and ipipd would not start. */
static void check_routes_taken(struct lint *l)
{
	const struct config *c = l->c;
	const struct host_facts *h = l->h;
	char by[64];

	if (!h || l->when != LINT_CHECK)
		return;
	for (unsigned i = 0; i <= c->n_routes; i++) {
		const struct nl_route_info *r = &h->taken_by[i];

		if (!h->taken[i])
			continue;
		if (r->oif)
			snprintf(by, sizeof(by), "through %s", link_name(h, r->oif));
		else
			snprintf(by, sizeof(by), "%s", r->type == RTN_BLACKHOLE ? "a blackhole" :
				 r->type == RTN_UNREACHABLE ? "unreachable" :
				 r->type == RTN_PROHIBIT ? "prohibit" : r->type == RTN_THROW ? "throw" :
				 "multipath");
		if (i == 0)
			lint_error(l, c->line.default_route ? c->line.default_route : c->line.table,
				   "%s: table %u has a default route already (%s): ipipd will not "
				   "start; give the tunnel a table of its own", c->line.default_route ?
				   "DefaultRoute" : "Table", c->table, by);
		else
			lint_error(l, c->routes[i - 1].line, "[Route] %s/%u: table %u has a route to "
				   "it with metric %u already (%s): ipipd will not start; delete that "
				   "one, or give this one another Metric", IP(r->dst), r->len, r->table,
				   r->metric, by);
	}
}

/* What the kernel's own device cannot enforce (ipipd refuses it at start itself). */
static void check_datapath(struct lint *l)
{
	const struct config *c = l->c;
	struct { bool on; unsigned line; const char *key; } gap[] = {
		{ c->ip.n_allowed > 0, c->line.allowed_sources, "AllowedSources" },
		{ c->ip.allow_source_route, c->line.allow_source_route, "AllowSourceRoute = yes" },
		{ !c->ip.ecn_log, c->line.log_ecn, "LogUnusualECN = no" },
		{ c->keepalive > 0, c->line.keepalive, "Keepalive" },
	};

	if (c->datapath != DPM_KERNEL || l->when != LINT_CHECK)
		return;
	for (size_t i = 0; i < sizeof(gap) / sizeof(gap[0]); i++)
		if (gap[i].on)
			lint_error(l, gap[i].line, "%s: the kernel's ipip device (Datapath = kernel) cannot "
				   "enforce it; use Datapath = auto, ebpf or userspace", gap[i].key);
}

int lint_config(const struct config *c, const struct host_facts *h, enum lint_when when,
		FILE *out, unsigned *warnings)
{
	static struct lint l;	/* 30 KiB of findings: not on the stack */
	static struct config dyn;	/* c with its endpoints as they are now */
	const char *path = c->path;
	int errors = 0;

	memset(&l, 0, sizeof(l));
	if (c->remote_name[0] || c->local_auto) {
		dyn = *c;
		config_own_lists(&dyn);
		if (c->remote_name[0])
			dyn.ip.remote = h && h->known ? h->remote : 0;
		if (c->local_auto)
			dyn.ip.local = h && h->known ? h->local : 0;
		c = &dyn;
	}
	l.c = c;
	l.h = h && h->known ? h : NULL;
	l.when = when;
	if (h && !h->known && when == LINT_CHECK)
		lint_warn(&l, 0, "cannot read this host's interfaces, addresses and routes: the checks "
			  "against them were not made");
	check_name(&l);
	check_endpoints(&l);
	check_addresses(&l);
	check_datapath(&l);
	check_tos(&l);
	check_mtu(&l);
	check_rule_from(&l);
	check_host_section(&l);
	check_routes_taken(&l);
	qsort(l.f, l.n, sizeof(l.f[0]), by_line);
	for (unsigned i = 0; i < l.n; i++) {
		fprintf(out, "%s:%u: %s%s\n", path, l.f[i].line, l.f[i].error ? "" : "warning: ",
			l.f[i].text);
		errors += l.f[i].error;
	}
	if (warnings)
		*warnings = l.n - (unsigned)errors;
	return errors;
}

int lint_run(const struct config *c, enum lint_when when, FILE *out, unsigned *warnings)
{
	static struct host_facts h;	/* 16 KiB */

	lint_host_facts(c, &h);
	if (h.known && when == LINT_CHECK)
		host_routes(c, &h);
	return lint_config(c, &h, when, out, warnings);
}

/* ---- between tunnels (ipipctl check) ------------------------------------- */

/* "FILE:LINE: " of c at line (its [Tunnel] header where the key was not given). */
static void at(FILE *out, const struct config *c, unsigned line)
{
	fprintf(out, "%s:%u: ", c->path, line ? line : c->line.tunnel ? c->line.tunnel : 1);
}

/* Local, as far as the files tell: the same address, or both auto. */
static bool same_local(const struct config *a, const struct config *b)
{
	if (a->local_auto || b->local_auto)
		return a->local_auto && b->local_auto;
	return a->ip.local == b->ip.local;
}

/* Remote, as far as the files tell: the same address or name, or both any. */
static bool same_remote(const struct config *a, const struct config *b)
{
	if (a->ip.remote_any || b->ip.remote_any)
		return a->ip.remote_any && b->ip.remote_any;
	if (a->remote_name[0] || b->remote_name[0])
		return !strcasecmp(a->remote_name, b->remote_name);
	return a->ip.remote == b->ip.remote;
}

/*
 * What b (a later file) takes that a has already: each said at b's line,
 * naming a's, in the order of a file's sections.  One address on several
 * tunnels, each with another Peer, is fine (a colo's one address towards
 * each of its homes).
 */
static int clash(const struct config *a, const struct config *b, FILE *out)
{
	char x[INET_ADDRSTRLEN];
	int errors = 0;

	if (!strcmp(a->name, b->name)) {
		at(out, b, b->line.name);
		fprintf(out, "Name: tunnel %s is also %s: one tunnel per name (its interface, its "
			"control socket)\n", b->name, a->path);
		errors++;
	}
	if (a->ip.encap == ENCAP_IPIP && b->ip.encap == ENCAP_IPIP && same_local(a, b) &&
	    same_remote(a, b)) {
		at(out, b, b->line.remote);
		fprintf(out, "Remote: tunnel %s (%s:%u) has the same Local and Remote: the "
			"packets between them would reach one of the two\n", a->name, a->path,
			a->line.remote);
		errors++;
	}
	if (a->ip.encap != ENCAP_IPIP && b->ip.encap != ENCAP_IPIP && a->ip.port == b->ip.port &&
	    same_local(a, b)) {
		at(out, b, b->line.port);
		fprintf(out, "Port: UDP port %u is also tunnel %s's (%s:%u), on the same Local\n",
			b->ip.port, a->name, a->path, a->line.port);
		errors++;
	}
	if (a->addr.s_addr && a->addr.s_addr == b->addr.s_addr &&
	    (a->has_peer ? a->peer.s_addr : 0) == (b->has_peer ? b->peer.s_addr : 0)) {
		at(out, b, b->line.address);
		fprintf(out, "Address: %s is also tunnel %s's (%s:%u), with %s\n",
			ip(b->addr.s_addr, x), a->name, a->path, a->line.address,
			b->has_peer ? "the same Peer" : "no Peer on either");
		errors++;
	}
	if (a->table && a->table == b->table && a->default_route && b->default_route) {
		at(out, b, b->line.table);
		fprintf(out, "Table: %u is also tunnel %s's (%s:%u), and each puts its default "
			"route there: give each tunnel its own table\n", b->table, a->name, a->path,
			a->line.table);
		errors++;
	}
	for (unsigned i = 0; i < b->n_routes; i++) {
		const struct config_route *r = &b->routes[i];

		for (unsigned j = 0; j < a->n_routes; j++) {
			const struct config_route *s = &a->routes[j];

			if (!config_route_key_eq(r, s))
				continue;
			at(out, b, r->line);
			fprintf(out, "[Route] %s/%u (table %u) is also tunnel %s's (%s:%u): one of "
				"the two could not add it\n", ip(r->dst.addr, x), r->dst.len, r->table,
				a->name, a->path, s->line);
			errors++;
			break;
		}
	}
	return errors;
}

int lint_set(const struct config *const *cs, unsigned n, FILE *out)
{
	int errors = 0;

	for (unsigned j = 1; j < n; j++)
		for (unsigned i = 0; i < j; i++)
			errors += clash(cs[i], cs[j], out);
	return errors;
}

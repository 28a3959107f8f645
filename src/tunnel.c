/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tunnel.h"

#include <stdio.h>
#include <string.h>

#include "host.h"

static bool prefixes_eq(const struct prefix *a, unsigned na, const struct prefix *b, unsigned nb)
{
	if (na != nb)
		return false;
	for (unsigned i = 0; i < na; i++)
		if (a[i].addr != b[i].addr || a[i].len != b[i].len)
			return false;
	return true;
}

unsigned host_changes(const struct config *a, const struct config *b)
{
	unsigned g = 0;
	bool proxy = a->n_proxy_arp == b->n_proxy_arp;

	if (a->table != b->table || strcmp(a->table_name, b->table_name) ||
	    a->default_route != b->default_route || a->rule_priority != b->rule_priority ||
	    !prefixes_eq(a->rule_from, a->n_rule_from, b->rule_from, b->n_rule_from) ||
	    (b->default_route && (a->has_peer != b->has_peer || a->peer.s_addr != b->peer.s_addr)))
		g |= HG_ROUTING;
	if (a->rp_filter != b->rp_filter)
		g |= HG_RP_FILTER;
	for (unsigned i = 0; proxy && i < a->n_proxy_arp; i++)
		proxy = !strcmp(a->proxy_arp[i], b->proxy_arp[i]);
	if (!proxy)
		g |= HG_PROXY_ARP;
	if (a->ip_forward != b->ip_forward)
		g |= HG_FORWARDING;
	if (a->fw_forward != b->fw_forward || a->fw_input != b->fw_input ||
	    !prefixes_eq(a->forward_from, a->n_forward_from, b->forward_from, b->n_forward_from))
		g |= HG_FIREWALL;
	return g;
}

const char *host_group_names(unsigned groups, char *buf, size_t n)
{
	static const char *const names[] = { "routing", "rp_filter", "proxy ARP", "forwarding",
					      "firewall" };
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < 5; i++)
		if (groups & (1u << i))
			len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s",
						len ? ", " : "", names[i]);
	return buf;
}

static const char *const change_names[TC_COUNT] = {
	"Local", "Remote", "TTL", "TOS", "DiscoverPathMTU", "ECN", "DSCP", "AllowedSources",
	"AllowSourceRoute", "LogUnusualECN", "MTU", "Keepalive", "Address", "Route",
	"Remote's name", "Local = auto", "ResolveInterval",
};

/* Each route of a is one of b's (in any order). */
static bool routes_in(const struct config *a, const struct config *b)
{
	for (unsigned i = 0; i < a->n_routes; i++)
		if (!config_has_route(b, &a->routes[i]))
			return false;
	return true;
}

static bool allowed_eq(const struct config *a, const struct config *b)
{
	if (a->ip.n_allowed != b->ip.n_allowed)
		return false;
	for (unsigned i = 0; i < a->ip.n_allowed; i++)
		if (a->allowed[i].addr != b->allowed[i].addr || a->allowed[i].len != b->allowed[i].len)
			return false;
	/* Remote = any's: which peers, and whether their sources are checked */
	if (a->ip.n_allowed_remotes != b->ip.n_allowed_remotes || a->ip.peer_check != b->ip.peer_check)
		return false;
	for (unsigned i = 0; i < a->ip.n_allowed_remotes; i++)
		if (a->allowed_remotes[i].addr != b->allowed_remotes[i].addr ||
		    a->allowed_remotes[i].len != b->allowed_remotes[i].len)
			return false;
	return true;
}

/* Where a changed key is said: its new line, else (it went) the [Tunnel] header. */
static unsigned key_or_section(unsigned was, unsigned now, unsigned section)
{
	return now ? now : was ? section : 0;
}

void tunnel_diff(const struct config *a, const struct config *b, bool kernel,
		 struct tunnel_diff *d)
{
	const struct ipip_params *x = &a->ip, *y = &b->ip;
	unsigned gap_line;

	memset(d, 0, sizeof(*d));
	/* what the device and the processes were made with */
	if (strcmp(a->name, b->name)) {
		d->restart = "Name";
		d->restart_line = b->line.name;
	} else if (a->datapath != b->datapath) {
		d->restart = "Datapath";
		d->restart_line = b->line.datapath ? b->line.datapath : a->line.datapath ? b->line.tunnel : 0;
	} else if (x->remote_any != y->remote_any) {
		/* one peer or many: another raw socket, another datapath */
		d->restart = "Remote";
		d->restart_line = b->line.remote;
	} else if (a->fp_attach != b->fp_attach) {
		d->restart = "FastPathAttach";
		d->restart_line = b->line.fp_attach ? b->line.fp_attach : a->line.fp_attach ? b->line.tunnel : 0;
	} else if (a->nice != b->nice) {
		d->restart = "Nice";
		d->restart_line = b->line.nice ? b->line.nice : a->line.nice ? b->line.tunnel : 0;
	} else if (a->underlay_output != b->underlay_output) {
		d->restart = "UnderlayOutput";
		d->restart_line = b->line.underlay_output ? b->line.underlay_output : a->line.underlay_output ? b->line.tunnel : 0;
	} else if (x->encap != y->encap) {
		d->restart = "Encapsulation";
		d->restart_line = key_or_section(a->line.encap, b->line.encap, b->line.tunnel);
	} else if (x->port != y->port) {
		/* the sockets and what the far end expects: simpler whole */
		d->restart = "Port";
		d->restart_line = key_or_section(a->line.port, b->line.port, b->line.tunnel);
	} else if (x->remote_port != y->remote_port || x->learn_port != y->learn_port) {
		d->restart = "RemotePort";
		d->restart_line = key_or_section(a->line.remote_port, b->line.remote_port,
						 b->line.tunnel);
	} else if (x->sport != y->sport) {
		d->restart = "SourcePort";
		d->restart_line = key_or_section(a->line.source_port, b->line.source_port,
						 b->line.tunnel);
	} else if (x->udp_csum != y->udp_csum) {
		d->restart = "UDPChecksum";
		d->restart_line = key_or_section(a->line.udp_checksum, b->line.udp_checksum,
						 b->line.tunnel);
	} else if (kernel && (d->restart = config_kernel_gap(b, &gap_line)) != NULL) {
		d->restart_line = gap_line;	/* the kernel's device would not enforce it */
	}
	if (x->local != y->local)
		d->live |= TC_LOCAL;
	if (x->remote != y->remote)
		d->live |= TC_REMOTE;
	if (strcmp(a->remote_name, b->remote_name))
		d->live |= TC_REMOTE_NAME;
	if (a->local_auto != b->local_auto)
		d->live |= TC_LOCAL_AUTO;
	if (a->resolve_interval != b->resolve_interval)
		d->live |= TC_RESOLVE;
	if (x->ttl != y->ttl)
		d->live |= TC_TTL;
	if (x->tos_inherit != y->tos_inherit || x->tos != y->tos || a->tos_given != b->tos_given)
		d->live |= TC_TOS;
	if (x->pmtudisc != y->pmtudisc)
		d->live |= TC_PMTUDISC;
	if (x->ecn != y->ecn)
		d->live |= TC_ECN;
	if (x->dscp_uniform != y->dscp_uniform)
		d->live |= TC_DSCP;
	if (!allowed_eq(a, b))
		d->live |= TC_ALLOWED;
	if (x->allow_source_route != y->allow_source_route)
		d->live |= TC_SOURCE_ROUTE;
	if (x->ecn_log != y->ecn_log)
		d->live |= TC_LOG_ECN;
	if (a->mtu != b->mtu)
		d->live |= TC_MTU;
	if (a->keepalive != b->keepalive || a->keepalive_misses != b->keepalive_misses)
		d->live |= TC_KEEPALIVE;
	if (a->addr.s_addr != b->addr.s_addr || a->prefixlen != b->prefixlen ||
	    a->has_peer != b->has_peer || a->peer.s_addr != b->peer.s_addr)
		d->live |= TC_ADDRESS;
	if (a->n_routes != b->n_routes || !routes_in(a, b) || !routes_in(b, a))
		d->live |= TC_ROUTES;
	d->host = host_changes(a, b);
	/* Input = accept opens protocol 4 from Remote to Local: it follows them */
	if ((a->fw_input || b->fw_input) && (d->live & (TC_LOCAL | TC_REMOTE)))
		d->host |= HG_FIREWALL;
}

const char *tunnel_diff_text(const struct tunnel_diff *d, char *buf, size_t n)
{
	char groups[128];
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < TC_COUNT; i++)
		if (d->live & (1u << i))
			len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s",
						len ? ", " : "", change_names[i]);
	if (d->host)
		len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%shost: %s",
					len ? "; " : "",
					host_group_names(d->host, groups, sizeof(groups)));
	if (!len)
		snprintf(buf, n, "nothing");
	return buf;
}

unsigned tunnel_mtu(const struct config *c, unsigned route_mtu)
{
	unsigned olen = (unsigned)ipip_outer_len(&c->ip);
	unsigned mtu = c->mtu ? c->mtu : route_mtu > olen ? route_mtu - olen : 0;

	if (mtu < CONFIG_MTU_MIN)
		mtu = CONFIG_MTU_MIN;
	if (mtu > CONFIG_MTU_MAX)
		mtu = CONFIG_MTU_MAX;
	return mtu;
}

/* A list of prefixes into a message's (at most CONFIG_LIST_MAX_): how many. */
static uint32_t put_prefixes(struct msg_prefix *out, const struct prefix *in, unsigned n)
{
	n = n < CONFIG_LIST_MAX_ ? n : CONFIG_LIST_MAX_;
	for (unsigned i = 0; i < n; i++)
		out[i] = (struct msg_prefix){ .addr = in[i].addr, .len = in[i].len };
	return n;
}

void tunnel_params(const struct config *c, unsigned mtu, struct msg_params *mp)
{
	memset(mp, 0, sizeof(*mp));
	mp->local = c->ip.local;
	mp->remote = c->ip.remote;
	mp->address = c->addr.s_addr;
	mp->peer = c->has_peer ? c->peer.s_addr : 0;
	mp->ttl = c->ip.ttl;
	mp->tos = c->ip.tos;
	mp->tos_inherit = c->ip.tos_inherit;
	mp->pmtudisc = c->ip.pmtudisc;
	mp->ecn = (uint8_t)c->ip.ecn;
	mp->dscp_uniform = c->ip.dscp_uniform;
	mp->allow_source_route = c->ip.allow_source_route;
	mp->ecn_log = c->ip.ecn_log;
	mp->n_allowed = put_prefixes(mp->allowed, c->allowed, c->ip.n_allowed);
	mp->remote_any = c->ip.remote_any;
	mp->peer_check = c->ip.peer_check;
	mp->n_allowed_remotes = put_prefixes(mp->allowed_remotes, c->allowed_remotes,
					     c->ip.n_allowed_remotes);
	mp->mtu = mtu;
	mp->keepalive = c->keepalive;
	mp->keepalive_misses = c->keepalive_misses;
}

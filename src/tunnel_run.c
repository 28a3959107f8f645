/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The running tunnel, in its owner's hands (tunnel.h): set up when the
 * network lets it, changed by difference (a reload, a new address for
 * Remote's name or for Local = auto), the route and next hop towards
 * Remote followed, the datapath process told each change.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "clock.h"
#include "datapath.h"
#include "firewall.h"
#include "fwwatch.h"
#include "host.h"
#include "log.h"
#include "tun.h"
#include "tunnel.h"

const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

void tunnel_init(struct tunnel *t, struct nl *nl)
{
	t->nl = nl;
	t->dp_fd = t->tun_fd = t->raw_fd = t->udp_fd = -1;
	resolver_init(&t->res);
	fp_init(&t->fp);
}

/* The datapath process learns the host's addresses (the rx thread's own_addrs). */
static void tell_addrs(struct tunnel *t)
{
	struct msg m = { .type = MSG_ADDRS };
	unsigned n = t->n_own < 0 ? 0 : t->n_own > OWN_ADDRS_MAX ? OWN_ADDRS_MAX : (unsigned)t->n_own;

	own_addrs_publish(&t->own, t->own_list, n);	/* a child not yet forked inherits them */
	if (t->dp_fd < 0)
		return;
	m.u.addrs.total = t->n_own < 0 ? UINT32_MAX : (uint32_t)t->n_own;
	m.u.addrs.n = n;
	memcpy(m.u.addrs.addr, t->own_list, n * sizeof(uint32_t));
	if (msg_send(t->dp_fd, &m) < 0)
		log_warn("datapath process: cannot send the host's addresses");
}

/* Dump the host's IPv4 addresses and publish them to the rx thread and the fast path. */
void tunnel_refresh_own(struct tunnel *t)
{
	uint32_t a[OWN_ADDRS_MAX];
	int n = nl_addr_dump(t->nl, a, OWN_ADDRS_MAX);

	if (n < 0) {
		log_warnc(n, "cannot list the host's addresses");
		t->n_own = -1;
		return;
	}
	if (n > OWN_ADDRS_MAX && t->n_own <= OWN_ADDRS_MAX)
		log_warnx("%d host addresses: only the first %d are refused as inner sources", n,
			  OWN_ADDRS_MAX);
	memcpy(t->own_list, a, sizeof(a));
	if (t->fast && fp_set_own(&t->fp, a, (unsigned)(n < OWN_ADDRS_MAX ? n : OWN_ADDRS_MAX)) < 0)
		log_warn("eBPF fast path: cannot update the host's addresses");
	log_debug("%d host addresses refused as inner sources", n);
	t->n_own = n;
	tell_addrs(t);
}

static int setup_link(struct tunnel *t)
{
	struct config *c = &t->cfg;
	char path[128];
	int rc;

	t->ifindex = (int)if_nametoindex(c->name);
	if (!t->ifindex) {
		log_warn("%s: no interface index", c->name);
		return -1;
	}
	/* Like the kernel's ipip device: IPv4 only, no IPv6 link-local chatter. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", c->name);
	if (host_sysctl_write(path, "1") < 0)
		log_debug("%s: cannot disable IPv6 on the device", c->name);
	rc = nl_link_set(t->nl, t->ifindex, t->mtu, false);
	if (rc == 0)
		rc = nl_addr_add(t->nl, t->ifindex, c->addr.s_addr, c->prefixlen,
				 c->has_peer ? c->peer.s_addr : 0);
	if (rc == 0)
		rc = nl_link_set(t->nl, t->ifindex, 0, true);
	if (rc < 0) {
		log_warnc(rc, "%s: cannot configure the interface", c->name);
		return -1;
	}
	/* no qdisc in front of the TUN device, as the kernel's ipip device has none */
	if (!t->kernel && (rc = nl_qdisc_noqueue(t->nl, t->ifindex)) < 0)
		log_debug("%s: cannot set qdisc noqueue: %s", c->name, strerror(-rc));
	return 0;
}

/*
 * Create the tunnel's device of kind "ipip" (the kernel's) or "tun" (t->tun_fd),
 * recorded first with the interface index it is then given (another one if
 * that index was taken in between).  0 or -errno.
 */
static int create_link(struct tunnel *t, const char *kind)
{
	struct config *c = &t->cfg;
	int rc = -EBUSY, ifindex, undone;
	off_t at;

	for (int tries = 0; tries < 5 && rc == -EBUSY; tries++) {
		rc = nl_free_ifindex(t->nl, &ifindex);
		if (rc == 0)
			rc = host_record_link(t->state_path, ifindex, c->name, kind, &at);
		if (rc < 0)
			return rc;
		if (!strcmp(kind, "ipip")) {
			rc = nl_ipip_add(t->nl, c->name, &c->ip, t->mtu, ifindex);
		} else {
			t->tun_fd = tun_open(c->name, ifindex);
			rc = t->tun_fd < 0 ? t->tun_fd : 0;
		}
		/*
		 * The index taken meanwhile (the ipip module's tunl0, as the
		 * kernel loads it for this very request): -EBUSY, or -EEXIST
		 * on kernels that say so while our name is still free.  Not ours.
		 */
		if (rc == -EEXIST && !if_nametoindex(c->name))
			rc = -EBUSY;
		if (rc == -EBUSY && (undone = host_unrecord(t->state_path, at)) != 0)
			log_warnc(undone, "%s: cannot take back its last line", t->state_path);
	}
	return rc;
}

/*
 * Datapath = kernel or auto: the kernel's own ipip device, where the kernel
 * has it; ipipd then only sets it up, reports and cleans up.
 */
static int setup_kernel_device(struct tunnel *t)
{
	struct config *c = &t->cfg;
	int rc;

	const char *gap;
	unsigned line;
	char path[128];

	if (c->datapath == DPM_USERSPACE || c->datapath == DPM_EBPF) {
		snprintf(t->dp_reason, sizeof(t->dp_reason), "configured");
		return 0;
	}
	if (c->ip.remote_any) {	/* the config refuses Datapath = kernel with it */
		snprintf(t->dp_reason, sizeof(t->dp_reason), "Remote = any: the kernel's device "
			 "would take packets from any peer (ipipd checks AllowedRemotes and each "
			 "peer's inner sources)");
		return 0;
	}
	if (c->ip.encap != ENCAP_IPIP) {	/* the config refuses Datapath = kernel with it */
		snprintf(t->dp_reason, sizeof(t->dp_reason), "Encapsulation = %s: ipipd sets up the "
			 "kernel's device for protocol 4 only", c->ip.encap == ENCAP_FOU ? "fou" : "gue");
		return 0;
	}
	/* never ignore a key: where the kernel's device cannot enforce one, ipipd carries the packets */
	gap = config_kernel_gap(c, &line);
	if (gap && c->datapath == DPM_KERNEL) {
		t->config_error = true;
		fprintf(stderr, "%s:%u: %s: the kernel's ipip device (Datapath = kernel) cannot "
			"enforce it; use Datapath = auto, ebpf or userspace\n", c->path, line, gap);
		return -1;
	}
	if (gap) {
		snprintf(t->dp_reason, sizeof(t->dp_reason),
			 "%s: the kernel's ipip device would not enforce it", gap);
		return 0;
	}
	rc = create_link(t, "ipip");
	if (rc == 0) {
		t->kernel = true;
		/* inner packets with a source route option are refused on the device (AllowSourceRoute = no) */
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_source_route", c->name);
		if (host_sysctl_write(path, "0") < 0)
			log_warnx("%s: cannot refuse source-routed packets on the device", c->name);
		snprintf(t->dp_reason, sizeof(t->dp_reason), "%s",
			 c->datapath == DPM_KERNEL ? "configured" : "the kernel has ipip");
		if (c->ip.ecn != ECN_MODE_KERNEL || c->ip.dscp_uniform)
			log_warnx("%s: the kernel datapath encapsulates inner CE as ECT(0) and keeps "
				  "the inner DSCP (ECN = kernel, DSCP = pipe)", c->name);
		return 0;
	}
	host_cleanup(t->nl, c->name, t->state_path, stderr);
	if (c->datapath == DPM_KERNEL) {
		log_warnc(rc, "%s: Datapath = kernel: cannot create an ipip device", c->name);
		return -1;
	}
	snprintf(t->dp_reason, sizeof(t->dp_reason), "the kernel cannot create ipip devices: %s",
		 strerror(-rc));
	return 0;
}

void tunnel_soft_state(struct tunnel *t, const struct msg_soft *s)
{
	if (t->fast)
		fp_set_state(&t->fp, s->pmtu, s->path_ttl, s->unreach != 0);
}

/*
 * UnderlayOutput = auto: outer packets go straight to the next hop towards
 * Remote through a packet socket while the route leaves through an Ethernet
 * and the kernel has resolved the neighbour; looked up again every second.
 */
uint32_t tunnel_towards(const struct config *c)
{
	if (c->ip.remote_any && c->ip.n_allowed_remotes)
		return c->allowed_remotes[0].addr;
	return c->ip.remote;
}

#define FNV1A_BASIS 1469598103934665603ull

/* FNV-1a of p[0..n) on from sum. */
static uint64_t fnv1a(uint64_t sum, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		sum = (sum ^ b[i]) * 1099511628211ull;
	return sum;
}

/*
 * The peers: the gateways of the routes r[0..n), each once, sorted (at
 * most HUB_PEERS_MAX; sorted by hand: the sandbox refuses what glibc's
 * qsort() asks of the kernel).
 */
static void hub_gateways(struct tunnel *t, const struct nl_route_info *r, unsigned n)
{
	uint32_t *gw = t->hub_gw;

	t->hub_ngw = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned lo = 0, hi = t->hub_ngw;

		if (!r[i].gw)
			continue;
		while (lo < hi) {
			unsigned mid = (lo + hi) / 2;

			if (gw[mid] < r[i].gw)
				lo = mid + 1;
			else
				hi = mid;
		}
		if ((lo < t->hub_ngw && gw[lo] == r[i].gw) || t->hub_ngw == HUB_PEERS_MAX)
			continue;
		memmove(gw + lo + 1, gw + lo, (t->hub_ngw - lo) * sizeof(gw[0]));
		gw[lo] = r[i].gw;
		t->hub_ngw++;
	}
}

static int underlay_l2(struct tunnel *t, int ifindex);
static void fast_hub_underlays(struct tunnel *t);

/*
 * The eBPF fast path of a hub: the routes into the device, each with its
 * gateway's number (hub_ids), into the programs' route map.
 */
static void fast_routes(struct tunnel *t, const struct nl_route_info *r, const uint32_t *peer,
			unsigned n)
{
	static struct fp_hub_entry e[MSG_HUB_MAX];
	int rc;

	for (unsigned i = 0; i < n; i++)
		e[i] = (struct fp_hub_entry){ .dst = r[i].dst, .gw = r[i].gw, .len = r[i].len,
					      .peer = peer[i] };
	rc = fp_hub_routes(&t->fp, e, n);
	if (rc < 0) {
		log_warnc(rc, "%s: eBPF fast path: the routes into the device (the slow path has them)",
			  t->cfg.name);
	}
}

/*
 * ... and the device each peer's outer packets leave by (the route to its
 * address), looked up every second and as routes change; 0 (none, or the
 * hub's own device: a loop) leaves that peer's packets to the slow path.
 * With underlays, the shared ingress on the devices found (below) too.
 */
static void fast_peer_hops(struct tunnel *t, bool underlays)
{
	for (unsigned i = 0; i < t->hub_ngw; i++) {
		uint32_t idx = hub_id(&t->hub_ids, t->hub_gw[i]);
		int oif = 0, rc;

		if (idx == HUB_NO_PEER)
			continue;
		if (nl_route_oif(t->nl, t->hub_gw[i], &oif) < 0 || oif == t->ifindex || oif < 0)
			oif = 0;
		if ((uint32_t)oif == t->hub_fast_hop[idx])
			continue;
		rc = fp_hub_hop(&t->fp, idx, oif);
		if (rc < 0) {
			log_warnc(rc, "%s: eBPF fast path: a peer's device", t->cfg.name);
			continue;
		}
		t->hub_fast_hop[idx] = (uint32_t)oif;
	}
	if (underlays)
		fast_hub_underlays(t);	/* (below) */
}

/*
 * The devices the peers' outer packets leave by (below) other than the
 * tunnel's own underlay, of its link-layer header length: the peers'
 * packets arrive there too, and the underlay's shared ingress takes them
 * there as well.
 */
static void fast_hub_underlays(struct tunnel *t)
{
	uint32_t set[FPS_ALSO_MAX];
	unsigned n = 0;
	int l2 = -2;

	for (unsigned i = 0; i < t->hub_ngw; i++) {
		uint32_t idx = hub_id(&t->hub_ids, t->hub_gw[i]), oif, at;

		if (idx == HUB_NO_PEER || !(oif = t->hub_fast_hop[idx]) ||
		    oif == (uint32_t)t->underlay_ifindex)
			continue;
		for (at = 0; at < n && set[at] < oif; at++)
			;
		if ((at < n && set[at] == oif) || n == FPS_ALSO_MAX)
			continue;
		if (l2 == -2)
			l2 = underlay_l2(t, t->underlay_ifindex);
		if (underlay_l2(t, (int)oif) != l2)
			continue;	/* the ingress program reads the tunnel's own underlay's */
		memmove(set + at + 1, set + at, (n - at) * sizeof(*set));
		set[at] = oif;
		n++;
	}
	fp_hub_underlays(&t->fp, set, n);
}

void tunnel_follow_routes(struct tunnel *t)
{
	static struct nl_route_info r[MSG_HUB_MAX];
	static uint32_t peer[MSG_HUB_MAX];
	struct msg m = { .type = MSG_HUB_ROUTES };
	struct msg_hub *h = &m.u.hub;
	uint64_t sum = FNV1A_BASIS;
	int n;

	if (!t->up || t->kernel || !t->cfg.ip.remote_any)
		return;
	n = nl_route_dump_dev(t->nl, t->ifindex, r, MSG_HUB_MAX);
	if (n < 0) {
		log_warnc(n, "%s: the routes into the device", t->cfg.name);
		return;
	}
	if (n > (int)MSG_HUB_MAX) {
		log_warnx("%s: %d routes into the device: the datapath takes the first %u", t->cfg.name,
			  n, MSG_HUB_MAX);
		n = (int)MSG_HUB_MAX;
	}
	for (int i = 0; i < n; i++) {	/* a hash of what the datapath gets */
		uint32_t w[3] = { r[i].dst, r[i].gw, r[i].len };

		sum = fnv1a(sum, w, sizeof(w));
	}
	if (n == t->hub_routes && sum == t->hub_sum)
		return;		/* another device's routes changed */
	for (int i = 0; i < n; i++)	/* each gateway's number, new ones given one */
		peer[i] = hub_id(&t->hub_ids, r[i].gw);
	if (t->fast)
		fast_routes(t, r, peer, (unsigned)n);
	h->total = (uint32_t)n;
	for (uint32_t first = 0; first == 0 || first < (uint32_t)n; first += MSG_HUB_CHUNK) {
		h->first = first;
		h->n = (uint32_t)n - first < MSG_HUB_CHUNK ? (uint32_t)n - first : MSG_HUB_CHUNK;
		for (uint32_t i = 0; i < h->n; i++) {
			h->r[i].dst = r[first + i].dst;
			h->r[i].gw = r[first + i].gw;
			h->r[i].len = r[first + i].len;
			h->r[i].peer = peer[first + i];
		}
		if (msg_send(t->dp_fd, &m) < 0) {
			log_warn("%s: the routes into the device", t->cfg.name);
			t->hub_routes = -1;
			return;
		}
		if (!n)
			break;
	}
	if (t->hub_routes != n)
		log_debug("%s: %d routes into the device", t->cfg.name, n);
	t->hub_routes = n;
	t->hub_sum = sum;
	hub_gateways(t, r, (unsigned)n);
	tunnel_follow_hop(t, false);	/* new peers' next hops */
}

/*
 * Remote = any: the next hop of each peer, looked up as the point-to-point
 * one (nl_ether_hop: the underlay's route to the peer's address, not the
 * onlink route into the device), for the peers whose outer packets may go
 * straight to it; the others go through the kernel's IP output.  Sent to
 * the datapath process, MSG_HOPS_CHUNK at a time, when it changed (or a
 * send there failed: the datapath process keeps that peer off the packet
 * socket until the next table).
 */
static void follow_peer_hops(struct tunnel *t, bool failed)
{
	static struct msg_hub_hop all[MSG_HOPS_MAX];
	struct msg m = { .type = MSG_HUB_HOPS };
	struct msg_hub_hops *h = &m.u.hops;
	uint64_t sum = FNV1A_BASIS;
	uint32_t n = 0;

	for (unsigned i = 0; i < t->hub_ngw; i++) {
		struct nl_ether_hop hop;

		if (nl_ether_hop(t->nl, t->hub_gw[i], t->cfg.ip.local, &hop) < 0)
			continue;	/* not a resolved Ethernet neighbour: through the kernel */
		all[n].addr = t->hub_gw[i];
		all[n].ifindex = hop.ifindex;
		memcpy(all[n].mac, hop.mac, sizeof(hop.mac));
		sum = fnv1a(sum, &all[n], sizeof(all[n]));
		n++;
	}
	if ((int)n == t->hub_hops && sum == t->hops_sum && !failed)
		return;
	h->total = n;
	for (uint32_t first = 0; first == 0 || first < n; first += MSG_HOPS_CHUNK) {
		h->first = first;
		h->n = n - first < MSG_HOPS_CHUNK ? n - first : MSG_HOPS_CHUNK;
		memcpy(h->h, &all[first], h->n * sizeof(h->h[0]));
		if (msg_send(t->dp_fd, &m) < 0) {
			log_warn("%s: the peers' next hops", t->cfg.name);
			t->hub_hops = -1;
			return;
		}
		if (!n)
			break;
	}
	if ((int)n != t->hub_hops || failed)
		log_info("%s: outer packets to %u of %u peers go straight to their next hop%s",
			 t->cfg.name, n, t->hub_ngw, failed ? " (a send there had failed)" : "");
	t->hub_hops = (int)n;
	t->hops_sum = sum;
}

void tunnel_follow_hop(struct tunnel *t, bool failed)
{
	struct nl_ether_hop hop;
	struct msg m = { .type = MSG_HOP };
	char a[INET_ADDRSTRLEN];
	int rc;

	if (t->up && t->fast && t->cfg.ip.remote_any)
		fast_peer_hops(t, true);
	if (!t->up || t->kernel || !t->direct)
		return;
	if (t->cfg.ip.remote_any) {
		follow_peer_hops(t, failed);
		return;
	}
	rc = nl_ether_hop(t->nl, t->cfg.ip.remote, t->cfg.ip.local, &hop);
	if (rc < 0)
		memset(&hop, 0, sizeof(hop));
	m.u.hop.rc = rc < 0 ? rc : 0;
	m.u.hop.ifindex = hop.ifindex;
	m.u.hop.via = hop.via;
	memcpy(m.u.hop.mac, hop.mac, sizeof(hop.mac));
	memcpy(m.u.hop.src_mac, hop.src_mac, sizeof(hop.src_mac));
	m.u.hop.failed = failed;
	if (msg_send(t->dp_fd, &m) < 0)
		log_warn("datapath process: cannot send the next hop");
	if (rc == t->hop_rc && hop.ifindex == t->hop.ifindex &&
	    !memcmp(hop.mac, t->hop.mac, sizeof(hop.mac)) &&
	    !memcmp(hop.src_mac, t->hop.src_mac, sizeof(hop.src_mac)) && !failed)
		return;
	if (rc == 0)
		log_info("%s: outer packets go straight to %02x:%02x:%02x:%02x:%02x:%02x (%s) on ifindex %d%s",
			 t->cfg.name, hop.mac[0], hop.mac[1], hop.mac[2], hop.mac[3], hop.mac[4],
			 hop.mac[5], ip4(hop.via, a), hop.ifindex,
			 failed ? " (a send there had failed)" : "");
	else
		log_info("%s: outer packets go through the kernel's IP output: %s", t->cfg.name,
			 rc == -EPFNOSUPPORT ? "the next hop is not a neighbour on an Ethernet with ARP" :
			 rc == -EHOSTUNREACH ? "the next hop is not resolved (yet)" : strerror(-rc));
	t->hop = hop;
	t->hop_rc = rc;
}

/*
 * Datapath = ebpf or auto (without the kernel's device): the TC programs carry
 * ordinary packets; the userspace datapath stays as the slow path.
 */
static int record_tc_filter(void *arg, int ifindex, uint32_t handle, uint32_t prio)
{
	struct tunnel *t = arg;

	return host_record_tc_filter(t->state_path, ifindex, handle, prio);
}

/* fp_underlay_l2() of a device (-1: unknown or unusable). */
static int underlay_l2(struct tunnel *t, int ifindex)
{
	unsigned short type;

	return nl_link_type(t->nl, ifindex, &type) < 0 ? -1 : fp_underlay_l2(type);
}

/*
 * The eBPF fast path's next hop: the gateway of the route to Remote from
 * Local (or Remote on a link) as the kernel resolved it, so that the egress
 * program sends outer packets straight there, without a route and neighbour
 * lookup for each (the kernel's ipip device caches its route too).  Only on
 * the device the programs send to, an Ethernet; without a resolved neighbour
 * (or a unicast route, or with an IPv6 gateway) the kernel looks both up for
 * each packet, which resolves the neighbour, and the next look takes it.
 */
static void follow_fast_hop(struct tunnel *t)
{
	struct nl_ether_hop hop;
	struct fp_eth eth;
	bool ok;

	if (!t->up || !t->fast || t->cfg.ip.remote_any)
		return;
	ok = nl_ether_hop(t->nl, t->cfg.ip.remote, t->cfg.ip.local, &hop) == 0;
	if (ok) {
		memcpy(eth.dst, hop.mac, sizeof(eth.dst));
		memcpy(eth.src, hop.src_mac, sizeof(eth.src));
	}
	fp_set_next_hop(&t->fp, ok ? hop.ifindex : fp_underlay(&t->fp), ok ? &eth : NULL);
}

static int setup_fast_path(struct tunnel *t)
{
	struct config *c = &t->cfg;
	struct fp_config fc;
	char why[200], ingress[200], copy[200] = "";
	size_t n;
	int rc;

	if (t->kernel || (c->datapath != DPM_EBPF && c->datapath != DPM_AUTO))
		return 0;
	if (c->ip.learn_port || c->ip.udp_csum) {	/* the config refuses Datapath = ebpf with them */
		n = strlen(t->dp_reason);
		snprintf(t->dp_reason + n, sizeof(t->dp_reason) - n, "; eBPF: %s",
			 c->ip.learn_port ? "RemotePort = learn: the fast path does not follow ports" :
			 "UDPChecksum = yes: the fast path sends no UDP checksum");
		log_info("%s: userspace datapath (%s)", c->name, t->dp_reason);
		return 0;
	}
	fp_config_init(&fc, &c->ip, c->addr.s_addr, t->ifindex, t->underlay_ifindex, t->mtu);
	t->fp.record = record_tc_filter;
	t->fp.record_arg = t;
	rc = fp_start(&t->fp, &fc, c->name, c->fp_attach, t->own_list,
		      t->n_own < 0 ? 0 : (unsigned)(t->n_own < OWN_ADDRS_MAX ? t->n_own : OWN_ADDRS_MAX),
		      underlay_l2(t, t->underlay_ifindex), why, sizeof(why));
	if (rc < 0 && c->datapath == DPM_EBPF) {
		log_warnx("%s: Datapath = ebpf: %s", c->name, why);
		return -1;
	}
	n = strlen(t->dp_reason);
	if (rc < 0) {
		snprintf(t->dp_reason + n, sizeof(t->dp_reason) - n, "; eBPF: %s", why);
		log_info("%s: userspace datapath (%s)", c->name, t->dp_reason);
		return 0;
	}
	t->fast = true;
	/* the ingress program: the underlay's shared one, or the tunnel's own and why */
	if (t->fp.shared)
		snprintf(ingress, sizeof(ingress), "the underlay's shared ingress");
	else if (t->fp.tcx_full)	/* said just before */
		snprintf(ingress, sizeof(ingress), "own ingress");
	else
		snprintf(ingress, sizeof(ingress), "own ingress (%s)", t->fp.own_why);
	/* the programs: the copy the namespace's point-to-point tunnels share, or the tunnel's own */
	if (t->fp.shared_prog)
		snprintf(copy, sizeof(copy), "; the namespace's shared programs, slot %u", t->fp.slot);
	else if (t->fp.shared && !c->ip.remote_any && t->fp.own_why[0])
		snprintf(copy, sizeof(copy), "; own programs (%s)", t->fp.own_why);
	snprintf(t->dp_reason + n, sizeof(t->dp_reason) - n, "%s%s programs%s; %s%s", n ? "; " : "",
		 t->fp.attach, t->fp.tcx_full ?
		 " (the underlay's tcx ingress holds the most programs the kernel takes, 63)" : "",
		 ingress, copy);
	log_info("%s: eBPF fast path (%s)", c->name, t->dp_reason);
	return 0;
}

/* The kernel's own limits for the soft state (net.ipv4.route.*, ip_default_ttl). */
static unsigned sysctl_uint(const char *path, unsigned dflt)
{
	char buf[32];
	FILE *f = fopen(path, "re");
	unsigned long v;
	char *end;

	if (!f)
		return dflt;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return dflt;
	}
	fclose(f);
	v = strtoul(buf, &end, 10);
	return end == buf || v > 0xffffffffu ? dflt : (unsigned)v;
}

/* Local is an address of this host (one may bind to it). */
static bool local_assigned(uint32_t local)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = local };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return true;	/* cannot tell: the raw socket's bind says */
	rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == 0 || errno != EADDRNOTAVAIL;
}

/*
 * The datapath's sockets for c, made with the parent's privileges: the raw
 * socket (of protocol 4, or UDP for UDP encapsulation: its ICMP errors), and
 * for UDP encapsulation the UDP socket on Local and Port, if need_udp (else
 * *udp = -1: a new Remote keeps the socket the datapath has, bound to Local
 * and Port and not connected).  0, or -errno with what failed in *what.
 */
static int open_sockets(const struct config *c, int *raw, int *udp, const char **what,
			bool need_udp)
{
	*udp = -1;
	if (c->ip.encap == ENCAP_IPIP) {
		*what = "raw protocol-4 socket";
		*raw = raw_open(c->ip.local, c->ip.remote);
		return *raw < 0 ? *raw : 0;
	}
	*what = "raw UDP socket (for ICMP errors)";
	*raw = raw_open_udp(c->ip.local, c->ip.remote);
	if (*raw < 0 || !need_udp)
		return *raw < 0 ? *raw : 0;
	*what = "UDP socket on Port";
	*udp = udp_open(c->ip.local, c->ip.port);
	if (*udp < 0) {
		close(*raw);
		*raw = -1;
		return *udp;
	}
	return 0;
}

/*
 * Hand the datapath process its datapath: the descriptors made here with
 * privileges (the TUN device, the raw socket, the send sockets; the fast
 * path's shared memory), the device's settings and the soft state's
 * limits.  replace: a reload made a new raw socket (a new Local): only the
 * sockets go.  The parent keeps the TUN device (the device lives while
 * ipipd does) and closes its copies of the sockets.  0 or -1.
 */
static int send_datapath(struct tunnel *t, bool replace)
{
	struct msg m = { .type = MSG_DATAPATH };
	struct msg_datapath *md = &m.u.dp;
	struct dp_fds f = { .tun = -1, .raw = -1, .tx = -1, .pkt = -1, .udp = -1, .gso = -1 };
	int fds[MF_MAX], rc = 0;
	struct fp_pages slot, ctr;
	unsigned n = 0;

	md->kernel = t->kernel;
	md->fast = t->fast;
	md->replace = replace;
	md->ifindex = t->ifindex;
	md->mtu = t->mtu;
	md->route_mtu = t->route_mtu < 68 ? 68 : t->route_mtu > 0xffff ? 0xffff : t->route_mtu;
	md->floor = sysctl_uint("/proc/sys/net/ipv4/route/min_pmtu", SS_PMTU_FLOOR);
	md->expire_s = sysctl_uint("/proc/sys/net/ipv4/route/mtu_expires", SS_EXPIRE_S);
	md->ttl_max = sysctl_uint("/proc/sys/net/ipv4/ip_default_ttl", SS_TTL_MAX);
	snprintf(md->reason, sizeof(md->reason), "%s", t->dp_reason);
	if (!t->kernel) {
		rc = dp_prepare(&f, t->tun_fd, t->raw_fd, t->cfg.underlay_output != UO_KERNEL,
				t->cfg.ip.encap != ENCAP_IPIP && t->cfg.ip.udp_csum);
		if (rc < 0) {
			log_warnc(rc, "datapath sockets");
			return -1;
		}
		t->direct = f.pkt >= 0;
		md->vnet = f.vnet;
		md->direct = t->direct;
		md->gro_flags = f.gro_flags;
		if (!replace) {
			md->fds |= 1u << MF_TUN;
			fds[n++] = t->tun_fd;
		}
		md->fds |= 1u << MF_RAW;
		fds[n++] = t->raw_fd;
		if (f.tx >= 0) {
			md->fds |= 1u << MF_TX;
			fds[n++] = f.tx;
		}
		if (f.pkt >= 0) {
			md->fds |= 1u << MF_PACKET;
			fds[n++] = f.pkt;
		}
	}
	if (t->fast && !replace) {
		fp_shared(&t->fp, &slot, &ctr);
		md->fds |= 1u << MF_BSS | 1u << MF_COUNTERS;
		fds[n++] = slot.fd;
		fds[n++] = ctr.fd;
		md->bss_len = (uint32_t)slot.len;
		md->bss_off = (uint32_t)slot.off;
		md->counters_len = (uint32_t)ctr.len;
		md->counters_off = (uint32_t)ctr.off;
		md->ncpus = t->fp.ncpus;
		md->prog_id[0] = t->fp.prog_id[FP_EGRESS];
		md->prog_id[1] = t->fp.prog_id[FP_INGRESS];
		snprintf(md->attach, sizeof(md->attach), "%s", t->fp.attach);
	}
	if (!t->kernel && t->udp_fd >= 0) {	/* MF order: after the fast path's */
		md->fds |= 1u << MF_UDP;
		fds[n++] = t->udp_fd;
	}
	if (f.gso >= 0) {
		md->fds |= 1u << MF_GSO;
		fds[n++] = f.gso;
	}
	if (t->fast && !replace) {	/* Remote = any: the peers' fast-path counters */
		size_t peers_len;
		int peers_fd = fp_hub_fd(&t->fp, &peers_len);

		if (peers_fd >= 0) {
			md->fds |= 1u << MF_PEERS;
			fds[n++] = peers_fd;
			md->peers_len = (uint32_t)peers_len;
		}
	}
	rc = msg_send_fds(t->dp_fd, &m, fds, n);
	if (rc < 0) {
		log_warnc(rc, "datapath process: cannot hand over the datapath");
	}
	/* the datapath process has its own copies now */
	if (f.tx >= 0)
		close(f.tx);
	if (f.pkt >= 0)
		close(f.pkt);
	if (f.gso >= 0)
		close(f.gso);
	if (t->raw_fd >= 0)
		close(t->raw_fd);
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	t->raw_fd = t->udp_fd = -1;
	return rc < 0 ? -1 : 0;
}

/*
 * Set the tunnel up, once Local is an address of the host and Remote has a
 * route (at boot, maybe not yet): the device, its address, the host setup,
 * the datapath.  0: up (the datapath process says MSG_READY when it runs);
 * 1: waiting (t->waiting says for what; nothing was changed); -1: failed.
 */
int tunnel_bring_up(struct tunnel *t)
{
	struct config *c = &t->cfg;
	struct msg pm = { .type = MSG_PARAMS };
	char a[INET_ADDRSTRLEN];
	unsigned umtu;
	uint32_t src;
	const char *what;
	int oif, rc;

	if (c->remote_name[0] && !c->ip.remote) {
		snprintf(t->waiting, sizeof(t->waiting), "Remote %.70s to resolve (%.60s)",
			 c->remote_name, t->resolve_err[0] ? t->resolve_err : "looking it up");
		return 1;
	}
	if (c->local_auto) {	/* the source address of the route to Remote */
		rc = nl_route_src(t->nl, c->ip.remote, &src);
		if (rc < 0) {
			snprintf(t->waiting, sizeof(t->waiting), "a route to Remote %s with a "
				 "source address for Local = auto (%s)", ip4(c->ip.remote, a),
				 strerror(-rc));
			return 1;
		}
		c->ip.local = c->ip.own[0] = src;
	}
	if (!local_assigned(c->ip.local)) {
		snprintf(t->waiting, sizeof(t->waiting), "Local %s to be an address of this host",
			 ip4(c->ip.local, a));
		return 1;
	}
	rc = nl_route_mtu(t->nl, tunnel_towards(c), &umtu, &oif);
	if (rc < 0) {
		snprintf(t->waiting, sizeof(t->waiting), "a route to %s %s (%s)",
			 c->ip.remote_any ? "AllowedRemotes" : "Remote", ip4(tunnel_towards(c), a),
			 strerror(-rc));
		return 1;
	}
	t->underlay_ifindex = oif;
	t->route_mtu = umtu;
	t->mtu = tunnel_mtu(c, umtu);
	if (setup_kernel_device(t) < 0)
		return -1;
	if (!t->kernel) {
		rc = open_sockets(c, &t->raw_fd, &t->udp_fd, &what, true);
		if (rc < 0) {
			log_warnc(rc, "%s on Local %s", what, ip4(c->ip.local, a));
			return -1;
		}
		rc = create_link(t, "tun");
		if (rc < 0) {
			log_warnc(rc, "%s: cannot create the TUN device", c->name);
			return -1;
		}
	}
	if (setup_link(t) < 0)
		return -1;
	if (fwwatch_open(c) < 0)
		return -1;
	if (host_apply(c, t->nl, t->ifindex, t->state_path, stderr) < 0)
		return -1;
	if (setup_fast_path(t) < 0)
		return -1;
	/* the endpoints as they are now (the datapath process was forked before) */
	tunnel_params(c, t->mtu, &pm.u.params);
	if (msg_send(t->dp_fd, &pm) < 0 || send_datapath(t, false) < 0)
		return -1;
	t->up = true;
	follow_fast_hop(t);
	t->hop_rc = 1;	/* log the first lookup */
	t->hub_hops = -1;
	t->hub_ngw = 0;
	t->hub_ids.n = 0;	/* a new datapath process's entries, new programs' maps */
	memset(t->hub_fast_hop, 0, sizeof(t->hub_fast_hop));
	tunnel_follow_hop(t, false);
	t->hub_routes = -1;
	tunnel_follow_routes(t);
	log_info("tunnel %s up: local %s remote %s mtu %u", c->name, ip4(c->ip.local, a),
		 c->ip.remote_any ? "any" : ip4(c->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }), t->mtu);
	return 0;
}

static uint64_t sysfs_counter(const char *ifname, const char *name)
{
	char path[128], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strtoull(buf, NULL, 10);
}

/* The parent's part of `ipipctl show`: what needs privileges or the kernel device. */
void tunnel_send_status(struct tunnel *t)
{
	static const char *const names[MK_MAX] = {
		[MK_RX_PACKETS] = "rx_packets", [MK_RX_BYTES] = "rx_bytes",
		[MK_TX_PACKETS] = "tx_packets", [MK_TX_BYTES] = "tx_bytes",
		[MK_RX_ECN_DROPS] = "rx_frame_errors", [MK_TX_ERRORS] = "tx_errors",
	};
	struct msg m = { .type = MSG_STATUS };

	m.u.status.fw_rules = (t->cfg.fw_forward || t->cfg.fw_input) && t->up ?
			      fw_count(t->cfg.name) : -1;
	if (m.u.status.fw_rules < -1)
		m.u.status.fw_rules = -1;
	m.u.status.underlay = t->underlay_ifindex;
	m.u.status.device_down = t->device_down;
	memcpy(m.u.status.device_renamed, t->device_renamed, sizeof(t->device_renamed));
	for (unsigned i = 0; i <= t->cfg.n_routes; i++) {
		struct config_route rt;

		if (!config_route_at(&t->cfg, i, &rt) || !t->displaced.at[i])
			continue;
		if (!m.u.status.displaced++) {
			m.u.status.displaced_dst = rt.dst.addr;
			m.u.status.displaced_len = rt.dst.len;
			m.u.status.displaced_table = rt.table;
		}
	}
	for (int i = 0; t->kernel && i < MK_MAX; i++)
		m.u.status.kernel[i] = sysfs_counter(t->cfg.name, names[i]);
	if (msg_send(t->dp_fd, &m) < 0)
		log_warn("datapath process: cannot send the status");
}

/*
 * The route to Remote, every second and when the datapath process asks: its
 * MTU goes to the datapath process when it changed (or was asked for), and
 * the fast path follows it: when it leaves through another device (the
 * underlay was replaced, or a route changed), the ingress program moves
 * there and outer packets go there (to the route's next hop there:
 * follow_fast_hop(), after it).
 */
static void follow_underlay(struct tunnel *t, bool asked)
{
	struct msg m = { .type = MSG_ROUTE_MTU };
	unsigned umtu;
	int oif, rc;

	if (!t->up || t->kernel || nl_route_mtu(t->nl, tunnel_towards(&t->cfg), &umtu, &oif) < 0)
		return;
	/* the datapath process keeps the path MTU within the route's */
	if (umtu != t->route_mtu || asked) {
		t->route_mtu = umtu;
		m.u.route.mtu = umtu < 68 ? 68 : umtu > 0xffff ? 0xffff : umtu;
		if (msg_send(t->dp_fd, &m) < 0)
			log_warn("datapath process: cannot send the route's MTU");
	}
	if (t->fast)
		fp_tick(&t->fp);
	if (oif == t->underlay_ifindex)
		return;
	if (!t->fast) {
		t->underlay_ifindex = oif;
		return;
	}
	/*
	 * A hub: its peers' outer packets to their new devices first (a map
	 * each), as fp_move_underlay() does for its own: the ingress program's
	 * move below waits for the RTNL lock.
	 */
	if (t->cfg.ip.remote_any)
		fast_peer_hops(t, false);
	rc = fp_move_underlay(&t->fp, oif, underlay_l2(t, oif));
	if (rc < 0) {
		log_warnc(rc, "eBPF fast path: cannot move to ifindex %d", oif);
		return;
	}
	log_info("%s: eBPF fast path: the route to Remote now leaves through ifindex %d (was %d)",
		 t->cfg.name, oif, t->underlay_ifindex);
	t->underlay_ifindex = oif;
}

void tunnel_follow_underlay(struct tunnel *t, bool asked)
{
	follow_underlay(t, asked);
	follow_fast_hop(t);	/* after a move: the programs' device first */
}

/*
 * A reload's changes to the running tunnel, checked first (a route to the
 * new Remote, the new Local an address here), then applied: the device
 * (the kernel's by changelink; the TUN device's MTU), its address, the
 * fast path's settings, the datapath process's, the host by difference.
 * 0, or -errno with text saying why (nothing was changed if a check failed).
 */
int tunnel_apply(struct tunnel *t, struct config *nc, const struct tunnel_diff *td,
			FILE *err)
{
	struct config *c = &t->cfg;
	char a[INET_ADDRSTRLEN];
	struct msg m = { .type = MSG_PARAMS };
	unsigned umtu = t->route_mtu, mtu;
	int oif, rc, raw = -1, udp = -1;
	const char *what;

	if (td->live & TC_REMOTE) {
		rc = nl_route_mtu(t->nl, nc->ip.remote, &umtu, &oif);
		if (rc < 0) {
			fprintf(err, "%s:%u: Remote %s: no route (%s); nothing was changed\n", nc->path,
				 nc->line.remote, ip4(nc->ip.remote, a), strerror(-rc));
			return rc;
		}
	}
	if ((td->live & TC_LOCAL) && !local_assigned(nc->ip.local)) {
		fprintf(err, "%s:%u: Local %s is not an address of this host; nothing was changed\n", nc->path,
			 nc->line.local, ip4(nc->ip.local, a));
		return -EADDRNOTAVAIL;
	}
	if ((td->live & (TC_LOCAL | TC_REMOTE)) && !t->kernel) {
		rc = open_sockets(nc, &raw, &udp, &what, td->live & TC_LOCAL);
		if (rc < 0) {
			fprintf(err, "%s on Local %s: %s; nothing was changed\n", what,
				 ip4(nc->ip.local, a), strerror(-rc));
			return rc;
		}
	}
	mtu = tunnel_mtu(nc, umtu);
	/* checked: from here on the tunnel changes */
	if (t->kernel) {
		rc = nl_ipip_change(t->nl, t->ifindex, &nc->ip, mtu != t->mtu ? mtu : 0);
		if (rc < 0)
			fprintf(err, "%s: the kernel's device: %s\n", c->name, strerror(-rc));
	} else if (mtu != t->mtu && (rc = nl_link_set_mtu(t->nl, t->ifindex, mtu)) < 0) {
		fprintf(err, "%s: MTU %u: %s\n", c->name, mtu, strerror(-rc));
		mtu = t->mtu;
	}
	if ((td->live & TC_ROUTES) && host_routes_change(c, nc, t->nl, t->ifindex, err) < 0)
		fprintf(err, "%s: the routes were changed only in part\n", c->name);
	if (td->live & TC_ADDRESS) {
		rc = nl_addr_del(t->nl, t->ifindex, c->addr.s_addr, c->prefixlen,
				 c->has_peer ? c->peer.s_addr : 0);
		if (rc < 0 && rc != -EADDRNOTAVAIL)
			fprintf(err, "%s: the old address: %s\n", c->name, strerror(-rc));
		rc = nl_addr_add(t->nl, t->ifindex, nc->addr.s_addr, nc->prefixlen,
				 nc->has_peer ? nc->peer.s_addr : 0);
		if (rc < 0)
			fprintf(err, "%s:%u: Address: %s\n", nc->path, nc->line.address,
				strerror(-rc));
	}
	if (raw >= 0) {	/* a new raw socket first, then the settings that go with it */
		t->raw_fd = raw;
		t->udp_fd = udp;
		if (send_datapath(t, true) < 0)
			fprintf(err, "%s: the datapath's new sockets could not be handed over\n",
				c->name);
	}
	if (t->fast) {
		struct fp_config fc;

		fp_config_init(&fc, &nc->ip, nc->addr.s_addr, t->ifindex, t->underlay_ifindex, mtu);
		fp_set_config(&t->fp, &fc);
	}
	tunnel_params(nc, mtu, &m.u.params);
	if (msg_send(t->dp_fd, &m) < 0)
		fprintf(err, "%s: the datapath process was not told the new settings\n", c->name);
	if (host_reapply(c, nc, td->host, t->nl, t->ifindex, t->state_path, err) < 0)
		fprintf(err, "%s: the host setup was changed only in part; see %s\n", c->name,
			t->state_path);
	t->mtu = mtu;
	return 0;
}

/* The new configuration is the tunnel's now (its pointers into itself made again). */
void tunnel_adopt(struct tunnel *t, const struct config *nc)
{
	t->cfg = *nc;
	config_own_lists(&t->cfg);
	t->cfg.ip.host = &t->own;
}

/*
 * A reload's Remote given as a name and Local = auto: the addresses they
 * stand for now (Remote's looked up again only if the name changed).
 * While the tunnel is up, one that cannot be found refuses the reload
 * (-1, said to err); while it waits, it is waited for.
 */
int tunnel_fill_endpoints(struct tunnel *t, struct config *nc, FILE *err)
{
	char e[ENDPOINT_ERR_MAX];
	uint32_t a;
	int rc;

	if (nc->remote_name[0]) {
		if (!strcmp(nc->remote_name, t->cfg.remote_name) && t->cfg.ip.remote) {
			nc->ip.remote = t->cfg.ip.remote;	/* looked up on its own schedule */
		} else if (endpoint_resolve(nc->remote_name, &a, e, sizeof(e)) == 0) {
			nc->ip.remote = a;
		} else if (t->up) {
			fprintf(err, "%s:%u: Remote %s: %s; nothing was changed\n", nc->path,
				nc->line.remote, nc->remote_name, e);
			return -1;
		}
	}
	if (nc->local_auto && nc->ip.remote) {
		rc = nl_route_src(t->nl, nc->ip.remote, &a);
		if (rc == 0) {
			nc->ip.local = a;
		} else if (t->up) {
			fprintf(err, "%s:%u: Local = auto: no source address for Remote %s (%s); "
				"nothing was changed\n", nc->path, nc->line.local,
				ip4(nc->ip.remote, (char[INET_ADDRSTRLEN]){ 0 }), strerror(-rc));
			return -1;
		}
	}
	nc->ip.own[0] = nc->ip.local;
	return 0;
}

/*
 * Remote's name resolves to another address, or Local = auto has another
 * source address (a home end's new ISP address): applied to the running
 * tunnel as a reload applies a new Local or Remote, nothing else touched.
 * remote: the new address (0: Remote stays).
 */
int tunnel_follow_endpoints(struct tunnel *t, uint32_t remote)
{
	static struct config nc;
	struct config *c = &t->cfg;
	struct tunnel_diff td;
	char *errs = NULL, a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	size_t errs_len = 0;
	uint32_t local = c->ip.local;
	FILE *err;
	int rc;

	if (!t->up)
		return 0;
	if (!remote)
		remote = c->ip.remote;
	if (c->local_auto && nl_route_src(t->nl, remote, &local) < 0)
		local = c->ip.local;	/* none now (an address going away): wait for the next */
	if (local == c->ip.local && remote == c->ip.remote)
		return 0;
	nc = *c;
	nc.ip.local = nc.ip.own[0] = local;
	nc.ip.remote = remote;
	config_own_lists(&nc);
	tunnel_diff(c, &nc, t->kernel, &td);
	err = open_memstream(&errs, &errs_len);
	if (!err) {
		log_warn("%s: following the endpoints", c->name);
		return 0;
	}
	rc = tunnel_apply(t, &nc, &td, err);
	fclose(err);
	if (errs && errs_len)
		log_lines(c->name, errs);
	free(errs);
	if (rc < 0)
		return 0;		/* tried again at the next change */
	log_info("%s: now local %s%s, remote %s%s%s%s", c->name, ip4(local, a),
		 local != c->ip.local ? " (Local = auto: the route's source address changed)" : "",
		 ip4(remote, b), remote != c->ip.remote ? " (" : "",
		 remote == c->ip.remote ? "" : c->remote_name[0] ? c->remote_name :
		 "RemotePort = learn: its packets come from there",
		 remote == c->ip.remote ? "" : c->remote_name[0] ? " resolves to it)" : ")");
	tunnel_adopt(t, &nc);
	if (td.host & HG_FIREWALL) {	/* Input = accept: the rules name Local and Remote */
		fwwatch_close();
		if (fwwatch_open(c) < 0)
			log_warnx("%s: the firewall is no longer followed", c->name);
	}
	tunnel_follow_underlay(t, true);
	tunnel_follow_hop(t, false);
	return 1;
}

/*
 * Remote as a name: looked up now, off the loop (every ResolveInterval,
 * sooner after a failure to reach Remote or while the tunnel waits for it).
 */
void tunnel_lookup(struct tunnel *t)
{
	int rc;

	if (!t->cfg.remote_name[0])
		return;
	rc = resolver_ask(&t->res, t->cfg.remote_name);
	if (rc < 0) {
		log_warnc(rc, "%s: cannot look Remote %s up", t->cfg.name, t->cfg.remote_name);
		t->resolve_at = now_ms() + TUNNEL_RETRY_MS;
		return;
	}
	t->resolve_at = 0;	/* until it is over */
	t->resolve_asked = now_ms();
}

void tunnel_resolve_first(struct tunnel *t)
{
	uint32_t a;

	if (!t->cfg.remote_name[0])
		return;
	if (endpoint_resolve(t->cfg.remote_name, &a, t->resolve_err, sizeof(t->resolve_err)) == 0) {
		t->cfg.ip.remote = a;
		t->resolve_err[0] = '\0';
		t->resolve_at = now_ms() + t->cfg.resolve_interval * 1000ull;
	} else {
		log_warnx("%s: Remote %s: cannot look it up: %s", t->cfg.name, t->cfg.remote_name,
			  t->resolve_err);
		t->resolve_at = now_ms() + TUNNEL_RETRY_MS;
	}
}

/* Early, after a failure to reach Remote (at most every TUNNEL_RETRY_MS). */
void tunnel_lookup_early(struct tunnel *t)
{
	if (t->cfg.remote_name[0] && now_ms() - t->resolve_asked >= TUNNEL_RETRY_MS)
		tunnel_lookup(t);
}

void tunnel_remote_seen(struct tunnel *t, uint32_t addr)
{
	const uint8_t *b = (const uint8_t *)&addr;
	char a[INET_ADDRSTRLEN];

	/* the datapath process handles untrusted packets: it gets what learn allows, no more */
	if (!t->cfg.ip.learn_port || t->kernel || t->fast) {
		log_warnx("%s: the datapath process says Remote moved to %s; without RemotePort = "
			  "learn (on the userspace datapath) that is not followed", t->cfg.name,
			  ip4(addr, a));
		return;
	}
	if (addr == t->cfg.ip.remote || b[0] == 0 || b[0] == 127 || b[0] >= 224 ||
	    now_ms() - t->moved_ms < 1000 || local_assigned(addr))
		return;
	t->moved_ms = now_ms();
	tunnel_follow_endpoints(t, addr);
}

/*
 * A lookup is over: a new address is followed; a failure keeps the last one.
 * -1 if the tunnel failed to come up with it.
 */
int tunnel_lookup_done(struct tunnel *t)
{
	char name[ENDPOINT_NAME_MAX], e[ENDPOINT_ERR_MAX], a[INET_ADDRSTRLEN];
	uint32_t addr;
	int rc;

	if (resolver_take(&t->res, name, &addr, &rc, e) <= 0)
		return 0;
	if (strcmp(name, t->cfg.remote_name)) {	/* a reload changed the name meanwhile */
		tunnel_lookup(t);
		return 0;
	}
	if (rc < 0) {
		if (strcmp(e, t->resolve_err))
			log_warnx("%s: Remote %s: cannot look it up: %s%s%s", t->cfg.name, name, e,
				  t->cfg.ip.remote ? "; keeping " : "",
				  t->cfg.ip.remote ? ip4(t->cfg.ip.remote, a) : "");
		snprintf(t->resolve_err, sizeof(t->resolve_err), "%s", e);
		t->resolve_at = now_ms() + (t->cfg.ip.remote &&
			t->cfg.resolve_interval * 1000ull < TUNNEL_RETRY_MS * 6 ?
			t->cfg.resolve_interval * 1000ull : TUNNEL_RETRY_MS * 6);
		if (!t->up)
			t->resolve_at = now_ms() + TUNNEL_RETRY_MS;
		return 0;
	}
	if (t->resolve_err[0])
		log_info("%s: Remote %s resolves again: %s", t->cfg.name, name, ip4(addr, a));
	t->resolve_err[0] = '\0';
	t->resolve_at = now_ms() + t->cfg.resolve_interval * 1000ull;
	if (addr == t->cfg.ip.remote)
		return 0;
	if (!t->up) {
		t->cfg.ip.remote = addr;
		return 2;
	}
	log_info("%s: Remote %s now resolves to %s (was %s)", t->cfg.name, name, ip4(addr, a),
		 ip4(t->cfg.ip.remote, (char[INET_ADDRSTRLEN]){ 0 }));
	return tunnel_follow_endpoints(t, addr);
}

/* Close what the tunnel holds (the host setup is undone from its journal, host_cleanup()). */
void tunnel_close(struct tunnel *t)
{
	resolver_close(&t->res);
	fwwatch_close();
	fp_stop(&t->fp);	/* before the device it redirects to goes */
	if (t->tun_fd >= 0) {
		/* The device goes with its last descriptor, and its addresses and routes with it. */
		close(t->tun_fd);
		t->tun_fd = -1;
	}
	if (t->raw_fd >= 0)
		close(t->raw_fd);
	if (t->udp_fd >= 0)
		close(t->udp_fd);
	t->raw_fd = t->udp_fd = -1;
}

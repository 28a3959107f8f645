/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "netlink.h"

#include "packet.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/pkt_sched.h>
#include <linux/if_tunnel.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NL_BUF 16384 /* >= MNL_SOCKET_BUFFER_SIZE (at most 8192) */

static int nl_open_groups(struct nl *nl, unsigned groups, int flags)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | flags);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return -e;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	return 0;
}

int nl_open(struct nl *nl)
{
	return nl_open_groups(nl, 0, 0);
}

int nl_monitor_open(struct nl *nl, unsigned groups)
{
	int rc = nl_open_groups(nl, groups, SOCK_NONBLOCK);

	return rc < 0 ? rc : mnl_socket_get_fd(nl->sock);
}

void nl_close(struct nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

/* Send one request and run cb on each reply until the ACK or DONE. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[NL_BUF];
	unsigned seq = ++nl->seq;
	ssize_t n;
	int rc;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
		if (rc < 0)
			return -errno;
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *nl_req(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* What RTM_GETROUTE tells about the route to an address. */
struct route_reply {
	int oif;
	unsigned mtu;		/* RTAX_MTU, 0: none */
	uint32_t gw;		/* RTA_GATEWAY, 0: none (on-link) */
	uint32_t prefsrc;	/* RTA_PREFSRC, 0: none */
	uint8_t type;		/* rtm_type */
	bool via6;		/* RTA_VIA: an IPv6 next hop (RFC 5549) */
};

static int route_metrics_cb(const struct nlattr *a, void *data)
{
	struct route_reply *r = data;

	if (mnl_attr_get_type(a) == RTAX_MTU && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		r->mtu = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_reply *r = data;

	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->oif = (int)mnl_attr_get_u32(a);
		break;
	case RTA_GATEWAY:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->gw = mnl_attr_get_u32(a);
		break;
	case RTA_PREFSRC:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			r->prefsrc = mnl_attr_get_u32(a);
		break;
	case RTA_VIA:
		r->via6 = true;
		break;
	case RTA_METRICS:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(a, route_metrics_cb, r);
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	((struct route_reply *)data)->type = rtm->rtm_type;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, data);
	return MNL_CB_OK;
}

struct mon_count {
	int ifindex;
	int other;
};

/* One notification: does it concern anything but the device ifindex (a link, a route)? */
static int other_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mon_count *c = data;

	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK) {
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifi)) && ifi->ifi_index != c->ifindex)
			c->other++;
	} else if (nlh->nlmsg_type == RTM_NEWROUTE || nlh->nlmsg_type == RTM_DELROUTE) {
		struct route_reply r = { 0 };
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
			return MNL_CB_OK;
		r.oif = -1;
		mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &r);
		/* a route with several next hops, or none on ifindex: another device's */
		if (rtm->rtm_family == AF_INET && r.oif != c->ifindex)
			c->other++;
	}
	return MNL_CB_OK;
}

/*
 * Read every pending notification, each through cb (if not NULL); how many
 * reads, and *lost: notifications were lost (the socket's buffer overran).
 */
static int drain(struct nl *nl, mnl_cb_t cb, void *data, bool *lost)
{
	char buf[NL_BUF];
	int got = 0;

	*lost = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));

		if (n > 0) {
			got++;
			if (cb)
				mnl_cb_run(buf, (size_t)n, 0, 0, cb, data);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == ENOBUFS) {
			got++;
			*lost = true;
		} else {
			return got;
		}
	}
}

int nl_monitor_drain_other(struct nl *nl, int ifindex, int *other)
{
	struct mon_count c = { .ifindex = ifindex };
	bool lost;
	int got = drain(nl, other ? other_cb : NULL, &c, &lost);

	/* lost: the caller dumps anew, and any of them may have been another device's */
	if (other)
		*other = c.other + lost;
	return got;
}

struct mon_kind {
	int seen;
	int ifindex;
	unsigned table;
	const struct nl_route_info *routes;
	unsigned n_routes;
};

#define MON_ATTRS 64	/* above RTA_MAX and FRA_MAX */

/* The u32 attributes of a notification, by type (the others are not needed). */
static int u32_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned type = mnl_attr_get_type(a);

	if (type < MON_ATTRS && mnl_attr_get_payload_len(a) == sizeof(uint32_t))
		tb[type] = a;
	return MNL_CB_OK;
}

static uint32_t u32_or(const struct nlattr *a, uint32_t dflt)
{
	return a ? mnl_attr_get_u32(a) : dflt;
}

/* Was one of the tunnel's deleted: an address of its device, a route through it or in its table, a rule? */
static bool gone(const struct nlmsghdr *nlh, const struct mon_kind *k)
{
	const struct nlattr *tb[MON_ATTRS] = { 0 };

	if (nlh->nlmsg_type == RTM_DELADDR) {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		return nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifa)) && ifa->ifa_family == AF_INET &&
		       k->ifindex > 0 && ifa->ifa_index == (unsigned)k->ifindex;
	}
	if (nlh->nlmsg_type == RTM_DELROUTE) {
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) || rtm->rtm_family != AF_INET)
			return false;
		mnl_attr_parse(nlh, sizeof(*rtm), u32_attr_cb, tb);
		return (k->table && u32_or(tb[RTA_TABLE], rtm->rtm_table) == k->table) ||
		       (k->ifindex > 0 && u32_or(tb[RTA_OIF], 0) == (uint32_t)k->ifindex);
	}
	if (nlh->nlmsg_type == RTM_NEWROUTE && (nlh->nlmsg_flags & NLM_F_REPLACE)) {
		/* `ip route replace`: the one it replaced is not said deleted */
		const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) || rtm->rtm_family != AF_INET)
			return false;
		mnl_attr_parse(nlh, sizeof(*rtm), u32_attr_cb, tb);
		if (k->ifindex > 0 && u32_or(tb[RTA_OIF], 0) == (uint32_t)k->ifindex)
			return false;	/* (through the device: the tunnel's, or put in by hand) */
		for (unsigned i = 0; i < k->n_routes; i++)
			if (u32_or(tb[RTA_DST], 0) == k->routes[i].dst &&
			    rtm->rtm_dst_len == k->routes[i].len &&
			    u32_or(tb[RTA_TABLE], rtm->rtm_table) == k->routes[i].table &&
			    u32_or(tb[RTA_PRIORITY], 0) == k->routes[i].metric)
				return true;
		return false;
	}
	if (nlh->nlmsg_type == RTM_DELRULE) {
		const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*frh)) || frh->family != AF_INET)
			return false;
		mnl_attr_parse(nlh, sizeof(*frh), u32_attr_cb, tb);
		return k->table && u32_or(tb[FRA_TABLE], frh->table) == k->table;
	}
	return false;
}

static int kind_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mon_kind *k = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWADDR: case RTM_DELADDR: k->seen |= NL_MON_ADDR; break;
	case RTM_NEWLINK: case RTM_DELLINK: k->seen |= NL_MON_LINK; break;
	case RTM_NEWROUTE: case RTM_DELROUTE: k->seen |= NL_MON_ROUTE; break;
	}
	if (gone(nlh, k))
		k->seen |= NL_MON_GONE;
	return MNL_CB_OK;
}

int nl_monitor_drain(struct nl *nl, int ifindex, unsigned table,
		     const struct nl_route_info *routes, unsigned n_routes)
{
	struct mon_kind k = { .ifindex = ifindex, .table = table, .routes = routes,
			      .n_routes = n_routes };
	bool lost;

	drain(nl, kind_cb, &k, &lost);
	return lost ? NL_MON_ADDR | NL_MON_LINK | NL_MON_ROUTE | NL_MON_GONE : k.seen;	/* lost: anything */
}

/* ip route get [fibmatch] DST [from SRC] (src 0: none). */
static int route_get_flags(struct nl *nl, uint32_t dst, uint32_t src, unsigned flags,
			   struct route_reply *r)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETROUTE, NLM_F_ACK);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	memset(r, 0, sizeof(*r));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_flags = flags;
	mnl_attr_put_u32(nlh, RTA_DST, dst);
	if (src) {
		rtm->rtm_src_len = 32;
		mnl_attr_put_u32(nlh, RTA_SRC, src);
	}
	return nl_talk(nl, nlh, route_cb, r);
}

static int route_get(struct nl *nl, uint32_t dst, uint32_t src, struct route_reply *r)
{
	return route_get_flags(nl, dst, src, 0, r);
}

/* What RTM_GETLINK tells about an interface. */
struct link_reply {
	unsigned mtu;		/* 0: none reported */
	unsigned short type;	/* ARPHRD_* */
	unsigned flags;		/* IFF_* */
	bool ether_addr;	/* an IFLA_ADDRESS of Ethernet length ... */
	uint8_t mac[NL_ETH_ALEN];	/* ... this one */
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_reply *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_ADDRESS:
		l->ether_addr = mnl_attr_get_payload_len(a) == NL_ETH_ALEN;
		if (l->ether_addr)
			memcpy(l->mac, mnl_attr_get_payload(a), NL_ETH_ALEN);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_reply *l = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	l->type = ifi->ifi_type;
	l->flags = ifi->ifi_flags;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, data);
	return MNL_CB_OK;
}

static int link_get(struct nl *nl, int ifindex, struct link_reply *l)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	memset(l, 0, sizeof(*l));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nl_talk(nl, nlh, link_cb, l);
}

int nl_link_flags(struct nl *nl, int ifindex, unsigned *flags)
{
	struct link_reply l;
	int rc = link_get(nl, ifindex, &l);

	if (rc == 0)
		*flags = l.flags;
	return rc;
}

int nl_route_oif(struct nl *nl, uint32_t dst, int *oif)
{
	struct route_reply r;
	int rc = route_get(nl, dst, 0, &r);

	if (rc < 0)
		return rc;
	if (!r.oif)
		return -ENETUNREACH;
	*oif = r.oif;
	return 0;
}

int nl_route_mtu(struct nl *nl, uint32_t dst, unsigned *mtu, int *oif)
{
	struct route_reply fib;
	int rc = nl_route_oif(nl, dst, oif);

	if (rc < 0)
		return rc;
	/*
	 * The MTU of the route as configured (the FIB entry's metric), not the
	 * one the lookup reports: that includes what the kernel learned from
	 * ICMP "fragmentation needed", which anyone may forge about Remote.
	 */
	if (route_get_flags(nl, dst, 0, RTM_F_FIB_MATCH, &fib) == 0 && fib.mtu) {
		*mtu = fib.mtu;
		return 0;
	}
	return nl_link_mtu(nl, *oif, mtu);
}

int nl_route_src(struct nl *nl, uint32_t dst, uint32_t *src)
{
	struct route_reply r;
	int rc = route_get(nl, dst, 0, &r);

	if (rc < 0)
		return rc;
	if (!r.oif || r.type != RTN_UNICAST)
		return -ENETUNREACH;
	if (!r.prefsrc)
		return -EADDRNOTAVAIL;
	*src = r.prefsrc;
	return 0;
}

int nl_link_mtu(struct nl *nl, int ifindex, unsigned *mtu)
{
	struct link_reply l;
	int rc = link_get(nl, ifindex, &l);

	if (rc < 0)
		return rc;
	if (!l.mtu)
		return -ENODEV;
	*mtu = l.mtu;
	return 0;
}

int nl_link_type(struct nl *nl, int ifindex, unsigned short *type)
{
	struct link_reply l;
	int rc = link_get(nl, ifindex, &l);

	if (rc < 0)
		return rc;
	*type = l.type;
	return 0;
}

/* ---- the link-layer next hop towards an address -------------------------- */

struct neigh_reply {
	uint16_t state;
	bool found;
	uint8_t mac[NL_ETH_ALEN];
};

static int neigh_attr_cb(const struct nlattr *a, void *data)
{
	struct neigh_reply *r = data;

	if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == NL_ETH_ALEN) {
		memcpy(r->mac, mnl_attr_get_payload(a), NL_ETH_ALEN);
		r->found = true;
	}
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return MNL_CB_OK;
	((struct neigh_reply *)data)->state = ndm->ndm_state;
	mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, data);
	return MNL_CB_OK;
}

int nl_ether_hop(struct nl *nl, uint32_t dst, uint32_t src, struct nl_ether_hop *hop)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh;
	struct route_reply r;
	struct link_reply l;
	struct neigh_reply n = { 0, false, { 0 } };
	struct ndmsg *ndm;
	int rc;

	memset(hop, 0, sizeof(*hop));
	rc = route_get(nl, dst, src, &r);
	if (rc < 0)
		return rc;
	if (r.type != RTN_UNICAST || !r.oif)
		return -ENETUNREACH;
	if (r.via6)
		return -EPFNOSUPPORT;	/* an IPv6 next hop: left to the kernel */
	hop->ifindex = r.oif;
	hop->via = r.gw ? r.gw : dst;

	rc = link_get(nl, r.oif, &l);
	if (rc < 0)
		return rc;
	if (l.type != ARPHRD_ETHER || !l.ether_addr || (l.flags & IFF_NOARP))
		return -EPFNOSUPPORT;	/* not an Ethernet with ARP: the kernel's path */

	nlh = nl_req(buf, RTM_GETNEIGH, NLM_F_ACK);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = r.oif;
	mnl_attr_put_u32(nlh, NDA_DST, hop->via);
	rc = nl_talk(nl, nlh, neigh_cb, &n);
	if (rc == -ENOENT)
		return -EHOSTUNREACH;	/* not resolved yet */
	if (rc < 0)
		return rc;
	if (!n.found || !(n.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
				     NUD_PERMANENT)))
		return -EHOSTUNREACH;
	memcpy(hop->mac, n.mac, NL_ETH_ALEN);
	memcpy(hop->src_mac, l.mac, NL_ETH_ALEN);
	return 0;
}

struct addr_dump {
	uint32_t *out;
	unsigned max, n;
	uint32_t local, address;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	struct addr_dump *d = data;
	int type = mnl_attr_get_type(a);

	if ((type == IFA_LOCAL || type == IFA_ADDRESS) && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*(type == IFA_LOCAL ? &d->local : &d->address) = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_dump *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	d->local = d->address = 0;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, d);
	/* IFA_LOCAL is the address; IFA_ADDRESS is the peer's on point-to-point links */
	if (!d->local)
		d->local = d->address;
	if (!d->local)
		return MNL_CB_OK;
	if (d->n < d->max)
		d->out[d->n] = d->local;
	d->n++;
	return MNL_CB_OK;
}

int nl_addr_dump(struct nl *nl, uint32_t *out, unsigned max)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_dump d = { out, max, 0, 0, 0 };
	int rc;

	ifa->ifa_family = AF_INET;
	rc = nl_talk(nl, nlh, addr_cb, &d);
	return rc < 0 ? rc : (int)d.n;
}

int nl_addr_add(struct nl *nl, int ifindex, uint32_t addr, unsigned plen, uint32_t peer)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, peer ? peer : addr);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* An RTM_NEWLINK request that changes the device ifindex, in buf. */
static struct nlmsghdr *link_change(char *buf, int ifindex, struct ifinfomsg **ifi)
{
	struct nlmsghdr *nlh = nl_req(buf, RTM_NEWLINK, NLM_F_ACK);

	*ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifi));
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = ifindex;
	return nlh;
}

int nl_link_set(struct nl *nl, int ifindex, unsigned mtu, bool up)
{
	char buf[NL_BUF];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_change(buf, ifindex, &ifi);

	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

/*
 * The device's root qdisc made "noqueue", as the kernel's own tunnel devices
 * have it (ipip, gre, wireguard: IFF_NO_QUEUE).  A TUN device comes with the
 * default qdisc, which holds nothing there: the device never stops its queue
 * (its own ring of txqueuelen packets is the queue, full ones dropped), so
 * the qdisc only adds its locking to each packet sent into the tunnel.
 */
int nl_qdisc_noqueue(struct nl *nl, int ifindex)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));

	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, "noqueue");
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_name(struct nl *nl, int ifindex, const char *name)
{
	char buf[NL_BUF];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_change(buf, ifindex, &ifi);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned mtu)
{
	char buf[NL_BUF];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_change(buf, ifindex, &ifi);

	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_addr_del(struct nl *nl, int ifindex, uint32_t addr, unsigned plen, uint32_t peer)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_DELADDR, NLM_F_ACK);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_index = (unsigned)ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, peer ? peer : addr);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_route(struct nl *nl, bool add, uint32_t dst, unsigned len, unsigned table, uint32_t gw,
	     unsigned metric, int ifindex)
{
	return nl_route_onlink(nl, add, dst, len, table, gw, metric, ifindex, false);
}

int nl_route_onlink(struct nl *nl, bool add, uint32_t dst, unsigned len, unsigned table,
		    uint32_t gw, unsigned metric, int ifindex, bool onlink)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
				      NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (unsigned char)len;
	rtm->rtm_table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (onlink && gw)
		rtm->rtm_flags |= RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (len)
		mnl_attr_put_u32(nlh, RTA_DST, dst);
	if (gw)
		mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
	if (metric)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_default_route(struct nl *nl, bool add, unsigned table, uint32_t gw, int ifindex)
{
	return nl_route(nl, add, 0, 0, table, gw, 0, ifindex);
}

int nl_rule(struct nl *nl, bool add, uint32_t addr, unsigned len, unsigned table, unsigned prio)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, add ? RTM_NEWRULE : RTM_DELRULE,
				      NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	frh->family = AF_INET;
	frh->src_len = (unsigned char)len;
	frh->table = table < 256 ? (unsigned char)table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	if (len)
		mnl_attr_put_u32(nlh, FRA_SRC, addr);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	if (prio)
		mnl_attr_put_u32(nlh, FRA_PRIORITY, prio);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* ip link add (create) or ip link set ... type ipip (change, name NULL) */
static int ipip_link(struct nl *nl, const char *name, const struct ipip_params *p, unsigned mtu,
		     int ifindex)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_NEWLINK, NLM_F_ACK |
				      (name ? NLM_F_CREATE | NLM_F_EXCL : 0));
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info, *data;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "ipip");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_IPTUN_LOCAL, p->local);
	mnl_attr_put_u32(nlh, IFLA_IPTUN_REMOTE, p->remote);
	mnl_attr_put_u8(nlh, IFLA_IPTUN_TTL, p->ttl);
	mnl_attr_put_u8(nlh, IFLA_IPTUN_TOS, p->tos_inherit ? 1 : p->tos);	/* odd: inherit */
	mnl_attr_put_u8(nlh, IFLA_IPTUN_PMTUDISC, p->pmtudisc);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_ipip_add(struct nl *nl, const char *name, const struct ipip_params *p, unsigned mtu,
		int ifindex)
{
	return ipip_link(nl, name, p, mtu, ifindex);
}

int nl_ipip_change(struct nl *nl, int ifindex, const struct ipip_params *p, unsigned mtu)
{
	return ipip_link(nl, NULL, p, mtu, ifindex);
}

/* ---- what the configuration checks read about the host -------------------- */

struct link_dump {
	struct nl_link_info *out, cur;
	unsigned max, n;
};

static int link_info_kind_cb(const struct nlattr *a, void *data)
{
	struct link_dump *d = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
		snprintf(d->cur.kind, sizeof(d->cur.kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_dump_attr_cb(const struct nlattr *a, void *data)
{
	struct link_dump *d = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			snprintf(d->cur.name, sizeof(d->cur.name), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			d->cur.mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(a, link_info_kind_cb, d);
		break;
	}
	return MNL_CB_OK;
}

static int link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_dump *d = data;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	memset(&d->cur, 0, sizeof(d->cur));
	d->cur.ifindex = ifi->ifi_index;
	mnl_attr_parse(nlh, sizeof(*ifi), link_dump_attr_cb, d);
	if (d->n < d->max)
		d->out[d->n] = d->cur;
	d->n++;
	return MNL_CB_OK;
}

int nl_link_dump(struct nl *nl, struct nl_link_info *out, unsigned max)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_dump d = { .out = out, .max = max };
	int rc;

	ifi->ifi_family = AF_UNSPEC;
	rc = nl_talk(nl, nlh, link_dump_cb, &d);
	return rc < 0 ? rc : (int)d.n;
}

struct addr_info_dump {
	struct nl_addr_info *out;
	unsigned max, n;
	uint32_t local, address;
};

static int addr_info_attr_cb(const struct nlattr *a, void *data)
{
	struct addr_info_dump *d = data;
	int type = mnl_attr_get_type(a);

	if ((type == IFA_LOCAL || type == IFA_ADDRESS) && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*(type == IFA_LOCAL ? &d->local : &d->address) = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int addr_info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_info_dump *d = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	d->local = d->address = 0;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_info_attr_cb, d);
	if (!d->local)	/* IFA_ADDRESS is the peer's on point-to-point links */
		d->local = d->address;
	if (!d->local)
		return MNL_CB_OK;
	if (d->n < d->max)
		d->out[d->n] = (struct nl_addr_info){ .addr = d->local, .prefixlen = ifa->ifa_prefixlen,
						      .ifindex = (int)ifa->ifa_index,
						      .scope = ifa->ifa_scope };
	d->n++;
	return MNL_CB_OK;
}

int nl_addr_dump_info(struct nl *nl, struct nl_addr_info *out, unsigned max)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct addr_info_dump d = { .out = out, .max = max };
	int rc;

	ifa->ifa_family = AF_INET;
	rc = nl_talk(nl, nlh, addr_info_cb, &d);
	return rc < 0 ? rc : (int)d.n;
}

/* ---- the routes into a device (Remote = any) ------------------------------ */

struct route_dump {
	int ifindex;		/* 0: any device */
	unsigned table;		/* 0: any table */
	void (*each)(const struct nl_route_info *r, void *data);
	void *data;
};

static int route_dump_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= RTA_MAX && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };
	struct route_dump *d = data;
	unsigned table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_family != AF_INET ||
	    rtm->rtm_dst_len > 32 || (d->ifindex && rtm->rtm_type != RTN_UNICAST))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_dump_attr_cb, tb);
	if (d->ifindex && (!tb[RTA_OIF] || (int)mnl_attr_get_u32(tb[RTA_OIF]) != d->ifindex))
		return MNL_CB_OK;
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (d->table && table != d->table)
		return MNL_CB_OK;
	d->each(&(struct nl_route_info){
		.dst = tb[RTA_DST] ? mnl_attr_get_u32(tb[RTA_DST]) : 0,
		.len = rtm->rtm_dst_len,
		.gw = tb[RTA_GATEWAY] ? mnl_attr_get_u32(tb[RTA_GATEWAY]) : 0,
		.table = table,
		.metric = tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0,
		.oif = tb[RTA_OIF] ? (int)mnl_attr_get_u32(tb[RTA_OIF]) : 0,
		.type = rtm->rtm_type,
	}, d->data);
	return MNL_CB_OK;
}

/*
 * The kernel leaves out the routes of other devices and tables where the
 * socket may ask it to (strict checking, Linux 4.20): a host with a full
 * BGP table is not dumped whole for a device's routes.
 */
int nl_route_each(struct nl *nl, int ifindex, unsigned table,
		  void (*each)(const struct nl_route_info *r, void *data), void *data)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	struct route_dump d = { .ifindex = ifindex, .table = table, .each = each, .data = data };
	int fd = mnl_socket_get_fd(nl->sock), on = 1, off = 0, rc;
	bool strict = setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof(on)) == 0;

	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_UNSPEC;	/* every table */
	if (strict && ifindex)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	if (strict && table)
		mnl_attr_put_u32(nlh, RTA_TABLE, table);
	rc = nl_talk(nl, nlh, route_dump_cb, &d);
	if (strict)
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &off, sizeof(off));
	return strict && table && rc == -ENOENT ? 0 : rc;	/* (no such table: no routes) */
}

struct route_list {
	struct nl_route_info *out;
	unsigned n, max;
};

static void route_list_each(const struct nl_route_info *r, void *data)
{
	struct route_list *l = data;

	if (l->n < l->max)
		l->out[l->n] = *r;
	l->n++;
}

int nl_route_dump_dev(struct nl *nl, int ifindex, struct nl_route_info *out, unsigned max)
{
	struct route_list l = { .out = out, .max = max };
	int rc = nl_route_each(nl, ifindex, 0, route_list_each, &l);

	return rc < 0 ? rc : (int)l.n;
}

/* ---- what cleanup checks before it deletes ------------------------------- */

static int max_index_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	int *max = data;

	if (nlh->nlmsg_type == RTM_NEWLINK && ifi->ifi_index > *max)
		*max = ifi->ifi_index;
	return MNL_CB_OK;
}

int nl_free_ifindex(struct nl *nl, int *ifindex)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	int max = 0, rc;

	ifi->ifi_family = AF_UNSPEC;
	rc = nl_talk(nl, nlh, max_index_cb, &max);
	if (rc < 0)
		return rc;
	if (max == INT32_MAX)
		return -ENOSPC;
	*ifindex = max + 1;
	return 0;
}

struct link_info {
	char *name, *kind;
};

static int info_kind_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
		snprintf(li->kind, 16, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_info_attr_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
			snprintf(li->name, 16, "%s", mnl_attr_get_str(a));
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			mnl_attr_parse_nested(a, info_kind_cb, li);
		break;
	}
	return MNL_CB_OK;
}

static int link_info_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWLINK)
		mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_info_attr_cb, data);
	return MNL_CB_OK;
}

int nl_link_info(struct nl *nl, int ifindex, char name[16], char kind[16])
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct link_info li = { name, kind };
	int rc;

	name[0] = kind[0] = '\0';
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	rc = nl_talk(nl, nlh, link_info_cb, &li);
	if (rc == 0 && !name[0])
		rc = -ENODEV;
	return rc;
}

/* The priorities of the first two IPv4 rules, in the kernel's order. */
struct rule_prefs {
	unsigned n;
	uint32_t pref[2];
};

static int rule_pref_attr_cb(const struct nlattr *a, void *data)
{
	uint32_t *pref = data;

	if (mnl_attr_get_type(a) == FRA_PRIORITY && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*pref = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int rule_pref_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct rule_prefs *r = data;
	uint32_t pref = 0;	/* the kernel leaves FRA_PRIORITY out when it is 0 */

	if (nlh->nlmsg_type != RTM_NEWRULE || frh->family != AF_INET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*frh), rule_pref_attr_cb, &pref);
	if (r->n < 2)
		r->pref[r->n] = pref;
	r->n++;
	return MNL_CB_OK;
}

int nl_rule_default_pref(struct nl *nl, unsigned *pref)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = nl_req(buf, RTM_GETRULE, NLM_F_DUMP);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	struct rule_prefs r = { 0, { 0, 0 } };
	int rc;

	frh->family = AF_INET;
	rc = nl_talk(nl, nlh, rule_pref_cb, &r);
	if (rc < 0)
		return rc;
	*pref = r.n >= 2 && r.pref[1] ? r.pref[1] - 1 : 0;
	return 0;
}

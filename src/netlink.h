/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Host configuration through rtnetlink (libmnl). */
#ifndef IPIPD_NETLINK_H
#define IPIPD_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
};

int nl_open(struct nl *nl);
void nl_close(struct nl *nl);

/*
 * A non-blocking socket subscribed to the multicast groups (RTMGRP_*) for
 * poll(); returns its descriptor or -errno.  nl_close() closes it.
 */
int nl_monitor_open(struct nl *nl, unsigned groups);
/*
 * Read every pending notification; returns what they were about: NL_MON_ADDR
 * (an address), NL_MON_LINK (a link), NL_MON_ROUTE (a route), or-ed, and
 * NL_MON_GONE when one of the tunnel's was deleted: an IPv4 address of the
 * device ifindex, an IPv4 route through it or in table, an IPv4 rule to
 * table (table 0: none); or replaced: one of routes[0..n_routes) (their
 * dst, len, table and metric) by a route not through ifindex.  Lost
 * notifications (the socket's buffer overran) count as all; 0: none.
 */
#define NL_MON_ADDR 1
#define NL_MON_LINK 2
#define NL_MON_ROUTE 4
#define NL_MON_GONE 8
struct nl_route_info;
int nl_monitor_drain(struct nl *nl, int ifindex, unsigned table,
		     const struct nl_route_info *routes, unsigned n_routes);
/*
 * The same, and *other says how many concern anything but the device
 * ifindex: a link other than it, an IPv4 route that does not leave by it
 * alone (lost notifications count too).  other may be NULL: only how many.
 */
int nl_monitor_drain_other(struct nl *nl, int ifindex, int *other);

/*
 * Every IPv4 address of the host (the local address of each, network order)
 * into out[0..max); returns how many there are (possibly more than max) or -errno.
 */
int nl_addr_dump(struct nl *nl, uint32_t *out, unsigned max);

/*
 * MTU of the route the host would use to reach dst (network order): the
 * route's configured MTU, else its device's, never what the kernel learned
 * from ICMP errors (forgeable); and the device.
 */
int nl_route_mtu(struct nl *nl, uint32_t dst, unsigned *mtu, int *oif);

/* Only the device of that route: one request where nl_route_mtu() makes up to three. */
int nl_route_oif(struct nl *nl, uint32_t dst, int *oif);
/* The device's IFF_* flags; -ENODEV if there is none of that index. */
int nl_link_flags(struct nl *nl, int ifindex, unsigned *flags);

/* The source address the kernel gives packets to dst (ip route get DST: src), network order. */
int nl_route_src(struct nl *nl, uint32_t dst, uint32_t *src);

/*
 * The link-layer next hop the kernel would use from src (0: any) to dst
 * (network order): the device, the neighbour (dst, or the route's gateway) and
 * its Ethernet address.  -EPFNOSUPPORT: the device is not an Ethernet with
 * ARP, or the next hop is an IPv6 address (RTA_VIA); -EHOSTUNREACH: the
 * neighbour is not resolved (or failed); -ENETUNREACH: no unicast route.
 */
#define NL_ETH_ALEN 6
struct nl_ether_hop {
	int ifindex;
	uint32_t via;			/* network order */
	uint8_t mac[NL_ETH_ALEN];
	uint8_t src_mac[NL_ETH_ALEN];	/* the interface's own */
};
int nl_ether_hop(struct nl *nl, uint32_t dst, uint32_t src, struct nl_ether_hop *hop);

/* Link MTU of an interface. */
int nl_link_mtu(struct nl *nl, int ifindex, unsigned *mtu);

/* ARPHRD_* type of an interface. */
int nl_link_type(struct nl *nl, int ifindex, unsigned short *type);

/* ip addr add ADDR/PLEN [peer PEER] dev IFINDEX (peer 0: none). */
int nl_addr_add(struct nl *nl, int ifindex, uint32_t addr, unsigned plen, uint32_t peer);

/* ip link set IFINDEX mtu MTU up. */
int nl_link_set(struct nl *nl, int ifindex, unsigned mtu, bool up);
/* tc qdisc replace dev IFINDEX root noqueue. */
int nl_qdisc_noqueue(struct nl *nl, int ifindex);

/* ip link set IFINDEX mtu MTU (its flags untouched). */
int nl_link_set_mtu(struct nl *nl, int ifindex, unsigned mtu);

/* ip addr del ADDR/PLEN [peer PEER] dev IFINDEX. */
int nl_addr_del(struct nl *nl, int ifindex, uint32_t addr, unsigned plen, uint32_t peer);

/*
 * ip link add NAME index IFINDEX mtu MTU type ipip local L remote R ttl T tos T
 * [no]pmtudisc: the kernel's own ipip device (-EOPNOTSUPP where the kernel has
 * no ipip; -EBUSY: the index is taken).
 */
struct ipip_params;
int nl_ipip_add(struct nl *nl, const char *name, const struct ipip_params *p, unsigned mtu,
		int ifindex);

/* ip link set IFINDEX [mtu MTU] type ipip local L remote R ttl T tos T [no]pmtudisc (a reload). */
int nl_ipip_change(struct nl *nl, int ifindex, const struct ipip_params *p, unsigned mtu);

/* An interface index no device has now (the highest in use + 1). */
int nl_free_ifindex(struct nl *nl, int *ifindex);

/*
 * The name and IFLA_INFO_KIND ("" if none) of the device ifindex: 0, or
 * -ENODEV when there is none.
 */
int nl_link_info(struct nl *nl, int ifindex, char name[16], char kind[16]);

/* ip link set dev IFINDEX name NAME (an up device: Linux 6.2 and later). */
int nl_link_set_name(struct nl *nl, int ifindex, const char *name);

/* ip link del IFINDEX. */
int nl_link_del(struct nl *nl, int ifindex);

/* ip route add default [via GW] dev IFINDEX table TABLE (gw 0: none). */
int nl_default_route(struct nl *nl, bool add, unsigned table, uint32_t gw, int ifindex);

/* ip route add|del DST/LEN [via GW] dev IFINDEX table TABLE [metric METRIC] (0: none). */
int nl_route(struct nl *nl, bool add, uint32_t dst, unsigned len, unsigned table, uint32_t gw,
	     unsigned metric, int ifindex);
/* ... with `onlink` where gw is given (a gateway the device reaches without a route to it). */
int nl_route_onlink(struct nl *nl, bool add, uint32_t dst, unsigned len, unsigned table,
		    uint32_t gw, unsigned metric, int ifindex, bool onlink);

/* ip rule add|del from ADDR/LEN table TABLE [priority PRIO] (prio 0: none). */
int nl_rule(struct nl *nl, bool add, uint32_t addr, unsigned len, unsigned table, unsigned prio);

/* ---- what the configuration checks (lint.c) read about the host -------- */

#define NL_KIND_MAX 16

/* One interface: ip link show. */
struct nl_link_info {
	int ifindex;
	char name[16];		/* IFNAMSIZ */
	char kind[NL_KIND_MAX];	/* IFLA_INFO_KIND ("tun", "ipip", "veth", ...; "" for a NIC) */
	unsigned mtu;
};

/* Every interface into out[0..max); returns how many there are (possibly more than max) or -errno. */
int nl_link_dump(struct nl *nl, struct nl_link_info *out, unsigned max);

/* One IPv4 route: dst/len via gw (0: none), network order, in table with metric. */
struct nl_route_info {
	uint32_t dst;
	unsigned len;
	uint32_t gw;
	unsigned table, metric;
	int oif;		/* 0: none (multipath, blackhole, ...) */
	unsigned char type;	/* RTN_* */
};

/*
 * The IPv4 unicast routes of every table whose output device is ifindex
 * (multipath routes left out) into out[0..max); returns how many there are
 * (possibly more than max) or -errno.
 */
int nl_route_dump_dev(struct nl *nl, int ifindex, struct nl_route_info *out, unsigned max);

/*
 * Each IPv4 route to each(): the unicast routes whose output device is
 * ifindex (multipath routes left out), or with ifindex 0 every route of
 * any type; in table (0: every table).  0 or -errno.
 */
int nl_route_each(struct nl *nl, int ifindex, unsigned table,
		  void (*each)(const struct nl_route_info *r, void *data), void *data);

/* One IPv4 address: ip -4 address show. */
struct nl_addr_info {
	uint32_t addr;		/* IFA_LOCAL, network order */
	unsigned prefixlen;
	int ifindex;
	unsigned char scope;	/* RT_SCOPE_* */
};

/* Every IPv4 address into out[0..max); returns how many there are (possibly more than max) or -errno. */
int nl_addr_dump_info(struct nl *nl, struct nl_addr_info *out, unsigned max);
/*
 * The priority the kernel gives an IPv4 rule added without one (net/core/
 * fib_rules.c, fib_default_rule_pref): the second rule's minus 1, or 0 when
 * there is no second rule or its priority is 0.
 */
int nl_rule_default_pref(struct nl *nl, unsigned *pref);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages between ipipd's privileged parent and its unprivileged datapath
 * process, over a SOCK_SEQPACKET socketpair: one message per datagram, a
 * fixed header and a fixed-size body per type (in the spirit of OpenBSD's
 * imsg, without its buffering).  Each side accepts only the types the other
 * may send, and msg_parse() checks every length and field before anything
 * is used: the datapath process handles packets from the network, so the
 * parent treats what it says as untrusted, and the other way round.
 *
 *   datapath -> parent: READY, DOWN, STATUS_REQ, HOP_FAILED, ROUTE_CHECK
 *   parent -> datapath: STATUS, ADDRS, HOP, STOP, ROUTE_MTU
 */
#ifndef IPIPD_MSG_H
#define IPIPD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

enum msg_type {
	MSG_READY = 1,		/* the datapath runs (its threads started) */
	MSG_DOWN,		/* `ipipctl down`: stop the tunnel */
	MSG_STATUS_REQ,		/* `ipipctl show`: the parent's part of the status, please */
	MSG_HOP_FAILED,		/* a send to the next hop failed: look it up again */
	MSG_ROUTE_CHECK,	/* a send was too big for the route: its MTU, please */
	MSG_STATUS,		/* the reply to MSG_STATUS_REQ */
	MSG_ADDRS,		/* the host's addresses (refused as inner sources) */
	MSG_HOP,		/* the next hop towards Remote (packet socket output) */
	MSG_STOP,		/* stop the datapath and exit */
	MSG_ROUTE_MTU,		/* the MTU of the route to Remote (on change, and when asked) */
	MSG_TYPE_MAX
};

#define MSG_BIT(t) (1u << (t))
#define MSG_FROM_CHILD (MSG_BIT(MSG_READY) | MSG_BIT(MSG_DOWN) | MSG_BIT(MSG_STATUS_REQ) | \
			MSG_BIT(MSG_HOP_FAILED) | MSG_BIT(MSG_ROUTE_CHECK))
#define MSG_FROM_PARENT (MSG_BIT(MSG_STATUS) | MSG_BIT(MSG_ADDRS) | MSG_BIT(MSG_HOP) | \
			 MSG_BIT(MSG_STOP) | MSG_BIT(MSG_ROUTE_MTU))

/* The parent's part of `ipipctl show`. */
enum msg_kstat { MK_RX_PACKETS, MK_RX_BYTES, MK_TX_PACKETS, MK_TX_BYTES, MK_RX_ECN_DROPS,
		 MK_TX_ERRORS, MK_MAX };
struct msg_status {
	int32_t fw_rules;	/* ipipd's nft rules for the tunnel now (-1: cannot tell) */
	int32_t underlay;	/* ifindex of the route to Remote (0: none) */
	uint64_t kernel[MK_MAX];	/* Datapath = kernel: the device's counters */
};

struct msg_addrs {
	uint32_t total;		/* addresses the host has (-1 as ~0: the dump failed) */
	uint32_t n;		/* addresses in addr[] (at most OWN_ADDRS_MAX) */
	uint32_t addr[OWN_ADDRS_MAX];	/* network order */
};

struct msg_hop {
	int32_t rc;		/* 0, or -errno: why outer packets go through the kernel */
	int32_t ifindex;	/* > 0 when rc is 0 */
	uint32_t via;		/* the neighbour (network order) */
	uint8_t mac[6];
	uint8_t failed;		/* a send there had failed before this lookup */
	uint8_t pad;
};

struct msg_route {
	uint32_t mtu;		/* the route's configured MTU, else its device's (68..65535) */
};

struct msg {
	enum msg_type type;
	union {
		struct msg_status status;
		struct msg_addrs addrs;
		struct msg_hop hop;
		struct msg_route route;
	} u;
};

#define MSG_HDR_LEN 4u		/* uint16 type, uint16 body length (host order: same host) */
#define MSG_MAX_LEN (MSG_HDR_LEN + sizeof(struct msg_addrs))

/*
 * Check the datagram buf[0..len) and decode it into *m: its type must be in
 * allowed (MSG_FROM_CHILD or MSG_FROM_PARENT) and every length and field
 * valid.  0, or -EBADMSG.
 */
int msg_parse(const uint8_t *buf, size_t len, unsigned allowed, struct msg *m);

/* Encode m into buf (MSG_MAX_LEN bytes): its length. */
size_t msg_build(uint8_t *buf, const struct msg *m);

/* Send one message: 0 or -errno. */
int msg_send(int fd, const struct msg *m);

/*
 * Receive one message, without waiting: 0, -EAGAIN (none now),
 * -EPIPE (the other side is gone), -EBADMSG (malformed or not allowed:
 * the caller ends the conversation), or another -errno.
 */
int msg_recv(int fd, unsigned allowed, struct msg *m);

#endif

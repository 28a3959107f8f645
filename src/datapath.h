/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The userspace datapath: TUN device <-> raw protocol-4 socket. */
#ifndef IPIPD_DATAPATH_H
#define IPIPD_DATAPATH_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "packet.h"

#define DP_BATCH 32
#define DP_SLOT (IPV4_HLEN + 0xffff)

struct dp_stats {
	uint64_t rx_packets, rx_bytes;	/* decapsulated into the TUN device */
	uint64_t tx_packets, tx_bytes;	/* encapsulated onto the underlay */
	uint64_t drops[PKT_VERDICT_MAX];
	uint64_t ecn_unusual;		/* RFC 6040 (!!!) combinations passed or dropped */
	uint64_t icmp_errors;		/* ICMP errors about our outer packets */
	uint64_t last_icmp_type, last_icmp_code, last_icmp_info;
};

struct dp_ring {
	struct mmsghdr msg[DP_BATCH];
	struct iovec iov[DP_BATCH];
	uint8_t *buf;			/* DP_BATCH slots of DP_SLOT bytes */
};

struct datapath {
	const struct ipip_params *p;
	int tun_fd, raw_fd;
	struct dp_stats st;
	struct dp_ring rx, tx;
	struct sockaddr_in remote;
	uint64_t ecn_log_budget;	/* unusual ECN combinations still to log */
};

int dp_init(struct datapath *dp, const struct ipip_params *p, int tun_fd, int raw_fd);
void dp_free(struct datapath *dp);

/* Move up to one batch from the TUN device to the underlay; returns packets read. */
int dp_tun_to_net(struct datapath *dp);

/* Move up to one batch from the underlay into the TUN device; returns packets read. */
int dp_net_to_tun(struct datapath *dp);

/* Drain ICMP errors about our outer packets (MSG_ERRQUEUE). */
void dp_read_errors(struct datapath *dp);

#endif

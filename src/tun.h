/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The tunnel's TUN device and the raw protocol-4 socket: the datapath's I/O edges. */
#ifndef IPIPD_TUN_H
#define IPIPD_TUN_H

#include <stdint.h>

#define TUN_F_USO4_ 0x20u	/* linux >= 6.2; Debian 12's headers lack the name */
#define TUN_F_USO6_ 0x40u

/*
 * Create the TUN device name (IFF_TUN|IFF_NO_PI) with interface index ifindex
 * (0: any; -EBUSY: taken), non-blocking; returns fd or -errno.  Unless IPIPD_OFFLOAD=off is in the environment, the device is
 * opened with IFF_VNET_HDR: every read and write carries a virtio_net_hdr,
 * and tun_set_offload() can then turn on checksum and segmentation offloads.
 */
int tun_open(const char *name, int ifindex);

/* 1 if fd was opened with IFF_VNET_HDR, 0 if not, -errno on error. */
int tun_has_vnet_hdr(int fd);

/*
 * Let the kernel hand us partial checksums and TCP/UDP super-packets
 * (TUN_F_CSUM, TSO4/6, TSO_ECN, USO4/6 where the kernel has them).
 * IPIPD_OFFLOAD=csum stops at TUN_F_CSUM, IPIPD_OFFLOAD=tso leaves out USO.
 * *got: the TUN_F_* flags in force.  Returns 0 or -errno.
 */
int tun_set_offload(int fd, unsigned *got);

/*
 * A raw IP protocol-4 socket bound to local and connected to remote (network
 * order), with IP_HDRINCL, IP_RECVERR and large buffers; returns fd or
 * -errno.  Bound and connected, it receives only remote's packets to local,
 * and only the ICMP errors that quote a packet from local to remote: not
 * those of other tunnels sharing Local, nor those about any other
 * destination.
 */
int raw_open(uint32_t local, uint32_t remote);

/*
 * UDP encapsulation's sockets.  raw_open_udp(): as raw_open(), of protocol
 * UDP, for the ICMP errors that quote our UDP packets (the kernel gives
 * them to raw sockets of the quoted protocol whatever the ports); a filter
 * keeps every datagram out of its receive queue.  udp_open(): the UDP
 * socket bound to local and port (host order) that receives the far end's
 * packets, with IP_RECVTOS (the outer ECN), UDP_GRO (coalesced datagrams
 * in one read) and a large receive buffer; it also keeps the port from
 * answering port unreachable.  fd or -errno.
 */
int raw_open_udp(uint32_t local, uint32_t remote);
int udp_open(uint32_t local, uint16_t port);

/*
 * A send-only raw socket (IPPROTO_RAW: IP_HDRINCL, receives nothing) for the
 * tx thread, so that sending never wakes the rx thread polling the
 * protocol-4 socket; returns fd or -errno.
 */
int raw_open_tx(void);

/*
 * A send-only packet socket (SOCK_DGRAM: the kernel adds the link-layer
 * header for the address in each message's sockaddr_ll); fd or -errno.
 */
int packet_open_tx(void);

/*
 * A send-only packet socket for UDP GSO frames (SOCK_RAW with
 * PACKET_VNET_HDR: each message is a virtio_net_hdr and a whole Ethernet
 * frame); fd or -errno.
 */
int packet_open_gso(void);

#endif

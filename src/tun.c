/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_BUF (16 << 20)	/* deep enough that bursts never overflow into ICMP */

static const char *offload_mode(void)
{
	const char *v = getenv("IPIPD_OFFLOAD");

	if (!v || !*v)
		return "all";
	if (!strcmp(v, "0") || !strcmp(v, "no"))
		return "off";
	return v;
}

int tun_open(const char *name, int ifindex)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (strcmp(offload_mode(), "off") != 0)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (getenv("IPIPD_NAPI") && !strcmp(getenv("IPIPD_NAPI"), "1"))
		ifr.ifr_flags |= IFF_NAPI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	/* the index recorded before the device exists (0: the kernel's choice) */
	if (ifindex && ioctl(fd, TUNSETIFINDEX, &(unsigned){ (unsigned)ifindex }) < 0)
		goto fail;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

int tun_has_vnet_hdr(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & IFF_VNET_HDR) ? 1 : 0;
}

int tun_set_offload(int fd, unsigned *got)
{
	const char *mode = offload_mode();
	unsigned base = TUN_F_CSUM, tso = TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	unsigned uso = TUN_F_USO4_ | TUN_F_USO6_;
	unsigned want[3];
	int n = 0;

	*got = 0;
	if (!strcmp(mode, "csum")) {
		want[n++] = base;
	} else if (!strcmp(mode, "tso")) {
		want[n++] = base | tso;
		want[n++] = base;
	} else {
		want[n++] = base | tso | uso;	/* USO needs linux >= 6.2 */
		want[n++] = base | tso;
		want[n++] = base;
	}
	for (int i = 0; i < n; i++) {
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)want[i]) == 0) {
			*got = want[i];
			return 0;
		}
	}
	return -errno;
}

static int setint(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

static int raw_open_proto(uint32_t local, uint32_t remote, int proto)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = local };
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = remote };
	int fd, e;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	if (fd < 0)
		return -errno;
	if (setint(fd, IPPROTO_IP, IP_HDRINCL, 1) < 0 ||
	    setint(fd, IPPROTO_IP, IP_RECVERR, 1) < 0 ||
	    setint(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (remote && connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0))
		goto fail;	/* (remote 0: Remote = any, a hub's peers) */
	/* FORCE needs CAP_NET_ADMIN and ignores rmem_max; fall back quietly. */
	if (setint(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF) < 0)
		setint(fd, SOL_SOCKET, SO_RCVBUF, SOCK_BUF);
	if (setint(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCK_BUF) < 0)
		setint(fd, SOL_SOCKET, SO_SNDBUF, SOCK_BUF);
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

int raw_open(uint32_t local, uint32_t remote)
{
	return raw_open_proto(local, remote, IPPROTO_IPIP);
}

int raw_open_udp(uint32_t local, uint32_t remote)
{
	static struct sock_filter none[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { 1, none };
	int fd = raw_open_proto(local, remote, IPPROTO_UDP), e;

	if (fd < 0)
		return fd;
	/* the error queue keeps the receive buffer: it holds the ICMP errors */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int udp_open(uint32_t local, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = local,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP), e;

	if (fd < 0)
		return -errno;
	if (setint(fd, IPPROTO_IP, IP_RECVTOS, 1) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	if (setint(fd, SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF) < 0)
		setint(fd, SOL_SOCKET, SO_RCVBUF, SOCK_BUF);
	/*
	 * Datagrams of one flow that the kernel's GRO coalesced (a NIC's, or a
	 * veth's with GRO on) come up as one read, split again by the datapath
	 * (linux >= 5.0; without it, each as its own read).
	 */
	setint(fd, SOL_UDP, UDP_GRO, 1);
	return fd;
}

/* A non-blocking socket that only sends, with a large send buffer. */
static int open_tx(int domain, int type, int protocol)
{
	int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);

	if (fd < 0)
		return -errno;
	if (setint(fd, SOL_SOCKET, SO_SNDBUFFORCE, SOCK_BUF) < 0)
		setint(fd, SOL_SOCKET, SO_SNDBUF, SOCK_BUF);
	return fd;
}

/*
 * The sockets that send outer packets through the kernel's IP output do not
 * follow the path MTU the kernel learned for Remote (IP_PMTUDISC_PROBE: the
 * device's MTU bounds them; DF is ours, in the header).  The kernel takes
 * any "fragmentation needed" that names Local and Remote, forged or not,
 * into its route to Remote; a socket that followed it would have the kernel
 * refuse our larger packets with a frag-needed of its own, about a packet
 * we did send, which the datapath would believe.  The tunnel's path MTU is
 * the soft state's, learned only from errors that quote an outer packet
 * this tunnel sent lately.
 */
int raw_open_tx(void)
{
	/* IPPROTO_RAW implies IP_HDRINCL and receives nothing. */
	int fd = open_tx(AF_INET, SOCK_RAW, IPPROTO_RAW), e;

	if (fd >= 0 && setint(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int packet_open_tx(void)
{
	/* Protocol 0: the socket receives nothing. */
	return open_tx(AF_PACKET, SOCK_DGRAM, 0);
}

int packet_open_gso(void)
{
	int fd = open_tx(AF_PACKET, SOCK_RAW, 0), e;

	if (fd >= 0 && setint(fd, SOL_PACKET, PACKET_VNET_HDR, 1) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

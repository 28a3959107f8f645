/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define SOCK_BUF (16 << 20)	/* deep enough that bursts never overflow into ICMP */

int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

static int setint(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

int raw_open(uint32_t local)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = local };
	int fd, e;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_IPIP);
	if (fd < 0)
		return -errno;
	if (setint(fd, IPPROTO_IP, IP_HDRINCL, 1) < 0 ||
	    setint(fd, IPPROTO_IP, IP_RECVERR, 1) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto fail;
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

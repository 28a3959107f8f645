/* forcebuf: preloaded into the peers that have socket buffer options
 * (OpenVPN --sndbuf/--rcvbuf, tinc UDPSndBuf/UDPRcvBuf), so that the sizes
 * they are given take effect as ipipd's do.
 *
 * ipipd sets its sockets' buffers with SO_SNDBUFFORCE/SO_RCVBUFFORCE, which
 * net.core.wmem_max/rmem_max do not cap; the peers use SO_SNDBUF/SO_RCVBUF,
 * which they do, and those limits cannot be raised inside a network namespace
 * without raising them for the whole host.  This turns a peer's
 * SO_SNDBUF/SO_RCVBUF into the FORCE variant (the peers run as root, with
 * CAP_NET_ADMIN), and falls back to the call as made if that is refused.
 * Nothing else is changed.
 *
 *   cc -shared -fPIC -o forcebuf.so forcebuf.c
 *   LD_PRELOAD=./forcebuf.so openvpn ... --sndbuf N --rcvbuf N
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);

	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF) &&
	    real(fd, level, name == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE, val, len) == 0)
		return 0;
	return real(fd, level, name, val, len);
}

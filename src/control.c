/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 4096

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	size_t room = sizeof(sb->buf) - sb->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		sb->overflow = 1;
		sb->len = sizeof(sb->buf) - 1;
		return;
	}
	sb->len += (size_t)n;
}

void sb_cut(struct strbuf *sb)
{
	size_t keep = sizeof(sb->buf) - sizeof("truncated=yes\nerrno=0\n\n");
	char *nl;

	if (sb->len > keep)
		sb->len = keep;
	sb->buf[sb->len] = '\0';
	nl = strrchr(sb->buf, '\n');
	sb->len = nl ? (size_t)(nl - sb->buf) + 1 : 0;
	sb->buf[sb->len] = '\0';
	sb->overflow = 0;
	sb_printf(sb, "truncated=yes\nerrno=0\n\n");
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71	/* Linux 5.14; older libc headers lack it */
#endif

static int ns_cookie(unsigned long long *cookie)
{
	uint64_t v = 0;
	socklen_t len = sizeof(v);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &v, &len) < 0)
		rc = errno == ENOPROTOOPT ? 0 : -errno;	/* before 5.14: unknown (0) */
	close(fd);
	*cookie = v;
	return rc;
}

int netns_self(struct netns_id *id)
{
	static struct netns_id self;
	static int known;
	struct stat st, init;
	int rc;

	if (!known) {
		if (stat("/proc/self/ns/net", &st) < 0)
			return -errno;
		rc = ns_cookie(&self.cookie);
		if (rc < 0)
			return rc;
		self.inode = (unsigned long long)st.st_ino;
		/* PID 1's namespace cannot be looked at: not ours to assume */
		self.init = stat("/proc/1/ns/net", &init) == 0 && init.st_ino == st.st_ino &&
			    init.st_dev == st.st_dev;
		known = 1;
	}
	*id = self;
	return 0;
}

int run_dir(char *buf, size_t n)
{
	struct netns_id ns;
	int rc = netns_self(&ns), len;

	if (rc < 0)
		return rc;
	if (ns.init)
		len = snprintf(buf, n, RUN_BASE);
	else
		len = snprintf(buf, n, RUN_BASE "/netns/%llu", ns.inode);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int run_dir_verify(const char *path, int create, char *why, size_t n)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT && create) {
		mode_t old = umask(077);
		int rc = mkdir(path, 0700);

		umask(old);
		if (rc < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(why, n, "%s: cannot create: %s", path, strerror(-rc));
			return rc;
		}
	}
	if (lstat(path, &st) < 0) {
		int rc = -errno;

		snprintf(why, n, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, n, "%s: is a symbolic link, not a directory", path);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "%s: is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != 0) {
		snprintf(why, n, "%s: is owned by uid %u, not root", path, (unsigned)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700) {
		snprintf(why, n, "%s: has mode %04o, not 0700", path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int run_dir_check(int create, char *why, size_t n)
{
	char dir[512];
	int rc = run_dir(dir, sizeof(dir));

	if (rc < 0) {
		snprintf(why, n, "runtime directory: %s", strerror(-rc));
		return rc;
	}
	rc = run_dir_verify(RUN_BASE, create, why, n);
	if (rc == 0 && strcmp(dir, RUN_BASE))
		rc = run_dir_verify(RUN_BASE "/netns", create, why, n);
	if (rc == 0 && strcmp(dir, RUN_BASE))
		rc = run_dir_verify(dir, create, why, n);
	return rc;
}

int run_path(char *buf, size_t n, const char *name, const char *suffix)
{
	char dir[512];
	int rc = run_dir(dir, sizeof(dir)), len;

	if (rc < 0)
		return rc;
	len = snprintf(buf, n, "%s/%s%s", dir, name, suffix);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

int run_open(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

int run_lock(const char *path, int wait)
{
	for (;;) {
		struct stat held, now;
		int fd = run_open(path, O_RDWR | O_CREAT, 0600), e;

		if (fd < 0)
			return fd;
		if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
			e = errno;
			close(fd);
			if (e == EINTR)
				continue;
			return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
		}
		/* The holder before us unlinks the file as it stops: lock the file that is there. */
		if (fstat(fd, &held) == 0 && lstat(path, &now) == 0 && held.st_ino == now.st_ino &&
		    held.st_dev == now.st_dev)
			return fd;
		close(fd);
	}
}

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	rc = sun_fill(&sun, path);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);	/* a stale socket: the caller holds the tunnel's lock */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
}

enum ctl_request ctl_parse_request(const char *buf, size_t len, unsigned *arg)
{
	if (arg)
		*arg = 0;
	if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '\n')
		return CTL_BAD;
	if (len > 8 && len <= 6 + 7 + 2 && !memcmp(buf, "peers=", 6)) {
		unsigned n = 0;

		/* 1-7 decimal digits, no sign, no spaces */
		for (size_t i = 6; i < len - 2; i++) {
			if (buf[i] < '0' || buf[i] > '9')
				return CTL_BAD;
			n = n * 10 + (unsigned)(buf[i] - '0');
		}
		if (n > CTL_PEERS_MAX)
			return CTL_BAD;
		if (arg)
			*arg = n;
		return CTL_PEERS;
	}
	if (len == 7 && !memcmp(buf, "get=1\n\n", 7))
		return CTL_GET;
	if (len == 8 && !memcmp(buf, "down=1\n\n", 8))
		return CTL_DOWN;
	if (len == 10 && !memcmp(buf, "reload=1\n\n", 10))
		return CTL_RELOAD;
	return CTL_BAD;
}

static void set_timeout(int fd, int opt, int secs)
{
	struct timeval tv = { .tv_sec = secs };

	setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline: > 0 ready, 0 time is up, < 0 error. */
static int wait_until(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

enum ctl_request ctl_read_request(int fd, int timeout_ms, unsigned *arg)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[MAX_REQUEST];
	size_t len = 0;

	if (arg)
		*arg = 0;
	/* one deadline for the whole request: a slow client cannot hold the loop */
	while (len < sizeof(buf)) {
		ssize_t n;

		if (wait_until(fd, POLLIN, deadline) <= 0)
			return CTL_BAD;
		n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return CTL_BAD;
		len += (size_t)n;
		if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
			return ctl_parse_request(buf, len, arg);
	}
	return CTL_BAD;
}

int ctl_write_all(int fd, const char *buf, size_t len, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (len) {
		ssize_t n;

		if (wait_until(fd, POLLOUT, deadline) <= 0)
			return -ETIMEDOUT;
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_call(const char *name, const char *req, struct strbuf *reply)
{
	struct sockaddr_un sun;
	char path[512], msg[32];
	int fd, rc, n;

	reply->len = 0;
	reply->overflow = 0;
	rc = run_path(path, sizeof(path), name, ".sock");
	if (rc < 0 || (rc = sun_fill(&sun, path)) < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a reload changes the host (netlink, nftables): it may take a while */
	set_timeout(fd, SO_RCVTIMEO, strcmp(req, "reload") ? 5 : 30);
	n = snprintf(msg, sizeof(msg), strchr(req, '=') ? "%s\n\n" : "%s=1\n\n", req);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    ctl_write_all(fd, msg, (size_t)n, 5000) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t got = recv(fd, reply->buf + reply->len, sizeof(reply->buf) - 1 - reply->len, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			goto out;
		}
		if (got == 0 || (reply->len += (size_t)got) == sizeof(reply->buf) - 1)
			break;
	}
	reply->buf[reply->len] = '\0';
	rc = reply->len ? 0 : -EPROTO;
out:
	close(fd);
	return rc;
}

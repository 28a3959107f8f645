/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

#define RUN_BASE "/run/ipipd"
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

/* The name under /run/netns of the network namespace we are in, if it has one. */
int netns_name(char *name, size_t n)
{
	struct stat self, st;
	struct dirent *e;
	char path[512];
	DIR *d;
	int found = 0;

	if (stat("/proc/self/ns/net", &self) < 0 || !(d = opendir("/run/netns")))
		return 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", e->d_name);
		if (stat(path, &st) == 0 && st.st_ino == self.st_ino && st.st_dev == self.st_dev &&
		    strlen(e->d_name) < n) {
			strcpy(name, e->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int run_dir(char *buf, size_t n, int create)
{
	char ns[256];
	int named = netns_name(ns, sizeof(ns)), len;

	if (named)
		len = snprintf(buf, n, RUN_BASE "/netns/%s", ns);
	else
		len = snprintf(buf, n, RUN_BASE);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	if (!create)
		return 0;
	if (mkdir(RUN_BASE, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (named && mkdir(RUN_BASE "/netns", 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int run_path(char *buf, size_t n, const char *name, const char *suffix)
{
	char dir[512];
	int rc = run_dir(dir, sizeof(dir), 0), len;

	if (rc < 0)
		return rc;
	len = snprintf(buf, n, "%s/%s%s", dir, name, suffix);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

int run_lock(const char *path)
{
	for (;;) {
		struct stat held, now;
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), e;

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			e = errno;
			close(fd);
			return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
		}
		/* The holder before us unlinks the file as it stops: lock the file that is there. */
		if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && held.st_ino == now.st_ino &&
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

enum ctl_request ctl_parse_request(const char *buf, size_t len)
{
	if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '\n')
		return CTL_BAD;
	if (len == 7 && !memcmp(buf, "get=1\n\n", 7))
		return CTL_GET;
	if (len == 8 && !memcmp(buf, "down=1\n\n", 8))
		return CTL_DOWN;
	return CTL_BAD;
}

static void set_timeout(int fd, int opt)
{
	struct timeval tv = { .tv_sec = 1 };

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

enum ctl_request ctl_read_request(int fd, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[MAX_REQUEST];
	size_t len = 0;

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
			return ctl_parse_request(buf, len);
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
	set_timeout(fd, SO_RCVTIMEO);
	n = snprintf(msg, sizeof(msg), "%s=1\n\n", req);
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

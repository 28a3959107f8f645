/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket and its text protocol (after wireguard's UAPI):
 * a request is "get=1\n\n", "down=1\n\n" or "reload=1\n\n"; the reply is "key=value" lines
 * ending with "errno=N\n\n".
 */
#ifndef IPIPD_CONTROL_H
#define IPIPD_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#define CTL_MAX_REPLY 16384

/* A growing reply buffer that never overflows (output is cut at its end). */
struct strbuf {
	char buf[CTL_MAX_REPLY];
	size_t len;
	int overflow;
};

void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A status reply that did not fit (sb->overflow): cut after its last whole
 * line, far enough from the end to say so, and ended as a reply served is
 * ("truncated=yes", "errno=0" and the blank line; the cut took the rest).
 */
void sb_cut(struct strbuf *sb);

/*
 * The network namespace this process runs in: the inode of /proc/self/ns/net,
 * its cookie (SO_NETNS_COOKIE, Linux 5.14+; 0 where the kernel has none) and
 * whether it is PID 1's.  Asked once and kept (a sandboxed process can no
 * longer look at PID 1's).  0 or -errno.
 */
struct netns_id {
	unsigned long long inode, cookie;
	int init;
};
int netns_self(struct netns_id *id);

/*
 * Directory of the per-tunnel runtime files: /run/ipipd in PID 1's network
 * namespace, /run/ipipd/netns/INODE in any other (tunnel names are per
 * namespace, /run is not).  The path only: 0 or -ENAMETOOLONG.
 */
#define RUN_BASE "/run/ipipd"
int run_dir(char *buf, size_t n);

/*
 * Check the runtime directory and every directory above it up to /run/ipipd:
 * each must be a directory (not a symbolic link) owned by root with mode
 * exactly 0700.  create: make what is missing (mode 0700).  0, -ENOENT
 * (missing, not created), or -errno with why ("PATH: what is wrong") filled.
 * Nothing that is there is ever changed.
 */
int run_dir_check(int create, char *why, size_t n);

/* One directory of that chain: the same checks (exposed for the tests). */
int run_dir_verify(const char *path, int create, char *why, size_t n);

/* The path of NAME's file with the given suffix (".sock", ".pid", ".lock"). */
int run_path(char *buf, size_t n, const char *name, const char *suffix);

/* open(2) of a runtime file: never through a symbolic link, closed on exec. */
int run_open(const char *path, int flags, mode_t mode);

/*
 * Take the lock file at path (created if needed): fd, -EWOULDBLOCK if held
 * (wait: block until it is not), or -errno.  The file locked is the one at
 * path once the lock is held (a holder unlinks it as it stops).
 */
int run_lock(const char *path, int wait);

/* Server side. */
int ctl_listen(const char *path);

/*
 * CTL_PEERS ("peers=N"): a hub's peers from number N on, for a list longer
 * than one reply holds (a reply that stops early says "peers_next=N").
 */
enum ctl_request { CTL_BAD, CTL_GET, CTL_DOWN, CTL_RELOAD, CTL_PEERS };
#define CTL_PEERS_MAX 1000000	/* the largest N a request may give */

/*
 * Parse a request as received; the whole buffer (bounded) must end with an
 * empty line.  *arg (if not NULL) gets a CTL_PEERS request's N, else 0.
 */
enum ctl_request ctl_parse_request(const char *buf, size_t len, unsigned *arg);

/*
 * Read one request from a connected client: bounded in size, and in time by
 * one deadline timeout_ms from now for the whole request (not per read).
 */
enum ctl_request ctl_read_request(int fd, int timeout_ms, unsigned *arg);

/* Write all of buf within timeout_ms: 0 or -errno (-ETIMEDOUT). */
int ctl_write_all(int fd, const char *buf, size_t len, int timeout_ms);

/*
 * Client side: send req ("get", "down" or "reload"; or "peers=N") to NAME's
 * socket and read the reply.
 */
int ctl_call(const char *name, const char *req, struct strbuf *reply);

#endif

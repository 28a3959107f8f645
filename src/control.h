/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket and its text protocol (after wireguard's UAPI):
 * a request is "get=1\n\n" or "down=1\n\n"; the reply is "key=value" lines
 * ending with "errno=N\n\n".
 */
#ifndef IPIPD_CONTROL_H
#define IPIPD_CONTROL_H

#include <stddef.h>

#define CTL_MAX_REPLY 16384

/* A growing reply buffer that never overflows (output is cut at its end). */
struct strbuf {
	char buf[CTL_MAX_REPLY];
	size_t len;
	int overflow;
};

void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Directory of the per-tunnel runtime files: /run/ipipd, or
 * /run/ipipd/netns/NSNAME inside a network namespace named under /run/netns
 * (tunnel names are per namespace, /run is not).  Creates it when asked.
 */
int run_dir(char *buf, size_t n, int create);

/* The name of the network namespace we are in under /run/netns: 1 if found, else 0. */
int netns_name(char *name, size_t n);

/* The path of NAME's file with the given suffix (".sock", ".pid", ".lock"). */
int run_path(char *buf, size_t n, const char *name, const char *suffix);

/* Take the lock file at path (created if needed): fd, -EWOULDBLOCK if held, or -errno. */
int run_lock(const char *path);

/* Server side. */
int ctl_listen(const char *path);

enum ctl_request { CTL_BAD, CTL_GET, CTL_DOWN };

/* Parse a request as received; the whole buffer (bounded) must end with an empty line. */
enum ctl_request ctl_parse_request(const char *buf, size_t len);

/*
 * Read one request from a connected client: bounded in size, and in time by
 * one deadline timeout_ms from now for the whole request (not per read).
 */
enum ctl_request ctl_read_request(int fd, int timeout_ms);

/* Write all of buf within timeout_ms: 0 or -errno (-ETIMEDOUT). */
int ctl_write_all(int fd, const char *buf, size_t len, int timeout_ms);

/* Client side: send req ("get" or "down") to NAME's socket and read the reply. */
int ctl_call(const char *name, const char *req, struct strbuf *reply);

#endif

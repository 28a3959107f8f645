/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Endpoints that follow a dynamic address: Remote given as a DNS name
 * (looked up again every ResolveInterval, off the parent's loop in a
 * thread of its own), and Local = auto (the source address the kernel's
 * route to Remote has, looked up through rtnetlink).
 */
#ifndef IPIPD_ENDPOINT_H
#define IPIPD_ENDPOINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENDPOINT_NAME_MAX 254	/* a DNS name (253) and its NUL */
#define ENDPOINT_ERR_MAX 128

/*
 * A host name as RFC 1123 allows it (letters, digits, '-' in labels of 1-63
 * characters, at most 253 in all, one trailing dot allowed), whose last
 * label is not all digits (that would be a mistyped address).
 */
bool endpoint_valid_name(const char *s);

/*
 * Look name up (IPv4, the resolver and /etc/hosts as nsswitch.conf says):
 * its first unicast address into *addr (network order).  0, or -1 with
 * err saying why.  Blocks for as long as the resolver takes.
 */
int endpoint_resolve(const char *name, uint32_t *addr, char *err, size_t n);

/* One lookup at a time in a thread of its own; the parent polls fd. */
struct resolver {
	pthread_mutex_t mu;
	pthread_t thread;
	int fd;			/* eventfd: readable once a lookup is over (-1: none made yet) */
	bool busy;		/* a lookup runs */
	bool done;		/* ... and is over: its result below */
	char name[ENDPOINT_NAME_MAX];
	int rc;
	uint32_t addr;
	char err[ENDPOINT_ERR_MAX];
};

void resolver_init(struct resolver *r);

/* Start looking name up unless a lookup runs already.  0, or -errno. */
int resolver_ask(struct resolver *r, const char *name);

/*
 * After fd was readable: the finished lookup's result (1: there was one,
 * name copied into name; 0: none yet).
 */
int resolver_take(struct resolver *r, char name[ENDPOINT_NAME_MAX], uint32_t *addr, int *rc,
		  char err[ENDPOINT_ERR_MAX]);

/* At exit: a lookup still running is left to end with the process. */
void resolver_close(struct resolver *r);

#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host settings shared by the tunnels of a network namespace
 * (net.ipv4.ip_forward, conf/IF/proxy_arp, conf/IF/rp_filter), counted by
 * holder: the ledger RUNDIR/host:shared ("hold" lines, journal.h) records
 * per setting the value it had before the first holder, the value set, and
 * the tunnels holding it, under flock(2) of RUNDIR/host:shared.lock.  The
 * last holder to go writes the original value back; a tunnel that wants
 * another value than the one held is refused.  Both files go when the last
 * hold does.  (':' is in no tunnel name, so no tunnel's files collide.)
 */
#ifndef IPIPD_LEDGER_H
#define IPIPD_LEDGER_H

#include <stddef.h>

#include "journal.h"

#define LEDGER_FILE "host:shared"

/* Who holds a setting at another value (ledger_hold's -EBUSY). */
struct ledger_conflict {
	char holder[JR_NAME_MAX];
	char value[JR_VALUE_MAX];
};

/*
 * Tunnel name sets the sysctl at path to want, and holds it.  0; -EBUSY
 * (another tunnel holds it at another value: c says who and at what);
 * -EBADMSG (the ledger is refused: why); or -errno (why).
 */
int ledger_hold(const char *path, const char *want, const char *name,
		struct ledger_conflict *c, char *why, size_t n);

/*
 * Tunnel name lets go of the sysctl at path; the last holder writes the
 * original value back.  0 (also when name held nothing there), or -errno
 * with why.
 */
int ledger_release(const char *path, const char *name, char *why, size_t n);

/*
 * Remove the ledger if a namespace that is gone wrote it (jr_netns_gone():
 * what it held went with that namespace).
 */
void ledger_sweep_gone(void);

/* Read a sysctl file's value (the first line, without its newline): 0 or -errno. */
int sysctl_read(const char *path, char *buf, size_t n);

/* Write a sysctl file: 0 or -errno. */
int sysctl_write(const char *path, const char *val);

#endif

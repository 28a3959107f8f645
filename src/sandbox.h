/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef IPIPD_SANDBOX_H
#define IPIPD_SANDBOX_H

enum sandbox_mode {
	SANDBOX_ENFORCE,	/* a call outside the allow-list kills the process */
	SANDBOX_REPORT,		/* -S: such a call is allowed and reported in the log */
};

/*
 * Once, after setup and before any thread starts: keep only CAP_NET_ADMIN
 * (bounding, permitted, effective; nothing inheritable or ambient), set
 * no_new_privs and install the seccomp allow-list.  In report mode a
 * supervisor thread starts that lets each call outside the list proceed and
 * names it in the log (log.c).  0, or -1 with errno set.
 */
int sandbox_enter(enum sandbox_mode mode);

#endif

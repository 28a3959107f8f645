/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lines of a tunnel's state file (its journal of host changes) and of
 * the namespace's ledger of shared host settings: what each kind records,
 * how it is undone, and the only shape that is accepted.  The table of
 * kinds is in journal.c; this is parsing and formatting only (host.c undoes
 * the entries, ledger.c keeps the ledger).
 *
 * A line is read back only if it is exactly what ipipd writes for the
 * tunnel and the namespace at hand: anything else (a tampered file, one left
 * by another version or another namespace) is refused, not undone.
 */
#ifndef IPIPD_JOURNAL_H
#define IPIPD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JR_RT_TABLES_D "/etc/iproute2/rt_tables.d"
#define JR_SYSCTL_BASE "/proc/sys/net/ipv4/"
#define JR_LINE_MAX 1024
#define JR_PATH_MAX 256
#define JR_NAME_MAX 16		/* IFNAMSIZ */
#define JR_VALUE_MAX 21		/* digits of a 64-bit number, and the NUL */
#define JR_HOLDERS_MAX 32

enum jr_kind {
	JR_NETNS,	/* netns INODE COOKIE */
	JR_RMDIR,	/* rmdir /etc/iproute2/rt_tables.d */
	JR_RTFILE,	/* rtfile PATH */
	JR_RULE,	/* rule ADDRESS LENGTH TABLE PRIORITY */
	JR_SYSCTL,	/* sysctl PATH */
	JR_LINK,	/* link IFINDEX NAME KIND */
	JR_TCFILTER,	/* tcfilter IFINDEX DEVICE HANDLE PRIORITY */
	JR_NFT,		/* nft NAME */
	JR_HOLD,	/* hold PATH ORIGINAL VALUE HOLDER... (the ledger's) */
	JR_KINDS
};

/* Where a line may be: a tunnel's state file, the namespace's ledger. */
enum jr_file { JR_STATE = 1, JR_LEDGER = 2 };

struct jr_entry {
	enum jr_kind kind;
	unsigned long long inode, cookie;	/* netns */
	char path[JR_PATH_MAX];		/* rmdir, rtfile, sysctl, hold */
	char name[JR_NAME_MAX];		/* link, nft: the tunnel; tcfilter: its device or "-" */
	char link_kind[8];		/* link: "ipip" or "tun" */
	int ifindex;			/* link, tcfilter */
	uint32_t addr;			/* rule: network order */
	unsigned len, table, prio;	/* rule; prio also tcfilter's */
	uint32_t handle;		/* tcfilter */
	char orig[JR_VALUE_MAX], value[JR_VALUE_MAX];	/* hold */
	unsigned n_holders;		/* hold */
	char holders[JR_HOLDERS_MAX][JR_NAME_MAX];
};

/* What a line must match: the tunnel and the namespace at hand. */
struct jr_expect {
	const char *name;		/* the tunnel (NULL: the ledger, no tunnel) */
	const char *rtfile;		/* its table-name file */
	unsigned long long inode, cookie;	/* this network namespace */
	uint32_t tc_handle, tc_prio;	/* its clsact filter */
};

/*
 * Parse one line (without its newline) of file `where` into e.  0, or
 * -EBADMSG with why saying what is wrong (a netns line of another
 * namespace: -EXDEV).
 */
int jr_parse(const char *line, enum jr_file where, const struct jr_expect *x,
	     struct jr_entry *e, char *why, size_t n);

/*
 * Is line the netns line of a namespace that is gone?  1 if it names this
 * namespace's inode with another cookie (both known, from Linux 5.14 on):
 * live namespaces have distinct inodes (one is given again only once its
 * namespace is freed) and no two namespaces of a boot have the same cookie,
 * so the writer's namespace has died and this one has its inode again; then
 * its cookie is put in *cookie.  (Not by comparing cookies: they are not
 * always in the order namespaces are made; kernels that take them from
 * per-CPU batches give a later namespace a smaller one, as was seen here.)
 * 0 otherwise: ours, or not a netns line (jr_parse says what is wrong with
 * it).
 */
int jr_netns_gone(const char *line, const struct jr_expect *x, unsigned long long *cookie);

/* The line for e (without a newline): 0 or -ENAMETOOLONG. */
int jr_format(const struct jr_entry *e, char *buf, size_t n);

/* A sysctl ipipd may record: /proc/sys/net/ipv4/..., components of [A-Za-z0-9._-]. */
int jr_sysctl_path_ok(const char *path);

/* A sysctl value as the kernel has it for the settings ipipd sets: 1-20 digits. */
int jr_value_ok(const char *v);

/* The kind's word ("rule", ...), for messages. */
const char *jr_kind_name(enum jr_kind k);

#endif

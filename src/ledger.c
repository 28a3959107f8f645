/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"

#define LEDGER_MAX 64

/* One read-modify-write of the ledger under its lock. */
static struct txn {
	int lock_fd;
	char file[600], lock[600], tmp[600];
	struct jr_expect x;
	unsigned n;
	struct jr_entry e[LEDGER_MAX];
} t;

int sysctl_read(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -errno;
	got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -errno;
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static struct jr_entry *find(const char *path)
{
	for (unsigned i = 0; i < t.n; i++)
		if (!strcmp(t.e[i].path, path))
			return &t.e[i];
	return NULL;
}

/* Check one line of the ledger (line number no) and take it into t. */
static int take_line(const char *line, unsigned no, char *why, size_t n)
{
	struct jr_entry e;
	int rc = jr_parse(line, JR_LEDGER, &t.x, &e, why, n);

	if (rc < 0)
		return rc;
	if ((no == 1) != (e.kind == JR_NETNS)) {
		snprintf(why, n, "the netns line comes first, and only there");
		return -EBADMSG;
	}
	if (e.kind == JR_NETNS)
		return 0;
	if (find(e.path)) {
		snprintf(why, n, "%s is there twice", e.path);
		return -EBADMSG;
	}
	if (t.n == LEDGER_MAX) {
		snprintf(why, n, "too many settings");
		return -EBADMSG;
	}
	t.e[t.n++] = e;
	return 0;
}

static int read_lines(FILE *f, char *why, size_t n)
{
	char line[JR_LINE_MAX + 2], msg[512];
	unsigned no = 0;

	while (fgets(line, sizeof(line), f)) {
		unsigned long long gone;
		int rc;

		line[strcspn(line, "\n")] = '\0';
		/* a dead namespace's (its inode is ours now): what it held went with it */
		if (no == 0 && jr_netns_gone(line, &t.x, &gone)) {
			unlink(t.file);	/* under the lock */
			return 0;
		}
		rc = take_line(line, ++no, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(why, n, "%s:%u: refused: %s", t.file, no, msg);
			return rc;
		}
	}
	return 0;
}

/* Lock and read the ledger of this namespace into t. */
static int begin(char *why, size_t n)
{
	struct netns_id ns;
	char dir[512];
	FILE *f;
	int fd, rc = netns_self(&ns);

	why[0] = '\0';
	if (rc == 0)
		rc = run_dir(dir, sizeof(dir));
	if (rc < 0) {
		snprintf(why, n, "runtime directory: %s", strerror(-rc));
		return rc;
	}
	memset(&t.x, 0, sizeof(t.x));
	t.x.inode = ns.inode;
	t.x.cookie = ns.cookie;
	t.n = 0;
	snprintf(t.file, sizeof(t.file), "%s/" LEDGER_FILE, dir);
	snprintf(t.lock, sizeof(t.lock), "%s/" LEDGER_FILE ".lock", dir);
	snprintf(t.tmp, sizeof(t.tmp), "%s/" LEDGER_FILE ".new", dir);
	t.lock_fd = run_lock(t.lock, 1);
	if (t.lock_fd < 0) {
		snprintf(why, n, "%s: %s", t.lock, strerror(-t.lock_fd));
		return t.lock_fd;
	}
	fd = run_open(t.file, O_RDONLY, 0);
	if (fd == -ENOENT)
		return 0;
	f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		rc = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		snprintf(why, n, "%s: %s", t.file, strerror(-rc));
	} else {
		rc = read_lines(f, why, n);
		fclose(f);
	}
	if (rc < 0)
		close(t.lock_fd);
	return rc;
}

static int write_all(int fd, const char *s)
{
	size_t len = strlen(s);

	return write(fd, s, len) == (ssize_t)len ? 0 : -1;
}

/* Write t back (replacing the file whole) or, with no hold left, remove it. */
static int save(char *why, size_t n)
{
	char line[JR_LINE_MAX + 1];
	struct jr_entry ns = { .kind = JR_NETNS, .inode = t.x.inode, .cookie = t.x.cookie };
	int fd, rc = 0;

	if (!t.n) {
		if (unlink(t.file) < 0 && errno != ENOENT)
			rc = -errno;
		goto out;
	}
	fd = run_open(t.tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	for (unsigned i = 0; i <= t.n && rc == 0; i++) {
		rc = jr_format(i ? &t.e[i - 1] : &ns, line, sizeof(line) - 1);
		if (rc == 0 && (write_all(fd, line) < 0 || write_all(fd, "\n") < 0))
			rc = -errno;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(t.tmp, t.file) < 0)
		rc = -errno;
out:
	if (rc < 0)
		snprintf(why, n, "%s: %s", t.file, strerror(-rc));
	return rc;
}

/* Unlock; the lock file goes with the ledger (a waiter then locks a new one). */
static void end(void)
{
	if (!t.n && access(t.file, F_OK) < 0)
		unlink(t.lock);
	close(t.lock_fd);
}

static int holds(const struct jr_entry *e, const char *name)
{
	for (unsigned i = 0; i < e->n_holders; i++)
		if (!strcmp(e->holders[i], name))
			return (int)i;
	return -1;
}

/* A new entry: the value the setting has now is the one to put back. */
static int first_hold(const char *path, const char *want, const char *name, char *why,
		      size_t n)
{
	struct jr_entry *e = &t.e[t.n];
	int rc;

	if (t.n == LEDGER_MAX) {
		snprintf(why, n, "%s: too many shared settings", t.file);
		return -ENOSPC;
	}
	memset(e, 0, sizeof(*e));
	e->kind = JR_HOLD;
	snprintf(e->path, sizeof(e->path), "%s", path);
	rc = sysctl_read(path, e->orig, sizeof(e->orig));
	if (rc < 0) {
		snprintf(why, n, "cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!jr_value_ok(e->orig)) {
		snprintf(why, n, "%s has '%s', not a number ipipd could put back", path, e->orig);
		return -EINVAL;
	}
	snprintf(e->value, sizeof(e->value), "%s", want);
	snprintf(e->holders[0], sizeof(e->holders[0]), "%s", name);
	e->n_holders = 1;
	t.n++;
	return 0;
}

static int set_value(const char *path, const char *want, char *why, size_t n)
{
	char now[64];
	int rc = sysctl_read(path, now, sizeof(now));

	if (rc == 0 && !strcmp(now, want))
		return 0;
	rc = sysctl_write(path, want);
	if (rc < 0)
		snprintf(why, n, "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

/* Join the holders of e at want: -EBUSY if another holds it at another value. */
static int join(struct jr_entry *e, const char *want, const char *name,
		struct ledger_conflict *c, char *why, size_t n)
{
	int me = holds(e, name);

	if (strcmp(e->value, want)) {
		for (unsigned i = 0; i < e->n_holders; i++)
			if ((int)i != me) {
				snprintf(c->holder, sizeof(c->holder), "%s", e->holders[i]);
				snprintf(c->value, sizeof(c->value), "%s", e->value);
				return -EBUSY;
			}
		snprintf(e->value, sizeof(e->value), "%s", want);	/* its own, stale */
	}
	if (me >= 0)
		return 0;
	if (e->n_holders == JR_HOLDERS_MAX) {
		snprintf(why, n, "%s: too many tunnels hold %s", t.file, e->path);
		return -ENOSPC;
	}
	snprintf(e->holders[e->n_holders++], sizeof(e->holders[0]), "%s", name);
	return 0;
}

int ledger_hold(const char *path, const char *want, const char *name,
		struct ledger_conflict *c, char *why, size_t n)
{
	struct jr_entry *e;
	int rc;

	if (!jr_sysctl_path_ok(path) || !jr_value_ok(want)) {
		snprintf(why, n, "%s = %s cannot be recorded", path, want);
		return -EINVAL;
	}
	rc = begin(why, n);
	if (rc < 0)
		return rc;
	e = find(path);
	rc = e ? join(e, want, name, c, why, n) : first_hold(path, want, name, why, n);
	/* recorded before it is set */
	if (rc == 0)
		rc = save(why, n);
	if (rc == 0)
		rc = set_value(path, want, why, n);
	end();
	return rc;
}

void ledger_sweep_gone(void)
{
	char why[512];

	if (begin(why, sizeof(why)) == 0)	/* it removes a dead namespace's ledger */
		end();
}

int ledger_release(const char *path, const char *name, char *why, size_t n)
{
	struct jr_entry *e;
	int rc = begin(why, n), me;

	if (rc < 0)
		return rc;
	e = find(path);
	me = e ? holds(e, name) : -1;
	if (me < 0) {
		end();
		return 0;	/* recorded, but the hold was never taken */
	}
	if (e->n_holders == 1) {
		rc = sysctl_write(path, e->orig);
		if (rc == -ENOENT)	/* the device went, and its setting with it */
			rc = 0;
		if (rc < 0) {
			snprintf(why, n, "cannot write %s back to %s: %s", path, e->orig,
				 strerror(-rc));
			end();
			return rc;
		}
		*e = t.e[--t.n];
	} else {
		memmove(e->holders[me], e->holders[me + 1],
			(e->n_holders - (unsigned)me - 1) * sizeof(e->holders[0]));
		e->n_holders--;
	}
	rc = save(why, n);
	end();
	return rc;
}

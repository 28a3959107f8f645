/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "host.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "control.h"
#include "tcfilter.h"
#include "firewall.h"
#include "journal.h"
#include "ledger.h"

#define RT_TABLES "/etc/iproute2/rt_tables"
#define RT_TABLES_D JR_RT_TABLES_D
#define MAX_STATE 512

static const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* An apply run: where to record, where to complain. */
struct run {
	const struct config *c;
	struct nl *nl;
	int ifindex;
	const char *state;	/* the state file */
	FILE *err;
};

static void fail(struct run *r, unsigned line, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct run *r, unsigned line, const char *step, const char *fmt, ...)
{
	va_list ap;

	fprintf(r->err, "%s:%u: %s: ", r->c->path, line, step);
	va_start(ap, fmt);
	vfprintf(r->err, fmt, ap);
	va_end(ap);
	fputc('\n', r->err);
}

/* Open the state file to append; its first line, written as it is made, says whose it is. */
static int state_open(const char *path)
{
	struct jr_entry ns = { .kind = JR_NETNS };
	struct netns_id id;
	char line[JR_LINE_MAX];
	int fd, rc;

	for (;;) {
		fd = run_open(path, O_WRONLY | O_APPEND, 0);
		if (fd != -ENOENT)
			return fd;
		rc = netns_self(&id);
		if (rc < 0)
			return rc;
		fd = run_open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0600);
		if (fd == -EEXIST)
			continue;
		if (fd < 0)
			return fd;
		ns.inode = id.inode;
		ns.cookie = id.cookie;
		jr_format(&ns, line, sizeof(line) - 1);
		strcat(line, "\n");
		errno = 0;
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
			rc = errno ? -errno : -EIO;
			close(fd);
			unlink(path);
			return rc;
		}
		return fd;
	}
}

/*
 * Append e to the state file, as one write(2), before the change it records
 * is made.  *at (if not NULL): the file's length before it (for unrecord()).
 */
static int state_append(const char *path, const struct jr_entry *e, off_t *at)
{
	char line[JR_LINE_MAX + 1];
	int fd, rc = jr_format(e, line, sizeof(line) - 1);
	off_t end;

	if (rc < 0)
		return rc;
	strcat(line, "\n");
	fd = state_open(path);
	if (fd < 0)
		return fd;
	errno = 0;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (at)
		*at = end;
	return rc;
}

/* Take back the last record (at: the length before it): the change it announced was not made. */
static int truncate_state(const char *path, off_t at)
{
	int fd = run_open(path, O_WRONLY, 0), rc = 0;

	if (fd < 0)
		return fd;
	if (ftruncate(fd, at) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static void unrecord(struct run *r, off_t at)
{
	int rc = truncate_state(r->state, at);

	if (rc < 0)
		fprintf(r->err, "%s: cannot take back its last line: %s\n", r->state,
			strerror(-rc));
}

static int record(struct run *r, unsigned line, const char *step, const struct jr_entry *e,
		  off_t *at)
{
	int rc = state_append(r->state, e, at);

	if (rc < 0)
		fail(r, line, step, "cannot record in %s: %s", r->state, strerror(-rc));
	return rc;
}

int host_sysctl_write(const char *path, const char *val)
{
	return sysctl_write(path, val);
}

/*
 * Set a shared sysctl (ledger.h): recorded as held here first, then held in
 * the namespace's ledger, which puts the original value back when its last
 * holder lets go.
 */
static int set_sysctl(struct run *r, unsigned line, const char *step, const char *path,
		      const char *val)
{
	struct jr_entry e = { .kind = JR_SYSCTL };
	struct ledger_conflict c;
	char why[512];
	int rc;

	if (!jr_sysctl_path_ok(path) || strlen(path) >= sizeof(e.path)) {
		fail(r, line, step, "%s: only letters, digits, '.', '_' and '-' can be recorded",
		     path);
		return -1;
	}
	strcpy(e.path, path);
	if (record(r, line, step, &e, NULL) < 0)
		return -1;
	rc = ledger_hold(path, val, r->c->name, &c, why, sizeof(why));
	if (rc == -EBUSY) {
		fail(r, line, step, "%s is held at %s by tunnel '%s' (this one wants %s)", path,
		     c.value, c.holder, val);
		return -1;
	}
	if (rc < 0) {
		fail(r, line, step, "%s", why);
		return -1;
	}
	return 0;
}

int host_rt_tables_path(const char *name, char *buf, size_t n)
{
	struct netns_id ns;
	int len, rc = netns_self(&ns);

	if (rc < 0)
		return rc;
	/* ':' is in no tunnel name: the files of PID 1's namespace and the others' never meet */
	if (ns.init)
		len = snprintf(buf, n, RT_TABLES_D "/ipipd-%s.conf", name);
	else
		len = snprintf(buf, n, RT_TABLES_D "/ipipd-%llu:%s.conf", ns.inode, name);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* Does a table-name file define the name or the number differently? */
static int rt_conflict(const char *file, const struct config *c, char *why, size_t n)
{
	char line[256], name[64];
	unsigned long num;
	FILE *f = fopen(file, "re");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %lu %63s", &num, name) != 2 || line[strspn(line, " \t")] == '#')
			continue;
		if (!strcmp(name, c->table_name) && num != c->table)
			snprintf(why, n, "name '%s' is already table %lu in %s", name, num, file);
		else if (num == c->table && strcmp(name, c->table_name))
			snprintf(why, n, "table %lu is already named '%s' in %s", num, name, file);
		else
			continue;
		found = 1;
	}
	fclose(f);
	return found;
}

/* /etc/iproute2/rt_tables.d, recorded (removed if empty) when ipipd makes it. */
static int make_rt_tables_d(struct run *r)
{
	struct jr_entry e = { .kind = JR_RMDIR, .path = RT_TABLES_D };
	struct stat st;

	if (stat(RT_TABLES_D, &st) == 0)
		return 0;
	if (record(r, r->c->line.table, "Table", &e, NULL) < 0)
		return -1;
	if (mkdir(RT_TABLES_D, 0755) < 0 && errno != EEXIST) {
		fail(r, r->c->line.table, "Table", "cannot create %s: %s", RT_TABLES_D,
		     strerror(errno));
		return -1;
	}
	return 0;
}

/* Does rt_tables or another file of rt_tables.d than ours (path) disagree? */
static int rt_conflict_any(const struct config *c, const char *path, char *why, size_t n)
{
	char other[768];
	struct dirent *e;
	int conflict = rt_conflict(RT_TABLES, c, why, n);
	DIR *d = opendir(RT_TABLES_D);

	while (!conflict && d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		snprintf(other, sizeof(other), RT_TABLES_D "/%s", e->d_name);
		if (strcmp(other, path))
			conflict = rt_conflict(other, c, why, n);
	}
	if (d)
		closedir(d);
	return conflict;
}

static int step_table_name(struct run *r)
{
	const struct config *c = r->c;
	char path[512], why[768], text[128];
	struct jr_entry je = { .kind = JR_RTFILE };
	int fd, len;

	if (host_rt_tables_path(c->name, path, sizeof(path)) < 0 || strlen(path) >= sizeof(je.path)) {
		fail(r, c->line.table, "Table", "path too long");
		return -1;
	}
	if (rt_conflict_any(c, path, why, sizeof(why))) {
		fail(r, c->line.table, "Table", "%s", why);
		return -1;
	}
	if (make_rt_tables_d(r) < 0)
		return -1;
	strcpy(je.path, path);
	if (record(r, c->line.table, "Table", &je, NULL) < 0)
		return -1;
	len = snprintf(text, sizeof(text), "# tunnel %s (ipipd); removed when it stops\n%u %s\n",
		       c->name, c->table, c->table_name);
	fd = run_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && write(fd, text, (size_t)len) != len) {
		close(fd);
		fd = -(errno ? errno : EIO);
	}
	if (fd < 0 || close(fd) < 0) {
		fail(r, c->line.table, "Table", "cannot write %s: %s", path,
		     strerror(fd < 0 ? -fd : errno));
		return -1;
	}
	return 0;
}

/* The routes through the device (at start, and put back after it was down): one definition each. */
static int default_route_add(struct nl *nl, const struct config *c, int ifindex)
{
	return nl_default_route(nl, true, c->table, c->has_peer ? c->peer.s_addr : 0, ifindex);
}

static int route_add(struct nl *nl, const struct config_route *rt, int ifindex)
{
	return nl_route_onlink(nl, true, rt->dst.addr, rt->dst.len, rt->table, rt->gw, rt->metric,
			       ifindex, true);
}

static int step_default_route(struct run *r)
{
	const struct config *c = r->c;
	int rc = default_route_add(r->nl, c, r->ifindex);

	if (rc < 0) {
		fail(r, c->line.default_route ? c->line.default_route : c->line.table, "DefaultRoute",
		     "default route in table %u: %s", c->table, strerror(-rc));
		return -1;
	}
	return 0;
}

/*
 * One policy rule, recorded first with the priority it gets: the configured
 * one, or the one the kernel would give it, which it is then given.
 */
static int add_rule(struct run *r, unsigned line, const struct prefix *p)
{
	const struct config *c = r->c;
	struct jr_entry e = { .kind = JR_RULE, .addr = p->addr, .len = p->len, .table = c->table,
			      .prio = c->rule_priority };
	char a[INET_ADDRSTRLEN];
	off_t at;
	int rc = 0;

	if (!e.prio)
		rc = nl_rule_default_pref(r->nl, &e.prio);
	if (rc == 0 && !e.prio)
		rc = -ERANGE;
	if (rc < 0) {
		fail(r, line, "RuleFrom", "cannot tell which priority the rule would get (%s): "
		     "set RulePriority", rc == -ERANGE ? "the second rule has priority 0" :
		     strerror(-rc));
		return -1;
	}
	if (record(r, line, "RuleFrom", &e, &at) < 0)
		return -1;
	rc = nl_rule(r->nl, true, p->addr, p->len, c->table, e.prio);
	if (rc < 0) {
		unrecord(r, at);	/* not ours to delete: an identical rule was there */
		fail(r, line, "RuleFrom", "rule from %s/%u table %u priority %u: %s",
		     ip4(p->addr, a), p->len, c->table, e.prio,
		     rc == -EEXIST ? "an identical rule already exists" : strerror(-rc));
		return -1;
	}
	return 0;
}

static int step_rules(struct run *r)
{
	const struct config *c = r->c;

	for (unsigned i = 0; i < c->n_rule_from; i++)
		if (add_rule(r, c->line.rule_from ? c->line.rule_from : c->line.table,
			     &c->rule_from[i]) < 0)
			return -1;
	return 0;
}

/*
 * [Route]: each prefix routed into the tunnel (dev NAME, scope link, as
 * `ip route add PREFIX dev NAME` does).  They go with the device, so they
 * need no record: a crash takes them along with the TUN device, and the
 * kernel's device is recorded and deleted by the cleanup.
 */
static int add_route(struct run *r, const struct config_route *rt)
{
	char a[INET_ADDRSTRLEN];
	int rc = route_add(r->nl, rt, r->ifindex);

	if (rc < 0) {
		fail(r, rt->line, "Route", "route %s/%u dev %s table %u%s: %s", ip4(rt->dst.addr, a),
		     rt->dst.len, r->c->name, rt->table, rt->metric ? " (with its metric)" : "",
		     rc == -EEXIST ? "that route exists already" : strerror(-rc));
		return -1;
	}
	return 0;
}

static int step_routes(struct run *r)
{
	for (unsigned i = 0; i < r->c->n_routes; i++)
		if (add_route(r, &r->c->routes[i]) < 0)
			return -1;
	return 0;
}

int host_routes_change(const struct config *old, const struct config *c, struct nl *nl,
		       int ifindex, FILE *err)
{
	struct run r = { .c = c, .nl = nl, .ifindex = ifindex, .err = err };
	char a[INET_ADDRSTRLEN];
	int rc = 0;

	for (unsigned i = 0; i < old->n_routes; i++) {
		const struct config_route *rt = &old->routes[i];
		int del;

		if (config_has_route(c, rt))
			continue;
		del = nl_route(nl, false, rt->dst.addr, rt->dst.len, rt->table, 0, rt->metric, ifindex);
		if (del < 0 && del != -ESRCH) {
			fprintf(err, "%s: route %s/%u table %u: cannot delete it: %s\n", c->name,
				ip4(rt->dst.addr, a), rt->dst.len, rt->table, strerror(-del));
			rc = -1;
		}
	}
	for (unsigned i = 0; i < c->n_routes; i++)
		if (!config_has_route(old, &c->routes[i]) && add_route(&r, &c->routes[i]) < 0)
			rc = -1;
	return rc;
}

/*
 * One thing added again (add: what adding it returned): counted in *n if it
 * was missing, left alone if there (-EEXIST), else said in err, what it is
 * after c's name; 0 or -1.
 */
static int put_back(int add, int *n, FILE *err, const struct config *c, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int put_back(int add, int *n, FILE *err, const struct config *c, const char *fmt, ...)
{
	va_list ap;

	if (add == 0)
		(*n)++;
	if (add == 0 || add == -EEXIST)
		return 0;
	fprintf(err, "%s: ", c->name);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fprintf(err, ": cannot put it back: %s\n", strerror(-add));
	return -1;
}

/* The tunnel's routes (config_route_at()), each as adding it again found it. */
struct route_again {
	const struct config *c;
	int add[1 + CONFIG_MAX_ROUTES];		/* what adding it returned (1: no such route) */
	bool ours[1 + CONFIG_MAX_ROUTES];	/* there, through the device */
};

static void route_again_each(const struct nl_route_info *r, void *data)
{
	struct route_again *ra = data;
	struct config_route got = { .dst = { r->dst, r->len }, .table = r->table, .metric = r->metric };
	struct config_route rt;

	for (unsigned i = 0; i <= ra->c->n_routes; i++)
		if (config_route_at(ra->c, i, &rt) && config_route_key_eq(&got, &rt))
			ra->ours[i] = true;
}

int host_routes_restore(const struct config *c, struct nl *nl, int ifindex,
			struct host_displaced *shown, FILE *err)
{
	static struct route_again ra;
	struct config_route rt;
	char a[INET_ADDRSTRLEN];
	bool look = false;
	int n = 0, rc = 0;

	memset(&ra, 0, sizeof(ra));
	ra.c = c;
	for (unsigned i = 0; i <= c->n_routes; i++) {
		ra.add[i] = !config_route_at(c, i, &rt) ? 1 : i ? route_add(nl, &rt, ifindex) :
			    default_route_add(nl, c, ifindex);
		look |= ra.add[i] == -EEXIST;
	}
	/*
	 * The kernel's EEXIST: a route to the destination in the table with
	 * the metric is there.  Where it is not through the device, another
	 * holds its place (`ip route replace`, a routing daemon's): left
	 * alone, said once, and put back once it is gone.
	 */
	if (look && nl_route_each(nl, ifindex, 0, route_again_each, &ra) < 0)
		look = false;	/* (cannot tell: looked at again on the next change) */
	for (unsigned i = 0; i <= c->n_routes; i++) {
		if (!config_route_at(c, i, &rt))
			continue;
		if (ra.add[i] == -EEXIST && look && !ra.ours[i] && !shown->at[i])
			fprintf(err, "%s: route %s/%u table %u metric %u: another route is in its place "
				"(not through %s): left alone, put back once that one is gone\n", c->name,
				ip4(rt.dst.addr, a), rt.dst.len, rt.table, rt.metric, c->name);
		if (ra.add[i] != -EEXIST || look)
			shown->at[i] = ra.add[i] == -EEXIST && !ra.ours[i];
		rc |= put_back(ra.add[i], &n, err, c, "route %s/%u table %u", ip4(rt.dst.addr, a),
			       rt.dst.len, rt.table);
	}
	return rc < 0 ? -1 : n;
}

/* "/proc/sys/net/ipv4/conf/IF/KEY" */
static void conf_path(char *buf, size_t n, const char *ifname, const char *key)
{
	snprintf(buf, n, "/proc/sys/net/ipv4/conf/%s/%s", ifname, key);
}

static int step_rp_filter(struct run *r)
{
	char path[128], v[4];

	conf_path(path, sizeof(path), r->c->name, "rp_filter");
	snprintf(v, sizeof(v), "%d", (int)r->c->rp_filter);
	return set_sysctl(r, r->c->line.rp_filter, "ReversePathFilter", path, v);
}

static int step_proxy_arp(struct run *r)
{
	const struct config *c = r->c;
	char path[128];

	for (unsigned i = 0; i < c->n_proxy_arp; i++) {
		if (!if_nametoindex(c->proxy_arp[i])) {
			fail(r, c->line.proxy_arp, "ProxyARP", "no interface '%s'", c->proxy_arp[i]);
			return -1;
		}
		conf_path(path, sizeof(path), c->proxy_arp[i], "proxy_arp");
		if (set_sysctl(r, c->line.proxy_arp, "ProxyARP", path, "1") < 0)
			return -1;
	}
	return 0;
}

static int step_ip_forward(struct run *r)
{
	return set_sysctl(r, r->c->line.ip_forward, "IPv4Forwarding", "/proc/sys/net/ipv4/ip_forward",
			  r->c->ip_forward == TRI_YES ? "1" : "0");
}

static int step_firewall(struct run *r)
{
	static struct fw_plan plan;
	const struct config *c = r->c;
	struct jr_entry e = { .kind = JR_NFT };
	/* named for the first of the keys that asked for it */
	bool fwd = c->fw_forward && (!c->fw_input || c->line.forward < c->line.input);
	unsigned line = fwd ? c->line.forward : c->line.input;
	const char *key = fwd ? "Forward" : "Input";
	char err[1024];

	if (fw_plan(c, &plan, err, sizeof(err)) < 0) {
		fail(r, line, key, "nft: %s", err);
		return -1;
	}
	strcpy(e.name, c->name);
	if (record(r, line, key, &e, NULL) < 0)
		return -1;
	if (fw_apply(&plan, err, sizeof(err)) < 0) {
		fail(r, line, key, "nft: %s", err);
		return -1;
	}
	return 0;
}

int host_apply(const struct config *c, struct nl *nl, int ifindex, const char *state_path,
	       FILE *err)
{
	struct run r = { .c = c, .nl = nl, .ifindex = ifindex, .state = state_path, .err = err };
	int rc = 0;

	if (c->table && c->table_name[0])
		rc = step_table_name(&r);
	if (rc == 0 && c->table && c->default_route)
		rc = step_default_route(&r);
	if (rc == 0 && c->table)
		rc = step_rules(&r);
	if (rc == 0)
		rc = step_routes(&r);
	if (rc == 0 && c->rp_filter != RPF_KEEP)
		rc = step_rp_filter(&r);
	if (rc == 0)
		rc = step_proxy_arp(&r);
	if (rc == 0 && c->ip_forward != TRI_KEEP)
		rc = step_ip_forward(&r);
	if (rc == 0 && (c->fw_forward || c->fw_input))
		rc = step_firewall(&r);
	if (rc < 0) {
		host_cleanup(nl, c->name, state_path, err);
		return -1;
	}
	return 0;
}

int host_record_link(const char *state_path, int ifindex, const char *name, const char *kind,
		     off_t *at)
{
	struct jr_entry e = { .kind = JR_LINK, .ifindex = ifindex };

	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.link_kind, sizeof(e.link_kind), "%s", kind);
	return state_append(state_path, &e, at);
}

int host_unrecord(const char *state_path, off_t at)
{
	return truncate_state(state_path, at);
}

int host_record_tc_filter(const char *state_path, int ifindex, uint32_t handle, uint32_t prio)
{
	struct jr_entry e = { .kind = JR_TCFILTER, .ifindex = ifindex, .handle = handle,
			      .prio = prio };

	if (!if_indextoname((unsigned)ifindex, e.name))
		strcpy(e.name, "-");
	return state_append(state_path, &e, NULL);
}

/* The device is deleted only while it is still the one created: same index, name and kind. */
static int undo_link(struct nl *nl, const struct jr_entry *e, FILE *log)
{
	char name[16], kind[16];
	int rc = nl_link_info(nl, e->ifindex, name, kind);

	if (rc == -ENODEV)
		return 0;	/* gone, as a TUN device goes with its descriptors */
	if (rc < 0)
		return rc;
	if (strcmp(name, e->name) || strcmp(kind, e->link_kind)) {
		fprintf(log, "ipipd: ifindex %d is now '%s' (%s), not the %s device '%s' "
			"created: left alone\n", e->ifindex, name, kind[0] ? kind : "no kind",
			e->link_kind, e->name);
		return 0;
	}
	rc = nl_link_del(nl, e->ifindex);
	return rc == -ENODEV ? 0 : rc;
}

/* Undo one entry; 0 if done (or nothing left to undo), else -errno (reported). */
static int undo(struct nl *nl, const char *name, const struct jr_entry *e, FILE *log)
{
	char ifname[IF_NAMESIZE], why[512] = "";
	int rc = 0;

	switch (e->kind) {
	case JR_RMDIR:
		rmdir(e->path);	/* only if nobody else put files there */
		break;
	case JR_RTFILE:
		if (unlink(e->path) < 0 && errno != ENOENT)
			rc = -errno;
		break;
	case JR_RULE:
		rc = nl_rule(nl, false, e->addr, e->len, e->table, e->prio);
		if (rc == -ENOENT)
			rc = 0;
		break;
	case JR_SYSCTL:
		rc = ledger_release(e->path, name, why, sizeof(why));
		break;
	case JR_LINK:
		rc = undo_link(nl, e, log);
		break;
	case JR_TCFILTER:
		/* only on the same device: a new one of that name has none of ours */
		if (if_indextoname((unsigned)e->ifindex, ifname) && !strcmp(ifname, e->name))
			rc = fp_tc_detach(e->ifindex, true, e->handle, e->prio);
		if (rc == -ENOENT || rc == -EINVAL)
			rc = 0;
		break;
	case JR_NFT:
		if (fw_cleanup(e->name, why, sizeof(why)) < 0)
			rc = -EIO;
		break;
	default:
		break;
	}
	if (rc < 0) {
		char line[JR_LINE_MAX];

		jr_format(e, line, sizeof(line));
		fprintf(log, "ipipd: undo '%s': %s\n", line, why[0] ? why : strerror(-rc));
	}
	return rc;
}

/* What the state file of tunnel name in this namespace may hold. */
static int expect(const char *name, struct jr_expect *x, char *rtfile, size_t n)
{
	struct netns_id ns;
	int rc = netns_self(&ns);

	if (rc == 0)
		rc = host_rt_tables_path(name, rtfile, n);
	if (rc < 0)
		return rc;
	memset(x, 0, sizeof(*x));
	x->name = name;
	x->rtfile = rtfile;
	x->inode = ns.inode;
	x->cookie = ns.cookie;
	x->tc_handle = fp_name_handle(name);
	x->tc_prio = FP_TC_PRIORITY;
	return 0;
}

/* Check one line (number no) of a state file: -EBADMSG, reported, if it is refused. */
static int check_line(const char *path, unsigned no, const char *line,
		      const struct jr_expect *x, struct jr_entry *e, FILE *log)
{
	char why[512];
	int rc = jr_parse(line, JR_STATE, x, e, why, sizeof(why));

	if (rc == 0 && (no == 1) != (e->kind == JR_NETNS)) {
		snprintf(why, sizeof(why), no == 1 ? "the first line must say whose file it is "
			 "(netns INODE COOKIE)" : "a second netns line");
		rc = -EBADMSG;
	}
	if (rc < 0)
		fprintf(log, "ipipd: %s:%u: refused: %s: '%s'\n", path, no, why, line);
	return rc < 0 ? -EBADMSG : 0;
}

/*
 * Read and check every line of a state file into e[]: the count, or
 * -EBADMSG if any line is refused (each reported; then none is undone).
 */
static int read_state(FILE *f, const char *path, const struct jr_expect *x,
		      struct jr_entry *e, unsigned max, FILE *log)
{
	char line[JR_LINE_MAX + 2];
	unsigned n = 0, no = 0;
	int refused = 0;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\n");

		no++;
		if (!line[len] && !feof(f)) {
			fprintf(log, "ipipd: %s:%u: refused: line too long\n", path, no);
			return -EBADMSG;
		}
		line[len] = '\0';
		if (n == max) {
			fprintf(log, "ipipd: %s: more than %u entries: refused\n", path, max);
			return -EBADMSG;
		}
		if (check_line(path, no, line, x, &e[n], log) < 0)
			refused = 1;
		else
			n++;
	}
	return refused ? -EBADMSG : (int)n;
}

/* Is f's first line the netns line of a namespace that is gone (jr_netns_gone())?  f is rewound. */
static int first_line_gone(FILE *f, const struct jr_expect *x, unsigned long long *cookie)
{
	char line[JR_LINE_MAX + 2];
	int gone = 0;

	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		gone = jr_netns_gone(line, x, cookie);
	}
	rewind(f);
	return gone;
}

int host_cleanup(struct nl *nl, const char *name, const char *state_path, FILE *log)
{
	static struct jr_entry e[MAX_STATE];
	struct jr_expect x;
	char rtfile[512];
	int fd, n, bad = 0, gone;
	FILE *f;

	fd = run_open(state_path, O_RDONLY, 0);
	if (fd == -ENOENT)
		return 0;
	n = fd < 0 ? fd : expect(name, &x, rtfile, sizeof(rtfile));
	f = n < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		n = n < 0 ? n : -errno;
		fprintf(log, "ipipd: %s: %s\n", state_path, strerror(-n));
		if (fd >= 0)
			close(fd);
		return n;
	}
	/*
	 * Written in a namespace that has died since (its inode is ours now):
	 * what it changed in that namespace went with it, only the files remain.
	 */
	gone = first_line_gone(f, &x, &x.cookie);
	n = read_state(f, state_path, &x, e, MAX_STATE, log);
	fclose(f);
	if (n < 0)
		return n;	/* kept, for a look: nothing in it is undone */
	if (gone)
		fprintf(log, "ipipd: %s: written in a network namespace that is gone (cookie %llu; "
			"this one has its inode again): only its files are removed\n", state_path,
			x.cookie);
	for (int i = n; i-- > 1;)
		if ((!gone || e[i].kind == JR_RTFILE || e[i].kind == JR_RMDIR) &&
		    undo(nl, name, &e[i], log) < 0)
			bad = 1;
	if (bad)
		return -EIO;
	unlink(state_path);
	return n > 0 ? n - 1 : 0;
}

int host_state_gone(const char *path)
{
	struct netns_id ns;
	struct jr_expect x = { 0 };
	unsigned long long c;
	int fd = run_open(path, O_RDONLY, 0), gone = 0;
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");

	if (!f) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (netns_self(&ns) == 0) {
		x.inode = ns.inode;
		x.cookie = ns.cookie;
		gone = first_line_gone(f, &x, &c);
	}
	fclose(f);
	return gone;
}

int host_sweep_gone(struct nl *nl, FILE *log)
{
	char dir[512], path[600], lock[600], name[JR_NAME_MAX];
	struct dirent *e;
	DIR *d;
	int swept = 0;

	if (run_dir(dir, sizeof(dir)) < 0 || !strcmp(dir, RUN_BASE) || !(d = opendir(dir)))
		return 0;
	ledger_sweep_gone();
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		int fd;

		if (len <= 6 || len - 6 >= sizeof(name) || strcmp(e->d_name + len - 6, ".state"))
			continue;
		memcpy(name, e->d_name, len - 6);
		name[len - 6] = '\0';
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
		    run_path(lock, sizeof(lock), name, ".lock") < 0 || !host_state_gone(path))
			continue;
		fd = run_lock(lock, 0);	/* nobody holds it: its daemon died with the namespace */
		if (fd < 0)
			continue;
		if (host_cleanup(nl, name, path, log) >= 0) {
			static const char *const other[] = { ".sock", ".pid" };

			for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
				if (run_path(path, sizeof(path), name, other[i]) == 0)
					unlink(path);
			unlink(lock);
			swept++;
		}
		close(fd);
	}
	closedir(d);
	return swept;
}

/* ---- put back what someone else deleted ---------------------------------- */

/* What state_path records, into e[0..max): how many, or -1 (err says why). */
static int recorded(const char *name, const char *state_path, struct jr_entry *e, unsigned max,
		    FILE *err)
{
	struct jr_expect x;
	char rtfile[512];
	int fd = run_open(state_path, O_RDONLY, 0), n;
	FILE *f;

	n = fd < 0 ? fd : expect(name, &x, rtfile, sizeof(rtfile));
	f = n < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		fprintf(err, "%s: %s\n", state_path, strerror(n < 0 ? -n : errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = read_state(f, state_path, &x, e, max, err);
	fclose(f);
	return n < 0 ? -1 : n;
}

int host_restore(const struct config *c, struct nl *nl, int ifindex, const char *state_path,
		 struct host_put_back *put, struct host_displaced *shown, FILE *err)
{
	static struct jr_entry e[MAX_STATE];
	char a[INET_ADDRSTRLEN];
	int n, rc = 0;

	memset(put, 0, sizeof(*put));
	rc |= put_back(nl_addr_add(nl, ifindex, c->addr.s_addr, c->prefixlen,
				   c->has_peer ? c->peer.s_addr : 0),
		       &put->addresses, err, c, "address %s/%u", ip4(c->addr.s_addr, a), c->prefixlen);
	n = recorded(c->name, state_path, e, MAX_STATE, err);
	if (n < 0)
		rc = -1;
	for (int i = 0; i < n; i++)
		if (e[i].kind == JR_RULE)
			rc |= put_back(nl_rule(nl, true, e[i].addr, e[i].len, e[i].table, e[i].prio),
				       &put->rules, err, c, "rule from %s/%u table %u priority %u",
				       ip4(e[i].addr, a), e[i].len, e[i].table, e[i].prio);
	n = host_routes_restore(c, nl, ifindex, shown, err);
	if (n < 0)
		rc = -1;
	else
		put->routes = n;
	return rc;
}

/* ---- a reload: only the groups of settings that changed ------------------ */

/* The group a state file entry belongs to (0: the device's, the fast path's: never redone). */
static unsigned entry_group(const struct jr_entry *e)
{
	size_t n = strlen(e->path);

	switch (e->kind) {
	case JR_RMDIR:
	case JR_RTFILE:
	case JR_RULE:
		return HG_ROUTING;
	case JR_NFT:
		return HG_FIREWALL;
	case JR_SYSCTL:
		if (n > 10 && !strcmp(e->path + n - 10, "/rp_filter"))
			return HG_RP_FILTER;
		if (n > 10 && !strcmp(e->path + n - 10, "/proxy_arp"))
			return HG_PROXY_ARP;
		if (!strcmp(e->path, "/proc/sys/net/ipv4/ip_forward"))
			return HG_FORWARDING;
		return 0;
	default:
		return 0;
	}
}

/* Write the state file again with the entries e[0..n) (all but the undone): 0 or -errno. */
static int state_rewrite(const char *path, const struct jr_entry *e, int n)
{
	char tmp[600], line[JR_LINE_MAX + 1];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = run_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return fd;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = jr_format(&e[i], line, sizeof(line) - 1);
		if (rc < 0)
			break;
		strcat(line, "\n");
		errno = 0;
		if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
			rc = errno ? -errno : -EIO;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int host_reapply(const struct config *old, const struct config *c, unsigned groups,
		 struct nl *nl, int ifindex, const char *state_path, FILE *err)
{
	static struct jr_entry e[MAX_STATE];
	struct run r = { .c = c, .nl = nl, .ifindex = ifindex, .state = state_path, .err = err };
	int n, kept = 0, rc = 0;

	if (!groups)
		return 0;
	/* what the old settings did, from the record: undone, newest first */
	n = recorded(c->name, state_path, e, MAX_STATE, err);
	if (n < 0)
		return -1;
	if ((groups & HG_ROUTING) && old->table && old->default_route) {
		rc = nl_default_route(nl, false, old->table, old->has_peer ? old->peer.s_addr : 0,
				      ifindex);
		if (rc < 0 && rc != -ESRCH && rc != -ENOENT)
			fprintf(err, "%s: default route in table %u: %s\n", old->path, old->table,
				strerror(-rc));
	}
	rc = 0;
	for (int i = n; i-- > 1;)
		if ((entry_group(&e[i]) & groups) && undo(nl, c->name, &e[i], err) < 0)
			rc = -1;
	for (int i = 0; i < n; i++)
		if (!(entry_group(&e[i]) & groups))
			e[kept++] = e[i];
	if (state_rewrite(state_path, e, kept) < 0) {
		fprintf(err, "%s: cannot write it again: %s\n", state_path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		return -1;
	/* then the new settings of those groups, recorded as at start */
	if ((groups & HG_ROUTING) && c->table && c->table_name[0])
		rc = step_table_name(&r);
	if (rc == 0 && (groups & HG_ROUTING) && c->table && c->default_route)
		rc = step_default_route(&r);
	if (rc == 0 && (groups & HG_ROUTING) && c->table)
		rc = step_rules(&r);
	if (rc == 0 && (groups & HG_RP_FILTER) && c->rp_filter != RPF_KEEP)
		rc = step_rp_filter(&r);
	if (rc == 0 && (groups & HG_PROXY_ARP))
		rc = step_proxy_arp(&r);
	if (rc == 0 && (groups & HG_FORWARDING) && c->ip_forward != TRI_KEEP)
		rc = step_ip_forward(&r);
	if (rc == 0 && (groups & HG_FIREWALL) && (c->fw_forward || c->fw_input))
		rc = step_firewall(&r);
	return rc < 0 ? -1 : 0;
}

/* sysctl -w takes dots as separators: interface names with dots need slashes. */
static void explain_sysctl(FILE *out, const char *ifname, const char *key, const char *val)
{
	if (strchr(ifname, '.'))
		fprintf(out, "sysctl -w net/ipv4/conf/%s/%s=%s\n", ifname, key, val);
	else
		fprintf(out, "sysctl -w net.ipv4.conf.%s.%s=%s\n", ifname, key, val);
}

void host_explain(const struct config *c, unsigned mtu, FILE *out)
{
	static char cmds[65536];
	static struct fw_plan plan;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], err[1024], table[48];
	unsigned inputs = 0;

	if (c->ip.remote_any)
		fprintf(out, "# Remote = any: ipipd takes packets only from AllowedRemotes%s; the "
			"kernel's device takes them from any peer\n",
			c->ip.peer_check ? ", and each inner source only from the peer its route leads to" : "");
	if (c->ip.encap == ENCAP_IPIP) {
		fprintf(out, "ip tunnel add %s mode ipip remote %s local %s", c->name,
			c->ip.remote_any ? "any" : ip4(c->ip.remote, a), ip4(c->ip.local, b));
	} else {
		/* only `ip link` takes the encap options */
		fprintf(out, "modprobe fou\nip fou add port %u %s\n", c->ip.port,
			c->ip.encap == ENCAP_GUE ? "gue" : "ipproto 4");
		if (c->ip.learn_port)
			fprintf(out, "# RemotePort = learn: the kernel's device sends to encap-dport only\n");
		fprintf(out, "ip link add %s type ipip remote %s local %s", c->name,
			ip4(c->ip.remote, a), ip4(c->ip.local, b));
	}
	if (c->ip.ttl)
		fprintf(out, " ttl %u", c->ip.ttl);
	if (c->ip.tos_inherit)
		fprintf(out, " tos inherit");
	else if (c->ip.tos)
		fprintf(out, " tos 0x%02x", c->ip.tos);
	fprintf(out, "%s", c->ip.pmtudisc ? "" : " nopmtudisc");
	if (c->ip.encap != ENCAP_IPIP) {
		fprintf(out, " encap %s encap-sport ", c->ip.encap == ENCAP_GUE ? "gue" : "fou");
		if (c->ip.sport)
			fprintf(out, "%u", c->ip.sport);
		else
			fprintf(out, "auto");
		fprintf(out, " encap-dport %u %sencap-csum", c->ip.remote_port,
			c->ip.udp_csum ? "" : "no");
	}
	fputc('\n', out);
	if (mtu)
		fprintf(out, "ip link set %s mtu %u\n", c->name, mtu);
	/* iproute2 puts the length on the peer when there is one: A peer P/LEN */
	if (c->has_peer && c->prefixlen != 32)
		fprintf(out, "ip address add %s peer %s/%u", ip4(c->addr.s_addr, a),
			ip4(c->peer.s_addr, b), c->prefixlen);
	else if (c->has_peer)
		fprintf(out, "ip address add %s/32 peer %s", ip4(c->addr.s_addr, a),
			ip4(c->peer.s_addr, b));
	else
		fprintf(out, "ip address add %s/%u", ip4(c->addr.s_addr, a), c->prefixlen);
	fprintf(out, " dev %s\nip link set %s up\n", c->name, c->name);
	if (c->table) {
		char path[512];

		snprintf(table, sizeof(table), "%u", c->table);
		if (c->table_name[0] && host_rt_tables_path(c->name, path, sizeof(path)) == 0) {
			fprintf(out, "echo \"%u %s\" > %s\n", c->table, c->table_name, path);
			snprintf(table, sizeof(table), "%s", c->table_name);
		}
		if (c->default_route) {
			fprintf(out, "ip route add default");
			if (c->has_peer)
				fprintf(out, " via %s", ip4(c->peer.s_addr, a));
			fprintf(out, " dev %s table %s\n", c->name, table);
		}
		for (unsigned i = 0; i < c->n_rule_from; i++) {
			fprintf(out, "ip rule add from %s/%u table %s", ip4(c->rule_from[i].addr, a),
				c->rule_from[i].len, table);
			if (c->rule_priority)
				fprintf(out, " priority %u", c->rule_priority);
			fputc('\n', out);
		}
	}
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct config_route *rt = &c->routes[i];

		fprintf(out, "ip route add %s/%u", ip4(rt->dst.addr, a), rt->dst.len);
		if (rt->gw)
			fprintf(out, " via %s", ip4(rt->gw, a));
		fprintf(out, " dev %s%s", c->name, rt->gw ? " onlink" : "");
		if (rt->table != RT_TABLE_MAIN)
			fprintf(out, " table %u", rt->table);
		if (rt->metric)
			fprintf(out, " metric %u", rt->metric);
		fputc('\n', out);
	}
	if (c->rp_filter != RPF_KEEP)
		explain_sysctl(out, c->name, "rp_filter", c->rp_filter == RPF_OFF ? "0" :
			       c->rp_filter == RPF_STRICT ? "1" : "2");
	for (unsigned i = 0; i < c->n_proxy_arp; i++)
		explain_sysctl(out, c->proxy_arp[i], "proxy_arp", "1");
	if (c->ip_forward != TRI_KEEP)
		fprintf(out, "sysctl -w net.ipv4.ip_forward=%d\n", c->ip_forward == TRI_YES);
	if (!c->fw_forward && !c->fw_input)
		return;
	if (fw_plan(c, &plan, err, sizeof(err)) < 0) {
		fprintf(out, "# nft: cannot read this host's ruleset (%s)\n", err);
		return;
	}
	fw_plan_text(&plan, cmds, sizeof(cmds));
	for (unsigned i = 0; i < plan.n_chains; i++)
		inputs += plan.chains[i].input;
	if (c->fw_forward && plan.n_chains == inputs)
		fprintf(out, "# nft: no forward chain on this host: forwarding is not filtered\n");
	if (c->fw_input && !inputs)
		fprintf(out, "# nft: no input chain on this host: input is not filtered\n");
	for (char *l = cmds; *l;) {
		size_t n = strcspn(l, "\n");

		fprintf(out, "nft '%.*s'\n", (int)n, l);	/* quoted for a shell */
		l += n + (l[n] == '\n');
	}
}

void host_describe(const struct config *c, int fw_rules, struct strbuf *sb)
{
	char a[INET_ADDRSTRLEN];

	if (c->table) {
		sb_printf(sb, "table=%u%s%s\n", c->table, c->table_name[0] ? " " : "", c->table_name);
		sb_printf(sb, "default_route=%s\n", c->default_route ? "yes" : "no");
		sb_printf(sb, "rules=");
		for (unsigned i = 0; i < c->n_rule_from; i++)
			sb_printf(sb, "%sfrom %s/%u", i ? ", " : "", ip4(c->rule_from[i].addr, a),
				  c->rule_from[i].len);
		if (c->rule_priority)
			sb_printf(sb, " priority %u", c->rule_priority);
		sb_printf(sb, "\n");
	}
	sb_printf(sb, "routes=");
	for (unsigned i = 0; i < c->n_routes; i++) {
		sb_printf(sb, "%s%s/%u", i ? ", " : "", ip4(c->routes[i].dst.addr, a),
			  c->routes[i].dst.len);
		if (c->routes[i].table != RT_TABLE_MAIN)
			sb_printf(sb, " table %u", c->routes[i].table);
		if (c->routes[i].metric)
			sb_printf(sb, " metric %u", c->routes[i].metric);
	}
	sb_printf(sb, "\n");
	sb_printf(sb, "ip_forward=%s\n", c->ip_forward == TRI_KEEP ? "keep" :
		  c->ip_forward == TRI_YES ? "on" : "off");
	sb_printf(sb, "proxy_arp=");
	for (unsigned i = 0; i < c->n_proxy_arp; i++)
		sb_printf(sb, "%s%s", i ? " " : "", c->proxy_arp[i]);
	sb_printf(sb, "\nrp_filter=%s\n", c->rp_filter == RPF_KEEP ? "keep" :
		  c->rp_filter == RPF_OFF ? "off" : c->rp_filter == RPF_STRICT ? "strict" : "loose");
	sb_printf(sb, "firewall=%s", c->fw_forward ? "accept" : "none");
	for (unsigned i = 0; i < c->n_forward_from; i++)
		sb_printf(sb, "%s%s/%u", i ? ", " : " from ", ip4(c->forward_from[i].addr, a),
			  c->forward_from[i].len);
	sb_printf(sb, "\nfirewall_input=%s\n", c->fw_input ? "accept" : "none");
	if (c->fw_forward || c->fw_input)
		sb_printf(sb, "firewall_rules=%d\n", fw_rules);
}

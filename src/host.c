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

#include "control.h"
#include "fastpath.h"
#include "firewall.h"

#define RT_TABLES "/etc/iproute2/rt_tables"
#define RT_TABLES_D "/etc/iproute2/rt_tables.d"
#define MAX_STATE 512

static const char *ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* The state file, never through a symbolic link: mode "a" (created) or "r". */
static FILE *state_fopen(const char *path, const char *mode)
{
	int fd = run_open(path, *mode == 'a' ? O_WRONLY | O_APPEND | O_CREAT : O_RDONLY, 0600);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, mode);
	if (!f)
		close(fd);
	return f;
}

/* An apply run: where to record, where to complain. */
struct run {
	const struct config *c;
	struct nl *nl;
	int ifindex;
	FILE *state;
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

static void record(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void record(struct run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->state, fmt, ap);
	va_end(ap);
	fputc('\n', r->state);
	fflush(r->state);
}

/* sysctl files: read the current value (trimmed), write a new one. */
static int sysctl_read(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)n, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	len = strcspn(buf, "\n");
	buf[len] = '\0';
	return 0;
}

int host_sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Set a sysctl, recording its value first so that it can be put back. */
static int set_sysctl(struct run *r, unsigned line, const char *step, const char *path,
		      const char *val)
{
	char old[64];
	int rc = sysctl_read(path, old, sizeof(old));

	if (rc == 0 && strchr(old, ' '))
		rc = -EINVAL;
	if (rc < 0) {
		fail(r, line, step, "cannot read %s: %s", path, strerror(-rc));
		return -1;
	}
	if (!strcmp(old, val))
		return 0;	/* already so: nothing to undo */
	record(r, "sysctl %s %s", path, old);
	rc = host_sysctl_write(path, val);
	if (rc < 0) {
		fail(r, line, step, "cannot write %s: %s", path, strerror(-rc));
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

static int step_table_name(struct run *r)
{
	const struct config *c = r->c;
	char path[512], why[768], other[768];
	struct dirent *e;
	DIR *d;
	FILE *f;
	int conflict;

	if (host_rt_tables_path(c->name, path, sizeof(path)) < 0) {
		fail(r, c->line.table, "Table", "path too long");
		return -1;
	}
	conflict = rt_conflict(RT_TABLES, c, why, sizeof(why));
	d = opendir(RT_TABLES_D);
	while (!conflict && d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf"))
			continue;
		snprintf(other, sizeof(other), RT_TABLES_D "/%s", e->d_name);
		if (strcmp(other, path))
			conflict = rt_conflict(other, c, why, sizeof(why));
	}
	if (d)
		closedir(d);
	if (conflict) {
		fail(r, c->line.table, "Table", "%s", why);
		return -1;
	}
	if (mkdir(RT_TABLES_D, 0755) == 0)
		record(r, "rmdir %s", RT_TABLES_D);
	record(r, "rtfile %s", path);
	f = fopen(path, "we");
	if (!f || fprintf(f, "# tunnel %s (ipipd); removed when it stops\n%u %s\n", c->name,
			  c->table, c->table_name) < 0 || fclose(f) != 0) {
		fail(r, c->line.table, "Table", "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int step_default_route(struct run *r)
{
	const struct config *c = r->c;
	int rc = nl_default_route(r->nl, true, c->table, c->has_peer ? c->peer.s_addr : 0,
				  r->ifindex);

	if (rc < 0) {
		fail(r, c->line.default_route ? c->line.default_route : c->line.table, "DefaultRoute",
		     "default route in table %u: %s", c->table, strerror(-rc));
		return -1;
	}
	return 0;
}

static int step_rules(struct run *r)
{
	const struct config *c = r->c;
	char a[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < c->n_rule_from; i++) {
		const struct prefix *p = &c->rule_from[i];
		int rc = nl_rule(r->nl, true, p->addr, p->len, c->table, c->rule_priority);

		if (rc < 0) {
			fail(r, c->line.rule_from ? c->line.rule_from : c->line.table, "RuleFrom",
			     "rule from %s/%u table %u: %s", ip4(p->addr, a), p->len, c->table,
			     rc == -EEXIST ? "an identical rule already exists" : strerror(-rc));
			return -1;
		}
		record(r, "rule %s %u %u %u", ip4(p->addr, a), p->len, c->table, c->rule_priority);
	}
	return 0;
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
	char err[1024];

	if (fw_plan(c->name, c->forward_from, c->n_forward_from, &plan, err, sizeof(err)) < 0) {
		fail(r, c->line.forward, "Forward", "nft: %s", err);
		return -1;
	}
	record(r, "nft %s", c->name);
	if (fw_apply(&plan, err, sizeof(err)) < 0) {
		fail(r, c->line.forward, "Forward", "nft: %s", err);
		return -1;
	}
	return 0;
}

int host_apply(const struct config *c, struct nl *nl, int ifindex, const char *state_path,
	       FILE *err)
{
	struct run r = { .c = c, .nl = nl, .ifindex = ifindex, .err = err };
	int rc = 0;

	r.state = state_fopen(state_path, "a");
	if (!r.state) {
		fprintf(err, "%s: %s\n", state_path, strerror(errno));
		return -1;
	}
	if (c->table && c->table_name[0])
		rc = step_table_name(&r);
	if (rc == 0 && c->table && c->default_route)
		rc = step_default_route(&r);
	if (rc == 0 && c->table)
		rc = step_rules(&r);
	if (rc == 0 && c->rp_filter != RPF_KEEP)
		rc = step_rp_filter(&r);
	if (rc == 0)
		rc = step_proxy_arp(&r);
	if (rc == 0 && c->ip_forward != TRI_KEEP)
		rc = step_ip_forward(&r);
	if (rc == 0 && c->fw_forward)
		rc = step_firewall(&r);
	fclose(r.state);
	if (rc < 0) {
		host_cleanup(nl, state_path, err);
		return -1;
	}
	return 0;
}

int host_record_link(const char *state_path, const char *name)
{
	FILE *f = state_fopen(state_path, "a");

	if (!f)
		return -errno;
	fprintf(f, "link %s\n", name);
	return fclose(f) == 0 ? 0 : -errno;
}

int host_record_tc_filter(const char *state_path, int ifindex, uint32_t handle, uint32_t prio)
{
	char name[IF_NAMESIZE] = "";
	FILE *f = state_fopen(state_path, "a");

	if (!f)
		return -errno;
	if_indextoname((unsigned)ifindex, name);
	fprintf(f, "tcfilter %d %s %u %u\n", ifindex, name[0] ? name : "-", handle, prio);
	return fclose(f) == 0 ? 0 : -errno;
}

/* Undo one state line; 0 if done (or nothing left to undo), -1 if it failed. */
static int undo(struct nl *nl, char *line, FILE *log)
{
	char what[16], a[64], path[512], old[64], err[512];
	unsigned len, table, prio;
	struct in_addr addr;
	int ifindex, rc = 0;

	if (sscanf(line, "%15s", what) != 1)
		return 0;
	if (!strcmp(what, "rtfile") && sscanf(line, "%*s %511s", path) == 1) {
		if (unlink(path) < 0 && errno != ENOENT)
			rc = -errno;
	} else if (!strcmp(what, "rmdir") && sscanf(line, "%*s %511s", path) == 1) {
		rmdir(path);	/* only if nobody else put files there */
	} else if (!strcmp(what, "rule") &&
		   sscanf(line, "%*s %63s %u %u %u", a, &len, &table, &prio) == 4 &&
		   inet_pton(AF_INET, a, &addr) == 1) {
		rc = nl_rule(nl, false, addr.s_addr, len, table, prio);
		if (rc == -ENOENT)
			rc = 0;
	} else if (!strcmp(what, "sysctl") && sscanf(line, "%*s %511s %63s", path, old) == 2) {
		rc = host_sysctl_write(path, old);
		if (rc == -ENOENT)	/* the tunnel device's own setting went with it */
			rc = 0;
	} else if (!strcmp(what, "link") && sscanf(line, "%*s %63s", a) == 1) {
		int link = (int)if_nametoindex(a);

		if (link)
			rc = nl_link_del(nl, link);
		if (rc == -ENODEV)
			rc = 0;
	} else if (!strcmp(what, "tcfilter") &&
		   sscanf(line, "%*s %d %63s %u %u", &ifindex, a, &len, &prio) == 4) {
		/* only on the same device: a new one of that name has none of ours */
		if ((int)if_nametoindex(a) == ifindex)
			rc = fp_tc_detach(ifindex, true, len, prio);
		if (rc == -ENOENT || rc == -EINVAL)
			rc = 0;
	} else if (!strcmp(what, "nft") && sscanf(line, "%*s %63s", a) == 1) {
		if (fw_cleanup(a, err, sizeof(err)) < 0) {
			fprintf(log, "ipipd: firewall cleanup for %s: %s\n", a, err);
			return -1;
		}
	} else {
		fprintf(log, "ipipd: unknown state entry '%s'\n", line);
		return -1;
	}
	if (rc < 0)
		fprintf(log, "ipipd: undo '%s': %s\n", line, strerror(-rc));
	return rc < 0 ? -1 : 0;
}

int host_cleanup(struct nl *nl, const char *state_path, FILE *log)
{
	static char lines[MAX_STATE][640];
	unsigned n = 0;
	int bad = 0;
	FILE *f = state_fopen(state_path, "r");

	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (n < MAX_STATE && fgets(lines[n], sizeof(lines[n]), f)) {
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	for (unsigned i = n; i-- > 0;)
		if (undo(nl, lines[i], log) < 0)
			bad = 1;
	if (bad)
		return -1;
	unlink(state_path);
	return (int)n;
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

	fprintf(out, "ip tunnel add %s mode ipip remote %s local %s", c->name, ip4(c->ip.remote, a),
		ip4(c->ip.local, b));
	if (c->ip.ttl)
		fprintf(out, " ttl %u", c->ip.ttl);
	if (c->ip.tos_inherit)
		fprintf(out, " tos inherit");
	else if (c->ip.tos)
		fprintf(out, " tos 0x%02x", c->ip.tos);
	fprintf(out, "%s\n", c->ip.pmtudisc ? "" : " nopmtudisc");
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
	if (c->rp_filter != RPF_KEEP)
		explain_sysctl(out, c->name, "rp_filter", c->rp_filter == RPF_OFF ? "0" :
			       c->rp_filter == RPF_STRICT ? "1" : "2");
	for (unsigned i = 0; i < c->n_proxy_arp; i++)
		explain_sysctl(out, c->proxy_arp[i], "proxy_arp", "1");
	if (c->ip_forward != TRI_KEEP)
		fprintf(out, "sysctl -w net.ipv4.ip_forward=%d\n", c->ip_forward == TRI_YES);
	if (!c->fw_forward)
		return;
	if (fw_plan(c->name, c->forward_from, c->n_forward_from, &plan, err, sizeof(err)) < 0) {
		fprintf(out, "# nft: cannot read this host's ruleset (%s)\n", err);
		return;
	}
	fw_plan_text(&plan, cmds, sizeof(cmds));
	if (!cmds[0])
		fprintf(out, "# nft: no forward chain on this host: forwarding is not filtered\n");
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
	sb_printf(sb, "\n");
	if (c->fw_forward)
		sb_printf(sb, "firewall_rules=%d\n", fw_rules);
}

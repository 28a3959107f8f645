/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ipipctl: show and stop running ipipd tunnels. */
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "host.h"
#include "lint.h"
#include "metrics.h"
#include "netlink.h"
#include "packet.h"

#define MAX_TUNNELS 256
#define CONFIG_DIR "/etc/ipipd"	/* the units' NAME.conf */

static void usage(FILE *f)
{
	fprintf(f, "usage: ipipctl COMMAND [ARGS]\n"
		   "  show [--json] [NAME]   show running tunnels (all, or NAME)\n"
		   "  down NAME              stop tunnel NAME and remove what it set up\n"
		   "  reload NAME            read NAME's configuration again, apply what changed\n"
		   "  explain CONFIG         print the ip/sysctl/nft commands equivalent to CONFIG\n"
		   "  check [CONFIG...]      check each (default: " CONFIG_DIR "/*.conf) as ipipd -n\n"
		   "                         does, and what two of them would both take\n"
		   "  cleanup NAME           undo what a killed ipipd left behind for NAME\n"
		   "  metrics [--textfile DIR] [NAME]\n"
		   "                         counters in Prometheus's text format (to DIR/ipipd.prom\n"
		   "                         for node_exporter's textfile collector)\n"
		   "  -h, help               show this help\n");
}

/* Find key in a reply; returns the value (up to the end of line) or NULL. */
static const char *reply_get(const char *reply, const char *key, size_t *vlen)
{
	size_t klen = strlen(key);

	for (const char *l = reply; *l; ) {
		const char *eol = strchr(l, '\n');

		if (!eol)
			eol = l + strlen(l);
		if ((size_t)(eol - l) > klen && !strncmp(l, key, klen) && l[klen] == '=') {
			*vlen = (size_t)(eol - l) - klen - 1;
			return l + klen + 1;
		}
		l = *eol ? eol + 1 : eol;
	}
	return NULL;
}

static const char *val(const char *reply, const char *key, char *buf, size_t n)
{
	size_t len;
	const char *v = reply_get(reply, key, &len);

	if (!v || len >= n)
		return "-";
	memcpy(buf, v, len);
	buf[len] = '\0';
	return buf;
}

static int reply_errno(const char *reply)
{
	char b[16];
	const char *v = val(reply, "errno", b, sizeof(b));

	return strcmp(v, "-") ? atoi(v) : EPROTO;
}

/* Append the lines of text but "peers_next=" and "errno=" ones (and empty ones) to *all. */
static int append_lines(char **all, size_t *len, const char *text, unsigned *next, bool *more)
{
	*more = false;
	for (const char *l = text, *eol; *l; l = eol + 1) {
		size_t n;
		char *grown;

		eol = strchr(l, '\n');
		if (!eol)
			eol = l + strlen(l) - 1;	/* (a last line without its newline) */
		n = (size_t)(eol - l) + 1;
		if (!strncmp(l, "peers_next=", 11)) {
			*next = (unsigned)strtoul(l + 11, NULL, 10);
			*more = true;
			continue;
		}
		if (n == 1 || !strncmp(l, "errno=", 6))
			continue;
		grown = realloc(*all, *len + n + 1);
		if (!grown)
			return -ENOMEM;
		*all = grown;
		memcpy(*all + *len, l, n);
		*len += n;
		(*all)[*len] = '\0';
	}
	return 0;
}

/*
 * NAME's status: the reply to "get" and, for a hub whose peers do not fit
 * in one reply, the rest of them ("peers=N" until no reply says
 * "peers_next=N"), all before the errno line.  Malloc'd text, or NULL with
 * *err set (-errno; the daemon's error as the reply says it).
 */
static char *get_status(const char *name, int *err)
{
	static struct strbuf reply;
	char *all = NULL, req[32];
	size_t len = 0;
	unsigned next = 0, from = 0;
	bool more;

	*err = ctl_call(name, "get", &reply);
	if (*err == 0)
		*err = -reply_errno(reply.buf);
	if (*err == 0)
		*err = append_lines(&all, &len, reply.buf, &next, &more);
	/* each page from further on than the last: at most a page per peer */
	while (*err == 0 && more && next >= from && next <= CTL_PEERS_MAX) {
		from = next + 1;
		snprintf(req, sizeof(req), "peers=%u", next);
		*err = ctl_call(name, req, &reply);
		if (*err == 0)
			*err = -reply_errno(reply.buf);
		if (*err == 0)
			*err = append_lines(&all, &len, reply.buf, &next, &more);
	}
	if (*err == 0 && strstr(all ? all : "", "truncated=yes\n"))
		fprintf(stderr, "ipipctl: %s: the daemon's reply was cut at %d bytes: some of its "
			"lines are missing\n", name, CTL_MAX_REPLY);
	if (*err == 0) {
		char *grown = realloc(all, len + sizeof("errno=0\n\n"));

		if (grown) {
			all = grown;
			memcpy(all + len, "errno=0\n\n", sizeof("errno=0\n\n"));
			return all;
		}
		*err = -ENOMEM;
	}
	free(all);
	return NULL;
}

/* "1.234 s ago" from milliseconds, "never" from null. */
static const char *ago(const char *ms, char *buf, size_t n)
{
	if (!strcmp(ms, "null") || !strcmp(ms, "-"))
		return strcmp(ms, "-") ? "never" : "-";
	snprintf(buf, n, "%.3f s ago", strtoull(ms, NULL, 10) / 1000.0);
	return buf;
}

/*
 * The next "key=value" line of a status reply from *at, which ends at its
 * first empty line (or an unterminated one): true, with the line in
 * [*l, *eol) and its first '=' at *eq, and *at past it; false at the end.
 * Lines without '=' are passed over.
 */
static bool next_kv(const char **at, const char **l, const char **eq, const char **eol)
{
	for (const char *s = *at, *e; *s && *s != '\n' && (e = strchr(s, '\n')); s = e + 1) {
		const char *q = memchr(s, '=', (size_t)(e - s));

		if (q) {
			*l = s;
			*eq = q;
			*eol = e;
			*at = e + 1;
			return true;
		}
	}
	return false;
}

/* Remote = any: the peers, a line each ("hub_peer.ADDR=..." lines). */
static void show_peers(const char *r, const char *allowed)
{
	char b[4][64];

	printf("  allowed remotes %s, per-peer source check %s, %s routes into the device, "
	       "%s peers\n", allowed, val(r, "peer_source_check", b[0], 64),
	       val(r, "hub_routes", b[1], 64), val(r, "hub_peers", b[2], 64));
	for (const char *at = r, *l, *eq, *eol; next_kv(&at, &l, &eq, &eol);) {
		if (!strncmp(l, "hub_peer.", 9)) {
			char line[512], *f, *save = NULL;

			snprintf(line, sizeof(line), "%.*s", (int)(eol - eq - 1), eq + 1);
			printf("  peer %.*s:", (int)(eq - l - 9), l + 9);
			for (f = strtok_r(line, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
				char *v = strchr(f, '=');

				if (!v)
					continue;
				*v++ = '\0';
				if (!strcmp(f, "routes"))
					printf(" routes %s;", v);
				else if (!strcmp(f, "rx_packets") || !strcmp(f, "tx_packets"))
					printf(" %.2s %s packets", f, v);
				else if (!strcmp(f, "rx_bytes") || !strcmp(f, "tx_bytes"))
					printf(" %s bytes;", v);
				else if (!strcmp(f, "last_rx_ms"))
					printf(" last rx %s;", ago(v, b[3], 64));
				else if (!strcmp(f, "last_tx_ms"))
					printf(" last tx %s", ago(v, b[3], 64));
				else if (!strcmp(f, "direct"))
					printf("; %s", strcmp(v, "true") ? "through the kernel" : "direct");
				else if (!strcmp(f, "hop_ifindex") && strcmp(v, "0"))
					printf(" to ifindex %s", v);
				else if (!strcmp(f, "tx_direct"))
					printf(" (%s sent direct)", v);
				else if (!strcmp(f, "rx_fast") && strcmp(val(r, "datapath", b[3], 64), "ebpf") == 0)
					printf("; fast path rx %s", v);
				else if (!strcmp(f, "tx_fast") && strcmp(val(r, "datapath", b[3], 64), "ebpf") == 0)
					printf(" tx %s packets", v);
			}
			putchar('\n');
		}
	}
}

static void show_human(const char *r)
{
	char b[8][64], reason[256];
	const char *hop;
	int ndrops = 0;

	if (!strcmp(val(r, "state", b[0], 64), "waiting")) {	/* not up yet: at boot */
		printf("tunnel %s: waiting for %s, pid %s\n", val(r, "name", b[0], 64),
		       val(r, "waiting_for", reason, sizeof(reason)), val(r, "pid", b[1], 64));
		printf("  local %s  remote %s  address %s\n", val(r, "local", b[0], 64),
		       val(r, "remote", b[1], 64), val(r, "address", b[2], 64));
		return;
	}
	printf("tunnel %s: %s datapath (%s), pid %s\n", val(r, "name", b[0], 64),
	       val(r, "datapath", b[1], 64),
	       val(r, "datapath_reason", reason, sizeof(reason)), val(r, "pid", b[2], 64));
	if (strcmp(val(r, "datapath", b[1], 64), "ebpf") == 0) {
		printf("  fast path: %s programs %s; fast rx %s tx %s, slow rx %s tx %s packets\n",
		       val(r, "fast_attach", b[0], 64), val(r, "fast_programs", b[2], 64),
		       val(r, "fast_rx_packets", b[3], 64), val(r, "fast_tx_packets", b[4], 64),
		       val(r, "slow_rx_packets", b[5], 64), val(r, "slow_tx_packets", b[6], 64));
		hop = val(r, "fast_next_hop", b[0], 64);
		if (!strcmp(hop, "lookup"))
			printf("  fast path output: the kernel looks up the route and the neighbour "
			       "for each packet\n");
		else if (strcmp(hop, "-"))
			printf("  fast path output: straight to %s on ifindex %s\n", hop,
			       val(r, "fast_underlay", b[1], 64));
	}
	printf("  local %s  remote %s  mtu %s\n", val(r, "local", b[0], 64),
	       val(r, "remote", b[1], 64), val(r, "mtu", b[2], 64));
	if (!strcmp(val(r, "device", b[0], 64), "down"))
		printf("  device DOWN: set down by someone else; its routes come back when it is up\n");
	if (strcmp(val(r, "device_renamed", b[0], 64), "-"))
		printf("  device RENAMED: now %s, by someone else, and not named %s again (the "
		       "firewall's rules match %s)\n", val(r, "device_renamed", b[0], 64),
		       val(r, "name", b[1], 64), val(r, "name", b[2], 64));
	if (strcmp(val(r, "routes_displaced", b[0], 64), "-") && strcmp(b[0], "0"))
		printf("  route DISPLACED: %s (%s in all): another route is in its place, through "
		       "another device; put back once it is gone\n", val(r, "route_displaced", b[1], 64),
		       b[0]);
	if (strcmp(val(r, "allowed_remotes", reason, sizeof(reason)), "-"))
		show_peers(r, reason);
	if (strcmp(val(r, "port", b[0], 64), "-"))
		printf("  encapsulation %s: port %s, remote port %s, source port %s, UDP checksum %s\n",
		       val(r, "encapsulation", b[1], 64), b[0], val(r, "remote_port", b[2], 64),
		       val(r, "source_port", b[3], 64), val(r, "udp_checksum", b[4], 64));
	if (strcmp(val(r, "udp_coalesced", b[0], 64), "-"))
		printf("  UDP: %s datagrams read coalesced, %s sent in GSO frames\n", b[0],
		       val(r, "udp_gso_sent", b[1], 64));
	printf("  ttl %s  tos %s  pmtudisc %s  ecn %s  dscp %s\n", val(r, "ttl", b[0], 64),
	       val(r, "tos", b[1], 64), val(r, "pmtudisc", b[2], 64), val(r, "ecn", b[3], 64),
	       val(r, "dscp", b[4], 64));
	printf("  address %s", val(r, "address", b[0], 64));
	if (strcmp(val(r, "peer", b[1], 64), "-"))
		printf(" peer %s", b[1]);
	printf("\n  rx: %s packets, %s bytes\n", val(r, "rx_packets", b[0], 64),
	       val(r, "rx_bytes", b[1], 64));
	printf("  tx: %s packets, %s bytes\n", val(r, "tx_packets", b[0], 64),
	       val(r, "tx_bytes", b[1], 64));
	if (strcmp(val(r, "table", b[0], 64), "-"))
		printf("  table %s, default route %s, rules: %s\n", b[0],
		       val(r, "default_route", b[1], 64), val(r, "rules", b[2], 64));
	printf("  host: ip_forward %s, proxy_arp %s, rp_filter %s, firewall %s\n",
	       val(r, "ip_forward", b[0], 64), val(r, "proxy_arp", b[1], 64),
	       val(r, "rp_filter", b[2], 64), val(r, "firewall", b[3], 64));
	if (strcmp(val(r, "path_mtu", b[0], 64), "-"))
		printf("  path MTU now %s, packets fragmented %s\n", b[0], val(r, "fragmented", b[1], 64));
	if (strcmp(val(r, "path_ttl", b[0], 64), "-")) {
		printf("  soft state: path TTL %s, exit reachable %s", strcmp(b[0], "0") ? b[0] : "unknown",
		       val(r, "reachable", b[1], 64));
		if (strcmp(val(r, "unreachable_age", b[2], 64), "-1"))
			printf(" (last unreachable error %s s ago)", b[2]);
		printf("; errors sent: time exceeded %s, host unreachable %s, rate-limited %s\n",
		       val(r, "soft_ttl_errors", b[3], 64), val(r, "soft_unreach_errors", b[4], 64),
		       val(r, "soft_errors_limited", b[5], 64));
	}
	if (strcmp(val(r, "underlay_output", reason, sizeof(reason)), "-")) {
		printf("  underlay output: %s", reason);
		if (strcmp(val(r, "underlay_hop", b[0], 64), "-"))
			printf(", to %s", b[0]);
		printf(" (%s packets sent direct, %s failed sends there)\n", val(r, "tx_direct", b[1], 64),
		       val(r, "tx_direct_failed", b[2], 64));
	}
	if (strcmp(val(r, "tun_reads", b[0], 64), "-"))
		printf("  TUN device: %s reads, %s writes; %s super-packets split, %s coalesced "
		       "writes (%s segments not merged: checksum wrong)\n", b[0],
		       val(r, "tun_writes", b[1], 64), val(r, "gso_split", b[2], 64),
		       val(r, "gro_writes", b[3], 64), val(r, "gro_csum_bad", b[4], 64));
	if (!strcmp(val(r, "tun_read_by", b[0], 64), "io_uring"))
		printf("  TUN reads: io_uring, a multishot read (reads above: its passes)\n");
	else if (!strcmp(b[0], "read"))
		printf("  TUN reads: read(), one a packet: %s\n", val(r, "tun_read_why", reason, sizeof(reason)));
	printf("  last packet from Remote: %s, to Remote: %s\n",
	       ago(val(r, "last_rx_ms", b[0], 64), b[1], 64), ago(val(r, "last_tx_ms", b[2], 64), b[3], 64));
	if (strcmp(val(r, "alive", b[0], 64), "-") && strcmp(b[0], "null"))
		printf("  keepalive: %s (%s sent)\n", strcmp(b[0], "true") ? "down" : "up",
		       val(r, "keepalives_sent", b[1], 64));
	printf("  icmp errors from the path: %s", val(r, "icmp_errors", b[0], 64));
	if (strcmp(val(r, "last_icmp_error", reason, sizeof(reason)), "-"))
		printf(" (the last: %s)", reason);
	printf("\n");
	if (strcmp(val(r, "own_addresses", b[0], 64), "-"))
		printf("  host addresses refused as inner sources: %s\n", b[0]);
	printf("  drops:");
	for (const char *l = r; (l = strstr(l, "drop.")); l++) {
		if (l != r && l[-1] != '\n')
			continue;
		const char *eq = strchr(l, '='), *eol = strchr(l, '\n');

		if (!eq || !eol || eq > eol || !strncmp(eq, "=0\n", 3))
			continue;
		printf(" %.*s %.*s", (int)(eq - l - 5), l + 5, (int)(eol - eq - 1), eq + 1);
		ndrops++;
	}
	printf(ndrops ? "\n" : " none\n");
}

static int is_number(const char *s, size_t n)
{
	if (n > 1 && s[0] == '-') {
		s++;
		n--;
	}
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_value(const char *v, size_t n)
{
	if ((n == 4 && !memcmp(v, "null", 4)) || (n == 4 && !memcmp(v, "true", 4)) ||
	    (n == 5 && !memcmp(v, "false", 5)))
		printf("%.*s", (int)n, v);	/* JSON's own: null when never, true/false */
	else if (is_number(v, n))
		printf("%.*s", (int)n, v);
	else
		json_str(v, n);
}

/*
 * Remote = any: "hub_peer.ADDR=K=V K=V ..." lines as
 * "peers":[{"address":ADDR,"K":V,...},...].
 */
static void show_json_peers(const char *r, int *first)
{
	int n = 0;

	for (const char *at = r, *l, *eq, *eol; next_kv(&at, &l, &eq, &eol);) {
		if (!strncmp(l, "hub_peer.", 9)) {
			printf("%s%s{\"address\":", *first && !n ? "" : ",", n ? "" : "\"peers\":[");
			json_str(l + 9, (size_t)(eq - l - 9));
			for (const char *f = eq + 1; f < eol;) {
				const char *end = memchr(f, ' ', (size_t)(eol - f)), *e;

				if (!end)
					end = eol;
				e = memchr(f, '=', (size_t)(end - f));
				if (e) {
					putchar(',');
					json_str(f, (size_t)(e - f));
					putchar(':');
					json_value(e + 1, (size_t)(end - e - 1));
				}
				f = end + 1;
			}
			putchar('}');
			n++;
		}
	}
	if (n) {
		putchar(']');
		*first = 0;
	}
}

static void show_json(const char *r)
{
	int first = 1, first_drop = 1;

	putchar('{');
	for (const char *at = r, *l, *eq, *eol; next_kv(&at, &l, &eq, &eol);) {
		if (strncmp(l, "drop.", 5) && strncmp(l, "errno=", 6) && strncmp(l, "hub_peer.", 9)) {
			printf("%s", first ? "" : ",");
			json_str(l, (size_t)(eq - l));
			putchar(':');
			json_value(eq + 1, (size_t)(eol - eq - 1));
			first = 0;
		}
	}
	show_json_peers(r, &first);
	printf("%s\"drops\":{", first ? "" : ",");
	for (const char *at = r, *l, *eq, *eol; next_kv(&at, &l, &eq, &eol);) {
		if (!strncmp(l, "drop.", 5)) {
			printf("%s", first_drop ? "" : ",");
			json_str(l + 5, (size_t)(eq - l - 5));
			putchar(':');
			json_value(eq + 1, (size_t)(eol - eq - 1));
			first_drop = 0;
		}
	}
	printf("}}");
}

/* A failed control call (-errno), said the same way for every command. */
static void call_error(const char *name, int err)
{
	fprintf(stderr, "ipipctl: tunnel '%s': %s\n", name,
		err == -ENOENT || err == -ECONNREFUSED ? "no such tunnel (is ipipd running?)"
						       : strerror(-err));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The runtime directory must be what ipipd makes (run_dir_check) before
 * anything in it is used: 0, -ENOENT (none: no tunnel), or -1 (said why).
 */
static int check_run_dir(void)
{
	char why[600];
	int rc = run_dir_check(0, why, sizeof(why));

	if (rc == -ENOENT)
		return rc;
	if (rc < 0) {
		fprintf(stderr, "ipipctl: runtime directory: %s: not used\n", why);
		return -1;
	}
	return 0;
}

/* Names of the tunnels with a control socket in this network namespace. */
static int list_tunnels(char **names, int max)
{
	char dir[512];
	struct dirent *e;
	DIR *dp;
	int n = 0;

	if (run_dir(dir, sizeof(dir)) < 0 || !(dp = opendir(dir)))
		return 0;
	while ((e = readdir(dp)) && n < max) {
		size_t len = strlen(e->d_name);
		char state[600];

		if (len <= 5 || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		/* not the files a killed ipipd left in a namespace gone since */
		if (snprintf(state, sizeof(state), "%s/%.*s.state", dir, (int)(len - 5),
			     e->d_name) < (int)sizeof(state) && host_state_gone(state))
			continue;
		names[n++] = strndup(e->d_name, len - 5);
	}
	closedir(dp);
	qsort(names, (size_t)n, sizeof(*names), name_cmp);
	return n;
}

static int cmd_show(int argc, char **argv)
{
	char *names[MAX_TUNNELS];
	int json = 0, n, shown = 0, rc = 0;
	const char *only = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!only && argv[i][0] != '-')
			only = argv[i];
		else {
			usage(stderr);
			return 1;
		}
	}
	if (only && !config_valid_ifname(only)) {
		fprintf(stderr, "ipipctl: '%s' is not a tunnel name\n", only);
		return 1;
	}
	rc = check_run_dir();
	if (rc == -1)
		return 1;
	if (only) {
		names[0] = strdup(only);
		n = 1;
	} else {
		n = rc == 0 ? list_tunnels(names, MAX_TUNNELS) : 0;
	}
	rc = 0;
	if (json)
		putchar('[');
	for (int i = 0; i < n; i++) {
		int err;
		char *status = get_status(names[i], &err);

		if (status) {
			if (json)
				printf("%s", shown ? "," : "");
			json ? show_json(status) : show_human(status);
			shown++;
			free(status);
		} else if (only) {
			call_error(names[i], err);
			rc = 1;
		}
		free(names[i]);
	}
	if (json)
		printf("]\n");
	else if (!shown && !only)
		printf("no tunnels\n");
	return rc;
}

/* `ipipctl CMD NAME`: send request req to NAME's daemon; 0, or -1 (said why). */
static int call_named(int argc, char **argv, const char *req, struct strbuf *reply)
{
	int err;

	if (argc != 2 || !config_valid_ifname(argv[1])) {
		usage(stderr);
		return -1;
	}
	if (check_run_dir() == -1)
		return -1;
	err = ctl_call(argv[1], req, reply);
	if (err < 0) {
		call_error(argv[1], err);
		return -1;
	}
	return 0;
}

static int cmd_down(int argc, char **argv)
{
	static struct strbuf reply;
	char path[512];
	int err = call_named(argc, argv, "down", &reply);

	if (err < 0)
		return 1;
	err = -reply_errno(reply.buf);
	if (err) {
		call_error(argv[1], err);
		return 1;
	}
	/* Wait (up to 10 s) until the daemon has removed its socket. */
	if (run_path(path, sizeof(path), argv[1], ".sock") == 0) {
		for (int i = 0; i < 1000 && access(path, F_OK) == 0; i++)
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		if (access(path, F_OK) == 0) {
			fprintf(stderr, "ipipctl: tunnel '%s' did not stop within 10 s\n", argv[1]);
			return 1;
		}
	}
	return 0;
}

/* Ask tunnel NAME's daemon to read its configuration again and apply what changed. */
static int cmd_reload(int argc, char **argv)
{
	static struct strbuf reply;
	char text[512];
	int err = call_named(argc, argv, "reload", &reply);

	if (err < 0)
		return 1;
	val(reply.buf, "reload", text, sizeof(text));
	err = reply_errno(reply.buf);
	if (err == EIO) {	/* applied, but a step failed: the new file is the tunnel's now */
		fprintf(stderr, "ipipctl: tunnel '%s': reloaded, but not all of it applied: %s\n",
			argv[1], strcmp(text, "-") ? text : "see its log");
		return 1;
	}
	if (err) {
		fprintf(stderr, "ipipctl: tunnel '%s': reload refused (%s): %s\n", argv[1],
			strerror(err), strcmp(text, "-") ? text : "see its log");
		return 1;
	}
	printf("%s: %s\n", argv[1], strcmp(text, "-") ? text : "reloaded");
	return 0;
}

static int cmd_explain(int argc, char **argv)
{
	static struct config c;
	unsigned mtu = 0, umtu;
	struct nl nl;
	uint32_t towards;
	int oif;

	if (argc != 2) {
		usage(stderr);
		return 1;
	}
	if (config_load(argv[1], &c, stderr) < 0)
		return 1;
	/* Remote = NAME, Local = auto: what they stand for here and now */
	if (c.remote_name[0]) {
		char err[ENDPOINT_ERR_MAX];

		if (endpoint_resolve(c.remote_name, &c.ip.remote, err, sizeof(err)) == 0)
			printf("# Remote %s: %s now (ipipd looks it up every %u s)\n", c.remote_name,
			       inet_ntop(AF_INET, &c.ip.remote, (char[INET_ADDRSTRLEN]){ 0 }, INET_ADDRSTRLEN), c.resolve_interval);
		else
			printf("# Remote %s does not resolve here now (%s): 0.0.0.0 below\n",
			       c.remote_name, err);
	}
	mtu = c.mtu;
	/* where the daemon looks (tunnel_towards): Remote, or AllowedRemotes' first prefix */
	towards = c.ip.remote_any && c.ip.n_allowed_remotes ? c.allowed_remotes[0].addr : c.ip.remote;
	if (nl_open(&nl) == 0) {
		if (c.local_auto && c.ip.remote && nl_route_src(&nl, c.ip.remote, &c.ip.local) == 0)
			printf("# Local = auto: %s now, the source address of the route to Remote "
			       "(ipipd follows it)\n", inet_ntop(AF_INET, &c.ip.local, (char[INET_ADDRSTRLEN]){ 0 }, INET_ADDRSTRLEN));
		else if (c.local_auto)
			printf("# Local = auto: no route to Remote with a source address here now: "
			       "0.0.0.0 below\n");
		if (!mtu && towards && nl_route_mtu(&nl, towards, &umtu, &oif) == 0 &&
		    umtu > CONFIG_MTU_MIN + ipip_outer_len(&c.ip)) {
			umtu -= (unsigned)ipip_outer_len(&c.ip);
			mtu = umtu > CONFIG_MTU_MAX ? CONFIG_MTU_MAX : umtu;
		}
		nl_close(&nl);
	}
	if (!mtu)
		printf("# MTU: the MTU of the route to %s - %zu (no route to it here)\n",
		       c.ip.remote_any ? "AllowedRemotes' first prefix" : "Remote", ipip_outer_len(&c.ip));
	host_explain(&c, mtu, stdout);
	return 0;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir's NAME.conf files (not those in its subdirectories), sorted; -errno. */
static int config_files(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int n = 0, rc = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char **nv;

		if (len <= 5 || strcmp(e->d_name + len - 5, ".conf") || e->d_type == DT_DIR)
			continue;
		nv = realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (!nv || asprintf(&nv[n], "%s/%s", dir, e->d_name) < 0) {
			rc = -ENOMEM;
			v = nv ? nv : v;
			break;
		}
		v = nv;
		n++;
	}
	closedir(d);
	if (rc < 0) {
		while (n > 0)
			free(v[--n]);
		free(v);
		return rc;
	}
	if (n)
		qsort(v, (size_t)n, sizeof(*v), path_cmp);
	*out = v;
	return n;
}

/*
 * Each file as `ipipd -n` checks it, then what two of them would both take
 * (lint_set()): the tunnels of a host checked together, before a boot or a
 * restart finds out.  Exit 1 if anything is wrong.
 */
static int cmd_check(int argc, char **argv)
{
	char **paths = argv + 1, **found = NULL;
	int n = argc - 1, bad = 0, loaded = 0;
	struct config **cs;

	if (n == 0) {
		n = config_files(CONFIG_DIR, &found);
		if (n < 0) {
			fprintf(stderr, "ipipctl: %s: %s\n", CONFIG_DIR, strerror(-n));
			return 1;
		}
		if (n == 0) {
			fprintf(stderr, "ipipctl: no tunnels in %s (NAME.conf)\n", CONFIG_DIR);
			return 1;
		}
		paths = found;
	}
	cs = calloc((size_t)n, sizeof(*cs));
	for (int i = 0; cs && i < n; i++) {
		struct config *c = calloc(1, sizeof(*c));
		unsigned warnings = 0;

		if (!c || config_load(paths[i], c, stderr) < 0) {
			bad = 1;
			free(c);
			continue;
		}
		if (lint_run(c, LINT_CHECK, stderr, &warnings) > 0)
			bad = 1;
		else
			printf("%s: configuration ok (tunnel %s)%s\n", paths[i], c->name,
			       warnings ? ", with warnings" : "");
		cs[loaded++] = c;
	}
	if (!cs) {
		fprintf(stderr, "ipipctl: %s\n", strerror(ENOMEM));
		bad = 1;
	} else if (lint_set((const struct config *const *)cs, (unsigned)loaded, stderr) > 0) {
		bad = 1;
	}
	for (int i = 0; i < loaded; i++)
		free(cs[i]);
	free(cs);
	for (int i = 0; found && i < n; i++)
		free(found[i]);
	free(found);
	return bad;
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The stale socket, pid and lock files, and a namespace's directory once empty. */
static void remove_runtime_files(const char *name, const char *lock)
{
	static const char *const suffix[] = { ".sock", ".pid" };
	char path[512];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++)
		if (run_path(path, sizeof(path), name, suffix[i]) == 0)
			unlink(path);
	unlink(lock);
	if (run_dir(path, sizeof(path)) == 0 && strcmp(path, RUN_BASE))
		rmdir(path);
}

static int cmd_cleanup(int argc, char **argv)
{
	char lock[512], state[512];
	struct nl nl;
	int fd, n, rc;

	if (argc != 2 || !config_valid_ifname(argv[1])) {
		usage(stderr);
		return 1;
	}
	rc = check_run_dir();
	if (rc == -1)
		return 1;
	if (run_path(lock, sizeof(lock), argv[1], ".lock") < 0 ||
	    run_path(state, sizeof(state), argv[1], ".state") < 0) {
		fprintf(stderr, "ipipctl: name too long\n");
		return 1;
	}
	if (rc == -ENOENT || (!exists(lock) && !exists(state))) {
		printf("%s: nothing to clean up\n", argv[1]);
		return 0;
	}
	fd = run_lock(lock, 0);
	if (fd == -EWOULDBLOCK) {
		fprintf(stderr, "ipipctl: tunnel '%s' is running: stop it with 'ipipctl down %s'\n",
			argv[1], argv[1]);
		return 1;
	}
	if (fd < 0 || (rc = nl_open(&nl)) < 0) {
		fprintf(stderr, "ipipctl: %s: %s\n", lock, strerror(fd < 0 ? -fd : -rc));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	n = host_cleanup(&nl, argv[1], state, stderr);
	nl_close(&nl);
	if (n == -EBADMSG)
		fprintf(stderr, "ipipctl: %s: %s holds entries ipipd did not write for this tunnel "
			"here: nothing of it was undone (look at it, undo what it lists by hand "
			"and remove it)\n", argv[1], state);
	else if (n == -EIO)
		fprintf(stderr, "ipipctl: %s: some changes could not be undone; see %s\n", argv[1],
			state);
	else if (n < 0)
		fprintf(stderr, "ipipctl: %s: %s was not used\n", argv[1], state);
	if (n < 0) {
		close(fd);
		return 1;
	}
	remove_runtime_files(argv[1], lock);
	close(fd);
	printf("%s: undid %d change%s\n", argv[1], n, n == 1 ? "" : "s");
	return 0;
}

/* Write the metrics to DIR/ipipd.prom, atomically (a scraper never reads half a file). */
static int write_textfile(const char *dir, const char *const *replies, int n)
{
	char tmp[4096], path[4096];
	FILE *f;
	int fd;

	if (snprintf(path, sizeof(path), "%s/ipipd.prom", dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.ipipd.prom.%ld", dir, (long)getpid()) >= (int)sizeof(tmp)) {
		fprintf(stderr, "ipipctl: %s: path too long\n", dir);
		return 1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f || metrics_write(f, replies, n) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "ipipctl: %s: %s\n", path, strerror(errno));
		if (fd >= 0 && !f)
			close(fd);
		unlink(tmp);
		return 1;
	}
	return 0;
}

static int cmd_metrics(int argc, char **argv)
{
	char *names[MAX_TUNNELS], *replies[MAX_TUNNELS];
	const char *only = NULL, *dir = NULL;
	int n, got = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--textfile") && i + 1 < argc)
			dir = argv[++i];
		else if (!only && argv[i][0] != '-' && config_valid_ifname(argv[i]))
			only = argv[i];
		else {
			usage(stderr);
			return 1;
		}
	}
	if (only) {
		names[0] = strdup(only);
		n = 1;
	} else {
		n = list_tunnels(names, MAX_TUNNELS);
	}
	for (int i = 0; i < n; i++) {
		int err;
		char *status = get_status(names[i], &err);

		if (status)
			replies[got++] = status;
		else if (only) {
			call_error(names[i], err);
			rc = 1;
		}
		free(names[i]);
	}
	if (rc == 0)
		rc = dir ? write_textfile(dir, (const char *const *)replies, got) :
			   metrics_write(stdout, (const char *const *)replies, got) < 0;
	for (int i = 0; i < got; i++)
		free(replies[i]);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "show", cmd_show },
		{ "down", cmd_down },
		{ "reload", cmd_reload },
		{ "explain", cmd_explain },
		{ "check", cmd_check },
		{ "cleanup", cmd_cleanup },
		{ "metrics", cmd_metrics },
	};

	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ipipctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 1;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum kind { COUNTER, GAUGE, SECONDS_AGO, YES_NO };

/* Every number `ipipctl show` reports, as a metric family. */
static const struct metric {
	const char *key, *name;
	enum kind kind;
	const char *help;
} table[] = {
	{ "rx_packets", "ipipd_rx_packets_total", COUNTER, "Packets decapsulated into the tunnel device." },
	{ "rx_bytes", "ipipd_rx_bytes_total", COUNTER, "Inner bytes decapsulated into the tunnel device." },
	{ "tx_packets", "ipipd_tx_packets_total", COUNTER, "Packets encapsulated onto the underlay." },
	{ "tx_bytes", "ipipd_tx_bytes_total", COUNTER, "Inner bytes encapsulated onto the underlay." },
	{ "tx_direct", "ipipd_tx_direct_packets_total", COUNTER, "Outer packets sent straight to the next hop (packet socket)." },
	{ "tx_direct_failed", "ipipd_tx_direct_failed_total", COUNTER, "Sends straight to the next hop that failed (those packets then went through the kernel's IP output)." },
	{ "fast_rx_packets", "ipipd_fast_rx_packets_total", COUNTER, "Packets the eBPF fast path decapsulated." },
	{ "fast_tx_packets", "ipipd_fast_tx_packets_total", COUNTER, "Packets the eBPF fast path encapsulated." },
	{ "slow_rx_packets", "ipipd_slow_rx_packets_total", COUNTER, "This tunnel's outer packets the fast path left to the userspace datapath." },
	{ "slow_tx_packets", "ipipd_slow_tx_packets_total", COUNTER, "Packets the fast path left to the userspace datapath to encapsulate." },
	{ "tun_reads", "ipipd_tun_reads_total", COUNTER, "System calls that read the tunnel device (ipipd's own datapaths; through io_uring, passes of its ring)." },
	{ "tun_writes", "ipipd_tun_writes_total", COUNTER, "System calls that wrote to the tunnel device (ipipd's own datapaths)." },
	{ "gso_split", "ipipd_gso_split_total", COUNTER, "TSO/USO super-packets read from the tunnel device and split." },
	{ "gro_writes", "ipipd_gro_writes_total", COUNTER, "Coalesced super-packets written to the tunnel device." },
	{ "gro_csum_bad", "ipipd_gro_csum_bad_total", COUNTER, "Received segments not coalesced because their checksum was wrong." },
	{ "udp_coalesced", "ipipd_udp_coalesced_datagrams_total", COUNTER, "UDP encapsulation: datagrams the kernel coalesced with an earlier one (UDP_GRO), split again by ipipd." },
	{ "udp_gso_sent", "ipipd_udp_gso_sent_datagrams_total", COUNTER, "UDP encapsulation: datagrams sent in UDP GSO frames (cut by the kernel or the NIC)." },
	{ "fragmented", "ipipd_fragmented_packets_total", COUNTER, "Inner packets fragmented to fit the path MTU." },
	{ "icmp_errors", "ipipd_icmp_errors_total", COUNTER, "ICMP errors about outer packets believed (they quote a recent outer packet)." },
	{ "icmp_relayed", "ipipd_icmp_relayed_total", COUNTER, "ICMP errors relayed to inner senders (RFC 2003 section 4)." },
	{ "icmp_relay_limited", "ipipd_icmp_relay_limited_total", COUNTER, "Relays suppressed by the rate limit." },
	{ "soft_ttl_errors", "ipipd_soft_ttl_errors_total", COUNTER, "Time exceeded sent for packets below the path TTL." },
	{ "soft_unreach_errors", "ipipd_soft_unreach_errors_total", COUNTER, "Host unreachable sent while the exit was unreachable." },
	{ "soft_errors_limited", "ipipd_soft_errors_limited_total", COUNTER, "Soft-state errors suppressed by the rate limit." },
	{ "frag_needed_limited", "ipipd_frag_needed_limited_total", COUNTER, "Fragmentation needed to inner senders suppressed by the rate limit." },
	{ "ecn_unusual", "ipipd_ecn_unusual_total", COUNTER, "Unusual RFC 6040 ECN combinations received." },
	{ "keepalives_sent", "ipipd_keepalives_sent_total", COUNTER, "Keepalive echo requests sent to Peer." },
	{ "hub_routes", "ipipd_hub_routes", GAUGE, "Remote = any: routes into the device the datapath holds." },
	{ "hub_peers", "ipipd_hub_peers", GAUGE, "Remote = any: peers counted one by one." },
	{ "hub_peers_direct", "ipipd_hub_peers_direct", GAUGE, "Remote = any: peers whose outer packets go straight to their next hop now." },
	{ "mtu", "ipipd_mtu_bytes", GAUGE, "The tunnel device's MTU." },
	{ "path_mtu", "ipipd_path_mtu_bytes", GAUGE, "Inner MTU that fits the path now (RFC 2003 section 5.1 soft state)." },
	{ "path_ttl", "ipipd_path_ttl", GAUGE, "Outer TTL the path needs (0: none known)." },
	{ "icmp_errors_owed", "ipipd_icmp_errors_owed", GAUGE, "ICMP errors received and not yet answered to an inner sender." },
	{ "own_addresses", "ipipd_host_addresses", GAUGE, "Host addresses refused as inner sources." },
	{ "firewall_rules", "ipipd_firewall_rules", GAUGE, "ipipd's nftables rules for the tunnel." },
	{ "firewall_restored", "ipipd_firewall_restored_total", COUNTER, "Times ipipd put its nftables rules back after the ruleset changed." },
	{ "reachable", "ipipd_exit_reachable", YES_NO, "1 unless the tunnel exit was reported unreachable in the last 30 s." },
	{ "alive", "ipipd_alive", YES_NO, "Keepalive: 1 while Peer answers, 0 once it stopped (absent: Keepalive off)." },
	{ "device", "ipipd_device_up", YES_NO, "1 while the tunnel device is up, 0 while it is down (set down by someone else)." },
	{ "routes_displaced", "ipipd_routes_displaced", GAUGE, "The tunnel's routes another route holds the place of (the same destination, table and metric through another device)." },
	{ "last_rx_ms", "ipipd_last_rx_age_seconds", SECONDS_AGO, "Seconds since the last packet from Remote (absent: never)." },
	{ "last_tx_ms", "ipipd_last_tx_age_seconds", SECONDS_AGO, "Seconds since the last packet to Remote (absent: never)." },
	{ "firewall_restored_ago_ms", "ipipd_firewall_restored_age_seconds", SECONDS_AGO, "Seconds since ipipd last put its nftables rules back (absent: never)." },
};

/* The value of key in a reply ("key=value" lines), copied into buf; NULL if absent. */
static const char *value(const char *reply, const char *key, char *buf, size_t n)
{
	size_t klen = strlen(key);

	for (const char *l = reply; *l;) {
		const char *eol = l + strcspn(l, "\n");

		if ((size_t)(eol - l) > klen && !strncmp(l, key, klen) && l[klen] == '=') {
			size_t len = (size_t)(eol - l) - klen - 1;

			if (len >= n)
				return NULL;
			memcpy(buf, l + klen + 1, len);
			buf[len] = '\0';
			return buf;
		}
		l = *eol ? eol + 1 : eol;
	}
	return NULL;
}

/* A label value with \\, " and newlines escaped (exposition format). */
static void label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static bool number(const char *s)
{
	char *end;

	if (!*s)
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static void family(FILE *out, const struct metric *m, const char *const *replies, int n)
{
	bool header = false;
	char name[64], v[64];

	for (int i = 0; i < n; i++) {
		const char *val = value(replies[i], m->key, v, sizeof(v));

		if (!val || !value(replies[i], "name", name, sizeof(name)))
			continue;
		if (m->kind == YES_NO && strcmp(val, "yes") && strcmp(val, "no") &&
		    strcmp(val, "true") && strcmp(val, "false") && strcmp(val, "up") &&
		    strcmp(val, "down"))
			continue;	/* null: not known */
		if (m->kind != YES_NO && !number(val))
			continue;
		if (!header) {
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
				m->kind == COUNTER ? "counter" : "gauge");
			header = true;
		}
		fprintf(out, "%s{tunnel=\"", m->name);
		label(out, name);
		if (m->kind == YES_NO)
			fprintf(out, "\"} %d\n", !strcmp(val, "yes") || !strcmp(val, "true") ||
				!strcmp(val, "up"));
		else if (m->kind == SECONDS_AGO)
			fprintf(out, "\"} %.3f\n", strtod(val, NULL) / 1000.0);
		else
			fprintf(out, "\"} %s\n", val);
	}
}

/* ipipd_drops_total{tunnel, reason}: every drop reason of every tunnel. */
static void drops(FILE *out, const char *const *replies, int n)
{
	char name[64];

	fprintf(out, "# HELP ipipd_drops_total Packets not carried, and ICMP errors not acted on, by reason.\n"
		     "# TYPE ipipd_drops_total counter\n");
	for (int i = 0; i < n; i++) {
		if (!value(replies[i], "name", name, sizeof(name)))
			continue;
		for (const char *l = replies[i]; *l;) {
			const char *eol = l + strcspn(l, "\n"), *eq = memchr(l, '=', (size_t)(eol - l));

			if (eq && !strncmp(l, "drop.", 5)) {
				fprintf(out, "ipipd_drops_total{tunnel=\"");
				label(out, name);
				fprintf(out, "\",reason=\"%.*s\"} %.*s\n", (int)(eq - l - 5), l + 5,
					(int)(eol - eq - 1), eq + 1);
			}
			l = *eol ? eol + 1 : eol;
		}
	}
}

/*
 * Remote = any: each peer's counters, from the "hub_peer.ADDR=K=V K=V ..."
 * lines, as FAMILY{tunnel, peer}.
 */
static void peers(FILE *out, const char *const *replies, int n)
{
	static const struct metric fields[] = {
		{ "rx_packets", "ipipd_peer_rx_packets_total", COUNTER, "Remote = any: packets from the peer decapsulated." },
		{ "rx_bytes", "ipipd_peer_rx_bytes_total", COUNTER, "Remote = any: inner bytes from the peer decapsulated." },
		{ "tx_packets", "ipipd_peer_tx_packets_total", COUNTER, "Remote = any: packets encapsulated to the peer." },
		{ "tx_bytes", "ipipd_peer_tx_bytes_total", COUNTER, "Remote = any: inner bytes encapsulated to the peer." },
		{ "tx_direct", "ipipd_peer_tx_direct_packets_total", COUNTER, "Remote = any: outer packets to the peer sent straight to its next hop (packet socket)." },
		{ "rx_fast", "ipipd_peer_rx_fast_packets_total", COUNTER, "Remote = any: packets from the peer decapsulated by the eBPF fast path (of rx_packets)." },
		{ "tx_fast", "ipipd_peer_tx_fast_packets_total", COUNTER, "Remote = any: packets to the peer encapsulated by the eBPF fast path (of tx_packets)." },
		{ "last_rx_ms", "ipipd_peer_last_rx_age_seconds", SECONDS_AGO, "Remote = any: seconds since the last packet from the peer (absent: never)." },
		{ "last_tx_ms", "ipipd_peer_last_tx_age_seconds", SECONDS_AGO, "Remote = any: seconds since the last packet to the peer (absent: never)." },
	};
	char name[64];

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		const struct metric *m = &fields[f];
		size_t klen = strlen(m->key);
		bool header = false;

		for (int i = 0; i < n; i++) {
			if (!value(replies[i], "name", name, sizeof(name)))
				continue;
			for (const char *l = replies[i]; *l;) {
				const char *eol = l + strcspn(l, "\n"), *eq = memchr(l, '=', (size_t)(eol - l));
				const char *v = NULL;

				/* " KEY=" in the line after its first '=' (routes=... comes first) */
				for (const char *p = eq; eq && !strncmp(l, "hub_peer.", 9) && p && p < eol;
				     p = memchr(p + 1, ' ', (size_t)(eol - p - 1))) {
					if ((size_t)(eol - p) > klen + 1 && !strncmp(p + 1, m->key, klen) &&
					    p[1 + klen] == '=') {
						v = p + 2 + klen;
						break;
					}
				}
				if (v && (*v >= '0' && *v <= '9')) {
					size_t vlen = strcspn(v, " \n");

					if (!header) {
						fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
							m->name, m->kind == COUNTER ? "counter" : "gauge");
						header = true;
					}
					fprintf(out, "%s{tunnel=\"", m->name);
					label(out, name);
					fprintf(out, "\",peer=\"%.*s\"} ", (int)(eq - l - 9), l + 9);
					if (m->kind == SECONDS_AGO)
						fprintf(out, "%.3f\n", strtod(v, NULL) / 1000.0);
					else
						fprintf(out, "%.*s\n", (int)vlen, v);
				}
				l = *eol ? eol + 1 : eol;
			}
		}
	}
}

/* ipipd_tunnel_info: 1, with what the tunnel is as labels. */
static void info(FILE *out, const char *const *replies, int n)
{
	static const char *const keys[] = { "name", "datapath", "local", "remote", "address" };
	char v[256];

	fprintf(out, "# HELP ipipd_tunnel_info The tunnel: its datapath and endpoints.\n"
		     "# TYPE ipipd_tunnel_info gauge\n");
	for (int i = 0; i < n; i++) {
		fputs("ipipd_tunnel_info{", out);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			fprintf(out, "%s%s=\"", k ? "," : "", k ? keys[k] : "tunnel");
			label(out, value(replies[i], keys[k], v, sizeof(v)) ? v : "");
			fputc('"', out);
		}
		fputs("} 1\n", out);
	}
}

int metrics_write(FILE *out, const char *const *replies, int n)
{
	info(out, replies, n);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		family(out, &table[i], replies, n);
	peers(out, replies, n);
	drops(out, replies, n);
	return ferror(out) ? -1 : 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of what a reload changes (src/tunnel.c): the live settings
 * that differ, the host groups, what only a restart applies (with its line),
 * the text said to the administrator, the MTU, the settings sent to the
 * datapath process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "tunnel.h"

/* A tunnel with more lines in [Tunnel] (from line 5 on) */
#define T(extra) "[Tunnel]\nName = t0\nLocal = 192.0.2.1\nRemote = 198.51.100.1\n" extra \
	"[Address]\nAddress = 203.0.113.1/32\nPeer = 203.0.113.2\n"
#define BASE T("")

static struct config a, b;

static void parse(const char *text, struct config *c)
{
	assert_int_equal(config_parse_string(text, "/etc/ipipd/t0.conf", c, stderr), 0);
}

static void diff(const char *ta, const char *tb, bool kernel, struct tunnel_diff *d)
{
	parse(ta, &a);
	parse(tb, &b);
	tunnel_diff(&a, &b, kernel, d);
}

static void test_same_file_changes_nothing(void **state)
{
	struct tunnel_diff d;
	char text[128];

	(void)state;
	diff(BASE "[Routing]\nTable = 10\n", BASE "[Routing]\nTable = 10\n", false, &d);
	assert_null(d.restart);
	assert_int_equal(d.live, 0);
	assert_int_equal(d.host, 0);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "nothing");
}

static void test_live_settings(void **state)
{
	struct tunnel_diff d;
	char text[256];

	(void)state;
	diff(BASE, "[Tunnel]\nName = t0\nLocal = 192.0.2.9\nRemote = 198.51.100.7\nTTL = 20\n"
		   "TOS = 0x10\nMTU = 1300\nAllowedSources = 203.0.113.0/24\nKeepalive = 5\n"
		   "[Address]\nAddress = 203.0.113.5/32\nPeer = 203.0.113.2\n", false, &d);
	assert_null(d.restart);
	assert_int_equal(d.live, TC_LOCAL | TC_REMOTE | TC_TTL | TC_TOS | TC_MTU | TC_ALLOWED |
			 TC_KEEPALIVE | TC_ADDRESS);
	/* the rule from the tunnel address follows the address */
	assert_int_equal(d.host, 0);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)),
			    "Local, Remote, TTL, TOS, AllowedSources, MTU, Keepalive, Address");
}

static void test_allowed_sources_compared_by_value(void **state)
{
	struct tunnel_diff d;

	(void)state;
	diff(T("AllowedSources = 10.0.0.0/8 10.1.0.0/16\n"),
	     T("AllowedSources = 10.0.0.0/8 10.2.0.0/16\n"), false, &d);
	assert_int_equal(d.live, TC_ALLOWED);
	diff(T("AllowedSources = 10.0.0.0/8\n"),
	     T("AllowedSources = 10.0.0.0/8\n"), false, &d);
	assert_int_equal(d.live, 0);
}

/* [Route] sections are one set: their order does not matter, their values do. */
static void test_routes_compared_as_a_set(void **state)
{
	struct tunnel_diff d;
	char text[64];

	(void)state;
	diff(BASE "[Route]\nDestination = 10.1.0.0/16\n[Route]\nDestination = 10.2.0.0/16\n",
	     BASE "[Route]\nDestination = 10.2.0.0/16\n[Route]\nDestination = 10.1.0.0/16\n",
	     false, &d);
	assert_int_equal(d.live, 0);
	diff(BASE "[Route]\nDestination = 10.1.0.0/16\n",
	     BASE "[Route]\nDestination = 10.1.0.0/16\nMetric = 5\n", false, &d);
	assert_int_equal(d.live, TC_ROUTES);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "Route");
	diff(BASE "[Route]\nDestination = 10.1.0.0/16\n", BASE, false, &d);
	assert_int_equal(d.live, TC_ROUTES);
	diff(BASE "[Route]\nDestination = 10.1.0.0/16\n[Route]\nDestination = 10.1.0.0/16\nTable = 7\n",
	     BASE "[Route]\nDestination = 10.1.0.0/16\nTable = 7\n[Route]\nDestination = 10.1.0.0/16\n",
	     false, &d);
	assert_int_equal(d.live, 0);
	assert_int_equal(d.host, 0);
}

/*
 * Remote's name, Local = auto and ResolveInterval are said when they change,
 * even when the addresses they stand for stay the same.
 */
static void test_endpoint_names(void **state)
{
#define N(remote, local) "[Tunnel]\nName = t0\nLocal = " local "\nRemote = " remote "\n" \
	"[Address]\nAddress = 203.0.113.1/32\nPeer = 203.0.113.2\n"
	struct tunnel_diff d;
	char text[128];

	(void)state;
	diff(N("a.example", "192.0.2.1"), N("a.example", "192.0.2.1\nResolveInterval = 30"), false, &d);
	assert_null(d.restart);
	assert_int_equal(d.live, TC_RESOLVE);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "ResolveInterval");
	/* the addresses are filled in by the owner: here both names stand for none */
	diff(N("a.example", "192.0.2.1"), N("b.example", "192.0.2.1"), false, &d);
	assert_int_equal(d.live, TC_REMOTE_NAME);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "Remote's name");
	diff(N("198.51.100.1", "192.0.2.1"), N("a.example", "192.0.2.1"), false, &d);
	assert_int_equal(d.live & TC_REMOTE_NAME, TC_REMOTE_NAME);
	diff(N("a.example", "192.0.2.1"), N("a.example", "auto"), false, &d);
	assert_int_equal(d.live & (TC_LOCAL_AUTO | TC_REMOTE_NAME), TC_LOCAL_AUTO);
	diff(N("a.example", "auto"), N("a.example", "auto"), false, &d);
	assert_int_equal(d.live, 0);
#undef N
}

static void test_host_groups(void **state)
{
	struct tunnel_diff d;
	char text[256];

	(void)state;
	diff(BASE "[Routing]\nTable = 10\n[Host]\nIPv4Forwarding = yes\n[Firewall]\nForward = accept\n",
	     BASE "[Routing]\nTable = 11\n[Host]\nIPv4Forwarding = yes\n[Firewall]\nForward = accept\n",
	     false, &d);
	assert_int_equal(d.host, HG_ROUTING);
	assert_int_equal(d.live, 0);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "host: routing");
	diff(BASE "[Host]\nIPv4Forwarding = yes\nProxyARP = eth0\nReversePathFilter = loose\n",
	     BASE "[Host]\nProxyARP = eth0 eth1\nReversePathFilter = strict\n[Firewall]\nForward = accept\n",
	     false, &d);
	assert_int_equal(d.host, HG_FORWARDING | HG_PROXY_ARP | HG_RP_FILTER | HG_FIREWALL);
	/* a new Peer moves the default route of the table */
	diff(BASE "[Routing]\nTable = 10\n",
	     "[Tunnel]\nName = t0\nLocal = 192.0.2.1\nRemote = 198.51.100.1\n"
	     "[Address]\nAddress = 203.0.113.1/32\nPeer = 203.0.113.3\n[Routing]\nTable = 10\n",
	     false, &d);
	assert_int_equal(d.host, HG_ROUTING);
	assert_int_equal(d.live, TC_ADDRESS);
	assert_string_equal(tunnel_diff_text(&d, text, sizeof(text)), "Address; host: routing");
}

static void test_restart_only(void **state)
{
	struct tunnel_diff d;

	(void)state;
	diff(BASE, T("Datapath = userspace\n"), false, &d);
	assert_non_null(d.restart);
	assert_string_equal(d.restart, "Datapath");
	assert_int_equal(d.restart_line, 5);
	diff(T("Nice = -5\n"), BASE, false, &d);
	assert_string_equal(d.restart, "Nice");
	assert_int_equal(d.restart_line, 1);	/* gone from the file: its section */
	diff(BASE, "[Tunnel]\nName = t1\nLocal = 192.0.2.1\nRemote = 198.51.100.1\n"
		   "[Address]\nAddress = 203.0.113.1/32\n", false, &d);
	assert_string_equal(d.restart, "Name");
	assert_int_equal(d.restart_line, 2);
	/* the kernel's device cannot enforce AllowedSources: a restart moves to ipipd's datapath */
	diff(BASE, T("AllowedSources = 10.0.0.0/8\n"), true, &d);
	assert_string_equal(d.restart, "AllowedSources");
	assert_int_equal(d.restart_line, 5);
	diff(BASE, T("AllowedSources = 10.0.0.0/8\n"), false, &d);
	assert_null(d.restart);
}

static void test_mtu(void **state)
{
	(void)state;
	parse(BASE, &a);
	assert_int_equal(tunnel_mtu(&a, 1500), 1480);
	assert_int_equal(tunnel_mtu(&a, 70), 68);	/* never below IPv4's minimum */
	parse(T("MTU = 1400\n"), &a);
	assert_int_equal(tunnel_mtu(&a, 9000), 1400);
}

static void test_params(void **state)
{
	struct msg_params mp;

	(void)state;
	parse(T("TTL = 33\nTOS = inherit\nAllowedSources = 10.0.0.0/8 10.9.0.0/16\n"
		"Keepalive = 7\nKeepaliveMisses = 4\n"), &a);
	tunnel_params(&a, 1400, &mp);
	assert_int_equal(mp.local, inet_addr("192.0.2.1"));
	assert_int_equal(mp.remote, inet_addr("198.51.100.1"));
	assert_int_equal(mp.address, inet_addr("203.0.113.1"));
	assert_int_equal(mp.peer, inet_addr("203.0.113.2"));
	assert_int_equal(mp.ttl, 33);
	assert_int_equal(mp.tos_inherit, 1);
	assert_int_equal(mp.n_allowed, 2);
	assert_int_equal(mp.allowed[1].addr, inet_addr("10.9.0.0"));
	assert_int_equal(mp.allowed[1].len, 16);
	assert_int_equal(mp.mtu, 1400);
	assert_int_equal(mp.keepalive, 7);
	assert_int_equal(mp.keepalive_misses, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_file_changes_nothing),
		cmocka_unit_test(test_live_settings),
		cmocka_unit_test(test_allowed_sources_compared_by_value),
		cmocka_unit_test(test_routes_compared_as_a_set),
		cmocka_unit_test(test_endpoint_names),
		cmocka_unit_test(test_host_groups),
		cmocka_unit_test(test_restart_only),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

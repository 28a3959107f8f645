/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state file's and the ledger's lines (src/journal.c): every kind ipipd
 * writes reads back as written; anything else (another tunnel's or
 * namespace's entry, a path outside what ipipd touches, another spelling of
 * the same values, an old format) is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

#define RTFILE JR_RT_TABLES_D "/ipipd-4026532000:Moe.conf"

static const struct jr_expect X = {
	.name = "Moe",
	.rtfile = RTFILE,
	.inode = 4026532000ull,
	.cookie = 4242,
	.tc_handle = 0x1ee12345,
	.tc_prio = 0x1ee,
};

static int parse(const char *line, enum jr_file where, struct jr_entry *e)
{
	char why[512];

	return jr_parse(line, where, &X, e, why, sizeof(why));
}

/* line is accepted, and written again exactly as it was. */
static void good(const char *line, enum jr_file where, enum jr_kind kind)
{
	struct jr_entry e;
	char again[JR_LINE_MAX];

	if (parse(line, where, &e) != 0)
		fail_msg("refused: '%s'", line);
	assert_int_equal(e.kind, kind);
	assert_int_equal(jr_format(&e, again, sizeof(again)), 0);
	assert_string_equal(again, line);
}

static void refused(const char *line, enum jr_file where)
{
	struct jr_entry e;
	char why[512] = "";
	int rc = jr_parse(line, where, &X, &e, why, sizeof(why));

	if (rc == 0)
		fail_msg("accepted: '%s'", line);
	assert_true(rc == -EBADMSG || rc == -EXDEV);
	assert_true(why[0] != '\0');
}

static void test_every_kind_reads_back(void **state)
{
	good("netns 4026532000 4242", JR_STATE, JR_NETNS);
	good("rmdir /etc/iproute2/rt_tables.d", JR_STATE, JR_RMDIR);
	good("rtfile " RTFILE, JR_STATE, JR_RTFILE);
	good("rule 203.0.113.5 32 42 32765", JR_STATE, JR_RULE);
	good("rule 0.0.0.0 0 4294967295 1", JR_STATE, JR_RULE);
	good("sysctl /proc/sys/net/ipv4/ip_forward", JR_STATE, JR_SYSCTL);
	good("sysctl /proc/sys/net/ipv4/conf/eth-lan.10/proxy_arp", JR_STATE, JR_SYSCTL);
	good("link 7 Moe tun", JR_STATE, JR_LINK);
	good("link 2147483647 Moe ipip", JR_STATE, JR_LINK);
	good("tcfilter 3 eth0 518071109 494", JR_STATE, JR_TCFILTER);
	good("tcfilter 3 - 518071109 494", JR_STATE, JR_TCFILTER);
	good("nft Moe", JR_STATE, JR_NFT);
	good("netns 4026532000 4242", JR_LEDGER, JR_NETNS);
	good("hold /proc/sys/net/ipv4/ip_forward 0 1 Moe", JR_LEDGER, JR_HOLD);
	good("hold /proc/sys/net/ipv4/conf/eth0/rp_filter 2 0 Moe a-b x.y", JR_LEDGER, JR_HOLD);
}

static void test_values(void **state)
{
	struct jr_entry e;

	assert_int_equal(parse("rule 203.0.113.5 24 42 100", JR_STATE, &e), 0);
	assert_int_equal(e.addr, inet_addr("203.0.113.5"));
	assert_int_equal(e.len, 24);
	assert_int_equal(e.table, 42);
	assert_int_equal(e.prio, 100);
	assert_int_equal(parse("link 7 Moe tun", JR_STATE, &e), 0);
	assert_int_equal(e.ifindex, 7);
	assert_string_equal(e.name, "Moe");
	assert_string_equal(e.link_kind, "tun");
	assert_int_equal(parse("hold /proc/sys/net/ipv4/ip_forward 0 1 Moe B", JR_LEDGER, &e), 0);
	assert_string_equal(e.orig, "0");
	assert_string_equal(e.value, "1");
	assert_int_equal(e.n_holders, 2);
	assert_string_equal(e.holders[1], "B");
}

static void test_other_namespace(void **state)
{
	struct jr_entry e;
	char why[512];

	assert_int_equal(jr_parse("netns 4026532000 4243", JR_STATE, &X, &e, why, sizeof(why)),
			 -EXDEV);
	assert_non_null(strstr(why, "another network namespace"));
	assert_int_equal(jr_parse("netns 4026532001 4242", JR_LEDGER, &X, &e, why, sizeof(why)),
			 -EXDEV);
	refused("netns 4026532000", JR_STATE);
	refused("netns 4026532000 -1", JR_STATE);
}

/* A dead namespace's file: this inode, another cookie. */
static void test_gone_namespace(void **state)
{
	struct jr_expect unknown = X;
	unsigned long long c = 0;

	assert_int_equal(jr_netns_gone("netns 4026532000 4241", &X, &c), 1);
	assert_int_equal(c, 4241);
	assert_int_equal(jr_netns_gone("netns 4026532000 1", &X, &c), 1);
	c = 7;
	assert_int_equal(jr_netns_gone("netns 4026532000 4242", &X, &c), 0);	/* ours */
	assert_int_equal(jr_netns_gone("netns 4026532000 4243", &X, &c), 1);	/* any order */
	assert_int_equal(c, 4243);
	c = 7;
	assert_int_equal(jr_netns_gone("netns 4026532001 4241", &X, &c), 0);	/* another inode */
	assert_int_equal(jr_netns_gone("netns 4026532000 0", &X, &c), 0);	/* cookie unknown */
	assert_int_equal(jr_netns_gone("netns 4026532000 04241", &X, &c), 0);	/* not as written */
	assert_int_equal(jr_netns_gone("netns 4026532000 4241 ", &X, &c), 0);
	assert_int_equal(jr_netns_gone("netns  4026532000 4241", &X, &c), 0);
	assert_int_equal(jr_netns_gone("netns 4026532000 4241x", &X, &c), 0);
	assert_int_equal(jr_netns_gone("rtfile " RTFILE, &X, &c), 0);
	assert_int_equal(c, 7);
	unknown.cookie = 0;	/* before Linux 5.14: no telling */
	assert_int_equal(jr_netns_gone("netns 4026532000 4241", &unknown, &c), 0);
}

static void test_sysctl_paths(void **state)
{
	static const char *const bad[] = {
		"sysctl /proc/sys/kernel/core_pattern",
		"sysctl /proc/sys/net/ipv4/../../kernel/core_pattern",
		"sysctl /proc/sys/net/ipv4/conf/../../../kernel/panic",
		"sysctl /proc/sys/net/ipv4/conf/./eth0/proxy_arp",
		"sysctl /proc/sys/net/ipv4//ip_forward",
		"sysctl /proc/sys/net/ipv4/ip_forward/",
		"sysctl /proc/sys/net/ipv4/",
		"sysctl /proc/sys/net/ipv4/conf/eth+0/proxy_arp",
		"sysctl /proc/sys/net/ipv6/conf/all/forwarding",
		"sysctl /etc/passwd",
		"sysctl proc/sys/net/ipv4/ip_forward",
		"sysctl /proc/sys/net/ipv4/ip_forward 0",	/* the old format: now in the ledger */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], JR_STATE);
	assert_true(jr_sysctl_path_ok("/proc/sys/net/ipv4/conf/a_b-c.d/rp_filter"));
	assert_false(jr_sysctl_path_ok("/proc/sys/net/ipv4/conf/..hidden/../x"));
}

static void test_hold_lines(void **state)
{
	static const char *const bad[] = {
		"hold /proc/sys/net/ipv4/ip_forward 0 1",		/* nobody holds it */
		"hold /proc/sys/net/ipv4/ip_forward 0 yes Moe",	/* not digits */
		"hold /proc/sys/net/ipv4/ip_forward -1 1 Moe",
		"hold /proc/sys/net/ipv4/ip_forward 0 1 Moe Moe",	/* twice */
		"hold /proc/sys/net/ipv4/ip_forward 0 1 a/b",		/* not a name */
		"hold /proc/sys/net/ipv4/ip_forward 0 1 a:b",
		"hold /proc/sys/net/ipv4/ip_forward 0 1 sixteen-chars-xx",
		"hold /proc/sys/kernel/panic 0 1 Moe",
		"hold /proc/sys/net/ipv4/ip_forward 0 123456789012345678901 Moe",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], JR_LEDGER);
	/* each file has its own kinds */
	refused("hold /proc/sys/net/ipv4/ip_forward 0 1 Moe", JR_STATE);
	refused("sysctl /proc/sys/net/ipv4/ip_forward", JR_LEDGER);
	refused("rule 203.0.113.5 32 42 32765", JR_LEDGER);
}

static void test_other_tunnels_and_paths(void **state)
{
	static const char *const bad[] = {
		"rtfile /etc/passwd",
		"rtfile " JR_RT_TABLES_D "/ipipd-Moe.conf",	/* PID 1's namespace's, not this one's */
		"rtfile " JR_RT_TABLES_D "/ipipd-4026532000:Larry.conf",
		"rmdir /etc",
		"rmdir /etc/iproute2/rt_tables.d/",
		"link 7 Larry tun",
		"link 7 Moe dummy",
		"link 0 Moe tun",
		"link -3 Moe tun",
		"link Moe",			/* the old format */
		"nft Larry",
		"nft Moe Larry",
		"tcfilter 3 eth0 518071110 494",	/* another tunnel's handle */
		"tcfilter 3 eth0 518071109 1",
		"tcfilter 3 eth/0 518071109 494",
		"tcfilter 0 eth0 518071109 494",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], JR_STATE);
}

static void test_rules(void **state)
{
	static const char *const bad[] = {
		"rule 203.0.113.5 32 42 0",		/* the kernel's choice, unrecorded */
		"rule 203.0.113.5 33 42 100",
		"rule 203.0.113.5 32 0 100",
		"rule 203.0.113.5 32 254 100",		/* main */
		"rule 203.0.113.5 32 255 100",
		"rule 203.0.113.5 32 4294967296 100",
		"rule 203.0.113.5 32 42 4294967296",
		"rule 203.0.113 32 42 100",
		"rule 203.0.113.05 32 42 100",
		"rule 203.0.113.5 032 42 100",		/* another spelling */
		"rule 203.0.113.5 +32 42 100",
		"rule 203.0.113.5 32 42",
		"rule 203.0.113.5 32 42 100 7",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], JR_STATE);
}

static void test_shape(void **state)
{
	static const char *const bad[] = {
		"",
		" nft Moe",
		"nft Moe ",
		"nft  Moe",
		"nft\tMoe",
		"nft Moe\r",
		"NFT Moe",
		"undo everything",
		"#nft Moe",
		"netns",
	};
	char line[JR_LINE_MAX + 10];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], JR_STATE);
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "nft ", 4);
	refused(line, JR_STATE);
}

static void test_format_too_long(void **state)
{
	struct jr_entry e = { .kind = JR_NFT, .name = "Moe" };
	char buf[8];

	assert_int_equal(jr_format(&e, buf, 6), -ENAMETOOLONG);
	assert_int_equal(jr_format(&e, buf, 8), 0);
}

static void test_value_ok(void **state)
{
	assert_true(jr_value_ok("0"));
	assert_true(jr_value_ok("18446744073709551615"));
	assert_false(jr_value_ok(""));
	assert_false(jr_value_ok("1 2"));
	assert_false(jr_value_ok("-1"));
	assert_false(jr_value_ok("123456789012345678901"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_reads_back),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_other_namespace),
		cmocka_unit_test(test_gone_namespace),
		cmocka_unit_test(test_sysctl_paths),
		cmocka_unit_test(test_hold_lines),
		cmocka_unit_test(test_other_tunnels_and_paths),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_format_too_long),
		cmocka_unit_test(test_value_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests of the configuration parser (src/config.c): every field, the
 * defaults, and every error with its "PATH:LINE: " position; and of the
 * checks of ipipd -n (src/lint.c) against hosts made up here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>
#include <linux/rtnetlink.h>

#include "config.h"
#include "lint.h"

#define PATH "/etc/ipipd/Moe.conf"

/* The usual lines; each ends with a newline. */
#define TUNNEL "[Tunnel]\n"
#define LOCAL "Local = 192.0.2.1\n"
#define REMOTE "Remote = 198.51.100.1\n"
#define ADDRESS "[Address]\nAddress = 10.0.0.1/24\n"
#define MINIMAL TUNNEL LOCAL REMOTE ADDRESS

/* ---- helpers ------------------------------------------------------------ */

/*
 * The error stream of the latest parse.  One buffer, freed when the next
 * stream opens and after the last test, so a failing assertion leaks nothing.
 */
static char *err_buf;
static size_t err_size;

static FILE *err_open(void)
{
	FILE *f;

	free(err_buf);
	err_buf = NULL;
	f = open_memstream(&err_buf, &err_size);
	assert_non_null(f);
	return f;
}

static const char *err_close(FILE *f)
{
	assert_int_equal(fclose(f), 0);
	return err_buf;
}

static int free_err_buf(void **state)
{
	free(err_buf);
	err_buf = NULL;
	return 0;
}

/* What a parse gave: its return code and everything written to the error stream. */
struct result {
	int rc;
	const char *err;
	size_t nlines;
};

static struct result parse_path(const char *text, const char *path, struct config *c)
{
	struct result r = { 0 };
	FILE *err = err_open();

	r.rc = config_parse_string(text, path, c, err);
	r.err = err_close(err);
	for (const char *s = r.err; *s; s++)
		r.nlines += *s == '\n';
	return r;
}

static struct result parse(const char *text, struct config *c)
{
	return parse_path(text, PATH, c);
}

static in_addr_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* text parses without a word on the error stream. */
static void parse_ok(const char *text, struct config *c)
{
	struct result r = parse(text, c);

	if (r.rc != 0)
		print_message("unexpected errors:\n%s", r.err);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
}

/* The error stream holds a line starting "PATH:line: " that contains msg. */
static void assert_has_error(const char *err, const char *path, unsigned line, const char *msg)
{
	char prefix[256];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);

	for (const char *s = err; *s; s = strchr(s, '\n') + 1) {
		const char *eol = strchr(s, '\n');

		assert_non_null(eol);
		if (!strncmp(s, prefix, plen)) {
			char *one = strndup(s, (size_t)(eol - s));
			bool found = strstr(one, msg) != NULL;

			free(one);
			if (found)
				return;
		}
	}
	print_message("wanted '%s...%s' among:\n%s", prefix, msg, err);
	fail();
}

/* text fails with exactly one error, on line, containing msg. */
static void expect_error(const char *text, unsigned line, const char *msg)
{
	struct config c;
	struct result r = parse(text, &c);

	if (r.rc != -1 || r.nlines != 1)
		print_message("errors for:\n%s----\n%s", text, r.err);
	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 1);
	assert_has_error(r.err, PATH, line, msg);
}

/* A valid configuration with the extra line on line 4, inside [Tunnel]. */
static void expect_tunnel_line_error(const char *extra, const char *msg)
{
	char text[512];

	snprintf(text, sizeof(text), TUNNEL LOCAL REMOTE "%s\n" ADDRESS, extra);
	expect_error(text, 4, msg);
}

static void expect_tunnel_line_ok(const char *extra, struct config *c)
{
	char text[512];

	snprintf(text, sizeof(text), TUNNEL LOCAL REMOTE "%s\n" ADDRESS, extra);
	parse_ok(text, c);
}

/* Local = value on line 2. */
static void expect_bad_local(const char *value)
{
	char text[512], msg[128];

	snprintf(text, sizeof(text), TUNNEL "Local = %s\n" REMOTE ADDRESS, value);
	snprintf(msg, sizeof(msg), "Local: '%s' is not a unicast IPv4 address", value);
	expect_error(text, 2, msg);
}

/* Remote = value on line 3. */
static void expect_bad_remote(const char *value)
{
	char text[512], msg[128];

	snprintf(text, sizeof(text), TUNNEL LOCAL "Remote = %s\n" ADDRESS, value);
	snprintf(msg, sizeof(msg), "Remote: '%s' is not a unicast IPv4 address", value);
	expect_error(text, 3, msg);
}

/* Address = value on line 5. */
static void expect_bad_address(const char *value)
{
	char text[512], msg[128];

	snprintf(text, sizeof(text), TUNNEL LOCAL REMOTE "[Address]\nAddress = %s\n", value);
	snprintf(msg, sizeof(msg), "Address: '%s' is not ADDRESS or ADDRESS/PREFIXLENGTH", value);
	expect_error(text, 5, msg);
}

/* ---- valid configurations ----------------------------------------------- */

static void test_full_config(void **state)
{
	static const char text[] =
		"[Tunnel]\n"
		"Name = tun-moe\n"
		"Local = 192.0.2.1\n"
		"Remote = 198.51.100.1\n"
		"TTL = 64\n"
		"TOS = 0x28\n"
		"DiscoverPathMTU = yes\n"
		"MTU = 1400\n"
		"ECN = compatibility\n"
		"DSCP = uniform\n"
		"\n"
		"[Address]\n"
		"Address = 10.9.8.7/30\n"
		"Peer = 10.9.8.6\n";
	struct config c;

	parse_ok(text, &c);
	assert_string_equal(c.path, PATH);
	assert_string_equal(c.name, "tun-moe");
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.ip.ttl, 64);
	assert_false(c.ip.tos_inherit);
	assert_int_equal(c.ip.tos, 0x28);
	assert_true(c.ip.pmtudisc);
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.ip.ecn, ECN_MODE_COMPAT);
	assert_true(c.ip.dscp_uniform);
	assert_int_equal(c.addr.s_addr, ip("10.9.8.7"));
	assert_int_equal(c.prefixlen, 30);
	assert_true(c.has_peer);
	assert_int_equal(c.peer.s_addr, ip("10.9.8.6"));
}

static void test_addresses_in_network_order(void **state)
{
	static const uint8_t local[4] = { 192, 0, 2, 1 }, remote[4] = { 198, 51, 100, 1 };
	static const uint8_t addr[4] = { 10, 0, 0, 1 };
	struct config c;

	parse_ok(MINIMAL, &c);
	assert_memory_equal(&c.ip.local, local, 4);
	assert_memory_equal(&c.ip.remote, remote, 4);
	assert_memory_equal(&c.addr.s_addr, addr, 4);
}

static void test_defaults(void **state)
{
	struct config c;

	memset(&c, 0xa5, sizeof(c));
	parse_ok(MINIMAL, &c);
	assert_string_equal(c.name, "Moe");
	assert_int_equal(c.ip.ttl, 0);		/* inherit */
	assert_false(c.ip.tos_inherit);
	assert_int_equal(c.ip.tos, 0);
	assert_true(c.ip.pmtudisc);
	assert_int_equal(c.mtu, 0);
	assert_int_equal(c.ip.ecn, ECN_MODE_NORMAL);
	assert_false(c.ip.dscp_uniform);
	assert_int_equal(c.prefixlen, 24);
	assert_false(c.has_peer);
	assert_int_equal(c.peer.s_addr, 0);
}

static void test_name_from_file_name(void **state)
{
	struct config c;
	struct result r;

	r = parse_path(MINIMAL, "Moe.conf", &c);
	assert_int_equal(r.rc, 0);
	assert_string_equal(c.name, "Moe");

	r = parse_path(MINIMAL, "/etc/ipipd/sub.dir/tun0.conf", &c);
	assert_int_equal(r.rc, 0);
	assert_string_equal(c.name, "tun0");
	assert_string_equal(c.path, "/etc/ipipd/sub.dir/tun0.conf");

	r = parse_path(MINIMAL, "./configs/wan1", &c);	/* no .conf suffix */
	assert_int_equal(r.rc, 0);
	assert_string_equal(c.name, "wan1");
}

static void test_name_given_explicitly(void **state)
{
	struct config c;

	parse_ok(TUNNEL "Name = larry\n" LOCAL REMOTE ADDRESS, &c);
	assert_string_equal(c.name, "larry");
}

static void test_name_explicit_rescues_bad_file_name(void **state)
{
	struct config c;
	struct result r;

	/* 16 characters before .conf: too long for an interface name */
	r = parse_path(TUNNEL "Name = curly\n" LOCAL REMOTE ADDRESS,
		       "/etc/ipipd/abcdefghijklmnop.conf", &c);
	assert_int_equal(r.rc, 0);
	assert_string_equal(c.name, "curly");
}

static void test_name_from_bad_file_name_refused(void **state)
{
	static const char path[] = "/etc/ipipd/abcdefghijklmnop.conf";
	struct config c;
	struct result r = parse_path(MINIMAL, path, &c);

	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 1);
	assert_has_error(r.err, path, 1, "Name: not set, and the file name gives "
			 "'abcdefghijklmnop', 16 bytes long: interface names are at most 15 bytes; "
			 "set Name");

	r = parse_path(MINIMAL, "/etc/ipipd/a:b.conf", &c);
	assert_int_equal(r.rc, -1);
	assert_has_error(r.err, "/etc/ipipd/a:b.conf", 1, "Name: not set, and the file name does "
			 "not give a valid interface name ('a:b'); set Name");
}

static void test_ttl_values(void **state)
{
	struct config c;

	expect_tunnel_line_ok("TTL = inherit", &c);
	assert_int_equal(c.ip.ttl, 0);
	expect_tunnel_line_ok("TTL = 1", &c);
	assert_int_equal(c.ip.ttl, 1);
	expect_tunnel_line_ok("TTL = 255", &c);
	assert_int_equal(c.ip.ttl, 255);
}

static void test_tos_values(void **state)
{
	struct config c;

	expect_tunnel_line_ok("TOS = inherit", &c);
	assert_true(c.ip.tos_inherit);
	expect_tunnel_line_ok("TOS = 40", &c);
	assert_false(c.ip.tos_inherit);
	assert_int_equal(c.ip.tos, 40);
	expect_tunnel_line_ok("TOS = 0xb8", &c);
	assert_int_equal(c.ip.tos, 0xb8);
	expect_tunnel_line_ok("TOS = 255", &c);	/* the ECN bits are dropped */
	assert_int_equal(c.ip.tos, 0xfc);
	expect_tunnel_line_ok("TOS = 0", &c);
	assert_int_equal(c.ip.tos, 0);
	expect_tunnel_line_ok("TOS = 1", &c);	/* unlike iproute2, odd is not inherit */
	assert_false(c.ip.tos_inherit);
	assert_int_equal(c.ip.tos, 0);
}

static void test_pmtudisc_values(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };
	struct config c;
	char line[64];

	for (size_t i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "DiscoverPathMTU = %s", yes[i]);
		expect_tunnel_line_ok(line, &c);
		assert_true(c.ip.pmtudisc);
		snprintf(line, sizeof(line), "DiscoverPathMTU = %s", no[i]);
		expect_tunnel_line_ok(line, &c);
		assert_false(c.ip.pmtudisc);
	}
}

static void test_mtu_bounds_accepted(void **state)
{
	struct config c;

	expect_tunnel_line_ok("MTU = 68", &c);
	assert_int_equal(c.mtu, 68);
	expect_tunnel_line_ok("MTU = 65515", &c);
	assert_int_equal(c.mtu, 65515);
}

static void test_ecn_values(void **state)
{
	struct config c;

	expect_tunnel_line_ok("ECN = normal", &c);
	assert_int_equal(c.ip.ecn, ECN_MODE_NORMAL);
	expect_tunnel_line_ok("ECN = compatibility", &c);
	assert_int_equal(c.ip.ecn, ECN_MODE_COMPAT);
	expect_tunnel_line_ok("ECN = kernel", &c);
	assert_int_equal(c.ip.ecn, ECN_MODE_KERNEL);
}

static void test_dscp_values(void **state)
{
	struct config c;

	expect_tunnel_line_ok("DSCP = pipe", &c);
	assert_false(c.ip.dscp_uniform);
	expect_tunnel_line_ok("DSCP = uniform", &c);
	assert_true(c.ip.dscp_uniform);
}

static void test_address_prefix_lengths(void **state)
{
	struct config c;

	parse_ok(TUNNEL LOCAL REMOTE "[Address]\nAddress = 203.0.113.5/32\n", &c);
	assert_int_equal(c.addr.s_addr, ip("203.0.113.5"));
	assert_int_equal(c.prefixlen, 32);
	parse_ok(TUNNEL LOCAL REMOTE "[Address]\nAddress = 172.16.0.1/12\n", &c);
	assert_int_equal(c.prefixlen, 12);
}

static void test_sections_in_any_order(void **state)
{
	struct config c;

	parse_ok(ADDRESS "Peer = 10.0.0.2\n" TUNNEL LOCAL REMOTE, &c);
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
	assert_int_equal(c.peer.s_addr, ip("10.0.0.2"));
}

static void test_value_words_case_insensitive(void **state)
{
	struct config c;

	parse_ok(TUNNEL LOCAL REMOTE "TTL = INHERIT\nTOS = Inherit\nDiscoverPathMTU = No\n"
		 "ECN = Kernel\nDSCP = UNIFORM\n" ADDRESS, &c);
	assert_int_equal(c.ip.ttl, 0);
	assert_true(c.ip.tos_inherit);
	assert_false(c.ip.pmtudisc);
	assert_int_equal(c.ip.ecn, ECN_MODE_KERNEL);
	assert_true(c.ip.dscp_uniform);
}

static void test_colon_as_equals(void **state)
{
	struct config c;

	parse_ok("[Tunnel]\nLocal: 192.0.2.1\nRemote : 198.51.100.1\n[Address]\nAddress:10.0.0.1/24\n",
		 &c);
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.prefixlen, 24);
}

static void test_comments_and_blank_lines(void **state)
{
	struct config c;

	parse_ok("; a comment\n"
		 "# another\n"
		 "\n"
		 "[Tunnel]\n"
		 "   \n"
		 LOCAL
		 "; Remote = 203.0.113.1\n"
		 REMOTE
		 "TTL = 64 ; an inline comment\n"
		 ADDRESS, &c);
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.ip.ttl, 64);
}

static void test_comments_do_not_shift_line_numbers(void **state)
{
	expect_error("; line 1\n"
		     "# line 2\n"
		     "\n"
		     "[Tunnel]\n"
		     "\n"
		     "; line 6\n"
		     LOCAL
		     "\n"
		     REMOTE
		     "# line 10\n"
		     "Bogus = 1\n"
		     ADDRESS,
		     11, "unknown key 'Bogus' in section [Tunnel]");
}

static void test_crlf_line_endings(void **state)
{
	struct config c;

	parse_ok("[Tunnel]\r\nLocal = 192.0.2.1\r\nRemote = 198.51.100.1\r\nTTL = 9\r\n"
		 "[Address]\r\nAddress = 10.0.0.1/24\r\n", &c);
	assert_int_equal(c.ip.ttl, 9);
	assert_int_equal(c.prefixlen, 24);
	expect_error("[Tunnel]\r\nLocal = 192.0.2.1\r\nRemote = 198.51.100.1\r\nFoo = 1\r\n"
		     "[Address]\r\nAddress = 10.0.0.1/24\r\n", 4, "unknown key 'Foo'");
}

/* ---- structural errors --------------------------------------------------- */

static void test_error_unknown_section(void **state)
{
	expect_error(MINIMAL "[Wireguard]\nKey = x\n", 6, "unknown section [Wireguard]");
}

static void test_error_unknown_empty_section(void **state)
{
	/* a misspelt section with nothing in it is still a mistake */
	expect_error(TUNNEL LOCAL REMOTE "[Adress]\n" ADDRESS, 4, "unknown section [Adress]");
}

static void test_error_unknown_key(void **state)
{
	expect_tunnel_line_error("Keepalives = 10", "unknown key 'Keepalives' in section [Tunnel]");
	expect_error(TUNNEL LOCAL REMOTE ADDRESS "TTL = 5\n", 6,
		     "unknown key 'TTL' in section [Address]");
}

static void test_error_names_case_sensitive(void **state)
{
	expect_tunnel_line_error("ttl = 5", "unknown key 'ttl' in section [Tunnel]: key names are "
				 "case-sensitive: TTL");
	expect_error(TUNNEL LOCAL REMOTE "[address]\nAddress = 10.0.0.1/24\n", 4,
		     "unknown section [address]: section names are case-sensitive: [Address]");
	expect_error("[tunnel]\n" LOCAL REMOTE ADDRESS, 1, "unknown section [tunnel]: section "
		     "names are case-sensitive: [Tunnel]");
}

static void test_error_unknown_section_names_the_sections(void **state)
{
	expect_error(MINIMAL "[Peer]\n", 6, "unknown section [Peer] (the sections are [Tunnel], "
		     "[Address], [Routing], [Host], [Firewall] and [Route])");
}

static void test_error_key_in_wrong_section(void **state)
{
	expect_error(TUNNEL LOCAL REMOTE ADDRESS "TTL = 5\n", 6,
		     "unknown key 'TTL' in section [Address]: TTL belongs in [Tunnel]");
	expect_error(MINIMAL "peer = 10.0.0.2\n", 6,
		     "unknown key 'peer' in section [Address]: key names are case-sensitive: Peer");
}

static void test_indented_lines(void **state)
{
	struct config c;

	/* indentation is not a continuation: every line is read on its own */
	parse_ok(TUNNEL LOCAL "  Remote = 198.51.100.1\n\tTTL = 7\n"
		 "  [Address]\n    Address = 10.0.0.1/24\n  # an indented comment\n", &c);
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.ip.ttl, 7);
	assert_int_equal(c.prefixlen, 24);
	/* an indented key is still checked where it is */
	expect_error(TUNNEL LOCAL "  Remtoe = 198.51.100.1\n" REMOTE ADDRESS, 3,
		     "unknown key 'Remtoe' in section [Tunnel]");
}

static void test_error_wrapped_list(void **state)
{
	/* a list cannot go on over the next line: say so where it does */
	expect_error(TUNNEL LOCAL REMOTE "AllowedSources = 192.0.2.0/24,\n"
		     "    198.51.100.0/24\n" ADDRESS, 5,
		     "a value cannot go on over the next line; a list must be on its key's one line");
	/* an unindented stray line is a plain syntax error */
	expect_error(TUNNEL LOCAL REMOTE "198.51.100.0/24\n" ADDRESS, 4,
		     "syntax error (expected [Section] or Key = Value)");
}

static void test_inline_comments(void **state)
{
	struct config c;

	/* after white space, '#' and ';' start a comment, as in wg-quick's files */
	parse_ok("[Tunnel]   # the underlay\n"
		 "Local = 192.0.2.1 # this host\n"
		 "Remote = 198.51.100.1\t; the other end\n"
		 "TTL = 64 #; both\n"
		 "[Address] ; inside\n"
		 "Address = 10.0.0.1/24 # with ; and # in the comment\n"
		 "[Routing]\n"
		 "Table = Moe:42          # named for iproute2; default via Peer\n"
		 "RuleFrom = 10.0.0.0/24 10.1.0.0/16 # a list, then a comment\r\n", &c);
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.ip.ttl, 64);
	assert_int_equal(c.prefixlen, 24);
	assert_int_equal(c.table, 42);
	assert_string_equal(c.table_name, "Moe");
	assert_int_equal(c.n_rule_from, 2);
	/* without white space before it, '#' is part of the value */
	expect_tunnel_line_ok("Name = tun#1", &c);
	assert_string_equal(c.name, "tun#1");
	expect_tunnel_line_error("MTU = 1400#x", "MTU: '1400#x' is not a number");
	/* a value that is only a comment is empty */
	expect_tunnel_line_error("TTL = # inherit", "TTL: empty value");
}

static void test_error_key_outside_section(void **state)
{
	expect_error("Local = 192.0.2.1\n" MINIMAL, 1, "'Local' outside of a section");
}

static void test_error_missing_local(void **state)
{
	expect_error("\n" TUNNEL REMOTE ADDRESS, 2, "[Tunnel]: missing required key 'Local'");
}

static void test_error_missing_remote(void **state)
{
	expect_error(TUNNEL LOCAL ADDRESS, 1, "[Tunnel]: missing required key 'Remote'");
}

static void test_error_missing_local_and_remote(void **state)
{
	struct config c;
	struct result r = parse(TUNNEL "TTL = 3\n" ADDRESS, &c);

	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 2);
	assert_has_error(r.err, PATH, 1, "missing required key 'Local'");
	assert_has_error(r.err, PATH, 1, "missing required key 'Remote'");
}

static void test_error_missing_address(void **state)
{
	expect_error(TUNNEL LOCAL REMOTE "\n[Address]\nPeer = 10.0.0.2\n", 5,
		     "[Address]: missing required key 'Address'");
}

static void test_error_missing_keys_of_empty_section(void **state)
{
	/* the header is there: what is missing is its keys, not the section */
	struct config c;
	struct result r = parse(TUNNEL ADDRESS, &c);

	if (r.nlines != 2)
		print_message("got:\n%s", r.err);
	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 2);
	assert_has_error(r.err, PATH, 1, "[Tunnel]: missing required key 'Local'");
	assert_has_error(r.err, PATH, 1, "[Tunnel]: missing required key 'Remote'");
}

static void test_error_missing_section_address(void **state)
{
	/* reported at the last line */
	expect_error(TUNNEL LOCAL REMOTE, 3, "missing section [Address]");
}

static void test_error_missing_section_tunnel(void **state)
{
	expect_error("\n" ADDRESS "\n", 4, "missing section [Tunnel]");
}

static void test_error_missing_section_last_line_without_newline(void **state)
{
	expect_error(TUNNEL LOCAL "Remote = 198.51.100.1", 3, "missing section [Address]");
}

static void test_error_empty_file(void **state)
{
	struct config c;
	struct result r = parse("", &c);

	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 2);
	assert_has_error(r.err, PATH, 1, "missing section [Tunnel]");
	assert_has_error(r.err, PATH, 1, "missing section [Address]");
}

static void test_error_duplicate_key(void **state)
{
	expect_error(TUNNEL LOCAL REMOTE "TTL = 1\n\nTTL = 2\n" ADDRESS, 6,
		     "TTL: given twice (first on line 4)");
	expect_error(TUNNEL LOCAL REMOTE "[Address]\nAddress = 10.0.0.1/24\nAddress = 10.0.0.2/24\n",
		     6, "Address: given twice (first on line 5)");
}

static void test_error_duplicate_section(void **state)
{
	expect_error(MINIMAL "[Tunnel]\nTTL = 5\n", 6, "section [Tunnel] given twice (first on line 1)");
}

static void test_error_duplicate_section_consecutive(void **state)
{
	expect_error(TUNNEL LOCAL "[Tunnel]\n" REMOTE ADDRESS, 3,
		     "section [Tunnel] given twice (first on line 1)");
}

static void test_error_duplicate_empty_section(void **state)
{
	expect_error(MINIMAL "\n[Tunnel]\n", 7, "section [Tunnel] given twice (first on line 1)");
}

static void test_error_syntax_no_equals(void **state)
{
	expect_tunnel_line_error("TTL 64", "syntax error");
	expect_error(TUNNEL LOCAL REMOTE ADDRESS "Peer\n", 6, "syntax error");
}

static void test_error_only_first_syntax_error_reported(void **state)
{
	expect_error(TUNNEL LOCAL "oops\n" REMOTE "again\n" ADDRESS, 3, "syntax error");
}

static void test_error_every_bad_value_reported(void **state)
{
	struct config c;
	struct result r = parse(TUNNEL LOCAL REMOTE "TTL = 0\nMTU = 1\n[Address]\nAddress = x\n",
				&c);

	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 3);
	assert_has_error(r.err, PATH, 4, "TTL: '0'");
	assert_has_error(r.err, PATH, 5, "MTU: '1'");
	assert_has_error(r.err, PATH, 7, "Address: 'x'");
}

static void test_error_syntax_unclosed_section(void **state)
{
	expect_error(MINIMAL "[Extra\n", 6, "syntax error");
}

static void test_error_empty_value(void **state)
{
	expect_tunnel_line_error("TTL =", "TTL: empty value");
	expect_error(TUNNEL "Local =\n" REMOTE ADDRESS, 2, "Local: empty value");
}

static void test_bom_before_first_section(void **state)
{
	/* inih skips a UTF-8 byte order mark; the [Tunnel] after it is a header */
	struct config c;

	parse_ok("\xEF\xBB\xBF" MINIMAL, &c);
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
}

static void test_long_comment_keeps_line_numbers(void **state)
{
	char text[1024], comment[301];

	memset(comment, 'x', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = '\0';
	snprintf(text, sizeof(text), TUNNEL "; %s\n" LOCAL REMOTE "Bogus = 1\n" ADDRESS, comment);
	/* a long comment is still one comment line, not a syntax error */
	expect_error(text, 5, "unknown key 'Bogus'");
}

static void test_line_length_limit(void **state)
{
	char text[1024], line[256];
	struct config c;
	struct result r;

	/* 197 characters fit (ipipd.conf(5)): the value is read whole */
	snprintf(line, sizeof(line), "ProxyARP = %0*d", 197 - 11, 0);
	assert_int_equal(strlen(line), 197);
	snprintf(text, sizeof(text), MINIMAL "[Host]\n%s\n", line);
	expect_error(text, 7, "ProxyARP: '000");
	/* 198 do not: one error for the whole line, not a second line */
	snprintf(line, sizeof(line), "ProxyARP = %0*d", 198 - 11, 0);
	snprintf(text, sizeof(text), MINIMAL "[Host]\n%s\nBogus = 1\n", line);
	r = parse(text, &c);
	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 2);
	assert_has_error(r.err, PATH, 7, "line too long");
	assert_has_error(r.err, PATH, 8, "unknown key 'Bogus' in section [Host]");
}

/* ---- bad values ---------------------------------------------------------- */

static void test_error_ttl_bad(void **state)
{
	static const char msg[] = "is neither 'inherit' nor a number from 1 to 255";

	expect_tunnel_line_error("TTL = 0", msg);
	expect_tunnel_line_error("TTL = 256", msg);
	expect_tunnel_line_error("TTL = abc", "TTL: 'abc' is neither");
	expect_tunnel_line_error("TTL = -1", msg);
	expect_tunnel_line_error("TTL = 64x", msg);
}

static void test_keepalive(void **state)
{
	struct config c;
	unsigned line;

	parse_ok(MINIMAL, &c);
	assert_int_equal(c.keepalive, 0);	/* off by default */
	assert_int_equal(c.keepalive_misses, 3);
	parse_ok(TUNNEL LOCAL REMOTE "Keepalive = 25\nKeepaliveMisses = 5\n"
		 "[Address]\nAddress = 10.0.0.1/32\nPeer = 10.0.0.2\n", &c);
	assert_int_equal(c.keepalive, 25);
	assert_int_equal(c.keepalive_misses, 5);
	/* the kernel's device cannot send them: Datapath = auto will not choose it */
	assert_string_equal(config_kernel_gap(&c, &line), "Keepalive");
	assert_int_equal(line, 4);
	parse_ok(TUNNEL LOCAL REMOTE "Keepalive = off\n" ADDRESS, &c);
	assert_int_equal(c.keepalive, 0);
	expect_tunnel_line_error("Keepalive = 0", "Keepalive: '0' is not a number of seconds from 1 to 3600, or off");
	expect_tunnel_line_error("Keepalive = 3601", "Keepalive: '3601' is not a number of seconds from 1 to 3600, or off");
	expect_tunnel_line_error("KeepaliveMisses = 0", "KeepaliveMisses: '0' is not a number from 1 to 100");
	expect_error(TUNNEL LOCAL REMOTE "Keepalive = 10\n" ADDRESS, 4,
		     "Keepalive: needs [Address] Peer (the echo request goes to it)");
}

static void test_nice(void **state)
{
	struct config c;

	parse_ok(TUNNEL LOCAL REMOTE ADDRESS, &c);
	assert_int_equal(c.nice, -10);	/* the default */
	expect_tunnel_line_ok("Nice = -20", &c);
	assert_int_equal(c.nice, -20);
	expect_tunnel_line_ok("Nice = 19", &c);
	assert_int_equal(c.nice, 19);
	expect_tunnel_line_ok("Nice = 0", &c);
	assert_int_equal(c.nice, 0);
	expect_tunnel_line_ok("Nice = -0", &c);
	assert_int_equal(c.nice, 0);
}

static void test_underlay_output(void **state)
{
	struct config c;

	parse_ok(TUNNEL LOCAL REMOTE ADDRESS, &c);
	assert_int_equal(c.underlay_output, UO_AUTO);
	expect_tunnel_line_ok("UnderlayOutput = kernel", &c);
	assert_int_equal(c.underlay_output, UO_KERNEL);
	expect_tunnel_line_ok("UnderlayOutput = auto", &c);
	assert_int_equal(c.underlay_output, UO_AUTO);
	expect_tunnel_line_error("UnderlayOutput = direct",
				 "UnderlayOutput: 'direct' is not auto or kernel");
}

static void test_error_nice_bad(void **state)
{
	static const char msg[] = "is not a number from -20 to 19";

	expect_tunnel_line_error("Nice = 20", "Nice: '20' is not a number from -20 to 19");
	expect_tunnel_line_error("Nice = -21", msg);
	expect_tunnel_line_error("Nice = high", msg);
	expect_tunnel_line_error("Nice = -", msg);
	expect_tunnel_line_error("Nice = --1", msg);
	expect_tunnel_line_error("Nice = +5", msg);
}

static void test_error_tos_bad(void **state)
{
	static const char msg[] = "is neither 'inherit' nor a number from 0 to 255";

	expect_tunnel_line_error("TOS = 256", "TOS: '256' is neither");
	expect_tunnel_line_error("TOS = x", msg);
	expect_tunnel_line_error("TOS = -4", msg);
}

static void test_error_pmtudisc_bad(void **state)
{
	expect_tunnel_line_error("DiscoverPathMTU = maybe", "DiscoverPathMTU: 'maybe' is not yes or no");
	expect_tunnel_line_error("DiscoverPathMTU = 2", "is not yes or no");
}

static void test_error_mtu_bad(void **state)
{
	expect_tunnel_line_error("MTU = 67", "MTU: '67' is not a number from 68 to 65515");
	expect_tunnel_line_error("MTU = 65516", "MTU: '65516' is not a number from 68 to 65515");
	expect_tunnel_line_error("MTU = 1500 bytes", "is not a number from 68 to 65515");
	expect_tunnel_line_error("MTU = auto", "is not a number from 68 to 65515");
}

static void test_error_local_bad(void **state)
{
	expect_bad_local("not-an-address");
	expect_bad_local("192.0.2");
	expect_bad_local("192.0.2.256");
	expect_bad_local("224.0.0.1");		/* multicast */
	expect_bad_local("239.255.255.250");
	expect_bad_local("0.0.0.0");
	expect_bad_local("255.255.255.255");
	expect_bad_local("2001:db8::1");
}

static void test_error_remote_bad(void **state)
{
	expect_bad_remote("example..org");
	expect_bad_remote("233.1.2.3");
	expect_bad_remote("0.0.0.0");
}

static void test_error_address_bad(void **state)
{
	expect_bad_address("10.0.0.1/");
	expect_bad_address("10.0.0.1/33");
	expect_bad_address("10.0.0.1/x");
	expect_bad_address("10.0.0/24");
	expect_bad_address("224.0.0.5/24");
	expect_bad_address("0.0.0.0/8");
	expect_bad_address("/24");
	expect_bad_address("10.0.0.256");
}

static void test_address_without_prefix_length_is_32(void **state)
{
	struct config c;

	/* as `ip address add 203.0.113.5 dev X` takes it */
	parse_ok(TUNNEL LOCAL REMOTE "[Address]\nAddress = 203.0.113.5\nPeer = 203.0.113.1\n", &c);
	assert_int_equal(c.addr.s_addr, ip("203.0.113.5"));
	assert_int_equal(c.prefixlen, 32);
}

static void test_error_peer_bad(void **state)
{
	expect_error(TUNNEL LOCAL REMOTE ADDRESS "Peer = 10.0.0.2/32\n", 6,
		     "Peer: '10.0.0.2/32' is not a unicast IPv4 address");
	expect_error(TUNNEL LOCAL REMOTE ADDRESS "Peer = 225.0.0.1\n", 6,
		     "is not a unicast IPv4 address");
}

static void test_error_ecn_bad(void **state)
{
	expect_tunnel_line_error("ECN = on", "ECN: 'on' is not normal, compatibility or kernel");
	expect_tunnel_line_error("ECN = compat", "is not normal, compatibility or kernel");
}

static void test_error_dscp_bad(void **state)
{
	expect_tunnel_line_error("DSCP = copy", "DSCP: 'copy' is not pipe or uniform");
}

static void test_error_name_bad(void **state)
{
	static const char msg[] = "is not a valid interface name";

	expect_tunnel_line_error("Name = abcdefghijklmnop", "Name: 'abcdefghijklmnop' is 16 bytes "
				 "long: interface names are at most 15 bytes");
	expect_tunnel_line_error("Name = a/b", msg);
	expect_tunnel_line_error("Name = a:b", msg);
	expect_tunnel_line_error("Name = ..", msg);
}

static void test_name_fifteen_chars_accepted(void **state)
{
	struct config c;

	expect_tunnel_line_ok("Name = abcdefghijklmno", &c);
	assert_string_equal(c.name, "abcdefghijklmno");
}

/* ---- checks across keys -------------------------------------------------- */

static void test_error_fixed_ttl_without_pmtudisc(void **state)
{
	expect_error(TUNNEL LOCAL REMOTE "TTL = 64\nDiscoverPathMTU = no\n" ADDRESS, 5,
		     "DiscoverPathMTU: 'no' cannot be used with a fixed TTL");
}

static void test_fixed_ttl_with_pmtudisc_or_inherit_without(void **state)
{
	struct config c;

	parse_ok(TUNNEL LOCAL REMOTE "TTL = 64\nDiscoverPathMTU = yes\n" ADDRESS, &c);
	assert_int_equal(c.ip.ttl, 64);
	assert_true(c.ip.pmtudisc);
	parse_ok(TUNNEL LOCAL REMOTE "TTL = inherit\nDiscoverPathMTU = no\n" ADDRESS, &c);
	assert_int_equal(c.ip.ttl, 0);
	assert_false(c.ip.pmtudisc);
}

static void test_error_local_equals_remote(void **state)
{
	expect_error(TUNNEL LOCAL "\nRemote = 192.0.2.1\n" ADDRESS, 4, "Remote: must differ from Local");
}

static void test_error_remote_is_peer_or_address(void **state)
{
	/* Remote, line 3; Address, line 5; Peer, line 6 */
	expect_error(TUNNEL LOCAL "Remote = 10.0.0.2\n[Address]\nAddress = 10.0.0.1/32\n"
		     "Peer = 10.0.0.2\n", 3, "Remote: 10.0.0.2 is also Peer: the route to Peer goes "
		     "through the tunnel, so outer packets to Remote would enter the tunnel itself, "
		     "a loop");
	expect_error(TUNNEL LOCAL "Remote = 10.0.0.1\n[Address]\nAddress = 10.0.0.1/32\n", 3,
		     "Remote: 10.0.0.1 is also Address, this end's address inside the tunnel: outer "
		     "packets to Remote would be delivered to this host");
	expect_error(MINIMAL "Peer = 10.0.0.1\n", 6, "Peer: 10.0.0.1 is also Address: Peer is the "
		     "other end's address inside the tunnel, Address this end's");
}

static void test_error_rule_from_covers_local(void **state)
{
	struct config c;

	/* Local is 192.0.2.1; [Routing] on line 6, Table line 7, RuleFrom line 8 */
	expect_error(MINIMAL "[Routing]\nTable = 42\nRuleFrom = 0.0.0.0/0\n", 8,
		     "RuleFrom: 0.0.0.0/0 covers Local 192.0.2.1: the tunnel's own outer packets "
		     "(from Local) would follow table 42's default route into the tunnel, a loop");
	expect_error(MINIMAL "[Routing]\nTable = 42\nRuleFrom = 10.0.0.0/24 192.0.2.0/24\n", 8,
		     "RuleFrom: 192.0.2.0/24 covers Local 192.0.2.1");
	/* the default RuleFrom is Address/32: Address = Local */
	expect_error(TUNNEL LOCAL REMOTE "[Address]\nAddress = 192.0.2.1/32\n[Routing]\n"
		     "Table = 42\n", 5, "Address: 192.0.2.1 is Local too: the rule for traffic "
		     "from Address (RuleFrom's default) would send the tunnel's own outer packets "
		     "into the tunnel by table 42's default route, a loop");
	/* without ipipd's default route the table is the user's: not an error (lint.c warns) */
	parse_ok(MINIMAL "[Routing]\nTable = 42\nDefaultRoute = no\nRuleFrom = 0.0.0.0/0\n", &c);
	parse_ok(TUNNEL LOCAL REMOTE "[Address]\nAddress = 192.0.2.1/32\n", &c);
	/* next to Local, not over it */
	parse_ok(MINIMAL "[Routing]\nTable = 42\nRuleFrom = 192.0.2.2/31 192.0.2.0/32\n", &c);
}

/* ---- [Routing], [Host] and [Firewall] ------------------------------------ */

/*
 * MINIMAL (lines 1-5, Address = 10.0.0.1/24), then "[section]" on line 6 and
 * the given lines from line 7 on.
 */
static void section_text(char *text, size_t n, const char *section, const char *lines)
{
	int len = snprintf(text, n, MINIMAL "[%s]\n%s\n", section, lines);

	assert_true(len > 0 && (size_t)len < n);
}

static void expect_section_ok(const char *section, const char *lines, struct config *c)
{
	char text[1024];

	section_text(text, sizeof(text), section, lines);
	parse_ok(text, c);
}

/* The lines after [section] fail with exactly one error, on line, containing msg. */
static void expect_section_error(const char *section, const char *lines, unsigned line,
				 const char *msg)
{
	char text[1024];

	section_text(text, sizeof(text), section, lines);
	expect_error(text, line, msg);
}

/* Table = value on line 7 is refused with the full message. */
static void expect_bad_table(const char *value)
{
	char line[128], msg[256];

	snprintf(line, sizeof(line), "Table = %s", value);
	snprintf(msg, sizeof(msg), "Table: '%s' is not NAME:NUMBER or NUMBER (1-4294967295, "
		 "not 253-255; NAME: letters, digits, '_' and '-')", value);
	expect_section_error("Routing", line, 7, msg);
}

static void assert_prefix(const struct prefix *p, const char *addr, unsigned len)
{
	assert_int_equal(p->addr, ip(addr));
	assert_int_equal(p->len, len);
}

/* "key = w1 w2 ... wN" with N words "1.0.0.0", "2.0.0.0", ... or "if1", "if2", ... */
static void numbered_list(char *buf, size_t n, const char *key, unsigned count, bool ifnames)
{
	size_t used = (size_t)snprintf(buf, n, "%s =", key);

	for (unsigned i = 1; i <= count; i++) {
		used += (size_t)(ifnames ? snprintf(buf + used, n - used, " if%u", i)
					 : snprintf(buf + used, n - used, " %u.0.0.0", i));
		assert_true(used < n);
	}
}

static void test_host_setup_defaults(void **state)
{
	struct config c;

	memset(&c, 0xa5, sizeof(c));
	parse_ok(MINIMAL, &c);
	assert_int_equal(c.table, 0);
	assert_string_equal(c.table_name, "");
	assert_false(c.default_route);
	assert_int_equal(c.n_rule_from, 0);
	assert_int_equal(c.rule_priority, 0);
	assert_int_equal(c.ip_forward, TRI_KEEP);
	assert_int_equal(c.n_proxy_arp, 0);
	assert_int_equal(c.rp_filter, RPF_KEEP);
	assert_false(c.fw_forward);
	assert_int_equal(c.n_forward_from, 0);
}

static void test_full_host_setup(void **state)
{
	static const char text[] =
		"[Tunnel]\n"				/* 1 */
		"Local = 192.0.2.1\n"
		"Remote = 198.51.100.1\n"
		"[Address]\n"
		"Address = 203.0.113.5/32\n"		/* 5 */
		"Peer = 203.0.113.1\n"
		"[Routing]\n"
		"Table = Moe:42\n"			/* 8 */
		"DefaultRoute = yes\n"			/* 9 */
		"RuleFrom = 203.0.113.5, 192.0.2.128/25\n"	/* 10 */
		"RulePriority = 1000\n"
		"[Host]\n"
		"IPv4Forwarding = yes\n"		/* 13 */
		"ProxyARP = eth-lan\n"			/* 14 */
		"ReversePathFilter = loose\n"		/* 15 */
		"[Firewall]\n"
		"Forward = accept\n"			/* 17 */
		"ForwardFrom = 198.51.100.0/24\n";
	struct config c;

	parse_ok(text, &c);
	assert_int_equal(c.table, 42);
	assert_string_equal(c.table_name, "Moe");
	assert_true(c.default_route);
	assert_int_equal(c.n_rule_from, 2);
	assert_prefix(&c.rule_from[0], "203.0.113.5", 32);
	assert_prefix(&c.rule_from[1], "192.0.2.128", 25);
	assert_int_equal(c.rule_priority, 1000);
	assert_int_equal(c.ip_forward, TRI_YES);
	assert_int_equal(c.n_proxy_arp, 1);
	assert_string_equal(c.proxy_arp[0], "eth-lan");
	assert_int_equal(c.rp_filter, RPF_LOOSE);
	assert_true(c.fw_forward);
	assert_int_equal(c.n_forward_from, 1);
	assert_prefix(&c.forward_from[0], "198.51.100.0", 24);
	/* the lines that host setup names in its errors */
	assert_int_equal(c.line.address, 5);
	assert_int_equal(c.line.table, 8);
	assert_int_equal(c.line.default_route, 9);
	assert_int_equal(c.line.rule_from, 10);
	assert_int_equal(c.line.ip_forward, 13);
	assert_int_equal(c.line.proxy_arp, 14);
	assert_int_equal(c.line.rp_filter, 15);
	assert_int_equal(c.line.forward, 17);
}

static void test_table_name_and_number(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = Moe:42", &c);
	assert_int_equal(c.table, 42);
	assert_string_equal(c.table_name, "Moe");
	assert_int_equal(c.line.table, 7);
	expect_section_ok("Routing", "Table = to_colo-2:1", &c);
	assert_int_equal(c.table, 1);
	assert_string_equal(c.table_name, "to_colo-2");
	expect_section_ok("Routing", "Table = 1-2:100", &c);	/* not only digits */
	assert_string_equal(c.table_name, "1-2");
	expect_section_ok("Routing", "Table = abcdefghijklmnopqrstuvwxyz01234:7", &c);	/* 31 */
	assert_string_equal(c.table_name, "abcdefghijklmnopqrstuvwxyz01234");
	assert_int_equal(c.table, 7);
}

static void test_table_number_only(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = 42", &c);
	assert_int_equal(c.table, 42);
	assert_string_equal(c.table_name, "");
	expect_section_ok("Routing", "Table = 1", &c);
	assert_int_equal(c.table, 1);
	expect_section_ok("Routing", "Table = 252", &c);
	assert_int_equal(c.table, 252);
	expect_section_ok("Routing", "Table = 256", &c);
	assert_int_equal(c.table, 256);
	expect_section_ok("Routing", "Table = 0x2a", &c);
	assert_int_equal(c.table, 42);
}

static void test_table_largest_number(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = 4294967295", &c);
	assert_int_equal(c.table, 4294967295u);
	assert_string_equal(c.table_name, "");
	expect_section_ok("Routing", "Table = big:4294967295", &c);
	assert_int_equal(c.table, 4294967295u);
	assert_string_equal(c.table_name, "big");
}

static void test_default_route_default_yes_with_table(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = Moe:42", &c);
	assert_true(c.default_route);
	assert_int_equal(c.line.default_route, 0);
	/* also without Peer (then the route is through the device only) */
	assert_false(c.has_peer);
	expect_section_ok("Routing", "Table = 42\nDefaultRoute = yes", &c);
	assert_true(c.default_route);
	assert_int_equal(c.line.default_route, 8);
}

static void test_default_route_explicit_no(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = Moe:42\nDefaultRoute = no", &c);
	assert_int_equal(c.table, 42);
	assert_false(c.default_route);
	expect_section_ok("Routing", "DefaultRoute = off\nTable = 42", &c);	/* any order */
	assert_false(c.default_route);
}

static void test_rule_from_list(void **state)
{
	struct config c;

	/* (over Local, 192.0.2.1, only without the default route: see test_error_rule_from_covers_local) */
	expect_section_ok("Routing", "Table = 42\nDefaultRoute = no\n"
			  "RuleFrom = 203.0.113.5, 198.51.100.0/24 10.0.0.0/8,192.0.2.0/25\t0.0.0.0/0",
			  &c);
	assert_int_equal(c.n_rule_from, 5);
	assert_prefix(&c.rule_from[0], "203.0.113.5", 32);	/* no length: /32 */
	assert_prefix(&c.rule_from[1], "198.51.100.0", 24);
	assert_prefix(&c.rule_from[2], "10.0.0.0", 8);
	assert_prefix(&c.rule_from[3], "192.0.2.0", 25);
	assert_prefix(&c.rule_from[4], "0.0.0.0", 0);
	assert_int_equal(c.line.rule_from, 9);
}

static void test_rule_from_default_is_address(void **state)
{
	struct config c;

	/* Address = 10.0.0.1/24: the rule is for the address itself, not its network */
	expect_section_ok("Routing", "Table = Moe:42", &c);
	assert_int_equal(c.n_rule_from, 1);
	assert_prefix(&c.rule_from[0], "10.0.0.1", 32);
	assert_int_equal(c.line.rule_from, 0);
	/* given: replaces the default */
	expect_section_ok("Routing", "Table = Moe:42\nRuleFrom = 203.0.113.0/24", &c);
	assert_int_equal(c.n_rule_from, 1);
	assert_prefix(&c.rule_from[0], "203.0.113.0", 24);
}

static void test_rule_from_sixteen(void **state)
{
	char line[512];
	struct config c;

	numbered_list(line, sizeof(line), "Table = 42\nRuleFrom", 16, false);
	expect_section_ok("Routing", line, &c);
	assert_int_equal(c.n_rule_from, 16);
	assert_prefix(&c.rule_from[0], "1.0.0.0", 32);
	assert_prefix(&c.rule_from[15], "16.0.0.0", 32);
}

static void test_error_rule_from_more_than_sixteen(void **state)
{
	char line[512];

	numbered_list(line, sizeof(line), "Table = 42\nRuleFrom", 17, false);
	expect_section_error("Routing", line, 8, "RuleFrom: more than 16 prefixes");
}

static void test_error_rule_from_bad(void **state)
{
	static const char tail[] = "is not an IPv4 address or prefix (host bits must be 0)";

	expect_section_error("Routing", "Table = 42\nRuleFrom = 10.0.0.1/24", 8,
			     "RuleFrom: '10.0.0.1/24' is not an IPv4 address or prefix "
			     "(host bits must be 0)");
	expect_section_error("Routing", "Table = 42\nRuleFrom = 192.0.3.0/23", 8,
			     "RuleFrom: '192.0.3.0/23' is not");
	expect_section_error("Routing", "Table = 42\nRuleFrom = 10.0.0.0/8, 10.0.0.0/33", 8,
			     "RuleFrom: '10.0.0.0/33' is not");
	expect_section_error("Routing", "Table = 42\nRuleFrom = 10.0.0.0/", 8, tail);
	expect_section_error("Routing", "Table = 42\nRuleFrom = example.org", 8, tail);
	expect_section_error("Routing", "Table = 42\nRuleFrom = 10.0.0/24", 8, tail);
	expect_section_error("Routing", "Table = 42\nRuleFrom = 2001:db8::/32", 8, tail);
}

static void test_rule_priority(void **state)
{
	struct config c;

	expect_section_ok("Routing", "Table = 42\nRulePriority = 100", &c);
	assert_int_equal(c.rule_priority, 100);
	expect_section_ok("Routing", "Table = 42\nRulePriority = 1", &c);
	assert_int_equal(c.rule_priority, 1);
	expect_section_ok("Routing", "Table = 42\nRulePriority = 4294967295", &c);
	assert_int_equal(c.rule_priority, 4294967295u);
	expect_section_ok("Routing", "Table = 42", &c);
	assert_int_equal(c.rule_priority, 0);	/* the kernel chooses */
}

static void test_error_rule_priority_bad(void **state)
{
	static const char msg[] = "is not a number from 1 to 4294967295";

	expect_section_error("Routing", "Table = 42\nRulePriority = 0", 8,
			     "RulePriority: '0' is not a number from 1 to 4294967295");
	expect_section_error("Routing", "Table = 42\nRulePriority = 4294967296", 8, msg);
	expect_section_error("Routing", "Table = 42\nRulePriority = high", 8, msg);
	expect_section_error("Routing", "Table = 42\nRulePriority = -5", 8, msg);
}

static void test_error_table_reserved_numbers(void **state)
{
	expect_bad_table("253");	/* default */
	expect_bad_table("254");	/* main */
	expect_bad_table("255");	/* local */
	expect_bad_table("0");		/* unspec */
	expect_bad_table("Moe:254");
	expect_bad_table("0xfe");
}

static void test_error_table_bad_forms(void **state)
{
	expect_bad_table("Moe:");		/* no number */
	expect_bad_table(":42");		/* empty name */
	expect_bad_table("12:42");		/* a name of digits would read as a number */
	expect_bad_table("Mo.e:42");
	expect_bad_table("Mo e:42");
	expect_bad_table("Moe");
	expect_bad_table("Moe:42:43");
	expect_bad_table("Moe:x");
	expect_bad_table("4294967296");
	expect_bad_table("-1");
	expect_bad_table("abcdefghijklmnopqrstuvwxyz012345:7");	/* 32 characters */
}

static void test_error_default_route_bad(void **state)
{
	expect_section_error("Routing", "Table = 42\nDefaultRoute = via", 8,
			     "DefaultRoute: 'via' is not yes or no");
}

static void test_error_routing_keys_need_table(void **state)
{
	expect_section_error("Routing", "DefaultRoute = yes", 7, "DefaultRoute: needs [Routing] Table");
	expect_section_error("Routing", "\nRuleFrom = 10.0.0.1", 8, "RuleFrom: needs [Routing] Table");
	expect_section_error("Routing", "RulePriority = 5", 7, "RulePriority: needs [Routing] Table");
}

static void test_error_routing_keys_need_table_all_reported(void **state)
{
	char text[512];
	struct config c;
	struct result r;

	section_text(text, sizeof(text), "Routing",
		     "DefaultRoute = no\nRuleFrom = 10.0.0.1\nRulePriority = 5");
	r = parse(text, &c);
	assert_int_equal(r.rc, -1);
	assert_int_equal(r.nlines, 3);
	assert_has_error(r.err, PATH, 7, "DefaultRoute: needs [Routing] Table");
	assert_has_error(r.err, PATH, 8, "RuleFrom: needs [Routing] Table");
	assert_has_error(r.err, PATH, 9, "RulePriority: needs [Routing] Table");
}

static void test_error_routing_list_given_twice(void **state)
{
	/* a list is one line: a second RuleFrom is a duplicate, not an addition */
	expect_section_error("Routing", "Table = 42\nRuleFrom = 10.0.0.1\nRuleFrom = 10.0.0.2", 9,
			     "RuleFrom: given twice (first on line 8)");
}

static void test_ip_forward_values(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };
	char line[64];
	struct config c;

	for (size_t i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "IPv4Forwarding = %s", yes[i]);
		expect_section_ok("Host", line, &c);
		assert_int_equal(c.ip_forward, TRI_YES);
		snprintf(line, sizeof(line), "IPv4Forwarding = %s", no[i]);
		expect_section_ok("Host", line, &c);
		assert_int_equal(c.ip_forward, TRI_NO);
	}
	expect_section_ok("Host", "IPv4Forwarding = keep", &c);
	assert_int_equal(c.ip_forward, TRI_KEEP);
	assert_int_equal(c.line.ip_forward, 7);
	expect_section_ok("Host", "IPv4Forwarding = Keep", &c);
	assert_int_equal(c.ip_forward, TRI_KEEP);
}

static void test_error_ip_forward_bad(void **state)
{
	expect_section_error("Host", "IPv4Forwarding = maybe", 7,
			     "IPv4Forwarding: 'maybe' is not yes, no or keep");
	expect_section_error("Host", "IPv4Forwarding = 2", 7, "is not yes, no or keep");
}

static void test_proxy_arp_list(void **state)
{
	struct config c;

	expect_section_ok("Host", "ProxyARP = eth-lan", &c);
	assert_int_equal(c.n_proxy_arp, 1);
	assert_string_equal(c.proxy_arp[0], "eth-lan");
	assert_int_equal(c.line.proxy_arp, 7);
	expect_section_ok("Host", "ProxyARP = eth0, br0.10\tabcdefghijklmno,wlan0", &c);
	assert_int_equal(c.n_proxy_arp, 4);
	assert_string_equal(c.proxy_arp[0], "eth0");
	assert_string_equal(c.proxy_arp[1], "br0.10");
	assert_string_equal(c.proxy_arp[2], "abcdefghijklmno");
	assert_string_equal(c.proxy_arp[3], "wlan0");
	expect_section_ok("Host", "ProxyARP = eth0 ; the LAN", &c);	/* inline comment */
	assert_int_equal(c.n_proxy_arp, 1);
	assert_string_equal(c.proxy_arp[0], "eth0");
}

static void test_proxy_arp_sixteen(void **state)
{
	char line[512];
	struct config c;

	numbered_list(line, sizeof(line), "ProxyARP", 16, true);
	expect_section_ok("Host", line, &c);
	assert_int_equal(c.n_proxy_arp, 16);
	assert_string_equal(c.proxy_arp[15], "if16");
}

static void test_error_proxy_arp_duplicate(void **state)
{
	expect_section_error("Host", "ProxyARP = eth0, eth1 eth0", 7, "ProxyARP: 'eth0' given twice");
}

static void test_error_proxy_arp_bad_name(void **state)
{
	expect_section_error("Host", "ProxyARP = eth0 a/b", 7,
			     "ProxyARP: 'a/b' is not a valid interface name");
	expect_section_error("Host", "ProxyARP = eth0:1", 7,
			     "ProxyARP: 'eth0:1' is not a valid interface name");
	expect_section_error("Host", "ProxyARP = abcdefghijklmnop", 7,
			     "ProxyARP: 'abcdefghijklmnop' is not a valid interface name: 16 bytes "
			     "long, interface names are at most 15 bytes");
	expect_section_error("Host", "ProxyARP = ..", 7, "ProxyARP: '..' is not");
}

static void test_error_proxy_arp_more_than_sixteen(void **state)
{
	char line[512];

	numbered_list(line, sizeof(line), "ProxyARP", 17, true);
	expect_section_error("Host", line, 7, "ProxyARP: more than 16 interfaces");
}

static void test_rp_filter_values(void **state)
{
	static const struct { const char *word; enum rp_filter v; } m[] = {
		{ "strict", RPF_STRICT }, { "loose", RPF_LOOSE }, { "off", RPF_OFF },
		{ "keep", RPF_KEEP }, { "Strict", RPF_STRICT }, { "LOOSE", RPF_LOOSE },
	};
	char line[64];
	struct config c;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(line, sizeof(line), "ReversePathFilter = %s", m[i].word);
		expect_section_ok("Host", line, &c);
		assert_int_equal(c.rp_filter, m[i].v);
		assert_int_equal(c.line.rp_filter, 7);
	}
	/* the values are the kernel's rp_filter values */
	assert_int_equal(RPF_OFF, 0);
	assert_int_equal(RPF_STRICT, 1);
	assert_int_equal(RPF_LOOSE, 2);
}

static void test_error_rp_filter_bad(void **state)
{
	expect_section_error("Host", "ReversePathFilter = on", 7,
			     "ReversePathFilter: 'on' is not strict, loose, off or keep");
	expect_section_error("Host", "ReversePathFilter = 1", 7, "is not strict, loose, off or keep");
}

static void test_forward_values(void **state)
{
	struct config c;

	expect_section_ok("Firewall", "Forward = accept", &c);
	assert_true(c.fw_forward);
	assert_int_equal(c.n_forward_from, 0);
	assert_int_equal(c.line.forward, 7);
	expect_section_ok("Firewall", "Forward = ACCEPT", &c);
	assert_true(c.fw_forward);
	expect_section_ok("Firewall", "Forward = none", &c);
	assert_false(c.fw_forward);
}

static void test_error_forward_bad(void **state)
{
	expect_section_error("Firewall", "Forward = drop", 7, "Forward: 'drop' is not accept or none");
	expect_section_error("Firewall", "Forward = yes", 7, "is not accept or none");
}

static void test_input_values(void **state)
{
	struct config c;

	expect_section_ok("Firewall", "Forward = accept", &c);
	assert_false(c.fw_input);
	expect_section_ok("Firewall", "Input = accept", &c);
	assert_true(c.fw_input);
	assert_false(c.fw_forward);	/* each without the other */
	assert_int_equal(c.line.input, 7);
	expect_section_ok("Firewall", "Forward = accept\nInput = Accept", &c);
	assert_true(c.fw_input);
	assert_true(c.fw_forward);
	expect_section_ok("Firewall", "Input = none", &c);
	assert_false(c.fw_input);
	expect_section_error("Firewall", "Input = drop", 7, "Input: 'drop' is not accept or none");
	expect_section_error("Firewall", "Input = yes", 7, "is not accept or none");
}

static void test_forward_from_list(void **state)
{
	struct config c;

	expect_section_ok("Firewall", "Forward = accept\n"
			  "ForwardFrom = 198.51.100.0/24, 192.0.2.7 10.0.0.0/8,172.16.0.0/12", &c);
	assert_true(c.fw_forward);
	assert_int_equal(c.n_forward_from, 4);
	assert_prefix(&c.forward_from[0], "198.51.100.0", 24);
	assert_prefix(&c.forward_from[1], "192.0.2.7", 32);
	assert_prefix(&c.forward_from[2], "10.0.0.0", 8);
	assert_prefix(&c.forward_from[3], "172.16.0.0", 12);
	/* not the routing list */
	assert_int_equal(c.n_rule_from, 0);
}

static void test_forward_from_sixteen(void **state)
{
	char line[512];
	struct config c;

	numbered_list(line, sizeof(line), "Forward = accept\nForwardFrom", 16, false);
	expect_section_ok("Firewall", line, &c);
	assert_int_equal(c.n_forward_from, 16);
	numbered_list(line, sizeof(line), "Forward = accept\nForwardFrom", 17, false);
	expect_section_error("Firewall", line, 8, "ForwardFrom: more than 16 prefixes");
}

static void test_error_forward_from_bad(void **state)
{
	expect_section_error("Firewall", "Forward = accept\nForwardFrom = 198.51.100.1/24", 8,
			     "ForwardFrom: '198.51.100.1/24' is not an IPv4 address or prefix "
			     "(host bits must be 0)");
	expect_section_error("Firewall", "Forward = accept\nForwardFrom = 10.0.0.0/8 lan", 8,
			     "ForwardFrom: 'lan' is not");
}

static void test_error_forward_from_needs_accept(void **state)
{
	expect_section_error("Firewall", "ForwardFrom = 198.51.100.0/24", 7,
			     "ForwardFrom: needs [Firewall] Forward = accept");
	expect_section_error("Firewall", "Forward = none\n\nForwardFrom = 198.51.100.0/24", 9,
			     "ForwardFrom: needs [Firewall] Forward = accept");
	expect_section_error("Firewall", "ForwardFrom = 198.51.100.0/24\nForward = none", 7,
			     "ForwardFrom: needs [Firewall] Forward = accept");
}

static void test_error_unknown_key_in_new_sections(void **state)
{
	expect_section_error("Routing", "Tabel = 42", 7, "unknown key 'Tabel' in section [Routing]");
	expect_section_error("Host", "IPForwarding = yes", 7,
			     "unknown key 'IPForwarding' in section [Host]");
	expect_section_error("Firewall", "Policy = drop", 7,
			     "unknown key 'Policy' in section [Firewall]");
	/* keys of one section are unknown in the others */
	expect_section_error("Host", "Table = 42", 7, "unknown key 'Table' in section [Host]");
	expect_section_error("Firewall", "ProxyARP = eth0", 7,
			     "unknown key 'ProxyARP' in section [Firewall]");
	expect_section_error("Routing", "Forward = accept", 7,
			     "unknown key 'Forward' in section [Routing]");
	expect_section_error("Routing", "table = 42", 7, "unknown key 'table' in section [Routing]");
}

static void test_error_new_sections_given_twice(void **state)
{
	expect_error(MINIMAL "[Host]\nIPv4Forwarding = yes\n[Routing]\nTable = 42\n[Host]\n", 10,
		     "section [Host] given twice (first on line 6)");
}

static void test_error_new_keys_empty_value(void **state)
{
	expect_section_error("Routing", "Table =", 7, "Table: empty value");
	expect_section_error("Host", "ProxyARP =", 7, "ProxyARP: empty value");
	expect_section_error("Firewall", "Forward = accept\nForwardFrom =", 8,
			     "ForwardFrom: empty value");
}

static void test_new_sections_optional_and_empty(void **state)
{
	struct config c;

	parse_ok(MINIMAL "[Routing]\n[Host]\n[Firewall]\n", &c);
	assert_int_equal(c.table, 0);
	assert_int_equal(c.ip_forward, TRI_KEEP);
	assert_false(c.fw_forward);
}

/*
 * The shipped examples (the HOWTO's two ends), found from this file's path;
 * skipped if the tests run from elsewhere.
 */
static void load_example(const char *rel, struct config *c)
{
	static const char self[] = "tests/unit/test_config.c";
	char path[512];
	size_t n = strlen(__FILE__);
	FILE *err;

	if (n < strlen(self) || strcmp(__FILE__ + n - strlen(self), self))
		skip();
	snprintf(path, sizeof(path), "%.*s%s", (int)(n - strlen(self)), __FILE__, rel);
	if (access(path, R_OK) < 0)
		skip();
	err = err_open();
	assert_int_equal(config_load(path, c, err), 0);
	assert_string_equal(err_close(err), "");
}

static void test_example_home(void **state)
{
	struct config c;

	load_example("examples/home/Moe.conf", &c);
	assert_string_equal(c.name, "Moe");
	assert_int_equal(c.ip.ttl, 64);
	assert_int_equal(c.table, 42);
	assert_string_equal(c.table_name, "Moe");
	assert_true(c.default_route);
	assert_true(c.has_peer);
	assert_int_equal(c.n_rule_from, 1);
	assert_prefix(&c.rule_from[0], "203.0.113.5", 32);
	assert_int_equal(c.ip_forward, TRI_KEEP);
	assert_false(c.fw_forward);
}

static void test_example_colo(void **state)
{
	struct config c;

	load_example("examples/colo/Moe.conf", &c);
	assert_string_equal(c.name, "Moe");
	assert_int_equal(c.ip.ttl, 64);
	assert_int_equal(c.table, 0);
	assert_int_equal(c.ip_forward, TRI_YES);
	assert_int_equal(c.n_proxy_arp, 1);
	assert_string_equal(c.proxy_arp[0], "eth-lan");
	assert_int_equal(c.rp_filter, RPF_KEEP);
	assert_true(c.fw_forward);
	assert_int_equal(c.n_forward_from, 0);
}

/* ---- config_load and config_valid_ifname ---------------------------------- */

static void test_load_nonexistent_file(void **state)
{
	struct config c;
	FILE *err = err_open();
	const char *text;

	assert_int_equal(config_load("/nonexistent/ipipd/Moe.conf", &c, err), -1);
	text = err_close(err);
	assert_non_null(strstr(text, "/nonexistent/ipipd/Moe.conf: "));
	assert_non_null(strstr(text, "No such file"));
}

static char tmp_dir[64], tmp_conf[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int make_tmp_dir(void **state)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/ipipd-test-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(tmp_conf, sizeof(tmp_conf), "%s/Shemp.conf", tmp_dir);
	return 0;
}

static int remove_tmp_dir(void **state)
{
	unlink(tmp_conf);
	return rmdir(tmp_dir);
}

static void test_load_file(void **state)
{
	struct config c;
	FILE *err;

	write_file(tmp_conf, "# test\n" MINIMAL "Peer = 10.0.0.2\n");
	err = err_open();
	assert_int_equal(config_load(tmp_conf, &c, err), 0);
	assert_string_equal(err_close(err), "");
	assert_string_equal(c.name, "Shemp");
	assert_string_equal(c.path, tmp_conf);
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_true(c.has_peer);
}

static void test_load_file_error_line_numbers(void **state)
{
	struct config c;
	FILE *err;

	write_file(tmp_conf, "# test\n" TUNNEL LOCAL REMOTE "\nTTL = 0\n" ADDRESS);
	err = err_open();
	assert_int_equal(config_load(tmp_conf, &c, err), -1);
	assert_has_error(err_close(err), tmp_conf, 6, "TTL: '0' is neither");
}

static void test_valid_ifname(void **state)
{
	assert_true(config_valid_ifname("tun0"));
	assert_true(config_valid_ifname("a"));
	assert_true(config_valid_ifname("ipip-to_moe.1"));
	assert_true(config_valid_ifname("abcdefghijklmno"));	/* 15 */
	assert_true(config_valid_ifname("..."));
}

static void test_invalid_ifname(void **state)
{
	assert_false(config_valid_ifname(""));
	assert_false(config_valid_ifname("abcdefghijklmnop"));	/* 16 */
	assert_false(config_valid_ifname("."));
	assert_false(config_valid_ifname(".."));
	assert_false(config_valid_ifname("a/b"));
	assert_false(config_valid_ifname("eth0:1"));
	assert_false(config_valid_ifname("a b"));
	assert_false(config_valid_ifname("a\tb"));
	assert_false(config_valid_ifname("tun\n"));
	assert_false(config_valid_ifname("a\x01"));
}

/* ---- the checks of ipipd -n (lint.c) ---------------------------------------- */

/*
 * A host to check against: lo (127.0.0.1/8, host scope) and eth0
 * (192.0.2.1/24, Local of the usual lines, and 10.20.30.40/16, its
 * management address), forwarding on, the route to Remote through eth0
 * with MTU 1500; nothing of ipipd's.
 */
static struct host_facts host;

static void host_link(int ifindex, const char *name, const char *kind, unsigned mtu)
{
	struct nl_link_info *k = &host.links[host.n_links++];

	k->ifindex = ifindex;
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->kind, sizeof(k->kind), "%s", kind);
	k->mtu = mtu;
}

static void host_addr(const char *a, unsigned len, int ifindex, unsigned char scope)
{
	struct nl_addr_info *x = &host.addrs[host.n_addrs++];

	x->addr = ip(a);
	x->prefixlen = len;
	x->ifindex = ifindex;
	x->scope = scope;
}

static void host_default(void)
{
	memset(&host, 0, sizeof(host));
	host.known = true;
	host.ip_forward = 1;
	host_link(1, "lo", "", 65536);
	host_link(2, "eth0", "", 1500);
	host_addr("127.0.0.1", 8, 1, RT_SCOPE_HOST);
	host_addr("192.0.2.1", 24, 2, RT_SCOPE_UNIVERSE);
	host_addr("10.20.30.40", 16, 2, RT_SCOPE_UNIVERSE);
	host.route_mtu = 1500;
	host.route_oif = 2;
}

/* What the checks say about text on host h (NULL: without the host). */
struct lint_result {
	int errors;
	unsigned warnings, nlines;
	const char *out;
};

static struct lint_result lint_text(const char *text, const struct host_facts *h,
				    enum lint_when when)
{
	static struct config c;
	struct lint_result r = { 0 };
	FILE *out;

	parse_ok(text, &c);
	out = err_open();
	r.errors = lint_config(&c, h, when, out, &r.warnings);
	r.out = err_close(out);
	for (const char *s = r.out; *s; s++)
		r.nlines += *s == '\n';
	return r;
}

/* text gets exactly one finding at ipipd -n on host: on line, containing msg. */
static void expect_lint(const char *text, bool error, unsigned line, const char *msg)
{
	struct lint_result r = lint_text(text, &host, LINT_CHECK);
	char want[512];

	if (r.nlines != 1)
		print_message("findings for:\n%s----\n%s", text, r.out);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(r.errors, error ? 1 : 0);
	assert_int_equal(r.warnings, error ? 0 : 1);
	snprintf(want, sizeof(want), "%s%s", error ? "" : "warning: ", msg);
	assert_has_error(r.out, PATH, line, want);
}

static void expect_lint_quiet(const char *text, const struct host_facts *h, enum lint_when when)
{
	struct lint_result r = lint_text(text, h, when);

	if (r.nlines)
		print_message("unexpected findings for:\n%s----\n%s", text, r.out);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.warnings, 0);
}

#define LINT_GOOD MINIMAL "Peer = 10.0.0.2\n"	/* lines 1-6 */

/* ---- what two tunnels' files would both take (lint_set(), ipipctl check) ---- */

/* The findings for files a (/etc/ipipd/a.conf) and b (.../b.conf), checked together. */
static struct lint_result set_text(const char *a, const char *b)
{
	static struct config ca, cb;
	const struct config *cs[] = { &ca, &cb };
	struct lint_result r = { 0 };
	FILE *out;

	assert_int_equal(parse_path(a, "/etc/ipipd/a.conf", &ca).rc, 0);
	assert_int_equal(parse_path(b, "/etc/ipipd/b.conf", &cb).rc, 0);
	out = err_open();
	r.errors = lint_set(cs, 2, out);
	r.out = err_close(out);
	for (const char *s = r.out; *s; s++)
		r.nlines += *s == '\n';
	return r;
}

/* a and b: exactly one finding, an error at b's line, containing msg. */
static void expect_clash(const char *a, const char *b, unsigned line, const char *msg)
{
	struct lint_result r = set_text(a, b);

	if (r.nlines != 1)
		print_message("findings for:\n%s----\n%s----\n%s", a, b, r.out);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(r.errors, 1);
	assert_has_error(r.out, "/etc/ipipd/b.conf", line, msg);
}

static void expect_no_clash(const char *a, const char *b)
{
	struct lint_result r = set_text(a, b);

	if (r.nlines)
		print_message("unexpected findings for:\n%s----\n%s----\n%s", a, b, r.out);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(r.errors, 0);
}

#define ADDR_B "[Address]\nAddress = 10.0.0.9/24\n"

static void test_lint_set(void **state)
{
	(void)state;
	/* nothing taken twice */
	expect_no_clash(MINIMAL, TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B);
	/* the same endpoints (an address, a name, both auto, both any) */
	expect_clash(MINIMAL, MINIMAL "Peer = 10.0.0.3\n", 3,
		     "Remote: tunnel a (/etc/ipipd/a.conf:3) has the same Local and Remote");
	expect_clash(TUNNEL "Local = auto\nRemote = home.example.org\n" ADDRESS,
		     TUNNEL "Local = auto\nRemote = HOME.example.org\n" ADDR_B, 3,
		     "Remote: tunnel a (/etc/ipipd/a.conf:3) has the same Local and Remote");
	expect_no_clash(TUNNEL "Local = auto\n" REMOTE ADDRESS, MINIMAL "Peer = 10.0.0.3\n");
	expect_clash(TUNNEL LOCAL "Remote = any\nAllowedRemotes = 198.51.100.0/24\n" ADDRESS,
		     TUNNEL LOCAL "Remote = any\nAllowedRemotes = 203.0.113.0/24\n" ADDR_B, 3,
		     "Remote: tunnel a");
	/* encapsulated in UDP: the port on one Local, whatever the Remote */
	expect_clash(TUNNEL LOCAL REMOTE "Encapsulation = fou\nPort = 5555\n" ADDRESS,
		     TUNNEL LOCAL "Remote = 198.51.100.2\nEncapsulation = fou\nPort = 5555\n" ADDR_B,
		     5, "Port: UDP port 5555 is also tunnel a's (/etc/ipipd/a.conf:5), on the same Local");
	expect_no_clash(TUNNEL LOCAL REMOTE "Encapsulation = fou\nPort = 5555\n" ADDRESS,
			TUNNEL LOCAL REMOTE "Encapsulation = fou\nPort = 5556\n" ADDR_B);
	/* an address: one on each tunnel with its own Peer is fine */
	expect_clash(MINIMAL, TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDRESS, 5,
		     "Address: 10.0.0.1 is also tunnel a's (/etc/ipipd/a.conf:5), with no Peer on either");
	expect_no_clash(MINIMAL "Peer = 10.0.0.2\n",
			TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDRESS "Peer = 10.0.0.3\n");
	/* a table with a default route in each */
	expect_clash(MINIMAL "[Routing]\nTable = 42\n",
		     TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B "[Routing]\nTable = 42\n", 7,
		     "Table: 42 is also tunnel a's (/etc/ipipd/a.conf:7), and each puts its default route there");
	expect_no_clash(MINIMAL "[Routing]\nTable = 42\n",
			TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B "[Routing]\nTable = 43\n");
	/* a [Route]: the same prefix, table and metric */
	expect_clash(MINIMAL "[Route]\nDestination = 203.0.113.0/24\n",
		     TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B "[Route]\nDestination = 203.0.113.0/24\n",
		     6, "[Route] 203.0.113.0/24 (table 254) is also tunnel a's (/etc/ipipd/a.conf:6)");
	expect_no_clash(MINIMAL "[Route]\nDestination = 203.0.113.0/24\n",
			TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B
			"[Route]\nDestination = 203.0.113.0/24\nMetric = 100\n");
	expect_no_clash(MINIMAL "[Route]\nDestination = 203.0.113.0/24\n",
			TUNNEL LOCAL "Remote = 198.51.100.2\n" ADDR_B "[Route]\nDestination = 203.0.113.0/25\n");
}

static void test_lint_quiet(void **state)
{
	host_default();
	expect_lint_quiet(LINT_GOOD, &host, LINT_CHECK);
	expect_lint_quiet(LINT_GOOD, &host, LINT_START);
	expect_lint_quiet(LINT_GOOD, NULL, LINT_CHECK);
	/* the examples' own setups */
	expect_lint_quiet(LINT_GOOD "[Routing]\nTable = Moe:42\n", &host, LINT_CHECK);
	expect_lint_quiet(LINT_GOOD "[Host]\nIPv4Forwarding = yes\nProxyARP = eth0\n", &host,
			  LINT_CHECK);
	expect_lint_quiet(TUNNEL LOCAL REMOTE "TOS = 0x28\nMTU = 1480\n" ADDRESS, &host, LINT_CHECK);
}

static void test_lint_local_is_address(void **state)
{
	host_default();
	/* (with a Table and its default route it is an error: test_error_rule_from_covers_local) */
	expect_lint(TUNNEL LOCAL REMOTE "[Address]\nAddress = 192.0.2.1/32\n", false, 5,
		    "Address: 192.0.2.1 is Local too, this host's address on the underlay: the "
		    "tunnel's own outer packets then come from the tunnel's address");
	/* with a Table whose rules leave Local out */
	expect_lint(TUNNEL LOCAL REMOTE "[Address]\nAddress = 192.0.2.1/32\n[Routing]\nTable = 42\n"
		    "RuleFrom = 203.0.113.0/24\n", false, 5, "Address: 192.0.2.1 is Local too");
}

static void test_lint_remote_inside_tunnel_prefix(void **state)
{
	host_default();
	expect_lint(TUNNEL LOCAL "Remote = 10.0.0.200\n" ADDRESS, false, 3,
		    "Remote: 10.0.0.200 is inside 10.0.0.0/24, the prefix the tunnel's address "
		    "routes into the tunnel: unless a longer route to Remote leaves through the "
		    "underlay, outer packets would enter the tunnel itself");
	/* with Peer, the prefix is the peer's */
	expect_lint(TUNNEL LOCAL "Remote = 198.51.100.9\n[Address]\nAddress = 203.0.113.5/16\n"
		    "Peer = 198.51.100.1\n", false, 3, "Remote: 198.51.100.9 is inside 198.51.0.0/16");
}

static void test_lint_local_not_on_host(void **state)
{
	static const char text[] = TUNNEL "Local = 192.0.2.99\n" REMOTE ADDRESS;

	host_default();
	expect_lint(text, false, 2, "Local: 192.0.2.99 is not an address of this host (yet): ipipd "
		    "receives the tunnel's packets there and waits until it is");
	/* start-up says it itself */
	expect_lint_quiet(text, &host, LINT_START);
	expect_lint_quiet(text, NULL, LINT_CHECK);
}

static void test_lint_remote_on_host(void **state)
{
	struct lint_result r;

	host_default();
	host_addr("198.51.100.1", 24, 2, RT_SCOPE_UNIVERSE);
	expect_lint(LINT_GOOD, false, 3, "Remote: 198.51.100.1 is an address of this host: outer "
		    "packets to it would not leave it; Remote is the other end's address");
	/* Local elsewhere, Remote here: swapped */
	r = lint_text(TUNNEL "Local = 203.0.113.7\n" REMOTE ADDRESS, &host, LINT_CHECK);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.warnings, 2);
	assert_has_error(r.out, PATH, 2, "warning: Local: 203.0.113.7 is not an address of this host");
	assert_has_error(r.out, PATH, 3, "warning: Remote: 198.51.100.1 is an address of this host: "
			 "outer packets to it would not leave it; Remote is the other end's address "
			 "(are Local and Remote swapped?)");
}

static void test_lint_no_route_to_remote(void **state)
{
	host_default();
	host.route_rc = -ENETUNREACH;
	expect_lint(LINT_GOOD, false, 3, "Remote: no route to 198.51.100.1 on this host (yet): "
		    "ipipd waits until there is one");
	expect_lint_quiet(LINT_GOOD, &host, LINT_START);
}

/* ---- endpoints that follow a dynamic address ---------------------------- */

static void test_local_auto_remote_name(void **state)
{
	struct config c;

	parse_ok(TUNNEL "Local = auto\nRemote = home.example.net\n" ADDRESS, &c);
	assert_true(c.local_auto);
	assert_int_equal(c.ip.local, 0);
	assert_string_equal(c.remote_name, "home.example.net");
	assert_int_equal(c.ip.remote, 0);
	assert_int_equal(c.resolve_interval, CONFIG_RESOLVE_DEFAULT);
	assert_int_equal(c.resolve_interval, 60);
	assert_int_equal(c.line.local, 2);
	assert_int_equal(c.line.remote, 3);
	/* an address is still an address */
	parse_ok(TUNNEL "Local = 192.0.2.1\nRemote = 198.51.100.1\nResolveInterval = 5\n"
		 ADDRESS, &c);
	assert_false(c.local_auto);
	assert_int_equal(c.ip.local, ip("192.0.2.1"));
	assert_string_equal(c.remote_name, "");
	assert_int_equal(c.ip.remote, ip("198.51.100.1"));
	assert_int_equal(c.resolve_interval, 5);
	assert_int_equal(c.line.resolve_interval, 4);
}

static void test_remote_name_refused(void **state)
{
	static const char *const bad[] = {
		"198.51.100.300", "198.51.100", "1.2.3.4.5", "-home.example", "home-.example",
		"home..example", "home_example", "home example", ".example", "224.0.0.1",
		"255.255.255.255", "0.0.0.0",
		"a234567890123456789012345678901234567890123456789012345678901234.example",
	};
	char line[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "Remote: '%s' is not a unicast IPv4 address or a host name",
			 bad[i]);
		char text[512];

		snprintf(text, sizeof(text), TUNNEL LOCAL "Remote = %s\n" ADDRESS, bad[i]);
		expect_error(text, 3, line);
	}
	expect_error(TUNNEL "Local = home.example\n" REMOTE ADDRESS, 2,
		     "Local: 'home.example' is not a unicast IPv4 address, or auto");
	/* the checks that need no Remote still apply with a name */
	expect_error(TUNNEL "Local = auto\nRemote = colo.example\n[Address]\nAddress = 10.0.0.1/32\n"
		     "Peer = 10.0.0.1\n", 6, "Peer: 10.0.0.1 is also Address");
	expect_tunnel_line_error("ResolveInterval = 0", "ResolveInterval: '0' is not a number of "
				 "seconds from 1 to 86400");
	expect_tunnel_line_error("ResolveInterval = 86401", "ResolveInterval: '86401'");
	assert_true(endpoint_valid_name("a"));
	assert_true(endpoint_valid_name("colo.example.net."));
	assert_true(endpoint_valid_name("1.2.3.example"));
	assert_true(endpoint_valid_name("x-1.example"));
	assert_false(endpoint_valid_name(""));
	assert_false(endpoint_valid_name("."));
	assert_false(endpoint_valid_name("example.123"));
}

/* The checks see the endpoints as they are now (host facts), and say when there are none. */
static void test_lint_dynamic_endpoints(void **state)
{
	static const char text[] = TUNNEL "Local = auto\nRemote = colo.example\n" ADDRESS;
	struct lint_result r;

	host_default();
	host.remote = ip("198.51.100.1");
	host.local = ip("192.0.2.1");
	expect_lint_quiet(text, &host, LINT_CHECK);
	/* the name resolves to one of this host's addresses: the usual check, at Remote's line */
	host.remote = ip("10.20.30.40");
	r = lint_text(text, &host, LINT_CHECK);
	assert_has_error(r.out, PATH, 3, "warning: Remote: 10.20.30.40 is an address of this host");
	/* it does not resolve: ipipd waits */
	host.remote = 0;
	snprintf(host.remote_err, sizeof(host.remote_err), "Name or service not known");
	host.route_rc = -EDESTADDRREQ;
	expect_lint(text, false, 3, "Remote: colo.example does not resolve now (Name or service "
		    "not known): ipipd waits until it does");
	expect_lint_quiet(text, &host, LINT_START);
	/* it resolves, but the route to it has no source address */
	host.remote = ip("198.51.100.1");
	host.route_rc = 0;
	host.local = 0;
	host.local_rc = -ENETUNREACH;
	expect_lint(text, false, 2, "Local: auto: the route to Remote 198.51.100.1 has no source "
		    "address now");
	/* ResolveInterval with an address */
	host_default();
	expect_lint(TUNNEL LOCAL REMOTE "ResolveInterval = 30\n" ADDRESS, false, 4,
		    "ResolveInterval: Remote is an address, not a name: there is nothing to look up");
}

/* ---- [Route] -------------------------------------------------------------- */

static void test_routes(void **state)
{
	struct config c;

	parse_ok(MINIMAL "[Route]\nDestination = 192.0.2.128/26\n[Route]\nDestination = 192.0.2.0/26\n"
		 "Table = 4243\nMetric = 50\n[Route]\nTable = main\nDestination = 10.9.0.0/16\n", &c);
	assert_int_equal(c.n_routes, 3);
	assert_int_equal(c.routes[0].dst.addr, ip("192.0.2.128"));
	assert_int_equal(c.routes[0].dst.len, 26);
	assert_int_equal(c.routes[0].table, 254);
	assert_int_equal(c.routes[0].metric, 0);
	assert_int_equal(c.routes[0].line, 6);
	assert_int_equal(c.routes[1].table, 4243);
	assert_int_equal(c.routes[1].metric, 50);
	assert_int_equal(c.routes[1].line, 8);
	assert_int_equal(c.routes[2].table, 254);
	parse_ok(MINIMAL, &c);
	assert_int_equal(c.n_routes, 0);
}

static void test_routes_refused(void **state)
{
	expect_error(MINIMAL "[Route]\nMetric = 5\n", 6, "[Route]: missing required key 'Destination'");
	expect_error(MINIMAL "[Route]\nDestination = 192.0.2.1/24\n", 7,
		     "Destination: '192.0.2.1/24' is not an IPv4 prefix (ADDRESS/LENGTH, host bits 0)");
	expect_error(MINIMAL "[Route]\nDestination = 192.0.2.0/24\nDestination = 192.0.2.0/25\n", 8,
		     "Destination: given twice (first on line 7)");
	expect_error(MINIMAL "[Route]\nDestination = 192.0.2.0/24\n[Route]\nDestination = 192.0.2.0/24\n",
		     8, "[Route]: 192.0.2.0/24 in table 254 with metric 0 is also the route of line 6");
	expect_error(MINIMAL "[Route]\nDestination = 192.0.2.0/24\nTable = 255\n", 8,
		     "Table: '255' is not main or a table number");
	expect_error(MINIMAL "[Route]\nDestination = 192.0.2.0/24\nMetric = -1\n", 8,
		     "Metric: '-1' is not a number from 0 to 4294967295");
	/* Gateway: Remote = any's (hub.sh covers the rest) */
	expect_error(MINIMAL "[Route]\nGateway = 192.0.2.1\nDestination = 192.0.2.0/24\n", 6,
		     "Route: Gateway needs Remote = any");
	expect_error(MINIMAL "[Route]\nGateway = 192.0.2.300\nDestination = 192.0.2.0/24\n", 7,
		     "Gateway: '192.0.2.300' is not a unicast IPv4 address");
}

/* The tunnel's own outer packets must not be routed into it. */
static void test_lint_route_covers_remote(void **state)
{
	host_default();
	expect_lint(MINIMAL "[Route]\nDestination = 198.51.100.0/24\n", false, 6,
		    "Destination: 198.51.100.0/24 covers Remote 198.51.100.1: unless a longer route "
		    "to Remote leaves through the underlay, outer packets would enter the tunnel itself");
}

/*
 * A route of someone else's in the place of one of the tunnel's (the same
 * destination, table and metric): ipipd would not start.  Not at start
 * (start-up says it), and not a route through the tunnel's own device.
 */
static void test_lint_route_taken(void **state)
{
	const char *route = MINIMAL "[Route]\nDestination = 203.0.113.0/24\n";
	const char *table = LINT_GOOD "[Routing]\nTable = 4243\n";

	host_default();
	host.taken[1] = true;
	host.taken_by[1] = (struct nl_route_info){ .dst = ip("203.0.113.0"), .len = 24,
						   .table = 254, .oif = 2, .type = 1 };
	expect_lint(route, true, 6, "[Route] 203.0.113.0/24: table 254 has a route to it with "
		    "metric 0 already (through eth0): ipipd will not start; delete that one, or "
		    "give this one another Metric");
	expect_lint_quiet(route, &host, LINT_START);
	host_default();
	host.taken[0] = true;
	host.taken_by[0] = (struct nl_route_info){ .table = 4243, .type = 6 };	/* RTN_BLACKHOLE */
	expect_lint(table, true, 8, "Table: table 4243 has a default route already (a blackhole): "
		    "ipipd will not start; give the tunnel a table of its own");
	host_default();
	expect_lint_quiet(route, &host, LINT_CHECK);
	(void)state;
}

/* Remote = any: a route into the tunnel must not take the peers' own addresses. */
static void test_lint_route_covers_peers(void **state)
{
#define HUB TUNNEL LOCAL "Remote = any\nAllowedRemotes = 192.0.2.0/28\n" ADDRESS	/* lines 1-6 */
	host_default();
	expect_lint_quiet(HUB "[Route]\nDestination = 203.0.113.0/24\nGateway = 192.0.2.7\n", &host,
			  LINT_CHECK);
	expect_lint(HUB "[Route]\nDestination = 192.0.2.0/24\n", false, 7,
		    "Destination: 192.0.2.0/24 covers AllowedRemotes 192.0.2.0/28: unless longer "
		    "routes to the peers leave through the underlay, outer packets would enter the "
		    "tunnel itself");
#undef HUB
}

static void test_lint_rule_from_everything(void **state)
{
	struct lint_result r;

	host_default();
	/* lines 7-9: [Routing], Table, DefaultRoute; RuleFrom on line 10 */
	r = lint_text(LINT_GOOD "[Routing]\nTable = 42\nDefaultRoute = no\nRuleFrom = 0.0.0.0/0\n",
		      &host, LINT_CHECK);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.warnings, 2);
	assert_has_error(r.out, PATH, 10, "warning: RuleFrom: 0.0.0.0/0 covers Local 192.0.2.1: "
			 "the tunnel's own outer packets go by table 42, which must route Remote "
			 "through the underlay (DefaultRoute = no: the table is yours)");
	assert_has_error(r.out, PATH, 10, "warning: RuleFrom: 0.0.0.0/0 sends all of this host's "
			 "traffic by table 42, SSH sessions to it included");
}

static void test_lint_rule_from_covers_host_addresses(void **state)
{
	host_default();
	expect_lint(LINT_GOOD "[Routing]\nTable = 42\nRuleFrom = 10.20.0.0/16\n", false, 9,
		    "RuleFrom: 10.20.0.0/16 covers 10.20.30.40 (eth0), an address of this host: "
		    "traffic from it, SSH sessions to it included, would go by table 42, into the "
		    "tunnel");
	host_addr("10.20.0.1", 16, 2, RT_SCOPE_UNIVERSE);
	expect_lint(LINT_GOOD "[Routing]\nTable = 42\nRuleFrom = 10.0.0.128/25 10.16.0.0/12\n",
		    false, 9, "RuleFrom: 10.16.0.0/12 covers 10.20.30.40 (eth0) and more of this "
		    "host's addresses");
	/* the tunnel's own address, and the addresses on its interface (a running tunnel), are not the host's */
	host_link(7, "Moe", "tun", 1480);
	host_addr("10.0.0.1", 24, 7, RT_SCOPE_UNIVERSE);
	host_addr("10.0.0.3", 24, 7, RT_SCOPE_UNIVERSE);
	host.ours = true;
	expect_lint_quiet(LINT_GOOD "[Routing]\nTable = 42\nRuleFrom = 10.0.0.0/24\n", &host,
			  LINT_CHECK);
	/* nor is loopback (the local table comes first) */
	expect_lint_quiet(LINT_GOOD "[Routing]\nTable = 42\nRuleFrom = 127.0.0.0/8\n", &host,
			  LINT_CHECK);
	/* at start too: a warning */
	assert_int_equal(lint_text(LINT_GOOD "[Routing]\nTable = 42\nRuleFrom = 10.20.0.0/16\n",
				   &host, LINT_START).warnings, 1);
}

static void test_lint_proxy_arp_without_forwarding(void **state)
{
	host_default();
	/* lines 7-9: [Host], IPv4Forwarding, ProxyARP */
	expect_lint(LINT_GOOD "[Host]\nIPv4Forwarding = no\nProxyARP = eth0\n", false, 8,
		    "IPv4Forwarding: no, and ProxyARP (line 9) is set: the kernel answers ARP by "
		    "proxy only on an interface that forwards");
	host.ip_forward = 0;
	expect_lint(LINT_GOOD "[Host]\nProxyARP = eth0\n", false, 8, "ProxyARP: the kernel answers "
		    "ARP by proxy only on an interface that forwards, and net.ipv4.ip_forward is 0 "
		    "on this host: set [Host] IPv4Forwarding = yes");
	expect_lint_quiet(LINT_GOOD "[Host]\nIPv4Forwarding = yes\nProxyARP = eth0\n", &host,
			  LINT_CHECK);
	host.ip_forward = 1;
	expect_lint_quiet(LINT_GOOD "[Host]\nProxyARP = eth0\n", &host, LINT_CHECK);
}

static void test_lint_proxy_arp_no_interface(void **state)
{
	static const char text[] = LINT_GOOD "[Host]\nIPv4Forwarding = yes\nProxyARP = eth0 eth-lan\n";

	host_default();
	expect_lint(text, false, 9, "ProxyARP: no interface 'eth-lan' on this host (yet): ipipd "
		    "will not start until there is one");
	expect_lint_quiet(text, &host, LINT_START);
}

static void test_lint_name_taken(void **state)
{
	static const char text[] = TUNNEL "Name = eth0\n" LOCAL REMOTE ADDRESS;
	struct lint_result r;

	host_default();
	expect_lint(text, true, 2, "Name: an interface named 'eth0' (no kind: a NIC?) already "
		    "exists on this host and ipipd did not create it: ipipd will not start; choose "
		    "another Name");
	expect_lint_quiet(text, &host, LINT_START);	/* start-up refuses it itself */
	/* the name from the file name: the line of [Tunnel] */
	host_link(3, "Moe", "veth", 1500);
	r = lint_text(LINT_GOOD, &host, LINT_CHECK);
	assert_int_equal(r.errors, 1);
	assert_has_error(r.out, PATH, 1, "Name: an interface named 'Moe' (veth) already exists");
	/* ipipd's own (running, or left behind for the next start to undo) */
	host.ours = true;
	expect_lint_quiet(LINT_GOOD, &host, LINT_CHECK);
}

static void test_lint_name_of_a_fallback_device(void **state)
{
	static const char text[] = TUNNEL "Name = tunl0\n" LOCAL REMOTE ADDRESS;

	host_default();
	expect_lint(text, false, 2, "Name: tunl0 is the device the kernel makes in every network "
		    "namespace when the ipip module loads (Datapath = auto or kernel loads it): "
		    "the names would collide; choose another Name");
	expect_lint(TUNNEL "Name = gre0\n" LOCAL REMOTE ADDRESS, false, 2, "Name: gre0 is the device "
		    "the kernel makes in every network namespace when the ip_gre module loads: the "
		    "names would collide");
	assert_int_equal(lint_text(text, NULL, LINT_START).warnings, 1);
	host_link(5, "tunl0", "ipip", 1480);
	expect_lint(text, true, 2, "Name: an interface named 'tunl0' (ipip) already exists on this "
		    "host and ipipd did not create it: ipipd will not start; choose another Name "
		    "(it is the kernel's fallback device of its tunnel module)");
}

static void test_lint_mtu_over_the_underlay(void **state)
{
	host_default();
	expect_lint(TUNNEL LOCAL REMOTE "MTU = 1500\n" ADDRESS, false, 4, "MTU: 1500 is more than "
		    "the underlay carries: the route to Remote 198.51.100.1 (through eth0) has MTU "
		    "1500, which leaves 1480 after the 20-byte outer header; larger packets would be "
		    "refused (\"fragmentation needed\") or fragmented; leave MTU out for 1480");
	expect_lint_quiet(TUNNEL LOCAL REMOTE "MTU = 1480\n" ADDRESS, &host, LINT_CHECK);
	assert_int_equal(lint_text(TUNNEL LOCAL REMOTE "MTU = 1481\n" ADDRESS, &host,
				   LINT_START).warnings, 1);
	expect_lint_quiet(TUNNEL LOCAL REMOTE "MTU = 9000\n" ADDRESS, NULL, LINT_CHECK);
}

static void test_lint_tos_with_ecn_bits(void **state)
{
	host_default();
	expect_lint(TUNNEL LOCAL REMOTE "TOS = 1\n" ADDRESS, false, 4, "TOS: 1 (0x01) gives the "
		    "outer header TOS 0x00: only the DSCP bits (0xfc) are used, ECN comes from the "
		    "ECN key; unlike iproute2's tos, an odd value does not mean inherit: for that, "
		    "write TOS = inherit");
	expect_lint(TUNNEL LOCAL REMOTE "TOS = 0x2a\n" ADDRESS, false, 4, "TOS: 42 (0x2a) gives the "
		    "outer header TOS 0x28: only the DSCP bits (0xfc) are used, ECN comes from the "
		    "ECN key");
	expect_lint_quiet(TUNNEL LOCAL REMOTE "TOS = 0\n" ADDRESS, &host, LINT_CHECK);
	expect_lint_quiet(TUNNEL LOCAL REMOTE "TOS = inherit\n" ADDRESS, &host, LINT_CHECK);
}

static void test_lint_keys_the_kernel_device_cannot_enforce(void **state)
{
	static const char text[] = TUNNEL LOCAL REMOTE "Datapath = kernel\n"
		"AllowedSources = 10.0.0.0/24\nAllowSourceRoute = yes\nLogUnusualECN = no\n"
		"Keepalive = 10\n" ADDRESS "Peer = 10.0.0.2\n";
	struct lint_result r;

	host_default();
	r = lint_text(text, &host, LINT_CHECK);
	assert_int_equal(r.errors, 4);
	assert_int_equal(r.warnings, 0);
	assert_has_error(r.out, PATH, 5, "AllowedSources: the kernel's ipip device (Datapath = "
			 "kernel) cannot enforce it; use Datapath = auto, ebpf or userspace");
	assert_has_error(r.out, PATH, 6, "AllowSourceRoute = yes: the kernel's ipip device");
	assert_has_error(r.out, PATH, 7, "LogUnusualECN = no: the kernel's ipip device");
	assert_has_error(r.out, PATH, 8, "Keepalive: the kernel's ipip device");
	/* start-up refuses them itself; other datapaths carry the packets themselves */
	expect_lint_quiet(text, &host, LINT_START);
	expect_lint_quiet(TUNNEL LOCAL REMOTE "Datapath = auto\nAllowedSources = 10.0.0.0/24\n"
			  ADDRESS, &host, LINT_CHECK);
}

static void test_lint_sorted_by_line(void **state)
{
	struct lint_result r;
	const char *tos, *mtu, *proxy;

	host_default();
	host.ip_forward = 0;
	/* checked in another order: TOS before MTU, [Host] last */
	r = lint_text("[Host]\nProxyARP = eth0\n" TUNNEL LOCAL REMOTE "MTU = 1500\nTOS = 1\n"
		      ADDRESS, &host, LINT_CHECK);
	assert_int_equal(r.warnings, 3);
	proxy = strstr(r.out, ":2: warning: ProxyARP");
	mtu = strstr(r.out, ":6: warning: MTU");
	tos = strstr(r.out, ":7: warning: TOS");
	assert_non_null(proxy);
	assert_non_null(mtu);
	assert_non_null(tos);
	assert_true(proxy < mtu && mtu < tos);
}

static void test_lint_host_unknown(void **state)
{
	struct lint_result r;

	host_default();
	host.known = false;
	r = lint_text(LINT_GOOD, &host, LINT_CHECK);
	assert_int_equal(r.errors, 0);
	assert_int_equal(r.warnings, 1);
	assert_has_error(r.out, PATH, 1, "warning: cannot read this host's interfaces, addresses "
			 "and routes: the checks against them were not made");
	expect_lint_quiet(LINT_GOOD, &host, LINT_START);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_addresses_in_network_order),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_name_from_file_name),
		cmocka_unit_test(test_name_given_explicitly),
		cmocka_unit_test(test_name_explicit_rescues_bad_file_name),
		cmocka_unit_test(test_name_from_bad_file_name_refused),
		cmocka_unit_test(test_ttl_values),
		cmocka_unit_test(test_tos_values),
		cmocka_unit_test(test_pmtudisc_values),
		cmocka_unit_test(test_mtu_bounds_accepted),
		cmocka_unit_test(test_ecn_values),
		cmocka_unit_test(test_dscp_values),
		cmocka_unit_test(test_address_prefix_lengths),
		cmocka_unit_test(test_sections_in_any_order),
		cmocka_unit_test(test_value_words_case_insensitive),
		cmocka_unit_test(test_colon_as_equals),
		cmocka_unit_test(test_comments_and_blank_lines),
		cmocka_unit_test(test_comments_do_not_shift_line_numbers),
		cmocka_unit_test(test_crlf_line_endings),

		cmocka_unit_test(test_error_unknown_section),
		cmocka_unit_test(test_error_unknown_empty_section),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_names_case_sensitive),
		cmocka_unit_test(test_error_unknown_section_names_the_sections),
		cmocka_unit_test(test_error_key_in_wrong_section),
		cmocka_unit_test(test_indented_lines),
		cmocka_unit_test(test_error_wrapped_list),
		cmocka_unit_test(test_inline_comments),
		cmocka_unit_test(test_error_key_outside_section),
		cmocka_unit_test(test_error_missing_local),
		cmocka_unit_test(test_error_missing_remote),
		cmocka_unit_test(test_error_missing_local_and_remote),
		cmocka_unit_test(test_error_missing_address),
		cmocka_unit_test(test_error_missing_keys_of_empty_section),
		cmocka_unit_test(test_error_missing_section_address),
		cmocka_unit_test(test_error_missing_section_tunnel),
		cmocka_unit_test(test_error_missing_section_last_line_without_newline),
		cmocka_unit_test(test_error_empty_file),
		cmocka_unit_test(test_error_duplicate_key),
		cmocka_unit_test(test_error_duplicate_section),
		cmocka_unit_test(test_error_duplicate_section_consecutive),
		cmocka_unit_test(test_error_duplicate_empty_section),
		cmocka_unit_test(test_error_syntax_no_equals),
		cmocka_unit_test(test_error_only_first_syntax_error_reported),
		cmocka_unit_test(test_error_every_bad_value_reported),
		cmocka_unit_test(test_error_syntax_unclosed_section),
		cmocka_unit_test(test_error_empty_value),
		cmocka_unit_test(test_bom_before_first_section),
		cmocka_unit_test(test_long_comment_keeps_line_numbers),
		cmocka_unit_test(test_line_length_limit),

		cmocka_unit_test(test_error_ttl_bad),
		cmocka_unit_test(test_error_tos_bad),
		cmocka_unit_test(test_nice),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_error_nice_bad),
		cmocka_unit_test(test_underlay_output),
		cmocka_unit_test(test_error_pmtudisc_bad),
		cmocka_unit_test(test_error_mtu_bad),
		cmocka_unit_test(test_error_local_bad),
		cmocka_unit_test(test_error_remote_bad),
		cmocka_unit_test(test_error_address_bad),
		cmocka_unit_test(test_address_without_prefix_length_is_32),
		cmocka_unit_test(test_error_peer_bad),
		cmocka_unit_test(test_error_ecn_bad),
		cmocka_unit_test(test_error_dscp_bad),
		cmocka_unit_test(test_error_name_bad),
		cmocka_unit_test(test_name_fifteen_chars_accepted),

		cmocka_unit_test(test_error_fixed_ttl_without_pmtudisc),
		cmocka_unit_test(test_fixed_ttl_with_pmtudisc_or_inherit_without),
		cmocka_unit_test(test_error_local_equals_remote),
		cmocka_unit_test(test_error_remote_is_peer_or_address),
		cmocka_unit_test(test_error_rule_from_covers_local),

		cmocka_unit_test(test_host_setup_defaults),
		cmocka_unit_test(test_full_host_setup),
		cmocka_unit_test(test_table_name_and_number),
		cmocka_unit_test(test_table_number_only),
		cmocka_unit_test(test_table_largest_number),
		cmocka_unit_test(test_default_route_default_yes_with_table),
		cmocka_unit_test(test_default_route_explicit_no),
		cmocka_unit_test(test_rule_from_list),
		cmocka_unit_test(test_rule_from_default_is_address),
		cmocka_unit_test(test_rule_from_sixteen),
		cmocka_unit_test(test_error_rule_from_more_than_sixteen),
		cmocka_unit_test(test_error_rule_from_bad),
		cmocka_unit_test(test_rule_priority),
		cmocka_unit_test(test_error_rule_priority_bad),
		cmocka_unit_test(test_error_table_reserved_numbers),
		cmocka_unit_test(test_error_table_bad_forms),
		cmocka_unit_test(test_error_default_route_bad),
		cmocka_unit_test(test_error_routing_keys_need_table),
		cmocka_unit_test(test_error_routing_keys_need_table_all_reported),
		cmocka_unit_test(test_error_routing_list_given_twice),
		cmocka_unit_test(test_ip_forward_values),
		cmocka_unit_test(test_error_ip_forward_bad),
		cmocka_unit_test(test_proxy_arp_list),
		cmocka_unit_test(test_proxy_arp_sixteen),
		cmocka_unit_test(test_error_proxy_arp_duplicate),
		cmocka_unit_test(test_error_proxy_arp_bad_name),
		cmocka_unit_test(test_error_proxy_arp_more_than_sixteen),
		cmocka_unit_test(test_rp_filter_values),
		cmocka_unit_test(test_error_rp_filter_bad),
		cmocka_unit_test(test_forward_values),
		cmocka_unit_test(test_error_forward_bad),
		cmocka_unit_test(test_input_values),
		cmocka_unit_test(test_forward_from_list),
		cmocka_unit_test(test_forward_from_sixteen),
		cmocka_unit_test(test_error_forward_from_bad),
		cmocka_unit_test(test_error_forward_from_needs_accept),
		cmocka_unit_test(test_error_unknown_key_in_new_sections),
		cmocka_unit_test(test_error_new_sections_given_twice),
		cmocka_unit_test(test_error_new_keys_empty_value),
		cmocka_unit_test(test_new_sections_optional_and_empty),
		cmocka_unit_test(test_example_home),
		cmocka_unit_test(test_example_colo),

		cmocka_unit_test(test_load_nonexistent_file),
		cmocka_unit_test_setup_teardown(test_load_file, make_tmp_dir, remove_tmp_dir),
		cmocka_unit_test_setup_teardown(test_load_file_error_line_numbers, make_tmp_dir,
						remove_tmp_dir),
		cmocka_unit_test(test_valid_ifname),
		cmocka_unit_test(test_invalid_ifname),
		cmocka_unit_test(test_lint_quiet),
		cmocka_unit_test(test_lint_local_is_address),
		cmocka_unit_test(test_lint_remote_inside_tunnel_prefix),
		cmocka_unit_test(test_lint_local_not_on_host),
		cmocka_unit_test(test_lint_remote_on_host),
		cmocka_unit_test(test_lint_no_route_to_remote),
		cmocka_unit_test(test_local_auto_remote_name),
		cmocka_unit_test(test_remote_name_refused),
		cmocka_unit_test(test_lint_dynamic_endpoints),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_routes_refused),
		cmocka_unit_test(test_lint_route_covers_remote),
		cmocka_unit_test(test_lint_route_taken),
		cmocka_unit_test(test_lint_route_covers_peers),
		cmocka_unit_test(test_lint_rule_from_everything),
		cmocka_unit_test(test_lint_rule_from_covers_host_addresses),
		cmocka_unit_test(test_lint_proxy_arp_without_forwarding),
		cmocka_unit_test(test_lint_proxy_arp_no_interface),
		cmocka_unit_test(test_lint_name_taken),
		cmocka_unit_test(test_lint_name_of_a_fallback_device),
		cmocka_unit_test(test_lint_mtu_over_the_underlay),
		cmocka_unit_test(test_lint_tos_with_ecn_bits),
		cmocka_unit_test(test_lint_keys_the_kernel_device_cannot_enforce),
		cmocka_unit_test(test_lint_sorted_by_line),
		cmocka_unit_test(test_lint_host_unknown),
		cmocka_unit_test(test_lint_set),
	};

	return cmocka_run_group_tests(tests, NULL, free_err_buf);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The firewall's names (src/firewall.c): the tunnel's own chain is named one
 * to one from the tunnel's name; nft's JSON ruleset is read with any table
 * and chain names (spaces, quotes, leading digits), and the text form of the
 * plan quotes the names that need it.  A plan holds only the rules missing
 * from the ruleset it was made against.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "firewall.h"

/* `nft -j list ruleset` (nftables 1.0.6) of a table "1 odd" whose forward
 * chain is named fwd "chain", and the own chains of tunnels a-b and x612d62. */
static const char RULESET[] =
	"{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\", \"release_name\": \"Lester Gooch #5"
	"\", \"json_schema_version\": 1}}, {\"table\": {\"family\": \"ip\", \"name\": \"1 odd\", \"hand"
	"le\": 1}}, {\"chain\": {\"family\": \"ip\", \"table\": \"1 odd\", \"name\": \"fwd \\\"chain\\\"\", "
	"\"handle\": 1, \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}},"
	" {\"rule\": {\"family\": \"ip\", \"table\": \"1 odd\", \"chain\": \"fwd \\\"chain\\\"\", \"handle\":"
	" 2, \"comment\": \"ipipd:a-b\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"k"
	"ey\": \"iifname\"}}, \"right\": \"a-b\"}}, {\"accept\": null}]}}, {\"table\": {\"family\": \"i"
	"net\", \"name\": \"ipipd\", \"handle\": 2}}, {\"chain\": {\"family\": \"inet\", \"table\": \"ipi"
	"pd\", \"name\": \"fwdx_612d62\", \"handle\": 1, \"type\": \"filter\", \"hook\": \"forward\", \"p"
	"rio\": -1, \"policy\": \"accept\"}}, {\"chain\": {\"family\": \"inet\", \"table\": \"ipipd\", \""
	"name\": \"fwd_x612d62\", \"handle\": 5}}, {\"rule\": {\"family\": \"inet\", \"table\": \"ipipd"
	"\", \"chain\": \"fwdx_612d62\", \"handle\": 3, \"comment\": \"ipipd:a-b\", \"expr\": [{\"match"
	"\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"oifname\"}}, \"right\": \"a-b\"}}, {\"match\""
	": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": \"ip\", \"field\": \"saddr\"}}, \"right"
	"\": {\"set\": [\"192.0.2.7\", {\"prefix\": {\"addr\": \"198.51.100.0\", \"len\": 24}}]}}}, {\""
	"accept\": null}]}}, {\"rule\": {\"family\": \"inet\", \"table\": \"ipipd\", \"chain\": \"fwdx_"
	"612d62\", \"handle\": 4, \"comment\": \"ipipd:a-b\", \"expr\": [{\"match\": {\"op\": \"==\", \"l"
	"eft\": {\"meta\": {\"key\": \"oifname\"}}, \"right\": \"a-b\"}}, {\"match\": {\"op\": \"in\", \"le"
	"ft\": {\"ct\": {\"key\": \"state\"}}, \"right\": [\"established\", \"related\"]}}, {\"accept\":"
	" null}]}}]}";

/*
 * `nft -j list ruleset` (nftables 1.0.6) of a host where tunnel Moe's rules
 * are partly there: both in inet filter forward, oifname only in ip filter
 * FORWARD (beside another tunnel's), none in the forward chain ip late lfwd
 * (made after Moe started), two of the three in its own chain.
 */
static const char PARTIAL[] =
	"{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\", \"release_name\": \"Lester Gooch #5\", "
	"\"json_schema_version\": 1}}, {\"table\": {\"family\": \"inet\", \"name\": \"filter\", \"handle\": "
	"1}}, {\"chain\": {\"family\": \"inet\", \"table\": \"filter\", \"name\": \"forward\", \"handle\": 1, "
	"\"type\": \"filter\", \"hook\": \"forward\", \"prio\": 0, \"policy\": \"drop\"}}, {\"chain\": {\"fa"
	"mily\": \"inet\", \"table\": \"filter\", \"name\": \"input\", \"handle\": 2, \"type\": \"filter\", "
	"\"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}}, {\"rule\": {\"family\": \"inet\", \"table\""
	": \"filter\", \"chain\": \"forward\", \"handle\": 3, \"comment\": \"ipipd:Moe\", \"expr\": [{\"mat"
	"ch\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}, \"right\": \"Moe\"}}, {\"acce"
	"pt\": null}]}}, {\"rule\": {\"family\": \"inet\", \"table\": \"filter\", \"chain\": \"forward\", \"h"
	"andle\": 4, \"comment\": \"ipipd:Moe\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": "
	"{\"key\": \"oifname\"}}, \"right\": \"Moe\"}}, {\"accept\": null}]}}, {\"rule\": {\"family\": \"ine"
	"t\", \"table\": \"filter\", \"chain\": \"forward\", \"handle\": 5, \"expr\": [{\"match\": {\"op\": \"i"
	"n\", \"left\": {\"ct\": {\"key\": \"state\"}}, \"right\": \"established\"}}, {\"accept\": null}]}}, "
	"{\"table\": {\"family\": \"ip\", \"name\": \"filter\", \"handle\": 2}}, {\"chain\": {\"family\": \"i"
	"p\", \"table\": \"filter\", \"name\": \"FORWARD\", \"handle\": 1, \"type\": \"filter\", \"hook\": \"f"
	"orward\", \"prio\": 0, \"policy\": \"drop\"}}, {\"rule\": {\"family\": \"ip\", \"table\": \"filter\", "
	"\"chain\": \"FORWARD\", \"handle\": 2, \"comment\": \"ipipd:Moe\", \"expr\": [{\"match\": {\"op\": \""
	"==\", \"left\": {\"meta\": {\"key\": \"oifname\"}}, \"right\": \"Moe\"}}, {\"accept\": null}]}}, {\"r"
	"ule\": {\"family\": \"ip\", \"table\": \"filter\", \"chain\": \"FORWARD\", \"handle\": 3, \"comment\""
	": \"ipipd:Moe2\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}"
	", \"right\": \"Moe2\"}}, {\"accept\": null}]}}, {\"table\": {\"family\": \"ip\", \"name\": \"late\", "
	"\"handle\": 3}}, {\"chain\": {\"family\": \"ip\", \"table\": \"late\", \"name\": \"lfwd\", \"handle\""
	": 1, \"type\": \"filter\", \"hook\": \"forward\", \"prio\": 10, \"policy\": \"drop\"}}, {\"table\": {"
	"\"family\": \"inet\", \"name\": \"ipipd\", \"handle\": 4}}, {\"chain\": {\"family\": \"inet\", \"tabl"
	"e\": \"ipipd\", \"name\": \"fwd_Moe\", \"handle\": 1, \"type\": \"filter\", \"hook\": \"forward\", \"p"
	"rio\": -1, \"policy\": \"accept\"}}, {\"rule\": {\"family\": \"inet\", \"table\": \"ipipd\", \"chain\""
	": \"fwd_Moe\", \"handle\": 2, \"comment\": \"ipipd:Moe\", \"expr\": [{\"match\": {\"op\": \"==\", \"le"
	"ft\": {\"meta\": {\"key\": \"oifname\"}}, \"right\": \"Moe\"}}, {\"match\": {\"op\": \"in\", \"left\""
	": {\"ct\": {\"key\": \"state\"}}, \"right\": [\"established\", \"related\"]}}, {\"accept\": null}]}}, "
	"{\"rule\": {\"family\": \"inet\", \"table\": \"ipipd\", \"chain\": \"fwd_Moe\", \"handle\": 3, \"comm"
	"ent\": \"ipipd:Moe\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"oifnam"
	"e\"}}, \"right\": \"Moe\"}}, {\"drop\": null}]}}]}";

static void chain(const char *ifname, char *buf)
{
	fw_own_chain(ifname, buf, FW_OWN_CHAIN_MAX);
}

static void test_own_chain_names(void **state)
{
	char a[FW_OWN_CHAIN_MAX], b[FW_OWN_CHAIN_MAX];

	chain("Moe", a);
	assert_string_equal(a, "fwd_Moe");
	chain("tun_0", a);
	assert_string_equal(a, "fwd_tun_0");
	chain("a-b", a);
	assert_string_equal(a, "fwdx_612d62");
	chain("x612d62", b);
	assert_string_equal(b, "fwd_x612d62");
	assert_string_not_equal(a, b);	/* the same chain for both, before */
	chain("eth0.10", a);
	assert_string_equal(a, "fwdx_657468302e3130");
	/* the longest name fits whole */
	chain("a-b-c-d-e-f-g-h", a);
	assert_string_equal(a, "fwdx_612d622d632d642d652d662d672d68");
}

/* No two names give one chain: every plain name against every encoded one and each other. */
static void test_own_chain_one_to_one(void **state)
{
	static const char *const names[] = {
		"x", "x0", "x00", "x30", "x78", "0", "00", "_", "-", "x2d", "x5f", "fwd_x",
		"a-b", "x612d62", "a.b", "x612e62", "a_b", "ab", "A-B", "x412d42", "a b",
	};
	char c[sizeof(names) / sizeof(names[0])][FW_OWN_CHAIN_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		chain(names[i], c[i]);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c[i], c[j]))
				fail_msg("'%s' and '%s' share chain %s", names[i], names[j], c[i]);
	}
}

static const struct fw_chain *find(const struct fw_ruleset *rs, const char *table,
				   const char *name)
{
	for (unsigned i = 0; i < rs->nchains; i++)
		if (!strcmp(rs->chains[i].table, table) && !strcmp(rs->chains[i].chain, name))
			return &rs->chains[i];
	return NULL;
}

static void test_parse_unusual_names(void **state)
{
	static struct fw_ruleset rs;
	const struct fw_chain *c;

	assert_int_equal(fw_parse_ruleset(RULESET, "a-b", &rs), 0);
	c = find(&rs, "1 odd", "fwd \"chain\"");
	assert_non_null(c);
	assert_string_equal(c->family, "ip");
	assert_true(c->forward);
	c = find(&rs, "ipipd", "fwd_x612d62");
	assert_non_null(c);
	assert_false(c->forward);	/* a regular chain */
	assert_int_equal(rs.nrules, 3);
	assert_string_equal(rs.chains[rs.rules[0].chain].chain, "fwd \"chain\"");
	assert_int_equal(rs.rules[0].handle, 2);
	assert_int_equal(rs.rules[1].handle, 3);
	assert_int_equal(rs.rules[2].handle, 4);
	assert_true(rs.own_chain);
	assert_true(rs.own_table_other_chains);
}

static void test_parse_other_tunnel(void **state)
{
	static struct fw_ruleset rs;

	/* x612d62: none of the rules are its own, and fwd_x612d62 is its chain */
	assert_int_equal(fw_parse_ruleset(RULESET, "x612d62", &rs), 0);
	assert_int_equal(rs.nrules, 0);
	assert_true(rs.own_chain);
	assert_true(rs.own_table_other_chains);
	assert_int_equal(fw_parse_ruleset(RULESET, "a", &rs), 0);
	assert_int_equal(rs.nrules, 0);
	assert_false(rs.own_chain);
}

static void test_parse_escapes(void **state)
{
	static struct fw_ruleset rs;
	static const char json[] =
		"{\"nftables\": [{\"metainfo\": {\"json_schema_version\": 1}},"
		" {\"chain\": {\"family\": \"inet\", \"table\": \"t\\u00e9\\\\x\", \"name\":"
		" \"\\u0041\\/b\", \"handle\": 7, \"type\": \"filter\", \"hook\": \"forward\","
		" \"prio\": -150, \"policy\": \"accept\", \"dev\": [\"a\", \"b\"], \"x\": true}},"
		" {\"rule\": {\"family\": \"inet\", \"table\": \"t\\u00e9\\\\x\", \"chain\":"
		" \"A/b\", \"handle\": 9, \"comment\": \"ipipd:Moe\", \"expr\": [{\"a\": [1, 2.5e3,"
		" null, false, {\"b\": {}}]}]}}]}";

	assert_int_equal(fw_parse_ruleset(json, "Moe", &rs), 0);
	assert_int_equal(rs.nchains, 1);
	assert_string_equal(rs.chains[0].table, "t\xc3\xa9\\x");
	assert_string_equal(rs.chains[0].chain, "A/b");
	assert_true(rs.chains[0].forward);
	assert_int_equal(rs.nrules, 1);
	assert_int_equal(rs.rules[0].handle, 9);
}

static void test_parse_refuses_broken_json(void **state)
{
	static struct fw_ruleset rs;
	static const char *const bad[] = {
		"",
		"table ip filter {",
		"{\"nftables\": [",
		"{\"nftables\": [{\"chain\": {\"name\": \"x}}]}",
		"{\"nftables\": [{\"chain\": {\"name\": \"\\q\"}}]}",
		"{\"nftables\": [{\"chain\": {\"name\": \"\\ud800\"}}]}",
		"{\"nftables\": [{\"chain\": {\"name\" \"x\"}}]}",
		"{\"nftables\": [{\"chain\" {}}]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fw_parse_ruleset(bad[i], "Moe", &rs) == 0)
			fail_msg("accepted: %s", bad[i]);
}

static void test_plan_text_quotes(void **state)
{
	static struct fw_plan p;
	static char buf[4096];
	struct prefix from = { inet_addr("198.51.100.0"), 24 };

	memset(&p, 0, sizeof(p));
	strcpy(p.ifname, "a-b");
	strcpy(p.chains[0].family, "ip");
	strcpy(p.chains[0].table, "filter");
	strcpy(p.chains[0].chain, "FORWARD");
	strcpy(p.chains[1].family, "inet");
	strcpy(p.chains[1].table, "1 odd");
	strcpy(p.chains[1].chain, "fwd-chain");
	p.n_chains = 2;
	p.from = &from;
	p.n_from = 1;
	fw_own_chain("a-b", p.own, sizeof(p.own));
	assert_int_equal(fw_plan_text(&p, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "insert rule ip filter FORWARD oifname \"a-b\" accept comment "
				    "\"ipipd:a-b\"\ninsert rule ip filter FORWARD iifname \"a-b\""));
	assert_non_null(strstr(buf, "insert rule inet \"1 odd\" fwd-chain oifname \"a-b\""));
	assert_non_null(strstr(buf, "add chain inet ipipd fwdx_612d62 {"));
	assert_non_null(strstr(buf, "ip saddr { 198.51.100.0/24 } accept"));
	assert_int_equal(fw_plan_text(&p, buf, 40), -1);
}

static void test_parse_directions(void **state)
{
	static struct fw_ruleset rs;

	assert_int_equal(fw_parse_ruleset(RULESET, "a-b", &rs), 0);
	assert_int_equal(rs.rules[0].dir, FW_IIF);
	assert_int_equal(rs.rules[1].dir, FW_OIF);	/* beside a payload match */
	assert_int_equal(rs.rules[2].dir, FW_OIF);
	assert_int_equal(fw_parse_ruleset(PARTIAL, "Moe", &rs), 0);
	assert_int_equal(rs.nrules, 5);
	assert_int_equal(rs.rules[0].dir, FW_IIF);
	assert_int_equal(rs.rules[1].dir, FW_OIF);
	assert_int_equal(rs.rules[2].dir, FW_OIF);
}

static const struct fw_chain *plan_chain(const struct fw_plan *p, const char *table,
					 const char *name, unsigned char *have)
{
	for (unsigned i = 0; i < p->n_chains; i++)
		if (!strcmp(p->chains[i].table, table) && !strcmp(p->chains[i].chain, name)) {
			*have = p->have[i];
			return &p->chains[i];
		}
	return NULL;
}

/* What is there is not planned again: the rules missing, chain by chain. */
static void test_plan_only_missing(void **state)
{
	static struct fw_ruleset rs;
	static struct fw_plan p;
	static struct config c;
	unsigned char have;

	memset(&c, 0, sizeof(c));
	strcpy(c.name, "Moe");
	c.fw_forward = true;
	assert_int_equal(fw_parse_ruleset(PARTIAL, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 3);	/* not inet filter input, nor ipipd's own */
	assert_non_null(plan_chain(&p, "filter", "forward", &have));
	assert_int_equal(have, FW_BOTH);
	assert_non_null(plan_chain(&p, "filter", "FORWARD", &have));
	assert_int_equal(have, FW_OIF);	/* Moe2's iifname rule is not Moe's */
	assert_non_null(plan_chain(&p, "late", "lfwd", &have));
	assert_int_equal(have, 0);
	assert_int_equal(fw_plan_missing(&p), 3);
	/* ForwardFrom: the own chain lacks one of its three rules */
	c.n_forward_from = 1;
	c.forward_from[0].addr = inet_addr("198.51.100.0");
	c.forward_from[0].len = 24;
	fw_plan_ruleset(&rs, &c, &p);
	assert_true(p.own_there);
	assert_false(p.own_whole);
	assert_int_equal(fw_plan_missing(&p), 6);
	/* another tunnel's plan is untouched by Moe's rules */
	strcpy(c.name, "Moe2");
	c.n_forward_from = 0;
	assert_int_equal(fw_parse_ruleset(PARTIAL, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_non_null(plan_chain(&p, "filter", "FORWARD", &have));
	assert_int_equal(have, FW_IIF);
	assert_int_equal(fw_plan_missing(&p), 5);
}

/* Planning against a ruleset that holds the plan's rules finds nothing to add. */
static void test_plan_complete(void **state)
{
#define R(CHAIN, H, EXPR) "{\"rule\": {\"family\": \"inet\", \"table\": " CHAIN ", \"handle\": " \
	#H ", \"comment\": \"ipipd:Moe\", \"expr\": [" EXPR ", {\"accept\": null}]}}"
#define META(K) "{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"" K "\"}}, " \
	"\"right\": \"Moe\"}}"
	static const char all[] =
		"{\"nftables\": [{\"chain\": {\"family\": \"inet\", \"table\": \"filter\", \"name\": \"fw\", "
		"\"type\": \"filter\", \"hook\": \"forward\"}}, "
		R("\"filter\", \"chain\": \"fw\"", 1, META("iifname")) ", "
		R("\"filter\", \"chain\": \"fw\"", 2, META("oifname")) ", "
		"{\"chain\": {\"family\": \"inet\", \"table\": \"ipipd\", \"name\": \"fwd_Moe\", "
		"\"type\": \"filter\", \"hook\": \"forward\"}}, "
		R("\"ipipd\", \"chain\": \"fwd_Moe\"", 3, META("oifname")) ", "
		R("\"ipipd\", \"chain\": \"fwd_Moe\"", 4, META("oifname")) ", "
		R("\"ipipd\", \"chain\": \"fwd_Moe\"", 5, META("oifname")) "]}";
#undef R
#undef META
	static struct fw_ruleset rs;
	static struct fw_plan p;
	static struct config c;

	memset(&c, 0, sizeof(c));
	strcpy(c.name, "Moe");
	c.fw_forward = true;
	c.n_forward_from = 1;
	assert_int_equal(fw_parse_ruleset(all, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 1);
	assert_int_equal(p.have[0], FW_BOTH);
	assert_true(p.own_whole);
	assert_int_equal(fw_plan_missing(&p), 0);
	/* without a forward chain there is nothing to open */
	c.n_forward_from = 0;
	assert_int_equal(fw_parse_ruleset("{\"nftables\": []}", c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 0);
	assert_int_equal(fw_plan_missing(&p), 0);
}

/* RULESET seen by tunnel a-b: one rule missing in 1 odd's chain, one in its own. */
static void test_plan_partial_own_chain(void **state)
{
	static struct fw_ruleset rs;
	static struct fw_plan p;
	static struct config c;

	memset(&c, 0, sizeof(c));
	strcpy(c.name, "a-b");
	c.fw_forward = true;
	assert_int_equal(fw_parse_ruleset(RULESET, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 1);	/* 1 odd's: fwdx_612d62 is ipipd's own */
	assert_int_equal(fw_plan_missing(&p), 1);	/* its oifname rule */
	c.n_forward_from = 1;
	fw_plan_ruleset(&rs, &c, &p);
	assert_true(p.own_there);
	assert_false(p.own_whole);	/* two of three: made again whole */
	assert_int_equal(fw_plan_missing(&p), 1 + 3);
}

/* Input = accept: a rule in every input chain, none in the forward chains unless Forward. */
static void test_plan_input(void **state)
{
	static const char with_rule[] =
		"{\"nftables\": [{\"chain\": {\"family\": \"ip\", \"table\": \"filter\", \"name\": "
		"\"INPUT\", \"type\": \"filter\", \"hook\": \"input\", \"prio\": 0, \"policy\": \"drop\"}}, "
		"{\"rule\": {\"family\": \"ip\", \"table\": \"filter\", \"chain\": \"INPUT\", \"handle\": 6, "
		"\"comment\": \"ipipd:Moe\", \"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"payload\": "
		"{\"protocol\": \"ip\", \"field\": \"saddr\"}}, \"right\": \"192.0.2.42\"}}, {\"match\": {\"op\": "
		"\"==\", \"left\": {\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}, \"right\": "
		"\"198.51.100.2\"}}, {\"match\": {\"op\": \"==\", \"left\": {\"payload\": {\"protocol\": "
		"\"ip\", \"field\": \"protocol\"}}, \"right\": \"ipencap\"}}, {\"accept\": null}]}}]}";
	static struct fw_ruleset rs;
	static struct fw_plan p;
	static struct config c;
	static char buf[4096];
	unsigned char have;

	memset(&c, 0, sizeof(c));
	strcpy(c.name, "Moe");
	c.fw_input = true;
	c.ip.local = inet_addr("198.51.100.2");
	c.ip.remote = inet_addr("192.0.2.42");
	assert_int_equal(fw_parse_ruleset(PARTIAL, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 1);	/* inet filter input alone */
	assert_non_null(plan_chain(&p, "filter", "input", &have));
	assert_true(p.chains[0].input);
	assert_int_equal(have, 0);
	assert_int_equal(fw_plan_missing(&p), 1);
	assert_int_equal(fw_plan_text(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "insert rule inet filter input ip saddr 192.0.2.42 ip daddr "
			    "198.51.100.2 ip protocol 4 accept comment \"ipipd:Moe\"\n");
	c.fw_forward = true;
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 4);
	assert_int_equal(fw_plan_missing(&p), 1 + 3);
	/* the rule as nft lists it (ipencap for 4) is the rule */
	assert_int_equal(fw_parse_ruleset(with_rule, c.name, &rs), 0);
	fw_plan_ruleset(&rs, &c, &p);
	assert_int_equal(p.n_chains, 1);
	assert_int_equal(p.have[0], FW_IN);
	assert_int_equal(fw_plan_missing(&p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_chain_names),
		cmocka_unit_test(test_own_chain_one_to_one),
		cmocka_unit_test(test_parse_unusual_names),
		cmocka_unit_test(test_parse_other_tunnel),
		cmocka_unit_test(test_parse_escapes),
		cmocka_unit_test(test_parse_refuses_broken_json),
		cmocka_unit_test(test_plan_text_quotes),
		cmocka_unit_test(test_parse_directions),
		cmocka_unit_test(test_plan_only_missing),
		cmocka_unit_test(test_plan_complete),
		cmocka_unit_test(test_plan_partial_own_chain),
		cmocka_unit_test(test_plan_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

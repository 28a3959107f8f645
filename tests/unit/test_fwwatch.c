/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nftables' notifications as the parent reads them (src/fwwatch.c): only a
 * new generation (NFT_MSG_NEWGEN) is a change, its own process's is not,
 * and every attribute it uses is checked (netlink input is untrusted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "fwwatch.h"

#define SELF 4242u

static char buf[8192];
static size_t used;

/* Append a message of nf_tables type msg; its attributes follow. */
static struct nlmsghdr *msg(unsigned type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + used);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(7);
	return nlh;
}

static void done(struct nlmsghdr *nlh)
{
	used += nlh->nlmsg_len;
}

static struct nlmsghdr *newgen(uint32_t gen, uint32_t pid, const char *comm)
{
	struct nlmsghdr *nlh = msg(NFT_MSG_NEWGEN);

	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(gen));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
	if (comm)
		mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, comm);
	return nlh;
}

static int parse(struct fww_news *n)
{
	memset(n, 0, sizeof(*n));
	n->self = SELF;
	return fwwatch_parse(buf, used, n);
}

static int setup(void **state)
{
	memset(buf, 0, sizeof(buf));
	used = 0;
	return 0;
}

static void test_other_process(void **state)
{
	struct fww_news n;

	done(msg(NFT_MSG_DELTABLE));	/* what the transaction did: not news by itself */
	done(msg(NFT_MSG_NEWCHAIN));
	done(newgen(12, 777, "nft"));
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes, 1);
	assert_int_equal(n.own, 0);
	assert_int_equal(n.gen, 12);
	assert_int_equal(n.pid, 777);
	assert_string_equal(n.comm, "nft");
}

static void test_own_transaction(void **state)
{
	struct fww_news n;

	done(msg(NFT_MSG_NEWRULE));
	done(newgen(13, SELF, "ipipd"));
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes, 0);
	assert_int_equal(n.own, 1);
	/* ours, then another's, in one read */
	done(newgen(14, 1, "firewalld"));
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes, 1);
	assert_int_equal(n.own, 1);
	assert_int_equal(n.gen, 14);
	assert_string_equal(n.comm, "firewalld");
}

static void test_only_nftables_and_newgen(void **state)
{
	struct fww_news n;
	struct nlmsghdr *nlh = newgen(15, 777, "x");

	nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_CTNETLINK << 8 | NFT_MSG_NEWGEN);
	done(nlh);
	done(msg(NFT_MSG_NEWSETELEM));
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes + n.own, 0);
}

/* Without a pid (or a name), a generation is another's. */
static void test_missing_attributes(void **state)
{
	struct fww_news n;
	struct nlmsghdr *nlh = msg(NFT_MSG_NEWGEN);

	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(16));
	mnl_attr_put_u32(nlh, NFTA_GEN_MAX + 5, 0);	/* a newer kernel's: skipped */
	done(nlh);
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes, 1);
	assert_int_equal(n.gen, 16);
	assert_int_equal(n.pid, 0);
	assert_string_equal(n.comm, "");
}

static void test_name_for_the_log(void **state)
{
	struct fww_news n;

	done(newgen(17, 778, "a\tb\x7f" "cdefghijklmnopqrstuvwxyz"));
	assert_int_equal(parse(&n), 0);
	assert_string_equal(n.comm, "a?b?cdefghijklm");	/* printable, at most 15 bytes */
}

static void test_malformed(void **state)
{
	struct fww_news n;
	struct nlmsghdr *nlh;

	/* no room for the nfgenmsg header */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN);
	nlh->nlmsg_len += 2;
	used = nlh->nlmsg_len;
	assert_int_equal(parse(&n), -1);
	/* a generation id of 2 bytes */
	setup(NULL);
	nlh = msg(NFT_MSG_NEWGEN);
	mnl_attr_put_u16(nlh, NFTA_GEN_ID, 1);
	done(nlh);
	assert_int_equal(parse(&n), -1);
	/* a pid of 8 bytes */
	setup(NULL);
	nlh = msg(NFT_MSG_NEWGEN);
	mnl_attr_put_u64(nlh, NFTA_GEN_PROC_PID, 1);
	done(nlh);
	assert_int_equal(parse(&n), -1);
	/* a name without its NUL */
	setup(NULL);
	nlh = msg(NFT_MSG_NEWGEN);
	mnl_attr_put_str(nlh, NFTA_GEN_PROC_NAME, "nftx");
	done(nlh);
	assert_int_equal(parse(&n), -1);
	/* an empty name attribute */
	setup(NULL);
	nlh = msg(NFT_MSG_NEWGEN);
	mnl_attr_put(nlh, NFTA_GEN_PROC_NAME, 0, "");
	done(nlh);
	assert_int_equal(parse(&n), -1);
}

/* Messages that claim more than was read are refused before libmnl sees them. */
static void test_truncated(void **state)
{
	struct fww_news n;
	struct nlmsghdr *nlh = newgen(18, 779, "nft");

	done(nlh);
	used -= 4;
	assert_int_equal(parse(&n), -1);
	/* a length of 2^31 or more, which libmnl takes for a short one */
	setup(NULL);
	done(newgen(18, 779, "nft"));
	nlh = newgen(19, 780, "nft");
	nlh->nlmsg_len = 0xff000012;
	used += 20;
	assert_int_equal(parse(&n), -1);
	/* a length that is not a multiple of 4, its padding not read */
	setup(NULL);
	done(newgen(18, 779, "nft"));
	((struct nlmsghdr *)buf)->nlmsg_len -= 3;
	used -= 2;
	assert_int_equal(parse(&n), -1);
	/* bytes after the last message, too few for a header */
	setup(NULL);
	done(newgen(18, 779, "nft"));
	used += 8;
	assert_int_equal(parse(&n), -1);
	/* an attribute longer than its message: the attributes end there */
	setup(NULL);
	nlh = msg(NFT_MSG_NEWGEN);
	mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(19));
	mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(SELF));
	((struct nlattr *)((char *)nlh + nlh->nlmsg_len - 8))->nla_len = 200;
	done(nlh);
	assert_int_equal(parse(&n), 0);
	assert_int_equal(n.changes, 1);	/* its pid unread: another's, to be safe */
	assert_int_equal(n.gen, 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_other_process, setup),
		cmocka_unit_test_setup(test_own_transaction, setup),
		cmocka_unit_test_setup(test_only_nftables_and_newgen, setup),
		cmocka_unit_test_setup(test_missing_attributes, setup),
		cmocka_unit_test_setup(test_name_for_the_log, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_truncated, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

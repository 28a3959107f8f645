/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz the configuration parser: any text either fails with messages or
 * gives a configuration that ipipd can use as it is, which the checks of
 * ipipd -n (lint.c) then take without a host and on a made-up one.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "lint.h"


static bool unicast(uint32_t a)
{
	uint32_t h = ntohl(a);

	return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
}

/* A host with an address in each of a few places the checks look (network order). */
static void check_lint(const struct config *c, FILE *out)
{
	static struct host_facts h;
	static const uint32_t addrs[] = { 0x0100007f, 0x0100000a, 0x2a0200c0, 0x020064c6 };
	unsigned warnings;
	int errors;

	errors = lint_config(c, NULL, LINT_CHECK, out, &warnings);
	CHECK(errors >= 0 && warnings <= 64);
	if (!h.known) {
		h.known = true;
		for (unsigned i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
			h.addrs[h.n_addrs++] = (struct nl_addr_info){ .addr = addrs[i], .prefixlen = 8,
								      .ifindex = (int)i + 1,
								      .scope = i ? 0 : 254 };
		for (int i = 1; i <= 4; i++) {
			h.links[h.n_links].ifindex = i;
			snprintf(h.links[h.n_links++].name, 16, "%s", i == 1 ? "lo" : i == 2 ? "eth0" :
				 i == 3 ? "tunl0" : "Moe");
		}
		h.route_mtu = 1500;
		h.route_oif = 2;
		h.ip_forward = 0;
	}
	CHECK(lint_config(c, &h, LINT_START, out, &warnings) == 0);
	CHECK(lint_config(c, &h, LINT_CHECK, out, &warnings) >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	static struct config cfg;	/* 4 KiB of path: not on the stack */
	char *text;

	if (memchr(data, '\0', size))
		return 0;	/* a file is read line by line: NUL is not text */
	if (!devnull) {
		devnull = fopen("/dev/null", "w");
		CHECK(devnull);
	}
	text = malloc(size + 1);
	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';

	if (config_parse_string(text, "fuzz.conf", &cfg, devnull) == 0) {
		CHECK(config_valid_ifname(cfg.name));
		CHECK(strcmp(cfg.path, "fuzz.conf") == 0);
		/* Local = auto and Remote as a name stand for addresses found later */
		CHECK(cfg.local_auto ? cfg.ip.local == 0 : unicast(cfg.ip.local));
		CHECK(cfg.remote_name[0] ? cfg.ip.remote == 0 && endpoint_valid_name(cfg.remote_name) :
			cfg.ip.remote_any ? cfg.ip.remote == 0 && cfg.ip.n_allowed_remotes > 0 :
			unicast(cfg.ip.remote));
		/* Remote = any: every Gateway is one of AllowedRemotes'; without it, none */
		for (unsigned i = 0; i < cfg.n_routes; i++)
			CHECK(cfg.ip.remote_any ? !cfg.routes[i].gw || ipip_remote_ok(&cfg.ip, cfg.routes[i].gw) :
			      !cfg.routes[i].gw);
		CHECK(cfg.resolve_interval >= 1 && cfg.resolve_interval <= CONFIG_RESOLVE_MAX);
		CHECK(!cfg.ip.local || cfg.ip.local != cfg.ip.remote);
		CHECK(!cfg.ip.remote || cfg.ip.remote != cfg.addr.s_addr);
		CHECK(cfg.n_routes <= CONFIG_MAX_ROUTES);
		for (unsigned i = 0; i < cfg.n_routes; i++)
			CHECK(cfg.routes[i].has_dst && cfg.routes[i].dst.len <= 32 &&
			      cfg.routes[i].table && cfg.routes[i].table != 253 &&
			      cfg.routes[i].table != 255);
		CHECK(!cfg.has_peer || (cfg.peer.s_addr != cfg.ip.remote &&
					cfg.peer.s_addr != cfg.addr.s_addr));
		CHECK(unicast(cfg.addr.s_addr));
		CHECK(!cfg.has_peer || unicast(cfg.peer.s_addr));
		CHECK(cfg.prefixlen <= 32);
		CHECK(cfg.mtu == 0 || (cfg.mtu >= CONFIG_MTU_MIN && cfg.mtu <= CONFIG_MTU_MAX));
		CHECK(!(cfg.ip.ttl && !cfg.ip.pmtudisc));
		CHECK((cfg.ip.tos & 3) == 0);
		CHECK(cfg.ip.ecn == ECN_MODE_NORMAL || cfg.ip.ecn == ECN_MODE_COMPAT ||
		      cfg.ip.ecn == ECN_MODE_KERNEL);
		check_lint(&cfg, devnull);
	}
	free(text);
	return 0;
}

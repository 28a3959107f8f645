/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz the configuration parser: any text either fails with messages or
 * gives a configuration that ipipd can use as it is.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"


static bool unicast(uint32_t a)
{
	uint32_t h = ntohl(a);

	return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
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
		CHECK(unicast(cfg.ip.local) && unicast(cfg.ip.remote));
		CHECK(cfg.ip.local != cfg.ip.remote);
		CHECK(cfg.ip.remote != cfg.addr.s_addr);
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
	}
	free(text);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz fwwatch_parse, the parent's reading of nf_tables' notifications
 * (src/fwwatch.h): what one recv() on its NFNLGRP_NFTABLES socket gives, to
 * be trusted no further than libmnl's checks and its own.
 *
 * Input: the datagram, copied into a buffer of exactly its size so that ASan
 * sees any read beyond it.  The parent's own pid is 4242.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fwwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fww_news n = { .self = 4242 };
	uint8_t *buf = malloc(size ? size : 1);
	size_t len;

	CHECK(buf);
	memcpy(buf, data, size);
	if (fwwatch_parse(buf, size, &n) == 0) {
		/* at most one generation per message, of 20 bytes at least */
		CHECK((size_t)(n.changes + n.own) * 20 <= size);
		CHECK(n.changes || (!n.gen && !n.pid && !n.comm[0]));
		CHECK(n.pid != n.self);	/* its own generations are not changes */
	}
	/* the name is for the log: a string of printable bytes, whatever came */
	len = strnlen(n.comm, sizeof(n.comm));
	CHECK(len < sizeof(n.comm));
	for (size_t i = 0; i < len; i++)
		CHECK(n.comm[i] >= 0x20 && n.comm[i] < 0x7f);
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz the control request parser: only the three exact requests and "peers=N" are accepted. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz.h"


static bool is(const uint8_t *data, size_t size, const char *req)
{
	return size == strlen(req) && memcmp(data, req, size) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned arg = 1;
	enum ctl_request r = ctl_parse_request((const char *)data, size, &arg);

	CHECK(r == CTL_BAD || r == CTL_GET || r == CTL_DOWN || r == CTL_RELOAD || r == CTL_PEERS);
	/* peers=N: 1-7 digits, N at most CTL_PEERS_MAX, and nothing else */
	if (r == CTL_PEERS) {
		unsigned long v = 0;

		CHECK(arg <= CTL_PEERS_MAX);
		CHECK(size >= 9 && size <= 15 && !memcmp(data, "peers=", 6) &&
		      data[size - 1] == '\n' && data[size - 2] == '\n');
		for (size_t i = 6; i < size - 2; i++) {
			CHECK(data[i] >= '0' && data[i] <= '9');
			v = v * 10 + (unsigned long)(data[i] - '0');
		}
		CHECK(v == arg);
	} else {
		CHECK(arg == 0);
	}
	CHECK((r == CTL_GET) == is(data, size, "get=1\n\n"));
	CHECK((r == CTL_DOWN) == is(data, size, "down=1\n\n"));
	CHECK((r == CTL_RELOAD) == is(data, size, "reload=1\n\n"));
	return 0;
}

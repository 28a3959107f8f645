/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzz the control request parser: only the three exact requests are accepted. */
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
	enum ctl_request r = ctl_parse_request((const char *)data, size);

	CHECK(r == CTL_BAD || r == CTL_GET || r == CTL_DOWN || r == CTL_RELOAD);
	CHECK((r == CTL_GET) == is(data, size, "get=1\n\n"));
	CHECK((r == CTL_DOWN) == is(data, size, "down=1\n\n"));
	CHECK((r == CTL_RELOAD) == is(data, size, "reload=1\n\n"));
	return 0;
}

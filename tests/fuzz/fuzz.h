/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libFuzzer entry point every harness defines.  Built either with
 * clang -fsanitize=fuzzer (make fuzz) or with replay.c as a plain corpus
 * replayer under the sanitizers (make check).
 */
#ifndef IPIPD_FUZZ_H
#define IPIPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a violation aborts, so the fuzzer saves the input. */
#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#endif

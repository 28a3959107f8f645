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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

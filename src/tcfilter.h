/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fast path's classic clsact filters (where tcx is missing or full), as
 * the undo of a tunnel's host setup finds them: by handle and priority.
 * libbpf alone, without the programs, so that `ipipctl cleanup` can remove
 * them too.
 */
#ifndef IPIPD_TCFILTER_H
#define IPIPD_TCFILTER_H

#include <stdbool.h>
#include <stdint.h>

/* Remove the clsact filter of this handle and priority (ingress or egress) on ifindex. */
int fp_tc_detach(int ifindex, bool ingress, uint32_t handle, uint32_t prio);

/* The clsact filter handle of a tunnel name (the same across restarts). */
uint32_t fp_name_handle(const char *name);

/* The clsact filter priority of every ipipd tunnel. */
#define FP_TC_PRIORITY 0x1ee

#endif

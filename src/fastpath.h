/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The eBPF fast path (Datapath = ebpf): TC programs on the tunnel's TUN device
 * (egress: encapsulate) and on the underlay (ingress: decapsulate), built into
 * ipipd as a libbpf skeleton.  The userspace datapath keeps running beside it
 * as the slow path for everything the programs leave alone.
 *
 * Attachment: tcx links (Linux 6.6+) held by this process only, so nothing is
 * left if it dies; on older kernels clsact filters with a handle fixed per
 * tunnel name, replaced on start and removed on stop (the qdisc stays: other
 * tools' filters live there too).
 */
#ifndef IPIPD_FASTPATH_H
#define IPIPD_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fastpath_abi.h"

struct ipip_bpf;

enum fp_hook { FP_EGRESS, FP_INGRESS, FP_HOOKS };

struct fastpath {
	struct ipip_bpf *skel;
	int link_fd[FP_HOOKS];		/* tcx links, -1 if none */
	bool filter[FP_HOOKS];		/* clsact filters attached */
	int ifindex[FP_HOOKS];		/* TUN device, underlay */
	uint32_t handle;		/* clsact filter handle (from the tunnel name) */
	const char *attach;		/* "tcx" or "clsact" */
	int state_fd, counters_fd;
	int ncpus;
	uint64_t *percpu;		/* ncpus values: one counter read */
};

/* Fill cfg from the tunnel's settings (addresses in network order). */
struct ipip_params;
void fp_config_init(struct fp_config *cfg, const struct ipip_params *p, uint32_t tun_addr,
		    int tun_ifindex, int underlay_ifindex, unsigned dev_mtu);

/*
 * Load the programs with cfg and attach them.  name (the tunnel's) fixes the
 * clsact handle.  On failure returns -errno, with the reason in why, and
 * leaves nothing attached.
 */
int fp_start(struct fastpath *fp, const struct fp_config *cfg, const char *name,
	     char *why, size_t why_len);

/* Detach and unload (idempotent; a zeroed struct is fine). */
void fp_stop(struct fastpath *fp);

/* The soft state the programs obey: inner path MTU; slow: send everything slow. */
int fp_set_state(struct fastpath *fp, unsigned pmtu, bool slow);

/* The per-CPU counters, summed. */
void fp_counters(const struct fastpath *fp, uint64_t out[FP_COUNTER_MAX]);

#endif

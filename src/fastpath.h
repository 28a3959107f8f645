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

#include <stdatomic.h>
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
	int ifindex[FP_HOOKS];		/* TUN device, underlay (main thread only) */
	_Atomic uint32_t underlay;	/* = ifindex[FP_INGRESS], for fp_set_state from any thread */
	uint32_t prog_id[FP_HOOKS];	/* for bpftool prog show id N */
	uint32_t handle;		/* clsact filter handle (from the tunnel name) */
	const char *attach;		/* "tcx" or "clsact" */
	int state_fd, counters_fd, own_fd;
	int ncpus;
	struct fp_counters *percpu;	/* ncpus values: one counter read */
};

/* Nothing loaded or attached (what fp_stop() leaves): before fp_start() or fp_stop(). */
void fp_init(struct fastpath *fp);

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
	     enum fp_attach_mode mode, char *why, size_t why_len);

/* Remove the clsact filter of this handle and priority (ingress or egress) on ifindex. */
int fp_tc_detach(int ifindex, bool ingress, uint32_t handle, uint32_t prio);

/* The clsact filter priority of every ipipd tunnel. */
#define FP_TC_PRIORITY 0x1ee

/* Detach and unload (idempotent; a zeroed struct is fine). */
void fp_stop(struct fastpath *fp);

/*
 * The route to Remote now leaves through ifindex: attach the ingress program
 * there, detach it from the old device, send outer packets there.  Returns 0
 * or -errno (the old attachment then stays).  The caller then sets the state.
 */
int fp_move_underlay(struct fastpath *fp, int ifindex);

/* The soft state the programs obey: inner path MTU; slow: send everything slow. */
int fp_set_state(struct fastpath *fp, unsigned pmtu, bool slow);

/* The host's own addresses (network order): inner packets from them go to the slow path. */
int fp_set_own(struct fastpath *fp, const uint32_t *addr, unsigned n);

/* The per-CPU counters, summed. */
void fp_counters(const struct fastpath *fp, uint64_t out[FP_COUNTER_MAX]);

#endif

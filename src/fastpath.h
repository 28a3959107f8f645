/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The eBPF fast path (Datapath = ebpf): TC programs on the tunnel's TUN device
 * (egress: encapsulate) and on the underlay (ingress: decapsulate), built into
 * ipipd as a libbpf skeleton.  The userspace datapath keeps running beside it
 * as the slow path for everything the programs leave alone.
 *
 * Attachment: on the egress, tcx links (Linux 6.6+) held by this process
 * only, so nothing is left if it dies.  On the ingress, the one program of
 * the underlay that every tunnel of the namespace shares (fpshare.h), which
 * finds the tunnel by its outer addresses and tail-calls its program; where
 * that cannot be had (the namespace's maps cannot be found, the underlay's
 * tcx hook is full), the tunnel's own program, attached as on the egress.  On kernels without tcx, or with FastPathAttach =
 * clsact, clsact filters with a handle fixed per tunnel name on both hooks,
 * replaced on start and removed on stop (the qdisc stays: other tools'
 * filters live there too).
 *
 * The programs: a point-to-point tunnel with the underlay's shared ingress
 * takes a slot of the copy every such tunnel of the namespace shares
 * (fastpath_abi.h, FPS_SHARED; one copy of the code for all of them), and
 * loads that copy if it is not there yet; a hub, or a tunnel without the
 * shared ingress, loads a copy of its own (one slot).
 *
 * While the programs run, the daemon talks to them through memory: the
 * tunnel's slot (settings, soft state, underlay, outer ID counter) and its
 * counters are mapped, so that the unprivileged datapath process reads and
 * writes them without bpf(2); it maps its own tunnel's pages and no others.
 * Only the host's own addresses (a hash map) and attachments need bpf(2) and
 * stay with the privileged process.
 */
#ifndef IPIPD_FASTPATH_H
#define IPIPD_FASTPATH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fastpath_abi.h"
#include "fpshare.h"
#include "tcfilter.h"

struct ipip_bpf;

enum fp_hook { FP_EGRESS, FP_INGRESS, FP_HOOKS };

/*
 * Remote = any.  A route into the hub's device: dst/len via gw (0: none),
 * the gateway's peer index (FP_NO_PEER: none).
 */
struct fp_hub_entry {
	uint32_t dst, gw, peer;
	unsigned len;
	uint32_t seq;		/* (fp_hub_routes' own) */
};

/*
 * Called before a clsact filter is attached (it would outlive a crash): the
 * caller records it so that a restart or `ipipctl cleanup` removes it.
 * Non-zero: do not attach.
 */
typedef int (*fp_record_fn)(void *arg, int ifindex, uint32_t handle, uint32_t prio);

struct fastpath {
	struct ipip_bpf *skel;		/* our own copy of the programs; NULL: the shared one */
	bool shared_prog;		/* ... the namespace's shared copy, slot `slot` */
	uint32_t slot;
	int prog_fd[FP_HOOKS];		/* the programs (held), -1 if none */
	int slots_fd, ctr_fd;		/* their slots and counters maps (held) */
	int egress_slots_fd;		/* the shared copy's: our device's slot (held) */
	size_t slot_off, ctr_off;	/* our slot's pages in them */
	int link_fd[FP_HOOKS];		/* tcx links, -1 if none */
	bool filter[FP_HOOKS];		/* clsact filters attached */
	int ifindex[FP_HOOKS];		/* TUN device, underlay */
	uint32_t prog_id[FP_HOOKS];	/* for bpftool prog show id N */
	uint32_t handle;		/* clsact filter handle (from the tunnel name) */
	const char *attach;		/* "tcx" or "clsact" */
	bool tcx_full;			/* auto took clsact: the underlay's tcx hook was full */
	int own_fd;
	int ncpus;
	struct fp_slot *sl;		/* our slot, mapped */
	size_t sl_len;
	const struct fp_counters *ctr;	/* our counters, mapped: ncpus entries */
	size_t ctr_len;
	fp_record_fn record;		/* before an ingress clsact filter is attached */
	void *record_arg;
	const struct fp_peer_ctr *peers;	/* Remote = any: the peers' counters, mapped */
	size_t peers_len;
	struct fp_hub_entry *hub_routes;	/* ... the routes in the map now, sorted */
	size_t n_hub_routes;
	bool shared;			/* ingress through the underlay's shared program */
	struct fps_member share;
	uint32_t also[FPS_ALSO_MAX];	/* a hub: the other underlays asked for last, sorted */
	unsigned n_also;
	bool also_stale;		/* ... to be asked for again (the key changed) */
	char own_why[160];		/* why not shared, if it is not */
};

/* Nothing loaded or attached (what fp_stop() leaves): before fp_start() or fp_stop(). */
void fp_init(struct fastpath *fp);

/* Fill cfg from the tunnel's settings (addresses in network order). */
struct ipip_params;
void fp_config_init(struct fp_config *cfg, const struct ipip_params *p, uint32_t tun_addr,
		    int tun_ifindex, int underlay_ifindex, unsigned dev_mtu);

/*
 * The link-layer header length the ingress program expects on an underlay
 * of ARPHRD type: 14 (Ethernet) or 0 (no link layer: a TUN device, another
 * tunnel, PPP, WireGuard); -1 where the fast path cannot work.
 */
int fp_underlay_l2(unsigned short type);

/*
 * Load the programs with cfg, fill the map of the host's own addresses
 * (own[0..n_own)), then attach them; rx_l2: fp_underlay_l2() of the
 * underlay.  name (the tunnel's) fixes the clsact handle.  On failure
 * returns -errno, with the reason in why, and leaves nothing attached.
 */
int fp_start(struct fastpath *fp, const struct fp_config *cfg, const char *name,
	     enum fp_attach_mode mode, const uint32_t *own, unsigned n_own, int rx_l2,
	     char *why, size_t why_len);


/* Detach and unload (idempotent; a zeroed struct is fine). */
void fp_stop(struct fastpath *fp);

/*
 * The route to Remote now leaves through ifindex (rx_l2 as for fp_start):
 * send outer packets there (at once), attach the ingress program there,
 * detach it from the old device.  Returns 0 or -errno (the old ingress
 * attachment then stays; the outer packets go to ifindex all the same,
 * unless rx_l2 < 0: -EPFNOSUPPORT, nothing changed).
 */
int fp_move_underlay(struct fastpath *fp, int ifindex, int rx_l2);

/*
 * Every second or so: the shared ingress (fpshare.h) is looked after (dead
 * daemons' entries removed; our copy attached where nobody's is).
 */
void fp_tick(struct fastpath *fp);

/*
 * The soft state the programs obey (stores into the mapped slot: any
 * process that has it mapped may call this; one writer at a time).
 */
void fp_set_state(struct fastpath *fp, unsigned pmtu, unsigned path_ttl, bool unreach);

/*
 * The TUN device is down (set so by someone else): the ingress program
 * leaves the tunnel's packets to the slow path, which counts them as drops
 * (a redirect into a device that is down drops them uncounted).
 */
void fp_set_device_down(struct fastpath *fp, bool down);

/* Where another process maps what the programs share with it (fp_map): a map's pages. */
struct fp_pages {
	int fd;
	size_t off, len;
};

/* What the datapath process maps (fp_map): the tunnel's slot and its counters. */
void fp_shared(const struct fastpath *fp, struct fp_pages *slot, struct fp_pages *ctr);

/*
 * In the datapath process: map the tunnel's slot and counters as fp_shared()
 * gave them (the descriptors closed by the caller after).  0 or -errno.
 */
int fp_map(struct fastpath *fp, const struct fp_pages *slot, const struct fp_pages *ctr,
	   int ncpus);

/* Unmap what fp_map() mapped. */
void fp_unmap(struct fastpath *fp);

/* New settings for the running programs (a reload): stored into the slot. */
void fp_set_config(struct fastpath *fp, const struct fp_config *cfg);

/* The outer ID counter the programs take IDs from (in the mapped slot). */
_Atomic uint32_t *fp_ids(struct fastpath *fp);

/* The underlay outer packets go to now. */
int fp_underlay(const struct fastpath *fp);

/*
 * The Ethernet header to the next hop of the route to Remote, found on
 * ifindex: the egress program sends outer packets straight there, without a
 * route and neighbour lookup of the kernel's for each.  NULL, or an ifindex
 * the programs do not send to (the route moved and fp_move_underlay() has not
 * followed yet), leaves those lookups to the kernel.  Moving the underlay and
 * new settings (fp_set_config()) forget it.
 */
void fp_set_next_hop(struct fastpath *fp, int ifindex, const struct fp_eth *eth);

/* ... the one the programs use now, if any. */
bool fp_next_hop(const struct fastpath *fp, struct fp_eth *eth);

/* The host's own addresses (network order): inner packets from them go to the slow path. */
int fp_set_own(struct fastpath *fp, const uint32_t *addr, unsigned n);

/*
 * The routes the programs follow become r[0..n) (new and changed ones
 * first, then the ones that went; each packet sees one route or the other).
 * 0 or -errno (of the last that failed; the others are in).
 */
int fp_hub_routes(struct fastpath *fp, const struct fp_hub_entry *r, size_t n);

/* The device peer idx's outer packets leave by (0: not known; those go slow). */
int fp_hub_hop(struct fastpath *fp, uint32_t idx, int ifindex);

/*
 * A hub with the underlay's shared ingress: its peers' packets arrive on
 * the other underlays ifindex[0..n) too (sorted; each with the link-layer
 * header length of the tunnel's own underlay): the shared ingress takes
 * them there as well (fps_also()).  Nothing is done if the set is the one
 * asked for last.  Returns how many other underlays are taken.
 */
int fp_hub_underlays(struct fastpath *fp, const uint32_t *ifindex, unsigned n);

/* The descriptor and mapping size of the peers' counters (-1: not a hub). */
int fp_hub_fd(const struct fastpath *fp, size_t *len);

/* In the datapath process: map the peers' counters from fp_hub_fd()'s descriptor. */
int fp_map_peers(struct fastpath *fp, int fd, size_t len);

/* Peer idx's fast-path counters (zero where there are none). */
void fp_peer_counters(const struct fastpath *fp, uint32_t idx, struct fp_peer_ctr *out);

/* The counters, summed over the CPUs (from the mapped map: no system call). */
void fp_counters(const struct fastpath *fp, uint64_t out[FP_COUNTER_MAX]);

#endif

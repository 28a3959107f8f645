/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One eBPF ingress program per underlay for every tunnel of a network
 * namespace (src/bpf/dispatch.bpf.c): it finds the tunnel by the outer
 * addresses and tail-calls that tunnel's own ingress program, so a packet
 * costs one lookup however many tunnels share the underlay.
 *
 * Each ipipd is its own process, and nothing is pinned: the namespace's
 * maps (tunnels, the program array, underlays, the host's own addresses,
 * and one entry saying whose they are) live as long as one daemon holds them.  The first daemon in a
 * namespace makes them; the others find them by their IDs (which takes
 * CAP_SYS_ADMIN, at setup) and load their own copy of the dispatcher on
 * them.  On each underlay one daemon's copy is attached, by a tcx link only
 * that daemon holds; the underlays map says which.  When that daemon goes
 * (stopped, or killed: its link goes with it), the packets take the slow
 * path until another daemon on that underlay attaches its copy at its next
 * fps_tick() (within a second).  A killed daemon's entry is ignored by the
 * dispatcher (its device is gone) and removed by the next daemon that
 * looks.  When the last daemon goes, so does everything.
 *
 * Every change is made while holding the namespace's lock: the abstract
 * unix socket "ipipd-fastpath-v1" bound (abstract names are per namespace,
 * and a dead holder's is free at once).
 */
#ifndef IPIPD_FPSHARE_H
#define IPIPD_FPSHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fastpath_abi.h"

struct dispatch_bpf;

#define FPS_ALSO_MAX 8		/* a hub's other underlays */

struct fps_also {
	uint32_t ifindex;
	int link_fd;			/* our copy's link there, if we hold it */
};

struct fps_member {
	struct dispatch_bpf *skel;	/* our copy of the dispatcher, on the shared maps */
	int tunnels_fd, progs_fd, underlays_fd, own_fd, ns_fd;
	int egress_slots_fd;		/* the shared programs' (fps_prog_find()), if held */
	int lock_fd;			/* bound while the lock is held */
	int link_fd;			/* our copy's link on key.ifindex, if we hold it */
	struct fps_key key;
	struct fps_val val;
	bool joined;			/* the key is in the tunnels map */
	struct fps_also also[FPS_ALSO_MAX];	/* a hub: the key on its peers' other underlays */
	unsigned n_also;
};

/* Is v one of set[0..n)?  (A hub's underlays, a tunnel's own addresses.) */
static inline bool u32_listed(const uint32_t *set, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/*
 * The copy of the programs that the namespace's point-to-point tunnels share
 * (fastpath_abi.h, FPS_SHARED): descriptors held by the caller.
 */
struct fps_prog {
	int egress_fd, ingress_fd, slots_fd, counters_fd, egress_slots_fd;
	uint32_t ctr_stride;		/* counters entries per slot */
};

/* Nothing held: before fps_join(), and what fps_leave() leaves. */
void fps_init(struct fps_member *m);

/* The key of a tunnel's outer packets on underlay ifindex (cfg: its settings). */
void fps_key_of(struct fps_key *k, const struct fp_config *cfg, int ifindex);

/*
 * Find the namespace's maps, or make them (the first daemon), and load our
 * copy of the dispatcher on them; before the tunnel's own programs load,
 * which take the map of the host's addresses (own_fd) from here.  0, or
 * -errno with the reason in why and nothing held: -EPERM not allowed to
 * find them, -EOPNOTSUPP a kernel before 5.14.  fps_leave() lets go.
 */
int fps_open(struct fps_member *m, char *why, size_t why_len);

/* Take and let go of the namespace's lock (around fps_prog_find() and fps_prog_publish()). */
int fps_lock(struct fps_member *m, char *why, size_t why_len);
void fps_unlock(struct fps_member *m);

/*
 * With the lock: the shared copy of the programs, if a daemon of this build
 * loaded one and it is still there: 1 with new descriptors in p; 0 none
 * (the caller may load one and fps_prog_publish() it); -errno.
 */
int fps_prog_find(struct fps_member *m, uint64_t build, struct fps_prog *p);

/* With the lock: p is the namespace's shared copy now.  0 or -errno. */
int fps_prog_publish(struct fps_member *m, uint64_t build, const struct fps_prog *p);

/* The ID of the program fd (for bpftool prog show id N), 0 if it cannot be had. */
uint32_t fps_prog_id(int fd);

/*
 * After fps_open(): take the outer packets of key through ingress_fd (the tunnel's own
 * ingress program, held by the caller until fps_leave()), attaching our
 * copy of the dispatcher to key->ifindex (rx_l2: its link-layer header
 * length) unless one is there.  tun_ifindex is the tunnel's device.  0, or
 * -errno with the reason in why and nothing changed: -ERANGE the underlay's
 * tcx hook is full, -EADDRINUSE another live tunnel has this key,
 * -EINVAL/-EOPNOTSUPP no tcx in this kernel.  The maps stay held either way
 * (fps_leave() lets go).
 */
int fps_join(struct fps_member *m, const struct fps_key *key, int rx_l2, int ingress_fd,
	     int tun_ifindex, char *why, size_t why_len);

/*
 * fps_join() into slot prefer if no tunnel uses it and it is below nslots,
 * else into the first free one of the first nslots slots, calling
 * ready(arg, slot) once the slot is chosen and before the dispatcher can
 * call ingress_fd with it (a non-zero return fails the join); -ENOSPC none
 * is free.
 */
int fps_join_slot(struct fps_member *m, const struct fps_key *key, int rx_l2, int ingress_fd,
		  int tun_ifindex, uint32_t nslots, uint32_t prefer,
		  int (*ready)(void *arg, uint32_t slot), void *arg, char *why, size_t why_len);

/*
 * The tunnel's key changes (a new Local, Remote or port, or a new underlay
 * with its rx_l2): the new key is taken before the old one is let go.
 * 0, or -errno as for fps_join() with the old key kept.
 */
int fps_rekey(struct fps_member *m, const struct fps_key *key, int rx_l2, char *why,
	      size_t why_len);

/*
 * Every second or so: attach our copy where our underlay has no live
 * holder; a holder removes dead daemons' entries.  Skipped while another
 * daemon holds the lock.
 */
void fps_tick(struct fps_member *m, int rx_l2);

/*
 * A hub (Remote = any) whose peers are reached over other underlays too:
 * take the key's outer packets on each of ifindex[0..n) as well (each with
 * the key's own link-layer header length rx_l2), the set replacing the last
 * one.  An underlay where another live tunnel has the key, or where the
 * dispatcher cannot be attached, is left out (the slow path takes the
 * packets there); so is any past FPS_ALSO_MAX.  A change of the key
 * (fps_rekey) lets go of them all.  Returns how many are taken.
 */
int fps_also(struct fps_member *m, const uint32_t *ifindex, unsigned n, int rx_l2);

/* Let go of the key and of our link (another daemon on the underlay takes over). */
void fps_leave(struct fps_member *m);

/* How many tunnels share the dispatcher on ifindex now (-errno if unknown). */
int fps_count(const struct fps_member *m, int ifindex);

#endif

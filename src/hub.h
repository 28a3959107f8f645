/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Remote = any: the routes into the tunnel device, as the kernel has them,
 * and the peer each one leads to.
 *
 * The kernel's own `remote any` ipip device sends each packet to the gateway
 * of the route that took it into the device, or to the inner destination
 * itself where the route has none.  A TUN device is not told which route that
 * was, so the owner mirrors the routes whose output device is the tunnel's
 * (rtnetlink) into a hub_table, and the datapath looks the inner destination
 * up in it: longest prefix first.  The same lookup of an inner source tells
 * which peer may send it (the per-peer reverse-path check).
 *
 * A table is built once and not changed: a new one replaces it whole.
 */
#ifndef IPIPD_HUB_H
#define IPIPD_HUB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_ROUTES_MAX 65536u	/* routes into one hub device */

#define HUB_PEERS_MAX 4096u	/* peers counted one by one (the rest only in the totals) */
#define HUB_NO_PEER UINT32_MAX

/* One route: dst/len (network order) via gw (0: none, the destination itself). */
struct hub_route {
	uint32_t dst;
	uint8_t len;
	uint32_t gw;
	uint32_t peer;		/* the gateway's counters (hub_peers), or HUB_NO_PEER */
};

struct hub_slot {
	uint32_t key;		/* dst & mask(len) */
	uint32_t gw;
	uint32_t peer;
	uint8_t len;		/* 0..32 */
	bool used;
};

struct hub_table {
	unsigned n;		/* routes */
	unsigned nlens;		/* distinct prefix lengths, longest first */
	uint8_t lens[33];
	unsigned mask;		/* slots - 1 (a power of two) */
	struct hub_slot slot[];
};

/*
 * A table of the n routes r (a later route of the same prefix replaces an
 * earlier one), or NULL (no memory, or more than HUB_ROUTES_MAX).  hub_free()s.
 */
struct hub_table *hub_build(const struct hub_route *r, size_t n);
void hub_free(struct hub_table *t);

/*
 * The longest-prefix route of addr (network order): true and its peer in
 * *peer (the gateway, or addr itself for a route without one) and the
 * gateway's counters in *idx (HUB_NO_PEER: none; idx may be NULL); false
 * when no route covers addr.
 */
bool hub_lookup(const struct hub_table *t, uint32_t addr, uint32_t *peer, uint32_t *idx);

/*
 * One thread's last lookup, for packets of one flow in a row (a TCP burst:
 * every segment has the same address): valid while the table is the same
 * one, told by its generation (a new table may sit where an old one was).
 */
struct hub_memo {
	uint64_t gen;		/* 0: empty */
	uint32_t addr, peer, idx;
	bool found;
};

/* hub_lookup() in table t of generation gen (> 0), through the memo m. */
static inline bool hub_lookup_memo(const struct hub_table *t, uint64_t gen, struct hub_memo *m,
				   uint32_t addr, uint32_t *peer, uint32_t *idx)
{
	if (m->gen != gen || m->addr != addr) {
		m->idx = HUB_NO_PEER;
		m->found = hub_lookup(t, addr, &m->peer, &m->idx);
		m->gen = gen;
		m->addr = addr;
	}
	if (m->found) {
		*peer = m->peer;
		*idx = m->idx;
	}
	return m->found;
}

/*
 * A peer's counters: written by one datapath thread each direction (rx_*,
 * tx_*), read by anyone.  last_*_ms: CLOCK_MONOTONIC ms (0: never).
 */
struct hub_peer {
	uint32_t addr;		/* 0: a free entry */
	_Atomic uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	_Atomic uint64_t tx_direct;	/* ... of tx_packets sent straight to the next hop */
	_Atomic uint64_t last_rx_ms, last_tx_ms;
};

/*
 * The peers a hub has counted, by gateway address: entries are made as the
 * owner's routes name new gateways, at the number the owner gave each
 * (hub_ids), and kept while the tunnel runs, so that a peer's counters
 * survive its routes going and coming.
 */
struct hub_peers {
	unsigned n;
	struct hub_peer peer[HUB_PEERS_MAX];
};

/* The entry idx becomes gateway addr's (the owner numbered it: hub_ids); false if idx is out of range. */
bool hub_peer_set(struct hub_peers *ps, uint32_t idx, uint32_t addr);

/* The entry of gateway addr, or HUB_NO_PEER. */
uint32_t hub_peer_find(const struct hub_peers *ps, uint32_t addr);

/*
 * The owner's numbering of the peers, which the datapath process's entries
 * (hub_peers) and the eBPF programs' maps follow: a gateway keeps its
 * number while the tunnel runs.  Sorted by address, for hub_id()'s search.
 */
struct hub_ids {
	unsigned n;
	uint32_t addr[HUB_PEERS_MAX];	/* ascending (the numeric value of the network-order word) */
	uint32_t idx[HUB_PEERS_MAX];	/* ... each one's number: the order they came in */
};

/* Gateway addr's number, given it if new; HUB_NO_PEER for 0 or when all are taken. */
uint32_t hub_id(struct hub_ids *ids, uint32_t addr);

#endif

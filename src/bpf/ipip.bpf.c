/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The eBPF fast path: ordinary packets are encapsulated and decapsulated
 * without leaving the kernel, by the same rules as src/packet.c.
 *
 *   ipip_egress   TC egress on the tunnel's TUN device: add the outer header,
 *                 redirect to the underlay (the neighbour subsystem fills in
 *                 the Ethernet header).
 *   ipip_ingress  TC ingress on the underlay: validate the outer and inner
 *                 headers, decapsulate (RFC 6040), redirect into the TUN device
 *                 as if received there.
 * With UDP encapsulation (encap FOU or GUE) the outer header has a UDP
 * (and GUE) header after the IPv4 one: sent with checksum 0, the source port
 * from the same flow hash as src/packet.c's ipip_flow_port(); received only
 * with checksum 0 (anything else goes to the daemon's UDP socket, where the
 * kernel checks it).
 *
 * Anything unusual returns TC_ACT_UNSPEC (the next program or filter on the
 * hook, if any, then the default): on egress the packet then reaches the
 * TUN queue and the daemon's userspace datapath, on ingress the host's stack
 * and the daemon's raw socket.  That slow path keeps every other rule (ICMP
 * errors and relay, path MTU soft state, fragmentation, options, logging and
 * the drop counters).  The programs never drop a packet they could not carry
 * except after a helper failed half-way (counted).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../codepoints.h"
#include "../fastpath_abi.h"
#include "../flowhash.h"

/* Linux 6.3+; the uapi headers of older distributions lack it. */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

#define IPV4_HLEN 20
#define UDP_HLEN 8
#define GUE_HLEN 4
#define OUTER_MAX (IPV4_HLEN + UDP_HLEN + GUE_HLEN)
#define IPPROTO_IPIP_ 4
#define PACKET_HOST_ 0	/* linux/if_packet.h */
#define IPPROTO_UDP_ 17
#define IP_DF_HI 0x40	/* DF in the high byte of frag_off */

/*
 * Each tunnel's settings (changed in place by a reload), soft state and
 * outer ID counter (RFC 6864, shared with the daemon's userspace datapath,
 * seeded randomly by the daemon) are a page of the array map slots (struct
 * fp_slot), which the daemon maps.  A tunnel's own copy of the programs has
 * one slot, 0.  The copy every point-to-point tunnel of a namespace shares
 * (shared, set at load: fpshare.h) has one per tunnel: on the ingress the
 * dispatcher passes the tunnel's slot in skb->cb[0]; on the egress the
 * tunnel's device finds it in egress_slots.
 */
const volatile __u32 shared = 0;
const volatile __u32 ctr_stride = 1;	/* counters entries per slot (set at load) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);		/* set at load */
	__type(key, __u32);
	__type(value, struct fp_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* set at load */
	__type(key, __u32);		/* the tunnel device's ifindex */
	__type(value, __u32);		/* its slot */
} egress_slots SEC(".maps");

#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

#include "own_map.h"	/* own: the host's addresses */

/*
 * All counters of a CPU in one entry (one lookup per packet), mapped by the
 * daemon: a slot's are entries slot * ctr_stride + cpu (set at load).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);		/* slots * ctr_stride, set at load */
	__type(key, __u32);
	__type(value, struct fp_counters);
} counters SEC(".maps");

/*
 * Remote = any (fastpath_abi.h): the routes into the device (written by the
 * daemon), each peer's device and counters (the arrays hold one entry where
 * the tunnel is not a hub: set at load).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FP_HUB_ROUTES);
	__type(key, struct fp_hub_key);
	__type(value, struct fp_hub_route);
} hub_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FP_HUB_PEERS);
	__type(key, __u32);
	__type(value, __u32);		/* ifindex; 0: not known */
} hub_hops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, FP_HUB_PEERS);
	__type(key, __u32);
	__type(value, struct fp_peer_ctr);
} hub_peers SEC(".maps");

static __always_inline struct fp_counters *ctrs(__u32 slot)
{
	__u32 i = slot * ctr_stride + bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&counters, &i);
}

static __always_inline void count(__u32 slot, __u32 which, __u64 n)
{
	struct fp_counters *c = ctrs(slot);

	if (c && which < FP_COUNTER_MAX)
		c->c[which] += n;
}

/* Header words are built from bytes: no aliasing of packet data through casts. */
static __always_inline __u32 get32(const __u8 *p)
{
	__u32 v;

	__builtin_memcpy(&v, p, 4);
	return v;	/* network order, as the addresses in cfg */
}

static __always_inline __u16 csum20(const __u8 *h)
{
	__u32 s = 0;

#pragma unroll
	for (int i = 0; i < IPV4_HLEN; i += 2)
		s += (__u32)h[i] << 8 | h[i + 1];
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* The outer header's length: 20, 28 (FOU) or 32 (GUE). */
static __always_inline __u32 outer_len(const struct fp_slot *S)
{
	__u8 e = S->cfg.encap;

	return e == ENCAP_GUE ? OUTER_MAX : e == ENCAP_FOU ? IPV4_HLEN + UDP_HLEN : IPV4_HLEN;
}

/*
 * src/packet.c's ipip_flow_port() for an inner header without options
 * (in[0..20)): the UDP source port of SourcePort = auto, host order; its
 * ports (TCP, UDP, UDP-Lite, DCCP, SCTP; not of a later fragment) read at
 * l4.  0 if they cannot be read.
 */
static __always_inline __u32 flow_port(const struct fp_slot *S, struct __sk_buff *skb,
				       const __u8 *in, __u32 l4)
{
	__u32 h = FLOWHASH_SEED ^ in[9];
	__u8 ports[4];
	__u8 p = in[9];

	h = flowhash_mix(h, in + 12);
	h = flowhash_mix(h, in + 16);
	if ((p == 6 || p == 17 || p == 33 || p == 132 || p == 136) &&
	    !(((in[6] & 0x1f) << 8) | in[7])) {
		if (bpf_skb_load_bytes(skb, l4, ports, 4) < 0)
			return 0;
		h = flowhash_mix(h, ports);
	}
	if (!S->cfg.sport_span)
		return S->cfg.sport_min;
	h ^= h << 16;
	return S->cfg.sport_min + (__u32)(((__u64)h * S->cfg.sport_span) >> 32);
}

/* Remote = any: the longest-prefix route of addr (network order) into the device, or NULL. */
static __always_inline struct fp_hub_route *hub_route(__u32 addr)
{
	struct fp_hub_key k = { .len = 32, .addr = addr };

	return bpf_map_lookup_elem(&hub_routes, &k);
}

/* Is addr in one of the first n prefixes of p? */
static __always_inline int in_prefixes(__u32 addr, const struct fp_prefix *p, __u8 n)
{
	for (int i = 0; i < FP_MAX_ALLOWED; i++) {
		if (i >= n)
			break;
		if ((addr & p[i].mask) == p[i].addr)
			return 1;
	}
	return 0;
}

/* Remote = any: may the peer addr send and be sent to (AllowedRemotes)? */
static __always_inline int remote_allowed(const struct fp_slot *S, __u32 addr)
{
	return in_prefixes(addr, S->cfg.allowed_remotes, S->cfg.n_allowed_remotes);
}

/* Remote = any: a peer's counters, or NULL (none, or not a peer counted one by one). */
static __always_inline struct fp_peer_ctr *peer_ctrs(__u32 peer)
{
	if (peer >= FP_HUB_PEERS)
		return NULL;
	return bpf_map_lookup_elem(&hub_peers, &peer);
}

static __always_inline void peer_count(struct fp_peer_ctr *p, int rx, __u32 packets, __u32 bytes)
{
	__u64 ms = bpf_ktime_get_ns() / 1000000;

	if (rx) {
		__sync_fetch_and_add(&p->rx_packets, packets);
		__sync_fetch_and_add(&p->rx_bytes, bytes);
		if (READ_ONCE(p->last_rx_ms) != ms)
			p->last_rx_ms = ms;
	} else {
		__sync_fetch_and_add(&p->tx_packets, packets);
		__sync_fetch_and_add(&p->tx_bytes, bytes);
		if (READ_ONCE(p->last_tx_ms) != ms)
			p->last_tx_ms = ms;
	}
}

/* ---- egress: TUN device -> underlay -------------------------------------- */

static __always_inline int tx_slow(__u32 slot)
{
	count(slot, FP_TX_SLOW, 1);
	return TC_ACT_UNSPEC;
}

static __always_inline __u8 ecn_encap(const struct fp_slot *S, __u8 inner)
{
	inner &= 3;
	if (S->cfg.ecn_mode == ECN_MODE_COMPAT)
		return ECN_NOT_ECT;
	if (S->cfg.ecn_mode == ECN_MODE_KERNEL && inner == ECN_CE)
		return ECN_ECT0;
	return inner;
}

SEC("tc")
int ipip_egress(struct __sk_buff *skb)
{
	__u8 in[IPV4_HLEN], out[OUTER_MAX] = {}, eth[ETH_HLEN] = {};
	__u32 l2, len, segs = 1, umtu = 0, limit, tot, src, id, local, remote;
	__u32 olen, sport = 0, slot = 0, ifindex, hop;
	__u64 egress, flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_FIXED_GSO;
	__u32 peer = FP_NO_PEER;
	struct fp_counters *c;
	struct fp_peer_ctr *pc;
	struct fp_slot *S;
	__u16 sum;
	__u8 base, ttl;

	if (shared) {
		/*
		 * A tunnel takes the slot its device's number points at when
		 * it is free, and a slot's page says whose it is: most find
		 * theirs without the hash lookup, which lengthens a lone
		 * packet's round trip on cold caches (doc/performance-notes.md;
		 * src/fastpath.c, slot_ready()).
		 */
		__u32 dev = skb->ifindex, *sp;

		slot = FP_GUESS_SLOT(dev);
		S = bpf_map_lookup_elem(&slots, &slot);
		if (!S || READ_ONCE(S->cfg.tun_ifindex) != dev) {
			sp = bpf_map_lookup_elem(&egress_slots, &dev);
			if (!sp)
				return TC_ACT_UNSPEC;	/* being set up or taken down */
			slot = *sp;
			S = bpf_map_lookup_elem(&slots, &slot);
		}
	} else {
		S = bpf_map_lookup_elem(&slots, &slot);
	}
	if (!S)
		return TC_ACT_UNSPEC;
	l2 = S->cfg.tun_l2;
	olen = outer_len(S);
	egress = READ_ONCE(S->state.egress);
	ifindex = FP_EGRESS_IFINDEX(egress);
	hop = FP_EGRESS_HOP(egress);

	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->len < l2)
		return tx_slow(slot);
	len = skb->len - l2;
	if (bpf_skb_load_bytes(skb, l2, in, IPV4_HLEN) < 0)
		return tx_slow(slot);
	/* options, TTL 0, loops (RFC 2003 3.2), odd lengths: the slow path decides */
	if (in[0] != 0x45 || in[8] == 0)
		return tx_slow(slot);
	tot = (__u32)in[2] << 8 | in[3];
	if (tot != len || len > 0xffff - olen)
		return tx_slow(slot);
	src = get32(in + 12);
	remote = S->cfg.remote;
	if (S->cfg.hub) {
		/*
		 * To the gateway of the route that took the packet into the
		 * device (the inner destination itself without one: the slow
		 * path sends those), by the device the daemon found for it.
		 */
		__u32 dst = get32(in + 16), *dev;
		struct fp_hub_route *r = hub_route(dst);

		if (!r)
			return tx_slow(slot);	/* the slow path drops and counts it */
		remote = r->gw ? r->gw : dst;
		peer = r->peer;
		if (peer >= FP_HUB_PEERS || !remote_allowed(S, remote))
			return tx_slow(slot);
		dev = bpf_map_lookup_elem(&hub_hops, &peer);
		if (!dev || !*dev)
			return tx_slow(slot);
		ifindex = *dev;
		hop = 0;	/* the kernel finds the gateway */
	}
	if (src == remote)
		return tx_slow(slot);
	/* our own outer packets, back again (a UDP one: the slow path looks at its port) */
	if (in[9] == (olen == IPV4_HLEN ? IPPROTO_IPIP_ : IPPROTO_UDP_) && src == S->cfg.local &&
	    get32(in + 16) == remote)
		return tx_slow(slot);
	/*
	 * RFC 2003 5 soft state: only the packets it concerns go slow (and the
	 * daemon sets it only while an ICMP error is owed to their senders).
	 */
	ttl = S->cfg.ttl ? S->cfg.ttl : in[8];
	if (READ_ONCE(S->state.unreach) || ttl < READ_ONCE(S->state.path_ttl))
		return tx_slow(slot);
	/*
	 * The packet must fit the path MTU soft state and the underlay's own MTU
	 * now (the redirect bypasses the IP output path and its checks); the
	 * helper reports the device MTU in umtu.
	 */
	bpf_check_mtu(skb, ifindex, &umtu, 0, 0);
	limit = READ_ONCE(S->state.pmtu);
	if (umtu < limit + olen)
		limit = umtu > olen ? umtu - olen : 0;
	if (skb->gso_size) {
		/*
		 * A super-packet: its segments must fit.  (After a "fragmentation
		 * needed" the sender's segments shrink and come back here; sending
		 * only the big ones slow would reorder a flow.)
		 */
		__u32 l4;
		__u8 doff;

		if (in[9] == 6) {
			if (bpf_skb_load_bytes(skb, l2 + IPV4_HLEN + 12, &doff, 1) < 0)
				return tx_slow(slot);
			l4 = (__u32)(doff >> 4) * 4;
		} else if (in[9] == 17) {
			l4 = 8;
		} else {
			return tx_slow(slot);
		}
		if (IPV4_HLEN + l4 + skb->gso_size > limit)
			return tx_slow(slot);
		segs = skb->gso_segs ? skb->gso_segs : 1;
	} else if (len > limit) {
		return tx_slow(slot);	/* fragment or "fragmentation needed" */
	}

	/* the UDP source port before the ID: nothing may be taken for a packet that goes slow */
	if (olen != IPV4_HLEN) {
		sport = S->cfg.sport ? bpf_ntohs(S->cfg.sport) : flow_port(S, skb, in, l2 + IPV4_HLEN);
		if (!sport)
			return tx_slow(slot);	/* its ports cut off: the slow path hashes without */
	}
	base = S->cfg.tos_inherit ? in[1] : S->cfg.tos;
	id = __sync_fetch_and_add(&S->ip_id, segs);
	out[0] = 0x45;
	out[1] = (__u8)((base & ~3u) | ecn_encap(S, in[1]));
	out[2] = (__u8)((len + olen) >> 8);
	out[3] = (__u8)(len + olen);
	out[4] = (__u8)(id >> 8);
	out[5] = (__u8)id;
	out[6] = (S->cfg.pmtudisc || (in[6] & IP_DF_HI)) ? IP_DF_HI : 0;
	out[7] = 0;
	out[8] = ttl;
	out[9] = olen == IPV4_HLEN ? IPPROTO_IPIP_ : IPPROTO_UDP_;
	out[10] = 0;
	out[11] = 0;
	local = S->cfg.local;
	__builtin_memcpy(out + 12, &local, 4);
	__builtin_memcpy(out + 16, &remote, 4);
	sum = csum20(out);
	out[10] = (__u8)(sum >> 8);
	out[11] = (__u8)sum;
	if (olen != IPV4_HLEN) {
		/* UDP (length per segment fixed by the GSO layer), checksum 0 */
		__u16 dport = S->cfg.remote_port;

		out[20] = (__u8)(sport >> 8);
		out[21] = (__u8)sport;
		__builtin_memcpy(out + 22, &dport, 2);
		out[24] = (__u8)((len + olen - IPV4_HLEN) >> 8);
		out[25] = (__u8)(len + olen - IPV4_HLEN);
		out[26] = 0;
		out[27] = 0;
		/* GUE variant 0: no control, no options, protocol 4, no flags */
		out[28] = 0;
		out[29] = IPPROTO_IPIP_;
		out[30] = 0;
		out[31] = 0;
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
	}

	/*
	 * Nothing changed yet: a refusal here still leaves the slow path.  A
	 * packet decapsulated on this host and routed back out (a hub's
	 * spoke-to-spoke traffic) still has skb->encapsulation set, which the
	 * helper refuses for its encapsulation flags (-EALREADY; no helper
	 * clears it, as the kernel's own decapsulation does): one packet is
	 * room at the front and nothing more, a GSO one must go slow to be
	 * cut up.
	 */
	if (bpf_skb_adjust_room(skb, olen, BPF_ADJ_ROOM_MAC, flags) < 0 &&
	    (skb->gso_size || bpf_skb_adjust_room(skb, olen, BPF_ADJ_ROOM_MAC, 0) < 0))
		return tx_slow(slot);
	/*
	 * TUN packets have no link-layer header: room for the neighbour's.
	 * Straight to the next hop the daemon follows (src/tunnel_run.c,
	 * follow_fast_hop()), as the kernel's device sends by the route it
	 * caches: no route and neighbour lookup for each packet, which
	 * lengthen a lone packet's round trip on cold caches
	 * (doc/performance-notes.md).  Without one, and for one packet a
	 * second (struct fp_state, lookup_ns), the kernel looks both up.
	 */
	if (hop == 1 || hop == 2) {
		struct fp_eth *e = &S->state.eth[hop - 1];
		__u64 now = bpf_ktime_get_coarse_ns();

		if (now - READ_ONCE(S->state.lookup_ns) >= FP_LOOKUP_NS) {
			WRITE_ONCE(S->state.lookup_ns, now);
			hop = 0;
		}

		__builtin_memcpy(eth, e->dst, 6);
		__builtin_memcpy(eth + 6, e->src, 6);
		eth[12] = ETH_P_IP >> 8;
		eth[13] = ETH_P_IP & 0xff;
	} else {
		hop = 0;
	}
	if (bpf_skb_store_bytes(skb, l2, out, olen, 0) < 0 ||
	    (!l2 && bpf_skb_change_head(skb, ETH_HLEN, 0) < 0) ||
	    (hop && bpf_skb_store_bytes(skb, 0, eth, ETH_HLEN, 0) < 0)) {
		count(slot, FP_TX_ERROR, 1);
		return TC_ACT_SHOT;
	}
	c = ctrs(slot);
	if (c) {
		c->c[FP_TX_PACKETS] += segs;
		c->c[FP_TX_BYTES] += len;	/* inner bytes */
	}
	pc = peer_ctrs(peer);
	if (pc)
		peer_count(pc, 0, segs, len);
	if (hop)
		return bpf_redirect(ifindex, 0);
	return bpf_redirect_neigh(ifindex, NULL, 0, 0);
}

/* ---- ingress: underlay -> TUN device ------------------------------------- */

static __always_inline int rx_slow(__u32 slot)
{
	count(slot, FP_RX_SLOW, 1);
	return TC_ACT_UNSPEC;
}

/* RFC 6040 4.2: the new inner ECN, or -1 when the slow path must decide (drop or log). */
static __always_inline int ecn_decap(__u8 inner, __u8 outer)
{
	inner &= 3;
	outer &= 3;
	if (inner == ECN_NOT_ECT)
		return outer == ECN_NOT_ECT ? ECN_NOT_ECT : -1;
	if (inner == ECN_CE)
		return outer == ECN_ECT1 ? -1 : ECN_CE;
	if (outer == ECN_CE || outer == ECN_ECT1)
		return outer;
	return inner;
}

static __always_inline int source_allowed(const struct fp_slot *S, __u32 src)
{
	if (src == S->cfg.own[0] || src == S->cfg.own[1] || bpf_map_lookup_elem(&own, &src))
		return 0;
	return S->cfg.n_allowed == 0 || in_prefixes(src, S->cfg.allowed, S->cfg.n_allowed);
}

/*
 * UDP encapsulation: is the outer packet h[0..) one of ours (UDP to Local and
 * Port from Remote, checksum 0, and for GUE variant 0 with protocol 4 and
 * nothing else)?  0: yes; 1: to our port but for the slow path; -1: not to
 * our port at all (another program's, or the stack's).
 */
static __always_inline int udp_ours(const struct fp_slot *S, const __u8 *h, __u32 otot)
{
	__u16 dport;

	__builtin_memcpy(&dport, h + 22, 2);
	if (h[9] != IPPROTO_UDP_ || get32(h + 16) != S->cfg.local || dport != S->cfg.port)
		return -1;
	if (get32(h + 12) != S->cfg.remote)
		return 1;	/* the daemon's socket counts it */
	if (((__u32)h[24] << 8 | h[25]) != otot - IPV4_HLEN || h[26] || h[27])
		return 1;	/* a checksum to check, a length to trim */
	if (S->cfg.encap == ENCAP_GUE && (h[28] || h[29] != IPPROTO_IPIP_ || h[30] || h[31]))
		return 1;
	return 0;
}

SEC("tc")
int ipip_ingress(struct __sk_buff *skb)
{
	__u8 h[OUTER_MAX + IPV4_HLEN];
	__u8 *in;
	__u32 l2, olen, otot, itot, segs, slot = shared ? skb->cb[0] : 0;
	__u64 flags = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET;
	__u32 peer = FP_NO_PEER;
	struct fp_counters *c;
	struct fp_peer_ctr *pc;
	struct fp_slot *S = bpf_map_lookup_elem(&slots, &slot);
	__u8 tos;
	int ecn;

	if (!S)
		return TC_ACT_UNSPEC;
	l2 = READ_ONCE(S->state.rx_l2);
	olen = outer_len(S);

	/*
	 * A frame to another host's Ethernet address (a promiscuous device)
	 * is not ours: the stack drops it before any protocol sees it.
	 */
	if (skb->protocol != bpf_htons(ETH_P_IP) || (l2 != 0 && l2 != ETH_HLEN) ||
	    skb->pkt_type != PACKET_HOST_)
		return TC_ACT_UNSPEC;
	if (olen == IPV4_HLEN) {
		if (bpf_skb_load_bytes(skb, l2, h, 2 * IPV4_HLEN) < 0)
			return TC_ACT_UNSPEC;
		/*
		 * another tunnel's packets (or none): for the next program, not
		 * counted; a hub's from outside AllowedRemotes: the slow path
		 * drops and counts them
		 */
		if (h[9] != IPPROTO_IPIP_ || get32(h + 16) != S->cfg.local ||
		    (S->cfg.hub ? !remote_allowed(S, get32(h + 12)) : get32(h + 12) != S->cfg.remote))
			return TC_ACT_UNSPEC;
		in = h + IPV4_HLEN;
	} else {
		if (bpf_skb_load_bytes(skb, l2, h, olen + IPV4_HLEN) < 0)
			return TC_ACT_UNSPEC;
		/* with IP options (rare): the stack, and the daemon's socket if ours */
		if (h[0] != 0x45)
			return TC_ACT_UNSPEC;
		otot = (__u32)h[2] << 8 | h[3];
		ecn = udp_ours(S, h, otot);
		if (ecn < 0)
			return TC_ACT_UNSPEC;
		if (ecn > 0)
			return rx_slow(slot);
		in = olen == OUTER_MAX ? h + OUTER_MAX : h + IPV4_HLEN + UDP_HLEN;
	}
	/* From here on this tunnel's packet: fast or slow, it is counted. */
	if (READ_ONCE(S->state.dev_down))
		return rx_slow(slot);	/* the redirect would drop it uncounted: the daemon counts it */
	if (h[0] != 0x45 || (h[6] & 0x3f) || h[7])
		return rx_slow(slot);	/* options or a fragment: the stack reassembles */
	if (csum20(h) != 0)
		return rx_slow(slot);
	otot = (__u32)h[2] << 8 | h[3];
	if (otot != skb->len - l2)
		return rx_slow(slot);
	if (in[0] != 0x45 || in[8] == 0 || csum20(in) != 0)
		return rx_slow(slot);
	itot = (__u32)in[2] << 8 | in[3];
	if (itot != otot - olen)
		return rx_slow(slot);
	if (!source_allowed(S, get32(in + 12)))
		return rx_slow(slot);
	if (S->cfg.hub) {
		/*
		 * The inner source must be routed back through the device to
		 * the peer that sent it (PeerSourceCheck); without the check
		 * it is taken in all the same, but counted for that peer only
		 * when it is.
		 */
		__u32 isrc = get32(in + 12);
		struct fp_hub_route *r = hub_route(isrc);

		if (r && (r->gw ? r->gw : isrc) == get32(h + 12))
			peer = r->peer;
		else if (S->cfg.peer_check)
			return rx_slow(slot);	/* the slow path drops and counts it */
	}
	ecn = ecn_decap(in[1], h[1]);
	if (ecn < 0)
		return rx_slow(slot);	/* CE over Not-ECT, or a combination to log */
	tos = (__u8)(((S->cfg.dscp_uniform ? h[1] : in[1]) & ~3u) | (__u8)ecn);
	/* before the adjustment, which resets gso_segs of a GRO packet */
	segs = skb->gso_segs ? skb->gso_segs : 1;

	/* DECAP_L3_IPV4 (Linux 6.3+) also clears the GSO encapsulation type */
	if (bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC,
				flags | BPF_F_ADJ_ROOM_DECAP_L3_IPV4) < 0 &&
	    bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC, flags) < 0)
		return rx_slow(slot);
	if (tos != in[1]) {
		/* the TOS byte is the low half of the header's first word */
		__u16 from = bpf_htons((__u16)(in[0] << 8 | in[1]));
		__u16 to = bpf_htons((__u16)(in[0] << 8 | tos));

		if (bpf_l3_csum_replace(skb, l2 + 10, from, to, 2) < 0 ||
		    bpf_skb_store_bytes(skb, l2 + 1, &tos, 1, 0) < 0) {
			count(slot, FP_RX_ERROR, 1);
			return TC_ACT_SHOT;
		}
	}
	c = ctrs(slot);
	if (c) {
		c->c[FP_RX_PACKETS] += segs;
		c->c[FP_RX_BYTES] += itot;
	}
	pc = peer_ctrs(peer);
	if (pc)
		peer_count(pc, 1, segs, itot);
	return bpf_redirect(S->cfg.tun_ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";

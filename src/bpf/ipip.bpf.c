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

#include "../fastpath_abi.h"

/* Linux 6.3+; the uapi headers of older distributions lack it. */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

#define IPV4_HLEN 20
#define IPPROTO_IPIP_ 4
#define IP_DF_HI 0x40	/* DF in the high byte of frag_off */
#define ECN_NOT_ECT 0
#define ECN_ECT1 1
#define ECN_ECT0 2
#define ECN_CE 3
#define ECN_MODE_NORMAL 0
#define ECN_MODE_COMPAT 1
#define ECN_MODE_KERNEL 2

/*
 * Set by the daemon while the programs run (it maps .bss): the tunnel's
 * settings (changed in place by a reload), the soft state, the underlay;
 * and the outer ID counter (RFC 6864), one per tunnel, shared with the
 * daemon's userspace datapath, seeded randomly by the daemon.
 */
struct fp_config cfg = {};
struct fp_state state = {};
__u32 ip_id = 0;

#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))

/* The host's own addresses (kept by the daemon): never an inner source. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_OWN_MAX);
	__type(key, __u32);
	__type(value, __u8);
} own SEC(".maps");

/* All counters of a CPU in one entry (one lookup per packet), mapped by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);		/* the number of possible CPUs, set at load */
	__type(key, __u32);
	__type(value, struct fp_counters);
} counters SEC(".maps");

static __always_inline struct fp_counters *ctrs(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&counters, &cpu);
}

static __always_inline void count(__u32 which, __u64 n)
{
	struct fp_counters *c = ctrs();

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

/* ---- egress: TUN device -> underlay -------------------------------------- */

static __always_inline int tx_slow(void)
{
	count(FP_TX_SLOW, 1);
	return TC_ACT_UNSPEC;
}

static __always_inline __u8 ecn_encap(__u8 inner)
{
	inner &= 3;
	if (cfg.ecn_mode == ECN_MODE_COMPAT)
		return ECN_NOT_ECT;
	if (cfg.ecn_mode == ECN_MODE_KERNEL && inner == ECN_CE)
		return ECN_ECT0;
	return inner;
}

SEC("tc")
int ipip_egress(struct __sk_buff *skb)
{
	__u8 in[IPV4_HLEN], out[IPV4_HLEN];
	__u32 l2 = cfg.tun_l2, len, segs = 1, umtu = 0, limit, tot, src, id, local, remote;
	__u32 ifindex = READ_ONCE(state.underlay_ifindex);
	struct fp_counters *c;
	__u16 sum;
	__u8 base, ttl;

	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->len < l2)
		return tx_slow();
	len = skb->len - l2;
	if (bpf_skb_load_bytes(skb, l2, in, IPV4_HLEN) < 0)
		return tx_slow();
	/* options, TTL 0, loops (RFC 2003 3.2), odd lengths: the slow path decides */
	if (in[0] != 0x45 || in[8] == 0)
		return tx_slow();
	tot = (__u32)in[2] << 8 | in[3];
	if (tot != len || len > 0xffff - IPV4_HLEN)
		return tx_slow();
	src = get32(in + 12);
	if (src == cfg.remote)
		return tx_slow();
	if (in[9] == IPPROTO_IPIP_ && src == cfg.local && get32(in + 16) == cfg.remote)
		return tx_slow();
	/*
	 * RFC 2003 5 soft state: only the packets it concerns go slow (and the
	 * daemon sets it only while an ICMP error is owed to their senders).
	 */
	ttl = cfg.ttl ? cfg.ttl : in[8];
	if (READ_ONCE(state.unreach) || ttl < READ_ONCE(state.path_ttl))
		return tx_slow();
	/*
	 * The packet must fit the path MTU soft state and the underlay's own MTU
	 * now (the redirect bypasses the IP output path and its checks); the
	 * helper reports the device MTU in umtu.
	 */
	bpf_check_mtu(skb, ifindex, &umtu, 0, 0);
	limit = READ_ONCE(state.pmtu);
	if (umtu < limit + IPV4_HLEN)
		limit = umtu > IPV4_HLEN ? umtu - IPV4_HLEN : 0;
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
				return tx_slow();
			l4 = (__u32)(doff >> 4) * 4;
		} else if (in[9] == 17) {
			l4 = 8;
		} else {
			return tx_slow();
		}
		if (IPV4_HLEN + l4 + skb->gso_size > limit)
			return tx_slow();
		segs = skb->gso_segs ? skb->gso_segs : 1;
	} else if (len > limit) {
		return tx_slow();	/* fragment or "fragmentation needed" */
	}

	base = cfg.tos_inherit ? in[1] : cfg.tos;
	id = __sync_fetch_and_add(&ip_id, segs);
	out[0] = 0x45;
	out[1] = (__u8)((base & ~3u) | ecn_encap(in[1]));
	out[2] = (__u8)((len + IPV4_HLEN) >> 8);
	out[3] = (__u8)(len + IPV4_HLEN);
	out[4] = (__u8)(id >> 8);
	out[5] = (__u8)id;
	out[6] = (cfg.pmtudisc || (in[6] & IP_DF_HI)) ? IP_DF_HI : 0;
	out[7] = 0;
	out[8] = ttl;
	out[9] = IPPROTO_IPIP_;
	out[10] = 0;
	out[11] = 0;
	local = cfg.local;
	remote = cfg.remote;
	__builtin_memcpy(out + 12, &local, 4);
	__builtin_memcpy(out + 16, &remote, 4);
	sum = csum20(out);
	out[10] = (__u8)(sum >> 8);
	out[11] = (__u8)sum;

	/* Nothing changed yet: a refusal here still leaves the slow path. */
	if (bpf_skb_adjust_room(skb, IPV4_HLEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_FIXED_GSO) < 0)
		return tx_slow();
	/* TUN packets have no link-layer header: room for the neighbour's. */
	if (bpf_skb_store_bytes(skb, l2, out, IPV4_HLEN, 0) < 0 ||
	    (!l2 && bpf_skb_change_head(skb, ETH_HLEN, 0) < 0)) {
		count(FP_TX_ERROR, 1);
		return TC_ACT_SHOT;
	}
	c = ctrs();
	if (c) {
		c->c[FP_TX_PACKETS] += segs;
		c->c[FP_TX_BYTES] += len;	/* inner bytes */
	}
	return bpf_redirect_neigh(ifindex, NULL, 0, 0);
}

/* ---- ingress: underlay -> TUN device ------------------------------------- */

static __always_inline int rx_slow(void)
{
	count(FP_RX_SLOW, 1);
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

static __always_inline int source_allowed(__u32 src)
{
	if (src == cfg.own[0] || src == cfg.own[1] || bpf_map_lookup_elem(&own, &src))
		return 0;
	if (cfg.n_allowed == 0)
		return 1;
	for (int i = 0; i < FP_MAX_ALLOWED; i++) {
		if (i >= cfg.n_allowed)
			break;
		if ((src & cfg.allowed[i].mask) == cfg.allowed[i].addr)
			return 1;
	}
	return 0;
}

SEC("tc")
int ipip_ingress(struct __sk_buff *skb)
{
	__u8 h[2 * IPV4_HLEN];
	__u8 *in = h + IPV4_HLEN;
	__u32 l2 = READ_ONCE(state.rx_l2), otot, itot, segs;
	struct fp_counters *c;
	__u8 tos;
	int ecn;

	if (skb->protocol != bpf_htons(ETH_P_IP) || (l2 != 0 && l2 != ETH_HLEN))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, l2, h, sizeof(h)) < 0)
		return TC_ACT_UNSPEC;
	/* another tunnel's packets (or none): for the next program, not counted */
	if (h[9] != IPPROTO_IPIP_ || get32(h + 12) != cfg.remote || get32(h + 16) != cfg.local)
		return TC_ACT_UNSPEC;
	/* From here on this tunnel's packet: fast or slow, it is counted. */
	if (h[0] != 0x45 || (h[6] & 0x3f) || h[7])
		return rx_slow();	/* options or a fragment: the stack reassembles */
	if (csum20(h) != 0)
		return rx_slow();
	otot = (__u32)h[2] << 8 | h[3];
	if (otot != skb->len - l2)
		return rx_slow();
	if (in[0] != 0x45 || in[8] == 0 || csum20(in) != 0)
		return rx_slow();
	itot = (__u32)in[2] << 8 | in[3];
	if (itot != otot - IPV4_HLEN)
		return rx_slow();
	if (!source_allowed(get32(in + 12)))
		return rx_slow();
	ecn = ecn_decap(in[1], h[1]);
	if (ecn < 0)
		return rx_slow();	/* CE over Not-ECT, or a combination to log */
	tos = (__u8)(((cfg.dscp_uniform ? h[1] : in[1]) & ~3u) | (__u8)ecn);
	/* before the adjustment, which resets gso_segs of a GRO packet */
	segs = skb->gso_segs ? skb->gso_segs : 1;

	/* DECAP_L3_IPV4 (Linux 6.3+) also clears the GSO encapsulation type */
	if (bpf_skb_adjust_room(skb, -IPV4_HLEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET |
				BPF_F_ADJ_ROOM_DECAP_L3_IPV4) < 0 &&
	    bpf_skb_adjust_room(skb, -IPV4_HLEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_NO_CSUM_RESET) < 0)
		return rx_slow();
	if (tos != in[1]) {
		/* the TOS byte is the low half of the header's first word */
		__u16 from = bpf_htons((__u16)(in[0] << 8 | in[1]));
		__u16 to = bpf_htons((__u16)(in[0] << 8 | tos));

		if (bpf_l3_csum_replace(skb, l2 + 10, from, to, 2) < 0 ||
		    bpf_skb_store_bytes(skb, l2 + 1, &tos, 1, 0) < 0) {
			count(FP_RX_ERROR, 1);
			return TC_ACT_SHOT;
		}
	}
	c = ctrs();
	if (c) {
		c->c[FP_RX_PACKETS] += segs;
		c->c[FP_RX_BYTES] += itot;
	}
	return bpf_redirect(cfg.tun_ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";

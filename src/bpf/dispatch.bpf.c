/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One ingress program per underlay for every tunnel of a network namespace
 * (src/fpshare.c: each daemon loads a copy on the namespace's shared maps,
 * and one of them holds the link on each underlay):
 * the outer header's addresses (protocol 4) or destination and port (UDP)
 * find the tunnel in one hash lookup, and that tunnel's own ingress program
 * (src/bpf/ipip.bpf.c, ipip_ingress) is tail-called.  Everything else goes
 * on unchanged (TC_ACT_UNSPEC): the next program on the hook, then the stack.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../fastpath_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FPS_TUNNELS);
	__type(key, struct fps_key);
	__type(value, struct fps_val);
} tunnels SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, FPS_TUNNELS);
	__type(key, __u32);
	__type(value, __u32);
} progs SEC(".maps");

/*
 * The underlays it is attached to (ifindex), with who holds the link: the
 * daemons' record (src/fpshare.c).  The program does not look it up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FPS_UNDERLAYS);
	__type(key, __u32);
	__type(value, struct fps_underlay);
} underlays SEC(".maps");

#include "own_map.h"	/* own: for every tunnel's ingress program */

/* Whose maps these are (read by the daemons only, to find them). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fps_ns);
} ipipd_fps_ns SEC(".maps");

SEC("tc")
int ipip_dispatch(struct __sk_buff *skb)
{
	struct fps_key k = {};
	struct fps_val *v;
	__u32 mtu = 0;
	__u8 h[20];
	__u16 port;

	/*
	 * Read from the network header, whatever the link layer: no lookup of
	 * the underlay (on cold caches, a lone packet's case, a hash lookup
	 * lengthens its round trip measurably: doc/performance-notes.md).
	 */
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes_relative(skb, 0, h, sizeof(h), BPF_HDR_START_NET) < 0)
		return TC_ACT_UNSPEC;
	k.ifindex = skb->ifindex;
	__builtin_memcpy(&k.local, h + 16, 4);
	if (h[9] == 4) {
		__builtin_memcpy(&k.remote, h + 12, 4);
		k.proto = 4;
	} else if (h[9] == 17 && h[0] == 0x45) {
		if (bpf_skb_load_bytes_relative(skb, 22, &port, 2, BPF_HDR_START_NET) < 0)
			return TC_ACT_UNSPEC;
		k.port = port;
		k.proto = 17;
	} else {
		return TC_ACT_UNSPEC;
	}
	v = bpf_map_lookup_elem(&tunnels, &k);
	if (!v && k.proto == 4) {
		k.remote = 0;	/* a hub's (Remote = any): it checks AllowedRemotes */
		v = bpf_map_lookup_elem(&tunnels, &k);
	}
	if (!v)
		return TC_ACT_UNSPEC;
	/*
	 * The tunnel's device is gone when its daemon died without leaving (the
	 * other daemons here sweep the entry): as if nothing were attached.
	 */
	if (bpf_check_mtu(skb, v->tun_ifindex, &mtu, 0, 0) < 0)
		return TC_ACT_UNSPEC;
	skb->cb[0] = v->slot;	/* the shared copy of the programs' slot (fastpath_abi.h) */
	bpf_tail_call(skb, &progs, v->slot);
	return TC_ACT_UNSPEC;	/* no program in the slot (being replaced) */
}

char LICENSE[] SEC("license") = "GPL";

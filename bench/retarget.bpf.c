/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/scale.sh, a hub on the eBPF path: at B, every protocol-4 packet is
 * made one for B's tunnel end (outer destination RETARGET, 192.0.2.2: UB in
 * scale.sh), before the tc ingress programs see it (XDP, generic mode), so
 * that one point-to-point end on the fast path decapsulates what the hub
 * sends to all of its peers.  The checksum is updated as RFC 1624 says.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define RETARGET 0xc0000202u	/* 192.0.2.2, host order */

static __always_inline __u16 fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

SEC("xdp")
int retarget(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 old, new = bpf_htonl(RETARGET);
	__u32 s;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != 4 ||
	    ip->daddr == new)
		return XDP_PASS;
	old = ip->daddr;
	ip->daddr = new;
	/* HC' = ~(~HC + ~m + m'), 16 bits at a time */
	s = (__u16)~ip->check;
	s += (__u16)~(old & 0xffff) + (__u16)~(old >> 16);
	s += (new & 0xffff) + (new >> 16);
	ip->check = (__u16)~fold(s);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

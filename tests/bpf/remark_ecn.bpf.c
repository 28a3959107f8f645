/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A TC program for tests: "the path" re-marks the outer ECN of IPv4-in-IPv4
 * ICMP echo requests whose ICMP id is ECN_ID (-DECN_ID=N) to seq & 3, and
 * fixes the outer checksum.  Every packet then goes on to the next program or
 * filter (TC_ACT_UNSPEC), so a fast path attached after it still runs.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef ECN_ID
#error "build with -DECN_ID=N"
#endif

SEC("tc")
int remark_ecn(struct __sk_buff *skb)
{
	__u8 h[48];
	__u16 from, to;

	if (skb->protocol != __builtin_bswap16(0x0800) ||
	    bpf_skb_load_bytes(skb, 14, h, sizeof(h)) < 0)
		return TC_ACT_UNSPEC;
	/* outer: IPv4 without options, protocol 4; inner: no options, ICMP echo request */
	if (h[0] != 0x45 || h[9] != 4 || h[20] != 0x45 || h[29] != 1 || h[40] != 8)
		return TC_ACT_UNSPEC;
	if (h[44] != (ECN_ID >> 8) || h[45] != (ECN_ID & 0xff))
		return TC_ACT_UNSPEC;
	from = __builtin_bswap16((__u16)(h[0] << 8 | h[1]));
	h[1] = (__u8)((h[1] & ~3u) | (h[47] & 3u));
	to = __builtin_bswap16((__u16)(h[0] << 8 | h[1]));
	if (from != to) {
		bpf_l3_csum_replace(skb, 14 + 10, from, to, 2);
		bpf_skb_store_bytes(skb, 14 + 1, &h[1], 1, 0);
	}
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host's own addresses (kept by the daemons): never an inner source.
 * Defined alike in both programs' objects: the one the shared ingress
 * program's maps hold (src/bpf/dispatch.bpf.c) is given to every tunnel's
 * ingress program at load (src/bpf/ipip.bpf.c), one copy per namespace;
 * a tunnel that shares nothing makes its own.
 */
#ifndef IPIPD_BPF_OWN_MAP_H
#define IPIPD_BPF_OWN_MAP_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FP_OWN_MAX);
	__type(key, __u32);
	__type(value, __u8);
} own SEC(".maps");

#endif

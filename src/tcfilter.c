/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tcfilter.h"

#include <bpf/libbpf.h>

int fp_tc_detach(int ifindex, bool ingress, uint32_t handle, uint32_t prio)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, th, .ifindex = ifindex,
			    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, to, .handle = handle, .priority = prio);

	return bpf_tc_detach(&th, &to);
}

/* A clsact filter handle that stays the same across restarts of one tunnel. */
uint32_t fp_name_handle(const char *name)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (const char *s = name; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return 0x1ee00000u | (h & 0xfffffu);
}

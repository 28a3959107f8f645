/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcxquery IFINDEX: print the IDs of the programs on the tcx ingress hook of
 * IFINDEX (in the caller's network namespace), one line, in the order they
 * run; an empty line if there are none.  bpftool 7.1 and tc do not list tcx.
 */
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#define TCX_INGRESS 46	/* BPF_TCX_INGRESS (Linux 6.6), absent from older uapi headers */

int main(int argc, char **argv)
{
	__u32 ids[128], n = 128, flags = 0;
	int ifindex, rc;

	if (argc != 2 || (ifindex = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: tcxquery IFINDEX\n");
		return 2;
	}
	rc = bpf_prog_query(ifindex, (enum bpf_attach_type)TCX_INGRESS, 0, &flags, ids, &n);
	if (rc < 0) {
		fprintf(stderr, "tcxquery: %s\n", strerror(-rc));
		return 1;
	}
	for (__u32 i = 0; i < n; i++)
		printf(i ? " %u" : "%u", ids[i]);
	printf("\n");
	return 0;
}

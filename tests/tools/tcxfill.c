/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tcxfill IFINDEX N: attach N tcx ingress links of a program that passes
 * every packet on (TCX_NEXT), print "N" (how many the kernel took) and hold
 * them until killed, so that a test can fill the hook up to the kernel's
 * limit.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define TCX_INGRESS 46	/* BPF_TCX_INGRESS (Linux 6.6), absent from older uapi headers */

int main(int argc, char **argv)
{
	struct bpf_insn next[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },	/* TCX_NEXT */
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int ifindex, n, got = 0;

	if (argc != 3 || (ifindex = atoi(argv[1])) <= 0 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: tcxfill IFINDEX N\n");
		return 2;
	}
	while (got < n) {
		/* a program is attached once per hook: one of its own each */
		int fd, prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tcxfill", "GPL", next, 2, NULL);

		if (prog < 0) {
			fprintf(stderr, "tcxfill: load: %s\n", strerror(-prog));
			return 1;
		}
		fd = bpf_link_create(prog, ifindex, (enum bpf_attach_type)TCX_INGRESS, NULL);
		if (fd < 0) {
			fprintf(stderr, "tcxfill: link %d: %s\n", got + 1, strerror(-fd));
			break;
		}
		got++;
	}
	printf("%d\n", got);
	fflush(stdout);
	pause();
	return 0;
}

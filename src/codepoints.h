/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the C code and the eBPF programs (src/bpf/) both name, so that they
 * cannot disagree: the encapsulations, the ECN codepoints (RFC 3168) and
 * the ECN modes of encapsulation (the settings' ecn_mode, fastpath_abi.h).
 * Plain C without includes: clang -target bpf compiles it too.
 */
#ifndef IPIPD_CODEPOINTS_H
#define IPIPD_CODEPOINTS_H

/*
 * IP-in-IP (RFC 2003), in UDP as the kernel's FOU, or in UDP behind a GUE
 * header (draft-ietf-intarea-gue variant 0: a 4-byte header, protocol 4, no
 * optional fields).
 */
enum encap { ENCAP_IPIP, ENCAP_FOU, ENCAP_GUE };

#define ECN_NOT_ECT 0
#define ECN_ECT1 1
#define ECN_ECT0 2
#define ECN_CE 3

enum ecn_mode {
	ECN_MODE_NORMAL,	/* RFC 6040 4.1 normal mode: copy, CE stays CE */
	ECN_MODE_COMPAT,	/* RFC 6040 4.3 compatibility mode: Not-ECT */
	ECN_MODE_KERNEL,	/* Linux ip_tunnel: like normal, CE -> ECT(0) */
};

#endif

#!/usr/bin/python3
"""Judge what `kpkt sniff` saw (Python standard library only).

  check.py outer FILE exact|ecn-normal KERNEL_LOCAL IPIPD_LOCAL
      FILE: a sniff on the underlay while both ends sent `kpkt matrix`.
      For every inner packet (seq 0..191), the outer header the kernel built
      (source KERNEL_LOCAL) and the one ipipd built (source IPIPD_LOCAL) must
      agree in every field but the IP ID and the checksum (each checksum must be
      valid, and each source/destination must be that end's Local/Remote).
      exact: no other difference.  ecn-normal: the only difference allowed is
      the ECN field of inner-CE packets, ipipd CE where the kernel has ECT(0).
  check.py ecn FILE none|seq
      FILE: a sniff on the decapsulating end's tunnel device while the other
      end sent `kpkt ecn` (seq = inner_ecn * 4 + k).  none: the outer ECN was
      the encapsulator's own, every packet must arrive with its inner ECN.
      seq: a rule on the path set the outer ECN to k; the RFC 6040 table says
      what must arrive (inner Not-ECT under outer CE: dropped).
"""
import socket
import struct
import sys

TTLS = (1, 64, 255)
TOSS = (0x00, 0x01, 0x02, 0x03, 0x28, 0x29, 0x2A, 0x2B)
DFS = (0, 1)
SIZES = (28, 100, 1000, 1480)
ECN = ("Not-ECT", "ECT(1)", "ECT(0)", "CE")


def matrix(seq):
    z = seq % 4
    df = seq // 4 % 2
    s = seq // 8 % 8
    t = seq // 64
    return TTLS[t], TOSS[s], DFS[df], SIZES[z]


def describe(seq):
    ttl, tos, df, size = matrix(seq)
    return "seq %d (inner ttl %d tos 0x%02x %s %d bytes)" % (
        seq, ttl, tos, "DF" if df else "no DF", size)


def csum_ok(h):
    s = sum(struct.unpack("!%dH" % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def load(path):
    rows = []
    for line in open(path):
        f = line.split()
        if len(f) >= 3 and f[0] in ("in", "out"):
            rows.append((f[0], int(f[1]), [bytes.fromhex(x) for x in f[2:]]))
    return rows


def fields(h):
    return {
        "version/IHL": "0x%02x" % h[0],
        "TOS": "0x%02x" % h[1],
        "total length": str(struct.unpack("!H", h[2:4])[0]),
        "flags/fragment": "0x%04x" % struct.unpack("!H", h[6:8])[0],
        "TTL": str(h[8]),
        "protocol": str(h[9]),
    }


def cmd_outer(path, mode, klocal, ilocal):
    k_src, i_src = socket.inet_aton(klocal), socket.inet_aton(ilocal)
    kern, ipipd, errors, ecn_diffs = {}, {}, [], 0
    for _, seq, hdrs in load(path):
        if len(hdrs) != 2:
            continue
        outer, inner = hdrs
        if outer[12:16] == k_src and outer[16:20] == i_src:
            kern.setdefault(seq, (outer, inner))
        elif outer[12:16] == i_src and outer[16:20] == k_src:
            ipipd.setdefault(seq, (outer, inner))
        else:
            errors.append("seq %d: outer %s -> %s is neither end's Local -> Remote" % (
                seq, socket.inet_ntoa(outer[12:16]), socket.inet_ntoa(outer[16:20])))
    for who, got in (("kernel", kern), ("ipipd", ipipd)):
        missing = [s for s in range(192) if s not in got]
        if missing:
            errors.append("%s: %d of 192 packets not seen (first: %s)" % (
                who, len(missing), describe(missing[0])))
        for seq, (outer, inner) in got.items():
            if not csum_ok(outer):
                errors.append("%s: %s: bad outer checksum" % (who, describe(seq)))
            ttl, tos, df, size = matrix(seq)
            want = (ttl, tos, 0x4000 if df else 0, size)
            have = (inner[8], inner[1], struct.unpack("!H", inner[6:8])[0],
                    struct.unpack("!H", inner[2:4])[0])
            if want != have:
                errors.append("%s: %s: inner header changed: ttl/tos/flags/len %s" % (
                    who, describe(seq), have))
    for seq in sorted(set(kern) & set(ipipd)):
        fk, fi = fields(kern[seq][0]), fields(ipipd[seq][0])
        for name in fk:
            if fk[name] == fi[name]:
                continue
            k_tos, i_tos = kern[seq][0][1], ipipd[seq][0][1]
            inner_ce = matrix(seq)[1] & 3 == 3
            if (mode == "ecn-normal" and name == "TOS" and inner_ce and
                    k_tos & ~3 == i_tos & ~3 and k_tos & 3 == 2 and i_tos & 3 == 3):
                ecn_diffs += 1
                continue
            errors.append("%s: %s kernel %s, ipipd %s" % (describe(seq), name, fk[name],
                                                         fi[name]))
    for e in errors[:25]:
        print(e)
    if len(errors) > 25:
        print("... %d differences in all" % len(errors))
    if mode == "ecn-normal":
        want = sum(1 for s in range(192) if matrix(s)[1] & 3 == 3)
        print("ECN = normal: %d inner-CE packets have outer CE from ipipd, ECT(0) from the "
              "kernel (expected %d); no other difference" % (ecn_diffs, want) if not errors
              else "ECN = normal: %d ECN differences" % ecn_diffs)
        if ecn_diffs != want:
            errors.append("ecn")
    else:
        print("%d kernel and %d ipipd outer headers compared, %d differences" % (
            len(kern), len(ipipd), len(errors)))
    sys.exit(1 if errors else 0)


def rfc6040(inner, outer):
    """RFC 6040 section 4.2: the arriving inner ECN, or None for a drop."""
    if inner == 0:
        return None if outer == 3 else 0
    if inner == 3:
        return 3
    if outer == 3:
        return 3
    if outer == 1:
        return 1
    return inner


def cmd_ecn(path, rewrite):
    got = {}
    for d, seq, hdrs in load(path):
        if d == "in" and 0 <= seq < 16:
            got.setdefault(seq, hdrs[-1][1] & 3)
    errors = []
    for seq in range(16):
        inner = seq >> 2
        if rewrite == "none":
            outer, want = "own", inner
        else:
            outer = seq & 3
            want = rfc6040(inner, outer)
            outer = ECN[outer]
        have = got.get(seq)
        line = "inner %-7s outer %-7s -> %-8s (RFC 6040: %s)" % (
            ECN[inner], outer, "dropped" if have is None else ECN[have],
            "drop" if want is None else ECN[want])
        print(line)
        if have != want:
            errors.append(line)
    sys.exit(1 if errors else 0)


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "outer":
        cmd_outer(*sys.argv[2:6])
    elif len(sys.argv) >= 4 and sys.argv[1] == "ecn":
        cmd_ecn(*sys.argv[2:4])
    sys.exit(__doc__)


if __name__ == "__main__":
    main()

"""The frame checker of the offload tests: every frame of a capture is at most
1514 bytes, and every IPv4-in-IPv4 frame has valid outer and inner IPv4
headers and (for the protocol asked for) a valid TCP or UDP checksum.
Usage: wire.py PCAP PROTO; prints FRAMES CHECKED-L4 BIGGEST."""
import struct, sys

from inet import ETHERNET, csum, ipv4_of, pcap_records

def main(path, want_proto):
    n, l4 = 0, 0
    biggest = 0
    for linktype, f, orig in pcap_records(path):
        if linktype != ETHERNET or len(f) != orig:
            sys.exit("frame %d truncated or not Ethernet" % n)
        n += 1
        biggest = max(biggest, len(f))
        if len(f) > 1514:
            sys.exit("frame %d is %d bytes (> 1514)" % (n, len(f)))
        o = ipv4_of(linktype, f)
        if o is None or o[9] != 4:
            continue
        ohl = (o[0] & 15) * 4
        if o[0] >> 4 != 4 or csum(o[:ohl]) != 0:
            sys.exit("frame %d: bad outer IPv4 header" % n)
        i = o[ohl:struct.unpack("!H", o[2:4])[0]]
        ihl = (i[0] & 15) * 4
        itot = struct.unpack("!H", i[2:4])[0]
        if i[0] >> 4 != 4 or csum(i[:ihl]) != 0 or itot != len(i):
            sys.exit("frame %d: bad inner IPv4 header" % n)
        if i[9] in (6, 17) and i[9] == want_proto:
            seg = i[ihl:]
            pseudo = i[12:20] + struct.pack("!BBH", 0, i[9], len(seg))
            if csum(pseudo + seg) != 0:
                sys.exit("frame %d: bad inner %s checksum" % (n, "TCP" if i[9] == 6 else "UDP"))
            l4 += 1
    print(n, l4, biggest)

main(sys.argv[1], int(sys.argv[2]))

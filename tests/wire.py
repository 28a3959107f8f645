"""The frame checker of the offload tests: every frame of a capture is at most
1514 bytes, and every IPv4-in-IPv4 frame has valid outer and inner IPv4
headers and (for the protocol asked for) a valid TCP or UDP checksum.
Usage: wire.py PCAP PROTO; prints FRAMES CHECKED-L4 BIGGEST."""
import struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

def main(path, want_proto):
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    end = "<" if magic == 0xA1B2C3D4 else ">"
    linktype = struct.unpack(end + "I", d[20:24])[0]
    off, n, l4 = 24, 0, 0
    biggest = 0
    while off + 16 <= len(d):
        _, _, incl, orig = struct.unpack(end + "IIII", d[off:off + 16])
        f = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype != 1 or incl != orig:
            sys.exit("frame %d truncated or not Ethernet" % n)
        n += 1
        biggest = max(biggest, len(f))
        if len(f) > 1514:
            sys.exit("frame %d is %d bytes (> 1514)" % (n, len(f)))
        if f[12:14] != b"\x08\x00":
            continue
        o = f[14:]
        if o[9] != 4:
            continue
        ohl = (o[0] & 15) * 4
        if o[0] >> 4 != 4 or csum(o[:ohl]) != 0xFFFF:
            sys.exit("frame %d: bad outer IPv4 header" % n)
        i = o[ohl:struct.unpack("!H", o[2:4])[0]]
        ihl = (i[0] & 15) * 4
        itot = struct.unpack("!H", i[2:4])[0]
        if i[0] >> 4 != 4 or csum(i[:ihl]) != 0xFFFF or itot != len(i):
            sys.exit("frame %d: bad inner IPv4 header" % n)
        if i[9] in (6, 17) and i[9] == want_proto:
            seg = i[ihl:]
            pseudo = i[12:20] + struct.pack("!BBH", 0, i[9], len(seg))
            if csum(pseudo + seg) != 0xFFFF:
                sys.exit("frame %d: bad inner %s checksum" % (n, "TCP" if i[9] == 6 else "UDP"))
            l4 += 1
    print(n, l4, biggest)

main(sys.argv[1], int(sys.argv[2]))

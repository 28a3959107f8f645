#!/usr/bin/python3
"""Packet crafting and pcap checks for tests/integration/conformance.sh.

  send SPEC...        send inner packets (198.51.100.1 -> .2 unless src=/dst=) with a raw
                      socket; SPEC: n= ttl= tos= df=0|1 id= opt=rr|lsrr|ssrr size= src= dst=
                      pace=K (pause 2 ms every K packets), outer=SRC>DST (wrap in an outer header, otos= sets its TOS byte)
                      idstep=1 (inner ID += i).  Prints the hex of each packet sent.
  expect PCAP EXPR    evaluate EXPR over P, the list of IPv4 packets in PCAP (Ethernet
                      or raw linktype); each p has .b (bytes), .ver .ihl .tos .dscp .ecn
                      .tot .id .df .mf .off .ttl .proto .src .dst .ok (checksum) .opts
                      and .inner (the same for protocol 4, else None).  S = lines sent.
"""
import socket
import struct
import sys
import time

from inet import csum, ipv4_of, pcap_records


OPTS = {"rr": bytes([7, 11, 4]) + b"\0" * 8 + b"\1",          # record route, 12 bytes
        "lsrr": bytes([0x83, 7, 4, 192, 0, 2, 77, 0]),
        "ssrr": bytes([0x89, 7, 4, 192, 0, 2, 77, 0])}


def ipv4(src, dst, proto, payload, ttl=64, tos=0, df=1, ident=0x1234, opt=b""):
    hl = 20 + len(opt)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | hl // 4, tos, hl + len(payload), ident,
                    0x4000 if df else 0, ttl, proto, 0, socket.inet_aton(src),
                    socket.inet_aton(dst)) + opt
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def echo(n):
    b = struct.pack("!BBHHH", 8, 0, 0, 0x4343, 1) + bytes(i & 0xFF for i in range(n))
    return b[:2] + struct.pack("!H", csum(b)) + b[4:]


def fragments(p, size):
    """The IPv4 packet p (no options) as fragments of at most size payload bytes."""
    size -= size % 8
    h, data, out = p[:20], p[20:], []
    for off in range(0, len(data), size):
        piece = data[off:off + size]
        fo = off // 8 | (0x2000 if off + size < len(data) else 0)
        f = h[:2] + struct.pack("!H", 20 + len(piece)) + h[4:6] + struct.pack("!H", fo) + h[8:10] + b"\0\0" + h[12:20]
        out.append(f[:10] + struct.pack("!H", csum(f)) + f[12:] + piece)
    return out


def cmd_send(*spec):
    a = dict(x.split("=", 1) for x in spec)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    size = int(a.get("size", 84))
    opt = OPTS[a["opt"]] if "opt" in a else b""
    for i in range(int(a.get("n", 1))):
        ident = (int(a.get("id", "0x1234"), 0) + i * int(a.get("idstep", "0"))) & 0xFFFF
        p = ipv4(a.get("src", "198.51.100.1"), a.get("dst", "198.51.100.2"), 1,
                 echo(size - 28 - len(opt)), ttl=int(a.get("ttl", 64)),
                 tos=int(a.get("tos", "0"), 0), df=int(a.get("df", 1)), ident=ident, opt=opt)
        dst = a.get("dst", "198.51.100.2")
        if "outer" in a:
            osrc, dst = a["outer"].split(">")
            p = ipv4(osrc, dst, 4, p, tos=int(a.get("otos", "0"), 0), ident=i + 1,
                     df=0 if "ofrag" in a else 1)
        try:
            for f in fragments(p, int(a["ofrag"])) if "ofrag" in a else [p]:
                s.sendto(f, (dst, 0))
        except OSError as e:
            print("error", e.errno)
        print(p.hex(), flush=True)
        if "pace" in a and i % int(a["pace"]) == int(a["pace"]) - 1:
            time.sleep(0.002)


class Pkt:
    def __init__(self, b):
        self.b = b
        self.ver, self.ihl = b[0] >> 4, (b[0] & 15) * 4
        self.tos = b[1]
        self.dscp, self.ecn = b[1] >> 2, b[1] & 3
        self.tot, self.id, fo = struct.unpack("!HHH", b[2:8])
        self.df, self.mf, self.off = bool(fo & 0x4000), bool(fo & 0x2000), fo & 0x1FFF
        self.ttl, self.proto = b[8], b[9]
        self.src, self.dst = socket.inet_ntoa(b[12:16]), socket.inet_ntoa(b[16:20])
        self.ok = csum(b[:self.ihl]) == 0
        self.opts = b[20:self.ihl]
        self.payload = b[self.ihl:self.tot]
        self.inner = Pkt(self.payload) if self.proto == 4 and len(self.payload) >= 20 else None


def packets(path):
    out = []
    for linktype, f, _ in pcap_records(path):
        f = ipv4_of(linktype, f)
        if f is not None and len(f) >= 20 and f[0] >> 4 == 4:
            out.append(Pkt(f))
    return out


def cmd_expect(path, expr, sent=None):
    P = packets(path)
    S = [bytes.fromhex(l.split()[0]) for l in open(sent)] if sent else []
    r = eval(expr, {"P": P, "S": S, "Pkt": Pkt, "len": len, "all": all, "any": any,
                    "set": set, "sorted": sorted})
    if not r:
        for p in P[:8]:
            print("pkt", p.b[:64].hex())
        sys.exit("expectation failed: %s (%d packets)" % (expr, len(P)))


if __name__ == "__main__":
    cmds = {"send": cmd_send, "expect": cmd_expect}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])

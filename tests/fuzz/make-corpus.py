#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpora of the fuzz harnesses into tests/fuzz/corpus/.

    tests/fuzz/make-corpus.py

decap inputs are one settings byte (see fuzz_decap.c) and then a packet as
received from the peer 192.0.2.1 by the tunnel end 192.0.2.2.  encap inputs
have the same format (fuzz_decap and fuzz_differential replay both corpora)
and hold packets as routed into the tunnel device of 192.0.2.2, whose
address is 203.0.113.5.
offload inputs are TUN reads (a virtio_net_hdr and a TSO/USO super-packet or a
packet with a partial checksum) and batches of received packets for GRO; the
format is in fuzz_offload.c.
The found-* files are inputs libFuzzer found; they are kept, not generated.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from inet import csum  # noqa: E402 (tests/inet.py)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

LOCAL = bytes([192, 0, 2, 2])
REMOTE = bytes([192, 0, 2, 1])
INNER_SRC = bytes([203, 0, 113, 1])
INNER_DST = bytes([203, 0, 113, 5])
TUN_ADDR = INNER_DST            # the tunnel address of 192.0.2.2 (fuzz_differential.c)
PEER = INNER_SRC
HOST_ADDR = bytes([203, 0, 113, 99])    # one of the host's addresses in fuzz_differential.c
FAR = bytes([198, 51, 100, 50])         # somewhere behind the peer

# Settings byte: bits 0-1 ECN mode, 2 DSCP uniform, 3 TOS inherit, 4 pmtudisc,
# 5 fixed TTL 64, 6-7 fixed TOS index.
NORMAL, COMPAT, KERNEL = 0, 1, 2
UNIFORM, TOS_INHERIT, PMTUDISC, TTL64 = 0x04, 0x08, 0x10, 0x20
DEFAULT = NORMAL | PMTUDISC


def ipv4(payload, src, dst, proto, tos=0, ttl=64, flags=0x4000, options=b"",
         ihl=None, length=None, check=None):
    """An IPv4 header plus payload; ihl/length/check override the computed fields."""
    hlen = 20 + len(options)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl if ihl is not None else hlen // 4), tos,
                    length if length is not None else hlen + len(payload), 0x1234, flags,
                    ttl, proto, 0, src, dst) + options
    c = csum(h) if check is None else check
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def icmp_echo(data=b"ipipd fuzz seed!"):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + data
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def ping(tos=0, ttl=64, options=b"", **kw):
    return ipv4(icmp_echo(), INNER_SRC, INNER_DST, 1, tos=tos, ttl=ttl, options=options, **kw)


def l4_csum(src, dst, proto, seg):
    return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def tcp(src, dst, payload=b"", flags=0x18, options=b"", sport=40000, dport=443):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 0x1000, 0x2000,
                      (5 + len(options) // 4) << 4, flags, 64240, 0, 0) + options
    seg = hdr + payload
    c = l4_csum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, payload=b"", sport=53000, dport=53, zero_csum=False):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = 0 if zero_csum else (l4_csum(src, dst, 17, seg) or 0xFFFF)
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def filler(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def tcp_packet(size, src=TUN_ADDR, dst=PEER, **kw):
    """A TCP segment of size bytes in all (IPv4 header without options)."""
    return ipv4(tcp(src, dst, filler(size - 40)), src, dst, 6, **kw)


def udp_packet(size, src=TUN_ADDR, dst=PEER, **kw):
    return ipv4(udp(src, dst, filler(size - 28)), src, dst, 17, **kw)


def icmp_packet(size, src=TUN_ADDR, dst=PEER, **kw):
    return ipv4(icmp_echo(filler(size - 28)), src, dst, 1, **kw)


SYN_OPTIONS = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x10\x00\x00\x00\x00\x00\x01\x03\x03\x07"
DNS_QUERY = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
IP_OPTIONS = {
    "router-alert": b"\x94\x04\x00\x00",
    "nop-eol": b"\x01\x01\x01\x00",
    "lsrr": b"\x83\x07\x04" + bytes([198, 51, 100, 9]) + b"\x00",
    "ssrr": b"\x89\x07\x04" + bytes([198, 51, 100, 9]) + b"\x00",
    "record-route": b"\x07\x0b\x04" + bytes(8) + b"\x00",
    "timestamp": b"\x44\x0c\x05\x00" + bytes(8),
    "malformed-length": b"\x07\x01\x00\x00",
}


def outer(inner, tos=0, src=REMOTE, dst=LOCAL, proto=4, **kw):
    return ipv4(inner, src, dst, proto, tos=tos, **kw)


def decap_seeds():
    s = {}
    s["ping"] = bytes([DEFAULT]) + outer(ping())
    s["ping-inner-options"] = bytes([DEFAULT]) + outer(
        ping(options=b"\x94\x04\x00\x00"))          # router alert
    s["ping-outer-options"] = bytes([DEFAULT | TTL64]) + outer(
        ping(), options=b"\x01\x01\x01\x00")        # NOP NOP NOP EOL
    s["ping-padded"] = bytes([DEFAULT]) + outer(ping() + bytes(6))  # inner shorter than outer
    s["ping-uniform"] = bytes([KERNEL | UNIFORM | TOS_INHERIT | PMTUDISC]) + outer(
        ping(tos=0x28), tos=0xb8)
    # Every RFC 6040 inner/outer ECN combination, under the three modes in turn.
    names = ["notect", "ect1", "ect0", "ce"]
    for i in range(4):
        for o in range(4):
            mode = (4 * i + o) % 3
            s["ecn-%s-in-%s" % (names[i], names[o])] = bytes([mode | PMTUDISC | (0x40 * o)]) + \
                outer(ping(tos=0x20 | i), tos=0x48 | o)
    good = outer(ping())
    s["bad-empty"] = bytes([DEFAULT])
    s["bad-truncated"] = bytes([DEFAULT]) + good[:30]
    s["bad-outer-ihl"] = bytes([DEFAULT]) + outer(ping(), ihl=4)
    s["bad-outer-checksum"] = bytes([DEFAULT]) + outer(ping(), check=0xbeef)
    s["bad-outer-protocol"] = bytes([DEFAULT]) + outer(ping(), proto=41)
    s["bad-outer-fragment"] = bytes([DEFAULT]) + outer(ping(), flags=0x2000)
    s["bad-wrong-source"] = bytes([DEFAULT]) + outer(ping(), src=bytes([198, 51, 100, 7]))
    s["bad-wrong-destination"] = bytes([DEFAULT]) + outer(ping(), dst=bytes([192, 0, 2, 99]))
    s["bad-inner-short"] = bytes([DEFAULT]) + outer(ping()[:12])
    s["bad-inner-length"] = bytes([DEFAULT]) + outer(ping()[:24])
    s["bad-inner-ihl"] = bytes([DEFAULT]) + outer(ping(ihl=15))
    s["bad-inner-checksum"] = bytes([DEFAULT]) + outer(ping(check=0x0bad))
    s["bad-inner-ttl0"] = bytes([DEFAULT]) + outer(ping(ttl=0))
    v6 = struct.pack("!IHBB16s16s", 0x60000000, 8, 17, 64, b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\1",
                     b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\2") + b"\x12\x34\x00\x35\x00\x08\x00\x00"
    s["bad-inner-ipv6"] = bytes([DEFAULT]) + outer(v6)
    # Packets as read from the TUN device, for the encapsulation side.
    s["tx-ping-nopmtudisc"] = bytes([COMPAT | TOS_INHERIT]) + ping(tos=0xb9)
    s["tx-ipv6"] = bytes([DEFAULT]) + v6
    return s


def decap_more_seeds():
    """Packets from the peer that the differential harness compares (added later)."""
    s = {}
    for size in (40, 576, 999, 1000, 1001, 1480, 1481, 3678):
        s["rx-tcp-%d" % size] = bytes([DEFAULT]) + outer(tcp_packet(size, PEER, TUN_ADDR))
    s["rx-udp-dns"] = bytes([DEFAULT]) + outer(ipv4(udp(PEER, TUN_ADDR, DNS_QUERY), PEER,
                                                    TUN_ADDR, 17))
    s["rx-udp-1480"] = bytes([KERNEL | UNIFORM]) + outer(udp_packet(1480, PEER, TUN_ADDR),
                                                         tos=0xb9)
    s["rx-icmp-ttl1"] = bytes([DEFAULT]) + outer(icmp_packet(84, PEER, TUN_ADDR, ttl=1))
    # Inner sources: the host's own addresses, Local, AllowedSources edges
    for name, src in (("host-address", HOST_ADDR), ("tunnel-address", TUN_ADDR),
                      ("local", LOCAL), ("remote", REMOTE), ("zero", bytes(4)),
                      ("allowed-10", bytes([10, 200, 1, 1])),
                      ("host-in-allowed-10", bytes([10, 1, 2, 3])),
                      ("allowed-172-16-12-last", bytes([172, 31, 255, 254])),
                      ("not-allowed-172-32", bytes([172, 32, 0, 1])),
                      ("allowed-25-last", bytes([203, 0, 113, 127])),
                      ("not-allowed-25-above", bytes([203, 0, 113, 128])),
                      ("allowed-32", bytes([198, 51, 100, 7])),
                      ("not-allowed-32-next", bytes([198, 51, 100, 8])),
                      ("anywhere", bytes([8, 8, 8, 8])),
                      ("broadcast", bytes([255, 255, 255, 255]))):
        s["rx-source-" + name] = bytes([DEFAULT]) + outer(
            ipv4(icmp_echo(), src, TUN_ADDR, 1))
    for name, opt in IP_OPTIONS.items():
        s["rx-inner-option-" + name] = bytes([DEFAULT]) + outer(ping(options=opt))
    s["rx-outer-option-router-alert"] = bytes([DEFAULT]) + outer(
        ping(), options=IP_OPTIONS["router-alert"])
    # The outer packet shorter than the frame (Ethernet pads a frame to 60 bytes)
    s["rx-frame-padding"] = bytes([DEFAULT]) + outer(ipv4(b"", PEER, TUN_ADDR, 59)) + bytes(6)
    s["rx-outer-df"] = bytes([DEFAULT]) + outer(ping(), flags=0x4000)
    s["rx-outer-no-df"] = bytes([DEFAULT]) + outer(ping(), flags=0)
    s["rx-outer-reserved-flag"] = bytes([DEFAULT]) + outer(ping(), flags=0x8000)
    s["rx-outer-last-fragment"] = bytes([DEFAULT]) + outer(ping(), flags=0x0010)
    s["rx-outer-ttl0"] = bytes([DEFAULT]) + outer(ping(), ttl=0)
    s["rx-inner-first-fragment"] = bytes([DEFAULT]) + outer(ping(flags=0x2000))
    s["rx-inner-last-fragment"] = bytes([DEFAULT]) + outer(ping(flags=0x00b9))
    s["rx-outer-other-protocol"] = bytes([DEFAULT]) + outer(ping(), proto=47)
    s["rx-outer-ipv4-header-only"] = bytes([DEFAULT]) + outer(b"")
    # fuzz_differential.c's hub: from its other peer 192.0.2.3, an inner source
    # routed back to it (150.0.0.1), and one routed to 192.0.2.1 (203.0.113.1)
    other = bytes([192, 0, 2, 3])
    for name, src in (("own-route", bytes([150, 0, 0, 1])), ("other-site", INNER_SRC)):
        s["hub-from-other-peer-" + name] = bytes([DEFAULT]) + outer(
            ipv4(udp(src, TUN_ADDR, b"h" * 40), src, TUN_ADDR, 17), src=other)
    return s


def encap_seeds():
    """Packets routed into the tunnel device, to be encapsulated."""
    s = {}
    tcp_syn = ipv4(tcp(TUN_ADDR, FAR, flags=0x02, options=SYN_OPTIONS), TUN_ADDR, FAR, 6)
    s["tcp-syn"] = bytes([DEFAULT]) + tcp_syn
    s["tcp-syn-ttl64-kernel"] = bytes([KERNEL | PMTUDISC | TTL64]) + tcp_syn
    for size in (40, 576, 999, 1000, 1001, 1259, 1260, 1261, 1479, 1480, 1481, 1500, 2000,
                 2999, 3000, 3001, 3698):
        s["tcp-%d" % size] = bytes([DEFAULT]) + tcp_packet(size)
        s["tcp-%d-no-df-nopmtudisc" % size] = bytes([NORMAL]) + tcp_packet(size, flags=0)
    s["udp-dns"] = bytes([DEFAULT]) + ipv4(udp(TUN_ADDR, FAR, DNS_QUERY), TUN_ADDR, FAR, 17)
    s["udp-no-checksum"] = bytes([DEFAULT]) + ipv4(udp(TUN_ADDR, FAR, b"x" * 100, zero_csum=True),
                                                   TUN_ADDR, FAR, 17)
    for size in (28, 1000, 1001, 1480, 1481):
        s["udp-%d" % size] = bytes([COMPAT | TOS_INHERIT | PMTUDISC]) + udp_packet(size, tos=0x2e)
        s["icmp-%d" % size] = bytes([DEFAULT]) + icmp_packet(size)
    s["icmp-unreachable"] = bytes([DEFAULT]) + ipv4(
        struct.pack("!BBHI", 3, 3, 0, 0) + tcp_syn[:28], TUN_ADDR, FAR, 1)
    s["header-only"] = bytes([DEFAULT]) + ipv4(b"", TUN_ADDR, PEER, 253)
    s["multicast"] = bytes([DEFAULT]) + ipv4(udp(TUN_ADDR, bytes([224, 0, 0, 251]), b"m" * 30),
                                             TUN_ADDR, bytes([224, 0, 0, 251]), 17, ttl=1)
    for name, opt in IP_OPTIONS.items():
        s["option-" + name] = bytes([DEFAULT]) + icmp_packet(84, options=opt)
    for ttl in (0, 1, 63, 64, 65, 255):
        s["ttl-%d" % ttl] = bytes([DEFAULT]) + icmp_packet(84, ttl=ttl)
        s["ttl-%d-fixed-64" % ttl] = bytes([DEFAULT | TTL64]) + icmp_packet(84, ttl=ttl)
    # Every TOS byte, under settings that go round the ECN modes, DSCP
    # handling, TOS inherit and the fixed TOS values.
    for tos in range(256):
        settings = (tos * 37 + 11) & 0xFF
        s["tos-%02x" % tos] = bytes([settings]) + udp_packet(60, tos=tos)
    # Fragments: first (MF), middle, last; DF with and without DiscoverPathMTU
    s["fragment-first"] = bytes([DEFAULT]) + ipv4(filler(1000), TUN_ADDR, FAR, 17, flags=0x2000)
    s["fragment-middle"] = bytes([NORMAL]) + ipv4(filler(1000), TUN_ADDR, FAR, 17, flags=0x207d)
    s["fragment-last"] = bytes([NORMAL]) + ipv4(filler(200), TUN_ADDR, FAR, 17, flags=0x00fa)
    s["df-nopmtudisc"] = bytes([NORMAL | TOS_INHERIT]) + tcp_packet(1480, flags=0x4000)
    s["df-nopmtudisc-too-big"] = bytes([NORMAL]) + tcp_packet(1481, flags=0x4000)
    # Loops (RFC 2003 3.2 and the kernel's "DeadLoop"): the exit point as the
    # inner source; our own outer packet routed back in; near misses.
    s["loop-source-remote"] = bytes([DEFAULT]) + icmp_packet(84, src=REMOTE)
    s["loop-own-outer-packet"] = bytes([DEFAULT]) + outer(icmp_packet(84), src=LOCAL, dst=REMOTE)
    s["loop-near-ipip-local-to-other"] = bytes([DEFAULT]) + outer(icmp_packet(84), src=LOCAL,
                                                                  dst=FAR)
    s["loop-near-local-to-remote-icmp"] = bytes([DEFAULT]) + icmp_packet(84, src=LOCAL, dst=REMOTE)
    s["loop-near-to-remote"] = bytes([DEFAULT]) + icmp_packet(84, dst=REMOTE)
    # What the encapsulator refuses
    good = icmp_packet(84)
    s["bad-trailing-bytes"] = bytes([DEFAULT]) + good + bytes(4)
    s["bad-truncated"] = bytes([DEFAULT]) + good[:60]
    s["bad-ihl-4"] = bytes([DEFAULT]) + icmp_packet(84, ihl=4)
    s["bad-ihl-15"] = bytes([DEFAULT]) + good[:20] + bytes([0x4f]) + good[21:]
    s["bad-ihl-15-short"] = bytes([DEFAULT]) + bytes([0x4f]) + good[1:40]
    s["bad-length-zero"] = bytes([DEFAULT]) + icmp_packet(84, length=0)
    s["bad-version-0"] = bytes([DEFAULT]) + bytes([0x05]) + good[1:]
    s["bad-header-19"] = bytes([DEFAULT]) + good[:19]
    s["bad-one-byte"] = bytes([DEFAULT]) + good[:1]
    v6 = struct.pack("!IHBB16s16s", 0x60000000, 8, 17, 64, b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\1",
                     b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\2") + b"\x12\x34\x00\x35\x00\x08\x00\x00"
    s["bad-ipv6"] = bytes([DEFAULT]) + v6
    # fuzz_differential.c's hub: routes via a peer outside AllowedRemotes (10.0.0.0/8),
    # without a gateway (198.51.100.0/24), via the other peer 192.0.2.3 (128.0.0.0/1)
    for name, dst in (("not-allowed", bytes([10, 1, 2, 3])), ("no-gateway", FAR),
                      ("other-peer", bytes([150, 0, 0, 1]))):
        s["hub-" + name] = bytes([DEFAULT]) + ipv4(udp(TUN_ADDR, dst, b"h" * 40), TUN_ADDR, dst, 17)
    return s


CONFIG_MOE = """\
# The HOWTO's home end.
[Tunnel]
Name = Moe
Local = 192.0.2.42
Remote = 198.51.100.2

[Address]
Address = 203.0.113.5/32
Peer = 203.0.113.1
"""

CONFIG_FULL = """\
; every key
[Tunnel]
Name=tun-full
Local=10.0.0.1
Remote=10.0.0.2
TTL=64
TOS=0x10 ; inline comment
DiscoverPathMTU=yes
MTU=1400
ECN=kernel
DSCP=uniform
[Address]
Address=172.16.0.1/30
"""

MINIMAL = "[Tunnel]\nLocal = 10.0.0.1\nRemote = 10.0.0.2\n[Address]\nAddress = 10.9.0.1/24\n"


def config_seeds():
    s = {}
    s["moe.conf"] = CONFIG_MOE
    s["full.conf"] = CONFIG_FULL
    s["minimal.conf"] = MINIMAL
    s["inherit.conf"] = MINIMAL.replace("[Address]", "TTL = inherit\nTOS = inherit\n"
                                        "DiscoverPathMTU = no\nECN = compatibility\n"
                                        "DSCP = pipe\n[Address]")
    s["crlf.conf"] = MINIMAL.replace("\n", "\r\n")
    s["bad-missing-section.conf"] = "[Tunnel]\nLocal = 10.0.0.1\nRemote = 10.0.0.2\n"
    s["bad-unknown-key.conf"] = MINIMAL + "Colour = blue\n"
    s["bad-duplicate-key.conf"] = MINIMAL.replace("Remote", "Remote = 10.0.0.3\nRemote", 1)
    s["bad-duplicate-section.conf"] = MINIMAL + "[Tunnel]\nMTU = 1400\n"
    s["bad-address.conf"] = MINIMAL.replace("10.9.0.1/24", "10.9.0.1/33")  # (without a length it is /32)
    s["bad-values.conf"] = MINIMAL.replace(
        "[Address]", "TTL = 256\nTOS = -1\nMTU = 67\nECN = maybe\nDSCP = 0\n"
        "DiscoverPathMTU = perhaps\nName = a/b\n[Address]").replace("10.0.0.2", "224.0.0.1")
    s["bad-ttl-nopmtudisc.conf"] = MINIMAL.replace("[Address]", "TTL = 64\nDiscoverPathMTU = no\n[Address]")
    s["bad-local-is-remote.conf"] = MINIMAL.replace("10.0.0.2", "10.0.0.1")
    s["bad-syntax.conf"] = "[Tunnel\nLocal 10.0.0.1\n"
    s["bad-outside-section.conf"] = "Name = x\n" + MINIMAL
    s["bad-empty-value.conf"] = MINIMAL.replace("10.0.0.2", "")
    s["bad-unknown-section.conf"] = MINIMAL + "[Routes]\nRoute = 0.0.0.0/0\n"
    return {k: v.encode() for k, v in s.items()}


def control_seeds():
    return {
        "get": b"get=1\n\n",
        "down": b"down=1\n\n",
        "get-no-blank-line": b"get=1\n",
        "get-extra": b"get=1\nname=x\n\n",
        "junk": b"set=1\nlisten_port=51820\n\n",
        "empty-line": b"\n\n",
    }


# ---- offload: see fuzz_offload.c for the input format --------------------

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x80
NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_UDP, GSO_TCPV6, GSO_UDP_L4, GSO_ECN = 0, 1, 3, 4, 5, 0x80
GRO_TCP, GRO_UDP = 1, 2
# rx packet control bits
RX_FIX_IP, RX_FIX_L4, RX_PARTIAL, RX_CONTINUE, RX_CORRUPT, RX_LONG = 1, 2, 4, 8, 16, 32
# tx repairs (byte 0 bits 1-4)
TX_FIX_LEN, TX_NORMALIZE, TX_KERNEL_META, TX_LONG = 1, 2, 4, 8
APP_SRC = bytes([10, 9, 0, 1])
APP_DST = bytes([10, 9, 0, 2])


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo_sum(src, dst, proto, l4len):
    return fold(sum(struct.unpack("!4H", src + dst)) + proto + l4len)


def l4_csum(src, dst, proto, l4):
    """The complete checksum of a TCP or UDP segment l4 (checksum field zero)."""
    data = l4 + (b"\0" if len(l4) % 2 else b"")
    s = pseudo_sum(src, dst, proto, len(l4)) + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    c = ~fold(s) & 0xFFFF
    return 0xFFFF if c == 0 and proto == 17 else c


def payload(n, seed):
    return bytes((seed * 131 + i * 7 + (i >> 8)) & 0xFF for i in range(n))


def tcp_seg(data, seq, flags=TCP_ACK, src=APP_SRC, dst=APP_DST, sport=40000, dport=5201,
            ack=0x01020304, window=512, options=b"\x01\x01\x08\x0a\xaa\xbb\xcc\xdd\x11\x22\x33\x44",
            csum="full", ip_id=1, tos=0, ip_options=b"", ipflags=0x4000):
    """An IPv4/TCP packet (timestamps by default); csum full, partial (pseudo-header
    sum, as CHECKSUM_PARTIAL leaves it), bad, or an int."""
    doff = (20 + len(options)) // 4
    t = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack, doff << 4, flags,
                    window, 0, 0) + options + data
    if csum == "full":
        c = l4_csum(src, dst, 6, t)
    elif csum == "partial":
        c = pseudo_sum(src, dst, 6, len(t))
    elif csum == "bad":
        c = l4_csum(src, dst, 6, t) ^ 0x0100
    else:
        c = csum
    t = t[:16] + struct.pack("!H", c) + t[18:]
    return ipv4_id(t, src, dst, 6, ip_id, tos=tos, options=ip_options, flags=ipflags)


def udp_seg(data, src=APP_SRC, dst=APP_DST, sport=5000, dport=5201, csum="full", ip_id=1,
            ulen=None):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data) if ulen is None else ulen, 0) + data
    if csum == "full":
        c = l4_csum(src, dst, 17, u)
    elif csum == "partial":
        c = pseudo_sum(src, dst, 17, len(u))
    elif csum == "bad":
        c = l4_csum(src, dst, 17, u) ^ 0x0100
    else:
        c = csum
    u = u[:6] + struct.pack("!H", c) + u[8:]
    return ipv4_id(u, src, dst, 17, ip_id)


def ipv4_id(payload_, src, dst, proto, ip_id, tos=0, options=b"", flags=0x4000):
    p = ipv4(payload_, src, dst, proto, tos=tos, flags=flags, options=options)
    p = p[:4] + struct.pack("!H", ip_id) + p[6:10] + b"\0\0" + p[12:]
    hl = (p[0] & 15) * 4
    return p[:10] + struct.pack("!H", csum(p[:hl])) + p[12:]


def vnet(flags=0, gso_type=GSO_NONE, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    """struct virtio_net_hdr as the TUN device gives it (machine order: little endian here)."""
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def tx(pkt, repair=0, **hdr):
    return bytes([repair << 1]) + vnet(**hdr) + pkt


def tso(pkt, gso_size, gso_type=GSO_TCPV4, l4=6):
    hl = (pkt[0] & 15) * 4
    return tx(pkt, flags=NEEDS_CSUM, gso_type=gso_type, hdr_len=hl + (20 if l4 == 6 else 8),
              gso_size=gso_size, csum_start=hl, csum_offset=16 if l4 == 6 else 6)


def rx(pkts, flags=GRO_TCP, mtu=1500):
    """A GRO batch: pkts are bytes (ctl 0), (ctl, bytes) or (ctl, bytes, length):
    with RX_LONG one byte and the length of the bytes the harness generates."""
    out = bytes([1 | flags << 1]) + struct.pack("!H", mtu)
    for p in pkts:
        if not isinstance(p, tuple):
            p = (0, p)
        ctl, data = p[0], p[1]
        out += bytes([ctl]) + struct.pack("!H", p[2] if len(p) > 2 else len(data)) + data
    return out


def tcp_flow(n, mss, seq=1000, last=TCP_ACK | TCP_PSH, **kw):
    return [tcp_seg(payload(mss, i), seq + i * mss, last if i == n - 1 else TCP_ACK,
                    ip_id=i + 1, **kw) for i in range(n)]


def udp_csum_zero(data, at):
    """data with the 16-bit word at offset at (even) chosen so that the UDP
    checksum of a segment carrying data computes to 0 (stored as 0xffff)."""
    for w in range(0x10000):
        d = data[:at] + struct.pack("!H", w) + data[at + 2:]
        u = struct.pack("!HHHH", 5000, 5201, 8 + len(d), 0) + d
        if l4_csum(APP_SRC, APP_DST, 17, u) == 0xFFFF and \
                fold(pseudo_sum(APP_SRC, APP_DST, 17, len(u)) +
                     sum(struct.unpack("!%dH" % (len(u) // 2), u))) == 0xFFFF:
            return d
    raise ValueError("no word makes the checksum 0")


def offload_seeds():
    s = {}
    # tx: super-packets and partial checksums as a TUN device with offloads hands them over
    s["tx-tso-tcp"] = tso(tcp_seg(payload(4 * 1200 + 300, 1), 7, TCP_ACK | TCP_PSH,
                                  csum="partial"), 1200)
    s["tx-tso-tcp-ecn-fin"] = tx(tcp_seg(payload(3000, 2), 0xFFFFF000,
                                         TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR, csum="partial",
                                         ip_id=0xFFFE, tos=2), flags=NEEDS_CSUM,
                                 gso_type=GSO_TCPV4 | GSO_ECN, hdr_len=9999, gso_size=536,
                                 csum_start=20, csum_offset=16)
    s["tx-tso-tcp-ip-options"] = tso(tcp_seg(payload(2500, 3), 1, csum="partial",
                                             ip_options=b"\x94\x04\x00\x00"), 1000)
    s["tx-tso-tcp-mss-8"] = tso(tcp_seg(payload(300, 4), 1, options=b"", csum="partial"), 8)
    s["tx-tso-tcp-one-segment"] = tso(tcp_seg(payload(100, 5), 5, csum="partial"), 1400)
    s["tx-tso-tcp-header-only"] = tso(tcp_seg(b"", 5, csum="partial"), 1400)
    s["tx-tso-tcp-no-needs-csum"] = tx(tcp_seg(payload(2000, 6), 9, csum=0), gso_type=GSO_TCPV4,
                                       gso_size=700)
    s["tx-uso"] = tso(udp_seg(payload(3 * 1200 + 7, 7), csum="partial"), 1200,
                      gso_type=GSO_UDP_L4, l4=17)
    s["tx-uso-one-segment"] = tso(udp_seg(payload(200, 8), csum="partial"), 1200,
                                  gso_type=GSO_UDP_L4, l4=17)
    s["tx-uso-bad-udp-length"] = tso(udp_seg(payload(1500, 9), csum="partial", ulen=3), 1000,
                                     gso_type=GSO_UDP_L4, l4=17)
    # A segment whose UDP checksum computes to 0: sent as 0xffff (0 is "no checksum").
    first = udp_csum_zero(payload(100, 17), 98)
    s["tx-uso-csum-zero"] = tso(udp_seg(first + payload(150, 18), csum="partial"), 100,
                                gso_type=GSO_UDP_L4, l4=17)
    s["tx-csum-tcp"] = tx(tcp_seg(payload(700, 10), 1000, csum="partial"), flags=NEEDS_CSUM,
                          csum_start=20, csum_offset=16)
    s["tx-csum-udp"] = tx(udp_seg(payload(333, 11), csum="partial"), flags=NEEDS_CSUM,
                          csum_start=20, csum_offset=6)
    s["tx-csum-odd-length"] = tx(udp_seg(payload(33, 12), csum="partial"), flags=NEEDS_CSUM,
                                 csum_start=20, csum_offset=6)
    s["tx-plain"] = tx(ping())
    good = tcp_seg(payload(3000, 13), 1, csum="partial")
    s["tx-bad-csum-start"] = tx(good, flags=NEEDS_CSUM, csum_start=len(good), csum_offset=0)
    s["tx-bad-csum-offset"] = tx(good, flags=NEEDS_CSUM, csum_start=20, csum_offset=len(good) - 21)
    s["tx-bad-tcpv6"] = tso(good, 1000, gso_type=GSO_TCPV6)
    s["tx-bad-ufo"] = tso(good, 1000, gso_type=GSO_UDP)
    s["tx-bad-proto"] = tso(good, 1000, gso_type=GSO_UDP_L4, l4=17)
    s["tx-bad-gso-size-0"] = tso(good, 0)
    s["tx-bad-length"] = tso(good[:-1], 1000)
    s["tx-bad-truncated"] = tso(good[:30], 1000)
    s["tx-bad-fragment"] = tso(good[:6] + b"\x20\x00" + good[8:], 1000)
    s["tx-bad-doff"] = tso(good[:32] + b"\x40" + good[33:], 1000)
    s["tx-bad-ipv6"] = tso(bytes([0x60]) + good[1:], 1000)
    # 64 KiB super-packets: the headers given, the payload generated by the harness.
    big = tcp_seg(payload(40, 15), 1, TCP_ACK | TCP_PSH, csum="partial")
    s["tx-tso-tcp-64k"] = bytes([(TX_LONG | TX_KERNEL_META) << 1]) + \
        tso(big[:2] + b"\xff\xff" + big[4:], 1448)[1:]
    big = udp_seg(payload(40, 16), csum="partial")
    s["tx-uso-64k"] = bytes([(TX_LONG | TX_KERNEL_META) << 1]) + \
        tso(big[:2] + b"\xff\xff" + big[4:], 1000, gso_type=GSO_UDP_L4, l4=17)[1:]
    # The same bytes as random input would carry them, with the repairs asked for.
    s["tx-repair-all"] = tx(tcp_seg(payload(1000, 14), 1, csum=0x1234)[:2] + b"\0\0" +
                            tcp_seg(payload(1000, 14), 1, csum=0x1234)[4:],
                            repair=TX_FIX_LEN | TX_NORMALIZE | TX_KERNEL_META,
                            gso_type=GSO_TCPV4, gso_size=300)

    # rx: batches of received inner packets
    flow = tcp_flow(8, 512)
    s["rx-tcp-flow"] = rx(flow)
    s["rx-tcp-flow-gro-off"] = rx(flow, flags=0)
    other = tcp_flow(4, 512, seq=77, sport=40001)
    s["rx-tcp-two-flows"] = rx([p for pair in zip(flow[:4], other) for p in pair])
    s["rx-tcp-bad-csum"] = rx(flow[:3] + [tcp_seg(payload(512, 3), 1000 + 3 * 512, csum="bad",
                                                  ip_id=4)] + flow[4:])
    s["rx-tcp-seq-gap"] = rx(flow[:2] + flow[3:])
    s["rx-tcp-short-then-full"] = rx([tcp_seg(payload(512, 0), 0, ip_id=1),
                                      tcp_seg(payload(200, 1), 512, ip_id=2),
                                      tcp_seg(payload(512, 2), 712, ip_id=3)])
    s["rx-tcp-control"] = rx([tcp_seg(b"", 0, TCP_SYN), tcp_seg(payload(100, 1), 1, TCP_ACK),
                              tcp_seg(b"", 101, TCP_ACK), tcp_seg(payload(100, 2), 101, TCP_ACK),
                              tcp_seg(payload(100, 3), 201, TCP_ACK | TCP_FIN),
                              tcp_seg(b"", 301, TCP_RST)])
    s["rx-tcp-differences"] = rx([tcp_seg(payload(300, 0), 0, tos=2),
                                  tcp_seg(payload(300, 1), 300, tos=3),
                                  tcp_seg(payload(300, 2), 600, ack=5),
                                  tcp_seg(payload(300, 3), 900, window=7),
                                  tcp_seg(payload(300, 4), 1200, options=b"")])
    s["rx-udp-flow"] = rx([udp_seg(payload(64 if i < 4 else 20, i), ip_id=i) for i in range(5)],
                          flags=GRO_TCP | GRO_UDP)
    s["rx-udp-no-csum"] = rx([udp_seg(payload(64, i), csum=0, ip_id=i) for i in range(3)],
                             flags=GRO_TCP | GRO_UDP)
    s["rx-udp-gro-off"] = rx([udp_seg(payload(64, i), ip_id=i) for i in range(3)])
    # partial checksums from a same-host sender: completed, or (longer than the MTU) a GSO write
    s["rx-partial-small"] = rx([tcp_seg(payload(512, i), i * 512, csum="partial", ip_id=i)
                                for i in range(3)] + [udp_seg(payload(100, 9), csum="partial")],
                               flags=GRO_TCP | GRO_UDP)
    s["rx-partial-udp-csum-zero"] = rx([udp_seg(udp_csum_zero(payload(100, 19), 98),
                                                csum="partial")], flags=GRO_TCP | GRO_UDP)
    s["rx-partial-super"] = rx([tcp_seg(payload(4000, 1), 1, csum="partial"),
                                udp_seg(payload(3000, 2), csum="partial")],
                               flags=GRO_TCP | GRO_UDP, mtu=1400)
    s["rx-partial-super-gro-off"] = rx([tcp_seg(payload(4000, 1), 1, csum="partial")], flags=0,
                                       mtu=1400)
    frag = ipv4_id(icmp_echo(), APP_SRC, APP_DST, 1, 9, flags=0x2000)
    s["rx-mixed"] = rx([flow[0], udp_seg(payload(50, 1), csum="bad"), ping(), flow[1],
                        tcp_seg(payload(512, 2), 1000 + 2 * 512, ip_id=3,
                                ip_options=b"\x01\x01\x01\x00"), frag, flow[2],
                        bytes([0x60]) + bytes(39), flow[3]])
    s["rx-truncated"] = rx([flow[0][:n] for n in (0, 1, 19, 20, 27, 28, 39, 40, 51)] +
                           [flow[0][:2] + struct.pack("!H", 45) + flow[0][4:45]])
    # Compact batches built by the harness: the first packet, then continuations.
    first = tcp_seg(payload(100, 0), 5000, options=b"")
    s["rx-continue-tcp"] = rx([(RX_FIX_IP | RX_FIX_L4, first)] +
                              [(RX_FIX_IP | RX_FIX_L4 | RX_CONTINUE, payload(100, i))
                               for i in range(1, 20)])
    s["rx-continue-corrupt"] = rx([(RX_FIX_IP | RX_FIX_L4, first)] +
                                  [(RX_FIX_IP | RX_FIX_L4 | RX_CONTINUE |
                                    (RX_CORRUPT if i == 3 else 0), payload(100, i))
                                   for i in range(1, 6)])
    s["rx-continue-partial"] = rx([(RX_FIX_IP | RX_PARTIAL, first)] +
                                  [(RX_FIX_IP | RX_PARTIAL | RX_CONTINUE, payload(100, i))
                                   for i in range(1, 6)], mtu=68)
    # Long segments generated by the harness: more than 64 KiB of one flow.
    long = RX_FIX_IP | RX_FIX_L4 | RX_CONTINUE | RX_LONG
    s["rx-long-tcp-over-64k"] = rx([(RX_FIX_IP | RX_FIX_L4, tcp_seg(payload(1400, 0), 1))] +
                                   [(long, bytes([i]), 1400) for i in range(1, 50)])
    s["rx-long-udp-over-64k"] = rx([(RX_FIX_IP | RX_FIX_L4, udp_seg(payload(1400, 0)))] +
                                   [(long, bytes([i]), 1400) for i in range(1, 50)],
                                   flags=GRO_TCP | GRO_UDP)
    s["rx-continue-udp-64"] = rx([(RX_FIX_IP | RX_FIX_L4, udp_seg(payload(8, 0)))] +
                                 [(RX_FIX_IP | RX_FIX_L4 | RX_CONTINUE, payload(8, i))
                                  for i in range(1, 65)], flags=GRO_TCP | GRO_UDP)
    return s


NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE, NFT_MSG_DELTABLE, NFT_MSG_NEWGEN = 3, 6, 2, 15
NFTA_GEN_ID, NFTA_GEN_PROC_PID, NFTA_GEN_PROC_NAME = 1, 2, 3
SELF = 4242  # the parent's pid in fuzz_fwwatch.c


def nlattr(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


def nfmsg(kind, attrs=b"", length=None):
    """One nf_tables notification (host-order header, nfgenmsg, attributes)."""
    body = struct.pack("!BBH", 0, 0, 7) + attrs  # family, version, res_id (big-endian)
    n = 16 + len(body) if length is None else length
    return struct.pack("=IHHII", n, NFNL_SUBSYS_NFTABLES << 8 | kind, 0, 0, 0) + body


def newgen(gen, pid, name=b"nft\0"):
    attrs = nlattr(NFTA_GEN_ID, struct.pack("!I", gen)) + nlattr(NFTA_GEN_PROC_PID, struct.pack("!I", pid))
    if name is not None:
        attrs += nlattr(NFTA_GEN_PROC_NAME, name)
    return nfmsg(NFT_MSG_NEWGEN, attrs)


def fwwatch_seeds():
    """What the parent's NFNLGRP_NFTABLES socket reads (fuzz_fwwatch.c)."""
    return {
        "newgen-nft": newgen(12, 777),
        "newgen-own": newgen(13, SELF, b"ipipd\0"),
        "reload": nfmsg(NFT_MSG_DELTABLE) + nfmsg(NFT_MSG_NEWCHAIN) + nfmsg(NFT_MSG_NEWRULE) + newgen(14, 778),
        "own-then-other": newgen(15, SELF) + newgen(16, 1, b"firewalld\0"),
        "newgen-no-name": newgen(17, 779, None),
        "newgen-long-name": newgen(18, 780, b"a\tb\x7fcdefghijklmnopqrstuvwxyz\0"),
        "bad-short-header": nfmsg(NFT_MSG_NEWGEN, length=18)[:18],
        "bad-gen-u16": nfmsg(NFT_MSG_NEWGEN, nlattr(NFTA_GEN_ID, b"\0\1")),
        "bad-name-no-nul": nfmsg(NFT_MSG_NEWGEN, nlattr(NFTA_GEN_PROC_NAME, b"nftx")),
        "bad-attr-too-long": nfmsg(NFT_MSG_NEWGEN, struct.pack("=HH", 200, NFTA_GEN_ID) + b"\0" * 4),
        "truncated": newgen(19, 781)[:-4],
    }


def write(kind, seeds):
    d = os.path.join(CORPUS, kind)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("decap", decap_seeds())
    write("decap", decap_more_seeds())
    write("encap", encap_seeds())
    write("config", config_seeds())
    write("control", control_seeds())
    write("fwwatch", fwwatch_seeds())
    write("offload", offload_seeds())

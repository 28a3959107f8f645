#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpora of the fuzz harnesses into tests/fuzz/corpus/.

    tests/fuzz/make-corpus.py

decap inputs are one settings byte (see fuzz_decap.c) and then a packet as
received from the peer 192.0.2.1 by the tunnel end 192.0.2.2.
The found-* files are inputs libFuzzer found; they are kept, not generated.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

LOCAL = bytes([192, 0, 2, 2])
REMOTE = bytes([192, 0, 2, 1])
INNER_SRC = bytes([203, 0, 113, 1])
INNER_DST = bytes([203, 0, 113, 5])

# Settings byte: bits 0-1 ECN mode, 2 DSCP uniform, 3 TOS inherit, 4 pmtudisc,
# 5 fixed TTL 64, 6-7 fixed TOS index.
NORMAL, COMPAT, KERNEL = 0, 1, 2
UNIFORM, TOS_INHERIT, PMTUDISC, TTL64 = 0x04, 0x08, 0x10, 0x20
DEFAULT = NORMAL | PMTUDISC


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


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
    s["bad-address.conf"] = MINIMAL.replace("10.9.0.1/24", "10.9.0.1")
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
    write("config", config_seeds())
    write("control", control_seeds())
    write("fwwatch", fwwatch_seeds())

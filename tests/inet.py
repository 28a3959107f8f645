# SPDX-License-Identifier: GPL-2.0-or-later
"""What the packet tools of the tests share: the Internet checksum and a
pcap reader (Python's standard library only: the tools run in every suite,
and each run is a new interpreter)."""
import struct


def csum(data):
    """The Internet checksum (RFC 1071) of data: 0 over a header whose own
    checksum is right."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


ETHERNET, RAW, LINUX_SLL = 1, 101, 113     # pcap link types


def pcap_records(path):
    """Each record of the pcap file at path: (link type, the frame as
    captured, its length on the wire)."""
    d = open(path, "rb").read()
    end = "<" if struct.unpack("<I", d[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(end + "I", d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        incl, orig = struct.unpack(end + "II", d[off + 8:off + 16])
        yield linktype, d[off + 16:off + 16 + incl], orig
        off += 16 + incl


def ipv4_of(linktype, frame):
    """The IPv4 packet a frame of that link type carries (Ethernet, Linux
    cooked, raw IP), or None."""
    if linktype == ETHERNET:
        return frame[14:] if frame[12:14] == b"\x08\x00" else None
    if linktype == LINUX_SLL:
        return frame[16:] if frame[14:16] == b"\x08\x00" else None
    return frame if frame[:1] and frame[0] >> 4 == 4 else None

#!/usr/bin/python3
"""Packet tools for the integration tests (Python standard library only).

  sink ADDR PORT              accept one TCP connection, print "BYTES SHA256"
  send ADDR PORT FILE         send FILE over TCP, print "BYTES SHA256"
  ipip SRC DST KIND [N]       send N crafted protocol-4 packets with a raw socket
  frame IFNAME MAC SRC DST KIND [N]
                              ... in Ethernet frames to MAC, out of IFNAME
  inject6 IFNAME              write one IPv6 packet into IFNAME's transmit path
  serve-peer ADDR PORT N      answer N TCP connections with the client's address
  ask-peer ADDR PORT [SRC]    connect (from SRC) and print what the server says
  pcap-check FILE             every IPIP frame in FILE has valid outer and inner
                              IPv4 headers; print the count
  serve-dns ADDR NAME A       a DNS server on ADDR (IPv4 or IPv6) port 53/udp:
                              NAME's A record is A, any other name NXDOMAIN;
                              print each query
"""
import fcntl
import hashlib
import socket
import time
import struct
import sys
import termios

from inet import csum, ipv4_of, pcap_records


def ipv4(src, dst, proto, payload, ttl=64, tos=0, flags=0x4000, ihl=5, version=4,
         tot=None, fix_csum=True):
    opts = b"\x01" * ((ihl - 5) * 4) if ihl > 5 else b""
    tot = 20 + len(opts) + len(payload) if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, tos, tot, 0x1234, flags, ttl, proto,
                    0, socket.inet_aton(src), socket.inet_aton(dst)) + opts
    if fix_csum:
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def icmp_echo(n=56):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"x" * n
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def inner_packet(kind):
    """Inner packets, from the tunnel peer's inner address to ours."""
    src, dst = "198.51.100.2", "198.51.100.1"
    if kind == "ttl0":
        return ipv4(src, dst, 1, icmp_echo(), ttl=0)
    if kind == "inner-csum":
        p = bytearray(ipv4(src, dst, 1, icmp_echo()))
        p[10] ^= 0xFF
        return bytes(p)
    if kind == "inner-version":
        return b"\x60" + b"\0" * 39
    if kind == "inner-short":
        return ipv4(src, dst, 1, icmp_echo())[:12]
    if kind == "src-ours":
        return ipv4(dst, dst, 1, icmp_echo())
    if kind == "src-other":
        return ipv4("203.0.113.77", dst, 1, icmp_echo())
    if kind == "lsrr":
        opts = bytes([0x83, 7, 4, 192, 0, 2, 77, 0])  # loose source route, then end
        h = struct.pack("!BBHHHBBH4s4s", 0x47, 0, 28 + 64, 1, 0x4000, 64, 1, 0,
                        socket.inet_aton(src), socket.inet_aton(dst)) + opts
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
        return h + icmp_echo()
    if kind == "ce-not-ect":
        return ipv4(src, dst, 1, icmp_echo(), tos=0)
    return ipv4(src, dst, 1, icmp_echo())


def cmd_ipip(src, dst, kind, n="1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    inner = inner_packet(kind)
    tos = 3 if kind == "ce-not-ect" else 0
    pkt = ipv4(src, dst, 4, inner, tos=tos)
    for _ in range(int(n)):
        s.sendto(pkt, (dst, 0))


def cmd_frame(ifname, mac, src, dst, kind, n="1"):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    own = s.getsockname()[4]
    frame = bytes.fromhex(mac.replace(":", "")) + own + b"\x08\x00" + \
        ipv4(src, dst, 4, inner_packet(kind))
    for _ in range(int(n)):
        s.send(frame)


def cmd_inject6(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86DD))
    hdr = struct.pack("!IHBB16s16s", 6 << 28, 0, 59, 64, b"\xfe\x80" + b"\0" * 13 + b"\1",
                      b"\xff\x02" + b"\0" * 13 + b"\1")
    s.sendto(hdr, (ifname, 0x86DD, 0, 0, b""))


def cmd_sink(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(1)
    print("listening", flush=True)
    c, _ = ls.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def cmd_send(addr, port, path, rate=None):
    """Send a file over TCP; rate (bytes per second) paces it to last a while."""
    s = socket.create_connection((addr, int(port)), timeout=60)
    h, n = hashlib.sha256(), 0
    t0 = time.monotonic()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 14 if rate else 1 << 16)
            if not b:
                break
            s.sendall(b)
            h.update(b)
            n += len(b)
            if rate:
                ahead = n / float(rate) - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    # Delivered, not only queued: wait until the receiver has acknowledged
    # every byte and the FIN (nothing left in the send queue, SIOCOUTQ).
    # Closed earlier, the socket would be an orphan that the kernel gives up
    # on (tcp_orphan_retries) while a slow receiver keeps its window shut.
    while struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0] > 0:
        time.sleep(0.05)
    s.recv(1)
    print(n, h.hexdigest())


def cmd_serve_peer(addr, port, n):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(8)
    print("listening", flush=True)
    for _ in range(int(n)):
        c, peer = ls.accept()
        c.sendall(("%s\n" % peer[0]).encode())
        c.close()


def cmd_ask_peer(addr, port, src=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    if src:
        s.bind((src, 0))
    s.connect((addr, int(port)))
    print(s.recv(100).decode().strip())


def cmd_pcap_check(path):
    count = 0
    for linktype, frame, _ in pcap_records(path):
        frame = ipv4_of(linktype, frame)
        if frame is None or len(frame) < 20 or frame[0] >> 4 != 4 or frame[9] != 4:
            continue
        ohl = (frame[0] & 15) * 4
        inner = frame[ohl:]
        ihl = (inner[0] & 15) * 4
        if frame[0] != 0x45 or csum(frame[:ohl]) != 0:
            sys.exit("bad outer header in frame %d" % count)
        if inner[0] >> 4 != 4 or csum(inner[:ihl]) != 0:
            sys.exit("bad inner header in frame %d" % count)
        if struct.unpack("!H", frame[2:4])[0] != len(frame):
            sys.exit("outer length mismatch in frame %d" % count)
        count += 1
    if not count:
        sys.exit("no IPIP frames")
    print(count)


def cmd_serve_dns(addr, name, a):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    name = name.lower().rstrip(".")
    print("listening", flush=True)
    while True:
        q, peer = s.recvfrom(1500)
        if len(q) < 17 or q[2] & 0x80:
            continue
        i, labels = 12, []
        while i < len(q) and q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace").lower())
            i += 1 + q[i]
        if i + 5 > len(q):
            continue
        qtype, = struct.unpack("!H", q[i + 1:i + 3])
        hit = ".".join(labels) == name
        ans = b""
        if hit and qtype == 1:	# A, IN, TTL 5, the name compressed to the question's
            ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(a)
        flags = 0x8180 | (0 if hit else 3)	# a response, recursion desired and available
        s.sendto(struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], flags, 1,
                             1 if ans else 0, 0, 0) + q[12:i + 5] + ans, peer)
        print("query %s type %d from %s" % (".".join(labels), qtype, peer[0]), flush=True)


def main():
    cmds = {"sink": cmd_sink, "send": cmd_send, "ipip": cmd_ipip, "frame": cmd_frame,
            "inject6": cmd_inject6, "pcap-check": cmd_pcap_check,
            "serve-peer": cmd_serve_peer, "ask-peer": cmd_ask_peer,
            "serve-dns": cmd_serve_dns}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()

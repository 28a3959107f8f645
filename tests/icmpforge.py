"""ICMP errors about an ipipd tunnel's outer packets, genuine or forged, for
tests/integration/icmp-forged.sh (scapy, Debian's python3-scapy).

  icmpforge.py serve IFACE SRC DST
      sniff IP protocol-4 packets SRC -> DST on IFACE for ever, keeping the
      last; prints "ready", then answers lines on standard input: "last"
      (prints "SEQ HEX": how many were seen, the last one), "send OPTIONS"
      (send's options, quoting the last one at once: an error on the path
      follows its packet by milliseconds, not by a Python start-up)
  icmpforge.py send --from A --to B --type T --code C [--mtu M]
                    [--quote HEX | --local L --remote R] [--id N] [--qdst Q]
                    [--inner-src S] [--inner-dst D] [--inner-ttl T]
                    [--quote-len N] [--count N] [--id-step K] [--gap S]
      send ICMP error(s) from A to B quoting an outer packet: a captured one
      (--quote), or one built L -> R with inner S -> D (an ICMP echo); --id
      sets the quoted outer ID (then + K for each further error), --qdst its
      destination, --inner-* the quoted inner header, --quote-len cuts the
      quote (routers quote as little as the header and 8 bytes); prints the
      number sent
"""
import argparse, sys, time

from scapy.all import ICMP, IP, AsyncSniffer, Raw, conf, send

conf.verb = 0


def quoted(a):
    if a.quote:
        outer = IP(bytes.fromhex(a.quote))
    else:
        inner = IP(src=a.inner_src, dst=a.inner_dst, ttl=a.inner_ttl, flags="DF") / ICMP(id=7, seq=1) / Raw(b"x" * 56)
        outer = IP(src=a.local, dst=a.remote, proto=4, ttl=64, flags="DF", id=1) / Raw(bytes(inner))
    if a.qdst:
        outer.dst = a.qdst
    if a.inner_dst or a.inner_ttl != 64 or a.inner_src:
        inner = IP(bytes(outer.payload))
        if a.inner_dst:
            inner.dst = a.inner_dst
        if a.inner_src:
            inner.src = a.inner_src
        inner.ttl = a.inner_ttl
        del inner.chksum
        outer = IP(bytes(outer)[:(outer.ihl or 5) * 4]) / Raw(bytes(inner))
        outer.len = None
    return outer


def send_errors(a):
    outer = quoted(a)
    pkts = []
    for i in range(a.count):
        q = outer.copy()
        if a.id is not None:
            q.id = (a.id + i * a.id_step) & 0xFFFF
        del q.chksum
        raw = bytes(q)
        if a.quote_len:
            raw = raw[:a.quote_len]
        icmp = ICMP(type=a.type, code=a.code)
        if a.type == 3 and a.code == 4:
            icmp.nexthopmtu = a.mtu
        pkts.append(IP(src=getattr(a, "from"), dst=a.to) / icmp / Raw(raw))
    if not a.gap:
        send(pkts)	# one socket for all: a replay within the window of recent IDs
    for p in pkts if a.gap else []:
        send(p)
        time.sleep(a.gap)
    print(len(pkts))


def serve(p, iface, src, dst):
    last = {"seq": 0, "pkt": None}

    def keep(pkt):
        last["pkt"] = bytes(pkt[IP])
        last["seq"] += 1

    sniffer = AsyncSniffer(iface=iface, store=False, prn=keep,
                           filter="ip proto 4 and src host %s and dst host %s" % (src, dst))
    sniffer.start()
    time.sleep(0.5)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["last"]:
            print(last["seq"], last["pkt"].hex() if last["pkt"] else "none", flush=True)
        elif words[:1] == ["send"] and last["pkt"]:
            send_errors(p.parse_args(["send", "--quote", last["pkt"].hex()] + words[1:]))
            sys.stdout.flush()
        else:
            print("?", flush=True)
    sniffer.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["send"])
    p.add_argument("--from", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--type", type=int, required=True)
    p.add_argument("--code", type=int, required=True)
    p.add_argument("--mtu", type=int, default=0)
    p.add_argument("--quote")
    p.add_argument("--local")
    p.add_argument("--remote")
    p.add_argument("--id", type=lambda s: int(s, 0))
    p.add_argument("--qdst")
    p.add_argument("--inner-src", dest="inner_src")
    p.add_argument("--inner-dst", dest="inner_dst")
    p.add_argument("--inner-ttl", dest="inner_ttl", type=int, default=64)
    p.add_argument("--quote-len", dest="quote_len", type=int, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--id-step", dest="id_step", type=int, default=1)
    p.add_argument("--gap", type=float, default=0)
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(p, *sys.argv[2:5])
        return
    a = p.parse_args()
    if not a.quote and not (a.local and a.remote and a.inner_src and a.inner_dst):
        p.error("--quote, or --local, --remote, --inner-src and --inner-dst")
    send_errors(a)


main()

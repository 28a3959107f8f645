#!/usr/bin/python3
"""The markdown report of bench.sh: medians, ratios to the direct path and to
the fastest unencrypted peer, measured in the same run, and the targets.

usage: report.py RESULTS.tsv "PEERS" RUNS SECONDS QUICK PINGS ROUNDTRIPS
"""
import datetime
import math
import os
import platform
import statistics
import sys

path, peers, runs, secs, quick, pings, rrs = sys.argv[1:8]
peers = peers.split()
vals = {}
order = []
na = {}  # system: why it could not be measured
with open(path) as f:
    for line in f:
        s, m, _r, v = line.rstrip("\n").split("\t")
        if s not in order:
            order.append(s)
        if m == "na":
            na[s] = v
            continue
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if not math.isnan(x):
            vals.setdefault((s, m), []).append(x)


def med(s, m):
    v = vals.get((s, m))
    return statistics.median(v) if v else None


def peak(s):  # peak RSS: the largest of the runs
    v = vals.get((s, "rss"))
    return max(v) if v else None


# metric: label, higher is better, format
METRICS = [
    ("tcp1", "TCP 1 stream Gbit/s", True, "%.2f"),
    ("tcp4", "TCP 4 streams Gbit/s", True, "%.2f"),
    ("udp", "UDP 64 B kpps rx", True, "%.0f"),
    ("tcp1nic", "TCP 1 stream NIC-like Gbit/s", True, "%.2f"),
    ("rr_added", "probe RTT added us", False, "%.2f"),
    ("rtt_added", "ping RTT added us", False, "%.0f"),
    ("cpu", "CPU s/GB", False, "%.2f"),
]
ADDED = ("rr_added", "rtt_added")  # no ratio to direct: the direct value is the zero point

for added, m in (("rtt_added", "rtt"), ("rr_added", "rr")):
    d = med("direct", m)
    for s in order:
        r = med(s, m)
        if r is not None and d is not None:
            vals[(s, added)] = [r - d]


def best_peer(m, higher):
    cands = [(med(p, m), p) for p in peers if med(p, m) is not None]
    if not cands:
        return None, None
    return (max if higher else min)(cands)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def mem_gib():
    with open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
    return kb / 1024 / 1024


print("## ipipd benchmark%s\n" % (" (QUICK: not for comparison)" if quick == "1" else ""))
print("- date: %s UTC" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"))
print("- machine: %s, %d CPUs, %.0f GiB; kernel %s" % (cpu_model(), os.cpu_count(), mem_gib(),
                                                       platform.release()))
print("- method: two namespaces over a veth pair (1500 MTU), side A on CPU 0, side B on CPU 1; "
      "median of %s run(s), interleaved (run 1 of every system, then run 2, ...); TCP %s s after a discarded warm-up, UDP 64-byte payloads `-b 0` "
      "for %s s; NIC-like: the same TCP test with the veth's TSO off and GRO on at both ends; "
      "probe: %s round trips of a 32-byte UDP request, client and server busy-polling "
      "(bench/udprr.c), median; %s pings 10 ms apart, average"
      % (runs, secs, secs, rrs, pings))
print("- each cell: value (ratio to direct in the same mode / ratio to the fastest unencrypted "
      "userspace peer of that column; for RTT and CPU lower is better, the ratio is still "
      "value/reference); kernel VXLAN and ipipd-ebpf are not peers")
print("- CPU s/GB: the tunnel processes at both ends; VXLAN has none, and for ipipd-ebpf it is "
      "the daemon only (the fast path runs in the kernel, charged to the senders)")
print()
hdr = ["system"] + [m[1] for m in METRICS] + ["peak RSS MiB"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
refs = {m: best_peer(m, hi) for m, _l, hi, _f in METRICS}
for s in order:
    row = [s + (" (encrypts)" if s == "wireguard-go" else "")]
    if s in na:
        row += ["n/a (%s)" % na[s]] + ["-"] * len(METRICS)
        print("| " + " | ".join(row) + " |")
        continue
    for m, _label, _hi, fmt in METRICS:
        v = med(s, m)
        if v is None:
            row.append("-")
            continue
        cell = fmt % v
        d = med("direct", m)
        p = refs[m][0]
        parts = []
        if m not in ADDED and m != "cpu" and d:
            parts.append("%.2fx direct" % (v / d))
        if p and (m not in ADDED or v > 0):  # an added RTT at or below 0 is noise
            parts.append("%.2fx peer" % (v / p))
        if parts:
            cell += " (" + ", ".join(parts) + ")"
        row.append(cell)
    rss = peak(s)
    row.append("%.1f" % rss if rss is not None else "-")
    print("| " + " | ".join(row) + " |")
print()
print("Fastest unencrypted peer per column: " + ", ".join(
    "%s %s" % (label, refs[m][1] or "-") for m, label, _h, _f in METRICS))
print()
spread = ["%s %s-%s" % (label, fmt % min(vals[("direct", m)]), fmt % max(vals[("direct", m)]))
          for m, label, _h, fmt in METRICS + [("rr", "probe RTT us", False, "%.2f")]
          if len(vals.get(("direct", m), [])) > 1]
if spread:
    print("Spread of the direct path over the runs (min-max; a wide one means a busy machine): "
          + ", ".join(spread))
    print()
rr = ["%s %.2f / %.2f" % (s, med(s, "rr"), med(s, "rr99"))
      for s in order if med(s, "rr") is not None and med(s, "rr99") is not None]
if rr:
    print("UDP probe round trip, median / p99 us: " + ", ".join(rr))
    print()


def target(name, ok, detail):
    print("- %s: %s (%s)" % ("PASS" if ok else "FAIL", name, detail))


def nic_ratio(s):
    v, d = med(s, "tcp1nic"), med("direct", "tcp1nic")
    return v / d if v is not None and d else None


print("### Targets (same run, medians)")
U, E = "ipipd-userspace", "ipipd-ebpf"
for s in (U, E):
    if s in na:
        print("- n/a: %s's targets (%s)" % (s, na[s]))
if med(U, "tcp1") is not None and refs["tcp1"][0]:
    v, p = med(U, "tcp1"), refs["tcp1"][0]
    target(U + ": TCP one stream >= 2x fastest peer", v >= 2 * p,
           "%.2f vs 2 x %.2f = %.2f Gbit/s" % (v, p, 2 * p))
if med(U, "udp") is not None and refs["udp"][0]:
    v, p = med(U, "udp"), refs["udp"][0]
    target(U + ": UDP 64 B pps >= 2x fastest peer", v >= 2 * p,
           "%.0f vs 2 x %.0f = %.0f kpps" % (v, p, 2 * p))
if med(U, "rtt_added") is not None and refs["rtt_added"][0] is not None:
    v, p = med(U, "rtt_added"), refs["rtt_added"][0]
    target(U + ": ping RTT added <= best peer's", v <= p, "%.0f vs %.0f us" % (v, p))
if peak(U) is not None:
    v = peak(U)
    target(U + ": peak RSS <= 8 MiB", v <= 8, "%.1f MiB" % v)
if med(E, "tcp1") is not None and med("direct", "tcp1"):
    v, d = med(E, "tcp1"), med("direct", "tcp1")
    target(E + ": TCP one stream >= 90 % of direct", v >= 0.9 * d,
           "%.2f vs %.2f Gbit/s: %.0f %%" % (v, d, 100 * v / d))
if nic_ratio(E) is not None and nic_ratio("vxlan") is not None:
    e, x = nic_ratio(E), nic_ratio("vxlan")
    target(E + ": NIC-like TCP one stream ratio to direct >= VXLAN's", e >= x,
           "%.0f %% vs %.0f %%" % (100 * e, 100 * x))
if med(E, "rr_added") is not None:
    v = med(E, "rr_added")
    target(E + ": probe RTT added <= 2 us", v <= 2, "%.2f us" % v)
if peak(E) is not None:
    v = peak(E)
    target(E + ": peak RSS <= 8 MiB", v <= 8, "%.1f MiB" % v)

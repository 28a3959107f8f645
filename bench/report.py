#!/usr/bin/python3
"""The markdown report of bench.sh: medians, ratios to the direct path and to
the fastest unencrypted peer, measured in the same run, and the targets.

usage: report.py RESULTS.tsv "PEERS" RUNS SECONDS QUICK
"""
import datetime
import math
import os
import platform
import statistics
import sys

path, peers, runs, secs, quick = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4], sys.argv[5]
vals = {}
order = []
with open(path) as f:
    for line in f:
        s, m, _r, v = line.rstrip("\n").split("\t")
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if s not in order:
            order.append(s)
        if not math.isnan(x):
            vals.setdefault((s, m), []).append(x)


def med(s, m):
    v = vals.get((s, m))
    return statistics.median(v) if v else None


# metric: label, higher is better, format
METRICS = [
    ("tcp1", "TCP 1 stream Gbit/s", True, "%.2f"),
    ("tcp4", "TCP 4 streams Gbit/s", True, "%.2f"),
    ("udp", "UDP 64 B kpps rx", True, "%.0f"),
    ("rtt_added", "RTT added us", False, "%.0f"),
    ("cpu", "CPU s/GB", False, "%.2f"),
]

direct_rtt = med("direct", "rtt")
for s in order:
    r = med(s, "rtt")
    if r is not None and direct_rtt is not None:
        vals[(s, "rtt_added")] = [r - direct_rtt]


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
      "median of %s run(s); TCP %s s after a discarded warm-up, UDP 64-byte payloads `-b 0` "
      "for %s s, 100 pings 10 ms apart" % (runs, secs, secs))
print("- each cell: value (ratio to direct / ratio to the fastest unencrypted peer of that column; "
      "for RTT and CPU lower is better, the ratio is still value/reference)")
print()
hdr = ["system"] + [m[1] for m in METRICS] + ["peak RSS MiB"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
refs = {m: best_peer(m, hi) for m, _l, hi, _f in METRICS}
for s in order:
    row = [s + (" (encrypts)" if s == "wireguard-go" else "")]
    for m, _label, _hi, fmt in METRICS:
        v = med(s, m)
        if v is None:
            row.append("-")
            continue
        cell = fmt % v
        d = med("direct", m)
        p = refs[m][0]
        parts = []
        if m != "rtt_added" and m != "cpu" and d:
            parts.append("%.2fx direct" % (v / d))
        if p:
            parts.append("%.2fx peer" % (v / p))
        if parts:
            cell += " (" + ", ".join(parts) + ")"
        row.append(cell)
    rss = med(s, "rss")
    row.append("%.1f" % rss if rss is not None else "-")
    print("| " + " | ".join(row) + " |")
print()
print("Fastest unencrypted peer per column: " + ", ".join(
    "%s %s" % (label, refs[m][1] or "-") for m, label, _h, _f in METRICS))
print()


def target(name, ok, detail):
    print("- %s: %s (%s)" % ("PASS" if ok else "FAIL", name, detail))


print("### Targets (same run, medians)")
if med("ipipd", "tcp1") is not None and refs["tcp1"][0]:
    v, p = med("ipipd", "tcp1"), refs["tcp1"][0]
    target("TCP one stream >= 2x fastest peer", v >= 2 * p, "%.2f vs 2 x %.2f = %.2f Gbit/s" % (v, p, 2 * p))
if med("ipipd", "udp") is not None and refs["udp"][0]:
    v, p = med("ipipd", "udp"), refs["udp"][0]
    target("UDP 64 B pps >= 2x fastest peer", v >= 2 * p, "%.0f vs 2 x %.0f = %.0f kpps" % (v, p, 2 * p))
if med("ipipd", "rtt_added") is not None and refs["rtt_added"][0] is not None:
    v, p = med("ipipd", "rtt_added"), refs["rtt_added"][0]
    target("RTT added <= best peer's", v <= p, "%.0f vs %.0f us" % (v, p))
if med("ipipd", "rss") is not None:
    v = med("ipipd", "rss")
    target("ipipd peak RSS <= 8 MiB", v <= 8, "%.1f MiB" % v)

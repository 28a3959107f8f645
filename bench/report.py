#!/usr/bin/python3
"""The markdown report of bench.sh: medians over the good runs with the number
of good runs beside each, ratios to the direct path and to the fastest
unencrypted peer, measured in the same bench, the targets, every failed run
and every run's values; the runs also as TSV and JSON.

usage: report.py --results RESULTS.tsv --peers "PEERS" --runs N --nic-runs N
                 --seconds S --quick 0|1 --pings N --roundtrips N --started T
                 --finished T --commit C --nice N --sockbuf BYTES
                 [--tsv FILE] [--json FILE]

RESULTS.tsv (bench.sh's, or a saved .runs.tsv), one line per value: system,
metric, run, value, status (ok or failed), note.  The metric phase:main or
phase:nic says whether a run as a whole was good (main: every measurement but
the NIC-like one; nic: that one); a value counts only if it and its run's
phase are good.  The metrics named info:KEY are notes on a run's setup
(info:nice: the priorities of the tunnel threads; info:sockbuf: the buffers
of their UDP sockets); system "-" holds notes on the whole bench (info:sysctl,
info:idle: the other work on CPUs 0 and 1 before it started).
"""
import argparse
import json
import os
import platform
import statistics

ap = argparse.ArgumentParser()
for opt in ("results", "peers", "runs", "seconds", "quick", "pings", "roundtrips", "started",
            "finished", "commit", "nice", "sockbuf", "nic_runs"):
    ap.add_argument("--" + opt.replace("_", "-"), required=True)
ap.add_argument("--tsv")
ap.add_argument("--json")
args = ap.parse_args()
peers = args.peers.split()

rows = []  # dicts: system metric run value status note
order = []
with open(args.results) as f:
    for line in f:
        if line.startswith("system\tmetric\t"):  # the header of a saved .runs.tsv
            continue
        s, m, r, v, st, note = line.rstrip("\n").split("\t")
        if s not in order and s != "-":  # "-": notes on the whole bench
            order.append(s)
        try:
            x = float(v)
        except ValueError:
            x = None
        if x is not None and x != x:
            x = None
        rows.append({"system": s, "metric": m, "run": int(r), "value": x, "status": st,
                     "note": note})

phases = {}  # (system, phase): {run: (ok, reason)}
recs = {}  # (system, metric): {run: row}
info = {}  # (system, key): [distinct notes]
for row in rows:
    if row["metric"].startswith("info:"):
        seen = info.setdefault((row["system"], row["metric"][5:]), [])
        if row["note"] not in seen:
            seen.append(row["note"])
    elif row["metric"].startswith("phase:"):
        phases.setdefault((row["system"], row["metric"][6:]), {})[row["run"]] = (
            row["status"] == "ok", row["note"])
    else:
        recs.setdefault((row["system"], row["metric"]), {})[row["run"]] = row

PHASE = {"tcp1nic": "nic"}  # every other metric belongs to the main phase
# Measured in every good run of every system (the others: the tunnel
# processes' CPU where there are any, peak RSS for ipipd).
EXPECTED = {"tcp1", "tcp4", "udp", "tcp1nic", "rr", "rr99", "rtt", "cpu_all"}


def runs_of(s, m):
    """[(run, value or None, reason)] over the runs in which m's phase was
    tried; None if m does not apply to s (not one expected of every system,
    and no run measured it)."""
    ph = phases.get((s, PHASE.get(m, "main")), {})
    got = recs.get((s, m), {})
    if not ph or (not got and BASE.get(m, m) not in EXPECTED) or (
            m in ADDED and "direct" not in order):  # added to nothing measured
        return None
    out = []
    for r in sorted(ph):
        ok, why = ph[r]
        row = got.get(r)
        if not ok:
            out.append((r, None, why))
        elif row is None:
            out.append((r, None, "not measured"))
        elif row["status"] != "ok" or row["value"] is None:
            out.append((r, None, row["note"] or "failed"))
        else:
            out.append((r, row["value"], ""))
    return out


def good(s, m):
    rs = runs_of(s, m)
    return [v for _r, v, _w in rs if v is not None] if rs else []


def med(s, m):
    v = good(s, m)
    return statistics.median(v) if v else None


def count(s, m):
    rs = runs_of(s, m)
    return (len([1 for _r, v, _w in rs if v is not None]), len(rs)) if rs is not None else None


def reasons(s, m):
    seen = []
    for _r, v, why in runs_of(s, m) or []:
        if v is None and why not in seen:
            seen.append(why)
    return "; ".join(seen)


def peak(s, m="rss"):  # peak RSS: the largest of the runs
    v = good(s, m)
    return max(v) if v else None


# metric: label, higher is better, format
METRICS = [
    ("tcp1", "TCP 1 stream Gbit/s", True, "%.2f"),
    ("tcp4", "TCP 4 streams Gbit/s", True, "%.2f"),
    ("udp", "UDP 64 B kpps rx", True, "%.0f"),
    ("tcp1nic", "TCP 1 stream NIC-like Gbit/s", True, "%.2f"),
    ("rr_added", "probe RTT added us", False, "%.2f"),
    ("rtt_added", "ping RTT added us", False, "%.0f"),
    ("cpu_path", "path CPU s/GB", False, "%.2f"),
    ("cpu", "of which tunnel processes s/GB", False, "%.2f"),
]
# Added round trips and CPU: a system's runs less the direct path's median.
ADDED = {"rr_added": "rr", "rtt_added": "rtt", "cpu_path": "cpu_all"}
BASE = {m: ADDED.get(m, m) for m, *_ in METRICS}
for added, raw in ADDED.items():
    d = med("direct", raw)
    PHASE[added] = PHASE.get(raw, "main")
    for s in order if "direct" in order else []:
        for r, row in recs.get((s, raw), {}).items():
            new = dict(row, metric=added)
            if row["value"] is not None:
                if d is None:
                    new.update(value=None, status="failed", note="no good run of the direct path")
                else:
                    new["value"] = row["value"] - d
            recs.setdefault((s, added), {})[r] = new


def best_peer(m, higher):
    cands = [(med(p, m), p) for p in peers if med(p, m) is not None]
    if not cands:
        return None, None
    return (max if higher else min)(cands)


def rng(s, m):
    """min and max of the good runs, or None if fewer than two: a single
    run has no spread to judge noise by."""
    v = good(s, m)
    return (min(v), max(v)) if len(v) >= 2 else None


def overlap(a, b, m):
    """True if the runs of a and b overlap (within noise), None if either
    has fewer than two good runs."""
    ra, rb = rng(a, m), rng(b, m)
    if ra is None or rb is None:
        return None
    return ra[0] <= rb[1] and rb[0] <= ra[1]


def versus(s, ref, m, tag):
    """s's median as a ratio to ref's, only where their runs do not overlap."""
    v, p = med(s, m), med(ref, m)
    if v is None or p is None or s == ref:
        return None
    o = overlap(s, ref, m)
    if o:
        return "within noise of " + tag
    if not p > 0 or (m in ADDED and not v > 0):  # added values at or below 0: no ratio
        return None
    return "%.2fx %s%s" % (v / p, tag, " (single run)" if o is None else "")


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


NICE10 = "ipipd-userspace-nice-10"
LABEL = {"wireguard-go": "wireguard-go (encrypts)",
         NICE10: NICE10 + " (ipipd's default priority)",
         "ipipd-fou": "ipipd-fou (userspace, Encapsulation = fou)",
         "ipipd-fou-csum": "ipipd-fou-csum (userspace, fou, UDPChecksum = yes: UDP GSO/GRO)",
         "ipipd-ebpf-fou": "ipipd-ebpf-fou (eBPF, Encapsulation = fou)",
         "ipipd-hub": "ipipd-hub (userspace, A a hub: Remote = any, outer packets through the kernel's IP output)"}


def sysctl(name):  # as the bench found it in its namespaces, else here
    for note in info.get(("-", "sysctl"), []):
        for kv in note.split():
            if kv.startswith(name + "="):
                return int(kv.split("=", 1)[1])
    try:
        with open("/proc/sys/net/core/" + name) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def all_failed(s):
    ph = phases.get((s, "main"), {})
    return ph and not any(ok for ok, _ in ph.values())


print("## ipipd benchmark%s\n" % (" (QUICK: not for comparison)" if args.quick == "1" else ""))
print("- date: %s to %s UTC; commit %s" % (args.started, args.finished, args.commit))
print("- machine: %s, %d CPUs, %.0f GiB; kernel %s" % (cpu_model(), os.cpu_count(), mem_gib(),
                                                       platform.release()))
idle = info.get(("-", "idle"))
if idle:
    print("- CPUs 0 and 1 were %s %% busy with other work in the 2 s before the bench started "
          "anything (it counts into the path CPU)" % idle[0])
print("- method: two namespaces over a veth pair (1500 MTU), side A on CPU 0, side B on CPU 1; "
      "median of the good runs among %s, interleaved (run 1 of every system, then run 2, ...); "
      "TCP %s s after a discarded warm-up, UDP 64-byte payloads `-b 0` "
      "for %s s; NIC-like: the same TCP test with the veth's TSO off and GRO on at both ends, "
      "%s runs (the rounds past %s set up only the systems measured NIC-like and measure only "
      "that); "
      "probe: %s round trips of a 32-byte UDP request, client and server busy-polling "
      "(bench/udprr.c), median; %s pings 10 ms apart, average"
      % (args.runs, args.seconds, args.seconds, args.nic_runs, args.runs, args.roundtrips,
         args.pings))
print("  - priority: every userspace tunnel at nice %s (ipipd `Nice = %s`, the peers started "
      "under `nice -n %s`), iperf3, ping and the probe at nice 0; a run whose tunnel threads "
      "are at another priority fails%s%s"
      % (args.nice, args.nice, args.nice,
         "; vtund sets its session process to nice -1 itself when the session starts "
         "(LINKFD_PRIO in its tunnel.c): the bench sets it back to %s once the session is up"
         % args.nice if "vtun" in order else "",
         "; ipipd-userspace-nice-10: ipipd at its default priority (`Nice = -10`), everything "
         "else as in the other rows, not like for like" if NICE10 in order else ""))
MIB = int(args.sockbuf) / 2**20
print("  - socket buffers: ipipd gives its sockets %g MiB receive and send buffers "
      "(SO_RCVBUFFORCE/SO_SNDBUFFORCE); so do the peers that have options for them: "
      "OpenVPN `--sndbuf %s --rcvbuf %s`, tinc `UDPSndBuf = UDPRcvBuf = %s`, their "
      "SO_SNDBUF/SO_RCVBUF made SO_*BUFFORCE (bench/forcebuf.c, preloaded), which "
      "net.core.wmem_max/rmem_max (%s/%s here) would cap and a namespace cannot raise alone; "
      "fastd, quicktun, vtun and wireguard-go have no such option (fastd(1) and its "
      "configuration keywords, quicktun's IF_QT_ variables, vtund.conf(5)) and run with the "
      "kernel's defaults (net.core.wmem_default/rmem_default %s/%s); the sizes found are listed "
      "below the table (the kernel doubles the size asked for)"
      % (MIB, args.sockbuf, args.sockbuf, args.sockbuf, sysctl("wmem_max"), sysctl("rmem_max"),
         sysctl("wmem_default"), sysctl("rmem_default")))
print("  - failed runs: a run fails when its tunnel does not come up, its MTU check fails (a DF "
      "ping of the overlay MTU does not cross, or crosses only as outer fragments) or the "
      "underlay fragments packets during it (IP fragments created or reassembled in either "
      "namespace, warm-up included); a value fails when "
      "iperf3 reports an error or gives no result, ping or the probe get no answer; each median "
      "is taken over the good runs only, their number beside it (good/tried), and every failure "
      "is listed below the table")
print("  - each cell: median (good/tried runs, ratio to direct in the same mode, ratio to the "
      "fastest unencrypted userspace peer of that column by median; for RTT and CPU lower is "
      "better, the ratio is still value/reference); kernel VXLAN and ipipd-ebpf are not peers")
print("  - resident memory: ipipd's after each run's load, at one end, the larger end's, the "
      "largest over the runs: its two processes (the parent and the datapath process, forked "
      "from it) together, each physical page once (the page frames of their resident pages, "
      "from /proc/PID/pagemap, bench/rss_pair.py), sampled where both are at their peak "
      "(VmRSS = VmHWM; else that value fails); in brackets their VmHWM summed (the pages they "
      "share counted twice) and the largest single process's VmHWM")
print("  - noise: no ranking where the runs overlap: a ratio is printed only where the ranges "
      "(min..max) of the two systems' good runs do not overlap, else \"within noise\"; a "
      "system with a single good run has no range (its ratios say \"single run\"); the "
      "targets are PASS/FAIL only where every run meets or misses them, else within noise")
print("  - path CPU s/GB = (busy time of CPUs 0 and 1 during the measured seconds of the "
      "one-stream TCP run, from /proc/stat: user+nice+system+irq+softirq) / GB delivered in "
      "them, minus the same for the direct path (the median of its runs): what the path costs "
      "per GB beyond the endpoints (iperf3, TCP, veth), for every system, kernel VXLAN and the "
      "eBPF fast path included; the direct path's cost is subtracted per GB, not per second, "
      "as a tunnel delivers fewer GB in the same seconds (this takes the endpoints' cost per GB "
      "as the same at every rate; at lower rates they pay somewhat more per GB, which counts "
      "as the tunnel's); other programs' work on those CPUs counts too (run it on an otherwise "
      "idle machine)")
print("  - of which tunnel processes s/GB: utime+stime of every tunnel process at both ends "
      "(all threads; ipipd: the parent and the datapath process) during the same seconds, "
      "per GB")
print()
hdr = ["system"] + [m[1] for m in METRICS] + ["resident MiB, pages once (VmHWM sum; largest process)"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
refs = {m: best_peer(m, hi) for m, _l, hi, _f in METRICS}
for s in order:
    row = [LABEL.get(s, s)]
    collapsed = False  # a system without any good run: its reasons once
    for m, _label, hi, fmt in METRICS:
        c = count(s, m)
        if all_failed(s) and PHASE.get(m, "main") == "main":
            row.append("-" if collapsed else "FAILED (0/%d: %s)"
                       % (len(phases[(s, "main")]), reasons(s, "tcp1")))
            collapsed = True
            continue
        if c is None:
            row.append("-")
            continue
        g, n = c
        v = med(s, m)
        if v is None:
            row.append("FAILED (0/%d: %s)" % (n, reasons(s, m)))
            continue
        cell = "%s (%d/%d" % (fmt % v, g, n)
        parts = []
        if m not in ADDED and m != "cpu":
            parts.append(versus(s, "direct", m, "direct"))
        if s == refs[m][1]:
            parts.append("fastest peer" if hi else "best peer")
        elif refs[m][1] and not (s == "direct" and m in ADDED):  # direct: the zero point
            parts.append(versus(s, refs[m][1], m, "peer"))
        row.append(cell + "".join(", " + x for x in parts if x) + ")")
    pair, rss, rss1 = peak(s, "rsspair"), peak(s), peak(s, "rss1")
    row.append("-" if rss is None else "%s (%.1f; %s)" % (
        "-" if pair is None else "%.1f" % pair, rss, "-" if rss1 is None else "%.1f" % rss1))
    print("| " + " | ".join(row) + " |")
print()

def peer_line(m, label):
    best = refs[m][1]
    if not best:
        return "%s -" % label
    tied = [p for p in peers if p != best and overlap(p, best, m)]
    return "%s %s%s" % (label, best, " (within noise: %s)" % ", ".join(tied) if tied else "")


print("Fastest unencrypted peer per column (by median; the peers whose runs overlap its runs "
      "are within noise of it): " + "; ".join(peer_line(m, label)
                                              for m, label, _h, _f in METRICS))
print()
print("Ranges over the good runs (min..max), by which noise is judged:")
print()
print("| system | " + " | ".join(m[1] for m in METRICS) + " |")
print("|" + "---|" * (len(METRICS) + 1))
for s in order:
    cells = []
    for m, _label, _hi, fmt in METRICS:
        v = good(s, m)
        cells.append("-" if not v else fmt % v[0] if len(v) == 1 else
                     "%s..%s" % (fmt % min(v), fmt % max(v)))
    print("| %s | %s |" % (s, " | ".join(cells)))
print()
nices = ["%s %s" % (s, " / ".join(info[(s, "nice")])) for s in order if (s, "nice") in info]
if nices:
    print("Priority (nice) of the tunnel processes' threads, as found after each run: "
          + ", ".join(nices))
    print()
bufs = ["%s: %s" % (s, " / ".join(info[(s, "sockbuf")])) for s in order
        if (s, "sockbuf") in info]
if bufs:
    print("UDP socket buffers of the tunnel processes, receive/send bytes as the kernel has them "
          "(ss gives no sizes for ipipd's raw and packet sockets: %d/%d, from %s asked with "
          "FORCE): %s" % (2 * int(args.sockbuf), 2 * int(args.sockbuf), args.sockbuf,
                          "; ".join(bufs)))
    print()
reads = ["%s: %s" % (s, " / ".join(info[(s, "readby")])) for s in order if (s, "readby") in info]
if reads:
    print("How ipipd's own datapath read its TUN device, at A after each run (io_uring: a "
          "multishot read; read: one read() a packet, and why): " + "; ".join(reads))
    print()
rr = ["%s %.2f / %.2f" % (s, med(s, "rr"), med(s, "rr99"))
      for s in order if med(s, "rr") is not None and med(s, "rr99") is not None]
if rr:
    print("UDP probe round trip, median / p99 us: " + ", ".join(rr))
    print()

RAW = ("tcp1", "tcp4", "udp", "tcp1nic", "rr", "rr99", "rtt", "cpu_all", "cpu", "rss", "rss1",
       "rsspair")
failures = []
for s in order:
    for p in ("main", "nic"):
        for r, (ok, why) in sorted(phases.get((s, p), {}).items()):
            if not ok:
                failures.append("- %s run %d%s: FAILED: %s"
                                % (s, r, " (NIC-like)" if p == "nic" else "", why))
    for m in RAW:
        ph = phases.get((s, PHASE.get(m, "main")), {})
        for r, v, why in runs_of(s, m) or []:
            if v is None and ph[r][0]:
                failures.append("- %s run %d: %s FAILED: %s" % (s, r, m, why))
print("### Failed runs")
print("\n".join(failures) if failures else "None: every run of every system was good.")
print()


def verdict(name, a, b, m, higher, k=1.0, c=0.0, detail=""):
    """The claim a >= k*b (higher) or a <= k*b + c (lower) over the ranges of
    their good runs: PASS if every run of a meets it against every run of b,
    FAIL if none does, else within noise; a side with a single run has no
    range: undecided."""
    global targets
    ra, rb = good(a, m), good(b, m)
    if not ra or not rb:
        return
    targets += 1
    if len(ra) < 2 or len(rb) < 2:
        word = "UNDECIDED (single run)"
    elif higher:
        word = ("PASS" if min(ra) >= k * max(rb) else "FAIL" if max(ra) < k * min(rb)
                else "within noise")
    else:
        word = ("PASS" if max(ra) <= k * min(rb) + c else "FAIL" if min(ra) > k * max(rb) + c
                else "within noise")
    f = next(f for mm, _l, _h, f in METRICS + RAWFMT if mm == m)
    span = lambda v: f % v[0] if len(v) == 1 else "%s..%s" % (f % min(v), f % max(v))  # noqa
    print("- %s: %s (%s of the runs: %s %s, %s %s%s)"
          % (word, name, m, a, span(ra), b, span(rb), "; " + detail if detail else ""))


def rss_target(s, name):
    global targets
    pair, v, one = peak(s, "rsspair"), peak(s), peak(s, "rss1")
    if pair is not None:
        targets += 1
        print("- %s: %s: peak resident memory <= 8 MiB (%.1f MiB: both processes at one end, "
              "each page once, at their peak; their VmHWM summed %s MiB, the largest process "
              "%s MiB)" % ("PASS" if pair <= 8 else "FAIL", name, pair,
                           "-" if v is None else "%.1f" % v, "-" if one is None else "%.1f" % one))


targets = 0
RAWFMT = [("rr", "", False, "%.2f"), ("rtt", "", False, "%.0f"), ("cpu_all", "", False, "%.2f")]
print("### Targets")
print("Over the ranges of the good runs (min..max): PASS only if every run meets the target "
      "against every run it is compared with, FAIL if none does, else within noise; a system "
      "with a single good run has no range (UNDECIDED).")
print()
USERS = [u for u in ("ipipd-userspace", NICE10) if u in order]
E = "ipipd-ebpf"
for s in USERS + [E]:
    if all_failed(s):
        print("- FAILED: %s's targets (%s)" % (s, reasons(s, "tcp1")))
for U in USERS:
    tag = U + (" (ipipd's default priority, the peers' unchanged)" if U == NICE10 else "")
    if refs["tcp1"][1]:
        verdict(tag + ": TCP one stream >= 2x the fastest peer", U, refs["tcp1"][1], "tcp1",
                True, 2, detail="medians %.2f vs 2 x %.2f Gbit/s" % (med(U, "tcp1") or 0,
                                                                      refs["tcp1"][0]))
    if refs["udp"][1]:
        verdict(tag + ": UDP 64 B pps >= 2x the fastest peer", U, refs["udp"][1], "udp",
                True, 2, detail="medians %.0f vs 2 x %.0f kpps" % (med(U, "udp") or 0,
                                                                    refs["udp"][0]))
    if refs["rtt_added"][1] and med(U, "rtt_added") is not None:
        verdict(tag + ": ping RTT added <= the best peer's", U, refs["rtt_added"][1], "rtt",
                False, detail="added, medians: %.0f vs %.0f us" % (med(U, "rtt_added"),
                                                                   refs["rtt_added"][0]))
    rss_target(U, tag)
verdict(E + ": TCP one stream >= 90 % of direct", E, "direct", "tcp1", True, 0.9)
for m, label, hi, _f in METRICS:
    if m == "cpu":
        continue
    verdict("%s: %s %s kernel VXLAN's" % (E, label, ">=" if hi else "<="), E, "vxlan",
            BASE[m], hi)
if good("direct", "rr"):
    d = good("direct", "rr")
    verdict(E + ": probe RTT added <= 2 us", E, "direct", "rr", False, 1, 2,
            detail="added: %.2f us (median less the direct path's median)"
            % (med(E, "rr") - statistics.median(d)) if med(E, "rr") is not None else "")
rss_target(E, E)
if not targets:
    print("None could be checked: the systems they compare were not measured or had no good run.")
print()

# Every run's values: the report's own section, and the files next to it.
nruns = max([row["run"] for row in rows] or [0])
print("### Every run")
print("Values in run order; a failed run or value is shown as FAILED (the reasons are "
      "listed above), a value measured in a failed run in brackets (not used).")
print()
print("| system | metric | " + " | ".join("run %d" % r for r in range(1, nruns + 1)) + " |")
print("|---|---|" + "---|" * nruns)
for s in order:
    for p in ("main", "nic"):
        ph = phases.get((s, p), {})
        if ph:
            print("| %s | %s | %s |" % (s, "run" if p == "main" else "NIC-like run", " | ".join(
                ("" if r not in ph else "ok" if ph[r][0] else "FAILED")
                for r in range(1, nruns + 1))))
    for m in RAW:
        if runs_of(s, m) is None:
            continue
        got = recs.get((s, m), {})
        ph = phases.get((s, PHASE.get(m, "main")), {})
        cells = []
        for r in range(1, nruns + 1):
            row = got.get(r)
            if row is None:
                cells.append("FAILED" if r in ph else "")
            elif row["value"] is None:
                cells.append("FAILED")
            elif not ph.get(r, (True, ""))[0]:
                cells.append("[%.4g]" % row["value"])
            else:
                cells.append("%.4g" % row["value"])
        print("| %s | %s | %s |" % (s, m, " | ".join(cells)))
print()

if args.tsv:
    with open(args.tsv, "w") as f:
        f.write("system\tmetric\trun\tvalue\tstatus\tnote\n")
        for row in rows:
            f.write("%s\t%s\t%d\t%s\t%s\t%s\n" % (
                row["system"], row["metric"], row["run"],
                "" if row["value"] is None else repr(row["value"]), row["status"], row["note"]))
if args.json:
    summary = {}
    for s in order:
        for m, *_ in METRICS + [("rr", ), ("rr99", ), ("rtt", ), ("cpu_all", ), ("rss", ),
                                 ("rss1", ), ("rsspair", )]:
            c = count(s, m)
            if c is None:
                continue
            g = good(s, m)
            summary.setdefault(s, {})[m] = {
                "median": med(s, m), "good": c[0], "tried": c[1],
                "min": min(g) if g else None, "max": max(g) if g else None,
                "failures": reasons(s, m) or None}
    with open(args.json, "w") as f:
        json.dump({"started": args.started + " UTC", "finished": args.finished + " UTC",
                   "commit": args.commit, "nice": int(args.nice), "runs": int(args.runs),
                   "nic_runs": int(args.nic_runs), "seconds": float(args.seconds),
                   "quick": args.quick == "1",
                   "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(),
                               "kernel": platform.release()},
                   "rows": rows, "summary": summary}, f, indent=1)
        f.write("\n")

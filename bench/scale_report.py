#!/usr/bin/python3
# scale_report.py RESULTS [options]: the markdown section of bench/scale.sh
# from its results (CONFIG METRIC RUN VALUE STATUS NOTE, tab-separated).
# Medians over the good runs, with their number; each configuration against
# the one with a single peer (tunnel) as the ratio of the medians and the
# range of the same-run ratios (run r's value over run r's single one).
import argparse
import statistics
import sys

ap = argparse.ArgumentParser()
ap.add_argument("results")
for o in ("runs", "seconds", "churn", "rate"):
    ap.add_argument("--" + o, type=float, required=True)
for o in ("started", "finished", "commit", "nice", "peers", "tunnels", "datapaths"):
    ap.add_argument("--" + o, required=True)
ap.add_argument("--hub-datapaths", default="userspace")
a = ap.parse_args()

vals = {}   # (config, metric) -> {run: value}
notes = {}  # (config, metric) -> {run: note}
fails = []
with open(a.results) as f:
    for line in f:
        c, m, r, v, st, note = (line.rstrip("\n").split("\t") + [""] * 6)[:6]
        if st == "ok":
            vals.setdefault((c, m), {})[int(r)] = float(v)
            notes.setdefault((c, m), {})[int(r)] = note
        else:
            fails.append("%s run %s: %s failed: %s" % (c, r, m, note))

runs = int(a.runs)


def med(c, m):
    d = vals.get((c, m), {})
    return statistics.median(d.values()) if d else None


def cell(c, m, fmt="%.2f"):
    d = vals.get((c, m), {})
    if not d:
        return "failed (0/%d)" % runs
    s = fmt % statistics.median(d.values())
    if len(d) > 1:
        s += " (" + (fmt % min(d.values())) + "-" + (fmt % max(d.values())) + ")"
    return s + " [%d/%d]" % (len(d), runs)


def ratio(c, base, m):
    d, b = vals.get((c, m), {}), vals.get((base, m), {})
    if not d or not b or statistics.median(b.values()) <= 0:
        return "-"
    s = "%.2f" % (statistics.median(d.values()) / statistics.median(b.values()))
    same = [d[r] / b[r] for r in d if r in b and b[r] > 0]
    if len(same) > 1:
        s += " (%.2f-%.2f)" % (min(same), max(same))
    return s


def per_one(c, base, m, n, scale):
    x, b = med(c, m), med(base, m)
    if x is None or b is None or n <= 1:
        return "-"
    return "%.1f" % ((x - b) / (n - 1) * scale)


out = []
w = out.append
w("## Scale: many peers, many tunnels\n")
w("%s to %s UTC, commit %s; %d run(s) of %g s, interleaved, each configuration set up afresh "
  "in each; ipipd at nice %s; A pinned to CPU 0, B to CPU 1 (bench/scale.sh).\n"
  % (a.started, a.finished, a.commit, runs, a.seconds, a.nice))
w("Medians of the good runs, (min-max) and [good/runs]. \"of 1\": the median against the "
  "single peer's (single tunnel's) median in the same bench, and (min-max) of the same-run "
  "ratios. tcp1: one TCP stream (to B's ipipd through the hub; through the tunnel started "
  "last). spray: 1400-byte UDP datagrams from A round robin to an address behind every peer "
  "(tunnel), Gbit/s of inner packets B's ipipd decapsulated. \"1 to N\": the same spray to "
  "N destinations behind a single peer (tunnel), and \"of that\" the N-peer (N-tunnel) "
  "spray against it: the cost of the peers (tunnels) alone, where \"of 1\" also counts what "
  "N destinations cost the sender and the receiver. Memory: A's ipipd processes, each page "
  "once, after the load.\n")

peers = [int(x) for x in a.peers.split()]
for dp in a.hub_datapaths.split():
    if not peers:
        break
    base = "hub-%s-%d" % (dp, min(peers))
    w("### A hub (Remote = any, %s datapath) with N peers\n" % dp)
    w("| peers | tcp1 Gbit/s | of %d | spray Gbit/s | of %d | spray, 1 to N | of that | memory MiB | per more peer KiB |"
      % (min(peers), min(peers)))
    w("|---|---|---|---|---|---|---|---|---|")
    for n in peers:
        c, one = "hub-%s-%d" % (dp, n), "hubone-%s-%d" % (dp, n)
        w("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, cell(c, "tcp1"), ratio(c, base, "tcp1") if c != base else "1",
            cell(c, "spray"), ratio(c, base, "spray") if c != base else "1",
            cell(one, "spray") if n > 1 else "-", ratio(c, one, "spray") if n > 1 else "-",
            cell(c, "rss", "%.1f"), per_one(c, base, "rss", n - min(peers) + 1, 1024)))
    w("")
    top = "hub-%s-%d" % (dp, max(peers))
    if (top, "churn_lost") in vals or any(f.startswith(top + " ") and "churn" in f for f in fails):
        w("Route churn with %d peers (%s datapath): for %g s, routes into the hub added and "
          "deleted at A (prefixes /25-/31 inside the peers' inner ranges, via one peer: never a "
          "datagram's route) while UDP datagrams went to all %d peers at %g a second:\n"
          % (max(peers), dp, a.churn, max(peers), a.rate))
        for r in sorted(vals.get((top, "churn_lost"), {})):
            w("- run %d: %.0f route changes a second (%s); %.0f datagrams sent, %.0f lost (%s)"
              % (r, vals[(top, "churn_rate")].get(r, float("nan")),
                 notes[(top, "churn_rate")].get(r, ""), vals[(top, "churn_sent")].get(r, 0),
                 vals[(top, "churn_lost")][r], notes[(top, "churn_lost")][r]))
        w("")

tunnels = [int(x) for x in a.tunnels.split()]
for dp in a.datapaths.split():
    if not tunnels:
        break
    base = "p2p-%s-%d" % (dp, min(tunnels))
    w("### K point-to-point tunnels on one host, %s datapath\n" % dp)
    w("| tunnels | tcp1 Gbit/s | of %d | spray Gbit/s | of %d | spray, 1 to N | of that | memory MiB | per tunnel MiB |"
      % (min(tunnels), min(tunnels)))
    w("|---|---|---|---|---|---|---|---|---|")
    for n in tunnels:
        c, one = "p2p-%s-%d" % (dp, n), "p2pone-%s-%d" % (dp, n)
        m = med(c, "rss")
        w("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, cell(c, "tcp1"), ratio(c, base, "tcp1") if c != base else "1",
            cell(c, "spray"), ratio(c, base, "spray") if c != base else "1",
            cell(one, "spray") if n > 1 else "-", ratio(c, one, "spray") if n > 1 else "-",
            cell(c, "rss", "%.1f"), "%.1f" % (m / n) if m is not None else "-"))
    w("")

if fails:
    w("Failed:\n")
    for f in fails:
        w("- " + f)
    w("")
sys.stdout.write("\n".join(out) + "\n")

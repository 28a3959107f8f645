#!/usr/bin/python3
"""The bench's "ping side by side" section, from the round trips
bench/bench.sh measured with every system up at once (SYSTEM ROUND VALUE per
line; VALUE microseconds, or "lost"; round 0 says a system was "down" or not
at the priority asked for, "nice").

Systems are compared round by round: in each round both had a burst of pings
within seconds of each other, so the machine's drifts fall on both alike.  A
difference is said only where a two-sided sign test over the rounds gives
p < 0.05; else the two are within noise."""
import argparse
import math
import statistics
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--tsv", required=True)
ap.add_argument("--peers", required=True)
ap.add_argument("--rounds", type=int, required=True)
ap.add_argument("--burst", type=int, required=True)
args = ap.parse_args()

order, rtts, lost, bursts, bad = [], {}, {}, {}, {}
with open(args.tsv) as f:
    for line in f:
        w = line.split()
        if len(w) != 3:
            continue
        s, r, v = w[0], int(w[1]), w[2]
        if s not in order:
            order.append(s)
        if v in ("down", "nice"):
            bad[s] = ("could not be started" if v == "down"
                      else "its threads not at the priority asked for")
        elif v == "lost":
            lost[s] = lost.get(s, 0) + 1
        else:
            rtts.setdefault(s, []).append(float(v))
            bursts.setdefault(s, {}).setdefault(r, []).append(float(v))


def burst_medians(s):
    return {r: statistics.median(v) for r, v in bursts.get(s, {}).items()}


def sign_test(a, b):
    """Rounds where a's burst median is below b's, above it; two-sided p."""
    ma, mb = burst_medians(a), burst_medians(b)
    below = sum(1 for r in ma if r in mb and ma[r] < mb[r])
    above = sum(1 for r in ma if r in mb and ma[r] > mb[r])
    n = below + above
    if n == 0:
        return below, above, 1.0
    k = min(below, above)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
    return below, above, p


def usable(s):
    return s not in bad and len(rtts.get(s, [])) > 0


def med(s):
    return statistics.median(rtts[s]) if usable(s) else None


def pct(s, q):
    v = sorted(rtts[s])
    return v[min(len(v) - 1, int(q * len(v)))]


direct = med("direct") if usable("direct") else None
peers = [p for p in args.peers.split() if usable(p)]
best = min(peers, key=med) if peers else None

print("### Ping side by side")
print("- method: every system up at once, each in a pair of namespaces of its own (the same "
      "underlay, side A on CPU 0, side B on CPU 1, the same priorities as above); %d rounds, "
      "each a burst of %d pings 10 ms apart through every system in turn: %d pings per "
      "system, within seconds of every other system's in each round, so that the machine's "
      "drifts fall on all alike" % (args.rounds, args.burst, args.rounds * args.burst))
print("- added: the system's median less the direct path's; rounds below the best peer: in how "
      "many rounds the system's burst median was below the fastest unencrypted peer's (by "
      "median) and above it; a difference is said only where a two-sided sign test over the "
      "rounds gives p < 0.05, else within noise")
print()
print("| system | pings answered | RTT median us | added us | p10..p90 us | "
      "rounds below / above %s (p) |" % (best or "the best peer"))
print("|---|---|---|---|---|---|")
for s in order:
    if not usable(s):
        print("| %s | FAILED: %s | | | | |" % (s, bad.get(s, "no ping answered")))
        continue
    n = len(rtts[s])
    cmp = ""
    if best and s != best:
        b, a, p = sign_test(s, best)
        cmp = "%d / %d (%.2g)" % (b, a, p)
    print("| %s | %d of %d | %.0f | %s | %.0f..%.0f | %s |" % (
        s, n, n + lost.get(s, 0), med(s),
        "%.0f" % (med(s) - direct) if direct is not None else "-",
        pct(s, 0.1), pct(s, 0.9), cmp))
print()


def target(name, a, b):
    if not (usable(a) and usable(b)):
        return
    below, above, p = sign_test(a, b)
    if p < 0.05:
        word = "PASS" if below > above else "FAIL"
    else:
        word = "within noise"
    print("- %s: %s (%s's burst median below %s's in %d of the rounds, above in %d, sign test p = "
          "%.2g; medians %.0f vs %.0f us)" % (word, name, a, b, below, above, p, med(a), med(b)))


print("#### Targets, side by side")
for u in ("ipipd-userspace", "ipipd-userspace-nice-10"):
    if best:
        target("%s%s: ping RTT added <= the best peer's" % (
            u, " (ipipd's default priority)" if u.endswith("nice-10") else ""), u, best)
target("ipipd-ebpf: ping RTT <= kernel VXLAN's", "ipipd-ebpf", "vxlan")
print()
sys.stdout.flush()

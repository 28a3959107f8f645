#!/usr/bin/python3
"""One number from an iperf3 -J result for bench.sh, or why there is none.

usage: iperf_value.py FILE FIELD
  FIELD: gbps     TCP Gbit/s received (omitted warm-up seconds excluded)
         bytes    TCP bytes received in the measured seconds
         seconds  the measured seconds of the receiver
         kpps     UDP: thousands of 64-byte datagrams received per second

Prints the number and exits 0, or prints the reason (one line) and exits 1:
iperf3's own error, no JSON (killed by the timeout, crashed), nothing received.
"""
import json
import sys


def main():
    path, field = sys.argv[1:3]
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        print("no iperf3 output (%s)" % e.strerror)
        return 1
    try:
        d = json.loads(text)
    except ValueError:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        said = [line for line in lines if "error" in line.lower()][:1] or lines[-1:]
        print("iperf3 gave no result (timed out or crashed)%s" % (": " + said[0] if said else ""))
        return 1
    if d.get("error"):
        print("iperf3: %s" % d["error"])
        return 1
    try:
        r = d["end"]["sum_received"]
        if field == "gbps":
            v = r["bits_per_second"] / 1e9
        elif field == "bytes":
            v = r["bytes"]
        elif field == "seconds":
            v = r["seconds"]
        elif field == "kpps":
            v = r["bytes"] / 64 / r["seconds"] / 1e3
        else:
            print("unknown field %s" % field)
            return 1
    except (KeyError, TypeError, ZeroDivisionError):
        print("iperf3's result has no received sum")
        return 1
    if not v > 0:
        print("iperf3: nothing received")
        return 1
    print(v)
    return 0


sys.exit(main())

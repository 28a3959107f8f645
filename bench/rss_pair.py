#!/usr/bin/python3
# rss_pair.py PID...: the resident memory of the processes together, each
# physical page counted once (KiB), and whether every one of them is at its
# peak (VmRSS = VmHWM): "KIB PEAK" with PEAK 1 or 0.  Summing VmHWM counts a
# page that two processes share (ipipd's datapath process is forked from the
# parent: its libraries and much of its heap are the parent's pages) once for
# each; here the page frame numbers of every resident page (/proc/PID/pagemap,
# readable by root) are gathered into one set.  Pages in swap are not
# resident and not counted.
import os
import struct
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1


def frames(pid):
    out = set()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/pagemap" % pid, "rb") as pm:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if line.rstrip().endswith("[vsyscall]"):
                continue  # not in the page tables pagemap walks
            n = (hi - lo) // PAGE
            pm.seek(lo // PAGE * 8)
            data = pm.read(n * 8)
            for (e,) in struct.iter_unpack("<Q", data):
                if e & PRESENT:
                    pfn = e & PFN_MASK
                    if pfn == 0:
                        sys.exit("rss_pair.py: page frame numbers are hidden (not root?)")
                    out.add(pfn)
    return out


def status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


pids = [int(a) for a in sys.argv[1:]]
if not pids:
    sys.exit("usage: rss_pair.py PID...")
allf = set()
peak = 1
for p in pids:
    before = status(p, "VmRSS")
    allf |= frames(p)
    if not (status(p, "VmHWM") == before == status(p, "VmRSS")):
        peak = 0
print(len(allf) * PAGE // 1024, peak)

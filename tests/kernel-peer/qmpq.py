#!/usr/bin/python3
# qmpq.py SOCKET: the kernel-peer guest NIC's virtqueues as QEMU sees them (QMP
# x-query-virtio-queue-status), printed by tests after a failed transfer, and
# as they are in guest memory (read through the monitor): the ring indexes the
# driver wrote (avail.idx, used_event) beside those QEMU last read and wrote.
# avail.idx ahead of last-avail-idx with nothing in use: the driver queued
# buffers that the device was never told of (a notification lost).
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
def u16(addr):  # a 16-bit word of guest memory, through the human monitor
    out = cmd("human-monitor-command", **{"command-line": "xp /1hx %d" % addr}).get("return", "")
    return int(out.split(":")[1].split()[0], 16) if ":" in out else None
json.loads(f.readline()); cmd("qmp_capabilities")
for d in cmd("x-query-virtio").get("return", []):
    if d.get("name") != "virtio-net": continue
    for q in (0, 1):
        r = cmd("x-query-virtio-queue-status", path=d["path"], queue=q).get("return", {})
        print("virtio-net queue %d (%s): %s" % (q, "rx" if q == 0 else "tx",
              " ".join("%s=%s" % (k, v) for k, v in sorted(r.items()) if k not in ("name", "queue-index"))))
        if not all(k in r for k in ("vring-avail", "vring-used", "vring-num")):
            continue
        av, us, num = r["vring-avail"], r["vring-used"], r["vring-num"]
        print("  in guest memory: avail.flags=%s avail.idx=%s used_event=%s used.flags=%s used.idx=%s avail_event=%s" % (
              u16(av), u16(av + 2), u16(av + 4 + 2 * num), u16(us), u16(us + 2), u16(us + 4 + 8 * num)))

#!/usr/bin/python3
# qmpq.py SOCKET: the kernel-peer guest NIC's virtqueues as QEMU sees them (QMP x-query-virtio-queue-status), printed by tests after a failed transfer
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r: return r
json.loads(f.readline()); cmd("qmp_capabilities")
for d in cmd("x-query-virtio").get("return", []):
    if d.get("name") != "virtio-net": continue
    for q in (0, 1):
        r = cmd("x-query-virtio-queue-status", path=d["path"], queue=q).get("return", {})
        print("virtio-net queue %d (%s): %s" % (q, "rx" if q == 0 else "tx",
              " ".join("%s=%s" % (k, v) for k, v in sorted(r.items()) if k not in ("name", "queue-index"))))

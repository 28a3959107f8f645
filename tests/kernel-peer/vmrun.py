#!/usr/bin/python3
"""Run one shell script in the kernel-peer guest over its command serial port.

  vmrun.py SOCKET TIMEOUT_S SCRIPT

Prints the script's output (stdout and stderr together) and exits with its
status; 124 if no answer came in time.  Output left over from an earlier
command that timed out is skipped (every answer ends with its own nonce).
"""
import base64
import os
import re
import socket
import sys
import time

END = re.compile(rb"__KP_END_([0-9a-f]+) ([0-9]+)\n")


def main():
    path, tmo, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    nonce = os.urandom(6).hex()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + tmo + 20
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"%s %d %s\n" % (nonce.encode(), tmo, base64.b64encode(script.encode())))
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.stdout.buffer.write(buf)
            sys.stderr.write("vmrun: no answer from the guest in %d s\n" % tmo)
            sys.exit(124)
        s.settimeout(left)
        try:
            data = s.recv(1 << 16)
        except socket.timeout:
            continue
        if not data:
            sys.stdout.buffer.write(buf)
            sys.stderr.write("vmrun: the guest's serial port closed\n")
            sys.exit(125)
        buf += data
        while True:
            m = END.search(buf)
            if not m:
                break
            if m.group(1).decode() == nonce:
                sys.stdout.buffer.write(buf[:m.start()])
                sys.exit(int(m.group(2)))
            buf = buf[m.end():]


if __name__ == "__main__":
    main()

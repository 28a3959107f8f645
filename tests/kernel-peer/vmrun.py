#!/usr/bin/python3
"""Run one shell script in the kernel-peer guest over its command serial port.

  vmrun.py [--ack] SOCKET TIMEOUT_S SCRIPT

Prints the script's output (stdout and stderr together) and exits with its
status; 124 if no answer came in time.  Output left over from an earlier
command that timed out is skipped (every answer ends with its own nonce).

--ack (the kernel-peer guest's init): the line also carries the length of
the script's base64, and the guest acknowledges a whole line before it runs
it.  A line not acknowledged within ACK_S (a byte lost on the way: the guest
then saw a line of the wrong length, or none) is sent again, with the same
nonce; so is one whose answer did not come in time.  The guest runs a nonce
once and answers a repeat with the status it had.
"""
import base64
import os
import re
import socket
import sys
import time

END = re.compile(rb"__KP_END_([0-9a-f]+) ([0-9]+)\n")
ACK = re.compile(rb"__KP_ACK_([0-9a-f]+)\n")
ACK_S = 20
RESENDS = 2


def main():
    args = sys.argv[1:]
    ack = args[:1] == ["--ack"]
    if ack:
        args = args[1:]
    path, tmo, script = args[0], int(args[1]), args[2]
    nonce = os.urandom(6).hex()
    b64 = base64.b64encode(script.encode())
    line = b"%s %d %s" % (nonce.encode(), tmo, b64)
    if ack:
        line += b" %d" % len(b64)
    line += b"\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(line)
    sent = time.monotonic()
    deadline = sent + tmo + 20
    resends = 0
    got_ack = False
    buf = b""
    while True:
        now = time.monotonic()
        if ack and resends < RESENDS:
            due = deadline if got_ack else sent + ACK_S
            if now >= due:
                resends += 1
                sys.stderr.write("vmrun: %s from the guest in %d s: the command line sent again\n"
                                 % ("no answer" if got_ack else "no acknowledgement", now - sent))
                s.sendall(b"\n" + line)  # the newline ends a line left half there
                sent, got_ack = now, False
                deadline = max(deadline, now + ACK_S)
                continue
        else:
            due = deadline
            if now >= deadline:
                sys.stdout.buffer.write(buf)
                sys.stderr.write("vmrun: no answer from the guest in %d s\n" % tmo)
                sys.exit(124)
        s.settimeout(max(due - now, 0.05))
        try:
            data = s.recv(1 << 16)
        except socket.timeout:
            continue
        if not data:
            sys.stdout.buffer.write(buf)
            sys.stderr.write("vmrun: the guest's serial port closed\n")
            sys.exit(125)
        buf += data
        for m in ACK.finditer(buf):
            got_ack = got_ack or m.group(1).decode() == nonce
        buf = ACK.sub(b"", buf)
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

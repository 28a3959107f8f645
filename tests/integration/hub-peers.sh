#!/bin/bash
# A hub's peers are listed in full, however many: `ipipctl show` (human and
# JSON) and `ipipctl metrics` ask the daemon for the peers that do not fit in
# its first reply ("peers=N", a reply at a time), until none is left.
#
#   H  eth0 192.0.2.1/24 (a veth to an empty namespace E, 192.0.2.2)
#      hub: Remote = any, AllowedRemotes 198.51.100.0/24, 150 routes
#      203.0.113.K/32 via 198.51.100.K onlink (K 1-150): 150 peers
set -u
. "$(dirname "$0")/../lib.sh"

N=150
ns_new H hpH && ns_new E hpE || exit 1
veth_pair "$H" eth0 192.0.2.1/24 "$E" eth0 192.0.2.2/24 || exit 1
nsx "$H" ip route add 198.51.100.0/24 via 192.0.2.2
printf '[Tunnel]\nName = hubp\nLocal = 192.0.2.1\nRemote = any\nAllowedRemotes = 198.51.100.0/24\nDatapath = %s\n[Address]\nAddress = 203.0.113.254/32\n' \
	"$DATAPATH" >"$WORK/hubp.conf"
start "$H" "$WORK/hubp.conf" || notok "ipipd start"
for k in $(seq 1 $N); do echo "route add 203.0.113.$k/32 via 198.51.100.$k dev hubp onlink"; done |
	nsx "$H" ip -batch - || notok "routes into the hub"
for _ in $(seq 50); do [ "$(json "$H" hubp hub_peers)" = $N ] && break; sleep 0.1; done
check "the hub has $N peers ($(json "$H" hubp hub_peers))" test "$(json "$H" hubp hub_peers)" = $N

nsx "$H" "$IPIPCTL" show --json hubp >"$WORK/show.json"
check "ipipctl show --json lists all $N, each with its route, once" $PY -c '
import json, sys
n = int(sys.argv[2])
t = json.load(open(sys.argv[1]))[0]
p = t["peers"]
assert len(p) == n, len(p)
want = {"198.51.100.%d" % k: "203.0.113.%d/32" % k for k in range(1, n + 1)}
assert {x["address"]: x["routes"] for x in p} == want, p
assert "peers_next" not in t, t
' "$WORK/show.json" $N
nsx "$H" "$IPIPCTL" show hubp >"$WORK/show.txt"
check "ipipctl show lists all $N ($(grep -c '^  peer ' "$WORK/show.txt") peer lines)" \
	test "$(grep -c '^  peer 198\.51\.100\.[0-9]*: routes 203\.0\.113\.[0-9]*/32;' "$WORK/show.txt")" = $N
nsx "$H" "$IPIPCTL" metrics hubp >"$WORK/metrics.prom"
check "ipipctl metrics has each of the $N peers' counters ($(grep -c '^ipipd_peer_tx_packets_total{' "$WORK/metrics.prom") series); promtool passes" \
	bash -c "[ \$(grep -c '^ipipd_peer_tx_packets_total{tunnel=\"hubp\",peer=\"198\.51\.100\.[0-9]*\"} ' $WORK/metrics.prom) = $N ] &&
		promtool check metrics <$WORK/metrics.prom"

# A request for the peers from one number on gets those, the last reply none more.
check "the control socket answers peers=N with the peers from N on (and junk with EINVAL)" $PY -c '
import socket, sys
def ask(req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(req)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return out.decode()
r = ask(b"peers=140\n\n")
lines = [l for l in r.split("\n") if l.startswith("hub_peer.")]
assert len(lines) == 10, r
assert "peers_next=" not in r and r.endswith("errno=0\n\n"), r
r = ask(b"peers=0\n\n")
assert "peers_next=" in r and r.endswith("errno=0\n\n"), r
assert ask(b"peers=x\n\n") == "errno=22\n\n"
' "$(rundir "$H")/hubp.sock"
finish

#!/bin/bash
# make demo: two hosts in network namespaces, an ipipd tunnel between them,
# a ping and a transfer through it, shown with ipipctl.
#
#   home (Moe)  192.0.2.42/24  ---- veth ----  198.51.100.2/24 ... colo (Moe)
#   (both on one veth here: 192.0.2.42 and 192.0.2.2)
#   tunnel addresses 203.0.113.5 <-> 203.0.113.1
set -u
. "$(dirname "$0")/lib.sh"
IPIPD=$TOP/build/ipipd IPIPCTL=$TOP/build/ipipctl
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
pass() { echo "PASS: $*"; }
failx() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
try() { local what=$1; shift; if "$@"; then pass "$what"; else failx "$what"; fi; }

H=$(ns_new home) && C=$(ns_new colo) || exit 1
veth_pair "$H" eth0 192.0.2.42/24 "$C" eth0 192.0.2.2/24 || exit 1
cat >"$WORK/home.conf" <<EOC
[Tunnel]
Name = Moe
Local = 192.0.2.42
Remote = 192.0.2.2
[Address]
Address = 203.0.113.5/32
Peer = 203.0.113.1
EOC
sed -e 's/192.0.2.42/X/; s/Remote = 192.0.2.2/Remote = 192.0.2.42/; s/X/192.0.2.2/' \
    -e 's/203.0.113.5/Y/; s/Peer = 203.0.113.1/Peer = 203.0.113.5/; s/Y/203.0.113.1/' \
	"$WORK/home.conf" >"$WORK/colo.conf"
BEFORE=$(dump "$H")

step "1. Start ipipd on both ends (it returns once the tunnel is up)"
cat "$WORK/home.conf"
try "ipipd started on home" start "$H" "$WORK/home.conf" Moe
try "ipipd started on colo" start "$C" "$WORK/colo.conf" Moe
ip -n "$H" addr show Moe

step "2. Ping through the tunnel"
try "home pings colo's tunnel address" nsx "$H" ping -c 3 -i 0.2 -W 2 203.0.113.1

step "3. A 16 MiB transfer, checksummed at both ends"
head -c $((16 << 20)) /dev/urandom >"$WORK/blob"
nsx "$C" $PKT sink 203.0.113.1 5001 >"$WORK/sink" & SINK=$!
for _ in $(seq 50); do grep -q listening "$WORK/sink" 2>/dev/null && break; sleep 0.1; done
SENT=$(nsx "$H" $PKT send 203.0.113.1 5001 "$WORK/blob"); wait "$SINK"
echo "sent:     $SENT"; echo "received: $(tail -n1 "$WORK/sink")"
try "transfer intact" test "$SENT" = "$(tail -n1 "$WORK/sink")"

step "4. ipipctl show on home"
nsx "$H" "$IPIPCTL" show

step "5. ipipctl down, and the host is as it was"
nsx "$H" "$IPIPCTL" down Moe
try "home's links, addresses and routes are as before" diff <(echo "$BEFORE") <(dump "$H")

echo
[ "$FAILED" -eq 0 ] && echo "demo: every step passed" || echo "demo: $FAILED step(s) failed"
[ "$FAILED" -eq 0 ]

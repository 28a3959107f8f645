#!/bin/bash
# Boot before the network: no Local address or no route to Remote at start
# is a state, not an error.  ipipd returns (daemonized), says what it waits
# for (ipipctl show, and STATUS= under systemd), changes nothing on the host,
# and brings the tunnel up when rtnetlink reports the address and the route.
# A configuration error is still an error at once.
#
#   A (wtA) Local 203.0.113.1 (on lo, added later)    B (wtB) Local 192.0.2.2
#   va (no address; 192.0.2.1/24 later) ---- veth ---- vb 192.0.2.2/24
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A wtA && ns_new B wtB || exit 1
veth_pair "$A" va 10.0.0.1/32 "$B" vb 192.0.2.2/24 || exit 1
nsx "$A" ip addr flush dev va	# up, without an address or a route
nsx "$B" ip route add 203.0.113.1/32 via 192.0.2.1
printf '[Tunnel]\nLocal = 203.0.113.1\nRemote = 192.0.2.2\nDatapath = %s\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' \
	"$DATAPATH" >"$WORK/wa.conf"
printf '[Tunnel]\nLocal = 192.0.2.2\nRemote = 203.0.113.1\nDatapath = %s\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' \
	"$DATAPATH" >"$WORK/wb.conf"
start "$B" "$WORK/wb.conf" || notok "ipipd start B"
PB=$STARTED

dump "$A" >"$WORK/a.before"
t0=$(date +%s%N)
check "ipipd CONFIG returns 0 at once although Local is not an address here yet" start "$A" "$WORK/wa.conf"
PA=$STARTED
check "... within 5 s" test $((($(date +%s%N) - t0) / 1000000)) -lt 5000
state() { json "$A" wa state; }
check "ipipctl show --json: state waiting, waiting_for names Local" \
	test "$(state): $(json "$A" wa waiting_for)" = "waiting: Local 203.0.113.1 to be an address of this host"
nsx "$A" "$IPIPCTL" show wa | sed 's/^/#   /'
check "ipipctl show says what it waits for" bash -c "ip netns exec $A $IPIPCTL show wa | grep -q 'waiting for Local 203.0.113.1'"
dump "$A" >"$WORK/a.waiting"
check "while waiting nothing on the host changed (no device, address, route, rule)" \
	diff "$WORK/a.before" "$WORK/a.waiting"

nsx "$A" ip addr add 203.0.113.1/32 dev lo
for _ in $(seq 30); do json "$A" wa waiting_for 2>/dev/null | grep -q 'a route to Remote' && break; sleep 0.1; done
check "Local appears: now it waits for a route to Remote (rtnetlink, within 3 s)" bash -c "
	[[ '$(json "$A" wa waiting_for)' == 'a route to Remote 192.0.2.2 '* ]]"

t0=$(date +%s%N)
nsx "$A" ip addr add 192.0.2.1/24 dev va
for _ in $(seq 50); do [ "$(state)" = up ] && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
check "the route appears: the tunnel is up ($ms ms, within 5 s)" test "$(state)" = up
check "... and carries pings" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
check "... the daemon is the one started" kill -0 "$PA"

check "ipipctl down stops it" nsx "$A" "$IPIPCTL" down wa
wait_gone "$PA"
nsx "$A" ip addr del 203.0.113.1/32 dev lo
nsx "$A" ip addr del 192.0.2.1/24 dev va
dump "$A" >"$WORK/a.after"
check "after ipipctl down, A's host is as before start" diff "$WORK/a.before" "$WORK/a.after"

# Down while waiting: nothing to undo, the runtime files go.
check "start again while nothing is there" start "$A" "$WORK/wa.conf"
PA=$STARTED
check "ipipctl down of a waiting tunnel" nsx "$A" "$IPIPCTL" down wa
wait_gone "$PA"
check "... it is gone with its runtime files" bash -c "
	! kill -0 $PA 2>/dev/null && ! ls /run/ipipd/netns/$(nsino "$A")/wa.* 2>/dev/null | grep -q ."
dump "$A" >"$WORK/a.after2"
check "... host dump as before" diff "$WORK/a.before" "$WORK/a.after2"

# A configuration error is still an error at once.
printf '[Tunnel]\nLocal = 203.0.113.1\nRemote = 192.0.2.2\nTTL = 999\n[Address]\nAddress = 198.51.100.1/32\n' >"$WORK/wbad.conf"
nsx "$A" "$IPIPD" "$WORK/wbad.conf" 2>"$WORK/bad.err"
rc=$?
check "a configuration error fails at once with FILE:LINE (status $rc)" bash -c "
	[ $rc != 0 ] && grep -q 'wbad.conf:4: TTL' $WORK/bad.err"
finish

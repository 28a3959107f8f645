#!/bin/bash
# A tunnel inside another: the inner tunnel's underlay is the outer tunnel's
# TUN device, which has no link-layer header (as a WireGuard, PPP or other
# tunnel device has none).  The eBPF fast path reads the outer header at
# offset 0 there, and its egress program hands packets to the outer tunnel's.
#
#   A (nsA)                                         B (nsB)
#   va 192.0.2.1/24 -------------- veth ----------- vb 192.0.2.2/24
#   outer tunnel oa: 198.51.100.1/32 peer .2        ob: 198.51.100.2/32 peer .1
#   inner tunnel ia: 203.0.113.1/32 peer .2         ib: 203.0.113.2/32 peer .1
#     (Local 198.51.100.1, Remote 198.51.100.2: through the outer tunnel)
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A nsA && ns_new B nsB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1

conf() { # conf FILE LOCAL REMOTE ADDR PEER DATAPATH
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$6" "$4" "$5" >"$WORK/$1"
	echo "$WORK/$1"
}
OA=$(conf oa.conf 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "$DATAPATH")
OB=$(conf ob.conf 192.0.2.2 192.0.2.1 198.51.100.2 198.51.100.1 "$DATAPATH")
IA=$(conf ia.conf 198.51.100.1 198.51.100.2 203.0.113.1 203.0.113.2 "$DATAPATH")
IB=$(conf ib.conf 198.51.100.2 198.51.100.1 203.0.113.2 203.0.113.1 "$DATAPATH")
BEFORE_A=$(dump "$A")
start "$A" "$OA" && PO=$STARTED || notok "outer tunnel on A"
start "$B" "$OB" || notok "outer tunnel on B"
check "the outer tunnel carries a ping" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
start "$A" "$IA" && PI=$STARTED || notok "inner tunnel on A"
start "$B" "$IB" || notok "inner tunnel on B"
check "the inner tunnel's MTU is the outer's - 20 (1460)" \
	bash -c "ip -n $A link show ia | grep -q 'mtu 1460'"
show=$(nsx "$A" "$IPIPCTL" show ia)
echo "$show" | sed 's/^/#   /'
if bpftool prog show >/dev/null 2>&1 && [ "$DATAPATH" != userspace ]; then
	check "the inner tunnel's fast path runs on the outer tunnel's TUN device (no link layer)" \
		test "$(json "$A" ia datapath) $(json "$A" ia fast_underlay)" = "ebpf $(nsx "$A" cat /sys/class/net/oa/ifindex)"
fi
check "ping through both tunnels, both ways" bash -c \
	"ip netns exec $A ping -c 3 -i 0.2 -W 2 203.0.113.2 && ip netns exec $B ping -c 3 -i 0.2 -W 2 203.0.113.1"
check "1460-byte DF ping through both (the inner tunnel's MTU)" \
	nsx "$A" ping -c 2 -i 0.2 -W 2 -M do -s 1432 203.0.113.2
head -c $((8 << 20)) /dev/urandom >"$WORK/blob"
check "8 MiB TCP A -> B through both tunnels, intact" transfer "$A" "$B" 203.0.113.2 5301 "$WORK/blob"
check "8 MiB TCP B -> A through both tunnels, intact" transfer "$B" "$A" 203.0.113.1 5302 "$WORK/blob"
if [ "$(json "$A" ia datapath)" = ebpf ]; then
	check "the inner tunnel's programs carried the transfer (fast_rx_packets >= 5000, fast_tx_packets >= 5000)" \
		test "$(json "$A" ia fast_rx_packets)" -ge 5000 -a "$(json "$A" ia fast_tx_packets)" -ge 5000
fi
drops() { json "$1" "$2" drops | $PY -c 'import ast, sys; print(sum(ast.literal_eval(sys.stdin.read()).values()))'; }
check "no drops on either tunnel of A" test "$(drops "$A" ia) $(drops "$A" oa)" = "0 0"
nsx "$A" "$IPIPCTL" down ia; nsx "$A" "$IPIPCTL" down oa
check "both daemons on A stop" bash -c "$(declare -f wait_gone); wait_gone $PI && wait_gone $PO"
check "A as before" diff <(echo "$BEFORE_A") <(dump "$A")
finish

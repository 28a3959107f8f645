#!/bin/bash
# The underlay fails over: the tunnel's packets follow the routes and links as
# they change, within milliseconds, not at the next once-a-second look.
#
#   A  lo 203.0.113.1   la1 192.0.2.1/30 ---- veth ---- lb1 192.0.2.2/30   B  lo 203.0.113.2
#                       la2 192.0.2.5/30 ---- veth ---- lb2 192.0.2.6/30
#
# Each end reaches the other's tunnel address by link 1 (metric 10) and by
# link 2 (metric 20); routes over a link without carrier are ignored
# (ignore_routes_with_linkdown).  A tunnel between the two loopback
# addresses carries bursts of datagrams both ways while link 1 goes down at A
# (the kernel removes A's routes over it without a notification; B sees its
# carrier go) and, later, comes back with its route.  On the eBPF fast path
# the outer packets are redirected to the device the programs were told of,
# and on the userspace datapath the packet socket sends to the next hop it
# was told of: each must be told at once, or the packets go into a dead link
# (or by the kernel's IP output, on the userspace datapath) until the next
# once-a-second look.
#
# FAILOVER_HUB=1 (tests/integration/failover-hub.sh): B is a hub (Remote =
# any) with two peers, each the gateway of a route to its tunnel address: A,
# and C on a link of its own (lb3 192.0.2.9/30 -- lc 192.0.2.10/30, C's
# tunnel end lo 203.0.113.3) that does not change.  B's outer packets to A
# follow the route to A, and its ingress the route to its first
# AllowedRemotes prefix (A's); C's traffic, which flows all along, must not
# notice: its next hop stays, none of its datagrams is lost, and on the fast
# path its packets are taken in fast on C's link again after B's own
# underlay moved (the shared ingress on a hub's other underlays is let go of
# and taken anew at each move).
set -u
HUB=${FAILOVER_HUB:-0}
. "$(dirname "$0")/../lib.sh"

ns_new A foA && ns_new B foB || exit 1
# The ends get ifindexes of their own (A 11 and 12, B 21 and 22).  The kernel
# passes a carrier change on at once only for a device whose link is another
# ifindex than its own (linkwatch_urgent_event(); else within a second, as
# for a physical NIC), and two namespaces both number their devices from 1:
# lb1 and its peer la1 would both be 2.  This test measures ipipd, not that.
ip link add la1 index 11 netns "$A" type veth peer lb1 index 21 netns "$B" || exit 1
ip link add la2 index 12 netns "$A" type veth peer lb2 index 22 netns "$B" || exit 1
nsx "$A" ip addr add 192.0.2.1/30 dev la1
nsx "$A" ip addr add 192.0.2.5/30 dev la2
nsx "$B" ip addr add 192.0.2.2/30 dev lb1
nsx "$B" ip addr add 192.0.2.6/30 dev lb2
for i in la1 la2; do nsx "$A" ip link set "$i" up; done
for i in lb1 lb2; do nsx "$B" ip link set "$i" up; done
NSS=("$A" "$B")
if [ "$HUB" = 1 ]; then
	ns_new C foC || exit 1
	ip link add lc index 31 netns "$C" type veth peer lb3 index 23 netns "$B" || exit 1
	nsx "$B" ip addr add 192.0.2.9/30 dev lb3
	nsx "$C" ip addr add 192.0.2.10/30 dev lc
	nsx "$B" ip link set lb3 up
	nsx "$C" ip link set lc up
	NSS+=("$C")
fi
for ns in "${NSS[@]}"; do
	for k in all default; do
		nsx "$ns" sysctl -qw net.ipv4.conf.$k.ignore_routes_with_linkdown=1
		nsx "$ns" sysctl -qw net.ipv4.conf.$k.rp_filter=0
	done
	for i in lo la1 la2 lb1 lb2 lb3 lc; do
		nsx "$ns" sysctl -qw net.ipv4.conf.$i.ignore_routes_with_linkdown=1 2>/dev/null
		nsx "$ns" sysctl -qw net.ipv4.conf.$i.rp_filter=0 2>/dev/null
	done
done
nsx "$A" ip addr add 203.0.113.1/32 dev lo
nsx "$B" ip addr add 203.0.113.2/32 dev lo
route_a1() { nsx "$A" ip route "$1" 203.0.113.2/32 via 192.0.2.2 dev la1 metric 10; }
route_a1 add
nsx "$A" ip route add 203.0.113.2/32 via 192.0.2.6 dev la2 metric 20
nsx "$B" ip route add 203.0.113.1/32 via 192.0.2.1 dev lb1 metric 10
nsx "$B" ip route add 203.0.113.1/32 via 192.0.2.5 dev lb2 metric 20
if [ "$HUB" = 1 ]; then
	nsx "$C" ip addr add 203.0.113.3/32 dev lo
	nsx "$C" ip route add 203.0.113.2/32 via 192.0.2.9 dev lc
	nsx "$B" ip route add 203.0.113.3/32 via 192.0.2.10 dev lb3
	check "the underlay: C reaches B's tunnel address from its own" \
		nsx "$C" ping -c 1 -W 2 -I 203.0.113.3 203.0.113.2
fi
check "the underlay: A reaches B's tunnel address from its own" \
	nsx "$A" ping -c 1 -W 2 -I 203.0.113.1 203.0.113.2

conf() { # conf NAME LOCAL REMOTE ADDR PEER
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$DATAPATH" "$4" "$5" >"$WORK/$1.conf"
	echo "$WORK/$1.conf"
}
hub_conf() { # hub_conf NAME LOCAL ADDR [PEER PEER-ADDR]...: the first peer's route sets the underlay
	local name=$1 laddr=$2 addr=$3 allowed= routes=
	shift 3
	while [ $# -ge 2 ]; do
		allowed="$allowed $1/32"
		routes="$routes[Route]\nDestination = $2/32\nGateway = $1\n"
		shift 2
	done
	printf '[Tunnel]\nLocal = %s\nRemote = any\nAllowedRemotes =%s\nDatapath = %s\n[Address]\nAddress = %s/32\n%b' \
		"$laddr" "$allowed" "$([ "$DATAPATH" = ebpf ] && echo auto || echo "$DATAPATH")" \
		"$addr" "$routes" >"$WORK/$name.conf"
	echo "$WORK/$name.conf"
}
start "$A" "$(conf foa 203.0.113.1 203.0.113.2 198.51.100.1 198.51.100.2)" || notok "ipipd start at A"
if [ "$HUB" = 1 ]; then
	start "$B" "$(hub_conf fob 203.0.113.2 198.51.100.2 203.0.113.1 198.51.100.1 203.0.113.3 198.51.100.3)" ||
		notok "ipipd start at B (a hub)"
	start "$C" "$(conf foc 203.0.113.3 203.0.113.2 198.51.100.3 198.51.100.2)" || notok "ipipd start at C"
	for _ in $(seq 50); do nsx "$C" ping -c 1 -W 0.5 198.51.100.2 >/dev/null 2>&1 && break; sleep 0.2; done
	check "the tunnel carries a ping from C" nsx "$C" ping -c 3 -i 0.2 -W 2 198.51.100.2
else
	start "$B" "$(conf fob 203.0.113.2 203.0.113.1 198.51.100.2 198.51.100.1)" || notok "ipipd start at B"
fi
for _ in $(seq 50); do nsx "$A" ping -c 1 -W 0.5 198.51.100.2 >/dev/null 2>&1 && break; sleep 0.2; done
check "the tunnel carries a ping" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2

# Both ends go by link 1 at first.
LA1=$(nsx "$A" cat /sys/class/net/la1/ifindex) LA2=$(nsx "$A" cat /sys/class/net/la2/ifindex)
LB1=$(nsx "$B" cat /sys/class/net/lb1/ifindex) LB2=$(nsx "$B" cat /sys/class/net/lb2/ifindex)
# underlay NS NAME: the ifindex the tunnel's outer packets are sent to: the
# fast path's, or the userspace datapath's next hop ("kernel": none, the
# kernel's IP output routes each packet).
cat >"$WORK/underlay.py" <<'PYEOF'
import json, subprocess, sys
def underlay(ns, name):
    out = subprocess.run(["ip", "netns", "exec", ns, sys.argv[1], "show", "--json", name],
                         capture_output=True, text=True).stdout
    t = json.loads(out)[0]
    if t["remote"] == "any":
        # a hub: peer A's next hop (0: the kernel's IP output), and on the
        # fast path the underlay its ingress follows, which must agree
        hop = {p["address"]: p for p in t["peers"]}["203.0.113.1"]["hop_ifindex"]
        hop = str(hop) if hop else "kernel"
        if t["datapath"] != "ebpf" or hop in ("kernel", str(t["fast_underlay"])):
            return str(t["fast_underlay"]) if t["datapath"] == "ebpf" else hop
        return "hop %s, fast_underlay %s" % (hop, t["fast_underlay"])
    if t["datapath"] == "ebpf":
        return str(t["fast_underlay"])
    hop = t.get("underlay_hop", "-")
    return hop.split(" ifindex ")[1] if " ifindex " in hop else "kernel"
print(underlay(sys.argv[3], sys.argv[4]))
PYEOF
underlay() { $PY "$WORK/underlay.py" "$IPIPCTL" show "$1" "$2"; }
# cpeer KEY...: peer C's values in B's ipipctl show --json, on one line
cpeer() {
	nsx "$B" "$IPIPCTL" show --json fob |
		$PY -c 'import json, sys; p = {p["address"]: p for p in json.load(sys.stdin)[0]["peers"]}["203.0.113.3"]; print(*(p[k] for k in sys.argv[1:]))' "$@"
}
for _ in $(seq 30); do [ "$(underlay "$A" foa)" = "$LA1" ] && [ "$(underlay "$B" fob)" = "$LB1" ] && break; sleep 0.1; done
check "both ends' outer packets leave by link 1 (A ifindex $(underlay "$A" foa), B $(underlay "$B" fob))" \
	test "$(underlay "$A" foa)" = "$LA1" -a "$(underlay "$B" fob)" = "$LB1"
sleep 1.2	# past a once-a-second look, so that only a change can move them in time

# Traffic both ways: bursts of 4 UDP datagrams every 10 ms (a burst is a
# batch for the userspace datapath, which sends batches to its next hop by
# its packet socket), 300 bursts (3 s) from A to B and from B to A; lost()
# says how many datagrams of all 2400 did not arrive.
cat >"$WORK/bursts.py" <<'PYEOF'
import socket, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "recv":
    s.bind((addr, port))
    s.settimeout(3)
    got = set()
    try:
        while True:
            got.add(int(s.recv(64)))
    except socket.timeout:
        pass
    print(len(got))
else:
    t = time.monotonic()
    for i in range(300):
        for k in range(4):
            s.sendto(b"%d" % (i * 4 + k), (addr, port))
        t += 0.01
        time.sleep(max(0, t - time.monotonic()))
PYEOF
# With the hub, the same between B and C (port 7002) at the same time.
bursts() {
	nsx "$B" $PY "$WORK/bursts.py" recv 198.51.100.2 7001 >"$WORK/rb" 2>&1 & RB=$!
	nsx "$A" $PY "$WORK/bursts.py" recv 198.51.100.1 7001 >"$WORK/ra" 2>&1 & RA=$!
	CW=()
	if [ "$HUB" = 1 ]; then
		nsx "$B" $PY "$WORK/bursts.py" recv 198.51.100.2 7002 >"$WORK/rbc" 2>&1 & CW+=($!)
		nsx "$C" $PY "$WORK/bursts.py" recv 198.51.100.3 7002 >"$WORK/rc" 2>&1 & CW+=($!)
	fi
	sleep 0.3
	nsx "$A" $PY "$WORK/bursts.py" send 198.51.100.2 7001 2>&1 | sed 's/^/A: /' & SA=$!
	nsx "$B" $PY "$WORK/bursts.py" send 198.51.100.1 7001 2>&1 | sed 's/^/B: /' & SB=$!
	if [ "$HUB" = 1 ]; then
		nsx "$C" $PY "$WORK/bursts.py" send 198.51.100.2 7002 2>&1 | sed 's/^/C: /' & CW+=($!)
		nsx "$B" $PY "$WORK/bursts.py" send 198.51.100.3 7002 2>&1 | sed 's/^/B: /' & CW+=($!)
	fi
}
lost() { # sets n (and nc: between B and C)
	wait "$SA" "$SB" "$RA" "$RB" "${CW[@]}"
	n=$((2400 - $(cat "$WORK/ra") - $(cat "$WORK/rb")))
	[ "$HUB" = 1 ] && nc=$((2400 - $(cat "$WORK/rc") - $(cat "$WORK/rbc")))
}

# moved FILE T0 SRC: milliseconds from T0 (ns since the epoch) to the first
# outer packet from SRC in the capture FILE (5000: none).
moved() {
	local t
	t=$(tcpdump -r "$1" -tt -n "src $3" 2>/dev/null | head -n 1 | awk '{ print $1 }')
	[ -n "$t" ] || { echo 5000; return; }
	$PY -c 'import sys; print(max(0, int((float(sys.argv[1]) - int(sys.argv[2]) / 1e9) * 1000)))' "$t" "$2"
}
# change WHAT FROM TO CMD...: CMD 1.3 s into the bursts moves both ends from
# link FROM to link TO: the first outer packet of each end on link TO (both
# captured at B's end of it, which stays up) within 300 ms of CMD's start,
# each end's way out (the fast path's device, the userspace datapath's next
# hop, or its kernel's IP output until that next hop is resolved) no longer
# on link FROM 300 ms after it, and at most 40 datagrams of 2400 (50 ms
# of both ways) lost.  (On the userspace datapath a send to a link that
# went down fails and goes through the kernel's IP output at once, and a
# lone packet always does: its next hop is what must follow.)
change() {
	local what=$1 from=$2 to=$3 ta tb t0 ma mb ua ub cap ch0 ch1 cr0 cr1 ca0 ca1
	shift 3
	eval "ta=\$LA$to tb=\$LB$to"
	# (what takes time on a busy machine before the traffic starts, not in it)
	capture cap "$B" "lb$to" "$WORK/to$to.pcap" "ip proto 4"
	[ "$HUB" = 1 ] && ch0=$(cpeer hop_ifindex)
	bursts
	sleep 1
	t0=$(date +%s%N)
	"$@"
	sleep 0.3
	ua=$(underlay "$A" foa) ub=$(underlay "$B" fob)
	[ "$HUB" = 1 ] && ch1=$(cpeer hop_ifindex) && read -r cr0 ca0 < <(cpeer rx_fast rx_packets)
	sleep 0.7
	stop_capture "$cap"
	ma=$(moved "$WORK/to$to.pcap" "$t0" 203.0.113.1)
	mb=$(moved "$WORK/to$to.pcap" "$t0" 203.0.113.2)
	lost
	check "$what: both ends' outer packets on link $to within 300 ms (A's after $ma ms, B's after $mb)" \
		test "$ma" -le 300 -a "$mb" -le 300
	check "... and 300 ms after, neither sends to link $from (A: ifindex $ua, B: $ub; kernel: by its IP output)" \
		bash -c "{ [ '$ua' = '$ta' ] || [ '$ua' = kernel ]; } && { [ '$ub' = '$tb' ] || [ '$ub' = kernel ]; }"
	check "... $n of 2400 datagrams lost in 3 s of traffic both ways (at most 40)" \
		bash -c "[ -n '$n' ] && [ '$n' -le 40 ]"
	[ "$HUB" = 1 ] || return 0
	check "... B's other peer, C: its next hop stays on its own link (ifindex $ch0, then $ch1; lb3 is 23)" \
		test "$ch0" = 23 -a "$ch1" = 23
	check "... and $nc of C's 2400 datagrams (both ways, meanwhile) lost (none)" \
		test "$nc" = 0
	[ "$(json "$B" fob datapath)" = ebpf ] || return 0
	# (to the end of the traffic: on a busy machine the change comes late in it)
	read -r cr1 ca1 < <(cpeer rx_fast rx_packets)
	check "... and B's fast path takes C's packets in on C's link again after its own underlay moved ($((cr1 - cr0)) of the $((ca1 - ca0)) received from 0.3 s after the change to the traffic's end, at least 20 and 9 in 10)" \
		test "$((ca1 - ca0))" -ge 20 -a "$((10 * (cr1 - cr0)))" -ge "$((9 * (ca1 - ca0)))"
}

# Link 1 goes down at A in the middle: the kernel removes A's routes over it
# and tells no one; B's link 1 loses its carrier.
change "link 1 down at A" 1 2 nsx "$A" ip link set la1 down

# Link 1 comes back, with A's route over it: the tunnel goes back to it.
link1_back() {
	nsx "$A" ip link set la1 up
	for _ in $(seq 50); do
		nsx "$A" ip route get 203.0.113.2 | grep -q 'dev la2' || break
		route_a1 add 2>/dev/null
		sleep 0.01
	done
}
sleep 1.2
change "link 1 back with its route" 2 1 link1_back
check "the fast path, if it runs, carried the datagrams ($(json "$A" foa datapath))" \
	bash -c "[ '$(json "$A" foa datapath)' != ebpf ] || [ \$(ip netns exec $A $IPIPCTL show --json foa |
		$PY -c 'import json, sys; print(json.load(sys.stdin)[0][\"fast_tx_packets\"])') -gt 1000 ]"
check "the userspace datapath, if it runs, sent them by its packet socket (tx_direct $(json "$B" fob tx_direct) at B)" \
	bash -c "[ '$(json "$B" fob datapath)' != userspace ] || [ $(json "$B" fob tx_direct) -gt 100 ]"
finish

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
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A foA && ns_new B foB || exit 1
veth_pair "$A" la1 192.0.2.1/30 "$B" lb1 192.0.2.2/30 || exit 1
veth_pair "$A" la2 192.0.2.5/30 "$B" lb2 192.0.2.6/30 || exit 1
for ns in "$A" "$B"; do
	for k in all default; do
		nsx "$ns" sysctl -qw net.ipv4.conf.$k.ignore_routes_with_linkdown=1
		nsx "$ns" sysctl -qw net.ipv4.conf.$k.rp_filter=0
	done
	for i in lo la1 la2 lb1 lb2; do
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
check "the underlay: A reaches B's tunnel address from its own" \
	nsx "$A" ping -c 1 -W 2 -I 203.0.113.1 203.0.113.2

conf() { # conf NAME LOCAL REMOTE ADDR PEER
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$DATAPATH" "$4" "$5" >"$WORK/$1.conf"
	echo "$WORK/$1.conf"
}
start "$A" "$(conf foa 203.0.113.1 203.0.113.2 198.51.100.1 198.51.100.2)" || notok "ipipd start at A"
start "$B" "$(conf fob 203.0.113.2 203.0.113.1 198.51.100.2 198.51.100.1)" || notok "ipipd start at B"
for _ in $(seq 50); do nsx "$A" ping -c 1 -W 0.5 198.51.100.2 >/dev/null 2>&1 && break; sleep 0.2; done
check "the tunnel carries a ping" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2

# Both ends go by link 1 at first.
LA1=$(nsx "$A" cat /sys/class/net/la1/ifindex) LA2=$(nsx "$A" cat /sys/class/net/la2/ifindex)
LB1=$(nsx "$B" cat /sys/class/net/lb1/ifindex) LB2=$(nsx "$B" cat /sys/class/net/lb2/ifindex)
# underlay NS NAME: the ifindex the tunnel's outer packets are sent to: the
# fast path's, or the userspace datapath's next hop ("kernel": none, the
# kernel's IP output routes each packet).
cat >"$WORK/underlay.py" <<'PYEOF'
import json, subprocess, sys, time
def underlay(ns, name):
    out = subprocess.run(["ip", "netns", "exec", ns, sys.argv[1], "show", "--json", name],
                         capture_output=True, text=True).stdout
    try:
        t = json.loads(out)[0]
    except (ValueError, IndexError):
        return "?"	# no answer this time (a busy machine): asked again
    if t["datapath"] == "ebpf":
        return str(t["fast_underlay"])
    hop = t.get("underlay_hop", "-")
    return hop.split(" ifindex ")[1] if " ifindex " in hop else "kernel"
if sys.argv[2] == "show":
    print(underlay(sys.argv[3], sys.argv[4]))
    sys.exit(0)
# wait NS1 NAME1 NOT1 NS2 NAME2 NOT2: ms until neither sends to its NOT any longer
t0 = time.monotonic()
a, b = sys.argv[3:6], sys.argv[6:9]
while time.monotonic() - t0 < 5:
    if underlay(a[0], a[1]) not in (a[2], "?") and underlay(b[0], b[1]) not in (b[2], "?"):
        break
    time.sleep(0.005)
print(int((time.monotonic() - t0) * 1000))
PYEOF
underlay() { $PY "$WORK/underlay.py" "$IPIPCTL" show "$1" "$2"; }
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
bursts() {
	nsx "$B" $PY "$WORK/bursts.py" recv 198.51.100.2 7001 >"$WORK/rb" 2>&1 & RB=$!
	nsx "$A" $PY "$WORK/bursts.py" recv 198.51.100.1 7001 >"$WORK/ra" 2>&1 & RA=$!
	sleep 0.3
	nsx "$A" $PY "$WORK/bursts.py" send 198.51.100.2 7001 2>&1 | sed 's/^/A: /' & SA=$!
	nsx "$B" $PY "$WORK/bursts.py" send 198.51.100.1 7001 2>&1 | sed 's/^/B: /' & SB=$!
}
lost() { # sets n
	wait "$SA" "$SB" "$RA" "$RB"
	n=$((2400 - $(cat "$WORK/ra") - $(cat "$WORK/rb")))
}

# off A-IFINDEX B-IFINDEX: milliseconds until neither end sends to those any
# longer (5000: not within 5 s): on the fast path it sends to the other link,
# on the userspace datapath by the kernel's IP output until it knows the other
# link's next hop.
off() { $PY "$WORK/underlay.py" "$IPIPCTL" wait "$A" foa "$1" "$B" fob "$2"; }
# change WHAT FROM TO CMD...: CMD 1.3 s into the bursts moves both ends from
# link FROM to link TO: within 200 ms, and at most 40 datagrams of 2400
# (50 ms of both ways) lost.
change() {
	local what=$1 from=$2 to=$3 fa fb ta tb ms
	shift 3
	eval "fa=\$LA$from fb=\$LB$from ta=\$LA$to tb=\$LB$to"
	bursts
	sleep 1.3
	"$@"
	ms=$(off "$fa" "$fb")
	lost
	check "$what: neither end sends to link $from after $ms ms (at most 200)" test "$ms" -le 200
	check "... both send by link $to (A ifindex $(underlay "$A" foa), B $(underlay "$B" fob))" \
		test "$(underlay "$A" foa)" = "$ta" -a "$(underlay "$B" fob)" = "$tb"
	check "... $n of 2400 datagrams lost in 3 s of traffic both ways (at most 40)" \
		bash -c "[ -n '$n' ] && [ '$n' -le 40 ]"
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

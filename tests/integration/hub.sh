#!/bin/bash
# Remote = any: one hub device for many peers.  Each packet goes to the
# gateway of the route that took it into the device (onlink routes, from
# [Route] Gateway or from anyone who adds them), or to its inner destination
# for a route without one; packets come only from AllowedRemotes, and each
# inner source only from the peer its route leads to.
#
#   S1 192.0.2.11  LAN 203.0.113.16/28 (.17)     tunnel 198.51.100.11 peer .1
#   S2 192.0.2.12  LAN 203.0.113.32/28 (.33)     tunnel 198.51.100.12 peer .1
#   S3 192.0.2.13  LAN 203.0.113.48/28 (.49)     tunnel 198.51.100.13 peer .1
#   X  192.0.2.99  (outside AllowedRemotes 192.0.2.0/28)
#   H  192.0.2.1   hub: Remote = any, 198.51.100.1/24
#   S5 192.0.2.9   tunnel 198.51.100.9, also on a link of its own to H (H's
#                  route to 192.0.2.9 takes it, until that link goes down)
# all on one bridge (namespace SW), and
#   S4 192.0.2.10  tunnel 198.51.100.10, on a link of its own to H without ARP
# The hub's outer packets go straight to each peer's next hop (a packet
# socket) where the kernel has resolved it as an Ethernet neighbour: S1-S3;
# S4's next hop is none, so its packets go through the kernel's IP output;
# S5's go direct until a send there fails (its link went down), then through
# the kernel until its next hop is looked up again.
set -u
. "$(dirname "$0")/../lib.sh"

ns_new SW huSW && ns_new H huH && ns_new S1 huS1 && ns_new S2 huS2 && ns_new S3 huS3 &&
	ns_new X huX && ns_new S4 huS4 && ns_new S5 huS5 || exit 1
nsx "$SW" ip link add br0 type bridge && nsx "$SW" ip link set br0 up || exit 1
join() { # join NS ADDR
	ip link add eth0 netns "$1" type veth peer "p-$2" netns "$SW" || return 1
	ip -n "$SW" link set "p-$2" master br0 up
	ip -n "$1" addr add "192.0.2.$2/24" dev eth0
	ip -n "$1" link set eth0 up
}
join "$H" 1 && join "$S1" 11 && join "$S2" 12 && join "$S3" 13 && join "$X" 99 &&
	join "$S5" 9 || exit 1
# S4: a link without ARP (the kernel sends to the device's own address: both ends have it)
ip link add eth1 netns "$H" type veth peer eth0 netns "$S4" || exit 1
ip -n "$H" link set eth1 address 02:00:00:00:00:0a arp off up
ip -n "$S4" link set eth0 address 02:00:00:00:00:0a arp off up
ip -n "$S4" addr add 192.0.2.10/32 dev eth0
ip -n "$S4" route add 192.0.2.1/32 dev eth0
ip -n "$H" route add 192.0.2.10/32 dev eth1
# S5: its own link, no addresses on it; S5 answers through the bridge (loose source checks)
ip link add eth2 netns "$H" type veth peer eth1 netns "$S5" || exit 1
ip -n "$H" link set eth2 up
ip -n "$S5" link set eth1 up
ip -n "$H" route add 192.0.2.9/32 dev eth2
for n in "$H" "$S5"; do
	nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for i in eth0 eth1 eth2; do nsx "$n" sysctl -qw "net.ipv4.conf.$i.rp_filter=0" 2>/dev/null; done
done
# each spoke's LAN: an address on its loopback
ip -n "$S1" addr add 203.0.113.17/28 dev lo
ip -n "$S2" addr add 203.0.113.33/28 dev lo
ip -n "$S3" addr add 203.0.113.49/28 dev lo
for _ in $(seq 50); do nsx "$H" ping -c 1 -W 0.2 192.0.2.13 >/dev/null 2>&1 && break; done

hub_conf() { # hub_conf EXTRA-TUNNEL-KEYS
	printf '[Tunnel]\nName = hub\nLocal = 192.0.2.1\nRemote = any\nAllowedRemotes = 192.0.2.0/28\nDatapath = %s\n%b' \
		"$([ "$DATAPATH" = ebpf ] && echo auto || echo "$DATAPATH")" "${1:-}"
	printf '[Address]\nAddress = 198.51.100.1/24\n[Host]\nIPv4Forwarding = yes\n'
	for i in 1 2 3; do
		printf '[Route]\nDestination = 198.51.100.1%u/32\nGateway = 192.0.2.1%u\n' $i $i
		printf '[Route]\nDestination = 203.0.113.%u/28\nGateway = 192.0.2.1%u\n' $((i * 16)) $i
	done
}
hub_conf >"$WORK/hub.conf"
spoke_conf() { # spoke_conf NAME LOCAL ADDR
	printf '[Tunnel]\nName = %s\nLocal = %s\nRemote = 192.0.2.1\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = 198.51.100.1\n[Route]\nDestination = 203.0.113.0/24\n[Route]\nDestination = 198.51.100.0/24\n' \
		"$1" "$2" "$DATAPATH" "$3" >"$WORK/$1.conf"
}
spoke_conf s1 192.0.2.11 198.51.100.11
spoke_conf s2 192.0.2.12 198.51.100.12
spoke_conf s3 192.0.2.13 198.51.100.13
spoke_conf x 192.0.2.99 198.51.100.99
spoke_conf s4 192.0.2.10 198.51.100.10
spoke_conf s5 192.0.2.9 198.51.100.9

# ---- the configuration ----
bad() { # bad NAME EXPECTED-TEXT CONFIG-TEXT
	printf '%b' "$3" >"$WORK/bad.conf"
	check "refused: $1" bash -c "! $IPIPD -n $WORK/bad.conf 2>$WORK/bad.err; cat $WORK/bad.err;
		grep -qF -- '$2' $WORK/bad.err"
}
T='[Tunnel]\nLocal = 192.0.2.1\n'
A='[Address]\nAddress = 198.51.100.1/24\n'
bad "Remote = any without AllowedRemotes" "bad.conf:3: Remote = any: needs AllowedRemotes" \
	"${T}Remote = any\n$A"
bad "AllowedRemotes with one Remote" "bad.conf:4: AllowedRemotes: needs Remote = any" \
	"${T}Remote = 192.0.2.11\nAllowedRemotes = 192.0.2.0/28\n$A"
bad "a Gateway outside AllowedRemotes" "bad.conf:7: Route: Gateway 192.0.2.99 is not in AllowedRemotes" \
	"${T}Remote = any\nAllowedRemotes = 192.0.2.0/28\n$A[Route]\nDestination = 203.0.113.0/28\nGateway = 192.0.2.99\n"
bad "a Gateway with one Remote" "bad.conf:6: Route: Gateway needs Remote = any" \
	"${T}Remote = 192.0.2.11\n$A[Route]\nDestination = 203.0.113.0/28\nGateway = 192.0.2.11\n"
bad "Remote = any on the kernel's device" "bad.conf:5: Datapath = kernel: Remote = any runs on ipipd" \
	"${T}Remote = any\nAllowedRemotes = 192.0.2.0/28\nDatapath = kernel\n$A"
bad "Remote = any with Keepalive" "Keepalive: needs one Remote" \
	"${T}Remote = any\nAllowedRemotes = 192.0.2.0/28\nKeepalive = 10\n[Address]\nAddress = 198.51.100.1/24\nPeer = 198.51.100.11\n"
nsx "$H" "$IPIPCTL" explain "$WORK/hub.conf" >"$WORK/explain.out" 2>&1
check "ipipctl explain: the kernel's remote any device and onlink routes" bash -c "
	cat $WORK/explain.out
	grep -qx 'ip tunnel add hub mode ipip remote any local 192.0.2.1' $WORK/explain.out &&
	grep -qx 'ip route add 203.0.113.32/28 via 192.0.2.12 dev hub onlink' $WORK/explain.out"

BEFORE_H=$(dump "$H")
start "$H" "$WORK/hub.conf" || notok "ipipd start hub"
PH=$STARTED
start "$S1" "$WORK/s1.conf" || notok "ipipd start s1"
start "$S2" "$WORK/s2.conf" || notok "ipipd start s2"
start "$S3" "$WORK/s3.conf" || notok "ipipd start s3"
start "$X" "$WORK/x.conf" || notok "ipipd start x"
start "$S4" "$WORK/s4.conf" || notok "ipipd start s4"
start "$S5" "$WORK/s5.conf" || notok "ipipd start s5"
# The hub's datapath: the eBPF fast path where it loads (auto), else userspace.
HUBDP=$(json "$H" hub datapath)

check "the hub's routes go via each peer, onlink" bash -c "
	ip -n $H route show 203.0.113.16/28 | grep -q 'via 192.0.2.11 dev hub .*onlink'"
shown="$(json "$H" hub remote) $(json "$H" hub allowed_remotes) $(json "$H" hub peer_source_check)"
check "ipipctl show: remote any, AllowedRemotes, PeerSourceCheck ($shown)" \
	test "$shown" = "any 192.0.2.0/28 yes"
check "... and the routes the datapath holds: the 6 [Route]s and the device's /24 ($(json "$H" hub hub_routes))" \
	test "$(json "$H" hub hub_routes)" = 7
for i in 1 2 3; do
	check "hub -> S$i's tunnel address" nsx "$H" ping -c 2 -i 0.2 -W 2 198.51.100.1$i
	check "hub -> S$i's LAN" nsx "$H" ping -c 2 -i 0.2 -W 2 203.0.113.$((i * 16 + 1))
done
check "S1's LAN -> S2's LAN through the hub" nsx "$S1" ping -c 3 -i 0.2 -W 2 -I 203.0.113.17 203.0.113.33
check "S3's LAN -> S1's LAN through the hub" nsx "$S3" ping -c 3 -i 0.2 -W 2 -I 203.0.113.49 203.0.113.17
# The pings had the kernel resolve each peer: within a second (the next look) they go direct.
for _ in $(seq 30); do [ "$(json "$H" hub hub_peers_direct)" = 3 ] && break; sleep 0.1; done
check "each peer's next hop is known: underlay_output direct, hub_peers_direct 3 ($(json "$H" hub underlay_output))" \
	test "$(json "$H" hub underlay_output)" = direct -a "$(json "$H" hub hub_peers_direct)" = 3
dd if=/dev/urandom of="$WORK/blob" bs=1M count=2 status=none
check "2 MiB TCP S1 -> S2 through the hub arrives intact" \
	transfer "$S1" "$S2" 203.0.113.33 7001 "$WORK/blob"

# Each peer in ipipctl show: its routes and counters.
nsx "$H" "$IPIPCTL" show --json hub >"$WORK/show.json"
check "ipipctl show --json: peers, each with its routes, packets both ways, time since the last" \
	$PY -c '
import json, sys
t = json.load(open(sys.argv[1]))[0]
print(t["peers"])
p = {x["address"]: x for x in t["peers"]}
assert t["hub_peers"] == 3 and sorted(p) == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
s1 = p["192.0.2.11"]
assert sorted(s1["routes"].split(",")) == ["198.51.100.11/32", "203.0.113.16/28"], s1
assert s1["rx_packets"] > 0 and s1["tx_packets"] > 0 and s1["rx_bytes"] > 2000000 > s1["tx_bytes"] > 0, s1
assert isinstance(s1["last_rx_ms"], int) and isinstance(s1["last_tx_ms"], int), s1
' "$WORK/show.json"
check "... each peer goes direct (to an interface index), and the transfer's packets to S2 went on the packet socket (over half)" \
	$PY -c '
import json, sys
t = json.load(open(sys.argv[1]))[0]
p = {x["address"]: x for x in t["peers"]}
assert all(x["direct"] is True for x in p.values()), p
assert all(x["hop_ifindex"] > 0 for x in p.values()), p
s2 = p["192.0.2.12"]
assert s2["tx_packets"] > 1000 and s2["tx_direct"] * 2 > s2["tx_packets"], s2
assert t["tx_direct"] >= s2["tx_direct"], t["tx_direct"]
' "$WORK/show.json"
peer() { # peer ADDR KEY: a peer's value in ipipctl show --json hub
	nsx "$H" "$IPIPCTL" show --json hub |
		$PY -c 'import json, sys; print({x["address"]: x for x in json.load(sys.stdin)[0]["peers"]}[sys.argv[1]][sys.argv[2]])' "$1" "$2"
}
[ "$DATAPATH" = ebpf ] &&
	check "the hub runs on the eBPF fast path ($HUBDP)" test "$HUBDP" = ebpf
if [ "$HUBDP" = ebpf ]; then
	# Datapath = auto on the hub: the eBPF fast path carries a hub too
	check "... which took in every packet from S1 and S2 (rx_fast = rx_packets, over 100)" $PY -c '
import json, sys
t = json.load(open(sys.argv[1]))[0]
p = {x["address"]: x for x in t["peers"]}
for a in ("192.0.2.11", "192.0.2.12"):
    assert p[a]["rx_packets"] > 100 and p[a]["rx_fast"] == p[a]["rx_packets"], p[a]
' "$WORK/show.json"
	f0=$(peer 192.0.2.11 tx_fast)
	check "2 MiB TCP hub -> S1 arrives intact" transfer "$H" "$S1" 198.51.100.11 7009 "$WORK/blob"
	check "... sent by the fast path to S1's address (tx_fast $f0 -> $(peer 192.0.2.11 tx_fast))" \
		test "$(peer 192.0.2.11 tx_fast)" -gt $((f0 + 1000))
fi
check "ipipctl show: a line per peer" bash -c "
	ip netns exec $H $IPIPCTL show hub | tee /dev/stderr |
	grep -q '^  peer 192.0.2.12: routes [0-9./,]*; rx [0-9]* packets [0-9]* bytes; tx [0-9]* packets [0-9]* bytes; last rx [0-9.]* s ago; last tx [0-9.]* s ago; direct to ifindex [1-9][0-9]* ([1-9][0-9]* sent direct)\\(; fast path rx [0-9]* tx [0-9]* packets\\)\\?\$'"

nsx "$H" "$IPIPCTL" metrics hub >"$WORK/metrics.prom"
check "ipipctl metrics: each peer's counters and ages, the hub's routes and peers; promtool passes" bash -c "
	grep '^ipipd_peer\|^ipipd_hub' $WORK/metrics.prom
	grep -q '^ipipd_peer_rx_packets_total{tunnel=\"hub\",peer=\"192.0.2.11\"} [1-9][0-9]*\$' $WORK/metrics.prom &&
	grep -q '^ipipd_peer_tx_bytes_total{tunnel=\"hub\",peer=\"192.0.2.13\"} [1-9][0-9]*\$' $WORK/metrics.prom &&
	grep -q '^ipipd_peer_last_rx_age_seconds{tunnel=\"hub\",peer=\"192.0.2.12\"} [0-9.]*\$' $WORK/metrics.prom &&
	grep -q '^ipipd_hub_routes{tunnel=\"hub\"} 7\$' $WORK/metrics.prom &&
	grep -q '^ipipd_hub_peers{tunnel=\"hub\"} 3\$' $WORK/metrics.prom &&
	grep -q '^ipipd_hub_peers_direct{tunnel=\"hub\"} 3\$' $WORK/metrics.prom &&
	grep -q '^ipipd_peer_tx_direct_packets_total{tunnel=\"hub\",peer=\"192.0.2.12\"} [1-9][0-9]*\$' $WORK/metrics.prom &&
	promtool check metrics <$WORK/metrics.prom"

# On the wire: the hub's packets to S2's LAN go to S2, and only there.
capture CAP "$H" eth0 "$WORK/h.pcap" "ip proto 4"
nsx "$H" ping -c 3 -i 0.2 -W 2 203.0.113.33 >/dev/null
stop_capture "$CAP"
tcpdump -nr "$WORK/h.pcap" 2>/dev/null | grep '> 203.0.113.33: ICMP echo request' >"$WORK/h.txt"
check "on the wire: the hub's 3 packets for S2's LAN are outer 192.0.2.1 -> 192.0.2.12, none elsewhere" \
	bash -c "cat $WORK/h.txt; [ \$(grep -c '^[0-9:.]* IP 192.0.2.1 > 192.0.2.12: IP ' $WORK/h.txt) = 3 ] &&
		[ \$(wc -l <$WORK/h.txt) = 3 ]"

# S4's next hop is not an Ethernet neighbour: its packets go through the kernel's IP output.
ip -n "$H" route add 198.51.100.10/32 via 192.0.2.10 dev hub onlink
check "2 MiB TCP hub -> S4 (a link without ARP) arrives intact" \
	transfer "$H" "$S4" 198.51.100.10 7002 "$WORK/blob"
check "... S4's packets went through the kernel: direct false, tx_direct 0 of $(peer 192.0.2.10 tx_packets)" \
	test "$(peer 192.0.2.10 direct)" = False -a "$(peer 192.0.2.10 tx_direct)" = 0 -a \
	"$(peer 192.0.2.10 tx_packets)" -gt 1000
check "... while the others still go direct ($(json "$H" hub underlay_output))" bash -c "
	ip netns exec $H $IPIPCTL show hub | tee /dev/stderr | grep -q '^  peer 192.0.2.10: .*; through the kernel (0 sent direct)\\(; fast path rx [0-9]* tx [1-9][0-9]* packets\\)\\?\$' &&
	test \"\$(ip netns exec $H $IPIPCTL show hub | grep -c '; direct to ifindex [1-9][0-9]* (')\" = 3 &&
	test '$(json "$H" hub underlay_output)' = 'direct for 3 of 4 peers (the others through the kernel)'"
if [ "$HUBDP" = ebpf ]; then
	# S4's packets arrive on S4's own link (eth1), not on the hub's
	# underlay: the shared ingress is attached there too, for the hub.
	r0=$(peer 192.0.2.10 rx_fast) t0=$(peer 192.0.2.10 tx_fast)
	nsx "$H" ping -c 20 -i 0.05 -W 2 198.51.100.10 >/dev/null
	r1=$(peer 192.0.2.10 rx_fast) t1=$(peer 192.0.2.10 tx_fast)
	check "20 pings hub -> S4 (its own link): the fast path sent every request and took in every answer there (tx_fast $t0 -> $t1, rx_fast $r0 -> $r1)" \
		test $((t1 - t0)) -ge 20 -a $((r1 - r0)) -ge 20
fi
ip -n "$H" route del 198.51.100.10/32 via 192.0.2.10 dev hub

# S5: direct on its own link; that link goes down in the middle of a paced
# transfer: the send on the packet socket fails, the rest of the round and
# S5's next packets go through the kernel (by the bridge), the next hop is
# looked up again (on the bridge now) and S5's packets go direct again.
# The hub's parent follows the link within milliseconds, often before the
# next send there; on the userspace datapath it is held still (SIGSTOP) for
# half a second around the change, so that the datapath process meets the
# dead link first, as it does when the parent is slower than the traffic.
ip -n "$H" route add 198.51.100.9/32 via 192.0.2.9 dev hub onlink
nsx "$H" ping -c 2 -i 0.2 -W 2 198.51.100.9 >/dev/null
head -c 3000000 /dev/urandom >"$WORK/blob3"
if [ "$HUBDP" = ebpf ]; then
	# The fast path sends each peer's packets by the device of the route to
	# its address: S5's own link, then (that link down, its route gone)
	# the bridge, followed as the routes change.
	transfer_start "$H" "$S5" 198.51.100.9 7004 "$WORK/blob3" 1000000
	for _ in $(seq 50); do [ "$(peer 192.0.2.9 tx_fast)" -gt 100 ] && break; sleep 0.1; done
	d0=$(peer 192.0.2.9 tx_fast)
	ip -n "$H" link set eth2 down
	wait "$SEND"; wait "$SINK"
	check "a paced 3 MB transfer hub -> S5 went by the fast path ($d0 packets), then on with S5's link down, intact" \
		bash -c "[ $d0 -gt 100 ] && [ -n \"\$(cat $WORK/send.out)\" ] &&
			[ \"\$(cat $WORK/send.out)\" = \"\$(tail -n 1 $WORK/sink.out)\" ]"
	d1=$(peer 192.0.2.9 tx_fast)
	check "... and S5's packets take the fast path again, by the bridge now (tx_fast $d1 -> 3 more)" \
		bash -c "ip netns exec $H ping -c 3 -i 0.2 -W 2 198.51.100.9 >/dev/null &&
			[ \$(ip netns exec $H $IPIPCTL show --json hub | $PY -c 'import json, sys; print({x[\"address\"]: x for x in json.load(sys.stdin)[0][\"peers\"]}[\"192.0.2.9\"][\"tx_fast\"])') -ge $((d1 + 3)) ]"
else
for _ in $(seq 30); do [ "$(peer 192.0.2.9 direct)" = True ] && break; sleep 0.1; done
check "S5's next hop, on its own link, is known: direct" test "$(peer 192.0.2.9 direct)" = True
transfer_start "$H" "$S5" 198.51.100.9 7004 "$WORK/blob3" 1000000
for _ in $(seq 50); do [ "$(peer 192.0.2.9 tx_direct)" -gt 100 ] && break; sleep 0.1; done
d0=$(peer 192.0.2.9 tx_direct) f0=$(json "$H" hub tx_direct_failed)
kill -STOP "$PH"
ip -n "$H" link set eth2 down
sleep 0.5
kill -CONT "$PH"
wait "$SEND"; wait "$SINK"
check "a paced 3 MB transfer hub -> S5 went direct ($d0 packets), then on with S5's link down, intact" \
	bash -c "[ $d0 -gt 100 ] && [ -n \"\$(cat $WORK/send.out)\" ] &&
		[ \"\$(cat $WORK/send.out)\" = \"\$(tail -n 1 $WORK/sink.out)\" ]"
check "... a send on the packet socket failed there and was counted (tx_direct_failed $f0 -> $(json "$H" hub tx_direct_failed))" \
	test "$(json "$H" hub tx_direct_failed)" -gt "$f0"
for _ in $(seq 30); do [ "$(peer 192.0.2.9 direct)" = True ] && break; sleep 0.1; done
d1=$(peer 192.0.2.9 tx_direct)
nsx "$H" ping -c 3 -l 3 -i 0.2 -W 2 198.51.100.9 >/dev/null
check "... and S5's packets go direct again, by the bridge now ($d0 -> $d1 packets sent direct)" \
	test "$(peer 192.0.2.9 direct)" = True -a "$d1" -gt "$d0"
fi
ip -n "$H" route del 198.51.100.9/32 via 192.0.2.9 dev hub
ip -n "$H" link set eth2 up
ip -n "$H" route add 192.0.2.9/32 dev eth2

# Route changes while traffic flows: 256 routes of other prefixes added and
# deleted 4 times (2048 changes) in about 2 s, while S1's LAN is pinged every
# 5 ms: no packet to a route that stays is lost.
for k in $(seq 128 255); do
	printf 'route add 198.51.100.%u/32 via 192.0.2.14 dev hub onlink\n' "$k"
	printf 'route add 203.0.113.%u/32 via 192.0.2.14 dev hub onlink\n' "$k"
done >"$WORK/add.batch"
sed 's/^route add/route del/' "$WORK/add.batch" >"$WORK/del.batch"
nsx "$H" ping -c 400 -i 0.005 -W 1 -q 203.0.113.17 >"$WORK/flood.out" 2>&1 &
FLOOD=$!
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }	# utime + stime, in ticks
changes=0 t0=$(date +%s%N) c0=$(cpu "$PH")
for _ in 1 2 3 4; do
	nsx "$H" ip -batch "$WORK/add.batch" && changes=$((changes + 256)) && sleep 0.2 &&
	nsx "$H" ip -batch "$WORK/del.batch" && changes=$((changes + 256)) && sleep 0.2 || break
done
t1=$(date +%s%N) c1=$(cpu "$PH")
wait "$FLOOD"
check "$changes route changes in $(((t1 - t0) / 1000000)) ms (ipipd's parent: $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) ms of CPU) while S1's LAN is pinged every 5 ms: none of 400 lost" \
	bash -c "cat $WORK/flood.out; [ $changes = 2048 ] && grep -q ' 400 received, 0% packet loss' $WORK/flood.out"
check "... and the datapath holds the 7 routes again ($(json "$H" hub hub_routes))" \
	test "$(json "$H" hub hub_routes)" = 7

# S3 speaks for S1: an inner source routed to another peer.
ip -n "$S3" addr add 203.0.113.18/32 dev lo
d0=$(json "$H" hub drops.rx_peer_source)
check "S3 sending from S1's LAN gets nothing through" \
	bash -c "! ip netns exec $S3 ping -c 3 -i 0.2 -W 1 -I 203.0.113.18 198.51.100.1"
check "... dropped and counted as rx_peer_source (3)" \
	test $(($(json "$H" hub drops.rx_peer_source) - d0)) -ge 3
# X is outside AllowedRemotes.
s0=$(json "$H" hub drops.rx_outer_source)
check "X (outside AllowedRemotes) gets nothing through" \
	bash -c "! ip netns exec $X ping -c 3 -i 0.2 -W 1 198.51.100.1"
check "... dropped and counted as rx_outer_source (3)" \
	test $(($(json "$H" hub drops.rx_outer_source) - s0)) -ge 3

# Routes are followed as anyone changes them.
ip -n "$S3" addr add 203.0.113.65/28 dev lo
ip -n "$H" route add 203.0.113.0/24 dev hub	# a route without gateway behind it
ip -n "$H" route add 203.0.113.64/28 via 192.0.2.13 dev hub onlink
check "a route added by hand is followed: hub -> 203.0.113.65 via S3" \
	nsx "$H" ping -c 2 -i 0.2 -W 2 203.0.113.65
n0=$(json "$H" hub drops.tx_no_peer)
ip -n "$H" route del 203.0.113.64/28 via 192.0.2.13 dev hub
sleep 0.1
nsx "$H" ping -c 1 -W 1 203.0.113.65 >/dev/null 2>&1
check "withdrawn: 100 ms later the packet goes to its inner destination, not in AllowedRemotes: tx_no_peer" \
	test $(($(json "$H" hub drops.tx_no_peer) - n0)) -ge 1
ip -n "$H" route del 203.0.113.0/24 dev hub

# A reload turns the per-peer check off: S3's packets from S1's LAN come in.
hub_conf 'PeerSourceCheck = no\n' >"$WORK/hub.conf"
check "ipipctl reload: PeerSourceCheck = no" nsx "$H" "$IPIPCTL" reload hub
r0=$(json "$H" hub rx_packets); d0=$(json "$H" hub drops.rx_peer_source)
nsx "$S3" ping -c 3 -i 0.2 -W 1 -I 203.0.113.18 198.51.100.1 >/dev/null 2>&1
check "... S3's packets from S1's LAN are taken in now (and not counted as dropped)" \
	test $(($(json "$H" hub rx_packets) - r0)) -ge 3 -a "$(json "$H" hub drops.rx_peer_source)" = "$d0"

# A reload adds a route by difference: followed like any other.
{ cat "$WORK/hub.conf"; printf '[Route]\nDestination = 203.0.113.64/28\nGateway = 192.0.2.13\n'; } >"$WORK/hub2.conf"
mv "$WORK/hub2.conf" "$WORK/hub.conf"
check "ipipctl reload: a [Route] with a Gateway added" bash -c "
	ip netns exec $H $IPIPCTL reload hub | grep -q 'changed: Route'"
check "... installed onlink, and 203.0.113.65 on S3 answers through it" bash -c "
	ip -n $H route show 203.0.113.64/28 | grep -q 'via 192.0.2.13 dev hub .*onlink' &&
	ip netns exec $H ping -c 2 -i 0.2 -W 2 203.0.113.65"
sed -i 's/^Remote = any$/Remote = 192.0.2.11/; /^AllowedRemotes/d; /^PeerSourceCheck/d; /^Gateway/d' "$WORK/hub.conf"
check "a reload from Remote = any to one Remote is refused: only a restart applies it" bash -c "
	! ip netns exec $H $IPIPCTL reload hub >$WORK/r.out 2>&1; cat $WORK/r.out
	grep -q 'Remote changed: only a restart applies it' $WORK/r.out"

check "ipipctl down hub" nsx "$H" "$IPIPCTL" down hub
wait_gone "$PH" || notok "hub exits"

# UnderlayOutput = kernel: a hub's packets all go through the kernel's IP output.
hub_conf 'UnderlayOutput = kernel\n' >"$WORK/hub.conf"
start "$H" "$WORK/hub.conf" || notok "ipipd start hub (UnderlayOutput = kernel)"
PH=$STARTED
check "UnderlayOutput = kernel: 2 MiB TCP S1 -> S2 through the hub arrives intact" \
	transfer "$S1" "$S2" 203.0.113.33 7003 "$WORK/blob"
check "... none of it direct (underlay_output $(json "$H" hub underlay_output), tx_direct $(json "$H" hub tx_direct))" \
	test "$(json "$H" hub underlay_output)" = kernel -a "$(json "$H" hub tx_direct)" = 0 -a \
	"$(peer 192.0.2.12 direct)" = False -a "$(peer 192.0.2.12 tx_packets)" -gt 1000
check "ipipctl down hub" nsx "$H" "$IPIPCTL" down hub
wait_gone "$PH" || notok "hub exits"
check "the hub's namespace is as it was (routes, device, forwarding)" \
	diff <(echo "$BEFORE_H") <(dump "$H")
finish

#!/bin/bash
# The userspace tunnel between two hosts.
#
#   A (ipa)                                        B (ipb)
#   198.51.100.1/32 peer .2                        198.51.100.2/32 peer .1
#   va 192.0.2.1/24  ------------ veth ------------  vb 192.0.2.2/24
#   ipa2 198.51.100.11 (local 192.0.2.11)           ipb2 198.51.100.12 (local 192.0.2.12)
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A ipA && ns_new B ipB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
ip -n "$A" addr add 192.0.2.11/24 dev va
ip -n "$B" addr add 192.0.2.12/24 dev vb
ip -n "$B" addr add 192.0.2.99/24 dev vb

conf() { # conf FILE LOCAL REMOTE ADDR PEER [extra lines]
	local f=$WORK/$1
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = '"$DATAPATH"'\n%s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "${6:-}" "$4" "$5" >"$f"
	echo "$f"
}
CA=$(conf ipa.conf 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "AllowedSources = 198.51.100.2/32")
CB=$(conf ipb.conf 192.0.2.2 192.0.2.1 198.51.100.2 198.51.100.1)
CA2=$(conf ipa2.conf 192.0.2.11 192.0.2.12 198.51.100.11 198.51.100.12 "UnderlayOutput = kernel")
CB2=$(conf ipb2.conf 192.0.2.12 192.0.2.11 198.51.100.12 198.51.100.11)

BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")
UNREACH_A=$(icmp_unreach "$A"); UNREACH_B=$(icmp_unreach "$B")

check "ipipd -n accepts a valid configuration" "$IPIPD" -n "$CA"
start "$A" "$CA" && ok "ipipd returns once the tunnel is up" || notok "ipipd start A"
PA=$STARTED
# B's daemon runs in the foreground (-f), a child of this shell, so that its
# exit status can be waited for at the end; it is up once ipipctl gets an answer.
bg "$B" "$IPIPD" -f "$CB" 2>>"$WORK/ipipd-b.log"
PB=$BG
up() { for _ in $(seq 100); do nsx "$1" "$IPIPCTL" show "$2" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
up "$B" ipb || { notok "ipipd -f start B"; sed 's/^/#   /' "$WORK/ipipd-b.log"; }

check "interface is up with MTU 1480 (underlay 1500 - 20)" \
	bash -c "ip -n $A link show ipa | grep -q 'mtu 1480' && ip -n $A link show ipa | grep -q ',UP'"
check "address with peer as 'ip addr add A/32 peer B'" \
	bash -c "ip -n $A addr show ipa | grep -q 'inet 198.51.100.1 peer 198.51.100.2/32'"
# (-f and a time limit: were it not refused, it would neither daemonize nor stay.)
second_refused() {
	local out rc
	out=$(nsx "$A" timeout 10 "$IPIPD" -f "$CA" 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "tunnel 'ipa' is already run" <<<"$out"
}
check "second ipipd for the same tunnel refuses to start (exit non-zero, 'already run')" second_refused
first_intact() {
	kill -0 "$PA" && nsx "$A" "$IPIPCTL" show ipa >/dev/null &&
		test "$(cat "$(rundir "$A")/ipa.pid")" = "$PA"
}
check "... and the first one keeps running, its control socket and pid file intact" first_intact
check "ping A -> B through the tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "ping B -> A through the tunnel" nsx "$B" ping -c 3 -i 0.2 -W 2 198.51.100.1
check "1480-byte ping with DF passes on a 1500 underlay" \
	nsx "$A" ping -c 2 -i 0.2 -W 2 -M do -s 1452 198.51.100.2
check "1481-byte ping with DF is refused locally (tunnel MTU)" \
	bash -c "! ip netns exec $A ping -c 1 -W 1 -M do -s 1453 198.51.100.2"

# Counters match what was sent: 20 echo requests of 100 + 28 bytes each way.
tx0=$(json "$A" ipa tx_packets); txb0=$(json "$A" ipa tx_bytes)
rx0=$(json "$B" ipb rx_packets); rxb0=$(json "$B" ipb rx_bytes)
nsx "$A" ping -q -c 20 -i 0.01 -s 100 198.51.100.2 >/dev/null
tx1=$(json "$A" ipa tx_packets); txb1=$(json "$A" ipa tx_bytes)
rx1=$(json "$B" ipb rx_packets); rxb1=$(json "$B" ipb rx_bytes)
check "tx counters count what was sent (20 packets, 2560 bytes)" \
	test "$((tx1 - tx0)) $((txb1 - txb0))" = "20 2560"
check "rx counters at the far end match (20 packets, 2560 bytes)" \
	test "$((rx1 - rx0)) $((rxb1 - rxb0))" = "20 2560"

# tcp_burst KiB PORT: a TCP transfer A -> B through the tunnel arrives intact
# (batches of segments: with Datapath = userspace they go out direct).
tcp_burst() {
	local sink sent
	head -c $(($1 << 10)) /dev/urandom >"$WORK/burst"
	bg "$B" $PKT sink 198.51.100.2 "$2" >"$WORK/burst.out"
	sink=$BG
	for _ in $(seq 300); do grep -q listening "$WORK/burst.out" 2>/dev/null && break; sleep 0.1; done
	sent=$(nsx "$A" timeout 60 $PKT send 198.51.100.2 "$2" "$WORK/burst")
	wait "$sink"
	test -n "$sent" -a "$sent" = "$(tail -n 1 "$WORK/burst.out")"
}

# A capture on the underlay decodes as IPIP with valid outer and inner
# checksums: pings (lone packets, the kernel's IP output) and a TCP burst
# (batches, sent direct by the userspace datapath: ipipd's own outer headers).
ip netns exec "$A" tcpdump --immediate-mode -Z root -i va -w "$WORK/cap.pcap" -U 'ip proto 4' 2>"$WORK/td.err" &
TD=$!; PIDS+=("$TD")
for _ in $(seq 300); do grep -q listening "$WORK/td.err" && break; sleep 0.1; done
[ "$DATAPATH" = userspace ] && d0=$(json "$A" ipa tx_direct)
nsx "$A" ping -q -c 5 -i 0.05 -s 1000 198.51.100.2 >/dev/null
tcp_burst 256 5003 || notok "TCP burst during the capture"
sleep 0.3; kill "$TD"; wait "$TD" 2>/dev/null
check "capture decodes as IPIP with valid outer and inner headers" $PKT pcap-check "$WORK/cap.pcap"
if [ "$DATAPATH" = userspace ]; then
	check "... including outer packets sent direct (tx_direct grew during the capture)" \
		test "$(json "$A" ipa tx_direct)" -gt "$d0"
fi

# 64 MiB over TCP, checksum compared at the far end.
head -c $((64 << 20)) /dev/urandom >"$WORK/blob"
bg "$B" $PKT sink 198.51.100.2 5001 >"$WORK/sink.out"
SINK=$BG
for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
SENT=$(nsx "$A" timeout 120 $PKT send 198.51.100.2 5001 "$WORK/blob")
wait "$SINK"
GOT=$(tail -n 1 "$WORK/sink.out")
check "64 MiB TCP transfer arrives intact (sha256 matches)" test -n "$SENT" -a "$SENT" = "$GOT"
check "no ICMP unreachable sent by either host (no protocol-unreachable leak)" \
	test -n "$UNREACH_A" -a -n "$UNREACH_B" -a "$(icmp_unreach "$A") $(icmp_unreach "$B")" = "$UNREACH_A $UNREACH_B"

# Outer packets go straight to the next hop through a packet socket, to the
# neighbour the kernel resolved, and follow it when it changes.
mac_of() { ip -n "$1" -o link show "$2" | sed 's|.*link/ether \([^ ]*\).*|\1|'; }
hop_is() { # hop_is MAC: A's daemon sends to MAC (within 3 s)
	for _ in $(seq 30); do
		nsx "$A" "$IPIPCTL" show --json ipa | grep -q "\"underlay_hop\":\"$1 " && return 0
		sleep 0.1
	done
	nsx "$A" "$IPIPCTL" show --json ipa | grep underlay; return 1
}
pings_within() { # pings_within SECONDS: a ping A -> B through the tunnel passes
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		nsx "$A" ping -c 1 -W 0.3 198.51.100.2 >/dev/null && return 0
	done
	return 1
}
# mac_moves WHAT HOP_IS BURST MAC1 MAC2: B's MAC changes, announced (as a
# gratuitous ARP does) and then not; A's WHAT follows each (HOP_IS MAC), and a
# TCP burst goes that way (BURST PORT).
mac_moves() {
	local what=$1 hop_is=$2 burst=$3 mac0
	mac0=$(mac_of "$B" vb)
	ip -n "$B" link set vb address "$4"
	ip -n "$A" neigh replace 192.0.2.2 lladdr "$4" nud stale dev va
	check "B's MAC changes, announced: $what follows within 3 s" "$hop_is" "$4"
	check "... and the tunnel carries traffic" pings_within 3
	check "... a TCP burst arrives intact, sent straight to the new MAC" "$burst" 5004
	# Unannounced: found by the kernel's own neighbour probing (timers shortened).
	nsx "$A" sysctl -qw net.ipv4.neigh.va.base_reachable_time_ms=2000 \
		net.ipv4.neigh.va.delay_first_probe_time=1
	ip -n "$B" link set vb address "$5"
	check "B's MAC changes, unannounced: traffic resumes within 30 s (the kernel's neighbour probes)" \
		pings_within 30
	check "... $what straight to the new MAC again" "$hop_is" "$5"
	check "... a TCP burst arrives intact, sent straight to it" "$burst" 5005
	ip -n "$B" link set vb address "$mac0"
	ip -n "$A" neigh replace 192.0.2.2 lladdr "$mac0" nud stale dev va
	"$hop_is" "$mac0" >/dev/null
}
if [ "$DATAPATH" = userspace ]; then
	direct_to() { test "$(json "$A" ipa underlay_output)" = direct && hop_is "$1"; }
	check "outer packets go straight to B's MAC (underlay_output = direct)" direct_to "$(mac_of "$B" vb)"
	check "... and carried nearly all of the transfer (tx_direct > 99 % of tx_packets)" \
		test "$(($(json "$A" ipa tx_direct) * 100))" -gt "$(($(json "$A" ipa tx_packets) * 99))"
	direct_burst() { # direct_burst PORT: ... and outer packets went direct
		local d0
		d0=$(json "$A" ipa tx_direct)
		tcp_burst 256 "$1" && test "$(json "$A" ipa tx_direct)" -gt "$d0"
	}
	mac_moves "the daemon" hop_is direct_burst 02:00:00:00:0b:01 02:00:00:00:0b:02
fi
# The eBPF fast path's egress program likewise, with the Ethernet header the
# daemon writes into its state, and one packet a second through the kernel's
# lookups, which keeps the neighbour entry verified.
if [ "$(json "$A" ipa datapath)" = ebpf ]; then
	fast_hop_is() { # fast_hop_is MAC: A's egress program sends to MAC (within 3 s)
		for _ in $(seq 30); do
			[ "$(json "$A" ipa fast_next_hop)" = "$1" ] && return 0
			sleep 0.1
		done
		echo "fast_next_hop $(json "$A" ipa fast_next_hop), not $1"
		return 1
	}
	fast_burst() { # fast_burst PORT: ... through A's fast path
		local f0
		f0=$(json "$A" ipa fast_tx_packets)
		tcp_burst 256 "$1" && test "$(json "$A" ipa fast_tx_packets)" -gt $((f0 + 100))
	}
	check "the fast path sends straight to B's MAC (fast_next_hop)" fast_hop_is "$(mac_of "$B" vb)"
	mac_moves "the fast path" fast_hop_is fast_burst 02:00:00:00:0b:03 02:00:00:00:0b:04
fi

# Drops are counted by reason.
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 ttl0 4
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 inner-csum 5
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 ce-not-ect 6
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 inner-short 7
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 inner-version 8
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 src-ours 2
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 src-other 3
nsx "$B" $PKT ipip 192.0.2.2 192.0.2.1 lsrr 4
nsx "$A" $PKT inject6 ipa
sleep 0.3
for d in rx_inner_ttl0:4 rx_inner_checksum:5 rx_ecn_ce_over_not_ect:6 \
	 rx_inner_short:7 rx_inner_version:8 rx_inner_source_ours:2 rx_inner_source_not_allowed:3 \
	 rx_inner_source_route:4; do
	check "drop counted: ${d%:*} = ${d#*:}" test "$(json "$A" ipa "drops.${d%:*}")" = "${d#*:}"
done
check "non-IPv4 from the TUN device is counted, not sent" \
	test "$(json "$A" ipa drops.tx_not_ipv4)" -ge 1
check "no ICMP unreachable for the bad packets either" \
	test -n "$UNREACH_A" -a "$(icmp_unreach "$A")" = "$UNREACH_A"
# Outer packets in frames to another host's Ethernet address (a device in
# promiscuous mode takes them in) are not ours: the kernel drops them before
# any protocol, and the fast path's ingress program, which sees them first,
# leaves them to it.
RX0=$(json "$A" ipa rx_packets)
nsx "$A" ip link set va promisc on
nsx "$B" $PKT frame vb 02:00:00:00:0a:99 192.0.2.2 192.0.2.1 good 5
nsx "$B" $PKT frame vb "$(mac_of "$A" va)" 192.0.2.2 192.0.2.1 good 3
sleep 0.3
nsx "$A" ip link set va promisc off
check "outer packets in frames to another Ethernet address: not taken in (3 of 8 were A's, $(($(json "$A" ipa rx_packets) - RX0)) taken)" \
	test "$(($(json "$A" ipa rx_packets) - RX0))" = 3
# Another outer source: ipipd's socket is connected to Remote, so the kernel
# refuses those as it does a protocol nobody listens for (as the kernel's
# ipip refuses packets of no tunnel), and ipipd never sees them.
UP0=$(ipstat "$A" InUnknownProtos)
nsx "$B" $PKT ipip 192.0.2.99 192.0.2.1 good 3
sleep 0.3
check "outer source other than Remote: refused by the kernel (Ip InUnknownProtos +3), not counted by ipipd" \
	test "$(($(ipstat "$A" InUnknownProtos) - UP0)) $(json "$A" ipa drops.rx_outer_source)" = "3 0"

# A second pair of tunnels side by side on the same hosts.
start "$A" "$CA2" && PA2=$STARTED && start "$B" "$CB2" || notok "start second tunnel pair"
check "two tunnels side by side: both carry traffic" bash -c \
	"ip netns exec $A ping -c 2 -i 0.2 -W 2 198.51.100.12 && ip netns exec $A ping -c 2 -i 0.2 -W 2 198.51.100.2"
check "UnderlayOutput = kernel: no outer packet sent direct" bash -c \
	"test \"\$(ip netns exec $A $IPIPCTL show --json ipa2 | $PY -c 'import json,sys; o=json.load(sys.stdin)[0]; print(o[\"underlay_output\"], o[\"tx_direct\"], o[\"tx_packets\"] > 0)')\" = 'kernel 0 True'"
check "ipipctl show lists both tunnels" \
	bash -c "ip netns exec $A $IPIPCTL show | grep -c '^tunnel ' | grep -qx 2"
check "ipipctl show NAME prints the summary" bash -c \
	"ip netns exec $A $IPIPCTL show ipa | grep -q 'local 192.0.2.1  remote 192.0.2.2  mtu 1480'"
check "ipipctl show --json is a JSON array with the documented keys" bash -c \
	"ip netns exec $A $IPIPCTL show --json | $PY -c 'import json,sys; t=json.load(sys.stdin); \
	assert len(t)==2; [o[k] for o in t for k in (\"name\",\"local\",\"remote\",\"mtu\",\"rx_packets\",\"rx_bytes\",\"tx_packets\",\"tx_bytes\",\"drops\")]'"
check "ipipctl for an unknown tunnel fails with a clear error" bash -c \
	"ip netns exec $A $IPIPCTL show nosuch 2>&1 | grep -q 'no such tunnel' && ! ip netns exec $A $IPIPCTL show nosuch"

# Stopping: ipipctl down and SIGTERM both leave the host as it was.
down_stops() { nsx "$A" "$IPIPCTL" down ipa2 && nsx "$B" "$IPIPCTL" down ipb2 && wait_gone "$PA2"; }
check "ipipctl down stops the daemon" down_stops
nsx "$A" "$IPIPCTL" down ipa
check "after ipipctl down, links/addresses/routes as before" \
	diff <(echo "$BEFORE_A") <(dump "$A")
# exited_with PID STATUS: the child PID exits within 10 s with STATUS.
exited_with() {
	local rc
	wait_gone "$1" || { echo "still running after 10 s"; return 1; }
	wait "$1"; rc=$?
	echo "exit status $rc"; sed 's/^/log: /' "$WORK/ipipd-b.log"; [ "$rc" = "$2" ]
}
kill -TERM "$PB"
check "SIGTERM stops the daemon with status 0" exited_with "$PB" 0
check "after SIGTERM, links/addresses/routes as before" diff <(echo "$BEFORE_B") <(dump "$B")
check "runtime files removed" test ! -e "$(rundir "$A")" -a ! -e "$(rundir "$B")"
start "$A" "$CA" && ok "restart after stop works" || notok "restart after stop"
PA=$STARTED
kill -INT "$PA"
check "SIGINT stops the daemon too" wait_gone "$PA"
finish

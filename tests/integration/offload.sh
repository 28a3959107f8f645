#!/bin/bash
# TUN offloads (IFF_VNET_HDR, TSO/USO split, GRO coalescing) against the wire.
#
#   A (ofa)  198.51.100.21/32 peer .22   va 192.0.2.21/24 ---- veth ---- vb 192.0.2.22/24   B (ofb)
#
# The kernel hands A's daemon TCP super-packets; on the underlay every frame must
# still be an ordinary IPv4-in-IPv4 packet of at most 1514 bytes with valid
# outer, inner and TCP checksums.  Then B runs without offloads
# (IPIPD_OFFLOAD=off: plain TUN, one packet per read/write, as any peer
# without offloads, e.g. the kernel's ipip) and both directions must still work.
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A ofA && ns_new B ofB || exit 1
veth_pair "$A" va 192.0.2.21/24 "$B" vb 192.0.2.22/24 || exit 1
BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")

conf() { # conf FILE LOCAL REMOTE ADDR PEER
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = userspace\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$4" "$5" >"$WORK/$1"
	echo "$WORK/$1"
}
CA=$(conf ofa.conf 192.0.2.21 192.0.2.22 198.51.100.21 198.51.100.22)
CB=$(conf ofb.conf 192.0.2.22 192.0.2.21 198.51.100.22 198.51.100.21)
# wire_ok PCAP PROTO MIN [MAX]: tests/wire.py finds every frame <= 1514 bytes
# with valid checksums, and checked the TCP (6) or UDP (17) checksum of MIN to
# MAX frames.
wire_ok() {
	local out
	out=$($PY "$TOP/tests/wire.py" "$1" "$2") || return 1
	echo "frames, checked, biggest: $out"
	set -- $out "$3" "${4:-1000000000}"
	[ "$2" -ge "$4" ] && [ "$2" -le "$5" ]
}

# UDP with UDP_SEGMENT (a USO super-packet for the TUN device) and its receiver.
cat >"$WORK/udp.py" <<'EOF'
import hashlib, socket, sys
if sys.argv[1] == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], 7000))
    s.settimeout(5)
    print("listening", flush=True)
    got = []
    try:
        while len(got) < int(sys.argv[3]):
            got.append(s.recv(65535))
    except socket.timeout:
        pass
    print(len(got), sorted(set(len(g) for g in got)), hashlib.sha256(b"".join(got)).hexdigest())
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, 103, 1000)   # UDP_SEGMENT: 1000-byte datagrams
    data = bytes((i * 7 + i // 1000) & 255 for i in range(20000))
    s.sendto(data, (sys.argv[2], 7000))
    print(20, [1000], hashlib.sha256(data).hexdigest())
EOF


head -c $((32 << 20)) /dev/urandom >"$WORK/blob"
head -c $((8 << 20)) /dev/urandom >"$WORK/blob8"

start "$A" "$CA" || notok "ipipd start A"
PA=$STARTED
start "$B" "$CB" || notok "ipipd start B"
PB=$STARTED
check "ping through the tunnel with offloads on" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.22

# The device really hands over super-packets: the capture on the TUN device shows them.
capture TD_TUN "$A" ofa "$WORK/tun.pcap" 'tcp'
capture TD_WIRE "$A" va "$WORK/wire.pcap" 'ip proto 4 and src host 192.0.2.21'
check "32 MiB TCP A -> B with offloads on arrives intact" \
	transfer "$A" "$B" 198.51.100.22 5101 "$WORK/blob"
stop_capture "$TD_TUN"
stop_capture "$TD_WIRE"
check "the TUN device handed over TSO super-packets (frames > 1480 bytes on it)" bash -c \
	"tcpdump -nr '$WORK/tun.pcap' 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if (\$i == \"length\") l = \$(i + 1) + 0; if (l > 1480) big++ } END { exit !(big > 0) }'"
check "on the wire: every frame <= 1514 bytes, outer/inner IPv4 and TCP checksums valid (> 1000 frames)" \
	wire_ok "$WORK/wire.pcap" 6 1001
check "no drops counted on either end" bash -c \
	"ip netns exec $A $IPIPCTL show ofa | grep -q 'drops: none' &&
	 ip netns exec $B $IPIPCTL show ofb | grep -q 'drops: none'"
READS=$(json "$A" ofa tun_reads) SPLIT=$(json "$A" ofa gso_split) TXP=$(json "$A" ofa tx_packets)
check "A's counters say it: $SPLIT super-packets split, $READS TUN reads for $TXP packets sent" \
	bash -c "[ '$SPLIT' -gt 0 ] && [ '$READS' -lt '$TXP' ]"
W0=$(json "$A" ofa tun_writes) G0=$(json "$A" ofa gro_writes) R0=$(json "$A" ofa rx_packets)
check "8 MiB TCP B -> A (GRO on A) arrives intact" transfer "$B" "$A" 198.51.100.21 5102 "$WORK/blob8"
W=$(($(json "$A" ofa tun_writes) - W0)) G=$(($(json "$A" ofa gro_writes) - G0)) R=$(($(json "$A" ofa rx_packets) - R0))
check "... and A's counters say it: $G coalesced writes, $W TUN writes for $R packets received" \
	bash -c "[ $G -gt 0 ] && [ $W -lt $R ]"
check "... which ipipctl show says in one line" bash -c \
	"ip netns exec $A $IPIPCTL show ofa | grep -Eq '^  TUN device: [0-9]+ reads, [0-9]+ writes; [1-9][0-9]* super-packets split, [1-9][0-9]* coalesced writes \\([0-9]+ segments not merged: checksum wrong\\)$'"

# UDP segmentation offload: one 20000-byte send with UDP_SEGMENT = 20 datagrams of 1000.
capture TD_UDP "$A" va "$WORK/udp.pcap" 'ip proto 4 and src host 192.0.2.21'
nsx "$B" $PY "$WORK/udp.py" recv 198.51.100.22 20 >"$WORK/udp.out" &
URX=$!; PIDS+=("$URX")
for _ in $(seq 300); do grep -q listening "$WORK/udp.out" 2>/dev/null && break; sleep 0.1; done
USENT=$(nsx "$A" $PY "$WORK/udp.py" send 198.51.100.22)
wait "$URX"
stop_capture "$TD_UDP"
check "UDP_SEGMENT send: 20 datagrams of 1000 bytes arrive intact" \
	test "$USENT" = "$(tail -n 1 "$WORK/udp.out")"
check "on the wire: 20 ordinary UDP datagrams with valid checksums" \
	wire_ok "$WORK/udp.pcap" 17 20 20

# Interop: B without offloads (plain TUN, one packet per system call).
kill -TERM "$PB"
wait_gone "$PB" || notok "B stops"
IPIPD_OFFLOAD=off start "$B" "$CB" || notok "ipipd start B without offloads"
PB=$STARTED
check "ping A <-> B, B without offloads" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.22
check "32 MiB TCP A (offloads) -> B (none) arrives intact" \
	transfer "$A" "$B" 198.51.100.22 5103 "$WORK/blob"
check "32 MiB TCP B (none) -> A (offloads) arrives intact" \
	transfer "$B" "$A" 198.51.100.21 5104 "$WORK/blob"
nsx "$B" $PY "$WORK/udp.py" recv 198.51.100.22 20 >"$WORK/udp.out" &
URX=$!; PIDS+=("$URX")
for _ in $(seq 300); do grep -q listening "$WORK/udp.out" 2>/dev/null && break; sleep 0.1; done
USENT=$(nsx "$A" $PY "$WORK/udp.py" send 198.51.100.22)
wait "$URX"
check "UDP_SEGMENT send to B without offloads arrives intact" \
	test "$USENT" = "$(tail -n 1 "$WORK/udp.out")"
kill -TERM "$PA" "$PB"
stopped_clean() {
	wait_gone "$PA" && wait_gone "$PB" || { echo "still running 10 s after SIGTERM"; return 1; }
	! ls "$(rundir "$A")"/ofa.* "$(rundir "$B")"/ofb.* 2>/dev/null || { echo "runtime files left"; return 1; }
	diff <(echo "$BEFORE_A") <(dump "$A") && diff <(echo "$BEFORE_B") <(dump "$B")
}
check "the daemons stop cleanly on SIGTERM: both exit, no runtime files left, links, addresses, routes as before" \
	stopped_clean
finish

#!/bin/bash
# UDP encapsulation (Encapsulation = fou, gue) between two ipipd ends, over
# an underlay that drops IP protocol 4 (what the encapsulation is for):
# pings and TCP both ways, the outer headers on the wire (UDP to the
# configured port from a port of the flow-hash range or the fixed one, no
# UDP checksum unless asked, GUE's 4-byte header), the tunnel MTU, what is
# refused (another source, a malformed GUE header) and counted, no port
# unreachable from the port, a reload that changes the encapsulation
# refused, and nothing left once stopped.
#
#   A va 198.51.100.1/24 ---- B vb 198.51.100.2/24 ---- C 192.0.2.2/30 (off path)
#     tunnel fa 203.0.113.1 <-> fb 203.0.113.2
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A fouA && ns_new B fouB && ns_new C fouC || exit 1
veth_pair "$A" va 198.51.100.1/24 "$B" vb 198.51.100.2/24 &&
veth_pair "$C" eth0 192.0.2.2/30 "$B" vc 192.0.2.1/30 || exit 1
ip -n "$C" route add default via 192.0.2.1
# the point of UDP encapsulation: a path that drops protocol 4
for ns in "$A" "$B"; do
	nsx "$ns" nft -f - <<'EOF'
table inet nofour {
	chain input {
		type filter hook input priority -10; policy accept;
		ip protocol 4 drop
	}
}
EOF
done
BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")
read -r PMIN PMAX < <(nsx "$A" cat /proc/sys/net/ipv4/ip_local_port_range)

conf() { # conf FILE NAME LOCAL REMOTE ADDR PEER EXTRA
	printf '[Tunnel]\nName = %s\nLocal = %s\nRemote = %s\nDatapath = %s\n%b[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$4" "$DATAPATH" "$7" "$5" "$6" >"$WORK/$1"
}
# udp_fields PCAP: "sport dport udplen csum proto-after" of each UDP packet A -> B
udp_fields() {
	$PY - "$1" <<'EOF'
import sys
from scapy.all import rdpcap, IP, UDP
for p in rdpcap(sys.argv[1]):
    if IP in p and p[IP].src == "198.51.100.1" and p[IP].proto == 17:
        raw = bytes(p[IP])
        ihl = (raw[0] & 15) * 4
        u = raw[ihl:ihl + 12]
        print(int.from_bytes(u[0:2], "big"), int.from_bytes(u[2:4], "big"),
              int.from_bytes(u[4:6], "big"), int.from_bytes(u[6:8], "big"), u[8:12].hex(),
              p[IP].len - ihl)
EOF
}
dd if=/dev/urandom of="$WORK/blob" bs=1M count=4 status=none

for ENC in fou gue; do
	# A sends to B's Port 5555 with SourcePort = auto; B to A's 6666 from 4000, checksummed
	conf fa.conf fa 198.51.100.1 198.51.100.2 203.0.113.1 203.0.113.2 \
		"Encapsulation = $ENC\nPort = 6666\nRemotePort = 5555\n"
	conf fb.conf fb 198.51.100.2 198.51.100.1 203.0.113.2 203.0.113.1 \
		"Encapsulation = $ENC\nPort = 5555\nRemotePort = 6666\nSourcePort = 4000\nUDPChecksum = yes\n"
	OH=$([ $ENC = fou ] && echo 28 || echo 32)
	check "$ENC: ipipd -n accepts it" "$IPIPD" -n "$WORK/fa.conf"
	start "$A" "$WORK/fa.conf" || notok "$ENC: ipipd start A"
	PA=$STARTED
	start "$B" "$WORK/fb.conf" || notok "$ENC: ipipd start B"
	PB=$STARTED
	check "$ENC: the userspace datapath carries it" bash -c "
		ip netns exec $A $IPIPCTL show fa | grep -q 'userspace datapath (Encapsulation = $ENC'"
	check "$ENC: tunnel MTU is the underlay's less $OH" \
		test "$(ip -n "$A" -o link show fa | grep -o 'mtu [0-9]*')" = "mtu $((1500 - OH))"
	check "$ENC: full-size packets pass whole (DF, $((1500 - OH)) bytes)" \
		nsx "$A" ping -c 2 -i 0.2 -W 2 -M do -s $((1500 - OH - 28)) 203.0.113.2
	unr0=$(icmp_unreach "$B")
	capture CAP "$B" vb "$WORK/$ENC.pcap" udp
	check "$ENC: A pings B through the tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 203.0.113.2
	check "$ENC: B pings A" nsx "$B" ping -c 3 -i 0.2 -W 2 203.0.113.1
	check "$ENC: 4 MiB TCP A -> B arrives intact" transfer "$A" "$B" 203.0.113.2 7001 "$WORK/blob"
	check "$ENC: 4 MiB TCP B -> A arrives intact" transfer "$B" "$A" 203.0.113.1 7002 "$WORK/blob"
	stop_capture "$CAP"
	udp_fields "$WORK/$ENC.pcap" >"$WORK/$ENC.fields"
	check "$ENC: A's outer packets: UDP to 5555 from the flow-hash range [$PMIN, $PMAX), checksum 0, length right" \
		awk -v lo="$PMIN" -v hi="$PMAX" -v enc=$ENC '
			{ n++; if ($2 != 5555 || $1 < lo || $1 >= hi || $4 != 0 || $3 != $6) bad++ }
			enc == "gue" && $5 != "00040000" { bad++ }
			END { exit !(n > 100 && !bad) }' "$WORK/$ENC.fields"
	check "$ENC: one TCP flow's data packets keep one source port" bash -c "
		[ \$(awk '\$6 > 1000 { print \$1 }' $WORK/$ENC.fields | sort -u | wc -l) -eq 1 ]"
	check "$ENC: B's outer packets: UDP from the fixed SourcePort 4000 to 6666, checksummed (and valid)" \
		$PY - "$WORK/$ENC.pcap" <<'EOF'
import sys
from scapy.all import rdpcap, IP, UDP
n = 0
for p in rdpcap(sys.argv[1]):
    if IP in p and p[IP].src == "198.51.100.2" and UDP in p:
        u = p[UDP]
        assert u.sport == 4000 and u.dport == 6666, (u.sport, u.dport)
        assert u.chksum != 0
        q = IP(bytes(p[IP]))
        c = q[UDP].chksum
        del q[UDP].chksum
        assert IP(bytes(q))[UDP].chksum == c, (hex(c), hex(IP(bytes(q))[UDP].chksum))
        n += 1
assert n > 100, n
EOF
	check "$ENC: no port unreachable from B's port while it ran" test "$(icmp_unreach "$B")" -eq "$unr0"
	check "$ENC: no protocol-4 packet on the wire" bash -c "
		! tcpdump -nr $WORK/$ENC.pcap 'ip proto 4' 2>/dev/null | grep -q ."

	# off-path source: a datagram to the port from C is dropped and counted
	src0=$(json "$B" fb drops.rx_outer_source)
	nsx "$C" $PY -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
inner = bytes.fromhex('4500001c000100004001' + '0000' + 'cb007102' + 'cb007101') + bytes(8)
for _ in range(5): s.sendto(inner, ('198.51.100.2', 5555))"
	sleep 0.3
	check "$ENC: datagrams from another source are dropped, counted rx_outer_source" \
		test "$(json "$B" fb drops.rx_outer_source)" -ge $((src0 + 5))
	if [ $ENC = gue ]; then
		g0=$(json "$B" fb drops.rx_gue_header)
		nsx "$A" $PY -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('198.51.100.1', 0))
for h in ('20040000', '01040000', '002f0000', '00040100'):   # control, hlen, GRE, flags
    s.sendto(bytes.fromhex(h) + bytes(28), ('198.51.100.2', 5555))"
		sleep 0.3
		check "gue: a control message, optional fields, another protocol, flags: each dropped, counted rx_gue_header" \
			test "$(json "$B" fb drops.rx_gue_header)" -eq $((g0 + 4))
	fi

	sed -i 's/^Port = 5555/Port = 5556/' "$WORK/fb.conf"
	check "$ENC: a reload that changes Port is refused with its line, the tunnel kept" bash -c "
		! ip netns exec $B $IPIPCTL reload fb 2>$WORK/r.err; cat $WORK/r.err $WORK/ipipd.log | tail -3
		grep -q 'fb.conf:[0-9]*: UDP encapsulation (Encapsulation, Port, RemotePort, SourcePort or UDPChecksum) changed: only a restart' $WORK/r.err $WORK/ipipd.log &&
		ip netns exec $A ping -c 2 -i 0.2 -W 2 203.0.113.2"
	check "$ENC: ipipctl down A" nsx "$A" "$IPIPCTL" down fa
	check "$ENC: ipipctl down B" nsx "$B" "$IPIPCTL" down fb
	wait_gone "$PA"; wait_gone "$PB"
	check "$ENC: A as before" diff <(echo "$BEFORE_A") <(dump "$A")
	check "$ENC: B as before" diff <(echo "$BEFORE_B") <(dump "$B")
done

# the configuration's own errors, with their lines
printf '[Tunnel]\nLocal = 198.51.100.1\nRemote = 198.51.100.2\nEncapsulation = gue\nSourcePort = 0\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: SourcePort 0, with its line" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:5: SourcePort: .0. is not a UDP port (1-65535) or auto'"
printf '[Tunnel]\nLocal = 198.51.100.1\nRemote = 198.51.100.2\nEncapsulation = gue\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: GUE without Port, with its line" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:4: Encapsulation = gue: needs Port'"
printf '[Tunnel]\nLocal = 198.51.100.1\nRemote = 198.51.100.2\nEncapsulation = gue\nPort = 9\nDatapath = ebpf\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: Datapath = ebpf with UDP encapsulation" bash -c "
	! $IPIPD -n $WORK/bad.conf 2>&1 | tee /dev/stderr | grep -q 'bad.conf:5: Datapath = ebpf: carries protocol 4 only'"
printf '[Tunnel]\nLocal = 198.51.100.1\nRemote = 198.51.100.2\nRemotePort = 9\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: RemotePort without UDP encapsulation" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:4: RemotePort: needs Encapsulation = fou or gue'"
finish

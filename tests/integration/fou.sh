#!/bin/bash
# UDP encapsulation (Encapsulation = fou, gue) between two ipipd ends, over
# a path that drops IP protocol 4 (what the encapsulation is for): pings
# and TCP both ways, the outer headers on the wire (UDP to the configured
# port from a port of the flow-hash range or the fixed one, no UDP checksum
# unless asked, GUE's 4-byte header), the tunnel MTU, ICMP errors from the
# path (frag-needed relayed with the MTU less the whole outer header; forged
# ones that quote another port, a source port not ours or an ID not sent
# lately: counted, not believed), what is refused (another source, a
# malformed GUE header) and counted, no port unreachable from the port, a
# reload that changes the encapsulation refused, and nothing left once
# stopped.
#
#   A va 192.0.2.1/24 --- ra 192.0.2.254/24  R  rb 198.51.100.254/24 --- vb 198.51.100.2/24 B
#                                           rc 203.0.113.129/30 --- C 203.0.113.130/30 (off path)
#   tunnel fa 203.0.113.1 <-> fb 203.0.113.2
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A fouA && ns_new R fouR && ns_new B fouB && ns_new C fouC || exit 1
veth_pair "$A" va 192.0.2.1/24 "$R" ra 192.0.2.254/24 &&
veth_pair "$R" rb 198.51.100.254/24 "$B" vb 198.51.100.2/24 &&
veth_pair "$C" eth0 203.0.113.130/30 "$R" rc 203.0.113.129/30 || exit 1
ip -n "$A" route add default via 192.0.2.254
ip -n "$B" route add default via 198.51.100.254
ip -n "$C" route add default via 203.0.113.129
nsx "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
# the point of UDP encapsulation: a path that drops protocol 4
nsx "$R" nft -f - <<'EOF'
table inet nofour {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip protocol 4 counter drop
	}
}
EOF
# B's host firewall takes only what it knows ([Firewall] Input = accept adds
# the tunnel's outer packets: UDP from Remote to Local and Port)
nsx "$B" nft -f - <<'EOF'
table inet hostfw {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		iifname { "lo", "fb" } accept
		ip saddr 203.0.113.130 accept	# C: to show ipipd's own source check
	}
}
EOF
BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")
read -r PMIN PMAX < <(nsx "$A" cat /proc/sys/net/ipv4/ip_local_port_range)

conf() { # conf FILE NAME LOCAL REMOTE ADDR PEER TUNNEL-KEYS [SECTIONS]
	printf '[Tunnel]\nName = %s\nLocal = %s\nRemote = %s\nDatapath = %s\n%b[Address]\nAddress = %s/32\nPeer = %s\n%b' \
		"$2" "$3" "$4" "$DATAPATH" "$7" "$5" "$6" "${8:-}" >"$WORK/$1"
}
# udp_fields PCAP: "sport dport udplen csum gue-bytes iplen-less-header" of each UDP packet A -> B
udp_fields() {
	$PY - "$1" <<'EOF'
import sys
from scapy.all import rdpcap, IP
for p in rdpcap(sys.argv[1]):
    if IP in p and p[IP].src == "192.0.2.1" and p[IP].proto == 17:
        raw = bytes(p[IP])
        ihl = (raw[0] & 15) * 4
        u = raw[ihl:ihl + 12]
        print(int.from_bytes(u[0:2], "big"), int.from_bytes(u[2:4], "big"),
              int.from_bytes(u[4:6], "big"), int.from_bytes(u[6:8], "big"), u[8:12].hex(),
              p[IP].len - ihl)
EOF
}
# forge QUOTE-HEX WHAT: from R to A, a frag-needed (MTU 1300) quoting the
# captured outer packet QUOTE, changed as WHAT says: dport, sport or id
forge() {
	nsx "$R" $PY - "$1" "$2" <<'EOF'
import sys
from scapy.all import IP, ICMP, UDP, send, conf
conf.verb = 0
q = IP(bytes.fromhex(sys.argv[1]))
if sys.argv[2] == "dport":
    q[UDP].dport += 1
elif sys.argv[2] == "sport":
    q[UDP].sport = 1000
elif sys.argv[2] == "id":
    q.id = (q.id + 30000) & 0xffff
q.chksum = None
quote = bytes(IP(bytes(q)))[:68]
send(IP(src="192.0.2.254", dst="192.0.2.1") / ICMP(type=3, code=4, nexthopmtu=1300) / quote)
EOF
}
# val NS NAME KEY: as json, read inside a check's bash -c
val='ip netns exec $0 '"$IPIPCTL"' show --json $1 | '"$PY"' -c "import json,sys; t=json.load(sys.stdin)[0]
for k in sys.argv[1].split(\".\"): t = t[k]
print(t)" $2'
dd if=/dev/urandom of="$WORK/blob" bs=1M count=4 status=none

for ENC in fou gue; do
	# A sends to B's Port 5555 with SourcePort = auto; B to A's 6666 from 4000, checksummed
	conf fa.conf fa 192.0.2.1 198.51.100.2 203.0.113.1 203.0.113.2 \
		"Encapsulation = $ENC\nPort = 6666\nRemotePort = 5555\n"
	conf fb.conf fb 198.51.100.2 192.0.2.1 203.0.113.2 203.0.113.1 \
		"Encapsulation = $ENC\nPort = 5555\nRemotePort = 6666\nSourcePort = 4000\nUDPChecksum = yes\n" \
		"[Firewall]\nInput = accept\n"
	# UDPChecksum = yes: not on the eBPF fast path (with ebpf, B takes auto: userspace)
	sed -i 's/^Datapath = ebpf$/Datapath = auto/' "$WORK/fb.conf"
	OH=$([ $ENC = fou ] && echo 28 || echo 32)
	check "$ENC: ipipd -n accepts it" "$IPIPD" -n "$WORK/fa.conf"
	start "$A" "$WORK/fa.conf" || notok "$ENC: ipipd start A"
	PA=$STARTED
	start "$B" "$WORK/fb.conf" || notok "$ENC: ipipd start B"
	PB=$STARTED
	DP=$([ "$DATAPATH" = userspace ] && echo userspace || echo ebpf)
	check "$ENC: the $DP datapath carries it, ipipctl show says how" bash -c "
		ip netns exec $A $IPIPCTL show fa | tee /dev/stderr | grep -q 'tunnel fa: $DP datapath' &&
		ip netns exec $A $IPIPCTL show fa | grep -q 'encapsulation $ENC: port 6666, remote port 5555, source port auto $PMIN-$((PMAX - 1)), UDP checksum no'"
	check "$ENC: B's input chain takes A's outer packets to Port: Input = accept's rule" bash -c "
		ip netns exec $B nft list chain inet hostfw input | tee /dev/stderr |
		grep -q 'ip saddr 192.0.2.1 ip daddr 198.51.100.2 udp dport 5555 accept comment \"ipipd:fb\"'"
	check "$ENC: ipipctl explain says that rule" bash -c "
		ip netns exec $B $IPIPCTL explain $WORK/fb.conf | grep -q 'insert rule inet hostfw input ip saddr 192.0.2.1 ip daddr 198.51.100.2 udp dport 5555 accept'"
	check "$ENC: ipipctl explain gives the kernel's commands for it" bash -c "
		out=\$(ip netns exec $A $IPIPCTL explain $WORK/fa.conf)
		grep -qx 'ip fou add port 6666 $([ $ENC = fou ] && echo 'ipproto 4' || echo gue)' <<<\"\$out\" &&
		grep -qx 'ip link add fa type ipip remote 198.51.100.2 local 192.0.2.1 encap $ENC encap-sport auto encap-dport 5555 noencap-csum' <<<\"\$out\""
	check "$ENC: tunnel MTU is the underlay's less $OH" \
		test "$(ip -n "$A" -o link show fa | grep -o 'mtu [0-9]*')" = "mtu $((1500 - OH))"
	check "$ENC: full-size packets pass whole (DF, $((1500 - OH)) bytes)" \
		nsx "$A" ping -c 2 -i 0.2 -W 2 -M do -s $((1500 - OH - 28)) 203.0.113.2
	unr0=$(icmp_unreach "$B")
	# B sends checksummed datagrams of TCP super-packets as UDP GSO frames:
	# here cut and checksummed by the kernel before vb (no offloads), so
	# that the capture shows what a wire would carry
	nsx "$B" ethtool -K vb tx off >/dev/null
	capture CAP "$B" vb "$WORK/$ENC.pcap" udp
	check "$ENC: A pings B through the tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 203.0.113.2
	check "$ENC: B pings A" nsx "$B" ping -c 3 -i 0.2 -W 2 203.0.113.1
	check "$ENC: 4 MiB TCP A -> B arrives intact" transfer "$A" "$B" 203.0.113.2 7001 "$WORK/blob"
	check "$ENC: 4 MiB TCP B -> A arrives intact" transfer "$B" "$A" 203.0.113.1 7002 "$WORK/blob"
	stop_capture "$CAP"
	nsx "$B" ethtool -K vb tx on tx-udp-segmentation on >/dev/null
	check "$ENC: B sent the transfer's datagrams in UDP GSO frames (udp_gso_sent $(json "$B" fb udp_gso_sent))" \
		test "$(json "$B" fb udp_gso_sent)" -gt 1000
	co0=$(json "$A" fa udp_coalesced)
	check "$ENC: 4 MiB TCP B -> A arrives intact with B's UDP GSO frames kept whole up to A's socket" \
		transfer "$B" "$A" 203.0.113.1 7004 "$WORK/blob"
	co1=$(json "$A" fa udp_coalesced)
	check "$ENC: ... which read them so (udp_coalesced $co0 -> $co1)" test "$co1" -gt $((co0 + 1000))
	if [ "$DP" = ebpf ]; then
		check "$ENC: A's fast path sent the transfer (fast tx $(json "$A" fa fast_tx_packets), slow tx $(json "$A" fa slow_tx_packets)); B's checksummed packets went to A's socket (slow rx $(json "$A" fa slow_rx_packets), fast rx $(json "$A" fa fast_rx_packets))" \
			bash -c "[ $(json "$A" fa fast_tx_packets) -gt 2000 ] && [ $(json "$A" fa slow_rx_packets) -gt 1000 ] &&
				[ $(json "$A" fa fast_rx_packets) -eq 0 ]"
	fi
	udp_fields "$WORK/$ENC.pcap" >"$WORK/$ENC.fields"
	check "$ENC: A's outer packets: UDP to 5555 from the flow-hash range [$PMIN, $PMAX), checksum 0, length right" \
		awk -v lo="$PMIN" -v hi="$PMAX" -v enc=$ENC '
			{ n++; if ($2 != 5555 || $1 < lo || $1 >= hi || $4 != 0 || $3 != $6) bad++ }
			enc == "gue" && $5 != "00040000" { bad++ }
			END { exit !(n > 100 && !bad) }' "$WORK/$ENC.fields"
	check "$ENC: one TCP flow's data packets keep one source port" bash -c "
		[ \$(awk '\$6 > 1000 { print \$1 }' $WORK/$ENC.fields | sort -u | wc -l) -eq 1 ]"
	check "$ENC: B's outer packets: UDP from the fixed SourcePort 4000 to 6666, checksummed (and valid), IPv4 header valid, DF, no ID twice" \
		$PY - "$WORK/$ENC.pcap" <<'EOF'
import sys
from scapy.all import rdpcap, IP, UDP
n, ids = 0, set()
for p in rdpcap(sys.argv[1]):
    if IP in p and p[IP].src == "198.51.100.2" and UDP in p:
        u = p[UDP]
        assert u.sport == 4000 and u.dport == 6666, (u.sport, u.dport)
        assert u.chksum != 0
        assert p[IP].len <= 1500 and p[IP].flags == "DF", (p[IP].len, p[IP].flags)
        assert p[IP].id not in ids, p[IP].id
        ids.add(p[IP].id)
        q = IP(bytes(p[IP]))
        c, ic = q[UDP].chksum, q.chksum
        del q[UDP].chksum
        del q.chksum
        assert IP(bytes(q))[UDP].chksum == c, (hex(c), hex(IP(bytes(q))[UDP].chksum))
        assert IP(bytes(q)).chksum == ic, (hex(ic), hex(IP(bytes(q)).chksum))
        n += 1
assert n > 100, n
EOF
	check "$ENC: no port unreachable from B's port while it ran" test "$(icmp_unreach "$B")" -eq "$unr0"

	# Datagrams that reach B's socket coalesced (UDP_GRO): a sender with UDP
	# GSO (checksummed, as GSO and GRO need) at A's address sends bursts of
	# 44; B's datapath splits each read again.  Every inner datagram must
	# come out whole, in order.
	co0=$(json "$B" fb udp_coalesced)
	nsx "$B" $PY - 203.0.113.2 7100 880 >"$WORK/gso-rx" <<'EOF' &
import socket, sys, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(5)
want, got, bad = int(sys.argv[3]), [], 0
try:
    while len(got) < want:
        d = s.recv(2048)
        i = struct.unpack("!I", d[:4])[0]
        if d[4:] != bytes([i & 0xff]) * (len(d) - 4):
            bad += 1
        got.append(i)
except socket.timeout:
    pass
print(len(got), bad, int(got == sorted(got)))
EOF
	GRX=$!
	sleep 0.5
	nsx "$A" $PY - "$ENC" <<'EOF'
import socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def inner(i):  # 203.0.113.1 -> 203.0.113.2:7100, 1200 bytes; payload: the index, then its low byte
    pay = struct.pack("!I", i) + bytes([i & 0xff]) * 1168
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1200, i, 0x4000, 64, 17, 0,
                    socket.inet_aton("203.0.113.1"), socket.inet_aton("203.0.113.2"))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + struct.pack("!HHHH", 7100, 7100, 1180, 0) + pay
gue = b"\x00\x04\x00\x00" if sys.argv[1] == "gue" else b""
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.1", 6667))
s.setsockopt(17, 103, len(gue) + 1200)  # UDP_SEGMENT
s.connect(("198.51.100.2", 5555))
for b in range(20):
    s.send(b"".join(gue + inner(b * 44 + k) for k in range(44)))
    time.sleep(0.05)
EOF
	wait $GRX
	read -r gn gbad gorder <"$WORK/gso-rx"
	check "$ENC: 20 UDP GSO bursts of 44 datagrams to B's port: all 880 inner datagrams delivered whole and in order (got ${gn:-none}, ${gbad:-?} damaged)" \
		test "${gn:-0}-${gbad:-1}-${gorder:-0}" = "880-0-1"
	co1=$(json "$B" fb udp_coalesced)
	check "$ENC: ... B's socket read them coalesced (udp_coalesced $co0 -> $co1)" \
		test "$co1" -ge $((co0 + 20 * 43))

	# ICMP errors about A's outer packets: forged ones first, then R's own
	Q=$($PY -c "
from scapy.all import rdpcap, IP
for p in rdpcap('$WORK/$ENC.pcap'):
    if IP in p and p[IP].src == '192.0.2.1' and p[IP].proto == 17 and p[IP].len < 200:
        print(bytes(p[IP]).hex()); break")
	pm0=$(json "$A" fa path_mtu)
	for what in dport sport id; do
		why=icmp_not_ours; [ $what = id ] && why=icmp_id_not_recent
		d0=$(json "$A" fa drops.$why)
		forge "$Q" $what
		sleep 0.3
		check "$ENC: a forged frag-needed quoting our packet with another $what: counted $why, not believed" \
			bash -c "[ \$($val drops.$why) -eq $((d0 + 1)) ] && [ \$($val path_mtu) = $pm0 ]" "$A" fa
	done
	ip -n "$R" link set rb mtu 1400
	ip -n "$B" link set vb mtu 1400
	r0=$(json "$A" fa icmp_relayed)
	OUT=$(nsx "$A" ping -c 1 -W 2 -M do -s $((1500 - OH - 28)) 203.0.113.2 2>&1)
	echo "$OUT" | sed 's/^/#   /'
	check "$ENC: R's frag-needed (MTU 1400) is relayed from B's tunnel address with MTU $((1400 - OH))" \
		grep -q "From 203.0.113.2 .*mtu = $((1400 - OH))" <<<"$OUT"
	check "$ENC: ... counted, and the path MTU soft state is $((1400 - OH))" \
		bash -c "echo relayed \$($val icmp_relayed) was $r0, path MTU \$($val path_mtu)
			[ \$($val icmp_relayed) -gt $r0 ] && [ \$($val path_mtu) = $((1400 - OH)) ]" "$A" fa
	check "$ENC: 4 MiB TCP A -> B across the smaller MTU" transfer "$A" "$B" 203.0.113.2 7003 "$WORK/blob"
	ip -n "$R" link set rb mtu 1500
	ip -n "$B" link set vb mtu 1500

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
s.bind(('192.0.2.1', 0))
for h in ('20040000', '01040000', '002f0000', '00040100'):   # control, hlen, GRE, flags
    s.sendto(bytes.fromhex(h) + bytes(28), ('198.51.100.2', 5555))"
		sleep 0.3
		check "gue: a control message, optional fields, another protocol, flags: each dropped, counted rx_gue_header" \
			test "$(json "$B" fb drops.rx_gue_header)" -eq $((g0 + 4))
	fi

	sed -i 's/^Port = 5555/Port = 5556/' "$WORK/fb.conf"
	check "$ENC: a reload that changes Port is refused with its line, the tunnel kept" bash -c "
		! ip netns exec $B $IPIPCTL reload fb 2>$WORK/r.err; cat $WORK/r.err $WORK/ipipd.log | tail -3
		grep -q 'fb.conf:7: Port changed: only a restart' $WORK/r.err $WORK/ipipd.log &&
		ip netns exec $A ping -c 2 -i 0.2 -W 2 203.0.113.2"
	check "$ENC: ipipctl down A" nsx "$A" "$IPIPCTL" down fa
	check "$ENC: ipipctl down B" nsx "$B" "$IPIPCTL" down fb
	wait_gone "$PA"; wait_gone "$PB"
	check "$ENC: A as before" diff <(echo "$BEFORE_A") <(dump "$A")
	check "$ENC: B as before" diff <(echo "$BEFORE_B") <(dump "$B")
	check "$ENC: R forwarded no protocol-4 packet" bash -c "
		ip netns exec $R nft list table inet nofour | grep -q 'counter packets 0 '"
done

# the configuration's own errors, with their lines
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 198.51.100.2\nEncapsulation = gue\nSourcePort = 0\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: SourcePort 0, with its line" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:5: SourcePort: .0. is not a UDP port (1-65535) or auto'"
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 198.51.100.2\nEncapsulation = gue\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: GUE without Port, with its line" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:4: Encapsulation = gue: needs Port'"
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 198.51.100.2\nEncapsulation = gue\nPort = 9\nDatapath = kernel\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: Datapath = kernel with UDP encapsulation" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:6: Datapath = kernel: ipipd sets up the kernel.s device for protocol 4 only'"
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 198.51.100.2\nEncapsulation = fou\nPort = 9\nDatapath = ebpf\nRemotePort = learn\nUDPChecksum = yes\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: Datapath = ebpf with RemotePort = learn, with UDPChecksum = yes" bash -c "
	out=\$($IPIPD -n $WORK/bad.conf 2>&1)
	grep -q 'bad.conf:7: RemotePort = learn: the eBPF fast path does not follow ports' <<<\"\$out\" &&
	grep -q 'bad.conf:8: UDPChecksum = yes: the eBPF fast path sends no UDP checksum' <<<\"\$out\""
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 198.51.100.2\nRemotePort = 9\n[Address]\nAddress = 203.0.113.1\n' >"$WORK/bad.conf"
check "config errors: RemotePort without UDP encapsulation" bash -c "
	$IPIPD -n $WORK/bad.conf 2>&1 | grep -q 'bad.conf:4: RemotePort: needs Encapsulation = fou or gue'"
finish

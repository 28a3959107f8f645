#!/bin/bash
# The HOWTO's NAT case over UDP encapsulation: home behind a masquerading
# router that drops IP protocol 4 (as many do) and has no forwarding rule
# for the tunnel.  Home's keepalive opens and keeps the router's mapping.
# 1. The router keeps home's source port (Linux masquerade does when it can):
#    both ends send from their Port (SourcePort = Port: a NAT answers only
#    the 4-tuple it saw), colo to RemotePort = home's Port; the seed
#    scenario's checks pass through the NAT and inbound connections from
#    colo's LAN reach home.
# 2. A router that rewrites source ports (masquerade to :20000-20099, as a
#    carrier-grade NAT does): a fixed RemotePort no longer reaches home;
#    RemotePort = learn follows the port home's packets come from.
# 3. The router's public address changes: RemotePort = learn follows it.
#
#   lan 203.0.113.9 -- colo 203.0.113.1 | 198.51.100.2 -- inet 198.51.100.1 | 192.0.2.1/25
#     -- router wan 192.0.2.42/25 | 192.0.2.129/25 -- home 192.0.2.130/25
set -u
. "$(dirname "$0")/../lib.sh"

nat_net f || exit 1
# router PORTS: masquerade (UDP to the source ports PORTS if given), protocol 4 dropped
router() {
	nsx "$NAT" nft flush ruleset
	nsx "$NAT" nft -f - <<EOF
table ip fou-nat {
	chain forward {
		type filter hook forward priority 0; policy accept;
		ip protocol 4 counter drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		${1:+oifname "wan" meta l4proto udp masquerade to :$1}
		oifname "wan" masquerade
	}
}
EOF
}
conf() { # conf FILE home HOME-PORT | conf FILE colo REMOTE-PORT [EXTRA]
	if [ "$2" = home ]; then
		printf '[Tunnel]\nName = Moe\nLocal = 192.0.2.130\nRemote = 198.51.100.2\nTTL = 64\nDatapath = %s\nEncapsulation = fou\nPort = %s\nRemotePort = 5555\nSourcePort = %s\nKeepalive = 2\n[Address]\nAddress = 203.0.113.5/32\nPeer = 203.0.113.1\n[Routing]\nTable = Moe:42\n' "$DATAPATH" "$3" "$3"
	else
		printf '[Tunnel]\nName = Moe\nLocal = 198.51.100.2\nRemote = 192.0.2.42\nTTL = 64\nDatapath = %s\nEncapsulation = fou\nPort = 5555\nRemotePort = %s\n%b[Address]\nAddress = 203.0.113.1/32\nPeer = 203.0.113.5\n[Host]\nIPv4Forwarding = yes\nProxyARP = eth-lan\n[Firewall]\nForward = accept\n' "$DATAPATH" "$3" "${4:-}"
	fi >"$WORK/$1"
}
serve() {
	bg "$HOME_NS" $PKT serve-peer 203.0.113.5 7000 "$1" >"$WORK/serve.out"
	for _ in $(seq 300); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
}
outer_on_internet() { # outer_on_internet PATTERN: a LAN ping's outer packets, seen between INET and the router
	nsx "$INET" timeout 5 tcpdump -n -c 2 -i eth-nat udp >"$WORK/outer.txt" 2>/dev/null &
	local t=$!
	sleep 0.5
	nsx "$LAN" ping -c 3 -i 0.2 -W 1 203.0.113.5 >/dev/null
	wait "$t"
	cat "$WORK/outer.txt"
	grep -qE "$1" "$WORK/outer.txt"
}

# 1. a router that keeps home's source port
router
# both ends send from their Port: a NAT answers only the 4-tuple it saw
conf home.conf home 5555; conf colo.conf colo 5555 'SourcePort = 5555\n'
start "$COLO" "$WORK/colo.conf" Moe || notok "ipipd start on colo"
start "$HOME_NS" "$WORK/home.conf" Moe || notok "ipipd start on home"
sleep 3	# home's first keepalive opens the mapping
check "the LAN host pings home's colo address through the NAT (no forwarding rule: home's mapping)" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
serve 2
check "an inbound TCP connection from colo's LAN reaches home, which sees 203.0.113.9" says "$LAN" 203.0.113.9
check "... and from the internet router, seen as 198.51.100.1" says "$INET" 198.51.100.1
bg "$INET" $PKT serve-peer 198.51.100.1 7000 2 >"$WORK/serve2.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve2.out" 2>/dev/null && break; sleep 0.1; done
check "from 203.0.113.5, a server on the internet sees 203.0.113.5 (through the tunnel)" \
	says "$HOME_NS" 203.0.113.5 198.51.100.1 203.0.113.5
check "home's other traffic is seen as the router's public address 192.0.2.42" \
	says "$HOME_NS" 192.0.2.42 198.51.100.1
check "on the internet the outer packets are UDP between colo:5555 and the router's public 192.0.2.42:5555" \
	outer_on_internet '198.51.100.2.5555 > 192.0.2.42.5555: UDP|192.0.2.42.5555 > 198.51.100.2.5555: UDP'
check "the router forwarded no protocol-4 packet" bash -c "
	ip netns exec $NAT nft list chain ip fou-nat forward | grep -q 'counter packets 0 '"
nsx "$HOME_NS" "$IPIPCTL" down Moe
nsx "$COLO" "$IPIPCTL" down Moe

# 2. a router that rewrites source ports: a fixed RemotePort misses, learn follows
# (home on another port: the router's mapping of case 1 may still be there)
router 20000-20099
conf home.conf home 5556; conf colo.conf colo 5556 'SourcePort = 5555\n'
start "$COLO" "$WORK/colo.conf" Moe || notok "ipipd start on colo (RemotePort = 5555)"
start "$HOME_NS" "$WORK/home.conf" Moe || notok "ipipd start on home"
sleep 3
check "port-rewriting router: with RemotePort = 5555 colo's packets miss home's mapping (so the next checks mean something)" \
	bash -c "! ip netns exec $LAN ping -c 2 -i 0.2 -W 1 203.0.113.5"
nsx "$COLO" "$IPIPCTL" down Moe
conf colo.conf colo learn	# SourcePort = Port by default with learn
# (the eBPF fast path does not follow ports: with ebpf, auto, which takes userspace)
sed -i 's/^Datapath = ebpf$/Datapath = auto/' "$WORK/colo.conf"
start "$COLO" "$WORK/colo.conf" Moe || notok "ipipd start on colo (RemotePort = learn)"
sleep 3
check "with RemotePort = learn the LAN host reaches home again" nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
serve 1
check "... an inbound TCP connection from colo's LAN reaches home" says "$LAN" 203.0.113.9
check "colo's ipipctl show names the port learned, one of the router's" bash -c "
	ip netns exec $COLO $IPIPCTL show Moe | tee /dev/stderr |
	grep -qE 'encapsulation fou: port 5555, remote port learn 200[0-9][0-9],'"
check "on the internet colo sends to that port" \
	outer_on_internet '198.51.100.2.5555 > 192.0.2.42.200[0-9][0-9]: UDP'
# 3. home's public address changes (the router gets another from its ISP):
#    with RemotePort = learn, colo's Remote follows home's packets there
ip -n "$NAT" addr del 192.0.2.42/25 dev wan
ip -n "$NAT" addr add 192.0.2.43/25 dev wan
ip -n "$NAT" route add default via 192.0.2.1 2>/dev/null	# gone with the address
sleep 4	# home's next keepalive comes from the new address
check "the router's address changed: colo's Remote follows home's packets to 192.0.2.43" bash -c "
	ip netns exec $COLO $IPIPCTL show Moe | tee /dev/stderr | grep -q 'remote 192.0.2.43 '"
check "... and the LAN host reaches home at its new address" nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
check "on the internet colo sends to the new address" \
	outer_on_internet '198.51.100.2.5555 > 192.0.2.43.200[0-9][0-9]: UDP'
nsx "$HOME_NS" "$IPIPCTL" down Moe
nsx "$COLO" "$IPIPCTL" down Moe
finish

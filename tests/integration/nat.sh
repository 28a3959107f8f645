#!/bin/bash
# The HOWTO's NAT case: home behind a masquerading router that sends
# protocol 4 arriving at its public address to home (examples/nat/: both
# ends' files and the router's two nft rules).  The seed scenario's checks
# through the NAT, and inbound connections from colo's LAN.  First a router
# without the dnat rule: home's keepalive keeps its mapping open.
#
#   lan 203.0.113.9 -- colo 203.0.113.1 | 198.51.100.2 -- inet 198.51.100.1 | 192.0.2.1/25
#     -- router wan 192.0.2.42/25 | 192.0.2.129/25 -- home 192.0.2.130/25
set -u
. "$(dirname "$0")/../lib.sh"

nat_net n || exit 1
nsx "$COLO" iptables -P FORWARD DROP
for end in home colo; do
	sed "s/^TTL = 64/TTL = 64\nDatapath = $DATAPATH/" "$TOP/examples/nat/$end-Moe.conf" >"$WORK/$end.conf"
done

# First a router without the dnat rule (one you cannot change): only home's own
# traffic opens a mapping.  With a short generic connection-tracking timeout (5 s here,
# 600 s by default), home's keepalive (every 2 s without traffic) keeps it open.
nsx "$NAT" nft -f - <<'EOF'
table ip ipip-nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
EOF
nsx "$NAT" sysctl -qw net.netfilter.nf_conntrack_generic_timeout=5
sed -i 's/^Keepalive = 25/Keepalive = 2/' "$WORK/home.conf"
start "$COLO" "$WORK/colo.conf" Moe || notok "ipipd start on colo (no dnat)"
start "$HOME_NS" "$WORK/home.conf" Moe || notok "ipipd start on home (no dnat, Keepalive = 2)"
sleep 9	# longer than the 5 s timeout: only the keepalive keeps the mapping
check "without the dnat rule, after 9 s of no traffic but home's keepalives, the LAN still reaches home" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
check "home's keepalives were sent and answered (alive)" bash -c "
	[ \$(ip netns exec $HOME_NS $IPIPCTL show --json Moe | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t[\"keepalives_sent\"] > 0 and t[\"alive\"] is True)') = True ]"
nsx "$HOME_NS" "$IPIPCTL" down Moe
sed -i 's/^Keepalive = 2/Keepalive = off/' "$WORK/home.conf"
start "$HOME_NS" "$WORK/home.conf" Moe || notok "ipipd start on home (no dnat, no keepalive)"
nsx "$HOME_NS" ping -c 1 -W 2 -I 203.0.113.5 203.0.113.1 >/dev/null	# opens the mapping once
sleep 9
check "... and without a keepalive the mapping expires: the LAN no longer reaches home (so the check above means something)" \
	bash -c "! ip netns exec $LAN ping -c 2 -i 0.2 -W 1 203.0.113.5"
nsx "$HOME_NS" "$IPIPCTL" down Moe
nsx "$COLO" "$IPIPCTL" down Moe
sed -i 's/^Keepalive = off/Keepalive = 25/' "$WORK/home.conf"
# The router as examples/nat/router.nft has it: the dnat rule too (once the
# router's connections from the last check, made without it, have expired).
sleep 6
nsx "$NAT" nft flush ruleset
nsx "$NAT" sysctl -qw net.netfilter.nf_conntrack_generic_timeout=600
check "the router takes examples/nat/router.nft (masquerade, dnat of protocol 4)" \
	nsx "$NAT" nft -f "$TOP/examples/nat/router.nft"
start "$COLO" "$WORK/colo.conf" Moe || notok "ipipd start on colo"
start "$HOME_NS" "$WORK/home.conf" Moe || notok "ipipd start on home"
check "the LAN host pings home's colo address through the NAT (an inbound first packet: the dnat rule)" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
bg "$HOME_NS" $PKT serve-peer 203.0.113.5 7000 3 >"$WORK/serve.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
check "an inbound TCP connection from colo's LAN reaches home, which sees 203.0.113.9" says "$LAN" 203.0.113.9
check "... and from the internet router, seen as 198.51.100.1" says "$INET" 198.51.100.1
bg "$INET" $PKT serve-peer 198.51.100.1 7000 2 >"$WORK/serve2.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve2.out" 2>/dev/null && break; sleep 0.1; done
check "from 203.0.113.5, a server on the internet sees 203.0.113.5 (through the tunnel)" \
	says "$HOME_NS" 203.0.113.5 198.51.100.1 203.0.113.5
check "home's other traffic is seen as the router's public address 192.0.2.42" \
	says "$HOME_NS" 192.0.2.42 198.51.100.1
outer_from_router() {
	nsx "$INET" timeout 5 tcpdump -n -c 2 -i eth-nat 'ip proto 4' >"$WORK/outer.txt" 2>/dev/null &
	local t=$!
	sleep 0.5
	nsx "$LAN" ping -c 3 -i 0.2 -W 1 203.0.113.5 >/dev/null
	wait "$t"
	cat "$WORK/outer.txt"
	grep -q '192.0.2.42 > 198.51.100.2: .*ICMP echo reply' "$WORK/outer.txt" ||
		grep -q '198.51.100.2 > 192.0.2.42: .*ICMP echo request' "$WORK/outer.txt"
}
check "on the internet the outer packets are between colo and the router's public address" outer_from_router
nsx "$HOME_NS" "$IPIPCTL" down Moe
nsx "$COLO" "$IPIPCTL" down Moe

finish

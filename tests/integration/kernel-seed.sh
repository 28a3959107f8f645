#!/bin/bash
# The HOWTO's scenario with a stock Linux kernel at one end, configured with
# exactly the HOWTO's commands, and ipipd at the other: first the kernel as
# home and ipipd as colo, then the other way round.
#
#   lan   203.0.113.9/24 (default via .1)
#    |
#   colo  eth-lan 203.0.113.1/24, eth-wan 198.51.100.2/24: ipipd, examples/colo/Moe.conf
#    |
#   inet  198.51.100.1/24 | tap 192.0.2.1/24, forwarding
#    |
#   home  QEMU guest (Debian's kernel with ipip), eth0 192.0.2.42/24:
#         ip tunnel add Moe mode ipip remote 198.51.100.2 local 192.0.2.42; ...
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"

ns_new COLO kcolo && ns_new INET kinet && ns_new LAN klan || exit 1
veth_pair "$LAN" eth0 203.0.113.9/24 "$COLO" eth-lan 203.0.113.1/24 &&
veth_pair "$COLO" eth-wan 198.51.100.2/24 "$INET" eth-colo 198.51.100.1/24 || exit 1
ip -n "$LAN" route add default via 203.0.113.1
ip -n "$COLO" route add default via 198.51.100.1
ip -n "$INET" route add 203.0.113.0/24 via 198.51.100.2
nsx "$INET" sysctl -qw net.ipv4.ip_forward=1
nsx "$COLO" iptables -P FORWARD DROP
ip -n "$INET" tuntap add dev kstap mode tap || exit 1
ip -n "$INET" addr add 192.0.2.1/24 dev kstap
BEFORE_COLO=$(dump "$COLO")

t=$SECONDS
if ! vm_start "$INET" kstap 192.0.2.42/24 192.0.2.1; then
	notok "stock Debian kernel boots as the home end"
	exit 1
fi
ok "stock Debian kernel boots as the home end ($((SECONDS - t)) s)"
check "home (kernel) configured with the HOWTO's commands" vm_run '
ip tunnel add Moe mode ipip remote 198.51.100.2 local 192.0.2.42 &&
ip address add 203.0.113.5/32 peer 203.0.113.1 dev Moe &&
ip link set Moe up &&
ip route add default via 203.0.113.1 table 42 &&
ip rule add from 203.0.113.5 table 42'
start "$COLO" "$TOP/examples/colo/Moe.conf" Moe || notok "ipipd starts on colo"

check "lan pings 203.0.113.5: colo's proxy ARP and ipipd, home's kernel ipip" \
	nsx "$LAN" ping -c 3 -i 0.3 -W 2 203.0.113.5
check "the internet router pings 203.0.113.5" nsx "$INET" ping -c 3 -i 0.3 -W 2 203.0.113.5
rx0=$(json "$COLO" Moe rx_packets)
check "home's traffic from 203.0.113.5 reaches the internet" \
	vm_run 'ping -c 3 -W 2 -I 203.0.113.5 198.51.100.1'
rx1=$(json "$COLO" Moe rx_packets)
vm_run 'ping -c 3 -W 2 198.51.100.1' >/dev/null; ordinary=$?
rx2=$(json "$COLO" Moe rx_packets)
check "... through the tunnel ($((rx1 - rx0)) packets); ordinary traffic gets there (ping status $ordinary), not through it ($((rx2 - rx1)))" \
	test "$((rx1 - rx0))" -ge 3 -a "$ordinary" -eq 0 -a "$((rx2 - rx1))" -eq 0
nsx "$INET" traceroute -n -q 1 -w 2 -m 5 203.0.113.5 >"$WORK/tr" 2>&1
check "traceroute from the internet: colo, then home ($(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr"))" \
	test "$(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr")" = "198.51.100.2 203.0.113.5 "
check "home's kernel tunnel counts no errors" vm_run '
for c in rx_errors tx_errors rx_dropped tx_dropped; do
	[ "$(cat /sys/class/net/Moe/statistics/$c)" = 0 ] || { echo "$c"; exit 1; }
done'
check "colo's ipipd dropped nothing" bash -c \
	"ip netns exec $COLO $IPIPCTL show --json Moe | $PY -c 'import json,sys; d=json.load(sys.stdin)[0][\"drops\"]; bad={k:v for k,v in d.items() if v and k!=\"tx_not_ipv4\"}; assert not bad, bad'"
nsx "$COLO" "$IPIPCTL" down Moe
check "colo is exactly as before after ipipctl down" diff <(echo "$BEFORE_COLO") <(dump "$COLO")
vm_stop

# The other way round:
#
#   lan   203.0.113.9/24 on a tap: the guest's eth1
#    |
#   colo  QEMU guest: eth1 203.0.113.1/24, eth0 198.51.100.2/24; the HOWTO's commands
#    |
#   inet  tap 198.51.100.1/24 | 192.0.2.1/24, forwarding
#    |
#   home  eth0 192.0.2.42/24: ipipd, examples/home/Moe.conf
ns_new HOME_NS khome && ns_new INET2 kinet2 && ns_new LAN2 klan2 || exit 1
veth_pair "$INET2" eth-home 192.0.2.1/24 "$HOME_NS" eth0 192.0.2.42/24 || exit 1
ip -n "$HOME_NS" route add default via 192.0.2.1
nsx "$INET2" sysctl -qw net.ipv4.ip_forward=1
ip -n "$INET2" tuntap add dev kswan mode tap && ip -n "$INET2" tuntap add dev kslan mode tap || exit 1
ip -n "$INET2" addr add 198.51.100.1/24 dev kswan
BEFORE_HOME=$(dump "$HOME_NS")

t=$SECONDS
if ! KP_TAP2=kslan vm_start "$INET2" kswan 198.51.100.2/24 198.51.100.1; then
	notok "stock Debian kernel boots as the colo end"
	finish
	exit 1
fi
ok "stock Debian kernel boots as the colo end ($((SECONDS - t)) s)"
ip -n "$INET2" route add 203.0.113.0/24 via 198.51.100.2
# The LAN segment: the guest's second NIC, its tap moved into the LAN namespace.
ip -n "$INET2" link set kslan netns "$LAN2" &&
	ip -n "$LAN2" addr add 203.0.113.9/24 dev kslan && ip -n "$LAN2" link set kslan up &&
	ip -n "$LAN2" route add default via 203.0.113.1
check "colo (kernel) configured with the HOWTO's commands" vm_run '
ip addr add 203.0.113.1/24 dev eth1 && ip link set eth1 up &&
ip tunnel add Moe mode ipip remote 192.0.2.42 local 198.51.100.2 &&
ip address add 203.0.113.1/32 peer 203.0.113.5 dev Moe &&
ip link set Moe up &&
echo 1 > /proc/sys/net/ipv4/conf/eth1/proxy_arp &&
echo 1 > /proc/sys/net/ipv4/ip_forward'
start "$HOME_NS" "$TOP/examples/home/Moe.conf" Moe || notok "ipipd starts on home"
check "lan pings 203.0.113.5: the kernel's proxy ARP and ipip, then ipipd" \
	nsx "$LAN2" ping -c 3 -i 0.3 -W 2 203.0.113.5
bg "$HOME_NS" $PKT serve-peer 203.0.113.5 7000 2 >"$WORK/serve.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
check "a service on home bound to 203.0.113.5 sees the LAN client as 203.0.113.9" \
	test "$(nsx "$LAN2" $PKT ask-peer 203.0.113.5 7000)" = 203.0.113.9
check "... and the internet router as 198.51.100.1" \
	test "$(nsx "$INET2" $PKT ask-peer 203.0.113.5 7000)" = 198.51.100.1
bg "$INET2" $PKT serve-peer 198.51.100.1 7001 2 >"$WORK/serve2.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve2.out" 2>/dev/null && break; sleep 0.1; done
check "home's traffic from 203.0.113.5 goes through the tunnel (seen as 203.0.113.5)" \
	test "$(nsx "$HOME_NS" $PKT ask-peer 198.51.100.1 7001 203.0.113.5)" = 203.0.113.5
check "ordinary traffic keeps home's default route (seen as 192.0.2.42)" \
	test "$(nsx "$HOME_NS" $PKT ask-peer 198.51.100.1 7001)" = 192.0.2.42
# The kernel's default outer TTL is the inner one (ttl inherit): the probe that
# should reach home leaves colo with TTL 1 and dies at the router in between.
nsx "$INET2" traceroute -n -q 1 -w 2 -m 5 203.0.113.5 >"$WORK/tr2" 2>&1
check "traceroute, kernel colo with ttl inherit: colo, a lost hop, home ($(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr2"))" \
	test "$(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr2")" = "198.51.100.2 * 203.0.113.5 "
vm_run 'ip tunnel change Moe ttl 64' >/dev/null
nsx "$INET2" traceroute -n -q 1 -w 2 -m 5 203.0.113.5 >"$WORK/tr3" 2>&1
check "traceroute, kernel colo with ttl 64 (as ipipd's example): colo, then home ($(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr3"))" \
	test "$(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr3")" = "198.51.100.2 203.0.113.5 "
check "colo's kernel tunnel counts no errors" vm_run '
for c in rx_errors tx_errors rx_dropped tx_dropped; do
	[ "$(cat /sys/class/net/Moe/statistics/$c)" = 0 ] || { echo "$c"; exit 1; }
done'
nsx "$HOME_NS" "$IPIPCTL" down Moe
check "home is exactly as before after ipipctl down" diff <(echo "$BEFORE_HOME") <(dump "$HOME_NS")
vm_stop
finish

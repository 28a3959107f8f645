#!/bin/bash
# [Route]: the HOWTO's site-to-site case.  Two LANs, one behind each end,
# reach each other through the tunnel, and nothing else does: a third LAN
# behind A that B does not route stays out of reach.  A reload changes the
# routes by difference, without dropping the tunnel; stop removes them.
#
#   LA 192.0.2.10/26 ---- A 192.0.2.1/26, 192.0.2.65/26 ---- LA2 192.0.2.70/26
#                         A va 198.51.100.1/24  (tunnel ra: 203.0.113.1 peer .2)
#                           |
#                         B vb 198.51.100.2/24  (tunnel rb: 203.0.113.2 peer .1)
#   LB 192.0.2.130/26 --- B 192.0.2.129/26
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A roA && ns_new B roB && ns_new LA roLA && ns_new LA2 roLA2 && ns_new LB roLB || exit 1
veth_pair "$A" va 198.51.100.1/24 "$B" vb 198.51.100.2/24 &&
veth_pair "$LA" eth0 192.0.2.10/26 "$A" lan 192.0.2.1/26 &&
veth_pair "$LA2" eth0 192.0.2.70/26 "$A" lan2 192.0.2.65/26 &&
veth_pair "$LB" eth0 192.0.2.130/26 "$B" lan 192.0.2.129/26 || exit 1
ip -n "$LA" route add default via 192.0.2.1
ip -n "$LA2" route add default via 192.0.2.65
ip -n "$LB" route add default via 192.0.2.129

conf() { # conf FILE NAME LOCAL REMOTE ADDR PEER ROUTE-SECTIONS
	printf '[Tunnel]\nName = %s\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n[Host]\nIPv4Forwarding = yes\n%b' \
		"$2" "$3" "$4" "$DATAPATH" "$5" "$6" "$7" >"$WORK/$1"
}
conf ra.conf ra 198.51.100.1 198.51.100.2 203.0.113.1 203.0.113.2 \
	'[Route]\nDestination = 192.0.2.128/26\n[Route]\nDestination = 192.0.2.128/25\nTable = 4243\nMetric = 7\n'
conf rb.conf rb 198.51.100.2 198.51.100.1 203.0.113.2 203.0.113.1 \
	'[Route]\nDestination = 192.0.2.0/26\n'
BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")

check "ipipd -n accepts [Route] sections" "$IPIPD" -n "$WORK/ra.conf"
check "ipipctl explain shows the routes as ip route commands" bash -c "
	out=\$(ip netns exec $A $IPIPCTL explain $WORK/ra.conf)
	grep -qx 'ip route add 192.0.2.128/26 dev ra' <<<\"\$out\" &&
	grep -qx 'ip route add 192.0.2.128/25 dev ra table 4243 metric 7' <<<\"\$out\""
start "$A" "$WORK/ra.conf" || notok "ipipd start A"
PA=$STARTED
start "$B" "$WORK/rb.conf" || notok "ipipd start B"
PB=$STARTED
check "A routes 192.0.2.128/26 into the tunnel (main table)" \
	bash -c "ip -n $A route show 192.0.2.128/26 | grep -q 'dev ra proto static scope link'"
check "... and 192.0.2.128/25 in table 4243 with metric 7" \
	bash -c "ip -n $A route show table 4243 | grep -q '^192.0.2.128/25 dev ra proto static scope link metric 7 *$'"
check "B routes 192.0.2.0/26 into the tunnel" bash -c "ip -n $B route show 192.0.2.0/26 | grep -q 'dev rb'"
check "ipipctl show --json lists the routes" \
	test "$(json "$A" ra routes)" = "192.0.2.128/26, 192.0.2.128/25 table 4243 metric 7"
check "LA reaches LB through the tunnel" nsx "$LA" ping -c 3 -i 0.2 -W 2 192.0.2.130
check "LB reaches LA through the tunnel" nsx "$LB" ping -c 3 -i 0.2 -W 2 192.0.2.10
dd if=/dev/urandom of="$WORK/blob" bs=1M count=4 status=none
check "4 MiB TCP LA -> LB arrives intact" transfer "$LA" "$LB" 192.0.2.130 7001 "$WORK/blob"
check "LA2, which B does not route, does not reach LB" bash -c "! ip netns exec $LA2 ping -c 2 -i 0.2 -W 1 192.0.2.130"
check "... nor LB it" bash -c "! ip netns exec $LB ping -c 2 -i 0.2 -W 1 192.0.2.70"

# A reload moves B's route to LA2's prefix: by difference, the tunnel stays.
rx0=$(json "$B" rb rx_packets)
conf rb.conf rb 198.51.100.2 198.51.100.1 203.0.113.2 203.0.113.1 \
	'[Route]\nDestination = 192.0.2.64/26\nMetric = 20\n'
check "ipipctl reload: the routes changed" bash -c "
	ip netns exec $B $IPIPCTL reload rb | tee /dev/stderr | grep -q 'changed: Route'"
check "B routes 192.0.2.64/26 (metric 20) and no longer 192.0.2.0/26" bash -c "
	ip -n $B route show 192.0.2.64/26 | grep -q 'dev rb .*metric 20' &&
	[ -z \"\$(ip -n $B route show 192.0.2.0/26)\" ]"
check "now LA2 reaches LB, LA no longer does" bash -c "
	ip netns exec $LA2 ping -c 3 -i 0.2 -W 2 192.0.2.130 && ! ip netns exec $LA ping -c 2 -i 0.2 -W 1 192.0.2.130"
check "the same daemon, its counters going on (rx $rx0 -> $(json "$B" rb rx_packets))" bash -c "
	kill -0 $PB && [ $(json "$B" rb rx_packets) -gt $rx0 ]"
# A route that cannot be added (one of that prefix exists in the table) refuses nothing else.
ip -n "$B" route add 192.0.2.32/27 via 198.51.100.1
conf rb.conf rb 198.51.100.2 198.51.100.1 203.0.113.2 203.0.113.1 \
	'[Route]\nDestination = 192.0.2.64/26\nMetric = 20\n[Route]\nDestination = 192.0.2.32/27\n'
check "a reload whose new route exists already: exit 1, said with the line, the rest kept" bash -c "
	! ip netns exec $B $IPIPCTL reload rb 2>$WORK/r.err; cat $WORK/r.err;
	grep -q 'rb.conf:14: Route: route 192.0.2.32/27 dev rb table 254: that route exists already' $WORK/ipipd.log $WORK/r.err &&
	ip -n $B route show 192.0.2.64/26 | grep -q 'dev rb'"
ip -n "$B" route del 192.0.2.32/27 via 198.51.100.1

check "ipipctl down A" nsx "$A" "$IPIPCTL" down ra
check "ipipctl down B" nsx "$B" "$IPIPCTL" down rb
wait_gone "$PA"; wait_gone "$PB"
check "A as before: its routes are gone (table 4243 too)" diff <(echo "$BEFORE_A") <(dump "$A")
check "B as before" diff <(echo "$BEFORE_B") <(dump "$B")
check "table 4243 is empty" test -z "$(ip -n "$A" route show table 4243)"
finish

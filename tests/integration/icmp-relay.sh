#!/bin/bash
# RFC 2003 section 4: ICMP errors from within the tunnel, relayed to the
# sender of the inner packet.  The outer path crosses a router R that is made
# to send errors about the outer packets.
#
#   A (ipr-a)               R                          B (ipr-b)
#   203.0.113.1/32 peer .2                             203.0.113.2/32 peer .1
#   va 192.0.2.1/24 --- ra 192.0.2.254/24
#                       rb 198.51.100.254/24 --- vb 198.51.100.2/24
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A ipA && ns_new R ipR && ns_new B ipB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$R" ra 192.0.2.254/24 || exit 1
veth_pair "$R" rb 198.51.100.254/24 "$B" vb 198.51.100.2/24 || exit 1
ip -n "$A" route add default via 192.0.2.254
ip -n "$B" route add default via 198.51.100.254
nsx "$R" sysctl -qw net.ipv4.ip_forward=1
# R answers every outer packet it refuses: no ICMP rate limit of its own.
nsx "$R" sysctl -qw net.ipv4.icmp_ratelimit=0
nsx "$R" sysctl -qw net.ipv4.icmp_msgs_per_sec=100000 2>/dev/null
nsx "$R" sysctl -qw net.ipv4.icmp_msgs_burst=100000 2>/dev/null

conf() { # conf FILE LOCAL REMOTE ADDR PEER
	local f=$WORK/$1
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = '"$DATAPATH"'\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$4" "$5" >"$f"
	echo "$f"
}
CA=$(conf ipra.conf 192.0.2.1 198.51.100.2 203.0.113.1 203.0.113.2)
CB=$(conf iprb.conf 198.51.100.2 192.0.2.1 203.0.113.2 203.0.113.1)
start "$A" "$CA" || notok "ipipd start A"
start "$B" "$CB" || notok "ipipd start B"

check "ping A -> B through the tunnel across R" nsx "$A" ping -c 3 -i 0.2 -W 2 203.0.113.2

ctr() { json "$A" ipra "$1"; }
# R's nft rules: rules R CHAIN-BODY (replaces what was there)
rules() {
	nsx "$R" nft delete table ip iprelay 2>/dev/null
	[ -n "$1" ] || return 0
	printf 'table ip iprelay {\n chain before {\n  type filter hook prerouting priority -150;\n  %s\n }\n chain forwarded {\n  type filter hook forward priority 0;\n  %s\n }\n}\n' \
		"${2:-}" "$1" | nsx "$R" nft -f -
}
# pingerr: one ping A -> B's tunnel address; its output (it fails)
pingerr() { nsx "$A" ping -c 1 -W 2 203.0.113.2 2>&1 || true; }

# (a) Datagram too big: R's link towards B has MTU 1400.
ip -n "$R" link set rb mtu 1400
ip -n "$B" link set vb mtu 1400
r0=$(ctr icmp_relayed)
OUT=$(nsx "$A" ping -c 1 -W 2 -M do -s 1452 203.0.113.2 2>&1)
echo "$OUT" | sed 's/^/#   /'
check "frag-needed from R is relayed from B's tunnel address with MTU 1400 - 20" \
	grep -q 'From 203.0.113.2 .*mtu = 1380' <<<"$OUT"
check "relayed counter counts it (icmp_relayed $r0 -> $(ctr icmp_relayed))" \
	test "$(ctr icmp_relayed)" -gt "$r0"
check "path MTU soft state is 1380" test "$(ctr path_mtu)" = 1380
nsx "$A" ip route flush cache
head -c $((4 << 20)) /dev/urandom >"$WORK/blob"
bg "$B" $PKT sink 203.0.113.2 5001 >"$WORK/sink.out"
SINK=$BG
for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
SENT=$(nsx "$A" timeout 60 $PKT send 203.0.113.2 5001 "$WORK/blob")
wait "$SINK"
GOT=$(tail -n 1 "$WORK/sink.out")
check "4 MiB TCP transfer across the 1400-byte hop arrives intact" test -n "$SENT" -a "$SENT" = "$GOT"
ip -n "$R" link set rb mtu 1500
ip -n "$B" link set vb mtu 1500

# RFC 2003 5 soft state starts afresh with a new daemon on A.
restart_a() {
	nsx "$A" "$IPIPCTL" down ipra; wait_gone "$PA"
	start "$A" "$CA" || notok "ipipd restart A"
	PA=$STARTED
}
PA=$(cat "$(rundir "$A")/ipra.pid")
restart_a

# Port unreachable is not relayed (protocol 4 has no ports).
rules "ip protocol 4 ip daddr 198.51.100.2 reject with icmp type port-unreachable"
r0=$(ctr icmp_relayed); e0=$(ctr icmp_errors)
OUT=$(pingerr)
echo "$OUT" | sed 's/^/#   /'
check "port-unreachable from R is not relayed (the ping ran and saw no error)" \
	bash -c "grep -q '^1 packets transmitted' <<<'$OUT' && ! grep -q Unreachable <<<'$OUT'"
check "port-unreachable from R: icmp_errors +1, icmp_relayed +0" \
	test "$(($(ctr icmp_errors) - e0)) $(($(ctr icmp_relayed) - r0))" = "1 0"
check "RFC 2003 5: port-unreachable does not mark the tunnel exit unreachable" \
	test "$(ctr reachable)" = yes

# (b) Unreachables from R about the outer packets.
unreach() { # unreach REJECT-TYPE EXPECTED-PING-TEXT
	rules "ip protocol 4 ip daddr 198.51.100.2 reject with icmp type $1"
	local r0 e0 out
	r0=$(ctr icmp_relayed); e0=$(ctr icmp_errors)
	out=$(pingerr)
	sleep 0.2	# the relayed error may come after the soft-state one
	echo "$out" | sed 's/^/#   /'
	check "$1 from R: the inner sender sees '$2' from 203.0.113.2" \
		grep -q "From 203.0.113.2 .*$2" <<<"$out"
	check "$1 from R: icmp_errors +1, icmp_relayed +1" \
		test "$(($(ctr icmp_errors) - e0)) $(($(ctr icmp_relayed) - r0))" = "1 1"
	local st
	st="$(ctr reachable) $(ctr unreachable_age)"
	echo "# reachable, unreachable_age: $st"
	check "RFC 2003 5: $1 from R marks the tunnel exit unreachable (reachable no, last error 0-5 s ago)" \
		test "${st% *} $((${st#* } <= 5))" = "no 1"
}
unreach net-unreachable "Destination Net Unreachable"
unreach host-unreachable "Destination Host Unreachable"
# protocol unreachable: code 1, never 2 (which would blame the inner protocol)
unreach prot-unreachable "Destination Host Unreachable"

# RFC 2003 5: while the exit is marked unreachable, a packet for the tunnel
# is still sent.  Its sender would get host unreachable from the soft state
# only while an error is owed: one error sent for each error received (as
# the kernel's ipip turns one error into at most one link failure), and the
# error that marked the exit was relayed already.  R now drops the outer
# packets silently (and counts them), so no new ICMP error comes.
rules "ip protocol 4 ip daddr 198.51.100.2 counter drop"
s0=$(ctr soft_unreach_errors); t0=$(ctr tx_packets); e0=$(ctr icmp_errors)
check "RFC 2003 5: ... the exit is still marked unreachable, no error owed (icmp_errors_owed 0)" \
	test "$(ctr reachable) $(ctr icmp_errors_owed)" = "no 0"
OUT=$(pingerr)
echo "$OUT" | sed 's/^/#   /'
check "RFC 2003 5: exit unreachable, nothing owed: the sender gets no second error for the one error received" \
	test "$(grep -c 'Unreachable' <<<"$OUT") $(($(ctr icmp_errors) - e0)) $(($(ctr soft_unreach_errors) - s0))" = "0 0 0"
check "RFC 2003 5: ... and the packet is still encapsulated (tx_packets +1, R dropped 1)" \
	test "$(($(ctr tx_packets) - t0)) $(nsx "$R" nft list table ip iprelay | grep -o 'packets [0-9]*' | head -1)" = "1 packets 1"
rules ""
# (the fast path's packets are seen at the owner's next tick, within 0.5 s)
reached() {
	nsx "$B" ping -c 1 -W 2 203.0.113.1 >/dev/null || return 1
	for _ in $(seq 20); do [ "$(ctr reachable)" = yes ] && return 0; sleep 0.1; done
	return 1
}
check "RFC 2003 5: a packet decapsulated from Remote (ping B -> A) marks the exit reachable again (within 2 s)" reached
s0=$(ctr soft_unreach_errors)
check "RFC 2003 5: reachable again: pings A -> B get no soft-state error" \
	bash -c "ip netns exec $A ping -c 2 -i 0.2 -W 2 203.0.113.2 >$WORK/ping.out && ! grep -q Unreachable $WORK/ping.out"
check "RFC 2003 5: ... soft_unreach_errors unchanged" test "$(ctr soft_unreach_errors)" = "$s0"

# Time exceeded: R sets the outer TTL to 1 before forwarding.  The ping goes
# with TTL 30, inherited by the outer header (TTL = inherit).
restart_a
rules "accept" "ip protocol 4 ip daddr 198.51.100.2 ip ttl set 1"
r0=$(ctr icmp_relayed)
OUT=$(nsx "$A" ping -c 1 -t 30 -W 2 203.0.113.2 2>&1)
echo "$OUT" | sed 's/^/#   /'
check "time exceeded on the outer path reaches the sender as host unreachable" \
	grep -q "From 203.0.113.2 .*Destination Host Unreachable" <<<"$OUT"
check "time exceeded: icmp_relayed +1" test "$(($(ctr icmp_relayed) - r0))" = 1
check "RFC 2003 5: time exceeded teaches the path TTL: more than the outer 30 (path_ttl 31)" \
	test "$(ctr path_ttl)" = 31
check "RFC 2003 5: ... the exit stays reachable (time exceeded is not unreachable)" \
	test "$(ctr reachable)" = yes
rules ""
s0=$(ctr soft_ttl_errors)
OUT=$(nsx "$A" ping -c 3 -i 0.3 -t 30 -W 2 203.0.113.2 2>&1)
echo "$OUT" | sed 's/^/#   /'
check "RFC 2003 5: outer TTL 30 below the path TTL, nothing owed (the one error was relayed): no error to the sender, and the packets still go (3 replies)" \
	bash -c "! grep -q 'exceeded' <<<\"\$1\" && grep -q ' 3 received' <<<\"\$1\"" _ "$OUT"
check "RFC 2003 5: ... soft_ttl_errors unchanged" test "$(ctr soft_ttl_errors)" = "$s0"
check "ipipctl show names the soft state" \
	bash -c "ip netns exec $A $IPIPCTL show ipra | grep -q 'soft state: path TTL 31, exit reachable yes'"
# Bounded: a quote of TTL 64 (the default) teaches at most net.ipv4.ip_default_ttl (64),
# so the host's own packets never violate what an error taught.
rules "accept" "ip protocol 4 ip daddr 198.51.100.2 ip ttl set 1"
pingerr >/dev/null
rules ""
check "RFC 2003 5: what TTL = inherit can learn is bounded by net.ipv4.ip_default_ttl (path_ttl 64 after a quote of 64)" \
	test "$(ctr path_ttl)" = 64
check "RFC 2003 5: ... and a ping with TTL 64 gets no soft-state error and a reply" \
	bash -c "ip netns exec $A ping -c 2 -i 0.2 -W 2 203.0.113.2 >$WORK/ping.out && ! grep -q exceeded $WORK/ping.out"

restart_a
# Rate limit: 200 rejected pings 2 ms apart.  At most the burst of 20 and
# 10/s of the time they took are relayed; the rest are counted as limited.
# One error received, at most one sent: relayed + soft-state errors never
# exceed the errors received.
rules "ip protocol 4 ip daddr 198.51.100.2 reject with icmp type host-unreachable"
sleep 2.1	# the bucket fills up again
r0=$(ctr icmp_relayed); l0=$(ctr icmp_relay_limited); e0=$(ctr icmp_errors)
s0=$(ctr soft_unreach_errors); sl0=$(ctr soft_errors_limited)
T0=$(date +%s%N)
nsx "$A" ping -q -c 200 -i 0.002 -W 1 203.0.113.2 >/dev/null 2>&1
sleep 0.3
MAX=$((20 + ($(date +%s%N) - T0) / 100000000 + 1))
R1=$(($(ctr icmp_relayed) - r0)); L1=$(($(ctr icmp_relay_limited) - l0)); E1=$(($(ctr icmp_errors) - e0))
S1=$(($(ctr soft_unreach_errors) - s0)); SL1=$(($(ctr soft_errors_limited) - sl0))
echo "# errors $E1, relayed $R1, soft-state errors $S1 (together at most $MAX), rate-limited $L1 + $SL1"
check "rate limit: 20 <= relayed + soft-state errors <= $MAX, every error relayed or counted as limited" \
	test $((R1 + S1)) -ge 20 -a $((R1 + S1)) -le "$MAX" -a "$L1" -gt 0 -a $((R1 + L1)) -eq "$E1"
check "one error sent for each error received at most (relayed $R1 + soft-state $S1 <= received $E1)" \
	test $((R1 + S1)) -le "$E1" -a "$E1" -ge 150
rules ""

# RFC 2003 5: the mark expires by itself 30 s after the last error, without
# a packet from Remote in between.
restart_a
rules "ip protocol 4 ip daddr 198.51.100.2 reject with icmp type host-unreachable"
pingerr >/dev/null
rules ""
check "RFC 2003 5: exit marked unreachable (host-unreachable from R)" test "$(ctr reachable)" = no
sleep 31
check "RFC 2003 5: ... 31 s later, with no packet from Remote, reachable again (unreachable_age >= 30)" \
	test "$(ctr reachable) $(($(ctr unreachable_age) >= 30))" = "yes 1"
s0=$(ctr soft_unreach_errors)
check "RFC 2003 5: ... and packets for the tunnel get no soft-state error any more" \
	bash -c "ip netns exec $A ping -c 2 -i 0.2 -W 2 203.0.113.2 >$WORK/ping.out && ! grep -q Unreachable $WORK/ping.out"
check "RFC 2003 5: ... soft_unreach_errors unchanged" test "$(ctr soft_unreach_errors)" = "$s0"

check "tunnel still works after the errors" nsx "$A" ping -c 2 -i 0.2 -W 2 203.0.113.2
finish

#!/bin/bash
# Forged ICMP errors about the tunnel's outer packets, from an attacker off
# the path (X: knows Local and Remote, not the outer IDs) and on it (R: sees
# every outer packet).  IP-in-IP has no authentication: an error is believed
# only if it quotes an outer packet A sent lately (source Local, destination
# Remote, protocol 4, an outer ID taken in the last seconds), and one error
# received buys at most one error sent to an inner sender.
#
#   A (icfA)                  R (router, on path)                 B (icfB)
#   203.0.113.1/32 peer .2                                        203.0.113.2/32 peer .1
#   va 192.0.2.1/24 ----- ra 192.0.2.254/24
#                         rb 198.51.100.254/24 ----- vb 198.51.100.2/24
#                         rx 203.0.113.65/26
#                          |
#                         X (icfX, off path) xr 203.0.113.66/26
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A icfA && ns_new R icfR && ns_new B icfB && ns_new X icfX || exit 1
veth_pair "$A" va 192.0.2.1/24 "$R" ra 192.0.2.254/24 || exit 1
veth_pair "$R" rb 198.51.100.254/24 "$B" vb 198.51.100.2/24 || exit 1
veth_pair "$R" rx 203.0.113.65/26 "$X" xr 203.0.113.66/26 || exit 1
ip -n "$A" route add default via 192.0.2.254
ip -n "$B" route add default via 198.51.100.254
ip -n "$X" route add default via 203.0.113.65
nsx "$R" sysctl -qw net.ipv4.ip_forward=1
# A's own ICMP rate limit would hide what ipipd sends: off for the test.
nsx "$A" sysctl -qw net.ipv4.icmp_ratelimit=0

conf() { # conf FILE LOCAL REMOTE ADDR PEER [EXTRA]
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n%s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "$DATAPATH" "${6:-}" "$4" "$5" >"$WORK/$1"
	echo "$WORK/$1"
}
CA=$(conf icfa.conf 192.0.2.1 198.51.100.2 203.0.113.1 203.0.113.2 "AllowedSources = 203.0.113.2/32")
CB=$(conf icfb.conf 198.51.100.2 192.0.2.1 203.0.113.2 203.0.113.1)
start "$A" "$CA" || notok "ipipd start A"
PA=$STARTED
start "$B" "$CB" || notok "ipipd start B"

FORGE="$PY $TOP/tests/icmpforge.py"
ctr() { json "$A" icfa "$1"; }
tun_rx() { nsx "$A" cat /sys/class/net/icfa/statistics/rx_packets; }
icmp_in() { # ICMP errors A's kernel received (Icmp InDestUnreachs + InTimeExcds)
	nsx "$A" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["InDestUnreachs"] + $c["InTimeExcds"] }' /proc/net/snmp
}
# R's forger: sniffs A's outer packets and quotes the last one at once (an
# error on the path follows its packet within milliseconds).
coproc FSRV { ip netns exec "$R" $PY "$TOP/tests/icmpforge.py" serve ra 192.0.2.1 198.51.100.2 2>"$WORK/fsrv.err"; }
PIDS+=("$FSRV_PID")
read -r -t 60 READY <&"${FSRV[0]}"
srv() { echo "$*" >&"${FSRV[1]}"; local r; read -r -t 60 r <&"${FSRV[0]}" && echo "$r"; }
# fresh: A sends one outer packet (a ping), R has it; prints it as hex
fresh() {
	local seq0 r
	r=$(srv last); seq0=${r%% *}
	for _ in $(seq 20); do
		nsx "$A" ping -c 1 -W 1 203.0.113.2 >/dev/null
		for _ in $(seq 10); do
			r=$(srv last)
			[ "${r%% *}" -gt "$seq0" ] && { echo "${r#* }"; return 0; }
			sleep 0.05
		done
	done
	return 1
}
# onpath OPTIONS: R sends an error quoting A's last outer packet, at once
onpath() { srv send --from 198.51.100.254 --to 192.0.2.1 "$@" >/dev/null; }
# A snapshot of what forged errors must not move.
state() {
	echo "mtu $(ctr path_mtu) ttl $(ctr path_ttl) reachable $(ctr reachable) errors $(ctr icmp_errors)" \
	     "relayed $(ctr icmp_relayed) owed $(ctr icmp_errors_owed) tun_rx $(tun_rx)"
}

check "ping A -> B through the tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 203.0.113.2
check "R's forger runs" test "$READY" = ready
Q=$(fresh)
check "R sees A's outer packets (an outer packet captured on the path)" test -n "$Q"
QID=$((16#${Q:8:4}))
echo "# last outer ID seen on the path: $QID"
FAR=$(( (QID + 30000) & 0xffff ))	# far from every ID A sent lately

# --- off the path: X knows Local and Remote only ---------------------------------
S0=$(state); I0=$(icmp_in); N0=$(ctr drops.icmp_id_not_recent)
for e in "3 4 --mtu 600" "11 0" "3 1"; do
	set -- $e
	nsx "$X" $FORGE send --from 203.0.113.66 --to 192.0.2.1 --type "$1" --code "$2" ${3:+$3 $4} \
		--local 192.0.2.1 --remote 198.51.100.99 --inner-src 203.0.113.1 --inner-dst 203.0.113.2 \
		--id "$QID" >/dev/null
done
sleep 0.5
check "off path, wrong quoted destination (frag needed, time exceeded, unreachable): A's kernel got them (Icmp in +3)" \
	test $(($(icmp_in) - I0)) -eq 3
check "... none reached ipipd (its socket is connected to Remote): soft state, counters and the TUN device unchanged" \
	test "$(state) $(ctr drops.icmp_id_not_recent)" = "$S0 $N0"

S0=$(state); N0=$(ctr drops.icmp_id_not_recent)
for e in "3 4 --mtu 600" "11 0" "3 1"; do
	set -- $e
	nsx "$X" $FORGE send --from 203.0.113.66 --to 192.0.2.1 --type "$1" --code "$2" ${3:+$3 $4} \
		--local 192.0.2.1 --remote 198.51.100.2 --inner-src 203.0.113.1 --inner-dst 203.0.113.2 \
		--id "$FAR" >/dev/null
done
sleep 0.5
check "off path, right addresses but an outer ID A did not send lately: counted as drops.icmp_id_not_recent (+3)" \
	test $(($(ctr drops.icmp_id_not_recent) - N0)) -eq 3
check "... path MTU, path TTL, reachability, errors owed unchanged; nothing written to the TUN device" \
	test "$(state)" = "$S0"
# The kernel does take such an error into its route to Remote (it checks no
# ID): that must not reach the tunnel through the kernel's own frag-needed
# about a packet A did send (the outer packets do not follow it).
check "... the kernel's route to Remote took the forged MTU 600 (so the next check means something)" \
	bash -c "ip -n $A route get 198.51.100.2 | tee /dev/stderr | grep -q 'mtu 600'"
OUT=$(nsx "$A" ping -c 2 -i 0.2 -W 2 -M do -s 1452 203.0.113.2 2>&1)
check "... yet full-size packets (DF, 1480) still pass the tunnel, the path MTU stays 1480" \
	bash -c "grep -q ' 0% packet loss' <<<'$OUT' && [ $(ctr path_mtu) = 1480 ]"

# A flood of valid-looking errors (every type, right addresses, 2000 IDs none of
# which A sent lately).
S0=$(state); N0=$(ctr drops.icmp_id_not_recent)
nsx "$X" $FORGE send --from 203.0.113.66 --to 192.0.2.1 --type 3 --code 4 --mtu 576 \
	--local 192.0.2.1 --remote 198.51.100.2 --inner-src 203.0.113.1 --inner-dst 203.0.113.2 \
	--id "$FAR" --count 1000 >/dev/null &
F1=$!
nsx "$X" $FORGE send --from 203.0.113.66 --to 192.0.2.1 --type 11 --code 0 \
	--local 192.0.2.1 --remote 198.51.100.2 --inner-src 203.0.113.1 --inner-dst 203.0.113.2 \
	--id $(( (FAR + 1000) & 0xffff )) --count 500 >/dev/null &
F2=$!
nsx "$X" $FORGE send --from 203.0.113.66 --to 192.0.2.1 --type 3 --code 1 \
	--local 192.0.2.1 --remote 198.51.100.2 --inner-src 203.0.113.1 --inner-dst 203.0.113.2 \
	--id $(( (FAR + 1500) & 0xffff )) --count 500 >/dev/null
wait "$F1" "$F2"
sleep 1
check "a flood of 2000 valid-looking forged errors: every one counted as drops.icmp_id_not_recent" \
	test $(($(ctr drops.icmp_id_not_recent) - N0)) -eq 2000
check "... and nothing moved: path MTU, TTL, reachability, errors owed, the TUN device" \
	test "$(state)" = "$S0"
check "the tunnel still works after the flood" nsx "$A" ping -c 2 -i 0.2 -W 2 203.0.113.2

# --- on the path: R sees the outer IDs -----------------------------------------
# A relayed error comes from the quoted inner destination: it must pass the
# inner-source checks of decapsulation, or R could make A's host hear errors
# "from" any address.
fresh >/dev/null
S0=$(state); O0=$(ctr drops.icmp_relay_source_ours); NA0=$(ctr drops.icmp_relay_source_not_allowed)
onpath --type 3 --code 1 --inner-dst 192.0.2.1
sleep 0.3
W1=$(($(tun_rx) - ${S0##*tun_rx }))
fresh >/dev/null
T=$(tun_rx)
onpath --type 3 --code 1 --inner-dst 198.51.100.77
sleep 0.5
check "on path, a recent ID, quoted inner destination = A's own address: not relayed (drops.icmp_relay_source_ours +1)" \
	test $(($(ctr drops.icmp_relay_source_ours) - O0)) -eq 1
check "... quoted inner destination outside AllowedSources: not relayed (drops.icmp_relay_source_not_allowed +1)" \
	test $(($(ctr drops.icmp_relay_source_not_allowed) - NA0)) -eq 1
check "... nothing written to the TUN device for either (+$W1, +$(($(tun_rx) - T)))" test "$W1 $(tun_rx)" = "0 $T"

# Each test below starts with a fresh daemon: no error owed, no soft state.
restart_a() {
	nsx "$A" "$IPIPCTL" down icfa; wait_gone "$PA"
	nsx "$A" ip route flush cache
	start "$A" "$CA" || notok "ipipd restart A"
	PA=$STARTED
}

# One error received, at most one sent.  An unreachable that cannot be relayed
# (the quote stops after the outer header and the 8 bytes the kernel wants) is
# owed to the next sender: exactly one host unreachable, and meanwhile only
# those packets take the slow path.
restart_a
fresh >/dev/null
T0=$(ctr soft_unreach_errors); SL0=$(json "$A" icfa slow_tx_packets 2>/dev/null || echo 0)
onpath --type 3 --code 1 --quote-len 28
sleep 0.5
echo "# $(state)"
check "on path, an unreachable quoting a recent outer packet (28 bytes): believed, the exit is unreachable, one error owed" \
	test "$(ctr reachable) $(ctr icmp_errors_owed)" = "no 1"
check "... ipipctl show names it as the last ICMP error believed" \
	test "$(ctr last_icmp_error)" = "type 3 code 1 info 0"
OUT=$(nsx "$A" ping -c 3 -i 0.3 -W 1 203.0.113.2 2>&1)
echo "$OUT" | sed 's/^/#   /'
answered() { # every packet ping sent was answered (ping stops at -c replies + errors)
	local t r
	t=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$1"); r=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$1")
	[ -n "$t" ] && [ "$t" = "$r" ]
}
check "... the next sender gets host unreachable once (the error owed), and every packet still goes (all answered)" \
	bash -c "[ \$(grep -c 'Destination Host Unreachable' <<<\"\$1\") = 1 ]" _ "$OUT"
check "... every packet it sent was still carried and answered" answered "$OUT"
check "... soft_unreach_errors +1, nothing owed any more" \
	test "$(($(ctr soft_unreach_errors) - T0)) $(ctr icmp_errors_owed)" = "1 0"
if [ "$DATAPATH" = ebpf ]; then
	check "... fast path: at most that one packet went slow (slow_tx_packets +$(( $(ctr slow_tx_packets) - SL0 )) <= 2)" \
		test $(($(ctr slow_tx_packets) - SL0)) -le 2
fi

# The same with time exceeded (TTL = inherit): the path TTL is learned from the
# quoted inner TTL 30; one sender with TTL 30 gets time exceeded, once; a packet
# with TTL 64 is not concerned (and stays on the fast path).
restart_a
fresh >/dev/null
T0=$(ctr soft_ttl_errors)
onpath --type 11 --code 0 --inner-ttl 30 --quote-len 29
sleep 0.5
echo "# $(state)"
check "on path, time exceeded quoting inner TTL 30: path TTL 31, one error owed" \
	test "$(ctr path_ttl) $(ctr icmp_errors_owed)" = "31 1"
check "... and names it the last ICMP error" test "$(ctr last_icmp_error)" = "type 11 code 0 info 0"
F0=$(json "$A" icfa fast_tx_packets 2>/dev/null || echo 0); SL0=$(json "$A" icfa slow_tx_packets 2>/dev/null || echo 0)
OUT64=$(nsx "$A" ping -c 2 -i 0.3 -W 1 203.0.113.2 2>&1)
if [ "$DATAPATH" = ebpf ]; then
	check "... pings with TTL 64 are not concerned: they stay on the fast path (fast_tx +2, slow_tx +0)" \
		test "$(($(ctr fast_tx_packets) - F0)) $(($(ctr slow_tx_packets) - SL0))" = "2 0"
fi
OUT=$(nsx "$A" ping -c 3 -i 0.3 -t 30 -W 1 203.0.113.2 2>&1)
echo "$OUT64" "$OUT" | sed 's/^/#   /'
check "... TTL 64: no error; TTL 30: time exceeded once" \
	test "$(grep -c exceeded <<<"$OUT64") $(grep -c 'Time to live exceeded' <<<"$OUT")" = "0 1"
check "... and every packet still carried and answered" answered "$OUT"
check "... soft_ttl_errors +1" test $(($(ctr soft_ttl_errors) - T0)) -eq 1

# A replayed genuine error, 500 times: believed (its ID is recent), but the
# relay stays within its rate limit, at most one error per error, and the
# path MTU no lower than net.ipv4.route.min_pmtu (552) allows.
restart_a
fresh >/dev/null
S0=$(tun_rx); R0=$(ctr icmp_relayed); E0=$(ctr icmp_errors)
T0=$(date +%s%N)
onpath --type 3 --code 4 --mtu 300 --count 500 --id-step 0
sleep 0.5
MAX=$((20 + ($(date +%s%N) - T0) / 100000000 + 1))
RL=$(($(ctr icmp_relayed) - R0)); W=$(($(tun_rx) - S0)); E=$(($(ctr icmp_errors) - E0))
echo "# replayed 500: believed $E, relayed $RL, written to the TUN device $W (at most $MAX)"
check "on path, one genuine frag needed replayed 500 times: relayed within the rate limit (20 <= $RL <= $MAX), and only those written to the TUN device" \
	test "$RL" -ge 20 -a "$RL" -le "$MAX" -a "$W" -eq "$RL" -a "$E" -eq 500
check "... the path MTU stops at the floor: net.ipv4.route.min_pmtu 552 - 20 = 532 (the error said 300)" \
	test "$(ctr path_mtu)" = 532
check "... at most 20 errors owed afterwards" test "$(ctr icmp_errors_owed)" -le 20

# A genuine error from the path still works: R's link towards B gets MTU 1400.
restart_a
ip -n "$R" link set rb mtu 1400
ip -n "$B" link set vb mtu 1400
OUT=$(nsx "$A" ping -c 1 -W 2 -M do -s 1452 203.0.113.2 2>&1)
echo "$OUT" | sed 's/^/#   /'
check "a genuine frag needed from R (MTU 1400) still lowers the tunnel's path MTU to 1380 and reaches the sender" \
	test "$(ctr path_mtu) $(grep -c 'mtu = 1380' <<<"$OUT")" = "1380 1"
ip -n "$R" link set rb mtu 1500
ip -n "$B" link set vb mtu 1500

# Path MTU and path TTL are forgotten after net.ipv4.route.mtu_expires (600 s by
# default; 5 s here), as the kernel forgets its PMTU exceptions.
nsx "$A" sysctl -qw net.ipv4.route.mtu_expires=5
restart_a
fresh >/dev/null
onpath --type 3 --code 4 --mtu 1300
onpath --type 11 --code 0 --inner-ttl 40
sleep 0.3
check "mtu_expires = 5: path MTU 1280 and path TTL 41 learned" test "$(ctr path_mtu) $(ctr path_ttl)" = "1280 41"
sleep 6
check "... and both forgotten 5 s later (path MTU back to 1480, no path TTL)" \
	test "$(ctr path_mtu) $(ctr path_ttl)" = "1480 0"
check "the tunnel still works" nsx "$A" ping -c 2 -i 0.2 -W 2 203.0.113.2
finish

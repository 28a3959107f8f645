#!/bin/bash
# A hostile third host floods the receiving end of a busy tunnel.
#
#   A (hA)                         B (hB)                        X (hX, attacker)
#   198.51.100.1 peer .2           198.51.100.2 peer .1
#   va 192.0.2.1/24 ---- veth ---- vb 192.0.2.2/24
#                                  bx 203.0.113.2/24 ---- veth ---- xb 203.0.113.1/24
#
# While 256 MiB go from A to B through the tunnel (userspace datapath), X sends B's tunnel address
# (192.0.2.2) a fixed number of each kind of malformed or spoofed protocol-4
# frame (tests/tools/flood.c, AF_PACKET + sendmmsg, >= 50,000 frames/s).  The
# transfer must arrive intact, ipipd must stay up with flat memory, and every
# hostile frame must be accounted for by reason: by ipipd's drop counters, or,
# for the frames the kernel drops before any raw socket sees them (bad outer
# checksum / IHL / length, outer fragments held for reassembly), by B's
# /proc/net/snmp Ip and /proc/net/netstat IpExt counters.
set -u
. "$(dirname "$0")/../lib.sh"

PER_KIND=${FLOOD_PER_KIND:-20000}	# frames of each of the 15 kinds
RATE=${FLOOD_RATE:-75000}		# target frames/s (the check asserts >= 50,000)
RSS_BOUND_KB=${RSS_BOUND_KB:-4096}	# allowed VmRSS growth of B's ipipd

ns_new A hA && ns_new B hB && ns_new X hX || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
veth_pair "$X" xb 203.0.113.1/24 "$B" bx 203.0.113.2/24 || exit 1
# Frames from X claim 192.0.2.1 as their source: no reverse-path filter in B.
nsx "$B" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	net.ipv4.conf.bx.rp_filter=0 net.ipv4.conf.vb.rp_filter=0

printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = '"$DATAPATH"'\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' >"$WORK/ha.conf"
printf '[Tunnel]\nLocal = 192.0.2.2\nRemote = 192.0.2.1\nAllowedSources = 198.51.100.1/32\nDatapath = '"$DATAPATH"'\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' >"$WORK/hb.conf"

gcc -O2 -Wall -o "$WORK/flood" "$TOP/tests/tools/flood.c" || { notok "build tests/tools/flood.c"; exit 1; }
start "$A" "$WORK/ha.conf" || notok "ipipd start A"
start "$B" "$WORK/hb.conf" || notok "ipipd start B"
PB=$STARTED
check "tunnel carries a ping before the flood" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PB/status"; }
# snmp NS FIELD: one IP counter of the namespace, from the Ip: line of /proc/net/snmp
# or the IpExt: line of /proc/net/netstat (InTruncatedPkts, InCsumErrors).
snmp() {
	nsx "$1" awk -v f="$2" '/^Ip(Ext)?:/ { if (!h[$1]) { for (i = 1; i <= NF; i++) if ($i == f) c[$1] = i; h[$1] = 1 }
		else if (c[$1]) print $c[$1] }' /proc/net/snmp /proc/net/netstat
}
drops() { # all of B's ipipd drop counters as "name value" lines
	nsx "$B" "$IPIPCTL" show --json hb | $PY -c '
import json, sys
for k, v in sorted(json.load(sys.stdin)[0]["drops"].items()): print(k, v)'
}
# Drops at the raw socket's receive queue (last column of /proc/net/raw, protocol 4).
rawdrops() { nsx "$B" awk 'NR > 1 && $2 ~ /:0004$/ { s += $NF } END { print s + 0 }' /proc/net/raw; }

head -c $((256 << 20)) /dev/urandom >"$WORK/blob"
bg "$B" $PKT sink 198.51.100.2 5001 >"$WORK/sink.out"
SINK=$BG
for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done

MAC=$(nsx "$B" cat /sys/class/net/bx/address)
# Counters before (the transfer itself moves none of them).
RSS_BEFORE=$(rss)
D0=$(drops); H0=$(snmp "$B" InHdrErrors); TR0=$(snmp "$B" InTruncatedPkts)
C0=$(snmp "$B" InCsumErrors); RE0=$(snmp "$B" ReasmReqds); RAW0=$(rawdrops)
UP0=$(snmp "$B" InUnknownProtos)
XTX0=$(nsx "$X" cat /sys/class/net/xb/statistics/tx_packets)
# VmRSS every 0.25 s from now until after the flood.
( while :; do rss; sleep 0.25; done ) >"$WORK/rss.during" 2>/dev/null &
SAMPLER=$!; PIDS+=("$SAMPLER")
# The flood starts first and the transfer just after, so that the whole
# transfer runs under the flood (checked below: the flood outlives it).
bg "$X" "$WORK/flood" xb "$MAC" 192.0.2.2 192.0.2.1 198.51.100.1 198.51.100.2 "$PER_KIND" "$RATE" \
	>"$WORK/flood.out" 2>"$WORK/flood.err"
FLOOD=$BG
sleep 0.3
T0=$(date +%s.%N)
nsx "$A" timeout 120 $PKT send 198.51.100.2 5001 "$WORK/blob" >"$WORK/sent.out"
T1=$(date +%s.%N)
FLOOD_ALIVE=no; kill -0 "$FLOOD" 2>/dev/null && FLOOD_ALIVE=yes
wait "$SINK"
wait "$FLOOD"; FLOOD_RC=$?
XTX1=$(nsx "$X" cat /sys/class/net/xb/statistics/tx_packets)
sleep 1	# let B drain its queues
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null
D1=$(drops); H1=$(snmp "$B" InHdrErrors); TR1=$(snmp "$B" InTruncatedPkts)
C1=$(snmp "$B" InCsumErrors); RE1=$(snmp "$B" ReasmReqds); RAW1=$(rawdrops)
UP1=$(snmp "$B" InUnknownProtos)
sed 's/^/# flood: /' "$WORK/flood.out" "$WORK/flood.err"
n() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/flood.out"; }

check "flood generator ran (exit 0, 15 kinds x $PER_KIND frames)" \
	test "$FLOOD_RC $(n total)" = "0 $((15 * PER_KIND))"
RATE_GOT=$(n rate); SECS=$(n seconds)
WIRE_RATE=$(awk -v n="$((XTX1 - XTX0))" -v s="${SECS:-1}" 'BEGIN { printf "%d", n / s }')
echo "# flood: $((XTX1 - XTX0)) frames left xb in ${SECS}s = $WIRE_RATE frames/s (IPIPD=$IPIPD)"
check "flood rate >= 50,000 frames/s over the flood window (sender: ${RATE_GOT:-?}/s, xb tx_packets: $WIRE_RATE/s)" \
	test "${RATE_GOT:-0}" -ge 50000 -a "$WIRE_RATE" -ge 50000
SENT=$(cat "$WORK/sent.out"); GOT=$(tail -n 1 "$WORK/sink.out")
TSECS=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
echo "# transfer: $GOT in $TSECS s"
check "the whole 256 MiB transfer ran under the flood (transfer $TSECS s, flood still running after it)" \
	test "$FLOOD_ALIVE" = yes
check "256 MiB TCP transfer under the flood arrives intact (sha256 matches)" \
	test -n "$SENT" -a "$SENT" = "$GOT" -a "${SENT%% *}" = $((256 << 20))
RSS_AFTER=$(rss)
RSS_MAX=$(sort -n "$WORK/rss.during" | tail -n 1)
echo "# VmRSS of B's ipipd (kB): before $RSS_BEFORE, during max $RSS_MAX ($(wc -l <"$WORK/rss.during") samples), after $RSS_AFTER"
check "ipipd in B is still running" kill -0 "$PB"
check "VmRSS flat: during and after <= before + $RSS_BOUND_KB kB (before $RSS_BEFORE, max $RSS_MAX, after $RSS_AFTER)" \
	test "$RSS_MAX" -le $((RSS_BEFORE + RSS_BOUND_KB)) -a "$RSS_AFTER" -le $((RSS_BEFORE + RSS_BOUND_KB))

# delta NAME: growth of one of B's ipipd drop counters during the flood.
delta() {
	local a b
	a=$(awk -v k="$1" '$1 == k { print $2 }' <<<"$D0"); b=$(awk -v k="$1" '$1 == k { print $2 }' <<<"$D1")
	echo $((b - a))
}
echo "# raw socket receive-queue drops in B during the flood: $((RAW1 - RAW0))"
check "no hostile frame lost at ipipd's raw socket queue (/proc/net/raw drops)" test $((RAW1 - RAW0)) -eq 0
for m in inner_ttl0:rx_inner_ttl0 \
	 ce_over_not_ect:rx_ecn_ce_over_not_ect inner_spoofed_source:rx_inner_source_not_allowed \
	 inner_source_route:rx_inner_source_route inner_oversize_length:rx_inner_length \
	 garbage:rx_inner_version inner_short:rx_inner_short inner_bad_checksum:rx_inner_checksum \
	 inner_bad_ihl:rx_inner_ihl inner_source_ours:rx_inner_source_ours; do
	k=${m%:*} c=${m#*:}
	check "ipipd counts every $k frame as drops.$c ($(n "$k") sent, $(delta "$c") counted)" \
		test "$(delta "$c")" = "$(n "$k")"
done
OTHER=0
while read -r k _; do
	case $k in rx_inner_ttl0|rx_ecn_ce_over_not_ect|rx_inner_source_not_allowed|\
		rx_inner_source_route|rx_inner_length|rx_inner_version|rx_inner_short|rx_inner_checksum|\
		rx_inner_ihl|rx_inner_source_ours) ;;
	*) OTHER=$((OTHER + $(delta "$k"))) ;;
	esac
done <<<"$D1"
check "no other ipipd drop counter moved during the flood ($OTHER)" test -n "$D0" -a -n "$D1" -a "$OTHER" -eq 0
# ipipd's socket is connected to Remote: another source's frames never reach it,
# and the kernel refuses them as it does a protocol nobody listens for.
check "kernel, not ipipd: outer_wrong_source frames = B's Ip InUnknownProtos delta, drops.rx_outer_source unchanged ($(n outer_wrong_source) sent, $((UP1 - UP0)) counted)" \
	test "$((UP1 - UP0)) $(delta rx_outer_source)" = "$(n outer_wrong_source) 0"
check "kernel, not ipipd: outer_truncated frames = B's IpExt InTruncatedPkts delta ($(n outer_truncated) sent, $((TR1 - TR0)) counted)" \
	test $((TR1 - TR0)) = "$(n outer_truncated)"
check "kernel, not ipipd: outer_bad_checksum frames = B's IpExt InCsumErrors delta ($(n outer_bad_checksum) sent, $((C1 - C0)) counted)" \
	test $((C1 - C0)) = "$(n outer_bad_checksum)"
check "kernel, not ipipd: outer_bad_checksum + outer_bad_ihl = B's Ip InHdrErrors delta ($(( $(n outer_bad_checksum) + $(n outer_bad_ihl) )) sent, $((H1 - H0)) counted)" \
	test $((H1 - H0)) = $(( $(n outer_bad_checksum) + $(n outer_bad_ihl) ))
check "kernel, not ipipd: outer_fragment frames = B's Ip ReasmReqds delta, never completed so drops.rx_outer_fragment unchanged ($(n outer_fragment) sent, $((RE1 - RE0)) counted)" \
	test "$((RE1 - RE0)) $(delta rx_outer_fragment)" = "$(n outer_fragment) 0"
check "tunnel still carries a ping after the flood" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
finish

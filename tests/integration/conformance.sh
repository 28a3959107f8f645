#!/bin/bash
# RFC conformance of the userspace datapath, one check per line of
# /work/shared/reference/rfc-checklist.md that ipipd implements.
#
#   A (cA)                                         B (cB)
#   ipa 198.51.100.1 peer .2                       ipb 198.51.100.2 peer .1
#   va 192.0.2.1/24  ------------ veth ------------  vb 192.0.2.2/24
#
# Inner packets are crafted in A (tests/conformance.py send) and routed into
# ipa; the outer packets are captured on vb, the decapsulated ones on ipb.
# Outer packets are also crafted directly in A to test B's decapsulator.
set -u
. "$(dirname "$0")/../lib.sh"
CP="$PY $TOP/tests/conformance.py"

ns_new A cA && ns_new B cB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1

conf() { # conf FILE LOCAL REMOTE ADDR PEER [extra [Tunnel] lines]
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = '"$DATAPATH"'\n%s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "${6:-}" "$4" "$5" >"$WORK/$1"
}
PA= PB=
# run_a / run_b EXTRA: (re)start that end's ipipd with these extra [Tunnel] lines.
run_a() {
	[ -n "$PA" ] && { nsx "$A" "$IPIPCTL" down ipa; wait_gone "$PA"; }
	conf ipa.conf 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "${1:-}"
	start "$A" "$WORK/ipa.conf" || notok "start A with '${1:-}'"
	PA=$STARTED
}
run_b() {
	[ -n "$PB" ] && { nsx "$B" "$IPIPCTL" down ipb; wait_gone "$PB"; }
	conf ipb.conf 192.0.2.2 192.0.2.1 198.51.100.2 198.51.100.1 "${1:-}"
	start "$B" "$WORK/ipb.conf" || notok "start B with '${1:-}'"
	PB=$STARTED
}
# cap NS IF FILTER: capture into $WORK/cap.pcap until capstop.
# (A check that no packet of a kind was sent also sends one that must be
# seen, after the others, so that an empty capture cannot pass it.)
cap() {
	rm -f "$WORK/cap.pcap" "$WORK/td.err"
	ip netns exec "$1" tcpdump --immediate-mode -Z root -n -i "$2" -w "$WORK/cap.pcap" -U "$3" 2>"$WORK/td.err" &
	TD=$!; PIDS+=("$TD")
	for _ in $(seq 300); do grep -q listening "$WORK/td.err" 2>/dev/null && break; sleep 0.1; done
}
capstop() { sleep 0.4; kill "$TD"; wait "$TD" 2>/dev/null; }
# send SPEC... [+ SPEC...]: packets from A, one conformance.py call per group.
send() {
	local a=()
	: >"$WORK/sent"
	for x in "$@" +; do
		if [ "$x" = + ]; then nsx "$A" $CP send "${a[@]}" >>"$WORK/sent"; a=(); else a+=("$x"); fi
	done
}
# outer NAME FILTER-ON-vb EXPR SEND-SPEC...: send, capture outer packets on vb, check EXPR.
outer() {
	local name=$1 expr=$2; shift 2
	cap "$B" vb "ip proto 4 and src host 192.0.2.1"; send "$@"; capstop
	check "$name" $CP expect "$WORK/cap.pcap" "$expr" "$WORK/sent"
}
# decap NAME EXPR SEND-SPEC...: send outer packets from A, capture on ipb, check EXPR.
decap() {
	local name=$1 expr=$2; shift 2
	cap "$B" ipb "icmp[icmptype] == icmp-echo"; send "$@"; capstop
	check "$name" $CP expect "$WORK/cap.pcap" "$expr" "$WORK/sent"
}
dropped() { json "$B" ipb "drops.$1"; }
dropped_a() { json "$A" ipa "drops.$1"; }

run_a; run_b
check "tunnel is up (ping A -> B)" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2

# --- RFC 2003 3.1: the outer header ------------------------------------------
outer "RFC 2003 3.1: outer version 4, IHL 5, protocol 4, source Local, destination Remote, valid checksum, total length = whole datagram" \
	'len(P) == 5 and all(p.ver == 4 and p.ihl == 20 and p.proto == 4 and p.src == "192.0.2.1" and p.dst == "192.0.2.2" and p.ok and p.tot == len(p.b) == 20 + len(s) for p, s in zip(P, S))' \
	n=5 size=300
outer "RFC 2003 3.1: TOS default (TOS = 0): outer DSCP 0 whatever the inner DSCP (Linux default)" \
	'len(P) == 1 and P[0].dscp == 0 and P[0].inner.tos == 0xb8' tos=0xb8
outer "RFC 2003 3.1: TTL inherit (default): outer TTL = inner TTL (37)" \
	'len(P) == 1 and P[0].ttl == 37 and P[0].inner.ttl == 37' ttl=37
outer "RFC 2003 3.1: inner DF set => outer DF set" 'len(P) == 1 and P[0].df and P[0].inner.df' df=1
outer "RFC 2003 5.1 / RFC 4459: DiscoverPathMTU = yes (default): outer DF set even for inner DF clear" \
	'len(P) == 1 and P[0].df and not P[0].inner.df' df=0
outer "RFC 2003 3.1: inner options not copied to the outer header (inner record-route option, outer IHL 5)" \
	'len(P) == 1 and P[0].ihl == 20 and P[0].inner.ihl == 32 and P[0].inner.opts == S[0][20:32]' opt=rr
outer "RFC 2003 3.1: inner header and payload unchanged, TTL not decremented again (bytes equal what was sent)" \
	'len(P) == 4 and [p.payload for p in P] == S' n=4 ttl=9 tos=0x28 opt=rr size=200
t0=$(dropped_a tx_ttl0)
outer "RFC 2003 3.1: an encapsulator MUST NOT encapsulate a datagram with TTL 0 (nothing on the underlay but the TTL-9 datagram sent after them)" \
	'len(P) == 1 and P[0].inner.ttl == 9 and P[0].inner.b == S[-1]' ttl=0 n=3 + ttl=9 id=0x909
check "RFC 2003 3.1: the TTL-0 datagrams are counted as drops.tx_ttl0 (3)" test $(($(dropped_a tx_ttl0) - t0)) = 3

run_a "TTL = 64"
outer "RFC 2003 3.1: TTL = 64: fixed outer TTL whatever the inner TTL" \
	'len(P) == 2 and all(p.ttl == 64 for p in P) and [p.inner.ttl for p in P] == [5, 200]' ttl=5 + ttl=200

run_a "TOS = inherit"
outer "RFC 2003 3.1: TOS = inherit: outer TOS = inner TOS (DSCP 46 and ECT(0) copied)" \
	'len(P) == 1 and P[0].tos == 0xba and P[0].inner.tos == 0xba' tos=0xba

# --- RFC 6040 encapsulation ----------------------------------------------------
run_a
outer "RFC 6040 4.1: normal mode (default): outer ECN = inner ECN for Not-ECT, ECT(1), ECT(0), CE; inner ECN unchanged" \
	'[(p.ecn, p.inner.ecn) for p in P] == [(0, 0), (1, 1), (2, 2), (3, 3)]' tos=0 + tos=1 + tos=2 + tos=3
run_a "ECN = compatibility"
outer "RFC 6040 4.3: compatibility mode: outer ECN Not-ECT for every inner ECN; inner ECN unchanged" \
	'[(p.ecn, p.inner.ecn) for p in P] == [(0, 0), (0, 1), (0, 2), (0, 3)]' tos=0 + tos=1 + tos=2 + tos=3
run_a "ECN = kernel"
outer "RFC 6040 (Linux option): ECN = kernel: inner CE encapsulated as ECT(0), others copied" \
	'[(p.ecn, p.inner.ecn) for p in P] == [(0, 0), (1, 1), (2, 2), (2, 3)]' tos=0 + tos=1 + tos=2 + tos=3

# --- DiscoverPathMTU = no, RFC 6864 ---------------------------------------------
run_a "DiscoverPathMTU = no"
outer "RFC 2003 3.1: DiscoverPathMTU = no: outer DF copied from the inner DF (set, then clear)" \
	'[(p.df, p.inner.df) for p in P] == [(True, True), (False, False)]' df=1 + df=0
outer "RFC 6864: outer DF=0: 1000 outer IDs all distinct, so not the inner ID copied (inner ID fixed 0x1234)" \
	'len(P) >= 950 and len(set(p.id for p in P)) == len(P) and all(not p.df for p in P)' \
	n=1000 df=0 id=0x1234 size=64 pace=5
outer "RFC 6864: outer DF=0: outer IDs never copy the inner ID (1000 inner IDs counting up)" \
	'len(P) >= 950 and all(p.id != p.inner.id for p in P)' n=1000 df=0 id=1 idstep=1 size=64 pace=5
if [ "$DATAPATH" = userspace ]; then
	# Lone packets go through the kernel's IP output, batches straight to the
	# next hop: the IDs must still be one sequence (the kernel keeps ours).
	d0=$(json "$A" ipa tx_direct) t0=$(json "$A" ipa tx_packets)
	# (a capture may miss packets: a gap is a step of a few, two counters
	# would give steps all over the 16-bit range)
	outer "RFC 6864: one outer ID sequence on both output paths (each captured ID a few above the previous)" \
		'len(P) >= 1500 and all(1 <= (b.id - a.id) % 65536 <= 500 for a, b in zip(P, P[1:]))' \
		n=1000 df=0 size=64 pace=5 + n=1000 df=1 size=64 pace=50
	d1=$(json "$A" ipa tx_direct) t1=$(json "$A" ipa tx_packets)
	check "... and both paths carried some of them (direct $((d1 - d0)) of $((t1 - t0)))" \
		test $((d1 - d0)) -gt 0 -a $((d1 - d0)) -lt $((t1 - t0))
fi

# --- RFC 2003 5.1 / RFC 4459: MTU -------------------------------------------------
run_a
ip -n "$A" link set va mtu 1400
ip -n "$B" link set vb mtu 1400
sleep 0.2
nsx "$A" $CP send size=1480 df=1 >/dev/null	# lets ipipd learn the path MTU
sleep 0.3
fn0=$(dropped_a tx_frag_needed)
cap "$A" ipa "icmp[0] == 3 and icmp[1] == 4"
bg "$A" tcpdump --immediate-mode -Z root -n -i va -w "$WORK/cap2.pcap" -U "ip proto 4" 2>"$WORK/td2.err"
TD2=$BG
for _ in $(seq 300); do grep -q listening "$WORK/td2.err" 2>/dev/null && break; sleep 0.1; done
# Two too-big DF packets, then a small one that must go out (the capture works).
send size=1480 df=1 id=0x5151 n=2 + size=100 df=1 id=0x5252
capstop; kill "$TD2"; wait "$TD2" 2>/dev/null
check "RFC 2003 5.1 / RFC 4459: underlay MTU 1400 under a running tunnel: 1480-byte inner DF packet answered with ICMP frag needed, next-hop MTU 1380" \
	$CP expect "$WORK/cap.pcap" 'len(P) >= 1 and all(p.proto == 1 and p.payload[0] == 3 and p.payload[1] == 4 and int.from_bytes(p.payload[6:8], "big") == 1380 and p.dst == "198.51.100.1" and p.payload[8 + 4:8 + 6] == bytes([0x51, 0x51]) for p in P)'
too_big_not_sent() {
	grep -q listening "$WORK/td2.err" || { echo "tcpdump on va did not start:"; cat "$WORK/td2.err"; return 1; }
	$CP expect "$WORK/cap2.pcap" \
		'not any(p.inner and p.inner.id == 0x5151 for p in P) and any(p.inner and p.inner.id == 0x5252 for p in P)' &&
		test "$(dropped_a tx_frag_needed)" -gt "$fn0"
}
check "RFC 6864 / RFC 2003 3.1: the too-big inner DF packet is not fragmented or sent (nothing with its ID on the underlay, where the small packet sent after it is), counted as drops.tx_frag_needed" \
	too_big_not_sent
outer "RFC 4459 / RFC 2003 3.1: 1480-byte inner DF clear on a 1380 path: fragmented before encapsulation, outer DF set, fragments reassemble to the original" \
	'len(P) >= 2 and all(p.df and p.tot <= 1400 and p.inner.id == 0x6161 for p in P) and any(p.inner.mf for p in P) and b"".join(p.inner.payload for p in sorted(P, key=lambda p: p.inner.off)) == S[0][20:] and sum(len(p.inner.payload) for p in P) == 1460' \
	size=1480 df=0 id=0x6161
ip -n "$A" link set va mtu 1500
ip -n "$B" link set vb mtu 1500

# --- Decapsulation (B), packets crafted as outer packets in A --------------------------
run_a; run_b
O="outer=192.0.2.1>192.0.2.2"
decap "RFC 2003 3.1: decapsulated inner packet delivered unchanged (bytes equal the inner packet sent)" \
	'len(P) == 3 and [p.b for p in P] == [s[20:] for s in S]' $O n=3 ttl=17
decap "RFC 2003 3.1 / RFC 4459: outer fragments are reassembled by the receiving host, then decapsulated (1480-byte inner in 3 outer fragments)" \
	'len(P) == 1 and P[0].b == S[0][20:]' $O size=1480 df=0 ofrag=600
decap "RFC 2003 3.1: a reassembled outer packet larger than the tunnel MTU still works (3000-byte inner in 3 outer fragments)" \
	'len(P) == 1 and P[0].b == S[0][20:] and P[0].tot == 3000' $O size=3000 df=0 ofrag=1400
check "... and B answers it through the tunnel (ping -s 2972 from A, fragmented inner reply)" \
	nsx "$A" ping -c 2 -i 0.3 -W 2 -s 2972 198.51.100.2
t0=$(dropped rx_inner_ttl0)
decap "RFC 2003 3.1: a decapsulator MUST discard an inner datagram with TTL 0 (nothing on ipb but the TTL-17 datagram sent after them)" \
	'len(P) == 1 and P[0].b == S[-1][20:]' $O ttl=0 n=2 + $O ttl=17
check "RFC 2003 3.1: ... counted as drops.rx_inner_ttl0 (2)" test $(($(dropped rx_inner_ttl0) - t0)) = 2
# RFC 6040 4.2 table: rows inner Not-ECT, ECT(0), ECT(1), CE; columns outer Not-ECT, ECT(0), ECT(1), CE.
# ECT(0) = 2, ECT(1) = 1; -1 = drop.
specs=() want=()
for in_ecn in 0 2 1 3; do for out_ecn in 0 2 1 3; do
	specs+=(+ $O tos=$in_ecn otos=$out_ecn id=$((0x700 + in_ecn * 4 + out_ecn)))
done; done
t0=$(dropped rx_ecn_ce_over_not_ect)
decap "RFC 6040 4.2: decapsulation table, 16 combinations (inner Not-ECT/ECT(0)/ECT(1)/CE x outer): inner ECN as the table says, CE over Not-ECT dropped, inner checksum valid" \
	'sorted((p.id - 0x700, p.ecn) for p in P) == sorted([(0*4+0, 0), (0*4+2, 0), (0*4+1, 0), (2*4+0, 2), (2*4+2, 2), (2*4+1, 1), (2*4+3, 3), (1*4+0, 1), (1*4+2, 1), (1*4+1, 1), (1*4+3, 3), (3*4+0, 3), (3*4+2, 3), (3*4+1, 3), (3*4+3, 3)]) and all(p.ok for p in P)' \
	"${specs[@]:1}"
check "RFC 6040 4.2: CE over Not-ECT counted as drops.rx_ecn_ce_over_not_ect (1)" \
	test $(($(dropped rx_ecn_ce_over_not_ect) - t0)) = 1

# --- RFC 2983 DSCP at decapsulation ------------------------------------------------
decap "RFC 2983: DSCP = pipe (default): inner DSCP kept (inner 10, outer 46)" \
	'len(P) == 1 and P[0].dscp == 10 and P[0].ok' $O tos=$((10 << 2)) otos=$((46 << 2))
run_b "DSCP = uniform"
decap "RFC 2983: DSCP = uniform: outer DSCP copied to the inner (outer 46), ECN per RFC 6040 (ECT(0) kept), checksum updated" \
	'len(P) == 1 and P[0].dscp == 46 and P[0].ecn == 2 and P[0].ok' $O tos=$((10 << 2 | 2)) otos=$((46 << 2 | 2))

# --- RFC 2003 6 / RFC 6169: what is admitted ------------------------------------------
run_b "AllowedSources = 198.51.100.0/28"
t0=$(dropped rx_outer_source); u0=$(ipstat "$B" InUnknownProtos)
decap "RFC 2003 6: outer source other than Remote is not decapsulated (192.0.2.77; the packet from Remote sent after them is)" \
	'len(P) == 1 and P[0].b == S[-1][20:]' outer=192.0.2.77\>192.0.2.2 n=2 + $O
check "RFC 2003 6: ... refused by the kernel (Ip InUnknownProtos +2: ipipd's socket is connected to Remote), never seen by ipipd" \
	test "$(($(ipstat "$B" InUnknownProtos) - u0)) $(($(dropped rx_outer_source) - t0))" = "2 0"
t0=$(dropped rx_inner_source_not_allowed)
decap "RFC 6169 / RFC 2003 6: AllowedSources: inner source 203.0.113.9 outside the list dropped, 198.51.100.1 and .9 inside delivered" \
	'sorted(p.src for p in P) == ["198.51.100.1", "198.51.100.9"]' $O src=203.0.113.9 + $O + $O src=198.51.100.9
check "RFC 6169: ... counted as drops.rx_inner_source_not_allowed (1)" test $(($(dropped rx_inner_source_not_allowed) - t0)) = 1
t0=$(dropped rx_inner_source_route)
decap "RFC 6169: inner packets with loose or strict source-route options dropped by default (record route passes)" \
	'len(P) == 1 and P[0].opts[:1] == bytes([7])' $O opt=lsrr + $O opt=ssrr + $O opt=rr
check "RFC 6169: ... counted as drops.rx_inner_source_route (2)" test $(($(dropped rx_inner_source_route) - t0)) = 2
run_b "AllowSourceRoute = yes"
decap "RFC 6169: AllowSourceRoute = yes admits a source-routed inner packet" 'len(P) == 1' $O opt=lsrr
t0=$(dropped rx_inner_source_ours)
decap "RFC 2003 6 / RFC 6169: inner source = one of B's own addresses (198.51.100.2, 192.0.2.2) dropped (198.51.100.1 sent after them delivered)" \
	'len(P) == 1 and P[0].b == S[-1][20:]' $O src=198.51.100.2 + $O src=192.0.2.2 + $O
check "RFC 2003 6: ... counted as drops.rx_inner_source_ours (2)" test $(($(dropped rx_inner_source_ours) - t0)) = 2
# Own addresses are all of the host's, followed while the tunnel runs.
check "RFC 2003 3.2 / 6: B knows its addresses (own_addresses >= 3: 127.0.0.1, vb's, ipb's)" \
	test "$(json "$B" ipb own_addresses)" -ge 3
n0=$(json "$B" ipb own_addresses)
nsx "$B" ip addr add 203.0.113.77/32 dev lo
for _ in $(seq 20); do [ "$(json "$B" ipb own_addresses)" -gt "$n0" ] && break; sleep 0.1; done
t0=$(dropped rx_inner_source_ours)
decap "RFC 2003 3.2 / 6: inner source = an address added to B's lo while the tunnel runs (203.0.113.77): dropped (198.51.100.1 sent after them delivered)" \
	'len(P) == 1 and P[0].b == S[-1][20:]' $O src=203.0.113.77 n=2 + $O
check "RFC 2003 6: ... counted as drops.rx_inner_source_ours (2)" test $(($(dropped rx_inner_source_ours) - t0)) = 2
nsx "$B" ip addr del 203.0.113.77/32 dev lo
for _ in $(seq 20); do [ "$(json "$B" ipb own_addresses)" = "$n0" ] && break; sleep 0.1; done
t0=$(dropped rx_inner_source_ours)
decap "RFC 2003 6: ... once the address is deleted, the same inner packets are delivered" \
	'len(P) == 2 and all(p.src == "203.0.113.77" for p in P)' $O src=203.0.113.77 n=2
check "RFC 2003 6: ... and not counted (drops.rx_inner_source_ours +0)" test $(($(dropped rx_inner_source_ours) - t0)) = 0
finish

#!/bin/bash
# The eBPF fast path (Datapath = ebpf): TC programs on the TUN device and the underlay.
#
#   A (fpA)  198.51.100.31/32 peer .32   va 192.0.2.31/24 ---- veth ---- vb 192.0.2.32/24   B (fpB)
#
# Ordinary packets never reach the daemons; on the wire every frame is still an
# ordinary IPv4-in-IPv4 packet of at most 1514 bytes with valid checksums when
# the underlay segments in software; a "NIC-like" underlay (no TSO, GRO on)
# works; the underlay's MTU lowered under a running tunnel gives "fragmentation
# needed" at the new size; SIGKILL leaves no program behind and another tool's
# TC program on the underlay keeps working before, during and after; without
# the privilege to load programs, Datapath = ebpf refuses to start and auto
# falls back to the userspace datapath, saying why; with the underlay's tcx hook
# full (63 programs), auto takes a clsact filter instead.
set -u
. "$(dirname "$0")/../lib.sh"

if ! bpftool prog show >/dev/null 2>&1; then
	echo "ok - # SKIP: this kernel does not allow BPF programs here"
	exit 0
fi

ns_new A fpA && ns_new B fpB || exit 1
veth_pair "$A" va 192.0.2.31/24 "$B" vb 192.0.2.32/24 || exit 1
# A's dump with what the new underlay below changes anyway (ifindexes, MAC) left out.
norm_dump() { dump "$1" | sed -E 's/^[0-9]+: /N: /; s/@if[0-9]+:/@ifN:/; s|link/ether [0-9a-f:]+|link/ether MAC|'; }
BEFORE_A=$(norm_dump "$A")

conf() { # conf FILE LOCAL REMOTE ADDR PEER [DATAPATH]
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "${6:-ebpf}" "$4" "$5" >"$WORK/$1"
	echo "$WORK/$1"
}
CA=$(conf fpa.conf 192.0.2.31 192.0.2.32 198.51.100.31 198.51.100.32)
CB=$(conf fpb.conf 192.0.2.32 192.0.2.31 198.51.100.32 198.51.100.31)

# none_left IDS...: none of these programs is loaded any more (within 5 s).
none_left() {
	local id left
	for _ in $(seq 50); do
		left=
		for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "still loaded:$left"
	return 1
}
tun_tx() { nsx "$1" cat "/sys/class/net/$2/statistics/tx_packets"; }
# features NS DEV NAME on|off...: ethtool -K, then ethtool -k shows each as asked.
features() {
	local ns=$1 dev=$2 k
	shift 2
	nsx "$ns" ethtool -K "$dev" "$@" || return 1
	nsx "$ns" ethtool -k "$dev" >"$WORK/features" || return 1
	while [ $# -ge 2 ]; do
		case $1 in
		tx) k=tx-checksumming ;; tso) k=tcp-segmentation-offload ;;
		gso) k=generic-segmentation-offload ;; gro) k=generic-receive-offload ;; *) k=$1 ;;
		esac
		grep -Eq "^$k: $2( |\$)" "$WORK/features" || { echo "$dev: $(grep "^$k:" "$WORK/features"), not $2"; return 1; }
		shift 2
	done
}
# wire_ok PCAP PROTO MIN: tests/wire.py finds every frame <= 1514 bytes with
# valid checksums, and checked the TCP (6) or UDP (17) checksum of >= MIN.
wire_ok() {
	local out
	out=$($PY "$TOP/tests/wire.py" "$1" "$2") || return 1
	echo "frames, checked, biggest: $out"
	set -- $out "$3"
	[ "$2" -ge "$4" ]
}

head -c $((32 << 20)) /dev/urandom >"$WORK/blob"

start "$A" "$CA" || notok "ipipd start A"
PA=$STARTED
start "$B" "$CB" || notok "ipipd start B"
PB=$STARTED
check "Datapath = ebpf: ipipctl shows the fast path and how it is attached" bash -c \
	"ip netns exec $A $IPIPCTL show fpa | grep -E '^tunnel fpa: ebpf datapath \(configured; tcx programs; the underlay.s shared ingress; the namespace.s shared programs, slot [0-9]+\)'"
check "JSON: datapath ebpf" test "$(json "$A" fpa datapath)" = ebpf
check "ping A -> B and B -> A through the fast path" bash -c \
	"ip netns exec $A ping -c 3 -i 0.2 -W 2 198.51.100.32 && ip netns exec $B ping -c 3 -i 0.2 -W 2 198.51.100.31"
check "both programs carried the pings (fast_tx and fast_rx counters)" bash -c \
	"[ $(json "$A" fpa fast_tx_packets) -ge 3 ] && [ $(json "$B" fpb fast_rx_packets) -ge 3 ] &&
	 [ $(json "$B" fpb fast_tx_packets) -ge 3 ] && [ $(json "$A" fpa fast_rx_packets) -ge 3 ]"
check "tx/rx counters include the fast path (A tx = B rx)" bash -c \
	"[ $(json "$A" fpa tx_packets) -eq $(json "$B" fpb rx_packets) ]"

# The egress program sends straight to the next hop the daemon follows, not
# by a route and neighbour lookup for each packet (one a second goes that way,
# which keeps the neighbour entry verified): an inner packet's mark does not
# choose the outer route (as with the kernel's device, whose route is its
# own), and a forgotten neighbour loses no packet.
mac_of() { nsx "$1" cat "/sys/class/net/$2/address"; }
next_hop_is() { # next_hop_is NS NAME MAC: within 5 s
	for _ in $(seq 50); do [ "$(json "$1" "$2" fast_next_hop)" = "$3" ] && return 0; sleep 0.1; done
	echo "fast_next_hop $(json "$1" "$2" fast_next_hop), not $3"
	return 1
}
said_straight() { # said_straight NS NAME MAC: ipipctl show's words for it
	nsx "$1" "$IPIPCTL" show "$2" | grep "^  fast path output: straight to $3 on ifindex [0-9]"
}
check "A's fast path sends straight to B's underlay address ($(mac_of "$B" vb)), and ipipctl says so" \
	eval 'next_hop_is "$A" fpa "$(mac_of "$B" vb)" && said_straight "$A" fpa "$(mac_of "$B" vb)"'
nsx "$A" ip rule add fwmark 0x4 lookup 104 pref 104 &&
	nsx "$A" ip route add 192.0.2.32/32 via 192.0.2.99 dev va table 104 ||
	notok "A: a mark's rule to a route by a gateway that does not answer"
check "marked inner packets: answered (their outer packets not sent by the mark's route, whose gateway does not answer)" \
	nsx "$A" ping -c 3 -i 0.2 -W 2 -m 4 198.51.100.32
nsx "$A" ip rule del pref 104
nsx "$A" ip route flush table 104
nsx "$A" ip neigh flush dev va
check "A's neighbours flushed: the next ping through the fast path is answered" \
	nsx "$A" ping -c 1 -W 2 198.51.100.32

# Software segmentation on the underlay: the outer GSO packets are cut on A.
check "ethtool: A's underlay checksums and segments in software (tx, tso, gso, tx-ipxip4-segmentation off)" \
	features "$A" va tx off tso off gso off tx-ipxip4-segmentation off
TX0=$(tun_tx "$A" fpa)
FT0=$(json "$A" fpa fast_tx_packets)
capture TD_WIRE "$A" va "$WORK/wire.pcap" 'ip proto 4 and src host 192.0.2.31'
check "32 MiB TCP A -> B with software segmentation on the underlay arrives intact" \
	transfer "$A" "$B" 198.51.100.32 5201 "$WORK/blob"
stop_capture "$TD_WIRE"
check "on the wire: every frame <= 1514 bytes, outer/inner IPv4 and TCP checksums valid (> 20000 frames)" \
	wire_ok "$WORK/wire.pcap" 6 20001
FT=$(( $(json "$A" fpa fast_tx_packets) - FT0 ))
TX=$(( $(tun_tx "$A" fpa) - TX0 ))
check "the transfer took the fast path: $FT segments (>= 23000), $TX packets to the daemon (< 100)" \
	test "$FT" -ge 23000 -a "$TX" -lt 100
features "$A" va tx on tso on gso on tx-ipxip4-segmentation on ||
	notok "ethtool: A's underlay offloads back on"

# A "NIC-like" underlay: no TSO, GRO on: B's ingress program sees GRO packets.
nic_like() { features "$A" va tso off gro on && features "$B" vb tso off gro on; }
check "ethtool: both underlays NIC-like (tso off, gro on)" nic_like
check "NIC-like underlay (tso off, gro on): 32 MiB A -> B intact" \
	transfer "$A" "$B" 198.51.100.32 5202 "$WORK/blob"
check "NIC-like underlay: 32 MiB B -> A intact" transfer "$B" "$A" 198.51.100.31 5203 "$WORK/blob"
features "$A" va tso on gro off && features "$B" vb tso on gro off || notok "ethtool: tso on, gro off again"
check "no drops counted on either end" bash -c \
	"ip netns exec $A $IPIPCTL show fpa | grep -q 'drops: none' &&
	 ip netns exec $B $IPIPCTL show fpb | grep -q 'drops: none'"

# The underlay replaced under the running tunnels (a new veth pair, new
# ifindexes): the programs follow the route to Remote within a few seconds.
nsx "$A" ip link del va
veth_pair "$A" va 192.0.2.31/24 "$B" vb 192.0.2.32/24 || notok "new underlay"
NEW_A=$(nsx "$A" cat /sys/class/net/va/ifindex) NEW_B=$(nsx "$B" cat /sys/class/net/vb/ifindex)
check "underlay replaced: both fast paths move to the new devices within 5 s" bash -c \
	"for i in \$(seq 50); do [ \$(ip netns exec $A $IPIPCTL show --json fpa | grep -o '\"fast_underlay\":[0-9]*' | cut -d: -f2) = $NEW_A ] &&
	 [ \$(ip netns exec $B $IPIPCTL show --json fpb | grep -o '\"fast_underlay\":[0-9]*' | cut -d: -f2) = $NEW_B ] && exit 0; sleep 0.1; done;
	 echo want $NEW_A $NEW_B; ip netns exec $A $IPIPCTL show --json fpa | grep -o '\"fast_underlay\":[^,]*'; exit 1"
FR0=$(json "$B" fpb fast_rx_packets) FT0=$(json "$B" fpb fast_tx_packets)
nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.32 >/dev/null
check "... through the fast path on the new devices (both directions)" test \
	$(( $(json "$B" fpb fast_rx_packets) - FR0 )) -ge 3 -a $(( $(json "$B" fpb fast_tx_packets) - FT0 )) -ge 3
check "... straight to the new devices' addresses (A to $(mac_of "$B" vb), B to $(mac_of "$A" va))" \
	eval 'next_hop_is "$A" fpa "$(mac_of "$B" vb)" && next_hop_is "$B" fpb "$(mac_of "$A" va)"'

# The same with FastPathAttach = clsact (kernels without tcx), in namespaces of
# its own: the ingress filter moves to the new underlay, through the loaded
# program (no new program may be loaded once the daemon runs).
ns_new C fpC && ns_new D fpD || exit 1
veth_pair "$C" vc 192.0.2.41/24 "$D" vd 192.0.2.42/24 || notok "clsact underlay"
CC=$(conf fpc.conf 192.0.2.41 192.0.2.42 198.51.100.41 198.51.100.42 $'ebpf\nFastPathAttach = clsact')
CD=$(conf fpd.conf 192.0.2.42 192.0.2.41 198.51.100.42 198.51.100.41)
start "$C" "$CC" || notok "ipipd starts on C with FastPathAttach = clsact"
PC=$STARTED
start "$D" "$CD" || notok "ipipd starts on D"
PD=$STARTED
nsx "$C" ping -c 2 -i 0.2 -W 2 198.51.100.42 >/dev/null || notok "clsact: the tunnel works before"
nsx "$C" ip link del vc
veth_pair "$C" vc 192.0.2.41/24 "$D" vd 192.0.2.42/24 || notok "clsact: new underlay"
NEW_C=$(nsx "$C" cat /sys/class/net/vc/ifindex)
check "clsact, underlay replaced: C's fast path moves to the new device within 5 s" bash -c \
	"for i in \$(seq 50); do [ \"\$(ip netns exec $C $IPIPCTL show --json fpc 2>/dev/null | grep -o '\"fast_underlay\":[0-9]*' | cut -d: -f2)\" = $NEW_C ] && exit 0; sleep 0.1; done
	 echo want $NEW_C; ip netns exec $C $IPIPCTL show --json fpc | grep -o '\"fast_underlay\":[^,]*'
	 kill -0 $PC || { echo ipipd on C, pid $PC, is gone; tail -n 3 '$WORK/ipipd.log'; }; exit 1"
check "clsact, underlay replaced: one filter of C's on the new device's ingress" \
	test "$(nsx "$C" tc filter show dev vc ingress | grep -c ipip_ingress)" = 1
FR0=$(json "$C" fpc fast_rx_packets 2>/dev/null) FT0=$(json "$C" fpc fast_tx_packets 2>/dev/null)
check "clsact, underlay replaced: ping through the fast path on the new device (both directions)" bash -c \
	"ip netns exec $D ping -c 3 -i 0.2 -W 2 198.51.100.41 >/dev/null &&
	 [ \$((\$(ip netns exec $C $IPIPCTL show --json fpc | grep -o '\"fast_rx_packets\":[0-9]*' | cut -d: -f2) - ${FR0:-0})) -ge 3 ] &&
	 [ \$((\$(ip netns exec $C $IPIPCTL show --json fpc | grep -o '\"fast_tx_packets\":[0-9]*' | cut -d: -f2) - ${FT0:-0})) -ge 3 ]"
check "clsact, underlay replaced: C's daemon still runs, and ipipctl down removes its filter" bash -c \
	"kill -0 $PC && ip netns exec $C $IPIPCTL down fpc && [ \$(ip netns exec $C tc filter show dev vc ingress | grep -c ipip_ingress) = 0 ]"
wait_gone "$PC"
nsx "$D" "$IPIPCTL" down fpd
wait_gone "$PD"

# The underlay's MTU lowered under the running tunnel: the fast path leaves the
# big packets to the slow path, which learns the new MTU and says so.
nsx "$A" ip link set va mtu 1400
nsx "$B" ip link set vb mtu 1400
check "underlay MTU 1400: a 1480-byte DF ping gets 'frag needed' with mtu 1380" bash -c \
	"ip netns exec $A ping -M do -s 1452 -c 2 -i 0.3 -W 1 198.51.100.32 | grep -q 'mtu = 1380'"
check "... and a 1380-byte DF ping then passes" \
	nsx "$A" ping -M do -s 1352 -c 2 -i 0.2 -W 2 198.51.100.32
check "... 32 MiB TCP A -> B still arrives intact" transfer "$A" "$B" 198.51.100.32 5204 "$WORK/blob"
nsx "$A" ip link set va mtu 1500
nsx "$B" ip link set vb mtu 1500

# Another tool's TC program on B's underlay ingress: drops ICMP echo requests
# of total length 100 (ping -s 72), leaves everything else to the next filter.
cat >"$WORK/other.bpf.c" <<'EOF'
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
SEC("tc")
int other(struct __sk_buff *skb)
{
	__u8 h[24];

	if (skb->protocol != __builtin_bswap16(0x0800) || bpf_skb_load_bytes(skb, 14, h, 24) < 0)
		return TC_ACT_UNSPEC;
	if (h[9] == 1 && h[2] == 0 && h[3] == 100 && h[20] == 8)
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}
char LICENSE[] SEC("license") = "GPL";
EOF
clang -target bpf -O2 -I/usr/include/$(gcc -dumpmachine) -c -o "$WORK/other.bpf.o" "$WORK/other.bpf.c" ||
	notok "the other TC program compiles"
nsx "$B" tc qdisc add dev vb clsact
nsx "$B" tc filter add dev vb ingress pref 7 bpf direct-action obj "$WORK/other.bpf.o" sec tc ||
	notok "the other TC program attaches"
other_works() {
	nsx "$A" ping -c 1 -W 1 -s 56 192.0.2.32 >/dev/null &&
		! nsx "$A" ping -c 1 -W 1 -s 72 192.0.2.32 >/dev/null &&
		nsx "$B" tc filter show dev vb ingress | grep -q 'other.bpf.o'
}
check "the other TC program works while B's fast path runs" other_works
check "... and B's tunnel still works beside it" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.32

# SIGKILL: nothing of B's fast path may stay (tcx links die with the process).
B_PROGS=$(json "$B" fpb fast_programs)
check "ipipctl names the fast path's programs ($B_PROGS) and bpftool lists them" bash -c \
	"[ -n '$B_PROGS' ] && for id in $B_PROGS; do bpftool prog show id \$id | grep -q ipip_ || exit 1; done"
kill -KILL "$PB"
wait_gone "$PB" || notok "B dies on SIGKILL"
check "after SIGKILL: B's programs are unloaded" none_left $B_PROGS
check "after SIGKILL: the other TC program still works and its filter is still there" other_works
start "$B" "$CB" || notok "ipipd restart B at once after SIGKILL"
PB=$STARTED
check "restart at once after SIGKILL: the tunnel works" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.32
check "... with the fast path" bash -c "[ $(json "$B" fpb fast_rx_packets) -ge 2 ]"
nsx "$B" "$IPIPCTL" down fpb
wait_gone "$PB" || notok "ipipctl down stops B"
check "after ipipctl down: the other program's clsact qdisc and filter are still there" other_works

# Without the privilege to load BPF programs (no CAP_BPF, CAP_SYS_ADMIN).
NOBPF="setpriv --bounding-set=-bpf,-sys_admin,-perfmon --inh-caps=-bpf,-sys_admin,-perfmon"
DUMP=$(dump "$B")
OUT=$(nsx "$B" $NOBPF "$IPIPD" -f "$CB" 2>&1)
RC=$?
refused() { echo "$2"; [ "$1" -eq 1 ] && grep -q 'fpb: Datapath = ebpf: cannot load the eBPF programs' <<<"$2"; }
check "Datapath = ebpf without CAP_BPF: exit 1 and a clear error" refused "$RC" "$OUT"
check "... and the host is as before" diff <(echo "$DUMP") <(dump "$B")
CB2=$(conf fpb.conf 192.0.2.32 192.0.2.31 198.51.100.32 198.51.100.31 auto)
printf '#!/bin/sh\nexec %s %s "$@"\n' "$NOBPF" "$IPIPD" >"$WORK/nobpf-ipipd"
chmod +x "$WORK/nobpf-ipipd"
IPIPD_SAVED=$IPIPD
IPIPD=$WORK/nobpf-ipipd
start "$B" "$CB2" || notok "ipipd (auto) starts without CAP_BPF"
PB=$STARTED
IPIPD=$IPIPD_SAVED
check "Datapath = auto without CAP_BPF: userspace, and ipipctl says why" bash -c \
	"ip netns exec $B $IPIPCTL show fpb | grep -q '^tunnel fpb: userspace datapath (.*eBPF: cannot load the eBPF programs'"
check "... and the tunnel works against A's fast path" \
	nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.32
# Over veth a fast-path sender's TCP packets arrive with partial checksums and
# as super-packets (as from the kernel's ipip on the same host): the userspace
# receiver completes or keeps them (GSO write) instead of dropping them.
check "32 MiB TCP A (fast path) -> B (userspace) arrives intact" \
	transfer "$A" "$B" 198.51.100.32 5205 "$WORK/blob"
check "32 MiB TCP B (userspace) -> A (fast path) arrives intact" \
	transfer "$B" "$A" 198.51.100.31 5206 "$WORK/blob"
check "... no drops on B, no checksum failures" bash -c \
	"ip netns exec $B $IPIPCTL show fpb | grep -q 'drops: none'"
nsx "$B" "$IPIPCTL" down fpb
wait_gone "$PB" || notok "ipipctl down stops B (auto)"

# FastPathAttach = clsact (what kernels without tcx get): a filter with a fixed
# handle beside the other tool's, replaced after a crash, removed on stop or
# by ipipctl cleanup; the qdisc and the other filter always stay.
CB3=$(conf fpb.conf 192.0.2.32 192.0.2.31 198.51.100.32 198.51.100.31 $'ebpf\nFastPathAttach = clsact')
ours() { nsx "$B" tc filter show dev vb ingress | grep -c 'ipip_ingress'; }
start "$B" "$CB3" || notok "ipipd starts with FastPathAttach = clsact"
PB=$STARTED
check "clsact: ipipctl says so, one filter of ours on the underlay" bash -c \
	"ip netns exec $B $IPIPCTL show fpb | grep -q 'ebpf datapath (configured; clsact programs; own ingress (FastPathAttach = clsact))' && [ \$(ip netns exec $B tc filter show dev vb ingress | grep -c ipip_ingress) = 1 ]"
check "clsact: the tunnel works with the fast path" bash -c \
	"ip netns exec $A ping -c 2 -i 0.2 -W 2 198.51.100.32 && [ \$(ip netns exec $B $IPIPCTL show --json fpb | grep -o '\"fast_rx_packets\":[0-9]*' | cut -d: -f2) -ge 2 ]"
check "clsact: the other TC program works beside it" other_works
kill -KILL "$PB"
wait_gone "$PB" || notok "B dies on SIGKILL (clsact)"
check "clsact: after SIGKILL the filter is left (the documented caveat)" test "$(ours)" = 1
start "$B" "$CB3" || notok "clsact: restart at once after SIGKILL"
PB=$STARTED
check "clsact: the restart replaced it (still one) and the tunnel works" bash -c \
	"[ \$(ip netns exec $B tc filter show dev vb ingress | grep -c ipip_ingress) = 1 ] && ip netns exec $A ping -c 2 -i 0.2 -W 2 198.51.100.32"
kill -KILL "$PB"
wait_gone "$PB" || notok "B dies on SIGKILL (clsact)"
check "clsact: ipipctl cleanup removes the leftover filter" bash -c \
	"ip netns exec $B $IPIPCTL cleanup fpb && [ \$(ip netns exec $B tc filter show dev vb ingress | grep -c ipip_ingress) = 0 ]"
check "clsact: ... and only that: the other program still works" other_works
start "$B" "$CB3" || notok "clsact: start again"
PB=$STARTED
nsx "$B" "$IPIPCTL" down fpb
wait_gone "$PB" || notok "ipipctl down stops B (clsact)"
check "clsact: ipipctl down removes our filter, the qdisc and the other filter stay" bash -c \
	"[ \$(ip netns exec $B tc filter show dev vb ingress | grep -c ipip_ingress) = 0 ]"
check "clsact: ... and the other program still works" other_works
# The underlay's tcx ingress full (the kernel takes 64 programs a hook,
# BPF_MPROG_MAX: many tunnels on one underlay): FastPathAttach = auto takes a
# clsact filter instead, which runs after them; tcx alone refuses, saying why.
gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/tcxfill" "$TOP/tests/tools/tcxfill.c" -lbpf ||
	notok "build tests/tools/tcxfill.c"
ns_new E fpE && ns_new F fpF || exit 1
veth_pair "$E" ue 192.0.2.51/24 "$F" uf 192.0.2.52/24 || notok "tcx: underlay"
# (bg: $BG is tcxfill's own PID, which the cleanup ends; a function put in
# the background with & would leave it running)
bg "$F" "$WORK/tcxfill" "$(nsx "$F" cat /sys/class/net/uf/ifindex)" 100 >"$WORK/tcxfill.out" 2>&1
FILL=$BG
for _ in $(seq 100); do [ -s "$WORK/tcxfill.out" ] && break; sleep 0.1; done
check "tcx: the underlay's ingress takes no more programs ($(head -c 80 "$WORK/tcxfill.out" | tr '\n' ' '))" \
	grep -q '^tcxfill: link [0-9]*: Numerical result out of range' "$WORK/tcxfill.out"
CE=$(conf fpe.conf 192.0.2.51 192.0.2.52 198.51.100.51 198.51.100.52)
CF=$(conf fpf.conf 192.0.2.52 192.0.2.51 198.51.100.52 198.51.100.51)
start "$E" "$CE" || notok "tcx: ipipd starts on E"
start "$F" "$CF" || notok "tcx: ipipd starts on F, its underlay's tcx ingress full"
PF=$STARTED
check "tcx full: F takes clsact programs and ipipctl says why" bash -c \
	"ip netns exec $F $IPIPCTL show fpf | grep -q \"^tunnel fpf: ebpf datapath (configured; clsact programs (the underlay's tcx ingress holds the most programs the kernel takes, 63); own ingress)\""
check "tcx full: E <-> F through F's fast path, behind the other programs" bash -c \
	"ip netns exec $E ping -c 2 -i 0.2 -W 2 198.51.100.52 >/dev/null && [ \$(ip netns exec $F $IPIPCTL show --json fpf | grep -o '\"fast_rx_packets\":[0-9]*' | cut -d: -f2) -ge 2 ]"
nsx "$F" "$IPIPCTL" down fpf
wait_gone "$PF" || notok "tcx full: ipipctl down stops F"
check "tcx full: ipipctl down removes F's clsact filter" \
	test "$(nsx "$F" tc filter show dev uf ingress | grep -c ipip_ingress)" = 0
CF2=$(conf fpf.conf 192.0.2.52 192.0.2.51 198.51.100.52 198.51.100.51 $'ebpf\nFastPathAttach = tcx')
OUT=$(nsx "$F" "$IPIPD" -f "$CF2" 2>&1)
RC=$?
tcx_refused() { echo "$2"; [ "$1" -eq 1 ] && grep -q 'fpf: Datapath = ebpf: cannot attach to the underlay.s ingress: it holds the most tcx programs the kernel takes (63)' <<<"$2"; }
check "tcx full, FastPathAttach = tcx: exit 1 and the reason" tcx_refused "$RC" "$OUT"
kill "$FILL"

A_PROGS=$(json "$A" fpa fast_programs)
kill -TERM "$PA"
a_stopped() {
	wait_gone "$PA" || { echo "still running 10 s after SIGTERM"; return 1; }
	! nsx "$A" ip link show fpa 2>/dev/null || { echo "fpa is still there"; return 1; }
	! ls "$(rundir "$A")"/fpa.* 2>/dev/null || { echo "runtime files left"; return 1; }
	[ -n "$A_PROGS" ] && none_left $A_PROGS || { echo "programs ($A_PROGS)"; return 1; }
	diff <(echo "$BEFORE_A") <(norm_dump "$A")
}
check "the daemon on A stops cleanly on SIGTERM: exits, no fpa, no runtime files, programs ($A_PROGS) unloaded, A as before" \
	a_stopped
finish

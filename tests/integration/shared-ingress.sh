#!/bin/bash
# Several tunnels on one underlay share one eBPF ingress program (src/fpshare.c).
#
#   A  va 192.0.2.41-.43/24 ---- veth ---- vb 192.0.2.51-.53/24  B
#      tunnels sa1..sa3 (198.51.100.41-.43)      sb1..sb3 (198.51.100.51-.53)
#      and a FOU tunnel sa4 <-> sb4 on the first addresses, port 5541/5551
#   C  vc 203.0.113.1/24 ---- veth ---- vd 203.0.113.2/24  D
#      70 tunnels sc0..sc69 to 203.0.113.100-169 (D runs none)
#
# The underlay's tcx ingress holds one program however many tunnels use it,
# and each tunnel's packets still reach its own device through the fast path.
# A fourth tunnel with an existing one's outer addresses is refused, saying
# which.  When the daemon whose copy is attached stops, or is killed, the
# others keep working (on the slow path at once) and one of them attaches its
# copy within seconds; a killed tunnel restarts at once.  70 tunnels share
# one program on one underlay (a tcx hook takes 63), and when all are killed
# nothing of theirs stays.  When the last one stops, nothing is left: no
# program on the hook, none loaded.
set -u
. "$(dirname "$0")/../lib.sh"

if ! bpftool prog show >/dev/null 2>&1; then
	echo "ok - # SKIP: this kernel does not allow BPF programs here"
	exit 0
fi

gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/tcxquery" "$TOP/tests/tools/tcxquery.c" -lbpf ||
	notok "build tests/tools/tcxquery.c"
ns_new A shA && ns_new B shB || exit 1
veth_pair "$A" va 192.0.2.41/24 "$B" vb 192.0.2.51/24 || exit 1
for i in 2 3; do
	nsx "$A" ip addr add 192.0.2.4$i/24 dev va
	nsx "$B" ip addr add 192.0.2.5$i/24 dev vb
done
VA=$(nsx "$A" cat /sys/class/net/va/ifindex)
VB=$(nsx "$B" cat /sys/class/net/vb/ifindex)

conf() { # conf FILE LOCAL REMOTE ADDR PEER [MORE]
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = ebpf\n%b[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$2" "$3" "${6:-}" "$4" "$5" >"$WORK/$1"
	echo "$WORK/$1"
}
declare -A CONF PID
for i in 1 2 3; do
	CONF[sa$i]=$(conf sa$i.conf 192.0.2.4$i 192.0.2.5$i 198.51.100.4$i 198.51.100.5$i)
	CONF[sb$i]=$(conf sb$i.conf 192.0.2.5$i 192.0.2.4$i 198.51.100.5$i 198.51.100.4$i)
done
CONF[sa4]=$(conf sa4.conf 192.0.2.41 192.0.2.51 198.51.100.44 198.51.100.54 \
	'Encapsulation = fou\nPort = 5541\nRemotePort = 5551\n')
CONF[sb4]=$(conf sb4.conf 192.0.2.51 192.0.2.41 198.51.100.54 198.51.100.44 \
	'Encapsulation = fou\nPort = 5551\nRemotePort = 5541\n')
ns_of() { [ "${1:1:1}" = a ] && echo "$A" || echo "$B"; }
up() { start "$(ns_of "$1")" "${CONF[$1]}" && PID[$1]=$STARTED; }
peer() { local n=${1:2}; [ "${1:1:1}" = a ] && echo "198.51.100.5$n" || echo "198.51.100.4$n"; }
for t in sa1 sa2 sa3 sa4 sb1 sb2 sb3 sb4; do up $t || notok "ipipd start $t"; done

tcx() { nsx "$1" "$WORK/tcxquery" "$2"; }
ALL_PROGS=
# one_program NS IFINDEX: exactly one program on the hook (within 4 s); its ID kept.
one_program() {
	local p
	for _ in $(seq 40); do
		p=$(tcx "$1" "$2")
		if [ "$(wc -w <<<"$p")" -eq 1 ]; then
			[ "$1" = "$A" ] && ALL_PROGS="$ALL_PROGS $p"
			return 0
		fi
		sleep 0.1
	done
	echo "tcx ingress of ifindex $2: '$p'"
	return 1
}
# fast T [rx|tx]: T's pings to its peer come back (rx, the default) or leave
# (tx) through the fast path: fast_rx (fast_tx) grows by >= 3.
fast() {
	local ns c=fast_${2:-rx}_packets r0
	ns=$(ns_of "$1")
	r0=$(json "$ns" "$1" $c)
	nsx "$ns" ping -c 3 -i 0.2 -W 2 "$(peer "$1")" || return 1
	[ $(( $(json "$ns" "$1" $c) - r0 )) -ge 3 ] ||
		{ echo "$1: $c $r0 -> $(json "$ns" "$1" $c)"; return 1; }
}
# eventually_fast T: within 4 s.
eventually_fast() {
	for _ in $(seq 8); do fast "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
	fast "$1"
}
shared() { nsx "$(ns_of "$1")" "$IPIPCTL" show "$1" | grep -q "the underlay's shared ingress"; }
all_fast() { local t; for t in "$@"; do eventually_fast "$t" || return 1; done; }
all_shared() { local t; for t in "$@"; do shared "$t" || { echo "$t: not shared"; return 1; }; done; }
# own_counts: A's tunnels each received what B's sent them.
own_counts() {
	local a b i
	for i in 1 2 3 4; do
		a=$(json "$A" sa$i rx_packets) b=$(json "$B" sb$i tx_packets)
		[ "$a" -eq "$b" ] || { echo "sa$i rx $a, sb$i tx $b"; return 1; }
	done
}

check "each of the 8 tunnels takes the underlay's shared ingress (ipipctl show)" \
	all_shared sa1 sa2 sa3 sa4 sb1 sb2 sb3 sb4
check "A's underlay: one program on its tcx ingress for 4 tunnels" one_program "$A" "$VA"
check "B's underlay: one program on its tcx ingress for 4 tunnels" one_program "$B" "$VB"
for t in sa1 sa2 sa3 sa4 sb1 sb2 sb3 sb4; do
	check "$t: pings through its own tunnel come back through the fast path" fast $t
done
check "each of A's tunnels received only its own (B's tx = A's rx per tunnel)" own_counts

# slot_of NS T: T's slot of the namespace's shared programs (ipipctl show).
slot_of() {
	nsx "$1" "$IPIPCTL" show "$2" | sed -n "s/.*the namespace's shared programs, slot \([0-9]*\).*/\1/p"
}
# One copy of the programs for all of A's tunnels, a slot each.
same_programs() {
	local t p first= slots=
	for t in sa1 sa2 sa3 sa4; do
		p=$(json "$A" $t fast_programs)
		[ -n "$first" ] || first=$p
		[ "$p" = "$first" ] || { echo "$t: programs $p, sa1's $first"; return 1; }
		slots="$slots $(slot_of "$A" $t)"
	done
	echo "programs $first; slots$slots"
	[ "$(tr ' ' '\n' <<<"$slots" | grep -c .)" -eq 4 ] &&
		[ "$(tr ' ' '\n' <<<"$slots" | grep . | sort -u | wc -l)" -eq 4 ]
}
check "A's 4 tunnels run one copy of the programs, each in a slot of its own" same_programs
# Each process of a tunnel maps its own slot and counters, no other tunnel's:
# no mapping of a BPF map larger than one tunnel's counters (a page here).
PAGE=$(getconf PAGESIZE)
CTR_MAX=$(( ($(nproc --all) * 64 + PAGE - 1) / PAGE * PAGE ))
own_pages() {
	local t p kids range size n=0
	for t in sa1 sa2 sa3 sa4; do
		kids=$(cat /proc/"${PID[$t]}"/task/*/children 2>/dev/null)
		for p in ${PID[$t]} $kids; do
			while read -r range _; do
				size=$(( 0x${range#*-} - 0x${range%-*} ))
				n=$((n + 1))
				[ "$size" -le "$CTR_MAX" ] ||
					{ echo "$t (pid $p) maps $size bytes of a BPF map"; return 1; }
			done < <(grep 'anon_inode:bpf-map' /proc/"$p"/maps)
		done
	done
	echo "$n mappings of BPF maps, none above $CTR_MAX bytes"
	[ "$n" -ge 16 ]	# slot and counters, in each tunnel's two processes
}
check "each of A's tunnels' processes maps its own slot and counters only" own_pages

# A tunnel takes the slot its device's number points at (ifindex % 256, the
# shared copy's slots) when it is free: its egress program finds it without
# a hash lookup (src/bpf/ipip.bpf.c).
ifindex_of() { nsx "$1" cat /sys/class/net/"$2"/ifindex; }
guessed_slots() {
	local t s i
	for t in sa1 sa2 sa3 sa4; do
		s=$(slot_of "$A" $t) i=$(ifindex_of "$A" $t)
		echo "$t: ifindex $i, slot $s"
		[ "$s" = $((i % 256)) ] || return 1
	done
}
check "each of A's tunnels takes the slot its device's number points at (ifindex % 256)" guessed_slots
# sa5's device gets sa1's number + 256 (filler devices take the numbers
# between: TUN devices, the one kind sure to be there): its slot is taken,
# it takes another, and its egress finds that one by the hash map.  Its
# packets and sa1's each go out with their own tunnel's header, counted for
# their own tunnel.
nsx "$A" ip addr add 192.0.2.44/24 dev va
nsx "$B" ip addr add 192.0.2.54/24 dev vb
CONF[sa5]=$(conf sa5.conf 192.0.2.44 192.0.2.54 198.51.100.45 198.51.100.55)
CONF[sb5]=$(conf sb5.conf 192.0.2.54 192.0.2.44 198.51.100.55 198.51.100.45)
I1=$(ifindex_of "$A" sa1)
NEXT=$(( $(nsx "$A" ip -o link show | sed -n 's/^\([0-9]*\):.*/\1/p' | sort -n | tail -1) + 1 ))
for i in $(seq "$NEXT" $((I1 + 255))); do echo "tuntap add dev sdum$i mode tun"; done |
	nsx "$A" ip -batch - || notok "filler devices in $A"
up sa5 || notok "ipipd start sa5"
up sb5 || notok "ipipd start sb5"
nsx "$A" ip -o link show | grep -o 'sdum[0-9]*' | while read -r d; do echo "tuntap del dev $d mode tun"; done |
	nsx "$A" ip -batch - || notok "remove the filler devices in $A"
collides() {
	local i5 s5 s1
	i5=$(ifindex_of "$A" sa5) s5=$(slot_of "$A" sa5) s1=$(slot_of "$A" sa1)
	echo "sa1: ifindex $I1, slot $s1; sa5: ifindex $i5, slot $s5"
	[ $((i5 % 256)) -eq $((I1 % 256)) ] && [ "$s1" = $((I1 % 256)) ] && [ -n "$s5" ] && [ "$s5" != "$s1" ]
}
check "sa5 (ifindex sa1's + 256): sa1's slot is taken, sa5 takes another" collides
check "sa5: pings leave through the fast path and come back" fast sa5 tx
check "sa1: pings leave through the fast path and come back" fast sa1 tx
tx_counts() { # B's tunnels each received what A's sent them
	local a b i
	for i in 1 2 3 4 5; do
		a=$(json "$A" sa$i tx_packets) b=$(json "$B" sb$i rx_packets)
		[ "$a" -eq "$b" ] || { echo "sa$i tx $a, sb$i rx $b"; return 1; }
	done
}
check "each of B's tunnels received only what its own peer sent (A's tx = B's rx per tunnel)" tx_counts
nsx "$A" "$IPIPCTL" down sa5 >/dev/null 2>&1
nsx "$B" "$IPIPCTL" down sb5 >/dev/null 2>&1
wait_gone "${PID[sa5]}" && wait_gone "${PID[sb5]}" || notok "ipipctl down sa5, sb5"

# The same outer addresses as sa1: refused, naming sa1.
CX=$(conf sax.conf 192.0.2.41 192.0.2.51 198.51.100.49 198.51.100.59)
OUT=$(nsx "$A" "$IPIPD" -f "$CX" 2>&1)
RC=$?
taken() { echo "$OUT"; [ "$RC" -eq 1 ] && grep -q "sax: Datapath = ebpf: cannot share the underlay's ingress program: tunnel sa1 already takes the outer packets from 192.0.2.51 to 192.0.2.41 on ifindex $VA" <<<"$OUT"; }
check "a tunnel with sa1's outer addresses: exit 1, naming sa1" taken
check "... and sa1 still works" fast sa1

# The daemon whose copy is attached goes: the others take over.
nsx "$A" "$IPIPCTL" down sa1 >/dev/null 2>&1
wait_gone "${PID[sa1]}" || notok "ipipctl down sa1"
check "sa1 down: sa2 works at once (fast or slow)" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.52
check "sa1 down: one program on A's hook again within 4 s" one_program "$A" "$VA"
check "sa1 down: sa2, sa3 and sa4 through the fast path again" all_fast sa2 sa3 sa4
up sa1 || notok "ipipd restart sa1"
check "sa1 back: shared again" shared sa1
check "sa1 back: through the fast path" all_fast sa1
check "sa1 back: still one program on A's hook" one_program "$A" "$VA"

# SIGKILL, whichever holds the link: the rest goes on; a restart works at once.
for t in sa2 sa3; do
	kill -KILL "${PID[$t]}"
	wait_gone "${PID[$t]}" || notok "$t dies on SIGKILL"
	check "$t killed: one program on A's hook within 4 s" one_program "$A" "$VA"
	check "$t killed: sa1 and sa4 through the fast path" all_fast sa1 sa4
	up $t || notok "ipipd restart $t at once after SIGKILL"
	check "$t restarted at once: through the fast path" all_fast $t
done

# More tunnels on one underlay than a tcx hook takes programs (63): C's 70
# tunnels (to addresses of D, which runs none) all share its one program.
ns_new C shC && ns_new D shD || exit 1
veth_pair "$C" vc 203.0.113.1/24 "$D" vd 203.0.113.2/24 || exit 1
VC=$(nsx "$C" cat /sys/class/net/vc/ifindex)
MANY=()
for i in $(seq 0 69); do
	c=$(conf sc$i.conf 203.0.113.1 203.0.113.$((100 + i)) 198.51.100.$((100 + i)) 198.51.100.$((170 + i)))
	start "$C" "$c" || { notok "ipipd start sc$i"; break; }
	MANY+=("$STARTED")
done
many_shared() {
	local i
	for i in $(seq 0 69); do shared_in "$C" sc$i || { echo "sc$i: not shared"; return 1; }; done
}
shared_in() { nsx "$1" "$IPIPCTL" show "$2" | grep -q "the underlay's shared ingress"; }
check "70 tunnels on one underlay: every one takes the shared ingress" many_shared
check "70 tunnels on one underlay: one program on its tcx ingress" one_program "$C" "$VC"
# SIGKILL to every one: what they shared goes with the last of them.
C_PROGS=$(for i in $(seq 0 69); do json "$C" sc$i fast_programs; done | tr -s ' \n' ' ')
C_HOOK=$(tcx "$C" "$VC")
for p in "${MANY[@]}"; do kill -KILL "$p"; done
for p in "${MANY[@]}"; do wait_gone "$p" || notok "sc tunnel $p dies on SIGKILL"; done
c_gone() {
	local left id
	for _ in $(seq 50); do
		left=
		for id in $C_PROGS $C_HOOK; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
		[ -z "$left" ] && [ -z "$(tcx "$C" "$VC")" ] && return 0
		sleep 0.1
	done
	echo "still loaded:$left; on the hook: $(tcx "$C" "$VC")"
	return 1
}
check "70 tunnels killed (SIGKILL): nothing on C's hook, none of their programs loaded" c_gone

# All of A's tunnels stop: nothing is left on the hook or loaded.
A_PROGS=$(for t in sa1 sa2 sa3 sa4; do json "$A" $t fast_programs; done | tr -s ' \n' ' ')
for t in sa1 sa2 sa3 sa4; do nsx "$A" "$IPIPCTL" down $t >/dev/null 2>&1; done
for t in sa1 sa2 sa3 sa4; do wait_gone "${PID[$t]}" || notok "ipipctl down $t"; done
gone() {
	local left id
	for _ in $(seq 50); do
		left=
		for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left $id"; done
		[ -z "$left" ] && [ -z "$(tcx "$A" "$VA")" ] && return 0
		sleep 0.1
	done
	echo "still loaded:$left; on the hook: $(tcx "$A" "$VA")"
	return 1
}
check "all of A's tunnels down: no program on the hook, none of theirs loaded ($A_PROGS$ALL_PROGS)" \
	gone $A_PROGS $ALL_PROGS
finish

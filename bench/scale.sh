#!/bin/bash
# make bench, scale section: ipipd with many peers and many tunnels against
# itself with one, in the same run.
#
# Two namespaces joined by a veth pair as in bench/bench.sh (side A pinned to
# CPU 0, side B to CPU 1), ipipd's userspace datapath at nice 0 (BENCH_NICE).
#
# Hub: A is a hub (Remote = any) with N peers: B's ipipd (a point-to-point
# end) and N-1 more, each the gateway of a /32 route into the hub (added with
# `ip route ... onlink`, as a routing daemon would).  The other peers'
# outer addresses are B's too (more addresses on B's link, with permanent
# neighbour entries at A, so that ARP is not measured), and B rewrites the
# outer destination of every protocol-4 packet to the address its ipipd
# listens on (a stateless nftables rule, the same for every N; on the eBPF
# path bench/retarget.bpf.c as generic XDP, which runs before the fast
# path's programs), so that one point-to-point end decapsulates what the hub
# sends to all of them.
# Point-to-point: K tunnels on A (K ipipd daemons, one Local, K Remotes) to K
# at B (one Local each), on the userspace datapath and on the eBPF fast path.
#
# Each configuration is set up afresh in each run; the runs are interleaved
# (run 1 of every configuration, then run 2, ...).  Measured each time:
#   tcp1   one TCP stream (iperf3, 2 s warm-up discarded), Gbit/s: to B's
#          ipipd through the hub; through the tunnel started last (on the
#          eBPF path its ingress program is the last one a packet meets)
#   spray  1400-byte UDP datagrams sent as fast as A goes, round robin to one
#          inner address behind every peer (every tunnel), Gbit/s of inner
#          packets B's ipipd decapsulated (B drops them after its tunnels)
#   rss    the resident memory of A's ipipd processes (every page once,
#          bench/rss_pair.py), after the load, MiB
# For each N above 1, the same spray also goes to N destinations behind one
# peer (one tunnel): the hub's N routes all via B's ipipd, or N addresses
# of B behind one tunnel.  The ratio to it is the cost of N peers (tunnels)
# alone; the ratio to the single peer's own figure, to one destination,
# also counts what N destinations cost the sender and the receiver.
# and, with the most peers, route churn: for CHURN seconds while datagrams go
# to every peer at RATE a second, A's routes into the hub change 1000 times a
# second (add and delete of prefixes shorter than the peers' /32 routes, so
# no datagram's route ever goes); every datagram sent must come out at B.
#
#   BENCH_QUICK=1          1 run, 3 s measurements
#   BENCH_RUNS=N           runs (default 3)
#   BENCH_TIME=S           seconds per measurement (default 10)
#   SCALE_PEERS="1 100 375"   hub sizes (the TEST-NET ranges hold 768
#                          addresses, and each peer takes an outer and an
#                          inner one: 379 at most)
#   SCALE_TUNNELS="1 10 100"  point-to-point tunnel counts (at most 200)
#   SCALE_DATAPATHS="userspace ebpf"  for the point-to-point rows
#   SCALE_HUB_DATAPATHS="userspace ebpf"  for the hub's rows (B's end on
#                          the same datapath)
#   SCALE_CHURN=S SCALE_RATE=PPS  the route churn (default 5 s, 20000/s; 0: none)
#   BENCH_OUT=FILE         append the markdown section there, every run's
#                          values in FILE.scale.tsv
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/common.sh"
IPIPD=${IPIPD:-$TOP/build/ipipd}
IPIPCTL=$(dirname "$IPIPD")/ipipctl
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-1}; DUR=${BENCH_TIME:-3}; WARM=1
else RUNS=${BENCH_RUNS:-3}; DUR=${BENCH_TIME:-10}; WARM=2; fi
NICE=${BENCH_NICE:-0}
PEERS_LIST=${SCALE_PEERS-"1 100 375"}
TUNNELS_LIST=${SCALE_TUNNELS-"1 10 100"}
DATAPATHS=${SCALE_DATAPATHS-"userspace ebpf"}
HUB_DATAPATHS=${SCALE_HUB_DATAPATHS-"userspace ebpf"}
CHURN=${SCALE_CHURN:-5}
RATE=${SCALE_RATE:-20000}

[ "$(id -u)" -eq 0 ] || { echo "scale: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "scale: needs 2 CPUs" >&2; exit 1; }
[ -x "$IPIPD" ] && [ -x "$IPIPCTL" ] || { echo "scale: $IPIPD or $IPIPCTL missing (make)" >&2; exit 1; }
for n in $PEERS_LIST; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 379 ] ||
		{ echo "scale: SCALE_PEERS: 1 to 379 each" >&2; exit 1; }
done
for n in $TUNNELS_LIST; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] ||
		{ echo "scale: SCALE_TUNNELS: 1 to 200 each" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/ipipd-scale.XXXXXX)
A=scA-$$
B=scB-$$
UA=192.0.2.1 UB=192.0.2.2
OA=198.51.100.254 OB=198.51.100.253	# the hub's and B's tunnel addresses
RESULTS=$WORK/results.tsv	# config metric run value status note
: >"$RESULTS"
BG=()
SPRAY=$WORK/spray

log() { echo "scale: $*" >&2; }

cleanup() {
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	ns_remove
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ina() { taskset -c 0 ip netns exec "$A" "$@"; }
inb() { taskset -c 1 ip netns exec "$B" "$@"; }
bga() { ina "$@" >>"$WORK/daemons.log" 2>&1 & BG+=($!); }
bgb() { inb "$@" >>"$WORK/daemons.log" 2>&1 & BG+=($!); }

put() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
	"$(printf '%s' "$6" | tr '\t\n|' '  /' | cut -c1-200)" >>"$RESULTS"; }
record() {
	if [[ $4 =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]]; then put "$1" "$2" "$3" "$4" ok "${5:-}"
	else log "$1: run $3: $2 failed: ${5:-no value}"; put "$1" "$2" "$3" nan failed "${5:-no value}"; fi
}

num() { [[ $1 =~ ^[0-9]+$ ]]; }	# digits only (of values pasted together)

# The i-th (0-based) of the peers' outer addresses and of their inner
# addresses: 192.0.2.3-254 then 198.51.100.1-126; 203.0.113.1-254 then
# 198.51.100.129-252.
outer_addr() { if [ "$1" -lt 252 ]; then echo 192.0.2.$(($1 + 3)); else echo 198.51.100.$(($1 - 251)); fi; }
inner_addr() { if [ "$1" -lt 254 ]; then echo 203.0.113.$(($1 + 1)); else echo 198.51.100.$(($1 - 125)); fi; }

setup_underlay() {
	ip netns add "$A" && ip netns add "$B" || exit 1
	ip -n "$A" link set lo up
	ip -n "$B" link set lo up
	ip link add va netns "$A" type veth peer vb netns "$B" || exit 1
	ip -n "$A" addr add $UA/24 dev va
	ip -n "$B" addr add $UB/24 dev vb
	ip -n "$A" link set va up
	ip -n "$B" link set vb up
	ip -n "$A" route add 198.51.100.0/25 dev va scope link
	ip -n "$B" route add 198.51.100.0/25 dev vb scope link
	for ns in "$A" "$B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	# B drops the datagrams sprayed at it: at its own addresses (port 9),
	# and the inner addresses behind the hub's other peers (blackholed).
	ip netns exec "$B" nft -f - <<-EOF || exit 1
	table ip scale {
		chain input { type filter hook input priority 0; udp dport 9 drop; }
	}
	EOF
	ip -n "$B" route add blackhole 203.0.113.0/24
	ip -n "$B" route add blackhole 198.51.100.128/25
	ina ping -c 1 -W 2 $UB >/dev/null || { log "underlay does not work"; exit 1; }
	MAC_B=$(ip -n "$B" -j link show vb | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
}

wait_link() { # NS DEV
	for _ in $(seq 300); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	log "$2 did not appear in $1"; return 1
}

wait_ping() { # DST
	for _ in $(seq 60); do ina ping -c 1 -W 0.5 "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
	log "no ping through the tunnel to $1"; return 1
}

# Stop every process in both namespaces but the iperf3 server, remove the
# tunnels' leftovers and what a configuration added to the underlay.
down_all() {
	stop_tunnels 100	# up to 200 daemons
	ip -n "$B" -o addr show dev vb | awk '$4 != "'$UB'/24" { print $4 }' |
		sed 's/^/addr del /; s/$/ dev vb/' | ip -n "$B" -batch - 2>/dev/null
	ip -n "$B" -o addr show dev lo | awk '$4 ~ /^203\.0\.113\./ { print $4 }' |
		sed 's/^/addr del /; s/$/ dev lo/' | ip -n "$B" -batch - 2>/dev/null
	ip -n "$A" neigh flush dev va nud permanent 2>/dev/null
	ip netns exec "$B" nft delete table ip scalehub 2>/dev/null
	ip -n "$B" link set dev vb xdpgeneric off 2>/dev/null
}

# B's addresses ADDR... on its link, with permanent neighbour entries at A.
b_addrs() {
	local a
	for a in "$@"; do echo "addr add $a/32 dev vb"; done | ip -n "$B" -batch - || return 1
	for a in "$@"; do echo "neigh replace $a lladdr $MAC_B dev va nud permanent"; done |
		ip -n "$A" -batch -
}

# ---- configurations: up_X N DATAPATH sets DST (TCP), LIST (spray), DEVS_B ----

up_hub() { # N DATAPATH [one]: N peers, or (one) N routes all via B's ipipd
	local n=$1 dp=$2 one=${3:-} i gws=()
	printf '[Tunnel]\nName = hub\nLocal = %s\nRemote = any\nAllowedRemotes = 192.0.2.0/24 198.51.100.0/25\nDatapath = %s\nNice = %s\n[Address]\nAddress = %s/32\n[Route]\nDestination = %s/32\nGateway = %s\n' \
		$UA "$dp" "$NICE" $OA $OB $UB >"$WORK/hub.conf"
	printf '[Tunnel]\nName = p1\nLocal = %s\nRemote = %s\nDatapath = %s\nNice = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UB $UA "$dp" "$NICE" $OB $OA >"$WORK/b1.conf"
	for ((i = 0; i < n - 1; i++)); do gws+=("$(outer_addr $i)"); done
	if [ -n "$one" ]; then
		for ((i = 0; i < n - 1; i++)); do gws[$i]=$UB; done
	elif [ ${#gws[@]} != 0 ]; then
		b_addrs "${gws[@]}" || return 1
	fi
	# One point-to-point end takes what is sent to every peer's address: the
	# outer destination rewritten before it looks (the eBPF path's programs
	# look before netfilter does: bench/retarget.bpf.c, as generic XDP).
	if [ "$dp" = ebpf ]; then
		ip -n "$B" link set dev vb xdpgeneric obj "$RETARGET" sec xdp || return 1
	else
		ip netns exec "$B" nft -f - <<-EOF || return 1
		table ip scalehub {
			chain pre { type filter hook prerouting priority raw; ip protocol 4 ip daddr != $UB ip daddr set $UB notrack; }
		}
		EOF
	fi
	bga "$IPIPD" -f "$WORK/hub.conf"
	bgb "$IPIPD" -f "$WORK/b1.conf"
	wait_link "$A" hub && wait_link "$B" p1 || return 1
	for ((i = 0; i < n - 1; i++)); do
		echo "route add $(inner_addr $i)/32 via ${gws[$i]} dev hub onlink"
	done | ip -n "$A" -batch - || return 1
	DST=$OB DEVS_B=p1
	{ echo $OB; for ((i = 0; i < n - 1; i++)); do inner_addr $i; done; } >"$WORK/list"
	# the hub follows the routes: all of them in its table
	for _ in $(seq 100); do
		[ "$(hub_routes)" = "$n" ] && return 0
		sleep 0.1
	done
	log "the hub holds $(hub_routes) routes, not $n"
	return 1
}

hub_routes() { ip netns exec "$A" "$IPIPCTL" show --json hub 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["hub_routes"])' 2>/dev/null; }
hub_drop() { ip netns exec "$A" "$IPIPCTL" show --json hub 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["drops"].get(sys.argv[1], 0))' "$1" 2>/dev/null; }

# One tunnel (a1 to b1) to N destinations: B's addresses 203.0.113.1-N
# (the tunnel's own and N-1 more on B's lo), routed into a1 at A.
up_p2pone() {
	local n=$1 dp=$2 k
	up_p2p 1 "$dp" || return 1
	for ((k = 2; k <= n; k++)); do echo "addr add 203.0.113.$k/32 dev lo"; done |
		ip -n "$B" -batch - || return 1
	for ((k = 2; k <= n; k++)); do echo "route add 203.0.113.$k/32 dev a1"; done |
		ip -n "$A" -batch - || return 1
	seq -f '203.0.113.%g' 1 "$n" >"$WORK/list"
}

up_hubone() { up_hub "$1" "$2" one; }

up_p2p() {
	local n=$1 dp=$2 k ub
	local -a ubs=()
	for ((k = 1; k <= n; k++)); do ubs+=("192.0.2.$((k + 1))"); done
	[ "$n" -le 1 ] || b_addrs "${ubs[@]:1}" || return 1
	for ((k = 1; k <= n; k++)); do
		ub=${ubs[$((k - 1))]}
		printf '[Tunnel]\nName = a%s\nLocal = %s\nRemote = %s\nDatapath = %s\nNice = %s\n[Address]\nAddress = 198.51.100.%s/32\nPeer = 203.0.113.%s\n' \
			$k $UA "$ub" "$dp" "$NICE" $k $k >"$WORK/a$k.conf"
		printf '[Tunnel]\nName = b%s\nLocal = %s\nRemote = %s\nDatapath = %s\nNice = %s\n[Address]\nAddress = 203.0.113.%s/32\nPeer = 198.51.100.%s\n' \
			$k "$ub" $UA "$dp" "$NICE" $k $k >"$WORK/b$k.conf"
	done
	# one after the other at A: the last one's programs are the last a packet meets
	for ((k = 1; k <= n; k++)); do
		bgb "$IPIPD" -f "$WORK/b$k.conf"
		bga "$IPIPD" -f "$WORK/a$k.conf"
		wait_link "$A" a$k || return 1
	done
	for ((k = 1; k <= n; k++)); do wait_link "$B" b$k || return 1; done
	DST=203.0.113.$n DEVS_B=$(seq -f 'b%g' 1 "$n" | paste -s -d ' ')
	seq -f '203.0.113.%g' 1 "$n" >"$WORK/list"
}

# ---- measurements -----------------------------------------------------------

rx_b() { # datagrams and inner bytes B's tunnels DEVS_B decapsulated, summed
	# (their own counters, on either datapath: a TUN device's own count is of
	# the coalesced packets written to it, and the eBPF path's redirect
	# into it is counted nowhere on it)
	ip netns exec "$B" "$IPIPCTL" show --json | python3 -c 'import json, sys
want = set(sys.argv[1:]); p = b = n = 0
for t in json.load(sys.stdin):
    if t["name"] in want:
        p += int(t["rx_packets"]); b += int(t["rx_bytes"]); n += 1
print(p, b) if n == len(want) else print("missing", n)' $DEVS_B
}

spray() { # SECONDS [PPS]: "SENT SECONDS"
	ina "$SPRAY" ${2:+-r "$2"} "$1" 9 "$WORK/list"
}

a_pids() { for p in $(ip netns pids "$A"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = ipipd ] && echo "$p"; done; }

measure() { # CONFIG RUN
	local c=$1 r=$2 out v p0 p1 b0 b1
	ina timeout 20 iperf3 -c "$DST" -t 1 >/dev/null 2>&1	# warm-up
	ina timeout $((DUR + WARM + 20)) iperf3 -c "$DST" -t "$DUR" -O "$WARM" -J >"$WORK/tcp.json" 2>&1
	if v=$(python3 "$TOP/bench/iperf_value.py" "$WORK/tcp.json" gbps); then record "$c" tcp1 "$r" "$v"
	else record "$c" tcp1 "$r" - "$v"; fi
	spray 1 >/dev/null	# warm-up: every peer's path used once
	sleep 0.5
	read -r p0 b0 <<<"$(rx_b)"
	out=$(spray "$DUR")
	sleep 0.5
	read -r p1 b1 <<<"$(rx_b)"
	set -- $out
	if [ $# = 2 ] && num "$p0$p1$b0$b1"; then
		record "$c" spray "$r" "$(python3 -c "print(($b1 - $b0) * 8 / $2 / 1e9)")" \
			"$1 sent, $((p1 - p0)) out at B"
	else record "$c" spray "$r" - "spray: $out"; fi
	# shellcheck disable=SC2046
	v=$(python3 "$TOP/bench/rss_pair.py" $(a_pids) 2>&1)
	record "$c" rss "$r" "$(python3 -c "print(${v% *} / 1024)" 2>/dev/null)" "$v"
}

# churn SECONDS: 1000 route changes a second at A (prefixes of /25 to /31
# inside the peers' inner ranges, each added then deleted, via one of the
# peers), as ip -batch commands fed at that pace; prints the changes made.
churn() {
	python3 - "$1" "$(outer_addr 0)" <<-'EOF' | ina ip -batch - >/dev/null 2>&1
	import ipaddress, sys, time
	secs, gw = float(sys.argv[1]), sys.argv[2]
	pfx = []
	for net in ("203.0.113.0/24", "198.51.100.128/25"):
	    n = ipaddress.ip_network(net)
	    for plen in range(n.prefixlen + 1, 32):
	        pfx += [str(s) for s in n.subnets(new_prefix=plen)]
	t0, done, i = time.monotonic(), 0, 0
	while time.monotonic() - t0 < secs:
	    due = t0 + done / 1000.0
	    if due > time.monotonic():
	        time.sleep(due - time.monotonic())
	    p = pfx[(i // 2) % len(pfx)]
	    op = "add" if i % 2 == 0 else "del"
	    sys.stdout.write("route %s %s via %s dev hub onlink\n" % (op, p, gw) if op == "add"
	                     else "route del %s dev hub\n" % p)
	    sys.stdout.flush()
	    i += 1; done += 1
	sys.stderr.write("%d %.3f\n" % (done, time.monotonic() - t0))
	EOF
}

measure_churn() { # CONFIG RUN
	local c=$1 r=$2 p0 p1 b0 b1 d0 d1 out stat
	read -r p0 b0 <<<"$(rx_b)"
	d0=$(hub_drop tx_no_peer)
	churn "$CHURN" 2>"$WORK/churn" &
	local cp=$!
	out=$(spray "$CHURN" "$RATE")
	wait $cp
	sleep 0.5
	read -r p1 b1 <<<"$(rx_b)"
	d1=$(hub_drop tx_no_peer)
	read -r stat <"$WORK/churn"
	set -- $out $stat
	if [ $# = 4 ] && num "$p0$p1$d0$d1"; then
		record "$c" churn_rate "$r" "$(python3 -c "print($3 / $4)")" "$3 changes in $4 s"
		record "$c" churn_sent "$r" "$1"
		record "$c" churn_lost "$r" "$(($1 - (p1 - p0)))" "$((p1 - p0)) of $1 out at B; tx_no_peer $((d1 - d0))"
	else
		record "$c" churn_lost "$r" - "churn: $out / $stat"
	fi
}

run_config() { # KIND N DATAPATH RUN
	local kind=$1 n=$2 dp=$3 r=$4 c
	c="$kind-$dp-$n"
	log "$c: run $r: starting"
	DST= DEVS_B= BG=()
	if ! "up_$kind" "$n" "$dp" || ! wait_ping "$DST"; then
		record "$c" tcp1 "$r" - "could not be started"
		down_all
		return
	fi
	measure "$c" "$r"
	[ "$kind" = hub ] && [ "$n" = "$HUB_MAX" ] && [ "$n" -gt 1 ] && [ "$CHURN" != 0 ] &&
		measure_churn "$c" "$r"
	log "$c: run $r: $(awk -F'\t' -v c="$c" -v r="$r" '$1 == c && $3 == r && $5 == "ok" { printf "%s=%.4g ", $2, $4 }' "$RESULTS")"
	down_all
}

python3 -c 'import os, sys; os.setpriority(os.PRIO_PROCESS, int(sys.argv[1]), 0)' $$ ||
	{ log "cannot set the bench's priority to nice 0"; exit 1; }
STARTED=$(date -u '+%F %T')
HUB_MAX=$(printf '%s\n' $PEERS_LIST | sort -n | tail -n 1)
log "$STARTED UTC; $RUNS run(s) of ${DUR} s; hub peers: $PEERS_LIST ($HUB_DATAPATHS); tunnels: $TUNNELS_LIST ($DATAPATHS)"
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$SPRAY" "$TOP/bench/spray.c" || exit 1
RETARGET=$WORK/retarget.bpf.o
case " $HUB_DATAPATHS " in *" ebpf "*)
	clang -target bpf -O2 -g -Wall -Wextra -Werror -I"/usr/include/$(cc -dumpmachine)" \
		-c -o "$RETARGET" "$TOP/bench/retarget.bpf.c" || exit 1
esac
setup_underlay
inb iperf3 -s >"$WORK/iperf3-server.log" 2>&1 &
SERVER=$!
sleep 0.5
for r in $(seq "$RUNS"); do
	for dp in $HUB_DATAPATHS; do
		for n in $PEERS_LIST; do
			run_config hub "$n" "$dp" "$r"
			[ "$n" -le 1 ] || run_config hubone "$n" "$dp" "$r"
		done
	done
	for dp in $DATAPATHS; do
		for n in $TUNNELS_LIST; do
			run_config p2p "$n" "$dp" "$r"
			[ "$n" -le 1 ] || run_config p2pone "$n" "$dp" "$r"
		done
	done
done
kill $SERVER 2>/dev/null

COMMIT=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$TOP" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
	COMMIT="$COMMIT (with uncommitted changes)"
python3 "$TOP/bench/scale_report.py" "$RESULTS" --runs "$RUNS" --seconds "$DUR" \
	--started "$STARTED" --finished "$(date -u '+%F %T')" --commit "$COMMIT" --nice "$NICE" \
	--peers "$PEERS_LIST" --tunnels "$TUNNELS_LIST" --datapaths "$DATAPATHS" \
	--hub-datapaths "$HUB_DATAPATHS" \
	--churn "$CHURN" --rate "$RATE" | if [ -n "${BENCH_OUT:-}" ]; then tee -a "$BENCH_OUT"; else cat; fi
[ -z "${BENCH_OUT:-}" ] || { cp "$RESULTS" "$BENCH_OUT.scale.tsv" && log "every run's values in $BENCH_OUT.scale.tsv"; }

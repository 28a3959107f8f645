#!/bin/bash
# make bench: ipipd's two datapaths against the direct path, kernel VXLAN and
# other userspace tunnels.
#
# Two namespaces joined by a veth pair (1500-byte underlay), side A pinned to
# CPU 0 and side B to CPU 1 (two one-core hosts), every tunnel unencrypted
# where the program allows it (wireguard-go always encrypts: a reference).
# Method: each side pinned to its own core, largest overlay MTU that crosses the
# underlay unfragmented, medians of repeated runs (interleaved: run 1 of every
# system, then run 2, ...; each system set up afresh for each run); ratios
# within one bench only.
#
#   BENCH_QUICK=1        1 run each, 3 s measurements (development)
#   BENCH_RUNS=N         runs per system (default 3; the median is reported)
#   BENCH_TIME=S         seconds per throughput measurement (default 10)
#   BENCH_SYSTEMS="..."  subset of: direct ipipd-userspace ipipd-ebpf vxlan
#                        fastd quicktun vtun tinc openvpn wireguard-go
#   BENCH_NIC="..."      the systems also measured over the NIC-like underlay
#                        (default: direct ipipd-userspace ipipd-ebpf vxlan)
#   BENCH_OUT=FILE       also write the markdown report there
#   IPIPD=PATH           the daemon to measure (default build/ipipd)
#
# Metrics (medians over the runs): TCP one stream and four streams (Gbit/s,
# 2 s warm-up discarded), UDP 64-byte packets received per second, TCP one
# stream over a "NIC-like" underlay (veth with TSO off and GRO on, so
# segmentation happens in software before the wire and aggregation after it,
# as with a NIC without tunnel offloads), round trip added over the direct path
# by a busy-polling 32-byte UDP request/response probe (bench/udprr.c; median
# and p99 of 20000 round trips), ping RTT added over the direct path (100
# pings, 10 ms apart: dominated by wake-up latency), CPU seconds of the tunnel
# processes (both ends) per GB delivered during the one-stream TCP run (none
# for VXLAN; for ipipd-ebpf only the daemon's own, the fast path runs in the
# kernel), and ipipd's peak RSS (VmHWM, the largest after any run's load).  A system that
# cannot be started is reported as n/a with the reason.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
IPIPD=${IPIPD:-$TOP/build/ipipd}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-1}; DUR=${BENCH_TIME:-3}; WARM=1; PINGS=30; RRS=5000
else RUNS=${BENCH_RUNS:-3}; DUR=${BENCH_TIME:-10}; WARM=2; PINGS=100; RRS=20000; fi
SYSTEMS=${BENCH_SYSTEMS:-"direct ipipd-userspace ipipd-ebpf vxlan fastd quicktun vtun tinc openvpn wireguard-go"}
NIC=${BENCH_NIC:-"direct ipipd-userspace ipipd-ebpf vxlan"}
PEERS="fastd quicktun vtun tinc openvpn"	# the unencrypted ones: "fastest peer" is among these

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 CPUs" >&2; exit 1; }
[ -x "$IPIPD" ] || { echo "bench: $IPIPD missing (make)" >&2; exit 1; }
command -v ethtool >/dev/null || { echo "bench: ethtool missing (scripts/deps.sh bench)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ipipd-bench.XXXXXX)
UDPRR=$WORK/udprr
RRPORT=7777
A=bnA-$$
B=bnB-$$
UA=192.0.2.1 UB=192.0.2.2	# underlay
OA=198.51.100.1 OB=198.51.100.2	# overlay
RESULTS=$WORK/results.tsv	# system metric run value
: >"$RESULTS"
BG=()
DLOG=$WORK/daemons.log	# the daemons' output (one file per system)

log() { echo "bench: $*" >&2; }

cleanup() {
	local p
	for p in "${BG[@]}" ${RR_SERVER:-}; do kill "$p" 2>/dev/null; done
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.5
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run in side A (CPU 0) or side B (CPU 1).
ina() { taskset -c 0 ip netns exec "$A" "$@"; }
inb() { taskset -c 1 ip netns exec "$B" "$@"; }
# Start in the background, remember the PID (the command must not fork).
bga() { ina "$@" >>"$DLOG" 2>&1 & BG+=($!); }
bgb() { inb "$@" >>"$DLOG" 2>&1 & BG+=($!); }

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

setup_underlay() {
	ip netns add "$A" && ip netns add "$B" || exit 1
	ip -n "$A" link set lo up
	ip -n "$B" link set lo up
	ip link add va netns "$A" type veth peer vb netns "$B" || exit 1
	ip -n "$A" addr add $UA/24 dev va
	ip -n "$B" addr add $UB/24 dev vb
	ip -n "$A" link set va up
	ip -n "$B" link set vb up
	for ns in "$A" "$B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	ina ping -c 1 -W 2 $UB >/dev/null || { log "underlay does not work"; exit 1; }
}

# wait_link NS DEV: until DEV exists in NS (10 s, less if a daemon exits).
wait_link() {
	local p
	for _ in $(seq 100); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		for p in "${BG[@]}"; do
			kill -0 "$p" 2>/dev/null || { log "a daemon exited before $2 appeared"; return 1; }
		done
		sleep 0.1
	done
	log "$2 did not appear in $1"; return 1
}

# addr NS DEV LOCAL PEER MTU: point-to-point overlay address, MTU, up.
addr() {
	ip -n "$1" addr add "$3" peer "$4" dev "$2" 2>/dev/null
	ip -n "$1" link set "$2" mtu "$5" up
}

wait_ping() { # wait_ping DST: until the tunnel carries a ping (30 s)
	for _ in $(seq 60); do ina ping -c 1 -W 0.5 "$1" >/dev/null 2>&1 && return 0; sleep 0.5; done
	log "no ping through the tunnel to $1"; return 1
}

# ---- the systems: up_X sets DST and MTU, starts daemons; down_X stops them ----

up_direct() { DST=$UB; MTU=1500; }
down_direct() { :; }

start_ipipd() { # DATAPATH
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UA $UB "$1" $OA $OB >"$WORK/bipa.conf"
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UB $UA "$1" $OB $OA >"$WORK/bipb.conf"
	bga "$IPIPD" -f "$WORK/bipa.conf"
	bgb "$IPIPD" -f "$WORK/bipb.conf"
	wait_link "$A" bipa && wait_link "$B" bipb || return 1
	DST=$OB; MTU=1480
}
up_ipipd-userspace() { start_ipipd userspace; }
up_ipipd-ebpf() { start_ipipd ebpf; }

# Kernel VXLAN: 50 bytes of overhead (outer IP, UDP, VXLAN, inner Ethernet).
up_vxlan() {
	ip -n "$A" link add vx0 type vxlan id 42 local $UA remote $UB dstport 4789 dev va || return 1
	ip -n "$B" link add vx0 type vxlan id 42 local $UB remote $UA dstport 4789 dev vb || return 1
	addr "$A" vx0 $OA $OB 1450
	addr "$B" vx0 $OB $OA 1450
	DST=$OB; MTU=1450
}

up_fastd() {
	local sa sb pa pb
	sa=$(fastd --generate-key --machine-readable 2>/dev/null)
	sb=$(fastd --generate-key --machine-readable 2>/dev/null)
	pa=$(printf 'secret "%s";\n' "$sa" >"$WORK/k.conf"; fastd --config "$WORK/k.conf" --show-key --machine-readable)
	pb=$(printf 'secret "%s";\n' "$sb" >"$WORK/k.conf"; fastd --config "$WORK/k.conf" --show-key --machine-readable)
	fastd_conf() { # NAME SECRET BIND PEERKEY REMOTE
		printf 'log level error;\ninterface "%s";\nmode tun;\nmethod "null";\nsecret "%s";\nbind %s:10000;\nmtu 1471;\npeer "p" {\n  key "%s";\n  remote %s:10000;\n}\n' "$@"
	}
	fastd_conf fda "$sa" $UA "$pb" $UB >"$WORK/fda.conf"
	fastd_conf fdb "$sb" $UB "$pa" $UA >"$WORK/fdb.conf"
	bga fastd --config "$WORK/fda.conf"
	bgb fastd --config "$WORK/fdb.conf"
	wait_link "$A" fda && wait_link "$B" fdb || return 1
	addr "$A" fda $OA $OB 1471
	addr "$B" fdb $OB $OA 1471
	DST=$OB; MTU=1471
}

up_quicktun() {
	bga env IFACE=qta IF_QT_TUN_MODE=1 IF_QT_PROTOCOL=raw IF_QT_LOCAL_ADDRESS=$UA \
		IF_QT_LOCAL_PORT=2998 IF_QT_REMOTE_ADDRESS=$UB IF_QT_REMOTE_PORT=2998 quicktun
	bgb env IFACE=qtb IF_QT_TUN_MODE=1 IF_QT_PROTOCOL=raw IF_QT_LOCAL_ADDRESS=$UB \
		IF_QT_LOCAL_PORT=2998 IF_QT_REMOTE_ADDRESS=$UA IF_QT_REMOTE_PORT=2998 quicktun
	wait_link "$A" qta && wait_link "$B" qtb || return 1
	addr "$A" qta $OA $OB 1472
	addr "$B" qtb $OB $OA 1472
	DST=$OB; MTU=1472
}

up_vtun() {
	vtun_conf() { # DEVICE
		printf 'options {\n  port 5000;\n  syslog daemon;\n  timeout 10;\n}\n'
		printf 'bench {\n  passwd benchpass;\n  type tun;\n  proto udp;\n  encrypt no;\n  compress no;\n  keepalive no;\n  device %s;\n}\n' "$1"
	}
	vtun_conf vta >"$WORK/vta.conf"
	vtun_conf vtb >"$WORK/vtb.conf"
	# Pre-created and configured, or the first packet hits a down device and the session dies.
	ip -n "$A" tuntap add dev vta mode tun
	ip -n "$B" tuntap add dev vtb mode tun
	addr "$A" vta $OA $OB 1470
	addr "$B" vtb $OB $OA 1470
	bgb vtund -s -n -f "$WORK/vtb.conf"
	sleep 0.5
	bga vtund -n -f "$WORK/vta.conf" bench $UB
	DST=$OB; MTU=1470
}

up_tinc() {
	local n side ua ob oa dev
	for side in a b; do
		n=$WORK/tinc-$side
		mkdir -p "$n/hosts"
		if [ $side = a ]; then ua=$UA oa=$OA ob=b dev=tia; else ua=$UB oa=$OB ob=a dev=tib; fi
		printf 'Name = %s\nMode = router\nDeviceType = tun\nInterface = %s\nConnectTo = %s\nAddressFamily = ipv4\nBindToAddress = %s\n' \
			$side $dev $ob $ua >"$n/tinc.conf"
		printf 'Address = %s\nSubnet = %s/32\nCipher = none\nDigest = none\nCompression = 0\n' \
			$ua $oa >"$n/hosts/$side"
		tincd -c "$n" -K 2048 </dev/null >/dev/null 2>&1
	done
	cp "$WORK/tinc-a/hosts/a" "$WORK/tinc-b/hosts/a"
	cp "$WORK/tinc-b/hosts/b" "$WORK/tinc-a/hosts/b"
	bgb tincd -c "$WORK/tinc-b" -D --pidfile="$WORK/tinc-b.pid"
	bga tincd -c "$WORK/tinc-a" -D --pidfile="$WORK/tinc-a.pid"
	wait_link "$A" tia && wait_link "$B" tib || return 1
	addr "$A" tia $OA $OB 1454
	addr "$B" tib $OB $OA 1454
	DST=$OB; MTU=1454
	wait_ping $OB || return 1
	sleep 4	# PMTU discovery settles; big packets go over the meta connection until then
}

up_openvpn() {
	ovpn() { # DEV LOCAL REMOTE IFLOCAL IFREMOTE
		echo --dev "$1" --dev-type tun --proto udp --local "$2" --remote "$3" \
			--ifconfig "$4" "$5" --cipher none --data-ciphers none --auth none \
			--disable-dco --tun-mtu 1472 --verb 1
	}
	# shellcheck disable=SC2046
	bga openvpn $(ovpn ova $UA $UB $OA $OB)
	# shellcheck disable=SC2046
	bgb openvpn $(ovpn ovb $UB $UA $OB $OA)
	wait_link "$A" ova && wait_link "$B" ovb || return 1
	DST=$OB; MTU=1472
}

up_wireguard-go() {
	local ka kb
	ka=$(wg genkey) kb=$(wg genkey)
	echo "$ka" >"$WORK/wga.key"
	echo "$kb" >"$WORK/wgb.key"
	bga env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wga
	bgb env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wgb
	wait_link "$A" wga && wait_link "$B" wgb || return 1
	sleep 0.3
	ina wg set wga private-key "$WORK/wga.key" listen-port 51820 peer "$(echo "$kb" | wg pubkey)" \
		endpoint $UB:51820 allowed-ips $OB/32
	inb wg set wgb private-key "$WORK/wgb.key" listen-port 51820 peer "$(echo "$ka" | wg pubkey)" \
		endpoint $UA:51820 allowed-ips $OA/32
	addr "$A" wga $OA $OB 1440
	addr "$B" wgb $OB $OA 1440
	DST=$OB; MTU=1440
}

# Stop every process in both namespaces but the iperf3 server, and remove leftovers.
down_any() {
	local p
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns"); do
			[ "$(cat /proc/$p/comm 2>/dev/null)" = iperf3 ] || kill "$p" 2>/dev/null
		done
	done
	for _ in $(seq 50); do
		local left=0
		for ns in "$A" "$B"; do
			for p in $(ip netns pids "$ns"); do
				[ "$(cat /proc/$p/comm 2>/dev/null)" = iperf3 ] || left=1
			done
		done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns"); do
			[ "$(cat /proc/$p/comm 2>/dev/null)" = iperf3 ] || kill -9 "$p" 2>/dev/null
		done
		for d in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
			case $d in lo|va|vb) ;; *) ip -n "$ns" link del "$d" 2>/dev/null ;; esac
		done
	done
	BG=()
}

# ---- measurements ---------------------------------------------------------

# Tunnel processes: everything in the namespaces but iperf3, ping and the shell's helpers.
tunnel_pids() {
	local p c
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns"); do
			c=$(cat /proc/$p/comm 2>/dev/null) || continue
			case $c in iperf3|udprr|ping|ip|taskset|sleep|cat|env) ;; *) echo "$p" ;; esac
		done
	done
}

cpu_ticks() { # sum of utime+stime of the given PIDs (all their threads)
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
	done
	echo $t
}

iperf_json() { python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
if 'error' in d: print('nan'); sys.exit()
$2" "$3"; }

# tcp1 JSON: iperf3 TCP one stream from A to DST into JSON.
tcp1() { ina timeout $((DUR + WARM + 20)) iperf3 -c "$DST" -t "$DUR" -O "$WARM" -J >"$1" 2>&1; }

# measure SYSTEM RUN
measure() {
	local s=$1 r=$2 pids c0 c1 bps bytes hz out
	hz=$(getconf CLK_TCK)
	pids=$(tunnel_pids)
	# TCP, one stream; tunnel CPU sampled over the measured window only.
	( sleep "$WARM"; cpu_ticks $pids >"$WORK/c0"; sleep "$DUR"; cpu_ticks $pids >"$WORK/c1" ) &
	local sampler=$!
	tcp1 "$WORK/tcp1.json"
	wait $sampler
	bps=$(iperf_json x 'print(d["end"]["sum_received"]["bits_per_second"])' "$WORK/tcp1.json")
	bytes=$(iperf_json x 'print(d["end"]["sum_received"]["bytes"])' "$WORK/tcp1.json")
	record "$s" tcp1 "$r" "$(python3 -c "print($bps / 1e9)")"
	if [ -n "$pids" ]; then	# none for direct and kernel tunnels
		c0=$(cat "$WORK/c0") c1=$(cat "$WORK/c1")
		record "$s" cpu "$r" "$(python3 -c "b=$bytes; print(($c1 - $c0) / $hz / (b / 1e9) if b == b and b > 0 else float('nan'))")"
	fi
	# TCP, four streams.
	ina timeout $((DUR + WARM + 20)) iperf3 -c "$DST" -P 4 -t "$DUR" -O "$WARM" -J >"$WORK/tcp4.json" 2>&1
	bps=$(iperf_json x 'print(d["end"]["sum_received"]["bits_per_second"])' "$WORK/tcp4.json")
	record "$s" tcp4 "$r" "$(python3 -c "print($bps / 1e9)")"
	# UDP, 64-byte payloads as fast as the sender goes: packets received per second.
	ina timeout $((DUR + 20)) iperf3 -c "$DST" -u -l 64 -b 0 -t "$DUR" -J >"$WORK/udp.json" 2>&1
	record "$s" udp "$r" "$(iperf_json x 's=d["end"]["sum_received"]; print(s["bytes"] / 64 / s["seconds"] / 1e3)' "$WORK/udp.json")"
	# Ping RTT (average, microseconds).
	record "$s" rtt "$r" "$(ina ping -q -c "$PINGS" -i 0.01 -W 1 "$DST" |
		awk -F'[/ =]+' '/^rtt/ { print $7 * 1000 }')"
	# Round trip of the busy-polling UDP probe (median and p99, microseconds);
	# the server spins too, so it runs only for this measurement.
	inb "$UDPRR" -s $RRPORT >>"$DLOG" 2>&1 &
	RR_SERVER=$!
	if out=$(ina timeout 120 "$UDPRR" -c "$DST" $RRPORT "$RRS" 2>>"$DLOG"); then
		record "$s" rr "$r" "$(echo "$out" | awk '{ print $1 }')"
		record "$s" rr99 "$r" "$(echo "$out" | awk '{ print $2 }')"
		[ "$(echo "$out" | awk '{ print $3 }')" = 0 ] ||
			log "$s: the UDP probe resent $(echo "$out" | awk '{ print $3 }') request(s)"
	else
		log "$s: the UDP probe got no answers"
	fi
	kill $RR_SERVER 2>/dev/null
	wait $RR_SERVER 2>/dev/null
	RR_SERVER=
}

# nic_like on|off: the underlay veth's offloads like a NIC without tunnel
# offloads (TSO off: GSO packets are segmented in software before the wire;
# GRO on: aggregated again after it), or as they were.
nic_like() {
	local tso=$TSO0 gro=$GRO0
	[ "$1" = on ] && tso=off gro=on
	ip netns exec "$A" ethtool -K va tso $tso gro $gro &&
		ip netns exec "$B" ethtool -K vb tso $tso gro $gro
}

# measure_nic SYSTEM RUN: TCP one stream over the NIC-like underlay.
measure_nic() {
	tcp1 "$WORK/tcp1nic.json"
	record "$1" tcp1nic "$2" "$(iperf_json x 'print(d["end"]["sum_received"]["bits_per_second"] / 1e9)' "$WORK/tcp1nic.json")"
}

frag_count() { # IP fragments created or reassembled in both namespaces
	local t=0 ns
	for ns in "$A" "$B"; do
		t=$((t + $(ip netns exec "$ns" awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) { if ($i == "FragCreates") fc = i; if ($i == "ReasmReqds") rr = i }; h = 1 } else print $fc + $rr }' /proc/net/snmp)))
	done
	echo $t
}

# not_available SYSTEM REASON: the report shows the row as n/a (REASON, or
# the last words of a daemon that exited).
not_available() {
	local why=$2 p
	for p in "${BG[@]}"; do
		kill -0 "$p" 2>/dev/null && continue
		why=$(grep -v '^[[:space:]]*$' "$DLOG" | tail -n 1 | sed "s|$WORK/||g")
		why=${why:-$2}
		break
	done
	log "$1: n/a: $why"
	record "$1" na 1 "$(echo "$why" | tr '\t|' '  ' | cut -c1-100)"
	down_any
}

# run_system SYSTEM RUN: set SYSTEM up, measure it once, take it down.  The
# runs are interleaved (run 1 of every system, then run 2, ...), so that a
# change in the machine's load during the bench spreads over all systems
# instead of showing as a difference between two of them.
declare -A NA=()	# systems found not available: not tried again
run_system() {
	local s=$1 r=$2 f0
	[ -n "${NA[$s]:-}" ] && return
	log "$s: run $r: starting"
	DST= MTU=
	DLOG=$WORK/daemons-$s.log
	: >"$DLOG"
	if ! "up_$s" || [ -z "$DST" ]; then
		not_available "$s" "could not be started"; NA[$s]=1; return
	fi
	wait_ping "$DST" || { not_available "$s" "no ping through the tunnel"; NA[$s]=1; return; }
	if ! ina ping -c 1 -W 2 -M do -s $((MTU - 28)) "$DST" >/dev/null; then
		log "$s: a DF ping of $MTU bytes does not cross (MTU check failed)"
	fi
	# Warm-up transfer (discarded): settles ARP, PMTU, peers' handshakes.
	ina timeout 20 iperf3 -c "$DST" -t 1 >/dev/null 2>&1
	f0=$(frag_count)
	measure "$s" "$r"
	log "$s: run $r: $(awk -F'\t' -v s="$s" -v r="$r" '$1 == s && $3 == r { printf "%s=%.4g ", $2, $4 }' "$RESULTS")"
	if [[ " $NIC " == *" $s "* ]]; then
		if nic_like on; then
			ina timeout 20 iperf3 -c "$DST" -t 1 >/dev/null 2>&1
			measure_nic "$s" "$r"
			log "$s: NIC-like run $r: $(awk -F'\t' -v s="$s" -v r="$r" '$1 == s && $2 == "tcp1nic" && $3 == r { printf "%.4g", $4 }' "$RESULTS")"
		else
			log "$s: the NIC-like underlay could not be set up"
		fi
		nic_like off || log "could not restore the underlay's offloads"
	fi
	[ "$(frag_count)" = "$f0" ] || log "$s: the underlay fragmented packets during run $r"
	if [[ $s == ipipd-* ]]; then
		local hwm=0 p v
		for p in $(tunnel_pids); do
			[ "$(cat /proc/$p/comm)" = ipipd ] || continue
			v=$(awk '/^VmHWM:/ { print $2 }' /proc/$p/status)
			[ "$v" -gt "$hwm" ] && hwm=$v
		done
		record "$s" rss "$r" "$(python3 -c "print($hwm / 1024)")"
	fi
	down_any
}

# ---- main -------------------------------------------------------------------

log "$(date -u '+%F %T') UTC; $RUNS run(s) of ${DUR} s; systems: $SYSTEMS"
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$UDPRR" "$TOP/bench/udprr.c" || exit 1
setup_underlay
TSO0=$(ip netns exec "$A" ethtool -k va | awk '$1 == "tcp-segmentation-offload:" { print $2 }')
GRO0=$(ip netns exec "$A" ethtool -k va | awk '$1 == "generic-receive-offload:" { print $2 }')
inb iperf3 -s >"$WORK/iperf3-server.log" 2>&1 &
BG_SERVER=$!
sleep 0.5
for r in $(seq "$RUNS"); do
	for s in $SYSTEMS; do
		BG=()
		run_system "$s" "$r"
	done
done
kill $BG_SERVER 2>/dev/null

python3 "$TOP/bench/report.py" "$RESULTS" "$PEERS" "$RUNS" "$DUR" "$QUICK" "$PINGS" "$RRS" | tee "${BENCH_OUT:-/dev/null}"

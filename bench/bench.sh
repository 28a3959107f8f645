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
#   BENCH_RUNS=N         runs per system (default 3; the median of the good
#                        runs is reported, with their number)
#   BENCH_TIME=S         seconds per throughput measurement (default 10)
#   BENCH_SYSTEMS="..."  subset of: direct ipipd-userspace ipipd-userspace-nice-10
#                        ipipd-fou ipipd-fou-csum ipipd-hub ipipd-ebpf
#                        ipipd-ebpf-fou vxlan fastd quicktun vtun tinc openvpn
#                        wireguard-go (ipipd-hub: A a hub, Remote = any, with
#                        B as the gateway of its route to B's tunnel address)
#                        (ipipd-fou, ipipd-ebpf-fou: Encapsulation = fou on
#                        the userspace datapath, the eBPF fast path;
#                        ipipd-fou-csum: the userspace one with UDPChecksum =
#                        yes, so with UDP GSO and GRO)
#   BENCH_NICE=N         the priority (nice) of every userspace tunnel: ipipd's
#                        `Nice = N`, the peers started under `nice -n N`
#                        (default 0, where the peers run by default); the row
#                        ipipd-userspace-nice-10 is ipipd at its own default,
#                        -10, with everything else unchanged (not like for like)
#   BENCH_NIC="..."      the systems also measured over the NIC-like underlay
#                        (default: direct ipipd-userspace ipipd-ebpf vxlan)
#   BENCH_NIC_RUNS=N     runs of the NIC-like measurement (default 5, with
#                        BENCH_QUICK=1 as many as BENCH_RUNS): the rounds past
#                        BENCH_RUNS set up only the BENCH_NIC systems and
#                        measure only that, interleaved as the others
#   BENCH_PING_ROUNDS=N  rounds of the "ping side by side" section (default 30,
#                        with BENCH_QUICK=1 4; 0 leaves it out): after the
#                        runs, every system up at once, each in namespaces of
#                        its own, a burst of 20 pings through each in turn a
#                        round; systems compared round by round (bench/pingpair.py)
#   BENCH_OUT=FILE       also write the markdown report there (default
#                        build/bench-DATE.md), every run's values next to it
#                        in FILE.runs.tsv and FILE.runs.json (and each ping
#                        of the side-by-side section in FILE.ping.tsv)
#   IPIPD=PATH           the daemon to measure (default build/ipipd)
#   BENCH_SCALE=0        leave out the scale section (bench/scale.sh, run
#                        after the rest with the same BENCH_QUICK, BENCH_RUNS,
#                        BENCH_TIME and BENCH_NICE; its own settings there)
#
# Socket buffers like ipipd's (16 MiB receive and send, SO_*BUFFORCE) for the
# peers that have an option for them: OpenVPN --sndbuf/--rcvbuf, tinc
# UDPSndBuf/UDPRcvBuf.  Their SO_SNDBUF/SO_RCVBUF is made SO_*BUFFORCE by
# bench/forcebuf.c (preloaded), as net.core.wmem_max/rmem_max would cap them
# and cannot be raised in a namespace alone.  fastd, quicktun, vtun and
# wireguard-go have no such option.  The sizes found on each tunnel's UDP
# sockets are in the report.
#
# The bench sets its own priority to nice 0, so iperf3, ping and the probe run
# at 0 whatever the priority it was started with.
#
# Metrics (medians over the good runs): TCP one stream and four streams (Gbit/s,
# 2 s warm-up discarded), UDP 64-byte packets received per second, TCP one
# stream over a "NIC-like" underlay (veth with TSO off and GRO on, so
# segmentation happens in software before the wire and aggregation after it,
# as with a NIC without tunnel offloads), round trip added over the direct path
# by a busy-polling 32-byte UDP request/response probe (bench/udprr.c; median
# and p99 of 20000 round trips), ping RTT added over the direct path (100
# pings, 10 ms apart: dominated by wake-up latency), the CPU the path costs per
# GB delivered during the measured seconds of the one-stream TCP run: the busy
# time of CPUs 0 and 1 in /proc/stat (user+nice+system+irq+softirq: the tunnel
# processes, the kernel's softirq and system time, iperf3) per GB, less the
# direct path's (the median of its runs) per GB, for every system, kernel
# tunnels and the eBPF fast path included; of which the tunnel processes'
# (utime+stime of every process in the namespaces but the tools, all their
# threads: for ipipd the parent and the datapath process) per GB; and ipipd's
# resident memory after any run's load, the larger end's, the largest of the
# runs: of the parent and the datapath process together, each page once
# (bench/rss_pair.py, where both are at their peak, VmRSS = VmHWM); their
# VmHWM summed (the pages they share counted twice); the largest process's.
#
# Failed runs are kept and shown: a run fails when its tunnel does not come up
# (not started, no ping through it), when a DF ping of the overlay MTU does not
# cross or crosses fragmented (MTU check), when the underlay fragments packets
# during it (the warm-up included) or its tunnel threads are not at the
# priority asked for; a single measurement fails when iperf3 reports an error
# or gives no result, ping gets no answer or the probe none.  Every system is
# tried in every run; the report gives the number of good runs beside each
# median and lists each failure.  Two systems are ranked only where the ranges
# (min..max) of their good runs do not overlap, else they are within noise.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/common.sh"
IPIPD=${IPIPD:-$TOP/build/ipipd}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-1}; DUR=${BENCH_TIME:-3}; WARM=1; PINGS=30; RRS=5000
else RUNS=${BENCH_RUNS:-3}; DUR=${BENCH_TIME:-10}; WARM=2; PINGS=100; RRS=20000; fi
if [ "$QUICK" = 1 ]; then PP_ROUNDS=${BENCH_PING_ROUNDS:-4}; else PP_ROUNDS=${BENCH_PING_ROUNDS:-30}; fi
PP_BURST=20
[[ $PP_ROUNDS =~ ^[0-9]+$ ]] || { echo "bench: BENCH_PING_ROUNDS must be a number" >&2; exit 1; }
NICE=${BENCH_NICE:-0}
if ! [[ $NICE =~ ^-?[0-9]+$ ]] || [ "$NICE" -lt -20 ] || [ "$NICE" -gt 19 ]; then
	echo "bench: BENCH_NICE must be a number from -20 to 19" >&2; exit 1
fi
NICE10=ipipd-userspace-nice-10	# ipipd at its default priority, unless that is BENCH_NICE
[ "$NICE" = -10 ] && NICE10=
SYSTEMS=${BENCH_SYSTEMS:-"direct ipipd-userspace $NICE10 ipipd-fou ipipd-fou-csum ipipd-hub ipipd-ebpf ipipd-ebpf-fou vxlan fastd quicktun vtun tinc openvpn wireguard-go"}
NIC=${BENCH_NIC-"direct ipipd-userspace ipipd-ebpf vxlan"}
if [ "$QUICK" = 1 ]; then NIC_RUNS=${BENCH_NIC_RUNS:-$RUNS}; else NIC_RUNS=${BENCH_NIC_RUNS:-5}; fi
[[ $NIC_RUNS =~ ^[0-9]+$ ]] || { echo "bench: BENCH_NIC_RUNS must be a number" >&2; exit 1; }
PEERS="fastd quicktun vtun tinc openvpn"	# the unencrypted ones: "fastest peer" is among these

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 CPUs" >&2; exit 1; }
[ -x "$IPIPD" ] || { echo "bench: $IPIPD missing (make)" >&2; exit 1; }
command -v ethtool >/dev/null || { echo "bench: ethtool missing (scripts/deps.sh bench)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ipipd-bench.XXXXXX)
UDPRR=$WORK/udprr
FORCEBUF=$WORK/forcebuf.so
SOCKBUF=16777216	# ipipd's socket buffers (SOCK_BUF in src/tun.c)
RRPORT=7777
A=bnA-$$
B=bnB-$$
IPA=bipa IPB=bipb	# ipipd's tunnels (their names: the control sockets are host-wide)
UA=192.0.2.1 UB=192.0.2.2	# underlay
OA=198.51.100.1 OB=198.51.100.2	# overlay
RESULTS=$WORK/results.tsv	# system metric run value status note
: >"$RESULTS"
OUT=${BENCH_OUT:-$TOP/build/bench-$(date -u +%Y%m%dT%H%M%SZ).md}
BG=()
DLOG=$WORK/daemons.log	# the daemons' output (one file per system)
PP_PAIRS=()	# the side-by-side section's namespace pairs ("A B")
PP_TSV=$WORK/side-by-side.tsv

log() { echo "bench: $*" >&2; }

cleanup() {
	local p
	for p in "${BG[@]}" ${RR_SERVER:-}; do kill "$p" 2>/dev/null; done
	ns_remove
	for p in "${PP_PAIRS[@]}"; do
		read -r A B <<<"$p"
		ns_remove
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
# The same for a peer's daemon: at the priority of every userspace tunnel.
peera() { bga nice -n "$NICE" "$@"; }
peerb() { bgb nice -n "$NICE" "$@"; }

# One line of the results: SYSTEM METRIC RUN VALUE STATUS NOTE.
put() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
	"$(printf '%s' "$6" | tr '\t\n|' '  /' | cut -c1-200)" >>"$RESULTS"; }
# record SYSTEM METRIC RUN VALUE [NOTE]: a measured value (failed if not a number).
record() {
	if [[ $4 =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]]; then put "$1" "$2" "$3" "$4" ok "${5:-}"
	else put "$1" "$2" "$3" nan failed "${5:-no value}"; fi
}
# fail SYSTEM METRIC RUN REASON: a measurement that gave no value.
fail() { log "$1: run $3: $2 failed: $4"; put "$1" "$2" "$3" nan failed "$4"; }
# phase SYSTEM main|nic RUN [REASON...]: the run (main: every measurement but
# the NIC-like one; nic: that one) was good, or failed for the reasons given.
phase() {
	local s=$1 p=$2 r=$3
	shift 3
	if [ $# = 0 ]; then put "$s" "phase:$p" "$r" - ok ""
	else
		local why
		why=$(printf '%s; ' "$@")
		log "$s: run $r ($p) FAILED: ${why%; }"
		put "$s" "phase:$p" "$r" - failed "${why%; }"
	fi
}

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

start_ipipd() { # DATAPATH NICE [TUNNEL-KEYS OUTER-HEADER-BYTES]
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\nNice = %s\n%b[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UA $UB "$1" "$2" "${3:-}" $OA $OB >"$WORK/$IPA.conf"
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = %s\nNice = %s\n%b[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UB $UA "$1" "$2" "${3:-}" $OB $OA >"$WORK/$IPB.conf"
	bga "$IPIPD" -f "$WORK/$IPA.conf"
	bgb "$IPIPD" -f "$WORK/$IPB.conf"
	wait_link "$A" $IPA && wait_link "$B" $IPB || return 1
	DST=$OB; MTU=$((1500 - ${4:-20}))
}
up_ipipd-userspace() { start_ipipd userspace "$NICE"; }
up_ipipd-userspace-nice-10() { start_ipipd userspace -10; }
up_ipipd-ebpf() { start_ipipd ebpf "$NICE"; }
# UDP encapsulation (FOU: 8 bytes more), on each of ipipd's datapaths
up_ipipd-fou() { start_ipipd userspace "$NICE" 'Encapsulation = fou\nPort = 5555\n' 28; }
# ... with UDP checksums, which let the userspace datapath send UDP GSO
# frames and read coalesced datagrams (UDP_GRO)
up_ipipd-fou-csum() { start_ipipd userspace "$NICE" 'Encapsulation = fou\nPort = 5555\nUDPChecksum = yes\n' 28; }
# Remote = any: A a hub (its route to B's tunnel address via B, onlink), B a
# point-to-point end; the hub's outer packets go through the kernel's IP output.
up_ipipd-hub() {
	printf '[Tunnel]\nLocal = %s\nRemote = any\nAllowedRemotes = %s/32\nDatapath = userspace\nNice = %s\n[Address]\nAddress = %s/32\n[Route]\nDestination = %s/32\nGateway = %s\n' \
		$UA $UB "$NICE" $OA $OB $UB >"$WORK/$IPA.conf"
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = userspace\nNice = %s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		$UB $UA "$NICE" $OB $OA >"$WORK/$IPB.conf"
	bga "$IPIPD" -f "$WORK/$IPA.conf"
	bgb "$IPIPD" -f "$WORK/$IPB.conf"
	wait_link "$A" $IPA && wait_link "$B" $IPB || return 1
	DST=$OB; MTU=1480
}
up_ipipd-ebpf-fou() { start_ipipd ebpf "$NICE" 'Encapsulation = fou\nPort = 5555\n' 28; }

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
	peera fastd --config "$WORK/fda.conf"
	peerb fastd --config "$WORK/fdb.conf"
	wait_link "$A" fda && wait_link "$B" fdb || return 1
	addr "$A" fda $OA $OB 1471
	addr "$B" fdb $OB $OA 1471
	DST=$OB; MTU=1471
}

up_quicktun() {
	peera env IFACE=qta IF_QT_TUN_MODE=1 IF_QT_PROTOCOL=raw IF_QT_LOCAL_ADDRESS=$UA \
		IF_QT_LOCAL_PORT=2998 IF_QT_REMOTE_ADDRESS=$UB IF_QT_REMOTE_PORT=2998 quicktun
	peerb env IFACE=qtb IF_QT_TUN_MODE=1 IF_QT_PROTOCOL=raw IF_QT_LOCAL_ADDRESS=$UB \
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
	peerb vtund -s -n -f "$WORK/vtb.conf"
	sleep 0.5
	peera vtund -n -f "$WORK/vta.conf" bench $UB
	DST=$OB; MTU=1470
	# vtund raises its session process to nice -1 itself when the session
	# starts (LINKFD_PRIO in its tunnel.c); like for like, it is set back.
	wait_ping $OB || return 1
	set_nice "$NICE" vtund
}

up_tinc() {
	local n side ua ob oa dev
	for side in a b; do
		n=$WORK/tinc-$side
		mkdir -p "$n/hosts"
		if [ $side = a ]; then ua=$UA oa=$OA ob=b dev=tia; else ua=$UB oa=$OB ob=a dev=tib; fi
		printf 'Name = %s\nMode = router\nDeviceType = tun\nInterface = %s\nConnectTo = %s\nAddressFamily = ipv4\nBindToAddress = %s\nUDPRcvBuf = %s\nUDPSndBuf = %s\n' \
			$side $dev $ob $ua $SOCKBUF $SOCKBUF >"$n/tinc.conf"
		printf 'Address = %s\nSubnet = %s/32\nCipher = none\nDigest = none\nCompression = 0\n' \
			$ua $oa >"$n/hosts/$side"
		tincd -c "$n" -K 2048 </dev/null >/dev/null 2>&1
	done
	cp "$WORK/tinc-a/hosts/a" "$WORK/tinc-b/hosts/a"
	cp "$WORK/tinc-b/hosts/b" "$WORK/tinc-a/hosts/b"
	peerb env LD_PRELOAD="$FORCEBUF" tincd -c "$WORK/tinc-b" -D --pidfile="$WORK/tinc-b.pid"
	peera env LD_PRELOAD="$FORCEBUF" tincd -c "$WORK/tinc-a" -D --pidfile="$WORK/tinc-a.pid"
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
			--disable-dco --tun-mtu 1472 --sndbuf $SOCKBUF --rcvbuf $SOCKBUF --verb 1
	}
	# shellcheck disable=SC2046
	peera env LD_PRELOAD="$FORCEBUF" openvpn $(ovpn ova $UA $UB $OA $OB)
	# shellcheck disable=SC2046
	peerb env LD_PRELOAD="$FORCEBUF" openvpn $(ovpn ovb $UB $UA $OB $OA)
	wait_link "$A" ova && wait_link "$B" ovb || return 1
	DST=$OB; MTU=1472
}

up_wireguard-go() {
	local ka kb
	ka=$(wg genkey) kb=$(wg genkey)
	echo "$ka" >"$WORK/wga.key"
	echo "$kb" >"$WORK/wgb.key"
	peera env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wga
	peerb env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wgb
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
down_any() { stop_tunnels; }

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

# set_nice N COMM: every thread of the processes named COMM in both
# namespaces to nice N.
set_nice() {
	local ns p
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns"); do
			[ "$(cat /proc/$p/comm 2>/dev/null)" = "$2" ] || continue
			python3 -c 'import os, sys
for t in os.listdir("/proc/%s/task" % sys.argv[1]):
    os.setpriority(os.PRIO_PROCESS, int(t), int(sys.argv[2]))' "$p" "$1" || return 1
		done
	done
}

# tunnel_nice: the priorities (nice) of every thread of the tunnel processes,
# distinct, sorted.
tunnel_nice() {
	local p
	for p in $(tunnel_pids); do
		cat /proc/$p/task/*/stat 2>/dev/null | sed 's/.*) //' | awk '{ print $17 }'
	done | sort -n -u | paste -s -d ' '
}

# sock_bufs: the receive and send buffers (bytes, as the kernel has them:
# twice the size asked for) of the tunnel processes' UDP sockets in both
# namespaces: "PROGRAM rb/tb" for each distinct pair.
sock_bufs() {
	local ns
	for ns in "$A" "$B"; do
		ip netns exec "$ns" ss -uamnpH 2>/dev/null | awk '
			/users:\(\("/ { split($0, u, "\""); name = u[2]; next }
			/skmem:/ && name != "" && name != "iperf3" && name != "udprr" {
				rb = $0; sub(/.*[(,]rb/, "", rb); sub(/[,)].*/, "", rb)
				tb = $0; sub(/.*,tb/, "", tb); sub(/[,)].*/, "", tb)
				print name " " rb "/" tb; name = "" }'
	done | sort -u | paste -s -d ',' | sed 's/,/, /g'
}

cpu_ticks() { # sum of utime+stime of the given PIDs (all their threads)
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0)))
	done
	echo $t
}

# cpu_sample PIDS...: one line: the time (s), the busy ticks of CPUs 0 and 1
# (user+nice+system+irq+softirq in /proc/stat: everything but idle, iowait
# and steal; guest time is within user), the tunnel processes' ticks.
cpu_sample() {
	echo "$(date +%s.%N) $(awk '$1 == "cpu0" || $1 == "cpu1" { t += $2 + $3 + $4 + $7 + $8 } END { print t }' /proc/stat) $(cpu_ticks "$@")"
}

# per_gb TICKS WINDOW SECONDS BYTES: CPU seconds per GB delivered, for TICKS
# used in WINDOW seconds (an expression) while iperf3 measured BYTES in SECONDS.
per_gb() {
	python3 -c "print($1 / $(getconf CLK_TCK) / ($2) * $3 / ($4 / 1e9))"
}

# ipipd's processes (the parent and the datapath process), as it gives them.
ipipd_pids() {
	local ctl
	ctl=$(dirname "$IPIPD")/ipipctl
	[ -x "$ctl" ] || return 0
	{ ip netns exec "$A" "$ctl" show --json $IPA; ip netns exec "$B" "$ctl" show --json $IPB; } 2>/dev/null |
		python3 -c 'import json, sys
for line in sys.stdin:
    for t in json.loads(line) if line.strip() else []:
        print(t["pid"], t["datapath_pid"])' 2>/dev/null | tr ' ' '\n'
}

# tun_read_by SYSTEM: how ipipd's datapath at A reads its TUN device (io_uring,
# or read and why), where ipipd runs its own datapath.
tun_read_by() {
	local ctl
	ctl=$(dirname "$IPIPD")/ipipctl
	[[ $1 == ipipd-* && -x $ctl ]] || return 0
	ip netns exec "$A" "$ctl" show --json $IPA 2>/dev/null | python3 -c 'import json, sys
t = json.load(sys.stdin)[0]
if "tun_read_by" in t:
    print(t["tun_read_by"] + ("" if t["tun_read_by"] == "io_uring" else " (%s)" % t.get("tun_read_why", "?")))' 2>/dev/null
}

# iperf_get FILE FIELD: a number from iperf3's JSON, or the reason there is
# none (status 1); bench/iperf_value.py says which fields.
iperf_get() { python3 "$TOP/bench/iperf_value.py" "$1" "$2"; }
# iperf_record SYSTEM METRIC RUN FILE FIELD
iperf_record() {
	local v
	if v=$(iperf_get "$4" "$5"); then record "$1" "$2" "$3" "$v"; else fail "$1" "$2" "$3" "$v"; fi
}

# tcp1 JSON: iperf3 TCP one stream from A to DST into JSON.
tcp1() { ina timeout $((DUR + WARM + 20)) iperf3 -c "$DST" -t "$DUR" -O "$WARM" -J >"$1" 2>&1; }

# measure SYSTEM RUN
measure() {
	local s=$1 r=$2 pids bytes secs out v
	pids=$(tunnel_pids)
	# shellcheck disable=SC2046,SC2086	# lists of PIDs
	[[ $s == ipipd-* ]] && pids=$(printf '%s\n' $pids $(ipipd_pids) | sort -u)
	# TCP, one stream; CPU sampled over the measured window only.
	( sleep "$WARM"; cpu_sample $pids >"$WORK/c0"; sleep "$DUR"; cpu_sample $pids >"$WORK/c1" ) &
	local sampler=$!
	tcp1 "$WORK/tcp1.json"
	wait $sampler
	iperf_record "$s" tcp1 "$r" "$WORK/tcp1.json" gbps
	# CPU per GB delivered: the busy time of CPUs 0 and 1 (cpu_all; the
	# report subtracts the direct path's) and the tunnel processes' (cpu),
	# as rates over the sampled window times iperf3's measured seconds.
	if bytes=$(iperf_get "$WORK/tcp1.json" bytes) && secs=$(iperf_get "$WORK/tcp1.json" seconds); then
		local -a c
		read -r -a c <<<"$(cat "$WORK/c0" "$WORK/c1" | tr '\n' ' ')"
		record "$s" cpu_all "$r" "$(per_gb $((c[4] - c[1])) "${c[3]} - ${c[0]}" "$secs" "$bytes")"
		[ -z "$pids" ] ||
			record "$s" cpu "$r" "$(per_gb $((c[5] - c[2])) "${c[3]} - ${c[0]}" "$secs" "$bytes")"
	else
		fail "$s" cpu_all "$r" "$bytes"
		[ -z "$pids" ] || fail "$s" cpu "$r" "$bytes"
	fi
	# TCP, four streams.
	ina timeout $((DUR + WARM + 20)) iperf3 -c "$DST" -P 4 -t "$DUR" -O "$WARM" -J >"$WORK/tcp4.json" 2>&1
	iperf_record "$s" tcp4 "$r" "$WORK/tcp4.json" gbps
	# UDP, 64-byte payloads as fast as the sender goes: packets received per second.
	ina timeout $((DUR + 20)) iperf3 -c "$DST" -u -l 64 -b 0 -t "$DUR" -J >"$WORK/udp.json" 2>&1
	iperf_record "$s" udp "$r" "$WORK/udp.json" kpps
	# Ping RTT (average, microseconds).
	out=$(ina ping -q -c "$PINGS" -i 0.01 -W 1 "$DST" 2>&1)
	v=$(echo "$out" | awk -F'[/ =]+' '/^rtt/ { print $7 * 1000 }')
	if [ -n "$v" ]; then
		record "$s" rtt "$r" "$v" "$(echo "$out" | grep -o '[0-9]* received')"
	else
		fail "$s" rtt "$r" "ping: $(echo "$out" | grep -E 'received|rror' | head -n 1)"
	fi
	# Round trip of the busy-polling UDP probe (median and p99, microseconds);
	# the server spins too, so it runs only for this measurement.
	inb "$UDPRR" -s $RRPORT >>"$DLOG" 2>&1 &
	RR_SERVER=$!
	if out=$(ina timeout 120 "$UDPRR" -c "$DST" $RRPORT "$RRS" 2>>"$DLOG"); then
		v=$(echo "$out" | awk '{ print $3 }')
		record "$s" rr "$r" "$(echo "$out" | awk '{ print $1 }')" "$v request(s) resent"
		record "$s" rr99 "$r" "$(echo "$out" | awk '{ print $2 }')" "$v request(s) resent"
		[ "$v" = 0 ] || log "$s: the UDP probe resent $v request(s)"
	else
		fail "$s" rr "$r" "the UDP probe got no answers"
		fail "$s" rr99 "$r" "the UDP probe got no answers"
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
	iperf_record "$1" tcp1nic "$2" "$WORK/tcp1nic.json" gbps
}

frag_count() { # IP fragments created or reassembled in both namespaces
	local t=0 ns
	for ns in "$A" "$B"; do
		t=$((t + $(ip netns exec "$ns" awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) { if ($i == "FragCreates") fc = i; if ($i == "ReasmReqds") rr = i }; h = 1 } else print $fc + $rr }' /proc/net/snmp)))
	done
	echo $t
}

# why_down: ": " and the last words of a daemon that exited, if one did.
why_down() {
	local why p
	for p in "${BG[@]}"; do
		kill -0 "$p" 2>/dev/null && continue
		why=$(grep -v '^[[:space:]]*$' "$DLOG" | tail -n 1 | sed "s|$WORK/||g")
		echo ": ${why:-a daemon exited}"
		return
	done
}

in_nic() { [[ " $NIC " == *" $1 "* ]]; }

# nice_check SYSTEM RUN: the priorities of the tunnel threads into the
# results; prints why the run is not like for like if they are not the
# priority of every userspace tunnel (ipipd's default for the -nice-10 row).
nice_check() {
	local want=$NICE nice
	[ "$1" = ipipd-userspace-nice-10 ] && want=-10
	nice=$(tunnel_nice)
	[ -n "$nice" ] || return 0
	put "$1" info:nice "$2" - ok "$nice"
	[ "$nice" = "$want" ] || echo "tunnel threads at nice $nice, not $want"
}

# run_system SYSTEM RUN [nic]: set SYSTEM up, measure it once, take it down;
# with nic, the NIC-like measurement only.  The runs are interleaved (run 1
# of every system, then run 2, ...), so that a change in the machine's load
# during the bench spreads over all systems instead of showing as a
# difference between two of them.  A system that fails in one run is tried
# again in the next.
run_system() {
	local s=$1 r=$2 only=${3:-} f0 f1 why mtu_bad='' v
	local -a bad=()
	log "$s: run $r${only:+ (NIC-like only)}: starting"
	DST= MTU=
	DLOG=$WORK/daemons-$s.log
	: >"$DLOG"
	why=
	if ! "up_$s" || [ -z "$DST" ]; then
		why="could not be started$(why_down)"
	elif ! wait_ping "$DST"; then
		why="no ping through the tunnel$(why_down)"
	fi
	if [ -n "$why" ]; then
		[ -n "$only" ] || phase "$s" main "$r" "$why"
		in_nic "$s" && phase "$s" nic "$r" "$why"
		down_any
		return
	fi
	# The MTU check: a DF ping of the overlay MTU crosses, and not because
	# the tunnel fragments its outer packet.
	f0=$(frag_count)
	if ! ina ping -c 1 -W 2 -M do -s $((MTU - 28)) "$DST" >/dev/null; then
		mtu_bad="MTU check failed: a DF ping of $MTU bytes does not cross"
	else
		f1=$(frag_count)
		[ "$f1" = "$f0" ] ||
			mtu_bad="MTU check failed: a DF ping of $MTU bytes crossed fragmented ($((f1 - f0)) IP fragments created or reassembled in the underlay)"
	fi
	if [ -z "$only" ]; then
		[ -z "$mtu_bad" ] || bad+=("$mtu_bad")
		f0=$(frag_count)
		# Warm-up transfer (discarded): settles ARP, PMTU, peers' handshakes.
		ina timeout 20 iperf3 -c "$DST" -t 1 >/dev/null 2>&1
		measure "$s" "$r"
		f1=$(frag_count)
		[ "$f1" = "$f0" ] || bad+=("the underlay fragmented: $((f1 - f0)) IP fragments created or reassembled")
		v=$(sock_bufs)
		[ -z "$v" ] || put "$s" info:sockbuf "$r" - ok "$v"
		v=$(tun_read_by "$s")
		[ -z "$v" ] || put "$s" info:readby "$r" - ok "$v"
		# Like for like: every userspace tunnel at the same priority.
		v=$(nice_check "$s" "$r")
		[ -z "$v" ] || bad+=("$v")
		phase "$s" main "$r" "${bad[@]}"
		log "$s: run $r: $(awk -F'\t' -v s="$s" -v r="$r" '$1 == s && $3 == r && $5 == "ok" && $4 != "-" { printf "%s=%.4g ", $2, $4 }' "$RESULTS")"
	fi
	if in_nic "$s"; then
		bad=()
		[ -z "$mtu_bad" ] || bad+=("$mtu_bad")
		if nic_like on; then
			f0=$(frag_count)
			ina timeout 20 iperf3 -c "$DST" -t 1 >/dev/null 2>&1
			measure_nic "$s" "$r"
			f1=$(frag_count)
			[ "$f1" = "$f0" ] || bad+=("the underlay fragmented: $((f1 - f0)) IP fragments created or reassembled")
			if [ -n "$only" ]; then
				v=$(nice_check "$s" "$r")
				[ -z "$v" ] || bad+=("$v")
			fi
			log "$s: NIC-like run $r: $(awk -F'\t' -v s="$s" -v r="$r" '$1 == s && $2 == "tcp1nic" && $3 == r { printf "%.4g", $4 }' "$RESULTS")"
		else
			bad+=("the NIC-like underlay could not be set up")
		fi
		phase "$s" nic "$r" "${bad[@]}"
		nic_like off || log "could not restore the underlay's offloads"
	fi
	if [ -z "$only" ] && [[ $s == ipipd-* ]]; then
		# Peak RSS: at each end the sum of its two processes' (the parent and
		# the datapath process), the larger end's; and the largest process.
		# And the pair's resident memory with each page once (they share
		# the pages of the fork: bench/rss_pair.py), taken where both are
		# at their peak (VmRSS = VmHWM), else failed.
		local ns p sum one=0 most=0 pids pair pairmost=0 pairbad=
		for ns in "$A" "$B"; do
			sum=0 pids=()
			for p in $(ip netns pids "$ns"); do
				[ "$(cat /proc/$p/comm 2>/dev/null)" = ipipd ] || continue
				pids+=("$p")
				v=$(awk '/^VmHWM:/ { print $2 }' /proc/$p/status 2>/dev/null)
				sum=$((sum + ${v:-0}))
				[ "${v:-0}" -gt "$one" ] && one=$v
			done
			[ "$sum" -gt "$most" ] && most=$sum
			pair=$(python3 "$TOP/bench/rss_pair.py" "${pids[@]}" 2>&1)
			case $pair in
			*" 1") [ "${pair% 1}" -gt "$pairmost" ] && pairmost=${pair% 1} ;;
			*" 0") pairbad="a process was not at its peak (VmRSS < VmHWM) when sampled" ;;
			*) pairbad="rss_pair.py: $pair" ;;
			esac
		done
		record "$s" rss "$r" "$(python3 -c "print($most / 1024)")"
		record "$s" rss1 "$r" "$(python3 -c "print($one / 1024)")"
		if [ -n "$pairbad" ]; then record "$s" rsspair "$r" - "$pairbad"
		else record "$s" rsspair "$r" "$(python3 -c "print($pairmost / 1024)")"; fi
	fi
	down_any
}

# ---- ping side by side ------------------------------------------------------

# ping_side_by_side: every system up at once, each in a namespace pair of
# its own (the same underlay, A on CPU 0, B on CPU 1; ipipd's tunnels named
# apart, as their control sockets are host-wide); then PP_ROUNDS rounds, each
# a burst of PP_BURST pings 10 ms apart through every system in turn.  The
# machine's slow drifts (from one minute to the next the round trips of every
# system here move by a third) then fall on every system alike, where the
# main runs measure each system minutes away from the others.  Every ping's
# round trip into $PP_TSV: SYSTEM ROUND RTT-us (or "lost").
ping_side_by_side() {
	local s i=0 r A0=$A B0=$B W0=$WORK IPA0=$IPA IPB0=$IPB out v want
	local -A nsof dstof
	: >"$PP_TSV"
	for s in $SYSTEMS; do
		i=$((i + 1))
		A=bpA$i-$$ B=bpB$i-$$ IPA=bp${i}a IPB=bp${i}b WORK=$W0/pp-$s
		PP_PAIRS+=("$A $B")
		mkdir -p "$WORK"
		DLOG=$WORK/daemons.log BG=() DST= MTU=
		setup_underlay
		if "up_$s" && [ -n "$DST" ] && wait_ping "$DST"; then
			nsof[$s]=$A dstof[$s]=$DST
		else
			log "$s: side by side: could not be started$(why_down)"
			echo "$s 0 down" >>"$PP_TSV"
		fi
		# like for like: the priority of every userspace tunnel
		want=$NICE
		[ "$s" = ipipd-userspace-nice-10 ] && want=-10
		v=$(tunnel_nice)
		if [ -n "$v" ] && [ "$v" != "$want" ]; then
			log "$s: side by side: tunnel threads at nice $v, not $want"
			echo "$s 0 nice" >>"$PP_TSV"
		fi
	done
	WORK=$W0 IPA=$IPA0 IPB=$IPB0
	log "ping side by side: $PP_ROUNDS rounds of $PP_BURST pings through every system in turn"
	sleep 1
	for r in $(seq "$PP_ROUNDS"); do
		for s in $SYSTEMS; do
			[ -n "${nsof[$s]:-}" ] || continue
			out=$(taskset -c 0 ip netns exec "${nsof[$s]}" ping -n -c "$PP_BURST" -i 0.01 -W 1 "${dstof[$s]}" 2>&1)
			echo "$out" | awk -v s="$s" -v r="$r" -v n="$PP_BURST" '
				/time=/ { sub(/.*time=/, ""); print s, r, $1 * 1000; got++ }
				END { for (; got < n; got++) print s, r, "lost" }' >>"$PP_TSV"
		done
	done
	for s in "${PP_PAIRS[@]}"; do
		read -r A B <<<"$s"
		ns_remove
	done
	PP_PAIRS=() BG=() A=$A0 B=$B0
}

# ---- main -------------------------------------------------------------------

# Everything the bench starts runs at nice 0 unless told otherwise (nice -n
# is relative to the bench's own priority, which is inherited).
python3 -c 'import os, sys; os.setpriority(os.PRIO_PROCESS, int(sys.argv[1]), 0)' $$ ||
	{ log "cannot set the bench's priority to nice 0"; exit 1; }
STARTED=$(date -u '+%F %T')
# The tree measured: as it is now, not as it may be when the runs are over.
COMMIT=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$TOP" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
	COMMIT="$COMMIT (with uncommitted changes)"
log "$STARTED UTC; $RUNS run(s) of ${DUR} s (NIC-like: $NIC_RUNS); tunnels at nice $NICE; systems: $SYSTEMS"
mkdir -p "$(dirname "$OUT")" || exit 1
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$UDPRR" "$TOP/bench/udprr.c" || exit 1
cc -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -o "$FORCEBUF" "$TOP/bench/forcebuf.c" || exit 1
setup_underlay
TSO0=$(ip netns exec "$A" ethtool -k va | awk '$1 == "tcp-segmentation-offload:" { print $2 }')
GRO0=$(ip netns exec "$A" ethtool -k va | awk '$1 == "generic-receive-offload:" { print $2 }')
put - info:sysctl 0 - ok "$(for f in wmem_max rmem_max wmem_default rmem_default; do
	printf '%s=%s ' $f "$(ip netns exec "$A" cat /proc/sys/net/core/$f)"; done)"
# What else keeps CPUs 0 and 1 busy (it counts into the path CPU): 2 s before
# the bench starts anything.
read -r -a c <<<"$({ cpu_sample; sleep 2; cpu_sample; } | tr '\n' ' ')"
put - info:idle 0 - ok "$(python3 -c "print('%.0f' % (100 * (${c[4]} - ${c[1]}) / $(getconf CLK_TCK) / (2 * (${c[3]} - ${c[0]}))))")"
inb iperf3 -s >"$WORK/iperf3-server.log" 2>&1 &
BG_SERVER=$!
sleep 0.5
# Rounds past BENCH_RUNS carry the NIC-like measurement only.
for r in $(seq $((RUNS > NIC_RUNS ? RUNS : NIC_RUNS))); do
	for s in $SYSTEMS; do
		BG=()
		if [ "$r" -le "$RUNS" ]; then run_system "$s" "$r"
		elif in_nic "$s"; then run_system "$s" "$r" nic; fi
	done
done
kill $BG_SERVER 2>/dev/null
[ "$PP_ROUNDS" = 0 ] || ping_side_by_side

python3 "$TOP/bench/report.py" --results "$RESULTS" --peers "$PEERS" --runs "$RUNS" \
	--nic-runs "$(( RUNS > NIC_RUNS ? RUNS : NIC_RUNS ))" \
	--seconds "$DUR" --quick "$QUICK" --pings "$PINGS" --roundtrips "$RRS" \
	--started "$STARTED" --finished "$(date -u '+%F %T')" --commit "$COMMIT" --nice "$NICE" --sockbuf "$SOCKBUF" \
	--tsv "$OUT.runs.tsv" --json "$OUT.runs.json" | tee "$OUT"
if [ "$PP_ROUNDS" != 0 ]; then
	cp "$PP_TSV" "$OUT.ping.tsv"
	python3 "$TOP/bench/pingpair.py" --tsv "$PP_TSV" --peers "$PEERS" --rounds "$PP_ROUNDS" \
		--burst "$PP_BURST" | tee -a "$OUT"
fi
log "report in $OUT, every run's values in $OUT.runs.tsv and $OUT.runs.json"
# The scale section (many peers, many tunnels), appended to the same report.
if [ "${BENCH_SCALE:-1}" != 0 ]; then
	BENCH_OUT=$OUT IPIPD=$IPIPD bash "$TOP/bench/scale.sh" ||
		log "the scale section failed"
	log "scale section appended to $OUT"
fi

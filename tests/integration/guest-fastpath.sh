#!/bin/bash
# The eBPF fast path where clsact is the only way to attach it: ipipd inside a
# stock Debian 6.1 kernel (no tcx) booted without ipip, Datapath = auto and
# FastPathAttach = auto, against ipipd's userspace datapath here.
#
#   H: ipipd (userspace) gf0: 198.51.100.1 peer .2
#      tap gftap 192.0.2.1/24 ----------- eth0 192.0.2.2/24    guest (6.1, no ipip):
#      tap gftap2 (no address) ---------- eth1 (no address)    ipipd (auto) gf1:
#                                                              198.51.100.2 peer .1
#
# Datapath = auto falls to the fast path, attached as clsact filters (the
# underlay's ingress, the TUN device's egress); pings and 4 MiB of TCP each way
# through it, counted by the programs; ipipctl down removes the filter and
# keeps the qdisc; SIGKILL leaves the filter, a restart replaces it; the route
# to Remote moved to eth1 (and H's route to the guest to gftap2): the fast path
# follows it there.  The guest also resolves the users ipipd may drop to
# (getpwnam through glibc, as ipipd does).  H's end is configured as userspace
# whatever DATAPATH says: run-all.sh runs this suite once.
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"
BEGIN=$SECONDS
HIN=198.51.100.1 GIN=198.51.100.2

ns_new H gfH || exit 1
ip -n "$H" tuntap add dev gftap mode tap && ip -n "$H" tuntap add dev gftap2 mode tap || exit 1
ip -n "$H" addr add 192.0.2.1/24 dev gftap
ip -n "$H" link set gftap2 up
# The guest runs the release build (the sanitizer runtime wants more memory than
# it has), iproute2's tc (busybox has none that shows BPF filters) and getent.
t=$SECONDS
if ! KP_NO_IPIP=1 KP_TAP2=gftap2 KP_EXTRA_BINS="$TOP/build/ipipd $TOP/build/ipipctl /usr/sbin/tc /usr/bin/getent" \
	vm_start "$H" gftap 192.0.2.2/24; then
	notok "guest without ipip boots with ipipd in it"
	finish
	exit 1
fi
ok "guest (Linux $(vm_run 'uname -r'), no ipip) boots with ipipd in it ($((SECONDS - t)) s)"

check "guest: no ipip in its kernel, the clsact qdisc and bpf classifier are there" vm_run '
[ ! -e /sys/module/ipip ] && [ ! -e /sys/module/ip_tunnel ] && [ -e /sys/module/sch_ingress ] &&
	[ -e /sys/module/cls_bpf ] && [ ! -e /lib/modules/ipip.ko ] &&
	! ip tunnel add nokp mode ipip remote 192.0.2.1 local 192.0.2.2 2>/dev/null'
check "guest: getpwnam finds the system user ipipd (999) and nobody (65534)" vm_run '
[ "$(getent passwd ipipd | cut -d: -f3,4,6,7)" = 999:999:/nonexistent:/usr/sbin/nologin ] &&
	[ "$(getent passwd nobody | cut -d: -f3)" = 65534 ] && [ "$(getent group ipipd | cut -d: -f3)" = 999 ]'

printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = userspace\n[Address]\nAddress = %s/32\nPeer = %s\n' \
	"$HIN" "$GIN" >"$WORK/gf0.conf"
start "$H" "$WORK/gf0.conf" || notok "ipipd (userspace) starts in H"
vm_run "mkdir -p /etc/ipipd && cat > /etc/ipipd/gf1.conf <<'E'
[Tunnel]
Local = 192.0.2.2
Remote = 192.0.2.1
Datapath = auto
[Address]
Address = $GIN/32
Peer = $HIN
E" || notok "guest: configuration written"

# --- helpers -----------------------------------------------------------------

# gjson KEY: one value from the guest's `ipipctl show --json gf1` (nothing if none).
gjson() {
	vm_run 'ipipctl show --json gf1' 2>/dev/null | $PY -c '
import json, sys
try:
    print(json.load(sys.stdin)[0][sys.argv[1]])
except (ValueError, LookupError):
    sys.exit(1)' "$1"
}
# gfilters DEV ingress|egress NAME: how many of the guest's filters there run program NAME.
gfilters() { vm_run "/bin/tc filter show dev $1 $2" | grep -c "$3"; }
# forget PID: a process that is gone and reaped leaves lib.sh's kill list (no PID reuse).
forget() {
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$1" ] && unset 'PIDS[i]'; done
	return 0
}

# xfer_to_host: 4 MiB guest -> H (busybox nc), sha256 compared.
xfer_to_host() {
	local sink sent got
	rm -f "$WORK/sink.out"
	ip netns exec "$H" timeout 125 $PKT sink "$HIN" 5001 >"$WORK/sink.out" 2>&1 &
	sink=$!
	PIDS+=("$sink")
	for _ in $(seq 100); do grep -qs listening "$WORK/sink.out" && break; sleep 0.05; done
	sent=$(vm_run 'echo "$(wc -c </tmp/blob) $(sha256sum </tmp/blob | cut -d" " -f1)"')
	vm_run -t 120 "nc -w 10 $HIN 5001 </tmp/blob" >"$WORK/nc.out" 2>&1
	wait "$sink"
	forget "$sink"
	got=$(tail -n 1 "$WORK/sink.out")
	echo "guest sent: $sent"
	echo "host got:   $got"
	[ -n "$sent" ] && [ "$sent" = "$got" ]
}

# xfer_to_guest: 4 MiB H -> guest (busybox nc -l), sha256 compared.
xfer_to_guest() {
	local sent got
	vm_run 'rm -f /tmp/rx; nc -l -p 5002 >/tmp/rx 2>/tmp/nc.err </dev/null &
n=0; while ! netstat -ltn | grep -q ":5002 " && [ $n -lt 100 ]; do usleep 20000; n=$((n + 1)); done'
	sent=$(nsx "$H" timeout 120 $PKT send "$GIN" 5002 "$WORK/blob" 2>"$WORK/send.err")
	got=$(vm_run -t 20 'n=0; while pidof nc >/dev/null && [ $n -lt 30 ]; do usleep 100000; n=$((n + 1)); done
kill $(pidof nc) 2>/dev/null; echo "$(wc -c </tmp/rx) $(sha256sum </tmp/rx | cut -d" " -f1)"')
	echo "host sent: $sent"
	echo "guest got: $got"
	cat "$WORK/send.err"
	[ -n "$sent" ] && [ "$sent" = "$got" ]
}

# grew KEY MIN BEFORE: the guest's counter KEY grew by at least MIN since BEFORE.
grew() {
	local now
	now=$(gjson "$1")
	echo "$1: $2 wanted, grew by $((${now:-0} - $3)) ($3 -> $now)"
	[ "$((${now:-0} - $3))" -ge "$2" ]
}

# both_grew MIN: both programs counted MIN packets since FR0/FT0 were read.
both_grew() { grew fast_rx_packets "$1" "${FR0:-0}" && grew fast_tx_packets "$1" "${FT0:-0}"; }

# --- Datapath = auto on a kernel without ipip: the fast path, as clsact filters --

check "guest: ipipd with Datapath = auto starts" vm_run 'ipipd /etc/ipipd/gf1.conf'
SHOW=$(vm_run 'ipipctl show --json gf1')
attached() {
	echo "$SHOW" | $PY -c '
import json, sys
t = json.load(sys.stdin)[0]
print({k: t.get(k) for k in ("datapath", "datapath_reason", "fast_attach", "fast_programs")})
assert t["datapath"] == "ebpf" and t["fast_attach"] == "clsact", "not the clsact fast path"
assert "the kernel cannot create ipip devices" in t["datapath_reason"], "no reason given"
assert len(t["fast_programs"].split()) == 2 and "0" not in t["fast_programs"].split()'
}
check "guest: ipipctl show says datapath ebpf, clsact programs (no ipip, no tcx)" attached
check "guest: ipipctl show (text) says so too" bash -c \
	"[[ \"\$0\" == *'ebpf datapath (the kernel cannot create ipip devices'*'clsact programs; own ingress (this kernel has no tcx))'* ]]" \
	"$(vm_run 'ipipctl show gf1')"
UNDERLAY0=$(vm_run 'cat /sys/class/net/eth0/ifindex')
check "guest: the fast path's underlay is eth0 (ifindex $UNDERLAY0)" test "$(gjson fast_underlay)" = "$UNDERLAY0"
check "guest: tc shows ipipd's filter on eth0's ingress and on gf1's egress" bash -c \
	"[ \$0 = 1 ] && [ \$1 = 1 ]" "$(gfilters eth0 ingress ipip_ingress)" "$(gfilters gf1 egress ipip_egress)"

check "ping H -> guest (userspace -> fast path)" nsx "$H" ping -c 3 -i 0.3 -W 2 "$GIN"
check "ping guest -> H (fast path -> userspace)" vm_run "ping -c 3 -W 2 $HIN"
check "1480-byte DF ping H -> guest (full tunnel MTU)" nsx "$H" ping -c 2 -i 0.3 -W 2 -M do -s 1452 "$GIN"
check "1480-byte ping guest -> H" vm_run "ping -c 2 -W 2 -s 1452 $HIN"

head -c $((4 << 20)) /dev/urandom >"$WORK/blob"
vm_run 'head -c 4194304 /dev/urandom >/tmp/blob' || notok "guest makes its test data"
# 4 MiB is 2897 segments of 1448 bytes: the programs count segments.
FT0=$(gjson fast_tx_packets) ST0=$(gjson slow_tx_packets)
check "4 MiB TCP guest -> H arrives intact (sha256 matches)" xfer_to_host
check "... through the guest's egress program (fast_tx_packets)" grew fast_tx_packets 2800 "$FT0"
check "... with few packets left to the slow path (slow_tx_packets < 100)" bash -c \
	"[ \$((\$0 - $ST0)) -lt 100 ]" "$(gjson slow_tx_packets)"
FR0=$(gjson fast_rx_packets) SR0=$(gjson slow_rx_packets) RB0=$(gjson rx_bytes)
TR0=$(vm_run 'cat /sys/class/net/gf1/statistics/rx_packets')
check "4 MiB TCP H -> guest arrives intact (sha256 matches)" xfer_to_guest
# The ingress program took the data: ipipd's rx bytes (the programs' and the
# slow path's) grew by the 4 MiB, while the slow path took almost no packets
# and the daemon wrote almost nothing into the TUN device.
ingress_took() {
	local rb sr tr
	rb=$(gjson rx_bytes) sr=$(gjson slow_rx_packets)
	tr=$(vm_run 'cat /sys/class/net/gf1/statistics/rx_packets')
	echo "rx_bytes +$((rb - RB0)), slow_rx_packets +$((sr - SR0)), gf1 rx_packets (daemon writes) +$((tr - TR0))"
	[ $((rb - RB0)) -ge $((4 << 20)) ] && [ $((sr - SR0)) -lt 100 ] && [ $((tr - TR0)) -lt 100 ]
}
check "... through the guest's ingress program (4 MiB in its bytes, < 100 packets to the slow path)" ingress_took
check "... fast_rx_packets counts its segments as the sender's tx does (2897 for 4 MiB)" \
	grew fast_rx_packets 2800 "$FR0"
check "guest: no drops" bash -c "[[ \"\$0\" == *'drops: none'* ]]" "$(vm_run 'ipipctl show gf1')"

# --- stop, crash, restart --------------------------------------------------------

check "guest: ipipctl down removes the filter, keeps the clsact qdisc, leaves no runtime files" vm_run '
ipipctl down gf1 || exit 1
n=0; while [ -e /sys/class/net/gf1 ] && [ $n -lt 50 ]; do usleep 100000; n=$((n + 1)); done
/bin/tc filter show dev eth0 ingress; /bin/tc qdisc show dev eth0; ls /run/ipipd
! /bin/tc filter show dev eth0 ingress | grep -q ipip_ingress &&
	/bin/tc qdisc show dev eth0 | grep -q "qdisc clsact" &&
	[ ! -e /sys/class/net/gf1 ] && [ -z "$(ls /run/ipipd)" ]'
check "guest: ipipd starts again" vm_run 'ipipd /etc/ipipd/gf1.conf'
check "guest: SIGKILL leaves the clsact filter on eth0 (the documented caveat)" vm_run '
kill -9 $(cat /run/ipipd/gf1.pid); sleep 1
[ "$(/bin/tc filter show dev eth0 ingress | grep -c ipip_ingress)" = 1 ]'
check "guest: a restart at once works (the old filter replaced, not EEXIST)" vm_run 'ipipd /etc/ipipd/gf1.conf'
check "guest: ... one filter of ipipd's on eth0, the fast path attached as clsact" bash -c \
	"[ \$0 = 1 ] && [ \$1 = clsact ]" "$(gfilters eth0 ingress ipip_ingress)" "$(gjson fast_attach)"
FR0=$(gjson fast_rx_packets) FT0=$(gjson fast_tx_packets)
check "ping H -> guest after the restart" nsx "$H" ping -c 3 -i 0.3 -W 2 "$GIN"
check "... through both programs of the new daemon" both_grew 3

# --- the route to Remote moves to eth1: the fast path follows ----------------------

vm_run 'ip link set eth1 up' >/dev/null
UNDERLAY1=$(vm_run 'cat /sys/class/net/eth1/ifindex')
GPID=$(vm_run 'cat /run/ipipd/gf1.pid')
ip -n "$H" route add 192.0.2.2/32 dev gftap2
vm_run 'ip route add 192.0.2.1/32 dev eth1' >/dev/null || notok "guest: route to Remote via eth1"
follows() {
	local u
	for _ in $(seq 50); do
		u=$(gjson fast_underlay 2>/dev/null)
		[ "$u" = "$UNDERLAY1" ] && return 0
		sleep 0.1
	done
	echo "fast_underlay: want $UNDERLAY1 (eth1), have ${u:-nothing}"
	vm_run "kill -0 $GPID 2>/dev/null || echo ipipd, pid $GPID, is gone; dmesg | tail -n 5"
	return 1
}
check "underlay replaced (clsact): the guest's fast path moves to eth1 within 5 s" follows
check "... its filter is on eth1's ingress, none is left on eth0" bash -c \
	"[ \$0 = 1 ] && [ \$1 = 0 ]" "$(gfilters eth1 ingress ipip_ingress)" "$(gfilters eth0 ingress ipip_ingress)"
FR0=$(gjson fast_rx_packets) FT0=$(gjson fast_tx_packets)
RX1=$(vm_run 'cat /sys/class/net/eth1/statistics/rx_packets')
check "... ping H -> guest over eth1" nsx "$H" ping -c 3 -i 0.3 -W 2 "$GIN"
check "... ping guest -> H over eth1" vm_run "ping -c 3 -W 2 $HIN"
eth1_rx() {
	local n
	n=$(vm_run 'cat /sys/class/net/eth1/statistics/rx_packets')
	echo "eth1 rx_packets: ${RX1:-?} -> $n"
	[ $((n - ${RX1:-0})) -ge 6 ]
}
eth1_fast() { both_grew 6 && eth1_rx; }
check "... through the fast path on eth1 (both programs; eth1 received the packets)" eth1_fast
check "guest: ipipd is still running" vm_run "kill -0 $GPID"
check "guest: ipipctl down then removes the filter from eth1 and leaves no runtime files" vm_run '
ipipctl down gf1 || exit 1
n=0; while [ -e /sys/class/net/gf1 ] && [ $n -lt 50 ]; do usleep 100000; n=$((n + 1)); done
! /bin/tc filter show dev eth1 ingress | grep -q ipip_ingress &&
	! /bin/tc filter show dev eth0 ingress | grep -q ipip_ingress && [ -z "$(ls /run/ipipd)" ]'

vm_stop
echo "# guest-fastpath: $((SECONDS - BEGIN)) s"
finish

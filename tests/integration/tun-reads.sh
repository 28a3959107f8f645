#!/bin/bash
# How ipipd's own datapath reads its TUN device.  Where the kernel has
# io_uring's multishot read (Linux 6.7) and lets ipipd use it: through a
# ring the datapath process made before its sandbox, restricted to that read
# (tests/unit/test_uring.c), the packets read into its buffers while the
# thread sends the ones before.  Elsewhere (an older kernel, io_uring
# disabled by kernel.io_uring_disabled, or IPIPD_URING=off): read(), one a
# packet, and ipipctl says why.  Both carry the same packets; neither leaves
# a ring open that it does not use.
#
#   A (trA) tunnel tra 198.51.100.1 peer .2
#   va 192.0.2.1/24 -------------- veth --------------- vb 192.0.2.2/24 (trB, tunnel trb)
set -u
. "$(dirname "$0")/../lib.sh"

SYSCTL=/proc/sys/kernel/io_uring_disabled
DISABLED0=$(cat "$SYSCTL" 2>/dev/null || echo none)
restore() { [ "$DISABLED0" = none ] || echo "$DISABLED0" >"$SYSCTL"; cleanup; }
trap restore EXIT

ns_new A trA && ns_new B trB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = userspace\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' \
	>"$WORK/tra.conf"
printf '[Tunnel]\nLocal = 192.0.2.2\nRemote = 192.0.2.1\nDatapath = userspace\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' \
	>"$WORK/trb.conf"
head -c 3000000 /dev/urandom >"$WORK/blob"

# What this kernel should give: io_uring from 6.7 on, where it is not disabled.
IFS=. read -r MAJOR MINOR _ <<<"$(uname -r)"
WANT=read
if [ "$DISABLED0" = 0 ] && { [ "$MAJOR" -gt 6 ] || { [ "$MAJOR" -eq 6 ] && [ "${MINOR%%[!0-9]*}" -ge 7 ]; }; }; then
	WANT=io_uring
fi
echo "# kernel $(uname -r), kernel.io_uring_disabled $DISABLED0: expecting TUN reads by $WANT"

# rings PID: the io_uring descriptors the process holds, one "CqTail N" line each.
rings() {
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[io_uring]" ] &&
			grep -E '^CqTail:' "/proc/$1/fdinfo/${f##*/}"
	done
	return 0
}

# start_a [ENV...]: A's ipipd, in the background, with the environment given.
start_a() {
	nsx "$A" env "$@" "$IPIPD" "$WORK/tra.conf" 2>>"$WORK/ipipd.log" || return 1
	PIDS+=("$(cat "$(rundir "$A")/tra.pid")")
	for _ in $(seq 100); do nsx "$A" ping -c 1 -W 0.3 198.51.100.2 >/dev/null 2>&1 && return 0; done
	return 1
}
stop_a() { local p; p=$(cat "$(rundir "$A")/tra.pid"); nsx "$A" "$IPIPCTL" down tra; wait_gone "$p"; }

start "$B" "$WORK/trb.conf" || notok "ipipd start B"

# The default: what the kernel gives.
check "A starts" start_a
DP=$(json "$A" tra datapath_pid)
check "its TUN device is read by $WANT (ipipctl show --json: tun_read_by)" \
	test "$(json "$A" tra tun_read_by)" = "$WANT"
if [ "$WANT" = io_uring ]; then
	check "... and ipipctl show says so" bash -c "
		ip netns exec $A $IPIPCTL show tra | grep -q '^  TUN reads: io_uring, a multishot read'"
	check "... from one ring in the datapath process" test "$(rings "$DP" | wc -l)" = 1
else
	check "... and ipipctl show says why not io_uring" bash -c "
		ip netns exec $A $IPIPCTL show tra | grep -q '^  TUN reads: read(), one a packet: .'"
	check "... and no ring is left open in the datapath process" test -z "$(rings "$DP")"
fi
check "a ping through the tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "3 MB over TCP from A to B, whole (sha256 at the far end)" \
	transfer "$A" "$B" 198.51.100.2 7001 "$WORK/blob"
if [ "$WANT" = io_uring ]; then
	CQ=$(rings "$DP" | awk '{ print $2 }')
	TX=$(json "$A" tra tx_packets)
	echo "# the ring's completions: $CQ; packets sent: $TX; passes (tun_reads): $(json "$A" tra tun_reads)"
	# Each completion is at most one read of 64 KiB, so 3 MB take 46 at
	# least.  The first packet after each idle wake-up is read by read()
	# (sent before the ring's pass): at least half of the 3 MB through the ring.
	check "... read through the ring: at least 23 completions (half of 3 MB)" test "${CQ:-0}" -ge 23
fi
check "... and a ping after it" nsx "$A" ping -c 1 -W 2 198.51.100.2
stop_a

# Switched off for a measurement (IPIPD_URING=off): read(), said so, and no ring.
check "A starts with IPIPD_URING=off" start_a IPIPD_URING=off
DP=$(json "$A" tra datapath_pid)
check "... its TUN device read by read(): switched off, and said so" bash -c "
	[ \"\$(ip netns exec $A $IPIPCTL show --json tra | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t[\"tun_read_by\"], t[\"tun_read_why\"])')\" = 'read switched off (IPIPD_URING)' ]"
check "... no ring open in the datapath process" test -z "$(rings "$DP")"
check "... 3 MB over TCP, whole" transfer "$A" "$B" 198.51.100.2 7002 "$WORK/blob"
stop_a

# io_uring disabled on the host (kernel.io_uring_disabled = 2): read(), the reason said.
if [ "$DISABLED0" != none ]; then
	echo 2 >"$SYSCTL"
	check "A starts with kernel.io_uring_disabled = 2" start_a
	echo "$DISABLED0" >"$SYSCTL"
	DP=$(json "$A" tra datapath_pid)
	BY=$(json "$A" tra tun_read_by)
	check "... its TUN device read by read(), io_uring refused, and said so" bash -c "
		[ $BY = read ] && ip netns exec $A $IPIPCTL show tra | grep -q '^  TUN reads: read(), one a packet: io_uring is refused here'"
	check "... no ring open in the datapath process" test -z "$(rings "$DP")"
	check "... 3 MB over TCP, whole" transfer "$A" "$B" 198.51.100.2 7003 "$WORK/blob"
	stop_a
fi
finish

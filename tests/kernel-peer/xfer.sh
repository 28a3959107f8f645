# TCP transfers between the host and the kernel-peer guest through a tunnel,
# checked by checksum, with what both ends show when one fails (sourced, bash;
# after lib.sh and vm.sh).
#
#   xfer_to_host NAME TIMEOUT       guest's /tmp/blob -> H (busybox nc to port
#                                   5001 of HIN): ok NAME if BYTES SHA256 match
#   xfer_to_guest NAME TIMEOUT      H's $WORK/blob -> guest (busybox nc -l on
#                                   port 5002 of GIN), the same
#   link_state                      printed after a failed transfer: H's tap,
#                                   ipipd's tunnel, the guest NIC's queues as
#                                   QEMU sees them, the guest's eth0 and t0
#                                   (if it exists) counters, Udp: line, nc, dmesg
#   forget PID                      a process that is gone and reaped leaves
#                                   lib.sh's kill list (no PID reuse)
#
# Expects from the suite: H (namespace), TAP (its tap: the guest's eth0), HIN
# and GIN (the tunnel's inner addresses in H and in the guest), TUN_NAME
# (ipipd's tunnel in H, for `ipipctl show`), KP (tests/kernel-peer), the blobs
# (/tmp/blob in the guest, $WORK/blob in H); from lib.sh WORK, PKT, PIDS,
# IPIPCTL, nsx, ok, notok; from vm.sh vm_run and KP_WORK (QEMU's QMP socket).

# forget PID: a process that is gone and reaped leaves lib.sh's kill list (no PID reuse).
forget() {
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$1" ] && unset 'PIDS[i]'; done
	return 0
}

# link_state: after a failed transfer, both ends of the underlay and the
# tunnel as each side sees them (a stalled guest NIC shows here).
link_state() {
	{
		echo "host:"; ip -n "$H" -s link show "$TAP"; ip -n "$H" neigh show dev "$TAP"
		nsx "$H" "$IPIPCTL" show "$TUN_NAME"
		echo "QEMU (the guest NIC's queues):"
		/usr/bin/python3 "$KP/qmpq.py" "$KP_WORK/qmp.sock"
		echo "guest:"
		vm_run -t 20 'cd /sys/class/net/eth0 && for f in statistics/[rt]x_packets statistics/*errors \
	statistics/*dropped queues/tx-0/tx_timeout; do echo "eth0 $f $(cat $f)"; done
[ -d /sys/class/net/t0 ] && cd /sys/class/net/t0 &&
	for f in statistics/[rt]x_packets statistics/*errors; do echo "t0 $f $(cat $f)"; done
ip neigh show dev eth0; grep -i virtio /proc/interrupts; grep -E "^(MemFree|Shmem):" /proc/meminfo
grep -E "^Udp:" /proc/net/snmp; ps | grep -v grep | grep " nc "; dmesg | tail -n 8'
	} 2>&1 | sed 's/^/#   /'
}

# xfer_to_host NAME TIMEOUT: guest -> H with busybox nc; check the checksums.
xfer_to_host() {
	local name=$1 tmo=$2 sink sent got
	rm -f "$WORK/sink.out"
	ip netns exec "$H" timeout "$((tmo + 5))" $PKT sink "$HIN" 5001 >"$WORK/sink.out" 2>&1 &
	sink=$!
	PIDS+=("$sink")
	for _ in $(seq 100); do grep -qs listening "$WORK/sink.out" && break; sleep 0.05; done
	sent=$(vm_run -t 60 'echo "$(wc -c </tmp/blob) $(sha256sum </tmp/blob | cut -d" " -f1)"')
	vm_run -t "$tmo" 'nc -w 10 '"$HIN"' 5001 </tmp/blob' >"$WORK/nc.out" 2>&1
	wait "$sink"
	forget "$sink"
	got=$(tail -n 1 "$WORK/sink.out")
	if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "$name"; else
		notok "$name"; echo "#   guest sent: $sent"; echo "#   host got:   $got"
		sed 's/^/#   nc: /' "$WORK/nc.out" | head -5
		link_state
	fi
}

# xfer_to_guest NAME TIMEOUT: H -> guest (busybox nc -l); check the checksums.
# busybox nc closes its sending half at once (its stdin is empty), so the
# sender returns when its last byte is queued, not delivered: the guest waits
# for nc to end (the sender's FIN after the last byte), up to TIMEOUT seconds
# of the guest's clock (its uptime: under TCG on a busy host a loop's rounds
# take far longer than their sleep), watching nc's PID with the shell's own
# kill -0 (no program started per round).
xfer_to_guest() {
	local name=$1 tmo=$2 sent got
	vm_run 'rm -f /tmp/rx; nc -l -p 5002 >/tmp/rx 2>/tmp/nc.err </dev/null & echo $! >/tmp/nc.pid
n=0; while ! netstat -ltn | grep -q ":5002 " && [ $n -lt 100 ]; do usleep 20000; n=$((n + 1)); done'
	sent=$(nsx "$H" timeout "$tmo" $PKT send "$GIN" 5002 "$WORK/blob" 2>"$WORK/send.err")
	got=$(vm_run -t "$((tmo + 30))" 'pid=$(cat /tmp/nc.pid); read up _ </proc/uptime; end=$((${up%.*} + '"$tmo"'))
while kill -0 $pid 2>/dev/null; do read up _ </proc/uptime; [ ${up%.*} -ge $end ] && break; usleep 100000; done
kill -0 $pid 2>/dev/null && echo "nc still receiving after '"$tmo"' s: " && kill $pid
echo "$(wc -c </tmp/rx) $(sha256sum </tmp/rx | cut -d" " -f1)"')
	if [ -n "$sent" ] && [ "$sent" = "$got" ]; then ok "$name"; else
		notok "$name"; echo "#   host sent: ${sent:-(sender failed or timed out after $tmo s)}"
		echo "#   guest got: $got"; sed 's/^/#   /' "$WORK/send.err" | tail -n 2
		link_state
	fi
}

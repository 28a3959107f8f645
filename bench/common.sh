# bench/common.sh: what bench/bench.sh and bench/scale.sh share (sourced).
# Both have namespaces $A and $B joined by veth va/vb, their daemons' PIDs
# in BG, and an iperf3 server in B that outlives each configuration.

# ns_remove: end everything in both namespaces (TERM, then KILL) and delete them.
ns_remove() {
	local p ns
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.5
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
}

# stop_tunnels [TENTHS]: every process in both namespaces but the iperf3
# server ends (TERM, TENTHS tenths of a second to go, default 50, then
# KILL), and every device but lo and the veth goes.
stop_tunnels() {
	local p ns d left
	for ns in "$A" "$B"; do
		for p in $(ip netns pids "$ns"); do
			[ "$(cat /proc/$p/comm 2>/dev/null)" = iperf3 ] || kill "$p" 2>/dev/null
		done
	done
	for _ in $(seq "${1:-50}"); do
		left=0
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

#!/bin/bash
# ipipd against the Linux kernel's own ipip driver: a stock Debian kernel in a
# QEMU guest (tests/kernel-peer/), configured with the HOWTO's commands.
#
#   H (namespace)                                   guest (QEMU, TCG)
#   kp0: ipipd 198.51.100.1/32 peer .2              t0: kernel ipip 198.51.100.2/32 peer .1
#   kptap 192.0.2.1/24  ------------ tap ------------  eth0 192.0.2.2/24
#
# a. ping both ways, 16 MiB over TCP each way, no errors or ICMP errors anywhere
# b. outer headers byte for byte: kernel vs ipipd for the same inner packets
#    under several tunnel settings (ECN = kernel exact; ECN = normal differs on CE)
# c. ECN both ways, outer ECN re-marked on the path (tc pedit on H's tap), RFC 6040 table
# d. path MTU: underlay lowered to 1400 under running tunnels, then restarted on it
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"
KP=$TOP/tests/kernel-peer
BEGIN=$SECONDS
LAP=$SECONDS
lap() { echo "# $1: $((SECONDS - LAP)) s"; LAP=$SECONDS; }
TAP=kptap
HOST=192.0.2.1 GUEST=192.0.2.2 HIN=198.51.100.1 GIN=198.51.100.2
HK() { nsx "$H" "$KP_HOST_KPKT" "$@"; }
# Background processes are started with `ip netns exec` itself (it execs), never
# through a shell function, so that $! is the process to end.

ns_new H kpH || exit 1
ip -n "$H" tuntap add dev "$TAP" mode tap || exit 1
ip -n "$H" addr add "$HOST/24" dev "$TAP"
nsx "$H" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

t=$SECONDS
if ! vm_start "$H" "$TAP" "$GUEST/24" "$HOST"; then
	notok "stock Debian kernel boots as the tunnel peer"
	exit 1
fi
ok "stock Debian kernel $(vm_run uname\ -r) boots as the tunnel peer ($((SECONDS - t)) s)"

# --- helpers -----------------------------------------------------------------

# forget, link_state, xfer_to_host, xfer_to_guest: tests/kernel-peer/xfer.sh.
# shellcheck disable=SC2034 # (read by xfer.sh)
TUN_NAME=kp0
. "$KP/xfer.sh"

IPIPD_PID=
HOLD_PID=
# hold_on / hold_off: a raw protocol-4 socket in H while no ipipd runs there.
hold_on() {
	rm -f "$WORK/hold.out"
	ip netns exec "$H" "$KP_HOST_KPKT" hold >"$WORK/hold.out" 2>&1 &
	HOLD_PID=$!
	PIDS+=("$HOLD_PID")
	for _ in $(seq 50); do grep -qs ready "$WORK/hold.out" && return 0; sleep 0.05; done
}
hold_off() {
	[ -n "$HOLD_PID" ] || return 0
	kill "$HOLD_PID" && wait "$HOLD_PID" 2>/dev/null
	forget "$HOLD_PID"
	HOLD_PID=
}

# ipipd_restart LABEL [CONFIG LINES]: (re)start ipipd with these [Tunnel] lines.
ipipd_restart() {
	local label=$1 extra=${2:-}
	if [ -n "$IPIPD_PID" ]; then
		nsx "$H" "$IPIPCTL" down kp0 >/dev/null
		wait_gone "$IPIPD_PID" && forget "$IPIPD_PID"
	fi
	IPIPD_PID=
	printf '[Tunnel]\nLocal = %s\nRemote = %s\nDatapath = '"$DATAPATH"'\n%s\n[Address]\nAddress = %s/32\nPeer = %s\n' \
		"$HOST" "$GUEST" "$extra" "$HIN" "$GIN" >"$WORK/kp0.conf"
	if start "$H" "$WORK/kp0.conf" kp0; then IPIPD_PID=$STARTED; else
		notok "ipipd starts ($label)"; tail -n 5 "$WORK/ipipd.log" | sed 's/^/#   /'; return 1
	fi
}

# guest_tunnel [OPTIONS]: the HOWTO's three commands, with ip-tunnel OPTIONS added.
guest_tunnel() {
	vm_run "ip link del t0 2>/dev/null
ip tunnel add t0 mode ipip remote $HOST local $GUEST${1:+ $1} &&
ip addr add $GIN/32 peer $HIN dev t0 &&
ip link set t0 up"
}

# reconfigure LABEL GUEST_OPTIONS IPIPD_LINES: both ends, with no ICMP leaks meanwhile.
reconfigure() {
	hold_on
	guest_tunnel "$2" >"$WORK/guest.out" 2>&1 || {
		notok "guest accepts: ip tunnel add ... $2"; cat "$WORK/guest.out"; }
	ipipd_restart "$1" "$3"
	sleep 0.2
	hold_off
}

# Error counters of the guest: t0's, and ICMP errors it received.
read -r -d '' GUEST_COUNTERS <<'EOF'
cd /sys/class/net/t0/statistics || exit 1
for f in *_errors collisions rx_dropped tx_dropped; do echo "t0 $f $(cat $f)"; done
awk '/^Icmp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else
	for (i = 2; i <= NF; i++) if (n[i] ~ /^In(DestUnreachs|TimeExcds|ParmProbs|SrcQuenchs|Redirects|Errors)$/) print "icmp", n[i], $i }' /proc/net/snmp
EOF
guest_counters() { vm_run "$GUEST_COUNTERS"; }
guest_stat() { vm_run "cat /sys/class/net/t0/statistics/$1"; }

# ipipd's drops that are not zero, as NAME=N lines.
ipipd_drops() {
	nsx "$H" "$IPIPCTL" show --json kp0 | $PY -c '
import json, sys
for k, v in sorted(json.load(sys.stdin)[0]["drops"].items()):
    if v: print("%s=%s" % (k, v))'
}

drops_total() { ipipd_drops | awk -F= '{ n += $2 } END { print n + 0 }'; }

# host_sniff IFNAME ID COUNT TIMEOUT FILE: kpkt sniff in H, in the background.
host_sniff() {
	rm -f "$5"
	ip netns exec "$H" "$KP_HOST_KPKT" sniff "$1" "$2" "$3" "$4" >"$5" 2>&1 &
	SNIFF_PID=$!
	PIDS+=("$SNIFF_PID")
	for _ in $(seq 100); do grep -qs ready "$5" && return 0; sleep 0.05; done
	return 1
}
# guest_sniff IFNAME ID COUNT TIMEOUT / guest_sniffed: the same in the guest.
guest_sniff() {
	vm_run "rm -f /tmp/sniff; kpkt sniff $1 $2 $3 $4 >/tmp/sniff 2>&1 &
n=0; while ! grep -qs ready /tmp/sniff && [ \$n -lt 200 ]; do usleep 20000; n=\$((n + 1)); done
grep -q ready /tmp/sniff"
}
guest_sniffed() { vm_run -t 60 'while ! grep -q "^end" /tmp/sniff; do usleep 100000; done; cat /tmp/sniff'; }

# TCP transfers through the tunnel: 16 MiB made in the guest from /dev/urandom,
# and 16 MiB made on the host.  Each prints "BYTES SHA256" for both ends.
vm_run -t 120 'head -c 16777216 /dev/urandom >/tmp/blob' || notok "guest makes its test data"
head -c 16777216 /dev/urandom >"$WORK/blob"

# --- a. basic interop ----------------------------------------------------------

reconfigure "HOWTO defaults" "" ""
R=$(vm_run 'ip link show t0 | grep -o "UP,.*mtu [0-9]*"')
check "kernel's t0 is up with the HOWTO's commands, MTU 1480 like ipipd's [$R]" test \
	"$(echo "$R" | grep -o 'mtu [0-9]*') $(nsx "$H" cat /sys/class/net/kp0/mtu)" = "mtu 1480 1480"
GC0=$(guest_counters)
UNREACH_H=$(icmp_unreach "$H")
check "ping ipipd -> kernel through the tunnel" nsx "$H" ping -c 3 -i 0.2 -W 2 "$GIN"
check "ping kernel -> ipipd through the tunnel" vm_run "ping -c 3 -i 0.2 -W 2 $HIN"
check "1480-byte ping with DF ipipd -> kernel (full tunnel MTU)" \
	nsx "$H" ping -c 2 -i 0.2 -W 2 -M do -s 1452 "$GIN"
check "1480-byte ping kernel -> ipipd (full tunnel MTU)" vm_run "ping -c 2 -W 2 -s 1452 $HIN"
xfer_to_host "16 MiB TCP kernel -> ipipd arrives intact (sha256 matches)" 120
xfer_to_guest "16 MiB TCP ipipd -> kernel arrives intact (sha256 matches)" 120
GC1=$(guest_counters)
# t0 is fresh (made by reconfigure): its counters must be zero, not only unchanged.
counters_clean() {
	# (both readings must have worked: t0's counters and the ICMP ones)
	grep -q '^t0 rx_errors ' <<<"$GC1" && grep -q '^icmp InErrors ' <<<"$GC0" &&
		grep -q '^icmp InErrors ' <<<"$GC1" || { echo "guest counters not read:"; echo "$GC0"; echo "$GC1"; return 1; }
	diff <(grep '^icmp' <<<"$GC0") <(grep '^icmp' <<<"$GC1") && ! grep '^t0 ' <<<"$GC1" | grep -v ' 0$'
}
# no_drops: ipipctl answered and listed no drop that is not zero.
no_drops() {
	local d
	d=$(ipipd_drops) || { echo "ipipctl show --json kp0 failed"; return 1; }
	echo "$d"; [ -z "$d" ]
}
check "kernel's t0 counts no error or drop, and no ICMP error reached the guest" counters_clean
check "no ICMP unreachable sent by H (no protocol-unreachable leak)" \
	test -n "$UNREACH_H" -a "$(icmp_unreach "$H")" = "$UNREACH_H"
check "ipipd dropped nothing" no_drops

lap "guest boot and case a"

# --- b. outer headers byte for byte ---------------------------------------------

# compare_outer LABEL ID GUEST_OPTS IPIPD_LINES MODE
compare_outer() {
	local label=$1 id=$2 out=$WORK/outer.$2
	reconfigure "$label" "$3" "$4"
	host_sniff "$TAP" "$id" 384 60 "$out" || { notok "sniffer starts ($label)"; return; }
	vm_run -t 60 "kpkt matrix $GIN $HIN $id 1" >"$WORK/matrix.out" 2>&1 ||
		{ notok "guest sends the inner packets ($label)"; cat "$WORK/matrix.out"; }
	HK matrix "$HIN" "$GIN" "$id" 1 || notok "H sends the inner packets ($label)"
	wait "$SNIFF_PID"; forget "$SNIFF_PID"
	if $PY "$KP/check.py" outer "$out" "$5" "$GUEST" "$HOST" >"$WORK/cmp.out" 2>&1; then
		ok "outer headers agree: $label [$(tail -n 1 "$WORK/cmp.out")]"
	else
		notok "outer headers agree: $label"; sed 's/^/#   /' "$WORK/cmp.out"
	fi
}
compare_outer "ttl inherit, tos 0, pmtudisc / ECN = kernel" 19201 "" "ECN = kernel" exact
compare_outer "ttl 64 / TTL = 64, ECN = kernel" 19202 "ttl 64" $'TTL = 64\nECN = kernel' exact
compare_outer "tos inherit / TOS = inherit, ECN = kernel" 19203 "tos inherit" \
	$'TOS = inherit\nECN = kernel' exact
compare_outer "nopmtudisc / DiscoverPathMTU = no, ECN = kernel" 19204 "nopmtudisc" \
	$'DiscoverPathMTU = no\nECN = kernel' exact
compare_outer "tos inherit nopmtudisc / TOS = inherit, DiscoverPathMTU = no, ECN = kernel" 19205 \
	"tos inherit nopmtudisc" $'TOS = inherit\nDiscoverPathMTU = no\nECN = kernel' exact
compare_outer "ttl 255 tos 0x28 / TTL = 255, TOS = 40, ECN = kernel" 19206 "ttl 255 tos 28" \
	$'TTL = 255\nTOS = 40\nECN = kernel' exact
compare_outer "defaults, ECN = normal: differs from the kernel only for inner CE" 19207 "" \
	"ECN = normal" ecn-normal

lap "case b"

# --- c. ECN both ways -------------------------------------------------------------

# tc_ecn ingress|egress ID: on the path (H's tap, the first and the last hook a
# packet passes there, so that the eBPF fast path does not bypass it as it does
# netfilter), set the outer ECN of our echo requests (ICMP ID) to seq & 3 with
# a small TC program (tests/bpf/remark_ecn.bpf.c) that lets every packet go on
# to the next filter: a fast-path filter after it still runs.
tc_ecn() {
	clang -target bpf -O2 -DECN_ID="$2" -I"/usr/include/$(gcc -dumpmachine)" \
		-c -o "$WORK/remark$2.o" "$TOP/tests/bpf/remark_ecn.bpf.c" || return 1
	nsx "$H" tc qdisc add dev "$TAP" clsact 2>/dev/null
	nsx "$H" tc filter add dev "$TAP" "$1" pref 1 bpf direct-action obj "$WORK/remark$2.o" sec tc
}
tc_ecn_off() { nsx "$H" tc qdisc del dev "$TAP" clsact 2>/dev/null; }

judge_ecn() { # judge_ecn NAME FILE none|seq
	if $PY "$KP/check.py" ecn "$2" "$3" >"$WORK/ecn.out" 2>&1; then ok "$1"; else
		notok "$1"; sed 's/^/#   /' "$WORK/ecn.out"
	fi
}

# kernel encapsulates, ipipd decapsulates (ECN handling on receive is the same in every ECN mode).
# The fast path as a clsact filter: the re-marking filter on the tap's ingress runs first.
reconfigure "ECN, defaults" "" "FastPathAttach = clsact"
host_sniff kp0 19301 16 8 "$WORK/ecn1" || notok "sniffer starts on kp0"
vm_run "kpkt ecn $GIN $HIN 19301 2" || notok "guest sends ECN packets"
wait "$SNIFF_PID"; forget "$SNIFF_PID"
judge_ecn "kernel-encapsulated ECN arrives unchanged through ipipd (inner CE: outer ECT(0) -> CE)" \
	"$WORK/ecn1" none
E0=$(json "$H" kp0 drops.rx_ecn_ce_over_not_ect) T0=$(drops_total)
tc_ecn ingress 19302 || notok "tc filters re-marking the outer ECN"
host_sniff kp0 19302 16 8 "$WORK/ecn2" || notok "sniffer starts on kp0"
vm_run "kpkt ecn $GIN $HIN 19302 2" || notok "guest sends ECN packets"
wait "$SNIFF_PID"; forget "$SNIFF_PID"
tc_ecn_off
judge_ecn "ipipd decapsulates the kernel's packets per RFC 6040 (outer ECN re-marked on the path)" \
	"$WORK/ecn2" seq
check "ipipd counts the one CE over Not-ECT drop (rx_ecn_ce_over_not_ect), no other" test \
	"$(json "$H" kp0 drops.rx_ecn_ce_over_not_ect) $(drops_total)" = "$((E0 + 1)) $((T0 + 1))"

# ipipd encapsulates, the kernel decapsulates
guest_sniff t0 19303 16 6 || notok "sniffer starts in the guest"
HK ecn "$HIN" "$GIN" 19303 2 || notok "H sends ECN packets"
guest_sniffed >"$WORK/ecn3"
judge_ecn "ipipd-encapsulated ECN (ECN = normal) arrives unchanged in the kernel" "$WORK/ecn3" none
reconfigure "ECN = kernel" "" "ECN = kernel"
guest_sniff t0 19304 16 6 || notok "sniffer starts in the guest"
HK ecn "$HIN" "$GIN" 19304 2 || notok "H sends ECN packets"
guest_sniffed >"$WORK/ecn4"
judge_ecn "ipipd-encapsulated ECN (ECN = kernel) arrives unchanged in the kernel" "$WORK/ecn4" none
FE0=$(guest_stat rx_frame_errors)
RE0=$(guest_stat rx_errors)
tc_ecn egress 19305 || notok "tc filters re-marking the outer ECN"
guest_sniff t0 19305 16 6 || notok "sniffer starts in the guest"
HK ecn "$HIN" "$GIN" 19305 2 || notok "H sends ECN packets"
guest_sniffed >"$WORK/ecn5"
tc_ecn_off
judge_ecn "the kernel decapsulates ipipd's packets per RFC 6040 (outer ECN re-marked on the path)" \
	"$WORK/ecn5" seq
check "the kernel counts the one CE over Not-ECT drop (rx_frame_errors, rx_errors)" \
	test "$(guest_stat rx_frame_errors) $(guest_stat rx_errors)" = "$((FE0 + 1)) $((RE0 + 1))"

lap "case c"

# --- d. path MTU -----------------------------------------------------------------

# Both ends set up on a 1500 underlay (t0 recreated: the guest has no path MTU
# cached yet), then the underlay MTU drops to 1400 under them.  ipipd's side is
# checked first: the guest has learned nothing that would shrink its TCP MSS.
reconfigure "PMTU, defaults" "" ""
ip -n "$H" link set "$TAP" mtu 1400
vm_run "ip link set eth0 mtu 1400"
xfer_to_guest "underlay MTU lowered to 1400: 16 MiB TCP ipipd -> kernel completes intact" 60
echo "# ipipd drops after that transfer: $(ipipd_drops | tr '\n' ' ')"
R=$(HK probe "$HIN" "$GIN" 19402 1480 3000)
check "underlay MTU lowered to 1400: ipipd answers a 1480-byte DF packet with frag-needed mtu=1380 [$R; drops: $(ipipd_drops | tr '\n' ' ')]" \
	bash -c "echo '$R' | grep -q 'frag-needed mtu=1380 '"
# The kernel: t0 keeps MTU 1480, its transmit path sees the 1400 route MTU and
# answers a too-big DF packet with "fragmentation needed, MTU 1380" (it also
# lowers the inner route's path MTU on every packet it sends: forget that first,
# so that the kernel starts from the same state as ipipd did).
R=$(vm_run "ip route flush cache && kpkt probe $GIN $HIN 19401 1480 3000")
check "underlay MTU lowered to 1400: kernel answers a 1480-byte DF packet with frag-needed mtu=1380 [$R]" \
	bash -c "echo '$R' | grep -q 'frag-needed mtu=1380 '"
R=$(vm_run "kpkt probe $GIN $HIN 19403 1380 3000")
check "underlay MTU 1400: a 1380-byte DF packet kernel -> ipipd gets its reply [$R]" \
	bash -c "echo '$R' | grep -qx reply"
R=$(HK probe "$HIN" "$GIN" 19404 1380 3000)
check "underlay MTU 1400: a 1380-byte DF packet ipipd -> kernel gets its reply [$R]" \
	bash -c "echo '$R' | grep -qx reply"
vm_run "ip route flush cache"
xfer_to_host "underlay MTU lowered to 1400: 16 MiB TCP kernel -> ipipd completes intact" 60
echo "# ipipd ICMP errors seen on its raw socket: $(json "$H" kp0 icmp_errors 2>/dev/null)"

# Both ends set up afresh on the 1400 underlay: both take tunnel MTU 1380.
reconfigure "PMTU, restarted on 1400" "" ""
check "set up on a 1400 underlay: tunnel MTU 1380 at both ends" test \
	"$(vm_run 'cat /sys/class/net/t0/mtu') $(nsx "$H" cat /sys/class/net/kp0/mtu)" = "1380 1380"
R=$(vm_run "kpkt probe $GIN $HIN 19405 1381 2000")
R2=$(HK probe "$HIN" "$GIN" 19406 1381 2000)
check "set up on a 1400 underlay: a 1381-byte DF packet is refused locally at both ends [$R / $R2]" \
	bash -c "[ '$R' = '$R2' ] && echo '$R' | grep -q '^send-error EMSGSIZE'"
xfer_to_host "set up on a 1400 underlay: 16 MiB TCP kernel -> ipipd intact" 60
xfer_to_guest "set up on a 1400 underlay: 16 MiB TCP ipipd -> kernel intact" 60

lap "case d"
echo "# kernel-interop: $((SECONDS - BEGIN)) s in all"
finish

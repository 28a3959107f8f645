#!/bin/bash
# Datapath = kernel: ipipd inside a stock Debian kernel (which has ipip)
# drives the kernel's own device, against ipipd's userspace datapath here.
#
#   H: tap kdtap 192.0.2.1/24, ipipd (userspace) kd0: 198.51.100.1 peer .2
#   guest: eth0 192.0.2.2/24, ipipd (kernel datapath) kd1: 198.51.100.2 peer .1
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"

ns_new H kdH || exit 1
ip -n "$H" tuntap add dev kdtap mode tap || exit 1
ip -n "$H" addr add 192.0.2.1/24 dev kdtap
# The guest runs the release build (the sanitizer runtime wants more memory than it has).
KP_EXTRA_BINS="$TOP/build/ipipd $TOP/build/ipipctl /usr/sbin/tc" vm_start "$H" kdtap 192.0.2.2/24 ||
	{ notok "guest boots with ipipd in it"; finish; exit 1; }
ok "guest boots with ipipd in it"

guest_conf() { # guest_conf DATAPATH [KEY LINE]
	vm_run "mkdir -p /etc/ipipd && cat > /etc/ipipd/kd1.conf <<'E'
[Tunnel]
Local = 192.0.2.2
Remote = 192.0.2.1
Datapath = $1
${2:-}
[Address]
Address = 198.51.100.2/32
Peer = 198.51.100.1
E"
}
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = userspace\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' >"$WORK/kd0.conf"
start "$H" "$WORK/kd0.conf" || notok "ipipd (userspace) starts in H"

guest_conf kernel "$(printf '[Route]\nDestination = 203.0.113.0/24')"
check "guest: ipipd with Datapath = kernel starts" vm_run 'ipipd /etc/ipipd/kd1.conf'
check "guest: kd1 is the kernel's ipip device (type 768), not a TUN" \
	test "$(vm_run 'cat /sys/class/net/kd1/type')" = 768
check "guest: ... with no qdisc in front of it (noqueue), as ipipd's TUN device" \
	test "$(vm_run '/bin/tc qdisc show dev kd1 root' | awk '{ print $2; exit }')" = noqueue
check "guest: ipipctl show says datapath kernel" \
	bash -c "[[ \"\$0\" == *'\"datapath\":\"kernel\"'* ]]" "$(vm_run 'ipipctl show --json kd1')"
check "ping H -> guest (userspace -> kernel datapath)" nsx "$H" ping -c 3 -i 0.3 -W 2 198.51.100.2
check "ping guest -> H (kernel -> userspace datapath)" vm_run 'ping -c 3 -W 2 198.51.100.1'
check "1480-byte DF ping H -> guest (ping -M do)" \
	nsx "$H" ping -c 2 -i 0.3 -W 2 -M do -s 1452 198.51.100.2
# busybox ping has no -M: DF comes from the guest kernel's path MTU discovery
# (its default for ping's socket), and is checked on the packets H receives.
capture TD_DF "$H" kd0 "$WORK/df.pcap" \
	'src host 198.51.100.2 and icmp[icmptype] == icmp-echo and ip[6] & 0x40 != 0 and ip[2:2] == 1480'
df_from_guest() {
	local n
	vm_run 'ping -c 2 -W 2 -s 1452 198.51.100.1' || { stop_capture "$TD_DF"; return 1; }
	stop_capture "$TD_DF"
	n=$(tcpdump -nr "$WORK/df.pcap" 2>/dev/null | wc -l)
	echo "$n echo requests of 1480 bytes with DF from the guest on kd0"
	[ "$n" -ge 2 ]
}
check "1480-byte ping guest -> H with DF set (busybox ping: DF by the guest kernel's default, seen on H's kd0)" \
	df_from_guest
tx=$(vm_run 'ipipctl show --json kd1' | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["tx_packets"])')
check "guest: ipipctl reports the kernel device's counters (tx_packets $tx >= 5)" test "${tx:-0}" -ge 5

check "guest: SIGKILL leaves the kernel device behind" vm_run '
kill -9 $(cat /run/ipipd/kd1.pid); sleep 1; [ -e /sys/class/net/kd1 ]'
check "guest: a restart removes it first and works at once" vm_run 'ipipd /etc/ipipd/kd1.conf'
check "ping after the restart" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
# Someone else sets the kernel's device down and up: the kernel removes the
# [Route] with it, ipipd puts it back; removes the device: ipipd stops.
check "guest: the kernel's device set down and up again: ipipd puts its [Route] back" vm_run '
ip route | grep -q "^203.0.113.0/24 dev kd1" && ip link set kd1 down && sleep 1 &&
! ip route | grep -q "^203.0.113.0/24 dev kd1" && ip link set kd1 up &&
for i in 1 2 3 4 5 6 7 8 9 10; do ip route | grep -q "^203.0.113.0/24 dev kd1" && break; sleep 0.5; done &&
ip route | grep -q "^203.0.113.0/24 dev kd1"'
check "ping after the device came back" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
# Its [Route] and address deleted by someone else (the device's last
# address takes the routes through it along): ipipd puts them back.
check "guest: the kernel's device's [Route] and address deleted by someone else: ipipd puts them back" vm_run '
ip route del 203.0.113.0/24 dev kd1 && ip addr del 198.51.100.2/32 peer 198.51.100.1 dev kd1 &&
! ip -4 addr show dev kd1 | grep -q "inet 198.51.100.2" &&
for i in 1 2 3 4 5 6 7 8 9 10; do ip route | grep -q "^203.0.113.0/24 dev kd1" &&
	ip -4 addr show dev kd1 | grep -q "inet 198.51.100.2" && break; sleep 0.5; done &&
ip route | grep -q "^203.0.113.0/24 dev kd1" && ip -4 addr show dev kd1 | grep -q "inet 198.51.100.2"'
check "ping after they came back" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
# Its [Route] replaced by a route through eth0: left alone, and shown; put
# back once that one is gone.
check "guest: the kernel's device's [Route] replaced by someone else's: left alone and shown, put back once that one is gone" vm_run '
ip route replace 203.0.113.0/24 dev eth0 &&
for i in 1 2 3 4 5 6 7 8 9 10; do ipipctl show kd1 | grep -q "route DISPLACED: 203.0.113.0/24 table 254" && break; sleep 0.5; done &&
ipipctl show kd1 | grep -q "route DISPLACED: 203.0.113.0/24 table 254" && ip route | grep -q "^203.0.113.0/24 dev eth0" &&
ip route del 203.0.113.0/24 dev eth0 &&
for i in 1 2 3 4 5 6 7 8 9 10; do ip route | grep -q "^203.0.113.0/24 dev kd1" && break; sleep 0.5; done &&
ip route | grep -q "^203.0.113.0/24 dev kd1" && ! ipipctl show kd1 | grep -q DISPLACED'
# Renamed by someone else (Linux 6.1 renames a device only while it is
# down): ipipd names it back, and the device's counters, read by its name,
# still reach ipipctl.  (The new name is in /sys a moment before the kernel
# finds the device by it, hence `ip link set kd1 up` until it does.)
check "guest: the kernel's device renamed by someone else: ipipd names it back" vm_run '
ip link set kd1 down && ip link set kd1 name kdx &&
for i in 1 2 3 4 5 6 7 8 9 10; do ip link set kd1 up 2>/dev/null && break; sleep 0.5; done &&
[ -e /sys/class/net/kd1 ] && [ ! -e /sys/class/net/kdx ] && ip link set kd1 up &&
for i in 1 2 3 4 5 6 7 8 9 10; do ip route | grep -q "^203.0.113.0/24 dev kd1" && break; sleep 0.5; done &&
ip route | grep -q "^203.0.113.0/24 dev kd1"'
check "ping after it has its name again" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
tx2=$(vm_run 'ipipctl show --json kd1' | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["tx_packets"])')
check "guest: ipipctl still reports the device's counters ($tx2 >= 2)" test "${tx2:-0}" -ge 2
check "guest: the kernel's device removed by someone else: ipipd stops and leaves no runtime files" vm_run '
p=$(cat /run/ipipd/kd1.pid) && ip link del kd1 &&
for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $p 2>/dev/null || break; sleep 0.5; done &&
! kill -0 $p 2>/dev/null && [ -z "$(ls /run/ipipd)" ]'
check "guest: it starts again" vm_run 'ipipd /etc/ipipd/kd1.conf'
check "guest: ipipctl down deletes the kernel device and the runtime files" vm_run '
ipipctl down kd1 && [ ! -e /sys/class/net/kd1 ] && [ -z "$(ls /run/ipipd)" ]'

guest_conf auto
check "guest: Datapath = auto picks the kernel device where the kernel has ipip" vm_run '
ipipd /etc/ipipd/kd1.conf && ipipctl show kd1 | grep -q "kernel datapath (the kernel has ipip)"'
check "ping with the auto-chosen kernel datapath" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
check "guest: the kernel's device refuses source-routed inner packets (accept_source_route 0 on kd1), and ipipctl says the kernel enforces that" vm_run '
[ "$(cat /proc/sys/net/ipv4/conf/kd1/accept_source_route)" = 0 ] &&
ipipctl show --json kd1 | grep -q "\"enforcement\":\"the kernel: .*accept_source_route 0"'
vm_run 'ipipctl down kd1' >/dev/null

# Keys the kernel's device cannot enforce are never ignored: auto carries the
# packets itself, kernel refuses to start, naming the key and its line.
guest_conf auto "AllowedSources = 198.51.100.1/32"
check "guest: AllowedSources with Datapath = auto: ipipd's own datapath, and ipipctl says why" vm_run '
ipipd /etc/ipipd/kd1.conf && ipipctl show kd1 | grep -Eq "(ebpf|userspace) datapath \(AllowedSources: the kernel.s ipip device would not enforce it" &&
[ "$(cat /sys/class/net/kd1/type)" != 768 ]'
check "ping with AllowedSources enforced by ipipd" nsx "$H" ping -c 2 -i 0.3 -W 2 198.51.100.2
vm_run 'ipipctl down kd1' >/dev/null
guest_conf kernel "AllowedSources = 198.51.100.1/32"
OUT=$(vm_run 'ipipd -f /etc/ipipd/kd1.conf 2>&1; echo "status $?"')
echo "$OUT" | sed 's/^/#   /'
check "guest: AllowedSources with Datapath = kernel: refused with the file, line and key, exit 78 (a configuration error)" \
	bash -c 'grep -q "kd1.conf:5: AllowedSources: the kernel.s ipip device (Datapath = kernel) cannot enforce it" <<<"$1" && grep -q "^status 78\b" <<<"$1"' _ "$OUT"
check "guest: ... and nothing left behind" vm_run '[ ! -e /sys/class/net/kd1 ] && [ -z "$(ls /run/ipipd 2>/dev/null)" ]'
vm_stop
finish

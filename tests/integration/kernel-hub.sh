#!/bin/bash
# Remote = any against the Linux kernel's own `remote any` ipip device: a
# stock Debian kernel in a QEMU guest (tests/kernel-peer/) with an NBMA
# tunnel and onlink routes, and an ipipd hub in H with [Route] Gateway.
# Each side sends a route's packets to the route's gateway; both directions.
#
#   H (namespace)                                     guest (QEMU, TCG)
#   hub: ipipd, Remote = any, 198.51.100.1/32         gh: ip tunnel ... remote any, 198.51.100.2/32
#        LAN 203.0.113.17 (lo)                            LAN 203.0.113.33 (lo)
#   khtap 192.0.2.1/24  ------------- tap -------------  eth0 192.0.2.2/24
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/kernel-peer/vm.sh"
KP=$TOP/tests/kernel-peer
TAP=khtap
HOST=192.0.2.1 GUEST=192.0.2.2 HIN=198.51.100.1 GIN=198.51.100.2

ns_new H khH || exit 1
ip -n "$H" tuntap add dev "$TAP" mode tap || exit 1
ip -n "$H" addr add "$HOST/24" dev "$TAP"
ip -n "$H" addr add 203.0.113.17/32 dev lo
nsx "$H" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0

t=$SECONDS
if ! vm_start "$H" "$TAP" "$GUEST/24" "$HOST"; then
	notok "stock Debian kernel boots as the hub's peer"
	exit 1
fi
ok "stock Debian kernel $(vm_run uname\ -r) boots as the hub's peer ($((SECONDS - t)) s)"

# shellcheck disable=SC2034 # (read by xfer.sh)
TUN_NAME=hub
. "$KP/xfer.sh"

# The kernel's NBMA tunnel, as the kernel's documentation sets one up.
check "guest: ip tunnel add gh mode ipip remote any, routes via 192.0.2.1 onlink" vm_run "
ip tunnel add gh mode ipip remote any local $GUEST &&
ip addr add $GIN/32 dev gh && ip link set gh up &&
ip addr add 203.0.113.33/32 dev lo &&
ip route add $HIN/32 via $HOST dev gh onlink &&
ip route add 203.0.113.16/28 via $HOST dev gh onlink"

printf '[Tunnel]\nName = hub\nLocal = %s\nRemote = any\nAllowedRemotes = 192.0.2.0/28\nDatapath = %s\n[Address]\nAddress = %s/32\n[Route]\nDestination = %s/32\nGateway = %s\n[Route]\nDestination = 203.0.113.32/28\nGateway = %s\n' \
	"$HOST" "$([ "$DATAPATH" = ebpf ] && echo auto || echo "$DATAPATH")" "$HIN" "$GIN" "$GUEST" \
	"$GUEST" >"$WORK/hub.conf"
start "$H" "$WORK/hub.conf" || notok "ipipd hub starts"
PH=$STARTED

check "ipipd hub -> kernel remote-any device: ping" nsx "$H" ping -c 3 -i 0.2 -W 3 "$GIN"
check "kernel remote-any device -> ipipd hub: ping" vm_run "ping -c 3 -W 3 $HIN"
check "LAN to LAN, ipipd's side first" nsx "$H" ping -c 3 -i 0.2 -W 3 -I 203.0.113.17 203.0.113.33
check "LAN to LAN, the kernel's side first" vm_run "ping -c 3 -W 3 -I 203.0.113.33 203.0.113.17"
check "1400-byte packets (DF), ipipd -> the kernel and back" bash -c "
	ip netns exec $H ping -c 2 -i 0.2 -W 3 -M do -s 1372 $GIN"
vm_run -t 120 'head -c 4194304 /dev/urandom >/tmp/blob' || notok "guest makes its test data"
head -c 4194304 /dev/urandom >"$WORK/blob"
xfer_to_host "4 MiB TCP kernel hub -> ipipd hub arrives intact (sha256 matches)" 120
xfer_to_guest "4 MiB TCP ipipd hub -> kernel hub arrives intact (sha256 matches)" 120
nsx "$H" "$IPIPCTL" show --json hub >"$WORK/show.json"
check "ipipd counts the kernel's device as peer 192.0.2.2, both ways, nothing dropped" $PY -c '
import json, sys
t = json.load(open(sys.argv[1]))[0]
p = {x["address"]: x for x in t["peers"]}["192.0.2.2"]
print(p, {k: v for k, v in t["drops"].items() if v})
assert p["rx_bytes"] > 4194304 and p["tx_bytes"] > 4194304, p
assert not any(v for k, v in t["drops"].items() if k.startswith("rx_")), t["drops"]
' "$WORK/show.json"
if [ "$DATAPATH" = ebpf ]; then
	check "... on the eBPF fast path, both ways (most of each transfer's packets)" $PY -c '
import json, sys
t = json.load(open(sys.argv[1]))[0]
p = {x["address"]: x for x in t["peers"]}["192.0.2.2"]
print(t["datapath"], p)
assert t["datapath"] == "ebpf", t["datapath"]
assert p["rx_fast"] * 2 > p["rx_packets"] > 0 and p["tx_fast"] * 2 > p["tx_packets"] > 0, p
' "$WORK/show.json"
fi
check "the guest's gh counted no errors" vm_run '
cd /sys/class/net/gh/statistics && for f in rx_errors tx_errors rx_dropped tx_dropped; do
	echo "$f $(cat $f)"; [ "$(cat $f)" = 0 ] || exit 1; done'

# The kernel's device takes any inner source from any peer; ipipd's hub does not.
d0=$(json "$H" hub drops.rx_peer_source)
vm_run "ip addr add 203.0.113.50/32 dev lo; ping -c 3 -W 1 -I 203.0.113.50 $HIN" >/dev/null 2>&1
check "an inner source the hub does not route to the guest: dropped as rx_peer_source" \
	test $(($(json "$H" hub drops.rx_peer_source) - d0)) -ge 3

check "ipipctl down hub" nsx "$H" "$IPIPCTL" down hub
wait_gone "$PH" || notok "ipipd exits"
vm_stop
finish

#!/bin/bash
# Reload without dropping the tunnel: SIGHUP and `ipipctl reload NAME` read
# the file again and apply only what changed.  A TCP transfer and a 100/s
# ping cross the tunnel during 10 reloads that change TTL, TOS, MTU and
# AllowedSources; a file with an error, or a change only a restart applies,
# changes nothing; host settings change by difference (rtnetlink and nft
# monitors see nothing of the groups that did not change); Local and Remote
# change live.
#
#   A (rlA) tunnel ra 198.51.100.1/32 peer .2       B (rlB) tunnel rb 198.51.100.2/32 peer .1
#   va 192.0.2.1/24 (+ .11 later) ----- veth ----- vb 192.0.2.2/24 (+ .12 later)
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A rlA && ns_new B rlB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
nsx "$A" ip link add lan0 type veth peer lan0p && nsx "$A" ip link set lan0 up

# conf_a TTL TOS MTU ALLOWED [EXTRA]: A's file (EXTRA: more lines at the end)
conf_a() {
	cat >"$WORK/ra.conf" <<-EOF
	[Tunnel]
	Name = ra
	Local = ${LOCAL_A:-192.0.2.1}
	Remote = ${REMOTE_A:-192.0.2.2}
	Datapath = $DATAPATH
	TTL = $1
	TOS = $2
	MTU = $3
	AllowedSources = $4
	[Address]
	Address = 198.51.100.1/32
	Peer = 198.51.100.2
	[Routing]
	Table = 4711
	[Host]
	IPv4Forwarding = yes
	ProxyARP = lan0
	[Firewall]
	Forward = accept
	ForwardFrom = 203.0.113.0/24
	${5:-}
	EOF
}
conf_b() {
	printf '[Tunnel]\nName = rb\nLocal = %s\nRemote = %s\nDatapath = %s\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' \
		"${LOCAL_B:-192.0.2.2}" "${REMOTE_B:-192.0.2.1}" "$DATAPATH" >"$WORK/rb.conf"
}
dump "$A" >"$WORK/a.before"
conf_a 64 0x00 1400 198.51.100.2/32
conf_b
if ! start "$A" "$WORK/ra.conf" || ! start "$B" "$WORK/rb.conf"; then
	notok "ipipd start"; sed 's/^/#   /' "$WORK/ipipd.log"; exit 1
fi
PB=$STARTED
PA=$(cat "$(rundir "$A")/ra.pid")
check "the tunnel carries pings before any reload" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
dump "$A" >"$WORK/a.up"
reload() { nsx "$A" "$IPIPCTL" reload ra >>"$WORK/reload.out" 2>&1; }

# Under a paced 4 MB transfer (about 8 s) and a 100/s ping, 10 reloads.
head -c 4000000 /dev/urandom >"$WORK/blob"
transfer_start "$A" "$B" 198.51.100.2 5001 "$WORK/blob" 500000
nsx "$A" ping -q -i 0.01 -c 800 -W 1 198.51.100.2 >"$WORK/ping.out" 2>&1 &
PING=$!; PIDS+=("$PING")
TX0=$(json "$A" ra tx_packets)
sleep 0.5
bad=0
for i in $(seq 1 10); do
	ttl=$((64 - i)); tos=$(printf '0x%02x' $(((i % 4) * 8)))
	mtu=$((1400 - i * 10))
	if [ $((i % 2)) = 0 ]; then allowed=198.51.100.2/32; else allowed=198.51.100.0/24; fi
	conf_a "$ttl" "$tos" "$mtu" "$allowed"
	if [ $((i % 3)) = 0 ]; then kill -HUP "$PA"; sleep 0.2; else reload || bad=$((bad + 1)); fi
	got="$(json "$A" ra ttl) $(json "$A" ra tos) $(json "$A" ra mtu)"
	[ "$got" = "$ttl $tos $mtu" ] || { echo "#   reload $i: show says '$got', want '$ttl $tos $mtu'"; bad=$((bad + 1)); }
	[ "$(nsx "$A" cat /sys/class/net/ra/mtu)" = "$mtu" ] || { echo "#   reload $i: device MTU $(nsx "$A" cat /sys/class/net/ra/mtu)"; bad=$((bad + 1)); }
	tx=$(json "$A" ra tx_packets)
	[ "$tx" -ge "$TX0" ] || { echo "#   reload $i: tx_packets went back ($TX0 -> $tx)"; bad=$((bad + 1)); }
	TX0=$tx
	sleep 0.4
done
sed 's/^/#   /' "$WORK/reload.out"
check "10 reloads (7 by ipipctl reload, 3 by SIGHUP) applied TTL, TOS and MTU each time, counters never went back" test "$bad" = 0
wait "$PING"
wait "$SEND"; wait "$SINK"
sed 's/^/#   /' "$WORK/ping.out" | tail -2
lost=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' "$WORK/ping.out")
check "the 100/s ping lost at most 5 of 800 across the reloads (received ${lost:-none})" test "${lost:-0}" -ge 795
check "the TCP transfer across the reloads arrived intact (sha256)" bash -c '
	s=$(cat "$1"); g=$(tail -n 1 "$2"); [ -n "$s" ] && [ "$s" = "$g" ]' _ "$WORK/send.out" "$WORK/sink.out"
check "the daemon is the one started, the tunnel never went down" bash -c "kill -0 $PA && test \"\$(ip netns exec $A $IPIPCTL show --json ra | $PY -c 'import json,sys; print(json.load(sys.stdin)[0][\"pid\"])')\" = $PA"

# On the wire: the outer TTL and TOS of the last reload (54, 0x10).
capture CAP "$B" vb "$WORK/outer.pcap" "ip proto 4"
nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2 >/dev/null
stop_capture "$CAP"
check "on the wire: outer TTL 54 and TOS 0x10 from the last reload" bash -c "
	tcpdump -nv -r $WORK/outer.pcap 2>/dev/null | grep -q 'tos 0x10, ttl 54,'"

# A reload that changes only the tunnel's settings touches no route, rule,
# address or nft rule (monitors), and the host setup is as it was.
bg "$A" ip monitor address route rule >"$WORK/mon.ip" 2>&1
MON=$BG
bg "$A" nft monitor ruleset >"$WORK/mon.nft" 2>&1
MONF=$BG
sleep 0.3
dump "$A" | grep -v -E '^\s*(link/|inet |valid_lft|[0-9]+: ra:)' >"$WORK/a.mid"
conf_a 60 0x08 1300 198.51.100.0/24
reload
sleep 0.3
kill "$MON" "$MONF"; wait "$MON" "$MONF" 2>/dev/null
check "a reload of TTL, TOS, MTU and AllowedSources: no route, rule, address or nft change seen" \
	bash -c "! grep -v -E '^$' $WORK/mon.ip $WORK/mon.nft | grep -v -i 'mtu'"

# Host settings change by difference: a new table and rule, the old ones gone.
conf_a 60 0x08 1300 198.51.100.0/24
sed -i 's/^Table = 4711/Table = 4712/' "$WORK/ra.conf"
bg "$A" ip monitor rule >"$WORK/mon2.ip" 2>&1
MON=$BG
bg "$A" nft monitor ruleset >"$WORK/mon2.nft" 2>&1
MONF=$BG
sleep 0.3
check "a reload with another Table succeeds" reload
sleep 0.3
kill "$MON" "$MONF"; wait "$MON" "$MONF" 2>/dev/null
check "... the rule moved to table 4712 and the default route with it" bash -c "
	ip -n $A rule | grep -q 'from 198.51.100.1 lookup 4712' && ! ip -n $A rule | grep -q 4711 &&
	ip -n $A route show table 4712 | grep -q 'default via 198.51.100.2 dev ra' &&
	! ip -n $A route show table 4711 2>/dev/null | grep -q ."
check "... and nothing of the firewall, forwarding or proxy ARP was touched (nft monitor quiet)" \
	bash -c "! grep -q . $WORK/mon2.nft && test \"\$(ip netns exec $A sysctl -n net.ipv4.ip_forward net.ipv4.conf.lan0.proxy_arp)\" = \"1
1\""
check "... and the tunnel still carries pings" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2

# A file with an error: refused with FILE:LINE, nothing changes.
dump "$A" >"$WORK/a.good"
SHOW0=$(nsx "$A" "$IPIPCTL" show --json ra | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t["ttl"], t["tos"], t["mtu"], t["remote"])')
cp "$WORK/ra.conf" "$WORK/ra.good"
sed -i 's/^TTL = 60/TTL = 300/' "$WORK/ra.conf"
nsx "$A" "$IPIPCTL" reload ra >"$WORK/bad.out" 2>&1
rc=$?
sed 's/^/#   /' "$WORK/bad.out"
check "a file with an error: ipipctl reload fails, naming FILE:LINE" bash -c "
	[ $rc != 0 ] && grep -q '$WORK/ra.conf:6: TTL' $WORK/bad.out"
check "... and the running settings are the same (TTL, TOS, MTU, Remote: $SHOW0)" bash -c "
	test \"\$(ip netns exec $A $IPIPCTL show --json ra | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t[\"ttl\"], t[\"tos\"], t[\"mtu\"], t[\"remote\"])')\" = '$SHOW0'"
dump "$A" >"$WORK/a.bad"
check "... the host dump is the same as before it" diff "$WORK/a.good" "$WORK/a.bad"
kill -HUP "$PA"; sleep 0.3
check "... SIGHUP with the bad file changes nothing either, the daemon runs on" bash -c "
	kill -0 $PA && test \"\$(ip netns exec $A $IPIPCTL show --json ra | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t[\"ttl\"], t[\"tos\"], t[\"mtu\"], t[\"remote\"])')\" = '$SHOW0'"
cp "$WORK/ra.good" "$WORK/ra.conf"
sed -i 's/^Datapath = .*/Datapath = userspace/' "$WORK/ra.conf"
[ "$DATAPATH" = userspace ] && sed -i 's/^Datapath = .*/Datapath = ebpf/' "$WORK/ra.conf"
nsx "$A" "$IPIPCTL" reload ra >"$WORK/dp.out" 2>&1
rc=$?
sed 's/^/#   /' "$WORK/dp.out"
check "a changed Datapath is refused: only a restart applies it (said so), nothing changed" bash -c "
	[ $rc != 0 ] && grep -q 'Datapath changed: only a restart applies it' $WORK/dp.out"
cp "$WORK/ra.good" "$WORK/ra.conf"

# Local and Remote change live: both ends move to new underlay addresses.
READ_BY=$(json "$A" ra tun_read_by)
nsx "$A" ip addr add 192.0.2.11/24 dev va
nsx "$B" ip addr add 192.0.2.12/24 dev vb
LOCAL_A=192.0.2.11 REMOTE_A=192.0.2.12 conf_a 60 0x08 1300 198.51.100.0/24
sed -i 's/^Table = 4711/Table = 4712/' "$WORK/ra.conf"
LOCAL_B=192.0.2.12 REMOTE_B=192.0.2.11 conf_b
check "a reload to a new Local and Remote (A), and the same on B" bash -c "
	ip netns exec $A $IPIPCTL reload ra && ip netns exec $B $IPIPCTL reload rb"
capture CAP "$B" vb "$WORK/moved.pcap" "ip proto 4"
check "... the tunnel carries pings between the new addresses" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
stop_capture "$CAP"
check "... on the wire: outer 192.0.2.11 <-> 192.0.2.12 only" bash -c "
	tcpdump -nr $WORK/moved.pcap 2>/dev/null | grep -q '192.0.2.11 > 192.0.2.12' &&
	! tcpdump -nr $WORK/moved.pcap 2>/dev/null | grep -q '192.0.2.1 >'"
# (the datapath's threads went on with the new sockets: the ring's submitter too)
check "... its TUN device read as before the move (by $READ_BY)" test "$(json "$A" ra tun_read_by)" = "$READ_BY"
check "A reload of an unchanged file says nothing changed" bash -c "
	ip netns exec $A $IPIPCTL reload ra | grep -q 'changed: nothing'"

nsx "$A" "$IPIPCTL" down ra; wait_gone "$PA"
nsx "$B" "$IPIPCTL" down rb; wait_gone "$PB"
nsx "$A" ip addr del 192.0.2.11/24 dev va
dump "$A" >"$WORK/a.after"
check "after ipipctl down, A's host is as before start (the reloads left nothing)" \
	diff "$WORK/a.before" "$WORK/a.after"
finish

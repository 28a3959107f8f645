#!/bin/bash
# The tunnel's device changed under a running ipipd by someone else.
# Set down and up again (`ip link set dga down`, `... up`): the kernel takes
# the routes through it along, and ipipd puts them back.  Removed (`ip link
# del`): the daemon says so, undoes the rest of what it set up and exits
# with an error (a service is restarted and sets the tunnel up anew); it
# does not keep running on a device that is no more.  Its address, rule and
# routes deleted by someone else (`ip rule del`, `ip route flush table`, `ip
# address del`): put back a second later, all at once, and logged.
#
#   A (dgA) tunnel dga 198.51.100.1 peer .2, table dga:4243, rule from .1,
#           [Route] 203.0.113.0/24
#   va 192.0.2.1/24 -------------- veth --------------- vb 192.0.2.2/24 (dgB, tunnel dgb)
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A dgA && ns_new B dgB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = %s\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n[Routing]\nTable = dga:4243\n[Route]\nDestination = 203.0.113.0/24\n' \
	"$DATAPATH" >"$WORK/dga.conf"
printf '[Tunnel]\nLocal = 192.0.2.2\nRemote = 192.0.2.1\nDatapath = %s\n[Address]\nAddress = 198.51.100.2/32\nPeer = 198.51.100.1\n' \
	"$DATAPATH" >"$WORK/dgb.conf"
BEFORE=$(dump "$A")
start "$B" "$WORK/dgb.conf" || notok "ipipd start B"
# A in the foreground, its log and exit status ours.
( ip netns exec "$A" "$IPIPD" -f "$WORK/dga.conf" 2>"$WORK/a.log"; echo $? >"$WORK/a.rc" ) &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$(rundir "$A")/dga.sock" ] && nsx "$A" ping -c 1 -W 0.3 198.51.100.2 >/dev/null 2>&1 && break; sleep 0.1; done
check "the tunnel carries a ping" nsx "$A" ping -c 1 -W 2 198.51.100.2
check "no qdisc in front of its device (noqueue), as the kernel's ipip device" bash -c "
	tc -n $A qdisc show dev dga root | grep -q '^qdisc noqueue '"
check "its policy rule is in place" bash -c "ip -n $A rule show | grep -q 'lookup dga'"
routes() { ip -n "$A" route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) '; }
ROUTES=$(routes)
check "its routes are in place (the default route in its table, [Route])" bash -c "
	grep -q '^default via 198.51.100.2 dev dga table dga' <<<'$ROUTES' && grep -q '^203.0.113.0/24 dev dga' <<<'$ROUTES'"

# Down: the kernel removes the routes through the device; up: ipipd puts them back.
ip -n "$A" link set dga down
for _ in $(seq 50); do grep -q 'dga: the tunnel.s device was set down' "$WORK/a.log" && break; sleep 0.1; done
check "set down by someone else: the routes are gone with it, and ipipd says so" bash -c "
	[ -z \"\$(ip -n $A route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) ')\" ] &&
	grep -q \"dga: the tunnel's device was set down (not by ipipd)\" $WORK/a.log"
check "... and leaves it down" bash -c "! ip -n $A link show dga | grep -q '[<,]UP[,>]'"
check "ipipctl show says the device is down" bash -c "
	ip netns exec $A $IPIPCTL show dga | grep -q '^  device DOWN: set down by someone else' &&
	[ \"\$(ip netns exec $A $IPIPCTL show --json dga | $PY -c 'import json,sys; print(json.load(sys.stdin)[0][\"device\"])')\" = down ]"
check "... and so do its metrics (ipipd_device_up 0)" bash -c "
	ip netns exec $A $IPIPCTL metrics dga >$WORK/down.prom && promtool check metrics <$WORK/down.prom &&
	grep -q '^ipipd_device_up{tunnel=\"dga\"} 0$' $WORK/down.prom &&
	grep -q '^ipipd_routes_displaced{tunnel=\"dga\"} 0$' $WORK/down.prom"
# B's packets to A meanwhile: dropped at A's device, and counted (on the
# eBPF path too, where a redirect into it would drop them unseen).
RX0=$(json "$A" dga rx_packets) D0=$(json "$A" dga drops.rx_tun_write_error)
nsx "$B" ping -c 5 -i 0.1 -W 0.5 198.51.100.1 >/dev/null
check "packets for A while its device is down: counted as drops, not received" \
	test "$(($(json "$A" dga drops.rx_tun_write_error) - D0)) $(($(json "$A" dga rx_packets) - RX0))" = "5 0"
ip -n "$A" link set dga up
for _ in $(seq 50); do grep -q 'dga: the tunnel.s device is up again' "$WORK/a.log" && break; sleep 0.1; done
check "up again: ipipd puts its 2 routes back, as they were" bash -c "
	grep -q \"dga: the tunnel's device is up again: 2 routes put back\" $WORK/a.log &&
	diff <(echo '$ROUTES') <(ip -n $A route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) ')"
check "... and the tunnel carries a ping again" nsx "$A" ping -c 1 -W 2 198.51.100.2
check "... and ipipctl show says the device is up" test "$(json "$A" dga device)" = up
check "... still without a qdisc (noqueue)" bash -c "tc -n $A qdisc show dev dga root | grep -q '^qdisc noqueue '"

# Deleted by someone else while the tunnel runs (by hand, or by a network
# manager removing the rules and routes it did not make): put back as they
# were, and said so.  (What a reload removes is not: reload.sh.)
RULES=$(ip -n "$A" rule show | grep 'lookup dga')
rules() { ip -n "$A" rule show | grep 'lookup dga'; }
ip -n "$A" rule del from 198.51.100.1 lookup 4243
FLUSH=$(ip -n "$A" route flush table 4243 2>&1)
ip -n "$A" route del 203.0.113.0/24 dev dga
check "its rule and routes deleted by someone else: not fought meanwhile (ip route flush empties the table)" bash -c "
	[ -z '$FLUSH' ] && [ -z \"\$(ip -n $A route show table 4243)\" ]"
for _ in $(seq 50); do [ "$(routes)" = "$ROUTES" ] && [ "$(rules)" = "$RULES" ] && break; sleep 0.1; done
check "... then put back as they were (the rule's priority too)" bash -c "
	diff <(echo '$ROUTES') <(ip -n $A route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) ') &&
	diff <(echo '$RULES') <(ip -n $A rule show | grep 'lookup dga')"
check "... all at once, and ipipd says so in one line" \
	test "$(grep -c 'dga: removed, not by ipipd, and put back: ' "$WORK/a.log")" = 1
check "... saying what" grep -q "dga: removed, not by ipipd, and put back: 1 rule, 2 routes$" "$WORK/a.log"
ADDRS=$(ip -n "$A" -4 addr show dev dga | grep inet)
ip -n "$A" addr del 198.51.100.1/32 peer 198.51.100.2 dev dga
for _ in $(seq 50); do [ "$(ip -n "$A" -4 addr show dev dga | grep inet)" = "$ADDRS" ] && [ "$(routes)" = "$ROUTES" ] && break; sleep 0.1; done
check "its address deleted by someone else: put back (the routes that went with it too)" bash -c "
	[ -n '$ADDRS' ] && [ \"\$(ip -n $A -4 addr show dev dga | grep inet)\" = '$ADDRS' ] &&
	diff <(echo '$ROUTES') <(ip -n $A route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) ')"
check "... and ipipd says so" grep -q "dga: removed, not by ipipd, and put back: its address" "$WORK/a.log"
check "... and the tunnel carries a ping" nsx "$A" ping -c 1 -W 2 198.51.100.2

# Another route in the place of one of the tunnel's: the same destination,
# table and metric through another device (the kernel has room for one of
# the two).  Left alone and said, once; put back once that one is gone.
# Replaced (`ip route replace`: the kernel says nothing of the route it
# replaced), or deleted and another added.
said() { grep -c "another route is in its place" "$WORK/a.log"; }
ip -n "$A" route replace 203.0.113.0/24 dev va
for _ in $(seq 50); do [ "$(said)" -ge 1 ] && break; sleep 0.1; done
check "a [Route] replaced by a route through another device: left alone, and said" bash -c "
	grep -q 'dga: route 203.0.113.0/24 table 254 metric 0: another route is in its place (not through dga): left alone, put back once that one is gone' $WORK/a.log &&
	[ \"\$(ip -n $A route show 203.0.113.0/24)\" = '203.0.113.0/24 dev va scope link ' ]"
check "... ipipctl show says so" bash -c "
	ip netns exec $A $IPIPCTL show dga | grep -q '^  route DISPLACED: 203.0.113.0/24 table 254 (1 in all): another route is in its place' &&
	[ \"\$(ip netns exec $A $IPIPCTL show --json dga | $PY -c 'import json,sys; j=json.load(sys.stdin)[0]; print(j[\"routes_displaced\"], j[\"route_displaced\"])')\" = '1 203.0.113.0/24 table 254' ]"
check "... and its metrics (ipipd_routes_displaced 1, ipipd_device_up 1)" bash -c "
	ip netns exec $A $IPIPCTL metrics dga >$WORK/displaced.prom &&
	grep -q '^ipipd_routes_displaced{tunnel=\"dga\"} 1$' $WORK/displaced.prom &&
	grep -q '^ipipd_device_up{tunnel=\"dga\"} 1$' $WORK/displaced.prom"
ip -n "$A" route add 192.0.2.128/25 dev va	# (a change of routes: not said again)
sleep 1.5
ip -n "$A" route del 203.0.113.0/24 dev va
back() { grep -c 'dga: removed, not by ipipd, and put back: 1 route$' "$WORK/a.log"; }
for _ in $(seq 50); do [ "$(back)" -ge 1 ] && break; sleep 0.1; done
check "... said once, and put back once that one is gone" bash -c "
	ip -n $A route show 203.0.113.0/24 | grep -q '^203.0.113.0/24 dev dga ' &&
	[ \"\$(grep -c 'another route is in its place' $WORK/a.log)\" = 1 ] &&
	[ \"\$(grep -c 'dga: removed, not by ipipd, and put back: 1 route\$' $WORK/a.log)\" = 1 ] &&
	! ip netns exec $A $IPIPCTL show dga | grep -q DISPLACED"
ip -n "$A" route del 192.0.2.128/25 dev va
ip -n "$A" -batch - <<<$'route del default table 4243\nroute add default dev va table 4243'
for _ in $(seq 50); do [ "$(said)" -ge 2 ] && break; sleep 0.1; done
check "the table's default route deleted, and another added in its place: left alone, and said" \
	grep -q 'dga: route 0.0.0.0/0 table 4243 metric 0: another route is in its place (not through dga)' "$WORK/a.log"
check "... ipipctl show says so" bash -c "
	ip netns exec $A $IPIPCTL show dga | grep -q '^  route DISPLACED: 0.0.0.0/0 table 4243 (1 in all)'"
ip -n "$A" route del default dev va table 4243
for _ in $(seq 50); do [ "$(routes)" = "$ROUTES" ] && [ "$(back)" -ge 2 ] && break; sleep 0.1; done
check "... put back once that one is gone" bash -c "
	diff <(echo '$ROUTES') <(ip -n $A route show table all | grep -F 'dev dga' | grep -v -E '^(local|broadcast) ')"
# Replaced by a route through a device that then goes down: the kernel
# removes the routes through it and says nothing of them.
ip -n "$A" link add vx0 type veth peer name vx1 && ip -n "$A" link set vx0 up &&
	ip -n "$A" route replace 203.0.113.0/24 dev vx0
for _ in $(seq 50); do [ "$(said)" -ge 3 ] && break; sleep 0.1; done
ip -n "$A" link set vx0 down
for _ in $(seq 50); do [ "$(back)" -ge 3 ] && break; sleep 0.1; done
check "a [Route] replaced by a route through a device that then goes down: said, and put back" bash -c "
	[ '$(said)' = 3 ] && ip -n $A route show 203.0.113.0/24 | grep -q '^203.0.113.0/24 dev dga '"
ip -n "$A" link del vx0
check "... and the tunnel carries a ping" nsx "$A" ping -c 1 -W 2 198.51.100.2

# Renamed by someone else: the firewall's rules and ipipctl know it by its
# name, so it is named back (a device that is up: Linux 6.2 and later).
ip -n "$A" link set dga name dgx
for _ in $(seq 50); do
	ip -n "$A" link show dga >/dev/null 2>&1 && grep -q 'named dga again' "$WORK/a.log" && break
	sleep 0.1
done
check "renamed by someone else: named back, and ipipd says so" bash -c "
	ip -n $A link show dga >/dev/null 2>&1 && ! ip -n $A link show dgx >/dev/null 2>&1 &&
	grep -q \"dga: the tunnel's device was renamed to dgx (not by ipipd): named dga again\" $WORK/a.log"
check "... and the tunnel carries a ping" nsx "$A" ping -c 1 -W 2 198.51.100.2
# Where the name was taken meanwhile (another device named dga at once):
# said, shown, and named back once the name is free.  The daemon is held
# (SIGSTOP) while both happen: let run, it names its device back between
# the two commands on a busy machine.
PA=$(cat "$(rundir "$A")/dga.pid")
kill -STOP "$PA"
ip -n "$A" link set dga name dgx && ip -n "$A" tuntap add mode tun name dga
kill -CONT "$PA"
for _ in $(seq 50); do grep -q 'cannot be named dga again' "$WORK/a.log" && break; sleep 0.1; done
check "its name taken by another device meanwhile: ipipd says it cannot name it back, and why" \
	grep -q "dga: the tunnel's device was renamed to dgx (not by ipipd), and cannot be named dga again (File exists): the firewall's rules match dga" "$WORK/a.log"
check "... ipipctl show says so" bash -c "
	ip netns exec $A $IPIPCTL show dga | grep -q '^  device RENAMED: now dgx, by someone else' &&
	[ \"\$(ip netns exec $A $IPIPCTL show --json dga | $PY -c 'import json,sys; print(json.load(sys.stdin)[0][\"device_renamed\"])')\" = dgx ]"
check "... and the tunnel still carries a ping" nsx "$A" ping -c 1 -W 2 198.51.100.2
ip -n "$A" tuntap del mode tun name dga
for _ in $(seq 50); do
	ip -n "$A" link show dga >/dev/null 2>&1 &&
		sed -n '/cannot be named dga again/,$p' "$WORK/a.log" | grep -q 'named dga again' && break
	sleep 0.1
done
check "the name free again: named back" bash -c "
	ip -n $A link show dga >/dev/null 2>&1 && ! ip -n $A link show dgx >/dev/null 2>&1 &&
	sed -n '/cannot be named dga again/,\$p' $WORK/a.log |
		grep -q \"dga: the tunnel's device was renamed to dgx (not by ipipd): named dga again\""
check "... and ipipctl show no longer says it is renamed" bash -c "
	! ip netns exec $A $IPIPCTL show dga | grep -q RENAMED"

DP=$(pgrep -P "$PA" | head -n 1)

ip -n "$A" link del dga
for _ in $(seq 100); do [ -e "$WORK/a.rc" ] && break; sleep 0.1; done
sed 's/^/#   /' "$WORK/a.log"
check "ipipd exits within 10 s of its device's removal" test -e "$WORK/a.rc"
check "... with an error (status $(cat "$WORK/a.rc" 2>/dev/null))" test "$(cat "$WORK/a.rc" 2>/dev/null)" = 1
check "... saying why" grep -q "dga: the tunnel's device was removed (not by ipipd): stopping" "$WORK/a.log"
check "... and its datapath process is gone too" bash -c "[ -z '$DP' ] || ! kill -0 '$DP' 2>/dev/null"
check "what it set up is undone: A's host as before" diff <(echo "$BEFORE") <(dump "$A")
check "no runtime files of dga are left" bash -c "! ls $(rundir "$A")/dga.* 2>/dev/null | grep -q ."
check "it starts again" start "$A" "$WORK/dga.conf"
check "... and carries a ping again" nsx "$A" ping -c 1 -W 2 198.51.100.2
nsx "$A" "$IPIPCTL" down dga
nsx "$B" "$IPIPCTL" down dgb
finish

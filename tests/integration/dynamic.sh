#!/bin/bash
# Endpoints that follow a dynamic address, in the HOWTO's topology (tests/seed.sh):
# home has Local = auto, colo has Remote = home.test, a name its /etc/hosts
# gives (/etc/netns/COLO/hosts, which `ip netns exec` puts in place).  Home's
# ISP address changes: home follows at once (rtnetlink), colo within
# ResolveInterval (3 s here) once the name says so; traffic resumes and
# nothing else on either host is touched.  A failed lookup keeps the last
# address.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../seed.sh"

seed_topology || exit 1
HOSTS_DIR=/etc/netns/$COLO
trap 'rm -rf "$HOSTS_DIR"; cleanup' EXIT
mkdir -p "$HOSTS_DIR"
# written in place from here on: the file `ip netns exec` bind-mounts keeps its inode
printf '127.0.0.1 localhost\n192.0.2.42 home.test\n' >"$HOSTS_DIR/hosts"

sed -e 's/^Local = .*/Local = auto/' -e "s/^TTL = 64/TTL = 64\nDatapath = $DATAPATH/" \
	"$TOP/examples/home/Moe.conf" >"$WORK/home.conf"
sed -e 's/^Remote = .*/Remote = home.test\nResolveInterval = 3/' \
	-e "s/^TTL = 64/TTL = 64\nDatapath = $DATAPATH/" \
	"$TOP/examples/colo/Moe.conf" >"$WORK/colo.conf"
mkdir -p "$WORK/h" "$WORK/c"
cp "$WORK/home.conf" "$WORK/h/Moe.conf"
cp "$WORK/colo.conf" "$WORK/c/Moe.conf"
grep -E '^(Local|Remote|ResolveInterval|Datapath)' "$WORK/h/Moe.conf" "$WORK/c/Moe.conf" | sed 's/^/#   /'

BEFORE_HOME=$(dump "$HOME_NS"); BEFORE_COLO=$(dump "$COLO")
check "ipipd -n on colo accepts Remote = home.test (it resolves in colo's namespace)" \
	nsx "$COLO" "$IPIPD" -n "$WORK/c/Moe.conf"
check "ipipd -n on home accepts Local = auto" nsx "$HOME_NS" "$IPIPD" -n "$WORK/h/Moe.conf"
# In the foreground (-f), each with its own log: what they say is checked.
# run NS CONF LOG: started, its PID in $BG, once its control socket answers.
run() {
	bg "$1" "$IPIPD" -f "$2" 2>>"$3"
	for _ in $(seq 100); do nsx "$1" "$IPIPCTL" show Moe >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
up() { for _ in $(seq 100); do [ "$(json "$1" Moe state)" = up ] && return 0; sleep 0.1; done; return 1; }
run "$COLO" "$WORK/c/Moe.conf" "$WORK/colo.log" && up "$COLO" || notok "ipipd start on colo"
PC=$BG
run "$HOME_NS" "$WORK/h/Moe.conf" "$WORK/home.log" && up "$HOME_NS" || notok "ipipd start on home"
PH=$BG
check "home: Local = auto is 192.0.2.42, the source address of its route to colo" \
	test "$(json "$HOME_NS" Moe local)" = 192.0.2.42
check "colo: Remote home.test resolved to 192.0.2.42" test "$(json "$COLO" Moe remote)" = 192.0.2.42
check "the LAN host reaches home's colo address through the tunnel" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5

# What must not change: everything but home's own ISP address and the
# tunnel's endpoints (the kernel's device would show them in its link line).
others() { dump "$1" | grep -v -E '192\.0\.2\.(42|77)'; }
HOME_UP=$(others "$HOME_NS"); COLO_UP=$(dump "$COLO")
rx0=$(json "$COLO" Moe rx_packets)

# Home's ISP gives it another address (as a DHCP client does: the old one
# goes, and with it the default route; the new one comes, and the route).
t0=$(date +%s%N)
ip -n "$HOME_NS" addr del 192.0.2.42/24 dev eth0
ip -n "$HOME_NS" addr add 192.0.2.77/24 dev eth0
ip -n "$HOME_NS" route add default via 192.0.2.1
for _ in $(seq 50); do [ "$(json "$HOME_NS" Moe local)" = 192.0.2.77 ] && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
check "home follows its new address at once: Local is 192.0.2.77 ($ms ms, within 2 s)" \
	bash -c "[ '$(json "$HOME_NS" Moe local)' = 192.0.2.77 ] && [ $ms -lt 2000 ]"
check "home's log says why" grep -q 'now local 192.0.2.77 (Local = auto' "$WORK/home.log"

# colo learns it when the name says so (the zone updated: here its hosts file)
t0=$(date +%s%N)
printf '127.0.0.1 localhost\n192.0.2.77 home.test\n' >"$HOSTS_DIR/hosts"
for _ in $(seq 80); do [ "$(json "$COLO" Moe remote)" = 192.0.2.77 ] && break; sleep 0.1; done
ms=$((($(date +%s%N) - t0) / 1000000))
check "colo follows within ResolveInterval: Remote is 192.0.2.77 ($ms ms, within 3 s + 1 s)" \
	bash -c "[ '$(json "$COLO" Moe remote)' = 192.0.2.77 ] && [ $ms -lt 4000 ]"
check "colo's log says so" grep -q 'Remote home.test now resolves to 192.0.2.77 (was 192.0.2.42)' \
	"$WORK/colo.log"
check "traffic resumes: the LAN host reaches home's colo address" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
check "... and home reaches colo's tunnel address" \
	nsx "$HOME_NS" ping -c 2 -i 0.2 -W 2 -I 203.0.113.5 203.0.113.1
check "outer packets now come from 192.0.2.77 (inet sees them)" bash -c "
	ip netns exec $INET timeout 5 tcpdump -n -c 1 -i eth-home 'ip proto 4 and src 192.0.2.77' >/dev/null 2>&1 &
	t=\$!; sleep 0.5; ip netns exec $LAN ping -c 3 -i 0.2 -W 1 203.0.113.5 >/dev/null; wait \$t"
check "the same daemons run on both ends" bash -c "kill -0 $PH && kill -0 $PC"
check "colo's counters went on (no reset): rx $rx0 -> $(json "$COLO" Moe rx_packets)" \
	test "$(json "$COLO" Moe rx_packets)" -gt "$rx0"
check "nothing else changed on colo (links, addresses, routes, rules, sysctls, nft)" \
	diff <(echo "$COLO_UP") <(dump "$COLO")
check "nothing else changed on home (but its ISP address)" \
	diff <(echo "$HOME_UP") <(others "$HOME_NS")

# The name stops resolving: the last address is kept, and said so.
printf '127.0.0.1 localhost\n' >"$HOSTS_DIR/hosts"
for _ in $(seq 80); do grep -q 'Remote home.test: cannot look it up' "$WORK/colo.log" && break; sleep 0.1; done
check "a failed lookup is logged, keeping 192.0.2.77" \
	grep -q 'Remote home.test: cannot look it up: .*; keeping 192.0.2.77' "$WORK/colo.log"
check "... Remote stays 192.0.2.77 and the tunnel carries packets" bash -c "
	[ '$(json "$COLO" Moe remote)' = 192.0.2.77 ] &&
	ip netns exec $LAN ping -c 2 -i 0.2 -W 2 203.0.113.5"
printf '127.0.0.1 localhost\n192.0.2.77 home.test\n' >"$HOSTS_DIR/hosts"
for _ in $(seq 80); do grep -q 'Remote home.test resolves again' "$WORK/colo.log" && break; sleep 0.1; done
check "it resolves again: logged once" \
	test "$(grep -c 'Remote home.test resolves again: 192.0.2.77' "$WORK/colo.log")" = 1

# At start: a name that does not resolve yet is waited for.
nsx "$COLO" "$IPIPCTL" down Moe
wait_gone "$PC"
printf '127.0.0.1 localhost\n' >"$HOSTS_DIR/hosts"
check "colo starts while home.test does not resolve: it waits" run "$COLO" "$WORK/c/Moe.conf" "$WORK/colo.log"
PC=$BG
check "... ipipctl show says it waits for the name" bash -c "
	[[ '$(json "$COLO" Moe waiting_for)' == 'Remote home.test to resolve ('* ]]"
printf '127.0.0.1 localhost\n192.0.2.77 home.test\n' >"$HOSTS_DIR/hosts"
for _ in $(seq 100); do [ "$(json "$COLO" Moe state)" = up ] && break; sleep 0.1; done
check "the name resolves: the tunnel comes up (retried every 5 s while waiting)" \
	test "$(json "$COLO" Moe state)" = up
check "... and carries the LAN's pings" nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
# A reload that changes only how the name is followed says so (and keeps the daemon).
sed -i 's/^ResolveInterval = 3$/ResolveInterval = 4/' "$WORK/c/Moe.conf"
R=$(nsx "$COLO" "$IPIPCTL" reload Moe 2>&1)
check "a reload of ResolveInterval alone says what changed, the same daemon runs [$R]" \
	bash -c "[ '$R' = 'Moe: changed: ResolveInterval' ] && ps -p $PC"

check "ipipctl down on home" nsx "$HOME_NS" "$IPIPCTL" down Moe
check "ipipctl down on colo" nsx "$COLO" "$IPIPCTL" down Moe
wait_gone "$PH"; wait_gone "$PC"
check "colo as before the start" diff <(echo "$BEFORE_COLO") <(dump "$COLO")
check "home as before the start (but its ISP address)" \
	diff <(echo "$BEFORE_HOME" | grep -v -E '192\.0\.2\.(42|77)') <(others "$HOME_NS")
finish

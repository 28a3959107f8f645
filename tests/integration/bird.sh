#!/bin/bash
# Routes from a routing daemon: four sites, each with a LAN and an ipipd hub
# tunnel (Remote = any), and BIRD 2 speaking eBGP over the underlay to the
# three others.  BIRD installs each learned LAN prefix via the site's hub
# device with the announcing site's underlay address as the onlink gateway
# (examples/bird/bird.conf); ipipd follows those routes.  Every LAN reaches
# every other; stopping a site's BIRD withdraws its prefix and its traffic
# stops being sent; starting it again brings it back.
#
#   site i (1..4): underlay 192.0.2.i/24 (one bridge), LAN 203.0.113.(16 i)/28
#   (address .16i+1 on lo), tunnel hubI 198.51.100.i/32, AS 6450i
set -u
. "$(dirname "$0")/../lib.sh"

ns_new SW biSW || exit 1
nsx "$SW" ip link add br0 type bridge && nsx "$SW" ip link set br0 up || exit 1
SITES=(1 2 3 4)
declare -A NS BIRD_PID
for i in "${SITES[@]}"; do
	ns_new site_ns "biS$i" || exit 1
	NS[$i]=$site_ns
	n=$site_ns
	ip link add eth0 netns "$n" type veth peer "p$i" netns "$SW" || exit 1
	ip -n "$SW" link set "p$i" master br0 up
	ip -n "$n" addr add "192.0.2.$i/24" dev eth0
	ip -n "$n" link set eth0 up
	ip -n "$n" addr add "203.0.113.$((16 * i + 1))/28" dev lo
done
for _ in $(seq 50); do nsx "${NS[1]}" ping -c 1 -W 0.2 192.0.2.4 >/dev/null 2>&1 && break; done

# BIRD's configuration for site $1 (the example's, with this site's names).
bird_conf() {
	local i=$1 j
	sed -e "s/^router id 192.0.2.1;/router id 192.0.2.$i;/" \
		-e "s/local 192.0.2.1 as 64501;/local 192.0.2.$i as 6450$i;/" \
		-e "s/\"hub1\"/\"hub$i\"/" -e '/^protocol bgp site/,$d' "$TOP/examples/bird/bird.conf"
	for j in "${SITES[@]}"; do
		[ "$j" = "$i" ] && continue
		printf 'protocol bgp site%u from sites {\n\tneighbor 192.0.2.%u as 6450%u;\n}\n' "$j" "$j" "$j"
	done
}
start_bird() { # start_bird I: BIRD in the foreground (bg: its PID is BIRD's own)
	bg "${NS[$1]}" bird -f -c "$WORK/bird$1.conf" -s "$WORK/bird$1.ctl" -P "$WORK/bird$1.pid"
	BIRD_PID[$1]=$BG
}
for i in "${SITES[@]}"; do
	printf '[Tunnel]\nName = hub%u\nLocal = 192.0.2.%u\nRemote = any\nAllowedRemotes = 192.0.2.0/28\nDatapath = %s\n[Address]\nAddress = 198.51.100.%u/32\n' \
		"$i" "$i" "$([ "$DATAPATH" = ebpf ] && echo auto || echo "$DATAPATH")" "$i" >"$WORK/hub$i.conf"
	bird_conf "$i" >"$WORK/bird$i.conf"
	check "site $i: bird -p accepts the configuration" \
		nsx "${NS[$i]}" bird -p -c "$WORK/bird$i.conf"
	start "${NS[$i]}" "$WORK/hub$i.conf" || notok "site $i: ipipd start"
	start_bird "$i"
done

# learned LAN routes via the hub device: wait_routes I N (20 s)
routes_in() { ip -n "${NS[$1]}" route show proto bird | grep -c "dev hub$1 .*onlink"; }
wait_routes() {
	for _ in $(seq 200); do [ "$(routes_in "$1")" = "$2" ] && return 0; sleep 0.1; done
	ip -n "${NS[$1]}" route show proto bird; return 1
}
for i in "${SITES[@]}"; do
	check "site $i: BIRD installed the 3 other LANs via hub$i, onlink, the announcing site the gateway" \
		bash -c "$(declare -f routes_in wait_routes); $(declare -p NS); wait_routes $i 3 &&
			ip -n ${NS[$i]} route show proto bird | grep -q '^203.0.113.$((16 * (i % 4 + 1)))/28 via 192.0.2.$((i % 4 + 1)) dev hub$i'"
done
for i in "${SITES[@]}"; do
	check "site $i: ipipd holds the routes into hub$i ($(json "${NS[$i]}" hub$i hub_routes))" \
		test "$(json "${NS[$i]}" hub$i hub_routes)" -ge 3
done
every_lan() { # every LAN reaches every other (from its LAN address)
	local i j bad=0
	for i in "${SITES[@]}"; do
		for j in "${SITES[@]}"; do
			[ "$i" = "$j" ] && continue
			nsx "${NS[$i]}" ping -c 1 -W 2 -I "203.0.113.$((16 * i + 1))" \
				"203.0.113.$((16 * j + 1))" >/dev/null || { echo "$i -> $j: no answer"; bad=1; }
		done
	done
	return $bad
}
check "every LAN reaches every other (12 pairs)" every_lan
check "on site 1 each of the 3 peers has packets both ways (on the eBPF run, by the fast path)" $PY -c '
import json, subprocess, sys
t = json.loads(subprocess.check_output(["ip", "netns", "exec", sys.argv[1], sys.argv[2], "show", "--json", "hub1"]))[0]
p = {x["address"]: x for x in t["peers"]}
print(p)
for a in ("192.0.2.2", "192.0.2.3", "192.0.2.4"):
    assert p[a]["rx_packets"] >= 2 and p[a]["tx_packets"] >= 2, a
    if sys.argv[3] == "ebpf":	# the routes BIRD installed, followed by the fast path
        assert t["datapath"] == "ebpf" and p[a]["rx_fast"] >= 2 and p[a]["tx_fast"] >= 2, a
' "${NS[1]}" "$IPIPCTL" "$DATAPATH"

# Site 3's BIRD stops: its prefix is withdrawn everywhere, and site 1 sends it nothing.
kill "${BIRD_PID[3]}"; wait "${BIRD_PID[3]}" 2>/dev/null
t0=$(date +%s)
check "site 3's BIRD stopped: site 1 loses the route to 203.0.113.48/28 within the hold time (6 s)" \
	bash -c "$(declare -f routes_in wait_routes); $(declare -p NS); wait_routes 1 2 &&
		[ -z \"\$(ip -n ${NS[1]} route show 203.0.113.48/28)\" ] && [ \$((\$(date +%s) - $t0)) -le 8 ]"
tx3=$(nsx "${NS[1]}" "$IPIPCTL" show --json hub1 | $PY -c '
import json, sys
print({x["address"]: x for x in json.load(sys.stdin)[0]["peers"]}["192.0.2.3"]["tx_packets"])')
nsx "${NS[1]}" ping -c 2 -i 0.2 -W 1 -I 203.0.113.17 203.0.113.49 >/dev/null 2>&1
check "... and sends site 3's LAN nothing through the tunnel (peer 192.0.2.3's tx stays $tx3)" bash -c "
	ip netns exec ${NS[1]} $IPIPCTL show --json hub1 | $PY -c '
import json, sys
assert {x[\"address\"]: x for x in json.load(sys.stdin)[0][\"peers\"]}[\"192.0.2.3\"][\"tx_packets\"] == $tx3'"
check "... while the other LANs still reach each other" \
	nsx "${NS[1]}" ping -c 1 -W 2 -I 203.0.113.17 203.0.113.65
start_bird 3
for i in 1 2 4; do
	check "site 3's BIRD back: site $i has its route again" \
		bash -c "$(declare -f routes_in wait_routes); $(declare -p NS); wait_routes $i 3"
done
check "every LAN reaches every other again" every_lan

for i in "${SITES[@]}"; do kill "${BIRD_PID[$i]}" 2>/dev/null; done
for i in "${SITES[@]}"; do
	check "site $i: ipipctl down" nsx "${NS[$i]}" "$IPIPCTL" down "hub$i"
done
finish

#!/bin/bash
# make demo: the HOWTO's setup (tests/seed.sh has the topology), brought up by
# ipipd on both ends from examples/{home,colo}/Moe.conf, and what it promises.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/seed.sh"
STEPS=0
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }
try() {
	local what=$1; shift
	STEPS=$((STEPS + 1))
	if "$@" >"$WORK/try.out" 2>&1; then echo "PASS: $what"; else
		echo "FAIL: $what"; sed 's/^/      /' "$WORK/try.out"; FAILED=$((FAILED + 1)); fi
}
# says NS WHAT: the peer address a TCP service on 203.0.113.5 (home) reports for a client in NS.
says() { test "$(nsx "$1" $PKT ask-peer "${3:-203.0.113.5}" 7000 ${4:-})" = "$2"; }

step "0. The topology: lan -- colo ==(internet: inet)== home; colo drops forwarding by default"
seed_topology || exit 1
for ns in "$HOME_NS" "$COLO" "$INET" "$LAN"; do eval "BEFORE_$(echo "${ns%%-*}" | tr a-z A-Z)=\$(dump $ns)"; done
echo "What ipipd will do on home (ipipctl explain examples/home/Moe.conf):"
nsx "$HOME_NS" "$IPIPCTL" explain "$TOP/examples/home/Moe.conf" | sed 's/^/    /'
echo "and on colo:"
nsx "$COLO" "$IPIPCTL" explain "$TOP/examples/colo/Moe.conf" | sed 's/^/    /'

step "1. Start ipipd on both ends"
try "ipipd up on colo" start "$COLO" "$TOP/examples/colo/Moe.conf"
try "ipipd up on home" start "$HOME_NS" "$TOP/examples/home/Moe.conf"

step "2. The LAN host reaches the home machine's colo address"
try "lan pings 203.0.113.5 (colo answers ARP by proxy and forwards it through the tunnel)" \
	nsx "$LAN" ping -c 3 -i 0.2 -W 2 203.0.113.5
bg "$HOME_NS" $PKT serve-peer 203.0.113.5 7000 2 >"$WORK/serve.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
try "a TCP service on home bound to 203.0.113.5 sees the LAN client as 203.0.113.9" \
	says "$LAN" 203.0.113.9
try "... and the internet router as 198.51.100.1" says "$INET" 198.51.100.1

step "3. Home's traffic from the tunnel address goes through the tunnel, the rest does not"
bg "$INET" $PKT serve-peer 198.51.100.1 7000 2 >"$WORK/serve2.out"
for _ in $(seq 300); do grep -q listening "$WORK/serve2.out" 2>/dev/null && break; sleep 0.1; done
try "from 203.0.113.5, a server on the internet sees 203.0.113.5 (via the tunnel)" \
	says "$HOME_NS" 203.0.113.5 198.51.100.1 203.0.113.5
try "ordinary traffic is seen as 192.0.2.42 (home's default route)" \
	says "$HOME_NS" 192.0.2.42 198.51.100.1
ip -n "$HOME_NS" route get 198.51.100.1 from 203.0.113.5 | head -1 | sed 's/^/    /'
ip -n "$HOME_NS" route get 198.51.100.1 | head -1 | sed 's/^/    /'

step "4. traceroute from the internet shows one hop through the tunnel"
nsx "$INET" traceroute -n -q 1 -w 2 -m 5 203.0.113.5 | tee "$WORK/tr" | sed 's/^/    /'
try "hops: colo (198.51.100.2), then home (203.0.113.5)" \
	test "$(awk 'NR > 1 { printf "%s ", $2 }' "$WORK/tr")" = "198.51.100.2 203.0.113.5 "

step "5. ipipctl show"
nsx "$COLO" "$IPIPCTL" show
nsx "$HOME_NS" "$IPIPCTL" show

step "6. Teardown leaves every namespace as it was"
try "ipipctl down Moe on home" nsx "$HOME_NS" "$IPIPCTL" down Moe
try "ipipctl down Moe on colo" nsx "$COLO" "$IPIPCTL" down Moe
try "home as before (links, addresses, routes, rules, sysctls, nft, table names)" \
	diff <(echo "$BEFORE_HOME") <(dump "$HOME_NS")
try "colo as before (links, addresses, routes, rules, sysctls, nft, table names)" \
	diff <(echo "$BEFORE_COLO") <(dump "$COLO")

echo
if [ "$FAILED" -eq 0 ]; then echo "demo: all $STEPS steps passed"; else
	echo "demo: $FAILED of $STEPS steps failed"; fi
[ "$FAILED" -eq 0 ]

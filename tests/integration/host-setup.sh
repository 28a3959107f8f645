#!/bin/bash
# The HOWTO's whole setup from one file (tests/seed.sh has the topology):
# the demo's checks, firewalls that drop forwarding, rollback, crash recovery.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../seed.sh"

# The demo itself, step by step, as tests.
out=$(bash "$TOP/tests/demo.sh" 2>&1); rc=$?
sed -n -e 's/^PASS: /ok - seed scenario: /p' -e 's/^FAIL: /not ok - seed scenario: /p' <<<"$out"
grep -q '^FAIL' <<<"$out" && { FAILED=1; grep '^      ' <<<"$out" | head -20; }
# The demo ran to its end: it exits 0 after "all N steps passed" (N = its PASS lines).
demo_complete() {
	echo "exit status $rc"; tail -n 3 <<<"$out"
	[ "$rc" -eq 0 ] && grep -qx "demo: all $(grep -c '^PASS: ' <<<"$out") steps passed" <<<"$out"
}
check "seed scenario: the demo ran every step and exits 0" demo_complete

seed_topology || exit 1
BEFORE_HOME=$(dump "$HOME_NS"); BEFORE_COLO=$(dump "$COLO")
mkdir -p "$WORK/home" "$WORK/colo"
cp "$TOP/examples/home/Moe.conf" "$WORK/home/Moe.conf"
colo_conf() { # colo_conf [extra lines for [Firewall]]
	sed '/^\[Firewall\]/,$d' "$TOP/examples/colo/Moe.conf" >"$WORK/colo/Moe.conf"
	printf '[Firewall]\n%s\n' "$1" >>"$WORK/colo/Moe.conf"
}
lan_reaches_home() { nsx "$LAN" ping -c 2 -i 0.2 -W 1 203.0.113.5; }
lan_cannot_reach_home() { ! lan_reaches_home; }
stop_colo() { nsx "$COLO" "$IPIPCTL" down Moe; }

start "$HOME_NS" "$WORK/home/Moe.conf" || notok "start home"
PHOME=$STARTED

# iptables-nft FORWARD chain with policy DROP (seed_topology sets it).
colo_conf "Forward = none"
start "$COLO" "$WORK/colo/Moe.conf" || notok "start colo"
check "iptables-nft FORWARD DROP: without ipipd's rules the LAN cannot reach home" \
	lan_cannot_reach_home
stop_colo
colo_conf "Forward = accept"
start "$COLO" "$WORK/colo/Moe.conf" || notok "start colo"
check "iptables-nft FORWARD DROP: with Forward = accept the LAN reaches home" lan_reaches_home
check "iptables -S shows ipipd's tagged rules" \
	bash -c "ip netns exec $COLO iptables -S FORWARD | grep -c 'ipipd:Moe' | grep -qx 2"
check "ipipctl show reports the host setup" bash -c \
	"ip netns exec $COLO $IPIPCTL show --json Moe | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; \
	assert t[\"ip_forward\"]==\"on\" and t[\"proxy_arp\"]==\"eth-lan\" and t[\"firewall\"]==\"accept\" and t[\"firewall_rules\"]==2, t' && \
	ip netns exec $HOME_NS $IPIPCTL show --json Moe | $PY -c 'import json,sys; t=json.load(sys.stdin)[0]; \
	assert t[\"table\"]==\"42 Moe\" and t[\"rules\"]==\"from 203.0.113.5/32\" and t[\"default_route\"]==\"yes\", t'"
check "ip route show table Moe works by name while ipipd runs" bash -c \
	"ip -n $HOME_NS route show table Moe | grep -q 'default via 203.0.113.1 dev Moe'"
stop_colo
check "after stop, colo's ruleset and sysctls are as before" \
	diff <(echo "$BEFORE_COLO") <(dump "$COLO")

# A plain nftables forward chain with policy drop.
nsx "$COLO" iptables -P FORWARD ACCEPT
nsx "$COLO" nft flush ruleset
nsx "$COLO" nft 'add table inet filter; add chain inet filter forward { type filter hook forward priority 0; policy drop; }'
BEFORE_NFT=$(dump "$COLO")
colo_conf "Forward = none"
start "$COLO" "$WORK/colo/Moe.conf" || notok "start colo"
check "nft forward policy drop: without ipipd's rules the LAN cannot reach home" \
	lan_cannot_reach_home
stop_colo
colo_conf "Forward = accept"
start "$COLO" "$WORK/colo/Moe.conf" || notok "start colo"
check "nft forward policy drop: with Forward = accept the LAN reaches home" lan_reaches_home
stop_colo
colo_conf "Forward = accept
ForwardFrom = 198.51.100.0/24"
start "$COLO" "$WORK/colo/Moe.conf" || notok "start colo"
check "ForwardFrom: the internet (198.51.100.1) still reaches home" \
	nsx "$INET" ping -c 2 -i 0.2 -W 1 203.0.113.5
check "ForwardFrom: the LAN (203.0.113.9, not listed) is refused" \
	lan_cannot_reach_home
stop_colo
check "after stop, the nft ruleset is exactly as before" \
	diff <(echo "$BEFORE_NFT") <(dump "$COLO")

# Rollback: a late step fails; everything applied before it is undone.
nsx "$HOME_NS" "$IPIPCTL" down Moe
mkdir -p "$WORK/home/bad"
sed 's/^Table = Moe:42/Table = Moe:42\n[Host]\nProxyARP = eht0/' "$WORK/home/Moe.conf" >"$WORK/home/bad/Moe.conf"
line=$(grep -n '^ProxyARP' "$WORK/home/bad/Moe.conf" | cut -d: -f1)
out=$(nsx "$HOME_NS" "$IPIPD" -f "$WORK/home/bad/Moe.conf" 2>&1); rc=$?
check "a failing late step names file, line and step ($out)" \
	bash -c "[ $rc -eq 1 ] && grep -qF 'Moe.conf:$line: ProxyARP: no interface '\\''eht0'\\''' <<<\"\$0\"" "$out"
check "rollback: table name, route, rule and interface are all gone" \
	diff <(echo "$BEFORE_HOME") <(dump "$HOME_NS")

# Crash recovery: SIGKILL leaves changes behind; a restart or ipipctl cleanup undoes them.
colo_conf "Forward = accept"
nsx "$COLO" nft flush ruleset
nsx "$COLO" iptables -P FORWARD DROP
start "$COLO" "$WORK/colo/Moe.conf" && PCOLO=$STARTED || notok "start colo"
start "$HOME_NS" "$WORK/home/Moe.conf" && PHOME=$STARTED || notok "start home"
kill -9 "$PCOLO" "$PHOME"; wait_gone "$PCOLO"; wait_gone "$PHOME"
differs() { ! diff <(echo "$1") <(echo "$2") >/dev/null; }
check "SIGKILL leaves changes behind on colo (so the next checks mean something)" \
	differs "$BEFORE_COLO" "$(dump "$COLO")"
check "SIGKILL leaves the policy rule behind on home" \
	bash -c "ip -n $HOME_NS rule | grep -q 'from 203.0.113.5'"
check "ipipctl cleanup undoes what the killed ipipd left (colo)" nsx "$COLO" "$IPIPCTL" cleanup Moe
check "after cleanup, colo is exactly as before" diff <(echo "$BEFORE_COLO") <(dump "$COLO")
check "ipipctl cleanup again: nothing to do" bash -c \
	"ip netns exec $COLO $IPIPCTL cleanup Moe | grep -q 'nothing to clean up'"
check "restart after SIGKILL works at once (home)" start "$HOME_NS" "$WORK/home/Moe.conf"
PHOME=$STARTED
check "the restart undid the leftovers first: one policy rule, not two" bash -c \
	"ip -n $HOME_NS rule | grep -c 'from 203.0.113.5' | grep -qx 1"
check "ipipctl cleanup refuses while the tunnel runs" bash -c \
	"! ip netns exec $HOME_NS $IPIPCTL cleanup Moe 2>/dev/null"
nsx "$HOME_NS" "$IPIPCTL" down Moe
check "after restart and stop, home is exactly as before" diff <(echo "$BEFORE_HOME") <(dump "$HOME_NS")

# explain: the HOWTO's commands, in order.
check "ipipctl explain prints the HOWTO's commands in order" bash -c "diff <(ip netns exec $HOME_NS $IPIPCTL explain $WORK/home/Moe.conf) - <<'E'
ip tunnel add Moe mode ipip remote 198.51.100.2 local 192.0.2.42 ttl 64
ip link set Moe mtu 1480
ip address add 203.0.113.5/32 peer 203.0.113.1 dev Moe
ip link set Moe up
echo \"42 Moe\" > /etc/iproute2/rt_tables.d/ipipd-$(nsino "$HOME_NS"):Moe.conf
ip route add default via 203.0.113.1 dev Moe table Moe
ip rule add from 203.0.113.5/32 table Moe
E"
check "ipipctl explain shows the nft rules for this host's forward chain" bash -c \
	"ip netns exec $COLO $IPIPCTL explain $WORK/colo/Moe.conf | grep -qxF \"nft 'insert rule ip filter FORWARD iifname \\\"Moe\\\" accept comment \\\"ipipd:Moe\\\"'\""
finish

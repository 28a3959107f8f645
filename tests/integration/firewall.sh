#!/bin/bash
# A firewall that stays open: ipipd follows the nftables ruleset and puts its
# rules back after a reload (nft -f of a file that flushes the ruleset,
# iptables-restore as ufw reload does), into forward chains made after the
# start too, once per change and without answering itself; Input = accept
# opens the input chains to the outer packets from Remote.
#
#   lan   203.0.113.9/24 (default via .1)
#    |
#   colo  eth-lan 203.0.113.1/24, eth-wan 198.51.100.2/24   tunnel Moe: Forward = accept
#    |    its ruleset from a file: flush ruleset, forward (and input) chains, policy drop
#   inet  198.51.100.1/24 | 192.0.2.1/24, forwarding
#    |
#   home  eth0 192.0.2.42/24                                tunnel Moe (no firewall)
#
# colo runs in the foreground with its log in a file of ours.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../seed.sh"

seed_topology || exit 1
mkdir -p "$WORK/home" "$WORK/colo"
cp "$TOP/examples/home/Moe.conf" "$WORK/home/Moe.conf"
colo_conf() { # colo_conf DATAPATH [Firewall] LINES
	sed -e '/^\[Firewall\]/,$d' -e "s/^\[Tunnel\]\$/[Tunnel]\nDatapath = $1/" \
		"$TOP/examples/colo/Moe.conf" >"$WORK/colo/Moe.conf"
	printf '[Firewall]\n%s\n' "$2" >>"$WORK/colo/Moe.conf"
}
start_colo() { # start_colo: ipipd -f in colo, its PID in PCOLO, its log in $WORK/colo.log
	: >"$WORK/colo.log"
	bg "$COLO" "$IPIPD" -f "$WORK/colo/Moe.conf" 2>"$WORK/colo.log"
	PCOLO=$BG
	for _ in $(seq 100); do [ -S "$(rundir "$COLO")/Moe.sock" ] && return 0; sleep 0.1; done
	cat "$WORK/colo.log"; return 1
}
stop_colo() { nsx "$COLO" "$IPIPCTL" down Moe; wait_gone "$PCOLO"; }
show() { json "$COLO" Moe "$1"; }
# wait_show KEY VALUE: up to 5 s for `ipipctl show` to say KEY=VALUE
wait_show() { for _ in $(seq 50); do [ "$(show "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
lan_reaches_home() { nsx "$LAN" ping -c 2 -i 0.2 -W 1 203.0.113.5; }
lan_cannot_reach_home() { ! lan_reaches_home; }
restores_logged() { grep -c 'Moe: firewall: the nftables ruleset changed' "$WORK/colo.log"; }
tagged() { nsx "$COLO" nft list ruleset | grep -c 'comment "ipipd:Moe"'; }
# quiet SECONDS: nft monitor sees no transaction for that long
quiet() { local out; out=$(nsx "$COLO" timeout "$1" nft monitor); [ -z "$out" ] || { echo "$out"; return 1; }; }

# The firewall's file, as a distribution keeps it: it replaces the whole ruleset.
cat >"$WORK/colo.nft" <<'EOF'
flush ruleset
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
	}
}
EOF
nsx "$COLO" nft -f "$WORK/colo.nft"
BEFORE=$(nsx "$COLO" nft list ruleset)

start "$HOME_NS" "$WORK/home/Moe.conf" || notok "start home"
colo_conf "$DATAPATH" "Forward = accept"
start_colo || notok "start colo"
check "before the reload: the LAN reaches home through the forward chain's drop" lan_reaches_home
check "ipipctl show: 2 rules, nothing restored yet (firewall_restored 0, firewall_restored_ago_ms null)" \
	test "$(show firewall_rules) $(show firewall_restored) $(show firewall_restored_ago_ms)" = "2 0 None"

# A full reload under the running tunnel: flush ruleset and the file, one transaction.
t0=$(date +%s%N)
nsx "$COLO" nft -f "$WORK/colo.nft"
ms=-1
for _ in $(seq 30); do
	if nsx "$LAN" ping -c 1 -W 0.3 203.0.113.5 >/dev/null 2>&1; then ms=$((($(date +%s%N) - t0) / 1000000)); break; fi
done
check "after nft -f of a file that flushes the ruleset: the LAN reaches home again within 1 s ($ms ms)" \
	test "$ms" -ge 0 -a "$ms" -le 1000
check "... through ipipd's rules, back at the top of the new forward chain" bash -c \
	"ip netns exec $COLO nft list chain inet filter forward | grep -A2 'policy drop' | tail -2 | grep -c 'ipipd:Moe' | grep -qx 2"
check "ipipctl show reports the restore (firewall_restored 1, firewall_restored_ago_ms a number, 2 rules)" \
	bash -c '[ "$1 $3" = "1 2" ] && [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -lt 60000 ]' _ \
	"$(show firewall_restored)" "$(show firewall_restored_ago_ms)" "$(show firewall_rules)"
check "the log says it once, naming nft's generation" bash -c \
	"[ \$(grep -c 'Moe: firewall: the nftables ruleset changed (generation [0-9]* by nft, pid [0-9]*); 2 rules added to inet filter forward' $WORK/colo.log) = 1 ]"
nsx "$COLO" "$IPIPCTL" metrics Moe >"$WORK/metrics.prom"
check "ipipctl metrics: ipipd_firewall_restored_total 1 and its age, promtool passes" bash -c "
	grep -q '^ipipd_firewall_restored_total{tunnel=\"Moe\"} 1\$' $WORK/metrics.prom &&
	grep -q '^ipipd_firewall_restored_age_seconds{tunnel=\"Moe\"} [0-9.]*\$' $WORK/metrics.prom &&
	promtool check metrics <$WORK/metrics.prom"
check "ipipd does not answer its own transaction: no generation for 1.5 s after it" quiet 1.5
check "... and added each rule once (2 tagged rules in the ruleset)" test "$(tagged)" = 2

# A change that leaves ipipd's rules alone is no restore.
nsx "$COLO" nft add table ip other
sleep 0.6
check "a change elsewhere (a new table) restores nothing and logs nothing" \
	test "$(show firewall_restored) $(restores_logged) $(tagged)" = "1 1 2"

# A forward chain made after the start (with policy drop: it would cut the tunnel off).
nsx "$COLO" nft 'add table ip late; add chain ip late lfwd { type filter hook forward priority 10; policy drop; }'
wait_show firewall_rules 4
check "a forward chain added after the start gets ipipd's two rules" bash -c \
	"ip netns exec $COLO nft list chain ip late lfwd | grep -c 'ipipd:Moe' | grep -qx 2"
check "... and the LAN still reaches home through both drops" lan_reaches_home
check "ipipctl show: 4 rules, firewall_restored 2; logged once more" \
	test "$(show firewall_rules) $(show firewall_restored) $(restores_logged)" = "4 2 2"

# A reload in several transactions, as firewall managers make them: acted on once.
nsx "$COLO" nft flush ruleset
sed 1d "$WORK/colo.nft" | nsx "$COLO" nft -f -
nsx "$COLO" nft add table ip other2
nsx "$COLO" nft add table ip other3
wait_show firewall_rules 2
quiet 1.5 >/dev/null
check "a reload of four transactions in a row is restored and logged once (firewall_restored 3)" \
	test "$(show firewall_restored) $(restores_logged) $(tagged)" = "3 3 2"
check "... and the LAN reaches home" lan_reaches_home

# Stop: exactly ipipd's rules go.
nsx "$COLO" nft -f "$WORK/colo.nft"
wait_show firewall_restored 4
stop_colo
check "after stop, the ruleset is the file's again (all of ipipd's rules gone)" \
	diff <(echo "$BEFORE") <(nsx "$COLO" nft list ruleset)
sed 's/^/#   /' "$WORK/colo.log"

# ForwardFrom: a reload takes table inet ipipd too; it comes back with the rules.
colo_conf "$DATAPATH" "Forward = accept
ForwardFrom = 198.51.100.0/24"
start_colo || notok "start colo (ForwardFrom)"
nsx "$COLO" nft -f "$WORK/colo.nft"
wait_show firewall_restored 1
check "ForwardFrom after a reload: ipipd's chain is back with its 3 rules" bash -c \
	"ip netns exec $COLO nft list chain inet ipipd fwd_Moe | grep -c 'ipipd:Moe' | grep -qx 3"
check "ForwardFrom after a reload: the internet (198.51.100.1) reaches home" \
	nsx "$INET" ping -c 2 -i 0.2 -W 1 203.0.113.5
check "ForwardFrom after a reload: the LAN (203.0.113.9, not listed) is still refused" \
	lan_cannot_reach_home
stop_colo
check "after stop, the ruleset is the file's (table inet ipipd gone)" \
	diff <(echo "$BEFORE") <(nsx "$COLO" nft list ruleset)

# Input = accept, where the input chain drops.  Outer packets of the eBPF fast
# path never reach netfilter's input hook: colo runs the userspace datapath
# (or the kernel's device), whose outer packets do.
IN_DP=userspace
[ "$DATAPATH" = kernel ] && IN_DP=kernel
cat >"$WORK/colo-in.nft" <<'EOF'
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
EOF
nsx "$COLO" nft -f "$WORK/colo-in.nft"
BEFORE_IN=$(nsx "$COLO" nft list ruleset)
colo_conf "$IN_DP" "Forward = accept"
start_colo || notok "start colo (Input none)"
check "input policy drop, Input = none: the LAN cannot reach home (the replies from Remote are dropped)" \
	lan_cannot_reach_home
stop_colo
colo_conf "$IN_DP" "Forward = accept
Input = accept"
start_colo || notok "start colo (Input accept)"
check "input policy drop, Input = accept: the LAN reaches home" lan_reaches_home
check "... through the input chain's rule: ip saddr Remote ip daddr Local protocol 4" bash -c \
	"ip netns exec $COLO nft list chain inet filter input | grep -q 'ip saddr 192.0.2.42 ip daddr 198.51.100.2 ip protocol ipencap accept comment \"ipipd:Moe\"'"
check "ipipctl show: firewall_input accept, 3 rules" \
	test "$(show firewall_input) $(show firewall_rules)" = "accept 3"
nsx "$COLO" nft -f "$WORK/colo-in.nft"
wait_show firewall_restored 1
check "Input after a reload: the input rule is back and the LAN reaches home" \
	bash -c "[ \$(ip netns exec $COLO nft list chain inet filter input | grep -c ipipd:Moe) = 1 ] && ip netns exec $LAN ping -c 2 -i 0.2 -W 1 203.0.113.5"
stop_colo
check "after stop, the input rule is gone (the ruleset is the file's)" \
	diff <(echo "$BEFORE_IN") <(nsx "$COLO" nft list ruleset)

# ufw's way: iptables-nft chains with policy DROP, reloaded with iptables-restore.
nsx "$COLO" nft flush ruleset
nsx "$COLO" iptables -P INPUT DROP
nsx "$COLO" iptables -P FORWARD DROP
nsx "$COLO" iptables-save >"$WORK/colo.rules"
nsx "$COLO" iptables-restore <"$WORK/colo.rules"	# as restored (it adds chain OUTPUT)
BEFORE_IPT=$(nsx "$COLO" nft list ruleset)
start_colo || notok "start colo (iptables-nft)"
check "iptables-nft INPUT and FORWARD DROP, Input = accept: the LAN reaches home" lan_reaches_home
check "iptables -S INPUT shows ipipd's rule" bash -c \
	"ip netns exec $COLO iptables -S INPUT | grep -- '-s 192.0.2.42/32 -d 198.51.100.2/32 -p ipencap' | grep -q 'ipipd:Moe'"
nsx "$COLO" iptables-restore <"$WORK/colo.rules"
wait_show firewall_restored 1
check "after iptables-restore (ufw reload): the rules are back (3) and the LAN reaches home" \
	bash -c "[ \$(ip netns exec $COLO iptables-save | grep -c ipipd:Moe) = 3 ] && ip netns exec $LAN ping -c 2 -i 0.2 -W 1 203.0.113.5"
stop_colo
check "after stop, the iptables-nft ruleset is as before" \
	diff <(echo "$BEFORE_IPT") <(nsx "$COLO" nft list ruleset)
# After a crash the state file's record undoes the input rule too.
start_colo || notok "start colo (to be killed)"
kill -9 "$PCOLO"; wait_gone "$PCOLO"
check "SIGKILL leaves the input rule behind (so the next check means something)" bash -c \
	"ip netns exec $COLO iptables -S INPUT | grep -q ipipd:Moe"
check "ipipctl cleanup removes it with the forward rules: the ruleset is as before" bash -c \
	"ip netns exec $COLO $IPIPCTL cleanup Moe >/dev/null && diff <(echo \"\$0\") <(ip netns exec $COLO nft list ruleset)" \
	"$BEFORE_IPT"
sed 's/^/#   /' "$WORK/colo.log"
finish

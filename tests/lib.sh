# Shared helpers for the namespace integration tests (sourced, bash).
# Every test prints "ok - NAME" or "not ok - NAME"; run-all.sh counts them.
# Namespaces get unique names, processes are ended by PID, all on exit.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IPIPD=${IPIPD:-$TOP/build/ipipd}
IPIPCTL=${IPIPCTL:-$TOP/build/ipipctl}
PY=/usr/bin/python3
# Datapath of the tunnels the suites start (run-all.sh runs some suites with each).
DATAPATH=${DATAPATH:-auto}
PKT="$PY $TOP/tests/pkt.py"
WORK=$(mktemp -d /tmp/ipipd-test.XXXXXX)
SUFFIX=$$
NAMESPACES=()
PIDS=()
FAILED=0

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }

# check NAME CMD...: run CMD, ok if it succeeds.
check() {
	local name=$1; shift
	if "$@" >"$WORK/check.out" 2>&1; then ok "$name"; else
		notok "$name"; sed 's/^/#   /' "$WORK/check.out" | head -20
	fi
}

# ns_new VAR PREFIX: make namespace PREFIX-PID with lo up and put its name in VAR.
# (Not in a $(...) subshell: the name must reach NAMESPACES for the cleanup.)
ns_new() {
	local n="$2-$SUFFIX"
	ip netns add "$n" || return 1
	NAMESPACES+=("$n")
	printf -v "$1" '%s' "$n"
	ip -n "$n" link set lo up
	# Files under this namespace's inode are a dead namespace's (one whose
	# ipipd was killed, outside the tests too): the tests start from none.
	rm -rf "/run/ipipd/netns/$(nsino "$n")"
	# No IPv6 on the test hosts: link-local addresses appearing late would make
	# dumps taken now differ from dumps taken later.
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# nsx NS CMD...: run CMD in NS.  For a background process use `bg NS CMD...`
# instead, so that its PID (in $BG) is the process's own and cleanup ends it.
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
bg() {
	local n=$1; shift
	ip netns exec "$n" "$@" &
	BG=$!
	PIDS+=("$BG")
}

# veth_pair NS1 IF1 ADDR1 NS2 IF2 ADDR2
veth_pair() {
	ip link add "$2" netns "$1" type veth peer "$5" netns "$4" || return 1
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
	for _ in $(seq 50); do
		ip -n "$1" link show "$2" | grep -q LOWER_UP && ip -n "$4" link show "$5" | grep -q LOWER_UP &&
			return 0
		sleep 0.05
	done
}

# nat_net PREFIX: the HOWTO's NAT case, namespaces PREFIX{home,colo,inet,nat,lan}
# in HOME_NS, COLO, INET, NAT, LAN (the router has no rules yet):
#   lan 203.0.113.9 -- colo 203.0.113.1 | 198.51.100.2 -- inet 198.51.100.1 | 192.0.2.1/25
#     -- router wan 192.0.2.42/25 | 192.0.2.129/25 -- home 192.0.2.130/25
# says NS ANSWER [ADDR [SRC]]: NS asks a `pkt.py serve-peer` on ADDR (home's
# tunnel address) port 7000 who it is; ANSWER is what it must say.
nat_net() {
	ns_new HOME_NS "$1home" && ns_new COLO "$1colo" && ns_new INET "$1inet" &&
		ns_new NAT "$1nat" && ns_new LAN "$1lan" || return 1
	veth_pair "$LAN" eth0 203.0.113.9/24 "$COLO" eth-lan 203.0.113.1/24 &&
	veth_pair "$COLO" eth-wan 198.51.100.2/24 "$INET" eth-colo 198.51.100.1/24 &&
	veth_pair "$INET" eth-nat 192.0.2.1/25 "$NAT" wan 192.0.2.42/25 &&
	veth_pair "$NAT" home 192.0.2.129/25 "$HOME_NS" eth0 192.0.2.130/25 || return 1
	ip -n "$LAN" route add default via 203.0.113.1
	ip -n "$COLO" route add default via 198.51.100.1
	ip -n "$NAT" route add default via 192.0.2.1
	ip -n "$HOME_NS" route add default via 192.0.2.129
	ip -n "$INET" route add 203.0.113.0/24 via 198.51.100.2
	nsx "$INET" sysctl -qw net.ipv4.ip_forward=1
	nsx "$NAT" sysctl -qw net.ipv4.ip_forward=1
}
says() { test "$(nsx "$1" $PKT ask-peer "${3:-203.0.113.5}" 7000 ${4:-})" = "$2"; }

# nsino NS: the inode of the namespace, which keys its runtime files and table-name files.
nsino() { ip netns exec "$1" stat -L -c %i /proc/self/ns/net; }
# rundir NS: the runtime directory of the tunnels in NS.
rundir() { echo "/run/ipipd/netns/$(nsino "$1")"; }

# start NS CONF [NAME]: run ipipd in background mode; its PID is left in $STARTED.
start() {
	local ns=$1 conf=$2 name=${3:-$(basename "$2" .conf)}
	STARTED=
	nsx "$ns" "$IPIPD" "$conf" 2>>"$WORK/ipipd.log" || return 1
	STARTED=$(cat "$(rundir "$ns")/$name.pid") || return 1
	PIDS+=("$STARTED")
}

# wait_gone PID: wait up to 10 s for a process to exit.
wait_gone() {
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# dump NS: everything ipipd may touch, for before/after comparisons.
dump() {
	local n=$1
	{
		ip -n "$n" -d link show | sed -E 's/ (alias|altname) .*//'
		ip -n "$n" addr show
		ip -n "$n" route show table all
		ip -n "$n" rule show
		ip netns exec "$n" sysctl -a 2>/dev/null |
			grep -E '^net\.ipv4\.(ip_forward|conf\.[^.]+\.(proxy_arp|rp_filter|forwarding)) '
		ip netns exec "$n" nft list ruleset
		# table-name files are shared by all namespaces: only this one's
		ls /etc/iproute2/rt_tables.d | grep -F -- "-$(nsino "$n"):"
	} 2>&1 | grep -v -E '^\s+(RX|TX|[0-9]+ +[0-9]+)'
}

# json NS NAME KEY: one value from `ipipctl show --json NAME`.
json() {
	nsx "$1" "$IPIPCTL" show --json "$2" | $PY -c '
import json, sys
t = json.load(sys.stdin)[0]
for k in sys.argv[1].split("."):
    t = t[k]
print(t)' "$3"
}

# ipstat NS FIELD: one counter of the Ip: line of the namespace's /proc/net/snmp.
ipstat() {
	nsx "$1" awk -v f="$2" '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == f) c = i; h = 1 } else print $c }' /proc/net/snmp
}

# icmp_unreach NS: ICMP destination-unreachable messages the namespace has sent.
icmp_unreach() {
	nsx "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutDestUnreachs") c = i; h = 1 } else print $c }' /proc/net/snmp
}

# transfer FROM_NS TO_NS TO_ADDR PORT FILE: TCP FILE, sha256 compared at the far end.
transfer() {
	local from=$1 to=$2 addr=$3 port=$4 file=$5 sink sent got
	nsx "$to" timeout 150 $PKT sink "$addr" "$port" >"$WORK/sink.out" &
	sink=$!; PIDS+=("$sink")
	for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
	sent=$(nsx "$from" timeout 120 $PKT send "$addr" "$port" "$file")
	wait "$sink"
	got=$(tail -n 1 "$WORK/sink.out")
	[ -n "$sent" ] && [ "$sent" = "$got" ]
}

# transfer_start FROM TO ADDR PORT FILE RATE: a paced transfer, in the background
# (its PIDs in SINK and SEND; what each says in $WORK/sink.out and $WORK/send.out).
transfer_start() {
	nsx "$2" timeout 150 $PKT sink "$3" "$4" >"$WORK/sink.out" &
	SINK=$!; PIDS+=("$SINK")
	for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
	nsx "$1" timeout 120 $PKT send "$3" "$4" "$5" "$6" >"$WORK/send.out" 2>&1 &
	SEND=$!; PIDS+=("$SEND")
}

capture() { # capture VAR NS IF FILE [FILTER]: start tcpdump, its PID in $VAR
	ip netns exec "$2" tcpdump --immediate-mode -Z root -B 65536 -i "$3" -w "$4" -U ${5:-} \
		2>"$4.err" &
	PIDS+=($!)
	printf -v "$1" %s $!
	for _ in $(seq 300); do grep -q listening "$4.err" && break; sleep 0.1; done
}

stop_capture() { sleep 0.3; kill "$1"; wait "$1" 2>/dev/null; }

finish() {
	[ "$FAILED" -eq 0 ]
}

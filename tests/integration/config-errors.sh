#!/bin/bash
# Every bad configuration is refused with FILE:LINE and exit 1, and every
# start-up failure leaves the namespace exactly as it was.
#
#   C: vc 192.0.2.1/24 (veth peer in D, down)
set -u
. "$(dirname "$0")/../lib.sh"

ns_new C ipC && ns_new D ipD || exit 1
veth_pair "$C" vc 192.0.2.1/24 "$D" vd 192.0.2.2/24 || exit 1
BEFORE=$(dump "$C")

GOOD='[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
[Address]
Address = 198.51.100.1/32
Peer = 198.51.100.2'

# bad NAME EXPECTED-MESSAGE CONFIG-TEXT: ipipd (exit status 78) and ipipd -n both refuse it.
bad() {
	local name=$1 want=$2 f="$WORK/$1.conf" out rc
	printf '%s\n' "$3" >"$f"
	out=$(nsx "$C" "$IPIPD" -f "$f" 2>&1); rc=$?
	if [ $rc -eq 78 ] && grep -qF -- "$want" <<<"$out" && ! nsx "$C" "$IPIPD" -n "$f" >/dev/null 2>&1 &&
	   diff <(echo "$BEFORE") <(dump "$C") >/dev/null; then
		ok "config error: $name"
	else
		notok "config error: $name (exit $rc, wanted '$want')"; echo "#   $out"
	fi
}

bad unknown-key "unknown-key.conf:3: unknown key 'Remtoe' in section [Tunnel]" \
"[Tunnel]
Local = 192.0.2.1
Remtoe = 192.0.2.2"
bad unknown-section "unknown-section.conf:7: unknown section [Tunel]" "$GOOD
[Tunel]
MTU = 1400"
bad missing-remote "missing-remote.conf:1: [Tunnel]: missing required key 'Remote'" \
"[Tunnel]
Local = 192.0.2.1
[Address]
Address = 198.51.100.1/32"
bad missing-address-section "missing-address-section.conf:3: missing section [Address]" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2"
bad bad-local "bad-local.conf:2: Local: '192.0.2.300' is not a unicast IPv4 address" \
"[Tunnel]
Local = 192.0.2.300
Remote = 192.0.2.2
[Address]
Address = 198.51.100.1/32"
bad bad-ttl "bad-ttl.conf:4: TTL: '256' is neither 'inherit' nor a number from 1 to 255" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
TTL = 256
[Address]
Address = 198.51.100.1/32"
bad bad-tos "bad-tos.conf:4: TOS: 'lowdelay'" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
TOS = lowdelay
[Address]
Address = 198.51.100.1/32"
bad ttl-without-pmtudisc "ttl-without-pmtudisc.conf:5: DiscoverPathMTU: 'no' cannot be used with a fixed TTL" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
TTL = 64
DiscoverPathMTU = no
[Address]
Address = 198.51.100.1/32"
bad bad-mtu "bad-mtu.conf:4: MTU: '67' is not a number from 68 to 65515" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
MTU = 67
[Address]
Address = 198.51.100.1/32"
bad bad-address "bad-address.conf:5: Address: '198.51.100.1/33' is not ADDRESS or ADDRESS/PREFIXLENGTH" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
[Address]
Address = 198.51.100.1/33"
bad lower-case-section "lower-case-section.conf:1: unknown section [tunnel]: section names are case-sensitive: [Tunnel]" \
"[tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
[Address]
Address = 198.51.100.1/32"
bad bad-name "bad-name.conf:2: Name: 'this-name-is-too-long' is 21 bytes long: interface names are at most 15 bytes" \
"[Tunnel]
Name = this-name-is-too-long
Local = 192.0.2.1
Remote = 192.0.2.2
[Address]
Address = 198.51.100.1/32"
bad duplicate-key "duplicate-key.conf:4: Local: given twice (first on line 2)" \
"[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
Local = 192.0.2.3
[Address]
Address = 198.51.100.1/32"
bad syntax "syntax.conf:3: syntax error" \
"[Tunnel]
Local = 192.0.2.1
Remote 192.0.2.2
[Address]
Address = 198.51.100.1/32"

# Start-up failures after a valid configuration: nothing left behind.
fail() { # fail NAME EXPECTED CONFIG
	local f="$WORK/$1.conf" out rc
	printf '%s\n' "$3" >"$f"
	out=$(nsx "$C" "$IPIPD" -f "$f" 2>&1); rc=$?
	if [ $rc -ne 0 ] && grep -qF -- "$2" <<<"$out" && diff <(echo "$BEFORE") <(dump "$C") >/dev/null &&
	   [ ! -e "$(rundir "$C")" ]; then
		ok "start-up failure leaves the host untouched: $1"
	else
		notok "start-up failure: $1 (exit $rc)"; echo "#   $out"; diff <(echo "$BEFORE") <(dump "$C") | head
	fi
}
fail name-taken "vc: an interface with this name already exists" "[Tunnel]
Name = vc
${GOOD#\[Tunnel\]}"
# Local not (yet) an address here, no route to Remote (yet): not errors but
# states (at boot); ipipd returns, waits, and has changed nothing (waiting.sh
# brings such a tunnel up).
waits() { # waits NAME EXPECTED CONFIG
	local f="$WORK/$1.conf" out rc pid
	printf '%s\n' "$3" >"$f"
	out=$(nsx "$C" "$IPIPD" "$f" 2>&1); rc=$?
	pid=$(cat "$(rundir "$C")/$1.pid" 2>/dev/null)
	[ -n "$pid" ] && PIDS+=("$pid")
	if [ $rc -eq 0 ] && [[ "$(json "$C" "$1" waiting_for)" == *"$2"* ]] &&
	   diff <(echo "$BEFORE") <(dump "$C") >/dev/null && nsx "$C" "$IPIPCTL" down "$1" &&
	   wait_gone "$pid" && [ ! -e "$(rundir "$C")" ]; then
		ok "not an error at start but a wait, the host untouched: $1 (waiting for $2)"
	else
		notok "waiting at start: $1 (exit $rc)"; echo "#   $out"; diff <(echo "$BEFORE") <(dump "$C") | head
	fi
}
waits local-not-ours "Local 192.0.2.77 to be an address of this host" \
	"${GOOD/Local = 192.0.2.1/Local = 192.0.2.77}"
waits no-route "a route to Remote 203.0.113.9" "${GOOD/Remote = 192.0.2.2/Remote = 203.0.113.9}"
# A late step fails (the control socket path is taken): the configured interface is rolled back.
# (the runtime directory as ipipd makes it: root's, mode 0700, or it is refused before)
for d in /run/ipipd /run/ipipd/netns "$(rundir "$C")"; do mkdir -p -m 0700 "$d"; done
mkdir "$(rundir "$C")/late.sock"
printf '%s\n' "$GOOD" >"$WORK/late.conf"
out=$(nsx "$C" "$IPIPD" -f "$WORK/late.conf" 2>&1); rc=$?
AFTER=$(dump "$C")
rmdir "$(rundir "$C")/late.sock"
late_failed() { echo "$2"; [ "$1" -eq 1 ] && grep -q 'late.sock' <<<"$2"; }
check "late start-up failure exits 1 naming the step" late_failed "$rc" "$out"
check "late start-up failure rolls back the configured interface" diff <(echo "$BEFORE") <(echo "$AFTER")
check "... and removes its runtime files" \
	bash -c "ls -A $(rundir "$C") 2>/dev/null | grep -q . && exit 1; exit 0"
rmdir "$(rundir "$C")" 2>/dev/null
# Datapath: the kernel's ipip device where the kernel has it, userspace otherwise.
if ip -n "$D" link add probe0 type ipip local 192.0.2.2 remote 192.0.2.1 2>/dev/null; then
	ip -n "$D" link del probe0
	echo "# this kernel has ipip: the Datapath = kernel refusal is not tested here"
else
	fail dp-kernel "Datapath = kernel: cannot create an ipip device" \
		"${GOOD/Remote = 192.0.2.2/Remote = 192.0.2.2
Datapath = kernel}"
	printf '%s\n' "$GOOD" >"$WORK/dpauto.conf"
	start "$C" "$WORK/dpauto.conf"
	check "Datapath = auto without the kernel's ipip: eBPF or userspace, and ipipctl says why" bash -c \
		"ip netns exec $C $IPIPCTL show dpauto | grep -Eq '(ebpf|userspace) datapath \(the kernel cannot create ipip devices'"
	nsx "$C" "$IPIPCTL" down dpauto
fi
# exits STATUS PATTERN CMD...: CMD exits with STATUS and its output (stdout
# and stderr) has a line matching the extended regular expression PATTERN.
exits() {
	local want=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1); rc=$?
	echo "exit status $rc (wanted $want):"; echo "$out"
	[ "$rc" -eq "$want" ] && grep -Eq -- "$pat" <<<"$out"
}

# ipipd -n on this host (C: vc 192.0.2.1/24, MTU 1500, forwarding off): what
# cannot work is an error (exit 1), what may not is a warning (exit 0).
conf() { printf '%s\n' "$2" >"$WORK/$1.conf"; echo "$WORK/$1.conf"; }
nsx "$C" sysctl -qw net.ipv4.ip_forward=0
check "ipipd -n: a valid configuration, no word but ok" \
	bash -c '[ "$(ip netns exec "$1" "$2" -n "$3" 2>&1)" = "$3: configuration ok (tunnel lint-ok)" ]' \
	_ "$C" "$IPIPD" "$(conf lint-ok "$GOOD")"
check "ipipd -n: Name of an existing interface ipipd did not create: error, exit 1" \
	exits 1 "lint-name.conf:2: Name: an interface named 'vc' \(veth\) already exists on this host and ipipd did not create it" \
	nsx "$C" "$IPIPD" -n "$(conf lint-name "[Tunnel]
Name = vc
${GOOD#\[Tunnel\]}")"
check "ipipd -n: Local not an address of this host: a warning, exit 0" \
	exits 0 "lint-local.conf:2: warning: Local: 192.0.2.77 is not an address of this host \(yet\)" \
	nsx "$C" "$IPIPD" -n "$(conf lint-local "${GOOD/Local = 192.0.2.1/Local = 192.0.2.77}")"
check "ipipd -n: ... and says ok, with warnings" \
	exits 0 "lint-local.conf: configuration ok \(tunnel lint-local\), with warnings" \
	nsx "$C" "$IPIPD" -n "$WORK/lint-local.conf"
check "ipipd -n: MTU over the route's MTU - 20: a warning naming the device" \
	exits 0 "lint-mtu.conf:4: warning: MTU: 1500 is more than the underlay carries: the route to Remote 192.0.2.2 \(through vc\) has MTU 1500, which leaves 1480" \
	nsx "$C" "$IPIPD" -n "$(conf lint-mtu "${GOOD/Remote = 192.0.2.2/Remote = 192.0.2.2
MTU = 1500}")"
check "ipipd -n: ProxyARP while this host does not forward: a warning" \
	exits 0 "lint-parp.conf:8: warning: ProxyARP: the kernel answers ARP by proxy only on an interface that forwards, and net.ipv4.ip_forward is 0 on this host" \
	nsx "$C" "$IPIPD" -n "$(conf lint-parp "$GOOD
[Host]
ProxyARP = vc")"
ip -n "$C" addr add 10.99.0.1/24 dev lo
check "ipipd -n: RuleFrom over another address of this host: a warning" \
	exits 0 "lint-rule.conf:10: warning: RuleFrom: 10.99.0.0/16 covers 10.99.0.1 \(lo\), an address of this host: traffic from it, SSH sessions to it included, would go by table 4243" \
	nsx "$C" "$IPIPD" -n "$(conf lint-rule "$GOOD
[Routing]
Table = 4243
DefaultRoute = no
RuleFrom = 10.99.0.0/16")"
ip -n "$C" addr del 10.99.0.1/24 dev lo
# A route someone else has in the place of one of the tunnel's: ipipd would
# not start (the kernel has room for one route per destination, table and
# metric), so ipipd -n says so, naming what holds it.
ip -n "$C" route add 203.0.113.0/24 dev vc
ip -n "$C" route add blackhole default table 4243
check "ipipd -n: a [Route] another route holds the place of: an error naming its device, exit 1" \
	exits 1 "lint-route.conf:7: \[Route\] 203.0.113.0/24: table 254 has a route to it with metric 0 already \(through vc\): ipipd will not start" \
	nsx "$C" "$IPIPD" -n "$(conf lint-route "$GOOD
[Route]
Destination = 203.0.113.0/24")"
check "ipipd -n: ... not with another Metric" \
	exits 0 "lint-metric.conf: configuration ok" \
	nsx "$C" "$IPIPD" -n "$(conf lint-metric "$GOOD
[Route]
Destination = 203.0.113.0/24
Metric = 10")"
check "ipipd -n: a Table that has a default route (a blackhole): an error, exit 1" \
	exits 1 "lint-table.conf:8: Table: table 4243 has a default route already \(a blackhole\): ipipd will not start" \
	nsx "$C" "$IPIPD" -n "$(conf lint-table "$GOOD
[Routing]
Table = 4243")"
ip -n "$C" route del 203.0.113.0/24 dev vc
ip -n "$C" route del blackhole default table 4243
# At start the warnings are printed too, and the tunnel starts.
f=$(conf lint-start "${GOOD/Remote = 192.0.2.2/Remote = 192.0.2.2
MTU = 1500}")
out=$(nsx "$C" "$IPIPD" "$f" 2>&1); rc=$?
[ $rc -eq 0 ] && PIDS+=("$(cat "$(rundir "$C")/lint-start.pid")")
check "ipipd: the same warning at start, and the tunnel starts" bash -c \
	'echo "$2"; [ "$1" -eq 0 ] && grep -q "lint-start.conf:4: warning: MTU: 1500 is more than the underlay carries" <<<"$2"' _ "$rc" "$out"
check "... and runs with MTU 1500 as configured" bash -c "ip -n $C link show lint-start | grep -q 'mtu 1500'"
nsx "$C" "$IPIPCTL" down lint-start >/dev/null 2>&1
check "... and stops, leaving the namespace as it was" diff <(echo "$BEFORE") <(dump "$C")
# ipipctl check: each file as ipipd -n checks it, then what two of them
# would both take; by default every NAME.conf in /etc/ipipd.
OTHER="${GOOD/Remote = 192.0.2.2/Remote = 192.0.2.3}"
OTHER="${OTHER/198.51.100.2/198.51.100.3}"
check "ipipctl check: two tunnels that take nothing twice: ok for each, exit 0" bash -c '
	out=$(ip netns exec "$1" "$2" check "$3" "$4" 2>&1); rc=$?; echo "$out"
	[ $rc -eq 0 ] && [ "$out" = "$3: configuration ok (tunnel chk-a)
$4: configuration ok (tunnel chk-b)" ]' _ "$C" "$IPIPCTL" "$(conf chk-a "$GOOD")" "$(conf chk-b "$OTHER")"
check "ipipctl check: the same Local and Remote in two files: an error at the second, naming the first (exit 1)" \
	exits 1 "chk-c.conf:3: Remote: tunnel chk-a \($WORK/chk-a.conf:3\) has the same Local and Remote" \
	nsx "$C" "$IPIPCTL" check "$WORK/chk-a.conf" "$(conf chk-c "${GOOD/198.51.100.2/198.51.100.3}")"
check "ipipctl check: the same table, each with its default route (exit 1)" \
	exits 1 "chk-e.conf:8: Table: 4242 is also tunnel chk-d's \($WORK/chk-d.conf:8\)" \
	nsx "$C" "$IPIPCTL" check "$(conf chk-d "$GOOD
[Routing]
Table = 4242")" "$(conf chk-e "$OTHER
[Routing]
Table = 4242")"
check "ipipctl check: a file with an error among them: said with its line, the others checked (exit 1)" \
	exits 1 "unknown-key.conf:3: unknown key 'Remtoe'.*" \
	nsx "$C" "$IPIPCTL" check "$WORK/chk-a.conf" "$WORK/unknown-key.conf" "$WORK/chk-b.conf"
check "... and the others said ok" \
	exits 1 "chk-b.conf: configuration ok \(tunnel chk-b\)" \
	nsx "$C" "$IPIPCTL" check "$WORK/chk-a.conf" "$WORK/unknown-key.conf" "$WORK/chk-b.conf"
# /etc/ipipd, as the units have it: in a mount namespace of its own, over
# the host's (made for the test where there is none, and removed after).
MADE_ETC=
[ -d /etc/ipipd ] || { mkdir /etc/ipipd && MADE_ETC=1; }
mkdir -p "$WORK/etc/examples"
cp "$WORK/chk-a.conf" "$WORK/chk-c.conf" "$WORK/etc/"
cp "$WORK/unknown-key.conf" "$WORK/etc/examples/"	# not a tunnel: not checked
check "ipipctl check: by default every NAME.conf in /etc/ipipd, not those below it (exit 1 for the clash)" bash -c '
	out=$(unshare -m sh -c "mount --bind \"\$1\" /etc/ipipd && ip netns exec \"\$2\" \"\$3\" check" _ \
		"$3/etc" "$1" "$2" 2>&1); rc=$?; echo "$out"
	[ $rc -eq 1 ] && grep -q "^/etc/ipipd/chk-a.conf: configuration ok (tunnel chk-a)\$" <<<"$out" &&
	grep -q "^/etc/ipipd/chk-c.conf:3: Remote: tunnel chk-a (/etc/ipipd/chk-a.conf:3) has the same" <<<"$out" &&
	! grep -q unknown-key <<<"$out"' _ "$C" "$IPIPCTL" "$WORK"
rm "$WORK/etc/chk-c.conf"
check "... and exit 0 once the clash is gone" bash -c '
	unshare -m sh -c "mount --bind \"\$1\" /etc/ipipd && ip netns exec \"\$2\" \"\$3\" check" _ \
		"$3/etc" "$1" "$2"' _ "$C" "$IPIPCTL" "$WORK"
rm "$WORK/etc/chk-a.conf"
check "... and none there: said, exit 1" bash -c '
	out=$(unshare -m sh -c "mount --bind \"\$1\" /etc/ipipd && ip netns exec \"\$2\" \"\$3\" check" _ \
		"$3/etc" "$1" "$2" 2>&1); rc=$?; echo "$out"
	[ $rc -eq 1 ] && [ "$out" = "ipipctl: no tunnels in /etc/ipipd (NAME.conf)" ]' _ "$C" "$IPIPCTL" "$WORK"
[ -n "$MADE_ETC" ] && rmdir /etc/ipipd

check "a missing file is an error naming the file (exit 1)" \
	exits 1 "nonexistent\.conf: No such file" "$IPIPD" -n "$WORK/nonexistent.conf"
check "ipipd -h prints usage and exits 0" exits 0 '^usage: ipipd ' "$IPIPD" -h
check "ipipd with a bad option exits 1 (with the usage)" exits 1 '^usage: ipipd ' "$IPIPD" -x
check "ipipctl -h prints usage and exits 0" exits 0 '^usage: ipipctl ' "$IPIPCTL" -h
check "ipipctl with an unknown command exits 1 (with the usage)" exits 1 '^usage: ipipctl ' "$IPIPCTL" frob
check "ipipctl down without a daemon fails clearly (exit 1, 'no such tunnel')" \
	exits 1 "tunnel 'nosuch': no such tunnel" nsx "$C" "$IPIPCTL" down nosuch
finish

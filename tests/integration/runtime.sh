#!/bin/bash
# Runtime files and host settings shared by tunnels.
#
#   A (rtA) va 192.0.2.1/24 ------ veth ------ vb 192.0.2.2/24 (rtB)
#     tunnel rta 198.51.100.1 peer .2, table rta:4242: the runtime directory,
#     its files, the state file and what cleanup accepts of it
#   unnamed namespaces (unshare -n) U1, U2: d0 192.0.2.1/24 (veth d0-d1)
#     a tunnel rtu in each: their own runtime files and table-name files
#   L (rtL) vl 192.0.2.1, .11 /24 -- veth -- vm 192.0.2.2, .12 /24 (rtM); lan0-lan1 veth
#     tunnels rtf1 (.1 -> .2) and rtf2 (.11 -> .12), both IPv4Forwarding = yes
#     and ProxyARP = lan0: the settings are held until the last one goes
#   W (rtW) 203.0.113.9/24 -- F (rtF) eth-lan 203.0.113.1/24, ethg 192.0.2.1, .11 /24
#     -- G (rtG) ethf 192.0.2.2/24; F forwards through a-b (to G's gab) under an nft
#     table and chain whose names need quoting; x612d62 beside it
#   S (rtS) vs1 192.0.2.1/24 -- veth -- P1 (rtP1) 192.0.2.2/24
#           vs2 (192.0.2.3 routed here) -- veth -- P2 (rtP2) 192.0.2.3/24
#     tunnels rs1 (to P1) and rs2 (to P2) share Local 192.0.2.1
set -u
. "$(dirname "$0")/../lib.sh"

# conf FILE NAME LOCAL REMOTE ADDR PEER [extra lines]: Datapath = $DP (default $DATAPATH),
# and $TX in [Tunnel]
conf() {
	local f=$WORK/$1 name=$2 l=$3 r=$4 a=$5 p=$6
	shift 6
	{
		printf '[Tunnel]\nName = %s\nLocal = %s\nRemote = %s\nDatapath = %s\n%s\n' "$name" "$l" "$r" \
			"${DP:-$DATAPATH}" "${TX:-}"
		printf '[Address]\nAddress = %s/32\nPeer = %s\n' "$a" "$p"
		for x in "$@"; do printf '%s\n' "$x"; done
	} >"$f"
	echo "$f"
}

# refused_start NS CONF TEXT: ipipd exits 1 at once, saying TEXT.
refused_start() {
	local out rc
	out=$(nsx "$1" timeout 20 "$IPIPD" -f "$2" 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && grep -qF -- "$3" <<<"$out"
}
stopped() { # stopped NS NAME PID: ipipctl down, and the daemon is gone
	nsx "$1" "$IPIPCTL" down "$2" && wait_gone "$3"
}
# killed PID [NS DEV]: SIGKILL the daemon; it is gone, and its datapath process with the TUN device DEV
killed() {
	kill -9 "$1"
	wait_gone "$1" || return 1
	[ $# -lt 3 ] && return 0
	for _ in $(seq 100); do ip -n "$2" link show "$3" >/dev/null 2>&1 || return 0; sleep 0.1; done
	return 1
}
ifindex() { ip -n "$1" -o link show "$2" | cut -d: -f1; }
cookie_of() {
	nsx "$1" $PY -c 'import socket
s = socket.socket()
print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET, 71, 8), "little"))'
}
has_rule() { ip -n "$1" rule show | grep -q "from $2 lookup"; }

# ---- the runtime directory and its files ------------------------------------

ns_new A rtA && ns_new B rtB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1
CA=$(conf rta.conf rta 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "[Routing]" "Table = rta:4242")
D=$(rundir "$A")
INO_A=$(nsino "$A")
RT_A=/etc/iproute2/rt_tables.d/ipipd-$INO_A:rta.conf
BEFORE_A=$(dump "$A")

start "$A" "$CA" || notok "start rta"
PA=$STARTED
check "a namespace's runtime directory is /run/ipipd/netns/INODE, root's, mode 0700 (as are those above it)" \
	test "$(stat -c '%a %u %F' /run/ipipd /run/ipipd/netns "$D" | sort -u)" = "700 0 directory"
check "the state file's first line says whose it is: netns INODE COOKIE of this namespace" \
	test "$(head -n 1 "$D/rta.state")" = "netns $INO_A $(cookie_of "$A")"
check "the table-name file is keyed the same way: rt_tables.d/ipipd-INODE:rta.conf" test -f "$RT_A"
check "the TUN device is recorded with its interface index and kind" \
	grep -qx "link $(ifindex "$A" rta) rta tun" "$D/rta.state"
rule_at() { # rule_at PREF: rta's rule is recorded with PREF and the kernel has it there
	grep -qx "rule 198.51.100.1 32 4242 $1" "$D/rta.state" &&
		ip -n "$A" rule show | grep -qx "$1:	from 198.51.100.1 lookup rta"
}
check "the policy rule is recorded with the priority the kernel gave it (main's 32766 - 1)" rule_at 32765
check "ipipctl down: stopped" stopped "$A" rta "$PA"
as_before_a() { diff <(echo "$BEFORE_A") <(dump "$A") && [ ! -e "$D" ] && [ ! -e "$RT_A" ]; }
check "... the host as before, no runtime directory, no table-name file" as_before_a

# dir_refused TEXT: ipipd refuses the runtime directory as set up, saying "$D: TEXT", and leaves it so.
dir_refused() {
	local before
	before=$(stat -c '%F %a %u' "$D")
	refused_start "$A" "$CA" "$D: $1" || return 1
	echo "before: $before, after: $(stat -c '%F %a %u' "$D")"
	[ "$(stat -c '%F %a %u' "$D")" = "$before" ] && ! ip -n "$A" link show rta 2>/dev/null
}
mkdir -m 0700 "$WORK/elsewhere"
ln -s "$WORK/elsewhere" "$D"
check "the runtime directory a symbolic link: ipipd refuses, naming it, and leaves it" \
	dir_refused "is a symbolic link, not a directory"
check "... and made nothing through it" test -z "$(ls -A "$WORK/elsewhere")"
ctl_refuses() { # ctl_refuses TEXT ARGS...: ipipctl exits 1 saying TEXT
	local out rc text=$1
	shift
	out=$(nsx "$A" "$IPIPCTL" "$@" 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && grep -qF -- "$text" <<<"$out"
}
ctl_refuses_link() { ctl_refuses "$D: is a symbolic link" show && ctl_refuses "$D: is a symbolic link" cleanup rta; }
check "ipipctl show and cleanup do not use it either" ctl_refuses_link
rm "$D"
mkdir -m 0755 "$D"
check "the runtime directory of mode 0755: refused, named, not changed" dir_refused "has mode 0755, not 0700"
chmod 0700 "$D"
chown 65534 "$D"
check "the runtime directory owned by another user: refused, named, not changed" \
	dir_refused "is owned by uid 65534, not root"
rmdir "$D"
base_refused() { # /run/ipipd itself, of mode 0755 (a tmpfs of this test's own mount namespace)
	local out rc
	out=$(unshare -m bash -c "mount -t tmpfs -o mode=0755 ipipd-test /run/ipipd &&
		ip netns exec $A timeout 20 $IPIPD -f $CA" 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && grep -qF "/run/ipipd: has mode 0755, not 0700" <<<"$out"
}
check "/run/ipipd itself of mode 0755: refused, named" base_refused

# link_refused SUFFIX: with rta.SUFFIX a symbolic link to a file that names a canary
# to delete, ipipd does not start and neither file is touched through the link.
echo keep >"$WORK/canary"
link_refused() {
	local f=$D/rta$1 victim=$WORK/victim$1 out rc ok=1
	mkdir -p -m 0700 "$D"
	printf 'rtfile %s\n' "$WORK/canary" >"$victim"
	ln -s "$victim" "$f"
	out=$(nsx "$A" timeout 20 "$IPIPD" -f "$CA" 2>&1); rc=$?
	echo "exit status $rc: $out"; echo "victim: $(cat "$victim")"
	[ "$rc" -eq 1 ] && [ "$(cat "$victim")" = "rtfile $WORK/canary" ] &&
		[ "$(cat "$WORK/canary")" = keep ] && ! ip -n "$A" link show rta 2>/dev/null && ok=0
	rm -f "$f"
	return $ok
}
check "the lock file a symbolic link: ipipd does not start, nothing is opened through it" \
	link_refused .lock
check "... the state file" link_refused .state
check "... the pid file (a late failure: rolled back)" link_refused .pid
cleanup_link_refused() {
	local out rc ok=1
	mkdir -p -m 0700 "$D"
	ln -s "$WORK/victim.state" "$D/rta.state"
	out=$(nsx "$A" "$IPIPCTL" cleanup rta 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && [ "$(cat "$WORK/canary")" = keep ] && ok=0
	rm -f "$D/rta.state"
	return $ok
}
check "ipipctl cleanup does not read a state file through a symbolic link" cleanup_link_refused
rmdir "$D" 2>/dev/null

# ---- what cleanup accepts ---------------------------------------------------

start "$A" "$CA" || notok "start rta"
PA=$STARTED
IDX=$(ifindex "$A" rta)
killed "$PA" "$A" rta
cp "$D/rta.state" "$WORK/good.state"
COOKIE=$(cookie_of "$A")
# (A file with this inode and another cookie is a dead namespace's: see below.)
sed -i "1s/^netns $INO_A $COOKIE\$/netns $((INO_A + 1)) $COOKIE/" "$D/rta.state"
other_ns_refused() {
	local out rc
	out=$(nsx "$A" "$IPIPCTL" cleanup rta 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && grep -q "another network namespace (inode $((INO_A + 1)), cookie $COOKIE" <<<"$out" &&
		has_rule "$A" 198.51.100.1 && [ -e "$D/rta.state" ]
}
check "a state file of another namespace (another inode): cleanup refuses, undoes nothing" \
	other_ns_refused
check "... and ipipd does not start on it" refused_start "$A" "$CA" "another network namespace"
# tampered LINE: cleanup refuses the state file with LINE added, names it, and undoes nothing.
tampered() {
	local out rc
	cp "$WORK/good.state" "$D/rta.state"
	printf '%s\n' "$1" >>"$D/rta.state"
	out=$(nsx "$A" "$IPIPCTL" cleanup rta 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 1 ] && grep -qF -- "refused" <<<"$out" && grep -qF -- "'$1'" <<<"$out" &&
		[ "$(cat "$WORK/canary")" = keep ] && has_rule "$A" 198.51.100.1 && [ -e "$RT_A" ]
}
for bad in "rtfile $WORK/canary" \
	"sysctl /proc/sys/net/ipv4/conf/lo/../../../../../..$WORK/canary 0" \
	"sysctl /proc/sys/net/ipv4/conf/lo/../../../../../..$WORK/canary" \
	"sysctl /proc/sys/kernel/core_pattern" \
	"link 1 lo tun" "link $IDX rta dummy" "link rta" \
	"rule 198.51.100.1 32 4242 0" "rule 198.51.100.1 32 254 32765" \
	"tcfilter $(ifindex "$A" va) va 1 1" "nft someone-else" "rmdir /etc" \
	"netns $INO_A $COOKIE" "unknown entry"; do
	check "cleanup refuses a state file with '${bad//$WORK/WORK}'" tampered "$bad"
done
cp "$WORK/good.state" "$D/rta.state"
# The device of the recorded index is deleted only while it has the recorded name and kind.
ip -n "$A" link add rta index "$IDX" type veth peer rtapeer index $((IDX + 100))
other_kind_kept() {
	local out rc
	out=$(nsx "$A" "$IPIPCTL" cleanup rta 2>&1); rc=$?
	echo "exit status $rc: $out"
	[ "$rc" -eq 0 ] && grep -q "ifindex $IDX is now 'rta' (veth), not the tun device 'rta' created: left alone" <<<"$out" &&
		ip -n "$A" -d link show rta | grep -q veth && ! has_rule "$A" 198.51.100.1
}
check "cleanup leaves a device of that index and name but another kind alone (and undoes the rest)" \
	other_kind_kept
ip -n "$A" link del rta
check "... the host as before" diff <(echo "$BEFORE_A") <(dump "$A")
start "$A" "$CA" || notok "start rta"
PA=$STARTED
IDX=$(ifindex "$A" rta)
killed "$PA" "$A" rta
persistent_tun() { # persistent_tun NS NAME IFINDEX
	nsx "$1" $PY -c 'import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454da, struct.pack("I", int(sys.argv[2])))	# TUNSETIFINDEX
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH22x", sys.argv[1].encode(), 0x1001))	# TUNSETIFF
fcntl.ioctl(fd, 0x400454cb, 1)	# TUNSETPERSIST' "$2" "$3"
}
persistent_tun "$A" rta "$IDX"
same_kind_deleted() {
	ip -n "$A" -d link show rta | grep -q 'tun type tun' && nsx "$A" "$IPIPCTL" cleanup rta &&
		! ip -n "$A" link show rta 2>/dev/null
}
check "cleanup deletes the device of the recorded index, name and kind" same_kind_deleted
check "... the host as before" diff <(echo "$BEFORE_A") <(dump "$A")

# ---- rule priorities --------------------------------------------------------

ip -n "$A" rule add from 192.0.2.99 table 100 pref 100
ip -n "$A" rule add from 192.0.2.98 table 101
KPREF=$(ip -n "$A" rule show | awk '/from 192.0.2.98 / { sub(":", "", $1); print $1 }')
ip -n "$A" rule del from 192.0.2.98 table 101
start "$A" "$CA" || notok "start rta"
PA=$STARTED
kernel_pref() { echo "the kernel gives $KPREF"; [ "$KPREF" = 99 ] && rule_at 99; }
check "with another rule second (100), the rule gets what the kernel gives (99), recorded" kernel_pref
stopped "$A" rta "$PA"
ip -n "$A" rule del from 192.0.2.99 table 100 pref 100
CA7=$(conf rta7.conf rta 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "[Routing]" "Table = rta:4242" \
	"RulePriority = 777")
start "$A" "$CA7" rta || notok "start rta (RulePriority)"
PA=$STARTED
check "RulePriority = 777: the rule is recorded with it" grep -qx "rule 198.51.100.1 32 4242 777" "$D/rta.state"
stopped "$A" rta "$PA"
CAF=$(DP=ebpf TX="FastPathAttach = clsact" conf rtaf.conf rta 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2)
start "$A" "$CAF" rta || notok "start rta (clsact)"
PA=$STARTED
clsact_recorded() {
	local h
	h=$(tc -n "$A" filter show dev va ingress | sed -n 's/.* pref 494 bpf .*handle \(0x[0-9a-f]*\).*/\1/p' | head -n 1)
	echo "tc handle: $h"; cat "$D/rta.state"
	[ -n "$h" ] && grep -qx "tcfilter $(ifindex "$A" va) va $((h)) 494" "$D/rta.state"
}
check "the fast path's clsact filter is in the state file with its device, handle and priority" \
	clsact_recorded
killed "$PA" "$A" rta
filter_gone() { nsx "$A" "$IPIPCTL" cleanup rta && ! tc -n "$A" filter show dev va ingress | grep -q 'pref 494'; }
check "... and cleanup removes it" filter_gone

# ---- unnamed namespaces -----------------------------------------------------

unnamed() { # unnamed VAR: a process in a network namespace without a name; its PID in VAR
	local p
	unshare -n sleep 900 &
	p=$!
	PIDS+=("$p")
	for _ in $(seq 100); do
		[ "$(stat -L -c %i "/proc/$p/ns/net")" != "$(stat -L -c %i /proc/self/ns/net)" ] && break
		sleep 0.05
	done
	ux "$p" ip link set lo up
	ux "$p" ip link add d0 type veth peer d1
	ux "$p" ip addr add 192.0.2.1/24 dev d0
	ux "$p" ip link set d0 up
	ux "$p" ip link set d1 up
	printf -v "$1" %s "$p"
}
ux() { local p=$1; shift; nsenter --net="/proc/$p/ns/net" "$@"; }
udir() { echo "/run/ipipd/netns/$(stat -L -c %i "/proc/$1/ns/net")"; }
unnamed U1 && unnamed U2
CU=$(conf rtu.conf rtu 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "[Routing]" "Table = rtu:4243")
ustart() { # ustart U: ipipd in U's namespace; its PID in $STARTED
	ux "$1" "$IPIPD" "$CU" 2>>"$WORK/ipipd.log" && STARTED=$(cat "$(udir "$1")/rtu.pid") &&
		PIDS+=("$STARTED")
}
STARTED=
ustart "$U1" || notok "start rtu in an unnamed namespace"
PU1=$STARTED
own_dir() {
	local d1
	d1=$(udir "$U1")
	[ -S "$d1/rtu.sock" ] && [ -s "$d1/rtu.state" ] && [ ! -e /run/ipipd/rtu.sock ] &&
		[ ! -e /run/ipipd/rtu.state ]
}
check "a tunnel in a namespace without a name keeps its files in /run/ipipd/netns/INODE, not /run/ipipd" \
	own_dir
check "... and its table-name file is ipipd-INODE:rtu.conf" \
	test -f "/etc/iproute2/rt_tables.d/ipipd-$(stat -L -c %i "/proc/$U1/ns/net"):rtu.conf"
STARTED=
ustart "$U2" && ok "a tunnel of the same name starts in a second namespace without a name" ||
	notok "a tunnel of the same name starts in a second namespace without a name"
PU2=$STARTED
killed "$PU1" || notok "SIGKILL rtu"
own_cleanup() {
	local d1
	d1=$(udir "$U1")
	ux "$U1" "$IPIPCTL" cleanup rtu && ! ux "$U1" ip rule show | grep -q 'from 198.51.100.1' &&
		ux "$U2" ip rule show | grep -q 'from 198.51.100.1 lookup rtu' &&
		ux "$U2" "$IPIPCTL" show rtu >/dev/null && [ ! -e "$d1" ]
}
check "after SIGKILL, ipipctl cleanup in the first undoes its own rule only" own_cleanup
second_stops() {
	local d2
	d2=$(udir "$U2")
	ux "$U2" "$IPIPCTL" down rtu && wait_gone "$PU2" && [ ! -e "$d2" ] &&
		! ls /etc/iproute2/rt_tables.d | grep -q ':rtu.conf'
}
check "the second stops cleanly: no runtime files, no table-name file" second_stops

# ---- a namespace that is gone, and its inode used again ---------------------
# Two tunnels SIGKILLed in a namespace that is then deleted leave their files
# in /run/ipipd/netns/INODE (with a table name and a held sysctl: a table-name
# file and the ledger).  The kernel gives that inode to a later namespace
# (the lowest free one), whose cookie differs: there ipipctl does not list
# them, and the first ipipd removes them and starts (it refused before:
# "written in another network namespace").
ns_new G rtG || exit 1
ip -n "$G" link add g0 type veth peer g1
ip -n "$G" addr add 192.0.2.1/24 dev g0
ip -n "$G" link set g0 up && ip -n "$G" link set g1 up
GINO=$(nsino "$G")
CGA=$(conf ga.conf ga 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "[Routing]" "Table = ga:4251" \
	"[Host]" "IPv4Forwarding = yes")
CGB=$(conf gb.conf gb 192.0.2.1 192.0.2.3 198.51.100.3 198.51.100.4 "[Routing]" "Table = gb:4252")
GAP= GBP=
start "$G" "$CGA" ga && GAP=$STARTED
start "$G" "$CGB" gb && GBP=$STARTED
GDIR=$(rundir "$G")
ghosts_left() {
	[ -n "$GAP" ] && [ -n "$GBP" ] && killed "$GAP" "$G" ga && killed "$GBP" "$G" gb &&
		[ -s "$GDIR/ga.state" ] && [ -S "$GDIR/gb.sock" ] && [ -s "$GDIR/host:shared" ] &&
		[ -f "/etc/iproute2/rt_tables.d/ipipd-$GINO:ga.conf" ]
}
check "two tunnels SIGKILLed in a namespace leave their files (state, socket, ledger, table name)" \
	ghosts_left
ip netns del "$G"
# Namespaces until one has G's inode again (each kept: the lower free ones go
# first); not ns_new's, which would remove what G left.
N=
for i in $(seq 60); do
	R=rtR$i-$SUFFIX
	ip netns add "$R" || break
	NAMESPACES+=("$R")
	if [ "$(nsino "$R")" = "$GINO" ]; then N=$R; break; fi
	sleep 0.1
done
if [ -z "$N" ]; then
	notok "a new namespace gets the inode $GINO of the one deleted (60 tried)"
else
	ok "a new namespace gets the inode of the one deleted ($GINO), with another cookie"
	ip -n "$N" link set lo up
	ip -n "$N" link add g0 type veth peer g1
	ip -n "$N" addr add 192.0.2.1/24 dev g0
	ip -n "$N" link set g0 up && ip -n "$N" link set g1 up
	check "... where ipipctl show lists none of the dead namespace's tunnels" \
		bash -c "[ \"\$(ip netns exec $N $IPIPCTL show --json)\" = '[]' ]"
	NAP=
	start "$N" "$CGA" ga && NAP=$STARTED
	if [ -n "$NAP" ]; then ok "... and a tunnel of the same name starts there"
	else notok "... and a tunnel of the same name starts there"; tail -5 "$WORK/ipipd.log" | sed 's/^/#   /'; fi
	check "... after removing the other tunnel's files, and the dead ledger" \
		bash -c "[ ! -e '$GDIR/gb.state' ] && [ ! -e '$GDIR/gb.sock' ] && [ ! -e '$GDIR/gb.pid' ] &&
			[ ! -e '$GDIR/gb.lock' ] && [ ! -e /etc/iproute2/rt_tables.d/ipipd-$GINO:gb.conf ] &&
			grep -qx 'netns $GINO $(cookie_of "$N")' '$GDIR/host:shared'"
	gone_down() {
		nsx "$N" "$IPIPCTL" down ga && wait_gone "$NAP" && [ ! -e "$GDIR" ] &&
			! ls /etc/iproute2/rt_tables.d | grep -q "^ipipd-$GINO:"
	}
	check "... and when it stops, nothing of either namespace is left" gone_down
fi

# ---- host settings shared by tunnels ----------------------------------------

ns_new L rtL && ns_new M rtM || exit 1
veth_pair "$L" vl 192.0.2.1/24 "$M" vm 192.0.2.2/24 || exit 1
ip -n "$L" addr add 192.0.2.11/24 dev vl
ip -n "$M" addr add 192.0.2.12/24 dev vm
ip -n "$L" link add lan0 type veth peer lan1
ip -n "$L" link set lan0 up
ip -n "$L" link set lan1 up
HOST="[Host]
IPv4Forwarding = yes
ProxyARP = lan0"
C1=$(conf rtf1.conf rtf1 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "$HOST")
C2=$(conf rtf2.conf rtf2 192.0.2.11 192.0.2.12 198.51.100.11 198.51.100.12 "$HOST")
C3=$(conf rtf3.conf rtf3 192.0.2.1 192.0.2.3 198.51.100.21 198.51.100.22 "[Host]" "IPv4Forwarding = no")
DL=$(rundir "$L")
BEFORE_L=$(dump "$L")
settings() { echo "$(nsx "$L" sysctl -n net.ipv4.ip_forward) $(nsx "$L" sysctl -n net.ipv4.conf.lan0.proxy_arp)"; }
settings_are() { echo "ip_forward, proxy_arp: $(settings)"; [ "$(settings)" = "$1" ]; }
P1= P2=
start_both() {
	start "$L" "$C1" && P1=$STARTED && start "$L" "$C2" && P2=$STARTED
}
start_both || notok "start rtf1 and rtf2"
check "two tunnels set IPv4Forwarding and ProxyARP" settings_are "1 1"
ledger_both() {
	cat "$DL/host:shared"
	grep -qx 'hold /proc/sys/net/ipv4/ip_forward 0 1 rtf1 rtf2' "$DL/host:shared" &&
		grep -qx 'hold /proc/sys/net/ipv4/conf/lan0/proxy_arp 0 1 rtf1 rtf2' "$DL/host:shared"
}
check "the ledger holds both settings for both" ledger_both
line=$(grep -n '^IPv4Forwarding' "$C3" | cut -d: -f1)
check "a tunnel wanting IPv4Forwarding = no is refused, naming its line and the holder" refused_start "$L" "$C3" \
	"rtf3.conf:$line: IPv4Forwarding: /proc/sys/net/ipv4/ip_forward is held at 1 by tunnel 'rtf1' (this one wants 0)"
check "... and changed nothing" settings_are "1 1"
stop_keeps() { stopped "$L" "$1" "$2" && settings_are "$3"; }
check "one stops: the settings stay for the other" stop_keeps rtf1 "$P1" "1 1"
last_goes() { stop_keeps rtf2 "$P2" "0 0" && [ ! -e "$DL" ]; }
check "the other stops: both settings as before, no ledger, no runtime directory" last_goes
start_both || notok "start rtf1 and rtf2"
killed "$P1"
cleanup_keeps() { nsx "$L" "$IPIPCTL" cleanup "$1" && settings_are "$2"; }
held_by_rtf2() { cleanup_keeps rtf1 "1 1" && grep -qx 'hold /proc/sys/net/ipv4/ip_forward 0 1 rtf2' "$DL/host:shared"; }
check "SIGKILL and ipipctl cleanup of one: the settings stay for the other" held_by_rtf2
check "... the other stops: the settings as before" stop_keeps rtf2 "$P2" "0 0"
start_both || notok "start rtf1 and rtf2"
killed "$P1"
killed "$P2"
check "both killed: cleanup of the second keeps the settings for the first's hold" cleanup_keeps rtf2 "1 1"
check "... cleanup of the first puts them back" cleanup_keeps rtf1 "0 0"
check "... and the namespace is exactly as before" diff <(echo "$BEFORE_L") <(dump "$L")

# ---- nftables names ---------------------------------------------------------

ns_new W rtW && ns_new F rtF && ns_new G rtG || exit 1
veth_pair "$W" eth0 203.0.113.9/24 "$F" eth-lan 203.0.113.1/24 || exit 1
veth_pair "$F" ethg 192.0.2.1/24 "$G" ethf 192.0.2.2/24 || exit 1
ip -n "$F" addr add 192.0.2.11/24 dev ethg
ip -n "$W" route add default via 203.0.113.1
CF=$(conf a-b.conf a-b 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2 "[Host]" "IPv4Forwarding = yes" \
	"[Firewall]" "Forward = accept" "ForwardFrom = 203.0.113.0/24")
CG=$(conf gab.conf gab 192.0.2.2 192.0.2.1 198.51.100.2 198.51.100.1)
CX=$(conf x612d62.conf x612d62 192.0.2.11 192.0.2.12 198.51.100.11 198.51.100.12 "[Firewall]" \
	"Forward = accept" "ForwardFrom = 192.0.2.0/24")
tagged() { # tagged NAME [CHAIN]: rules tagged ipipd:NAME in F's ruleset (in CHAIN)
	nsx "$F" nft -j list ruleset | $PY -c 'import json, sys
n = 0
for o in json.load(sys.stdin)["nftables"]:
    r = o.get("rule")
    if r and r.get("comment") == "ipipd:" + sys.argv[1] and (len(sys.argv) < 3 or r["chain"] == sys.argv[2]):
        n += 1
print(n)' "$@"
}
PF= PX=
BEFORE_F=$(dump "$F")
# Their chains were both fwd_x612d62 ("fwd_x" and the hex of "a-b").
start "$F" "$CF" && PF=$STARTED && start "$F" "$CX" && PX=$STARTED || notok "start a-b and x612d62"
chain_each() {
	nsx "$F" nft list table inet ipipd | grep -q 'chain fwdx_612d62 {' &&
		nsx "$F" nft list table inet ipipd | grep -q 'chain fwd_x612d62 {'
}
check "tunnels a-b and x612d62 get a chain each (fwdx_612d62, fwd_x612d62)" chain_each
x_stays() {
	stopped "$F" a-b "$PF" || return 1
	echo "tagged: a-b $(tagged a-b), x612d62 $(tagged x612d62 fwd_x612d62) in fwd_x612d62"
	[ "$(tagged x612d62 fwd_x612d62)" = 3 ] && [ "$(tagged a-b)" = 0 ]
}
check "a-b stops: x612d62's chain and its 3 rules stay" x_stays
check "x612d62 stops" stopped "$F" x612d62 "$PX"
check "... the ruleset and the host exactly as before" diff <(echo "$BEFORE_F") <(dump "$F")

# A forward chain with policy drop in a table and chain whose names nft's text form
# cannot give unquoted (a space, quotes, a leading digit): made through JSON.
nsx "$F" nft -j -f - <<'E'
{"nftables": [{"add": {"table": {"family": "ip", "name": "1 odd"}}},
 {"add": {"chain": {"family": "ip", "table": "1 odd", "name": "fwd \"chain\"", "type": "filter",
  "hook": "forward", "prio": 0, "policy": "drop"}}}]}
E
BEFORE_F=$(dump "$F")
lan_reaches() { nsx "$W" ping -c 2 -i 0.2 -W 2 198.51.100.2; }
lan_cannot_reach() { ! lan_reaches; }
start "$G" "$CG" || notok "start gab"
PG=$STARTED
ip -n "$G" route add 203.0.113.0/24 dev gab
check "without the tunnel's rules the chain drops the LAN's packets" lan_cannot_reach
start "$F" "$CF" || notok "start a-b under table '1 odd'"
PF=$STARTED
check "the tunnel opens a forward chain named fwd \"chain\" in table '1 odd' (2 rules there)" \
	test "$(tagged a-b 'fwd "chain"')" = 2
check "... and the LAN reaches the far end through it" lan_reaches
start "$F" "$CX" || notok "start x612d62"
PX=$STARTED
check "x612d62 beside it: 2 rules there too" test "$(tagged x612d62 'fwd "chain"')" = 2
check "a-b stops" stopped "$F" a-b "$PF"
check "... x612d62's rules stay (2 in fwd \"chain\", 3 of its own)" test "$(tagged x612d62 'fwd "chain"') $(tagged x612d62 fwd_x612d62)" = "2 3"
check "x612d62 stops" stopped "$F" x612d62 "$PX"
check "... the ruleset and the host exactly as before" diff <(echo "$BEFORE_F") <(dump "$F")
stopped "$G" gab "$PG"

# ---- two tunnels sharing Local -------------------------------------------------

ns_new S rtS && ns_new P1 rtP1 && ns_new P2 rtP2 || exit 1
veth_pair "$S" vs1 192.0.2.1/24 "$P1" vp1 192.0.2.2/24 || exit 1
ip link add vs2 netns "$S" type veth peer vp2 netns "$P2"
ip -n "$S" link set vs2 up
ip -n "$P2" addr add 192.0.2.3/24 dev vp2
ip -n "$P2" link set vp2 up
ip -n "$S" route add 192.0.2.3/32 dev vs2 src 192.0.2.1
export DP=userspace
CS1=$(conf rs1.conf rs1 192.0.2.1 192.0.2.2 198.51.100.1 198.51.100.2)
CS2=$(conf rs2.conf rs2 192.0.2.1 192.0.2.3 198.51.100.5 198.51.100.6)
CP1=$(conf rp1.conf rp1 192.0.2.2 192.0.2.1 198.51.100.2 198.51.100.1)
CP2=$(conf rp2.conf rp2 192.0.2.3 192.0.2.1 198.51.100.6 198.51.100.5)
unset DP
PS1= PS2= PP1= PP2=
start "$S" "$CS1" && PS1=$STARTED && start "$S" "$CS2" && PS2=$STARTED &&
	start "$P1" "$CP1" && PP1=$STARTED && start "$P2" "$CP2" && PP2=$STARTED ||
	notok "start the tunnels sharing Local"
ICMP0="$(json "$S" rs1 icmp_errors) $(json "$S" rs2 icmp_errors)"
no_drops() { # no_drops NS NAME: every drop counter of the tunnel is 0
	nsx "$1" "$IPIPCTL" show --json "$2" | $PY -c 'import json, sys
d = json.load(sys.stdin)[0]["drops"]
bad = {k: v for k, v in d.items() if v}
print("drops:", bad or "none")
sys.exit(1 if bad or not d else 0)'
}
pings() { nsx "$S" ping -q -c 300 -i 0.005 -s 1000 "$1" | grep -q ' 0% packet loss'; }
head -c $((4 << 20)) /dev/urandom >"$WORK/blob"
both_at_once() {
	local a b c d
	pings 198.51.100.2 & a=$!
	pings 198.51.100.6 & b=$!
	transfer "$S" "$P1" 198.51.100.2 5001 "$WORK/blob" & c=$!
	transfer "$P2" "$S" 198.51.100.5 5002 "$WORK/blob" & d=$!
	wait "$a" && wait "$b" && wait "$c" && wait "$d"
}
check "two tunnels with the same Local carry traffic both at once (pings without loss, 4 MiB each)" \
	both_at_once
check "... rs1 counts no drop" no_drops "$S" rs1
check "... rs2 counts no drop" no_drops "$S" rs2
check "... rp1 (the far end of rs1) counts no drop" no_drops "$P1" rp1
check "... rp2 (the far end of rs2) counts no drop" no_drops "$P2" rp2
check "... and no ICMP error was counted ($ICMP0)" \
	test -n "$ICMP0" -a "$(json "$S" rs1 icmp_errors) $(json "$S" rs2 icmp_errors)" = "$ICMP0"
for t in "$S rs1 $PS1" "$S rs2 $PS2" "$P1 rp1 $PP1" "$P2 rp2 $PP2"; do
	stopped $t || notok "stop $t"
done
finish

#!/bin/bash
# Least privilege after setup: capabilities, seccomp allow-list, no_new_privs,
# the control socket's mode; traffic, ipipctl and a complete teardown under the
# filter; the -S report mode names calls outside the allow-list in ipipd's own
# log and lets them proceed (a probe built from src/sandbox.c makes such calls).
#
#   A (sbA)                                        B (sbB)
#   198.51.100.1/32 peer .2                        198.51.100.2/32 peer .1
#   va 192.0.2.1/24  ------------ veth ------------  vb 192.0.2.2/24
set -u
. "$(dirname "$0")/../lib.sh"

ns_new A sbA && ns_new B sbB || exit 1
veth_pair "$A" va 192.0.2.1/24 "$B" vb 192.0.2.2/24 || exit 1

# A touches the host widely (routing table name, rule, sysctls, nft) so that
# teardown exercises netlink, libnftables, /proc/sys and rt_tables.d.
cat >"$WORK/sba.conf" <<CONF
[Tunnel]
Local = 192.0.2.1
Remote = 192.0.2.2
Datapath = $DATAPATH
[Address]
Address = 198.51.100.1/32
Peer = 198.51.100.2
[Routing]
Table = sb$SUFFIX:4242
DefaultRoute = yes
RuleFrom = 203.0.113.0/24
[Host]
IPv4Forwarding = yes
ReversePathFilter = loose
[Firewall]
Forward = accept
CONF
cat >"$WORK/sbb.conf" <<CONF
[Tunnel]
Local = 192.0.2.2
Remote = 192.0.2.1
Datapath = userspace
Nice = 5
[Address]
Address = 198.51.100.2/32
Peer = 198.51.100.1
CONF
# Only the firewall's forward chain needs to exist for Forward = accept to act.
nsx "$A" nft -f - <<'NFT'
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
	}
}
NFT

BEFORE_A=$(dump "$A"); BEFORE_B=$(dump "$B")
# Seccomp records (audit type 1326: a kill) in the kernel log from a marker
# written now on; by exe, since helpers such as LSan's tracer have own pids.
# The records reach the kernel log only while no audit daemon takes them, so
# "no record of ipipd" counts only once the same method has found the record
# of a known kill: the probe below (built from src/sandbox.c) killed by SIGSYS.
KMSG_MARK="ipipd sandbox.sh $SUFFIX: seccomp records from here"
echo "$KMSG_MARK" >/dev/kmsg
records() { # records EXE: the type=1326 lines of EXE after the marker; 2 if the marker is gone
	local log
	log=$(dmesg) || return 2
	grep -qF -- "$KMSG_MARK" <<<"$log" || { echo "the marker is no longer in the kernel log"; return 2; }
	awk -v m="$KMSG_MARK" 'f; index($0, m) { f = 1 }' <<<"$log" | grep -F "exe=\"$1\"" | grep 'type=1326'
}
gcc -std=c11 -D_GNU_SOURCE -O2 -I"$TOP/src" -o "$WORK/probe" "$TOP/tests/tools/sandbox_probe.c" \
	"$TOP/src/sandbox.c" "$TOP/src/log.c" -lseccomp -lcap-ng -lpthread || notok "build tests/tools/sandbox_probe.c"
nsx "$A" "$WORK/probe" enforce >/dev/null 2>&1
PROBE_RC=$?
probe_recorded() {
	echo "probe: exit status $PROBE_RC"
	[ "$PROBE_RC" = 159 ] || return 1
	for _ in $(seq 20); do records "$WORK/probe" && return 0; [ $? = 2 ] && return 1; sleep 0.1; done
	echo "no type=1326 record of $WORK/probe in dmesg (an audit daemon takes them?)"; return 1
}
SECCOMP_SEEN=no
if probe_recorded >"$WORK/probe-record" 2>&1; then
	SECCOMP_SEEN=yes; ok "the kernel log shows seccomp kills: the probe's SIGSYS left its type=1326 record in dmesg"
else
	notok "the kernel log shows seccomp kills: the probe's SIGSYS left its type=1326 record in dmesg"
	sed 's/^/#   /' "$WORK/probe-record"
fi
no_records() {
	local rc
	[ "$SECCOMP_SEEN" = yes ] || { echo "dmesg did not show the probe's kill: no record of ipipd proves nothing"; return 1; }
	records "$WORK/probe" >/dev/null || { echo "the probe's record is gone from the kernel log"; return 1; }
	records "$IPIPD"; rc=$?
	[ "$rc" = 1 ]
}
start "$A" "$WORK/sba.conf" && ok "ipipd starts with the sandbox" || notok "ipipd start A"
PA=$STARTED
start "$B" "$WORK/sbb.conf" || notok "ipipd start B"
PB=$STARTED

# Two processes: the parent (pid file) keeps what teardown needs; the
# datapath process (ipipctl show: datapath_pid) has no privilege at all.
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
CA=$(json "$A" sba datapath_pid); CB=$(json "$B" sbb datapath_pid)
DPA=$(json "$A" sba datapath)
echo "# A: parent $PA, datapath process $CA ($DPA); B: parent $PB, datapath process $CB"
check "each daemon is two processes: the datapath process is the parent's child" \
	test "$(status "$CA" PPid) $(status "$CB" PPid)" = "$PA $PB"
# CAP_KILL is bit 5 (0x20), CAP_NET_ADMIN bit 12 (0x1000), CAP_BPF bit 39 (0x8000000000).
if [ "$DPA" = ebpf ]; then PCAPS=0000008000003020; else PCAPS=0000000000003020; fi
check "parent: CapEff is exactly CAP_NET_ADMIN, CAP_NET_RAW, CAP_KILL$( [ "$DPA" = ebpf ] && echo ', CAP_BPF (fast path)')" \
	test "$(status "$PA" CapEff)" = $PCAPS
check "parent: CapPrm and CapBnd the same" \
	test "$(status "$PA" CapPrm) $(status "$PA" CapBnd)" = "$PCAPS $PCAPS"
check "parent: CapInh and CapAmb are empty" \
	test "$(status "$PA" CapInh) $(status "$PA" CapAmb)" = "0000000000000000 0000000000000000"
check "parent: NoNewPrivs is 1" test "$(status "$PA" NoNewPrivs)" = 1
check "parent: uid stays 0 (teardown removes root's files)" \
	bash -c "awk '\$1 == \"Uid:\" { exit !(\$2 == 0 && \$3 == 0) }' /proc/$PA/status"
# Every thread that touches packets, ICMP errors or the control socket.
unprivileged() { # unprivileged PID: every thread: uid and gid not 0, no capability, no group
	local n=0 t
	for t in /proc/"$1"/task/*/status; do
		awk '
			$1 == "Uid:" || $1 == "Gid:" { for (i = 2; i <= 5; i++) if ($i == 0) bad = bad " " $1 "0" }
			$1 ~ /^Cap(Inh|Prm|Eff|Bnd|Amb):$/ && $2 != "0000000000000000" { bad = bad " " $1 $2 }
			$1 == "Groups:" && NF > 1 { bad = bad " groups" }
			$1 == "NoNewPrivs:" && $2 != 1 { bad = bad " nnp" }
			$1 == "Seccomp:" && $2 != 2 { bad = bad " seccomp" }
			END { if (bad != "") { print FILENAME ":" bad; exit 1 } }' "$t" || return 1
		n=$((n + 1))
	done
	echo "$n threads, uid $(status "$1" Uid)"; [ "$n" -ge 3 ]
}
check "datapath process: every thread (3 or more) uid/gid not 0, no group, CapEff/Prm/Bnd/Inh/Amb 0, NoNewPrivs, Seccomp 2" \
	unprivileged "$CA"
check "the far end's datapath process too" unprivileged "$CB"
USER_A=$(json "$A" sba datapath_user); UID_A=$(awk '$1 == "Uid:" { print $2 }' "/proc/$CA/status")
check "the datapath process runs as the system user (ipipd, or nobody where there is none): $USER_A, uid $UID_A" \
	test -n "$UID_A" -a "$(id -un "$UID_A")" = "$USER_A" -a \( "$USER_A" = ipipd -o "$USER_A" = nobody \)
if grep -qw landlock /sys/kernel/security/lsm 2>/dev/null; then
	check "the datapath process runs under Landlock (this kernel has it)" \
		test "$(json "$A" sba landlock)" = yes
fi
# Only its own descriptors: the TUN device, sockets, eventfds, /dev/null, at
# most one io_uring (its TUN reads'); no BPF object, no file of the parent's,
# no netlink socket.
own_fds() { # own_fds PID NS
	local l bad= socks rings=0
	for l in /proc/"$1"/fd/*; do
		case $(readlink "$l") in
		/dev/null|/dev/net/tun|socket:*|"anon_inode:[eventfd]") ;;
		"anon_inode:[io_uring]") rings=$((rings + 1)); [ $rings -le 1 ] || bad="$bad io_uring:$rings" ;;
		*) bad="$bad $(readlink "$l")" ;;
		esac
	done
	socks=$(for l in /proc/"$1"/fd/*; do readlink "$l"; done | sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
	for i in $socks; do
		nsx "$2" awk -v i="$i" 'NR > 1 && $NF == i { f = 1 } END { exit !f }' /proc/net/netlink && bad="$bad netlink:$i"
	done
	echo "descriptors: $(ls /proc/"$1"/fd | wc -l)$bad"; [ -z "$bad" ]
}
check "the datapath process holds only its own descriptors (TUN, sockets, eventfds, one io_uring; no BPF object, no file, no netlink)" \
	own_fds "$CA" "$A"
tasks_filtered() { # tasks_filtered PID MIN: every thread in seccomp mode 2; MIN threads or more
	local n=0 t
	for t in /proc/"$1"/task/*/status; do
		[ "$(awk '$1 == "Seccomp:" { print $2 }' "$t")" = 2 ] || { echo "$t not filtered"; return 1; }
		n=$((n + 1))
	done
	echo "$n threads filtered"; [ "$n" -ge "$2" ]
}
check "parent: Seccomp: 2" tasks_filtered "$PA" 1
check "the far end's parent is filtered too" tasks_filtered "$PB" 1
tasks_nice() { # tasks_nice PID N: every thread runs at nice N (set before the sandbox)
	local t n
	for t in /proc/"$1"/task/*/stat; do
		n=$(sed 's/.*) //' "$t" | awk '{ print $17 }')
		[ "$n" = "$2" ] || { echo "$t: nice $n"; return 1; }
	done
}
check "every thread of the datapath process runs at the default Nice = -10" tasks_nice "$CA" -10
check "Nice = 5: every thread of the far end's datapath process at 5" tasks_nice "$CB" 5
# The same sandbox in a probe (built from src/sandbox.c): writing fails even to
# a file everyone may write (only Landlock refuses that), and so does TCP.
touch "$WORK/open-to-all"; chmod 0666 "$WORK/open-to-all"; chmod 0755 "$WORK"
nsx "$A" "$WORK/probe" child "$WORK/open-to-all" >"$WORK/child.out" 2>"$WORK/child.err"
echo "# probe: exit status $?"; sed 's/^/#   /' "$WORK/child.out" "$WORK/child.err"
check "write probe in the datapath sandbox: uid nobody, no capability" \
	grep -qx "uid $(id -u nobody) caps none" "$WORK/child.out"
check "write probe: /etc/passwd and core_pattern cannot be opened for writing" \
	bash -c "grep -qx 'write /etc/passwd EACCES' $WORK/child.out && grep -qx 'write core_pattern EACCES' $WORK/child.out"
if grep -qw landlock /sys/kernel/security/lsm 2>/dev/null; then
	check "write probe: nor a file of mode 0666, nor read (Landlock), nor a TCP connection (Landlock ABI 4+)" \
		bash -c "grep -qx 'write file EACCES' $WORK/child.out && grep -qx 'read file EACCES' $WORK/child.out &&
			 { grep -qx 'tcp connect EACCES' $WORK/child.out || [ \$(sed -n 's/^landlock //p' $WORK/child.out) -lt 4 ]; }"
fi
check "write probe: each of those calls is outside the datapath's allow-list (reported: open, socket)" \
	bash -c "grep -q 'system call open[at]* ' $WORK/child.err && grep -q 'system call socket ' $WORK/child.err"
check "write probe: a new io_uring is outside it too (reported: io_uring_setup; only the ring made before the filter is used)" \
	grep -q 'system call io_uring_setup ' "$WORK/child.err"
nsx "$A" "$WORK/probe" child-enforce "$WORK/open-to-all" >/dev/null 2>&1
check "without -S the datapath sandbox kills the first open (SIGSYS: exit status 159)" test $? = 159
check "control socket is mode 0600, owned by root" \
	test "$(stat -c '%a %u %g %F' "$(rundir "$A")/sba.sock")" = "600 0 0 socket"

check "ping A -> B through the sandboxed tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "ping B -> A through the sandboxed tunnel" nsx "$B" ping -c 3 -i 0.2 -W 2 198.51.100.1
head -c $((8 << 20)) /dev/urandom >"$WORK/blob"
bg "$B" timeout 90 $PKT sink 198.51.100.2 5001 >"$WORK/sink.out"
SINK=$BG
for _ in $(seq 300); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
SENT=$(nsx "$A" timeout 60 $PKT send 198.51.100.2 5001 "$WORK/blob")
wait "$SINK"
GOT=$(tail -n 1 "$WORK/sink.out")
check "8 MiB TCP transfer arrives intact under the filter" test -n "$SENT" -a "$SENT" = "$GOT"
check "ipipctl show works under the filter (nft rule count included)" \
	bash -c "ip netns exec $A $IPIPCTL show --json sba | grep -q '\"firewall_rules\": *[1-9]'"
check "daemon still alive after show" kill -0 "$PA"
check "ipipctl down works under the filter" nsx "$A" "$IPIPCTL" down sba
check "daemon exits after down" wait_gone "$PA"
# A seccomp kill (or any filter action but allow) is logged as audit type 1326.
check "no seccomp record for the daemons (nothing killed, nothing denied)" \
	no_records
check "teardown under the filter is complete (dump before = after)" \
	diff <(echo "$BEFORE_A") <(dump "$A")
check "no state, socket or pid file left" \
	bash -c "! ls $(rundir "$A")/sba.* 2>/dev/null | grep -q ."
kill "$PB"; wait_gone "$PB"
check "no seccomp record for B after its SIGTERM teardown" \
	no_records
check "SIGTERM teardown of B under the filter is complete" diff <(echo "$BEFORE_B") <(dump "$B")

# -S: report mode.  First the supervisor itself: the probe (built above from
# src/sandbox.c) enters the same sandbox and makes calls outside the
# allow-list (umask three times, acct once).
nsx "$A" "$WORK/probe" report >"$WORK/probe.out" 2>"$WORK/probe.err"
echo "# probe: exit status $?"; sed 's/^/#   /' "$WORK/probe.out" "$WORK/probe.err"
check "-S: a call outside the allow-list proceeds (umask took effect: 0077 read back)" \
	grep -qx 'umask 0[0-7]* 0077 0077' "$WORK/probe.out"
check "-S: ... and returns the kernel's own answer (acct: EPERM, no CAP_SYS_PACCT)" \
	grep -qx 'acct -1 EPERM' "$WORK/probe.out"
check "-S: each is named in the program's own log (stderr): umask and acct" \
	bash -c "grep -q 'sandbox: system call umask ([0-9]*) outside the allow-list' $WORK/probe.err &&
		grep -q 'sandbox: system call acct ([0-9]*) outside the allow-list' $WORK/probe.err"
check "-S: repeated calls are reported once (umask called 3 times, 1 report)" \
	test "$(grep -c 'system call umask' "$WORK/probe.err")" = 1
nsx "$A" "$WORK/probe" enforce >/dev/null 2>&1
check "without -S the same call kills the process (SIGSYS: exit status 159)" test $? = 159

# Then the daemon with -S -f: it reports in its own stderr, carries on, and
# (report mode lets every call through) names none over a whole run.
bg "$A" "$IPIPD" -S -f "$WORK/sba.conf" 2>"$WORK/sbs.log"
PS=$BG
# (the control socket listens before the daemon is ready and enters its sandbox)
REPORTS='sandbox: report mode: system calls outside the allow-list are allowed and reported in this log'
for _ in $(seq 100); do
	[ -S "$(rundir "$A")/sba.sock" ] && grep -q "$REPORTS" "$WORK/sbs.log" && break
	sleep 0.1
done
check "-S: the daemon says in its own log that it reports there (within 10 s)" \
	grep -q "$REPORTS" "$WORK/sbs.log"
seccomp2() { # (the filter goes in just after the log line)
	for _ in $(seq 20); do [ "$(status "$1" Seccomp)" = 2 ] && return 0; sleep 0.1; done
	echo "Seccomp: $(status "$1" Seccomp)"; return 1
}
check "-S: Seccomp: 2 (within 2 s of the log line)" seccomp2 "$PS"
start "$B" "$WORK/sbb.conf" || notok "ipipd start B again"
PB=$STARTED
check "-S: traffic flows" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
check "-S: ipipctl show works" nsx "$A" "$IPIPCTL" show sba
check "-S: the daemon carries on" kill -0 "$PS"
kill "$PS"; wait_gone "$PS"
kill "$PB"; wait_gone "$PB"
sed 's/^/#   /' "$WORK/sbs.log"
check "-S: no call outside the allow-list reported over the whole run (setup to teardown)" \
	bash -c "! grep -q 'outside the allow-list,' $WORK/sbs.log"
check "-S: teardown complete" diff <(echo "$BEFORE_A") <(dump "$A")

finish

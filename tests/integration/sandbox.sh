#!/bin/bash
# Least privilege after setup: capabilities, seccomp allow-list, no_new_privs,
# the control socket's mode; traffic, ipipctl and a complete teardown under the
# filter; the -S report mode reports a deliberately forbidden call.
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
Datapath = userspace
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
# Seccomp records (audit type 1326: a kill, or a report in -S mode) of this
# binary from now on; by exe, since helpers such as LSan's tracer have own pids.
DMESG0=$(dmesg | wc -l)
records() { dmesg | tail -n +$((DMESG0 + 1)) | grep -F "exe=\"$IPIPD\"" | grep 'type=1326'; }
no_records() { ! records; }
only_selftest() { ! records | grep -v "syscall=${ACCT:-x} "; }
start "$A" "$WORK/sba.conf" && ok "ipipd starts with the sandbox" || notok "ipipd start A"
PA=$STARTED
start "$B" "$WORK/sbb.conf" || notok "ipipd start B"
PB=$STARTED

# CAP_NET_ADMIN is bit 12: 0x1000.
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
check "CapEff is exactly CAP_NET_ADMIN" test "$(status "$PA" CapEff)" = 0000000000001000
check "CapPrm is exactly CAP_NET_ADMIN" test "$(status "$PA" CapPrm)" = 0000000000001000
check "CapBnd is exactly CAP_NET_ADMIN" test "$(status "$PA" CapBnd)" = 0000000000001000
check "CapInh and CapAmb are empty" \
	test "$(status "$PA" CapInh) $(status "$PA" CapAmb)" = "0000000000000000 0000000000000000"
check "NoNewPrivs is 1" test "$(status "$PA" NoNewPrivs)" = 1
check "uid stays 0 (teardown removes root's files)" \
	bash -c "awk '\$1 == \"Uid:\" { exit !(\$2 == 0 && \$3 == 0) }' /proc/$PA/status"
tasks_filtered() { # tasks_filtered PID: every thread in seccomp mode 2; 3 threads or more
	local n=0 t
	for t in /proc/"$1"/task/*/status; do
		[ "$(awk '$1 == "Seccomp:" { print $2 }' "$t")" = 2 ] || { echo "$t not filtered"; return 1; }
		n=$((n + 1))
	done
	echo "$n threads filtered"; [ "$n" -ge 3 ]
}
check "Seccomp: 2 for the main thread and both datapath threads" tasks_filtered "$PA"
check "the far end's daemon is filtered too" tasks_filtered "$PB"
check "control socket is mode 0600, owned by root" \
	test "$(stat -c '%a %u %g %F' "$(rundir "$A")/sba.sock")" = "600 0 0 socket"

check "ping A -> B through the sandboxed tunnel" nsx "$A" ping -c 3 -i 0.2 -W 2 198.51.100.2
check "ping B -> A through the sandboxed tunnel" nsx "$B" ping -c 3 -i 0.2 -W 2 198.51.100.1
head -c $((8 << 20)) /dev/urandom >"$WORK/blob"
bg "$B" $PKT sink 198.51.100.2 5001 >"$WORK/sink.out"
SINK=$BG
for _ in $(seq 50); do grep -q listening "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
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

# -S: report mode.  A deliberately forbidden call (acct(NULL), made only in
# this mode and only when IPIPD_SANDBOX_SELFTEST is set) is logged by the
# kernel (audit type 1326, SECCOMP) with the daemon's pid and the call number,
# and the daemon carries on.
ACCT=163	# x86_64 __NR_acct
[ "$(uname -m)" = x86_64 ] || ACCT=
nsx "$A" env IPIPD_SANDBOX_SELFTEST=1 "$IPIPD" -S "$WORK/sba.conf" 2>>"$WORK/ipipd.log" &&
	PS=$(cat "$(rundir "$A")/sba.pid") && PIDS+=("$PS") || notok "ipipd -S start"
reported() {
	for _ in $(seq 30); do
		dmesg | grep -E "type=1326.* pid=$PS .*syscall=${ACCT:-[0-9]+}" && return 0
		sleep 0.1
	done
	return 1
}
check "-S: the forbidden call is reported (kernel audit, pid and syscall number)" reported
check "-S: the daemon carries on after the report" kill -0 "$PS"
check "-S: Seccomp: 2 still" test "$(status "$PS" Seccomp)" = 2
start "$B" "$WORK/sbb.conf" || notok "ipipd start B again"
PB=$STARTED
check "-S: traffic flows" nsx "$A" ping -c 2 -i 0.2 -W 2 198.51.100.2
check "-S: ipipctl show works" nsx "$A" "$IPIPCTL" show sba
kill "$PS"; wait_gone "$PS"
kill "$PB"; wait_gone "$PB"
# Report mode lets every call through: anything reported besides the self-test
# would be a gap in the allow-list.
check "-S: nothing but the self-test's call was reported over the whole run" \
	only_selftest
check "-S: teardown complete" diff <(echo "$BEFORE_A") <(dump "$A")

finish

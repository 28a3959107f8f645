#!/bin/bash
# ipipd as a systemd service: `make install` into a Debian 12 guest whose PID 1
# is systemd (tests/systemd-guest/), then ipipd@Moe the way an administrator
# runs it, against ipipd here as the far end: enable --now (Type=notify: it
# returns once packets pass), status, ipipctl, journal, its policy rule
# removed by systemd-networkd (put back), Datapath = auto on the
# kernel's device, the unit's sandbox as it is, systemctl reload (a change
# applied by the same process; a file with an error refused, FILE:LINE in the
# journal), stop (the network as before), start, a crash (SIGKILL:
# restarted), ipipctl down (stays down), every datapath under the same
# sandbox, a start before the network (activating, "Waiting for", active once
# the route comes), Local = auto with Remote as a name (the guest's
# /etc/hosts; followed when it changes; waited for when it does not resolve;
# from DNS, a nameserver at an IPv4 and at an IPv6 address), configuration
# errors (exit status 78, not restarted), a reboot (the enabled unit comes
# back by itself), disable --now; then the Debian package of `make deb` in
# place of make install's copy: installed offline, starting nothing, a tunnel
# from it, purged with the tunnel running, and nothing left.
#
#   H (namespace here)                         guest (QEMU, systemd as PID 1)
#   ipipd (Datapath = userspace) sd0           ipipd@Moe.service: /etc/ipipd/Moe.conf
#     203.0.113.1 peer 203.0.113.5               203.0.113.5 peer 203.0.113.1, Table Moe:42
#     |                                          (Datapath = auto, then kernel,
#     |                                          userspace and ebpf)
#   tap sdtap 192.0.2.1/24  ------------------  eth0 192.0.2.42/24 (sd-net.service)
#
# The guest gets ipipd from `make install DESTDIR=STAGE PREFIX=/usr` here: STAGE
# is its read-only /dev/vdb, copied into / there, and the system user is made
# by scripts/adduser.sh, as `make install` without DESTDIR does on a host.
# STAGE carries the package of `make deb` too.
set -u
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/systemd-guest/sd.sh"

ns_new H sdH || exit 1
ip -n "$H" tuntap add dev sdtap mode tap || exit 1
ip -n "$H" addr add 192.0.2.1/24 dev sdtap

# ipipd as an administrator installs it (the release build: the guest has no
# sanitizer runtime).
STAGE=$WORK/stage
check "make install DESTDIR=... PREFIX=/usr of this build" \
	make -s -C "$TOP" install DESTDIR="$STAGE/root" PREFIX=/usr
cp "$TOP/scripts/adduser.sh" "$STAGE/"
# The Debian package (issue 15), for the end of the suite: `make deb` (its
# build dependencies, debhelper and lintian, installed by scripts/deps.sh deb).
# Built now: the guest's data disk is made before it boots.
DEB=
if make -s -C "$TOP" deb >"$WORK/deb.out" 2>&1; then
	DEB=$(ls -t "$TOP"/build/ipipd_*_*.deb | head -n 1)
	cp "$DEB" "$STAGE/"
	ok "make deb: $(basename "$DEB") (lintian: no error or warning)"
else
	notok "make deb: build/ipipd_VERSION_ARCH.deb"
	sed 's/^/#   /' "$WORK/deb.out" | tail -n 20
fi
SD_DATA=$STAGE sd_start "$H" sdtap 192.0.2.42/24 ||
	{ notok "the guest boots with systemd as PID 1"; finish; exit 1; }
check "the guest boots with systemd as PID 1 (in $SD_BOOT_SECONDS s)" \
	sd_run '[ "$(cat /proc/1/comm)" = systemd ] && systemctl is-system-running'
sd_run 'systemd-analyze time | head -n 1; systemd-analyze blame --no-pager | head -n 5' |
	sed 's/^/# guest boot: /'

check "guest: make install's files copied in, the user ipipd made by scripts/adduser.sh (systemd-sysusers)" sd_run '
set -e
mount -o ro /dev/vdb /mnt
cp -a /mnt/root/. /
sh /mnt/adduser.sh /usr/lib/sysusers.d/ipipd.conf
umount /mnt
systemctl daemon-reload
getent passwd ipipd
ls -l /usr/sbin/ipipd /usr/sbin/ipipctl /usr/lib/systemd/system/ipipd@.service /usr/lib/sysusers.d/ipipd.conf'
check "guest: every library ipipd and ipipctl need is installed (ldd)" sd_run '
ldd /usr/sbin/ipipd /usr/sbin/ipipctl; ! ldd /usr/sbin/ipipd /usr/sbin/ipipctl | grep -q "not found"'
check "guest: systemd-analyze verify finds nothing wrong with ipipd@Moe.service" sd_run '
mkdir -p /etc/ipipd && touch /etc/ipipd/Moe.conf
out=$(systemd-analyze verify --man=no ipipd@Moe.service 2>&1); echo "$out"; [ -z "$out" ]'

printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.42\nDatapath = userspace\n[Address]\nAddress = 203.0.113.1/32\nPeer = 203.0.113.5\n' \
	>"$WORK/sd0.conf"
start "$H" "$WORK/sd0.conf" || notok "ipipd (userspace) starts in H"
sd_run "cat >/etc/ipipd/Moe.conf <<'E'
# /etc/ipipd/Moe.conf: the home end of the classic HOWTO setup
[Tunnel]
Local = 192.0.2.42
Remote = 192.0.2.1

[Address]
Address = 203.0.113.5/32
Peer = 203.0.113.1

[Routing]
Table = Moe:42
E"

# The guest's network as ipipd may touch it, for before/after comparisons.
# tunl0 is left out: the kernel's fallback device, made when the ipip module
# is loaded (on ipipd's first kernel device), and kept with it.
# IPv4 only: the guest has IPv6 as Debian does, and link-local addresses
# come and go with links, ipipd or not.
GDUMP='
ip -o -d link show | sed -E "s/ (alias|altname) .*//" | grep -v ": tunl0@"
ip -4 -o addr show | grep -v " tunl0 "
ip rule show
ip -4 route show table all
grep -r . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/proxy_arp \
	/proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/forwarding | grep -v /tunl0/
nft list ruleset
ls -A /etc/iproute2/rt_tables.d 2>/dev/null
ls -A /run/ipipd 2>/dev/null'
sd_run "$GDUMP" >"$WORK/before"
stop_same() { # stop_same FILE: systemctl stop, then the guest's network is as before
	sd_run 'systemctl stop ipipd@Moe' && sd_run "$GDUMP" >"$1" && diff "$WORK/before" "$1"
}
dp_up() { # dp_up DATAPATH: started, and ipipctl shows that datapath, run by ipipd
	local j
	sd_run -t 120 'systemctl start ipipd@Moe && systemctl show -p ActiveState,SubState,StatusText ipipd@Moe' ||
		return 1
	j=$(sd_run 'ipipctl show --json Moe') || return 1
	$PY -c 'import json, sys
t = json.loads(sys.argv[1])[0]
print(t["datapath"], t["datapath_reason"], t["datapath_user"])
sys.exit(not (t["datapath"] == sys.argv[2] and t["datapath_user"] == "ipipd"))' "$j" "$1"
}

show() { sd_run 'systemctl show -p ActiveState,SubState,Result,StatusText,MainPID,NRestarts ipipd@Moe'; }
active_up() { # the unit is active/running and its status names the tunnel
	local s
	s=$(show) || return 1
	echo "$s"
	grep -qx ActiveState=active <<<"$s" && grep -qx SubState=running <<<"$s" &&
		grep -q '^StatusText=Tunnel Moe up: local 192.0.2.42, remote 192.0.2.1' <<<"$s"
}
ping_both() {
	nsx "$H" ping -c 2 -i 0.3 -W 3 203.0.113.5 && sd_run 'ping -c 2 -i 0.3 -W 3 203.0.113.1'
}

# Type=notify: systemctl returns once ipipd says READY=1, which it does only
# once the datapath carries packets: the first ping is sent right after.
check "guest: systemctl enable --now ipipd@Moe returns once the tunnel carries packets (a ping right after gets its answer)" sd_run -t 120 '
t0=$(date +%s%N)
systemctl enable --now ipipd@Moe || exit 1
echo "systemctl enable --now took $((($(date +%s%N) - t0) / 1000000)) ms"
ping -c 1 -W 3 203.0.113.1'
check "guest: systemctl show: active, running, StatusText names the tunnel" active_up
check "ping through the tunnel, both ways" ping_both
check "guest: ipipctl show Moe works" sd_run 'ipipctl show Moe'
OUT=$(sd_run 'ipipctl show --json Moe')
echo "$OUT" | head -c 600 | sed 's/^/#   /'; echo
juser=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])[0]["datapath_user"])' "$OUT" 2>/dev/null)
jdp=$($PY -c 'import json,sys; t = json.loads(sys.argv[1])[0]; print(t["datapath"], "(" + t["datapath_reason"] + ")")' \
	"$OUT" 2>/dev/null)
echo "# guest: Datapath = auto: the datapath is ${jdp:-?}"
if sd_run 'modinfo -n ipip' >/dev/null 2>&1; then
	check "guest: the kernel has the ipip module: Datapath = auto drives the kernel's device (ipipctl show --json: datapath kernel; ip link: type ipip)" \
		sd_run "[ '${jdp%% *}' = kernel ] && ip -d link show Moe | grep -q ' ipip '"
else
	check "guest: the kernel has no ipip module: Datapath = auto carries the packets itself (ipipctl show --json: not kernel)" \
		test -n "$jdp" -a "${jdp%% *}" != kernel
fi
check "guest: ipipctl show --json: datapath_user is ipipd" test "$juser" = ipipd
check "guest: the datapath process runs as ipipd, ipipd itself as root, and it is the unit's main process" sd_run '
j=$(ipipctl show --json Moe)
pid=$(echo "$j" | grep -o "\"pid\":[0-9]*" | cut -d: -f2)
dp=$(echo "$j" | grep -o "\"datapath_pid\":[0-9]*" | cut -d: -f2)
main=$(systemctl show -p MainPID --value ipipd@Moe)
ps -o pid,user,cmd -p "$pid,$dp"
[ "$(ps -o user= -p "$dp")" = ipipd ] && [ "$(ps -o user= -p "$pid")" = root ] && [ "$pid" = "$main" ]'
check "guest: journalctl -u ipipd@Moe has ipipd's own lines (tunnel Moe up)" sd_run '
journalctl -u ipipd@Moe --no-pager -o cat | tee /dev/stderr | grep -q "tunnel Moe up: local 192.0.2.42 remote 192.0.2.1"'
# A network manager that removes the rules it did not make: Debian's
# systemd-networkd (ManageForeignRoutingPolicyRules=, on by default) as it
# configures a link of its own (a dummy one here; the image masks it, as it
# brings the guest's network up by itself).  ipipd puts Moe's rule back.
check "guest: systemd-networkd, started, removes Moe's policy rule; ipipd puts it back and says so" sd_run -t 120 '
ip rule show | grep -q "from 203.0.113.5 lookup Moe" || exit 1
ip link add sdx0 type dummy && mkdir -p /etc/systemd/network &&
printf "[Match]\nName=sdx0\n[Network]\nAddress=198.51.100.77/32\n" >/etc/systemd/network/10-sdx0.network &&
systemctl unmask -q systemd-networkd.service systemd-networkd.socket && systemctl start systemd-networkd || exit 1
for i in $(seq 40); do journalctl -u ipipd@Moe --no-pager -o cat | grep -q "Moe: removed, not by ipipd, and put back: 1 rule" && break; sleep 0.5; done
journalctl -u ipipd@Moe --no-pager -o cat | grep "put back"; ip rule show
journalctl -u ipipd@Moe --no-pager -o cat | grep -q "Moe: removed, not by ipipd, and put back: 1 rule" &&
ip rule show | grep -q "from 203.0.113.5 lookup Moe"'
check "... and the tunnel carries pings, both ways" ping_both
sd_run 'systemctl stop systemd-networkd.service systemd-networkd.socket; systemctl mask -q systemd-networkd.service systemd-networkd.socket
ip link del sdx0; rm -f /etc/systemd/network/10-sdx0.network' >/dev/null 2>&1

# The sandbox of the unit as it is: its settings, and what they do to the process.
check "guest: the unit's sandbox is in force (NoNewPrivileges, ProtectSystem=strict, capability bounding set)" sd_run '
systemctl show -p NoNewPrivileges,ProtectSystem,ProtectHome,PrivateTmp,CapabilityBoundingSet,RestrictAddressFamilies ipipd@Moe
pid=$(systemctl show -p MainPID --value ipipd@Moe)
grep -E "^(NoNewPrivs|CapBnd|CapEff|Seccomp):" /proc/$pid/status
[ "$(systemctl show -p NoNewPrivileges --value ipipd@Moe)" = yes ] &&
[ "$(systemctl show -p ProtectSystem --value ipipd@Moe)" = strict ] &&
grep -q "^NoNewPrivs:[[:space:]]*1" /proc/$pid/status &&
! grep -q "^CapBnd:[[:space:]]*000001ffffffffff" /proc/$pid/status'
check "guest: in the unit's mount namespace /usr and /etc are read-only, /run/ipipd is writable, /home is empty" sd_run '
pid=$(systemctl show -p MainPID --value ipipd@Moe)
inside() { nsenter -t "$pid" -m -- "$@"; }
! inside touch /usr/sbin/.sdtest 2>/dev/null && ! inside touch /etc/.sdtest 2>/dev/null &&
inside touch /run/ipipd/.sdtest && inside rm /run/ipipd/.sdtest &&
[ -z "$(inside ls -A /home)" ]'
sd_run 'systemd-analyze security --no-pager ipipd@Moe' >"$WORK/security" 2>&1
grep -a 'Overall exposure level' "$WORK/security" | sed 's/^/# systemd-analyze security ipipd@Moe: /'
echo "#   not used: $(grep -a '^✗' "$WORK/security" | awk '{ print $2 }' | tr '\n' ' ')"
# The level measured once the unit was hardened (5.7 before): a sandboxing
# directive dropped or weakened raises it.
EXPOSURE_MAX=3.5
exposure=$(grep -a 'Overall exposure level' "$WORK/security" | grep -Eo ': [0-9]+\.[0-9]+' | tr -d ': ')
check "guest: systemd-analyze security ipipd@Moe: exposure ${exposure:-?}, at most $EXPOSURE_MAX" \
	awk -v e="${exposure:-99}" -v m="$EXPOSURE_MAX" 'BEGIN { exit !(e + 0 <= m + 0) }'

# systemctl reload (ExecReload: ipipctl reload): the file read again and the
# change applied by the same process, the tunnel kept; a file with an error is
# refused (FILE:LINE in the journal), and the tunnel stays as it was.
sd_run 'cp /etc/ipipd/Moe.conf /root/Moe.conf.orig'
# main_same SCRIPT: the guest runs SCRIPT; the unit is active with the MainPID it had before
main_same() {
	sd_run "main=\$(systemctl show -p MainPID --value ipipd@Moe)
$1
st=\$?
systemctl show -p ActiveState,SubState,MainPID,StatusText ipipd@Moe
[ \$st = 0 ] && [ \"\$(systemctl show -p ActiveState --value ipipd@Moe)\" = active ] &&
[ \"\$(systemctl show -p MainPID --value ipipd@Moe)\" = \"\$main\" ] && [ \"\$main\" != 0 ]"
}
# shows TTL MTU: ipipctl show --json and ip link (and, on the kernel's device, ip -d link) say so
shows() {
	local j
	j=$(sd_run 'ipipctl show --json Moe') || return 1
	$PY -c 'import json, sys
t = json.loads(sys.argv[1])[0]
print("ipipctl: ttl", t["ttl"], "mtu", t["mtu"])
sys.exit(not (str(t["ttl"]) == sys.argv[2] and str(t["mtu"]) == sys.argv[3]))' "$j" "$1" "$2" || return 1
	sd_run "ip -d link show Moe; ip link show Moe | grep -q ' mtu $2 ' &&
	{ [ '${jdp%% *}' != kernel ] || ip -d link show Moe | grep -q ' ttl $1 '; }"
}
sd_run "sed -i 's/^Remote = .*/&\nTTL = 33\nMTU = 1400/' /etc/ipipd/Moe.conf"
check "guest: TTL = 33, MTU = 1400 added, systemctl reload ipipd@Moe succeeds; still active, the same main process" \
	main_same 'systemctl reload ipipd@Moe'
check "guest: the reload applied: ipipctl show and ip link say TTL 33, MTU 1400" shows 33 1400
check "guest: the reload is in the journal" sd_run '
journalctl -u ipipd@Moe -o cat --no-pager | grep "Moe: reloaded /etc/ipipd/Moe.conf"'
check "ping through the tunnel, both ways, after the reload" ping_both
sd_run "sed -i 's/^TTL = 33\$/TTL 34/' /etc/ipipd/Moe.conf"
LINE=$(sd_run 'grep -n "^TTL 34$" /etc/ipipd/Moe.conf | cut -d: -f1')
check "guest: a syntax error on line ${LINE:-?} (TTL 34): systemctl reload ipipd@Moe fails; still active, the same main process" \
	main_same '! systemctl reload ipipd@Moe'
check "guest: the refused reload is in the journal with FILE:LINE (/etc/ipipd/Moe.conf:${LINE:-?}: syntax error)" sd_run "
for i in \$(seq 20); do
	journalctl -u ipipd@Moe -o cat --no-pager | grep -F '/etc/ipipd/Moe.conf:${LINE:-?}: syntax error' && exit 0
	sleep 0.5
done
journalctl -u ipipd@Moe -o cat --no-pager | tail -n 8; exit 1"
check "guest: after the refused reload the tunnel is as it was (TTL 33, MTU 1400)" shows 33 1400
check "ping through the tunnel, both ways, after the refused reload" ping_both
sd_run 'cp /root/Moe.conf.orig /etc/ipipd/Moe.conf'
check "guest: the file restored, systemctl reload ipipd@Moe succeeds; the same main process" \
	main_same 'systemctl reload ipipd@Moe'
check "guest: TTL and MTU back to the defaults (inherit, 1480)" shows inherit 1480
check "ping through the tunnel, both ways, after the file was restored" ping_both

check "guest: systemctl stop ipipd@Moe: inactive, the result success, 'tunnel Moe down' in the journal" sd_run '
systemctl stop ipipd@Moe || exit 1
systemctl show -p ActiveState,Result,ExecMainStatus ipipd@Moe
[ "$(systemctl show -p ActiveState --value ipipd@Moe)" = inactive ] &&
[ "$(systemctl show -p Result --value ipipd@Moe)" = success ] &&
journalctl -u ipipd@Moe --no-pager -o cat | grep -q "tunnel Moe down"'
check "guest: after systemctl stop the network is as before (links, addresses, rules, routes, sysctls, nft, table names)" \
	stop_same "$WORK/after"

check "guest: systemctl start ipipd@Moe again" sd_run -t 120 'systemctl start ipipd@Moe'
check "guest: active again, the status names the tunnel" active_up
check "ping through the tunnel, both ways, after the restart" ping_both

# A crash: systemd restarts ipipd (Restart=on-failure), which first undoes
# what the killed one left (its state file in /run/ipipd outlives the unit:
# RuntimeDirectoryPreserve=yes).
check "guest: after SIGKILL systemd restarts ipipd@Moe, which undoes the leftovers first" sd_run -t 120 '
old=$(systemctl show -p MainPID --value ipipd@Moe)
systemctl kill -s KILL ipipd@Moe
for i in $(seq 120); do
	[ "$(systemctl show -p SubState --value ipipd@Moe)" = running ] &&
		[ "$(systemctl show -p MainPID --value ipipd@Moe)" != "$old" ] && break
	sleep 0.5
done
systemctl show -p ActiveState,SubState,NRestarts ipipd@Moe
journalctl -u ipipd@Moe -o cat --no-pager | grep "left by an earlier ipipd" &&
[ "$(systemctl show -p SubState --value ipipd@Moe)" = running ] &&
[ "$(systemctl show -p NRestarts --value ipipd@Moe)" = 1 ]'
check "ping through the tunnel, both ways, after the crash" ping_both
# Its device removed by someone else: ipipd undoes the rest and exits 1, and
# systemd restarts it (Restart=on-failure), which sets the tunnel up anew.
check "guest: ip link del Moe: ipipd says so and exits 1, systemd restarts ipipd@Moe and the device is back" sd_run -t 120 '
old=$(systemctl show -p MainPID --value ipipd@Moe)
ip link del Moe
for i in $(seq 120); do
	[ "$(systemctl show -p SubState --value ipipd@Moe)" = running ] &&
		[ "$(systemctl show -p MainPID --value ipipd@Moe)" != "$old" ] && [ -e /sys/class/net/Moe ] && break
	sleep 0.5
done
systemctl show -p ActiveState,SubState,NRestarts ipipd@Moe
journalctl -u ipipd@Moe -o cat --no-pager | grep "Moe: the tunnel.s device was removed (not by ipipd): stopping" &&
[ "$(systemctl show -p SubState --value ipipd@Moe)" = running ] &&
[ "$(systemctl show -p NRestarts --value ipipd@Moe)" = 2 ] && [ -e /sys/class/net/Moe ]'
check "ping through the tunnel, both ways, after its device was removed" ping_both
check "guest: ipipctl down Moe: ipipd exits 0, the unit is inactive (result success), not restarted" sd_run -t 60 '
ipipctl down Moe || exit 1
sleep 3
systemctl show -p ActiveState,Result,NRestarts ipipd@Moe
[ "$(systemctl show -p ActiveState --value ipipd@Moe)" = inactive ] &&
[ "$(systemctl show -p Result --value ipipd@Moe)" = success ] &&
[ ! -e /sys/class/net/Moe ]'

# Every datapath under the same sandbox: the kernel's ipip device; ipipd's
# own: the TUN device (DeviceAllow), raw and packet sockets, the datapath
# process's user; the eBPF fast path (CAP_BPF, clsact filters on eth0).
for dp in kernel userspace ebpf; do
	sd_run "sed -i '/^Datapath = /d; s/^Remote = .*/&\nDatapath = $dp/' /etc/ipipd/Moe.conf"
	check "guest: Datapath = $dp: systemctl start ipipd@Moe, active, ipipctl says datapath $dp, user ipipd" \
		dp_up "$dp"
	check "ping through the tunnel, both ways (Datapath = $dp under the unit's sandbox)" ping_both
	check "guest: Datapath = $dp: systemctl stop, and the network is as before" \
		stop_same "$WORK/after-$dp"
done
sd_run "sed -i '/^Datapath = /d' /etc/ipipd/Moe.conf"

# Before the network: ipipd@Boot's Remote (198.51.100.1, H's second address)
# has no route in the guest yet.  Waiting is a state, not a failure: the unit
# stays activating (Type=notify, no start timeout) and says what it waits for;
# once the route is there the tunnel comes up and the unit is active.
ip -n "$H" addr add 198.51.100.1/32 dev sdtap
printf '[Tunnel]\nLocal = 198.51.100.1\nRemote = 192.0.2.42\nDatapath = userspace\n[Address]\nAddress = 203.0.113.17/32\nPeer = 203.0.113.18\n' \
	>"$WORK/sd1.conf"
start "$H" "$WORK/sd1.conf" || notok "ipipd (userspace) starts in H for ipipd@Boot"
sd_run "printf '[Tunnel]\nLocal = 192.0.2.42\nRemote = 198.51.100.1\n[Address]\nAddress = 203.0.113.18/32\nPeer = 203.0.113.17\n' >/etc/ipipd/Boot.conf"
# waits UNIT TEXT: systemctl start --no-block UNIT; it stays activating, not
# restarted, its StatusText beginning with TEXT
waits() {
	sd_run -t 60 "
systemctl start --no-block $1 || exit 1
for i in \$(seq 60); do
	case \$(systemctl show -p StatusText --value $1) in 'Waiting for'*) break ;; esac
	sleep 0.5
done
sleep 3	# past RestartSec: a failure would show
systemctl show -p ActiveState,SubState,StatusText,NRestarts $1
[ \"\$(systemctl show -p ActiveState --value $1)\" = activating ] &&
[ \"\$(systemctl show -p SubState --value $1)\" = start ] &&
[ \"\$(systemctl show -p NRestarts --value $1)\" = 0 ] &&
[[ \"\$(systemctl show -p StatusText --value $1)\" == '$2'* ]]"
}
check "guest: Remote without a route: systemctl start --no-block ipipd@Boot; activating, StatusText 'Waiting for a route to Remote 198.51.100.1'" \
	waits ipipd@Boot 'Waiting for a route to Remote 198.51.100.1'
check "guest: while it waits, ipipctl show Boot says what for" sd_run '
ipipctl show Boot | tee /dev/stderr | grep -q "waiting for a route to Remote 198.51.100.1"'
# comes_up UNIT SCRIPT TEXT: once the guest has run SCRIPT (what UNIT waits
# for), UNIT becomes active by itself, not restarted, its StatusText
# beginning with TEXT
comes_up() {
	sd_run -t 90 "
$2 || exit 1
for i in \$(seq 120); do
	[ \"\$(systemctl show -p ActiveState --value $1)\" = active ] && break
	sleep 0.5
done
systemctl show -p ActiveState,SubState,StatusText,NRestarts $1
[ \"\$(systemctl show -p ActiveState --value $1)\" = active ] &&
[ \"\$(systemctl show -p NRestarts --value $1)\" = 0 ] &&
[[ \"\$(systemctl show -p StatusText --value $1)\" == '$3'* ]]"
}
check "guest: the route added: ipipd@Boot becomes active by itself, its status names the tunnel, not restarted" \
	comes_up ipipd@Boot 'ip route add 198.51.100.1/32 via 192.0.2.1 dev eth0' \
	'Tunnel Boot up: local 192.0.2.42, remote 198.51.100.1'
ping_boot() {
	nsx "$H" ping -c 2 -i 0.3 -W 3 203.0.113.18 && sd_run 'ping -c 2 -i 0.3 -W 3 203.0.113.17'
}
check "ping through the tunnel that waited for its route, both ways" ping_boot
sd_run 'systemctl stop ipipd@Boot; ip route del 198.51.100.1/32; rm -f /etc/ipipd/Boot.conf'
nsx "$H" "$IPIPCTL" down sd1 >/dev/null
ip -n "$H" addr del 198.51.100.1/32 dev sdtap
sd_run "$GDUMP" >"$WORK/after-boot"
check "guest: ipipd@Boot stopped, the route deleted: the network is as before" \
	diff "$WORK/before" "$WORK/after-boot"

# Endpoints that follow (ipipd.conf(5)) under the unit's sandbox: Local =
# auto (the source address of the route to Remote, through rtnetlink) and
# Remote as a name (getaddrinfo in a thread of the privileged parent, whose
# system calls SystemCallFilter and ipipd's own filter allow; here the
# guest's /etc/hosts, read through ProtectSystem=strict's read-only /etc).
# ipipd@Dyn's Remote peer.test is H's 198.51.100.1, then 198.51.100.2 (an
# ipipd at each in turn, with the same inner addresses), reached through a
# route via 192.0.2.1: Local = auto is 192.0.2.42.
ip -n "$H" addr add 198.51.100.1/32 dev sdtap
ip -n "$H" addr add 198.51.100.2/32 dev sdtap
for n in 1 2; do
	printf '[Tunnel]\nLocal = 198.51.100.%s\nRemote = 192.0.2.42\nDatapath = userspace\n[Address]\nAddress = 203.0.113.33/32\nPeer = 203.0.113.34\n' \
		"$n" >"$WORK/sdfar$n.conf"
done
start "$H" "$WORK/sdfar1.conf" || notok "ipipd (userspace) starts in H at 198.51.100.1 for ipipd@Dyn"
sd_run "date +%s >/root/dyn.t0; cp /etc/hosts /root/hosts.orig
ip route add 198.51.100.0/24 via 192.0.2.1 dev eth0
echo '198.51.100.1 peer.test' >>/etc/hosts
printf '[Tunnel]\nLocal = auto\nRemote = peer.test\nResolveInterval = 2\n[Address]\nAddress = 203.0.113.34/32\nPeer = 203.0.113.33\n' >/etc/ipipd/Dyn.conf"
dyn_show() { sd_run 'systemctl show -p ActiveState,SubState,StatusText,MainPID,NRestarts ipipd@Dyn'; }
# dyn_json LOCAL REMOTE: ipipctl show --json Dyn says the tunnel is up between them
dyn_json() {
	local j
	j=$(sd_run 'ipipctl show --json Dyn') || return 1
	$PY -c 'import json, sys
t = json.loads(sys.argv[1])[0]
print("ipipctl: state", t["state"], "local", t["local"], "remote", t["remote"])
sys.exit(not (t["state"] == "up" and t["local"] == sys.argv[2] and t["remote"] == sys.argv[3]))' \
		"$j" "$1" "$2"
}
# dyn_up REMOTE: active, running, never restarted, the status names both ends
dyn_up() {
	local s
	s=$(dyn_show) || return 1
	echo "$s"
	grep -qx ActiveState=active <<<"$s" && grep -qx SubState=running <<<"$s" &&
		grep -qx NRestarts=0 <<<"$s" &&
		grep -q "^StatusText=Tunnel Dyn up: local 192.0.2.42 (auto), remote $1 (peer.test)" <<<"$s"
}
ping_dyn() {
	nsx "$H" ping -c 2 -i 0.3 -W 3 203.0.113.34 && sd_run 'ping -c 2 -i 0.3 -W 3 203.0.113.33'
}
check "guest: Local = auto, Remote = peer.test (/etc/hosts: 198.51.100.1): systemctl start ipipd@Dyn" \
	sd_run -t 120 'systemctl start ipipd@Dyn'
check "guest: ipipd@Dyn active, running, not restarted; its status: local 192.0.2.42 (auto), remote 198.51.100.1 (peer.test)" \
	dyn_up 198.51.100.1
check "guest: ipipctl show --json Dyn: up, local 192.0.2.42 (the route's source), remote 198.51.100.1 (the name's address)" \
	dyn_json 192.0.2.42 198.51.100.1
check "ping through the tunnel to a name, from Local = auto, both ways" ping_dyn

# The name moves (ResolveInterval = 2): the far end is now at 198.51.100.2.
nsx "$H" "$IPIPCTL" down sdfar1 >/dev/null
start "$H" "$WORK/sdfar2.conf" || notok "ipipd (userspace) starts in H at 198.51.100.2 for ipipd@Dyn"
check "guest: /etc/hosts says peer.test is 198.51.100.2: within 2 s + 3 s the running ipipd@Dyn (the same MainPID) follows" sd_run -t 60 '
main=$(systemctl show -p MainPID --value ipipd@Dyn)
t0=$(date +%s%N)
sed -i "s/^198\.51\.100\.1 peer\.test\$/198.51.100.2 peer.test/" /etc/hosts
for i in $(seq 50); do
	ipipctl show --json Dyn | grep -q "\"remote\":\"198\.51\.100\.2\"" && break
	sleep 0.2
done
echo "followed in $((($(date +%s%N) - t0) / 1000000)) ms"
ipipctl show Dyn
systemctl show -p ActiveState,MainPID,NRestarts ipipd@Dyn
ipipctl show --json Dyn | grep -q "\"remote\":\"198\.51\.100\.2\"" &&
[ $((($(date +%s%N) - t0) / 1000000)) -lt 5000 ] &&
[ "$(systemctl show -p MainPID --value ipipd@Dyn)" = "$main" ] && [ "$main" != 0 ] &&
[ "$(systemctl show -p NRestarts --value ipipd@Dyn)" = 0 ]'
check "guest: journalctl -u ipipd@Dyn: 'Remote peer.test now resolves to 198.51.100.2 (was 198.51.100.1)'" sd_run '
journalctl -u ipipd@Dyn -o cat --no-pager | tee /dev/stderr |
	grep -q "Dyn: Remote peer.test now resolves to 198.51.100.2 (was 198.51.100.1)"'
check "guest: ipipd@Dyn still active, not restarted; its status: remote 198.51.100.2 (peer.test)" \
	dyn_up 198.51.100.2
check "guest: ipipctl show --json Dyn: local 192.0.2.42, remote 198.51.100.2" \
	dyn_json 192.0.2.42 198.51.100.2
check "ping through the tunnel to the name's new address, both ways" ping_dyn
check "guest: no lookup of ipipd@Dyn failed, nothing refused by the sandbox (no 'cannot look it up', no SIGSYS, no seccomp record)" sd_run '
journalctl -u ipipd@Dyn -o cat --no-pager | grep -E "cannot look|SIGSYS|signal=SYS|Bad system call" && exit 1
journalctl -k --since @$(cat /root/dyn.t0) --no-pager | grep -E "type=1326.*ipipd" && exit 1
exit 0'

# A name that does not resolve at start is waited for (activating, "Waiting
# for Remote peer.test to resolve"), looked up every 5 s; once /etc/hosts
# gives it the tunnel comes up, and the unit is active.
sd_run 'systemctl stop ipipd@Dyn; sed -i "/ peer\.test\$/d" /etc/hosts'
check "guest: peer.test not in /etc/hosts: systemctl start --no-block ipipd@Dyn; activating, StatusText 'Waiting for Remote peer.test to resolve (...)', not restarted" \
	waits ipipd@Dyn 'Waiting for Remote peer.test to resolve ('
check "guest: while it waits, ipipctl show Dyn says what for" sd_run '
ipipctl show Dyn | tee /dev/stderr | grep -q "waiting for Remote peer.test to resolve"'
check "guest: /etc/hosts gives peer.test (198.51.100.2): ipipd@Dyn becomes active by itself, not restarted; its status: local 192.0.2.42 (auto), remote 198.51.100.2 (peer.test)" \
	comes_up ipipd@Dyn 'echo "198.51.100.2 peer.test" >>/etc/hosts' \
	'Tunnel Dyn up: local 192.0.2.42 (auto), remote 198.51.100.2 (peer.test)'
check "guest: ipipctl show --json Dyn: local 192.0.2.42, remote 198.51.100.2" \
	dyn_json 192.0.2.42 198.51.100.2
check "ping through the tunnel that waited for its name, both ways" ping_dyn

# Remote as a name through DNS (the C library's resolver, as the guest's
# /etc/resolv.conf says: an empty one there), answered by a nameserver in H
# (tests/pkt.py serve-dns) at an IPv4 address, then at an IPv6 one
# (2001:db8::1, the documentation prefix; IPv6 on sdtap and eth0 for this
# alone).  The second one's queries need AF_INET6 sockets: without it in
# RestrictAddressFamilies the lookup failed ("Name or service not known")
# although getent, outside the unit, resolved the name.
nsx "$H" sysctl -qw net.ipv6.conf.sdtap.disable_ipv6=0
ip -n "$H" addr add 2001:db8::1/64 dev sdtap nodad
bg "$H" $PY "$TOP/tests/pkt.py" serve-dns 192.0.2.1 dyn.test 198.51.100.2 >>"$WORK/dns.log" 2>&1
DNS4=$BG
bg "$H" $PY "$TOP/tests/pkt.py" serve-dns 2001:db8::1 dyn.test 198.51.100.2 >>"$WORK/dns.log" 2>&1
DNS6=$BG
sd_run "systemctl stop ipipd@Dyn; cp /etc/resolv.conf /root/resolv.conf.orig
ip -6 addr add 2001:db8::42/64 dev eth0 nodad
sed -i 's/^Remote = .*/Remote = dyn.test/' /etc/ipipd/Dyn.conf"
for ns in 192.0.2.1 2001:db8::1; do
	check "guest: Remote = dyn.test, from the nameserver $ns: getent resolves it; ipipd@Dyn starts with it, active, not restarted, its status says 198.51.100.2 (dyn.test)" \
		comes_up ipipd@Dyn "echo 'nameserver $ns' >/etc/resolv.conf
getent ahostsv4 dyn.test | grep '^198\.51\.100\.2 ' && systemctl start --no-block ipipd@Dyn" \
		'Tunnel Dyn up: local 192.0.2.42 (auto), remote 198.51.100.2 (dyn.test)'
	check "ping through the tunnel to a name from the nameserver $ns, both ways" ping_dyn
	sd_run 'systemctl stop ipipd@Dyn'
done
grep -c '^query dyn.test type 1 from ' "$WORK/dns.log" | sed 's/^/# queries for dyn.test the nameservers answered: /'
kill "$DNS4" "$DNS6" 2>/dev/null
wait "$DNS4" "$DNS6" 2>/dev/null
sd_run 'ip -6 addr del 2001:db8::42/64 dev eth0; cp /root/resolv.conf.orig /etc/resolv.conf'
ip -n "$H" addr del 2001:db8::1/64 dev sdtap
nsx "$H" sysctl -qw net.ipv6.conf.sdtap.disable_ipv6=1

sd_run 'ip route del 198.51.100.0/24; cp /root/hosts.orig /etc/hosts; rm -f /etc/ipipd/Dyn.conf'
nsx "$H" "$IPIPCTL" down sdfar2 >/dev/null
ip -n "$H" addr del 198.51.100.1/32 dev sdtap
ip -n "$H" addr del 198.51.100.2/32 dev sdtap
sd_run "$GDUMP" >"$WORK/after-dyn"
check "guest: ipipd@Dyn stopped, the route and the hosts entry gone: the network is as before" \
	diff "$WORK/before" "$WORK/after-dyn"

# A configuration error fails the start at once with exit status 78, which
# systemd does not restart (RestartPreventExitStatus=78); the journal names
# FILE:LINE.  An unknown key, a bad value (both found reading the file), a
# key the kernel's device cannot enforce with Datapath = kernel (found later).
bad_conf() { # bad_conf N LINES...: /etc/ipipd/Bad.conf, its error expected on line N
	local n=$1
	shift
	sd_run "printf '%s\n' $(printf "'%s' " "$@") >/etc/ipipd/Bad.conf"
	sd_run -t 60 "
t0=\$(date +%s)
! systemctl start ipipd@Bad || exit 1
sleep 4	# past RestartSec=2s: a restart would have begun
systemctl show -p ActiveState,Result,ExecMainStatus,NRestarts ipipd@Bad
journalctl -u ipipd@Bad --since @\$t0 -o cat --no-pager
st=0
[ \"\$(systemctl show -p ActiveState --value ipipd@Bad)\" = failed ] &&
[ \"\$(systemctl show -p ExecMainStatus --value ipipd@Bad)\" = 78 ] &&
[ \"\$(systemctl show -p NRestarts --value ipipd@Bad)\" = 0 ] &&
journalctl -u ipipd@Bad --since @\$t0 -o cat --no-pager | grep -q '^/etc/ipipd/Bad.conf:$n: ' || st=1
systemctl reset-failed ipipd@Bad
exit \$st"
}
check "guest: an unknown key: systemctl start ipipd@Bad fails, exit status 78, not restarted, Bad.conf:2 in the journal" \
	bad_conf 2 '[Tunnel]' 'Remtoe = 192.0.2.1' 'Local = 192.0.2.42' '[Address]' 'Address = 203.0.113.9/32'
check "guest: a bad value (TTL = 300): systemctl start ipipd@Bad fails, exit status 78, not restarted, Bad.conf:4 in the journal" \
	bad_conf 4 '[Tunnel]' 'Local = 192.0.2.42' 'Remote = 192.0.2.1' 'TTL = 300' '[Address]' 'Address = 203.0.113.9/32'
check "guest: Datapath = kernel with AllowedSources: systemctl start ipipd@Bad fails, exit status 78, not restarted, Bad.conf:5 in the journal" \
	bad_conf 5 '[Tunnel]' 'Local = 192.0.2.42' 'Remote = 192.0.2.1' 'Datapath = kernel' 'AllowedSources = 203.0.113.0/24' '[Address]' 'Address = 203.0.113.9/32'
sd_run 'rm -f /etc/ipipd/Bad.conf'
sd_run "$GDUMP" >"$WORK/after-bad"
check "guest: after the configuration errors the network is as before" diff "$WORK/before" "$WORK/after-bad"

# The enabled unit brings the tunnel back at boot by itself.
if sd_reboot; then
	ok "guest: systemctl reboot, and the guest boots again (in $SD_BOOT_SECONDS s)"
else
	notok "guest: systemctl reboot, and the guest boots again"
	finish; exit 1
fi
show | sed 's/^/# after the reboot: /'
sd_run 'journalctl -b -u ipipd@Moe --no-pager -o short-monotonic | head -n 30' | sed 's/^/#   /'
n=$(sd_run 'systemctl show -p NRestarts --value ipipd@Moe')
if [ "${n:-0}" != 0 ]; then
	echo "# note: at boot ipipd@Moe failed $n time(s) before it came up (see the journal above), and was restarted (Restart=on-failure)"
	# ipipd -f writes its log to stderr, which journald records at one priority.
	echo "# note: ipipd's own lines of this boot: $(sd_run 'journalctl -b -u ipipd@Moe -o cat | grep -c "^ipipd:"'), of them at priority warning or higher: $(sd_run 'journalctl -b -u ipipd@Moe -p warning -o cat | grep -c "^ipipd:"')"
fi
enabled_up() { sd_run 'systemctl is-enabled ipipd@Moe' && active_up; }
check "guest: after the reboot ipipd@Moe is enabled, active, running, and says so" enabled_up
check "ping through the tunnel, both ways, after the reboot" ping_both

check "guest: systemctl disable --now ipipd@Moe: disabled, inactive" sd_run -t 60 '
systemctl disable --now ipipd@Moe || exit 1
[ "$(systemctl is-enabled ipipd@Moe)" = disabled ] &&
[ "$(systemctl show -p ActiveState --value ipipd@Moe)" = inactive ]'
sd_run "$GDUMP" >"$WORK/after2"
check "guest: after disable --now the network is as before the first start" \
	diff "$WORK/before" "$WORK/after2"

# The Debian package (make deb, issue 15) on the same system, once make
# install's copy is gone: apt-get installs it offline (the image has its
# dependencies) and starts nothing; a tunnel runs from it as an administrator
# sets one up; apt-get purge, the tunnel still running, leaves nothing behind.
pkg_gone() { # the paths of the package are there only if they were before it was installed
	sd_run '
n=0
while read -r p; do
	[ -e "$p" ] || [ -L "$p" ] || continue
	grep -qxF -- "$p" /root/deb.existing || { echo "left: $p"; n=$((n + 1)); }
done </root/deb.paths
[ $n = 0 ]'
}
if [ -n "$DEB" ]; then
	check "guest: make install's copy removed (its files, the ipipd user, /etc/ipipd, /run/ipipd)" sd_run '
mount -o ro /dev/vdb /mnt || exit 1
cp /mnt/ipipd_*.deb /root/ || exit 1
(cd /mnt/root && find . ! -type d) | sed "s/^\.//" | xargs rm -f
(cd /mnt/root && find . -mindepth 1 -depth -type d) | sed "s/^\.//" | xargs rmdir --ignore-fail-on-non-empty
umount /mnt
userdel ipipd; ! getent group ipipd >/dev/null || groupdel ipipd
rm -rf /etc/ipipd /run/ipipd
systemctl daemon-reload
! command -v ipipd && ! getent passwd ipipd && ! systemctl cat ipipd@.service >/dev/null 2>&1 &&
[ -z "$(systemctl list-units --all --no-legend "ipipd*")" ]'
	sd_run "$GDUMP" >"$WORK/pkg.before"
	check "guest: apt-get install ./$(basename "$DEB") offline: installed, the ipipd user made, nothing started" sd_run -t 300 '
cd /root || exit 1
deb=$(ls ipipd_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e "s|^\.||" -e "s|/$||" | grep . >/root/deb.paths
while read -r p; do
	if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
done </root/deb.paths >/root/deb.existing
units() { systemctl list-units --state=active --no-legend --plain | awk "{ print \$1 }"; }
units >/root/units.before
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "./$deb" || exit 1
units >/root/units.after
dpkg -L ipipd >/root/ipipd.list
dpkg -s ipipd | grep "^Status:"; getent passwd ipipd; cat /root/ipipd.list
diff /root/units.before /root/units.after &&
dpkg -s ipipd | grep -qx "Status: install ok installed" &&
getent passwd ipipd >/dev/null &&
[ -x /usr/sbin/ipipd ] && [ -x /usr/sbin/ipipctl ] &&
grep -qx /lib/systemd/system/ipipd@.service /root/ipipd.list &&
grep -qx /etc/ipipd/examples/home-Moe.conf /root/ipipd.list &&
! pgrep -x ipipd && [ -z "$(systemctl list-units --all --no-legend "ipipd*")" ]'
	sd_run "mkdir -p /etc/ipipd && cp /root/Moe.conf.orig /etc/ipipd/Moe.conf"
	check "guest: from the package: systemctl enable --now ipipd@Moe, ipipd as the package installed it" sd_run -t 120 '
systemctl enable --now ipipd@Moe || exit 1
systemctl show -p ExecMainStartTimestamp,ExecStart ipipd@Moe | head -n 2
[ "$(readlink -f /proc/$(systemctl show -p MainPID --value ipipd@Moe)/exe)" = /usr/sbin/ipipd ] &&
dpkg -S /usr/sbin/ipipd'
	check "guest: from the package: active, running, the status names the tunnel" active_up
	check "ping through the tunnel, both ways (ipipd from the package)" ping_both
	check "guest: from the package: the datapath process runs as the package's ipipd user" sd_run '
j=$(ipipctl show --json Moe); echo "$j" | grep -o "\"datapath_user\":\"[a-z]*\""
echo "$j" | grep -q "\"datapath_user\":\"ipipd\""'
	check "guest: apt-get purge ipipd with ipipd@Moe running: purged, the tunnel stopped" sd_run -t 300 '
DEBIAN_FRONTEND=noninteractive apt-get purge -y ipipd || exit 1
! dpkg -s ipipd >/dev/null 2>&1 && ! pgrep -x ipipd && [ ! -e /sys/class/net/Moe ]'
	check "guest: after the purge no file or directory of the package is left (dpkg -L, dpkg-deb)" pkg_gone
	check "guest: after the purge no ipipd user or group, no /etc/ipipd, no /run/ipipd" sd_run '
getent passwd ipipd; getent group ipipd; ls -la /etc/ipipd /run/ipipd 2>/dev/null
! getent passwd ipipd && ! getent group ipipd && [ ! -e /etc/ipipd ] && [ ! -e /run/ipipd ]'
	check "guest: after the purge the unit is gone (no unit, no unit file, no enablement link)" sd_run '
systemctl list-units --all --no-legend "ipipd*"; systemctl list-unit-files --no-legend "ipipd*"
find /etc/systemd /lib/systemd /usr/lib/systemd -name "ipipd*"
[ -z "$(systemctl list-units --all --no-legend "ipipd*")" ] &&
[ -z "$(systemctl list-unit-files --no-legend "ipipd*")" ] &&
[ -z "$(find /etc/systemd /lib/systemd /usr/lib/systemd -name "ipipd*")" ]'
	sd_run "$GDUMP" >"$WORK/pkg.after"
	check "guest: after the purge the network is as before the package was installed" \
		diff "$WORK/pkg.before" "$WORK/pkg.after"
fi

sd_stop
finish

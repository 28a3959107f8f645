#!/bin/bash
# ipipd as a systemd service: `make install` into a Debian 12 guest whose PID 1
# is systemd (tests/systemd-guest/), then ipipd@Moe the way an administrator
# runs it, against ipipd here as the far end: enable --now (Type=notify: it
# returns once packets pass), status, ipipctl, journal, the unit's sandbox as
# it is, stop (the network as before), start, a crash (SIGKILL: restarted),
# ipipctl down (stays down), every datapath under the same sandbox, a reboot
# (the enabled unit comes back by itself), disable --now.
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
echo "# guest: Datapath = auto, Debian's kernel has ipip: the datapath is ${jdp:-?}"
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

sd_stop
finish

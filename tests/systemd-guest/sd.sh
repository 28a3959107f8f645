# A Debian 12 guest with systemd as PID 1, for tests of ipipd as a service (sourced, bash).
#
#   sd_prepare                      deps and the cached image (image.sh); sd_start
#                                   calls it if needed
#   sd_start NS TAP A/LEN [GW [MTU]]
#                                   boot the guest on a tap device in namespace NS
#                                   (created if missing, brought up; its address is
#                                   the caller's); eth0 gets A/LEN, default route via
#                                   GW (sd-net.service, ordered as ifupdown's
#                                   networking.service); returns once the command
#                                   channel answers and systemd has finished booting
#   sd_run [-t SECONDS] SCRIPT      run SCRIPT (bash, as root) in the guest: prints its
#                                   output, returns its status (124: no answer in time)
#   sd_reboot [-t SECONDS]          `systemctl reboot` in the guest; QEMU runs with
#                                   -no-reboot, so it exits; the same disk is booted
#                                   again, as sd_start does
#   sd_stop                         kill QEMU (by PID) and wait for it
#
# The guest's disk is a copy-on-write overlay (qcow2) on the cached image,
# made by the first sd_start and kept until the end: what the guest writes
# outlives sd_reboot, and the cached image is never written.
# QEMU is killed by PID on exit (an EXIT trap chained before the caller's) and,
# should the shell die without running traps, by the kernel (parent-death signal).
# Settings: SD_CACHE (image cache, image.sh), SD_BOOT_TIMEOUT (s, default 300),
# SD_WORK (scratch directory), SD_DATA (a directory: its files, as an ext4 image,
# become the guest's read-only /dev/vdb), SD_VNET_HDR (off by default: the host
# sees whole frames), SD_MEM (MiB, default 512), SD_SMP (default 2: systemd starts units in parallel).
# After each boot: SD_CONSOLE (the console log: kernel, systemd's status lines,
# getty), SD_BOOT_SECONDS (QEMU's start to the end of the boot, as the host saw
# it), SD_BOOT_COUNT.

SD_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SD_OWN_WORK=
if [ -z "${SD_WORK:-}" ]; then
	SD_WORK=$(mktemp -d /tmp/ipipd-sd.XXXXXX)
	SD_OWN_WORK=1
fi
SD_IMAGE=
SD_PID=
SD_SOCK=
SD_CONSOLE=
SD_BOOT_COUNT=0
SD_BOOT_SECONDS=
SD_ARGS=()

sd_log() { echo "# systemd-guest: $*" >&2; }

sd_prepare() {
	[ -n "$SD_IMAGE" ] && return 0
	sh "$SD_HOME/../../scripts/deps.sh" systemd-guest || return 1
	SD_IMAGE=$(bash "$SD_HOME/image.sh") || { SD_IMAGE=; return 1; }
	qemu-img create -q -f qcow2 -b "$SD_IMAGE/root.img" -F raw "$SD_WORK/disk.qcow2" || return 1
	if [ -n "${SD_DATA:-}" ]; then
		local mb
		mb=$(du -sm "$SD_DATA" | cut -f1)
		mkfs.ext4 -q -F -L sddata -d "$SD_DATA" "$SD_WORK/data.img" "$((mb + 16))M" >/dev/null ||
			return 1
	fi
}

# _sd_boot: start QEMU with SD_ARGS, wait for the channel and the end of the boot.
_sd_boot() {
	local ns=${SD_ARGS[0]} tap=${SD_ARGS[1]} ip=${SD_ARGS[2]} gw=${SD_ARGS[3]:-} mtu=${SD_ARGS[4]:-}
	local append tmo=${SD_BOOT_TIMEOUT:-300} t0 state
	SD_BOOT_COUNT=$((SD_BOOT_COUNT + 1))
	SD_SOCK=$SD_WORK/ctl.sock
	SD_CONSOLE=$SD_WORK/console.$SD_BOOT_COUNT.log
	rm -f "$SD_SOCK"
	ip -n "$ns" link show "$tap" >/dev/null 2>&1 || ip -n "$ns" tuntap add dev "$tap" mode tap || return 1
	ip -n "$ns" link set "$tap" up
	append="console=ttyS0 root=/dev/vda rw init=/lib/systemd/systemd panic=-1 loglevel=4"
	append="$append net.ifnames=0 systemd.show_status=yes mitigations=off tsc=reliable sd_ip=$ip"
	[ -n "$gw" ] && append="$append sd_gw=$gw"
	[ -n "$mtu" ] && append="$append sd_mtu=$mtu"
	t0=$SECONDS
	ip netns exec "$ns" setpriv --pdeathsig KILL \
		qemu-system-x86_64 -accel tcg -cpu max -smp "${SD_SMP:-2}" -m "${SD_MEM:-512}" \
		-nodefaults -no-user-config -display none -vga none -monitor none -no-reboot \
		-kernel "$SD_IMAGE/vmlinux" -initrd "$SD_IMAGE/initramfs.cpio" -append "$append" \
		-drive "file=$SD_WORK/disk.qcow2,format=qcow2,if=virtio,cache=unsafe" \
		${SD_DATA:+-drive "file=$SD_WORK/data.img,format=raw,if=virtio,readonly=on"} \
		-device virtio-rng-pci \
		-serial "file:$SD_CONSOLE" -serial "unix:$SD_SOCK,server=on,wait=off" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vnet_hdr=${SD_VNET_HDR:-off}" \
		-device "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:c0:00:12" \
		</dev/null >"$SD_WORK/qemu.log" 2>&1 &
	SD_PID=$!
	while [ $((SECONDS - t0)) -lt "$tmo" ]; do
		if ! kill -0 "$SD_PID" 2>/dev/null; then
			sd_log "QEMU exited during boot"; break
		fi
		grep -a '^SD-ERROR' "$SD_CONSOLE" >&2 2>/dev/null && break
		if grep -aq 'SD-READY' "$SD_CONSOLE" 2>/dev/null && [ -S "$SD_SOCK" ]; then
			# The channel runs once basic.target is reached: wait for the rest.
			state=$(sd_run -t $((tmo - (SECONDS - t0) + 5)) 'systemctl is-system-running --wait')
			SD_BOOT_SECONDS=$((SECONDS - t0))
			case $state in
			running) return 0 ;;
			degraded)
				sd_log "boot ended degraded; failed units:"
				sd_run 'systemctl --failed --no-legend' | sed 's/^/#   /' >&2
				return 0 ;;
			esac
			sd_log "system state after boot: ${state:-no answer}"
			break
		fi
		sleep 0.5
	done
	sd_log "guest not ready after $((SECONDS - t0)) s; console and QEMU output:"
	tail -n 40 "$SD_CONSOLE" "$SD_WORK/qemu.log" 2>/dev/null | sed 's/^/#   /' >&2
	sd_stop
	return 1
}

sd_start() {
	sd_prepare || return 1
	SD_ARGS=("$@")
	_sd_boot
}

sd_run() {
	local tmo=60
	if [ "${1:-}" = -t ]; then tmo=$2; shift 2; fi
	[ -n "$SD_PID" ] || { echo "sd_run: no guest running" >&2; return 126; }
	/usr/bin/python3 "$SD_HOME/../kernel-peer/vmrun.py" "$SD_SOCK" "$tmo" "$1"
}

# sd_reboot [-t SECONDS]: the guest's own reboot (systemd stops every unit),
# then the same disk booted again.  SECONDS bounds the shutdown (default 120).
sd_reboot() {
	local tmo=120 t0 p
	if [ "${1:-}" = -t ]; then tmo=$2; shift 2; fi
	[ -n "$SD_PID" ] || { echo "sd_reboot: no guest running" >&2; return 126; }
	t0=$SECONDS
	sd_run -t 20 'systemctl reboot' >/dev/null 2>&1
	p=$SD_PID
	while kill -0 "$p" 2>/dev/null && [ $((SECONDS - t0)) -lt "$tmo" ]; do sleep 0.5; done
	if kill -0 "$p" 2>/dev/null; then
		sd_log "the guest did not shut down in $tmo s; console:"
		tail -n 20 "$SD_CONSOLE" | sed 's/^/#   /' >&2
		sd_stop
		return 1
	fi
	wait "$p" 2>/dev/null
	SD_PID=
	_sd_boot || return 1
	sd_log "reboot: $((SECONDS - t0)) s in all, the boot $SD_BOOT_SECONDS s of it"
}

sd_stop() {
	local p=$SD_PID
	SD_PID=
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

_sd_exit() {
	sd_stop
	[ -n "$SD_OWN_WORK" ] && rm -rf "$SD_WORK"
}

# Chain our cleanup before whatever EXIT trap the caller set (lib.sh's cleanup).
eval "_sd_prev_exit=$(trap -p EXIT | sed -e 's/^trap -- //' -e 's/ EXIT$//')"
[ -n "${_sd_prev_exit:-}" ] || _sd_prev_exit=:
trap '_sd_exit; eval "$_sd_prev_exit"' EXIT
trap 'exit 130' INT TERM HUP

# A stock Debian kernel as the far end of a tunnel: a QEMU guest (sourced, bash).
#
#   kp_prepare                      deps, cached kernel + busybox, kpkt, initramfs
#                                   (vm_start calls it if needed)
#   vm_start NS TAP A/LEN [GW [MTU]]
#                                   boot the guest on a tap device in namespace NS
#                                   (created if missing, brought up; its address is
#                                   the caller's); eth0 gets A/LEN, default route
#                                   via GW; returns once the guest answers commands
#   vm_run [-t SECONDS] SCRIPT      run SCRIPT (sh) in the guest: prints its output,
#                                   returns its status (124: no answer in time)
#   vm_stop                         kill QEMU (by PID) and wait for it
#   KP_HOST_KPKT                    the packet helper built for the host side
#
# QEMU is killed by PID on exit (an EXIT trap chained before the caller's) and,
# should the shell die without running traps, by the kernel (parent-death signal).
# Settings: KP_CACHE (download cache), KP_BOOT_TIMEOUT (s, default 120),
# KP_ACCEL (tcg, kvm or auto: kvm only with kvm_intel/kvm_amd, else tcg),
# KP_VNET_HDR (off: the guest gets no checksum/TSO offload, the host sees whole
# frames as from a NIC; on: QEMU's default), KP_WORK (scratch directory),
# KP_TAP2 (a second tap device in NS for the guest's eth1; it may be moved to
# another namespace once the guest runs), KP_EXTRA_BINS (host programs copied
# into the guest's /bin with the shared libraries they need), KP_NO_IPIP=1
# (vm_start: a guest kernel without ipip, as on hosts that lack the module).
# The guest has /etc/passwd and /etc/group with root, nobody (65534) and the
# system user ipipd (999).

KP_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KP_OWN_WORK=
if [ -z "${KP_WORK:-}" ]; then
	KP_WORK=$(mktemp -d /tmp/ipipd-kp.XXXXXX)
	KP_OWN_WORK=1
fi
KP_READY=
VM_PID=
VM_SOCK=
VM_CONSOLE=
KP_HOST_KPKT=$KP_WORK/kpkt-host

kp_log() { echo "# kernel-peer: $*" >&2; }

kp_prepare() {
	[ -n "$KP_READY" ] && return 0
	sh "$KP_HOME/../../scripts/deps.sh" kernel-peer || return 1
	KP_KDIR=$(bash "$KP_HOME/fetch.sh") || return 1
	local root=$KP_WORK/initramfs
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/dev" "$root/lib/modules" || return 1
	gcc -static -O2 -Wall -o "$root/bin/kpkt" "$KP_HOME/kpkt.c" || return 1
	cp "$root/bin/kpkt" "$KP_HOST_KPKT"
	cp "$KP_KDIR/busybox" "$root/bin/busybox"
	cp "$KP_HOME/init" "$root/init"
	chmod 755 "$root/init" "$root/bin/busybox"
	cp "$KP_KDIR"/modules/*.ko "$root/lib/modules/"
	cp "$KP_KDIR/modules.load" "$root/lib/modules.load"
	# Host programs for the guest, with the shared libraries they load.
	local b l
	for b in ${KP_EXTRA_BINS:-}; do
		cp "$b" "$root/bin/" || return 1
		for l in $(ldd "$b" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$l")" && cp -L "$l" "$root$l" || return 1
		done
	done
	# Users for programs that drop privileges (getpwnam: glibc's files NSS is in libc).
	mkdir -p "$root/etc"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'ipipd:x:999:999:ipipd:/nonexistent:/usr/sbin/nologin' \
		'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'ipipd:x:999:' 'nogroup:x:65534:' >"$root/etc/group"
	mknod -m 600 "$root/dev/console" c 5 1
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$KP_WORK/initramfs.cpio" || return 1
	KP_READY=1
}

_kp_accel() {
	case ${KP_ACCEL:-auto} in
	tcg | kvm) echo "$KP_ACCEL" ;;
	*)
		# /dev/kvm may be a PVM hypervisor that hangs stock kernels: only real VT-x/AMD-V.
		if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } &&
			[ ! -d /sys/module/kvm_pvm ]; then echo kvm; else echo tcg; fi ;;
	esac
}

# _vm_boot NS TAP CMDLINE ACCEL TIMEOUT: start QEMU, wait for the guest's ready line.
#
# One vCPU online, but room for two (maxcpus=2): QEMU before 8.1 translates
# the guest's memory barriers to nothing under TCG when the machine can have
# only one vCPU, yet its I/O thread reads the virtqueues while the vCPU
# writes them.  The guest's store of a ring's avail index and its load of the
# device's avail_event then pass each other on the host, and a notification
# is lost: seen here as a guest whose NIC never transmits again (QEMU's
# last-avail-idx = avail_event, behind the avail.idx in guest memory; QEMU
# commit "tcg: Do not elide memory barriers for !CF_PARALLEL in system mode").
# With maxcpus > 1 and a thread per vCPU (thread=multi, said rather than
# left to QEMU's default) the translated code is made for parallel vCPUs and
# keeps its barriers.
_vm_boot() {
	local ns=$1 tap=$2 append=$3 accel=$4 tmo=$5 t0 cpu=max accelopt=$4
	[ "$accel" = kvm ] && cpu=host
	[ "$accel" = tcg ] && accelopt=tcg,thread=multi
	VM_SOCK=$KP_WORK/ctl.sock
	VM_CONSOLE=$KP_WORK/console.log
	rm -f "$VM_SOCK" "$VM_CONSOLE"
	ip netns exec "$ns" setpriv --pdeathsig KILL \
		qemu-system-x86_64 -accel "$accelopt" -cpu "$cpu" -smp 1,maxcpus=2 -m 256 \
		-nodefaults -no-user-config -display none -vga none -monitor none -no-reboot \
		-kernel "$KP_KDIR/vmlinux" -initrd "$KP_WORK/initramfs.cpio" -append "$append" \
		-serial "file:$VM_CONSOLE" -serial "unix:$VM_SOCK,server=on,wait=off" \
		-qmp "unix:$KP_WORK/qmp.sock,server=on,wait=off" \
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vnet_hdr=${KP_VNET_HDR:-off}" \
		-device "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:c0:00:02" \
		${KP_TAP2:+-netdev "tap,id=n1,ifname=$KP_TAP2,script=no,downscript=no,vnet_hdr=off"} \
		${KP_TAP2:+-device "virtio-net-pci,netdev=n1,romfile=,mac=52:54:00:c0:00:03"} \
		</dev/null >"$KP_WORK/qemu.log" 2>&1 &
	VM_PID=$!
	t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$tmo" ]; do
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			kp_log "QEMU exited during boot"; break
		fi
		if grep -q '^KP-READY' "$VM_CONSOLE" 2>/dev/null && [ -S "$VM_SOCK" ]; then
			grep '^KP-ERROR' "$VM_CONSOLE" >&2 && break
			vm_run -t 20 true && return 0
			break
		fi
		sleep 0.2
	done
	kp_log "guest not ready after $((SECONDS - t0)) s ($accel); console and QEMU output:"
	tail -n 30 "$VM_CONSOLE" "$KP_WORK/qemu.log" 2>/dev/null | sed 's/^/#   /' >&2
	vm_stop
	return 1
}

vm_start() {
	local ns=$1 tap=$2 ip=$3 gw=${4:-} mtu=${5:-} append accel tmo
	kp_prepare || return 1
	ip -n "$ns" link show "$tap" >/dev/null 2>&1 || ip -n "$ns" tuntap add dev "$tap" mode tap || return 1
	ip -n "$ns" link set "$tap" up
	append="console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off kp_ip=$ip"
	[ -n "$gw" ] && append="$append kp_gw=$gw"
	[ -n "$mtu" ] && append="$append kp_mtu=$mtu"
	[ "${KP_NO_IPIP:-}" = 1 ] && append="$append kp_noipip=1"
	accel=$(_kp_accel)
	tmo=${KP_BOOT_TIMEOUT:-120}
	if [ "$accel" = kvm ]; then
		_vm_boot "$ns" "$tap" "$append" kvm 30 && return 0
		kp_log "falling back to TCG"
	fi
	_vm_boot "$ns" "$tap" "$append" tcg "$tmo"
}

vm_run() {
	local tmo=60
	if [ "${1:-}" = -t ]; then tmo=$2; shift 2; fi
	[ -n "$VM_PID" ] || { echo "vm_run: no guest running" >&2; return 126; }
	/usr/bin/python3 "$KP_HOME/vmrun.py" --ack "$VM_SOCK" "$tmo" "$1"
}

vm_stop() {
	local p=$VM_PID
	VM_PID=
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

_kp_exit() {
	vm_stop
	[ -n "$KP_OWN_WORK" ] && rm -rf "$KP_WORK"
}

# Chain our cleanup before whatever EXIT trap the caller set (lib.sh's cleanup).
eval "_kp_prev_exit=$(trap -p EXIT | sed -e 's/^trap -- //' -e 's/ EXIT$//')"
[ -n "${_kp_prev_exit:-}" ] || _kp_prev_exit=:
trap '_kp_exit; eval "$_kp_prev_exit"' EXIT
trap 'exit 130' INT TERM HUP

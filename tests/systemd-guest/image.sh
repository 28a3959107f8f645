#!/bin/bash
# Build the systemd guest's disk image once, in a cache that outlives the clone
# ($SD_CACHE, default /var/cache/ipipd-systemd-guest), keyed by versions.
# Prints the prepared directory, which holds:
#   root.img        ext4 image of a minimal Debian 12 (debootstrap, minbase) with
#                   systemd as init, udev, iproute2, nftables, ping, procps, kmod,
#                   apt and adduser, ipipd's runtime libraries, the kernel's
#                   modules (pruned to what a virtual machine uses) and the test's
#                   command channel and network units (guest/)
#   initramfs.cpio  busybox and the modules that root= needs (virtio_blk, ext4):
#                   Debian's kernel has them as modules
#   vmlinux         the kernel (tests/kernel-peer/fetch.sh prepares it)
#   kver, ready     the kernel release; what the image was built from
# The key: the kernel package's version, the candidate versions (from this
# host's apt lists) of the packages asked for, debootstrap's version, and a
# checksum of this script and of guest/.  A new point release or a change here
# builds a new image; the images of other keys are left alone (another
# checkout may be using them) until unused for 30 days.  Nothing is installed
# on this host.
set -eu
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${SD_CACHE:-/var/cache/ipipd-systemd-guest}
SUITE=bookworm
# ipipd's runtime libraries (ldd build/ipipd) are named too, so that a package
# of ipipd installs offline (apt install ./ipipd_*.deb needs no download).
PACKAGES="systemd systemd-sysv udev kmod iproute2 nftables iputils-ping procps
	apt adduser libmnl0 libinih1 libnftables1 libseccomp2 libcap-ng0 libbpf1
	libsystemd0 libelf1 liburing2"
# Units a test guest does without: they would only slow the boot down (under
# TCG every process started costs seconds).  The root file system is mounted
# read-write by the initramfs (no remount); no module is listed for
# modules-load.d; getty-static starts gettys on tty2-6 where dbus is missing;
# no debugfs, tracefs, hugetlbfs, configfs or fuse.
MASK="systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service
	systemd-resolved.service systemd-timesyncd.service apt-daily.timer
	apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
	systemd-tmpfiles-clean.timer getty@tty1.service getty-static.service
	systemd-remount-fs.service systemd-modules-load.service
	modprobe@dm_mod.service modprobe@efi_pstore.service modprobe@loop.service
	modprobe@fuse.service modprobe@configfs.service sys-kernel-config.mount
	sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount
	sys-fs-fuse-connections.mount"

log() { echo "systemd-guest/image: $*" >&2; }
mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
flock 9

# Candidate versions (this host's apt lists) of the packages named: "P=V ...",
# in one apt-cache call; fails if one has none.
candidates() {
	apt-cache policy "$@" 2>/dev/null | awk '
		/^[^ ]/ { p = $1; sub(/:$/, "", p) }
		/^ *Candidate:/ { if ($2 != "(none)") v[p] = $2 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) {
			if (!(w[i] in v)) exit 1; printf "%s=%s ", w[i], v[w[i]] } }' want="$*"
}

# The newest ready FILE under the cache: used when the archive cannot be reached.
fallback() {
	local d
	d=$(ls -1dt "$ROOT"/debian12_*/ready 2>/dev/null | head -n 1) || true
	[ -n "$d" ] || { log "no image available (archive unreachable, cache empty)"; exit 1; }
	log "using the cached $(dirname "$d")"
	dirname "$d"
	exit 0
}

# The mirror apt uses for Debian's main archive (deb822 .sources or one-line
# .list), else Debian's own.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" '
			/^[ \t]*$/ { if (ok && uri != "") exit; ok = 0; uri = ""; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (ok && uri != "") print uri }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) break
			if ($(i + 1) == s) print $i }'
}
MIRROR=${SD_MIRROR:-$(mirror | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

KP_KDIR=$(bash "$HERE/../kernel-peer/fetch.sh") || fallback
kver=$(cat "$KP_KDIR/kver")
kpkg=linux-image-$kver
kv=$(awk '{ print $2 }' "$KP_KDIR/ready")
# shellcheck disable=SC2086
versions=$(candidates $PACKAGES) ||
	{ apt-get update -qq >/dev/null 2>&1 && versions=$(candidates $PACKAGES); } || fallback
dv=$(dpkg-query -W -f='${Version}' debootstrap)
# Two stages, each cached: the debootstrapped tree (slow: downloads and
# installs), keyed by the suite, the packages' versions and debootstrap's;
# the image made from it, keyed by the kernel too and by this script and guest/.
DEBOOTSTRAP="debootstrap --variant=minbase --components=main --merged-usr"
bkey=$(echo "$SUITE $DEBOOTSTRAP $dv $versions" | cksum | cut -d' ' -f1)
base=$ROOT/base/${SUITE}_$bkey.tar
sum=$(cat "$0" "$HERE"/guest/* | cksum | cut -d' ' -f1)
systemd_v=$(echo "$versions" | tr ' ' '\n' | sed -n 's/^systemd=//p')
dir=$ROOT/$(echo "debian12_${kver}_${kv}+systemd_${systemd_v}+b${bkey}+s${sum}" | tr ':/~' '___')
# What was not used for 30 days goes (its ready file or tar is touched at each use).
find "$ROOT" -maxdepth 2 \( -path "$ROOT/debian12_*/ready" -o -path "$ROOT/base/*.tar" \) \
	-mtime +30 -printf '%h %p\n' 2>/dev/null | while read -r d f; do
	case $f in */ready) rm -rf "$d" ;; *) rm -f "$f" ;; esac
done
if [ -f "$dir/ready" ]; then
	touch "$dir/ready" "$base" 2>/dev/null
	echo "$dir"
	exit 0
fi

t0=$SECONDS
tmp=$(mktemp -d "$ROOT/.tmp.XXXXXX")
rootfs=$tmp/rootfs
cleanup() {
	local m
	# whatever debootstrap or chroot left mounted, innermost first
	for m in $(awk -v r="$rootfs" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -f "$base" ]; then
	log "debootstrap $SUITE from $MIRROR (a few minutes)"
	mkdir -p "$ROOT/debs" "$ROOT/base"
	# shellcheck disable=SC2086
	if ! $DEBOOTSTRAP --include="$(echo $PACKAGES | tr ' ' ',')" --cache-dir="$ROOT/debs" \
		"$SUITE" "$rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		[ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
		log "debootstrap failed"
		fallback
	fi
	rm -rf "$rootfs/debootstrap"
	tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -cf "$tmp/base.tar" .
	mv "$tmp/base.tar" "$base"
	# the packages of other versions are not needed again
	find "$ROOT/debs" -name '*.deb' -mtime +30 -delete 2>/dev/null
	log "debootstrap done in $((SECONDS - t0)) s: $base"
else
	log "building $dir from $base"
	mkdir -p "$rootfs"
	tar -C "$rootfs" --numeric-owner --xattrs --xattrs-include='*' -xf "$base"
fi

# The system's identity and files.
echo sdguest >"$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsdguest\n' >"$rootfs/etc/hosts"
printf '/dev/vda\t/\text4\trw,noatime\t0\t0\n' >"$rootfs/etc/fstab"
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$rootfs/etc/apt/sources.list"
: >"$rootfs/etc/resolv.conf"
# A fixed machine ID: the journal of the boot before a reboot stays readable,
# and no first-boot setup runs.
echo 5d1e57ed0000400080000000000ab1e5 >"$rootfs/etc/machine-id"
# The test's units: command channel, static network.
install -d "$rootfs/usr/local/lib/sd-guest"
install -m 0755 "$HERE/guest/channel" "$HERE/guest/net" "$rootfs/usr/local/lib/sd-guest/"
install -m 0644 "$HERE/guest/sd-channel.service" "$HERE/guest/sd-net.service" \
	"$rootfs/etc/systemd/system/"
# shellcheck disable=SC2086
chroot "$rootfs" systemctl mask --quiet $MASK
chroot "$rootfs" systemctl enable --quiet sd-channel.service sd-net.service
chroot "$rootfs" systemctl set-default --quiet multi-user.target
# Generators of units for disks, encryption, hibernation and SysV scripts
# there are none of: each one run costs the boot a second or more.
mkdir -p "$rootfs/etc/systemd/system-generators"
for g in cryptsetup integritysetup veritysetup gpt-auto hibernate-resume sysv rc-local \
	run system-update debug; do
	ln -sf /dev/null "$rootfs/etc/systemd/system-generators/systemd-$g-generator"
done
# The journal on disk, so that it outlives a reboot.
mkdir -p "$rootfs/var/log/journal"

# The kernel's modules: the package has no modules.dep; sound, graphics,
# media, USB, InfiniBand, wireless and physical Ethernet drivers are left out.
log "kernel modules of $kpkg $kv"
(cd "$tmp" && apt-get download -qq "$kpkg=$kv" >/dev/null 2>"$tmp/apt.err") ||
	{ cat "$tmp/apt.err" >&2; fallback; }
dpkg-deb --fsys-tarfile "$tmp"/linux-image-*.deb |
	tar -x -C "$tmp" "./lib/modules/$kver" "./boot/config-$kver"
m=$tmp/lib/modules/$kver/kernel
rm -rf "$m/sound" "$m/drivers/gpu" "$m/drivers/media" "$m/drivers/usb" "$m/drivers/infiniband" \
	"$m/drivers/net/wireless" "$m/drivers/net/ethernet" "$m/drivers/staging" "$m/drivers/iio" \
	"$m/drivers/scsi" "$m/drivers/bluetooth" "$m/drivers/isdn" "$m/drivers/comedi" \
	"$m/drivers/hid" "$m/drivers/input" "$m/drivers/mtd" "$m/drivers/video" "$m/drivers/hwmon"
rm -f "$tmp"/lib/modules/"$kver"/build "$tmp"/lib/modules/"$kver"/source
mkdir -p "$rootfs/usr/lib/modules"
mv "$tmp/lib/modules/$kver" "$rootfs/usr/lib/modules/$kver"
cp "$tmp/boot/config-$kver" "$rootfs/boot/"
depmod -b "$rootfs" "$kver"

# The initramfs: busybox, and the modules for root= in load order.
ird=$tmp/initramfs
mkdir -p "$ird/bin" "$ird/lib/modules" "$ird/dev"
cp "$KP_KDIR/busybox" "$ird/bin/busybox"
install -m 0755 "$HERE/guest/initramfs-init" "$ird/init"
for mod in virtio_pci virtio_blk crc32c_generic ext4; do
	modprobe -d "$rootfs" -S "$kver" --show-depends "$mod" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' >"$tmp/paths"
while read -r p; do
	b=$(basename "$p")
	cp "$p" "$ird/lib/modules/$b"
	echo "$b"
done <"$tmp/paths" >"$ird/lib/modules.load"
mknod -m 600 "$ird/dev/console" c 5 1
mkdir -p "$tmp/out"
(cd "$ird" && find . | cpio -o -H newc --quiet) >"$tmp/out/initramfs.cpio"

# What the image does not need to carry.
rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
	"$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*

# The disk image: the file system's size is the tree's, plus room to work in.
mb=$(du -sm "$rootfs" | cut -f1)
mkfs.ext4 -q -F -L sdroot -d "$rootfs" "$tmp/out/root.img" "$((mb + mb / 2 + 512))M" >/dev/null
cp "$KP_KDIR/vmlinux" "$tmp/out/vmlinux"
echo "$kver" >"$tmp/out/kver"
{
	echo "$SUITE from $MIRROR ($DEBOOTSTRAP $dv), $kpkg $kv"
	chroot "$rootfs" dpkg-query -W -f='${Package} ${Version}\n'
} >"$tmp/out/ready"
rm -rf "$dir"
mv "$tmp/out" "$dir"
log "ready in $((SECONDS - t0)) s: $dir ($(du -sm --apparent-size "$dir/root.img" | cut -f1) MiB image, $mb MiB used)"
echo "$dir"

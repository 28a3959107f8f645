#!/bin/bash
# Prepare Debian's stock kernel and busybox for the guest, once, in a cache that
# outlives the clone ($KP_CACHE, default /var/cache/ipipd-kernel-peer), keyed by
# package versions.  Prints the prepared directory, which holds:
#   vmlinux         the uncompressed ELF kernel (QEMU boots it through PVH)
#   modules/*.ko    uncompressed modules for virtio_net, ipip, tun and TC BPF
#                   programs (clsact qdisc, bpf classifier), with dependencies
#   modules.load    their load order (file names, one a line): the guest's
#                   /init loads them at boot
#   modules.ondemand the load order of the modules a test loads itself once the
#                   guest runs (fou for UDP encapsulation, and what it needs
#                   beyond modules.load): fou needs ip_tunnel, which a guest
#                   booted with kp_noipip=1 must not have
#   busybox         busybox-static
#   kver            the kernel release (6.1.0-NN-amd64)
# Nothing is installed: the packages are fetched with `apt-get download` and unpacked.
set -eu
ROOT=${KP_CACHE:-/var/cache/ipipd-kernel-peer}
MODULES="virtio_pci virtio_net ipip tun sch_ingress cls_bpf"
# Unpacked into modules/ too, but not loaded at boot (modules.ondemand).
ONDEMAND="fou"
# The prepared directory is keyed by the module lists too: a directory made for
# other lists (another checkout may be using it) is left alone.
MODKEY=mods_$(echo "$MODULES${ONDEMAND:+ / $ONDEMAND}" | cksum | cut -d' ' -f1)
mkdir -p "$ROOT"
exec 9>"$ROOT/.lock"
flock 9

log() { echo "kernel-peer/fetch: $*" >&2; }

kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)'; }

# The newest directory prepared earlier for these modules (else for any):
# used when the archive cannot be reached.
fallback() {
	local d
	d=$(ls -1dt "$ROOT"/*+"$MODKEY"/ready 2>/dev/null | head -n 1) || true
	[ -n "$d" ] || d=$(ls -1dt "$ROOT"/*/ready 2>/dev/null | head -n 1) || true
	[ -n "$d" ] || { log "no kernel available (archive unreachable, cache empty)"; exit 1; }
	log "using the cached $(dirname "$d")"
	dirname "$d"
	exit 0
}

updated=
pkg=$(kernel_pkg)
if [ -z "$pkg" ]; then
	apt-get update -qq >/dev/null 2>&1 || fallback
	updated=1
	pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || fallback
kver=${pkg#linux-image-}
kv=$(candidate "$pkg") && bv=$(candidate busybox-static) || fallback
dir=$ROOT/$(echo "${kver}_${kv}+busybox_${bv}+$MODKEY" | tr ':/' '__')
if [ -f "$dir/ready" ]; then
	echo "$dir"
	exit 0
fi

log "preparing $pkg $kv and busybox-static $bv in $dir"
tmp=$(mktemp -d "$ROOT/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
download() {
	(cd "$tmp" && apt-get download -qq "$pkg" busybox-static >/dev/null 2>"$tmp/apt.err")
}
if ! download; then
	if [ -z "$updated" ]; then
		# The package lists are older than the archive: refresh and retry once.
		apt-get update -qq >/dev/null 2>&1 || fallback
		pkg=$(kernel_pkg)
		kver=${pkg#linux-image-}
		kv=$(candidate "$pkg") && bv=$(candidate busybox-static) || fallback
		dir=$ROOT/$(echo "${kver}_${kv}+busybox_${bv}+$MODKEY" | tr ':/' '__')
		[ -f "$dir/ready" ] && { echo "$dir"; exit 0; }
		download || { cat "$tmp/apt.err" >&2; fallback; }
	else
		cat "$tmp/apt.err" >&2
		fallback
	fi
fi

mkdir -p "$tmp/k" "$tmp/bb" "$tmp/out/modules"
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/k"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"
cp "$tmp/bb/bin/busybox" "$tmp/out/busybox"

# vmlinuz -> vmlinux: the payload is the first xz stream that unpacks to an ELF file.
vmlinuz=$tmp/k/boot/vmlinuz-$kver
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | cut -d: -f1); do
	tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$tmp/out/vmlinux" 2>/dev/null || true
	[ "$(head -c 4 "$tmp/out/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && break
	rm -f "$tmp/out/vmlinux"
done
[ -s "$tmp/out/vmlinux" ] || { log "no xz-compressed ELF payload in $vmlinuz"; exit 1; }

# The package ships no modules.dep: make one, then ask modprobe for the load order.
depmod -b "$tmp/k" "$kver"
show_depends() {
	local m
	for m in "$@"; do
		modprobe -d "$tmp/k" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++'
}
show_depends $MODULES >"$tmp/paths"
[ -s "$tmp/paths" ] || { log "modprobe found none of: $MODULES"; exit 1; }
# The on-demand modules and their dependencies, less those loaded at boot.
: >"$tmp/paths.ondemand"
if [ -n "$ONDEMAND" ]; then
	show_depends $ONDEMAND | grep -vxF -f "$tmp/paths" >"$tmp/paths.ondemand" || true
	for m in $ONDEMAND; do
		grep -q "/$m\.ko" "$tmp/paths.ondemand" || { log "modprobe did not find $m"; exit 1; }
	done
fi
unpack() { # unpack PATHS-FILE: uncompressed into out/modules/, print the file names
	local p b
	while read -r p; do
		b=$(basename "$p")
		case $b in
		*.ko) cp "$p" "$tmp/out/modules/$b" ;;
		*.ko.xz) b=${b%.xz}; xz -dc "$p" >"$tmp/out/modules/$b" ;;
		*) log "cannot unpack module $p (busybox insmod needs it uncompressed)"; exit 1 ;;
		esac
		echo "$b"
	done <"$1"
}
unpack "$tmp/paths" >"$tmp/out/modules.load"
unpack "$tmp/paths.ondemand" >"$tmp/out/modules.ondemand"
echo "$kver" >"$tmp/out/kver"
echo "$pkg $kv busybox-static $bv" >"$tmp/out/ready"

rm -rf "$dir"
mv "$tmp/out" "$dir"
log "ready: $(tr '\n' ' ' <"$dir/modules.load")(on demand: $(tr '\n' ' ' <"$dir/modules.ondemand"))"
echo "$dir"

#!/bin/sh
# Install the Debian packages the kernel-peer harness needs, if any are missing
# (same style as scripts/deps.sh). The guest kernel and busybox-static are not
# installed: fetch.sh downloads them with `apt-get download` into a cache.
#   qemu-system-x86  the emulator (TCG)
#   kmod             depmod and modprobe --show-depends for the guest's modules
#   cpio             packs the initramfs
#   xz-utils         unpacks the kernel's payload to an ELF vmlinux
#   gcc libc6-dev    the static helper program put into the guest
#   nftables         re-marks outer ECN on the path (the ECN cases)
#   util-linux       setpriv (QEMU dies with the test shell), flock (the cache)
#   python3 iproute2 iputils-ping procps  host-side tools the tests use
set -eu

want="qemu-system-x86 kmod cpio xz-utils gcc libc6-dev nftables util-linux python3 iproute2 iputils-ping procps"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "kernel-peer/deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "kernel-peer/deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# The one place that installs the Debian packages a make target needs, with
# apt-get, and only those that are missing.
# Usage: scripts/deps.sh [--list] build|check|demo|fuzz|kernel-peer|bench
#   --list: print the target's packages, one a line, and install nothing
#   (tests/run-all.sh checks its table of the commands the tests run against
#   the check list).
set -eu

build="gcc make pkg-config libmnl-dev libinih-dev libnftables-dev libseccomp-dev libcap-ng-dev libsystemd-dev iproute2 clang libbpf-dev bpftool"
run="iproute2 iputils-ping python3 procps nftables iptables traceroute"
# The kernel peer: qemu (TCG), kmod (depmod, modprobe --show-depends for the
# guest's modules), cpio (initramfs), xz-utils (the kernel's payload),
# libc6-dev (the static helper in the guest), util-linux (setpriv, flock).
# The guest kernel and busybox-static are fetched with `apt-get download`.
kernel_peer="qemu-system-x86 kmod cpio xz-utils gcc libc6-dev util-linux"
# What the tests run besides: cmocka (unit tests), tcpdump (captures), ethtool
# (the underlay's offloads in fastpath.sh), scapy (crafted and forged packets),
# prometheus (promtool checks ipipctl metrics).
tests="libcmocka-dev tcpdump ethtool python3-scapy prometheus"
bench="iperf3 fastd quicktun vtun tinc openvpn wireguard-go wireguard-tools util-linux ethtool"

list=
if [ "${1:-}" = --list ]; then list=1; shift; fi

case "${1:-build}" in
build) want="$build" ;;
check) want="$build $run $tests $kernel_peer" ;;
demo)  want="$build $run" ;;
fuzz)  want="$build clang libclang-rt-14-dev" ;;
kernel-peer) want="$run $kernel_peer" ;;
bench) want="$build $run $bench" ;;
*) echo "deps.sh: unknown target '$1'" >&2; exit 1 ;;
esac
if [ -n "$list" ]; then
	# shellcheck disable=SC2086
	printf '%s\n' $want | sort -u
	exit 0
fi

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Packaged services (the peers' daemons) must not start on this host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# The one place that installs the Debian packages a make target needs, with
# apt-get, and only those that dpkg-query does not report installed: where
# all are, it runs nothing else (make runs it once, for build/.deps).
# Without dpkg (not Debian), it looks for what each package provides (a
# command, a pkg-config module, a file) and names what is missing, with
# how it was looked for, for you to install; it installs nothing.
# Usage: scripts/deps.sh [--list] build|check|demo|fuzz|kernel-peer|systemd-guest|bench|deb
#   --list: print the target's packages, one a line, and install nothing
#   (tests/run-all.sh checks its table of the commands the tests run against
#   the check list).
# DEPS_DPKG_QUERY: the dpkg-query to use ("" or a missing command: as without dpkg).
set -eu

build="gcc make pkg-config libmnl-dev libinih-dev liburing-dev libnftables-dev libseccomp-dev libcap-ng-dev libsystemd-dev iproute2 clang libbpf-dev bpftool"
run="iproute2 iputils-ping python3 procps nftables iptables traceroute"
# The kernel peer: qemu (TCG), kmod (depmod, modprobe --show-depends for the
# guest's modules), cpio (initramfs), xz-utils (the kernel's payload),
# libc6-dev (the static helper in the guest), util-linux (setpriv, flock).
# The guest kernel and busybox-static are fetched with `apt-get download`.
kernel_peer="qemu-system-x86 kmod cpio xz-utils gcc libc6-dev util-linux"
# The systemd guest (tests/systemd-guest/): the kernel peer's kernel and
# busybox, a Debian 12 tree made by debootstrap, its ext4 image made by
# mkfs.ext4 -d (e2fsprogs), the guest's copy-on-write disk (qemu-img).
systemd_guest="$kernel_peer debootstrap e2fsprogs qemu-utils"
# What the tests run besides: cmocka (unit tests), tcpdump (captures), ethtool
# (the underlay's offloads in fastpath.sh), scapy (crafted and forged packets),
# prometheus (promtool checks ipipctl metrics), bird2 (routes from BGP into
# a hub: tests/integration/bird.sh).
tests="libcmocka-dev tcpdump ethtool python3-scapy prometheus mount bird2"
bench="iperf3 fastd quicktun vtun tinc openvpn wireguard-go wireguard-tools util-linux ethtool"
# The Debian package (make deb): debhelper builds it, lintian judges it
# (tests/integration/systemd.sh installs it in the systemd guest).
deb="debhelper dpkg-dev fakeroot lintian"

list=
if [ "${1:-}" = --list ]; then list=1; shift; fi

case "${1:-build}" in
build) want="$build" ;;
check) want="$build $run $tests $kernel_peer $systemd_guest $deb" ;;
demo)  want="$build $run" ;;
fuzz)  want="$build clang libclang-rt-14-dev" ;;
kernel-peer) want="$run $kernel_peer" ;;
systemd-guest) want="$run $systemd_guest" ;;
bench) want="$build $run $bench" ;;
deb)   want="$build $deb" ;;
*) echo "deps.sh: unknown target '$1'" >&2; exit 1 ;;
esac
if [ -n "$list" ]; then
	# shellcheck disable=SC2086
	printf '%s\n' $want | sort -u
	exit 0
fi

# What a package provides, for a system without dpkg: cmd:COMMAND,
# pc:PKG-CONFIG-MODULE:HEADER, file:PATH, py:MODULE (of /usr/bin/python3) or
# fuzzer (clang links -fsanitize=fuzzer).
provides() {
	case $1 in
	gcc) echo "cmd:cc" ;;
	make | pkg-config | clang | bpftool | cpio | tcpdump | ethtool | iptables | traceroute | \
	iperf3 | fastd | quicktun | openvpn | wireguard-go) echo "cmd:$1" ;;
	libmnl-dev) echo "pc:libmnl:libmnl/libmnl.h" ;;
	libinih-dev) echo "pc:inih:ini.h" ;;
	liburing-dev) echo "pc:liburing:liburing.h" ;;
	libnftables-dev) echo "pc:libnftables:nftables/libnftables.h" ;;
	libseccomp-dev) echo "pc:libseccomp:seccomp.h" ;;
	libcap-ng-dev) echo "pc:libcap-ng:cap-ng.h" ;;
	libbpf-dev) echo "pc:libbpf:bpf/libbpf.h" ;;
	libsystemd-dev) echo "pc:libsystemd:systemd/sd-daemon.h" ;;
	debhelper) echo "cmd:dh" ;;
	dpkg-dev) echo "cmd:dpkg-buildpackage" ;;
	libcmocka-dev) echo "pc:cmocka:cmocka.h" ;;
	libc6-dev) echo "file:/usr/include/stdio.h" ;;
	iproute2) echo "cmd:ip" ;;
	iputils-ping) echo "cmd:ping" ;;
	python3) echo "file:/usr/bin/python3" ;;
	python3-scapy) echo "py:scapy" ;;
	procps) echo "cmd:sysctl" ;;
	nftables) echo "cmd:nft" ;;
	qemu-system-x86) echo "cmd:qemu-system-x86_64" ;;
	qemu-utils) echo "cmd:qemu-img" ;;
	e2fsprogs) echo "cmd:mkfs.ext4" ;;
	kmod) echo "cmd:modprobe" ;;
	xz-utils) echo "cmd:xz" ;;
	util-linux) echo "cmd:setpriv" ;;
	vtun) echo "cmd:vtund" ;;
	bird2) echo "cmd:bird" ;;
	tinc) echo "cmd:tincd" ;;
	wireguard-tools) echo "cmd:wg" ;;
	libclang-rt-*-dev) echo "fuzzer" ;;
	*) echo "cmd:$1" ;;
	esac
}

# Is what package $1 provides here?  (Without dpkg.)
present() {
	what=$(provides "$1")
	case $what in
	cmd:*) command -v "${what#cmd:}" >/dev/null 2>&1 ;;
	file:*) [ -e "${what#file:}" ] ;;
	py:*) /usr/bin/python3 -c "import ${what#py:}" >/dev/null 2>&1 ;;
	pc:*)
		what=${what#pc:}
		if command -v pkg-config >/dev/null 2>&1; then
			pkg-config --exists "${what%%:*}"
		else
			[ -e "/usr/include/${what#*:}" ] || [ -e "/usr/local/include/${what#*:}" ]
		fi ;;
	fuzzer)
		command -v clang >/dev/null 2>&1 &&
			echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
			clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1 ;;
	esac
}

# How to say what is missing: the package, and what was looked for.
describe() {
	what=$(provides "$1")
	case $what in
	cmd:*) echo "$1 (the command ${what#cmd:})" ;;
	file:*) echo "$1 (the file ${what#file:})" ;;
	py:*) echo "$1 (the python3 module ${what#py:})" ;;
	pc:*) what=${what#pc:}; echo "$1 (pkg-config ${what%%:*}, <${what#*:}>)" ;;
	fuzzer) echo "$1 (clang's libFuzzer runtime: clang -fsanitize=fuzzer)" ;;
	esac
}

dpkg_query=${DEPS_DPKG_QUERY-dpkg-query}
if [ -z "$dpkg_query" ] || ! command -v "$dpkg_query" >/dev/null 2>&1; then
	missing=""
	for p in $want; do
		present "$p" || missing="$missing
  $(describe "$p")"
	done
	[ -z "$missing" ] && exit 0
	echo "deps.sh: no dpkg here, so nothing is installed; install these (Debian package names, with what was looked for) and run make again:$missing" >&2
	exit 1
fi

missing=""
for p in $want; do
	"$dpkg_query" -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
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

#!/bin/sh
# Install the Debian packages a make target needs, if any are missing.
# Usage: scripts/deps.sh build|check|demo|fuzz
set -eu

build="gcc make pkg-config libmnl-dev libinih-dev libnftables-dev iproute2"
run="iproute2 iputils-ping python3 procps nftables iptables traceroute"
case "${1:-build}" in
build) want="$build" ;;
check) want="$build $run libcmocka-dev clang libclang-rt-14-dev tcpdump python3" ;;
demo)  want="$build $run" ;;
fuzz)  want="$build clang libclang-rt-14-dev" ;;
*) echo "deps.sh: unknown target '$1'" >&2; exit 1 ;;
esac

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
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

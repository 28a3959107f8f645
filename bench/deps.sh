#!/bin/sh
# Install the Debian packages `make bench` needs, if any are missing.
set -eu

want="iperf3 fastd quicktun vtun tinc openvpn wireguard-go wireguard-tools \
iproute2 iputils-ping procps util-linux python3 gcc make pkg-config libmnl-dev libinih-dev"

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "bench/deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# Packaged services must not start on the host: the benchmark runs its own.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.bench && chmod +x /usr/sbin/policy-rc.d.bench
if [ ! -e /usr/sbin/policy-rc.d ]; then
	mv /usr/sbin/policy-rc.d.bench /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
else
	rm -f /usr/sbin/policy-rc.d.bench
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

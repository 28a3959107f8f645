#!/bin/sh
# Creates the system user ipipd's datapath process runs as, if it is missing
# (make install, without DESTDIR; a package does the same from its sysusers.d
# file).  Usage: scripts/adduser.sh SYSUSERS_FILE
set -eu
getent passwd ipipd >/dev/null && exit 0
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$1"
else
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --comment "ipipd datapath" ipipd
fi
getent passwd ipipd >/dev/null

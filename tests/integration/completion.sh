#!/bin/bash
# bash completion (completion/ipipctl, completion/ipipd): what each offers,
# sourced in a plain bash, for commands, options, configuration files and
# the tunnels of a network namespace (files in its runtime directory, and a
# real tunnel).
#
#   C: vc 192.0.2.1/24 -- D: vd 192.0.2.2/24
set -u
. "$(dirname "$0")/../lib.sh"

ns_new C cmC && ns_new D cmD || exit 1
veth_pair "$C" vc 192.0.2.1/24 "$D" vd 192.0.2.2/24 || exit 1
RUN=$(rundir "$C")
trap 'rm -rf "$RUN"; cleanup' EXIT

# offers NS FILE WORD...: what completing the last WORD of the command line
# WORD... offers in NS with FILE sourced, one a line, sorted; the function
# is the one FILE registers with `complete -F` for the command (WORD 1).
offers() {
	local ns=$1 file=$2
	shift 2
	(cd "$WORK/files" && ip netns exec "$ns" bash --norc --noprofile -c '
		. "$1"; shift
		fn=$(complete -p "$1" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
		[ -n "$fn" ] || { echo "no completion for $1"; exit 1; }
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$file" "$@")
}

# is WANTED NS FILE WORD...: the offer is exactly WANTED (words separated by '|').
is() {
	local want got
	want=$(tr '|' '\n' <<<"$1" | sed '/^$/d' | sort)
	shift
	got=$(offers "$@")
	echo "wanted: $(tr '\n' '|' <<<"$want")"
	echo "got:    $(tr '\n' '|' <<<"$got")"
	[ "$want" = "$got" ]
}

CTL=$TOP/completion/ipipctl
D8=$TOP/completion/ipipd
mkdir -p "$WORK/files/sub dir" "$WORK/files/etc"
touch "$WORK/files/Moe.conf" "$WORK/files/Larry.conf" "$WORK/files/notes.txt" \
	"$WORK/files/sub dir/Curly.conf"

check "ipipctl: the commands" is "show|down|reload|explain|check|cleanup|metrics|help" "$C" "$CTL" ipipctl ""
check "ipipctl: a command from its start" is "down" "$C" "$CTL" ipipctl d
check "ipipctl: ... where two begin alike" is "check|cleanup" "$C" "$CTL" ipipctl c
check "ipipctl: nothing after an unknown command" is "" "$C" "$CTL" ipipctl frob ""

# The tunnels of C as ipipctl finds them: the files in C's runtime directory.
(umask 077 && mkdir -p "$RUN")	# as ipipd makes it (it refuses another mode)
touch "$RUN/Moe.sock" "$RUN/Moe.lock" "$RUN/Moe.pid" "$RUN/Larry.sock" "$RUN/Larry.lock" \
	"$RUN/Shemp.state" "$RUN/Shemp.lock"
check "ipipctl show: --json and the running tunnels" is "--json|Larry|Moe" "$C" "$CTL" ipipctl show ""
check "ipipctl show --json: the running tunnels" is "Larry|Moe" "$C" "$CTL" ipipctl show --json ""
check "ipipctl show NAME: nothing more" is "" "$C" "$CTL" ipipctl show Moe ""
check "ipipctl down: a running tunnel from its start" is "Moe" "$C" "$CTL" ipipctl down M
check "ipipctl down NAME: nothing more" is "" "$C" "$CTL" ipipctl down Moe ""
check "ipipctl reload: a running tunnel" is "Larry|Moe" "$C" "$CTL" ipipctl reload ""
check "ipipctl metrics: --textfile and the running tunnels" is "--textfile|Larry|Moe" "$C" "$CTL" \
	ipipctl metrics ""
check "ipipctl metrics --textfile: a directory" is "etc|sub dir" "$C" "$CTL" ipipctl metrics --textfile ""
check "ipipctl metrics --textfile DIR: the running tunnels" is "Larry|Moe" "$C" "$CTL" \
	ipipctl metrics --textfile etc ""
check "ipipctl cleanup: the tunnels with a state or lock file" is "Larry|Moe|Shemp" "$C" "$CTL" \
	ipipctl cleanup ""
check "another namespace has tunnels of its own (none)" is "--json" "$D" "$CTL" ipipctl show ""
rm -f "$RUN"/*

# A real tunnel in C.
printf '[Tunnel]\nLocal = 192.0.2.1\nRemote = 192.0.2.2\nDatapath = userspace\n[Address]\nAddress = 198.51.100.1/32\nPeer = 198.51.100.2\n' \
	>"$WORK/cmpl1.conf"
if start "$C" "$WORK/cmpl1.conf"; then
	check "ipipctl down: the tunnel ipipd runs" is "cmpl1" "$C" "$CTL" ipipctl down ""
	check "... as ipipctl show --json names it" bash -c \
		"ip netns exec $C $IPIPCTL show --json | grep -q '\"name\":\"cmpl1\"'"
	nsx "$C" "$IPIPCTL" down cmpl1
	check "... and no tunnel once it is down" is "--json" "$C" "$CTL" ipipctl show ""
else
	notok "ipipd starts the tunnel cmpl1"; tail -5 "$WORK/ipipd.log" | sed 's/^/#   /'
fi

check "ipipctl explain: *.conf files and directories, not other files" is \
	"Larry.conf|Moe.conf|etc|sub dir" "$C" "$CTL" ipipctl explain ""
check "ipipctl explain: into a directory with a space in its name" is "sub dir/Curly.conf" \
	"$C" "$CTL" ipipctl explain "sub dir/"
check "ipipctl explain FILE: nothing more" is "" "$C" "$CTL" ipipctl explain Moe.conf ""
check "ipipctl check: *.conf files and directories" is "Larry.conf|Moe.conf|etc|sub dir" \
	"$C" "$CTL" ipipctl check ""
check "ipipctl check FILE: another of them" is "Larry.conf|Moe.conf|etc|sub dir" \
	"$C" "$CTL" ipipctl check Moe.conf ""

check "ipipd: the options" is "-f|-v|-n|-S|-u|-h" "$C" "$D8" ipipd -
check "ipipd: an option from its start" is "-n" "$C" "$D8" ipipd -n
check "ipipd -u: a user" is "root" "$C" "$D8" ipipd -u roo
check "ipipd: *.conf files and directories" is "Larry.conf|Moe.conf|etc|sub dir" "$C" "$D8" ipipd ""
check "ipipd -n: a file from its start" is "Larry.conf" "$C" "$D8" ipipd -n L
finish

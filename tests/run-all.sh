#!/bin/bash
# Runs every test and ends with "N passed, N failed" on its own line.
#   preflight (every command the tests run is installed),
#   unit tests (cmocka, ASan+UBSan), fuzz corpus replay (ASan+UBSan), the
#   differential replay of the eBPF programs against the C packet code,
#   every configuration the documents show (tests/doc-configs.py),
#   namespace integration tests against the ASan+UBSan daemon and the release one.
# Failures are: "not ok" lines, skipped tests ("ok ... # SKIP", cmocka's
# SKIPPED), a test program or suite that exits non-zero without a failed check
# to show for it (a sanitizer report at exit, an aborted suite), and a suite
# that runs past SUITE_TIMEOUT seconds (default 900).
set -u
cd "$(dirname "$0")/.."
B=build
PASS=0
FAIL=0
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}
LOGDIR=$(mktemp -d /tmp/ipipd-check.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT

count() { # count PASSED FAILED
	PASS=$((PASS + $1))
	FAIL=$((FAIL + $2))
}

section() { printf '\n== %s\n' "$*"; }

# Every command (or python3:MODULE) the tests run and the Debian package it comes from; each
# package must be in the check list of scripts/deps.sh (which `make check`
# runs first).  A command that is missing fails here, by name, instead of
# leaving a suite to test nothing.
NEEDS='
ip                  iproute2
tc                  iproute2
ping                iputils-ping
traceroute          traceroute
sysctl              procps
nft                 nftables
iptables            iptables
iptables-save       iptables
iptables-restore    iptables
tcpdump             tcpdump
ethtool             ethtool
/usr/bin/python3    python3
gcc                 gcc
clang               clang
bpftool             bpftool
setpriv             util-linux
dmesg               util-linux
flock               util-linux
unshare             util-linux
mount               mount
qemu-system-x86_64  qemu-system-x86
cpio                cpio
xz                  xz-utils
depmod              kmod
modprobe            kmod
promtool            prometheus
debootstrap         debootstrap
mkfs.ext4           e2fsprogs
qemu-img            qemu-utils
dpkg-buildpackage   dpkg-dev
dh                  debhelper
fakeroot            fakeroot
lintian             lintian
python3:scapy       python3-scapy
bird                bird2
birdc               bird2
'
section "preflight: the commands the tests run"
checklist=$(sh scripts/deps.sh --list check)
n=0 bad=0
while read -r cmd pkg; do
	[ -n "$cmd" ] || continue
	n=$((n + 1))
	if ! grep -qx -- "$pkg" <<<"$checklist"; then
		echo "not ok - preflight: package $pkg (for $cmd) is not in the check list of scripts/deps.sh"
		bad=$((bad + 1))
	fi
	if [[ $cmd == python3:* ]]; then	# a module of Debian's python3
		/usr/bin/python3 -c "import ${cmd#python3:}" 2>/dev/null && continue
		echo "not ok - preflight: python3 module ${cmd#python3:} is missing (Debian package $pkg; scripts/deps.sh check installs it)"
		bad=$((bad + 1))
	elif ! command -v "$cmd" >/dev/null 2>&1; then
		echo "not ok - preflight: command $cmd is missing (Debian package $pkg; scripts/deps.sh check installs it)"
		bad=$((bad + 1))
	fi
done <<<"$NEEDS"
if [ "$bad" -eq 0 ]; then
	echo "ok - preflight: all $n commands the tests run are installed, each from a package in the check list"
	count 1 0
else
	count 0 "$bad"
fi

for src in tests/unit/test_*.c; do
	t=$(basename "$src" .c)
	section "unit: $t"
	out=$("$B/$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '\[  (FAILED|ERROR|PASSED|SKIPPED) ' || true
	p=$(echo "$out" | grep -o '\[  PASSED  \] [0-9]*' | grep -o '[0-9]*$')
	f=$(echo "$out" | grep -o '\[  FAILED  \] [0-9]* test' | grep -o '[0-9]*' | head -1)
	s=$(echo "$out" | grep -o '\[  SKIPPED \] [0-9]* test' | grep -o '[0-9]*' | head -1)
	[ -z "$p$f" ] && f=1 && echo "$out" | tail -20
	count "${p:-0}" "${f:-0}"
	if [ "${s:-0}" -gt 0 ]; then
		echo "not ok - unit: $t skipped ${s} test(s): a skipped test counts as failed"
		count 0 "$s"
	fi
	# cmocka's exit status is the number of failed tests; anything else (a
	# sanitizer's report at exit, a crash after the summary) is a failure too.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne "${f:-0}" ]; then
		echo "not ok - unit: $t exited with status $rc after its tests (${f:-0} failed)"
		echo "$out" | grep -v -E '^\[ ' | tail -20 | sed 's/^/#   /'
		count 0 1
	fi
done

for f in $(ls tests/fuzz/corpus); do
	h=$f
	[ "$f" = encap ] && h=decap	# packets to encapsulate, in fuzz_decap.c's format
	section "fuzz corpus replay: $f"
	if "$B/replay/$h" "tests/fuzz/corpus/$f"; then echo "ok - replay $f"; count 1 0; else
		echo "not ok - replay $f"; count 0 1; fi
done

# The eBPF programs (BPF_PROG_TEST_RUN) and the C packet code on the same
# packets: a disagreement, or programs that cannot be loaded here, fail.
section "differential replay: eBPF fast path against the C packet code"
if "$B/replay/differential" tests/fuzz/corpus/decap tests/fuzz/corpus/encap; then
	echo "ok - differential replay of decap and encap: both datapaths agree"; count 1 0
else
	echo "not ok - differential replay of decap and encap: a disagreement, or the eBPF programs cannot be test-run here (see above)"
	count 0 1
fi

# README.md, the man pages and examples/: each configuration shown passes
# ipipd -n without a warning on a host that has what it names.
section "documentation: every configuration shown passes ipipd -n"
out=$(timeout 300 /usr/bin/python3 tests/doc-configs.py "$B/asan/ipipd" 2>&1)
rc=$?
echo "$out"
ok=$(grep -c '^ok ' <<<"$out")
notok=$(grep -c '^not ok ' <<<"$out")
count "$ok" "$notok"
if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
	echo "not ok - tests/doc-configs.py exited with status $rc without a failed check"
	count 0 1
elif [ "$ok" -eq 0 ] && [ "$notok" -eq 0 ]; then
	echo "not ok - tests/doc-configs.py checked no configuration"
	count 0 1
fi

# A suite runs under timeout, in a process group of its own: past the limit
# the whole group is signalled (the suite's EXIT trap ends its daemons and
# deletes its namespaces), SIGKILL follows 30 s later.  Ctrl-C or SIGTERM
# here is passed on the same way.
SUITE_PID=
trap 'if [ -n "$SUITE_PID" ]; then kill -TERM "$SUITE_PID" 2>/dev/null; wait "$SUITE_PID"; fi; exit 130' INT TERM
run_integration() { # run_integration LABEL IPIPD IPIPCTL SCRIPT...
	local label=$1 ipipd=$2 ipipctl=$3 s out rc ok skip notok name
	shift 3
	for s in "$@"; do
		name="integration ($label): $(basename "$s")"
		section "$name"
		IPIPD=$ipipd IPIPCTL=$ipipctl DATAPATH=${DATAPATH:-auto} \
			timeout -k 30 "$SUITE_TIMEOUT" bash "$s" </dev/null >"$LOGDIR/suite.out" 2>&1 &
		SUITE_PID=$!
		wait "$SUITE_PID"
		rc=$?
		SUITE_PID=
		out=$(cat "$LOGDIR/suite.out")
		echo "$out" | grep -E '^(ok|not ok|#)'
		ok=$(grep -c '^ok ' <<<"$out")
		skip=$(grep -c '^ok .*# *SKIP' <<<"$out")
		notok=$(grep -c '^not ok ' <<<"$out")
		count $((ok - skip)) "$notok"
		if [ "$skip" -gt 0 ]; then
			echo "not ok - $name: $skip check(s) skipped (a skipped check counts as failed)"
			count 0 "$skip"
		fi
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "not ok - $name ran past the time limit of $SUITE_TIMEOUT s (SUITE_TIMEOUT) and was ended: the checks after the last one shown were lost"
			echo "$out" | tail -5 | sed 's/^/#   /'
			count 0 1
		elif [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 1 ] && [ "$notok" -gt 0 ]; }; then
			# Status 1 with failed checks is the suites' `finish`; anything
			# else means the suite stopped early or crashed.
			echo "not ok - $name exited with status $rc after $ok ok and $notok not ok: the suite did not run to its end"
			echo "$out" | grep -v -E '^(ok|not ok|#)' | tail -20 | sed 's/^/#   /'
			count 0 1
		elif [ "$ok" -eq 0 ]; then
			echo "not ok - $name ran no test"; echo "$out" | tail -20 | sed 's/^/#   /'; count 0 1
		fi
	done
}

export ASAN_OPTIONS="log_path=$LOGDIR/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$LOGDIR/ubsan:print_stacktrace=1:halt_on_error=1"
# The suites about the packets run once with each datapath that carries them
# here (the eBPF fast path where this kernel lets ipipd load it); the others
# with Datapath = auto, the default.
BOTH="tunnel device conformance icmp-relay icmp-forged liveness hostile kernel-interop reload waiting dynamic nat routes fou nat-fou kernel-fou failover failover-hub"
others=()
for s in tests/integration/*.sh; do
	[[ " $BOTH " == *" $(basename "$s" .sh) "* ]] || others+=("$s")
done
both=()
for s in $BOTH; do both+=("tests/integration/$s.sh"); done
run_integration "ASan+UBSan" "$PWD/$B/asan/ipipd" "$PWD/$B/asan/ipipctl" "${others[@]}"
if bpftool prog show >/dev/null 2>&1; then
	DATAPATH=ebpf run_integration "ASan+UBSan, Datapath = ebpf" "$PWD/$B/asan/ipipd" \
		"$PWD/$B/asan/ipipctl" "${both[@]}"
else
	echo "not ok - this kernel does not let ipipd load BPF programs: the Datapath = ebpf runs of $BOTH are skipped (counts as failed)"
	count 0 1
fi
DATAPATH=userspace run_integration "ASan+UBSan, Datapath = userspace" "$PWD/$B/asan/ipipd" \
	"$PWD/$B/asan/ipipctl" "${both[@]}"
section "sanitizer reports from the daemon and ipipctl"
if ls "$LOGDIR"/asan* "$LOGDIR"/ubsan* >/dev/null 2>&1; then
	echo "not ok - sanitizer reports:"; cat "$LOGDIR"/asan* "$LOGDIR"/ubsan* | head -60; count 0 1
else
	echo "ok - no sanitizer reports"; count 1 0
fi
unset ASAN_OPTIONS UBSAN_OPTIONS
run_integration "release" "$PWD/$B/ipipd" "$PWD/$B/ipipctl" tests/integration/tunnel.sh

echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]

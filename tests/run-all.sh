#!/bin/bash
# Runs every test and ends with "N passed, N failed" on its own line.
#   unit tests (cmocka, ASan+UBSan), fuzz corpus replay (ASan+UBSan),
#   namespace integration tests against the ASan+UBSan daemon and the release one.
set -u
cd "$(dirname "$0")/.."
B=build
PASS=0
FAIL=0
LOGDIR=$(mktemp -d /tmp/ipipd-check.XXXXXX)
trap 'rm -rf "$LOGDIR"' EXIT

count() { # count PASSED FAILED
	PASS=$((PASS + $1))
	FAIL=$((FAIL + $2))
}

section() { printf '\n== %s\n' "$*"; }

for src in tests/unit/test_*.c; do
	t=$(basename "$src" .c)
	section "unit: $t"
	out=$("$B/$t" 2>&1)
	echo "$out" | grep -E '\[  (FAILED|ERROR|PASSED) ' || true
	p=$(echo "$out" | grep -o '\[  PASSED  \] [0-9]*' | grep -o '[0-9]*$')
	f=$(echo "$out" | grep -o '\[  FAILED  \] [0-9]* test' | grep -o '[0-9]*' | head -1)
	[ -z "$p$f" ] && f=1 && echo "$out" | tail -20
	count "${p:-0}" "${f:-0}"
done

for f in $(ls tests/fuzz/corpus); do
	section "fuzz corpus replay: $f"
	if "$B/replay/$f" "tests/fuzz/corpus/$f"; then echo "ok - replay $f"; count 1 0; else
		echo "not ok - replay $f"; count 0 1; fi
done

run_integration() { # run_integration LABEL IPIPD IPIPCTL SCRIPT...
	local label=$1 ipipd=$2 ipipctl=$3 s out
	shift 3
	for s in "$@"; do
		section "integration ($label): $(basename "$s")"
		out=$(IPIPD=$ipipd IPIPCTL=$ipipctl DATAPATH=${DATAPATH:-auto} bash "$s" 2>&1)
		echo "$out" | grep -E '^(ok|not ok|#)'
		count "$(grep -c '^ok ' <<<"$out")" "$(grep -c '^not ok ' <<<"$out")"
		if ! grep -q '^ok ' <<<"$out"; then
			echo "not ok - $s ran no test"; echo "$out" | tail -20; count 0 1
		fi
	done
}

export ASAN_OPTIONS="log_path=$LOGDIR/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$LOGDIR/ubsan:print_stacktrace=1:halt_on_error=1"
# The suites about the packets run once with each datapath that carries them
# here (the eBPF fast path where this kernel lets ipipd load it); the others
# with Datapath = auto, the default.
BOTH="tunnel conformance icmp-relay hostile kernel-interop"
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
	echo "# this kernel does not let ipipd load BPF programs: no Datapath = ebpf runs"
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

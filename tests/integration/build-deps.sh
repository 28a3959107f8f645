#!/bin/bash
# scripts/deps.sh: where every package is installed (make check has run it
# first) it runs no apt-get; without dpkg it names what is missing, with
# what it looked for, and exits 1 instead of trying to install anything.
set -u
. "$(dirname "$0")/../lib.sh"
DEPS=$TOP/scripts/deps.sh

# A PATH where apt-get, apt and pkg-config are ours: apt-get and apt only
# say they ran; pkg-config reports MISSING_PC as absent and asks the real
# one about anything else.
mkdir -p "$WORK/bin"
for c in apt-get apt; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/ran"\nexit 1\n' "$c" "$WORK" >"$WORK/bin/$c"
done
printf '#!/bin/sh\nfor a; do [ "$a" = "${MISSING_PC:-}" ] && exit 1; done\nexec %s "$@"\n' \
	"$(command -v pkg-config)" >"$WORK/bin/pkg-config"
chmod +x "$WORK/bin"/*
FAKE="PATH=$WORK/bin:$PATH"

for t in build check; do
	rm -f "$WORK/ran"
	check "deps.sh $t: everything installed, exit 0 without apt-get" bash -c \
		"env $FAKE sh '$DEPS' $t && [ ! -e '$WORK/ran' ] || { cat '$WORK/ran'; exit 1; }"
done
rm -f "$WORK/ran"

# Without dpkg.
check "no dpkg, everything here: exit 0 without apt-get" bash -c \
	"env $FAKE DEPS_DPKG_QUERY= sh '$DEPS' check && [ ! -e '$WORK/ran' ]"
out=$(env "$FAKE" DEPS_DPKG_QUERY=/nonexistent/dpkg-query MISSING_PC=libmnl sh "$DEPS" build 2>&1)
rc=$?
echo "$out" | sed 's/^/#   /'
check "no dpkg, libmnl missing: exit 1" test "$rc" -eq 1
check "... naming it with its pkg-config module and header" \
	grep -qF "libmnl-dev (pkg-config libmnl, <libmnl/libmnl.h>)" <<<"$out"
check "... and only it" bash -c '[ "$(grep -c "^  " <<<"$1")" -eq 1 ]' _ "$out"
check "... without trying apt-get" test ! -e "$WORK/ran"
out=$(env "$FAKE" DEPS_DPKG_QUERY= PATH="$WORK/bin:/nonexistent" /bin/sh "$DEPS" build 2>&1)
rc=$?
echo "$out" | sed 's/^/#   /'
check "no dpkg, no commands on PATH: exit 1 naming the commands (make, clang)" bash -c \
	'[ "$1" -eq 1 ] && grep -qF "make (the command make)" <<<"$2" && grep -qF "clang (the command clang)" <<<"$2"' \
	_ "$rc" "$out"
finish

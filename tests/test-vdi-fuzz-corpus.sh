#!/bin/bash
# The VDI fuzz target's committed seeds (tests/fuzz-corpus-vdi/) and the
# fixtures of fixtures/bad-vdi/, replayed through the target code linked
# with a plain main(): no crash, no failed invariant, no sanitizer report.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

prog=$top_builddir/tests/test-vdi-fuzz-replay
[[ -x $prog ]] || fail "$prog is not built (make check builds it)"
inputs=("$top_srcdir"/tests/fuzz-corpus-vdi/* "$top_srcdir"/fixtures/bad-vdi/*.vdi)
(( ${#inputs[@]} >= 20 )) || fail "only ${#inputs[@]} inputs"
"$prog" "${inputs[@]}" >"$tmp/out" 2>"$tmp/err" ||
  fail "replay failed: $(tail -n 20 "$tmp/err")"
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
  fail "sanitizer report: $(cat "$tmp/err")"
fi
assert_eq "$(grep -c '^ok ' "$tmp/out")" "${#inputs[@]}" "inputs replayed"
echo "PASS: $test_name"

#!/bin/bash
# Replay the committed VMDK fuzzing corpus (tests/fuzz-corpus-vmdk/) and
# every file of fixtures/bad-vmdk/ through test-vmdk-fuzz-replay, the
# fuzz target fuzz-vmdk.c built without libFuzzer: open, read every
# extent, close.  It aborts when an invariant fails (extents contiguous
# and making progress, zero extents reading as zeros); in the sanitizer
# build this keeps every input that ever failed a regression test.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

prog=$top_builddir/tests/test-vmdk-fuzz-replay
[[ -x $prog ]] || fail "$prog is not built (make check builds it)"
inputs=("$top_srcdir"/tests/fuzz-corpus-vmdk/* "$top_srcdir"/fixtures/bad-vmdk/*.vmdk)
(( ${#inputs[@]} >= 50 )) || fail "only ${#inputs[@]} inputs found"
if ! "$prog" "${inputs[@]}" >"$tmp/out" 2>"$tmp/err"; then
  passed=$(grep -c '^ok ' "$tmp/out" || true)
  fail "failed on ${inputs[passed]}: $(tail -n 40 "$tmp/err")"
fi
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
  fail "sanitizer report: $(cat "$tmp/err")"
fi
assert_eq "$(grep -c '^ok ' "$tmp/out")" "${#inputs[@]}" "inputs replayed"
echo "PASS: ${#inputs[@]} inputs replayed by $(basename "$prog")"

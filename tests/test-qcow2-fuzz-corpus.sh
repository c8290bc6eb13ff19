#!/bin/bash
# Replay the QCOW2 fuzzing corpus through the fuzz target built without
# libFuzzer (test-qcow2-fuzz-replay: fuzz-qcow2.c + fuzz-replay.c):
# tests/fuzz-corpus-qcow2/ (good images of other shapes, written by
# fixtures/make-bad-qcow2.py, plus whatever the fuzzer once found) and
# every image of fixtures/bad-qcow2/.  Each is probed, opened, read
# extent by extent and closed; the target aborts when an invariant
# fails, and in the sanitizer build any report fails the test.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

prog=$top_builddir/tests/test-qcow2-fuzz-replay
[[ -x $prog ]] || fail "$prog is not built (make check builds it)"
inputs=("$top_srcdir"/tests/fuzz-corpus-qcow2/* "$top_srcdir"/fixtures/bad-qcow2/*.qcow2)
(( ${#inputs[@]} >= 55 )) || fail "only ${#inputs[@]} inputs found"
if ! "$prog" "${inputs[@]}" >"$tmp/out" 2>"$tmp/err"; then
  passed=$(grep -c '^ok ' "$tmp/out" || true)
  fail "failed on ${inputs[passed]}: $(tail -n 40 "$tmp/err")"
fi
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
  fail "sanitizer report: $(cat "$tmp/err")"
fi
assert_eq "$(grep -c '^ok ' "$tmp/out")" "${#inputs[@]}" "inputs replayed"
echo "PASS: ${#inputs[@]} inputs replayed by $(basename "$prog")"

#!/bin/bash
# The committed corpora of the machine description fuzz targets
# (tests/fuzz-corpus-{vmc,vmx,ovf}/, plus what make fuzz-vmc etc. found
# worth keeping), replayed through the same target code linked with a
# plain main(): every input once crashed nothing and must go on doing so,
# in the sanitizer build too.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

for f in vmc vmx ovf; do
  prog=$top_builddir/tests/test-$f-fuzz-replay
  [[ -x $prog ]] || fail "$prog is not built (make check builds it)"
  inputs=("$top_srcdir"/tests/fuzz-corpus-$f/*)
  (( ${#inputs[@]} >= 1 )) || fail "no inputs in fuzz-corpus-$f"
  "$prog" "${inputs[@]}" >"$tmp/out" 2>"$tmp/err" ||
    fail "$prog failed: $(tail -n 20 "$tmp/err")"
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
    fail "sanitizer report: $(cat "$tmp/err")"
  fi
  assert_eq "$(grep -c '^ok ' "$tmp/out")" "${#inputs[@]}" "$f inputs replayed"
done
echo "PASS: $test_name"

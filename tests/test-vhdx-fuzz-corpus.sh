#!/bin/bash
# Replay the VHDX fuzzing seeds (tests/fuzz-corpus-vhdx/, in the compact
# form fuzz-vhdx.c describes) and every corrupt file of
# fixtures/bad-vhdx/ through the fuzz target built without libFuzzer
# (test-vhdx-fuzz-replay): open, read every extent, close.  The target
# aborts when an invariant fails; in the sanitizer build any report
# fails the test too.  An input that once failed under the fuzzer goes
# into the corpus and stays a regression test here.

# shellcheck source=tests/functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

replay_corpus test-vhdx-fuzz-replay 50 \
  "$top_srcdir"/tests/fuzz-corpus-vhdx/* "$top_srcdir"/fixtures/bad-vhdx/*.vhdx
prog=$top_builddir/tests/test-vhdx-fuzz-replay

# The seeds are valid disks, so the fuzzer starts deep in the reader:
# they open and read without a single message.
FUZZ_VHDX_VERBOSE=1 "$prog" "$top_srcdir"/tests/fuzz-corpus-vhdx/* \
  >/dev/null 2>"$tmp/err" || fail "replaying the seeds: $(cat "$tmp/err")"
[[ ! -s $tmp/err ]] || fail "a seed is refused: $(cat "$tmp/err")"
echo "PASS: $test_name"

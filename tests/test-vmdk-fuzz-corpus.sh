#!/bin/bash
# Replay the committed VMDK fuzzing corpus (tests/fuzz-corpus-vmdk/) and
# every file of fixtures/bad-vmdk/ through test-vmdk-fuzz-replay, the
# fuzz target fuzz-vmdk.c built without libFuzzer: open, read every
# extent, close.  It aborts when an invariant fails (extents contiguous
# and making progress, zero extents reading as zeros); in the sanitizer
# build this keeps every input that ever failed a regression test.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

replay_corpus test-vmdk-fuzz-replay 50 \
  "$top_srcdir"/tests/fuzz-corpus-vmdk/* "$top_srcdir"/fixtures/bad-vmdk/*.vmdk
echo "PASS: $test_name"

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

replay_corpus test-qcow2-fuzz-replay 55 \
  "$top_srcdir"/tests/fuzz-corpus-qcow2/* "$top_srcdir"/fixtures/bad-qcow2/*.qcow2
echo "PASS: $test_name"

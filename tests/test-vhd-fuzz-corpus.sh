#!/bin/bash
# Replay the committed fuzzing corpora through the fuzz targets built
# without libFuzzer (fuzz-replay.c):
#  - test-vhd-fuzz-replay: tests/fuzz-corpus-vhd/ (every fixtures/bad/
#    file plus good disks) and fixtures/bad/: open, read every extent,
#    check, close;
#  - test-vhd-fuzz-write-replay: tests/fuzz-corpus-vhd-write/: create,
#    write, reopen, compare with a model, check;
#  - test-vhd-fuzz-maint-replay: tests/fuzz-corpus-vhd-maint/ and the
#    reader's corpus: compact and expand in place, the content and the
#    soundness unchanged.
# In the sanitizer build (run-tests.sh) this keeps every input that ever
# failed under the fuzzer a regression test; in any build it asserts the
# targets' invariants (they abort when one fails).
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

# replay_corpus (functions.sh): all inputs pass, no sanitizer report.
replay_corpus test-vhd-fuzz-replay 60 \
  "$top_srcdir"/tests/fuzz-corpus-vhd/* "$top_srcdir"/fixtures/bad/*.vhd
replay_corpus test-vhd-fuzz-write-replay 5 "$top_srcdir"/tests/fuzz-corpus-vhd-write/*
replay_corpus test-vhd-fuzz-maint-replay 40 "$top_srcdir"/tests/fuzz-corpus-vhd-maint/* \
  "$top_srcdir"/tests/fuzz-corpus-vhd/*

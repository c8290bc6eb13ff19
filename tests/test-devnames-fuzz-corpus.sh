#!/bin/bash
# The device name rewriters' fuzz corpus (tests/fuzz-corpus-devnames/:
# the seeds, plus what make fuzz-devnames found worth keeping), replayed
# through the target code linked with a plain main(): no crash, no
# failed invariant, no sanitizer report.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

replay_corpus test-devnames-fuzz-replay 12 \
  "$top_srcdir"/tests/fuzz-corpus-devnames/*
echo "PASS: $test_name"

#!/bin/bash
# The VDI fuzz target's committed seeds (tests/fuzz-corpus-vdi/) and the
# fixtures of fixtures/bad-vdi/, replayed through the target code linked
# with a plain main(): no crash, no failed invariant, no sanitizer report.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

replay_corpus test-vdi-fuzz-replay 20 \
  "$top_srcdir"/tests/fuzz-corpus-vdi/* "$top_srcdir"/fixtures/bad-vdi/*.vdi
echo "PASS: $test_name"

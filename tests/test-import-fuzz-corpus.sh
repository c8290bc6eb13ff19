#!/bin/bash
# The committed corpora of the machine description fuzz targets
# (tests/fuzz-corpus-{vmc,vmx,ovf}/, plus what make fuzz-vmc etc. found
# worth keeping), replayed through the same target code linked with a
# plain main(): every input once crashed nothing and must go on doing so,
# in the sanitizer build too.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

for f in vmc vmx ovf; do
  replay_corpus test-$f-fuzz-replay 1 "$top_srcdir"/tests/fuzz-corpus-$f/*
done
echo "PASS: $test_name"

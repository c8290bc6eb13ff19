#!/bin/bash
# The initramfs fuzz target's committed seeds (tests/fuzz-corpus-initramfs/:
# early + gzip/xz/zstd/lzma/bzip2/lz4 main + tail images, and truncated,
# junk-ended, oversized and unterminated ones), replayed through the
# target code linked with a plain main(): no crash, no failed invariant,
# no sanitizer report.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

replay_corpus test-initramfs-fuzz-replay 16 \
  "$top_srcdir"/tests/fuzz-corpus-initramfs/*
echo "PASS: $test_name"

#!/bin/bash
# Build hvconvert and run the whole test suite, twice:
#   1. `make check` in the normal build (./setup.sh: build/, with
#      --enable-werror);
#   2. `make check` in a build with AddressSanitizer, LeakSanitizer and
#      UBSan (--enable-sanitizers) in build-asan/.
# Exits non-zero if anything fails, after printing the test logs.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

# make check in DIR (-k: a failure in one folder does not hide the
# others); on failure print the log of the failed tests.
check () {
  echo "run-tests.sh: make check in $1"
  # -j2: the tests run two at a time (most wait on a TCG guest, one
  # core each); the suite takes half the time.
  if make -k -j2 -C "$1" check; then
    return 0
  fi
  if [ -f "$1/tests/test-suite.log" ]; then
    cat "$1/tests/test-suite.log"
  fi
  echo "run-tests.sh: FAILED: make check in $1" >&2
  exit 1
}

./setup.sh
check build

echo "run-tests.sh: sanitizer build in build-asan/"
mkdir -p build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
if [ ! -f build-asan/config.status ]; then
  (cd build-asan && ../configure -q --enable-werror --enable-sanitizers)
fi
make -C build-asan -j2 -s
check build-asan

echo "run-tests.sh: all tests passed (normal and sanitizer builds)"

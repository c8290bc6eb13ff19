#!/bin/bash
# run-fuzz.sh NAME SEEDS [LIBFUZZER-OPTION...]: build the libFuzzer target
# tests/NAME.c from the vhd/ and common/ sources and run it, one job, for
# FUZZ_TIME seconds (default 600), seeded from tests/SEEDS/.  New inputs
# go to NAME-out/corpus/ (kept between runs), findings to NAME-out/; exits
# 1 if there are any.  Used by `make fuzz` and `make fuzz-write` in
# tests/, which set CLANG, top_srcdir, top_builddir and OPENSSL_LIBS.
# FUZZ_SOURCE names the source when it is not NAME.c, FUZZ_CFLAGS and
# FUZZ_LIBS add flags (the machine description targets: fuzz-machine.c
# with -DFUZZ_FORMAT=..., linked with libxml2, libarchive, zlib).
set -euo pipefail
name=$1 seeds=$2
shift 2
: "${CLANG:=clang}" "${FUZZ_TIME:=600}" "${OPENSSL_LIBS:=-lcrypto}"
top_srcdir=$(cd "${top_srcdir:-$(dirname "$0")/..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)
if [[ $CLANG == no ]] || ! command -v "$CLANG" >/dev/null; then
  echo "run-fuzz.sh: clang not found (apt-get install clang" \
       "libclang-rt-14-dev, then rerun configure)" >&2
  exit 1
fi

out=$top_builddir/tests/$name-out
mkdir -p "$out/corpus"
# shellcheck disable=SC2086 # OPENSSL_LIBS is a list of flags
"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -I"$top_builddir" \
  -I"$top_srcdir/common" -I"$top_srcdir/vhd" -I"$top_srcdir/importers" \
  ${FUZZ_CFLAGS:-} "$top_srcdir/tests/${FUZZ_SOURCE:-$name.c}" \
  "$top_srcdir"/vhd/*.c "$top_srcdir"/common/*.c ${FUZZ_IMPORTERS:-} \
  $OPENSSL_LIBS ${FUZZ_LIBS:-} -pthread -o "$out/$name"
echo "run-fuzz.sh: $name for $FUZZ_TIME s; log: $out/fuzz-0.log"
# Paths are absolute: the targets change directory while an input runs.
# With -jobs=1 libFuzzer prints the job's log (fuzz-0.log) at the end.
(cd "$out" && "./$name" -max_total_time="$FUZZ_TIME" -jobs=1 -timeout=10 \
   -artifact_prefix="$out/" "$@" "$out/corpus" "$top_srcdir/tests/$seeds") ||
  true
shopt -s nullglob
found=("$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*)
if (( ${#found[@]} > 0 )); then
  echo "run-fuzz.sh: findings: ${found[*]}" >&2
  exit 1
fi

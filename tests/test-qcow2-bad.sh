#!/bin/bash
# Every QCOW2 image in fixtures/bad-qcow2/ through `hvconvert disk`,
# detected and with --format qcow2, checked against the table in
# fixtures/bad-qcow2/README (see tests/bad-images.sh): good images
# convert to what qemu-img reads, bad ones fail naming the file and what
# is wrong, leaving nothing behind and never crashing.  Then the
# backing files named outside the image's directory, refused above with
# the code "unsafe", convert with --allow-outside-paths.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=bad-images.sh
source "$top_srcdir/tests/bad-images.sh"

QEMU_IO=${QEMU_IO:-qemu-io}
require "$QEMU_IO" qemu-utils

check_bad_images qcow2 50

bad=$(cd "$top_srcdir/fixtures/bad-qcow2" && pwd)

# The refusal carries the stable code "unsafe".
rc=0
"$HVCONVERT" --machine-readable disk "$bad/backing-dotdot.qcow2" \
  "$tmp/unsafe.vhd" >"$tmp/events" 2>/dev/null || rc=$?
assert_eq "$rc" 1 "exit status of an unsafe backing file"
assert_events "$tmp/events" '"unsafe" in [e["code"] for e in by("error")]' \
  "error code of an unsafe backing file"

# allowed SRC: converts with --allow-outside-paths, as qemu reads it.
allowed () {
  rm -f "$tmp/allowed.vhd"
  "$HVCONVERT" disk --allow-outside-paths "$1" "$tmp/allowed.vhd" \
    2>"$tmp/stderr" || fail "--allow-outside-paths $1: $(cat "$tmp/stderr")"
  assert_identical "$1" qcow2 "$tmp/allowed.vhd"
}
allowed "$bad/backing-dotdot.qcow2"

# An absolute backing path, refused, then allowed.
mkdir "$tmp/images" "$tmp/elsewhere"
cp "$bad/good-v3.qcow2" "$tmp/elsewhere/base.qcow2"
"$QEMU_IMG" create -q -f qcow2 -b "$tmp/elsewhere/base.qcow2" -F qcow2 \
  "$tmp/images/over.qcow2" 1M
"$QEMU_IO" -f qcow2 -c "write -P 0x42 4096 4096" "$tmp/images/over.qcow2" \
  >/dev/null
rc=0
"$HVCONVERT" disk "$tmp/images/over.qcow2" "$tmp/images/out.vhd" \
  2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status of an absolute backing path"
assert_grep "is outside the image's directory" "$tmp/stderr"
[[ ! -e $tmp/images/out.vhd ]] || fail "output left after a refusal"
allowed "$tmp/images/over.qcow2"

# A symbolic link in the image's directory that leads out is refused too.
ln -s "$tmp/elsewhere/base.qcow2" "$tmp/images/link.qcow2"
"$QEMU_IMG" create -q -f qcow2 -b link.qcow2 -F qcow2 \
  "$tmp/images/over-link.qcow2" 1M
rc=0
"$HVCONVERT" disk "$tmp/images/over-link.qcow2" "$tmp/images/out.vhd" \
  2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status of a backing link leading out"
assert_grep "is outside the image's directory" "$tmp/stderr"
allowed "$tmp/images/over-link.qcow2"

echo "PASS: $test_name"

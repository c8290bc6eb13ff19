#!/bin/bash
# hvconvert disk from a block device (manual P2V of a physical disk): a
# raw image attached read-only to a loop device is converted through
# /dev/loopN, sized by BLKGETSIZE64 and read as all data.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require losetup mount

size=$((48 * MiB + 7 * 512))
src=$tmp/src.img
make_image "$src" "$size" sparse
sum=$(sha256sum < "$src")

# Read-only: the device itself refuses writes, so a conversion that tried
# to write its source would fail here.
dev=$(losetup -r -f --show "$src") || fail "losetup could not attach $src"
on_exit losetup -d "$dev"
[[ -b $dev ]] || fail "$dev is not a block device"

for type in dynamic fixed; do
  "$HVCONVERT" -v disk --type "$type" "$dev" "$tmp/$type.vhd" \
    2>"$tmp/stderr" || fail "converting $dev: $(cat "$tmp/stderr")"
  assert_grep "raw, $size bytes, sector 512" "$tmp/stderr"
  assert_identical "$src" raw "$tmp/$type.vhd"
done
# A block device has no holes to report, but zero blocks are still found
# by reading and left unallocated.
assert_eq "$(vhd_data_bytes "$tmp/dynamic.vhd")" \
  "$(expected_data_bytes "$src" $((2 * MiB)))" "allocated data"

assert_eq "$(sha256sum < "$src")" "$sum" "checksum of the source"
echo "PASS: $test_name"

#!/bin/bash
# hvconvert disk: raw images to dynamic and fixed VHDs, checked against
# qemu-img (an independent reader): same content, exact virtual size,
# all-zero blocks left unallocated, zero areas of a fixed VHD left as
# holes, and the same output for the same input.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

# convert SRC DST [OPTIONS...]: must succeed and leave no temporary.
convert () {
  local src=$1 dst=$2
  shift 2
  rm -f "$dst"
  "$HVCONVERT" disk "$src" "$dst" "$@" 2>"$tmp/stderr" ||
    fail "hvconvert disk $src $dst $*: $(cat "$tmp/stderr")"
  assert_no_temporary "$tmp"
}

# A dynamic VHD allocates exactly the blocks that hold non-zero bytes.
check_dynamic () {
  local src=$1 vhd=$2 bs=$3
  assert_identical "$src" raw "$vhd"
  assert_eq "$(image_info "$vhd" virtual-size)" "$(file_size "$src")" \
    "qemu-img's virtual size of $vhd"
  assert_eq "$(vhd_data_bytes "$vhd")" "$(expected_data_bytes "$src" "$bs")" \
    "allocated data of $vhd"
  assert_eq "$(image_info "$vhd" cluster-size)" "$bs" "block size of $vhd"
  (( $(file_size "$vhd") < $(file_size "$src") / 4 )) ||
    fail "$vhd is $(file_size "$vhd") bytes: zero blocks were written"
}

# A fixed VHD is the data plus a footer; zeros stay holes in its file.
check_fixed () {
  local src=$1 vhd=$2 size
  size=$(file_size "$src")
  assert_identical "$src" raw "$vhd"
  assert_eq "$(file_size "$vhd")" $(( (size + 511) / 512 * 512 + 512 )) \
    "file size of fixed $vhd"
  cmp -n "$size" "$src" "$vhd" || fail "the data of fixed $vhd differs"
  (( $(allocated "$vhd") < size / 4 )) ||
    fail "$vhd occupies $(allocated "$vhd") bytes: zeros were written"
}

# Sizes that are and are not a multiple of the 2 MiB block.
for size in $((100 * MiB + 3 * 512)) $((64 * MiB)); do
  for mode in sparse dense; do
    src=$tmp/$mode-$size.img
    make_image "$src" "$size" "$mode"
    convert "$src" "$tmp/dyn.vhd"
    check_dynamic "$src" "$tmp/dyn.vhd" $((2 * MiB))
    convert "$src" "$tmp/fixed.vhd" --type fixed
    check_fixed "$src" "$tmp/fixed.vhd"
  done
done

# Deterministic: the same input gives the same layout, every block at
# the same file offset (the writes are issued in ascending order).
src=$tmp/dense-$((100 * MiB + 3 * 512)).img
convert "$src" "$tmp/dyn.vhd"
convert "$src" "$tmp/again.vhd"
assert_eq "$(file_size "$tmp/again.vhd")" "$(file_size "$tmp/dyn.vhd")" \
  "size of the second output"
cmp <("$QEMU_IMG" map --output=json -f vpc "$tmp/dyn.vhd") \
    <("$QEMU_IMG" map --output=json -f vpc "$tmp/again.vhd") ||
  fail "two conversions of the same input have different layouts"

# A smaller block size: zeros are found at that granularity too.
convert "$src" "$tmp/dyn512k.vhd" --block-size 512K
check_dynamic "$src" "$tmp/dyn512k.vhd" $((512 * 1024))
(( $(file_size "$tmp/dyn512k.vhd") < $(file_size "$tmp/dyn.vhd") )) ||
  fail "512K blocks did not allocate less than 2M blocks"

# --format raw forces raw even for a file that is a VHD: the VHD's own
# bytes become the disk (padded to a sector if needed).
convert "$tmp/fixed.vhd" "$tmp/raw-of-vhd.vhd" --format raw
assert_identical "$tmp/fixed.vhd" raw "$tmp/raw-of-vhd.vhd"

echo "PASS: $test_name"

#!/bin/bash
# hvconvert disk with a VHD as the source: detected by content (not by
# name), read through the vhd reader, its unallocated blocks skipped.
# Dynamic <-> fixed, and a VHD made by qemu-img, checked with qemu-img.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

size=$((40 * MiB + 5 * 512))
make_image "$tmp/src.img" "$size" sparse

# convert SRC DST [OPTIONS...] with -v, keeping the debug output.
convert () {
  local src=$1 dst=$2
  shift 2
  "$HVCONVERT" -v disk "$src" "$dst" "$@" 2>"$tmp/stderr" ||
    fail "hvconvert disk $src $dst $*: $(cat "$tmp/stderr")"
}

convert "$tmp/src.img" "$tmp/dyn.vhd"
# A VHD named like a raw image is still a VHD.
cp "$tmp/dyn.vhd" "$tmp/dyn-copy.img"
convert "$tmp/dyn-copy.img" "$tmp/fixed.vhd" --type fixed
assert_grep "opening as vhd (detected)" "$tmp/stderr"
assert_identical "$tmp/src.img" raw "$tmp/fixed.vhd"

convert "$tmp/fixed.vhd" "$tmp/dyn2.vhd"
assert_grep "opening as vhd (detected)" "$tmp/stderr"
assert_identical "$tmp/src.img" raw "$tmp/dyn2.vhd"
assert_eq "$(vhd_data_bytes "$tmp/dyn2.vhd")" \
  "$(expected_data_bytes "$tmp/src.img" $((2 * MiB)))" "allocated data"

# Reading a dynamic VHD reads only its allocated blocks.
"$HVCONVERT" --machine-readable disk "$tmp/dyn.vhd" "$tmp/dyn3.vhd" \
  >"$tmp/events" 2>"$tmp/stderr" || fail "$(cat "$tmp/stderr")"
assert_events "$tmp/events" "
  by('start')[0]['format'] == 'vhd' and
  by('done')[0]['bytes_read'] == $(vhd_data_bytes "$tmp/dyn.vhd")" \
  "only allocated blocks are read"

# A dynamic VHD written by qemu-img (creator "qemu": sized by CHS there,
# so give qemu a CHS-exact size and let it keep it).
"$QEMU_IMG" convert -f raw -O vpc -o subformat=dynamic,force_size=on \
  "$tmp/src.img" "$tmp/qemu.vhd"
convert "$tmp/qemu.vhd" "$tmp/from-qemu.vhd"
assert_grep "opening as vhd (detected)" "$tmp/stderr"
"$QEMU_IMG" compare -q -f vpc -F vpc "$tmp/qemu.vhd" "$tmp/from-qemu.vhd" ||
  fail "conversion of qemu's VHD differs"

echo "PASS: $test_name"

#!/bin/bash
# Every corrupt or hostile VMDK in fixtures/bad-vmdk/ through `hvconvert
# disk` (detected, then --format vmdk): the table in its README says
# which must fail with which message, which convert with a warning and
# which convert cleanly (checked against qemu-img).  See bad-images.sh.
# A few refusals are then checked beyond the table: the stable error
# codes, the loop message, and that --allow-outside-paths follows an
# extent named through "..".

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source=bad-images.sh
source "$top_srcdir/tests/bad-images.sh"

check_bad_images vmdk 45

bad=$(cd "$top_srcdir/fixtures/bad-vmdk" && pwd)

# expect_code FIXTURE CODE [OPTIONS...]: the conversion fails with an
# "error" event of that code.
expect_code () {
  local name=$1 code=$2
  shift 2
  rm -f "$tmp/code.vhd"
  if "$HVCONVERT" --machine-readable=3 disk "$@" "$bad/$name" \
       "$tmp/code.vhd" 3>"$tmp/events" 2>"$tmp/err"; then
    fail "$name converted, want an error '$code'"
  fi
  assert_events "$tmp/events" "by('error')[0]['code'] == '$code'" \
    "$name: error code"
}

expect_code cowd.vmdk unsupported
expect_code sesparse.vmdk unsupported
expect_code desc-rdm.vmdk unsupported
expect_code desc-vmfssparse.vmdk unsupported
expect_code desc-extent-dotdot.vmdk unsafe
expect_code desc-extent-absolute.vmdk unsafe
expect_code capacity-3tib.vmdk too-large
expect_code capacity-huge.vmdk too-large
expect_code gd-outside.vmdk format

# One crafted sparse file named three times: its 12 MiB grain directory
# (768 GiB in grains of one sector) fits the 32 MiB a disk may load
# twice, not three times.  Made here: the file is sparse, 13 MiB long.
python3 - "$tmp/gd.vmdk" <<'PY'
import struct, sys
h = bytearray(512)
h[0:4] = b"KDMV"
struct.pack_into("<IIQQQQIQQQB4sH", h, 4, 1, 1, 768 << 21, 1, 0, 0, 512,
                 0, 1, 1 << 15, 0, b"\n \r\n", 0)
with open(sys.argv[1], "wb") as f:
    f.write(h)
    f.truncate(13 << 20)
PY
{ printf '# Disk DescriptorFile\ncreateType="twoGbMaxExtentSparse"\n'
  for i in 1 2 3; do printf 'RW %d SPARSE "gd.vmdk"\n' $((768 << 21)); done
} >"$tmp/gd-thrice.vmdk"
rm -f "$tmp/gd.vhd"
"$HVCONVERT" --machine-readable=3 disk "$tmp/gd-thrice.vmdk" "$tmp/gd.vhd" \
  3>"$tmp/events" 2>"$tmp/err" && fail "gd-thrice.vmdk converted"
assert_grep "extent 'gd.vmdk': .*the grain directories of a disk may take" \
  "$tmp/err"
assert_events "$tmp/events" "by('error')[0]['code'] == 'too-large'" \
  "gd-thrice.vmdk: error code"

# A parent loop ends at the chain limit with a message that says so.
"$HVCONVERT" disk "$bad/loop-a.vmdk" "$tmp/loop.vhd" 2>"$tmp/err" &&
  fail "loop-a.vmdk converted"
assert_grep "parent chain deeper than 64 images (a loop?)" "$tmp/err"

# The extent named through ".." is followed when the user allows it.
"$HVCONVERT" disk --allow-outside-paths "$bad/desc-extent-dotdot.vmdk" \
  "$tmp/dotdot.vhd" 2>"$tmp/err" || fail "$(cat "$tmp/err")"
cp "$bad/extents/small-flat.raw" "$tmp/expect.raw"
"$QEMU_IMG" compare -q -f raw -F vpc "$tmp/expect.raw" "$tmp/dotdot.vhd" ||
  fail "desc-extent-dotdot.vmdk: wrong content with --allow-outside-paths"

echo "PASS: $test_name"

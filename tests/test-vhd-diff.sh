#!/bin/bash
# hvconvert vhd diff (alias compare): exit 0 for the same content, 4 for
# a difference, with its first offset, whatever the formats (raw, fixed,
# dynamic, a chain) and whichever side holds data or zeros; different
# sizes differ; unallocated ranges are not read (two 2040 GiB disks
# compare at once).

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# diff_is STATUS PATTERN A B [OPTIONS...]: vhd diff exits so, and its
# standard output matches PATTERN.
diff_is () {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$HVCONVERT" vhd diff "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" "$want" "exit status of vhd diff $* ($(cat "$tmp/err"))"
  assert_grep "$pattern" "$tmp/out"
}

size=$((8 * MiB))
d=$tmp/a.vhd raw=$tmp/a.raw
new_disk "$d" "$raw" "$size"
vwrite "$d" "$raw" $((MiB + 7)) 100000 1
"$HVCONVERT" vhd convert "$d" "$tmp/a-fixed.vhd" --type fixed 2>/dev/null

diff_is 0 "identical" "$raw" "$d"
diff_is 0 "identical" "$d" "$tmp/a-fixed.vhd"
diff_is 0 "identical" "$tmp/a-fixed.vhd" "$d"

# One byte changed in the data: found where it is.
cp "$raw" "$tmp/b.raw"
printf 'X' | dd of="$tmp/b.raw" bs=1 seek=$((MiB + 50000)) conv=notrunc \
  status=none
diff_is 4 "differ at offset $((MiB + 50000)) " "$d" "$tmp/b.raw"
diff_is 4 "differ at offset $((MiB + 50000)) " "$tmp/b.raw" "$d"

# Data where the other side has an unallocated block.
cp "$raw" "$tmp/c.raw"
printf 'Y' | dd of="$tmp/c.raw" bs=1 seek=$((6 * MiB + 3)) conv=notrunc \
  status=none
diff_is 4 "differ at offset $((6 * MiB + 3)) " "$d" "$tmp/c.raw"
diff_is 4 "differ at offset $((6 * MiB + 3)) " "$tmp/c.raw" "$d"

# Zeros written into an allocated block equal unallocated zeros.
vwrite "$d" "$raw" $((4 * MiB)) $((2 * MiB)) zero
diff_is 0 "identical" "$d" "$tmp/a-fixed.vhd"

# A chain against its flattened copy.
new_child "$tmp/child.vhd" "$tmp/child.raw" "$d" "$raw"
vwrite "$tmp/child.vhd" "$tmp/child.raw" 0 4096 2
diff_is 0 "identical" "$tmp/child.vhd" "$tmp/child.raw"
diff_is 4 "differ at offset 0 " "$tmp/child.vhd" "$d"

# Sizes.
cp "$raw" "$tmp/long.raw"
truncate -s $((size + 512)) "$tmp/long.raw"
diff_is 4 "differ in size: $size and $((size + 512)) bytes" "$d" \
  "$tmp/long.raw"

# The alias, --quiet, events.
diff_is 4 "differ at offset" "$d" "$tmp/b.raw"
"$HVCONVERT" vhd compare "$d" "$tmp/b.raw" >/dev/null && fail "compare: 0"
"$HVCONVERT" vhd diff --quiet "$d" "$raw" >"$tmp/out" || fail "--quiet: 0"
rc=0
"$HVCONVERT" vhd diff --quiet "$d" "$tmp/b.raw" >>"$tmp/out" || rc=$?
assert_eq "$rc" 4 "exit status with --quiet"
[[ ! -s $tmp/out ]] || fail "--quiet printed: $(cat "$tmp/out")"
rc=0
"$HVCONVERT" --machine-readable vhd diff "$d" "$tmp/b.raw" >"$tmp/events" ||
  rc=$?
assert_eq "$rc" 4 "exit status with --machine-readable"
assert_events "$tmp/events" "
  by('done')[0]['identical'] == False and
  by('done')[0]['offset'] == $((MiB + 50000))" "done event"

# Errors: a missing file, one operand.
rc=0
"$HVCONVERT" vhd diff "$d" "$tmp/missing.raw" 2>"$tmp/err" || rc=$?
assert_eq "$rc" 1 "exit status with a missing file"
rc=0
"$HVCONVERT" vhd diff "$d" 2>"$tmp/err" || rc=$?
assert_eq "$rc" 2 "exit status with one operand"

# Two empty 2040 GiB disks: only their extents are read.
"$HVCONVERT" vhd create "$tmp/big1.vhd" --size 2040G
"$HVCONVERT" vhd create "$tmp/big2.vhd" --size 2040G --block-size 512K \
  2>/dev/null
start=$(date +%s)
diff_is 0 "identical" "$tmp/big1.vhd" "$tmp/big2.vhd"
(( $(date +%s) - start < 20 )) || fail "comparing empty disks read them"

echo "PASS: $test_name"

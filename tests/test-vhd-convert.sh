#!/bin/bash
# hvconvert vhd convert: dynamic -> fixed -> dynamic, and a differencing
# chain flattened into a standalone fixed or dynamic disk, each compared
# with the expected content by qemu and by us; the source never changes;
# --type is required, OUT is kept unless --force, and a source that is
# not a VHD is refused.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# convert SRC RAW OUT TYPE [OPTIONS...]: convert, compare, check type,
# check SRC is unchanged and no temporary is left.
convert () {
  local src=$1 raw=$2 out=$3 type=$4 before
  shift 4
  before=$(sha256sum <"$src")
  "$HVCONVERT" vhd convert "$src" "$out" --type "$type" "$@" \
    2>"$tmp/err" || fail "vhd convert $src $out: $(cat "$tmp/err")"
  assert_reads "$raw" "$out" "vhd convert $src -> $out ($type)"
  assert_eq "$(info_field "$out" type)" "$type" "type of $out"
  assert_eq "$(sha256sum <"$src")" "$before" "$src unchanged"
  assert_no_temporary "$(dirname "$out")"
}

# refused STATUS PATTERN ARGS...
refused () {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$HVCONVERT" vhd convert "$@" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" "$want" "exit status of vhd convert $*"
  assert_grep "$pattern" "$tmp/err"
}

size=$((10 * MiB + 3 * 512))      # not a block multiple
d=$tmp/dyn.vhd raw=$tmp/dyn.raw
new_disk "$d" "$raw" "$size"
vwrite "$d" "$raw" 0 $((MiB + 100)) 1
vwrite "$d" "$raw" $((4 * MiB)) $((2 * MiB)) zero
vwrite "$d" "$raw" $((size - 1536)) 1536 2

convert "$d" "$raw" "$tmp/fixed.vhd" fixed
assert_eq "$(file_size "$tmp/fixed.vhd")" $((size + 512)) "fixed file size"
convert "$tmp/fixed.vhd" "$raw" "$tmp/dyn2.vhd" dynamic --block-size 512K \
  2>/dev/null
assert_eq "$(info_field "$tmp/dyn2.vhd" block_size)" $((512 * KiB)) \
  "block size"
# Only blocks with data are allocated (the written zeros are not).
assert_eq "$(vhd_data_bytes "$tmp/dyn2.vhd")" \
  "$(expected_data_bytes "$raw" $((512 * KiB)))" "allocated data"

# A chain: parent, child, grandchild; flattened either way.
p=$tmp/p.vhd c=$tmp/c.vhd gc=$tmp/gc.vhd
cp "$d" "$p"
new_child "$c" "$tmp/c.raw" "$p" "$raw"
vwrite "$c" "$tmp/c.raw" 4096 $((3 * MiB)) 3
new_child "$gc" "$tmp/gc.raw" "$c" "$tmp/c.raw"
vwrite "$gc" "$tmp/gc.raw" $((5 * MiB + 512)) 1024 4
vwrite "$gc" "$tmp/gc.raw" 0 512 zero
convert "$gc" "$tmp/gc.raw" "$tmp/flat-fixed.vhd" fixed
convert "$gc" "$tmp/gc.raw" "$tmp/flat-dyn.vhd" dynamic

# Refusals and usage errors.
refused 2 "--type is required" "$d" "$tmp/x.vhd"
refused 2 "dynamic VHDs only" "$d" "$tmp/x.vhd" --type fixed --block-size 2M
refused 2 "expected FILE and OUT" "$d" --type fixed
refused 1 "already exists" "$d" "$tmp/fixed.vhd" --type fixed
truncate -s 1M "$tmp/raw.img"
refused 1 "not a VHD" "$tmp/raw.img" "$tmp/x.vhd" --type fixed
[[ ! -e $tmp/x.vhd ]] || fail "output left after a failure"
convert "$d" "$raw" "$tmp/fixed.vhd" dynamic --force

echo "PASS: $test_name"

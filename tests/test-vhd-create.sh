#!/bin/bash
# hvconvert vhd create: sizes (default, limits, refusals with their exit
# codes), existing files, --force, and what vhd info reports.
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require python3

# refused EXIT-CODE PATTERN ARGS...: vhd create fails as expected and
# leaves neither the file nor a temporary.
refused () {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$HVCONVERT" vhd create "$@" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" "$want" "exit code of vhd create $*"
  assert_grep "$pattern" "$tmp/err"
  assert_no_temporary "$tmp"
}

# json_field FILE KEY: a field of vhd info --json.
json_field () {
  "$HVCONVERT" vhd info --json "$1" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

# No size: Hyper-V's default of 127 GiB, as a dynamic disk.
"$HVCONVERT" vhd create "$tmp/default.vhd"
assert_eq "$(json_field "$tmp/default.vhd" virtual_size)" $((127 << 30)) \
  "default size"
assert_eq "$(json_field "$tmp/default.vhd" type)" dynamic "default type"
assert_eq "$(json_field "$tmp/default.vhd" creator_app)" "win " "creator"

# The largest size VHD allows, and one sector more.
"$HVCONVERT" vhd create --size 2040G "$tmp/max.vhd"
assert_eq "$(json_field "$tmp/max.vhd" virtual_size)" $((2040 << 30)) \
  "2040 GiB"
refused 1 "above the VHD limit of 2040 GiB" --size $(((2040 << 30) + 512)) \
  "$tmp/over.vhd"
assert_eq "$(test -e "$tmp/over.vhd" && echo yes || echo no)" no \
  "no file for a refused size"

# Usage errors exit 2.
refused 2 "multiple of 512" --size 1000 "$tmp/odd.vhd"
refused 2 "dynamic VHDs only" --type fixed --block-size 2M "$tmp/f.vhd"
refused 2 "not a power of two" --block-size 3M "$tmp/b.vhd"
refused 2 "size comes from the parent" --parent "$tmp/default.vhd" \
  --size 1G "$tmp/child.vhd"

# An existing file is kept unless --force.
before=$(sha256sum <"$tmp/default.vhd")
refused 1 "exists" --size 1G "$tmp/default.vhd"
assert_eq "$(sha256sum <"$tmp/default.vhd")" "$before" "existing file kept"
"$HVCONVERT" vhd create --force --size 1G --type fixed "$tmp/default.vhd"
assert_eq "$(json_field "$tmp/default.vhd" type)" fixed "--force replaced it"
assert_eq "$(file_size "$tmp/default.vhd")" $(((1 << 30) + 512)) \
  "fixed file size"

# A block size other than 512K/2M works but warns.
"$HVCONVERT" vhd create --size 64M --block-size 1M "$tmp/b1m.vhd" \
  2>"$tmp/err"
assert_grep "512K or 2M" "$tmp/err"
assert_eq "$(json_field "$tmp/b1m.vhd" block_size)" $((1 << 20)) "block size"
"$HVCONVERT" vhd check "$tmp/b1m.vhd" >/dev/null

echo "PASS: vhd create"

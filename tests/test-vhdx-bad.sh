#!/bin/bash
# Corrupt and hostile VHDX files: every fixture of fixtures/bad-vhdx/
# through `hvconvert disk` as its README table says (bad-images.sh),
# then what the table cannot say:
#  - a parent named through ".." is followed with --allow-outside-paths;
#  - a damaged first region table falls back to the second, warning;
#  - a parent that is a VHD, not a VHDX, is refused (code parent);
#  - the error codes of some failures;
#  - no fixture changes by being read.

# shellcheck source=tests/functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source=tests/bad-images.sh
source "$top_srcdir/tests/bad-images.sh"

bad=$top_srcdir/fixtures/bad-vhdx
# Sources are never written, whatever happens: checked at the end.
sum=$(cat "$bad"/*.vhdx | sha256sum)

# run_disk WANT-RC ARGS...: hvconvert disk, stderr in $tmp/err.
run_disk () {
  local want=$1 rc=0
  shift
  "$HVCONVERT" disk "$@" 2>"$tmp/err" >/dev/null || rc=$?
  [[ $rc == "$want" ]] ||
    fail "hvconvert disk $*: exit $rc, want $want: $(cat "$tmp/err")"
}

# --allow-outside-paths: diff-parent-dotdot.vhdx names
# ..\elsewhere\parent-x.vhdx; give it one (good-parent.vhdx, whose
# DataWriteGuid its parent_linkage names).
mkdir -p "$tmp/vms/child" "$tmp/vms/elsewhere"
cp "$bad/diff-parent-dotdot.vhdx" "$tmp/vms/child/child.vhdx"
cp "$bad/good-parent.vhdx" "$tmp/vms/elsewhere/parent-x.vhdx"
run_disk 1 "$tmp/vms/child/child.vhdx" "$tmp/dotdot.vhd"
assert_grep "outside the image's directory" "$tmp/err"
run_disk 0 --allow-outside-paths "$tmp/vms/child/child.vhdx" "$tmp/dotdot.vhd"
# The child has no blocks: it reads as its parent.
"$QEMU_IMG" compare -q -f vhdx -F vpc "$bad/good-parent.vhdx" \
  "$tmp/dotdot.vhd" || fail "the child of parent-x.vhdx reads otherwise"

# The first region table damaged: the second is used, with a warning.
cp "$bad/good-dynamic.vhdx" "$tmp/region1.vhdx"
printf '\377' | dd of="$tmp/region1.vhdx" bs=1 seek=$((192 * 1024 + 40000)) \
  conv=notrunc status=none
run_disk 0 "$tmp/region1.vhdx" "$tmp/region1.vhd"
assert_grep "region table at offset 196608 is damaged" "$tmp/err"
"$QEMU_IMG" compare -q -f vhdx -F vpc "$bad/good-dynamic.vhdx" \
  "$tmp/region1.vhd" || fail "region1.vhdx reads other data"

# A VHD where the VHDX parent should be.
mkdir "$tmp/vhdparent"
cp "$bad/diff-linkage-mismatch.vhdx" "$tmp/vhdparent/child.vhdx"
head -c $((64 * 1024)) /dev/urandom >"$tmp/parent.raw"
run_disk 0 "$tmp/parent.raw" "$tmp/vhdparent/good-parent.vhdx"
run_disk 1 "$tmp/vhdparent/child.vhdx" "$tmp/vhdparent.vhd"
assert_grep "is a vhd image, not a VHDX" "$tmp/err"

# The stable error codes of some failures (the first error event).
while read -r name code; do
  "$HVCONVERT" --machine-readable disk "$bad/$name" "$tmp/code.vhd" \
    >"$tmp/events" 2>/dev/null && fail "$name converted"
  assert_events "$tmp/events" "by('error')[0]['code'] == '$code'" \
    "$name: error code $code"
done <<'EOF'
diff-parent-dotdot.vhdx unsafe
diff-parent-absolute.vhdx unsafe
diff-linkage-mismatch.vhdx parent
diff-parent-missing.vhdx parent
size-3t.vhdx too-large
headers-both-bad-crc.vhdx checksum
region-unknown-required.vhdx unsupported
meta-unknown-required.vhdx unsupported
log-too-large.vhdx unsupported
bat-past-eof.vhdx format
EOF

check_bad_images vhdx 45

[[ $(cat "$bad"/*.vhdx | sha256sum) == "$sum" ]] ||
  fail "a fixture changed while it was read"
echo "PASS: $test_name"

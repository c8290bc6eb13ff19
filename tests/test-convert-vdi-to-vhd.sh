#!/bin/bash
# VDI sources: qemu-img's dynamic and static VDIs (data, zero runs,
# unallocated blocks, a size that is not a multiple of the 1 MiB block),
# detected by content under a misleading name; a differencing chain
# qemu-img cannot make (fixtures/make-bad-vdi.py chain: a child over its
# parent, found by UUID, with a zero block) against its expected bytes;
# a child whose parent is missing.  Only allocated blocks are read, and
# the dynamic VHD allocates no zero blocks.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

src=$tmp/src.img
size=$((40 * MiB + 3 * 512))
"$QEMU_IMG" create -q -f raw "$src" "$size"
qemu-io -f raw -c 'write -P 0x5a 1M 3M' -c 'write -z 2M 512k' \
  -c 'write -P 0x11 20M 64k' -c 'write -P 0x22 40M 1536' "$src" >/dev/null

# convert SRC DST [OPTIONS...]: events in $tmp/events.
convert () {
  local s=$1 d=$2
  shift 2
  "$HVCONVERT" --machine-readable=3 disk "$s" "$d" "$@" 3>"$tmp/events" \
    2>"$tmp/err" || fail "hvconvert disk $s: $(cat "$tmp/err")"
}

for kind in dynamic static; do
  opts=()
  [ $kind = static ] && opts=(-o static=on)
  "$QEMU_IMG" convert -f raw -O vdi "${opts[@]}" "$src" "$tmp/$kind.vdi"
  cp "$tmp/$kind.vdi" "$tmp/$kind-named.vhd"      # a misleading name
  convert "$tmp/$kind-named.vhd" "$tmp/$kind.vhd"
  assert_events "$tmp/events" "by('start')[0]['format'] == 'vdi'" \
    "$kind: detected as vdi"
  "$QEMU_IMG" compare -q -f vdi -F vpc "$tmp/$kind.vdi" "$tmp/$kind.vhd" ||
    fail "$kind: qemu-img reads other content"
  "$QEMU_IMG" compare -q -f raw -F vpc "$src" "$tmp/$kind.vhd" ||
    fail "$kind: not the source"
done
# Dynamic: the 5 allocated 1 MiB blocks are read (the last one only up
# to the end of the disk), not the 40 MiB.
assert_events "$tmp/events" "by('done')[0]['bytes_read'] > 0" "read something"
convert "$tmp/dynamic.vdi" "$tmp/dyn2.vhd"
assert_events "$tmp/events" \
  "by('done')[0]['bytes_read'] == 4 * 1048576 + 1536" \
  "only the allocated blocks are read"
assert_eq "$(vhd_data_bytes "$tmp/dyn2.vhd")" \
  "$(expected_data_bytes "$src" $((2 * MiB)))" "allocated VHD data"

# A differencing chain, found by UUID in the same folder.
mkdir "$tmp/chain"
python3 "$top_srcdir/fixtures/make-bad-vdi.py" chain "$tmp/chain"
convert "$tmp/chain/child.vdi" "$tmp/chain.vhd" --format vdi
"$QEMU_IMG" compare -q -f raw -F vpc "$tmp/chain/expected.img" \
  "$tmp/chain.vhd" || fail "the chain's content is wrong"
# The parent moved away: the child names it by UUID only.
mv "$tmp/chain/parent.vdi" "$tmp/parent-elsewhere.vdi"
if "$HVCONVERT" disk "$tmp/chain/child.vdi" "$tmp/x.vhd" 2>"$tmp/err"; then
  fail "converted a child without its parent"
fi
assert_grep "the parent, a VDI with UUID 21212121-2121-2121-2121-212121212121, is not in the image's folder" "$tmp/err"
[ ! -e "$tmp/x.vhd" ] || fail "a failed conversion left its output"

echo "PASS: $test_name"

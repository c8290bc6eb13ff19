#!/bin/bash
# VDI sources.  qemu-img's dynamic and static VDIs (data, zero runs,
# unallocated blocks, a size that is not a multiple of the 1 MiB block),
# detected by content under a misleading name; copies with the size
# field patched to a size that is not a multiple of 512 and with a
# written block's map entry patched to 0xFFFFFFFE (zero: it must read as
# zeros although its data is still in the file).  Then the VDIs qemu-img
# cannot make or read (fixtures/make-bad-vdi.py good: 0.2 and 1.0
# headers, block extra, odd sizes, fixed images, zero blocks, a chain of
# three differencing images found by UUID) against their expected
# bytes; a parent modified after its child was made (a warning); a
# child whose parent is missing (an error naming its UUID).  Only
# allocated blocks are read, and the dynamic VHD allocates no zero
# blocks.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

src=$tmp/src.img
size=$((40 * MiB + 3 * 512))
"$QEMU_IMG" create -q -f raw "$src" "$size"
qemu-io -f raw -c 'write -P 0x5a 1M 3M' -c 'write -z 2M 512k' \
  -c 'write -P 0x11 20M 64k' -c 'write -P 0x22 40M 1536' "$src" >/dev/null

# convert SRC DST [OPTIONS...]: events in $tmp/events, messages in $tmp/err.
convert () {
  local s=$1 d=$2
  shift 2
  "$HVCONVERT" --machine-readable=3 disk "$s" "$d" "$@" 3>"$tmp/events" \
    2>"$tmp/err" || fail "hvconvert disk $s: $(cat "$tmp/err")"
}

# same RAW VHD WHAT: the VHD holds the bytes of the raw file.
same () {
  "$QEMU_IMG" compare -q -f raw -F vpc "$1" "$2" || fail "$3: not the content"
}

# patch FILE OFFSET U32|U64 VALUE: a little-endian field of a copy.
patch () {
  python3 - "$@" <<'PY'
import struct, sys
path, off, kind, value = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4], 0)
with open(path, "r+b") as f:
    f.seek(off)
    f.write(struct.pack("<I" if kind == "u32" else "<Q", value))
PY
}

# u32 FILE OFFSET: a little-endian field.
u32 () { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

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
  same "$src" "$tmp/$kind.vhd" "$kind"
done
# Dynamic: the 5 allocated 1 MiB blocks are read (the last one only up
# to the end of the disk), not the 40 MiB.
convert "$tmp/dynamic.vdi" "$tmp/dyn2.vhd"
assert_events "$tmp/events" \
  "by('done')[0]['bytes_read'] == 4 * 1048576 + 1536" \
  "only the allocated blocks are read"
assert_eq "$(vhd_data_bytes "$tmp/dyn2.vhd")" \
  "$(expected_data_bytes "$src" $((2 * MiB)))" "allocated VHD data"

# A size that is not a multiple of 512 (VBoxManage convertfromraw writes
# them; qemu-img rounds up): read as rounded up, as qemu does.
cp "$tmp/dynamic.vdi" "$tmp/odd.vdi"
patch "$tmp/odd.vdi" 368 u64 $((size - 100))
convert "$tmp/odd.vdi" "$tmp/odd.vhd"
assert_events "$tmp/events" "by('start')[0]['virtual_size'] == $size" \
  "the odd size rounded up to 512"
same "$src" "$tmp/odd.vhd" "odd size"

# Block 1 (1-2 MiB, 0x5a data in the file) marked zero: zeros, not read.
cp "$tmp/dynamic.vdi" "$tmp/zero.vdi"
patch "$tmp/zero.vdi" $(($(u32 "$tmp/zero.vdi" 340) + 4)) u32 0xFFFFFFFE
cp "$src" "$tmp/zero.img"
qemu-io -f raw -c 'write -z 1M 1M' "$tmp/zero.img" >/dev/null
convert "$tmp/zero.vdi" "$tmp/zero.vhd"
same "$tmp/zero.img" "$tmp/zero.vhd" "zero block"
assert_events "$tmp/events" \
  "by('done')[0]['bytes_read'] == 3 * 1048576 + 1536" \
  "the zero block is not read"

# What qemu-img cannot make: each X.vdi against X.raw.
good=$tmp/good
mkdir "$good"
python3 "$top_srcdir/fixtures/make-bad-vdi.py" good "$good"
n=0
for vdi in "$good"/*.vdi; do
  convert "$vdi" "${vdi%.vdi}.vhd"
  same "${vdi%.vdi}.raw" "${vdi%.vdi}.vhd" "$(basename "$vdi")"
  ! grep -qi warning "$tmp/err" || fail "$vdi: $(cat "$tmp/err")"
  n=$((n + 1))
done
assert_eq "$n" 10 "good images converted"
# The top of the chain reads what it holds itself (block 3), and from
# its parents blocks 0 and 2 (64 KiB blocks; zero blocks are not read).
convert "$good/chain-top.vdi" "$tmp/top.vhd"
assert_events "$tmp/events" \
  "by('done')[0]['bytes_read'] == 3 * 65536" "the chain's reads"

# A parent modified after its child was made: a warning, same content.
mkdir "$tmp/modified"
cp "$good"/chain-*.vdi "$tmp/modified"
patch "$tmp/modified/chain-base.vdi" 408 u32 0x12345678
convert "$tmp/modified/chain-top.vdi" "$tmp/modified.vhd"
assert_grep "chain-mid.vdi: its parent .*chain-base.vdi was modified" \
  "$tmp/err"
same "$good/chain-top.raw" "$tmp/modified.vhd" "modified parent"

# The parent moved away: the child names it by UUID only.
mv "$tmp/modified/chain-base.vdi" "$tmp/base-elsewhere.vdi"
if "$HVCONVERT" disk "$tmp/modified/chain-top.vdi" "$tmp/x.vhd" \
     2>"$tmp/err"; then
  fail "converted a child without its parent"
fi
assert_grep "chain-mid.vdi: the parent, a VDI with UUID 21212121-2121-2121-2121-212121212121, is not in the image's folder" "$tmp/err"
[ ! -e "$tmp/x.vhd" ] || fail "a failed conversion left its output"

echo "PASS: $test_name"

#!/bin/bash
# hvconvert disk with a VHDX source: detected by content (also under a
# misleading name), converted exactly (qemu-img compare), unallocated
# blocks neither read nor allocated in the VHD.
#
#  - qemu-img-made dynamic VHDX in 1, 32 and 256 MiB blocks (blocks of
#    unwritten areas in state NOT_PRESENT or ZERO), and a fixed one, with
#    data, zero runs (qemu-io write -z) and unwritten areas, sizes that
#    are not whole blocks;
#  - what qemu-img cannot make, from fixtures/make-vhdx.py with the raw
#    content each must read as: 4096-byte sectors, a differencing chain
#    (partially present blocks over present, zero and absent parent
#    blocks), and a log to replay, which qemu-img must replay the same
#    way.  libvhdi (python3-libvhdi) reads the generator's images as the
#    generator says, so the generator is checked too.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

PYVHDI_PYTHON=${PYVHDI_PYTHON:-/usr/bin/python3}
"$PYVHDI_PYTHON" -c 'import pyvhdi' 2>/dev/null ||
  fail "$PYVHDI_PYTHON cannot import pyvhdi (apt-get install python3-libvhdi)"
require qemu-io qemu-utils

# convert SRC DST [OPTIONS...]: with -v and events; keeps both.
convert () {
  local src=$1 dst=$2
  shift 2
  "$HVCONVERT" -v --machine-readable=3 disk "$src" "$dst" "$@" \
    2>"$tmp/stderr" 3>"$tmp/events" ||
    fail "hvconvert disk $src $dst $*: $(cat "$tmp/stderr")"
}

bytes_read () {
  python3 -c 'import json, sys
print([e for e in map(json.loads, open(sys.argv[1])) if e["event"] == "done"][0]["bytes_read"])' "$tmp/events"
}

# between N LOW HIGH WHAT
between () {
  (( $1 >= $2 && $1 <= $3 )) || fail "$4: $1 is not in [$2, $3]"
}

# Writes as "OFFSET LENGTH KIND" lines (KIND data or zero) applied with
# qemu-io, and what they imply for a disk in blocks of BS: the non-zero
# bytes written (which must be read) and the bytes of the blocks they
# touch (more must not be read).
qemu_writes () {
  local file=$1 fmt=$2 off len kind args=()
  while read -r off len kind; do
    if [[ $kind == data ]]; then
      args+=(-c "write -P 0x5a $off $len")
    else
      args+=(-c "write -z $off $len")
    fi
  done <"$tmp/writes"
  qemu-io -f "$fmt" "${args[@]}" "$file" >/dev/null ||
    fail "qemu-io on $file"
}

write_bounds () {
  python3 - "$tmp/writes" "$1" "$2" <<'PY'
import sys
bs, size = int(sys.argv[2]), int(sys.argv[3])
data, blocks = 0, set()
for line in open(sys.argv[1]):
    off, length, kind = line.split()
    off, length = int(off), int(length)
    if kind == "data":
        data += length
    blocks.update(range(off // bs, (off + length - 1) // bs + 1))
print(data, sum(min(bs, size - b * bs) for b in blocks))
PY
}

# check_qemu_vhdx NAME SIZE BS CREATE-OPTIONS: a VHDX made by qemu-img,
# written by qemu-io, converted and compared.
check_qemu_vhdx () {
  local name=$1 size=$2 bs=$3 opts=$4 src=$tmp/$1.vhdx lo hi
  "$QEMU_IMG" create -q -f vhdx -o "$opts,block_size=$bs" "$src" "$size" ||
    fail "qemu-img create $name"
  cat >"$tmp/writes" <<EOF
0 $((MiB + 4096)) data
$((3 * MiB)) $((MiB + 512)) zero
$((bs - 65536)) 131072 data
$((2 * bs + 3 * MiB)) 512 data
$((size - 512)) 512 data
EOF
  qemu_writes "$src" vhdx
  convert "$src" "$tmp/$name.vhd"
  assert_grep "opening as vhdx (detected)" "$tmp/stderr"
  assert_identical "$src" vhdx "$tmp/$name.vhd"
  read -r lo hi < <(write_bounds "$bs" "$size")
  between "$(bytes_read)" "$lo" "$hi" "$name: bytes read"
  "$QEMU_IMG" convert -f vhdx -O raw "$src" "$tmp/$name.raw"
  assert_eq "$(vhd_data_bytes "$tmp/$name.vhd")" \
    "$(expected_data_bytes "$tmp/$name.raw" $((2 * MiB)))" \
    "$name: VHD blocks allocated"
  rm -f "$tmp/$name.raw" "$tmp/$name.vhd"
}

check_qemu_vhdx dyn-1m $((37 * MiB + 1536)) $((1 * MiB)) \
  subformat=dynamic,block_state_zero=off
check_qemu_vhdx dyn-32m $((100 * MiB + 3584)) $((32 * MiB)) \
  subformat=dynamic
check_qemu_vhdx dyn-256m $((600 * MiB + 512)) $((256 * MiB)) \
  subformat=dynamic,block_state_zero=off
check_qemu_vhdx fixed $((45 * MiB + 512)) $((1 * MiB)) subformat=fixed

# A VHDX named like a VHD is still a VHDX; --format says so too.
cp "$tmp/dyn-1m.vhdx" "$tmp/looks-like.vhd"
convert "$tmp/looks-like.vhd" "$tmp/named.vhd"
assert_grep "opening as vhdx (detected)" "$tmp/stderr"
assert_identical "$tmp/looks-like.vhd" vhdx "$tmp/named.vhd"
convert "$tmp/dyn-1m.vhdx" "$tmp/forced.vhd" --format vhdx --type fixed
assert_grep "opening as vhdx$" "$tmp/stderr"
assert_identical "$tmp/dyn-1m.vhdx" vhdx "$tmp/forced.vhd"

# ---------------------------------------------------------------------
# What qemu-img cannot make.

gen=$tmp/gen
mkdir "$gen"
python3 "$top_srcdir/fixtures/make-vhdx.py" "$gen" ||
  fail "fixtures/make-vhdx.py failed"

# libvhdi_reads RAW CHILD [PARENT...] [--skip START:END]: libvhdi reads
# RAW's content from CHILD (with its parents), except in skipped ranges.
libvhdi_reads () {
  "$PYVHDI_PYTHON" - "$@" <<'PY' || fail "libvhdi does not read $2 as $1"
import sys, pyvhdi
args, skip = sys.argv[1:], []
if "--skip" in args:
    i = args.index("--skip")
    skip = [tuple(map(int, r.split(":"))) for r in args[i + 1:]]
    args = args[:i]
files = []
for path in reversed(args[1:]):
    f = pyvhdi.file()
    f.open(path)
    if files:
        f.set_parent(files[-1])
    files.append(f)
want = bytearray(open(args[0], "rb").read())
got = bytearray(files[-1].read_buffer_at_offset(len(want), 0))
for a, b in skip:
    want[a:b] = got[a:b] = bytes(b - a)
sys.exit(0 if got == want else 1)
PY
}

# check_generated NAME BYTES-READ: converts to exactly NAME.raw, reading
# exactly what the generator allocated, allocating only non-zero blocks.
check_generated () {
  local name=$1
  convert "$gen/$name.vhdx" "$tmp/$name.vhd"
  assert_grep "opening as vhdx (detected)" "$tmp/stderr"
  "$QEMU_IMG" compare -f raw -F vpc "$gen/$name.raw" "$tmp/$name.vhd" ||
    fail "$name.vhdx did not convert to $name.raw"
  assert_eq "$(vhd_media_size "$tmp/$name.vhd")" \
    "$(file_size "$gen/$name.raw")" "$name: virtual size"
  assert_eq "$(bytes_read)" "$2" "$name: bytes read"
  assert_eq "$(vhd_data_bytes "$tmp/$name.vhd")" \
    "$(expected_data_bytes "$gen/$name.raw" $((2 * MiB)))" \
    "$name: VHD blocks allocated"
}

# 4096-byte sectors: blocks 0 (1 MiB) and 5 (3 sectors) are present;
# the unmapped and undefined blocks point at stale data, never read.
check_generated sector4k $((MiB + 3 * 4096))
assert_grep "4096-byte sectors" "$tmp/stderr"
libvhdi_reads "$gen/sector4k.raw" "$gen/sector4k.vhdx"

# The chain base <- mid <- top.  Both read 3 MiB + 5632 bytes: whole
# blocks 0-2 (from top, mid or base sector by sector in block 1), the 8
# sectors mid has in block 4 (absent in base), and the 1536 bytes of
# the short block 6 (top's sectors 0 and 2, base's sector 1); blocks 3
# (zero in mid) and 5 (absent, unmapped in top) read as zeros.
check_generated top $((3 * MiB + 4096 + 1536))
assert_grep "mid.vhdx: opening as vhdx (detected)" "$tmp/stderr"
assert_grep "base.vhdx: opening as vhdx (detected)" "$tmp/stderr"
check_generated mid $((3 * MiB + 4096 + 1536))
# libvhdi 20210425 reads a differencing disk's ZERO block (mid's block
# 3) from the parent; MS-VHDX 2.5.1.1 says it reads as zeros.
libvhdi_reads "$gen/top.raw" "$gen/top.vhdx" "$gen/mid.vhdx" \
  "$gen/base.vhdx" --skip $((3 * MiB)):$((4 * MiB))
libvhdi_reads "$gen/mid.raw" "$gen/mid.vhdx" "$gen/base.vhdx" \
  --skip $((3 * MiB)):$((4 * MiB))

# The log: replayed in memory (the file is not changed), and qemu-img,
# replaying it for real on a copy, reads the same disk.
sum=$(sha256sum <"$gen/dirty.vhdx")
check_generated dirty $((4 * MiB))
assert_grep "log replayed" "$tmp/stderr"
assert_eq "$(sha256sum <"$gen/dirty.vhdx")" "$sum" "dirty.vhdx unchanged"
cp "$gen/dirty.vhdx" "$tmp/replayed.vhdx"
"$QEMU_IMG" check -q -r all "$tmp/replayed.vhdx" >/dev/null 2>&1 || true
"$QEMU_IMG" compare -f vhdx -F vpc "$tmp/replayed.vhdx" "$tmp/dirty.vhd" ||
  fail "qemu-img replays dirty.vhdx's log to another disk"

echo "PASS: $test_name"

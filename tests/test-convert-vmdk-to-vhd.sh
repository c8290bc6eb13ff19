#!/bin/bash
# hvconvert disk with VMDK sources, checked against qemu-img and against
# the raw image they were made from: every subformat qemu-img writes,
# a VMware-style streamOptimized file (grain directory in the footer),
# zeroed-grain entries, delta disks (also over a changed parent), split
# extents beyond 2 GiB, and hand-written descriptors (ZERO extents, a
# FLAT start offset, a vmfs descriptor with CRLF lines).  Detected by
# content, also under misleading names; only allocated data is read,
# and zero areas are not allocated in the dynamic VHD.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require qemu-io qemu-utils

size=$((40 * MiB + 5 * 512))        # not a multiple of the 64 KiB grain
make_image "$tmp/src.img" "$size" sparse

# convert SRC DST [OPTIONS...]: with -v (debug in $tmp/stderr) and
# --machine-readable (events in $tmp/events).
convert () {
  local src=$1 dst=$2
  shift 2
  rm -f "$dst"
  "$HVCONVERT" -v --machine-readable=3 disk "$src" "$dst" "$@" \
    3>"$tmp/events" 2>"$tmp/stderr" ||
    fail "hvconvert disk $src $dst $*: $(cat "$tmp/stderr")"
}

# Bytes qemu-img map reports as non-zero data in a VMDK (through its
# parents; qemu reports holes of a flat extent as zero data).
vmdk_data_bytes () {
  "$QEMU_IMG" map --output=json -f vmdk "$1" |
    python3 -c 'import json, sys
print(sum(e["length"] for e in json.load(sys.stdin)
          if e["data"] and not e["zero"]))'
}

# assert_read SRC: the conversion just made read exactly the data qemu
# sees allocated in SRC (unallocated and zeroed grains are not read),
# and detected SRC as a VMDK.
assert_read () {
  assert_events "$tmp/events" "
    by('start')[0]['format'] == 'vmdk' and
    by('done')[0]['bytes_read'] == $(vmdk_data_bytes "$1")" \
    "$1: only allocated data is read"
}

no_warning () {
  if grep -qi warning "$tmp/stderr"; then
    fail "unexpected warning: $(cat "$tmp/stderr")"
  fi
}

# ---------------------------------------------------------------------
# Every subformat qemu-img writes, from the same raw image.
for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse \
           twoGbMaxExtentFlat streamOptimized; do
  "$QEMU_IMG" convert -f raw -O vmdk -o subformat=$sub \
    "$tmp/src.img" "$tmp/$sub.vmdk"
  convert "$tmp/$sub.vmdk" "$tmp/$sub.vhd"
  assert_grep "opening as vmdk (detected)" "$tmp/stderr"
  no_warning
  assert_identical "$tmp/$sub.vmdk" vmdk "$tmp/$sub.vhd"
  assert_identical "$tmp/src.img" raw "$tmp/$sub.vhd"
  assert_read "$tmp/$sub.vmdk"
  assert_eq "$(vhd_data_bytes "$tmp/$sub.vhd")" \
    "$(expected_data_bytes "$tmp/src.img" $((2 * MiB)))" \
    "$sub: blocks allocated in the dynamic VHD"
done

# Misleading names: a monolithic file called .vhd, a descriptor called
# .img (beside its extents, which it names).
cp "$tmp/monolithicSparse.vmdk" "$tmp/disguised.vhd"
convert "$tmp/disguised.vhd" "$tmp/disguised-out.vhd"
assert_grep "opening as vmdk (detected)" "$tmp/stderr"
assert_identical "$tmp/src.img" raw "$tmp/disguised-out.vhd"
cp "$tmp/twoGbMaxExtentFlat.vmdk" "$tmp/descriptor.img"
convert "$tmp/descriptor.img" "$tmp/descriptor-out.vhd"
assert_grep "opening as vmdk (detected)" "$tmp/stderr"
assert_identical "$tmp/src.img" raw "$tmp/descriptor-out.vhd"

# ---------------------------------------------------------------------
# streamOptimized as VMware and VirtualBox write it: GD_AT_END in the
# header, the grain directory found through the footer.
python3 "$top_srcdir/fixtures/make-bad-vmdk.py" stream "$tmp/src.img" \
  "$tmp/stream-footer.vmdk"
convert "$tmp/stream-footer.vmdk" "$tmp/stream-footer.vhd"
no_warning
assert_identical "$tmp/stream-footer.vmdk" vmdk "$tmp/stream-footer.vhd"
assert_identical "$tmp/src.img" raw "$tmp/stream-footer.vhd"
assert_read "$tmp/stream-footer.vmdk"

# ---------------------------------------------------------------------
# Zeroed-grain entries (GTE 1): written by qemu for whole-grain zero
# writes when zeroed_grain=on; they read as zeros and are not read.
zsize=$((8 * MiB + 3 * 512))
"$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on "$tmp/zg.vmdk" $zsize
qemu-io -f vmdk -c 'write -P 0x5a 0 1M' -c 'write -z 256K 128K' \
  -c 'write -P 0x33 4M 512K' -c 'write -z 4M 64K' \
  -c "write -P 0x44 $((zsize - 1536)) 1536" "$tmp/zg.vmdk" >/dev/null
"$QEMU_IMG" map --output=json -f vmdk "$tmp/zg.vmdk" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert any(e["zero"] and not e["data"] and e["start"] == 4 << 20 for e in m), m
' || fail "qemu-img wrote no zeroed grain at 4 MiB"
convert "$tmp/zg.vmdk" "$tmp/zg.vhd"
assert_identical "$tmp/zg.vmdk" vmdk "$tmp/zg.vhd"
assert_read "$tmp/zg.vmdk"

# ---------------------------------------------------------------------
# Delta disks: partial-grain writes (qemu copies the rest of the grain
# from the parent), a zeroed grain over parent data, data over a hole of
# the parent; monolithicSparse and twoGbMaxExtentSparse deltas.
mkdir "$tmp/chain"
"$QEMU_IMG" convert -f raw -O vmdk "$tmp/src.img" "$tmp/chain/base.vmdk"
"$QEMU_IMG" create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk \
  "$tmp/chain/delta.vmdk"
"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse \
  -b base.vmdk -F vmdk "$tmp/chain/delta2.vmdk"
for d in delta delta2; do
  qemu-io -f vmdk -c 'write -P 0x77 512 4096' -c 'write -P 0x11 30M 64K' \
    -c "write -P 0x12 $((size - 1024)) 1024" "$tmp/chain/$d.vmdk" >/dev/null
done
qemu-io -f vmdk -c 'write -z 0 128K' "$tmp/chain/delta.vmdk" >/dev/null
for d in delta delta2; do
  convert "$tmp/chain/$d.vmdk" "$tmp/$d.vhd"
  no_warning
  assert_identical "$tmp/chain/$d.vmdk" vmdk "$tmp/$d.vhd"
  assert_read "$tmp/chain/$d.vmdk"
done

# The parent changes after the delta was made (qemu gives it a new CID):
# a warning names both CIDs, and the delta still reads over the parent
# as it is now (qemu agrees once the delta's parentCID is updated).
qemu-io -f vmdk -c 'write -P 0x99 2M 4K' "$tmp/chain/base.vmdk" >/dev/null
convert "$tmp/chain/delta.vmdk" "$tmp/changed.vhd"
assert_grep "parentCID is .* but its parent 'base.vmdk' has CID" "$tmp/stderr"
python3 - "$tmp/chain/base.vmdk" "$tmp/chain/delta.vmdk" <<'PY'
import re, struct, sys
base, delta = (open(p, "rb").read() for p in sys.argv[1:3])
# qemu writes a changed CID without leading zeros.  The embedded
# descriptor is rewritten within its own NUL-padded sectors.
cid = re.search(rb"\nCID=([0-9a-f]{1,8})\n", base).group(1)
off, n = (512 * v for v in struct.unpack_from("<QQ", delta, 28))
desc = re.sub(rb"\nparentCID=[0-9a-f]{1,8}\n", b"\nparentCID=" + cid + b"\n",
              delta[off:off + n].rstrip(b"\0"), 1).ljust(n, b"\0")
assert len(desc) == n
open(sys.argv[2], "wb").write(delta[:off] + desc + delta[off + n:])
PY
assert_identical "$tmp/chain/delta.vmdk" vmdk "$tmp/changed.vhd"

# A missing parent is an error that names it.
mv "$tmp/chain/base.vmdk" "$tmp/base-moved.vmdk"
"$HVCONVERT" disk "$tmp/chain/delta.vmdk" "$tmp/orphan.vhd" 2>"$tmp/stderr" &&
  fail "a delta without its parent converted"
assert_grep "cannot open its parent 'base.vmdk'" "$tmp/stderr"
[[ ! -e $tmp/orphan.vhd ]] || fail "orphan.vhd left behind"

# ---------------------------------------------------------------------
# Split extents: qemu splits twoGbMaxExtent* disks at 2 GiB; data
# across the split and at the very end of a 2.1 GiB disk.
big=$((2 * 1024 * MiB + 100 * MiB + 3 * 512))
for sub in twoGbMaxExtentSparse twoGbMaxExtentFlat; do
  "$QEMU_IMG" create -q -f vmdk -o subformat=$sub "$tmp/big-$sub.vmdk" $big
  qemu-io -f vmdk -c 'write -P 0xa5 2047M 2M' \
    -c "write -P 0x5a $((big - 4096)) 4096" "$tmp/big-$sub.vmdk" >/dev/null
  (( $(grep -c '^RW ' "$tmp/big-$sub.vmdk") >= 2 )) ||
    fail "$sub: qemu-img made a single extent"
  convert "$tmp/big-$sub.vmdk" "$tmp/big-$sub.vhd"
  assert_identical "$tmp/big-$sub.vmdk" vmdk "$tmp/big-$sub.vhd"
  assert_read "$tmp/big-$sub.vmdk"
done

# ---------------------------------------------------------------------
# Hand-written descriptors.  FLAT + ZERO + FLAT from a start sector: the
# ZERO extent is not read (qemu ignores ZERO and RDONLY lines, so the
# reference is built from the raw files).
head -c $((1 * MiB)) /dev/urandom >"$tmp/a.raw"
head -c $((2 * MiB)) /dev/urandom >"$tmp/b.raw"
cat >"$tmp/zero.vmdk" <<'EOF'
# Disk DescriptorFile
version=1
CID=12345678
parentCID=ffffffff
createType="custom"

# Extent description
RW 2048 FLAT "a.raw" 0
RW 4096 ZERO
RDONLY 2048 FLAT "b.raw" 1024
EOF
{ cat "$tmp/a.raw"; head -c $((2 * MiB)) /dev/zero
  dd if="$tmp/b.raw" bs=512 skip=1024 count=2048 status=none; } \
  >"$tmp/zero-expected.raw"
convert "$tmp/zero.vmdk" "$tmp/zero.vhd"
no_warning
assert_identical "$tmp/zero-expected.raw" raw "$tmp/zero.vhd"
assert_events "$tmp/events" "by('done')[0]['bytes_read'] == $((2 * MiB))" \
  "the ZERO extent is not read"

# An unknown createType is read by its extents, with a warning.
sed 's/"custom"/"fancyNewType"/' "$tmp/zero.vmdk" >"$tmp/fancy.vmdk"
convert "$tmp/fancy.vmdk" "$tmp/fancy.vhd"
assert_grep 'unknown createType "fancyNewType"' "$tmp/stderr"
assert_identical "$tmp/zero-expected.raw" raw "$tmp/fancy.vhd"

# An ESX vmfs descriptor over a flat file: CRLF lines, comments, blanks
# around "=" and unquoted values in lines qemu does not read too (its
# parser wants createType="..." and parentCID=... exactly).
cp --sparse=always "$tmp/src.img" "$tmp/vmfs-flat.vmdk"
printf '%s\r\n' '# Disk DescriptorFile' 'version=1' 'encoding="UTF-8"' \
  'CID=fffffffe' 'parentCID=ffffffff' 'isNativeSnapshot = no' \
  'createType="vmfs"' '' '# Extent description' \
  "RW $((size / 512)) VMFS \"vmfs-flat.vmdk\"" '' '# The Disk Data Base' \
  '#DDB' 'ddb.adapterType = "lsilogic"' 'ddb.thinProvisioned = "1"' \
  >"$tmp/vmfs.vmdk"
convert "$tmp/vmfs.vmdk" "$tmp/vmfs.vhd"
no_warning
assert_identical "$tmp/vmfs.vmdk" vmdk "$tmp/vmfs.vhd"
assert_identical "$tmp/src.img" raw "$tmp/vmfs.vhd"
assert_read "$tmp/vmfs.vmdk"

# More extent files than the usual soft limit of 1024 open files (a
# twoGbMaxExtent disk of 2 TiB has over 1000): 1100 FLAT extents, in
# reverse order of their offsets into one file, read under that limit.
n=1100
head -c $((n * 4096)) /dev/urandom >"$tmp/many.raw"
{ printf '# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\n'
  printf 'createType="twoGbMaxExtentFlat"\n'
  for ((i = n - 1; i >= 0; i--)); do
    printf 'RW 8 FLAT "many.raw" %d\n' $((i * 8))
  done; } >"$tmp/many.vmdk"
python3 - "$tmp/many.raw" "$tmp/many-expected.raw" $n <<'PY'
import sys
data, n = open(sys.argv[1], "rb").read(), int(sys.argv[3])
with open(sys.argv[2], "wb") as out:
    for i in reversed(range(n)):
        out.write(data[i * 4096:(i + 1) * 4096])
PY
(ulimit -Sn 1024 && convert "$tmp/many.vmdk" "$tmp/many.vhd")
assert_identical "$tmp/many-expected.raw" raw "$tmp/many.vhd"

# --format vmdk on a file that is not one fails and says so.
"$HVCONVERT" disk --format vmdk "$tmp/src.img" "$tmp/notvmdk.vhd" \
  2>"$tmp/stderr" && fail "a raw image converted as vmdk"
assert_grep "not a VMDK" "$tmp/stderr"

echo "PASS: $test_name"

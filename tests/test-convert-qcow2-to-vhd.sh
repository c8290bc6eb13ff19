#!/bin/bash
# hvconvert disk with QCOW2 sources made by qemu-img and qemu-io: version
# 2 (compat=0.10) and 3, clusters of 512 bytes, 64 KiB and 2 MiB, sizes
# that are not a multiple of the cluster, zero clusters (with and
# without an allocated offset), unallocated areas, compressed clusters,
# backing files (raw and qcow2, with and without a backing format, a
# 2-deep chain, a backing file shorter than its overlay).  Each is
# detected by content and converted, and checked against qemu:
#  - qemu-img compare reads the same disk from the qcow2 and the VHD;
#  - the copy read what qemu-img map calls data and nothing else (the
#    --machine-readable "done" event), so unallocated and zero clusters
#    are not read;
#  - the dynamic VHD allocates exactly the 2 MiB blocks that hold a
#    non-zero byte, so zero areas take no space.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

QEMU_IO=${QEMU_IO:-qemu-io}
require "$QEMU_IO" qemu-utils

KiB=1024
size=$((40 * MiB + 5 * 512))       # not a multiple of 64 KiB or 2 MiB

# qio FILE COMMAND...: qemu-io commands on a qcow2 image.
qio () {
  local file=$1 args=()
  shift
  for c in "$@"; do args+=(-c "$c"); done
  "$QEMU_IO" -f qcow2 "${args[@]}" "$file" >/dev/null ||
    fail "qemu-io $file $*"
}

# make_qcow2 FILE OPTIONS: a $size image with data at the start, across
# cluster boundaries at sector (not cluster) alignment, a lone sector,
# zeros written over data and over nothing (zero clusters on v3), and
# data up to the very end; the rest is unallocated.
make_qcow2 () {
  "$QEMU_IMG" create -q -f qcow2 -o "$2" "$1" "$size"
  qio "$1" "write -P 0x5a 0 1M" \
    "write -P 0x33 $((3 * MiB + 1536)) $((130 * KiB))" \
    "write -P 0x44 $((9 * MiB - 512)) 512" \
    "write -P 0x11 $((12 * MiB)) 3M" \
    "write -z $((12 * MiB)) 256K" \
    "write -z -u $((13 * MiB)) 128K" \
    "write -z $((20 * MiB)) 1M" \
    "write -P 0x77 $((size - 2 * MiB - 1536)) $((2 * MiB + 1536))"
}

# data_bytes FILE: the bytes the copy must read, from qemu-img map: the
# data extents, plus holes shorter than 64 KiB between data (the copy
# engine reads those rather than split a read; see convert/copy.c).
data_bytes () {
  "$QEMU_IMG" map --output=json "$1" | python3 -c '
import json, sys
runs = []
for e in json.load(sys.stdin):
    if runs and runs[-1][0] == e["data"]:
        runs[-1][1] += e["length"]
    else:
        runs.append([e["data"], e["length"]])
print(sum(n for i, (data, n) in enumerate(runs)
          if data or (n < 65536 and 0 < i < len(runs) - 1)))'
}

# check SRC [OPTIONS...]: convert SRC (detected) and check it.
check () {
  local src=$1 dst=$tmp/$(basename "$1").vhd
  shift
  rm -f "$dst"
  "$HVCONVERT" -v --machine-readable=3 disk "$@" "$src" "$dst" \
    3>"$tmp/events" 2>"$tmp/stderr" ||
    fail "hvconvert disk $src: $(cat "$tmp/stderr")"
  assert_grep "opening as qcow2" "$tmp/stderr"
  assert_identical "$src" qcow2 "$dst"
  assert_events "$tmp/events" "
    by('start')[0]['format'] == 'qcow2' and
    by('done')[0]['bytes_read'] == $(data_bytes "$src")" \
    "$src: only the data is read"
  "$QEMU_IMG" convert -O raw "$src" "$tmp/ref.raw"
  assert_eq "$(vhd_data_bytes "$dst")" \
    "$(expected_data_bytes "$tmp/ref.raw" $((2 * MiB)))" \
    "$dst: blocks allocated"
  rm -f "$tmp/ref.raw"
  echo "ok: $(basename "$src")"
}

# ---------------------------------------------------------------------
# Standalone images.

make_qcow2 "$tmp/v3.qcow2" compat=1.1
make_qcow2 "$tmp/v2.qcow2" compat=0.10
make_qcow2 "$tmp/v3-512.qcow2" compat=1.1,cluster_size=512
make_qcow2 "$tmp/v3-2m.qcow2" compat=1.1,cluster_size=2M
make_qcow2 "$tmp/v2-2m.qcow2" compat=0.10,cluster_size=2M
for f in v3 v2 v3-512 v3-2m v2-2m; do
  check "$tmp/$f.qcow2"
done

# The v3 images really have zero clusters, and the v2 ones none.
"$QEMU_IMG" map --output=json "$tmp/v3.qcow2" | grep -q '"zero": true, "data": false, "offset"' ||
  fail "v3.qcow2 has no zero cluster with an allocated offset"
assert_eq "$(image_info "$tmp/v2.qcow2" format-specific |
             grep -o "'compat': '0.10'")" "'compat': '0.10'" "v2.qcow2 compat"

# Detected by content whatever the name; --format qcow2 says the same.
cp "$tmp/v3.qcow2" "$tmp/misleading.vhd"
check "$tmp/misleading.vhd"
check "$tmp/v3.qcow2" --format qcow2

# Compressed clusters (qemu-img convert -c), in three cluster sizes.
"$QEMU_IMG" convert -c -O qcow2 "$tmp/v3.qcow2" "$tmp/comp.qcow2"
"$QEMU_IMG" convert -c -O qcow2 -o cluster_size=512 "$tmp/v3.qcow2" \
  "$tmp/comp-512.qcow2"
"$QEMU_IMG" convert -c -O qcow2 -o cluster_size=2M,compat=0.10 \
  "$tmp/v3.qcow2" "$tmp/comp-2m.qcow2"
for f in comp comp-512 comp-2m; do
  "$QEMU_IMG" check "$tmp/$f.qcow2" | grep -q '100.00% compressed clusters' ||
    fail "$f.qcow2 is not compressed"
  check "$tmp/$f.qcow2"
done

# ---------------------------------------------------------------------
# Backing files.  Overlays are larger than their backing files, so the
# end reads zeros; they overwrite part of the backing data, and write
# zeros over some of it (v3 zero clusters that hide the backing data).

make_image "$tmp/base.raw" $((32 * MiB)) sparse
make_qcow2 "$tmp/base.qcow2" compat=1.1

# overlay FILE BACKING BACKING-FORMAT OPTIONS
overlay () {
  "$QEMU_IMG" create -q -f qcow2 -o "$4" -b "$(basename "$2")" -F "$3" \
    "$1" $((48 * MiB + 512))
  qio "$1" "write -P 0x66 $((512 * KiB)) 1M" \
    "write -P 0x67 $((8 * MiB - 4 * KiB)) 8K" \
    "write -z $((12 * MiB + 128 * KiB)) 512K" \
    "write -P 0x68 $((45 * MiB)) 64K"
}

overlay "$tmp/over-raw.qcow2" "$tmp/base.raw" raw compat=1.1
overlay "$tmp/over-qcow2.qcow2" "$tmp/base.qcow2" qcow2 compat=1.1,cluster_size=512
overlay "$tmp/over-v2.qcow2" "$tmp/base.raw" raw compat=0.10
for f in over-raw over-qcow2 over-v2; do
  check "$tmp/$f.qcow2"
done

# A 2-deep chain: base.raw <- mid (2 MiB clusters) <- top (512 bytes).
overlay "$tmp/mid.qcow2" "$tmp/base.raw" raw compat=1.1,cluster_size=2M
"$QEMU_IMG" create -q -f qcow2 -o cluster_size=512 -b mid.qcow2 -F qcow2 \
  "$tmp/top.qcow2" $((50 * MiB))
qio "$tmp/top.qcow2" "write -P 0x71 $((1 * MiB)) 64K" \
  "write -z $((45 * MiB)) 32K" "write -P 0x72 $((49 * MiB)) 1M"
check "$tmp/top.qcow2"

# No backing format extension: the backing file's format is detected.
# (qemu-img create wants -F, so make one with it and rename the
# extension to an unknown type, which qemu and we skip.)
unformat () {
  python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    b = f.read(4096)
    hl = struct.unpack(">I", b[100:104])[0]
    pos = hl
    while True:
        t, n = struct.unpack(">II", b[pos:pos + 8])
        if t == 0:
            sys.exit("no backing format extension")
        if t == 0xE2792ACA:
            f.seek(pos)
            f.write(struct.pack(">I", 0x0BADF00D))
            break
        pos += 8 + (n + 7) // 8 * 8
PY
}
for f in over-raw over-qcow2; do
  cp "$tmp/$f.qcow2" "$tmp/$f-nofmt.qcow2"
  unformat "$tmp/$f-nofmt.qcow2"
  check "$tmp/$f-nofmt.qcow2"
done

# A backing file in a subdirectory is inside the image's directory.
mkdir "$tmp/sub"
cp "$tmp/base.raw" "$tmp/sub/base.raw"
"$QEMU_IMG" create -q -f qcow2 -b sub/base.raw -F raw "$tmp/over-sub.qcow2" \
  $((32 * MiB))
qio "$tmp/over-sub.qcow2" "write -P 0x69 $((2 * MiB)) 1M"
check "$tmp/over-sub.qcow2"

# The backing format is honoured: a raw backing file whose content is a
# qcow2 image is read as those raw bytes, not as the image inside.
cp "$tmp/v3-512.qcow2" "$tmp/looks-qcow2.raw"
truncate -s $((4 * MiB)) "$tmp/looks-qcow2.raw"
"$QEMU_IMG" create -q -f qcow2 -b looks-qcow2.raw -F raw \
  "$tmp/over-honour.qcow2" $((4 * MiB))
check "$tmp/over-honour.qcow2"

echo "PASS: $test_name"

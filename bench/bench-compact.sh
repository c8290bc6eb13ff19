#!/bin/bash
# bench/bench-compact.sh: `hvconvert vhd compact` against the alternative
# a user has here, `qemu-img convert -O vpc` of the same file to a new
# file (which leaves out zero blocks too).
#
# The disk: a 4 GiB dynamic VHD (2 MiB blocks) with every block written
# with random data, then every fourth block overwritten with zeros in
# place (allocated, all zero): 25% of the blocks are empty.  Each run
# compacts a fresh copy of it (the copy is made and synced before the
# timer starts), and qemu-img converts the pristine file; the tools
# alternate, N runs each, and the median wall time and peak RSS of each
# and the ratio ours/qemu are printed.  Target: ratio <= 0.5.
#
# Fairness: both tools start with the same file in the page cache.
# hvconvert makes its changes durable (fdatasync between its steps: that
# is in its time); qemu-img does not fsync, so it is also timed with a
# `sync FILE` after it ("qemu-img+sync"), and two ratios are printed.
#
# Usage: bench/bench-compact.sh [-n RUNS] [-d DIR] [-k]
#   -n RUNS  runs per tool (default 5)
#   -d DIR   work directory (default bench/out); needs about 12 GiB
#   -k       keep the source disk for the next run (reused if there)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh" "$@"
command -v python3 >/dev/null || die "python3 missing: apt-get install python3"

src=$dir/source.vhd

# Zero the data of every fourth allocated block of the dynamic VHD $1 in
# place, through the file's own BAT (the blocks stay allocated).
zero_quarter () {
  python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(-512, 2)
    hdr_at, = struct.unpack(">Q", f.read(512)[16:24])
    f.seek(hdr_at)
    hdr = f.read(1024)
    bat_at, = struct.unpack(">Q", hdr[16:24])
    n, bs = struct.unpack(">II", hdr[28:36])
    f.seek(bat_at)
    bat = struct.unpack(">%dI" % n, f.read(4 * n))
    bitmap = ((bs // 512 + 7) // 8 + 511) // 512 * 512
    zeros = bytes(bs)
    for i in range(0, n, 4):
        assert bat[i] != 0xFFFFFFFF
        f.seek(bat[i] * 512 + bitmap)
        f.write(zeros)
PY
}

make_source () {
  [[ -f $src ]] && return
  echo "bench-compact: building the 4 GiB source disk in $dir" >&2
  head -c 4G /dev/urandom >"$dir/random.img"
  "$hvconvert" disk "$dir/random.img" "$src" 2>/dev/null
  rm -f "$dir/random.img"
  zero_quarter "$src"
  sync
}

qemu_args=(convert -f vpc -O vpc -o subformat=dynamic)
# shellcheck disable=SC2016 # expanded by the inner bash
durable_qemu='qemu-img "${@:2}" "$1" && sync "$1"'

mkdir -p "$dir"
make_source
work=$dir/work.vhd out=$dir/out.vhd
ours=() qemu=() durable=()
echo "bench-compact: $runs runs per tool, median wall time and peak RSS"
for ((i = 0; i < runs; i++)); do
  cp "$src" "$work"
  ours+=("$(timed "$hvconvert" vhd compact "$work")")
  qemu+=("$(timed qemu-img "${qemu_args[@]}" "$src" "$out")")
  durable+=("$(timed bash -c "$durable_qemu" bash "$out" "${qemu_args[@]}" \
               "$src")")
done
# The compacted copy must read as the source does.
"$hvconvert" vhd diff --quiet "$src" "$work" ||
  die "the compacted disk differs from the source"
echo "all runs (s KiB): hvconvert: ${ours[*]}; qemu-img: ${qemu[*]};" \
     "qemu-img+sync: ${durable[*]}" >&2
echo "sizes: source $(stat -c %s "$src"), compacted $(stat -c %s "$work")," \
     "qemu-img $(stat -c %s "$out")"
awk -v ot="$(median_of 1 "${ours[@]}")" -v om="$(median_of 2 "${ours[@]}")" \
    -v qt="$(median_of 1 "${qemu[@]}")" -v qm="$(median_of 2 "${qemu[@]}")" \
    -v dt="$(median_of 1 "${durable[@]}")" 'BEGIN {
  printf "compact hvconvert %5.2f s %5.1f MiB | qemu-img %5.2f s %5.1f MiB" \
         " | qemu-img+sync %5.2f s | ratio %.2f, durable %.2f\n",
         ot, om / 1024, qt, qm / 1024, dt, ot / qt, ot / dt
}'
rm -f "$work" "$out" "$dir/time.txt" "$dir/stderr.txt"
if [[ $keep == no ]]; then rm -f "$src"; fi

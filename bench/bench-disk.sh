#!/bin/bash
# bench/bench-disk.sh: `hvconvert disk` against `qemu-img convert -O vpc`.
#
# Builds a 2 GiB raw image, about half random data and half zeros, in two
# variants: sparse (the zeros are holes) and dense (the zeros are written
# bytes).  Converts each to a dynamic VHD with both tools, alternating,
# N runs each, and prints the median wall time and peak RSS of each tool
# and the ratio ours/qemu.  Targets: ratio <= 0.8, peak RSS <= 64 MiB.
#
# Fairness: both tools read the same image and write into the same
# directory; nothing is dropped from the page cache.  `sync` runs before
# every timed run (untimed) so that one run's dirty pages are not written
# back during the next.  hvconvert fsyncs its output before renaming it
# into place (that is in its time); qemu-img does not fsync, so it is
# also timed with a `sync FILE` after it ("qemu-img+sync"), and two
# ratios are printed: against qemu-img as is, and against the durable
# qemu-img+sync.
#
# Usage: bench/bench-disk.sh [-n RUNS] [-d DIR] [-k]
#   -n RUNS  runs per tool and variant (default 5)
#   -d DIR   work directory (default bench/out); needs about 4 GiB
#   -k       keep the images for the next run (they are reused if there)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "$(dirname "$0")/functions.sh"

size=$((2 * 1024 * 1024 * 1024))
region=$((8 * 1024 * 1024))
unit=$((64 * 1024))

# The layout: in each 8 MiB region, one run of random data whose length
# (0 to 8 MiB, in 64 KiB units) and position come from a seeded generator,
# so every machine builds the same shape; on average half is data.
layout () {
  awk -v size="$size" -v region="$region" -v unit="$unit" 'BEGIN {
    srand (42); units = region / unit
    for (off = 0; off < size; off += region) {
      n = int (rand () * (units + 1)); start = int (rand () * (units - n + 1))
      if (n > 0) print (off + start * unit) / unit, n
    }
  }'
}

make_images () {
  local sparse=$dir/sparse.img dense=$dir/dense.img
  if [[ -f $sparse && -f $dense ]]; then return; fi
  echo "bench-disk: building 2 GiB test images in $dir" >&2
  rm -f "$sparse" "$dense"
  truncate -s "$size" "$sparse"
  layout | while read -r seek count; do
    dd if=/dev/urandom of="$sparse" bs=$unit seek="$seek" count="$count" \
       conv=notrunc status=none
  done
  cp --sparse=never "$sparse" "$dense"
  sync
}

# qemu-img does not fsync what it wrote; hvconvert must (its output is
# renamed into place only once durable).  The durable variant adds that
# fsync (sync FILE) to qemu's time, for a like-for-like comparison.
qemu_args=(convert -f raw -O vpc -o subformat=dynamic)
# shellcheck disable=SC2016 # expanded by the inner bash
durable_qemu='qemu-img "${@:2}" "$1" && sync "$1"'

bench_variant () {
  local img=$1 name=$2 out=$dir/out.vhd ours=() qemu=() durable=() i
  for ((i = 0; i < runs; i++)); do
    ours+=("$(timed "$hvconvert" disk "$img" "$out")")
    qemu+=("$(timed qemu-img "${qemu_args[@]}" "$img" "$out")")
    durable+=("$(timed bash -c "$durable_qemu" bash "$out" \
                 "${qemu_args[@]}" "$img")")
  done
  echo "$name: all runs (s KiB): hvconvert: ${ours[*]};" \
       "qemu-img: ${qemu[*]}; qemu-img+sync: ${durable[*]}" >&2
  awk -v n="$name" -v ot="$(median_of 1 "${ours[@]}")" \
      -v om="$(median_of 2 "${ours[@]}")" -v qt="$(median_of 1 "${qemu[@]}")" \
      -v qm="$(median_of 2 "${qemu[@]}")" \
      -v dt="$(median_of 1 "${durable[@]}")" 'BEGIN {
    printf "%-7s hvconvert %5.2f s %5.1f MiB | qemu-img %5.2f s %5.1f MiB" \
           " | qemu-img+sync %5.2f s | ratio %.2f, durable %.2f\n",
           n, ot, om / 1024, qt, qm / 1024, dt, ot / qt, ot / dt
  }'
}

mkdir -p "$dir"
make_images
echo "bench-disk: $runs runs per tool and variant, median wall time and peak RSS"
bench_variant "$dir/sparse.img" sparse
bench_variant "$dir/dense.img" dense
rm -f "$dir/out.vhd" "$dir/time.txt" "$dir/stderr.txt"
if [[ $keep == no ]]; then rm -f "$dir/sparse.img" "$dir/dense.img"; fi

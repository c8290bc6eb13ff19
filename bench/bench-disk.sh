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
# into place (that is in its time); qemu-img does not fsync.  So two
# like-for-like ratios are printed (see compare in lib.sh): hvconvert
# against qemu-img followed by `sync FILE`, and hvconvert --no-sync
# against qemu-img as is.
#
# Usage: bench/bench-disk.sh [-n RUNS] [-d DIR] [-k]
#   -n RUNS  runs per tool and variant (default 5)
#   -d DIR   work directory (default bench/out); needs about 4 GiB
#   -k       keep the images for the next run (they are reused if there)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

make_images () {
  local sparse=$dir/sparse.img dense=$dir/dense.img
  if [[ -f $sparse && -f $dense ]]; then return; fi
  echo "bench-disk: building 2 GiB test images in $dir" >&2
  rm -f "$sparse" "$dense"
  make_raw "$sparse"
  cp --sparse=never "$sparse" "$dense"
  sync
}

mkdir -p "$dir"
make_images
echo "bench-disk: $runs runs per tool and variant, median wall time and peak RSS"
qemu_args=(convert -f raw -O vpc -o subformat=dynamic)
compare sparse "$dir/sparse.img" "${qemu_args[@]}"
compare dense "$dir/dense.img" "${qemu_args[@]}"
rm -f "$dir/out.vhd" "$dir/time.txt" "$dir/stderr.txt"
if [[ $keep == no ]]; then rm -f "$dir/sparse.img" "$dir/dense.img"; fi

#!/bin/bash
# bench/bench-formats.sh: `hvconvert disk` from foreign formats against
# `qemu-img convert -O vpc -o subformat=dynamic` (issue 4's targets).
#
# The layout of bench-disk.sh (2 GiB, about half data, half unallocated),
# with text data that deflate compresses to about 3/4 (random bytes would
# leave "compressed" formats uncompressed), is stored by qemu-img as a
# streamOptimized VMDK, a
# compressed QCOW2, a dynamic VDI and a dynamic VHDX.  Each is converted
# into a dynamic VHD by both tools, alternating, N runs each; the median
# wall time and peak RSS of each tool and the two like-for-like ratios
# ours/qemu are printed: hvconvert (which fsyncs its output before the
# rename) against qemu-img followed by `sync FILE`, and hvconvert
# --no-sync against qemu-img as is (see compare in lib.sh).
# Targets: ratio <= 0.6 for the compressed sources (vmdk-so, qcow2-c),
# <= 0.8 for the others; peak RSS <= 128 MiB.
#
# Usage: bench/bench-formats.sh [-n RUNS] [-d DIR] [-k] [FORMAT...]
#   -n RUNS  runs per tool and source (default 5)
#   -d DIR   work directory (default bench/out); needs about 6 GiB
#   -k       keep the images for the next run (they are reused if there)
#   FORMAT   some of: vmdk-so qcow2-c vdi vhdx (default: all)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

# How qemu-img stores the content for each source kind.
declare -A create=(
  [vmdk-so]="-O vmdk -o subformat=streamOptimized"
  [qcow2-c]="-O qcow2 -c"
  [vdi]="-O vdi"
  [vhdx]="-O vhdx -o subformat=dynamic"
)
formats=("${operands[@]}")
[[ ${#formats[@]} -gt 0 ]] || formats=(vmdk-so qcow2-c vdi vhdx)

mkdir -p "$dir"
if [[ ! -f $dir/text.img ]]; then
  echo "bench-formats: building the 2 GiB content in $dir" >&2
  make_raw "$dir/text.img" text
fi
for f in "${formats[@]}"; do
  [[ -n ${create[$f]:-} ]] || die "unknown source kind '$f'"
  if [[ ! -f $dir/src.$f ]]; then
    echo "bench-formats: qemu-img convert ${create[$f]} -> src.$f" >&2
    # shellcheck disable=SC2086 # the options are words
    qemu-img convert -f raw ${create[$f]} "$dir/text.img" "$dir/src.$f"
  fi
done
sync
echo "bench-formats: $runs runs per tool and source, median wall time and peak RSS"
for f in "${formats[@]}"; do
  compare "$f" "$dir/src.$f" convert -O vpc -o subformat=dynamic
done
rm -f "$dir/out.vhd" "$dir/time.txt" "$dir/stderr.txt"
if [[ $keep == no ]]; then
  rm -f "$dir/text.img"
  for f in "${formats[@]}"; do rm -f "$dir/src.$f"; done
fi

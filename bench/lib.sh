# bench/lib.sh: what the bench scripts share (sourced, not run).
#
# Parses the options every bench script takes (-n RUNS, -d DIR, -k; see
# their Usage) into $runs, $dir and $keep, leaving the operands in
# $operands.  Sets $hvconvert (HVCONVERT, else convert/hvconvert of this
# tree, in place or in build/) and $size (2 GiB).  Provides die, layout,
# make_raw, timed, median, median_of and compare.

runs=5
dir=$(cd "$(dirname "$0")" && pwd)/out
keep=no
while getopts n:d:k opt; do
  case $opt in
    n) runs=$OPTARG ;;
    d) dir=$OPTARG ;;
    k) keep=yes ;;
    *) sed -n '/^# Usage:/,/^# in place/s/^# //p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
operands=("$@")

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
bench=$(basename "$0" .sh)
hvconvert=${HVCONVERT:-}
if [[ -z $hvconvert ]]; then
  for hvconvert in "$top/convert/hvconvert" "$top/build/convert/hvconvert"; do
    [[ -x $hvconvert ]] && break
  done
fi

die () { echo "$bench: $*" >&2; exit 1; }

[[ -x $hvconvert ]] || die "$hvconvert not built: run make first"
command -v qemu-img >/dev/null || die "qemu-img missing: apt-get install qemu-utils"
if [[ ! -x /usr/bin/time ]]; then
  echo "$bench: installing GNU time (apt-get install time)" >&2
  apt-get install -y time >/dev/null || die "cannot install GNU time"
fi

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

# make_raw FILE [text]: the 2 GiB layout as a sparse raw file (zeros
# are holes).  The data is random bytes, or with "text" base64 text of
# random bytes, which deflate shrinks to about 3/4 as it does real
# files, so compressed formats really hold compressed clusters.
make_raw () {
  local src=/dev/urandom
  truncate -s "$size" "$1"
  if [[ ${2:-} == text ]]; then
    src=$(dirname "$1")/.text.tmp
    head -c $((region * 3 / 4)) /dev/urandom | base64 -w 0 >"$src"
  fi
  layout | while read -r seek count; do
    dd if="$src" of="$1" bs=$unit seek="$seek" count="$count" \
       conv=notrunc status=none iflag=fullblock
  done
  [[ $src == /dev/urandom ]] || rm -f "$src"
}

# One timed run: prints "SECONDS MAXRSS_KIB".  $dir/out.vhd is removed
# first and `sync` runs (untimed) so one run's writeback does not land
# in the next.
timed () {
  local out=$dir/out.vhd tfile=$dir/time.txt
  rm -f "$out"
  sync
  /usr/bin/time -f '%e %M' -o "$tfile" "$@" >/dev/null 2>"$dir/stderr.txt" ||
    { cat "$dir/stderr.txt" >&2; die "failed: $*"; }
  tail -n 1 "$tfile"
}

median () { sort -n | awk '{ v[NR] = $1 } END { print v[int ((NR + 1) / 2)] }'; }

# The median of field $1 of the "SECONDS KIB" arguments that follow.
median_of () {
  local field=$1
  shift
  printf '%s\n' "$@" | cut -d' ' -f"$field" | median
}

# qemu-img does not fsync what it wrote; hvconvert does by default (its
# output is renamed into place only once durable).  So each pair is timed
# both ways, like for like: hvconvert as is against qemu-img followed by
# `sync FILE` ("qemu-img+sync"), and hvconvert --no-sync against
# qemu-img as is.  Neither side of the second pair waits for the disk.
# shellcheck disable=SC2016 # expanded by the inner bash
durable_qemu='qemu-img "${@:2}" "$1" && sync "$1"'

# compare NAME SRC QEMU-ARGS...: RUNS rounds of four runs into
# $dir/out.vhd: `hvconvert disk SRC`, `hvconvert disk --no-sync SRC`,
# `qemu-img QEMU-ARGS SRC` and that plus sync.  Each round starts with
# the next of the four, so no tool always runs after the same one (on a
# virtual machine, memory just freed by the previous run is faster to
# reuse than memory the host has taken back).  Prints medians, peak RSS
# and the two like-for-like ratios; the target applies to both.
compare () {
  local name=$1 img=$2 out=$dir/out.vhd i k
  local -a ours=() nosync=() qemu=() durable=()
  shift 2
  for ((i = 0; i < runs; i++)); do
    for ((k = 0; k < 4; k++)); do
      case $(((i + k) % 4)) in
        0) ours+=("$(timed "$hvconvert" disk "$img" "$out")") ;;
        1) nosync+=("$(timed "$hvconvert" disk --no-sync "$img" "$out")") ;;
        2) qemu+=("$(timed qemu-img "$@" "$img" "$out")") ;;
        3) durable+=("$(timed bash -c "$durable_qemu" bash "$out" "$@" \
                           "$img")") ;;
      esac
    done
  done
  echo "$name: all runs (s KiB): hvconvert: ${ours[*]};" \
       "hvconvert --no-sync: ${nosync[*]}; qemu-img: ${qemu[*]};" \
       "qemu-img+sync: ${durable[*]}" >&2
  awk -v n="$name" -v ot="$(median_of 1 "${ours[@]}")" \
      -v om="$(median_of 2 "${ours[@]}")" \
      -v nt="$(median_of 1 "${nosync[@]}")" \
      -v qt="$(median_of 1 "${qemu[@]}")" \
      -v qm="$(median_of 2 "${qemu[@]}")" \
      -v dt="$(median_of 1 "${durable[@]}")" 'BEGIN {
    printf "%-8s hvconvert %5.2f s %5.1f MiB vs qemu-img+sync %5.2f s:" \
           " ratio %.2f | --no-sync %5.2f s vs qemu-img %5.2f s %5.1f MiB:" \
           " ratio %.2f\n",
           n, ot, om / 1024, dt, ot / dt, nt, qt, qm / 1024, nt / qt
  }'
}

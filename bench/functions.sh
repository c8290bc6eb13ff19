# shellcheck shell=bash
# bench/functions.sh: what the benchmarks share; source it first.  It
# parses the options every benchmark takes (-n RUNS, -d DIR, -k; see the
# "# Usage:" comment of the benchmark, which -h prints), finds hvconvert
# ($HVCONVERT, else convert/hvconvert of this tree, in place or in
# build/), checks for qemu-img and GNU time, and defines die, timed,
# median and median_of.

set -euo pipefail

bench=$(basename "$0" .sh)
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
runs=5
dir=$here/out
keep=no
hvconvert=${HVCONVERT:-}
if [[ -z $hvconvert ]]; then
  for hvconvert in "$top/convert/hvconvert" "$top/build/convert/hvconvert"; do
    [[ -x $hvconvert ]] && break
  done
fi

while getopts n:d:k opt; do
  case $opt in
    n) runs=$OPTARG ;;
    d) dir=$OPTARG ;;
    k) keep=yes ;;
    *) sed -n '/^# Usage:/,/^# in place/s/^# //p' "$0" >&2; exit 2 ;;
  esac
done

die () { echo "$bench: $*" >&2; exit 1; }

[[ -x $hvconvert ]] || die "$hvconvert not built: run make first"
command -v qemu-img >/dev/null ||
  die "qemu-img missing: apt-get install qemu-utils"
if [[ ! -x /usr/bin/time ]]; then
  echo "$bench: installing GNU time (apt-get install time)" >&2
  apt-get install -y time >/dev/null || die "cannot install GNU time"
fi

# One timed run, after removing $dir/out.vhd and a sync (untimed):
# prints "SECONDS MAXRSS_KIB".
timed () {
  local tfile=$dir/time.txt
  rm -f "$dir/out.vhd"
  sync
  /usr/bin/time -f '%e %M' -o "$tfile" "$@" >/dev/null \
    2>"$dir/stderr.txt" ||
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

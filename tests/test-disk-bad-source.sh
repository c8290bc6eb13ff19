#!/bin/bash
# hvconvert disk with sources it must refuse, or accept with a warning:
# a missing file, a directory, a FIFO, an empty file, an unknown --format,
# and a file whose size is not a multiple of 512 (padded with zeros).
# A refused source leaves nothing behind.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

# refused SRC STATUS MESSAGE [OPTIONS...]: fails with STATUS and MESSAGE
# on stderr, creating no DST and no temporary.
refused () {
  local src=$1 status=$2 message=$3 rc=0
  shift 3
  "$HVCONVERT" disk "$@" "$src" "$tmp/out.vhd" 2>"$tmp/stderr" || rc=$?
  assert_eq "$rc" "$status" "exit status for $src"
  assert_grep "$message" "$tmp/stderr"
  [[ ! -e $tmp/out.vhd ]] || fail "$tmp/out.vhd created for $src"
  assert_no_temporary "$tmp"
}

refused "$tmp/missing.img" 1 "missing.img: No such file or directory"
mkdir "$tmp/dir"
refused "$tmp/dir" 1 "dir: is a directory"
mkfifo "$tmp/fifo"
refused "$tmp/fifo" 1 "fifo: not a regular file or a block device"
: > "$tmp/empty.img"
refused "$tmp/empty.img" 1 "empty.img"
grep -qi "size" "$tmp/stderr" || fail "no word on the size: $(cat "$tmp/stderr")"
head -c 4096 /dev/urandom > "$tmp/small.img"
refused "$tmp/small.img" 2 "unknown source format 'qcow7'" --format qcow7
refused "$tmp/small.img" 2 "type: 'sparse': expected one of dynamic|fixed" \
  --type sparse
refused "$tmp/small.img" 2 "not a power of two" --block-size 3M
refused "$tmp/small.img" 2 "dynamic VHDs only" --type fixed --block-size 2M

# Not a multiple of 512: a warning, then the disk is the file padded with
# zeros to the next sector, in both VHD types.
odd=$((3 * MiB + 100))
head -c "$odd" /dev/urandom > "$tmp/odd.img"
cp "$tmp/odd.img" "$tmp/padded.img"
truncate -s $(( (odd + 511) / 512 * 512 )) "$tmp/padded.img"
for type in dynamic fixed; do
  "$HVCONVERT" disk --type "$type" "$tmp/odd.img" "$tmp/$type.vhd" \
    2>"$tmp/stderr" || fail "converting odd.img: $(cat "$tmp/stderr")"
  assert_grep "warning: .*odd.img: size $odd is not a multiple of 512" \
    "$tmp/stderr"
  assert_identical "$tmp/padded.img" raw "$tmp/$type.vhd"
done

echo "PASS: $test_name"

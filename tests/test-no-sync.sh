#!/bin/bash
# --no-sync (disk, vhd convert, import): the output is the same, it is
# still renamed into place only when complete, and no fsync, fdatasync
# or sync_file_range is made; without it the output is fsync'd.  strace
# watches the system calls, so this is checked on what the process did,
# not on what it says.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require strace strace

src=$tmp/src.img
make_image "$src" $((64 * MiB)) sparse

# syncs LOG: how many flushing calls the traced process made.
syncs () {
  grep -cE '^[0-9]+ +(fsync|fdatasync|sync_file_range)\(' "$1" || true
}

# traced NAME CMD...: run CMD under strace into $tmp/NAME.trace.
# LeakSanitizer cannot run under ptrace (the sanitizer build): leaks are
# checked by the untraced runs of the other tests.
traced () {
  local name=$1
  shift
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -o "$tmp/$name.trace" \
    -e trace=fsync,fdatasync,sync_file_range,rename,renameat,renameat2 \
    "$@" 2>"$tmp/stderr" || fail "$name: $(cat "$tmp/stderr")"
}

# The default is durable: the temporary is fsync'd before its rename.
traced durable "$HVCONVERT" disk "$src" "$tmp/durable.vhd"
n=$(syncs "$tmp/durable.trace")
[[ $n -ge 2 ]] || fail "disk: $n flushing calls, want the file's and the directory's"
first_sync=$(grep -nE 'fsync\(' "$tmp/durable.trace" | head -n 1 | cut -d: -f1)
rename=$(grep -nE 'rename' "$tmp/durable.trace" | head -n 1 | cut -d: -f1)
[[ -n $rename && $first_sync -lt $rename ]] ||
  fail "disk: the output was not fsync'd before its rename"

# --no-sync: the same disk, renamed into place, and nothing flushed.
traced disk "$HVCONVERT" disk --no-sync "$src" "$tmp/fast.vhd"
assert_eq "$(syncs "$tmp/disk.trace")" 0 "flushing calls of disk --no-sync"
assert_grep renameat2 "$tmp/disk.trace"
assert_identical "$src" raw "$tmp/fast.vhd"
"$HVCONVERT" vhd check "$tmp/fast.vhd" >/dev/null ||
  fail "vhd check of the --no-sync output"
assert_no_temporary "$tmp"

# With --type fixed and --force (an existing DST is still replaced only
# by the rename).
traced fixed "$HVCONVERT" disk --no-sync --force --type fixed "$src" \
  "$tmp/fast.vhd"
assert_eq "$(syncs "$tmp/fixed.trace")" 0 "flushing calls of a fixed --no-sync"
assert_identical "$src" raw "$tmp/fast.vhd"

# vhd convert --no-sync.
traced convert "$HVCONVERT" vhd convert --no-sync "$tmp/durable.vhd" \
  "$tmp/converted.vhd" --type fixed
assert_eq "$(syncs "$tmp/convert.trace")" 0 "flushing calls of vhd convert --no-sync"
assert_identical "$src" raw "$tmp/converted.vhd"

# import as is flushes the disk, the definitions and the directories.
traced import-durable "$HVCONVERT" import "$src" -o "$tmp/machines" \
  --name m0
n=$(syncs "$tmp/import-durable.trace")
[[ $n -ge 4 ]] || fail "import: $n flushing calls"

# import --no-sync: the machine directory and its disk.
traced import "$HVCONVERT" import --no-sync "$src" -o "$tmp/machines" \
  --name m1
assert_eq "$(syncs "$tmp/import.trace")" 0 "flushing calls of import --no-sync"
assert_identical "$src" raw "$tmp/machines/m1/m1-disk1.vhd"
[[ -z $(find "$tmp/machines" -maxdepth 1 -name '.*hvconvert-*') ]] ||
  fail "import --no-sync left a temporary directory"

# An interrupted --no-sync run still leaves nothing: the failure path
# does not depend on the flush.
rc=0
HVCONVERT_FAULT=write:5 "$HVCONVERT" disk --no-sync "$src" \
  "$tmp/failed.vhd" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status of a failed --no-sync run"
[[ ! -e $tmp/failed.vhd ]] || fail "a failed --no-sync run left its DST"
assert_no_temporary "$tmp"

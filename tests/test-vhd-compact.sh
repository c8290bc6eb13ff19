#!/bin/bash
# hvconvert vhd compact: empty blocks unallocated and the file shrunk in
# place, the content (qemu's reading and ours) and the disk's identity
# unchanged; on a differencing disk only blocks with an empty bitmap go
# (present zeros hide the parent); fixed disks, saved state and a locked
# file are refused.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# compact FILE: run it, keeping its message.
compact () {
  "$HVCONVERT" vhd compact "$1" 2>"$tmp/compact.err" ||
    fail "vhd compact $1: $(cat "$tmp/compact.err")"
}

# identity FILE: the fields compact must keep.
identity () {
  "$HVCONVERT" vhd info --json "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(*(j[k] for k in ("type", "virtual_size", "uuid", "creator_app",
                       "creator_version", "creator_host", "timestamp",
                       "block_size", "cylinders", "heads")))'
}

# refused FILE PATTERN: compact fails with status 1 and PATTERN, and
# the file is unchanged.
refused () {
  local before rc=0
  before=$(sha256sum <"$1")
  "$HVCONVERT" vhd compact "$1" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" 1 "exit status of vhd compact $1"
  assert_grep "$2" "$tmp/err"
  assert_eq "$(sha256sum <"$1")" "$before" "$1 unchanged"
}

# ---------------------------------------------------------------------
# Dynamic: 32 blocks of 1 MiB; data in some, zeros written into others
# (allocated, all zero), one block with zeros and a single data byte.
d=$tmp/dyn.vhd raw=$tmp/dyn.raw
new_disk "$d" "$raw" $((32 * MiB)) --block-size 1M 2>/dev/null
for blk in 0 3 4 9 17 30 31; do
  vwrite "$d" "$raw" $((blk * MiB + 512 * blk)) 70000 "$blk"
done
for blk in 1 2 5 8 10 11 20 29; do
  vwrite "$d" "$raw" $((blk * MiB)) $((MiB)) zero
done
vwrite "$d" "$raw" $((12 * MiB)) $((MiB)) zero
vwrite "$d" "$raw" $((13 * MiB - 1)) 1 77          # last byte of block 12
assert_reads "$raw" "$d" "before compact"
assert_eq "$(info_field "$d" blocks_allocated)" 16 "blocks before"
id=$(identity "$d")
before=$(file_size "$d")

compact "$d"
assert_grep "8 of 16 blocks were empty" "$tmp/compact.err"
assert_reads "$raw" "$d" "after compact"
assert_eq "$(info_field "$d" blocks_allocated)" 8 "blocks after"
assert_eq "$(identity "$d")" "$id" "identity kept"
assert_eq "$(vhd_data_bytes "$d")" "$(expected_data_bytes "$raw" $((MiB)))" \
  "qemu's map of the allocated data"
# 8 blocks of 1 MiB + bitmap, aligned, plus the metadata: under 9 MiB.
(( $(file_size "$d") < 9 * MiB && $(file_size "$d") < before )) ||
  fail "file not shrunk: $before -> $(file_size "$d")"
# The footer copy at 0 still matches the footer at the end.
cmp <(head -c 512 "$d") <(tail -c 512 "$d") >/dev/null ||
  fail "footer copies differ"

# Again: nothing to do, nothing written.
sum=$(sha256sum <"$d")
compact "$d"
assert_grep "0 of 8 blocks were empty" "$tmp/compact.err"
assert_eq "$(sha256sum <"$d")" "$sum" "second compact changes nothing"

# --machine-readable: a done event with the numbers.
vwrite "$d" "$raw" $((7 * MiB)) 4096 zero
"$HVCONVERT" --machine-readable vhd compact "$d" >"$tmp/events" ||
  fail "vhd compact --machine-readable"
assert_events "$tmp/events" "
  by('done')[0]['blocks_before'] == 9 and
  by('done')[0]['blocks_dropped'] == 1 and
  by('done')[0]['size_after'] == $(file_size "$d")" "done event"
assert_reads "$raw" "$d" "after the third compact"

# ---------------------------------------------------------------------
# A VHD written by qemu (its own layout: blocks not aligned, BAT padded
# differently): zeros written into allocated blocks, then compacted.
require qemu-io qemu-utils
q=$tmp/qemu.vhd
truncate -s $((24 * MiB)) "$tmp/q.raw"
write_data "$tmp/q.raw" 0 $((8 * MiB))
write_data "$tmp/q.raw" $((20 * MiB)) $((4 * MiB))
"$QEMU_IMG" convert -f raw -O vpc -o subformat=dynamic,force_size=on \
  "$tmp/q.raw" "$q"
qemu-io -f vpc -c "write -P 0 $((2 * MiB)) $((4 * MiB))" "$q" >/dev/null
write_zeros "$tmp/q.raw" $((2 * MiB)) $((4 * MiB))
assert_reads "$tmp/q.raw" "$q" "qemu's VHD"
compact "$q"
assert_grep "2 of 6 blocks were empty" "$tmp/compact.err"
assert_reads "$tmp/q.raw" "$q" "qemu's VHD compacted"
assert_eq "$(info_field "$q" creator_app)" qem2 "qemu's creator kept"

# ---------------------------------------------------------------------
# Differencing: block 0 data, block 1 present zeros over the parent's
# data (kept), block 2 data whose bitmap is then cleared (dropped: it
# reads the parent), block 3 untouched.
p=$tmp/parent.vhd c=$tmp/child.vhd
new_disk "$p" "$tmp/p.raw" $((8 * MiB))
vwrite "$p" "$tmp/p.raw" 0 $((8 * MiB)) 1
new_child "$c" "$tmp/c.raw" "$p" "$tmp/p.raw"
vwrite "$c" "$tmp/c.raw" 4096 8192 2
vwrite "$c" "$tmp/c.raw" $((2 * MiB)) $((MiB)) zero
cp "$tmp/c.raw" "$tmp/c-before-clear.raw"
vwrite "$c" "$tmp/c.raw" $((4 * MiB)) 4096 3
clear_bitmap "$c" 2
cp "$tmp/c-before-clear.raw" "$tmp/c.raw"
out=$("$HVCONVERT" vhd diff "$tmp/c.raw" "$c" 2>&1) || fail "child: $out"
parent_sum=$(sha256sum <"$p")
"$HVCONVERT" vhd info "$c" | grep '^parent' >"$tmp/parent-fields"
"$VHDIINFO" "$c" | grep -i parent >"$tmp/vhdi-parent"
id=$(identity "$c")

compact "$c"
assert_grep "1 of 3 blocks were empty" "$tmp/compact.err"
out=$("$HVCONVERT" vhd diff "$tmp/c.raw" "$c" 2>&1) ||
  fail "child after compact: $out"
out=$("$HVCONVERT" vhd check "$c" 2>&1) || fail "vhd check child: $out"
assert_eq "$(identity "$c")" "$id" "child's identity kept"
assert_eq "$(sha256sum <"$p")" "$parent_sum" "parent untouched"
"$HVCONVERT" vhd info "$c" | grep '^parent' | cmp - "$tmp/parent-fields" ||
  fail "parent fields changed"
"$VHDIINFO" "$c" | grep -i parent | cmp - "$tmp/vhdi-parent" ||
  fail "libvhdi sees other parent fields"

# ---------------------------------------------------------------------
# Refusals.
f=$tmp/fixed.vhd
"$HVCONVERT" vhd create "$f" --size 4M --type fixed
refused "$f" "a fixed VHD cannot be compacted"
s=$tmp/saved.vhd
cp "$d" "$s"
set_saved_state "$s"
refused "$s" "saved-state flag is set"

# A file another process has locked (QEMU locks the images it uses).
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.lockf(f, fcntl.LOCK_SH)
print("locked", flush=True)
time.sleep(60)' "$d" >"$tmp/lock.out" &
locker=$!
on_exit kill "$locker"
for _ in $(seq 50); do grep -q locked "$tmp/lock.out" && break; sleep 0.1; done
vwrite "$d" "$raw" $((14 * MiB)) 512 zero
refused "$d" "in use"
kill "$locker"

echo "PASS: $test_name"

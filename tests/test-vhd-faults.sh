#!/bin/bash
# Crash safety of the in-place operations: vhd compact, vhd expand and
# vhd merge are run once for every write they make, with the fault
# injector (HVCONVERT_FAULT, common/io.c) failing that write (write:N,
# the command must fail with status 1) or killing the process just
# before it (exit:N, status 137 from SIGKILL), until N is past the last
# write and the command succeeds.  After every interrupted run:
#   - vhd check finds no problem in the file;
#   - our reader and qemu's each read the old content or the new one,
#     size included (they may differ in which: see expand.c);
#   - running the command again without a fault succeeds and gives the
#     new content.
# For merge, the child (while it exists) must read the new content at
# every point, and a merge into a fixed parent, which has no table to
# switch, is allowed to leave the parent half merged: only the chain
# must read right.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# old_or_new VHD OLD NEW WHAT: each reader reads OLD or NEW.  QEMU does
# not read differencing disks ($qemu is "no" then).
qemu=yes
old_or_new () {
  local out
  out=$("$HVCONVERT" vhd check "$1" 2>&1) || fail "$4: vhd check: $out"
  ours_reads "$2" "$1" || ours_reads "$3" "$1" ||
    fail "$4: our reader sees neither the old nor the new content"
  [[ $qemu == no ]] || qemu_reads "$2" "$1" || qemu_reads "$3" "$1" ||
    fail "$4: qemu sees neither the old nor the new content"
}

# faults NAME SETUP CHECK RUN...: for each mode and N: SETUP (fresh
# files), RUN with the fault, then CHECK "WHAT" after a faulted run,
# then RUN again and CHECK "WHAT" done.
faults () {
  local name=$1 setup=$2 check=$3 mode n rc
  shift 3
  for mode in write exit; do
    for ((n = 1; ; n++)); do
      $setup
      rc=0
      # In a subshell, so that bash's "Killed" goes to the log too.
      (HVCONVERT_FAULT=$mode:$n "$@"; exit $?) >/dev/null 2>"$tmp/fault.err" ||
        rc=$?
      if [[ $rc == 0 ]]; then
        $check "$name: after $mode:$n (no fault hit)" done
        echo "$name: $mode: $((n - 1)) writes, each interrupted" >&2
        break
      fi
      if [[ $mode == write ]]; then
        assert_eq "$rc" 1 "$name: exit status with write:$n"
      else
        assert_eq "$rc" 137 "$name: exit status with exit:$n"
      fi
      grep -q "HVCONVERT_FAULT" "$tmp/fault.err" ||
        fail "$name: $mode:$n failed without the fault: $(cat "$tmp/fault.err")"
      $check "$name: $mode:$n" interrupted
      "$@" >/dev/null 2>"$tmp/rerun.err" ||
        fail "$name: rerun after $mode:$n: $(cat "$tmp/rerun.err")"
      $check "$name: rerun after $mode:$n" done
      (( n < 200 )) || fail "$name: more than 200 writes?"
    done
  done
}

# ---------------------------------------------------------------------
# compact: a dynamic disk with empty blocks between data, so blocks move
# and the file shrinks.
d=$tmp/dyn.vhd
new_disk "$tmp/c0.vhd" "$tmp/c.raw" $((16 * MiB)) --block-size 512K 2>/dev/null
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
  if (( i % 3 == 1 )); then pattern=zero; else pattern=$i; fi
  vwrite "$tmp/c0.vhd" "$tmp/c.raw" $((i * 1300 * KiB)) $((700 * KiB)) \
    "$pattern"
done
setup_compact () { cp "$tmp/c0.vhd" "$d"; }
check_compact () {
  old_or_new "$d" "$tmp/c.raw" "$tmp/c.raw" "$1"
  if [[ $2 == done ]]; then
    (( $(file_size "$d") < $(file_size "$tmp/c0.vhd") )) ||
      fail "$1: the file did not shrink"
  fi
}
faults compact setup_compact check_compact "$HVCONVERT" vhd compact "$d"

# ---------------------------------------------------------------------
# expand, fixed.
f=$tmp/fixed.vhd
new_disk "$tmp/f0.vhd" "$tmp/f.raw" $((4 * MiB)) --type fixed
vwrite "$tmp/f0.vhd" "$tmp/f.raw" 0 $((4 * MiB)) 1
cp "$tmp/f.raw" "$tmp/f-new.raw"
truncate -s $((6 * MiB + 512)) "$tmp/f-new.raw"
setup_fixed () { cp "$tmp/f0.vhd" "$f"; }
check_fixed () {
  old_or_new "$f" "$tmp/f.raw" "$tmp/f-new.raw" "$1"
  if [[ $2 == done ]]; then assert_reads "$tmp/f-new.raw" "$f" "$1"; fi
}
faults "expand fixed" setup_fixed check_fixed \
  "$HVCONVERT" vhd expand "$f" --size $((6 * MiB + 512))

# expand, dynamic: from 2 MiB to 300 MiB in 512 KiB blocks, the BAT grows
# from one sector to five, over the first blocks, which move.
new_disk "$tmp/e0.vhd" "$tmp/e.raw" $((2 * MiB)) --block-size 512K 2>/dev/null
vwrite "$tmp/e0.vhd" "$tmp/e.raw" 0 $((2 * MiB)) 2
cp "$tmp/e.raw" "$tmp/e-new.raw"
truncate -s $((300 * MiB)) "$tmp/e-new.raw"
setup_dyn () { cp "$tmp/e0.vhd" "$d"; }
check_dyn () {
  old_or_new "$d" "$tmp/e.raw" "$tmp/e-new.raw" "$1"
  if [[ $2 == done ]]; then assert_reads "$tmp/e-new.raw" "$d" "$1"; fi
}
faults "expand dynamic" setup_dyn check_dyn \
  "$HVCONVERT" vhd expand "$d" --size $((300 * MiB))

# ---------------------------------------------------------------------
# merge: a child in 512 KiB blocks over a parent in 2 MiB blocks, dynamic
# then differencing (a chain of three), then fixed.

# make_pair PARENT-OPTIONS...: $tmp/p0.vhd (+ $tmp/g0.vhd for a chain),
# child $tmp/k0.vhd; $tmp/p.raw the parent's content, $tmp/k.raw the
# child's.
make_pair () {
  rm -f "$tmp"/g0.vhd "$tmp"/p0.vhd "$tmp"/k0.vhd
  if [[ ${1:-} == chain ]]; then
    new_disk "$tmp/g0.vhd" "$tmp/g.raw" $((8 * MiB))
    vwrite "$tmp/g0.vhd" "$tmp/g.raw" 0 $((3 * MiB)) 3
    new_child "$tmp/p0.vhd" "$tmp/p.raw" "$tmp/g0.vhd" "$tmp/g.raw"
  else
    new_disk "$tmp/p0.vhd" "$tmp/p.raw" $((8 * MiB)) "$@"
  fi
  vwrite "$tmp/p0.vhd" "$tmp/p.raw" $((MiB + 512)) $((2 * MiB)) 4
  new_child "$tmp/k0.vhd" "$tmp/k.raw" "$tmp/p0.vhd" "$tmp/p.raw" \
    --block-size 512K 2>/dev/null
  vwrite "$tmp/k0.vhd" "$tmp/k.raw" 4096 5000 5
  vwrite "$tmp/k0.vhd" "$tmp/k.raw" $((2 * MiB - 1024)) $((600 * KiB)) 6
  vwrite "$tmp/k0.vhd" "$tmp/k.raw" $((6 * MiB)) $((512 * KiB)) zero
}

# The files are copied into a directory of their own each time (the
# child's locators name the parent by file name).
setup_merge () {
  rm -rf "$tmp/m"
  mkdir "$tmp/m"
  cp "$tmp"/*0.vhd "$tmp/m/"
}
check_merge () {
  local p=$tmp/m/p0.vhd k=$tmp/m/k0.vhd
  if [[ -e $k ]]; then
    ours_reads "$tmp/k.raw" "$k" || fail "$1: the chain does not read right"
  fi
  if [[ $fixed == yes && -e $k ]]; then
    out=$("$HVCONVERT" vhd check "$p" 2>&1) || fail "$1: vhd check: $out"
  else
    old_or_new "$p" "$tmp/p.raw" "$tmp/k.raw" "$1"
  fi
  if [[ $2 == done ]]; then
    [[ ! -e $k ]] || fail "$1: the child is still there"
    if [[ $qemu == yes ]]; then assert_reads "$tmp/k.raw" "$p" "$1"; fi
  fi
}
# rerun only while the child is there: a crash after its removal is a
# finished merge.
merge_cmd () {
  [[ -e $tmp/m/k0.vhd ]] || return 0
  "$HVCONVERT" vhd merge "$tmp/m/k0.vhd"
}

fixed=no
make_pair
faults "merge into dynamic" setup_merge check_merge merge_cmd
make_pair chain
qemu=no
faults "merge into differencing" setup_merge check_merge merge_cmd
qemu=yes
fixed=yes
make_pair --type fixed
faults "merge into fixed" setup_merge check_merge merge_cmd

echo "PASS: $test_name"

#!/bin/bash
# hvconvert vhd merge: a differencing child folded into its dynamic,
# differencing or fixed parent (the parent then reads what the child
# read, the child is gone), with child and parent in different block
# sizes as Hyper-V makes them; --output writes the flattened chain to a
# new disk and changes nothing; the parent's other children and the
# child's own children stop a merge unless --force; a wrong --into,
# a disk that is not differencing and saved state are refused.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# merge ARGS...: vhd merge, which must succeed.
merge () {
  "$HVCONVERT" vhd merge "$@" 2>"$tmp/err" ||
    fail "vhd merge $*: $(cat "$tmp/err")"
}

# refused STATUS PATTERN ARGS...: vhd merge fails so.
refused () {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$HVCONVERT" vhd merge "$@" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" "$want" "exit status of vhd merge $*"
  assert_grep "$pattern" "$tmp/err"
}

# child_writes CHILD RAW: writes over and between the parent's data,
# unaligned, present zeros, across child blocks of 512 KiB and parent
# blocks of 2 MiB, and the last sector.
child_writes () {
  vwrite "$1" "$2" 1000 5000 11
  vwrite "$1" "$2" $((2 * MiB - 4096)) $((MiB + 8192)) 12
  vwrite "$1" "$2" $((5 * MiB)) $((512 * KiB)) zero
  vwrite "$1" "$2" $((9 * MiB + 512)) 512 13
  vwrite "$1" "$2" $((12 * MiB - 512)) 512 14
}

# ---------------------------------------------------------------------
# Dynamic parent; the default parent, then --into.
dir=$tmp/dyn
mkdir "$dir"
p=$dir/parent.vhd c=$dir/child.vhd
new_disk "$p" "$dir/p.raw" $((12 * MiB))
vwrite "$p" "$dir/p.raw" 0 $((6 * MiB)) 1
new_child "$c" "$dir/c.raw" "$p" "$dir/p.raw" --block-size 512K 2>/dev/null
child_writes "$c" "$dir/c.raw"
uuid=$(info_field "$p" uuid)

# --output: a new standalone disk, nothing else changes.
sums=$(sha256sum "$p" "$c")
merge "$c" --output "$dir/flat.vhd"
assert_reads "$dir/c.raw" "$dir/flat.vhd" "merge --output"
assert_eq "$(info_field "$dir/flat.vhd" type)" dynamic "--output type"
assert_eq "$(sha256sum "$p" "$c")" "$sums" "--output changes nothing"
refused 1 "exists" "$c" --output "$dir/flat.vhd"
merge "$c" --output "$dir/flat.vhd" --force

merge "$c"
assert_grep "merged into .*parent.vhd" "$tmp/err"
[[ ! -e $c ]] || fail "the child was not removed"
assert_reads "$dir/c.raw" "$p" "dynamic parent after merge"
assert_eq "$(info_field "$p" uuid)" "$uuid" "the parent keeps its UUID"
# The blocks the merge replaced stay behind until compact.
before=$(file_size "$p")
"$HVCONVERT" vhd compact "$p" 2>/dev/null
(( $(file_size "$p") < before )) || fail "compact after merge gave nothing"
assert_reads "$dir/c.raw" "$p" "dynamic parent compacted"

# --into the right parent (another child); --into a wrong one.
new_child "$c" "$dir/c2.raw" "$p" "$dir/c.raw"
vwrite "$c" "$dir/c2.raw" $((3 * MiB)) 4096 15
refused 1 "its parent is .*parent.vhd, not .*flat.vhd" "$c" \
  --into "$dir/flat.vhd"
merge "$c" --into "$p"
assert_reads "$dir/c2.raw" "$p" "after merge --into"

# ---------------------------------------------------------------------
# A chain of three: the child merges into a differencing parent, whose
# own parent keeps giving what neither has.  (QEMU does not read
# differencing VHDs: our reader and the check only.)
dir=$tmp/chain
mkdir "$dir"
g=$dir/base.vhd p=$dir/mid.vhd c=$dir/top.vhd
new_disk "$g" "$dir/g.raw" $((12 * MiB))
vwrite "$g" "$dir/g.raw" 0 $((12 * MiB)) 21
new_child "$p" "$dir/p.raw" "$g" "$dir/g.raw"
vwrite "$p" "$dir/p.raw" $((MiB + 4096)) $((3 * MiB)) 22
new_child "$c" "$dir/c.raw" "$p" "$dir/p.raw" --block-size 512K 2>/dev/null
child_writes "$c" "$dir/c.raw"
gsum=$(sha256sum <"$g")
merge "$c"
[[ ! -e $c ]] || fail "the child was not removed"
out=$("$HVCONVERT" vhd check "$p" 2>&1) || fail "check mid.vhd: $out"
out=$("$HVCONVERT" vhd diff "$dir/c.raw" "$p" 2>&1) || fail "chain: $out"
assert_eq "$(sha256sum <"$g")" "$gsum" "the grandparent is not touched"

# ---------------------------------------------------------------------
# Fixed parent.
dir=$tmp/fixed
mkdir "$dir"
p=$dir/parent.vhd c=$dir/child.vhd
new_disk "$p" "$dir/p.raw" $((12 * MiB)) --type fixed
vwrite "$p" "$dir/p.raw" $((MiB)) $((2 * MiB)) 31
new_child "$c" "$dir/c.raw" "$p" "$dir/p.raw" --block-size 512K 2>/dev/null
child_writes "$c" "$dir/c.raw"
merge "$c"
assert_reads "$dir/c.raw" "$p" "fixed parent after merge"

# ---------------------------------------------------------------------
# Disks that depend on what a merge changes.
dir=$tmp/family
mkdir "$dir"
p=$dir/base.vhd
new_disk "$p" "$dir/p.raw" $((4 * MiB))
for k in a b; do
  new_child "$dir/$k.vhd" "$dir/$k.raw" "$p" "$dir/p.raw"
  vwrite "$dir/$k.vhd" "$dir/$k.raw" 0 4096 4$k
done
"$HVCONVERT" vhd create "$dir/a-child.vhd" --parent "$dir/a.vhd"
refused 1 "1 differencing disk in its directory has it as parent" "$dir/a.vhd"
assert_grep "b.vhd" "$tmp/err"
"$HVCONVERT" vhd merge "$dir/b.vhd" 2>"$tmp/err" && fail "merged b"
assert_grep "a.vhd" "$tmp/err"
rm "$dir/b.vhd"
refused 1 "a-child.vhd" "$dir/a.vhd"
assert_grep "merging and removing it" "$tmp/err"
merge "$dir/a.vhd" --force
assert_grep "warning: .*a-child.vhd" "$tmp/err"
assert_reads "$dir/a.raw" "$p" "merge --force"

# ---------------------------------------------------------------------
# Refusals.
refused 1 "not a differencing disk" "$p"
refused 2 "exclude each other" "$dir/a-child.vhd" --into "$p" --output x.vhd
refused 2 "expected CHILD" 
new_child "$dir/s.vhd" "$dir/s.raw" "$p" "$dir/p.raw"
set_saved_state "$dir/s.vhd"
refused 1 "saved-state flag is set" "$dir/s.vhd"
[[ -e $dir/s.vhd ]] || fail "a refused merge removed the child"

echo "PASS: $test_name"

#!/bin/bash
# Our VHD reader and writer against independent implementations.
#
#  1. qemu writes, we read: `qemu-img convert -O vpc` (dynamic and fixed,
#     with and without force_size) of a raw image whose size is not
#     CHS-exact; `hvconvert disk` of their file must hold what qemu reads
#     from it and what the raw image holds, at the size qemu reports.
#     (qemu's writer rounds the size up to whole CHS cylinders and stores
#     that as current_size, or keeps it exact with force_size; either way
#     current_size, our rule, is what qemu itself reads.)
#  2. We write, qemu and libvhdi read: `vhd create` of several sizes; both
#     must report exactly the requested size and the right type.
#  3. Differencing: a child of our parent, with blocks added by hand
#     (python, below: an independent writer), read by us and, mounted with
#     vhdimount, by libvhdi.
#  4. A chain we create and write with our own writer (tests/vhd-write),
#     mounted with vhdimount; writing through the child leaves the parent
#     as it was; then the chain merged (vhd merge) and expanded (vhd
#     expand), each read by libvhdi.
#
# Needs qemu-img (qemu-utils), vhdiinfo and vhdimount (libvhdi-utils)
# and /dev/fuse; a missing one is a failure.
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

VHDIMOUNT=${VHDIMOUNT:-vhdimount}
require "$VHDIMOUNT" libvhdi-utils
require_root
[[ -c /dev/fuse ]] || fail "/dev/fuse is missing: vhdimount (FUSE) cannot run"

size=$((100 * MiB + 7 * 512))   # not CHS-exact, not a block multiple

# qemu_size FILE: the virtual size qemu reads from a VHD (-f vpc: a
# fixed VHD has no signature at offset 0, so probing would say raw).
qemu_size () {
  "$QEMU_IMG" info --output=json -f vpc "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["virtual-size"])'
}

# info_field FILE KEY: a key of `hvconvert vhd info --json FILE`.
info_field () {
  "$HVCONVERT" vhd info --json "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# vhdi_field FILE LABEL: the value after "LABEL :" in vhdiinfo's output.
vhdi_field () {
  "$VHDIINFO" "$1" | sed -n "s/^[[:space:]]*$2[[:space:]]*: //p"
}

src=$tmp/src.raw
truncate -s "$size" "$src"
write_data "$src" 0 65536
write_data "$src" $((50 * MiB + 512)) 4096
write_data "$src" $((size - 1024)) 1024          # the last two sectors

# ---------------------------------------------------------------------
# 1. qemu's writer, our reader.
for sub in dynamic fixed; do
  for force in off on; do
    what="qemu $sub force_size=$force"
    theirs=$tmp/qemu-$sub-$force.vhd
    ours=$tmp/ours-of-qemu.vhd
    "$QEMU_IMG" convert -f raw -O vpc -o "subformat=$sub,force_size=$force" \
      "$src" "$theirs"
    qsize=$(qemu_size "$theirs")
    if [[ $force == on ]]; then
      assert_eq "$qsize" "$size" "$what: qemu's size with force_size"
      creator=qem2
    else
      # Rounded up to whole cylinders: less than one more (16*63 sectors
      # bounds a cylinder at this size).
      (( qsize >= size && qsize < size + 16 * 63 * 512 )) ||
        fail "$what: qemu's CHS-rounded size $qsize for $size"
      creator=qemu
    fi
    # vhd info of their file: parses, their creator, their size, type.
    assert_eq "$(info_field "$theirs" creator_app)" "$creator" \
      "$what: creator in vhd info --json"
    assert_eq "$(info_field "$theirs" virtual_size)" "$qsize" \
      "$what: virtual size in vhd info --json"
    assert_eq "$(info_field "$theirs" type)" "$sub" "$what: type"
    "$HVCONVERT" vhd check "$theirs" >"$tmp/check.out" ||
      fail "$what: vhd check: $(cat "$tmp/check.out")"

    rm -f "$ours"
    "$HVCONVERT" disk "$theirs" "$ours" 2>"$tmp/err" ||
      fail "$what: hvconvert disk: $(cat "$tmp/err")"
    # Same size and bytes as qemu reads from their file (compare alone
    # would accept a larger copy with zeros at the end)...
    assert_eq "$(qemu_size "$ours")" "$qsize" "$what: size of our copy"
    out=$("$QEMU_IMG" compare -f vpc -F vpc "$theirs" "$ours" 2>&1) ||
      fail "$what: our copy differs from what qemu reads: $out"
    # ...which is the raw image, then zeros up to the CHS size.
    out=$("$QEMU_IMG" compare -f raw -F vpc "$src" "$ours" 2>&1) ||
      fail "$what: our copy differs from the raw source: $out"
  done
done

# ---------------------------------------------------------------------
# 2. Our writer, qemu's and libvhdi's readers: exact sizes.
declare -A vhdi_type=([dynamic]=Dynamic [fixed]=Fixed)
for type in dynamic fixed; do
  for spec in default:$((127 * 1024 * MiB)) 2040G:$((2040 * 1024 * MiB)) \
              204807s:$size; do
    opt=${spec%%:*} want=${spec#*:}
    what="vhd create --type $type --size $opt"
    f=$tmp/created.vhd
    rm -f "$f"
    if [[ $opt == default ]]; then
      "$HVCONVERT" vhd create "$f" --type "$type" || fail "$what failed"
    else
      "$HVCONVERT" vhd create "$f" --size "$opt" --type "$type" ||
        fail "$what failed"
    fi
    assert_eq "$(qemu_size "$f")" "$want" "$what: qemu's virtual size"
    "$VHDIINFO" "$f" >"$tmp/vhdi.out" 2>&1 ||
      fail "$what: vhdiinfo failed: $(cat "$tmp/vhdi.out")"
    assert_eq "$(vhd_media_size "$f")" "$want" "$what: libvhdi's media size"
    assert_eq "$(vhdi_field "$f" 'Disk type')" "${vhdi_type[$type]}" \
      "$what: libvhdi's disk type"
    rm -f "$f"     # a fixed 2040 GiB file is sparse, but still huge
  done
done

# ---------------------------------------------------------------------
# 3. Differencing: our child of our parent, read by us and by libvhdi.

parent=$tmp/parent.vhd
"$HVCONVERT" disk "$src" "$parent" 2>"$tmp/err" ||
  fail "hvconvert disk (parent): $(cat "$tmp/err")"
parent_uuid=$(info_field "$parent" uuid)

# make_child NAME PATTERN: a child of $parent with blocks 0 (over the
# parent's data), 25 and 50 (the last, partial: 7 sectors in the disk)
# added by hand; EXPECTED gets the content the chain must read as.
make_child () {
  local child=$tmp/$1.vhd
  "$HVCONVERT" vhd create "$child" --parent "$parent" ||
    fail "vhd create --parent failed"
  cp --sparse=always "$src" "$tmp/$1.expected"
  for blk in 0 25 50; do
    vhd_add_block "$child" "$blk" "$2" "$tmp/$1.expected" ||
      fail "adding block $blk to $child"
  done
  out=$("$HVCONVERT" vhd check "$child" 2>&1) || fail "vhd check $child: $out"
  "$HVCONVERT" disk "$child" "$tmp/$1.flat.vhd" 2>"$tmp/err" ||
    fail "hvconvert disk $child: $(cat "$tmp/err")"
  out=$("$QEMU_IMG" compare -f raw -F vpc "$tmp/$1.expected" \
          "$tmp/$1.flat.vhd" 2>&1) ||
    fail "$1: our reading of the chain is wrong: $out"
}

make_child child-runs runs
make_child child libvhdi
child=$tmp/child.vhd

# libvhdi sees the parent by its UUID and path.
assert_eq "$(vhdi_field "$child" 'Disk type')" Differential \
  "libvhdi's disk type of the child"
assert_eq "$(vhdi_field "$child" 'Parent identifier')" "$parent_uuid" \
  "libvhdi's parent identifier"
pname=$(vhdi_field "$child" 'Parent filename')
assert_eq "${pname##*/}" parent.vhd "libvhdi's parent filename ($pname)"
assert_eq "$(vhd_media_size "$child")" "$size" "libvhdi's child size"

# vhdimount shows the chain as vhdi1 (the parent) and vhdi2 (the child
# over it).  It looks for the parent at the child's directory joined
# with the header's parent name, so that name must be the parent's file
# name (what we store), not a path: run it from another directory.
mnt=$tmp/mnt
mkdir "$mnt"
(cd / && "$VHDIMOUNT" "$tmp/child.vhd" "$mnt") >"$tmp/mount.out" 2>&1 ||
  fail "vhdimount failed: $(cat "$tmp/mount.out")"
on_exit umount "$mnt"
assert_eq "$(ls "$mnt" | paste -sd ' ' -)" "vhdi1 vhdi2" "vhdimount's files"
cmp "$mnt/vhdi1" "$src" >"$tmp/cmp.out" 2>&1 ||
  fail "libvhdi's parent differs from the source: $(cat "$tmp/cmp.out")"
cmp "$mnt/vhdi2" "$tmp/child.expected" >"$tmp/cmp.out" 2>&1 ||
  fail "libvhdi's chain differs from the expected content: $(cat "$tmp/cmp.out")"
out=$("$QEMU_IMG" compare -f raw -F vpc "$mnt/vhdi2" "$tmp/child.flat.vhd" 2>&1) ||
  fail "libvhdi's chain differs from our flattened copy: $out"

# ---------------------------------------------------------------------
# 4. A chain written with our writer.  The writes end on 4 KiB
# boundaries, so that every bitmap byte reads the same to libvhdi's
# quirk (see add_block): a run of present sectors then ends a byte.
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"
ours=$tmp/ours
mkdir "$ours"
cp "$parent" "$ours/base.vhd"
parent_sum=$(sha256sum <"$ours/base.vhd")
new_child "$ours/snap.vhd" "$ours/snap.raw" "$ours/base.vhd" "$src" \
  --block-size 512K 2>/dev/null
vwrite "$ours/snap.vhd" "$ours/snap.raw" 1536 $((8192 - 1536)) 41
vwrite "$ours/snap.vhd" "$ours/snap.raw" $((MiB - 512)) $((3 * MiB + 512)) 42
vwrite "$ours/snap.vhd" "$ours/snap.raw" $((50 * MiB)) 4096 zero
vwrite "$ours/snap.vhd" "$ours/snap.raw" $((99 * MiB + 2048)) 2048 43
assert_eq "$(sha256sum <"$ours/base.vhd")" "$parent_sum" \
  "writing through the child changed the parent"
out=$("$HVCONVERT" vhd diff "$ours/snap.raw" "$ours/snap.vhd" 2>&1) ||
  fail "our chain: $out"

quiet_umount () { umount "$1" 2>/dev/null; }

# mount_cmp VHD N EXPECTED: vhdimount VHD, vhdiN must be EXPECTED.
mount_cmp () {
  local m=$tmp/mnt-$RANDOM
  mkdir "$m"
  (cd / && "$VHDIMOUNT" "$1" "$m") >"$tmp/mount.out" 2>&1 ||
    fail "vhdimount $1: $(cat "$tmp/mount.out")"
  on_exit quiet_umount "$m"
  cmp "$m/vhdi$2" "$3" >"$tmp/cmp.out" 2>&1 ||
    fail "libvhdi reads $1 differently: $(cat "$tmp/cmp.out")"
  umount "$m"
}
mount_cmp "$ours/snap.vhd" 2 "$ours/snap.raw"
"$HVCONVERT" vhd merge "$ours/snap.vhd" 2>/dev/null || fail "vhd merge"
mount_cmp "$ours/base.vhd" 1 "$ours/snap.raw"
"$HVCONVERT" vhd expand "$ours/base.vhd" --size 1G 2>/dev/null ||
  fail "vhd expand"
truncate -s 1G "$ours/snap.raw"
mount_cmp "$ours/base.vhd" 1 "$ours/snap.raw"

echo "PASS: qemu and libvhdi agree with hvconvert's VHD reader and writer"

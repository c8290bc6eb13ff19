#!/bin/bash
# hvconvert vhd expand: fixed and dynamic disks grow, in place, to the
# byte; the new space reads as zeros to us, qemu and libvhdi; the BAT
# grows where it is (blocks in its way move), or moves when metadata is
# in its way; the identity is kept; shrinking, differencing disks, saved
# state and sizes beyond 2040 GiB are refused, and so are disks with
# differencing children in their directory unless --force.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
# shellcheck source-path=SCRIPTDIR source=vhd-maint-functions.sh
source "$top_srcdir/tests/vhd-maint-functions.sh"

# expand FILE RAW SIZE [OPTIONS...]: expand, grow the model, compare
# (and libvhdi's size), check the UUID is kept.
expand () {
  local file=$1 raw=$2 size=$3 uuid
  shift 3
  uuid=$(info_field "$file" uuid)
  "$HVCONVERT" vhd expand "$file" --size "$size" "$@" 2>"$tmp/err" ||
    fail "vhd expand $file --size $size: $(cat "$tmp/err")"
  truncate -s "$size" "$raw"
  assert_reads "$raw" "$file" "expanded $file to $size"
  assert_eq "$(vhd_media_size "$file")" "$size" "libvhdi's size of $file"
  assert_eq "$(info_field "$file" uuid)" "$uuid" "UUID kept"
  cmp <(head -c 512 "$file") <(tail -c 512 "$file") >/dev/null ||
    [[ $(info_field "$file" type) == fixed ]] || fail "footer copies differ"
}

# refused STATUS PATTERN FILE ARGS...: vhd expand FILE fails so, FILE
# unchanged.
refused () {
  local want=$1 pattern=$2 file=$3 before rc=0
  shift 3
  before=$(sha256sum <"$file")
  "$HVCONVERT" vhd expand "$file" "$@" 2>"$tmp/err" || rc=$?
  assert_eq "$rc" "$want" "exit status of vhd expand $file $*"
  assert_grep "$pattern" "$tmp/err"
  assert_eq "$(sha256sum <"$file")" "$before" "$file unchanged"
}

# ---------------------------------------------------------------------
# Dynamic, 2 MiB blocks: 64 MiB (32 entries) to 200 MiB (100 entries)
# stays in the BAT's sector; to 20 GiB (10240 entries, 80 sectors) the
# BAT grows over the first blocks, which move behind it.
d=$tmp/dyn.vhd raw=$tmp/dyn.raw
new_disk "$d" "$raw" $((64 * MiB))
vwrite "$d" "$raw" 0 $((3 * MiB)) 1
vwrite "$d" "$raw" $((30 * MiB + 512)) 4096 2
vwrite "$d" "$raw" $((64 * MiB - 512)) 512 3
expand "$d" "$raw" $((200 * MiB))
expand "$d" "$raw" $((20 * 1024 * MiB)) -v
assert_grep "moved 1 block out of the BAT's way" "$tmp/err"
# New space is writable like any other.
vwrite "$d" "$raw" $((19 * 1024 * MiB)) 70000 4
assert_reads "$raw" "$d" "written after expand"
# The same size again: nothing to do.
"$HVCONVERT" vhd expand "$d" --size 20G 2>"$tmp/err" || fail "same size"
assert_grep "already 20" "$tmp/err"

# An empty disk: the BAT grows over the footer, which moves.
e=$tmp/empty.vhd
new_disk "$e" "$tmp/empty.raw" $((10 * MiB))
expand "$e" "$tmp/empty.raw" $((2040 * 1024 * MiB))
(( $(file_size "$e") < 5 * MiB )) || fail "an empty expanded disk is big"

# A layout we do not write: the header right after a one-sector BAT, so
# the BAT cannot grow in place and moves to the end of the file.
python3 - "$tmp/odd.vhd" "$tmp/odd.raw" <<'PY'
import os, struct, sys, time, uuid
path, rawpath = sys.argv[1], sys.argv[2]
size, bs = 4 << 20, 512 << 10
def csum(b, at):
    b[at:at + 4] = b"\0" * 4
    b[at:at + 4] = struct.pack(">I", ~sum(b) & 0xFFFFFFFF)
footer = bytearray(512)
footer[0:8] = b"conectix"
struct.pack_into(">IIQI4sII", footer, 8, 2, 0x10000, 1024,
                 int(time.time()) - 946684800, b"win ", 0xA0000, 0x5769326B)
struct.pack_into(">QQHBBI", footer, 40, size, size, 120, 4, 17, 3)
footer[68:84] = uuid.uuid4().bytes
csum(footer, 64)
header = bytearray(1024)
header[0:8] = b"cxsparse"
struct.pack_into(">QQIII", header, 8, 2**64 - 1, 512, 0x10000, 8, bs)
csum(header, 36)
bat = [0xFFFFFFFF] * 128
data, blocks, at = {}, bytearray(), 2048
for blk in (0, 3):
    bat[blk] = at // 512
    d = os.urandom(bs)
    data[blk] = d
    blocks += b"\xff" * 512 + d
    at += 512 + bs
with open(path, "wb") as f:
    f.write(footer + struct.pack(">128I", *bat) + header + blocks + footer)
with open(rawpath, "wb") as f:
    f.truncate(size)
    for blk, d in data.items():
        f.seek(blk * bs)
        f.write(d)
PY
assert_reads "$tmp/odd.raw" "$tmp/odd.vhd" "the hand-made layout"
expand "$tmp/odd.vhd" "$tmp/odd.raw" $((100 * MiB)) -v
assert_grep "moving the BAT to offset" "$tmp/err"

# ---------------------------------------------------------------------
# Fixed, and a VHD qemu wrote (force_size: creator "qem2").
f=$tmp/fixed.vhd
new_disk "$f" "$tmp/fixed.raw" $((5 * MiB)) --type fixed
vwrite "$f" "$tmp/fixed.raw" $((5 * MiB - 4096)) 4096 5
expand "$f" "$tmp/fixed.raw" $((9 * MiB + 512))
assert_eq "$(file_size "$f")" $((9 * MiB + 1024)) "fixed file size"

q=$tmp/qemu.vhd
truncate -s $((6 * MiB)) "$tmp/q.raw"
write_data "$tmp/q.raw" 0 $((6 * MiB))
"$QEMU_IMG" convert -f raw -O vpc -o subformat=dynamic,force_size=on \
  "$tmp/q.raw" "$q"
expand "$q" "$tmp/q.raw" $((1024 * MiB))

# ---------------------------------------------------------------------
# Refusals.
refused 1 "never shrinks" "$d" --size 1G
refused 1 "above the VHD limit" "$d" --size $((2040 * 1024 * MiB + 512))
refused 2 "multiple of 512" "$d" --size 1000
refused 2 "--size is required" "$d"
s=$tmp/saved.vhd
cp "$f" "$s"
set_saved_state "$s"
refused 1 "saved-state flag is set" "$s" --size 20M

# Differencing children in the directory: refused, listed; --force goes
# ahead with a warning.  A differencing disk itself is refused.
mkdir "$tmp/fam"
new_disk "$tmp/fam/base.vhd" "$tmp/fam/base.raw" $((4 * MiB))
"$HVCONVERT" vhd create "$tmp/fam/snap1.vhd" --parent "$tmp/fam/base.vhd"
"$HVCONVERT" vhd create "$tmp/fam/snap2.avhd" --parent "$tmp/fam/base.vhd"
"$HVCONVERT" vhd create "$tmp/fam/other.vhd" --size 4M
refused 1 "2 differencing disks in its directory" "$tmp/fam/base.vhd" \
  --size 8M
assert_grep "snap1.vhd" "$tmp/err"
assert_grep "snap2.avhd" "$tmp/err"
grep -q other.vhd "$tmp/err" && fail "other.vhd listed as a child"
refused 1 "differencing disk has its parent's size" "$tmp/fam/snap1.vhd" \
  --size 8M
"$HVCONVERT" vhd expand "$tmp/fam/base.vhd" --size 8M --force \
  2>"$tmp/err" || fail "expand --force: $(cat "$tmp/err")"
assert_grep "warning: .*snap1.vhd" "$tmp/err"
assert_eq "$(info_field "$tmp/fam/base.vhd" virtual_size)" $((8 * MiB)) \
  "expanded with --force"

echo "PASS: $test_name"

# shellcheck shell=bash
# tests/vhd-maint-functions.sh: helpers of the vhd maintenance tests
# (compact, convert, expand, merge, diff, faults); source it after
# functions.sh.  Disks are built by writing through our own VHD writer
# (tests/vhd-write) into a VHD and, byte for byte, into a raw model of
# what the VHD must read as; the checks then compare the two with our
# reader and with qemu's.

VHD_WRITE=${VHD_WRITE:-$top_builddir/tests/vhd-write}
[[ -x $VHD_WRITE ]] || fail "$VHD_WRITE is not built (make check builds it)"

KiB=1024

# vwrite VHD RAW OFFSET LENGTH SEED|zero: the same bytes into both.
vwrite () {
  "$VHD_WRITE" "$@" || fail "vhd-write $*"
}

# new_disk VHD RAW SIZE [CREATE-OPTIONS...]: an empty VHD and its model.
new_disk () {
  local vhd=$1 raw=$2 size=$3
  shift 3
  rm -f "$vhd" "$raw"
  "$HVCONVERT" vhd create "$vhd" --size "$size" "$@" 2>"$tmp/create.err" ||
    fail "vhd create $vhd: $(cat "$tmp/create.err")"
  truncate -s "$size" "$raw"
}

# new_child CHILD RAW PARENT PARENT-RAW [CREATE-OPTIONS...]
new_child () {
  local child=$1 raw=$2 parent=$3 praw=$4
  shift 4
  rm -f "$child"
  "$HVCONVERT" vhd create "$child" --parent "$parent" "$@" \
    2>"$tmp/create.err" || fail "vhd create --parent: $(cat "$tmp/create.err")"
  cp --sparse=always "$praw" "$raw"
}

# info_field FILE KEY: a key of `hvconvert vhd info --json FILE`.
info_field () {
  "$HVCONVERT" vhd info --json "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# qemu_size FILE: the virtual size qemu reads (-f vpc: a fixed VHD has
# no signature at offset 0).
qemu_size () {
  "$QEMU_IMG" info -f vpc "$1" |
    sed -n 's/^virtual size: .*(\([0-9]*\) bytes)$/\1/p'
}

# ours_reads RAW VHD: our reader sees exactly RAW (bytes and size).
ours_reads () {
  "$HVCONVERT" vhd diff --quiet "$1" "$2"
}

# qemu_reads RAW VHD: qemu sees exactly RAW (bytes and size).
qemu_reads () {
  "$QEMU_IMG" compare -q -f raw -F vpc "$1" "$2" 2>/dev/null &&
    [[ $(qemu_size "$2") == $(file_size "$1") ]]
}

# assert_reads RAW VHD WHAT: both readers see RAW, and vhd check finds
# no problem in VHD.
assert_reads () {
  local out
  out=$("$HVCONVERT" vhd check "$2" 2>&1) || fail "$3: vhd check: $out"
  out=$("$HVCONVERT" vhd diff "$1" "$2" 2>&1) || fail "$3: $out"
  out=$("$QEMU_IMG" compare -f raw -F vpc "$1" "$2" 2>&1) ||
    fail "$3: qemu-img compare: $out"
  assert_eq "$(qemu_size "$2")" "$(file_size "$1")" "$3: qemu's size"
}

# set_saved_state VHD: set the saved-state byte in both footers.
set_saved_state () {
  python3 - "$1" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    size = f.seek(0, 2)
    for at in (0, size - 512):
        f.seek(at)
        b = bytearray(f.read(512))
        if b[:8] != b"conectix":
            continue
        b[84] = 1
        b[64:68] = b"\0\0\0\0"
        b[64:68] = struct.pack(">I", ~sum(b) & 0xFFFFFFFF)
        f.seek(at)
        f.write(b)
PY
}

# clear_bitmap VHD BLOCK: zero the sector bitmap of allocated BLOCK of a
# differencing VHD (the block stays allocated, reading from the parent:
# what an interrupted writer or another tool can leave).
clear_bitmap () {
  python3 - "$1" "$2" <<'PY'
import struct, sys
path, blk = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(-512, 2)
    footer = f.read(512)
    hdr_at, = struct.unpack(">Q", footer[16:24])
    f.seek(hdr_at)
    hdr = f.read(1024)
    bat_at, = struct.unpack(">Q", hdr[16:24])
    bs, = struct.unpack(">I", hdr[32:36])
    f.seek(bat_at + 4 * blk)
    entry, = struct.unpack(">I", f.read(4))
    assert entry != 0xFFFFFFFF, "block not allocated"
    f.seek(entry * 512)
    f.write(bytes((bs // 512 + 7) // 8))
PY
}

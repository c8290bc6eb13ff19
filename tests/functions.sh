# shellcheck shell=bash
# tests/functions.sh: shared by the end-to-end tests; source it first:
#
#   source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
#
# A missing tool is a failure, never a skip: a test that silently does not
# run proves nothing.  Every test gets a private directory under $TMPDIR,
# removed on exit with whatever was registered by on_exit.

set -euo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
HVCONVERT=${HVCONVERT:-$top_builddir/convert/hvconvert}
QEMU_IMG=${QEMU_IMG:-qemu-img}
test_name=$(basename "$0" .sh)

fail () {
  echo "FAIL: $test_name: $*" >&2
  exit 1
}

# require TOOL [DEBIAN-PACKAGE]
require () {
  command -v "$1" >/dev/null 2>&1 ||
    fail "required tool '$1' is missing (apt-get install ${2:-$1})"
}

require_root () {
  [[ $(id -u) -eq 0 ]] || fail "must run as root"
}

[[ -x $HVCONVERT ]] || fail "$HVCONVERT is not built"
require "$QEMU_IMG" qemu-utils
require python3 python3
VHDIINFO=${VHDIINFO:-vhdiinfo}
require "$VHDIINFO" libvhdi-utils

# ---------------------------------------------------------------------
# The private directory and cleanup.

exit_actions=()

# on_exit CMD...: run CMD when the test exits, last registered first.
on_exit () {
  exit_actions+=("$(printf '%q ' "$@")")
}

run_exit_actions () {
  local i
  for ((i = ${#exit_actions[@]} - 1; i >= 0; i--)); do
    eval "${exit_actions[i]}" || true
  done
}
trap run_exit_actions EXIT

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX")
on_exit rm -rf "$tmp"

# ---------------------------------------------------------------------
# Building raw images.  Offsets and lengths are in bytes.

# write_data FILE OFFSET LENGTH: random bytes, file not truncated.
write_data () {
  head -c "$3" /dev/urandom |
    dd of="$1" bs=64K seek="$2" oflag=seek_bytes conv=notrunc \
       iflag=fullblock status=none
}

# write_zeros FILE OFFSET LENGTH: real zero bytes (allocated, not a hole).
write_zeros () {
  head -c "$3" /dev/zero |
    dd of="$1" bs=64K seek="$2" oflag=seek_bytes conv=notrunc \
       iflag=fullblock status=none
}

MiB=$((1024 * 1024))

# make_image FILE SIZE sparse|dense: data at the start, across a 2 MiB
# block boundary, a lone sector, and at the very end; real zero runs in
# between (a written zero block and a zero sector inside data), and holes
# elsewhere.  "dense" turns every hole into written zeros, so the copy
# must find the zeros by reading.
make_image () {
  local file=$1 size=$2 mode=$3
  rm -f "$file"
  truncate -s "$size" "$file"
  write_data "$file" 0 $((1 * MiB + 4096))
  write_zeros "$file" $((4 * MiB)) $((2 * MiB))
  write_data "$file" $((8 * MiB - 12288)) 65536
  write_zeros "$file" $((8 * MiB)) 512
  write_data "$file" $((20 * MiB + 512)) 512
  write_data "$file" $((size - 3 * MiB - 1536)) $((3 * MiB + 1536))
  if [[ $mode == dense ]]; then
    cp --sparse=never "$file" "$file.dense"
    mv "$file.dense" "$file"
  fi
}

# ---------------------------------------------------------------------
# Facts about files and images.

file_size () { stat -c %s "$1"; }

# Bytes the file really occupies on disk.
allocated () { echo $(($(stat -c '%b * %B' "$1"))); }

# image_info FILE KEY: one top-level key of `qemu-img info --output=json`.
image_info () {
  "$QEMU_IMG" info --output=json "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# The virtual size of a VHD as libvhdi reads it ("Media size").  qemu-img
# reports a fixed VHD's virtual size as its file size, footer included.
vhd_media_size () {
  "$VHDIINFO" "$1" | sed -n 's/.*Media size.*(\([0-9]*\) bytes).*/\1/p'
}

# Bytes of a VHD that qemu-img map reports as allocated data.
vhd_data_bytes () {
  "$QEMU_IMG" map --output=json -f vpc "$1" |
    python3 -c 'import json, sys
print(sum(e["length"] for e in json.load(sys.stdin) if e["data"]))'
}

# What vhd_data_bytes must be for a dynamic VHD of raw image FILE with
# blocks of BS bytes that allocates exactly the blocks holding a
# non-zero byte: computed from the content, independently of hvconvert.
expected_data_bytes () {
  python3 - "$1" "$2" <<'PY'
import os, sys
path, bs = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
total = 0
with open(path, "rb") as f:
    for start in range(0, size, bs):
        if f.read(bs).strip(b"\0"):
            total += min(bs, (size + 511) // 512 * 512 - start)
print(total)
PY
}

# ---------------------------------------------------------------------
# Assertions.

assert_eq () {
  [[ $1 == "$2" ]] || fail "$3: expected '$2', got '$1'"
}

# assert_identical SRC SRC-FORMAT DST.vhd: same content (qemu-img) and
# the same virtual size (libvhdi), to the byte.
assert_identical () {
  local out
  out=$("$QEMU_IMG" compare -f "$2" -F vpc "$1" "$3" 2>&1) ||
    fail "$1 and $3 differ: $out"
  assert_eq "$(vhd_media_size "$3")" "$(image_info "$1" virtual-size)" \
    "virtual size of $3"
}

# assert_grep PATTERN FILE: FILE has a line matching PATTERN.
assert_grep () {
  grep -q -- "$1" "$2" || fail "'$1' not found in $2: $(cat "$2")"
}

# assert_events FILE PYTHON-EXPR MESSAGE: every line of FILE is a JSON
# object with "event" and "time" (the --machine-readable stream), and
# EXPR holds, evaluated with `ev` the list of events and `by(name)` the
# events of that name.
assert_events () {
  python3 - "$1" "$2" <<'PY' || fail "$3: $(cat "$1")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
ev = [json.loads(l) for l in lines]
for e in ev:
    assert isinstance(e, dict) and "event" in e and "time" in e, e
by = lambda name: [e for e in ev if e["event"] == name]
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
PY
}

# No temporary left in DIR.
assert_no_temporary () {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.hvconvert-*')
  [[ -z $left ]] || fail "temporary left behind: $left"
}

# vhd_add_block CHILD BLOCK PATTERN EXPECTED: append block BLOCK to the
# differencing VHD CHILD by hand (bitmap + random data at the old footer
# position, BAT entry, footer moved to the new end), and write into the
# raw image EXPECTED the sectors the bitmap marks present (MSB-first: the
# sector i is bit 0x80 >> (i % 8) of byte i / 8).  PATTERN "runs":
# alternating runs of 7 present and 7 absent sectors.  PATTERN "libvhdi":
# only bitmap bytes of the form 0...01...1 (libvhdi 20210425 computes a
# bit as byte >> (7 - i) without "& 1", so it reads any set bit as
# setting every later bit of its byte; these bytes read the same either
# way, while 0x0F, 0x3F... still tell MSB-first from LSB-first).
vhd_add_block () {
  python3 - "$@" <<'PY'
import os, struct, sys
path, blk, pattern, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
size = os.path.getsize(path)
with open(path, "r+b") as f:
    f.seek(size - 512)
    footer = f.read(512)
    assert footer[:8] == b"conectix"
    hdr_at, = struct.unpack(">Q", footer[16:24])
    vsize, = struct.unpack(">Q", footer[48:56])
    f.seek(hdr_at)
    hdr = f.read(1024)
    assert hdr[:8] == b"cxsparse"
    bat_at, = struct.unpack(">Q", hdr[16:24])
    bs, = struct.unpack(">I", hdr[32:36])
    f.seek(bat_at + 4 * blk)
    assert f.read(4) == b"\xff" * 4, "block already allocated"
    sectors = bs // 512
    bitmap = bytearray((-(-sectors // 8) + 511) // 512 * 512)
    if pattern == "runs":
        for s in range(sectors):
            if (s // 7) % 2 == 0:
                bitmap[s >> 3] |= 0x80 >> (s & 7)
    else:
        safe = [0xFF, 0x00, 0x0F, 0x3F, 0x01, 0x7F, 0x00, 0x03]
        for j in range(sectors // 8):
            bitmap[j] = safe[(j + blk) % len(safe)]
    data = os.urandom(bs)
    at = size - 512
    f.seek(at)
    f.write(bitmap + data + footer)
    f.seek(bat_at + 4 * blk)
    f.write(struct.pack(">I", at // 512))
with open(expected, "r+b") as e:
    for s in range(sectors):
        off = blk * bs + s * 512
        if bitmap[s >> 3] & (0x80 >> (s & 7)) and off < vsize:
            e.seek(off)
            e.write(data[s * 512:(s + 1) * 512])
PY
}

# replay_corpus PROG MIN INPUTS...: run the fuzz target PROG (built
# without libFuzzer: tests/PROG) over the INPUTS, at least MIN of them;
# fail on a crash, a failed invariant (abort), a sanitizer report, or an
# input not replayed.  The test-*-fuzz-corpus.sh scripts use it.
replay_corpus () {
  local prog=$top_builddir/tests/$1 min=$2 passed
  shift 2
  local inputs=("$@")
  [[ -x $prog ]] || fail "$prog is not built (make check builds it)"
  (( ${#inputs[@]} >= min )) || fail "$1: only ${#inputs[@]} inputs found"
  if ! "$prog" "${inputs[@]}" >"$tmp/replay.out" 2>"$tmp/replay.err"; then
    passed=$(grep -c '^ok ' "$tmp/replay.out" || true)
    fail "$(basename "$prog") failed on ${inputs[passed]}: $(tail -n 40 "$tmp/replay.err")"
  fi
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
       "$tmp/replay.err"; then
    fail "sanitizer report: $(cat "$tmp/replay.err")"
  fi
  assert_eq "$(grep -c '^ok ' "$tmp/replay.out")" "${#inputs[@]}" \
    "inputs replayed by $(basename "$prog")"
  echo "PASS: ${#inputs[@]} inputs replayed by $(basename "$prog")"
}

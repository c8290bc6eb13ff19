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

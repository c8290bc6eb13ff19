#!/bin/bash
# hvconvert disk: the output appears atomically.  An existing DST is
# kept without --force and replaced with it; an interrupted copy leaves
# neither a temporary nor a DST and exits 128+signal; an unwritable
# directory fails cleanly; the source is never modified.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require chattr e2fsprogs

src=$tmp/src.img
make_image "$src" $((64 * MiB)) sparse
sum=$(sha256sum < "$src")

# An existing DST without --force: refused up front, kept intact.
echo precious > "$tmp/out.vhd"
rc=0
"$HVCONVERT" disk "$src" "$tmp/out.vhd" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status with an existing DST"
assert_grep "already exists" "$tmp/stderr"
assert_eq "$(cat "$tmp/out.vhd")" precious "content of the existing DST"
assert_no_temporary "$tmp"

# With --force it is replaced by the conversion.
"$HVCONVERT" disk --force "$src" "$tmp/out.vhd" 2>"$tmp/stderr" ||
  fail "--force: $(cat "$tmp/stderr")"
assert_identical "$src" raw "$tmp/out.vhd"
assert_no_temporary "$tmp"

# A DST that is a directory is refused even with --force.
mkdir "$tmp/dir.vhd"
rc=0
"$HVCONVERT" disk --force "$src" "$tmp/dir.vhd" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status with a directory as DST"
assert_grep "not a regular file" "$tmp/stderr"

# Interrupted by SIGNAL while the temporary exists: the process is
# stopped once the temporary appears, so the signal lands mid-way however
# fast the machine; a large input makes the copy last long enough for
# that.  Returns 1 if the copy finished before it could be stopped (the
# caller retries).
big=$tmp/big.img
truncate -s $((1024 * MiB)) "$big"
head -c $((768 * MiB)) /dev/zero | tr '\0' 'x' |
  dd of="$big" bs=1M conv=notrunc iflag=fullblock status=none

interrupt () {
  local sig=$1 pid rc=0 i
  rm -f "$tmp/int.vhd"
  "$HVCONVERT" disk "$big" "$tmp/int.vhd" 2>"$tmp/stderr" &
  pid=$!
  for ((i = 0; i < 2000; i++)); do
    [[ -n $(find "$tmp" -maxdepth 1 -name '.int.vhd.hvconvert-*') ]] && break
    sleep 0.005
  done
  kill -STOP "$pid"
  if [[ -e $tmp/int.vhd ]]; then
    kill -CONT "$pid"; wait "$pid" || true
    return 1
  fi
  kill -"$sig" "$pid"
  kill -CONT "$pid"
  wait "$pid" || rc=$?
  assert_eq "$rc" "$2" "exit status after SIG$sig"
  assert_grep "interrupted" "$tmp/stderr"
  [[ ! -e $tmp/int.vhd ]] || fail "SIG$sig left a DST"
  assert_no_temporary "$tmp"
}

for sig in INT:130 TERM:143; do
  caught=no
  for _ in 1 2 3; do
    if interrupt "${sig%:*}" "${sig#*:}"; then caught=yes; break; fi
  done
  [[ $caught == yes ]] || fail "could not interrupt a copy with SIG${sig%:*}"
done

# A directory we may not write in (immutable even for root): refused
# before anything is created, with the directory named.
mkdir "$tmp/ro"
chattr +i "$tmp/ro"
on_exit chattr -i "$tmp/ro"
rc=0
"$HVCONVERT" disk "$src" "$tmp/ro/out.vhd" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status in an unwritable directory"
assert_grep "$tmp/ro: cannot create files" "$tmp/stderr"
[[ -z $(ls -A "$tmp/ro") ]] || fail "files were created in $tmp/ro"

# A directory that does not exist.
rc=0
"$HVCONVERT" disk "$src" "$tmp/missing/out.vhd" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status with a missing directory"
assert_grep "$tmp/missing: cannot open the output directory" "$tmp/stderr"

assert_eq "$(sha256sum < "$src")" "$sum" "checksum of the source"
echo "PASS: $test_name"

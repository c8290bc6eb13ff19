#!/bin/bash
# check_bad_images FMT MIN: every corrupt FMT image in fixtures/bad-FMT/
# through `hvconvert disk` (format detected, then --format FMT), checked
# against the table in fixtures/bad-FMT/README.  Sourced by the
# tests/test-FMT-bad.sh scripts after functions.sh.
#
# The table is every README line that starts with a fixture name (a
# file in the folder), then two columns:
#   disk      fail  exits 1 with an error naming the file and the
#                   fragment, no output and no temporary left behind
#             ok    converts (exit 0), no warning; qemu-img reads the
#                   same content from the fixture and the VHD
#             warn  converts with a warning naming the file and the
#                   fragment; content as for ok
#             raw   not recognised as FMT (its signature is damaged), so
#                   detected as raw it converts byte for byte; with
#                   --format FMT it fails as for fail
#   fragment  text the messages must contain
# Fixtures a README line does not list fail the test, so none is
# silently skipped; a crash or sanitizer report fails it too.

bad_failures=0

bad_fail () {
  echo "FAIL: $*" >&2
  bad_failures=$((bad_failures + 1))
}

bad_show () { sed 's/^/    | /' "$1" >&2; }

# bad_names WHAT ERR PATH FRAGMENT: a line of ERR holds PATH and FRAGMENT.
bad_names () {
  if ! grep -F -- "$3" "$2" | grep -F -- "$4" >/dev/null; then
    bad_fail "$1: no line names $3 and says '$4'"
    bad_show "$2"
  fi
}

# bad_convert FMT NAME PATH WANT FRAGMENT [OPTIONS...]
bad_convert () {
  local fmt=$1 name=$2 path=$3 want=$4 frag=$5
  shift 5
  local what="disk $* $name" dir rc=0 left
  if [ "$want" = raw ] && [ $# -gt 0 ]; then
    want=fail
  fi
  dir=$(mktemp -d "$tmp/out.XXXXXX")
  "$HVCONVERT" disk "$@" "$path" "$dir/out.vhd" >"$tmp/bad.out" \
    2>"$tmp/bad.err" </dev/null || rc=$?
  left=$(ls -A "$dir")
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/bad.err" ||
     [ "$rc" -ge 128 ]; then
    bad_fail "$what: crash or sanitizer report (exit $rc)"
    bad_show "$tmp/bad.err"
    return
  fi
  case $want in
    fail)
      [ "$rc" = 1 ] || bad_fail "$what: exit $rc, want 1"
      [ -z "$left" ] || bad_fail "$what: left files behind: $left"
      bad_names "$what" "$tmp/bad.err" "$path" "$frag" ;;
    ok|warn)
      if [ "$rc" != 0 ] || [ "$left" != out.vhd ]; then
        bad_fail "$what: exit $rc, left '$left'; want 0 and out.vhd"
        bad_show "$tmp/bad.err"
        return
      fi
      if [ "$want" = warn ]; then
        bad_names "$what" "$tmp/bad.err" "$path" "$frag"
      elif grep -qi warning "$tmp/bad.err"; then
        bad_fail "$what: unexpected warning"
        bad_show "$tmp/bad.err"
      fi
      "$QEMU_IMG" compare -q -f "$fmt" -F vpc "$path" "$dir/out.vhd" ||
        bad_fail "$what: qemu-img reads other content from the VHD" ;;
    raw)
      if [ "$rc" != 0 ] || [ "$left" != out.vhd ]; then
        bad_fail "$what: exit $rc, left '$left'; want a raw conversion"
        bad_show "$tmp/bad.err"
        return
      fi
      "$QEMU_IMG" compare -q -f raw -F vpc "$path" "$dir/out.vhd" ||
        bad_fail "$what: the VHD does not hold the raw bytes of the file" ;;
    *) bad_fail "README: $name: bad disk column '$want'" ;;
  esac
}

check_bad_images () {
  local fmt=$1 min=$2 dir checked=0 name want frag f
  dir=$(cd "$top_srcdir/fixtures/bad-$fmt" && pwd) ||
    fail "no folder fixtures/bad-$fmt"
  while read -r name want frag; do
    [ -f "$dir/$name" ] || continue
    bad_convert "$fmt" "$name" "$dir/$name" "$want" "$frag"
    bad_convert "$fmt" "$name" "$dir/$name" "$want" "$frag" --format "$fmt"
    checked=$((checked + 1))
  done <"$dir/README"
  for f in "$dir"/*; do
    case $(basename "$f") in README|*.sh|*.py) continue ;; esac
    grep -qE "^$(basename "$f") " "$dir/README" ||
      bad_fail "$(basename "$f") is not in fixtures/bad-$fmt/README"
  done
  [ "$checked" -ge "$min" ] ||
    bad_fail "only $checked fixtures checked, want at least $min"
  echo "$fmt: $checked fixtures checked, $bad_failures failures"
  [ "$bad_failures" = 0 ] || fail "$bad_failures failures"
}

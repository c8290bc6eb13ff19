#!/bin/bash
# Every corrupt VHD in fixtures/bad/ through `vhd info`, `vhd check` and
# `disk`: the exit status, a message that names the file and says what is
# wrong, no sanitizer report, and no output left behind by a failed
# conversion.  The expectations are the table in fixtures/bad/README
# (its header explains the columns), so a new fixture needs one line
# there and nothing here.
#
# Run by make check, or by hand after a build:
#   top_srcdir=. HVCONVERT=convert/hvconvert tests/test-vhd-bad.sh

# functions.sh: $HVCONVERT, $QEMU_IMG, $tmp (removed on exit), and a
# loud failure when a tool is missing.  Here a failed expectation does
# not stop the test (note_fail): one run reports every fixture.
# shellcheck source=tests/functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

bad=$(cd "$top_srcdir/fixtures/bad" && pwd)
good_dynamic=$top_srcdir/tests/fuzz-corpus-vhd/good-dynamic.vhd
failures=0
checked=0

note_fail () {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# show FILE: a command's output, indented, after a failure.
show () {
  sed 's/^/    | /' "$1" >&2
}

# sanitizer_clean WHAT FILE: no ASan/UBSan/LSan report in FILE.
sanitizer_clean () {
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$2"; then
    note_fail "$1: sanitizer report"
    show "$2"
  fi
}

# names WHAT OUT PATH FRAGMENT: some line of OUT contains both PATH (the
# file as given) and FRAGMENT.
names () {
  if [ "$4" = - ]; then
    return
  fi
  # No -q on the right: an early exit could SIGPIPE the left (pipefail).
  if ! grep -F -- "$3" "$2" | grep -F -- "$4" >/dev/null; then
    note_fail "$1: no line names $3 and says '$4'"
    show "$2"
  fi
}

# no_warning WHAT ERR: a clean success prints no warning.
no_warning () {
  if grep -qi 'warning' "$2"; then
    note_fail "$1: unexpected warning"
    show "$2"
  fi
}

# run OUT ERR CMD...: run with stdout and stderr captured; sets rc.
run () {
  local out=$1 err=$2
  shift 2
  rc=0
  "$@" >"$out" 2>"$err" </dev/null || rc=$?
}

# same_content WHAT A.vhd B.vhd: qemu reads the same disk from both.
same_content () {
  if ! "$QEMU_IMG" compare -q -f vpc -F vpc "$2" "$3" 2>"$tmp/cmp.err"; then
    note_fail "$1: $2 and $3 differ"
    show "$tmp/cmp.err"
  fi
}

# The data every good fixture holds (blocks 0, 1, 255 with a pattern),
# as our writer stores it: the reference for conversions that succeed.
run "$tmp/o" "$tmp/e" "$HVCONVERT" disk "$good_dynamic" "$tmp/ref.vhd"
if [ "$rc" != 0 ]; then
  show "$tmp/e"
  fail "cannot convert the good fixture $good_dynamic"
fi

check_info () {
  local name=$1 path=$2 want=$3 frag=$4 what="vhd info $1"
  run "$tmp/info.out" "$tmp/info.err" "$HVCONVERT" vhd info "$path"
  sanitizer_clean "$what" "$tmp/info.err"
  case $want in
    ok)
      [ "$rc" = 0 ] || { note_fail "$what: exit $rc, want 0"; show "$tmp/info.err"; }
      no_warning "$what" "$tmp/info.err" ;;
    warn)
      [ "$rc" = 0 ] || { note_fail "$what: exit $rc, want 0"; show "$tmp/info.err"; }
      grep -q 'warning' "$tmp/info.err" ||
        { note_fail "$what: no warning"; show "$tmp/info.err"; }
      names "$what" "$tmp/info.err" "$path" "$frag" ;;
    fail)
      [ "$rc" = 1 ] || { note_fail "$what: exit $rc, want 1"; show "$tmp/info.err"; }
      names "$what" "$tmp/info.err" "$path" "$frag" ;;
    *) note_fail "README: $name: bad info column '$want'" ;;
  esac
}

check_check () {
  local name=$1 path=$2 want=$3 frag=$4 what="vhd check $1"
  run "$tmp/check.out" "$tmp/check.err" "$HVCONVERT" vhd check "$path"
  sanitizer_clean "$what" "$tmp/check.err"
  cat "$tmp/check.out" "$tmp/check.err" >"$tmp/check.all"
  if [ "$rc" != "$want" ]; then
    note_fail "$what: exit $rc, want $want"
    show "$tmp/check.all"
  fi
  # The fragment may be on stderr even when problems are listed: a
  # problem in a differencing parent is reported under the parent's name.
  names "$what" "$tmp/check.all" "$path" "$frag"
  if [ "$want" = 3 ]; then
    # Every problem line names the file.
    if grep -vqF -- "$path: " "$tmp/check.out"; then
      note_fail "$what: a problem line does not start with the file name"
      show "$tmp/check.out"
    fi
    # The JSON form says the same, parseably.
    run "$tmp/json.out" "$tmp/json.err" "$HVCONVERT" vhd check --json "$path"
    if [ "$rc" != 3 ] || ! python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["problems"] and d["file"] == sys.argv[2], d
' "$tmp/json.out" "$path" 2>"$tmp/json.py"; then
      note_fail "$what --json: exit $rc, or not ok=false with problems"
      cat "$tmp/json.out" "$tmp/json.err" "$tmp/json.py" >"$tmp/json.all"
      show "$tmp/json.all"
    fi
  fi
}

# disk: a fresh empty directory per conversion, so "nothing left behind"
# includes the hidden temporary.
check_disk () {
  local name=$1 path=$2 want=$3 frag=$4 what="disk $1"
  local dir=$tmp/out-$name left
  mkdir "$dir"
  run "$tmp/disk.out" "$tmp/disk.err" "$HVCONVERT" disk "$path" "$dir/out.vhd"
  sanitizer_clean "$what" "$tmp/disk.err"
  left=$(ls -A "$dir")
  case $want in
    ok|warn)
      if [ "$rc" != 0 ] || [ "$left" != out.vhd ]; then
        note_fail "$what: exit $rc, left '$left'; want 0 and out.vhd"
        show "$tmp/disk.err"
        return
      fi
      if [ "$want" = ok ]; then
        no_warning "$what" "$tmp/disk.err"
      else
        names "$what" "$tmp/disk.err" "$path" "$frag"
      fi
      # All these fixtures hold the good fixture's data.
      same_content "$what" "$dir/out.vhd" "$tmp/ref.vhd" ;;
    fail)
      if [ "$rc" = 0 ]; then
        note_fail "$what: converted (exit 0), want a failure"
      fi
      names "$what" "$tmp/disk.err" "$path" "$frag"
      if [ -n "$left" ]; then
        note_fail "$what: left files behind: $left"
      fi ;;
    raw)
      if [ "$rc" != 0 ] || [ "$left" != out.vhd ]; then
        note_fail "$what: exit $rc, left '$left'; want a raw conversion"
        show "$tmp/disk.err"
      elif ! "$QEMU_IMG" compare -q -f raw -F vpc "$path" "$dir/out.vhd"; then
        note_fail "$what: the VHD does not hold the raw bytes of the file"
      fi
      rm -f "$dir/out.vhd"
      run "$tmp/disk.out" "$tmp/disk.err" \
        "$HVCONVERT" disk --format vhd "$path" "$dir/out.vhd"
      sanitizer_clean "$what --format vhd" "$tmp/disk.err"
      [ "$rc" != 0 ] || note_fail "$what --format vhd: exit 0, want a failure"
      names "$what --format vhd" "$tmp/disk.err" "$path" "$frag"
      left=$(ls -A "$dir")
      [ -z "$left" ] || note_fail "$what --format vhd: left files behind: $left" ;;
    *) note_fail "README: $name: bad disk column '$want'" ;;
  esac
}

# The table: lines "NAME.vhd INFO CHECK DISK FRAGMENT...".
while read -r name info check disk frag; do
  path=$bad/$name
  if [ ! -f "$path" ]; then
    note_fail "README lists $name, which is not in fixtures/bad/"
    continue
  fi
  check_info "$name" "$path" "$info" "$frag"
  check_check "$name" "$path" "$check" "$frag"
  check_disk "$name" "$path" "$disk" "$frag"
  checked=$((checked + 1))
done < <(grep -E '^[a-z0-9-]+\.vhd ' "$bad/README")

# Every fixture is in the table, so none is silently left out.
for f in "$bad"/*.vhd; do
  grep -qE "^$(basename "$f") " "$bad/README" ||
    note_fail "$(basename "$f") is not in fixtures/bad/README"
done
if [ "$checked" -lt 25 ]; then
  note_fail "only $checked fixtures checked; the README table was not read?"
fi

echo "$checked fixtures checked, $failures failures"
[ "$failures" = 0 ]

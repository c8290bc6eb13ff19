#!/bin/bash
# hvconvert disk --machine-readable: JSON-lines events for scripts.  Every
# line is a JSON object; a conversion says start, progress and done; a
# failure says error with its stable code; FD selects the descriptor; the
# option works before and after the subcommand.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

size=$((64 * MiB))
src=$tmp/src.img
make_image "$src" "$size" sparse

# Before the subcommand, events on stdout.
"$HVCONVERT" --machine-readable disk "$src" "$tmp/out.vhd" \
  >"$tmp/events" 2>"$tmp/stderr" || fail "conversion: $(cat "$tmp/stderr")"
assert_identical "$src" raw "$tmp/out.vhd"
assert_events "$tmp/events" '
  ev[0]["event"] == "start" and ev[-1]["event"] == "done" and
  len(by("start")) == 1 and len(by("done")) == 1 and len(by("error")) == 0' \
  "start first, done last"
assert_events "$tmp/events" "
  by('start')[0]['command'] == 'disk' and
  by('start')[0]['source'] == '$src' and
  by('start')[0]['destination'] == '$tmp/out.vhd' and
  by('start')[0]['format'] == 'raw' and
  by('start')[0]['virtual_size'] == $size and
  by('start')[0]['type'] == 'dynamic'" "the start event's fields"
assert_events "$tmp/events" "
  len(by('progress')) >= 1 and
  by('progress')[-1]['done'] == by('progress')[-1]['total'] == $size" \
  "progress reaches the virtual size"
assert_events "$tmp/events" '
  0 < by("done")[0]["bytes_written"] <= by("done")[0]["bytes_read"] and
  by("done")[0]["seconds"] >= 0' "the done event's fields"
# The human summary is for people only.
[[ ! -s $tmp/stderr ]] || fail "stderr is not empty: $(cat "$tmp/stderr")"

# An existing DST: an error event with the stable code "exists".
rc=0
"$HVCONVERT" disk "$src" "$tmp/out.vhd" --machine-readable \
  >"$tmp/events" 2>"$tmp/stderr" || rc=$?
assert_eq "$rc" 1 "exit status with an existing DST"
assert_events "$tmp/events" '
  [e["code"] for e in by("error")] == ["exists"] and len(by("done")) == 0' \
  "error event with code exists"
assert_grep "already exists" "$tmp/stderr"

# A usage error after the subcommand: code "usage", exit status 2.
rc=0
"$HVCONVERT" disk --machine-readable --type sparse "$src" "$tmp/o2.vhd" \
  >"$tmp/events" 2>/dev/null || rc=$?
assert_eq "$rc" 2 "exit status of a usage error"
assert_events "$tmp/events" '[e["code"] for e in by("error")] == ["usage"]' \
  "error event with code usage"

# --machine-readable=FD: events on that descriptor, nothing on stdout.
"$HVCONVERT" --machine-readable=3 disk --type fixed "$src" "$tmp/f.vhd" \
  3>"$tmp/events" >"$tmp/stdout" 2>"$tmp/stderr" ||
  fail "conversion with events on fd 3: $(cat "$tmp/stderr")"
[[ ! -s $tmp/stdout ]] || fail "stdout is not empty: $(cat "$tmp/stdout")"
assert_events "$tmp/events" 'by("start")[0]["type"] == "fixed" and
  ev[-1]["event"] == "done"' "events on fd 3"

# A descriptor that is not open is a usage error, reported on stderr.
rc=0
"$HVCONVERT" --machine-readable=9 disk "$src" "$tmp/o3.vhd" 2>"$tmp/stderr" ||
  rc=$?
assert_eq "$rc" 2 "exit status with a closed event descriptor"
assert_grep "file descriptor 9 is not open" "$tmp/stderr"

# A warning event: a source whose size is not a multiple of 512.
head -c 1000 /dev/urandom > "$tmp/odd.img"
"$HVCONVERT" --machine-readable disk "$tmp/odd.img" "$tmp/odd.vhd" \
  >"$tmp/events" 2>/dev/null || fail "conversion of odd.img"
assert_events "$tmp/events" '
  [e["code"] for e in by("warning")] == ["format"] and
  "multiple of 512" in by("warning")[0]["message"]' "warning event"

echo "PASS: $test_name"

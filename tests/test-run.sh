#!/bin/bash
# hvconvert run: the sample server boots with its console on our
# standard input and output (a command typed there runs in the guest),
# Ctrl-A X quits, the VHD does not change; with --writable what the
# guest writes is in the VHD afterwards.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require debugfs e2fsprogs
export HVCONVERT_CACHE_DIR=$tmp/cache

"$top_srcdir/fixtures/make-sample-server.sh" "$tmp/good.img" >/dev/null ||
  fail "make-sample-server.sh failed"
"$HVCONVERT" disk "$tmp/good.img" "$tmp/good.vhd" 2>/dev/null
rm -f "$tmp/good.img"
sha=$(sha256sum <"$tmp/good.vhd")

kill_quietly () { kill "$1" 2>/dev/null || true; }

# wait_for TEXT: until TEXT is in $tmp/run.out (120 s at most).
wait_for () {
  for _ in $(seq 1 240); do
    grep -aq -- "$1" "$tmp/run.out" && return 0
    kill -0 "$pid" 2>/dev/null || fail "run exited: $(cat "$tmp/run.out")"
    sleep 0.5
  done
  fail "no '$1' from run: $(tail -n 20 "$tmp/run.out")"
}

# session OPTIONS... : boot, type $1 (a guest command line) once the
# server is ready, wait for $2 on the console, quit with Ctrl-A X.
session () {
  local cmd=$1 want=$2 rc=0
  shift 2
  rm -f "$tmp/in"
  mkfifo "$tmp/in"
  "$HVCONVERT" run "$@" "$tmp/good.vhd" <"$tmp/in" >"$tmp/run.out" 2>&1 &
  pid=$!
  exec 3>"$tmp/in"
  on_exit kill_quietly "$pid"
  wait_for "hvconvert-sample: ready"
  printf '%s\n' "$cmd" >&3
  wait_for "$want"
  printf '\001x' >&3
  wait "$pid" || rc=$?
  exec 3>&-
  [[ $rc == 0 ]] || fail "run exited with status $rc: $(tail -n 5 "$tmp/run.out")"
}

session 'echo "run-$((6 * 7))"' "run-42"
[[ $(sha256sum <"$tmp/good.vhd") == "$sha" ]] || fail "run changed the VHD"
assert_grep "Ctrl-A X quits" "$tmp/run.out"

session 'mount -o remount,rw / && echo from-the-guest >/written && sync && echo "done-$((40 + 2))"' \
  "done-42" --writable
qemu-img convert -f vpc -O raw "$tmp/good.vhd" "$tmp/after.img"
debugfs -R "cat /written" "$tmp/after.img?offset=1048576" >"$tmp/written" 2>/dev/null
assert_grep "from-the-guest" "$tmp/written"
echo "PASS: run boots the machine on the terminal"

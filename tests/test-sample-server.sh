#!/bin/bash
# fixtures/make-sample-server.sh builds bootable test servers: the good
# variant converted to a VHD boots under QEMU (TCG: KVM hangs nested
# guests on these machines) to its "ready" line and runs a hook dropped
# into /etc/hvconvert-sample/rc.d/ (the verifier's contract); the
# no-ide-driver variant stops with initramfs-tools' "does not exist"
# alert; a second run reuses the image; options are checked.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require debugfs e2fsprogs

gen=$top_srcdir/fixtures/make-sample-server.sh

# boot DISK FORMAT LOG PATTERN: boot under TCG until PATTERN appears on
# the serial console (or 60 s pass); fail if it does not.
boot () {
  local disk=$1 format=$2 log=$3 pattern=$4 pid
  : >"$log"
  qemu-system-x86_64 -machine pc -accel tcg -m 512 \
    -drive "file=$disk,format=$format,if=ide" -display none \
    -serial "file:$log" -monitor none -no-reboot &
  pid=$!
  on_exit sh -c "kill $pid 2>/dev/null"
  for _ in $(seq 1 120); do
    grep -aq -- "$pattern" "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -aq -- "$pattern" "$log" ||
    fail "$disk: no '$pattern' on the console: $(tail -n 5 "$log")"
}

"$gen" "$tmp/good.img" >"$tmp/out" || fail "generator: $(cat "$tmp/out")"
assert_grep "good, ata, kernel" "$tmp/out"
"$gen" "$tmp/good.img" >"$tmp/out"
assert_grep "is up to date" "$tmp/out"

# The converted server boots; a hook in the root file system runs.
"$HVCONVERT" disk "$tmp/good.img" "$tmp/good.vhd" 2>/dev/null
printf 'echo "hook ran: $(cat /etc/hostname)"\n' >"$tmp/hook"
python3 - "$tmp/good.img" <<'PY' || fail "cannot read the partition table"
import struct, sys
mbr = open(sys.argv[1], "rb").read(512)
assert mbr[510:512] == b"\x55\xaa" and mbr[446] == 0x80, "not bootable"
start, = struct.unpack("<I", mbr[454:458])
assert start == 2048, start
PY
boot "$tmp/good.vhd" vpc "$tmp/good.log" "hvconvert-sample: ready"
assert_grep "hvconvert-sample: booted, kernel .*, root /dev/sda1" "$tmp/good.log"

# The hook contract: a script put into the root file system runs.
img=$tmp/hooked.img
cp --sparse=always "$tmp/good.img" "$img"
dd if="$img" of="$tmp/root.ext4" bs=1M skip=1 status=none
debugfs -w -R "write $tmp/hook /etc/hvconvert-sample/rc.d/50-test" \
  "$tmp/root.ext4" >/dev/null 2>&1 || fail "debugfs write"
dd if="$tmp/root.ext4" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
boot "$img" raw "$tmp/hooked.log" "hook ran: sample-server"

# An initramfs without the IDE drivers cannot find its root.
"$gen" --variant no-ide-driver "$tmp/noide.img" >/dev/null
boot "$tmp/noide.img" raw "$tmp/noide.log" "does not exist.  Dropping to a shell!"
assert_grep "ALERT!  UUID=" "$tmp/noide.log"

# Bad options are refused.
if "$gen" --variant nonsense "$tmp/x.img" 2>"$tmp/err"; then
  fail "an unknown variant was accepted"
fi
assert_grep "unknown variant 'nonsense'" "$tmp/err"
[ ! -e "$tmp/x.img" ] || fail "a refused run left $tmp/x.img"

echo "PASS: $test_name"

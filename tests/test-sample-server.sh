#!/bin/bash
# fixtures/make-sample-server.sh builds bootable test servers, booted
# here under QEMU with TCG (KVM hangs nested guests on these machines):
#  - good, with a hook dropped into /etc/hvconvert-sample/rc.d/ (the
#    verifier's contract) and converted to a VHD with hvconvert disk:
#    the bootloader, the initramfs, "booted", the hook, "ready", in order;
#  - no-ide-driver: initramfs-tools' "does not exist" alert for its UUID;
#  - panic: "Attempted to kill init";
#  - no-bootloader: SeaBIOS finds no bootable disk;
#  - an image is reused only when built with the same options; a rebuild
#    has the same UUID and MBR disk identifier; options are checked.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require debugfs e2fsprogs
require blkid util-linux

gen=$top_srcdir/fixtures/make-sample-server.sh

# boot DISK FORMAT LOG PATTERN [QEMU-OPTION...]: boot under TCG until
# PATTERN appears in LOG, the serial console, or in $watch if set (or
# 60 s pass); fail if it does not.
boot () {
  local disk=$1 format=$2 log=$3 pattern=$4 pid start=$SECONDS
  local file=${watch:-$3}
  shift 4
  : >"$log"
  qemu-system-x86_64 -machine pc -accel tcg -m 512 \
    -drive "file=$disk,format=$format,if=ide" -display none \
    -serial "file:$log" -monitor none -no-reboot "$@" &
  pid=$!
  on_exit sh -c "kill $pid 2>/dev/null"
  for _ in $(seq 1 120); do
    grep -aqs -- "$pattern" "$file" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -aq -- "$pattern" "$file" ||
    fail "$disk: no '$pattern' in $file: $(tail -n 5 "$file")"
  echo "$disk: '$pattern' after $((SECONDS - start)) s"
}

# assert_order LOG LINE...: each LINE (a grep pattern) is on the
# console, after the one before it.
assert_order () {
  local log=$1 prev=0 n
  shift
  for line in "$@"; do
    n=$(grep -an -- "$line" "$log" | head -n 1 | cut -d: -f1)
    [[ -n $n && $n -gt $prev ]] ||
      fail "$log: '$line' missing or out of order: $(cat "$log")"
    prev=$n
  done
}

uuid () { blkid -p -O 1048576 -o value -s UUID "$1"; }
label_id () { sfdisk --disk-id "$1"; }
built () { debugfs -R 'cat /etc/hvconvert-sample/build' "$1?offset=1048576" 2>/dev/null; }

# Build; a second run reuses the image; the options are recorded in it.
"$gen" "$tmp/good.img" >"$tmp/out" || fail "generator: $(cat "$tmp/out")"
assert_grep "good, ata, kernel .* in [0-9.]* s" "$tmp/out"
"$gen" "$tmp/good.img" >"$tmp/out"
assert_grep "is up to date" "$tmp/out"
built "$tmp/good.img" | grep -q "^variant=good storage=ata size=268435456 kernel=" ||
  fail "good.img: build options: $(built "$tmp/good.img")"
python3 - "$tmp/good.img" <<'PY' || fail "good.img: not a bootable MBR"
import struct, sys
mbr = open(sys.argv[1], "rb").read(512)
assert mbr[510:512] == b"\x55\xaa" and mbr[446] == 0x80, "not bootable"
assert mbr[:440] == open("/usr/lib/syslinux/mbr/mbr.bin", "rb").read(440)
start, = struct.unpack("<I", mbr[454:458])
assert start == 2048, start
PY

# Other options make another image even where one is up to date.
cp --sparse=always "$tmp/good.img" "$tmp/panic.img"
"$gen" --variant panic "$tmp/panic.img" >"$tmp/out"
assert_grep "panic, ata, kernel" "$tmp/out"
built "$tmp/panic.img" | grep -q "^variant=panic " ||
  fail "panic.img: build options: $(built "$tmp/panic.img")"
[[ $(uuid "$tmp/panic.img") != "$(uuid "$tmp/good.img")" ]] ||
  fail "the good and panic variants have the same UUID"

# A rebuild has the same identities.
"$gen" "$tmp/again.img" >/dev/null
[[ -n $(uuid "$tmp/good.img") && $(uuid "$tmp/good.img") == "$(uuid "$tmp/again.img")" ]] ||
  fail "a rebuild changed the UUID: $(uuid "$tmp/good.img") $(uuid "$tmp/again.img")"
assert_eq "$(label_id "$tmp/good.img")" "$(label_id "$tmp/again.img")"

# The good server with a hook, converted: it boots and runs the hook.
printf 'echo "hook ran: $(hostname), $(cat /proc/mounts | grep -c " / ext4 rw")"\n' \
  >"$tmp/hook"
debugfs -w -R "write $tmp/hook /etc/hvconvert-sample/rc.d/50-test" \
  "$tmp/good.img?offset=1048576" >/dev/null 2>&1 || fail "debugfs write"
"$HVCONVERT" disk "$tmp/good.img" "$tmp/good.vhd" 2>/dev/null
boot "$tmp/good.vhd" vpc "$tmp/good.log" "hvconvert-sample: ready"
assert_order "$tmp/good.log" "^SYSLINUX " "^Loading /boot/vmlinuz-.*... ok" \
  "Linux version" "hvconvert-sample initramfs: loading" \
  "hvconvert-sample initramfs: root /dev/sda1 mounted" \
  "hvconvert-sample: booted, kernel .*, root /dev/sda1" \
  "hook ran: sample-server, 1" "hvconvert-sample: ready"

# An initramfs without the IDE drivers cannot find its root.
"$gen" --variant no-ide-driver "$tmp/noide.img" >"$tmp/out"
assert_grep "no-ide-driver, virtio, kernel" "$tmp/out"
boot "$tmp/noide.img" raw "$tmp/noide.log" "does not exist.  Dropping to a shell!"
assert_order "$tmp/noide.log" "Gave up waiting for root file system device" \
  "ALERT!  UUID=$(uuid "$tmp/noide.img") does not exist"

# An init that exits panics the kernel.
boot "$tmp/panic.img" raw "$tmp/panic.log" "Attempted to kill init"
assert_order "$tmp/panic.log" "hvconvert-sample: init exits" \
  "Kernel panic - not syncing: Attempted to kill init"

# Without boot code the firmware finds nothing to boot (SeaBIOS says
# so on its debug port).
"$gen" --variant no-bootloader "$tmp/noboot.img" >/dev/null
watch=$tmp/noboot.fw boot "$tmp/noboot.img" raw "$tmp/noboot.log" \
  "No bootable device" \
  -chardev "file,id=fw,path=$tmp/noboot.fw" \
  -device isa-debugcon,iobase=0x402,chardev=fw -nic none
assert_grep "Boot failed: not a bootable disk" "$tmp/noboot.fw"
if grep -aq "Linux version" "$tmp/noboot.log"; then
  fail "no-bootloader booted a kernel"
fi

# Bad options are refused, and leave nothing behind.
for args in "--variant nonsense" "--storage scsi" "--size 1M" "--size lots" \
            "--frobnicate" "--variant"; do
  # shellcheck disable=SC2086 # split the options on purpose
  if "$gen" $args "$tmp/x.img" 2>"$tmp/err"; then
    fail "make-sample-server.sh $args was accepted"
  fi
  grep -q "make-sample-server.sh: " "$tmp/err" ||
    fail "make-sample-server.sh $args: no message: $(cat "$tmp/err")"
  [[ ! -e $tmp/x.img ]] || fail "make-sample-server.sh $args left x.img"
done
left=$(find "$tmp" -maxdepth 1 -name '.*.tmp-*')
[[ -z $left ]] || fail "temporary left behind: $left"

echo "PASS: $test_name"

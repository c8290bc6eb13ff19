#!/bin/bash
# Convert the built-in sample "physical server" and show the result.
#
# Builds hvconvert (./setup.sh), makes the sample server's raw disk in
# ./sample-out/ with fixtures/make-sample-server.sh (an MBR, extlinux,
# the Debian kernel, an initramfs with the IDE drivers of its "original
# hardware", a busybox userland), converts it with `hvconvert disk`,
# shows `vhd info` and `vhd check`, compares the VHD with the raw disk
# using qemu-img, and boots the VHD under QEMU (TCG) to show that the
# converted machine starts.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

./setup.sh
hv=$PWD/build/convert/hvconvert
out=sample-out

echo
echo "== Making the sample server's disk: $out/server.img"
mkdir -p "$out"
fixtures/make-sample-server.sh "$out/server.img"
sfdisk -l "$out/server.img"

echo
echo "== hvconvert disk $out/server.img $out/server.vhd"
"$hv" disk --force "$out/server.img" "$out/server.vhd"
ls -ls "$out"

echo
echo "== hvconvert vhd info $out/server.vhd"
"$hv" vhd info "$out/server.vhd"

echo
echo "== hvconvert vhd check $out/server.vhd"
"$hv" vhd check "$out/server.vhd"

echo
echo "== qemu-img compare (an independent reader of the VHD)"
qemu-img compare -f raw -F vpc "$out/server.img" "$out/server.vhd"

echo
echo "== Booting the VHD under QEMU (on a throw-away overlay)"
rm -f "$out/overlay.qcow2" "$out/console.log"
qemu-img create -q -f qcow2 -b "$PWD/$out/server.vhd" -F vpc \
  "$out/overlay.qcow2"
timeout 90 qemu-system-x86_64 -machine pc -accel tcg -m 512 \
  -drive "file=$out/overlay.qcow2,format=qcow2,if=ide" -display none \
  -serial "file:$out/console.log" -monitor none -no-reboot &
qemu=$!
for _ in $(seq 1 90); do
  grep -q 'hvconvert-sample: ready' "$out/console.log" 2>/dev/null && break
  sleep 1
done
kill "$qemu" 2>/dev/null || true
wait "$qemu" 2>/dev/null || true
rm -f "$out/overlay.qcow2"
grep -a 'hvconvert-sample' "$out/console.log" ||
  { echo "run-sample.sh: the converted server did not boot; see $out/console.log" >&2; exit 1; }

echo
echo "Sample converted and booted: $out/server.vhd (console: $out/console.log)"

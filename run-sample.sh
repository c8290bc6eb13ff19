#!/bin/bash
# Convert the built-in sample "physical server" and show the result.
#
# Builds hvconvert (./setup.sh), makes the sample server's raw disk in
# ./sample-out/ with fixtures/make-sample-server.sh (an MBR, extlinux,
# the Debian kernel, an initramfs with the IDE drivers of its "original
# hardware", a busybox userland), converts it with `hvconvert disk`,
# shows `vhd info` and `vhd check`, compares the VHD with the raw disk
# using qemu-img, and boots the VHD with `hvconvert verify` (QEMU, on a
# throw-away overlay) to show that the converted machine starts.
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
echo "== hvconvert verify $out/server.vhd (boots it under QEMU on a throw-away overlay)"
"$hv" verify --log-dir "$out/verify" "$out/server.vhd"
grep -a '^hvconvert-sample' "$out/verify/console.log"

echo
echo "Sample converted and verified: $out/server.vhd (console: $out/verify/console.log)"

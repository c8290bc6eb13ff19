#!/bin/bash
# Convert a small sample disk to a VHD and show the result.
#
# Builds hvconvert (./setup.sh), makes a 64 MiB raw disk in ./sample-out/
# (an MBR, one Linux partition with an ext4 filesystem holding some
# files, and zeros), converts it with `hvconvert disk`, shows `vhd info`
# and `vhd check`, and compares the VHD with the raw disk using qemu-img.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

./setup.sh
hv=$PWD/build/convert/hvconvert
out=sample-out

echo
echo "== Making a sample disk: $out/sample.img"
rm -rf "$out"
mkdir -p "$out/files"
cp README.md "$out/files/"
seq 1 100000 >"$out/files/numbers.txt"
head -c 8M /dev/urandom >"$out/files/random.bin"
truncate -s 64M "$out/sample.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$out/sample.img"
mke2fs -q -F -t ext4 -L sample -E offset=1048576 -d "$out/files" \
  "$out/sample.img" 63M
rm -rf "$out/files"
sfdisk -l "$out/sample.img"

echo
echo "== hvconvert disk $out/sample.img $out/sample.vhd"
"$hv" disk "$out/sample.img" "$out/sample.vhd"
ls -ls "$out"

echo
echo "== hvconvert vhd info $out/sample.vhd"
"$hv" vhd info "$out/sample.vhd"

echo
echo "== hvconvert vhd check $out/sample.vhd"
"$hv" vhd check "$out/sample.vhd"

echo
echo "== qemu-img compare (an independent reader of the VHD)"
qemu-img compare -f raw -F vpc "$out/sample.img" "$out/sample.vhd"

echo
echo "Sample converted: $out/sample.vhd"

#!/bin/bash
# bench/bench-ova.sh: `hvconvert import X.ova` against what a user does
# today: `tar xf X.ova` and `qemu-img convert -O vpc -o subformat=dynamic`
# of the VMDK inside (issue 7's target: ratio <= 0.6).
#
# The OVA holds the 2 GiB content of bench-disk.sh (about half random
# data) as a streamOptimized VMDK made by qemu-img, with a descriptor
# and a SHA-256 manifest.  hvconvert decodes the VMDK straight from the
# archive and checks the manifest in the same pass; the peer path
# extracts the VMDK first (and checks nothing).  Both write into the
# same directory; N alternating runs, median wall time and peak RSS.
#
# Usage: bench/bench-ova.sh [-n RUNS] [-d DIR] [-k]
#   -n RUNS  runs per tool (default 5)
#   -d DIR   work directory (default bench/out); needs about 4 GiB
#   -k       keep the OVA for the next run (reused if there)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

ova=$dir/bench.ova
make_ova () {
  local w=$dir/ova-build
  [[ -f $ova ]] && return
  echo "bench-ova: building the OVA in $dir" >&2
  mkdir -p "$w"
  make_raw "$w/src.img"
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized \
    "$w/src.img" "$w/disk1.vmdk"
  cat >"$w/bench.ovf" <<OVF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
 <References><File ovf:id="file1" ovf:href="disk1.vmdk"/></References>
 <DiskSection><Info>Disks</Info><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="$size"/></DiskSection>
 <VirtualSystem ovf:id="bench"><Info>bench</Info><Name>bench</Name>
  <VirtualHardwareSection><Info>hw</Info>
   <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
   <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>2</rasd:InstanceID><rasd:Parent>1</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
  </VirtualHardwareSection>
 </VirtualSystem>
</Envelope>
OVF
  (cd "$w" && for f in bench.ovf disk1.vmdk; do
     echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)"; done >bench.mf &&
   tar --format=ustar -cf "$ova" bench.ovf bench.mf disk1.vmdk)
  rm -rf "$w"
}

# The peer path: extract, convert, remove the extracted file.
# shellcheck disable=SC2016 # expanded by the inner bash
peer='cd "$1" && tar xf "$2" disk1.vmdk &&
  qemu-img convert -O vpc -o subformat=dynamic disk1.vmdk out.vhd &&
  sync out.vhd && rm -f disk1.vmdk'

mkdir -p "$dir"
make_ova
sync
ours=() theirs=()
for ((i = 0; i < runs; i++)); do
  rm -rf "$dir/import"
  ours+=("$(timed "$hvconvert" import "$ova" -o "$dir/import")")
  theirs+=("$(timed bash -c "$peer" bash "$dir" "$ova")")
done
rm -rf "$dir/import" "$dir/out.vhd" "$dir/time.txt" "$dir/stderr.txt"
echo "bench-ova: all runs (s KiB): hvconvert: ${ours[*]}; tar+qemu-img: ${theirs[*]}" >&2
awk -v ot="$(median_of 1 "${ours[@]}")" -v om="$(median_of 2 "${ours[@]}")" \
    -v qt="$(median_of 1 "${theirs[@]}")" -v qm="$(median_of 2 "${theirs[@]}")" 'BEGIN {
  printf "ova  hvconvert import %5.2f s %5.1f MiB | tar+qemu-img+sync %5.2f s %5.1f MiB | ratio %.2f\n",
         ot, om / 1024, qt, qm / 1024, ot / qt
}'
if [[ $keep == no ]]; then rm -f "$ova"; fi

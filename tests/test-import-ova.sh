#!/bin/bash
# hvconvert import of OVF and OVA: an OVA made with tar around a
# streamOptimized VMDK made by qemu-img (plain and gzip-compressed),
# with SHA-256 and SHA-1 manifests, without one, with a wrong one, with
# one naming a missing file; a disk in another format inside the OVA
# (converted from a copy); unsafe entries (.., absolute, symlink,
# hardlink) refused; a plain .ovf beside its disk.  The disks compared
# with qemu-img, the model checked, the originals unchanged.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require tar tar
require virt-xml-validate libvirt-clients

src=$tmp/src.img
w=$tmp/w
out=$tmp/out
mkdir -p "$w"
# 100 MiB + 3 sectors: not a multiple of the 64 KiB grain.
"$QEMU_IMG" create -q -f raw "$src" $((100 * 1024 * 1024 + 1536))
qemu-io -f raw -c 'write -P 0x5a 1M 10M' -c 'write -P 0x11 50M 64k' \
  -c 'write -P 0x22 100M 1536' "$src" >/dev/null
"$QEMU_IMG" convert -f raw -O vmdk -o subformat=streamOptimized "$src" \
  "$w/disk1.vmdk"
cp "$src" "$w/disk2.img"

# descriptor FILE HREF2: an OVF with disk1.vmdk on SCSI 0:0 and the
# file HREF2 as a second disk on IDE 0:1 (none if empty).
descriptor () {
  local second=""
  if [ -n "$2" ]; then
    second='<File ovf:id="file2" ovf:href="'"$2"'"/>'
  fi
  cat >"$1" <<OVF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf">
 <References><File ovf:id="file1" ovf:href="disk1.vmdk"/>$second</References>
 <DiskSection><Info>Disks</Info>
  <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="102401536"/>
  $( [ -n "$2" ] && echo '<Disk ovf:diskId="vmdisk2" ovf:fileRef="file2" ovf:capacity="102401536"/>' )
 </DiskSection>
 <VirtualSystem ovf:id="appliance">
  <Info>A VM</Info><Name>appliance</Name>
  <VirtualHardwareSection><Info>hw</Info>
   <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
   <Item><rasd:AllocationUnits>byte * 2^30</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
   <Item><rasd:Address>0</rasd:Address><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType></Item>
   <Item><rasd:Address>0</rasd:Address><rasd:InstanceID>4</rasd:InstanceID><rasd:ResourceType>5</rasd:ResourceType></Item>
   <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
   $( [ -n "$2" ] && echo '<Item><rasd:AddressOnParent>1</rasd:AddressOnParent><rasd:HostResource>/disk/vmdisk2</rasd:HostResource><rasd:InstanceID>6</rasd:InstanceID><rasd:Parent>4</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>' )
   <Item><rasd:Address>00:50:56:aa:bb:cc</rasd:Address><rasd:Connection>VM Network</rasd:Connection><rasd:InstanceID>7</rasd:InstanceID><rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
   <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="bios"/>
  </VirtualHardwareSection>
 </VirtualSystem>
</Envelope>
OVF
}

# manifest ALG FILES...: a .mf line per file, as ovftool writes them.
manifest () {
  local alg=$1 f
  shift
  for f in "$@"; do
    echo "$alg($f)= $( (cd "$w" && ${alg,,}sum "$f") | cut -d' ' -f1)"
  done
}

# pack OVA FILES...: a ustar archive of the files in $w, in that order.
pack () {
  local ova=$1
  shift
  (cd "$w" && tar --format=ustar -cf "$ova" "$@")
}

# check NAME: the model and the disks of $out/NAME.
check () {
  local dir=$out/$1
  "$QEMU_IMG" compare -q -f raw -F vpc "$src" "$dir/$1-disk1.vhd" ||
    fail "$1: disk 1 differs"
  python3 - "$dir/$1.json" "$1" <<'PY' || fail "$1: $1.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == sys.argv[2] and d["memory"] == 2 << 30, d
assert d["vcpus"] == 2 and d["generation"] == 1
assert d["disks"][0]["bus"] == "ide" and d["disks"][0]["slot"] == 0
assert d["disks"][0]["source"].endswith("disk1.vmdk")
assert d["nics"] == [{"mac": "00:50:56:aa:bb:cc", "network": "VM Network",
                      "model": "E1000", "synthetic": False}], d["nics"]
PY
  virt-xml-validate "$dir/$1.xml" >/dev/null || fail "$1: libvirt XML"
}

# 1. The usual OVA: descriptor, SHA-256 manifest, the disk.
descriptor "$w/vm.ovf" ""
manifest SHA256 vm.ovf disk1.vmdk >"$w/vm.mf"
pack "$tmp/good.ova" vm.ovf vm.mf disk1.vmdk
before=$(sha256sum "$tmp/good.ova")
"$HVCONVERT" --machine-readable=3 import "$tmp/good.ova" -o "$out" \
  --name good 3>"$tmp/events" 2>"$tmp/err" || fail "import: $(cat "$tmp/err")"
check good
assert_eq "$(sha256sum "$tmp/good.ova")" "$before" "the OVA"
python3 -c '
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
rep = d["report"]["disks"]["disk1"]
assert rep["format"] == "vmdk-stream", rep
want = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert rep["sha256"] == want, (rep, want)
assert d["report"]["source_sha256"] is None
assert not d["warnings"][1:], d["warnings"]   # only the IDE move
' "$out/good/good.json" "$w/disk1.vmdk" || fail "good.json report"

# 2. gzip-compressed, SHA-1 manifest at the end, two disks (the second
# a raw image: converted from a copy of the entry).
descriptor "$w/vm.ovf" disk2.img
manifest SHA1 vm.ovf disk1.vmdk disk2.img >"$w/vm.mf"
pack "$tmp/two.ova" vm.ovf disk1.vmdk disk2.img vm.mf
gzip -c "$tmp/two.ova" >"$tmp/two.ova.gz"
"$HVCONVERT" import "$tmp/two.ova.gz" -o "$out" --name two 2>"$tmp/err" ||
  fail "import gzip: $(cat "$tmp/err")"
check two
"$QEMU_IMG" compare -q -f raw -F vpc "$src" "$out/two/two-disk2.vhd" ||
  fail "two: disk 2 differs"
[ -z "$(find "$out/two" -name '.*')" ] || fail "a hidden file was left"

# 2b. The same disk as VMware writes it (grain tables, directory and
# footer at the end, an end-of-stream marker), and as qemu-img writes
# it without the trailing zero sectors (no end-of-stream marker at all:
# the end of the entry ends the stream).
python3 "$top_srcdir/fixtures/make-bad-vmdk.py" stream "$src" "$w/disk1.vmdk"
descriptor "$w/vm.ovf" ""
pack "$tmp/vmware.ova" vm.ovf disk1.vmdk
"$HVCONVERT" import "$tmp/vmware.ova" -o "$out" --name vmware 2>"$tmp/err" ||
  fail "import VMware-style: $(cat "$tmp/err")"
check vmware
"$QEMU_IMG" convert -f raw -O vmdk -o subformat=streamOptimized "$src" \
  "$w/disk1.vmdk"
python3 - "$w/disk1.vmdk" <<'PY'
import os, sys
data = open(sys.argv[1], "rb").read()
end = len(data)
while end > 512 and data[end - 512:end] == bytes(512):
    end -= 512
assert end < len(data), "qemu-img wrote no trailing zero sector"
os.truncate(sys.argv[1], end)
PY
pack "$tmp/noeos.ova" vm.ovf disk1.vmdk
"$HVCONVERT" import "$tmp/noeos.ova" -o "$out" --name noeos 2>"$tmp/err" ||
  fail "import without an end-of-stream marker: $(cat "$tmp/err")"
check noeos

# 3. No manifest: a warning.
descriptor "$w/vm.ovf" ""
pack "$tmp/nomf.ova" vm.ovf disk1.vmdk
"$HVCONVERT" import "$tmp/nomf.ova" -o "$out" --name nomf 2>"$tmp/err" ||
  fail "import without manifest: $(cat "$tmp/err")"
assert_grep "warning: .*nomf.ova: no manifest" "$tmp/err"
check nomf

# must_fail OVA FRAGMENT: the import fails, says FRAGMENT, leaves nothing.
must_fail () {
  rm -rf "$out"
  if "$HVCONVERT" import "$1" -o "$out" 2>"$tmp/err"; then
    fail "$1 was imported"
  fi
  assert_grep "$2" "$tmp/err"
  [ -z "$(ls -A "$out" 2>/dev/null)" ] || fail "$1 left $(ls -A "$out")"
}

# 4. A wrong digest, and a manifest naming a file not in the archive.
manifest SHA256 vm.ovf disk1.vmdk >"$w/vm.mf"
# Change the first hex digit of disk1.vmdk's digest (to another digit).
python3 - "$w/vm.mf" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
alg, hexd = lines[1].split("= ")
lines[1] = alg + "= " + ("1" if hexd[0] == "0" else "0") + hexd[1:]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
pack "$tmp/badmf.ova" vm.ovf vm.mf disk1.vmdk
must_fail "$tmp/badmf.ova" "SHA256 of disk1.vmdk is .*, the manifest says"
{ manifest SHA256 vm.ovf disk1.vmdk; echo "SHA256(extra.iso)= $(printf %064d 0)"; } >"$w/vm.mf"
pack "$tmp/extra.ova" vm.ovf vm.mf disk1.vmdk
must_fail "$tmp/extra.ova" "manifest names extra.iso, which is not in the archive"

# 4b. A grain whose compressed data is damaged (decoded by a worker
# thread; reported once, naming the grain), and one claiming to be
# larger than a grain can be.
"$QEMU_IMG" convert -f raw -O vmdk -o subformat=streamOptimized "$src" \
  "$w/disk1.vmdk"
cp "$w/disk1.vmdk" "$tmp/good.vmdk"
python3 - "$w/disk1.vmdk" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
overhead, = struct.unpack("<Q", f.read(72)[64:72])
f.seek(overhead * 512 + 12 + 20)      # inside the first grain's deflate data
f.write(b"\xff" * 16)
PY
descriptor "$w/vm.ovf" ""
pack "$tmp/badgrain.ova" vm.ovf disk1.vmdk
must_fail "$tmp/badgrain.ova" "disk1.vmdk: grain at sector .*: .*compressed data\|disk1.vmdk: grain at sector .*truncated"
cp "$tmp/good.vmdk" "$w/disk1.vmdk"
python3 - "$w/disk1.vmdk" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
overhead, = struct.unpack("<Q", f.read(72)[64:72])
f.seek(overhead * 512 + 8)            # the first grain's compressed size
f.write(struct.pack("<I", 1 << 30))
PY
pack "$tmp/biggrain.ova" vm.ovf disk1.vmdk
must_fail "$tmp/biggrain.ova" "compressed size 1073741824 is more than a grain can take"
cp "$tmp/good.vmdk" "$w/disk1.vmdk"

# 5. Unsafe entries and a missing disk.
(cd "$w" && tar --format=ustar -cf "$tmp/dotdot.ova" vm.ovf \
   --transform 's,^disk1,../disk1,' disk1.vmdk)
must_fail "$tmp/dotdot.ova" "entry '../disk1.vmdk': absolute, empty or with '..'"
ln -sf /etc/passwd "$w/link.vmdk"
pack "$tmp/symlink.ova" vm.ovf link.vmdk
must_fail "$tmp/symlink.ova" "entry 'link.vmdk' is a link or not a regular file"
(cd "$w" && ln -f disk1.vmdk hard.vmdk &&
   tar --format=ustar -cf "$tmp/hard.ova" vm.ovf disk1.vmdk hard.vmdk)
must_fail "$tmp/hard.ova" "entry 'hard.vmdk' is a link or not a regular file"
pack "$tmp/nodisk.ova" vm.ovf vm.mf
must_fail "$tmp/nodisk.ova" "disk file disk1.vmdk named in the descriptor is not in the archive"
pack "$tmp/notfirst.ova" disk1.vmdk vm.ovf
must_fail "$tmp/notfirst.ova" "the first entry is 'disk1.vmdk', not the OVF descriptor"

# 6. A plain .ovf beside its disks (the VMDK read by the VMDK importer).
rm -f "$w/vm.mf" "$w/link.vmdk" "$w/hard.vmdk"
descriptor "$w/plain.ovf" disk2.img
"$HVCONVERT" import "$w/plain.ovf" -o "$out" --name plain 2>"$tmp/err" ||
  fail "import .ovf: $(cat "$tmp/err")"
for n in 1 2; do
  "$QEMU_IMG" compare -q -f raw -F vpc "$src" "$out/plain/plain-disk$n.vhd" ||
    fail "plain: disk $n differs"
done

echo "PASS: $test_name"

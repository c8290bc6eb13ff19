#!/bin/bash
# hvconvert import of Virtual PC machines (.vmc): a UTF-16LE file with
# BOM and CRLF, two disks on IDE listed out of order, a host CD drive,
# a NIC; a UTF-8 one; an undo disk (refused, committed, discarded); a
# saved state (refused, discarded).  Each import: disks compared with
# qemu-img, NAME.json checked field by field, NAME.xml validated by
# virt-xml-validate, NAME.ovf well-formed, NAME.ps1 holding the cmdlets;
# the original files unchanged.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require virt-xml-validate libvirt-clients
require xmllint libxml2-utils
require virsh libvirt-clients

vm=$tmp/Legacy
out=$tmp/out
mkdir -p "$vm"

# The disks: a dynamic VHD with data (the system disk) and a raw data
# disk, both named with spaces as Virtual PC does.
"$HVCONVERT" vhd create "$vm/Legacy Hard Disk.vhd" --size 64M
"$QEMU_IMG" create -q -f raw "$vm/Data Disk.img" 16M
qemu-io -f vpc -c 'write -P 0x5a 1M 3M' -c 'write -P 0xa5 60M 1M' \
  "$vm/Legacy Hard Disk.vhd" >/dev/null
qemu-io -f raw -c 'write -P 0x11 0 64k' "$vm/Data Disk.img" >/dev/null

# write_vmc FILE ENCODING BODY: a .vmc around BODY (the <hardware> and
# <settings> content), UTF-16LE with BOM and CRLF, or UTF-8.
write_vmc () {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, enc, body = sys.argv[1:4]
xml = ('<?xml version="1.0" encoding="%s"?>\n'
       '<!-- Microsoft Virtual Machine Options and Settings -->\n'
       '<preferences>\n<version type="string">2.0</version>\n%s\n'
       '</preferences>\n') % ("UTF-16" if enc == "utf16" else "UTF-8", body)
xml = xml.replace("\n", "\r\n")
data = (b"\xff\xfe" + xml.encode("utf-16-le")) if enc == "utf16" \
  else xml.encode("utf-8")
open(path, "wb").write(data)
PY
}

hardware='<hardware>
 <memory><ram_size type="integer">384</ram_size></memory>
 <pci_bus>
  <ethernet_adapter>
   <controller_count type="integer">1</controller_count>
   <ethernet_controller id="0">
    <virtual_network><name type="string">Local only</name></virtual_network>
    <ethernet_card_address type="bytes">0003FF1A2B3C</ethernet_card_address>
   </ethernet_controller>
  </ethernet_adapter>
  <ide_adapter>
   <ide_controller id="1">
    <location id="0">
     <drive_type type="integer">2</drive_type>
     <pathname><absolute type="string">D</absolute></pathname>
    </location>
    <location id="1">
     <drive_type type="integer">1</drive_type>
     <pathname>
      <absolute type="string">E:\Old\Data Disk.img</absolute>
      <relative type="string">Data Disk.img</relative>
     </pathname>
    </location>
   </ide_controller>
   <ide_controller id="0">
    <location id="0">
     <drive_type type="integer">1</drive_type>
     <pathname>
      <absolute type="string">C:\VMs\Legacy\Legacy Hard Disk.vhd</absolute>
      <relative type="string">.\Legacy Hard Disk.vhd</relative>
     </pathname>
     UNDO
    </location>
   </ide_controller>
  </ide_adapter>
 </pci_bus>
</hardware>
<integration><microsoft><version>
 <additions_number type="string">13.820</additions_number>
 <guest_os><long_name type="string">Windows XP Professional</long_name></guest_os>
</version></microsoft></integration>'

checksums () { (cd "$vm" && sha256sum -- * | sort); }

# check_import NAME: the machine in $out/NAME: disk 1 is the system
# disk ($2: expected content, a VHD), disk 2 the data disk; the
# definitions are right.
check_import () {
  local name=$1 expect=$2 dir=$out/$1
  [ -d "$dir" ] || fail "no $dir"
  "$QEMU_IMG" compare -q -f vpc -F vpc "$expect" "$dir/$name-disk1.vhd" ||
    fail "$name: disk 1 differs from $expect"
  "$QEMU_IMG" compare -q -f raw -F vpc "$vm/Data Disk.img" \
    "$dir/$name-disk2.vhd" || fail "$name: disk 2 differs"
  python3 - "$dir/$name.json" "$name" <<'PY' || fail "$name: NAME.json"
import json, sys
d = json.load(open(sys.argv[1]))
name = sys.argv[2]
assert d["name"] == name and d["source_format"] == "vmc", d
assert d["memory"] == 384 << 20 and d["vcpus"] == 1 and d["generation"] == 1
assert d["guest_tools"] == "Virtual PC Additions 13.820", d["guest_tools"]
assert d["guest_os"] == "Windows XP Professional", d["guest_os"]
disks = [(x["media"], x["bus"], x["controller"], x["slot"], x["output"],
          x["host_drive"]) for x in d["disks"]]
assert disks == [
    ("disk", "ide", 0, 0, name + "-disk1.vhd", None),
    ("cdrom", "ide", 1, 0, None, "D"),
    ("disk", "ide", 1, 1, name + "-disk2.vhd", None)], disks
nic = d["nics"][0]
assert nic["mac"] == "00:03:ff:1a:2b:3c" and nic["network"] == "Local only"
assert nic["synthetic"] is False
assert d["report"]["disks"]["disk1"]["virtual_size"] == 64 << 20
import hashlib
want = hashlib.sha256(open(d["source"], "rb").read()).hexdigest()
assert d["report"]["source_sha256"] == want, d["report"]
PY
  virt-xml-validate "$dir/$name.xml" >/dev/null ||
    fail "$name: $name.xml is not a valid libvirt domain"
  # libvirt itself takes it (its test driver needs no daemon).
  virsh -q -c test:///default define "$dir/$name.xml" >/dev/null ||
    fail "$name: virsh define refused $name.xml"
  assert_grep "<source file=\"$(realpath "$dir")/$name-disk1.vhd\"/>" \
    "$dir/$name.xml"
  assert_grep '<model type="tulip"/>' "$dir/$name.xml"
  xmllint --noout "$dir/$name.ovf" || fail "$name: $name.ovf"
  assert_grep 'ovf:href="'"$name"'-disk2.vhd"' "$dir/$name.ovf"
  assert_grep "New-VM -Name '$name' -Generation 1 -MemoryStartupBytes 402653184" \
    "$dir/$name.ps1"
  assert_grep "Add-VMHardDiskDrive -VM \$vm -ControllerType IDE -ControllerNumber 1 -ControllerLocation 1" \
    "$dir/$name.ps1"
  assert_grep "-IsLegacy \$true -StaticMacAddress '0003FF1A2B3C'" \
    "$dir/$name.ps1"
  assert_grep "Add-VMDvdDrive -VM \$vm -ControllerNumber 1 -ControllerLocation 0" \
    "$dir/$name.ps1"
  assert_no_temporary "$out"
}

# 1. UTF-16LE, the plain machine.
write_vmc "$vm/Legacy.vmc" utf16 "${hardware/UNDO/}"
before=$(checksums)
"$HVCONVERT" import "$vm/Legacy.vmc" -o "$out" 2>"$tmp/err" ||
  fail "import: $(cat "$tmp/err")"
check_import Legacy "$vm/Legacy Hard Disk.vhd"
assert_eq "$(checksums)" "$before" "the original files"
# Again: the machine exists.
if "$HVCONVERT" import "$vm/Legacy.vmc" -o "$out" 2>"$tmp/err"; then
  fail "a second import replaced the machine without --force"
fi
assert_grep "already exists" "$tmp/err"
"$HVCONVERT" import "$vm/Legacy.vmc" -o "$out" --force 2>"$tmp/err" ||
  fail "import --force: $(cat "$tmp/err")"
check_import Legacy "$vm/Legacy Hard Disk.vhd"

# 2. UTF-8, under another name.
write_vmc "$vm/Legacy8.vmc" utf8 "${hardware/UNDO/}"
"$HVCONVERT" import "$vm/Legacy8.vmc" -o "$out" --name Utf8 2>"$tmp/err" ||
  fail "import UTF-8: $(cat "$tmp/err")"
check_import Utf8 "$vm/Legacy Hard Disk.vhd"

# 3. An undo disk: a differencing VHD over the system disk with changes.
undo=VirtualPCUndo_Legacy_0_0_0930150312012009.vud
"$HVCONVERT" vhd create "$vm/$undo" --parent "$vm/Legacy Hard Disk.vhd"
"$QEMU_IMG" convert -f vpc -O raw "$vm/Legacy Hard Disk.vhd" "$tmp/committed.img"
vhd_add_block "$vm/$undo" 1 runs "$tmp/committed.img"
"$HVCONVERT" disk "$tmp/committed.img" "$tmp/committed.vhd" 2>/dev/null
write_vmc "$vm/Undo.vmc" utf16 "${hardware/UNDO/<undo_pathname><absolute type=\"string\">C:\\VMs\\$undo</absolute></undo_pathname>}"
before=$(checksums)
if "$HVCONVERT" import "$vm/Undo.vmc" -o "$out" 2>"$tmp/err"; then
  fail "an undo disk was converted without --undo-disks"
fi
assert_grep "undo disk .*$undo holds changes not committed" "$tmp/err"
assert_grep "--undo-disks=commit" "$tmp/err"
[ ! -e "$out/Undo" ] || fail "a refused import left $out/Undo"
"$HVCONVERT" import "$vm/Undo.vmc" -o "$out" --undo-disks=commit \
  2>"$tmp/err" || fail "--undo-disks=commit: $(cat "$tmp/err")"
check_import Undo "$tmp/committed.vhd"
"$HVCONVERT" import "$vm/Undo.vmc" -o "$out" --name Discarded \
  --undo-disks=discard 2>"$tmp/err" || fail "discard: $(cat "$tmp/err")"
check_import Discarded "$vm/Legacy Hard Disk.vhd"
assert_eq "$(checksums)" "$before" "the original files after undo imports"

# 4. A saved state beside the .vmc.
write_vmc "$vm/Saved.vmc" utf16 "${hardware/UNDO/}"
: >"$vm/Saved.vsv"
if "$HVCONVERT" import "$vm/Saved.vmc" -o "$out" 2>"$tmp/err"; then
  fail "a machine with a saved state was converted"
fi
assert_grep "saved state.*Saved.vsv.*memory cannot be carried over" "$tmp/err"
assert_grep "--discard-saved-state" "$tmp/err"
"$HVCONVERT" import "$vm/Saved.vmc" -o "$out" --discard-saved-state \
  2>"$tmp/err" || fail "--discard-saved-state: $(cat "$tmp/err")"
check_import Saved "$vm/Legacy Hard Disk.vhd"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["saved_state"].endswith("Saved.vsv"), d["saved_state"]
assert any("saved state" in w for w in d["warnings"]), d["warnings"]
' "$out/Saved/Saved.json" || fail "saved state not in Saved.json"

echo "PASS: $test_name"

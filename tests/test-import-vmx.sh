#!/bin/bash
# hvconvert import of VMware machines (.vmx) and of bare disks.
#  - A .vmx with a SCSI system disk (moved to IDE 0:0 for generation 1,
#    with a warning), a SATA data disk, a CD image, a host CD drive, a
#    static and a generated MAC, |22 escapes in the name, EFI firmware
#    in a second copy (generation 2: everything on SCSI).
#  - A split (twoGbMaxExtentSparse) VMDK under a snapshot delta: the
#    current state is converted, the VMDK files are not changed.
#  - Two bare disks: the default machine (1 GiB, one vCPU, IDE 0:0 and
#    0:1, named after the first file).

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require virt-xml-validate libvirt-clients

vm=$tmp/vm
out=$tmp/out
mkdir -p "$vm"
"$QEMU_IMG" create -q -f raw "$vm/system.img" 24M
"$QEMU_IMG" create -q -f raw "$vm/data.img" 8M
qemu-io -f raw -c 'write -P 0x5a 1M 2M' "$vm/system.img" >/dev/null
qemu-io -f raw -c 'write -P 0x33 0 4k' "$vm/data.img" >/dev/null
: >"$vm/tools.iso"

cat >"$vm/web.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "14"
displayName = "web |22one|22"
memsize = "2048"
numvcpus = "2"
guestOS = "debian11-64"
scsi0.present = "TRUE"
scsi0.virtualDev = "lsilogic"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "system.img"
sata0.present = "TRUE"
sata0:2.present = "TRUE"
sata0:2.fileName = "data.img"
ide1:0.present = "TRUE"
ide1:0.deviceType = "cdrom-image"
ide1:0.fileName = "tools.iso"
ide1:1.present = "TRUE"
ide1:1.deviceType = "atapi-cdrom"
ide1:1.fileName = "/dev/sr0"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:01:02:03"
ETHERNET1.PRESENT = "TRUE"
ethernet1.addressType = "generated"
ethernet1.generatedAddress = "00:0c:29:aa:bb:cc"
VMX
before=$(cd "$vm" && sha256sum -- * | sort)

"$HVCONVERT" import "$vm/web.vmx" -o "$out" 2>"$tmp/err" ||
  fail "import: $(cat "$tmp/err")"
assert_grep 'disk on scsi 0:0 moved to IDE 0:0' "$tmp/err"
dir=$out/'web "one"'
"$QEMU_IMG" compare -q -f raw -F vpc "$vm/system.img" \
  "$dir/web \"one\"-disk1.vhd" || fail "disk 1 differs"
"$QEMU_IMG" compare -q -f raw -F vpc "$vm/data.img" \
  "$dir/web \"one\"-disk2.vhd" || fail "disk 2 differs"
python3 - "$dir/web \"one\".json" <<'PY' || fail "web.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == 'web "one"' and d["source_format"] == "vmx"
assert d["memory"] == 2048 << 20 and d["vcpus"] == 2 and d["generation"] == 1
assert d["guest_os"] == "debian11-64"
got = [(x["media"], x["bus"], x["controller"], x["slot"]) for x in d["disks"]]
assert got == [("cdrom", "ide", 1, 0), ("cdrom", "ide", 1, 1),
               ("disk", "ide", 0, 0), ("disk", "sata", 0, 2)], got
assert d["disks"][0]["source"].endswith("tools.iso")
assert d["disks"][1]["source"] is None          # a host drive: left empty
macs = [(n["mac"], n["network"], n["model"]) for n in d["nics"]]
assert macs == [("00:50:56:01:02:03", "VM Network", "vmxnet3"),
                ("00:0c:29:aa:bb:cc", None, None)], macs
assert any("moved to IDE" in w for w in d["warnings"])
PY
virt-xml-validate "$dir/web \"one\".xml" >/dev/null || fail "libvirt XML"
assert_eq "$(cd "$vm" && sha256sum -- * | sort)" "$before" "the originals"

# Generation 2: firmware = "efi" puts every drive on SCSI 0.
sed -e 's/^displayName.*/displayName = "web2"/' "$vm/web.vmx" >"$vm/web2.vmx"
echo 'firmware = "efi"' >>"$vm/web2.vmx"
"$HVCONVERT" import "$vm/web2.vmx" -o "$out" 2>"$tmp/err" ||
  fail "import gen 2: $(cat "$tmp/err")"
python3 - "$out/web2/web2.json" <<'PY' || fail "web2.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["generation"] == 2 and d["firmware"] == "uefi"
got = [(x["bus"], x["controller"], x["slot"]) for x in d["disks"]]
assert got == [("scsi", 0, 0), ("scsi", 0, 1), ("scsi", 0, 2),
               ("scsi", 0, 3)], got
PY
assert_grep "New-VM -Name 'web2' -Generation 2" "$out/web2/web2.ps1"
assert_grep "ControllerType SCSI" "$out/web2/web2.ps1"
virt-xml-validate "$out/web2/web2.xml" >/dev/null || fail "libvirt XML gen 2"
virsh -q -c test:///default define "$out/web2/web2.xml" >/dev/null ||
  fail "virsh define refused web2.xml (gen 2)"

# Split and snapshot disks: the system disk a twoGbMaxExtentSparse VMDK
# (two extent files) under a snapshot delta (NAME-000001.vmdk, read
# through parentFileNameHint): the machine's current state is converted.
split=$((2 * 1024 * MiB + 64 * MiB))
"$QEMU_IMG" create -q -f vmdk -o subformat=twoGbMaxExtentSparse \
  "$vm/big.vmdk" $split
qemu-io -f vmdk -c 'write -P 0x44 1M 1M' -c "write -P 0x45 $((split - 2 * MiB)) 1M" \
  "$vm/big.vmdk" >/dev/null
(cd "$vm" && "$QEMU_IMG" create -q -f vmdk -b big.vmdk -F vmdk big-000001.vmdk)
qemu-io -f vmdk -c 'write -P 0x46 1536k 1M' "$vm/big-000001.vmdk" >/dev/null
(( $(grep -ac '^RW ' "$vm/big.vmdk") >= 2 )) || fail "big.vmdk is not split"
cat >"$vm/snap.vmx" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
displayName = "snap"
scsi0.present = "TRUE"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "big-000001.vmdk"
VMX
before=$(cd "$vm" && sha256sum -- big* | sort)
"$HVCONVERT" import "$vm/snap.vmx" -o "$out" 2>"$tmp/err" ||
  fail "import of a snapshot: $(cat "$tmp/err")"
"$QEMU_IMG" compare -q -f vmdk -F vpc "$vm/big-000001.vmdk" \
  "$out/snap/snap-disk1.vhd" || fail "the snapshot's current state differs"
assert_eq "$(cd "$vm" && sha256sum -- big* | sort)" "$before" \
  "the VMDK files after the import"

# Bare disks.
"$HVCONVERT" import "$vm/system.img" "$vm/data.img" -o "$out" \
  2>"$tmp/err" || fail "import of bare disks: $(cat "$tmp/err")"
python3 - "$out/system/system.json" <<'PY' || fail "system.json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "system" and d["source_format"] == "disk"
assert d["memory"] == 1 << 30 and d["vcpus"] == 1 and d["generation"] == 1
got = [(x["bus"], x["controller"], x["slot"], x["output"]) for x in d["disks"]]
assert got == [("ide", 0, 0, "system-disk1.vhd"),
               ("ide", 0, 1, "system-disk2.vhd")], got
PY
"$QEMU_IMG" compare -q -f raw -F vpc "$vm/data.img" \
  "$out/system/system-disk2.vhd" || fail "bare disk 2 differs"
assert_no_temporary "$out"

echo "PASS: $test_name"

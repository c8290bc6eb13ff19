#!/bin/bash
# hvconvert inject on synthetic Windows disks (fixtures/make-windows-disk.sh,
# an NTFS partition with hives grown from minimal.hive and a minimal PE
# cmd.exe):
#   - Windows 7 from VMware, as a VHD: inject applies the plan; then,
#     independently of hvconvert, libguestfs inspection (guestfish) still
#     sees Windows 6.1 x86_64, and hivexget/hivexsh on the hives copied
#     out show the boot drivers boot-start, VMware's drivers disabled and
#     out of the mouse filters, the CriticalDeviceDatabase entries, the
#     uninstaller at first logon, and the old hives kept as backups; a
#     second inject plans nothing and leaves the VHD byte for byte alone.
#   - Windows XP with an integration services ISO (xorriso), dry run:
#     inspection sees 5.1 i386 and the plan copies support/x86 in.
# Three appliance launches under TCG (two injects, one guestfish) and a
# dry-run inject: about 100 s.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require guestfish libguestfs-tools
require hivexget libhivex-bin
require hivexsh libhivex-bin
require hivexregedit libhivex-bin
require mkntfs ntfs-3g
require ntfs-3g ntfs-3g
require sfdisk fdisk
require xorriso xorriso
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}

"$top_srcdir/fixtures/make-windows-disk.sh" "$tmp/win7.img" win7 ||
  fail "make-windows-disk.sh win7 failed"
"$HVCONVERT" disk "$tmp/win7.img" "$tmp/win7.vhd" 2>/dev/null
rm -f "$tmp/win7.img"

# ---------------------------------------------------------------------
# The first inject applies the plan.

rc=0
"$HVCONVERT" inject --json "$tmp/win7.vhd" >"$tmp/inject1.json" \
  2>"$tmp/inject1.err" || rc=$?
[[ $rc == 0 ]] ||
  fail "inject exited $rc: $(cat "$tmp/inject1.json" "$tmp/inject1.err")"
python3 - "$tmp/inject1.json" <<'PY' || fail "inject: $(cat "$tmp/inject1.json")"
import json, sys
r = json.load(open(sys.argv[1]))
g = r
assert g["type"] == "windows" and g["major"] == 6 and g["minor"] == 1, g
assert r["applied"] is True, r
paths = sorted(s["path"] for s in r["plan"]["steps"])
assert paths == ["/Windows/System32/config/SOFTWARE",
                 "/Windows/System32/config/SYSTEM"], paths
for s in r["plan"]["steps"]:
    assert s["backup"] == s["path"] + ".pre-hvconvert", s
notes = [n["text"] for n in r["plan"]["notes"]]
assert any("Services\\vmbus: Start 3 -> 0" in n for n in notes), notes
assert not [n for n in r["plan"]["notes"] if n["level"] == "warning"], notes
PY

# ---------------------------------------------------------------------
# What is in the VHD now, seen without hvconvert: inspection, and the
# hives (new and backups) copied out for hivexget.

guestfish --ro --format=vpc -a "$tmp/win7.vhd" >"$tmp/gf.out" \
  2>"$tmp/gf.err" <<EOF || fail "guestfish: $(cat "$tmp/gf.err")"
run
inspect-os
inspect-get-type /dev/sda1
inspect-get-major-version /dev/sda1
inspect-get-minor-version /dev/sda1
inspect-get-arch /dev/sda1
mount-ro /dev/sda1 /
download /Windows/System32/config/SYSTEM $tmp/SYSTEM
download /Windows/System32/config/SOFTWARE $tmp/SOFTWARE
download /Windows/System32/config/SYSTEM.pre-hvconvert $tmp/SYSTEM.orig
download /Windows/System32/config/SOFTWARE.pre-hvconvert $tmp/SOFTWARE.orig
EOF
assert_eq "$(tr '\n' ' ' <"$tmp/gf.out")" \
  "/dev/sda1 windows 6 1 x86_64 " "inspection after inject"

# get HIVE KEY VALUE: one value as hivexget prints it (lines joined).
get () {
  hivexget "$1" "$2" "$3" | tr '\n' ' ' | sed 's/ *$//'
}
services='ControlSet001\Services'
for s in vmbus storvsc storflt atapi intelide pciide; do
  assert_eq "$(get "$tmp/SYSTEM" "$services\\$s" Start)" 0 "$s Start"
  assert_eq "$(get "$tmp/SYSTEM.orig" "$services\\$s" Start)" 3 \
    "$s Start in the backup"
done
for s in vmmouse vmci VMTools pvscsi; do
  assert_eq "$(get "$tmp/SYSTEM" "$services\\$s" Start)" 4 "$s Start"
done
mouse='ControlSet001\Control\Class\{4D36E96F-E325-11CE-BFC1-08002BE10318}'
assert_eq "$(get "$tmp/SYSTEM" "$mouse" UpperFilters)" "mouclass" \
  "mouse UpperFilters"
assert_eq "$(get "$tmp/SYSTEM.orig" "$mouse" UpperFilters)" \
  "vmmouse mouclass" "mouse UpperFilters in the backup"
cdd='ControlSet001\Control\CriticalDeviceDatabase'
assert_eq "$(get "$tmp/SYSTEM" "$cdd\\pci#ven_8086&dev_7010" Service)" \
  intelide "CDD PIIX3"
assert_eq "$(get "$tmp/SYSTEM" "$cdd\\primary_ide_channel" Service)" \
  atapi "CDD primary IDE channel"
assert_eq "$(get "$tmp/SOFTWARE" \
  'Microsoft\Windows\CurrentVersion\RunOnce' hvconvert-uninstall-1)" \
  "MsiExec.exe /X{FE2F6A2C-196E-4210-9C04-2B1BC21F07EF} /qn /norestart" \
  "VMware Tools uninstalled at first logon"
# hivexsh walks the new hive as a whole: every key it lists is readable.
hivexsh "$tmp/SYSTEM" >"$tmp/hivexsh.out" 2>&1 <<'EOF' ||
cd \ControlSet001\Services\storvsc
lsval
cd \ControlSet001\Control\CriticalDeviceDatabase
ls
EOF
  fail "hivexsh: $(cat "$tmp/hivexsh.out")"
assert_grep '"Start"=dword:00000000' "$tmp/hivexsh.out"
assert_grep '^vmbus#{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}$' \
  "$tmp/hivexsh.out"

# ---------------------------------------------------------------------
# A second inject plans nothing and changes nothing.

sha=$(sha256sum <"$tmp/win7.vhd")
"$HVCONVERT" inject --json "$tmp/win7.vhd" >"$tmp/inject2.json" \
  2>"$tmp/inject2.err" ||
  fail "second inject: $(cat "$tmp/inject2.json" "$tmp/inject2.err")"
python3 - "$tmp/inject2.json" <<'PY' || fail "second inject: $(cat "$tmp/inject2.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["plan"]["steps"] == [], r["plan"]["steps"]
PY
[[ $(sha256sum <"$tmp/win7.vhd") == "$sha" ]] ||
  fail "the second inject changed the VHD"
echo "PASS: Windows 7: boot drivers, VMware Tools out, second run a no-op"

# ---------------------------------------------------------------------
# Windows XP and the integration services ISO, planned.

"$top_srcdir/fixtures/make-windows-disk.sh" "$tmp/xp.img" xp ||
  fail "make-windows-disk.sh xp failed"
mkdir -p "$tmp/iso/support/x86" "$tmp/iso/support/amd64"
printf 'MZ fake setup' >"$tmp/iso/support/x86/setup.exe"
printf 'MZ fake setup' >"$tmp/iso/support/amd64/setup.exe"
xorriso -as mkisofs -quiet -R -J -o "$tmp/vmguest.iso" "$tmp/iso" \
  2>/dev/null
"$HVCONVERT" inject --dry-run --json --drivers-iso "$tmp/vmguest.iso" \
  "$tmp/xp.img" >"$tmp/xp.json" 2>"$tmp/xp.err" ||
  fail "inject xp: $(cat "$tmp/xp.json" "$tmp/xp.err")"
python3 - "$tmp/xp.json" <<'PY' || fail "inject xp: $(cat "$tmp/xp.json")"
import json, sys
r = json.load(open(sys.argv[1]))
g = r
assert g["major"] == 5 and g["minor"] == 1 and g["arch"] == "i386", g
assert r["applied"] is False, r
paths = [s["path"] for s in r["plan"]["steps"]]
want = "/Program Files/hvconvert/integration-services/setup.exe"
assert want in paths, paths
assert "/WINDOWS/system32/config/system" in paths, paths
assert not any("amd64" in s["why"] for s in r["plan"]["steps"]), paths
PY
echo "PASS: Windows XP: the integration services from the ISO are planned"

#!/bin/bash
# hvconvert inject on the sample physical server (the fast path of the
# enlightenment tests; tests/test-debian-guest.sh is the slow real one).
#
# The no-ide-driver variant's initramfs has only virtio drivers, like a
# machine built on KVM; its root file system has the kernel's module tree
# with the Hyper-V and IDE drivers.
#  - before: verify --profile gen1 says root-not-found (status 13);
#  - inject --dry-run prints the plan (the drivers for the initramfs, the
#    hook that keeps them, fstab's by-id root rewritten to its UUID) and
#    changes nothing (sha256), leaves nothing;
#  - inject: the VHD passes vhd check; the initramfs, taken out of the
#    disk with debugfs and listed with lsinitramfs (both independent of
#    hvconvert), holds hv_vmbus, hv_storvsc, hv_netvsc, hv_utils and
#    ata_piix, and its depmod index knows them; the old image is kept as
#    .pre-hvconvert; verify says booted, the report shows ata_piix on the
#    root disk's path;
#  - a second inject plans nothing and changes nothing;
#  - an interrupted commit (a pending overlay left beside the disk): a
#    dry run refuses, a real run completes it first;
#  - a full guest file system: inject fails, the disk is unchanged and
#    nothing is left beside it.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require debugfs e2fsprogs
require lsinitramfs initramfs-tools-core
require qemu-io qemu-utils

gen=$top_srcdir/fixtures/make-sample-server.sh
export HVCONVERT_CACHE_DIR=$tmp/cache
export LIBGUESTFS_BACKEND=direct

# sample VARIANT NAME [SIZE]: the sample as a dynamic VHD $tmp/NAME.vhd.
sample () {
  "$gen" --variant "$1" ${3:+--size "$3"} "$tmp/$2.img" >"$tmp/gen.out" 2>&1 ||
    fail "make-sample-server.sh --variant $1: $(cat "$tmp/gen.out")"
}

to_vhd () {
  "$HVCONVERT" disk "$tmp/$1.img" "$tmp/$1.vhd" 2>"$tmp/disk.out" ||
    fail "hvconvert disk $1: $(cat "$tmp/disk.out")"
}

# verify NAME STATUS: hvconvert verify --json with the expected status.
verify () {
  local st=0
  "$HVCONVERT" verify --profile gen1 --json "$tmp/$1.vhd" >"$tmp/$1.json" \
    2>"$tmp/verify.err" || st=$?
  [[ $st == "$2" ]] ||
    fail "verify $1: status $st, expected $2: $(cat "$tmp/$1.json" "$tmp/verify.err")"
}

# The files beside the disks, but the disks and their .img sources.
leftovers () {
  find "$tmp" -maxdepth 1 -name '.*' ! -name . | sort
}

# initramfs NAME OUT: the disk's initramfs, out of its ext4 with debugfs.
initramfs () {
  "$QEMU_IMG" convert -f vpc -O raw "$tmp/$1.vhd" "$tmp/$1.raw"
  debugfs -R "dump /boot/initrd.img-$kver $2" "$tmp/$1.raw?offset=1048576" \
    >/dev/null 2>&1 || fail "debugfs could not read the initramfs of $1"
  debugfs -R "ls -l /boot" "$tmp/$1.raw?offset=1048576" >"$tmp/$1.boot" 2>&1
  rm -f "$tmp/$1.raw"
}

sample no-ide-driver noide
kver=$(debugfs -R 'cat /etc/hvconvert-sample/build' \
         "$tmp/noide.img?offset=1048576" 2>/dev/null | sed 's/.*kernel=//')
[[ -n $kver ]] || fail "no kernel version in the sample's build file"
to_vhd noide

verify noide 13
python3 - "$tmp/noide.json" <<'PY' || fail "before inject: $(cat "$tmp/noide.json")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verdict"] == "root-not-found", v
PY

# The dry run: a plan (JSON), no change, nothing left.
sha=$(sha256sum <"$tmp/noide.vhd")
"$HVCONVERT" inject --dry-run --json "$tmp/noide.vhd" >"$tmp/dry.json" \
  2>"$tmp/dry.err" || fail "inject --dry-run --json: $(cat "$tmp/dry.err")"
python3 - "$tmp/dry.json" "$kver" <<'PY' || fail "dry-run JSON: $(cat "$tmp/dry.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["type"] == "linux" and r["dry_run"] is True and r["applied"] is False, r
paths = [s["path"] for s in r["plan"]["steps"]]
assert "/boot/initrd.img-" + sys.argv[2] in paths, paths
s = [s for s in r["plan"]["steps"] if s["path"].startswith("/boot/initrd")][0]
assert s["backup"].endswith(".pre-hvconvert"), s
assert "/etc/fstab" in paths, paths
PY
assert_eq "$(sha256sum <"$tmp/noide.vhd")" "$sha" "the VHD after a dry run"
assert_eq "$(leftovers)" "" "files left by the dry run"

# Apply: the plan is printed as it is applied.
"$HVCONVERT" inject "$tmp/noide.vhd" >"$tmp/inject.out" 2>&1 ||
  fail "inject: $(cat "$tmp/inject.out")"
assert_grep "applied" "$tmp/inject.out"
assert_grep "initrd.img-$kver" "$tmp/inject.out"
assert_grep "hv_vmbus.*hv_storvsc" "$tmp/inject.out"
assert_grep "ata_piix" "$tmp/inject.out"
assert_grep "/etc/initramfs-tools/hooks/hvconvert-hyperv\|no initramfs tool" \
  "$tmp/inject.out"
assert_eq "$(leftovers)" "" "files left by inject"
"$HVCONVERT" vhd check "$tmp/noide.vhd" >"$tmp/check.out" 2>&1 ||
  fail "vhd check after inject: $(cat "$tmp/check.out")"
"$VHDIINFO" "$tmp/noide.vhd" >/dev/null 2>&1 || fail "vhdiinfo cannot read the VHD"

initramfs noide "$tmp/initrd.new"
lsinitramfs "$tmp/initrd.new" >"$tmp/members" 2>&1 ||
  fail "lsinitramfs cannot read the new initramfs: $(cat "$tmp/members")"
for m in hv_vmbus hv_storvsc hv_netvsc hv_utils ata_piix libata virtio_blk; do
  grep -q "/$m\.ko" "$tmp/members" || fail "$m.ko not in the initramfs: $(cat "$tmp/members")"
done
# fstab's by-id root (a one-disk guest: partition 1 of its disk) is now
# the file system's UUID, as debugfs reads it.
fs_uuid=$(debugfs -R stats "$tmp/noide.img?offset=1048576" 2>/dev/null |
            sed -n 's/^Filesystem UUID: *//p')
"$QEMU_IMG" convert -f vpc -O raw "$tmp/noide.vhd" "$tmp/noide.raw"
debugfs -R "cat /etc/fstab" "$tmp/noide.raw?offset=1048576" \
  >"$tmp/fstab" 2>/dev/null
rm -f "$tmp/noide.raw"
[[ -n $fs_uuid ]] || fail "no file system UUID in the sample"
grep -q "^UUID=$fs_uuid / ext4" "$tmp/fstab" ||
  fail "fstab's root is not UUID=$fs_uuid: $(cat "$tmp/fstab")"
grep -q "by-id" "$tmp/fstab" && fail "fstab still names by-id: $(cat "$tmp/fstab")"
grep -q "initrd.img-$kver.pre-hvconvert" "$tmp/noide.boot" ||
  fail "the old initramfs was not kept: $(cat "$tmp/noide.boot")"
mkdir "$tmp/unpacked"
(cd "$tmp/unpacked" && unmkinitramfs "$tmp/initrd.new" . >/dev/null 2>&1) ||
  fail "unmkinitramfs cannot unpack the new initramfs"
dep=$(find "$tmp/unpacked" -path "*/lib/modules/$kver/modules.dep" | head -n 1)
[[ -n $dep ]] || fail "no modules.dep in the new initramfs"
grep -q "hv_storvsc.ko:.*hv_vmbus.ko" "$dep" || fail "modules.dep: $(cat "$dep")"
grep -q "ata_piix.ko:" "$dep" || fail "modules.dep lacks ata_piix: $(cat "$dep")"

verify noide 0
python3 - "$tmp/noide.json" <<'PY' || fail "after inject: $(cat "$tmp/noide.json")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verdict"] == "booted", v
assert "ata_piix" in v["report"]["root-drivers"].split(), v["report"]
assert "hv_storvsc" in v["report"]["hv-modules-available"].split(), v["report"]
PY

# A second inject: nothing to change, nothing changed.
sha=$(sha256sum <"$tmp/noide.vhd")
"$HVCONVERT" inject "$tmp/noide.vhd" >"$tmp/again.out" 2>&1 ||
  fail "second inject: $(cat "$tmp/again.out")"
assert_grep "nothing to change" "$tmp/again.out"
assert_eq "$(sha256sum <"$tmp/noide.vhd")" "$sha" "the VHD after a second inject"

# An interrupted commit: the pending overlay beside the disk holds a
# change (a pattern at 1 MiB, the start of the root partition's space).
pending=$tmp/.noide.vhd.inject-pending.qcow2
"$QEMU_IMG" create -q -f qcow2 -b "$tmp/noide.vhd" -F vpc "$pending"
qemu-io -f qcow2 -c 'write -P 0x5a 512 512' "$pending" >/dev/null
if "$HVCONVERT" inject --dry-run "$tmp/noide.vhd" >"$tmp/pend.out" 2>&1; then
  fail "a dry run with a pending commit succeeded"
fi
assert_grep "interrupted" "$tmp/pend.out"
[[ -f $pending ]] || fail "the dry run removed the pending overlay"
"$HVCONVERT" inject "$tmp/noide.vhd" >"$tmp/pend.out" 2>&1 ||
  fail "inject with a pending commit: $(cat "$tmp/pend.out")"
assert_grep "completing it" "$tmp/pend.out"
[[ ! -e $pending ]] || fail "the pending overlay is still there"
qemu-io -f vpc -r -c 'read -P 0x5a 512 512' "$tmp/noide.vhd" |
  grep -q "read 512/512" || fail "the pending change was not committed"

# A full guest file system: the new initramfs does not fit.
sample no-ide-driver full 48M
read -r free_blocks block_size < <(dumpe2fs -h "$tmp/full.img?offset=1048576" \
  2>/dev/null | awk -F: '/^Free blocks/ { f = $2 + 0 }
                         /^Block size/ { b = $2 + 0 } END { print f, b }')
fill=$tmp/fill
head -c $(( (free_blocks - 64) * block_size )) /dev/zero | tr '\0' x >"$fill"
debugfs -w -R "write $fill /filler" "$tmp/full.img?offset=1048576" >/dev/null 2>&1 ||
  fail "could not fill the file system"
rm -f "$fill"
to_vhd full
sha=$(sha256sum <"$tmp/full.vhd")
if "$HVCONVERT" inject "$tmp/full.vhd" >"$tmp/full.out" 2>&1; then
  fail "inject on a full file system succeeded: $(cat "$tmp/full.out")"
fi
assert_grep "unchanged" "$tmp/full.out"
assert_eq "$(sha256sum <"$tmp/full.vhd")" "$sha" "the VHD after a failed inject"
assert_eq "$(leftovers)" "" "files left by a failed inject"

echo "PASS: inject enlightens the sample server; dry run, second run, pending commit, full file system"

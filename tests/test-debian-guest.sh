#!/bin/bash
# The real Linux test (issue 6): a Debian 12 guest built by
# fixtures/make-debian-guest.sh (debootstrap, GRUB 2 in the MBR, an
# initramfs made with MODULES=dep on a virtio-blk machine, fstab naming
# /dev/vda1), converted with hvconvert disk:
#  - before inject, hvconvert verify --profile gen1 says root-not-found
#    (exit status 13): its initramfs has no IDE driver, and initramfs-tools
#    drops to a shell for the root's UUID;
#  - after inject (after_inject below), it boots on gen1 with ata_piix
#    driving the root disk, and its initramfs, read by the host's
#    lsinitramfs, holds the hv_* drivers and ata_piix.
# The guest is built once and cached ($HVCONVERT_TEST_CACHE, see the
# generator's header): about 2 to 3 minutes the first time, 2 s after.
# Each verify boot takes 30 to 60 s under TCG.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require debugfs e2fsprogs
require lsinitramfs initramfs-tools-core
require guestfish guestfish
export HVCONVERT_CACHE_DIR=$tmp/cache
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg

gen=$top_srcdir/fixtures/make-debian-guest.sh
uuid=5d1b1e8c-4a4e-4c3b-9c1f-48564331d1e6   # fixed by the generator

# The modules the guest needs on Hyper-V generation 1: the VMBus drivers
# and the emulated IDE controller's.
hv_modules="hv_vmbus hv_storvsc hv_netvsc hv_utils"

# initrd_modules LIST: the module names (no .ko*) in an lsinitramfs LIST.
initrd_modules () {
  sed -n 's#.*/\([^/]*\)\.ko\(\.[a-z]*\)\{0,1\}$#\1#p' "$1" | sort -u
}

# guest_file IMG PATH: cat PATH from the root file system of raw IMG.
guest_file () {
  debugfs -R "cat $2" "$1?offset=1048576" 2>/dev/null
}

# verify_guest VHD LOGDIR: hvconvert verify --profile gen1, the text
# verdict in LOGDIR/out (LOGDIR/verdict.json too); prints the exit status.
verify_guest () {
  local rc=0
  "$HVCONVERT" verify --profile gen1 --timeout 240 --log-dir "$2" "$1" \
    >"$2.out" 2>"$2.err" || rc=$?
  echo "$rc"
}

# verdict_field LOGDIR EXPR: a field of LOGDIR/verdict.json (EXPR in
# Python, with v the verdict).
verdict_field () {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1] + "/verdict.json"))
print(eval(sys.argv[2]))' "$1" "$2"
}

# --- The guest, built or taken from the cache.
"$gen" "$tmp/guest.img" >"$tmp/gen.out" 2>&1 ||
  fail "make-debian-guest.sh: $(cat "$tmp/gen.out")"
cat "$tmp/gen.out"
kver=$(guest_file "$tmp/guest.img" /etc/hvconvert-debian-guest |
       sed -n 's/^kernel=//p')
[[ -n $kver ]] || fail "no kernel version in /etc/hvconvert-debian-guest"
initrd=/boot/initrd.img-$kver

# What makes it unenlightened, checked here with host tools: GRUB in the
# MBR, the root as /dev/vda1 in fstab, an initramfs without the drivers.
head -c 440 "$tmp/guest.img" | grep -aq GRUB || fail "no GRUB in the MBR"
guest_file "$tmp/guest.img" /etc/fstab | grep -q '^/dev/vda1 / ext4 ' ||
  fail "fstab: $(guest_file "$tmp/guest.img" /etc/fstab)"
debugfs -R "dump $initrd $tmp/initrd.before" "$tmp/guest.img?offset=1048576" \
  2>/dev/null
lsinitramfs "$tmp/initrd.before" >"$tmp/before.list" ||
  fail "lsinitramfs cannot read the guest's $initrd"
initrd_modules "$tmp/before.list" >"$tmp/before.mods"
for m in virtio_blk ext4; do
  grep -qx "$m" "$tmp/before.mods" || fail "the initramfs lacks $m"
done
for m in ata_piix $hv_modules; do
  if grep -qx "$m" "$tmp/before.mods"; then
    fail "the unenlightened initramfs already has $m"
  fi
done

# --- Converted, before inject: the root is not found.
"$HVCONVERT" disk "$tmp/guest.img" "$tmp/guest.vhd" 2>/dev/null
rm -f "$tmp/guest.img" "$tmp/initrd.before"
start=$SECONDS
rc=$(verify_guest "$tmp/guest.vhd" "$tmp/before")
echo "before inject: verify exited $rc after $((SECONDS - start)) s"
[[ $rc == 13 ]] ||
  fail "verify exited $rc, not 13 (root-not-found): $(cat "$tmp/before.out" "$tmp/before.err")"
assert_grep "^guest: root-not-found after " "$tmp/before.out"
assert_grep "why: the initramfs never saw the root device" "$tmp/before.out"
assert_eq "$(verdict_field "$tmp/before" 'v["verdict"]')" root-not-found \
  "the verdict in verdict.json"
assert_grep "ALERT!  UUID=$uuid does not exist.  Dropping to a shell!" \
  "$tmp/before/console.log"
echo "PASS: before inject, the Debian guest's root is not found"

# --- After inject.
after_inject () {
  local m
  start=$SECONDS
  "$HVCONVERT" inject "$tmp/guest.vhd" >"$tmp/inject.out" 2>&1 ||
    fail "hvconvert inject: $(cat "$tmp/inject.out")"
  echo "inject took $((SECONDS - start)) s"

  start=$SECONDS
  rc=$(verify_guest "$tmp/guest.vhd" "$tmp/after")
  echo "after inject: verify exited $rc after $((SECONDS - start)) s"
  [[ $rc == 0 ]] ||
    fail "verify exited $rc, not 0 (booted): $(cat "$tmp/after.out" "$tmp/after.err")"
  assert_eq "$(verdict_field "$tmp/after" 'v["verdict"]')" booted \
    "the verdict in verdict.json"
  assert_eq "$(verdict_field "$tmp/after" 'v["report"]["kernel"]')" "$kver" \
    "the kernel that booted"
  assert_eq "$(verdict_field "$tmp/after" 'v["report"]["root"]')" /dev/sda1 \
    "the root device the guest reports"
  # The root disk is on the emulated IDE controller, driven by ata_piix:
  # the report names the drivers on the root disk's device path, and the
  # kernel names the driver of each SCSI host it registers.
  case " $(verdict_field "$tmp/after" 'v["report"]["root-drivers"]') " in
    *" ata_piix "*) ;;
    *) fail "the report does not show ata_piix on the root disk's path" ;;
  esac
  grep -aEq 'scsi host[0-9]+: ata_piix' "$tmp/after/console.log" ||
    fail "ata_piix drove no disk: $(grep -a 'scsi host' "$tmp/after/console.log")"

  # The guest's initramfs and fstab, copied out by libguestfs (one
  # appliance launch); the initramfs read by the host's lsinitramfs.
  mkdir -p "$tmp/out"
  guestfish --ro --format=vpc -a "$tmp/guest.vhd" -m /dev/sda1 \
    copy-out "$initrd" "$tmp/out" : \
    copy-out /etc/initramfs-tools/hooks/hvconvert-hyperv "$tmp/out" : \
    cat /etc/fstab >"$tmp/fstab.after" ||
    fail "guestfish could not copy $initrd, the hook and /etc/fstab out"
  # The hook that keeps the drivers in future images is valid sh and
  # names them.
  sh -n "$tmp/out/hvconvert-hyperv" ||
    fail "the initramfs-tools hook is not valid sh: $(cat "$tmp/out/hvconvert-hyperv")"
  grep -q '^for m in hv_vmbus .*ata_piix.*; do$' "$tmp/out/hvconvert-hyperv" ||
    fail "the hook does not list the drivers: $(cat "$tmp/out/hvconvert-hyperv")"
  lsinitramfs "$tmp/out/${initrd##*/}" >"$tmp/after.list" ||
    fail "lsinitramfs cannot read the injected $initrd"
  initrd_modules "$tmp/after.list" >"$tmp/after.mods"
  for m in $hv_modules ata_piix; do
    grep -qx "$m" "$tmp/after.mods" ||
      fail "the injected initramfs lacks $m: $(tr '\n' ' ' <"$tmp/after.mods")"
  done
  # Device names: fstab no longer names the root /dev/vda1 (the disk is
  # /dev/sda on Hyper-V).
  if grep -q '^/dev/vda' "$tmp/fstab.after"; then
    fail "fstab still names /dev/vda: $(cat "$tmp/fstab.after")"
  fi
  # A second inject plans nothing and changes nothing.
  local sha
  sha=$(sha256sum <"$tmp/guest.vhd")
  "$HVCONVERT" inject "$tmp/guest.vhd" >"$tmp/again.out" 2>&1 ||
    fail "second inject: $(cat "$tmp/again.out")"
  assert_grep "nothing to change" "$tmp/again.out"
  assert_eq "$(sha256sum <"$tmp/guest.vhd")" "$sha" "the VHD after a second inject"
  echo "PASS: after inject, the Debian guest boots on gen1 with ata_piix"
}

after_inject

echo "PASS: $test_name"

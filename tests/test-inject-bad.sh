#!/bin/bash
# hvconvert inject on disks it must refuse or ask about, each with a clear
# message and the disks unchanged:
#  - a qcow2 image (inject changes VHD and raw disks): refused before the
#    appliance starts;
#  - a disk with a file system but no operating system;
#  - two disks with an operating system each: the error lists both roots;
#    --root chooses one, a --root that is not a root is refused;
#  - a guest whose root file system cannot be mounted read-write (the
#    ext4 read-only feature): the plan is made, apply fails, the disk is
#    unchanged and nothing is left beside it.
# (A full guest file system: test-inject-sample.sh; a hibernated
# Windows: test-injectors-windows.)

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require mke2fs e2fsprogs
require tune2fs e2fsprogs
require sfdisk fdisk

gen=$top_srcdir/fixtures/make-sample-server.sh
export HVCONVERT_CACHE_DIR=$tmp/cache
export LIBGUESTFS_BACKEND=direct

leftovers () {
  find "$tmp" -maxdepth 1 -name '.*' ! -name . | sort
}

# must_fail OUT ARGS...: hvconvert ARGS fails (status 1 or 2), output
# in $tmp/OUT.
must_fail () {
  local out=$1 st=0
  shift
  "$HVCONVERT" "$@" >"$tmp/$out" 2>&1 || st=$?
  [[ $st == 1 || $st == 2 ]] ||
    fail "hvconvert $* exited $st, expected a failure: $(cat "$tmp/$out")"
}

# A qcow2 image: refused by name, at once.
"$QEMU_IMG" create -q -f qcow2 "$tmp/x.qcow2" 64M
must_fail qcow2.out inject "$tmp/x.qcow2"
assert_grep "qcow2 image: inject changes VHD and raw disks only" "$tmp/qcow2.out"

# No operating system: an MBR disk whose partition holds an empty ext4.
truncate -s 64M "$tmp/empty.img"
echo 'start=2048, type=83' | sfdisk --quiet "$tmp/empty.img" >/dev/null
mke2fs -q -t ext4 -E offset=1048576 "$tmp/empty.img" 60M
"$HVCONVERT" disk "$tmp/empty.img" "$tmp/empty.vhd" 2>/dev/null
sha=$(sha256sum <"$tmp/empty.vhd")
must_fail empty.out inject "$tmp/empty.vhd"
assert_grep "no operating system found" "$tmp/empty.out"
assert_eq "$(sha256sum <"$tmp/empty.vhd")" "$sha" "the empty disk"

# Two operating systems, one per disk.
"$gen" --variant good "$tmp/a.img" >/dev/null 2>&1 || fail "make-sample-server.sh"
"$gen" --variant no-ide-driver "$tmp/b.img" >/dev/null 2>&1 ||
  fail "make-sample-server.sh"
must_fail two.out inject --dry-run "$tmp/a.img" "$tmp/b.img"
assert_grep "2 operating systems: /dev/sda1 (.*), /dev/sdb1 (.*); choose one with --root" \
  "$tmp/two.out"
"$HVCONVERT" inject --dry-run --json --root /dev/sdb1 "$tmp/a.img" "$tmp/b.img" \
  >"$tmp/root.json" 2>"$tmp/root.err" ||
  fail "inject --root /dev/sdb1: $(cat "$tmp/root.err")"
python3 - "$tmp/root.json" <<'PY' || fail "--root: $(cat "$tmp/root.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["root"] == "/dev/sdb1" and r["dry_run"] is True, r
PY
must_fail badroot.out inject --dry-run --root /dev/sdc1 "$tmp/a.img" "$tmp/b.img"
assert_grep "root /dev/sdc1: not an operating system root" "$tmp/badroot.out"

# A root file system that will not mount read-write.
tune2fs -O read-only "$tmp/b.img?offset=1048576" >/dev/null 2>&1 ||
  fail "tune2fs -O read-only"
"$HVCONVERT" disk "$tmp/b.img" "$tmp/ro.vhd" 2>/dev/null
sha=$(sha256sum <"$tmp/ro.vhd")
must_fail ro.out inject "$tmp/ro.vhd"
assert_grep "Read-only file system; the disks are unchanged" "$tmp/ro.out"
assert_eq "$(sha256sum <"$tmp/ro.vhd")" "$sha" "the disk with a read-only root"
assert_eq "$(leftovers)" "" "files left beside the disks"

echo "PASS: inject refuses a qcow2, a disk without an OS, an ambiguous root, a read-only root"

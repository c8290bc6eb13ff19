#!/bin/bash
# hvconvert verify with the report job put in by libguestfs (the way in
# for roots debugfs cannot reach: LVM, XFS, Btrfs), forced with
# HVCONVERT_REPORT_JOB=libguestfs on the sample server: "booted", the job
# in the sample's hook directory, the VHD unchanged.  The appliance runs
# with the accelerator hvconvert chose (force_tcg here), so it does not
# hang on the nested KVM.  About 40 s under TCG.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
export HVCONVERT_CACHE_DIR=$tmp/cache
export LIBGUESTFS_CACHEDIR=${LIBGUESTFS_CACHEDIR:-/var/tmp}

"$top_srcdir/fixtures/make-sample-server.sh" "$tmp/good.img" >/dev/null ||
  fail "make-sample-server.sh failed"
"$HVCONVERT" disk "$tmp/good.img" "$tmp/good.vhd" 2>/dev/null
rm -f "$tmp/good.img"
sha=$(sha256sum <"$tmp/good.vhd")

rc=0
HVCONVERT_REPORT_JOB=libguestfs "$HVCONVERT" -v verify --json --timeout 120 \
  --log-dir "$tmp/logs" "$tmp/good.vhd" >"$tmp/v.json" 2>"$tmp/v.err" || rc=$?
[[ $rc == 0 ]] || fail "verify exited $rc: $(cat "$tmp/v.json" "$tmp/v.err")"
assert_grep "report job installed" "$tmp/v.err"
assert_grep "trying libguestfs" "$tmp/v.err"
python3 - "$tmp/v.json" <<'PY' || fail "verdict: $(cat "$tmp/v.json")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verdict"] == "booted", v
assert v["report_job"] == "/etc/hvconvert-sample/rc.d/hvconvert-report", v
assert v["report"]["root"] == "/dev/sda1", v
PY
[[ $(sha256sum <"$tmp/good.vhd") == "$sha" ]] || fail "verify changed the VHD"
echo "PASS: the report job goes in through libguestfs too"

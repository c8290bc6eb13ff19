#!/bin/bash
# hvconvert import --verify: the converted machine is booted under QEMU
# (on overlays) before the output directory is renamed into place, and
# the verdict goes into NAME.json's report.  The sample server's good
# variant boots (exit 0); the no-ide-driver variant does not find its
# root (exit 13, the verify status), and the machine is written anyway;
# the converted VHD is not changed by being verified.  Imported with
# --inject --verify, the no-ide-driver machine is enlightened before the
# boot and boots (exit 0), and NAME.json's report has the applied plan.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86

gen=$top_srcdir/fixtures/make-sample-server.sh
"$gen" "$tmp/good.img" >/dev/null || fail "cannot build the sample server"
"$gen" --variant no-ide-driver "$tmp/noide.img" >/dev/null ||
  fail "cannot build the no-ide-driver sample"

"$HVCONVERT" import "$tmp/good.img" -o "$tmp/out" --verify 2>"$tmp/err" ||
  fail "import --verify of the good server: $(cat "$tmp/err")"
assert_grep "verify: booted" "$tmp/err"
python3 - "$tmp/out/good/good.json" <<'PY' || fail "good.json: no verdict"
import json, sys
v = json.load(open(sys.argv[1]))["report"]["verify"]
assert v["verdict"] == "booted" and v["booted"] is True, v
assert v["profile"] == "gen1" and v["accelerator"] in ("tcg", "kvm"), v
PY

rc=0
"$HVCONVERT" import "$tmp/noide.img" -o "$tmp/out" --verify 2>"$tmp/err" ||
  rc=$?
assert_eq "$rc" 13 "exit status of a machine whose root is not found"
assert_grep "verify: root-not-found" "$tmp/err"
[ -f "$tmp/out/noide/noide-disk1.vhd" ] || fail "the machine was not written"
sum=$(sha256sum <"$tmp/out/noide/noide-disk1.vhd")
"$HVCONVERT" verify "$tmp/out/noide/noide-disk1.vhd" >/dev/null 2>&1 || true
assert_eq "$(sha256sum <"$tmp/out/noide/noide-disk1.vhd")" "$sum" \
  "the VHD after verification"
python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))["report"]["verify"]
assert v["verdict"] == "root-not-found", v
' "$tmp/out/noide/noide.json" || fail "noide.json: wrong verdict"

# --inject before --verify: the same machine boots.
"$HVCONVERT" import "$tmp/noide.img" -o "$tmp/out" --name enlightened \
  --inject --verify 2>"$tmp/err" ||
  fail "import --inject --verify of the no-ide-driver server: $(cat "$tmp/err")"
assert_grep "inject: done" "$tmp/err"
assert_grep "verify: booted" "$tmp/err"
python3 - "$tmp/out/enlightened/enlightened.json" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))["report"]
i, v = r["inject"], r["verify"]
assert i["applied"] is True and i["type"] == "linux", i
assert any(s["path"].startswith("/boot/initrd") for s in i["plan"]["steps"]), i
assert v["verdict"] == "booted", v
assert "ata_piix" in v["report"]["root-drivers"].split(), v
PY
  fail "enlightened.json: $(cat "$tmp/out/enlightened/enlightened.json")"
[[ -z $(find "$tmp/out" -name '.*' ! -name . ) ]] ||
  fail "files left in the output: $(find "$tmp/out" -name '.*')"

echo "PASS: $test_name"

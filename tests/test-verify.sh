#!/bin/bash
# hvconvert verify on the sample physical server (fixtures/
# make-sample-server.sh), each variant converted with hvconvert disk:
#  - good: "booted", with a report that carries this run's nonce and
#    says what the guest runs; the JSON has the profile, accelerator,
#    seconds and existing logs and a PNG screenshot;
#  - no-bootloader, no-ide-driver, panic: their own verdicts and exit
#    statuses;
#  - hang: "timeout", ended within its timeout;
#  - a guest whose hook prints a forged report (another nonce) and powers
#    off before our job runs: "stopped", not "booted";
#  - an MBR without boot code: no-bootable-device before booting;
#  - gen2 (OVMF) on the BIOS-only sample: no-bootable-device;
#  - gen1-enlightened under TCG: refused with a reason;
#  - no VHD changes (sha256 before and after).
# All under one deadline per boot; the boots run one after another.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require_root
require qemu-system-x86_64 qemu-system-x86
require qemu-storage-daemon qemu-system-common
require debugfs e2fsprogs

gen=$top_srcdir/fixtures/make-sample-server.sh
[[ -x $gen ]] || fail "$gen is missing"
export HVCONVERT_CACHE_DIR=$tmp/cache

# make VARIANT: the sample as a dynamic VHD, $tmp/VARIANT.vhd.
make () {
  "$gen" --variant "$1" "$tmp/$1.img" >"$tmp/gen.out" 2>&1 ||
    fail "make-sample-server.sh --variant $1: $(cat "$tmp/gen.out")"
  "$HVCONVERT" disk "$tmp/$1.img" "$tmp/$1.vhd" 2>"$tmp/disk.out" ||
    fail "hvconvert disk $1: $(cat "$tmp/disk.out")"
  rm -f "$tmp/$1.img"
  sha256sum "$tmp/$1.vhd" >"$tmp/$1.sha256"
}

# verify NAME EXPECTED-STATUS [OPTIONS...]: hvconvert verify --json of
# $tmp/NAME.vhd into $tmp/NAME.json, logs in $tmp/logs-NAME; the exit
# status must be EXPECTED-STATUS.  Sets $elapsed (seconds).
verify () {
  local name=$1 want=$2 rc=0 start
  shift 2
  start=$(date +%s.%N)
  "$HVCONVERT" verify --json --log-dir "$tmp/logs-$name" "$@" \
    "$tmp/$name.vhd" >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  elapsed=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" \
              "$start" "$(date +%s.%N)")
  echo "$name: exit $rc in $elapsed s: $(cat "$tmp/$name.json")"
  [[ $rc == "$want" ]] ||
    fail "verify $name: exit status $rc, expected $want: $(cat "$tmp/$name.err" "$tmp/$name.json")"
  sha256sum -c --quiet "$tmp/$name.sha256" ||
    fail "verify changed $name.vhd"
}

# check NAME PYTHON-EXPR: EXPR holds with v the verdict JSON of NAME.
check () {
  python3 - "$tmp/$1.json" "$2" <<'PY' || fail "$1: $2: $(cat "$tmp/$1.json")"
import json, os, sys
v = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

accel=$("$HVCONVERT" doctor --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["accelerator"])')

# The good server boots and reports.
make good
verify good 0 --timeout 120
check good 'v["verdict"] == "booted" and v["booted"] is True'
check good 'v["profile"] == "gen1" and v["accelerator"] == "'"$accel"'"'
check good '0 < v["seconds"] < 120'
# The sample runs the newest kernel in /boot.
kernel=$(find /boot -name 'vmlinuz-*' | sort -V | tail -n 1)
kernel=${kernel#/boot/vmlinuz-}
check good 'v["report"]["kernel"] == "'"$kernel"'"'
check good 'v["report"]["root"] == "/dev/sda1" and v["report"]["vmbus-devices"] == "0"'
check good '"root=UUID=" in v["report"]["cmdline"]'
check good 'v["report_job"] == "/etc/hvconvert-sample/rc.d/hvconvert-report"'
check good 'all(os.path.isfile(v[k]) for k in ("console_log", "report_log", "firmware_log", "screenshot"))'
check good 'open(v["screenshot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"'
check good 'os.path.isfile(os.path.join(v["log_dir"], "verdict.json"))'
# The report on COM2 carries one nonce, 32 hex digits, fresh each run.
nonce=$(sed -n 's/^HVCONVERT-REPORT \([0-9a-f]\{32\}\) begin.*/\1/p' \
          "$tmp/logs-good/report.log")
[[ ${#nonce} == 32 ]] || fail "no nonce in report.log: $(cat "$tmp/logs-good/report.log")"
assert_grep "hvconvert-sample: booted" "$tmp/logs-good/console.log"
ls "$tmp"/logs-good >"$tmp/logs.list"
for f in console.log report.log firmware.log qemu.log screen.png verdict.json; do
  assert_grep "^$f\$" "$tmp/logs.list"
done
[[ $(wc -l <"$tmp/logs.list") == 6 ]] || fail "work files left in the log directory: $(cat "$tmp/logs.list")"

# A forged report: a hook that runs before ours prints a report with
# another nonce on COM2 and powers off.  Not "booted".
cp "$tmp/good.vhd" "$tmp/forged.vhd"
qemu-img convert -f vpc -O raw "$tmp/forged.vhd" "$tmp/forged.img"
cat >"$tmp/00-forge" <<'SH'
#!/bin/sh
{ echo "HVCONVERT-REPORT 00000000000000000000000000000000 begin"
  echo "HVCONVERT-REPORT 00000000000000000000000000000000 kernel forged"
  echo "HVCONVERT-REPORT 00000000000000000000000000000000 end"; } >/dev/ttyS1
poweroff -f
SH
debugfs -w -R "write $tmp/00-forge /etc/hvconvert-sample/rc.d/00-forge" \
  "$tmp/forged.img?offset=1048576" >/dev/null 2>&1
rm -f "$tmp/forged.vhd"
"$HVCONVERT" disk "$tmp/forged.img" "$tmp/forged.vhd" 2>/dev/null
rm -f "$tmp/forged.img"
sha256sum "$tmp/forged.vhd" >"$tmp/forged.sha256"
verify forged 14 --timeout 120
check forged 'v["verdict"] == "stopped" and v["report"] is None'
assert_grep "kernel forged" "$tmp/logs-forged/report.log"

# The broken ones.
make no-bootloader
verify no-bootloader 10 --timeout 120
check no-bootloader 'v["verdict"] == "no-bootable-device"'
assert_grep "No bootable device" "$tmp/logs-no-bootloader/firmware.log"
# Nothing on that disk for libguestfs either: it is not started.
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 10 else 1)" "$elapsed" ||
  fail "verify of no-bootloader took $elapsed s"

make no-ide-driver
verify no-ide-driver 13 --timeout 120
check no-ide-driver 'v["verdict"] == "root-not-found" and "driver" in v["why"]'
check no-ide-driver '"does not exist" in v["last_console_lines"]'

make panic
verify panic 12 --timeout 120
check panic 'v["verdict"] == "kernel-panic"'

make hang
verify hang 15 --timeout 8
check hang 'v["verdict"] == "timeout" and 8 <= v["seconds"] < 10'
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 20 else 1)" "$elapsed" ||
  fail "verify of hang took $elapsed s with --timeout 8"
check hang 'len(v["last_console_lines"]) > 0'

# An MBR with a partition table and no boot code: known before booting.
truncate -s 8M "$tmp/nocode.img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$tmp/nocode.img"
"$HVCONVERT" disk "$tmp/nocode.img" "$tmp/nocode.vhd" 2>/dev/null
sha256sum "$tmp/nocode.vhd" >"$tmp/nocode.sha256"
verify nocode 10 --timeout 120
check nocode 'v["verdict"] == "no-bootable-device" and "boot code" in v["why"]'
check nocode 'v["seconds"] == 0 and v["console_log"] is None'

# gen2: OVMF finds no UEFI bootloader on the BIOS-only sample.
verify good 10 --profile gen2 --timeout 120
check good 'v["verdict"] == "no-bootable-device" and v["profile"] == "gen2"'
check good '"\x1b" not in v["last_console_lines"] and "Shell" in v["last_console_lines"]'

# gen1-enlightened needs KVM.
if [[ $accel == tcg ]]; then
  verify good 1 --profile gen1-enlightened
  assert_grep "needs a working KVM" "$tmp/good.err"
fi

# No QEMU, overlay or temporary left running or behind.
if pgrep -f "$tmp/" >/dev/null; then
  fail "processes left: $(pgrep -af "$tmp/")"
fi
echo "PASS: verify gives each sample variant its verdict"

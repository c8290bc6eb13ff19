#!/bin/bash
# bench/bench-verify.sh: how long `hvconvert verify` takes on the sample
# server (fixtures/make-sample-server.sh, good variant, as a dynamic VHD),
# and what it adds over a bare QEMU boot of the same disk (issue 5's
# targets: verdict in under 15 s under TCG, under 3 s of overhead).
#
#   verify: wall time from starting `hvconvert verify` to its exit with
#           the verdict (overlay, report job, QEMU, QMP, screenshot,
#           cleanup included);
#   bare:   qemu-system-x86_64 with the same machine (-machine pc, 1 GiB,
#           the VHD on IDE 0:0 with snapshot=on), timed from its start to
#           the console line "hvconvert-sample: booted", the point right
#           before the guest runs its hooks (where the report job runs);
#   overhead = median(verify) - median(bare).
# Runs alternate, N of each; medians are printed.  Needs root (the
# sample generator uses a loop device).
#
# Usage: bench/bench-verify.sh [-n RUNS] [-d DIR]
#   -n RUNS  runs of each (default 5)
#   -d DIR   work directory (default bench/out)
# HVCONVERT overrides the binary (default: convert/hvconvert of this tree,
# in place or in build/).

set -euo pipefail

runs=5
dir=$(cd "$(dirname "$0")" && pwd)/out
while getopts n:d: opt; do
  case $opt in
    n) runs=$OPTARG ;;
    d) dir=$OPTARG ;;
    *) sed -n '/^# Usage:/,/^# in place/s/^# //p' "$0" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null ||
  die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
mkdir -p "$dir"

disk=$dir/sample-good.vhd
"$top/fixtures/make-sample-server.sh" "$dir/sample-good.img" >&2
rm -f "$disk"
"$hvconvert" disk "$dir/sample-good.img" "$disk" 2>/dev/null
accel=$("$hvconvert" doctor --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["accelerator"])')

# One verify: prints its wall seconds; the verdict must be "booted".
verify_once () {
  local start end
  start=$(date +%s.%N)
  "$hvconvert" verify --json --log-dir "$dir/verify-logs" "$disk" \
    >"$dir/verdict.json" || die "verify did not say booted: $(cat "$dir/verdict.json")"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

# One bare boot to the "booted" line: prints its seconds.
bare_once () {
  python3 - "$disk" "$dir/bare-console.log" "$accel" <<'PY'
import os, subprocess, sys, time
disk, log, accel = sys.argv[1:4]
open(log, "w").close()
argv = ["qemu-system-x86_64", "-nodefaults", "-machine", "pc,accel=" + accel,
        "-m", "1024", "-vga", "std", "-display", "none",
        "-drive", "file=%s,format=vpc,if=ide,snapshot=on" % disk,
        "-serial", "file:" + log, "-no-reboot"]
if accel == "kvm":
    argv[4:4] = ["-cpu", "host"]
start = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while time.monotonic() - start < 120:
        with open(log, "rb") as f:
            if b"hvconvert-sample: booted" in f.read():
                print("%.3f" % (time.monotonic() - start))
                break
        if p.poll() is not None:
            sys.exit("bare QEMU exited before the booted line")
        time.sleep(0.01)
    else:
        sys.exit("bare QEMU: no booted line in 120 s")
finally:
    p.kill()
    p.wait()
PY
}

verify_runs=() bare_runs=()
for ((i = 0; i < runs; i++)); do
  verify_runs+=("$(verify_once)")
  bare_runs+=("$(bare_once)")
done
echo "all runs (s): verify: ${verify_runs[*]}; bare: ${bare_runs[*]}" >&2
v=$(printf '%s\n' "${verify_runs[@]}" | median)
b=$(printf '%s\n' "${bare_runs[@]}" | median)
awk -v v="$v" -v b="$b" -v a="$accel" -v n="$runs" 'BEGIN {
  printf "accelerator %s, %d runs each\n", a, n
  printf "hvconvert verify, start to verdict: median %.2f s (target < 15 s)\n", v
  printf "bare QEMU boot to the same point:   median %.2f s\n", b
  printf "verify overhead:                    %.2f s (target < 3 s)\n", v - b
}'
rm -f "$dir/sample-good.img"

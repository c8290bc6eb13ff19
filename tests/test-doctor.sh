#!/bin/bash
# hvconvert doctor: the JSON parses and has every check; the KVM answer
# agrees with a real Linux kernel booted under KVM by hand (on these
# build machines: KVM is unusable, TCG is used); the answer is cached
# under HVCONVERT_CACHE_DIR keyed by kernel and QEMU version, read back
# from there, replaced by --reprobe, untouched by --no-cache, and a
# damaged cache file is probed over, not trusted.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"
require qemu-system-x86_64 qemu-system-x86

export HVCONVERT_CACHE_DIR=$tmp/cache
cache=$HVCONVERT_CACHE_DIR/kvm-probe
unset HVCONVERT_ACCEL

# doctor_json NAME [OPTIONS...]: run doctor --json into $tmp/NAME.json.
doctor_json () {
  local name=$1
  shift
  "$HVCONVERT" doctor --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err" ||
    fail "doctor $*: $(cat "$tmp/$name.err" "$tmp/$name.json")"
}

# check NAME PYTHON-EXPR: with d the JSON of NAME and c[name] its checks.
check () {
  python3 - "$tmp/$1.json" "$2" <<'PY' || fail "$1: $2: $(cat "$tmp/$1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
c = {x["name"]: x for x in d["checks"]}
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

doctor_json first
check first 'd["usable"] is True and d["accelerator"] in ("kvm", "tcg")'
check first 'set(c) == {"cpu-64bit", "cpu-nx", "cpu-virtualization", "dev-kvm", "qemu", "kvm", "accelerator", "ovmf", "libguestfs"}'
check first 'all(x["status"] in ("ok", "warn", "fail") and x["why"] for x in d["checks"])'
check first 'c["accelerator"]["answer"] == d["accelerator"]'
check first '(c["kvm"]["answer"] == "usable") == (d["accelerator"] == "kvm")'
check first 'c["qemu"]["answer"] == "'"$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9.]*\).*/\1/p')"'"'
check first '"cached in" not in c["kvm"]["why"]'
accel=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["accelerator"])' \
          "$tmp/first.json")

# An independent look at KVM: the host's Linux kernel, booted directly
# with the CPU model hvconvert uses under KVM, must print its banner
# within 15 s if and only if doctor says KVM is usable.
if [[ -e /dev/kvm ]]; then
  kernel=$(find /boot -name 'vmlinuz-*' | sort -V | tail -n 1)
  [[ -n $kernel ]] || fail "no kernel in /boot (apt-get install linux-image-amd64)"
  ( timeout 15 qemu-system-x86_64 -machine pc,accel=kvm -cpu host -m 256 \
    -display none -nodefaults -serial "file:$tmp/kvm-boot.log" \
    -kernel "$kernel" -append "console=ttyS0 earlyprintk=serial,ttyS0" \
    -no-reboot >"$tmp/kvm-qemu.log" 2>&1 ) 2>/dev/null || true
  if grep -aq "Linux version" "$tmp/kvm-boot.log"; then direct=kvm; else direct=tcg; fi
  echo "a kernel under KVM by hand: $direct; doctor: $accel"
  [[ $direct == "$accel" ]] ||
    fail "doctor says $accel, a kernel booted by hand says $direct: $(cat "$tmp/kvm-qemu.log")"
  if [[ $accel == tcg ]]; then
    check first 'c["kvm"]["status"] == "warn" and "did not run" in c["kvm"]["why"]'
  fi
  # A real probe ran: the answer is cached, keyed by kernel and QEMU.
  [[ -f $cache ]] || fail "no cache file $cache"
  assert_grep "^key kernel=$(uname -r) qemu=" "$cache"
  assert_grep "^usable $([[ $accel == kvm ]] && echo 1 || echo 0)\$" "$cache"

  # The cache is read: a planted reason shows.
  sed -i 's/^why .*/why planted by test-doctor/' "$cache"
  doctor_json cached
  check cached '"planted by test-doctor" in c["kvm"]["why"] and "cached in" in c["kvm"]["why"]'
  # --reprobe replaces it.
  doctor_json reprobed --reprobe
  check reprobed '"planted" not in c["kvm"]["why"]'
  grep -q planted "$cache" && fail "--reprobe left the old answer in $cache"
  # Another key (a different QEMU version) is not this host's answer.
  sed -i 's/^why .*/why planted again/; s/ qemu=[^ ]*/ qemu=0.0.1/' "$cache"
  doctor_json otherkey
  check otherkey '"planted" not in c["kvm"]["why"]'
  # A damaged cache is probed over.
  head -c 3000 /dev/urandom >"$cache"
  doctor_json damaged
  check damaged '"cached in" not in c["kvm"]["why"] and d["accelerator"] == "'"$accel"'"'
  assert_grep "^hvconvert-kvm-probe 1\$" "$cache"
  # --no-cache neither reads nor writes.
  rm -f "$cache"
  doctor_json nocache --no-cache
  [[ -e $cache ]] && fail "--no-cache wrote $cache"
fi

# The text form says the same and exits 0.
"$HVCONVERT" doctor >"$tmp/text.out" 2>&1 || fail "doctor: $(cat "$tmp/text.out")"
assert_grep "accelerator: $accel" "$tmp/text.out"
assert_grep "can verify machines" "$tmp/text.out"

# Without QEMU, doctor fails and says so.
rc=0
HVCONVERT_QEMU=/nonexistent/qemu "$HVCONVERT" doctor --no-cache >"$tmp/noqemu.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "doctor without QEMU: exit $rc: $(cat "$tmp/noqemu.out")"
assert_grep "fail  qemu: missing" "$tmp/noqemu.out"
echo "PASS: doctor checks the host and caches the KVM answer"

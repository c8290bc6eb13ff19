#!/bin/bash
# Hostile machine descriptions: each import fails with exit 1, a message
# naming the file and what is wrong, no sanitizer report, nothing in
# OUTDIR, and the files it names untouched.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

d=$tmp/in
out=$tmp/out
mkdir -p "$d/sub" "$out"
"$QEMU_IMG" create -q -f raw "$d/disk.img" 1M
"$QEMU_IMG" create -q -f raw "$tmp/outside.img" 1M
failures=0

# bad NAME FRAGMENT [OPTIONS...]: importing $d/NAME fails naming it.
bad () {
  local name=$1 frag=$2 rc=0
  shift 2
  "$HVCONVERT" import "$@" "$d/$name" -o "$out" >"$tmp/o" 2>"$tmp/e" || rc=$?
  if [ "$rc" != 1 ] ||
     grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/e" ||
     ! grep -F -- "$d/$name" "$tmp/e" | grep -qF -- "$frag" ||
     [ -n "$(ls -A "$out")" ]; then
    echo "FAIL: $name: exit $rc, want 1 and a line naming it with '$frag'" >&2
    sed 's/^/    | /' "$tmp/e" >&2
    ls -A "$out" >&2
    failures=$((failures + 1))
  fi
  rm -rf "${out:?}"/* "$out"/.[!.]* 2>/dev/null || true
}

# vmc NAME BODY: a UTF-8 .vmc with BODY inside <preferences>.
vmc () {
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<preferences>%s</preferences>\n' \
    "$2" >"$d/$1"
}

# A drive at IDE 0:0 whose relative path is $1.
drive () {
  printf '<hardware><pci_bus><ide_adapter><ide_controller id="0"><location id="0"><drive_type type="integer">1</drive_type><pathname><relative type="string">%s</relative></pathname></location></ide_controller></ide_adapter></pci_bus></hardware>' "$1"
}

vmc truncated.vmc '<hardware><memory><ram_size type="integer">256'
bad truncated.vmc "not well-formed XML"
printf '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n<preferences><settings><guest_os type="string">&c;</guest_os></settings></preferences>\n' >"$d/laughs.vmc"
bad laughs.vmc "entity" --source-format vmc
printf '<?xml version="1.0"?>\n<!DOCTYPE p SYSTEM "file:///etc/passwd">\n<preferences/>\n' >"$d/xxe.vmc"
bad xxe.vmc "DOCTYPE" --source-format vmc
printf '\xff\xfe<\x00p\x00r\x00e\x00\x00\xd8' >"$d/badutf16.vmc"
bad badutf16.vmc "not well-formed XML" --source-format vmc
vmc memory.vmc '<hardware><memory><ram_size type="integer">99999999999</ram_size></memory></hardware>'
bad memory.vmc "<hardware/memory/ram_size> is '99999999999'"
vmc location.vmc '<hardware><pci_bus><ide_adapter><ide_controller id="7"/></ide_adapter></pci_bus></hardware>'
bad location.vmc '<ide_controller id="7"> is not 0 or 1'
vmc missing.vmc "$(drive 'nothere.vhd')"
bad missing.vmc "'nothere.vhd' not found"
vmc dotdot.vmc "$(drive '..\outside.img')"
cp "$tmp/outside.img" "$tmp/in/../outside.img" 2>/dev/null || true
bad dotdot.vmc "is outside the image's directory"
ln -sf /dev/zero "$d/zero.img"
vmc device.vmc "$(drive 'zero.img')"
bad device.vmc "is not a regular file" --allow-outside-paths
vmc notvpc.vmc ''
sed -i 's/preferences/machine/g' "$d/notvpc.vmc"
bad notvpc.vmc "not <preferences>" --source-format vmc

printf 'config.version = "8"\nmemsize = "4096\n' >"$d/quote.vmx"
bad quote.vmx "line 2: unterminated quote"
printf 'config.version = "8"\nmemsize = "1000000000"\n' >"$d/mem.vmx"
bad mem.vmx 'memsize = "1000000000"'
printf 'config.version = "8"\nnumvcpus = "-1"\n' >"$d/cpus.vmx"
bad cpus.vmx 'numvcpus = "-1"'
printf 'config.version = "8"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "/etc/passwd"\n' >"$d/abs.vmx"
bad abs.vmx "is outside the image's directory"
printf 'config.version = "8"\nide0:0.present = "TRUE"\nide0:0.fileName = "zero.img"\n' >"$d/dev.vmx"
bad dev.vmx "is not a regular file" --allow-outside-paths
printf 'config.version = "8"\nide0:0.present = "TRUE"\n' >"$d/nofile.vmx"
bad nofile.vmx "a disk without a fileName"
printf 'config.version = "8"\n\0garbage\n' >"$d/nul.vmx"
bad nul.vmx "NUL bytes" --source-format vmx

[ "$failures" = 0 ] || fail "$failures failures"
echo "PASS: $test_name"

#!/bin/bash
# initramfs_add_modules on a real image of the installed Debian kernel,
# checked with tools that share no code with ours.
#
# The image is what a guest installed on virtio would have: the host's
# mkinitramfs with MODULES=list and only virtio_blk and ext4 (no
# hv_*, no ata_piix, no sd_mod), zstd as Debian 12 writes it, with an
# early uncompressed microcode archive in front as intel-microcode
# puts there.  tests/initramfs-add (injectors/ on the command line)
# adds hv_vmbus hv_storvsc hv_netvsc hv_utils ata_piix ata_generic
# sd_mod, fetching the modules from /lib/modules/KVER.  Then:
#   - our listing of the original equals lsinitramfs's;
#   - lsinitramfs lists every added module with its dependencies;
#   - unmkinitramfs unpacks the new image; every original file is there
#     unchanged; the new modules.dep covers old and new modules, and the
#     host's modprobe resolves hv_storvsc's dependencies and alias from
#     the new image's binary indexes;
#   - the early archive is byte for byte the same;
#   - a second add writes nothing;
#   - the APPEND way: the appended segment, cut out with dd, read by
#     cpio (and gunzip with --gzip);
#   - the kernel boots the new image under TCG (a test segment appended
#     runs as rdinit): kmod loads ata_piix and sd_mod, which find the
#     IDE disk, an original module (virtio_blk) still loads, and the
#     hv_storvsc chain resolves (hv_vmbus itself refuses: no Hyper-V).
# Prints the time each step took.

# shellcheck source-path=SCRIPTDIR source=functions.sh
source "${top_srcdir:-$(dirname "$0")/..}/tests/functions.sh"

require lsinitramfs initramfs-tools-core
require unmkinitramfs initramfs-tools-core
require mkinitramfs initramfs-tools-core
require cpio cpio
require zstd zstd
require timeout coreutils
require qemu-system-x86_64 qemu-system-x86
[[ -x /usr/sbin/depmod || -x /sbin/depmod ]] ||
  fail "depmod is missing (apt-get install kmod)"
[[ -x /usr/sbin/modprobe || -x /sbin/modprobe ]] ||
  fail "modprobe is missing (apt-get install kmod)"
modprobe=$(command -v /usr/sbin/modprobe /sbin/modprobe | head -n 1)
modinfo=$(dirname "$modprobe")/modinfo
ADD=$top_builddir/tests/initramfs-add
[[ -x $ADD ]] || fail "$ADD is not built (make check builds it)"

# The installed Debian kernel: modules and a vmlinuz.
kver=
for d in /lib/modules/*/; do
  v=$(basename "$d")
  [[ -f /boot/vmlinuz-$v && -f $d/modules.dep ]] && kver=$v
done
[[ -n $kver ]] ||
  fail "no kernel with /boot/vmlinuz-V and /lib/modules/V (apt-get install linux-image-amd64)"
moddir=/lib/modules/$kver
wanted=(hv_vmbus hv_storvsc hv_netvsc hv_utils ata_piix ata_generic sd_mod)

step_start=$SECONDS
step () {
  echo "$test_name: $1 ($((SECONDS - step_start)) s)"
  step_start=$SECONDS
}

# ---------------------------------------------------------------------
# The unenlightened image.

conf=$tmp/conf
mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
cat >"$conf/initramfs.conf" <<'EOF'
MODULES=list
BUSYBOX=auto
COMPRESS=zstd
RUNSIZE=10%
FSTYPE=auto
EOF
printf 'virtio_blk\next4\n' >"$conf/modules"
mkinitramfs -d "$conf" -o "$tmp/main.img" "$kver" >"$tmp/mkinitramfs.log" 2>&1 ||
  fail "mkinitramfs: $(cat "$tmp/mkinitramfs.log")"
mkdir -p "$tmp/early/kernel/x86/microcode"
head -c 4096 /dev/urandom >"$tmp/early/kernel/x86/microcode/GenuineIntel.bin"
(cd "$tmp/early" && find kernel | sort | cpio -o -H newc --quiet) >"$tmp/early.cpio"
cat "$tmp/early.cpio" "$tmp/main.img" >"$tmp/orig.img"
lsinitramfs "$tmp/orig.img" >"$tmp/orig.ls"
for m in "${wanted[@]}"; do
  if grep -q "/$m\.ko" "$tmp/orig.ls"; then
    fail "the unenlightened image already has $m"
  fi
done
assert_grep 'virtio_blk\.ko' "$tmp/orig.ls"
step "mkinitramfs made an image of $(file_size "$tmp/orig.img") bytes"

# Our listing is the kernel's view; lsinitramfs shows the same names.
"$ADD" list "$tmp/orig.img" >"$tmp/ours.ls" || fail "listing the original"
diff <(sort -u "$tmp/ours.ls") <(sort -u "$tmp/orig.ls") >"$tmp/ls.diff" ||
  fail "our listing differs from lsinitramfs: $(head -n 20 "$tmp/ls.diff")"
"$ADD" layout "$tmp/orig.img" >"$tmp/orig.layout"
assert_grep '^segment 1 cpio 0 ' "$tmp/orig.layout"
assert_grep '^segment 2 zstd ' "$tmp/orig.layout"
step "listing matches lsinitramfs ($(wc -l <"$tmp/ours.ls") members)"

# ---------------------------------------------------------------------
# Add (the default way, REPACK).

"$ADD" add "$tmp/orig.img" "$tmp/new.img" "$kver" "$moddir" "${wanted[@]}" \
  >"$tmp/add.out" || fail "add failed"
cat "$tmp/add.out"
assert_grep '^changed yes' "$tmp/add.out"
modules_dir=$(sed -n 's/^modules_dir //p' "$tmp/add.out")
[[ $modules_dir == usr/lib/modules/$kver || $modules_dir == lib/modules/$kver ]] ||
  fail "modules_dir is '$modules_dir'"
# Every wanted module and what the kernel's modules.dep says it needs
# (soft dependencies are not followed: optional by definition).
needed=$(for m in "${wanted[@]}"; do
           awk -v m="$m" -F'[: ]+' '{ n = $1; sub(/.*\//, "", n);
             sub(/\.ko.*/, "", n); gsub(/-/, "_", n) }
             n == m { for (i = 1; i <= NF; i++) if ($i != "") print $i }' \
             "$moddir/modules.dep"
         done | sort -u)
[[ $(wc -w <<<"$needed") -ge ${#wanted[@]} ]] ||
  fail "modules.dep lacks some of ${wanted[*]}: $needed"
lsinitramfs "$tmp/new.img" >"$tmp/new.ls"
for p in $needed; do
  grep -qx "$modules_dir/$p" "$tmp/new.ls" || fail "lsinitramfs: $p is missing"
done
step "added $(grep -c '^added' "$tmp/add.out") modules; lsinitramfs lists all $(wc -w <<<"$needed") needed"

# unmkinitramfs unpacks both; the original's files are all there and
# the same, but for the indexes.
unmkinitramfs "$tmp/orig.img" "$tmp/u-orig" || fail "unmkinitramfs original"
unmkinitramfs "$tmp/new.img" "$tmp/u-new" || fail "unmkinitramfs new"
diff -r --no-dereference -x 'modules.*' "$tmp/u-orig" "$tmp/u-new" \
  >"$tmp/tree.diff" || true
if grep -v "^Only in $tmp/u-new/main/$modules_dir" "$tmp/tree.diff" | grep -q .; then
  fail "the original files changed: $(head -n 20 "$tmp/tree.diff")"
fi
cmp -n "$(stat -c %s "$tmp/early.cpio")" "$tmp/early.cpio" "$tmp/new.img" ||
  fail "the early archive changed"
newdep=$tmp/u-new/main/$modules_dir/modules.dep
for ko in $(cd "$tmp/u-orig/main/$modules_dir" && find . -name '*.ko*' | sed 's|^\./||'); do
  grep -q "^$ko:" "$newdep" || fail "the new modules.dep lost $ko"
done
assert_grep '^kernel/drivers/scsi/hv_storvsc\.ko:.*hv_vmbus\.ko' "$newdep"
# kmod reading the new image's binary indexes (modules.dep.bin,
# modules.alias.bin), as udev does at boot.
mkdir -p "$tmp/root/lib"
ln -s "$tmp/u-new/main/$modules_dir/.." "$tmp/root/lib/modules"
"$modprobe" -d "$tmp/root" -S "$kver" --show-depends hv_storvsc \
  >"$tmp/deps.out" 2>&1 || fail "modprobe --show-depends: $(cat "$tmp/deps.out")"
assert_grep 'scsi_transport_fc\.ko' "$tmp/deps.out"
assert_grep 'hv_vmbus\.ko' "$tmp/deps.out"
alias=$("$modinfo" -k "$kver" -F alias hv_storvsc | head -n 1)
[[ -n $alias ]] || fail "hv_storvsc has no alias"
assert_eq "$("$modprobe" -d "$tmp/root" -S "$kver" -R "$alias")" hv_storvsc \
  "the module of alias $alias in the new image"
step "unmkinitramfs: original intact, indexes cover old and new, kmod resolves"

# A second add changes nothing and writes nothing.
"$ADD" add "$tmp/new.img" "$tmp/again.img" "$kver" "$moddir" "${wanted[@]}" \
  >"$tmp/again.out" || fail "second add failed"
assert_grep '^changed no' "$tmp/again.out"
if grep -q '^added' "$tmp/again.out"; then
  fail "the second add added: $(cat "$tmp/again.out")"
fi
[[ ! -e $tmp/again.img ]] || fail "the second add wrote an output"
step "a second add is a no-op"

# ---------------------------------------------------------------------
# APPEND: the original bytes, then one segment, which cpio reads.

for how in plain gzip; do
  opts=(--append)
  [[ $how == gzip ]] && opts+=(--gzip)
  out=$tmp/append-$how.img
  "$ADD" add "${opts[@]}" "$tmp/orig.img" "$out" "$kver" "$moddir" \
    "${wanted[@]}" >"$tmp/append.out" || fail "add --append ($how) failed"
  cmp -n "$(file_size "$tmp/orig.img")" "$tmp/orig.img" "$out" ||
    fail "append ($how) changed the original bytes"
  "$ADD" layout "$out" >"$tmp/append.layout"
  last=$(grep '^segment' "$tmp/append.layout" | tail -n 1)
  read -r _ n method offset length _ <<<"$last"
  assert_eq "$n" 3 "segments after append ($how)"
  assert_eq "$method" "$([[ $how == gzip ]] && echo gzip || echo cpio)" "method"
  assert_eq "$((offset % 4))" 0 "the appended segment's alignment"
  dd if="$out" bs=64K iflag=skip_bytes,count_bytes skip="$offset" \
     count="$length" status=none |
    if [[ $how == gzip ]]; then gzip -dc; else cat; fi |
    cpio -t --quiet >"$tmp/tail.ls" 2>&1 || fail "cpio on the tail: $(cat "$tmp/tail.ls")"
  for p in $(sed -n 's/^added //p' "$tmp/append.out"); do
    grep -qx "$modules_dir/$p" "$tmp/tail.ls" ||
      fail "append ($how): $p is not in the appended segment"
  done
  assert_grep "^$modules_dir/modules.dep.bin$" "$tmp/tail.ls"
done
step "append: the tail segment holds the modules and indexes (cpio, gzip)"

# ---------------------------------------------------------------------
# Boot it.  A test segment appended to the new image runs as rdinit.

mkdir -p "$tmp/seg"
cat >"$tmp/seg/hvtest" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /proc /sys
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "HVTEST kernel \$(uname -r)"
for m in ata_piix sd_mod virtio_blk; do
  /usr/sbin/modprobe \$m && echo "HVTEST loaded \$m"
done
/usr/sbin/modprobe hv_storvsc 2>&1 | sed 's/^/HVTEST storvsc: /'
/usr/sbin/modprobe --show-depends hv_storvsc 2>&1 | sed 's/^/HVTEST needs: /'
echo "HVTEST alias: \$(/usr/sbin/modprobe -R '$alias')"
i=0
while [ ! -e /sys/block/sda ] && [ \$i -lt 30 ]; do sleep 1; i=\$((i + 1)); done
[ -e /sys/block/sda ] && echo "HVTEST disk sda"
echo "HVTEST done"
echo o >/proc/sysrq-trigger
EOF
chmod 755 "$tmp/seg/hvtest"
cp "$tmp/new.img" "$tmp/boot.img"
head -c $(((4 - $(file_size "$tmp/boot.img") % 4) % 4)) /dev/zero >>"$tmp/boot.img"
(cd "$tmp/seg" && echo hvtest | cpio -o -H newc --quiet) >>"$tmp/boot.img"
truncate -s 8M "$tmp/disk.raw"
timeout 300 qemu-system-x86_64 -accel tcg -m 768 -nographic -no-reboot \
  -kernel "/boot/vmlinuz-$kver" -initrd "$tmp/boot.img" \
  -append "console=ttyS0 rdinit=/hvtest panic=-1" \
  -drive "file=$tmp/disk.raw,format=raw,if=ide" \
  </dev/null >"$tmp/console.log" 2>&1 || true
grep -a '^HVTEST' "$tmp/console.log" | tr -d '\r' >"$tmp/boot.out" || true
cat "$tmp/boot.out"
assert_grep "^HVTEST kernel $kver$" "$tmp/boot.out"
for m in ata_piix sd_mod virtio_blk; do
  assert_grep "^HVTEST loaded $m$" "$tmp/boot.out"
done
# hv_vmbus finds no VMBus under QEMU: the chain resolves, then the
# device is missing (not the module).
assert_grep '^HVTEST storvsc: .*No such device' "$tmp/boot.out"
if grep -q 'not found' "$tmp/boot.out"; then
  fail "a module was not found at boot: $(cat "$tmp/boot.out")"
fi
assert_grep '^HVTEST needs: insmod .*scsi_transport_fc\.ko' "$tmp/boot.out"
assert_grep '^HVTEST alias: hv_storvsc$' "$tmp/boot.out"
assert_grep '^HVTEST disk sda$' "$tmp/boot.out"
assert_grep '^HVTEST done$' "$tmp/boot.out"
step "the kernel boots the new image: ata_piix + sd_mod find the IDE disk"

echo "PASS: $test_name"

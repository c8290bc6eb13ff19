#!/bin/bash
# Prepare a Debian 12 machine and build hvconvert in this source tree.
#
# Installs the Debian packages the build and the tests need (only those
# that are missing), then runs autoreconf here, and configure --enable-werror and
# make -j2 in build/.  Safe to run again: a second run installs nothing and
# only rebuilds what changed.  Needs root to install packages.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

packages=(
  build-essential autoconf automake libtool pkg-config perl
  libxml2-dev libarchive-dev zlib1g-dev libdeflate-dev libssl-dev libcmocka-dev
  qemu-utils libvhdi-utils clang python3 time
  # libvhdi's Python binding: an independent VHDX reader for the tests.
  python3-libvhdi
  # clang's libFuzzer runtime (only recommended by clang, and we install
  # without recommends); sfdisk and mke2fs for ./run-sample.sh.
  libclang-rt-14-dev fdisk e2fsprogs
  # Independent checkers of what import writes: virt-xml-validate
  # (libvirt's schemas) and xmllint.
  libvirt-clients libxml2-utils
  # The sample physical server (fixtures/make-sample-server.sh) and
  # booting it: QEMU, the Debian kernel, busybox, extlinux.
  qemu-system-x86 linux-image-amd64 busybox-static extlinux syslinux-common
  cpio
  # The bundled hypervisor (hvconvert verify/run/doctor): QEMU's storage
  # daemon comes with qemu-system-x86, UEFI firmware for gen2, FUSE (the
  # report job is written through a FUSE export of the overlay),
  # libguestfs (the report job's general way in, and
  # libguestfs-test-tool for doctor --full).
  ovmf fuse3 libguestfs-tools libguestfs-dev
  # hvconvert inject (issue 6): hivex for the Windows registry (library
  # and the hivexsh/hivexregedit checkers), the decompressors of guest
  # initramfs images (xz, zstd), mkntfs for the synthetic Windows disk,
  # debootstrap for the Debian test guest, and virt-v2v (the peer the
  # benchmark runs against) with guestfs-tools.
  libhivex-dev libhivex-bin liblzma-dev libzstd-dev ntfs-3g debootstrap
  virt-v2v guestfs-tools zstd xz-utils initramfs-tools-core
  # Initramfs images on the host: the lz4 tool writes the LZ4 legacy
  # images of tests/test-injectors-initramfs.c; kmod's depmod writes the
  # module indexes inject adds, and its modprobe checks them.
  lz4 kmod
  # test-no-sync.sh watches the flushing system calls.
  strace
  # The Windows injector's tests: xorriso builds the integration
  # services ISO the XP case reads.
  xorriso
  # virt-v2v 2.2 needs nbdkit (its -i disk input) and nbdcopy/nbdinfo
  # but Debian's package does not depend on them (bench-inject.sh).
  nbdkit libnbd-bin
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Run a command with its output kept in $log; show the output on failure.
quietly () {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup.sh: failed: $*" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
    grep -qx 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-get update -q
  quietly apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Generate the build system when it is missing or older than its inputs.
# Once configured, make regenerates it by itself when they change.
if [ ! -x configure ] ||
   [ -n "$(find configure.ac Makefile.am ./*/Makefile.am -newer configure \
           2>/dev/null)" ]; then
  echo "setup.sh: autoreconf -fi"
  quietly autoreconf -fi
fi

# Build out of the source tree, in build/, so that a second build with
# other options (run-tests.sh's sanitizer build in build-asan/) can sit
# beside it.  Configure unless already configured with these options.
mkdir -p build
if [ ! -f build/config.status ] ||
   [ "$(build/config.status --config | tr -d "'")" != --enable-werror ]; then
  echo "setup.sh: configure --enable-werror (in build/)"
  (cd build && quietly ../configure --enable-werror)
fi

echo "setup.sh: make -j2 (in build/)"
make -C build -j2 -s

#!/bin/bash
# bench/bench-inject.sh: convert and enlighten a real Debian 12 guest
# end to end, hvconvert against virt-v2v.
#
# The guest is fixtures/make-debian-guest.sh's (a raw 2 GiB disk, about
# 650 MB of data, whose MODULES=dep initramfs lacks the IDE and Hyper-V
# drivers; cached, see that script).  The two tools, alternating, N runs
# each:
#   hvconvert  `hvconvert disk guest.img out.vhd` then `hvconvert inject
#              out.vhd` (raw image -> VHD -> enlightened);
#   virt-v2v   `virt-v2v -i disk guest.img -o local -os DIR` (inspects,
#              converts for KVM, rebuilds the initramfs, copies the disk).
# Prints every run, the median wall time and peak RSS of each, and the
# ratio hvconvert/virt-v2v.  Target: ratio <= 0.5.
#
# Both run under TCG (KVM hangs nested guests here): libguestfs with
# LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg, which
# hvconvert also picks by itself.  Before the runs the libguestfs
# appliance is built once, untimed, so neither tool pays for supermin.
# Before every run the previous output is removed and `sync` runs (both
# untimed).  hvconvert fsyncs what it writes; virt-v2v is timed as it
# is, without a sync of its output.
#
# Until `hvconvert inject` exists (`hvconvert inject --help` fails), only
# the virt-v2v runs are made and their median printed.
#
# Usage: bench/bench-inject.sh [-n RUNS] [-d DIR] [-k]
#   -n RUNS  runs per tool (default 5; at least 3)
#   -d DIR   work directory (default bench/out); needs about 4 GiB
#   -k       keep the guest image in DIR for the next run
# in place of the defaults.  HVCONVERT overrides the binary (default:
# convert/hvconvert of this tree, in place or in build/).  Needs root
# (the guest is built with debootstrap and chroot).

set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh" "$@"

[[ $runs -ge 3 ]] || die "-n $runs: at least 3 runs per tool"
[[ $(id -u) -eq 0 ]] || die "must run as root (the guest is built with debootstrap)"
command -v virt-v2v >/dev/null || die "virt-v2v missing: apt-get install virt-v2v"
command -v guestfish >/dev/null || die "guestfish missing: apt-get install guestfish"
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg

img=$dir/debian-guest.img
out=$dir/out.vhd
v2v_out=$dir/v2v

mkdir -p "$dir"
"$top/fixtures/make-debian-guest.sh" "$img" >&2 ||
  die "make-debian-guest.sh failed"
echo "bench-inject: building the libguestfs appliance (untimed)" >&2
guestfish -a /dev/null run >/dev/null || die "the libguestfs appliance does not start"

have_inject=no
if "$hvconvert" inject --help >/dev/null 2>&1; then have_inject=yes; fi

# run_ours: one timed hvconvert disk + inject into $out.
# shellcheck disable=SC2016 # expanded by the inner bash
run_ours () {
  timed bash -c '"$1" disk "$2" "$3" && "$1" inject "$3"' bash \
    "$hvconvert" "$img" "$out"
}

# run_v2v: one timed virt-v2v into an empty $v2v_out.
run_v2v () {
  rm -rf "$v2v_out"
  mkdir -p "$v2v_out"
  timed virt-v2v -i disk "$img" -o local -os "$v2v_out"
}

ours=() v2v=()
echo "bench-inject: $runs runs per tool, median wall time and peak RSS"
for ((i = 0; i < runs; i++)); do
  if [[ $have_inject == yes ]]; then ours+=("$(run_ours)"); fi
  v2v+=("$(run_v2v)")
  echo "bench-inject: run $((i + 1)): hvconvert ${ours[i]:-n/a}," \
       "virt-v2v ${v2v[i]} (s KiB)" >&2
done
[[ -n $(find "$v2v_out" -name 'debian-guest-sda' -size +1M) ]] ||
  die "virt-v2v wrote no disk: $(ls -l "$v2v_out")"
echo "inject: all runs (s KiB): hvconvert: ${ours[*]:-n/a}; virt-v2v: ${v2v[*]}" >&2

vt=$(median_of 1 "${v2v[@]}") vm=$(median_of 2 "${v2v[@]}")
if [[ $have_inject == yes ]]; then
  awk -v ot="$(median_of 1 "${ours[@]}")" -v om="$(median_of 2 "${ours[@]}")" \
      -v vt="$vt" -v vm="$vm" 'BEGIN {
    printf "inject    hvconvert %6.1f s %6.1f MiB | virt-v2v %6.1f s" \
           " %6.1f MiB | ratio %.2f (target <= 0.50)\n",
           ot, om / 1024, vt, vm / 1024, ot / vt
  }'
else
  awk -v vt="$vt" -v vm="$vm" 'BEGIN {
    printf "inject    hvconvert    n/a (no inject command yet) | virt-v2v" \
           " %6.1f s %6.1f MiB\n", vt, vm / 1024
  }'
fi
rm -rf "$out" "$v2v_out" "$dir/time.txt" "$dir/stderr.txt"
if [[ $keep == no ]]; then rm -f "$img"; fi

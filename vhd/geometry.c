/* CHS geometry from the VHD spec's appendix.  All divisions floor, so
 * C*H*S*512 never exceeds the size; the virtual size itself is always
 * current_size (hvconvert's rule, FORMATS.md 1.6). */
#include <config.h>

#include <inttypes.h>

#include "vhd-internal.h"

#define CHS_MAX_SECTORS (65535ULL * 16 * 255)

void
vhd_geometry (uint64_t size, struct vhd_geometry *g)
{
  uint64_t ts = MIN (size / VHD_SECTOR, CHS_MAX_SECTORS);
  uint64_t spt, heads, cth;

  if (ts >= 65535ULL * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = ts / spt;
  }
  else {
    spt = 17;
    cth = ts / spt;
    heads = MAX ((cth + 1023) / 1024, 4);
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = ts / spt;
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = ts / spt;
    }
  }
  g->cylinders = cth / heads;
  g->heads = heads;
  g->sectors = spt;
}

uint64_t
vhd_geometry_bytes (const struct vhd_geometry *g)
{
  return (uint64_t) g->cylinders * g->heads * g->sectors * VHD_SECTOR;
}

int
vhd_check_size (const char *what, uint64_t size)
{
  if (size == 0 || size % VHD_SECTOR != 0) {
    hv_error (HV_E_FORMAT, "%s: size %" PRIu64 " is not a positive "
              "multiple of 512 bytes", what, size);
    return -1;
  }
  if (size > VHD_MAX_SIZE) {
    hv_error (HV_E_TOO_LARGE, "%s: size %" PRIu64 " bytes is above the "
              "VHD limit of 2040 GiB (%" PRIu64 " bytes); use VHDX for "
              "larger disks", what, size, (uint64_t) VHD_MAX_SIZE);
    return -1;
  }
  return 0;
}

/* vhd check: every structural problem, one line each.  The parsing and
 * bounds checks are those of open.c run in "list" mode; this file adds
 * what only a full check reads: the two footer copies (which may differ
 * in the disk's size only, see differ_in_size_only), the reserved
 * feature bit, and whether dynamic bitmaps agree with the data (a clear
 * bit promises zeros on disk). */
#include <config.h>

#include <inttypes.h>

#include "vhd-internal.h"

/* Do the valid footers START (the copy) and END differ at most in the
 * sizes and geometry (the fields at 40-59, and so the checksum), the
 * copy being the smaller disk?  That is what an interrupted vhd expand
 * leaves between its last two writes (see expand.c): every reader then
 * sees a consistent disk, of the old or the new size. */
static bool
differ_in_size_only (const uint8_t *start, const uint8_t *end)
{
  return memcmp (start, end, 40) == 0 &&
    memcmp (start + 60, end + 60, 4) == 0 &&
    memcmp (start + 68, end + 68, VHD_FOOTER_SIZE - 68) == 0 &&
    load_be64 (start + 48) <= load_be64 (end + 48);
}

static void
check_footer_copies (struct vhd *v, struct vhd_sink *sink)
{
  uint8_t start[VHD_FOOTER_SIZE], end[VHD_FOOTER_SIZE];

  if (full_pread (v->fd, start, sizeof start, 0) == -1 ||
      full_pread (v->fd, end, sizeof end,
                  v->file_size - VHD_FOOTER_SIZE) == -1) {
    vhd_problem (sink, HV_E_IO, "cannot read the footer copies: %m");
    return;
  }
  if (vhd_footer_valid (start) && vhd_footer_valid (end) &&
      !differ_in_size_only (start, end))
    vhd_problem (sink, HV_E_FORMAT, "the footer copy at offset 0 differs "
                 "from the footer at offset %" PRIu64,
                 v->file_size - VHD_FOOTER_SIZE);
  else if (!vhd_footer_valid (start))
    vhd_problem (sink, HV_E_CHECKSUM, "the footer copy at offset 0 is "
                 "missing or damaged");
}

/* Sectors whose bitmap bit is clear must hold zeros. */
static int
check_block_bitmap (struct vhd *v, struct vhd_sink *sink, uint32_t blk,
                    uint8_t *data)
{
  const uint64_t at = (uint64_t) v->bat[blk] * VHD_SECTOR;
  uint32_t sectors = MIN ((uint64_t) v->block_size,
                          v->d.size - (uint64_t) blk * v->block_size)
                     / VHD_SECTOR;

  if (full_pread (v->fd, v->bitmap, v->bitmap_size, at) == -1 ||
      full_pread (v->fd, data, (size_t) sectors * VHD_SECTOR,
                  at + v->bitmap_size) == -1) {
    vhd_problem (sink, HV_E_IO, "reading block %" PRIu32 ": %m", blk);
    return -1;
  }
  for (uint32_t s = 0; s < sectors; s++) {
    if (v->bitmap[s >> 3] & (0x80 >> (s & 7)))
      continue;
    if (!is_zero (data + (size_t) s * VHD_SECTOR, VHD_SECTOR)) {
      vhd_problem (sink, HV_E_FORMAT, "block %" PRIu32 " sector %" PRIu32
                   " is marked unwritten in the bitmap but holds data",
                   blk, s);
      break;
    }
  }
  return 0;
}

static void
check_bitmaps (struct vhd *v, struct vhd_sink *sink)
{
  uint8_t *data = malloc (v->block_size);

  if (data == NULL) {
    vhd_problem (sink, HV_E_NOMEM, "checking bitmaps: %m");
    return;
  }
  v->bitmap_blk = VHD_BAT_UNUSED;
  for (uint32_t i = 0; i < v->nblocks; i++) {
    if (hv_check_interrupted () == -1)
      break;
    if (v->bat[i] != VHD_BAT_UNUSED &&
        check_block_bitmap (v, sink, i, data) == -1)
      break;
  }
  free (data);
}

int
vhd_check (const char *filename, struct string_vector *problems)
{
  struct vhd_sink sink = { .file = filename, .list = problems };
  struct stat chain[VHD_MAX_CHAIN + 1];
  size_t before = problems->len;
  struct vhd *v = vhd_load (filename, 0, &sink, 0, chain);

  if (v == NULL)
    return problems->len > before ? 0 : -1;
  if (!(v->footer.features & 2))
    vhd_problem (&sink, HV_E_FORMAT, "footer: the reserved feature bit 1 "
                 "is not set (features 0x%08" PRIx32 ")", v->footer.features);
  if (v->footer.disk_type != VHD_TYPE_FIXED)
    check_footer_copies (v, &sink);
  /* Data checks only on a sound structure: a bad BAT would send them
   * outside the file. */
  if (v->footer.disk_type == VHD_TYPE_DYNAMIC && problems->len == before)
    check_bitmaps (v, &sink);
  disk_close (&v->d);
  return 0;
}

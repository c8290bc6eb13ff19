/* VDI headers: the two layouts VirtualBox has written.
 *
 * Version 0.2 (VDIHEADER0): fixed offsets, the block map right after the
 * header at 420, no block extra, no parent modification UUID.  Versions
 * 1.x (VDIHEADER1): a header size field (0x180, or 0x190 with the LCHS
 * geometry of 1.1), the block map and data offsets stored.  VirtualBox
 * opens any 1.x the same way; so do we.  The checks here need only the
 * header; vdi.c checks it against the file.
 */
#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "vdi-internal.h"

#define PREHEADER 72                 /* text, signature, version */
#define V1_HEADER_MIN 0x180
#define V1_HEADER_PLUS 0x190         /* with the LCHS geometry */

/* Where the fields are, from the start of the file; 0 for none. */
struct layout {
  size_t end;                        /* the header's last byte + 1 */
  size_t header_size, type, map, data, sector, disk_size, block_size,
    block_extra, nblocks, allocated, ids, parent_modification;
};

static const struct layout layout_0 = {
  .end = VDI_HEADER_MIN, .type = 72, .sector = 348, .disk_size = 352,
  .block_size = 360, .nblocks = 364, .allocated = 368, .ids = 372,
};

static const struct layout layout_1 = {
  .end = PREHEADER + V1_HEADER_MIN, .header_size = 72, .type = 76,
  .map = 340, .data = 344, .sector = 360, .disk_size = 368,
  .block_size = 376, .block_extra = 380, .nblocks = 384, .allocated = 388,
  .ids = 392, .parent_modification = 440,
};

/* The layout of a file starting with the N bytes BUF, or NULL. */
static const struct layout *
layout_of (const uint8_t *buf, size_t n)
{
  const uint32_t version = n >= PREHEADER ? load_le32 (buf + 68) : 0;
  const struct layout *l = NULL;

  if (n < PREHEADER || load_le32 (buf + 64) != VDI_SIGNATURE)
    return NULL;
  if (version == 0x00000002)
    l = &layout_0;
  else if (version >> 16 == 1)
    l = &layout_1;
  return l && n >= l->end ? l : NULL;
}

bool
vdi_header_ids (const uint8_t *buf, size_t n, uint8_t uuid[16],
                uint8_t modification[16])
{
  const struct layout *l = layout_of (buf, n);

  if (l == NULL)
    return false;
  memcpy (uuid, buf + l->ids, 16);
  memcpy (modification, buf + l->ids + 16, 16);
  return true;
}

/* ---------------------------------------------------------------- */

static int
why (int code, char *out, size_t len, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (out, len, fmt, ap);
  va_end (ap);
  return code;
}

static bool
power_of_two (uint32_t x)
{
  return x && !(x & (x - 1));
}

/* The pre-header and the layout it announces. */
static int
check_version (const uint8_t *buf, size_t n, const struct layout **l,
               char *out, size_t len)
{
  const uint32_t version = n >= PREHEADER ? load_le32 (buf + 68) : 0;

  if (n < PREHEADER)
    return why (HV_E_FORMAT, out, len, "truncated header");
  if (load_le32 (buf + 64) != VDI_SIGNATURE)
    return why (HV_E_FORMAT, out, len,
                "no VDI signature 0xBEDA107F at offset 64");
  *l = layout_of (buf, n);
  if (*l == NULL && (version == 0x00000002 || version >> 16 == 1))
    return why (HV_E_FORMAT, out, len, "truncated header");
  if (*l == NULL)
    return why (HV_E_UNSUPPORTED, out, len, "VDI version %" PRIu32 ".%"
                PRIu32 " (offset 68) is not supported (0.2 and 1.x are)",
                version >> 16, version & 0xFFFF);
  return 0;
}

/* Header size, type and sector sizes. */
static int
check_kind (const uint8_t *buf, size_t n, const struct layout *l,
            struct vdi_header *h, char *out, size_t len)
{
  const uint32_t size = l->header_size ? load_le32 (buf + 72) : 0;
  const uint32_t sector = load_le32 (buf + l->sector);
  /* The LCHS geometry of a 1.1 header ends with its sector size. */
  const uint32_t lchs_sector = size >= V1_HEADER_PLUS && n >= 472 ?
    load_le32 (buf + 468) : 0;

  if (l->header_size && size < V1_HEADER_MIN)
    return why (HV_E_FORMAT, out, len, "header size 0x%" PRIx32
                " (offset 72) is below 0x180", size);
  if (size >= V1_HEADER_PLUS && n < 472)
    return why (HV_E_FORMAT, out, len, "truncated header");
  h->type = load_le32 (buf + l->type);
  if (h->type == VDI_UNDO)
    return why (HV_E_UNSUPPORTED, out, len, "an undo image (type 3) is "
                "not supported: discard or commit it in VirtualBox first");
  if (h->type < VDI_NORMAL || h->type > VDI_DIFF)
    return why (HV_E_FORMAT, out, len, "image type %" PRIu32 " (offset %zu)"
                " is not 1 (normal), 2 (fixed) or 4 (diff)", h->type,
                l->type);
  if ((sector && sector != 512) || (lchs_sector && lchs_sector != 512))
    return why (HV_E_FORMAT, out, len, "sector size is not 512 (offset %zu)",
                lchs_sector && lchs_sector != 512 ? (size_t) 468 : l->sector);
  return 0;
}

/* Block size, block extra, block count against the disk size. */
static int
check_blocks (const uint8_t *buf, const struct layout *l,
              struct vdi_header *h, char *out, size_t len)
{
  const uint64_t disk_size = load_le64 (buf + l->disk_size);
  uint64_t span;

  h->block_size = load_le32 (buf + l->block_size);
  h->block_extra = l->block_extra ? load_le32 (buf + l->block_extra) : 0;
  h->nblocks = load_le32 (buf + l->nblocks);
  h->allocated = load_le32 (buf + l->allocated);
  if (!power_of_two (h->block_size) || h->block_size < VDI_MIN_BLOCK ||
      h->block_size > VDI_MAX_BLOCK)
    return why (HV_E_FORMAT, out, len, "block size %" PRIu32 " (offset %zu)"
                " is not a power of two from 512 bytes to 256 MiB",
                h->block_size, l->block_size);
  if (h->block_extra && (!power_of_two (h->block_extra) ||
                         h->block_extra > VDI_MAX_BLOCK))
    return why (HV_E_FORMAT, out, len, "block extra %" PRIu32 " (offset %zu)"
                " is not 0 or a power of two up to 256 MiB", h->block_extra,
                l->block_extra);
  /* VBoxManage convertfromraw writes sizes that are not whole sectors. */
  h->disk_size = ROUND_UP (MIN (disk_size, UINT64_MAX - 511), 512);
  span = (uint64_t) h->nblocks * h->block_size;
  if (span < h->disk_size || span - h->disk_size >= h->block_size)
    return why (HV_E_FORMAT, out, len, "blocks in image (%" PRIu32 ", offset"
                " %zu) do not cover the disk size (%" PRIu64 ", offset %zu) "
                "in blocks of %" PRIu32, h->nblocks, l->nblocks, disk_size,
                l->disk_size, h->block_size);
  if (h->allocated > h->nblocks)
    return why (HV_E_FORMAT, out, len, "more blocks allocated (%" PRIu32
                ", offset %zu) than the image has", h->allocated,
                l->allocated);
  return 0;
}

/* Where the block map and the data are. */
static int
check_offsets (const uint8_t *buf, const struct layout *l,
               struct vdi_header *h, char *out, size_t len)
{
  const uint64_t header_end = l->header_size ?
    PREHEADER + (uint64_t) load_le32 (buf + l->header_size) : l->end;
  uint64_t map_end;

  h->map_offset = l->map ? load_le32 (buf + l->map) : l->end;
  map_end = h->map_offset + (uint64_t) 4 * h->nblocks;
  h->data_offset = l->data ? load_le32 (buf + l->data) : map_end;
  if (h->map_offset < header_end)
    return why (HV_E_FORMAT, out, len, "block map offset %" PRIu64
                " (offset 340) is inside the header, which ends at %" PRIu64
                " (header size at offset 72)", h->map_offset, header_end);
  if (h->data_offset < map_end)
    return why (HV_E_FORMAT, out, len, "data offset %" PRIu64 " (offset 344)"
                " is inside the block map, which ends at %" PRIu64,
                h->data_offset, map_end);
  return 0;
}

int
vdi_parse_header (const uint8_t *buf, size_t n, struct vdi_header *h,
                  char *out, size_t len)
{
  const struct layout *l = NULL;
  int code;

  memset (h, 0, sizeof *h);
  if ((code = check_version (buf, n, &l, out, len)) != 0 ||
      (code = check_kind (buf, n, l, h, out, len)) != 0 ||
      (code = check_blocks (buf, l, h, out, len)) != 0 ||
      (code = check_offsets (buf, l, h, out, len)) != 0)
    return code;
  h->version = load_le32 (buf + 68);
  memcpy (h->uuid, buf + l->ids, 16);
  memcpy (h->modification, buf + l->ids + 16, 16);
  memcpy (h->linkage, buf + l->ids + 32, 16);
  if (l->parent_modification)
    memcpy (h->parent_modification, buf + l->parent_modification, 16);
  return 0;
}

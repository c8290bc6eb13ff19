/* VirtualBox VDI images: normal (dynamic), fixed and differencing.
 *
 * FORMATS.md 4.1.  The header (vdi-header.c), a block map of u32
 * entries, the blocks.  A map entry is a block index into the data area
 * (each block preceded by block_extra bytes), 0xFFFFFFFF (never written:
 * zeros, or the parent's data in a differencing image) or 0xFFFFFFFE (a
 * block known to be zero).  A differencing image's parent is found by
 * UUID (vdi-parent.c).  Every field is checked at open, every map entry
 * included, so reads are plain preads and safe from several threads at
 * once.  A fixed image is read through its map like the others, as
 * VirtualBox does.  Undo images (type 3, from VirtualBox 1.x; no current
 * VirtualBox writes them) are refused by name: their chain semantics
 * were never documented, and a guess would be silently wrong data.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vdi-internal.h"

struct vdi {
  struct disk d;             /* base: must be first */
  int fd;
  struct vdi_header h;
  uint32_t *map;             /* host order */
  uint8_t *file_map;         /* the whole file mapped, or NULL */
  uint64_t file_size;
  struct disk *parent;       /* differencing images */
};

static const struct disk_ops vdi_ops;

/* ---------------------------------------------------------------- */
/* The header and the block map. */

static int
read_header (struct vdi *v)
{
  uint8_t buf[VDI_HEADER_READ];
  const size_t n = MIN (v->file_size, sizeof buf);
  char why[256];
  int code;

  if (full_pread (v->fd, buf, n, 0) == -1) {
    hv_error (HV_E_IO, "%s: reading the header: %m", v->d.filename);
    return -1;
  }
  if ((code = vdi_parse_header (buf, n, &v->h, why, sizeof why)) != 0) {
    hv_error (code, "%s: %s", v->d.filename, why);
    return -1;
  }
  if (v->h.map_offset + (uint64_t) 4 * v->h.nblocks > v->file_size ||
      v->h.data_offset > v->file_size) {
    hv_error (HV_E_FORMAT, "%s: block map (offset %" PRIu64 ", %" PRIu32
              " entries) or data area (offset %" PRIu64 ") outside the "
              "file of %" PRIu64 " bytes", v->d.filename, v->h.map_offset,
              v->h.nblocks, v->h.data_offset, v->file_size);
    return -1;
  }
  v->d.size = v->h.disk_size;
  return 0;
}

static uint64_t
block_offset (const struct vdi *v, uint32_t e)
{
  return v->h.data_offset +
    (uint64_t) e * (v->h.block_size + v->h.block_extra) + v->h.block_extra;
}

/* Is map entry I, pointing to block E, usable?  USED: the blocks seen so
 * far, one bit each. */
static int
check_entry (struct vdi *v, uint32_t i, uint32_t e, uint8_t *used)
{
  /* The bytes of the disk in block I: a short last block may end the
   * file early. */
  const uint64_t need = MIN ((uint64_t) v->h.block_size,
                             v->d.size - (uint64_t) i * v->h.block_size);
  const char *problem = NULL;

  if (e >= v->h.nblocks)
    problem = "is beyond the blocks in image";
  else if (block_offset (v, e) + need > v->file_size)
    problem = "points past the end of the file";
  else if (used[e / 8] & (1u << (e % 8)))
    problem = "points to a block an earlier entry uses";
  if (problem) {
    hv_error (HV_E_FORMAT, "%s: block map entry %" PRIu32 " (offset %"
              PRIu64 ") = %" PRIu32 " %s", v->d.filename, i,
              v->h.map_offset + (uint64_t) 4 * i, e, problem);
    return -1;
  }
  used[e / 8] |= 1u << (e % 8);
  return 0;
}

/* Read the map once (its size is bounded by the file's, checked in
 * read_header) and check every entry. */
static int
read_map (struct vdi *v)
{
  const uint32_t n = v->h.nblocks;
  uint8_t *used = calloc (n / 8 + 1, 1);
  int r = 0;

  v->map = malloc ((uint64_t) 4 * n + 1);
  if (used == NULL || v->map == NULL) {
    free (used);
    hv_error (HV_E_NOMEM, "%s: block map: %m", v->d.filename);
    return -1;
  }
  if (full_pread (v->fd, v->map, (uint64_t) 4 * n, v->h.map_offset) == -1) {
    hv_error (HV_E_IO, "%s: reading the block map: %m", v->d.filename);
    r = -1;
  }
  for (uint32_t i = 0; r == 0 && i < n; i++) {
    v->map[i] = load_le32 ((const uint8_t *) &v->map[i]);
    if (v->map[i] < VDI_ZERO)
      r = check_entry (v, i, v->map[i], used);
  }
  free (used);
  return r;
}

/* A parent changed since the child was made: its data under the child
 * is not what the child was made on.  VirtualBox refuses to open such a
 * chain; the data may still be what the user wants, so a warning. */
static int
open_parent (struct vdi *v, unsigned flags)
{
  const struct vdi *p;

  v->parent = vdi_open_parent (v->d.filename, &v->h, flags);
  if (v->parent == NULL)
    return -1;
  p = (const struct vdi *) v->parent;
  if (v->parent->ops == &vdi_ops && !is_zero (v->h.parent_modification, 16) &&
      memcmp (p->h.modification, v->h.parent_modification, 16) != 0)
    hv_warning (HV_E_PARENT, "%s: its parent %s was modified after it was "
                "made (modification UUIDs differ)", v->d.filename,
                v->parent->filename);
  return 0;
}

/* ---------------------------------------------------------------- */
/* Reads and extents. */

static int
vdi_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vdi *v = (struct vdi *) d;
  uint8_t *p = buf;

  while (count > 0) {
    const uint32_t blk = offset / v->h.block_size;
    const uint32_t in = offset % v->h.block_size, e = v->map[blk];
    const size_t n = MIN (count, (size_t) (v->h.block_size - in));
    int r = 0;
    if (e == VDI_UNALLOCATED && v->parent)
      r = disk_pread_padded (v->parent, p, n, offset);
    else if (e >= VDI_ZERO)
      memset (p, 0, n);
    else if (full_pread (v->fd, p, n, block_offset (v, e) + in) == -1) {
      hv_error (HV_E_IO, "%s: reading block %" PRIu32 ": %m", d->filename,
                blk);
      r = -1;
    }
    if (r == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

static int
vdi_extents (struct disk *d, uint64_t offset, uint64_t length,
             struct extent_vector *out)
{
  struct vdi *v = (struct vdi *) d;
  const uint64_t end = offset + length;

  while (offset < end) {
    const uint32_t blk = offset / v->h.block_size, e = v->map[blk];
    const uint64_t n = MIN (end - offset, v->h.block_size -
                            offset % v->h.block_size);
    int r;
    if (e == VDI_UNALLOCATED && v->parent)
      r = extents_of_sub_disk (out, d->filename, v->parent, offset, n, 0);
    else
      r = extent_add (out, offset, n,
                      e >= VDI_ZERO ? EXTENT_ZERO : EXTENT_DATA, d->filename);
    if (r == -1)
      return -1;
    offset += n;
  }
  return 0;
}

/* A range whose blocks are all allocated and follow each other in the
 * file (as qemu-img and VirtualBox write a sequential copy) is one
 * piece of the mapped file: the copy engine reads it in place. */
static const uint8_t *
vdi_map (struct disk *d, uint64_t offset, size_t count)
{
  struct vdi *v = (struct vdi *) d;
  const uint32_t first = offset / v->h.block_size;
  const uint32_t last = (offset + count - 1) / v->h.block_size;
  const uint32_t e0 = v->map[first];
  const uint64_t at = block_offset (v, e0) + offset % v->h.block_size;

  if (v->file_map == NULL || v->h.block_extra || e0 >= VDI_ZERO)
    return NULL;
  for (uint32_t b = first + 1; b <= last; b++)
    if (v->map[b] != e0 + (b - first))
      return NULL;
  if (at + count > v->file_size)
    return NULL;
  return v->file_map + at;
}

static void
vdi_close (struct disk *d)
{
  struct vdi *v = (struct vdi *) d;

  if (v->file_map)
    munmap (v->file_map, v->file_size);
  disk_close (v->parent);
  free (v->map);
  if (v->fd >= 0)
    close (v->fd);
}

static const struct disk_ops vdi_ops = {
  .name = "vdi",
  .pread = vdi_pread,
  .extents = vdi_extents,
  .close = vdi_close,
  .map = vdi_map,
};

/* ---------------------------------------------------------------- */

bool
vdi_probe (int fd, uint64_t file_size)
{
  uint8_t h[4];

  return file_size >= VDI_HEADER_MIN && full_pread (fd, h, 4, 64) == 0 &&
    load_le32 (h) == VDI_SIGNATURE;
}

static int
vdi_setup (struct vdi *v, unsigned flags)
{
  struct stat st;

  if (fstat (v->fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", v->d.filename);
    return -1;
  }
  v->file_size = st.st_size;
  if (read_header (v) == -1 || read_map (v) == -1)
    return -1;
  if (v->h.type == VDI_DIFF)
    return open_parent (v, flags);
  /* Only a hint for vdi_map: without it everything goes by pread. */
  v->file_map = v->file_size ?
    mmap (NULL, v->file_size, PROT_READ, MAP_SHARED, v->fd, 0) : NULL;
  if (v->file_map == MAP_FAILED)
    v->file_map = NULL;
  return 0;
}

struct disk *
vdi_open (const char *filename, unsigned flags)
{
  struct vdi *v = calloc (1, sizeof *v);

  if (v == NULL || (v->d.filename = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    free (v);
    return NULL;
  }
  v->d.ops = &vdi_ops;
  v->d.sector_size = 512;
  v->fd = open (filename, O_RDONLY | O_CLOEXEC);
  if (v->fd == -1)
    hv_error (HV_E_IO, "%s: %m", filename);
  if (v->fd == -1 || vdi_setup (v, flags) == -1) {
    disk_close (&v->d);
    return NULL;
  }
  hv_debug ("%s: VDI %" PRIu32 ".%" PRIu32 " type %" PRIu32 ", %" PRIu32
            " blocks of %" PRIu32, filename, v->h.version >> 16,
            v->h.version & 0xFFFF, v->h.type, v->h.nblocks,
            v->h.block_size);
  return &v->d;
}

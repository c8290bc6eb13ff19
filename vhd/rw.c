/* Reading, writing and extents of an open VHD.
 *
 * Fixed: the data is the first current_size bytes of the file.
 * Dynamic and differencing: block = sector bitmap (MSB-first: sector i is
 * bit 0x80 >> (i & 7) of byte i >> 3) then block_size bytes of data.
 * Dynamic bitmaps say "written", and unwritten sectors hold zeros, so
 * reads go straight to the data.  Differencing bitmaps say "present in
 * this file"; a clear bit or an unallocated block reads from the parent.
 *
 * Writes allocate a block at the end of the file on first touch and keep
 * the BAT and footer in memory; flush writes them.  Files being created
 * are temporaries (renamed when complete), so flush-time metadata is
 * safe there and keeps the copy path to one large write per block.
 */
#include <config.h>

#include <inttypes.h>

#include "vhd-internal.h"

/* ---------------------------------------------------------------- */
/* Fixed disks. */

static int
fixed_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vhd *v = (struct vhd *) d;

  if (full_pread (v->fd, buf, count, offset) == -1) {
    hv_error (HV_E_IO, "%s: reading %zu bytes at offset %" PRIu64 ": %m",
              d->filename, count, offset);
    return -1;
  }
  return 0;
}

static int
fixed_pwrite (struct disk *d, const void *buf, size_t count, uint64_t offset)
{
  struct vhd *v = (struct vhd *) d;

  if (full_pwrite (v->fd, buf, count, offset) == -1) {
    hv_error (HV_E_IO, "%s: writing %zu bytes at offset %" PRIu64 ": %m",
              d->filename, count, offset);
    return -1;
  }
  return 0;
}

/* Holes in a fixed VHD's file read as zeros: report them so a copy
 * skips them (our writer leaves zero areas as holes). */
static int
fixed_extents (struct disk *d, uint64_t offset, uint64_t length,
               struct extent_vector *out)
{
  struct vhd *v = (struct vhd *) d;
  const uint64_t end = offset + length;
  off_t data, hole;

  data = lseek (v->fd, (off_t) offset, SEEK_DATA);
  if (data == -1 && errno != ENXIO)
    return extent_add (out, offset, length, EXTENT_DATA, d->filename);
  if (data == -1 || (uint64_t) data >= end)
    return extent_add (out, offset, length, EXTENT_ZERO, d->filename);
  if (extent_add (out, offset, data - offset, EXTENT_ZERO, d->filename))
    return -1;
  hole = lseek (v->fd, data, SEEK_HOLE);
  if (hole == -1 || (uint64_t) hole > end)
    hole = end;
  return extent_add (out, data, hole - data, EXTENT_DATA, d->filename);
}

static int
vhd_flush (struct disk *d)
{
  struct vhd *v = (struct vhd *) d;

  if (vhd_flush_metadata (v) == -1)
    return -1;
  if (!v->no_sync && full_fsync (v->fd) == -1) {
    hv_error (HV_E_IO, "%s: fsync: %m", d->filename);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Dynamic and differencing disks. */

static bool
bit_set (const uint8_t *bm, uint32_t i)
{
  return bm[i >> 3] & (0x80 >> (i & 7));
}

static uint64_t
data_offset (const struct vhd *v, uint32_t blk, uint32_t in_blk)
{
  return (uint64_t) v->bat[blk] * VHD_SECTOR + v->bitmap_size + in_blk;
}

static int
load_bitmap (struct vhd *v, uint32_t blk)
{
  const uint64_t at = (uint64_t) v->bat[blk] * VHD_SECTOR;

  if (v->bitmap_blk == blk)
    return 0;
  v->bitmap_blk = VHD_BAT_UNUSED;
  if (full_pread (v->fd, v->bitmap, v->bitmap_size, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the bitmap of block %" PRIu32
              " at offset %" PRIu64 ": %m", v->d.filename, blk, at);
    return -1;
  }
  v->bitmap_blk = blk;
  return 0;
}

/* A copy of block BLK's bitmap for a reader, in malloc'd *COPY: the
 * cache is shared by threads reading at once. */
static int
bitmap_copy (struct vhd *v, uint32_t blk, uint8_t **copy)
{
  int r;

  *copy = malloc (v->bitmap_size);
  if (*copy == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  pthread_mutex_lock (&v->bitmap_lock);
  r = load_bitmap (v, blk);
  if (r == 0)
    memcpy (*copy, v->bitmap, v->bitmap_size);
  pthread_mutex_unlock (&v->bitmap_lock);
  if (r == -1)
    free (*copy);
  return r;
}

static bool
is_diff (const struct vhd *v)
{
  return v->footer.disk_type == VHD_TYPE_DIFF;
}

static int
no_parent (const struct vhd *v)
{
  hv_error (HV_E_PARENT, "%s: the parent disk is needed but was not opened",
            v->d.filename);
  return -1;
}

/* Read from the parent; beyond the parent's size a child reads zeros. */
static int
parent_pread (struct vhd *v, uint8_t *buf, size_t count, uint64_t offset)
{
  uint64_t psize;
  size_t n;

  if (v->parent == NULL)
    return no_parent (v);
  psize = v->parent->size;
  n = offset >= psize ? 0 : MIN (count, psize - offset);

  memset (buf + n, 0, count - n);
  return n ? disk_pread (v->parent, buf, n, offset) : 0;
}

/* Read within one allocated differencing block, run by run of equal
 * bitmap bits. */
static int
diff_block_pread (struct vhd *v, uint32_t blk, uint8_t *buf, size_t count,
                  uint64_t offset)
{
  const uint32_t in_blk = offset % v->block_size;
  uint32_t s = in_blk / VHD_SECTOR;
  size_t done = 0;
  uint8_t *bitmap;
  int r = 0;

  if (bitmap_copy (v, blk, &bitmap) == -1)
    return -1;
  while (r == 0 && done < count) {
    bool present = bit_set (bitmap, s);
    uint64_t run_end = (uint64_t) (s + 1) * VHD_SECTOR;
    while (run_end - in_blk < count &&
           bit_set (bitmap, run_end / VHD_SECTOR) == present)
      run_end += VHD_SECTOR;
    size_t n = MIN (count, run_end - in_blk) - done;
    r = present
      ? full_pread (v->fd, buf + done, n, data_offset (v, blk, in_blk + done))
      : parent_pread (v, buf + done, n, offset + done);
    if (r == -1 && present)
      hv_error (HV_E_IO, "%s: reading block %" PRIu32 ": %m",
                v->d.filename, blk);
    done += n;
    s = (in_blk + done) / VHD_SECTOR;
  }
  free (bitmap);
  return r;
}

static int
block_pread (struct vhd *v, uint32_t blk, uint8_t *buf, size_t count,
             uint64_t offset)
{
  const uint32_t in_blk = offset % v->block_size;

  if (v->bat[blk] == VHD_BAT_UNUSED) {
    if (is_diff (v))
      return parent_pread (v, buf, count, offset);
    memset (buf, 0, count);
    return 0;
  }
  if (is_diff (v))
    return diff_block_pread (v, blk, buf, count, offset);
  if (full_pread (v->fd, buf, count, data_offset (v, blk, in_blk)) == -1) {
    hv_error (HV_E_IO, "%s: reading block %" PRIu32 " at offset %" PRIu64
              ": %m", v->d.filename, blk, data_offset (v, blk, in_blk));
    return -1;
  }
  return 0;
}

static int
sparse_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vhd *v = (struct vhd *) d;
  uint8_t *p = buf;

  while (count > 0) {
    uint32_t blk = offset / v->block_size;
    size_t n = MIN (count, v->block_size - offset % v->block_size);
    if (block_pread (v, blk, p, n, offset) == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* The file offset for a new block: at or after the footer, placed so
 * that the block's data is VHD_DATA_ALIGN-aligned. */
uint64_t
vhd_align_block (const struct vhd *v, uint64_t off)
{
  uint64_t data = ROUND_UP (off + v->bitmap_size, VHD_DATA_ALIGN);

  return data - v->bitmap_size;
}

static void
mark_bat (struct vhd *v, uint32_t blk)
{
  if (!v->bat_dirty) {
    v->dirty_lo = blk;
    v->dirty_hi = blk + 1;
  }
  v->dirty_lo = MIN (v->dirty_lo, blk);
  v->dirty_hi = MAX (v->dirty_hi, blk + 1);
  v->bat_dirty = true;
  v->footer_dirty = true;
}

/* Allocate block BLK and write its bitmap plus (COUNT bytes of) data at
 * IN_BLK in one vectored write.  The block lies past the old end of the
 * file, so the rest of its data reads as zeros once ftruncate covers it. */
static int
allocate_block (struct vhd *v, uint32_t blk, const uint8_t *buf,
                size_t count, uint32_t in_blk)
{
  const uint64_t at = vhd_align_block (v, v->next_free);
  int r;

  /* Extend the file over the whole block first: its unwritten data
   * must read as zeros now (a read-modify-write of an unaligned write
   * reads it), not only once flush writes the footer after it. */
  if (full_ftruncate (v->fd, at + v->bitmap_size + v->block_size)) {
    hv_error (HV_E_IO, "%s: extending for new block %" PRIu32 ": %m",
              v->d.filename, blk);
    return -1;
  }
  /* Dynamic: every sector "written" (unwritten ones are zero on disk).
   * Differencing: nothing present yet; the caller sets bits. */
  memset (v->bitmap, is_diff (v) ? 0x00 : 0xFF, v->bitmap_size);
  v->bitmap_blk = blk;
  v->bat[blk] = at / VHD_SECTOR;
  v->next_free = at + v->bitmap_size + v->block_size;
  v->allocated++;
  mark_bat (v, blk);
  if (in_blk == 0)
    r = full_pwrite2 (v->fd, v->bitmap, v->bitmap_size, buf, count, at);
  else
    r = full_pwrite (v->fd, v->bitmap, v->bitmap_size, at) ||
      full_pwrite (v->fd, buf, count, data_offset (v, blk, in_blk));
  if (r != 0) {
    hv_error (HV_E_IO, "%s: writing new block %" PRIu32 " at offset %"
              PRIu64 ": %m", v->d.filename, blk, at);
    return -1;
  }
  return 0;
}

/* Differencing: mark sectors present and write the bitmap back if it
 * changed. */
static int
set_present (struct vhd *v, uint32_t blk, uint32_t in_blk, size_t count)
{
  bool changed = false;

  if (load_bitmap (v, blk) == -1)
    return -1;
  for (uint32_t s = in_blk / VHD_SECTOR;
       s < (in_blk + count) / VHD_SECTOR; s++) {
    if (!bit_set (v->bitmap, s)) {
      v->bitmap[s >> 3] |= 0x80 >> (s & 7);
      changed = true;
    }
  }
  if (changed && full_pwrite (v->fd, v->bitmap, v->bitmap_size,
                              (uint64_t) v->bat[blk] * VHD_SECTOR) == -1) {
    hv_error (HV_E_IO, "%s: writing the bitmap of block %" PRIu32 ": %m",
              v->d.filename, blk);
    return -1;
  }
  return 0;
}

/* Write within one block; OFFSET and COUNT are sector-aligned. */
static int
block_pwrite (struct vhd *v, uint32_t blk, const uint8_t *buf, size_t count,
              uint64_t offset)
{
  const uint32_t in_blk = offset % v->block_size;

  if (v->bat[blk] == VHD_BAT_UNUSED) {
    if (allocate_block (v, blk, buf, count, in_blk) == -1)
      return -1;
  }
  else if (full_pwrite (v->fd, buf, count,
                        data_offset (v, blk, in_blk)) == -1) {
    hv_error (HV_E_IO, "%s: writing block %" PRIu32 ": %m",
              v->d.filename, blk);
    return -1;
  }
  return is_diff (v) ? set_present (v, blk, in_blk, count) : 0;
}

static int
aligned_pwrite (struct vhd *v, const uint8_t *p, size_t count,
                uint64_t offset)
{
  while (count > 0) {
    uint32_t blk = offset / v->block_size;
    size_t n = MIN (count, v->block_size - offset % v->block_size);
    if (block_pwrite (v, blk, p, n, offset) == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* Bitmaps work in whole sectors: widen an unaligned write to sectors by
 * reading the edges through the disk (and so through the parent). */
static int
sparse_pwrite (struct disk *d, const void *buf, size_t count, uint64_t offset)
{
  struct vhd *v = (struct vhd *) d;
  uint64_t start = offset / VHD_SECTOR * VHD_SECTOR;
  uint64_t end = ROUND_UP (offset + count, VHD_SECTOR);
  uint8_t *bounce;
  int r;

  if (start == offset && end == offset + count)
    return aligned_pwrite (v, buf, count, offset);
  bounce = malloc (end - start);
  if (bounce == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", d->filename);
    return -1;
  }
  r = sparse_pread (d, bounce, VHD_SECTOR, start);
  if (r == 0)
    r = sparse_pread (d, bounce + (end - start) - VHD_SECTOR, VHD_SECTOR,
                      end - VHD_SECTOR);
  if (r == 0) {
    memcpy (bounce + (offset - start), buf, count);
    r = aligned_pwrite (v, bounce, end - start, start);
  }
  free (bounce);
  return r;
}

/* Extents of the parent for [OFFSET, OFFSET+LEN), zero beyond its end. */
static int
parent_extents (struct vhd *v, uint64_t offset, uint64_t len,
                struct extent_vector *out)
{
  const uint64_t end = offset + len;
  struct extent_vector pe = { 0 };
  int r = 0;

  if (v->parent == NULL)
    return no_parent (v);
  while (offset < end && offset < v->parent->size && r == 0) {
    pe.len = 0;
    r = disk_extents (v->parent, offset, MIN (end, v->parent->size) - offset,
                      &pe);
    for (size_t i = 0; i < pe.len && r == 0; i++) {
      uint64_t n = MIN (pe.ptr[i].length, end - pe.ptr[i].offset);
      r = extent_add (out, pe.ptr[i].offset, n, pe.ptr[i].type,
                      v->d.filename);
      offset = pe.ptr[i].offset + n;
    }
    if (pe.len == 0)
      break;
  }
  free (pe.ptr);
  if (r == 0 && offset < end)
    r = extent_add (out, offset, end - offset, EXTENT_ZERO, v->d.filename);
  return r;
}

static int
diff_block_extents (struct vhd *v, uint32_t blk, uint64_t offset,
                    uint64_t len, struct extent_vector *out)
{
  const uint64_t base = (uint64_t) blk * v->block_size;
  uint64_t pos = offset;
  uint8_t *bitmap;
  int r = 0;

  if (bitmap_copy (v, blk, &bitmap) == -1)
    return -1;
  while (r == 0 && pos < offset + len) {
    uint32_t s = (pos - base) / VHD_SECTOR;
    bool present = bit_set (bitmap, s);
    uint64_t run = base + (uint64_t) (s + 1) * VHD_SECTOR;
    while (run < offset + len &&
           bit_set (bitmap, (run - base) / VHD_SECTOR) == present)
      run += VHD_SECTOR;
    run = MIN (run, offset + len);
    r = present
      ? extent_add (out, pos, run - pos, EXTENT_DATA, v->d.filename)
      : parent_extents (v, pos, run - pos, out);
    pos = run;
  }
  free (bitmap);
  return r;
}

static int
sparse_extents (struct disk *d, uint64_t offset, uint64_t length,
                struct extent_vector *out)
{
  struct vhd *v = (struct vhd *) d;
  const uint64_t end = offset + length;

  while (offset < end) {
    uint32_t blk = offset / v->block_size;
    uint64_t n = MIN (end - offset, v->block_size - offset % v->block_size);
    int r;
    if (v->bat[blk] == VHD_BAT_UNUSED)
      r = is_diff (v) ? parent_extents (v, offset, n, out)
        : extent_add (out, offset, n, EXTENT_ZERO, d->filename);
    else if (is_diff (v))
      r = diff_block_extents (v, blk, offset, n, out);
    else
      r = extent_add (out, offset, n, EXTENT_DATA, d->filename);
    if (r == -1)
      return -1;
    offset += n;
  }
  return 0;
}

/* Write the changed BAT sectors, then the footer at the new end and its
 * copy at offset 0.  The BAT entries reach disk only after the blocks
 * they point to were written. */
int
vhd_flush_metadata (struct vhd *v)
{
  uint8_t footer[VHD_FOOTER_SIZE];

  if (v->bat_dirty) {
    uint32_t lo = v->dirty_lo / 128 * 128;   /* whole sectors of BAT */
    uint32_t hi = MIN (ROUND_UP (v->dirty_hi, 128), v->nblocks);
    if (vhd_write_bat (v, v->bat, v->header.table_offset, lo, hi,
                       false) == -1)
      return -1;
    v->bat_dirty = false;
  }
  if (!v->footer_dirty)
    return 0;
  vhd_footer_encode (&v->footer, footer);
  if (full_pwrite (v->fd, footer, sizeof footer, v->next_free) == -1 ||
      full_pwrite (v->fd, footer, sizeof footer, 0) == -1) {
    hv_error (HV_E_IO, "%s: writing the footer: %m", v->d.filename);
    return -1;
  }
  v->file_size = v->next_free + VHD_FOOTER_SIZE;
  v->footer_dirty = false;
  return 0;
}

const struct disk_ops vhd_fixed_ops = {
  .name = "vhd",
  .pread = fixed_pread,
  .pwrite = fixed_pwrite,
  .extents = fixed_extents,
  .flush = vhd_flush,
  .close = vhd_close_private,
};

const struct disk_ops vhd_sparse_ops = {
  .name = "vhd",
  .pread = sparse_pread,
  .pwrite = sparse_pwrite,
  .extents = sparse_extents,
  .flush = vhd_flush,
  .close = vhd_close_private,
};

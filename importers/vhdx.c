/* VHDX (Hyper-V, MS-VHDX) images: probe, open, the BAT, reading and
 * extents.  The header section, log, metadata and parent are read by
 * vhdx-header.c, vhdx-log.c, vhdx-meta.c and vhdx-parent.c; the open
 * order is in vhdx-internal.h.
 *
 * The BAT is one array of u64 entries (state in bits 0-2, file offset
 * in MiB in bits 20-63) in which the entry of each chunk's sector
 * bitmap block follows the entries of its chunk_ratio payload blocks:
 * payload block b is entry b + b / chunk_ratio, the bitmap of chunk k
 * entry k * (chunk_ratio + 1) + chunk_ratio.
 *
 *   payload state            reads as
 *   0 NOT_PRESENT            zeros; the parent's data in a differencing disk
 *   1 UNDEFINED, 2 ZERO,     zeros (UNDEFINED and UNMAPPED may read as
 *   3 UNMAPPED               anything, and zeros is what qemu returns)
 *   6 FULLY_PRESENT          the block at its file offset
 *   7 PARTIALLY_PRESENT      differencing only: per logical sector, the
 *                            block if the sector's bit is set in the
 *                            chunk's bitmap (LSB first), else the parent
 *
 * The BAT is read and checked once at open, bounded by the size of its
 * region (which lies in the file); every entry that points into the
 * file is checked to lie inside it.  After that nothing changes, so
 * pread and extents are safe from several threads: they keep what they
 * need (a piece of a sector bitmap) per call.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vhdx-internal.h"

enum {
  PAYLOAD_NOT_PRESENT = 0,
  PAYLOAD_UNDEFINED = 1,
  PAYLOAD_ZERO = 2,
  PAYLOAD_UNMAPPED = 3,
  PAYLOAD_FULLY_PRESENT = 6,
  PAYLOAD_PARTIALLY_PRESENT = 7,
  SB_PRESENT = 6,
};

/* extents stops at a block boundary once it has added this many. */
#define EXTENTS_PER_CALL 4096

static const struct disk_ops vhdx_ops;

/* ---------------------------------------------------------------- */
/* The BAT. */

static unsigned
state_of (uint64_t entry)
{
  return entry & 7;
}

/* (2^44 - 1) MiB fits in 64 bits. */
static uint64_t
offset_of (uint64_t entry)
{
  return (entry >> 20) * MiB;
}

static uint64_t
payload_index (const struct vhdx *v, uint64_t b)
{
  return b + b / v->chunk_ratio;
}

static uint64_t
payload (const struct vhdx *v, uint64_t b)
{
  return v->bat[payload_index (v, b)];
}

static uint64_t
bitmap_index (const struct vhdx *v, uint64_t chunk)
{
  return chunk * (v->chunk_ratio + 1) + v->chunk_ratio;
}

/* Bytes of the virtual disk in block B (less than a block at the end). */
static uint64_t
block_bytes (const struct vhdx *v, uint64_t b)
{
  return MIN (v->block_size, v->d.size - b * v->block_size);
}

/* Entries the BAT must have: a fixed or dynamic disk's BAT ends with
 * the last payload block, a differencing disk's with the last bitmap. */
static int
bat_entries (struct vhdx *v)
{
  const uint64_t cr = v->chunk_ratio;

  v->blocks = DIV_ROUND_UP (v->d.size, v->block_size);
  if (v->has_parent)
    v->bat_entries = DIV_ROUND_UP (v->blocks, cr) * (cr + 1);
  else
    v->bat_entries = v->blocks ? v->blocks + (v->blocks - 1) / cr : 0;
  if (v->bat_entries > v->bat_length / 8) {
    hv_error (HV_E_FORMAT, "%s: the BAT region (%" PRIu32 " bytes) is too "
              "small for the %" PRIu64 " entries of a %" PRIu64 "-byte disk "
              "in %" PRIu32 "-byte blocks", v->d.filename, v->bat_length,
              v->bat_entries, v->d.size, v->block_size);
    return -1;
  }
  return 0;
}

/* The file must hold [OFF, OFF+LEN) after its header section. */
static int
check_points_in (const struct vhdx *v, uint64_t index, const char *what,
                 uint64_t n, uint64_t off, uint64_t len)
{
  uint64_t end;

  if (off >= VHDX_HEADER_SECTION && !ckd_add (&end, off, len) &&
      end <= v->extended_size)
    return 0;
  hv_error (HV_E_FORMAT, "%s: BAT entry %" PRIu64 " (%s %" PRIu64 ") "
            "points to offset %" PRIu64 ", %s (%" PRIu64 " bytes)",
            v->d.filename, index, what, n, off,
            off < VHDX_HEADER_SECTION ? "in the header section of the file"
                                      : "past the end of the file",
            v->extended_size);
  return -1;
}

static int
check_payload (const struct vhdx *v, uint64_t b)
{
  const uint64_t i = payload_index (v, b), e = v->bat[i];
  const unsigned s = state_of (e);
  const char *f = v->d.filename;

  if (s <= PAYLOAD_UNMAPPED)
    return 0;
  if (s != PAYLOAD_FULLY_PRESENT && s != PAYLOAD_PARTIALLY_PRESENT) {
    hv_error (HV_E_FORMAT, "%s: BAT entry %" PRIu64 " (block %" PRIu64 ") "
              "has the reserved state %u", f, i, b, s);
    return -1;
  }
  if (s == PAYLOAD_PARTIALLY_PRESENT &&
      (!v->has_parent ||
       state_of (v->bat[bitmap_index (v, b / v->chunk_ratio)]) != SB_PRESENT)) {
    hv_error (HV_E_FORMAT, "%s: BAT entry %" PRIu64 " (block %" PRIu64 ") is "
              "partially present, but %s", f, i, b, v->has_parent
              ? "its chunk has no sector bitmap" : "the disk has no parent");
    return -1;
  }
  return check_points_in (v, i, "block", b, offset_of (e), block_bytes (v, b));
}

/* A differencing disk's sector bitmap block: absent, or in the file as
 * far as its chunk has sectors. */
static int
check_bitmap (const struct vhdx *v, uint64_t k)
{
  const uint64_t i = bitmap_index (v, k), e = v->bat[i];
  const uint64_t chunk = (uint64_t) v->chunk_ratio * v->block_size;
  const uint64_t sectors = MIN (chunk, v->d.size - k * chunk) /
                           v->d.sector_size;

  if (state_of (e) == 0)
    return 0;
  if (state_of (e) != SB_PRESENT) {
    hv_error (HV_E_FORMAT, "%s: BAT entry %" PRIu64 " (sector bitmap %"
              PRIu64 ") has the state %u", v->d.filename, i, k, state_of (e));
    return -1;
  }
  return check_points_in (v, i, "sector bitmap", k, offset_of (e),
                          DIV_ROUND_UP (sectors, 8));
}

static int
check_bat (const struct vhdx *v)
{
  for (uint64_t b = 0; b < v->blocks; b++) {
    if (check_payload (v, b) == -1)
      return -1;
  }
  for (uint64_t k = 0; v->has_parent && k * v->chunk_ratio < v->blocks; k++) {
    if (check_bitmap (v, k) == -1)
      return -1;
  }
  return 0;
}

static int
read_bat (struct vhdx *v)
{
  uint8_t *raw;

  if (bat_entries (v) == -1)
    return -1;
  raw = malloc (v->bat_entries * 8 + 1);
  if (raw == NULL) {
    hv_error (HV_E_NOMEM, "%s: BAT of %" PRIu64 " entries: %m", v->d.filename,
              v->bat_entries);
    return -1;
  }
  v->bat = (uint64_t *) raw;
  if (vhdx_read (v, raw, v->bat_entries * 8, v->bat_offset, "the BAT") == -1)
    return -1;
  for (uint64_t i = 0; i < v->bat_entries; i++)
    v->bat[i] = load_le64 (raw + 8 * i);
  return check_bat (v);
}

/* ---------------------------------------------------------------- */
/* Reading. */

int
vhdx_read (struct vhdx *v, void *buf, size_t len, uint64_t off,
           const char *what)
{
  const size_t n = off >= v->file_size ? 0 : MIN (len, v->file_size - off);

  if (n && full_pread (v->fd, buf, n, off) == -1) {
    hv_error (HV_E_IO, "%s: reading %s (%zu bytes at offset %" PRIu64 "): "
              "%m", v->d.filename, what, n, off);
    return -1;
  }
  memset ((uint8_t *) buf + n, 0, len - n);
  if (v->n_overlay)
    vhdx_overlay_apply (v, buf, len, off);
  return 0;
}

/* Beyond the parent's size a child reads zeros. */
static int
parent_pread (struct vhdx *v, uint8_t *buf, size_t count, uint64_t offset)
{
  const uint64_t psize = v->parent->size;
  const size_t n = offset >= psize ? 0 : MIN (count, psize - offset);

  memset (buf + n, 0, count - n);
  return n ? disk_pread (v->parent, buf, n, offset) : 0;
}

/* Bits of a chunk's sector bitmap, loaded for one call: bit S of the
 * chunk is bit S - FIRST of MAP. */
struct bits {
  uint8_t *map;
  uint64_t first;
};

/* First sector of block B within its chunk. */
static uint64_t
chunk_sector (const struct vhdx *v, uint64_t b)
{
  return (b % v->chunk_ratio) * (v->block_size / v->d.sector_size);
}

/* Load the bits for bytes [POS, POS+LEN) of block B. */
static int
load_bits (struct vhdx *v, uint64_t b, uint64_t pos, uint64_t len,
           struct bits *w)
{
  const uint64_t s0 = chunk_sector (v, b) + pos / v->d.sector_size;
  const uint64_t s1 = chunk_sector (v, b) + (pos + len - 1) / v->d.sector_size;
  const uint64_t e = v->bat[bitmap_index (v, b / v->chunk_ratio)];
  const size_t n = s1 / 8 - s0 / 8 + 1;

  w->first = s0 & ~(uint64_t) 7;
  w->map = malloc (n);
  if (w->map == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  return vhdx_read (v, w->map, n, offset_of (e) + s0 / 8, "a sector bitmap");
}

static bool
bit (const struct bits *w, uint64_t s)
{
  s -= w->first;
  return w->map[s >> 3] & (1u << (s & 7));
}

/* The run of sectors of block B from byte POS up to END that are all
 * present or all absent: its length, and which in *PRESENT. */
static uint64_t
run_length (const struct vhdx *v, const struct bits *w, uint64_t b,
            uint64_t pos, uint64_t end, bool *present)
{
  const uint32_t lss = v->d.sector_size;
  const uint64_t base = chunk_sector (v, b);
  uint64_t next = (pos / lss + 1) * lss;

  *present = bit (w, base + pos / lss);
  while (next < end && bit (w, base + next / lss) == *present)
    next += lss;
  return MIN (next, end) - pos;
}

static int
partial_pread (struct vhdx *v, uint64_t b, uint8_t *buf, size_t count,
               uint64_t pos)
{
  const uint64_t at = offset_of (payload (v, b)), offset = b * v->block_size;
  struct bits w;
  size_t done = 0;
  int r = load_bits (v, b, pos, count, &w);

  while (r == 0 && done < count) {
    bool present;
    uint64_t n = run_length (v, &w, b, pos + done, pos + count, &present);
    r = present
      ? vhdx_read (v, buf + done, n, at + pos + done, "a payload block")
      : parent_pread (v, buf + done, n, offset + pos + done);
    done += n;
  }
  free (w.map);
  return r;
}

/* Read COUNT bytes at byte POS of block B. */
static int
block_pread (struct vhdx *v, uint64_t b, uint8_t *buf, size_t count,
             uint64_t pos)
{
  const uint64_t e = payload (v, b);

  switch (state_of (e)) {
  case PAYLOAD_FULLY_PRESENT:
    return vhdx_read (v, buf, count, offset_of (e) + pos, "a payload block");
  case PAYLOAD_PARTIALLY_PRESENT:
    return partial_pread (v, b, buf, count, pos);
  case PAYLOAD_NOT_PRESENT:
    if (v->parent)
      return parent_pread (v, buf, count, b * v->block_size + pos);
    /* fall through */
  default:
    memset (buf, 0, count);
    return 0;
  }
}

static int
vhdx_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vhdx *v = (struct vhdx *) d;
  uint8_t *p = buf;

  while (count > 0) {
    const uint64_t b = offset / v->block_size, pos = offset % v->block_size;
    const size_t n = MIN (count, v->block_size - pos);
    if (block_pread (v, b, p, n, pos) == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* The copy engine reads a chunk in place if it lies in fully present
 * blocks that follow each other in the file (the usual layout of a
 * file written front to back) and the log rewrote nothing. */
static const uint8_t *
vhdx_map (struct disk *d, uint64_t offset, size_t count)
{
  struct vhdx *v = (struct vhdx *) d;
  uint64_t b = offset / v->block_size, at, covered;

  if (v->map == NULL || v->n_overlay || count == 0 ||
      state_of (payload (v, b)) != PAYLOAD_FULLY_PRESENT)
    return NULL;
  at = offset_of (payload (v, b)) + offset % v->block_size;
  covered = v->block_size - offset % v->block_size;
  while (covered < count) {
    const uint64_t e = payload (v, ++b);
    if (state_of (e) != PAYLOAD_FULLY_PRESENT ||
        offset_of (e) != at + covered)
      return NULL;
    covered += v->block_size;
  }
  return at <= v->file_size && count <= v->file_size - at ? v->map + at
                                                           : NULL;
}

/* ---------------------------------------------------------------- */
/* Extents. */

/* The parent's extents for [OFF, OFF+LEN), zeros past its end. */
static int
parent_extents (struct vhdx *v, uint64_t off, uint64_t len,
                struct extent_vector *out)
{
  const uint64_t end = off + len, pend = MIN (end, v->parent->size);
  struct extent_vector tmp = { 0 };
  int r = 0;

  while (r == 0 && off < pend) {
    tmp.len = 0;
    r = disk_extents (v->parent, off, pend - off, &tmp);
    for (size_t i = 0; r == 0 && i < tmp.len && off < pend; i++) {
      const uint64_t n = MIN (tmp.ptr[i].length, pend - off);
      r = extent_add (out, off, n, tmp.ptr[i].type, v->d.filename);
      off += n;
    }
    if (r == 0 && tmp.len == 0) {
      hv_error (HV_E_INTERNAL, "%s: the parent's extents made no progress",
                v->d.filename);
      r = -1;
    }
  }
  free (tmp.ptr);
  if (r == 0 && off < end)
    r = extent_add (out, off, end - off, EXTENT_ZERO, v->d.filename);
  return r;
}

/* File bytes [FOFF, FOFF+LEN) hold the disk's [VOFF, VOFF+LEN): holes
 * of a sparse file and bytes past its end read as zeros, so they are
 * zero extents, unless the log rewrote something there. */
static int
file_extents (struct vhdx *v, uint64_t foff, uint64_t len, uint64_t voff,
              struct extent_vector *out)
{
  const uint64_t fend = foff + len;
  const char *f = v->d.filename;

  if (!v->seek_data || v->n_overlay)
    return extent_add (out, voff, len, EXTENT_DATA, f);
  while (foff < fend) {
    off_t data = -1, hole;
    uint64_t d, h = fend;

    if (foff < v->file_size) {
      data = lseek (v->fd, foff, SEEK_DATA);
      if (data == -1 && errno != ENXIO)
        return extent_add (out, voff, fend - foff, EXTENT_DATA, f);
    }
    /* -1: nothing but a hole or the end of the file from here. */
    d = data == -1 ? fend : MIN ((uint64_t) data, fend);
    if (d < fend && (hole = lseek (v->fd, d, SEEK_HOLE)) != -1 &&
        (uint64_t) hole > d)
      h = MIN ((uint64_t) hole, fend);
    if (extent_add (out, voff, d - foff, EXTENT_ZERO, f) == -1 ||
        extent_add (out, voff + (d - foff), h - d, EXTENT_DATA, f) == -1)
      return -1;
    voff += h - foff;
    foff = h;
  }
  return 0;
}

static int
partial_extents (struct vhdx *v, uint64_t b, uint64_t pos, uint64_t len,
                 struct extent_vector *out)
{
  const uint64_t offset = b * v->block_size;
  struct bits w;
  uint64_t done = 0;
  int r = load_bits (v, b, pos, len, &w);

  while (r == 0 && done < len) {
    bool present;
    uint64_t n = run_length (v, &w, b, pos + done, pos + len, &present);
    r = present
      ? extent_add (out, offset + pos + done, n, EXTENT_DATA, v->d.filename)
      : parent_extents (v, offset + pos + done, n, out);
    done += n;
  }
  free (w.map);
  return r;
}

static int
block_extents (struct vhdx *v, uint64_t b, uint64_t pos, uint64_t len,
               struct extent_vector *out)
{
  const uint64_t e = payload (v, b), offset = b * v->block_size + pos;

  switch (state_of (e)) {
  case PAYLOAD_FULLY_PRESENT:
    return file_extents (v, offset_of (e) + pos, len, offset, out);
  case PAYLOAD_PARTIALLY_PRESENT:
    return partial_extents (v, b, pos, len, out);
  case PAYLOAD_NOT_PRESENT:
    if (v->parent)
      return parent_extents (v, offset, len, out);
    /* fall through */
  default:
    return extent_add (out, offset, len, EXTENT_ZERO, v->d.filename);
  }
}

static int
vhdx_extents (struct disk *d, uint64_t offset, uint64_t length,
              struct extent_vector *out)
{
  struct vhdx *v = (struct vhdx *) d;
  const uint64_t end = offset + length;
  const size_t start = out->len;

  while (offset < end && out->len - start < EXTENTS_PER_CALL) {
    const uint64_t b = offset / v->block_size, pos = offset % v->block_size;
    const uint64_t n = MIN (end - offset, v->block_size - pos);
    if (block_extents (v, b, pos, n, out) == -1)
      return -1;
    offset += n;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Opening. */

static void
vhdx_close (struct disk *d)
{
  struct vhdx *v = (struct vhdx *) d;

  if (v->map)
    munmap (v->map, v->file_size);
  if (v->fd >= 0)
    close (v->fd);
  free (v->bat);
  free (v->overlay);
  free (v->log);
  disk_close (v->parent);
}

static const struct disk_ops vhdx_ops = {
  .name = "vhdx",
  .pread = vhdx_pread,
  .pwrite = NULL,          /* sources are read-only */
  .extents = vhdx_extents,
  .flush = NULL,
  .close = vhdx_close,
  .map = vhdx_map,
};

const uint8_t *
vhdx_data_write_guid (const struct disk *d)
{
  return d && d->ops == &vhdx_ops ? ((const struct vhdx *) d)->data_write_guid
                                  : NULL;
}

bool
vhdx_probe (int fd, uint64_t file_size)
{
  uint8_t sig[8];

  return file_size >= sizeof sig && full_pread (fd, sig, sizeof sig, 0) == 0 &&
    memcmp (sig, "vhdxfile", 8) == 0;
}

/* Map a regular file for vhdx_map; only a hint, so failure is fine. */
static void
map_file (struct vhdx *v, const struct stat *st)
{
  void *p;

  if (!S_ISREG (st->st_mode) || v->file_size == 0 ||
      v->file_size > (uint64_t) SIZE_MAX)
    return;
  p = mmap (NULL, v->file_size, PROT_READ, MAP_SHARED, v->fd, 0);
  if (p != MAP_FAILED)
    v->map = p;
}

static int
setup (struct vhdx *v, struct vhdx_locator *loc)
{
  struct stat st;
  uint32_t sector;

  if (raw_file_size (v->fd, v->d.filename, &v->file_size, &sector) == -1 ||
      fstat (v->fd, &st) == -1)
    return -1;
  v->extended_size = v->file_size;
  v->seek_data = S_ISREG (st.st_mode) &&
    (lseek (v->fd, 0, SEEK_DATA) != -1 || errno == ENXIO);
  if (vhdx_read_headers (v) == -1 || vhdx_replay_log (v) == -1 ||
      vhdx_read_regions (v) == -1 || vhdx_read_metadata (v, loc) == -1 ||
      read_bat (v) == -1)
    return -1;
  if (v->has_parent && vhdx_open_parent (v, loc) == -1)
    return -1;
  map_file (v, &st);
  return 0;
}

struct disk *
vhdx_open (const char *filename, unsigned flags)
{
  struct vhdx *v = calloc (1, sizeof *v);
  struct vhdx_locator loc = { 0 };

  if (v == NULL || (v->d.filename = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    free (v);
    return NULL;
  }
  v->d.ops = &vhdx_ops;
  v->flags = flags;
  v->fd = open (filename, O_RDONLY | O_CLOEXEC);
  if (v->fd == -1)
    hv_error (HV_E_IO, "%s: %m", filename);
  if (v->fd == -1 || setup (v, &loc) == -1) {
    vhdx_locator_free (&loc);
    disk_close (&v->d);
    return NULL;
  }
  vhdx_locator_free (&loc);
  hv_debug ("%s: vhdx, %" PRIu64 " bytes in %" PRIu32 "-byte blocks, %"
            PRIu32 "-byte sectors, header %d%s%s", filename, v->d.size,
            v->block_size, v->d.sector_size, v->header,
            v->log ? ", log replayed" : "",
            v->parent ? ", differencing" : "");
  return &v->d;
}

/* Opening a VHD: find and verify the footer, the dynamic header and the
 * BAT, bounding every field by the file before it is used.  The same
 * code serves `vhd check`, which lists every problem instead of stopping
 * at the first (struct vhd_sink). */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#include "vhd-internal.h"

bool
vhd_problem (struct vhd_sink *s, enum hv_code code, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;

  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) == -1)
    msg = NULL;
  va_end (ap);
  if (s->list == NULL) {
    hv_error (code, "%s: %s", s->file, msg ? msg : "(out of memory)");
    free (msg);
    return false;
  }
  if (msg == NULL || string_vector_append (s->list, msg) == -1) {
    free (msg);
    hv_error (HV_E_NOMEM, "%s: listing problems: %m", s->file);
    return false;
  }
  return true;
}

/* A footer is valid when its cookie and checksum are. */
bool
vhd_footer_valid (const uint8_t buf[VHD_FOOTER_SIZE])
{
  return memcmp (buf, "conectix", 8) == 0 &&
    load_be32 (buf + 64) == vhd_checksum (buf, VHD_FOOTER_SIZE, 64);
}

static int
file_size_of (int fd, const struct stat *st, uint64_t *size)
{
  if (S_ISREG (st->st_mode)) {
    *size = st->st_size;
    return 0;
  }
  if (S_ISBLK (st->st_mode))
    return ioctl (fd, BLKGETSIZE64, size);
  errno = EINVAL;
  return -1;
}

bool
vhd_probe (int fd, uint64_t file_size)
{
  uint8_t buf[VHD_FOOTER_SIZE];
  struct vhd_footer f;

  if (file_size < VHD_FOOTER_SIZE)
    return false;
  /* The cookie, not the checksum, says "VHD": a damaged footer must
   * reach vhd_open and be reported, not be copied as raw data. */
  if (full_pread (fd, buf, sizeof buf, file_size - VHD_FOOTER_SIZE) == 0 &&
      memcmp (buf, "conectix", 8) == 0)
    return true;
  if (full_pread (fd, buf, sizeof buf, 0) == -1 ||
      memcmp (buf, "conectix", 8) != 0)
    return false;
  vhd_footer_decode (buf, &f);
  return f.disk_type == VHD_TYPE_DYNAMIC || f.disk_type == VHD_TYPE_DIFF;
}

/* Read the footer at the end; fall back to the copy at offset 0 that
 * dynamic and differencing disks carry (Virtual PC does the same). */
static int
read_footer (struct vhd *v, struct vhd_sink *sink)
{
  uint8_t end[VHD_FOOTER_SIZE], start[VHD_FOOTER_SIZE];
  const uint64_t at = v->file_size - VHD_FOOTER_SIZE;

  if (full_pread (v->fd, end, sizeof end, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the footer at offset %" PRIu64 ": %m",
              sink->file, at);
    return -1;
  }
  if (vhd_footer_valid (end)) {
    vhd_footer_decode (end, &v->footer);
    return 0;
  }
  if (full_pread (v->fd, start, sizeof start, 0) == 0 &&
      vhd_footer_valid (start)) {
    vhd_footer_decode (start, &v->footer);
    if (v->footer.disk_type == VHD_TYPE_DYNAMIC ||
        v->footer.disk_type == VHD_TYPE_DIFF) {
      if (sink->list)
        vhd_problem (sink, HV_E_CHECKSUM, "footer at offset %" PRIu64
                     " is damaged; the copy at offset 0 is valid", at);
      else
        hv_warning (HV_E_CHECKSUM, "%s: footer at offset %" PRIu64 " is "
                    "damaged; using the copy at offset 0", sink->file, at);
      return 0;
    }
  }
  if (memcmp (end, "conectix", 8) != 0)
    vhd_problem (sink, HV_E_FORMAT, "not a VHD: no \"conectix\" footer "
                 "cookie at offset %" PRIu64 " or 0", at);
  else
    vhd_problem (sink, HV_E_CHECKSUM, "footer checksum at offset %" PRIu64
                 " is 0x%08" PRIx32 ", computed 0x%08" PRIx32
                 ", and there is no valid copy at offset 0", at,
                 load_be32 (end + 64), vhd_checksum (end, sizeof end, 64));
  return -1;
}

static int
check_footer (struct vhd *v, struct vhd_sink *sink)
{
  const struct vhd_footer *f = &v->footer;
  bool ok = true;

  if (f->version >> 16 != 1)
    ok = vhd_problem (sink, HV_E_UNSUPPORTED, "footer: file format version "
                      "0x%08" PRIx32 " is not 1.x", f->version) && ok;
  if (f->disk_type != VHD_TYPE_FIXED && f->disk_type != VHD_TYPE_DYNAMIC &&
      f->disk_type != VHD_TYPE_DIFF) {
    vhd_problem (sink, HV_E_FORMAT, "footer: disk type %" PRIu32 " is not "
                 "fixed (2), dynamic (3) or differencing (4)", f->disk_type);
    return -1;
  }
  if (f->current_size % VHD_SECTOR != 0) {
    vhd_problem (sink, HV_E_FORMAT, "footer: current size %" PRIu64
                 " is not a multiple of 512", f->current_size);
    return -1;
  }
  if (f->current_size > VHD_MAX_SIZE) {
    vhd_problem (sink, HV_E_TOO_LARGE, "footer: current size %" PRIu64
                 " bytes is above the VHD limit of 2040 GiB",
                 f->current_size);
    return -1;
  }
  return ok ? 0 : -1;
}

static int
load_fixed (struct vhd *v, struct vhd_sink *sink)
{
  if (v->footer.current_size > v->file_size - VHD_FOOTER_SIZE) {
    vhd_problem (sink, HV_E_FORMAT, "truncated: a fixed VHD of %" PRIu64
                 " bytes needs a file of %" PRIu64 " bytes, this one has %"
                 PRIu64, v->footer.current_size,
                 v->footer.current_size + VHD_FOOTER_SIZE, v->file_size);
    return -1;
  }
  v->d.ops = &vhd_fixed_ops;
  return 0;
}

static int
read_header (struct vhd *v, struct vhd_sink *sink)
{
  uint8_t buf[VHD_HEADER_SIZE];
  const uint64_t at = v->footer.data_offset;
  uint64_t end;

  if (at < VHD_FOOTER_SIZE || at % VHD_SECTOR ||
      ckd_add (&end, at, (uint64_t) VHD_HEADER_SIZE) || end > v->file_size) {
    vhd_problem (sink, HV_E_FORMAT, "footer: data offset %" PRIu64 " does "
                 "not point to a dynamic header inside the file (%" PRIu64
                 " bytes)", at, v->file_size);
    return -1;
  }
  if (full_pread (v->fd, buf, sizeof buf, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the dynamic header at offset %" PRIu64
              ": %m", sink->file, at);
    return -1;
  }
  vhd_header_decode (buf, &v->header);
  if (memcmp (v->header.cookie, "cxsparse", 8) != 0) {
    vhd_problem (sink, HV_E_FORMAT, "no \"cxsparse\" dynamic header cookie "
                 "at offset %" PRIu64, at);
    return -1;
  }
  if (v->header.checksum != vhd_checksum (buf, sizeof buf, 36))
    return vhd_problem (sink, HV_E_CHECKSUM, "dynamic header checksum is "
                        "0x%08" PRIx32 ", computed 0x%08" PRIx32,
                        v->header.checksum,
                        vhd_checksum (buf, sizeof buf, 36)) ? 0 : -1;
  return 0;
}

static int
check_header (struct vhd *v, struct vhd_sink *sink)
{
  const struct vhd_header *h = &v->header;
  uint64_t needed;

  if (h->version >> 16 != 1)
    if (!vhd_problem (sink, HV_E_UNSUPPORTED, "dynamic header version "
                      "0x%08" PRIx32 " is not 1.x", h->version))
      return -1;
  if (!IS_POWER_OF_2 (h->block_size) || h->block_size < VHD_MIN_BLOCK ||
      h->block_size > VHD_MAX_BLOCK) {
    vhd_problem (sink, HV_E_FORMAT, "dynamic header: block size %" PRIu32
                 " is not a power of two from 512 bytes to 256 MiB",
                 h->block_size);
    return -1;
  }
  needed = DIV_ROUND_UP (v->footer.current_size, h->block_size);
  if (needed > h->max_table_entries) {
    vhd_problem (sink, HV_E_FORMAT, "dynamic header: max table entries %"
                 PRIu32 " is too small for %" PRIu64 " bytes in blocks of %"
                 PRIu32 " (needs %" PRIu64 ")", h->max_table_entries,
                 v->footer.current_size, h->block_size, needed);
    return -1;
  }
  v->nblocks = needed;
  v->block_size = h->block_size;
  v->bitmap_size = ROUND_UP (DIV_ROUND_UP (h->block_size / VHD_SECTOR, 8),
                             VHD_SECTOR);
  return 0;
}

static int
read_bat (struct vhd *v, struct vhd_sink *sink)
{
  const uint64_t at = v->header.table_offset;
  const size_t len = (size_t) v->nblocks * 4;
  uint64_t end;
  uint8_t *raw;

  if (at % VHD_SECTOR || ckd_add (&end, at, (uint64_t) len) ||
      end > v->file_size) {
    vhd_problem (sink, HV_E_FORMAT, "dynamic header: BAT at offset %" PRIu64
                 " with %" PRIu32 " entries does not fit in the file (%"
                 PRIu64 " bytes)", at, v->nblocks, v->file_size);
    return -1;
  }
  /* Bounded by the file size just checked, so never a huge allocation.
   * Read the big-endian table straight into it and convert in place:
   * entry i is loaded before it is stored, from the same 4 bytes. */
  v->bat = malloc (len ? len : 1);
  if (v->bat == NULL) {
    hv_error (HV_E_NOMEM, "%s: allocating a BAT of %zu bytes: %m",
              sink->file, len);
    return -1;
  }
  raw = (uint8_t *) v->bat;
  if (full_pread (v->fd, raw, len, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the BAT at offset %" PRIu64 ": %m",
              sink->file, at);
    return -1;
  }
  for (uint32_t i = 0; i < v->nblocks; i++)
    v->bat[i] = load_be32 (raw + 4 * i);
  return 0;
}

int
vhd_cmp_region (const void *a, const void *b)
{
  const struct vhd_region *x = a, *y = b;

  return x->start < y->start ? -1 : x->start > y->start;
}

/* The bytes a block occupies: its bitmap plus the data that maps into
 * the virtual disk (the last block may be partial). */
uint64_t
vhd_block_bytes (const struct vhd *v, uint32_t blk)
{
  uint64_t data = MIN ((uint64_t) v->block_size,
                       v->footer.current_size - (uint64_t) blk * v->block_size);
  return v->bitmap_size + data;
}

static const char *
describe (const struct vhd_region *r, char *buf, size_t len)
{
  if (r->blk == VHD_BAT_UNUSED)
    snprintf (buf, len, "metadata at offset %" PRIu64, r->start);
  else
    snprintf (buf, len, "block %" PRIu32 " at offset %" PRIu64, r->blk,
              r->start);
  return buf;
}

/* Footer copy, end footer, header, BAT and parent locator payloads.
 * Locators that point outside the file are reported by locator.c, not
 * here. */
size_t
vhd_metadata_regions (const struct vhd *v, struct vhd_region *r)
{
  size_t n = 0;

  r[n++] = (struct vhd_region) { 0, VHD_FOOTER_SIZE, VHD_BAT_UNUSED };
  /* The footer at the end: the next block is appended over it. */
  r[n++] = (struct vhd_region) { v->file_size - VHD_FOOTER_SIZE, v->file_size,
                             VHD_BAT_UNUSED };
  r[n++] = (struct vhd_region) { v->footer.data_offset,
                             v->footer.data_offset + VHD_HEADER_SIZE,
                             VHD_BAT_UNUSED };
  r[n++] = (struct vhd_region) { v->header.table_offset,
                             v->header.table_offset + 4ULL * v->nblocks,
                             VHD_BAT_UNUSED };
  if (v->footer.disk_type != VHD_TYPE_DIFF)
    return n;
  for (int i = 0; i < VHD_LOCATORS; i++) {
    const struct vhd_locator *l = &v->header.loc[i];
    uint64_t len = vhd_locator_space_bytes (l->data_space);
    if (l->code == VHD_PLAT_NONE || len == 0 ||
        l->data_offset > v->file_size || len > v->file_size - l->data_offset)
      continue;
    r[n++] = (struct vhd_region) { l->data_offset, l->data_offset + len,
                               VHD_BAT_UNUSED };
  }
  return n;
}

/* Every allocated block must lie inside the file, before the footer, and
 * overlap neither metadata nor another block: a crafted BAT could
 * otherwise make a write to one block destroy another. */
static int
check_blocks (struct vhd *v, struct vhd_sink *sink)
{
  const uint64_t limit = v->file_size - VHD_FOOTER_SIZE;
  struct vhd_region *r;
  size_t n;
  bool ok = true;

  r = malloc (((size_t) v->nblocks + 4 + VHD_LOCATORS) * sizeof *r);
  if (r == NULL) {
    hv_error (HV_E_NOMEM, "%s: checking the BAT: %m", sink->file);
    return -1;
  }
  n = vhd_metadata_regions (v, r);
  v->allocated = 0;
  for (uint32_t i = 0; i < v->nblocks && ok; i++) {
    uint64_t start = (uint64_t) v->bat[i] * VHD_SECTOR;
    if (v->bat[i] == VHD_BAT_UNUSED)
      continue;
    v->allocated++;
    if (start + vhd_block_bytes (v, i) > limit) {
      ok = vhd_problem (sink, HV_E_FORMAT, "BAT entry %" PRIu32 " points to "
                        "offset %" PRIu64 ", past the end of the data (%"
                        PRIu64 ")", i, start, limit);
      continue;
    }
    r[n++] = (struct vhd_region) { start, start + vhd_block_bytes (v, i), i };
  }
  qsort (r, n, sizeof *r, vhd_cmp_region);
  for (size_t i = 1; i < n && ok; i++) {
    char a[64], b[64];
    if (r[i].start >= r[i - 1].end)
      continue;
    ok = vhd_problem (sink, HV_E_FORMAT, "%s overlaps %s",
                      describe (&r[i], a, sizeof a),
                      describe (&r[i - 1], b, sizeof b));
  }
  free (r);
  return ok ? 0 : -1;
}

static int
load_sparse (struct vhd *v, unsigned flags, struct vhd_sink *sink, int depth,
             struct stat *chain)
{
  uint64_t end = 0;

  if (read_header (v, sink) == -1 || check_header (v, sink) == -1 ||
      read_bat (v, sink) == -1 || check_blocks (v, sink) == -1)
    return -1;
  for (uint32_t i = 0; i < v->nblocks; i++)
    if (v->bat[i] != VHD_BAT_UNUSED)
      end = MAX (end, (uint64_t) v->bat[i] * VHD_SECTOR + v->bitmap_size +
                 v->block_size);
  v->next_free = MAX (end, v->file_size - VHD_FOOTER_SIZE);
  v->bitmap_blk = VHD_BAT_UNUSED;
  v->bitmap = malloc (v->bitmap_size);
  if (v->bitmap == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", sink->file);
    return -1;
  }
  v->d.ops = &vhd_sparse_ops;
  if (v->footer.disk_type == VHD_TYPE_DIFF && !(flags & VHD_OPEN_NOPARENT))
    return vhd_open_parent (v, sink, depth, chain);
  return 0;
}

static struct vhd *
vhd_new (const char *filename, unsigned flags)
{
  struct vhd *v = calloc (1, sizeof *v);

  if (v == NULL)
    return NULL;
  v->fd = -1;
  v->d.filename = strdup (filename);
  v->path = strdup (filename);
  v->d.sector_size = VHD_SECTOR;
  v->d.writable = flags & VHD_OPEN_WRITE;
  v->no_sync = flags & VHD_OPEN_NOSYNC;
  pthread_mutex_init (&v->bitmap_lock, NULL);
  if (v->d.filename == NULL || v->path == NULL) {
    free (v->d.filename);
    free (v->path);
    free (v);
    return NULL;
  }
  return v;
}

/* Free what vhd_load allocated except the base fields, which disk_close
 * frees itself. */
static void
vhd_release (struct vhd *v)
{
  if (v->fd >= 0)
    close (v->fd);
  disk_close (v->parent);
  free (v->bat);
  free (v->bitmap);
  free (v->path);
  pthread_mutex_destroy (&v->bitmap_lock);
}

static void
vhd_free (struct vhd *v)
{
  vhd_release (v);
  free (v->d.filename);
  free (v);
}

static int
open_file (struct vhd *v, unsigned flags, struct vhd_sink *sink,
           struct stat *st)
{
  int mode = (flags & VHD_OPEN_WRITE) ? O_RDWR : O_RDONLY;

  v->fd = open (v->path, mode | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (v->fd == -1) {
    hv_error (HV_E_IO, "%s: %m", sink->file);
    return -1;
  }
  if (fstat (v->fd, st) == -1 || file_size_of (v->fd, st, &v->file_size)) {
    hv_error (HV_E_IO, "%s: not a regular file or block device (%m)",
              sink->file);
    return -1;
  }
  if (v->file_size < VHD_FOOTER_SIZE) {
    vhd_problem (sink, HV_E_FORMAT, "not a VHD: the file has %" PRIu64
                 " bytes, less than one 512-byte footer", v->file_size);
    return -1;
  }
  return 0;
}

struct vhd *
vhd_load (const char *filename, unsigned flags, struct vhd_sink *sink,
          int depth, struct stat *chain)
{
  struct vhd *v = vhd_new (filename, flags);
  struct stat st;
  int r;

  if (v == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    return NULL;
  }
  if (open_file (v, flags, sink, &st) == -1 || read_footer (v, sink) == -1 ||
      check_footer (v, sink) == -1)
    goto fail;
  v->d.size = v->footer.current_size;
  if (v->footer.disk_type == VHD_TYPE_FIXED)
    r = load_fixed (v, sink);
  else {
    /* Remember this file so a parent locator cannot lead back to it. */
    chain[depth] = st;
    r = load_sparse (v, flags, sink, depth, chain);
  }
  if (r == 0)
    return v;
 fail:
  vhd_free (v);
  return NULL;
}

struct disk *
vhd_open (const char *filename, unsigned flags)
{
  struct vhd_sink sink = { .file = filename };
  struct stat chain[VHD_MAX_CHAIN + 1];
  struct vhd *v = vhd_load (filename, flags, &sink, 0, chain);

  return v ? &v->d : NULL;
}

void
vhd_close_private (struct disk *d)
{
  struct vhd *v = (struct vhd *) d;

  if (d->writable)
    vhd_flush_metadata (v);
  vhd_release (v);
}

bool
vhd_is_vhd (const struct disk *d)
{
  return d && (d->ops == &vhd_fixed_ops || d->ops == &vhd_sparse_ops);
}

const struct vhd_footer *
vhd_disk_footer (const struct disk *d)
{
  return vhd_is_vhd (d) ? &((const struct vhd *) d)->footer : NULL;
}

const struct vhd_header *
vhd_disk_header (const struct disk *d)
{
  return d && d->ops == &vhd_sparse_ops ? &((const struct vhd *) d)->header
    : NULL;
}

struct disk *
vhd_disk_parent (const struct disk *d)
{
  return vhd_is_vhd (d) ? ((const struct vhd *) d)->parent : NULL;
}

uint32_t
vhd_disk_blocks_allocated (const struct disk *d)
{
  return vhd_is_vhd (d) ? ((const struct vhd *) d)->allocated : 0;
}

uint32_t
vhd_disk_blocks_total (const struct disk *d)
{
  return vhd_is_vhd (d) ? ((const struct vhd *) d)->nblocks : 0;
}

const char *
vhd_disk_path (const struct disk *d)
{
  return vhd_is_vhd (d) ? ((const struct vhd *) d)->path : NULL;
}

int
vhd_disk_sync_fd (const struct disk *d)
{
  const struct vhd *v = (const struct vhd *) d;

  return vhd_is_vhd (d) && !v->no_sync ? v->fd : -1;
}

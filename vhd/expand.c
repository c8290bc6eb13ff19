/* vhd expand: grow the virtual size, in place, never shrinking.
 *
 * Fixed disk (data, then the footer at the old size S0): three steps,
 * each leaving a valid VHD (a fixed VHD's data is the first current_size
 * bytes; what lies between them and the footer at the end is ignored):
 *   1. the old footer, unchanged, at the new end S1 (the file grows, the
 *      space between reads as zeros): still the old disk;
 *   2. zeros over the old footer at S0 (a hole punched where it can):
 *      still the old disk;
 *   3. the footer with the new size at S1: the new disk.
 * Run again after a crash between 1 and 3, it finds the file longer
 * than the disk and makes everything from S0 to the end read as zeros.
 *
 * Dynamic disk: the BAT needs ceil(S1 / block size) entries.
 *   1. If the longer BAT does not fit where the BAT is, the blocks in its
 *      way are copied to the end of the file (behind a new footer written
 *      first, after the longer BAT), and their BAT entries switched to
 *      the copies.  If metadata other than the footer at the end is in
 *      the way (a layout we do not write), the BAT moves to the end of
 *      the file instead.
 *   2. The new BAT is written (its new entries unallocated), then the
 *      header points at it (table offset and length in one sector):
 *      still the old disk, whose entries did not change.
 *   3. The footer at the end gets the new sizes and geometry (the new
 *      disk), then its copy at offset 0.  Between the two the copy lags
 *      behind in its size only; vhd check accepts that (readers that use
 *      the copy, such as QEMU, see the old disk until it is written), and
 *      running vhd expand again finishes it.
 * A barrier separates every step from the next.  Children of the disk
 * are the caller's business (vhd_find_children): expanding a parent
 * invalidates them.  Differencing disks are refused: their size follows
 * the parent's.
 */
#include <config.h>

#include <inttypes.h>

#include "vhd-internal.h"

struct grow {
  struct vhd *v;
  uint64_t size;            /* the new virtual size */
  uint32_t entries;         /* BAT entries it needs */
  uint32_t *bat;            /* the new BAT, ENTRIES long */
  uint64_t table_offset;    /* where the new BAT goes */
  uint8_t footer[VHD_FOOTER_SIZE];   /* raw, the old size */
};

/* ---------------------------------------------------------------- */
/* Fixed. */

static int
expand_fixed (struct grow *g)
{
  struct vhd *v = g->v;
  const uint64_t old = v->footer.current_size;
  const uint64_t footer_at = v->file_size - VHD_FOOTER_SIZE;
  /* What may not read as zeros in the new space: the old footer, and
   * whatever an interrupted expand left between it and the end. */
  const uint64_t dirty = MIN (g->size, footer_at + VHD_FOOTER_SIZE) - old;

  if (g->size > footer_at && vhd_set_end (v, g->footer, g->size) == -1)
    return -1;
  if (full_zero_range (v->fd, old, dirty) == -1) {
    hv_error (HV_E_IO, "%s: zeroing %" PRIu64 " bytes at offset %" PRIu64
              ": %m", v->d.filename, dirty, old);
    return -1;
  }
  if (vhd_barrier (v) == -1)
    return -1;
  vhd_footer_set_size (g->footer, g->size);
  return vhd_set_end (v, g->footer, g->size);
}

/* ---------------------------------------------------------------- */
/* Dynamic. */

/* Does [START, END) meet region R? */
static bool
overlaps (uint64_t start, uint64_t end, const struct vhd_region *r)
{
  return r->start < end && start < r->end;
}

/* Is metadata in [T0, T0 + LEN), other than the BAT itself and the
 * footer at the end (which can move)? */
static bool
metadata_in_way (struct vhd *v, uint64_t len)
{
  struct vhd_region r[VHD_MAX_METADATA_REGIONS];
  const uint64_t t0 = v->header.table_offset;
  size_t n = vhd_metadata_regions (v, r);

  for (size_t i = 0; i < n; i++)
    if (r[i].start != t0 && r[i].start != v->file_size - VHD_FOOTER_SIZE &&
        overlaps (t0, t0 + len, &r[i]))
      return true;
  return false;
}

struct moved {
  uint32_t blk;
  uint64_t to, len;
};

/* Plan the copies of the blocks in [T0, T0 + LEN) to the space behind
 * both the data and the longer BAT; returns the end of that space. */
static uint64_t
plan_moves (struct grow *g, uint64_t len, struct moved *m, size_t *n)
{
  struct vhd *v = g->v;
  const uint64_t t0 = v->header.table_offset;
  uint64_t cursor = MAX (v->next_free, t0 + len);

  /* Spans are taken now: the file grows later, which changes them. */
  *n = 0;
  for (uint32_t i = 0; i < v->nblocks; i++) {
    uint64_t start = (uint64_t) v->bat[i] * VHD_SECTOR;
    struct vhd_region b = { start, start + vhd_block_span (v, i), i };
    if (v->bat[i] == VHD_BAT_UNUSED || !overlaps (t0, t0 + len, &b))
      continue;
    cursor = vhd_align_block (v, cursor);
    m[(*n)++] = (struct moved) { i, cursor, b.end - b.start };
    cursor += b.end - b.start;
  }
  return ROUND_UP (cursor, VHD_SECTOR);
}

/* Copy the moved blocks, a barrier, switch their entries (in the old
 * BAT and in G->bat), a barrier. */
static int
move_blocks (struct grow *g, const struct moved *m, size_t n)
{
  struct vhd *v = g->v;

  for (size_t i = 0; i < n; i++)
    if (vhd_copy (v, (uint64_t) v->bat[m[i].blk] * VHD_SECTOR, m[i].to,
                  m[i].len) == -1)
      return -1;
  if (vhd_barrier (v) == -1)
    return -1;
  for (size_t i = 0; i < n; i++)
    v->bat[m[i].blk] = g->bat[m[i].blk] = m[i].to / VHD_SECTOR;
  hv_debug ("%s: moved %zu block%s out of the BAT's way", v->d.filename, n,
            n == 1 ? "" : "s");
  if (vhd_write_bat (v, v->bat, v->header.table_offset, 0, v->nblocks,
                     false) == -1)
    return -1;
  return vhd_barrier (v);
}

/* Make room for a BAT of LEN bytes where the BAT is: the blocks in the
 * way go behind it, and the footer too if the BAT reaches it. */
static int
grow_in_place (struct grow *g, uint64_t len)
{
  struct vhd *v = g->v;
  struct moved *m = malloc ((v->nblocks ? v->nblocks : 1) * sizeof *m);
  uint64_t end;
  size_t n;
  int r = -1;

  if (m == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  g->table_offset = v->header.table_offset;
  end = plan_moves (g, len, m, &n);
  if ((n == 0 && g->table_offset + len <= v->file_size - VHD_FOOTER_SIZE) ||
      vhd_set_end (v, g->footer, end) == 0)
    r = n ? move_blocks (g, m, n) : 0;
  free (m);
  return r;
}

/* Make room for the new BAT: where it is, or at the end of the file. */
static int
place_bat (struct grow *g)
{
  struct vhd *v = g->v;
  const uint64_t len = ROUND_UP (4ULL * g->entries, VHD_SECTOR);

  if (!metadata_in_way (v, len))
    return grow_in_place (g, len);
  g->table_offset = ROUND_UP (v->next_free, VHD_SECTOR);
  hv_debug ("%s: metadata follows the BAT: moving the BAT to offset %"
            PRIu64, v->d.filename, g->table_offset);
  return vhd_set_end (v, g->footer, g->table_offset + len);
}

static int
new_bat (struct grow *g)
{
  struct vhd *v = g->v;

  g->entries = DIV_ROUND_UP (g->size, v->block_size);
  if (4ULL * g->entries > VHD_MAX_BAT_BYTES) {
    hv_error (HV_E_TOO_LARGE, "%s: %" PRIu64 " bytes in blocks of %" PRIu32
              " bytes need a BAT of more than 16 MiB", v->d.filename,
              g->size, v->block_size);
    return -1;
  }
  g->bat = malloc (4ULL * g->entries);
  if (g->bat == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  /* Entries past the old size are unallocated, whatever a longer old
   * table held there: the new space must read as zeros. */
  for (uint32_t i = 0; i < g->entries; i++)
    g->bat[i] = i < v->nblocks ? v->bat[i] : VHD_BAT_UNUSED;
  return 0;
}

static int
expand_dynamic (struct grow *g)
{
  struct vhd *v = g->v;
  uint32_t entries;

  if (new_bat (g) == -1 || place_bat (g) == -1 ||
      vhd_write_bat (v, g->bat, g->table_offset, 0, g->entries, true) == -1 ||
      vhd_barrier (v) == -1)
    return -1;
  entries = MAX (g->entries, v->header.max_table_entries);
  if ((g->table_offset != v->header.table_offset ||
       entries != v->header.max_table_entries) &&
      vhd_commit_header (v, g->table_offset, entries) == -1)
    return -1;
  vhd_footer_set_size (g->footer, g->size);
  if (vhd_set_end (v, g->footer, v->file_size - VHD_FOOTER_SIZE) == -1 ||
      vhd_write (v, g->footer, VHD_FOOTER_SIZE, 0, "the footer copy") == -1)
    return -1;
  return vhd_barrier (v);
}

/* ---------------------------------------------------------------- */

/* The size is already SIZE: finish an interrupted expand whose footer
 * copy at 0 still has the old size. */
static int
same_size (struct grow *g)
{
  struct vhd *v = g->v;
  uint8_t copy[VHD_FOOTER_SIZE];

  if (v->footer.disk_type == VHD_TYPE_FIXED ||
      (full_pread (v->fd, copy, sizeof copy, 0) == 0 &&
       memcmp (copy, g->footer, sizeof copy) == 0))
    return 0;
  hv_debug ("%s: rewriting the footer copy at offset 0", v->d.filename);
  if (vhd_write (v, g->footer, VHD_FOOTER_SIZE, 0, "the footer copy") == -1)
    return -1;
  return vhd_barrier (v);
}

static int
refuse (struct vhd *v, uint64_t size)
{
  if (v->footer.disk_type == VHD_TYPE_DIFF) {
    hv_error (HV_E_UNSUPPORTED, "%s: a differencing disk has its parent's "
              "size; merge it or convert it to a standalone disk first",
              v->d.filename);
    return -1;
  }
  if (vhd_refuse_saved_state (v, "expanding it") == -1 ||
      vhd_check_size (v->d.filename, size) == -1)
    return -1;
  if (size < v->d.size) {
    hv_error (HV_E_UNSUPPORTED, "%s: %" PRIu64 " bytes is smaller than the "
              "disk (%" PRIu64 " bytes); vhd expand never shrinks a disk",
              v->d.filename, size, v->d.size);
    return -1;
  }
  return 0;
}

int
vhd_expand (const char *filename, uint64_t size)
{
  struct disk *d = vhd_open (filename, VHD_OPEN_WRITE | VHD_OPEN_NOPARENT);
  struct grow g = { .size = size };
  int r = -1;

  if (d == NULL)
    return -1;
  g.v = (struct vhd *) d;
  if (refuse (g.v, size) == 0 && vhd_lock_fd (g.v->fd, filename) == 0 &&
      vhd_raw_footer (g.v, g.footer) == 0) {
    if (size == d->size)
      r = same_size (&g);
    else if (g.v->footer.disk_type == VHD_TYPE_FIXED)
      r = expand_fixed (&g);
    else
      r = expand_dynamic (&g);
  }
  free (g.bat);
  disk_close (d);
  return r;
}

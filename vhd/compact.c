/* vhd compact: give back the space of blocks that hold nothing.
 *
 * Which blocks go:
 * - dynamic disk: a block whose data is all zeros.  Unallocated, it
 *   reads as zeros too, so the content does not change.
 * - differencing disk: a block whose sector bitmap is empty.  Every
 *   sector of it reads from the parent whether it is allocated or not.
 *   A block whose bitmap marks sectors present is kept even if their
 *   data is zeros: those zeros hide the parent's data, and dropping the
 *   block would bring the parent's data back.  (Clearing such sectors'
 *   bits is not compaction either, for the same reason.)
 *
 * How, in place and crash-safe (ordered.c): the BAT entries of the
 * dropped blocks are cleared first (a barrier); then the blocks nearest
 * the end of the file are copied down into the free space (dropped
 * blocks, and space no entry points to, such as the old copies left by
 * an interrupted merge), a barrier, their BAT entries switched to the
 * copies, a barrier; then the footer is written at the new end and the
 * file truncated after it.  The content is the same at every step, so a
 * crash anywhere leaves a valid VHD with the same content, only less
 * compact.  Nothing but data that moves is written: a copy of the whole
 * disk into a temporary would write every block and need as much free
 * space again.  The disk keeps its identity (UUID, creator, timestamps,
 * parent fields and locators) because only the BAT and the file length
 * change.
 *
 * Fixed disks are refused, as Hyper-V does (their file is the disk), and
 * so are disks whose saved-state flag is set (a saved virtual machine
 * expects its disk unchanged).
 */
#include <config.h>

#include <inttypes.h>

#include "vhd-internal.h"

#define PROBE_FIRST (64 * KiB)    /* most data blocks show data early */
#define PROBE_MAX   (1 * MiB)

struct move {
  uint32_t blk;
  uint64_t from, to, len;
};

struct plan {
  struct vhd *v;
  uint32_t *live;           /* allocated blocks kept, by file offset */
  uint32_t nlive;
  struct vhd_region *gaps;  /* free space, ascending */
  size_t ngaps;
  struct move *moves;
  size_t nmoves;
  uint64_t end;             /* where the footer goes */
};

int
vhd_refuse_saved_state (struct vhd *v, const char *what)
{
  if (!v->footer.saved_state)
    return 0;
  hv_error (HV_E_UNSUPPORTED, "%s: the saved-state flag is set (a virtual "
            "machine was saved with this disk attached); %s would change "
            "what it expects: discard or restore the saved state first",
            v->d.filename, what);
  return -1;
}

/* Is every in-disk sector of differencing block BLK absent? */
static int
bitmap_empty (struct vhd *v, uint32_t blk, bool *empty)
{
  const uint64_t at = (uint64_t) v->bat[blk] * VHD_SECTOR;
  uint32_t sectors = (vhd_block_bytes (v, blk) - v->bitmap_size) / VHD_SECTOR;

  if (full_pread (v->fd, v->bitmap, v->bitmap_size, at) == -1) {
    hv_error (HV_E_IO, "%s: reading the bitmap of block %" PRIu32 ": %m",
              v->d.filename, blk);
    return -1;
  }
  v->bitmap_blk = VHD_BAT_UNUSED;
  *empty = true;
  for (uint32_t s = 0; s < sectors && *empty; s++)
    *empty = !(v->bitmap[s >> 3] & (0x80 >> (s & 7)));
  return 0;
}

/* Does dynamic block BLK hold only zeros?  Reads until the first
 * non-zero piece, so a block of data costs one small read. */
static int
data_zero (struct vhd *v, uint32_t blk, uint8_t *buf, bool *zero)
{
  const uint64_t at = (uint64_t) v->bat[blk] * VHD_SECTOR + v->bitmap_size;
  const uint64_t len = vhd_block_bytes (v, blk) - v->bitmap_size;
  uint64_t done = 0;

  *zero = true;
  while (done < len && *zero) {
    size_t n = MIN (len - done, done ? PROBE_MAX : PROBE_FIRST);
    if (full_pread (v->fd, buf, n, at + done) == -1) {
      hv_error (HV_E_IO, "%s: reading block %" PRIu32 ": %m",
                v->d.filename, blk);
      return -1;
    }
    *zero = is_zero (buf, n);
    done += n;
  }
  return 0;
}

static int
cmp_by_offset (const void *a, const void *b, void *bat)
{
  uint32_t x = ((const uint32_t *) bat)[*(const uint32_t *) a];
  uint32_t y = ((const uint32_t *) bat)[*(const uint32_t *) b];

  return x < y ? -1 : x > y;
}

/* The allocated blocks in file order (reads go forward through the
 * file). */
static uint32_t *
blocks_by_offset (struct vhd *v, uint32_t *n)
{
  uint32_t *list = malloc ((v->allocated ? v->allocated : 1) * sizeof *list);

  *n = 0;
  if (list == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return NULL;
  }
  for (uint32_t i = 0; i < v->nblocks && *n < v->allocated; i++)
    if (v->bat[i] != VHD_BAT_UNUSED)
      list[(*n)++] = i;
  qsort_r (list, *n, sizeof *list, cmp_by_offset, v->bat);
  return list;
}

/* Find the blocks to drop, keep the others in P->live.  Returns the
 * number dropped or -1. */
static int64_t
find_empty_blocks (struct plan *p, uint32_t *order, uint32_t n)
{
  struct vhd *v = p->v;
  uint8_t *buf = malloc (PROBE_MAX);
  int64_t dropped = 0;
  bool empty = false;

  if (buf == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    int r = hv_check_interrupted ();
    if (r == 0)
      r = v->footer.disk_type == VHD_TYPE_DIFF
        ? bitmap_empty (v, order[i], &empty)
        : data_zero (v, order[i], buf, &empty);
    if (r == -1) {
      dropped = -1;
      break;
    }
    if (empty)
      dropped++;
    else
      p->live[p->nlive++] = order[i];
  }
  free (buf);
  return dropped;
}

/* Clear the BAT entries of the blocks not in P->live, then a barrier:
 * from here on their space is free. */
static int
drop_blocks (struct plan *p)
{
  struct vhd *v = p->v;
  bool *keep = calloc (v->nblocks ? v->nblocks : 1, sizeof *keep);

  if (keep == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  for (uint32_t i = 0; i < p->nlive; i++)
    keep[p->live[i]] = true;
  for (uint32_t i = 0; i < v->nblocks; i++)
    if (!keep[i])
      v->bat[i] = VHD_BAT_UNUSED;
  free (keep);
  v->allocated = p->nlive;
  if (vhd_write_bat (v, v->bat, v->header.table_offset, 0, v->nblocks,
                     false) == -1)
    return -1;
  return vhd_barrier (v);
}

/* Everything that stays where it is: metadata (not the footer at the
 * end, which moves) and the kept blocks; sorted.  The BAT counts with
 * all its max_table_entries, which some readers scan. */
static struct vhd_region *
used_regions (struct plan *p, size_t *n)
{
  struct vhd *v = p->v;
  struct vhd_region *r = malloc ((p->nlive + VHD_MAX_METADATA_REGIONS + 1) *
                                 sizeof *r);
  uint64_t bat_len = ROUND_UP (4ULL * MAX (v->nblocks,
                                           v->header.max_table_entries),
                               VHD_SECTOR);
  size_t m;

  if (r == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return NULL;
  }
  m = vhd_metadata_regions (v, r);
  *n = 0;
  for (size_t i = 0; i < m; i++)
    if (r[i].start != v->file_size - VHD_FOOTER_SIZE)
      r[(*n)++] = r[i];
  r[(*n)++] = (struct vhd_region) {
    v->header.table_offset, v->header.table_offset + bat_len, VHD_BAT_UNUSED
  };
  for (uint32_t i = 0; i < p->nlive; i++) {
    uint64_t start = (uint64_t) v->bat[p->live[i]] * VHD_SECTOR;
    r[(*n)++] = (struct vhd_region) {
      start, start + vhd_block_span (v, p->live[i]), p->live[i]
    };
  }
  qsort (r, *n, sizeof *r, vhd_cmp_region);
  return r;
}

/* The free space between used regions, sector-aligned. */
static int
find_gaps (struct plan *p)
{
  struct vhd_region *r;
  size_t n;
  uint64_t end = 0;

  r = used_regions (p, &n);
  if (r == NULL)
    return -1;
  p->gaps = malloc ((n + 1) * sizeof *p->gaps);
  if (p->gaps == NULL) {
    free (r);
    hv_error (HV_E_NOMEM, "%s: %m", p->v->d.filename);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t start = ROUND_UP (end, VHD_SECTOR);
    if (r[i].start > start)
      p->gaps[p->ngaps++] = (struct vhd_region) { start, r[i].start, 0 };
    end = MAX (end, r[i].end);
  }
  free (r);
  return 0;
}

/* Where in gap G a block of LEN bytes goes: data 4 KiB-aligned if that
 * fits, else at the gap's start; UINT64_MAX if it does not fit. */
static uint64_t
place_in_gap (const struct vhd *v, const struct vhd_region *g, uint64_t len)
{
  uint64_t at = vhd_align_block (v, g->start);

  if (at + len <= g->end)
    return at;
  return g->start + len <= g->end ? g->start : UINT64_MAX;
}

/* Move the last blocks of the file into the first gaps, while a gap
 * below a block can take it. */
static int
plan_moves (struct plan *p)
{
  struct vhd *v = p->v;
  size_t gi = 0;

  p->moves = malloc ((p->nlive ? p->nlive : 1) * sizeof *p->moves);
  if (p->moves == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  for (uint32_t i = p->nlive; i-- > 0; ) {
    uint32_t blk = p->live[i];
    uint64_t from = (uint64_t) v->bat[blk] * VHD_SECTOR;
    uint64_t len = vhd_block_span (v, blk), to = UINT64_MAX;
    /* Blocks have one size, so a gap too small for this one is too
     * small for every other: skip it for good. */
    while (gi < p->ngaps && p->gaps[gi].end <= from &&
           (to = place_in_gap (v, &p->gaps[gi], len)) == UINT64_MAX)
      gi++;
    if (gi == p->ngaps || p->gaps[gi].end > from)
      break;
    p->gaps[gi].start = to + len;
    p->moves[p->nmoves++] = (struct move) { blk, from, to, len };
  }
  return 0;
}

/* The used space ends after the last block that stays and the metadata;
 * blocks moved down no longer count where they were. */
static void
compute_end (struct plan *p)
{
  struct vhd *v = p->v;
  uint64_t end = 0;
  size_t m = 0;
  struct vhd_region r[VHD_MAX_METADATA_REGIONS];
  uint64_t bat_len = ROUND_UP (4ULL * MAX (v->nblocks,
                                           v->header.max_table_entries),
                               VHD_SECTOR);

  m = vhd_metadata_regions (v, r);
  for (size_t i = 0; i < m; i++)
    if (r[i].start != v->file_size - VHD_FOOTER_SIZE)
      end = MAX (end, r[i].end);
  end = MAX (end, v->header.table_offset + bat_len);
  for (uint32_t i = 0; i < p->nlive; i++) {
    uint32_t blk = p->live[i];
    end = MAX (end, (uint64_t) v->bat[blk] * VHD_SECTOR +
               vhd_block_span (v, blk));
  }
  p->end = ROUND_UP (end, VHD_SECTOR);
}

/* Copy the blocks, a barrier, switch their BAT entries, a barrier. */
static int
do_moves (struct plan *p)
{
  struct vhd *v = p->v;

  if (p->nmoves == 0)
    return 0;
  for (size_t i = 0; i < p->nmoves; i++)
    if (hv_check_interrupted () == -1 ||
        vhd_copy (v, p->moves[i].from, p->moves[i].to, p->moves[i].len) == -1)
      return -1;
  if (vhd_barrier (v) == -1)
    return -1;
  for (size_t i = 0; i < p->nmoves; i++)
    v->bat[p->moves[i].blk] = p->moves[i].to / VHD_SECTOR;
  if (vhd_write_bat (v, v->bat, v->header.table_offset, 0, v->nblocks,
                     false) == -1)
    return -1;
  return vhd_barrier (v);
}

static int
shrink (struct plan *p)
{
  struct vhd *v = p->v;
  uint8_t footer[VHD_FOOTER_SIZE];

  compute_end (p);
  if (p->end + VHD_FOOTER_SIZE >= v->file_size)
    return 0;
  if (vhd_raw_footer (v, footer) == -1)
    return -1;
  return vhd_set_end (v, footer, p->end);
}

static int
refuse (struct vhd *v)
{
  if (v->footer.disk_type == VHD_TYPE_FIXED) {
    hv_error (HV_E_UNSUPPORTED, "%s: a fixed VHD cannot be compacted (its "
              "file is the whole disk, as Hyper-V says too); convert it to "
              "a dynamic VHD with 'hvconvert vhd convert --type dynamic'",
              v->d.filename);
    return -1;
  }
  return vhd_refuse_saved_state (v, "compacting it");
}

static int
compact (struct plan *p, struct vhd_compact_stats *st)
{
  struct vhd *v = p->v;
  uint32_t *order, n;
  int64_t dropped;
  int r = -1;

  order = blocks_by_offset (v, &n);
  p->live = malloc ((n ? n : 1) * sizeof *p->live);
  if (order == NULL || p->live == NULL) {
    free (order);
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  st->blocks_before = n;
  dropped = find_empty_blocks (p, order, n);
  free (order);
  if (dropped == -1 || (dropped > 0 && drop_blocks (p) == -1) ||
      find_gaps (p) == -1 || plan_moves (p) == -1 || do_moves (p) == -1 ||
      shrink (p) == -1)
    goto out;
  st->dropped = dropped;
  st->moved = p->nmoves;
  r = 0;
 out:
  st->size_after = v->file_size;
  return r;
}

int
vhd_compact (const char *filename, struct vhd_compact_stats *st)
{
  struct disk *d = vhd_open (filename, VHD_OPEN_WRITE | VHD_OPEN_NOPARENT);
  struct plan p = { 0 };
  int r = -1;

  *st = (struct vhd_compact_stats) { 0 };
  if (d == NULL)
    return -1;
  p.v = (struct vhd *) d;
  st->size_before = st->size_after = p.v->file_size;
  if (refuse (p.v) == 0 && vhd_lock_fd (p.v->fd, filename) == 0)
    r = compact (&p, st);
  free (p.live);
  free (p.gaps);
  free (p.moves);
  disk_close (d);
  return r;
}

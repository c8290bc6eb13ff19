/* vhd merge: fold a differencing disk into its parent, in place.
 *
 * Dynamic or differencing parent, copy-on-write, so that the parent's
 * content switches from old to new in one sector write:
 *   1. the footer, unchanged, at the end of the space needed (a barrier);
 *   2. every parent block the child touches is written anew into that
 *      space: the parent's block (if any) with the child's present
 *      sectors laid over it, its bitmap the union of both (a dynamic
 *      parent's: all set, as its unwritten sectors hold zeros); then a
 *      copy of the BAT pointing at the new blocks (a barrier).  Nothing
 *      points at any of it yet, and no existing block was overwritten;
 *   3. the header's table offset is switched to the new BAT (one sector;
 *      a barrier): the parent now holds the merged content;
 *   4. the new BAT is copied over the old one, which nothing points to
 *      now, and the header switched back to it (barriers), so the BAT
 *      stays where readers and later writers expect it.
 * A crash at any point leaves the old content or the new.  The blocks
 * the merge replaced stay in the file, unreferenced, until vhd compact
 * gives their space back.  The child and its parent together read the
 * same at every point, so deleting the child (the caller's last step) is
 * what commits the merge for the user.
 *
 * Fixed parent: there is no table to switch, so the child's present
 * sectors are written over the parent's data in place.  A crash leaves
 * the parent with some blocks merged and others not; the chain still
 * reads the merged content (the child covers every sector written), and
 * merging again finishes the job.
 *
 * Child and parent may have different block sizes (Hyper-V makes 512 KiB
 * differencing children of 2 MiB parents): the work goes by parent block,
 * gathering the child sectors that fall in it.
 */
#include <config.h>

#include <inttypes.h>
#include <sys/stat.h>

#include "vhd-internal.h"

struct merge {
  struct vhd *c, *p;          /* child (read-only), parent (read-write) */
  uint8_t *cbitmap;           /* the child's bitmap of block cblk */
  uint32_t cblk;
  uint8_t *pblock;            /* a parent block: bitmap, then data */
  uint8_t *cdata;             /* child data over one parent block */
  uint8_t *mask;              /* the child sectors present in it */
  bool *touched;              /* parent blocks the child changes */
  uint32_t *bat;              /* the parent's new BAT */
  struct vhd_merge_stats *st;
};

static bool
bit (const uint8_t *bm, uint64_t i)
{
  return bm[i >> 3] & (0x80 >> (i & 7));
}

static void
set_bit (uint8_t *bm, uint64_t i)
{
  bm[i >> 3] |= 0x80 >> (i & 7);
}

static int
child_bitmap (struct merge *m, uint32_t blk)
{
  struct vhd *c = m->c;

  if (m->cblk == blk)
    return 0;
  m->cblk = VHD_BAT_UNUSED;
  if (full_pread (c->fd, m->cbitmap, c->bitmap_size,
                  (uint64_t) c->bat[blk] * VHD_SECTOR) == -1) {
    hv_error (HV_E_IO, "%s: reading the bitmap of block %" PRIu32 ": %m",
              c->d.filename, blk);
    return -1;
  }
  m->cblk = blk;
  return 0;
}

/* Mark the parent blocks that child block BLK has present sectors in. */
static int
mark_touched (struct merge *m, uint32_t blk)
{
  const uint64_t base = (uint64_t) blk * m->c->block_size;
  const uint64_t sectors = (vhd_block_bytes (m->c, blk) - m->c->bitmap_size)
                           / VHD_SECTOR;

  if (child_bitmap (m, blk) == -1)
    return -1;
  for (uint64_t s = 0; s < sectors; s++) {
    if ((s & 7) == 0 && m->cbitmap[s >> 3] == 0) {
      s += 7;               /* a whole byte of absent sectors */
      continue;
    }
    if (bit (m->cbitmap, s))
      m->touched[(base + s * VHD_SECTOR) / m->p->block_size] = true;
  }
  return 0;
}

/* Gather the child's present sectors in [START, END) (inside one child
 * block) into m->cdata and m->mask, relative to VS. */
static int
gather_run (struct merge *m, uint64_t vs, uint64_t start, uint64_t end)
{
  struct vhd *c = m->c;
  const uint32_t blk = start / c->block_size;
  const uint64_t in_blk = start % c->block_size;
  const uint64_t at = (uint64_t) c->bat[blk] * VHD_SECTOR + c->bitmap_size +
                      in_blk;

  if (c->bat[blk] == VHD_BAT_UNUSED)
    return 0;
  if (child_bitmap (m, blk) == -1)
    return -1;
  if (full_pread (c->fd, m->cdata + (start - vs), end - start, at) == -1) {
    hv_error (HV_E_IO, "%s: reading block %" PRIu32 ": %m", c->d.filename,
              blk);
    return -1;
  }
  for (uint64_t off = start; off < end; off += VHD_SECTOR)
    if (bit (m->cbitmap, (off % c->block_size) / VHD_SECTOR)) {
      set_bit (m->mask, (off - vs) / VHD_SECTOR);
      m->st->bytes += VHD_SECTOR;
    }
  return 0;
}

/* The child's sectors in [VS, VE); *FULL if every one is present. */
static int
gather (struct merge *m, uint64_t vs, uint64_t ve, bool *full)
{
  const uint64_t cbs = m->c->block_size;

  memset (m->mask, 0, m->p->bitmap_size);
  for (uint64_t pos = vs; pos < ve; ) {
    uint64_t end = MIN (ve, (pos / cbs + 1) * cbs);
    if (gather_run (m, vs, pos, end) == -1)
      return -1;
    pos = end;
  }
  *full = true;
  for (uint64_t s = 0; s < (ve - vs) / VHD_SECTOR && *full; s++)
    *full = bit (m->mask, s);
  return 0;
}

/* Build parent block BLK merged with the child in m->pblock. */
static int
build_block (struct merge *m, uint32_t blk)
{
  struct vhd *p = m->p;
  const uint64_t vs = (uint64_t) blk * p->block_size;
  const uint64_t ve = MIN (vs + p->block_size, p->d.size);
  uint8_t *data = m->pblock + p->bitmap_size;
  bool full;

  if (gather (m, vs, ve, &full) == -1)
    return -1;
  memset (m->pblock, 0, (size_t) p->bitmap_size + p->block_size);
  if (p->bat[blk] != VHD_BAT_UNUSED && !full &&
      full_pread (p->fd, m->pblock, vhd_block_span (p, blk),
                  (uint64_t) p->bat[blk] * VHD_SECTOR) == -1) {
    hv_error (HV_E_IO, "%s: reading block %" PRIu32 ": %m", p->d.filename,
              blk);
    return -1;
  }
  for (uint64_t s = 0; s < (ve - vs) / VHD_SECTOR; s++)
    if (bit (m->mask, s)) {
      memcpy (data + s * VHD_SECTOR, m->cdata + s * VHD_SECTOR, VHD_SECTOR);
      set_bit (m->pblock, s);
    }
  /* A dynamic disk's bitmap says "written", and every sector of the new
   * block is (the others hold zeros): all bits set, as every writer of
   * dynamic disks does. */
  if (p->footer.disk_type == VHD_TYPE_DYNAMIC)
    memset (m->pblock, 0xFF, p->bitmap_size);
  return 0;
}

/* Steps 1-2: the merged blocks and a BAT for them in new space; returns
 * the new BAT's offset in *TABLE. */
static int
write_new_blocks (struct merge *m, uint64_t *table)
{
  struct vhd *p = m->p;
  const uint64_t span = (uint64_t) p->bitmap_size + p->block_size;
  uint64_t cursor = p->next_free;
  uint8_t footer[VHD_FOOTER_SIZE];

  for (uint32_t i = 0; i < p->nblocks; i++)
    if (m->touched[i]) {
      cursor = vhd_align_block (p, cursor);
      m->bat[i] = cursor / VHD_SECTOR;
      cursor += span;
      m->st->blocks++;
    }
  *table = ROUND_UP (cursor, VHD_SECTOR);
  if (vhd_raw_footer (p, footer) == -1 ||
      vhd_set_end (p, footer, *table + ROUND_UP (4ULL * p->nblocks,
                                                 VHD_SECTOR)) == -1)
    return -1;
  for (uint32_t i = 0; i < p->nblocks; i++)
    if (m->touched[i] &&
        (hv_check_interrupted () == -1 || build_block (m, i) == -1 ||
         vhd_write (p, m->pblock, span, (uint64_t) m->bat[i] * VHD_SECTOR,
                    "a merged block") == -1))
      return -1;
  if (vhd_write_bat (p, m->bat, *table, 0, p->nblocks, true) == -1)
    return -1;
  return vhd_barrier (p);
}

static int
merge_sparse (struct merge *m)
{
  struct vhd *p = m->p, *c = m->c;
  const uint64_t t0 = p->header.table_offset;
  const uint32_t entries = p->header.max_table_entries;
  uint64_t table;

  for (uint32_t i = 0; i < c->nblocks; i++)
    if (c->bat[i] != VHD_BAT_UNUSED && mark_touched (m, i) == -1)
      return -1;
  memcpy (m->bat, p->bat, 4ULL * p->nblocks);
  if (write_new_blocks (m, &table) == -1 ||
      vhd_commit_header (p, table, entries) == -1)
    return -1;
  /* Merged.  Now put the BAT back where it was. */
  if (vhd_write_bat (p, m->bat, t0, 0, p->nblocks, false) == -1 ||
      vhd_barrier (p) == -1)
    return -1;
  return vhd_commit_header (p, t0, entries);
}

/* Fixed parent: the child's present runs written over its data. */
static int
merge_fixed_block (struct merge *m, uint32_t blk)
{
  struct vhd *c = m->c;
  const uint64_t vs = (uint64_t) blk * c->block_size;
  const uint64_t ve = MIN (vs + c->block_size, c->d.size);
  uint64_t s = 0, n = (ve - vs) / VHD_SECTOR;

  if (gather (m, vs, ve, &(bool) { false }) == -1)
    return -1;
  while (s < n) {
    uint64_t e = s;
    if (!bit (m->mask, s)) {
      s++;
      continue;
    }
    while (e < n && bit (m->mask, e))
      e++;
    if (vhd_write (m->p, m->cdata + s * VHD_SECTOR, (e - s) * VHD_SECTOR,
                   vs + s * VHD_SECTOR, "merged data") == -1)
      return -1;
    s = e;
  }
  m->st->blocks++;
  return 0;
}

static int
merge_fixed (struct merge *m)
{
  for (uint32_t i = 0; i < m->c->nblocks; i++)
    if (m->c->bat[i] != VHD_BAT_UNUSED &&
        (hv_check_interrupted () == -1 || merge_fixed_block (m, i) == -1))
      return -1;
  return vhd_barrier (m->p);
}

/* ---------------------------------------------------------------- */
/* Opening the pair. */

/* The path of CHILD's parent, found through its locators and checked by
 * UUID as every open does; and PARENT, if given, must be that file. */
static char *
find_parent (const char *child, const char *parent)
{
  struct disk *chain = vhd_open (child, 0);
  struct stat a, b;
  char *path = NULL;

  if (chain == NULL)
    return NULL;
  if (vhd_disk_footer (chain)->disk_type != VHD_TYPE_DIFF)
    hv_error (HV_E_UNSUPPORTED, "%s: not a differencing disk: there is "
              "nothing to merge", child);
  else if (parent && (stat (parent, &a) == -1 ||
                      stat (vhd_disk_path (vhd_disk_parent (chain)), &b) == -1
                      || a.st_dev != b.st_dev || a.st_ino != b.st_ino))
    hv_error (HV_E_PARENT, "%s: its parent is %s, not %s", child,
              vhd_disk_path (vhd_disk_parent (chain)), parent);
  else if ((path = strdup (vhd_disk_path (vhd_disk_parent (chain)))) == NULL)
    hv_error (HV_E_NOMEM, "%s: %m", child);
  disk_close (chain);
  return path;
}

static int
check_pair (struct vhd *c, struct vhd *p)
{
  if (memcmp (c->header.parent_uuid, p->footer.uuid, 16) != 0) {
    hv_error (HV_E_PARENT, "%s: the parent changed while being opened",
              p->d.filename);
    return -1;
  }
  if (c->d.size != p->d.size) {
    hv_error (HV_E_UNSUPPORTED, "%s has %" PRIu64 " bytes and its parent %s "
              "%" PRIu64 ": merge into a parent of another size is not "
              "supported; write the chain to a new disk with --output",
              c->d.filename, c->d.size, p->d.filename, p->d.size);
    return -1;
  }
  if (vhd_refuse_saved_state (c, "merging it") == -1 ||
      vhd_refuse_saved_state (p, "merging into it") == -1)
    return -1;
  return vhd_lock_fd (p->fd, p->d.filename);
}

static int
alloc_buffers (struct merge *m)
{
  const size_t pbs = m->p->block_size;
  const size_t bitmap = ROUND_UP (DIV_ROUND_UP (pbs / VHD_SECTOR, 8),
                                  VHD_SECTOR);
  const uint32_t n = m->p->nblocks ? m->p->nblocks : 1;

  m->cblk = VHD_BAT_UNUSED;
  m->cbitmap = malloc (m->c->bitmap_size);
  m->pblock = malloc (bitmap + pbs);
  m->cdata = malloc (pbs);
  m->mask = malloc (bitmap);
  m->touched = calloc (n, sizeof *m->touched);
  m->bat = malloc (n * sizeof *m->bat);
  if (!m->cbitmap || !m->pblock || !m->cdata || !m->mask || !m->touched ||
      !m->bat) {
    hv_error (HV_E_NOMEM, "%s: merge buffers: %m", m->c->d.filename);
    return -1;
  }
  return 0;
}

static void
free_buffers (struct merge *m)
{
  free (m->cbitmap);
  free (m->pblock);
  free (m->cdata);
  free (m->mask);
  free (m->touched);
  free (m->bat);
}

int
vhd_merge (const char *child, const char *parent, char **parent_out,
           struct vhd_merge_stats *st)
{
  char *ppath = find_parent (child, parent);
  struct disk *c = NULL, *p = NULL;
  struct merge m = { .st = st };
  int r = -1;

  *st = (struct vhd_merge_stats) { 0 };
  if (ppath == NULL ||
      (c = vhd_open (child, VHD_OPEN_NOPARENT)) == NULL ||
      (p = vhd_open (ppath, VHD_OPEN_WRITE | VHD_OPEN_NOPARENT)) == NULL)
    goto out;
  m.c = (struct vhd *) c;
  m.p = (struct vhd *) p;
  if (check_pair (m.c, m.p) == -1)
    goto out;
  /* A fixed parent's "blocks" are the child's, for gather(). */
  if (m.p->footer.disk_type == VHD_TYPE_FIXED) {
    m.p->block_size = m.c->block_size;
    m.p->bitmap_size = m.c->bitmap_size;
  }
  if (alloc_buffers (&m) == 0)
    r = m.p->footer.disk_type == VHD_TYPE_FIXED ? merge_fixed (&m)
      : merge_sparse (&m);
 out:
  free_buffers (&m);
  disk_close (c);
  disk_close (p);
  if (r == 0 && parent_out)
    *parent_out = ppath;
  else
    free (ppath);
  return r;
}

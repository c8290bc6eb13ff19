/* VMware VMDK disks: the extents a descriptor lists, concatenated in
 * order, and the parent chain of delta disks.
 *
 * The file the user names is either a text descriptor (monolithicFlat,
 * twoGbMaxExtent*, vmfs, or a delta of them) or a KDMV sparse file with
 * the descriptor embedded (monolithicSparse, streamOptimized, or a delta
 * of them).  As in qemu and VMware, a KDMV file is its own single extent
 * whatever the extent line of its embedded descriptor names, so a
 * renamed file still opens.
 *
 *   extent type       read as
 *   FLAT, VMFS        a raw file from a start sector (holes are zero)
 *   SPARSE            grain tables (vmdk-sparse.c); unallocated grains
 *                     read from the parent of a delta, else zeros
 *   ZERO              zeros, no file
 *   VMFSSPARSE (COWD), SESPARSE, VMFSRDM, VMFSRAW: refused by name
 *
 * Extent files are found with importer_related_path and the parent with
 * importer_open_related, which refuse names leading out of the
 * descriptor's directory and end parent loops.  After open nothing here
 * changes, so pread and extents need no lock of their own: the sparse
 * extents lock their grain table caches, and the flat extents and the
 * parent are disks that are safe to share.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "vmdk-internal.h"

/* A file that starts with "# Disk DescriptorFile" is probed as a VMDK up
 * to this size (a raw disk starting with that text is not plausible),
 * so that one too large to be a descriptor is refused by name rather
 * than copied as a raw image. */
#define PROBE_TEXT_MAX (16 * MiB)

enum kind { KIND_FLAT, KIND_SPARSE, KIND_ZERO };

/* One extent of the descriptor; "piece" because `struct extent` is the
 * copy engine's (common.h). */
struct piece {
  enum kind kind;
  uint64_t start, length;       /* bytes of the virtual disk */
  struct disk *flat;            /* FLAT, VMFS: the file as a raw disk */
  uint64_t flat_offset;         /* bytes into it */
  struct vmdk_sparse *sparse;   /* SPARSE */
  uint64_t sparse_size;         /* bytes it maps: MIN (capacity, length) */
};

struct vmdk {
  struct disk d;                /* base: must be first */
  struct piece *ext;             /* the descriptor's extents, in order */
  size_t next;
  struct disk *parent;          /* delta disks only */
  bool has_cid;
  uint32_t cid;
  uint64_t gd_budget;           /* VMDK_GD_MAX less what extents loaded */
};

static const struct disk_ops vmdk_ops;

/* ---------------------------------------------------------------- */
/* Reading. */

/* The extent holding byte OFFSET (< size): binary search on start. */
static struct piece *
find_piece (struct vmdk *v, uint64_t offset)
{
  size_t lo = 0, hi = v->next;

  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->ext[mid].start <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return &v->ext[lo];
}

/* Unallocated grains, and the part of the extent past the file's
 * capacity, read from the parent (zeros without one or past its end). */
static int
sparse_pread (struct vmdk *v, struct piece *e, uint8_t *buf, size_t count,
              uint64_t rel)
{
  const uint32_t grain = vmdk_sparse_grain (e->sparse);
  struct vmdk_run run;
  int r = 0;

  while (count > 0 && r == 0) {
    const uint64_t in = rel % grain;
    size_t n = MIN (count, rel < e->sparse_size ? e->sparse_size - rel : 0);
    if (n == 0)                 /* past the capacity of the file */
      return disk_pread_padded (v->parent, buf, count, e->start + rel);
    if (vmdk_sparse_lookup (e->sparse, rel / grain,
                            DIV_ROUND_UP (in + n, grain), &run) == -1)
      return -1;
    n = MIN (n, run.count * grain - in);
    if (run.kind == VMDK_GRAIN_DATA)
      r = vmdk_sparse_pread (e->sparse, &run, buf, n, rel);
    else if (run.kind == VMDK_GRAIN_UNALLOCATED)
      r = disk_pread_padded (v->parent, buf, n, e->start + rel);
    else
      memset (buf, 0, n);
    buf += n;
    rel += n;
    count -= n;
  }
  return r;
}

static int
vmdk_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vmdk *v = (struct vmdk *) d;
  uint8_t *p = buf;

  while (count > 0) {
    struct piece *e = find_piece (v, offset);
    const uint64_t rel = offset - e->start;
    const size_t n = MIN (count, e->length - rel);
    int r = 0;
    if (e->kind == KIND_ZERO)
      memset (p, 0, n);
    else if (e->kind == KIND_FLAT)
      /* Past the end of a short file: zeros (the open warned). */
      r = disk_pread_padded (e->flat, p, n, e->flat_offset + rel);
    else
      r = sparse_pread (v, e, p, n, rel);
    if (r == -1)
      return -1;
    p += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Extents. */

static int
unallocated_extents (struct vmdk *v, uint64_t offset, uint64_t len,
                     struct extent_vector *out)
{
  if (v->parent == NULL)
    return extent_add (out, offset, len, EXTENT_ZERO, v->d.filename);
  return extents_of_sub_disk (out, v->d.filename, v->parent, offset, len, 0);
}

static int
sparse_extents (struct vmdk *v, struct piece *e, uint64_t rel, uint64_t len,
                struct extent_vector *out)
{
  const uint32_t grain = vmdk_sparse_grain (e->sparse);
  const uint64_t end = rel + len;
  struct vmdk_run run;
  int r = 0;

  while (rel < end && r == 0) {
    const uint64_t in = rel % grain;
    uint64_t n = MIN (end, MAX (rel, e->sparse_size)) - rel;
    if (n == 0)                 /* past the capacity of the file */
      return unallocated_extents (v, e->start + rel, end - rel, out);
    if (vmdk_sparse_lookup (e->sparse, rel / grain,
                            DIV_ROUND_UP (in + n, grain), &run) == -1)
      return -1;
    n = MIN (n, run.count * grain - in);
    if (run.kind == VMDK_GRAIN_UNALLOCATED)
      r = unallocated_extents (v, e->start + rel, n, out);
    else
      r = extent_add (out, e->start + rel, n,
                      run.kind == VMDK_GRAIN_DATA ? EXTENT_DATA : EXTENT_ZERO,
                      v->d.filename);
    rel += n;
  }
  return r;
}

static int
vmdk_extents (struct disk *d, uint64_t offset, uint64_t length,
              struct extent_vector *out)
{
  struct vmdk *v = (struct vmdk *) d;
  const uint64_t end = offset + length;

  while (offset < end) {
    struct piece *e = find_piece (v, offset);
    const uint64_t rel = offset - e->start;
    const uint64_t n = MIN (end - offset, e->length - rel);
    int r;
    if (e->kind == KIND_ZERO)
      r = extent_add (out, offset, n, EXTENT_ZERO, d->filename);
    else if (e->kind == KIND_FLAT)
      r = extents_of_sub_disk (out, d->filename, e->flat,
                               e->flat_offset + rel, n,
                               e->start - e->flat_offset);
    else
      r = sparse_extents (v, e, rel, n, out);
    if (r == -1)
      return -1;
    offset += n;
  }
  return 0;
}

static void
vmdk_close (struct disk *d)
{
  struct vmdk *v = (struct vmdk *) d;

  for (size_t i = 0; i < v->next; i++) {
    disk_close (v->ext[i].flat);
    vmdk_sparse_close (v->ext[i].sparse);
  }
  free (v->ext);
  disk_close (v->parent);
}

static const struct disk_ops vmdk_ops = {
  .name = "vmdk",
  .pread = vmdk_pread,
  .pwrite = NULL,               /* sources are read-only */
  .extents = vmdk_extents,
  .flush = NULL,
  .close = vmdk_close,
};

/* ---------------------------------------------------------------- */
/* Opening the extents. */

/* Append a piece of SECTORS at the end of the disk. */
static struct piece *
new_piece (struct vmdk *v, enum kind kind, uint64_t sectors)
{
  struct piece *e;
  uint64_t length, end;

  if (ckd_mul (&length, sectors, (uint64_t) VMDK_SECTOR) ||
      ckd_add (&end, v->d.size, length)) {
    hv_error (HV_E_TOO_LARGE, "%s: the extents add up to more than 2^64 "
              "bytes", v->d.filename);
    return NULL;
  }
  e = &v->ext[v->next++];
  *e = (struct piece) { .kind = kind, .start = v->d.size, .length = length };
  v->d.size = end;
  return e;
}

static int
open_flat (struct vmdk *v, struct piece *e, const struct vmdk_desc_extent *x,
           const char *path, unsigned flags)
{
  uint64_t need;

  if (ckd_mul (&e->flat_offset, x->offset, (uint64_t) VMDK_SECTOR)) {
    hv_error (HV_E_FORMAT, "%s: descriptor line %u: offset too large",
              v->d.filename, x->line);
    return -1;
  }
  e->flat = importer_open (path, "raw", flags & ~IMPORTER_DEPTH_MASK);
  if (e->flat == NULL) {
    hv_error (HV_E_FORMAT, "%s: cannot open its extent '%s'", v->d.filename,
              x->file);
    return -1;
  }
  if (ckd_add (&need, e->flat_offset, e->length) || need > e->flat->size)
    hv_warning (HV_E_FORMAT, "%s: extent '%s' holds %" PRIu64 " bytes, "
                "less than the %" PRIu64 " bytes from sector %" PRIu64
                " that the descriptor gives it; the rest reads as zeros",
                v->d.filename, x->file, e->flat->size, e->length, x->offset);
  return 0;
}

static int
open_sparse (struct vmdk *v, struct piece *e,
             const struct vmdk_desc_extent *x, const char *path)
{
  char *label = NULL;

  if (asprintf (&label, "%s: extent '%s'", v->d.filename, x->file) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  e->sparse = vmdk_sparse_open (path, label, &v->gd_budget);
  if (e->sparse && vmdk_sparse_capacity (e->sparse) != e->length)
    hv_warning (HV_E_FORMAT, "%s: its capacity is %" PRIu64 " sectors, but "
                "the descriptor gives it %" PRIu64 "; reading %" PRIu64,
                label, vmdk_sparse_capacity (e->sparse) / VMDK_SECTOR,
                x->sectors, x->sectors);
  free (label);
  if (e->sparse == NULL)
    return -1;
  e->sparse_size = MIN (vmdk_sparse_capacity (e->sparse), e->length);
  return 0;
}

static int
open_piece (struct vmdk *v, const struct vmdk_desc_extent *x, unsigned flags)
{
  const bool sparse = x->type == VMDK_EXTENT_SPARSE;
  struct piece *e;
  char *path;
  int r;

  if (vmdk_check_extent (v->d.filename, x) == -1)
    return -1;
  e = new_piece (v, x->type == VMDK_EXTENT_ZERO ? KIND_ZERO
                 : sparse ? KIND_SPARSE : KIND_FLAT, x->sectors);
  if (e == NULL || e->kind == KIND_ZERO)
    return e ? 0 : -1;
  path = importer_related_path (v->d.filename, x->file, flags, "extent");
  if (path == NULL)
    return -1;
  r = sparse ? open_sparse (v, e, x, path) : open_flat (v, e, x, path, flags);
  free (path);
  return r;
}

/* Each extent holds a descriptor open.  A twoGbMaxExtent disk of 2 TiB
 * has over 1000 files, more than the usual soft limit of 1024: raise it
 * towards the hard limit rather than fail halfway. */
static void
raise_file_limit (size_t files)
{
  struct rlimit rl;
  const rlim_t want = files + 256;

  if (getrlimit (RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
    return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : MIN (want, rl.rlim_max);
  setrlimit (RLIMIT_NOFILE, &rl);
}

static int
open_pieces (struct vmdk *v, const struct vmdk_desc *desc, unsigned flags)
{
  const size_t n = desc->extents.len;

  if (n == 0) {
    hv_error (HV_E_FORMAT, "%s: the descriptor lists no extents",
              v->d.filename);
    return -1;
  }
  v->ext = calloc (n, sizeof *v->ext);
  if (v->ext == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  if (n > 512)
    raise_file_limit (n);
  for (size_t i = 0; i < n; i++)
    if (open_piece (v, &desc->extents.ptr[i], flags) == -1)
      return -1;
  return 0;
}

/* ---------------------------------------------------------------- */
/* Delta disks. */

static void
check_parent_cid (struct vmdk *v, const struct vmdk_desc *desc)
{
  const struct vmdk *p = (const struct vmdk *) v->parent;

  if (v->parent->ops != &vmdk_ops || !p->has_cid)
    hv_warning (HV_E_PARENT, "%s: its parent '%s' has no CID to check "
                "parentCID %08" PRIx32 " against", v->d.filename,
                desc->parent_hint, desc->parent_cid);
  else if (p->cid != desc->parent_cid)
    hv_warning (HV_E_PARENT, "%s: parentCID is %08" PRIx32 " but its parent "
                "'%s' has CID %08" PRIx32 ": the parent changed after this "
                "delta disk was made, so the disk may read inconsistent data",
                v->d.filename, desc->parent_cid, desc->parent_hint, p->cid);
}

static int
open_parent (struct vmdk *v, const struct vmdk_desc *desc, unsigned flags)
{
  if (!desc->has_parent_cid || desc->parent_cid == VMDK_CID_NONE)
    return 0;
  if (desc->parent_hint == NULL) {
    hv_error (HV_E_PARENT, "%s: a delta disk (parentCID %08" PRIx32 ") "
              "without parentFileNameHint: its parent cannot be found",
              v->d.filename, desc->parent_cid);
    return -1;
  }
  v->parent = importer_open_related (v->d.filename, desc->parent_hint,
                                     "vmdk", flags, "parent");
  if (v->parent == NULL)
    return -1;
  check_parent_cid (v, desc);
  return 0;
}

/* ---------------------------------------------------------------- */
/* Opening the file the user named. */

static int
use_descriptor (struct vmdk *v, const struct vmdk_desc *desc)
{
  v->has_cid = desc->has_cid;
  v->cid = desc->cid;
  if (desc->create_type)
    return vmdk_check_create_type (v->d.filename, desc->create_type);
  return 0;
}

/* monolithicSparse, streamOptimized: the KDMV file is the one extent. */
static int
open_monolithic (struct vmdk *v, unsigned flags)
{
  struct vmdk_desc desc = { 0 };
  struct piece *e;
  char *text = NULL;
  size_t len;
  int r = -1;

  v->ext = calloc (1, sizeof *v->ext);
  if (v->ext == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
    return -1;
  }
  e = &v->ext[v->next++];
  e->kind = KIND_SPARSE;
  e->sparse = vmdk_sparse_open (v->d.filename, v->d.filename,
                                &v->gd_budget);
  if (e->sparse == NULL ||
      vmdk_sparse_descriptor (e->sparse, &text, &len) == -1)
    goto out;
  e->length = e->sparse_size = v->d.size = vmdk_sparse_capacity (e->sparse);
  if (text == NULL)
    hv_warning (HV_E_FORMAT, "%s: a sparse extent with no descriptor: if it "
                "is one extent of a larger disk, name the disk's descriptor "
                "file instead", v->d.filename);
  if (text && (vmdk_desc_parse (v->d.filename, text, len, &desc) == -1 ||
               use_descriptor (v, &desc) == -1 ||
               open_parent (v, &desc, flags) == -1))
    goto out;
  r = 0;
 out:
  vmdk_desc_free (&desc);
  free (text);
  return r;
}

/* A text descriptor naming extent files. */
static int
open_descriptor (struct vmdk *v, int fd, unsigned flags)
{
  struct vmdk_desc desc = { 0 };
  struct stat st;
  char *text = NULL;
  int r = -1;

  if (fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", v->d.filename);
    return -1;
  }
  if ((uint64_t) st.st_size > VMDK_DESC_MAX) {
    hv_error (HV_E_FORMAT, "%s: the descriptor is %" PRIu64 " bytes, more "
              "than %llu: not a VMDK descriptor? (--format raw copies the "
              "file as a raw image)", v->d.filename, (uint64_t) st.st_size,
              VMDK_DESC_MAX);
    return -1;
  }
  text = malloc (st.st_size + 1);
  if (text == NULL)
    hv_error (HV_E_NOMEM, "%s: %m", v->d.filename);
  else if (full_pread (fd, text, st.st_size, 0) == -1)
    hv_error (HV_E_IO, "%s: reading the descriptor: %m", v->d.filename);
  /* The text ends at the first NUL, as for qemu: qemu-img pads a
   * descriptor file with NULs, and qemu's CID update can leave a
   * shorter text followed by a NUL and the tail of the old one. */
  else if (vmdk_desc_parse (v->d.filename, text,
                            strnlen (text, st.st_size), &desc) == 0 &&
           use_descriptor (v, &desc) == 0 &&
           open_pieces (v, &desc, flags) == 0 &&
           open_parent (v, &desc, flags) == 0)
    r = 0;
  vmdk_desc_free (&desc);
  free (text);
  return r;
}

static int
vmdk_setup (struct vmdk *v, unsigned flags)
{
  uint8_t head[VMDK_SECTOR];
  ssize_t n;
  int fd = open (v->d.filename, O_RDONLY | O_CLOEXEC), r;

  if (fd == -1 || (n = pread (fd, head, sizeof head, 0)) == -1) {
    hv_error (HV_E_IO, "%s: %m", v->d.filename);
    if (fd >= 0)
      close (fd);
    return -1;
  }
  if (vmdk_looks_like_descriptor (head, n))
    r = open_descriptor (v, fd, flags);
  else if (vmdk_probe (fd, (uint64_t) n))
    r = open_monolithic (v, flags);
  else {
    hv_error (HV_E_FORMAT, "%s: not a VMDK: neither a sparse file (\"KDMV\" "
              "magic) nor a text descriptor (\"# Disk DescriptorFile\")",
              v->d.filename);
    r = -1;
  }
  close (fd);
  return r;
}

struct disk *
vmdk_open (const char *filename, unsigned flags)
{
  struct vmdk *v = calloc (1, sizeof *v);

  if (v == NULL || (v->d.filename = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    free (v);
    return NULL;
  }
  v->d.ops = &vmdk_ops;
  v->d.sector_size = VMDK_SECTOR;
  v->gd_budget = VMDK_GD_MAX;
  if (vmdk_setup (v, flags) == -1) {
    disk_close (&v->d);
    return NULL;
  }
  hv_debug ("%s: vmdk, %zu extent%s, %" PRIu64 " bytes%s", filename,
            v->next, v->next == 1 ? "" : "s", v->d.size,
            v->parent ? ", delta disk" : "");
  return &v->d;
}

/* A KDMV, COWD or SESparse magic (the latter two are refused by name at
 * open, rather than copied as raw), or a small text descriptor. */
bool
vmdk_probe (int fd, uint64_t file_size)
{
  uint8_t b[VMDK_SECTOR];
  const size_t n = MIN (file_size, sizeof b);

  if (n < 4 || full_pread (fd, b, n, 0) == -1)
    return false;
  if (memcmp (b, "KDMV", 4) == 0 || memcmp (b, "COWD", 4) == 0)
    return true;
  if (n >= 16 && load_le64 (b) == UINT64_C (0xcafebabe) &&
      load_le64 (b + 8) == UINT64_C (0x0000000200000001))
    return true;
  return file_size <= PROBE_TEXT_MAX && vmdk_looks_like_descriptor (b, n);
}

/* QCOW2 images (qemu, versions 2 and 3) opened read-only as a disk.
 *
 * Opening reads and checks the header (qcow2-header.c), loads the part of
 * the active L1 table that covers the virtual size, and opens the
 * backing file, if any, through importer_open_related (so its name is
 * held to the image's directory and the chain depth is bounded).  Reads
 * and extents are in qcow2-read.c.  Snapshots are not read: the disk is
 * the image's active state.  Refcounts are not read either: a reader
 * does not need them, so a dirty image (lazy refcounts) reads fine.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "qcow2-internal.h"

/* qemu's names for backing formats, and ours.  A backing format named
 * in the image is honoured: a raw backing file is read as raw even if
 * its content looks like another format. */
static const struct {
  const char *qemu, *ours;
} backing_formats[] = {
  { "raw", "raw" },
  { "file", "raw" },
  { "host_device", "raw" },
  { "qcow2", "qcow2" },
  { "vpc", "vhd" },
  { "vmdk", "vmdk" },
  { "vdi", "vdi" },
  { "vhdx", "vhdx" },
};

/* The magic alone: a file that starts with "QFI\xfb" is a QCOW image,
 * and one we cannot read (version 1, say) is better refused by name by
 * open than copied as raw bytes. */
bool
qcow2_probe (int fd, uint64_t file_size)
{
  uint8_t magic[4];

  return file_size >= sizeof magic &&
         full_pread (fd, magic, sizeof magic, 0) == 0 &&
         memcmp (magic, "QFI\xfb", 4) == 0;
}

/* Our name of the backing format (NULL: detect), or "" after reporting
 * a format we do not read. */
static const char *
backing_format (const struct qcow2 *q)
{
  const char *fmt = q->h.backing_format;
  size_t n;
  const struct importer_format *known = importer_formats (&n);

  if (fmt[0] == '\0')
    return NULL;
  for (size_t i = 0; i < ARRAY_SIZE (backing_formats); i++) {
    if (strcmp (backing_formats[i].qemu, fmt) != 0)
      continue;
    for (size_t j = 0; j < n; j++)
      if (strcmp (known[j].name, backing_formats[i].ours) == 0)
        return known[j].name;
  }
  hv_error (HV_E_UNSUPPORTED, "%s: the backing file format '%s' (backing "
            "format extension) is not supported", q->d.filename, fmt);
  return "";
}

/* The QCOW2 images of the backing chain this thread is opening, top
 * first, so that a loop (a -> b -> a) is named as one rather than found
 * by the depth limit of importer_open_related after 64 opens. */
struct file_id {
  dev_t dev;
  ino_t ino;
};
static __thread struct file_id opening[IMPORTER_MAX_DEPTH];
static __thread size_t n_opening;

/* Is the backing file at PATH one of the images being opened? */
static int
check_loop (const struct qcow2 *q, const char *path)
{
  struct stat st;

  if (stat (path, &st) == -1)     /* missing: the open reports it */
    return 0;
  for (size_t i = 0; i < n_opening; i++)
    if (opening[i].dev == st.st_dev && opening[i].ino == st.st_ino) {
      hv_error (HV_E_FORMAT, "%s: backing file '%s' leads back to %s: the "
                "backing chain is a loop", q->d.filename, q->h.backing_file,
                path);
      return -1;
    }
  return 0;
}

/* Open the backing file (as the format the image names, if it does)
 * with this image on the stack of images being opened. */
static int
open_related (struct qcow2 *q, const char *fmt, unsigned flags)
{
  struct stat st;
  char *path;
  int r;

  if (fstat (q->fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", q->d.filename);
    return -1;
  }
  path = importer_related_path (q->d.filename, q->h.backing_file, flags,
                                "backing file");
  if (path == NULL)
    return -1;
  r = check_loop (q, path);
  free (path);
  if (r == 0 && n_opening == IMPORTER_MAX_DEPTH) {
    hv_error (HV_E_FORMAT, "%s: backing file chain deeper than %d images",
              q->d.filename, IMPORTER_MAX_DEPTH);
    r = -1;
  }
  if (r == -1)
    return -1;
  opening[n_opening++] = (struct file_id) { st.st_dev, st.st_ino };
  q->backing = importer_open_related (q->d.filename, q->h.backing_file, fmt,
                                      flags, "backing file");
  n_opening--;
  return q->backing ? 0 : -1;
}

static int
open_backing (struct qcow2 *q, unsigned flags)
{
  const char *fmt;

  if (q->h.backing_file == NULL)
    return 0;
  fmt = backing_format (q);
  if (fmt && fmt[0] == '\0')
    return -1;
  return open_related (q, fmt, flags);
}

/* How many L1 entries the virtual size needs, and whether the table
 * holds them inside the file and inside qemu's limit. */
static int
check_l1 (struct qcow2 *q)
{
  const char *file = q->d.filename;
  const uint64_t span = q->cluster_size << q->l2_bits;
  const uint64_t need = q->h.size / span + (q->h.size % span != 0);
  uint64_t end;

  if ((uint64_t) q->h.l1_size * 8 > QCOW2_MAX_L1_BYTES) {
    hv_error (HV_E_FORMAT, "%s: qcow2 header: l1_size %" PRIu32 " is too "
              "large (at most %llu entries)", file, q->h.l1_size,
              QCOW2_MAX_L1_BYTES / 8);
    return -1;
  }
  if (need > q->h.l1_size) {
    hv_error (HV_E_FORMAT, "%s: qcow2 header: l1_size %" PRIu32 " is too "
              "small for the virtual size %" PRIu64 " (needs %" PRIu64 ")",
              file, q->h.l1_size, q->h.size, need);
    return -1;
  }
  q->l1_entries = (uint32_t) need;
  if (q->h.l1_table_offset % q->cluster_size ||
      ckd_add (&end, q->h.l1_table_offset, need * 8) || end > q->file_size) {
    hv_error (HV_E_FORMAT, "%s: qcow2 header: l1_table_offset %" PRIu64
              " is not cluster-aligned, or the L1 table (%" PRIu64
              " entries) lies past the end of the file (%" PRIu64 " bytes)",
              file, q->h.l1_table_offset, need, q->file_size);
    return -1;
  }
  return 0;
}

/* An L1 entry points to an L2 table: a whole cluster inside the file. */
static int
check_l1_entry (struct qcow2 *q, uint32_t i)
{
  const uint64_t off = q->l1[i] & QCOW2_OFFSET_MASK;

  if (off == 0)
    return 0;
  if (off % q->cluster_size || q->file_size < q->cluster_size ||
      off > q->file_size - q->cluster_size) {
    hv_error (HV_E_FORMAT, "%s: L1 entry %" PRIu32 " (at offset %" PRIu64
              "): the L2 table at offset %" PRIu64 " is not cluster-aligned "
              "or lies past the end of the file (%" PRIu64 " bytes)",
              q->d.filename, i, q->h.l1_table_offset + (uint64_t) i * 8, off,
              q->file_size);
    return -1;
  }
  return 0;
}

static int
load_l1 (struct qcow2 *q)
{
  size_t bytes;

  if (check_l1 (q) == -1)
    return -1;
  bytes = (size_t) q->l1_entries * 8;
  q->l1 = malloc (bytes ? bytes : 1);
  if (q->l1 == NULL) {
    hv_error (HV_E_NOMEM, "%s: L1 table: %m", q->d.filename);
    return -1;
  }
  if (bytes && full_pread (q->fd, q->l1, bytes, q->h.l1_table_offset) == -1) {
    hv_error (HV_E_IO, "%s: reading the L1 table at offset %" PRIu64 ": %m",
              q->d.filename, q->h.l1_table_offset);
    return -1;
  }
  for (uint32_t i = 0; i < q->l1_entries; i++) {
    q->l1[i] = load_be64 (&q->l1[i]);
    if (check_l1_entry (q, i) == -1)
      return -1;
  }
  return 0;
}

/* The geometry that follows from cluster_bits, and the virtual size of
 * the disk: whole 512-byte sectors, as every disk format counts.  qemu
 * never makes a size that is not, and reads one as whole sectors
 * rounded down (total_sectors = size / 512): so do we, to read the
 * same disk as qemu. */
static void
set_geometry (struct qcow2 *q)
{
  q->cluster_bits = q->h.cluster_bits;
  q->cluster_size = 1ULL << q->cluster_bits;
  q->l2_bits = q->cluster_bits - 3;
  q->csize_shift = 62 - (q->cluster_bits - 8);
  q->csize_mask = (1ULL << (q->cluster_bits - 8)) - 1;
  q->d.sector_size = 512;
  q->d.size = q->h.size / 512 * 512;
  if (q->d.size != q->h.size)
    hv_warning (HV_E_FORMAT, "%s: virtual size %" PRIu64 " is not a "
                "multiple of 512 bytes; reading the first %" PRIu64
                " bytes, as qemu does", q->d.filename, q->h.size, q->d.size);
}

static int
qcow2_setup (struct qcow2 *q, unsigned flags)
{
  uint32_t sector;

  if (raw_file_size (q->fd, q->d.filename, &q->file_size, &sector) == -1 ||
      qcow2_header_read (q->fd, q->d.filename, q->file_size, &q->h) == -1)
    return -1;
  if (q->h.size > INT64_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: qcow2 header: size %" PRIu64 " is too "
              "large", q->d.filename, q->h.size);
    return -1;
  }
  set_geometry (q);
  if (load_l1 (q) == -1 || qcow2_cache_init (q) == -1)
    return -1;
  return open_backing (q, flags);
}

static void
qcow2_close (struct disk *d)
{
  struct qcow2 *q = (struct qcow2 *) d;

  disk_close (q->backing);
  qcow2_cache_free (q);
  free (q->l1);
  qcow2_header_free (&q->h);
  if (q->fd >= 0)
    close (q->fd);
}

static const struct disk_ops qcow2_ops = {
  .name = "qcow2",
  .pread = qcow2_pread,
  .pwrite = NULL,          /* sources are read-only */
  .extents = qcow2_extents,
  .flush = NULL,
  .close = qcow2_close,
};

struct disk *
qcow2_open (const char *filename, unsigned flags)
{
  struct qcow2 *q = calloc (1, sizeof *q);

  if (q == NULL || (q->d.filename = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    free (q);
    return NULL;
  }
  q->d.ops = &qcow2_ops;
  q->fd = open (filename, O_RDONLY | O_CLOEXEC);
  if (q->fd == -1)
    hv_error (HV_E_IO, "%s: %m", filename);
  if (q->fd == -1 || qcow2_setup (q, flags) == -1) {
    disk_close (&q->d);
    return NULL;
  }
  hv_debug ("%s: qcow2 v%" PRIu32 ", %" PRIu64 " bytes, cluster %" PRIu64
            "%s%s%s, %" PRIu32 " snapshots ignored", filename, q->h.version,
            q->d.size, q->cluster_size, q->backing ? ", backing file '" : "",
            q->backing ? q->h.backing_file : "", q->backing ? "'" : "",
            q->h.nb_snapshots);
  return &q->d;
}

/* Raw images: a plain file or a block device holding the disk's bytes.
 *
 * Opened O_RDONLY: a conversion never writes to its source.  Holes of a
 * sparse file (lseek SEEK_DATA / SEEK_HOLE) are reported as zero extents
 * so the copy never reads them.  A block device, or a file system without
 * SEEK_DATA, is all data.  A file whose size is not a multiple of 512 is
 * padded with zeros to the next sector, since every disk format counts
 * in sectors.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "importers.h"

#define RAW_SECTOR 512

struct raw {
  struct disk d;          /* base: must be first */
  int fd;
  uint64_t file_size;     /* bytes in the file; d.size may be padded */
  bool seek_data;         /* SEEK_DATA / SEEK_HOLE usable */
  uint8_t *map;           /* the whole regular file, or NULL */
};

static int
blockdev_size (int fd, const char *filename, uint64_t *size,
               uint32_t *sector_size)
{
  int ssz;

  if (ioctl (fd, BLKGETSIZE64, size) == -1 ||
      ioctl (fd, BLKSSZGET, &ssz) == -1) {
    hv_error (HV_E_IO, "%s: getting the size of the block device: %m",
              filename);
    return -1;
  }
  *sector_size = ssz > 0 ? (uint32_t) ssz : RAW_SECTOR;
  return 0;
}

int
raw_file_size (int fd, const char *filename, uint64_t *size,
               uint32_t *sector_size)
{
  struct stat st;

  if (fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", filename);
    return -1;
  }
  if (S_ISBLK (st.st_mode))
    return blockdev_size (fd, filename, size, sector_size);
  if (!S_ISREG (st.st_mode)) {
    hv_error (HV_E_UNSUPPORTED, "%s: not a regular file or a block device",
              filename);
    return -1;
  }
  *size = (uint64_t) st.st_size;
  *sector_size = RAW_SECTOR;
  return 0;
}

/* Every file is a raw image: the fallback at the end of the table. */
bool
raw_probe (int fd, uint64_t file_size)
{
  return true;
}

/* Bytes past the end of the file (the padding of a partial last sector)
 * read as zeros. */
static int
raw_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct raw *r = (struct raw *) d;
  size_t n = offset >= r->file_size ? 0 : MIN (count, r->file_size - offset);

  if (n && full_pread (r->fd, buf, n, offset) == -1) {
    hv_error (HV_E_IO, "%s: reading %zu bytes at offset %" PRIu64 ": %m",
              d->filename, n, offset);
    return -1;
  }
  memset ((uint8_t *) buf + n, 0, count - n);
  return 0;
}

static int
add_extent (struct extent_vector *out, const char *file, uint64_t offset,
            uint64_t length, enum extent_type type)
{
  struct extent e = { .offset = offset, .length = length, .type = type };

  if (length == 0)
    return 0;
  if (extent_vector_append (out, e) == -1) {
    hv_error (HV_E_NOMEM, "%s: extents: %m", file);
    return -1;
  }
  return 0;
}

/* One data extent and the hole before it, starting at OFFSET.  Sets
 * *NEXT to where the caller continues.  Falls back to "all data" when
 * SEEK_DATA fails for any reason other than "no more data". */
static int
next_extents (struct raw *r, uint64_t offset, uint64_t end,
              struct extent_vector *out, uint64_t *next)
{
  const char *file = r->d.filename;
  off_t data, hole;

  *next = end;
  data = lseek (r->fd, (off_t) offset, SEEK_DATA);
  if (data == -1 && errno == ENXIO)      /* only a hole up to EOF */
    return add_extent (out, file, offset, end - offset, EXTENT_ZERO);
  if (data == -1)
    return add_extent (out, file, offset, end - offset, EXTENT_DATA);
  if ((uint64_t) data >= end)
    return add_extent (out, file, offset, end - offset, EXTENT_ZERO);
  hole = lseek (r->fd, data, SEEK_HOLE);
  if (hole == -1 || (uint64_t) hole > end)
    hole = (off_t) end;
  *next = (uint64_t) hole;
  if (add_extent (out, file, offset, data - offset, EXTENT_ZERO) == -1)
    return -1;
  return add_extent (out, file, data, hole - data, EXTENT_DATA);
}

static int
raw_extents (struct disk *d, uint64_t offset, uint64_t length,
             struct extent_vector *out)
{
  struct raw *r = (struct raw *) d;
  const uint64_t end = offset + length;
  const uint64_t file_end = MIN (end, r->file_size);

  if (!r->seek_data)
    return add_extent (out, d->filename, offset, length, EXTENT_DATA);
  while (offset < file_end) {
    if (next_extents (r, offset, file_end, out, &offset) == -1)
      return -1;
  }
  /* The padding after a partial last sector. */
  return add_extent (out, d->filename, offset, end - offset, EXTENT_ZERO);
}

/* Only the file's own bytes: the padding of a partial last sector is
 * not in the mapping (pread gives its zeros). */
static const uint8_t *
raw_map (struct disk *d, uint64_t offset, size_t count)
{
  struct raw *r = (struct raw *) d;

  if (r->map == NULL || offset > r->file_size ||
      count > r->file_size - offset)
    return NULL;
  return r->map + offset;
}

static void
raw_close (struct disk *d)
{
  struct raw *r = (struct raw *) d;

  if (r->map)
    munmap (r->map, r->file_size);
  if (r->fd >= 0)
    close (r->fd);
}

static const struct disk_ops raw_ops = {
  .name = "raw",
  .pread = raw_pread,
  .pwrite = NULL,          /* sources are read-only */
  .extents = raw_extents,
  .flush = NULL,
  .close = raw_close,
  .map = raw_map,
};

/* SEEK_DATA works on this file system if it does not fail with EINVAL
 * (unsupported) at offset 0; ENXIO (all hole) counts as working. */
static bool
has_seek_data (int fd, uint64_t file_size)
{
  if (file_size == 0)
    return false;
  return lseek (fd, 0, SEEK_DATA) != -1 || errno == ENXIO;
}

/* Map a regular file read-only, so the copy engine can test and write
 * its page cache in place instead of copying it into a buffer first
 * (a third of the CPU time of a copy).  Only a hint: without a mapping
 * everything goes through pread. */
static void
map_file (struct raw *r, const struct stat *st)
{
  void *p;

  if (!S_ISREG (st->st_mode) || r->file_size == 0 ||
      r->file_size > (uint64_t) SIZE_MAX)
    return;
  p = mmap (NULL, r->file_size, PROT_READ, MAP_SHARED, r->fd, 0);
  if (p == MAP_FAILED)
    return;
  madvise (p, r->file_size, MADV_SEQUENTIAL);
  r->map = p;
}

static int
raw_setup (struct raw *r)
{
  struct stat st;

  if (raw_file_size (r->fd, r->d.filename, &r->file_size,
                     &r->d.sector_size) == -1 ||
      fstat (r->fd, &st) == -1)
    return -1;
  r->d.size = ROUND_UP (r->file_size, RAW_SECTOR);
  if (r->d.size != r->file_size)
    hv_warning (HV_E_FORMAT, "%s: size %" PRIu64 " is not a multiple of "
                "512 bytes; reading it as %" PRIu64 " bytes padded with "
                "zeros", r->d.filename, r->file_size, r->d.size);
  r->seek_data = S_ISREG (st.st_mode) && has_seek_data (r->fd, r->file_size);
  /* The copy reads front to back: let the kernel read ahead further. */
  posix_fadvise (r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  map_file (r, &st);
  return 0;
}

struct disk *
raw_open (const char *filename, unsigned flags)
{
  struct raw *r = calloc (1, sizeof *r);

  if (r == NULL || (r->d.filename = strdup (filename)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", filename);
    free (r);
    return NULL;
  }
  r->d.ops = &raw_ops;
  r->fd = open (filename, O_RDONLY | O_CLOEXEC);
  if (r->fd == -1)
    hv_error (HV_E_IO, "%s: %m", filename);
  if (r->fd == -1 || raw_setup (r) == -1) {
    disk_close (&r->d);
    return NULL;
  }
  hv_debug ("%s: raw, %" PRIu64 " bytes, sector %" PRIu32 "%s", filename,
            r->d.size, r->d.sector_size, r->seek_data ? ", sparse-aware" : "");
  return &r->d;
}

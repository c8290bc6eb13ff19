/* VirtualBox VDI images: normal (dynamic), fixed and differencing.
 *
 * FORMATS.md 4.1.  A little-endian header (version 1.1, 0x180 or 0x190
 * bytes after the 0x48-byte preamble), a block map of u32 entries, the
 * blocks.  A map entry is a block index into the data area, 0xFFFFFFFF
 * (never written: zeros, or the parent's data in a differencing image)
 * or 0xFFFFFFFE (a block known to be zero).  A differencing image names
 * its parent only by UUID: the parent is the VDI in the same folder
 * whose image UUID is the child's linkage UUID.  Every field is checked
 * at open, every map entry included, so reads are plain preads and safe
 * from several threads at once.  Undo images and the pre-1.1 header are
 * refused by name.
 */
#include <config.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "importers.h"

#define VDI_SIGNATURE   0xBEDA107Fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_HEADER_END  512            /* what we read of the header */
#define VDI_UNALLOCATED 0xFFFFFFFFu
#define VDI_ZERO        0xFFFFFFFEu
#define VDI_MAX_BLOCK   (256 * MiB)
#define VDI_MAX_SCAN    4096           /* files looked at for a parent */

enum vdi_type { VDI_NORMAL = 1, VDI_FIXED = 2, VDI_UNDO = 3, VDI_DIFF = 4 };

struct vdi {
  struct disk d;             /* base: must be first */
  int fd;
  uint32_t type;
  uint32_t block_size, block_extra, nblocks;
  uint64_t data_offset;
  uint32_t *map;             /* host order */
  uint8_t *file_map;         /* the whole file mapped, or NULL */
  uint64_t file_size;
  uint8_t uuid[16], modification[16], linkage[16], parent_modification[16];
  struct disk *parent;       /* differencing images */
};

/* ---------------------------------------------------------------- */
/* The header. */

static int
bad (const struct vdi *v, const char *what)
{
  hv_error (HV_E_FORMAT, "%s: %s", v->d.filename, what);
  return -1;
}

static int
check_version (struct vdi *v, const uint8_t *h)
{
  const uint32_t version = load_le32 (h + 68);

  if (load_le32 (h + 64) != VDI_SIGNATURE)
    return bad (v, "no VDI signature 0xBEDA107F at offset 64");
  if (version != VDI_VERSION_1_1) {
    hv_error (HV_E_UNSUPPORTED, "%s: VDI version %u.%u is not supported "
              "(1.1 is; VirtualBox converts old images with "
              "VBoxManage clonemedium)", v->d.filename, version >> 16,
              version & 0xFFFF);
    return -1;
  }
  if (load_le32 (h + 72) < 0x180 || load_le32 (h + 72) > 0x200)
    return bad (v, "header size is not 0x180 to 0x200 bytes");
  v->type = load_le32 (h + 76);
  if (v->type == VDI_UNDO) {
    hv_error (HV_E_UNSUPPORTED, "%s: an undo image (type 3) is not "
              "supported: discard or commit it in VirtualBox first",
              v->d.filename);
    return -1;
  }
  if (v->type < VDI_NORMAL || v->type > VDI_DIFF)
    return bad (v, "image type is not 1 (normal), 2 (fixed) or 4 (diff)");
  return 0;
}

/* Sizes and offsets against each other and the file of FILE_SIZE. */
static int
check_geometry (struct vdi *v, const uint8_t *h, uint64_t file_size)
{
  const uint64_t map_offset = load_le32 (h + 340);
  const uint64_t disk_size = load_le64 (h + 368);
  uint64_t span;

  v->data_offset = load_le32 (h + 344);
  v->block_size = load_le32 (h + 376);
  v->block_extra = load_le32 (h + 380);
  v->nblocks = load_le32 (h + 384);
  if (load_le32 (h + 360) != 512)
    return bad (v, "sector size is not 512");
  if (v->block_size < 512 || v->block_size > VDI_MAX_BLOCK ||
      (v->block_size & (v->block_size - 1)))
    return bad (v, "block size is not a power of two from 512 bytes to "
                "256 MiB");
  if (v->block_extra > v->block_size || v->block_extra % 512)
    return bad (v, "block extra is not a multiple of 512 up to the block "
                "size");
  v->d.size = ROUND_UP (disk_size, 512);
  if (ckd_mul (&span, (uint64_t) v->nblocks, v->block_size) ||
      span < v->d.size || (v->nblocks && span - v->d.size >= v->block_size))
    return bad (v, "blocks in image do not cover the disk size");
  if (map_offset < VDI_HEADER_END ||
      map_offset + 4ULL * v->nblocks > file_size ||
      v->data_offset < map_offset + 4ULL * v->nblocks ||
      v->data_offset > file_size)
    return bad (v, "block map or data area outside the file (or "
                "overlapping)");
  if (load_le32 (h + 388) > v->nblocks)
    return bad (v, "more blocks allocated than the image has");
  return 0;
}

static int
read_header (struct vdi *v, uint64_t file_size, uint64_t *map_offset)
{
  uint8_t h[VDI_HEADER_END];

  if (file_size < VDI_HEADER_END ||
      full_pread (v->fd, h, sizeof h, 0) == -1)
    return bad (v, "truncated header");
  if (check_version (v, h) == -1 || check_geometry (v, h, file_size) == -1)
    return -1;
  *map_offset = load_le32 (h + 340);
  memcpy (v->uuid, h + 392, 16);
  memcpy (v->modification, h + 408, 16);
  memcpy (v->linkage, h + 424, 16);
  memcpy (v->parent_modification, h + 440, 16);
  return 0;
}

/* ---------------------------------------------------------------- */
/* The block map: read once, every entry checked. */

static int
read_map (struct vdi *v, uint64_t map_offset, uint64_t file_size)
{
  const uint64_t stride = (uint64_t) v->block_size + v->block_extra;
  uint8_t *raw = malloc (4ULL * v->nblocks + 1);

  v->map = malloc (4ULL * v->nblocks + 1);
  if (raw == NULL || v->map == NULL) {
    free (raw);
    hv_error (HV_E_NOMEM, "%s: block map: %m", v->d.filename);
    return -1;
  }
  if (full_pread (v->fd, raw, 4ULL * v->nblocks, map_offset) == -1) {
    free (raw);
    hv_error (HV_E_IO, "%s: reading the block map: %m", v->d.filename);
    return -1;
  }
  for (uint32_t i = 0; i < v->nblocks; i++) {
    uint32_t e = v->map[i] = load_le32 (raw + 4ULL * i);
    if (e < VDI_ZERO &&
        v->data_offset + e * stride + stride > ROUND_UP (file_size, 512)) {
      free (raw);
      hv_error (HV_E_FORMAT, "%s: block map entry %" PRIu32 " (block %"
                PRIu32 ") points past the end of the file", v->d.filename,
                i, e);
      return -1;
    }
    if (e < VDI_ZERO && v->type == VDI_FIXED && e != i) {
      free (raw);
      hv_error (HV_E_FORMAT, "%s: fixed image with block map entry %" PRIu32
                " = %" PRIu32, v->d.filename, i, e);
      return -1;
    }
  }
  free (raw);
  return 0;
}

/* ---------------------------------------------------------------- */
/* The parent of a differencing image: by UUID, in the same folder. */

/* Does FILE (in DIR) hold a VDI whose image UUID is UUID? */
static bool
has_uuid (int dirfd, const char *file, const uint8_t uuid[16])
{
  uint8_t h[VDI_HEADER_END];
  struct stat st;
  int fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
                   O_NONBLOCK);
  bool r = false;

  if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
      st.st_size >= VDI_HEADER_END && full_pread (fd, h, sizeof h, 0) == 0)
    r = load_le32 (h + 64) == VDI_SIGNATURE && memcmp (h + 392, uuid, 16) == 0;
  if (fd >= 0)
    close (fd);
  return r;
}

/* The name of the parent in the folder of the image, malloc'd, or NULL
 * after reporting. */
static char *
find_parent (struct vdi *v)
{
  char *copy = strdup (v->d.filename), *slash, *found = NULL, hex[37];
  const char *dir = ".";
  DIR *d;
  struct dirent *e;
  unsigned looked = 0;

  if (copy && (slash = strrchr (copy, '/')) != NULL) {
    *slash = '\0';
    dir = *copy ? copy : "/";
  }
  d = copy ? opendir (dir) : NULL;
  while (d && !found && (e = readdir (d)) != NULL && looked++ < VDI_MAX_SCAN)
    if (e->d_name[0] != '.' && has_uuid (dirfd (d), e->d_name, v->linkage) &&
        memcmp (v->linkage, v->uuid, 16) != 0)
      found = strdup (e->d_name);
  if (d)
    closedir (d);
  free (copy);
  if (found == NULL) {
    uuid_format (v->linkage, hex);
    hv_error (HV_E_PARENT, "%s: the parent, a VDI with UUID %s, is not in "
              "the image's folder", v->d.filename, hex);
  }
  return found;
}

static int
open_parent (struct vdi *v, unsigned flags)
{
  char *name;
  uint8_t h[VDI_HEADER_END];
  int fd;

  if (memcmp (v->linkage, v->uuid, 16) == 0)
    return bad (v, "a differencing image whose parent is itself");
  if ((name = find_parent (v)) == NULL)
    return -1;
  v->parent = importer_open_related (v->d.filename, name, "vdi", flags,
                                     "parent");
  /* A parent changed since the child was made: its data under the
   * child is not what the child was made on. */
  fd = v->parent ? open (vdi_path (v->parent), O_RDONLY | O_CLOEXEC) : -1;
  if (fd >= 0 && full_pread (fd, h, sizeof h, 0) == 0 &&
      memcmp (h + 408, v->parent_modification, 16) != 0 &&
      !is_zero (v->parent_modification, 16))
    hv_warning (HV_E_PARENT, "%s: its parent %s was modified after it was "
                "made (modification UUIDs differ)", v->d.filename, name);
  if (fd >= 0)
    close (fd);
  free (name);
  return v->parent ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Reads and extents. */

static uint64_t
block_offset (const struct vdi *v, uint32_t e)
{
  return v->data_offset + (uint64_t) e * (v->block_size + v->block_extra) +
    v->block_extra;
}

static int
vdi_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct vdi *v = (struct vdi *) d;
  uint8_t *p = buf;

  while (count > 0) {
    const uint32_t blk = offset / v->block_size, in = offset % v->block_size;
    const size_t n = MIN (count, (size_t) (v->block_size - in));
    const uint32_t e = v->map[blk];
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
    const uint32_t blk = offset / v->block_size;
    const uint64_t n = MIN (end - offset, v->block_size -
                            offset % v->block_size);
    const uint32_t e = v->map[blk];
    int r;
    if (e == VDI_UNALLOCATED && v->parent)
      r = extents_of_sub_disk (out, d->filename, v->parent, offset, n, 0);
    else
      r = extents_add (out, d->filename, offset, n,
                       e >= VDI_ZERO ? EXTENT_ZERO : EXTENT_DATA);
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
  const uint32_t first = offset / v->block_size;
  const uint32_t last = (offset + count - 1) / v->block_size;
  const uint32_t e0 = v->map[first];

  if (v->file_map == NULL || v->block_extra || e0 >= VDI_ZERO)
    return NULL;
  for (uint32_t b = first + 1; b <= last; b++)
    if (v->map[b] != e0 + (b - first))
      return NULL;
  if (block_offset (v, e0) + offset % v->block_size + count > v->file_size)
    return NULL;
  return v->file_map + block_offset (v, e0) + offset % v->block_size;
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

const char *
vdi_path (const struct disk *d)
{
  return d->ops == &vdi_ops ? d->filename : "";
}

/* ---------------------------------------------------------------- */

bool
vdi_probe (int fd, uint64_t file_size)
{
  uint8_t h[4];

  return file_size >= VDI_HEADER_END && full_pread (fd, h, 4, 64) == 0 &&
    load_le32 (h) == VDI_SIGNATURE;
}

static int
vdi_setup (struct vdi *v, unsigned flags)
{
  struct stat st;
  uint64_t map_offset;

  if (fstat (v->fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", v->d.filename);
    return -1;
  }
  if (read_header (v, st.st_size, &map_offset) == -1 ||
      read_map (v, map_offset, st.st_size) == -1)
    return -1;
  if (v->type == VDI_DIFF)
    return open_parent (v, flags);
  /* Only a hint for vdi_map: without it everything goes by pread. */
  v->file_size = st.st_size;
  v->file_map = mmap (NULL, st.st_size, PROT_READ, MAP_SHARED, v->fd, 0);
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
  hv_debug ("%s: VDI type %" PRIu32 ", %" PRIu32 " blocks of %" PRIu32,
            filename, v->type, v->nblocks, v->block_size);
  return &v->d;
}

/* streamOptimized VMDK decoded as a stream, front to back.
 *
 * The disks inside an OVA are usually streamOptimized VMDKs (FORMATS.md
 * 3.3): a header, then zlib-compressed grains each behind a 12-byte
 * marker (LBA, compressed size), metadata markers (GT, GD, footer) and
 * an end-of-stream marker.  Read in order, the grains alone give the
 * disk, so an OVA entry is converted as libarchive hands it over, never
 * extracted to a file.  Every field is checked: grain size and capacity
 * bounded, each grain's LBA inside the disk, its compressed size within
 * what a grain can take, and inflation bounded to one grain (no zip
 * bomb).
 */
#include <config.h>

#include <inttypes.h>
#include <zlib.h>

#include "importers.h"

#define SECTOR        512
#define KDMV_MAGIC    0x564D444Bu          /* "KDMV" little-endian */
#define FLAG_COMPRESSED (1u << 16)
#define FLAG_MARKERS    (1u << 17)
#define MAX_GRAIN_SECTORS 65536               /* 32 MiB grains */
#define MAX_CAPACITY  (2040 * GiB)
#define MARKER_EOS    0
#define MAX_META_SECTORS (64 * MiB / SECTOR)

struct vmdk_stream {
  const char *name;
  vmdk_read_fn read;
  void *opaque;
  uint64_t capacity;         /* bytes */
  uint32_t grain;            /* bytes */
  uint8_t *zbuf;             /* one compressed grain, with its marker */
  size_t zcap;
  uint8_t *grain_buf;
};

/* Discard N bytes of the stream. */
static int
skip (struct vmdk_stream *s, uint64_t n)
{
  uint8_t buf[SECTOR * 8];

  while (n > 0) {
    size_t k = MIN (n, sizeof buf);
    if (s->read (s->opaque, buf, k) == -1)
      return -1;
    n -= k;
  }
  return 0;
}

static int
check_header (struct vmdk_stream *s, const uint8_t *h, uint64_t *overhead)
{
  const uint32_t flags = load_le32 (h + 8);
  const uint64_t cap = load_le64 (h + 12), gs = load_le64 (h + 20);

  *overhead = load_le64 (h + 64);
  if (load_le32 (h) != KDMV_MAGIC) {
    hv_error (HV_E_FORMAT, "%s: not a VMDK sparse extent (no KDMV magic)",
              s->name);
    return -1;
  }
  if (!(flags & FLAG_COMPRESSED) || !(flags & FLAG_MARKERS) ||
      load_le16 (h + 77) != 1) {
    hv_error (HV_E_UNSUPPORTED, "%s: a VMDK that is not streamOptimized "
              "(flags 0x%" PRIx32 ") cannot be read as a stream", s->name,
              flags);
    return -1;
  }
  if (gs < 8 || gs > MAX_GRAIN_SECTORS || (gs & (gs - 1))) {
    hv_error (HV_E_FORMAT, "%s: grainSize %" PRIu64 " sectors is not a "
              "power of two from 8 to %d", s->name, gs, MAX_GRAIN_SECTORS);
    return -1;
  }
  if (cap == 0 || cap > MAX_CAPACITY / SECTOR) {
    hv_error (HV_E_TOO_LARGE, "%s: capacity %" PRIu64 " sectors (more than "
              "2040 GiB, or none)", s->name, cap);
    return -1;
  }
  if (*overhead < 1 || *overhead > MAX_META_SECTORS) {
    hv_error (HV_E_FORMAT, "%s: overHead %" PRIu64 " sectors out of range",
              s->name, *overhead);
    return -1;
  }
  s->capacity = cap * SECTOR;
  s->grain = (uint32_t) (gs * SECTOR);
  return 0;
}

struct vmdk_stream *
vmdk_stream_start (const char *name, vmdk_read_fn read, void *opaque)
{
  struct vmdk_stream *s = calloc (1, sizeof *s);
  uint8_t h[SECTOR];
  uint64_t overhead;

  if (s == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", name);
    return NULL;
  }
  *s = (struct vmdk_stream) { .name = name, .read = read, .opaque = opaque };
  if (read (opaque, h, sizeof h) == -1 ||
      check_header (s, h, &overhead) == -1 ||
      skip (s, (overhead - 1) * SECTOR) == -1) {
    free (s);
    return NULL;
  }
  /* A grain that does not compress is a little larger than the grain. */
  s->zcap = ROUND_UP ((size_t) compressBound (s->grain) + 12, SECTOR);
  s->zbuf = malloc (s->zcap);
  s->grain_buf = malloc (s->grain);
  if (s->zbuf == NULL || s->grain_buf == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", name);
    vmdk_stream_free (s);
    return NULL;
  }
  return s;
}

uint64_t
vmdk_stream_size (const struct vmdk_stream *s)
{
  return s->capacity;
}

/* Inflate the grain in zbuf (SIZE compressed bytes after the marker)
 * into grain_buf; returns the bytes produced, at most one grain. */
static ssize_t
inflate_grain (struct vmdk_stream *s, uint64_t lba, uint32_t size)
{
  uLongf out = s->grain;
  int r = uncompress (s->grain_buf, &out, s->zbuf + 12, size);

  if (r != Z_OK) {
    hv_error (HV_E_FORMAT, "%s: grain at sector %" PRIu64 ": %s%s", s->name,
              lba, r == Z_BUF_ERROR ? "inflates past the grain size or is "
              "truncated: " : "corrupt compressed data: ", zError (r));
    return -1;
  }
  return (ssize_t) out;
}

/* One grain: its marker's first sector is in zbuf already. */
static int
grain (struct vmdk_stream *s, uint64_t lba, uint32_t size, struct disk *dst,
       uint64_t *written)
{
  const size_t total = ROUND_UP ((size_t) size + 12, SECTOR);
  const uint64_t at = lba * SECTOR;
  ssize_t n;

  if (size > s->zcap - 12) {
    hv_error (HV_E_FORMAT, "%s: grain at sector %" PRIu64 ": compressed "
              "size %" PRIu32 " is more than a grain can take", s->name, lba,
              size);
    return -1;
  }
  if (lba % (s->grain / SECTOR) || at >= s->capacity) {
    hv_error (HV_E_FORMAT, "%s: grain marker LBA %" PRIu64 " is not a grain "
              "boundary inside the disk", s->name, lba);
    return -1;
  }
  if (s->read (s->opaque, s->zbuf + SECTOR, total - SECTOR) == -1 ||
      (n = inflate_grain (s, lba, size)) == -1)
    return -1;
  n = MIN ((uint64_t) n, s->capacity - at);
  if (n == 0 || is_zero (s->grain_buf, n))
    return 0;
  *written += n;
  return disk_pwrite (dst, s->grain_buf, n, at);
}

int
vmdk_stream_copy (struct vmdk_stream *s, struct disk *dst, uint64_t *written)
{
  uint8_t *m = s->zbuf;

  *written = 0;
  for (;;) {
    uint64_t val;
    uint32_t size;
    if (hv_check_interrupted () == -1 ||
        s->read (s->opaque, m, SECTOR) == -1)
      return -1;
    val = load_le64 (m);
    size = load_le32 (m + 8);
    if (size != 0) {
      if (grain (s, val, size, dst, written) == -1)
        return -1;
      continue;
    }
    if (load_le32 (m + 12) == MARKER_EOS)
      return 0;
    if (val > MAX_META_SECTORS) {
      hv_error (HV_E_FORMAT, "%s: metadata marker of %" PRIu64 " sectors",
                s->name, val);
      return -1;
    }
    if (skip (s, val * SECTOR) == -1)
      return -1;
  }
}

void
vmdk_stream_free (struct vmdk_stream *s)
{
  if (s == NULL)
    return;
  free (s->zbuf);
  free (s->grain_buf);
  free (s);
}

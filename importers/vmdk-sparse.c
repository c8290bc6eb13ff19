/* One VMDK sparse extent file ("KDMV", hosted sparse extent version 1-3).
 *
 * Layout (sectors of 512 bytes, all fields little-endian):
 *   header (1 sector) | embedded descriptor | redundant GD + GTs |
 *   GD + GTs | grains
 * The grain directory (GD) holds the sector of each grain table (GT);
 * a GT holds 512 grain table entries (GTEs), each the sector of one
 * grain.  GTE 0 is unallocated (zeros, or the parent's data in a delta);
 * GTE 1 with the zeroed-grain flag reads as zeros even in a delta.
 *
 * streamOptimized files compress each grain (zlib, RFC 1950) behind a
 * 12-byte grain marker (u64 LBA in sectors, u32 compressed size); the
 * GTE points at the marker.  When gdOffset is GD_AT_END the real header
 * is the footer copy at EOF-1024, between a footer marker and the
 * end-of-stream marker.  A file whose GD is at its end but that has no
 * footer is refused as truncated: rebuilding the grain index by scanning
 * the stream would silently convert a partial download.
 *
 * The redundant GD is not read: the primary one is what VMware and qemu
 * read, and a file whose primary GD is damaged is refused rather than
 * guessed at.  GTs are read on demand and cached in a few slots under a
 * lock; compressed grains are inflated per call, outside the lock, with
 * the output bounded to one grain, so several threads decode at once.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zlib.h>

#include "vmdk-internal.h"

#define GD_AT_END        UINT64_MAX
#define GTES_PER_GT      512
#define GT_BYTES         (GTES_PER_GT * 4)
#define MAX_GRAIN        2048           /* sectors: 1 MiB; VMware uses 128 */
#define GT_CACHE_SLOTS   16             /* 16 x 2 KiB, each maps 512 grains */
#define MARKER_SIZE      12             /* grain marker: lba u64, size u32 */

/* Header flags. */
#define FLAG_NL_TEST     (1u << 0)      /* the newline check bytes are valid */
#define FLAG_RGD         (1u << 1)      /* a redundant GD exists */
#define FLAG_ZERO_GTE    (1u << 2)      /* GTE 1 means a zeroed grain */
#define FLAG_COMPRESSED  (1u << 16)
#define FLAG_MARKERS     (1u << 17)
#define KNOWN_FLAGS      (FLAG_NL_TEST | FLAG_RGD | FLAG_ZERO_GTE | \
                          FLAG_COMPRESSED | FLAG_MARKERS)

/* Metadata marker types of streamOptimized files. */
#define MARKER_EOS       0
#define MARKER_FOOTER    3

#define COMPRESS_DEFLATE 1
#define SESPARSE_MAGIC   UINT64_C (0x00000000cafebabe)

/* The 512-byte sparse extent header, in host order.  On disk: "KDMV" at
 * offset 0, then every field little-endian at the offset noted. */
struct kdmv_header {
  uint32_t version;             /* 4: 1, 2 (zeroed grains) or 3 */
  uint32_t flags;               /* 8: FLAG_* */
  uint64_t capacity;            /* 12: sectors */
  uint64_t grain;               /* 20: sectors per grain */
  uint64_t desc_offset;         /* 28: sector of the descriptor, 0 none */
  uint64_t desc_size;           /* 36: sectors */
  uint32_t gtes_per_gt;         /* 44: always 512 */
  uint64_t rgd_offset;          /* 48: sector of the redundant GD */
  uint64_t gd_offset;           /* 56: sector of the GD, or GD_AT_END */
  uint64_t overhead;            /* 64: sectors before the first grain */
  uint8_t unclean;              /* 72: uncleanShutdown */
  uint8_t nl_check[4];          /* 73: '\n' ' ' '\r' '\n' */
  uint16_t compress;            /* 77: 0 none, 1 deflate */
};

static void
header_decode (const uint8_t *b, struct kdmv_header *h)
{
  h->version = load_le32 (b + 4);
  h->flags = load_le32 (b + 8);
  h->capacity = load_le64 (b + 12);
  h->grain = load_le64 (b + 20);
  h->desc_offset = load_le64 (b + 28);
  h->desc_size = load_le64 (b + 36);
  h->gtes_per_gt = load_le32 (b + 44);
  h->rgd_offset = load_le64 (b + 48);
  h->gd_offset = load_le64 (b + 56);
  h->overhead = load_le64 (b + 64);
  h->unclean = b[72];
  memcpy (h->nl_check, b + 73, 4);
  h->compress = load_le16 (b + 77);
}

struct gt_slot {
  uint64_t gt;                  /* which GT, or UINT64_MAX: empty */
  uint64_t stamp;               /* last use, for LRU */
  uint32_t gte[GTES_PER_GT];    /* host order */
};

struct vmdk_sparse {
  int fd;
  char *label;                  /* message prefix */
  uint64_t file_size;
  struct kdmv_header h;         /* the footer's copy when GD_AT_END */
  uint64_t capacity;            /* bytes */
  uint32_t grain;               /* bytes */
  uint64_t grains;              /* grains that hold the capacity */
  uint32_t *gd;                 /* host order */
  uint64_t gd_len;
  bool compressed, markers, zero_gte;
  size_t max_compressed;        /* bytes a compressed grain may take */
  uint64_t *gd_budget;          /* while opening: see vmdk_sparse_open */

  pthread_mutex_t lock;         /* guards the cache and the clock */
  struct gt_slot *cache;        /* GT_CACHE_SLOTS, allocated on first use */
  uint64_t clock;
};

uint64_t
vmdk_sparse_capacity (const struct vmdk_sparse *s)
{
  return s->capacity;
}

uint32_t
vmdk_sparse_grain (const struct vmdk_sparse *s)
{
  return s->grain;
}

/* ---------------------------------------------------------------- */
/* Opening: header, footer, checks, grain directory. */

static int
read_at (struct vmdk_sparse *s, void *buf, size_t n, uint64_t off,
         const char *what)
{
  if (full_pread (s->fd, buf, n, off) == -1) {
    hv_error (HV_E_IO, "%s: reading the %s (%zu bytes at offset %" PRIu64
              "): %m", s->label, what, n, off);
    return -1;
  }
  return 0;
}

/* Magic numbers of the sparse formats we recognise but do not read. */
static int
check_magic (struct vmdk_sparse *s, const uint8_t *b)
{
  if (memcmp (b, "KDMV", 4) == 0)
    return 0;
  if (memcmp (b, "COWD", 4) == 0)
    hv_error (HV_E_UNSUPPORTED, "%s: a COWD sparse extent (ESX vmfsSparse "
              "or vmfsThin): consolidate the VM's snapshots or clone the "
              "disk to a flat one (vmkfstools -i SRC DST -d thin), and "
              "convert that", s->label);
  else if (load_le64 (b) == SESPARSE_MAGIC)
    hv_error (HV_E_UNSUPPORTED, "%s: an SE sparse extent (ESXi seSparse "
              "snapshot): consolidate the VM's snapshots or clone the disk "
              "to a flat one (vmkfstools -i SRC DST -d thin), and convert "
              "that", s->label);
  else
    hv_error (HV_E_FORMAT, "%s: not a VMDK sparse extent (no \"KDMV\" "
              "magic)", s->label);
  return -1;
}

/* streamOptimized: the last three sectors are a footer marker, a copy of
 * the header with the real gdOffset, and the end-of-stream marker. */
static int
read_footer (struct vmdk_sparse *s)
{
  const uint64_t end = s->file_size / VMDK_SECTOR * VMDK_SECTOR;
  uint8_t b[3 * VMDK_SECTOR];
  const uint8_t *marker = b, *copy = b + 512, *eos = b + 1024;

  if (end < 4 * VMDK_SECTOR || read_at (s, b, sizeof b, end - sizeof b,
                                        "footer") == -1 ||
      load_le32 (marker + 8) != 0 || load_le32 (marker + 12) != MARKER_FOOTER ||
      memcmp (copy, "KDMV", 4) != 0 || load_le64 (eos) != 0 ||
      load_le32 (eos + 8) != 0 || load_le32 (eos + 12) != MARKER_EOS) {
    hv_error (HV_E_FORMAT, "%s: gdOffset says the grain directory is at the "
              "end of the file, but there is no valid footer at offset %"
              PRIu64 ": the file is truncated (an interrupted download or "
              "export?)", s->label, end >= 1024 ? end - 1024 : 0);
    return -1;
  }
  header_decode (copy, &s->h);
  if (s->h.gd_offset == GD_AT_END) {
    hv_error (HV_E_FORMAT, "%s: the footer's gdOffset is GD_AT_END too",
              s->label);
    return -1;
  }
  return 0;
}

static int
bad_field (struct vmdk_sparse *s, enum hv_code code, const char *field,
           uint64_t value, const char *why)
{
  hv_error (code, "%s: header field %s = %" PRIu64 ": %s", s->label, field,
            value, why);
  return -1;
}

static int
check_version_flags (struct vmdk_sparse *s)
{
  const struct kdmv_header *h = &s->h;

  if (h->version < 1 || h->version > 3)
    return bad_field (s, HV_E_UNSUPPORTED, "version", h->version,
                      "only versions 1 to 3 are known");
  if (h->flags & ~KNOWN_FLAGS)
    hv_warning (HV_E_FORMAT, "%s: unknown header flags 0x%" PRIx32
                " ignored", s->label, h->flags & ~KNOWN_FLAGS);
  if ((h->flags & FLAG_NL_TEST) && memcmp (h->nl_check, "\n \r\n", 4) != 0) {
    hv_error (HV_E_FORMAT, "%s: the newline check bytes of the header are "
              "damaged: the file was copied in text mode (FTP ASCII?); "
              "copy it again in binary mode", s->label);
    return -1;
  }
  if (h->compress > COMPRESS_DEFLATE)
    return bad_field (s, HV_E_UNSUPPORTED, "compressAlgorithm", h->compress,
                      "only 1 (deflate) is known");
  if ((h->flags & FLAG_COMPRESSED) && h->compress != COMPRESS_DEFLATE)
    return bad_field (s, HV_E_FORMAT, "compressAlgorithm", h->compress,
                      "compressed grains need algorithm 1 (deflate)");
  /* As qemu: the algorithm, not the flag, says grains are compressed. */
  s->compressed = h->compress == COMPRESS_DEFLATE;
  s->markers = h->flags & FLAG_MARKERS;
  if (s->markers && !s->compressed) {
    hv_error (HV_E_UNSUPPORTED, "%s: header flags 0x%" PRIx32 ": grain "
              "markers on uncompressed grains are not a known layout",
              s->label, h->flags);
    return -1;
  }
  s->zero_gte = h->flags & FLAG_ZERO_GTE;
  if (h->unclean)
    hv_warning (HV_E_FORMAT, "%s: the disk was not closed cleanly (was the "
                "VM running?); its content may be inconsistent", s->label);
  return 0;
}

static int
check_geometry (struct vmdk_sparse *s)
{
  const struct kdmv_header *h = &s->h;

  if (!IS_POWER_OF_2 (h->grain) || h->grain > MAX_GRAIN)
    return bad_field (s, HV_E_FORMAT, "grainSize", h->grain,
                      "not a power of two from 1 to 2048 sectors");
  if (h->gtes_per_gt != GTES_PER_GT)
    return bad_field (s, HV_E_FORMAT, "numGTEsPerGT", h->gtes_per_gt,
                      "must be 512");
  if (h->capacity == 0 || h->capacity > UINT64_MAX / VMDK_SECTOR)
    return bad_field (s, HV_E_FORMAT, "capacity", h->capacity,
                      "zero or too large to address");
  s->grain = h->grain * VMDK_SECTOR;
  s->capacity = h->capacity * VMDK_SECTOR;
  s->grains = DIV_ROUND_UP (h->capacity, h->grain);
  s->gd_len = DIV_ROUND_UP (s->grains, GTES_PER_GT);
  /* A deflate stream of one grain is at most a little longer than the
   * grain; allow twice that, like qemu. */
  s->max_compressed = 2 * (size_t) s->grain;
  if (s->gd_len * 4 > *s->gd_budget) {
    hv_error (HV_E_TOO_LARGE, "%s: capacity %" PRIu64 " sectors in grains "
              "of %" PRIu64 " sectors needs a grain directory of %" PRIu64
              " bytes; the grain directories of a disk may take %llu bytes "
              "in all", s->label, h->capacity, h->grain, s->gd_len * 4,
              VMDK_GD_MAX);
    return -1;
  }
  *s->gd_budget -= s->gd_len * 4;
  return 0;
}

/* Is [SECTOR, SECTOR + BYTES) inside the file? */
static bool
inside (const struct vmdk_sparse *s, uint64_t sector, uint64_t bytes)
{
  uint64_t off, end;

  return !ckd_mul (&off, sector, (uint64_t) VMDK_SECTOR) &&
         !ckd_add (&end, off, bytes) && end <= s->file_size;
}

static int
check_tables (struct vmdk_sparse *s)
{
  const struct kdmv_header *h = &s->h;

  if (h->desc_offset &&
      (h->desc_size == 0 || h->desc_size > VMDK_DESC_MAX / VMDK_SECTOR))
    return bad_field (s, HV_E_FORMAT, "descriptorSize", h->desc_size,
                      "not from 1 to 512 sectors (256 KiB)");
  if (h->desc_offset && !inside (s, h->desc_offset, h->desc_size * 512))
    return bad_field (s, HV_E_FORMAT, "descriptorOffset", h->desc_offset,
                      "the descriptor lies outside the file");
  if (h->gd_offset == 0 || !inside (s, h->gd_offset, s->gd_len * 4))
    return bad_field (s, HV_E_FORMAT, "gdOffset", h->gd_offset,
                      "the grain directory lies outside the file");
  return 0;
}

static int
load_gd (struct vmdk_sparse *s)
{
  const size_t bytes = s->gd_len * 4;
  uint8_t *raw = (uint8_t *) (s->gd = malloc (bytes));

  if (s->gd == NULL) {
    hv_error (HV_E_NOMEM, "%s: grain directory: %m", s->label);
    return -1;
  }
  if (read_at (s, raw, bytes, s->h.gd_offset * VMDK_SECTOR,
               "grain directory") == -1)
    return -1;
  for (uint64_t i = 0; i < s->gd_len; i++) {
    s->gd[i] = load_le32 (raw + 4 * i);
    if (s->gd[i] && !inside (s, s->gd[i], GT_BYTES)) {
      hv_error (HV_E_FORMAT, "%s: grain directory entry %" PRIu64 " points "
                "to sector %" PRIu32 ", outside the file", s->label, i,
                s->gd[i]);
      return -1;
    }
  }
  return 0;
}

static int
sparse_setup (struct vmdk_sparse *s)
{
  uint8_t b[VMDK_SECTOR];
  struct stat st;

  if (fstat (s->fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", s->label);
    return -1;
  }
  if (!S_ISREG (st.st_mode)) {
    hv_error (HV_E_UNSUPPORTED, "%s: a sparse extent must be a regular file",
              s->label);
    return -1;
  }
  s->file_size = (uint64_t) st.st_size;
  if (s->file_size >= 4 &&
      (read_at (s, b, 4, 0, "magic") == -1 || check_magic (s, b) == -1))
    return -1;
  if (s->file_size < VMDK_SECTOR) {
    hv_error (HV_E_FORMAT, "%s: the header is truncated: the file has %"
              PRIu64 " bytes, the header needs 512", s->label, s->file_size);
    return -1;
  }
  if (read_at (s, b, sizeof b, 0, "header") == -1)
    return -1;
  header_decode (b, &s->h);
  if (s->h.gd_offset == GD_AT_END && read_footer (s) == -1)
    return -1;
  if (check_version_flags (s) == -1 || check_geometry (s) == -1 ||
      check_tables (s) == -1)
    return -1;
  return load_gd (s);
}

struct vmdk_sparse *
vmdk_sparse_open (const char *path, const char *label, uint64_t *gd_budget)
{
  struct vmdk_sparse *s = calloc (1, sizeof *s);

  if (s == NULL || (s->label = strdup (label)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", label);
    free (s);
    return NULL;
  }
  pthread_mutex_init (&s->lock, NULL);
  s->gd_budget = gd_budget;
  /* O_NONBLOCK: a FIFO named as an extent must not hang the open; the
   * type check refuses it right after. */
  s->fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (s->fd == -1)
    hv_error (HV_E_IO, "%s: %s: %m", label, path);
  if (s->fd == -1 || sparse_setup (s) == -1) {
    vmdk_sparse_close (s);
    return NULL;
  }
  hv_debug ("%s: sparse extent v%" PRIu32 ", %" PRIu64 " sectors, grain %"
            PRIu32 "%s%s%s", label, s->h.version, s->h.capacity,
            s->grain, s->compressed ? ", compressed" : "",
            s->markers ? ", markers" : "", s->zero_gte ? ", zeroed GTEs" : "");
  return s;
}

void
vmdk_sparse_close (struct vmdk_sparse *s)
{
  if (s == NULL)
    return;
  if (s->fd >= 0)
    close (s->fd);
  pthread_mutex_destroy (&s->lock);
  free (s->cache);
  free (s->gd);
  free (s->label);
  free (s);
}

int
vmdk_sparse_descriptor (struct vmdk_sparse *s, char **text, size_t *len)
{
  const size_t n = s->h.desc_size * VMDK_SECTOR;

  *text = NULL;
  *len = 0;
  if (s->h.desc_offset == 0)
    return 0;
  *text = malloc (n);
  if (*text == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", s->label);
    return -1;
  }
  if (read_at (s, *text, n, s->h.desc_offset * VMDK_SECTOR,
               "embedded descriptor") == -1) {
    free (*text);
    *text = NULL;
    return -1;
  }
  *len = n;
  return 0;
}

/* ---------------------------------------------------------------- */
/* Grain tables. */

/* The cached slot of GT number T, read on a miss.  Called with the lock
 * held; NULL after reporting. */
static struct gt_slot *
get_gt (struct vmdk_sparse *s, uint64_t t)
{
  struct gt_slot *victim;

  if (s->cache == NULL) {
    s->cache = malloc (GT_CACHE_SLOTS * sizeof *s->cache);
    if (s->cache == NULL) {
      hv_error (HV_E_NOMEM, "%s: grain table cache: %m", s->label);
      return NULL;
    }
    for (size_t i = 0; i < GT_CACHE_SLOTS; i++)
      s->cache[i] = (struct gt_slot) { .gt = UINT64_MAX };
  }
  victim = &s->cache[0];
  for (size_t i = 0; i < GT_CACHE_SLOTS; i++) {
    struct gt_slot *slot = &s->cache[i];
    if (slot->gt == t) {
      slot->stamp = ++s->clock;
      return slot;
    }
    if (slot->stamp < victim->stamp)
      victim = slot;
  }
  victim->gt = UINT64_MAX;
  if (read_at (s, victim->gte, GT_BYTES, (uint64_t) s->gd[t] * VMDK_SECTOR,
               "grain table") == -1)
    return NULL;
  for (size_t i = 0; i < GTES_PER_GT; i++)
    victim->gte[i] = load_le32 (&victim->gte[i]);
  victim->gt = t;
  victim->stamp = ++s->clock;
  return victim;
}

static enum vmdk_grain
kind_of (const struct vmdk_sparse *s, uint32_t gte)
{
  if (gte == 0)
    return VMDK_GRAIN_UNALLOCATED;
  if (gte == 1 && s->zero_gte)
    return VMDK_GRAIN_ZERO;
  return VMDK_GRAIN_DATA;
}

/* Grains I .. I+N-1 of one GT as a run starting at I. */
static void
gt_run (const struct vmdk_sparse *s, const uint32_t *gte, uint64_t i,
        uint64_t n, struct vmdk_run *run)
{
  const uint32_t step = s->grain / VMDK_SECTOR;
  uint64_t k = 1;

  run->kind = kind_of (s, gte[i]);
  run->sector = gte[i];
  if (run->kind == VMDK_GRAIN_DATA && s->compressed)
    n = 1;                      /* each compressed grain is read alone */
  while (k < n && kind_of (s, gte[i + k]) == run->kind &&
         (run->kind != VMDK_GRAIN_DATA ||
          (uint64_t) gte[i + k] == (uint64_t) gte[i] + k * step))
    k++;
  run->count = k;
}

int
vmdk_sparse_lookup (struct vmdk_sparse *s, uint64_t g, uint64_t max,
                    struct vmdk_run *run)
{
  const uint64_t t = g / GTES_PER_GT, i = g % GTES_PER_GT;
  struct gt_slot *slot;
  uint64_t n;

  *run = (struct vmdk_run) { VMDK_GRAIN_UNALLOCATED, g, max, 0 };
  if (g >= s->grains)
    return 0;
  n = MIN (max, MIN (GTES_PER_GT - i, s->grains - g));
  run->count = n;
  if (s->gd[t] == 0)
    return 0;
  pthread_mutex_lock (&s->lock);
  slot = get_gt (s, t);
  if (slot)
    gt_run (s, slot->gte, i, n, run);
  pthread_mutex_unlock (&s->lock);
  if (slot == NULL)
    return -1;
  run->first = g;
  if (run->kind == VMDK_GRAIN_DATA && !inside (s, run->sector, 1)) {
    hv_error (HV_E_FORMAT, "%s: the grain table entry of grain %" PRIu64
              " points to sector %" PRIu64 ", outside the file", s->label,
              g, run->sector);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* Reading grains. */

/* Inflate the zlib stream IN (LEN bytes) into exactly WANT bytes at OUT;
 * never writes past OUT + WANT.  The fast whole-buffer decoder goes
 * first; zlib gives the verdict on anything it does not take. */
static int
inflate_grain (struct vmdk_sparse *s, const uint8_t *in, size_t len,
               uint8_t *out, size_t want, uint64_t g)
{
  z_stream z = { .next_in = (uint8_t *) in, .avail_in = (uInt) len,
                 .next_out = out, .avail_out = (uInt) want };
  int r;

  if (inflate_whole (INFLATE_ZLIB, in, len, out, want) == 0)
    return 0;
  r = inflateInit (&z);
  if (r != Z_OK) {
    hv_error (HV_E_NOMEM, "%s: zlib: %s", s->label, zError (r));
    return -1;
  }
  r = inflate (&z, Z_FINISH);
  inflateEnd (&z);
  if (r == Z_STREAM_END && z.avail_out == 0)
    return 0;
  if (r == Z_STREAM_END)
    hv_error (HV_E_FORMAT, "%s: compressed grain %" PRIu64 " inflates to %zu "
              "bytes, want %zu", s->label, g, want - z.avail_out, want);
  else if (r == Z_BUF_ERROR && z.avail_out == 0)
    hv_error (HV_E_FORMAT, "%s: compressed grain %" PRIu64 " inflates past "
              "the end of the grain (more than %zu bytes)", s->label, g, want);
  else
    hv_error (HV_E_FORMAT, "%s: compressed grain %" PRIu64 " is corrupt "
              "(zlib: %s)", s->label, g, z.msg ? z.msg : zError (r));
  return -1;
}

/* The compressed bytes of grain G at SECTOR: the marker is checked and
 * skipped.  *DATA gets a malloc'd buffer, *START and *LEN the stream.
 * With markers, a first read of half a grain holds most compressed
 * grains whole, and the rest is read once the marker gave the size (so
 * we read about what is stored, not the bound).  Without markers the
 * size is unknown until inflated: the bound is read. */
static int
read_compressed (struct vmdk_sparse *s, uint64_t sector, uint64_t g,
                 uint8_t **data, size_t *start, size_t *len)
{
  const uint64_t off = sector * VMDK_SECTOR;
  const size_t head = s->markers ? MARKER_SIZE : 0;
  const size_t n = MIN (head + s->max_compressed, s->file_size - off);
  const size_t first = s->markers ? MIN (n, head + s->grain / 2) : n;
  uint64_t lba;

  if (n <= head) {
    hv_error (HV_E_FORMAT, "%s: grain %" PRIu64 " at offset %" PRIu64
              " is cut off by the end of the file", s->label, g, off);
    return -1;
  }
  *data = malloc (n);
  if (*data == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", s->label);
    return -1;
  }
  if (read_at (s, *data, first, off, "compressed grain") == -1)
    return -1;
  *start = head;
  *len = n - head;
  if (!s->markers)
    return 0;
  lba = load_le64 (*data);
  *len = load_le32 (*data + 8);
  if (lba != g * (s->grain / VMDK_SECTOR)) {
    hv_error (HV_E_FORMAT, "%s: the grain marker at offset %" PRIu64 " has "
              "LBA %" PRIu64 ", but the grain table says it holds sector %"
              PRIu64, s->label, off, lba, g * (s->grain / VMDK_SECTOR));
    return -1;
  }
  if (*len == 0 || *len > n - head) {
    hv_error (HV_E_FORMAT, "%s: the grain marker at offset %" PRIu64 " gives "
              "a compressed size of %zu bytes, %s", s->label, off, *len,
              *len == 0 ? "zero" : "beyond the file or the grain's bound");
    return -1;
  }
  if (head + *len > first)
    return read_at (s, *data + first, head + *len - first, off + first,
                    "compressed grain");
  return 0;
}

/* COUNT bytes at IN_GRAIN of compressed grain G stored at SECTOR. */
static int
pread_compressed (struct vmdk_sparse *s, uint64_t sector, uint64_t g,
                  uint8_t *buf, size_t count, size_t in_grain)
{
  const size_t want = MIN ((uint64_t) s->grain, s->capacity - g * s->grain);
  uint8_t *data = NULL, *out = buf;
  size_t start, len;
  int r = -1;

  if (read_compressed (s, sector, g, &data, &start, &len) == -1)
    goto out;
  /* Inflate straight into the caller's buffer when it wants all of it. */
  if (in_grain != 0 || count != want) {
    out = malloc (want);
    if (out == NULL) {
      hv_error (HV_E_NOMEM, "%s: %m", s->label);
      goto out;
    }
  }
  r = inflate_grain (s, data + start, len, out, want, g);
  if (r == 0 && out != buf)
    memcpy (buf, out + in_grain, count);
 out:
  if (out != buf)
    free (out);
  free (data);
  return r;
}

int
vmdk_sparse_pread (struct vmdk_sparse *s, const struct vmdk_run *run,
                   void *buf, size_t count, uint64_t offset)
{
  const uint64_t in_run = offset - run->first * s->grain;
  const uint64_t at = run->sector * VMDK_SECTOR + in_run;

  if (offset + count > s->capacity ||
      in_run + count > run->count * s->grain) {
    hv_error (HV_E_INTERNAL, "%s: read of %zu bytes at offset %" PRIu64
              " outside its run of grains", s->label, count, offset);
    return -1;
  }
  if (s->compressed)
    return pread_compressed (s, run->sector, run->first, buf, count, in_run);
  if (full_pread (s->fd, buf, count, at) == -1) {
    hv_error (HV_E_IO, "%s: reading grain %" PRIu64 " (%zu bytes at offset %"
              PRIu64 "): %m", s->label, offset / s->grain, count, at);
    return -1;
  }
  return 0;
}

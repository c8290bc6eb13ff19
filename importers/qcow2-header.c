/* QCOW2 header, header extensions and backing file name.
 *
 * The header is big-endian and decoded here only (decode_header), then
 * every field a reader depends on is checked before use.  What a reader
 * may ignore it ignores: refcounts, snapshots, the compatible and
 * autoclear feature bits, the bitmaps extension.  What would change the
 * meaning of the data it refuses by name: encryption, an external data
 * file, extended L2 entries (subclusters), zstd compression, the corrupt
 * bit, and any incompatible bit it does not know (named from the
 * image's own feature name table when it has one).
 *
 * Header extensions (docs/interop/qcow2.txt) follow the header up to the
 * backing file name or the end of the first cluster; each is a u32 type,
 * a u32 length and data padded to 8 bytes:
 *
 *   0x00000000  end of the extensions
 *   0xE2792ACA  backing file format name ("raw", "qcow2", ...): honoured
 *   0x6803F857  feature name table, 48-byte entries (type, bit, name)
 *   0x23852875  bitmaps                       (ignored: autoclear)
 *   0x0537BE77  full disk encryption header   (crypt_method refuses it)
 *   0x44415441  external data file name       (bit 2 refuses it)
 *
 * Like qemu, bytes past the end of a short file read as zeros here, so
 * an extension area cut by the end of the file ends there.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "qcow2-internal.h"

#define QCOW2_MAGIC 0x514649fbu        /* "QFI\xfb" */
#define V2_HEADER_LEN 72
#define V3_HEADER_LEN 104

#define EXT_END 0x00000000u
#define EXT_BACKING_FORMAT 0xE2792ACAu
#define EXT_FEATURE_NAMES 0x6803F857u
#define FEATURE_ENTRY_LEN 48
#define FEATURE_TYPE_INCOMPAT 0

/* Where the feature name table lies in the first cluster, if anywhere. */
struct feature_table {
  size_t offset, len;
};

static int
header_error (const char *file, enum hv_code code, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

static int
header_error (const char *file, enum hv_code code, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  hv_error (code, "%s: qcow2 header: %s", file, msg);
  return -1;
}

/* The fixed fields; B holds at least V3_HEADER_LEN + 1 bytes (zeros past
 * the end of the file). */
static void
decode_header (const uint8_t *b, struct qcow2_header *h)
{
  h->version = load_be32 (b + 4);
  h->backing_file_offset = load_be64 (b + 8);
  h->backing_file_size = load_be32 (b + 16);
  h->cluster_bits = load_be32 (b + 20);
  h->size = load_be64 (b + 24);
  h->crypt_method = load_be32 (b + 32);
  h->l1_size = load_be32 (b + 36);
  h->l1_table_offset = load_be64 (b + 40);
  h->refcount_table_offset = load_be64 (b + 48);
  h->refcount_table_clusters = load_be32 (b + 56);
  h->nb_snapshots = load_be32 (b + 60);
  h->snapshots_offset = load_be64 (b + 64);
  h->header_length = V2_HEADER_LEN;
  if (h->version < 3)
    return;
  h->incompatible = load_be64 (b + 72);
  h->compatible = load_be64 (b + 80);
  h->autoclear = load_be64 (b + 88);
  h->refcount_order = load_be32 (b + 96);
  h->header_length = load_be32 (b + 100);
  /* Present when the header is longer than 104 bytes. */
  h->compression_type = h->header_length > V3_HEADER_LEN ? b[104] : 0;
}

static int
check_version (const char *file, const struct qcow2_header *h,
               uint64_t file_size)
{
  const uint64_t need = h->version == 2 ? V2_HEADER_LEN : V3_HEADER_LEN;

  if (h->version == 1)
    return header_error (file, HV_E_UNSUPPORTED, "version 1 (the original "
                         "QCOW format) is not supported; convert it with "
                         "qemu-img convert -O qcow2 first");
  if (h->version != 2 && h->version != 3)
    return header_error (file, HV_E_UNSUPPORTED, "version %" PRIu32
                         " is not supported (only 2 and 3)", h->version);
  if (file_size < need)
    return header_error (file, HV_E_FORMAT, "truncated: the file is %"
                         PRIu64 " bytes, a version %" PRIu32 " header is %"
                         PRIu64, file_size, h->version, need);
  return 0;
}

static int
check_geometry (const char *file, const struct qcow2_header *h,
                uint64_t file_size)
{
  uint64_t cluster;

  if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
      h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
    return header_error (file, HV_E_FORMAT, "cluster_bits %" PRIu32
                         " is out of range (%d to %d: 512 bytes to 2 MiB)",
                         h->cluster_bits, QCOW2_MIN_CLUSTER_BITS,
                         QCOW2_MAX_CLUSTER_BITS);
  cluster = 1ULL << h->cluster_bits;
  if (h->version == 3 &&
      (h->header_length < V3_HEADER_LEN || h->header_length > cluster))
    return header_error (file, HV_E_FORMAT, "header_length %" PRIu32
                         " is out of range (%d to the cluster size %" PRIu64
                         ")", h->header_length, V3_HEADER_LEN, cluster);
  if (h->header_length > file_size)
    return header_error (file, HV_E_FORMAT, "truncated: header_length %"
                         PRIu32 " is beyond the end of the file (%" PRIu64
                         " bytes)", h->header_length, file_size);
  return 0;
}

/* One extension at *POS (just past its type and length). */
static int
take_extension (const char *file, const uint8_t *b, uint32_t type,
                uint32_t len, uint64_t pos, struct qcow2_header *h,
                struct feature_table *ft)
{
  switch (type) {
  case EXT_BACKING_FORMAT:
    if (len >= sizeof h->backing_format)
      return header_error (file, HV_E_FORMAT, "backing format extension "
                           "at offset %" PRIu64 ": length %" PRIu32
                           " is too long (at most %zu)", pos - 8, len,
                           sizeof h->backing_format - 1);
    memcpy (h->backing_format, b + pos, len);
    h->backing_format[len] = '\0';
    return 0;
  case EXT_FEATURE_NAMES:
    ft->offset = pos;
    ft->len = len;
    return 0;
  default:                    /* bitmaps, crypto, data file, unknown */
    return 0;
  }
}

/* Walk the extensions in B[start, end) (END at most the cluster size,
 * the size of B). */
static int
read_extensions (const char *file, const uint8_t *b, uint64_t start,
                 uint64_t end, struct qcow2_header *h,
                 struct feature_table *ft)
{
  uint64_t pos = start;

  while (pos < end) {
    uint32_t type, len;
    if (end - pos < 8)
      return header_error (file, HV_E_FORMAT, "header extension at offset %"
                           PRIu64 " is cut by the end of the extension "
                           "area at %" PRIu64, pos, end);
    type = load_be32 (b + pos);
    len = load_be32 (b + pos + 4);
    pos += 8;
    if (type == EXT_END)
      return 0;
    if (len > end - pos)
      return header_error (file, HV_E_FORMAT, "header extension 0x%08"
                           PRIx32 " at offset %" PRIu64 ": length %" PRIu32
                           " runs past the end of the extension area at %"
                           PRIu64, type, pos - 8, len, end);
    if (take_extension (file, b, type, len, pos, h, ft) == -1)
      return -1;
    pos += ROUND_UP ((uint64_t) len, 8);
  }
  return 0;
}

/* The name the image gives incompatible feature BIT, or "". */
static void
feature_name (const uint8_t *b, const struct feature_table *ft, int bit,
              char name[FEATURE_ENTRY_LEN - 1])
{
  name[0] = '\0';
  for (size_t i = 0; i + FEATURE_ENTRY_LEN <= ft->len;
       i += FEATURE_ENTRY_LEN) {
    const uint8_t *e = b + ft->offset + i;
    if (e[0] != FEATURE_TYPE_INCOMPAT || e[1] != bit)
      continue;
    for (int j = 0; j < FEATURE_ENTRY_LEN - 2 && e[2 + j]; j++) {
      name[j] = e[2 + j] >= 0x20 && e[2 + j] < 0x7f ? (char) e[2 + j] : '?';
      name[j + 1] = '\0';
    }
    return;
  }
}

/* compression_type and incompatible bit 3, as qemu checks them. */
static int
check_compression (const char *file, const struct qcow2_header *h)
{
  const bool bit = h->incompatible & (1ULL << QCOW2_INCOMPAT_COMPRESSION);

  if (h->compression_type == 1)
    return header_error (file, HV_E_UNSUPPORTED, "zstd compression "
                         "(compression_type 1, incompatible feature bit 3) "
                         "is not supported; recompress it with qemu-img "
                         "convert -O qcow2 -o compression_type=zlib");
  if (h->compression_type != 0)
    return header_error (file, HV_E_UNSUPPORTED, "unknown compression_type %u",
                         h->compression_type);
  if (bit)
    return header_error (file, HV_E_FORMAT, "incompatible feature bit 3 "
                         "(compression type) is set but compression_type "
                         "is 0 (zlib)");
  return 0;
}

/* Incompatible bits change how the data must be read: any we do not
 * handle is refused, lowest bit first. */
static int
check_incompatible (const char *file, const uint8_t *b,
                    const struct qcow2_header *h,
                    const struct feature_table *ft)
{
  char name[FEATURE_ENTRY_LEN - 1];

  if (check_compression (file, h) == -1)
    return -1;
  for (int bit = 0; bit < 64; bit++) {
    if (!(h->incompatible & (1ULL << bit)))
      continue;
    switch (bit) {
    case QCOW2_INCOMPAT_DIRTY:          /* refcounts may be stale: unused */
    case QCOW2_INCOMPAT_COMPRESSION:    /* checked above */
      continue;
    case QCOW2_INCOMPAT_CORRUPT:
      return header_error (file, HV_E_FORMAT, "the image is marked corrupt "
                           "(incompatible feature bit 1); repair it with "
                           "qemu-img check -r all first");
    case QCOW2_INCOMPAT_DATA_FILE:
      return header_error (file, HV_E_UNSUPPORTED, "an external data file "
                           "(incompatible feature bit 2) is not supported");
    case QCOW2_INCOMPAT_EXTL2:
      return header_error (file, HV_E_UNSUPPORTED, "extended L2 entries "
                           "(incompatible feature bit 4, subclusters) are "
                           "not supported");
    default:
      feature_name (b, ft, bit, name);
      if (name[0])
        return header_error (file, HV_E_UNSUPPORTED, "unknown incompatible "
                             "feature bit %d ('%s')", bit, name);
      return header_error (file, HV_E_UNSUPPORTED, "unknown incompatible "
                           "feature bit %d (not named by the image)", bit);
    }
  }
  return 0;
}

static int
check_crypt (const char *file, const struct qcow2_header *h)
{
  static const char *const methods[] = { "none", "AES", "LUKS" };

  if (h->crypt_method == 0)
    return 0;
  if (h->crypt_method < ARRAY_SIZE (methods))
    return header_error (file, HV_E_UNSUPPORTED, "the image is encrypted "
                         "(crypt_method %" PRIu32 ", %s), which is not "
                         "supported; decrypt it with qemu-img convert first",
                         h->crypt_method, methods[h->crypt_method]);
  return header_error (file, HV_E_UNSUPPORTED, "unknown crypt_method %"
                       PRIu32, h->crypt_method);
}

/* The backing file name: anywhere in the file, not NUL-terminated. */
static int
read_backing_name (int fd, const char *file, uint64_t file_size,
                   struct qcow2_header *h)
{
  const uint64_t off = h->backing_file_offset;
  const uint32_t len = h->backing_file_size;
  uint64_t end;

  if (off == 0 || len == 0)   /* qemu: an empty name is no backing file */
    return 0;
  if (len > QCOW2_MAX_BACKING_NAME)
    return header_error (file, HV_E_FORMAT, "backing_file_size %" PRIu32
                         " is too long (at most %d)", len,
                         QCOW2_MAX_BACKING_NAME);
  if (ckd_add (&end, off, (uint64_t) len) || end > file_size)
    return header_error (file, HV_E_FORMAT, "the backing file name "
                         "(backing_file_offset %" PRIu64 ", backing_file_size %"
                         PRIu32 ") lies outside the file (%" PRIu64 " bytes)",
                         off, len, file_size);
  h->backing_file = calloc (1, len + 1);
  if (h->backing_file == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return -1;
  }
  if (full_pread (fd, h->backing_file, len, off) == -1) {
    hv_error (HV_E_IO, "%s: reading the backing file name at offset %"
              PRIu64 ": %m", file, off);
    return -1;
  }
  if (strlen (h->backing_file) != len)
    return header_error (file, HV_E_FORMAT, "the backing file name at "
                         "offset %" PRIu64 " contains a NUL byte", off);
  return 0;
}

/* The first cluster (zeros past the end of the file), once the cluster
 * size is known from the first bytes. */
static uint8_t *
read_first_cluster (int fd, const char *file, uint64_t file_size,
                    struct qcow2_header *h)
{
  uint8_t first[V3_HEADER_LEN + 8] = { 0 };
  uint8_t *b;
  size_t n;

  if (full_pread (fd, first, MIN (sizeof first, file_size), 0) == -1) {
    hv_error (HV_E_IO, "%s: reading the qcow2 header: %m", file);
    return NULL;
  }
  if (load_be32 (first) != QCOW2_MAGIC) {
    hv_error (HV_E_FORMAT, "%s: not a qcow2 image (no \"QFI\\xfb\" magic)",
              file);
    return NULL;
  }
  decode_header (first, h);
  if (check_version (file, h, file_size) == -1 ||
      check_geometry (file, h, file_size) == -1)
    return NULL;
  n = MIN ((uint64_t) 1 << h->cluster_bits, file_size);
  b = calloc (1, (size_t) 1 << h->cluster_bits);
  if (b == NULL)
    hv_error (HV_E_NOMEM, "%s: %m", file);
  else if (full_pread (fd, b, n, 0) == -1) {
    hv_error (HV_E_IO, "%s: reading the first cluster: %m", file);
    free (b);
    b = NULL;
  }
  return b;
}

int
qcow2_header_read (int fd, const char *file, uint64_t file_size,
                   struct qcow2_header *h)
{
  struct feature_table ft = { 0, 0 };
  uint64_t cluster, ext_end;
  uint8_t *b;
  int r = -1;

  *h = (struct qcow2_header) { 0 };
  b = read_first_cluster (fd, file, file_size, h);
  if (b == NULL)
    return -1;
  cluster = 1ULL << h->cluster_bits;
  /* Extensions end where the backing file name starts (qemu). */
  ext_end = h->backing_file_offset ? MIN (h->backing_file_offset, cluster)
                                   : cluster;
  if (read_extensions (file, b, h->header_length, ext_end, h, &ft) == 0 &&
      check_incompatible (file, b, h, &ft) == 0 &&
      check_crypt (file, h) == 0 &&
      read_backing_name (fd, file, file_size, h) == 0)
    r = 0;
  free (b);
  if (r == -1)
    qcow2_header_free (h);
  return r;
}

void
qcow2_header_free (struct qcow2_header *h)
{
  free (h->backing_file);
  h->backing_file = NULL;
}

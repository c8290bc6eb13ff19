/* The compression methods of initramfs segments: decoders that stop
 * where their stream ends, as the kernel's do, so the walk knows where
 * the next segment starts, and encoders for re-packing.
 *
 * gzip, xz, lzma and zstd go through zlib, liblzma and libzstd, which
 * report how much input a stream took.  bzip2, lzo and lz4 are decoded
 * by libarchive, which cannot tell where the stream ended: the walk
 * treats them as the image's last segment.
 *
 *   magic (as the kernel tests it)  method
 *   1f 8b, 1f 9e                    gzip (1f 9e: old gzip, refused by zlib)
 *   42 5a ("BZ")                    bzip2
 *   5d 00                           lzma
 *   fd 37                           xz
 *   89 4c                           lzo
 *   02 21                           lz4 (legacy frame)
 *   28 b5                           zstd
 */
#include <config.h>

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "initramfs-walk.h"

#define ENC_BUF (256 * KiB)

/* Re-packing levels.  Measured on the build machine (one core) with
 * the 137 MiB cpio of a Debian 12 MODULES=most image (35.0 MiB as
 * mkinitramfs writes it, zstd -9):
 *
 *   zstd -1  0.6 s  43.0 MB     gzip -1  1.9 s  46.4 MB
 *   zstd -3  1.0 s  39.7 MB     gzip -6  5.9 s  41.7 MB
 *   zstd -5  1.9 s  38.1 MB     xz -0    5.3 s  33.4 MB
 *   zstd -9  3.8 s  35.0 MB     xz -2   31.9 s  31.2 MB
 *
 * A few MB more in /boot for a fraction of the time; the guest's next
 * update-initramfs writes its own again.  gzip stays at its default:
 * gzip images are older and smaller. */
#define GZIP_LEVEL 6
#define XZ_PRESET 0
#define ZSTD_LEVEL 3

static const struct {
  uint8_t magic[2];
  enum irfs_method method;
} magics[] = {
  { { 0x1f, 0x8b }, IRFS_GZIP },
  { { 0x1f, 0x9e }, IRFS_GZIP },
  { { 0x42, 0x5a }, IRFS_BZIP2 },
  { { 0x5d, 0x00 }, IRFS_LZMA },
  { { 0xfd, 0x37 }, IRFS_XZ },
  { { 0x89, 0x4c }, IRFS_LZO },
  { { 0x02, 0x21 }, IRFS_LZ4 },
  { { 0x28, 0xb5 }, IRFS_ZSTD },
};

static const char *const method_names[] = {
  [IRFS_CPIO] = "cpio", [IRFS_GZIP] = "gzip", [IRFS_BZIP2] = "bzip2",
  [IRFS_LZMA] = "lzma", [IRFS_XZ] = "xz", [IRFS_LZO] = "lzo",
  [IRFS_LZ4] = "lz4", [IRFS_ZSTD] = "zstd",
};

const char *
irfs_method_name (enum irfs_method m)
{
  return method_names[m];
}

int
irfs_method_of (const uint8_t *p, size_t len)
{
  if (len < 2)
    return -1;
  for (size_t i = 0; i < ARRAY_SIZE (magics); i++)
    if (memcmp (p, magics[i].magic, 2) == 0)
      return magics[i].method;
  return -1;
}

/* ------------------------------------------------------------------ */
/* Decoders. */

struct irfs_decoder {
  enum irfs_method method;
  const char *what;
  const uint8_t *in;
  size_t in_len;
  bool done;
  uint64_t consumed;
  z_stream z;
  lzma_stream x;
  ZSTD_DStream *zs;
  ZSTD_inBuffer zin;
  struct archive *a;
};

static int
gzip_init (struct irfs_decoder *d)
{
  d->z.next_in = (Bytef *) d->in;
  d->z.avail_in = d->in_len;
  /* 16 + MAX_WBITS: a gzip header and trailer; one member only, like
   * the kernel's gunzip. */
  if (inflateInit2 (&d->z, 16 + MAX_WBITS) != Z_OK) {
    hv_error (HV_E_NOMEM, "%s: cannot start the gzip decoder", d->what);
    return -1;
  }
  return 0;
}

static ssize_t
gzip_read (struct irfs_decoder *d, void *buf, size_t n)
{
  int r;

  d->z.next_out = buf;
  d->z.avail_out = n;
  r = inflate (&d->z, Z_NO_FLUSH);
  if (r == Z_STREAM_END) {
    d->done = true;
    d->consumed = d->z.total_in;
  }
  else if (r == Z_BUF_ERROR && d->z.avail_in == 0) {
    hv_error (HV_E_FORMAT, "%s: the gzip data is truncated", d->what);
    return -1;
  }
  else if (r != Z_OK && r != Z_BUF_ERROR) {
    hv_error (HV_E_FORMAT, "%s: corrupt gzip data (%s)", d->what,
              d->z.msg ? d->z.msg : "no detail");
    return -1;
  }
  return n - d->z.avail_out;
}

static int
xz_init (struct irfs_decoder *d)
{
  lzma_ret r;

  d->x = (lzma_stream) LZMA_STREAM_INIT;
  d->x.next_in = d->in;
  d->x.avail_in = d->in_len;
  /* One stream, not concatenated ones: the kernel's unxz stops at its
   * end too.  The memory limit refuses crafted dictionary sizes. */
  if (d->method == IRFS_XZ)
    r = lzma_stream_decoder (&d->x, IRFS_DICT_MAX, 0);
  else
    r = lzma_alone_decoder (&d->x, IRFS_DICT_MAX);
  if (r != LZMA_OK) {
    hv_error (HV_E_NOMEM, "%s: cannot start the %s decoder", d->what,
              irfs_method_name (d->method));
    return -1;
  }
  return 0;
}

static const char *
lzma_message (lzma_ret r)
{
  switch (r) {
  case LZMA_MEMLIMIT_ERROR: return "its dictionary is too large";
  case LZMA_FORMAT_ERROR: return "not in the format";
  case LZMA_OPTIONS_ERROR: return "unsupported options";
  case LZMA_DATA_ERROR: return "corrupt data";
  case LZMA_BUF_ERROR: return "truncated";
  case LZMA_MEM_ERROR: return "out of memory";
  default: return "decoder error";
  }
}

static ssize_t
xz_read (struct irfs_decoder *d, void *buf, size_t n)
{
  lzma_ret r;

  d->x.next_out = buf;
  d->x.avail_out = n;
  /* LZMA_FINISH: all the input is there, so running out of it is
   * truncation (LZMA_BUF_ERROR), not a wait for more. */
  r = lzma_code (&d->x, LZMA_FINISH);
  if (r == LZMA_STREAM_END) {
    d->done = true;
    d->consumed = d->x.total_in;
  }
  else if (r != LZMA_OK) {
    hv_error (r == LZMA_MEM_ERROR ? HV_E_NOMEM : HV_E_FORMAT,
              "%s: %s data: %s", d->what, irfs_method_name (d->method),
              lzma_message (r));
    return -1;
  }
  return n - d->x.avail_out;
}

static int
zstd_init (struct irfs_decoder *d)
{
  d->zs = ZSTD_createDStream ();
  if (d->zs == NULL) {
    hv_error (HV_E_NOMEM, "%s: cannot start the zstd decoder", d->what);
    return -1;
  }
  /* 128 MiB windows at most, as the kernel's unzstd. */
  ZSTD_DCtx_setParameter (d->zs, ZSTD_d_windowLogMax, 27);
  d->zin = (ZSTD_inBuffer) { d->in, d->in_len, 0 };
  return 0;
}

static ssize_t
zstd_read (struct irfs_decoder *d, void *buf, size_t n)
{
  ZSTD_outBuffer out = { buf, n, 0 };
  size_t r;

  r = ZSTD_decompressStream (d->zs, &out, &d->zin);
  if (ZSTD_isError (r)) {
    hv_error (HV_E_FORMAT, "%s: corrupt zstd data (%s)", d->what,
              ZSTD_getErrorName (r));
    return -1;
  }
  /* 0: one frame decoded and flushed, like the kernel's unzstd. */
  if (r == 0) {
    d->done = true;
    d->consumed = d->zin.pos;
  }
  else if (out.pos == 0 && d->zin.pos == d->zin.size) {
    hv_error (HV_E_FORMAT, "%s: the zstd data is truncated", d->what);
    return -1;
  }
  return out.pos;
}

/* bzip2, lzo, lz4: libarchive's filter with its "raw" format. */
static int
archive_init (struct irfs_decoder *d)
{
  struct archive_entry *e;
  int r;

  d->a = archive_read_new ();
  if (d->a == NULL) {
    hv_error (HV_E_NOMEM, "%s: cannot start libarchive", d->what);
    return -1;
  }
  if (d->method == IRFS_BZIP2)
    r = archive_read_support_filter_bzip2 (d->a);
  else if (d->method == IRFS_LZ4)
    r = archive_read_support_filter_lz4 (d->a);
  else
    r = archive_read_support_filter_lzop (d->a);
  /* ARCHIVE_WARN: it would run an external program; we do not. */
  if (r != ARCHIVE_OK) {
    hv_error (HV_E_UNSUPPORTED, "%s: this libarchive cannot decode %s",
              d->what, irfs_method_name (d->method));
    return -1;
  }
  archive_read_support_format_raw (d->a);
  if (archive_read_open_memory (d->a, d->in, d->in_len) != ARCHIVE_OK ||
      archive_read_next_header (d->a, &e) != ARCHIVE_OK) {
    hv_error (HV_E_FORMAT, "%s: %s", d->what, archive_error_string (d->a));
    return -1;
  }
  return 0;
}

static ssize_t
archive_read (struct irfs_decoder *d, void *buf, size_t n)
{
  la_ssize_t r = archive_read_data (d->a, buf, n);

  if (r < 0) {
    hv_error (HV_E_FORMAT, "%s: corrupt %s data (%s)", d->what,
              irfs_method_name (d->method), archive_error_string (d->a));
    return -1;
  }
  if (r == 0) {
    d->done = true;
    d->consumed = UINT64_MAX;
  }
  return r;
}

struct irfs_decoder *
irfs_decoder_new (enum irfs_method m, const uint8_t *in, size_t len,
                  const char *what)
{
  struct irfs_decoder *d = calloc (1, sizeof *d);
  int r;

  if (d == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", what);
    return NULL;
  }
  d->method = m;
  d->what = what;
  d->in = in;
  d->in_len = MIN (len, (size_t) UINT_MAX);   /* zlib counts in uInt */
  switch (m) {
  case IRFS_GZIP: r = gzip_init (d); break;
  case IRFS_XZ: case IRFS_LZMA: r = xz_init (d); break;
  case IRFS_ZSTD: r = zstd_init (d); break;
  case IRFS_BZIP2: case IRFS_LZO: case IRFS_LZ4: r = archive_init (d); break;
  default:
    hv_error (HV_E_INTERNAL, "%s: no decoder for %s", what,
              irfs_method_name (m));
    r = -1;
  }
  if (r == -1) {
    irfs_decoder_free (d);
    return NULL;
  }
  return d;
}

ssize_t
irfs_decoder_read (struct irfs_decoder *d, void *buf, size_t n)
{
  ssize_t r = 0;

  /* A call may consume input and produce nothing (headers, blocks of
   * nothing); loop until there is output, the end, or an error. */
  while (r == 0 && !d->done) {
    switch (d->method) {
    case IRFS_GZIP: r = gzip_read (d, buf, n); break;
    case IRFS_XZ: case IRFS_LZMA: r = xz_read (d, buf, n); break;
    case IRFS_ZSTD: r = zstd_read (d, buf, n); break;
    default: r = archive_read (d, buf, n); break;
    }
    if (r == -1)
      return -1;
  }
  return r;
}

uint64_t
irfs_decoder_consumed (const struct irfs_decoder *d)
{
  return d->consumed;
}

void
irfs_decoder_free (struct irfs_decoder *d)
{
  if (d == NULL)
    return;
  if (d->method == IRFS_GZIP)
    inflateEnd (&d->z);
  else if (d->method == IRFS_XZ || d->method == IRFS_LZMA)
    lzma_end (&d->x);
  ZSTD_freeDStream (d->zs);
  if (d->a)
    archive_read_free (d->a);
  free (d);
}

/* ------------------------------------------------------------------ */
/* Encoders. */

struct irfs_encoder {
  enum irfs_method method;
  int fd;
  uint64_t offset;           /* where the next output byte goes */
  const char *file;
  bool reported;             /* a write error was reported */
  z_stream z;
  lzma_stream x;
  ZSTD_CCtx *zs;
  uint8_t buf[ENC_BUF];
};

static int
enc_output (struct irfs_encoder *e, const void *buf, size_t len)
{
  if (len == 0)
    return 0;
  if (full_pwrite (e->fd, buf, len, e->offset) == -1) {
    hv_error (HV_E_IO, "%s: write: %m", e->file);
    e->reported = true;
    return -1;
  }
  e->offset += len;
  return 0;
}

static int
enc_init (struct irfs_encoder *e)
{
  lzma_options_lzma opt;
  size_t r;

  switch (e->method) {
  case IRFS_CPIO:
    return 0;
  case IRFS_GZIP:
    return deflateInit2 (&e->z, GZIP_LEVEL, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
  case IRFS_XZ:
    e->x = (lzma_stream) LZMA_STREAM_INIT;
    return lzma_easy_encoder (&e->x, XZ_PRESET, LZMA_CHECK_CRC32)
      == LZMA_OK ? 0 : -1;
  case IRFS_LZMA:
    e->x = (lzma_stream) LZMA_STREAM_INIT;
    if (lzma_lzma_preset (&opt, XZ_PRESET))
      return -1;
    return lzma_alone_encoder (&e->x, &opt) == LZMA_OK ? 0 : -1;
  case IRFS_ZSTD:
    e->zs = ZSTD_createCCtx ();
    if (e->zs == NULL)
      return -1;
    r = ZSTD_CCtx_setParameter (e->zs, ZSTD_c_compressionLevel, ZSTD_LEVEL);
    if (!ZSTD_isError (r))
      r = ZSTD_CCtx_setParameter (e->zs, ZSTD_c_checksumFlag, 1);
    return ZSTD_isError (r) ? -1 : 0;
  default:
    errno = ENOTSUP;
    return -1;
  }
}

struct irfs_encoder *
irfs_encoder_new (enum irfs_method m, int fd, uint64_t offset,
                  const char *file)
{
  struct irfs_encoder *e = calloc (1, sizeof *e);

  if (e == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", file);
    return NULL;
  }
  e->method = m;
  e->fd = fd;
  e->offset = offset;
  e->file = file;
  errno = 0;
  if (enc_init (e) == -1) {
    if (errno == ENOTSUP)
      hv_error (HV_E_UNSUPPORTED, "%s: hvconvert cannot write %s data",
                file, irfs_method_name (m));
    else
      hv_error (HV_E_NOMEM, "%s: cannot start the %s encoder", file,
                irfs_method_name (m));
    irfs_encoder_free (e);
    return NULL;
  }
  return e;
}

/* Run the encoder over LEN bytes (END: and end the stream). */
static int
enc_run (struct irfs_encoder *e, const void *buf, size_t len, bool end)
{
  bool more = true;

  e->z.next_in = (Bytef *) buf;
  e->z.avail_in = len;
  e->x.next_in = buf;
  e->x.avail_in = len;
  while (more) {
    size_t out;
    if (e->method == IRFS_GZIP) {
      e->z.next_out = e->buf;
      e->z.avail_out = sizeof e->buf;
      int r = deflate (&e->z, end ? Z_FINISH : Z_NO_FLUSH);
      if (r == Z_STREAM_ERROR)
        return -1;
      out = sizeof e->buf - e->z.avail_out;
      more = end ? r != Z_STREAM_END
        : e->z.avail_in > 0 || e->z.avail_out == 0;
    }
    else {
      e->x.next_out = e->buf;
      e->x.avail_out = sizeof e->buf;
      lzma_ret r = lzma_code (&e->x, end ? LZMA_FINISH : LZMA_RUN);
      if (r != LZMA_OK && r != LZMA_STREAM_END)
        return -1;
      out = sizeof e->buf - e->x.avail_out;
      more = end ? r != LZMA_STREAM_END
        : e->x.avail_in > 0 || e->x.avail_out == 0;
    }
    if (enc_output (e, e->buf, out) == -1)
      return -1;
  }
  return 0;
}

static int
zstd_run (struct irfs_encoder *e, const void *buf, size_t len, bool end)
{
  ZSTD_inBuffer in = { buf, len, 0 };
  size_t r;

  do {
    ZSTD_outBuffer out = { e->buf, sizeof e->buf, 0 };
    r = ZSTD_compressStream2 (e->zs, &out, &in,
                              end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError (r) || enc_output (e, e->buf, out.pos) == -1)
      return -1;
  } while (end ? r != 0 : in.pos < in.size);
  return 0;
}

static int
enc_step (struct irfs_encoder *e, const void *buf, size_t len, bool end)
{
  int r;

  if (e->method == IRFS_CPIO)
    return enc_output (e, buf, len);
  r = e->method == IRFS_ZSTD ? zstd_run (e, buf, len, end)
    : enc_run (e, buf, len, end);
  if (r == -1 && !e->reported)
    hv_error (HV_E_INTERNAL, "%s: the %s encoder failed", e->file,
              irfs_method_name (e->method));
  return r;
}

int
irfs_encoder_write (struct irfs_encoder *e, const void *buf, size_t len)
{
  return enc_step (e, buf, len, false);
}

int
irfs_encoder_finish (struct irfs_encoder *e, uint64_t *end)
{
  int r;

  r = enc_step (e, NULL, 0, true);
  *end = e->offset;
  irfs_encoder_free (e);
  return r;
}

void
irfs_encoder_free (struct irfs_encoder *e)
{
  if (e == NULL)
    return;
  if (e->method == IRFS_GZIP)
    deflateEnd (&e->z);
  else if (e->method == IRFS_XZ || e->method == IRFS_LZMA)
    lzma_end (&e->x);
  ZSTD_freeCCtx (e->zs);
  free (e);
}

/* The members of an initramfs image, in the order the kernel unpacks
 * them (init/initramfs.c, unpack_to_rootfs):
 *
 *   - NUL bytes between segments are skipped;
 *   - a '0' at a 4-byte aligned file offset starts uncompressed newc
 *     cpio; we end such a segment after a TRAILER!!! (the early
 *     microcode archive is one), or where the next byte is not a '0'
 *     at an aligned offset;
 *   - anything else must be a compression magic; the decompressed
 *     stream holds newc members (and NUL padding between them, each
 *     member starting at an aligned offset) up to its end, where it
 *     must not stop inside a member.  Several archives may follow each
 *     other inside it.
 *
 * Members are "070701" (newc) or "070702" (newc with checksums): a
 * 110-byte header of 8-digit hex fields, the name with its NUL, NUL
 * padding to 4 bytes, the data, padding to 4 bytes.  Names longer than
 * PATH_MAX, names without their NUL, non-hex fields and members over
 * IRFS_MEMBER_MAX are refused (the kernel skips or misreads some of
 * them; an image from a guest that has them is not one to change).
 *
 * The walk can also copy one segment as uncompressed cpio to a sink,
 * dropping members, with more added before its last trailer: that is
 * how initramfs.c re-packs an image.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "initramfs-walk.h"

#define STREAM_BUF (256 * KiB)
#define HEADER_LEN 110
#define TRAILER "TRAILER!!!"

uint64_t irfs_output_limit = 2 * GiB;

/* The newc header fields after the 6-byte magic, 8 hex digits each. */
enum {
  F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_DEVMAJOR,
  F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK, F_COUNT
};

/* The bytes of one segment, as the cpio parser takes them. */
struct stream {
  struct irfs_walk *w;
  char *what;                   /* "FILE: segment N (M at offset X)" */
  size_t seg;
  bool raw;
  bool copy;                    /* this is the copy segment */
  struct irfs_decoder *dec;     /* NULL for raw cpio */
  uint8_t *buf;                 /* raw: the mapped image */
  size_t bpos, blen;
  bool eof;
  uint64_t pos;                 /* bytes taken: the cpio offset */
  uint64_t *budget;             /* decompressed bytes left */
  size_t members;
  bool trailer_pending;         /* copy: the last trailer not yet written */
  struct irfs_newc newc;        /* copy: our trailer */
};

/* Make bytes available.  1 if there are, 0 at the end, -1 error. */
static int
s_fill (struct stream *s)
{
  ssize_t r;

  if (s->bpos < s->blen)
    return 1;
  if (s->eof || s->dec == NULL) {
    s->eof = true;
    return 0;
  }
  if (hv_check_interrupted () == -1)
    return -1;
  r = irfs_decoder_read (s->dec, s->buf, STREAM_BUF);
  if (r == -1)
    return -1;
  if (r == 0) {
    s->eof = true;
    return 0;
  }
  if ((uint64_t) r > *s->budget) {
    hv_error (HV_E_TOO_LARGE, "%s: the image decompresses to more than "
              "%" PRIu64 " MiB", s->what,
              (uint64_t) (irfs_output_limit / MiB));
    return -1;
  }
  *s->budget -= r;
  s->bpos = 0;
  s->blen = r;
  return 1;
}

/* Where the bytes taken by s_take go besides DST. */
struct tee {
  struct irfs_walk *w;          /* its sink, or NULL */
  int fd;                       /* a saved member's file, or -1 */
  const char *path;
};

static int
tee_write (const struct tee *t, const void *p, size_t n)
{
  if (t == NULL)
    return 0;
  if (t->w && t->w->sink (t->w->ctx, p, n) == -1)
    return -1;
  if (t->fd >= 0 && full_write (t->fd, p, n) == -1) {
    hv_error (HV_E_IO, "%s: write: %m", t->path);
    return -1;
  }
  return 0;
}

/* Take N bytes into DST (NULL: drop them), passing them to T.  At the
 * end of the stream this is truncation: WHAT says what was cut. */
static int
s_take (struct stream *s, void *dst, uint64_t n, const struct tee *t,
        const char *what)
{
  uint8_t *d = dst;

  while (n > 0) {
    int r = s_fill (s);
    if (r == -1)
      return -1;
    if (r == 0) {
      hv_error (HV_E_FORMAT, "%s: truncated inside %s", s->what, what);
      return -1;
    }
    size_t k = MIN ((uint64_t) (s->blen - s->bpos), n);
    if (d) {
      memcpy (d, s->buf + s->bpos, k);
      d += k;
    }
    if (tee_write (t, s->buf + s->bpos, k) == -1)
      return -1;
    s->bpos += k;
    s->pos += k;
    n -= k;
  }
  return 0;
}

/* Skip NUL bytes; then the next byte in *C.  1, 0 at the end, -1. */
static int
s_next (struct stream *s, uint8_t *c)
{
  for (;;) {
    int r = s_fill (s);
    if (r <= 0)
      return r;
    while (s->bpos < s->blen && s->buf[s->bpos] == 0) {
      s->bpos++;
      s->pos++;
    }
    if (s->bpos < s->blen) {
      *c = s->buf[s->bpos];
      return 1;
    }
  }
}

/* ------------------------------------------------------------------ */
/* Members. */

static int
parse_fields (struct stream *s, const char *hdr, uint32_t f[F_COUNT])
{
  for (int i = 0; i < F_COUNT; i++) {
    uint32_t v = 0;
    for (int j = 0; j < 8; j++) {
      char c = hdr[6 + 8 * i + j];
      int x = c >= '0' && c <= '9' ? c - '0'
        : c >= 'a' && c <= 'f' ? c - 'a' + 10
        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (x < 0) {
        hv_error (HV_E_FORMAT, "%s: member header at cpio offset %" PRIu64
                  ": field %d is not hexadecimal", s->what,
                  s->pos - HEADER_LEN, i + 1);
        return -1;
      }
      v = v << 4 | x;
    }
    f[i] = v;
  }
  return 0;
}

/* The header, checked: *NAME (NUL-terminated) of F_NAMESIZE bytes. */
static int
read_header (struct stream *s, char hdr[HEADER_LEN], uint32_t f[F_COUNT],
             char name[IRFS_PATH_MAX + 4])
{
  uint32_t padded;

  if (s_take (s, hdr, HEADER_LEN, NULL, "a member header") == -1)
    return -1;
  if (memcmp (hdr, "070701", 6) != 0 && memcmp (hdr, "070702", 6) != 0) {
    hv_error (HV_E_FORMAT, "%s: no newc cpio magic at cpio offset %"
              PRIu64 "%s", s->what, s->pos - HEADER_LEN,
              memcmp (hdr, "070707", 6) == 0 ? " (old odc format)" : "");
    return -1;
  }
  if (parse_fields (s, hdr, f) == -1)
    return -1;
  if (f[F_NAMESIZE] == 0 || f[F_NAMESIZE] > IRFS_PATH_MAX) {
    hv_error (HV_E_FORMAT, "%s: member at cpio offset %" PRIu64
              ": name size %" PRIu32 " is not in 1..%d", s->what,
              s->pos - HEADER_LEN, f[F_NAMESIZE], IRFS_PATH_MAX);
    return -1;
  }
  /* Header and name end at a multiple of 4: 110 + padded. */
  padded = ROUND_UP (HEADER_LEN + f[F_NAMESIZE], 4) - HEADER_LEN;
  if (s_take (s, name, padded, NULL, "a member name") == -1)
    return -1;
  if (name[f[F_NAMESIZE] - 1] != '\0') {
    hv_error (HV_E_FORMAT, "%s: member at cpio offset %" PRIu64
              ": its name has no terminating NUL", s->what,
              s->pos - HEADER_LEN - padded);
    return -1;
  }
  if (f[F_FILESIZE] > IRFS_MEMBER_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: member %s: %" PRIu32 " bytes is more "
              "than hvconvert accepts", s->what, name, f[F_FILESIZE]);
    return -1;
  }
  return 0;
}

/* "./a", "/a" -> "a"; "./" and "" -> ".". */
static const char *
normalise (const char *name)
{
  for (;;) {
    if (name[0] == '.' && name[1] == '/')
      name += 2;
    else if (name[0] == '/')
      name++;
    else
      break;
  }
  return *name ? name : ".";
}

static const uint8_t zeros[4];

/* Copy mode: the member's header and name to the sink. */
static int
copy_header (struct stream *s, const char *hdr, const uint32_t f[F_COUNT],
             const char *name)
{
  uint32_t pad = ROUND_UP (HEADER_LEN + f[F_NAMESIZE], 4)
    - HEADER_LEN - f[F_NAMESIZE];
  struct irfs_walk *w = s->w;

  if (s->trailer_pending) {
    s->trailer_pending = false;
    if (irfs_newc_trailer (&s->newc) == -1)
      return -1;
  }
  if (w->sink (w->ctx, hdr, HEADER_LEN) == -1 ||
      w->sink (w->ctx, name, f[F_NAMESIZE]) == -1 ||
      w->sink (w->ctx, zeros, pad) == -1)
    return -1;
  return 0;
}

static int
open_save (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                 0644);

  if (fd == -1)
    hv_error (HV_E_IO, "%s: %m", path);
  return fd;
}

/* The data of a member and its padding, to where it goes. */
static int
take_data (struct stream *s, const struct irfs_member *m, bool keep,
           const char *save_to, char *link)
{
  struct tee t = { .w = keep ? s->w : NULL, .fd = -1, .path = save_to };
  uint32_t pad = ROUND_UP (m->size, 4) - m->size;
  int r;

  if (link) {
    /* Read before the callback; only copied here. */
    r = tee_write (&t, link, m->size);
  }
  else {
    if (save_to && S_ISREG (m->mode) && (t.fd = open_save (save_to)) == -1)
      return -1;
    r = s_take (s, NULL, m->size, &t, m->name);
    if (t.fd >= 0 && close (t.fd) == -1 && r == 0) {
      hv_error (HV_E_IO, "%s: close: %m", save_to);
      r = -1;
    }
  }
  if (r == 0)
    r = s_take (s, NULL, pad, NULL, m->name);
  if (r == 0 && keep)
    r = s->w->sink (s->w->ctx, zeros, pad);
  return r;
}

/* One member.  *TRAILER: it was a TRAILER!!!. */
static int
parse_member (struct stream *s, bool *trailer)
{
  char hdr[HEADER_LEN], name[IRFS_PATH_MAX + 4], link[IRFS_PATH_MAX + 1];
  uint32_t f[F_COUNT];
  struct irfs_member m = { 0 };
  CLEANUP_FREE char *save_to = NULL;
  int keep = IRFS_KEEP;

  if (read_header (s, hdr, f, name) == -1)
    return -1;
  m = (struct irfs_member) { .name = normalise (name), .mode = f[F_MODE],
    .mtime = f[F_MTIME], .size = f[F_FILESIZE], .segment = s->seg };
  *trailer = strcmp (name, TRAILER) == 0;
  if (*trailer) {
    s->trailer_pending = s->copy;
    return s_take (s, NULL, ROUND_UP (m.size, 4), NULL, TRAILER);
  }
  s->members++;
  if (S_ISLNK (m.mode)) {
    if (m.size > IRFS_PATH_MAX) {
      hv_error (HV_E_FORMAT, "%s: symbolic link %s: its target is longer "
                "than %d bytes", s->what, m.name, IRFS_PATH_MAX);
      return -1;
    }
    if (s_take (s, link, m.size, NULL, m.name) == -1)
      return -1;
    link[m.size] = '\0';
    m.link = link;
  }
  if (s->w->member) {
    keep = s->w->member (s->w->ctx, &m, &save_to);
    if (keep == -1)
      return -1;
  }
  keep = s->copy && keep == IRFS_KEEP;
  if (keep && copy_header (s, hdr, f, name) == -1)
    return -1;
  return take_data (s, &m, keep, save_to, m.link ? link : NULL);
}

/* The members up to the end of the segment (see the top). */
static int
parse_stream (struct stream *s)
{
  for (;;) {
    bool trailer;
    uint8_t c;
    int r = s_next (s, &c);

    if (r <= 0)
      return r;
    if (s->raw && (c != '0' || (s->pos & 3)))
      return 0;               /* the next segment starts here */
    if (s->pos & 3) {
      hv_error (HV_E_FORMAT, "%s: a member starts at cpio offset %" PRIu64
                ", not a multiple of 4", s->what, s->pos);
      return -1;
    }
    if (c != '0') {
      hv_error (HV_E_FORMAT, "%s: junk at cpio offset %" PRIu64
                " (byte 0x%02x where a member should start)", s->what,
                s->pos, c);
      return -1;
    }
    if (parse_member (s, &trailer) == -1)
      return -1;
    if (trailer && s->raw)
      return 0;
  }
}

/* ------------------------------------------------------------------ */
/* Segments. */

static int
copy_end (struct stream *s)
{
  struct irfs_walk *w = s->w;

  if (w->finish && w->finish (w->ctx) == -1)
    return -1;
  return irfs_newc_trailer (&s->newc);
}

/* The segment at P (LEN bytes to the end of the image): its members,
 * and in *USED the bytes it takes (UINT64_MAX: all). */
static int
walk_segment (struct irfs_walk *w, enum irfs_method method,
              const uint8_t *p, uint64_t off, size_t len, uint64_t *budget,
              struct initramfs_segment *seg)
{
  struct stream s = { .w = w, .seg = w->layout.segments.len,
    .raw = method == IRFS_CPIO, .budget = budget };
  int r = -1;

  s.copy = w->sink && s.seg == w->copy_segment;
  s.newc = (struct irfs_newc) { .write = w->sink, .ctx = w->ctx };
  if (asprintf (&s.what, "%s: segment %zu (%s at offset %" PRIu64 ")",
                w->image, s.seg + 1, irfs_method_name (method), off) == -1) {
    hv_error (HV_E_NOMEM, "%s: %m", w->image);
    return -1;
  }
  if (s.raw) {
    s.buf = (uint8_t *) p;
    s.blen = len;
  }
  else if ((s.dec = irfs_decoder_new (method, p, len, s.what)) == NULL ||
           (s.buf = malloc (STREAM_BUF)) == NULL)
    goto out;
  if (parse_stream (&s) == -1 || (s.copy && copy_end (&s) == -1))
    goto out;
  *seg = (struct initramfs_segment) { .offset = off,
    .length = s.raw ? s.pos : irfs_decoder_consumed (s.dec),
    .method = irfs_method_name (method), .members = s.members };
  r = 0;
 out:
  if (r == -1 && s.dec && s.buf == NULL)
    hv_error (HV_E_NOMEM, "%s: %m", s.what);
  irfs_decoder_free (s.dec);
  if (!s.raw)
    free (s.buf);
  free (s.what);
  return r;
}

/* Map the image read-only (NULL and *SIZE 0 for an empty file). */
static const uint8_t *
map_image (const char *image, uint64_t *size)
{
  struct stat st;
  void *p;
  int fd = open (image, O_RDONLY | O_CLOEXEC);

  if (fd == -1 || fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", image);
    goto fail;
  }
  if (!S_ISREG (st.st_mode) || st.st_size == 0 ||
      (uint64_t) st.st_size > IRFS_IMAGE_MAX) {
    hv_error (S_ISREG (st.st_mode) && st.st_size ? HV_E_TOO_LARGE
              : HV_E_FORMAT, "%s: not an initramfs image (%s)", image,
              !S_ISREG (st.st_mode) ? "not a regular file"
              : st.st_size ? "larger than 2 GiB" : "empty");
    goto fail;
  }
  p = mmap (NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    hv_error (HV_E_IO, "%s: mmap: %m", image);
    goto fail;
  }
  close (fd);
  *size = st.st_size;
  return p;
 fail:
  if (fd >= 0)
    close (fd);
  return NULL;
}

/* The method of the segment at OFF, or -1 after reporting junk. */
static int
segment_method (const struct irfs_walk *w, const uint8_t *p, uint64_t off,
                uint64_t size)
{
  int m;

  if (p[off] == '0' && (off & 3) == 0)
    return IRFS_CPIO;
  m = irfs_method_of (p + off, size - off);
  if (m == -1)
    hv_error (HV_E_FORMAT, "%s: junk at offset %" PRIu64 " (0x%02x): "
              "neither a cpio archive at an aligned offset nor a "
              "compression magic the kernel knows", w->image, off, p[off]);
  return m;
}

int
irfs_walk (struct irfs_walk *w)
{
  uint64_t size = 0, off = 0, budget = irfs_output_limit;
  const uint8_t *p = map_image (w->image, &size);
  int r = -1;

  w->layout.appendable = true;
  if (p == NULL)
    return -1;
  while (off < size) {
    struct initramfs_segment seg;
    int m;

    if (p[off] == 0) {
      off++;
      continue;
    }
    if ((m = segment_method (w, p, off, size)) == -1 ||
        walk_segment (w, m, p + off, off, size - off, &budget, &seg) == -1)
      goto out;
    if (initramfs_segment_vector_append (&w->layout.segments, seg) == -1) {
      hv_error (HV_E_NOMEM, "%s: %m", w->image);
      goto out;
    }
    if (seg.length == UINT64_MAX) {
      /* bzip2, lzo, lz4: read to the end (see initramfs_layout). */
      w->layout.appendable = false;
      w->layout.segments.ptr[w->layout.segments.len - 1].length = size - off;
      break;
    }
    off += seg.length;
  }
  if (w->layout.segments.len == 0)
    hv_error (HV_E_FORMAT, "%s: not an initramfs image (only NUL bytes)",
              w->image);
  else
    r = 0;
 out:
  munmap ((void *) p, size);
  return r;
}

/* ------------------------------------------------------------------ */
/* Writing newc. */

static int
newc_header (struct irfs_newc *w, const char *name, uint32_t mode,
             uint32_t nlink, uint32_t mtime, uint64_t size)
{
  char hdr[HEADER_LEN + 1];
  size_t namesize = strlen (name) + 1;
  uint32_t pad = ROUND_UP (HEADER_LEN + namesize, 4) - HEADER_LEN - namesize;

  if (namesize > IRFS_PATH_MAX || size > UINT32_MAX) {
    hv_error (HV_E_TOO_LARGE, "%s: too long for a cpio member", name);
    return -1;
  }
  /* magic ino mode uid gid nlink mtime filesize devmajor devminor
   * rdevmajor rdevminor namesize check */
  snprintf (hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X"
            "%08X%08X%08X%08X", w->ino++, mode, 0, 0, nlink, mtime,
            (uint32_t) size, 0, 0, 0, 0, (uint32_t) namesize, 0);
  if (w->write (w->ctx, hdr, HEADER_LEN) == -1 ||
      w->write (w->ctx, name, namesize) == -1 ||
      w->write (w->ctx, zeros, pad) == -1)
    return -1;
  return 0;
}

int
irfs_newc_dir (struct irfs_newc *w, const char *name, uint32_t mode)
{
  return newc_header (w, name, S_IFDIR | mode, 2, w->mtime, 0);
}

int
irfs_newc_file (struct irfs_newc *w, const char *name, uint32_t mode,
                const char *path)
{
  uint8_t buf[64 * KiB];
  struct stat st;
  uint64_t done = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC), r = -1;

  if (fd == -1 || fstat (fd, &st) == -1) {
    hv_error (HV_E_IO, "%s: %m", path);
    goto out;
  }
  if (newc_header (w, name, S_IFREG | mode, 1, w->mtime, st.st_size) == -1)
    goto out;
  while (done < (uint64_t) st.st_size) {
    size_t n = MIN (sizeof buf, (uint64_t) st.st_size - done);
    if (full_pread (fd, buf, n, done) == -1) {
      hv_error (HV_E_IO, "%s: read: %m", path);
      goto out;
    }
    if (w->write (w->ctx, buf, n) == -1)
      goto out;
    done += n;
  }
  r = w->write (w->ctx, zeros, ROUND_UP (done, 4) - done);
 out:
  if (fd >= 0)
    close (fd);
  return r;
}

int
irfs_newc_trailer (struct irfs_newc *w)
{
  return newc_header (w, TRAILER, 0, 1, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Listing. */

static int
list_member (void *ctx, const struct irfs_member *m, char **save_to)
{
  struct string_vector *v = ctx;
  char *s = strdup (m->name);

  if (s == NULL || string_vector_append (v, s) == -1) {
    free (s);
    hv_error (HV_E_NOMEM, "listing an initramfs: %m");
    return -1;
  }
  return IRFS_KEEP;
}

int
initramfs_scan (const char *image, struct string_vector *members,
                struct initramfs_layout *layout)
{
  struct irfs_walk w = { .image = image, .copy_segment = SIZE_MAX,
    .member = members ? list_member : NULL, .ctx = members };
  int r = irfs_walk (&w);

  if (layout)
    *layout = w.layout;
  else
    initramfs_layout_free (&w.layout);
  return r;
}

int
initramfs_list (const char *image, struct string_vector *members)
{
  return initramfs_scan (image, members, NULL);
}

void
initramfs_layout_free (struct initramfs_layout *layout)
{
  if (layout == NULL)
    return;
  free (layout->segments.ptr);
  layout->segments = (struct initramfs_segment_vector) { 0 };
}

/* QCOW2 reads and extents: L1/L2 lookup, the L2 cache, compressed
 * clusters and the backing file.
 *
 * A guest offset maps through the L1 table (in memory, loaded at open)
 * to an L2 table (read on demand into a small LRU cache under a mutex)
 * to one L2 entry per cluster, which says what the cluster is:
 *
 *   entry                          kind          reads as
 *   bit 62 set                     compressed    raw deflate at the
 *                                                descriptor's offset
 *   bit 0 set (v3)                 zero          zeros, even with an
 *                                                allocated offset
 *   offset bits 9-55 non-zero      data          the host cluster
 *   0, or an L1 entry of 0         unallocated   the backing file, zeros
 *                                                without one or past its
 *                                                end
 *
 * Several threads may read at once.  Only the cache is shared, and only
 * the lookup holds its lock: it copies the entries it needs out of the
 * cached table, so the data reads and the decompression that follow run
 * in parallel.  Each read decompresses with a zlib stream of its own.
 * Runs of clusters of one kind (data clusters also contiguous in the
 * file) are handled as one, so a contiguous image is read with large
 * preads.
 */
#include <config.h>

#include <inttypes.h>
#include <zlib.h>

#include "qcow2-internal.h"

#define CACHE_BYTES (16 * MiB)    /* L2 tables cached, at most ... */
#define CACHE_MIN_TABLES 4        /* ... but at least this many */
#define CACHE_MAX_TABLES 64
#define BATCH 512                 /* L2 entries copied per lookup */
#define MAX_NEW_EXTENTS 16384     /* per extents call; callers come back */
#define COMPRESSED_SECTOR 512
#define DEFLATE_WINDOW_BITS (-12) /* raw deflate, 4 KiB window: qemu */

struct l2_slot {
  uint64_t offset;                /* of the table in the file; 0: none */
  uint64_t used;                  /* LRU clock of the last hit */
  uint64_t *table;                /* host order; cluster_size bytes */
};

struct qcow2_l2_cache {
  pthread_mutex_t lock;
  uint64_t clock;
  size_t n;
  struct l2_slot slots[];
};

enum kind { K_UNALLOCATED, K_ZERO, K_DATA, K_COMPRESSED };

/* What one L2 entry says about its cluster. */
struct cluster {
  enum kind kind;
  uint64_t host;                  /* data: cluster; compressed: stream */
  uint64_t csize;                 /* compressed: bytes of the stream */
};

/* A run of clusters of one kind, from a guest offset. */
struct run {
  struct cluster c;               /* c.host: of the run's first byte */
  uint64_t length;                /* bytes */
};

/* Per read: buffers and the zlib stream for compressed clusters. */
struct decoder {
  z_stream z;
  bool ready;
  uint8_t *in, *out;
};

/* ---------------------------------------------------------------- */
/* The L2 cache. */

int
qcow2_cache_init (struct qcow2 *q)
{
  size_t n = MIN (MAX (CACHE_BYTES >> q->cluster_bits,
                       (uint64_t) CACHE_MIN_TABLES), CACHE_MAX_TABLES);
  struct qcow2_l2_cache *c = calloc (1, sizeof *c + n * sizeof c->slots[0]);

  if (c == NULL) {
    hv_error (HV_E_NOMEM, "%s: L2 cache: %m", q->d.filename);
    return -1;
  }
  pthread_mutex_init (&c->lock, NULL);
  c->n = n;
  q->cache = c;
  return 0;
}

void
qcow2_cache_free (struct qcow2 *q)
{
  struct qcow2_l2_cache *c = q->cache;

  if (c == NULL)
    return;
  for (size_t i = 0; i < c->n; i++)
    free (c->slots[i].table);
  pthread_mutex_destroy (&c->lock);
  free (c);
  q->cache = NULL;
}

/* Read the L2 table at OFFSET into SLOT.  Called with the lock held. */
static int
cache_load (struct qcow2 *q, struct l2_slot *slot, uint64_t offset)
{
  const size_t entries = (size_t) 1 << q->l2_bits;

  slot->offset = 0;               /* empty until loaded */
  if (slot->table == NULL && (slot->table = malloc (q->cluster_size)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: L2 cache: %m", q->d.filename);
    return -1;
  }
  if (full_pread (q->fd, slot->table, q->cluster_size, offset) == -1) {
    hv_error (HV_E_IO, "%s: reading the L2 table at offset %" PRIu64 ": %m",
              q->d.filename, offset);
    return -1;
  }
  for (size_t i = 0; i < entries; i++)
    slot->table[i] = load_be64 (&slot->table[i]);
  slot->offset = offset;
  return 0;
}

/* The table at OFFSET, loaded into the least recently used slot if it
 * is not cached.  Called with the lock held. */
static struct l2_slot *
cache_get (struct qcow2 *q, uint64_t offset)
{
  struct qcow2_l2_cache *c = q->cache;
  struct l2_slot *victim = &c->slots[0];

  for (size_t i = 0; i < c->n; i++) {
    struct l2_slot *s = &c->slots[i];
    if (s->offset == offset) {
      s->used = ++c->clock;
      return s;
    }
    if (s->used < victim->used)
      victim = s;
  }
  if (cache_load (q, victim, offset) == -1)
    return NULL;
  victim->used = ++c->clock;
  return victim;
}

/* Copy N entries of the L2 table at L2_OFF, from index FIRST, to OUT. */
static int
l2_lookup (struct qcow2 *q, uint64_t l2_off, size_t first, size_t n,
           uint64_t *out)
{
  struct l2_slot *s;

  pthread_mutex_lock (&q->cache->lock);
  s = cache_get (q, l2_off);
  if (s)
    memcpy (out, s->table + first, n * sizeof *out);
  pthread_mutex_unlock (&q->cache->lock);
  return s ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* Mapping guest offsets. */

static int
entry_error (struct qcow2 *q, uint64_t l2_off, size_t idx, uint64_t e,
             const char *what)
{
  hv_error (HV_E_FORMAT, "%s: L2 entry %zu of the table at offset %" PRIu64
            " (0x%016" PRIx64 "): %s", q->d.filename, idx, l2_off, e, what);
  return -1;
}

/* A compressed cluster descriptor: the stream's offset in the low bits,
 * then the count of 512-byte sectors it touches, minus one. */
static int
classify_compressed (struct qcow2 *q, uint64_t l2_off, size_t idx,
                     uint64_t e, struct cluster *c)
{
  const uint64_t off = e & ((1ULL << q->csize_shift) - 1);
  const uint64_t sectors = ((e >> q->csize_shift) & q->csize_mask) + 1;

  if (off >= q->file_size)
    return entry_error (q, l2_off, idx, e, "the compressed cluster lies "
                        "past the end of the file");
  c->kind = K_COMPRESSED;
  c->host = off;
  c->csize = sectors * COMPRESSED_SECTOR - off % COMPRESSED_SECTOR;
  return 0;
}

static int
classify (struct qcow2 *q, uint64_t l2_off, size_t idx, uint64_t e,
          struct cluster *c)
{
  const uint64_t host = e & QCOW2_OFFSET_MASK;

  if (e & QCOW2_L2_COMPRESSED)
    return classify_compressed (q, l2_off, idx, e, c);
  if (e & QCOW2_L2_ZERO) {
    if (q->h.version < 3)
      return entry_error (q, l2_off, idx, e, "the zero flag is set, which "
                          "version 2 images do not have");
    c->kind = K_ZERO;     /* an allocated offset is kept but not read */
    return 0;
  }
  c->kind = host ? K_DATA : K_UNALLOCATED;
  c->host = host;
  if (host % q->cluster_size)
    return entry_error (q, l2_off, idx, e, "the data cluster offset is not "
                        "cluster-aligned");
  if (host >= q->file_size)
    return entry_error (q, l2_off, idx, e, "the data cluster lies past the "
                        "end of the file");
  return 0;
}

/* Does cluster B continue run A (K clusters on)? */
static bool
continues (const struct qcow2 *q, const struct cluster *a,
           const struct cluster *b, size_t k)
{
  if (a->kind != b->kind || a->kind == K_COMPRESSED)
    return false;
  return a->kind != K_DATA || b->host == a->host + k * q->cluster_size;
}

/* L2 entries copied out of the cache by one read or extents call, so
 * that consecutive runs do not take the lock again. */
struct cursor {
  uint64_t l2_off;                /* the table they come from; 0: none */
  uint64_t first;                 /* guest cluster number of e[0] */
  size_t n;
  uint64_t e[BATCH];
};

/* The entries from guest cluster VCL to the end of its L2 table or of a
 * batch, in CUR; returns how many, or 0 after reporting. */
static size_t
entries_at (struct qcow2 *q, uint64_t l2_off, uint64_t vcl,
            struct cursor *cur)
{
  const size_t idx = vcl & ((1ULL << q->l2_bits) - 1);
  const size_t n = MIN ((size_t) BATCH, ((size_t) 1 << q->l2_bits) - idx);

  if (cur->l2_off != l2_off || vcl < cur->first ||
      vcl >= cur->first + cur->n) {
    cur->l2_off = 0;
    if (l2_lookup (q, l2_off, idx, n, cur->e) == -1)
      return 0;
    cur->l2_off = l2_off;
    cur->first = vcl;
    cur->n = n;
  }
  return cur->first + cur->n - vcl;
}

/* How many clusters, at most N, from guest cluster VCL (in the L2 table
 * at L2_OFF) are of the first one's kind, set in FIRST (data clusters:
 * also contiguous in the file).  0 after reporting. */
static size_t
run_in_table (struct qcow2 *q, struct cursor *cur, uint64_t l2_off,
              uint64_t vcl, size_t n, struct cluster *first)
{
  const size_t idx = vcl & ((1ULL << q->l2_bits) - 1);
  const size_t have = entries_at (q, l2_off, vcl, cur);
  const uint64_t *e;
  size_t k;

  if (have == 0)
    return 0;
  e = cur->e + (vcl - cur->first);
  n = MIN (n, have);
  if (classify (q, l2_off, idx, e[0], first) == -1)
    return 0;
  for (k = 1; k < n; k++) {
    struct cluster c;
    if (classify (q, l2_off, idx + k, e[k], &c) == -1)
      return 0;
    if (!continues (q, first, &c, k))
      break;
  }
  return k;
}

/* The run of clusters of one kind that starts at guest OFFSET, at most
 * MAX bytes long and within one L2 table (and one batch of its entries
 * if it has one). */
static int
map_run (struct qcow2 *q, struct cursor *cur, uint64_t offset, uint64_t max,
         struct run *r)
{
  const uint64_t vcl = offset >> q->cluster_bits;
  const uint64_t in_cl = offset & (q->cluster_size - 1);
  const size_t idx = vcl & ((1ULL << q->l2_bits) - 1);
  const uint64_t l2_off = q->l1[vcl >> q->l2_bits] & QCOW2_OFFSET_MASK;
  const size_t to_end = ((size_t) 1 << q->l2_bits) - idx;
  size_t k = MIN (DIV_ROUND_UP (in_cl + max, q->cluster_size), to_end);

  r->c = (struct cluster) { .kind = K_UNALLOCATED };
  if (l2_off && (k = run_in_table (q, cur, l2_off, vcl, k, &r->c)) == 0)
    return -1;
  if (r->c.kind == K_DATA)
    r->c.host += in_cl;
  r->length = MIN (k * q->cluster_size - in_cl, max);
  return 0;
}

/* ---------------------------------------------------------------- */
/* Reading. */

/* The backing file, zeros without one or past its end. */
static int
backing_pread (struct qcow2 *q, uint8_t *buf, size_t count, uint64_t offset)
{
  const uint64_t bsize = q->backing ? q->backing->size : 0;
  const size_t n = offset >= bsize ? 0 : MIN (count, bsize - offset);

  memset (buf + n, 0, count - n);
  return n ? disk_pread (q->backing, buf, n, offset) : 0;
}

/* Host clusters; like qemu, bytes past the end of the file read as
 * zeros (a cluster must start inside it: classify). */
static int
data_pread (struct qcow2 *q, uint8_t *buf, size_t count, uint64_t host)
{
  const size_t n = host >= q->file_size ? 0 : MIN (count, q->file_size - host);

  if (n && full_pread (q->fd, buf, n, host) == -1) {
    hv_error (HV_E_IO, "%s: reading %zu bytes at offset %" PRIu64 ": %m",
              q->d.filename, n, host);
    return -1;
  }
  memset (buf + n, 0, count - n);
  return 0;
}

static int
decoder_setup (struct qcow2 *q, struct decoder *dec)
{
  if (dec->ready && inflateReset (&dec->z) != Z_OK) {
    hv_error (HV_E_INTERNAL, "%s: zlib: inflateReset failed", q->d.filename);
    return -1;
  }
  if (dec->ready)
    return 0;
  /* At most 2^(cluster_bits - 8) sectors: two clusters of input. */
  dec->in = malloc (2 * q->cluster_size);
  if (dec->in == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", q->d.filename);
    return -1;
  }
  if (inflateInit2 (&dec->z, DEFLATE_WINDOW_BITS) != Z_OK) {
    hv_error (HV_E_NOMEM, "%s: zlib: %s", q->d.filename,
              dec->z.msg ? dec->z.msg : "cannot initialise");
    return -1;
  }
  dec->ready = true;
  return 0;
}

static void
decoder_free (struct decoder *dec)
{
  if (dec->ready)
    inflateEnd (&dec->z);
  free (dec->in);
  free (dec->out);
}

/* The stream filled the cluster without ending: fine if nothing more
 * would come out of it (a stream cut after the last byte, as qemu
 * accepts), an error if it would inflate past the cluster. */
static int
check_overflow (struct decoder *dec)
{
  uint8_t extra;

  dec->z.next_out = &extra;
  dec->z.avail_out = 1;
  inflate (&dec->z, Z_FINISH);
  return dec->z.avail_out == 0 ? -1 : 0;
}

static int
inflate_error (struct qcow2 *q, const struct cluster *c, const char *what,
               const char *zmsg)
{
  hv_error (HV_E_FORMAT, "%s: compressed cluster at offset %" PRIu64
            " (%" PRIu64 " bytes): %s%s%s", q->d.filename, c->host, c->csize,
            what, zmsg ? ": " : "", zmsg ? zmsg : "");
  return -1;
}

/* Inflate the compressed cluster C into OUT, exactly one cluster: the
 * output never goes past it.  Input past the end of the file is not
 * there (the last stream's sectors may be cut), so it is not read.
 * The fast whole-buffer decoder goes first; zlib decides the rest. */
static int
inflate_cluster (struct qcow2 *q, struct decoder *dec,
                 const struct cluster *c, uint8_t *out)
{
  const size_t n = MIN (c->csize, q->file_size - c->host);
  int ret;

  if (decoder_setup (q, dec) == -1)
    return -1;
  if (full_pread (q->fd, dec->in, n, c->host) == -1) {
    hv_error (HV_E_IO, "%s: reading the compressed cluster at offset %"
              PRIu64 ": %m", q->d.filename, c->host);
    return -1;
  }
  if (inflate_whole (INFLATE_RAW, dec->in, n, out, q->cluster_size) == 0)
    return 0;
  dec->z.next_in = dec->in;
  dec->z.avail_in = n;
  dec->z.next_out = out;
  dec->z.avail_out = q->cluster_size;
  ret = inflate (&dec->z, Z_FINISH);
  if (ret != Z_STREAM_END && ret != Z_BUF_ERROR)
    return inflate_error (q, c, "invalid deflate data", dec->z.msg);
  if (dec->z.avail_out != 0)
    return inflate_error (q, c, "inflates to less than the cluster size",
                          NULL);
  if (ret == Z_BUF_ERROR && check_overflow (dec) == -1)
    return inflate_error (q, c, "inflates past the cluster size", NULL);
  return 0;
}

/* COUNT bytes of the compressed cluster C from byte IN_CL of it. */
static int
compressed_pread (struct qcow2 *q, struct decoder *dec,
                  const struct cluster *c, uint8_t *buf, size_t count,
                  uint64_t in_cl)
{
  if (count == q->cluster_size)
    return inflate_cluster (q, dec, c, buf);
  if (dec->out == NULL && (dec->out = malloc (q->cluster_size)) == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", q->d.filename);
    return -1;
  }
  if (inflate_cluster (q, dec, c, dec->out) == -1)
    return -1;
  memcpy (buf, dec->out + in_cl, count);
  return 0;
}

static int
read_run (struct qcow2 *q, struct decoder *dec, const struct run *r,
          uint8_t *buf, uint64_t offset)
{
  switch (r->c.kind) {
  case K_UNALLOCATED:
    return backing_pread (q, buf, r->length, offset);
  case K_ZERO:
    memset (buf, 0, r->length);
    return 0;
  case K_DATA:
    return data_pread (q, buf, r->length, r->c.host);
  case K_COMPRESSED:
    return compressed_pread (q, dec, &r->c, buf, r->length,
                             offset & (q->cluster_size - 1));
  }
  return -1;
}

int
qcow2_pread (struct disk *d, void *buf, size_t count, uint64_t offset)
{
  struct qcow2 *q = (struct qcow2 *) d;
  struct decoder dec = { .ready = false };
  struct cursor cur = { .l2_off = 0 };
  uint8_t *p = buf;
  int r = 0;

  while (count > 0 && r == 0) {
    struct run run;
    if (map_run (q, &cur, offset, count, &run) == -1) {
      r = -1;
      break;
    }
    r = read_run (q, &dec, &run, p, offset);
    p += run.length;
    offset += run.length;
    count -= run.length;
  }
  decoder_free (&dec);
  return r;
}

/* ---------------------------------------------------------------- */
/* Extents. */

/* Append, merging with the last extent appended since index FIRST. */
static int
add_extent (struct qcow2 *q, struct extent_vector *out, size_t first,
            uint64_t offset, uint64_t length, enum extent_type type)
{
  struct extent *last = out->len > first ? &out->ptr[out->len - 1] : NULL;
  struct extent e = { .offset = offset, .length = length, .type = type };

  if (length == 0)
    return 0;
  if (last && last->type == type && last->offset + last->length == offset) {
    last->length += length;
    return 0;
  }
  if (extent_vector_append (out, e) == -1) {
    hv_error (HV_E_NOMEM, "%s: extents: %m", q->d.filename);
    return -1;
  }
  return 0;
}

/* Unallocated clusters: the backing file's extents, zero past its end.
 * Sets *DONE to the bytes described (the backing file may stop short). */
static int
backing_extents (struct qcow2 *q, struct extent_vector *out, size_t first,
                 uint64_t offset, uint64_t len, uint64_t *done)
{
  const uint64_t bsize = q->backing ? q->backing->size : 0;
  struct extent_vector be = { 0 };
  int r = 0;

  *done = len;
  if (offset >= bsize)
    return add_extent (q, out, first, offset, len, EXTENT_ZERO);
  r = disk_extents (q->backing, offset, MIN (len, bsize - offset), &be);
  *done = 0;
  for (size_t i = 0; r == 0 && i < be.len; i++) {
    const uint64_t n = MIN (be.ptr[i].length, len - *done);
    r = add_extent (q, out, first, offset + *done, n, be.ptr[i].type);
    *done += n;
  }
  free (be.ptr);
  if (r == 0 && offset + *done == bsize && *done < len) {
    r = add_extent (q, out, first, bsize, len - *done, EXTENT_ZERO);
    *done = len;
  }
  return r;
}

int
qcow2_extents (struct disk *d, uint64_t offset, uint64_t length,
               struct extent_vector *out)
{
  struct qcow2 *q = (struct qcow2 *) d;
  const uint64_t end = offset + length;
  const size_t first = out->len;
  struct cursor cur = { .l2_off = 0 };

  while (offset < end && out->len - first < MAX_NEW_EXTENTS) {
    struct run run;
    uint64_t done;
    if (map_run (q, &cur, offset, end - offset, &run) == -1)
      return -1;
    done = run.length;
    if ((run.c.kind == K_UNALLOCATED
         ? backing_extents (q, out, first, offset, run.length, &done)
         : add_extent (q, out, first, offset, run.length,
                       run.c.kind == K_ZERO ? EXTENT_ZERO : EXTENT_DATA))
        == -1)
      return -1;
    if (done == 0)
      break;          /* the backing file stopped short: the caller asks */
    offset += done;
  }
  return 0;
}

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
 * bomb).  Grains are inflated on every core (see "Decoding on every
 * core" below).
 */
#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
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
  uint64_t total;            /* bytes in the stream, 0 if unknown */
  uint64_t consumed;         /* bytes read so far */
  uint64_t capacity;         /* bytes */
  uint32_t grain;            /* bytes */
  uint8_t *zbuf;             /* a marker sector */
  size_t zcap;               /* room for a compressed grain */
};

/* Read exactly N bytes, counting them. */
static int
take (struct vmdk_stream *s, void *buf, size_t n)
{
  if (s->read (s->opaque, buf, n) == -1)
    return -1;
  s->consumed += n;
  return 0;
}

/* Discard N bytes of the stream. */
static int
skip (struct vmdk_stream *s, uint64_t n)
{
  uint8_t buf[SECTOR * 8];

  while (n > 0) {
    size_t k = MIN (n, sizeof buf);
    if (take (s, buf, k) == -1)
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
vmdk_stream_start (const char *name, vmdk_read_fn read, void *opaque,
                   uint64_t total)
{
  struct vmdk_stream *s = calloc (1, sizeof *s);
  uint8_t h[SECTOR];
  uint64_t overhead;

  if (s == NULL) {
    hv_error (HV_E_NOMEM, "%s: %m", name);
    return NULL;
  }
  *s = (struct vmdk_stream) { .name = name, .read = read, .opaque = opaque,
                              .total = total };
  if (take (s, h, sizeof h) == -1 ||
      check_header (s, h, &overhead) == -1 ||
      skip (s, (overhead - 1) * SECTOR) == -1) {
    free (s);
    return NULL;
  }
  /* A grain that does not compress is a little larger than the grain. */
  s->zcap = ROUND_UP ((size_t) compressBound (s->grain) + 12, SECTOR);
  s->zbuf = malloc (SECTOR);
  if (s->zbuf == NULL) {
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

/* ---------------------------------------------------------------- */
/* Decoding on every core.
 *
 * The caller's thread reads the stream (it cannot be read in parallel)
 * and hands each grain to a ring of jobs; worker threads, one per core,
 * inflate them; the caller writes them in stream order as the ring
 * fills up and at the end, so the output is the same whatever the
 * timing.  Memory: 2 * workers + 2 jobs of one compressed and one
 * inflated grain.  Workers only record a failure; the caller reports it
 * when it reaches that grain, so errors come out once and in order. */

#define MAX_WORKERS 8
#define JOB_BYTES   (1 * MiB)    /* grains per job: about this much */
#define JOB_GRAINS  128          /* ... and at most this many */

enum job_state { JOB_FREE, JOB_FILLED, JOB_BUSY, JOB_DONE };

/* A batch of consecutive grains: one wake-up per batch, not per grain
 * (with 64 KiB grains, waking a thread per grain cost more than the
 * inflating). */
struct job {
  enum job_state state;
  unsigned count;            /* grains in the job */
  uint64_t lba[JOB_GRAINS];
  uint32_t size[JOB_GRAINS]; /* compressed bytes after each marker */
  uLongf n[JOB_GRAINS];      /* bytes inflated */
  int zerr[JOB_GRAINS];      /* zlib's results */
  uint8_t *zbuf;             /* grain i with its marker at i * zcap */
  uint8_t *out;              /* grain i at i * grain */
};

struct pool {
  struct vmdk_stream *s;
  struct job jobs[2 * MAX_WORKERS + 2];
  size_t njobs;
  unsigned per_job;          /* grains a job holds */
  struct job *filling;       /* the job being filled, or NULL */
  uint64_t head, tail;       /* next job to fill, next to write */
  bool stop;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t threads[MAX_WORKERS];
  size_t nthreads;
};

/* The oldest filled job, under the lock. */
static struct job *
filled_job (struct pool *p)
{
  for (uint64_t i = p->tail; i < p->head; i++)
    if (p->jobs[i % p->njobs].state == JOB_FILLED)
      return &p->jobs[i % p->njobs];
  return NULL;
}

static void
inflate_job (struct pool *p, struct job *j)
{
  const struct vmdk_stream *s = p->s;

  for (unsigned i = 0; i < j->count; i++) {
    j->n[i] = s->grain;
    j->zerr[i] = uncompress (j->out + (size_t) i * s->grain, &j->n[i],
                             j->zbuf + (size_t) i * s->zcap + 12,
                             j->size[i]);
  }
}

static void *
worker (void *arg)
{
  struct pool *p = arg;
  struct job *j;

  pthread_mutex_lock (&p->lock);
  for (;;) {
    while (!p->stop && (j = filled_job (p)) == NULL)
      pthread_cond_wait (&p->cond, &p->lock);
    if (p->stop)
      break;
    j->state = JOB_BUSY;
    pthread_mutex_unlock (&p->lock);
    inflate_job (p, j);
    pthread_mutex_lock (&p->lock);
    j->state = JOB_DONE;
    pthread_cond_broadcast (&p->cond);
  }
  pthread_mutex_unlock (&p->lock);
  return NULL;
}

static void
pool_stop (struct pool *p)
{
  pthread_mutex_lock (&p->lock);
  p->stop = true;
  pthread_cond_broadcast (&p->cond);
  pthread_mutex_unlock (&p->lock);
  for (size_t i = 0; i < p->nthreads; i++)
    pthread_join (p->threads[i], NULL);
  for (size_t i = 0; i < p->njobs; i++) {
    free (p->jobs[i].zbuf);
    free (p->jobs[i].out);
  }
  pthread_cond_destroy (&p->cond);
  pthread_mutex_destroy (&p->lock);
}

/* Workers block the signals the tool handles, so those reach the
 * caller's thread.  Memory: (2 * workers + 2) jobs of about JOB_BYTES
 * of grains, compressed and inflated. */
static int
pool_start (struct pool *p, struct vmdk_stream *s)
{
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  size_t workers = cpus < 1 ? 1 : (size_t) MIN (cpus, MAX_WORKERS);
  sigset_t set, old;

  *p = (struct pool) { .s = s, .njobs = 2 * workers + 2 };
  p->per_job = MAX (1u, MIN ((unsigned) (JOB_BYTES / s->grain),
                             (unsigned) JOB_GRAINS));
  pthread_mutex_init (&p->lock, NULL);
  pthread_cond_init (&p->cond, NULL);
  for (size_t i = 0; i < p->njobs; i++) {
    p->jobs[i].zbuf = malloc (p->per_job * s->zcap);
    p->jobs[i].out = malloc ((size_t) p->per_job * s->grain);
    if (p->jobs[i].zbuf == NULL || p->jobs[i].out == NULL) {
      hv_error (HV_E_NOMEM, "%s: %m", s->name);
      pool_stop (p);
      return -1;
    }
  }
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, &old);
  while (p->nthreads < workers &&
         pthread_create (&p->threads[p->nthreads], NULL, worker, p) == 0)
    p->nthreads++;
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (p->nthreads == 0) {
    hv_error (HV_E_IO, "%s: starting the decoding threads: %m", s->name);
    pool_stop (p);
    return -1;
  }
  return 0;
}

/* Report a failed grain, or write a good one (its zeros skipped). */
static int
finish_grain (struct pool *p, struct job *j, unsigned i, struct disk *dst,
              uint64_t *written)
{
  struct vmdk_stream *s = p->s;
  const uint64_t at = j->lba[i] * SECTOR;
  const uint8_t *out = j->out + (size_t) i * s->grain;
  uint64_t n = MIN ((uint64_t) j->n[i], s->capacity - at);

  if (j->zerr[i] != Z_OK) {
    hv_error (HV_E_FORMAT, "%s: grain at sector %" PRIu64 ": %s%s", s->name,
              j->lba[i], j->zerr[i] == Z_BUF_ERROR ? "inflates past the "
              "grain size or is truncated: " : "corrupt compressed data: ",
              zError (j->zerr[i]));
    return -1;
  }
  if (n == 0 || is_zero (out, n))
    return 0;
  *written += n;
  return disk_pwrite (dst, out, n, at);
}

/* Wait for the oldest job and write its grains in order. */
static int
write_oldest (struct pool *p, struct disk *dst, uint64_t *written)
{
  struct job *j = &p->jobs[p->tail % p->njobs];
  int r = 0;

  pthread_mutex_lock (&p->lock);
  while (j->state != JOB_DONE)
    pthread_cond_wait (&p->cond, &p->lock);
  pthread_mutex_unlock (&p->lock);
  for (unsigned i = 0; r == 0 && i < j->count; i++)
    r = finish_grain (p, j, i, dst, written);
  j->state = JOB_FREE;
  p->tail++;
  return r;
}

/* Hand the job being filled to the workers. */
static void
submit (struct pool *p)
{
  if (p->filling == NULL)
    return;
  pthread_mutex_lock (&p->lock);
  p->filling->state = JOB_FILLED;
  p->head++;
  pthread_cond_broadcast (&p->cond);
  pthread_mutex_unlock (&p->lock);
  p->filling = NULL;
}

/* One grain whose marker sector is M: checked, read into a job. */
static int
grain (struct pool *p, const uint8_t *m, struct disk *dst,
       uint64_t *written)
{
  struct vmdk_stream *s = p->s;
  const uint64_t lba = load_le64 (m);
  const uint32_t size = load_le32 (m + 8);
  struct job *j;
  uint8_t *z;

  if (size > s->zcap - 12) {
    hv_error (HV_E_FORMAT, "%s: grain at sector %" PRIu64 ": compressed "
              "size %" PRIu32 " is more than a grain can take", s->name, lba,
              size);
    return -1;
  }
  if (lba % (s->grain / SECTOR) || lba * SECTOR >= s->capacity) {
    hv_error (HV_E_FORMAT, "%s: grain marker LBA %" PRIu64 " is not a grain "
              "boundary inside the disk", s->name, lba);
    return -1;
  }
  if (p->filling == NULL) {
    if (p->head - p->tail == p->njobs &&
        write_oldest (p, dst, written) == -1)
      return -1;
    p->filling = &p->jobs[p->head % p->njobs];
    p->filling->count = 0;
  }
  j = p->filling;
  z = j->zbuf + (size_t) j->count * s->zcap;
  memcpy (z, m, SECTOR);
  if (take (s, z + SECTOR, ROUND_UP ((size_t) size + 12, SECTOR) - SECTOR)
      == -1)
    return -1;
  j->lba[j->count] = lba;
  j->size[j->count] = size;
  if (++j->count == p->per_job)
    submit (p);
  return 0;
}

/* Read markers until the end: 1 at the end, 0 to go on, -1. */
static int
next_marker (struct pool *p, struct disk *dst, uint64_t *written)
{
  struct vmdk_stream *s = p->s;
  uint8_t *m = s->zbuf;
  uint64_t val;

  /* qemu-img writes no end-of-stream marker (its grain directory is at
   * the front): the end of the data at a marker is the end. */
  if (s->total && s->consumed == s->total)
    return 1;
  if (hv_check_interrupted () == -1 || take (s, m, SECTOR) == -1)
    return -1;
  val = load_le64 (m);
  if (load_le32 (m + 8) != 0)
    return grain (p, m, dst, written);
  submit (p);                    /* metadata: the batch ends here */
  if (load_le32 (m + 12) == MARKER_EOS)
    return 1;
  if (val > MAX_META_SECTORS) {
    hv_error (HV_E_FORMAT, "%s: metadata marker of %" PRIu64 " sectors",
              s->name, val);
    return -1;
  }
  return skip (s, val * SECTOR);
}

int
vmdk_stream_copy (struct vmdk_stream *s, struct disk *dst, uint64_t *written)
{
  struct pool p;
  int r;

  *written = 0;
  if (pool_start (&p, s) == -1)
    return -1;
  while ((r = next_marker (&p, dst, written)) == 0)
    ;
  if (r == 1)
    submit (&p);
  while (r == 1 && p.tail < p.head)
    if (write_oldest (&p, dst, written) == -1)
      r = -1;
  pool_stop (&p);
  return r == 1 ? 0 : -1;
}

void
vmdk_stream_free (struct vmdk_stream *s)
{
  if (s == NULL)
    return;
  free (s->zbuf);
  free (s);
}

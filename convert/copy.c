/* The copy engine: every byte of one disk to another, fast.
 *
 * What makes it fast:
 * - The source's extents say where data is; zero extents (holes,
 *   unallocated blocks) are neither read nor written.
 * - Data is read in chunks of CHUNK bytes that never cross a CHUNK
 *   boundary, so they line up with the destination's blocks (VHD block
 *   sizes are powers of two), and tested for zeros in pieces that divide
 *   the destination's allocation unit.  All-zero pieces are not written:
 *   a dynamic VHD leaves their blocks unallocated, a fixed VHD's file
 *   keeps a hole there.
 * - A reader thread (read + zero test) fills a small ring of buffers
 *   while the calling thread writes, so the two overlap on two cores.
 *   One writer keeps the writes in ascending order: the same input gives
 *   the same output file, and the VHD writer's append path stays
 *   sequential.  Memory is bounded by SLOTS * CHUNK.
 * - Writeback of the destination's file is started as the copy goes, so
 *   the disk writes while we copy and the final fsync has little left to
 *   wait for.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>

#include "convert.h"

#define CHUNK      (4 * MiB)     /* one read */
#define SLOTS      4             /* buffers in the ring */
#define ZERO_UNIT  (64 * KiB)    /* zero test granularity, at most */
#define MIN_HOLE   (64 * KiB)    /* smaller holes are read, not split at */
#define WINDOW     (1 * GiB)     /* extents asked for at once */
#define WRITEBACK  (32 * MiB)    /* start writeback after this much */

/* A non-zero piece of a slot's buffer: what the writer writes. */
struct run {
  uint32_t start, len;
};

struct slot {
  uint8_t *buf;
  uint64_t offset;              /* of buf[0] on the disk */
  size_t len;
  struct run *runs;             /* room for CHUNK / zero_unit + 1 */
  size_t nruns;
};

/* The reader fills slots at head, the writer drains them at tail.  The
 * lock guards the indices and flags, not the buffers: a slot belongs to
 * the reader until counted in `full`, then to the writer. */
struct ring {
  struct slot slots[SLOTS];
  size_t head, tail, full;
  bool eof;                     /* the reader has finished */
  bool reader_failed;           /* ... with an error it reported */
  bool stop;                    /* the writer failed: reader, stop */
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

struct copy {
  struct disk *src, *dst;
  size_t zero_unit;
  struct ring ring;
  uint64_t bytes_read;          /* reader thread only */
  uint64_t bytes_written;       /* writer only */
  uint64_t unsynced;            /* writer: written since last writeback */
  int writeback_fd;
  struct progress *progress;    /* writer only */
};

/* ---------------------------------------------------------------- */
/* The ring. */

static struct slot *
ring_get_free (struct ring *r)
{
  struct slot *s;

  pthread_mutex_lock (&r->lock);
  while (r->full == SLOTS && !r->stop)
    pthread_cond_wait (&r->cond, &r->lock);
  s = r->stop ? NULL : &r->slots[r->head];
  pthread_mutex_unlock (&r->lock);
  return s;
}

static void
ring_put_full (struct ring *r)
{
  pthread_mutex_lock (&r->lock);
  r->head = (r->head + 1) % SLOTS;
  r->full++;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* NULL when the reader has finished and every slot is drained. */
static struct slot *
ring_get_full (struct ring *r)
{
  struct slot *s;

  pthread_mutex_lock (&r->lock);
  while (r->full == 0 && !r->eof)
    pthread_cond_wait (&r->cond, &r->lock);
  s = r->full ? &r->slots[r->tail] : NULL;
  pthread_mutex_unlock (&r->lock);
  return s;
}

static void
ring_put_free (struct ring *r)
{
  pthread_mutex_lock (&r->lock);
  r->tail = (r->tail + 1) % SLOTS;
  r->full--;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* The reader has finished, FAILED if with an error it reported. */
static void
ring_finish (struct ring *r, bool failed)
{
  pthread_mutex_lock (&r->lock);
  r->eof = true;
  r->reader_failed = failed;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* The writer failed: the reader must not wait for a free slot. */
static void
ring_stop (struct ring *r)
{
  pthread_mutex_lock (&r->lock);
  r->stop = true;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* ---------------------------------------------------------------- */
/* The reader thread. */

static void
add_run (struct slot *s, size_t start, size_t len)
{
  struct run *last = s->nruns ? &s->runs[s->nruns - 1] : NULL;

  if (last && last->start + last->len == start)
    last->len += len;
  else
    s->runs[s->nruns++] = (struct run) { start, len };
}

/* Split the slot into pieces aligned to the zero unit on the disk (the
 * first and last may be shorter) and keep the non-zero ones, merged. */
static void
find_runs (struct slot *s, size_t unit)
{
  size_t i = 0;

  s->nruns = 0;
  while (i < s->len) {
    size_t n = MIN (s->len - i, unit - (s->offset + i) % unit);
    if (!is_zero (s->buf + i, n))
      add_run (s, i, n);
    i += n;
  }
}

/* Read [OFFSET, OFFSET+LEN) into slots.  Stops early, without error,
 * when the writer failed or a signal came: the writer reports that. */
static int
read_data (struct copy *c, uint64_t offset, uint64_t len)
{
  while (len > 0) {
    size_t n = MIN (len, CHUNK - offset % CHUNK);
    struct slot *s = ring_get_free (&c->ring);
    if (s == NULL || hv_interrupted)
      return 1;
    if (disk_pread (c->src, s->buf, n, offset) == -1)
      return -1;
    s->offset = offset;
    s->len = n;
    find_runs (s, c->zero_unit);
    c->bytes_read += n;
    ring_put_full (&c->ring);
    offset += n;
    len -= n;
  }
  return 0;
}

/* Holes shorter than MIN_HOLE between data (a fragmented sparse file)
 * are cheaper to read as part of one chunk than to split reads at; the
 * zero test still skips them when writing. */
static void
merge_small_holes (struct extent_vector *ev)
{
  size_t out = 0;

  for (size_t i = 0; i < ev->len; i++) {
    struct extent e = ev->ptr[i];
    if (e.type == EXTENT_ZERO && e.length < MIN_HOLE &&
        i > 0 && i + 1 < ev->len)
      e.type = EXTENT_DATA;
    if (out > 0 && ev->ptr[out - 1].type == e.type)
      ev->ptr[out - 1].length += e.length;
    else
      ev->ptr[out++] = e;
  }
  ev->len = out;
}

/* One window of extents: read the data, skip the zeros.  Sets *POS to
 * the end of what the extents covered. */
static int
read_window (struct copy *c, uint64_t *pos)
{
  struct extent_vector ev = { 0 };
  uint64_t len = MIN (WINDOW, c->src->size - *pos);
  int r = disk_extents (c->src, *pos, len, &ev);

  if (r == 0 && ev.len == 0) {
    hv_error (HV_E_INTERNAL, "%s: no extents at offset %" PRIu64,
              c->src->filename, *pos);
    r = -1;
  }
  merge_small_holes (&ev);
  for (size_t i = 0; r == 0 && i < ev.len; i++) {
    if (ev.ptr[i].type == EXTENT_DATA)
      r = read_data (c, ev.ptr[i].offset, ev.ptr[i].length);
    *pos = ev.ptr[i].offset + ev.ptr[i].length;
  }
  free (ev.ptr);
  return r;
}

static void *
reader_main (void *arg)
{
  struct copy *c = arg;
  uint64_t pos = 0;
  int r = 0;

  while (r == 0 && pos < c->src->size)
    r = read_window (c, &pos);
  ring_finish (&c->ring, r == -1);
  return NULL;
}

/* The reader blocks the signals we handle, so they reach the writer and
 * a read is never cut short by EINTR. */
static int
start_reader (struct copy *c, pthread_t *thread)
{
  sigset_t set, old;
  int err;

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, &old);
  err = pthread_create (thread, NULL, reader_main, c);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (err) {
    errno = err;
    hv_error (HV_E_IO, "%s: starting the reader thread: %m",
              c->src->filename);
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------- */
/* The writer (the calling thread). */

static int
write_slot (struct copy *c, const struct slot *s)
{
  for (size_t i = 0; i < s->nruns; i++) {
    const struct run *run = &s->runs[i];
    if (disk_pwrite (c->dst, s->buf + run->start, run->len,
                     s->offset + run->start) == -1)
      return -1;
    c->bytes_written += run->len;
    c->unsynced += run->len;
  }
  progress_update (c->progress, s->offset + s->len);
  return 0;
}

/* Ask the kernel to start writing back what was written so far, without
 * waiting for it.  Only a hint: failures are ignored, fsync decides. */
static void
start_writeback (struct copy *c)
{
  if (c->writeback_fd < 0 || c->unsynced < WRITEBACK)
    return;
  sync_file_range (c->writeback_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  c->unsynced = 0;
}

static int
write_all (struct copy *c)
{
  struct slot *s;
  int r = 0;

  while (r == 0 && (s = ring_get_full (&c->ring)) != NULL) {
    r = hv_check_interrupted ();
    if (r == 0)
      r = write_slot (c, s);
    ring_put_free (&c->ring);
    start_writeback (c);
  }
  return r;
}

/* ---------------------------------------------------------------- */

/* Buffers on 2 MiB boundaries, backed by huge pages where the kernel
 * allows.  Copying the source into them is the largest cost of a copy,
 * and with 4 KiB pages much of it goes to TLB misses: huge pages cut the
 * CPU time of a dense 2 GiB copy by a quarter. */
static void *
alloc_buffer (size_t len)
{
  void *p;

  if (posix_memalign (&p, 2 * MiB, len) != 0)
    return NULL;
  madvise (p, len, MADV_HUGEPAGE);    /* only a hint */
  return p;
}

static int
copy_init (struct copy *c, const struct copy_opts *o)
{
  size_t unit = o->alloc_unit ? MIN (o->alloc_unit, ZERO_UNIT) : ZERO_UNIT;

  c->zero_unit = unit;
  pthread_mutex_init (&c->ring.lock, NULL);
  pthread_cond_init (&c->ring.cond, NULL);
  for (size_t i = 0; i < SLOTS; i++) {
    struct slot *s = &c->ring.slots[i];
    s->buf = alloc_buffer (CHUNK);
    s->runs = malloc ((CHUNK / unit + 1) * sizeof *s->runs);
    if (s->buf == NULL || s->runs == NULL) {
      hv_error (HV_E_NOMEM, "%s: copy buffers: %m", c->src->filename);
      return -1;
    }
  }
  return 0;
}

static void
copy_free (struct copy *c)
{
  for (size_t i = 0; i < SLOTS; i++) {
    free (c->ring.slots[i].buf);
    free (c->ring.slots[i].runs);
  }
  pthread_cond_destroy (&c->ring.cond);
  pthread_mutex_destroy (&c->ring.lock);
}

/* Run the pipeline; the first failure stops both sides. */
static int
run_pipeline (struct copy *c)
{
  pthread_t reader;
  int r;

  if (start_reader (c, &reader) == -1)
    return -1;
  r = write_all (c);
  if (r == -1)
    ring_stop (&c->ring);
  pthread_join (reader, NULL);
  if (c->ring.reader_failed)
    return -1;
  return r == 0 ? hv_check_interrupted () : r;
}

int
copy_disk (struct disk *src, struct disk *dst, const struct copy_opts *o,
           struct copy_stats *stats)
{
  struct copy c = { .src = src, .dst = dst,
                    .writeback_fd = o->writeback_fd };
  double start = now_seconds ();
  int r;

  if (src->size != dst->size) {
    hv_error (HV_E_INTERNAL, "%s: copying %" PRIu64 " bytes to %s of %"
              PRIu64 " bytes", src->filename, src->size, dst->filename,
              dst->size);
    return -1;
  }
  r = copy_init (&c, o);
  if (r == 0) {
    c.progress = progress_start (o->what ? o->what : src->filename,
                                 src->size);
    r = run_pipeline (&c);
    progress_end (c.progress, r == 0);
  }
  copy_free (&c);
  *stats = (struct copy_stats) { c.bytes_read, c.bytes_written,
                                 now_seconds () - start };
  hv_debug ("copy: read %" PRIu64 ", wrote %" PRIu64 " bytes in %.3f s",
            stats->bytes_read, stats->bytes_written, stats->seconds);
  return r;
}

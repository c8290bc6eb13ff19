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
 * - Reader threads, one per core, read (and for compressed sources
 *   decode) chunks and test them for zeros into a small ring of buffers
 *   while the calling thread writes, so decoding uses every core and
 *   overlaps the writes.  Chunks are handed out in disk order and one
 *   writer writes them in that order: the same input gives the same
 *   output file, and the VHD writer's append path stays sequential.
 *   Memory is bounded by (2 * readers + 2) * CHUNK, whatever the size.
 * - Writeback of the destination's file is started as the copy goes, so
 *   the disk writes while we copy and the final fsync has little left to
 *   wait for.
 */
#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <sys/mman.h>

#include "convert.h"

#define CHUNK      (4 * MiB)     /* one read */
#define MAX_READERS 8            /* reader threads, at most */
#define ZERO_UNIT  (64 * KiB)    /* zero test granularity, at most */
#define MIN_HOLE   (64 * KiB)    /* smaller holes are read, not split at */
#define WINDOW     (1 * GiB)     /* extents asked for at once */
#define WRITEBACK  (32 * MiB)    /* start writeback after this much */

/* A non-zero piece of a slot's buffer: what the writer writes. */
struct run {
  uint32_t start, len;
};

struct slot {
  uint8_t *buf;                 /* the slot's own buffer */
  const uint8_t *data;          /* the chunk: buf, or the source's map */
  bool mapped;                  /* data is in the source's mapping */
  uint64_t offset;              /* of data[0] on the disk */
  size_t len;
  struct run *runs;             /* room for CHUNK / zero_unit + 1 */
  size_t nruns;
  bool ready;                   /* filled, waiting for the writer */
};

/* Chunks are numbered in disk order as they are handed out; chunk SEQ
 * goes into slot SEQ % nslots, and the writer writes them in number
 * order.  A reader may fill chunk SEQ once SEQ < tail + nslots (the
 * writer has freed that slot), so the reader holding the lowest number
 * can always go on: no deadlock, and at most nslots chunks in memory.
 * The lock guards the indices and flags, not the buffers: a slot
 * belongs to its reader until marked ready, then to the writer. */
struct ring {
  struct slot *slots;
  size_t nslots;
  uint64_t tail;                /* next chunk to write */
  uint64_t total;               /* chunks in all, once `done` */
  bool done;                    /* every chunk has been handed out */
  bool reader_failed;           /* a reader failed and reported it */
  bool stop;                    /* failure or signal: everyone stop */
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

/* Where the readers are in the source's extents.  Handing out chunks is
 * serial (it walks the extents in order); reading and decoding them is
 * not. */
struct work {
  pthread_mutex_t lock;
  struct extent_vector ev;      /* the current window of extents */
  size_t i;                     /* the extent being handed out */
  uint64_t pos;                 /* next byte to hand out in it */
  uint64_t window_end;          /* where the next window starts */
  uint64_t next_seq;            /* number of the next chunk */
};

struct copy {
  struct disk *src, *dst;
  size_t zero_unit;
  size_t nreaders;
  struct ring ring;
  struct work work;
  uint64_t bytes_read;          /* under ring.lock */
  uint64_t bytes_written;       /* writer only */
  uint64_t unsynced;            /* writer: written since last writeback */
  int writeback_fd;
  struct progress *progress;    /* writer only */
};

/* ---------------------------------------------------------------- */
/* The ring. */

/* Wait until chunk SEQ's slot is free; NULL if everyone must stop. */
static struct slot *
ring_get_free (struct ring *r, uint64_t seq)
{
  struct slot *s;

  pthread_mutex_lock (&r->lock);
  while (seq >= r->tail + r->nslots && !r->stop)
    pthread_cond_wait (&r->cond, &r->lock);
  s = r->stop ? NULL : &r->slots[seq % r->nslots];
  pthread_mutex_unlock (&r->lock);
  return s;
}

static void
ring_put_full (struct copy *c, struct slot *s)
{
  struct ring *r = &c->ring;

  pthread_mutex_lock (&r->lock);
  s->ready = true;
  c->bytes_read += s->len;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* The next chunk in order; NULL when all are written or on stop. */
static struct slot *
ring_get_full (struct ring *r)
{
  struct slot *s = &r->slots[r->tail % r->nslots];

  pthread_mutex_lock (&r->lock);
  while (!s->ready && !r->stop && !(r->done && r->tail == r->total))
    pthread_cond_wait (&r->cond, &r->lock);
  if (!s->ready || r->stop)
    s = NULL;
  pthread_mutex_unlock (&r->lock);
  return s;
}

static void
ring_put_free (struct ring *r, struct slot *s)
{
  pthread_mutex_lock (&r->lock);
  s->ready = false;
  r->tail++;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* Every chunk has been handed out: TOTAL of them. */
static void
ring_finish (struct ring *r, uint64_t total)
{
  pthread_mutex_lock (&r->lock);
  r->done = true;
  r->total = total;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* A failure (FAILED: a reader's, already reported) or a signal: wake
 * and stop every thread. */
static void
ring_stop (struct ring *r, bool failed)
{
  pthread_mutex_lock (&r->lock);
  r->stop = true;
  r->reader_failed |= failed;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
}

/* ---------------------------------------------------------------- */
/* Handing out chunks. */

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

/* The next window of extents from the source. */
static int
next_window (struct copy *c)
{
  struct work *w = &c->work;
  const uint64_t len = MIN (WINDOW, c->src->size - w->window_end);
  const struct extent *last;

  w->ev.len = 0;
  w->i = 0;
  if (disk_extents (c->src, w->window_end, len, &w->ev) == -1)
    return -1;
  if (w->ev.len == 0 || w->ev.ptr[0].offset != w->window_end) {
    hv_error (HV_E_INTERNAL, "%s: no extents at offset %" PRIu64,
              c->src->filename, w->window_end);
    return -1;
  }
  merge_small_holes (&w->ev);
  last = &w->ev.ptr[w->ev.len - 1];
  w->pos = w->window_end;
  w->window_end = last->offset + last->length;
  return 0;
}

/* The next data chunk to read, in disk order: never crossing a CHUNK
 * boundary, never in a zero extent.  Returns 1 with *OFFSET, *LEN and
 * *SEQ set, 0 when there is none left, -1 after reporting. */
static int
next_chunk_locked (struct copy *c, uint64_t *offset, size_t *len,
                   uint64_t *seq)
{
  struct work *w = &c->work;

  for (;;) {
    if (w->i < w->ev.len) {
      const struct extent *e = &w->ev.ptr[w->i];
      const uint64_t end = e->offset + e->length;
      w->pos = MAX (w->pos, e->offset);
      if (e->type == EXTENT_ZERO || w->pos >= end) {
        w->i++;
        continue;
      }
      *offset = w->pos;
      *len = MIN (end - w->pos, CHUNK - w->pos % CHUNK);
      *seq = w->next_seq++;
      w->pos += *len;
      return 1;
    }
    if (w->window_end >= c->src->size)
      return 0;
    if (next_window (c) == -1)
      return -1;
  }
}

static int
next_chunk (struct copy *c, uint64_t *offset, size_t *len, uint64_t *seq)
{
  int r;

  pthread_mutex_lock (&c->work.lock);
  r = next_chunk_locked (c, offset, len, seq);
  if (r == 0)
    ring_finish (&c->ring, c->work.next_seq);
  pthread_mutex_unlock (&c->work.lock);
  return r;
}

/* ---------------------------------------------------------------- */
/* The reader threads. */

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
    if (!is_zero (s->data + i, n))
      add_run (s, i, n);
    i += n;
  }
}

/* A mapped source faults with SIGBUS if its file shrinks under us: the
 * reader that touched it jumps back and reports, instead of dying. */
static __thread sigjmp_buf *bus_jump;

static void
on_sigbus (int sig)
{
  if (bus_jump)
    siglongjmp (*bus_jump, 1);
  signal (SIGBUS, SIG_DFL);
  raise (SIGBUS);
}

static int
find_runs_mapped (struct copy *c, struct slot *s)
{
  sigjmp_buf jb;

  if (sigsetjmp (jb, 1)) {
    bus_jump = NULL;
    hv_error (HV_E_IO, "%s: the file changed size while being read "
              "(offset %" PRIu64 ")", c->src->filename, s->offset);
    return -1;
  }
  bus_jump = &jb;
  find_runs (s, c->zero_unit);
  bus_jump = NULL;
  return 0;
}

/* The chunk in the source's mapping, or read into the slot's buffer. */
static int
fill_slot (struct copy *c, struct slot *s, uint64_t offset, size_t len)
{
  const uint8_t *p = disk_map (c->src, offset, len);

  s->offset = offset;
  s->len = len;
  s->mapped = p != NULL;
  s->data = p ? p : s->buf;
  if (p)
    return find_runs_mapped (c, s);
  if (disk_pread (c->src, s->buf, len, offset) == -1)
    return -1;
  find_runs (s, c->zero_unit);
  return 0;
}

/* Read (and, for compressed sources, decode) one chunk into its slot.
 * Returns 1 when there is nothing more to do for this thread. */
static int
read_one (struct copy *c)
{
  uint64_t offset, seq;
  size_t len;
  struct slot *s;
  int r;

  if (hv_interrupted)
    return 1;
  r = next_chunk (c, &offset, &len, &seq);
  if (r <= 0)
    return r == 0 ? 1 : -1;
  s = ring_get_free (&c->ring, seq);
  if (s == NULL)
    return 1;
  if (fill_slot (c, s, offset, len) == -1)
    return -1;
  ring_put_full (c, s);
  return 0;
}

/* A reader stops at the end, on its own failure (stopping the others),
 * or when it sees a signal (the writer reports that). */
static void *
reader_main (void *arg)
{
  struct copy *c = arg;
  int r;

  while ((r = read_one (c)) == 0)
    ;
  if (r == -1 || hv_interrupted)
    ring_stop (&c->ring, r == -1);
  return NULL;
}

/* The readers block the signals we handle, so they reach the writer and
 * a read is never cut short by EINTR.  Returns how many started. */
static size_t
start_readers (struct copy *c, pthread_t *threads)
{
  struct sigaction bus = { .sa_handler = on_sigbus };
  sigset_t set, old;
  size_t n = 0;
  int err = 0;

  sigemptyset (&bus.sa_mask);
  sigaction (SIGBUS, &bus, NULL);

  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, &old);
  while (n < c->nreaders &&
         (err = pthread_create (&threads[n], NULL, reader_main, c)) == 0)
    n++;
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (n == 0) {
    errno = err;
    hv_error (HV_E_IO, "%s: starting the reader threads: %m",
              c->src->filename);
  }
  return n;
}

/* ---------------------------------------------------------------- */
/* The writer (the calling thread). */

/* Drop a mapped chunk's pages from our address space once written (the
 * page cache keeps them), so the mapping does not grow the resident
 * size beyond what the ring holds. */
static void
release_mapped (const struct slot *s)
{
  const uintptr_t page = 4096;
  uintptr_t lo = (uintptr_t) s->data & ~(page - 1);
  uintptr_t hi = ((uintptr_t) s->data + s->len) & ~(page - 1);

  if (s->mapped && hi > lo)
    madvise ((void *) lo, hi - lo, MADV_DONTNEED);
}

static int
write_slot (struct copy *c, const struct slot *s)
{
  for (size_t i = 0; i < s->nruns; i++) {
    const struct run *run = &s->runs[i];
    if (disk_pwrite (c->dst, s->data + run->start, run->len,
                     s->offset + run->start) == -1)
      return -1;
    c->bytes_written += run->len;
    c->unsynced += run->len;
  }
  release_mapped (s);
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
    ring_put_free (&c->ring, s);
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

/* One reader per core (a compressed source is decoded by the readers),
 * and two slots per reader plus two, so every reader can have a chunk
 * in hand while the writer drains: memory is (2 * cores + 2) * CHUNK. */
static size_t
reader_count (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);

  return n < 1 ? 1 : (size_t) MIN (n, MAX_READERS);
}

static int
copy_init (struct copy *c, const struct copy_opts *o)
{
  size_t unit = o->alloc_unit ? MIN (o->alloc_unit, ZERO_UNIT) : ZERO_UNIT;
  struct ring *r = &c->ring;

  c->zero_unit = unit;
  c->nreaders = reader_count ();
  pthread_mutex_init (&r->lock, NULL);
  pthread_cond_init (&r->cond, NULL);
  pthread_mutex_init (&c->work.lock, NULL);
  r->nslots = 2 * c->nreaders + 2;
  r->slots = calloc (r->nslots, sizeof *r->slots);
  for (size_t i = 0; r->slots && i < r->nslots; i++) {
    struct slot *s = &r->slots[i];
    s->buf = alloc_buffer (CHUNK);
    s->runs = malloc ((CHUNK / unit + 1) * sizeof *s->runs);
    if (s->buf == NULL || s->runs == NULL)
      break;
  }
  if (r->slots == NULL || r->slots[r->nslots - 1].runs == NULL) {
    hv_error (HV_E_NOMEM, "%s: copy buffers: %m", c->src->filename);
    return -1;
  }
  return 0;
}

static void
copy_free (struct copy *c)
{
  for (size_t i = 0; c->ring.slots && i < c->ring.nslots; i++) {
    free (c->ring.slots[i].buf);
    free (c->ring.slots[i].runs);
  }
  free (c->ring.slots);
  free (c->work.ev.ptr);
  pthread_mutex_destroy (&c->work.lock);
  pthread_cond_destroy (&c->ring.cond);
  pthread_mutex_destroy (&c->ring.lock);
}

/* Run the pipeline; the first failure stops every thread. */
static int
run_pipeline (struct copy *c)
{
  pthread_t readers[MAX_READERS];
  size_t n = start_readers (c, readers);
  int r;

  if (n == 0)
    return -1;
  r = write_all (c);
  if (r == -1)
    ring_stop (&c->ring, false);
  for (size_t i = 0; i < n; i++)
    pthread_join (readers[i], NULL);
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

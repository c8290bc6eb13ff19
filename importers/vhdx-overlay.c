/* VHDX: the overlay of a replayed log.
 *
 * vhdx-log.c turns the active log sequence into writes, in log order:
 * 4 KiB data sectors and zeroed ranges, which may overlap (a later
 * write replaces an earlier one).  Here they become sorted, disjoint
 * ranges, by a sweep over their ends with a max-heap (by log order) of
 * the writes covering the sweep point: the latest owns each piece.
 * O(n log n) for n writes.  vhdx_read lays the ranges over the file.
 */
#include <config.h>

#include "vhdx-internal.h"

DEFINE_VECTOR (range_vector, struct vhdx_range)

struct sweep {
  struct vhdx_write *by_start;   /* the writes sorted by start */
  size_t n, next;
  struct vhdx_write **heap;      /* by order, largest first */
  size_t heap_len;
};

static int
cmp_start (const void *a, const void *b)
{
  const struct vhdx_write *x = a, *y = b;

  return x->start < y->start ? -1 : x->start > y->start;
}

static int
cmp_u64 (const void *a, const void *b)
{
  const uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

static void
heap_swap (struct vhdx_write **h, size_t i, size_t j)
{
  struct vhdx_write *t = h[i];

  h[i] = h[j];
  h[j] = t;
}

static void
heap_push (struct sweep *s, struct vhdx_write *w)
{
  size_t i = s->heap_len++;

  s->heap[i] = w;
  while (i > 0 && s->heap[(i - 1) / 2]->order < s->heap[i]->order) {
    heap_swap (s->heap, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void
heap_pop (struct sweep *s)
{
  size_t i = 0;

  s->heap[0] = s->heap[--s->heap_len];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->heap_len)
      return;
    if (c + 1 < s->heap_len && s->heap[c + 1]->order > s->heap[c]->order)
      c++;
    if (s->heap[i]->order >= s->heap[c]->order)
      return;
    heap_swap (s->heap, i, c);
    i = c;
  }
}

/* [X, Y) belongs to W: append it, joined to the previous range when
 * the bytes continue it (zeros after zeros, or adjacent memory). */
static int
emit (struct range_vector *out, const struct vhdx_write *w, uint64_t x,
      uint64_t y)
{
  const uint8_t *data = w->data ? w->data + (x - w->start) : NULL;
  struct vhdx_range *prev = out->len ? &out->ptr[out->len - 1] : NULL;

  if (prev && prev->end == x &&
      (prev->data ? prev->data + (prev->end - prev->start) == data
                  : data == NULL)) {
    prev->end = y;
    return 0;
  }
  return range_vector_append (out, (struct vhdx_range) { x, y, data });
}

static int
sweep (struct sweep *s, const uint64_t *pts, size_t npts,
       struct range_vector *out)
{
  for (size_t k = 0; k + 1 < npts; k++) {
    while (s->next < s->n && s->by_start[s->next].start <= pts[k])
      heap_push (s, &s->by_start[s->next++]);
    while (s->heap_len && s->heap[0]->end <= pts[k])
      heap_pop (s);
    if (s->heap_len && emit (out, s->heap[0], pts[k], pts[k + 1]) == -1)
      return -1;
  }
  return 0;
}

/* The sorted, distinct ends of all writes. */
static size_t
sweep_points (const struct vhdx_write_vector *w, uint64_t *pts)
{
  size_t n = 0;

  for (size_t i = 0; i < w->len; i++) {
    pts[2 * i] = w->ptr[i].start;
    pts[2 * i + 1] = w->ptr[i].end;
  }
  qsort (pts, 2 * w->len, sizeof *pts, cmp_u64);
  for (size_t i = 0; i < 2 * w->len; i++) {
    if (n == 0 || pts[n - 1] != pts[i])
      pts[n++] = pts[i];
  }
  return n;
}

int
vhdx_overlay_build (struct vhdx *v, struct vhdx_write_vector *w)
{
  struct sweep s = { .by_start = w->ptr, .n = w->len };
  struct range_vector out = { 0 };
  uint64_t *pts;
  size_t npts;
  int r = -1;

  if (w->len == 0)              /* an entry may hold no descriptors */
    return 0;
  pts = malloc (2 * w->len * sizeof *pts);
  s.heap = malloc (w->len * sizeof *s.heap);
  if (pts && s.heap) {
    npts = sweep_points (w, pts);
    qsort (w->ptr, w->len, sizeof *w->ptr, cmp_start);
    r = sweep (&s, pts, npts, &out);
  }
  if (r == -1) {
    hv_error (HV_E_NOMEM, "%s: log replay: %m", v->d.filename);
    free (out.ptr);
  }
  else {
    v->overlay = out.ptr;
    v->n_overlay = out.len;
  }
  free (pts);
  free (s.heap);
  return r;
}

void
vhdx_overlay_apply (const struct vhdx *v, uint8_t *buf, size_t len,
                    uint64_t off)
{
  size_t lo = 0, hi = v->n_overlay;
  const uint64_t end = off + len;

  while (lo < hi) {                   /* the first range ending after OFF */
    size_t mid = lo + (hi - lo) / 2;
    if (v->overlay[mid].end <= off)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < v->n_overlay && v->overlay[i].start < end; i++) {
    const struct vhdx_range *r = &v->overlay[i];
    const uint64_t s = MAX (r->start, off), e = MIN (r->end, end);
    if (r->data)
      memcpy (buf + (s - off), r->data + (s - r->start), e - s);
    else
      memset (buf + (s - off), 0, e - s);
  }
}

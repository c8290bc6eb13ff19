/* Unit test: the overlay of a replayed VHDX log (vhdx-overlay.c).
 * Random overlapping writes, data pages and zeroed ranges, are made
 * into the overlay and laid over a buffer; the result must equal the
 * writes applied one by one in log order (the later wins). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vhdx-internal.h"

#define SPACE (256 * KiB)       /* the file range the writes fall in */
#define PAGE 4096
#define WRITES 300

static uint32_t seed = 12345;

static uint32_t
next (void)
{
  seed = seed * 1103515245 + 12345;
  return seed >> 8;
}

/* One random write, applied to MODEL too. */
static struct vhdx_write
random_write (uint8_t *pages, size_t i, uint8_t *model)
{
  struct vhdx_write w = { .order = i };

  w.start = (uint64_t) (next () % (SPACE / PAGE)) * PAGE;
  if (next () % 3 == 0) {                      /* zeros, 1 to 16 pages */
    uint64_t len = (1 + next () % 16) * PAGE;  /* (MIN evaluates twice) */
    w.end = MIN (w.start + len, SPACE);
    memset (model + w.start, 0, w.end - w.start);
    return w;
  }
  w.end = w.start + PAGE;
  w.data = pages + i * PAGE;
  memset (pages + i * PAGE, (int) (i % 255) + 1, PAGE);
  pages[i * PAGE] = next ();                   /* not all one byte */
  memcpy (model + w.start, w.data, PAGE);
  return w;
}

static void
check_against_model (void **state, size_t nwrites)
{
  struct vhdx v = { .d.filename = (char *) "test.vhdx" };
  struct vhdx_write_vector writes = { 0 };
  uint8_t *pages = malloc (nwrites * PAGE + 1);
  uint8_t *model = malloc (SPACE), *got = malloc (SPACE);

  assert_non_null (pages);
  for (size_t i = 0; i < SPACE; i++)
    model[i] = got[i] = (uint8_t) (i * 7 + 1);  /* the file before */
  for (size_t i = 0; i < nwrites; i++)
    assert_int_equal (vhdx_write_vector_append
                      (&writes, random_write (pages, i, model)), 0);
  assert_int_equal (vhdx_overlay_build (&v, &writes), 0);
  /* Disjoint and sorted. */
  for (size_t i = 1; i < v.n_overlay; i++)
    assert_true (v.overlay[i - 1].end <= v.overlay[i].start);
  /* Whole, then in odd pieces that start and end inside ranges. */
  vhdx_overlay_apply (&v, got, SPACE, 0);
  assert_memory_equal (got, model, SPACE);
  for (size_t off = 0; off < SPACE; off += 1000) {
    size_t n = MIN ((size_t) 1777, SPACE - off);
    for (size_t i = 0; i < n; i++)
      got[i] = (uint8_t) ((off + i) * 7 + 1);
    vhdx_overlay_apply (&v, got, n, off);
    assert_memory_equal (got, model + off, n);
  }
  free (v.overlay);
  free (writes.ptr);
  free (pages);
  free (model);
  free (got);
}

static void
test_many_overlapping (void **state)
{
  check_against_model (state, WRITES);
}

static void
test_few (void **state)
{
  check_against_model (state, 1);
  check_against_model (state, 2);
  check_against_model (state, 7);
}

static void
test_none (void **state)
{
  struct vhdx v = { .d.filename = (char *) "test.vhdx" };
  struct vhdx_write_vector writes = { 0 };
  uint8_t b[16] = { 1, 2, 3 };

  assert_int_equal (vhdx_overlay_build (&v, &writes), 0);
  assert_int_equal (v.n_overlay, 0);
  vhdx_overlay_apply (&v, b, sizeof b, 0);
  assert_int_equal (b[2], 3);
  free (v.overlay);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_none),
    cmocka_unit_test (test_few),
    cmocka_unit_test (test_many_overlapping),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

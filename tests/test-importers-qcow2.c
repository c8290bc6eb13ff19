/* Unit test: QCOW2 images as struct disk, read by several threads at
 * once.  The image, tests/fuzz-corpus-qcow2/many-l2.qcow2, is written by
 * fixtures/make-bad-qcow2.py (many_l2 there says what it holds); its
 * content is computed here again from the generator's recipe, so every
 * byte read is checked against what was written, not against another
 * read.  It has more L2 tables than the reader caches: threads reading
 * at random evict tables from under each other, and inflate compressed
 * clusters at the same time. */
#include <config.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "importers.h"

#define CLUSTER 512
#define SIZE (3 * MiB)
#define THREADS 4
#define READS 3000
#define MAX_READ (16 * KiB)

static char image[1024];

/* fixtures/make-bad-qcow2.py: pattern (seed, n). */
static uint8_t
pattern (uint64_t seed, uint64_t i)
{
  return (uint8_t) ((i * 7 + seed * 31 + (i >> 9)) % 251 + 1);
}

/* Is guest cluster V data (or compressed), and with which seed? */
static bool
cluster_seed (uint64_t v, uint64_t *seed)
{
  switch (v % 64) {
  case 0: case 40: *seed = v; return true;
  case 17: *seed = 100 + v; return true;
  default: return false;     /* zero or unallocated */
  }
}

static uint8_t
expected (uint64_t off)
{
  uint64_t seed;

  return cluster_seed (off / CLUSTER, &seed)
    ? pattern (seed, off % CLUSTER) : 0;
}

static void
check_bytes (const uint8_t *buf, size_t n, uint64_t off)
{
  for (size_t i = 0; i < n; i++)
    if (buf[i] != expected (off + i))
      fail_msg ("byte %llu: read 0x%02x, want 0x%02x",
                (unsigned long long) (off + i), buf[i], expected (off + i));
}

static void
test_open_detects (void **state)
{
  struct disk *d = importer_open (image, NULL, 0);

  assert_non_null (d);
  assert_string_equal (d->ops->name, "qcow2");
  assert_true (d->size == SIZE);
  assert_false (d->writable);
  assert_null (d->ops->pwrite);
  disk_close (d);
}

static void
test_whole_read (void **state)
{
  struct disk *d = importer_open (image, "qcow2", 0);
  uint8_t *buf = malloc (SIZE);

  assert_non_null (d);
  assert_non_null (buf);
  assert_int_equal (disk_pread (d, buf, SIZE, 0), 0);
  check_bytes (buf, SIZE, 0);
  free (buf);
  disk_close (d);
}

/* Extents of the whole disk: data exactly where the recipe puts data
 * or compressed clusters, zero elsewhere (zero clusters included). */
static void
test_extents (void **state)
{
  struct disk *d = importer_open (image, "qcow2", 0);
  struct extent_vector ev = { 0 };
  uint64_t off = 0, seed;

  assert_non_null (d);
  while (off < SIZE) {
    ev.len = 0;
    assert_int_equal (disk_extents (d, off, SIZE - off, &ev), 0);
    assert_true (ev.len > 0);
    for (size_t i = 0; i < ev.len; i++) {
      assert_true (ev.ptr[i].offset == off);
      for (uint64_t c = off; c < off + ev.ptr[i].length; c += CLUSTER)
        assert_int_equal (cluster_seed (c / CLUSTER, &seed),
                          ev.ptr[i].type == EXTENT_DATA);
      off += ev.ptr[i].length;
    }
  }
  free (ev.ptr);
  disk_close (d);
}

struct worker {
  struct disk *d;
  unsigned seed;
  int failures;
};

static void *
worker_main (void *arg)
{
  struct worker *w = arg;
  uint8_t *buf = malloc (MAX_READ);
  struct extent_vector ev = { 0 };

  for (int i = 0; buf && i < READS; i++) {
    uint64_t off = (uint64_t) rand_r (&w->seed) % SIZE;
    uint64_t len = (uint64_t) rand_r (&w->seed) % MAX_READ + 1;
    size_t n = MIN (len, SIZE - off);
    if (disk_pread (w->d, buf, n, off) == -1)
      w->failures++;
    for (size_t j = 0; j < n; j++)
      w->failures += buf[j] != expected (off + j);
    ev.len = 0;
    if (disk_extents (w->d, off, n, &ev) == -1 || ev.len == 0 ||
        ev.ptr[0].offset != off)
      w->failures++;
  }
  free (ev.ptr);
  free (buf);
  return NULL;
}

static void
test_threads (void **state)
{
  struct disk *d = importer_open (image, "qcow2", 0);
  struct worker w[THREADS];
  pthread_t t[THREADS];

  assert_non_null (d);
  for (int i = 0; i < THREADS; i++) {
    w[i] = (struct worker) { .d = d, .seed = 1234 + i };
    assert_int_equal (pthread_create (&t[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)   /* all joined before any assert */
    pthread_join (t[i], NULL);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal (w[i].failures, 0);
  disk_close (d);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_open_detects),
    cmocka_unit_test (test_whole_read),
    cmocka_unit_test (test_extents),
    cmocka_unit_test (test_threads),
  };
  const char *top = getenv ("top_srcdir");

  snprintf (image, sizeof image, "%s/tests/fuzz-corpus-qcow2/many-l2.qcow2",
            top ? top : ".");
  return cmocka_run_group_tests (tests, NULL, NULL);
}

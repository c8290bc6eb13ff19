/* Unit test: VMDK sparse extents as struct disk, read from several
 * threads at once.  The test writes its own KDMV files (plain and
 * streamOptimized: compressed grains behind markers): 48 MiB in grains
 * of 4 KiB, so 24 grain tables, more than the reader caches, and every
 * 97th grain holds a pattern of its number; some grains are zeroed-grain
 * entries.  Four threads read random unaligned ranges and compare each
 * with the model, which catches a grain table cache or a decode buffer
 * shared without its lock; the extents must list exactly the allocated
 * grains as data. */
#include <config.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <zlib.h>
#include <cmocka.h>

#include "importers.h"

#define SECTOR    512
#define GRAIN     8                     /* sectors */
#define GRAIN_B   (GRAIN * SECTOR)
#define CAPACITY  (48 * 2048)           /* sectors: 48 MiB */
#define GRAINS    (CAPACITY / GRAIN)
#define NGT       (GRAINS / 512)        /* 24 grain tables */
#define GT_START  2                     /* GD at sector 1 */
#define DATA      (GT_START + NGT * 4)  /* first grain's sector */
#define THREADS   4
#define READS     3000

static char dir[256];

static const char *
path (const char *name)
{
  static char buf[2][300];
  static int i;

  i = (i + 1) % 2;
  snprintf (buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

static bool
allocated (uint32_t g)
{
  return g % 97 == 3;
}

static bool
zeroed (uint32_t g)
{
  return g % 97 == 50;
}

/* The byte at disk offset OFF. */
static uint8_t
model (uint64_t off)
{
  const uint32_t g = off / GRAIN_B;

  return allocated (g) ? (uint8_t) (g * 31 + off % GRAIN_B) | 1 : 0;
}

static void
grain_data (uint32_t g, uint8_t *b)
{
  for (size_t i = 0; i < GRAIN_B; i++)
    b[i] = model ((uint64_t) g * GRAIN_B + i);
}

/* Append the grain's bytes at the end of the file and return their
 * sector: raw, or compressed behind a 12-byte marker. */
static uint32_t
put_grain (int fd, uint64_t *end, uint32_t g, bool compress)
{
  uint8_t raw[GRAIN_B], z[GRAIN_B * 2];
  uLongf zlen = sizeof z - 12;
  const uint32_t sector = *end / SECTOR;
  size_t n = GRAIN_B;

  grain_data (g, raw);
  if (compress) {
    assert_int_equal (compress2 (z + 12, &zlen, raw, GRAIN_B, 6), Z_OK);
    store_le64 (z, (uint64_t) g * GRAIN);
    store_le32 (z + 8, (uint32_t) zlen);
    n = ROUND_UP (12 + zlen, SECTOR);
    memset (z + 12 + zlen, 0, n - 12 - zlen);
  }
  assert_int_equal (full_pwrite (fd, compress ? z : raw, n, *end), 0);
  *end += n;
  return sector;
}

static void
make_image (const char *file, bool compress)
{
  uint8_t h[SECTOR] = { 0 }, gd[SECTOR] = { 0 };
  static uint32_t gte[GRAINS];
  uint64_t end = DATA * SECTOR;
  int fd = open (file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  assert_true (fd >= 0);
  memcpy (h, "KDMV", 4);
  store_le32 (h + 4, compress ? 3 : 1);
  store_le32 (h + 8, 1 | 4 | (compress ? 3u << 16 : 0));
  store_le64 (h + 12, CAPACITY);
  store_le64 (h + 20, GRAIN);
  store_le32 (h + 44, 512);
  store_le64 (h + 56, 1);
  store_le64 (h + 64, DATA);
  memcpy (h + 73, "\n \r\n", 4);
  store_le16 (h + 77, compress ? 1 : 0);
  for (uint32_t g = 0; g < GRAINS; g++)
    gte[g] = allocated (g) ? put_grain (fd, &end, g, compress)
      : zeroed (g) ? 1 : 0;
  for (uint32_t t = 0; t < NGT; t++)
    store_le32 (gd + 4 * t, GT_START + 4 * t);
  for (uint32_t g = 0; g < GRAINS; g++)
    store_le32 (&gte[g], gte[g]);
  assert_int_equal (full_pwrite (fd, h, SECTOR, 0), 0);
  assert_int_equal (full_pwrite (fd, gd, SECTOR, SECTOR), 0);
  assert_int_equal (full_pwrite (fd, gte, sizeof gte, GT_START * SECTOR), 0);
  close (fd);
}

struct reader {
  struct disk *d;
  uint32_t seed;
  int bad;                      /* reads that failed or differed */
};

static uint32_t
next_random (uint32_t *s)
{
  *s = *s * 1103515245 + 12345;
  return *s >> 8;
}

static void *
reader_main (void *arg)
{
  struct reader *r = arg;
  static __thread uint8_t buf[64 * KiB];

  for (int i = 0; i < READS; i++) {
    const uint64_t off = next_random (&r->seed) % (r->d->size - sizeof buf);
    const size_t len = 1 + next_random (&r->seed) % sizeof buf;
    if (disk_pread (r->d, buf, len, off) == -1) {
      r->bad++;
      continue;
    }
    for (size_t k = 0; k < len; k++)
      if (buf[k] != model (off + k)) {
        r->bad++;
        break;
      }
  }
  return NULL;
}

static void
read_in_threads (const char *file)
{
  struct reader r[THREADS];
  pthread_t t[THREADS];
  struct disk *d = importer_open (file, NULL, 0);

  assert_non_null (d);
  assert_string_equal (d->ops->name, "vmdk");
  assert_true (d->size == (uint64_t) CAPACITY * SECTOR);
  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct reader) { .d = d, .seed = 7 + i };
    assert_int_equal (pthread_create (&t[i], NULL, reader_main, &r[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join (t[i], NULL);
    assert_int_equal (r[i].bad, 0);
  }
  disk_close (d);
}

/* The data extents are exactly the allocated grains. */
static void
check_extents (const char *file)
{
  struct extent_vector ev = { 0 };
  struct disk *d = importer_open (file, "vmdk", 0);
  uint64_t data = 0, off = 0;

  assert_non_null (d);
  while (off < d->size) {
    ev.len = 0;
    assert_int_equal (disk_extents (d, off, d->size - off, &ev), 0);
    for (size_t i = 0; i < ev.len; i++) {
      assert_true (ev.ptr[i].offset == off);
      for (uint64_t b = off; b < off + ev.ptr[i].length; b += GRAIN_B)
        assert_int_equal (ev.ptr[i].type == EXTENT_DATA,
                          allocated (b / GRAIN_B));
      if (ev.ptr[i].type == EXTENT_DATA)
        data += ev.ptr[i].length;
      off += ev.ptr[i].length;
    }
  }
  assert_true (data == (uint64_t) (GRAINS / 97 + 1) * GRAIN_B);
  free (ev.ptr);
  disk_close (d);
}

static void
test_sparse_threads (void **state)
{
  make_image (path ("sparse.vmdk"), false);
  read_in_threads (path ("sparse.vmdk"));
  check_extents (path ("sparse.vmdk"));
  unlink (path ("sparse.vmdk"));
}

static void
test_compressed_threads (void **state)
{
  make_image (path ("stream.vmdk"), true);
  read_in_threads (path ("stream.vmdk"));
  check_extents (path ("stream.vmdk"));
  unlink (path ("stream.vmdk"));
}

static int
setup (void **state)
{
  snprintf (dir, sizeof dir, "%s/test-importers-vmdk.XXXXXX",
            getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp");
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  return rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sparse_threads),
    cmocka_unit_test (test_compressed_threads),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}

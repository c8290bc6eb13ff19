/* Unit test: raw images as struct disk.  A sparse file's hole is a zero
 * extent and its data a data extent; a partial last sector reads as
 * zeros; the disk is read-only; importer_open detects raw and refuses
 * directories and unknown formats. */
#include <config.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "importers.h"

static char dir[256];

static const char *
path (const char *name)
{
  static char buf[4][300];
  static int i;

  i = (i + 1) % 4;
  snprintf (buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

/* Write LEN bytes of VALUE at OFFSET, creating the file if needed. */
static void
put (const char *file, uint64_t offset, size_t len, uint8_t value)
{
  uint8_t *buf = malloc (len);
  int fd = open (file, O_WRONLY | O_CREAT, 0644);

  assert_non_null (buf);
  assert_true (fd >= 0);
  memset (buf, value, len);
  assert_int_equal (full_pwrite (fd, buf, len, offset), 0);
  close (fd);
  free (buf);
}

static void
test_sparse_extents (void **state)
{
  const char *file = path ("sparse.img");
  struct extent_vector ev = { 0 };
  struct disk *d;
  int fd = creat (file, 0644);

  /* 4 MiB with data in [1 MiB, 1 MiB + 64 KiB) only. */
  assert_true (fd >= 0);
  close (fd);
  assert_int_equal (truncate (file, 4 * MiB), 0);
  put (file, 1 * MiB, 64 * KiB, 0xAB);
  d = raw_open (file, 0);
  assert_non_null (d);
  assert_true (d->size == 4 * MiB);
  assert_int_equal (disk_extents (d, 0, d->size, &ev), 0);
  assert_int_equal (ev.len, 3);
  assert_int_equal (ev.ptr[0].type, EXTENT_ZERO);
  assert_true (ev.ptr[0].offset == 0 && ev.ptr[0].length == 1 * MiB);
  assert_int_equal (ev.ptr[1].type, EXTENT_DATA);
  assert_true (ev.ptr[1].offset == 1 * MiB && ev.ptr[1].length == 64 * KiB);
  assert_int_equal (ev.ptr[2].type, EXTENT_ZERO);
  assert_true (ev.ptr[2].offset == 1 * MiB + 64 * KiB &&
               ev.ptr[2].length == 3 * MiB - 64 * KiB);

  /* A query that starts inside the hole and ends inside the data. */
  ev.len = 0;
  assert_int_equal (disk_extents (d, 512 * KiB, 512 * KiB + 4096, &ev), 0);
  assert_int_equal (ev.len, 2);
  assert_true (ev.ptr[0].offset == 512 * KiB && ev.ptr[0].length == 512 * KiB);
  assert_int_equal (ev.ptr[1].type, EXTENT_DATA);
  assert_true (ev.ptr[1].length == 4096);
  free (ev.ptr);
  disk_close (d);
}

static void
test_partial_sector (void **state)
{
  const char *file = path ("odd.img");
  uint8_t buf[1024];
  struct disk *d;

  put (file, 0, 1000, 0xCD);
  d = raw_open (file, 0);
  assert_non_null (d);
  assert_true (d->size == 1024);
  memset (buf, 0xFF, sizeof buf);
  assert_int_equal (disk_pread (d, buf, sizeof buf, 0), 0);
  for (size_t i = 0; i < sizeof buf; i++)
    assert_int_equal (buf[i], i < 1000 ? 0xCD : 0);
  /* Wholly past the end of the file, inside the padding. */
  memset (buf, 0xFF, sizeof buf);
  assert_int_equal (disk_pread (d, buf, 24, 1000), 0);
  assert_true (is_zero (buf, 24));
  /* Beyond the virtual size: refused. */
  assert_int_equal (disk_pread (d, buf, 2, 1023), -1);
  disk_close (d);
}

static void
test_read_only (void **state)
{
  const char *file = path ("ro.img");
  uint8_t buf[512] = { 1 };
  struct disk *d;

  put (file, 0, 4096, 0x11);
  d = raw_open (file, 0);
  assert_non_null (d);
  assert_false (d->writable);
  assert_int_equal (disk_pwrite (d, buf, sizeof buf, 0), -1);
  assert_int_equal (disk_pread (d, buf, sizeof buf, 0), 0);
  assert_int_equal (buf[0], 0x11);
  disk_close (d);
}

static void
test_importer_open (void **state)
{
  const char *file = path ("detect.img");
  struct disk *d;

  put (file, 0, 8192, 0x22);
  d = importer_open (file, NULL, 0);
  assert_non_null (d);
  assert_string_equal (d->ops->name, "raw");
  disk_close (d);
  d = importer_open (file, "raw", 0);
  assert_non_null (d);
  disk_close (d);
  assert_null (importer_open (file, "qcow7", 0));
  assert_null (importer_open (dir, NULL, 0));
  assert_null (importer_open (path ("missing.img"), NULL, 0));
}

static int
setup (void **state)
{
  const char *tmpdir = getenv ("TMPDIR");

  snprintf (dir, sizeof dir, "%s/test-importers-raw.XXXXXX",
            tmpdir ? tmpdir : "/tmp");
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  static const char *const names[] = {
    "sparse.img", "odd.img", "ro.img", "detect.img",
  };

  for (size_t i = 0; i < ARRAY_SIZE (names); i++)
    unlink (path (names[i]));
  return rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sparse_extents),
    cmocka_unit_test (test_partial_sector),
    cmocka_unit_test (test_read_only),
    cmocka_unit_test (test_importer_open),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}

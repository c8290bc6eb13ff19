/* Unit test: files named inside an image (importers/related.c).  A plain
 * or subfolder name resolves beside the image; an absolute name, one
 * through "..", and a symbolic link leading out are refused unless
 * IMPORTER_ALLOW_OUTSIDE is given; a chain of IMPORTER_MAX_DEPTH images
 * is refused. */
#include <config.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "importers.h"

static char dir[256], base[300], outside[300];

static int
setup (void **state)
{
  const char *tmpdir = getenv ("TMPDIR");
  char file[400];
  int fd;

  snprintf (dir, sizeof dir, "%s/test-importers-related.XXXXXX",
            tmpdir ? tmpdir : "/tmp");
  if (mkdtemp (dir) == NULL)
    return -1;
  snprintf (base, sizeof base, "%s/img/child.img", dir);
  snprintf (outside, sizeof outside, "%s/outside.img", dir);
  snprintf (file, sizeof file, "%s/img", dir);
  mkdir (file, 0755);
  snprintf (file, sizeof file, "%s/img/sub", dir);
  mkdir (file, 0755);
  /* A 1 MiB raw file outside img/, and img/out pointing to it. */
  fd = open (outside, O_WRONLY | O_CREAT, 0644);
  if (fd == -1 || ftruncate (fd, MiB) == -1)
    return -1;
  close (fd);
  snprintf (file, sizeof file, "%s/img/out", dir);
  return symlink (outside, file);
}

static int
teardown (void **state)
{
  static const char *const names[] = {
    "img/out", "outside.img", "img/sub", "img",
  };
  char file[400];

  for (size_t i = 0; i < ARRAY_SIZE (names); i++) {
    snprintf (file, sizeof file, "%s/%s", dir, names[i]);
    if (unlink (file) == -1)
      rmdir (file);
  }
  return rmdir (dir);
}

/* NAME resolves to WANT (relative to dir/), or is refused (WANT NULL). */
static void
expect (const char *name, unsigned flags, const char *want)
{
  char *p = importer_related_path (base, name, flags, "backing file");
  char full[400];

  if (want == NULL) {
    assert_null (p);
    return;
  }
  assert_non_null (p);
  if (want[0] == '/')
    snprintf (full, sizeof full, "%s", want);
  else
    snprintf (full, sizeof full, "%s/%s", dir, want);
  assert_string_equal (p, full);
  free (p);
}

static void
test_inside (void **state)
{
  expect ("parent.img", 0, "img/parent.img");
  expect ("sub/parent.img", 0, "img/sub/parent.img");
  expect ("sub//x..y", 0, "img/sub//x..y");
  expect ("", 0, NULL);
}

static void
test_outside_refused (void **state)
{
  expect ("../outside.img", 0, NULL);
  expect ("sub/../../outside.img", 0, NULL);
  expect ("/etc/passwd", 0, NULL);
  expect ("out", 0, NULL);                       /* symlink leading out */
}

static void
test_outside_allowed (void **state)
{
  expect ("../outside.img", IMPORTER_ALLOW_OUTSIDE, "img/../outside.img");
  expect ("/etc/passwd", IMPORTER_ALLOW_OUTSIDE, "/etc/passwd");
  expect ("out", IMPORTER_ALLOW_OUTSIDE, "img/out");
}

static void
test_open_related (void **state)
{
  struct disk *d;

  d = importer_open_related (base, "out", NULL, IMPORTER_ALLOW_OUTSIDE,
                             "backing file");
  assert_non_null (d);
  assert_true (d->size == MiB);
  disk_close (d);
  assert_null (importer_open_related (base, "out", NULL, 0, "backing file"));
  /* One level more than the limit allows. */
  assert_null (importer_open_related (base, "out", NULL,
                                      IMPORTER_ALLOW_OUTSIDE |
                                      (IMPORTER_MAX_DEPTH - 1),
                                      "backing file"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_inside),
    cmocka_unit_test (test_outside_refused),
    cmocka_unit_test (test_outside_allowed),
    cmocka_unit_test (test_open_related),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}

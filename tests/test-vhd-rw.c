/* Unit test: create fixed, dynamic and differencing VHDs, write through
 * them, reopen, read back, and check extents and parent isolation. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "vhd.h"

static char dir[] = "/tmp/test-vhd-rw.XXXXXX";

static char *
path (const char *name)
{
  static char buf[4][256];
  static int i;

  i = (i + 1) % 4;
  snprintf (buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

static void
fill (uint8_t *buf, size_t n, uint8_t seed)
{
  for (size_t i = 0; i < n; i++)
    buf[i] = (uint8_t) (seed + i * 7 + i / 512);
}

static struct disk *
create (const char *name, enum vhd_type type, uint64_t size, uint32_t bs,
        const char *parent)
{
  struct vhd_create_opts o = { .type = type, .size = size,
                               .block_size = bs, .parent = parent };
  unlink (path (name));
  return vhd_create (path (name), &o);
}

static void
test_dynamic (void **state)
{
  const uint64_t size = 10 * MiB + 3 * 512;   /* not a block multiple */
  struct disk *d = create ("dyn.vhd", VHD_TYPE_DYNAMIC, size, 1 * MiB, NULL);
  uint8_t w[5000], r[5000];
  struct extent_vector ev = { 0 };

  assert_non_null (d);
  assert_true (d->size == size);
  fill (w, sizeof w, 1);
  /* Unaligned, crossing a block boundary; and the last sector. */
  assert_int_equal (disk_pwrite (d, w, sizeof w, 1 * MiB - 1000), 0);
  assert_int_equal (disk_pwrite (d, w, 512, size - 512), 0);
  assert_int_equal (disk_flush (d), 0);
  disk_close (d);

  d = vhd_open (path ("dyn.vhd"), 0);
  assert_non_null (d);
  assert_int_equal (vhd_disk_blocks_allocated (d), 3);
  assert_int_equal (vhd_disk_blocks_total (d), 11);
  assert_int_equal (disk_pread (d, r, sizeof r, 1 * MiB - 1000), 0);
  assert_memory_equal (r, w, sizeof w);
  assert_int_equal (disk_pread (d, r, 512, size - 512), 0);
  assert_memory_equal (r, w, 512);
  assert_int_equal (disk_pread (d, r, 4096, 5 * MiB), 0);
  assert_true (is_zero (r, 4096));
  assert_int_equal (disk_pread (d, r, 1000, 1 * MiB - 2000), 0);
  assert_true (is_zero (r, 1000));

  assert_int_equal (disk_extents (d, 0, size, &ev), 0);
  /* Blocks 0-1 data, 2-9 zero (never allocated), 10 data. */
  assert_int_equal (ev.len, 3);
  assert_true (ev.ptr[0].offset == 0 && ev.ptr[0].length == 2 * MiB);
  assert_int_equal (ev.ptr[0].type, EXTENT_DATA);
  assert_true (ev.ptr[1].length == 8 * MiB);
  assert_int_equal (ev.ptr[1].type, EXTENT_ZERO);
  assert_true (ev.ptr[2].offset == 10 * MiB && ev.ptr[2].length == size - 10 * MiB);
  free (ev.ptr);
  disk_close (d);
}

static void
test_fixed (void **state)
{
  struct disk *d = create ("fixed.vhd", VHD_TYPE_FIXED, 3 * MiB, 0, NULL);
  uint8_t w[4096], r[4096];
  struct stat st;
  struct extent_vector ev = { 0 };

  assert_non_null (d);
  fill (w, sizeof w, 9);
  assert_int_equal (disk_pwrite (d, w, sizeof w, 2 * MiB), 0);
  assert_int_equal (disk_flush (d), 0);
  disk_close (d);
  assert_int_equal (stat (path ("fixed.vhd"), &st), 0);
  assert_true ((uint64_t) st.st_size == 3 * MiB + 512);

  d = vhd_open (path ("fixed.vhd"), 0);
  assert_non_null (d);
  assert_int_equal (vhd_disk_footer (d)->disk_type, VHD_TYPE_FIXED);
  assert_int_equal (disk_pread (d, r, sizeof r, 2 * MiB), 0);
  assert_memory_equal (r, w, sizeof w);
  /* The untouched start is a hole: reported as zero. */
  assert_int_equal (disk_extents (d, 0, d->size, &ev), 0);
  assert_true (ev.len >= 1);
  assert_int_equal (ev.ptr[0].type, EXTENT_ZERO);
  assert_true (ev.ptr[0].length >= 1 * MiB);
  free (ev.ptr);
  disk_close (d);
}

static void
test_differencing (void **state)
{
  struct disk *p = create ("base.vhd", VHD_TYPE_DYNAMIC, 4 * MiB, 0, NULL);
  struct disk *c;
  uint8_t a[8192], b[1024], r[8192], expect[8192];
  struct extent_vector ev = { 0 };

  assert_non_null (p);
  fill (a, sizeof a, 3);
  assert_int_equal (disk_pwrite (p, a, sizeof a, 1 * MiB), 0);
  disk_close (p);

  c = create ("child.vhd", VHD_TYPE_DIFF, 0, 0, path ("base.vhd"));
  assert_non_null (c);
  assert_true (c->size == 4 * MiB);
  assert_non_null (vhd_disk_parent (c));
  fill (b, sizeof b, 77);
  /* Sector-unaligned write in the middle of the parent's data. */
  assert_int_equal (disk_pwrite (c, b, sizeof b, 1 * MiB + 1000), 0);
  disk_close (c);

  memcpy (expect, a, sizeof a);
  memcpy (expect + 1000, b, sizeof b);
  c = vhd_open (path ("child.vhd"), 0);
  assert_non_null (c);
  assert_int_equal (disk_pread (c, r, sizeof r, 1 * MiB), 0);
  assert_memory_equal (r, expect, sizeof r);

  /* Extents: child sectors and the parent's allocated block merge into
   * one data extent; the parent's unallocated block stays zero. */
  assert_int_equal (disk_extents (c, 0, c->size, &ev), 0);
  assert_int_equal (ev.len, 2);
  assert_true (ev.ptr[0].offset == 0 && ev.ptr[0].length == 2 * MiB);
  assert_int_equal (ev.ptr[0].type, EXTENT_DATA);
  assert_int_equal (ev.ptr[1].type, EXTENT_ZERO);
  assert_true (ev.ptr[1].length == 2 * MiB);
  free (ev.ptr);
  disk_close (c);

  /* The parent is unchanged. */
  p = vhd_open (path ("base.vhd"), 0);
  assert_non_null (p);
  assert_int_equal (disk_pread (p, r, sizeof r, 1 * MiB), 0);
  assert_memory_equal (r, a, sizeof a);
  disk_close (p);
}

/* The child finds its parent by the relative locator after the pair is
 * moved to another directory, and refuses a parent with another UUID. */
static void
test_parent_search (void **state)
{
  char moved[300], cmd[700];
  struct disk *c, *p;

  p = create ("p2.vhd", VHD_TYPE_DYNAMIC, 2 * MiB, 0, NULL);
  assert_non_null (p);
  disk_close (p);
  c = create ("c2.vhd", VHD_TYPE_DIFF, 0, 0, path ("p2.vhd"));
  assert_non_null (c);
  disk_close (c);
  snprintf (moved, sizeof moved, "%s/moved", dir);
  snprintf (cmd, sizeof cmd, "mkdir -p %s && mv %s %s %s/", moved,
            path ("p2.vhd"), path ("c2.vhd"), moved);
  assert_int_equal (system (cmd), 0);
  snprintf (cmd, sizeof cmd, "%s/c2.vhd", moved);
  c = vhd_open (cmd, 0);
  assert_non_null (c);
  disk_close (c);

  /* Replace the parent with another disk of the same name. */
  snprintf (cmd, sizeof cmd, "%s/p2.vhd", moved);
  unlink (cmd);
  struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC, .size = 2 * MiB };
  p = vhd_create (cmd, &o);
  assert_non_null (p);
  disk_close (p);
  snprintf (cmd, sizeof cmd, "%s/c2.vhd", moved);
  assert_null (vhd_open (cmd, 0));
  assert_int_equal (hv_last_error_code (), HV_E_PARENT);
}

static void
test_create_refuses (void **state)
{
  struct vhd_create_opts o = { .type = VHD_TYPE_DYNAMIC,
                               .size = 2040 * GiB + 512 };

  unlink (path ("big.vhd"));
  assert_null (vhd_create (path ("big.vhd"), &o));
  assert_int_equal (access (path ("big.vhd"), F_OK), -1);
  o.size = 2040 * GiB;
  o.block_size = 3 * MiB;
  assert_null (vhd_create (path ("big.vhd"), &o));
  o.block_size = 0;
  struct disk *d = vhd_create (path ("big.vhd"), &o);
  assert_non_null (d);
  assert_true (d->size == 2040 * GiB);
  disk_close (d);
  assert_null (vhd_create (path ("big.vhd"), &o));   /* exists */
}

static int
setup (void **state)
{
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  char cmd[300];

  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  return system (cmd) == 0 ? 0 : -1;
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_dynamic),
    cmocka_unit_test (test_fixed),
    cmocka_unit_test (test_differencing),
    cmocka_unit_test (test_parent_search),
    cmocka_unit_test (test_create_refuses),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}

/* Unit test: CHS geometry against the footers of real files
 * (../shared/FORMATS.md 1.3) and the size limits. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vhd.h"

static const struct {
  uint64_t size;
  uint16_t c;
  uint8_t h, s;
} vectors[] = {
  { 3 * GiB, 6241, 16, 63 },             /* Windows 7 "win " footer */
  { 20 * GiB, 41610, 16, 63 },           /* VirtualBox "vbox" footer */
  { 32 * GiB, 16448, 16, 255 },          /* Windows 7 footer */
  { 100 * GiB, 51400, 16, 255 },         /* Windows 7 footer */
  { 160041885696ULL, 65535, 16, 255 },   /* Disk2vhd, clamped */
  { 4 * GiB, 8322, 16, 63 },             /* qemu-iotests 146 (floor) */
  { 2040 * GiB, 65535, 16, 255 },
};

static void
test_vectors (void **state)
{
  for (size_t i = 0; i < ARRAY_SIZE (vectors); i++) {
    struct vhd_geometry g;
    vhd_geometry (vectors[i].size, &g);
    assert_int_equal (g.cylinders, vectors[i].c);
    assert_int_equal (g.heads, vectors[i].h);
    assert_int_equal (g.sectors, vectors[i].s);
    assert_true (vhd_geometry_bytes (&g) <= vectors[i].size);
  }
}

/* Small disks: at least 4 heads, 17 sectors per track. */
static void
test_small (void **state)
{
  struct vhd_geometry g;

  vhd_geometry (10 * MiB, &g);
  assert_int_equal (g.sectors, 17);
  assert_int_equal (g.heads, 4);
  assert_int_equal (g.cylinders, 10 * MiB / 512 / 17 / 4);
}

static void
test_size_limits (void **state)
{
  assert_int_equal (vhd_check_size ("t", 2040 * GiB), 0);
  assert_int_equal (vhd_check_size ("t", 2040 * GiB + 512), -1);
  assert_int_equal (hv_last_error_code (), HV_E_TOO_LARGE);
  assert_int_equal (vhd_check_size ("t", 1000), -1);
  assert_int_equal (vhd_check_size ("t", 0), -1);
  assert_int_equal (vhd_check_size ("t", 512), 0);
}

static void
test_checksum (void **state)
{
  uint8_t buf[VHD_FOOTER_SIZE];
  struct vhd_footer f = { .cookie = "conectix", .features = 2,
                          .current_size = 3 * GiB, .disk_type = 2 };
  struct vhd_footer back;

  vhd_footer_encode (&f, buf);
  assert_memory_equal (buf, "conectix", 8);
  assert_int_equal (load_be32 (buf + 64), vhd_checksum (buf, 512, 64));
  vhd_footer_decode (buf, &back);
  assert_true (back.current_size == 3 * GiB);
  assert_int_equal (back.checksum, f.checksum);
  buf[100] ^= 1;
  assert_int_not_equal (load_be32 (buf + 64), vhd_checksum (buf, 512, 64));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_vectors),
    cmocka_unit_test (test_small),
    cmocka_unit_test (test_size_limits),
    cmocka_unit_test (test_checksum),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

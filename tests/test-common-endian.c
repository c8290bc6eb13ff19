/* Unit test: byte-order loads/stores, checked arithmetic, is_zero. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

static void
test_big_endian (void **state)
{
  uint8_t b[8];

  store_be32 (b, 0x11223344);
  assert_int_equal (b[0], 0x11);
  assert_int_equal (b[3], 0x44);
  assert_int_equal (load_be32 (b), 0x11223344);
  store_be64 (b, 0x0102030405060708ULL);
  assert_int_equal (b[0], 1);
  assert_int_equal (b[7], 8);
  assert_true (load_be64 (b) == 0x0102030405060708ULL);
  store_be16 (b, 0xABCD);
  assert_int_equal (load_be16 (b), 0xABCD);
}

static void
test_little_endian (void **state)
{
  uint8_t b[8];

  store_le32 (b, 0x11223344);
  assert_int_equal (b[0], 0x44);
  assert_int_equal (load_le32 (b), 0x11223344);
  store_le64 (b, 0xFFFFFFFF00000001ULL);
  assert_int_equal (b[0], 1);
  assert_int_equal (b[7], 0xFF);
  assert_true (load_le64 (b) == 0xFFFFFFFF00000001ULL);
  store_le16 (b, 0xABCD);
  assert_int_equal (b[0], 0xCD);
  assert_int_equal (load_le16 (b), 0xABCD);
}

static void
test_checked (void **state)
{
  uint64_t r;

  assert_false (ckd_add (&r, UINT64_MAX - 1, (uint64_t) 1));
  assert_true (r == UINT64_MAX);
  assert_true (ckd_add (&r, UINT64_MAX, (uint64_t) 1));
  assert_true (ckd_mul (&r, (uint64_t) 1 << 40, (uint64_t) 1 << 30));
  assert_true (IS_POWER_OF_2 (2 * MiB));
  assert_false (IS_POWER_OF_2 (3 * MiB));
  assert_false (IS_POWER_OF_2 (0));
  assert_int_equal (DIV_ROUND_UP (513, 512), 2);
}

static void
test_is_zero (void **state)
{
  uint8_t buf[4096] = { 0 };

  assert_true (is_zero (buf, 0));
  assert_true (is_zero (buf, 5));
  assert_true (is_zero (buf, sizeof buf));
  buf[4095] = 1;
  assert_false (is_zero (buf, sizeof buf));
  assert_true (is_zero (buf, 4095));
  buf[3] = 1;
  assert_false (is_zero (buf, 4));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_big_endian),
    cmocka_unit_test (test_little_endian),
    cmocka_unit_test (test_checked),
    cmocka_unit_test (test_is_zero),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

/* Unit test: size parsing and formatting. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

static void
test_parse (void **state)
{
  uint64_t n;

  assert_int_equal (parse_size ("127G", &n), 0);
  assert_true (n == 127 * GiB);
  assert_int_equal (parse_size ("512", &n), 0);
  assert_true (n == 512);
  assert_int_equal (parse_size ("2040GiB", &n), 0);
  assert_true (n == 2040 * GiB);
  assert_int_equal (parse_size ("3m", &n), 0);
  assert_true (n == 3 * MiB);
  assert_int_equal (parse_size ("8s", &n), 0);
  assert_true (n == 4096);
  assert_int_equal (parse_size ("-1", &n), -1);
  assert_int_equal (parse_size ("12X", &n), -1);
  assert_int_equal (parse_size ("", &n), -1);
  assert_int_equal (parse_size ("99999999999999999999", &n), -1);
  assert_int_equal (parse_size ("99999999999T", &n), -1);
  assert_int_equal (errno, ERANGE);
}

static void
test_format (void **state)
{
  char buf[32];

  format_size (127 * GiB, buf, sizeof buf);
  assert_string_equal (buf, "127 GiB");
  format_size (512, buf, sizeof buf);
  assert_string_equal (buf, "512 B");
  format_size (1536 * KiB, buf, sizeof buf);
  assert_string_equal (buf, "1.50 MiB");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse),
    cmocka_unit_test (test_format),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

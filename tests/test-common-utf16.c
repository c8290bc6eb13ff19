/* Unit test: UTF-16 <-> UTF-8 conversion on hostile input. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

static void
test_roundtrip (void **state)
{
  const char *s = "C:\\VMs\\disque-été-\xF0\x9F\x98\x80.vhd";
  uint8_t buf[256];
  ssize_t n = utf8_to_utf16le (s, buf, sizeof buf);
  char *back;

  assert_true (n > 0);
  back = utf16le_to_utf8 (buf, n);
  assert_string_equal (back, s);
  free (back);
  n = utf8_to_utf16be (s, buf, sizeof buf);
  assert_true (n > 0);
  assert_int_equal (buf[0], 0);
  assert_int_equal (buf[1], 'C');
  back = utf16be_to_utf8 (buf, n);
  assert_string_equal (back, s);
  free (back);
}

static void
test_bad_input (void **state)
{
  /* A lone high surrogate, then "A", odd length, stops at NUL. */
  const uint8_t in[] = { 0x00, 0xD8, 'A', 0, 0, 0, 'B', 0, 'C' };
  char *out = utf16le_to_utf8 (in, sizeof in);

  assert_string_equal (out, "\xEF\xBF\xBD" "A");
  free (out);
}

static void
test_too_long (void **state)
{
  uint8_t buf[4];

  assert_int_equal (utf8_to_utf16le ("abc", buf, sizeof buf), -1);
  assert_int_equal (errno, ENAMETOOLONG);
  assert_int_equal (utf8_to_utf16le ("\xFF", buf, sizeof buf), -1);
  assert_int_equal (errno, EINVAL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_roundtrip),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_too_long),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

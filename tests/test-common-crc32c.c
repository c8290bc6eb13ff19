/* Unit test: CRC-32C against the RFC 3720 (iSCSI) test vectors, the
 * usual "123456789" check value, and chaining. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.h"

/* RFC 3720 appendix B.4: 32 bytes of each pattern and their CRCs. */
static void
test_rfc3720_patterns (void **state)
{
  uint8_t b[32];

  memset (b, 0, sizeof b);
  assert_int_equal (crc32c (0, b, sizeof b), 0x8a9136aa);
  memset (b, 0xff, sizeof b);
  assert_int_equal (crc32c (0, b, sizeof b), 0x62a8ab43);
  for (int i = 0; i < 32; i++)
    b[i] = i;
  assert_int_equal (crc32c (0, b, sizeof b), 0x46dd794e);
  for (int i = 0; i < 32; i++)
    b[i] = 31 - i;
  assert_int_equal (crc32c (0, b, sizeof b), 0x113fdb5c);
}

/* RFC 3720 B.4: an iSCSI read (10) command PDU. */
static void
test_rfc3720_pdu (void **state)
{
  static const uint8_t pdu[48] = {
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
    0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
    0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };

  assert_int_equal (crc32c (0, pdu, sizeof pdu), 0xd9963a56);
}

static void
test_check_value_and_chaining (void **state)
{
  const char *s = "123456789";

  assert_int_equal (crc32c (0, s, 9), 0xe3069283);
  assert_int_equal (crc32c (crc32c (0, s, 4), s + 4, 5), 0xe3069283);
  assert_int_equal (crc32c (0, s, 0), 0);
  /* One flipped bit changes it. */
  assert_int_not_equal (crc32c (0, "123456788", 9), 0xe3069283);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rfc3720_patterns),
    cmocka_unit_test (test_rfc3720_pdu),
    cmocka_unit_test (test_check_value_and_chaining),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

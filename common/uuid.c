/* Random UUIDs from OpenSSL's CSPRNG; UUIDs and GUIDs as text. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include <openssl/rand.h>

#include "common.h"

int
uuid_generate_random (uint8_t uuid[16])
{
  if (RAND_bytes (uuid, 16) != 1) {
    hv_error (HV_E_INTERNAL, "cannot generate a random UUID (OpenSSL RAND_bytes)");
    return -1;
  }
  uuid[6] = (uuid[6] & 0x0F) | 0x40;   /* version 4 */
  uuid[8] = (uuid[8] & 0x3F) | 0x80;   /* RFC 4122 variant */
  return 0;
}

void
uuid_format (const uint8_t u[16], char out[37])
{
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
            "%02x%02x%02x%02x%02x%02x",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
            u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void
guid_format (const uint8_t g[16], char out[37])
{
  snprintf (out, 37,
            "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            load_le32 (g), load_le16 (g + 4), load_le16 (g + 6),
            g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}
